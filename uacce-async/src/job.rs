//! What every job is, and the one path that runs it.
//!
//! A job family (compression, decompression, a cipher, AES-GCM, a digest, …) is a type implementing [`Job`]: it
//! says which queues serve it, whether a device can take this particular request, how to lay out its buffers and
//! its SQE for a queue of a given QM version, how to read the completion, and how to do the whole job on the CPU.
//! [`Inner::execute`] holds everything else, once for all families: the device-or-CPU fork, the choice of a queue,
//! the retry on another (or a reopened) queue when the chosen one died before the job reached the device, the
//! timeout (the lane's), and a new attempt when the job asks for one (a bigger output buffer).
//!
//! Adding a family is one new module with its `Job` type and its `Accel` methods, plus its `mod` line in `lib.rs`.
//! The SEC engine's AEAD families (AES-GCM, CCM and SM4-GCM, authenc) share one job, [`crate::seal`]: a new one
//! of them is a [`SealAlg`](crate::seal::SealAlg) rather than a `Job`.

use std::sync::Arc;

use uacce_sys::qm::{QmVersion, Sqe};

use crate::accel::Inner;
use crate::error::{Error, Result};
use crate::lane::{Buffers, Class, JobOutput, Lane, Scratch};
use crate::pool::ClassPool;
use crate::routing::INLINE_MAX;
use crate::stats::{CpuReason, FailKind, Family, FamilyCounters, OutputLen};

/// What a completion means for its job.
pub(crate) enum Step<T> {
    /// The job is done.
    Done(T),
    /// Submit it again (its state changed, e.g. a bigger output buffer, or its next request: an RSA private
    /// operation's fault check on the device). Still one job for the statistics.
    Again,
    /// Finish it on the CPU (the device cannot, e.g. the output exceeds what one BD can hold).
    Cpu,
}

/// One kind of job. See the module documentation.
pub(crate) trait Job: Send + Sync + Sized + 'static {
    /// What the caller gets.
    type Output: Send + OutputLen + 'static;
    /// The queues that serve it.
    const CLASS: Class;
    /// Its family, for routing and the statistics.
    const FAMILY: Family;

    /// Input bytes (the routing thresholds and `bytes_in`).
    fn size(&self) -> usize;

    /// Whether running the whole job again on the CPU after a device attempt failed gives the caller the same
    /// result as a device that had not failed: true for a one-shot job (it owns its input, no state outlives it);
    /// false for a part of a longer operation whose state the failed attempt may have left midway. Only such
    /// whole jobs are routed to the CPU by size or overflow: a part of a device stream stays on the device.
    fn redo_safe(&self) -> bool {
        true
    }

    /// Whether `e`, returned by a device attempt, is the device's failure (so the job may be redone on the CPU)
    /// rather than a verdict on the input.
    fn device_failed(&self, e: &Error) -> bool {
        matches!(
            e,
            Error::Device(_)
                | Error::QueueReset
                | Error::DeviceRemoved
                | Error::Timeout(_)
                | Error::NoDevice { .. }
        )
    }

    /// Whether a device of `pool` can take this request (size limits, what the queues' QM version does). A job
    /// that does not fit runs on the CPU.
    fn fits(&self, _pool: &ClassPool) -> bool {
        true
    }

    /// Whether the devices of `pool` do this algorithm or mode at all (what their QM version supports, not a size
    /// limit). A request they cannot do runs on the CPU, except under [`Backend::Hardware`](crate::Backend), where
    /// it fails with [`Error::Unsupported`](crate::Error::Unsupported).
    fn capable(&self, _pool: &ClassPool) -> bool {
        true
    }

    /// The buffers of one device attempt on a queue of `version`. They are owned by the lane from submission until
    /// the completion has been consumed or the queue stopped, even if the caller's future is dropped.
    fn buffers(&mut self, version: QmVersion) -> Result<Buffers>;

    /// The SQE of the attempt, for `tag`. `bufs` are the buffers [`Job::buffers`] returned, now the lane's: every
    /// address the SQE names must be in them, in memory they keep alive (`Buffers::keep`), or in `scratch`, the
    /// slot's scratch memory (held by the lane for as long as the slot).
    fn sqe(
        &self,
        tag: u32,
        scratch: &mut Scratch,
        bufs: &Buffers,
        version: QmVersion,
    ) -> Result<Sqe>;

    /// Read the completion of an attempt on a queue of `version`.
    fn complete(&mut self, out: JobOutput, version: QmVersion) -> Result<Step<Self::Output>>;

    /// Do the whole job on the CPU (runs on the CPU backend's blocking pool, or inline when routed by size).
    fn cpu(self) -> Result<Self::Output>;
}

