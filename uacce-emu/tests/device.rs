//! The emulated device's ring behaviour, interrupt arming, service time, faults and counters (with null jobs; the
//! ZIP and SEC engines have their own tests).

use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use uacce_emu::{
    Counters, DeviceKind, EmuConfig, EmuDevice, EmuError, Fault, QueueState, ServiceModel,
};
use uacce_sys::qm::{DriverRing, RingError};

fn null_device(depth: u16) -> EmuDevice {
    EmuDevice::new(EmuConfig::new(DeviceKind::Null).depth(depth))
}

/// Wait until the eventfd is readable (true) or the timeout passes (false); reading it resets the counter.
fn wait_event(q: &uacce_emu::EmuQueue, timeout_ms: u16) -> bool {
    let mut fds = [PollFd::new(q.eventfd(), PollFlags::POLLIN)];
    let n = poll(&mut fds, PollTimeout::from(timeout_ms)).unwrap();
    if n == 0 {
        return false;
    }
    let mut buf = [0u8; 8];
    let _ = nix::unistd::read(q.eventfd(), &mut buf);
    true
}

fn drain(ring: &mut DriverRing) -> usize {
    let mut n = 0;
    while ring.pop().unwrap().is_some() {
        n += 1;
    }
    n
}

/// Wait until the device's counters satisfy `done` (panics after 5 s).
fn wait_counters(dev: &EmuDevice, done: impl Fn(&Counters) -> bool) {
    let start = Instant::now();
    while !done(&dev.counters()) {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{:?}",
            dev.counters()
        );
        std::thread::yield_now();
    }
}

/// Wait until the ring has a completion at its head (panics after 5 s).
fn wait_completion(ring: &DriverRing) {
    let start = Instant::now();
    while !ring.has_completion() {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "job never completed"
        );
        std::thread::yield_now();
    }
}

#[test]
fn signals_only_when_armed() {
    let dev = null_device(8);
    let q = dev.open_queue(0).unwrap();
    let mut ring = q.driver_ring().unwrap();

    // Not armed: the job completes but no signal arrives.
    // SAFETY: a null device completes SQEs unchanged and never dereferences an address in them.
    unsafe { ring.submit(&[1; 128]) }.unwrap();
    wait_completion(&ring);
    assert!(!wait_event(&q, 50), "signalled without being armed");
    assert_eq!(drain(&mut ring), 1);

    // Armed: the next completion signals once; the arm is one-shot.
    ring.ring_cq(true).unwrap();
    // SAFETY: a null device completes SQEs unchanged and never dereferences an address in them.
    unsafe { ring.submit(&[2; 128]) }.unwrap();
    assert!(wait_event(&q, 2000), "armed completion did not signal");
    assert_eq!(drain(&mut ring), 1);
    ring.ring_cq(false).unwrap();
    // SAFETY: a null device completes SQEs unchanged and never dereferences an address in them.
    unsafe { ring.submit(&[3; 128]) }.unwrap();
    assert!(!wait_event(&q, 50), "arm was not one-shot");
    assert_eq!(drain(&mut ring), 1);
    assert_eq!(dev.counters().completed, 3);
}

/// One SQ doorbell may hand over several SQEs; the counters tell doorbells and jobs apart.
#[test]
fn counts_sq_doorbells_and_the_sqes_they_hand_over() {
    let dev = null_device(16);
    let q = dev.open_queue(0).unwrap();
    let mut ring = q.driver_ring().unwrap();
    let wait_accepted = |n: u64| wait_counters(&dev, |c| c.accepted >= n);
    // Pushed without a doorbell: the device does not see them.
    for i in 0..3 {
        // SAFETY: a null device completes SQEs unchanged and never dereferences an address in them.
        unsafe { ring.push(&[i; 128]) }.unwrap();
    }
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(
        (dev.counters().sq_doorbells, dev.counters().accepted),
        (0, 0)
    );
    // One doorbell for all three.
    ring.ring_sq().unwrap();
    wait_accepted(3);
    // SAFETY: a null device completes SQEs unchanged and never dereferences an address in them.
    unsafe { ring.submit(&[9; 128]) }.unwrap();
    wait_accepted(4);
    let c = dev.counters();
    assert_eq!((c.sq_doorbells, c.accepted), (2, 4));
    // CQ doorbells are not SQ doorbells.
    ring.ring_cq(true).unwrap();
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(dev.counters().sq_doorbells, 2);
}

