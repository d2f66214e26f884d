//! Device removal with waiters sleeping in poll(), on an eventfd and in tokio; and what an unpatched uacce does.

use super::*;

pub(super) fn removal() -> TestResult {
    // Remove the last ZIP device while a poll() sleeper, an eventfd sleeper and a tokio task wait on its queues.
    let d = devices("soft_zip-").into_iter().last().ok_or("no zip device")?;
    let mut q1 = Queue::open(&d, 0).map_err(e2s)?;
    let mut q2 = Queue::open(&d, 0).map_err(e2s)?;
    let mut q3 = Queue::open(&d, 1).map_err(e2s)?;
    // A fourth queue with jobs in flight and nobody waiting: removal must cope with a busy worker
    let mut q4 = Queue::open(&d, 0).map_err(e2s)?;
    let input = data(256 * 1024, 1);
    let mut outs: Vec<Vec<u8>> = (0..16).map(|_| vec![0u8; 300 * 1024]).collect();
    for o in outs.iter_mut() {
        // SAFETY: `input` and `outs` live to the end of the test, after the device removal has stopped `q4`;
        // nothing reads `outs`.
        unsafe { q4.submit(&zip_sqe(REQ_ZLIB, &input, o, 1)) }.map_err(e2s)?;
    }
    let efd = eventfd().map_err(e2s)?;
    q2.set_eventfd(efd.as_raw_fd(), 0).map_err(e2s)?;
    // and q2's hang-up eventfd: signalled by the removal only
    let hfd = eventfd().map_err(e2s)?;
    q2.sys().bind_hangup_eventfd(hfd.as_fd()).map_err(|e| e.to_string())?;
    for q in [&mut q1, &mut q2, &mut q3] {
        q.arm().map_err(e2s)?;
    }
    let (fd1, fd3, efd_raw) = (q1.fd(), q3.fd(), efd.as_raw_fd());
    let (tx, rx) = mpsc::channel::<(&'static str, Result<i16, String>, Instant)>();
    let tx1 = tx.clone();
    let h1 = thread::spawn(move || {
        let r = poll1(fd1, libc::POLLIN, Duration::from_secs(10)).map_err(e2s);
        tx1.send(("poll", r, Instant::now())).ok();
    });
    let tx2 = tx.clone();
    let h2 = thread::spawn(move || {
        let r = poll1(efd_raw, libc::POLLIN, Duration::from_secs(10)).map_err(e2s);
        tx2.send(("eventfd", r, Instant::now())).ok();
    });
    let tx3 = tx.clone();
    let h3 = thread::spawn(move || {
        let r = rt().block_on(async {
            // SAFETY: q3 outlives this thread (joined below)
            let afd = unsafe { tokio::io::unix::AsyncFd::register_with_interest(Fd(fd3), tokio::io::Interest::READABLE) }
                .map_err(|e| format!("{e:?}"))?;
            let g = tokio::time::timeout(Duration::from_secs(10), afd.ready(tokio::io::Interest::READABLE | tokio::io::Interest::ERROR))
                .await
                .map_err(|_| "tokio waiter not woken".to_string())?
                .map_err(e2s)?;
            let rd = g.ready();
            Ok::<i16, String>(if rd.is_error() { libc::POLLERR } else { 0 } | if rd.is_read_closed() { libc::POLLHUP } else { 0 } | if rd.is_readable() { libc::POLLIN } else { 0 })
        });
        tx3.send(("tokio", r, Instant::now())).ok();
    });
    drop(tx);
    // Three epoll instances waiting on q1 with EPOLLEXCLUSIVE: the removal must wake every one of them (a wake-up
    // of one exclusive waiter would leave two asleep)
    let (etx, erx) = mpsc::channel::<(usize, Result<u32, String>, Instant)>();
    let mut excl = Vec::new();
    for i in 0..3 {
        let etx = etx.clone();
        excl.push(thread::spawn(move || {
            let r = epoll_exclusive_wait(fd1, Duration::from_secs(10));
            etx.send((i, r, Instant::now())).ok();
        }));
    }
    drop(etx);
    thread::sleep(Duration::from_millis(300));
    check!(eventfd_take(&hfd).map_err(e2s)? == 0, "hang-up eventfd signalled before the removal");
    let t0 = Instant::now();
    std::fs::write("/sys/module/uacce_soft/parameters/remove", format!("{d}\n")).map_err(|e| format!("remove: {e}"))?;
    let mut got = Vec::new();
    while got.len() < 3 {
        match rx.recv_timeout(Duration::from_secs(5)) {
            Ok(x) => got.push(x),
            Err(_) => break,
        }
    }
    for h in [h1, h2, h3] {
        let _ = h.join();
    }
    let mut woke = Vec::new();
    while woke.len() < 3 {
        match erx.recv_timeout(Duration::from_secs(5)) {
            Ok(x) => woke.push(x),
            Err(_) => break,
        }
    }
    for h in excl {
        let _ = h.join();
    }
    check!(woke.len() == 3, "only {} of 3 EPOLLEXCLUSIVE waiters woke", woke.len());
    for (i, r, at) in &woke {
        let ev = r.clone()?;
        let el = at.saturating_duration_since(t0);
        check!(el < Duration::from_secs(1), "EPOLLEXCLUSIVE waiter {i} woke after {el:?}");
        check!(ev & (libc::EPOLLERR | libc::EPOLLHUP) as u32 != 0, "EPOLLEXCLUSIVE waiter {i}: events {ev:#x}");
    }
    check!(got.len() == 3, "only {} of 3 waiters woke: {:?}", got.len(), got.iter().map(|g| g.0).collect::<Vec<_>>());
    for (who, r, at) in &got {
        let rev = r.clone()?;
        let el = at.saturating_duration_since(t0);
        check!(el < Duration::from_secs(1), "{who} woke after {el:?}");
        match *who {
            "poll" => check!(rev & (libc::POLLERR | libc::POLLHUP) == (libc::POLLERR | libc::POLLHUP), "poll revents {rev:#x}"),
            "eventfd" => check!(rev & libc::POLLIN != 0, "eventfd revents {rev:#x}"),
            _ => check!(rev & (libc::POLLERR | libc::POLLHUP) != 0, "tokio readiness {rev:#x}"),
        }
    }
    // After removal: poll reports EPOLLERR|EPOLLHUP at once, ioctls fail with ENXIO, the device node is gone
    let rev = poll1(q1.fd(), libc::POLLIN, Duration::from_millis(100)).map_err(e2s)?;
    check!(rev & (libc::POLLERR | libc::POLLHUP) == (libc::POLLERR | libc::POLLHUP), "poll after removal {rev:#x}");
    check!(errno(q1.doorbell(doorbell_value(q1.qid, 0, 1, 0))) == Some(libc::ENXIO), "doorbell after removal");
    check!(errno(q2.set_eventfd(-1, 0)) == Some(libc::ENXIO), "SET_EVENTFD after removal");
    check!(!std::path::Path::new(&format!("/dev/{d}")).exists(), "/dev/{d} still exists");
    // The hang-up eventfd was signalled once: a task woken on the completion eventfd can tell this from a completion
    check!(eventfd_take(&hfd).map_err(e2s)? == 1, "hang-up eventfd not signalled once by the removal");
    // The MMIO register page (remap_pfn_range, VM_PFNMAP) faults in a page of ones too (vmf_insert_pfn_prot)
    check!(q1.sys().mmio_read_u32(0) == Some(u32::MAX), "MMIO after removal {:x?}", q1.sys().mmio_read_u32(0));
    check!(q4.sys().mmio_read_u32(4) == Some(u32::MAX), "MMIO after removal {:x?}", q4.sys().mmio_read_u32(4));
    // Patch 0004: the zapped mappings fault in pages of ones, which take stores, instead of SIGBUS (a SIGBUS here
    // kills the test binary, which the harness reports as a failure)
    check!(q1.status_words() == (u32::MAX, u32::MAX), "status words after removal {:x?}", q1.status_words());
    check!(q4.dus_u32(0) == u32::MAX, "SQ word after removal {:#x}", q4.dus_u32(0));
    q4.set_dus_u32(0, 0x1234_5678);
    check!(q4.dus_u32(0) == 0x1234_5678 && q4.dus_u32(4) == u32::MAX, "store into a removed queue's page");
    check!(q1.dus_u32(0) == u32::MAX, "a store into one removed queue's page showed in another's");
    // and uacce-sys reads that as a dead queue, not as completions
    let r = q1.pop();
    check!(r.as_ref().is_err_and(|e| e.to_string().contains("reset or disabled")), "pop after removal: {r:?}");
    drop(outs);
    Ok(())
}

/// Without patch 2 a removed device leaves poll() sleepers asleep and poll() reports nothing: this documents what the
/// patch fixes (the patched run checks EPOLLERR|EPOLLHUP and a wake within 1 s instead).
pub(super) fn unpatched_removal() -> TestResult {
    let d = devices("soft_zip-").into_iter().last().ok_or("no zip device")?;
    let mut q = Queue::open(&d, 0).map_err(e2s)?;
    q.arm().map_err(e2s)?;
    let fd = q.fd();
    let w = thread::spawn(move || {
        let t = Instant::now();
        (poll1(fd, libc::POLLIN, Duration::from_millis(1500)).map_err(e2s), t.elapsed())
    });
    thread::sleep(Duration::from_millis(200));
    std::fs::write("/sys/module/uacce_soft/parameters/remove", format!("{d}\n")).map_err(|e| format!("remove: {e}"))?;
    let (r, el) = w.join().map_err(|_| "panicked")?;
    let rev = r?;
    check!(rev == 0 && el >= Duration::from_millis(1400), "unpatched poll() woke: revents {rev:#x} after {el:?}");
    let rev = poll1(q.fd(), libc::POLLIN, Duration::from_millis(100)).map_err(e2s)?;
    check!(rev == 0, "unpatched poll() after removal: revents {rev:#x}");
    println!("# without the series a removed queue's poll() sleeps until its time-out and reports nothing");
    Ok(())
}

/// One epoll instance with `fd` registered for EPOLLIN | EPOLLEXCLUSIVE; waits up to `timeout` and returns the events
/// (0 on time-out).
fn epoll_exclusive_wait(fd: RawFd, timeout: Duration) -> Result<u32, String> {
    // SAFETY: epoll_create1 has no memory arguments.
    let ep = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    if ep < 0 {
        return Err(std::io::Error::last_os_error().to_string());
    }
    // SAFETY: `ep` is a new fd that nothing else owns.
    let ep = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(ep) };
    let mut ev = libc::epoll_event { events: (libc::EPOLLIN | libc::EPOLLEXCLUSIVE) as u32, u64: 1 };
    // SAFETY: `ev` is a valid epoll_event for the call; `fd` is the queue fd the caller keeps open.
    if unsafe { libc::epoll_ctl(ep.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut ev) } < 0 {
        return Err(format!("epoll_ctl: {}", std::io::Error::last_os_error()));
    }
    let mut out = libc::epoll_event { events: 0, u64: 0 };
    // SAFETY: `out` is one writable epoll_event and maxevents is 1.
    let n = unsafe { libc::epoll_wait(ep.as_raw_fd(), &mut out, 1, timeout.as_millis() as i32) };
    if n < 0 {
        return Err(format!("epoll_wait: {}", std::io::Error::last_os_error()));
    }
    Ok(if n == 0 { 0 } else { out.events })
}

