//! `mmring info`: a read-only snapshot of a ring.

use crate::cli::InfoArgs;
use crate::exit::{Failure, Outcome};
use crate::units::human_bytes;
use mmring::{ReaderInfo, ReaderKind, RingInfo, SideInfo, SideState};
use serde_json::{json, Value};

/// Prints what [`mmring::inspect`] sees; never attaches.
pub fn run(args: &InfoArgs) -> Outcome {
    let info = mmring::inspect(&args.path).map_err(|e| Failure::open(&args.path, e))?;
    if args.json {
        println!("{}", to_json(&info));
    } else {
        print!("{}", to_text(&info));
    }
    Ok(())
}

fn state_name(s: SideState) -> String {
    match s {
        SideState::Never => "never".into(),
        SideState::Attached => "attached".into(),
        SideState::Closed => "closed".into(),
        SideState::Invalid(v) => format!("invalid({v})"),
    }
}

fn side_json(s: &SideInfo) -> Value {
    json!({
        "state": state_name(s.state),
        "alive": s.alive,
        "pid": (s.pid != 0).then_some(s.pid),
        "attach_count": s.epoch,
        "waiting": s.waiting,
    })
}

fn kind_name(k: ReaderKind) -> String {
    match k {
        ReaderKind::Tethered => "tethered".into(),
        ReaderKind::Untethered => "untethered".into(),
        ReaderKind::Invalid(v) => format!("invalid({v})"),
    }
}

fn reader_json(r: &ReaderInfo) -> Value {
    let mut v = side_json(&r.side);
    let o = v.as_object_mut().expect("side_json is an object");
    o.insert("slot".into(), json!(r.slot));
    o.insert("kind".into(), json!(kind_name(r.kind)));
    o.insert("tethered".into(), json!(r.kind != ReaderKind::Untethered));
    o.insert("read_pos".into(), json!(r.read_pos));
    o.insert("lag_bytes".into(), json!(r.lag));
    o.insert("messages_pending".into(), json!(r.messages_pending));
    o.insert(
        "payload_bytes_pending".into(),
        json!(r.payload_bytes_pending),
    );
    v
}

/// The reader whose unreleased bytes hold the writer back longest: the tethered reader with the
/// lowest position (slot 0 if there is none).
fn slowest(i: &RingInfo) -> &ReaderInfo {
    i.readers
        .iter()
        .filter(|r| r.kind != ReaderKind::Untethered)
        .min_by_key(|r| r.read_pos)
        .unwrap_or(&i.readers[0])
}

/// The JSON form (field names documented in the README). `read_pos`, `bytes_in_flight`,
/// `messages_in_flight`, `payload_bytes_in_flight` and `reader` describe the slowest tethered
/// reader (the only one of a ring with one reader slot); `readers` lists every slot.
pub fn to_json(i: &RingInfo) -> Value {
    let slow = slowest(i);
    json!({
        "path": i.path.display().to_string(),
        "version": i.version,
        "header_len": i.data_offset,
        "data_offset": i.data_offset,
        "capacity": i.capacity,
        "max_message_len": i.max_message_len,
        "creator_pid": i.creator_pid,
        "write_pos": i.write_pos,
        "end_pos": i.end_pos,
        "tail_pos": i.tail_pos,
        "read_pos": slow.read_pos,
        "bytes_in_flight": slow.lag,
        "messages_in_flight": slow.messages_pending,
        "payload_bytes_in_flight": slow.payload_bytes_pending,
        "writer": side_json(&i.writer),
        "reader": side_json(&slow.side),
        "readers": i.readers.iter().map(reader_json).collect::<Vec<_>>(),
    })
}

fn side_text(name: &str, s: &SideInfo) -> String {
    let who = match (s.state, s.alive) {
        (SideState::Never, _) => "never attached".to_string(),
        (SideState::Attached, true) => format!("attached, alive (pid {})", s.pid),
        (SideState::Attached, false) => {
            format!("attached but dead (pid {} died without detaching)", s.pid)
        }
        (SideState::Closed, _) => format!("detached (last pid {})", s.pid),
        (SideState::Invalid(v), _) => format!("invalid state word {v}"),
    };
    let wait = if s.waiting { ", asleep waiting" } else { "" };
    let name = if name.len() < 8 {
        format!("{name:<8}")
    } else {
        format!("{name} ")
    };
    format!(
        "{name}{who}{wait}; attached {} time{}\n",
        s.epoch,
        if s.epoch == 1 { "" } else { "s" }
    )
}

fn pending_text(m: Option<u64>, p: Option<u64>) -> String {
    match (m, p) {
        (Some(m), Some(p)) => format!(
            "{m} message{} ({p} payload bytes)",
            if m == 1 { "" } else { "s" }
        ),
        _ => "unknown (records changed while being counted, or were overwritten)".to_string(),
    }
}

/// The human-readable form.
pub fn to_text(i: &RingInfo) -> String {
    let slow = slowest(i);
    let used = slow.lag as f64 * 100.0 / i.capacity as f64;
    let mut s = String::new();
    s += &format!("ring     {}\n", i.path.display());
    s += &format!(
        "layout   version {}, header {} bytes, {} reader slot{}, created by pid {}\n",
        i.version,
        i.data_offset,
        i.readers.len(),
        if i.readers.len() == 1 { "" } else { "s" },
        i.creator_pid
    );
    s += &format!(
        "capacity {} ({} bytes), longest message {} bytes\n",
        human_bytes(i.capacity as u64),
        i.capacity,
        i.max_message_len
    );
    s += &format!("cursors  write {}, read {}\n", i.write_pos, slow.read_pos);
    s += &format!(
        "in use   {} bytes ({used:.1}%): {}\n",
        slow.lag,
        pending_text(slow.messages_pending, slow.payload_bytes_pending)
    );
    s += &side_text("writer", &i.writer);
    if i.readers.len() == 1 {
        s += &side_text("reader", &slow.side);
    } else {
        for r in &i.readers {
            s += &side_text(&format!("reader {}", r.slot), &r.side);
            s += &format!(
                "         {}, at {}, {} bytes behind: {}\n",
                kind_name(r.kind),
                r.read_pos,
                r.lag,
                pending_text(r.messages_pending, r.payload_bytes_pending)
            );
        }
    }
    s
}
