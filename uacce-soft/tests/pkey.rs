//! The HPRE software engine on hardware-layout blocks (built with `uacce_sys::qm::hpre::layout`, the driver half),
//! against known answers from other implementations (`vectors.rs`), plus hostile inputs that must give typed
//! errors.

mod vectors;

use num_bigint_dig::{BigUint, ModInverse};
use uacce_soft::pkey::{CurveId, PkeyError, PkeyJob, PkeyOutput, curve_params, execute};
use uacce_sys::qm::hpre::layout::{self, CurveParams, ecc_private, ecc_public};
use uacce_sys::qm::hpre::*;
use vectors::*;

fn hex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2));
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn rev(v: &[u8]) -> Vec<u8> {
    v.iter().rev().copied().collect()
}

fn job<'a>(alg: HpreAlg, width: usize, key: &'a [u8], input: &'a [u8]) -> PkeyJob<'a> {
    PkeyJob {
        alg,
        width,
        key,
        input,
        msg_len: 0,
        random_k: false,
    }
}

fn data(r: Result<PkeyOutput, PkeyError>) -> Vec<u8> {
    match r {
        Ok(PkeyOutput::Data(d)) => d,
        other => panic!("{other:?}"),
    }
}

fn verify(r: Result<PkeyOutput, PkeyError>) -> bool {
    match r {
        Ok(PkeyOutput::Verify(v)) => v,
        other => panic!("{other:?}"),
    }
}

fn pad(v: &[u8], w: usize) -> Vec<u8> {
    let mut out = vec![0u8; w];
    layout::put_be(&mut out, v).unwrap();
    out
}

// ---------------------------------------------------------------------------------------------------------------------
// RSA and DH
// ---------------------------------------------------------------------------------------------------------------------

#[test]
fn rsa_matches_openssl() {
    for (v, k) in [(&RSA1024, 128), (&RSA2048, 256)] {
        let (n, e, d, m, c) = (hex(v.n), hex(v.e), hex(v.d), hex(v.m), hex(v.c));
        let public = layout::rsa_key_block(&e, &n, k).unwrap();
        assert_eq!(
            data(execute(&job(HpreAlg::RsaNonCrt, k, &public, &m))),
            c,
            "public, k = {k}"
        );
        let private = layout::rsa_key_block(&d, &n, k).unwrap();
        assert_eq!(
            data(execute(&job(HpreAlg::RsaNonCrt, k, &private, &c))),
            m,
            "private, k = {k}"
        );
        let crt = layout::rsa_crt_block(
            &hex(v.dq),
            &hex(v.dp),
            &hex(v.q),
            &hex(v.p),
            &hex(v.qinv),
            k,
        )
        .unwrap();
        assert_eq!(
            data(execute(&job(HpreAlg::RsaCrt, k, &crt, &c))),
            m,
            "CRT, k = {k}"
        );
    }
}

