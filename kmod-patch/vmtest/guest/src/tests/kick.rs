//! uacce_soft's fast doorbell path: doorbell values stored into the MMIO register page (`UACCE_SOFT_REG_SQ_DB`,
//! `_CQ_DB`, `_CQ_ARM`) and noticed through the queue's kick eventfd (`UACCE_SOFT_CMD_SET_KICK`), which the kernel
//! hooks like KVM's irqfd (no uacce lock on the way). uacce-sys's `Queue::open_and_start` binds it, so every other
//! patched test that runs jobs goes through it; these tests check the path itself with raw registers.

use super::*;
use uacce_sys::uapi::{
    UACCE_SOFT_CMD_SET_KICK, UACCE_SOFT_REG_CQ_ARM, UACCE_SOFT_REG_CQ_DB, UACCE_SOFT_REG_DB_ERRORS,
    UACCE_SOFT_REG_SQ_DB,
};

/// `UACCE_SOFT_CMD_SET_KICK` with any fd.
fn set_kick_raw(fd: RawFd, kick: i32) -> std::io::Result<()> {
    let mut k = kick;
    // SAFETY: `fd` is a descriptor of ours for the call; the ioctl reads one i32 through its argument, which points to
    // `k`, and writes nothing.
    let r = unsafe { libc::ioctl(fd, UACCE_SOFT_CMD_SET_KICK as _, &mut k as *mut i32) };
    if r < 0 { Err(std::io::Error::last_os_error()) } else { Ok(()) }
}

/// A queue set up without uacce-sys's MMIO mapping (so that the test can map the register page itself): DUS mapped,
/// started, no kick bound.
struct RawKickQueue {
    q: uacce_sys::queue::Queue,
    regs: *mut u8,
}

impl RawKickQueue {
    fn open(dev: &str) -> Result<RawKickQueue, String> {
        let d = uacce_sys::sysfs::Sysfs::new().device(dev).map_err(|e| e.to_string())?;
        let mut q = uacce_sys::queue::Queue::open(&d).map_err(|e| e.to_string())?;
        q.set_qp_ctx(0).map_err(|e| e.to_string())?;
        q.qp_info().ok_or("UACCE_CMD_QM_SET_QP_INFO failed")?;
        q.map_dus().map_err(|e| e.to_string())?;
        // SAFETY: a new shared mapping of the queue's MMIO region at an address the kernel picks replaces nothing of
        // ours; it is unmapped in Drop, before the queue (declared first) closes its fd.
        let m = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                page_size(),
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                q.as_raw_fd(),
                0,
            )
        };
        if m == libc::MAP_FAILED {
            return Err(format!("mmap MMIO: {}", std::io::Error::last_os_error()));
        }
        q.start().map_err(|e| e.to_string())?;
        Ok(RawKickQueue { q, regs: m.cast() })
    }

    fn qid(&self) -> u16 {
        self.q.sqn().unwrap_or(u16::MAX)
    }

    fn errors(&self) -> u32 {
        // SAFETY: the register page is mapped (one page) until Drop; the offset is in it and 4-aligned.
        u32::from_le(unsafe { std::ptr::read_volatile(self.regs.add(UACCE_SOFT_REG_DB_ERRORS).cast::<u32>()) })
    }

    fn store64(&self, off: usize, v: u64) {
        assert!(off == UACCE_SOFT_REG_SQ_DB || off == UACCE_SOFT_REG_CQ_DB);
        // SAFETY: as in `errors`, for an 8-aligned u64 register of the page.
        unsafe { std::ptr::write_volatile(self.regs.add(off).cast::<u64>(), v.to_le()) }
    }

    fn arm_reg(&self) -> u32 {
        // SAFETY: as in `errors`.
        unsafe { std::ptr::read_volatile(self.regs.add(UACCE_SOFT_REG_CQ_ARM).cast::<u32>()) }
    }

    fn set_arm(&self) {
        // SAFETY: as in `errors`.
        unsafe { std::ptr::write_volatile(self.regs.add(UACCE_SOFT_REG_CQ_ARM).cast::<u32>(), 1) }
    }

    /// Wait (up to 5 s) until DB_ERRORS reads `want`; Err with what it read otherwise.
    fn wait_errors(&self, want: u32) -> Result<(), u32> {
        let t = Instant::now();
        loop {
            let e = self.errors();
            if e == want {
                return Ok(());
            }
            if t.elapsed() > Duration::from_secs(5) {
                return Err(e);
            }
            thread::sleep(Duration::from_millis(1));
        }
    }
}

