//! ECDSA and ECDH on NIST P-521 (secp521r1): 66-byte numbers in the hardware's 72-byte fields (h = 72,
//! task_len1 = 8, protocol doc §12.4).
//!
//! Known answers from `tests/vectors/ecc/` (NIST CAVP SigGen/SigVer/KAS for P-521 and the RFC 6979 A.2.7 block of
//! OpenSSL's test file; see its README) on the emulated HPRE at QM v3 and v2 and on the CPU backend; every
//! operation in every notification mode; device results equal to the CPU backend's; RustCrypto and OpenSSL
//! interoperability; typed errors for bad points, lengths and signatures; the SQEs the device receives.

mod common;

use common::ecc::{emu, hpre, hpre_completed, records, rfc6979_file, vector_file};

use sha2::Digest as _;
use uacce_async::{
    Accel, EcCurve, EcPrivateKey, EcPublicKey, EcdsaNonce, EcdsaSignature, Error, NotifyMode,
};
use uacce_sys::qm::QmVersion;
use uacce_testkit::hex;

const P521: EcCurve = EcCurve::P521;
/// CAVP writes the 521-bit numbers with 131 to 136 hex digits: exactly 66 bytes (extra leading bytes must be 0).
fn hex66(s: &str) -> Vec<u8> {
    let mut v = hex(&format!("{}{s}", if s.len() % 2 == 1 { "0" } else { "" }));
    while v.len() > 66 {
        assert_eq!(v.remove(0), 0, "{s}");
    }
    let mut out = vec![0u8; 66 - v.len()];
    out.extend_from_slice(&v);
    out
}

/// NIST CAVP SigGen [P-521,SHA-512] with the vectors' k: R and S exactly, and the signature verifies.
#[tokio::test]
async fn cavp_siggen_p521() {
    let recs = records(&vector_file("SigGen_P-521_SHA-512.txt"), "Msg");
    assert_eq!(recs.len(), 15);
    for (name, accel) in common::emu_v2_v3_and_cpu().await {
        for r in &recs {
            let key = EcPrivateKey::from_bytes(P521, &hex66(&r["d"])).unwrap();
            assert_eq!(key.public_key().x(), &hex66(&r["Qx"])[..]);
            assert_eq!(key.public_key().y(), &hex66(&r["Qy"])[..]);
            let dg = sha2::Sha512::digest(hex(&r["Msg"])).to_vec();
            let sig = accel
                .ecdsa_sign_prehash_with_k_for_tests(&key, &dg, &hex66(&r["k"]))
                .await
                .unwrap();
            assert_eq!(sig.r(), &hex66(&r["R"])[..], "{name}");
            assert_eq!(sig.s(), &hex66(&r["S"])[..], "{name}");
            accel
                .ecdsa_verify(key.public_key(), &hex(&r["Msg"]), &sig)
                .await
                .unwrap();
        }
    }
}

/// NIST CAVP SigVer [P-521,SHA-512]: every "P" verifies, every "F" is refused (a Q off the curve at import, the
/// others with `Error::BadSignature`).
#[tokio::test]
async fn cavp_sigver_p521() {
    let recs = records(&vector_file("SigVer_P-521_SHA-512.rsp"), "Msg");
    assert_eq!(recs.len(), 15);
    for (name, accel) in common::emu_v2_v3_and_cpu().await {
        let (mut passed, mut failed) = (0, 0);
        for r in &recs {
            let good = r["Result"].starts_with('P');
            let q = EcPublicKey::from_coordinates(P521, &hex66(&r["Qx"]), &hex66(&r["Qy"]));
            let sig = EcdsaSignature::from_bytes(P521, &[hex66(&r["R"]), hex66(&r["S"])].concat());
            let res = match (q, sig) {
                (Ok(q), Ok(sig)) => accel.ecdsa_verify(&q, &hex(&r["Msg"]), &sig).await,
                (Err(e), _) | (_, Err(e)) => {
                    assert!(matches!(e, Error::InvalidParameter(_)), "{e}");
                    Err(e)
                }
            };
            if good {
                res.unwrap();
                passed += 1;
            } else {
                let e = res.unwrap_err();
                assert!(
                    matches!(e, Error::BadSignature | Error::InvalidParameter(_)),
                    "{name}: {e}"
                );
                failed += 1;
            }
        }
        assert!(passed > 0 && failed > 0, "{name}: {passed} P, {failed} F");
    }
}

