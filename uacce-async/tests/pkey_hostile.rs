//! Hostile input to the public-key API, drawn at random from a fixed seed: mutated DER and PEM keys, mutated and
//! random signatures, ciphertexts, points and raw operands, on the emulated HPRE and on the CPU backend. Nothing may
//! panic or hang, and nothing changed may be accepted: a signature that differs from a valid one does not verify,
//! a changed ciphertext does not decrypt, a changed DER signature does not parse to the original (r, s). The cases
//! written by hand are in `rsa.rs`, `ecc.rs` and `sm2.rs`; this sweeps around them. `UACCE_TEST_SCALE` scales the
//! iteration counts (valgrind runs a few); `UACCE_HOSTILE_SEED=N` draws another sweep (the default is fixed, so a
//! failure repeats).

mod common;

use std::future::Future;
use std::time::Duration;

use common::{Rng, scaled};
use uacce_async::{
    Accel, Backend, EcCurve, EcPrivateKey, EcPublicKey, EcdsaNonce, EcdsaSignature, Error, RsaHash,
    RsaPrivateKey, RsaPublicKey, Sm2PrivateKey, Sm2PublicKey, Sm2Signature,
};

const KEY_PEM: &str = include_str!("vectors/rsa/key2048.pem");

/// `v` with one to four random edits: bit flips, bytes set to random or DER-significant values, truncation,
/// insertion, deletion and duplication of a range.
fn mutate(r: &mut Rng, v: &[u8]) -> Vec<u8> {
    let mut v = v.to_vec();
    for _ in 0..1 + r.below(4) {
        let len = v.len() as u64;
        match r.below(7) {
            0 if len > 0 => {
                let i = r.below(len) as usize;
                v[i] ^= 1 << r.below(8);
            }
            1 if len > 0 => {
                let i = r.below(len) as usize;
                v[i] = r.next() as u8;
            }
            2 if len > 0 => {
                let i = r.below(len) as usize;
                v[i] = r.pick(&[0x00, 0x7f, 0x80, 0x81, 0x82, 0x84, 0xff]);
            }
            3 => v.truncate(r.below(len + 1) as usize),
            4 => {
                let i = r.below(len + 1) as usize;
                let n = 1 + r.below(8) as usize;
                let extra = r.bytes(n);
                v.splice(i..i, extra);
            }
            5 if len > 2 => {
                let i = r.below(len - 1) as usize;
                let j = i + 1 + r.below(len - 1 - i as u64) as usize;
                let dup = v[i..j].to_vec();
                let at = r.below(len + 1) as usize;
                v.splice(at..at, dup);
            }
            _ if len > 0 => {
                let i = r.below(len) as usize;
                let j = i + 1 + r.below(len - i as u64) as usize;
                v.drain(i..j.min(v.len()));
            }
            _ => v.push(r.next() as u8),
        }
    }
    v
}

