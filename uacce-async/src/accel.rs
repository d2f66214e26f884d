//! The accelerator handle: backends, queue pools, and the jobs.

use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use nix::sys::eventfd::{EfdFlags, EventFd};
use tokio::sync::Semaphore;
use uacce_emu::{DeviceKind, EmuConfig, EmuDevice, ServiceModel};
use uacce_sys::qm::sec::{
    self, CipherAlg, CipherDir, CipherRequest, DigestRequest, DigestStage, GcmRequest,
    HmacKey as HwHmacKey, SecOp, SecOutcome, SecRequest,
};
use uacce_sys::qm::zip::{
    self, HwBuffers, QcType, ZipAlg, ZipMode, ZipOutcome, ZipRequest, ZipWindow,
};
use uacce_sys::qm::{DriverRing, QmVersion, RingLayout, Sqe};
use uacce_sys::queue::{Queue, QueueError};
use uacce_sys::sysfs::{self, Sysfs};

use crate::error::{Error, Result};
use crate::lane::{Buffers, Class, JobOutput, Lane, LaneSpec, Owner, Scratch, scratch};
use crate::notify::{BusyPoller, NotifyMode, UringReactor};
use crate::types::{AeadKey, CipherKey, CipherMode, Format, HashAlg, HmacKey};
use crate::{cpu, gzip_header};

/// Which devices serve the jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Backend {
    /// Real uacce devices for each kind of job where present and usable, the CPU backend for the rest.
    #[default]
    Auto,
    /// Real uacce devices only; building fails if a kind of job has none.
    Hardware,
    /// The in-process emulated devices (`uacce-emu`).
    Emulated,
    /// The CPU on a bounded blocking pool (flate2 with zlib-rs, RustCrypto).
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

/// Options of the emulated backend.
#[derive(Debug, Clone)]
pub struct EmuOptions {
    /// QM generation the emulated devices speak (default V3).
    pub version: QmVersion,
    /// Ring depth (default 1024).
    pub depth: u16,
    /// Service-time model (default immediate).
    pub service: ServiceModel,
    /// Emulated ZIP and SEC devices each (default 1).
    pub devices: usize,
}

impl Default for EmuOptions {
    fn default() -> Self {
        Self {
            version: QmVersion::V3,
            depth: 1024,
            service: ServiceModel::Immediate,
            devices: 1,
        }
    }
}

/// Configuration of an [`Accel`].
#[derive(Debug, Clone)]
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
    /// Emulated backend options.
    pub emu: EmuOptions,
    /// Only these uacce devices serve jobs (class entry names under `/sys/class/uacce`, e.g. `hisi_zip-0`,
    /// `hisi_sec2-1`); `None` (default) uses every usable device.
    ///
    /// Applies to the hardware backends, `Auto` and `Hardware`. Building fails with [`Error::NoDevice`] when a named
    /// device does not exist (the message lists the devices found) or cannot serve jobs (isolated, no SVA, an api
    /// this crate does not speak, or neither `gzip` nor `aead` among its algorithms): a device named on purpose
    /// is not skipped silently, as `Auto` skips unusable devices it found by itself. A kind of job that none of
    /// the named devices serves (e.g. crypto when only `hisi_zip-0` is named) runs on the CPU backend under
    /// `Auto`, and fails the build under `Hardware`, which needs devices for every kind. An empty list names no
    /// device: `Auto` then runs everything on the CPU.
    ///
    /// Ignored by `Emulated` and `Cpu`, which have no uacce devices: so `UACCE_BACKEND=emu` or `cpu` can switch a
    /// program that names its devices without another change.
    pub devices: Option<Vec<String>>,
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
            emu: EmuOptions::default(),
            devices: None,
        }
    }
}

#[derive(Clone)]
enum Source {
    Emu(EmuDevice),
    Hw(sysfs::Device),
}

impl Source {
    /// Queues this device can still hand out (`available_instances`; 0 from sysfs means "unknown").
    fn available(&self) -> Option<usize> {
        match self {
            Source::Emu(d) => Some(usize::from(d.available_instances())),
            Source::Hw(d) => (d.available_instances > 0).then_some(d.available_instances as usize),
        }
    }

    fn name(&self) -> String {
        match self {
            Source::Emu(d) => d.config().name.clone(),
            Source::Hw(d) => d.name.clone(),
        }
    }
}

/// The queues of one kind of job.
struct ClassPool {
    class: Class,
    sources: Vec<Source>,
    lanes: RwLock<Vec<Arc<Lane>>>,
    /// True while every lane in `lanes` is on the same NUMA node (or there is at most one): queue selection then has
    /// no locality to weigh and skips asking which node the caller runs on (a `getcpu` syscall per job). Updated
    /// under the `lanes` write lock whenever the lanes change.
    numa_uniform: AtomicBool,
    target: usize,
    next: AtomicUsize,
    last_reopen: Mutex<Option<Instant>>,
}

impl ClassPool {
    /// Recompute `numa_uniform` after a change of `lanes` (the caller holds the write lock).
    fn update_numa(&self, lanes: &[Arc<Lane>]) {
        let uniform = lanes.windows(2).all(|w| w[0].numa_node == w[1].numa_node);
        self.numa_uniform.store(uniform, Ordering::Relaxed);
    }
}

/// How the jobs of one kind are served.
enum Engine {
    Device(ClassPool),
    Cpu,
}

struct Inner {
    config: Config,
    zip_c: Engine,
    zip_d: Engine,
    sec: Engine,
    null: Option<ClassPool>,
    cpu_slots: Arc<Semaphore>,
    busy: Option<BusyPoller>,
    uring: Option<UringReactor>,
    emu_devices: Vec<EmuDevice>,
    description: String,
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
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Accel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Accel")
            .field("description", &self.inner.description)
            .field("mode", &self.inner.config.mode)
            .finish_non_exhaustive()
    }
}

/// Builder of an [`Accel`].
#[derive(Debug, Clone, Default)]
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

    /// Emulated backend options.
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
    /// assert!(matches!(&err, Error::NoDevice(m) if m.contains("hisi_zip-99")), "{err}");
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

    /// Replace the whole configuration.
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// Open the devices and start the completion drivers. Must run inside a tokio runtime.
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
    ///     .emu(EmuOptions {
    ///         depth: 64,
    ///         service: ServiceModel::Fixed(Duration::from_micros(20)),
    ///         ..EmuOptions::default()
    ///     })
    ///     .build()
    ///     .await?;
    /// assert!(accel.compression_offloaded() && accel.crypto_offloaded());
    /// println!("jobs run on {}", accel.description());
    /// # Ok(()) }
    /// ```
    pub async fn build(self) -> Result<Accel> {
        Accel::with_config(self.config).await
    }
}

fn dup(fd: std::os::fd::BorrowedFd<'_>) -> Result<OwnedFd> {
    fd.try_clone_to_owned()
        .map_err(|e| Error::Setup(format!("dup of a queue fd: {e}")))
}

impl Accel {
    /// A builder with the default configuration.
    pub fn builder() -> AccelBuilder {
        AccelBuilder::default()
    }

    /// An accelerator with the default configuration (`UACCE_BACKEND`, else `Auto`).
    pub async fn new() -> Result<Self> {
        Self::with_config(Config::default()).await
    }

