//! The main job: pick real uacce devices (or the in-process emulated device, and say why), then, for every
//! completion strategy ([`NotifyMode::ALL`]), run a fixed workload through the awaitable API of `uacce-async` with
//! 32 concurrent tasks — gzip compress and decompress of 64 KiB of JSON-like text, AES-256-GCM seal and open of
//! 4 KiB, SHA-256 of 4 KiB (and null jobs on the emulator) — check every result against the CPU backend, and print
//! throughput and latency percentiles per mode and job. Then one public-key round on the HPRE engine: an ECDSA
//! P-256 signature (RFC 6979) and its verification, and an ECDH P-256 agreement, checked against the CPU backend.
//!
//! `cargo run --release --example tour` (`UACCE_BACKEND=emu|hw|cpu|auto` overrides the choice of backend).
//! Any mismatch or failed job makes it exit non-zero. `examples/sync_tour.rs` shows the same jobs without a runtime.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use uacce::aio::{
    Accel, AeadKey, Backend, EcCurve, EcPrivateKey, Error, Format, HashAlg, JobKind, Nonce,
    NonceSequence, NotifyMode,
};

/// Concurrent tasks per phase.
const TASKS: u64 = 32;
/// How long each phase submits new jobs.
const PHASE: Duration = Duration::from_millis(300);
/// AAD of the AES-GCM jobs.
const AAD: &[u8] = b"uacce-rs tour";

/// A group of jobs that run together: each task loops over the phase's steps until the phase ends.
#[derive(Debug, Clone, Copy)]
enum Phase {
    Gzip,
    Gcm,
    Sha,
    Nop,
}

impl Phase {
    /// The job kinds a phase measures, in the order its steps run.
    fn kinds(self) -> &'static [&'static str] {
        match self {
            Phase::Gzip => &["gzip compress 64 KiB", "gzip decompress 64 KiB"],
            Phase::Gcm => &["aes-256-gcm seal 4 KiB", "aes-256-gcm open 4 KiB"],
            Phase::Sha => &["sha-256 4 KiB"],
            Phase::Nop => &["nop (ring only)"],
        }
    }
}

/// The fixed inputs, and the references computed once on the CPU backend.
struct Work {
    text: Bytes,
    small: Bytes,
    key: AeadKey,
    /// The fixed field of the next task's nonce sequence: every task of every mode seals under `key` with nonces
    /// of its own.
    senders: AtomicU32,
    sha256: Vec<u8>,
}

/// What one task (or one phase, merged) saw.
#[derive(Default)]
struct Tally {
    /// Latencies in nanoseconds, per kind of the phase.
    lat: [Vec<u64>; 2],
    mismatches: u64,
    errors: u64,
    first_problem: Option<String>,
}

impl Tally {
    fn note(&mut self, problem: String) {
        self.first_problem.get_or_insert(problem);
    }

    fn merge(&mut self, other: Tally) {
        for (a, b) in self.lat.iter_mut().zip(other.lat) {
            a.extend(b);
        }
        self.mismatches += other.mismatches;
        self.errors += other.errors;
        if let Some(p) = other.first_problem {
            self.note(p);
        }
    }
}

/// Why a step stopped short.
enum Problem {
    /// The accelerator returned an error (the task stops: a stuck queue would only repeat it).
    Failed(String),
    /// A result differs from the CPU reference (counted; the task goes on).
    Mismatch(String),
}

impl From<Error> for Problem {
    fn from(e: Error) -> Self {
        Problem::Failed(e.to_string())
    }
}

fn check(ok: bool, what: impl FnOnce() -> String) -> Result<(), Problem> {
    if ok {
        Ok(())
    } else {
        Err(Problem::Mismatch(what()))
    }
}

/// Run `f` and record its latency under kind `k`.
async fn timed<T>(
    tally: &mut Tally,
    k: usize,
    f: impl Future<Output = Result<T, Error>>,
) -> Result<T, Problem> {
    let t = Instant::now();
    let out = f.await?;
    tally.lat[k].push(t.elapsed().as_nanos() as u64);
    Ok(out)
}

