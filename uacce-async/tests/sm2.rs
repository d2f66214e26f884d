//! SM2 (GB/T 32918) through the ECC API: sign/verify with Z_A from the user ID, encrypt/decrypt in the C1C3C2
//! layout, key generation on the device; checked against RustCrypto's `sm2` (an independent signer/verifier), its
//! test vector, and an independent decryption written here from the standard (KDF with SM3, C3 = SM3(x2 ‖ M ‖ y2));
//! on the emulated HPRE at QM v3 (every notification mode), at v2 (CPU) and on the CPU backend.

mod common;

use std::time::Duration;

use uacce_async::{
    Accel, EmuOptions, Error, NotifyMode, SM2_DEFAULT_ID, Sm2PrivateKey, Sm2PublicKey, Sm2Signature,
};
use uacce_emu::DeviceKind;
use uacce_sys::qm::QmVersion;
use uacce_testkit::hex;

/// The `sm2` crate's test vector (tests/sm2dsa.rs and tests/examples/pkcs8-private-key.pem of sm2 0.13.3; the
/// signature made by OpenSSL).
const RC_PRIVATE_PEM: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqBHM9VAYItBG0wawIBAQQgS7jfUFciKZWSy+1C
g7NUoT/10/7rOgZgxb3zyHxVlJmhRANCAAQI13rgTAHMTBEENg3Yr2tvffM0KD18
Gmr9VlJAe4e+5QFOKlfDbBUNFjJNxmTjHmQyNZYJxOeYR6WxYcjHNkyK
-----END PRIVATE KEY-----
";
const RC_PUBLIC: &str = "0408D77AE04C01CC4C1104360DD8AF6B6F7DF334283D7C1A6AFD5652407B87BEE5014E2A57C36C150D16324DC664E31E6432359609C4E79847A5B161C8C7364C8A";
const RC_SCALAR: &str = "4BB8DF505722299592CBED4283B354A13FF5D3FEEB3A0660C5BDF3C87C559499";
const RC_ID: &[u8] = b"example@rustcrypto.org";
const RC_MSG: &[u8] = b"testing";
const RC_SIG: &str = "d1dcccedd9fb785e0f67c16b7c52901625c0b69de9bca2144acc7be713cad2fcf7d1eae6e3a157b36c65f672f738ca8b46298bf149a6510072c431b49cd88b1c";

/// (completed, failed) jobs of the emulated HPRE devices.
fn hpre_counts(accel: &Accel) -> (u64, u64) {
    accel
        .emulated_devices()
        .iter()
        .filter(|d| d.config().kind == DeviceKind::Hpre)
        .map(|d| (d.counters().completed, d.counters().failed))
        .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1))
}

async fn emu(version: QmVersion, mode: NotifyMode) -> Accel {
    let opts = EmuOptions::default().version(version).depth(16);
    common::emu(mode, opts, Some(Duration::from_secs(20))).await
}

/// SM2 decryption written from GB/T 32918.4 with the `sm2` crate's arithmetic and `sm3`, independent of the code
/// under test: C1 ‖ C3 ‖ C2 → M, or None when C3 does not match.
fn reference_decrypt(d: &[u8], ct: &[u8]) -> Option<Vec<u8>> {
    use sm2::elliptic_curve::sec1::{FromEncodedPoint, ToEncodedPoint};
    use sm3::Digest;
    let c1 = sm2::EncodedPoint::from_bytes(&ct[..65]).ok()?;
    let c1: Option<sm2::AffinePoint> = sm2::AffinePoint::from_encoded_point(&c1).into();
    let d = sm2::SecretKey::from_slice(d).ok()?;
    let p = (sm2::ProjectivePoint::from(c1?) * *d.to_nonzero_scalar()).to_affine();
    let ep = p.to_encoded_point(false);
    let (x2, y2) = (ep.x()?.to_vec(), ep.y()?.to_vec());
    let (c3, c2) = ct[65..].split_at(32);
    let mut t = Vec::new();
    let mut ctr = 1u32;
    while t.len() < c2.len() {
        let mut h = sm3::Sm3::new();
        h.update(&x2);
        h.update(&y2);
        h.update(ctr.to_be_bytes());
        t.extend_from_slice(&h.finalize());
        ctr += 1;
    }
    let m: Vec<u8> = c2.iter().zip(&t).map(|(a, b)| a ^ b).collect();
    let mut h = sm3::Sm3::new();
    h.update(&x2);
    h.update(&m);
    h.update(&y2);
    (h.finalize()[..] == *c3).then_some(m)
}

