//! The ECC API (`pkey::ecc`): ECDSA P-256/P-384, ECDH P-256/P-384, X448 and X25519 agreement, key formats.
//!
//! Known answers from `tests/vectors/ecc/` (NIST CAVP SigGen/SigVer and KAS, RFC 6979, RFC 7748; see its README),
//! on the emulated HPRE device at QM v3 (every notification mode), at QM v2 (ECC runs on the CPU there) and on the
//! CPU backend; device results equal to the CPU backend's; OpenSSL interoperability; typed errors for bad input.

mod common;

use common::ecc::{emu, hpre, hpre_completed, records, rfc6979_file, vector_file};

use sha2::Digest as _;
use uacce_async::{
    Accel, EcCurve, EcPrivateKey, EcPublicKey, EcdsaNonce, EcdsaSignature, Error, NotifyMode,
};
use uacce_sys::qm::QmVersion;
use uacce_testkit::hex;

/// The emulator at v3 and v2 (eventfd) and the CPU backend.
async fn backends() -> Vec<(String, Accel)> {
    common::emu_v2_v3_and_cpu().await
}

fn curve_of(name: &str) -> EcCurve {
    if name.contains("384") {
        EcCurve::P384
    } else {
        EcCurve::P256
    }
}

fn digest(curve: EcCurve, msg: &[u8]) -> Vec<u8> {
    match curve {
        EcCurve::P256 => sha2::Sha256::digest(msg).to_vec(),
        EcCurve::P384 => sha2::Sha384::digest(msg).to_vec(),
        EcCurve::P521 => sha2::Sha512::digest(msg).to_vec(),
        other => panic!("no digest for {other:?}"),
    }
}

/// NIST CAVP SigGen (FIPS 186-3, with the k the vectors give): R and S exactly, and the signature verifies.
#[tokio::test]
async fn cavp_siggen() {
    for (name, accel) in backends().await {
        for file in ["SigGen_P-256_SHA-256.txt", "SigGen_P-384_SHA-384.txt"] {
            let curve = curve_of(file);
            let recs = records(&vector_file(file), "Msg");
            assert_eq!(recs.len(), 15, "{file}");
            for r in recs {
                let key = EcPrivateKey::from_bytes(curve, &hex(&r["d"])).unwrap();
                assert_eq!(key.public_key().x(), &hex(&r["Qx"])[..]);
                assert_eq!(key.public_key().y(), &hex(&r["Qy"])[..]);
                let dg = digest(curve, &hex(&r["Msg"]));
                let sig = accel
                    .ecdsa_sign_prehash_with_k_for_tests(&key, &dg, &hex(&r["k"]))
                    .await
                    .unwrap();
                assert_eq!(sig.r(), &hex(&r["R"])[..], "{name} {file}");
                assert_eq!(sig.s(), &hex(&r["S"])[..], "{name} {file}");
                accel
                    .ecdsa_verify(key.public_key(), &hex(&r["Msg"]), &sig)
                    .await
                    .unwrap();
            }
        }
    }
}