#[test]
fn rsa_refuses_bad_keys_and_inputs() {
    let v = &RSA1024;
    let (n, e, c) = (hex(v.n), hex(v.e), hex(v.c));
    let k = 128;
    let key = layout::rsa_key_block(&e, &n, k).unwrap();
    // Input = n and input > n.
    assert_eq!(
        execute(&job(HpreAlg::RsaNonCrt, k, &key, &n)),
        Err(PkeyError::BadInput)
    );
    assert_eq!(
        execute(&job(HpreAlg::RsaNonCrt, k, &key, &[0xFF; 128])),
        Err(PkeyError::BadInput)
    );
    // Even modulus, zero modulus, modulus 1, zero exponent.
    let mut even = n.clone();
    *even.last_mut().unwrap() &= 0xFE;
    for bad_n in [even, vec![0u8; 128], pad(&[1], 128)] {
        let key = layout::rsa_key_block(&e, &bad_n, k).unwrap();
        assert_eq!(
            execute(&job(HpreAlg::RsaNonCrt, k, &key, &c)),
            Err(PkeyError::BadKey)
        );
    }
    let key0 = layout::rsa_key_block(&[0], &n, k).unwrap();
    assert_eq!(
        execute(&job(HpreAlg::RsaNonCrt, k, &key0, &c)),
        Err(PkeyError::BadKey)
    );
    // Wrong block lengths, wrong width.
    assert_eq!(
        execute(&job(HpreAlg::RsaNonCrt, k, &key[1..], &c)),
        Err(PkeyError::Length)
    );
    assert_eq!(
        execute(&job(HpreAlg::RsaNonCrt, k, &key, &c[1..])),
        Err(PkeyError::Length)
    );
    assert_eq!(
        execute(&job(HpreAlg::RsaNonCrt, 64, &key[..128], &c[..64])),
        Err(PkeyError::Length)
    );
    // CRT: even p, qinv >= p, input >= pq.
    let crt = |p: &[u8], qinv: &[u8]| {
        layout::rsa_crt_block(&hex(v.dq), &hex(v.dp), &hex(v.q), p, qinv, k).unwrap()
    };
    let p = hex(v.p);
    let mut p_even = p.clone();
    *p_even.last_mut().unwrap() &= 0xFE;
    assert_eq!(
        execute(&job(HpreAlg::RsaCrt, k, &crt(&p_even, &hex(v.qinv)), &c)),
        Err(PkeyError::BadKey)
    );
    assert_eq!(
        execute(&job(HpreAlg::RsaCrt, k, &crt(&p, &p), &c)),
        Err(PkeyError::BadKey)
    );
    assert_eq!(
        execute(&job(HpreAlg::RsaCrt, k, &crt(&p, &hex(v.qinv)), &n)),
        Err(PkeyError::BadInput)
    );
    // Key generation from e = p = q = 0: no key exists (the keygen itself: uacce-emu tests/hpre_breadth.rs).
    let kg = [0u8; 256];
    assert_eq!(
        execute(&job(HpreAlg::RsaKeygen, k, &kg, &[])),
        Err(PkeyError::BadKey)
    );
}

/// A xorshift64* stream: reproducible test numbers.
struct Rng(u64);

impl Rng {
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n)
            .map(|_| {
                self.0 ^= self.0 >> 12;
                self.0 ^= self.0 << 25;
                self.0 ^= self.0 >> 27;
                (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 56) as u8
            })
            .collect()
    }

    /// An odd number of exactly `n` bytes (top bit set).
    fn odd(&mut self, n: usize) -> Vec<u8> {
        let mut v = self.bytes(n);
        v[0] |= 0x80;
        v[n - 1] |= 1;
        v
    }
}

fn big(v: &[u8]) -> BigUint {
    BigUint::from_bytes_be(v)
}

