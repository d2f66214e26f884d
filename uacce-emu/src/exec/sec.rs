//! The SEC engine: AES (ECB, CBC, CTR, XTS), AES-GCM, SHA-2 and HMAC, on the buffers a BD names.
//!
//! Conventions (where the protocol document leaves the hardware's behaviour open, §10):
//! * AES-GCM: the ciphertext/plaintext goes to `dst + cipher_src_offset` (= `dst + aad_len`); the AAD region of
//!   `dst` is not written. On seal the tag goes to `mac_addr`; on open the tag at `mac_addr` is checked first and on
//!   a mismatch nothing is written and the BD reports icv = 2.
//! * Long hash (SHA-256 and SHA-512): first and middle parts leave the raw compression state, big-endian words, in
//!   `mac_addr`; the last part starts from it and pads with the total length.
//! * Error types of the emulator (none is documented for hardware): [`ERROR_ACCESS_FAULT`], [`ERROR_UNSUPPORTED`],
//!   [`ERROR_INJECTED`]; a BD that does not decode gets `qm::sec::ERROR_TYPE_INVALID_BD`.

use aes::cipher::block_padding::NoPadding;
use aes::cipher::{
    BlockDecryptMut, BlockEncryptMut, KeyInit, KeyIvInit, StreamCipher, generic_array::GenericArray,
};
use aes::{Aes128, Aes192, Aes256};
use aes_gcm::aead::AeadInPlace;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha224, Sha256, Sha384, Sha512};
use uacce_sys::qm::sec::{
    self, CipherAlg, CipherDir, CipherMode, CipherRequest, DigestAlg, DigestRequest, DigestStage,
    GcmRequest, SecOp, SecResult,
};
use uacce_sys::qm::{QmVersion, Sqe};

use super::Outcome;
use crate::mem::{AccessFault, ProcMem};

/// error_type for a buffer the device cannot access.
pub const ERROR_ACCESS_FAULT: u8 = 0x02;
/// error_type for a valid BD the emulator does not implement (SM4, SHA-1, HMAC long hash, …).
pub const ERROR_UNSUPPORTED: u8 = 0x03;
/// error_type written for an injected error (`Fault::ErrorStatus`).
pub const ERROR_INJECTED: u8 = 0x01;

enum Fail {
    Access,
    Unsupported,
    MacMismatch,
}

impl From<AccessFault> for Fail {
    fn from(_: AccessFault) -> Self {
        Fail::Access
    }
}

fn error(error_type: u8) -> SecResult {
    SecResult {
        done: true,
        icv: 0,
        flag: 0,
        error_type,
    }
}

pub(crate) fn execute(_version: QmVersion, sqe: &mut Sqe, mem: &ProcMem) -> Outcome {
    let view = match sec::decode(sqe) {
        Ok(v) => v,
        Err(e) => {
            sec::write_result(sqe, &e.result());
            return Outcome {
                ok: false,
                bytes: 0,
            };
        }
    };
    let (r, bytes) = match view.op {
        SecOp::Cipher(c) => (cipher(&c, mem), c.len),
        SecOp::Aead(g) => (gcm(&g, mem), g.aad_len + g.payload_len),
        SecOp::Digest(d) => (digest(&d, mem), d.len),
    };
    let res = match r {
        Ok(()) => SecResult::success(view.op.kind()),
        Err(Fail::Access) => error(ERROR_ACCESS_FAULT),
        Err(Fail::Unsupported) => error(ERROR_UNSUPPORTED),
        Err(Fail::MacMismatch) => SecResult::mac_mismatch(),
    };
    sec::write_result(sqe, &res);
    Outcome {
        ok: res.error_type == 0 && res.icv == 0,
        bytes: u64::from(bytes),
    }
}

/// Write an injected error result.
pub(crate) fn inject_error(sqe: &mut Sqe) {
    sec::write_result(sqe, &error(ERROR_INJECTED));
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
            _ => Err(Fail::Unsupported),
        }
    };
}

