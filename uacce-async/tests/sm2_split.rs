//! SM2 encryption and decryption of messages longer than one HPRE SQE carries (513 bytes to `SM2_MAX_MESSAGE`):
//! UADK's split path (protocol doc §12.4 "Split SM2"; UADK `sm2_enc_send` / `sm2_dec_send`): encrypt = two ECC
//! multiplies (alg 0x0D, bd_rsv2 = 1, dw10 = 0xE, key p ‖ a ‖ k ‖ b ‖ n, in = G then the public key), decrypt = one
//! (dw10 = 0xF, in = C1), the KDF and C3 in software.
//!
//! Checked: the standard C1 ‖ C3 ‖ C2 ciphertext, decrypted by an independent decryption written here from
//! GB/T 32918.4 and by OpenSSL (`pkeyutl -decrypt`, its DER `SM2Ciphertext` form), and OpenSSL's ciphertexts
//! decrypted here; every notification mode on the emulator v3 (the jobs and their SQEs reach the device), v2 and
//! the CPU backend; device and CPU backend decrypt each other's ciphertexts; typed errors for changed ciphertexts,
//! wrong keys, C1 off the curve and lengths over the bound.

mod common;

use std::time::Duration;

use uacce_async::{
    Accel, EmuOptions, Error, NotifyMode, SM2_MAX_MESSAGE, Sm2PrivateKey, Sm2PublicKey,
};
use uacce_emu::DeviceKind;
use uacce_sys::qm::QmVersion;

/// (completed, failed) jobs of the emulated HPRE devices.
fn hpre_counts(accel: &Accel) -> (u64, u64) {
    accel
        .emulated_devices()
        .iter()
        .filter(|d| d.config().kind == DeviceKind::Hpre)
        .map(|d| (d.counters().completed, d.counters().failed))
        .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1))
}

