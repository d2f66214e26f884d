//! Doorbell batching: while a lane's driver dispatches a batch of completions, the jobs submitted meanwhile (by the
//! tasks it woke) only push their SQEs, and the driver rings the SQ doorbell once when the batch ends. Every one of
//! those jobs must still reach the device: a batch whose end did not ring would leave its jobs on the ring, unseen,
//! and their tasks waiting for ever.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use common::*;
use uacce_async::*;

/// The modes whose drivers batch doorbells (busy-poll's thread drains without batching).
const BATCHING: [NotifyMode; 4] = [
    NotifyMode::Eventfd,
    NotifyMode::Interrupt,
    NotifyMode::Hybrid,
    NotifyMode::IoUring,
];

/// `tasks` tasks each running `rounds` null jobs back to back, then the device's counters are checked against the
/// number of jobs submitted. No job timeout: a job whose doorbell never rings hangs (and the bound below fails the
/// test) instead of being retired.
async fn run_rounds(mode: NotifyMode, service: EmuOptions, tasks: usize, rounds: usize) {
    let accel = Accel::builder()
        .backend(Backend::Emulated)
        .mode(mode)
        .queues_per_device(1)
        .job_timeout(None)
        .emu(service)
        .build()
        .await
        .expect("emulated accelerator");
    let submitted = Arc::new(AtomicU64::new(0));
    let handles: Vec<_> = (0..tasks)
        .map(|_| {
            let (accel, submitted) = (accel.clone(), submitted.clone());
            tokio::spawn(async move {
                for _ in 0..rounds {
                    submitted.fetch_add(1, Ordering::Relaxed);
                    accel.nop().await?;
                }
                Ok::<_, Error>(())
            })
        })
        .collect();
    let all = async {
        for h in handles {
            h.await.expect("job task").expect("null job");
        }
    };
    if tokio::time::timeout(Duration::from_secs(60), all)
        .await
        .is_err()
    {
        panic!(
            "{mode}: jobs hung ({} submitted; device {:?}): a batch's SQ doorbell was never rung?",
            submitted.load(Ordering::Relaxed),
            null_device(&accel).counters()
        );
    }
    let jobs = (tasks * rounds) as u64;
    let c = null_device(&accel).counters();
    assert_eq!(submitted.load(Ordering::Relaxed), jobs, "{mode}");
    assert_eq!(c.accepted, jobs, "{mode}: {c:?}");
    assert_eq!(c.completed, jobs, "{mode}: {c:?}");
    assert_eq!(
        (c.failed, c.dropped, c.bad_doorbells),
        (0, 0, 0),
        "{mode}: {c:?}"
    );
    // Batching happened: fewer doorbells than jobs (each doorbell handed over at least one SQE, some several).
    assert!(
        c.sq_doorbells >= 1 && c.sq_doorbells < jobs,
        "{mode}: {c:?}"
    );
}

/// One thread: the job tasks only run when the driver lets them, i.e. inside its batch (it requeues itself behind
/// the tasks it woke). So after the first round every job is submitted with the doorbell deferred, and only the end
/// of the batch can hand it to the device.
#[test]
fn jobs_submitted_inside_a_batch_reach_the_device_one_thread() {
    for mode in BATCHING {
        for service in [EmuOptions::default(), service(50)] {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime")
                .block_on(run_rounds(mode, service, 16, scaled(200).max(20)));
        }
    }
}

/// Two workers: some tasks run on the driver's worker inside its batch, others on the other worker at any moment
/// (then their doorbells ring at once, or are deferred if a batch is open on that lane).
#[test]
fn jobs_submitted_inside_a_batch_reach_the_device_two_workers() {
    for mode in BATCHING {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(run_rounds(mode, service(20), 32, scaled(200).max(20)));
    }
}
