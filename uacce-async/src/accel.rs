//! The accelerator handle: what serves each kind of job, and its life.

use std::sync::Arc;

use crate::backend::{self, CpuPool, LaneEnv};
use crate::config::{AccelBuilder, Backend, Config};
use crate::error::{Error, Result};
use crate::lane::{Class, Lane};
use crate::notify::Notifier;
use crate::pool::{ClassPool, Pools};
use crate::stats::{Counters, Stats};

/// A kind of job, for [`Accel::offloaded`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum JobKind {
    /// [`Accel::compress`], the streaming encoders and [`StreamCompressor`](crate::StreamCompressor).
    Compress,
    /// [`Accel::decompress`] and its variants, the streaming decoders.
    Decompress,
    /// AES-GCM seal and open.
    AesGcm,
    /// Authenc (AES-CBC + HMAC) seal and open ([`Accel::authenc_seal`]): SEC devices of both QM versions.
    Authenc,
    /// Raw AES-CBC ([`crate::hazmat`]).
    AesCbc,
    /// Raw AES-CTR ([`crate::hazmat`]).
    AesCtr,
    /// Raw AES-XTS ([`crate::hazmat`]).
    AesXts,
    /// Any raw block-cipher mode ([`crate::hazmat`]): `Cipher(BlockCipher::Aes, CipherMode::Cbc)` is
    /// [`JobKind::AesCbc`]. ECB, CBC and XTS run on SEC devices of both QM versions; CTR, OFB and CFB on v3 only.
    Cipher(crate::hazmat::BlockCipher, crate::hazmat::CipherMode),
    /// [`Accel::digest`] and [`Hasher`](crate::Hasher).
    Digest,
    /// [`Accel::hmac_sign`] and [`Accel::hmac_verify`].
    Hmac,
    /// [`Accel::nop`] (the emulator's null device).
    Nop,
    /// RSA (the raw operations, signatures, OAEP), on HPRE queues of type 0: emulated, or `hisi_hpre` devices
    /// of QM v2 and v3 that list `rsa`.
    Rsa,
    /// The elliptic-curve jobs (ECDSA, ECDH, X25519, X448, SM2), on HPRE's ECC queues (type 1): QM v3 devices only.
    Ecc,
    /// CCM with this block cipher ([`Accel::ccm_seal`], [`Accel::ccm_open`]): AES on QM v2 and v3, SM4 on v3.
    Ccm(crate::hazmat::BlockCipher),
    /// SM4-GCM ([`Accel::sm4_gcm_seal`]): QM v3.
    Sm4Gcm,
    /// An AES MAC ([`Accel::mac_sign`], [`Accel::gmac_sign`]): CMAC (16-byte keys) and XCBC-MAC-96 on QM v2 and
    /// v3, GMAC on v3.
    Mac(crate::MacAlgorithm),
}

/// What an [`Accel`] shares between its clones.
pub(crate) struct Inner {
    pub(crate) config: Config,
    /// The device queues per kind of job (`None`: that kind runs on the CPU).
    pub(crate) pools: Pools,
    /// The CPU backend.
    pub(crate) cpu: CpuPool,
    /// One permit per stream that may be open ([`Config::max_streams`]).
    pub(crate) streams: Arc<tokio::sync::Semaphore>,
    /// The public statistics' per-family counters.
    pub(crate) counters: Counters,
    /// The completion strategy the lanes are attached to.
    notifier: Notifier,
    #[cfg(feature = "emu")]
    emu_devices: Vec<uacce_emu::EmuDevice>,
    description: String,
}

impl Inner {
    /// What opening a lane needs.
    pub(crate) fn lane_env(&self) -> LaneEnv<'_> {
        LaneEnv {
            mode: self.config.mode,
            job_timeout: self.config.job_timeout,
            notifier: &self.notifier,
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        for p in self.pools.iter() {
            p.retire_all(Error::Shutdown);
        }
    }
}

/// Handle to the accelerators: cheap to clone, shared by all tasks.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), uacce_async::Error> {
/// use uacce_async::{Accel, Backend, Config, Format};
/// let accel = Accel::builder().backend(Backend::Emulated).build().await?;
/// let gz = accel.compress(Format::Gzip, &b"hello hello hello"[..]).await?;
/// assert_eq!(&accel.decompress(Format::Gzip, gz).await?[..], b"hello hello hello");
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Accel {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Accel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Accel")
            .field("description", &self.inner.description)
            .field("mode", &self.inner.config.mode)
            .finish_non_exhaustive()
    }
}

