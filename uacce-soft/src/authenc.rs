//! Authenc: AES-CBC + HMAC (SHA-1, SHA-256, SHA-512) encrypt-then-MAC in one call, as the SEC engine does it in one
//! BD (`uacce_sys::qm::sec::AuthencRequest`): the payload (a nonzero multiple of 16 bytes, no padding) is encrypted
//! with AES-CBC, and the tag is the first `tag.len()` bytes of HMAC(mac key, AAD ‖ ciphertext). Opening checks the
//! tag in constant time before anything is decrypted. RustCrypto's `cbc` (through [`crate::sec::cipher`]) and
//! `hmac` do the work; the emulated SEC device and `uacce-async`'s CPU backend both call these functions.

use hmac::{Hmac, Mac};
use uacce_sys::qm::sec::{CipherAlg, CipherDir, CipherMode, DigestAlg};

use crate::sec::{SoftError, cipher};

/// HMAC(key, aad ‖ body) with one of the authenc hashes.
fn mac(hash: DigestAlg, key: &[u8], aad: &[u8], body: &[u8]) -> Result<Vec<u8>, SoftError> {
    macro_rules! run {
        ($H:ty) => {{
            let mut m =
                <Hmac<$H> as Mac>::new_from_slice(key).map_err(|_| SoftError::Unsupported)?;
            Mac::update(&mut m, aad);
            Mac::update(&mut m, body);
            m.finalize().into_bytes().to_vec()
        }};
    }
    Ok(match hash {
        DigestAlg::Sha1 => run!(sha1::Sha1),
        DigestAlg::Sha256 => run!(sha2::Sha256),
        DigestAlg::Sha512 => run!(sha2::Sha512),
        _ => return Err(SoftError::Unsupported),
    })
}

/// Checks shared by seal and open: AES key 16/24/32 (the cipher checks it), IV 16, payload a nonzero multiple of
/// 16, tag 4..=digest size in whole words (the engine's `mac_len` is in words).
fn check(hash: DigestAlg, iv: &[u8], buf: &[u8], tag_len: usize) -> Result<(), SoftError> {
    let digest = hash.digest_len() as usize;
    if !hash.authenc_ok()
        || iv.len() != 16
        || buf.is_empty()
        || !buf.len().is_multiple_of(16)
        || tag_len == 0
        || !tag_len.is_multiple_of(4)
        || tag_len > digest
    {
        return Err(SoftError::Unsupported);
    }
    Ok(())
}

/// Seal in place: `buf` (the plaintext) becomes the AES-CBC ciphertext, and `tag` receives the first `tag.len()`
/// bytes of HMAC(`mac_key`, `aad` ‖ ciphertext).
///
/// # Errors
///
/// [`SoftError::Unsupported`] for a key, IV, length, tag length or hash the engine does not take; `buf` is then
/// unchanged.
pub fn seal(
    key: &[u8],
    iv: &[u8],
    hash: DigestAlg,
    mac_key: &[u8],
    aad: &[u8],
    buf: &mut [u8],
    tag: &mut [u8],
) -> Result<(), SoftError> {
    check(hash, iv, buf, tag.len())?;
    let mut ct = buf.to_vec();
    cipher(
        CipherAlg::Aes,
        CipherMode::Cbc,
        CipherDir::Encrypt,
        key,
        iv,
        &mut ct,
    )?;
    let full = mac(hash, mac_key, aad, &ct)?;
    tag.copy_from_slice(&full[..tag.len()]);
    buf.copy_from_slice(&ct);
    Ok(())
}

/// Open in place: checks `tag` against HMAC(`mac_key`, `aad` ‖ `buf`) truncated to `tag.len()` in constant time,
/// then decrypts `buf` with AES-CBC.
///
/// # Errors
///
/// [`SoftError::AuthFailed`] on a tag mismatch, [`SoftError::Unsupported`] as for [`seal`]; in both cases `buf` is
/// left unchanged (no plaintext is released).
pub fn open(
    key: &[u8],
    iv: &[u8],
    hash: DigestAlg,
    mac_key: &[u8],
    aad: &[u8],
    buf: &mut [u8],
    tag: &[u8],
) -> Result<(), SoftError> {
    check(hash, iv, buf, tag.len())?;
    let full = mac(hash, mac_key, aad, buf)?;
    if !bool::from(subtle::ConstantTimeEq::ct_eq(&full[..tag.len()], tag)) {
        return Err(SoftError::AuthFailed);
    }
    let mut pt = buf.to_vec();
    cipher(
        CipherAlg::Aes,
        CipherMode::Cbc,
        CipherDir::Decrypt,
        key,
        iv,
        &mut pt,
    )?;
    buf.copy_from_slice(&pt);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Round trip, truncation and every kind of tampering, for each hash and AES key size.
    #[test]
    fn round_trip_and_tamper() {
        for hash in [DigestAlg::Sha1, DigestAlg::Sha256, DigestAlg::Sha512] {
            for klen in [16, 24, 32] {
                let key = vec![7u8; klen];
                let mk = b"mac key";
                let iv = [9u8; 16];
                let pt: Vec<u8> = (0..48u8).collect();
                let mut buf = pt.clone();
                let mut tag = vec![0u8; 12];
                seal(&key, &iv, hash, mk, b"aad", &mut buf, &mut tag).unwrap();
                assert_ne!(buf, pt);
                let mut back = buf.clone();
                open(&key, &iv, hash, mk, b"aad", &mut back, &tag).unwrap();
                assert_eq!(back, pt);
                let mut bad = buf.clone();
                bad[47] ^= 1;
                let keep = bad.clone();
                assert_eq!(
                    open(&key, &iv, hash, mk, b"aad", &mut bad, &tag),
                    Err(SoftError::AuthFailed)
                );
                assert_eq!(bad, keep, "nothing released on a mismatch");
                let mut b2 = buf.clone();
                assert_eq!(
                    open(&key, &iv, hash, mk, b"aae", &mut b2, &tag),
                    Err(SoftError::AuthFailed)
                );
            }
        }
        let mut odd = [0u8; 15];
        let mut tag = [0u8; 20];
        assert_eq!(
            seal(
                &[0; 16],
                &[0; 16],
                DigestAlg::Sha1,
                b"k",
                b"",
                &mut odd,
                &mut tag
            ),
            Err(SoftError::Unsupported)
        );
        let mut blk = [0u8; 16];
        let mut tag = [0u8; 6];
        assert_eq!(
            seal(
                &[0; 16],
                &[0; 16],
                DigestAlg::Sha256,
                b"k",
                b"",
                &mut blk,
                &mut tag
            ),
            Err(SoftError::Unsupported)
        );
        let mut tag = [0u8; 16];
        assert_eq!(
            seal(
                &[0; 16],
                &[0; 16],
                DigestAlg::Md5,
                b"k",
                b"",
                &mut blk,
                &mut tag
            ),
            Err(SoftError::Unsupported)
        );
    }
}
