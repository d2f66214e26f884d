//! Authenc: AES-CBC + HMAC (SHA-1, SHA-256, SHA-512) in one pass, encrypt-then-MAC — the cipher suites of IPsec
//! ESP (RFC 4303 with AES-CBC, RFC 3602, and HMAC-SHA-1-96 / HMAC-SHA-256-128 / HMAC-SHA-512-256) and of TLS 1.2
//! with the encrypt-then-MAC extension (RFC 7366).
//!
//! What is computed: `ciphertext = AES-CBC(enc key, iv, plaintext)` (no padding: the plaintext is a nonzero
//! multiple of 16 bytes; pad it as your protocol says first), `tag = HMAC(mac key, aad ‖ ciphertext)` truncated to
//! the key's tag length; the output of a seal is `ciphertext ‖ tag`. Opening recomputes the tag over `aad ‖
//! ciphertext`, compares it in constant time and only then decrypts: on a mismatch nothing is decrypted and
//! [`Error::AuthFailed`] is all the caller gets. The IV is not authenticated by the MAC (as in ESP and RFC 7366,
//! where it travels in front of the ciphertext: put it into `aad` if your format needs that).
//!
//! On a device this is one SEC BD (`uacce_sys::qm::sec::AuthencRequest`: encrypt = cipher then MAC, decrypt =
//! verify then decrypt, as UADK's `hisi_sec.c` and the kernel's `sec_crypto.c` fill it) on QM v2 and v3 alike.
//! MAC-then-encrypt is not offered: neither driver ever asks the engine for it (the BD's `seq` bit always follows
//! the direction), so what the hardware would do is unknown.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use uacce_sys::qm::sec::{AuthencRequest, HmacKey as SecHmacKey, SecOp};
use zeroize::Zeroizing;

use crate::accel::Accel;
use crate::error::{Error, Result};
use crate::job::addr;
use crate::seal::{SealAlg, SealIo, split_sealed};
use crate::types::{HashAlg, HmacKey};

/// The two keys of an authenc suite and its tag length: an AES key (16, 24 or 32 bytes) for CBC and an HMAC key
/// (any length; longer than the hash's block it is hashed first, as HMAC specifies) for SHA-1, SHA-256 or SHA-512.
/// Zeroized on drop (the last clone, or the last device job using it).
///
/// What [`Accel::authenc_seal`] computes with it: `ciphertext = AES-CBC(aes key, iv, plaintext)` (no padding),
/// `tag = HMAC(mac key, aad ‖ ciphertext)` truncated to [`AuthencKey::tag_len`], output `ciphertext ‖ tag`
/// (encrypt-then-MAC, as IPsec ESP and RFC 7366). [`Accel::authenc_open`] checks the tag before it decrypts.
#[derive(Clone)]
pub struct AuthencKey {
    inner: Arc<Keys>,
}

struct Keys {
    enc: Zeroizing<Vec<u8>>,
    mac: HmacKey,
    tag_len: usize,
}

impl std::fmt::Debug for AuthencKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthencKey")
            .field("aes_key_len", &self.inner.enc.len())
            .field("hash", &self.inner.mac.alg())
            .field("tag_len", &self.inner.tag_len)
            .finish_non_exhaustive()
    }
}

