//! The mixed-workload cell: AES-256-GCM seals and gzip compressions half and half, input sizes log-uniform from
//! 64 B to 64 KiB, run three ways — every job on the device (`Routing::device_only`), every job on the CPU backend,
//! and routed by the library's default policy — at the same depth, with the eventfd strategy and the emulator's
//! 2 GB/s bandwidth model. The goal (issue 16): routed app CPU per job <= 0.9x the better pure strategy, with p50
//! <= 1.1x the better one.

use super::*;
use uacce_async::Family;

/// One job of the mix.
#[derive(Clone)]
pub(crate) struct MixJob {
    gzip: bool,
    data: Bytes,
}

/// `n` jobs: sizes `64 · 2^(10u)` for u uniform in [0, 1) (log-uniform 64 B..64 KiB), gzip or GCM at random.
pub(crate) fn mix(n: usize) -> Vec<MixJob> {
    let text = sample(64 << 10);
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    (0..n)
        .map(|_| {
            let u = (next() >> 11) as f64 / (1u64 << 53) as f64;
            let len = ((64.0 * 2f64.powf(10.0 * u)) as usize).clamp(64, 64 << 10);
            let off = (next() as usize) % (text.len() - len + 1);
            MixJob {
                gzip: next() & 1 == 1,
                data: text.slice(off..off + len),
            }
        })
        .collect()
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Strategy {
    Device,
    Cpu,
    Routed,
}

impl Strategy {
    pub(crate) const ALL: [Strategy; 3] = [Strategy::Device, Strategy::Cpu, Strategy::Routed];
    pub(crate) fn name(self) -> &'static str {
        match self {
            Strategy::Device => "all-device",
            Strategy::Cpu => "all-cpu",
            Strategy::Routed => "routed",
        }
    }
}

#[derive(Clone)]
pub(crate) struct MixedCell {
    pub(crate) strategy: Strategy,
    pub(crate) depth: usize,
    pub(crate) jobs_per_s: f64,
    pub(crate) mb_per_s: f64,
    pub(crate) p50_us: f64,
    pub(crate) p99_us: f64,
    pub(crate) app_cpu_us_per_job: f64,
    /// Share of the jobs that ran on the CPU (routed: by the size threshold).
    pub(crate) on_cpu: f64,
}

async fn accel_for(s: Strategy, route_min: &[(Family, usize)]) -> Result<Accel, BoxError> {
    // The CPU backend at deflate level 1, as the emulated ZIP engine and the inline baseline.
    let mut cfg = Config::default();
    cfg.mode = NotifyMode::Eventfd;
    cfg.queues_per_device = 1;
    cfg.cpu_level = 1;
    cfg.emu = EmuOptions::default().service(Service::Bw2GBs.model());
    match s {
        Strategy::Device => {
            cfg.backend = Backend::Emulated;
            cfg.routing = Routing::device_only();
        }
        Strategy::Cpu => cfg.backend = Backend::Cpu,
        Strategy::Routed => {
            cfg.backend = Backend::Emulated;
            cfg.routing = route_min
                .iter()
                .fold(Routing::default(), |r, &(f, n)| r.min_device_bytes(f, n));
        }
    }
    Ok(Accel::with_config(cfg).await?)
}

