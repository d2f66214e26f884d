//! The `BusyPoll` strategy: one thread spinning over every lane's CQ.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::lane::Lane;

/// The `BusyPoll` strategy: one thread spinning over every registered lane's CQ.
pub(crate) struct BusyPoller {
    lanes: Arc<Mutex<Vec<Arc<Lane>>>>,
    generation: Arc<std::sync::atomic::AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl BusyPoller {
    pub(crate) fn start() -> io::Result<Self> {
        let lanes: Arc<Mutex<Vec<Arc<Lane>>>> = Arc::default();
        let generation = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (l2, g2, s2) = (lanes.clone(), generation.clone(), stop.clone());
        let thread = std::thread::Builder::new()
            .name("uacce-busy-poll".into())
            .spawn(move || {
                let mut local: Vec<Arc<Lane>> = Vec::new();
                let mut seen = u64::MAX;
                let mut last_check = Instant::now();
                while !s2.load(Ordering::Relaxed) {
                    let g = g2.load(Ordering::Acquire);
                    if g != seen {
                        local = l2.lock().unwrap_or_else(|e| e.into_inner()).clone();
                        seen = g;
                    }
                    let mut any = false;
                    for lane in &local {
                        if lane.has_completion() {
                            lane.drain();
                            any = true;
                        }
                    }
                    if last_check.elapsed() > Duration::from_millis(1) {
                        last_check = Instant::now();
                        let mut dead = false;
                        for lane in &local {
                            // drain() also notices a queue the device disabled (status words).
                            lane.drain();
                            lane.expire(last_check);
                            dead |= lane.is_dead();
                        }
                        if dead {
                            let mut l = l2.lock().unwrap_or_else(|e| e.into_inner());
                            l.retain(|x| !x.is_dead());
                            g2.fetch_add(1, Ordering::Release);
                        }
                    }
                    if !any {
                        std::hint::spin_loop();
                    }
                }
            })?;
        Ok(Self {
            lanes,
            generation,
            stop,
            thread: Some(thread),
        })
    }

    pub(crate) fn add(&self, lane: Arc<Lane>) {
        // The wait fd is not needed: nothing sleeps.
        drop(lane.take_wait_fd());
        self.lanes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(lane);
        self.generation.fetch_add(1, Ordering::Release);
    }
}

impl Drop for BusyPoller {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
