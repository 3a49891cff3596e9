//! The bridge between two real `mmring-zenoh` processes over 127.0.0.1, scouting off.

mod common;

use common::*;
use mmring::{Reader, Writer};
use std::io::Write;
use std::process::{Command, Stdio};

fn tmp() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("mmring-zenoh-")
        .tempdir()
        .expect("tempdir")
}

#[test]
fn two_bridges_move_100k_variable_size_messages_intact_and_in_order() {
    let d = tmp();
    let (a, b) = (d.path().join("a"), d.path().join("b"));
    let n = 100_000;
    create_ring(&a, 1 << 20);
    create_ring(&b, 1 << 20);
    let port = free_port();
    let a_s = a.to_str().unwrap();
    let b_s = b.to_str().unwrap();
    let inb = Bridge::start(
        d.path(),
        "in",
        &args(&["in", b_s, "--key", "t/100k"], &listen(port)),
    );
    let out = Bridge::start(
        d.path(),
        "out",
        &args(&["out", a_s, "--key", "t/100k"], &connect(port)),
    );
    let mut r = Reader::open(&b).unwrap();
    let w = spawn_stream_writer(&a, n, 8, 1024);
    let got = read_stream(&mut r, n, |_| {});
    drop(w.join().unwrap());
    assert_eq!((got.duplicates, got.gaps), (0, 0), "{got:?}");
    let (so, si) = (out.stop(), inb.stop());
    assert_eq!(so["messages"], n);
    assert_eq!(si["messages"], n);
    assert_eq!(so["bytes"], si["bytes"]);
    for k in ["dropped", "too_large", "duplicates", "gaps"] {
        assert_eq!(si[k], 0, "{k}: {si:?}");
    }
}

/// The "done when": `mmring send`, the two bridges and `mmring tail` deliver the
/// same lines, whichever bridge starts first.
fn cli_pipeline(in_first: bool) {
    let d = tmp();
    let (a, b) = (d.path().join("a"), d.path().join("b"));
    let (a_s, b_s) = (a.to_str().unwrap(), b.to_str().unwrap());
    let cli = cli_bin();
    let port = free_port();
    assert!(Command::new(cli)
        .args(["create", a_s, "--capacity", "1MiB"])
        .status()
        .unwrap()
        .success());
    let start_in = || {
        let br = Bridge::start(
            d.path(),
            "in",
            &args(
                &["in", b_s, "--key", "demo/x", "--capacity", "1MiB"],
                &listen(port),
            ),
        );
        wait_for_file(&b);
        br
    };
    let start_out = || {
        Bridge::start(
            d.path(),
            "out",
            &args(&["out", a_s, "--key", "demo/x"], &connect(port)),
        )
    };
    let (inb, out) = if in_first {
        let i = start_in();
        (i, start_out())
    } else {
        let o = start_out();
        (start_in(), o)
    };
    let lines: String = (1..=100_000).map(|i| format!("{i}\n")).collect();
    let mut send = Command::new(cli)
        .args(["send", a_s])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = send.stdin.take().unwrap();
    let feeder = std::thread::spawn(move || stdin.write_all(lines.as_bytes()).unwrap());
    let tail = Command::new(cli)
        .args(["tail", b_s, "--count", "100000", "--timeout", "90s"])
        .output()
        .unwrap();
    feeder.join().unwrap();
    assert!(send.wait().unwrap().success());
    assert!(
        tail.status.success(),
        "tail: {}",
        String::from_utf8_lossy(&tail.stderr)
    );
    let expected: String = (1..=100_000).map(|i| format!("{i}\n")).collect();
    assert!(
        tail.stdout == expected.as_bytes(),
        "tail printed other lines"
    );
    let (so, si) = (out.stop(), inb.stop());
    assert_eq!((so["messages"], si["messages"]), (100_000, 100_000));
}

#[test]
fn cli_pipeline_inbound_first() {
    cli_pipeline(true);
}

#[test]
fn cli_pipeline_outbound_first() {
    cli_pipeline(false);
}