async fn every_sm2_operation(name: &str, accel: &Accel) {
    // The sm2 crate's vector: the PKCS#8 key reads, its OpenSSL-made signature verifies here.
    let key = Sm2PrivateKey::from_pem(RC_PRIVATE_PEM).unwrap();
    assert_eq!(key.to_bytes()[..], hex(RC_SCALAR)[..]);
    assert_eq!(key.public_key().to_sec1_bytes(), &hex(RC_PUBLIC)[..]);
    let sig = Sm2Signature::from_bytes(&hex(RC_SIG)).unwrap();
    accel
        .sm2_verify(key.public_key(), Some(RC_ID), RC_MSG, &sig)
        .await
        .unwrap();
    // Another ID, another message: refused.
    for (id, msg) in [(None, RC_MSG), (Some(RC_ID), &b"testinG"[..])] {
        assert!(
            matches!(
                accel.sm2_verify(key.public_key(), id, msg, &sig).await,
                Err(Error::BadSignature)
            ),
            "{name}"
        );
    }

    // Ours verifies with RustCrypto's sm2 (default ID), RustCrypto's with ours.
    use sm2::dsa::signature::{Signer, Verifier};
    let key = Sm2PrivateKey::generate();
    let msg = b"SM2 on the HPRE";
    let ours = accel.sm2_sign(&key, None, msg).await.unwrap();
    let rc_key = sm2::SecretKey::try_from(&key).unwrap();
    let id = std::str::from_utf8(SM2_DEFAULT_ID).unwrap();
    let sk = sm2::dsa::SigningKey::new(id, &rc_key).unwrap();
    sk.verifying_key()
        .verify(
            msg,
            &sm2::dsa::Signature::from_slice(ours.to_bytes()).unwrap(),
        )
        .unwrap();
    let theirs: sm2::dsa::Signature = sk.sign(msg);
    let theirs = Sm2Signature::from_bytes(&theirs.to_bytes()).unwrap();
    accel
        .sm2_verify(key.public_key(), None, msg, &theirs)
        .await
        .unwrap();
    accel
        .sm2_verify(key.public_key(), Some(SM2_DEFAULT_ID), msg, &ours)
        .await
        .unwrap();
    let mut bad = *ours.to_bytes();
    bad[63] ^= 1;
    assert!(matches!(
        accel
            .sm2_verify(
                key.public_key(),
                None,
                msg,
                &Sm2Signature::from_bytes(&bad).unwrap()
            )
            .await,
        Err(Error::BadSignature)
    ));

    // Encrypt: C1C3C2, decrypted by the reference; decrypt round trip; 1 and 512 bytes.
    for len in [1usize, 19, 512] {
        let m: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
        let ct = accel.sm2_encrypt(key.public_key(), &m).await.unwrap();
        assert_eq!(ct.len(), 65 + 32 + len);
        assert_eq!(ct[0], 4);
        assert_eq!(
            reference_decrypt(&key.to_bytes(), &ct),
            Some(m.clone()),
            "{name}"
        );
        assert_eq!(accel.sm2_decrypt(&key, &ct).await.unwrap()[..], m[..]);
        // A changed C2 or C3: the C3 check fails.
        for i in [70, ct.len() - 1] {
            let mut bad = ct.clone();
            bad[i] ^= 1;
            assert!(
                matches!(accel.sm2_decrypt(&key, &bad).await, Err(Error::AuthFailed)),
                "{name}"
            );
        }
        // Another key: the C3 check fails too.
        assert!(matches!(
            accel.sm2_decrypt(&Sm2PrivateKey::generate(), &ct).await,
            Err(Error::AuthFailed)
        ));
        // C1 off the curve.
        let mut bad = ct.clone();
        bad[64] ^= 1;
        assert!(matches!(
            accel.sm2_decrypt(&key, &bad).await,
            Err(Error::InvalidParameter(_))
        ));
    }
    // Lengths: empty, over the API's bound (longer than one SQE is the split path: tests/sm2_split.rs), a
    // truncated ciphertext.
    assert!(matches!(
        accel.sm2_encrypt(key.public_key(), &[]).await,
        Err(Error::InvalidLength { .. })
    ));
    assert!(matches!(
        accel
            .sm2_encrypt(key.public_key(), &vec![0; uacce_async::SM2_MAX_MESSAGE + 1])
            .await,
        Err(Error::InvalidLength { .. })
    ));
    assert!(matches!(
        accel.sm2_decrypt(&key, &[4; 97]).await,
        Err(Error::InvalidLength { .. })
    ));

    // Key generation (on the device where there is one): a working key.
    let g = accel.sm2_generate().await.unwrap();
    let sig = accel.sm2_sign(&g, Some(b"alice"), msg).await.unwrap();
    accel
        .sm2_verify(g.public_key(), Some(b"alice"), msg, &sig)
        .await
        .unwrap();
    assert_ne!(g.to_bytes(), accel.sm2_generate().await.unwrap().to_bytes());
}

