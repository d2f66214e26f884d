//! `uacce-async` on the soft SEC devices for the algorithms of issue 15: SM4 ECB/CBC/XTS, SM3, MD5, SHA-1/224/384
//! and their HMACs, one-shot jobs and a [`uacce_async::Hasher`] in long-hash parts, in every notification mode,
//! equal to the CPU backend and done by the devices (the Accel's counters); and SHA-512/224, which the soft device
//! refuses as unsupported: redone on the CPU with the CPU backup on, a typed device error with it off. Then AES-CCM
//! and AES-CMAC (issue 16) the same way, and AES-XCBC-MAC-96, which the soft device refuses as malformed: redone on
//! the CPU.

use std::time::Duration;

use bytes::Bytes;
use uacce_async::hazmat::{BlockCipher, CipherKey, CipherMode, UnauthenticatedCipher};
use uacce_async::{
    Accel, AeadCipherKey, Backend, CpuReason, Error, Family, HashAlg, HmacKey, MacAlgorithm, MacKey, NonceSequence,
    NotifyMode, Routing, Stats,
};
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

/// CCM nonce and tag lengths: every pair of these is sealed, opened and tampered with, per key size.
const CCM_NONCES: [usize; 3] = [7, 12, 13];
const CCM_TAGS: [usize; 3] = [4, 8, 16];
/// Device jobs of one ccm() call: per key size (3) and nonce/tag pair (9) a seal, an open and a tampered open, and
/// one detached seal and open with a counter nonce; the tampered opens fail on the device.
const CCM_JOBS: u64 = 3 * 9 * 3 + 2;
const CCM_TAMPERED: u64 = 3 * 9;
/// CMAC message lengths (one-shot digest BDs; the soft device takes 16-byte keys only, as the library sends).
const CMAC_LENS: [usize; 7] = [1, 15, 16, 17, 64, 1000, 10_240];
/// Device jobs of one cmac() call: a sign, a verify and a wrong-MAC verify per length (verify signs on the device
/// and compares on the CPU).
const CMAC_JOBS: u64 = 3 * CMAC_LENS.len() as u64;

/// AES-CCM with 16, 24 and 32-byte keys: seal and open for nonces of 7, 12 and 13 bytes × tags of 4, 8 and 16, with
/// AAD of 0, 20 or 1000 bytes, bodies of 1 B … 60 KB (the library sends bodies of 64 KiB and more, and empty ones,
/// to the CPU), equal to the CPU backend; an open of a tampered tag is `Error::AuthFailed` (from the device: the
/// caller checks the counters). And a detached `ccm_seal_detached` with a 12-byte counter nonce
/// (`NonceSequence`), opened detached.
async fn ccm(dev: Accel, cpu: Accel, seed: usize) -> TestResult {
    let lens = [1usize, 16, 1000, 4097, 60_001];
    let mut i = seed;
    for klen in [16usize, 24, 32] {
        let key = AeadCipherKey::aes(&data(klen, (klen + seed) as u32)).map_err(|e| e.to_string())?;
        for nlen in CCM_NONCES {
            for tlen in CCM_TAGS {
                i += 1;
                let (len, aad) = (lens[i % lens.len()], data([0, 20, 1000][i % 3], i as u32));
                let nonce = data(nlen, (i + 100) as u32);
                let pt = Bytes::from(data(len, i as u32));
                let what = format!("AES-{} CCM nonce {nlen} tag {tlen} aad {} body {len}", klen * 8, aad.len());
                let want = cpu
                    .ccm_seal_with_nonce_unchecked(&key, &nonce, tlen, &aad, pt.clone())
                    .await
                    .map_err(|e| format!("CPU {what}: {e}"))?;
                let sealed = dev
                    .ccm_seal_with_nonce_unchecked(&key, &nonce, tlen, &aad, pt.clone())
                    .await
                    .map_err(|e| format!("{what} seal: {e}"))?;
                check!(sealed == want, "{what}: sealed differs from the CPU backend");
                let back = dev.ccm_open(&key, &nonce, tlen, &aad, sealed.clone()).await.map_err(|e| format!("{what} open: {e}"))?;
                check!(back == pt, "{what}: open differs");
                let mut bad = sealed.to_vec();
                *bad.last_mut().unwrap() ^= 0x80;
                let r = dev.ccm_open(&key, &nonce, tlen, &aad, bad).await;
                check!(matches!(r, Err(Error::AuthFailed)), "{what}: tampered tag opened: {r:?}");
            }
        }
    }
    let key = AeadCipherKey::aes(&data(16, 77)).map_err(|e| e.to_string())?;
    // Not Nonce::random: getrandom() blocks until the guest's CRNG is ready, which a TCG guest without an entropy
    // source may not reach during the tests (a blocked worker thread stalls the whole runtime).
    let nonce = NonceSequence::starting_at(*b"ccm\0", seed as u64).advance().map_err(|e| e.to_string())?;
    let n = *nonce.as_bytes();
    let pt = Bytes::from(data(3000, seed as u32));
    let (ct, tag) = dev.ccm_seal_detached(&key, nonce, 12, b"hdr", pt.clone()).await.map_err(|e| format!("CCM detached seal: {e}"))?;
    let want = cpu.ccm_seal_with_nonce_unchecked(&key, &n, 12, b"hdr", pt.clone()).await.map_err(|e| e.to_string())?;
    check!(want[..ct.len()] == ct[..] && want[ct.len()..] == tag[..], "CCM detached seal differs from the CPU backend");
    let back = dev.ccm_open_detached(&key, &n, b"hdr", ct, &tag).await.map_err(|e| format!("CCM detached open: {e}"))?;
    check!(back == pt, "CCM detached open differs");
    Ok(())
}