fn hpre(accel: &Accel) -> uacce_emu::EmuDevice {
    accel
        .emulated_devices()
        .iter()
        .find(|d| d.config().kind == DeviceKind::Hpre)
        .cloned()
        .expect("an emulated HPRE")
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

fn message(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

const LENGTHS: [usize; 3] = [513, 1000, 4096 + 7];

async fn split_operations(name: &str, accel: &Accel) {
    let key = Sm2PrivateKey::generate();
    for len in LENGTHS {
        let m = message(len, len as u8);
        let ct = accel.sm2_encrypt(key.public_key(), &m).await.unwrap();
        assert_eq!(ct.len(), 65 + 32 + len);
        assert_eq!(ct[0], 4);
        assert_eq!(
            reference_decrypt(&key.to_bytes(), &ct),
            Some(m.clone()),
            "{name}"
        );
        assert_ne!(&ct[97..], &m[..], "C2 is not the plaintext");
        assert_eq!(accel.sm2_decrypt(&key, &ct).await.unwrap()[..], m[..]);
        // A fresh k every time.
        assert_ne!(
            accel.sm2_encrypt(key.public_key(), &m).await.unwrap()[..65],
            ct[..65]
        );
        // A changed C2 (first and last byte) or C3: the software C3 check fails.
        for i in [97, ct.len() - 1, 80] {
            let mut bad = ct.clone();
            bad[i] ^= 1;
            assert!(
                matches!(accel.sm2_decrypt(&key, &bad).await, Err(Error::AuthFailed)),
                "{name} {len} {i}"
            );
        }
        // Another key.
        assert!(matches!(
            accel.sm2_decrypt(&Sm2PrivateKey::generate(), &ct).await,
            Err(Error::AuthFailed)
        ));
        // C1 off the curve: refused before any job.
        let mut bad = ct.clone();
        bad[64] ^= 1;
        assert!(matches!(
            accel.sm2_decrypt(&key, &bad).await,
            Err(Error::InvalidParameter(_))
        ));
    }
    // Over the bound, both ways.
    assert!(matches!(
        accel
            .sm2_encrypt(key.public_key(), &vec![1; SM2_MAX_MESSAGE + 1])
            .await,
        Err(Error::InvalidLength { .. })
    ));
    let mut long = vec![0u8; 97 + SM2_MAX_MESSAGE + 1];
    long[0] = 4;
    assert!(matches!(
        accel.sm2_decrypt(&key, &long).await,
        Err(Error::InvalidLength { .. })
    ));
}

/// Every notification mode on the emulated HPRE v3: per length 2 + 2 encrypt multiplies, 1 decrypt multiply, 4
/// decrypt multiplies whose software C3 check fails (the device completes them: the check is software's).
#[tokio::test]
async fn split_in_every_mode_on_v3() {
    for mode in NotifyMode::ALL {
        let accel = emu(QmVersion::V3, mode).await;
        let before = hpre_counts(&accel);
        split_operations(&format!("v3 {mode:?}"), &accel).await;
        let after = hpre_counts(&accel);
        assert_eq!(
            (after.0 - before.0, after.1 - before.1),
            (9 * LENGTHS.len() as u64, 0),
            "{mode:?}"
        );
    }
}

#[tokio::test]
async fn split_on_v2_and_the_cpu_backend() {
    let accel = emu(QmVersion::V2, NotifyMode::Eventfd).await;
    split_operations("v2", &accel).await;
    assert_eq!(hpre_counts(&accel), (0, 0));
    split_operations("cpu", &common::cpu().await).await;
}

/// The device decrypts the CPU backend's ciphertexts and the other way round; the longest message works.
#[tokio::test]
async fn device_and_cpu_backend_interoperate() {
    let dev = emu(QmVersion::V3, NotifyMode::Eventfd).await;
    let cpu = common::cpu().await;
    let key = Sm2PrivateKey::generate();
    for (len, a, b) in [(600, &dev, &cpu), (2048, &cpu, &dev)] {
        let m = message(len, 9);
        let ct = a.sm2_encrypt(key.public_key(), &m).await.unwrap();
        assert_eq!(b.sm2_decrypt(&key, &ct).await.unwrap()[..], m[..]);
    }
    let m = message(SM2_MAX_MESSAGE, 1);
    let ct = dev.sm2_encrypt(key.public_key(), &m).await.unwrap();
    assert_eq!(ct.len(), 97 + SM2_MAX_MESSAGE);
    assert_eq!(dev.sm2_decrypt(&key, &ct).await.unwrap()[..], m[..]);
}

/// The SQEs as UADK writes them (protocol doc §12.4, §12.7; UADK `ecc_prepare_in`: sm2_mlen = 0xE/0xF and
/// bd_rsv2 = 1 on the split multiplies): encrypt = two SQEs dw0 0x4000000D, dw1 0x80000003, dw10 0xE, key 5 × 32
/// = p ‖ a ‖ k ‖ b ‖ n with the same k in both, in = G then the public key; C1 is the first one's output. Decrypt
/// = one SQE with dw10 0xF, key d in the third field, in = C1. A 512-byte message still takes the single SQE.
#[tokio::test]
async fn split_sqes_are_those_uadk_sends() {
    let accel = emu(QmVersion::V3, NotifyMode::Eventfd).await;
    let dev = hpre(&accel);
    let key = Sm2PrivateKey::generate();
    let g = uacce_soft::pkey::curve_params(uacce_soft::pkey::CurveId::Sm2);
    dev.set_trace(true);
    let ct = accel
        .sm2_encrypt(key.public_key(), &message(777, 3))
        .await
        .unwrap();
    let t = dev.take_trace();
    assert_eq!(t.len(), 2);
    let mut ins = Vec::new();
    for r in &t {
        assert_eq!(&r.sqe[..8], &[0x0D, 0, 0, 0x40, 0x03, 0, 0, 0x80]);
        assert_eq!(&r.sqe[40..44], &[0x0E, 0, 0, 0]);
        assert!(r.sqe[44..64].iter().all(|&b| b == 0));
        assert_eq!(r.qc_type, 1);
        let k = &r.read("key").unwrap().bytes;
        assert_eq!(k.len(), 5 * 32);
        assert_eq!(&k[..32], &g.p[..]);
        assert_eq!(&k[128..], &g.n[..]);
        ins.push((r.read("in").unwrap().bytes.clone(), k[64..96].to_vec()));
    }
    assert_eq!(ins[0].1, ins[1].1, "the same k in both halves");
    let gin = [g.gx.clone(), g.gy.clone()].concat();
    let pin = key.public_key().to_sec1_bytes()[1..].to_vec();
    // The two jobs may reach the ring in either order; one multiplies G, the other the public key.
    let (first, second) = if ins[0].0 == gin { (0, 1) } else { (1, 0) };
    assert_eq!(ins[first].0, gin);
    assert_eq!(ins[second].0, pin);
    // C1 = k·G for the k both SQEs carried (computed here with the `sm2` crate).
    use sm2::elliptic_curve::sec1::ToEncodedPoint;
    let kg = sm2::SecretKey::from_slice(&ins[0].1).unwrap().public_key();
    assert_eq!(kg.to_encoded_point(false).as_bytes(), &ct[..65]);

    accel.sm2_decrypt(&key, &ct).await.unwrap();
    let t = dev.take_trace();
    assert_eq!(t.len(), 1);
    assert_eq!(&t[0].sqe[..8], &[0x0D, 0, 0, 0x40, 0x03, 0, 0, 0x80]);
    assert_eq!(&t[0].sqe[40..44], &[0x0F, 0, 0, 0]);
    assert_eq!(
        &t[0].read("key").unwrap().bytes[64..96],
        &key.to_bytes()[..]
    );
    assert_eq!(&t[0].read("in").unwrap().bytes[..], &ct[1..65]);

    // 512 bytes: still one SM2 encrypt SQE (alg 0x14, dw10 = 511).
    accel
        .sm2_encrypt(key.public_key(), &message(512, 1))
        .await
        .unwrap();
    let t = dev.take_trace();
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].sqe[0], 0x14);
    assert_eq!(&t[0].sqe[40..44], &[0xFF, 0x01, 0, 0]);
}

