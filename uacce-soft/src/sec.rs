//! The software SEC engines: AES (ECB, CBC, CTR with a 128-bit counter, XTS), AES-GCM with tags of 4..=16 bytes,
//! SHA-2, HMAC and raw SHA-256/512 compression for long hashes. The emulator's SEC engine runs these on the buffers
//! an SQE names; `uacce-async`'s CPU backend runs the same functions, so the two agree by construction.

use aes::cipher::block_padding::NoPadding;
use aes::cipher::{
    BlockDecryptMut, BlockEncryptMut, KeyInit, KeyIvInit, StreamCipher, generic_array::GenericArray,
};
use aes::{Aes128, Aes192, Aes256};
use aes_gcm::aead::AeadInPlace;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha224, Sha256, Sha384, Sha512};
use uacce_sys::qm::sec::{CipherDir, CipherMode, DigestAlg};

/// Why a software operation did not run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SoftError {
    /// Key, IV or data length not valid for the algorithm, or an algorithm not implemented here (SHA-1, …).
    #[error("unsupported parameters")]
    Unsupported,
    /// AES-GCM tag mismatch.
    #[error("authentication failed")]
    AuthFailed,
}

/// Run `$body` with `$C` bound to the AES type for a key of `$len` bytes.
macro_rules! with_aes {
    ($len:expr, $C:ident, $body:block) => {
        match $len {
            16 => {
                type $C = Aes128;
                $body
            }
            24 => {
                type $C = Aes192;
                $body
            }
            32 => {
                type $C = Aes256;
                $body
            }
            _ => Err(SoftError::Unsupported),
        }
    };
}

const U: SoftError = SoftError::Unsupported;

/// AES in place. `iv` is 16 bytes (ignored for ECB; the tweak for XTS, whose key is key1 ‖ key2). ECB and CBC need
/// a multiple of 16 bytes, XTS at least 16.
pub fn aes(
    mode: CipherMode,
    dir: CipherDir,
    key: &[u8],
    iv: &[u8],
    buf: &mut [u8],
) -> Result<(), SoftError> {
    let enc = dir == CipherDir::Encrypt;
    match mode {
        CipherMode::Ecb => with_aes!(key.len(), C, {
            if !buf.len().is_multiple_of(16) {
                return Err(U);
            }
            let mut cipher = C::new_from_slice(key).map_err(|_| U)?;
            for block in buf.chunks_exact_mut(16) {
                let b = GenericArray::from_mut_slice(block);
                if enc {
                    cipher.encrypt_block_mut(b)
                } else {
                    cipher.decrypt_block_mut(b)
                }
            }
            Ok(())
        }),
        CipherMode::Cbc => with_aes!(key.len(), C, {
            let len = buf.len();
            if enc {
                cbc::Encryptor::<C>::new_from_slices(key, iv)
                    .map_err(|_| U)?
                    .encrypt_padded_mut::<NoPadding>(buf, len)
                    .map_err(|_| U)?;
            } else {
                cbc::Decryptor::<C>::new_from_slices(key, iv)
                    .map_err(|_| U)?
                    .decrypt_padded_mut::<NoPadding>(buf)
                    .map_err(|_| U)?;
            }
            Ok(())
        }),
        CipherMode::Ctr => with_aes!(key.len(), C, {
            ctr::Ctr128BE::<C>::new_from_slices(key, iv)
                .map_err(|_| U)?
                .apply_keystream(buf);
            Ok(())
        }),
        CipherMode::Xts => {
            let (k1, k2) = key.split_at(key.len() / 2);
            let tweak: [u8; 16] = iv.try_into().map_err(|_| U)?;
            if buf.len() < 16 {
                return Err(U);
            }
            with_aes!(k1.len(), C, {
                let xts = xts_mode::Xts128::<C>::new(
                    C::new_from_slice(k1).map_err(|_| U)?,
                    C::new_from_slice(k2).map_err(|_| U)?,
                );
                if enc {
                    xts.encrypt_sector(buf, tweak)
                } else {
                    xts.decrypt_sector(buf, tweak)
                }
                Ok(())
            })
        }
    }
}

