//! AES-GCM (authenticated encryption with associated data).
//!
//! On a device a seal or an open is one SEC job over AAD ‖ body, with the IV in the slot's scratch memory (also
//! copied to the auth-IV slot); the device writes the body's result after the AAD area of the output, and the tag
//! right behind the ciphertext (seal) or compares it with the expected tag from the scratch memory (open).
//! AAD over 64 KiB, or AAD and body over the SEC engine's 16 MiB, run on the CPU.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use uacce_sys::qm::sec::{GcmRequest, SecOp};

use crate::accel::Accel;
use crate::backend::crypto;
use crate::error::{Error, Result};
use crate::job::addr;
use crate::nonce::Nonce;
use crate::seal::{SealAlg, SealIo, detach_tag, split_sealed};
use crate::types::{AeadKey, KeyBytes};

/// Tag length of this API (the engine also does 4..=16).
const TAG: usize = 16;

/// The 16-byte IV area of a GCM job: the 12-byte nonce, then zeros.
fn gcm_iv_block(nonce: &[u8; 12]) -> [u8; 16] {
    let mut iv = [0u8; 16];
    iv[..12].copy_from_slice(nonce);
    iv
}

/// AES-GCM in the shared seal/open job.
struct Gcm {
    key: KeyBytes,
    nonce: [u8; 12],
}

impl SealAlg for Gcm {
    fn tag_len(&self) -> usize {
        TAG
    }

    fn fits(&self, aad_len: usize, _: usize) -> bool {
        aad_len <= usize::from(u16::MAX)
    }

    fn keep(&self) -> Arc<dyn Send + Sync> {
        self.key.clone()
    }

    fn iv_blocks(&self, _: usize, _: usize) -> Result<([u8; 16], Option<[u8; 16]>)> {
        // c_ivin: the 12-byte IV, the rest of the 16-byte IV area zeroed. a_ivin: a copy of the IV, as UADK and the
        // kernel's sec2 driver write it (12 bytes, "Cipher_IV == Auth_IV").
        let iv = gcm_iv_block(&self.nonce);
        Ok((iv, Some(iv)))
    }

    fn op(&self, io: SealIo) -> SecOp {
        SecOp::Aead(GcmRequest {
            dir: io.dir,
            key_addr: addr(&self.key),
            key_len: self.key.len() as u32,
            iv_addr: io.iv_addr,
            aiv_addr: io.aiv_addr,
            src_addr: io.src_addr,
            dst_addr: io.dst_addr,
            aad_len: io.aad_len,
            payload_len: io.payload_len,
            mac_addr: io.mac_addr,
            tag_len: TAG as u8,
        })
    }

    fn cpu_seal(&self, aad: &[u8], buf: &mut BytesMut, tag: &mut [u8]) -> Result<()> {
        crypto::gcm_seal(&self.key, &self.nonce, aad, buf, tag)
            .map_err(|_| Error::InvalidParameter("AES-GCM parameters"))
    }

    fn cpu_open(&self, aad: &[u8], buf: &mut BytesMut, tag: &[u8]) -> Result<()> {
        buf.extend_from_slice(tag);
        let n = crypto::gcm_open(&self.key, &self.nonce, aad, buf, TAG).map_err(|e| match e {
            uacce_soft::SoftError::AuthFailed => Error::AuthFailed,
            _ => Error::InvalidParameter("AES-GCM parameters"),
        })?;
        buf.truncate(n);
        Ok(())
    }
}

/// An AES-GCM authentication tag (16 bytes).
pub type Tag = [u8; TAG];

