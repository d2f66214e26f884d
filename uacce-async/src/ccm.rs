//! CCM (AES or SM4) and SM4-GCM: authenticated encryption on the SEC engine's CCM/GCM BDs.
//!
//! On a device a seal or an open is one SEC job over AAD ‖ body, as for AES-GCM ([`crate::aead`]): the IV block in
//! the slot's scratch memory (CCM: the counter block A1; GCM: the 12-byte IV), the auth IV beside it (CCM: the
//! block B0; GCM: a copy of the IV), the result after the AAD area of the output, the tag behind it (seal) or the
//! expected tag in the scratch memory, compared by the device (open). Which requests stay on the CPU:
//!
//! * SM4 (CCM or GCM) on QM v2 devices (BD2 has no SM4 AEAD, UADK `fill_aead_bd2_alg`), except under
//!   `Backend::Hardware`, where they fail with `Error::Unsupported`;
//! * an empty body (BD2 refuses it, UADK `aead_len_check`; the library sends it to neither version);
//! * CCM bodies of 64 KiB or more: UADK and the kernel write only the last two bytes of B0's length field, so for
//!   them the B0 the hardware expects is not known (`uacce-sys/docs/sec-ccm-mac.md`);
//! * AAD over the BD's limit (CCM 65279 bytes, GCM 65535), and AAD + body over the engine's 16 MiB.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use uacce_soft::SoftError;
use uacce_soft::aead_mac;
use uacce_sys::qm::QmVersion;
use uacce_sys::qm::sec::{self, CipherDir, SecOp, XcmMode, XcmRequest};

use crate::accel::Accel;
use crate::error::{Error, Result};
use crate::job::addr;
use crate::nonce::Nonce;
use crate::pool::ClassPool;
use crate::seal::{SealAlg, SealIo, detach_tag, split_sealed};
use crate::types::{BlockCipher, KeyBytes};

/// Tag length of the SM4-GCM API (as for AES-GCM).
const GCM_TAG: usize = 16;

/// A key for CCM (AES or SM4) and SM4-GCM: AES 16, 24 or 32 bytes ([`AeadCipherKey::aes`]), SM4 16
/// ([`AeadCipherKey::sm4`]). Zeroized on drop.
#[derive(Clone)]
pub struct AeadCipherKey {
    pub(crate) bytes: KeyBytes,
    pub(crate) alg: BlockCipher,
}

impl std::fmt::Debug for AeadCipherKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AeadCipherKey")
            .field("alg", &self.alg)
            .field("len", &self.bytes.len())
            .finish_non_exhaustive()
    }
}

impl AeadCipherKey {
    /// An AES key (16, 24 or 32 bytes) for CCM.
    ///
    /// ```
    /// use uacce_async::{AeadCipherKey, Error};
    /// assert!(AeadCipherKey::aes(&[1; 24]).is_ok());
    /// assert!(matches!(AeadCipherKey::aes(&[1; 20]), Err(Error::InvalidKeyLength { got: 20, .. })));
    /// ```
    pub fn aes(key: &[u8]) -> Result<Self> {
        Self::new(BlockCipher::Aes, key)
    }

    /// An SM4 key (16 bytes) for SM4-CCM and SM4-GCM.
    ///
    /// ```
    /// use uacce_async::{AeadCipherKey, Error};
    /// assert!(AeadCipherKey::sm4(&[1; 16]).is_ok());
    /// assert!(matches!(AeadCipherKey::sm4(&[1; 32]), Err(Error::InvalidKeyLength { got: 32, .. })));
    /// ```
    pub fn sm4(key: &[u8]) -> Result<Self> {
        Self::new(BlockCipher::Sm4, key)
    }

    fn new(alg: BlockCipher, key: &[u8]) -> Result<Self> {
        let (ok, name, expected) = match alg {
            BlockCipher::Aes => (
                matches!(key.len(), 16 | 24 | 32),
                "AES",
                "16, 24 or 32 bytes",
            ),
            BlockCipher::Sm4 => (key.len() == 16, "SM4", "16 bytes"),
        };
        if !ok {
            return Err(Error::InvalidKeyLength {
                alg: name,
                got: key.len(),
                expected,
            });
        }
        Ok(Self {
            bytes: std::sync::Arc::new(zeroize::Zeroizing::new(key.to_vec())),
            alg,
        })
    }

    /// The block cipher of the key.
    pub fn cipher(&self) -> BlockCipher {
        self.alg
    }
}

