//! RSA and DH: modular exponentiation with `crypto-bigint` (constant-time Montgomery arithmetic) on integers as
//! wide as the key: the width k (public) picks `Uint<LIMBS>` of exactly k bytes (RSA 1024…4096 bits, DH 768…4096),
//! and the CRT private operation computes modulo p and q at k/2 bytes. The exponent's bit length is bounded by its
//! field's width, which is public; nothing branches on a secret.

use crypto_bigint::modular::runtime_mod::{DynResidue, DynResidueParams};
use crypto_bigint::{Limb, U512, U768, U1024, U1536, U2048, U3072, U4096, Uint, Word, Zero};
use uacce_sys::qm::hpre::layout::{field, rsa_crt};
use zeroize::Zeroizing;

use super::PkeyError;

/// A big-endian number of at most `LIMBS` words as a `Uint<LIMBS>`; `Length` if it has more bytes.
fn uint<const LIMBS: usize>(bytes: &[u8]) -> Result<Uint<LIMBS>, PkeyError> {
    if bytes.len() > LIMBS * Limb::BYTES {
        return Err(PkeyError::Length);
    }
    let mut words = [0 as Word; LIMBS];
    // Limbs are little-endian words: the last bytes are the lowest word.
    for (w, chunk) in words.iter_mut().zip(bytes.rchunks(Limb::BYTES)) {
        *w = chunk.iter().fold(0, |acc, &b| (acc << 8) | Word::from(b));
    }
    Ok(Uint::from_words(words))
}

/// The low `width` bytes of `v`, big-endian (the dispatch guarantees `width` ≤ the integer's size and every
/// value here is below a modulus of `width` bytes, so nothing is cut off).
fn to_be<const LIMBS: usize>(v: &Uint<LIMBS>, width: usize) -> Vec<u8> {
    let mut out = vec![0u8; width];
    for (chunk, w) in out.rchunks_mut(Limb::BYTES).zip(v.as_words()) {
        let b = w.to_be_bytes();
        chunk.copy_from_slice(&b[b.len() - chunk.len()..]);
    }
    out
}

/// `lo + hi · 2^(64·H)` as a `Uint<F>`, F = 2H (the dispatch pairs them so).
fn join<const H: usize, const F: usize>(lo: &Uint<H>, hi: &Uint<H>) -> Uint<F> {
    let mut words = [0 as Word; F];
    for (w, s) in words
        .iter_mut()
        .zip(lo.as_words().iter().chain(hi.as_words()))
    {
        *w = *s;
    }
    Uint::from_words(words)
}

/// Montgomery parameters for an odd modulus > 1; `BadKey` otherwise.
fn params<const LIMBS: usize>(modulus: &Uint<LIMBS>) -> Result<DynResidueParams<LIMBS>, PkeyError> {
    // `DynResidueParams::new` panics on an even modulus: refuse it (and 1) first.
    if modulus <= &Uint::ONE || modulus.as_words()[0] & 1 == 0 {
        return Err(PkeyError::BadKey);
    }
    Ok(DynResidueParams::new(modulus))
}

/// The longest exponent treated as public (an RSA e) by [`exp_mod`].
const PUBLIC_EXPONENT_BITS: usize = 64;

/// key = exponent(k) ‖ modulus(k); out = base^exponent mod modulus, `base` = 2 when `None`. Refuses an even or
/// trivial modulus, a zero exponent (`BadKey`) and a base ≥ the modulus (`BadInput`).
fn exp_mod<const LIMBS: usize>(
    key: &[u8],
    base: Option<&[u8]>,
    k: usize,
) -> Result<Vec<u8>, PkeyError> {
    let exp = Zeroizing::new(uint::<LIMBS>(field(key, k, 0).ok_or(PkeyError::Length)?)?);
    let m = uint::<LIMBS>(field(key, k, 1).ok_or(PkeyError::Length)?)?;
    let pm = params(&m)?;
    if bool::from(exp.is_zero()) {
        return Err(PkeyError::BadKey);
    }
    let x = match base {
        Some(b) => uint::<LIMBS>(b)?,
        None => Uint::from_u8(2),
    };
    if x >= m {
        return Err(PkeyError::BadInput);
    }
    // A secret exponent (d, a DH private value) is bounded by the field width, so the time tells nothing about
    // it. An exponent of at most 64 bits is an RSA public exponent (e = 65537 in practice): public, so it bounds
    // the loop by its own length, as an engine's public operation takes a few multiplications, not k·8 squarings.
    // No secret exponent is that short (a 64-bit d or DH value would be broken by brute force alone).
    let bits = if exp.bits_vartime() <= PUBLIC_EXPONENT_BITS {
        exp.bits_vartime()
    } else {
        k * 8
    };
    let y = DynResidue::new(&x, pm)
        .pow_bounded_exp(&*exp, bits)
        .retrieve();
    Ok(to_be(&y, k))
}

