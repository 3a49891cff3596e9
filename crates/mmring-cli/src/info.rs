//! `mmring info`: a read-only snapshot of a ring.

use crate::cli::InfoArgs;
use crate::exit::{Failure, Outcome};
use crate::units::human_bytes;
use mmring::{RingInfo, SideInfo, SideState};
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

/// The JSON form (field names documented in the README).
pub fn to_json(i: &RingInfo) -> Value {
    json!({
        "path": i.path.display().to_string(),
        "version": i.version,
        "header_len": i.header_len,
        "capacity": i.capacity,
        "max_message_len": i.max_message_len,
        "creator_pid": i.creator_pid,
        "write_pos": i.write_pos,
        "read_pos": i.read_pos,
        "bytes_in_flight": i.bytes_in_flight,
        "messages_in_flight": i.messages_in_flight,
        "payload_bytes_in_flight": i.payload_bytes_in_flight,
        "writer": side_json(&i.writer),
        "reader": side_json(&i.reader),
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
    format!(
        "{name:<8}{who}{wait}; attached {} time{}\n",
        s.epoch,
        if s.epoch == 1 { "" } else { "s" }
    )
}

/// The human-readable form.
pub fn to_text(i: &RingInfo) -> String {
    let msgs = match (i.messages_in_flight, i.payload_bytes_in_flight) {
        (Some(m), Some(p)) => format!(
            "{m} message{} ({p} payload bytes)",
            if m == 1 { "" } else { "s" }
        ),
        _ => "unknown (records changed while being counted)".to_string(),
    };
    let used = i.bytes_in_flight as f64 * 100.0 / i.capacity as f64;
    let mut s = String::new();
    s += &format!("ring     {}\n", i.path.display());
    s += &format!(
        "layout   version {}, header {} bytes, created by pid {}\n",
        i.version, i.header_len, i.creator_pid
    );
    s += &format!(
        "capacity {} ({} bytes), longest message {} bytes\n",
        human_bytes(i.capacity),
        i.capacity,
        i.max_message_len
    );
    s += &format!("cursors  write {}, read {}\n", i.write_pos, i.read_pos);
    s += &format!(
        "in use   {} bytes ({used:.1}%): {msgs}\n",
        i.bytes_in_flight
    );
    s += &side_text("writer", &i.writer);
    s += &side_text("reader", &i.reader);
    s
}