/// The engine's RSA (non-CRT and CRT) and DH against num-bigint-dig's `modpow` at every width the engine takes
/// (each width runs its own integer size): random odd moduli, full-width exponents, bases below the modulus (and
/// n − 1, the largest), CRT with coprime odd p and q (not prime: Garner's recombination needs only qinv = q⁻¹ mod
/// p) whose result must be below pq and agree with c^dp mod p and c^dq mod q, including a p shorter than k/2.
#[test]
fn modexp_matches_num_bigint_at_every_width() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for k in layout::RSA_KEY_BYTES {
        let (m, e) = (rng.odd(k), rng.bytes(k));
        let mut x = rng.bytes(k);
        x[0] &= 0x7F;
        let key = layout::rsa_key_block(&e, &m, k).unwrap();
        let mut n_minus_1 = m.clone();
        n_minus_1[k - 1] &= 0xFE;
        for base in [x, n_minus_1, pad(&[2], k)] {
            let want = pad(&big(&base).modpow(&big(&e), &big(&m)).to_bytes_be(), k);
            assert_eq!(
                data(execute(&job(HpreAlg::RsaNonCrt, k, &key, &base))),
                want,
                "non-CRT, k = {k}"
            );
        }
        let half = k / 2;
        for short_p in [false, true] {
            let (p, q, qinv) = loop {
                let mut p = rng.odd(half);
                if short_p {
                    p[0] = 0;
                    p[1] |= 0x80;
                }
                let q = rng.odd(half);
                if let Some(i) = big(&q).mod_inverse(big(&p)) {
                    let qinv = i.to_biguint().unwrap().to_bytes_be();
                    break (p, q, qinv);
                }
            };
            let (dp, dq) = (rng.bytes(half), rng.bytes(half));
            let n = big(&p) * big(&q);
            let c = big(&rng.bytes(k)) % &n;
            let cb = pad(&c.to_bytes_be(), k);
            let crt = layout::rsa_crt_block(&dq, &dp, &q, &p, &qinv, k).unwrap();
            let r = big(&data(execute(&job(HpreAlg::RsaCrt, k, &crt, &cb))));
            assert!(r < n, "CRT result not below pq, k = {k}");
            assert_eq!(
                &r % big(&p),
                c.modpow(&big(&dp), &big(&p)),
                "CRT mod p, k = {k}"
            );
            assert_eq!(
                &r % big(&q),
                c.modpow(&big(&dq), &big(&q)),
                "CRT mod q, k = {k}"
            );
            // The largest input, pq − 1, and pq itself (refused).
            let top = pad(&(&n - 1u32).to_bytes_be(), k);
            let r = big(&data(execute(&job(HpreAlg::RsaCrt, k, &crt, &top))));
            assert_eq!(
                &r % big(&q),
                big(&top).modpow(&big(&dq), &big(&q)),
                "k = {k}"
            );
            assert_eq!(
                execute(&job(HpreAlg::RsaCrt, k, &crt, &pad(&n.to_bytes_be(), k))),
                Err(PkeyError::BadInput)
            );
        }
    }
    for k in layout::DH_KEY_BYTES {
        let (p, x) = (rng.odd(k), rng.bytes(k));
        let mut g = rng.bytes(k);
        g[0] &= 0x7F;
        let key = layout::dh_key_block(&x, &p, k).unwrap();
        let want = |g: &[u8]| pad(&big(g).modpow(&big(&x), &big(&p)).to_bytes_be(), k);
        assert_eq!(
            data(execute(&job(HpreAlg::Dh, k, &key, &g))),
            want(&g),
            "DH, k = {k}"
        );
        assert_eq!(
            data(execute(&job(HpreAlg::DhG2, k, &key, &[]))),
            want(&[2]),
            "DH g = 2, k = {k}"
        );
    }
}

/// DH over the RFC 3526 1536-bit MODP group (k = 192): g = 2 by alg 0x04 equals alg 0x05 with g = 2, and both
/// sides agree on the shared secret. p is built from its definition 2^1536 − 2^1472 − 1 + 2^64·(⌊2^1406·π⌋ +
/// 741804) in Python and checked against RFC 3526's hex.
#[test]
fn dh_agrees_and_g2_matches_general() {
    const MODP1536: &str = "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7EDEE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA237327FFFFFFFFFFFFFFFF";
    let p = hex(&MODP1536.to_lowercase());
    let k = 192;
    assert_eq!(p.len(), k);
    let xa = [0x5Au8; 40];
    let xb = [0xC3u8; 48];
    let ka = layout::dh_key_block(&xa, &p, k).unwrap();
    let kb = layout::dh_key_block(&xb, &p, k).unwrap();
    let ya = data(execute(&job(HpreAlg::DhG2, k, &ka, &[])));
    let g = pad(&[2], k);
    assert_eq!(data(execute(&job(HpreAlg::Dh, k, &ka, &g))), ya);
    let yb = data(execute(&job(HpreAlg::DhG2, k, &kb, &[])));
    let sa = data(execute(&job(HpreAlg::Dh, k, &ka, &yb)));
    let sb = data(execute(&job(HpreAlg::Dh, k, &kb, &ya)));
    assert_eq!(sa, sb);
    assert_ne!(ya, yb);
    // 2^x for a small x is exact: x = 10 gives 1024.
    let k10 = layout::dh_key_block(&[10], &p, k).unwrap();
    assert_eq!(
        data(execute(&job(HpreAlg::DhG2, k, &k10, &[]))),
        pad(&[0x04, 0x00], k)
    );
    // Base >= p, x = 0.
    assert_eq!(
        execute(&job(HpreAlg::Dh, k, &ka, &p)),
        Err(PkeyError::BadInput)
    );
    let k0 = layout::dh_key_block(&[0], &p, k).unwrap();
    assert_eq!(
        execute(&job(HpreAlg::DhG2, k, &k0, &[])),
        Err(PkeyError::BadKey)
    );
}

