//! Completion strategies: how the runtime learns that a device finished jobs.
//!
//! Every strategy drains the CQ itself (readiness only says "something new happened", never "the CQ is non-empty")
//! and, before sleeping, follows the arm protocol: drain → CQ doorbell with priority 1 → look at the CQ once more →
//! sleep. A completion posted between the last look and the arm is then either seen by the second look or signalled
//! by the device.

use std::future::Future;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::{Duration, Instant};

use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

use crate::lane::Lane;

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

/// Longest spin of the hybrid strategy.
const HYBRID_MAX_SPIN: Duration = Duration::from_micros(50);

fn reset_eventfd(fd: &OwnedFd) {
    let mut buf = [0u8; 8];
    // Non-blocking eventfd: EAGAIN just means it was already reset.
    let _ = nix::unistd::read(fd, &mut buf);
}

/// Start the per-lane driver task of the `Interrupt`, `Eventfd` and `Hybrid` strategies.
pub(crate) fn spawn_task_driver(lane: Arc<Lane>, hybrid: bool) -> io::Result<()> {
    let fd = lane
        .take_wait_fd()
        .ok_or_else(|| io::Error::other("lane has no wait fd"))?;
    lane.track_service.store(hybrid, Ordering::Relaxed);
    // SAFETY: the OwnedFd is moved into the AsyncFd, which owns it (and so keeps it open and unchanged) for the
    // AsyncFd's whole life.
    let afd = unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) }
        .map_err(|e| e.into_parts().1)?;
    let hup = match lane.take_hup_fd() {
        // SAFETY: as above, the AsyncFd owns the fd.
        Some(h) => Some(
            unsafe { AsyncFd::register_with_interest(h, Interest::READABLE) }
                .map_err(|e| e.into_parts().1)?,
        ),
        None => None,
    };
    tokio::spawn(async move {
        let mut timer = DeadlineTimer::new();
        loop {
            // Doorbell batching: the futures woken by this drain usually run on this worker right after it and
            // submit their next job. Let them run first (yield), with the lane deferring their SQ doorbells, and
            // ring once for all of them: one doorbell per batch instead of one per job.
            lane.begin_batch();
            // Ends the batch even if this task is dropped at the yield (runtime shut down): the lane must not be
            // left deferring doorbells.
            let batch = EndBatch(&lane);
            let woke = lane.drain();
            if woke > 0 && !lane.is_dead() {
                requeue_behind_woken().await;
            }
            drop(batch);
            if lane.is_dead() {
                break;
            }
            if hybrid && lane.in_flight() > 0 {
                let window =
                    Duration::from_nanos(lane.service_ewma_ns.load(Ordering::Relaxed) * 3 / 2)
                        .min(HYBRID_MAX_SPIN);
                let until = Instant::now() + window;
                let mut found = false;
                while Instant::now() < until {
                    if lane.has_completion() {
                        found = true;
                        break;
                    }
                    tokio::task::yield_now().await;
                }
                if found {
                    continue;
                }
            }
            if lane.arm() {
                continue;
            }
            // Clear before computing (see `Lane::watching_deadlines`): a job submitted from here on either shows
            // up in `next_deadline` or kicks.
            lane.watching_deadlines.store(false, Ordering::Release);
            if timer.cover(lane.next_deadline()) {
                lane.watching_deadlines.store(true, Ordering::Release);
            }
            tokio::select! {
                r = afd.readable() => match r {
                    Ok(mut guard) => {
                        let ready = guard.ready();
                        guard.clear_ready();
                        if lane.wait_is_eventfd {
                            reset_eventfd(guard.get_inner());
                        }
                        if ready.is_read_closed() || ready.is_error() {
                            // The device is gone and its ring may already be unmapped: retire without reading it.
                            lane.hung_up();
                        }
                    }
                    Err(e) => {
                        lane.retire(crate::Error::Device(format!("waiting for completions: {e}")));
                    }
                },
                _ = hung_up(hup.as_ref()) => {
                    // The device is gone: retire without reading the ring.
                    lane.hung_up();
                }
                _ = lane.retired.notified() => {}
                _ = lane.kick.notified() => {}
                _ = timer.fired() => {
                    lane.expire(Instant::now());
                }
            }
            // Awake: the loop looks at the deadlines again before it sleeps.
            lane.watching_deadlines.store(true, Ordering::Release);
        }
        // The lane is retired: fail whatever arrived late, drop our fd registration.
        lane.drain();
    });
    Ok(())
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
        if let Some(d) = deadline {
            if self.armed.is_none_or(|a| d < a) {
                match &mut self.sleep {
                    Some(s) => s.as_mut().reset(d.into()),
                    None => self.sleep = Some(Box::pin(tokio::time::sleep_until(d.into()))),
                }
                self.armed = Some(d);
            }
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

/// The `BusyPoll` strategy: one thread spinning over every registered lane's CQ.
pub(crate) struct BusyPoller {
    lanes: Arc<Mutex<Vec<Arc<Lane>>>>,
    generation: Arc<std::sync::atomic::AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl BusyPoller {
    pub(crate) fn start() -> io::Result<Self> {
        let lanes: Arc<Mutex<Vec<Arc<Lane>>>> = Arc::default();
        let generation = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (l2, g2, s2) = (lanes.clone(), generation.clone(), stop.clone());
        let thread = std::thread::Builder::new()
            .name("uacce-busy-poll".into())
            .spawn(move || {
                let mut local: Vec<Arc<Lane>> = Vec::new();
                let mut seen = u64::MAX;
                let mut last_check = Instant::now();
                while !s2.load(Ordering::Relaxed) {
                    let g = g2.load(Ordering::Acquire);
                    if g != seen {
                        local = l2.lock().unwrap_or_else(|e| e.into_inner()).clone();
                        seen = g;
                    }
                    let mut any = false;
                    for lane in &local {
                        if lane.has_completion() {
                            lane.drain();
                            any = true;
                        }
                    }
                    if last_check.elapsed() > Duration::from_millis(1) {
                        last_check = Instant::now();
                        let mut dead = false;
                        for lane in &local {
                            // drain() also notices a queue the device disabled (status words).
                            lane.drain();
                            lane.expire(last_check);
                            dead |= lane.is_dead();
                        }
                        if dead {
                            let mut l = l2.lock().unwrap_or_else(|e| e.into_inner());
                            l.retain(|x| !x.is_dead());
                            g2.fetch_add(1, Ordering::Release);
                        }
                    }
                    if !any {
                        std::hint::spin_loop();
                    }
                }
            })?;
        Ok(Self {
            lanes,
            generation,
            stop,
            thread: Some(thread),
        })
    }

    pub(crate) fn add(&self, lane: Arc<Lane>) {
        // The wait fd is not needed: nothing sleeps.
        drop(lane.take_wait_fd());
        self.lanes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(lane);
        self.generation.fetch_add(1, Ordering::Release);
    }
}

impl Drop for BusyPoller {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The `IoUring` strategy: one task owning an io_uring with a multishot `POLL_ADD` per lane fd.
pub(crate) struct UringReactor {
    tx: tokio::sync::mpsc::UnboundedSender<Arc<Lane>>,
    /// Shared by every lane of this reactor (see `Lane::kick`).
    pub(crate) kick: Arc<tokio::sync::Notify>,
}

struct UringFd(io_uring::IoUring);

impl AsRawFd for UringFd {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.0.as_raw_fd()
    }
}

impl UringReactor {
    pub(crate) fn start() -> io::Result<Self> {
        let ring = io_uring::IoUring::new(256)?;
        // SAFETY: the io_uring (and its fd) is moved into the AsyncFd and lives exactly as long as it.
        let afd = unsafe { AsyncFd::register_with_interest(UringFd(ring), Interest::READABLE) }
            .map_err(|e| e.into_parts().1)?;
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let kick = Arc::new(tokio::sync::Notify::new());
        tokio::spawn(uring_task(afd, rx, kick.clone()));
        Ok(Self { tx, kick })
    }

    pub(crate) fn add(&self, lane: Arc<Lane>) -> io::Result<()> {
        self.tx
            .send(lane)
            .map_err(|_| io::Error::other("io_uring reactor stopped"))
    }
}

struct UringLane {
    lane: Arc<Lane>,
    fd: OwnedFd,
    armed_poll: bool,
    /// The lane's hang-up watch (see [`Lane::take_hup_fd`]), polled once with user data `idx | HUP_TAG`.
    _hup: Option<OwnedFd>,
}

/// Marks the user data of a hang-up watch's poll.
const HUP_TAG: u64 = 1 << 63;

/// Ends the doorbell batch of every lane of the reactor when dropped (also if the reactor task is dropped at its
/// yield); ending a batch that was not begun does nothing.
struct EndBatches<'a>(&'a [UringLane]);

impl Drop for EndBatches<'_> {
    fn drop(&mut self) {
        for ul in self.0 {
            ul.lane.end_batch();
        }
    }
}

