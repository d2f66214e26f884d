//! RSA key generation from given primes (alg 0x02 KG_STD, 0x03 KG_CRT; protocol doc §12.4): the engine takes e, p
//! and q and computes the private exponent and the CRT parameters. It does not search for primes (UADK always sends
//! mrttest_num = 0 and takes p and q from its caller).
//!
//! Blocks (UADK `wd_rsa_new_kg_in` / `wd_rsa_new_kg_out`): key = e(k) ‖ p(k/2) ‖ q(k/2), no input; KG_STD writes
//! d(k) ‖ n(k), KG_CRT d(k) ‖ n(k) ‖ qinv(k/2) ‖ dq(k/2) ‖ dp(k/2), of which UADK reads back only qinv, dq, dp.
//!
//! Decisions where the sources are silent (§12.6 item 4), all in `uacce-sys/docs/hpre.md`:
//! * d = e⁻¹ mod (p−1)(q−1). (A d modulo lcm(p−1, q−1), as FIPS 186 prefers, is an equally valid exponent; what
//!   the silicon computes is unknown. The CRT parameters dp = e⁻¹ mod (p−1), dq = e⁻¹ mod (q−1) and
//!   qinv = q⁻¹ mod p are the same either way.)
//! * KG_CRT leaves the d ‖ n part of its output **zero**: whether the hardware writes them there is unknown, and a
//!   driver that read them would work here and fail on silicon.
//! * Refused with `BadKey`: an even or trivial e, p or q, p = q, and an e with no inverse modulo p−1 or q−1, or a q
//!   with none modulo p (no key exists). p and q are **not** tested for primality (the hardware's behaviour for
//!   composites is unknown; the caller checks its key): for composite "primes" the numbers are computed all the
//!   same and form no valid key.
//!
//! Arithmetic: `crypto-bigint` 4096-bit integers (constant-time inversion, `inv_mod`; the reductions `rem` are
//! constant-time in the values too, variable only in the public sizes).

use crypto_bigint::{NonZero, U4096, Zero};
use uacce_sys::qm::hpre::layout::field;

use super::PkeyError;

const MAX_BYTES: usize = 512;

fn uint(bytes: &[u8]) -> Result<U4096, PkeyError> {
    if bytes.len() > MAX_BYTES {
        return Err(PkeyError::Length);
    }
    let mut buf = [0u8; MAX_BYTES];
    buf[MAX_BYTES - bytes.len()..].copy_from_slice(bytes);
    let v = U4096::from_be_slice(&buf);
    zeroize::Zeroize::zeroize(&mut buf);
    Ok(v)
}

/// The low `width` bytes of `v`, big-endian (the caller knows `v` fits).
fn to_be(v: &U4096, width: usize) -> Vec<u8> {
    let mut all = [0u8; MAX_BYTES];
    for (i, limb) in v.as_words().iter().enumerate() {
        let end = MAX_BYTES - i * 8;
        all[end - 8..end].copy_from_slice(&limb.to_be_bytes());
    }
    let out = all[MAX_BYTES - width..].to_vec();
    zeroize::Zeroize::zeroize(&mut all);
    out
}

fn odd_above_one(v: &U4096) -> bool {
    v > &U4096::ONE && v.as_words()[0] & 1 == 1
}

/// `a⁻¹ mod m` (m > 1), `None` when gcd(a, m) ≠ 1.
fn inverse(a: &U4096, m: &U4096) -> Option<U4096> {
    let nz = Option::<NonZero<U4096>>::from(NonZero::new(*m))?;
    let r = a.rem(&nz);
    let (inv, ok) = if m.as_words()[0] & 1 == 1 {
        r.inv_odd_mod(m)
    } else {
        r.inv_mod(m)
    };
    // `inv_mod` reports success for a = 0 modulo 1 only; m > 1 here, so a zero result means no inverse.
    (bool::from(ok) && !bool::from(inv.is_zero())).then_some(inv)
}

/// KG_STD (0x02, `crt` false) and KG_CRT (0x03, `crt` true) for a k-byte modulus.
pub(super) fn keygen(key: &[u8], k: usize, crt: bool) -> Result<Vec<u8>, PkeyError> {
    let half = k / 2;
    let e = uint(field(key, k, 0).ok_or(PkeyError::Length)?)?;
    let pq = key.get(k..).ok_or(PkeyError::Length)?;
    let p = uint(field(pq, half, 0).ok_or(PkeyError::Length)?)?;
    let q = uint(field(pq, half, 1).ok_or(PkeyError::Length)?)?;
    if !odd_above_one(&e) || !odd_above_one(&p) || !odd_above_one(&q) || p == q {
        return Err(PkeyError::BadKey);
    }
    let (p1, q1) = (p.wrapping_sub(&U4096::ONE), q.wrapping_sub(&U4096::ONE));
    let dp = inverse(&e, &p1).ok_or(PkeyError::BadKey)?;
    let dq = inverse(&e, &q1).ok_or(PkeyError::BadKey)?;
    let qinv = inverse(&q, &p).ok_or(PkeyError::BadKey)?;
    let mut out = vec![0u8; 2 * k + if crt { 3 * half } else { 0 }];
    if crt {
        out[2 * k..2 * k + half].copy_from_slice(&to_be(&qinv, half));
        out[2 * k + half..2 * k + 2 * half].copy_from_slice(&to_be(&dq, half));
        out[2 * k + 2 * half..].copy_from_slice(&to_be(&dp, half));
    } else {
        // p, q < 2^(4·k) ≤ 2^2048: the products fit 4096 bits.
        let n = p.wrapping_mul(&q);
        let phi = p1.wrapping_mul(&q1);
        let d = inverse(&e, &phi).ok_or(PkeyError::BadKey)?;
        out[..k].copy_from_slice(&to_be(&d, k));
        out[k..2 * k].copy_from_slice(&to_be(&n, k));
    }
    Ok(out)
}
