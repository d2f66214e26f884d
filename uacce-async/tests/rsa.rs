//! The RSA API (`RsaPrivateKey`/`RsaPublicKey`, PKCS#1 v1.5 and PSS signatures, OAEP) on the emulated HPRE device
//! (QM v2 and v3, every notification mode) and the CPU backend: NIST CAVP and PKCS#1 v2.1 vectors (pyca's
//! `cryptography_vectors`, subsets in `tests/vectors/rsa`, see its README), device results equal to the CPU
//! backend's, and typed errors for bad keys, lengths, signatures and ciphertexts.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use uacce_async::{
    Accel, EmuOptions, Error, Fault, NotifyMode, RsaFaultCheck, RsaHash, RsaPrivateKey,
    RsaPublicKey,
};
use uacce_emu::DeviceKind;
use uacce_sys::qm::QmVersion;
use uacce_sys::qm::hpre::{self, HpreAlg, HpreQcType};

fn hex(s: &str) -> Vec<u8> {
    let s = s.trim();
    let s = if s.len() % 2 == 1 {
        format!("0{s}")
    } else {
        s.to_string()
    };
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn vector(name: &str) -> String {
    let p = format!("{}/tests/vectors/rsa/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
}

fn key_pem(bits: usize) -> RsaPrivateKey {
    RsaPrivateKey::from_pem(&vector(&format!("key{bits}.pem"))).unwrap()
}

fn hash_of(name: &str) -> Option<RsaHash> {
    match name {
        "SHA256" => Some(RsaHash::Sha256),
        "SHA384" => Some(RsaHash::Sha384),
        "SHA512" => Some(RsaHash::Sha512),
        _ => None,
    }
}

/// One record of a NIST file: the `[mod = …]` block's fields and the record's own (the record's win).
struct Record {
    modulus_bits: usize,
    f: HashMap<String, String>,
}

impl Record {
    fn get(&self, k: &str) -> Vec<u8> {
        hex(self.f.get(k).unwrap_or_else(|| panic!("field {k}")))
    }
}

/// The records (blocks with `SHAAlg`) of a CAVP file, each with the fields of its mod block before it.
fn nist(name: &str) -> Vec<Record> {
    let text = vector(name);
    let mut out = Vec::new();
    let mut block: HashMap<String, String> = HashMap::new();
    let mut modulus_bits = 0;
    for chunk in text.split("\n\n") {
        let mut rec: HashMap<String, String> = HashMap::new();
        for line in chunk.lines() {
            let line = line.trim();
            if let Some(m) = line.strip_prefix("[mod = ") {
                modulus_bits = m.trim_end_matches(']').parse().unwrap();
                block.clear();
            } else if let Some((k, v)) = line.split_once(" = ") {
                rec.insert(k.to_string(), v.to_string());
            }
        }
        if rec.contains_key("SHAAlg") {
            let mut f = block.clone();
            f.extend(rec);
            out.push(Record { modulus_bits, f });
        } else {
            block.extend(rec);
        }
    }
    out
}

/// The key of a SigGen record (n, e, d only: the primes are recovered by the `rsa` crate, then converted).
fn siggen_key(r: &Record) -> Result<RsaPrivateKey, Error> {
    let big = |k: &str| rsa::BigUint::from_bytes_be(&r.get(k));
    let k = rsa::RsaPrivateKey::from_components(big("n"), big("e"), big("d"), vec![]).unwrap();
    RsaPrivateKey::try_from(&k)
}

/// Whether the full set runs: `UACCE_TEST_SCALE` below 1 (the valgrind run) keeps the eventfd backends, the CPU
/// backend and 1024-bit keys only.
fn full() -> bool {
    common::scaled(100) >= 100
}

/// Whether a record of a `bits`-bit key runs on backend `name` (the larger keys on the first mode and the CPU only:
/// the emulator's unoptimised test build takes a while for 4096-bit CRT).
fn runs(name: &str, bits: usize) -> bool {
    if !full() {
        return bits == 1024;
    }
    bits <= 2048 || name.starts_with("emu v3 BusyPoll") || name == "cpu"
}

/// The backends: the emulator at v3 in every notification mode and at v2 (eventfd), then the CPU backend. Every
/// device backend sends every job to the device and has no CPU backup, so a device failure shows.
async fn backends() -> Vec<(String, Accel)> {
    let mut v = Vec::new();
    let modes: Vec<NotifyMode> = if full() {
        NotifyMode::ALL.to_vec()
    } else {
        vec![NotifyMode::Eventfd]
    };
    for mode in modes {
        let opts = EmuOptions::default().version(QmVersion::V3);
        let a = common::emu(mode, opts, Some(Duration::from_secs(30))).await;
        v.push((format!("emu v3 {mode:?}"), a));
    }
    let opts = EmuOptions::default().version(QmVersion::V2);
    let a = common::emu(NotifyMode::Eventfd, opts, Some(Duration::from_secs(30))).await;
    v.push(("emu v2 Eventfd".into(), a));
    v.push(("cpu".into(), common::cpu().await));
    v
}

fn hpre_completed(accel: &Accel) -> Option<u64> {
    let devs: Vec<_> = accel
        .emulated_devices()
        .iter()
        .filter(|d| d.config().kind == DeviceKind::Hpre)
        .collect();
    (!devs.is_empty()).then(|| devs.iter().map(|d| d.counters().completed).sum())
}

/// Check that the device backends completed `n` more HPRE requests (SQEs) than at `before` (the CPU backend has no
/// device). A private-key operation is two under the default [`RsaFaultCheck::Device`](uacce_async::RsaFaultCheck).
fn assert_device_jobs(name: &str, accel: &Accel, before: Option<u64>, n: u64) {
    if let (Some(b), Some(a)) = (before, hpre_completed(accel)) {
        assert_eq!(a - b, n, "{name}: HPRE jobs");
    }
}

/// CAVP SigGen PKCS#1 v1.5 (FIPS 186-2): our signature equals the vector's on every backend (the 1536-bit key is
/// not an HPRE size: refused with `InvalidKey`), and verifies.
#[tokio::test]
async fn cavp_siggen15_every_backend() {
    let recs = nist("SigGen15_186-2.subset.txt");
    let mut keys = HashMap::new();
    for r in &recs {
        keys.entry(r.modulus_bits).or_insert_with(|| siggen_key(r));
    }
    assert!(matches!(keys[&1536], Err(Error::InvalidKey(_))));
    for (name, accel) in backends().await {
        let before = hpre_completed(&accel);
        let (mut jobs, mut sqes) = (0, 0);
        for r in recs.iter().filter(|r| r.modulus_bits != 1536) {
            if !runs(&name, r.modulus_bits) {
                continue;
            }
            let key = keys[&r.modulus_bits].as_ref().unwrap();
            let hash = hash_of(&r.f["SHAAlg"]).unwrap();
            let msg = r.get("Msg");
            let sig = accel.rsa_sign_pkcs1v15(key, hash, &msg).await.unwrap();
            assert_eq!(sig, r.get("S"), "{name}: {} bits {hash:?}", r.modulus_bits);
            accel
                .rsa_verify_pkcs1v15(&key.public_key(), hash, &msg, &sig)
                .await
                .unwrap();
            jobs += 2;
            // The sign is two HPRE requests (the private operation and the device's fault check), the verify one.
            sqes += 3;
        }
        assert!(jobs >= 12, "{name}: {jobs} operations");
        assert_device_jobs(&name, &accel, before, sqes);
    }
}

/// CAVP SigGen PSS (salt 20 bytes given): with the vector's salt our signature equals the vector's; the vector's
/// signature verifies with salt length 20 and fails with the default (hash-length) salt.
#[tokio::test]
async fn cavp_siggen_pss_every_backend() {
    let recs = nist("SigGenPSS_186-2.subset.txt");
    let mut keys = HashMap::new();
    for r in &recs {
        keys.entry(r.modulus_bits).or_insert_with(|| siggen_key(r));
    }
    for (name, accel) in backends().await {
        let mut n = 0;
        for r in recs.iter().filter(|r| r.modulus_bits != 1536) {
            if !runs(&name, r.modulus_bits) {
                continue;
            }
            let key = keys[&r.modulus_bits].as_ref().unwrap();
            let hash = hash_of(&r.f["SHAAlg"]).unwrap();
            let (msg, salt, s) = (r.get("Msg"), r.get("SaltVal"), r.get("S"));
            let sig = accel
                .rsa_sign_pss_with_salt_unchecked(key, hash, &salt, &msg)
                .await
                .unwrap();
            assert_eq!(sig, s, "{name}: {} bits {hash:?}", r.modulus_bits);
            let public = key.public_key();
            accel
                .rsa_verify_pss_salt_len(&public, hash, salt.len(), &msg, &s)
                .await
                .unwrap();
            if salt.len() != hash.output_len() {
                assert!(matches!(
                    accel.rsa_verify_pss(&public, hash, &msg, &s).await,
                    Err(Error::BadSignature)
                ));
            }
            n += 1;
        }
        assert!(n >= 6, "{name}");
    }
}

/// CAVP SigVer (FIPS 186-3), PKCS#1 v1.5 and PSS: every P record verifies, every F record (message, e, signature
/// or encoding changed) is `BadSignature` (or `InvalidKey` when the changed e is not a valid exponent).
#[tokio::test]
async fn cavp_sigver_every_backend() {
    for (name, accel) in backends().await {
        if !(name.starts_with("emu v3 Eventfd") || name.starts_with("emu v2") || name == "cpu") {
            continue;
        }
        for (file, pss) in [
            ("SigVer15_186-3.subset.rsp", false),
            ("SigVerPSS_186-3.subset.rsp", true),
        ] {
            let (mut pass, mut fail, mut want_pass, mut want_fail) = (0, 0, 0, 0);
            for r in nist(file) {
                let Some(hash) = hash_of(&r.f["SHAAlg"]) else {
                    continue;
                };
                if !full() && r.modulus_bits != 1024 {
                    continue;
                }
                if r.f["Result"].starts_with('P') {
                    want_pass += 1;
                } else {
                    want_fail += 1;
                }
                let key = match RsaPublicKey::from_components(&r.get("n"), &r.get("e")) {
                    Ok(k) => k,
                    Err(e) => {
                        // Only a changed e or the 1536-bit size may be refused.
                        assert!(matches!(e, Error::InvalidKey(_)), "{e}");
                        assert!(r.f["Result"].starts_with('F') || r.modulus_bits == 1536);
                        if r.f["Result"].starts_with('P') {
                            want_pass -= 1;
                        } else {
                            fail += 1;
                        }
                        continue;
                    }
                };
                let (msg, s) = (r.get("Msg"), r.get("S"));
                let got = if pss {
                    let salt_len = r.get("SaltVal").len();
                    accel
                        .rsa_verify_pss_salt_len(&key, hash, salt_len, &msg, &s)
                        .await
                } else {
                    accel.rsa_verify_pkcs1v15(&key, hash, &msg, &s).await
                };
                if r.f["Result"].starts_with('P') {
                    got.unwrap_or_else(|e| panic!("{name} {file}: {e}"));
                    pass += 1;
                } else {
                    assert!(
                        matches!(got, Err(Error::BadSignature)),
                        "{name} {file}: {got:?}"
                    );
                    fail += 1;
                }
            }
            // Every P record of an HPRE size verified, every F record was refused.
            assert_eq!((pass, fail), (want_pass, want_fail), "{name} {file}");
            assert!(pass >= 3 && fail >= 9, "{name} {file}: {pass} P, {fail} F");
        }
    }
}

/// One OAEP key and its examples from the converted PKCS#1 v2.1 files.
struct OaepCase {
    key: RsaPrivateKey,
    examples: Vec<HashMap<String, Vec<u8>>>,
}

fn oaep_cases(file: &str) -> Vec<OaepCase> {
    let mut out = Vec::new();
    for part in vector(file).split("[key]").skip(1) {
        let mut chunks = part.split("\n\n");
        let mut k = HashMap::new();
        for line in chunks.next().unwrap().lines() {
            if let Some((a, b)) = line.split_once(" = ") {
                k.insert(a.to_string(), hex(b));
            }
        }
        let key = RsaPrivateKey::from_components(
            &k["n"], &k["e"], &k["d"], &k["p"], &k["q"], &k["dp"], &k["dq"], &k["qinv"],
        )
        .unwrap();
        let examples = chunks
            .filter(|c| c.contains("msg = "))
            .map(|c| {
                c.lines()
                    .filter_map(|l| l.split_once(" = "))
                    .map(|(a, b)| (a.to_string(), hex(b)))
                    .collect()
            })
            .collect();
        out.push(OaepCase { key, examples });
    }
    out
}

/// PKCS#1 v2.1 OAEP (SHA-1, with the seeds: exact ciphertexts; 1024 and 2048-bit keys) and pyca's SHA-256 vectors
/// (decryption; two 2048-bit keys).
#[tokio::test]
async fn oaep_vectors_every_backend() {
    let sha1 = oaep_cases("oaep-sha1.txt");
    let sha256 = oaep_cases("oaep-sha256.txt");
    assert_eq!((sha1.len(), sha256.len()), (2, 2));
    for (name, accel) in backends().await {
        let before = hpre_completed(&accel);
        let (mut jobs, mut sqes) = (0, 0);
        for case in sha1.iter().filter(|c| full() || c.key.bits() == 1024) {
            let public = case.key.public_key();
            for ex in &case.examples {
                let ct = accel
                    .rsa_encrypt_oaep_with_seed_unchecked(
                        &public,
                        RsaHash::Sha1,
                        b"",
                        &ex["msg"],
                        &ex["seed"],
                    )
                    .await
                    .unwrap();
                assert_eq!(ct, ex["ct"], "{name}");
                let m = accel
                    .rsa_decrypt_oaep(&case.key, RsaHash::Sha1, b"", &ex["ct"])
                    .await
                    .unwrap();
                assert_eq!(m, ex["msg"], "{name}");
                jobs += 2;
                // Encryption one HPRE request; decryption two (with the device's fault check).
                sqes += 3;
            }
        }
        // Both SHA-256 keys are 2048 bits: one of them in the scaled-down run.
        for case in sha256.iter().take(if full() { 2 } else { 1 }) {
            for ex in &case.examples {
                let m = accel
                    .rsa_decrypt_oaep(&case.key, RsaHash::Sha256, b"", &ex["ct"])
                    .await
                    .unwrap();
                assert_eq!(m, ex["msg"], "{name}");
                jobs += 1;
                sqes += 2;
            }
        }
        assert_eq!(jobs, if full() { 36 } else { 18 }, "{name}");
        assert!(sha256.iter().all(|c| c.key.bits() == 2048));
        assert_device_jobs(&name, &accel, before, sqes);
    }
}

/// The device and the CPU backend agree: PKCS#1 v1.5 byte for byte, PSS and OAEP (randomised) across: what one
/// makes the other verifies or decrypts; labels bind.
#[tokio::test]
async fn device_and_cpu_agree() {
    let cpu = common::cpu().await;
    let msg = b"the same message on both paths";
    for (name, dev) in backends().await {
        if name == "cpu" {
            continue;
        }
        let bits: &[usize] = if !full() {
            &[1024]
        } else if name.starts_with("emu v3 BusyPoll") {
            &[1024, 2048, 3072, 4096]
        } else {
            &[2048]
        };
        for &b in bits {
            let key = key_pem(b);
            let public = key.public_key();
            for hash in [RsaHash::Sha256, RsaHash::Sha384, RsaHash::Sha512] {
                let a = dev.rsa_sign_pkcs1v15(&key, hash, msg).await.unwrap();
                let c = cpu.rsa_sign_pkcs1v15(&key, hash, msg).await.unwrap();
                assert_eq!(a, c, "{name} {b} {hash:?}");
                if b == 1024 && hash == RsaHash::Sha512 {
                    // 2·64 + 2 bytes of PSS do not fit a 1024-bit key (RFC 8017 §9.1.1 step 3), on either path.
                    for accel in [&dev, &cpu] {
                        assert!(matches!(
                            accel.rsa_sign_pss(&key, hash, msg).await,
                            Err(Error::InvalidParameter(_))
                        ));
                    }
                    continue;
                }
                let p = dev.rsa_sign_pss(&key, hash, msg).await.unwrap();
                cpu.rsa_verify_pss(&public, hash, msg, &p).await.unwrap();
                let p = cpu.rsa_sign_pss(&key, hash, msg).await.unwrap();
                dev.rsa_verify_pss(&public, hash, msg, &p).await.unwrap();
                // Two PSS signatures of one message differ (fresh salt).
                assert_ne!(p, dev.rsa_sign_pss(&key, hash, msg).await.unwrap());
                // Another salt length.
                let p = dev.rsa_sign_pss_salt_len(&key, hash, 7, msg).await.unwrap();
                cpu.rsa_verify_pss_salt_len(&public, hash, 7, msg, &p)
                    .await
                    .unwrap();
            }
            for hash in [RsaHash::Sha1, RsaHash::Sha256] {
                let ct = dev
                    .rsa_encrypt_oaep(&public, hash, b"label", msg)
                    .await
                    .unwrap();
                assert_eq!(
                    cpu.rsa_decrypt_oaep(&key, hash, b"label", &ct)
                        .await
                        .unwrap(),
                    msg
                );
                assert!(matches!(
                    cpu.rsa_decrypt_oaep(&key, hash, b"other", &ct).await,
                    Err(Error::DecryptionFailed)
                ));
                let ct = cpu
                    .rsa_encrypt_oaep(&public, hash, b"label", msg)
                    .await
                    .unwrap();
                assert_eq!(
                    dev.rsa_decrypt_oaep(&key, hash, b"label", &ct)
                        .await
                        .unwrap(),
                    msg
                );
                assert!(matches!(
                    dev.rsa_decrypt_oaep(&key, hash, b"", &ct).await,
                    Err(Error::DecryptionFailed)
                ));
            }
        }
    }
}

/// Key formats: PKCS#1 and PKCS#8, DER and PEM, private and public, round-trip; RustCrypto's key types convert
/// both ways; OpenSSL reads what we write.
#[test]
fn key_formats_round_trip() {
    for b in [1024, 2048, 3072, 4096] {
        let pem = vector(&format!("key{b}.pem"));
        let key = RsaPrivateKey::from_pem(&pem).unwrap();
        assert_eq!((key.bits(), key.size()), (b, b / 8));
        // The file is PKCS#8 as openssl genpkey writes it: ours is the same DER.
        let (_, der) = pem_decode(&pem);
        assert_eq!(key.to_pkcs8_der().unwrap()[..], der[..]);
        let pkcs1 = key.to_pkcs1_der().unwrap();
        let again = RsaPrivateKey::from_pkcs1_der(&pkcs1).unwrap();
        assert_eq!(again.to_pkcs8_der().unwrap(), key.to_pkcs8_der().unwrap());
        let again = RsaPrivateKey::from_pem(&key.to_pkcs1_pem().unwrap()).unwrap();
        assert_eq!(again.to_pkcs1_der().unwrap(), pkcs1);
        let again = RsaPrivateKey::from_pkcs8_der(&key.to_pkcs8_der().unwrap()).unwrap();
        assert_eq!(again.to_pkcs1_der().unwrap(), pkcs1);
        let public = key.public_key();
        assert_eq!(
            RsaPublicKey::from_pem(&public.to_public_key_pem().unwrap()).unwrap(),
            public
        );
        assert_eq!(
            RsaPublicKey::from_pem(&public.to_pkcs1_pem().unwrap()).unwrap(),
            public
        );
        assert_eq!(
            RsaPublicKey::from_pkcs1_der(&public.to_pkcs1_der().unwrap()).unwrap(),
            public
        );
        // RustCrypto, both ways.
        let theirs = rsa::RsaPrivateKey::try_from(&key).unwrap();
        use rsa::pkcs8::EncodePrivateKey;
        assert_eq!(
            theirs.to_pkcs8_der().unwrap().as_bytes(),
            &key.to_pkcs8_der().unwrap()[..]
        );
        let ours = RsaPrivateKey::try_from(&theirs).unwrap();
        assert_eq!(ours.to_pkcs1_der().unwrap(), pkcs1);
        let their_pub = rsa::RsaPublicKey::try_from(&public).unwrap();
        assert_eq!(RsaPublicKey::try_from(&their_pub).unwrap(), public);
        // The debug output shows no secret.
        let dbg = format!("{key:?}");
        assert!(dbg.contains(&b.to_string()) && dbg.len() < 64, "{dbg}");
    }
}

fn pem_decode(pem: &str) -> (String, Vec<u8>) {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let label = pem.lines().next().unwrap().to_string();
    (label, base64(&body))
}

fn base64(s: &str) -> Vec<u8> {
    let val = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => (c - b'A') as u32,
            b'a'..=b'z' => (c - b'a' + 26) as u32,
            b'0'..=b'9' => (c - b'0' + 52) as u32,
            b'+' => 62,
            b'/' => 63,
            _ => panic!("base64"),
        }
    };
    let bytes: Vec<u8> = s.bytes().filter(|&c| c != b'=').collect();
    let mut out = Vec::new();
    for chunk in bytes.chunks(4) {
        let mut acc = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            acc |= val(c) << (18 - 6 * i);
        }
        for i in 0..chunk.len() - 1 {
            out.push((acc >> (16 - 8 * i)) as u8);
        }
    }
    out
}

