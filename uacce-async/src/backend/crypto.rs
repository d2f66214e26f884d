//! The CPU backend's AES-GCM: ring for AES-128/256-GCM with a 16-byte tag, measured 3-5x faster than RustCrypto on
//! this project's machine (`benches/cpu-crypto`, README "Routing"); the shared software engines of `uacce-soft`
//! (RustCrypto, also the emulator's) for the rest (AES-192, short tags). Hashes and HMACs stay on RustCrypto, which
//! measured as fast as ring for SHA-2 and faster for HMAC-SHA256.

use ring::aead;
use uacce_soft::SoftError;

fn gcm_key(key: &[u8]) -> Option<aead::LessSafeKey> {
    let alg = match key.len() {
        16 => &aead::AES_128_GCM,
        32 => &aead::AES_256_GCM,
        _ => return None,
    };
    aead::UnboundKey::new(alg, key)
        .ok()
        .map(aead::LessSafeKey::new)
}

/// AES-GCM seal in place with a 12-byte IV; writes `tag.len()` (4..=16) bytes of tag.
pub(crate) fn gcm_seal(
    key: &[u8],
    iv: &[u8],
    aad: &[u8],
    buf: &mut [u8],
    tag: &mut [u8],
) -> Result<(), SoftError> {
    if let (Some(k), Ok(n), 16) = (gcm_key(key), <[u8; 12]>::try_from(iv), tag.len()) {
        let t = k
            .seal_in_place_separate_tag(
                aead::Nonce::assume_unique_for_key(n),
                aead::Aad::from(aad),
                buf,
            )
            .map_err(|_| SoftError::Unsupported)?;
        tag.copy_from_slice(t.as_ref());
        return Ok(());
    }
    uacce_soft::sec::gcm_seal(key, iv, aad, buf, tag)
}

/// AES-GCM open of `ct_and_tag` (ciphertext ‖ `tag_len`-byte tag) in place; returns the plaintext length. On a
/// mismatch the buffer's contents are unspecified.
pub(crate) fn gcm_open(
    key: &[u8],
    iv: &[u8],
    aad: &[u8],
    ct_and_tag: &mut [u8],
    tag_len: usize,
) -> Result<usize, SoftError> {
    let Some(body) = ct_and_tag.len().checked_sub(tag_len) else {
        return Err(SoftError::AuthFailed);
    };
    if let (Some(k), Ok(n), 16) = (gcm_key(key), <[u8; 12]>::try_from(iv), tag_len) {
        return k
            .open_in_place(
                aead::Nonce::assume_unique_for_key(n),
                aead::Aad::from(aad),
                ct_and_tag,
            )
            .map(|p| p.len())
            .map_err(|_| SoftError::AuthFailed);
    }
    let (ct, tag) = ct_and_tag.split_at_mut(body);
    uacce_soft::sec::gcm_open(key, iv, aad, ct, tag)?;
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// ring and the RustCrypto engine agree on every key size, tag length, AAD and length tried, both ways.
    #[test]
    fn ring_and_rustcrypto_agree() {
        let mut x = 7u64;
        let mut byte = || {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 33) as u8
        };
        for len in [0usize, 1, 15, 16, 17, 255, 4096, 70_000] {
            let data: Vec<u8> = (0..len).map(|_| byte()).collect();
            for klen in [16usize, 24, 32] {
                let key: Vec<u8> = (0..klen).map(|_| byte()).collect();
                let iv: Vec<u8> = (0..12).map(|_| byte()).collect();
                let aad: Vec<u8> = (0..len % 40).map(|_| byte()).collect();
                for tlen in [16usize, 12, 8] {
                    let (mut a, mut b) = (data.clone(), data.clone());
                    let (mut ta, mut tb) = (vec![0; tlen], vec![0; tlen]);
                    gcm_seal(&key, &iv, &aad, &mut a, &mut ta).unwrap();
                    uacce_soft::sec::gcm_seal(&key, &iv, &aad, &mut b, &mut tb).unwrap();
                    assert_eq!((&a, &ta), (&b, &tb), "{len} {klen} {tlen}");
                    let mut sealed = [a, ta].concat();
                    let n = gcm_open(&key, &iv, &aad, &mut sealed, tlen).unwrap();
                    assert_eq!(&sealed[..n], &data[..]);
                    let mut bad = [b, tb].concat();
                    let last = bad.len() - 1;
                    bad[last] ^= 1;
                    assert!(matches!(
                        gcm_open(&key, &iv, &aad, &mut bad, tlen),
                        Err(SoftError::AuthFailed)
                    ));
                }
            }
        }
    }
}