/// AES-CMAC with 16-byte keys on 1 B … 10 KiB: sign equal to the CPU backend, verify, and a verify of a wrong MAC
/// (`Error::AuthFailed`) or of one of another length (`Error::InvalidTagLength`, no job).
async fn cmac(dev: Accel, cpu: Accel) -> TestResult {
    for (i, len) in CMAC_LENS.into_iter().enumerate() {
        let key = MacKey::new(MacAlgorithm::AesCmac, &data(16, i as u32 + 50)).map_err(|e| e.to_string())?;
        let m = Bytes::from(data(len, len as u32));
        let want = cpu.mac_sign(&key, m.clone()).await.map_err(|e| e.to_string())?;
        let got = dev.mac_sign(&key, m.clone()).await.map_err(|e| format!("CMAC {len}: {e}"))?;
        check!(got == want, "CMAC of {len} bytes differs from the CPU backend");
        dev.mac_verify(&key, m.clone(), &got).await.map_err(|e| format!("CMAC verify {len}: {e}"))?;
        let mut bad = got.clone();
        bad[i % 16] ^= 1;
        let r = dev.mac_verify(&key, m.clone(), &bad).await;
        check!(matches!(r, Err(Error::AuthFailed)), "CMAC {len}: a wrong MAC verified: {r:?}");
        let r = dev.mac_verify(&key, m, &got[..12]).await;
        check!(matches!(r, Err(Error::InvalidTagLength { got: 12, .. })), "CMAC {len}: a 12-byte MAC: {r:?}");
    }
    Ok(())
}

/// The input failures of the soft SEC devices (jobs refused on their rings, as a tag mismatch is).
fn device_input_failures(st: &Stats) -> u64 {
    st.devices.iter().filter(|d| d.name.starts_with("soft_sec-")).map(|d| d.failed.input).sum()
}

