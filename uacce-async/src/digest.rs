//! Hashes and HMACs: one SEC job for an input up to 16 MiB, long-hash parts (first/middle/last BDs, the raw state
//! in the slot's scratch memory) for [`Hasher`] and for longer inputs. Empty inputs (BD2 refuses them) and
//! HMACs over 16 MiB run on the CPU.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use uacce_sys::qm::sec::{DigestRequest, DigestStage, HmacKey as HwHmacKey, SecOp};
use uacce_sys::qm::{QmVersion, Sqe};

use crate::accel::Accel;
use crate::cipher::{MAX_SEC, check_sec, sec_encode};
use crate::error::{Error, Result};
use crate::job::{Job, Step, addr};
use crate::lane::{Buffers, Class, JobOutput, Scratch, scratch};
use crate::pool::ClassPool;
use crate::stats::Family;
use crate::types::{HashAlg, HmacKey};

/// One digest job: a whole hash or HMAC (`OneShot`), or one long-hash part.
struct DigestJob {
    alg: HashAlg,
    key: Option<HmacKey>,
    data: Bytes,
    stage: DigestStage,
    /// Raw long-hash state from the previous part (middle and last parts).
    state: Option<[u8; 64]>,
}

impl Job for DigestJob {
    /// The digest (`OneShot`, `Last`), or the 64-byte raw state area (`First`, `Middle`).
    type Output = Vec<u8>;
    const CLASS: Class = Class::Sec;
    const FAMILY: Family = Family::Digest;

    fn size(&self) -> usize {
        self.data.len()
    }

    /// A part of a [`Hasher`] carries the device's raw state of the parts before it: redoing it elsewhere is not
    /// the same operation, so only one-shot hashes are redone on the CPU.
    fn redo_safe(&self) -> bool {
        self.stage == DigestStage::OneShot
    }

    fn fits(&self, _: &ClassPool) -> bool {
        // BD2 refuses zero-length hashes; empty and over-long one-shot inputs go to the CPU.
        !self.data.is_empty() && self.data.len() <= MAX_SEC
    }

    fn buffers(&mut self, _: QmVersion) -> Result<Buffers> {
        Ok(Buffers {
            input: Some(self.data.clone()),
            output: None,
            keep: self
                .key
                .as_ref()
                .map(|k| k.device.clone() as Arc<dyn Send + Sync>),
        })
    }

    fn sqe(&self, tag: u32, scr: &mut Scratch, bufs: &Buffers, version: QmVersion) -> Result<Sqe> {
        if let Some(st) = &self.state {
            scr.0[scratch::MAC..scratch::MAC + 64].copy_from_slice(st);
        }
        let input = bufs.input();
        let op = SecOp::Digest(DigestRequest {
            alg: self.alg.digest_alg(),
            hmac_key: self.key.as_ref().map(|k| HwHmacKey {
                addr: addr(&k.device),
                len: k.device.len() as u32,
            }),
            src_addr: addr(input),
            len: input.len() as u32,
            mac_addr: scr.0.as_ptr() as u64 + scratch::MAC as u64,
            mac_len: self.alg.output_len() as u32,
            stage: self.stage,
        });
        sec_encode(op, tag, version, input.len())
    }

    fn complete(&mut self, out: JobOutput, _: QmVersion) -> Result<Step<Vec<u8>>> {
        check_sec(&out.sqe)?;
        Ok(Step::Done(match self.stage {
            DigestStage::OneShot | DigestStage::Last { .. } => {
                out.mac[..self.alg.output_len()].to_vec()
            }
            DigestStage::First | DigestStage::Middle => out.mac.to_vec(),
        }))
    }

    fn cpu(self) -> Result<Vec<u8>> {
        if self.stage != DigestStage::OneShot {
            return Err(Error::Unsupported("long-hash parts run on devices only"));
        }
        let r = match &self.key {
            Some(k) => uacce_soft::sec::hmac(self.alg.digest_alg(), &k.raw, &self.data),
            None => uacce_soft::sec::hash(self.alg.digest_alg(), &self.data),
        };
        r.map_err(|_| Error::Unsupported("hash"))
    }
}