/// The algorithm's name in errors.
fn name(alg: BlockCipher, mode: XcmMode) -> &'static str {
    match (alg, mode) {
        (BlockCipher::Aes, XcmMode::Ccm) => "AES-CCM",
        (BlockCipher::Sm4, XcmMode::Ccm) => "SM4-CCM",
        (BlockCipher::Aes, XcmMode::Gcm) => "AES-GCM",
        (BlockCipher::Sm4, XcmMode::Gcm) => "SM4-GCM",
    }
}

/// Check CCM's nonce and tag lengths (RFC 3610: nonce 7..=13 bytes, tag 4, 6, …, 16) and that the body fits the
/// length field the nonce leaves (15 − nonce bytes).
fn check_ccm(alg: BlockCipher, nonce: &[u8], tag_len: usize, body_len: usize) -> Result<()> {
    let n = name(alg, XcmMode::Ccm);
    if !(7..=13).contains(&nonce.len()) {
        return Err(Error::InvalidNonceLength {
            alg: n,
            got: nonce.len(),
            expected: "7..=13 bytes",
        });
    }
    if !aead_mac::ccm_params_ok(nonce.len(), tag_len) {
        return Err(Error::InvalidTagLength {
            alg: n,
            got: tag_len,
            expected: "4, 6, 8, 10, 12, 14 or 16 bytes",
        });
    }
    if !aead_mac::ccm_payload_fits(nonce.len(), body_len as u64) {
        return Err(Error::InvalidLength {
            alg: n,
            got: body_len,
            why: "longer than the CCM length field of this nonce size allows (2^(8 × (15 − nonce bytes)) − 1)",
        });
    }
    Ok(())
}

/// CCM or SM4-GCM in the shared seal/open job.
struct Xcm {
    mode: XcmMode,
    key: AeadCipherKey,
    nonce: Vec<u8>,
    tag_len: usize,
}

impl Xcm {
    fn soft(&self, dir: CipherDir, aad: &[u8], buf: &mut [u8], tag: &mut [u8]) -> Result<()> {
        let (alg, key) = (self.key.alg.hw(), &self.key.bytes[..]);
        let r = match (self.mode, dir) {
            (XcmMode::Ccm, CipherDir::Encrypt) => {
                aead_mac::ccm_seal(alg, key, &self.nonce, aad, buf, tag)
            }
            (XcmMode::Ccm, CipherDir::Decrypt) => {
                aead_mac::ccm_open(alg, key, &self.nonce, aad, buf, tag)
            }
            (XcmMode::Gcm, CipherDir::Encrypt) => {
                aead_mac::gcm_seal(alg, key, &self.nonce, aad, buf, tag)
            }
            (XcmMode::Gcm, CipherDir::Decrypt) => {
                aead_mac::gcm_open(alg, key, &self.nonce, aad, buf, tag)
            }
        };
        r.map_err(|e| match e {
            SoftError::AuthFailed => Error::AuthFailed,
            SoftError::Unsupported => Error::InvalidParameter("CCM/GCM parameters"),
        })
    }
}

impl SealAlg for Xcm {
    fn tag_len(&self) -> usize {
        self.tag_len
    }

    fn fits(&self, aad_len: usize, body_len: usize) -> bool {
        let ccm_len_ok = self.mode != XcmMode::Ccm || body_len <= usize::from(u16::MAX);
        body_len != 0 && ccm_len_ok && aad_len <= self.mode.max_aad() as usize
    }

    fn capable(&self, pool: &ClassPool) -> bool {
        // BD2 (QM v2) does AES-CCM only (UADK fill_aead_bd2_alg has no SM4).
        self.key.alg == BlockCipher::Aes || !pool.all_lanes_are(QmVersion::V2)
    }

    fn keep(&self) -> Arc<dyn Send + Sync> {
        self.key.bytes.clone()
    }

    fn iv_blocks(&self, aad_len: usize, body_len: usize) -> Result<([u8; 16], Option<[u8; 16]>)> {
        // The IV blocks UADK's set_aead_auth_iv writes: CCM c_ivin = A1, a_ivin = B0; GCM the IV in both.
        let (iv, aiv) = match self.mode {
            XcmMode::Ccm => (
                sec::ccm_counter_block(&self.nonce),
                sec::ccm_b0(
                    &self.nonce,
                    self.tag_len as u8,
                    aad_len as u32,
                    body_len as u32,
                ),
            ),
            XcmMode::Gcm => {
                let mut iv = [0u8; 16];
                iv[..12].copy_from_slice(&self.nonce);
                (Some(iv), Some(iv))
            }
        };
        let (Some(iv), Some(aiv)) = (iv, aiv) else {
            return Err(Error::InvalidParameter("CCM nonce, tag or length"));
        };
        Ok((iv, Some(aiv)))
    }