/// AES-CCM (two tasks) and AES-CMAC concurrently on an Accel in `mode`: every job on a device, none on the CPU, the
/// tampered CCM opens failed by the device (a tag mismatch, counted on the devices), no device error.
pub fn ccm_cmac(mode: NotifyMode) -> TestResult {
    rt().block_on(async move {
        let dev = device_accel(mode, false).await?;
        let cpu = cpu_accel().await?;
        let mut set = tokio::task::JoinSet::new();
        set.spawn(ccm(dev.clone(), cpu.clone(), 0));
        set.spawn(ccm(dev.clone(), cpu.clone(), 1));
        set.spawn(cmac(dev.clone(), cpu.clone()));
        while let Some(r) = tokio::time::timeout(Duration::from_secs(120), set.join_next())
            .await
            .map_err(|_| format!("{mode}: not done after 120 s"))?
        {
            r.map_err(|e| format!("task: {e}"))??;
        }
        let st = dev.stats();
        let (a, d) = (st.family(Family::Aead), st.family(Family::Digest));
        check!(dev.cpu_jobs() == 0, "{mode}: {} jobs ran on the CPU", dev.cpu_jobs());
        check!(a.on_cpu.total() == 0 && d.on_cpu.total() == 0, "{mode}: on the CPU: AEAD {:?}, MAC {:?}", a.on_cpu, d.on_cpu);
        check!(a.device_failures.total() == 0 && d.device_failures.total() == 0, "{mode}: device failures: AEAD {:?}, MAC {:?}", a.device_failures, d.device_failures);
        check!(a.on_device == 2 * (CCM_JOBS - CCM_TAMPERED), "{mode}: {} CCM jobs done by the devices, want {}", a.on_device, 2 * (CCM_JOBS - CCM_TAMPERED));
        check!(a.failed.input == 2 * CCM_TAMPERED && a.failed.total() == a.failed.input, "{mode}: CCM failures {:?}, want {} tag mismatches", a.failed, 2 * CCM_TAMPERED);
        check!(device_input_failures(&st) == 2 * CCM_TAMPERED, "{mode}: {} jobs refused on the soft devices, want the {} tampered opens", device_input_failures(&st), 2 * CCM_TAMPERED);
        check!(d.on_device == CMAC_JOBS && d.failed.total() == 0, "{mode}: CMAC: {} jobs on the devices (want {CMAC_JOBS}), failures {:?}", d.on_device, d.failed);
        println!("# async {mode}: AES-128/192/256-CCM and AES-CMAC: {} CCM jobs ({} tag mismatches), {} CMAC jobs on the soft devices", a.on_device + a.failed.input, a.failed.input, d.on_device);
        Ok(())
    })
}

pub fn ccm_cmac_interrupt() -> TestResult {
    ccm_cmac(NotifyMode::Interrupt)
}
pub fn ccm_cmac_eventfd() -> TestResult {
    ccm_cmac(NotifyMode::Eventfd)
}
pub fn ccm_cmac_io_uring() -> TestResult {
    ccm_cmac(NotifyMode::IoUring)
}
pub fn ccm_cmac_busy_poll() -> TestResult {
    ccm_cmac(NotifyMode::BusyPoll)
}
pub fn ccm_cmac_hybrid() -> TestResult {
    ccm_cmac(NotifyMode::Hybrid)
}

/// AES-XCBC-MAC-96: the soft device decodes `a_alg` 0x20 as no hash it knows and fails the BD (error 0xff). Under
/// `Backend::Auto` with the default routing and CPU backup, a sign and a verify of inputs above the digest
/// threshold (8 KiB) are tried on the device, counted as device failures, and redone on the CPU with its result.
pub fn xcbc_falls_back() -> TestResult {
    rt().block_on(async move {
        let cpu = cpu_accel().await?;
        let auto = Accel::builder()
            .backend(Backend::Auto)
            .mode(NotifyMode::Eventfd)
            .job_timeout(Some(Duration::from_secs(20)))
            .build()
            .await
            .map_err(|e| format!("Auto Accel: {e}"))?;
        check!(auto.crypto_offloaded(), "crypto not offloaded: {}", auto.description());
        let key = MacKey::new(MacAlgorithm::AesXcbcMac96, &data(16, 8)).map_err(|e| e.to_string())?;
        for len in [9000usize, 65_537] {
            let m = Bytes::from(data(len, 21));
            let want = cpu.mac_sign(&key, m.clone()).await.map_err(|e| e.to_string())?;
            let got = auto.mac_sign(&key, m.clone()).await.map_err(|e| format!("Auto XCBC {len}: {e}"))?;
            check!(got.len() == 12 && got == want, "XCBC-MAC-96 of {len} bytes under Auto differs from the CPU backend");
            auto.mac_verify(&key, m, &want).await.map_err(|e| format!("Auto XCBC verify {len}: {e}"))?;
        }
        let d = *auto.stats().family(Family::Digest);
        check!(
            d.device_failures.device == 4 && d.device_failures.total() == 4 && d.on_cpu.get(CpuReason::Backup) == 4
                && d.on_cpu.total() == 4 && d.on_device == 0 && d.failed.total() == 0,
            "Auto XCBC: {d:?}"
        );
        Ok(())
    })
}
