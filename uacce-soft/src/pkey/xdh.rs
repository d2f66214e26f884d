//! X25519 and X448 (alg 0x10) on the hardware's big-endian blocks: key = p ‖ a ‖ k (3h), in = u (h), out = u′ (h).
//! The engine does no clamping and no byte reversal: software clamps k in big-endian positions and passes
//! big-endian u (§12.4). The RFC 7748 functions here take little-endian bytes, so this module reverses both ways.

use curve25519_dalek::montgomery::MontgomeryPoint;
use uacce_sys::qm::hpre::layout::{field, x_dh};
use uacce_sys::qm::hpre::{
    X448_A24, X448_P, X25519_A24, X25519_P, x448_is_clamped_be, x25519_is_clamped_be,
};

use super::{PkeyError, fit};

fn reversed<const N: usize>(be: &[u8]) -> Result<[u8; N], PkeyError> {
    let mut out: [u8; N] = be.try_into().map_err(|_| PkeyError::Length)?;
    out.reverse();
    Ok(out)
}

/// X25519 (h = 32) or X448 (h = 72).
///
/// Refused: p or a other than the curve's (`UnknownCurve`); a scalar that is not clamped as UADK and the kernel
/// clamp it, or (X448) with nonzero padding (`BadKey`); a u with the top bit set (X25519; software clears it),
/// nonzero padding (X448) or u ≥ p (`BadInput`: UADK refuses it and the kernel reduces it first, so hardware never
/// sees one).
pub(super) fn multiply(key: &[u8], input: &[u8], h: usize) -> Result<Vec<u8>, PkeyError> {
    let p = field(key, h, x_dh::P).ok_or(PkeyError::Length)?;
    let a = field(key, h, x_dh::A).ok_or(PkeyError::Length)?;
    let k = field(key, h, x_dh::K).ok_or(PkeyError::Length)?;
    if input.len() != h {
        return Err(PkeyError::Length);
    }
    match h {
        32 => {
            if p != X25519_P || Some(a.to_vec()) != fit(&X25519_A24, 32) {
                return Err(PkeyError::UnknownCurve);
            }
            if !x25519_is_clamped_be(k) {
                return Err(PkeyError::BadKey);
            }
            if input[0] & 0x80 != 0 || input >= &X25519_P[..] {
                return Err(PkeyError::BadInput);
            }
            let k_le: [u8; 32] = reversed(k)?;
            let u_le: [u8; 32] = reversed(input)?;
            let mut r = MontgomeryPoint(u_le).mul_clamped(k_le).to_bytes();
            r.reverse();
            Ok(r.to_vec())
        }
        72 => {
            if Some(p.to_vec()) != fit(&X448_P, 72) || Some(a.to_vec()) != fit(&X448_A24, 72) {
                return Err(PkeyError::UnknownCurve);
            }
            if !x448_is_clamped_be(k) {
                return Err(PkeyError::BadKey);
            }
            let (pad, u) = input.split_at(16);
            if pad.iter().any(|&b| b != 0) || u >= &X448_P[..] {
                return Err(PkeyError::BadInput);
            }
            let k_le: [u8; 56] = reversed(&k[16..])?;
            let u_le: [u8; 56] = reversed(u)?;
            let mut r = x448::x448_unchecked(k_le, u_le);
            r.reverse();
            let mut out = vec![0u8; 72];
            out[16..].copy_from_slice(&r);
            Ok(out)
        }
        _ => Err(PkeyError::Length),
    }
}
