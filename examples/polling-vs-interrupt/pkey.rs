//! The public-key cells (issue 14): RSA-2048 signatures (PKCS#1 v1.5, SHA-256, a 64-byte message) and ECDH P-256
//! (the shared x of a fixed key pair) on the emulated HPRE (`Routing::device_only`, eventfd, QM v3) against the CPU
//! backend (aws-lc-rs), at a few depths. The goal (RSA): app CPU per private-key operation on the device path <= 5 %
//! of the CPU backend's (the emulator's device threads, which play the HPRE, excluded as for every other job; the
//! CPU backend's pool threads counted). ECDH is reported without a goal. With RSA the report also measures RSA-2048
//! verification on the CPU backend (aws-lc-rs): the same computation as the device path's fault check, so its CPU
//! per op is (with the CPU pool's hand-off on top) a floor under the device path's figure with
//! `--rsa-fault-check cpu`. With the library's default, `RsaFaultCheck::Device`, the check is a second HPRE request
//! of the same job and costs the application only that request's submission and completion. Each cell also counts
//! how often an application thread was switched in per op ("wakes/op"), and before the cells the report measures
//! this machine's application CPU per sleep and wake-up with no work ([`wake_cpu_floor`]): at depth 1 an op costs
//! at least that once per completion it waits for, which the goal lines print.

use super::*;
use uacce_async::{EcCurve, EcPrivateKey, Family, RsaFaultCheck, RsaHash, RsaPrivateKey};

/// The test key `openssl genpkey` made for the RSA tests.
const KEY_PEM: &str = include_str!("../../uacce-async/tests/vectors/rsa/key2048.pem");

/// The operation a cell measures.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum PkeyOp {
    RsaSign,
    /// CPU backend only: the floor of the fault check.
    RsaVerify,
    EcdhP256,
}

impl PkeyOp {
    pub(crate) const ALL: [PkeyOp; 2] = [PkeyOp::RsaSign, PkeyOp::EcdhP256];

    pub(crate) fn name(self) -> &'static str {
        match self {
            PkeyOp::RsaSign => "rsa-2048 sign",
            PkeyOp::RsaVerify => "rsa-2048 verify",
            PkeyOp::EcdhP256 => "ecdh p-256",
        }
    }

    fn title(self) -> &'static str {
        match self {
            PkeyOp::RsaSign => "RSA-2048 sign (PKCS#1 v1.5, SHA-256, 64-byte message)",
            PkeyOp::RsaVerify => {
                "RSA-2048 verify on the CPU backend (the fault check's computation: its floor)"
            }
            PkeyOp::EcdhP256 => {
                "ECDH P-256 (shared x; on the device one point multiply, SQE alg 0x0D)"
            }
        }
    }
}

#[derive(Clone)]
pub(crate) struct PkeyCell {
    pub(crate) op: PkeyOp,
    pub(crate) device: bool,
    pub(crate) depth: usize,
    pub(crate) ops_per_s: f64,
    pub(crate) p50_us: f64,
    pub(crate) p99_us: f64,
    pub(crate) app_cpu_us_per_op: f64,
    /// The same, less the application's idle CPU (this accelerator open, nothing submitted, measured for 1 s just
    /// before) over the cell's duration.
    pub(crate) net_app_cpu_us_per_op: f64,
    /// The emulator's device threads (the HPRE's work; excluded from the app figures).
    pub(crate) dev_cpu_us_per_op: f64,
    /// Threads of neither class (expected 0: the check that no application thread goes uncounted).
    pub(crate) other_cpu_us_per_op: f64,
    /// Share of the operations whose result came from a device.
    pub(crate) on_device: f64,
    /// The device path's RSA fault check (`--rsa-fault-check`).
    pub(crate) fault_check: RsaFaultCheck,
    /// Times an application thread was switched in, per operation: its sleeps and wake-ups.
    pub(crate) switches_per_op: f64,
    /// This machine's application CPU per sleep and wake-up ([`wake_cpu_floor`]), measured before the cells.
    pub(crate) wake_floor_us: f64,
}

impl PkeyCell {
    pub(crate) fn path(&self) -> &'static str {
        if self.device {
            "device"
        } else {
            "cpu (aws-lc-rs)"
        }
    }
}

async fn accel_for(device: bool, fault_check: RsaFaultCheck) -> Result<Accel, BoxError> {
    let mut cfg = Config::default();
    cfg.mode = NotifyMode::Eventfd;
    cfg.rsa_fault_check = fault_check;
    if device {
        cfg.backend = Backend::Emulated;
        cfg.routing = Routing::device_only();
    } else {
        cfg.backend = Backend::Cpu;
    }
    Ok(Accel::with_config(cfg).await?)
}