impl Accel {
    /// One whole hash or HMAC of `data`, on a device if it fits one job, else on the CPU.
    async fn digest_job(
        &self,
        alg: HashAlg,
        key: Option<&HmacKey>,
        data: Bytes,
    ) -> Result<Vec<u8>> {
        self.inner
            .execute(DigestJob {
                alg,
                key: key.cloned(),
                data,
                stage: DigestStage::OneShot,
                state: None,
            })
            .await
    }

    /// One long-hash part on a device (parts are never empty nor over one BD, so they always fit): returns the
    /// raw state (`First`, `Middle`) or the digest (`Last`).
    async fn hash_part(
        &self,
        alg: HashAlg,
        data: Bytes,
        stage: DigestStage,
        state: Option<[u8; 64]>,
    ) -> Result<Vec<u8>> {
        self.inner
            .execute(DigestJob {
                alg,
                key: None,
                data,
                stage,
                state,
            })
            .await
    }
}

impl Accel {
    /// Hash `data` in one job (longer inputs go through [`Hasher`]).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), uacce_async::Error> {
    /// use uacce_async::{Accel, Backend, HashAlg};
    /// let accel = Accel::builder().backend(Backend::Emulated).build().await?;
    /// let d = accel.digest(HashAlg::Sha256, &b"abc"[..]).await?;
    /// // FIPS 180-2, appendix B.1.
    /// assert_eq!(d[..4], [0xba, 0x78, 0x16, 0xbf]);
    /// assert_eq!(d.len(), HashAlg::Sha256.output_len());
    /// assert_eq!(accel.digest(HashAlg::Sha512, &b"abc"[..]).await?.len(), 64);
    /// # Ok(()) }
    /// ```
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the call changes no state of the [`Accel`](crate::Accel), so dropping the future only abandons
    /// the job. A job already on a device keeps its buffers until the device completes it (then they are freed); a
    /// CPU job not yet started is skipped, one already running finishes on its pool thread. The call can simply be
    /// made again.
    pub async fn digest(&self, alg: HashAlg, data: impl Into<Bytes>) -> Result<Vec<u8>> {
        let data: Bytes = data.into();
        if data.len() > MAX_SEC && self.inner.pools.sec.is_some() {
            let mut h = self.hasher(alg);
            h.update(data).await?;
            return h.finalize().await;
        }
        self.digest_job(alg, None, data).await
    }

    /// HMAC of `data` with `key` (the key's hash function).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), uacce_async::Error> {
    /// use uacce_async::{Accel, Backend, HashAlg, HmacKey};
    /// let accel = Accel::builder().backend(Backend::Emulated).build().await?;
    /// // RFC 4231, test case 2.
    /// let key = HmacKey::new(HashAlg::Sha256, b"Jefe");
    /// let mac = accel.hmac_sign(&key, &b"what do ya want for nothing?"[..]).await?;
    /// assert_eq!(mac[..4], [0x5b, 0xdc, 0xc1, 0x46]);
    /// # Ok(()) }
    /// ```
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the call changes no state of the [`Accel`](crate::Accel), so dropping the future only abandons
    /// the job. A job already on a device keeps its buffers until the device completes it (then they are freed); a
    /// CPU job not yet started is skipped, one already running finishes on its pool thread. The call can simply be
    /// made again.
    pub async fn hmac_sign(&self, key: &HmacKey, data: impl Into<Bytes>) -> Result<Vec<u8>> {
        self.digest_job(key.alg, Some(key), data.into()).await
    }