impl AuthencKey {
    /// Keys for AES-CBC + HMAC-`hash` with tags of `tag_len` bytes.
    ///
    /// `tag_len` is a multiple of 4 from 4 to the digest size (20, 32 or 64): the full HMAC, or a truncation as
    /// IPsec uses them (12 for HMAC-SHA-1-96, 16 for HMAC-SHA-256-128, 32 for HMAC-SHA-512-256). The SEC engine
    /// counts tags in 4-byte words, so other lengths are refused.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidKeyLength`] for an AES key that is not 16, 24 or 32 bytes; [`Error::Unsupported`] for a hash
    /// other than SHA-1, SHA-256 and SHA-512 (the ones the SEC engine does authenc with); [`Error::InvalidParameter`]
    /// for a tag length outside the rule above.
    ///
    /// ```
    /// use uacce_async::{AuthencKey, Error, HashAlg};
    /// let _esp = AuthencKey::new(&[1; 16], HashAlg::Sha256, &[2; 32], 16)?;
    /// assert!(matches!(
    ///     AuthencKey::new(&[1; 20], HashAlg::Sha256, &[2; 32], 16),
    ///     Err(Error::InvalidKeyLength { got: 20, .. })
    /// ));
    /// assert!(matches!(
    ///     AuthencKey::new(&[1; 16], HashAlg::Sha256, &[2; 32], 10),
    ///     Err(Error::InvalidParameter(_))
    /// ));
    /// assert!(matches!(
    ///     AuthencKey::new(&[1; 16], HashAlg::Sm3, &[2; 32], 16),
    ///     Err(Error::Unsupported(_))
    /// ));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn new(aes_key: &[u8], hash: HashAlg, mac_key: &[u8], tag_len: usize) -> Result<Self> {
        if !matches!(aes_key.len(), 16 | 24 | 32) {
            return Err(Error::InvalidKeyLength {
                alg: "AES-CBC authenc",
                got: aes_key.len(),
                expected: "16, 24 or 32 bytes",
            });
        }
        if !hash.digest_alg().authenc_ok() {
            return Err(Error::Unsupported(
                "authenc hash (SHA-1, SHA-256 or SHA-512 only)",
            ));
        }
        if tag_len == 0 || !tag_len.is_multiple_of(4) || tag_len > hash.output_len() {
            return Err(Error::InvalidParameter(
                "authenc tag length (a multiple of 4 from 4 to the digest size)",
            ));
        }
        Ok(Self {
            inner: Arc::new(Keys {
                enc: Zeroizing::new(aes_key.to_vec()),
                mac: HmacKey::new(hash, mac_key),
                tag_len,
            }),
        })
    }

    /// The HMAC's hash function.
    pub fn hash(&self) -> HashAlg {
        self.inner.mac.alg()
    }

    /// The tag length in bytes.
    pub fn tag_len(&self) -> usize {
        self.inner.tag_len
    }
}

/// Authenc in the shared seal/open job.
struct Authenc {
    key: AuthencKey,
    iv: [u8; 16],
}

impl Authenc {
    fn soft_err(e: uacce_soft::SoftError) -> Error {
        match e {
            uacce_soft::SoftError::AuthFailed => Error::AuthFailed,
            uacce_soft::SoftError::Unsupported => Error::InvalidParameter("authenc parameters"),
        }
    }
}

impl SealAlg for Authenc {
    fn tag_len(&self) -> usize {
        self.key.inner.tag_len
    }

    fn fits(&self, aad_len: usize, _: usize) -> bool {
        aad_len <= usize::from(u16::MAX)
    }

    fn keep(&self) -> Arc<dyn Send + Sync> {
        self.key.inner.clone()
    }

    fn iv_blocks(&self, _: usize, _: usize) -> Result<([u8; 16], Option<[u8; 16]>)> {
        // CBC: the IV only; the MAC (HMAC) has none.
        Ok((self.iv, None))
    }

    fn op(&self, io: SealIo) -> SecOp {
        let keys = &self.key.inner;
        SecOp::Authenc(AuthencRequest {
            dir: io.dir,
            key_addr: addr(&keys.enc),
            key_len: keys.enc.len() as u32,
            iv_addr: io.iv_addr,
            hash: keys.mac.alg().digest_alg(),
            hmac_key: SecHmacKey {
                addr: addr(&keys.mac.device),
                len: keys.mac.device.len() as u32,
            },
            src_addr: io.src_addr,
            dst_addr: io.dst_addr,
            aad_len: io.aad_len,
            payload_len: io.payload_len,
            mac_addr: io.mac_addr,
            mac_len: keys.tag_len as u32,
        })
    }

    fn cpu_seal(&self, aad: &[u8], buf: &mut BytesMut, tag: &mut [u8]) -> Result<()> {
        let keys = &self.key.inner;
        let hash = keys.mac.alg().digest_alg();
        uacce_soft::authenc::seal(&keys.enc, &self.iv, hash, &keys.mac.raw, aad, buf, tag)
            .map_err(Self::soft_err)
    }

    fn cpu_open(&self, aad: &[u8], buf: &mut BytesMut, tag: &[u8]) -> Result<()> {
        let keys = &self.key.inner;
        let hash = keys.mac.alg().digest_alg();
        uacce_soft::authenc::open(&keys.enc, &self.iv, hash, &keys.mac.raw, aad, buf, tag)
            .map_err(Self::soft_err)
    }
}

