//! `uacce-emu`: an in-process device that speaks the HiSilicon QM ring protocol.
//!
//! It is the device side of the same ring the driver uses ([`uacce_sys::qm::DeviceRing`]): a queue's DUS region is
//! page-aligned anonymous memory, the doorbell is the same 64-bit value handed to the emulator, and completions are
//! signalled on an eventfd — only when the consumer armed the interrupt with a CQ doorbell of priority 1, as on the
//! hardware. Each queue has a device thread that fetches SQEs when the SQ doorbell rings, does the work with real
//! codecs (flate2 with zlib-rs; RustCrypto AES/GCM/SHA-2/HMAC) on the buffers the SQE names, writes the result fields
//! back into the SQE and posts CQEs with the phase bit, in SQ order. A CQ doorbell with priority 1 arms one signal:
//! it fires at once if CQEs past the consumer's new head are already posted, else with the next posted CQE.
//!
//! * Strict like hardware: an SQE that does not decode, names an unknown code, a bad length or an address the
//!   process cannot access ends with an error status in the SQE; the device never panics on SQE contents and only
//!   writes inside the output ranges the SQE names.
//! * Service time ([`ServiceModel`]): none, a fixed latency, or a bandwidth model; the device threads do the codec
//!   work, the model decides when the completion becomes visible. Jobs are pipelined (many in flight at once), and
//!   completions stay in SQ order.
//! * Fault injection ([`Fault`]): an error status on a chosen job, a job that never completes, a queue reset (the
//!   TX/RX status words are set as the kernel does), device removal.
//! * Counters ([`Counters`]): jobs accepted, completed, failed and dropped, so tests can prove nothing was lost.
//! * Doorbells cost the ringing thread what an emulator can make them cost, close to hardware's one MMIO store:
//!   after each piece of work a queue's device thread watches for doorbells for [`EmuConfig::doorbell_watch`]
//!   (yielding its CPU between looks) before it sleeps, and a CQ doorbell that a sleeping device does not need at
//!   once (it frees no CQ space the device waits for and arms no signal for completions already posted) is
//!   applied, in order, when the thread next wakes — always before it posts another completion. Only a doorbell
//!   that needs a sleeping thread wakes it (a futex syscall on the ringing thread), counted in
//!   [`Counters::doorbell_wakeups`].
//!
//! ```
//! use uacce_emu::{DeviceKind, EmuConfig, EmuDevice};
//! let dev = EmuDevice::new(EmuConfig::new(DeviceKind::Null));
//! let q = dev.open_queue(0).unwrap();
//! let mut ring = q.driver_ring().unwrap();
//! // SAFETY: the SQE names no buffers, and a null device never dereferences SQE addresses anyway.
//! unsafe { ring.submit(&[0u8; 128]) }.unwrap();
//! while !ring.has_completion() { std::thread::yield_now(); }
//! assert!(ring.pop().unwrap().is_some());
//! assert_eq!(dev.counters().completed, 1);
//! ```

use std::collections::VecDeque;
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::sys::eventfd::{EfdFlags, EventFd};
use uacce_sys::qm::{
    DeviceEvent, DeviceRing, Doorbell, DoorbellCmd, DriverRing, DusMemory, QmVersion, RingLayout,
    Sqe, decode_doorbell,
};

mod exec;
pub mod mem;
pub mod trace;
/// The software SEC engines the emulated SEC device runs (they live in `uacce-soft`, shared with `uacce-async`'s CPU
/// backend).
pub use uacce_soft::sec as soft;

pub use exec::zip::STATUS_NO_CONTEXT;
pub use mem::{AccessFault, AnonDus, ProcMem};
pub use trace::{SlotRead, SqeRecord};

/// Which engine the emulated device is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeviceKind {
    /// A ZIP engine: deflate, zlib and gzip, compress (qc_type 0) or decompress (qc_type 1) queues.
    Zip,
    /// A SEC engine: AES cipher, AES-GCM, SHA-2 and HMAC.
    Sec,
    /// An HPRE engine (`hisi_hpre`, 64-byte SQEs): RSA and DH on queue type 0; on QM v3 also ECDH, ECDSA, SM2,
    /// X25519 and X448 on queue type 1. The arithmetic is `uacce_soft::pkey`'s.
    Hpre,
    /// No work at all: every SQE completes unchanged. For measuring the pure overhead of the ring and the
    /// notification path ("null jobs"); no hardware has it.
    Null,
}

