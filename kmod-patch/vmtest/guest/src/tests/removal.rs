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
    thread::sleep(Duration::from_millis(300));
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