fn check_body(len: usize) -> Result<()> {
    if len == 0 || !len.is_multiple_of(16) {
        return Err(Error::InvalidLength {
            alg: "AES-CBC authenc",
            got: len,
            why: "a nonzero multiple of 16 bytes (CBC without padding)",
        });
    }
    Ok(())
}

impl Accel {
    /// Authenc seal (AES-CBC, then HMAC over `aad` ‖ ciphertext): returns ciphertext ‖ tag
    /// ([`AuthencKey::tag_len`] bytes). See [`AuthencKey`] for what is computed.
    ///
    /// `iv` must be unpredictable and fresh for every message (CBC): take it from the OS RNG (e.g. `getrandom`)
    /// and send it with the message, as ESP does. `plaintext` is a nonzero multiple of 16 bytes (CBC without
    /// padding: pad it as your protocol says first).
    ///
    /// Runs on the SEC device on QM v2 and v3; AAD over 64 KiB or AAD and plaintext over 16 MiB run on the CPU.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidLength`] for a plaintext that is empty or not a multiple of 16 bytes, and the job errors of
    /// [`Error`] (device, timeout, shutdown).
    ///
    /// # Cancel safety
    ///
    /// Stateless: dropping the future abandons the job (a device job in flight keeps its buffers until it
    /// completes).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), uacce_async::Error> {
    /// use uacce_async::{Accel, AuthencKey, Backend, Error, HashAlg};
    /// let accel = Accel::builder().backend(Backend::Emulated).build().await?;
    /// let key = AuthencKey::new(&[1; 16], HashAlg::Sha256, &[2; 32], 16)?;
    /// let iv = [3u8; 16]; // in real use: 16 fresh random bytes per message
    /// let sealed = accel.authenc_seal(&key, &iv, b"spi+seq", &[0x42; 32][..]).await?;
    /// assert_eq!(sealed.len(), 32 + 16); // ciphertext ‖ tag
    /// assert_eq!(&accel.authenc_open(&key, &iv, b"spi+seq", sealed.clone()).await?[..], &[0x42; 32]);
    /// let mut tampered = sealed.to_vec();
    /// tampered[0] ^= 1;
    /// let err = accel.authenc_open(&key, &iv, b"spi+seq", tampered).await;
    /// assert!(matches!(err, Err(Error::AuthFailed)));
    /// # Ok(()) }
    /// ```
    pub async fn authenc_seal(
        &self,
        key: &AuthencKey,
        iv: &[u8; 16],
        aad: &[u8],
        plaintext: impl Into<Bytes>,
    ) -> Result<Bytes> {
        let body: Bytes = plaintext.into();
        check_body(body.len())?;
        let alg = Authenc {
            key: key.clone(),
            iv: *iv,
        };
        self.inner.aead(alg, aad, body, None).await
    }

    /// Authenc open of ciphertext ‖ tag: checks the tag (HMAC over `aad` ‖ ciphertext, constant-time compare) and
    /// only then decrypts with AES-CBC. A wrong MAC key, a changed ciphertext or tag, or other AAD is
    /// [`Error::AuthFailed`], and no plaintext is returned. The MAC covers neither the AES key nor the IV (as in
    /// ESP): a wrong AES key decrypts to garbage and a wrong IV garbles the first block without an error, so keep
    /// the two keys together (one [`AuthencKey`]) and put the IV into `aad` if your format needs it authenticated.
    ///
    /// # Errors
    ///
    /// [`Error::AuthFailed`] (also for an input shorter than the tag); [`Error::InvalidLength`] when the ciphertext
    /// part is empty or not a multiple of 16 bytes; the job errors of [`Error`].
    ///
    /// # Cancel safety
    ///
    /// Stateless: dropping the future abandons the job and changes nothing.
    pub async fn authenc_open(
        &self,
        key: &AuthencKey,
        iv: &[u8; 16],
        aad: &[u8],
        sealed: impl Into<Bytes>,
    ) -> Result<Bytes> {
        let (ct, tag) = split_sealed(&sealed.into(), key.inner.tag_len)?;
        check_body(ct.len())?;
        let alg = Authenc {
            key: key.clone(),
            iv: *iv,
        };
        self.inner.aead(alg, aad, ct, Some(tag)).await
    }
}