// ---------------------------------------------------------------------------------------------------------------------
// OpenSSL: its SM2 ciphertext is the DER SEQUENCE { INTEGER x1, INTEGER y1, OCTET STRING C3, OCTET STRING C2 }
// (GM/T 0009 `SM2Cipher`, OpenSSL `SM2_Ciphertext`).
// ---------------------------------------------------------------------------------------------------------------------

fn der_len(out: &mut Vec<u8>, n: usize) {
    if n < 0x80 {
        out.push(n as u8);
    } else {
        let b = n.to_be_bytes();
        let skip = b.iter().position(|&x| x != 0).unwrap();
        out.push(0x80 | (b.len() - skip) as u8);
        out.extend_from_slice(&b[skip..]);
    }
}

fn der_tlv(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    der_len(&mut out, body.len());
    out.extend_from_slice(body);
    out
}

fn der_uint(v: &[u8]) -> Vec<u8> {
    let first = v.iter().position(|&b| b != 0).unwrap_or(v.len() - 1);
    let mut body = v[first..].to_vec();
    if body[0] & 0x80 != 0 {
        body.insert(0, 0);
    }
    der_tlv(0x02, &body)
}

/// C1 ‖ C3 ‖ C2 → OpenSSL's DER.
fn to_der(ct: &[u8]) -> Vec<u8> {
    let body = [
        der_uint(&ct[1..33]),
        der_uint(&ct[33..65]),
        der_tlv(0x04, &ct[65..97]),
        der_tlv(0x04, &ct[97..]),
    ]
    .concat();
    der_tlv(0x30, &body)
}

