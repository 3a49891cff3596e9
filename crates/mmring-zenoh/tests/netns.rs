//! Across a real network boundary: two network namespaces made by the test, joined by a veth
//! pair with addresses of the test's own (10.217.X.1/30 and 10.217.X.2/30), one bridge in
//! each. The link is taken down and up mid-stream twice: once briefly (shorter than the Zenoh
//! lease: TCP retransmits, nothing is noticed) and once for longer than the lease (both
//! sessions close, reconnect, and the outbound bridge publishes its window again). Either way
//! the stream completes in order with no gap and no duplicate in ring B.
//!
//! Needs root and `ip`; skipped with a message otherwise. `MMRING_ZENOH_LONG=1` runs a longer
//! stream and a 15 s outage against Zenoh's default 10 s lease.

mod common;

use common::*;
use mmring::Reader;
use std::process::Command;
use std::time::Duration;

/// The namespaces and their veth pair; removed on drop, even when the test fails.
struct Netns {
    a: String,
    b: String,
}

fn ip(args: &[&str]) -> Result<(), String> {
    let o = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run ip: {e}"))?;
    if o.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&o.stderr).trim()
        ))
    }
}

impl Netns {
    fn new(tag: u32) -> Result<(Netns, String, String), String> {
        let n = Netns {
            a: format!("mmz-a-{tag}"),
            b: format!("mmz-b-{tag}"),
        };
        ip(&["netns", "add", &n.a])?;
        ip(&["netns", "add", &n.b])?;
        let x = tag % 250 + 1;
        let (addr_a, addr_b) = (format!("10.217.{x}.1"), format!("10.217.{x}.2"));
        let (va, vb) = (
            format!("mmzA{}", tag % 100_000),
            format!("mmzB{}", tag % 100_000),
        );
        ip(&[
            "link", "add", &va, "netns", &n.a, "type", "veth", "peer", "name", &vb, "netns", &n.b,
        ])?;
        for (ns, dev, addr) in [(&n.a, &va, &addr_a), (&n.b, &vb, &addr_b)] {
            ip(&["-n", ns, "addr", "add", &format!("{addr}/30"), "dev", dev])?;
            ip(&["-n", ns, "link", "set", dev, "up"])?;
            ip(&["-n", ns, "link", "set", "lo", "up"])?;
        }
        Ok((n, addr_a, addr_b))
    }

    fn link(&self, up: bool) {
        let dev = format!(
            "mmzA{}",
            self.a.trim_start_matches("mmz-a-").parse::<u32>().unwrap() % 100_000
        );
        ip(&[
            "-n",
            &self.a,
            "link",
            "set",
            &dev,
            if up { "up" } else { "down" },
        ])
        .unwrap();
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        // Deleting a namespace deletes the veth end inside it, and with it the pair.
        let _ = ip(&["netns", "del", &self.a]);
        let _ = ip(&["netns", "del", &self.b]);
    }
}

#[test]
fn link_down_and_up_mid_stream_between_two_network_namespaces() {
    let long = std::env::var_os("MMRING_ZENOH_LONG").is_some();
    let tag = std::process::id();
    let (ns, _addr_a, addr_b) = match Netns::new(tag) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("netns: skipped: cannot create network namespaces here ({e})");
            return;
        }
    };
    let d = tempfile::Builder::new()
        .prefix("mmring-zenoh-netns-")
        .tempdir()
        .unwrap();
    let (a, b) = (d.path().join("a"), d.path().join("b"));
    let (a_s, b_s) = (
        a.to_str().unwrap().to_owned(),
        b.to_str().unwrap().to_owned(),
    );
    create_ring(&a, 1 << 18);
    create_ring(&b, 1 << 20);
    // A short lease (2 s) makes the long outage (4 s) outlast it; the long variant keeps
    // Zenoh's default 10 s lease and is down for 15 s.
    let (cfg, outage) = if long {
        ("{}", Duration::from_secs(15))
    } else {
        (
            "{ transport: { link: { tx: { lease: 2000 } } } }",
            Duration::from_secs(4),
        )
    };
    let cfg_path = d.path().join("zenoh.json5");
    std::fs::write(&cfg_path, cfg).unwrap();
    let cfg_s = cfg_path.to_str().unwrap().to_owned();
    let endpoint = format!("tcp/{addr_b}:7447");
    let common = |x: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = x.iter().map(|s| s.to_string()).collect();
        v.extend(
            [
                "--no-multicast-scouting",
                "--config",
                &cfg_s,
                "--stats-interval",
                "500ms",
            ]
            .map(String::from),
        );
        v
    };
    let inb = Bridge::start_with(
        d.path(),
        "in",
        &["ip", "netns", "exec", &ns.b],
        &common(&["in", &b_s, "--key", "t/netns", "--listen", &endpoint]),
    );
    let out = Bridge::start_with(
        d.path(),
        "out",
        &["ip", "netns", "exec", &ns.a],
        &common(&["out", &a_s, "--key", "t/netns", "--connect", &endpoint]),
    );
    let n: u64 = if long { 400_000 } else { 60_000 };
    let mut r = Reader::open(&b).unwrap();
    let w = spawn_stream_writer(&a, n, 8, 512);
    let mut phase = 0;
    let got = read_stream(&mut r, n, |next| {
        if phase == 0 && next >= n / 4 {
            phase = 1;
            eprintln!("netns: link down for 500 ms at message {next}");
            ns.link(false);
            std::thread::sleep(Duration::from_millis(500));
            ns.link(true);
        } else if phase == 1 && next >= n / 2 {
            phase = 2;
            eprintln!("netns: link down for {outage:?} (longer than the lease) at message {next}");
            ns.link(false);
            std::thread::sleep(outage);
            ns.link(true);
        }
    });
    drop(w.join().unwrap());
    assert_eq!(phase, 2);
    assert_eq!((got.duplicates, got.gaps), (0, 0), "{got:?}");
    let (so, si) = (out.stop(), inb.stop());
    eprintln!("netns: outbound {so:?}");
    eprintln!("netns: inbound  {si:?}");
    assert_eq!((so["messages"], si["messages"], si["gaps"]), (n, n, 0));
    // The long outage outlasted the lease: both sessions lost their peer and found it again.
    assert!(
        so["reconnects"] >= 1 && si["reconnects"] >= 1,
        "{so:?} {si:?}"
    );
}
