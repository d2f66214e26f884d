//! The `IoUring` strategy: one reactor task owning an io_uring with a multishot poll per lane fd; the io_uring's own
//! fd is in tokio, so one wake-up serves many queues.

use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

use super::{DeadlineTimer, requeue_behind_woken, reset_eventfd};
use crate::lane::Lane;

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
                        if let Some(h) = &hup
                            && !push_hup_poll(ring, idx, h) {
                                tracing::warn!("io_uring full: no hang-up watch for a queue of {}", lane.device);
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