fn run_cmd(cmd: &str, args: &[&str]) -> Result<(), String> {
    let out = Command::new(cmd).args(args).output().map_err(|e| format!("{cmd}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("{cmd} {args:?}: {}", String::from_utf8_lossy(&out.stderr).trim()))
    }
}

/// SIGBUS stays the default: with uacce_soft loaded with dummy_pages=0 (the parent does not opt in), a child that
/// touches its queue's mappings after the removal dies of SIGBUS, as on mainline; the kernel log stays clean (the
/// harness checks it). Runs after module_unload_with_open_queue (both modules are unloaded by then) and unloads
/// them again, so that the polling-vs-interrupt run after the tests loads fresh ones.
pub(super) fn sigbus_without_opt_in() -> TestResult {
    if !std::path::Path::new("/sys/module/uacce").exists() {
        run_cmd("/bin/insmod", &["/mods/uacce.ko"])?;
    }
    run_cmd("/bin/insmod", &["/mods/uacce_soft.ko", "devices=1", "queues=8", "depth=1024", "dummy_pages=0"])?;
    let r = sigbus_child_dies();
    let unload = run_cmd("/bin/rmmod", &["uacce_soft"]).and_then(|_| run_cmd("/bin/rmmod", &["uacce"]));
    r?;
    unload
}

fn sigbus_child_dies() -> TestResult {
    use std::io::BufRead;
    use std::os::unix::process::ExitStatusExt;
    let d = devices("soft_zip-").into_iter().last().ok_or("no zip device")?;
    let exe = std::env::current_exe().map_err(e2s)?;
    let mut child = Command::new(exe)
        .args(["--child-sigbus", &d])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(e2s)?;
    let mut line = String::new();
    let mut rd = std::io::BufReader::new(child.stdout.take().ok_or("no child stdout")?);
    rd.read_line(&mut line).map_err(e2s)?;
    if line.trim() != "ready" {
        let _ = child.kill();
        let _ = child.wait();
        return Err(format!("child: {line:?}"));
    }
    std::fs::write("/sys/module/uacce_soft/parameters/remove", format!("{d}\n")).map_err(|e| format!("remove: {e}"))?;
    let t = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().map_err(e2s)? {
            break s;
        }
        if t.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            let _ = child.wait();
            return Err("child still alive 10 s after the removal".into());
        }
        thread::sleep(Duration::from_millis(10));
    };
    let mut rest = String::new();
    let _ = std::io::Read::read_to_string(&mut rd, &mut rest);
    check!(status.signal() == Some(libc::SIGBUS), "child ended with {status:?} (wanted SIGBUS); said {rest:?}");
    println!("# without the opt-in, a child touching its removed queue's mapping died of SIGBUS ({:?} after the removal)", t.elapsed());
    Ok(())
}

/// The child of `sigbus_without_opt_in`: opens a queue (DUS and MMIO mapped), says "ready" and keeps reading both
/// mappings until the removal's zap makes a load fault. It only returns (exit 0, "survived") if no load faulted.
pub fn child_sigbus(dev: &str) {
    use std::io::Write;
    let q = match Queue::open(dev, 0) {
        Ok(q) => q,
        Err(e) => {
            println!("open: {e}");
            return;
        }
    };
    println!("ready");
    let _ = std::io::stdout().flush();
    let t = Instant::now();
    let mut sum = 0u64;
    while t.elapsed() < Duration::from_secs(5) {
        sum = sum.wrapping_add(u64::from(q.dus_u32(0)));
        sum = sum.wrapping_add(u64::from(q.sys().mmio_read_u32(0).unwrap_or(0)));
        thread::sleep(Duration::from_millis(5));
    }
    println!("survived ({sum})");
}
