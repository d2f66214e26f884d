//! One device queue driven asynchronously: its ring, its tag slab, and the futures of the jobs on it.
//!
//! * A job is submitted under the lane's lock: a free slab slot gives the tag, the job's buffers move into the slot,
//!   the SQE goes onto the ring and the SQ doorbell rings.
//! * Completions are taken off the CQ by whoever drives the lane (a notification strategy, see `notify`): each CQE's
//!   tag names a slot, the slot becomes `Done` and its future's waker is woken.
//! * A future dropped before its completion leaves its buffers in the slot as an orphan; the slot is freed when the
//!   CQE arrives or after the queue has been stopped. Dropping never blocks (one short mutex section).
//! * Retiring a lane (reset, removal, time-out) stops the queue first, then fails the pending jobs and releases the
//!   orphans: the device never sees freed memory.

use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Waker;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use tokio::sync::{Semaphore, TryAcquireError};
use uacce_sys::qm::{DriverRing, QmVersion, RingError, Sqe, hpre, sec, zip};

use crate::error::Error;

mod future;
mod owner;

pub(crate) use future::JobFuture;
pub(crate) use owner::{Owner, StreamRelease};

/// What a lane's queue does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Class {
    /// ZIP queue opened with qc_type 0.
    ZipCompress,
    /// ZIP queue opened with qc_type 1.
    ZipDecompress,
    /// SEC queue.
    Sec,
    /// Emulated null-job queue.
    Null,
    /// HPRE queue of type 0: RSA and DH.
    Hpre,
    /// HPRE queue of type 1: ECC (ECDH, ECDSA, SM2, X25519, X448; hw v3).
    HpreEcc,
}

impl Class {
    pub(crate) fn qc_type(self) -> u16 {
        match self {
            Class::ZipDecompress | Class::HpreEcc => 1,
            _ => 0,
        }
    }

    /// The tag of a completed SQE.
    fn tag_of(self, sqe: &Sqe) -> Option<u64> {
        match self {
            Class::ZipCompress | Class::ZipDecompress => {
                zip::ZipSqeType::of(sqe).map(|t| u64::from(zip::read_tag(sqe, t)))
            }
            Class::Sec => Some(sec::read_tag(sqe)),
            Class::Hpre | Class::HpreEcc => Some(hpre::read_result(sqe).tag),
            Class::Null => Some(u64::from(u32::from_le_bytes([
                sqe[0], sqe[1], sqe[2], sqe[3],
            ]))),
        }
    }
}

/// Per-slot scratch memory the device may read (IVs) and write (MACs, tags, hash state) for the job in the slot.
/// Allocated once per slot and reused, so small per-job buffers cost no allocation.
#[repr(C, align(64))]
pub(crate) struct Scratch(pub [u8; SCRATCH_LEN]);
pub(crate) const SCRATCH_LEN: usize = 192;
/// Offsets inside the scratch area.
pub(crate) mod scratch {
    /// IV (16 bytes; GCM uses 12).
    pub const IV: usize = 0;
    /// GCM per-slot IV copy (`a_ivin`, 64 bytes).
    pub const AIV: usize = 64;
    /// MAC / tag / long-hash state (64 bytes).
    pub const MAC: usize = 128;
}

/// Buffers a job owns while the device may touch them. The SQE builder a job hands to [`Lane::submit`] takes the
/// addresses it names from these (or from memory `keep` holds), so what the device reads and writes is what the
/// lane owns until the completion.
#[derive(Default)]
pub(crate) struct Buffers {
    /// Input (read by the device).
    pub input: Option<Bytes>,
    /// Output (written by the device); zero-filled to its length before submission.
    pub output: Option<BytesMut>,
    /// Long-lived memory shared between jobs (keys, stream contexts), kept alive while in flight. Held, not read.
    #[allow(dead_code)]
    pub keep: Option<Arc<dyn Send + Sync>>,
}

impl Buffers {
    /// The input bytes (empty without an input).
    pub(crate) fn input(&self) -> &[u8] {
        self.input.as_deref().unwrap_or_default()
    }

    /// The output area (empty without an output).
    pub(crate) fn output(&self) -> &[u8] {
        self.output.as_deref().unwrap_or_default()
    }
}

