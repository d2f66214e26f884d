//! The QM ring over a DUS region (protocol doc §2.2, §4, §5): one layout, two sides.
//!
//! * [`DriverRing`]: SQ producer and CQ consumer (what UADK's `hisi_qm_send`/`hisi_qm_recv` do).
//! * [`DeviceRing`]: SQ consumer and CQ producer (what the hardware does; used by the emulator and tests).
//!
//! Memory discipline: the SQ slot a producer fills is not read by the device until the SQ doorbell; the result
//! fields the device writes back into an SQE slot are published by the CQE's phase bit (release store, acquire load).
//! The CQE phase word and the status words are accessed as atomics; SQEs are copied with volatile accesses.
//!
//! # Why submitting is `unsafe`
//!
//! An SQE carries addresses (SVA: plain process virtual addresses) that the device reads its input from and writes
//! its output to, outside the Rust abstract machine. A safe function that hands an SQE to a device would let safe
//! code free or reuse a buffer while the device still writes into it, which is a use-after-free no borrow can see.
//! So [`DriverRing::push`], [`DriverRing::submit`] and [`DriverRing::run_blocking`] are `unsafe fn`: the caller
//! promises that every buffer the SQE names stays valid, unmoved and otherwise untouched until that SQE's completion
//! has been consumed or the queue has been stopped. This is the contract of the `io-uring` crate's
//! `SubmissionQueue::push`. [`DriverRing::ring_sq`] stays safe: it only announces SQEs that went in through
//! `push`, under that contract. The async layer's lane is the one place that states why the contract holds for
//! every job it submits. For the same reason [`Doorbell::ring`] is `unsafe`: an SQ doorbell makes the device
//! consume slots, and only the ring knows which slots are live.

use std::sync::Arc;
use std::sync::atomic::{AtomicU16, AtomicU32, Ordering, fence};

use super::doorbell::{
    DoorbellCmd, DoorbellError, DoorbellFields, decode_doorbell, encode_doorbell,
};
use super::{CQE_SIZE, Doorbell, DusMemory, QmVersion, SQE_SIZE, Sqe};

/// Default SQ and CQ depth (capability register value 0x04000400).
pub const DEFAULT_DEPTH: u16 = 1024;

/// Geometry of a queue's DUS region.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RingLayout {
    /// SQE size in bytes: 128 for ZIP and SEC, 64 for HPRE. The kernel reports it per queue (`SET_QP_INFO`,
    /// [`crate::queue::Queue::sqe_size`]); [`RingLayout::for_queue`] takes it from there.
    pub sqe_size: usize,
    /// Number of SQ slots.
    pub sq_depth: u16,
    /// Number of CQ slots.
    pub cq_depth: u16,
    /// Page size used to round the region (the kernel's `PAGE_SIZE`).
    pub page_size: usize,
}

/// Errors of the ring protocol.
#[derive(Debug, thiserror::Error)]
pub enum RingError {
    /// The kernel (or device) disabled the queue for an error or a reset: the status words at the end of the DUS
    /// region are set. The queue cannot be used any more; close it and open a new one.
    #[error(
        "queue was reset or disabled by the device (status words tx={tx} rx={rx}); close it and open a new queue"
    )]
    QueueReset {
        /// Value of the TX word (DUS end − 4).
        tx: u32,
        /// Value of the RX word (DUS end − 8).
        rx: u32,
    },
    /// All `sq_depth − 1` usable slots hold unfinished jobs.
    #[error("submission queue is full")]
    Full,
    /// The geometry does not fit the memory, or is not one the protocol allows.
    #[error("bad ring layout: {0}")]
    BadLayout(String),
    /// A CQE names an SQ slot outside the ring (the device is confused).
    #[error("CQE names SQ slot {slot}, but the SQ has {depth} slots")]
    BadCqe {
        /// The slot the CQE named.
        slot: u16,
        /// The SQ depth.
        depth: u16,
    },
    /// An SQE handed to the ring is not as long as the queue's SQEs ([`RingLayout::sqe_size`]).
    #[error("SQE of {got} bytes on a queue whose SQEs are {expected} bytes")]
    SqeSize {
        /// Length of the SQE handed in.
        got: usize,
        /// The queue's SQE size.
        expected: usize,
    },
    /// The device got an index outside the ring in a doorbell.
    #[error("doorbell index {index} is outside the ring of depth {depth}")]
    BadIndex {
        /// The index.
        index: u16,
        /// The ring depth.
        depth: u16,
    },
    /// The device would overwrite a CQE the consumer has not read yet.
    #[error("completion queue overflow")]
    CqOverflow,
    /// No completion arrived in time ([`DriverRing::run_blocking`]).
    #[error("no completion within {0:?}")]
    Timeout(std::time::Duration),
    /// A doorbell addressed another queue.
    #[error("doorbell for queue {got} arrived at queue {expected}")]
    WrongQueue {
        /// Queue number in the doorbell.
        got: u16,
        /// This queue's number.
        expected: u16,
    },
    /// A doorbell value could not be built or decoded.
    #[error(transparent)]
    Doorbell(#[from] DoorbellError),
    /// Delivering a doorbell failed (ioctl or emulator gone).
    #[error("ringing the doorbell failed: {0}")]
    DoorbellIo(#[source] std::io::Error),
}

/// The system page size (4096 if it cannot be read).
pub fn page_size() -> usize {
    match nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE) {
        Ok(Some(v)) if v > 0 => v as usize,
        _ => 4096,
    }
}

/// The DUS size the kernel allocates for a ring geometry: `PAGE_ALIGN(sqe_size*sq_depth + 16*cq_depth) + PAGE_SIZE`.
pub fn dus_size_for(sqe_size: usize, sq_depth: u16, cq_depth: u16, page_size: usize) -> usize {
    let rings = sqe_size * usize::from(sq_depth) + CQE_SIZE * usize::from(cq_depth);
    rings.div_ceil(page_size) * page_size + page_size
}

impl RingLayout {
    /// A layout with 128-byte SQEs (ZIP, SEC) and the system page size. For a queue of any device use
    /// [`RingLayout::for_queue`], which takes the SQE size the kernel reported.
    pub fn new(sq_depth: u16, cq_depth: u16) -> Result<Self, RingError> {
        Self::with_page_size(sq_depth, cq_depth, page_size())
    }