    /// An accelerator with `config`.
    pub async fn with_config(config: Config) -> Result<Self> {
        let busy = if config.mode == NotifyMode::BusyPoll && config.backend != Backend::Cpu {
            Some(BusyPoller::start().map_err(|e| Error::Setup(format!("busy-poll thread: {e}")))?)
        } else {
            None
        };
        let uring = if config.mode == NotifyMode::IoUring && config.backend != Backend::Cpu {
            Some(UringReactor::start().map_err(|e| Error::Setup(format!("io_uring: {e}")))?)
        } else {
            None
        };
        let mut emu_devices = Vec::new();
        let (zip_sources, sec_sources, null_sources, description) = match config.backend {
            Backend::Cpu => (vec![], vec![], vec![], "the CPU backend".to_string()),
            Backend::Emulated => {
                let mut zs = Vec::new();
                let mut ss = Vec::new();
                for i in 0..config.emu.devices.max(1) {
                    for (kind, list) in [(DeviceKind::Zip, &mut zs), (DeviceKind::Sec, &mut ss)] {
                        let name = match kind {
                            DeviceKind::Zip => format!("emu_zip-{i}"),
                            _ => format!("emu_sec-{i}"),
                        };
                        let dev = EmuDevice::new(
                            EmuConfig::new(kind)
                                .name(name)
                                .version(config.emu.version)
                                .depth(config.emu.depth)
                                .service(config.emu.service),
                        );
                        emu_devices.push(dev.clone());
                        list.push(Source::Emu(dev));
                    }
                }
                let null = EmuDevice::new(
                    EmuConfig::new(DeviceKind::Null)
                        .version(config.emu.version)
                        .depth(config.emu.depth)
                        .service(config.emu.service),
                );
                emu_devices.push(null.clone());
                let d = format!(
                    "the emulated devices (QM {:?}, depth {})",
                    config.emu.version, config.emu.depth
                );
                (zs, ss, vec![Source::Emu(null)], d)
            }
            Backend::Auto | Backend::Hardware => {
                let sysfs = Sysfs::new();
                let only = config.devices.as_deref();
                let (zs, ss) = hw_devices(&sysfs, only)?;
                let (zs, ss): (Vec<Source>, Vec<Source>) = (
                    zs.into_iter().map(Source::Hw).collect(),
                    ss.into_iter().map(Source::Hw).collect(),
                );
                if config.backend == Backend::Hardware && (zs.is_empty() || ss.is_empty()) {
                    let why = match (only, sysfs.devices()) {
                        (Some(names), _) => format!(
                            "the devices named in Config::devices ({}) serve no {} jobs",
                            names.join(", "),
                            if zs.is_empty() {
                                "ZIP (gzip)"
                            } else {
                                "SEC (aead)"
                            }
                        ),
                        (None, Err(e)) => e.to_string(),
                        (None, Ok(d)) => format!(
                            "{} uacce device(s), none usable for both ZIP (gzip) and SEC (aead)",
                            d.len()
                        ),
                    };
                    return Err(Error::NoDevice(why));
                }
                let names: Vec<String> = zs.iter().chain(ss.iter()).map(Source::name).collect();
                let d = if names.is_empty() {
                    "the CPU backend (no usable uacce devices)".to_string()
                } else {
                    format!("uacce devices {}", names.join(", "))
                };
                (zs, ss, vec![], d)
            }
        };
        let mut inner = Inner {
            zip_c: Engine::Cpu,
            zip_d: Engine::Cpu,
            sec: Engine::Cpu,
            null: None,
            cpu_slots: Arc::new(Semaphore::new(config.cpu_threads.max(1))),
            busy,
            uring,
            emu_devices,
            description,
            config,
        };
        let zip_sources2 = zip_sources.clone();
        inner.zip_c = inner.engine(Class::ZipCompress, zip_sources)?;
        inner.zip_d = inner.engine(Class::ZipDecompress, zip_sources2)?;
        inner.sec = inner.engine(Class::Sec, sec_sources)?;
        if !null_sources.is_empty() {
            if let Engine::Device(p) = inner.engine(Class::Null, null_sources)? {
                inner.null = Some(p);
            }
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
    pub fn emulated_devices(&self) -> &[EmuDevice] {
        &self.inner.emu_devices
    }

    /// True if compression jobs run on devices (not the CPU).
    pub fn compression_offloaded(&self) -> bool {
        matches!(self.inner.zip_c, Engine::Device(_))
    }

    /// True if crypto jobs run on devices (not the CPU).
    pub fn crypto_offloaded(&self) -> bool {
        matches!(self.inner.sec, Engine::Device(_))
    }

    /// Live device queues (all kinds).
    pub fn live_queues(&self) -> usize {
        let i = &self.inner;
        [&i.zip_c, &i.zip_d, &i.sec]
            .into_iter()
            .filter_map(|e| match e {
                Engine::Device(p) => Some(p),
                Engine::Cpu => None,
            })
            .chain(i.null.as_ref())
            .map(|p| {
                p.lanes
                    .read()
                    .unwrap_or_else(|e| e.into_inner())
                    .iter()
                    .filter(|l| !l.is_dead())
                    .count()
            })
            .sum()
    }
}

impl Inner {
    fn engine(&self, class: Class, sources: Vec<Source>) -> Result<Engine> {
        if sources.is_empty() {
            return Ok(Engine::Cpu);
        }
        let per = self.config.queues_per_device.max(1);
        let pool = ClassPool {
            class,
            target: per * sources.len(),
            sources,
            lanes: RwLock::new(Vec::new()),
            numa_uniform: AtomicBool::new(true),
            next: AtomicUsize::new(0),
            last_reopen: Mutex::new(None),
        };
        let mut lanes = Vec::new();
        let mut last_err = None;
        for src in &pool.sources {
            let n = src.available().map_or(per, |a| per.min(a));
            for _ in 0..n {
                match self.open_lane(class, src) {
                    Ok(l) => lanes.push(l),
                    Err(e) => {
                        tracing::warn!(device = %src.name(), "could not open a queue: {e}");
                        last_err = Some(e);
                        break;
                    }
                }
            }
        }
        if lanes.is_empty() {
            return match self.config.backend {
                Backend::Auto => {
                    tracing::warn!("no queue could be opened for {class:?}; using the CPU backend");
                    Ok(Engine::Cpu)
                }
                _ => {
                    Err(last_err
                        .unwrap_or_else(|| Error::NoDevice("no queue could be opened".into())))
                }
            };
        }
        {
            let mut guard = pool.lanes.write().unwrap_or_else(|e| e.into_inner());
            *guard = lanes;
            pool.update_numa(&guard);
        }
        Ok(Engine::Device(pool))
    }

    fn open_lane(&self, class: Class, src: &Source) -> Result<Arc<Lane>> {
        let cfg = &self.config;
        let lane = match src {
            Source::Emu(dev) => {
                let q = dev
                    .open_queue(class.qc_type())
                    .map_err(|e| Error::Setup(e.to_string()))?;
                let ring = q.driver_ring().map_err(|e| Error::Setup(e.to_string()))?;
                let fd = dup(q.eventfd())?;
                let version = q.version();
                let spec = LaneSpec {
                    class,
                    device: dev.config().name.clone(),
                    numa_node: Some(dev.config().numa_node),
                    version,
                    owner: Owner::Emu(q),
                    wait_fd: fd,
                    wait_is_eventfd: true,
                    // The emulator's removal is seen in its queue state on the eventfd wake-up.
                    hup_fd: None,
                    job_timeout: cfg.job_timeout,
                    kick: self.kick(),
                };
                Lane::new(spec, ring)
            }
            Source::Hw(dev) => {
                let q = Arc::new(
                    Queue::open_and_start(dev, class.qc_type())
                        .map_err(|e| Error::Setup(e.to_string()))?,
                );
                let version = dev.qm_version().ok_or_else(|| {
                    Error::Setup(format!("{}: unsupported api {}", dev.name, dev.api))
                })?;
                let layout = RingLayout::new(q.sq_depth(), q.cq_depth())
                    .map_err(|e| Error::Setup(e.to_string()))?;
                let sqn = q
                    .sqn()
                    .ok_or_else(|| Error::Setup("queue has no number".into()))?;
                let ring = DriverRing::new(q.clone(), layout, q.clone(), version, sqn)
                    .map_err(|e| Error::Setup(e.to_string()))?;
                let (fd, is_eventfd) = match cfg.mode {
                    NotifyMode::Interrupt | NotifyMode::BusyPoll => (dup(q.as_fd())?, false),
                    _ => bind_eventfd(&q)?,
                };
                let hup_fd = if is_eventfd {
                    Some(hangup_watch(&q)?)
                } else {
                    None
                };
                let spec = LaneSpec {
                    class,
                    device: dev.name.clone(),
                    numa_node: dev.numa_node,
                    version,
                    owner: Owner::Hw(q),
                    wait_fd: fd,
                    wait_is_eventfd: is_eventfd,
                    hup_fd,
                    job_timeout: cfg.job_timeout,
                    kick: self.kick(),
                };
                Lane::new(spec, ring)
            }
        };
        match cfg.mode {
            NotifyMode::BusyPoll => self
                .busy
                .as_ref()
                .expect("busy poller started")
                .add(lane.clone()),
            NotifyMode::IoUring => self
                .uring
                .as_ref()
                .expect("io_uring reactor started")
                .add(lane.clone())
                .map_err(|e| Error::Setup(e.to_string()))?,
            NotifyMode::Hybrid => crate::notify::spawn_task_driver(lane.clone(), true)
                .map_err(|e| Error::Setup(format!("completion driver: {e}")))?,
            NotifyMode::Interrupt | NotifyMode::Eventfd => {
                crate::notify::spawn_task_driver(lane.clone(), false)
                    .map_err(|e| Error::Setup(format!("completion driver: {e}")))?
            }
        }
        Ok(lane)
    }

    /// The notifier that wakes a lane's driver for a new deadline.
    fn kick(&self) -> Arc<tokio::sync::Notify> {
        match &self.uring {
            Some(u) => u.kick.clone(),
            None => Arc::new(tokio::sync::Notify::new()),
        }
    }

    /// A live lane of `pool`: the one with the most free ring slots (NUMA-local first), reopening queues when some
    /// were retired.
    fn pick(&self, pool: &ClassPool) -> Result<Arc<Lane>> {
        {
            let lanes = pool.lanes.read().unwrap_or_else(|e| e.into_inner());
            let live = lanes.iter().filter(|l| !l.is_dead()).count();
            if live == lanes.len() || live >= pool.target {
                if let Some(l) = best_lane(&lanes, pool) {
                    return Ok(l);
                }
            }
        }
        self.reopen(pool);
        let lanes = pool.lanes.read().unwrap_or_else(|e| e.into_inner());
        best_lane(&lanes, pool).ok_or_else(|| {
            Error::NoDevice(format!("no live {:?} queue could be opened", pool.class))
        })
    }

    /// Drop retired lanes and open replacements (at most every 100 ms per pool).
    fn reopen(&self, pool: &ClassPool) {
        {
            let mut last = pool.last_reopen.lock().unwrap_or_else(|e| e.into_inner());
            if last.is_some_and(|t| t.elapsed() < Duration::from_millis(100)) {
                return;
            }
            *last = Some(Instant::now());
        }
        let mut lanes = pool.lanes.write().unwrap_or_else(|e| e.into_inner());
        lanes.retain(|l| !l.is_dead());
        let per = self.config.queues_per_device.max(1);
        for src in &pool.sources {
            let name = src.name();
            let have = lanes.iter().filter(|l| l.device == name).count();
            for _ in have..per {
                match self.open_lane(pool.class, src) {
                    Ok(l) => {
                        tracing::info!(device = %name, "opened a replacement queue");
                        lanes.push(l);
                    }
                    Err(e) => {
                        tracing::debug!(device = %name, "no replacement queue: {e}");
                        break;
                    }
                }
            }
        }
        pool.update_numa(&lanes);
    }

    async fn cpu<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let _permit = self
            .cpu_slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| Error::Shutdown)?;
        tokio::task::spawn_blocking(f)
            .await
            .map_err(|e| Error::Device(format!("CPU worker failed: {e}")))?
    }

