//! One cell: `depth` tasks each running jobs back to back.

use super::*;

pub(crate) struct Measured {
    pub(crate) jobs: u64,
    pub(crate) secs: f64,
    pub(crate) hist: Histogram<u64>,
    pub(crate) app_ns: u64,
    pub(crate) dev_ns: u64,
    /// CPU of threads that are neither the application's nor the emulator's (none are expected: a check that the
    /// classification misses nothing).
    pub(crate) other_ns: u64,
    /// Times the application's threads were switched in ([`app_switches`]).
    pub(crate) app_switches: u64,
}

pub(crate) async fn measure<F, Fut>(
    depth: usize,
    warm: Duration,
    secs: f64,
    job: F,
) -> Result<Measured, BoxError>
where
    F: Fn() -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<(), BoxError>> + Send + 'static,
{
    let phase = Arc::new(AtomicU8::new(0));
    let done = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::with_capacity(depth);
    for _ in 0..depth {
        let (phase, done, job) = (phase.clone(), done.clone(), job.clone());
        tasks.push(tokio::spawn(async move {
            let mut hist =
                Histogram::<u64>::new_with_bounds(1, 120_000_000_000, 2).expect("bounds");
            loop {
                if phase.load(Ordering::Relaxed) == 2 {
                    break;
                }
                let t = Instant::now();
                job().await?;
                let ns = t.elapsed().as_nanos() as u64;
                if phase.load(Ordering::Relaxed) == 1 {
                    hist.saturating_record(ns.max(1));
                    done.fetch_add(1, Ordering::Relaxed);
                }
            }
            Ok::<_, BoxError>(hist)
        }));
    }
    // The main thread is not a runtime worker: blocking it in sleep leaves the workers alone.
    std::thread::sleep(warm);
    let c0 = cpu_snapshot();
    let t0 = Instant::now();
    phase.store(1, Ordering::Relaxed);
    std::thread::sleep(Duration::from_secs_f64(secs));
    phase.store(2, Ordering::Relaxed);
    let el = t0.elapsed().as_secs_f64();
    let c1 = cpu_snapshot();
    let jobs = done.load(Ordering::Relaxed);
    let mut hist = Histogram::<u64>::new_with_bounds(1, 120_000_000_000, 2)?;
    for t in tasks {
        let h = t.await.map_err(|e| format!("bench task: {e}"))??;
        hist.add(&h)?;
    }
    let (app_ns, dev_ns) = cpu_delta(&c0, &c1);
    Ok(Measured {
        jobs,
        secs: el,
        hist,
        app_ns,
        dev_ns,
        other_ns: cpu_other(&c0, &c1),
        app_switches: app_switches(&c0, &c1),
    })
}

#[derive(Clone)]
pub(crate) struct Cell {
    pub(crate) runner: String,
    pub(crate) depth: usize,
    pub(crate) job: Job,
    pub(crate) service: Service,
    pub(crate) jobs_per_s: f64,
    pub(crate) mb_per_s: f64,
    pub(crate) p50_us: f64,
    pub(crate) p99_us: f64,
    pub(crate) app_cpu_us_per_job: f64,
    pub(crate) dev_cpu_us_per_job: f64,
}

pub(crate) fn cell(runner: Runner, depth: usize, job: Job, service: Service, m: &Measured) -> Cell {
    let n = m.jobs.max(1) as f64;
    let jps = m.jobs as f64 / m.secs;
    Cell {
        runner: runner.name().to_string(),
        depth,
        job,
        service,
        jobs_per_s: jps,
        mb_per_s: jps * job.bytes() as f64 / 1e6,
        p50_us: m.hist.value_at_quantile(0.5) as f64 / 1e3,
        p99_us: m.hist.value_at_quantile(0.99) as f64 / 1e3,
        app_cpu_us_per_job: m.app_ns as f64 / 1e3 / n,
        dev_cpu_us_per_job: m.dev_ns as f64 / 1e3 / n,
    }
}