/// NIST CAVP KAS ECC CDH primitive [EE - SHA512] (P-521): Z for the good cases, the bad ones refused as the file
/// says, and the IUT public key derived on the device.
#[tokio::test]
async fn cavp_kas_ecc_cdh_p521() {
    let recs = records(&vector_file("KAS_ZZOnly_resp_P-521.fax"), "dsCAVS");
    assert_eq!(recs.len(), 30);
    for (name, accel) in common::emu_v2_v3_and_cpu().await {
        let mut good = 0;
        for r in &recs {
            let result = &r["Result"];
            let cavs =
                EcPublicKey::from_coordinates(P521, &hex66(&r["QsCAVSx"]), &hex66(&r["QsCAVSy"]));
            let iut_pub =
                EcPublicKey::from_coordinates(P521, &hex66(&r["QsIUTx"]), &hex66(&r["QsIUTy"]));
            let iut = EcPrivateKey::from_bytes(P521, &hex66(&r["dsIUT"]));
            if result.contains("private key d changed") {
                // The changed d is out of range here (≥ n): refused at import; if not, it gives another key.
                match iut {
                    Err(e) => assert!(matches!(e, Error::InvalidParameter(_)), "{e}"),
                    Ok(iut) => {
                        assert_ne!(&accel.ec_public_key(&iut).await.unwrap(), &iut_pub.unwrap())
                    }
                }
                continue;
            }
            let iut = iut.unwrap();
            if result.contains("CAVS's Static public key") {
                assert!(matches!(cavs, Err(Error::InvalidParameter(_))), "{result}");
                continue;
            }
            if result.contains("IUT's Static public key") {
                assert!(
                    matches!(iut_pub, Err(Error::InvalidParameter(_))),
                    "{result}"
                );
                continue;
            }
            let (cavs, iut_pub) = (cavs.unwrap(), iut_pub.unwrap());
            let derived = accel.ec_public_key(&iut).await.unwrap();
            let z = accel.ecdh(&iut, &cavs).await.unwrap();
            assert_eq!(z.len(), 66);
            if result.contains("Z changed") {
                assert_eq!(derived, iut_pub);
                assert_ne!(&z[..], &hex66(&r["Z"])[..]);
            } else {
                assert!(result.starts_with('P'), "{result}");
                assert_eq!(derived, iut_pub, "{name}");
                assert_eq!(&z[..], &hex66(&r["Z"])[..], "{name}");
                let cavs_key = EcPrivateKey::from_bytes(P521, &hex66(&r["dsCAVS"])).unwrap();
                assert_eq!(&accel.ecdh(&cavs_key, &iut_pub).await.unwrap()[..], &z[..]);
                good += 1;
            }
        }
        assert!(good > 0, "{name}");
    }
}