    fn op(&self, io: SealIo) -> SecOp {
        SecOp::Xcm(XcmRequest {
            mode: self.mode,
            alg: self.key.alg.hw(),
            dir: io.dir,
            key_addr: addr(&self.key.bytes),
            key_len: self.key.bytes.len() as u32,
            iv_addr: io.iv_addr,
            aiv_addr: io.aiv_addr,
            src_addr: io.src_addr,
            dst_addr: io.dst_addr,
            aad_len: io.aad_len,
            payload_len: io.payload_len,
            mac_addr: io.mac_addr,
            tag_len: self.tag_len as u8,
        })
    }

    fn cpu_seal(&self, aad: &[u8], buf: &mut BytesMut, tag: &mut [u8]) -> Result<()> {
        self.soft(CipherDir::Encrypt, aad, buf, tag)
    }

    fn cpu_open(&self, aad: &[u8], buf: &mut BytesMut, tag: &[u8]) -> Result<()> {
        self.soft(CipherDir::Decrypt, aad, buf, &mut tag.to_vec())
    }
}

impl Accel {
    /// CCM seal (RFC 3610, NIST SP 800-38C) with AES or SM4: returns ciphertext ‖ tag of `tag_len` bytes (4, 6,
    /// …, 16). The 12-byte [`Nonce`] is consumed, so it seals once; send [`Nonce::as_bytes`] with the message. A
    /// 12-byte nonce leaves a 3-byte length field: bodies up to 16 MiB − 1.
    ///
    /// On QM v2 devices SM4-CCM runs on the CPU (`Backend::Hardware`: [`Error::Unsupported`]); see the module
    /// documentation for what else stays on the CPU.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidTagLength`]; [`Error::InvalidLength`] for a body over 16 MiB − 1; the job errors of
    /// [`Error`].
    ///
    /// # Cancel safety
    ///
    /// Stateless: dropping the future abandons the job. The nonce was moved in and is gone either way.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), uacce_async::Error> {
    /// use uacce_async::{Accel, AeadCipherKey, Backend, Error, Nonce};
    /// let accel = Accel::builder().backend(Backend::Emulated).build().await?;
    /// let key = AeadCipherKey::aes(&[7; 16])?;
    /// let nonce = Nonce::random()?;
    /// let n = *nonce.as_bytes();
    /// let sealed = accel.ccm_seal(&key, nonce, 8, b"hdr", &b"sensor 42: 17.5 C"[..]).await?;
    /// assert_eq!(sealed.len(), 17 + 8);
    /// assert_eq!(&accel.ccm_open(&key, &n, 8, b"hdr", sealed.clone()).await?[..], b"sensor 42: 17.5 C");
    /// let err = accel.ccm_open(&key, &n, 8, b"other", sealed).await;
    /// assert!(matches!(err, Err(Error::AuthFailed)));
    /// # Ok(()) }
    /// ```
    pub async fn ccm_seal(
        &self,
        key: &AeadCipherKey,
        nonce: Nonce,
        tag_len: usize,
        aad: &[u8],
        plaintext: impl Into<Bytes>,
    ) -> Result<Bytes> {
        self.xcm_seal(
            XcmMode::Ccm,
            key,
            &nonce.into_bytes(),
            tag_len,
            aad,
            plaintext.into(),
        )
        .await
    }

    /// CCM seal with a nonce of 7..=13 bytes given as bytes, **unchecked**: nothing stops one nonce from sealing
    /// two messages under one key, which breaks CCM's confidentiality (CTR keystream reuse) and lets anyone forge
    /// tags. For protocols that make their own unique nonces (IEEE 802.15.4, Bluetooth LE, IPsec's ESP) and
    /// known-answer tests. The nonce size sets the length field: 15 − nonce bytes.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidNonceLength`], [`Error::InvalidTagLength`], [`Error::InvalidLength`] (a body the length
    /// field cannot hold), and the job errors of [`Error`].
    ///
    /// # Cancel safety
    ///
    /// Stateless: dropping the future abandons the job.
    pub async fn ccm_seal_with_nonce_unchecked(
        &self,
        key: &AeadCipherKey,
        nonce: &[u8],
        tag_len: usize,
        aad: &[u8],
        plaintext: impl Into<Bytes>,
    ) -> Result<Bytes> {
        self.xcm_seal(XcmMode::Ccm, key, nonce, tag_len, aad, plaintext.into())
            .await
    }