/// Bad keys are `InvalidKey`, never a panic: sizes the HPRE does not take, bad exponents, inconsistent CRT
/// parameters, garbage, wrong PEM labels, keys of another algorithm.
#[test]
fn bad_keys_are_refused() {
    let key = key_pem(2048);
    let der = key.to_pkcs1_der().unwrap();
    let k = rsa::pkcs1::RsaPrivateKey::try_from(&der[..]).unwrap();
    let parts: Vec<Vec<u8>> = [
        k.modulus,
        k.public_exponent,
        k.private_exponent,
        k.prime1,
        k.prime2,
        k.exponent1,
        k.exponent2,
        k.coefficient,
    ]
    .iter()
    .map(|u| u.as_bytes().to_vec())
    .collect();
    let build = |p: &[Vec<u8>]| {
        RsaPrivateKey::from_components(&p[0], &p[1], &p[2], &p[3], &p[4], &p[5], &p[6], &p[7])
    };
    build(&parts).unwrap();
    // Flip the low bit of each component in turn (n stays odd: flip bit 1 there): each is caught.
    for i in 0..8 {
        let mut p = parts.clone();
        let last = p[i].len() - 1;
        p[i][last] ^= if i == 0 { 2 } else { 1 };
        assert!(
            matches!(build(&p), Err(Error::InvalidKey(_))),
            "component {i}"
        );
    }
    // Swapped primes make qinv wrong.
    let mut p = parts.clone();
    p.swap(3, 4);
    assert!(matches!(build(&p), Err(Error::InvalidKey(_))));
    // e = 1, e even, e ≥ 2^33.
    for e in [&[1u8][..], &[1, 0, 0], &[2, 0, 0, 0, 1]] {
        assert!(matches!(
            RsaPublicKey::from_components(&parts[0], e),
            Err(Error::InvalidKey(_))
        ));
    }
    // Sizes: 512 and 1536 bits, an even modulus.
    assert!(matches!(
        RsaPublicKey::from_components(&[0xC3; 64], &[3]),
        Err(Error::InvalidKey(_))
    ));
    assert!(matches!(
        RsaPrivateKey::from_pem(&vector("key1536.pem")),
        Err(Error::InvalidKey(_))
    ));
    assert!(matches!(
        RsaPublicKey::from_components(&[0xC2; 256], &[3]),
        Err(Error::InvalidKey(_))
    ));
    // Garbage, truncation, wrong labels.
    assert!(matches!(
        RsaPrivateKey::from_pkcs1_der(b"junk"),
        Err(Error::InvalidKey(_))
    ));
    assert!(matches!(
        RsaPrivateKey::from_pkcs1_der(&der[..der.len() - 1]),
        Err(Error::InvalidKey(_))
    ));
    assert!(matches!(
        RsaPrivateKey::from_pkcs8_der(&der),
        Err(Error::InvalidKey(_))
    ));
    let pem = key.public_key().to_public_key_pem().unwrap();
    assert!(matches!(
        RsaPrivateKey::from_pem(&pem),
        Err(Error::InvalidKey(_))
    ));
    assert!(matches!(
        RsaPublicKey::from_pem("-----BEGIN X-----\n-----END X-----\n"),
        Err(Error::InvalidKey(_))
    ));
    // A PKCS#8 EC key is not an RSA key.
    let ec = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgY2Sk7o5Y2ri2Xxq0\nNAbnTLtJZKoGRgqUJhK3l2PhE0KhRANCAARSgbEyaomNf8nJVsg1YwqBJEL5o2aY\n7Tu0aRHRA0GwTqCUZY4EXNexh7ULLwiuh7Ovcns7QUBg8bISNWcoH4Qd\n-----END PRIVATE KEY-----\n";
    assert!(matches!(
        RsaPrivateKey::from_pem(ec),
        Err(Error::InvalidKey(_))
    ));
}

