//! The eventfd patch: bind, rebind and unbind, the ioctl's errors, races with completions; and without the patch,
//! ENOTTY and the fall-back to poll().

use super::*;

pub(super) fn eventfd_wakes() -> TestResult {
    let mut q = Queue::open(&sec_dev(), 0).map_err(e2s)?;
    let efd = eventfd().map_err(e2s)?;
    q.sys().bind_eventfd(efd.as_fd()).map_err(|e| e.to_string())?;
    let buf = data(100, 1);
    let mut mac = [0u8; 32];
    // armed: signalled
    q.arm().map_err(e2s)?;
    small_job(&mut q, &buf, &mut mac).map_err(e2s)?;
    let rev = poll1(efd.as_raw_fd(), libc::POLLIN, Duration::from_secs(5)).map_err(e2s)?;
    check!(rev & libc::POLLIN != 0, "eventfd not signalled");
    check!(eventfd_take(&efd).map_err(e2s)? == 1, "count != 1");
    q.wait_pop(Duration::from_secs(5)).map_err(e2s)?;
    // the arm is one-shot: the next completion is not signalled
    small_job(&mut q, &buf, &mut mac).map_err(e2s)?;
    q.wait_pop(Duration::from_secs(5)).map_err(e2s)?;
    thread::sleep(Duration::from_millis(50));
    check!(eventfd_take(&efd).map_err(e2s)? == 0, "signalled without re-arming");
    // arming while a completion is already posted signals at once
    small_job(&mut q, &buf, &mut mac).map_err(e2s)?;
    let t = Instant::now();
    while !q.has_completion() && t.elapsed() < Duration::from_secs(5) {
        thread::sleep(Duration::from_millis(1));
    }
    q.arm().map_err(e2s)?;
    // (the kick path delivers the arm asynchronously, as an MMIO doorbell is: wait for the signal)
    let rev = poll1(efd.as_raw_fd(), libc::POLLIN, Duration::from_secs(5)).map_err(e2s)?;
    check!(rev & libc::POLLIN != 0 && eventfd_take(&efd).map_err(e2s)? == 1, "arm over a posted CQE did not signal");
    q.wait_pop(Duration::from_secs(5)).map_err(e2s)?;
    // a task blocked on the eventfd is woken
    q.arm().map_err(e2s)?;
    let fd = efd.as_raw_fd();
    let w = thread::spawn(move || {
        let t = Instant::now();
        (poll1(fd, libc::POLLIN, Duration::from_secs(5)).map_err(e2s), t.elapsed())
    });
    thread::sleep(Duration::from_millis(50));
    small_job(&mut q, &buf, &mut mac).map_err(e2s)?;
    let (r, el) = w.join().map_err(|_| "panicked")?;
    check!(r? & libc::POLLIN != 0 && el < Duration::from_secs(2), "blocked eventfd waiter: {el:?}");
    Ok(())
}

pub(super) fn eventfd_errors() -> TestResult {
    let q = Queue::open(&sec_dev(), 0).map_err(e2s)?;
    let efd = eventfd().map_err(e2s)?;
    check!(errno(q.set_eventfd(efd.as_raw_fd(), 2)) == Some(libc::EINVAL), "flags 2");
    check!(errno(q.set_eventfd(efd.as_raw_fd(), 3)) == Some(libc::EINVAL), "flags 3");
    check!(errno(q.set_eventfd(efd.as_raw_fd(), 0x8000_0000)) == Some(libc::EINVAL), "flags high bit");
    check!(errno(q.set_eventfd(9999, 0)) == Some(libc::EBADF), "closed fd");
    check!(errno(q.set_eventfd(-2, 0)) == Some(libc::EBADF), "fd -2");
    let (rd, wr) = nix::unistd::pipe().map_err(|e| e.to_string())?;
    check!(errno(q.set_eventfd(rd.as_raw_fd(), 0)) == Some(libc::EINVAL), "pipe fd");
    drop((rd, wr));
    q.set_eventfd(-1, 0).map_err(e2s)?; // unbind with nothing bound
    q.set_eventfd(-1, 1).map_err(e2s)?; // the hang-up eventfd too
    check!(errno(q.set_eventfd(9999, 1)) == Some(libc::EBADF), "hang-up: closed fd");
    q.set_eventfd(efd.as_raw_fd(), 0).map_err(e2s)?;
    q.set_eventfd(efd.as_raw_fd(), 0).map_err(e2s)?; // same fd again
    // Also on a queue that is not started
    let q2 = Queue::open_unstarted(&sec_dev(), 0).map_err(e2s)?;
    q2.set_eventfd(efd.as_raw_fd(), 0).map_err(e2s)?;
    Ok(())
}

