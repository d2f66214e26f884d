//! What an [`Accel`] is built from: the backend, the completion strategy, pool sizes, limits.

use std::time::Duration;

use crate::accel::Accel;
#[cfg(feature = "emu")]
use crate::backend::EmuOptions;
use crate::error::{Error, Result};
use crate::notify::NotifyMode;
use crate::pkey::RsaFaultCheck;
use crate::routing::Routing;
use crate::stats::Family;

/// Which devices serve the jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Backend {
    /// Real uacce devices for each kind of job where present and usable, the CPU backend for the rest.
    #[default]
    Auto,
    /// Real uacce devices only; building fails if compression or crypto has none (ZIP, SEC). Public-key jobs with
    /// no `hisi_hpre` device for them (none at all; ECC needs QM v3) fail one by one ([`Error::NoDevice`],
    /// [`Error::Unsupported`]) rather than run on the CPU.
    Hardware,
    /// The in-process emulated devices (`uacce-emu`).
    Emulated,
    /// The CPU on a bounded blocking pool (flate2 with zlib-rs; ring for AES-GCM, RustCrypto for the rest).
    Cpu,
}

impl Backend {
    /// `UACCE_BACKEND` = `auto` | `hw` | `emu` | `cpu` (unset: `Auto`).
    ///
    /// ```
    /// use uacce_async::Backend;
    /// // `UACCE_BACKEND=emu cargo run …` selects the emulated devices; unset means `Backend::Auto`.
    /// match Backend::from_env() {
    ///     Ok(backend) => println!("backend: {backend:?}"),
    ///     Err(e) => eprintln!("{e}"), // a value other than auto, hw, emu or cpu
    /// }
    /// // The same names parse directly:
    /// assert_eq!("emu".parse::<Backend>().unwrap(), Backend::Emulated);
    /// assert!("gpu".parse::<Backend>().is_err());
    /// ```
    pub fn from_env() -> Result<Self> {
        match std::env::var("UACCE_BACKEND") {
            Err(_) => Ok(Backend::Auto),
            Ok(v) => v.parse(),
        }
    }
}

impl std::str::FromStr for Backend {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "" | "auto" => Ok(Backend::Auto),
            "hw" | "hardware" => Ok(Backend::Hardware),
            "emu" | "emulated" | "emulator" => Ok(Backend::Emulated),
            "cpu" | "software" => Ok(Backend::Cpu),
            _ => Err(Error::InvalidParameter(
                "backend must be one of auto, hw, emu, cpu (UACCE_BACKEND)",
            )),
        }
    }
}