fn cipher(c: &CipherRequest, mem: &ProcMem) -> Result<(), Fail> {
    if c.alg != CipherAlg::Aes {
        return Err(Fail::Unsupported);
    }
    let key = mem.read(c.key_addr, c.key_len as usize)?;
    let mut buf = mem.read(c.src_addr, c.len as usize)?;
    let iv = match c.mode {
        CipherMode::Ecb => Vec::new(),
        _ => mem.read(c.iv_addr, 16)?,
    };
    let enc = c.dir == CipherDir::Encrypt;
    match c.mode {
        CipherMode::Ecb => with_aes!(key.len(), C, {
            let mut cipher = C::new_from_slice(&key).map_err(|_| Fail::Unsupported)?;
            for block in buf.chunks_exact_mut(16) {
                let b = GenericArray::from_mut_slice(block);
                if enc {
                    cipher.encrypt_block_mut(b)
                } else {
                    cipher.decrypt_block_mut(b)
                }
            }
            Ok(())
        })?,
        CipherMode::Cbc => with_aes!(key.len(), C, {
            let len = buf.len();
            if enc {
                cbc::Encryptor::<C>::new_from_slices(&key, &iv)
                    .map_err(|_| Fail::Unsupported)?
                    .encrypt_padded_mut::<NoPadding>(&mut buf, len)
                    .map_err(|_| Fail::Unsupported)?;
            } else {
                cbc::Decryptor::<C>::new_from_slices(&key, &iv)
                    .map_err(|_| Fail::Unsupported)?
                    .decrypt_padded_mut::<NoPadding>(&mut buf)
                    .map_err(|_| Fail::Unsupported)?;
            }
            Ok(())
        })?,
        CipherMode::Ctr => with_aes!(key.len(), C, {
            ctr::Ctr128BE::<C>::new_from_slices(&key, &iv)
                .map_err(|_| Fail::Unsupported)?
                .apply_keystream(&mut buf);
            Ok(())
        })?,
        CipherMode::Xts => {
            let (k1, k2) = key.split_at(key.len() / 2);
            let tweak: [u8; 16] = iv.as_slice().try_into().map_err(|_| Fail::Unsupported)?;
            with_aes!(k1.len(), C, {
                let xts = xts_mode::Xts128::<C>::new(
                    C::new_from_slice(k1).map_err(|_| Fail::Unsupported)?,
                    C::new_from_slice(k2).map_err(|_| Fail::Unsupported)?,
                );
                if enc {
                    xts.encrypt_sector(&mut buf, tweak)
                } else {
                    xts.decrypt_sector(&mut buf, tweak)
                }
                Ok(())
            })?
        }
    }
    mem.write(c.dst_addr, &buf)?;
    Ok(())
}

fn gcm(g: &GcmRequest, mem: &ProcMem) -> Result<(), Fail> {
    let key = mem.read(g.key_addr, g.key_len as usize)?;
    let iv = mem.read(g.iv_addr, 12)?;
    let src = mem.read(g.src_addr, (g.aad_len + g.payload_len) as usize)?;
    let (aad, payload) = src.split_at(g.aad_len as usize);
    let tag_len = usize::from(g.tag_len);
    let out_addr = g.dst_addr + u64::from(g.aad_len);
    with_aes!(key.len(), C, {
        let aead = aes_gcm::AesGcm::<C, aes_gcm::aead::consts::U12>::new_from_slice(&key)
            .map_err(|_| Fail::Unsupported)?;
        let nonce = GenericArray::from_slice(&iv);
        match g.dir {
            CipherDir::Encrypt => {
                let mut buf = payload.to_vec();
                let tag = aead
                    .encrypt_in_place_detached(nonce, aad, &mut buf)
                    .map_err(|_| Fail::Unsupported)?;
                mem.write(out_addr, &buf)?;
                mem.write(g.mac_addr, &tag[..tag_len])?;
            }
            CipherDir::Decrypt => {
                let expected = mem.read(g.mac_addr, tag_len)?;
                // GCM's keystream for a 96-bit IV is AES-CTR from IV ‖ 00000002 (32-bit counter). Recover the
                // plaintext with it, recompute the full tag over it and compare the first tag_len bytes: this
                // checks tags of every length 4..=16 the hardware allows.
                let mut plain = payload.to_vec();
                let mut ctr_iv = [0u8; 16];
                ctr_iv[..12].copy_from_slice(&iv);
                ctr_iv[15] = 2;
                ctr::Ctr32BE::<C>::new_from_slices(&key, &ctr_iv)
                    .map_err(|_| Fail::Unsupported)?
                    .apply_keystream(&mut plain);
                let mut check = plain.clone();
                let tag = aead
                    .encrypt_in_place_detached(nonce, aad, &mut check)
                    .map_err(|_| Fail::Unsupported)?;
                let diff = tag[..tag_len]
                    .iter()
                    .zip(&expected)
                    .fold(0u8, |acc, (a, b)| acc | (a ^ b));
                if diff != 0 {
                    return Err(Fail::MacMismatch);
                }
                mem.write(out_addr, &plain)?;
            }
        }
        Ok(())
    })
}

