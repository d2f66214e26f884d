//! AES-GCM (authenticated encryption with associated data).
//!
//! On a device a seal or an open is one SEC job over AAD ‖ body, with the IV in the slot's scratch memory (also
//! copied to the auth-IV slot); the device writes the body's result after the AAD area of the output, and the tag
//! right behind the ciphertext (seal) or compares it with the expected tag from the scratch memory (open).
//! AAD over 64 KiB, or AAD and body over the SEC engine's 16 MiB, run on the CPU.

use bytes::{Bytes, BytesMut};
use uacce_sys::qm::sec::{CipherDir, GcmRequest, SecOp};
use uacce_sys::qm::{QmVersion, Sqe};

use crate::accel::Accel;
use crate::backend::crypto;
use crate::cipher::{MAX_SEC, check_sec, sec_encode};
use crate::error::{Error, Result};
use crate::job::{Job, Step, addr};
use crate::lane::{Buffers, Class, JobOutput, Scratch, scratch};
use crate::nonce::Nonce;
use crate::pool::ClassPool;
use crate::stats::Family;
use crate::types::{AeadKey, KeyBytes};

/// Tag length of this API (the engine also does 4..=16).
const TAG: usize = 16;

/// The 16-byte IV area of a GCM job: the 12-byte nonce, then zeros.
fn gcm_iv_block(nonce: &[u8; 12]) -> [u8; 16] {
    let mut iv = [0u8; 16];
    iv[..12].copy_from_slice(nonce);
    iv
}

/// One AES-GCM seal (`expected_tag` none; gives ciphertext ‖ tag) or open (gives the plaintext).
struct GcmJob {
    key: KeyBytes,
    nonce: [u8; 12],
    aad: Vec<u8>,
    /// Plaintext (seal) or ciphertext (open).
    body: Bytes,
    expected_tag: Option<[u8; TAG]>,
    /// AAD ‖ body, the device's source, made for the first device attempt.
    src: Option<Bytes>,
}

impl Job for GcmJob {
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
        let tag_room = if self.expected_tag.is_none() { TAG } else { 0 };
        Ok(Buffers {
            output: Some(BytesMut::zeroed(src.len() + tag_room)),
            input: Some(src),
            keep: Some(self.key.clone()),
        })
    }

    fn sqe(&self, tag: u32, scr: &mut Scratch, bufs: &Buffers, version: QmVersion) -> Result<Sqe> {
        let (src, out) = (bufs.input(), bufs.output());
        let (aad_len, body_len) = (self.aad.len(), self.body.len());
        // c_ivin: the 12-byte IV, the rest of the 16-byte IV area zeroed (the slot's scratch is reused). a_ivin: a
        // copy of the IV, as UADK and the kernel's sec2 driver write it (12 bytes, "Cipher_IV == Auth_IV").
        let iv = gcm_iv_block(&self.nonce);
        scr.0[scratch::IV..scratch::IV + 16].copy_from_slice(&iv);
        scr.0[scratch::AIV..scratch::AIV + 16].copy_from_slice(&iv);
        let base = scr.0.as_ptr() as u64;
        let (dir, mac_addr) = match &self.expected_tag {
            None => (CipherDir::Encrypt, addr(out) + (aad_len + body_len) as u64),
            Some(t) => {
                scr.0[scratch::MAC..scratch::MAC + TAG].copy_from_slice(t);
                (CipherDir::Decrypt, base + scratch::MAC as u64)
            }
        };
        let op = SecOp::Aead(GcmRequest {
            dir,
            key_addr: addr(&self.key),
            key_len: self.key.len() as u32,
            iv_addr: base + scratch::IV as u64,
            aiv_addr: base + scratch::AIV as u64,
            src_addr: addr(src),
            dst_addr: addr(out),
            aad_len: aad_len as u32,
            payload_len: body_len as u32,
            mac_addr,
            tag_len: TAG as u8,
        });
        sec_encode(op, tag, version, aad_len + body_len)
    }

    fn complete(&mut self, out: JobOutput, _: QmVersion) -> Result<Step<Bytes>> {
        check_sec(&out.sqe)?;
        let mut output = out.into_output();
        Ok(Step::Done(output.split_off(self.aad.len()).freeze()))
    }

    fn cpu(self) -> Result<Bytes> {
        let mut buf = BytesMut::with_capacity(self.body.len() + TAG);
        buf.extend_from_slice(&self.body);
        match self.expected_tag {
            None => {
                let mut tag = [0u8; TAG];
                crypto::gcm_seal(&self.key, &self.nonce, &self.aad, &mut buf, &mut tag)
                    .map_err(|_| Error::InvalidParameter("AES-GCM parameters"))?;
                buf.extend_from_slice(&tag);
            }
            Some(tag) => {
                buf.extend_from_slice(&tag);
                let n = crypto::gcm_open(&self.key, &self.nonce, &self.aad, &mut buf, TAG)
                    .map_err(|e| match e {
                        uacce_soft::SoftError::AuthFailed => Error::AuthFailed,
                        _ => Error::InvalidParameter("AES-GCM parameters"),
                    })?;
                buf.truncate(n);
            }
        }
        Ok(buf.freeze())
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
        let mut ct = self
            .gcm_seal(key, nonce.into_bytes(), aad, plaintext.into())
            .await?;
        let t = ct.split_off(ct.len() - TAG);
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
        let job = GcmJob {
            key: key.bytes.clone(),
            nonce,
            aad: aad.to_vec(),
            body,
            expected_tag: None,
            src: None,
        };
        self.inner.execute(job).await
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
        let sealed: Bytes = sealed.into();
        if sealed.len() < TAG {
            return Err(Error::AuthFailed);
        }
        let ct_len = sealed.len() - TAG;
        let mut expected = [0u8; TAG];
        expected.copy_from_slice(&sealed[ct_len..]);
        self.gcm_open(key, nonce, aad, sealed.slice(..ct_len), expected)
            .await
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
        self.gcm_open(key, nonce, aad, ciphertext.into(), *tag)
            .await
    }

    async fn gcm_open(
        &self,
        key: &AeadKey,
        nonce: &[u8; 12],
        aad: &[u8],
        body: Bytes,
        expected: Tag,
    ) -> Result<Bytes> {
        let job = GcmJob {
            key: key.bytes.clone(),
            nonce: *nonce,
            aad: aad.to_vec(),
            body,
            expected_tag: Some(expected),
            src: None,
        };
        self.inner.execute(job).await
    }
}