#[test]
fn nothing_leaves_the_ring_while_no_subscriber_matches() {
    let d = tmp();
    let (a, b) = (d.path().join("a"), d.path().join("b"));
    let (a_s, b_s) = (a.to_str().unwrap(), b.to_str().unwrap());
    create_ring(&a, 1 << 16);
    let mut w = Writer::open(&a).unwrap();
    for i in 0..100u64 {
        w.send(&i.to_le_bytes()).unwrap();
    }
    let port = free_port();
    let out = Bridge::start(
        d.path(),
        "out",
        &args(
            &["out", a_s, "--key", "t/match", "--stats-interval", "50ms"],
            &connect(port),
        ),
    );
    // Several report rounds later (the bridge's loop is running), still nothing was taken.
    out.wait_for_line("5th stats", |_| {
        out.stderr().matches(": stats ").count() >= 5
    });
    let info = mmring::inspect(&a).unwrap();
    assert!(info.readers[0].side.alive);
    assert_eq!(
        info.readers[0].messages_pending,
        Some(100),
        "messages left the ring unmatched"
    );
    assert_eq!(last_stats(&out.stderr()).unwrap()["messages"], 0);
    // A subscriber appears: all 100 go through.
    let inb = Bridge::start(
        d.path(),
        "in",
        &args(
            &["in", b_s, "--key", "t/match", "--capacity", "64KiB"],
            &listen(port),
        ),
    );
    wait_for_file(&b);
    let mut r = Reader::open(&b).unwrap();
    for i in 0..100u64 {
        assert_eq!(r.recv_timeout(PATIENCE).unwrap().to_vec(), i.to_le_bytes());
    }
    drop(w);
    assert_eq!(out.stop()["messages"], 100);
    assert_eq!(inb.stop()["messages"], 100);
}

#[test]
fn a_killed_outbound_bridge_restarts_without_gaps_or_duplicates() {
    let d = tmp();
    let (a, b) = (d.path().join("a"), d.path().join("b"));
    let (a_s, b_s) = (a.to_str().unwrap(), b.to_str().unwrap());
    let n = 60_000;
    create_ring(&a, 1 << 18);
    create_ring(&b, 1 << 20);
    let port = free_port();
    let inb = Bridge::start(
        d.path(),
        "in",
        &args(&["in", b_s, "--key", "t/kill"], &listen(port)),
    );
    let out_args = args(&["out", a_s, "--key", "t/kill"], &connect(port));
    let mut out = Some(Bridge::start(d.path(), "out1", &out_args));
    let mut r = Reader::open(&b).unwrap();
    let w = spawn_stream_writer(&a, n, 8, 512);
    let mut kills = 0;
    let got = read_stream(&mut r, n, |next| {
        // Kill the outbound bridge twice mid-stream, at a third and at two thirds.
        if (next == n / 3 || next == 2 * n / 3) && out.is_some() {
            out.take().unwrap().kill9();
            kills += 1;
            out = Some(Bridge::start(
                d.path(),
                &format!("out{}", kills + 1),
                &out_args,
            ));
        }
    });
    drop(w.join().unwrap());
    assert_eq!(kills, 2);
    assert_eq!((got.duplicates, got.gaps), (0, 0), "{got:?}");
    let si = inb.stop();
    out.take().unwrap().stop();
    assert_eq!(si["messages"], n);
    assert_eq!(si["gaps"], 0);
    eprintln!("inbound after two SIGKILLs of the outbound bridge: {si:?}");
}

#[test]
fn a_killed_inbound_bridge_restarts_without_gaps() {
    let d = tmp();
    let (a, b) = (d.path().join("a"), d.path().join("b"));
    let (a_s, b_s) = (a.to_str().unwrap(), b.to_str().unwrap());
    let n = 60_000;
    create_ring(&a, 1 << 18);
    create_ring(&b, 1 << 20);
    let port = free_port();
    let in_args = args(&["in", b_s, "--key", "t/killin"], &listen(port));
    let mut inb = Some(Bridge::start(d.path(), "in1", &in_args));
    let out = Bridge::start(
        d.path(),
        "out",
        &args(&["out", a_s, "--key", "t/killin"], &connect(port)),
    );
    let mut r = Reader::open(&b).unwrap();
    let w = spawn_stream_writer(&a, n, 8, 512);
    let mut killed = false;
    let got = read_stream(&mut r, n, |next| {
        if next == n / 2 && !killed {
            killed = true;
            inb.take().unwrap().kill9();
            inb = Some(Bridge::start(d.path(), "in2", &in_args));
        }
    });
    drop(w.join().unwrap());
    assert_eq!(got.gaps, 0, "{got:?}");
    let so = out.stop();
    inb.take().unwrap().stop();
    assert_eq!(so["messages"], n);
    // At-least-once: what the dead inbound had written of the unacknowledged window comes again.
    assert!(got.duplicates <= 4096, "{got:?}");
    eprintln!("after a SIGKILL of the inbound bridge: {got:?}, outbound {so:?}");
}