/// How often a job is offered to another queue when the chosen one was retired before the job reached the device.
const ATTEMPTS: usize = 4;

/// Counts a job whose future is dropped before it ends as cancelled. Also used by the paths that drive a queue
/// without [`Inner::execute`] (the large one-shot compress and decompress requests of stream-mode BDs), so that the
/// family counters add up for them too.
pub(crate) struct Tally<'a> {
    family: &'a FamilyCounters,
    ended: bool,
}

impl<'a> Tally<'a> {
    /// Count a job of `size` input bytes as submitted.
    pub(crate) fn start(family: &'a FamilyCounters, size: usize) -> Self {
        family.started(size);
        Tally {
            family,
            ended: false,
        }
    }

    /// Go on counting a job that [`Inner::execute`] started and handed over unfinished
    /// ([`OutputLen::handed_over`]); `end` counts it.
    pub(crate) fn resume(family: &'a FamilyCounters) -> Self {
        Tally {
            family,
            ended: false,
        }
    }

    /// Count the job as completed (`on_device`: by a device) or failed, by its result.
    pub(crate) fn end<T: OutputLen>(mut self, r: &Result<T>, on_device: bool) {
        self.ended = true;
        match r {
            Ok(v) => self.family.completed(v.output_len(), on_device),
            Err(e) => self.family.failed(FailKind::of(e)),
        }
    }
}

impl Drop for Tally<'_> {
    fn drop(&mut self) {
        if !self.ended {
            self.family.failed(FailKind::Cancelled);
        }
    }
}

