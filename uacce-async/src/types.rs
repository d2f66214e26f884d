//! Algorithms and keys of the public API.

use std::sync::Arc;

use subtle::ConstantTimeEq;
use uacce_sys::qm::sec::{CipherAlg as HwAlg, CipherMode as HwMode, DigestAlg};
use uacce_sys::qm::zip::ZipAlg;
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// A compressed data format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Format {
    /// Raw deflate (RFC 1951).
    Deflate,
    /// zlib (RFC 1950): 2-byte header, deflate, Adler-32.
    Zlib,
    /// gzip (RFC 1952): 10-byte header (more with optional fields), deflate, CRC-32 and size.
    Gzip,
}

impl Format {
    pub(crate) fn zip_alg(self) -> ZipAlg {
        match self {
            Format::Deflate => ZipAlg::Deflate,
            Format::Zlib => ZipAlg::Zlib,
            Format::Gzip => ZipAlg::Gzip,
        }
    }

    /// The software codec's name for the format.
    pub(crate) fn wrapper(self) -> uacce_soft::zip::Wrapper {
        match self {
            Format::Deflate => uacce_soft::zip::Wrapper::Deflate,
            Format::Zlib => uacce_soft::zip::Wrapper::Zlib,
            Format::Gzip => uacce_soft::zip::Wrapper::Gzip,
        }
    }

    /// The `Content-Encoding` token (`deflate` is zlib-wrapped in HTTP).
    pub fn name(self) -> &'static str {
        match self {
            Format::Deflate => "deflate-raw",
            Format::Zlib => "zlib",
            Format::Gzip => "gzip",
        }
    }
}

/// A hash function. Every one runs on SEC devices of both QM versions (v2 and v3), as a plain hash and as an HMAC.
///
/// MD5 and SHA-1 are **legacy**: both are broken for collision resistance and are here for interoperability with
/// old protocols (their HMACs are still sound). Prefer SHA-256, SHA-512 or SM3 for anything new.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HashAlg {
    /// SHA-256 (FIPS 180-4).
    Sha256,
    /// SHA-512 (FIPS 180-4).
    Sha512,
    /// SM3 (GB/T 32905, ISO/IEC 10118-3).
    Sm3,
    /// SHA-224 (FIPS 180-4).
    Sha224,
    /// SHA-384 (FIPS 180-4).
    Sha384,
    /// SHA-512/224 (FIPS 180-4).
    Sha512_224,
    /// SHA-512/256 (FIPS 180-4).
    Sha512_256,
    /// SHA-1 (FIPS 180-4). **Legacy**: collisions are practical; only for interoperability.
    Sha1,
    /// MD5 (RFC 1321). **Legacy**: collisions are trivial; only for interoperability.
    Md5,
}

impl HashAlg {
    /// Every hash function, the legacy ones last.
    pub const ALL: [HashAlg; 9] = [
        HashAlg::Sha256,
        HashAlg::Sha512,
        HashAlg::Sm3,
        HashAlg::Sha224,
        HashAlg::Sha384,
        HashAlg::Sha512_224,
        HashAlg::Sha512_256,
        HashAlg::Sha1,
        HashAlg::Md5,
    ];

    pub(crate) fn digest_alg(self) -> DigestAlg {
        match self {
            HashAlg::Sha256 => DigestAlg::Sha256,
            HashAlg::Sha512 => DigestAlg::Sha512,
            HashAlg::Sm3 => DigestAlg::Sm3,
            HashAlg::Sha224 => DigestAlg::Sha224,
            HashAlg::Sha384 => DigestAlg::Sha384,
            HashAlg::Sha512_224 => DigestAlg::Sha512_224,
            HashAlg::Sha512_256 => DigestAlg::Sha512_256,
            HashAlg::Sha1 => DigestAlg::Sha1,
            HashAlg::Md5 => DigestAlg::Md5,
        }
    }

    /// Digest length in bytes.
    pub fn output_len(self) -> usize {
        self.digest_alg().digest_len() as usize
    }

    /// Block length in bytes.
    pub fn block_len(self) -> usize {
        self.digest_alg().block_len() as usize
    }
}

/// The block cipher of a [`CipherKey`] ([`crate::hazmat`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BlockCipher {
    /// AES (FIPS 197): 16-, 24- or 32-byte keys.
    Aes,
    /// SM4 (GB/T 32907, ISO/IEC 18033-3): 16-byte keys.
    Sm4,
}

