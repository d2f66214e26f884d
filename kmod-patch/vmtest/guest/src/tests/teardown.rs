//! Processes and queues going away: kill -9 with jobs in flight, the owner's mm exiting, module unload, queues in
//! parallel threads, opens right after an io_uring exit.

use super::*;

use std::io::{BufRead, BufReader, Write};
use std::os::fd::{FromRawFd, OwnedFd};

use nix::sys::signal::{kill, Signal};
use nix::sys::wait::waitpid;
use nix::unistd::ForkResult;
use uacce_sys::qm::sec::DigestAlg;

/// Child of the kill -9 test: floods a compress queue, says "ready", keeps going until killed.
pub fn child_flood(dev: &str) {
    let mut q = match Queue::open(dev, 0) {
        Ok(q) => q,
        Err(e) => {
            println!("error {e}");
            return;
        }
    };
    let input = data(256 * 1024, 1);
    let mut outs: Vec<Vec<u8>> = (0..64).map(|_| vec![0u8; 300 * 1024]).collect();
    let mut said = false;
    loop {
        for o in outs.iter_mut() {
            let s = zip_sqe(REQ_ZLIB, &input, o, 1);
            // SAFETY: `input` and `outs` live until this process is killed or the queue dies (a pop error ends
            // the loop); nothing reads `outs`. (Resubmitting into an `o` an earlier job may still write is garbage
            // data, not read by anyone.)
            if unsafe { q.submit(&s) }.is_err() {
                break;
            }
        }
        if !said {
            println!("ready");
            std::io::stdout().flush().ok();
            said = true;
        }
        while q.in_flight() > 32 {
            match q.pop() {
                Ok(Some(_)) => {}
                Ok(None) => thread::sleep(Duration::from_micros(100)),
                Err(_) => return,
            }
        }
    }
}

pub(super) fn kill9() -> TestResult {
    let d = zip_dev();
    let before = sysfs_attr(&d, "available_instances").map_err(e2s)?;
    for round in 0..3 {
        let mut child = Command::new("/proc/self/exe")
            .args(["--child-flood", &d])
            .stdout(Stdio::piped())
            .spawn()
            .map_err(e2s)?;
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).map_err(e2s)?;
        check!(line.trim() == "ready", "child said {line:?}");
        thread::sleep(Duration::from_millis(20 + 40 * round));
        child.kill().map_err(e2s)?; // SIGKILL
        child.wait().map_err(e2s)?;
    }
    // The queues come back (the worker may finish the job it was running first)
    let t = Instant::now();
    loop {
        let now = sysfs_attr(&d, "available_instances").map_err(e2s)?;
        if now == before {
            break;
        }
        check!(t.elapsed() < Duration::from_secs(30), "available_instances {now}, was {before} after {:?}", t.elapsed());
        thread::sleep(Duration::from_millis(50));
    }
    // and the device still works
    let mut q = Queue::open(&d, 0).map_err(e2s)?;
    let input = data(1000, 3);
    let (st, comp) = dev_compress(&mut q, REQ_ZLIB, &input)?;
    check!((st == 0 || st == 0x0d) && codec::decompress(REQ_ZLIB, &comp).map_err(e2s)? == input, "device broken after kill");
    Ok(())
}


/// Four threads, each with its own queue (two ZIP, two SEC), 150 jobs each, checked against the CPU.
pub(super) fn parallel_queues() -> TestResult {
    let mut hs = Vec::new();
    for t in 0..4u32 {
        hs.push(thread::spawn(move || -> TestResult {
            if t % 2 == 0 {
                let mut q = Queue::open(&zip_dev(), 0).map_err(e2s)?;
                for i in 0..150u32 {
                    let input = data(2000 + (i as usize * 37) % 5000, t * 1000 + i);
                    let (st, comp) = dev_compress(&mut q, REQ_GZIP, &input)?;
                    check!((st == 0 || st == 0x0d) && codec::decompress(REQ_GZIP, &comp).map_err(e2s)? == input, "thread {t} job {i}");
                }
            } else {
                use sha2::Digest;
                let mut q = Queue::open(&sec_dev(), 0).map_err(e2s)?;
                for i in 0..150u32 {
                    let m = data(100 + i as usize, t * 1000 + i);
                    let d = dev_digest(&mut q, DigestAlg::Sha256, &[], &m)?;
                    check!(d == sha2::Sha256::digest(&m).to_vec(), "thread {t} job {i}");
                }
            }
            Ok(())
        }));
    }
    for h in hs {
        h.join().map_err(|_| "thread panicked")??;
    }
    Ok(())
}