/// RFC 6979 A.2.7 (P-521) as OpenSSL's test file carries it: our deterministic SHA-512 signatures are those byte
/// for byte (P-521's order is 521 bits, so the nonce is the DRBG output shifted right by 7 bits: a generic
/// byte-wise RFC 6979 would give other signatures); the verify cases pass or fail as listed.
#[tokio::test]
async fn rfc6979_deterministic_p521() {
    let text = vector_file("rfc6979_P-521.txt");
    let (keys, blocks) = rfc6979_file(&text);
    assert_eq!(blocks.len(), 30);
    for (name, accel) in common::emu_v2_v3_and_cpu().await {
        let (mut signed, mut verified, mut refused) = (0, 0, 0);
        for b in &blocks {
            let key = &b["Key"];
            let msg = b["Input"].trim_matches('"').as_bytes();
            let der = hex(&b["Output"]);
            let hash = b.get("DigestSign").or(b.get("DigestVerify")).unwrap();
            let dg = match hash.as_str() {
                "SHA224" => sha2::Sha224::digest(msg).to_vec(),
                "SHA256" => sha2::Sha256::digest(msg).to_vec(),
                "SHA384" => sha2::Sha384::digest(msg).to_vec(),
                "SHA512" => sha2::Sha512::digest(msg).to_vec(),
                _ => continue, // SHA-1: not a digest we compute here
            };
            if b.contains_key("DigestSign") {
                // RFC 6979 with the curve's own hash only (the HMAC-DRBG runs on SHA-512 here).
                if hash != "SHA512" {
                    continue;
                }
                let sk = EcPrivateKey::from_pem(&keys[key]).unwrap();
                assert_eq!(sk.curve(), P521);
                let sig = accel.ecdsa_sign(&sk, msg).await.unwrap();
                assert_eq!(sig.to_der(), der, "{name}: {key} {hash}");
                signed += 1;
            } else {
                let pk = EcPublicKey::from_public_key_pem(&keys[key]).unwrap();
                let sig = EcdsaSignature::from_der(P521, &der).unwrap();
                let res = accel.ecdsa_verify_prehash(&pk, &dg, &sig).await;
                if b.get("Result").map(String::as_str) == Some("VERIFY_ERROR") {
                    assert!(matches!(res, Err(Error::BadSignature)), "{name}");
                    refused += 1;
                } else {
                    res.unwrap();
                    verified += 1;
                }
            }
        }
        // "sample" and "test" signed with SHA-512; 4 digests (no SHA-1) × 2 messages verified and refused.
        assert_eq!((signed, verified, refused), (2, 8, 8), "{name}");
    }
}

/// One of everything on P-521, with answers checked against RustCrypto's `p521`.
async fn every_operation(name: &str, accel: &Accel) {
    use p521::ecdsa::signature::Verifier;
    use p521::ecdsa::signature::hazmat::RandomizedPrehashSigner;
    let key = EcPrivateKey::generate(P521);
    let msg = b"every operation on P-521";
    let sig = accel.ecdsa_sign(&key, msg).await.unwrap();
    assert_eq!(sig.to_bytes().len(), 132);
    accel
        .ecdsa_verify(key.public_key(), msg, &sig)
        .await
        .unwrap();
    assert_eq!(
        sig,
        accel.ecdsa_sign(&key, msg).await.unwrap(),
        "{name}: RFC 6979 is deterministic"
    );
    let rnd = accel
        .ecdsa_sign_with(&key, msg, EcdsaNonce::Random)
        .await
        .unwrap();
    assert_ne!(rnd, sig, "{name}");
    let back = EcdsaSignature::from_der(P521, &rnd.to_der()).unwrap();
    accel
        .ecdsa_verify(key.public_key(), msg, &back)
        .await
        .unwrap();
    assert!(matches!(
        accel
            .ecdsa_verify(key.public_key(), b"another", &back)
            .await,
        Err(Error::BadSignature)
    ));
    // RustCrypto verifies ours, we verify RustCrypto's.
    let sk = p521::ecdsa::SigningKey::from_slice(&key.to_bytes()).unwrap();
    let vk = p521::ecdsa::VerifyingKey::from(&sk);
    for s in [&sig, &rnd] {
        let ours = p521::ecdsa::Signature::from_slice(s.to_bytes()).unwrap();
        vk.verify(msg, &ours).unwrap();
    }
    let theirs: p521::ecdsa::Signature = sk
        .sign_prehash_with_rng(&mut rand_core::OsRng, &sha2::Sha512::digest(b"rc"))
        .unwrap();
    let theirs = EcdsaSignature::from_bytes(P521, &theirs.to_bytes()).unwrap();
    accel
        .ecdsa_verify(key.public_key(), b"rc", &theirs)
        .await
        .unwrap();
    // ECDH both ways and the public key derived on the device.
    let other = EcPrivateKey::generate(P521);
    let z1 = accel.ecdh(&key, other.public_key()).await.unwrap();
    let z2 = accel.ecdh(&other, key.public_key()).await.unwrap();
    assert_eq!(*z1, *z2, "{name}");
    assert_eq!(z1.len(), 66);
    // RustCrypto's ECDH agrees.
    let rc = p521::SecretKey::try_from(&key).unwrap();
    let rc_peer = p521::PublicKey::try_from(other.public_key()).unwrap();
    use p521::elliptic_curve::point::AffineCoordinates;
    let rc_z = (rc_peer.to_projective() * *rc.to_nonzero_scalar()).to_affine();
    assert_eq!(&rc_z.x()[..], &z1[..]);
    assert_eq!(&accel.ec_public_key(&key).await.unwrap(), key.public_key());
}

