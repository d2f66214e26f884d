//! The queues of one kind of job across devices: selection (most free ring slots, NUMA-local first, ties
//! round-robin), backpressure (a full ring makes a submission wait in the lane), and reopening retired queues.
//! A job's follow-up request (`Step::Again`, e.g. an RSA fault check) skips selection and goes back to the lane
//! that served the job while that lane is live and has a free slot (`Inner::execute`).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use uacce_sys::qm::QmVersion;

use crate::backend::{LaneEnv, Source};
use crate::config::Backend;
use crate::error::{DeviceErrorKind, Error, Result};
use crate::lane::{Class, Lane};
use crate::stats::{DeviceStats, QueueStats};

/// The queues of one kind of job.
pub(crate) struct ClassPool {
    pub(crate) class: Class,
    sources: Vec<Source>,
    lanes: RwLock<Vec<Arc<Lane>>>,
    /// True while every lane in `lanes` is on the same NUMA node (or there is at most one): queue selection then has
    /// no locality to weigh and skips asking which node the caller runs on (a `getcpu` syscall per job). Updated
    /// under the `lanes` write lock whenever the lanes change.
    numa_uniform: AtomicBool,
    /// Queues per device.
    per_device: usize,
    target: usize,
    next: AtomicUsize,
    last_reopen: Mutex<Option<Instant>>,
    /// The counters of lanes dropped by `reopen`, per device (statistics keep what retired queues did).
    retired: Mutex<Vec<DeviceStats>>,
}

impl ClassPool {
    /// Open up to `per_device` queues of `class` on each of `sources`. `None` when there are no sources, or when
    /// no queue could be opened and `backend` is `Auto` (the jobs then run on the CPU); an error when no queue
    /// could be opened under the other backends.
    pub(crate) fn open(
        class: Class,
        sources: Vec<Source>,
        per_device: usize,
        backend: Backend,
        env: &LaneEnv<'_>,
    ) -> Result<Option<Self>> {
        if sources.is_empty() {
            return Ok(None);
        }
        let per = per_device.max(1);
        let pool = ClassPool {
            class,
            target: per * sources.len(),
            sources,
            lanes: RwLock::new(Vec::new()),
            numa_uniform: AtomicBool::new(true),
            per_device: per,
            next: AtomicUsize::new(0),
            last_reopen: Mutex::new(None),
            retired: Mutex::new(Vec::new()),
        };
        let mut lanes = Vec::new();
        let mut last_err = None;
        for src in &pool.sources {
            let n = src.available().map_or(per, |a| per.min(a));
            for _ in 0..n {
                match src.open_lane(class, env) {
                    Ok(l) => lanes.push(l),
                    Err(e) => {
                        tracing::warn!(device = %src.name(), "could not open a queue: {e}");
                        last_err = Some(e);
                        break;
                    }
                }
            }
        }
        if lanes.is_empty() {
            return match backend {
                Backend::Auto => {
                    tracing::warn!("no queue could be opened for {class:?}; using the CPU backend");
                    Ok(None)
                }
                _ => Err(last_err.unwrap_or_else(|| {
                    Error::no_device("no queue could be opened", DeviceErrorKind::Other)
                })),
            };
        }
        {
            let mut guard = pool.lanes.write().unwrap_or_else(|e| e.into_inner());
            *guard = lanes;
            pool.update_numa(&guard);
        }
        Ok(Some(pool))
    }

    /// Recompute `numa_uniform` after a change of `lanes` (the caller holds the write lock).
    fn update_numa(&self, lanes: &[Arc<Lane>]) {
        let uniform = lanes.windows(2).all(|w| w[0].numa_node == w[1].numa_node);
        self.numa_uniform.store(uniform, Ordering::Relaxed);
    }

    /// A live lane: the one with the most free ring slots (NUMA-local first), reopening queues when some were
    /// retired.
    pub(crate) fn pick(&self, env: &LaneEnv<'_>) -> Result<Arc<Lane>> {
        {
            let lanes = self.lanes.read().unwrap_or_else(|e| e.into_inner());
            let live = lanes.iter().filter(|l| !l.is_dead()).count();
            if (live == lanes.len() || live >= self.target)
                && let Some(l) = best_lane(&lanes, self)
            {
                return Ok(l);
            }
        }
        self.reopen(env);
        let lanes = self.lanes.read().unwrap_or_else(|e| e.into_inner());
        best_lane(&lanes, self).ok_or_else(|| {
            Error::no_device(
                format!("no live {:?} queue could be opened", self.class),
                DeviceErrorKind::Other,
            )
        })
    }