pub(super) fn eventfd_rebind() -> TestResult {
    let mut q = Queue::open(&sec_dev(), 0).map_err(e2s)?;
    let e1 = eventfd().map_err(e2s)?;
    let e2 = eventfd().map_err(e2s)?;
    let buf = data(100, 1);
    let mut mac = [0u8; 32];
    let mut job = |q: &mut Queue| -> TestResult {
        q.arm().map_err(e2s)?;
        small_job(q, &buf, &mut mac).map_err(e2s)?;
        q.wait_pop(Duration::from_secs(5)).map_err(e2s)?;
        thread::sleep(Duration::from_millis(20));
        Ok(())
    };
    q.set_eventfd(e1.as_raw_fd(), 0).map_err(e2s)?;
    q.set_eventfd(e2.as_raw_fd(), 0).map_err(e2s)?;
    job(&mut q)?;
    let (c1, c2) = (eventfd_take(&e1).map_err(e2s)?, eventfd_take(&e2).map_err(e2s)?);
    check!(c1 == 0 && c2 == 1, "after rebind: old {c1} new {c2}");
    q.set_eventfd(-1, 0).map_err(e2s)?;
    job(&mut q)?;
    let (c1, c2) = (eventfd_take(&e1).map_err(e2s)?, eventfd_take(&e2).map_err(e2s)?);
    check!(c1 == 0 && c2 == 0, "after unbind: {c1} {c2}");
    // closing our eventfd fd keeps the context alive while bound
    q.set_eventfd(e1.as_raw_fd(), 0).map_err(e2s)?;
    let dup = nix::unistd::dup(&e1).map_err(|e| e.to_string())?;
    drop(e1);
    job(&mut q)?;
    check!(eventfd_take(&dup).map_err(e2s)? == 1, "bound eventfd lost after close of one fd");
    drop(dup);
    Ok(())
}

/// Rebinding and unbinding eventfds (and closing them) while completions are signalled on another CPU: exercises the
/// locking between UACCE_CMD_SET_EVENTFD and uacce_wake_up(). The kernel log must stay clean.
pub(super) fn eventfd_rebind_race() -> TestResult {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let q = Queue::open(&sec_dev(), 0).map_err(e2s)?;
    let fd = q.fd();
    let q = Arc::new(std::sync::Mutex::new(q));
    // SAFETY: the queue owning `fd` lives in `q` until the end of this function, longer than `bfd`.
    let bfd = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
    let stop = Arc::new(AtomicBool::new(false));
    let (q2, stop2) = (q.clone(), stop.clone());
    let worker = thread::spawn(move || -> Result<usize, String> {
        let buf = data(64, 1);
        let mut mac = [0u8; 32];
        let mut n = 0;
        while !stop2.load(Ordering::Relaxed) {
            let mut g = q2.lock().unwrap();
            g.arm().map_err(e2s)?;
            small_job(&mut g, &buf, &mut mac).map_err(e2s)?;
            g.wait_pop(Duration::from_secs(5)).map_err(e2s)?;
            n += 1;
        }
        Ok(n)
    });
    let t = Instant::now();
    let mut binds = 0;
    while t.elapsed() < Duration::from_millis(1500) {
        let e1 = eventfd().map_err(e2s)?;
        let e2 = eventfd().map_err(e2s)?;
        set_eventfd_raw(bfd, e1.as_raw_fd(), 0).map_err(e2s)?;
        set_eventfd_raw(bfd, e2.as_raw_fd(), 0).map_err(e2s)?;
        drop(e2); // still bound: the kernel holds its own reference
        drop(e1);
        if binds % 3 == 0 {
            set_eventfd_raw(bfd, -1, 0).map_err(e2s)?;
        }
        binds += 1;
    }
    stop.store(true, Ordering::Relaxed);
    let jobs = worker.join().map_err(|_| "worker panicked")??;
    check!(jobs > 10 && binds > 100, "only {jobs} jobs / {binds} binds");
    println!("# eventfd_rebind_races_wakes: {binds} rebinds during {jobs} signalled completions");
    Ok(())
}


