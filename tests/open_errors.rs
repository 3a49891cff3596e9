//! Open-time corpus: one test per named `OpenError`, each asserting the exact variant and that
//! its message names the path; and every truncation length of a valid ring file from 0 to the
//! header page plus one data page.

use mmring::layout::{
    data_offset, Header, ReaderSlot, HEADER_SIZE, MAGIC, MAX_READERS, READER_TABLE_OFFSET,
    SLOT_SIZE, VERSION,
};
use mmring::{CorruptKind, OpenError, Reader, RingOptions, Side, Writer};
use std::mem::offset_of;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A fresh path in the temp dir, removed (file or directory) on drop.
struct Tmp(PathBuf);

impl Tmp {
    fn new(name: &str) -> Tmp {
        let p = std::env::temp_dir().join(format!("mmring-openerr-{name}-{}", std::process::id()));
        let _ = std::fs::remove_file(&p);
        let _ = std::fs::remove_dir(&p);
        Tmp(p)
    }
}

impl Drop for Tmp {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
        let _ = std::fs::remove_dir(&self.0);
    }
}

fn quick() -> RingOptions {
    RingOptions::new().init_timeout(Duration::ZERO)
}

/// Opens `path` as a reader and as a writer; both must fail alike. Returns the reader's error.
fn open_err(path: &Path) -> OpenError {
    let e = quick().open_reader(path).expect_err("open must fail");
    let ew = quick().open_writer(path).expect_err("open must fail");
    assert_eq!(
        std::mem::discriminant(&e),
        std::mem::discriminant(&ew),
        "{e} / {ew}"
    );
    assert!(
        e.to_string().contains(&*path.to_string_lossy()),
        "error does not name the path: {e}"
    );
    e
}

/// The bytes of a valid ring file of `cap` data bytes, as this library writes it.
fn valid_ring(name: &str, cap: usize) -> Vec<u8> {
    let t = Tmp::new(name);
    RingOptions::new()
        .create(cap)
        .create_unattached(&t.0)
        .unwrap();
    std::fs::read(&t.0).unwrap()
}

/// Offset of a header field in the file.
macro_rules! hdr {
    ($field:ident) => {
        offset_of!(Header, $field)
    };
}

/// The length of a valid file of a one-slot, 4 KiB ring: the header page and the data.
const RING_4K: u64 = data_offset(1) as u64 + 4096;

/// Offset of reader slot 0's `read_pos` in the file.
const READ_POS_0: usize = READER_TABLE_OFFSET + offset_of!(ReaderSlot, read_pos);

fn put_u32(b: &mut [u8], off: usize, v: u32) {
    b[off..off + 4].copy_from_slice(&v.to_le_bytes());
}
fn put_u64(b: &mut [u8], off: usize, v: u64) {
    b[off..off + 8].copy_from_slice(&v.to_le_bytes());
}

#[test]
fn not_found() {
    let t = Tmp::new("missing");
    assert!(matches!(open_err(&t.0), OpenError::NotFound { .. }));
}

#[test]
fn already_exists_and_invalid_capacity() {
    let t = Tmp::new("exists");
    std::fs::write(&t.0, b"x").unwrap();
    let e = Writer::create(&t.0, 4096).unwrap_err();
    assert!(matches!(e, OpenError::AlreadyExists { .. }), "{e}");
    assert!(e.to_string().contains(&*t.0.to_string_lossy()));
    for cap in [0, 32, 100, 4095, 1 << 33] {
        let t = Tmp::new("badcap");
        let e = Writer::create(&t.0, cap).unwrap_err();
        assert!(
            matches!(e, OpenError::InvalidCapacity(c) if c == cap),
            "{e}"
        );
        assert!(!t.0.exists(), "a refused create left a file");
    }
}