/// What a completed job gives back.
pub(crate) struct JobOutput {
    /// The SQE as the device left it (results inside).
    pub sqe: Sqe,
    /// The job's buffers.
    pub bufs: Buffers,
    /// A copy of the slot's scratch MAC area.
    pub mac: [u8; 64],
}

impl JobOutput {
    /// The output buffer the job submitted (empty if it had none).
    pub(crate) fn into_output(self) -> BytesMut {
        self.bufs.output.unwrap_or_default()
    }
}

enum SlotState {
    Free,
    Pending {
        bufs: Buffers,
        waker: Option<Waker>,
        deadline: Option<Instant>,
    },
    Done {
        bufs: Buffers,
        result: Result<Sqe, Error>,
    },
    Orphan {
        _bufs: Buffers,
    },
}

struct Slot {
    state: SlotState,
    scratch: Box<Scratch>,
}

struct State {
    ring: DriverRing,
    slots: Vec<Slot>,
    free: Vec<u16>,
    wake_buf: Vec<Waker>,
    /// While set (the lane's driver is dispatching a batch of completions), submissions push their SQE without
    /// ringing the SQ doorbell; the driver rings once for all of them when it ends the batch (`end_batch`).
    defer_sq: bool,
    /// SQEs pushed but not yet rung.
    unrung: u16,
}

/// Counters of one lane.
#[derive(Debug, Default)]
pub(crate) struct LaneStats {
    pub submitted: AtomicU64,
    pub completed: AtomicU64,
    pub unknown_tags: AtomicU64,
    /// One-shot job outcomes, bytes and backpressure waits (the public statistics).
    pub q: crate::stats::QueueCounters,
}

/// One device queue.
pub(crate) struct Lane {
    pub class: Class,
    pub version: QmVersion,
    pub device: String,
    pub numa_node: Option<u32>,
    /// On a kernel soft device (api `soft_qm_*`), whose HPRE device computes only part of the HPRE codes
    /// (`crate::pkey::soft_hpre_computes`).
    pub soft: bool,
    /// Sleeps on this fd are woken by completions (eventfd, or the queue fd); taken by the notification driver.
    wait_fd: Mutex<Option<OwnedFd>>,
    /// Readable when the queue hangs up (device removed), for drivers whose wait fd is an eventfd (which cannot
    /// tell removal from completion); taken by the notification driver.
    hup_fd: Mutex<Option<OwnedFd>>,
    state: Mutex<State>,
    ring_slots: Semaphore,
    owner: Mutex<Option<Owner>>,
    dead: AtomicBool,
    death: Mutex<Option<Error>>,
    job_timeout: Option<Duration>,
    pub stats: LaneStats,
    /// Exponentially weighted mean service time in ns (for the hybrid strategy's spin window).
    pub service_ewma_ns: AtomicU64,
    /// Measure service times (set by the hybrid strategy's driver; the other strategies do not need them).
    pub track_service: AtomicBool,
    /// Signalled when the lane is retired, so a sleeping driver lets go of it.
    pub retired: tokio::sync::Notify,
    /// The wait fd is an eventfd (its counter must be read to reset it).
    pub wait_is_eventfd: bool,
    /// Wakes the lane's driver when a job with a deadline arrives while the driver sleeps without a timer.
    pub kick: Arc<tokio::sync::Notify>,
    /// True while the driver will see a new job's deadline without a kick: it is awake (it looks at the deadlines
    /// before it sleeps again) or sleeps with a deadline timer (deadlines only grow, so an armed timer fires early
    /// enough). The driver clears it *before* it computes the next deadline and sets it again if it arms a timer;
    /// a submission checks it *after* its job is in the slab, so either the driver's computation sees the job or
    /// the submission sees the flag clear and kicks (both sides go through the state mutex). Without this, every
    /// job submitted while the driver was awake kicked it into one more round (CQ doorbell, deadline scan).
    pub watching_deadlines: AtomicBool,
}