    /// Submit on a lane of `pool`, retrying on another lane if the chosen one was retired before the job reached
    /// the device. The job's buffers are built by `make` for each attempt.
    ///
    /// `make` returns the buffers and the SQE builder ([`sqe_builder`]); the builder is a plain closure, not boxed, so
    /// a job costs no allocation for it.
    async fn run<M, B>(&self, pool: &ClassPool, mut make: M) -> Result<(JobOutput, QmVersion)>
    where
        M: FnMut(QmVersion) -> Result<(Buffers, B)>,
        B: FnOnce(u32, &mut Scratch) -> Result<Sqe> + Send,
    {
        let mut last = None;
        for _ in 0..4 {
            let lane = self.pick(pool)?;
            let (bufs, build) = make(lane.version)?;
            match lane.submit(bufs, build).await {
                Ok(fut) => return fut.await.map(|o| (o, lane.version)),
                Err(
                    e @ (Error::QueueReset
                    | Error::DeviceRemoved
                    | Error::Timeout(_)
                    | Error::Shutdown),
                ) => {
                    last = Some(e);
                }
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or(Error::Shutdown))
    }
}

/// The live lane with the most free ring slots, preferring lanes on the caller's NUMA node; ties go round-robin.
fn best_lane(lanes: &[Arc<Lane>], pool: &ClassPool) -> Option<Arc<Lane>> {
    // With every lane on one node, "local" is the same for all of them and cannot change the choice.
    let node = if pool.numa_uniform.load(Ordering::Relaxed) {
        None
    } else {
        current_numa_node()
    };
    let start = pool.next.fetch_add(1, Ordering::Relaxed);
    let n = lanes.len();
    let mut best: Option<(usize, bool, &Arc<Lane>)> = None;
    for k in 0..n {
        let l = &lanes[(start + k) % n];
        if l.is_dead() {
            continue;
        }
        let free = l.free_slots();
        let local = node.is_some() && l.numa_node == node;
        let better = match best {
            None => true,
            Some((bf, bl, _)) => {
                (local && !bl && free > 0) || (local == bl && free > bf) || (bf == 0 && free > 0)
            }
        };
        if better {
            best = Some((free, local, l));
        }
    }
    best.map(|(_, _, l)| l.clone())
}

/// The uacce devices under `sysfs` that serve ZIP (`gzip`) and SEC (`aead`) jobs, each list in sysfs order.
///
/// Without `only`: every device that lists the algorithm, is not isolated and passes
/// [`uacce_sys::queue::check_device`]; the others are skipped. With `only` (see [`Config::devices`]): those devices
/// alone, and each must exist and be usable, else [`Error::NoDevice`] says which and why.
fn hw_devices(
    sysfs: &Sysfs,
    only: Option<&[String]>,
) -> Result<(Vec<sysfs::Device>, Vec<sysfs::Device>)> {
    let Some(only) = only else {
        let usable = |alg: &str| -> Vec<sysfs::Device> {
            sysfs
                .devices_for_algorithm(alg)
                .unwrap_or_default()
                .into_iter()
                .filter(|d| uacce_sys::queue::check_device(d).is_ok())
                .collect()
        };
        return Ok((usable("gzip"), usable("aead")));
    };
    let found = sysfs.device_names();
    let found_names: &[String] = found.as_deref().unwrap_or(&[]);
    let missing: Vec<&str> = only
        .iter()
        .filter(|n| !found_names.contains(n))
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        let here = match &found {
            Ok(names) if names.is_empty() => {
                format!("no uacce devices under {}", sysfs.root().display())
            }
            Ok(names) => format!("uacce devices here: {}", names.join(", ")),
            Err(e) => format!("no uacce devices: {e}"),
        };
        return Err(Error::NoDevice(format!(
            "uacce device{} {} (Config::devices) not found; {here}",
            if missing.len() > 1 { "s" } else { "" },
            missing.join(", ")
        )));
    }
    let (mut zip, mut sec) = (Vec::new(), Vec::new());
    // In sysfs order, each named device once.
    for name in found_names.iter().filter(|n| only.contains(n)) {
        let unusable =
            |why: String| Error::NoDevice(format!("uacce device {name} (Config::devices): {why}"));
        let dev = sysfs.device(name).map_err(|e| unusable(e.to_string()))?;
        if dev.is_isolated() {
            return Err(unusable(
                "isolated by the kernel after hardware errors".into(),
            ));
        }
        uacce_sys::queue::check_device(&dev).map_err(|e| unusable(e.to_string()))?;
        let (z, s) = (dev.supports("gzip"), dev.supports("aead"));
        if !z && !s {
            return Err(unusable(format!(
                "serves neither compression (gzip) nor crypto (aead); its algorithms: {}",
                dev.algorithms.join(", ")
            )));
        }
        if z {
            zip.push(dev.clone());
        }
        if s {
            sec.push(dev);
        }
    }
    Ok((zip, sec))
}