/// The keys and message the cells use.
struct Material {
    rsa: RsaPrivateKey,
    msg: Bytes,
    sig: Bytes,
    ec: EcPrivateKey,
    peer: EcPrivateKey,
}

/// One operation made and checked outside the measurement: the path works end to end.
async fn check_once(accel: &Accel, op: PkeyOp, m: &Material) -> Result<(), BoxError> {
    match op {
        PkeyOp::RsaSign | PkeyOp::RsaVerify => {
            let s = accel
                .rsa_sign_pkcs1v15(&m.rsa, RsaHash::Sha256, &m.msg)
                .await?;
            accel
                .rsa_verify_pkcs1v15(&m.rsa.public_key(), RsaHash::Sha256, &m.msg, &s)
                .await?;
        }
        PkeyOp::EcdhP256 => {
            let a = accel.ecdh(&m.ec, m.peer.public_key()).await?;
            let b = accel.ecdh(&m.peer, m.ec.public_key()).await?;
            if *a != *b {
                return Err("ECDH P-256: the two sides disagree".into());
            }
        }
    }
    Ok(())
}

async fn measure_op(
    accel: &Accel,
    op: PkeyOp,
    m: &Material,
    depth: usize,
    warm: Duration,
    secs: f64,
) -> Result<Measured, BoxError> {
    match op {
        PkeyOp::RsaSign => {
            let (a, k, msg) = (accel.clone(), m.rsa.clone(), m.msg.clone());
            measure(depth, warm, secs, move || {
                let (a, k, msg) = (a.clone(), k.clone(), msg.clone());
                async move {
                    a.rsa_sign_pkcs1v15(&k, RsaHash::Sha256, &msg).await?;
                    Ok(())
                }
            })
            .await
        }
        PkeyOp::RsaVerify => {
            let (a, k, msg, sig) = (
                accel.clone(),
                m.rsa.public_key(),
                m.msg.clone(),
                m.sig.clone(),
            );
            measure(depth, warm, secs, move || {
                let (a, k, msg, sig) = (a.clone(), k.clone(), msg.clone(), sig.clone());
                async move {
                    a.rsa_verify_pkcs1v15(&k, RsaHash::Sha256, &msg, &sig)
                        .await?;
                    Ok(())
                }
            })
            .await
        }
        PkeyOp::EcdhP256 => {
            let (a, k, peer) = (accel.clone(), m.ec.clone(), m.peer.public_key().clone());
            measure(depth, warm, secs, move || {
                let (a, k, peer) = (a.clone(), k.clone(), peer.clone());
                async move {
                    a.ecdh(&k, &peer).await?;
                    Ok(())
                }
            })
            .await
        }
    }
}

/// This machine's application CPU per sleep and wake-up, the floor under an operation's cost at depth 1: a task of
/// the bench runtime asleep on an `AsyncFd` (an eventfd, as a lane's driver task is) is woken by a write from
/// another thread every millisecond (as a device operation of that length would); the runtime's CPU per wake-up,
/// with no job work at all. An operation at depth 1 costs at least this once per completion it waits for (RSA
/// signatures with the device's fault check wait for two).
async fn wake_cpu_floor(shots: u64) -> Result<f64, BoxError> {
    use tokio::io::Interest;
    use tokio::io::unix::AsyncFd;
    const WARM: u64 = 50;
    let efd = nix::sys::eventfd::EventFd::from_value_and_flags(
        0,
        nix::sys::eventfd::EfdFlags::EFD_CLOEXEC | nix::sys::eventfd::EfdFlags::EFD_NONBLOCK,
    )?;
    let wfd: OwnedFd = efd.as_fd().try_clone_to_owned()?;
    // SAFETY: the AsyncFd owns the eventfd for its whole life.
    let afd = unsafe { AsyncFd::register_with_interest(efd, Interest::READABLE) }
        .map_err(|e| e.into_parts().1)?;
    let stop = Arc::new(AtomicBool::new(false));
    let s2 = stop.clone();
    // Not an application thread (its name classifies as "other"): it plays the device.
    let ringer = std::thread::Builder::new()
        .name("floor-ringer".into())
        .spawn(move || {
            while !s2.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(1));
                let _ = nix::unistd::write(&wfd, &1u64.to_ne_bytes());
            }
        })?;
    let task = tokio::spawn(async move {
        let mut c0 = None;
        for n in 0..WARM + shots {
            if n == WARM {
                c0 = Some(cpu_snapshot());
            }
            let mut g = afd.readable().await?;
            let _ = g.get_inner().read();
            g.clear_ready();
        }
        let c0 = c0.ok_or("no shots")?;
        Ok::<_, BoxError>(cpu_delta(&c0, &cpu_snapshot()).0 as f64 / 1e3 / shots as f64)
    });
    let r = task.await.map_err(|e| format!("wake floor task: {e}"));
    stop.store(true, Ordering::Relaxed);
    let _ = ringer.join();
    r?
}