/// The consumer loop of the architecture (drain, arm, check again, wait) never loses a completion, with a device
/// latency chosen to land completions right around the arm.
#[test]
fn arm_protocol_loses_no_wakeup() {
    let dev = EmuDevice::new(
        EmuConfig::new(DeviceKind::Null)
            .depth(16)
            .service(ServiceModel::Fixed(Duration::from_micros(3))),
    );
    let q = dev.open_queue(0).unwrap();
    let mut ring = q.driver_ring().unwrap();
    const JOBS: usize = 20_000;
    let (mut sent, mut done) = (0, 0);
    while done < JOBS {
        while sent < JOBS && ring.free_slots() > 0 && sent - done < 5 {
            // SAFETY: a null device completes SQEs unchanged and never dereferences an address in them.
            unsafe { ring.push(&[0; 128]) }.unwrap();
            sent += 1;
        }
        ring.ring_sq().unwrap();
        let got = drain(&mut ring);
        done += got;
        if got > 0 {
            // Release the CQ entries, then go back to submitting.
            ring.ring_cq(false).unwrap();
            continue;
        }
        ring.ring_cq(true).unwrap();
        if ring.has_completion() {
            continue;
        }
        assert!(wait_event(&q, 5000), "lost wakeup after {done} jobs");
    }
    let c = dev.counters();
    assert_eq!(c.accepted, JOBS as u64);
    assert_eq!(c.completed, JOBS as u64);
}

#[test]
fn fixed_service_time_delays_visibility() {
    let dev = EmuDevice::new(
        EmuConfig::new(DeviceKind::Null).service(ServiceModel::Fixed(Duration::from_millis(100))),
    );
    let q = dev.open_queue(0).unwrap();
    let mut ring = q.driver_ring().unwrap();
    ring.ring_cq(true).unwrap();
    let t = Instant::now();
    for _ in 0..10 {
        // SAFETY: a null device completes SQEs unchanged and never dereferences an address in them.
        unsafe { ring.push(&[0; 128]) }.unwrap();
    }
    ring.ring_sq().unwrap();
    let mut done = 0;
    while done < 10 {
        assert!(wait_event(&q, 2000));
        done += drain(&mut ring);
        ring.ring_cq(true).unwrap();
    }
    let el = t.elapsed();
    // Pipelined: ten jobs fetched together all become visible after about one latency (100 ms), not ten (1 s);
    // the upper bound leaves room for a slow machine (valgrind).
    assert!(el >= Duration::from_millis(100), "{el:?}");
    assert!(el < Duration::from_millis(500), "{el:?}");
}

#[test]
fn stuck_job_stalls_its_queue_and_is_counted() {
    let dev = null_device(8);
    let q = dev.open_queue(0).unwrap();
    let mut ring = q.driver_ring().unwrap();
    dev.inject(Fault::Stuck(1));
    for _ in 0..3 {
        // SAFETY: a null device completes SQEs unchanged and never dereferences an address in them.
        unsafe { ring.push(&[0; 128]) }.unwrap();
    }
    ring.ring_sq().unwrap();
    // Wait (however slow the machine, e.g. under valgrind) until the device has taken all three jobs and the
    // first one has completed, then give the others time they would need to complete if they could.
    let t = Instant::now();
    let mut done = 0;
    while done == 0 || dev.counters().accepted < 3 {
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "device made no progress"
        );
        done += drain(&mut ring);
        std::thread::yield_now();
    }
    let t = Instant::now();
    while t.elapsed() < Duration::from_millis(200) {
        done += drain(&mut ring);
    }
    assert_eq!(done, 1, "only the job before the stuck one completes");
    drop(ring);
    drop(q);
    let c = dev.counters();
    assert_eq!((c.accepted, c.completed, c.dropped), (3, 1, 2));
}