#[test]
fn a_full_destination_ring_slows_the_stream_without_loss() {
    let d = tmp();
    let (a, b) = (d.path().join("a"), d.path().join("b"));
    let (a_s, b_s) = (a.to_str().unwrap(), b.to_str().unwrap());
    create_ring(&a, 1 << 14);
    create_ring(&b, 1 << 14);
    let port = free_port();
    let inb = Bridge::start(
        d.path(),
        "in",
        &args(&["in", b_s, "--key", "t/full"], &listen(port)),
    );
    let out = Bridge::start(
        d.path(),
        "out",
        &args(&["out", a_s, "--key", "t/full"], &connect(port)),
    );
    wait_for_reader(&a);
    // Nobody reads B yet: B fills, then A fills, then the writer of A is refused.
    let mut w = Writer::open(&a).unwrap();
    let mut sent = 0u64;
    let mut buf = [0u8; 100];
    let deadline = std::time::Instant::now() + PATIENCE;
    loop {
        mmring_testkit::stream::fill(sent, &mut buf);
        match w.try_send(&buf) {
            Ok(()) => sent += 1,
            Err(mmring::TrySendError::Full) => {
                // A is full; done once B is full too (its unread bytes leave no room for one
                // more record): the back-pressure has gone all the way from B to A's writer.
                let b_lag = mmring::inspect(&b).unwrap().readers[0].lag as usize;
                if b_lag + 112 > 1 << 14 {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            Err(e) => panic!("{e}"),
        }
        assert!(
            std::time::Instant::now() < deadline,
            "A and B never both filled"
        );
    }
    // Everything sent so far is held: a ring's worth in B and a ring's worth in A, which
    // overlap by at most the outbound's window (written into B, not yet acknowledged, so not
    // yet released from A; a window is at most half of A).
    let per_ring = (1 << 14) / 112;
    assert!(
        sent + 2 >= per_ring + per_ring / 2,
        "sent {sent}: less than a ring's worth in each, minus a window"
    );
    let mut r = Reader::open(&b).unwrap();
    let got = read_stream(&mut r, sent, |_| {});
    assert_eq!((got.duplicates, got.gaps), (0, 0));
    drop(w);
    let si = inb.stop();
    out.stop();
    assert_eq!((si["messages"], si["dropped"]), (sent, 0));
    eprintln!("full B, lossless: {sent} messages held back and then delivered");
}

#[test]
fn a_full_destination_ring_in_lossy_mode_drops_and_counts() {
    let d = tmp();
    let (a, b) = (d.path().join("a"), d.path().join("b"));
    let (a_s, b_s) = (a.to_str().unwrap(), b.to_str().unwrap());
    let n = 2_000u64;
    create_ring(&a, 1 << 16);
    create_ring(&b, 1 << 12);
    let port = free_port();
    let inb = Bridge::start(
        d.path(),
        "in",
        &args(
            &[
                "in",
                b_s,
                "--key",
                "t/lossy",
                "--lossy",
                "--stats-interval",
                "50ms",
            ],
            &listen(port),
        ),
    );
    let out = Bridge::start(
        d.path(),
        "out",
        &args(
            &["out", a_s, "--key", "t/lossy", "--exit-on-disconnect"],
            &connect(port),
        ),
    );
    // Wait for the two to see each other: the inbound reports a reconnect-free connection by
    // the outbound's matching; simplest observable: a first message goes through.
    let mut w = Writer::open(&a).unwrap();
    w.send(&0u64.to_le_bytes()).unwrap();
    let mut r = Reader::open(&b).unwrap();
    assert_eq!(
        r.recv_timeout(PATIENCE).unwrap().to_vec(),
        0u64.to_le_bytes()
    );
    // Nobody reads B now: it holds 4096 / 16 = 256 of the next messages, the rest is dropped.
    for i in 1..n {
        w.send(&i.to_le_bytes()).unwrap();
    }
    drop(w);
    let (st, text) = out.wait();
    assert!(st.success(), "{text}");
    let so = final_stats(&text).unwrap();
    assert_eq!(so["messages"] + so["dropped"], n, "{so:?}");
    // The inbound accounts for each message the outbound published: written or dropped.
    let published = so["messages"];
    inb.wait_for_line("all accounted for", |l| {
        l.contains(": stats ")
            && last_stats(l).is_some_and(|s| s["messages"] + s["dropped"] >= published)
    });
    let si = inb.stop();
    assert_eq!(si["messages"] + si["dropped"], published, "{si:?}");
    assert!(si["dropped"] > 0, "{si:?}");
    assert_eq!(si["messages"], 1 + r.pending() as u64 / 16, "{si:?}");
    // What B holds is in order, with gaps where messages were dropped.
    let mut last = 0u64;
    while let Ok(m) = r.try_recv_vec() {
        let v = u64::from_le_bytes(m.try_into().unwrap());
        assert!(v > last);
        last = v;
    }
    eprintln!("full B, lossy: {si:?}");
}

#[test]
fn a_message_larger_than_the_destination_allows_is_reported_and_counted() {
    let d = tmp();
    let (a, b) = (d.path().join("a"), d.path().join("b"));
    let (a_s, b_s) = (a.to_str().unwrap(), b.to_str().unwrap());
    create_ring(&a, 1 << 16);
    create_ring(&b, 4096); // at most 2040 bytes
    let port = free_port();
    let inb = Bridge::start(
        d.path(),
        "in",
        &args(&["in", b_s, "--key", "t/big"], &listen(port)),
    );
    let out = Bridge::start(
        d.path(),
        "out",
        &args(&["out", a_s, "--key", "t/big"], &connect(port)),
    );
    let mut w = Writer::open(&a).unwrap();
    w.send(b"small").unwrap();
    w.send(&[7u8; 3000]).unwrap();
    w.send(b"after").unwrap();
    let mut r = Reader::open(&b).unwrap();
    assert_eq!(r.recv_timeout(PATIENCE).unwrap().to_vec(), b"small");
    assert_eq!(r.recv_timeout(PATIENCE).unwrap().to_vec(), b"after");
    let err = inb.stderr();
    assert!(
        err.contains("dropped a message of 3000 bytes on t/big")
            && err.contains("takes messages of at most 2040 bytes"),
        "{err}"
    );
    drop(w);
    let si = inb.stop();
    assert_eq!((si["messages"], si["too_large"]), (2, 1));
    assert_eq!(out.stop()["messages"], 3);
}

#[test]
fn usage_and_ring_errors_are_clear() {
    let d = tmp();
    let b = d.path().join("missing");
    let o = Command::new(bridge_bin())
        .args([
            "in",
            b.to_str().unwrap(),
            "--key",
            "t/x",
            "--no-multicast-scouting",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(4));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        e.contains("no such ring; pass --capacity SIZE to create it"),
        "{e}"
    );
    let o = Command::new(bridge_bin())
        .args([
            "out",
            b.to_str().unwrap(),
            "--key",
            "t/x",
            "--capacity",
            "1000",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let o = Command::new(bridge_bin())
        .args([
            "out",
            b.to_str().unwrap(),
            "--key",
            "t/x",
            "--capacity",
            "4KiB",
            "--listen",
            "nonsense",
        ])
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn a_stopped_outbound_bridge_leaves_its_unacknowledged_window_in_the_ring() {
    let d = tmp();
    let (a, b) = (d.path().join("a"), d.path().join("b"));
    let (a_s, b_s) = (a.to_str().unwrap(), b.to_str().unwrap());
    create_ring(&a, 1 << 16);
    create_ring(&b, 1 << 12);
    let port = free_port();
    let inb = Bridge::start(
        d.path(),
        "in",
        &args(&["in", b_s, "--key", "t/stop"], &listen(port)),
    );
    let out_args = args(&["out", a_s, "--key", "t/stop"], &connect(port));
    let out = Bridge::start(d.path(), "out1", &out_args);
    wait_for_reader(&a);
    let mut w = Writer::open(&a).unwrap();
    let mut buf = [0u8; 100];
    for seq in 0..200 {
        mmring_testkit::stream::fill(seq, &mut buf);
        w.send(&buf).unwrap();
    }
    // B (4 KiB, unread) fills: the window of 200 cannot be acknowledged.
    let deadline = std::time::Instant::now() + PATIENCE;
    while mmring::inspect(&b).unwrap().readers[0].lag + 112 <= 4096 {
        assert!(std::time::Instant::now() < deadline, "B never filled");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    out.wait_for_line("running", |l| l.contains(": running: "));
    let _ = nix::sys::signal::kill(out.pid(), nix::sys::signal::Signal::SIGTERM);
    let (st, text) = out.wait();
    assert!(st.success(), "{text}");
    assert!(
        text.contains("200 published messages not acknowledged"),
        "{text}"
    );
    // Nothing of the window was released from A.
    assert_eq!(
        mmring::inspect(&a).unwrap().readers[0].messages_pending,
        Some(200)
    );
    // The next outbound bridge publishes it again; B gets each message once.
    let out2 = Bridge::start(d.path(), "out2", &out_args);
    let mut r = Reader::open(&b).unwrap();
    let got = read_stream(&mut r, 200, |_| {});
    assert_eq!((got.duplicates, got.gaps), (0, 0), "{got:?}");
    drop(w);
    out2.stop();
    let si = inb.stop();
    assert_eq!(si["messages"], 200);
    assert!(si["duplicates"] > 0, "{si:?}");
}

#[test]
fn a_lossy_outbound_bridge_empties_its_ring_with_no_subscriber_and_counts_drops() {
    let d = tmp();
    let a = d.path().join("a");
    create_ring(&a, 1 << 16);
    let mut w = Writer::open(&a).unwrap();
    for i in 0..100u64 {
        w.send(&i.to_le_bytes()).unwrap();
    }
    drop(w);
    let port = free_port();
    let out = Bridge::start(
        d.path(),
        "out",
        &args(
            &[
                "out",
                a.to_str().unwrap(),
                "--key",
                "t/void",
                "--lossy",
                "--exit-on-disconnect",
            ],
            &connect(port),
        ),
    );
    let (st, text) = out.wait();
    assert!(st.success(), "{text}");
    let so = final_stats(&text).unwrap();
    assert_eq!((so["messages"], so["dropped"]), (0, 100), "{so:?}");
    assert_eq!(
        mmring::inspect(&a).unwrap().readers[0].messages_pending,
        Some(0)
    );
}

#[test]
fn a_client_outbound_bridge_through_a_router_inbound_bridge() {
    let d = tmp();
    let (a, b) = (d.path().join("a"), d.path().join("b"));
    let (a_s, b_s) = (a.to_str().unwrap(), b.to_str().unwrap());
    create_ring(&a, 1 << 16);
    create_ring(&b, 1 << 16);
    let port = free_port();
    let inb = Bridge::start(
        d.path(),
        "in",
        &args(
            &["in", b_s, "--key", "t/router", "--mode", "router"],
            &listen(port),
        ),
    );
    // A Zenoh client gives up at once when its router is not there yet (Zenoh's default for
    // clients): start it once the router is up.
    inb.wait_for_line("running", |l| l.contains(": running: "));
    let out = Bridge::start(
        d.path(),
        "out",
        &args(
            &["out", a_s, "--key", "t/router", "--mode", "client"],
            &connect(port),
        ),
    );
    let mut r = Reader::open(&b).unwrap();
    let w = spawn_stream_writer(&a, 5_000, 8, 256);
    let got = read_stream(&mut r, 5_000, |_| {});
    drop(w.join().unwrap());
    assert_eq!((got.duplicates, got.gaps), (0, 0));
    assert_eq!(out.stop()["messages"], 5_000);
    assert_eq!(inb.stop()["messages"], 5_000);
}
