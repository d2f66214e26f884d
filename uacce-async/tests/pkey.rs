//! The first public-key jobs (raw RSA, X25519, ECDH P-256) through the async layer: on the emulated HPRE device
//! (the jobs must reach it: its counters say so) and on the CPU backend, against known answers (OpenSSL, RFC 7748,
//! FIPS 186-4; the vectors are shared with `uacce-soft`'s tests), with bad inputs giving typed errors.

mod common;
#[path = "../../uacce-soft/tests/vectors.rs"]
mod vectors;

use uacce_async::{Accel, EmuOptions, Error, NotifyMode};
use uacce_emu::DeviceKind;
use uacce_sys::qm::QmVersion;
use vectors::*;

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn arr32(v: &[u8]) -> [u8; 32] {
    v.try_into().unwrap()
}

fn hpre_jobs(accel: &Accel) -> u64 {
    accel
        .emulated_devices()
        .iter()
        .filter(|d| d.config().kind == DeviceKind::Hpre)
        .map(|d| d.counters().completed)
        .sum()
}

async fn emu(version: QmVersion) -> Accel {
    let opts = EmuOptions::default().version(version).depth(16);
    common::emu(NotifyMode::Eventfd, opts, None).await
}

async fn check_all(accel: &Accel) {
    for v in [&RSA1024, &RSA2048] {
        let (n, e, d, m, c) = (hex(v.n), hex(v.e), hex(v.d), hex(v.m), hex(v.c));
        assert_eq!(accel.rsa_public_raw(&n, &e, &m).await.unwrap()[..], c[..]);
        assert_eq!(accel.rsa_private_raw(&n, &d, &c).await.unwrap()[..], m[..]);
        let crt = accel
            .rsa_private_crt_raw(
                &hex(v.p),
                &hex(v.q),
                &hex(v.dp),
                &hex(v.dq),
                &hex(v.qinv),
                &c,
            )
            .await
            .unwrap();
        assert_eq!(crt[..], m[..]);
        // Input >= n: a typed error, whichever path ran it.
        assert!(matches!(
            accel.rsa_public_raw(&n, &e, &n).await,
            Err(Error::InvalidParameter(_))
        ));
    }
    // A 512-bit modulus is not an HPRE size.
    assert!(matches!(
        accel.rsa_public_raw(&[0xFF; 64], &[3], &[2]).await,
        Err(Error::InvalidParameter(_))
    ));

    // RFC 7748 §6.1 and §5.2.
    let mut nine = [0u8; 32];
    nine[0] = 9;
    let a = arr32(&hex(X25519_ALICE_PRIV));
    assert_eq!(
        accel.x25519(&a, &nine).await.unwrap(),
        arr32(&hex(X25519_ALICE_PUB))
    );
    assert_eq!(
        accel
            .x25519(&a, &arr32(&hex(X25519_BOB_PUB)))
            .await
            .unwrap(),
        arr32(&hex(X25519_SHARED))
    );
    assert_eq!(
        accel
            .x25519(&arr32(&hex(X25519_52[0])), &arr32(&hex(X25519_52[1])))
            .await
            .unwrap(),
        arr32(&hex(X25519_52[2]))
    );

    // P-256: the NIST key pair, and two parties agree.
    let v = &ECDSA_P256;
    let d = arr32(&hex(v.d));
    let (qx, qy) = accel.ecdh_p256_public(&d).await.unwrap();
    assert_eq!((qx.to_vec(), qy.to_vec()), (hex(v.qx), hex(v.qy)));
    let other = [0x24u8; 32];
    let (ox, oy) = accel.ecdh_p256_public(&other).await.unwrap();
    let s1 = accel.ecdh_p256(&d, &ox, &oy).await.unwrap();
    let s2 = accel.ecdh_p256(&other, &qx, &qy).await.unwrap();
    assert_eq!(s1, s2);
    // A point off the curve, a zero private key.
    let mut bad_y = qy;
    bad_y[31] ^= 1;
    assert!(matches!(
        accel.ecdh_p256(&other, &qx, &bad_y).await,
        Err(Error::InvalidParameter(_))
    ));
    assert!(matches!(
        accel.ecdh_p256(&[0; 32], &qx, &qy).await,
        Err(Error::InvalidParameter(_))
    ));
}