/// Configuration of an [`Accel`].
///
/// `#[non_exhaustive]`: fields are added in minor releases, so outside this crate a `Config` is made by
/// [`Config::default`] (then fields assigned) or, more usually, through the setters of [`AccelBuilder`], one per
/// field.
///
/// ```
/// use uacce_async::{Backend, Config};
/// let mut config = Config::default();
/// config.backend = Backend::Cpu;
/// config.cpu_threads = 2;
/// assert_eq!(config.cpu_level, 6);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    /// Backend (default: `UACCE_BACKEND`, else `Auto`).
    pub backend: Backend,
    /// Completion strategy (default [`NotifyMode::Eventfd`]).
    pub mode: NotifyMode,
    /// Queues opened per device and kind of job, within the device's `available_instances` (default 2).
    pub queues_per_device: usize,
    /// A job not completed in this time fails with [`Error::Timeout`] and its queue is retired (default 10 s;
    /// `None` waits forever).
    pub job_timeout: Option<Duration>,
    /// Largest output `decompress` produces before failing with [`Error::OutputLimit`] (default 256 MiB).
    pub max_decompressed: usize,
    /// Threads of the CPU backend's blocking pool (default: available parallelism).
    pub cpu_threads: usize,
    /// Deflate level of the CPU backend, 0..=9 (default 6). Hardware has no level.
    pub cpu_level: u32,
    /// Streams ([`StreamCompressor`](crate::StreamCompressor), the `bufread` and `write` encoders and decoders)
    /// open at once, on every backend (default 4096). Opening one more fails with [`Error::Busy`]; a stream's slot
    /// is free again when it is dropped. Each open stream holds a 64 KiB context on a device (the emulator also its
    /// codec state), or a software codec (about 300 KiB for compression) on the CPU.
    pub max_streams: usize,
    /// Smallest input of one device job (or CPU step) of the streaming encoders and decoders (`bufread`, `write`),
    /// default 32 KiB, at most 64 KiB (one stream BD). Small writes and small reads are gathered until this much is
    /// there, so a decoder fed one byte at a time sends one job per `stream_chunk` bytes, not one per byte. Nothing
    /// waits past an explicit `flush` or `shutdown`, the end of the input, or a `bufread` reader that has nothing
    /// more ready (`Poll::Pending`): then what was gathered goes out at once. [`StreamCompressor`](crate::StreamCompressor)
    /// is driven call by call and sends each call's input as it comes.
    pub stream_chunk: usize,
    /// Emulated backend options.
    #[cfg(feature = "emu")]
    pub emu: EmuOptions,
    /// Only these uacce devices serve jobs (class entry names under `/sys/class/uacce`, e.g. `hisi_zip-0`,
    /// `hisi_sec2-1`); `None` (default) uses every usable device.
    ///
    /// Applies to the hardware backends, `Auto` and `Hardware`. Building fails with [`Error::NoDevice`] when a named
    /// device does not exist (the message lists the devices found) or cannot serve jobs (isolated, no SVA, an api
    /// this crate does not speak, or none of `gzip`, `aead`, `rsa` (HPRE, QM v2 and newer) and the HPRE ECC
    /// algorithms on QM v3 among its algorithms): a device named on purpose
    /// is not skipped silently, as `Auto` skips unusable devices it found by itself. A kind of job that none of
    /// the named devices serves (e.g. crypto when only `hisi_zip-0` is named) runs on the CPU backend under
    /// `Auto`, and fails the build under `Hardware`, which needs devices for every kind. An empty list names no
    /// device: `Auto` then runs everything on the CPU.
    ///
    /// Ignored by `Emulated` and `Cpu`, which have no uacce devices: so `UACCE_BACKEND=emu` or `cpu` can switch a
    /// program that names its devices without another change.
    pub devices: Option<Vec<String>>,
    /// How one-shot jobs are split between devices and the CPU: size thresholds per family, overflow to the CPU
    /// when every queue is full, redo on the CPU after a device failure (default [`Routing::default`]: the measured
    /// thresholds, no overflow, backup on). Streams are not routed per job.
    pub routing: Routing,
    /// How an RSA private-key result from an HPRE device is checked for faults before it is released (default
    /// [`RsaFaultCheck::Device`]: a second HPRE request of the same job, the public operation on the result;
    /// [`RsaFaultCheck::Cpu`]: in software, independent of the device). The CPU backend is not affected.
    pub rsa_fault_check: RsaFaultCheck,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            backend: Backend::from_env().unwrap_or_default(),
            mode: NotifyMode::default(),
            queues_per_device: 2,
            job_timeout: Some(Duration::from_secs(10)),
            max_decompressed: 256 << 20,
            cpu_threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
            cpu_level: 6,
            max_streams: 4096,
            stream_chunk: 32 << 10,
            #[cfg(feature = "emu")]
            emu: EmuOptions::default(),
            devices: None,
            routing: Routing::default(),
            rsa_fault_check: RsaFaultCheck::default(),
        }
    }
}

/// Builder of an [`Accel`]: one setter per [`Config`] field, then [`AccelBuilder::build`].
#[derive(Debug, Clone, Default)]
#[must_use = "a builder does nothing until `build` is awaited"]
pub struct AccelBuilder {
    config: Config,
}

impl AccelBuilder {
    /// Choose the backend.
    pub fn backend(mut self, backend: Backend) -> Self {
        self.config.backend = backend;
        self
    }

    /// Choose the completion strategy.
    pub fn mode(mut self, mode: NotifyMode) -> Self {
        self.config.mode = mode;
        self
    }

    /// Queues per device and kind of job.
    pub fn queues_per_device(mut self, n: usize) -> Self {
        self.config.queues_per_device = n.max(1);
        self
    }

    /// Job timeout (`None`: wait forever).
    pub fn job_timeout(mut self, t: Option<Duration>) -> Self {
        self.config.job_timeout = t;
        self
    }

    /// Decompression output limit.
    pub fn max_decompressed(mut self, bytes: usize) -> Self {
        self.config.max_decompressed = bytes;
        self
    }

    /// Smallest input of a streaming job (see [`Config::stream_chunk`]; 0 is taken as 1, more than 64 KiB as 64 KiB).
    pub fn stream_chunk(mut self, bytes: usize) -> Self {
        self.config.stream_chunk = bytes;
        self
    }

    /// Streams open at once (see [`Config::max_streams`]).
    pub fn max_streams(mut self, n: usize) -> Self {
        self.config.max_streams = n;
        self
    }

    /// Threads of the CPU backend's blocking pool (see [`Config::cpu_threads`]; 0 is taken as 1).
    pub fn cpu_threads(mut self, n: usize) -> Self {
        self.config.cpu_threads = n;
        self
    }