impl Inner {
    /// Run `job` where the routing policy sends it (see [`crate::routing`]): on the CPU when no device serves it,
    /// it does not fit, it is below its family's size threshold or (with overflow) every queue is full; else on a
    /// device, redone on the CPU when the device fails it and it is safe to redo. Counted in the statistics, in a
    /// `uacce_job` span at debug level.
    ///
    /// One async fn for the whole path (no nested helper futures): every level of nesting would be one more move
    /// of the job's state per call, measured in the per-job instruction count of `examples/nop-overhead.rs`.
    pub(crate) async fn execute<J: Job>(&self, mut job: J) -> Result<J::Output> {
        let fam = self.counters.family(J::FAMILY);
        let size = job.size();
        let mut tally = Tally::start(fam, size);
        // With `tracing`'s `log` feature on (some dependency turns it on), even a disabled span does work on every
        // `record`: build one only when debug is on for a subscriber, and record only into a real one.
        let span = if tracing::enabled!(tracing::Level::DEBUG) {
            tracing::debug_span!(
                "uacce_job",
                family = J::FAMILY.name(),
                bytes = size,
                route = tracing::field::Empty,
                outcome = tracing::field::Empty,
            )
        } else {
            tracing::Span::none()
        };
        let record = |field: &str, value: &str| {
            if !span.is_none() {
                span.record(field, value);
            }
        };
        let routing = &self.config.routing;
        // (result, from a device)
        let r: Result<(J::Output, bool)> = 'run: {
            let pool = match self.pools.get(J::CLASS) {
                Some(p) if !job.capable(p) && self.config.backend == crate::Backend::Hardware => {
                    record("route", "refused");
                    break 'run Err(Error::Unsupported(
                        "the devices' QM version does not do this algorithm or mode (Backend::Hardware: no CPU fallback)",
                    ));
                }
                Some(p) if job.fits(p) && job.capable(p) => p,
                // Public-key jobs with no HPRE pool: `Hardware` fails them rather than using the CPU (ZIP and SEC
                // pools always exist under `Hardware`: the build fails without those devices).
                None if self.config.backend == crate::Backend::Hardware
                    && matches!(J::CLASS, Class::Hpre | Class::HpreEcc) =>
                {
                    record("route", "refused");
                    break 'run Err(crate::backend::hardware_refusal(
                        J::CLASS,
                        self.pools.hpre.is_some(),
                    ));
                }
                other => {
                    let reason = if other.is_some() {
                        CpuReason::Unfit
                    } else {
                        CpuReason::NoDevice
                    };
                    fam.cpu(reason);
                    record("route", "cpu");
                    tracing::debug!(parent: &span, ?reason, "job routed to the CPU backend");
                    break 'run self.cpu.run(move || job.cpu()).await.map(|v| (v, false));
                }
            };
            let whole = job.redo_safe();
            if whole && size < routing.threshold(J::FAMILY) {
                fam.cpu(CpuReason::Small);
                record("route", "cpu-inline");
                if size <= INLINE_MAX {
                    break 'run job.cpu().map(|v| (v, false));
                }
                break 'run self.cpu.run(move || job.cpu()).await.map(|v| (v, false));
            }
            if whole && routing.overflow_to_cpu && pool.saturated() {
                fam.cpu(CpuReason::Overflow);
                record("route", "cpu-overflow");
                break 'run self.cpu.run(move || job.cpu()).await.map(|v| (v, false));
            }
            record("route", "device");
            let env = self.lane_env();
            // The lane that served the job's previous request (`Step::Again`): its next request goes there first.
            let mut previous: Option<Arc<Lane>> = None;
            let failure: Error = 'device: loop {
                // One attempt, offered to another lane if the chosen one was retired before the job reached the
                // device.
                let mut done = None;
                let mut last = None;
                for _ in 0..ATTEMPTS {
                    // A follow-up request stays on the queue that just served the job while that queue is live and
                    // has a free slot: its device is working (an emulated device thread is awake, where another
                    // queue's may sleep and cost a wake-up), and the job's requests keep their order on one ring.
                    let lane = match previous.take() {
                        Some(l) if !l.is_dead() && l.free_slots() > 0 => l,
                        _ => match pool.pick(&env) {
                            Ok(l) => l,
                            Err(e) => break 'device e,
                        },
                    };
                    let version = lane.version;
                    let bufs = match job.buffers(version) {
                        Ok(b) => b,
                        Err(e) => break 'run Err(e),
                    };
                    let j: &J = &job;
                    match lane
                        .submit(bufs, |tag, scratch, bufs| {
                            j.sqe(tag, scratch, bufs, version)
                        })
                        .await
                    {
                        Ok(fut) => match fut.await {
                            Ok(out) => {
                                done = Some((out, version, lane));
                                break;
                            }
                            Err(e) => {
                                lane.stats.q.failed(FailKind::of(&e));
                                break 'device e;
                            }
                        },
                        Err(
                            e @ (Error::QueueReset
                            | Error::DeviceRemoved
                            | Error::Timeout(_)
                            | Error::Shutdown),
                        ) => last = Some(e),
                        Err(e) => break 'device e,
                    }
                }
                let Some((out, version, lane)) = done else {
                    break 'device last.unwrap_or(Error::Shutdown);
                };
                match job.complete(out, version) {
                    Ok(Step::Done(v)) => {
                        lane.stats.q.done(size, v.output_len());
                        break 'run Ok((v, true));
                    }
                    Ok(Step::Again) => previous = Some(lane),
                    Ok(Step::Cpu) => {
                        fam.cpu(CpuReason::Unfit);
                        record("route", "cpu");
                        tracing::debug!(
                            parent: &span,
                            "job finished on the CPU backend: the device could not complete it"
                        );
                        break 'run self.cpu.run(move || job.cpu()).await.map(|v| (v, false));
                    }
                    Err(e) => {
                        lane.stats.q.failed(FailKind::of(&e));
                        break 'device e;
                    }
                }
            };
            if !job.device_failed(&failure) {
                break 'run Err(failure);
            }
            let kind = FailKind::of(&failure);
            fam.device_failure(kind);
            if !(routing.cpu_backup && whole) {
                break 'run Err(failure);
            }
            fam.cpu(CpuReason::Backup);
            record("route", "cpu-backup");
            if kind == FailKind::Other {
                // No queue left (a removed device not replaced yet): every job says so, keep it out of the warnings.
                tracing::debug!(parent: &span, "no device queue ({failure}); the job runs on the CPU");
            } else {
                tracing::warn!(
                    parent: &span,
                    family = J::FAMILY.name(),
                    bytes = size,
                    "the device failed a job ({failure}); redoing it on the CPU"
                );
            }
            self.cpu.run(move || job.cpu()).await.map(|v| (v, false))
        };
        tally.ended = true;
        match r {
            Ok((v, on_device)) => {
                // A job that hands over to its caller is counted by the caller when it ends.
                if !v.handed_over() {
                    fam.completed(v.output_len(), on_device);
                }
                record("outcome", "ok");
                Ok(v)
            }
            Err(e) => {
                fam.failed(FailKind::of(&e));
                if !span.is_none() {
                    span.record("outcome", tracing::field::display(&e));
                }
                Err(e)
            }
        }
    }
}

/// The address of `b`'s first byte, as an SQE names it (SVA: a user virtual address).
pub(crate) fn addr(b: &[u8]) -> u64 {
    b.as_ptr() as u64
}
