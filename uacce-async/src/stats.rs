//! Public statistics: where jobs went and how they ended, per job family, per device and per queue.
//!
//! Every counter is a relaxed atomic bumped on the job path; nothing on that path takes a lock for them. A
//! snapshot ([`Accel::stats`](crate::Accel::stats)) reads them one by one, so counters read while jobs run may be a
//! few jobs apart from each other; with no job running they add up exactly:
//! `submitted == completed + failed.total() + in_flight` per family.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), uacce_async::Error> {
//! use uacce_async::{Accel, Backend, Family, Format};
//! let accel = Accel::builder().backend(Backend::Emulated).build().await?;
//! accel.compress(Format::Gzip, vec![7u8; 100_000]).await?;
//! let s = accel.stats();
//! let c = s.family(Family::Compress);
//! assert_eq!((c.submitted, c.completed, c.in_flight), (1, 1, 0));
//! assert_eq!(c.on_device + c.on_cpu.total(), 1);
//! assert_eq!(c.bytes_in, 100_000);
//! // Per device and per queue: what the device queues did (streams included).
//! let zip: u64 = s.devices.iter().filter(|d| d.name.starts_with("emu_zip")).map(|d| d.submitted).sum();
//! assert_eq!(zip, c.on_device);
//! # Ok(()) }
//! ```

use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::Error;

/// A kind of one-shot job, as routing and the statistics see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Family {
    /// `compress` (deflate, zlib, gzip).
    Compress,
    /// `decompress` (one member or stream per job).
    Decompress,
    /// Unauthenticated ciphers (AES CBC/CTR/XTS/ECB, SM4, …).
    Cipher,
    /// AES-GCM seal and open.
    Aead,
    /// Hashes and HMACs (one-shot jobs and the parts of a [`Hasher`](crate::Hasher)).
    Digest,
    /// Null jobs (emulator only).
    Nop,
    /// Public-key jobs (RSA, DH, ECDH, ECDSA, X25519/X448, SM2) on HPRE queues.
    Pkey,
}

impl Family {
    /// Every family, in the order of [`Stats::families`].
    pub const ALL: [Family; FAMILIES] = [
        Family::Compress,
        Family::Decompress,
        Family::Cipher,
        Family::Aead,
        Family::Digest,
        Family::Nop,
        Family::Pkey,
    ];

    /// A short name (`compress`, `aead`, …) for logs and reports.
    pub fn name(self) -> &'static str {
        match self {
            Family::Compress => "compress",
            Family::Decompress => "decompress",
            Family::Cipher => "cipher",
            Family::Aead => "aead",
            Family::Digest => "digest",
            Family::Nop => "nop",
            Family::Pkey => "pkey",
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// Why a job ran on the CPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CpuReason {
    /// No device serves the family (CPU backend, or no queue could be opened).
    NoDevice,
    /// The device cannot take this request (size over one job's limit, a mode the queue lacks, an empty input).
    Unfit,
    /// The input is below the family's size threshold ([`Routing`](crate::Routing)).
    Small,
    /// Every queue of the family was full and overflow to the CPU is on.
    Overflow,
    /// The device failed the job (error status, queue reset, removed device, timeout) and it was redone on the CPU.
    Backup,
}

impl CpuReason {
    /// Every reason, in the order of [`CpuCounts`]' fields.
    pub const ALL: [CpuReason; 5] = [
        CpuReason::NoDevice,
        CpuReason::Unfit,
        CpuReason::Small,
        CpuReason::Overflow,
        CpuReason::Backup,
    ];
}

/// How a job (or a device attempt) failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FailKind {
    /// The device reported an error status ([`Error::Device`]).
    Device,
    /// The queue was reset ([`Error::QueueReset`]).
    QueueReset,
    /// The device was removed ([`Error::DeviceRemoved`]).
    Removed,
    /// The job timed out ([`Error::Timeout`]).
    Timeout,
    /// The input was refused: corrupt data, authentication failure, an output limit, a bad parameter.
    Input,
    /// The caller dropped the job's future before it ended.
    Cancelled,
    /// Anything else (shutdown, no device, …).
    Other,
}

impl FailKind {
    pub(crate) fn of(e: &Error) -> Self {
        match e {
            Error::Device(_) => FailKind::Device,
            Error::QueueReset => FailKind::QueueReset,
            Error::DeviceRemoved => FailKind::Removed,
            Error::Timeout(_) => FailKind::Timeout,
            Error::CorruptData(_)
            | Error::AuthFailed
            | Error::InvalidKey(_)
            | Error::BadSignature
            | Error::DecryptionFailed
            | Error::OutputLimit { .. }
            | Error::InvalidKeyLength { .. }
            | Error::InvalidLength { .. }
            | Error::InvalidNonceLength { .. }
            | Error::InvalidTagLength { .. }
            | Error::InvalidParameter(_) => FailKind::Input,
            _ => FailKind::Other,
        }
    }
}

