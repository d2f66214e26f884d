//! The AES MACs: AES-CMAC (RFC 4493), AES-XCBC-MAC-96 (RFC 3566) and AES-GMAC (NIST SP 800-38D), each one SEC
//! digest BD in UADK's HMAC mode (`a_alg` 0x21, 0x20, 0x22). The device computes the MAC into the slot's scratch
//! memory; verification compares it with the expected one in constant time (`subtle`).
//!
//! What stays on the CPU: CMAC with a 24 or 32-byte key (the device takes 16-byte keys only, UADK
//! `hmac_key_len_check`) and GMAC on QM v2 devices (UADK's BD2 fill names no IV for it) — both fail with
//! `Error::Unsupported` under `Backend::Hardware`; empty messages (BD2 refuses empty digests, BD3 empty CMAC and
//! XCBC; the library sends none); messages over the engine's 16 MiB.

use bytes::Bytes;
use subtle::ConstantTimeEq;
use uacce_soft::aead_mac;
use uacce_sys::qm::sec::{MacAlg, MacRequest, SecOp};
use uacce_sys::qm::{QmVersion, Sqe};

use crate::accel::Accel;
use crate::cipher::{MAX_SEC, check_sec, sec_encode};
use crate::error::{Error, Result};
use crate::job::{Job, Step, addr};
use crate::lane::{Buffers, Class, JobOutput, Scratch, scratch};
use crate::nonce::Nonce;
use crate::pool::ClassPool;
use crate::stats::Family;
use crate::types::KeyBytes;

/// An AES MAC of [`Accel::mac_sign`] / [`Accel::gmac_sign`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MacAlgorithm {
    /// AES-CMAC (RFC 4493, NIST SP 800-38B): 16, 24 or 32-byte key, 16-byte tag. Device: 16-byte keys, QM v2 and
    /// v3.
    AesCmac,
    /// AES-XCBC-MAC-96 (RFC 3566, IPsec): 16-byte key, 12-byte tag. Device: QM v2 and v3.
    AesXcbcMac96,
    /// AES-GMAC (NIST SP 800-38D: GCM with no plaintext): 16, 24 or 32-byte key, 12-byte nonce, 16-byte tag.
    /// Device: QM v3.
    AesGmac,
}

impl MacAlgorithm {
    /// The tag length in bytes: 16, or 12 for XCBC-MAC-96.
    pub const fn tag_len(self) -> usize {
        match self {
            MacAlgorithm::AesXcbcMac96 => 12,
            MacAlgorithm::AesCmac | MacAlgorithm::AesGmac => 16,
        }
    }

    const fn name(self) -> &'static str {
        match self {
            MacAlgorithm::AesCmac => "AES-CMAC",
            MacAlgorithm::AesXcbcMac96 => "AES-XCBC-MAC-96",
            MacAlgorithm::AesGmac => "AES-GMAC",
        }
    }

    const fn hw(self) -> MacAlg {
        match self {
            MacAlgorithm::AesCmac => MacAlg::AesCmac,
            MacAlgorithm::AesXcbcMac96 => MacAlg::AesXcbc,
            MacAlgorithm::AesGmac => MacAlg::AesGmac,
        }
    }
}

/// A key for one [`MacAlgorithm`], checked for length. Zeroized on drop.
#[derive(Clone)]
pub struct MacKey {
    bytes: KeyBytes,
    alg: MacAlgorithm,
}

impl std::fmt::Debug for MacKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MacKey")
            .field("alg", &self.alg)
            .field("len", &self.bytes.len())
            .finish_non_exhaustive()
    }
}

impl MacKey {
    /// A key for `alg`: CMAC and GMAC 16, 24 or 32 bytes, XCBC-MAC-96 16.
    ///
    /// ```
    /// use uacce_async::{Error, MacAlgorithm, MacKey};
    /// assert!(MacKey::new(MacAlgorithm::AesCmac, &[1; 32]).is_ok());
    /// let err = MacKey::new(MacAlgorithm::AesXcbcMac96, &[1; 32]);
    /// assert!(matches!(err, Err(Error::InvalidKeyLength { got: 32, .. })));
    /// ```
    pub fn new(alg: MacAlgorithm, key: &[u8]) -> Result<Self> {
        let (ok, expected) = match alg {
            MacAlgorithm::AesXcbcMac96 => (key.len() == 16, "16 bytes"),
            MacAlgorithm::AesCmac | MacAlgorithm::AesGmac => {
                (matches!(key.len(), 16 | 24 | 32), "16, 24 or 32 bytes")
            }
        };
        if !ok {
            return Err(Error::InvalidKeyLength {
                alg: alg.name(),
                got: key.len(),
                expected,
            });
        }
        Ok(Self {
            bytes: std::sync::Arc::new(zeroize::Zeroizing::new(key.to_vec())),
            alg,
        })
    }

