//! The guest tests' queue: `uacce_sys::queue::Queue` (open/mmap/start/put, eventfd bind, soft doorbell ioctl) driven
//! by `uacce_sys::qm::DriverRing` (SQ producer, CQ consumer). SQEs are built with `uacce_sys::qm::{zip, sec}`.
//!
//! Raw ioctls (with `uacce_sys::uapi` numbers) are kept for the negative tests, which need arguments the typed API
//! does not allow (flags != 0, bad fds, doorbells before START_Q or after removal).

use std::fs;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};

use nix::errno::Errno;
use nix::sys::eventfd::{EfdFlags, EventFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

use uacce_sys::qm::{
    encode_doorbell, DoorbellCmd, DoorbellFields, DriverRing, DusMemory, QmVersion, RingLayout, Sqe,
};
use uacce_sys::queue::Queue as SysQueue;
use uacce_sys::sysfs::Sysfs;
use uacce_sys::uapi;

pub const UACCE_CMD_START_Q: u64 = uapi::UACCE_CMD_START_Q as u64;
pub const UACCE_CMD_PUT_Q: u64 = uapi::UACCE_CMD_PUT_Q as u64;
pub const UACCE_CMD_SET_EVENTFD: u64 = uapi::UACCE_CMD_SET_EVENTFD as u64;
pub const UACCE_SOFT_CMD_DOORBELL: u64 = uapi::UACCE_SOFT_CMD_DOORBELL as u64;

/// The soft devices speak QM v2 (api `soft_qm_v2`): BD type 2, ZIP SQE type 0 (type 3 for raw deflate).
pub const VERSION: QmVersion = QmVersion::V2;

pub fn page_size() -> usize {
    uacce_sys::qm::ring::page_size()
}

pub fn sysfs_attr(dev: &str, attr: &str) -> io::Result<String> {
    Ok(fs::read_to_string(format!("/sys/class/uacce/{dev}/{attr}"))?.trim().to_string())
}

/// Names under /sys/class/uacce starting with `prefix`, sorted.
pub fn devices(prefix: &str) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir("/sys/class/uacce")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(prefix))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// An ioctl with a null argument, any `cmd`: through a null pointer the kernel reads and writes no memory of ours.
pub fn ioctl_null(fd: BorrowedFd<'_>, cmd: u64) -> io::Result<i32> {
    // SAFETY: `fd` is open for the call (borrowed); with a null argument no command can touch our memory.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), cmd as _, std::ptr::null_mut::<libc::c_void>()) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// `UACCE_SOFT_CMD_DOORBELL` with any value (no client-side checks), for the negative tests.
pub fn doorbell_raw(fd: BorrowedFd<'_>, v: u64) -> io::Result<()> {
    let mut v = v;
    // SAFETY: `fd` is open for the call; UACCE_SOFT_CMD_DOORBELL reads one u64 through its argument, which points
    // to `v`, and writes nothing.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), UACCE_SOFT_CMD_DOORBELL as _, &mut v as *mut u64) };
    if r < 0 { Err(io::Error::last_os_error()) } else { Ok(()) }
}

/// `UACCE_CMD_SET_EVENTFD` with any fd and flags (the typed API is `bind_eventfd`/`unbind_eventfd`).
pub fn set_eventfd_raw(fd: BorrowedFd<'_>, efd: i32, flags: u32) -> io::Result<()> {
    let mut a = uapi::UacceEventfd { fd: efd, flags };
    // SAFETY: `fd` is open for the call; UACCE_CMD_SET_EVENTFD reads one `struct uacce_eventfd` (which UacceEventfd
    // mirrors, checked by uacce-sys's uapi tests) through its argument, which points to `a`, and writes nothing.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), UACCE_CMD_SET_EVENTFD as _, &mut a as *mut uapi::UacceEventfd) };
    if r < 0 { Err(io::Error::last_os_error()) } else { Ok(()) }
}

/// A v2 doorbell value (`uacce_sys::qm::encode_doorbell`); `cmd` 0 SQ, 1 CQ, 2 EQ, 3 AEQ.
pub fn doorbell_value(sqn: u16, cmd: u8, index: u16, prio: u16) -> u64 {
    let cmd = match cmd {
        0 => DoorbellCmd::Sq,
        1 => DoorbellCmd::Cq,
        2 => DoorbellCmd::Eq,
        _ => DoorbellCmd::Aeq,
    };
    encode_doorbell(VERSION, DoorbellFields { sqn, cmd, index, priority: prio }).expect("sqn fits the v2 doorbell")
}

pub fn eventfd() -> io::Result<OwnedFd> {
    let efd = EventFd::from_value_and_flags(0, EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK)?;
    Ok(efd.into())
}

/// Non-blocking read of an eventfd counter: 0 if nothing was signalled.
pub fn eventfd_take(fd: impl AsFd) -> io::Result<u64> {
    let mut v = [0u8; 8];
    match nix::unistd::read(fd, &mut v) {
        Ok(8) => Ok(u64::from_ne_bytes(v)),
        Ok(n) => Err(io::Error::other(format!("eventfd read {n} bytes"))),
        Err(Errno::EAGAIN) => Ok(0),
        Err(e) => Err(e.into()),
    }
}

/// poll() one fd; returns revents (0 on time-out).
pub fn poll1(fd: RawFd, events: i16, timeout: Duration) -> io::Result<i16> {
    // Raw fds: the waiters are threads that outlive no borrow. poll() is sound for any fd value (one that is not
    // open is reported as POLLNVAL).
    let mut p = libc::pollfd { fd, events, revents: 0 };
    // SAFETY: `p` is one valid, writable pollfd for the duration of the call, and nfds is 1.
    let r = unsafe { libc::poll(&mut p, 1, timeout.as_millis() as i32) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(if r == 0 { 0 } else { p.revents })
}

fn ring_err(e: uacce_sys::qm::RingError) -> io::Error {
    match e {
        uacce_sys::qm::RingError::DoorbellIo(e) => e,
        uacce_sys::qm::RingError::Timeout(_) => io::Error::new(io::ErrorKind::TimedOut, e),
        e => io::Error::other(e),
    }
}

/// An open queue of a soft device with its DUS mapped, and the driver side of its QM ring.
pub struct Queue {
    q: Arc<SysQueue>,
    ring: DriverRing,
    pub depth: u16,
    pub qid: u16,
}

impl Queue {
    /// Open `/dev/<dev>`, set the queue type, map the DUS region and start it (`Queue::open_and_start`).
    pub fn open(dev: &str, qc_type: u16) -> io::Result<Queue> {
        let d = Sysfs::new().device(dev).map_err(io::Error::other)?;
        let q = SysQueue::open_and_start(&d, qc_type)?;
        Self::wrap(q)
    }

    /// The same without `UACCE_CMD_START_Q`.
    pub fn open_unstarted(dev: &str, qc_type: u16) -> io::Result<Queue> {
        let d = Sysfs::new().device(dev).map_err(io::Error::other)?;
        let mut q = SysQueue::open(&d)?;
        q.set_qp_ctx(qc_type)?;
        q.qp_info().ok_or_else(|| io::Error::other("UACCE_CMD_QM_SET_QP_INFO failed"))?;
        q.map_dus()?;
        Self::wrap(q)
    }

    /// A started queue of a soft HPRE device (`soft_qm_v3`, 64-byte SQEs): `qc_type` 0 RSA/DH, 1 ECC.
    pub fn open_hpre(dev: &str, qc_type: u16) -> io::Result<Queue> {
        let d = Sysfs::new().device(dev).map_err(io::Error::other)?;
        let q = SysQueue::open_and_start(&d, qc_type)?;
        Self::wrap_as(q, uacce_sys::qm::HPRE_SQE_SIZE, QmVersion::V3)
    }

    fn wrap(q: SysQueue) -> io::Result<Queue> {
        Self::wrap_as(q, uacce_sys::qm::SQE_SIZE, VERSION)
    }

    fn wrap_as(q: SysQueue, sqe_size: usize, version: QmVersion) -> io::Result<Queue> {
        if q.sqe_size() as usize != sqe_size
            || q.sq_depth() != q.cq_depth()
            || q.kernel_qp_info().is_none()
            || q.version() != version
        {
            return Err(io::Error::other("unexpected qp info"));
        }
        let q = Arc::new(q);
        let qid = q.sqn().ok_or_else(|| io::Error::other("no sqn"))?;
        // The SQE size the kernel reported (SET_QP_INFO)
        let layout = RingLayout::for_queue(&q).map_err(io::Error::other)?;
        if layout.dus_size() != q.dus_mapped_len() {
            return Err(io::Error::other(format!("DUS {} bytes, layout wants {}", q.dus_mapped_len(), layout.dus_size())));
        }
        let ring = DriverRing::new(q.clone(), layout, q.clone(), version, qid).map_err(io::Error::other)?;
        Ok(Queue { depth: q.sq_depth(), qid, q, ring })
    }

    pub fn sys(&self) -> &SysQueue {
        &self.q
    }

    pub fn fd(&self) -> RawFd {
        self.q.as_raw_fd()
    }

    /// An ioctl with a null argument ([`ioctl_null`]).
    pub fn ioctl(&self, cmd: u64) -> io::Result<i32> {
        ioctl_null(self.q.as_fd(), cmd)
    }

    /// A doorbell through the raw ioctl (no client-side state checks), for the negative tests.
    pub fn doorbell(&self, v: u64) -> io::Result<()> {
        doorbell_raw(self.q.as_fd(), v)
    }

    /// `UACCE_CMD_SET_EVENTFD` with any fd and flags (the typed API is `bind_eventfd`/`unbind_eventfd`).
    pub fn set_eventfd(&self, fd: i32, flags: u32) -> io::Result<()> {
        set_eventfd_raw(self.q.as_fd(), fd, flags)
    }

    /// The raw RX (end − 8) and TX (end − 4) status words; the soft device leaves both 0.
    pub fn status_words(&self) -> (u32, u32) {
        let (p, len) = (self.q.as_ptr(), self.q.len());
        assert!(len >= 8 && len.is_multiple_of(4));
        // SAFETY: both words are in bounds (len >= 8) and aligned (the mapping is page-aligned, len a multiple of 4)
        // of the DUS mapping, which lives as long as self.q; volatile because the device writes them.
        unsafe {
            (
                u32::from_le(std::ptr::read_volatile(p.add(len - 8) as *const u32)),
                u32::from_le(std::ptr::read_volatile(p.add(len - 4) as *const u32)),
            )
        }
    }

    /// The u32 at byte `off` of the DUS mapping (what a removed queue's mapping holds).
    pub fn dus_u32(&self, off: usize) -> u32 {
        let (p, len) = (self.q.as_ptr(), self.q.len());
        assert!(off.is_multiple_of(4) && off + 4 <= len);
        // SAFETY: in bounds and aligned (checked above) of the DUS mapping, which lives as long as self.q
        unsafe { std::ptr::read_volatile(p.add(off) as *const u32) }
    }

    /// Store `v` at byte `off` of the DUS mapping.
    pub fn set_dus_u32(&self, off: usize, v: u32) {
        let (p, len) = (self.q.as_ptr(), self.q.len());
        assert!(off.is_multiple_of(4) && off + 4 <= len);
        // SAFETY: as in dus_u32; the region is mapped read/write and only accessed through raw pointers
        unsafe { std::ptr::write_volatile(p.add(off) as *mut u32, v) }
    }

    pub fn in_flight(&self) -> usize {
        usize::from(self.ring.in_flight())
    }

    /// Copy an SQE into the ring at the tail and ring the SQ doorbell. Returns the slot.
    ///
    /// # Safety
    /// `DriverRing::submit`'s contract: every buffer `sqe` names stays valid (allocated, not moved) and is not
    /// otherwise accessed (no reads of output buffers, no writes of input buffers) until this SQE's completion has
    /// been consumed ([`pop`](Self::pop) / [`wait_pop`](Self::wait_pop) returned it) or the queue has been stopped
    /// ([`put`](Self::put), or the queue closed). An error does not prove the SQE was not queued.
    pub unsafe fn submit(&mut self, sqe: &Sqe) -> io::Result<u16> {
        // The queue's SQE size (64 on HPRE): the rest of the ring-sized buffer is not the SQE's.
        let n = self.ring.layout().sqe_size;
        // SAFETY: our caller makes `DriverRing::submit`'s promise (this function's contract is the same).
        unsafe { self.ring.submit(&sqe[..n]) }.map_err(ring_err)
    }

    /// Is a CQE with the expected phase waiting at the head?
    pub fn has_completion(&self) -> bool {
        self.ring.has_completion()
    }

    /// Consume one CQE if present: returns the SQ slot it names and a copy of the SQE (with the results).
    /// Rings the CQ doorbell (priority 0).
    pub fn pop(&mut self) -> io::Result<Option<(u16, Sqe)>> {
        match self.ring.pop().map_err(ring_err)? {
            Some(c) => {
                self.ring.ring_cq(false).map_err(ring_err)?;
                Ok(Some((c.slot, c.sqe)))
            }
            None => Ok(None),
        }
    }

    /// Arm the completion signal: a CQ doorbell with priority 1 at the current head.
    pub fn arm(&mut self) -> io::Result<()> {
        self.ring.ring_cq(true).map_err(ring_err)
    }

    /// Wait (with short sleeps) for one completion.
    pub fn wait_pop(&mut self, timeout: Duration) -> io::Result<Sqe> {
        let t = Instant::now();
        loop {
            if let Some((_, sqe)) = self.pop()? {
                return Ok(sqe);
            }
            if t.elapsed() > timeout {
                return Err(io::Error::new(io::ErrorKind::TimedOut, "no completion"));
            }
            std::thread::sleep(Duration::from_micros(200));
        }
    }

    /// Submit one SQE and wait for its completion (`DriverRing::run_blocking`).
    ///
    /// With one job in flight, `Ok` means this SQE's completion was consumed. On an error (a time-out, a reset) the
    /// job may still be in flight: the queue is then stopped (`UACCE_CMD_PUT_Q`) before this returns, so the caller
    /// may free the buffers either way, and the queue is unusable afterwards.
    ///
    /// # Safety
    /// As for [`submit`](Self::submit), until this returns: every buffer `sqe` names stays valid and is not
    /// otherwise accessed, and no other job is in flight on this queue (else the completion taken may be another
    /// job's). If stopping the queue fails too, the promise stands until the queue is closed.
    pub unsafe fn run(&mut self, sqe: &Sqe) -> io::Result<Sqe> {
        let n = self.ring.layout().sqe_size;
        // SAFETY: our caller makes `DriverRing::run_blocking`'s promise until we return; on the error path the queue
        // is stopped first, which ends the promise.
        match unsafe { self.ring.run_blocking(&sqe[..n], Duration::from_secs(20)) } {
            Ok(c) => Ok(c.sqe),
            Err(e) => {
                let _ = self.q.put();
                Err(ring_err(e))
            }
        }
    }

    pub fn put(&self) -> io::Result<()> {
        self.q.put().map_err(io::Error::from)
    }
}
