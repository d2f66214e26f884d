//! The future of one submitted job.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use super::{JobOutput, Lane, SlotState, scratch};
use crate::error::Error;

/// The future of one submitted job.
pub(crate) struct JobFuture {
    pub(super) lane: Arc<Lane>,
    /// The job's slot in the lane's slab.
    pub(super) tag: u16,
    /// The result was taken: nothing to orphan on drop.
    pub(super) done: bool,
    /// When the job was submitted (only measured for the hybrid strategy's service times).
    pub(super) submitted: Option<Instant>,
}

impl Future for JobFuture {
    type Output = Result<JobOutput, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        // Borrowed, not cloned (an Arc clone and drop per poll): `done` is another field.
        let lane = &this.lane;
        let mut st = lane.lock();
        let t = usize::from(this.tag);
        match &mut st.slots[t].state {
            SlotState::Pending { waker, .. } => {
                match waker {
                    Some(w) if w.will_wake(cx.waker()) => {}
                    _ => *waker = Some(cx.waker().clone()),
                }
                Poll::Pending
            }
            SlotState::Done { .. } => {
                let SlotState::Done { bufs, result } =
                    std::mem::replace(&mut st.slots[t].state, SlotState::Free)
                else {
                    unreachable!("matched Done above")
                };
                let slot = &mut st.slots[t];
                let mut mac = [0u8; 64];
                mac.copy_from_slice(&slot.scratch.0[scratch::MAC..scratch::MAC + 64]);
                st.free.push(this.tag);
                drop(st);
                this.done = true;
                if let Some(t) = this.submitted {
                    lane.observe(t.elapsed());
                }
                Poll::Ready(result.map(|sqe| JobOutput { sqe, bufs, mac }))
            }
            SlotState::Free | SlotState::Orphan { .. } => {
                drop(st);
                this.done = true;
                Poll::Ready(Err(Error::Device("job slot lost".into())))
            }
        }
    }
}

impl Drop for JobFuture {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let mut st = self.lane.lock();
        let t = usize::from(self.tag);
        let graveyard = match std::mem::replace(&mut st.slots[t].state, SlotState::Free) {
            // Still on the device: the buffers stay in the slab until the completion (or queue stop).
            SlotState::Pending { bufs, .. } => {
                st.slots[t].state = SlotState::Orphan { _bufs: bufs };
                None
            }
            SlotState::Done { bufs, .. } => {
                st.free.push(self.tag);
                Some(bufs)
            }
            other => {
                st.slots[t].state = other;
                None
            }
        };
        drop(st);
        drop(graveyard);
    }
}