#[test]
fn reset_sets_status_words_and_signals() {
    let dev = null_device(8);
    let q = dev.open_queue(0).unwrap();
    let q2 = dev.open_queue(0).unwrap();
    let mut ring = q.driver_ring().unwrap();
    dev.inject(Fault::Stuck(0));
    // SAFETY: a null device completes SQEs unchanged and never dereferences an address in them.
    unsafe { ring.submit(&[0; 128]) }.unwrap();
    ring.ring_cq(true).unwrap();
    let t = Instant::now();
    while dev.counters().accepted < 1 {
        assert!(t.elapsed() < Duration::from_secs(5));
        std::thread::yield_now();
    }
    dev.inject(Fault::ResetQueue(q.sqn()));
    assert!(wait_event(&q, 2000), "reset did not wake the consumer");
    assert_eq!(q.state(), QueueState::Reset);
    assert!(matches!(
        ring.pop(),
        Err(RingError::QueueReset { tx: 1, rx: 1 })
    ));
    assert!(matches!(
        // SAFETY: a null device completes SQEs unchanged and never dereferences an address in them.
        unsafe { ring.push(&[0; 128]) },
        Err(RingError::QueueReset { .. })
    ));
    // The other queue is untouched.
    assert_eq!(q2.state(), QueueState::Live);
    let mut r2 = q2.driver_ring().unwrap();
    // SAFETY: a null device completes SQEs unchanged and never dereferences an address in them.
    unsafe { r2.submit(&[0; 128]) }.unwrap();
    let t = Instant::now();
    while !r2.has_completion() {
        assert!(t.elapsed() < Duration::from_secs(5));
        std::thread::yield_now();
    }
    assert_eq!(dev.counters().dropped, 1);
}

#[test]
fn removal_resets_every_queue_and_refuses_new_ones() {
    let dev = null_device(8);
    let q = dev.open_queue(0).unwrap();
    let ring = q.driver_ring().unwrap();
    dev.remove();
    assert!(wait_event(&q, 2000));
    assert_eq!(q.state(), QueueState::Removed);
    assert!(matches!(
        ring.check_alive(),
        Err(RingError::QueueReset { .. })
    ));
    assert!(matches!(dev.open_queue(0), Err(EmuError::Removed(_))));
}

#[test]
fn bad_doorbell_disables_the_queue() {
    let dev = null_device(8);
    let q = dev.open_queue(0).unwrap();
    // An SQ doorbell with an index outside the 8-slot ring.
    let v = uacce_sys::qm::encode_doorbell(
        q.version(),
        uacce_sys::qm::DoorbellFields {
            sqn: q.sqn(),
            cmd: uacce_sys::qm::DoorbellCmd::Sq,
            index: 9,
            priority: 0,
        },
    )
    .unwrap();
    // SAFETY: the index is outside the ring, so the device refuses the doorbell (and a null device never
    // dereferences SQE addresses anyway).
    unsafe { q.doorbell().ring(v) }.unwrap();
    assert!(wait_event(&q, 2000));
    assert_eq!(q.state(), QueueState::Reset);
    assert_eq!(dev.counters().bad_doorbells, 1);
}

#[test]
fn queue_limits_and_qc_types() {
    let dev = EmuDevice::new(EmuConfig::new(DeviceKind::Zip).max_queues(2).depth(4));
    assert_eq!(dev.available_instances(), 2);
    assert!(matches!(dev.open_queue(2), Err(EmuError::BadQcType(2))));
    let a = dev.open_queue(0).unwrap();
    let _b = dev.open_queue(1).unwrap();
    assert_eq!(dev.available_instances(), 0);
    assert!(matches!(dev.open_queue(0), Err(EmuError::Busy(..))));
    drop(a);
    assert_eq!(dev.available_instances(), 1);
    let sec = EmuDevice::new(EmuConfig::new(DeviceKind::Sec));
    assert!(matches!(sec.open_queue(1), Err(EmuError::BadQcType(1))));
}

#[test]
fn closing_with_jobs_pending_counts_them_dropped() {
    let dev = EmuDevice::new(
        EmuConfig::new(DeviceKind::Null).service(ServiceModel::Fixed(Duration::from_secs(10))),
    );
    let q = dev.open_queue(0).unwrap();
    let mut ring = q.driver_ring().unwrap();
    for _ in 0..5 {
        // SAFETY: a null device completes SQEs unchanged and never dereferences an address in them.
        unsafe { ring.push(&[0; 128]) }.unwrap();
    }
    ring.ring_sq().unwrap();
    let t = Instant::now();
    while dev.counters().accepted < 5 {
        assert!(t.elapsed() < Duration::from_secs(5));
        std::thread::yield_now();
    }
    drop(ring);
    let t = Instant::now();
    drop(q);
    assert!(
        t.elapsed() < Duration::from_secs(1),
        "close must not wait for the service time"
    );
    let c = dev.counters();
    assert_eq!((c.accepted, c.completed, c.dropped), (5, 0, 5));
}

