//! Unauthenticated AES modes (CBC, CTR, XTS), public as [`crate::hazmat`]: one SEC job per request, the IV in the slot's scratch memory.
//! Requests over the SEC engine's 16 MiB, and CTR on QM v2 queues (BD2 has no CTR), run on the CPU.

use bytes::{Bytes, BytesMut};
use uacce_sys::qm::sec::{
    self, CipherAlg, CipherDir, CipherRequest, SecOp, SecOutcome, SecRequest,
};
use uacce_sys::qm::{QmVersion, Sqe};

use crate::accel::Accel;
use crate::error::{Error, Result};
use crate::job::{Job, Step, addr};
use crate::lane::{Buffers, Class, JobOutput, Scratch, scratch};
use crate::pool::ClassPool;
use crate::stats::Family;
use crate::types::{CipherKey, CipherMode, KeyBytes};

/// The most data one SEC BD takes.
pub(crate) const MAX_SEC: usize = sec::MAX_DATA_LEN as usize;

/// Encode a SEC request for a queue of `version`; `data_len` is the bytes the BD's data buffers hold.
///
/// `sva_prefetch` (BD3 only) follows UADK's rule for SVA flat buffers: set when the data is at most
/// [`sec::SVA_PREFETCH_MAX_LEN`] bytes (protocol doc §7.4, §11). The library always uses SVA flat buffers.
pub(crate) fn sec_encode(op: SecOp, tag: u32, version: QmVersion, data_len: usize) -> Result<Sqe> {
    sec::encode(
        &SecRequest {
            op,
            tag,
            sva_prefetch: version >= QmVersion::V3
                && data_len <= sec::SVA_PREFETCH_MAX_LEN as usize,
        },
        version,
    )
    .map_err(|e| Error::Device(format!("cannot encode the SEC request: {e}")))
}

/// The outcome of a completed SEC job.
pub(crate) fn check_sec(sqe: &Sqe) -> Result<()> {
    match sec::read_result(sqe).outcome() {
        SecOutcome::Ok => Ok(()),
        SecOutcome::MacMismatch => Err(Error::AuthFailed),
        SecOutcome::DeviceError { done, error_type } => Err(Error::Device(format!(
            "SEC job failed (done={done}, error_type={error_type:#04x})"
        ))),
    }
}

/// One AES encryption or decryption.
struct CipherJob {
    key: KeyBytes,
    mode: CipherMode,
    dir: CipherDir,
    iv: [u8; 16],
    data: Bytes,
}

impl Job for CipherJob {
    type Output = Bytes;
    const CLASS: Class = Class::Sec;
    const FAMILY: Family = Family::Cipher;

    fn size(&self) -> usize {
        self.data.len()
    }

    fn fits(&self, pool: &ClassPool) -> bool {
        // QM v2 (BD2) has no CTR (protocol doc §11): such queues hand CTR to the CPU.
        self.data.len() <= MAX_SEC
            && !(self.mode == CipherMode::Ctr && pool.all_lanes_are(QmVersion::V2))
    }

    fn buffers(&mut self, _: QmVersion) -> Result<Buffers> {
        Ok(Buffers {
            output: Some(BytesMut::zeroed(self.data.len())),
            input: Some(self.data.clone()),
            keep: Some(self.key.clone()),
        })
    }

    fn sqe(&self, tag: u32, scr: &mut Scratch, bufs: &Buffers, version: QmVersion) -> Result<Sqe> {
        let (input, output) = (bufs.input(), bufs.output());
        // The whole IV area is written every job (the slot's scratch is reused).
        scr.0[scratch::IV..scratch::IV + 16].copy_from_slice(&self.iv);
        let op = SecOp::Cipher(CipherRequest {
            alg: CipherAlg::Aes,
            mode: self.mode.hw(),
            dir: self.dir,
            key_addr: addr(&self.key),
            key_len: self.key.len() as u32,
            iv_addr: scr.0.as_ptr() as u64 + scratch::IV as u64,
            src_addr: addr(input),
            dst_addr: addr(output),
            len: input.len() as u32,
        });
        sec_encode(op, tag, version, input.len())
    }

    fn complete(&mut self, out: JobOutput, _: QmVersion) -> Result<Step<Bytes>> {
        check_sec(&out.sqe)?;
        Ok(Step::Done(out.into_output().freeze()))
    }

    fn cpu(self) -> Result<Bytes> {
        let mut buf = BytesMut::from(&self.data[..]);
        uacce_soft::sec::aes(self.mode.hw(), self.dir, &self.key, &self.iv, &mut buf)
            .map_err(|_| Error::InvalidParameter("AES parameters"))?;
        Ok(buf.freeze())
    }
}