#[test]
fn invalid_mode_is_refused_by_every_create_path() {
    for mode in [
        0o4755,
        0o2770,
        0o1777,
        0o7777,
        0o4000,
        0o10000,
        0o600 | 1 << 31,
    ] {
        let t = Tmp::new("mode");
        let opts = RingOptions::new().mode(mode);
        let refused = |what: &str, e: OpenError| {
            assert!(
                matches!(e, OpenError::InvalidMode { mode: m } if m == mode),
                "{what} {mode:o}: {e}"
            );
            assert_eq!(
                e.to_string(),
                format!(
                    "invalid mode {mode:o}: only permission bits (0o777) are allowed; \
                     set-uid, set-gid and sticky bits are refused"
                )
            );
        };
        refused(
            "create",
            opts.clone().create(4096).open_writer(&t.0).unwrap_err(),
        );
        refused(
            "create_if_missing",
            opts.clone()
                .create_if_missing(4096)
                .open_reader(&t.0)
                .unwrap_err(),
        );
        refused(
            "create_unattached",
            opts.clone()
                .create(4096)
                .create_unattached(&t.0)
                .unwrap_err(),
        );
        refused("anonymous", opts.anonymous(4096).unwrap_err());
        assert!(!t.0.exists(), "{mode:o}: a file was created");
        // Refused even when the ring exists, so the outcome does not depend on a race.
        RingOptions::new()
            .create(4096)
            .create_unattached(&t.0)
            .unwrap();
        refused(
            "create_if_missing on an existing ring",
            opts.clone()
                .create_if_missing(4096)
                .open_writer(&t.0)
                .unwrap_err(),
        );
        // Opening without creating does not use the mode.
        assert!(opts.open_reader(&t.0).is_ok());
    }
    // Every permission bit is fine, applied exactly.
    let t = Tmp::new("mode-ok");
    RingOptions::new()
        .create(4096)
        .mode(0o777)
        .create_unattached(&t.0)
        .unwrap();
    let m = std::fs::metadata(&t.0).unwrap().permissions().mode();
    assert_eq!(m & 0o7777, 0o777);
}

#[test]
fn invalid_reader_slots_and_mode_are_refused_before_creating_anything() {
    for readers in [0, MAX_READERS + 1, u32::MAX] {
        let t = Tmp::new("badreaders");
        let e = RingOptions::new()
            .create(4096)
            .readers(readers)
            .open_writer(&t.0)
            .unwrap_err();
        assert!(
            matches!(e, OpenError::InvalidReaders(n) if n == readers),
            "{e}"
        );
        assert!(!t.0.exists(), "a refused create left a file");
    }
    // Set-uid, set-gid, sticky and anything above the permission bits.
    for mode in [0o4600, 0o2600, 0o1600, 0o10600, u32::MAX] {
        let t = Tmp::new("badmode");
        let e = RingOptions::new()
            .create(4096)
            .mode(mode)
            .open_writer(&t.0)
            .unwrap_err();
        assert!(
            matches!(e, OpenError::InvalidMode { mode: m } if m == mode),
            "{e}"
        );
        assert!(!t.0.exists(), "a refused create left a file");
    }
    // The largest table still fits, and lays the data region out after it.
    let t = Tmp::new("maxreaders");
    RingOptions::new()
        .create(4096)
        .readers(MAX_READERS)
        .create_unattached(&t.0)
        .unwrap();
    let info = mmring::inspect(&t.0).unwrap();
    assert_eq!(info.readers.len(), MAX_READERS as usize);
    assert_eq!(info.data_offset, data_offset(MAX_READERS));
    assert_eq!(
        std::fs::metadata(&t.0).unwrap().len(),
        u64::from(data_offset(MAX_READERS)) + 4096
    );
}

#[test]
fn empty_file() {
    let t = Tmp::new("empty");
    std::fs::write(&t.0, b"").unwrap();
    assert!(matches!(open_err(&t.0), OpenError::Empty { .. }));
}

#[test]
fn shorter_than_header() {
    let t = Tmp::new("short");
    std::fs::write(&t.0, &valid_ring("short-src", 4096)[..100]).unwrap();
    assert!(matches!(
        open_err(&t.0),
        OpenError::TooShort { len: 100, .. }
    ));
}

#[test]
fn bad_magic() {
    let t = Tmp::new("magic");
    let mut b = valid_ring("magic-src", 4096);
    b[0] ^= 0x20;
    std::fs::write(&t.0, &b).unwrap();
    let e = open_err(&t.0);
    assert!(
        matches!(e, OpenError::BadMagic { found, .. } if found == MAGIC ^ 0x20),
        "{e}"
    );
}

#[test]
fn newer_version() {
    let t = Tmp::new("version");
    let mut b = valid_ring("version-src", 4096);
    put_u32(&mut b, hdr!(version), VERSION + 1);
    std::fs::write(&t.0, &b).unwrap();
    let e = open_err(&t.0);
    assert!(
        matches!(e, OpenError::NewerVersion { found, supported, .. } if found == VERSION + 1 && supported == VERSION),
        "{e}"
    );
}