/// The seed of sweep `n`: fixed, unless `UACCE_HOSTILE_SEED` picks another set.
fn seed(n: u64) -> u64 {
    let base: u64 = std::env::var("UACCE_HOSTILE_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x5eed_0000);
    base.wrapping_mul(31).wrapping_add(n)
}

/// Random bytes of one of the lengths `lens`.
fn random(r: &mut Rng, lens: &[usize]) -> Vec<u8> {
    let n = r.pick(lens);
    r.bytes(n)
}

/// Random bytes, fewer than `max`.
fn random_below(r: &mut Rng, max: u64) -> Vec<u8> {
    let n = r.below(max) as usize;
    r.bytes(n)
}

/// PEM of `der` under `label`, as the library writes it.
fn pem(label: &str, der: &[u8]) -> String {
    rsa::pkcs1::der::pem::encode_string(label, rsa::pkcs1::LineEnding::LF, der).expect("PEM")
}

#[test]
fn mutated_key_and_signature_encodings_never_panic_and_der_is_strict() {
    let mut r = Rng::new(seed(1));
    let rsa = RsaPrivateKey::from_pem(KEY_PEM).unwrap();
    let (pk1, pk8) = (
        rsa.to_pkcs1_der().unwrap().to_vec(),
        rsa.to_pkcs8_der().unwrap().to_vec(),
    );
    let public = rsa.public_key();
    let (pub1, spki) = (
        public.to_pkcs1_der().unwrap(),
        public.to_public_key_der().unwrap(),
    );
    let ec: Vec<EcPrivateKey> = [EcCurve::P256, EcCurve::P384, EcCurve::P521]
        .into_iter()
        .map(EcPrivateKey::generate)
        .collect();
    let sm2 = Sm2PrivateKey::generate();
    let sm2_pk8 = sm2.to_pkcs8_der().unwrap().to_vec();
    let mut parsed = 0;
    for _ in 0..scaled(400) {
        for m in [mutate(&mut r, &pk1), mutate(&mut r, &pk8)] {
            if m != pk1 && m != pk8 {
                // A private key is checked whole (n = pq, d, the CRT values): an edit that still parses must
                // still be consistent, which the checks make all but impossible; it must never panic.
                parsed += usize::from(RsaPrivateKey::from_pkcs1_der(&m).is_ok());
                parsed += usize::from(RsaPrivateKey::from_pkcs8_der(&m).is_ok());
            }
        }
        let _ = RsaPrivateKey::from_pem(&pem("RSA PRIVATE KEY", &mutate(&mut r, &pk1)));
        let _ = RsaPrivateKey::from_pem(&pem("PRIVATE KEY", &mutate(&mut r, &pk8)));
        let text = String::from_utf8_lossy(&mutate(&mut r, KEY_PEM.as_bytes())).into_owned();
        let _ = RsaPrivateKey::from_pem(&text);
        let _ = RsaPublicKey::from_pkcs1_der(&mutate(&mut r, &pub1));
        let _ = RsaPublicKey::from_public_key_der(&mutate(&mut r, &spki));
        let _ = RsaPublicKey::from_pem(&pem("PUBLIC KEY", &mutate(&mut r, &spki)));
        for k in &ec {
            let c = k.curve();
            let _ = EcPrivateKey::from_sec1_der(&mutate(&mut r, &k.to_sec1_der().unwrap()));
            let _ = EcPrivateKey::from_pkcs8_der(&mutate(&mut r, &k.to_pkcs8_der().unwrap()));
            let _ = EcPrivateKey::from_bytes(c, &mutate(&mut r, &k.to_bytes()));
            let p = k.public_key();
            let _ =
                EcPublicKey::from_public_key_der(&mutate(&mut r, &p.to_public_key_der().unwrap()));
            let _ = EcPublicKey::from_sec1_bytes(c, &mutate(&mut r, p.to_sec1_bytes()));
            // r = s = the key's x coordinate, shorter than the order: a well-formed signature to mutate.
            let sig = EcdsaSignature::from_bytes(c, &[p.x(), p.x()].concat());
            let Ok(sig) = sig else { continue };
            let der = sig.to_der();
            let m = mutate(&mut r, &der);
            if m != der
                && let Ok(other) = EcdsaSignature::from_der(c, &m)
            {
                assert_ne!(
                    other.to_bytes(),
                    sig.to_bytes(),
                    "{c:?}: a changed DER encoding parsed to the same (r, s): {m:02x?}"
                );
            }
            let _ = EcdsaSignature::from_bytes(c, &mutate(&mut r, sig.to_bytes()));
        }
        let _ = Sm2PrivateKey::from_pkcs8_der(&mutate(&mut r, &sm2_pk8));
        let _ = Sm2PrivateKey::from_bytes(&mutate(&mut r, &sm2.to_bytes()));
        let _ = Sm2PublicKey::from_sec1_bytes(&mutate(&mut r, sm2.public_key().to_sec1_bytes()));
    }
    assert_eq!(parsed, 0, "an edited RSA private key was accepted");
}

/// `f` must finish within 20 s (a job that never completes would hang the caller).
async fn bounded<T>(what: &str, f: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(20), f)
        .await
        .unwrap_or_else(|_| panic!("{what}: no answer in 20 s"))
}

/// `f`, given the changed input `changed`, must answer within 20 s, with an error.
async fn must_refuse<T>(what: &str, changed: &[u8], f: impl Future<Output = Result<T, Error>>) {
    assert!(
        bounded(what, f).await.is_err(),
        "{what}: a changed input was accepted: {changed:02x?}"
    );
}

/// An edit of `valid`, or random bytes of one of the lengths `lens`; `None` when the draw is `valid` itself.
fn changed(r: &mut Rng, valid: &[u8], lens: &[usize]) -> Option<Vec<u8>> {
    let v = if r.bool() {
        mutate(r, valid)
    } else {
        random(r, lens)
    };
    (v != valid).then_some(v)
}