    /// A layout with 128-byte SQEs (ZIP, SEC) and the given page size.
    pub fn with_page_size(
        sq_depth: u16,
        cq_depth: u16,
        page_size: usize,
    ) -> Result<Self, RingError> {
        Self::with_sqe_size(SQE_SIZE, sq_depth, cq_depth, page_size)
    }

    /// The layout of an open queue: the SQE size and depths the kernel reported (`SET_QP_INFO`, or the defaults
    /// when the kernel does not implement it) and the system page size. HPRE queues get 64-byte SQEs this way.
    pub fn for_queue(q: &crate::queue::Queue) -> Result<Self, RingError> {
        let sqe_size = usize::try_from(q.sqe_size())
            .map_err(|_| RingError::BadLayout(format!("SQE size {}", q.sqe_size())))?;
        Self::with_sqe_size(sqe_size, q.sq_depth(), q.cq_depth(), page_size())
    }

    /// A layout with any SQE size the ring supports: a multiple of 8 from 16 to [`SQE_SIZE`] (128; ZIP and SEC use
    /// 128, HPRE [`HPRE_SQE_SIZE`] = 64).
    ///
    /// [`HPRE_SQE_SIZE`]: super::HPRE_SQE_SIZE
    pub fn with_sqe_size(
        sqe_size: usize,
        sq_depth: u16,
        cq_depth: u16,
        page_size: usize,
    ) -> Result<Self, RingError> {
        // SQEs are copied in 8-byte words and handed around in SQE_SIZE buffers.
        if !(16..=SQE_SIZE).contains(&sqe_size) || !sqe_size.is_multiple_of(8) {
            return Err(RingError::BadLayout(format!(
                "SQE size {sqe_size} (must be a multiple of 8 from 16 to {SQE_SIZE})"
            )));
        }
        if sq_depth < 2 || cq_depth < 2 {
            return Err(RingError::BadLayout(format!(
                "depths must be at least 2 (sq {sq_depth}, cq {cq_depth})"
            )));
        }
        if cq_depth < sq_depth {
            return Err(RingError::BadLayout(format!(
                "cq depth {cq_depth} is smaller than sq depth {sq_depth}"
            )));
        }
        if !page_size.is_power_of_two() || page_size < 64 {
            return Err(RingError::BadLayout(format!("page size {page_size}")));
        }
        Ok(Self {
            sqe_size,
            sq_depth,
            cq_depth,
            page_size,
        })
    }

    /// Byte offset of the CQ in the region.
    pub fn cq_offset(&self) -> usize {
        self.sqe_size * usize::from(self.sq_depth)
    }

    /// Size of the DUS region the kernel allocates for this layout (see [`dus_size_for`]).
    pub fn dus_size(&self) -> usize {
        dus_size_for(self.sqe_size, self.sq_depth, self.cq_depth, self.page_size)
    }

    /// Check that a region of `len` bytes holds this layout (rings plus the two status words).
    pub fn check_len(&self, len: usize) -> Result<(), RingError> {
        let need = self.cq_offset() + CQE_SIZE * usize::from(self.cq_depth) + 8;
        if len < need {
            return Err(RingError::BadLayout(format!(
                "region of {len} bytes is smaller than the {need} bytes the rings need"
            )));
        }
        Ok(())
    }
}

/// Typed access to a DUS region with a layout. Every accessor is bounds-checked by construction (slot indices are
/// reduced modulo the depth by the callers, and asserted here).
#[derive(Clone)]
struct RingMem {
    mem: Arc<dyn DusMemory>,
    layout: RingLayout,
}

impl RingMem {
    fn new(mem: Arc<dyn DusMemory>, layout: RingLayout) -> Result<Self, RingError> {
        layout.check_len(mem.len())?;
        if !(mem.as_ptr() as usize).is_multiple_of(64) {
            return Err(RingError::BadLayout("region is not 64-byte aligned".into()));
        }
        // SQEs are copied in 8-byte words: every slot must start 8-byte aligned and hold a whole SQE, and a copy
        // must fit an `Sqe` buffer. (The fields are public, so a layout may not have come from a constructor.)
        if !(16..=SQE_SIZE).contains(&layout.sqe_size) || !layout.sqe_size.is_multiple_of(8) {
            return Err(RingError::BadLayout(format!(
                "SQE size {} (must be a multiple of 8 from 16 to {SQE_SIZE})",
                layout.sqe_size
            )));
        }
        Ok(Self { mem, layout })
    }

    fn sqe_ptr(&self, slot: u16) -> *mut u8 {
        assert!(slot < self.layout.sq_depth);
        // In bounds: check_len covered sq_depth slots.
        self.mem
            .as_ptr()
            .wrapping_add(usize::from(slot) * self.layout.sqe_size)
    }

    fn cqe_ptr(&self, idx: u16) -> *mut u8 {
        assert!(idx < self.layout.cq_depth);
        self.mem
            .as_ptr()
            .wrapping_add(self.layout.cq_offset() + usize::from(idx) * CQE_SIZE)
    }

    /// A copy of the SQE in `slot`: its `sqe_size` bytes, the rest of the buffer zero.
    fn read_sqe(&self, slot: u16) -> Sqe {
        let src = self.sqe_ptr(slot) as *const u64;
        let mut sqe = [0u8; SQE_SIZE];
        for (i, chunk) in sqe[..self.layout.sqe_size].chunks_exact_mut(8).enumerate() {
            // SAFETY: in bounds of the region (sqe_ptr asserts the slot, RingMem::new checked the length; i <
            // sqe_size / 8 words = one SQE); 8-byte aligned (the region is 64-byte aligned and RingMem::new checked
            // that sqe_size is a multiple of 8); the region
            // stays mapped while `self.mem` lives. Volatile because the other side of the ring is outside the Rust
            // abstract machine's view. Word accesses instead of one volatile [u8; 128] access, which compiles to
            // 128 single-byte loads.
            let w = unsafe { std::ptr::read_volatile(src.add(i)) };
            chunk.copy_from_slice(&w.to_ne_bytes());
        }
        sqe
    }

    /// Store one whole SQE (`sqe_size` bytes) into `slot`.
    fn write_sqe(&self, slot: u16, sqe: &[u8]) -> Result<(), RingError> {
        if sqe.len() != self.layout.sqe_size {
            return Err(RingError::SqeSize {
                got: sqe.len(),
                expected: self.layout.sqe_size,
            });
        }
        let dst = self.sqe_ptr(slot) as *mut u64;
        for (i, chunk) in sqe.chunks_exact(8).enumerate() {
            let w = u64::from_ne_bytes(chunk.try_into().expect("chunks of 8 bytes"));
            // SAFETY: as in read_sqe; the slot is owned by this side at this point of the protocol.
            unsafe { std::ptr::write_volatile(dst.add(i), w) }
        }
        Ok(())
    }

