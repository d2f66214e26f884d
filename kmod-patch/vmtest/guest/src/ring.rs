//! The guest tests' queue: `uacce_sys::queue::Queue` (uapi, sysfs discovery, open/mmap/start/put, eventfd bind,
//! doorbell; branch `edge`, merged) plus a minimal QM driver ring (SQ producer, CQ consumer) on its DUS memory.
//!
//! TEMPORARY: the ring part stands in for `uacce_sys::qm`'s driver ring, which lives on branch `main` and is not
//! merged into `kernel` yet. Raw ioctls (with `uacce_sys::uapi` numbers) are kept for the negative tests, which
//! need arguments the typed API does not allow (flags != 0, bad fds, doorbells before START_Q).

use std::fs;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::ptr;
use std::sync::atomic::{fence, Ordering};
use std::time::{Duration, Instant};

use uacce_sys::qm::{Doorbell, DusMemory};
use uacce_sys::queue::Queue as SysQueue;
use uacce_sys::sysfs::Sysfs;
use uacce_sys::uapi;

pub const UACCE_CMD_START_Q: u64 = uapi::UACCE_CMD_START_Q as u64;
pub const UACCE_CMD_PUT_Q: u64 = uapi::UACCE_CMD_PUT_Q as u64;
pub const UACCE_CMD_SET_EVENTFD: u64 = uapi::UACCE_CMD_SET_EVENTFD as u64;
pub const UACCE_SOFT_CMD_DOORBELL: u64 = uapi::UACCE_SOFT_CMD_DOORBELL as u64;

pub const SQE_SIZE: usize = uacce_sys::qm::SQE_SIZE;
pub const CQE_SIZE: usize = uacce_sys::qm::CQE_SIZE;