/// `lo + hi · R` reduced modulo the params' modulus (R = 2^(64·H), the Montgomery radix), constant time: Montgomery
/// conversion takes any integer below R, and R mod m is `one`'s Montgomery form.
fn reduce<const H: usize>(lo: &Uint<H>, hi: &Uint<H>, p: DynResidueParams<H>) -> DynResidue<H> {
    let r = DynResidue::new(DynResidue::one(p).as_montgomery(), p);
    DynResidue::new(lo, p).add(&DynResidue::new(hi, p).mul(&r))
}

/// The CRT private operation at half width H (p, q, dp, dq, qinv) and full width F = 2H (input, output).
fn crt<const H: usize, const F: usize>(
    key: &[u8],
    input: &[u8],
    k: usize,
) -> Result<Vec<u8>, PkeyError> {
    let half = k / 2;
    let get = |i| {
        field(key, half, i)
            .ok_or(PkeyError::Length)
            .and_then(uint::<H>)
            .map(Zeroizing::new)
    };
    let (dq, dp, q, p, qinv) = (
        get(rsa_crt::DQ)?,
        get(rsa_crt::DP)?,
        get(rsa_crt::Q)?,
        get(rsa_crt::P)?,
        get(rsa_crt::QINV)?,
    );
    let pp = params(&p)?;
    let qp = params(&q)?;
    if bool::from(dp.is_zero()) || bool::from(dq.is_zero()) || *qinv >= *p {
        return Err(PkeyError::BadKey);
    }
    // p, q < 2^(4·k), so n = pq fits k bytes.
    let (n_lo, n_hi) = p.mul_wide(&*q);
    let n = join::<H, F>(&n_lo, &n_hi);
    let c = uint::<F>(input)?;
    if c >= n {
        return Err(PkeyError::BadInput);
    }
    let (c_lo, c_hi) = (c.resize::<H>(), c.shr_vartime(H * Limb::BITS).resize::<H>());
    let m1 = reduce(&c_lo, &c_hi, pp).pow_bounded_exp(&*dp, half * 8);
    let m2 = Zeroizing::new(
        reduce(&c_lo, &c_hi, qp)
            .pow_bounded_exp(&*dq, half * 8)
            .retrieve(),
    );
    // h = qinv · (m1 − m2) mod p; m = m2 + h·q ≤ (q − 1) + (p − 1)·q < pq, so neither step overflows F.
    let h = Zeroizing::new(
        m1.sub(&DynResidue::new(&m2, pp))
            .mul(&DynResidue::new(&qinv, pp))
            .retrieve(),
    );
    let (hq_lo, hq_hi) = h.mul_wide(&*q);
    let m = join::<H, F>(&hq_lo, &hq_hi).wrapping_add(&m2.resize::<F>());
    Ok(to_be(&m, k))
}

/// NC_NCRT (0x00): key = exponent(k) ‖ n(k); out = in^exponent mod n. Refuses an even or trivial n, a zero
/// exponent (`BadKey`) and an input ≥ n (`BadInput`).
pub(super) fn rsa_non_crt(key: &[u8], input: &[u8], k: usize) -> Result<Vec<u8>, PkeyError> {
    match k {
        128 => exp_mod::<{ U1024::LIMBS }>(key, Some(input), k),
        256 => exp_mod::<{ U2048::LIMBS }>(key, Some(input), k),
        384 => exp_mod::<{ U3072::LIMBS }>(key, Some(input), k),
        512 => exp_mod::<{ U4096::LIMBS }>(key, Some(input), k),
        _ => Err(PkeyError::Length),
    }
}

/// NC_CRT (0x01): key = dq ‖ dp ‖ q ‖ p ‖ qinv (k/2 each); out = in^d mod pq by Garner's recombination.
/// Refuses even or trivial p or q, zero exponents, qinv ≥ p (`BadKey`), and an input ≥ pq (`BadInput`).
pub(super) fn rsa_crt(key: &[u8], input: &[u8], k: usize) -> Result<Vec<u8>, PkeyError> {
    match k {
        128 => crt::<{ U512::LIMBS }, { U1024::LIMBS }>(key, input, k),
        256 => crt::<{ U1024::LIMBS }, { U2048::LIMBS }>(key, input, k),
        384 => crt::<{ U1536::LIMBS }, { U3072::LIMBS }>(key, input, k),
        512 => crt::<{ U2048::LIMBS }, { U4096::LIMBS }>(key, input, k),
        _ => Err(PkeyError::Length),
    }
}

/// DH_G2 (0x04, `input` = None: base 2) and DH (0x05): key = x(k) ‖ p(k); out = base^x mod p. Refuses an even or
/// trivial p, x = 0 (`BadKey`), a base ≥ p (`BadInput`).
pub(super) fn dh(key: &[u8], input: Option<&[u8]>, k: usize) -> Result<Vec<u8>, PkeyError> {
    match k {
        96 => exp_mod::<{ U768::LIMBS }>(key, input, k),
        128 => exp_mod::<{ U1024::LIMBS }>(key, input, k),
        192 => exp_mod::<{ U1536::LIMBS }>(key, input, k),
        256 => exp_mod::<{ U2048::LIMBS }>(key, input, k),
        384 => exp_mod::<{ U3072::LIMBS }>(key, input, k),
        512 => exp_mod::<{ U4096::LIMBS }>(key, input, k),
        _ => Err(PkeyError::Length),
    }
}