fn digest(d: &DigestRequest, mem: &ProcMem) -> Result<(), Fail> {
    let data = mem.read(d.src_addr, d.len as usize)?;
    let out = match (d.hmac_key, d.stage) {
        (Some(k), DigestStage::OneShot) => {
            let key = mem.read(k.addr, k.len as usize)?;
            hmac_oneshot(d.alg, &key, &data)?
        }
        (Some(_), _) => return Err(Fail::Unsupported),
        (None, DigestStage::OneShot) => hash_oneshot(d.alg, &data)?,
        (None, stage) => {
            let state = match stage {
                DigestStage::First => None,
                _ => Some(mem.read(d.mac_addr, state_len(d.alg)?)?),
            };
            long_hash(d.alg, state.as_deref(), &data, stage)?
        }
    };
    let n = match d.stage {
        DigestStage::First | DigestStage::Middle => out.len(),
        _ => (d.mac_len as usize).min(out.len()),
    };
    mem.write(d.mac_addr, &out[..n])?;
    Ok(())
}

fn hash_oneshot(alg: DigestAlg, data: &[u8]) -> Result<Vec<u8>, Fail> {
    Ok(match alg {
        DigestAlg::Sha224 => Sha224::digest(data).to_vec(),
        DigestAlg::Sha256 => Sha256::digest(data).to_vec(),
        DigestAlg::Sha384 => Sha384::digest(data).to_vec(),
        DigestAlg::Sha512 => Sha512::digest(data).to_vec(),
        DigestAlg::Sha1 => return Err(Fail::Unsupported),
    })
}

fn hmac_oneshot(alg: DigestAlg, key: &[u8], data: &[u8]) -> Result<Vec<u8>, Fail> {
    macro_rules! mac {
        ($H:ty) => {{
            let mut m = <Hmac<$H> as Mac>::new_from_slice(key).map_err(|_| Fail::Unsupported)?;
            m.update(data);
            m.finalize().into_bytes().to_vec()
        }};
    }
    Ok(match alg {
        DigestAlg::Sha224 => mac!(Sha224),
        DigestAlg::Sha256 => mac!(Sha256),
        DigestAlg::Sha384 => mac!(Sha384),
        DigestAlg::Sha512 => mac!(Sha512),
        DigestAlg::Sha1 => return Err(Fail::Unsupported),
    })
}

fn state_len(alg: DigestAlg) -> Result<usize, Fail> {
    match alg {
        DigestAlg::Sha256 => Ok(32),
        DigestAlg::Sha512 => Ok(64),
        _ => Err(Fail::Unsupported),
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

/// One part of a long hash: raw state in, raw state (first/middle) or digest (last) out, big-endian words.
fn long_hash(
    alg: DigestAlg,
    state: Option<&[u8]>,
    data: &[u8],
    stage: DigestStage,
) -> Result<Vec<u8>, Fail> {
    let block = alg.block_len() as usize;
    let mut msg = data.to_vec();
    if let DigestStage::Last { total_len } = stage {
        // Merkle–Damgård padding with the total message length in bits.
        msg.push(0x80);
        let len_bytes = if block == 64 { 8 } else { 16 };
        while msg.len() % block != block - len_bytes {
            msg.push(0);
        }
        let bits = u128::from(total_len) * 8;
        msg.extend_from_slice(&bits.to_be_bytes()[16 - len_bytes..]);
    } else if msg.len() % block != 0 {
        return Err(Fail::Unsupported);
    }
    match alg {
        DigestAlg::Sha256 => {
            let mut st = match state {
                None => SHA256_IV,
                Some(s) => std::array::from_fn(|i| {
                    u32::from_be_bytes(s[4 * i..4 * i + 4].try_into().unwrap())
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
                    u64::from_be_bytes(s[8 * i..8 * i + 8].try_into().unwrap())
                }),
            };
            let blocks: Vec<_> = msg
                .chunks_exact(128)
                .map(|c| *GenericArray::from_slice(c))
                .collect();
            sha2::compress512(&mut st, &blocks);
            Ok(st.iter().flat_map(|w| w.to_be_bytes()).collect())
        }
        _ => Err(Fail::Unsupported),
    }
}
