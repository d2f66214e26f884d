//! Polling vs interrupt: what each way of waiting for completions costs, on this machine and this load.
//!
//! ```sh
//! cargo run --release --example polling-vs-interrupt -- --quick --json out.json --plot out.svg
//! ```
//!
//! The report runs a matrix of
//! * runners: the five completion strategies of `uacce-async` (busy-poll, hybrid, interrupt, eventfd, io-uring) and
//!   three baselines — the same job inline on the runtime thread (flate2 / RustCrypto), on
//!   `tokio::task::spawn_blocking`, and on the device through a UADK-style dedicated poll thread that runs a callback
//!   per completion;
//! * queue depth (jobs outstanding at once, one tokio task each): 1, 4, 16, 64;
//! * jobs: null (the emulator's null device: no work, pure overhead), gzip 4 KiB, gzip 64 KiB, AES-256-GCM seal
//!   4 KiB, SHA-256 4 KiB;
//! * emulated service time: none, fixed 10 µs, a 2 GB/s bandwidth model (the emulator's device threads do the codec
//!   work; the model decides when the completion becomes visible);
//!
//! and measures per cell jobs/s, MB/s (input bytes), p50/p99 latency (submit to result, HdrHistogram), and the CPU
//! time of the application's own threads per job: the tokio runtime's threads (named `bench-rt`, workers and blocking
//! pool), the main thread, the library's busy-poll thread and the UADK-style poll thread, read from
//! `/proc/self/task/*/schedstat`. The emulator's device threads (`emu_*-q*`) play the hardware and are excluded (they
//! are reported separately as `dev_cpu_us_per_job`). Per mode it also measures the idle CPU over one second with the
//! queues open and nothing submitted, and this machine's floors: busy-poll cache-line hand-off, a cross-CPU (and a
//! same-CPU) eventfd wake of a blocked thread, and a tokio `AsyncFd` wake from another CPU. The goals (eventfd
//! throughput and CPU per job against busy-poll, idle CPU, depth-1 latency against the wake floor, CPU freed by
//! offloading) are checked against those floors at the end.
//!
//! Flags: `--quick` (the whole matrix in about a minute), `--json FILE`, `--plot FILE.svg`, `--backend emu|hw|cpu`
//! (default emu), `--device NAME[,NAME]` (hw: only these uacce devices, e.g. `hisi_zip-0,hisi_sec2-0`, and only the
//! jobs they serve), `--secs S` (measured seconds per cell), `--workers N` (tokio worker threads, default 1), and
//! filters `--modes a,b`, `--jobs a,b`, `--depths 1,16`, `--services none,fixed-10us,bw-2GB/s` for profiling one
//! corner.
//!
//! On the emulator the report ends with the mixed-workload cell (`mixed.rs`): AES-256-GCM and gzip, sizes
//! log-uniform 64 B..64 KiB, all on the device vs all on the CPU vs routed by the library's policy, with the goal
//! check of issue 16. `--mixed-only` runs just it, `--no-mixed` skips it, `--route-min aead=BYTES,…` sets the routed
//! strategy's thresholds.
//!
//! Then the public-key cells (`pkey.rs`, issue 14): RSA-2048 PKCS#1 v1.5 signatures and ECDH P-256 on the emulated
//! HPRE vs the CPU backend (aws-lc-rs), with the goal app CPU per RSA operation on the device path <= 5 % of the
//! CPU's. `--pkey-only` runs just them, `--no-pkey` skips them, `--pkey-ops rsa` or `ecdh` picks one, `--rsa-fault-check device` (default) or `cpu` the
//! device path's RSA fault check (`RsaFaultCheck`) (`--depths`
//! sets their depths too).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::future::Future;
use std::io::{IsTerminal, Write as _};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use hdrhistogram::Histogram;
use uacce::emu::{DeviceKind, EmuConfig, EmuDevice};
use uacce::sys::qm::sec::{self, CipherDir, DigestAlg, GcmRequest, SecOp, SecRequest};
use uacce::sys::qm::zip::{
    self, HwBuffers, QcType, ZipAlg, ZipMode, ZipOutcome, ZipRequest, ZipWindow,
};
use uacce::sys::qm::{DriverRing, QmVersion, Sqe};
use uacce_async::{
    Accel, AeadKey, Backend, Config, EmuOptions, Format, HashAlg, Nonce, NonceSequence, NotifyMode,
    Routing, ServiceModel,
};
use uacce_testkit::req;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