const FAIL_KINDS: usize = 7;
pub(crate) const FAMILIES: usize = 7;
const REASONS: usize = 5;

/// Counts per [`FailKind`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FailCounts {
    /// Device error status.
    pub device: u64,
    /// Queue reset.
    pub queue_reset: u64,
    /// Device removed.
    pub removed: u64,
    /// Timed out.
    pub timeout: u64,
    /// Refused input (corrupt data, authentication, limits, parameters).
    pub input: u64,
    /// Futures dropped before the job ended.
    pub cancelled: u64,
    /// Anything else.
    pub other: u64,
}

impl FailCounts {
    fn from_array(a: [u64; FAIL_KINDS]) -> Self {
        let [
            device,
            queue_reset,
            removed,
            timeout,
            input,
            cancelled,
            other,
        ] = a;
        Self {
            device,
            queue_reset,
            removed,
            timeout,
            input,
            cancelled,
            other,
        }
    }

    /// The count of one kind.
    pub fn get(&self, kind: FailKind) -> u64 {
        match kind {
            FailKind::Device => self.device,
            FailKind::QueueReset => self.queue_reset,
            FailKind::Removed => self.removed,
            FailKind::Timeout => self.timeout,
            FailKind::Input => self.input,
            FailKind::Cancelled => self.cancelled,
            FailKind::Other => self.other,
        }
    }

    /// All kinds together.
    pub fn total(&self) -> u64 {
        self.device
            + self.queue_reset
            + self.removed
            + self.timeout
            + self.input
            + self.cancelled
            + self.other
    }
}

/// Jobs that ran on the CPU, per [`CpuReason`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpuCounts {
    /// No device serves the family.
    pub no_device: u64,
    /// The device cannot take the request.
    pub unfit: u64,
    /// Below the size threshold.
    pub small: u64,
    /// Every queue was full.
    pub overflow: u64,
    /// Redone after a device failure.
    pub backup: u64,
}

impl CpuCounts {
    fn from_array(a: [u64; REASONS]) -> Self {
        let [no_device, unfit, small, overflow, backup] = a;
        Self {
            no_device,
            unfit,
            small,
            overflow,
            backup,
        }
    }

    /// The count of one reason.
    pub fn get(&self, reason: CpuReason) -> u64 {
        match reason {
            CpuReason::NoDevice => self.no_device,
            CpuReason::Unfit => self.unfit,
            CpuReason::Small => self.small,
            CpuReason::Overflow => self.overflow,
            CpuReason::Backup => self.backup,
        }
    }

    /// All reasons together.
    pub fn total(&self) -> u64 {
        self.no_device + self.unfit + self.small + self.overflow + self.backup
    }
}

/// What the jobs of one family did (a snapshot).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FamilyStats {
    /// The family.
    pub family: Family,
    /// Jobs started (calls of the family's one-shot methods that reached the job path).
    pub submitted: u64,
    /// Jobs that returned a result.
    pub completed: u64,
    /// Jobs that returned an error (or were cancelled), by kind. A job redone on the CPU after a device failure is
    /// not failed unless the CPU failed it too.
    pub failed: FailCounts,
    /// Jobs started and not ended: `submitted - completed - failed.total()`.
    pub in_flight: u64,
    /// Jobs whose result came from a device.
    pub on_device: u64,
    /// Jobs that ran (or started to run) on the CPU, by reason. `Backup` jobs also tried a device first.
    pub on_cpu: CpuCounts,
    /// Device attempts that failed with a device-side error (error status, queue reset, removal, timeout), whether
    /// or not the job was then redone on the CPU.
    pub device_failures: FailCounts,
    /// Input bytes of the jobs started.
    pub bytes_in: u64,
    /// Output bytes of the jobs completed.
    pub bytes_out: u64,
}