impl BlockCipher {
    pub(crate) fn hw(self) -> HwAlg {
        match self {
            BlockCipher::Aes => HwAlg::Aes,
            BlockCipher::Sm4 => HwAlg::Sm4,
        }
    }
}

/// An unauthenticated block-cipher mode for [`UnauthenticatedCipher`](crate::hazmat::UnauthenticatedCipher) (see the
/// warning of [`crate::hazmat`]). Every mode works with AES and SM4 ([`BlockCipher`]).
///
/// Which devices do it: ECB, CBC and XTS run on SEC devices of both QM versions; CTR, OFB, CFB and CBC-CS1/2/3 only
/// on QM v3 (BD type 3). On a v2-only accelerator those run on the CPU under [`Backend::Auto`](crate::Backend) and
/// the emulator, and fail with [`Error::Unsupported`] under [`Backend::Hardware`](crate::Backend).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CipherMode {
    /// CBC, no padding: the length must be a nonzero multiple of 16.
    Cbc,
    /// CTR with a 128-bit big-endian counter: any length.
    Ctr,
    /// XTS with the IV as the tweak of one data unit: at least 16 bytes; the key is key1 ‖ key2.
    Xts,
    /// ECB: each 16-byte block alone; the length must be a nonzero multiple of 16 and the IV is ignored. Equal
    /// plaintext blocks give equal ciphertext blocks: only for building other constructions.
    Ecb,
    /// OFB (NIST SP 800-38A): any length. Never reuse an IV with the same key.
    Ofb,
    /// CFB with 128-bit segments (CFB-128, NIST SP 800-38A): any length.
    Cfb,
    /// CBC with ciphertext stealing, variant CS1 of NIST SP 800-38A Addendum: more than 16 bytes, any length
    /// beyond; the ciphertext is as long as the plaintext, with the partial last block's stolen ciphertext
    /// next-to-last. QM v3 devices only.
    CbcCs1,
    /// CBC-CS2: as CS1, but the last two blocks are swapped when the last is partial (a whole last block gives
    /// plain CBC). More than 16 bytes; QM v3 only.
    CbcCs2,
    /// CBC-CS3: the last two blocks always swapped (Kerberos' AES-CTS, RFC 3962). More than 16 bytes; QM v3 only.
    CbcCs3,
}

impl CipherMode {
    pub(crate) fn hw(self) -> HwMode {
        match self {
            CipherMode::Cbc => HwMode::Cbc,
            CipherMode::Ctr => HwMode::Ctr,
            CipherMode::Xts => HwMode::Xts,
            CipherMode::Ecb => HwMode::Ecb,
            CipherMode::Ofb => HwMode::Ofb,
            CipherMode::Cfb => HwMode::Cfb,
            CipherMode::CbcCs1 => HwMode::CbcCs1,
            CipherMode::CbcCs2 => HwMode::CbcCs2,
            CipherMode::CbcCs3 => HwMode::CbcCs3,
        }
    }

    /// True if SEC devices of QM v2 (BD type 2) do this mode: ECB, CBC, XTS.
    pub fn on_qm_v2(self) -> bool {
        self.hw().on_bd2()
    }

    fn name(self, alg: BlockCipher) -> &'static str {
        match (alg, self) {
            (BlockCipher::Aes, CipherMode::Cbc) => "AES-CBC",
            (BlockCipher::Aes, CipherMode::Ctr) => "AES-CTR",
            (BlockCipher::Aes, CipherMode::Xts) => "AES-XTS",
            (BlockCipher::Aes, CipherMode::Ecb) => "AES-ECB",
            (BlockCipher::Aes, CipherMode::Ofb) => "AES-OFB",
            (BlockCipher::Aes, CipherMode::Cfb) => "AES-CFB",
            (BlockCipher::Sm4, CipherMode::Cbc) => "SM4-CBC",
            (BlockCipher::Sm4, CipherMode::Ctr) => "SM4-CTR",
            (BlockCipher::Sm4, CipherMode::Xts) => "SM4-XTS",
            (BlockCipher::Sm4, CipherMode::Ecb) => "SM4-ECB",
            (BlockCipher::Sm4, CipherMode::Ofb) => "SM4-OFB",
            (BlockCipher::Sm4, CipherMode::Cfb) => "SM4-CFB",
            (BlockCipher::Aes, CipherMode::CbcCs1) => "AES-CBC-CS1",
            (BlockCipher::Aes, CipherMode::CbcCs2) => "AES-CBC-CS2",
            (BlockCipher::Aes, CipherMode::CbcCs3) => "AES-CBC-CS3",
            (BlockCipher::Sm4, CipherMode::CbcCs1) => "SM4-CBC-CS1",
            (BlockCipher::Sm4, CipherMode::CbcCs2) => "SM4-CBC-CS2",
            (BlockCipher::Sm4, CipherMode::CbcCs3) => "SM4-CBC-CS3",
        }
    }

    /// Check a data length for this mode.
    pub(crate) fn check_len(self, alg: BlockCipher, len: usize) -> Result<()> {
        let why = match self {
            CipherMode::Cbc | CipherMode::Ecb if len == 0 || !len.is_multiple_of(16) => {
                "must be a nonzero multiple of 16 (no padding)"
            }
            CipherMode::Xts if len < 16 => "must be at least 16 bytes",
            CipherMode::CbcCs1 | CipherMode::CbcCs2 | CipherMode::CbcCs3 if len <= 16 => {
                "must be more than 16 bytes (the SEC engine's limit; 16 bytes would be plain CBC)"
            }
            _ => return Ok(()),
        };
        Err(Error::InvalidLength {
            alg: self.name(alg),
            got: len,
            why,
        })
    }
}