    fn cqe_word(&self, idx: u16, byte: usize) -> &AtomicU16 {
        debug_assert!(byte < CQE_SIZE && byte.is_multiple_of(2));
        // SAFETY: in bounds (cqe_ptr asserts the index, the offset is < 16), 2-byte aligned (the region is 64-byte
        // aligned and CQ entries are 16 bytes), valid for the lifetime of &self; all accesses to CQE words go
        // through atomics.
        unsafe { AtomicU16::from_ptr(self.cqe_ptr(idx).add(byte) as *mut u16) }
    }

    fn status_word(&self, from_end: usize) -> &AtomicU32 {
        let len = self.mem.len();
        // SAFETY: check_len guaranteed len >= 8 past the rings; the region's end is 4-byte aligned because its
        // start is 64-byte aligned and sizes are page multiples (or at least multiples of 4: checked below).
        assert!(len.is_multiple_of(4) && from_end <= 8);
        unsafe { AtomicU32::from_ptr(self.mem.as_ptr().add(len - from_end) as *mut u32) }
    }

    fn tx(&self) -> u32 {
        u32::from_le(self.status_word(4).load(Ordering::Acquire))
    }

    fn rx(&self) -> u32 {
        u32::from_le(self.status_word(8).load(Ordering::Acquire))
    }

    /// The kernel writes 0 (open) or 1 (disabled) to the status words. UADK tests for 1; any non-zero value counts
    /// here, so that the all-ones pages the patched kernel maps over a removed device's queue (kmod-patch patch 4,
    /// for parent drivers that opt in; others raise SIGBUS) read as a dead queue too.
    fn check_status(&self) -> Result<(), RingError> {
        let (tx, rx) = (self.tx(), self.rx());
        if tx != 0 || rx != 0 {
            return Err(RingError::QueueReset { tx, rx });
        }
        Ok(())
    }
}

/// One completion taken off the CQ: the SQ slot it names and a copy of that slot's SQE, which holds the device's
/// result fields.
#[derive(Clone, Copy)]
pub struct Completion {
    /// The SQ slot of the finished SQE.
    pub slot: u16,
    /// The SQE as the device left it: the first [`sqe_size`](Completion::sqe_size) bytes; the rest is zero.
    pub sqe: Sqe,
    /// The queue's SQE size ([`RingLayout::sqe_size`]).
    pub sqe_size: usize,
}

impl Completion {
    /// The SQE's own bytes (`sqe_size` of them).
    pub fn sqe_bytes(&self) -> &[u8] {
        &self.sqe[..self.sqe_size.min(SQE_SIZE)]
    }
}

impl std::fmt::Debug for Completion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Completion")
            .field("slot", &self.slot)
            .finish_non_exhaustive()
    }
}

/// The driver side of a queue: produces SQEs, consumes CQEs.
///
/// Not thread-safe by itself (`&mut self`): the caller serialises access (UADK uses two spinlocks; the async layer
/// owns one of these per queue behind a mutex).
pub struct DriverRing {
    mem: RingMem,
    doorbell: Arc<dyn Doorbell>,
    version: QmVersion,
    sqn: u16,
    sq_tail: u16,
    sq_tail_rung: u16,
    cq_head: u16,
    phase: u16,
    used: u16,
}

impl std::fmt::Debug for DriverRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DriverRing")
            .field("version", &self.version)
            .field("sqn", &self.sqn)
            .field("sq_tail", &self.sq_tail)
            .field("cq_head", &self.cq_head)
            .field("used", &self.used)
            .finish_non_exhaustive()
    }
}

impl DriverRing {
    /// Start the driver side on a freshly started queue (CQ zeroed, tail 0, head 0, expected phase 1).
    ///
    /// The ring must be the queue's only producer. Two `DriverRing`s on one queue disagree about the SQ tail, and
    /// one's doorbell can announce the other's stale slots (old SQEs whose buffers may be gone). `new` does not
    /// check this, and it is not `unsafe` yet: open one ring per queue.
    pub fn new(
        mem: Arc<dyn DusMemory>,
        layout: RingLayout,
        doorbell: Arc<dyn Doorbell>,
        version: QmVersion,
        sqn: u16,
    ) -> Result<Self, RingError> {
        let mem = RingMem::new(mem, layout)?;
        // Validate the queue number against the doorbell format once, up front.
        encode_doorbell(
            version,
            DoorbellFields {
                sqn,
                cmd: DoorbellCmd::Sq,
                index: 0,
                priority: 0,
            },
        )?;
        Ok(Self {
            mem,
            doorbell,
            version,
            sqn,
            sq_tail: 0,
            sq_tail_rung: 0,
            cq_head: 0,
            phase: 1,
            used: 0,
        })
    }

    /// The ring's geometry.
    pub fn layout(&self) -> RingLayout {
        self.mem.layout
    }

    /// Jobs submitted and not yet taken off the CQ.
    pub fn in_flight(&self) -> u16 {
        self.used
    }

    /// Slots free for new SQEs: `sq_depth − 1 − in_flight` (one slot always stays empty).
    pub fn free_slots(&self) -> u16 {
        self.mem.layout.sq_depth - 1 - self.used
    }

    /// `Err(QueueReset)` if the device disabled the queue.
    pub fn check_alive(&self) -> Result<(), RingError> {
        self.mem.check_status()
    }