async fn sweep(name: &str, accel: &Accel, seed: u64) {
    let mut r = Rng::new(seed);
    let rsa = RsaPrivateKey::from_pem(KEY_PEM).unwrap();
    let public = rsa.public_key();
    let msg = b"hostile input".to_vec();
    let sig = accel
        .rsa_sign_pkcs1v15(&rsa, RsaHash::Sha256, &msg)
        .await
        .unwrap();
    let pss = accel
        .rsa_sign_pss(&rsa, RsaHash::Sha256, &msg)
        .await
        .unwrap();
    let oaep = accel
        .rsa_encrypt_oaep(&public, RsaHash::Sha256, b"", &msg)
        .await
        .unwrap();
    let ec: Vec<EcPrivateKey> = [EcCurve::P256, EcCurve::P384]
        .into_iter()
        .map(EcPrivateKey::generate)
        .collect();
    let sm2 = Sm2PrivateKey::generate();
    let sm2_ct = accel.sm2_encrypt(sm2.public_key(), &msg).await.unwrap();
    let sm2_sig = accel.sm2_sign(&sm2, None, &msg).await.unwrap();
    let lens = [0usize, 1, 255, 256, 257, 512];
    for i in 0..scaled(150) {
        let what = |op: &str| format!("{name} #{i} {op}");
        // RSA: a signature or ciphertext that is not the valid one, of any length.
        if let Some(bad) = changed(&mut r, &sig, &lens) {
            let f = accel.rsa_verify_pkcs1v15(&public, RsaHash::Sha256, &msg, &bad);
            must_refuse(&what("pkcs1 verify"), &bad, f).await;
        }
        if let Some(bad) = changed(&mut r, &pss, &lens) {
            let f = accel.rsa_verify_pss(&public, RsaHash::Sha256, &msg, &bad);
            must_refuse(&what("pss verify"), &bad, f).await;
        }
        if let Some(bad) = changed(&mut r, &oaep, &lens) {
            let f = accel.rsa_decrypt_oaep(&rsa, RsaHash::Sha256, b"", &bad);
            must_refuse(&what("oaep decrypt"), &bad, f).await;
        }
        // Raw operations on random operands: an error or a k-byte result.
        let n = random(&mut r, &[0, 1, 127, 128, 256, 257, 512, 600]);
        let (e, x) = (random_below(&mut r, 300), random_below(&mut r, 300));
        let k = n.iter().skip_while(|&&b| b == 0).count();
        if let Ok(out) = bounded(&what("raw"), accel.rsa_public_raw(&n, &e, &x)).await {
            assert_eq!(out.len(), k, "{}", what("raw: result length"));
        }
        let parts: Vec<Vec<u8>> = (0..6)
            .map(|_| random(&mut r, &[0, 1, 63, 64, 65, 128, 129]))
            .collect();
        let _ = bounded(
            &what("crt raw"),
            accel.rsa_private_crt_raw(
                &parts[0], &parts[1], &parts[2], &parts[3], &parts[4], &parts[5],
            ),
        )
        .await;
        // ECDSA: a changed signature does not verify; points parsed from edits are only multiplied.
        for k in &ec {
            let c = k.curve();
            let good = accel.ecdsa_sign(k, &msg).await.unwrap();
            let bytes = mutate(&mut r, good.to_bytes());
            if let Ok(s) = EcdsaSignature::from_bytes(c, &bytes)
                && s.to_bytes() != good.to_bytes()
            {
                let f = accel.ecdsa_verify(k.public_key(), &msg, &s);
                must_refuse(&what("ecdsa verify"), &bytes, f).await;
            }
            let digest = random_below(&mut r, 80);
            let _ = bounded(
                &what("ecdsa prehash"),
                accel.ecdsa_sign_prehash(k, &digest, EcdsaNonce::Rfc6979),
            )
            .await;
            if let Ok(p) =
                EcPublicKey::from_sec1_bytes(c, &mutate(&mut r, k.public_key().to_sec1_bytes()))
            {
                let _ = bounded(&what("ecdh"), accel.ecdh(k, &p)).await;
            }
        }
        // SM2: a changed ciphertext does not decrypt, a changed signature does not verify.
        if let Some(bad) = changed(&mut r, &sm2_ct, &[0, 97, 98, 200]) {
            must_refuse(&what("sm2 decrypt"), &bad, accel.sm2_decrypt(&sm2, &bad)).await;
        }
        let bytes = mutate(&mut r, sm2_sig.to_bytes());
        if let Ok(s) = Sm2Signature::from_bytes(&bytes)
            && s.to_bytes() != sm2_sig.to_bytes()
        {
            let f = accel.sm2_verify(sm2.public_key(), None, &msg, &s);
            must_refuse(&what("sm2 verify"), &bytes, f).await;
        }
        // X25519 / X448 on random points: an error (all-zero secret) or a nonzero secret.
        let (s, u): ([u8; 32], [u8; 32]) = (
            r.bytes(32).try_into().unwrap(),
            r.bytes(32).try_into().unwrap(),
        );
        if let Ok(z) = bounded(&what("x25519"), accel.x25519_agree(&s, &u)).await {
            assert!(z.iter().any(|&b| b != 0), "{}", what("x25519: zero secret"));
        }
        let mut u = [0u8; 56];
        if r.bool() {
            u.copy_from_slice(&r.bytes(56));
        } else {
            u[0] = r.pick(&[0, 1, 2]);
        }
        let s: [u8; 56] = r.bytes(56).try_into().unwrap();
        if let Ok(z) = bounded(&what("x448"), accel.x448_agree(&s, &u)).await {
            assert!(z.iter().any(|&b| b != 0), "{}", what("x448: zero secret"));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_operands_are_refused_on_every_backend() {
    let emulated = Accel::builder()
        .backend(Backend::Emulated)
        .build()
        .await
        .unwrap();
    sweep("emulated HPRE", &emulated, seed(2)).await;
    let stats = emulated.stats();
    assert!(
        stats.family(uacce_async::Family::Pkey).on_device > 0,
        "the sweep never reached the emulated HPRE"
    );
    let cpu = Accel::builder()
        .backend(Backend::Cpu)
        .build()
        .await
        .unwrap();
    sweep("CPU backend", &cpu, seed(3)).await;
}
