//! Goals, checked against the measured floors: eventfd throughput and CPU against busy-poll, idle CPU,
//! depth-1 latency, CPU freed by offloading.

use super::*;

pub(crate) fn goals(r: &Report) -> Vec<Goal> {
    let find = |runner: &str, d: usize, job: Job| {
        r.cells
            .iter()
            .find(|c| {
                c.runner == runner && c.depth == d && c.job == job && c.service == Service::None
            })
            .or_else(|| {
                r.cells.iter().find(|c| {
                    c.runner == runner
                        && c.depth == d
                        && c.job == job
                        && c.service == Service::NotApplicable
                })
            })
    };
    let floor = |n: &str| r.floors.iter().find(|f| f.0 == n).map(|f| f.1);
    let mut out = Vec::new();

    // 1. Eventfd throughput ≥ 0.9× BusyPoll at depth ≥ 16 (null), app CPU/job ≤ 0.5×.
    let mut holds = None;
    let mut detail = String::new();
    for d in [16, 64] {
        if let (Some(e), Some(b)) = (
            find("eventfd", d, Job::Null),
            find("busy-poll", d, Job::Null),
        ) {
            let ok = e.jobs_per_s >= 0.9 * b.jobs_per_s
                && e.app_cpu_us_per_job <= 0.5 * b.app_cpu_us_per_job;
            holds = Some(holds.unwrap_or(true) && ok);
            let _ = write!(
                detail,
                "d{d}: {:.2}x throughput, {:.2}x CPU/job; ",
                e.jobs_per_s / b.jobs_per_s,
                e.app_cpu_us_per_job / b.app_cpu_us_per_job
            );
        }
    }
    out.push(Goal {
        name: "eventfd >= 0.9x busy-poll throughput at depth >= 16 (null), CPU/job <= 0.5x",
        holds,
        detail,
    });

    // 2. Idle CPU < 1 % for every mode except BusyPoll.
    let rest: Vec<&(String, f64)> = r
        .idle
        .iter()
        .filter(|(m, _)| NotifyMode::ALL.iter().any(|x| x.name() == m) && m != "busy-poll")
        .collect();
    out.push(Goal {
        name: "idle app CPU < 1% of a core for every mode except busy-poll",
        holds: (!rest.is_empty()).then(|| rest.iter().all(|(_, p)| *p < 1.0)),
        detail: rest
            .iter()
            .map(|(m, p)| format!("{m} {p:.2}%"))
            .collect::<Vec<_>>()
            .join(", "),
    });

    // 3. Depth-1 p50: Hybrid ≤ 1.2× BusyPoll; Eventfd ≤ BusyPoll + 1.2× the cross-CPU wake floor.
    let b = find("busy-poll", 1, Job::Null);
    let h = find("hybrid", 1, Job::Null);
    let e = find("eventfd", 1, Job::Null);
    let w = floor("eventfd_wake_cross_cpu");
    if let (Some(b), Some(h)) = (b, h) {
        out.push(Goal {
            name: "depth-1 p50: hybrid <= 1.2x busy-poll",
            holds: Some(h.p50_us <= 1.2 * b.p50_us),
            detail: format!(
                "hybrid {:.1} µs, busy-poll {:.1} µs ({:.2}x)",
                h.p50_us,
                b.p50_us,
                h.p50_us / b.p50_us
            ),
        });
    }
    if let (Some(b), Some(e)) = (b, e) {
        let (holds, limit) = match w {
            Some(w) if w.is_finite() => (
                Some(e.p50_us <= b.p50_us + 1.2 * w),
                format!("{:.1}", b.p50_us + 1.2 * w),
            ),
            _ => (None, "n/a (no cross-CPU floor)".into()),
        };
        out.push(Goal {
            name: "depth-1 p50: eventfd <= busy-poll + 1.2x cross-CPU wake floor",
            holds,
            detail: format!("eventfd {:.1} µs, limit {limit} µs", e.p50_us),
        });
    }

    // 4. Eventfd app CPU ≤ 0.6 µs per null job at depth ≥ 16.
    let mut holds = None;
    let mut detail = String::new();
    for d in [16, 64] {
        if let Some(e) = find("eventfd", d, Job::Null) {
            holds = Some(holds.unwrap_or(true) && e.app_cpu_us_per_job <= 0.6);
            let _ = write!(detail, "d{d}: {:.2} µs; ", e.app_cpu_us_per_job);
        }
    }
    out.push(Goal {
        name: "eventfd app CPU <= 0.6 µs per null job at depth >= 16",
        holds,
        detail,
    });

    // 5. CPU freed: offloaded gzip 4 KiB at depth 64 ≤ 5 % of spawn_blocking + flate2.
    if let (Some(e), Some(s)) = (
        find("eventfd", 64, Job::Gzip4k),
        find("spawn-blocking", 64, Job::Gzip4k),
    ) {
        out.push(Goal {
            name: "eventfd gzip-4k app CPU/job at depth 64 <= 5% of spawn_blocking + flate2",
            holds: Some(e.app_cpu_us_per_job <= 0.05 * s.app_cpu_us_per_job),
            detail: format!(
                "{:.2} µs vs {:.2} µs ({:.1}%)",
                e.app_cpu_us_per_job,
                s.app_cpu_us_per_job,
                100.0 * e.app_cpu_us_per_job / s.app_cpu_us_per_job
            ),
        });
    }
    out
}