impl Accel {
    /// AES-GCM seal: returns ciphertext ‖ 16-byte tag. The nonce is consumed, so it seals once (see [`Nonce`]);
    /// send [`Nonce::as_bytes`] with the message to open it.
    ///
    /// # Errors
    ///
    /// The job errors of [`Error`] (device, timeout, shutdown).
    ///
    /// # Cancel safety
    ///
    /// Stateless: dropping the future abandons the job (a device job in flight keeps its buffers until it
    /// completes). The nonce was moved in and is gone either way: never seal again with its bytes.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), uacce_async::Error> {
    /// use uacce_async::{Accel, AeadKey, Backend, NonceSequence};
    /// let accel = Accel::builder().backend(Backend::Emulated).build().await?;
    /// let key = AeadKey::new(&[0x42; 32])?;
    /// // One nonce sequence per key: a fixed field, then a counter that refuses to wrap.
    /// let mut nonces = NonceSequence::new(*b"tour");
    /// let nonce = nonces.advance()?;
    /// let sent_nonce = *nonce.as_bytes();
    /// let sealed = accel.aes_gcm_seal(&key, nonce, b"header", &b"secret"[..]).await?;
    /// assert_eq!(sealed.len(), b"secret".len() + 16); // ciphertext ‖ tag
    /// let opened = accel.aes_gcm_open(&key, &sent_nonce, b"header", sealed).await?;
    /// assert_eq!(&opened[..], b"secret");
    /// # Ok(()) }
    /// ```
    pub async fn aes_gcm_seal(
        &self,
        key: &AeadKey,
        nonce: Nonce,
        aad: &[u8],
        plaintext: impl Into<Bytes>,
    ) -> Result<Bytes> {
        self.gcm_seal(key, nonce.into_bytes(), aad, plaintext.into())
            .await
    }