/// Every P-521 operation in every notification mode on the emulated HPRE at QM v3: the jobs reach the device.
#[tokio::test]
async fn every_operation_in_every_mode_on_v3() {
    for mode in NotifyMode::ALL {
        let accel = emu(QmVersion::V3, mode).await;
        let before = hpre_completed(&accel);
        every_operation(&format!("v3 {mode:?}"), &accel).await;
        // 3 signs + 3 fault checks + 2 verifies + 1 failed verify + 1 RustCrypto-made verify + 2 ECDH + 1 public
        // key (RustCrypto's verifies of ours run no job).
        assert_eq!(hpre_completed(&accel) - before, 13, "{mode:?}");
    }
}

/// QM v2 has no ECC queue: P-521 runs on the CPU with the same answers, and nothing reaches the HPRE.
#[tokio::test]
async fn every_operation_on_v2_and_cpu_backend() {
    let accel = emu(QmVersion::V2, NotifyMode::Eventfd).await;
    let before = hpre_completed(&accel);
    every_operation("v2", &accel).await;
    assert_eq!(hpre_completed(&accel), before);
    every_operation("cpu", &common::cpu().await).await;
}

/// The device and the CPU backend (aws-lc for ECDH, random-nonce ECDSA and verify) agree.
#[tokio::test]
async fn device_equals_cpu_backend() {
    let dev = emu(QmVersion::V3, NotifyMode::Eventfd).await;
    let cpu = common::cpu().await;
    for i in 0..3u8 {
        let key = EcPrivateKey::generate(P521);
        let msg = [i; 200];
        assert_eq!(
            dev.ecdsa_sign(&key, &msg).await.unwrap(),
            cpu.ecdsa_sign(&key, &msg).await.unwrap()
        );
        let s_dev = dev
            .ecdsa_sign_with(&key, &msg, EcdsaNonce::Random)
            .await
            .unwrap();
        let s_cpu = cpu
            .ecdsa_sign_with(&key, &msg, EcdsaNonce::Random)
            .await
            .unwrap();
        cpu.ecdsa_verify(key.public_key(), &msg, &s_dev)
            .await
            .unwrap();
        dev.ecdsa_verify(key.public_key(), &msg, &s_cpu)
            .await
            .unwrap();
        let peer = EcPrivateKey::generate(P521);
        assert_eq!(
            *dev.ecdh(&key, peer.public_key()).await.unwrap(),
            *cpu.ecdh(&key, peer.public_key()).await.unwrap()
        );
        assert_eq!(
            dev.ec_public_key(&key).await.unwrap(),
            cpu.ec_public_key(&key).await.unwrap()
        );
    }
}