/// Everything a lane is made of besides its ring.
pub(crate) struct LaneSpec {
    pub class: Class,
    pub device: String,
    pub numa_node: Option<u32>,
    pub version: QmVersion,
    /// See [`Lane::soft`].
    pub soft: bool,
    pub owner: Owner,
    /// The fd completions wake (eventfd or queue fd).
    pub wait_fd: OwnedFd,
    pub wait_is_eventfd: bool,
    /// See [`Lane::take_hup_fd`].
    pub hup_fd: Option<OwnedFd>,
    pub job_timeout: Option<Duration>,
    /// See [`Lane::kick`] (shared by all lanes of one io_uring reactor).
    pub kick: Arc<tokio::sync::Notify>,
}

/// Slab size limit: BD2 tags are 16 bits.
const MAX_SLOTS: usize = 0xFFFF;

impl Lane {
    pub(crate) fn new(spec: LaneSpec, ring: DriverRing) -> Arc<Self> {
        let LaneSpec {
            class,
            device,
            numa_node,
            version,
            soft,
            owner,
            wait_fd,
            wait_is_eventfd,
            hup_fd,
            job_timeout,
            kick,
        } = spec;
        let usable = usize::from(ring.layout().sq_depth) - 1;
        Arc::new(Self {
            class,
            version,
            device,
            numa_node,
            soft,
            wait_fd: Mutex::new(Some(wait_fd)),
            hup_fd: Mutex::new(hup_fd),
            state: Mutex::new(State {
                ring,
                slots: Vec::with_capacity(usable * 2),
                free: Vec::with_capacity(usable * 2),
                wake_buf: Vec::with_capacity(64),
                defer_sq: false,
                unrung: 0,
            }),
            ring_slots: Semaphore::new(usable),
            owner: Mutex::new(Some(owner)),
            dead: AtomicBool::new(false),
            death: Mutex::new(None),
            job_timeout,
            stats: LaneStats::default(),
            service_ewma_ns: AtomicU64::new(0),
            track_service: AtomicBool::new(false),
            retired: tokio::sync::Notify::new(),
            wait_is_eventfd,
            kick,
            watching_deadlines: AtomicBool::new(true),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The fd to wait on, once (the notification driver takes it).
    pub(crate) fn take_wait_fd(&self) -> Option<OwnedFd> {
        self.wait_fd
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }

    /// An fd that becomes readable when the queue hangs up, once, if the lane has one (a hardware queue with a
    /// bound eventfd: the removal signals the eventfd like a completion, and only the queue fd says what happened).
    pub(crate) fn take_hup_fd(&self) -> Option<OwnedFd> {
        self.hup_fd.lock().unwrap_or_else(|e| e.into_inner()).take()
    }

    /// What freeing a stream context used on this queue involves.
    pub(crate) fn stream_release(&self) -> StreamRelease {
        self.owner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map_or(StreamRelease::Nothing, Owner::stream_release)
    }

    /// True once retired.
    pub(crate) fn is_dead(&self) -> bool {
        self.dead.load(Ordering::Acquire)
    }

    /// Free ring slots right now (a load hint for queue selection).
    pub(crate) fn free_slots(&self) -> usize {
        self.ring_slots.available_permits()
    }

    /// Jobs on the ring.
    pub(crate) fn in_flight(&self) -> usize {
        usize::from(self.lock().ring.in_flight())
    }

    /// Submit a job: wait for a ring slot (never spinning, never failing for lack of room), then let `build` write
    /// the SQE for the given tag with the slot's scratch memory and the job's buffers, move the buffers into the
    /// slot and ring the doorbell.
    pub(crate) async fn submit<F>(
        self: &Arc<Self>,
        bufs: Buffers,
        build: F,
    ) -> Result<JobFuture, Error>
    where
        F: FnOnce(u32, &mut Scratch, &Buffers) -> Result<Sqe, Error>,
    {
        // The synchronous fast path first: it succeeds exactly when `acquire` would complete at once (tokio hands
        // released permits to queued waiters first, so it cannot overtake them), without building and polling the
        // `Acquire` future.
        let permit = match self.ring_slots.try_acquire() {
            Ok(p) => p,
            Err(TryAcquireError::Closed) => return Err(self.death_error()),
            Err(TryAcquireError::NoPermits) => {
                self.stats.q.waited();
                match self.ring_slots.acquire().await {
                    Ok(p) => p,
                    Err(_) => return Err(self.death_error()),
                }
            }
        };
        let mut st = self.lock();
        if self.is_dead() {
            return Err(self.death_error());
        }
        let tag = match st.free.pop() {
            Some(t) => t,
            None => {
                if st.slots.len() >= MAX_SLOTS {
                    return Err(Error::Device("tag space exhausted".into()));
                }
                st.slots.push(Slot {
                    state: SlotState::Free,
                    scratch: Box::new(Scratch([0; SCRATCH_LEN])),
                });
                (st.slots.len() - 1) as u16
            }
        };
        let slot = &mut st.slots[usize::from(tag)];
        let sqe = match build(u32::from(tag), &mut slot.scratch, &bufs) {
            Ok(v) => v,
            Err(e) => {
                st.free.push(tag);
                return Err(e);
            }
        };
        // The ring takes exactly its queue's SQE size (64 bytes for HPRE): the SQE is the first that many bytes.
        let sqe_len = st.ring.layout().sqe_size.min(sqe.len());
        // SAFETY: the SQE names the job's buffers (`bufs`, heap storage that moving the value does not move) and
        // this slot's scratch (a Box in the slab: stable address, only this tag uses it while the slot is taken).
        // Right after a successful push `bufs` moves into `slots[tag]` as `Pending`, and the lane frees a slot's
        // buffers only (a) when `drain` has consumed the CQE carrying this tag (`Done`, freed by the future or, for
        // an `Orphan` left by a dropped future, by `drain`), or (b) after the queue was stopped: `retire` and `Drop
        // for Lane` stop it (PUT_Q, or closing the emulated queue) before touching the slab, and `retire` leaks the
        // buffers instead of freeing them if the stop failed. Nothing reads or writes a job's buffers while it is
        // `Pending`/`Orphan`. If `push` fails, the SQE was not queued. If the doorbell fails after a successful push,
        // the SQE stays queued: its buffers stay in the slot as an orphan and the lane is retired (below).
        if let Err(e) = unsafe { st.ring.push(&sqe[..sqe_len]) } {
            st.free.push(tag);
            drop(st);
            drop(bufs);
            return Err(self.ring_error(e));
        }
        st.slots[usize::from(tag)].state = SlotState::Pending {
            bufs,
            waker: None,
            deadline: self.job_timeout.map(|t| Instant::now() + t),
        };
        if st.defer_sq {
            // The driver rings the doorbell at the end of its batch (`end_batch`).
            st.unrung += 1;
        } else if let Err(e) = st.ring.ring_sq() {
            // No future will come for this job: its buffers wait in the slot, as a dropped future's do, until the
            // queue is stopped; a queue whose doorbell fails is retired (its state is unknown).
            let slot = &mut st.slots[usize::from(tag)];
            if let SlotState::Pending { bufs, .. } =
                std::mem::replace(&mut slot.state, SlotState::Free)
            {
                slot.state = SlotState::Orphan { _bufs: bufs };
            }
            drop(st);
            permit.forget();
            let err = self.ring_error(e);
            self.retire(err.clone());
            return Err(err);
        }
        drop(st);
        permit.forget();
        self.stats.submitted.fetch_add(1, Ordering::Relaxed);
        // See `watching_deadlines`: kick only a driver that sleeps without a timer (or is about to).
        if self.job_timeout.is_some() && !self.watching_deadlines.load(Ordering::Acquire) {
            self.kick.notify_one();
        }
        Ok(JobFuture {
            lane: self.clone(),
            tag,
            done: false,
            // Only the hybrid strategy uses service times: spare the other modes two clock reads per job.
            submitted: self
                .track_service
                .load(Ordering::Relaxed)
                .then(Instant::now),
        })
    }

    fn ring_error(&self, e: RingError) -> Error {
        let death = match e {
            RingError::QueueReset { .. } => Some(self.classify_death()),
            // A refused doorbell (the soft device's ioctl) on a queue whose device was just removed.
            _ => self.owner_death(),
        };
        match death {
            Some(err) => {
                self.retire(err.clone());
                err
            }
            None => Error::Device(e.to_string()),
        }
    }

    fn owner_death(&self) -> Option<Error> {
        self.owner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .and_then(Owner::death)
    }

    fn classify_death(&self) -> Error {
        self.owner_death().unwrap_or(Error::QueueReset)
    }

    fn death_error(&self) -> Error {
        self.death
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .unwrap_or(Error::Shutdown)
    }

    /// Take every available completion off the CQ and wake its future. Returns how many were taken. Retires the
    /// lane when the device disabled the queue.
    pub(crate) fn drain(&self) -> usize {
        // A retired queue's ring may be unmapped (uacce_remove() zaps the mappings): never touch it again.
        if self.is_dead() {
            return 0;
        }
        let mut st = self.lock();
        let mut wakers = std::mem::take(&mut st.wake_buf);
        let mut n = 0usize;
        let mut reset = false;
        loop {
            match st.ring.pop() {
                Ok(Some(c)) => {
                    n += 1;
                    let slot = self
                        .class
                        .tag_of(&c.sqe)
                        .and_then(|t| usize::try_from(t).ok())
                        .filter(|&t| t < st.slots.len());
                    let Some(t) = slot else {
                        self.unknown_tag(&c.sqe);
                        continue;
                    };
                    // In place: moving the whole slot state out and back costs two copies per job.
                    let State { slots, free, .. } = &mut *st;
                    let slot = &mut slots[t];
                    match &mut slot.state {
                        SlotState::Pending { bufs, waker, .. } => {
                            if let Some(w) = waker.take() {
                                wakers.push(w);
                            }
                            let bufs = std::mem::take(bufs);
                            slot.state = SlotState::Done {
                                bufs,
                                result: Ok(c.sqe),
                            };
                        }
                        SlotState::Orphan { .. } => {
                            slot.state = SlotState::Free;
                            free.push(t as u16);
                        }
                        SlotState::Free | SlotState::Done { .. } => self.unknown_tag(&c.sqe),
                    }
                }
                Ok(None) => break,
                Err(RingError::BadCqe { slot, depth }) => {
                    tracing::warn!(device = %self.device, "CQE names SQ slot {slot} of {depth}; ignored");
                    n += 1;
                }
                Err(RingError::QueueReset { .. }) => {
                    reset = true;
                    break;
                }
                Err(e) => {
                    tracing::warn!(device = %self.device, "ring error while draining: {e}");
                    break;
                }
            }
        }
        if n > 0 && !reset {
            // Release the consumed CQ entries to the device.
            let _ = st.ring.ring_cq(false);
        }
        drop(st);
        if n > 0 {
            self.ring_slots.add_permits(n);
            self.stats.completed.fetch_add(n as u64, Ordering::Relaxed);
        }
        for w in wakers.drain(..) {
            w.wake();
        }
        self.lock().wake_buf = wakers;
        if reset {
            let err = self.classify_death();
            self.retire(err);
        }
        n
    }

    fn unknown_tag(&self, sqe: &Sqe) {
        self.stats.unknown_tags.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(
            device = %self.device,
            tag = ?self.class.tag_of(sqe),
            "completion with an unknown tag; counted and ignored"
        );
    }

    /// Start a batch: until [`Lane::end_batch`], submissions on this lane defer their SQ doorbell.
    pub(crate) fn begin_batch(&self) {
        self.lock().defer_sq = true;
    }

    /// End a batch: ring the SQ doorbell once for every SQE pushed since [`Lane::begin_batch`].
    pub(crate) fn end_batch(&self) {
        let mut st = self.lock();
        st.defer_sq = false;
        // A retired queue's doorbell may be unmapped: its deferred SQEs are failed by `retire`, not rung.
        if st.unrung > 0 && !self.is_dead() {
            st.unrung = 0;
            if let Err(e) = st.ring.ring_sq() {
                drop(st);
                let err = self.ring_error(e);
                tracing::warn!(device = %self.device, "SQ doorbell at the end of a batch failed: {err}");
            }
        }
    }

    /// Ring the CQ doorbell with priority 1 (arm the completion signal), then report whether a completion is
    /// already waiting (the caller must then drain instead of sleeping).
    pub(crate) fn arm(&self) -> bool {
        let mut st = self.lock();
        if self.is_dead() {
            return false;
        }
        let _ = st.ring.ring_cq(true);
        st.ring.has_completion()
    }

    /// True if a completion is waiting (cheap: one load).
    pub(crate) fn has_completion(&self) -> bool {
        !self.is_dead() && self.lock().ring.has_completion()
    }

    /// The earliest job deadline, if a job timeout is configured and jobs are pending.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.job_timeout?;
        let st = self.lock();
        st.slots
            .iter()
            .filter_map(|s| match s.state {
                SlotState::Pending { deadline, .. } => deadline,
                _ => None,
            })
            .min()
    }

    /// Retire the lane if a pending job is past its deadline. Returns true if it did.
    pub(crate) fn expire(&self, now: Instant) -> bool {
        match (self.next_deadline(), self.job_timeout) {
            (Some(d), Some(t)) if d <= now => {
                tracing::warn!(device = %self.device, "a job exceeded the {t:?} job timeout; retiring its queue");
                self.retire(Error::Timeout(t));
                true
            }
            _ => false,
        }
    }

    /// Called by a notification driver that saw the fd report an error or hang-up (device removed with the
    /// patched kernel).
    pub(crate) fn hung_up(&self) {
        if !self.is_dead() {
            let err = self.classify_death();
            let err = if matches!(err, Error::QueueReset) {
                Error::DeviceRemoved
            } else {
                err
            };
            self.retire(err);
        }
    }

    /// Stop the queue, then fail every pending job with `err` and free the orphans. Idempotent.
    pub(crate) fn retire(&self, err: Error) {
        if self.dead.swap(true, Ordering::AcqRel) {
            return;
        }
        if matches!(err, Error::Shutdown) {
            tracing::debug!(device = %self.device, class = ?self.class, "closing queue: the accelerator was dropped");
        } else {
            tracing::warn!(device = %self.device, class = ?self.class, "retiring queue: {err}");
        }
        *self.death.lock().unwrap_or_else(|e| e.into_inner()) = Some(err.clone());
        // 1. Stop the queue: after this the device touches no job memory. If it could not be stopped, the jobs'
        // buffers are leaked below rather than freed under a device that may still write them.
        let owner = self.owner.lock().unwrap_or_else(|e| e.into_inner()).take();
        let stopped = owner.is_none_or(Owner::stop);
        if !stopped {
            tracing::error!(device = %self.device, "leaking the buffers of the jobs on a queue that could not be stopped");
        }
        // 2. Fail pending jobs, release orphans.
        let mut wakers = Vec::new();
        let mut graveyard = Vec::new();
        {
            let mut st = self.lock();
            let st = &mut *st;
            for (i, slot) in st.slots.iter_mut().enumerate() {
                match std::mem::replace(&mut slot.state, SlotState::Free) {
                    SlotState::Pending { bufs, waker, .. } => {
                        let bufs = if stopped {
                            bufs
                        } else {
                            std::mem::forget(bufs);
                            Buffers::default()
                        };
                        slot.state = SlotState::Done {
                            bufs,
                            result: Err(err.clone()),
                        };
                        wakers.extend(waker);
                    }
                    SlotState::Orphan { _bufs } => {
                        if stopped {
                            graveyard.push(_bufs);
                        } else {
                            std::mem::forget(_bufs);
                        }
                        st.free.push(i as u16);
                    }
                    other => slot.state = other,
                }
            }
        }
        drop(graveyard);
        // 3. Wake submitters waiting for a slot: they get the death error and go elsewhere; let the driver go.
        self.ring_slots.close();
        self.retired.notify_one();
        for w in wakers {
            w.wake();
        }
    }

    /// Record a completion's service time (submit → completion seen).
    fn observe(&self, d: Duration) {
        let ns = d.as_nanos().min(u128::from(u64::MAX)) as u64;
        let old = self.service_ewma_ns.load(Ordering::Relaxed);
        let new = if old == 0 { ns } else { old - old / 8 + ns / 8 };
        self.service_ewma_ns.store(new, Ordering::Relaxed);
    }
}

impl Drop for Lane {
    fn drop(&mut self) {
        // Stop the queue before the slab (and any orphaned buffers in it) is freed.
        let owner = self
            .owner
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(o) = owner
            && !o.stop()
        {
            // The slab's buffers may still be written by the device: leak them rather than free them.
            let slots = std::mem::take(
                &mut self
                    .state
                    .get_mut()
                    .unwrap_or_else(|e| e.into_inner())
                    .slots,
            );
            std::mem::forget(slots);
        }
    }
}
