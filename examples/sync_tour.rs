//! The synchronous tour: find uacce devices (or fall back to the in-process emulated device, and say so), then run
//! real jobs through the HiSilicon QM ring — gzip compress and decompress, SHA-256, AES-256-GCM seal/open — and check
//! every result against a CPU reference.
//!
//! `cargo run --release --example sync_tour` (`UACCE_BACKEND=emu` forces the emulator).
//!
//! It uses only `uacce-sys` and `uacce-emu`: no runtime, one job in flight, polled. The main tour (`examples/tour.rs`)
//! does the same work through the awaitable API of `uacce-async` (`uacce::aio`) in every completion mode.

use std::sync::Arc;
use std::time::{Duration, Instant};

use uacce::emu::{DeviceKind, EmuConfig, EmuDevice, EmuQueue};
use uacce::sys::qm::sec::{self, CipherDir, DigestAlg, SecOp};
use uacce::sys::qm::zip::{self, QcType, ZipAlg, ZipOutcome};
use uacce::sys::qm::{DriverRing, QmVersion, RingLayout, Sqe};
use uacce::sys::queue::Queue;
use uacce::sys::sysfs::Sysfs;
use uacce_testkit::{codec, req};

const TIMEOUT: Duration = Duration::from_secs(10);

/// One open queue and the driver side of its ring; keeps whatever owns the queue alive.
struct Lane {
    ring: DriverRing,
    version: QmVersion,
    _owner: Box<dyn std::any::Any>,
}

impl Lane {
    /// Submit one SQE and wait for its completion.
    ///
    /// # Safety
    /// Every buffer `sqe` names must stay valid and untouched until this returns ([`DriverRing::push`]'s
    /// contract). It returns only once the completion was consumed: if waiting fails, the job may still be in
    /// flight, and the process aborts rather than return and let the caller free buffers the device may write.
    unsafe fn run(&mut self, sqe: &Sqe) -> Sqe {
        // SAFETY: the caller's promise lasts until this returns, which is only with the completion consumed.
        match unsafe { self.ring.run_blocking(sqe, TIMEOUT) } {
            Ok(c) => c.sqe,
            Err(e) => {
                eprintln!("sync_tour: {e}; aborting: the job may still own its buffers");
                std::process::abort()
            }
        }
    }
}

fn emu_lane(dev: &EmuDevice, qc_type: u16) -> Result<Lane, Box<dyn std::error::Error>> {
    let q: EmuQueue = dev.open_queue(qc_type)?;
    Ok(Lane {
        ring: q.driver_ring()?,
        version: q.version(),
        _owner: Box::new(q),
    })
}

fn hw_lane(
    dev: &uacce::sys::sysfs::Device,
    qc_type: u16,
) -> Result<Lane, Box<dyn std::error::Error>> {
    let q = Arc::new(Queue::open_and_start(dev, qc_type)?);
    let layout = RingLayout::for_queue(&q)?;
    let version = dev.qm_version().ok_or("unsupported api")?;
    let sqn = q.sqn().ok_or("queue has no number")?;
    let ring = DriverRing::new(q.clone(), layout, q.clone(), version, sqn)?;
    Ok(Lane {
        ring,
        version,
        _owner: Box::new(q),
    })
}

/// (compress lane, decompress lane, sec lane, description)
fn lanes() -> Result<(Lane, Lane, Lane, String), Box<dyn std::error::Error>> {
    let backend = std::env::var("UACCE_BACKEND").unwrap_or_else(|_| "auto".into());
    if backend != "emu" && backend != "cpu" {
        let sysfs = Sysfs::new();
        let zip = sysfs.devices_for_algorithm("gzip").unwrap_or_default();
        let sec = sysfs.devices_for_algorithm("aead").unwrap_or_default();
        match (zip.first(), sec.first()) {
            (Some(z), Some(s)) => {
                let desc = format!("uacce devices {} and {}", z.name, s.name);
                return Ok((hw_lane(z, 0)?, hw_lane(z, 1)?, hw_lane(s, 0)?, desc));
            }
            _ if backend == "hw" => {
                return Err("UACCE_BACKEND=hw but no uacce ZIP and SEC devices were found".into());
            }
            _ => {}
        }
    }
    let why = if backend == "emu" {
        "UACCE_BACKEND=emu".to_string()
    } else {
        match Sysfs::new().devices() {
            Err(e) => format!("no uacce devices: {e}"),
            Ok(d) => format!("no usable ZIP+SEC uacce devices ({} found)", d.len()),
        }
    };
    let zipdev = EmuDevice::new(EmuConfig::new(DeviceKind::Zip).version(QmVersion::V3));
    let secdev = EmuDevice::new(EmuConfig::new(DeviceKind::Sec).version(QmVersion::V3));
    let desc = format!("the in-process emulated device (QM v3), because {why}");
    Ok((
        emu_lane(&zipdev, 0)?,
        emu_lane(&zipdev, 1)?,
        emu_lane(&secdev, 0)?,
        desc,
    ))
}

fn sample(len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    let mut i = 0u64;
    while out.len() < len {
        out.extend_from_slice(
            format!(
                "{{\"id\":{i},\"name\":\"item-{}\",\"ok\":true}}\n",
                i * 7919 % 1000
            )
            .as_bytes(),
        );
        i += 1;
    }
    out.truncate(len);
    out
}