impl Accel {
    /// A builder with the default configuration.
    pub fn builder() -> AccelBuilder {
        AccelBuilder::default()
    }

    /// An accelerator with the default configuration (`UACCE_BACKEND`, else `Auto`).
    ///
    /// # Errors
    ///
    /// As [`AccelBuilder::build`].
    ///
    /// # Cancel safety
    ///
    /// Dropping the future before it completes releases whatever it had opened (queues, completion drivers,
    /// emulated devices): no accelerator is half built. Build again to retry.
    pub async fn new() -> Result<Self> {
        Self::with_config(Config::default()).await
    }

    /// An accelerator with `config`.
    ///
    /// # Errors
    ///
    /// As [`AccelBuilder::build`].
    ///
    /// # Cancel safety
    ///
    /// Dropping the future before it completes releases whatever it had opened (queues, completion drivers,
    /// emulated devices): no accelerator is half built. Build again to retry.
    pub async fn with_config(config: Config) -> Result<Self> {
        if config.cpu_level > 9 {
            return Err(Error::InvalidParameter("cpu_level must be 0..=9"));
        }
        // The CPU backend opens no queue: it needs no completion strategy running.
        let notifier = if config.backend == Backend::Cpu {
            Notifier::Task { hybrid: false }
        } else {
            Notifier::start(config.mode)?
        };
        let found = backend::discover(&config)?;
        let mut inner = Inner {
            pools: Pools::default(),
            cpu: CpuPool::new(config.cpu_threads),
            streams: Arc::new(tokio::sync::Semaphore::new(
                config.max_streams.min(tokio::sync::Semaphore::MAX_PERMITS),
            )),
            counters: Counters::default(),
            notifier,
            #[cfg(feature = "emu")]
            emu_devices: found.emu_devices,
            description: found.description,
            config,
        };
        let (per, be) = (inner.config.queues_per_device, inner.config.backend);
        for (class, sources) in [
            (Class::ZipCompress, found.zip.clone()),
            (Class::ZipDecompress, found.zip),
            (Class::Sec, found.sec),
            (Class::Null, found.null),
            (Class::Hpre, found.hpre),
            (Class::HpreEcc, found.hpre_ecc),
        ] {
            // Each pool joins `inner` at once: if a later one fails, dropping `inner` retires the lanes opened.
            let pool = ClassPool::open(class, sources, per, be, &inner.lane_env())?;
            inner.pools.set(class, pool);
        }
        Ok(Accel {
            inner: Arc::new(inner),
        })
    }