/// Read one TLV: (tag, body, rest).
fn der_read(d: &[u8]) -> (u8, &[u8], &[u8]) {
    let tag = d[0];
    let (len, hdr) = if d[1] < 0x80 {
        (d[1] as usize, 2)
    } else {
        let n = (d[1] & 0x7F) as usize;
        (
            d[2..2 + n].iter().fold(0usize, |a, &b| a << 8 | b as usize),
            2 + n,
        )
    };
    (tag, &d[hdr..hdr + len], &d[hdr + len..])
}

/// OpenSSL's DER → C1 ‖ C3 ‖ C2.
fn from_der(der: &[u8]) -> Vec<u8> {
    let (tag, body, _) = der_read(der);
    assert_eq!(tag, 0x30);
    let (_, x, rest) = der_read(body);
    let (_, y, rest) = der_read(rest);
    let (_, c3, rest) = der_read(rest);
    let (_, c2, _) = der_read(rest);
    let fix = |v: &[u8]| {
        let v = &v[v.len().saturating_sub(32)..];
        let mut out = vec![0u8; 32 - v.len()];
        out.extend_from_slice(v);
        out
    };
    [&[4u8][..], &fix(x), &fix(y), c3, c2].concat()
}

/// OpenSSL decrypts our split-path ciphertexts (made on the device) and we decrypt its ciphertexts of long
/// messages, on the device.
#[tokio::test]
async fn openssl_interop_long_messages() {
    let accel = emu(QmVersion::V3, NotifyMode::Eventfd).await;
    let dir = tempfile::tempdir().unwrap();
    let p = |f: &str| dir.path().join(f).to_str().unwrap().to_string();
    common::openssl(&["genpkey", "-algorithm", "SM2", "-out", &p("k.pem")]);
    common::openssl(&["pkey", "-in", &p("k.pem"), "-pubout", "-out", &p("pub.pem")]);
    let key = Sm2PrivateKey::from_pem(&std::fs::read_to_string(p("k.pem")).unwrap()).unwrap();
    let pk =
        Sm2PublicKey::from_public_key_pem(&std::fs::read_to_string(p("pub.pem")).unwrap()).unwrap();
    assert_eq!(&pk, key.public_key());
    for len in [513, 3000] {
        let m = message(len, 77);
        // Ours → OpenSSL.
        let before = hpre_counts(&accel).0;
        let ct = accel.sm2_encrypt(&pk, &m).await.unwrap();
        assert_eq!(
            hpre_counts(&accel).0 - before,
            2,
            "two multiplies on the device"
        );
        std::fs::write(p("ct.der"), to_der(&ct)).unwrap();
        common::openssl(&[
            "pkeyutl",
            "-decrypt",
            "-inkey",
            &p("k.pem"),
            "-in",
            &p("ct.der"),
            "-out",
            &p("m"),
        ]);
        assert_eq!(std::fs::read(p("m")).unwrap(), m);
        // A changed C2 fails in OpenSSL too.
        let mut bad = ct.clone();
        bad[100] ^= 1;
        std::fs::write(p("bad.der"), to_der(&bad)).unwrap();
        let out = std::process::Command::new("openssl")
            .args([
                "pkeyutl",
                "-decrypt",
                "-inkey",
                &p("k.pem"),
                "-in",
                &p("bad.der"),
            ])
            .output()
            .unwrap();
        assert!(!out.status.success());
        // OpenSSL → ours.
        std::fs::write(p("msg"), &m).unwrap();
        common::openssl(&[
            "pkeyutl",
            "-encrypt",
            "-pubin",
            "-inkey",
            &p("pub.pem"),
            "-in",
            &p("msg"),
            "-out",
            &p("theirs.der"),
        ]);
        let theirs = from_der(&std::fs::read(p("theirs.der")).unwrap());
        assert_eq!(theirs.len(), 97 + len);
        assert_eq!(accel.sm2_decrypt(&key, &theirs).await.unwrap()[..], m[..]);
    }
}