/// P-521 keys in every format round-trip and convert from and to `p521`'s types; other curves' types refuse them.
#[test]
fn key_formats_round_trip() {
    let key = EcPrivateKey::generate(P521);
    let again = |k: &EcPrivateKey| {
        assert_eq!(k.curve(), P521);
        assert_eq!(k.to_bytes(), key.to_bytes());
    };
    again(&EcPrivateKey::from_sec1_der(&key.to_sec1_der().unwrap()).unwrap());
    again(&EcPrivateKey::from_pkcs8_der(&key.to_pkcs8_der().unwrap()).unwrap());
    again(&EcPrivateKey::from_pem(&key.to_sec1_pem().unwrap()).unwrap());
    again(&EcPrivateKey::from_pem(&key.to_pkcs8_pem().unwrap()).unwrap());
    again(&EcPrivateKey::from_bytes(P521, &key.to_bytes()).unwrap());
    let pk = key.public_key();
    assert_eq!(pk.to_sec1_bytes().len(), 133);
    assert_eq!(
        &EcPublicKey::from_public_key_der(&pk.to_public_key_der().unwrap()).unwrap(),
        pk
    );
    assert_eq!(
        &EcPublicKey::from_public_key_pem(&pk.to_public_key_pem().unwrap()).unwrap(),
        pk
    );
    assert_eq!(
        &EcPublicKey::from_coordinates(P521, pk.x(), pk.y()).unwrap(),
        pk
    );
    let rc = p521::SecretKey::try_from(&key).unwrap();
    assert_eq!(EcPrivateKey::from(rc.clone()).to_bytes(), key.to_bytes());
    assert_eq!(EcPublicKey::from(rc.public_key()), *pk);
    assert_eq!(p521::PublicKey::try_from(pk).unwrap(), rc.public_key());
    use p521::elliptic_curve::sec1::ToEncodedPoint;
    let c = rc.public_key().to_encoded_point(true);
    assert_eq!(
        &EcPublicKey::from_sec1_bytes(P521, c.as_bytes()).unwrap(),
        pk
    );
    assert!(p384::SecretKey::try_from(&key).is_err());
    assert!(p256::PublicKey::try_from(pk).is_err());
    let p256 = EcPrivateKey::generate(EcCurve::P256);
    assert!(p521::SecretKey::try_from(&p256).is_err());
}

/// Bad points, wrong lengths, out-of-range scalars, bad signatures and curve mismatches on P-521: typed errors.
#[tokio::test]
async fn bad_input_gives_typed_errors() {
    for (name, accel) in common::emu_v2_v3_and_cpu().await {
        let key = EcPrivateKey::generate(P521);
        let pk = key.public_key().clone();
        let mut y = pk.y().to_vec();
        y[65] ^= 1;
        assert!(matches!(
            EcPublicKey::from_coordinates(P521, pk.x(), &y),
            Err(Error::InvalidParameter(_))
        ));
        // Coordinates ≥ p (bits above 521 set) and wrong lengths.
        let mut big = pk.x().to_vec();
        big[0] |= 0x80;
        assert!(matches!(
            EcPublicKey::from_coordinates(P521, &big, pk.y()),
            Err(Error::InvalidParameter(_))
        ));
        assert!(matches!(
            EcPublicKey::from_coordinates(P521, pk.x(), &y[1..]),
            Err(Error::InvalidLength { .. })
        ));
        assert!(matches!(
            EcPublicKey::from_sec1_bytes(P521, &pk.to_sec1_bytes()[..132]),
            Err(Error::InvalidParameter(_))
        ));
        assert!(matches!(
            EcPublicKey::from_sec1_bytes(EcCurve::P384, pk.to_sec1_bytes()),
            Err(Error::InvalidParameter(_))
        ));
        // Scalars: 0, n, 2^521 - 1, wrong length.
        let n = hex66(
            "01fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409",
        );
        let mut too_big = vec![0xFFu8; 66];
        too_big[0] = 0x01;
        for d in [vec![0u8; 66], n.clone(), too_big] {
            assert!(matches!(
                EcPrivateKey::from_bytes(P521, &d),
                Err(Error::InvalidParameter(_))
            ));
        }
        assert!(matches!(
            EcPrivateKey::from_bytes(P521, &[1; 65]),
            Err(Error::InvalidKeyLength { .. })
        ));
        // Signatures: wrong length, s = n, a changed byte, another curve.
        assert!(matches!(
            EcdsaSignature::from_bytes(P521, &[1; 131]),
            Err(Error::InvalidLength { .. })
        ));
        assert!(matches!(
            EcdsaSignature::from_bytes(P521, &[&[1u8; 66][..], &n].concat()),
            Err(Error::InvalidParameter(_))
        ));
        let sig = accel.ecdsa_sign(&key, b"m").await.unwrap();
        let mut bytes = sig.to_bytes().to_vec();
        bytes[100] ^= 0x01;
        let bad = EcdsaSignature::from_bytes(P521, &bytes).unwrap();
        assert!(
            matches!(
                accel.ecdsa_verify(&pk, b"m", &bad).await,
                Err(Error::BadSignature)
            ),
            "{name}"
        );
        let p384 = EcPrivateKey::generate(EcCurve::P384);
        assert!(matches!(
            accel.ecdsa_verify(p384.public_key(), b"m", &sig).await,
            Err(Error::InvalidParameter(_))
        ));
        assert!(matches!(
            accel.ecdh(&key, p384.public_key()).await,
            Err(Error::InvalidParameter(_))
        ));
        for dg in [&[][..], &[0u8; 65][..]] {
            assert!(matches!(
                accel
                    .ecdsa_sign_prehash(&key, dg, EcdsaNonce::Rfc6979)
                    .await,
                Err(Error::InvalidLength { .. })
            ));
        }
        // A zero test nonce: the engine refuses it (k not in [1, n-1]) and the CPU path says why.
        assert!(
            matches!(
                accel
                    .ecdsa_sign_prehash_with_k_for_tests(&key, &[1; 64], &[0; 66])
                    .await,
                Err(Error::InvalidParameter(_))
            ),
            "{name}"
        );
    }
}