    /// The key's algorithm.
    pub fn algorithm(&self) -> MacAlgorithm {
        self.alg
    }
}

/// One MAC computation.
struct MacJob {
    key: MacKey,
    /// GMAC's nonce.
    nonce: Option<[u8; 12]>,
    data: Bytes,
}

impl Job for MacJob {
    type Output = Vec<u8>;
    const CLASS: Class = Class::Sec;
    const FAMILY: Family = Family::Digest;

    fn size(&self) -> usize {
        self.data.len()
    }

    fn fits(&self, _: &ClassPool) -> bool {
        !self.data.is_empty() && self.data.len() <= MAX_SEC
    }

    fn capable(&self, pool: &ClassPool) -> bool {
        let hw = self.key.alg.hw();
        hw.key_len_ok(self.key.bytes.len() as u32)
            && (hw.on_bd2() || !pool.all_lanes_are(QmVersion::V2))
    }

    fn buffers(&mut self, _: QmVersion) -> Result<Buffers> {
        Ok(Buffers {
            input: Some(self.data.clone()),
            output: None,
            keep: Some(self.key.bytes.clone()),
        })
    }

    fn sqe(&self, tag: u32, scr: &mut Scratch, bufs: &Buffers, version: QmVersion) -> Result<Sqe> {
        let input = bufs.input();
        let base = scr.0.as_ptr() as u64;
        // GMAC's 16-byte IV area: the 12-byte nonce, then zeros (written whole: the slot's scratch is reused).
        let iv_addr = match &self.nonce {
            Some(n) => {
                scr.0[scratch::IV..scratch::IV + 16].fill(0);
                scr.0[scratch::IV..scratch::IV + 12].copy_from_slice(n);
                base + scratch::IV as u64
            }
            None => 0,
        };
        let op = SecOp::Mac(MacRequest {
            alg: self.key.alg.hw(),
            key_addr: addr(&self.key.bytes),
            key_len: self.key.bytes.len() as u32,
            iv_addr,
            src_addr: addr(input),
            len: input.len() as u32,
            mac_addr: base + scratch::MAC as u64,
            mac_len: self.key.alg.tag_len() as u32,
        });
        sec_encode(op, tag, version, input.len())
    }

    fn complete(&mut self, out: JobOutput, _: QmVersion) -> Result<Step<Vec<u8>>> {
        check_sec(&out.sqe)?;
        Ok(Step::Done(out.mac[..self.key.alg.tag_len()].to_vec()))
    }

    fn cpu(self) -> Result<Vec<u8>> {
        let key = &self.key.bytes[..];
        let r = match (self.key.alg, &self.nonce) {
            (MacAlgorithm::AesCmac, _) => aead_mac::cmac(key, &self.data).map(|t| t.to_vec()),
            (MacAlgorithm::AesXcbcMac96, _) => {
                aead_mac::xcbc_mac_96(key, &self.data).map(|t| t.to_vec())
            }
            (MacAlgorithm::AesGmac, Some(n)) => {
                aead_mac::gmac(key, n, &self.data).map(|t| t.to_vec())
            }
            (MacAlgorithm::AesGmac, None) => {
                return Err(Error::InvalidParameter("GMAC needs a nonce"));
            }
        };
        r.map_err(|_| Error::InvalidParameter("MAC parameters"))
    }
}

/// Compare in constant time; a tag of another length is a typed error.
fn verify(alg: MacAlgorithm, got: &[u8], expected: &[u8]) -> Result<()> {
    if expected.len() != alg.tag_len() {
        return Err(Error::InvalidTagLength {
            alg: alg.name(),
            got: expected.len(),
            expected: if alg.tag_len() == 12 {
                "12 bytes"
            } else {
                "16 bytes"
            },
        });
    }
    if bool::from(got.ct_eq(expected)) {
        Ok(())
    } else {
        Err(Error::AuthFailed)
    }
}

