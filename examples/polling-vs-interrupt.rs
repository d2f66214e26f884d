//! Polling vs interrupt: what each way of waiting for completions costs, on this machine and this load.
//!
//! ```sh
//! cargo run --release --example polling-vs-interrupt -- --quick --json out.json --plot out.svg
//! ```
//!
//! The report runs a matrix of
//! * runners: the five completion strategies of `uacce-async` (busy-poll, hybrid, interrupt, eventfd, io-uring) and
//!   three baselines — the same job inline on the runtime thread (flate2 / RustCrypto), on
//!   `tokio::task::spawn_blocking`, and on the device through a UADK-style dedicated poll thread that runs a callback
//!   per completion;
//! * queue depth (jobs outstanding at once, one tokio task each): 1, 4, 16, 64;
//! * jobs: null (the emulator's null device: no work, pure overhead), gzip 4 KiB, gzip 64 KiB, AES-256-GCM seal
//!   4 KiB, SHA-256 4 KiB;
//! * emulated service time: none, fixed 10 µs, a 2 GB/s bandwidth model (the emulator's device threads do the codec
//!   work; the model decides when the completion becomes visible);
//!
//! and measures per cell jobs/s, MB/s (input bytes), p50/p99 latency (submit to result, HdrHistogram), and the CPU
//! time of the application's own threads per job: the tokio runtime's threads (named `bench-rt`, workers and blocking
//! pool), the main thread, the library's busy-poll thread and the UADK-style poll thread, read from
//! `/proc/self/task/*/schedstat`. The emulator's device threads (`emu_*-q*`) play the hardware and are excluded (they
//! are reported separately as `dev_cpu_us_per_job`). Per mode it also measures the idle CPU over one second with the
//! queues open and nothing submitted, and this machine's floors: busy-poll cache-line hand-off, a cross-CPU (and a
//! same-CPU) eventfd wake of a blocked thread, and a tokio `AsyncFd` wake from another CPU. The goals of issue 5 are
//! checked against those floors at the end.
//!
//! Flags: `--quick` (the whole matrix in about a minute), `--json FILE`, `--plot FILE.svg`, `--backend emu|hw|cpu`
//! (default emu), `--device NAME[,NAME]` (hw: only these uacce devices, e.g. `hisi_zip-0,hisi_sec2-0`, and only the
//! jobs they serve), `--secs S` (measured seconds per cell), `--workers N` (tokio worker threads, default 1), and
//! filters `--modes a,b`, `--jobs a,b`, `--depths 1,16`, `--services none,fixed-10us,bw-2GB/s` for profiling one
//! corner.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::future::Future;
use std::io::{IsTerminal, Write as _};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use hdrhistogram::Histogram;
use uacce::emu::{DeviceKind, EmuConfig, EmuDevice};
use uacce::sys::qm::sec::{
    self, CipherDir, DigestAlg, DigestRequest, DigestStage, GcmRequest, SecOp, SecRequest,
};
use uacce::sys::qm::zip::{
    self, HwBuffers, QcType, ZipAlg, ZipMode, ZipOutcome, ZipRequest, ZipWindow,
};
use uacce::sys::qm::{DriverRing, QmVersion, Sqe};
use uacce_async::{
    Accel, AeadKey, Backend, Config, EmuOptions, Format, HashAlg, NotifyMode, ServiceModel,
};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

// ---------------------------------------------------------------------------------------------------------------
// The matrix.

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Job {
    Null,
    Gzip4k,
    Gzip64k,
    Gcm4k,
    Sha4k,
}

