//! CPU time per thread, from /proc/self/task.

use super::*;

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum ThreadClass {
    App,
    Device,
    Other,
}

pub(crate) fn classify(tid: u32, pid: u32, name: &str) -> ThreadClass {
    if name.starts_with("emu_") {
        ThreadClass::Device
    } else if tid == pid
        || name.starts_with("bench-rt")
        || name == "uacce-busy-poll"
        || name == "uadk-poll"
        // The CPU backend's pool: the application's CPU, spent on its jobs.
        || name == "uacce-cpu"
    {
        ThreadClass::App
    } else {
        ThreadClass::Other
    }
}

/// One thread's class and counters at a snapshot.
pub(crate) type ThreadCpu = (ThreadClass, u64, u64);

/// tid → (class, CPU ns, times switched in): the first and third fields of schedstat.
pub(crate) fn cpu_snapshot() -> HashMap<u32, ThreadCpu> {
    let pid = std::process::id();
    let mut out = HashMap::new();
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return out;
    };
    for e in dir.flatten() {
        let Some(tid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let p = e.path();
        let name = std::fs::read_to_string(p.join("comm")).unwrap_or_default();
        let stat = std::fs::read_to_string(p.join("schedstat")).unwrap_or_default();
        let field = |i| {
            stat.split_whitespace()
                .nth(i)
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        out.insert(
            tid,
            (classify(tid, pid, name.trim_end()), field(0), field(2)),
        );
    }
    out
}

/// CPU ns spent between two snapshots by (app, device) threads. Threads born in between count from zero.
pub(crate) fn cpu_delta(a: &HashMap<u32, ThreadCpu>, b: &HashMap<u32, ThreadCpu>) -> (u64, u64) {
    let (mut app, mut dev) = (0, 0);
    for (tid, (class, ns, _)) in b {
        let before = a.get(tid).map_or(0, |x| x.1);
        let d = ns.saturating_sub(before);
        match class {
            ThreadClass::App => app += d,
            ThreadClass::Device => dev += d,
            ThreadClass::Other => {}
        }
    }
    (app, dev)
}

/// CPU ns spent between two snapshots by threads of neither class.
pub(crate) fn cpu_other(a: &HashMap<u32, ThreadCpu>, b: &HashMap<u32, ThreadCpu>) -> u64 {
    b.iter()
        .filter(|(_, (class, _, _))| *class == ThreadClass::Other)
        .map(|(tid, (_, ns, _))| ns.saturating_sub(a.get(tid).map_or(0, |x| x.1)))
        .sum()
}

/// Times the application's threads were switched in between two snapshots: each is a sleep and a wake-up (or a
/// preemption) of one of them.
pub(crate) fn app_switches(a: &HashMap<u32, ThreadCpu>, b: &HashMap<u32, ThreadCpu>) -> u64 {
    b.iter()
        .filter(|(_, (class, _, _))| *class == ThreadClass::App)
        .map(|(tid, (_, _, n))| n.saturating_sub(a.get(tid).map_or(0, |x| x.2)))
        .sum()
}
