//! Per-job overhead of the completion path, for instruction-count profiling: `depth` tasks run null jobs
//! (`Accel::nop`) back to back on the emulated null device until `jobs` have completed.
//!
//! ```sh
//! cargo build --release --example nop-overhead
//! valgrind --tool=callgrind --separate-threads=yes \
//!     target/release/examples/nop-overhead --depth 16 --jobs 20000 --mode eventfd
//! ```
//!
//! Wall-clock numbers from a busy or virtual machine are noisy; instruction counts are not. Run it twice with
//! different `--jobs` and divide the difference of the application threads' instruction counts (the tokio worker
//! `bench-rt` and the main thread; not the emulator's `emu_*` device threads) by the difference of the job counts:
//! that is the marginal cost per job, without the set-up. The program also prints its own timing and the CPU time of
//! the application threads per job from `/proc/self/task/*/schedstat` (noisy, for orientation).
//!
//! Flags: `--depth N` (default 16), `--jobs N` (measured jobs, default 100000), `--warm N` (jobs before the
//! measurement, default 2000), `--mode eventfd|interrupt|hybrid|io-uring|busy-poll` (default eventfd),
//! `--workers N` (tokio worker threads, default 1).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use uacce_async::{Accel, Backend, NotifyMode};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

struct Args {
    depth: usize,
    jobs: u64,
    warm: u64,
    mode: NotifyMode,
    workers: usize,
}

const USAGE: &str =
    "usage: nop-overhead [--depth N] [--jobs N] [--warm N] [--mode MODE] [--workers N]";

fn parse_args() -> Result<Args, BoxError> {
    let mut a = Args {
        depth: 16,
        jobs: 100_000,
        warm: 2_000,
        mode: NotifyMode::Eventfd,
        workers: 1,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut val = || {
            it.next()
                .ok_or_else(|| format!("{arg} needs a value\n{USAGE}"))
        };
        match arg.as_str() {
            "--depth" => a.depth = val()?.parse::<usize>()?.max(1),
            "--jobs" => a.jobs = val()?.parse()?,
            "--warm" => a.warm = val()?.parse()?,
            "--mode" => a.mode = val()?.parse()?,
            "--workers" => a.workers = val()?.parse::<usize>()?.max(1),
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(Args { jobs: 0, ..a });
            }
            other => return Err(format!("unknown argument `{other}`\n{USAGE}").into()),
        }
    }
    Ok(a)
}

/// CPU ns of this process's threads whose name does not start with `emu_` (the emulator's device threads).
fn app_cpu_ns() -> u64 {
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    let mut total = 0;
    for e in dir.flatten() {
        let p = e.path();
        let name = std::fs::read_to_string(p.join("comm")).unwrap_or_default();
        if name.starts_with("emu_") {
            continue;
        }
        total += std::fs::read_to_string(p.join("schedstat"))
            .ok()
            .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
            .unwrap_or(0);
    }
    total
}

/// User and system CPU ns of the application threads (as [`app_cpu_ns`]), from `/proc/self/task/*/stat` (clock
/// ticks: coarse, 10 ms on most systems).
fn app_user_sys_ns() -> (u64, u64) {
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return (0, 0);
    };
    let tick = 1_000_000_000
        / nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
            .ok()
            .flatten()
            .filter(|&t| t > 0)
            .unwrap_or(100) as u64;
    let (mut user, mut sys) = (0, 0);
    for e in dir.flatten() {
        let p = e.path();
        let name = std::fs::read_to_string(p.join("comm")).unwrap_or_default();
        if name.starts_with("emu_") {
            continue;
        }
        let stat = std::fs::read_to_string(p.join("stat")).unwrap_or_default();
        // Fields after the ")" that closes the command name: utime is the 12th, stime the 13th.
        if let Some(rest) = stat.rsplit_once(')').map(|x| x.1) {
            let f: Vec<&str> = rest.split_whitespace().collect();
            if f.len() > 12 {
                user += f[11].parse::<u64>().unwrap_or(0) * tick;
                sys += f[12].parse::<u64>().unwrap_or(0) * tick;
            }
        }
    }
    (user, sys)
}

/// `depth` tasks taking jobs from a shared budget of `n` until it is spent.
async fn run(accel: &Accel, depth: usize, n: u64) -> Result<(), BoxError> {
    let budget = Arc::new(AtomicU64::new(n));
    let mut tasks = Vec::with_capacity(depth);
    for _ in 0..depth {
        let (accel, budget) = (accel.clone(), budget.clone());
        tasks.push(tokio::spawn(async move {
            while budget
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |b| b.checked_sub(1))
                .is_ok()
            {
                accel.nop().await?;
            }
            Ok::<_, uacce_async::Error>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(())
}

fn main() -> Result<(), BoxError> {
    let args = parse_args()?;
    if args.jobs == 0 {
        return Ok(());
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.workers)
        .thread_name("bench-rt")
        .enable_all()
        .build()?;
    rt.block_on(async {
        let accel = Accel::builder()
            .backend(Backend::Emulated)
            .mode(args.mode)
            .queues_per_device(1)
            .build()
            .await?;
        run(&accel, args.depth, args.warm).await?;
        let c0 = app_cpu_ns();
        let (u0, s0) = app_user_sys_ns();
        let t0 = Instant::now();
        run(&accel, args.depth, args.jobs).await?;
        let secs = t0.elapsed().as_secs_f64();
        let app = app_cpu_ns().saturating_sub(c0);
        let (u1, s1) = app_user_sys_ns();
        let n = args.jobs as f64;
        println!(
            "{} depth {} jobs {}: {:.0} jobs/s, app CPU {:.3} µs/job (schedstat; noisy; user {:.2} + system {:.2} \
             from clock ticks)",
            args.mode,
            args.depth,
            args.jobs,
            n / secs,
            app as f64 / 1e3 / n,
            u1.saturating_sub(u0) as f64 / 1e3 / n,
            s1.saturating_sub(s0) as f64 / 1e3 / n,
        );
        Ok::<_, BoxError>(())
    })
}