/// NIST CAVP SigVer: every "P" verifies, every "F" (message, R, S or Q changed) is refused — a Q off the curve at
/// import, the others with `Error::BadSignature`.
#[tokio::test]
async fn cavp_sigver() {
    for (name, accel) in backends().await {
        for file in ["SigVer_P-256_SHA-256.rsp", "SigVer_P-384_SHA-384.rsp"] {
            let curve = curve_of(file);
            let recs = records(&vector_file(file), "Msg");
            assert_eq!(recs.len(), 15);
            let (mut passed, mut failed) = (0, 0);
            for r in recs {
                let good = r["Result"].starts_with('P');
                let q = EcPublicKey::from_coordinates(curve, &hex(&r["Qx"]), &hex(&r["Qy"]));
                let sig = EcdsaSignature::from_bytes(curve, &[hex(&r["R"]), hex(&r["S"])].concat())
                    .unwrap();
                let res = match q {
                    Ok(q) => accel.ecdsa_verify(&q, &hex(&r["Msg"]), &sig).await,
                    Err(e) => {
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
            assert!(passed > 0 && failed > 0, "{file}: {passed} P, {failed} F");
        }
    }
}

/// NIST CAVP KAS (ECC CDH primitive, static unified, ZZ only, responder): Z for the good cases; the bad ones
/// refused for the reason the file gives.
#[tokio::test]
async fn cavp_kas_ecc_cdh() {
    for (name, accel) in backends().await {
        for file in ["KAS_ZZOnly_resp_P-256.fax", "KAS_ZZOnly_resp_P-384.fax"] {
            let curve = curve_of(file);
            let recs = records(&vector_file(file), "dsCAVS");
            assert_eq!(recs.len(), 30);
            for r in recs {
                let result = &r["Result"];
                let cavs =
                    EcPublicKey::from_coordinates(curve, &hex(&r["QsCAVSx"]), &hex(&r["QsCAVSy"]));
                let iut_pub =
                    EcPublicKey::from_coordinates(curve, &hex(&r["QsIUTx"]), &hex(&r["QsIUTy"]));
                let iut = EcPrivateKey::from_bytes(curve, &hex(&r["dsIUT"])).unwrap();
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
                if result.contains("private key d changed") {
                    assert_ne!(derived, iut_pub, "{name}");
                } else if result.contains("Z changed") {
                    assert_eq!(derived, iut_pub);
                    assert_ne!(&z[..], &hex(&r["Z"])[..]);
                } else {
                    assert!(result.starts_with('P'), "{result}");
                    assert_eq!(derived, iut_pub, "{name}");
                    assert_eq!(&z[..], &hex(&r["Z"])[..], "{name}");
                    // And the other way round, with the CAVS key.
                    let cavs_key = EcPrivateKey::from_bytes(curve, &hex(&r["dsCAVS"])).unwrap();
                    assert_eq!(&accel.ecdh(&cavs_key, &iut_pub).await.unwrap()[..], &z[..]);
                }
            }
        }
    }
}

/// RFC 6979 A.2.5 (P-256) and A.2.6 (P-384), as OpenSSL's test file carries them (PKCS#8 / SPKI PEM keys, DER
/// signatures): our deterministic signatures are those, byte for byte; the verify cases pass or fail as listed.
#[tokio::test]
async fn rfc6979_deterministic() {
    let text = vector_file("rfc6979_P-256_P-384.txt");
    let (keys, blocks) = rfc6979_file(&text);
    assert!(blocks.len() > 20);
    for (name, accel) in backends().await {
        let (mut signed, mut verified, mut refused) = (0, 0, 0);
        for b in &blocks {
            let key = &b["Key"];
            let curve = curve_of(key);
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
                // RFC 6979 with the curve's own hash (the HMAC-DRBG runs on it): P-256/SHA-256, P-384/SHA-384.
                let own = matches!(
                    (curve, hash.as_str()),
                    (EcCurve::P256, "SHA256") | (EcCurve::P384, "SHA384")
                );
                if !own {
                    continue;
                }
                let sk = EcPrivateKey::from_pem(&keys[key]).unwrap();
                let sig = accel.ecdsa_sign(&sk, msg).await.unwrap();
                assert_eq!(sig.to_der(), der, "{name}: {key} {hash}");
                signed += 1;
            } else {
                let pk = EcPublicKey::from_public_key_pem(&keys[key]).unwrap();
                let sig = EcdsaSignature::from_der(curve, &der).unwrap();
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
        // 2 sign cases ("sample", "test") per curve; 4 digests (no SHA-1) × 2 messages × 2 curves verified.
        assert_eq!((signed, verified, refused), (4, 16, 16), "{name}");
    }
}

/// RFC 7748 §5.2 X448 vectors, and the iterated one (1 and 1000 iterations), on each backend.
#[tokio::test]
async fn x448_rfc7748() {
    let recs = records(&vector_file("x448_rfc7748.txt"), "INPUT_SCALAR");
    assert_eq!(recs.len(), 3);
    for (name, accel) in backends().await {
        for r in &recs {
            let k: [u8; 56] = hex(&r["INPUT_SCALAR"]).try_into().unwrap();
            let u: [u8; 56] = hex(&r["INPUT_U"]).try_into().unwrap();
            assert_eq!(
                accel.x448(&k, &u).await.unwrap()[..],
                hex(&r["OUTPUT_U"])[..],
                "{name}"
            );
        }
        // §5.2: k = u = 5; each round k, u = X448(k, u), k.
        let mut k = [0u8; 56];
        k[0] = 5;
        let mut u = k;
        for i in 1..=1000 {
            let out = accel.x448(&k, &u).await.unwrap();
            u = k;
            k = out;
            if i == 1 {
                assert_eq!(
                    k[..],
                    hex(
                        "3f482c8a9f19b01e6c46ee9711d9dc14fd4bf67af30765c2ae2b846a4d23a8cd0db897086239492caf350b51f833868b9bc2b3bca9cf4113"
                    )[..]
                );
            }
        }
        assert_eq!(
            k[..],
            hex(
                "aa3b4749d55b9daf1e5b00288826c467274ce3ebbdd5c17b975e09d4af6c67cf10d087202db88286e2b79fceea3ec353ef54faa26e219f38"
            )[..],
            "{name}"
        );
    }
}

/// §6.2 of RFC 7748: Alice and Bob's X448 exchange.
const X448_ALICE: &str = "9a8f4925d1519f5775cf46b04b5800d4ee9ee8bae8bc5565d498c28dd9c9baf574a9419744897391006382a6f127ab1d9ac2d8c0a598726b";
const X448_ALICE_PUB: &str = "9b08f7cc31b7e3e67d22d5aea121074a273bd2b83de09c63faa73d2c22c5d9bbc836647241d953d40c5b12da88120d53177f80e532c41fa0";
const X448_BOB: &str = "1c306a7ac2a0e2e0990b294470cba339e6453772b075811d8fad0d1d6927c120bb5ee8972b0d3e21374c9c921b09d1b0366f10b65173992d";
const X448_BOB_PUB: &str = "3eb7a829b0cd20f5bcfc0b599b6feccf6da4627107bdb0d4f345b43027d8b972fc3e34fb4232a13ca706dcb57aec3dae07bdc1c67bf33609";
const X448_SHARED: &str = "07fff4181ac6cc95ec1c16a94a0f74d12da232ce40a77552281d282bb60c0b56fd2464c335543936521c24403085d59a449a5037514a879d";

fn a56(s: &str) -> [u8; 56] {
    hex(s).try_into().unwrap()
}

/// One of everything, with answers checked: what every backend and notification mode must do.
async fn every_operation(name: &str, accel: &Accel) {
    for curve in [EcCurve::P256, EcCurve::P384] {
        let key = EcPrivateKey::generate(curve);
        // ECDSA, both nonces, both encodings.
        let sig = accel.ecdsa_sign(&key, b"every operation").await.unwrap();
        accel
            .ecdsa_verify(key.public_key(), b"every operation", &sig)
            .await
            .unwrap();
        let again = accel.ecdsa_sign(&key, b"every operation").await.unwrap();
        assert_eq!(sig, again, "{name}: RFC 6979 is deterministic");
        let rnd = accel
            .ecdsa_sign_with(&key, b"every operation", EcdsaNonce::Random)
            .await
            .unwrap();
        assert_ne!(rnd, sig, "{name}: a random nonce gives another signature");
        let der = rnd.to_der();
        let back = EcdsaSignature::from_der(curve, &der).unwrap();
        accel
            .ecdsa_verify(key.public_key(), b"every operation", &back)
            .await
            .unwrap();
        assert!(matches!(
            accel
                .ecdsa_verify(key.public_key(), b"every operatioN", &back)
                .await,
            Err(Error::BadSignature)
        ));
        // The signature made by RustCrypto verifies here, ours there.
        match curve {
            EcCurve::P256 => {
                use p256::ecdsa::signature::{Signer, Verifier};
                let sk = p256::ecdsa::SigningKey::from(p256::SecretKey::try_from(&key).unwrap());
                let theirs: p256::ecdsa::Signature = sk.sign(b"rc");
                let theirs = EcdsaSignature::from_bytes(curve, &theirs.to_bytes()).unwrap();
                accel
                    .ecdsa_verify(key.public_key(), b"rc", &theirs)
                    .await
                    .unwrap();
                let vk = *sk.verifying_key();
                let ours = p256::ecdsa::Signature::from_slice(sig.to_bytes()).unwrap();
                vk.verify(b"every operation", &ours).unwrap();
                // RustCrypto's RFC 6979 with SHA-256 gives the same bytes.
                let rc: p256::ecdsa::Signature = sk.sign(b"every operation");
                assert_eq!(&rc.to_bytes()[..], sig.to_bytes());
            }
            EcCurve::P384 => {
                use p384::ecdsa::signature::{Signer, Verifier};
                let sk = p384::ecdsa::SigningKey::from(p384::SecretKey::try_from(&key).unwrap());
                let vk = *sk.verifying_key();
                let ours = p384::ecdsa::Signature::from_slice(rnd.to_bytes()).unwrap();
                vk.verify(b"every operation", &ours).unwrap();
                let rc: p384::ecdsa::Signature = sk.sign(b"every operation");
                assert_eq!(&rc.to_bytes()[..], sig.to_bytes());
            }
            _ => unreachable!("P-521 is tested in tests/p521.rs"),
        }
        // ECDH and public-key derivation.
        let other = EcPrivateKey::generate(curve);
        let z1 = accel.ecdh(&key, other.public_key()).await.unwrap();
        let z2 = accel.ecdh(&other, key.public_key()).await.unwrap();
        assert_eq!(*z1, *z2);
        assert_eq!(z1.len(), curve.field_bytes());
        assert_eq!(&accel.ec_public_key(&key).await.unwrap(), key.public_key());
    }
    // X448 and X25519 agreement.
    assert_eq!(
        accel.x448_public(&a56(X448_ALICE)).await.unwrap(),
        a56(X448_ALICE_PUB)
    );
    assert_eq!(
        accel.x448_public(&a56(X448_BOB)).await.unwrap(),
        a56(X448_BOB_PUB)
    );
    let z = accel
        .x448_agree(&a56(X448_ALICE), &a56(X448_BOB_PUB))
        .await
        .unwrap();
    assert_eq!(*z, a56(X448_SHARED), "{name}");
    let (a, b) = ([0x31u8; 32], [0x42u8; 32]);
    let (pa, pb) = (
        accel.x25519_public(&a).await.unwrap(),
        accel.x25519_public(&b).await.unwrap(),
    );
    assert_eq!(
        *accel.x25519_agree(&a, &pb).await.unwrap(),
        *accel.x25519_agree(&b, &pa).await.unwrap()
    );
}

/// Every operation in every notification mode on the emulated HPRE at QM v3: the jobs reach the device.
#[tokio::test]
async fn every_operation_in_every_mode_on_v3() {
    for mode in NotifyMode::ALL {
        let accel = emu(QmVersion::V3, mode).await;
        let before = hpre_completed(&accel);
        every_operation(&format!("v3 {mode:?}"), &accel).await;
        // Per curve: 3 signs + 3 self-checks + 3 verifies + 1 RustCrypto-made verify (P-256 only) + 2 ECDH + 1
        // public key; then 2 + 1 X448 and 4 X25519.
        let jobs = hpre_completed(&accel) - before;
        assert_eq!(jobs, 13 + 12 + 3 + 4, "{mode:?}");
    }
}

/// On QM v2 there is no ECC queue: everything runs on the CPU with the same answers, and nothing reaches the HPRE.
#[tokio::test]
async fn every_operation_on_v2_runs_on_the_cpu() {
    let accel = emu(QmVersion::V2, NotifyMode::Eventfd).await;
    let before = hpre_completed(&accel);
    every_operation("v2", &accel).await;
    assert_eq!(hpre_completed(&accel), before);
}

#[tokio::test]
async fn every_operation_on_the_cpu_backend() {
    let accel = common::cpu().await;
    every_operation("cpu", &accel).await;
}

/// The device and the CPU backend agree: RFC 6979 signatures byte for byte, random-nonce signatures cross-verify,
/// ECDH secrets and public keys equal.
#[tokio::test]
async fn device_equals_cpu_backend() {
    let dev = emu(QmVersion::V3, NotifyMode::Eventfd).await;
    let cpu = common::cpu().await;
    for curve in [EcCurve::P256, EcCurve::P384] {
        for i in 0..4u8 {
            let key = EcPrivateKey::generate(curve);
            let msg = [i; 100];
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
            let peer = EcPrivateKey::generate(curve);
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
    // X25519 agreement: the device against aws-lc (RFC 7748 §6.1 keys), and the all-zero refusal on both.
    let (a, b) = ([0x5Au8; 32], [0xA5u8; 32]);
    let pb = cpu.x25519_public(&b).await.unwrap();
    assert_eq!(
        *dev.x25519_agree(&a, &pb).await.unwrap(),
        *cpu.x25519_agree(&a, &pb).await.unwrap()
    );
    // A non-canonical u (p + 1, little-endian) reduces to u = 1 on both paths: a small-order point.
    let mut p1 = [0xFFu8; 32];
    p1[0] = 0xEE;
    p1[31] = 0x7F;
    for accel in [&dev, &cpu] {
        assert!(matches!(
            accel.x25519_agree(&a, &p1).await,
            Err(Error::InvalidParameter(_))
        ));
    }
    let k = [0x77u8; 56];
    let u = a56(X448_BOB_PUB);
    assert_eq!(
        dev.x448(&k, &u).await.unwrap(),
        cpu.x448(&k, &u).await.unwrap()
    );
}

/// Keys in every format round-trip, and convert from and to RustCrypto's types.
#[test]
fn key_formats_round_trip() {
    for curve in [EcCurve::P256, EcCurve::P384] {
        let key = EcPrivateKey::generate(curve);
        let again = |k: &EcPrivateKey| assert_eq!(k.to_bytes(), key.to_bytes());
        again(&EcPrivateKey::from_sec1_der(&key.to_sec1_der().unwrap()).unwrap());
        again(&EcPrivateKey::from_pkcs8_der(&key.to_pkcs8_der().unwrap()).unwrap());
        again(&EcPrivateKey::from_pem(&key.to_sec1_pem().unwrap()).unwrap());
        again(&EcPrivateKey::from_pem(&key.to_pkcs8_pem().unwrap()).unwrap());
        again(&EcPrivateKey::from_bytes(curve, &key.to_bytes()).unwrap());
        let pk = key.public_key();
        assert_eq!(pk.curve(), curve);
        assert_eq!(
            &EcPublicKey::from_public_key_der(&pk.to_public_key_der().unwrap()).unwrap(),
            pk
        );
        assert_eq!(
            &EcPublicKey::from_public_key_pem(&pk.to_public_key_pem().unwrap()).unwrap(),
            pk
        );
        assert_eq!(
            &EcPublicKey::from_sec1_bytes(curve, pk.to_sec1_bytes()).unwrap(),
            pk
        );
        assert_eq!(
            &EcPublicKey::from_coordinates(curve, pk.x(), pk.y()).unwrap(),
            pk
        );
        assert!(
            pk.to_sec1_bytes().len() == 1 + 2 * curve.field_bytes() && pk.to_sec1_bytes()[0] == 4
        );
        match curve {
            EcCurve::P256 => {
                let rc = p256::SecretKey::try_from(&key).unwrap();
                assert_eq!(EcPrivateKey::from(rc.clone()).to_bytes(), key.to_bytes());
                assert_eq!(EcPublicKey::from(rc.public_key()), *pk);
                assert_eq!(p256::PublicKey::try_from(pk).unwrap(), rc.public_key());
                // Compressed SEC1 reads too.
                use p256::elliptic_curve::sec1::ToEncodedPoint;
                let c = rc.public_key().to_encoded_point(true);
                assert_eq!(
                    &EcPublicKey::from_sec1_bytes(curve, c.as_bytes()).unwrap(),
                    pk
                );
                assert!(p384::SecretKey::try_from(&key).is_err());
            }
            EcCurve::P384 => {
                let rc = p384::SecretKey::try_from(&key).unwrap();
                assert_eq!(EcPrivateKey::from(rc.clone()).to_bytes(), key.to_bytes());
                assert_eq!(p384::PublicKey::try_from(pk).unwrap(), rc.public_key());
                assert!(p256::PublicKey::try_from(pk).is_err());
            }
            _ => unreachable!("P-521 is tested in tests/p521.rs"),
        }
        // Debug never shows the scalar.
        let dbg = format!("{key:?}");
        let d_hex: String = key.to_bytes().iter().map(|b| format!("{b:02x}")).collect();
        assert!(!dbg.contains(&d_hex[..8]));
    }
}

/// Bad points, wrong lengths, bad scalars, bad signatures, curve mismatches, small-order X25519/X448 points: typed
/// errors, never panics.
#[tokio::test]
async fn bad_input_gives_typed_errors() {
    for (name, accel) in backends().await {
        let key = EcPrivateKey::generate(EcCurve::P256);
        let pk = key.public_key().clone();
        // Off the curve, identity, wrong lengths.
        let mut y = pk.y().to_vec();
        y[31] ^= 1;
        assert!(matches!(
            EcPublicKey::from_coordinates(EcCurve::P256, pk.x(), &y),
            Err(Error::InvalidParameter(_))
        ));
        assert!(matches!(
            EcPublicKey::from_sec1_bytes(EcCurve::P256, &[0]),
            Err(Error::InvalidParameter(_))
        ));
        assert!(matches!(
            EcPublicKey::from_coordinates(EcCurve::P256, pk.x(), &y[1..]),
            Err(Error::InvalidLength { .. })
        ));
        assert!(matches!(
            EcPublicKey::from_sec1_bytes(EcCurve::P384, pk.to_sec1_bytes()),
            Err(Error::InvalidParameter(_))
        ));
        // Scalars: 0, n, wrong length.
        assert!(matches!(
            EcPrivateKey::from_bytes(EcCurve::P256, &[0; 32]),
            Err(Error::InvalidParameter(_))
        ));
        let n = hex("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551");
        assert!(matches!(
            EcPrivateKey::from_bytes(EcCurve::P256, &n),
            Err(Error::InvalidParameter(_))
        ));
        assert!(matches!(
            EcPrivateKey::from_bytes(EcCurve::P256, &[1; 31]),
            Err(Error::InvalidKeyLength { .. })
        ));
        assert!(EcPrivateKey::from_pem("-----BEGIN NOTHING-----").is_err());
        assert!(EcPrivateKey::from_pkcs8_der(&[0x30, 0x03, 0x02, 0x01]).is_err());
        // Signatures: wrong length, r = 0, bad DER, another curve, a changed byte.
        assert!(matches!(
            EcdsaSignature::from_bytes(EcCurve::P256, &[1; 63]),
            Err(Error::InvalidLength { .. })
        ));
        assert!(matches!(
            EcdsaSignature::from_bytes(EcCurve::P256, &[[0u8; 32], [1u8; 32]].concat()),
            Err(Error::InvalidParameter(_))
        ));
        assert!(EcdsaSignature::from_der(EcCurve::P256, &[0x30, 0x02, 0x02]).is_err());
        let sig = accel.ecdsa_sign(&key, b"m").await.unwrap();
        let mut bytes = sig.to_bytes().to_vec();
        bytes[40] ^= 0x80;
        let bad = EcdsaSignature::from_bytes(EcCurve::P256, &bytes).unwrap();
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
        // Digest lengths: empty, longer than 64.
        for dg in [&[][..], &[0u8; 65][..]] {
            assert!(matches!(
                accel
                    .ecdsa_sign_prehash(&key, dg, EcdsaNonce::Rfc6979)
                    .await,
                Err(Error::InvalidLength { .. })
            ));
            assert!(matches!(
                accel.ecdsa_verify_prehash(&pk, dg, &sig).await,
                Err(Error::InvalidLength { .. })
            ));
        }
        // A test nonce of zero: the engine refuses it (k not in [1, n-1]).
        assert!(
            matches!(
                accel
                    .ecdsa_sign_prehash_with_k_for_tests(&key, &[1; 32], &[0; 32])
                    .await,
                Err(Error::InvalidParameter(_))
            ),
            "{name}"
        );
        // X25519 / X448 small-order points: an all-zero secret is refused (RFC 7748 §6).
        for u in [[0u8; 32], {
            let mut one = [0u8; 32];
            one[0] = 1;
            one
        }] {
            assert!(
                matches!(
                    accel.x25519_agree(&[0x55; 32], &u).await,
                    Err(Error::InvalidParameter(_))
                ),
                "{name}"
            );
        }
        assert!(matches!(
            accel.x448_agree(&[0x55; 56], &[0; 56]).await,
            Err(Error::InvalidParameter(_))
        ));
        let mut one = [0u8; 56];
        one[0] = 1;
        assert!(matches!(
            accel.x448_agree(&[0x55; 56], &one).await,
            Err(Error::InvalidParameter(_))
        ));
    }
}

/// What the device receives, in the fields the protocol fixes (protocol doc §12.4): ECDSA sign alg 0x0E with
/// task_len1 = h/8 − 1, key = 7h, in = e ‖ k; verify alg 0x0F, key = 8h, in = e ‖ s ‖ r, the output field holding
/// the input address (UADK's `hpre_ecc` verify path); P-384 ECDH without bd_rsv2; X448 h = 72.
#[tokio::test]
async fn sqes_are_those_uadk_sends() {
    let accel = emu(QmVersion::V3, NotifyMode::Eventfd).await;
    let dev = hpre(&accel).unwrap();
    let key = EcPrivateKey::generate(EcCurve::P384);
    let dg = [0x5Au8; 48];
    dev.set_trace(true);
    let sig = accel
        .ecdsa_sign_prehash(&key, &dg, EcdsaNonce::Rfc6979)
        .await
        .unwrap();
    let peer = EcPrivateKey::generate(EcCurve::P384);
    accel.ecdh(&key, peer.public_key()).await.unwrap();
    accel.x448(&[9; 56], &[7; 56]).await.unwrap();
    let t = dev.take_trace();
    assert_eq!(t.len(), 4);
    // Sign: dw0 0x4000000E, dw1 task_len1 = 48/8 - 1 = 5.
    assert_eq!(&t[0].sqe[..8], &[0x0E, 0, 0, 0x40, 0x05, 0, 0, 0]);
    assert_eq!(t[0].qc_type, 1);
    assert_eq!(t[0].read("key").unwrap().bytes.len(), 7 * 48);
    let input = &t[0].read("in").unwrap().bytes;
    assert_eq!(&input[..48], &dg[..]);
    assert_eq!(
        &t[0].read("key").unwrap().bytes[96..144],
        &key.to_bytes()[..]
    );
    // The fault check: verify, e ‖ s ‖ r, output address = input address.
    assert_eq!(&t[1].sqe[..8], &[0x0F, 0, 0, 0x40, 0x05, 0, 0, 0]);
    let input = &t[1].read("in").unwrap().bytes;
    assert_eq!(&input[48..96], sig.s());
    assert_eq!(&input[96..], sig.r());
    assert_eq!(t[1].read("key").unwrap().bytes.len(), 8 * 48);
    assert_eq!(&t[1].sqe[16..24], &t[1].sqe[24..32]);
    // ECDH P-384: alg 0x0D, no bd_rsv2.
    assert_eq!(&t[2].sqe[..8], &[0x0D, 0, 0, 0x40, 0x05, 0, 0, 0]);
    // X448: alg 0x10, task_len1 = 72/8 - 1 = 8; key = p ‖ a ‖ clamped k, 72-byte fields.
    assert_eq!(&t[3].sqe[..8], &[0x10, 0, 0, 0x40, 0x08, 0, 0, 0]);
    let k = &t[3].read("key").unwrap().bytes;
    assert_eq!(k.len(), 3 * 72);
    assert!(k[144..160].iter().all(|&b| b == 0));
    assert_eq!((k[160] & 0x80, k[215] & 0x03), (0x80, 0));
}

/// OpenSSL interoperability on the emulated device: a P-256 key from `openssl ecparam -genkey` (and its PKCS#8
/// form) reads; our signature verifies with `openssl dgst -sha256 -verify`, OpenSSL's with us; our key files read
/// in OpenSSL and give the same public key.
#[tokio::test]
async fn openssl_interop() {
    let accel = emu(QmVersion::V3, NotifyMode::Eventfd).await;
    let dir = tempfile::tempdir().unwrap();
    let p = |f: &str| dir.path().join(f).to_str().unwrap().to_string();
    common::openssl(&[
        "ecparam",
        "-name",
        "prime256v1",
        "-genkey",
        "-out",
        &p("k.pem"),
    ]);
    common::openssl(&["ec", "-in", &p("k.pem"), "-pubout", "-out", &p("pub.pem")]);
    common::openssl(&[
        "pkcs8",
        "-topk8",
        "-nocrypt",
        "-in",
        &p("k.pem"),
        "-out",
        &p("k8.pem"),
    ]);
    let key = EcPrivateKey::from_pem(&std::fs::read_to_string(p("k.pem")).unwrap()).unwrap();
    let key8 = EcPrivateKey::from_pem(&std::fs::read_to_string(p("k8.pem")).unwrap()).unwrap();
    assert_eq!(key.to_bytes(), key8.to_bytes());
    let pk =
        EcPublicKey::from_public_key_pem(&std::fs::read_to_string(p("pub.pem")).unwrap()).unwrap();
    assert_eq!(&pk, key.public_key());
    assert_eq!(key.curve(), EcCurve::P256);

    let msg = b"signed on the HPRE, checked by OpenSSL".repeat(10);
    std::fs::write(p("msg"), &msg).unwrap();
    let before = hpre_completed(&accel);
    let sig = accel.ecdsa_sign(&key, &msg).await.unwrap();
    assert!(hpre_completed(&accel) > before, "signed on the device");
    std::fs::write(p("sig.der"), sig.to_der()).unwrap();
    let out = common::openssl(&[
        "dgst",
        "-sha256",
        "-verify",
        &p("pub.pem"),
        "-signature",
        &p("sig.der"),
        &p("msg"),
    ]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("Verified OK"));
    // A random-nonce signature too.
    let sig = accel
        .ecdsa_sign_with(&key, &msg, EcdsaNonce::Random)
        .await
        .unwrap();
    std::fs::write(p("sig2.der"), sig.to_der()).unwrap();
    common::openssl(&[
        "dgst",
        "-sha256",
        "-verify",
        &p("pub.pem"),
        "-signature",
        &p("sig2.der"),
        &p("msg"),
    ]);
    // A changed signature fails in OpenSSL too (a check that the check can fail).
    let mut der = sig.to_der();
    let last = der.len() - 1;
    der[last] ^= 1;
    std::fs::write(p("bad.der"), der).unwrap();
    let bad = std::process::Command::new("openssl")
        .args([
            "dgst",
            "-sha256",
            "-verify",
            &p("pub.pem"),
            "-signature",
            &p("bad.der"),
            &p("msg"),
        ])
        .output()
        .unwrap();
    assert!(!bad.status.success());

    // OpenSSL signs, we verify (DER from the file).
    common::openssl(&[
        "dgst",
        "-sha256",
        "-sign",
        &p("k.pem"),
        "-out",
        &p("theirs.der"),
        &p("msg"),
    ]);
    let theirs =
        EcdsaSignature::from_der(EcCurve::P256, &std::fs::read(p("theirs.der")).unwrap()).unwrap();
    accel.ecdsa_verify(&pk, &msg, &theirs).await.unwrap();
    assert!(matches!(
        accel.ecdsa_verify(&pk, b"another message", &theirs).await,
        Err(Error::BadSignature)
    ));

    // Our files in OpenSSL: a P-384 key, SEC1 and PKCS#8, gives our public key.
    let ours = EcPrivateKey::generate(EcCurve::P384);
    std::fs::write(p("ours.pem"), ours.to_sec1_pem().unwrap().as_bytes()).unwrap();
    std::fs::write(p("ours8.pem"), ours.to_pkcs8_pem().unwrap().as_bytes()).unwrap();
    for f in ["ours.pem", "ours8.pem"] {
        let out = common::openssl(&["pkey", "-in", &p(f), "-pubout"]);
        let theirs =
            EcPublicKey::from_public_key_pem(&String::from_utf8(out.stdout).unwrap()).unwrap();
        assert_eq!(&theirs, ours.public_key());
    }
    // ECDH against OpenSSL's derive.
    std::fs::write(
        p("ours-pub.pem"),
        ours.public_key().to_public_key_pem().unwrap(),
    )
    .unwrap();
    let peer = EcPrivateKey::generate(EcCurve::P384);
    std::fs::write(p("peer.pem"), peer.to_pkcs8_pem().unwrap().as_bytes()).unwrap();
    let out = common::openssl(&[
        "pkeyutl",
        "-derive",
        "-inkey",
        &p("peer.pem"),
        "-peerkey",
        &p("ours-pub.pem"),
    ]);
    assert_eq!(
        out.stdout,
        *accel.ecdh(&ours, peer.public_key()).await.unwrap()
    );
}