    /// What serves the jobs, in words (for logs and reports).
    pub fn description(&self) -> &str {
        &self.inner.description
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The emulated devices (empty unless the backend is `Emulated`): for fault injection and counters in tests
    /// and benchmarks.
    #[cfg(feature = "emu")]
    pub fn emulated_devices(&self) -> &[uacce_emu::EmuDevice] {
        &self.inner.emu_devices
    }

    /// True if both compression and decompression run on devices ([`Accel::offloaded`] of
    /// [`JobKind::Compress`] and [`JobKind::Decompress`]).
    pub fn compression_offloaded(&self) -> bool {
        self.offloaded(JobKind::Compress) && self.offloaded(JobKind::Decompress)
    }

    /// True if crypto jobs have SEC devices: AES-GCM, digests, HMACs, AES-CBC and AES-XTS run on them. AES-CTR
    /// may still run on the CPU (QM v2 queues have no CTR): ask [`Accel::offloaded`] with [`JobKind::AesCtr`].
    pub fn crypto_offloaded(&self) -> bool {
        self.inner.pools.sec.is_some()
    }

    /// A snapshot of the statistics: per job family (submitted, completed, failed by kind, in flight, on a device
    /// or on the CPU by reason, bytes in and out), per device and per queue (SQEs, CQEs, in flight, failures,
    /// bytes, backpressure waits). Reading them costs a few atomic loads per counter and a lock per pool; the
    /// counters themselves are relaxed atomics bumped on the job path. See [`Stats`].
    pub fn stats(&self) -> Stats {
        let mut queues = Vec::new();
        let mut devices = Vec::new();
        for p in self.inner.pools.iter() {
            p.stats_into(&mut queues, &mut devices);
        }
        for q in &queues {
            crate::stats::add_queue(crate::stats::device_entry(&mut devices, &q.device), q);
        }
        devices.sort_by(|a, b| a.name.cmp(&b.name));
        Stats {
            families: self.inner.counters.snapshot(),
            devices,
            queues,
        }
    }

    /// True if jobs of `kind` run on devices. Individual requests a device cannot take still run on the CPU
    /// whatever this says: inputs over a device's limit (8 MiB flat buffers for one-shot compression, 16 MiB for
    /// a SEC job, AAD over 64 KiB for AES-GCM) and empty hashes; so do jobs the routing policy sends there
    /// ([`Config::routing`](crate::Config::routing): small inputs, overflow, CPU backup).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), uacce_async::Error> {
    /// use uacce_async::{Accel, Backend, EmuOptions, JobKind};
    /// use uacce_sys::qm::QmVersion;
    /// let v2 = Accel::builder()
    ///     .backend(Backend::Emulated)
    ///     .emu(EmuOptions::default().version(QmVersion::V2))
    ///     .build()
    ///     .await?;
    /// assert!(v2.offloaded(JobKind::AesGcm) && v2.offloaded(JobKind::Compress));
    /// assert!(!v2.offloaded(JobKind::AesCtr)); // QM v2 has no CTR: the CPU does it
    /// let cpu = Accel::builder().backend(Backend::Cpu).build().await?;
    /// assert!(!cpu.offloaded(JobKind::Digest));
    /// # Ok(()) }
    /// ```
    pub fn offloaded(&self, kind: JobKind) -> bool {
        let pools = &self.inner.pools;
        match kind {
            JobKind::Compress => pools.zip_compress.is_some(),
            JobKind::Decompress => pools.zip_decompress.is_some(),
            JobKind::AesGcm
            | JobKind::Authenc
            | JobKind::AesCbc
            | JobKind::AesXts
            | JobKind::Digest
            | JobKind::Hmac => pools.sec.is_some(),
            JobKind::AesCtr => pools
                .sec
                .as_ref()
                .is_some_and(|p| !p.all_lanes_are(uacce_sys::qm::QmVersion::V2)),
            JobKind::Cipher(_, mode) => pools
                .sec
                .as_ref()
                .is_some_and(|p| mode.on_qm_v2() || !p.all_lanes_are(uacce_sys::qm::QmVersion::V2)),
            JobKind::Ccm(crate::hazmat::BlockCipher::Aes)
            | JobKind::Mac(crate::MacAlgorithm::AesCmac | crate::MacAlgorithm::AesXcbcMac96) => {
                pools.sec.is_some()
            }
            JobKind::Ccm(_) | JobKind::Sm4Gcm | JobKind::Mac(_) => pools
                .sec
                .as_ref()
                .is_some_and(|p| !p.all_lanes_are(uacce_sys::qm::QmVersion::V2)),
            JobKind::Nop => pools.null.is_some(),
            JobKind::Rsa => pools.hpre.is_some(),
            JobKind::Ecc => pools.hpre_ecc.is_some(),
        }
    }

    /// Live device queues (all kinds).
    pub fn live_queues(&self) -> usize {
        self.inner.pools.iter().map(ClassPool::live_lanes).sum()
    }

    /// Jobs this accelerator has handed to its CPU backend so far: requests routed there (no device for their kind,
    /// or too large for one), device jobs that finished on the CPU, and the CPU steps of streams on the CPU. A
    /// diagnostic: with devices serving a kind of job, it stays where it was while that work runs on them.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), uacce_async::Error> {
    /// use uacce_async::{Accel, Backend, Format};
    /// let cpu = Accel::builder().backend(Backend::Cpu).build().await?;
    /// cpu.compress(Format::Gzip, &b"abc"[..]).await?;
    /// assert_eq!(cpu.cpu_jobs(), 1);
    /// let emu = Accel::builder().backend(Backend::Emulated).build().await?;
    /// emu.compress(Format::Gzip, vec![7u8; 20 << 20]).await?; // 20 MiB: stream BDs on the device
    /// assert_eq!(emu.cpu_jobs(), 0);
    /// # Ok(()) }
    /// ```
    pub fn cpu_jobs(&self) -> u64 {
        self.inner.cpu.jobs()
    }

    /// A lane for a stream session of `class`, or `None` when that kind of job runs on the CPU.
    pub(crate) fn stream_lane(&self, class: Class) -> Result<Option<Arc<Lane>>> {
        match self.inner.pools.get(class) {
            Some(p) => p.pick(&self.inner.lane_env()).map(Some),
            None => Ok(None),
        }
    }

    /// Run `f` on the CPU backend's bounded blocking pool.
    pub(crate) async fn cpu_blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> Result<T> + Send + 'static,
    ) -> Result<T> {
        self.inner.cpu.run(f).await
    }
}
