//! `uacce-async` on the soft SEC devices for the algorithms of issue 15: SM4 ECB/CBC/XTS, SM3, MD5, SHA-1/224/384
//! and their HMACs, one-shot jobs and a [`uacce_async::Hasher`] in long-hash parts, in every notification mode,
//! equal to the CPU backend and done by the devices (the Accel's counters); and SHA-512/224, which the soft device
//! refuses as unsupported: redone on the CPU with the CPU backup on, a typed device error with it off.

use std::time::Duration;

use bytes::Bytes;
use uacce_async::hazmat::{BlockCipher, CipherKey, CipherMode, UnauthenticatedCipher};
use uacce_async::{Accel, Backend, CpuReason, Error, Family, HashAlg, HmacKey, NotifyMode, Routing};
use uacce_testkit::data;

use crate::queue::devices;
use crate::TestResult;

macro_rules! check {
    ($c:expr, $($fmt:tt)*) => {
        if !$c {
            return Err(format!($($fmt)*));
        }
    };
}

/// The hashes new on the soft device (SHA-256/512 are in the mixed tests).
const HASHES: [HashAlg; 5] = [HashAlg::Sm3, HashAlg::Md5, HashAlg::Sha1, HashAlg::Sha224, HashAlg::Sha384];

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

/// An Accel on the soft devices in `mode` that sends every job to a device (no size threshold) and, with
/// `backup` false, never redoes a failed one on the CPU (as the other async guest tests).
async fn device_accel(mode: NotifyMode, backup: bool) -> Result<Accel, String> {
    let accel = Accel::builder()
        .backend(if backup { Backend::Auto } else { Backend::Hardware })
        .mode(mode)
        .routing(Routing::device_only())
        .cpu_backup(backup)
        .job_timeout(Some(Duration::from_secs(20)))
        .build()
        .await
        .map_err(|e| format!("Accel::build({mode}): {e}"))?;
    check!(accel.crypto_offloaded(), "{mode}: crypto not offloaded: {}", accel.description());
    let d = accel.description().to_string();
    for dev in devices("soft_sec-") {
        check!(d.contains(&dev), "{mode}: {dev} not used: {d}");
    }
    Ok(accel)
}

async fn cpu_accel() -> Result<Accel, String> {
    Accel::builder().backend(Backend::Cpu).build().await.map_err(|e| format!("CPU Accel: {e}"))
}

/// Every new hash, plain and HMAC (a 20-byte key and one longer than the block, which the library hashes first),
/// one-shot on 1 B … 70 KB; and a Hasher fed 1 MiB + 4097 bytes in uneven updates (a first long-hash part of
/// 1 MiB and a last part), plain for some hashes and HMAC for the others, alternating with `seed`.
async fn hashes(dev: Accel, cpu: Accel, seed: usize) -> TestResult {
    for (i, alg) in HASHES.into_iter().enumerate() {
        for len in [1usize, 1000, 70_001] {
            let m = Bytes::from(data(len, (len + i) as u32));
            let want = cpu.digest(alg, m.clone()).await.map_err(|e| e.to_string())?;
            let got = dev.digest(alg, m.clone()).await.map_err(|e| format!("{alg:?} digest {len}: {e}"))?;
            check!(got == want, "{alg:?} digest of {len} bytes differs from the CPU backend");
            for klen in [20usize, 200] {
                let key = HmacKey::new(alg, &data(klen, klen as u32));
                let want = cpu.hmac_sign(&key, m.clone()).await.map_err(|e| e.to_string())?;
                let got = dev.hmac_sign(&key, m.clone()).await.map_err(|e| format!("HMAC-{alg:?} {len}: {e}"))?;
                check!(got == want, "HMAC-{alg:?} (key {klen}) of {len} bytes differs from the CPU backend");
            }
        }
        let msg = data((1 << 20) + 4097, i as u32 + 40);
        let key = HmacKey::new(alg, &data(32, 9));
        let hmac = (i + seed) % 2 == 1;
        let (mut h, mut c) = if hmac {
            (dev.hmac_hasher(&key), cpu.hmac_hasher(&key))
        } else {
            (dev.hasher(alg), cpu.hasher(alg))
        };
        for chunk in msg.chunks(300_007) {
            h.update(chunk).await.map_err(|e| format!("{alg:?} hasher update: {e}"))?;
            c.update(chunk).await.map_err(|e| e.to_string())?;
        }
        let got = h.finalize().await.map_err(|e| format!("{alg:?} hasher: {e}"))?;
        check!(got == c.finalize().await.map_err(|e| e.to_string())?, "{alg:?} (hmac {hmac}) hasher over 1 MiB differs from the CPU backend");
    }
    Ok(())
}

