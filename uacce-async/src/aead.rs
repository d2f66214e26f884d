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

impl Accel {
    /// AES-GCM seal with a 12-byte nonce: returns ciphertext ‖ 16-byte tag.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), uacce_async::Error> {
    /// use uacce_async::{Accel, AeadKey, Backend};
    /// let accel = Accel::builder().backend(Backend::Emulated).build().await?;
    /// let key = AeadKey::new(&[0x42; 32])?;
    /// // Never reuse a nonce with the same key: here a counter.
    /// let counter: u64 = 1;
    /// let mut nonce = [0u8; 12];
    /// nonce[4..].copy_from_slice(&counter.to_be_bytes());
    /// let sealed = accel.aes_gcm_seal(&key, &nonce, b"header", &b"secret"[..]).await?;
    /// assert_eq!(sealed.len(), b"secret".len() + 16); // ciphertext ‖ tag
    /// let opened = accel.aes_gcm_open(&key, &nonce, b"header", sealed).await?;
    /// assert_eq!(&opened[..], b"secret");
    /// # Ok(()) }
    /// ```
    pub async fn aes_gcm_seal(
        &self,
        key: &AeadKey,
        nonce: &[u8; 12],
        aad: &[u8],
        plaintext: impl Into<Bytes>,
    ) -> Result<Bytes> {
        let job = GcmJob {
            key: key.bytes.clone(),
            nonce: *nonce,
            aad: aad.to_vec(),
            body: plaintext.into(),
            expected_tag: None,
            src: None,
        };
        self.inner.execute(job).await
    }

    /// AES-GCM open of ciphertext ‖ 16-byte tag. A wrong key, nonce, AAD or a tampered input is
    /// [`Error::AuthFailed`].
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), uacce_async::Error> {
    /// use uacce_async::{Accel, AeadKey, Backend, Error};
    /// let accel = Accel::builder().backend(Backend::Emulated).build().await?;
    /// let key = AeadKey::new(&[0x42; 16])?;
    /// let nonce = [9u8; 12];
    /// let sealed = accel.aes_gcm_seal(&key, &nonce, b"v1", &b"pay me 10"[..]).await?;
    /// assert_eq!(&accel.aes_gcm_open(&key, &nonce, b"v1", sealed.clone()).await?[..], b"pay me 10");
    /// // Other AAD, or a flipped bit anywhere, fails authentication.
    /// let err = accel.aes_gcm_open(&key, &nonce, b"v2", sealed.clone()).await;
    /// assert!(matches!(err, Err(Error::AuthFailed)));
    /// let mut tampered = sealed.to_vec();
    /// tampered[0] ^= 1;
    /// let err = accel.aes_gcm_open(&key, &nonce, b"v1", tampered).await;
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
        let job = GcmJob {
            key: key.bytes.clone(),
            nonce: *nonce,
            aad: aad.to_vec(),
            body: sealed.slice(..ct_len),
            expected_tag: Some(expected),
            src: None,
        };
        self.inner.execute(job).await
    }
}