/// Key bytes that are wiped when the last holder drops them. Device jobs hold a reference while in flight.
pub(crate) type KeyBytes = Arc<Zeroizing<Vec<u8>>>;

/// A block-cipher key for one [`CipherMode`]: AES ([`CipherKey::new`]: 16, 24 or 32 bytes, or for XTS 32 or 64
/// bytes, two AES-128 or AES-256 keys) or SM4 ([`CipherKey::sm4`]: 16 bytes, XTS 32). Zeroized on drop.
#[derive(Clone)]
pub struct CipherKey {
    pub(crate) bytes: KeyBytes,
    pub(crate) mode: CipherMode,
    pub(crate) alg: BlockCipher,
}

impl std::fmt::Debug for CipherKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CipherKey")
            .field("alg", &self.alg)
            .field("mode", &self.mode)
            .field("len", &self.bytes.len())
            .finish_non_exhaustive()
    }
}

impl CipherKey {
    /// A key for `mode`, checked for length.
    ///
    /// ```
    /// use uacce_async::Error;
    /// use uacce_async::hazmat::{CipherKey, CipherMode};
    /// let ctr = CipherKey::new(CipherMode::Ctr, &[1u8; 32])?; // AES-256-CTR
    /// assert_eq!(ctr.mode(), CipherMode::Ctr);
    /// // XTS takes two keys: 32 or 64 bytes.
    /// let xts: Vec<u8> = (0..64).collect(); // key1 ‖ key2, two different AES-256 keys
    /// assert!(CipherKey::new(CipherMode::Xts, &xts).is_ok());
    /// // Equal halves are refused (IEEE 1619, NIST SP 800-38E).
    /// assert!(CipherKey::new(CipherMode::Xts, &[1u8; 64]).is_err());
    /// let err = CipherKey::new(CipherMode::Cbc, &[1u8; 20]);
    /// assert!(matches!(err, Err(Error::InvalidKeyLength { got: 20, .. })));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn new(mode: CipherMode, key: &[u8]) -> Result<Self> {
        Self::with_cipher(BlockCipher::Aes, mode, key)
    }

    /// An SM4 key for `mode`: 16 bytes, or for XTS 32 (key1 ‖ key2, IEEE 1619 XTS with SM4 as the block cipher,
    /// not the GB/T 17964 variant).
    ///
    /// ```
    /// use uacce_async::hazmat::{BlockCipher, CipherKey, CipherMode};
    /// let k = CipherKey::sm4(CipherMode::Cbc, &[7u8; 16])?;
    /// assert_eq!(k.cipher(), BlockCipher::Sm4);
    /// assert!(CipherKey::sm4(CipherMode::Cbc, &[7u8; 32]).is_err()); // SM4 has 128-bit keys only
    /// # Ok::<(), uacce_async::Error>(())
    /// ```
    pub fn sm4(mode: CipherMode, key: &[u8]) -> Result<Self> {
        Self::with_cipher(BlockCipher::Sm4, mode, key)
    }

    /// A key of block cipher `alg` for `mode`, checked for length.
    pub fn with_cipher(alg: BlockCipher, mode: CipherMode, key: &[u8]) -> Result<Self> {
        let (ok, expected) = match (alg, mode) {
            (BlockCipher::Aes, CipherMode::Xts) => {
                (matches!(key.len(), 32 | 64), "32 or 64 bytes (key1 ‖ key2)")
            }
            (BlockCipher::Aes, _) => (matches!(key.len(), 16 | 24 | 32), "16, 24 or 32 bytes"),
            (BlockCipher::Sm4, CipherMode::Xts) => (key.len() == 32, "32 bytes (key1 ‖ key2)"),
            (BlockCipher::Sm4, _) => (key.len() == 16, "16 bytes"),
        };
        if !ok {
            return Err(Error::InvalidKeyLength {
                alg: mode.name(alg),
                got: key.len(),
                expected,
            });
        }
        // IEEE 1619 / NIST SP 800-38E: the data key and the tweak key must differ (equal halves make the tweak
        // predictable from the data's encryption). Compared in constant time.
        if mode == CipherMode::Xts {
            let (k1, k2) = key.split_at(key.len() / 2);
            if bool::from(k1.ct_eq(k2)) {
                return Err(Error::InvalidParameter(
                    "XTS key halves must differ (IEEE 1619, NIST SP 800-38E)",
                ));
            }
        }
        Ok(Self {
            bytes: Arc::new(Zeroizing::new(key.to_vec())),
            mode,
            alg,
        })
    }

    /// The block cipher of the key.
    pub fn cipher(&self) -> BlockCipher {
        self.alg
    }

    /// The mode the key was made for.
    pub fn mode(&self) -> CipherMode {
        self.mode
    }
}

