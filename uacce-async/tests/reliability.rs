//! No lost wakeups, nothing lost when futures are dropped, backpressure without spinning, and faults that end in
//! typed errors while the pool keeps serving.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use uacce_async::*;

fn sec_devices(accel: &Accel) -> Vec<EmuDevice> {
    accel
        .emulated_devices()
        .iter()
        .filter(|d| d.config().kind == uacce_emu::DeviceKind::Sec)
        .cloned()
        .collect()
}

/// 10^5 jobs through each mode, with a device latency of a few µs so that completions land right around the
/// moment the driver arms the interrupt. A lost wakeup would hang a job: every job must finish, and the device's
/// counters must show each accepted job completed exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_lost_wakeups_in_any_mode() {
    let jobs = scaled(100_000);
    for mode in NotifyMode::ALL {
        let accel = emu(mode, service(2), Some(Duration::from_secs(10))).await;
        let per_task = jobs / 8;
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let a = accel.clone();
            tasks.push(tokio::spawn(async move {
                for _ in 0..per_task {
                    a.nop().await.unwrap();
                }
            }));
        }
        let all = async {
            for t in tasks {
                t.await.unwrap();
            }
        };
        tokio::time::timeout(Duration::from_secs(120), all)
            .await
            .unwrap_or_else(|_| panic!("{mode}: jobs hung (lost wakeup?)"));
        let c = null_device(&accel).counters();
        assert_eq!(c.accepted, (per_task * 8) as u64, "{mode}");
        assert_eq!(c.completed, c.accepted, "{mode}");
        assert_eq!(c.dropped, 0, "{mode}");
    }
}

/// Input memory that records when it is freed.
struct Watched {
    data: Vec<u8>,
    freed_at: Arc<AtomicU64>,
    epoch: Instant,
}

impl AsRef<[u8]> for Watched {
    fn as_ref(&self) -> &[u8] {
        &self.data
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        self.freed_at
            .store(self.epoch.elapsed().as_micros() as u64, Ordering::SeqCst);
    }
}

/// Futures dropped right after submission: the job's buffers stay owned until the device completes it (the
/// device holds each job for 150 ms here, so memory freed at the drop would be freed 150 ms too early; the long
/// service time also leaves room to see the job on the device under valgrind).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_futures_keep_buffers_until_completion() {
    let opts = service(150_000);
    let accel = emu(NotifyMode::Eventfd, opts, Some(Duration::from_secs(10))).await;
    let epoch = Instant::now();
    for i in 0..8 {
        let freed_at = Arc::new(AtomicU64::new(u64::MAX));
        let data = Bytes::from_owner(Watched {
            data: vec![i as u8; 10_000],
            freed_at: freed_at.clone(),
            epoch,
        });
        let submitted = epoch.elapsed().as_micros() as u64;
        {
            let dev = sec_devices(&accel)[0].clone();
            let before = dev.counters().accepted;
            let fut = accel.digest(HashAlg::Sha256, data);
            tokio::pin!(fut);
            // Poll it until the device has taken the job, then drop it.
            let on_device = async {
                while dev.counters().accepted == before {
                    tokio::time::sleep(Duration::from_micros(200)).await;
                }
            };
            tokio::select! {
                r = &mut fut => panic!("job finished before it was dropped: {r:?}"),
                _ = on_device => {}
            }
        }
        assert_eq!(
            freed_at.load(Ordering::SeqCst),
            u64::MAX,
            "freed at the drop"
        );
        let t = Instant::now();
        while freed_at.load(Ordering::SeqCst) == u64::MAX {
            assert!(t.elapsed() < Duration::from_secs(5), "never freed (leak)");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let held = freed_at.load(Ordering::SeqCst) - submitted;
        assert!(
            held >= 149_000,
            "freed after {held} µs, before the device finished"
        );
    }
    let c = sec_devices(&accel)[0].counters();
    assert_eq!(c.completed, c.accepted);
}