/// One round of a phase's steps.
async fn step(
    phase: Phase,
    accel: &Accel,
    cpu: &Accel,
    w: &Work,
    nonce: Nonce,
    tally: &mut Tally,
) -> Result<(), Problem> {
    match phase {
        Phase::Gzip => {
            let gz = timed(tally, 0, accel.compress(Format::Gzip, w.text.clone())).await?;
            // The stream must decode on the CPU backend (an independent decoder) to the input.
            match cpu.decompress(Format::Gzip, gz.clone()).await {
                Ok(d) => check(d == w.text, || "gzip stream decodes to other data".into())?,
                Err(e) => return Err(Problem::Mismatch(format!("gzip stream rejected: {e}"))),
            }
            let back = timed(tally, 1, accel.decompress(Format::Gzip, gz)).await?;
            check(back == w.text, || "gzip decompress: wrong output".into())
        }
        Phase::Gcm => {
            let n = *nonce.as_bytes();
            let sealed = timed(
                tally,
                0,
                accel.aes_gcm_seal(&w.key, nonce, AAD, w.small.clone()),
            )
            .await?;
            // The CPU backend (an independent implementation) must open it to the plaintext.
            match cpu.aes_gcm_open(&w.key, &n, AAD, sealed.clone()).await {
                Ok(p) => check(p == w.small, || "aes-gcm seal: CPU opens other data".into())?,
                Err(e) => return Err(Problem::Mismatch(format!("aes-gcm seal rejected: {e}"))),
            }
            let opened = timed(tally, 1, accel.aes_gcm_open(&w.key, &n, AAD, sealed)).await?;
            check(opened == w.small, || "aes-gcm open: wrong plaintext".into())
        }
        Phase::Sha => {
            let d = timed(tally, 0, accel.digest(HashAlg::Sha256, w.small.clone())).await?;
            check(d == w.sha256, || "sha-256: wrong digest".into())
        }
        Phase::Nop => timed(tally, 0, accel.nop()).await,
    }
}

/// One task of a phase: loop until `until`.
async fn worker(phase: Phase, accel: Accel, cpu: Accel, w: Arc<Work>, until: Instant) -> Tally {
    let mut tally = Tally::default();
    // A fresh nonce for every seal: one counter sequence per task, a fixed field no other task has.
    let mut nonces = NonceSequence::new(w.senders.fetch_add(1, Ordering::Relaxed).to_be_bytes());
    while Instant::now() < until {
        let nonce = match nonces.advance() {
            Ok(n) => n,
            Err(e) => {
                tally.note(e.to_string());
                break;
            }
        };
        match step(phase, &accel, &cpu, &w, nonce, &mut tally).await {
            Ok(()) => {}
            Err(Problem::Mismatch(m)) => {
                tally.mismatches += 1;
                tally.note(m);
            }
            Err(Problem::Failed(e)) => {
                tally.errors += 1;
                tally.note(e);
                break;
            }
        }
    }
    tally
}

/// Run `phase` with `TASKS` tasks for `PHASE`; returns the merged tally and the wall time.
async fn run_phase(phase: Phase, accel: &Accel, cpu: &Accel, w: &Arc<Work>) -> (Tally, Duration) {
    let start = Instant::now();
    let until = start + PHASE;
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| tokio::spawn(worker(phase, accel.clone(), cpu.clone(), w.clone(), until)))
        .collect();
    let mut all = Tally::default();
    for t in tasks {
        match t.await {
            Ok(tally) => all.merge(tally),
            Err(e) => {
                all.errors += 1;
                all.note(format!("task panicked: {e}"));
            }
        }
    }
    (all, start.elapsed())
}

/// Nearest-rank percentile of sorted nanoseconds, in microseconds.
fn percentile_us(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1] as f64 / 1e3
}

/// About `len` bytes of JSON lines.
fn sample(len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 64);
    let mut i = 0u64;
    while out.len() < len {
        out.extend_from_slice(
            format!(
                "{{\"id\":{i},\"name\":\"item-{}\",\"price\":{}.{:02},\"ok\":{}}}\n",
                i * 7919 % 1000,
                i * 31 % 500,
                i * 17 % 100,
                !i.is_multiple_of(3)
            )
            .as_bytes(),
        );
        i += 1;
    }
    out.truncate(len);
    out
}

