//! TEMPORARY: uapi constants, a uacce queue and a minimal QM ring driver, written directly on libc.
//!
//! Replace with `uacce_sys::{uapi, sysfs, queue, qm}` once branch `edge` (uapi/sysfs/queue) and the QM ring from
//! `main` are merged into `kernel`; at the time of writing `uacce-sys` only had empty modules.

use std::ffi::CString;
use std::fs;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::ptr;
use std::sync::atomic::{fence, Ordering};
use std::time::{Duration, Instant};

const fn ioc(dir: u64, ty: u8, nr: u8, size: u64) -> u64 {
    (dir << 30) | (size << 16) | ((ty as u64) << 8) | nr as u64
}
const IOC_WRITE: u64 = 1;

pub const UACCE_CMD_START_Q: u64 = ioc(0, b'W', 0, 0);
pub const UACCE_CMD_PUT_Q: u64 = ioc(0, b'W', 1, 0);
/// `_IOW('W', 4, struct uacce_eventfd)` from the patch series.
pub const UACCE_CMD_SET_EVENTFD: u64 = ioc(IOC_WRITE, b'W', 4, 8);
pub const UACCE_CMD_QM_SET_QP_CTX: u64 = 0xC004_480A;
pub const UACCE_CMD_QM_SET_QP_INFO: u64 = 0xC010_480B;
/// `_IOW('S', 0, __u64)`: the soft device's doorbell.
pub const UACCE_SOFT_CMD_DOORBELL: u64 = ioc(IOC_WRITE, b'S', 0, 8);

pub const SQE_SIZE: usize = 128;
pub const CQE_SIZE: usize = 16;

#[repr(C)]
#[derive(Default)]
struct QpCtx {
    id: u16,
    qc_type: u16,
}

#[repr(C)]
#[derive(Default)]
struct QpInfo {
    sqe_size: u32,
    sq_depth: u16,
    cq_depth: u16,
    reserved: u64,
}

#[repr(C)]
pub struct UacceEventfd {
    pub fd: i32,
    pub flags: u32,
}

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

/// An open, started queue of a soft device with its DUS mapped, and the driver side of its QM ring.
pub struct Queue {
    fd: OwnedFd,
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
    /// Open `/dev/<dev>`, map the DUS region, set the queue type and start it.
    pub fn open(dev: &str, qc_type: u16) -> io::Result<Queue> {
        let q = Self::open_unstarted(dev, qc_type)?;
        q.ioctl(UACCE_CMD_START_Q, ptr::null_mut())?;
        Ok(q)
    }

    pub fn open_unstarted(dev: &str, qc_type: u16) -> io::Result<Queue> {
        let path = CString::new(format!("/dev/{dev}")).unwrap();
        let fd = unsafe { libc::open(path.as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let dus_size: usize = sysfs_attr(dev, "region_dus_size")?
            .parse()
            .map_err(|_| io::Error::other("bad region_dus_size"))?;
        let dus = unsafe {
            libc::mmap(
                ptr::null_mut(),
                dus_size,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                page_size() as libc::off_t,
            )
        };
        if dus == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let mut q = Queue {
            fd,
            dus: dus as *mut u8,
            dus_size,
            depth: 0,
            qid: 0,
            sq_tail: 0,
            cq_head: 0,
            phase: 1,
            in_flight: 0,
        };
        let mut ctx = QpCtx { id: 0, qc_type };
        q.ioctl(UACCE_CMD_QM_SET_QP_CTX, &mut ctx as *mut _ as *mut _)?;
        let mut info = QpInfo::default();
        q.ioctl(UACCE_CMD_QM_SET_QP_INFO, &mut info as *mut _ as *mut _)?;
        if info.sqe_size as usize != SQE_SIZE || info.sq_depth != info.cq_depth {
            return Err(io::Error::other("unexpected qp info"));
        }
        q.qid = ctx.id;
        q.depth = info.sq_depth;
        Ok(q)
    }

    pub fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    pub fn ioctl(&self, cmd: u64, arg: *mut libc::c_void) -> io::Result<i32> {
        ioctl_raw(self.fd.as_raw_fd(), cmd, arg)
    }

    pub fn doorbell(&self, v: u64) -> io::Result<()> {
        let mut v = v;
        self.ioctl(UACCE_SOFT_CMD_DOORBELL, &mut v as *mut u64 as *mut _).map(|_| ())
    }

    pub fn set_eventfd(&self, fd: i32, flags: u32) -> io::Result<()> {
        let mut a = UacceEventfd { fd, flags };
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
        self.doorbell(doorbell_value(self.qid, 0, self.sq_tail, 0))?;
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
        self.doorbell(doorbell_value(self.qid, 1, self.cq_head, 0))?;
        Ok(Some((slot, sqe)))
    }

    /// Arm the completion signal: a CQ doorbell with priority 1 at the current head.
    pub fn arm(&self) -> io::Result<()> {
        self.doorbell(doorbell_value(self.qid, 1, self.cq_head, 1))
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
        self.ioctl(UACCE_CMD_PUT_Q, ptr::null_mut()).map(|_| ())
    }
}

impl Drop for Queue {
    fn drop(&mut self) {
        // Teardown order: stop the queue (close does it) before the mapping goes; munmap then close is fine
        // for the soft device because the worker never touches user mappings of the DUS.
        let _ = self.put();
        unsafe { libc::munmap(self.dus as *mut libc::c_void, self.dus_size) };
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
