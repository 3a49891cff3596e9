//! CPU pinning with `sched_setaffinity`.

use nix::sched::{sched_getaffinity, sched_setaffinity, CpuSet};
use nix::unistd::Pid;

/// The first two CPUs this process may run on, if there are at least two.
pub fn two_cpus() -> Option<(usize, usize)> {
    let set = sched_getaffinity(Pid::from_raw(0)).ok()?;
    let mut allowed = (0..CpuSet::count()).filter(|&c| set.is_set(c).unwrap_or(false));
    Some((allowed.next()?, allowed.next()?))
}

/// Pins the calling process (its main thread) to `cpu`.
pub fn to_cpu(cpu: usize) -> nix::Result<()> {
    let mut set = CpuSet::new();
    set.set(cpu)?;
    sched_setaffinity(Pid::from_raw(0), &set)
}