/// The process that opened a queue dies (SIGKILL, jobs in flight) while another process still holds the queue fd
/// (taken with pidfd_getfd): the mmu_notifier release callback must stop the queue, so doorbells fail with EIO.
pub(super) fn mm_exit() -> TestResult {
    let d = zip_dev();
    let before = sysfs_attr(&d, "available_instances").map_err(e2s)?;
    let (rd, wr) = nix::unistd::pipe().map_err(|e| format!("pipe: {e}"))?;
    // SAFETY: the child only opens a queue, submits, writes to the pipe and sleeps until it is killed; it never
    // returns into the test runner (it ends in pause() or _exit). It takes no lock another thread of the parent may
    // have held at the fork, but the allocator's, which glibc resets in the child of a fork.
    let pid = match unsafe { nix::unistd::fork() }.map_err(|e| format!("fork: {e}"))? {
        ForkResult::Parent { child } => child,
        ForkResult::Child => {
            drop(rd);
            let mut q = match Queue::open(&d, 0) {
                Ok(q) => q,
                // SAFETY: _exit ends the child at once, running none of the parent's atexit handlers or buffers.
                Err(_) => unsafe { libc::_exit(1) },
            };
            let input = data(256 * 1024, 1);
            let mut outs: Vec<Vec<u8>> = (0..16).map(|_| vec![0u8; 300 * 1024]).collect();
            for o in outs.iter_mut() {
                // SAFETY: the child never frees `input` or `outs` nor reads `outs`: it sleeps in pause() until killed.
                let _ = unsafe { q.submit(&zip_sqe(REQ_ZLIB, &input, o, 1)) };
            }
            let msg = format!("{} {}\n", q.fd(), q.qid);
            let _ = nix::unistd::write(&wr, msg.as_bytes());
            loop {
                nix::unistd::pause();
            }
        }
    };
    drop(wr);
    let mut buf = [0u8; 64];
    let n = nix::unistd::read(&rd, &mut buf).unwrap_or(0);
    drop(rd);
    check!(n > 0, "child did not report");
    let msg = String::from_utf8_lossy(&buf[..n]).to_string();
    let mut it = msg.split_whitespace().map(|x| x.parse::<i32>().unwrap_or(-1));
    let (cfd, qid) = (it.next().unwrap_or(-1), it.next().unwrap_or(-1));
    // pidfd_open and pidfd_getfd have no wrapper in nix 0.31.
    // SAFETY: integer arguments only; the system call touches no memory of ours.
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid.as_raw(), 0) } as i32;
    check!(pidfd >= 0, "pidfd_open: {}", std::io::Error::last_os_error());
    // SAFETY: pidfd_open returned a new fd that nothing else owns or closes.
    let pidfd = unsafe { OwnedFd::from_raw_fd(pidfd) };
    // SAFETY: integer arguments only, as above.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_getfd, pidfd.as_raw_fd(), cfd, 0) } as i32;
    check!(fd >= 0, "pidfd_getfd: {}", std::io::Error::last_os_error());
    // SAFETY: pidfd_getfd returned a new fd (a duplicate of the child's queue fd) that nothing else owns or closes.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    drop(pidfd);
    let _ = kill(pid, Signal::SIGKILL);
    let _ = waitpid(pid, None);
    // The queue is still open here, but its mm is gone: the doorbell is refused with EIO
    let db = |v: u64| -> Option<i32> { doorbell_raw(fd.as_fd(), v).err().and_then(|e| e.raw_os_error()) };
    let t = Instant::now();
    let mut e = db(doorbell_value(qid as u16, 0, 17, 0));
    while e != Some(libc::EIO) && t.elapsed() < Duration::from_secs(10) {
        thread::sleep(Duration::from_millis(20));
        e = db(doorbell_value(qid as u16, 0, 17, 0));
    }
    check!(e == Some(libc::EIO), "doorbell after the owner's exit: {e:?}");
    // PUT_Q and close still work; the queue comes back
    let _ = ioctl_null(fd.as_fd(), UACCE_CMD_PUT_Q);
    drop(fd);
    let t = Instant::now();
    while sysfs_attr(&d, "available_instances").map_err(e2s)? != before {
        check!(t.elapsed() < Duration::from_secs(30), "queue not released after {:?}", t.elapsed());
        thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

/// rmmod uacce_soft with a queue open and a task sleeping in poll() on it: the task wakes with EPOLLERR|EPOLLHUP,
/// the fd can still be closed, and uacce itself can then be unloaded.
pub(super) fn module_unload() -> TestResult {
    let d = sec_dev();
    let mut q = Queue::open(&d, 0).map_err(e2s)?;
    q.arm().map_err(e2s)?;
    let fd = q.fd();
    let w = thread::spawn(move || {
        let r = poll1(fd, libc::POLLIN, Duration::from_secs(10)).map_err(e2s);
        (r, Instant::now())
    });
    thread::sleep(Duration::from_millis(200));
    let t0 = Instant::now();
    let out = Command::new("/bin/rmmod").arg("uacce_soft").output().map_err(e2s)?;
    check!(out.status.success(), "rmmod uacce_soft: {}", String::from_utf8_lossy(&out.stderr));
    let (r, at) = w.join().map_err(|_| "panicked")?;
    let rev = r?;
    let el = at.saturating_duration_since(t0);
    check!(rev & (libc::POLLERR | libc::POLLHUP) == (libc::POLLERR | libc::POLLHUP), "revents {rev:#x}");
    check!(el < Duration::from_secs(1), "woke after {el:?}");
    drop(q);
    let out = Command::new("/bin/rmmod").arg("uacce").output().map_err(e2s)?;
    check!(out.status.success(), "rmmod uacce: {}", String::from_utf8_lossy(&out.stderr));
    check!(std::fs::read_dir("/sys/class/uacce").is_err(), "/sys/class/uacce still there");
    Ok(())
}

/// io_uring's ring exit work queues task work with TWA_SIGNAL on every task that used the ring, which makes
/// signal_pending() true until the task returns to user space; uacce_soft's open() registers an mmu_notifier, whose
/// mm_take_all_locks() gives up with -EINTR then. uacce_soft restarts the open (-ERESTARTSYS) instead of failing
/// it: opens right after dropping a ring with a multishot poll must all succeed.
pub(super) fn open_after_io_uring_exit() -> TestResult {
    let efd = eventfd().map_err(e2s)?;
    let (mut opened, mut eintr) = (0, 0);
    for _ in 0..40 {
        let mut ring = io_uring::IoUring::new(8).map_err(e2s)?;
        let poll = io_uring::opcode::PollAdd::new(io_uring::types::Fd(efd.as_raw_fd()), libc::POLLIN as u32)
            .multi(true)
            .build()
            .user_data(1);
        // SAFETY: the eventfd outlives the ring
        unsafe { ring.submission().push(&poll) }.map_err(|e| e.to_string())?;
        ring.submit().map_err(e2s)?;
        drop(ring);
        for _ in 0..3 {
            match Queue::open(&sec_dev(), 0) {
                Ok(q) => {
                    opened += 1;
                    drop(q);
                }
                Err(e) if e.to_string().contains("EINTR") || e.raw_os_error() == Some(libc::EINTR) => eintr += 1,
                Err(e) => return Err(e.to_string()),
            }
        }
    }
    check!(eintr == 0, "{eintr} of {} opens failed with EINTR", opened + eintr);
    Ok(())
}