pub(super) fn unpatched_enotty() -> TestResult {
    let q = Queue::open(&sec_dev(), 0).map_err(e2s)?;
    let efd = eventfd().map_err(e2s)?;
    let e = errno(q.set_eventfd(efd.as_raw_fd(), 0));
    check!(e == Some(libc::ENOTTY), "SET_EVENTFD on unpatched uacce: {e:?}");
    Ok(())
}

/// The fallback a driver does: try the eventfd, and on ENOTTY/EINVAL wait with poll() on the queue fd instead.
pub(super) fn unpatched_fallback() -> TestResult {
    let mut q = Queue::open(&sec_dev(), 0).map_err(e2s)?;
    let efd = eventfd().map_err(e2s)?;
    // uacce-sys reports ENOTTY/EINVAL as QueueError::Unsupported
    let wait_fd = match q.sys().bind_eventfd(efd.as_fd()) {
        Ok(()) => efd.as_raw_fd(),
        Err(e @ uacce_sys::queue::QueueError::Unsupported { .. }) => {
            println!("# {e}");
            q.fd()
        }
        Err(e) => return Err(e.to_string()),
    };
    check!(wait_fd == q.fd(), "eventfd accepted on unpatched uacce");
    let buf = data(100, 1);
    let mut mac = [0u8; 32];
    q.arm().map_err(e2s)?;
    let w = thread::spawn(move || poll1(wait_fd, libc::POLLIN, Duration::from_secs(5)).map_err(e2s));
    thread::sleep(Duration::from_millis(50));
    small_job(&mut q, &buf, &mut mac).map_err(e2s)?;
    let rev = w.join().map_err(|_| "panicked")??;
    check!(rev & libc::POLLIN != 0, "poll fallback not woken: {rev:#x}");
    q.wait_pop(Duration::from_secs(5)).map_err(e2s)?;
    use sha2::Digest;
    check!(mac[..] == sha2::Sha256::digest(&buf)[..], "digest differs");
    Ok(())
}

/// The hang-up eventfd (UACCE_EVENTFD_HANGUP) is not signalled by completions: after an armed completion has
/// signalled the completion eventfd, the hang-up eventfd's counter is still 0 (the removal test checks that the
/// removal signals it).
pub(super) fn eventfd_hangup_distinct() -> TestResult {
    let mut q = Queue::open(&sec_dev(), 0).map_err(e2s)?;
    let efd = eventfd().map_err(e2s)?;
    let hfd = eventfd().map_err(e2s)?;
    q.sys().bind_eventfd(efd.as_fd()).map_err(|e| e.to_string())?;
    q.sys().bind_hangup_eventfd(hfd.as_fd()).map_err(|e| e.to_string())?;
    let buf = data(100, 1);
    let mut mac = [0u8; 32];
    for round in 0..3 {
        q.arm().map_err(e2s)?;
        small_job(&mut q, &buf, &mut mac).map_err(e2s)?;
        let rev = poll1(efd.as_raw_fd(), libc::POLLIN, Duration::from_secs(5)).map_err(e2s)?;
        check!(rev & libc::POLLIN != 0, "round {round}: completion eventfd not signalled");
        check!(eventfd_take(&efd).map_err(e2s)? == 1, "round {round}: completion count != 1");
        q.wait_pop(Duration::from_secs(5)).map_err(e2s)?;
        check!(eventfd_take(&hfd).map_err(e2s)? == 0, "round {round}: a completion signalled the hang-up eventfd");
    }
    q.sys().unbind_hangup_eventfd().map_err(|e| e.to_string())?;
    Ok(())
}
