//! The HPRE engine's arithmetic in software, on the key, input and output blocks **exactly as laid out for the
//! hardware** (`uacce_sys::qm::hpre::layout`, protocol doc §12.4): big-endian numbers right-aligned in fixed-width
//! fields, UADK's field orders. The emulated HPRE device runs [`execute`] on the bytes an SQE names; the CPU
//! backend can run the same function on blocks it built the same way, so both agree by construction.
//!
//! What it computes (the hardware's operations, nothing more: padding, hashing and encodings are the caller's):
//! * RSA `x^e mod n` / `x^d mod n` and the CRT private operation; DH `g^x mod p`. Constant-time modular
//!   exponentiation with `crypto-bigint` on integers exactly as wide as the key (the width, which is public, picks
//!   `Uint<LIMBS>`; the CRT halves run at k/2), exponent bits bounded by the exponent field's width. The `rsa` crate is not used: its private-key path has RUSTSEC-2023-0071 (Marvin), and the hardware's
//!   operation is the raw exponentiation anyway.
//! * ECC point multiply, ECDSA sign (given k) and verify on NIST P-256, P-384 and P-521 (RustCrypto `p256`,
//!   `p384`, `p521`), SM2 keygen / sign / verify / encrypt / decrypt (RustCrypto `sm2` arithmetic and `sm3`), all
//!   constant-time in the secret scalars as those crates are.
//! * X25519 (`curve25519-dalek`) and X448 (`x448`).
//!
//! The hardware receives curve parameters, never a curve name; this module recognises the parameter blocks of the
//! curves above and refuses others with [`PkeyError::UnknownCurve`] (real hardware would compute on them; that is
//! the one place the emulator does less than silicon, and it says so). Every length, number and point is checked
//! before use; nothing panics on any input.
//!
//! * RSA key generation from given primes (0x02/0x03, `rsa_keygen`): d and the CRT parameters from e, p, q (no
//!   prime search: the engine has none).
//!
//! [`PkeyError::Unsupported`] is left for jobs the engine would compute but this module does not (none today).

mod ecc;
mod modexp;
mod rsa_keygen;
mod xdh;

use uacce_sys::qm::hpre::layout::block_lens;
use uacce_sys::qm::hpre::{HpreAlg, SM2_MAX_SINGLE_MSG};

pub use ecc::{CurveId, CurveParams, curve_params, sm2_kdf};

/// Why the engine refused a job. The emulator maps each to an etype (see `uacce-emu`'s HPRE engine docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PkeyError {
    /// A block is not as long as the operation needs.
    #[error("a key, input or output block has the wrong length")]
    Length,
    /// A key parameter is out of range: an even or trivial modulus, a zero exponent, a private scalar not in
    /// [1, n−1], a scalar that is not clamped, a field with bits above the curve's size.
    #[error("bad key")]
    BadKey,
    /// An input is out of range: a message ≥ the modulus, a nonce k not in [1, n−1], a u ≥ p.
    #[error("input out of range")]
    BadInput,
    /// An input point is not on the curve (or is the point at infinity).
    #[error("point not on the curve")]
    NotOnCurve,
    /// The curve parameters are not those of a curve this engine implements.
    #[error("unknown curve parameters")]
    UnknownCurve,
    /// The computation hit a degenerate case the standard says to retry with another k (r = 0, s = 0, a result
    /// at infinity, an all-zero SM2 KDF output).
    #[error("degenerate result (retry with another k)")]
    Degenerate,
    /// SM2 decrypt: C3 does not match.
    #[error("SM2 C3 check failed")]
    DecryptCheck,
    /// An operation this engine does not implement.
    #[error("operation not implemented in software")]
    Unsupported,
}

/// The result of one operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PkeyOutput {
    /// Bytes for the output block (exactly its length, [`block_lens`]).
    Data(Vec<u8>),
    /// A verify result (the hardware's dw6 bit 1).
    Verify(bool),
}