impl DeviceKind {
    /// The `algorithms` list the kernel would show for this kind. For HPRE it depends on the hardware version:
    /// this is the v3 list; [`DeviceKind::algorithms_on`] gives the one for a version.
    pub fn algorithms(self) -> &'static [&'static str] {
        self.algorithms_on(QmVersion::V3)
    }

    /// The `algorithms` list the kernel shows for this kind on hardware of `version` (HPRE: v2 `rsa`, `dh`; v3 adds
    /// `ecdh`, `ecdsa`, `sm2`, `x25519`, `x448`, see [`uacce_sys::qm::hpre::algorithms`]).
    pub fn algorithms_on(self, version: QmVersion) -> &'static [&'static str] {
        match self {
            DeviceKind::Zip => &["zlib", "gzip", "deflate"],
            DeviceKind::Sec => &["cipher", "digest", "aead"],
            DeviceKind::Hpre => uacce_sys::qm::hpre::algorithms(version),
            DeviceKind::Null => &["null"],
        }
    }

    /// SQE size of the kind's queues: 64 bytes for HPRE, 128 for the others (the kernel's `sqe_size`).
    pub fn sqe_size(self) -> usize {
        match self {
            DeviceKind::Hpre => uacce_sys::qm::HPRE_SQE_SIZE,
            _ => uacce_sys::qm::SQE_SIZE,
        }
    }
}

/// When a finished job's completion becomes visible.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ServiceModel {
    /// As soon as the device thread has done the work.
    #[default]
    Immediate,
    /// A fixed latency from the moment the device fetched the SQE.
    Fixed(Duration),
    /// `base + bytes / bytes_per_sec` from the moment the device fetched the SQE, where `bytes` is the job's input.
    Bandwidth {
        /// Modelled throughput of one job's data path.
        bytes_per_sec: u64,
        /// Fixed part of the latency.
        base: Duration,
    },
}

impl ServiceModel {
    fn latency(&self, bytes: u64) -> Duration {
        match *self {
            ServiceModel::Immediate => Duration::ZERO,
            ServiceModel::Fixed(d) => d,
            ServiceModel::Bandwidth {
                bytes_per_sec,
                base,
            } => {
                let ns = if bytes_per_sec == 0 {
                    0
                } else {
                    (u128::from(bytes) * 1_000_000_000 / u128::from(bytes_per_sec)) as u64
                };
                base + Duration::from_nanos(ns)
            }
        }
    }
}

/// Configuration of an emulated device.
#[derive(Debug, Clone)]
pub struct EmuConfig {
    /// Device name, as the `<name>-<N>` of a uacce device (`emu_zip-0`, …).
    pub name: String,
    /// Engine kind.
    pub kind: DeviceKind,
    /// QM generation the device speaks (SQE formats and doorbell layout follow it). Default V2.
    pub version: QmVersion,
    /// SQ and CQ depth of each queue. Default 1024.
    pub depth: u16,
    /// Queues the device can hand out at once (`available_instances`). Default 64.
    pub max_queues: u16,
    /// Service-time model. Default [`ServiceModel::Immediate`].
    pub service: ServiceModel,
    /// NUMA node to report. Default 0.
    pub numa_node: u32,
    /// Deflate level the emulated compressor uses (hardware has no level; 1..=9). Default 1.
    pub zip_level: u32,
    /// ZIP stream contexts the device keeps at once (default [`DEFAULT_MAX_STREAMS`]). Hardware keeps a stream's
    /// state in the caller's context buffer; the emulator keeps its codec state in a table of its own, bounded by
    /// this. A stream's first BD beyond it fails with [`STATUS_NO_CONTEXT`]; no other stream's state is
    /// ever evicted. The owner of a context buffer releases its entry with [`EmuDevice::release_stream`].
    pub max_streams: usize,
    /// How long a queue's device thread keeps watching for commands (yielding its CPU between looks) after its
    /// last piece of work before it sleeps (default [`DEFAULT_DOORBELL_WATCH`]). Hardware takes a doorbell as one
    /// MMIO store, whenever it comes; a sleeping emulator thread must be woken with a futex syscall, which costs
    /// the thread that rings (the application's) the syscall and, with the device thread's CPU idle, a cross-CPU
    /// wake-up that silicon does not cost. The watch covers the usual gap between a completion and the next
    /// submission. The watching thread's CPU is the device's, as all of its threads' is. `Duration::ZERO` sleeps at
    /// once.
    pub doorbell_watch: Duration,
}

/// Default of [`EmuConfig::doorbell_watch`].
pub const DEFAULT_DOORBELL_WATCH: Duration = Duration::from_micros(200);

/// Default of [`EmuConfig::max_streams`].
pub const DEFAULT_MAX_STREAMS: usize = 4096;

