//! The software SEC engines: AES and SM4 (ECB, CBC, CTR with a 128-bit counter, XTS, OFB, CFB-128), AES-GCM with
//! tags of 4..=16 bytes, SM3, MD5, SHA-1, SHA-2 (all seven), their HMACs and raw compression of each for long
//! hashes. The emulator's SEC engine runs these on the buffers an SQE names; `uacce-async`'s CPU backend runs the
//! same functions, so the two agree by construction.

use aes::cipher::block_padding::NoPadding;
use aes::cipher::{
    BlockDecryptMut, BlockEncryptMut, KeyInit, KeyIvInit, StreamCipher, generic_array::GenericArray,
};
use hmac::{Hmac, Mac};
use sha2::digest::DynDigest;
use sha2::{Sha224, Sha256, Sha384, Sha512, Sha512_224, Sha512_256};
use uacce_sys::qm::sec::{CipherAlg, CipherDir, CipherMode, DigestAlg};

use crate::cbc_cs::CsVariant;

/// Why a software operation did not run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SoftError {
    /// Key, IV or data length not valid for the algorithm, or an algorithm not implemented here.
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
                type $C = ::aes::Aes128;
                $body
            }
            24 => {
                type $C = ::aes::Aes192;
                $body
            }
            32 => {
                type $C = ::aes::Aes256;
                $body
            }
            _ => Err($crate::sec::SoftError::Unsupported),
        }
    };
}
pub(crate) use with_aes;

/// Run `$body` with `$C` bound to the block cipher `$alg` with a key of `$len` bytes (AES 16/24/32, SM4 16).
macro_rules! with_block_cipher {
    ($alg:expr, $len:expr, $C:ident, $body:block) => {
        match $alg {
            ::uacce_sys::qm::sec::CipherAlg::Aes => $crate::sec::with_aes!($len, $C, $body),
            ::uacce_sys::qm::sec::CipherAlg::Sm4 => match $len {
                16 => {
                    type $C = ::sm4::Sm4;
                    $body
                }
                _ => Err($crate::sec::SoftError::Unsupported),
            },
        }
    };
}
pub(crate) use with_block_cipher;

const U: SoftError = SoftError::Unsupported;

/// AES in place ([`cipher`] with [`CipherAlg::Aes`]).
pub fn aes(
    mode: CipherMode,
    dir: CipherDir,
    key: &[u8],
    iv: &[u8],
    buf: &mut [u8],
) -> Result<(), SoftError> {
    cipher(CipherAlg::Aes, mode, dir, key, iv, buf)
}