mod cpu_time;
mod floors;
mod goals;
mod jobs;
mod matrix;
mod measure;
mod mixed;
mod output;
mod pkey;
mod progress;
mod uadk;

use cpu_time::*;
use floors::*;
use goals::*;
use jobs::*;
use matrix::*;
use measure::*;
use mixed::*;
use output::*;
use pkey::*;
use progress::*;
use uadk::*;

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|x| x.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let n = std::thread::available_parallelism().map_or(1, |n| n.get());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let virt = if std::fs::read_to_string("/proc/cpuinfo").is_ok_and(|s| s.contains(" hypervisor"))
    {
        ", virtual machine"
    } else {
        ""
    };
    format!("{n} x {cpu}{virt}, Linux {}", kernel.trim())
}

fn main() {
    if let Err(e) = run() {
        eprintln!("polling-vs-interrupt: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), BoxError> {
    let args = parse_args()?;
    let started = Instant::now();
    let filter = |list: &Option<Vec<String>>, name: &str| {
        list.as_ref().is_none_or(|l| l.iter().any(|x| x == name))
    };

    let depths: Vec<usize> = args.depths.clone().unwrap_or_else(|| DEPTHS.to_vec());
    let mut jobs: Vec<Job> = Job::ALL
        .into_iter()
        .filter(|j| filter(&args.jobs, j.name()))
        .filter(|j| args.backend == BackendArg::Emu || *j != Job::Null)
        .collect();
    let services: Vec<Service> = match args.backend {
        BackendArg::Emu => Service::EMULATED
            .into_iter()
            .filter(|s| filter(&args.services, s.name()))
            .collect(),
        _ => vec![Service::NotApplicable],
    };
    // (runner, does it use the device's service model)
    let mut runners: Vec<Runner> = match args.backend {
        BackendArg::Cpu => vec![Runner::CpuBackend],
        _ => NotifyMode::ALL.into_iter().map(Runner::Mode).collect(),
    };
    if args.backend == BackendArg::Emu {
        runners.push(Runner::Uadk);
    }
    runners.push(Runner::Inline);
    runners.push(Runner::SpawnBlocking);
    runners.retain(|r| filter(&args.modes, r.name()));
    if args.mixed_only || args.pkey_only {
        runners.clear();
    }

    if args.backend == BackendArg::Hw {
        let sysfs = uacce::sys::sysfs::Sysfs::new();
        let devs = sysfs
            .devices()
            .map_err(|e| format!("--backend hw: no uacce devices on this machine: {e}"))?;
        if devs.is_empty() {
            return Err("--backend hw: /sys/class/uacce has no devices on this machine".into());
        }
        if let Some(names) = &args.device {
            // Which kinds of job the named devices serve: a probe accelerator restricted to them (an unknown or
            // unusable device fails here, with the reason). The rest of the jobs are left out of the matrix.
            let (zip, sec) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?
                .block_on(async {
                    let probe = Accel::builder()
                        .backend(Backend::Auto)
                        .devices(names.clone())
                        .queues_per_device(1)
                        .build()
                        .await?;
                    Ok::<_, uacce_async::Error>((
                        probe.compression_offloaded(),
                        probe.crypto_offloaded(),
                    ))
                })
                .map_err(|e| format!("--device {}: {e}", names.join(",")))?;
            let (kept, left): (Vec<Job>, Vec<Job>) =
                jobs.iter().partition(|j| job_served(**j, zip, sec));
            if !left.is_empty() {
                let left: Vec<_> = left.iter().map(|j| j.name()).collect();
                println!(
                    "--device {}: leaving out {} (not served by these devices)",
                    names.join(","),
                    left.join(", ")
                );
            }
            if kept.is_empty() {
                return Err(format!(
                    "--device {}: serves none of the selected jobs",
                    names.join(",")
                )
                .into());
            }
            jobs = kept;
        }
    } else if args.device.is_some() {
        return Err("--device applies to --backend hw only".into());
    }

    let device_services = |r: Runner| matches!(r, Runner::Mode(_) | Runner::Uadk);
    let total: usize = runners
        .iter()
        .map(|r| {
            let s = if device_services(*r) {
                services.len()
            } else {
                1
            };
            s * jobs.len() * depths.len()
        })
        .sum();

    println!("polling-vs-interrupt: {}", machine());
    println!(
        "backend {:?}, {} tokio worker thread(s), {:.2} s per cell{}",
        args.backend,
        args.workers,
        args.secs,
        if args.quick { " (--quick)" } else { "" }
    );

    // Floors first, while nothing else of ours runs.
    let mut floors: Vec<(&'static str, f64)> = Vec::new();
    let ncpu = std::thread::available_parallelism().map_or(1, |n| n.get());
    if !args.no_floors {
        let shots = if args.quick { 400 } else { 2000 };
        if ncpu >= 2 {
            floors.push((
                "busy_poll_handoff_one_way",
                floor_handoff(if args.quick { 20_000 } else { 200_000 }) / 1e3,
            ));
            floors.push(("eventfd_wake_cross_cpu", floor_eventfd_wake(1, shots)));
        }
        floors.push(("eventfd_wake_same_cpu", floor_eventfd_wake(0, shots)));
        if ncpu >= 2 {
            floors.push(("asyncfd_wake_cross_cpu", floor_asyncfd_wake(shots)));
        }
        unpin();
        println!("\nfloors of this machine:");
        for (n, v) in &floors {
            if *n == "busy_poll_handoff_one_way" {
                println!("  {n:<28} {:>8.0} ns", v * 1e3);
            } else {
                println!("  {n:<28} {v:>8.1} µs");
            }
        }
    }

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.workers)
        .thread_name("bench-rt")
        .enable_all()
        .build()?;
    let warm = Duration::from_secs_f64((args.secs / 4.0).clamp(0.02, 0.25));
    let idle_secs = 1.0;
    let mut progress = Progress {
        total,
        done: 0,
        start: Instant::now(),
        tty: std::io::stderr().is_terminal(),
    };
    let mut cells: Vec<Cell> = Vec::new();
    let mut idle: Vec<(String, f64)> = Vec::new();

    let inputs: HashMap<Job, Bytes> = Job::ALL.iter().map(|j| (*j, sample(j.bytes()))).collect();
    let key = AeadKey::new(&KEY)?;

    rt.block_on(async {
        for &runner in &runners {
            let svc_list: Vec<Service> = if device_services(runner) {
                services.clone()
            } else {
                vec![Service::NotApplicable]
            };
            for (si, &service) in svc_list.iter().enumerate() {
                // Set up what the runner needs, and measure idle CPU once per runner.
                let accel = match runner {
                    Runner::Mode(mode) => {
                        let mut cfg = Config::default();
                        cfg.backend = match args.backend {
                            // Named devices may serve one kind of job only: Auto then leaves the other kind to
                            // the CPU, and the matrix holds only the jobs they serve (checked below).
                            BackendArg::Hw if args.device.is_some() => Backend::Auto,
                            BackendArg::Hw => Backend::Hardware,
                            _ => Backend::Emulated,
                        };
                        cfg.mode = mode;
                        cfg.queues_per_device = 1;
                        cfg.devices = args.device.clone();
                        // The matrix measures the device path: no job goes to the CPU by size.
                        cfg.routing = Routing::device_only();
                        cfg.emu = EmuOptions::default()
                            .service(service.model())
                            .version(QmVersion::V3);
                        let accel = Accel::with_config(cfg)
                            .await
                            .map_err(|e| format!("{}: {e}", runner.name()))?;
                        let (zip, sec) = (accel.compression_offloaded(), accel.crypto_offloaded());
                        if let Some(j) = jobs.iter().find(|j| !job_served(**j, zip, sec)) {
                            return Err(format!(
                                "{}: {} jobs would run on the CPU, not on the devices ({})",
                                runner.name(),
                                j.name(),
                                accel.description()
                            )
                            .into());
                        }
                        Some(accel)
                    }
                    Runner::CpuBackend => Some(
                        Accel::builder()
                            .backend(Backend::Cpu)
                            .cpu_level(1)
                            .build()
                            .await?,
                    ),
                    _ => None,
                };
                let uadk = if runner == Runner::Uadk {
                    Some(Arc::new(Uadk::new(service.model())?))
                } else {
                    None
                };
                if si == 0 && matches!(runner, Runner::Mode(_) | Runner::Uadk) {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    let c0 = cpu_snapshot();
                    let t0 = Instant::now();
                    std::thread::sleep(Duration::from_secs_f64(idle_secs));
                    let (app, _) = cpu_delta(&c0, &cpu_snapshot());
                    let pct = app as f64 / 1e9 / t0.elapsed().as_secs_f64() * 100.0;
                    idle.push((runner.name().to_string(), pct));
                }
                for &job in &jobs {
                    let data = inputs[&job].clone();
                    for &depth in &depths {
                        let what = format!(
                            "{} d{depth} {} {}",
                            runner.name(),
                            job.name(),
                            service.name()
                        );
                        let m = match runner {
                            Runner::Mode(_) | Runner::CpuBackend => {
                                let (a, k, d) =
                                    (accel.clone().expect("accel"), key.clone(), data.clone());
                                measure(depth, warm, args.secs, move || {
                                    let (a, k, d) = (a.clone(), k.clone(), d.clone());
                                    async move { accel_job(&a, &k, job, &d).await }
                                })
                                .await
                            }
                            Runner::Uadk => {
                                let (u, d) = (uadk.clone().expect("uadk"), data.clone());
                                measure(depth, warm, args.secs, move || {
                                    let (u, d) = (u.clone(), d.clone());
                                    async move { u.run(job, &d).await }
                                })
                                .await
                            }
                            Runner::Inline => {
                                let d = data.clone();
                                measure(depth, warm, args.secs, move || {
                                    let d = d.clone();
                                    async move {
                                        std::hint::black_box(cpu_job(job, &d));
                                        // Let the other tasks (and the runtime's drivers) have the thread.
                                        tokio::task::yield_now().await;
                                        Ok(())
                                    }
                                })
                                .await
                            }
                            Runner::SpawnBlocking => {
                                let d = data.clone();
                                measure(depth, warm, args.secs, move || {
                                    let d = d.clone();
                                    async move {
                                        tokio::task::spawn_blocking(move || {
                                            std::hint::black_box(cpu_job(job, &d));
                                        })
                                        .await?;
                                        Ok(())
                                    }
                                })
                                .await
                            }
                        }
                        .map_err(|e| format!("{what}: {e}"))?;
                        cells.push(cell(runner, depth, job, service, &m));
                        progress.step(&what);
                    }
                }
                drop(accel);
                drop(uadk);
            }
        }
        Ok::<_, BoxError>(())
    })?;
    progress.finish();

    // The mixed-workload cell (emulator only: it compares the device with the CPU).
    let mixed = if args.mixed && !args.pkey_only && args.backend == BackendArg::Emu {
        let (depths, secs, rounds) = if args.quick {
            (vec![1, 16], args.secs.max(0.5), 3)
        } else {
            (vec![1, 16, 64], args.secs.max(1.0), 3)
        };
        eprintln!("mixed workload: 3 strategies x {depths:?} x {rounds} rounds of {secs:.1} s");
        rt.block_on(mixed_cells(&depths, warm, secs, rounds, &args.route_min))?
    } else {
        Vec::new()
    };

    // The public-key cells (emulator only: device vs CPU backend).
    let pkey = if args.pkey && !args.mixed_only && args.backend == BackendArg::Emu {
        let (depths, secs, rounds) = if args.quick {
            (vec![1, 16], args.secs.max(1.0), 3)
        } else {
            (vec![1, 16, 64], args.secs.max(2.0), 3)
        };
        let depths = args.depths.clone().unwrap_or(depths);
        let ops = &args.pkey_ops;
        eprintln!(
            "public key: {ops:?} x device and cpu x {depths:?} x {rounds} rounds of {secs:.1} s"
        );
        rt.block_on(pkey_cells(
            ops,
            &depths,
            warm,
            secs,
            rounds,
            args.rsa_fault_check,
        ))?
    } else {
        Vec::new()
    };

    let mut report = Report {
        cells,
        idle,
        floors,
        goals: Vec::new(),
        pkey: Vec::new(),
    };
    report.goals = goals(&report);
    let mixed_goals = if mixed.is_empty() {
        Vec::new()
    } else {
        print_mixed(&mixed)
    };
    report.goals.extend(mixed_goals);
    if !pkey.is_empty() {
        report.goals.extend(print_pkey(&pkey));
    }
    report.pkey = pkey;

    // Table: by job and service, then runner, then depth.
    let mut sorted = report.cells.clone();
    let svc_rank = |s: Service| match s {
        Service::None => 0,
        Service::Fixed10us => 1,
        Service::Bw2GBs => 2,
        Service::NotApplicable => 3,
    };
    let job_rank = |j: Job| Job::ALL.iter().position(|x| *x == j).unwrap_or(9);
    let runner_rank = |r: &str| runners.iter().position(|x| x.name() == r).unwrap_or(99);
    // Baselines without a service model sit with the "none" rows of their job.
    sorted.sort_by_key(|c| {
        let s = if c.service == Service::NotApplicable {
            0
        } else {
            svc_rank(c.service)
        };
        (job_rank(c.job), s, runner_rank(&c.runner), c.depth)
    });
    println!();
    print_table(&sorted);

    println!(
        "\nidle CPU of the application's threads, queues open, nothing submitted ({idle_secs:.0} s):"
    );
    for (m, p) in &report.idle {
        println!("  {m:<17} {p:>7.2} % of a core");
    }
    if !report.floors.is_empty() {
        println!(
            "\nfloors: {}",
            report
                .floors
                .iter()
                .map(|(n, v)| if *n == "busy_poll_handoff_one_way" {
                    format!("{n} {:.0} ns", v * 1e3)
                } else {
                    format!("{n} {v:.1} µs")
                })
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    println!(
        "\ngoals (throughput, CPU per job, idle CPU and latency against the floors; service none):"
    );
    for g in &report.goals {
        let v = match g.holds {
            Some(true) => "HOLDS",
            Some(false) => "FAILS",
            None => "n/a",
        };
        println!("  [{v:<5}] {}: {}", g.name, g.detail.trim_end_matches("; "));
    }
    println!(
        "\n{} cells in {:.1} s",
        report.cells.len(),
        started.elapsed().as_secs_f64()
    );

    let meta = format!(
        "{{\"machine\": {}, \"backend\": {}, \"devices\": {}, \"workers\": {}, \"secs_per_cell\": {}, \"quick\": {}}}",
        json_str(&machine()),
        json_str(&format!("{:?}", args.backend).to_lowercase()),
        match &args.device {
            Some(d) => json_str(&d.join(",")),
            None => "null".to_string(),
        },
        args.workers,
        args.secs,
        args.quick
    );
    if let Some(p) = &args.json {
        write_json(p, &report, &meta)?;
        println!("wrote {p}");
    }
    if let Some(p) = &args.plot {
        plot(
            p,
            &report.cells,
            &format!("polling vs interrupt — {} (service: none)", machine()),
        )?;
        println!("wrote {p}");
    }
    Ok(())
}
