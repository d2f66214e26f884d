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

/// tid → (class, CPU ns).
pub(crate) fn cpu_snapshot() -> HashMap<u32, (ThreadClass, u64)> {
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
        let ns = std::fs::read_to_string(p.join("schedstat"))
            .ok()
            .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
            .unwrap_or(0);
        out.insert(tid, (classify(tid, pid, name.trim_end()), ns));
    }
    out
}

/// CPU ns spent between two snapshots by (app, device) threads. Threads born in between count from zero.
pub(crate) fn cpu_delta(
    a: &HashMap<u32, (ThreadClass, u64)>,
    b: &HashMap<u32, (ThreadClass, u64)>,
) -> (u64, u64) {
    let (mut app, mut dev) = (0, 0);
    for (tid, (class, ns)) in b {
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
pub(crate) fn cpu_other(
    a: &HashMap<u32, (ThreadClass, u64)>,
    b: &HashMap<u32, (ThreadClass, u64)>,
) -> u64 {
    b.iter()
        .filter(|(_, (class, _))| *class == ThreadClass::Other)
        .map(|(tid, (_, ns))| ns.saturating_sub(a.get(tid).map_or(0, |x| x.1)))
        .sum()
}

/// Times the application's threads were switched in (the third field of schedstat): each is a sleep and a wake-up
/// (or a preemption) of one of them.
pub(crate) fn app_switches() -> u64 {
    let pid = std::process::id();
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    let mut n = 0;
    for e in dir.flatten() {
        let Some(tid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let p = e.path();
        let name = std::fs::read_to_string(p.join("comm")).unwrap_or_default();
        if classify(tid, pid, name.trim_end()) != ThreadClass::App {
            continue;
        }
        n += std::fs::read_to_string(p.join("schedstat"))
            .ok()
            .and_then(|s| s.split_whitespace().nth(2)?.parse::<u64>().ok())
            .unwrap_or(0);
    }
    n
}