/// v2 refuses a version-1 ring (which it cannot read) with its own error.
#[test]
fn older_version() {
    let t = Tmp::new("oldversion");
    let mut b = valid_ring("oldversion-src", 4096);
    put_u32(&mut b, hdr!(version), 1);
    std::fs::write(&t.0, &b).unwrap();
    let e = open_err(&t.0);
    assert!(
        matches!(e, OpenError::OlderVersion { found: 1, supported, .. } if supported == VERSION),
        "{e}"
    );
    let e = mmring::inspect(&t.0).unwrap_err();
    assert!(matches!(e, OpenError::OlderVersion { found: 1, .. }), "{e}");
}

#[test]
fn bad_header_fields() {
    // v2: `header_len` became `data_offset` (a multiple of the page size, at most 1 MiB), and
    // `reader_slots` (1 to 64, and the table must fit below the data offset) is new.
    let table_too_big = ((data_offset(1) as usize - READER_TABLE_OFFSET) / SLOT_SIZE + 1) as u32;
    let cases: [(&str, usize, u32); 9] = [
        ("version", hdr!(version), 0),
        ("data_offset", hdr!(data_offset), 4095),
        ("data_offset", hdr!(data_offset), 0),
        ("data_offset", hdr!(data_offset), 2 << 20),
        ("reader_slots", hdr!(reader_slots), 0),
        ("reader_slots", hdr!(reader_slots), MAX_READERS + 1),
        ("reader_slots", hdr!(reader_slots), table_too_big),
        ("ready", hdr!(ready), 0xDEAD),
        ("ready", hdr!(ready), u32::MAX),
    ];
    for (field, off, v) in cases {
        let t = Tmp::new(&format!("hdr-{field}"));
        let mut b = valid_ring("hdr-src", 4096);
        put_u32(&mut b, off, v);
        std::fs::write(&t.0, &b).unwrap();
        let e = open_err(&t.0);
        assert!(
            matches!(e, OpenError::BadHeader { field: f, found, .. } if f == field && found == u64::from(v)),
            "{field}: {e}"
        );
    }
}

#[test]
fn capacity_not_power_of_two() {
    for cap in [4097u64, 3 * 1024, 32, 1 << 33] {
        let t = Tmp::new("cap");
        let mut b = valid_ring("cap-src", 4096);
        put_u64(&mut b, hdr!(capacity), cap);
        std::fs::write(&t.0, &b).unwrap();
        let e = open_err(&t.0);
        assert!(
            matches!(e, OpenError::BadCapacity { found, .. } if found == cap),
            "{e}"
        );
    }
}

#[test]
fn length_not_matching_capacity() {
    let t = Tmp::new("length");
    let mut b = valid_ring("length-src", 4096);
    b.extend_from_slice(&[0; 4096]);
    std::fs::write(&t.0, &b).unwrap();
    let e = open_err(&t.0);
    assert!(
        matches!(
            e,
            OpenError::LengthMismatch {
                expected: RING_4K,
                actual,
                ..
            } if actual == RING_4K + 4096
        ),
        "{e}"
    );
}

#[test]
fn huge_sparse_file_is_not_mapped_whole() {
    // A valid header on a sparse 1 TiB file: refused from the header alone, by `open` and by
    // `inspect`, with the real length in the error.
    let t = Tmp::new("huge");
    std::fs::write(&t.0, valid_ring("huge-src", 4096)).unwrap();
    let f = std::fs::OpenOptions::new().write(true).open(&t.0).unwrap();
    if f.set_len(1 << 40).is_err() {
        eprintln!("skipping: this file system cannot hold a sparse 1 TiB file");
        return;
    }
    let e = open_err(&t.0);
    assert!(
        matches!(e, OpenError::LengthMismatch { expected: RING_4K, actual, .. } if actual == 1 << 40),
        "{e}"
    );
    let e = mmring::inspect(&t.0).unwrap_err();
    assert!(
        matches!(e, OpenError::LengthMismatch { expected: RING_4K, actual, .. } if actual == 1 << 40),
        "{e}"
    );
}

#[test]
fn header_never_initialised() {
    let t = Tmp::new("uninit");
    std::fs::write(&t.0, vec![0u8; RING_4K as usize]).unwrap();
    let e = RingOptions::new()
        .init_timeout(Duration::from_millis(20))
        .open_reader(&t.0)
        .unwrap_err();
    assert!(
        matches!(e, OpenError::NotInitialised { waited, .. } if waited >= Duration::from_millis(20)),
        "{e}"
    );
    assert!(e.to_string().contains(&*t.0.to_string_lossy()));
}