/// SM4 ECB, CBC and XTS through the hazmat API, encrypt and decrypt, equal to the CPU backend.
async fn sm4(dev: Accel, cpu: Accel) -> TestResult {
    for mode in [CipherMode::Ecb, CipherMode::Cbc, CipherMode::Xts] {
        let key = CipherKey::with_cipher(BlockCipher::Sm4, mode, &data(if mode == CipherMode::Xts { 32 } else { 16 }, 5))
            .map_err(|e| e.to_string())?;
        let iv: [u8; 16] = data(16, 6).try_into().unwrap();
        let lens: &[usize] = if mode == CipherMode::Xts { &[16, 4099, 70_001] } else { &[16, 4096, 70_000] };
        for &len in lens {
            let pt = Bytes::from(data(len, len as u32));
            let want = cpu.encrypt_unauthenticated(&key, &iv, pt.clone()).await.map_err(|e| e.to_string())?;
            let got = dev.encrypt_unauthenticated(&key, &iv, pt.clone()).await.map_err(|e| format!("SM4 {mode:?} {len}: {e}"))?;
            check!(got == want, "SM4 {mode:?} {len} bytes differs from the CPU backend");
            let back = dev.decrypt_unauthenticated(&key, &iv, got).await.map_err(|e| format!("SM4 {mode:?} {len} decrypt: {e}"))?;
            check!(back == pt, "SM4 {mode:?} {len} bytes: decrypt differs");
        }
    }
    Ok(())
}

/// The hashes and SM4 concurrently (three tasks) on an Accel in `mode`; every job on a device, none on the CPU.
pub fn breadth(mode: NotifyMode) -> TestResult {
    rt().block_on(async move {
        let dev = device_accel(mode, false).await?;
        let cpu = cpu_accel().await?;
        let mut set = tokio::task::JoinSet::new();
        set.spawn(hashes(dev.clone(), cpu.clone(), 0));
        set.spawn(hashes(dev.clone(), cpu.clone(), 1));
        set.spawn(sm4(dev.clone(), cpu.clone()));
        while let Some(r) = tokio::time::timeout(Duration::from_secs(120), set.join_next())
            .await
            .map_err(|_| format!("{mode}: not done after 120 s"))?
        {
            r.map_err(|e| format!("task: {e}"))??;
        }
        let st = dev.stats();
        let (d, c) = (st.family(Family::Digest), st.family(Family::Cipher));
        check!(dev.cpu_jobs() == 0, "{mode}: {} jobs ran on the CPU", dev.cpu_jobs());
        check!(d.failed.total() == 0 && d.device_failures.total() == 0, "{mode}: digest failures {:?}", d.device_failures);
        // per hashes() call: 5 × 3 digests, 5 × 3 × 2 HMACs, 5 × 2 hasher parts (first, last)
        check!(d.on_device >= 2 * 55, "{mode}: {} digest jobs on the device, want at least 110", d.on_device);
        check!(c.on_device >= 18, "{mode}: {} SM4 jobs on the device, want at least 18", c.on_device);
        println!("# async {mode}: SM3/MD5/SHA-1/224/384 (+HMAC, hasher) and SM4: {} digest, {} cipher jobs on the soft devices", d.on_device, c.on_device);
        Ok(())
    })
}

pub fn breadth_interrupt() -> TestResult {
    breadth(NotifyMode::Interrupt)
}
pub fn breadth_eventfd() -> TestResult {
    breadth(NotifyMode::Eventfd)
}
pub fn breadth_io_uring() -> TestResult {
    breadth(NotifyMode::IoUring)
}
pub fn breadth_busy_poll() -> TestResult {
    breadth(NotifyMode::BusyPoll)
}
pub fn breadth_hybrid() -> TestResult {
    breadth(NotifyMode::Hybrid)
}

/// SHA-512/224 (and HMAC-SHA-512/256): the soft device answers error_type 0x03 (the kernel's crypto API has no such
/// hash). Under `Backend::Auto` with the CPU backup on, the job is redone on the CPU and gives the CPU backend's
/// digest, counted as a device failure and a backup; with the backup off it fails with `Error::Device`.
pub fn sha512_t_falls_back() -> TestResult {
    rt().block_on(async move {
        let cpu = cpu_accel().await?;
        let auto = device_accel(NotifyMode::Eventfd, true).await?;
        let m = Bytes::from(data(5000, 3));
        let want = cpu.digest(HashAlg::Sha512_224, m.clone()).await.map_err(|e| e.to_string())?;
        let got = auto.digest(HashAlg::Sha512_224, m.clone()).await.map_err(|e| format!("Auto SHA-512/224: {e}"))?;
        check!(got == want, "SHA-512/224 under Auto differs from the CPU backend");
        let key = HmacKey::new(HashAlg::Sha512_256, &data(40, 4));
        let want = cpu.hmac_sign(&key, m.clone()).await.map_err(|e| e.to_string())?;
        let got = auto.hmac_sign(&key, m.clone()).await.map_err(|e| format!("Auto HMAC-SHA-512/256: {e}"))?;
        check!(got == want, "HMAC-SHA-512/256 under Auto differs from the CPU backend");
        let d = *auto.stats().family(Family::Digest);
        check!(d.device_failures.total() == 2 && d.on_cpu.get(CpuReason::Backup) == 2 && d.on_device == 0, "Auto: {d:?}");
        let hw = device_accel(NotifyMode::Eventfd, false).await?;
        let r = hw.digest(HashAlg::Sha512_224, m).await;
        check!(matches!(r, Err(Error::Device(_))), "Hardware, no CPU backup: {r:?}");
        Ok(())
    })
}
