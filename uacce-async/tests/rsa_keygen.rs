//! RSA key generation (`Accel::rsa_generate_key`): primes from aws-lc-rs, d and the CRT parameters from the HPRE's
//! KG_STD / KG_CRT (protocol doc §12.4) on the emulated device at QM v3 (every notification mode) and v2, the
//! CPU backend's aws-lc key; every key checked by the `rsa` crate's validation and OpenSSL (`pkey -check`, signing
//! with it, verifying ours), and used for signatures and OAEP on the device and the CPU backend.

mod common;

use std::time::Duration;

use uacce_async::{Accel, EmuOptions, Error, NotifyMode, RSA_KEYGEN_BITS, RsaHash, RsaPrivateKey};
use uacce_emu::DeviceKind;
use uacce_sys::qm::QmVersion;

fn hpre(accel: &Accel) -> uacce_emu::EmuDevice {
    accel
        .emulated_devices()
        .iter()
        .find(|d| d.config().kind == DeviceKind::Hpre)
        .cloned()
        .expect("an emulated HPRE")
}

fn completed(accel: &Accel) -> u64 {
    accel
        .emulated_devices()
        .iter()
        .filter(|d| d.config().kind == DeviceKind::Hpre)
        .map(|d| d.counters().completed)
        .sum()
}

async fn emu(version: QmVersion, mode: NotifyMode) -> Accel {
    let opts = EmuOptions::default().version(version).depth(16);
    common::emu(mode, opts, Some(Duration::from_secs(30))).await
}

/// The key works: the `rsa` crate validates it (n = p·q, d·e ≡ 1, CRT values), signatures and OAEP round-trip on
/// `accel` and on `cpu` both ways.
async fn key_works(name: &str, key: &RsaPrivateKey, bits: usize, accel: &Accel, cpu: &Accel) {
    use rsa::traits::PublicKeyParts;
    assert_eq!(key.bits(), bits, "{name}");
    let rc = rsa::RsaPrivateKey::try_from(key).unwrap();
    rc.validate().unwrap();
    assert_eq!(rc.e(), &rsa::BigUint::from(65537u32));
    assert_eq!(rc.n().bits(), bits);
    let pk = key.public_key();
    let msg = b"a message signed with a generated key";
    let sig = accel.rsa_sign_pss(key, RsaHash::Sha256, msg).await.unwrap();
    cpu.rsa_verify_pss(&pk, RsaHash::Sha256, msg, &sig)
        .await
        .unwrap();
    let sig = cpu
        .rsa_sign_pkcs1v15(key, RsaHash::Sha384, msg)
        .await
        .unwrap();
    accel
        .rsa_verify_pkcs1v15(&pk, RsaHash::Sha384, msg, &sig)
        .await
        .unwrap();
    assert!(matches!(
        accel
            .rsa_verify_pkcs1v15(&pk, RsaHash::Sha384, b"another", &sig)
            .await,
        Err(Error::BadSignature)
    ));
    let ct = cpu
        .rsa_encrypt_oaep(&pk, RsaHash::Sha256, b"label", b"secret")
        .await
        .unwrap();
    assert_eq!(
        &accel
            .rsa_decrypt_oaep(key, RsaHash::Sha256, b"label", &ct)
            .await
            .unwrap()[..],
        b"secret"
    );
}

/// Every notification mode on the emulated HPRE v3: 2048-bit keys, two keygen SQEs plus the self-test's sign (two
/// SQEs: the private operation and its fault check on the device, `RsaFaultCheck::Device`) and verify on the
/// device; two keys differ.
#[tokio::test]
async fn keygen_in_every_mode_on_v3() {
    let cpu = common::cpu().await;
    for mode in NotifyMode::ALL {
        let accel = emu(QmVersion::V3, mode).await;
        let before = completed(&accel);
        let key = accel.rsa_generate_key(2048).await.unwrap();
        assert_eq!(completed(&accel) - before, 5, "{mode:?}");
        key_works(&format!("v3 {mode:?}"), &key, 2048, &accel, &cpu).await;
        let other = accel.rsa_generate_key(2048).await.unwrap();
        assert_ne!(other.public_key(), key.public_key());
    }
}

/// RSA keygen is a v2 algorithm (queue type 0): it runs on the device at QM v2 too; and every size on v3.
#[tokio::test]
async fn keygen_on_v2_and_every_size() {
    let cpu = common::cpu().await;
    let v2 = emu(QmVersion::V2, NotifyMode::Eventfd).await;
    let before = completed(&v2);
    let key = v2.rsa_generate_key(2048).await.unwrap();
    // KG_STD, KG_CRT, the self-test's sign (private operation and device check) and verify.
    assert_eq!(completed(&v2) - before, 5);
    key_works("v2", &key, 2048, &v2, &cpu).await;
    let v3 = emu(QmVersion::V3, NotifyMode::Eventfd).await;
    for bits in RSA_KEYGEN_BITS {
        let key = v3.rsa_generate_key(bits).await.unwrap();
        key_works(&format!("v3 {bits}"), &key, bits, &v3, &cpu).await;
    }
}