#[tokio::test]
async fn sm2_in_every_mode_on_v3() {
    for mode in NotifyMode::ALL {
        let accel = emu(QmVersion::V3, mode).await;
        let before = hpre_counts(&accel);
        every_sm2_operation(&format!("v3 {mode:?}"), &accel).await;
        let after = hpre_counts(&accel);
        // Every SM2 job reached the device: 8 sign/verify jobs (the vector, 2 refused verifies, sign + its check,
        // 2 verifies, 1 refused), 5 per message length × 3 (encrypt, decrypt, 3 decrypts whose C3 check fails on
        // the device: the failed ones), 5 for keygen (2 keygens, sign + check, verify). C1 off the curve is refused
        // before any job.
        assert_eq!(
            (after.0 - before.0, after.1 - before.1),
            (28, 9),
            "{mode:?}"
        );
    }
}

#[tokio::test]
async fn sm2_on_v2_runs_on_the_cpu() {
    let accel = emu(QmVersion::V2, NotifyMode::Eventfd).await;
    every_sm2_operation("v2", &accel).await;
    assert_eq!(hpre_counts(&accel), (0, 0));
}

#[tokio::test]
async fn sm2_on_the_cpu_backend() {
    every_sm2_operation("cpu", &common::cpu().await).await;
}

#[test]
fn sm2_keys_and_bad_input() {
    let key = Sm2PrivateKey::generate();
    let again = Sm2PrivateKey::from_pem(&key.to_pkcs8_pem().unwrap()).unwrap();
    assert_eq!(again.to_bytes(), key.to_bytes());
    let again = Sm2PrivateKey::from_pkcs8_der(&key.to_pkcs8_der().unwrap()).unwrap();
    assert_eq!(again.public_key(), key.public_key());
    let pk = key.public_key();
    assert_eq!(
        &Sm2PublicKey::from_public_key_der(&pk.to_public_key_der().unwrap()).unwrap(),
        pk
    );
    assert_eq!(
        &Sm2PublicKey::from_sec1_bytes(pk.to_sec1_bytes()).unwrap(),
        pk
    );
    assert_eq!(
        Sm2PublicKey::from(sm2::SecretKey::try_from(&key).unwrap().public_key()),
        *pk
    );
    // Off the curve, zero, n - 1 (cannot sign), wrong lengths.
    let mut p = pk.to_sec1_bytes().to_vec();
    p[64] ^= 1;
    assert!(matches!(
        Sm2PublicKey::from_sec1_bytes(&p),
        Err(Error::InvalidParameter(_))
    ));
    assert!(matches!(
        Sm2PrivateKey::from_bytes(&[0; 32]),
        Err(Error::InvalidParameter(_))
    ));
    let n_minus_1 = hex("FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54122");
    assert!(matches!(
        Sm2PrivateKey::from_bytes(&n_minus_1),
        Err(Error::InvalidParameter(_))
    ));
    assert!(matches!(
        Sm2PrivateKey::from_bytes(&[1; 31]),
        Err(Error::InvalidKeyLength { .. })
    ));
    assert!(matches!(
        Sm2Signature::from_bytes(&[1; 63]),
        Err(Error::InvalidLength { .. })
    ));
    assert!(matches!(
        Sm2Signature::from_bytes(&[0; 64]),
        Err(Error::InvalidParameter(_))
    ));
}