/// AES-GCM seal in place with a 12-byte IV; writes `tag.len()` (4..=16) bytes of tag.
pub fn gcm_seal(
    key: &[u8],
    iv: &[u8],
    aad: &[u8],
    buf: &mut [u8],
    tag: &mut [u8],
) -> Result<(), SoftError> {
    if iv.len() != 12 || !(4..=16).contains(&tag.len()) {
        return Err(U);
    }
    with_aes!(key.len(), C, {
        let aead =
            aes_gcm::AesGcm::<C, aes_gcm::aead::consts::U12>::new_from_slice(key).map_err(|_| U)?;
        let full = aead
            .encrypt_in_place_detached(GenericArray::from_slice(iv), aad, buf)
            .map_err(|_| U)?;
        let n = tag.len();
        tag.copy_from_slice(&full[..n]);
        Ok(())
    })
}

/// AES-GCM open in place with a 12-byte IV and a tag of 4..=16 bytes. On a mismatch `buf` is left unchanged.
pub fn gcm_open(
    key: &[u8],
    iv: &[u8],
    aad: &[u8],
    buf: &mut [u8],
    tag: &[u8],
) -> Result<(), SoftError> {
    if iv.len() != 12 || !(4..=16).contains(&tag.len()) {
        return Err(U);
    }
    with_aes!(key.len(), C, {
        let aead =
            aes_gcm::AesGcm::<C, aes_gcm::aead::consts::U12>::new_from_slice(key).map_err(|_| U)?;
        // GCM's keystream for a 96-bit IV is AES-CTR from IV ‖ 00000002 (32-bit counter). Recover the plaintext,
        // recompute the full tag over it and compare the first tag.len() bytes: this checks every tag length the
        // hardware allows, not only the 12..=16 the aes-gcm crate's types cover.
        let mut plain = buf.to_vec();
        let mut ctr_iv = [0u8; 16];
        ctr_iv[..12].copy_from_slice(iv);
        ctr_iv[15] = 2;
        ctr::Ctr32BE::<C>::new_from_slices(key, &ctr_iv)
            .map_err(|_| U)?
            .apply_keystream(&mut plain);
        let mut check = plain.clone();
        let full = aead
            .encrypt_in_place_detached(GenericArray::from_slice(iv), aad, &mut check)
            .map_err(|_| U)?;
        if !bool::from(subtle::ConstantTimeEq::ct_eq(&full[..tag.len()], tag)) {
            return Err(SoftError::AuthFailed);
        }
        buf.copy_from_slice(&plain);
        Ok(())
    })
}

/// A one-shot hash.
pub fn hash(alg: DigestAlg, data: &[u8]) -> Result<Vec<u8>, SoftError> {
    Ok(match alg {
        DigestAlg::Sha224 => Sha224::digest(data).to_vec(),
        DigestAlg::Sha256 => Sha256::digest(data).to_vec(),
        DigestAlg::Sha384 => Sha384::digest(data).to_vec(),
        DigestAlg::Sha512 => Sha512::digest(data).to_vec(),
        DigestAlg::Sha1 => return Err(U),
    })
}

/// A one-shot HMAC (any key length).
pub fn hmac(alg: DigestAlg, key: &[u8], data: &[u8]) -> Result<Vec<u8>, SoftError> {
    macro_rules! mac {
        ($H:ty) => {{
            let mut m = <Hmac<$H> as Mac>::new_from_slice(key).map_err(|_| U)?;
            m.update(data);
            m.finalize().into_bytes().to_vec()
        }};
    }
    Ok(match alg {
        DigestAlg::Sha224 => mac!(Sha224),
        DigestAlg::Sha256 => mac!(Sha256),
        DigestAlg::Sha384 => mac!(Sha384),
        DigestAlg::Sha512 => mac!(Sha512),
        DigestAlg::Sha1 => return Err(U),
    })
}

/// Bytes of raw long-hash state (SHA-256: 32, SHA-512: 64; others are not supported here).
pub fn state_len(alg: DigestAlg) -> Result<usize, SoftError> {
    match alg {
        DigestAlg::Sha256 => Ok(32),
        DigestAlg::Sha512 => Ok(64),
        _ => Err(U),
    }
}

