//! CBC with ciphertext stealing, the three variants of NIST SP 800-38A Addendum (October 2010): CBC-CS1, CBC-CS2
//! and CBC-CS3, for AES and SM4, on inputs of more than one block (the SEC engine's limit: UADK's `aes_len_check`
//! refuses 16 bytes or less).
//!
//! Built on the CBC and ECB of [`crate::sec::cipher`] (RustCrypto `cbc`, `aes`, `sm4`) with the Addendum's
//! transformations:
//! * encrypt: zero-pad the last partial block, CBC-encrypt, and keep only the first `d` bytes of the next-to-last
//!   ciphertext block (`d` = bytes in the last plaintext block, 1..=16); CS1 then outputs `C1 … C*n-1 Cn`, CS2
//!   swaps the last two when `d` < 16 (otherwise plain CBC), CS3 always swaps them (the Kerberos form, RFC 3962);
//! * decrypt: undo the swap, decrypt the last full block `Cn` alone (ECB) to recover the stolen bytes, rebuild
//!   `Cn-1`, CBC-decrypt `C1 … Cn-1`, and XOR for the last partial block.

use uacce_sys::qm::sec::{CipherAlg, CipherDir, CipherMode};

use crate::sec::{SoftError, cipher};

/// The three ciphertext-stealing variants (c_width 1, 2, 3 on the SEC BD).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CsVariant {
    /// CS1: the partial block stays next-to-last.
    Cs1,
    /// CS2: the last two blocks are swapped only when the last block is partial.
    Cs2,
    /// CS3: the last two blocks are always swapped.
    Cs3,
}

/// Whether the variant swaps the last two blocks for a last block of `d` bytes (1..=16).
fn swapped(v: CsVariant, d: usize) -> bool {
    match v {
        CsVariant::Cs1 => false,
        CsVariant::Cs2 => d < 16,
        CsVariant::Cs3 => true,
    }
}

/// CBC-CS in place: `buf` more than 16 bytes, `iv` 16 bytes.
///
/// # Errors
///
/// [`SoftError::Unsupported`] for 16 bytes or less, a 16-byte-IV mismatch, or a key the cipher refuses; `buf` is
/// then unchanged.
pub fn cbc_cs(
    alg: CipherAlg,
    v: CsVariant,
    dir: CipherDir,
    key: &[u8],
    iv: &[u8],
    buf: &mut [u8],
) -> Result<(), SoftError> {
    let n = buf.len();
    if n <= 16 || iv.len() != 16 {
        return Err(SoftError::Unsupported);
    }
    // d: bytes of the last (possibly partial) block; head: the bytes before the last two blocks.
    let d = match n % 16 {
        0 => 16,
        r => r,
    };
    let head = n - d - 16;
    match dir {
        CipherDir::Encrypt => {
            let mut padded = vec![0u8; head + 32];
            padded[..n].copy_from_slice(buf);
            cipher(alg, CipherMode::Cbc, dir, key, iv, &mut padded)?;
            // padded = C1 … Cn-2 | Cn-1 (16) | Cn (16); the output keeps the first d bytes of Cn-1.
            let (cn1, cn) = (&padded[head..head + d], &padded[head + 16..head + 32]);
            let mut out = padded[..head].to_vec();
            if swapped(v, d) {
                out.extend_from_slice(cn);
                out.extend_from_slice(cn1);
            } else {
                out.extend_from_slice(cn1);
                out.extend_from_slice(cn);
            }
            buf.copy_from_slice(&out);
        }
        CipherDir::Decrypt => {
            // Back to the CS1 order: C1 … Cn-2 | C*n-1 (d) | Cn (16).
            let (star, cn): (Vec<u8>, [u8; 16]) = if swapped(v, d) {
                let cn: [u8; 16] = buf[head..head + 16]
                    .try_into()
                    .map_err(|_| SoftError::Unsupported)?;
                (buf[head + 16..].to_vec(), cn)
            } else {
                let cn: [u8; 16] = buf[head + d..]
                    .try_into()
                    .map_err(|_| SoftError::Unsupported)?;
                (buf[head..head + d].to_vec(), cn)
            };
            // Z = D(Cn) = Cn-1 XOR (P*n ‖ 0): its first d bytes XOR C*n-1 give P*n, its last 16 − d bytes are
            // the stolen tail of Cn-1.
            let mut z = cn;
            cipher(alg, CipherMode::Ecb, dir, key, &[], &mut z)?;
            let mut cbc = buf[..head].to_vec();
            cbc.extend_from_slice(&star);
            cbc.extend_from_slice(&z[d..]);
            let last: Vec<u8> = star.iter().zip(&z[..d]).map(|(c, z)| c ^ z).collect();
            cipher(alg, CipherMode::Cbc, dir, key, iv, &mut cbc)?;
            buf[..head + 16].copy_from_slice(&cbc);
            buf[head + 16..].copy_from_slice(&last);
        }
    }
    Ok(())
}
