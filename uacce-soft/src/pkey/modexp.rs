//! RSA and DH: modular exponentiation on 4096-bit fixed-size integers (`crypto-bigint`, constant-time Montgomery
//! arithmetic; the exponent's bit length is bounded by the key width, which is public).

use crypto_bigint::modular::runtime_mod::{DynResidue, DynResidueParams};
use crypto_bigint::{U4096, Zero};
use uacce_sys::qm::hpre::layout::{field, rsa_crt};

use super::PkeyError;

const MAX_BYTES: usize = 512;

/// A big-endian number of at most 512 bytes as a `U4096`.
fn uint(bytes: &[u8]) -> Result<U4096, PkeyError> {
    if bytes.len() > MAX_BYTES {
        return Err(PkeyError::Length);
    }
    let mut buf = [0u8; MAX_BYTES];
    buf[MAX_BYTES - bytes.len()..].copy_from_slice(bytes);
    Ok(U4096::from_be_slice(&buf))
}

/// The low `width` bytes of `v`, big-endian.
fn to_be(v: &U4096, width: usize) -> Vec<u8> {
    let all = v.be_bytes();
    all[MAX_BYTES - width..].to_vec()
}

trait ToBe {
    fn be_bytes(&self) -> [u8; MAX_BYTES];
}

impl ToBe for U4096 {
    fn be_bytes(&self) -> [u8; MAX_BYTES] {
        let mut out = [0u8; MAX_BYTES];
        // Limbs are little-endian words; write them from the end.
        for (i, limb) in self.as_words().iter().enumerate() {
            let b = limb.to_be_bytes();
            let end = MAX_BYTES - i * 8;
            out[end - 8..end].copy_from_slice(&b);
        }
        out
    }
}

/// Montgomery parameters for an odd modulus > 1; `BadKey` otherwise.
fn params(modulus: &U4096) -> Result<DynResidueParams<{ U4096::LIMBS }>, PkeyError> {
    // `DynResidueParams::new` panics on an even modulus: refuse it (and 1) first.
    if modulus <= &U4096::ONE || modulus.as_words()[0] & 1 == 0 {
        return Err(PkeyError::BadKey);
    }
    Ok(DynResidueParams::new(modulus))
}

/// `base^exp mod modulus` with `exp_bits` bounding the exponent's length.
fn pow(base: &U4096, exp: &U4096, exp_bits: usize, p: DynResidueParams<{ U4096::LIMBS }>) -> U4096 {
    DynResidue::new(base, p)
        .pow_bounded_exp(exp, exp_bits)
        .retrieve()
}

/// NC_NCRT (0x00): key = exponent(k) ‖ n(k); out = in^exponent mod n. Refuses an even or trivial n, a zero
/// exponent (`BadKey`) and an input ≥ n (`BadInput`).
pub(super) fn rsa_non_crt(key: &[u8], input: &[u8], k: usize) -> Result<Vec<u8>, PkeyError> {
    let exp = uint(field(key, k, 0).ok_or(PkeyError::Length)?)?;
    let n = uint(field(key, k, 1).ok_or(PkeyError::Length)?)?;
    let p = params(&n)?;
    if bool::from(exp.is_zero()) {
        return Err(PkeyError::BadKey);
    }
    let x = uint(input)?;
    if x >= n {
        return Err(PkeyError::BadInput);
    }
    Ok(to_be(&pow(&x, &exp, k * 8, p), k))
}

/// NC_CRT (0x01): key = dq ‖ dp ‖ q ‖ p ‖ qinv (k/2 each); out = in^d mod pq by Garner's recombination.
/// Refuses even or trivial p or q, zero exponents, qinv ≥ p (`BadKey`), and an input ≥ pq (`BadInput`).
pub(super) fn rsa_crt(key: &[u8], input: &[u8], k: usize) -> Result<Vec<u8>, PkeyError> {
    let half = k / 2;
    let get = |i| field(key, half, i).ok_or(PkeyError::Length).and_then(uint);
    let (dq, dp, q, p, qinv) = (
        get(rsa_crt::DQ)?,
        get(rsa_crt::DP)?,
        get(rsa_crt::Q)?,
        get(rsa_crt::P)?,
        get(rsa_crt::QINV)?,
    );
    let pp = params(&p)?;
    let qp = params(&q)?;
    if bool::from(dp.is_zero()) || bool::from(dq.is_zero()) || qinv >= p {
        return Err(PkeyError::BadKey);
    }
    // p, q < 2^(4·k) ≤ 2^2048, so the product fits 4096 bits.
    let n = p.wrapping_mul(&q);
    let c = uint(input)?;
    if c >= n {
        return Err(PkeyError::BadInput);
    }
    let m1 = DynResidue::new(&c, pp).pow_bounded_exp(&dp, half * 8);
    let m2 = pow(&c, &dq, half * 8, qp);
    // h = qinv · (m1 − m2) mod p; m = m2 + h·q (< pq).
    let h = m1
        .sub(&DynResidue::new(&m2, pp))
        .mul(&DynResidue::new(&qinv, pp))
        .retrieve();
    let m = m2.wrapping_add(&h.wrapping_mul(&q));
    Ok(to_be(&m, k))
}

/// DH_G2 (0x04, `input` = None: base 2) and DH (0x05): key = x(k) ‖ p(k); out = base^x mod p. Refuses an even or
/// trivial p, x = 0 (`BadKey`), a base ≥ p (`BadInput`).
pub(super) fn dh(key: &[u8], input: Option<&[u8]>, k: usize) -> Result<Vec<u8>, PkeyError> {
    let x = uint(field(key, k, 0).ok_or(PkeyError::Length)?)?;
    let m = uint(field(key, k, 1).ok_or(PkeyError::Length)?)?;
    let pm = params(&m)?;
    if bool::from(x.is_zero()) {
        return Err(PkeyError::BadKey);
    }
    let base = match input {
        Some(g) => uint(g)?,
        None => U4096::from_u8(2),
    };
    if base >= m {
        return Err(PkeyError::BadInput);
    }
    Ok(to_be(&pow(&base, &x, k * 8, pm), k))
}