impl EmuConfig {
    /// Defaults for a device of `kind`.
    pub fn new(kind: DeviceKind) -> Self {
        let name = match kind {
            DeviceKind::Zip => "emu_zip-0",
            DeviceKind::Sec => "emu_sec-0",
            DeviceKind::Hpre => "emu_hpre-0",
            DeviceKind::Null => "emu_null-0",
        };
        Self {
            name: name.to_string(),
            kind,
            version: QmVersion::V2,
            depth: 1024,
            max_queues: 64,
            service: ServiceModel::Immediate,
            numa_node: 0,
            zip_level: 1,
            max_streams: DEFAULT_MAX_STREAMS,
            doorbell_watch: DEFAULT_DOORBELL_WATCH,
        }
    }

    /// Set the QM version.
    pub fn version(mut self, version: QmVersion) -> Self {
        self.version = version;
        self
    }

    /// Set the ring depth.
    pub fn depth(mut self, depth: u16) -> Self {
        self.depth = depth;
        self
    }

    /// Set the service-time model.
    pub fn service(mut self, service: ServiceModel) -> Self {
        self.service = service;
        self
    }

    /// Set the device name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Set the number of queues the device can hand out.
    pub fn max_queues(mut self, n: u16) -> Self {
        self.max_queues = n;
        self
    }

    /// Set the number of ZIP stream contexts the device keeps at once.
    pub fn max_streams(mut self, n: usize) -> Self {
        self.max_streams = n;
        self
    }

    /// Set how long a device thread watches for commands before it sleeps ([`EmuConfig::doorbell_watch`]).
    pub fn doorbell_watch(mut self, watch: Duration) -> Self {
        self.doorbell_watch = watch;
        self
    }
}

/// A fault to inject. Jobs are numbered device-wide in the order the device accepts them, from 0
/// ([`Counters::accepted`] is the number the next job will get).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Job `n` ends with an error status (ZIP: status 0x10 "CRC error"; SEC: error_type 0x01), without doing its work.
    ErrorStatus(u64),
    /// Job `n` never completes. Completions stay in SQ order, so its queue stalls behind it, as a hung engine does.
    Stuck(u64),
    /// Reset queue `sqn`: TX status word = 1, the queue stops (pending jobs are dropped), RX word = 1, and its
    /// eventfd is signalled so a sleeping consumer notices.
    ResetQueue(u16),
    /// Remove the device: every queue is reset as above and marked removed; opening new queues fails.
    Remove,
}

/// Device-wide job counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counters {
    /// SQEs the device fetched from a ring.
    pub accepted: u64,
    /// CQEs posted (successful or not).
    pub completed: u64,
    /// Of the completed, those that carried an error status (bad SQE, bad address, codec error, injected).
    pub failed: u64,
    /// Accepted jobs that will never complete: stuck, or pending when their queue was reset, removed or closed.
    pub dropped: u64,
    /// Doorbells that did not decode or named an index outside the ring (the queue is then disabled).
    pub bad_doorbells: u64,
    /// Valid SQ doorbells received. One doorbell may hand over several SQEs (a driver batching its doorbells),
    /// so this is at most `accepted` once the device has fetched everything rung.
    pub sq_doorbells: u64,
    /// Input bytes the device reported consumed in the successful jobs it completed (ZIP: dw0, the deflate data
    /// without the zlib/gzip header the driver handles; SEC and HPRE: the data length). A job resent with the input a stream
    /// BD left over counts only what each BD took, so this is how much of an input the device itself processed.
    pub bytes_in: u64,
    /// Output bytes the device reported produced in the successful ZIP jobs it completed (dw1); SEC and HPRE jobs add 0.
    pub bytes_out: u64,
    /// Doorbells that had to wake a sleeping device thread: a futex syscall (and often a cross-CPU wake-up) on the
    /// ringing thread, which an MMIO doorbell on hardware does not cost. See [`EmuConfig::doorbell_watch`] and
    /// the doorbell rules of the crate documentation.
    pub doorbell_wakeups: u64,
}

#[derive(Default)]
struct AtomicCounters {
    accepted: AtomicU64,
    completed: AtomicU64,
    failed: AtomicU64,
    dropped: AtomicU64,
    bad_doorbells: AtomicU64,
    sq_doorbells: AtomicU64,
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
    doorbell_wakeups: AtomicU64,
}

/// Errors of the emulator's control API.
#[derive(Debug, thiserror::Error)]
pub enum EmuError {
    /// The device was removed.
    #[error("emulated device {0} was removed")]
    Removed(String),
    /// All queues are in use.
    #[error("emulated device {0} has no free queue (max {1})")]
    Busy(String, u16),
    /// The qc_type is not valid for this device kind.
    #[error(
        "qc_type {0} is not valid for this device (ZIP: 0 compress, 1 decompress; HPRE: 0 RSA/DH, 1 ECC; SEC: 0)"
    )]
    BadQcType(u16),
    /// The ring geometry was refused.
    #[error(transparent)]
    Ring(#[from] uacce_sys::qm::RingError),
    /// Creating the queue's memory, eventfd or thread failed.
    #[error("emulator resource: {0}")]
    Io(#[from] std::io::Error),
}

/// State of an emulated queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueState {
    /// Serving jobs.
    Live,
    /// Reset by the device (status words set); must be closed.
    Reset,
    /// Its device was removed.
    Removed,
}