impl Accel {
    /// AES-CMAC or AES-XCBC-MAC-96 of `data`: the tag (16 or 12 bytes, [`MacAlgorithm::tag_len`]).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidParameter`] for a GMAC key (GMAC takes a nonce: [`Accel::gmac_sign`]), and the job errors
    /// of [`Error`].
    ///
    /// # Cancel safety
    ///
    /// Stateless: dropping the future abandons the job.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), uacce_async::Error> {
    /// use uacce_async::{Accel, Backend, Error, MacAlgorithm, MacKey};
    /// let accel = Accel::builder().backend(Backend::Emulated).build().await?;
    /// let key = MacKey::new(MacAlgorithm::AesCmac, &[9; 16])?;
    /// let tag = accel.mac_sign(&key, &b"frame"[..]).await?;
    /// assert_eq!(tag.len(), 16);
    /// accel.mac_verify(&key, &b"frame"[..], &tag).await?;
    /// let err = accel.mac_verify(&key, &b"frame!"[..], &tag).await;
    /// assert!(matches!(err, Err(Error::AuthFailed)));
    /// # Ok(()) }
    /// ```
    pub async fn mac_sign(&self, key: &MacKey, data: impl Into<Bytes>) -> Result<Vec<u8>> {
        if key.alg == MacAlgorithm::AesGmac {
            return Err(Error::InvalidParameter(
                "AES-GMAC takes a nonce: use gmac_sign / gmac_verify",
            ));
        }
        self.inner
            .execute(MacJob {
                key: key.clone(),
                nonce: None,
                data: data.into(),
            })
            .await
    }

    /// Verify an AES-CMAC or AES-XCBC-MAC-96 tag in constant time.
    ///
    /// # Errors
    ///
    /// [`Error::AuthFailed`] on a mismatch, [`Error::InvalidTagLength`] for a tag of another length than
    /// [`MacAlgorithm::tag_len`], and the errors of [`Accel::mac_sign`].
    ///
    /// # Cancel safety
    ///
    /// As [`Accel::mac_sign`].
    pub async fn mac_verify(&self, key: &MacKey, data: impl Into<Bytes>, tag: &[u8]) -> Result<()> {
        if tag.len() != key.alg.tag_len() {
            return verify(key.alg, &[], tag);
        }
        let got = self.mac_sign(key, data).await?;
        verify(key.alg, &got, tag)
    }

    /// AES-GMAC of `aad` with a fresh 12-byte [`Nonce`] (consumed: a GMAC nonce used twice under one key reveals
    /// the GHASH key and lets anyone forge tags). Send [`Nonce::as_bytes`] with the message.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidParameter`] for a key that is not an AES-GMAC key, and the job errors of [`Error`].
    ///
    /// # Cancel safety
    ///
    /// Stateless: dropping the future abandons the job; the nonce is gone either way.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), uacce_async::Error> {
    /// use uacce_async::{Accel, Backend, MacAlgorithm, MacKey, Nonce};
    /// let accel = Accel::builder().backend(Backend::Emulated).build().await?;
    /// let key = MacKey::new(MacAlgorithm::AesGmac, &[5; 32])?;
    /// let nonce = Nonce::random()?;
    /// let n = *nonce.as_bytes();
    /// let tag = accel.gmac_sign(&key, nonce, &b"header"[..]).await?;
    /// accel.gmac_verify(&key, &n, &b"header"[..], &tag).await?;
    /// # Ok(()) }
    /// ```
    pub async fn gmac_sign(
        &self,
        key: &MacKey,
        nonce: Nonce,
        aad: impl Into<Bytes>,
    ) -> Result<crate::Tag> {
        self.gmac_sign_with_nonce_unchecked(key, &nonce.into_bytes(), aad)
            .await
    }

    /// AES-GMAC with a nonce given as bytes, **unchecked** (see [`Accel::gmac_sign`] for what a repeated nonce
    /// costs); for protocols with their own unique nonces and for known-answer tests.
    ///
    /// # Errors
    ///
    /// As [`Accel::gmac_sign`].
    ///
    /// # Cancel safety
    ///
    /// As [`Accel::gmac_sign`].
    pub async fn gmac_sign_with_nonce_unchecked(
        &self,
        key: &MacKey,
        nonce: &[u8; 12],
        aad: impl Into<Bytes>,
    ) -> Result<crate::Tag> {
        if key.alg != MacAlgorithm::AesGmac {
            return Err(Error::InvalidParameter("gmac_sign takes an AES-GMAC key"));
        }
        let t = self
            .inner
            .execute(MacJob {
                key: key.clone(),
                nonce: Some(*nonce),
                data: aad.into(),
            })
            .await?;
        let mut tag = [0u8; 16];
        tag.copy_from_slice(&t);
        Ok(tag)
    }

    /// Verify an AES-GMAC tag in constant time.
    ///
    /// # Errors
    ///
    /// [`Error::AuthFailed`] on a mismatch, and the errors of [`Accel::gmac_sign`].
    ///
    /// # Cancel safety
    ///
    /// As [`Accel::gmac_sign`].
    pub async fn gmac_verify(
        &self,
        key: &MacKey,
        nonce: &[u8; 12],
        aad: impl Into<Bytes>,
        tag: &crate::Tag,
    ) -> Result<()> {
        let got = self.gmac_sign_with_nonce_unchecked(key, nonce, aad).await?;
        verify(MacAlgorithm::AesGmac, &got, tag)
    }
}
