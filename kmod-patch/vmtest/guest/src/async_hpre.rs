//! `uacce-async` on the soft HPRE devices (`soft_hpre-N`, api `soft_qm_v3`; issue 14): RSA (PKCS#1 v1.5 and PSS
//! signatures, OAEP) with 1024-, 2048- and 4096-bit keys on the type-0 queues, ECDH P-256 and X25519 on the type-1
//! queues, in every notification mode, equal to the CPU backend and done by the devices (the Accel's counters);
//! bad inputs (a point off the curve, a ciphertext ≥ n, an all-zero X25519 result) give the CPU backend's typed
//! errors; ECDSA and X448, which the soft device does not compute, run on the CPU under `Backend::Auto` and are
//! `Error::Unsupported` under `Backend::Hardware`. Every input is fixed (test keys, RFC 6979 nonces, fixed salts and
//! seeds): nothing here draws from the guest's RNG.

use std::time::Duration;

use uacce_async::{
    Accel, Backend, CpuReason, EcCurve, EcPrivateKey, EcdsaNonce, Error, Family, NotifyMode, Routing, RsaHash,
    RsaPrivateKey, Stats,
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

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

const KEY1024: &str = include_str!("../../../../uacce-async/tests/vectors/rsa/key1024.pem");
const KEY2048: &str = include_str!("../../../../uacce-async/tests/vectors/rsa/key2048.pem");
const KEY4096: &str = include_str!("../../../../uacce-async/tests/vectors/rsa/key4096.pem");

fn hex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

fn hex32(s: &str) -> [u8; 32] {
    hex(s).try_into().unwrap()
}

/// An Accel on the soft devices in `mode` that sends every job to a device (no size threshold); `backup` picks
/// `Backend::Auto` with the CPU backup, else `Backend::Hardware` without it.
async fn device_accel(mode: NotifyMode, backup: bool) -> Result<Accel, String> {
    let accel = Accel::builder()
        .backend(if backup { Backend::Auto } else { Backend::Hardware })
        .mode(mode)
        .routing(Routing::device_only())
        .cpu_backup(backup)
        .job_timeout(Some(Duration::from_secs(60)))
        .build()
        .await
        .map_err(|e| format!("Accel::build({mode}): {e}"))?;
    let d = accel.description().to_string();
    let hpre = devices("soft_hpre-");
    check!(!hpre.is_empty(), "no soft_hpre device");
    for dev in hpre {
        check!(d.contains(&dev), "{mode}: {dev} not used: {d}");
    }
    Ok(accel)
}

async fn cpu_accel() -> Result<Accel, String> {
    Accel::builder().backend(Backend::Cpu).build().await.map_err(|e| format!("CPU Accel: {e}"))
}

fn key(pem: &str) -> Result<RsaPrivateKey, String> {
    RsaPrivateKey::from_pem(pem).map_err(|e| format!("test key: {e}"))
}

/// Device RSA jobs of one rsa() call per key: PKCS#1 v1.5 sign and verify, PSS sign and verify, OAEP encrypt and
/// decrypt (each one job; a verify is the public operation on the device and a compare).
const RSA_JOBS_PER_KEY: u64 = 6;

/// PKCS#1 v1.5 and PSS signatures and OAEP with `pem`'s key: the device's results equal the CPU backend's (the
/// signatures are deterministic: PKCS#1 v1.5 by construction, PSS with a fixed salt) and verify on both.
async fn rsa(dev: &Accel, cpu: &Accel, pem: &str, seed: u32) -> TestResult {
    let k = key(pem)?;
    let bits = k.bits();
    let pk = k.public_key();
    let msg = data(1000 + seed as usize, seed);
    let e = |what: &'static str| move |err: Error| format!("RSA-{bits} {what}: {err}");
    let sig = dev.rsa_sign_pkcs1v15(&k, RsaHash::Sha256, &msg).await.map_err(e("PKCS#1 sign"))?;
    let want = cpu.rsa_sign_pkcs1v15(&k, RsaHash::Sha256, &msg).await.map_err(e("CPU PKCS#1 sign"))?;
    check!(sig == want, "RSA-{bits}: PKCS#1 v1.5 signature differs from the CPU backend's");
    dev.rsa_verify_pkcs1v15(&pk, RsaHash::Sha256, &msg, &sig).await.map_err(e("PKCS#1 verify"))?;
    cpu.rsa_verify_pkcs1v15(&pk, RsaHash::Sha256, &msg, &sig).await.map_err(e("CPU PKCS#1 verify"))?;

    // The salt as long as the hash (what rsa_verify_pss expects)
    let salt = data(RsaHash::Sha384.output_len(), seed + 1);
    let pss = dev
        .rsa_sign_pss_with_salt_unchecked(&k, RsaHash::Sha384, &salt, &msg)
        .await
        .map_err(e("PSS sign"))?;
    let want = cpu
        .rsa_sign_pss_with_salt_unchecked(&k, RsaHash::Sha384, &salt, &msg)
        .await
        .map_err(e("CPU PSS sign"))?;
    check!(pss == want, "RSA-{bits}: PSS signature differs from the CPU backend's");
    dev.rsa_verify_pss(&pk, RsaHash::Sha384, &msg, &pss).await.map_err(e("PSS verify"))?;
    cpu.rsa_verify_pss(&pk, RsaHash::Sha384, &msg, &pss).await.map_err(e("CPU PSS verify"))?;

    let plain = data(40, seed + 2);
    let oaep_seed = data(32, seed + 3);
    let label = b"uacce";
    let ct = dev
        .rsa_encrypt_oaep_with_seed_unchecked(&pk, RsaHash::Sha256, label, &plain, &oaep_seed)
        .await
        .map_err(e("OAEP encrypt"))?;
    let want = cpu
        .rsa_encrypt_oaep_with_seed_unchecked(&pk, RsaHash::Sha256, label, &plain, &oaep_seed)
        .await
        .map_err(e("CPU OAEP encrypt"))?;
    check!(ct == want, "RSA-{bits}: OAEP ciphertext differs from the CPU backend's");
    let back = dev.rsa_decrypt_oaep(&k, RsaHash::Sha256, label, &ct).await.map_err(e("OAEP decrypt"))?;
    check!(back == plain, "RSA-{bits}: OAEP decrypt differs");
    Ok(())
}

/// RFC 7748 section 5.2, first X25519 vector, and the section 6.1 key agreement.
async fn x25519(dev: &Accel) -> TestResult {
    let k = hex32("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4");
    let u = hex32("e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c");
    let out = dev.x25519(&k, &u).await.map_err(|e| format!("X25519: {e}"))?;
    check!(out == hex32("c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552"), "X25519 5.2 vector");
    let a = hex32("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
    let b = hex32("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
    let pa = dev.x25519_public(&a).await.map_err(|e| format!("X25519 public: {e}"))?;
    let pb = dev.x25519_public(&b).await.map_err(|e| format!("X25519 public: {e}"))?;
    check!(pa == hex32("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"), "X25519 Alice's public key");
    check!(pb == hex32("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"), "X25519 Bob's public key");
    let s1 = dev.x25519_agree(&a, &pb).await.map_err(|e| format!("X25519 agree: {e}"))?;
    let s2 = dev.x25519_agree(&b, &pa).await.map_err(|e| format!("X25519 agree: {e}"))?;
    let want = hex32("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
    check!(*s1 == want && *s2 == want, "X25519 shared secret");
    Ok(())
}
/// Device jobs of x25519(): one multiply, two public keys, two agreements.
const X25519_JOBS: u64 = 5;

/// ECDH on P-256: public keys computed on the device equal the CPU backend's, both sides of an agreement agree
/// with each other and with the CPU backend, and the raw `ecdh_p256` equals the agreement.
async fn ecdh(dev: &Accel, cpu: &Accel, seed: u32) -> TestResult {
    let a = EcPrivateKey::from_bytes(EcCurve::P256, &data(32, seed)).map_err(|e| e.to_string())?;
    let b = EcPrivateKey::from_bytes(EcCurve::P256, &data(32, seed + 1)).map_err(|e| e.to_string())?;
    let pa = dev.ec_public_key(&a).await.map_err(|e| format!("P-256 public key: {e}"))?;
    let pb = dev.ec_public_key(&b).await.map_err(|e| format!("P-256 public key: {e}"))?;
    check!(pa == *a.public_key() && pb == *b.public_key(), "P-256: device public keys differ from the key's own");
    let want = cpu.ec_public_key(&a).await.map_err(|e| e.to_string())?;
    check!(pa == want, "P-256: device public key differs from the CPU backend's");
    let s1 = dev.ecdh(&a, &pb).await.map_err(|e| format!("P-256 ECDH: {e}"))?;
    let s2 = dev.ecdh(&b, &pa).await.map_err(|e| format!("P-256 ECDH: {e}"))?;
    let s3 = cpu.ecdh(&a, &pb).await.map_err(|e| format!("CPU P-256 ECDH: {e}"))?;
    check!(*s1 == *s2 && *s1 == *s3, "P-256 ECDH: the sides (device, device, CPU) do not agree");
    let d: [u8; 32] = a.to_bytes()[..].try_into().unwrap();
    let raw = dev
        .ecdh_p256(&d, pb.x().try_into().unwrap(), pb.y().try_into().unwrap())
        .await
        .map_err(|e| format!("ecdh_p256: {e}"))?;
    check!(raw[..] == s1[..], "ecdh_p256 differs from ecdh");
    Ok(())
}
/// Device jobs of ecdh(): two public keys, two agreements, one raw multiply.
const ECDH_JOBS: u64 = 5;

/// The same error (variant and message) as the CPU backend's.
fn same_error<T: std::fmt::Debug, U: std::fmt::Debug>(
    what: &str,
    got: Result<T, Error>,
    want: Result<U, Error>,
) -> TestResult {
    match (&got, &want) {
        (Err(g), Err(w)) if g.to_string() == w.to_string() && std::mem::discriminant(g) == std::mem::discriminant(w) => {
            Ok(())
        }
        _ => Err(format!("{what}: device {got:?}, CPU backend {want:?}")),
    }
}

/// SQEs `st`'s Accel submitted to the soft HPRE devices (counted at submission; the CQE count a lane's driver
/// updates may still lag the futures it woke).
fn hpre_submitted(st: &Stats) -> u64 {
    st.devices.iter().filter(|d| d.name.starts_with("soft_hpre-")).map(|d| d.submitted).sum()
}

/// Bad inputs the device refuses (a point off the curve, a raw RSA input ≥ n) end in the CPU backend's typed error
/// (the device's error codes carry no documented meaning, so the library lets the CPU path name it: the job is
/// redone there); an OAEP ciphertext ≥ n is refused by the library before any job (the same error as the CPU
/// backend's); an all-zero X25519 result, which the device computes, is refused by the library. Returns the device
/// refusals (each also one CPU job).
async fn bad_inputs(dev: &Accel, cpu: &Accel) -> Result<u64, String> {
    let k = data(32, 77);
    let k: [u8; 32] = k.try_into().unwrap();
    let a = EcPrivateKey::from_bytes(EcCurve::P256, &k).map_err(|e| e.to_string())?;
    let (x, y): ([u8; 32], [u8; 32]) = (a.public_key().x().try_into().unwrap(), a.public_key().y().try_into().unwrap());
    let mut y_bad = y;
    y_bad[31] ^= 1;
    let got = dev.ecdh_p256(&k, &x, &y_bad).await;
    check!(matches!(got, Err(Error::InvalidParameter(_))), "P-256 point off the curve: {got:?}");
    same_error("P-256 point off the curve", got, cpu.ecdh_p256(&k, &x, &y_bad).await)?;

    let rsa = key(KEY2048)?;
    let n = rsa.public_key().modulus().to_vec();
    let e = rsa.public_key().exponent().to_vec();
    let got = dev.rsa_public_raw(&n, &e, &n).await;
    check!(matches!(got, Err(Error::InvalidParameter(_))), "RSA input = n: {got:?}");
    same_error("RSA input = n", got, cpu.rsa_public_raw(&n, &e, &n).await)?;
    let got = dev.rsa_decrypt_oaep(&rsa, RsaHash::Sha256, b"", &n).await;
    check!(got.is_err(), "OAEP ciphertext = n decrypted: {got:?}");
    same_error("OAEP ciphertext = n", got, cpu.rsa_decrypt_oaep(&rsa, RsaHash::Sha256, b"", &n).await)?;

    // u = 0 is of small order: the shared secret is zero.
    let got = dev.x25519_agree(&k, &[0u8; 32]).await;
    check!(matches!(got, Err(Error::InvalidParameter(_))), "X25519 with u = 0: {got:?}");
    Ok(2)
}

/// The soft HPRE device in `mode`: RSA with three key sizes, X25519 and ECDH P-256, all on the devices (no CPU job),
/// then the bad inputs.
pub fn pkey(mode: NotifyMode) -> TestResult {
    rt().block_on(async move {
        let cpu = cpu_accel().await?;
        let dev = device_accel(mode, false).await?;
        let before = *dev.stats().family(Family::Pkey);
        let t = std::time::Instant::now();
        // Different inputs per mode (fixed ones: no RNG).
        let seed = mode.name().bytes().map(u32::from).sum::<u32>() % 64;
        for (i, pem) in [KEY2048, KEY1024, KEY4096].into_iter().enumerate() {
            rsa(&dev, &cpu, pem, 10 * i as u32 + seed).await?;
        }
        x25519(&dev).await?;
        ecdh(&dev, &cpu, 100 + seed).await?;
        let p = *dev.stats().family(Family::Pkey);
        let jobs = 3 * RSA_JOBS_PER_KEY + X25519_JOBS + ECDH_JOBS;
        check!(dev.cpu_jobs() == 0, "{mode}: {} jobs ran on the CPU: {p:?}", dev.cpu_jobs());
        check!(
            p.on_device - before.on_device == jobs && p.device_failures.total() == 0,
            "{mode}: {} jobs on the device, want {jobs}: {p:?}",
            p.on_device - before.on_device
        );
        println!("# async pkey {mode}: {jobs} public-key jobs on soft_hpre in {} ms", t.elapsed().as_millis());
        let sqes = hpre_submitted(&dev.stats());
        let refused = bad_inputs(&dev, &cpu).await?;
        let st = dev.stats();
        let q = *st.family(Family::Pkey);
        // The refused jobs reached the device (one SQE each, plus the all-zero X25519 computed there) and were
        // redone on the CPU, which named the error.
        check!(
            hpre_submitted(&st) - sqes == refused + 1
                && q.on_cpu.get(CpuReason::Unfit) == refused
                && q.on_cpu.total() == refused
                && dev.cpu_jobs() == refused
                && q.on_device - p.on_device == 1,
            "{mode}: after the bad inputs, want {refused} device refusals redone on the CPU: {} SQEs, {q:?}",
            hpre_submitted(&st) - sqes
        );
        Ok(())
    })
}

pub fn pkey_interrupt() -> TestResult {
    pkey(NotifyMode::Interrupt)
}
pub fn pkey_eventfd() -> TestResult {
    pkey(NotifyMode::Eventfd)
}
pub fn pkey_io_uring() -> TestResult {
    pkey(NotifyMode::IoUring)
}
pub fn pkey_busy_poll() -> TestResult {
    pkey(NotifyMode::BusyPoll)
}
pub fn pkey_hybrid() -> TestResult {
    pkey(NotifyMode::Hybrid)
}

/// ECDSA P-256 and X448, which the soft HPRE device does not compute: under `Backend::Auto` they run on the CPU
/// (counted as `CpuReason::Unfit`, no device attempt) with the CPU backend's results; under `Backend::Hardware`
/// they are `Error::Unsupported`.
pub fn pkey_unsupported_falls_back() -> TestResult {
    rt().block_on(async move {
        let cpu = cpu_accel().await?;
        let auto = device_accel(NotifyMode::Eventfd, true).await?;
        let key = EcPrivateKey::from_bytes(EcCurve::P256, &data(32, 5)).map_err(|e| e.to_string())?;
        let msg = data(100, 6);
        let sig = auto.ecdsa_sign_with(&key, &msg, EcdsaNonce::Rfc6979).await.map_err(|e| format!("Auto ECDSA: {e}"))?;
        let want = cpu.ecdsa_sign_with(&key, &msg, EcdsaNonce::Rfc6979).await.map_err(|e| e.to_string())?;
        check!(sig == want, "ECDSA P-256 under Auto differs from the CPU backend");
        let s = [7u8; 56];
        let mut u = [0u8; 56];
        u[0] = 5;
        let got = auto.x448(&s, &u).await.map_err(|e| format!("Auto X448: {e}"))?;
        let want = cpu.x448(&s, &u).await.map_err(|e| e.to_string())?;
        check!(got == want, "X448 under Auto differs from the CPU backend");
        // P-521 (h = 72): the soft device multiplies on P-256 only.
        // Scalars below the 521-bit order: the top byte zero.
        let scalar = |seed| {
            let mut d = data(66, seed);
            d[0] = 0;
            EcPrivateKey::from_bytes(EcCurve::P521, &d).map_err(|e| e.to_string())
        };
        let (a521, b521) = (scalar(7)?, scalar(8)?);
        let pb521 = cpu.ec_public_key(&b521).await.map_err(|e| e.to_string())?;
        let got = auto.ecdh(&a521, &pb521).await.map_err(|e| format!("Auto P-521 ECDH: {e}"))?;
        let want = cpu.ecdh(&a521, &pb521).await.map_err(|e| e.to_string())?;
        check!(got == want, "P-521 ECDH under Auto differs from the CPU backend");
        let p = *auto.stats().family(Family::Pkey);
        // An ECDSA sign is a sign and a verify of the result.
        check!(
            p.on_device == 0 && p.device_failures.total() == 0 && p.on_cpu.get(CpuReason::Unfit) >= 3
                && auto.cpu_jobs() >= 3,
            "Auto: {p:?}"
        );
        let hw = device_accel(NotifyMode::Eventfd, false).await?;
        let r = hw.ecdsa_sign_with(&key, &msg, EcdsaNonce::Rfc6979).await;
        check!(matches!(r, Err(Error::Unsupported(_))), "Hardware ECDSA: {r:?}");
        let r = hw.x448(&s, &u).await;
        check!(matches!(r, Err(Error::Unsupported(_))), "Hardware X448: {r:?}");
        let r = hw.ecdh(&a521, &pb521).await;
        check!(matches!(r, Err(Error::Unsupported(_))), "Hardware P-521 ECDH: {r:?}");
        check!(hw.cpu_jobs() == 0, "Hardware: {} CPU jobs", hw.cpu_jobs());
        Ok(())
    })
}