/// Counters of one device queue (a snapshot).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueStats {
    /// The device it is on (`emu_zip-0`, `hisi_sec2-1`, …).
    pub device: String,
    /// What it serves: `compress`, `decompress`, `sec`, `hpre`, `hpre-ecc` or `null`.
    pub kind: &'static str,
    /// Retired (reset, removed, timed out or shut down); kept in the list until replaced.
    pub retired: bool,
    /// SQEs submitted (one-shot jobs, their retries and stream steps).
    pub submitted: u64,
    /// CQEs consumed.
    pub completed: u64,
    /// Jobs on the ring now.
    pub in_flight: u64,
    /// One-shot jobs that reached this queue's ring and failed there, by kind (only the device-side kinds and
    /// `input` occur; a submission refused by a queue already retired is offered to another queue, not counted).
    pub failed: FailCounts,
    /// Input bytes of the one-shot jobs that completed here.
    pub bytes_in: u64,
    /// Output bytes of the one-shot jobs that completed here.
    pub bytes_out: u64,
    /// Submissions that found the ring full and waited for a slot.
    pub backpressure_waits: u64,
}

/// Counters of one device: its queues added up, including queues already retired and replaced.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeviceStats {
    /// Device name.
    pub name: String,
    /// Queues open now (not retired).
    pub live_queues: usize,
    /// SQEs submitted.
    pub submitted: u64,
    /// CQEs consumed.
    pub completed: u64,
    /// Jobs on its rings now.
    pub in_flight: u64,
    /// One-shot jobs that failed on it, by kind.
    pub failed: FailCounts,
    /// Input bytes of the one-shot jobs completed on it.
    pub bytes_in: u64,
    /// Output bytes of the one-shot jobs completed on it.
    pub bytes_out: u64,
    /// Submissions that waited for a ring slot.
    pub backpressure_waits: u64,
}

/// A snapshot of an accelerator's counters ([`Accel::stats`](crate::Accel::stats)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stats {
    /// Per family, in the order of [`Family::ALL`].
    pub families: Vec<FamilyStats>,
    /// Per device.
    pub devices: Vec<DeviceStats>,
    /// Per queue (open now, or retired and not yet replaced).
    pub queues: Vec<QueueStats>,
}

impl Stats {
    /// The counters of `family`.
    pub fn family(&self, family: Family) -> &FamilyStats {
        &self.families[family.index()]
    }

    /// All families added up (`family` is meaningless there and set to `Nop`).
    pub fn total(&self) -> FamilyStats {
        let mut t = FamilyCounters::default().snapshot(Family::Nop);
        for f in &self.families {
            t.submitted += f.submitted;
            t.completed += f.completed;
            t.in_flight += f.in_flight;
            t.on_device += f.on_device;
            t.bytes_in += f.bytes_in;
            t.bytes_out += f.bytes_out;
            t.failed = add_fail(t.failed, f.failed);
            t.device_failures = add_fail(t.device_failures, f.device_failures);
            let c = f.on_cpu;
            t.on_cpu = CpuCounts {
                no_device: t.on_cpu.no_device + c.no_device,
                unfit: t.on_cpu.unfit + c.unfit,
                small: t.on_cpu.small + c.small,
                overflow: t.on_cpu.overflow + c.overflow,
                backup: t.on_cpu.backup + c.backup,
            };
        }
        t
    }
}

pub(crate) fn add_fail(a: FailCounts, b: FailCounts) -> FailCounts {
    FailCounts {
        device: a.device + b.device,
        queue_reset: a.queue_reset + b.queue_reset,
        removed: a.removed + b.removed,
        timeout: a.timeout + b.timeout,
        input: a.input + b.input,
        cancelled: a.cancelled + b.cancelled,
        other: a.other + b.other,
    }
}

fn load(a: &AtomicU64) -> u64 {
    a.load(Ordering::Relaxed)
}

fn bump(a: &AtomicU64, n: u64) {
    a.fetch_add(n, Ordering::Relaxed);
}

/// The live counters of one family.
#[derive(Debug, Default)]
pub(crate) struct FamilyCounters {
    submitted: AtomicU64,
    completed: AtomicU64,
    failed: [AtomicU64; FAIL_KINDS],
    on_device: AtomicU64,
    on_cpu: [AtomicU64; REASONS],
    device_failures: [AtomicU64; FAIL_KINDS],
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
}

impl FamilyCounters {
    pub(crate) fn started(&self, bytes: usize) {
        bump(&self.submitted, 1);
        bump(&self.bytes_in, bytes as u64);
    }

    pub(crate) fn completed(&self, bytes_out: usize, on_device: bool) {
        bump(&self.completed, 1);
        bump(&self.bytes_out, bytes_out as u64);
        if on_device {
            bump(&self.on_device, 1);
        }
    }

    pub(crate) fn failed(&self, kind: FailKind) {
        bump(&self.failed[kind as usize], 1);
    }