struct DeviceShared {
    config: EmuConfig,
    counters: AtomicCounters,
    faults: Mutex<Vec<Fault>>,
    removed: AtomicBool,
    queues: Mutex<Vec<Weak<QueueShared>>>,
    next_sqn: AtomicU16,
    exec: exec::ExecState,
    /// The SQE trace: `None` while tracing is off.
    trace: Mutex<Option<Vec<SqeRecord>>>,
}

/// An emulated accelerator device. Cheap to clone (shared handle).
#[derive(Clone)]
pub struct EmuDevice {
    shared: Arc<DeviceShared>,
}

impl std::fmt::Debug for EmuDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmuDevice")
            .field("name", &self.shared.config.name)
            .field("kind", &self.shared.config.kind)
            .finish_non_exhaustive()
    }
}

impl EmuDevice {
    /// Create a device.
    pub fn new(config: EmuConfig) -> Self {
        let exec = exec::ExecState::new(
            config.kind,
            config.version,
            config.zip_level,
            config.max_streams,
        );
        Self {
            shared: Arc::new(DeviceShared {
                config,
                counters: AtomicCounters::default(),
                faults: Mutex::new(Vec::new()),
                removed: AtomicBool::new(false),
                queues: Mutex::new(Vec::new()),
                next_sqn: AtomicU16::new(0),
                exec,
                trace: Mutex::new(None),
            }),
        }
    }

    /// Forget the ZIP stream whose context address (the `ctx_addr` of its BDs) is `ctx_addr`: its owner freed the
    /// context buffer. Hardware needs no such call (the state lives in the buffer); the emulator's table would
    /// otherwise keep an abandoned stream's codec state until [`EmuConfig::max_streams`] is reached.
    pub fn release_stream(&self, ctx_addr: u64) {
        self.shared.exec.release_stream(ctx_addr);
    }

    /// ZIP stream contexts the device holds now.
    pub fn open_streams(&self) -> usize {
        self.shared.exec.open_streams()
    }

    /// The configuration the device was made with.
    pub fn config(&self) -> &EmuConfig {
        &self.shared.config
    }

    /// Queues that can still be opened (`available_instances`).
    pub fn available_instances(&self) -> u16 {
        let open = self.live_queues().len() as u16;
        self.shared.config.max_queues.saturating_sub(open)
    }

    fn live_queues(&self) -> Vec<Arc<QueueShared>> {
        let mut qs = self.shared.queues.lock().unwrap_or_else(|e| e.into_inner());
        qs.retain(|w| w.strong_count() > 0);
        qs.iter().filter_map(Weak::upgrade).collect()
    }