    /// Copy `sqe` into the next SQ slot and return the slot. The device does not see it until [`ring_sq`]
    /// (so several SQEs can share one doorbell).
    ///
    /// # Safety
    ///
    /// The SQE names buffers (by address) that the device reads and writes on its own, after this call returns. The
    /// caller promises that every buffer this SQE names (source, destination, key, IV, MAC, …)
    ///
    /// * stays valid: allocated and not moved, and
    /// * is not otherwise accessed: no reads of a buffer the device writes (output), no writes to a buffer the device
    ///   reads (input), and no Rust references to output buffers,
    ///
    /// until this SQE's completion has been consumed ([`pop`] returned it) or the queue has been stopped
    /// (`UACCE_CMD_PUT_Q` returned, or the queue closed; for the emulator, the queue dropped). The promise holds
    /// from this call on, even before [`ring_sq`] announces the SQE: any later SQ doorbell does. An SQE that names
    /// no buffers (all address fields zero, as in ring tests) has nothing to promise. If this returns an error the
    /// SQE was not queued, and nothing is promised for it. Model: the `io-uring` crate's `SubmissionQueue::push`.
    ///
    /// [`pop`]: DriverRing::pop
    /// [`ring_sq`]: DriverRing::ring_sq
    ///
    /// `sqe` must be exactly [`RingLayout::sqe_size`] bytes long (an `&Sqe` for ZIP and SEC, a 64-byte array for
    /// HPRE), else [`RingError::SqeSize`].
    pub unsafe fn push(&mut self, sqe: &[u8]) -> Result<u16, RingError> {
        if self.mem.tx() != 0 {
            return self.mem.check_status().map(|_| 0);
        }
        if self.free_slots() == 0 {
            return Err(RingError::Full);
        }
        let slot = self.sq_tail;
        self.mem.write_sqe(slot, sqe)?;
        self.sq_tail = (self.sq_tail + 1) % self.mem.layout.sq_depth;
        self.used += 1;
        Ok(slot)
    }

    /// Tell the device about every SQE pushed since the last call (one SQ doorbell carrying the new tail). Does
    /// nothing when there is nothing new.
    pub fn ring_sq(&mut self) -> Result<(), RingError> {
        if self.sq_tail == self.sq_tail_rung {
            return Ok(());
        }
        self.mem.check_status()?;
        // Make the SQE stores visible before the doorbell (UADK: dsb sy before the MMIO store).
        fence(Ordering::SeqCst);
        self.ring(DoorbellCmd::Sq, self.sq_tail, 0)?;
        self.sq_tail_rung = self.sq_tail;
        Ok(())
    }

    /// [`push`] and [`ring_sq`] in one call.
    ///
    /// # Safety
    ///
    /// As for [`push`]: every buffer the SQE names stays valid (allocated, not moved) and is not otherwise accessed
    /// until this SQE's completion has been consumed or the queue has been stopped. An error does not always mean
    /// the SQE was not queued: if `push` succeeded and ringing the doorbell failed ([`RingError::DoorbellIo`], or
    /// `QueueReset` seen between the two), the SQE sits in the ring and the next [`ring_sq`] announces it, so the
    /// promise still holds for it (compare [`in_flight`] before and after to tell).
    ///
    /// [`push`]: DriverRing::push
    /// [`ring_sq`]: DriverRing::ring_sq
    /// [`in_flight`]: DriverRing::in_flight
    pub unsafe fn submit(&mut self, sqe: &[u8]) -> Result<u16, RingError> {
        // SAFETY: the caller upholds push's contract for `sqe` (this function's own contract).
        let slot = unsafe { self.push(sqe)? };
        self.ring_sq()?;
        Ok(slot)
    }

    /// True if the CQE at the head carries the expected phase (a completion is ready).
    pub fn has_completion(&self) -> bool {
        u16::from_le(self.mem.cqe_word(self.cq_head, 14).load(Ordering::Acquire)) & 1 == self.phase
    }

    /// Take one completion off the CQ, if one is ready. Does not ring the CQ doorbell: call [`ring_cq`] after
    /// draining. When no completion is ready and the device has disabled the queue, returns `QueueReset`
    /// (completions written before the reset are still returned first).
    ///
    /// A CQE naming a slot outside the SQ is consumed (so the ring does not wedge) and returned as `BadCqe`, unless
    /// the status words say the queue is dead (then `QueueReset`, the entry left in place).
    ///
    /// [`ring_cq`]: DriverRing::ring_cq
    pub fn pop(&mut self) -> Result<Option<Completion>, RingError> {
        if !self.has_completion() {
            self.mem.check_status()?;
            return Ok(None);
        }
        let slot = u16::from_le(self.mem.cqe_word(self.cq_head, 8).load(Ordering::Relaxed));
        let depth = self.mem.layout.sq_depth;
        let result = if slot < depth {
            Ok(Some(Completion {
                slot,
                sqe: self.mem.read_sqe(slot),
                sqe_size: self.mem.layout.sqe_size,
            }))
        } else {
            // A dead queue's memory may read as all ones (removed device): report the queue, not the entry.
            self.mem.check_status()?;
            Err(RingError::BadCqe { slot, depth })
        };
        if self.cq_head == self.mem.layout.cq_depth - 1 {
            self.cq_head = 0;
            self.phase ^= 1;
        } else {
            self.cq_head += 1;
        }
        self.used = self.used.saturating_sub(1);
        result
    }

    /// Submit one SQE and wait for the next completion by polling the CQ (yielding the thread between looks), then
    /// release the CQ entry. For synchronous tools and tests with one job in flight; the async layer does not use it.
    /// `Timeout` if nothing arrives within `timeout` (the job stays in flight).
    ///
    /// # Safety
    ///
    /// As for [`push`](DriverRing::push): every buffer the SQE names stays valid (allocated, not moved) and is not
    /// otherwise accessed until this SQE's completion has been consumed or the queue has been stopped. On `Ok` the
    /// completion returned is the next one on the CQ: with one job in flight, that is this SQE's, and the buffers
    /// are free again. On `Timeout` (or another error after the SQE was queued) the job is still in flight: the
    /// buffers stay promised to the device until a later [`pop`](DriverRing::pop) returns its completion or the
    /// queue is stopped (in practice: leak them or stop the queue before freeing them).
    pub unsafe fn run_blocking(
        &mut self,
        sqe: &[u8],
        timeout: std::time::Duration,
    ) -> Result<Completion, RingError> {
        // SAFETY: the caller upholds push's contract for `sqe` (this function's own contract).
        unsafe { self.submit(sqe)? };
        let start = std::time::Instant::now();
        loop {
            if let Some(c) = self.pop()? {
                self.ring_cq(false)?;
                return Ok(c);
            }
            if start.elapsed() > timeout {
                return Err(RingError::Timeout(timeout));
            }
            std::thread::yield_now();
        }
    }

    /// Ring the CQ doorbell with the current head. `arm = true` sets priority 1, which asks the device for a
    /// completion signal (interrupt / eventfd) for the next completion.
    pub fn ring_cq(&mut self, arm: bool) -> Result<(), RingError> {
        fence(Ordering::SeqCst);
        self.ring(DoorbellCmd::Cq, self.cq_head, u16::from(arm))
    }