pub fn page_size() -> usize {
    unsafe { libc::sysconf(libc::_SC_PAGESIZE) as usize }
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

pub fn ioctl_raw(fd: RawFd, cmd: u64, arg: *mut libc::c_void) -> io::Result<i32> {
    let r = unsafe { libc::ioctl(fd, cmd as _, arg) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

pub fn doorbell_value(sqn: u16, cmd: u8, index: u16, prio: u16) -> u64 {
    (sqn as u64 & 0xfff) | ((cmd as u64 & 0xf) << 12) | ((index as u64) << 32) | ((prio as u64) << 48)
}

pub fn eventfd() -> io::Result<OwnedFd> {
    let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Non-blocking read of an eventfd counter: 0 if nothing was signalled.
pub fn eventfd_take(fd: RawFd) -> io::Result<u64> {
    let mut v = 0u64;
    let r = unsafe { libc::read(fd, &mut v as *mut u64 as *mut libc::c_void, 8) };
    if r == 8 {
        return Ok(v);
    }
    let e = io::Error::last_os_error();
    if e.raw_os_error() == Some(libc::EAGAIN) {
        Ok(0)
    } else {
        Err(e)
    }
}

/// poll() one fd; returns revents (0 on time-out).
pub fn poll1(fd: RawFd, events: i16, timeout: Duration) -> io::Result<i16> {
    let mut p = libc::pollfd { fd, events, revents: 0 };
    let r = unsafe { libc::poll(&mut p, 1, timeout.as_millis() as i32) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(if r == 0 { 0 } else { p.revents })
}

/// An open queue of a soft device with its DUS mapped, and the driver side of its QM ring.
pub struct Queue {
    q: SysQueue,
    dus: *mut u8,
    dus_size: usize,
    pub depth: u16,
    pub qid: u16,
    sq_tail: u16,
    cq_head: u16,
    phase: u16,
    pub in_flight: usize,
}

unsafe impl Send for Queue {}

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

    fn wrap(q: SysQueue) -> io::Result<Queue> {
        if q.sqe_size() as usize != SQE_SIZE || q.sq_depth() != q.cq_depth() || q.kernel_qp_info().is_none() {
            return Err(io::Error::other("unexpected qp info"));
        }
        Ok(Queue {
            dus: q.as_ptr(),
            dus_size: q.dus_mapped_len(),
            depth: q.sq_depth(),
            qid: q.sqn().ok_or_else(|| io::Error::other("no sqn"))?,
            q,
            sq_tail: 0,
            cq_head: 0,
            phase: 1,
            in_flight: 0,
        })
    }

    pub fn sys(&self) -> &SysQueue {
        &self.q
    }

    pub fn fd(&self) -> RawFd {
        self.q.as_raw_fd()
    }

    pub fn ioctl(&self, cmd: u64, arg: *mut libc::c_void) -> io::Result<i32> {
        ioctl_raw(self.fd(), cmd, arg)
    }

    /// A doorbell through the raw ioctl (no client-side state checks), for the negative tests.
    pub fn doorbell(&self, v: u64) -> io::Result<()> {
        let mut v = v;
        self.ioctl(UACCE_SOFT_CMD_DOORBELL, &mut v as *mut u64 as *mut _).map(|_| ())
    }

    /// `UACCE_CMD_SET_EVENTFD` with any fd and flags (the typed API is `bind_eventfd`/`unbind_eventfd`).
    pub fn set_eventfd(&self, fd: i32, flags: u32) -> io::Result<()> {
        let mut a = uapi::UacceEventfd { fd, flags };
        self.ioctl(UACCE_CMD_SET_EVENTFD, &mut a as *mut _ as *mut _).map(|_| ())
    }

    pub fn status_words(&self) -> (u32, u32) {
        unsafe {
            let rx = ptr::read_volatile(self.dus.add(self.dus_size - 8) as *const u32);
            let tx = ptr::read_volatile(self.dus.add(self.dus_size - 4) as *const u32);
            (rx, tx)
        }
    }

    fn sqe_ptr(&self, slot: u16) -> *mut u8 {
        unsafe { self.dus.add(slot as usize * SQE_SIZE) }
    }

    fn cqe_ptr(&self, i: u16) -> *mut u8 {
        unsafe { self.dus.add(self.depth as usize * SQE_SIZE + i as usize * CQE_SIZE) }
    }

    /// Copy an SQE into the ring at the tail and ring the SQ doorbell. Returns the slot.
    pub fn submit(&mut self, sqe: &[u8; SQE_SIZE]) -> io::Result<u16> {
        if self.in_flight >= self.depth as usize - 1 {
            return Err(io::Error::other("SQ full"));
        }
        let slot = self.sq_tail;
        unsafe { ptr::copy_nonoverlapping(sqe.as_ptr(), self.sqe_ptr(slot), SQE_SIZE) };
        fence(Ordering::SeqCst);
        self.sq_tail = (slot + 1) % self.depth;
        self.q.ring(doorbell_value(self.qid, 0, self.sq_tail, 0))?;
        self.in_flight += 1;
        Ok(slot)
    }

    /// Is a CQE with the expected phase waiting at the head?
    pub fn has_completion(&self) -> bool {
        let w7 = unsafe { ptr::read_volatile(self.cqe_ptr(self.cq_head).add(14) as *const u16) };
        u16::from_le(w7) & 1 == self.phase
    }

    /// Consume one CQE if present: returns the SQ slot it names and a copy of the SQE (with the results).
    /// Rings the CQ doorbell (priority 0).
    pub fn pop(&mut self) -> io::Result<Option<(u16, [u8; SQE_SIZE])>> {
        if !self.has_completion() {
            return Ok(None);
        }
        fence(Ordering::Acquire);
        let cqe = self.cqe_ptr(self.cq_head);
        let slot = u16::from_le(unsafe { ptr::read_volatile(cqe.add(8) as *const u16) });
        if slot >= self.depth {
            return Err(io::Error::other(format!("CQE names slot {slot}")));
        }
        let mut sqe = [0u8; SQE_SIZE];
        unsafe { ptr::copy_nonoverlapping(self.sqe_ptr(slot), sqe.as_mut_ptr(), SQE_SIZE) };
        if self.cq_head == self.depth - 1 {
            self.cq_head = 0;
            self.phase ^= 1;
        } else {
            self.cq_head += 1;
        }
        self.in_flight = self.in_flight.saturating_sub(1);
        self.q.ring(doorbell_value(self.qid, 1, self.cq_head, 0))?;
        Ok(Some((slot, sqe)))
    }

    /// Arm the completion signal: a CQ doorbell with priority 1 at the current head.
    pub fn arm(&self) -> io::Result<()> {
        self.q.ring(doorbell_value(self.qid, 1, self.cq_head, 1))
    }

    /// Busy-wait (with short sleeps) for one completion.
    pub fn wait_pop(&mut self, timeout: Duration) -> io::Result<[u8; SQE_SIZE]> {
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

    /// Submit one SQE and wait for its completion.
    pub fn run(&mut self, sqe: &[u8; SQE_SIZE]) -> io::Result<[u8; SQE_SIZE]> {
        self.submit(sqe)?;
        self.wait_pop(Duration::from_secs(20))
    }

    pub fn put(&self) -> io::Result<()> {
        self.q.put().map_err(io::Error::from)
    }
}

pub fn sqe_dw(sqe: &[u8], dw: usize) -> u32 {
    u32::from_le_bytes(sqe[4 * dw..4 * dw + 4].try_into().unwrap())
}

pub fn set_dw(sqe: &mut [u8], dw: usize, v: u32) {
    sqe[4 * dw..4 * dw + 4].copy_from_slice(&v.to_le_bytes());
}

pub fn set_u64(sqe: &mut [u8], off: usize, v: u64) {
    sqe[off..off + 8].copy_from_slice(&v.to_le_bytes());
}
