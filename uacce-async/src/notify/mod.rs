//! Completion strategies: how the runtime learns that a device finished jobs.
//!
//! Every strategy drains the CQ itself (readiness only says "something new happened", never "the CQ is non-empty")
//! and, before sleeping, follows the arm protocol: drain → CQ doorbell with priority 1 → look at the CQ once more →
//! sleep. A completion posted between the last look and the arm is then either seen by the second look or signalled
//! by the device.

//!
//! One file per strategy: [`task`] (the per-lane driver task of `Interrupt`, `Eventfd` and `Hybrid`), [`busy`]
//! (`BusyPoll`'s spinning thread) and [`uring`] (`IoUring`'s reactor). [`Notifier`] is the one type the accelerator
//! holds: it starts what a mode needs and attaches each new lane to it.

use std::future::Future;
use std::os::fd::OwnedFd;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Instant;

use tokio::io::unix::AsyncFd;

use crate::error::{DeviceErrorKind, Error, Result};
use crate::lane::Lane;

mod busy;
mod task;
mod uring;

/// How completions reach the runtime.
///
/// The default is [`NotifyMode::Eventfd`], chosen from the `polling-vs-interrupt` report (README, "Polling vs
/// interrupt"; 2-vCPU VM, emulated device): at depth ≥ 16 it had 1.1–2× the null-job throughput of `BusyPoll` at
/// 0.3–0.45× the application CPU per job (over runs on a quiet and a loaded VM), the lowest (or within ~15 % of the lowest) application CPU per real job at
/// depth 64, about 0.03 % of a core while idle, and a depth-1 p50 well inside the cross-CPU wake floor. It degrades
/// to [`NotifyMode::Interrupt`] by itself on kernels without the eventfd patch. `Hybrid` had the best latency and
/// CPU per job at depth ≤ 4 but spent up to 35–65 % more CPU per real job at depth 64, so it suits latency-bound, lightly
/// loaded callers; `BusyPoll` needs a core to spare. Run the report on your own machine to choose for your load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum NotifyMode {
    /// tokio `AsyncFd` on the queue fd: the kernel's uacce `poll()` reports new completions (mainline kernels).
    /// On the emulator the queue's eventfd plays the queue fd's part.
    Interrupt,
    /// tokio `AsyncFd` on an eventfd bound to the queue with `UACCE_CMD_SET_EVENTFD` (patched kernels, emulator).
    /// Falls back to `Interrupt`, with a log line, when the kernel refuses the ioctl (ENOTTY/EINVAL).
    #[default]
    Eventfd,
    /// One io_uring with a multishot poll on every queue's fd; the io_uring's own fd is in tokio. One wake for
    /// many queues.
    IoUring,
    /// A dedicated thread spinning on all completion queues: lowest latency, one full core always.
    BusyPoll,
    /// Spin (yielding to other tasks) for an adaptive window derived from observed service times, then arm the
    /// completion signal and sleep as `Eventfd` does.
    Hybrid,
}

impl NotifyMode {
    /// All modes, in the order reports list them.
    pub const ALL: [NotifyMode; 5] = [
        NotifyMode::BusyPoll,
        NotifyMode::Hybrid,
        NotifyMode::Interrupt,
        NotifyMode::Eventfd,
        NotifyMode::IoUring,
    ];

    /// Lower-case name (`eventfd`, `busy-poll`, …).
    pub fn name(self) -> &'static str {
        match self {
            NotifyMode::Interrupt => "interrupt",
            NotifyMode::Eventfd => "eventfd",
            NotifyMode::IoUring => "io-uring",
            NotifyMode::BusyPoll => "busy-poll",
            NotifyMode::Hybrid => "hybrid",
        }
    }
}

impl std::str::FromStr for NotifyMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.to_ascii_lowercase().replace('_', "-");
        NotifyMode::ALL
            .into_iter()
            .find(|m| m.name() == s || (s == "busypoll" && *m == NotifyMode::BusyPoll))
            .ok_or_else(|| format!("unknown notification mode `{s}` (interrupt, eventfd, io-uring, busy-poll, hybrid)"))
    }
}