    /// AES-GCM seal with a nonce given as bytes, **unchecked**: nothing stops the same nonce from sealing two
    /// messages under one key, which discloses the XOR of the two plaintexts and lets anyone forge tags for that
    /// key (the "forbidden attack" on GCM). Use [`Accel::aes_gcm_seal`] with a [`Nonce`] unless the nonce comes
    /// from a scheme of your own that guarantees uniqueness (e.g. a protocol's record sequence number), or for
    /// known-answer tests.
    ///
    /// # Errors
    ///
    /// As [`Accel::aes_gcm_seal`].
    ///
    /// # Cancel safety
    ///
    /// As [`Accel::aes_gcm_seal`].
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), uacce_async::Error> {
    /// use uacce_async::{Accel, AeadKey, Backend, Nonce};
    /// let accel = Accel::builder().backend(Backend::Emulated).build().await?;
    /// let key = AeadKey::new(&[0x42; 32])?;
    /// // A protocol whose records are numbered (as TLS 1.3 does it): nonce = a random per-key IV XOR the record
    /// // number, unique as long as record numbers are. The protocol, not this library, guarantees it.
    /// let static_iv = *Nonce::random()?.as_bytes();
    /// for record in 0u64..3 {
    ///     let mut nonce = static_iv;
    ///     for (b, r) in nonce[4..].iter_mut().zip(record.to_be_bytes()) {
    ///         *b ^= r;
    ///     }
    ///     let sealed = accel.aes_gcm_seal_with_nonce_unchecked(&key, &nonce, b"", &b"record"[..]).await?;
    ///     assert_eq!(&accel.aes_gcm_open(&key, &nonce, b"", sealed).await?[..], b"record");
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn aes_gcm_seal_with_nonce_unchecked(
        &self,
        key: &AeadKey,
        nonce: &[u8; 12],
        aad: &[u8],
        plaintext: impl Into<Bytes>,
    ) -> Result<Bytes> {
        self.gcm_seal(key, *nonce, aad, plaintext.into()).await
    }

    /// AES-GCM seal with the tag apart: returns (ciphertext, tag), for formats that store the tag elsewhere.
    ///
    /// # Errors
    ///
    /// As [`Accel::aes_gcm_seal`].
    ///
    /// # Cancel safety
    ///
    /// As [`Accel::aes_gcm_seal`].
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), uacce_async::Error> {
    /// use uacce_async::{Accel, AeadKey, Backend, Error, Nonce};
    /// let accel = Accel::builder().backend(Backend::Emulated).build().await?;
    /// let key = AeadKey::new(&[0x42; 32])?;
    /// let nonce = Nonce::random()?;
    /// let n = *nonce.as_bytes();
    /// let (ct, tag) = accel.aes_gcm_seal_detached(&key, nonce, b"hdr", &b"secret"[..]).await?;
    /// assert_eq!(ct.len(), 6);
    /// assert_eq!(&accel.aes_gcm_open_detached(&key, &n, b"hdr", ct.clone(), &tag).await?[..], b"secret");
    /// let mut bad = tag;
    /// bad[15] ^= 1;
    /// let err = accel.aes_gcm_open_detached(&key, &n, b"hdr", ct, &bad).await;
    /// assert!(matches!(err, Err(Error::AuthFailed)));
    /// # Ok(()) }
    /// ```
    pub async fn aes_gcm_seal_detached(
        &self,
        key: &AeadKey,
        nonce: Nonce,
        aad: &[u8],
        plaintext: impl Into<Bytes>,
    ) -> Result<(Bytes, Tag)> {
        let sealed = self
            .gcm_seal(key, nonce.into_bytes(), aad, plaintext.into())
            .await?;
        let (ct, t) = detach_tag(sealed, TAG);
        let mut tag = [0u8; TAG];
        tag.copy_from_slice(&t);
        Ok((ct, tag))
    }

    async fn gcm_seal(
        &self,
        key: &AeadKey,
        nonce: [u8; 12],
        aad: &[u8],
        body: Bytes,
    ) -> Result<Bytes> {
        let alg = Gcm {
            key: key.bytes.clone(),
            nonce,
        };
        self.inner.aead(alg, aad, body, None).await
    }

    /// AES-GCM open of ciphertext ‖ 16-byte tag. A wrong key, nonce, AAD or a tampered input is
    /// [`Error::AuthFailed`], and no plaintext is returned.
    ///
    /// The nonce is plain bytes (it comes with the message): opening with any nonce is safe.
    ///
    /// # Errors
    ///
    /// [`Error::AuthFailed`] (also for an input shorter than the tag), and the job errors of [`Error`].
    ///
    /// # Cancel safety
    ///
    /// Stateless: dropping the future abandons the job and changes nothing.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), uacce_async::Error> {
    /// use uacce_async::{Accel, AeadKey, Backend, Error, Nonce};
    /// let accel = Accel::builder().backend(Backend::Emulated).build().await?;
    /// let key = AeadKey::new(&[0x42; 16])?;
    /// let nonce = Nonce::random()?;
    /// let n = *nonce.as_bytes();
    /// let sealed = accel.aes_gcm_seal(&key, nonce, b"v1", &b"pay me 10"[..]).await?;
    /// assert_eq!(&accel.aes_gcm_open(&key, &n, b"v1", sealed.clone()).await?[..], b"pay me 10");
    /// // Other AAD, or a flipped bit anywhere, fails authentication.
    /// let err = accel.aes_gcm_open(&key, &n, b"v2", sealed.clone()).await;
    /// assert!(matches!(err, Err(Error::AuthFailed)));
    /// let mut tampered = sealed.to_vec();
    /// tampered[0] ^= 1;
    /// let err = accel.aes_gcm_open(&key, &n, b"v1", tampered).await;
    /// assert!(matches!(err, Err(Error::AuthFailed)));
    /// # Ok(()) }
    /// ```
    pub async fn aes_gcm_open(
        &self,
        key: &AeadKey,
        nonce: &[u8; 12],
        aad: &[u8],
        sealed: impl Into<Bytes>,
    ) -> Result<Bytes> {
        let (ct, expected) = split_sealed(&sealed.into(), TAG)?;
        self.gcm_open(key, nonce, aad, ct, expected).await
    }

    /// AES-GCM open of a ciphertext and its tag kept apart (see [`Accel::aes_gcm_seal_detached`]).
    ///
    /// # Errors
    ///
    /// As [`Accel::aes_gcm_open`].
    ///
    /// # Cancel safety
    ///
    /// As [`Accel::aes_gcm_open`].
    pub async fn aes_gcm_open_detached(
        &self,
        key: &AeadKey,
        nonce: &[u8; 12],
        aad: &[u8],
        ciphertext: impl Into<Bytes>,
        tag: &Tag,
    ) -> Result<Bytes> {
        self.gcm_open(key, nonce, aad, ciphertext.into(), tag.to_vec())
            .await
    }

    async fn gcm_open(
        &self,
        key: &AeadKey,
        nonce: &[u8; 12],
        aad: &[u8],
        body: Bytes,
        expected: Vec<u8>,
    ) -> Result<Bytes> {
        let alg = Gcm {
            key: key.bytes.clone(),
            nonce: *nonce,
        };
        self.inner.aead(alg, aad, body, Some(expected)).await
    }
}