/// An AES-GCM key: 16, 24 or 32 bytes. Zeroized on drop.
#[derive(Clone)]
pub struct AeadKey {
    pub(crate) bytes: KeyBytes,
}

impl std::fmt::Debug for AeadKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AeadKey")
            .field("len", &self.bytes.len())
            .finish_non_exhaustive()
    }
}

impl AeadKey {
    /// An AES-GCM key, checked for length.
    ///
    /// ```
    /// use uacce_async::{AeadKey, Error};
    /// let _aes256 = AeadKey::new(&[0x42; 32])?;
    /// let _aes128 = AeadKey::new(&[0x42; 16])?;
    /// assert!(matches!(AeadKey::new(&[0; 12]), Err(Error::InvalidKeyLength { got: 12, .. })));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn new(key: &[u8]) -> Result<Self> {
        if !matches!(key.len(), 16 | 24 | 32) {
            return Err(Error::InvalidKeyLength {
                alg: "AES-GCM",
                got: key.len(),
                expected: "16, 24 or 32 bytes",
            });
        }
        Ok(Self {
            bytes: Arc::new(Zeroizing::new(key.to_vec())),
        })
    }
}

/// An HMAC key for one hash function; any length (longer than the hash's block it is hashed first, as HMAC
/// specifies). Zeroized on drop.
#[derive(Clone)]
pub struct HmacKey {
    pub(crate) alg: HashAlg,
    /// The key as given (for the CPU path).
    pub(crate) raw: KeyBytes,
    /// The key as the device takes it: hashed if longer than a block, zero-padded to a nonzero multiple of 4 bytes
    /// (HMAC pads with zeros to the block size anyway, so the MAC is the same).
    pub(crate) device: KeyBytes,
}

impl std::fmt::Debug for HmacKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HmacKey")
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

impl HmacKey {
    /// An HMAC key for `alg`.
    ///
    /// ```
    /// use uacce_async::{HashAlg, HmacKey};
    /// let key = HmacKey::new(HashAlg::Sha256, b"any length will do");
    /// assert_eq!(key.alg(), HashAlg::Sha256);
    /// // Longer than the hash's block: hashed first, as HMAC specifies.
    /// let long = HmacKey::new(HashAlg::Sha512, &[7u8; 200]);
    /// assert_eq!(long.alg(), HashAlg::Sha512);
    /// ```
    pub fn new(alg: HashAlg, key: &[u8]) -> Self {
        // The device key (hashed when longer than a block, as HMAC specifies) in whole words, written into a buffer
        // of its final size: no reallocation leaves an unwiped copy behind, and the hash is wiped after use.
        let hashed = Zeroizing::new(if key.len() > alg.block_len() {
            uacce_soft::sec::hash(alg.digest_alg(), key).unwrap_or_default()
        } else {
            Vec::new()
        });
        let k: &[u8] = if hashed.is_empty() { key } else { &hashed };
        let mut dev = Zeroizing::new(vec![0u8; k.len().div_ceil(4).max(1) * 4]);
        dev[..k.len()].copy_from_slice(k);
        Self {
            alg,
            raw: Arc::new(Zeroizing::new(key.to_vec())),
            device: Arc::new(dev),
        }
    }

    /// The hash function.
    pub fn alg(&self) -> HashAlg {
        self.alg
    }
}
