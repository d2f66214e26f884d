//! The `Interrupt`, `Eventfd` and `Hybrid` strategies: one driver task per lane, asleep on the lane's wait fd (the
//! queue fd, or an eventfd) in tokio, draining the CQ when woken.

use std::io;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

use super::{DeadlineTimer, EndBatch, hung_up, requeue_behind_woken, reset_eventfd};
use crate::lane::Lane;

/// Longest spin of the hybrid strategy.
const HYBRID_MAX_SPIN: Duration = Duration::from_micros(50);

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