    /// Drop retired lanes and open replacements (at most every 100 ms).
    fn reopen(&self, env: &LaneEnv<'_>) {
        {
            let mut last = self.last_reopen.lock().unwrap_or_else(|e| e.into_inner());
            if last.is_some_and(|t| t.elapsed() < Duration::from_millis(100)) {
                return;
            }
            *last = Some(Instant::now());
        }
        let mut lanes = self.lanes.write().unwrap_or_else(|e| e.into_inner());
        {
            let mut retired = self.retired.lock().unwrap_or_else(|e| e.into_inner());
            for l in lanes.iter().filter(|l| l.is_dead()) {
                let q = queue_stats(l);
                let d = crate::stats::device_entry(&mut retired, &q.device);
                crate::stats::add_queue(d, &q);
                // Only live queues count as open.
                d.live_queues = 0;
            }
        }
        lanes.retain(|l| !l.is_dead());
        for src in &self.sources {
            let name = src.name();
            let have = lanes.iter().filter(|l| l.device == name).count();
            for _ in have..self.per_device {
                match src.open_lane(self.class, env) {
                    Ok(l) => {
                        tracing::info!(device = %name, "opened a replacement queue");
                        lanes.push(l);
                    }
                    Err(e) => {
                        tracing::debug!(device = %name, "no replacement queue: {e}");
                        break;
                    }
                }
            }
        }
        self.update_numa(&lanes);
    }

    /// True if every lane speaks `version` (e.g. to send a mode QM v2 lacks to the CPU).
    pub(crate) fn all_lanes_are(&self, version: QmVersion) -> bool {
        self.lanes
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .all(|l| l.version == version)
    }

    /// True if there are lanes and every one is on a kernel soft device ([`Lane::soft`](crate::lane::Lane)).
    pub(crate) fn all_lanes_soft(&self) -> bool {
        let lanes = self.lanes.read().unwrap_or_else(|e| e.into_inner());
        !lanes.is_empty() && lanes.iter().all(|l| l.soft)
    }

    /// Lanes not retired.
    pub(crate) fn live_lanes(&self) -> usize {
        self.lanes
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|l| !l.is_dead())
            .count()
    }

    /// True when no live lane has a free ring slot (every queue of the family is full).
    pub(crate) fn saturated(&self) -> bool {
        self.lanes
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .all(|l| l.is_dead() || l.free_slots() == 0)
    }

    /// The counters of this pool's queues (appended to `queues`) and of the queues it dropped, per device
    /// (added into `devices`).
    pub(crate) fn stats_into(&self, queues: &mut Vec<QueueStats>, devices: &mut Vec<DeviceStats>) {
        for l in self.lanes.read().unwrap_or_else(|e| e.into_inner()).iter() {
            queues.push(queue_stats(l));
        }
        for r in self
            .retired
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            let d = crate::stats::device_entry(devices, &r.name);
            d.submitted += r.submitted;
            d.completed += r.completed;
            d.failed = crate::stats::add_fail(d.failed, r.failed);
            d.bytes_in += r.bytes_in;
            d.bytes_out += r.bytes_out;
            d.backpressure_waits += r.backpressure_waits;
        }
    }

    /// Retire every lane with `err` (the accelerator is going away).
    pub(crate) fn retire_all(&self, err: Error) {
        for l in self.lanes.read().unwrap_or_else(|e| e.into_inner()).iter() {
            l.retire(err.clone());
        }
    }
}

/// The pools of an accelerator, one per kind of job; `None` where that kind runs on the CPU.
#[derive(Default)]
pub(crate) struct Pools {
    pub(crate) zip_compress: Option<ClassPool>,
    pub(crate) zip_decompress: Option<ClassPool>,
    pub(crate) sec: Option<ClassPool>,
    pub(crate) null: Option<ClassPool>,
    pub(crate) hpre: Option<ClassPool>,
    pub(crate) hpre_ecc: Option<ClassPool>,
}

impl Pools {
    /// The pool of `class`, if its jobs run on devices.
    pub(crate) fn get(&self, class: Class) -> Option<&ClassPool> {
        match class {
            Class::ZipCompress => self.zip_compress.as_ref(),
            Class::ZipDecompress => self.zip_decompress.as_ref(),
            Class::Sec => self.sec.as_ref(),
            Class::Null => self.null.as_ref(),
            Class::Hpre => self.hpre.as_ref(),
            Class::HpreEcc => self.hpre_ecc.as_ref(),
        }
    }

    /// Put `pool` in `class`'s place.
    pub(crate) fn set(&mut self, class: Class, pool: Option<ClassPool>) {
        *match class {
            Class::ZipCompress => &mut self.zip_compress,
            Class::ZipDecompress => &mut self.zip_decompress,
            Class::Sec => &mut self.sec,
            Class::Null => &mut self.null,
            Class::Hpre => &mut self.hpre,
            Class::HpreEcc => &mut self.hpre_ecc,
        } = pool;
    }