    /// Check an HMAC in constant time: [`Error::AuthFailed`] if it does not match.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), uacce_async::Error> {
    /// use uacce_async::{Accel, Backend, Error, HashAlg, HmacKey};
    /// let accel = Accel::builder().backend(Backend::Emulated).build().await?;
    /// let key = HmacKey::new(HashAlg::Sha512, b"a shared secret");
    /// let mac = accel.hmac_sign(&key, &b"message"[..]).await?;
    /// accel.hmac_verify(&key, &b"message"[..], &mac).await?;
    /// let err = accel.hmac_verify(&key, &b"massage"[..], &mac).await;
    /// assert!(matches!(err, Err(Error::AuthFailed)));
    /// # Ok(()) }
    /// ```
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the call changes no state of the [`Accel`](crate::Accel), so dropping the future only abandons
    /// the job. A job already on a device keeps its buffers until the device completes it (then they are freed); a
    /// CPU job not yet started is skipped, one already running finishes on its pool thread. The call can simply be
    /// made again.
    pub async fn hmac_verify(
        &self,
        key: &HmacKey,
        data: impl Into<Bytes>,
        mac: &[u8],
    ) -> Result<()> {
        let expect = self.hmac_sign(key, data).await?;
        // Constant time over the contents (a length mismatch is not secret).
        if !bool::from(subtle::ConstantTimeEq::ct_eq(&expect[..], mac)) {
            return Err(Error::AuthFailed);
        }
        Ok(())
    }

    /// An incremental hash: feed any amount of data, get the digest at the end. On devices the data goes in
    /// long-hash parts of about 1 MiB; on the CPU it is hashed as it comes.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), uacce_async::Error> {
    /// use uacce_async::{Accel, Backend, HashAlg};
    /// let accel = Accel::builder().backend(Backend::Emulated).build().await?;
    /// let mut h = accel.hasher(HashAlg::Sha256);
    /// for chunk in [&b"a"[..], b"b", b"c"] {
    ///     h.update(chunk).await?;
    /// }
    /// assert_eq!(h.finalize().await?, accel.digest(HashAlg::Sha256, &b"abc"[..]).await?);
    /// # Ok(()) }
    /// ```
    #[must_use = "a hasher does nothing until it is fed and finalized"]
    pub fn hasher(&self, alg: HashAlg) -> Hasher {
        Hasher {
            accel: self.clone(),
            alg,
            pending: BytesMut::new(),
            state: None,
            total: 0,
            cpu: None,
            poisoned: false,
        }
    }
}

/// Bytes per long-hash part on devices (a multiple of every block size).
const HASH_PART: usize = 1 << 20;

/// An incremental hash ([`Accel::hasher`]).
///
/// # Cancel safety
///
/// [`Hasher::update`] is cancel safe in this sense: dropping its future either leaves the hasher exactly as before
/// the call (a step that needed no device job or CPU-pool job has nothing to cancel), or, if parts of the data may
/// already have been hashed, poisons it: every later `update` and [`Hasher::finalize`] then fails with
/// [`Error::Poisoned`]. It never returns a digest of data that was not fed by completed updates. The same holds when
/// an update fails.
pub struct Hasher {
    accel: Accel,
    alg: HashAlg,
    pending: BytesMut,
    state: Option<[u8; 64]>,
    /// Bytes fed by completed updates.
    total: u64,
    cpu: Option<CpuHash>,
    /// A step was cancelled or failed midway.
    poisoned: bool,
}

/// Data fed in one [`Hasher::update`] on the CPU backend up to which it is hashed on the caller's thread (about
/// 30 µs of SHA-256); more goes to the CPU pool.
const CPU_INLINE: usize = 64 << 10;

/// Why a poisoned [`Hasher`] refuses to go on.
const POISONED: &str =
    "an earlier update of this hasher was cancelled or failed midway; its state is unknown";

enum CpuHash {
    Sha256(sha2::Sha256),
    Sha512(sha2::Sha512),
}

impl CpuHash {
    fn new(alg: HashAlg) -> Self {
        use sha2::Digest;
        match alg {
            HashAlg::Sha256 => CpuHash::Sha256(sha2::Sha256::new()),
            HashAlg::Sha512 => CpuHash::Sha512(sha2::Sha512::new()),
        }
    }

    fn update(&mut self, data: &[u8]) {
        use sha2::Digest;
        match self {
            CpuHash::Sha256(h) => h.update(data),
            CpuHash::Sha512(h) => h.update(data),
        }
    }

    fn finalize(self) -> Vec<u8> {
        use sha2::Digest;
        match self {
            CpuHash::Sha256(h) => h.finalize().to_vec(),
            CpuHash::Sha512(h) => h.finalize().to_vec(),
        }
    }
}

impl std::fmt::Debug for Hasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hasher")
            .field("alg", &self.alg)
            .field("total", &self.total)
            .finish_non_exhaustive()
    }
}