/// Each op of `ops`, device and CPU at each of `depths`, interleaved `rounds` times (the median cell by app CPU
/// kept).
pub(crate) async fn pkey_cells(
    ops: &[PkeyOp],
    depths: &[usize],
    warm: Duration,
    secs: f64,
    rounds: usize,
    fault_check: RsaFaultCheck,
) -> Result<Vec<PkeyCell>, BoxError> {
    let rsa = RsaPrivateKey::from_pem(KEY_PEM)?;
    let msg = Bytes::from(sample(64).to_vec());
    let sig = accel_for(false, fault_check)
        .await?
        .rsa_sign_pkcs1v15(&rsa, RsaHash::Sha256, &msg)
        .await?
        .into();
    let m = Material {
        rsa,
        msg,
        sig,
        ec: EcPrivateKey::generate(EcCurve::P256),
        peer: EcPrivateKey::generate(EcCurve::P256),
    };
    let wake_floor_us = wake_cpu_floor(1000).await?;
    let mut out = Vec::new();
    let mut all = ops.to_vec();
    if ops.contains(&PkeyOp::RsaSign) {
        all.insert(
            1 + all.iter().position(|&o| o == PkeyOp::RsaSign).unwrap_or(0),
            PkeyOp::RsaVerify,
        );
    }
    for &op in &all {
        let paths: &[bool] = if op == PkeyOp::RsaVerify {
            &[false]
        } else {
            &[true, false]
        };
        for &depth in depths {
            let mut runs: Vec<Vec<PkeyCell>> = vec![Vec::new(); 2];
            for _ in 0..rounds {
                for (i, &device) in paths.iter().enumerate() {
                    let accel = accel_for(device, fault_check).await?;
                    check_once(&accel, op, &m).await?;
                    // The idle CPU of the application's threads with this accelerator open.
                    let before = cpu_snapshot();
                    let t = Instant::now();
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    let idle_ns_per_s =
                        cpu_delta(&before, &cpu_snapshot()).0 as f64 / t.elapsed().as_secs_f64();
                    let meas = measure_op(&accel, op, &m, depth, warm, secs)
                        .await
                        .map_err(|e| {
                            format!(
                                "{} {} d{depth}: {e}",
                                op.name(),
                                if device { "device" } else { "cpu" }
                            )
                        })?;
                    let st = accel.stats();
                    let f = st.family(Family::Pkey);
                    let n = meas.jobs.max(1) as f64;
                    runs[i].push(PkeyCell {
                        op,
                        device,
                        depth,
                        ops_per_s: meas.jobs as f64 / meas.secs,
                        p50_us: meas.hist.value_at_quantile(0.5) as f64 / 1e3,
                        p99_us: meas.hist.value_at_quantile(0.99) as f64 / 1e3,
                        app_cpu_us_per_op: meas.app_ns as f64 / 1e3 / n,
                        net_app_cpu_us_per_op: (meas.app_ns as f64 - idle_ns_per_s * meas.secs)
                            .max(0.0)
                            / 1e3
                            / n,
                        dev_cpu_us_per_op: meas.dev_ns as f64 / 1e3 / n,
                        other_cpu_us_per_op: meas.other_ns as f64 / 1e3 / n,
                        on_device: f.on_device as f64 / f.completed.max(1) as f64,
                        fault_check,
                        switches_per_op: meas.app_switches as f64 / n,
                        wake_floor_us,
                    });
                    drop(accel);
                }
            }
            for mut r in runs.into_iter().filter(|r| !r.is_empty()) {
                r.sort_by(|a, b| a.app_cpu_us_per_op.total_cmp(&b.app_cpu_us_per_op));
                out.push(r[r.len() / 2].clone());
            }
        }
    }
    Ok(out)
}