/// Without a doorbell watch, a sleeping device thread is woken by what needs it at once and by nothing else: an SQ
/// doorbell, an arm with a completion already past the consumer's head, and a CQ doorbell that frees the CQ space
/// the device waits for. A CQ doorbell that needs nothing at once is applied when the thread next wakes, before it
/// posts: an arm rung while the device slept still signals the next completion.
#[test]
fn cq_doorbells_wake_a_sleeping_device_only_when_it_needs_them() {
    let dev = EmuDevice::new(
        EmuConfig::new(DeviceKind::Null)
            .depth(4)
            .doorbell_watch(Duration::ZERO),
    );
    let q = dev.open_queue(0).unwrap();
    let mut ring = q.driver_ring().unwrap();
    let nap = || std::thread::sleep(Duration::from_millis(30));
    let wakeups = || dev.counters().doorbell_wakeups;

    // SAFETY (every submit and push below): a null device completes SQEs unchanged and never dereferences an
    // address in them.
    unsafe { ring.submit(&[1; 128]) }.unwrap();
    wait_completion(&ring);
    assert_eq!(drain(&mut ring), 1);
    nap();
    let w = wakeups();
    // Head moves and an arm with nothing outstanding: no wake-up.
    ring.ring_cq(false).unwrap();
    ring.ring_cq(true).unwrap();
    nap();
    assert_eq!(
        wakeups(),
        w,
        "CQ doorbells woke a device that needed nothing"
    );
    assert!(!wait_event(&q, 20), "signalled with nothing posted");
    // New work wakes it, and the arm it had not yet applied signals this completion.
    unsafe { ring.submit(&[2; 128]) }.unwrap();
    assert!(wait_event(&q, 2000), "the queued arm did not signal");
    assert_eq!(wakeups(), w + 1);
    assert_eq!(drain(&mut ring), 1);
    ring.ring_cq(false).unwrap();

    // A completion posted and not consumed, then an arm at the old head: the device must signal at once.
    unsafe { ring.submit(&[3; 128]) }.unwrap();
    wait_completion(&ring);
    nap();
    let w = wakeups();
    ring.ring_cq(true).unwrap();
    assert!(
        wait_event(&q, 2000),
        "arm with a completion outstanding did not signal"
    );
    assert_eq!(wakeups(), w + 1);
    assert_eq!(drain(&mut ring), 1);
    ring.ring_cq(false).unwrap();

    // A full CQ (depth - 1 entries): a job behind them waits for space; releasing the entries wakes the device.
    let before = dev.counters().completed;
    for i in 0..3 {
        unsafe { ring.push(&[10 + i; 128]) }.unwrap();
    }
    ring.ring_sq().unwrap();
    wait_counters(&dev, |c| c.completed >= before + 3);
    // Consume one without telling the device (no CQ doorbell), which frees an SQ slot for a fourth job.
    assert!(ring.pop().unwrap().is_some());
    unsafe { ring.submit(&[13; 128]) }.unwrap();
    nap();
    assert_eq!(
        dev.counters().completed,
        before + 3,
        "posted into a full CQ"
    );
    let w = wakeups();
    ring.ring_cq(false).unwrap();
    wait_counters(&dev, |c| c.completed >= before + 4);
    assert_eq!(wakeups(), w + 1);
    assert_eq!(drain(&mut ring), 3);
    let c = dev.counters();
    assert_eq!((c.accepted, c.completed, c.dropped), (7, 7, 0));
}

/// Within its doorbell watch a device thread takes doorbells without being woken; with the watch off, every
/// doorbell after a pause wakes it.
#[test]
fn a_watching_device_takes_doorbells_without_a_wakeup() {
    for (watch, gap, expect) in [
        (Duration::from_secs(30), Duration::from_millis(2), 1),
        (Duration::ZERO, Duration::from_millis(10), 20),
    ] {
        let dev = EmuDevice::new(EmuConfig::new(DeviceKind::Null).doorbell_watch(watch));
        let q = dev.open_queue(0).unwrap();
        let mut ring = q.driver_ring().unwrap();
        // The thread sleeps before the first job: that doorbell wakes it.
        std::thread::sleep(Duration::from_millis(20));
        for i in 0..20u8 {
            // SAFETY: a null device completes SQEs unchanged and never dereferences an address in them.
            unsafe { ring.submit(&[i; 128]) }.unwrap();
            wait_completion(&ring);
            assert_eq!(drain(&mut ring), 1);
            ring.ring_cq(false).unwrap();
            std::thread::sleep(gap);
        }
        assert_eq!(
            dev.counters().doorbell_wakeups,
            expect,
            "watch {watch:?}, {gap:?} between jobs"
        );
        // Closing ends a watch at once (the 30 s one would otherwise hold the join).
        let t = Instant::now();
        drop(ring);
        drop(q);
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "close waited for the watch"
        );
    }
}