/// The NUMA node of the CPU the caller runs on.
fn current_numa_node() -> Option<u32> {
    let mut cpu: u32 = 0;
    let mut node: u32 = 0;
    // SAFETY: getcpu writes two u32s through the pointers we pass; the third argument is unused since Linux 2.6.24
    // and may be null.
    let r = unsafe {
        nix::libc::syscall(
            nix::libc::SYS_getcpu,
            &mut cpu as *mut u32,
            &mut node as *mut u32,
            std::ptr::null_mut::<u8>(),
        )
    };
    (r == 0).then_some(node)
}

/// `Eventfd` mode on a real queue: bind an eventfd with the patched kernel's ioctl, or fall back to the queue fd.
fn bind_eventfd(q: &Queue) -> Result<(OwnedFd, bool)> {
    let efd = EventFd::from_value_and_flags(0, EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK)
        .map_err(|e| Error::Setup(format!("eventfd: {e}")))?;
    match q.bind_eventfd(efd.as_fd()) {
        Ok(()) => Ok((OwnedFd::from(efd), true)),
        Err(QueueError::Unsupported { .. }) => {
            tracing::info!(
                "the kernel does not know UACCE_CMD_SET_EVENTFD (no eventfd patch); falling back to poll() on the queue fd"
            );
            Ok((dup(q.as_fd())?, false))
        }
        Err(e) => Err(Error::Setup(e.to_string())),
    }
}

/// An epoll fd that becomes readable only when the queue fd reports `EPOLLHUP`/`EPOLLERR` (device removed, patched
/// kernel). The queue is registered with no events, so the completion wake-ups (keyed `EPOLLIN` by the patched
/// `uacce_wake_up()`) do not reach it: the runtime pays nothing per completion for the watch.
fn hangup_watch(q: &Queue) -> Result<OwnedFd> {
    use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags};
    let ep = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)
        .map_err(|e| Error::Setup(format!("epoll_create1: {e}")))?;
    // The registration follows the queue's open file: it ends when the queue is closed, with no fd to keep.
    ep.add(q.as_fd(), EpollEvent::new(EpollFlags::empty(), 0))
        .map_err(|e| Error::Setup(format!("epoll_ctl(queue fd): {e}")))?;
    Ok(ep.0)
}

/// Buffers whose addresses a job's SQE names.
fn addr(b: &[u8]) -> u64 {
    b.as_ptr() as u64
}

/// The SQE builder of a job: gets the tag and the slot's scratch memory, returns the SQE. This identity function
/// gives a closure that signature (a closure returned from another closure is otherwise not inferred to accept any
/// lifetime of the scratch borrow).
fn sqe_builder<F>(f: F) -> F
where
    F: FnOnce(u32, &mut Scratch) -> Result<Sqe> + Send,
{
    f
}

/// A one-shot ZIP job (block mode, 32 KiB window) of `input` into `output`, at the addresses `hw` names: the
/// buffers the job owns and its SQE builder.
fn zip_block_job(
    alg: ZipAlg,
    hw: HwBuffers,
    input: Bytes,
    output: BytesMut,
    version: QmVersion,
) -> (
    Buffers,
    impl FnOnce(u32, &mut Scratch) -> Result<Sqe> + Send,
) {
    let bufs = Buffers {
        input: Some(input),
        output: Some(output),
        keep: None,
    };
    let build = sqe_builder(move |tag, _| {
        let req = ZipRequest {
            alg,
            buffers: hw,
            tag,
            window: ZipWindow::W32K,
            mode: ZipMode::Block,
        };
        Ok(zip::encode(&req, version))
    });
    (bufs, build)
}

const MAX_FLAT: usize = zip::MAX_FLAT_LEN as usize;
const MAX_SEC: usize = sec::MAX_DATA_LEN as usize;

/// zlib's `deflateBound` plus room for the zlib/gzip header and trailer.
pub(crate) fn compress_bound(n: usize) -> usize {
    n + (n >> 12) + (n >> 14) + (n >> 25) + 13 + 18
}

impl Accel {
    fn pool(&self, class: Class) -> Option<&ClassPool> {
        let e = match class {
            Class::ZipCompress => &self.inner.zip_c,
            Class::ZipDecompress => &self.inner.zip_d,
            Class::Sec => &self.inner.sec,
            Class::Null => return self.inner.null.as_ref(),
        };
        match e {
            Engine::Device(p) => Some(p),
            Engine::Cpu => None,
        }
    }

    /// A lane for a stream session of `class`, or `None` when that kind of job runs on the CPU.
    pub(crate) fn stream_lane(&self, class: Class) -> Result<Option<Arc<Lane>>> {
        match self.pool(class) {
            Some(p) => self.inner.pick(p).map(Some),
            None => Ok(None),
        }
    }