/// Multishot poll (`POLLIN`) on a lane's wait fd, user data `idx`.
fn push_poll(ring: &mut io_uring::IoUring, idx: usize, fd: &OwnedFd) -> bool {
    push_pollin(ring, fd, true, idx as u64)
}

/// One-shot poll on a lane's hang-up watch, user data `idx | HUP_TAG`.
fn push_hup_poll(ring: &mut io_uring::IoUring, idx: usize, fd: &OwnedFd) -> bool {
    push_pollin(ring, fd, false, idx as u64 | HUP_TAG)
}

fn push_pollin(ring: &mut io_uring::IoUring, fd: &OwnedFd, multishot: bool, data: u64) -> bool {
    let entry = io_uring::opcode::PollAdd::new(
        io_uring::types::Fd(fd.as_fd().as_raw_fd()),
        nix::libc::POLLIN as u32,
    )
    .multi(multishot)
    .build()
    .user_data(data);
    // SAFETY: the fd stays open while the poll is registered: wait fds and hang-up watches are owned by their
    // UringLane, which is kept until the reactor ends (lanes are never removed from the table, only marked dead).
    unsafe { ring.submission().push(&entry).is_ok() }
}

async fn uring_task(
    mut afd: AsyncFd<UringFd>,
    mut rx: tokio::sync::mpsc::UnboundedReceiver<Arc<Lane>>,
    kick: Arc<tokio::sync::Notify>,
) {
    let mut lanes: Vec<UringLane> = Vec::new();
    let mut open = true;
    let mut timer = DeadlineTimer::new();
    loop {
        // Doorbell batching, as in the task driver: drain every live lane with its SQ doorbell deferred, let the
        // woken futures run and submit, then ring each lane once.
        {
            let batch = EndBatches(&lanes);
            let mut woke = 0;
            for ul in lanes.iter().filter(|ul| !ul.lane.is_dead()) {
                ul.lane.begin_batch();
                woke += ul.lane.drain();
            }
            if woke > 0 {
                requeue_behind_woken().await;
            }
            drop(batch);
        }
        // Drain and arm every live lane; if anything is already waiting, go round again.
        let mut again = false;
        for (i, ul) in lanes.iter_mut().enumerate() {
            if ul.lane.is_dead() {
                continue;
            }
            ul.lane.drain();
            if !ul.armed_poll {
                ul.armed_poll = push_poll(&mut afd.get_mut().0, i, &ul.fd);
            }
            if !ul.lane.is_dead() && ul.lane.arm() {
                again = true;
            }
        }
        if let Err(e) = afd.get_mut().0.submit() {
            tracing::warn!("io_uring submit failed: {e}");
        }
        if again {
            continue;
        }
        // As in the task driver: clear before computing, set again if a timer is armed.
        for l in &lanes {
            l.lane.watching_deadlines.store(false, Ordering::Release);
        }
        let deadline = lanes.iter().filter_map(|l| l.lane.next_deadline()).min();
        if timer.cover(deadline) {
            for l in &lanes {
                l.lane.watching_deadlines.store(true, Ordering::Release);
            }
        }
        tokio::select! {
            r = afd.readable_mut() => {
                let Ok(mut guard) = r else { break };
                guard.clear_ready();
                let ring = &mut guard.get_inner_mut().0;
                let cqes: Vec<(u64, i32, u32)> =
                    ring.completion().map(|c| (c.user_data(), c.result(), c.flags())).collect();
                for (data, res, flags) in cqes {
                    if data & HUP_TAG != 0 {
                        if let Some(ul) = lanes.get((data & !HUP_TAG) as usize) {
                            // The device is gone: retire without reading the ring.
                            ul.lane.hung_up();
                        }
                        continue;
                    }
                    let Some(ul) = lanes.get_mut(data as usize) else { continue };
                    if !io_uring::cqueue::more(flags) {
                        ul.armed_poll = false;
                    }
                    if ul.lane.wait_is_eventfd {
                        reset_eventfd(&ul.fd);
                    }
                    let hup = (nix::libc::POLLHUP | nix::libc::POLLERR) as i32;
                    if res < 0 || res & hup != 0 {
                        ul.lane.hung_up();
                    }
                }
                // Re-add polls that ended, with their own index.
                for (i, ul) in lanes.iter_mut().enumerate() {
                    if !ul.armed_poll && !ul.lane.is_dead() {
                        ul.armed_poll = push_poll(ring, i, &ul.fd);
                    }
                }
            }
            new = rx.recv(), if open => match new {
                Some(lane) => {
                    if let Some(fd) = lane.take_wait_fd() {
                        let idx = lanes.len();
                        let ring = &mut afd.get_mut().0;
                        let armed = push_poll(ring, idx, &fd);
                        let hup = lane.take_hup_fd();
                        if let Some(h) = &hup {
                            if !push_hup_poll(ring, idx, h) {
                                tracing::warn!("io_uring full: no hang-up watch for a queue of {}", lane.device);
                            }
                        }
                        lanes.push(UringLane { lane, fd, armed_poll: armed, _hup: hup });
                    }
                }
                None => open = false,
            },
            _ = kick.notified() => {}
            _ = timer.fired() => {
                let now = Instant::now();
                for ul in &lanes {
                    ul.lane.expire(now);
                }
            }
        }
        for l in &lanes {
            l.lane.watching_deadlines.store(true, Ordering::Release);
        }
        if !open && lanes.iter().all(|l| l.lane.is_dead()) {
            break;
        }
    }
}