impl std::fmt::Display for NotifyMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The running completion strategy of an accelerator: what its mode needs (nothing for the task-driven modes, a
/// thread for `BusyPoll`, a reactor task for `IoUring`), and how a new lane joins it.
pub(crate) enum Notifier {
    /// `Interrupt`, `Eventfd` (hybrid false) and `Hybrid` (true): a driver task per lane.
    Task {
        /// Spin for an adaptive window before sleeping.
        hybrid: bool,
    },
    /// `BusyPoll`.
    Busy(busy::BusyPoller),
    /// `IoUring`.
    Uring(uring::UringReactor),
}

impl Notifier {
    /// Start what `mode` needs. Must run inside a tokio runtime.
    pub(crate) fn start(mode: NotifyMode) -> Result<Self> {
        Ok(match mode {
            NotifyMode::Interrupt | NotifyMode::Eventfd => Notifier::Task { hybrid: false },
            NotifyMode::Hybrid => Notifier::Task { hybrid: true },
            NotifyMode::BusyPoll => {
                Notifier::Busy(busy::BusyPoller::start().map_err(|e| {
                    Error::setup_from("busy-poll thread", DeviceErrorKind::Other, e)
                })?)
            }
            NotifyMode::IoUring => Notifier::Uring(
                uring::UringReactor::start()
                    .map_err(|e| Error::setup_from("io_uring", DeviceErrorKind::Other, e))?,
            ),
        })
    }

    /// The notifier that wakes a lane's driver for a new deadline (one for all lanes of an io_uring reactor).
    pub(crate) fn kick(&self) -> Arc<tokio::sync::Notify> {
        match self {
            Notifier::Uring(u) => u.kick.clone(),
            _ => Arc::new(tokio::sync::Notify::new()),
        }
    }

    /// Make `lane`'s completions reach its futures.
    pub(crate) fn attach(&self, lane: Arc<Lane>) -> Result<()> {
        match self {
            Notifier::Task { hybrid } => task::spawn_task_driver(lane, *hybrid)
                .map_err(|e| Error::setup_from("completion driver", DeviceErrorKind::Other, e)),
            Notifier::Busy(b) => {
                b.add(lane);
                Ok(())
            }
            Notifier::Uring(u) => u
                .add(lane)
                .map_err(|e| Error::setup_from("io_uring: add a queue", DeviceErrorKind::Other, e)),
        }
    }
}

fn reset_eventfd(fd: &OwnedFd) {
    let mut buf = [0u8; 8];
    // Non-blocking eventfd: EAGAIN just means it was already reset.
    let _ = nix::unistd::read(fd, &mut buf);
}

/// Let the tasks a driver has just woken run before the driver goes on: the driver wakes itself and returns
/// `Pending` once, so the runtime queues it behind the tasks already in its run queue (tokio schedules a task that
/// woke itself while running as a yield: at the back of the queue, never in the LIFO slot).
///
/// `tokio::task::yield_now` would order the tasks the same way, but it defers the wake-up until the worker runs
/// out of tasks and then parks with a zero timeout, which polls the I/O driver: one extra `epoll_wait` syscall per
/// batch of completions. The driver needs no I/O polled here (it sleeps on its fd right after the batch if nothing
/// else is pending), and the runtime still polls I/O every `event_interval` ticks.
fn requeue_behind_woken() -> impl Future<Output = ()> {
    let mut queued = false;
    std::future::poll_fn(move |cx| {
        if queued {
            return Poll::Ready(());
        }
        queued = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    })
}

/// Calls [`Lane::end_batch`] when dropped.
struct EndBatch<'a>(&'a Lane);

impl Drop for EndBatch<'_> {
    fn drop(&mut self) {
        self.0.end_batch();
    }
}

/// Resolves when the lane's hang-up watch (see [`Lane::take_hup_fd`]) fires; never without one.
async fn hung_up(hup: Option<&AsyncFd<OwnedFd>>) {
    match hup {
        Some(h) => {
            // Readable (or failing) means the queue hung up; the watch is not needed after that.
            let _ = h.readable().await;
        }
        None => std::future::pending().await,
    }
}

/// A driver's job-deadline timer, kept across its sleeps.
///
/// A fresh tokio timer per sleep cost a timer-wheel insertion and removal and, being the earliest timer, a write
/// to the runtime's waker (a syscall, and a wake-up that ends the runtime's next park at once). Deadlines only
/// grow (one timeout for every job of a lane; the io_uring reactor takes the minimum over its lanes, which only
/// grows too), so a timer set to the earliest pending deadline stays valid until it fires: it never fires late
/// for a job submitted after it was set, and when it fires early (its job completed) the driver finds nothing
/// expired and sets it again. So it is set once per firing instead of once per sleep.
struct DeadlineTimer {
    /// Created at the first deadline (creating a `Sleep` needs the runtime's timer, which a runtime without
    /// `enable_time` lacks; jobs without a timeout never need it).
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
    /// When it fires, while set.
    armed: Option<Instant>,
}

impl DeadlineTimer {
    fn new() -> Self {
        Self {
            sleep: None,
            armed: None,
        }
    }

    /// Make sure the timer fires no later than `deadline` (the earliest pending deadline, if any). Returns true if
    /// the timer is set: it then also fires in time for any job submitted later.
    fn cover(&mut self, deadline: Option<Instant>) -> bool {
        if let Some(d) = deadline
            && self.armed.is_none_or(|a| d < a)
        {
            match &mut self.sleep {
                Some(s) => s.as_mut().reset(d.into()),
                None => self.sleep = Some(Box::pin(tokio::time::sleep_until(d.into()))),
            }
            self.armed = Some(d);
        }
        self.armed.is_some()
    }

    /// Completes when the timer fires (never while it is not set); the timer is then unset.
    async fn fired(&mut self) {
        match (&mut self.sleep, self.armed) {
            (Some(s), Some(_)) => {
                s.as_mut().await;
                self.armed = None;
            }
            _ => std::future::pending().await,
        }
    }
}