    /// Every pool.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &ClassPool> {
        [
            &self.zip_compress,
            &self.zip_decompress,
            &self.sec,
            &self.null,
            &self.hpre,
            &self.hpre_ecc,
        ]
        .into_iter()
        .flatten()
    }
}

/// A snapshot of `l`'s counters.
fn queue_stats(l: &Lane) -> QueueStats {
    use std::sync::atomic::Ordering::Relaxed;
    let retired = l.is_dead();
    let (bytes_in, bytes_out) = l.stats.q.bytes();
    QueueStats {
        device: l.device.clone(),
        kind: match l.class {
            Class::ZipCompress => "compress",
            Class::ZipDecompress => "decompress",
            Class::Sec => "sec",
            Class::Null => "null",
            Class::Hpre => "hpre",
            Class::HpreEcc => "hpre-ecc",
        },
        retired,
        submitted: l.stats.submitted.load(Relaxed),
        completed: l.stats.completed.load(Relaxed),
        // A retired queue's ring may be unmapped: never read it.
        in_flight: if retired { 0 } else { l.in_flight() as u64 },
        failed: l.stats.q.failed_counts(),
        bytes_in,
        bytes_out,
        backpressure_waits: l.stats.q.waits(),
    }
}

/// The live lane with the most free ring slots, preferring lanes on the caller's NUMA node; ties go round-robin.
fn best_lane(lanes: &[Arc<Lane>], pool: &ClassPool) -> Option<Arc<Lane>> {
    // With every lane on one node, "local" is the same for all of them and cannot change the choice.
    let node = if pool.numa_uniform.load(Ordering::Relaxed) {
        None
    } else {
        current_numa_node()
    };
    let start = pool.next.fetch_add(1, Ordering::Relaxed);
    let n = lanes.len();
    let mut best: Option<(usize, bool, &Arc<Lane>)> = None;
    for k in 0..n {
        let l = &lanes[(start + k) % n];
        if l.is_dead() {
            continue;
        }
        let free = l.free_slots();
        let local = node.is_some() && l.numa_node == node;
        let better = match best {
            None => true,
            Some((bf, bl, _)) => {
                (local && !bl && free > 0) || (local == bl && free > bf) || (bf == 0 && free > 0)
            }
        };
        if better {
            best = Some((free, local, l));
        }
    }
    best.map(|(_, _, l)| l.clone())
}

/// The NUMA node of the CPU the caller runs on.
fn current_numa_node() -> Option<u32> {
    let mut cpu: u32 = 0;
    let mut node: u32 = 0;
    // SAFETY: getcpu writes two u32s through the pointers we pass; the third argument is unused since Linux 2.6.24
    // and may be null.
    let r = unsafe {
        nix::libc::syscall(
            nix::libc::SYS_getcpu,
            &mut cpu as *mut u32,
            &mut node as *mut u32,
            std::ptr::null_mut::<u8>(),
        )
    };
    (r == 0).then_some(node)
}

#[cfg(all(test, feature = "emu"))]
mod tests {
    use super::*;
    use crate::accel::Accel;
    use crate::backend::Source;
    use uacce_emu::{DeviceKind, EmuConfig, EmuDevice};

    /// Lanes of a pool on one NUMA node skip the per-job node lookup; lanes on several nodes keep it.
    #[tokio::test]
    async fn numa_uniform_follows_the_lanes_nodes() {
        let accel = Accel::builder()
            .backend(Backend::Emulated)
            .queues_per_device(1)
            .build()
            .await
            .unwrap();
        let null = |name: &str, node: u32| {
            let mut cfg = EmuConfig::new(DeviceKind::Null).name(name).depth(8);
            cfg.numa_node = node;
            Source::Emu(EmuDevice::new(cfg))
        };
        for (nodes, uniform) in [(vec![0, 0], true), (vec![0, 1], false), (vec![1], true)] {
            let sources = nodes
                .iter()
                .enumerate()
                .map(|(i, &n)| null(&format!("emu_null-{i}"), n))
                .collect();
            let env = accel.inner.lane_env();
            let pool = ClassPool::open(Class::Null, sources, 1, Backend::Emulated, &env)
                .unwrap()
                .unwrap_or_else(|| panic!("no lanes for {nodes:?}"));
            assert_eq!(
                pool.numa_uniform.load(Ordering::Relaxed),
                uniform,
                "{nodes:?}"
            );
            // Selection still works either way.
            assert!(pool.pick(&env).is_ok(), "{nodes:?}");
            pool.retire_all(Error::Shutdown);
        }
    }
}