    /// Open and start a queue, as `open` + `SET_QP_CTX(qc_type)` + `START_Q` do on a real device. ZIP: qc_type 0 is a
    /// compress queue, 1 a decompress queue; HPRE: 0 an RSA/DH queue, 1 an ECC queue; SEC and Null take 0. The
    /// queue's ring has the kind's SQE size ([`DeviceKind::sqe_size`]).
    pub fn open_queue(&self, qc_type: u16) -> Result<EmuQueue, EmuError> {
        let cfg = &self.shared.config;
        if self.shared.removed.load(Ordering::Acquire) {
            return Err(EmuError::Removed(cfg.name.clone()));
        }
        let valid = match cfg.kind {
            DeviceKind::Zip | DeviceKind::Hpre => qc_type <= 1,
            DeviceKind::Sec | DeviceKind::Null => qc_type == 0,
        };
        if !valid {
            return Err(EmuError::BadQcType(qc_type));
        }
        if self.available_instances() == 0 {
            return Err(EmuError::Busy(cfg.name.clone(), cfg.max_queues));
        }
        let layout = RingLayout::with_sqe_size(
            cfg.kind.sqe_size(),
            cfg.depth,
            cfg.depth,
            uacce_sys::qm::ring::page_size(),
        )?;
        let mem = Arc::new(AnonDus::new(layout.dus_size())?);
        let sqn = self.shared.next_sqn.fetch_add(1, Ordering::Relaxed) % 1024;
        let ring = DeviceRing::new(mem.clone(), layout, cfg.version, sqn)?;
        let eventfd =
            EventFd::from_value_and_flags(0, EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK)
                .map_err(std::io::Error::from)?;
        let queue = Arc::new(QueueShared {
            sqn,
            qc_type,
            layout,
            mem,
            eventfd,
            state: AtomicU8::new(STATE_LIVE),
            cmds: Mutex::new(Cmds::default()),
            cv: Condvar::new(),
            queued: AtomicBool::new(false),
        });
        let device = self.shared.clone();
        let q2 = queue.clone();
        let thread = std::thread::Builder::new()
            .name(format!("{}-q{}", cfg.name, sqn))
            .spawn(move || device_thread(device, q2, ring))?;
        self.shared
            .queues
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Arc::downgrade(&queue));
        Ok(EmuQueue {
            doorbell: Arc::new(EmuDoorbell {
                queue: queue.clone(),
                device: self.shared.clone(),
            }),
            shared: queue,
            device: self.shared.clone(),
            thread: Some(thread),
        })
    }

    /// Turn the SQE trace on or off (off drops the records not taken yet). While it is on, the device records
    /// every SQE it consumes with the bytes its address slots named ([`SqeRecord`]): a debugging tool for "what did
    /// the library send?". Records accumulate until [`EmuDevice::take_trace`]; leave tracing off in long runs.
    ///
    /// ```
    /// use uacce_emu::{DeviceKind, EmuConfig, EmuDevice};
    /// let dev = EmuDevice::new(EmuConfig::new(DeviceKind::Sec));
    /// dev.set_trace(true);
    /// // ... run jobs on the device's queues (directly or through uacce-async's `Accel::emulated_devices`) ...
    /// for r in dev.take_trace() {
    ///     println!("queue {} ({:?}): {:02x?}", r.sqn, r.version, &r.sqe[..16]);
    ///     for s in &r.reads {
    ///         println!("  {} @ {:#x}: {} bytes", s.slot, s.addr, s.bytes.len());
    ///     }
    /// }
    /// ```
    pub fn set_trace(&self, on: bool) {
        let mut t = self.shared.trace.lock().unwrap_or_else(|e| e.into_inner());
        match (on, t.is_some()) {
            (true, false) => *t = Some(Vec::new()),
            (false, _) => *t = None,
            _ => {}
        }
    }

    /// The SQEs recorded since tracing was turned on or the last call, in the order the device consumed them.
    pub fn take_trace(&self) -> Vec<SqeRecord> {
        let mut t = self.shared.trace.lock().unwrap_or_else(|e| e.into_inner());
        t.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// A snapshot of the device's counters.
    pub fn counters(&self) -> Counters {
        let c = &self.shared.counters;
        Counters {
            accepted: c.accepted.load(Ordering::SeqCst),
            completed: c.completed.load(Ordering::SeqCst),
            failed: c.failed.load(Ordering::SeqCst),
            dropped: c.dropped.load(Ordering::SeqCst),
            bad_doorbells: c.bad_doorbells.load(Ordering::SeqCst),
            sq_doorbells: c.sq_doorbells.load(Ordering::SeqCst),
            bytes_in: c.bytes_in.load(Ordering::SeqCst),
            bytes_out: c.bytes_out.load(Ordering::SeqCst),
            doorbell_wakeups: c.doorbell_wakeups.load(Ordering::SeqCst),
        }
    }

    /// Inject a fault. Job faults take effect when the numbered job is accepted; resets and removal at once.
    pub fn inject(&self, fault: Fault) {
        match fault {
            Fault::ErrorStatus(_) | Fault::Stuck(_) => self
                .shared
                .faults
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(fault),
            Fault::ResetQueue(sqn) => {
                for q in self.live_queues() {
                    if q.sqn == sqn {
                        q.command(Cmd::Reset(STATE_RESET));
                    }
                }
            }
            Fault::Remove => {
                self.shared.removed.store(true, Ordering::Release);
                for q in self.live_queues() {
                    q.command(Cmd::Reset(STATE_REMOVED));
                }
            }
        }
    }

    /// Remove the device (same as `inject(Fault::Remove)`).
    pub fn remove(&self) {
        self.inject(Fault::Remove);
    }

    /// True once the device was removed.
    pub fn is_removed(&self) -> bool {
        self.shared.removed.load(Ordering::Acquire)
    }
}

const STATE_LIVE: u8 = 0;
const STATE_RESET: u8 = 1;
const STATE_REMOVED: u8 = 2;

enum Cmd {
    Doorbell(u64),
    Reset(u8),
}

#[derive(Default)]
struct Cmds {
    queue: VecDeque<Cmd>,
    closing: bool,
    /// The device thread is blocked on the condvar (set and cleared under the mutex): only then does a command
    /// need a wake-up. std's `Condvar::notify_one` makes a futex syscall even with no waiter, and on a VM a wake
    /// of a halted vCPU costs microseconds, so an unconditional notify would charge every doorbell with a syscall
    /// that MMIO doorbells on hardware do not cost. Whoever wakes the thread clears the flag, so that one sleep
    /// costs at most one wake-up.
    sleeping: bool,
    /// While `sleeping`: the device's CQ tail and whether its CQ was full when it went to sleep. A CQ doorbell
    /// only needs the thread when it frees CQ space the device waits for, or arms the signal with completions
    /// already past the consumer's head (see [`EmuDoorbell::needs_device`]).
    sleep_cq_tail: u16,
    sleep_cq_full: bool,
}

