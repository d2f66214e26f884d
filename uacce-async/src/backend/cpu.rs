//! The CPU backend's bounded pool: at most `cpu_threads` threads of its own, started as work arrives and kept until
//! the accelerator is dropped.
//!
//! Not tokio's blocking pool: a semaphore in front of `spawn_blocking` bounds the jobs running at once but not the
//! threads (a job that ends frees its slot before its thread is idle again, so the next job's `spawn_blocking`
//! starts another thread), and a permit held by the future, not by the work, is released when a caller drops the
//! future while the work goes on.

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use crate::error::{DeviceErrorKind, Error, Result};

type Task = Box<dyn FnOnce() + Send>;

struct Queue {
    tasks: VecDeque<Task>,
    /// Threads started.
    threads: usize,
    /// Threads waiting for a task.
    idle: usize,
    stop: bool,
}

struct Shared {
    queue: Mutex<Queue>,
    ready: Condvar,
}

/// A pool of at most `max` threads running CPU jobs in arrival order.
pub(crate) struct CpuPool {
    shared: Arc<Shared>,
    max: usize,
    /// Jobs handed to the pool ([`CpuPool::run`] calls).
    jobs: AtomicU64,
}

impl CpuPool {
    /// A pool of at most `threads` threads (at least one).
    pub(crate) fn new(threads: usize) -> Self {
        Self {
            shared: Arc::new(Shared {
                queue: Mutex::new(Queue {
                    tasks: VecDeque::new(),
                    threads: 0,
                    idle: 0,
                    stop: false,
                }),
                ready: Condvar::new(),
            }),
            max: threads.max(1),
            jobs: AtomicU64::new(0),
        }
    }

    /// Jobs handed to the pool so far (whole jobs routed to the CPU, fallbacks, streaming CPU steps).
    pub(crate) fn jobs(&self) -> u64 {
        self.jobs.load(Ordering::Relaxed)
    }

    /// Run `f` on a pool thread. A job whose future is dropped before a thread takes it is skipped; one already
    /// running finishes on its thread, which is what bounds the work that dropped futures leave behind.
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> Result<T> + Send + 'static,
    ) -> Result<T> {
        self.jobs.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.push(Box::new(move || {
            if tx.is_closed() {
                return;
            }
            let r = catch_unwind(AssertUnwindSafe(f))
                .unwrap_or_else(|_| Err(Error::Device("a CPU job panicked".into())));
            let _ = tx.send(r);
        }))?;
        rx.await.map_err(|_| Error::Shutdown)?
    }

    fn push(&self, task: Task) -> Result<()> {
        let mut q = self.shared.queue.lock().unwrap_or_else(|e| e.into_inner());
        q.tasks.push_back(task);
        if q.idle > 0 {
            self.shared.ready.notify_one();
        } else if q.threads < self.max {
            let shared = self.shared.clone();
            std::thread::Builder::new()
                .name("uacce-cpu".into())
                .spawn(move || worker(&shared))
                .map_err(|e| Error::setup_from("CPU backend thread", DeviceErrorKind::Other, e))?;
            q.threads += 1;
        }
        Ok(())
    }
}

fn worker(shared: &Shared) {
    let mut q = shared.queue.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        if let Some(task) = q.tasks.pop_front() {
            drop(q);
            task();
            q = shared.queue.lock().unwrap_or_else(|e| e.into_inner());
        } else if q.stop {
            q.threads -= 1;
            return;
        } else {
            q.idle += 1;
            q = shared.ready.wait(q).unwrap_or_else(|e| e.into_inner());
            q.idle -= 1;
        }
    }
}

impl Drop for CpuPool {
    /// The threads finish the jobs already queued (their callers are gone or get their results) and end.
    fn drop(&mut self) {
        let mut q = self.shared.queue.lock().unwrap_or_else(|e| e.into_inner());
        q.stop = true;
        self.shared.ready.notify_all();
    }
}