fn gzip(
    lane: &mut Lane,
    dir: QcType,
    src: &[u8],
    dst_len: usize,
) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    let alg = ZipAlg::Gzip;
    let mut dst = vec![0u8; dst_len];
    if dir == QcType::Compress {
        dst[..alg.header().len()].copy_from_slice(alg.header());
    }
    let req = req::zip_user(alg, dir, src, &mut dst, 1)?;
    let sqe = zip::encode(&req, lane.version);
    // SAFETY: the SQE names `src` (borrowed for this whole call) and `dst` (owned here), both untouched until
    // `run` returns with the completion consumed.
    let done = zip::read_result(&unsafe { lane.run(&sqe) });
    match done.outcome() {
        ZipOutcome::Ok => {
            dst.truncate(done.user_lengths(dir).1 as usize);
            Ok(dst)
        }
        other => Err(format!("ZIP job failed: {other:?}").into()),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (mut cq, mut dq, mut sq, desc) = lanes()?;
    println!("uacce-rs tour: using {desc}\n");
    println!("{:<34} {:>10} {:>12}  check", "job", "bytes", "time");
    let mut failures = 0;
    let mut report = |name: &str, bytes: usize, t: Duration, ok: bool| {
        println!(
            "{name:<34} {bytes:>10} {:>10.1}µs  {}",
            t.as_secs_f64() * 1e6,
            if ok { "ok" } else { "MISMATCH" }
        );
        if !ok {
            failures += 1;
        }
    };

    // gzip: compress on a compress queue, check with flate2's decoder, decompress on a decompress queue.
    let data = sample(1 << 20);
    let t = Instant::now();
    let gz = gzip(&mut cq, QcType::Compress, &data, data.len() + 4096)?;
    let el = t.elapsed();
    let reference = codec::decompress(ZipAlg::Gzip, &gz)?;
    report(
        &format!(
            "gzip compress (ratio {:.2})",
            data.len() as f64 / gz.len() as f64
        ),
        data.len(),
        el,
        reference == data,
    );
    let t = Instant::now();
    let back = gzip(&mut dq, QcType::Decompress, &gz, data.len())?;
    report("gzip decompress", gz.len(), t.elapsed(), back == data);

    // SHA-256 of 1 MiB and of "abc".
    for (name, input) in [
        ("sha256(\"abc\")", b"abc".to_vec()),
        ("sha256(1 MiB)", data.clone()),
    ] {
        let mut mac = [0u8; 32];
        let op = SecOp::Digest(req::digest(DigestAlg::Sha256, None, &input, &mut mac));
        let t = Instant::now();
        let sqe = sec::encode(&req::sec_request(op, 2), sq.version)?;
        // SAFETY: the SQE names `input` and `mac`, locals of this loop body that stay untouched until `run` returns.
        let done = sec::read_result(&unsafe { sq.run(&sqe) });
        let el = t.elapsed();
        use sha2::Digest;
        let ok =
            done.outcome() == sec::SecOutcome::Ok && mac[..] == sha2::Sha256::digest(&input)[..];
        report(name, input.len(), el, ok);
    }

    // AES-256-GCM seal and open of 64 KiB with 16 bytes of AAD.
    let key = [0x42u8; 32];
    let iv = [7u8; 12];
    let aad = b"header-0123456789";
    let payload = &data[..65536];
    // a_ivin: the BD's auth-IV buffer holds a copy of the 12-byte IV (as UADK and the kernel's sec2 driver fill it);
    // the emulator refuses a GCM BD whose a_ivin does not hold the IV.
    let mut aiv = [0u8; 64];
    aiv[..12].copy_from_slice(&iv);
    let gcm = |dir, src: &[u8], dst: &mut [u8], mac: &mut [u8], aiv: &mut [u8]| {
        let (key, iv, aad_len) = (&key[..], &iv[..], aad.len());
        SecOp::Aead(req::gcm(
            dir,
            req::Gcm {
                key,
                iv,
                aiv,
                aad_len,
                src,
                dst,
                mac,
            },
        ))
    };
    let src = [&aad[..], payload].concat();
    let mut sealed = vec![0u8; src.len()];
    let mut tag = [0u8; 16];
    let t = Instant::now();
    let op = gcm(CipherDir::Encrypt, &src, &mut sealed, &mut tag, &mut aiv);
    let sqe = sec::encode(&req::sec_request(op, 3), sq.version)?;
    // SAFETY: the SQE names `key`, `iv`, `aiv`, `src`, `sealed` and `tag`, locals untouched until `run` returns.
    let done = sec::read_result(&unsafe { sq.run(&sqe) });
    let el = t.elapsed();
    use aes_gcm::aead::{AeadInPlace, KeyInit};
    let cpu = aes_gcm::Aes256Gcm::new_from_slice(&key)?;
    let mut expect = payload.to_vec();
    let expect_tag = cpu
        .encrypt_in_place_detached((&iv).into(), aad, &mut expect)
        .map_err(|_| "cpu gcm")?;
    let ok = done.outcome() == sec::SecOutcome::Ok
        && sealed[aad.len()..] == expect[..]
        && tag[..] == expect_tag[..];
    report("aes-256-gcm seal", payload.len(), el, ok);
    let ct = [&aad[..], &sealed[aad.len()..]].concat();
    let mut opened = vec![0u8; ct.len()];
    let t = Instant::now();
    let op = gcm(CipherDir::Decrypt, &ct, &mut opened, &mut tag, &mut aiv);
    let sqe = sec::encode(&req::sec_request(op, 4), sq.version)?;
    // SAFETY: the SQE names `key`, `iv`, `aiv`, `ct`, `opened` and `tag`, locals untouched until `run` returns.
    let done = sec::read_result(&unsafe { sq.run(&sqe) });
    report(
        "aes-256-gcm open",
        payload.len(),
        t.elapsed(),
        done.outcome() == sec::SecOutcome::Ok && opened[aad.len()..] == *payload,
    );

    println!();
    if failures > 0 {
        return Err(format!("{failures} job(s) did not match the CPU reference").into());
    }
    println!("all results match the CPU reference");
    Ok(())
}