    fn ring(&self, cmd: DoorbellCmd, index: u16, priority: u16) -> Result<(), RingError> {
        let value = encode_doorbell(
            self.version,
            DoorbellFields {
                sqn: self.sqn,
                cmd,
                index,
                priority,
            },
        )?;
        // SAFETY: SQ doorbells carry `sq_tail`: the slots between the device's head (our last rung tail, as far as
        // this ring is the queue's only producer) and it were filled by `push`, under its contract, and not yet
        // completed. CQ doorbells carry `cq_head`, which `pop` advanced past consumed entries only.
        unsafe { self.doorbell.ring(value) }.map_err(RingError::DoorbellIo)
    }
}

/// What a doorbell asked of the device side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceEvent {
    /// New SQEs are ready.
    SqTail,
    /// The consumer moved its head; `arm` is true for priority 1.
    CqHead {
        /// The consumer asked for a completion signal.
        arm: bool,
    },
}

/// The device side of a queue: consumes SQEs, produces CQEs, owns the status words.
pub struct DeviceRing {
    mem: RingMem,
    version: QmVersion,
    sqn: u16,
    sq_head: u16,
    sq_tail: u16,
    cq_tail: u16,
    cq_head: u16,
    phase: u16,
}

impl std::fmt::Debug for DeviceRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceRing")
            .field("sqn", &self.sqn)
            .field("sq_head", &self.sq_head)
            .field("sq_tail", &self.sq_tail)
            .field("cq_tail", &self.cq_tail)
            .field("cq_head", &self.cq_head)
            .finish_non_exhaustive()
    }
}

impl DeviceRing {
    /// Start the device side: what the kernel does at open (CQ zeroed, both status words cleared) and at start
    /// (CQ phase 1).
    pub fn new(
        mem: Arc<dyn DusMemory>,
        layout: RingLayout,
        version: QmVersion,
        sqn: u16,
    ) -> Result<Self, RingError> {
        let mem = RingMem::new(mem, layout)?;
        for i in 0..layout.cq_depth {
            for byte in (0..CQE_SIZE).step_by(2) {
                mem.cqe_word(i, byte).store(0, Ordering::Relaxed);
            }
        }
        mem.status_word(8).store(0, Ordering::Relaxed);
        mem.status_word(4).store(0, Ordering::Release);
        Ok(Self {
            mem,
            version,
            sqn,
            sq_head: 0,
            sq_tail: 0,
            cq_tail: 0,
            cq_head: 0,
            phase: 1,
        })
    }

    /// Apply a doorbell value written by the driver. Strict: a value for another queue, an unknown command or an
    /// index outside the ring is an error (hardware would raise a doorbell error).
    pub fn doorbell(&mut self, value: u64) -> Result<DeviceEvent, RingError> {
        let f = decode_doorbell(self.version, value)?;
        if f.sqn != self.sqn {
            return Err(RingError::WrongQueue {
                got: f.sqn,
                expected: self.sqn,
            });
        }
        match f.cmd {
            DoorbellCmd::Sq => {
                if f.index >= self.mem.layout.sq_depth {
                    return Err(RingError::BadIndex {
                        index: f.index,
                        depth: self.mem.layout.sq_depth,
                    });
                }
                self.sq_tail = f.index;
                Ok(DeviceEvent::SqTail)
            }
            DoorbellCmd::Cq => {
                if f.index >= self.mem.layout.cq_depth {
                    return Err(RingError::BadIndex {
                        index: f.index,
                        depth: self.mem.layout.cq_depth,
                    });
                }
                self.cq_head = f.index;
                Ok(DeviceEvent::CqHead {
                    arm: f.priority != 0,
                })
            }
            DoorbellCmd::Eq | DoorbellCmd::Aeq => {
                Err(RingError::Doorbell(DoorbellError::UnknownCmd(value)))
            }
        }
    }

    /// SQEs announced by the doorbell and not fetched yet.
    pub fn pending(&self) -> u16 {
        let d = self.mem.layout.sq_depth;
        (self.sq_tail + d - self.sq_head) % d
    }

    /// Fetch the next announced SQE (slot and a copy), in slot order. The copy holds the queue's `sqe_size` bytes;
    /// the rest of the buffer is zero.
    pub fn fetch(&mut self) -> Option<(u16, Sqe)> {
        if self.pending() == 0 {
            return None;
        }
        let slot = self.sq_head;
        self.sq_head = (self.sq_head + 1) % self.mem.layout.sq_depth;
        Some((slot, self.mem.read_sqe(slot)))
    }

    /// Write a (result-carrying) SQE back into its slot, before posting its CQE. `sqe` must be exactly
    /// [`RingLayout::sqe_size`] bytes long, else [`RingError::SqeSize`].
    pub fn write_back(&self, slot: u16, sqe: &[u8]) -> Result<(), RingError> {
        if slot >= self.mem.layout.sq_depth {
            return Err(RingError::BadIndex {
                index: slot,
                depth: self.mem.layout.sq_depth,
            });
        }
        self.mem.write_sqe(slot, sqe)
    }

    /// True if one more CQE would overwrite an entry the consumer has not released with a CQ doorbell.
    pub fn cq_full(&self) -> bool {
        (self.cq_tail + 1) % self.mem.layout.cq_depth == self.cq_head
    }

    /// The next CQ slot the device will post to.
    pub fn cq_tail(&self) -> u16 {
        self.cq_tail
    }

    /// CQEs posted and not yet released by a CQ doorbell.
    pub fn cq_outstanding(&self) -> u16 {
        let d = self.mem.layout.cq_depth;
        (self.cq_tail + d - self.cq_head) % d
    }

    /// Post the CQE for a finished SQ slot: `sq_head` and `sq_num` first, the phase bit last (release).
    pub fn post(&mut self, slot: u16) -> Result<(), RingError> {
        if slot >= self.mem.layout.sq_depth {
            return Err(RingError::BadIndex {
                index: slot,
                depth: self.mem.layout.sq_depth,
            });
        }
        if self.cq_full() {
            return Err(RingError::CqOverflow);
        }
        let idx = self.cq_tail;
        self.mem
            .cqe_word(idx, 8)
            .store(slot.to_le(), Ordering::Relaxed);
        self.mem
            .cqe_word(idx, 10)
            .store(self.sqn.to_le(), Ordering::Relaxed);
        self.mem
            .cqe_word(idx, 14)
            .store(self.phase.to_le(), Ordering::Release);
        if self.cq_tail == self.mem.layout.cq_depth - 1 {
            self.cq_tail = 0;
            self.phase ^= 1;
        } else {
            self.cq_tail += 1;
        }
        Ok(())
    }