impl Hasher {
    /// Feed data.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future leaves the hasher as it was, or poisons it (see [`Hasher`]): never a wrong digest.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), uacce_async::Error> {
    /// use uacce_async::{Accel, Backend, HashAlg};
    /// let accel = Accel::builder().backend(Backend::Emulated).build().await?;
    /// let mut h = accel.hasher(HashAlg::Sha512);
    /// h.update(b"any ").await?;
    /// h.update(vec![b'x'; 3 << 20]).await?; // longer than one job: goes in parts
    /// h.update("amount").await?;
    /// assert_eq!(h.finalize().await?.len(), 64);
    /// # Ok(()) }
    /// ```
    pub async fn update(&mut self, data: impl AsRef<[u8]>) -> Result<()> {
        if self.poisoned {
            return Err(Error::Poisoned(POISONED));
        }
        let data = data.as_ref();
        if self.accel.inner.pools.sec.is_none() {
            let mut h = self.cpu.take().unwrap_or_else(|| CpuHash::new(self.alg));
            if data.len() <= CPU_INLINE {
                h.update(data);
            } else {
                // Off the runtime's thread. The state travels with the job: cancelled, it is lost (poisoned).
                self.poisoned = true;
                let data = Bytes::copy_from_slice(data);
                h = self
                    .accel
                    .cpu_blocking(move || {
                        h.update(&data);
                        Ok(h)
                    })
                    .await?;
                self.poisoned = false;
            }
            self.cpu = Some(h);
            self.total += data.len() as u64;
            return Ok(());
        }
        if self.pending.len() + data.len() <= HASH_PART {
            // No part to send: nothing awaited, so nothing to cancel.
            self.pending.extend_from_slice(data);
            self.total += data.len() as u64;
            return Ok(());
        }
        // Parts go to the device: a step cancelled or failed midway would leave a state that hashed part of
        // `data`; the hasher is poisoned until the whole step has completed.
        self.poisoned = true;
        self.pending.extend_from_slice(data);
        // Keep at least one byte back so the last part is never empty (BD2 refuses empty parts).
        while self.pending.len() > HASH_PART {
            let part = self.pending.split_to(HASH_PART).freeze();
            let stage = if self.state.is_none() {
                DigestStage::First
            } else {
                DigestStage::Middle
            };
            let st = self
                .accel
                .hash_part(self.alg, part, stage, self.state)
                .await?;
            let mut state = [0u8; 64];
            state.copy_from_slice(&st);
            self.state = Some(state);
        }
        self.total += data.len() as u64;
        self.poisoned = false;
        Ok(())
    }

    /// The digest of everything fed.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), uacce_async::Error> {
    /// use uacce_async::{Accel, Backend, HashAlg};
    /// let accel = Accel::builder().backend(Backend::Emulated).build().await?;
    /// // Nothing fed: the digest of the empty message (FIPS 180-2).
    /// let empty = accel.hasher(HashAlg::Sha256).finalize().await?;
    /// assert_eq!(empty[..4], [0xe3, 0xb0, 0xc4, 0x42]);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Poisoned`] if an earlier update was cancelled or failed midway; the job errors of [`Error`].
    ///
    /// # Cancel safety
    ///
    /// The hasher is consumed by the call: dropping the future drops it with the data fed (a device job in flight
    /// keeps its buffers until it completes). Nothing else changes.
    pub async fn finalize(mut self) -> Result<Vec<u8>> {
        if self.poisoned {
            return Err(Error::Poisoned(POISONED));
        }
        if let Some(h) = self.cpu.take() {
            return Ok(h.finalize());
        }
        if self.accel.inner.pools.sec.is_none() {
            return Ok(uacce_soft::sec::hash(self.alg.digest_alg(), &[]).unwrap_or_default());
        }
        let rest = self.pending.split().freeze();
        match self.state {
            None => self.accel.digest_job(self.alg, None, rest).await,
            Some(st) => {
                let out = self
                    .accel
                    .hash_part(
                        self.alg,
                        rest,
                        DigestStage::Last {
                            total_len: self.total,
                        },
                        Some(st),
                    )
                    .await?;
                Ok(out)
            }
        }
    }
}
