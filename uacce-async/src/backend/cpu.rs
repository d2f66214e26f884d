//! The CPU backend's bounded blocking pool.

use std::sync::Arc;

use tokio::sync::Semaphore;

use crate::error::{Error, Result};

/// At most `threads` jobs run on tokio's blocking threads at once; the others wait for a slot.
pub(crate) struct CpuPool {
    slots: Arc<Semaphore>,
}

impl CpuPool {
    /// A pool of `threads` slots (at least one).
    pub(crate) fn new(threads: usize) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(threads.max(1))),
        }
    }

    /// Run `f` on a blocking thread once a slot is free.
    ///
    /// The slot moves into the blocking closure: a future dropped while `f` runs frees its slot only when `f` has
    /// returned, so dropped jobs cannot pile up threads beyond the pool's bound.
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let permit = self
            .slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| Error::Shutdown)?;
        tokio::task::spawn_blocking(move || {
            let _slot = permit;
            f()
        })
        .await
        .map_err(|e| Error::Device(format!("CPU worker failed: {e}")))?
    }
}