#[test]
fn corrupt_cursors_at_attach() {
    // A misaligned read cursor: refused by both sides, at the slot's `read_pos`.
    let t = Tmp::new("cursors");
    let mut b = valid_ring("cursors-src", 4096);
    put_u64(&mut b, READ_POS_0, 68);
    std::fs::write(&t.0, &b).unwrap();
    let e = open_err(&t.0);
    assert!(
        matches!(&e, OpenError::Corrupt { source, .. } if source.kind == CorruptKind::CursorMisaligned && source.offset == READ_POS_0 as u64 && source.found == 68),
        "{e}"
    );

    // A read cursor ahead of everything committed. v2 semantic change: only the writer can
    // tell (it walks the committed records from `write_pos`, which is only a lower bound of
    // their end: a writer that died between a commit and its `write_pos` store leaves a
    // reader legitimately ahead of it). The reader attaches and finds nothing to read.
    let t = Tmp::new("ahead");
    let mut b = valid_ring("ahead-src", 4096);
    put_u64(&mut b, hdr!(write_pos), 64);
    put_u64(&mut b, READ_POS_0, 72);
    std::fs::write(&t.0, &b).unwrap();
    let e = quick().open_writer(&t.0).unwrap_err();
    assert!(
        matches!(&e, OpenError::Corrupt { source, .. } if source.kind == CorruptKind::ReaderAheadOfWriter && source.offset == READ_POS_0 as u64 && source.found == 72),
        "{e}"
    );
    assert!(e.to_string().contains(&*t.0.to_string_lossy()), "{e}");
    let mut r = quick().open_reader(&t.0).unwrap();
    assert_eq!(r.try_recv().unwrap_err(), mmring::TryRecvError::Empty);
    drop(r);

    // The writer's own cursors: misaligned, or a tail that is not behind it by at most a
    // capacity (new in v2).
    let cases: [(&str, u64, u64, CorruptKind, usize); 4] = [
        (
            "misaligned",
            12,
            0,
            CorruptKind::CursorMisaligned,
            hdr!(write_pos),
        ),
        ("tail-ahead", 64, 72, CorruptKind::BadTail, hdr!(tail_pos)),
        (
            "tail-misaligned",
            64,
            4,
            CorruptKind::BadTail,
            hdr!(tail_pos),
        ),
        ("tail-far", 8192, 4088, CorruptKind::BadTail, hdr!(tail_pos)),
    ];
    for (name, write, tail, kind, off) in cases {
        let t = Tmp::new(&format!("wcursor-{name}"));
        let mut b = valid_ring("wcursor-src", 4096);
        put_u64(&mut b, hdr!(write_pos), write);
        put_u64(&mut b, hdr!(tail_pos), tail);
        put_u64(&mut b, READ_POS_0, tail & !7);
        std::fs::write(&t.0, &b).unwrap();
        let e = quick().open_writer(&t.0).unwrap_err();
        assert!(
            matches!(&e, OpenError::Corrupt { source, .. } if source.kind == kind && source.offset == off as u64),
            "{name}: {e}"
        );
    }
}

#[test]
fn side_taken() {
    let t = Tmp::new("taken");
    let _w = Writer::create(&t.0, 4096).unwrap();
    let e = Writer::open(&t.0).unwrap_err();
    assert!(
        matches!(e, OpenError::SideTaken { side: Side::Writer, pid, .. } if pid == std::process::id()),
        "{e}"
    );
}