// ---------------------------------------------------------------------------------------------------------------------
// X25519 / X448
// ---------------------------------------------------------------------------------------------------------------------

fn x25519(k_le: &[u8], u_le: &[u8]) -> Result<Vec<u8>, PkeyError> {
    let mut k: [u8; 32] = rev(k_le).try_into().unwrap();
    x25519_clamp_be(&mut k);
    let mut u = rev(u_le);
    u[0] &= 0x7F;
    let key = layout::x_dh_key_block(&X25519_P, &X25519_A24, &k, 32).unwrap();
    execute(&job(HpreAlg::XdhMultiply, 32, &key, &u)).map(|o| match o {
        PkeyOutput::Data(d) => rev(&d),
        PkeyOutput::Verify(_) => unreachable!(),
    })
}

#[test]
fn x25519_rfc7748() {
    let base = {
        let mut b = [0u8; 32];
        b[0] = 9;
        b
    };
    assert_eq!(
        x25519(&hex(X25519_ALICE_PRIV), &base).unwrap(),
        hex(X25519_ALICE_PUB)
    );
    assert_eq!(
        x25519(&hex(X25519_ALICE_PRIV), &hex(X25519_BOB_PUB)).unwrap(),
        hex(X25519_SHARED)
    );
    assert_eq!(
        x25519(&hex(X25519_52[0]), &hex(X25519_52[1])).unwrap(),
        hex(X25519_52[2])
    );
}

#[test]
fn x25519_refuses_what_drivers_never_send() {
    let mut k = [0x11u8; 32];
    x25519_clamp_be(&mut k);
    let key = layout::x_dh_key_block(&X25519_P, &X25519_A24, &k, 32).unwrap();
    let mut u = [0u8; 32];
    u[31] = 9;
    assert!(execute(&job(HpreAlg::XdhMultiply, 32, &key, &u)).is_ok());
    // Top bit of u set, u = p, u > p.
    let mut top = u;
    top[0] = 0x80;
    assert_eq!(
        execute(&job(HpreAlg::XdhMultiply, 32, &key, &top)),
        Err(PkeyError::BadInput)
    );
    assert_eq!(
        execute(&job(HpreAlg::XdhMultiply, 32, &key, &X25519_P)),
        Err(PkeyError::BadInput)
    );
    // An unclamped scalar.
    let raw = layout::x_dh_key_block(&X25519_P, &X25519_A24, &[0x11; 32], 32).unwrap();
    assert_eq!(
        execute(&job(HpreAlg::XdhMultiply, 32, &raw, &u)),
        Err(PkeyError::BadKey)
    );
    // Another curve's a, another p.
    let other = layout::x_dh_key_block(&X25519_P, &[3], &k, 32).unwrap();
    assert_eq!(
        execute(&job(HpreAlg::XdhMultiply, 32, &other, &u)),
        Err(PkeyError::UnknownCurve)
    );
    let other = layout::x_dh_key_block(&[0x7F; 32], &X25519_A24, &k, 32).unwrap();
    assert_eq!(
        execute(&job(HpreAlg::XdhMultiply, 32, &other, &u)),
        Err(PkeyError::UnknownCurve)
    );
}

fn x448(k_le: &[u8], u_le: &[u8]) -> Result<Vec<u8>, PkeyError> {
    let mut k = [0u8; 72];
    k[16..].copy_from_slice(&rev(k_le));
    x448_clamp_be(&mut k);
    let key = layout::x_dh_key_block(&X448_P, &X448_A24, &k, 72).unwrap();
    let u = pad(&rev(u_le), 72);
    execute(&job(HpreAlg::XdhMultiply, 72, &key, &u)).map(|o| match o {
        PkeyOutput::Data(d) => {
            assert!(d[..16].iter().all(|&b| b == 0));
            rev(&d[16..])
        }
        PkeyOutput::Verify(_) => unreachable!(),
    })
}

