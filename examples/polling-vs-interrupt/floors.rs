//! Floors of this machine: busy-poll hand-off, eventfd and AsyncFd wakes.

use super::*;

pub(crate) fn pin_to(cpu: usize) -> bool {
    // SAFETY: cpu_set_t is plain data; CPU_ZERO/CPU_SET write inside it; sched_setaffinity reads it.
    unsafe {
        let mut set: nix::libc::cpu_set_t = std::mem::zeroed();
        nix::libc::CPU_ZERO(&mut set);
        nix::libc::CPU_SET(cpu, &mut set);
        nix::libc::sched_setaffinity(0, std::mem::size_of::<nix::libc::cpu_set_t>(), &set) == 0
    }
}

pub(crate) fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// One-way cache-line hand-off between two spinning threads on CPUs 0 and 1 (ns).
pub(crate) fn floor_handoff(rounds: u64) -> f64 {
    #[repr(align(128))]
    struct Line(AtomicU64);
    let line = Arc::new(Line(AtomicU64::new(0)));
    let l2 = line.clone();
    let t = std::thread::spawn(move || {
        pin_to(1);
        for i in 0..rounds {
            while l2.0.load(Ordering::Acquire) != 2 * i + 1 {
                std::hint::spin_loop();
            }
            l2.0.store(2 * i + 2, Ordering::Release);
        }
    });
    pin_to(0);
    // Let the partner start spinning.
    std::thread::sleep(Duration::from_millis(5));
    let t0 = Instant::now();
    for i in 0..rounds {
        line.0.store(2 * i + 1, Ordering::Release);
        while line.0.load(Ordering::Acquire) != 2 * i + 2 {
            std::hint::spin_loop();
        }
    }
    let el = t0.elapsed();
    let _ = t.join();
    el.as_nanos() as f64 / (2 * rounds) as f64
}

pub(crate) fn eventfd() -> OwnedFd {
    nix::sys::eventfd::EventFd::from_value_and_flags(0, nix::sys::eventfd::EfdFlags::EFD_CLOEXEC)
        .expect("eventfd")
        .into()
}

/// A thread blocked in read() on an eventfd on CPU `waiter`, woken by a write from CPU 0: the median latency (µs)
/// from just before the write to the waiter running again.
pub(crate) fn floor_eventfd_wake(waiter: usize, shots: usize) -> f64 {
    let efd = Arc::new(eventfd());
    let ack = Arc::new(eventfd());
    let stamp = Arc::new(Mutex::new(Instant::now()));
    let (e2, a2, s2) = (efd.clone(), ack.clone(), stamp.clone());
    let t = std::thread::spawn(move || {
        pin_to(waiter);
        let mut lat = Vec::with_capacity(shots);
        let mut buf = [0u8; 8];
        for _ in 0..shots {
            let _ = nix::unistd::read(e2.as_fd(), &mut buf);
            let now = Instant::now();
            lat.push((now - *s2.lock().expect("stamp")).as_secs_f64() * 1e6);
            let _ = nix::unistd::write(a2.as_fd(), &1u64.to_ne_bytes());
        }
        lat
    });
    pin_to(0);
    let mut buf = [0u8; 8];
    for _ in 0..shots {
        // Let the waiter's CPU go idle, as it would between completions.
        std::thread::sleep(Duration::from_micros(200));
        *stamp.lock().expect("stamp") = Instant::now();
        let _ = nix::unistd::write(efd.as_fd(), &1u64.to_ne_bytes());
        let _ = nix::unistd::read(ack.as_fd(), &mut buf);
    }
    median(t.join().unwrap_or_default())
}

/// A tokio task (current-thread runtime on CPU 1) awaiting an `AsyncFd` on an eventfd, woken by a write from CPU 0:
/// the median latency (µs) from before the write to the task running again.
pub(crate) fn floor_asyncfd_wake(shots: usize) -> f64 {
    use tokio::io::Interest;
    use tokio::io::unix::AsyncFd;
    let efd = nix::sys::eventfd::EventFd::from_value_and_flags(
        0,
        nix::sys::eventfd::EfdFlags::EFD_CLOEXEC | nix::sys::eventfd::EfdFlags::EFD_NONBLOCK,
    )
    .expect("eventfd");
    let wfd: OwnedFd = efd.as_fd().try_clone_to_owned().expect("dup");
    let ack = Arc::new(eventfd());
    let stamp = Arc::new(Mutex::new(Instant::now()));
    let (a2, s2) = (ack.clone(), stamp.clone());
    let t = std::thread::spawn(move || {
        pin_to(1);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            // SAFETY: the AsyncFd owns the eventfd for its whole life.
            let afd = unsafe { AsyncFd::register_with_interest(efd, Interest::READABLE) }
                .map_err(|e| e.into_parts().1)
                .expect("register");
            let mut lat = Vec::with_capacity(shots);
            let _ = nix::unistd::write(a2.as_fd(), &1u64.to_ne_bytes());
            for _ in 0..shots {
                let mut g = afd.readable().await.expect("readable");
                let now = Instant::now();
                lat.push((now - *s2.lock().expect("stamp")).as_secs_f64() * 1e6);
                let mut buf = [0u8; 8];
                let _ = nix::unistd::read(g.get_inner().as_fd(), &mut buf);
                g.clear_ready();
                let _ = nix::unistd::write(a2.as_fd(), &1u64.to_ne_bytes());
            }
            lat
        })
    });
    pin_to(0);
    let mut buf = [0u8; 8];
    let _ = nix::unistd::read(ack.as_fd(), &mut buf);
    for _ in 0..shots {
        std::thread::sleep(Duration::from_micros(200));
        *stamp.lock().expect("stamp") = Instant::now();
        let _ = nix::unistd::write(wfd.as_fd(), &1u64.to_ne_bytes());
        let _ = nix::unistd::read(ack.as_fd(), &mut buf);
    }
    let _ = wfd.as_raw_fd();
    median(t.join().unwrap_or_default())
}

pub(crate) fn unpin() {
    // SAFETY: as in pin_to.
    unsafe {
        let mut set: nix::libc::cpu_set_t = std::mem::zeroed();
        nix::libc::CPU_ZERO(&mut set);
        for c in 0..nix::libc::CPU_SETSIZE as usize {
            nix::libc::CPU_SET(c, &mut set);
        }
        nix::libc::sched_setaffinity(0, std::mem::size_of::<nix::libc::cpu_set_t>(), &set);
    }
}