impl Drop for RawKickQueue {
    fn drop(&mut self) {
        // SAFETY: `regs` and the length come from the mmap in `open`; nothing uses the mapping afterwards.
        unsafe { libc::munmap(self.regs.cast(), page_size()) };
    }
}

fn kick(efd: &std::os::fd::OwnedFd) -> Result<(), String> {
    nix::unistd::write(efd, &1u64.to_ne_bytes()).map(|_| ()).map_err(|e| format!("write kick: {e}"))
}

/// uacce-sys picks the kick path, and jobs, arms and the eventfd wake-ups work through it.
pub(super) fn kick_path_jobs() -> TestResult {
    let d = zip_dev();
    let mut q = Queue::open(&d, 0).map_err(e2s)?;
    let path = q.sys().doorbell_path();
    check!(path == uacce_sys::queue::DoorbellPath::SoftKick && q.sys().has_kick(), "doorbell path {path:?}");
    // Many jobs, each a store + kick (SQ), a CQ doorbell and, for the wake-up, an arm through the arm register
    let efd = eventfd().map_err(e2s)?;
    q.sys().bind_eventfd(efd.as_fd()).map_err(|e| e.to_string())?;
    for i in 0..40u32 {
        let input = data(1000 + i as usize * 37, i);
        let (st, comp) = dev_compress(&mut q, REQ_ZLIB, &input)?;
        check!(st == 0, "job {i}: status {st:#x}");
        check!(codec::decompress(REQ_ZLIB, &comp).map_err(|e| e.to_string())? == input, "job {i}: round trip");
    }
    // An armed wait: submit, arm, sleep in poll() on the eventfd until the device signals
    let input = data(50_000, 7);
    let mut out = vec![0u8; 60_000];
    let sqe = zip_sqe(REQ_ZLIB, &input, &mut out, 9);
    let _ = eventfd_take(&efd).map_err(e2s)?;
    // SAFETY: `input` and `out` outlive the job: it is consumed below (pop) or the queue is put before they drop.
    unsafe { q.submit(&sqe) }.map_err(e2s)?;
    q.arm().map_err(e2s)?;
    let r = poll1(efd.as_raw_fd(), libc::POLLIN, Duration::from_secs(10)).map_err(e2s)?;
    let popped = q.pop().map_err(e2s)?;
    if popped.is_none() {
        q.put().map_err(e2s)?;
    }
    check!(r & libc::POLLIN != 0, "no completion signal after an arm through the register page");
    check!(popped.is_some(), "signalled, but no CQE");
    check!(q.sys().mmio_read_u32(UACCE_SOFT_REG_DB_ERRORS) == Some(0), "DB_ERRORS {:?}", q.sys().mmio_read_u32(UACCE_SOFT_REG_DB_ERRORS));
    Ok(())
}