/// A 128-bit block cipher (AES or SM4) in place. `iv` is 16 bytes (ignored for ECB; the tweak for XTS, whose key
/// is key1 ‖ key2; the initial counter block for CTR, a 128-bit big-endian counter). ECB and CBC need a multiple
/// of 16 bytes, XTS at least 16, CBC-CS1/2/3 more than 16 ([`crate::cbc_cs`]); CTR, OFB and CFB (CFB-128) take
/// any length.
pub fn cipher(
    alg: CipherAlg,
    mode: CipherMode,
    dir: CipherDir,
    key: &[u8],
    iv: &[u8],
    buf: &mut [u8],
) -> Result<(), SoftError> {
    let enc = dir == CipherDir::Encrypt;
    match mode {
        CipherMode::Ecb => with_block_cipher!(alg, key.len(), C, {
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
        CipherMode::Cbc => with_block_cipher!(alg, key.len(), C, {
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
        CipherMode::Ctr => with_block_cipher!(alg, key.len(), C, {
            ctr::Ctr128BE::<C>::new_from_slices(key, iv)
                .map_err(|_| U)?
                .apply_keystream(buf);
            Ok(())
        }),
        CipherMode::Ofb => with_block_cipher!(alg, key.len(), C, {
            ofb::Ofb::<C>::new_from_slices(key, iv)
                .map_err(|_| U)?
                .apply_keystream(buf);
            Ok(())
        }),
        CipherMode::Cfb => with_block_cipher!(alg, key.len(), C, {
            if enc {
                cfb_mode::BufEncryptor::<C>::new_from_slices(key, iv)
                    .map_err(|_| U)?
                    .encrypt(buf);
            } else {
                cfb_mode::BufDecryptor::<C>::new_from_slices(key, iv)
                    .map_err(|_| U)?
                    .decrypt(buf);
            }
            Ok(())
        }),
        CipherMode::CbcCs1 => crate::cbc_cs::cbc_cs(alg, CsVariant::Cs1, dir, key, iv, buf),
        CipherMode::CbcCs2 => crate::cbc_cs::cbc_cs(alg, CsVariant::Cs2, dir, key, iv, buf),
        CipherMode::CbcCs3 => crate::cbc_cs::cbc_cs(alg, CsVariant::Cs3, dir, key, iv, buf),
        CipherMode::Xts => {
            let (k1, k2) = key.split_at(key.len() / 2);
            let tweak: [u8; 16] = iv.try_into().map_err(|_| U)?;
            if buf.len() < 16 {
                return Err(U);
            }
            with_block_cipher!(alg, k1.len(), C, {
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

/// AES-GCM seal in place with a 12-byte IV; writes `tag.len()` (4..=16) bytes of tag. The AES case of
/// [`crate::aead_mac::gcm_seal`].
pub fn gcm_seal(
    key: &[u8],
    iv: &[u8],
    aad: &[u8],
    buf: &mut [u8],
    tag: &mut [u8],
) -> Result<(), SoftError> {
    crate::aead_mac::gcm_seal(CipherAlg::Aes, key, iv, aad, buf, tag)
}

/// AES-GCM open in place with a 12-byte IV and a tag of 4..=16 bytes. On a mismatch `buf` is left unchanged. The
/// AES case of [`crate::aead_mac::gcm_open`].
pub fn gcm_open(
    key: &[u8],
    iv: &[u8],
    aad: &[u8],
    buf: &mut [u8],
    tag: &[u8],
) -> Result<(), SoftError> {
    crate::aead_mac::gcm_open(CipherAlg::Aes, key, iv, aad, buf, tag)
}

/// A one-shot hash.
pub fn hash(alg: DigestAlg, data: &[u8]) -> Result<Vec<u8>, SoftError> {
    let mut h = SoftHasher::new(alg);
    h.update(data);
    Ok(h.finalize())
}

/// A one-shot HMAC (any key length).
pub fn hmac(alg: DigestAlg, key: &[u8], data: &[u8]) -> Result<Vec<u8>, SoftError> {
    macro_rules! mac {
        ($H:ty) => {{
            let mut m = <Hmac<$H> as Mac>::new_from_slice(key).map_err(|_| U)?;
            Mac::update(&mut m, data);
            m.finalize().into_bytes().to_vec()
        }};
    }
    Ok(match alg {
        DigestAlg::Sm3 => mac!(sm3::Sm3),
        DigestAlg::Md5 => mac!(md5::Md5),
        DigestAlg::Sha1 => mac!(sha1::Sha1),
        DigestAlg::Sha224 => mac!(Sha224),
        DigestAlg::Sha256 => mac!(Sha256),
        DigestAlg::Sha384 => mac!(Sha384),
        DigestAlg::Sha512 => mac!(Sha512),
        DigestAlg::Sha512_224 => mac!(Sha512_224),
        DigestAlg::Sha512_256 => mac!(Sha512_256),
    })
}

/// An incremental hash or HMAC on the CPU (the CPU backend's `Hasher`): any of the SEC hash functions.
pub struct SoftHasher {
    inner: Box<dyn DynDigest + Send + Sync>,
    /// HMAC: the hash function and the key block XOR opad, for the outer hash.
    outer: Option<(DigestAlg, zeroize::Zeroizing<Vec<u8>>)>,
}

impl std::fmt::Debug for SoftHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SoftHasher")
            .field("hmac", &self.outer.is_some())
            .finish_non_exhaustive()
    }
}

fn boxed(alg: DigestAlg) -> Box<dyn DynDigest + Send + Sync> {
    match alg {
        DigestAlg::Sm3 => Box::new(sm3::Sm3::default()),
        DigestAlg::Md5 => Box::new(md5::Md5::default()),
        DigestAlg::Sha1 => Box::new(sha1::Sha1::default()),
        DigestAlg::Sha224 => Box::new(Sha224::default()),
        DigestAlg::Sha256 => Box::new(Sha256::default()),
        DigestAlg::Sha384 => Box::new(Sha384::default()),
        DigestAlg::Sha512 => Box::new(Sha512::default()),
        DigestAlg::Sha512_224 => Box::new(Sha512_224::default()),
        DigestAlg::Sha512_256 => Box::new(Sha512_256::default()),
    }
}

/// The HMAC key block (RFC 2104): the key, hashed first if longer than a block, zero-padded to the block size.
fn key_block(alg: DigestAlg, key: &[u8]) -> zeroize::Zeroizing<Vec<u8>> {
    let b = alg.block_len() as usize;
    let mut k = zeroize::Zeroizing::new(vec![0u8; b]);
    if key.len() > b {
        let mut h = boxed(alg);
        h.update(key);
        let d = zeroize::Zeroizing::new(h.finalize().into_vec());
        k[..d.len()].copy_from_slice(&d);
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    k
}

fn xor_pad(block: &[u8], pad: u8) -> zeroize::Zeroizing<Vec<u8>> {
    zeroize::Zeroizing::new(block.iter().map(|b| b ^ pad).collect())
}

impl SoftHasher {
    /// A fresh hash state for `alg`.
    pub fn new(alg: DigestAlg) -> Self {
        SoftHasher {
            inner: boxed(alg),
            outer: None,
        }
    }

    /// A fresh HMAC state for `alg` with `key` (any length).
    pub fn new_hmac(alg: DigestAlg, key: &[u8]) -> Self {
        let k = key_block(alg, key);
        let mut inner = boxed(alg);
        inner.update(&xor_pad(&k, 0x36));
        SoftHasher {
            inner,
            outer: Some((alg, xor_pad(&k, 0x5c))),
        }
    }

    /// Feed data.
    pub fn update(&mut self, data: &[u8]) {
        self.inner.update(data);
    }

    /// The digest (or HMAC) of everything fed.
    pub fn finalize(self) -> Vec<u8> {
        let d = self.inner.finalize().into_vec();
        match self.outer {
            None => d,
            Some((alg, opad)) => {
                let mut o = boxed(alg);
                o.update(&opad);
                o.update(&d);
                o.finalize().into_vec()
            }
        }
    }
}

/// One part of an HMAC long hash (what the SEC engine does with HMAC first/middle/last BDs): the first part starts
/// from the key block XOR ipad; middle parts continue the raw inner state; the last part (`total_len` = message
/// bytes over all parts, without the key block) finishes the inner hash and computes the outer one with
/// `key` (at most one block: the device key, already hashed if it was longer). States as [`long_hash`].
pub fn hmac_long_hash(
    alg: DigestAlg,
    key: &[u8],
    state: Option<&[u8]>,
    data: &[u8],
    total_len: Option<u64>,
) -> Result<Vec<u8>, SoftError> {
    let b = alg.block_len() as usize;
    if key.len() > b {
        return Err(U);
    }
    let k = key_block(alg, key);
    let st = match state {
        Some(s) => s.to_vec(),
        None => long_hash(alg, None, &xor_pad(&k, 0x36), None)?,
    };
    match total_len {
        None => long_hash(alg, Some(&st), data, None),
        Some(total) => {
            let inner = long_hash(alg, Some(&st), data, Some(total + b as u64))?;
            let mut o = boxed(alg);
            o.update(&xor_pad(&k, 0x5c));
            o.update(&inner);
            Ok(o.finalize().into_vec())
        }
    }
}

/// Bytes of raw long-hash state: the whole chaining value (MD5 16, SHA-1 20, SHA-224/256 and SM3 32, SHA-384 and
/// the SHA-512 family 64), even where the digest is a truncation of it.
pub fn state_len(alg: DigestAlg) -> Result<usize, SoftError> {
    Ok(match alg {
        DigestAlg::Md5 => 16,
        DigestAlg::Sha1 => 20,
        DigestAlg::Sm3 | DigestAlg::Sha224 | DigestAlg::Sha256 => 32,
        DigestAlg::Sha384 | DigestAlg::Sha512 | DigestAlg::Sha512_224 | DigestAlg::Sha512_256 => 64,
    })
}

// Initial hash values: FIPS 180-4 §5.3 (SHA-1, SHA-2), RFC 1321 §3.3 (MD5), GB/T 32905 §4.1 (SM3).
const SHA1_IV: [u32; 5] = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0];
const MD5_IV: [u32; 4] = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476];
const SM3_IV: [u32; 8] = [
    0x7380166f, 0x4914b2b9, 0x172442d7, 0xda8a0600, 0xa96f30bc, 0x163138aa, 0xe38dee4d, 0xb0fb0e4e,
];
const SHA224_IV: [u32; 8] = [
    0xc1059ed8, 0x367cd507, 0x3070dd17, 0xf70e5939, 0xffc00b31, 0x68581511, 0x64f98fa7, 0xbefa4fa4,
];
const SHA256_IV: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];
const SHA384_IV: [u64; 8] = [
    0xcbbb9d5dc1059ed8,
    0x629a292a367cd507,
    0x9159015a3070dd17,
    0x152fecd8f70e5939,
    0x67332667ffc00b31,
    0x8eb44a8768581511,
    0xdb0c2e0d64f98fa7,
    0x47b5481dbefa4fa4,
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
const SHA512_224_IV: [u64; 8] = [
    0x8c3d37c819544da2,
    0x73e1996689dcd4d6,
    0x1dfab7ae32ff9c82,
    0x679dd514582f9fcf,
    0x0f6d2b697bd44da8,
    0x77e36f7304c48942,
    0x3f9d85a86a1d36c8,
    0x1112e6ad91d692a1,
];
const SHA512_256_IV: [u64; 8] = [
    0x22312194fc2bf72c,
    0x9f555fa3c84c64c2,
    0x2393b86b6f53b151,
    0x963877195940eabd,
    0x96283ee2a88effe3,
    0xbe5e1e2553863992,
    0x2b0199fc2c85b8aa,
    0x0eb72ddc81c52ca2,
];

fn words32<const N: usize>(s: Option<&[u8]>, iv: [u32; N], be: bool) -> [u32; N] {
    match s {
        None => iv,
        Some(s) => std::array::from_fn(|i| {
            let w = [s[4 * i], s[4 * i + 1], s[4 * i + 2], s[4 * i + 3]];
            if be {
                u32::from_be_bytes(w)
            } else {
                u32::from_le_bytes(w)
            }
        }),
    }
}

fn words64(s: Option<&[u8]>, iv: [u64; 8]) -> [u64; 8] {
    match s {
        None => iv,
        Some(s) => std::array::from_fn(|i| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&s[8 * i..8 * i + 8]);
            u64::from_be_bytes(w)
        }),
    }
}

/// One part of a long hash: raw state in (`None` for the first part), raw state out — or, when `total_len` is
/// given (the last part), the digest after Merkle–Damgård padding with that total message length. States are the
/// whole chaining value ([`state_len`]) in the hash's own word order (big-endian words; MD5 little-endian). Parts
/// other than the last must be a multiple of the block size.
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
        if alg == DigestAlg::Md5 {
            msg.extend_from_slice(&(bits as u64).to_le_bytes());
        } else {
            msg.extend_from_slice(&bits.to_be_bytes()[16 - len_bytes..]);
        }
    } else if !msg.len().is_multiple_of(block) {
        return Err(U);
    }
    if let Some(s) = state
        && s.len() != state_len(alg)?
    {
        return Err(U);
    }
    let mut out: Vec<u8> = match alg {
        DigestAlg::Sha224 | DigestAlg::Sha256 => {
            let iv = if alg == DigestAlg::Sha224 {
                SHA224_IV
            } else {
                SHA256_IV
            };
            let mut st = words32(state, iv, true);
            let blocks: Vec<_> = msg
                .chunks_exact(64)
                .map(|c| *GenericArray::from_slice(c))
                .collect();
            sha2::compress256(&mut st, &blocks);
            st.iter().flat_map(|w| w.to_be_bytes()).collect()
        }
        DigestAlg::Sha384 | DigestAlg::Sha512 | DigestAlg::Sha512_224 | DigestAlg::Sha512_256 => {
            let iv = match alg {
                DigestAlg::Sha384 => SHA384_IV,
                DigestAlg::Sha512_224 => SHA512_224_IV,
                DigestAlg::Sha512_256 => SHA512_256_IV,
                _ => SHA512_IV,
            };
            let mut st = words64(state, iv);
            let blocks: Vec<_> = msg
                .chunks_exact(128)
                .map(|c| *GenericArray::from_slice(c))
                .collect();
            sha2::compress512(&mut st, &blocks);
            st.iter().flat_map(|w| w.to_be_bytes()).collect()
        }
        DigestAlg::Sha1 => {
            let mut st = words32(state, SHA1_IV, true);
            let blocks: Vec<_> = msg
                .chunks_exact(64)
                .map(|c| *GenericArray::from_slice(c))
                .collect();
            sha1::compress(&mut st, &blocks);
            st.iter().flat_map(|w| w.to_be_bytes()).collect()
        }
        DigestAlg::Md5 => {
            let mut st = words32(state, MD5_IV, false);
            for b in msg.chunks_exact(64) {
                md5_compress(&mut st, b);
            }
            st.iter().flat_map(|w| w.to_le_bytes()).collect()
        }
        DigestAlg::Sm3 => {
            let mut st = words32(state, SM3_IV, true);
            for b in msg.chunks_exact(64) {
                sm3_compress(&mut st, b);
            }
            st.iter().flat_map(|w| w.to_be_bytes()).collect()
        }
    };
    if total_len.is_some() {
        out.truncate(alg.digest_len() as usize);
    }
    Ok(out)
}

// The md-5 and sm3 crates keep their compression functions private, and a long hash needs the raw chaining value
// between parts, so these two are written here from their specifications; the tests check them against the crates'
// one-shot digests and the published vectors.

/// MD5 compression of one 64-byte block (RFC 1321 §3.4).
fn md5_compress(st: &mut [u32; 4], block: &[u8]) {
    const S: [[u32; 4]; 4] = [
        [7, 12, 17, 22],
        [5, 9, 14, 20],
        [4, 11, 16, 23],
        [6, 10, 15, 21],
    ];
    let x: [u32; 16] = std::array::from_fn(|i| {
        u32::from_le_bytes([
            block[4 * i],
            block[4 * i + 1],
            block[4 * i + 2],
            block[4 * i + 3],
        ])
    });
    let [mut a, mut b, mut c, mut d] = *st;
    for i in 0..64 {
        let (f, g) = match i / 16 {
            0 => ((b & c) | (!b & d), i),
            1 => ((d & b) | (!d & c), (5 * i + 1) % 16),
            2 => (b ^ c ^ d, (3 * i + 5) % 16),
            _ => (c ^ (b | !d), (7 * i) % 16),
        };
        // T[i] = floor(2^32 · |sin(i + 1)|) (RFC 1321 §3.4).
        let t = ((i as f64 + 1.0).sin().abs() * 4294967296.0) as u32;
        let rot = a
            .wrapping_add(f)
            .wrapping_add(t)
            .wrapping_add(x[g])
            .rotate_left(S[i / 16][i % 4]);
        (a, d, c) = (d, c, b);
        b = b.wrapping_add(rot);
    }
    for (s, v) in st.iter_mut().zip([a, b, c, d]) {
        *s = s.wrapping_add(v);
    }
}

/// SM3 compression of one 64-byte block (GB/T 32905-2016 §5.3).
fn sm3_compress(v: &mut [u32; 8], block: &[u8]) {
    let p0 = |x: u32| x ^ x.rotate_left(9) ^ x.rotate_left(17);
    let p1 = |x: u32| x ^ x.rotate_left(15) ^ x.rotate_left(23);
    let mut w = [0u32; 68];
    for (j, c) in block.chunks_exact(4).enumerate() {
        w[j] = u32::from_be_bytes([c[0], c[1], c[2], c[3]]);
    }
    for j in 16..68 {
        w[j] = p1(w[j - 16] ^ w[j - 9] ^ w[j - 3].rotate_left(15))
            ^ w[j - 13].rotate_left(7)
            ^ w[j - 6];
    }
    let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut h] = *v;
    for j in 0..64 {
        let t: u32 = if j < 16 { 0x79cc4519 } else { 0x7a879d8a };
        let a12 = a.rotate_left(12);
        let ss1 = a12
            .wrapping_add(e)
            .wrapping_add(t.rotate_left((j % 32) as u32))
            .rotate_left(7);
        let ss2 = ss1 ^ a12;
        let (ff, gg) = if j < 16 {
            (a ^ b ^ c, e ^ f ^ g)
        } else {
            ((a & b) | (a & c) | (b & c), (e & f) | (!e & g))
        };
        let tt1 = ff
            .wrapping_add(d)
            .wrapping_add(ss2)
            .wrapping_add(w[j] ^ w[j + 4]);
        let tt2 = gg.wrapping_add(h).wrapping_add(ss1).wrapping_add(w[j]);
        d = c;
        c = b.rotate_left(9);
        b = a;
        a = tt1;
        h = g;
        g = f.rotate_left(19);
        f = e;
        e = p0(tt2);
    }
    for (s, x) in v.iter_mut().zip([a, b, c, d, e, f, g, h]) {
        *s ^= x;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_hash_equals_one_shot() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7) as u8).collect();
        for alg in DigestAlg::ALL {
            let b = alg.block_len() as usize;
            let s1 = long_hash(alg, None, &data[..2 * b], None).unwrap();
            let s2 = long_hash(alg, Some(&s1), &data[2 * b..5 * b], None).unwrap();
            let d = long_hash(alg, Some(&s2), &data[5 * b..], Some(data.len() as u64)).unwrap();
            assert_eq!(d, hash(alg, &data).unwrap());
        }
    }

    #[test]
    fn hmac_long_hash_and_incremental_equal_one_shot() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 13) as u8).collect();
        for alg in DigestAlg::ALL {
            let b = alg.block_len() as usize;
            for key in [vec![], vec![9u8; 5], vec![7u8; b]] {
                let want = hmac(alg, &key, &data).unwrap();
                let s1 = hmac_long_hash(alg, &key, None, &data[..b], None).unwrap();
                let s2 = hmac_long_hash(alg, &key, Some(&s1), &data[b..3 * b], None).unwrap();
                let tail = &data[3 * b..];
                let got = hmac_long_hash(alg, &key, Some(&s2), tail, Some(data.len() as u64));
                assert_eq!(got.unwrap(), want, "{alg:?} key {}", key.len());
                let mut h = SoftHasher::new_hmac(alg, &key);
                h.update(&data[..10]);
                h.update(&data[10..]);
                assert_eq!(h.finalize(), want);
            }
            // A key longer than a block, hashed first.
            let long = vec![3u8; b + 1];
            let mut h = SoftHasher::new_hmac(alg, &long);
            h.update(&data);
            assert_eq!(h.finalize(), hmac(alg, &long, &data).unwrap());
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
