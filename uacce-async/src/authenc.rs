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
use uacce_sys::qm::sec::{AuthencRequest, CipherDir, HmacKey as SecHmacKey, SecOp};
use uacce_sys::qm::{QmVersion, Sqe};
use zeroize::Zeroizing;

use crate::accel::Accel;
use crate::cipher::{MAX_SEC, check_sec, sec_encode};
use crate::error::{Error, Result};
use crate::job::{Job, Step, addr};
use crate::lane::{Buffers, Class, JobOutput, Scratch, scratch};
use crate::pool::ClassPool;
use crate::stats::Family;
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

/// One authenc seal (`expected_tag` none; gives ciphertext ‖ tag) or open (gives the plaintext).
struct AuthencJob {
    key: AuthencKey,
    iv: [u8; 16],
    aad: Vec<u8>,
    /// Plaintext (seal) or ciphertext (open): a nonzero multiple of 16 bytes (checked before the job is made).
    body: Bytes,
    expected_tag: Option<Vec<u8>>,
    /// AAD ‖ body, the device's source, made for the first device attempt.
    src: Option<Bytes>,
}

impl Job for AuthencJob {
    type Output = Bytes;
    const CLASS: Class = Class::Sec;
    const FAMILY: Family = Family::Aead;

    fn size(&self) -> usize {
        self.body.len()
    }

    fn fits(&self, _: &ClassPool) -> bool {
        self.aad.len() <= usize::from(u16::MAX) && self.aad.len() + self.body.len() <= MAX_SEC
    }

    fn buffers(&mut self, _: QmVersion) -> Result<Buffers> {
        let src = self
            .src
            .get_or_insert_with(|| {
                let mut src = BytesMut::with_capacity(self.aad.len() + self.body.len());
                src.extend_from_slice(&self.aad);
                src.extend_from_slice(&self.body);
                src.freeze()
            })
            .clone();
        // Seal output: [aad area | ciphertext | tag], so ciphertext ‖ tag is contiguous. Open: [aad area | plaintext].
        let tag_room = if self.expected_tag.is_none() {
            self.key.inner.tag_len
        } else {
            0
        };
        let keep: Arc<dyn Send + Sync> = self.key.inner.clone();
        Ok(Buffers {
            output: Some(BytesMut::zeroed(src.len() + tag_room)),
            input: Some(src),
            keep: Some(keep),
        })
    }

    fn sqe(&self, tag: u32, scr: &mut Scratch, bufs: &Buffers, version: QmVersion) -> Result<Sqe> {
        let (src, out) = (bufs.input(), bufs.output());
        let (aad_len, body_len) = (self.aad.len(), self.body.len());
        let keys = &self.key.inner;
        scr.0[scratch::IV..scratch::IV + 16].copy_from_slice(&self.iv);
        let base = scr.0.as_ptr() as u64;
        let (dir, mac_addr) = match &self.expected_tag {
            None => (CipherDir::Encrypt, addr(out) + (aad_len + body_len) as u64),
            Some(t) => {
                // At most 64 bytes (SHA-512): the scratch MAC area's size.
                scr.0[scratch::MAC..scratch::MAC + t.len()].copy_from_slice(t);
                (CipherDir::Decrypt, base + scratch::MAC as u64)
            }
        };
        let op = SecOp::Authenc(AuthencRequest {
            dir,
            key_addr: addr(&keys.enc),
            key_len: keys.enc.len() as u32,
            iv_addr: base + scratch::IV as u64,
            hash: keys.mac.alg().digest_alg(),
            hmac_key: SecHmacKey {
                addr: addr(&keys.mac.device),
                len: keys.mac.device.len() as u32,
            },
            src_addr: addr(src),
            dst_addr: addr(out),
            aad_len: aad_len as u32,
            payload_len: body_len as u32,
            mac_addr,
            mac_len: keys.tag_len as u32,
        });
        sec_encode(op, tag, version, aad_len + body_len)
    }

    fn complete(&mut self, out: JobOutput, _: QmVersion) -> Result<Step<Bytes>> {
        check_sec(&out.sqe)?;
        let mut output = out.into_output();
        Ok(Step::Done(output.split_off(self.aad.len()).freeze()))
    }

    fn cpu(self) -> Result<Bytes> {
        let keys = &self.key.inner;
        let hash = keys.mac.alg().digest_alg();
        let mut buf = BytesMut::from(&self.body[..]);
        let bad = |e| match e {
            uacce_soft::SoftError::AuthFailed => Error::AuthFailed,
            uacce_soft::SoftError::Unsupported => Error::InvalidParameter("authenc parameters"),
        };
        match &self.expected_tag {
            None => {
                let mut tag = vec![0u8; keys.tag_len];
                uacce_soft::authenc::seal(
                    &keys.enc,
                    &self.iv,
                    hash,
                    &keys.mac.raw,
                    &self.aad,
                    &mut buf,
                    &mut tag,
                )
                .map_err(bad)?;
                buf.extend_from_slice(&tag);
            }
            Some(tag) => {
                uacce_soft::authenc::open(
                    &keys.enc,
                    &self.iv,
                    hash,
                    &keys.mac.raw,
                    &self.aad,
                    &mut buf,
                    tag,
                )
                .map_err(bad)?;
            }
        }
        Ok(buf.freeze())
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
        let job = AuthencJob {
            key: key.clone(),
            iv: *iv,
            aad: aad.to_vec(),
            body,
            expected_tag: None,
            src: None,
        };
        self.inner.execute(job).await
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
        let sealed: Bytes = sealed.into();
        let tag_len = key.inner.tag_len;
        let Some(ct_len) = sealed.len().checked_sub(tag_len) else {
            return Err(Error::AuthFailed);
        };
        check_body(ct_len)?;
        let job = AuthencJob {
            key: key.clone(),
            iv: *iv,
            aad: aad.to_vec(),
            body: sealed.slice(..ct_len),
            expected_tag: Some(sealed[ct_len..].to_vec()),
            src: None,
        };
        self.inner.execute(job).await
    }
}