/// Wrong lengths, out-of-range values, bad signatures and ciphertexts give typed errors on every backend.
#[tokio::test]
async fn bad_inputs_give_typed_errors() {
    let key = key_pem(2048);
    let public = key.public_key();
    let n = public.modulus().to_vec();
    for (name, accel) in backends().await {
        let sig = accel
            .rsa_sign_pkcs1v15(&key, RsaHash::Sha256, b"m")
            .await
            .unwrap();
        // Wrong message, hash, flipped bit, sig ≥ n, wrong length.
        for (m, h) in [(&b"n"[..], RsaHash::Sha256), (b"m", RsaHash::Sha384)] {
            assert!(matches!(
                accel.rsa_verify_pkcs1v15(&public, h, m, &sig).await,
                Err(Error::BadSignature)
            ));
        }
        let mut bad = sig.clone();
        bad[100] ^= 4;
        assert!(matches!(
            accel
                .rsa_verify_pkcs1v15(&public, RsaHash::Sha256, b"m", &bad)
                .await,
            Err(Error::BadSignature)
        ));
        assert!(matches!(
            accel
                .rsa_verify_pss(&public, RsaHash::Sha256, b"m", &sig)
                .await,
            Err(Error::BadSignature)
        ));
        for s in [&n[..], &[0xFF; 256][..]] {
            assert!(matches!(
                accel
                    .rsa_verify_pkcs1v15(&public, RsaHash::Sha256, b"m", s)
                    .await,
                Err(Error::BadSignature)
            ));
            assert!(matches!(
                accel.rsa_decrypt_oaep(&key, RsaHash::Sha256, b"", s).await,
                Err(Error::DecryptionFailed)
            ));
        }
        for len in [0, 255, 257] {
            assert!(matches!(
                accel
                    .rsa_verify_pss(&public, RsaHash::Sha256, b"m", &vec![1; len])
                    .await,
                Err(Error::InvalidLength { .. })
            ));
            assert!(matches!(
                accel
                    .rsa_decrypt_oaep(&key, RsaHash::Sha256, b"", &vec![1; len])
                    .await,
                Err(Error::InvalidLength { .. })
            ));
        }
        // SHA-1 signatures are refused; too long a salt, too long an OAEP message.
        assert!(matches!(
            accel.rsa_sign_pkcs1v15(&key, RsaHash::Sha1, b"m").await,
            Err(Error::Unsupported(_))
        ));
        assert!(matches!(
            accel
                .rsa_sign_pss_salt_len(&key, RsaHash::Sha512, 200, b"m")
                .await,
            Err(Error::InvalidParameter(_))
        ));
        assert!(matches!(
            accel
                .rsa_encrypt_oaep(&public, RsaHash::Sha256, b"", &[0; 191])
                .await,
            Err(Error::InvalidLength { .. })
        ));
        let ct = accel
            .rsa_encrypt_oaep(&public, RsaHash::Sha256, b"", &[0; 190])
            .await
            .unwrap();
        // Every tampered ciphertext is the one DecryptionFailed: a flipped bit, another key, zero.
        let mut bad = ct.clone();
        bad[10] ^= 1;
        for c in [bad, vec![0; 256], [0u8, 1].repeat(128)] {
            assert!(
                matches!(
                    accel.rsa_decrypt_oaep(&key, RsaHash::Sha256, b"", &c).await,
                    Err(Error::DecryptionFailed)
                ),
                "{name}"
            );
        }
        assert!(matches!(
            accel.rsa_decrypt_oaep(&key, RsaHash::Sha1, b"", &ct).await,
            Err(Error::DecryptionFailed)
        ));
    }
}