/// The CPU backend: aws-lc's key, imported; works on the emulated device too.
#[tokio::test]
async fn keygen_on_the_cpu_backend() {
    let cpu = common::cpu().await;
    let dev = emu(QmVersion::V3, NotifyMode::Eventfd).await;
    for bits in [2048, 3072] {
        let key = cpu.rsa_generate_key(bits).await.unwrap();
        key_works(&format!("cpu {bits}"), &key, bits, &cpu, &dev).await;
    }
}

/// Sizes other than 2048, 3072 and 4096 are refused with a typed error, before any work.
#[tokio::test]
async fn bad_sizes_are_refused() {
    for accel in [
        common::cpu().await,
        emu(QmVersion::V3, NotifyMode::Eventfd).await,
    ] {
        for bits in [0, 512, 1024, 1536, 2047, 2049, 8192, usize::MAX] {
            assert!(
                matches!(
                    accel.rsa_generate_key(bits).await,
                    Err(Error::InvalidKeyLength { .. })
                ),
                "{bits}"
            );
        }
    }
}

/// The SQEs as UADK's `wd_rsa` key generation sends them (protocol doc §12.4, §12.7): KG_STD dw0 0x40000002 and
/// KG_CRT 0x40000003, dw1 = k/8 − 1, input address 0, key = e(k) ‖ p(k/2) ‖ q(k/2) with e = 65537 and p·q = n.
#[tokio::test]
async fn keygen_sqes_are_those_uadk_sends() {
    use rsa::traits::{PrivateKeyParts, PublicKeyParts};
    let accel = emu(QmVersion::V3, NotifyMode::Eventfd).await;
    let dev = hpre(&accel);
    dev.set_trace(true);
    let key = accel.rsa_generate_key(3072).await.unwrap();
    let t = dev.take_trace();
    let kg: Vec<_> = t
        .iter()
        .filter(|r| r.sqe[0] & 0x1F <= 3 && r.sqe[0] & 0x1F >= 2)
        .collect();
    assert_eq!(kg.len(), 2);
    let k = 384;
    let rc = rsa::RsaPrivateKey::try_from(&key).unwrap();
    let mut algs: Vec<u8> = kg.iter().map(|r| r.sqe[0]).collect();
    algs.sort();
    assert_eq!(algs, [0x02, 0x03]);
    for r in kg {
        assert_eq!(&r.sqe[1..8], &[0, 0, 0x40, 0x2F, 0, 0, 0]);
        assert_eq!(&r.sqe[16..24], &[0; 8], "no input");
        assert!(r.sqe[40..64].iter().all(|&b| b == 0));
        assert_eq!(r.qc_type, 0);
        let block = &r.read("key").unwrap().bytes;
        assert_eq!(block.len(), 2 * k);
        assert!(block[..k - 3].iter().all(|&b| b == 0));
        assert_eq!(&block[k - 3..k], &[1, 0, 1]);
        let p = rsa::BigUint::from_bytes_be(&block[k..k + k / 2]);
        let q = rsa::BigUint::from_bytes_be(&block[k + k / 2..]);
        assert_eq!(&(&p * &q), rc.n());
        assert!(rc.primes().contains(&p) && rc.primes().contains(&q));
    }
}

/// OpenSSL accepts keys generated on the device: `openssl pkey -check` / `rsa -check` on the PKCS#8 and PKCS#1
/// files, a signature OpenSSL makes with the key verifies here, ours verifies in OpenSSL.
#[tokio::test]
async fn openssl_accepts_generated_keys() {
    let accel = emu(QmVersion::V3, NotifyMode::Eventfd).await;
    let dir = tempfile::tempdir().unwrap();
    let p = |f: &str| dir.path().join(f).to_str().unwrap().to_string();
    let key = accel.rsa_generate_key(2048).await.unwrap();
    std::fs::write(p("k8.pem"), key.to_pkcs8_pem().unwrap().as_bytes()).unwrap();
    std::fs::write(p("k1.pem"), key.to_pkcs1_pem().unwrap().as_bytes()).unwrap();
    std::fs::write(p("pub.pem"), key.public_key().to_public_key_pem().unwrap()).unwrap();
    let out = common::openssl(&["pkey", "-in", &p("k8.pem"), "-check", "-noout"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("Key is valid"));
    let out = common::openssl(&["rsa", "-in", &p("k1.pem"), "-check", "-noout"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("RSA key ok"));
    let msg = b"checked by OpenSSL".repeat(5);
    std::fs::write(p("msg"), &msg).unwrap();
    common::openssl(&[
        "dgst",
        "-sha256",
        "-sign",
        &p("k8.pem"),
        "-out",
        &p("theirs"),
        &p("msg"),
    ]);
    let theirs = std::fs::read(p("theirs")).unwrap();
    accel
        .rsa_verify_pkcs1v15(&key.public_key(), RsaHash::Sha256, &msg, &theirs)
        .await
        .unwrap();
    let ours = accel
        .rsa_sign_pkcs1v15(&key, RsaHash::Sha256, &msg)
        .await
        .unwrap();
    assert_eq!(ours, theirs, "PKCS#1 v1.5 signatures are deterministic");
    let mut bad = ours.clone();
    bad[10] ^= 1;
    std::fs::write(p("bad"), &bad).unwrap();
    let out = std::process::Command::new("openssl")
        .args([
            "dgst",
            "-sha256",
            "-verify",
            &p("pub.pem"),
            "-signature",
            &p("bad"),
            &p("msg"),
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
}