/// `UACCE_BACKEND` if set, else real devices if an `Accel` on them builds, else the emulator; and why.
async fn choose_backend() -> Result<(Backend, String), Error> {
    if let Ok(v) = std::env::var("UACCE_BACKEND") {
        return Ok((Backend::from_env()?, format!("UACCE_BACKEND={v}")));
    }
    match Accel::builder().backend(Backend::Hardware).build().await {
        Ok(_) => Ok((
            Backend::Hardware,
            "uacce ZIP and SEC devices are present".into(),
        )),
        Err(e) => Ok((Backend::Emulated, format!("no real devices: {e}"))),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tour: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let started = Instant::now();
    let (backend, why) = choose_backend().await?;
    let probe = Accel::builder().backend(backend).build().await?;
    println!("uacce-rs tour: using {}", probe.description());
    println!("  because: {why}");
    drop(probe);

    let cpu = Accel::builder().backend(Backend::Cpu).build().await?;
    let text = Bytes::from(sample(64 << 10));
    let small = text.slice(1000..1000 + 4096);
    let w = Arc::new(Work {
        sha256: cpu.digest(HashAlg::Sha256, small.clone()).await?,
        key: AeadKey::new(&[0x42; 32])?,
        senders: AtomicU32::new(0),
        text,
        small,
    });
    println!(
        "{TASKS} concurrent tasks per job group for {} ms; latency is submit to result with up to {TASKS} jobs in \
         flight; every result is checked against the CPU backend\n",
        PHASE.as_millis()
    );
    println!(
        "{:<10} {:<24} {:>8} {:>10} {:>9} {:>9}",
        "mode", "job", "jobs", "jobs/s", "p50 µs", "p99 µs"
    );

    let (mut mismatches, mut errors, mut skipped) = (0, 0, Vec::new());
    for mode in NotifyMode::ALL {
        let accel = match Accel::builder().backend(backend).mode(mode).build().await {
            Ok(a) => a,
            Err(e) => {
                println!("{:<10} not available here: {e}", mode.name());
                skipped.push(mode.name());
                continue;
            }
        };
        let mut phases = vec![Phase::Gzip, Phase::Gcm, Phase::Sha];
        if backend == Backend::Emulated {
            phases.push(Phase::Nop);
        }
        for phase in phases {
            let (mut tally, wall) = run_phase(phase, &accel, &cpu, &w).await;
            for (k, name) in phase.kinds().iter().enumerate() {
                let lat = &mut tally.lat[k];
                lat.sort_unstable();
                println!(
                    "{:<10} {name:<24} {:>8} {:>10.0} {:>9.1} {:>9.1}",
                    mode.name(),
                    lat.len(),
                    lat.len() as f64 / wall.as_secs_f64(),
                    percentile_us(lat, 50.0),
                    percentile_us(lat, 99.0)
                );
            }
            if tally.mismatches + tally.errors > 0 {
                println!(
                    "{:<10} !! {} mismatch(es), {} failed job(s); first: {}",
                    mode.name(),
                    tally.mismatches,
                    tally.errors,
                    tally.first_problem.as_deref().unwrap_or("?")
                );
            }
            mismatches += tally.mismatches;
            errors += tally.errors;
        }
        // Where the jobs went (`Accel::stats`): jobs below a family's size threshold run inline on the CPU.
        let t = accel.stats().total();
        println!(
            "{:<10} {} jobs: {} on a device, {} on the CPU ({} small, {} unfit, {} redone after a device failure)",
            mode.name(),
            t.completed,
            t.on_device,
            t.on_cpu.total(),
            t.on_cpu.small,
            t.on_cpu.unfit,
            t.on_cpu.backup
        );
        println!();
    }

    // Public-key jobs (the HPRE engine; ECC needs a QM v3 device, else they run on the CPU): an ECDSA P-256
    // signature (deterministic, RFC 6979, so the CPU backend must make the same bytes), its verification, and an
    // ECDH P-256 agreement.
    let mut accel = Accel::builder().backend(backend).build().await?;
    if backend == Backend::Hardware && !accel.offloaded(JobKind::Ecc) {
        // Backend::Hardware fails ECC jobs without a QM v3 hisi_hpre device: run them as Backend::Auto would.
        println!(
            "public key: no QM v3 hisi_hpre device; ECC runs under Backend::Auto (on the CPU)"
        );
        accel = Accel::builder().backend(Backend::Auto).build().await?;
    }
    let key = EcPrivateKey::generate(EcCurve::P256);
    let peer = EcPrivateKey::generate(EcCurve::P256);
    let msg = b"uacce-rs tour: signed on the HPRE";
    let t = Instant::now();
    let sig = accel.ecdsa_sign(&key, msg).await?;
    accel.ecdsa_verify(key.public_key(), msg, &sig).await?;
    let z = accel.ecdh(&key, peer.public_key()).await?;
    let took = t.elapsed();
    let same = sig == cpu.ecdsa_sign(&key, msg).await?
        && *z == *cpu.ecdh(&peer, key.public_key()).await?
        && cpu.ecdsa_verify(key.public_key(), msg, &sig).await.is_ok();
    println!(
        "public key: ECDSA P-256 sign + verify and ECDH P-256 in {:.2} ms ({} jobs on a device): {}",
        took.as_secs_f64() * 1e3,
        accel.stats().total().on_device,
        if same {
            "match the CPU backend"
        } else {
            "MISMATCH"
        }
    );
    if !same {
        mismatches += 1;
    }

    println!("finished in {:.1} s", started.elapsed().as_secs_f64());
    if !skipped.is_empty() {
        println!("modes not available here: {}", skipped.join(", "));
    }
    if mismatches + errors > 0 {
        return Err(format!(
            "{mismatches} result(s) differ from the CPU backend, {errors} job(s) failed"
        )
        .into());
    }
    println!("all results match the CPU backend");
    Ok(())
}
