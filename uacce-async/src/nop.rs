//! Null jobs: a job that does no work, on the emulated null device, to measure the pure cost of the ring and of the
//! completion strategy. The smallest [`Job`].

use uacce_sys::qm::{QmVersion, Sqe};

use crate::accel::Accel;
use crate::error::{Error, Result};
use crate::job::{Job, Step};
use crate::lane::{Buffers, Class, JobOutput, Scratch};
use crate::stats::Family;

/// Only the null device's interest in the SQE: the tag in its first four bytes.
struct NopJob;

/// What a null job on the CPU would be: there is none.
const NO_NULL_DEVICE: Error = Error::Unsupported("null jobs need the emulated backend");

impl Job for NopJob {
    type Output = ();
    const CLASS: Class = Class::Null;
    const FAMILY: Family = Family::Nop;

    fn size(&self) -> usize {
        0
    }

    /// Null jobs have no CPU version to redo them with.
    fn redo_safe(&self) -> bool {
        false
    }

    fn buffers(&mut self, _: QmVersion) -> Result<Buffers> {
        Ok(Buffers::default())
    }

    fn sqe(&self, tag: u32, _: &mut Scratch, _: &Buffers, _: QmVersion) -> Result<Sqe> {
        let mut sqe = [0u8; 128];
        sqe[..4].copy_from_slice(&tag.to_le_bytes());
        Ok(sqe)
    }

    fn complete(&mut self, _: JobOutput, _: QmVersion) -> Result<Step<()>> {
        Ok(Step::Done(()))
    }

    fn cpu(self) -> Result<()> {
        Err(NO_NULL_DEVICE)
    }
}

impl Accel {
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
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the call changes no state of the [`Accel`](crate::Accel), so dropping the future only abandons
    /// the job. A job already on a device keeps its buffers until the device completes it (then they are freed); a
    /// CPU job not yet started is skipped, one already running finishes on its pool thread. The call can simply be
    /// made again.
    pub async fn nop(&self) -> Result<()> {
        // Checked here rather than in `NopJob::cpu`: no trip through the blocking pool to learn it.
        if self.inner.pools.null.is_none() {
            return Err(NO_NULL_DEVICE);
        }
        self.inner.execute(NopJob).await
    }
}