const SHA256_IV: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];
const SHA512_IV: [u64; 8] = [
    0x6a09e667f3bcc908,
    0xbb67ae8584caa73b,
    0x3c6ef372fe94f82b,
    0xa54ff53a5f1d36f1,
    0x510e527fade682d1,
    0x9b05688c2b3e6c1f,
    0x1f83d9abfb41bd6b,
    0x5be0cd19137e2179,
];

/// One part of a long hash: raw state in (`None` for the first part), raw state out — or, when `total_len` is
/// given (the last part), the digest after Merkle–Damgård padding with that total message length. States are
/// big-endian words. Parts other than the last must be a multiple of the block size.
pub fn long_hash(
    alg: DigestAlg,
    state: Option<&[u8]>,
    data: &[u8],
    total_len: Option<u64>,
) -> Result<Vec<u8>, SoftError> {
    let block = alg.block_len() as usize;
    let mut msg = data.to_vec();
    if let Some(total) = total_len {
        msg.push(0x80);
        let len_bytes = if block == 64 { 8 } else { 16 };
        while msg.len() % block != block - len_bytes {
            msg.push(0);
        }
        let bits = u128::from(total) * 8;
        msg.extend_from_slice(&bits.to_be_bytes()[16 - len_bytes..]);
    } else if !msg.len().is_multiple_of(block) {
        return Err(U);
    }
    if let Some(s) = state
        && s.len() != state_len(alg)?
    {
        return Err(U);
    }
    match alg {
        DigestAlg::Sha256 => {
            let mut st = match state {
                None => SHA256_IV,
                Some(s) => std::array::from_fn(|i| {
                    u32::from_be_bytes([s[4 * i], s[4 * i + 1], s[4 * i + 2], s[4 * i + 3]])
                }),
            };
            let blocks: Vec<_> = msg
                .chunks_exact(64)
                .map(|c| *GenericArray::from_slice(c))
                .collect();
            sha2::compress256(&mut st, &blocks);
            Ok(st.iter().flat_map(|w| w.to_be_bytes()).collect())
        }
        DigestAlg::Sha512 => {
            let mut st = match state {
                None => SHA512_IV,
                Some(s) => std::array::from_fn(|i| {
                    let mut w = [0u8; 8];
                    w.copy_from_slice(&s[8 * i..8 * i + 8]);
                    u64::from_be_bytes(w)
                }),
            };
            let blocks: Vec<_> = msg
                .chunks_exact(128)
                .map(|c| *GenericArray::from_slice(c))
                .collect();
            sha2::compress512(&mut st, &blocks);
            Ok(st.iter().flat_map(|w| w.to_be_bytes()).collect())
        }
        _ => Err(U),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_hash_equals_one_shot() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7) as u8).collect();
        for alg in [DigestAlg::Sha256, DigestAlg::Sha512] {
            let b = alg.block_len() as usize;
            let s1 = long_hash(alg, None, &data[..2 * b], None).unwrap();
            let s2 = long_hash(alg, Some(&s1), &data[2 * b..5 * b], None).unwrap();
            let d = long_hash(alg, Some(&s2), &data[5 * b..], Some(data.len() as u64)).unwrap();
            assert_eq!(d, hash(alg, &data).unwrap());
        }
    }

    #[test]
    fn gcm_short_tags_round_trip_and_reject() {
        let key = [1u8; 16];
        let iv = [2u8; 12];
        for tl in [4usize, 8, 12, 16] {
            let mut buf = b"attack at dawn!!!".to_vec();
            let mut tag = vec![0u8; tl];
            gcm_seal(&key, &iv, b"aad", &mut buf, &mut tag).unwrap();
            let sealed = buf.clone();
            gcm_open(&key, &iv, b"aad", &mut buf, &tag).unwrap();
            assert_eq!(buf, b"attack at dawn!!!");
            let mut bad = sealed.clone();
            tag[0] ^= 1;
            assert_eq!(
                gcm_open(&key, &iv, b"aad", &mut bad, &tag),
                Err(SoftError::AuthFailed)
            );
            assert_eq!(bad, sealed);
        }
    }
}