#[test]
fn x448_rfc7748() {
    let mut base = [0u8; 56];
    base[0] = 5;
    assert_eq!(
        x448(&hex(X448_ALICE_PRIV), &base).unwrap(),
        hex(X448_ALICE_PUB)
    );
    assert_eq!(
        x448(&hex(X448_ALICE_PRIV), &hex(X448_BOB_PUB)).unwrap(),
        hex(X448_SHARED)
    );
    // u = p is out of range.
    let mut k = [0u8; 72];
    k[16..].fill(0x33);
    x448_clamp_be(&mut k);
    let key = layout::x_dh_key_block(&X448_P, &X448_A24, &k, 72).unwrap();
    assert_eq!(
        execute(&job(HpreAlg::XdhMultiply, 72, &key, &pad(&X448_P, 72))),
        Err(PkeyError::BadInput)
    );
}

// ---------------------------------------------------------------------------------------------------------------------
// ECDH / ECDSA
// ---------------------------------------------------------------------------------------------------------------------

fn params(id: CurveId) -> curve_owned::Owned {
    curve_owned::Owned(curve_params(id))
}

mod curve_owned {
    pub struct Owned(pub uacce_soft::pkey::CurveParams);
    impl Owned {
        pub fn view(&self) -> super::CurveParams<'_> {
            super::CurveParams {
                p: &self.0.p,
                a: &self.0.a,
                b: &self.0.b,
                n: &self.0.n,
                gx: &self.0.gx,
                gy: &self.0.gy,
            }
        }
    }
}

#[test]
fn ecdsa_and_ecdh_match_nist_vectors() {
    for (id, v) in [
        (CurveId::P256, &ECDSA_P256),
        (CurveId::P384, &ECDSA_P384),
        (CurveId::P521, &ECDSA_P521),
    ] {
        let h = id.width();
        let c = params(id);
        let prv = layout::ecc_private_block(&c.view(), &hex(v.d), h).unwrap();
        // Keygen as UADK does it: the ECDH multiply of the private block's first five fields by its own G.
        let g_in = prv[ecc_private::GX * h..(ecc_private::GY + 1) * h].to_vec();
        let q = data(execute(&job(
            HpreAlg::EcdhMultiply,
            h,
            &prv[..5 * h],
            &g_in,
        )));
        assert_eq!(
            q,
            [pad(&hex(v.qx), h), pad(&hex(v.qy), h)].concat(),
            "{id:?} Q = dG"
        );
        // Sign: in = e ‖ k, out = r ‖ s.
        let input = [pad(&hex(v.m), h), pad(&hex(v.k), h)].concat();
        let rs = data(execute(&job(HpreAlg::EcdsaSign, h, &prv, &input)));
        assert_eq!(
            rs,
            [pad(&hex(v.r), h), pad(&hex(v.s), h)].concat(),
            "{id:?} signature"
        );
        // Verify: in = e ‖ s ‖ r.
        let pb = layout::ecc_public_block(&c.view(), &hex(v.qx), &hex(v.qy), h).unwrap();
        let good = [pad(&hex(v.m), h), pad(&hex(v.s), h), pad(&hex(v.r), h)].concat();
        assert!(
            verify(execute(&job(HpreAlg::EcdsaVerify, h, &pb, &good))),
            "{id:?}"
        );
        // r and s swapped (the order matters), a changed digest, r = 0.
        let swapped = [pad(&hex(v.m), h), pad(&hex(v.r), h), pad(&hex(v.s), h)].concat();
        assert!(!verify(execute(&job(
            HpreAlg::EcdsaVerify,
            h,
            &pb,
            &swapped
        ))));
        let mut other = good.clone();
        other[h - 1] ^= 1;
        assert!(!verify(execute(&job(HpreAlg::EcdsaVerify, h, &pb, &other))));
        let mut zero_r = good.clone();
        zero_r[2 * h..].fill(0);
        assert!(!verify(execute(&job(
            HpreAlg::EcdsaVerify,
            h,
            &pb,
            &zero_r
        ))));
        // ECDH: (d_a · Q_b) = (d_b · Q_a).
        let other_d = [0x42u8; 20];
        let prv_b = layout::ecc_private_block(&c.view(), &other_d, h).unwrap();
        let q_b = data(execute(&job(
            HpreAlg::EcdhMultiply,
            h,
            &prv_b[..5 * h],
            &g_in,
        )));
        let s1 = data(execute(&job(HpreAlg::EcdhMultiply, h, &prv[..5 * h], &q_b)));
        let s2 = data(execute(&job(HpreAlg::EcdhMultiply, h, &prv_b[..5 * h], &q)));
        assert_eq!(s1, s2);
    }
}

