//! What keeps a lane's queue open, and what stopping it or freeing a stream context on it involves.

use std::sync::Arc;

#[cfg(feature = "emu")]
use uacce_emu::{EmuQueue, QueueState};
use uacce_sys::queue::Queue;

use crate::error::Error;

/// What keeps a queue open.
pub(crate) enum Owner {
    #[cfg(feature = "emu")]
    Emu(EmuQueue),
    Hw(Arc<Queue>),
}

impl Owner {
    /// Stop the queue so the device no longer touches job memory. Emulator: close the queue (joins its device
    /// thread). Hardware: `UACCE_CMD_PUT_Q` (the mapping and fd go when the last reference drops). False if the
    /// queue may still be running.
    pub(super) fn stop(self) -> bool {
        match self {
            #[cfg(feature = "emu")]
            Owner::Emu(q) => {
                drop(q);
                true
            }
            Owner::Hw(q) => match q.put() {
                Ok(()) => true,
                // uacce answers ENXIO only for a queue that is no longer valid: one that uacce_remove() has
                // already stopped and put (it holds the device's mutex, which the ioctl waits for, until every
                // queue is put), so the device no longer touches the jobs' memory.
                Err(uacce_sys::queue::QueueError::Ioctl {
                    source: nix::errno::Errno::ENXIO,
                    ..
                }) => {
                    tracing::debug!(
                        "UACCE_CMD_PUT_Q: ENXIO, the kernel already stopped the removed queue"
                    );
                    true
                }
                Err(e) => {
                    tracing::error!("UACCE_CMD_PUT_Q failed while retiring a queue: {e}");
                    false
                }
            },
        }
    }

    /// What a stream's owner must do when it frees a context buffer it used on this queue (see
    /// [`Lane::stream_release`]).
    pub(super) fn stream_release(&self) -> StreamRelease {
        match self {
            #[cfg(feature = "emu")]
            Owner::Emu(q) => StreamRelease::Emu(q.device()),
            Owner::Hw(_) => StreamRelease::Nothing,
        }
    }

    /// Why the queue stopped working, if the owner can tell on its own.
    pub(super) fn death(&self) -> Option<Error> {
        match self {
            #[cfg(feature = "emu")]
            Owner::Emu(q) => match q.state() {
                QueueState::Live => None,
                QueueState::Reset => Some(Error::QueueReset),
                QueueState::Removed => Some(Error::DeviceRemoved),
            },
            // The patched kernel reports a removed device's queue as hung up (poll: EPOLLHUP).
            Owner::Hw(q) => q.hung_up().then_some(Error::DeviceRemoved),
        }
    }
}

/// What freeing a ZIP stream's context buffer involves. Hardware keeps a stream's state in the buffer, so nothing;
/// the emulator keeps codec state in a table of its own, whose entry the owner releases.
pub(crate) enum StreamRelease {
    Nothing,
    #[cfg(feature = "emu")]
    Emu(uacce_emu::EmuDevice),
}

impl StreamRelease {
    /// The context buffer whose hardware context is at `ctx_addr` is being freed.
    pub(crate) fn release(&self, ctx_addr: u64) {
        match self {
            StreamRelease::Nothing => {}
            #[cfg(feature = "emu")]
            StreamRelease::Emu(d) => d.release_stream(ctx_addr),
        }
        let _ = ctx_addr;
    }
}