#[test]
fn directory() {
    let t = Tmp::new("dir");
    std::fs::create_dir(&t.0).unwrap();
    let e = open_err(&t.0);
    assert!(
        matches!(
            e,
            OpenError::NotRegularFile {
                kind: "directory",
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn fifo() {
    let t = Tmp::new("fifo");
    nix::unistd::mkfifo(&t.0, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let e = open_err(&t.0);
    assert!(
        matches!(e, OpenError::NotRegularFile { kind: "FIFO", .. }),
        "{e}"
    );
}

#[test]
fn character_device() {
    let e = quick().open_reader("/dev/null").unwrap_err();
    assert!(
        matches!(
            e,
            OpenError::NotRegularFile {
                kind: "character device",
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("/dev/null"));
}

#[test]
fn symlink_is_refused() {
    let target = Tmp::new("link-target");
    Writer::create(&target.0, 4096).map(drop).unwrap();
    let link = Tmp::new("link");
    std::os::unix::fs::symlink(&target.0, &link.0).unwrap();
    assert!(matches!(open_err(&link.0), OpenError::Symlink { .. }));
    // And `create` does not follow it either.
    let e = Writer::create(&link.0, 4096).unwrap_err();
    assert!(
        matches!(
            e,
            OpenError::AlreadyExists { .. } | OpenError::Symlink { .. }
        ),
        "{e}"
    );
}

#[test]
fn foreign_owner_needs_opt_in() {
    let t = Tmp::new("foreign");
    RingOptions::new()
        .create(4096)
        .create_unattached(&t.0)
        .unwrap();
    let us = nix::unistd::geteuid().as_raw();
    let other = if us == 65534 { 65533 } else { 65534 };
    if let Err(e) = nix::unistd::chown(&t.0, Some(nix::unistd::Uid::from_raw(other)), None) {
        // Not root and not allowed to give files away: the case cannot be built here.
        assert_ne!(us, 0, "root could not chown: {e}");
        eprintln!("skipping foreign_owner_needs_opt_in: chown failed ({e})");
        return;
    }
    let e = open_err(&t.0);
    assert!(
        matches!(e, OpenError::ForeignOwner { owner, us: u, .. } if owner == other && u == us),
        "{e}"
    );
    let r = quick().allow_foreign_owner(true).open_reader(&t.0);
    assert!(r.is_ok(), "{:?}", r.err());
}

/// Env var naming the file the unprivileged helper must fail to open.
const PERM_ENV: &str = "MMRING_TEST_PERMISSION_PATH";

#[test]
fn permission_denied() {
    let us = nix::unistd::geteuid().as_raw();
    let dir = Tmp::new("perm-dir");
    std::fs::create_dir(&dir.0).unwrap();
    std::fs::set_permissions(&dir.0, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = dir.0.join("ring");
    let _cleanup = Tmp(path.clone());
    RingOptions::new()
        .create(4096)
        .mode(0o444) // nobody may write it
        .create_unattached(&path)
        .unwrap();
    if us != 0 {
        // Mode bits apply to us directly.
        let e = open_err(&path);
        assert!(matches!(e, OpenError::PermissionDenied { .. }), "{e}");
        return;
    }
    // Root bypasses mode bits: give the file to `nobody` and run the check as `nobody`, in a
    // fresh process (the helper test below) whose uid and gid are set before exec.
    use std::os::unix::process::CommandExt;
    nix::unistd::chown(&path, Some(nix::unistd::Uid::from_raw(65534)), None).unwrap();
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "permission_denied_helper",
            "--test-threads=1",
        ])
        .env(PERM_ENV, &path)
        .uid(65534)
        .gid(65534)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "helper failed: {text}");
    assert!(text.contains("1 passed"), "helper did not run: {text}");
}

/// Run by `permission_denied` as uid 65534, on a file it owns with mode 0444.
#[test]
#[ignore = "helper: run by permission_denied as an unprivileged user"]
fn permission_denied_helper() {
    let path = PathBuf::from(std::env::var_os(PERM_ENV).expect("run by permission_denied"));
    assert_eq!(nix::unistd::geteuid().as_raw(), 65534);
    let e = open_err(&path);
    assert!(matches!(e, OpenError::PermissionDenied { .. }), "{e}");
    // A read-only look is still allowed.
    assert!(mmring::inspect(&path).is_ok());
}

#[test]
fn every_truncation_length() {
    let cap = 4096usize;
    let full = valid_ring("trunc-src", cap);
    let total = u64::from(data_offset(1)) + cap as u64;
    assert_eq!(full.len() as u64, total);
    let t = Tmp::new("trunc");
    for len in 0..=full.len() {
        std::fs::write(&t.0, &full[..len]).unwrap();
        let res = quick().open_reader(&t.0);
        let insp = mmring::inspect(&t.0);
        match (len, res) {
            (0, Err(OpenError::Empty { .. })) => {}
            (l, Err(OpenError::TooShort { len: got, .. }))
                if l < HEADER_SIZE && got == len as u64 => {}
            (
                l,
                Err(OpenError::LengthMismatch {
                    expected, actual, ..
                }),
            ) if l >= HEADER_SIZE
                && expected == total
                && actual == len as u64
                && len < full.len() => {}
            (l, Ok(_)) if l == full.len() => {}
            (l, other) => panic!("length {l}: unexpected {other:?}"),
        }
        assert_eq!(insp.is_ok(), len == full.len(), "inspect at length {len}");
    }
}

#[test]
fn reader_and_inspect_agree_on_valid_ring() {
    // The reference for the corpus above: the untruncated file opens for both sides.
    let t = Tmp::new("valid");
    std::fs::write(&t.0, valid_ring("valid-src", 4096)).unwrap();
    let mut w = quick().open_writer(&t.0).unwrap();
    let mut r = Reader::open(&t.0).unwrap();
    w.try_send(b"ok").unwrap();
    assert_eq!(&*r.try_recv().unwrap(), b"ok");
}