#[test]
fn ecc_refuses_bad_keys_points_and_curves() {
    let id = CurveId::P256;
    let h = 32;
    let c = params(id);
    let v = &ECDSA_P256;
    let prv = layout::ecc_private_block(&c.view(), &hex(v.d), h).unwrap();
    let g = [pad(&c.0.gx, h), pad(&c.0.gy, h)].concat();
    // The kernel's block: Gx in the fifth field instead of n. The multiply does not read it.
    let mut kernel = prv[..5 * h].to_vec();
    kernel[4 * h..].copy_from_slice(&pad(&c.0.gx, h));
    assert_eq!(
        data(execute(&job(HpreAlg::EcdhMultiply, h, &kernel, &g))),
        data(execute(&job(HpreAlg::EcdhMultiply, h, &prv[..5 * h], &g)))
    );
    // A point off the curve, a coordinate wider than the curve.
    let mut off = g.clone();
    off[2 * h - 1] ^= 1;
    assert_eq!(
        execute(&job(HpreAlg::EcdhMultiply, h, &prv[..5 * h], &off)),
        Err(PkeyError::NotOnCurve)
    );
    // Private scalar 0 and n.
    for d in [vec![0u8], c.0.n.clone()] {
        let bad = layout::ecc_private_block(&c.view(), &d, h).unwrap();
        assert_eq!(
            execute(&job(HpreAlg::EcdhMultiply, h, &bad[..5 * h], &g)),
            Err(PkeyError::BadKey)
        );
        let input = [pad(&hex(v.m), h), pad(&hex(v.k), h)].concat();
        assert_eq!(
            execute(&job(HpreAlg::EcdsaSign, h, &bad, &input)),
            Err(PkeyError::BadKey)
        );
    }
    // Nonce k = 0 and k = n.
    for k in [vec![0u8], c.0.n.clone()] {
        let input = [pad(&hex(v.m), h), pad(&k, h)].concat();
        assert_eq!(
            execute(&job(HpreAlg::EcdsaSign, h, &prv, &input)),
            Err(PkeyError::BadInput)
        );
    }
    // Another b (an unknown curve), another generator for a sign.
    let mut bad_b = prv.clone();
    bad_b[ecc_private::B * h + h - 1] ^= 1;
    assert_eq!(
        execute(&job(HpreAlg::EcdhMultiply, h, &bad_b[..5 * h], &g)),
        Err(PkeyError::UnknownCurve)
    );
    let mut bad_g = prv.clone();
    bad_g[ecc_private::GX * h + h - 1] ^= 1;
    let input = [pad(&hex(v.m), h), pad(&hex(v.k), h)].concat();
    assert_eq!(
        execute(&job(HpreAlg::EcdsaSign, h, &bad_g, &input)),
        Err(PkeyError::UnknownCurve)
    );
    // A public key off the curve.
    let mut qy = hex(v.qy);
    qy[31] ^= 1;
    let pb = layout::ecc_public_block(&c.view(), &hex(v.qx), &qy, h).unwrap();
    let good = [pad(&hex(v.m), h), pad(&hex(v.s), h), pad(&hex(v.r), h)].concat();
    assert_eq!(
        execute(&job(HpreAlg::EcdsaVerify, h, &pb, &good)),
        Err(PkeyError::NotOnCurve)
    );
    // The P-384 parameters in a 32-byte block do not exist.
    assert_eq!(
        execute(&job(HpreAlg::EcdhMultiply, 48, &prv[..5 * h], &g)),
        Err(PkeyError::Length)
    );
}