/// What the device receives for P-521 (protocol doc §12.4, UADK `hisi_hpre.c`): ECDSA sign alg 0x0E with
/// task_len1 = 72/8 − 1 = 8, key = the 7 × 72 private block with d right-aligned after 6 zero bytes, in = e ‖ k;
/// verify 0x0F with the 8 × 72 public block and in = e ‖ s ‖ r; ECDH 0x0D without bd_rsv2 (hpcore is UADK's for
/// the built-in P-256 only), key = 5 × 72.
#[tokio::test]
async fn sqes_are_those_uadk_sends() {
    let accel = emu(QmVersion::V3, NotifyMode::Eventfd).await;
    let dev = hpre(&accel).unwrap();
    let key = EcPrivateKey::generate(P521);
    let dg = [0xA5u8; 64];
    dev.set_trace(true);
    let sig = accel
        .ecdsa_sign_prehash(&key, &dg, EcdsaNonce::Rfc6979)
        .await
        .unwrap();
    let peer = EcPrivateKey::generate(P521);
    accel.ecdh(&key, peer.public_key()).await.unwrap();
    let t = dev.take_trace();
    assert_eq!(t.len(), 3);
    assert_eq!(&t[0].sqe[..8], &[0x0E, 0, 0, 0x40, 0x08, 0, 0, 0]);
    assert_eq!(t[0].qc_type, 1);
    let k = &t[0].read("key").unwrap().bytes;
    assert_eq!(k.len(), 7 * 72);
    // p = 2^521 - 1: six zero bytes, 0x01, then 65 bytes 0xFF.
    assert!(k[..6].iter().all(|&b| b == 0) && k[6] == 0x01 && k[7..72].iter().all(|&b| b == 0xFF));
    assert!(k[144..150].iter().all(|&b| b == 0));
    assert_eq!(&k[150..216], &key.to_bytes()[..]);
    let input = &t[0].read("in").unwrap().bytes;
    assert_eq!(input.len(), 2 * 72);
    assert!(input[..8].iter().all(|&b| b == 0));
    assert_eq!(&input[8..72], &dg[..]);
    assert_eq!(&t[1].sqe[..8], &[0x0F, 0, 0, 0x40, 0x08, 0, 0, 0]);
    assert_eq!(t[1].read("key").unwrap().bytes.len(), 8 * 72);
    let input = &t[1].read("in").unwrap().bytes;
    assert_eq!(&input[72 + 6..144], sig.s());
    assert_eq!(&input[144 + 6..], sig.r());
    assert_eq!(&t[1].sqe[16..24], &t[1].sqe[24..32]);
    assert_eq!(&t[2].sqe[..8], &[0x0D, 0, 0, 0x40, 0x08, 0, 0, 0]);
    assert_eq!(t[2].read("key").unwrap().bytes.len(), 5 * 72);
    assert!(t[2].sqe[40..44].iter().all(|&b| b == 0));
}