/// Run the three strategies at each of `depths`, interleaved (`rounds` times each, the median cell kept) so that
/// load from elsewhere on the machine hits them alike.
pub(crate) async fn mixed_cells(
    depths: &[usize],
    warm: Duration,
    secs: f64,
    rounds: usize,
    route_min: &[(Family, usize)],
) -> Result<Vec<MixedCell>, BoxError> {
    let jobs = Arc::new(mix(4096));
    let mean_bytes = jobs.iter().map(|j| j.data.len()).sum::<usize>() as f64 / jobs.len() as f64;
    let key = AeadKey::new(&KEY)?;
    let mut out = Vec::new();
    for &depth in depths {
        let mut runs: Vec<Vec<MixedCell>> = vec![Vec::new(); 3];
        for _ in 0..rounds {
            for (si, &s) in Strategy::ALL.iter().enumerate() {
                let accel = accel_for(s, route_min).await?;
                let next = Arc::new(AtomicU64::new(0));
                let (a, k, j) = (accel.clone(), key.clone(), jobs.clone());
                let m = measure(depth, warm, secs, move || {
                    let (a, k, j, next) = (a.clone(), k.clone(), j.clone(), next.clone());
                    async move {
                        let i = next.fetch_add(1, Ordering::Relaxed) as usize % j.len();
                        let job = &j[i];
                        if job.gzip {
                            a.compress(Format::Gzip, job.data.clone()).await?;
                        } else {
                            a.aes_gcm_seal(&k, next_nonce(), b"", job.data.clone())
                                .await?;
                        }
                        Ok(())
                    }
                })
                .await
                .map_err(|e| format!("mixed {} d{depth}: {e}", s.name()))?;
                let st = accel.stats().total();
                let n = m.jobs.max(1) as f64;
                let jps = m.jobs as f64 / m.secs;
                runs[si].push(MixedCell {
                    strategy: s,
                    depth,
                    jobs_per_s: jps,
                    mb_per_s: jps * mean_bytes / 1e6,
                    p50_us: m.hist.value_at_quantile(0.5) as f64 / 1e3,
                    p99_us: m.hist.value_at_quantile(0.99) as f64 / 1e3,
                    app_cpu_us_per_job: m.app_ns as f64 / 1e3 / n,
                    on_cpu: st.on_cpu.total() as f64 / st.completed.max(1) as f64,
                });
                drop(accel);
            }
        }
        for mut r in runs {
            // The median round by app CPU per job.
            r.sort_by(|a, b| a.app_cpu_us_per_job.total_cmp(&b.app_cpu_us_per_job));
            out.push(r[r.len() / 2].clone());
        }
    }
    Ok(out)
}

/// Print the cells and the goal check per depth; returns the goal lines (name, holds, detail).
pub(crate) fn print_mixed(cells: &[MixedCell]) -> Vec<Goal> {
    println!(
        "\nmixed workload (AES-256-GCM + gzip, 64 B..64 KiB log-uniform; eventfd, bw-2GB/s; median of rounds):"
    );
    println!(
        "  {:<11} {:>5} {:>10} {:>8} {:>9} {:>9} {:>12} {:>7}",
        "strategy", "depth", "jobs/s", "MB/s", "p50 µs", "p99 µs", "app µs/job", "on CPU"
    );
    for c in cells {
        println!(
            "  {:<11} {:>5} {:>10.0} {:>8.1} {:>9.1} {:>9.1} {:>12.2} {:>6.0}%",
            c.strategy.name(),
            c.depth,
            c.jobs_per_s,
            c.mb_per_s,
            c.p50_us,
            c.p99_us,
            c.app_cpu_us_per_job,
            c.on_cpu * 100.0
        );
    }
    let mut goals = Vec::new();
    let mut depths: Vec<usize> = cells.iter().map(|c| c.depth).collect();
    depths.dedup();
    for d in depths {
        let get = |s| cells.iter().find(|c| c.depth == d && c.strategy == s);
        let (Some(dev), Some(cpu), Some(r)) = (
            get(Strategy::Device),
            get(Strategy::Cpu),
            get(Strategy::Routed),
        ) else {
            continue;
        };
        let best_cpu = dev.app_cpu_us_per_job.min(cpu.app_cpu_us_per_job);
        let best_p50 = dev.p50_us.min(cpu.p50_us);
        let cpu_ratio = r.app_cpu_us_per_job / best_cpu;
        let p50_ratio = r.p50_us / best_p50;
        goals.push(Goal {
            name: "mixed workload: routed app CPU/job <= 0.9x and p50 <= 1.1x the better pure strategy",
            holds: Some(cpu_ratio <= 0.9 && p50_ratio <= 1.1),
            detail: format!(
                "depth {d}: app CPU {:.2} µs/job = {cpu_ratio:.2}x the better ({best_cpu:.2}); p50 {:.1} µs = {p50_ratio:.2}x the \
                 better ({best_p50:.1})",
                r.app_cpu_us_per_job, r.p50_us
            ),
        });
    }
    goals
}