    /// Run `f` on the CPU backend's bounded blocking pool.
    pub(crate) async fn cpu_blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> Result<T> + Send + 'static,
    ) -> Result<T> {
        self.inner.cpu(f).await
    }

    /// Compress `data` into one `format` stream.
    ///
    /// Inputs above the hardware's 8 MiB flat-buffer limit run on the CPU backend.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), uacce_async::Error> {
    /// use uacce_async::{Accel, Backend, Format};
    /// let accel = Accel::builder().backend(Backend::Emulated).build().await?;
    /// let text = "to be or not to be, ".repeat(100);
    /// let zlib = accel.compress(Format::Zlib, text.clone()).await?;
    /// assert!(zlib.len() < text.len() / 10);
    /// assert_eq!(accel.decompress(Format::Zlib, zlib).await?, text.as_bytes());
    /// # Ok(()) }
    /// ```
    pub async fn compress(&self, format: Format, data: impl Into<Bytes>) -> Result<Bytes> {
        let data: Bytes = data.into();
        let level = self.inner.config.cpu_level;
        let Some(pool) = self
            .pool(Class::ZipCompress)
            .filter(|_| data.len() <= MAX_FLAT)
        else {
            return self
                .inner
                .cpu(move || Ok(Bytes::from(cpu::compress(format, level, &data))))
                .await;
        };
        let alg = format.zip_alg();
        let mut cap = compress_bound(data.len()).min(MAX_FLAT);
        loop {
            let input = data.clone();
            let (out, _) = self
                .inner
                .run(pool, |version| {
                    let mut output = BytesMut::zeroed(cap);
                    output[..alg.header().len()].copy_from_slice(alg.header());
                    let hw = HwBuffers::from_user(
                        alg,
                        QcType::Compress,
                        true,
                        addr(&input),
                        input.len() as u32,
                        addr(&output),
                        cap as u32,
                    )
                    .map_err(|e| Error::Device(e.to_string()))?;
                    Ok(zip_block_job(alg, hw, input.clone(), output, version))
                })
                .await?;
            let c = zip::read_result(&out.sqe);
            match c.outcome() {
                ZipOutcome::Ok | ZipOutcome::StreamEnd => {
                    let (_, produced) = c.user_lengths(QcType::Compress);
                    let mut output = out.bufs.output.expect("job output");
                    output.truncate(produced as usize);
                    return Ok(output.freeze());
                }
                ZipOutcome::DstTooSmall if cap < MAX_FLAT => cap = (cap * 2).min(MAX_FLAT),
                ZipOutcome::DstTooSmall => {
                    return self
                        .inner
                        .cpu(move || Ok(Bytes::from(cpu::compress(format, level, &data))))
                        .await;
                }
                ZipOutcome::Error(s) => {
                    return Err(Error::Device(format!("compression failed, status {s:?}")));
                }
            }
        }
    }

    /// Decompress one `format` stream; the output may not exceed the configured `max_decompressed`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), uacce_async::Error> {
    /// use uacce_async::{Accel, Backend, Error, Format};
    /// let accel = Accel::builder().backend(Backend::Emulated).build().await?;
    /// let gz = accel.compress(Format::Gzip, &b"hello hello hello"[..]).await?;
    /// assert_eq!(&accel.decompress(Format::Gzip, gz.clone()).await?[..], b"hello hello hello");
    /// // A damaged stream is an error, never wrong data.
    /// let mut bad = gz.to_vec();
    /// let last = bad.len() - 1;
    /// bad[last] ^= 0xff; // the length in the gzip trailer
    /// assert!(matches!(accel.decompress(Format::Gzip, bad).await, Err(Error::CorruptData(_))));
    /// # Ok(()) }
    /// ```
    pub async fn decompress(&self, format: Format, data: impl Into<Bytes>) -> Result<Bytes> {
        self.decompress_with_limit(format, data, self.inner.config.max_decompressed)
            .await
    }

    /// Decompress one `format` stream whose output may not exceed `limit` bytes ([`Error::OutputLimit`]
    /// otherwise). Malformed or truncated input, a checksum mismatch or trailing data is [`Error::CorruptData`].
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), uacce_async::Error> {
    /// use uacce_async::{Accel, Backend, Error, Format};
    /// let accel = Accel::builder().backend(Backend::Emulated).build().await?;
    /// let zeros = accel.compress(Format::Deflate, vec![0u8; 1 << 20]).await?;
    /// println!("1 MiB of zeros in {} bytes", zeros.len());
    /// let err = accel.decompress_with_limit(Format::Deflate, zeros.clone(), 64 << 10).await;
    /// assert!(matches!(err, Err(Error::OutputLimit { limit: 65536 })));
    /// assert_eq!(accel.decompress_with_limit(Format::Deflate, zeros, 1 << 20).await?.len(), 1 << 20);
    /// # Ok(()) }
    /// ```
    pub async fn decompress_with_limit(
        &self,
        format: Format,
        data: impl Into<Bytes>,
        limit: usize,
    ) -> Result<Bytes> {
        let data: Bytes = data.into();
        let cpu_path = |data: Bytes| async move {
            self.inner
                .cpu(move || cpu::decompress(format, &data, limit).map(Bytes::from))
                .await
        };
        let Some(pool) = self
            .pool(Class::ZipDecompress)
            .filter(|_| data.len() <= MAX_FLAT)
        else {
            return cpu_path(data).await;
        };
        let alg = format.zip_alg();
        let hdr = gzip_header::complete_header_len(format, &data)?;
        let body_len = data.len() - hdr;
        let ceiling = limit.min(MAX_FLAT);
        // First guess at the output size: gzip's trailer states it (ISIZE, mod 2^32); otherwise 8× the input.
        let guess = match format {
            Format::Gzip if data.len() >= hdr + 8 => {
                let t = &data[data.len() - 4..];
                u32::from_le_bytes([t[0], t[1], t[2], t[3]]) as usize
            }
            _ => body_len.saturating_mul(8),
        };
        let mut cap = guess.clamp(4096.min(ceiling.max(1)), ceiling.max(1));
        loop {
            let input = data.clone();
            let (out, _) = self
                .inner
                .run(pool, |version| {
                    let output = BytesMut::zeroed(cap);
                    let hw = HwBuffers {
                        src_addr: addr(&input) + hdr as u64,
                        src_len: body_len as u32,
                        dst_addr: addr(&output),
                        dst_avail: cap as u32,
                    };
                    Ok(zip_block_job(alg, hw, input.clone(), output, version))
                })
                .await?;
            let c = zip::read_result(&out.sqe);
            match c.outcome() {
                ZipOutcome::Ok | ZipOutcome::StreamEnd => {
                    if c.consumed as usize != body_len {
                        return Err(Error::CorruptData(format!(
                            "{} bytes of trailing data after the end of the stream",
                            body_len - c.consumed as usize
                        )));
                    }
                    let mut output = out.bufs.output.expect("job output");
                    output.truncate(c.produced as usize);
                    return Ok(output.freeze());
                }
                ZipOutcome::DstTooSmall if cap < ceiling => {
                    cap = (cap.saturating_mul(4)).min(ceiling)
                }
                ZipOutcome::DstTooSmall if limit > MAX_FLAT => return cpu_path(data).await,
                ZipOutcome::DstTooSmall => return Err(Error::OutputLimit { limit }),
                ZipOutcome::Error(s) => {
                    return Err(Error::CorruptData(format!(
                        "the device rejected the stream (status {s:?})"
                    )));
                }
            }
        }
    }

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
        let pt: Bytes = plaintext.into();
        let device = self
            .pool(Class::Sec)
            .filter(|_| aad.len() <= usize::from(u16::MAX) && aad.len() + pt.len() <= MAX_SEC);
        let Some(pool) = device else {
            let (k, n, a) = (key.bytes.clone(), *nonce, aad.to_vec());
            return self
                .inner
                .cpu(move || {
                    let mut buf = BytesMut::from(&pt[..]);
                    let mut tag = [0u8; 16];
                    uacce_emu::soft::gcm_seal(&k, &n, &a, &mut buf, &mut tag)
                        .map_err(|_| Error::InvalidParameter("AES-GCM parameters"))?;
                    buf.extend_from_slice(&tag);
                    Ok(buf.freeze())
                })
                .await;
        };
        self.gcm_device(pool, key, nonce, aad, &pt, None).await
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
        if sealed.len() < 16 {
            return Err(Error::AuthFailed);
        }
        let ct_len = sealed.len() - 16;
        let device = self
            .pool(Class::Sec)
            .filter(|_| aad.len() <= usize::from(u16::MAX) && aad.len() + ct_len <= MAX_SEC);
        let Some(pool) = device else {
            let (k, n, a) = (key.bytes.clone(), *nonce, aad.to_vec());
            return self
                .inner
                .cpu(move || {
                    let mut buf = BytesMut::from(&sealed[..ct_len]);
                    uacce_emu::soft::gcm_open(&k, &n, &a, &mut buf, &sealed[ct_len..]).map_err(
                        |e| match e {
                            uacce_emu::soft::SoftError::AuthFailed => Error::AuthFailed,
                            _ => Error::InvalidParameter("AES-GCM parameters"),
                        },
                    )?;
                    Ok(buf.freeze())
                })
                .await;
        };
        let mut tag16 = [0u8; 16];
        tag16.copy_from_slice(&sealed[ct_len..]);
        self.gcm_device(pool, key, nonce, aad, &sealed[..ct_len], Some(tag16))
            .await
    }

    /// One AES-GCM job on a device: seal (`expected_tag` None; returns ciphertext ‖ tag) or open (returns the
    /// plaintext). The source is AAD ‖ body; the device writes the body's result after the AAD area of the output.
    async fn gcm_device(
        &self,
        pool: &ClassPool,
        key: &AeadKey,
        nonce: &[u8; 12],
        aad: &[u8],
        body: &[u8],
        expected_tag: Option<[u8; 16]>,
    ) -> Result<Bytes> {
        let mut src = BytesMut::with_capacity(aad.len() + body.len());
        src.extend_from_slice(aad);
        src.extend_from_slice(body);
        let src = src.freeze();
        let (aad_len, body_len) = (aad.len(), body.len());
        let (out, _) = self
            .inner
            .run(pool, |version| {
                // Seal output: [aad area | ciphertext | tag]: the tag goes right behind the ciphertext, so
                // ciphertext ‖ tag is contiguous. Open: [aad area | plaintext], the expected tag in the slot scratch.
                let tag_room = if expected_tag.is_none() { 16 } else { 0 };
                let output = BytesMut::zeroed(aad_len + body_len + tag_room);
                let (s, o) = (addr(&src), addr(&output));
                let key_bytes = key.bytes.clone();
                let (k, n) = (addr(&key_bytes), *nonce);
                let bufs = Buffers {
                    input: Some(src.clone()),
                    output: Some(output),
                    keep: Some(key_bytes),
                };
                let key_len = key.bytes.len() as u32;
                let build = sqe_builder(move |tag, scr| {
                    scr.0[scratch::IV..scratch::IV + 12].copy_from_slice(&n);
                    let base = scr.0.as_ptr() as u64;
                    let (dir, mac_addr) = match expected_tag {
                        None => (CipherDir::Encrypt, o + (aad_len + body_len) as u64),
                        Some(t) => {
                            scr.0[scratch::MAC..scratch::MAC + 16].copy_from_slice(&t);
                            (CipherDir::Decrypt, base + scratch::MAC as u64)
                        }
                    };
                    let op = SecOp::Aead(GcmRequest {
                        dir,
                        key_addr: k,
                        key_len,
                        iv_addr: base + scratch::IV as u64,
                        aiv_addr: base + scratch::AIV as u64,
                        src_addr: s,
                        dst_addr: o,
                        aad_len: aad_len as u32,
                        payload_len: body_len as u32,
                        mac_addr,
                        tag_len: 16,
                    });
                    sec_encode(op, tag, version)
                });
                Ok((bufs, build))
            })
            .await?;
        check_sec(&out.sqe)?;
        let mut output = out.bufs.output.expect("job output");
        Ok(output.split_off(aad_len).freeze())
    }

    /// Encrypt with AES in `key`'s mode.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), uacce_async::Error> {
    /// use uacce_async::{Accel, Backend, CipherKey, CipherMode};
    /// let accel = Accel::builder().backend(Backend::Emulated).build().await?;
    /// // NIST SP 800-38A, F.2.1 (CBC-AES128.Encrypt), first block.
    /// let key = CipherKey::new(CipherMode::Cbc, &[
    ///     0x2b, 0x7e, 0x15, 0x16, 0x28, 0xae, 0xd2, 0xa6, 0xab, 0xf7, 0x15, 0x88, 0x09, 0xcf, 0x4f, 0x3c,
    /// ])?;
    /// let iv: [u8; 16] = std::array::from_fn(|i| i as u8);
    /// let plain = [
    ///     0x6b, 0xc1, 0xbe, 0xe2, 0x2e, 0x40, 0x9f, 0x96, 0xe9, 0x3d, 0x7e, 0x11, 0x73, 0x93, 0x17, 0x2a,
    /// ];
    /// let cipher = accel.encrypt(&key, &iv, plain.to_vec()).await?;
    /// assert_eq!(cipher[..4], [0x76, 0x49, 0xab, 0xac]);
    /// assert_eq!(accel.decrypt(&key, &iv, cipher).await?, plain[..]);
    /// // CBC takes whole blocks only (no padding).
    /// assert!(accel.encrypt(&key, &iv, vec![0u8; 15]).await.is_err());
    /// # Ok(()) }
    /// ```
    pub async fn encrypt(
        &self,
        key: &CipherKey,
        iv: &[u8; 16],
        data: impl Into<Bytes>,
    ) -> Result<Bytes> {
        self.cipher(key, CipherDir::Encrypt, iv, data.into()).await
    }

    /// Decrypt with AES in `key`'s mode.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), uacce_async::Error> {
    /// use uacce_async::{Accel, Backend, CipherKey, CipherMode};
    /// let accel = Accel::builder().backend(Backend::Emulated).build().await?;
    /// // AES-256-XTS: two AES-256 keys; the IV is the tweak (e.g. the sector number).
    /// let key = CipherKey::new(CipherMode::Xts, &[7u8; 64])?;
    /// let mut tweak = [0u8; 16];
    /// tweak[..8].copy_from_slice(&42u64.to_le_bytes());
    /// let sector = vec![0xa5u8; 512];
    /// let enc = accel.encrypt(&key, &tweak, sector.clone()).await?;
    /// assert_ne!(enc, sector);
    /// assert_eq!(accel.decrypt(&key, &tweak, enc).await?, sector);
    /// # Ok(()) }
    /// ```
    pub async fn decrypt(
        &self,
        key: &CipherKey,
        iv: &[u8; 16],
        data: impl Into<Bytes>,
    ) -> Result<Bytes> {
        self.cipher(key, CipherDir::Decrypt, iv, data.into()).await
    }

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
        let device = self.pool(Class::Sec).filter(|_| data.len() <= MAX_SEC);
        // QM v2 (BD2) has no CTR (protocol doc §11): such queues hand CTR to the CPU.
        let v2_ctr = mode == CipherMode::Ctr
            && device.is_some_and(|p| {
                p.lanes
                    .read()
                    .unwrap_or_else(|e| e.into_inner())
                    .iter()
                    .all(|l| l.version == QmVersion::V2)
            });
        let (Some(pool), false) = (device, v2_ctr) else {
            let (k, iv) = (key.bytes.clone(), *iv);
            return self
                .inner
                .cpu(move || {
                    let mut buf = BytesMut::from(&data[..]);
                    uacce_emu::soft::aes(mode.hw(), dir, &k, &iv, &mut buf)
                        .map_err(|_| Error::InvalidParameter("AES parameters"))?;
                    Ok(buf.freeze())
                })
                .await;
        };
        let (out, _) = self
            .inner
            .run(pool, |version| {
                let output = BytesMut::zeroed(data.len());
                let (s, o) = (addr(&data), addr(&output));
                let key_bytes = key.bytes.clone();
                let (k, klen, iv) = (addr(&key_bytes), key_bytes.len() as u32, *iv);
                let len = data.len() as u32;
                let bufs = Buffers {
                    input: Some(data.clone()),
                    output: Some(output),
                    keep: Some(key_bytes),
                };
                let build = sqe_builder(move |tag, scr| {
                    scr.0[scratch::IV..scratch::IV + 16].copy_from_slice(&iv);
                    let op = SecOp::Cipher(CipherRequest {
                        alg: CipherAlg::Aes,
                        mode: mode.hw(),
                        dir,
                        key_addr: k,
                        key_len: klen,
                        iv_addr: scr.0.as_ptr() as u64 + scratch::IV as u64,
                        src_addr: s,
                        dst_addr: o,
                        len,
                    });
                    sec_encode(op, tag, version)
                });
                Ok((bufs, build))
            })
            .await?;
        check_sec(&out.sqe)?;
        Ok(out.bufs.output.expect("job output").freeze())
    }

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
    pub async fn digest(&self, alg: HashAlg, data: impl Into<Bytes>) -> Result<Vec<u8>> {
        let data: Bytes = data.into();
        if data.len() > MAX_SEC && self.pool(Class::Sec).is_some() {
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
    pub async fn hmac_verify(
        &self,
        key: &HmacKey,
        data: impl Into<Bytes>,
        mac: &[u8],
    ) -> Result<()> {
        let expect = self.hmac_sign(key, data).await?;
        let diff = expect.len() ^ mac.len();
        let acc = expect.iter().zip(mac).fold(0u8, |a, (x, y)| a | (x ^ y));
        if diff != 0 || acc != 0 {
            return Err(Error::AuthFailed);
        }
        Ok(())
    }

    async fn digest_job(
        &self,
        alg: HashAlg,
        key: Option<&HmacKey>,
        data: Bytes,
    ) -> Result<Vec<u8>> {
        // BD2 refuses zero-length hashes; empty and over-long HMAC inputs go to the CPU.
        let device = self
            .pool(Class::Sec)
            .filter(|_| !data.is_empty() && data.len() <= MAX_SEC);
        let Some(pool) = device else {
            let raw = key.map(|k| k.raw.clone());
            return self
                .inner
                .cpu(move || {
                    let r = match raw {
                        Some(k) => uacce_emu::soft::hmac(alg.digest_alg(), &k, &data),
                        None => uacce_emu::soft::hash(alg.digest_alg(), &data),
                    };
                    r.map_err(|_| Error::Unsupported("hash"))
                })
                .await;
        };
        let out = self
            .hash_part(pool, alg, key, data, DigestStage::OneShot, None)
            .await?;
        Ok(out[..alg.output_len()].to_vec())
    }

    /// One digest job; returns the scratch MAC area (digest or long-hash state).
    async fn hash_part(
        &self,
        pool: &ClassPool,
        alg: HashAlg,
        key: Option<&HmacKey>,
        data: Bytes,
        stage: DigestStage,
        state: Option<[u8; 64]>,
    ) -> Result<[u8; 64]> {
        let (out, _) = self
            .inner
            .run(pool, |version| {
                let s = addr(&data);
                let len = data.len() as u32;
                let keep = key.map(|k| k.device.clone());
                let hk = keep.as_ref().map(|k| HwHmacKey {
                    addr: addr(k),
                    len: k.len() as u32,
                });
                let bufs = Buffers {
                    input: Some(data.clone()),
                    output: None,
                    keep: keep.map(|k| k as Arc<dyn Send + Sync>),
                };
                let build = sqe_builder(move |tag, scr| {
                    if let Some(st) = state {
                        scr.0[scratch::MAC..scratch::MAC + 64].copy_from_slice(&st);
                    }
                    let op = SecOp::Digest(DigestRequest {
                        alg: alg.digest_alg(),
                        hmac_key: hk,
                        src_addr: s,
                        len,
                        mac_addr: scr.0.as_ptr() as u64 + scratch::MAC as u64,
                        mac_len: alg.output_len() as u32,
                        stage,
                    });
                    sec_encode(op, tag, version)
                });
                Ok((bufs, build))
            })
            .await?;
        check_sec(&out.sqe)?;
        Ok(out.mac)
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
    pub fn hasher(&self, alg: HashAlg) -> Hasher {
        Hasher {
            accel: self.clone(),
            alg,
            pending: BytesMut::new(),
            state: None,
            total: 0,
            cpu: None,
        }
    }

    /// A job that does no work, on the emulated null device: measures the pure cost of the ring and the completion
    /// strategy. [`Error::Unsupported`] on other backends.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), uacce_async::Error> {
    /// use std::time::Instant;
    /// use uacce_async::{Accel, Backend, NotifyMode};
    /// let accel = Accel::builder()
    ///     .backend(Backend::Emulated)
    ///     .mode(NotifyMode::Eventfd)
    ///     .build()
    ///     .await?;
    /// let t = Instant::now();
    /// for _ in 0..100 {
    ///     accel.nop().await?;
    /// }
    /// println!("{:?} per round trip", t.elapsed() / 100);
    /// // Other backends have no null device.
    /// let cpu = Accel::builder().backend(Backend::Cpu).build().await?;
    /// assert!(cpu.nop().await.is_err());
    /// # Ok(()) }
    /// ```
    pub async fn nop(&self) -> Result<()> {
        let pool = self
            .inner
            .null
            .as_ref()
            .ok_or(Error::Unsupported("null jobs need the emulated backend"))?;
        self.inner
            .run(pool, |_| {
                let build = sqe_builder(|tag, _| {
                    let mut sqe = [0u8; 128];
                    sqe[..4].copy_from_slice(&tag.to_le_bytes());
                    Ok(sqe)
                });
                Ok((Buffers::default(), build))
            })
            .await?;
        Ok(())
    }
}

fn sec_encode(op: SecOp, tag: u32, version: QmVersion) -> Result<Sqe> {
    sec::encode(
        &SecRequest {
            op,
            tag,
            sva_prefetch: false,
        },
        version,
    )
    .map_err(|e| Error::Device(format!("cannot encode the SEC request: {e}")))
}

fn check_sec(sqe: &Sqe) -> Result<()> {
    match sec::read_result(sqe).outcome() {
        SecOutcome::Ok => Ok(()),
        SecOutcome::MacMismatch => Err(Error::AuthFailed),
        SecOutcome::DeviceError { done, error_type } => Err(Error::Device(format!(
            "SEC job failed (done={done}, error_type={error_type:#04x})"
        ))),
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        for e in [&self.zip_c, &self.zip_d, &self.sec] {
            if let Engine::Device(p) = e {
                for l in p.lanes.read().unwrap_or_else(|e| e.into_inner()).iter() {
                    l.retire(Error::Shutdown);
                }
            }
        }
        if let Some(p) = &self.null {
            for l in p.lanes.read().unwrap_or_else(|e| e.into_inner()).iter() {
                l.retire(Error::Shutdown);
            }
        }
    }
}

/// Bytes per long-hash part on devices (a multiple of every block size).
const HASH_PART: usize = 1 << 20;

/// An incremental hash ([`Accel::hasher`]).
pub struct Hasher {
    accel: Accel,
    alg: HashAlg,
    pending: BytesMut,
    state: Option<[u8; 64]>,
    total: u64,
    cpu: Option<CpuHash>,
}

enum CpuHash {
    Sha256(sha2::Sha256),
    Sha512(sha2::Sha512),
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
        use sha2::Digest;
        let data = data.as_ref();
        self.total += data.len() as u64;
        let Some(pool) = self.accel.pool(Class::Sec) else {
            let h = self.cpu.get_or_insert_with(|| match self.alg {
                HashAlg::Sha256 => CpuHash::Sha256(sha2::Sha256::new()),
                HashAlg::Sha512 => CpuHash::Sha512(sha2::Sha512::new()),
            });
            match h {
                CpuHash::Sha256(h) => h.update(data),
                CpuHash::Sha512(h) => h.update(data),
            }
            return Ok(());
        };
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
                .hash_part(pool, self.alg, None, part, stage, self.state)
                .await?;
            self.state = Some(st);
        }
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
    pub async fn finalize(mut self) -> Result<Vec<u8>> {
        use sha2::Digest;
        if let Some(h) = self.cpu.take() {
            return Ok(match h {
                CpuHash::Sha256(h) => h.finalize().to_vec(),
                CpuHash::Sha512(h) => h.finalize().to_vec(),
            });
        }
        let Some(pool) = self.accel.pool(Class::Sec) else {
            return Ok(uacce_emu::soft::hash(self.alg.digest_alg(), &[]).unwrap_or_default());
        };
        let rest = self.pending.split().freeze();
        match self.state {
            None => self.accel.digest_job(self.alg, None, rest).await,
            Some(st) => {
                let out = self
                    .accel
                    .hash_part(
                        pool,
                        self.alg,
                        None,
                        rest,
                        DigestStage::Last {
                            total_len: self.total,
                        },
                        Some(st),
                    )
                    .await?;
                Ok(out[..self.alg.output_len()].to_vec())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake `/sys/class/uacce` in a temporary directory.
    struct FakeSysfs {
        _dir: tempfile::TempDir,
        sysfs: Sysfs,
    }

    impl FakeSysfs {
        fn new() -> Self {
            let dir = tempfile::tempdir().expect("temp dir");
            let root = dir.path().join("class/uacce");
            std::fs::create_dir_all(&root).expect("class dir");
            let sysfs = Sysfs::with_root(&root, dir.path().join("dev"));
            Self { _dir: dir, sysfs }
        }

        /// A device entry: `flags` 1 is SVA; `algorithms` one per line.
        fn add(&self, name: &str, api: &str, flags: u32, algorithms: &[&str]) -> &Self {
            let dir = self.sysfs.root().join(name);
            std::fs::create_dir_all(&dir).expect("device dir");
            for (attr, content) in [
                ("api", format!("{api}\n")),
                ("flags", format!("{flags}\n")),
                ("available_instances", "4\n".to_string()),
                ("algorithms", algorithms.join("\n") + "\n"),
            ] {
                std::fs::write(dir.join(attr), content).expect("attribute");
            }
            self
        }

        /// hisi_zip-0, hisi_zip-1, hisi_sec2-0 (SVA), hisi_zip-2 (no SVA), hisi_hpre-0 (neither gzip nor aead).
        fn typical() -> Self {
            let f = Self::new();
            f.add("hisi_zip-0", "hisi_qm_v2", 1, &["zlib", "gzip", "deflate"])
                .add("hisi_zip-1", "hisi_qm_v3", 1, &["zlib", "gzip", "deflate"])
                .add(
                    "hisi_sec2-0",
                    "hisi_qm_v2",
                    1,
                    &["cipher", "digest", "aead"],
                )
                .add("hisi_zip-2", "hisi_qm_v2", 0, &["zlib", "gzip"])
                .add("hisi_hpre-0", "hisi_qm_v2", 1, &["rsa", "dh"]);
            f
        }

        fn pick(&self, only: Option<&[&str]>) -> Result<(Vec<String>, Vec<String>)> {
            let only: Option<Vec<String>> = only.map(|o| o.iter().map(|s| s.to_string()).collect());
            let (z, s) = hw_devices(&self.sysfs, only.as_deref())?;
            let names = |v: Vec<sysfs::Device>| v.into_iter().map(|d| d.name).collect();
            Ok((names(z), names(s)))
        }
    }

    fn no_device_message(r: Result<(Vec<String>, Vec<String>)>) -> String {
        match r {
            Err(Error::NoDevice(m)) => m,
            other => panic!("expected Error::NoDevice, got {other:?}"),
        }
    }

    #[test]
    fn without_a_filter_every_usable_device_serves() {
        let f = FakeSysfs::typical();
        let (z, s) = f.pick(None).unwrap();
        // hisi_zip-2 lacks SVA and is skipped silently, as before the filter existed.
        assert_eq!(z, ["hisi_zip-0", "hisi_zip-1"]);
        assert_eq!(s, ["hisi_sec2-0"]);
    }

    #[test]
    fn the_filter_keeps_only_the_named_devices() {
        let f = FakeSysfs::typical();
        assert_eq!(
            f.pick(Some(&["hisi_zip-1"])).unwrap(),
            (vec!["hisi_zip-1".to_string()], vec![])
        );
        // In sysfs order whatever the order of the names; a name given twice counts once.
        assert_eq!(
            f.pick(Some(&[
                "hisi_sec2-0",
                "hisi_zip-1",
                "hisi_zip-0",
                "hisi_zip-1"
            ]))
            .unwrap(),
            (
                vec!["hisi_zip-0".to_string(), "hisi_zip-1".to_string()],
                vec!["hisi_sec2-0".to_string()]
            )
        );
        assert_eq!(f.pick(Some(&[])).unwrap(), (vec![], vec![]));
    }

    #[test]
    fn a_missing_device_is_named_with_the_devices_found() {
        let f = FakeSysfs::typical();
        let m = no_device_message(f.pick(Some(&["hisi_zip-0", "hisi_zip-7", "nope"])));
        let (missing, here) = m.split_once("not found").expect("two parts");
        assert!(missing.contains("hisi_zip-7, nope"), "{m}");
        assert!(!missing.contains("hisi_zip-0"), "{m}");
        assert!(
            here.contains("hisi_hpre-0, hisi_sec2-0, hisi_zip-0, hisi_zip-1, hisi_zip-2"),
            "{m}"
        );
        // No uacce class at all.
        let none = Sysfs::with_root("/nonexistent/class/uacce", "/dev");
        let only = vec!["hisi_zip-0".to_string()];
        let m = match hw_devices(&none, Some(&only)) {
            Err(Error::NoDevice(m)) => m,
            other => panic!("{other:?}"),
        };
        assert!(m.contains("hisi_zip-0") && m.contains("no uacce"), "{m}");
        // An empty list needs no devices at all.
        assert_eq!(hw_devices(&none, Some(&[])).unwrap().0.len(), 0);
    }

    #[test]
    fn a_named_device_that_cannot_serve_is_an_error_not_skipped() {
        let f = FakeSysfs::typical();
        let m = no_device_message(f.pick(Some(&["hisi_zip-2"])));
        assert!(m.contains("hisi_zip-2") && m.contains("SVA"), "{m}");
        let m = no_device_message(f.pick(Some(&["hisi_zip-0", "hisi_hpre-0"])));
        assert!(m.contains("hisi_hpre-0") && m.contains("rsa"), "{m}");
        f.add("hisi_zip-3", "acme_v9", 1, &["gzip"]);
        let m = no_device_message(f.pick(Some(&["hisi_zip-3"])));
        assert!(m.contains("hisi_zip-3") && m.contains("acme_v9"), "{m}");
        std::fs::write(f.sysfs.root().join("hisi_zip-1/isolate"), "1\n").unwrap();
        let m = no_device_message(f.pick(Some(&["hisi_zip-1"])));
        assert!(m.contains("hisi_zip-1") && m.contains("isolated"), "{m}");
        // Unfiltered, the same devices are skipped silently.
        assert_eq!(f.pick(None).unwrap().0, ["hisi_zip-0"]);
    }

    #[tokio::test]
    async fn the_filter_is_ignored_by_the_emulated_and_cpu_backends() {
        for backend in [Backend::Emulated, Backend::Cpu] {
            let accel = Accel::builder()
                .backend(backend)
                .devices(["hisi_zip-99"])
                .build()
                .await
                .unwrap();
            assert_eq!(
                accel.config().devices.as_deref(),
                Some(&["hisi_zip-99".to_string()][..])
            );
        }
    }

    #[tokio::test]
    async fn a_missing_named_device_fails_the_hardware_backends_at_build() {
        // This machine's /sys/class/uacce, whatever it holds, has no device of that name.
        for backend in [Backend::Auto, Backend::Hardware] {
            let r = Accel::builder()
                .backend(backend)
                .devices(["no_such_accel-99"])
                .build()
                .await;
            match r {
                Err(Error::NoDevice(m)) => assert!(m.contains("no_such_accel-99"), "{m}"),
                other => panic!("{backend:?}: {other:?}"),
            }
        }
    }

    /// Lanes of a pool on one NUMA node skip the per-job node lookup; lanes on several nodes keep it.
    #[tokio::test]
    async fn numa_uniform_follows_the_lanes_nodes() {
        let accel = Accel::builder()
            .backend(Backend::Emulated)
            .queues_per_device(1)
            .build()
            .await
            .unwrap();
        let null = |name: &str, node: u32| {
            let mut cfg = EmuConfig::new(DeviceKind::Null).name(name).depth(8);
            cfg.numa_node = node;
            Source::Emu(EmuDevice::new(cfg))
        };
        for (nodes, uniform) in [(vec![0, 0], true), (vec![0, 1], false), (vec![1], true)] {
            let sources = nodes
                .iter()
                .enumerate()
                .map(|(i, &n)| null(&format!("emu_null-{i}"), n))
                .collect();
            let Engine::Device(pool) = accel.inner.engine(Class::Null, sources).unwrap() else {
                panic!("no lanes for {nodes:?}");
            };
            assert_eq!(
                pool.numa_uniform.load(Ordering::Relaxed),
                uniform,
                "{nodes:?}"
            );
            // Selection still works either way.
            assert!(accel.inner.pick(&pool).is_ok(), "{nodes:?}");
            for l in pool.lanes.read().unwrap().iter() {
                l.retire(Error::Shutdown);
            }
        }
    }
}