/// Malformed register values are counted, not applied; SET_KICK's errors; unbind and rebind; a count pending at bind
/// time kicks at once; an arm request is taken (cleared) by the device; a closed kick fd does not upset teardown.
pub(super) fn kick_registers_and_binding() -> TestResult {
    let d = zip_dev();
    let q = RawKickQueue::open(&d)?;
    let qfd = q.q.as_raw_fd();
    let qid = q.qid();
    check!(q.errors() == 0, "DB_ERRORS at start {}", q.errors());
    // SET_KICK errors
    let e = set_kick_raw(qfd, -2).err().and_then(|e| e.raw_os_error());
    check!(e == Some(libc::EBADF), "SET_KICK -2: {e:?}");
    let (r, w) = nix::unistd::pipe().map_err(|e| e.to_string())?;
    let e = set_kick_raw(qfd, r.as_raw_fd()).err().and_then(|e| e.raw_os_error());
    check!(e == Some(libc::EINVAL), "SET_KICK pipe: {e:?}");
    drop((r, w));
    set_kick_raw(qfd, -1).map_err(|e| format!("unbind with nothing bound: {e}"))?;

    // Bound: each malformed value is counted once
    let k1 = eventfd().map_err(e2s)?;
    set_kick_raw(qfd, k1.as_raw_fd()).map_err(|e| format!("SET_KICK: {e}"))?;
    let bad = [
        (UACCE_SOFT_REG_SQ_DB, doorbell_value(qid + 1, 0, 1, 0), "wrong sqn"),
        (UACCE_SOFT_REG_SQ_DB, doorbell_value(qid, 0, 1024, 0), "index >= depth"),
        (UACCE_SOFT_REG_SQ_DB, doorbell_value(qid, 1, 1, 0), "CQ doorbell in the SQ register"),
        (UACCE_SOFT_REG_CQ_DB, doorbell_value(qid, 0, 0, 0), "SQ doorbell in the CQ register"),
        (UACCE_SOFT_REG_CQ_DB, doorbell_value(qid, 1, 0, 2), "priority 2"),
        (UACCE_SOFT_REG_CQ_DB, doorbell_value(qid, 1, 0, 0) | 1 << 16, "bits 16..31 set"),
    ];
    for (n, (reg, v, what)) in bad.iter().enumerate() {
        q.store64(*reg, *v);
        kick(&k1)?;
        q.wait_errors(n as u32 + 1).map_err(|e| format!("{what}: DB_ERRORS {e}, want {}", n + 1))?;
    }
    let mut count = bad.len() as u32;
    // A kick with nothing changed counts nothing; an arm request is taken and cleared (no CQE: no signal)
    q.set_arm();
    kick(&k1)?;
    let t = Instant::now();
    while q.arm_reg() != 0 && t.elapsed() < Duration::from_secs(5) {
        thread::sleep(Duration::from_millis(1));
    }
    check!(q.arm_reg() == 0, "the device did not take the arm request");
    check!(q.errors() == count, "a kick with no change counted: {}", q.errors());

    // Unbound: a kick on the old eventfd reaches nothing; the new binding sees the value
    set_kick_raw(qfd, -1).map_err(|e| format!("unbind: {e}"))?;
    q.store64(UACCE_SOFT_REG_SQ_DB, doorbell_value(qid + 2, 0, 1, 0));
    kick(&k1)?;
    let k2 = eventfd().map_err(e2s)?;
    set_kick_raw(qfd, k2.as_raw_fd()).map_err(|e| format!("rebind: {e}"))?;
    kick(&k2)?;
    count += 1;
    q.wait_errors(count).map_err(|e| format!("after rebind: DB_ERRORS {e}, want {count}"))?;
    // The unbound eventfd's counter is untouched (nobody consumed the kick)
    check!(eventfd_take(&k1).map_err(e2s)? == 1, "the unbound kick eventfd was read by the device");

    // A count pending when the eventfd is bound kicks at once
    let k3 = eventfd().map_err(e2s)?;
    kick(&k3)?;
    q.store64(UACCE_SOFT_REG_SQ_DB, doorbell_value(qid + 3, 0, 1, 0));
    set_kick_raw(qfd, k3.as_raw_fd()).map_err(|e| format!("bind k3: {e}"))?;
    count += 1;
    q.wait_errors(count).map_err(|e| format!("pending count at bind: DB_ERRORS {e}, want {count}"))?;
    check!(eventfd_take(&k2).map_err(e2s)? == 0, "replaced kick eventfd k2 still had a count");

    // The binding holds the eventfd: closing the fd keeps it bound (writes through a dup still kick)
    let dup = k3.try_clone().map_err(e2s)?;
    drop(k3);
    q.store64(UACCE_SOFT_REG_SQ_DB, doorbell_value(qid + 4, 0, 1, 0));
    kick(&dup)?;
    count += 1;
    q.wait_errors(count).map_err(|e| format!("through a dup: DB_ERRORS {e}, want {count}"))?;
    drop(dup);
    // Put with the last fd of the bound eventfd closed: unbinds the released eventfd
    q.q.put().map_err(|e| e.to_string())?;
    // uacce passes the ioctl on after PUT_Q; the module refuses a bind or unbind once the queue stopped
    let e = set_kick_raw(qfd, -1).err().and_then(|e| e.raw_os_error());
    check!(e == Some(libc::EINVAL), "SET_KICK after PUT_Q: {e:?}");
    Ok(())
}