    /// Deflate level of the CPU backend, 0..=9 (see [`Config::cpu_level`]); [`AccelBuilder::build`] refuses a
    /// level over 9 with [`Error::InvalidParameter`].
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use uacce_async::{Accel, Backend, Error};
    /// let accel = Accel::builder().backend(Backend::Cpu).cpu_level(1).cpu_threads(2).build().await.unwrap();
    /// assert_eq!(accel.config().cpu_level, 1);
    /// let err = Accel::builder().backend(Backend::Cpu).cpu_level(10).build().await;
    /// assert!(matches!(err, Err(Error::InvalidParameter(_))));
    /// # }
    /// ```
    pub fn cpu_level(mut self, level: u32) -> Self {
        self.config.cpu_level = level;
        self
    }

    /// Emulated backend options.
    #[cfg(feature = "emu")]
    pub fn emu(mut self, emu: EmuOptions) -> Self {
        self.config.emu = emu;
        self
    }

    /// Serve jobs only on these uacce devices (hardware backends; see [`Config::devices`]).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use uacce_async::{Accel, Backend, Error};
    /// // A device that does not exist is an error at build time, naming it and listing the devices found.
    /// let err = Accel::builder()
    ///     .backend(Backend::Hardware)
    ///     .devices(["hisi_zip-99"])
    ///     .build()
    ///     .await
    ///     .unwrap_err();
    /// assert!(matches!(&err, Error::NoDevice { message, .. } if message.contains("hisi_zip-99")), "{err}");
    /// # }
    /// ```
    pub fn devices<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.config.devices = Some(names.into_iter().map(Into::into).collect());
        self
    }

    /// The routing policy (see [`Config::routing`]).
    pub fn routing(mut self, routing: Routing) -> Self {
        self.config.routing = routing;
        self
    }

    /// Jobs of `family` with fewer input bytes than `bytes` run on the CPU (0: every job that fits goes to a
    /// device). See [`Routing`].
    pub fn min_device_bytes(mut self, family: Family, bytes: usize) -> Self {
        self.config.routing = self.config.routing.min_device_bytes(family, bytes);
        self
    }

    /// Run a job on the CPU when every queue of its family is full (default off).
    pub fn overflow_to_cpu(mut self, on: bool) -> Self {
        self.config.routing.overflow_to_cpu = on;
        self
    }

    /// Redo on the CPU a job a device failed, when it is safe to redo (default on).
    pub fn cpu_backup(mut self, on: bool) -> Self {
        self.config.routing.cpu_backup = on;
        self
    }

    /// How RSA private-key results from a device are checked for faults ([`Config::rsa_fault_check`]).
    pub fn rsa_fault_check(mut self, check: RsaFaultCheck) -> Self {
        self.config.rsa_fault_check = check;
        self
    }

    /// Replace the whole configuration.
    ///
    /// # Errors
    ///
    /// None here; [`AccelBuilder::build`] checks the configuration.
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// Open the devices and start the completion drivers. Must run inside a tokio runtime.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidParameter`] for a configuration out of range (a `cpu_level` over 9);
    /// [`Error::NoDevice`] when `Backend::Hardware` finds no usable device for a kind of job, or a device named in
    /// [`Config::devices`] is missing or unusable; [`Error::Setup`] when a device queue cannot be opened or
    /// started, or a completion strategy cannot start (its source is the cause; see [`Error::device_kind`]).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), uacce_async::Error> {
    /// use std::time::Duration;
    /// use uacce_async::{Accel, Backend, EmuOptions, NotifyMode, ServiceModel};
    /// let accel = Accel::builder()
    ///     .backend(Backend::Emulated)
    ///     .mode(NotifyMode::Hybrid)
    ///     .queues_per_device(1)
    ///     .job_timeout(Some(Duration::from_secs(2)))
    ///     .emu(
    ///         EmuOptions::default()
    ///             .depth(64)
    ///             .service(ServiceModel::Fixed(Duration::from_micros(20))),
    ///     )
    ///     .build()
    ///     .await?;
    /// assert!(accel.compression_offloaded() && accel.crypto_offloaded());
    /// println!("jobs run on {}", accel.description());
    /// # Ok(()) }
    /// ```
    ///
    /// # Cancel safety
    ///
    /// Dropping the future before it completes releases whatever it had opened (queues, completion drivers,
    /// emulated devices): no accelerator is half built. Build again to retry.
    pub async fn build(self) -> Result<Accel> {
        Accel::with_config(self.config).await
    }
}