struct QueueShared {
    sqn: u16,
    qc_type: u16,
    layout: RingLayout,
    mem: Arc<AnonDus>,
    eventfd: EventFd,
    state: AtomicU8,
    cmds: Mutex<Cmds>,
    cv: Condvar,
    /// Set with every command queued and on closing (under `cmds`): what a watching device thread looks at
    /// without the lock.
    queued: AtomicBool,
}

impl QueueShared {
    fn command(&self, cmd: Cmd) {
        let mut c = self.cmds.lock().unwrap_or_else(|e| e.into_inner());
        c.queue.push_back(cmd);
        self.queued.store(true, Ordering::Release);
        let wake = std::mem::take(&mut c.sleeping);
        drop(c);
        if wake {
            self.cv.notify_one();
        }
    }

    fn signal(&self) {
        // An eventfd counter only overflows after 2^64-2 signals; EAGAIN then means "already readable", which is
        // all a signal has to achieve.
        let _ = self.eventfd.write(1);
    }
}

/// The doorbell of an emulated queue: hands the 64-bit value to the queue's device thread.
struct EmuDoorbell {
    queue: Arc<QueueShared>,
    device: Arc<DeviceShared>,
}

impl EmuDoorbell {
    /// Whether `value`, rung while the device thread sleeps, needs the thread now. An SQ doorbell does (new work),
    /// and so does anything the device must refuse (its error is raised at once). A well-formed CQ doorbell only
    /// moves the consumer's head and (priority 1) arms the completion signal: it is queued and applied, in order,
    /// before the device posts its next completion, which it only does awake. It needs the thread now only if
    /// the device waits for CQ space, or if it arms the signal while completions are already past the new head
    /// (the device then signals at once). Hardware takes a doorbell as one MMIO store; waking the emulator's
    /// thread for the others would charge the consumer a futex syscall and a cross-CPU wake-up per completion
    /// that silicon does not cost.
    fn needs_device(&self, value: u64, c: &Cmds) -> bool {
        let Ok(f) = decode_doorbell(self.device.config.version, value) else {
            return true;
        };
        let q = &self.queue;
        let lazy = f.cmd == DoorbellCmd::Cq
            && f.sqn == q.sqn
            && f.index < q.layout.cq_depth
            && !c.sleep_cq_full
            && (f.priority == 0 || f.index == c.sleep_cq_tail);
        !lazy
    }
}

impl Doorbell for EmuDoorbell {
    unsafe fn ring(&self, value: u64) -> std::io::Result<()> {
        let mut c = self.queue.cmds.lock().unwrap_or_else(|e| e.into_inner());
        if c.closing {
            return Err(std::io::Error::from_raw_os_error(nix::libc::ENODEV));
        }
        c.queue.push_back(Cmd::Doorbell(value));
        self.queue.queued.store(true, Ordering::Release);
        // Clear the flag as we wake the thread: a doorbell right behind this one (an SQ doorbell and the arming CQ
        // doorbell usually come in pairs) then finds the thread already woken and makes no second syscall.
        let wake = c.sleeping && self.needs_device(value, &c);
        if wake {
            c.sleeping = false;
            self.device
                .counters
                .doorbell_wakeups
                .fetch_add(1, Ordering::Relaxed);
        }
        drop(c);
        if wake {
            self.queue.cv.notify_one();
        }
        Ok(())
    }
}

/// An open, started queue of an emulated device. Dropping it stops the queue (jobs still pending are dropped and
/// counted) and joins its device thread, so no job buffer is touched by the device afterwards.
pub struct EmuQueue {
    shared: Arc<QueueShared>,
    doorbell: Arc<EmuDoorbell>,
    device: Arc<DeviceShared>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for EmuQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmuQueue")
            .field("device", &self.device.config.name)
            .field("sqn", &self.shared.sqn)
            .field("state", &self.state())
            .finish_non_exhaustive()
    }
}

impl EmuQueue {
    /// Queue number (what `SET_QP_CTX` returns).
    pub fn sqn(&self) -> u16 {
        self.shared.sqn
    }

    /// The qc_type the queue was opened with.
    pub fn qc_type(&self) -> u16 {
        self.shared.qc_type
    }

    /// QM version the device speaks.
    pub fn version(&self) -> QmVersion {
        self.device.config.version
    }

    /// Ring geometry.
    pub fn layout(&self) -> RingLayout {
        self.shared.layout
    }