/// The parameters taken from the curve crates: a sanity check against values anyone can look up (P-256's p =
/// 2^256 − 2^224 + 2^192 + 2^96 − 1, a = p − 3; the generator x starts 6B17D1F2).
#[test]
fn curve_parameters_look_right() {
    let c = curve_params(CurveId::P256);
    assert_eq!(
        c.p,
        hex("ffffffff00000001000000000000000000000000ffffffffffffffffffffffff")
    );
    assert_eq!(
        c.a,
        hex("ffffffff00000001000000000000000000000000fffffffffffffffffffffffc")
    );
    assert_eq!(&c.gx[..4], &[0x6B, 0x17, 0xD1, 0xF2]);
    assert_eq!(&c.n[..4], &[0xFF, 0xFF, 0xFF, 0xFF]);
    let s = curve_params(CurveId::Sm2);
    assert_eq!(
        s.p,
        hex("fffffffeffffffffffffffffffffffffffffffff00000000ffffffffffffffff")
    );
    assert_eq!(&s.gx[..4], &[0x32, 0xC4, 0xAE, 0x2C]);
    let p521 = curve_params(CurveId::P521);
    assert_eq!(p521.p.len(), 66);
    assert_eq!(p521.p[0], 0x01);
    assert!(p521.p[1..].iter().all(|&b| b == 0xFF));
    for id in CurveId::ALL {
        let c = curve_params(id);
        for f in [&c.p, &c.a, &c.b, &c.n, &c.gx, &c.gy] {
            assert_eq!(f.len(), id.key_bytes(), "{id:?}");
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------------
// SM2
// ---------------------------------------------------------------------------------------------------------------------

fn sm2_blocks() -> (Vec<u8>, Vec<u8>) {
    let c = params(CurveId::Sm2);
    (
        layout::ecc_private_block(&c.view(), &hex(SM2_D), 32).unwrap(),
        layout::ecc_public_block(&c.view(), &hex(SM2_PX), &hex(SM2_PY), 32).unwrap(),
    )
}

#[test]
fn sm2_decrypts_openssl_ciphertext_and_round_trips() {
    let (prv, pb) = sm2_blocks();
    let ct = [hex(SM2_C1X), hex(SM2_C1Y), hex(SM2_C2), hex(SM2_C3)].concat();
    let m = SM2_MSG.len();
    let dec = |ct: &[u8]| {
        execute(&PkeyJob {
            msg_len: m,
            ..job(HpreAlg::Sm2Decrypt, 32, &prv, ct)
        })
    };
    assert_eq!(data(dec(&ct)), SM2_MSG);
    // A changed C3 or C2 fails the check; a C1 off the curve is refused.
    let mut bad = ct.clone();
    *bad.last_mut().unwrap() ^= 1;
    assert_eq!(dec(&bad), Err(PkeyError::DecryptCheck));
    let mut bad = ct.clone();
    bad[64] ^= 1;
    assert_eq!(dec(&bad), Err(PkeyError::DecryptCheck));
    let mut bad = ct.clone();
    bad[63] ^= 1;
    assert_eq!(dec(&bad), Err(PkeyError::NotOnCurve));
    // Message lengths one SQE cannot carry.
    for bad_len in [0, 513, usize::MAX] {
        let r = execute(&PkeyJob {
            msg_len: bad_len,
            ..job(HpreAlg::Sm2Decrypt, 32, &prv, &ct)
        });
        assert_eq!(r, Err(PkeyError::Length));
    }
    // Encrypt (caller's k, then the hardware's random k) and decrypt again.
    for random_k in [false, true] {
        let msg = b"single-SQE SM2 with C1 || C2 || C3";
        let input = [pad(&[0x12, 0x34, 0x56], 32), msg.to_vec()].concat();
        let out = data(execute(&PkeyJob {
            msg_len: msg.len(),
            random_k,
            ..job(HpreAlg::Sm2Encrypt, 32, &pb, &input)
        }));
        assert_eq!(out.len(), 64 + msg.len() + 32);
        let back = data(execute(&PkeyJob {
            msg_len: msg.len(),
            ..job(HpreAlg::Sm2Decrypt, 32, &prv, &out)
        }));
        assert_eq!(back, msg);
        if !random_k {
            // C1 = k·G with k = 0x123456: the multiply with the SM2 curve's G gives the same point.
            let c = params(CurveId::Sm2);
            let kblk = layout::ecc_private_block(&c.view(), &[0x12, 0x34, 0x56], 32).unwrap();
            let g = kblk[5 * 32..].to_vec();
            assert_eq!(
                data(execute(&job(HpreAlg::EcdhMultiply, 32, &kblk[..160], &g))),
                out[..64]
            );
        }
    }
}

#[test]
fn sm2_signatures_interoperate_with_rustcrypto_sm2() {
    use sm2::dsa::signature::hazmat::{PrehashSigner, PrehashVerifier};
    let (prv, pb) = sm2_blocks();
    let vk = sm2::dsa::VerifyingKey::from_sec1_bytes(
        "someone@example.com",
        &[&[0x04][..], &hex(SM2_PX), &hex(SM2_PY)].concat(),
    )
    .unwrap();
    let e = [0x5Cu8; 32];
    for random_k in [false, true] {
        let input = [e.to_vec(), pad(&[0x77; 31], 32)].concat();
        let rs = data(execute(&PkeyJob {
            random_k,
            ..job(HpreAlg::Sm2Sign, 32, &prv, &input)
        }));
        let sig = sm2::dsa::Signature::from_slice(&rs).unwrap();
        vk.verify_prehash(&e, &sig).unwrap();
        // And our verify (in = e ‖ s ‖ r).
        let vin = [e.to_vec(), rs[32..].to_vec(), rs[..32].to_vec()].concat();
        assert!(verify(execute(&job(HpreAlg::Sm2Verify, 32, &pb, &vin))));
    }
    // A signature made by the sm2 crate verifies on the engine.
    let sk = sm2::dsa::SigningKey::from_slice("someone@example.com", &hex(SM2_D)).unwrap();
    let sig: sm2::dsa::Signature = sk.sign_prehash(&e).unwrap();
    let b = sig.to_bytes();
    let vin = [e.to_vec(), b[32..].to_vec(), b[..32].to_vec()].concat();
    assert!(verify(execute(&job(HpreAlg::Sm2Verify, 32, &pb, &vin))));
    let mut wrong = vin.clone();
    wrong[0] ^= 1;
    assert!(!verify(execute(&job(HpreAlg::Sm2Verify, 32, &pb, &wrong))));
    // SM2 operations on another curve's parameters are refused.
    let p256 = params(CurveId::P256);
    let other = layout::ecc_private_block(&p256.view(), &hex(SM2_D), 32).unwrap();
    let input = [e.to_vec(), pad(&[7], 32)].concat();
    assert_eq!(
        execute(&job(HpreAlg::Sm2Sign, 32, &other, &input)),
        Err(PkeyError::UnknownCurve)
    );
}

#[test]
fn sm2_keygen_gives_a_matching_pair() {
    let (_, pb) = sm2_blocks();
    let g = pb[ecc_public::GX * 32..(ecc_public::GY + 1) * 32].to_vec();
    let out = data(execute(&job(HpreAlg::Sm2Keygen, 32, &pb, &g)));
    let (p, d) = (&out[..64], &out[64..]);
    let c = params(CurveId::Sm2);
    let kblk = layout::ecc_private_block(&c.view(), d, 32).unwrap();
    assert_eq!(
        data(execute(&job(HpreAlg::EcdhMultiply, 32, &kblk[..160], &g))),
        p
    );
    let again = data(execute(&job(HpreAlg::Sm2Keygen, 32, &pb, &g)));
    assert_ne!(again, out, "two keygens gave the same key");
}

/// Random blocks of the right lengths never panic the engine.
#[test]
fn random_blocks_never_panic() {
    let mut x: u64 = 0x1234_5678_9ABC_DEF1;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for alg in HpreAlg::ALL {
        for width in [32usize, 48, 72, 96, 128, 256] {
            if !alg.width_ok(width) {
                continue;
            }
            for _ in 0..3 {
                let msg = 1 + (next() % 40) as usize;
                let lens = layout::block_lens(alg, width, msg);
                let mut fill = |n: usize| (0..n).map(|_| next() as u8).collect::<Vec<u8>>();
                let key = fill(lens.key);
                let input = fill(lens.input);
                let _ = execute(&PkeyJob {
                    msg_len: msg,
                    ..job(alg, width, &key, &input)
                });
            }
        }
    }
}