impl Job {
    const ALL: [Job; 5] = [Job::Null, Job::Gzip4k, Job::Gzip64k, Job::Gcm4k, Job::Sha4k];
    fn name(self) -> &'static str {
        match self {
            Job::Null => "null",
            Job::Gzip4k => "gzip-4k",
            Job::Gzip64k => "gzip-64k",
            Job::Gcm4k => "aes256gcm-4k",
            Job::Sha4k => "sha256-4k",
        }
    }
    fn bytes(self) -> usize {
        match self {
            Job::Null => 0,
            Job::Gzip64k => 64 << 10,
            _ => 4 << 10,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Service {
    None,
    Fixed10us,
    Bw2GBs,
    /// Not emulated: baselines on the CPU, or real hardware.
    NotApplicable,
}

impl Service {
    const EMULATED: [Service; 3] = [Service::None, Service::Fixed10us, Service::Bw2GBs];
    fn name(self) -> &'static str {
        match self {
            Service::None => "none",
            Service::Fixed10us => "fixed-10us",
            Service::Bw2GBs => "bw-2GB/s",
            Service::NotApplicable => "-",
        }
    }
    fn model(self) -> ServiceModel {
        match self {
            Service::Fixed10us => ServiceModel::Fixed(Duration::from_micros(10)),
            Service::Bw2GBs => ServiceModel::Bandwidth {
                bytes_per_sec: 2_000_000_000,
                base: Duration::ZERO,
            },
            _ => ServiceModel::Immediate,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Runner {
    Mode(NotifyMode),
    /// `uacce-async` on its CPU backend (`--backend cpu`).
    CpuBackend,
    Inline,
    SpawnBlocking,
    Uadk,
}

impl Runner {
    fn name(self) -> &'static str {
        match self {
            Runner::Mode(m) => m.name(),
            Runner::CpuBackend => "cpu-backend",
            Runner::Inline => "inline",
            Runner::SpawnBlocking => "spawn-blocking",
            Runner::Uadk => "uadk-poll-thread",
        }
    }
}

const DEPTHS: [usize; 4] = [1, 4, 16, 64];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BackendArg {
    Emu,
    Hw,
    Cpu,
}

struct Args {
    quick: bool,
    json: Option<String>,
    plot: Option<String>,
    backend: BackendArg,
    /// `--device`: only these uacce devices (hw).
    device: Option<Vec<String>>,
    secs: f64,
    workers: usize,
    modes: Option<Vec<String>>,
    jobs: Option<Vec<String>>,
    depths: Option<Vec<usize>>,
    services: Option<Vec<String>>,
    no_floors: bool,
}

const USAGE: &str = "usage: polling-vs-interrupt [--quick] [--json FILE] [--plot FILE.svg] [--backend emu|hw|cpu] \
[--device NAME[,NAME]] [--secs S] [--workers N] [--modes a,b] [--jobs a,b] [--depths 1,16] [--services a,b] [--no-floors]";

fn parse_args() -> Result<Args, BoxError> {
    let mut a = Args {
        quick: false,
        json: None,
        plot: None,
        backend: BackendArg::Emu,
        device: None,
        secs: 0.0,
        workers: 1,
        modes: None,
        jobs: None,
        depths: None,
        services: None,
        no_floors: false,
    };
    let mut it = std::env::args().skip(1);
    let list = |s: String| {
        s.split(',')
            .map(|x| x.trim().to_string())
            .collect::<Vec<_>>()
    };
    while let Some(arg) = it.next() {
        let mut val = || {
            it.next()
                .ok_or_else(|| format!("{arg} needs a value\n{USAGE}"))
        };
        match arg.as_str() {
            "--quick" => a.quick = true,
            "--no-floors" => a.no_floors = true,
            "--json" => a.json = Some(val()?),
            "--plot" => a.plot = Some(val()?),
            "--device" => {
                a.device = Some(list(val()?).into_iter().filter(|d| !d.is_empty()).collect())
            }
            "--secs" => a.secs = val()?.parse()?,
            "--workers" => a.workers = val()?.parse::<usize>()?.max(1),
            "--modes" => a.modes = Some(list(val()?)),
            "--jobs" => a.jobs = Some(list(val()?)),
            "--services" => a.services = Some(list(val()?)),
            "--depths" => {
                a.depths = Some(
                    list(val()?)
                        .iter()
                        .map(|d| d.parse())
                        .collect::<Result<_, _>>()?,
                )
            }
            "--backend" => {
                a.backend = match val()?.as_str() {
                    "emu" | "emulated" => BackendArg::Emu,
                    "hw" | "hardware" => BackendArg::Hw,
                    "cpu" => BackendArg::Cpu,
                    other => return Err(format!("unknown backend `{other}`\n{USAGE}").into()),
                }
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument `{other}`\n{USAGE}").into()),
        }
    }
    if a.secs <= 0.0 {
        a.secs = if a.quick { 0.1 } else { 1.0 };
    }
    Ok(a)
}

// ---------------------------------------------------------------------------------------------------------------
// CPU time per thread, from /proc/self/task.

#[derive(Clone, Copy, PartialEq, Eq)]
enum ThreadClass {
    App,
    Device,
    Other,
}

fn classify(tid: u32, pid: u32, name: &str) -> ThreadClass {
    if name.starts_with("emu_") {
        ThreadClass::Device
    } else if tid == pid
        || name.starts_with("bench-rt")
        || name == "uacce-busy-poll"
        || name == "uadk-poll"
    {
        ThreadClass::App
    } else {
        ThreadClass::Other
    }
}

/// tid → (class, CPU ns).
fn cpu_snapshot() -> HashMap<u32, (ThreadClass, u64)> {
    let pid = std::process::id();
    let mut out = HashMap::new();
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return out;
    };
    for e in dir.flatten() {
        let Some(tid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let p = e.path();
        let name = std::fs::read_to_string(p.join("comm")).unwrap_or_default();
        let ns = std::fs::read_to_string(p.join("schedstat"))
            .ok()
            .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
            .unwrap_or(0);
        out.insert(tid, (classify(tid, pid, name.trim_end()), ns));
    }
    out
}

/// CPU ns spent between two snapshots by (app, device) threads. Threads born in between count from zero.
fn cpu_delta(
    a: &HashMap<u32, (ThreadClass, u64)>,
    b: &HashMap<u32, (ThreadClass, u64)>,
) -> (u64, u64) {
    let (mut app, mut dev) = (0, 0);
    for (tid, (class, ns)) in b {
        let before = a.get(tid).map_or(0, |x| x.1);
        let d = ns.saturating_sub(before);
        match class {
            ThreadClass::App => app += d,
            ThreadClass::Device => dev += d,
            ThreadClass::Other => {}
        }
    }
    (app, dev)
}

// ---------------------------------------------------------------------------------------------------------------
// One cell: `depth` tasks each running jobs back to back.

struct Measured {
    jobs: u64,
    secs: f64,
    hist: Histogram<u64>,
    app_ns: u64,
    dev_ns: u64,
}

async fn measure<F, Fut>(
    depth: usize,
    warm: Duration,
    secs: f64,
    job: F,
) -> Result<Measured, BoxError>
where
    F: Fn() -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<(), BoxError>> + Send + 'static,
{
    let phase = Arc::new(AtomicU8::new(0));
    let done = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::with_capacity(depth);
    for _ in 0..depth {
        let (phase, done, job) = (phase.clone(), done.clone(), job.clone());
        tasks.push(tokio::spawn(async move {
            let mut hist =
                Histogram::<u64>::new_with_bounds(1, 120_000_000_000, 2).expect("bounds");
            loop {
                if phase.load(Ordering::Relaxed) == 2 {
                    break;
                }
                let t = Instant::now();
                job().await?;
                let ns = t.elapsed().as_nanos() as u64;
                if phase.load(Ordering::Relaxed) == 1 {
                    hist.saturating_record(ns.max(1));
                    done.fetch_add(1, Ordering::Relaxed);
                }
            }
            Ok::<_, BoxError>(hist)
        }));
    }
    // The main thread is not a runtime worker: blocking it in sleep leaves the workers alone.
    std::thread::sleep(warm);
    let c0 = cpu_snapshot();
    let t0 = Instant::now();
    phase.store(1, Ordering::Relaxed);
    std::thread::sleep(Duration::from_secs_f64(secs));
    phase.store(2, Ordering::Relaxed);
    let el = t0.elapsed().as_secs_f64();
    let c1 = cpu_snapshot();
    let jobs = done.load(Ordering::Relaxed);
    let mut hist = Histogram::<u64>::new_with_bounds(1, 120_000_000_000, 2)?;
    for t in tasks {
        let h = t.await.map_err(|e| format!("bench task: {e}"))??;
        hist.add(&h)?;
    }
    let (app_ns, dev_ns) = cpu_delta(&c0, &c1);
    Ok(Measured {
        jobs,
        secs: el,
        hist,
        app_ns,
        dev_ns,
    })
}

#[derive(Clone)]
struct Cell {
    runner: String,
    depth: usize,
    job: Job,
    service: Service,
    jobs_per_s: f64,
    mb_per_s: f64,
    p50_us: f64,
    p99_us: f64,
    app_cpu_us_per_job: f64,
    dev_cpu_us_per_job: f64,
}

fn cell(runner: Runner, depth: usize, job: Job, service: Service, m: &Measured) -> Cell {
    let n = m.jobs.max(1) as f64;
    let jps = m.jobs as f64 / m.secs;
    Cell {
        runner: runner.name().to_string(),
        depth,
        job,
        service,
        jobs_per_s: jps,
        mb_per_s: jps * job.bytes() as f64 / 1e6,
        p50_us: m.hist.value_at_quantile(0.5) as f64 / 1e3,
        p99_us: m.hist.value_at_quantile(0.99) as f64 / 1e3,
        app_cpu_us_per_job: m.app_ns as f64 / 1e3 / n,
        dev_cpu_us_per_job: m.dev_ns as f64 / 1e3 / n,
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Job inputs and the CPU versions of the jobs.

/// Compressible, log-like text (about 4:1 with deflate level 1).
fn sample(len: usize) -> Bytes {
    let mut out = Vec::with_capacity(len + 64);
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let words = [
        "GET",
        "POST",
        "/api/v1/items",
        "/static/app.js",
        "200",
        "404",
        "user",
        "session",
        "ok",
        "latency_ms",
        "cache",
        "miss",
        "hit",
    ];
    let mut i = 0u64;
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let _ = write!(
            LenWriter(&mut out),
            "{i} {} {} {}={} ",
            words[(x % 13) as usize],
            words[((x >> 8) % 13) as usize],
            words[((x >> 16) % 13) as usize],
            (x >> 24) % 1000
        );
        if x % 5 == 0 {
            out.push(b'\n');
        }
        i += 1;
    }
    out.truncate(len);
    Bytes::from(out)
}

struct LenWriter<'a>(&'a mut Vec<u8>);
impl std::fmt::Write for LenWriter<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

const KEY: [u8; 32] = [0x42; 32];
const NONCE: [u8; 12] = [7; 12];

/// The job on the CPU (flate2 with zlib-rs at level 1, as the emulated ZIP engine; RustCrypto AES-GCM and SHA-256).
fn cpu_job(job: Job, data: &[u8]) -> usize {
    use aes_gcm::aead::{AeadInPlace, KeyInit};
    use sha2::Digest;
    match job {
        Job::Null => 0,
        Job::Gzip4k | Job::Gzip64k => {
            let mut e = flate2::write::GzEncoder::new(
                Vec::with_capacity(data.len() / 2 + 64),
                flate2::Compression::new(1),
            );
            std::io::Write::write_all(&mut e, data).expect("vec write");
            e.finish().expect("vec write").len()
        }
        Job::Gcm4k => {
            let c = aes_gcm::Aes256Gcm::new_from_slice(&KEY).expect("key length");
            let mut buf = data.to_vec();
            let tag = c
                .encrypt_in_place_detached((&NONCE).into(), b"", &mut buf)
                .expect("gcm");
            buf.len() + tag.len()
        }
        Job::Sha4k => sha2::Sha256::digest(data).len(),
    }
}

// ---------------------------------------------------------------------------------------------------------------
// The UADK-style baseline: jobs on the emulated device through the raw QM ring, one dedicated thread polling the
// completion queues and running a callback per completion (as `wd_do_*_async` + a `wd_*_poll` thread do).

type Callback = Box<dyn FnOnce(Sqe) + Send>;
/// A job in flight: its callback and the buffers the device may touch (kept alive until the completion).
type InFlight = (Callback, Bytes, Option<BytesMut>);

struct UadkRing {
    ring: DriverRing,
    version: QmVersion,
    kind: DeviceKind,
    slots: Vec<Option<InFlight>>,
    free: Vec<u32>,
    _queue: uacce::emu::EmuQueue,
}

struct Uadk {
    rings: Arc<[Mutex<UadkRing>; 3]>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Uadk {
    fn new(service: ServiceModel) -> Result<Self, BoxError> {
        let open = |kind: DeviceKind| -> Result<Mutex<UadkRing>, BoxError> {
            let name = match kind {
                DeviceKind::Zip => "emu_zip-uadk",
                DeviceKind::Sec => "emu_sec-uadk",
                DeviceKind::Null => "emu_null-uadk",
            };
            let dev = EmuDevice::new(
                EmuConfig::new(kind)
                    .name(name)
                    .version(QmVersion::V3)
                    .service(service),
            );
            let q = dev.open_queue(0)?;
            Ok(Mutex::new(UadkRing {
                ring: q.driver_ring()?,
                version: q.version(),
                kind,
                slots: Vec::new(),
                free: Vec::new(),
                _queue: q,
            }))
        };
        let rings = Arc::new([
            open(DeviceKind::Null)?,
            open(DeviceKind::Zip)?,
            open(DeviceKind::Sec)?,
        ]);
        let stop = Arc::new(AtomicBool::new(false));
        let (r2, s2) = (rings.clone(), stop.clone());
        let thread = std::thread::Builder::new()
            .name("uadk-poll".into())
            .spawn(move || {
                let mut ready: Vec<(Callback, Sqe)> = Vec::with_capacity(64);
                while !s2.load(Ordering::Relaxed) {
                    for r in r2.iter() {
                        let mut g = r.lock().unwrap_or_else(|e| e.into_inner());
                        if !g.ring.has_completion() {
                            continue;
                        }
                        let mut n = 0;
                        while let Ok(Some(c)) = g.ring.pop() {
                            n += 1;
                            let tag = match g.kind {
                                DeviceKind::Null => {
                                    u32::from_le_bytes([c.sqe[0], c.sqe[1], c.sqe[2], c.sqe[3]])
                                }
                                DeviceKind::Zip => zip::ZipSqeType::of(&c.sqe)
                                    .map_or(u32::MAX, |t| zip::read_tag(&c.sqe, t)),
                                DeviceKind::Sec => sec::read_tag(&c.sqe) as u32,
                            };
                            if let Some((cb, _in, _out)) =
                                g.slots.get_mut(tag as usize).and_then(Option::take)
                            {
                                g.free.push(tag);
                                ready.push((cb, c.sqe));
                            }
                        }
                        if n > 0 {
                            let _ = g.ring.ring_cq(false);
                        }
                        drop(g);
                        for (cb, sqe) in ready.drain(..) {
                            cb(sqe);
                        }
                    }
                    std::hint::spin_loop();
                }
            })?;
        Ok(Self {
            rings,
            stop,
            thread: Some(thread),
        })
    }

    /// Submit `job` on `data`; the callback completes a oneshot that the task awaits. Checks the device's status.
    async fn run(&self, job: Job, data: &Bytes) -> Result<(), BoxError> {
        let (tx, rx) = tokio::sync::oneshot::channel::<Sqe>();
        let idx = match job {
            Job::Null => 0,
            Job::Gzip4k | Job::Gzip64k => 1,
            Job::Gcm4k | Job::Sha4k => 2,
        };
        {
            let mut g = self.rings[idx].lock().unwrap_or_else(|e| e.into_inner());
            let tag = match g.free.pop() {
                Some(t) => t,
                None => {
                    g.slots.push(None);
                    (g.slots.len() - 1) as u32
                }
            };
            let version = g.version;
            let (sqe, out) = match job {
                Job::Null => {
                    let mut s = [0u8; 128];
                    s[..4].copy_from_slice(&tag.to_le_bytes());
                    (s, None)
                }
                Job::Gzip4k | Job::Gzip64k => {
                    let alg = ZipAlg::Gzip;
                    let mut out = BytesMut::zeroed(data.len() + 1024);
                    out[..alg.header().len()].copy_from_slice(alg.header());
                    let buffers = HwBuffers::from_user(
                        alg,
                        QcType::Compress,
                        true,
                        data.as_ptr() as u64,
                        data.len() as u32,
                        out.as_ptr() as u64,
                        out.len() as u32,
                    )?;
                    let req = ZipRequest {
                        alg,
                        buffers,
                        tag,
                        window: ZipWindow::W32K,
                        mode: ZipMode::Block,
                    };
                    (zip::encode(&req, version), Some(out))
                }
                Job::Gcm4k => {
                    // [aad area (none) | ciphertext | tag | iv (12) | a_ivin (64)]
                    let n = data.len();
                    let mut out = BytesMut::zeroed(n + 16 + 12 + 64);
                    out[n + 16..n + 28].copy_from_slice(&NONCE);
                    let o = out.as_ptr() as u64;
                    let op = SecOp::Aead(GcmRequest {
                        dir: CipherDir::Encrypt,
                        key_addr: KEY.as_ptr() as u64,
                        key_len: 32,
                        iv_addr: o + (n + 16) as u64,
                        aiv_addr: o + (n + 28) as u64,
                        src_addr: data.as_ptr() as u64,
                        dst_addr: o,
                        aad_len: 0,
                        payload_len: n as u32,
                        mac_addr: o + n as u64,
                        tag_len: 16,
                    });
                    let req = SecRequest {
                        op,
                        tag: u64::from(tag) as _,
                        sva_prefetch: false,
                    };
                    (sec::encode(&req, version)?, Some(out))
                }
                Job::Sha4k => {
                    let out = BytesMut::zeroed(64);
                    let op = SecOp::Digest(DigestRequest {
                        alg: DigestAlg::Sha256,
                        hmac_key: None,
                        src_addr: data.as_ptr() as u64,
                        len: data.len() as u32,
                        mac_addr: out.as_ptr() as u64,
                        mac_len: 32,
                        stage: DigestStage::OneShot,
                    });
                    let req = SecRequest {
                        op,
                        tag: u64::from(tag) as _,
                        sva_prefetch: false,
                    };
                    (sec::encode(&req, version)?, Some(out))
                }
            };
            let cb: Callback = Box::new(move |sqe| {
                let _ = tx.send(sqe);
            });
            g.slots[tag as usize] = Some((cb, data.clone(), out));
            // SAFETY: the SQE names `data`'s and `out`'s heap storage (and the static KEY); both were just moved
            // into `g.slots[tag]` (moving a Bytes/BytesMut does not move its storage), where nothing else reads or
            // writes them, and the poll thread takes them out only after `pop` returned this tag's completion. If
            // the submit fails the slot keeps them. (Not covered: `UadkRing` drops `slots` before `_queue`, so a
            // job still in flight when the benchmark is torn down would need its queue closed first.)
            unsafe { g.ring.submit(&sqe) }?;
        }
        let sqe = rx
            .await
            .map_err(|_| "uadk-style poll thread dropped a job")?;
        let ok = match job {
            Job::Null => true,
            Job::Gzip4k | Job::Gzip64k => matches!(
                zip::read_result(&sqe).outcome(),
                ZipOutcome::Ok | ZipOutcome::StreamEnd
            ),
            Job::Gcm4k | Job::Sha4k => sec::read_result(&sqe).outcome() == sec::SecOutcome::Ok,
        };
        if ok {
            Ok(())
        } else {
            Err(format!("{} job failed on the device", job.name()).into())
        }
    }
}

impl Drop for Uadk {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// The library's jobs.

/// True if `job` runs on devices when compression (`zip`) and crypto (`sec`) are offloaded as given.
fn job_served(job: Job, zip: bool, sec: bool) -> bool {
    match job {
        Job::Null => true,
        Job::Gzip4k | Job::Gzip64k => zip,
        Job::Gcm4k | Job::Sha4k => sec,
    }
}

async fn accel_job(accel: &Accel, key: &AeadKey, job: Job, data: &Bytes) -> Result<(), BoxError> {
    match job {
        Job::Null => accel.nop().await?,
        Job::Gzip4k | Job::Gzip64k => {
            accel.compress(Format::Gzip, data.clone()).await?;
        }
        Job::Gcm4k => {
            accel.aes_gcm_seal(key, &NONCE, b"", data.clone()).await?;
        }
        Job::Sha4k => {
            accel.digest(HashAlg::Sha256, data.clone()).await?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------------------------
// Floors of this machine.

fn pin_to(cpu: usize) -> bool {
    // SAFETY: cpu_set_t is plain data; CPU_ZERO/CPU_SET write inside it; sched_setaffinity reads it.
    unsafe {
        let mut set: nix::libc::cpu_set_t = std::mem::zeroed();
        nix::libc::CPU_ZERO(&mut set);
        nix::libc::CPU_SET(cpu, &mut set);
        nix::libc::sched_setaffinity(0, std::mem::size_of::<nix::libc::cpu_set_t>(), &set) == 0
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// One-way cache-line hand-off between two spinning threads on CPUs 0 and 1 (ns).
fn floor_handoff(rounds: u64) -> f64 {
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

fn eventfd() -> OwnedFd {
    nix::sys::eventfd::EventFd::from_value_and_flags(0, nix::sys::eventfd::EfdFlags::EFD_CLOEXEC)
        .expect("eventfd")
        .into()
}

/// A thread blocked in read() on an eventfd on CPU `waiter`, woken by a write from CPU 0: the median latency (µs)
/// from just before the write to the waiter running again.
fn floor_eventfd_wake(waiter: usize, shots: usize) -> f64 {
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
fn floor_asyncfd_wake(shots: usize) -> f64 {
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

fn unpin() {
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

// ---------------------------------------------------------------------------------------------------------------
// Progress on stderr.

struct Progress {
    total: usize,
    done: usize,
    start: Instant,
    tty: bool,
}

impl Progress {
    fn step(&mut self, what: &str) {
        self.done += 1;
        let frac = self.done as f64 / self.total.max(1) as f64;
        let el = self.start.elapsed().as_secs_f64();
        let eta = if self.done > 0 { el / frac - el } else { 0.0 };
        if self.tty {
            let w = 30;
            let filled = (frac * w as f64) as usize;
            eprint!(
                "\r[{}{}] {:>3}/{} {:>5.0}s left  {:<48}",
                "#".repeat(filled),
                " ".repeat(w - filled),
                self.done,
                self.total,
                eta,
                what
            );
            let _ = std::io::stderr().flush();
        } else if self.done * 10 / self.total.max(1) != (self.done - 1) * 10 / self.total.max(1) {
            eprintln!(
                "progress: {}/{} cells, {:.0}s elapsed",
                self.done, self.total, el
            );
        }
    }
    fn finish(&self) {
        if self.tty {
            eprintln!();
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Output.

fn json_str(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(o, "\\u{:04x}", c as u32);
            }
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

fn json_num(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.3}")
    } else {
        "null".into()
    }
}

struct Report {
    cells: Vec<Cell>,
    idle: Vec<(String, f64)>,
    floors: Vec<(&'static str, f64)>,
    goals: Vec<Goal>,
}

struct Goal {
    name: &'static str,
    holds: Option<bool>,
    detail: String,
}

fn write_json(path: &str, r: &Report, meta: &str) -> std::io::Result<()> {
    let mut o = String::from("[\n");
    let _ = writeln!(o, "  {meta},");
    let mut rows = Vec::new();
    for c in &r.cells {
        rows.push(format!(
            "  {{\"mode\": {}, \"depth\": {}, \"job\": {}, \"service\": {}, \"jobs_per_s\": {}, \"mb_per_s\": {}, \
             \"p50_us\": {}, \"p99_us\": {}, \"app_cpu_us_per_job\": {}, \"dev_cpu_us_per_job\": {}}}",
            json_str(&c.runner),
            c.depth,
            json_str(c.job.name()),
            json_str(c.service.name()),
            json_num(c.jobs_per_s),
            json_num(c.mb_per_s),
            json_num(c.p50_us),
            json_num(c.p99_us),
            json_num(c.app_cpu_us_per_job),
            json_num(c.dev_cpu_us_per_job),
        ));
    }
    for (m, pct) in &r.idle {
        rows.push(format!(
            "  {{\"mode\": {}, \"idle_cpu_pct\": {}}}",
            json_str(m),
            json_num(*pct)
        ));
    }
    for (f, v) in &r.floors {
        rows.push(format!(
            "  {{\"floor\": {}, \"value_us\": {}}}",
            json_str(f),
            json_num(*v)
        ));
    }
    for g in &r.goals {
        rows.push(format!(
            "  {{\"goal\": {}, \"holds\": {}, \"detail\": {}}}",
            json_str(g.name),
            g.holds.map_or("null".to_string(), |b| b.to_string()),
            json_str(&g.detail)
        ));
    }
    o.push_str(&rows.join(",\n"));
    o.push_str("\n]\n");
    std::fs::write(path, o)
}

fn print_table(cells: &[Cell]) {
    println!(
        "{:<17} {:>5} {:<13} {:<10} {:>11} {:>9} {:>9} {:>9} {:>10} {:>10}",
        "mode",
        "depth",
        "job",
        "service",
        "jobs/s",
        "MB/s",
        "p50 µs",
        "p99 µs",
        "app µs/job",
        "dev µs/job"
    );
    let mut last = None;
    for c in cells {
        let key = (c.job, c.service);
        if last.is_some() && last != Some(key) {
            println!();
        }
        last = Some(key);
        println!(
            "{:<17} {:>5} {:<13} {:<10} {:>11.0} {:>9.1} {:>9.1} {:>9.1} {:>10.2} {:>10.2}",
            c.runner,
            c.depth,
            c.job.name(),
            c.service.name(),
            c.jobs_per_s,
            c.mb_per_s,
            c.p50_us,
            c.p99_us,
            c.app_cpu_us_per_job,
            c.dev_cpu_us_per_job
        );
    }
}

fn plot(path: &str, cells: &[Cell], title: &str) -> Result<(), BoxError> {
    use plotters::prelude::*;
    let root = SVGBackend::new(path, (1280, 900)).into_drawing_area();
    root.fill(&WHITE)?;
    let (top, body) = root.split_vertically(40);
    top.draw(&Text::new(
        title.to_string(),
        (20, 12),
        ("sans-serif", 20).into_font(),
    ))?;
    let panels = body.split_evenly((2, 2));
    let mut runners: Vec<String> = Vec::new();
    for c in cells {
        if !runners.contains(&c.runner) {
            runners.push(c.runner.clone());
        }
    }
    let specs = [
        (Job::Null, "null jobs: throughput (jobs/s, log)", true),
        (Job::Null, "null jobs: app CPU per job (µs, log)", false),
        (Job::Gzip4k, "gzip 4 KiB: throughput (jobs/s, log)", true),
        (Job::Gzip4k, "gzip 4 KiB: app CPU per job (µs, log)", false),
    ];
    for (panel, (job, caption, thr)) in panels.iter().zip(specs) {
        let series: Vec<(usize, Vec<(f64, f64)>)> = runners
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let pts = DEPTHS
                    .iter()
                    .enumerate()
                    .filter_map(|(x, d)| {
                        cells
                            .iter()
                            .find(|c| {
                                &c.runner == r
                                    // A null job inline does nothing at all: no line to compare.
                                    && !(job == Job::Null && r == "inline")
                                    && c.job == job
                                    && c.depth == *d
                                    && matches!(c.service, Service::None | Service::NotApplicable)
                            })
                            .map(|c| {
                                (
                                    x as f64,
                                    if thr {
                                        c.jobs_per_s
                                    } else {
                                        c.app_cpu_us_per_job
                                    },
                                )
                            })
                    })
                    .filter(|p| p.1 > 0.0)
                    .collect();
                (i, pts)
            })
            .filter(|(_, p): &(usize, Vec<(f64, f64)>)| !p.is_empty())
            .collect();
        // Log scale: the modes differ by orders of magnitude.
        let ys = || {
            series
                .iter()
                .flat_map(|(_, p)| p.iter().map(|q| q.1))
                .filter(|y| *y > 0.0)
        };
        let ymax = ys().fold(1e-3f64, f64::max) * 1.5;
        let ymin = ys().fold(f64::INFINITY, f64::min).min(ymax / 10.0) / 1.5;
        let mut chart = ChartBuilder::on(panel)
            .caption(caption, ("sans-serif", 16))
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(70)
            .build_cartesian_2d(-0.2f64..3.2f64, (ymin..ymax).log_scale())?;
        chart
            .configure_mesh()
            .x_labels(4)
            .x_label_formatter(&|x| {
                let i = x.round() as usize;
                if (x - x.round()).abs() < 0.01 && i < DEPTHS.len() {
                    DEPTHS[i].to_string()
                } else {
                    String::new()
                }
            })
            .y_label_formatter(&|y| {
                if *y >= 100.0 {
                    format!("{y:.0}")
                } else if *y >= 1.0 {
                    format!("{y:.1}")
                } else {
                    format!("{y:.2}")
                }
            })
            .x_desc("queue depth (outstanding jobs)")
            .draw()?;
        for (i, pts) in series {
            let color = Palette99::pick(i).to_rgba();
            chart
                .draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))?
                .label(runners[i].clone())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
                });
            chart.draw_series(PointSeries::of_element(
                pts,
                3,
                color.filled(),
                &|c, s, st| Circle::new(c, s, st),
            ))?;
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .position(SeriesLabelPosition::UpperLeft)
            .draw()?;
    }
    root.present()?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------------------------
// Goals (issue 5), checked against the measured floors.

fn goals(r: &Report) -> Vec<Goal> {
    let find = |runner: &str, d: usize, job: Job| {
        r.cells
            .iter()
            .find(|c| {
                c.runner == runner && c.depth == d && c.job == job && c.service == Service::None
            })
            .or_else(|| {
                r.cells.iter().find(|c| {
                    c.runner == runner
                        && c.depth == d
                        && c.job == job
                        && c.service == Service::NotApplicable
                })
            })
    };
    let floor = |n: &str| r.floors.iter().find(|f| f.0 == n).map(|f| f.1);
    let mut out = Vec::new();

    // 1. Eventfd throughput ≥ 0.9× BusyPoll at depth ≥ 16 (null), app CPU/job ≤ 0.5×.
    let mut holds = None;
    let mut detail = String::new();
    for d in [16, 64] {
        if let (Some(e), Some(b)) = (
            find("eventfd", d, Job::Null),
            find("busy-poll", d, Job::Null),
        ) {
            let ok = e.jobs_per_s >= 0.9 * b.jobs_per_s
                && e.app_cpu_us_per_job <= 0.5 * b.app_cpu_us_per_job;
            holds = Some(holds.unwrap_or(true) && ok);
            let _ = write!(
                detail,
                "d{d}: {:.2}x throughput, {:.2}x CPU/job; ",
                e.jobs_per_s / b.jobs_per_s,
                e.app_cpu_us_per_job / b.app_cpu_us_per_job
            );
        }
    }
    out.push(Goal {
        name: "eventfd >= 0.9x busy-poll throughput at depth >= 16 (null), CPU/job <= 0.5x",
        holds,
        detail,
    });

    // 2. Idle CPU < 1 % for every mode except BusyPoll.
    let rest: Vec<&(String, f64)> = r
        .idle
        .iter()
        .filter(|(m, _)| NotifyMode::ALL.iter().any(|x| x.name() == m) && m != "busy-poll")
        .collect();
    out.push(Goal {
        name: "idle app CPU < 1% of a core for every mode except busy-poll",
        holds: (!rest.is_empty()).then(|| rest.iter().all(|(_, p)| *p < 1.0)),
        detail: rest
            .iter()
            .map(|(m, p)| format!("{m} {p:.2}%"))
            .collect::<Vec<_>>()
            .join(", "),
    });

    // 3. Depth-1 p50: Hybrid ≤ 1.2× BusyPoll; Eventfd ≤ BusyPoll + 1.2× the cross-CPU wake floor.
    let b = find("busy-poll", 1, Job::Null);
    let h = find("hybrid", 1, Job::Null);
    let e = find("eventfd", 1, Job::Null);
    let w = floor("eventfd_wake_cross_cpu");
    if let (Some(b), Some(h)) = (b, h) {
        out.push(Goal {
            name: "depth-1 p50: hybrid <= 1.2x busy-poll",
            holds: Some(h.p50_us <= 1.2 * b.p50_us),
            detail: format!(
                "hybrid {:.1} µs, busy-poll {:.1} µs ({:.2}x)",
                h.p50_us,
                b.p50_us,
                h.p50_us / b.p50_us
            ),
        });
    }
    if let (Some(b), Some(e)) = (b, e) {
        let (holds, limit) = match w {
            Some(w) if w.is_finite() => (
                Some(e.p50_us <= b.p50_us + 1.2 * w),
                format!("{:.1}", b.p50_us + 1.2 * w),
            ),
            _ => (None, "n/a (no cross-CPU floor)".into()),
        };
        out.push(Goal {
            name: "depth-1 p50: eventfd <= busy-poll + 1.2x cross-CPU wake floor",
            holds,
            detail: format!("eventfd {:.1} µs, limit {limit} µs", e.p50_us),
        });
    }

    // 4. Eventfd app CPU ≤ 0.6 µs per null job at depth ≥ 16.
    let mut holds = None;
    let mut detail = String::new();
    for d in [16, 64] {
        if let Some(e) = find("eventfd", d, Job::Null) {
            holds = Some(holds.unwrap_or(true) && e.app_cpu_us_per_job <= 0.6);
            let _ = write!(detail, "d{d}: {:.2} µs; ", e.app_cpu_us_per_job);
        }
    }
    out.push(Goal {
        name: "eventfd app CPU <= 0.6 µs per null job at depth >= 16",
        holds,
        detail,
    });

    // 5. CPU freed: offloaded gzip 4 KiB at depth 64 ≤ 5 % of spawn_blocking + flate2.
    if let (Some(e), Some(s)) = (
        find("eventfd", 64, Job::Gzip4k),
        find("spawn-blocking", 64, Job::Gzip4k),
    ) {
        out.push(Goal {
            name: "eventfd gzip-4k app CPU/job at depth 64 <= 5% of spawn_blocking + flate2",
            holds: Some(e.app_cpu_us_per_job <= 0.05 * s.app_cpu_us_per_job),
            detail: format!(
                "{:.2} µs vs {:.2} µs ({:.1}%)",
                e.app_cpu_us_per_job,
                s.app_cpu_us_per_job,
                100.0 * e.app_cpu_us_per_job / s.app_cpu_us_per_job
            ),
        });
    }
    out
}

// ---------------------------------------------------------------------------------------------------------------

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|x| x.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let n = std::thread::available_parallelism().map_or(1, |n| n.get());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let virt = if std::fs::read_to_string("/proc/cpuinfo").is_ok_and(|s| s.contains(" hypervisor"))
    {
        ", virtual machine"
    } else {
        ""
    };
    format!("{n} x {cpu}{virt}, Linux {}", kernel.trim())
}

fn main() {
    if let Err(e) = run() {
        eprintln!("polling-vs-interrupt: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), BoxError> {
    let args = parse_args()?;
    let started = Instant::now();
    let filter = |list: &Option<Vec<String>>, name: &str| {
        list.as_ref().is_none_or(|l| l.iter().any(|x| x == name))
    };

    let depths: Vec<usize> = args.depths.clone().unwrap_or_else(|| DEPTHS.to_vec());
    let mut jobs: Vec<Job> = Job::ALL
        .into_iter()
        .filter(|j| filter(&args.jobs, j.name()))
        .filter(|j| args.backend == BackendArg::Emu || *j != Job::Null)
        .collect();
    let services: Vec<Service> = match args.backend {
        BackendArg::Emu => Service::EMULATED
            .into_iter()
            .filter(|s| filter(&args.services, s.name()))
            .collect(),
        _ => vec![Service::NotApplicable],
    };
    // (runner, does it use the device's service model)
    let mut runners: Vec<Runner> = match args.backend {
        BackendArg::Cpu => vec![Runner::CpuBackend],
        _ => NotifyMode::ALL.into_iter().map(Runner::Mode).collect(),
    };
    if args.backend == BackendArg::Emu {
        runners.push(Runner::Uadk);
    }
    runners.push(Runner::Inline);
    runners.push(Runner::SpawnBlocking);
    runners.retain(|r| filter(&args.modes, r.name()));

    if args.backend == BackendArg::Hw {
        let sysfs = uacce::sys::sysfs::Sysfs::new();
        let devs = sysfs
            .devices()
            .map_err(|e| format!("--backend hw: no uacce devices on this machine: {e}"))?;
        if devs.is_empty() {
            return Err("--backend hw: /sys/class/uacce has no devices on this machine".into());
        }
        if let Some(names) = &args.device {
            // Which kinds of job the named devices serve: a probe accelerator restricted to them (an unknown or
            // unusable device fails here, with the reason). The rest of the jobs are left out of the matrix.
            let (zip, sec) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?
                .block_on(async {
                    let probe = Accel::builder()
                        .backend(Backend::Auto)
                        .devices(names.clone())
                        .queues_per_device(1)
                        .build()
                        .await?;
                    Ok::<_, uacce_async::Error>((
                        probe.compression_offloaded(),
                        probe.crypto_offloaded(),
                    ))
                })
                .map_err(|e| format!("--device {}: {e}", names.join(",")))?;
            let (kept, left): (Vec<Job>, Vec<Job>) =
                jobs.iter().partition(|j| job_served(**j, zip, sec));
            if !left.is_empty() {
                let left: Vec<_> = left.iter().map(|j| j.name()).collect();
                println!(
                    "--device {}: leaving out {} (not served by these devices)",
                    names.join(","),
                    left.join(", ")
                );
            }
            if kept.is_empty() {
                return Err(format!(
                    "--device {}: serves none of the selected jobs",
                    names.join(",")
                )
                .into());
            }
            jobs = kept;
        }
    } else if args.device.is_some() {
        return Err("--device applies to --backend hw only".into());
    }

    let device_services = |r: Runner| matches!(r, Runner::Mode(_) | Runner::Uadk);
    let total: usize = runners
        .iter()
        .map(|r| {
            let s = if device_services(*r) {
                services.len()
            } else {
                1
            };
            s * jobs.len() * depths.len()
        })
        .sum();

    println!("polling-vs-interrupt: {}", machine());
    println!(
        "backend {:?}, {} tokio worker thread(s), {:.2} s per cell{}",
        args.backend,
        args.workers,
        args.secs,
        if args.quick { " (--quick)" } else { "" }
    );

    // Floors first, while nothing else of ours runs.
    let mut floors: Vec<(&'static str, f64)> = Vec::new();
    let ncpu = std::thread::available_parallelism().map_or(1, |n| n.get());
    if !args.no_floors {
        let shots = if args.quick { 400 } else { 2000 };
        if ncpu >= 2 {
            floors.push((
                "busy_poll_handoff_one_way",
                floor_handoff(if args.quick { 20_000 } else { 200_000 }) / 1e3,
            ));
            floors.push(("eventfd_wake_cross_cpu", floor_eventfd_wake(1, shots)));
        }
        floors.push(("eventfd_wake_same_cpu", floor_eventfd_wake(0, shots)));
        if ncpu >= 2 {
            floors.push(("asyncfd_wake_cross_cpu", floor_asyncfd_wake(shots)));
        }
        unpin();
        println!("\nfloors of this machine:");
        for (n, v) in &floors {
            if *n == "busy_poll_handoff_one_way" {
                println!("  {n:<28} {:>8.0} ns", v * 1e3);
            } else {
                println!("  {n:<28} {v:>8.1} µs");
            }
        }
    }

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.workers)
        .thread_name("bench-rt")
        .enable_all()
        .build()?;
    let warm = Duration::from_secs_f64((args.secs / 4.0).clamp(0.02, 0.25));
    let idle_secs = 1.0;
    let mut progress = Progress {
        total,
        done: 0,
        start: Instant::now(),
        tty: std::io::stderr().is_terminal(),
    };
    let mut cells: Vec<Cell> = Vec::new();
    let mut idle: Vec<(String, f64)> = Vec::new();

    let inputs: HashMap<Job, Bytes> = Job::ALL.iter().map(|j| (*j, sample(j.bytes()))).collect();
    let key = AeadKey::new(&KEY)?;

    rt.block_on(async {
        for &runner in &runners {
            let svc_list: Vec<Service> = if device_services(runner) {
                services.clone()
            } else {
                vec![Service::NotApplicable]
            };
            for (si, &service) in svc_list.iter().enumerate() {
                // Set up what the runner needs, and measure idle CPU once per runner.
                let accel = match runner {
                    Runner::Mode(mode) => {
                        let mut cfg = Config {
                            backend: match args.backend {
                                // Named devices may serve one kind of job only: Auto then leaves the other kind to
                                // the CPU, and the matrix holds only the jobs they serve (checked below).
                                BackendArg::Hw if args.device.is_some() => Backend::Auto,
                                BackendArg::Hw => Backend::Hardware,
                                _ => Backend::Emulated,
                            },
                            mode,
                            queues_per_device: 1,
                            devices: args.device.clone(),
                            ..Config::default()
                        };
                        cfg.emu = EmuOptions {
                            service: service.model(),
                            version: QmVersion::V3,
                            ..EmuOptions::default()
                        };
                        let accel = Accel::with_config(cfg)
                            .await
                            .map_err(|e| format!("{}: {e}", runner.name()))?;
                        let (zip, sec) = (accel.compression_offloaded(), accel.crypto_offloaded());
                        if let Some(j) = jobs.iter().find(|j| !job_served(**j, zip, sec)) {
                            return Err(format!(
                                "{}: {} jobs would run on the CPU, not on the devices ({})",
                                runner.name(),
                                j.name(),
                                accel.description()
                            )
                            .into());
                        }
                        Some(accel)
                    }
                    Runner::CpuBackend => Some(
                        Accel::builder()
                            .backend(Backend::Cpu)
                            .config(Config {
                                backend: Backend::Cpu,
                                cpu_level: 1,
                                ..Config::default()
                            })
                            .build()
                            .await?,
                    ),
                    _ => None,
                };
                let uadk = if runner == Runner::Uadk {
                    Some(Arc::new(Uadk::new(service.model())?))
                } else {
                    None
                };
                if si == 0 && matches!(runner, Runner::Mode(_) | Runner::Uadk) {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    let c0 = cpu_snapshot();
                    let t0 = Instant::now();
                    std::thread::sleep(Duration::from_secs_f64(idle_secs));
                    let (app, _) = cpu_delta(&c0, &cpu_snapshot());
                    let pct = app as f64 / 1e9 / t0.elapsed().as_secs_f64() * 100.0;
                    idle.push((runner.name().to_string(), pct));
                }
                for &job in &jobs {
                    let data = inputs[&job].clone();
                    for &depth in &depths {
                        let what = format!(
                            "{} d{depth} {} {}",
                            runner.name(),
                            job.name(),
                            service.name()
                        );
                        let m = match runner {
                            Runner::Mode(_) | Runner::CpuBackend => {
                                let (a, k, d) =
                                    (accel.clone().expect("accel"), key.clone(), data.clone());
                                measure(depth, warm, args.secs, move || {
                                    let (a, k, d) = (a.clone(), k.clone(), d.clone());
                                    async move { accel_job(&a, &k, job, &d).await }
                                })
                                .await
                            }
                            Runner::Uadk => {
                                let (u, d) = (uadk.clone().expect("uadk"), data.clone());
                                measure(depth, warm, args.secs, move || {
                                    let (u, d) = (u.clone(), d.clone());
                                    async move { u.run(job, &d).await }
                                })
                                .await
                            }
                            Runner::Inline => {
                                let d = data.clone();
                                measure(depth, warm, args.secs, move || {
                                    let d = d.clone();
                                    async move {
                                        std::hint::black_box(cpu_job(job, &d));
                                        // Let the other tasks (and the runtime's drivers) have the thread.
                                        tokio::task::yield_now().await;
                                        Ok(())
                                    }
                                })
                                .await
                            }
                            Runner::SpawnBlocking => {
                                let d = data.clone();
                                measure(depth, warm, args.secs, move || {
                                    let d = d.clone();
                                    async move {
                                        tokio::task::spawn_blocking(move || {
                                            std::hint::black_box(cpu_job(job, &d));
                                        })
                                        .await?;
                                        Ok(())
                                    }
                                })
                                .await
                            }
                        }
                        .map_err(|e| format!("{what}: {e}"))?;
                        cells.push(cell(runner, depth, job, service, &m));
                        progress.step(&what);
                    }
                }
                drop(accel);
                drop(uadk);
            }
        }
        Ok::<_, BoxError>(())
    })?;
    progress.finish();

    let mut report = Report {
        cells,
        idle,
        floors,
        goals: Vec::new(),
    };
    report.goals = goals(&report);

    // Table: by job and service, then runner, then depth.
    let mut sorted = report.cells.clone();
    let svc_rank = |s: Service| match s {
        Service::None => 0,
        Service::Fixed10us => 1,
        Service::Bw2GBs => 2,
        Service::NotApplicable => 3,
    };
    let job_rank = |j: Job| Job::ALL.iter().position(|x| *x == j).unwrap_or(9);
    let runner_rank = |r: &str| runners.iter().position(|x| x.name() == r).unwrap_or(99);
    // Baselines without a service model sit with the "none" rows of their job.
    sorted.sort_by_key(|c| {
        let s = if c.service == Service::NotApplicable {
            0
        } else {
            svc_rank(c.service)
        };
        (job_rank(c.job), s, runner_rank(&c.runner), c.depth)
    });
    println!();
    print_table(&sorted);

    println!(
        "\nidle CPU of the application's threads, queues open, nothing submitted ({idle_secs:.0} s):"
    );
    for (m, p) in &report.idle {
        println!("  {m:<17} {p:>7.2} % of a core");
    }
    if !report.floors.is_empty() {
        println!(
            "\nfloors: {}",
            report
                .floors
                .iter()
                .map(|(n, v)| if *n == "busy_poll_handoff_one_way" {
                    format!("{n} {:.0} ns", v * 1e3)
                } else {
                    format!("{n} {v:.1} µs")
                })
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    println!("\ngoals (issue 5; service none):");
    for g in &report.goals {
        let v = match g.holds {
            Some(true) => "HOLDS",
            Some(false) => "FAILS",
            None => "n/a",
        };
        println!("  [{v:<5}] {}: {}", g.name, g.detail.trim_end_matches("; "));
    }
    println!(
        "\n{} cells in {:.1} s",
        report.cells.len(),
        started.elapsed().as_secs_f64()
    );

    let meta = format!(
        "{{\"machine\": {}, \"backend\": {}, \"devices\": {}, \"workers\": {}, \"secs_per_cell\": {}, \"quick\": {}}}",
        json_str(&machine()),
        json_str(&format!("{:?}", args.backend).to_lowercase()),
        match &args.device {
            Some(d) => json_str(&d.join(",")),
            None => "null".to_string(),
        },
        args.workers,
        args.secs,
        args.quick
    );
    if let Some(p) = &args.json {
        write_json(p, &report, &meta)?;
        println!("wrote {p}");
    }
    if let Some(p) = &args.plot {
        plot(
            p,
            &report.cells,
            &format!("polling vs interrupt — {} (service: none)", machine()),
        )?;
        println!("wrote {p}");
    }
    Ok(())
}