/// Raw AES-CBC, AES-CTR and AES-XTS on [`Accel`]: **unauthenticated** encryption, brought into scope on purpose
/// with `use uacce_async::hazmat::UnauthenticatedCipher`.
///
/// # Warning
///
/// These modes give confidentiality only. Nothing detects a modified ciphertext: a flipped bit of CTR ciphertext
/// flips the same bit of the plaintext, CBC can be bent block by block, and a decryption of tampered data
/// "succeeds" with garbage (or chosen) plaintext. Reusing an IV with the same CTR key discloses the XOR of the two
/// plaintexts. Use [`Accel::aes_gcm_seal`] (AES-GCM, an AEAD) unless a format fixes the mode (disk sectors with
/// XTS, a protocol that authenticates separately with [`Accel::hmac_sign`] over the ciphertext).
///
/// The trait is sealed: only [`Accel`] implements it.
pub trait UnauthenticatedCipher: sealed::Sealed {
    /// Encrypt `data` with AES in `key`'s mode, with **no integrity protection** (see the trait's warning).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidLength`] for a length the mode refuses (CBC: not a nonzero multiple of 16; XTS: under 16
    /// bytes), and the job errors of [`Error`] (device, timeout, shutdown).
    ///
    /// # Cancel safety
    ///
    /// Stateless: dropping the future abandons the job (a device job in flight keeps its buffers until it
    /// completes) and changes nothing else.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), uacce_async::Error> {
    /// use uacce_async::{Accel, Backend};
    /// use uacce_async::hazmat::{CipherKey, CipherMode, UnauthenticatedCipher};
    /// let accel = Accel::builder().backend(Backend::Emulated).build().await?;
    /// // NIST SP 800-38A, F.2.1 (CBC-AES128.Encrypt), first block.
    /// let key = CipherKey::new(CipherMode::Cbc, &[
    ///     0x2b, 0x7e, 0x15, 0x16, 0x28, 0xae, 0xd2, 0xa6, 0xab, 0xf7, 0x15, 0x88, 0x09, 0xcf, 0x4f, 0x3c,
    /// ])?;
    /// let iv: [u8; 16] = std::array::from_fn(|i| i as u8);
    /// let plain = [
    ///     0x6b, 0xc1, 0xbe, 0xe2, 0x2e, 0x40, 0x9f, 0x96, 0xe9, 0x3d, 0x7e, 0x11, 0x73, 0x93, 0x17, 0x2a,
    /// ];
    /// let cipher = accel.encrypt_unauthenticated(&key, &iv, plain.to_vec()).await?;
    /// assert_eq!(cipher[..4], [0x76, 0x49, 0xab, 0xac]);
    /// assert_eq!(accel.decrypt_unauthenticated(&key, &iv, cipher).await?, plain[..]);
    /// // CBC takes whole blocks only (no padding).
    /// assert!(accel.encrypt_unauthenticated(&key, &iv, vec![0u8; 15]).await.is_err());
    /// # Ok(()) }
    /// ```
    fn encrypt_unauthenticated(
        &self,
        key: &CipherKey,
        iv: &[u8; 16],
        data: impl Into<Bytes>,
    ) -> impl Future<Output = Result<Bytes>> + Send;

    /// Decrypt `data` with AES in `key`'s mode. **Nothing is authenticated**: tampered input decrypts to wrong
    /// plaintext without an error (see the trait's warning).
    ///
    /// # Errors
    ///
    /// As [`UnauthenticatedCipher::encrypt_unauthenticated`]; never [`Error::AuthFailed`].
    ///
    /// # Cancel safety
    ///
    /// Stateless, as [`UnauthenticatedCipher::encrypt_unauthenticated`].
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), uacce_async::Error> {
    /// use uacce_async::{Accel, Backend};
    /// use uacce_async::hazmat::{CipherKey, CipherMode, UnauthenticatedCipher};
    /// let accel = Accel::builder().backend(Backend::Emulated).build().await?;
    /// // AES-256-XTS: two AES-256 keys; the IV is the tweak (e.g. the sector number).
    /// let key = CipherKey::new(CipherMode::Xts, &[[7u8; 32], [9u8; 32]].concat())?;
    /// let mut tweak = [0u8; 16];
    /// tweak[..8].copy_from_slice(&42u64.to_le_bytes());
    /// let sector = vec![0xa5u8; 512];
    /// let enc = accel.encrypt_unauthenticated(&key, &tweak, sector.clone()).await?;
    /// assert_ne!(enc, sector);
    /// assert_eq!(accel.decrypt_unauthenticated(&key, &tweak, enc).await?, sector);
    /// # Ok(()) }
    /// ```
    fn decrypt_unauthenticated(
        &self,
        key: &CipherKey,
        iv: &[u8; 16],
        data: impl Into<Bytes>,
    ) -> impl Future<Output = Result<Bytes>> + Send;
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for crate::Accel {}
}

impl UnauthenticatedCipher for Accel {
    fn encrypt_unauthenticated(
        &self,
        key: &CipherKey,
        iv: &[u8; 16],
        data: impl Into<Bytes>,
    ) -> impl Future<Output = Result<Bytes>> + Send {
        self.cipher(key, CipherDir::Encrypt, iv, data.into())
    }

    fn decrypt_unauthenticated(
        &self,
        key: &CipherKey,
        iv: &[u8; 16],
        data: impl Into<Bytes>,
    ) -> impl Future<Output = Result<Bytes>> + Send {
        self.cipher(key, CipherDir::Decrypt, iv, data.into())
    }
}

impl Accel {
    async fn cipher(
        &self,
        key: &CipherKey,
        dir: CipherDir,
        iv: &[u8; 16],
        data: Bytes,
    ) -> Result<Bytes> {
        let mode = key.mode;
        mode.check_len(data.len())?;
        if data.is_empty() {
            return Ok(Bytes::new());
        }
        let job = CipherJob {
            key: key.bytes.clone(),
            mode,
            dir,
            iv: *iv,
            data,
        };
        self.inner.execute(job).await
    }
}
