//! Per-job routing between the device and the CPU.
//!
//! [`Inner::execute`](crate::accel::Inner) asks, for every one-shot job, in this order:
//! 1. Does a device serve the family, and can it take this request? If not, the CPU ([`CpuReason::NoDevice`],
//!    [`CpuReason::Unfit`]).
//! 2. Is the input below the family's threshold ([`Routing::min_device_bytes`])? Then the CPU, inline on the calling
//!    task: a job that small costs less to do than to hand to a device or to a CPU-pool thread
//!    ([`CpuReason::Small`]).
//! 3. With [`Routing::overflow_to_cpu`], is every queue of the family full? Then the CPU pool
//!    ([`CpuReason::Overflow`]).
//! 4. Otherwise a device queue. If the device fails the job (error status, queue reset, removed device, timeout)
//!    and [`Routing::cpu_backup`] is on, a job that is safe to redo (every one-shot job: it owns its whole input and
//!    no state outlives it; not a part of a [`Hasher`](crate::Hasher), whose state is midway) runs again on the CPU
//!    pool, counted ([`CpuReason::Backup`]) and logged at `warn`.

use crate::stats::{FAMILIES, Family};

/// Inputs at most this long run inline on the calling task when routed to the CPU by size; longer ones (only with a
/// threshold raised past it) go to the CPU pool. 16 KiB of AES-GCM or SHA-256 is a few µs of CPU.
pub(crate) const INLINE_MAX: usize = 16 << 10;

/// How jobs are split between devices and the CPU ([`Config::routing`](crate::Config::routing)).
///
/// The default thresholds come from the mixed-workload cell of `examples/polling-vs-interrupt` and
/// `benches/cpu-crypto` (README, "Routing"): the input size below which a job costs the application less CPU inline
/// than handed to a device queue, with the CPU backend's codecs.
///
/// ```
/// use uacce_async::{Family, Routing};
/// let r = Routing::default().min_device_bytes(Family::Aead, 8192).overflow_to_cpu(true);
/// assert_eq!(r.threshold(Family::Aead), 8192);
/// assert_eq!(Routing::device_only().threshold(Family::Aead), 0);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Routing {
    thresholds: [usize; FAMILIES],
    /// Run a job on the CPU pool when every queue of its family is full, instead of waiting for a ring slot
    /// (default off: a full ring is backpressure, and the CPU pool is smaller than the device).
    pub overflow_to_cpu: bool,
    /// Redo on the CPU a job the device failed (error status, queue reset, removal, timeout) when it is safe to
    /// redo (default on).
    pub cpu_backup: bool,
}

impl Default for Routing {
    fn default() -> Self {
        let mut thresholds = [0; FAMILIES];
        for f in Family::ALL {
            thresholds[f.index()] = default_threshold(f);
        }
        Self {
            thresholds,
            overflow_to_cpu: false,
            cpu_backup: true,
        }
    }
}

/// The measured defaults (README, "Routing": the figures they come from). On the emulator here, handing a job to a
/// queue and taking its completion costs the application 5-15 µs of CPU (batched wakes at depth 16 to one wake per
/// job at depth 1); the CPU backend does AES-256-GCM at 4-6 GB/s from 16 KiB up (ring) and SHA-256 at ~1 GB/s
/// (RustCrypto), so inline is cheaper up to ~16 KiB of AES and ~8 KiB of hashing, and inline work stays at a few µs
/// per job on the caller's thread.
fn default_threshold(f: Family) -> usize {
    match f {
        // zlib-rs sets up a deflate state per job (tens of µs of CPU) whatever the input size: the device is
        // cheaper for every size.
        Family::Compress => 0,
        // Inflate is cheap to set up; below 1 KiB of input the hand-off costs more than the work.
        Family::Decompress => 1024,
        Family::Cipher => 16 << 10,
        Family::Aead => 16 << 10,
        Family::Digest => 8 << 10,
        Family::Nop => 0,
        // Not measured: public-key operations cost the CPU far more than a hand-off at every size.
        Family::Pkey => 0,
    }
}

impl Routing {
    /// Every job to a device when one serves it (no size threshold, no overflow), still with the CPU backup.
    pub fn device_only() -> Self {
        Self {
            thresholds: [0; FAMILIES],
            overflow_to_cpu: false,
            cpu_backup: true,
        }
    }

    /// Jobs of `family` with fewer input bytes than `bytes` run on the CPU (0: none).
    pub fn min_device_bytes(mut self, family: Family, bytes: usize) -> Self {
        self.thresholds[family.index()] = bytes;
        self
    }

    /// Set [`Routing::overflow_to_cpu`].
    pub fn overflow_to_cpu(mut self, on: bool) -> Self {
        self.overflow_to_cpu = on;
        self
    }

    /// Set [`Routing::cpu_backup`].
    pub fn cpu_backup(mut self, on: bool) -> Self {
        self.cpu_backup = on;
        self
    }

    /// The threshold of `family` in input bytes.
    pub fn threshold(&self, family: Family) -> usize {
        self.thresholds[family.index()]
    }
}