#[tokio::test]
async fn pkey_on_the_emulated_hpre_v3() {
    let accel = emu(QmVersion::V3).await;
    check_all(&accel).await;
    // Every job reached the HPRE device, the refused ones too (before the CPU said why): 4 RSA jobs per key, 3
    // X25519, 6 P-256; of them the two RSA inputs >= n and the two bad ECDH requests failed on the device. (The
    // 512-bit modulus is refused before any job.)
    let dev = accel
        .emulated_devices()
        .iter()
        .find(|d| d.config().kind == DeviceKind::Hpre)
        .unwrap();
    assert_eq!((dev.counters().completed, dev.counters().failed), (17, 4));
}

/// On QM v2 there is no ECC queue: RSA runs on the device, X25519 and ECDH on the CPU, with the same answers.
#[tokio::test]
async fn pkey_on_v2_sends_ecc_to_the_cpu() {
    let accel = emu(QmVersion::V2).await;
    let before = hpre_jobs(&accel);
    let mut nine = [0u8; 32];
    nine[0] = 9;
    let a = arr32(&hex(X25519_ALICE_PRIV));
    assert_eq!(
        accel.x25519(&a, &nine).await.unwrap(),
        arr32(&hex(X25519_ALICE_PUB))
    );
    assert_eq!(hpre_jobs(&accel), before);
    check_all(&accel).await;
    assert!(hpre_jobs(&accel) > before);
}

#[tokio::test]
async fn pkey_on_the_cpu_backend() {
    let accel = common::cpu().await;
    check_all(&accel).await;
}

/// What the library sends, byte for byte in the fields the protocol fixes (protocol doc §12.5, §12.7): through the
/// public API, read back from the emulated device's SQE trace.
#[tokio::test]
async fn sqes_are_those_uadk_sends() {
    let accel = emu(QmVersion::V3).await;
    let dev = accel
        .emulated_devices()
        .iter()
        .find(|d| d.config().kind == DeviceKind::Hpre)
        .unwrap()
        .clone();
    dev.set_trace(true);
    let v = &RSA2048;
    accel
        .rsa_private_crt_raw(
            &hex(v.p),
            &hex(v.q),
            &hex(v.dp),
            &hex(v.dq),
            &hex(v.qinv),
            &hex(v.c),
        )
        .await
        .unwrap();
    let d = arr32(&hex(ECDSA_P256.d));
    accel.ecdh_p256_public(&d).await.unwrap();
    let mut nine = [0u8; 32];
    nine[0] = 9;
    accel.x25519(&d, &nine).await.unwrap();
    let t = dev.take_trace();
    assert_eq!(t.len(), 3);
    // RSA-2048 CRT: dw0 = 0x40000001, dw1 = 0x1F, a 640-byte key block dq ‖ dp ‖ q ‖ p ‖ qinv, 64-byte SQE.
    assert_eq!(t[0].qc_type, 0);
    assert_eq!(&t[0].sqe[..8], &[0x01, 0, 0, 0x40, 0x1F, 0, 0, 0]);
    let key = &t[0].read("key").unwrap().bytes;
    assert_eq!(key.len(), 640);
    assert_eq!(&key[..128], &hex(v.dq)[..]);
    assert_eq!(&key[512..], &hex(v.qinv)[..]);
    assert!(t[0].sqe[40..].iter().all(|&b| b == 0));
    // ECDH P-256 keygen on v3: dw0 = 0x4000000D, dw1 = 0x80000003 (bd_rsv2), key = 5 × 32, in = Gx ‖ Gy.
    assert_eq!(t[1].qc_type, 1);
    assert_eq!(&t[1].sqe[..8], &[0x0D, 0, 0, 0x40, 0x03, 0, 0, 0x80]);
    assert_eq!(t[1].read("key").unwrap().bytes.len(), 160);
    assert_eq!(
        &t[1].read("in").unwrap().bytes[..4],
        &[0x6B, 0x17, 0xD1, 0xF2]
    );
    // X25519: dw0 = 0x40000010, dw1 = 3; key = p ‖ a ‖ clamped k (big-endian), in = u big-endian.
    assert_eq!(&t[2].sqe[..8], &[0x10, 0, 0, 0x40, 0x03, 0, 0, 0]);
    let key = &t[2].read("key").unwrap().bytes;
    assert_eq!(
        (key[0], key[31], &key[61..64]),
        (0x7F, 0xED, &[0x01, 0xDB, 0x41][..])
    );
    assert_eq!(key[64] & 0xC0, 0x40);
    assert_eq!(key[95] & 0x07, 0);
    assert_eq!(t[2].read("in").unwrap().bytes[31], 9);
}