/// 10^5 jobs, a random share of them dropped at random points (before submission, while queued for a slot,
/// while on the device): every accepted job completes once, and the results of the rest are correct.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_drops_lose_nothing() {
    let jobs = scaled(100_000);
    let accel = emu(
        NotifyMode::Eventfd,
        service(5).depth(64),
        Some(Duration::from_secs(10)),
    )
    .await;
    let expect = uacce_emu::soft::hash(uacce_sys::qm::sec::DigestAlg::Sha256, b"payload").unwrap();
    let ok = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for t in 0..16u64 {
        let a = accel.clone();
        let ok = ok.clone();
        let expect = expect.clone();
        tasks.push(tokio::spawn(async move {
            let mut rng = Rng::new(t + 1);
            for _ in 0..jobs / 16 {
                let fut = a.digest(HashAlg::Sha256, Bytes::from_static(b"payload"));
                match rng.below(4) {
                    0 => drop(fut),
                    1 => {
                        let us = rng.below(30);
                        if let Ok(r) = tokio::time::timeout(Duration::from_micros(us), fut).await {
                            assert_eq!(r.unwrap(), expect);
                            ok.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    _ => {
                        assert_eq!(fut.await.unwrap(), expect);
                        ok.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let dev = &sec_devices(&accel)[0];
    let t = Instant::now();
    loop {
        let c = dev.counters();
        if c.completed == c.accepted {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "jobs outstanding: {c:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let c = dev.counters();
    assert_eq!(c.failed, 0);
    assert_eq!(c.dropped, 0);
    assert!(ok.load(Ordering::Relaxed) >= (jobs / 2) as u64 - 16);
    assert!(c.accepted >= ok.load(Ordering::Relaxed));
}

/// A depth-4 queue and 1,000 concurrent jobs: submitters wait for slots (woken by completions), and the
/// application's threads use a small part of the wall time (a spinning submitter or driver would use all of it).
#[test]
fn depth_four_many_jobs_without_spinning() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("app-worker")
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let accel = emu(
            NotifyMode::Eventfd,
            service(2_000).depth(4),
            Some(Duration::from_secs(30)),
        )
        .await;
        let before = threads_cpu("app-worker");
        let t = Instant::now();
        let jobs = scaled(1000).max(50);
        let futs: Vec<_> = (0..jobs)
            .map(|i| {
                let a = accel.clone();
                tokio::spawn(async move {
                    a.digest(HashAlg::Sha256, Bytes::from(vec![i as u8; 64]))
                        .await
                })
            })
            .collect();
        for f in futs {
            f.await.unwrap().unwrap();
        }
        let wall = t.elapsed();
        let cpu = threads_cpu("app-worker") - before;
        let c = sec_devices(&accel)[0].counters();
        assert_eq!(c.completed, jobs as u64);
        // 2 queues × 3 usable slots, 2 ms each: ~jobs/6 × 2 ms of wall time.
        assert!(
            wall >= Duration::from_millis((jobs as u64 / 6) * 2 * 9 / 10),
            "{wall:?}"
        );
        assert!(
            cpu.as_secs_f64() < 0.25 * wall.as_secs_f64(),
            "application threads used {cpu:?} CPU in {wall:?}"
        );
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_error_status_is_a_typed_error() {
    let accel = emu_default(NotifyMode::Eventfd).await;
    let dev = &sec_devices(&accel)[0];
    let next = dev.counters().accepted;
    dev.inject(Fault::ErrorStatus(next));
    let r = accel.digest(HashAlg::Sha256, &b"abc"[..]).await;
    assert!(matches!(r, Err(Error::Device(_))), "{r:?}");
    // The queue is still good.
    assert_eq!(
        accel.digest(HashAlg::Sha256, &b"abc"[..]).await.unwrap()[0],
        0xba
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stuck_job_times_out_and_the_pool_keeps_serving() {
    for mode in NotifyMode::ALL {
        let accel = emu(
            mode,
            EmuOptions::default(),
            Some(Duration::from_millis(300)),
        )
        .await;
        let dev = &sec_devices(&accel)[0];
        dev.inject(Fault::Stuck(dev.counters().accepted));
        let t = Instant::now();
        let r = accel.digest(HashAlg::Sha256, &b"abc"[..]).await;
        assert!(matches!(r, Err(Error::Timeout(_))), "{mode}: {r:?}");
        assert!(
            t.elapsed() < Duration::from_secs(1),
            "{mode}: {:?}",
            t.elapsed()
        );
        for _ in 0..20 {
            assert_eq!(
                accel.digest(HashAlg::Sha256, &b"abc"[..]).await.unwrap()[0],
                0xba,
                "{mode}"
            );
        }
    }
}

/// The drivers keep one deadline timer across sleeps, set to the earliest pending deadline. A job submitted while
/// that timer is set for an earlier job (which then completes) must still time out at its own deadline: not at the
/// earlier job's (the early firing only re-arms the timer), and not never.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stuck_job_behind_an_earlier_jobs_timer_times_out_at_its_own_deadline() {
    let timeout = Duration::from_millis(400);
    for mode in NotifyMode::ALL {
        let accel = Accel::builder()
            .backend(Backend::Emulated)
            .mode(mode)
            .queues_per_device(1)
            .job_timeout(Some(timeout))
            .emu(service(150_000))
            // The timeout is the caller's error here, not redone on the CPU.
            .routing(Routing::device_only().cpu_backup(false))
            .build()
            .await
            .unwrap();
        let dev = sec_devices(&accel)[0].clone();
        // The job after A (B) never completes.
        dev.inject(Fault::Stuck(dev.counters().accepted + 1));
        // A: completes after 150 ms; while it is in flight the driver sleeps with its timer at A's deadline.
        let a = {
            let accel = accel.clone();
            tokio::spawn(async move { accel.digest(HashAlg::Sha256, &b"a"[..]).await })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        // B: submitted 50 ms after A, so its deadline is ~50 ms after A's.
        let t = Instant::now();
        let b = tokio::time::timeout(
            Duration::from_secs(10),
            accel.digest(HashAlg::Sha256, &b"b"[..]),
        )
        .await
        .unwrap_or_else(|_| panic!("{mode}: B never timed out"));
        let waited = t.elapsed();
        assert!(a.await.unwrap().is_ok(), "{mode}: job A failed");
        assert!(matches!(b, Err(Error::Timeout(_))), "{mode}: {b:?}");
        assert!(
            waited >= timeout,
            "{mode}: B failed after {waited:?}, before its timeout"
        );
        assert!(
            waited < Duration::from_secs(3),
            "{mode}: B failed only after {waited:?}"
        );
        assert_eq!(
            accel.digest(HashAlg::Sha256, &b"abc"[..]).await.unwrap()[0],
            0xba,
            "{mode}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_reset_fails_pending_jobs_and_the_pool_recovers() {
    for mode in NotifyMode::ALL {
        let accel = emu(mode, service(300_000), Some(Duration::from_secs(10))).await;
        let dev = sec_devices(&accel)[0].clone();
        let a = accel.clone();
        let job = tokio::spawn(async move { a.digest(HashAlg::Sha256, &b"abc"[..]).await });
        while dev.counters().accepted == 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let t = Instant::now();
        for sqn in 0..8 {
            dev.inject(Fault::ResetQueue(sqn));
        }
        let r = job.await.unwrap();
        assert!(matches!(r, Err(Error::QueueReset)), "{mode}: {r:?}");
        assert!(t.elapsed() < Duration::from_secs(1), "{mode}");
        // Replacement queues serve the next jobs.
        let r = accel.digest(HashAlg::Sha256, &b"abc"[..]).await;
        assert_eq!(r.unwrap()[0], 0xba, "{mode}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_removal_fails_its_jobs_and_the_other_device_serves() {
    for mode in NotifyMode::ALL {
        let opts = service(200_000).devices(2);
        let accel = emu(mode, opts, Some(Duration::from_secs(10))).await;
        let devs = sec_devices(&accel);
        let jobs: Vec<_> = (0..8)
            .map(|_| {
                let a = accel.clone();
                tokio::spawn(async move { a.digest(HashAlg::Sha256, &b"abc"[..]).await })
            })
            .collect();
        while devs[0].counters().accepted == 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let t = Instant::now();
        devs[0].remove();
        let mut removed = 0;
        for j in jobs {
            match j.await.unwrap() {
                Ok(d) => assert_eq!(d[0], 0xba),
                Err(Error::DeviceRemoved) => {
                    removed += 1;
                    assert!(
                        t.elapsed() < Duration::from_secs(1),
                        "{mode}: {:?}",
                        t.elapsed()
                    );
                }
                Err(e) => panic!("{mode}: {e}"),
            }
        }
        assert!(removed > 0, "{mode}: no job was on the removed device");
        for _ in 0..3 {
            assert_eq!(
                accel.digest(HashAlg::Sha256, &b"abc"[..]).await.unwrap()[0],
                0xba,
                "{mode}"
            );
        }
        assert_eq!(
            devs[0].counters().accepted,
            devs[0].counters().completed + devs[0].counters().dropped
        );
    }
}
