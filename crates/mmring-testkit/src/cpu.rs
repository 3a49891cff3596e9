//! CPU pinning, and the choice of the two CPUs that the two sides of a measurement run on.
//!
//! The CPUs are chosen from the *online* CPUs, not from this process's affinity mask (which is
//! what [`std::thread::available_parallelism`] counts): a child started by a pinned parent
//! inherits the parent's single-CPU mask, and choosing from it would leave both sides on one
//! CPU, where every round trip waits for a scheduler tick (milliseconds, not nanoseconds).
//!
//! ```
//! if let Some((a, _b)) = mmring_testkit::cpu::two_cpus() {
//!     std::thread::spawn(move || mmring_testkit::cpu::pin(a)).join().unwrap()?;
//! }
//! # Ok::<(), std::io::Error>(())
//! ```

use nix::sched::{sched_setaffinity, CpuSet};
use nix::unistd::{sysconf, Pid, SysconfVar};
use std::io;

/// The online CPUs, in increasing order.
///
/// Read from `/sys/devices/system/cpu/online` (a list such as `0-3,6`); where that cannot be
/// read, CPUs `0..n` for the `n` of `sysconf(_SC_NPROCESSORS_ONLN)`; at least CPU 0.
pub fn online_cpus() -> Vec<usize> {
    std::fs::read_to_string("/sys/devices/system/cpu/online")
        .ok()
        .and_then(|s| parse_cpu_list(&s))
        .filter(|cpus| !cpus.is_empty())
        .unwrap_or_else(|| {
            let n = sysconf(SysconfVar::_NPROCESSORS_ONLN)
                .ok()
                .flatten()
                .and_then(|n| usize::try_from(n).ok())
                .unwrap_or(1);
            (0..n.max(1)).collect()
        })
}

/// Parses the kernel's CPU list format (`0-3,6,8-9`, see `cpuset(7)`).
fn parse_cpu_list(s: &str) -> Option<Vec<usize>> {
    let mut cpus = Vec::new();
    for part in s.trim().split(',').filter(|p| !p.is_empty()) {
        let (lo, hi): (usize, usize) = match part.split_once('-') {
            Some((lo, hi)) => (lo.parse().ok()?, hi.parse().ok()?),
            None => {
                let c = part.parse().ok()?;
                (c, c)
            }
        };
        if lo > hi {
            return None;
        }
        cpus.extend(lo..=hi);
    }
    Some(cpus)
}

/// The two CPUs for the two sides of a measurement: the first two online CPUs, or `None` when
/// fewer than two are online.
///
/// Every process of a measurement computes the same pair, whatever affinity it inherited.
pub fn two_cpus() -> Option<(usize, usize)> {
    let cpus = online_cpus();
    Some((*cpus.first()?, *cpus.get(1)?))
}

/// Pins the calling thread (so, in a single-threaded process, the process) to `cpu`, with
/// `sched_setaffinity(2)`.
///
/// # Errors
/// `cpu` is beyond the largest CPU set the kernel interface takes, or the kernel refuses the
/// mask (`EINVAL`: the CPU is offline or outside this process's cpuset).
pub fn pin(cpu: usize) -> io::Result<()> {
    let mut set = CpuSet::new();
    set.set(cpu)?;
    sched_setaffinity(Pid::from_raw(0), &set)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_cpu_list("0-1\n"), Some(vec![0, 1]));
        assert_eq!(parse_cpu_list("0,2-4,7"), Some(vec![0, 2, 3, 4, 7]));
        assert_eq!(parse_cpu_list("3"), Some(vec![3]));
        assert_eq!(parse_cpu_list("4-2"), None);
        assert_eq!(parse_cpu_list("x"), None);
    }

    #[test]
    fn a_pinned_thread_still_sees_every_online_cpu() {
        let online = online_cpus();
        assert!(!online.is_empty());
        let cpu = online[online.len() - 1];
        let seen = std::thread::spawn(move || {
            pin(cpu).unwrap();
            online_cpus()
        })
        .join()
        .unwrap();
        assert_eq!(seen, online);
    }
}