    /// Disable the queue as the kernel does for an error or reset: TX word = 1, (stop), RX word = 1.
    pub fn disable(&self) {
        self.mem
            .status_word(4)
            .store(1u32.to_le(), Ordering::SeqCst);
        self.mem
            .status_word(8)
            .store(1u32.to_le(), Ordering::SeqCst);
    }

    /// True once [`disable`](DeviceRing::disable) ran (or the status words were set by someone else).
    pub fn is_disabled(&self) -> bool {
        self.mem.check_status().is_err()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Heap memory standing in for a DUS mapping (64-byte aligned).
    struct HeapDus {
        ptr: *mut u8,
        len: usize,
        layout: std::alloc::Layout,
    }
    // SAFETY: the buffer is only accessed through raw pointers/atomics by the ring.
    unsafe impl Send for HeapDus {}
    // SAFETY: as above.
    unsafe impl Sync for HeapDus {}
    impl HeapDus {
        fn new(len: usize) -> Arc<Self> {
            let layout = std::alloc::Layout::from_size_align(len, 4096).unwrap();
            // SAFETY: non-zero size layout.
            let ptr = unsafe { std::alloc::alloc_zeroed(layout) };
            assert!(!ptr.is_null());
            Arc::new(Self { ptr, len, layout })
        }
    }
    impl Drop for HeapDus {
        fn drop(&mut self) {
            // SAFETY: allocated in new with this layout.
            unsafe { std::alloc::dealloc(self.ptr, self.layout) }
        }
    }
    // SAFETY: valid for len bytes while self lives; 4096-aligned.
    unsafe impl DusMemory for HeapDus {
        fn as_ptr(&self) -> *mut u8 {
            self.ptr
        }
        fn len(&self) -> usize {
            self.len
        }
    }

    /// A doorbell that records values; the test feeds them to the device side.
    #[derive(Default)]
    struct Recorder(Mutex<Vec<u64>>);
    impl Doorbell for Recorder {
        unsafe fn ring(&self, value: u64) -> std::io::Result<()> {
            self.0.lock().unwrap().push(value);
            Ok(())
        }
    }

    fn pair(depth: u16, version: QmVersion) -> (DriverRing, DeviceRing, Arc<Recorder>) {
        let layout = RingLayout::with_page_size(depth, depth, 4096).unwrap();
        let mem = HeapDus::new(layout.dus_size());
        let rec = Arc::new(Recorder::default());
        let drv = DriverRing::new(mem.clone(), layout, rec.clone(), version, 3).unwrap();
        let dev = DeviceRing::new(mem, layout, version, 3).unwrap();
        (drv, dev, rec)
    }

    // The SQEs of these tests are byte patterns for the ring protocol: no device here interprets them, and the
    // device side of the tests only copies them (`fetch`/`write_back`). They name no buffers, so push's contract
    // has nothing to hold.
    fn push(drv: &mut DriverRing, sqe: &Sqe) -> Result<u16, RingError> {
        // SAFETY: the SQE is consumed by the test device side, which treats it as plain bytes and never
        // dereferences an address in it.
        unsafe { drv.push(sqe) }
    }

    fn submit(drv: &mut DriverRing, sqe: &Sqe) -> Result<u16, RingError> {
        // SAFETY: as in `push` above: the SQE names no buffers anyone dereferences.
        unsafe { drv.submit(sqe) }
    }

    fn deliver(dev: &mut DeviceRing, rec: &Recorder) -> Vec<DeviceEvent> {
        let values: Vec<u64> = rec.0.lock().unwrap().drain(..).collect();
        values
            .into_iter()
            .map(|v| dev.doorbell(v).unwrap())
            .collect()
    }

    #[test]
    fn layout_sizes_match_protocol_doc() {
        // §2.2 example: depth 1024, 128-byte SQEs.
        let l4 = RingLayout::with_page_size(1024, 1024, 4096).unwrap();
        assert_eq!(l4.cq_offset(), 0x20000);
        assert_eq!(l4.dus_size(), 0x25000);
        let l64 = RingLayout::with_page_size(1024, 1024, 65536).unwrap();
        assert_eq!(l64.dus_size(), 0x40000);
        assert!(RingLayout::with_page_size(1, 1, 4096).is_err());
        assert!(RingLayout::with_page_size(8, 4, 4096).is_err());
        assert!(l4.check_len(0x24000).is_err());
        assert!(l4.check_len(0x25000).is_ok());
    }

    #[test]
    fn hpre_layout_sizes_match_protocol_doc() {
        // §12.1: HPRE, depth 1024, 64-byte SQEs: CQ at 0x10000, DUS 0x15000 (4 KiB pages) or 0x30000 (64 KiB).
        let l4 = RingLayout::with_sqe_size(64, 1024, 1024, 4096).unwrap();
        assert_eq!(l4.cq_offset(), 0x10000);
        assert_eq!(l4.dus_size(), 0x15000);
        let l64 = RingLayout::with_sqe_size(64, 1024, 1024, 65536).unwrap();
        assert_eq!(l64.dus_size(), 0x30000);
        for bad in [0, 8, 60, 136, 256] {
            assert!(RingLayout::with_sqe_size(bad, 4, 4, 4096).is_err(), "{bad}");
        }
        // A hand-made layout with a bad SQE size is refused by the rings too.
        let forged = RingLayout {
            sqe_size: 200,
            ..RingLayout::with_page_size(4, 4, 4096).unwrap()
        };
        let mem = HeapDus::new(forged.dus_size());
        assert!(DeviceRing::new(mem, forged, QmVersion::V3, 0).is_err());
    }

    /// A 64-byte-SQE ring: slots are 64 bytes apart, a copy carries 64 bytes (the rest zero), an SQE of another
    /// length is refused, and the CQ sits right after the 64-byte slots.
    #[test]
    fn sixty_four_byte_sqes() {
        let layout = RingLayout::with_sqe_size(64, 4, 4, 4096).unwrap();
        let mem = HeapDus::new(layout.dus_size());
        let rec = Arc::new(Recorder::default());
        let mut drv = DriverRing::new(mem.clone(), layout, rec.clone(), QmVersion::V3, 2).unwrap();
        let mut dev = DeviceRing::new(mem.clone(), layout, QmVersion::V3, 2).unwrap();
        assert!(matches!(
            push(&mut drv, &[1; 128]),
            Err(RingError::SqeSize {
                got: 128,
                expected: 64
            })
        ));
        assert_eq!(drv.in_flight(), 0);
        for round in 0..10u8 {
            let a = [round; 64];
            let b = [round.wrapping_add(100); 64];
            // SAFETY: byte patterns naming no buffers, as in `push`.
            let sa = unsafe { drv.push(&a) }.unwrap();
            // SAFETY: as above.
            let sb = unsafe { drv.push(&b) }.unwrap();
            drv.ring_sq().unwrap();
            deliver(&mut dev, &rec);
            // The slots are 64 bytes apart in the region.
            // SAFETY: in bounds (slot < depth), the device side is idle.
            let raw = unsafe { std::slice::from_raw_parts(mem.ptr.add(usize::from(sa) * 64), 64) };
            assert_eq!(raw, &a);
            let (s1, mut q1) = dev.fetch().unwrap();
            let (s2, q2) = dev.fetch().unwrap();
            assert_eq!((s1, s2), (sa, sb));
            assert_eq!(&q1[..64], &a);
            assert_eq!(&q2[..64], &b);
            assert!(q1[64..].iter().all(|&x| x == 0));
            assert!(matches!(
                dev.write_back(s1, &q1),
                Err(RingError::SqeSize { .. })
            ));
            q1[0] = 0xEE;
            dev.write_back(s1, &q1[..64]).unwrap();
            dev.post(s1).unwrap();
            dev.post(s2).unwrap();
            let c1 = drv.pop().unwrap().unwrap();
            let c2 = drv.pop().unwrap().unwrap();
            assert_eq!(c1.sqe_size, 64);
            assert_eq!(c1.sqe_bytes().len(), 64);
            assert_eq!(c1.sqe[0], 0xEE);
            assert_eq!(&c1.sqe[1..64], &a[1..]);
            assert_eq!(c2.sqe_bytes(), &b);
            // The neighbouring slot was not touched by the write-back.
            assert_eq!(c2.sqe[0], round.wrapping_add(100));
            drv.ring_cq(false).unwrap();
            deliver(&mut dev, &rec);
        }
    }

    #[test]
    fn status_words_sit_at_region_end() {
        let layout = RingLayout::with_page_size(4, 4, 4096).unwrap();
        let mem = HeapDus::new(layout.dus_size());
        let rec = Arc::new(Recorder::default());
        let mut drv = DriverRing::new(mem.clone(), layout, rec, QmVersion::V2, 0).unwrap();
        // Set the TX word by hand at DUS end - 4, as the kernel does.
        // SAFETY: in bounds, aligned.
        unsafe { (mem.ptr.add(mem.len - 4) as *mut u32).write_volatile(1) };
        match push(&mut drv, &[0; 128]) {
            Err(RingError::QueueReset { tx: 1, rx: 0 }) => {}
            other => panic!("{other:?}"),
        }
        // SAFETY: as above (RX word, end - 8).
        unsafe { (mem.ptr.add(mem.len - 8) as *mut u32).write_volatile(1) };
        assert!(matches!(
            drv.pop(),
            Err(RingError::QueueReset { tx: 1, rx: 1 })
        ));
    }

    /// A removed device's queue memory reads as all ones with the kernel patches (kmod-patch patch 4, for a parent
    /// that opts in): every driver entry point must report the queue dead, none may take the all-ones CQE for a
    /// completion.
    #[test]
    fn all_ones_memory_reads_as_dead_queue() {
        let dead = RingError::QueueReset {
            tx: u32::MAX,
            rx: u32::MAX,
        }
        .to_string();
        for laps in [0, 1] {
            let layout = RingLayout::with_page_size(4, 4, 4096).unwrap();
            let mem = HeapDus::new(layout.dus_size());
            let rec = Arc::new(Recorder::default());
            let mut drv =
                DriverRing::new(mem.clone(), layout, rec.clone(), QmVersion::V3, 3).unwrap();
            let mut dev = DeviceRing::new(mem.clone(), layout, QmVersion::V3, 3).unwrap();
            // After one lap round the CQ the driver expects phase 0, so an all-ones CQE looks stale; before it,
            // the CQE looks new and names slot 0xFFFF.
            for _ in 0..laps * 4 {
                submit(&mut drv, &[0; 128]).unwrap();
                deliver(&mut dev, &rec);
                let (slot, _) = dev.fetch().unwrap();
                dev.post(slot).unwrap();
                assert!(drv.pop().unwrap().is_some());
                drv.ring_cq(false).unwrap();
                deliver(&mut dev, &rec);
            }
            // SAFETY: the whole region is ours and in bounds; nothing else touches it during the write.
            unsafe { std::ptr::write_bytes(mem.ptr, 0xff, mem.len) };
            assert_eq!(drv.has_completion(), laps == 0);
            assert_eq!(drv.check_alive().unwrap_err().to_string(), dead);
            assert_eq!(drv.pop().unwrap_err().to_string(), dead);
            assert_eq!(push(&mut drv, &[0; 128]).unwrap_err().to_string(), dead);
        }
    }

    #[test]
    fn free_slot_rule_and_full() {
        let (mut drv, _dev, _rec) = pair(4, QmVersion::V2);
        assert_eq!(drv.free_slots(), 3);
        for i in 0..3 {
            assert_eq!(push(&mut drv, &[i; 128]).unwrap(), i as u16);
        }
        assert_eq!(drv.free_slots(), 0);
        assert!(matches!(push(&mut drv, &[9; 128]), Err(RingError::Full)));
    }

    #[test]
    fn batched_doorbell_and_round_trip_with_wrap() {
        for version in [QmVersion::V1, QmVersion::V2, QmVersion::V3] {
            let (mut drv, mut dev, rec) = pair(4, version);
            let mut next_byte = 0u8;
            let mut expect = std::collections::VecDeque::new();
            // 50 rounds of up to 3 jobs wrap the 4-slot rings (and the CQ phase) many times.
            for round in 0..50u32 {
                let n = 1 + (round % 3) as u8;
                for _ in 0..n {
                    let sqe = [next_byte; 128];
                    push(&mut drv, &sqe).unwrap();
                    expect.push_back(next_byte);
                    next_byte = next_byte.wrapping_add(1);
                }
                assert!(rec.0.lock().unwrap().is_empty(), "push must not ring");
                drv.ring_sq().unwrap();
                drv.ring_sq().unwrap(); // nothing new: no second doorbell
                assert_eq!(rec.0.lock().unwrap().len(), 1);
                assert_eq!(deliver(&mut dev, &rec), vec![DeviceEvent::SqTail]);
                assert_eq!(dev.pending(), u16::from(n));
                while let Some((slot, mut sqe)) = dev.fetch() {
                    sqe[0] = sqe[1].wrapping_add(100); // a "result"
                    dev.write_back(slot, &sqe).unwrap();
                    dev.post(slot).unwrap();
                }
                let mut got = 0;
                while let Some(c) = drv.pop().unwrap() {
                    let b = expect.pop_front().unwrap();
                    assert_eq!(c.sqe[1], b);
                    assert_eq!(c.sqe[0], b.wrapping_add(100));
                    got += 1;
                }
                assert_eq!(got, n);
                assert_eq!(drv.in_flight(), 0);
                drv.ring_cq(round % 2 == 0).unwrap();
                assert_eq!(
                    deliver(&mut dev, &rec),
                    vec![DeviceEvent::CqHead {
                        arm: round % 2 == 0
                    }]
                );
                assert_eq!(dev.cq_outstanding(), 0);
            }
        }
    }

    #[test]
    fn device_refuses_cq_overflow_and_bad_doorbells() {
        let (mut drv, mut dev, rec) = pair(4, QmVersion::V2);
        // Three posts fill a 4-entry CQ (one entry stays free); the fourth would overwrite unread entries.
        for _ in 0..3 {
            push(&mut drv, &[0; 128]).unwrap();
        }
        drv.ring_sq().unwrap();
        deliver(&mut dev, &rec);
        while let Some((slot, _)) = dev.fetch() {
            dev.post(slot).unwrap();
        }
        assert!(dev.cq_full());
        assert!(matches!(dev.post(0), Err(RingError::CqOverflow)));
        // Index outside the ring, wrong queue, EQ command.
        let bad_index = encode_doorbell(
            QmVersion::V2,
            DoorbellFields {
                sqn: 3,
                cmd: DoorbellCmd::Sq,
                index: 4,
                priority: 0,
            },
        )
        .unwrap();
        assert!(matches!(
            dev.doorbell(bad_index),
            Err(RingError::BadIndex { .. })
        ));
        let other_queue = bad_index & !0xFFF;
        assert!(matches!(
            dev.doorbell(other_queue),
            Err(RingError::WrongQueue {
                got: 0,
                expected: 3
            })
        ));
        assert!(dev.doorbell(0x2003).is_err());
    }

    #[test]
    fn bad_cqe_is_consumed_and_reported() {
        let (mut drv, mut dev, rec) = pair(4, QmVersion::V2);
        submit(&mut drv, &[0; 128]).unwrap();
        deliver(&mut dev, &rec);
        let _ = dev.fetch();
        // Forge a CQE naming slot 7 (outside the 4-slot SQ).
        dev.mem.cqe_word(0, 8).store(7, Ordering::Relaxed);
        dev.mem.cqe_word(0, 14).store(1, Ordering::Release);
        assert!(matches!(
            drv.pop(),
            Err(RingError::BadCqe { slot: 7, depth: 4 })
        ));
        assert!(drv.pop().unwrap().is_none());
        assert_eq!(drv.in_flight(), 0);
    }

    #[test]
    fn disable_sets_both_words() {
        let (drv, dev, _rec) = pair(4, QmVersion::V3);
        assert!(drv.check_alive().is_ok());
        dev.disable();
        assert!(dev.is_disabled());
        assert!(matches!(
            drv.check_alive(),
            Err(RingError::QueueReset { tx: 1, rx: 1 })
        ));
    }

    /// Driver and device on two threads, many wraps: every job completes exactly once, in order.
    #[test]
    fn threaded_stress() {
        let layout = RingLayout::with_page_size(8, 8, 4096).unwrap();
        let mem = HeapDus::new(layout.dus_size());
        let (tx, rx) = std::sync::mpsc::channel::<u64>();
        struct Chan(Mutex<std::sync::mpsc::Sender<u64>>);
        impl Doorbell for Chan {
            unsafe fn ring(&self, v: u64) -> std::io::Result<()> {
                self.0
                    .lock()
                    .unwrap()
                    .send(v)
                    .map_err(|_| std::io::Error::other("device gone"))
            }
        }
        let db = Arc::new(Chan(Mutex::new(tx)));
        let mut drv = DriverRing::new(mem.clone(), layout, db, QmVersion::V2, 1).unwrap();
        let mut dev = DeviceRing::new(mem, layout, QmVersion::V2, 1).unwrap();
        const JOBS: u32 = 20_000;
        let device = std::thread::spawn(move || {
            let mut done = 0u32;
            // Runs until the driver side drops its doorbell (closing the channel).
            while let Ok(v) = rx.recv() {
                if let DeviceEvent::SqTail = dev.doorbell(v).unwrap() {
                    while let Some((slot, mut sqe)) = dev.fetch() {
                        sqe[4] = 0xAA;
                        dev.write_back(slot, &sqe).unwrap();
                        while dev.cq_full() {
                            let v = rx.recv().unwrap();
                            dev.doorbell(v).unwrap();
                        }
                        dev.post(slot).unwrap();
                        done += 1;
                    }
                }
            }
            done
        });
        let mut sent = 0u32;
        let mut received = 0u32;
        while received < JOBS {
            while sent < JOBS && drv.free_slots() > 0 {
                let mut sqe = [0u8; 128];
                sqe[..4].copy_from_slice(&sent.to_le_bytes());
                push(&mut drv, &sqe).unwrap();
                sent += 1;
            }
            drv.ring_sq().unwrap();
            let mut any = false;
            while let Some(c) = drv.pop().unwrap() {
                assert_eq!(u32::from_le_bytes(c.sqe[..4].try_into().unwrap()), received);
                assert_eq!(c.sqe[4], 0xAA);
                received += 1;
                any = true;
            }
            if any {
                drv.ring_cq(false).unwrap();
            } else {
                std::thread::yield_now();
            }
        }
        drop(drv);
        assert_eq!(device.join().unwrap(), JOBS);
    }
}
