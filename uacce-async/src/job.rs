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

use uacce_sys::qm::{QmVersion, Sqe};

use crate::accel::Inner;
use crate::error::{Error, Result};
use crate::lane::{Buffers, Class, JobOutput, Scratch};
use crate::pool::ClassPool;

/// What a completion means for its job.
// `Again` has no user since one-shot decompression continues with stream BDs on the device (compress.rs) instead of a
// block attempt with a bigger buffer; execute still honours it.
#[allow(dead_code)]
pub(crate) enum Step<T> {
    /// The job is done.
    Done(T),
    /// Submit it again (its state changed, e.g. a bigger output buffer).
    Again,
    /// Finish it on the CPU (the device cannot, e.g. the output exceeds what one BD can hold).
    Cpu,
}

/// One kind of job. See the module documentation.
pub(crate) trait Job: Send + Sync + Sized + 'static {
    /// What the caller gets.
    type Output: Send + 'static;
    /// The queues that serve it.
    const CLASS: Class;

    /// Whether a device of `pool` can take this request (size limits, what the queues' QM version does). A job
    /// that does not fit runs on the CPU.
    fn fits(&self, _pool: &ClassPool) -> bool {
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

    /// Do the whole job on the CPU (runs on the CPU backend's blocking pool).
    fn cpu(self) -> Result<Self::Output>;
}

/// How often a job is offered to another queue when the chosen one was retired before the job reached the device.
const ATTEMPTS: usize = 4;

impl Inner {
    /// Run `job` on a device of its class if one serves it and the job fits, else on the CPU.
    ///
    /// One async fn for the whole path (no nested helper futures): every level of nesting would be one more move
    /// of the job's state per call, measured in the per-job instruction count of `examples/nop-overhead.rs`.
    pub(crate) async fn execute<J: Job>(&self, mut job: J) -> Result<J::Output> {
        let pool = match self.pools.get(J::CLASS) {
            Some(p) if job.fits(p) => p,
            other => {
                let why = if other.is_some() {
                    "the device cannot take this request"
                } else {
                    "no device serves this kind of job"
                };
                tracing::debug!(class = ?J::CLASS, why, "job routed to the CPU backend");
                return self.cpu.run(move || job.cpu()).await;
            }
        };
        let env = self.lane_env();
        loop {
            // One attempt, offered to another lane if the chosen one was retired before the job reached the device.
            let mut done = None;
            let mut last = None;
            for _ in 0..ATTEMPTS {
                let lane = pool.pick(&env)?;
                let version = lane.version;
                let bufs = job.buffers(version)?;
                let j: &J = &job;
                match lane
                    .submit(bufs, |tag, scratch, bufs| {
                        j.sqe(tag, scratch, bufs, version)
                    })
                    .await
                {
                    Ok(fut) => {
                        done = Some((fut.await?, version));
                        break;
                    }
                    Err(
                        e @ (Error::QueueReset
                        | Error::DeviceRemoved
                        | Error::Timeout(_)
                        | Error::Shutdown),
                    ) => last = Some(e),
                    Err(e) => return Err(e),
                }
            }
            let Some((out, version)) = done else {
                return Err(last.unwrap_or(Error::Shutdown));
            };
            match job.complete(out, version)? {
                Step::Done(v) => return Ok(v),
                Step::Again => {}
                Step::Cpu => break,
            }
        }
        tracing::debug!(class = ?J::CLASS, "job finished on the CPU backend: the device could not complete it");
        self.cpu.run(move || job.cpu()).await
    }
}

/// The address of `b`'s first byte, as an SQE names it (SVA: a user virtual address).
pub(crate) fn addr(b: &[u8]) -> u64 {
    b.as_ptr() as u64
}