/// One HPRE job's parameters, as an SQE gives them.
#[derive(Debug, Clone, Copy)]
pub struct PkeyJob<'a> {
    /// The algorithm.
    pub alg: HpreAlg,
    /// Width: k (RSA/DH) or h (ECC).
    pub width: usize,
    /// The key block.
    pub key: &'a [u8],
    /// The input block (empty for the no-input algorithms).
    pub input: &'a [u8],
    /// SM2 encrypt/decrypt message length (dw10 + 1), else 0.
    pub msg_len: usize,
    /// dw1 sm2_ksel: choose k at random (SM2 sign and encrypt); the k field of the input is then ignored.
    pub random_k: bool,
}

/// Run one operation on hardware-layout blocks. The key and input slices must be exactly as long as
/// [`block_lens`] says (else [`PkeyError::Length`]); the output is exactly the output block's length.
pub fn execute(job: &PkeyJob<'_>) -> Result<PkeyOutput, PkeyError> {
    if !job.alg.width_ok(job.width) {
        return Err(PkeyError::Length);
    }
    let sm2_crypt = matches!(job.alg, HpreAlg::Sm2Encrypt | HpreAlg::Sm2Decrypt);
    if sm2_crypt && !(1..=SM2_MAX_SINGLE_MSG).contains(&job.msg_len) {
        return Err(PkeyError::Length);
    }
    let lens = block_lens(job.alg, job.width, job.msg_len);
    if job.key.len() != lens.key || job.input.len() != lens.input {
        return Err(PkeyError::Length);
    }
    let (k, h) = (job.width, job.width);
    let out = match job.alg {
        HpreAlg::RsaNonCrt => modexp::rsa_non_crt(job.key, job.input, k)?,
        HpreAlg::RsaCrt => modexp::rsa_crt(job.key, job.input, k)?,
        HpreAlg::DhG2 => modexp::dh(job.key, None, k)?,
        HpreAlg::Dh => modexp::dh(job.key, Some(job.input), k)?,
        HpreAlg::RsaKeygen => rsa_keygen::keygen(job.key, k, false)?,
        HpreAlg::RsaKeygenCrt => rsa_keygen::keygen(job.key, k, true)?,
        HpreAlg::EcdhMultiply => ecc::multiply(job.key, job.input, h)?,
        HpreAlg::EcdsaSign => ecc::ecdsa_sign(job.key, job.input, h)?,
        HpreAlg::EcdsaVerify => {
            return ecc::ecdsa_verify(job.key, job.input, h).map(PkeyOutput::Verify);
        }
        HpreAlg::XdhMultiply => xdh::multiply(job.key, job.input, h)?,
        HpreAlg::Sm2Keygen => ecc::sm2_keygen(job.key, job.input, h)?,
        HpreAlg::Sm2Sign => ecc::sm2_sign(job.key, job.input, h, job.random_k)?,
        HpreAlg::Sm2Verify => {
            return ecc::sm2_verify(job.key, job.input, h).map(PkeyOutput::Verify);
        }
        HpreAlg::Sm2Encrypt => ecc::sm2_encrypt(job.key, job.input, h, job.msg_len, job.random_k)?,
        HpreAlg::Sm2Decrypt => ecc::sm2_decrypt(job.key, job.input, h, job.msg_len)?,
    };
    debug_assert_eq!(out.len(), lens.output);
    if out.len() != lens.output {
        return Err(PkeyError::Length);
    }
    Ok(PkeyOutput::Data(out))
}

/// `value` right-aligned in `width` bytes; `None` if it has more significant bytes.
pub(crate) fn fit(value: &[u8], width: usize) -> Option<Vec<u8>> {
    let first = value.iter().position(|&b| b != 0).unwrap_or(value.len());
    let sig = &value[first..];
    if sig.len() > width {
        return None;
    }
    let mut out = vec![0u8; width];
    out[width - sig.len()..].copy_from_slice(sig);
    Some(out)
}