    /// CCM seal with the tag apart: returns (ciphertext, tag).
    ///
    /// # Errors
    ///
    /// As [`Accel::ccm_seal`].
    ///
    /// # Cancel safety
    ///
    /// As [`Accel::ccm_seal`].
    pub async fn ccm_seal_detached(
        &self,
        key: &AeadCipherKey,
        nonce: Nonce,
        tag_len: usize,
        aad: &[u8],
        plaintext: impl Into<Bytes>,
    ) -> Result<(Bytes, Vec<u8>)> {
        let sealed = self
            .xcm_seal(
                XcmMode::Ccm,
                key,
                &nonce.into_bytes(),
                tag_len,
                aad,
                plaintext.into(),
            )
            .await?;
        let (ct, tag) = detach_tag(sealed, tag_len);
        Ok((ct, tag.to_vec()))
    }

    /// CCM open of ciphertext ‖ tag (`tag_len` bytes), nonce of 7..=13 bytes. A wrong key, nonce, AAD, tag length
    /// or a tampered input is [`Error::AuthFailed`], and no plaintext is returned.
    ///
    /// # Errors
    ///
    /// [`Error::AuthFailed`] (also for an input shorter than the tag), [`Error::InvalidNonceLength`],
    /// [`Error::InvalidTagLength`], and the job errors of [`Error`].
    ///
    /// # Cancel safety
    ///
    /// Stateless: dropping the future abandons the job and changes nothing.
    pub async fn ccm_open(
        &self,
        key: &AeadCipherKey,
        nonce: &[u8],
        tag_len: usize,
        aad: &[u8],
        sealed: impl Into<Bytes>,
    ) -> Result<Bytes> {
        check_ccm(key.alg, nonce, tag_len, 0)?;
        let (ct, tag) = split_sealed(&sealed.into(), tag_len)?;
        self.xcm_open(XcmMode::Ccm, key, nonce, aad, ct, tag).await
    }

    /// CCM open of a ciphertext and its tag kept apart; the tag's length is the tag length (4, 6, …, 16).
    ///
    /// # Errors
    ///
    /// As [`Accel::ccm_open`].
    ///
    /// # Cancel safety
    ///
    /// As [`Accel::ccm_open`].
    pub async fn ccm_open_detached(
        &self,
        key: &AeadCipherKey,
        nonce: &[u8],
        aad: &[u8],
        ciphertext: impl Into<Bytes>,
        tag: &[u8],
    ) -> Result<Bytes> {
        self.xcm_open(
            XcmMode::Ccm,
            key,
            nonce,
            aad,
            ciphertext.into(),
            tag.to_vec(),
        )
        .await
    }