/// OpenSSL interoperability on the emulated device: a secp521r1 key from `openssl ecparam -genkey` reads; our
/// signatures verify with `openssl dgst -sha512 -verify`, OpenSSL's with us; our key files give OpenSSL our public
/// key; ECDH equals `openssl pkeyutl -derive`.
#[tokio::test]
async fn openssl_interop_p521() {
    let accel = emu(QmVersion::V3, NotifyMode::Eventfd).await;
    let dir = tempfile::tempdir().unwrap();
    let p = |f: &str| dir.path().join(f).to_str().unwrap().to_string();
    common::openssl(&[
        "ecparam",
        "-name",
        "secp521r1",
        "-genkey",
        "-out",
        &p("k.pem"),
    ]);
    common::openssl(&["ec", "-in", &p("k.pem"), "-pubout", "-out", &p("pub.pem")]);
    let key = EcPrivateKey::from_pem(&std::fs::read_to_string(p("k.pem")).unwrap()).unwrap();
    assert_eq!(key.curve(), P521);
    let pk =
        EcPublicKey::from_public_key_pem(&std::fs::read_to_string(p("pub.pem")).unwrap()).unwrap();
    assert_eq!(&pk, key.public_key());
    let msg = b"P-521 on the HPRE, checked by OpenSSL".repeat(7);
    std::fs::write(p("msg"), &msg).unwrap();
    let before = hpre_completed(&accel);
    for (i, nonce) in [EcdsaNonce::Rfc6979, EcdsaNonce::Random]
        .into_iter()
        .enumerate()
    {
        let sig = accel.ecdsa_sign_with(&key, &msg, nonce).await.unwrap();
        let f = p(&format!("sig{i}.der"));
        std::fs::write(&f, sig.to_der()).unwrap();
        let out = common::openssl(&[
            "dgst",
            "-sha512",
            "-verify",
            &p("pub.pem"),
            "-signature",
            &f,
            &p("msg"),
        ]);
        assert!(String::from_utf8_lossy(&out.stdout).contains("Verified OK"));
        let mut der = sig.to_der();
        let last = der.len() - 1;
        der[last] ^= 1;
        std::fs::write(&f, der).unwrap();
        let bad = std::process::Command::new("openssl")
            .args([
                "dgst",
                "-sha512",
                "-verify",
                &p("pub.pem"),
                "-signature",
                &f,
                &p("msg"),
            ])
            .output()
            .unwrap();
        assert!(!bad.status.success());
    }
    assert!(hpre_completed(&accel) > before, "signed on the device");
    common::openssl(&[
        "dgst",
        "-sha512",
        "-sign",
        &p("k.pem"),
        "-out",
        &p("theirs.der"),
        &p("msg"),
    ]);
    let theirs = EcdsaSignature::from_der(P521, &std::fs::read(p("theirs.der")).unwrap()).unwrap();
    accel.ecdsa_verify(&pk, &msg, &theirs).await.unwrap();
    assert!(matches!(
        accel.ecdsa_verify(&pk, b"another message", &theirs).await,
        Err(Error::BadSignature)
    ));
    // Our key files in OpenSSL.
    let ours = EcPrivateKey::generate(P521);
    std::fs::write(p("ours.pem"), ours.to_sec1_pem().unwrap().as_bytes()).unwrap();
    std::fs::write(p("ours8.pem"), ours.to_pkcs8_pem().unwrap().as_bytes()).unwrap();
    for f in ["ours.pem", "ours8.pem"] {
        common::openssl(&["pkey", "-in", &p(f), "-check", "-noout"]);
        let out = common::openssl(&["pkey", "-in", &p(f), "-pubout"]);
        let theirs =
            EcPublicKey::from_public_key_pem(&String::from_utf8(out.stdout).unwrap()).unwrap();
        assert_eq!(&theirs, ours.public_key());
    }
    // ECDH: OpenSSL derives with our public key and its private key; we derive the other way.
    std::fs::write(
        p("ours-pub.pem"),
        ours.public_key().to_public_key_pem().unwrap(),
    )
    .unwrap();
    let out = common::openssl(&[
        "pkeyutl",
        "-derive",
        "-inkey",
        &p("k.pem"),
        "-peerkey",
        &p("ours-pub.pem"),
        "-out",
        &p("z"),
    ]);
    assert!(out.status.success());
    let z = accel.ecdh(&ours, &pk).await.unwrap();
    assert_eq!(&z[..], &std::fs::read(p("z")).unwrap()[..]);
}