    pub(crate) fn cpu(&self, reason: CpuReason) {
        bump(&self.on_cpu[reason as usize], 1);
    }

    pub(crate) fn device_failure(&self, kind: FailKind) {
        bump(&self.device_failures[kind as usize], 1);
    }

    pub(crate) fn snapshot(&self, family: Family) -> FamilyStats {
        // Ends first, starts last: a job that ends between the reads is then never counted as ended and not
        // started, so `in_flight` cannot underflow for want of ordering (it saturates all the same).
        let completed = load(&self.completed);
        let failed = FailCounts::from_array(self.failed.each_ref().map(load));
        let on_device = load(&self.on_device);
        let bytes_out = load(&self.bytes_out);
        let submitted = load(&self.submitted);
        FamilyStats {
            family,
            submitted,
            completed,
            failed,
            in_flight: submitted.saturating_sub(completed + failed.total()),
            on_device,
            on_cpu: CpuCounts::from_array(self.on_cpu.each_ref().map(load)),
            device_failures: FailCounts::from_array(self.device_failures.each_ref().map(load)),
            bytes_in: load(&self.bytes_in),
            bytes_out,
        }
    }
}

/// The counters of every family.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    families: [FamilyCounters; FAMILIES],
}

impl Counters {
    pub(crate) fn family(&self, f: Family) -> &FamilyCounters {
        &self.families[f.index()]
    }

    pub(crate) fn snapshot(&self) -> Vec<FamilyStats> {
        Family::ALL
            .iter()
            .map(|&f| self.family(f).snapshot(f))
            .collect()
    }
}

/// The one-shot job counters a lane keeps besides its SQE and CQE counts (see `LaneStats`).
#[derive(Debug, Default)]
pub(crate) struct QueueCounters {
    pub(crate) failed: [AtomicU64; FAIL_KINDS],
    pub(crate) bytes_in: AtomicU64,
    pub(crate) bytes_out: AtomicU64,
    pub(crate) backpressure_waits: AtomicU64,
}

impl QueueCounters {
    pub(crate) fn done(&self, bytes_in: usize, bytes_out: usize) {
        bump(&self.bytes_in, bytes_in as u64);
        bump(&self.bytes_out, bytes_out as u64);
    }

    pub(crate) fn failed(&self, kind: FailKind) {
        bump(&self.failed[kind as usize], 1);
    }

    pub(crate) fn waited(&self) {
        bump(&self.backpressure_waits, 1);
    }

    pub(crate) fn failed_counts(&self) -> FailCounts {
        FailCounts::from_array(self.failed.each_ref().map(load))
    }

    pub(crate) fn bytes(&self) -> (u64, u64) {
        (load(&self.bytes_in), load(&self.bytes_out))
    }

    pub(crate) fn waits(&self) -> u64 {
        load(&self.backpressure_waits)
    }
}

/// The length in bytes of a job's output, for `bytes_out`.
pub(crate) trait OutputLen {
    fn output_len(&self) -> usize;

    /// The job is not finished: its caller goes on with it and counts its end (a decompression whose block attempt
    /// hands over to stream BDs).
    fn handed_over(&self) -> bool {
        false
    }
}

impl OutputLen for bytes::Bytes {
    fn output_len(&self) -> usize {
        self.len()
    }
}

impl OutputLen for Vec<u8> {
    fn output_len(&self) -> usize {
        self.len()
    }
}

impl OutputLen for () {
    fn output_len(&self) -> usize {
        0
    }
}

impl<T: OutputLen> OutputLen for (T, usize) {
    fn output_len(&self) -> usize {
        self.0.output_len()
    }
}

/// The entry of device `name` in `devices`, added if missing.
pub(crate) fn device_entry<'a>(
    devices: &'a mut Vec<DeviceStats>,
    name: &str,
) -> &'a mut DeviceStats {
    let i = match devices.iter().position(|d| d.name == name) {
        Some(i) => i,
        None => {
            devices.push(DeviceStats {
                name: name.to_string(),
                ..DeviceStats::default()
            });
            devices.len() - 1
        }
    };
    &mut devices[i]
}

/// Add queue `q`'s counters to device `d`.
pub(crate) fn add_queue(d: &mut DeviceStats, q: &QueueStats) {
    d.live_queues += usize::from(!q.retired);
    d.submitted += q.submitted;
    d.completed += q.completed;
    d.in_flight += q.in_flight;
    d.failed = add_fail(d.failed, q.failed);
    d.bytes_in += q.bytes_in;
    d.bytes_out += q.bytes_out;
    d.backpressure_waits += q.backpressure_waits;
}