    /// SM4-GCM seal (RFC 8998): as [`Accel::aes_gcm_seal`] with an SM4 key; returns ciphertext ‖ 16-byte tag.
    /// On QM v2 devices it runs on the CPU (`Backend::Hardware`: [`Error::Unsupported`]).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidParameter`] for a key that is not an SM4 key, and the job errors of [`Error`].
    ///
    /// # Cancel safety
    ///
    /// As [`Accel::aes_gcm_seal`].
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), uacce_async::Error> {
    /// use uacce_async::{Accel, AeadCipherKey, Backend, Nonce};
    /// let accel = Accel::builder().backend(Backend::Emulated).build().await?;
    /// let key = AeadCipherKey::sm4(&[3; 16])?;
    /// let nonce = Nonce::random()?;
    /// let n = *nonce.as_bytes();
    /// let sealed = accel.sm4_gcm_seal(&key, nonce, b"aad", &b"GM/T"[..]).await?;
    /// assert_eq!(&accel.sm4_gcm_open(&key, &n, b"aad", sealed).await?[..], b"GM/T");
    /// # Ok(()) }
    /// ```
    pub async fn sm4_gcm_seal(
        &self,
        key: &AeadCipherKey,
        nonce: Nonce,
        aad: &[u8],
        plaintext: impl Into<Bytes>,
    ) -> Result<Bytes> {
        self.xcm_seal(
            XcmMode::Gcm,
            key,
            &nonce.into_bytes(),
            GCM_TAG,
            aad,
            plaintext.into(),
        )
        .await
    }

    /// SM4-GCM seal with a 12-byte nonce given as bytes, **unchecked** (see
    /// [`Accel::aes_gcm_seal_with_nonce_unchecked`] for what a repeated nonce costs).
    ///
    /// # Errors
    ///
    /// As [`Accel::sm4_gcm_seal`].
    ///
    /// # Cancel safety
    ///
    /// As [`Accel::sm4_gcm_seal`].
    pub async fn sm4_gcm_seal_with_nonce_unchecked(
        &self,
        key: &AeadCipherKey,
        nonce: &[u8; 12],
        aad: &[u8],
        plaintext: impl Into<Bytes>,
    ) -> Result<Bytes> {
        self.xcm_seal(XcmMode::Gcm, key, nonce, GCM_TAG, aad, plaintext.into())
            .await
    }

    /// SM4-GCM open of ciphertext ‖ 16-byte tag.
    ///
    /// # Errors
    ///
    /// [`Error::AuthFailed`] (also for an input shorter than the tag), [`Error::InvalidParameter`] for a key
    /// that is not an SM4 key, and the job errors of [`Error`].
    ///
    /// # Cancel safety
    ///
    /// Stateless: dropping the future abandons the job and changes nothing.
    pub async fn sm4_gcm_open(
        &self,
        key: &AeadCipherKey,
        nonce: &[u8; 12],
        aad: &[u8],
        sealed: impl Into<Bytes>,
    ) -> Result<Bytes> {
        let (ct, tag) = split_sealed(&sealed.into(), GCM_TAG)?;
        self.xcm_open(XcmMode::Gcm, key, nonce, aad, ct, tag).await
    }

    /// SM4-GCM open of a ciphertext and its 16-byte tag kept apart.
    ///
    /// # Errors
    ///
    /// As [`Accel::sm4_gcm_open`].
    ///
    /// # Cancel safety
    ///
    /// As [`Accel::sm4_gcm_open`].
    pub async fn sm4_gcm_open_detached(
        &self,
        key: &AeadCipherKey,
        nonce: &[u8; 12],
        aad: &[u8],
        ciphertext: impl Into<Bytes>,
        tag: &crate::Tag,
    ) -> Result<Bytes> {
        self.xcm_open(
            XcmMode::Gcm,
            key,
            nonce,
            aad,
            ciphertext.into(),
            tag.to_vec(),
        )
        .await
    }

    fn xcm_check(
        mode: XcmMode,
        key: &AeadCipherKey,
        nonce: &[u8],
        tag_len: usize,
        body_len: usize,
    ) -> Result<()> {
        match mode {
            XcmMode::Ccm => check_ccm(key.alg, nonce, tag_len, body_len),
            XcmMode::Gcm if key.alg != BlockCipher::Sm4 => Err(Error::InvalidParameter(
                "SM4-GCM takes an SM4 key (AES-GCM is aes_gcm_seal with an AeadKey)",
            )),
            XcmMode::Gcm if tag_len != GCM_TAG => Err(Error::InvalidTagLength {
                alg: "SM4-GCM",
                got: tag_len,
                expected: "16 bytes",
            }),
            XcmMode::Gcm => Ok(()),
        }
    }

    async fn xcm_seal(
        &self,
        mode: XcmMode,
        key: &AeadCipherKey,
        nonce: &[u8],
        tag_len: usize,
        aad: &[u8],
        body: Bytes,
    ) -> Result<Bytes> {
        Self::xcm_check(mode, key, nonce, tag_len, body.len())?;
        let alg = Xcm {
            mode,
            key: key.clone(),
            nonce: nonce.to_vec(),
            tag_len,
        };
        self.inner.aead(alg, aad, body, None).await
    }

    async fn xcm_open(
        &self,
        mode: XcmMode,
        key: &AeadCipherKey,
        nonce: &[u8],
        aad: &[u8],
        body: Bytes,
        tag: Vec<u8>,
    ) -> Result<Bytes> {
        Self::xcm_check(mode, key, nonce, tag.len(), body.len())?;
        let alg = Xcm {
            mode,
            key: key.clone(),
            nonce: nonce.to_vec(),
            tag_len: tag.len(),
        };
        self.inner.aead(alg, aad, body, Some(tag)).await
    }
}
