//! The public-key cell (issue 14): RSA-2048 signatures (PKCS#1 v1.5, SHA-256, a 64-byte message) on the emulated
//! HPRE device (`Routing::device_only`, eventfd) against the CPU backend (aws-lc-rs), at a few depths. The goal: app
//! CPU per private-key operation on the device path <= 5 % of the CPU backend's (the emulator's device threads,
//! which play the HPRE, excluded as for every other job; the CPU backend's pool threads counted).

use super::*;
use uacce_async::{Family, RsaHash, RsaPrivateKey};

/// The test key `openssl genpkey` made for the RSA tests.
const KEY_PEM: &str = include_str!("../../uacce-async/tests/vectors/rsa/key2048.pem");

#[derive(Clone)]
pub(crate) struct PkeyCell {
    pub(crate) device: bool,
    pub(crate) depth: usize,
    pub(crate) ops_per_s: f64,
    pub(crate) p50_us: f64,
    pub(crate) p99_us: f64,
    pub(crate) app_cpu_us_per_op: f64,
    /// The same, less the application's idle CPU (this accelerator open, nothing submitted, measured for 1 s just
    /// before) over the cell's duration: at the emulated HPRE's few ops/s the idle runtime's CPU is most of the raw
    /// figure.
    pub(crate) net_app_cpu_us_per_op: f64,
    /// Share of the operations whose result came from a device.
    pub(crate) on_device: f64,
}

impl PkeyCell {
    fn name(&self) -> &'static str {
        if self.device {
            "device"
        } else {
            "cpu (aws-lc-rs)"
        }
    }
}

async fn accel_for(device: bool) -> Result<Accel, BoxError> {
    let mut cfg = Config::default();
    cfg.mode = NotifyMode::Eventfd;
    if device {
        cfg.backend = Backend::Emulated;
        cfg.routing = Routing::device_only();
    } else {
        cfg.backend = Backend::Cpu;
    }
    Ok(Accel::with_config(cfg).await?)
}

/// Device and CPU at each of `depths`, interleaved `rounds` times (the median cell by app CPU kept).
pub(crate) async fn pkey_cells(
    depths: &[usize],
    warm: Duration,
    secs: f64,
    rounds: usize,
) -> Result<Vec<PkeyCell>, BoxError> {
    let key = RsaPrivateKey::from_pem(KEY_PEM)?;
    let msg = Bytes::from(sample(64).to_vec());
    let mut out = Vec::new();
    for &depth in depths {
        let mut runs: Vec<Vec<PkeyCell>> = vec![Vec::new(); 2];
        for _ in 0..rounds {
            for (i, device) in [true, false].into_iter().enumerate() {
                let accel = accel_for(device).await?;
                // One signature made and verified outside the measurement: the path works end to end.
                let s = accel.rsa_sign_pkcs1v15(&key, RsaHash::Sha256, &msg).await?;
                accel
                    .rsa_verify_pkcs1v15(&key.public_key(), RsaHash::Sha256, &msg, &s)
                    .await?;
                // The idle CPU of the application's threads with this accelerator open.
                let before = cpu_snapshot();
                let t = Instant::now();
                tokio::time::sleep(Duration::from_secs(1)).await;
                let idle_ns_per_s =
                    cpu_delta(&before, &cpu_snapshot()).0 as f64 / t.elapsed().as_secs_f64();
                let (a, k, m) = (accel.clone(), key.clone(), msg.clone());
                let meas = measure(depth, warm, secs, move || {
                    let (a, k, m) = (a.clone(), k.clone(), m.clone());
                    async move {
                        a.rsa_sign_pkcs1v15(&k, RsaHash::Sha256, &m).await?;
                        Ok(())
                    }
                })
                .await
                .map_err(|e| {
                    format!(
                        "rsa-2048 sign {} d{depth}: {e}",
                        if device { "device" } else { "cpu" }
                    )
                })?;
                let st = accel.stats();
                let f = st.family(Family::Pkey);
                let n = meas.jobs.max(1) as f64;
                runs[i].push(PkeyCell {
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
                    on_device: f.on_device as f64 / f.completed.max(1) as f64,
                });
                drop(accel);
            }
        }
        for mut r in runs {
            r.sort_by(|a, b| a.app_cpu_us_per_op.total_cmp(&b.app_cpu_us_per_op));
            out.push(r[r.len() / 2].clone());
        }
    }
    Ok(out)
}

/// Print the cells and the goal per depth.
pub(crate) fn print_pkey(cells: &[PkeyCell]) -> Vec<Goal> {
    println!(
        "\nRSA-2048 sign (PKCS#1 v1.5, SHA-256; eventfd, emulated HPRE vs CPU backend; median of rounds):"
    );
    println!(
        "  {:<16} {:>5} {:>9} {:>9} {:>9} {:>11} {:>11} {:>10}",
        "path", "depth", "ops/s", "p50 µs", "p99 µs", "app µs/op", "net of idle", "on device"
    );
    for c in cells {
        println!(
            "  {:<16} {:>5} {:>9.0} {:>9.1} {:>9.1} {:>11.1} {:>11.1} {:>9.0}%",
            c.name(),
            c.depth,
            c.ops_per_s,
            c.p50_us,
            c.p99_us,
            c.app_cpu_us_per_op,
            c.net_app_cpu_us_per_op,
            c.on_device * 100.0
        );
    }
    let mut goals = Vec::new();
    let mut depths: Vec<usize> = cells.iter().map(|c| c.depth).collect();
    depths.dedup();
    for d in depths {
        let get = |dev| cells.iter().find(|c| c.depth == d && c.device == dev);
        let (Some(dev), Some(cpu)) = (get(true), get(false)) else {
            continue;
        };
        let ratio = dev.app_cpu_us_per_op / cpu.app_cpu_us_per_op.max(f64::MIN_POSITIVE);
        let net = dev.net_app_cpu_us_per_op / cpu.app_cpu_us_per_op.max(f64::MIN_POSITIVE);
        goals.push(Goal {
            name: "RSA-2048 sign: app CPU per private-key op on the device path <= 5 % of the CPU backend's",
            holds: Some(ratio <= 0.05 && dev.on_device > 0.99),
            detail: format!(
                "depth {d}: device {:.1} µs/op = {:.1} % of the CPU backend's {:.1} µs/op (net of idle: {:.1} µs/op = \
                 {:.1} %)",
                dev.app_cpu_us_per_op,
                ratio * 100.0,
                cpu.app_cpu_us_per_op,
                dev.net_app_cpu_us_per_op,
                net * 100.0
            ),
        });
    }
    goals
}