    /// The DUS region shared with the device.
    pub fn dus(&self) -> Arc<dyn DusMemory> {
        self.shared.mem.clone()
    }

    /// The doorbell.
    pub fn doorbell(&self) -> Arc<dyn Doorbell> {
        self.doorbell.clone()
    }

    /// The eventfd the device signals when a completion arrives while the interrupt is armed (and on reset or
    /// removal). Non-blocking; read it to reset the counter.
    pub fn eventfd(&self) -> BorrowedFd<'_> {
        self.shared.eventfd.as_fd()
    }

    /// The device the queue belongs to.
    pub fn device(&self) -> EmuDevice {
        EmuDevice {
            shared: self.device.clone(),
        }
    }

    /// Live, reset or removed.
    pub fn state(&self) -> QueueState {
        match self.shared.state.load(Ordering::Acquire) {
            STATE_LIVE => QueueState::Live,
            STATE_RESET => QueueState::Reset,
            _ => QueueState::Removed,
        }
    }

    /// The driver side of this queue's ring.
    pub fn driver_ring(&self) -> Result<DriverRing, EmuError> {
        Ok(DriverRing::new(
            self.dus(),
            self.layout(),
            self.doorbell(),
            self.version(),
            self.sqn(),
        )?)
    }
}

impl Drop for EmuQueue {
    fn drop(&mut self) {
        {
            let mut c = self.shared.cmds.lock().unwrap_or_else(|e| e.into_inner());
            c.closing = true;
            // Ends a doorbell watch too.
            self.shared.queued.store(true, Ordering::Release);
        }
        self.shared.cv.notify_one();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A job the device has fetched and finished (or not), waiting for its completion to become visible.
struct InFlight {
    slot: u16,
    sqe: Sqe,
    visible_at: Instant,
    stuck: bool,
    failed: bool,
    /// Bytes the job consumed and produced (counted when its completion is posted).
    consumed: u64,
    produced: u64,
}

fn device_thread(device: Arc<DeviceShared>, queue: Arc<QueueShared>, mut ring: DeviceRing) {
    let cfg = &device.config;
    let counters = &device.counters;
    let mut armed = false;
    let mut inflight: VecDeque<InFlight> = VecDeque::new();
    let mut last_visible = Instant::now();
    let mut stopped = false;
    // The end of the current doorbell watch (`EmuConfig::doorbell_watch`): extended by every piece of work.
    let mut watch_until = Instant::now();
    loop {
        // Wait for a command, or for the next completion to become visible.
        let cmds: Vec<Cmd> = {
            let mut c = queue.cmds.lock().unwrap_or_else(|e| e.into_inner());
            loop {
                if c.closing || !c.queue.is_empty() {
                    break;
                }
                let next = inflight
                    .front()
                    .filter(|j| !j.stuck && !stopped && !ring.cq_full())
                    .map(|j| j.visible_at);
                c.sleep_cq_tail = ring.cq_tail();
                c.sleep_cq_full = ring.cq_full();
                match next {
                    None if !stopped && Instant::now() < watch_until => {
                        // Watch: look for commands without the lock, giving the CPU to anything runnable between
                        // looks, until the watch ends.
                        drop(c);
                        while !queue.queued.load(Ordering::Acquire) && Instant::now() < watch_until
                        {
                            std::thread::yield_now();
                        }
                        c = queue.cmds.lock().unwrap_or_else(|e| e.into_inner());
                        if c.queue.is_empty() {
                            // Over (or a command came and went with the lock): sleep when the loop comes back.
                            watch_until = Instant::now();
                        }
                    }
                    None => {
                        c.sleeping = true;
                        c = queue.cv.wait(c).unwrap_or_else(|e| e.into_inner());
                        c.sleeping = false;
                    }
                    Some(t) => {
                        let now = Instant::now();
                        if t <= now {
                            break;
                        }
                        let wait = t - now;
                        if wait > Duration::from_micros(200) {
                            c.sleeping = true;
                            c = queue
                                .cv
                                .wait_timeout(c, wait - Duration::from_micros(100))
                                .unwrap_or_else(|e| e.into_inner())
                                .0;
                            c.sleeping = false;
                        } else {
                            // Short waits: sleeping would overshoot by the timer slack; yield instead.
                            drop(c);
                            std::thread::yield_now();
                            c = queue.cmds.lock().unwrap_or_else(|e| e.into_inner());
                        }
                    }
                }
            }
            if c.closing {
                break;
            }
            queue.queued.store(false, Ordering::Relaxed);
            c.queue.drain(..).collect()
        };

        let mut sq_rung = false;
        for cmd in cmds {
            match cmd {
                Cmd::Doorbell(value) if !stopped => match ring.doorbell(value) {
                    Ok(DeviceEvent::SqTail) => {
                        counters.sq_doorbells.fetch_add(1, Ordering::Relaxed);
                        sq_rung = true;
                    }
                    Ok(DeviceEvent::CqHead { arm }) => armed |= arm,
                    Err(e) => {
                        tracing::warn!(queue = queue.sqn, "emulated device: bad doorbell: {e}");
                        counters.bad_doorbells.fetch_add(1, Ordering::Relaxed);
                        stop_queue(&queue, &ring, &mut inflight, counters, STATE_RESET);
                        stopped = true;
                    }
                },
                Cmd::Doorbell(_) => {}
                Cmd::Reset(state) => {
                    if !stopped {
                        stop_queue(&queue, &ring, &mut inflight, counters, state);
                        stopped = true;
                    } else {
                        queue.state.store(state, Ordering::Release);
                        queue.signal();
                    }
                }
            }
        }
        if stopped {
            continue;
        }

        if sq_rung {
            let fetched_at = Instant::now();
            while let Some((slot, mut sqe)) = ring.fetch() {
                let seq = counters.accepted.fetch_add(1, Ordering::SeqCst);
                device.record(queue.sqn, queue.qc_type, &sqe);
                let fault = take_fault(&device, seq);
                let (failed, bytes, consumed, produced) = match fault {
                    Some(Fault::ErrorStatus(_)) => {
                        exec::inject_error(cfg.kind, cfg.version, &mut sqe);
                        (true, 0, 0, 0)
                    }
                    _ => {
                        let out = device.exec.execute(queue.qc_type, &mut sqe);
                        (!out.ok, out.bytes, out.consumed, out.produced)
                    }
                };
                let visible_at = (fetched_at + cfg.service.latency(bytes)).max(last_visible);
                last_visible = visible_at;
                inflight.push_back(InFlight {
                    slot,
                    sqe,
                    visible_at,
                    stuck: matches!(fault, Some(Fault::Stuck(_))),
                    failed,
                    consumed,
                    produced,
                });
            }
        }

        // Post every completion whose time has come, in order.
        let now = Instant::now();
        let mut posted = false;
        while let Some(job) = inflight.front() {
            if job.stuck || job.visible_at > now || ring.cq_full() {
                break;
            }
            let job = inflight.pop_front().expect("front exists");
            posted = true;
            let sqe = &job.sqe[..queue.layout.sqe_size];
            if ring.write_back(job.slot, sqe).is_err() || ring.post(job.slot).is_err() {
                counters.dropped.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            counters.completed.fetch_add(1, Ordering::SeqCst);
            if job.failed {
                counters.failed.fetch_add(1, Ordering::Relaxed);
            }
            counters.bytes_in.fetch_add(job.consumed, Ordering::Relaxed);
            counters
                .bytes_out
                .fetch_add(job.produced, Ordering::Relaxed);
        }
        // Signal when armed and the CQ holds entries past the consumer's head. Checking the outstanding entries
        // (not only "posted just now") closes the race with a completion posted after the consumer's last look but
        // before its arming doorbell was processed: the arm carries the consumer's head, so the device knows.
        if armed && ring.cq_outstanding() > 0 {
            armed = false;
            queue.signal();
        }
        if sq_rung || posted {
            // Work done: the consumer's next doorbell usually follows shortly.
            watch_until = Instant::now() + cfg.doorbell_watch;
        }
    }
    let pending = inflight.len() as u64;
    counters.dropped.fetch_add(pending, Ordering::SeqCst);
}

impl DeviceShared {
    /// Record `sqe` in the trace if tracing is on.
    fn record(&self, sqn: u16, qc_type: u16, sqe: &uacce_sys::qm::Sqe) {
        let mut t = self.trace.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(records) = t.as_mut() {
            records.push(SqeRecord {
                device: self.config.name.clone(),
                sqn,
                qc_type,
                version: self.config.version,
                sqe: *sqe,
                reads: self.exec.reads(qc_type, sqe),
            });
        }
    }
}

fn take_fault(device: &DeviceShared, seq: u64) -> Option<Fault> {
    let mut faults = device.faults.lock().unwrap_or_else(|e| e.into_inner());
    let pos = faults
        .iter()
        .position(|f| matches!(f, Fault::ErrorStatus(n) | Fault::Stuck(n) if *n == seq))?;
    Some(faults.swap_remove(pos))
}

fn stop_queue(
    queue: &QueueShared,
    ring: &DeviceRing,
    inflight: &mut VecDeque<InFlight>,
    counters: &AtomicCounters,
    state: u8,
) {
    // The kernel's order: TX word, stop the queue, RX word (DeviceRing::disable writes both in that order).
    ring.disable();
    counters
        .dropped
        .fetch_add(inflight.len() as u64, Ordering::SeqCst);
    inflight.clear();
    queue.state.store(state, Ordering::Release);
    queue.signal();
}