/// Print the cells per op, and the RSA goal per depth.
pub(crate) fn print_pkey(all_cells: &[PkeyCell]) -> Vec<Goal> {
    let mut goals = Vec::new();
    for op in [PkeyOp::RsaSign, PkeyOp::RsaVerify, PkeyOp::EcdhP256] {
        let cells: Vec<&PkeyCell> = all_cells.iter().filter(|c| c.op == op).collect();
        if cells.is_empty() {
            continue;
        }
        println!(
            "\n{} (eventfd, emulated HPRE vs CPU backend; RSA fault check {:?}; median of rounds):",
            op.title(),
            cells[0].fault_check
        );
        println!(
            "  {:<16} {:>5} {:>9} {:>10} {:>10} {:>10} {:>11} {:>8} {:>10} {:>10} {:>8}",
            "path",
            "depth",
            "ops/s",
            "p50 µs",
            "p99 µs",
            "app µs/op",
            "net of idle",
            "% of cpu",
            "dev µs/op",
            "on device",
            "wakes/op"
        );
        for c in &cells {
            // RSA verify is compared with the CPU backend's sign, as the fault check it stands for.
            let cpu = all_cells
                .iter()
                .find(|x| {
                    let base = if op == PkeyOp::RsaVerify {
                        PkeyOp::RsaSign
                    } else {
                        op
                    };
                    x.op == base && !x.device && x.depth == c.depth
                })
                .map_or(f64::NAN, |x| x.app_cpu_us_per_op);
            println!(
                "  {:<16} {:>5} {:>9.0} {:>10.1} {:>10.1} {:>10.1} {:>11.1} {:>7.1}% {:>10.1} {:>9.0}% {:>8.2}",
                c.path(),
                c.depth,
                c.ops_per_s,
                c.p50_us,
                c.p99_us,
                c.app_cpu_us_per_op,
                c.net_app_cpu_us_per_op,
                100.0 * c.app_cpu_us_per_op / cpu,
                c.dev_cpu_us_per_op,
                c.on_device * 100.0,
                c.switches_per_op
            );
            if c.other_cpu_us_per_op > 0.05 * c.app_cpu_us_per_op.max(1.0) {
                println!(
                    "  ! {:.1} µs/op of CPU went to threads that are neither the application's nor the emulator's",
                    c.other_cpu_us_per_op
                );
            }
        }
        if op != PkeyOp::RsaSign {
            continue;
        }
        println!(
            "  (wakes/op: times an application thread was switched in, per op. This machine's application CPU per \
             sleep and wake-up, with no work: {:.1} µs.)",
            cells[0].wake_floor_us
        );
        let mut depths: Vec<usize> = cells.iter().map(|c| c.depth).collect();
        depths.dedup();
        for d in depths {
            let get = |dev| cells.iter().find(|c| c.depth == d && c.device == dev);
            let (Some(dev), Some(cpu)) = (get(true), get(false)) else {
                continue;
            };
            let ratio = dev.app_cpu_us_per_op / cpu.app_cpu_us_per_op.max(f64::MIN_POSITIVE);
            let net = dev.net_app_cpu_us_per_op / cpu.app_cpu_us_per_op.max(f64::MIN_POSITIVE);
            let floor = all_cells
                .iter()
                .find(|c| c.op == PkeyOp::RsaVerify && c.depth == d)
                .map_or(String::new(), |v| {
                    format!(
                        "; the fault check's floor (CPU-backend verify) {:.1} µs/op = {:.1} %",
                        v.app_cpu_us_per_op,
                        100.0 * v.app_cpu_us_per_op / cpu.app_cpu_us_per_op.max(f64::MIN_POSITIVE)
                    )
                });
            // What sleeping and waking alone costs at this depth: the switch-ins per op at the machine's floor.
            let wakes = dev.switches_per_op * dev.wake_floor_us;
            goals.push(Goal {
                name: "RSA-2048 sign: app CPU per private-key op on the device path <= 5 % of the CPU backend's",
                holds: Some(ratio <= 0.05 && dev.on_device > 0.99),
                detail: format!(
                    "fault check {:?}, depth {d}: device {:.1} µs/op = {:.1} % of the CPU backend's {:.1} µs/op (net of idle: {:.1} \
                     µs/op = {:.1} %){floor}; {:.2} wake-ups per op at this machine's {:.1} µs each: {:.1} µs/op = {:.1} % \
                     before any work",
                    dev.fault_check,
                    dev.app_cpu_us_per_op,
                    ratio * 100.0,
                    cpu.app_cpu_us_per_op,
                    dev.net_app_cpu_us_per_op,
                    net * 100.0,
                    dev.switches_per_op,
                    dev.wake_floor_us,
                    wakes,
                    100.0 * wakes / cpu.app_cpu_us_per_op.max(f64::MIN_POSITIVE)
                ),
            });
        }
    }
    goals
}