/// Run `cmd` with `args`; panics with its stderr if it fails.
fn run(cmd: &str, args: &[&str]) -> String {
    let out = std::process::Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{cmd}: {e}"));
    assert!(
        out.status.success(),
        "{cmd} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// OpenSSL interoperability, both ways, on the emulated device (v3) and the CPU backend: a key made by `openssl
/// genpkey` is imported; our PKCS#1 v1.5 and PSS signatures pass `openssl dgst -verify`, OpenSSL's pass ours; OAEP
/// (SHA-256 and SHA-1, with a label) encrypted by OpenSSL decrypts here and the reverse.
#[tokio::test]
async fn openssl_interop() {
    let dir = tempfile::tempdir().unwrap();
    let path = |f: &str| dir.path().join(f).to_str().unwrap().to_string();
    run(
        "openssl",
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            &path("key.pem"),
        ],
    );
    run(
        "openssl",
        &[
            "pkey",
            "-in",
            &path("key.pem"),
            "-pubout",
            "-out",
            &path("pub.pem"),
        ],
    );
    let key = RsaPrivateKey::from_pem(&std::fs::read_to_string(path("key.pem")).unwrap()).unwrap();
    let public =
        RsaPublicKey::from_pem(&std::fs::read_to_string(path("pub.pem")).unwrap()).unwrap();
    assert_eq!(key.public_key(), public);
    // OpenSSL reads the PKCS#1 PEM we write, and finds the same key.
    std::fs::write(path("ours.pem"), key.to_pkcs1_pem().unwrap().as_bytes()).unwrap();
    let a = run("openssl", &["pkey", "-in", &path("ours.pem"), "-pubout"]);
    assert_eq!(a, std::fs::read_to_string(path("pub.pem")).unwrap());
    let msg = b"interoperable message";
    std::fs::write(path("msg"), msg).unwrap();
    let pss = [
        "-sigopt",
        "rsa_padding_mode:pss",
        "-sigopt",
        "rsa_pss_saltlen:digest",
    ];

    for (name, accel) in [
        (
            "emu v3",
            common::emu(
                NotifyMode::Eventfd,
                EmuOptions::default(),
                Some(Duration::from_secs(30)),
            )
            .await,
        ),
        ("cpu", common::cpu().await),
    ] {
        for (hash, md) in [
            (RsaHash::Sha256, "-sha256"),
            (RsaHash::Sha384, "-sha384"),
            (RsaHash::Sha512, "-sha512"),
        ] {
            // Ours → OpenSSL.
            let sig = accel.rsa_sign_pkcs1v15(&key, hash, msg).await.unwrap();
            std::fs::write(path("sig"), &sig).unwrap();
            let v = run(
                "openssl",
                &[
                    "dgst",
                    md,
                    "-verify",
                    &path("pub.pem"),
                    "-signature",
                    &path("sig"),
                    &path("msg"),
                ],
            );
            assert!(v.contains("Verified OK"), "{name}: {v}");
            let sig = accel.rsa_sign_pss(&key, hash, msg).await.unwrap();
            std::fs::write(path("sig"), &sig).unwrap();
            let mut args = vec!["dgst", md];
            args.extend(pss);
            let sig_path = path("sig");
            let pub_path = path("pub.pem");
            let msg_path = path("msg");
            args.extend(["-verify", &pub_path, "-signature", &sig_path, &msg_path]);
            let v = run("openssl", &args);
            assert!(v.contains("Verified OK"), "{name}: {v}");
            // OpenSSL → ours.
            run(
                "openssl",
                &[
                    "dgst",
                    md,
                    "-sign",
                    &path("key.pem"),
                    "-out",
                    &path("osig"),
                    &path("msg"),
                ],
            );
            let osig = std::fs::read(path("osig")).unwrap();
            accel
                .rsa_verify_pkcs1v15(&public, hash, msg, &osig)
                .await
                .unwrap();
            assert!(matches!(
                accel
                    .rsa_verify_pkcs1v15(&public, hash, b"other", &osig)
                    .await,
                Err(Error::BadSignature)
            ));
            let key_path = path("key.pem");
            let osig_path = path("osig");
            let mut args = vec!["dgst", md];
            args.extend(pss);
            args.extend(["-sign", &key_path, "-out", &osig_path, &msg_path]);
            run("openssl", &args);
            let osig = std::fs::read(path("osig")).unwrap();
            accel
                .rsa_verify_pss(&public, hash, msg, &osig)
                .await
                .unwrap();
        }
        for (hash, md) in [(RsaHash::Sha256, "sha256"), (RsaHash::Sha1, "sha1")] {
            let label = b"a label";
            let label_hex: String = label.iter().map(|b| format!("{b:02x}")).collect();
            let oaep_md = format!("rsa_oaep_md:{md}");
            let mgf_md = format!("rsa_mgf1_md:{md}");
            let lab = format!("rsa_oaep_label:{label_hex}");
            let opts = [
                "-pkeyopt",
                "rsa_padding_mode:oaep",
                "-pkeyopt",
                &oaep_md,
                "-pkeyopt",
                &mgf_md,
                "-pkeyopt",
                &lab,
            ];
            // OpenSSL encrypts, we decrypt.
            let (pub_path, msg_path, ct_path, pt_path, key_path) = (
                path("pub.pem"),
                path("msg"),
                path("ct"),
                path("pt"),
                path("key.pem"),
            );
            let mut args = vec![
                "pkeyutl", "-encrypt", "-pubin", "-inkey", &pub_path, "-in", &msg_path, "-out",
                &ct_path,
            ];
            args.extend(opts);
            run("openssl", &args);
            let ct = std::fs::read(&ct_path).unwrap();
            assert_eq!(
                accel
                    .rsa_decrypt_oaep(&key, hash, label, &ct)
                    .await
                    .unwrap(),
                msg,
                "{name}"
            );
            // We encrypt, OpenSSL decrypts.
            let ct = accel
                .rsa_encrypt_oaep(&public, hash, label, msg)
                .await
                .unwrap();
            std::fs::write(&ct_path, &ct).unwrap();
            let mut args = vec![
                "pkeyutl", "-decrypt", "-inkey", &key_path, "-in", &ct_path, "-out", &pt_path,
            ];
            args.extend(opts);
            run("openssl", &args);
            assert_eq!(std::fs::read(&pt_path).unwrap(), msg, "{name}");
        }
    }
}

/// RSA-2048 signing goes to the device under the default routing (public-key threshold 0), with the CPU backup
/// on: the emulated HPRE device counts two requests (the private operation and, under the default
/// `RsaFaultCheck::Device`, its check), the statistics one job on the device.
#[tokio::test]
async fn rsa_2048_sign_goes_to_the_device_by_default() {
    // Default routing; only the timeout is longer (valgrind runs the emulated device 50x slower).
    let accel = Accel::builder()
        .backend(uacce_async::Backend::Emulated)
        .job_timeout(Some(Duration::from_secs(300)))
        .build()
        .await
        .unwrap();
    let before = hpre_completed(&accel).unwrap();
    let key = key_pem(2048);
    let sig = accel
        .rsa_sign_pkcs1v15(&key, RsaHash::Sha256, b"m")
        .await
        .unwrap();
    assert_eq!(hpre_completed(&accel).unwrap(), before + 2);
    let stats = accel.stats();
    let pk = stats.family(uacce_async::Family::Pkey);
    assert_eq!(pk.on_device, 1, "{pk:?}");
    assert_eq!(pk.on_cpu, uacce_async::CpuCounts::default(), "{pk:?}");
    accel
        .rsa_verify_pkcs1v15(&key.public_key(), RsaHash::Sha256, b"m", &sig)
        .await
        .unwrap();
}

fn hpre_device(accel: &Accel) -> &uacce_emu::EmuDevice {
    accel
        .emulated_devices()
        .iter()
        .find(|d| d.config().kind == DeviceKind::Hpre)
        .expect("an emulated HPRE device")
}

/// An emulated accelerator (every job on the device, no CPU backup unless `backup`) with fault-check `policy`.
async fn emu_with(
    version: QmVersion,
    mode: NotifyMode,
    policy: RsaFaultCheck,
    backup: bool,
    service: Option<Duration>,
) -> Accel {
    let mut opts = EmuOptions::default().version(version);
    if let Some(t) = service {
        opts = opts.service(uacce_emu::ServiceModel::Fixed(t));
    }
    Accel::builder()
        .backend(uacce_async::Backend::Emulated)
        .mode(mode)
        .emu(opts)
        .job_timeout(Some(Duration::from_secs(60)))
        .routing(uacce_async::Routing::device_only().cpu_backup(backup))
        .rsa_fault_check(policy)
        .build()
        .await
        .unwrap()
}

/// Both fault-check policies on the emulator (v2 and v3, every notification mode): PKCS#1 v1.5 signatures equal
/// the CPU backend's, PSS signatures (hash-length salt: the aws-lc-rs check under `Cpu`; salt 7: the software
/// exponentiation) verify on the CPU backend, OAEP decrypts what the CPU backend encrypted; every private
/// operation is one device job in the statistics and two HPRE requests under `Device`, one under `Cpu`.
#[tokio::test]
async fn fault_check_policies_every_mode() {
    let cpu = common::cpu().await;
    let msg = b"fault check";
    for version in [QmVersion::V2, QmVersion::V3] {
        for mode in NotifyMode::ALL {
            for policy in [RsaFaultCheck::Device, RsaFaultCheck::Cpu] {
                let name = format!("{version:?} {mode:?} {policy:?}");
                let accel = emu_with(version, mode, policy, false, None).await;
                // 2048 bits (aws-lc-rs's check under `Cpu`) in one configuration per policy, else 1024.
                let bits = if version == QmVersion::V3 && mode == NotifyMode::Eventfd {
                    2048
                } else {
                    1024
                };
                let key = key_pem(bits);
                let public = key.public_key();
                let before = hpre_completed(&accel).unwrap();
                let s = accel
                    .rsa_sign_pkcs1v15(&key, RsaHash::Sha256, msg)
                    .await
                    .unwrap();
                let c = cpu
                    .rsa_sign_pkcs1v15(&key, RsaHash::Sha256, msg)
                    .await
                    .unwrap();
                assert_eq!(s, c, "{name}");
                let p = accel
                    .rsa_sign_pss(&key, RsaHash::Sha256, msg)
                    .await
                    .unwrap();
                cpu.rsa_verify_pss(&public, RsaHash::Sha256, msg, &p)
                    .await
                    .unwrap();
                let p = accel
                    .rsa_sign_pss_salt_len(&key, RsaHash::Sha256, 7, msg)
                    .await
                    .unwrap();
                cpu.rsa_verify_pss_salt_len(&public, RsaHash::Sha256, 7, msg, &p)
                    .await
                    .unwrap();
                let ct = cpu
                    .rsa_encrypt_oaep(&public, RsaHash::Sha256, b"l", msg)
                    .await
                    .unwrap();
                let m = accel
                    .rsa_decrypt_oaep(&key, RsaHash::Sha256, b"l", &ct)
                    .await
                    .unwrap();
                assert_eq!(m, msg, "{name}");
                let per_op = if policy == RsaFaultCheck::Device {
                    2
                } else {
                    1
                };
                assert_eq!(
                    hpre_completed(&accel).unwrap() - before,
                    4 * per_op,
                    "{name}: HPRE requests"
                );
                let stats = accel.stats();
                let pk = stats.family(uacce_async::Family::Pkey);
                assert_eq!((pk.submitted, pk.on_device), (4, 4), "{name}: {pk:?}");
                assert_eq!(pk.failed.total(), 0, "{name}: {pk:?}");
            }
        }
    }
}

/// The fault check goes to the queue that did the private operation (a job's follow-up request stays on its
/// lane while that lane is live and has room): in the SQE trace, decoded as the device decodes it, every signature is
/// a CRT request (`RsaCrt`, UADK's `HPRE_ALG_NC_CRT`) followed by a non-CRT request (`RsaNonCrt`, `HPRE_ALG_NC_NCRT`)
/// on the same queue, though new jobs take the RSA queues in turn.
#[tokio::test]
async fn the_fault_check_stays_on_the_private_operations_queue() {
    let key = key_pem(1024);
    for mode in [NotifyMode::Eventfd, NotifyMode::BusyPoll] {
        let accel = emu_with(QmVersion::V3, mode, RsaFaultCheck::Device, false, None).await;
        let dev = hpre_device(&accel);
        dev.set_trace(true);
        for i in 0..6u8 {
            accel
                .rsa_sign_pkcs1v15(&key, RsaHash::Sha256, &[i])
                .await
                .unwrap();
        }
        let t = dev.take_trace();
        assert_eq!(t.len(), 12, "{mode:?}");
        let alg = |r: &uacce_emu::trace::SqeRecord| {
            hpre::decode(&r.sqe, r.version, HpreQcType::RsaDh).map(|v| v.alg)
        };
        for (k, pair) in t.chunks(2).enumerate() {
            assert_eq!(
                (alg(&pair[0]), alg(&pair[1])),
                (Ok(HpreAlg::RsaCrt), Ok(HpreAlg::RsaNonCrt)),
                "{mode:?} signature {k}"
            );
            assert_eq!(
                pair[0].sqn, pair[1].sqn,
                "{mode:?} signature {k}: check on another queue"
            );
        }
    }
}

/// The device's fault check refuses a result when its request fails: an error completion of the check request
/// (the second of the job) gives `Error::Device` without the CPU backup, and with the backup the job is redone on
/// the CPU (the same signature). An error on the private request itself is also never released.
#[tokio::test]
async fn device_fault_check_refuses_on_a_failed_check() {
    let key = key_pem(1024);
    let cpu = common::cpu().await;
    let want = cpu
        .rsa_sign_pkcs1v15(&key, RsaHash::Sha256, b"m")
        .await
        .unwrap();
    for version in [QmVersion::V2, QmVersion::V3] {
        let accel = emu_with(
            version,
            NotifyMode::Eventfd,
            RsaFaultCheck::Device,
            false,
            None,
        )
        .await;
        let dev = hpre_device(&accel);
        // The check request is the job's second.
        let next = dev.counters().accepted;
        dev.inject(Fault::ErrorStatus(next + 1));
        let r = accel.rsa_sign_pkcs1v15(&key, RsaHash::Sha256, b"m").await;
        assert!(matches!(r, Err(Error::Device(_))), "{version:?}: {r:?}");
        assert_eq!(dev.counters().accepted, next + 2, "{version:?}");
        // The next one is fine.
        let s = accel
            .rsa_sign_pkcs1v15(&key, RsaHash::Sha256, b"m")
            .await
            .unwrap();
        assert_eq!(s, want, "{version:?}");
        let pk = *accel.stats().family(uacce_async::Family::Pkey);
        assert_eq!(
            (pk.submitted, pk.on_device, pk.failed.device),
            (2, 1, 1),
            "{version:?}: {pk:?}"
        );

        let accel = emu_with(
            version,
            NotifyMode::Eventfd,
            RsaFaultCheck::Device,
            true,
            None,
        )
        .await;
        let dev = hpre_device(&accel);
        dev.inject(Fault::ErrorStatus(dev.counters().accepted + 1));
        let s = accel
            .rsa_sign_pkcs1v15(&key, RsaHash::Sha256, b"m")
            .await
            .unwrap();
        assert_eq!(s, want, "{version:?} backup");
        let pk = *accel.stats().family(uacce_async::Family::Pkey);
        assert_eq!(pk.on_cpu.backup, 1, "{version:?}: {pk:?}");
    }
}

/// A future dropped while the job's second request (the device's fault check) is in flight loses nothing: the
/// device completes both requests, the queue's in-flight count returns to 0, the job counts as cancelled, and the
/// accelerator goes on signing.
#[tokio::test]
async fn dropped_between_the_two_steps_loses_nothing() {
    let key = key_pem(1024);
    // Each request takes at least 50 ms on the device: time to see the second one accepted and drop the future
    // before it completes, however slow the machine (valgrind included).
    let service = Duration::from_millis(50);
    let accel = emu_with(
        QmVersion::V3,
        NotifyMode::Eventfd,
        RsaFaultCheck::Device,
        false,
        Some(service),
    )
    .await;
    let dev = hpre_device(&accel);
    let mut between = 0;
    for _ in 0..5 {
        let before = dev.counters();
        // Poll the sign until the device has accepted its second request (the check), then drop it: past the
        // first step, before the second one's completion. Deterministic: no race with a timer.
        let finished = {
            let sign = accel.rsa_sign_pkcs1v15(&key, RsaHash::Sha256, b"m");
            tokio::pin!(sign);
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            loop {
                tokio::select! {
                    r = &mut sign => break Some(r),
                    _ = tokio::time::sleep(Duration::from_millis(1)) => {
                        if dev.counters().accepted - before.accepted >= 2 {
                            break None;
                        }
                        assert!(std::time::Instant::now() < deadline, "the check request never came");
                    }
                }
            }
        };
        let dropped = finished.is_none();
        // Wait for the device to finish whatever was submitted.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while dev.counters().completed != dev.counters().accepted {
            assert!(
                std::time::Instant::now() < deadline,
                "the device never finished"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let after = dev.counters();
        if dropped && after.accepted - before.accepted == 2 {
            between += 1;
        }
        assert_eq!(after.dropped, 0);
    }
    assert!(between > 0, "no sign was dropped between its two requests");
    // The lanes took their completions back: nothing in flight, nothing lost.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let stats = accel.stats();
        let inflight: u64 = stats.queues.iter().map(|q| q.in_flight).sum();
        if inflight == 0 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{stats:?}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let pk = *accel.stats().family(uacce_async::Family::Pkey);
    assert_eq!(pk.in_flight, 0, "{pk:?}");
    assert_eq!(pk.submitted, pk.completed + pk.failed.total(), "{pk:?}");
    assert!(pk.failed.cancelled >= between, "{pk:?}");
    // The accelerator goes on: every queue slot came back.
    let sig = accel
        .rsa_sign_pkcs1v15(&key, RsaHash::Sha256, b"m")
        .await
        .unwrap();
    accel
        .rsa_verify_pkcs1v15(&key.public_key(), RsaHash::Sha256, b"m", &sig)
        .await
        .unwrap();
}
