//! Algorithms and keys of the public API.

use std::sync::Arc;

use subtle::ConstantTimeEq;
use uacce_sys::qm::sec::{CipherMode as HwMode, DigestAlg};
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

/// A hash function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HashAlg {
    /// SHA-256.
    Sha256,
    /// SHA-512.
    Sha512,
}

impl HashAlg {
    pub(crate) fn digest_alg(self) -> DigestAlg {
        match self {
            HashAlg::Sha256 => DigestAlg::Sha256,
            HashAlg::Sha512 => DigestAlg::Sha512,
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

/// An unauthenticated block-cipher mode for [`UnauthenticatedCipher`](crate::hazmat::UnauthenticatedCipher) (see the
/// warning of [`crate::hazmat`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CipherMode {
    /// AES-CBC, no padding: the length must be a nonzero multiple of 16.
    Cbc,
    /// AES-CTR with a 128-bit big-endian counter: any length.
    Ctr,
    /// AES-XTS with the IV as the tweak of one data unit: at least 16 bytes; the key is key1 ‖ key2.
    Xts,
}

impl CipherMode {
    pub(crate) fn hw(self) -> HwMode {
        match self {
            CipherMode::Cbc => HwMode::Cbc,
            CipherMode::Ctr => HwMode::Ctr,
            CipherMode::Xts => HwMode::Xts,
        }
    }

    fn name(self) -> &'static str {
        match self {
            CipherMode::Cbc => "AES-CBC",
            CipherMode::Ctr => "AES-CTR",
            CipherMode::Xts => "AES-XTS",
        }
    }

    /// Check a data length for this mode.
    pub(crate) fn check_len(self, len: usize) -> Result<()> {
        let why = match self {
            CipherMode::Cbc if len == 0 || !len.is_multiple_of(16) => {
                "must be a nonzero multiple of 16 (no padding)"
            }
            CipherMode::Xts if len < 16 => "must be at least 16 bytes",
            _ => return Ok(()),
        };
        Err(Error::InvalidLength {
            alg: self.name(),
            got: len,
            why,
        })
    }
}

/// Key bytes that are wiped when the last holder drops them. Device jobs hold a reference while in flight.
pub(crate) type KeyBytes = Arc<Zeroizing<Vec<u8>>>;

/// An AES key for [`CipherMode`]s: 16, 24 or 32 bytes, or for XTS 32 or 64 bytes (two AES-128 or AES-256 keys).
/// Zeroized on drop.
#[derive(Clone)]
pub struct CipherKey {
    pub(crate) bytes: KeyBytes,
    pub(crate) mode: CipherMode,
}

impl std::fmt::Debug for CipherKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CipherKey")
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
        let ok = match mode {
            CipherMode::Xts => matches!(key.len(), 32 | 64),
            _ => matches!(key.len(), 16 | 24 | 32),
        };
        if !ok {
            return Err(Error::InvalidKeyLength {
                alg: mode.name(),
                got: key.len(),
                expected: if mode == CipherMode::Xts {
                    "32 or 64 bytes (key1 ‖ key2)"
                } else {
                    "16, 24 or 32 bytes"
                },
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
        })
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
