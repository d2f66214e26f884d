//! Guest tests of `uacce-async` (`Backend::Hardware`) against the uacce_soft devices, on a tokio multi-thread
//! runtime (2 workers, one per vCPU).

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use uacce_sys::qm::zip::ZipAlg;
use uacce_testkit::{codec, data};
use uacce_async::{Accel, AeadKey, Backend, Error, Format, HashAlg, HmacKey, NotifyMode, Routing};

use crate::queue::{devices, sysfs_attr};
use crate::TestResult;

macro_rules! check {
    ($c:expr, $($fmt:tt)*) => {
        if !$c {
            return Err(format!($($fmt)*));
        }
    };
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

/// An `Accel` on the soft devices that sends every job to a device and never redoes a failed one on the CPU: these
/// tests check the device path and the errors it reports (a removal must reach the futures as `DeviceRemoved`).
async fn build(mode: NotifyMode) -> Result<Accel, String> {
    let accel = Accel::builder()
        .backend(Backend::Hardware)
        .mode(mode)
        .routing(Routing::device_only())
        .cpu_backup(false)
        .job_timeout(Some(Duration::from_secs(20)))
        .build()
        .await
        .map_err(|e| format!("Accel::build({mode}): {e}"))?;
    check!(accel.compression_offloaded() && accel.crypto_offloaded(), "{mode}: not offloaded: {}", accel.description());
    let d = accel.description().to_string();
    for dev in devices("soft_") {
        check!(d.contains(&dev), "{mode}: {dev} not used: {d}");
    }
    Ok(accel)
}

fn instances(dev: &str) -> u32 {
    sysfs_attr(dev, "available_instances").ok().and_then(|s| s.parse().ok()).unwrap_or(0)
}

/// All queues of the soft devices are free again (they are closed when the Accel and its runtime are dropped).
fn wait_queues_released(what: &str) -> TestResult {
    let t = Instant::now();
    for d in devices("soft_") {
        while instances(&d) != 8 {
            check!(t.elapsed() < Duration::from_secs(5), "{what}: {d} still has {} free queues", instances(&d));
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    Ok(())
}

/// The flate2 reference codec of a format (uacce-testkit's).
fn zip_alg(f: Format) -> ZipAlg {
    match f {
        Format::Gzip => ZipAlg::Gzip,
        Format::Zlib => ZipAlg::Zlib,
        _ => ZipAlg::Deflate,
    }
}

fn cpu_encode(f: Format, input: &[u8]) -> Vec<u8> {
    codec::compress(zip_alg(f), input)
}

fn cpu_decode(f: Format, comp: &[u8]) -> std::io::Result<Vec<u8>> {
    codec::decompress(zip_alg(f), comp)
}

const FORMATS: [Format; 3] = [Format::Gzip, Format::Zlib, Format::Deflate];

/// One job of the mixed workload, checked against the CPU. Kinds: 0..2 device compress → CPU decode, 3..5 CPU
/// encode → device decompress (gzip, zlib, deflate), 6 AES-256-GCM seal/open, 7 SHA-256 and HMAC-SHA256.
async fn job(accel: Accel, i: usize) -> TestResult {
    use aes_gcm::aead::{AeadInPlace, KeyInit};
    use hmac::Mac;
    use sha2::Digest;
    let input = data(1 + (i * 7919) % 60_000, i as u32);
    match i % 8 {
        k @ 0..=2 => {
            let f = FORMATS[k];
            let comp = accel.compress(f, input.clone()).await.map_err(|e| format!("job {i}: compress {f:?}: {e}"))?;
            let back = cpu_decode(f, &comp).map_err(|e| format!("job {i}: CPU decode of {f:?}: {e}"))?;
            check!(back == input, "job {i}: {f:?} round trip differs");
        }
        k @ 3..=5 => {
            let f = FORMATS[k - 3];
            let out = accel.decompress(f, cpu_encode(f, &input)).await.map_err(|e| format!("job {i}: decompress {f:?}: {e}"))?;
            check!(out[..] == input[..], "job {i}: {f:?} decompress differs");
        }
        6 => {
            let key = data(32, i as u32 + 1);
            let nonce: [u8; 12] = data(12, i as u32 + 2).try_into().unwrap();
            let aad = data(i % 40, i as u32 + 3);
            let sealed = accel
                .aes_gcm_seal_with_nonce_unchecked(&AeadKey::new(&key).map_err(|e| e.to_string())?, &nonce, &aad, input.clone())
                .await
                .map_err(|e| format!("job {i}: seal: {e}"))?;
            let mut r = input.clone();
            let tag = aes_gcm::Aes256Gcm::new_from_slice(&key)
                .unwrap()
                .encrypt_in_place_detached(&nonce.into(), &aad, &mut r)
                .map_err(|_| "gcm")?;
            r.extend_from_slice(&tag);
            check!(sealed[..] == r[..], "job {i}: AES-256-GCM seal differs from RustCrypto");
            let opened = accel
                .aes_gcm_open(&AeadKey::new(&key).map_err(|e| e.to_string())?, &nonce, &aad, sealed.clone())
                .await
                .map_err(|e| format!("job {i}: open: {e}"))?;
            check!(opened[..] == input[..], "job {i}: open differs");
            let mut bad = sealed.to_vec();
            let n = bad.len();
            bad[n - 1] ^= 1;
            let r = accel.aes_gcm_open(&AeadKey::new(&key).map_err(|e| e.to_string())?, &nonce, &aad, bad).await;
            check!(matches!(r, Err(Error::AuthFailed)), "job {i}: tampered tag: {r:?}");
        }
        _ => {
            let d = accel.digest(HashAlg::Sha256, input.clone()).await.map_err(|e| format!("job {i}: digest: {e}"))?;
            check!(d[..] == sha2::Sha256::digest(&input)[..], "job {i}: SHA-256 differs");
            let key = data(32, i as u32 + 5);
            let m = accel
                .hmac_sign(&HmacKey::new(HashAlg::Sha256, &key), input.clone())
                .await
                .map_err(|e| format!("job {i}: hmac: {e}"))?;
            let mut h = <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(&key).unwrap();
            h.update(&input);
            check!(m[..] == h.finalize().into_bytes()[..], "job {i}: HMAC-SHA256 differs");
        }
    }
    Ok(())
}

/// 64 concurrent jobs of every kind through `Backend::Hardware` in `mode`.
pub fn mixed(mode: NotifyMode) -> TestResult {
    let r = rt().block_on(async move {
        let accel = build(mode).await?;
        // The Accel holds queues: 2 per device and kind (compress, decompress; SEC)
        for d in devices("soft_") {
            // ZIP: compress and decompress; HPRE: RSA (type 0) and ECC (type 1); SEC: one kind
            let taken = if d.starts_with("soft_sec") { 2 } else { 4 };
            check!(instances(&d) == 8 - taken, "{mode}: {d}: {} free queues ({} live queues)", instances(&d), accel.live_queues());
        }
        let t = Instant::now();
        let mut set = tokio::task::JoinSet::new();
        for i in 0..64 {
            set.spawn(job(accel.clone(), i));
        }
        let mut errs = Vec::new();
        while let Some(r) = tokio::time::timeout(Duration::from_secs(60), set.join_next())
            .await
            .map_err(|_| format!("{mode}: jobs not done after 60 s"))?
        {
            if let Err(e) = r.map_err(|e| format!("task: {e}")).and_then(|r| r) {
                errs.push(e);
            }
        }
        check!(errs.is_empty(), "{mode}: {} of 64 jobs failed: {}", errs.len(), errs[..errs.len().min(3)].join("; "));
        let want = 6 * devices("soft_zip-").len().min(devices("soft_sec-").len()) + 4 * devices("soft_hpre-").len();
        check!(accel.live_queues() == want, "{mode}: {} live queues after the jobs, want {want}", accel.live_queues());
        println!("# async {mode}: 64 mixed jobs in {} ms", t.elapsed().as_millis());
        Ok::<(), String>(())
    });
    r?;
    wait_queues_released(mode.name())
}

pub fn mixed_interrupt() -> TestResult {
    mixed(NotifyMode::Interrupt)
}
pub fn mixed_eventfd() -> TestResult {
    mixed(NotifyMode::Eventfd)
}
pub fn mixed_io_uring() -> TestResult {
    mixed(NotifyMode::IoUring)
}
pub fn mixed_busy_poll() -> TestResult {
    mixed(NotifyMode::BusyPoll)
}
pub fn mixed_hybrid() -> TestResult {
    mixed(NotifyMode::Hybrid)
}

// ---------------------------------------------------------------- removal --

/// Child process of the removal tests (`--child-async-removal MODE DEV`): 64 tasks keep submitting jobs to an Accel
/// over every soft device (each resubmits as soon as its job ends) until `DEV`'s removal has returned; `DEV` holds
/// its jobs (the "hold" parameter) from the start, so the jobs routed to it are in flight when the removal lands
/// (ties between lanes go round-robin, so some are). One line reports how the jobs ended:
/// `result jobs=N ok=N removed=N reset=N timeout=N other=N late_ms=N remove_ms=N first_other=...`, where late_ms is
/// the longest time from the removal to the end of a failed job. Runs in its own process because a retired lane may
/// still touch the queue's DUS mapping, which `uacce_remove()` unmaps (a SIGBUS would take the whole test binary down).
pub fn child_removal(mode: &str, dev: &str) {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    let mode: NotifyMode = mode.parse().unwrap();
    let dev = dev.to_string();
    // The diagnostic SIGBUS handler goes in first: uacce-async's guard (uacce_sys::guard), installed when the Accel
    // opens its first queue, keeps it for the faults outside queue mappings
    sigbus::install();
    let r = rt().block_on(async move {
        let accel = build(mode).await?;
        if !uacce_sys::guard::installed() {
            return Err("uacce-async did not install the SIGBUS guard".to_string());
        }
        sigbus::record_dus_mappings(&dev);
        // Jobs big enough (the same buffer for all) that the device's workers have a backlog, and small enough that
        // the soft device's own stop (it finishes the job it runs) and the CPU its workers take from the child under
        // TCG do not swamp what is measured
        let zip = dev.starts_with("soft_zip");
        let hpre = dev.starts_with("soft_hpre");
        let input = Bytes::from(data(if zip { 64 * 1024 } else { 512 * 1024 }, 1));
        // HPRE: RSA-4096 private operations (CRT), the slowest job of the soft HPRE device
        let rsa = uacce_async::RsaPrivateKey::from_pem(include_str!("../../../../uacce-async/tests/vectors/rsa/key4096.pem"))
            .map_err(|e| format!("RSA key: {e}"))?;
        let removed_done = Arc::new(AtomicBool::new(false));
        // The device to be removed holds its jobs from now on (uacce_soft's "hold" parameter): the jobs routed to
        // it are still in flight when it goes, however fast the others run. Without it a fast run could finish
        // every job before the removal landed (it did once: ok=64 removed=0).
        std::fs::write("/sys/module/uacce_soft/parameters/hold", format!("{dev}\n")).map_err(|e| format!("hold: {e}"))?;
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..64 {
            let (a, input, done) = (accel.clone(), input.clone(), removed_done.clone());
            let rsa = rsa.clone();
            set.spawn(async move {
                let mut ends = Vec::new();
                loop {
                    let r = if hpre {
                        a.rsa_sign_pkcs1v15(&rsa, uacce_async::RsaHash::Sha256, &input[..64]).await.map(|_| ())
                    } else if zip {
                        a.compress(Format::Gzip, input.clone()).await.map(|_| ())
                    } else {
                        a.digest(HashAlg::Sha256, input.clone()).await.map(|_| ())
                    };
                    ends.push((r, Instant::now()));
                    if done.load(Ordering::Acquire) {
                        return ends;
                    }
                }
            });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        sigbus::mark_removal();
        let t0 = Instant::now();
        // Blocking the runtime thread here is deliberate: the other worker thread and the lanes' drivers go on
        let write = std::fs::write("/sys/module/uacce_soft/parameters/remove", format!("{dev}\n"));
        removed_done.store(true, Ordering::Release);
        write.map_err(|e| format!("remove: {e}"))?;
        // uacce_remove() stops each queue in turn, and the soft device lets the job it is running finish first
        let remove_ms = t0.elapsed().as_millis();
        let (mut jobs, mut ok, mut removed, mut reset, mut timeout, mut other, mut late) =
            (0, 0, 0, 0, 0, 0, Duration::ZERO);
        let mut first_other = String::new();
        while let Some(r) = tokio::time::timeout(Duration::from_secs(30), set.join_next())
            .await
            .map_err(|_| "jobs not done 30 s after the removal".to_string())?
        {
            for (r, at) in r.map_err(|e| format!("task: {e}"))? {
                jobs += 1;
                match r {
                    Ok(()) => ok += 1,
                    Err(e) => {
                        late = late.max(at.saturating_duration_since(t0));
                        match e {
                            Error::DeviceRemoved => removed += 1,
                            Error::QueueReset => reset += 1,
                            Error::Timeout(_) => timeout += 1,
                            e => {
                                other += 1;
                                if first_other.is_empty() {
                                    first_other = e.to_string();
                                }
                            }
                        }
                    }
                }
            }
        }
        Ok::<String, String>(format!(
            "result jobs={jobs} ok={ok} removed={removed} reset={reset} timeout={timeout} other={other} late_ms={} remove_ms={remove_ms} guard={} first_other={first_other}",
            late.as_millis(),
            uacce_sys::guard::hits()
        ))
    });
    match r {
        Ok(line) => println!("{line}"),
        Err(e) => println!("error {e}"),
    }
    std::io::stdout().flush().ok();
}

/// Remove `dev` while 64 tasks keep jobs in flight on an Accel in `mode`: the jobs on the removed device must fail
/// within 1 s with `Error::DeviceRemoved`; the others complete (or were retried on the remaining device). `dummy`:
/// uacce_soft opts in to dummy pages (a late access reads ones), so uacce-async's SIGBUS guard must not have acted;
/// without it (dummy_pages=0, SIGBUS on a late access) the guard's replacements are reported.
fn removal(mode: NotifyMode, prefix: &str) -> TestResult {
    removal_on(mode, prefix, true)
}

fn removal_on(mode: NotifyMode, prefix: &str, dummy: bool) -> TestResult {
    let list = devices(prefix);
    // One device stays for the jobs that move over
    check!(list.len() >= 2, "{prefix}: {list:?}");
    let dev = list[list.len() - 1].as_str();
    let mut cmd = Command::new("/proc/self/exe");
    cmd.args(["--child-async-removal", mode.name(), dev]).stdout(Stdio::piped());
    // The soft devices do the jobs on the guest's 2 vCPUs (kernel workers running zlib and SHA under TCG), which
    // hardware would not: at equal weight those workers starve the child's threads for up to a second after the
    // removal, and the test would time CFS instead of uacce-async. Nice -10 gives the child the CPU share an
    // application has next to an accelerator that does not use the CPU.
    // SAFETY: setpriority is async-signal-safe, and the closure touches nothing of the parent.
    unsafe {
        use std::os::unix::process::CommandExt;
        cmd.pre_exec(|| {
            if libc::setpriority(libc::PRIO_PROCESS, 0, -10) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().map_err(|e| e.to_string())?;
    let mut all = String::new();
    child.stdout.take().unwrap().read_to_string(&mut all).map_err(|e| e.to_string())?;
    let st = child.wait().map_err(|e| e.to_string())?;
    let out = all.lines().next().unwrap_or("").to_string();
    if let Some(f) = all.lines().find(|l| l.starts_with("sigbus-frames ")) {
        println!("# async removal of {dev} ({mode}): SIGBUS at {}", &f[14..]);
    }
    // The remaining devices get their queues back (a killed child's queues go when its mm is released)
    wait_queues_released("after the removal child")?;
    use std::os::unix::process::ExitStatusExt;
    if let Some(sig) = st.signal() {
        return Err(format!("{mode}: the process died of signal {sig} after removing {dev} (output {:?})", out.trim()));
    }
    let line = out.trim();
    // With patch 0004 and the opt-in a removed queue's mappings read as all ones; without the opt-in uacce-async's
    // guard turns a SIGBUS in a queue mapping into the same. A SIGBUS here means neither worked.
    check!(!line.starts_with("sigbus "), "{mode}: SIGBUS after removing {dev}: {line}");
    check!(line.starts_with("result "), "{mode}: child: {line:?} ({st})");
    println!("# async removal of {dev} ({mode}): {}", &line[7..]);
    let get = |k: &str| -> u64 {
        line.split_whitespace().find_map(|w| w.strip_prefix(&format!("{k}="))).and_then(|v| v.parse().ok()).unwrap_or(u64::MAX)
    };
    check!(get("removed") >= 1, "{mode}: no future failed with DeviceRemoved: {line}");
    check!(get("reset") == 0 && get("timeout") == 0 && get("other") == 0, "{mode}: unexpected errors: {line}");
    check!(get("jobs") >= 64 && get("ok") + get("removed") == get("jobs"), "{mode}: {line}");
    check!(get("late_ms") < 1000, "{mode}: failed futures ended up to {} ms after the removal", get("late_ms"));
    check!(devices(dev).is_empty(), "{dev} still there");
    let guard = get("guard");
    check!(guard != u64::MAX, "{mode}: no guard count: {line}");
    if dummy {
        check!(guard == 0, "{mode}: the SIGBUS guard acted {guard} times although the device opts in to dummy pages");
    } else {
        println!("# without dummy pages ({mode}): the SIGBUS guard replaced {guard} queue mapping(s)");
    }
    Ok(())
}

/// Run `removal_on(.., dummy = false)` with uacce_soft loaded with `dummy_pages=0` (devices=2, so one of each kind
/// stays): the series without the parent's opt-in, where a late access raises SIGBUS as on mainline. The process
/// must survive (the child would die of the signal otherwise, which `removal_on` reports), and the futures fail with
/// DeviceRemoved. Loads uacce if needed and unloads both modules afterwards.
fn removal_sigbus_kernel(mode: NotifyMode, prefix: &str) -> TestResult {
    let run = |cmd: &str, args: &[&str]| -> TestResult {
        let out = Command::new(cmd).args(args).output().map_err(|e| format!("{cmd}: {e}"))?;
        check!(out.status.success(), "{cmd} {args:?}: {}", String::from_utf8_lossy(&out.stderr).trim());
        Ok(())
    };
    if !std::path::Path::new("/sys/module/uacce").exists() {
        run("/bin/insmod", &["/mods/uacce.ko"])?;
    }
    if std::path::Path::new("/sys/module/uacce_soft").exists() {
        run("/bin/rmmod", &["uacce_soft"])?;
    }
    run("/bin/insmod", &["/mods/uacce_soft.ko", "devices=2", "queues=8", "depth=1024", "dummy_pages=0"])?;
    let r = removal_on(mode, prefix, false);
    let unload = run("/bin/rmmod", &["uacce_soft"]).and_then(|_| run("/bin/rmmod", &["uacce"]));
    r?;
    unload
}

pub fn removal_sigbus_eventfd_zip() -> TestResult {
    removal_sigbus_kernel(NotifyMode::Eventfd, "soft_zip-")
}

pub fn removal_sigbus_interrupt_sec() -> TestResult {
    removal_sigbus_kernel(NotifyMode::Interrupt, "soft_sec-")
}

pub fn removal_sigbus_io_uring_zip() -> TestResult {
    removal_sigbus_kernel(NotifyMode::IoUring, "soft_zip-")
}

pub fn removal_sigbus_hybrid_sec() -> TestResult {
    removal_sigbus_kernel(NotifyMode::Hybrid, "soft_sec-")
}

pub fn removal_sigbus_busy_poll_zip() -> TestResult {
    removal_sigbus_kernel(NotifyMode::BusyPoll, "soft_zip-")
}

/// Removal of a soft HPRE device with RSA jobs in flight (eventfd mode).
pub fn removal_eventfd_hpre() -> TestResult {
    removal(NotifyMode::Eventfd, "soft_hpre-")
}

pub fn removal_eventfd_zip() -> TestResult {
    removal(NotifyMode::Eventfd, "soft_zip-")
}

pub fn removal_interrupt_sec() -> TestResult {
    removal(NotifyMode::Interrupt, "soft_sec-")
}

pub fn removal_io_uring_zip() -> TestResult {
    removal(NotifyMode::IoUring, "soft_zip-")
}

pub fn removal_hybrid_sec() -> TestResult {
    removal(NotifyMode::Hybrid, "soft_sec-")
}

pub fn removal_busy_poll_zip() -> TestResult {
    removal(NotifyMode::BusyPoll, "soft_zip-")
}

/// Diagnostics for a SIGBUS in the removal child: is the faulting address in a DUS mapping of the removed device,
/// which thread touched it, how long after the removal. Printed as one `sigbus ...` line, then `_exit(70)`.
mod sigbus {
    use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};

    const MAX: usize = 32;
    static START: [AtomicU64; MAX] = [const { AtomicU64::new(0) }; MAX];
    static END: [AtomicU64; MAX] = [const { AtomicU64::new(0) }; MAX];
    static N: AtomicUsize = AtomicUsize::new(0);
    static REMOVED_AT_US: AtomicI64 = AtomicI64::new(0);

    fn now_us() -> i64 {
        let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
        // SAFETY: `ts` is a valid, writable timespec, the only memory clock_gettime writes (it is async-signal-safe,
        // as the handler needs).
        unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
        ts.tv_sec * 1_000_000 + ts.tv_nsec / 1000
    }

    /// Remember the ranges of `/dev/<dev>` in /proc/self/maps (the DUS regions of the Accel's queues on it).
    pub fn record_dus_mappings(dev: &str) {
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap_or_default();
        let mut n = 0;
        for l in maps.lines().filter(|l| l.ends_with(&format!("/dev/{dev}"))) {
            let range = l.split_whitespace().next().unwrap_or("");
            if let Some((s, e)) = range.split_once('-') {
                if n < MAX {
                    START[n].store(u64::from_str_radix(s, 16).unwrap_or(0), Ordering::Relaxed);
                    END[n].store(u64::from_str_radix(e, 16).unwrap_or(0), Ordering::Relaxed);
                    n += 1;
                }
            }
        }
        N.store(n, Ordering::Release);
    }

    /// Install the handler.
    pub fn install() {
        // SAFETY: an all-zero sigaction is valid (empty mask, no flags); `handler` has the three-argument signature
        // SA_SIGINFO asks for and only reads statics and its arguments; the old action is not asked for (null).
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = handler as *const () as usize;
            sa.sa_flags = libc::SA_SIGINFO;
            libc::sigaction(libc::SIGBUS, &sa, std::ptr::null_mut());
        }
    }

    pub fn mark_removal() {
        REMOVED_AT_US.store(now_us(), Ordering::Release);
    }

    fn put(buf: &mut [u8], pos: &mut usize, s: &[u8]) {
        for &b in s {
            if *pos < buf.len() {
                buf[*pos] = b;
                *pos += 1;
            }
        }
    }

    fn put_num(buf: &mut [u8], pos: &mut usize, mut v: u64, radix: u64) {
        let mut d = [0u8; 20];
        let mut i = d.len();
        loop {
            i -= 1;
            d[i] = b"0123456789abcdef"[(v % radix) as usize];
            v /= radix;
            if v == 0 {
                break;
            }
        }
        put(buf, pos, &d[i..]);
    }

    /// Async-signal-safe: no allocation, no locks; write(2) and _exit(2) only.
    extern "C" fn handler(_sig: i32, info: *mut libc::siginfo_t, _ctx: *mut libc::c_void) {
        // SAFETY: for an SA_SIGINFO handler the kernel passes a valid siginfo_t that lives for the call.
        let addr = unsafe { (*info).si_addr() } as u64;
        let n = N.load(Ordering::Acquire);
        let mut in_dus = None;
        for i in 0..n {
            let (s, e) = (START[i].load(Ordering::Relaxed), END[i].load(Ordering::Relaxed));
            if addr >= s && addr < e {
                in_dus = Some(addr - s);
            }
        }
        let mut name = [0u8; 16];
        // SAFETY: PR_GET_NAME writes at most 16 bytes (TASK_COMM_LEN, NUL included) into `name`, which holds 16.
        unsafe { libc::prctl(libc::PR_GET_NAME, name.as_mut_ptr()) };
        let nl = name.iter().position(|&b| b == 0).unwrap_or(16);
        let removed = REMOVED_AT_US.load(Ordering::Acquire);
        let mut buf = [0u8; 256];
        let mut p = 0;
        put(&mut buf, &mut p, b"sigbus addr=0x");
        put_num(&mut buf, &mut p, addr, 16);
        match in_dus {
            Some(off) => {
                put(&mut buf, &mut p, b" in_dus=1 dus_offset=0x");
                put_num(&mut buf, &mut p, off, 16);
            }
            None => put(&mut buf, &mut p, b" in_dus=0"),
        }
        put(&mut buf, &mut p, b" thread=");
        put(&mut buf, &mut p, &name[..nl]);
        if removed != 0 {
            put(&mut buf, &mut p, b" after_removal_us=");
            put_num(&mut buf, &mut p, (now_us() - removed).max(0) as u64, 10);
        }
        put(&mut buf, &mut p, b"\n");
        // SAFETY: `put` never moves `p` past buf.len(), so write(2) reads only the first `p` bytes of `buf`.
        unsafe { libc::write(1, buf.as_ptr() as *const libc::c_void, p) };
        // Where in the library: a symbolised backtrace (allocates, which is not async-signal-safe; the fault is a
        // load from the unmapped DUS, not inside the allocator, and the process ends right after)
        let bt = std::backtrace::Backtrace::force_capture().to_string();
        let frames: Vec<&str> = bt
            .lines()
            .map(str::trim)
            .filter(|l| l.contains("uacce_") && !l.contains("sigbus") && !l.starts_with("at "))
            .map(|l| l.split_once(": ").map_or(l, |x| x.1))
            .take(8)
            .collect();
        let line = format!("sigbus-frames {}\n", frames.join(" <- "));
        // SAFETY: write(2) reads the `line.len()` bytes of the live String `line`; _exit ends the process at once.
        unsafe {
            libc::write(1, line.as_ptr() as *const libc::c_void, line.len());
            libc::_exit(70);
        }
    }
}

// ------------------------------------------------------------- streaming --

/// `uacce_async::{bufread, write}` encoders and decoders (ZIP stream mode on the soft device), checked with flate2:
/// device encode → CPU decode, CPU encode → device decode, device → device, several writes with `write::Encoder`,
/// and a corrupt gzip trailer → an `InvalidData` error.
pub fn stream_bufread() -> TestResult {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    rt().block_on(async {
        let accel = build(NotifyMode::Eventfd).await?;
        for (k, f) in FORMATS.into_iter().enumerate() {
            let plain = data(300_000, 40 + k as u32);
            let mut comp = Vec::new();
            uacce_async::bufread::Encoder::new(&accel, f, &plain[..])
                .map_err(|e| format!("{f:?} encoder: {e}"))?
                .read_to_end(&mut comp)
                .await
                .map_err(|e| format!("{f:?} stream encode: {e}"))?;
            let back = cpu_decode(f, &comp).map_err(|e| format!("{f:?}: CPU decode of the device stream: {e}"))?;
            check!(back == plain, "{f:?}: device stream round trip differs");
            for (what, src) in [("CPU", cpu_encode(f, &plain)), ("device", comp.clone())] {
                let mut out = Vec::new();
                uacce_async::bufread::Decoder::new(&accel, f, &src[..])
                    .map_err(|e| format!("{f:?} decoder: {e}"))?
                    .read_to_end(&mut out)
                    .await
                    .map_err(|e| format!("{f:?}: stream decode of the {what} stream: {e}"))?;
                check!(out == plain, "{f:?}: stream decode of the {what} stream differs");
            }
            let mut enc = uacce_async::write::Encoder::new(&accel, f, Vec::new()).map_err(|e| e.to_string())?;
            for part in plain.chunks(70_000) {
                enc.write_all(part).await.map_err(|e| format!("{f:?} write: {e}"))?;
            }
            enc.shutdown().await.map_err(|e| format!("{f:?} shutdown: {e}"))?;
            let back = cpu_decode(f, &enc.into_inner()).map_err(|e| format!("{f:?}: CPU decode of write::Encoder output: {e}"))?;
            check!(back == plain, "{f:?}: write::Encoder round trip differs");
        }
        let mut bad = cpu_encode(Format::Gzip, &data(50_000, 3));
        let n = bad.len();
        bad[n - 6] ^= 0xff;
        let mut out = Vec::new();
        let r = uacce_async::bufread::Decoder::new(&accel, Format::Gzip, &bad[..]).map_err(|e| e.to_string())?.read_to_end(&mut out).await;
        check!(matches!(&r, Err(e) if e.kind() == std::io::ErrorKind::InvalidData), "corrupt gzip trailer: {r:?}");
        Ok::<(), String>(())
    })?;
    wait_queues_released("stream")
}

// ---------------------------------------------------------------- tracing --

/// Prints uacce-async's `tracing` events of level WARN and above as `# tracing LEVEL target: fields` lines (on
/// stderr in child processes, whose stdout is parsed).
pub mod log {
    use std::fmt::Write as _;
    use tracing::field::{Field, Visit};
    use tracing::{Event, Level, Metadata, Subscriber};

    struct Printer {
        stderr: bool,
    }

    struct Fields(String);

    impl Visit for Fields {
        fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
            if field.name() == "message" {
                let _ = write!(self.0, " {value:?}");
            } else {
                let _ = write!(self.0, " {}={value:?}", field.name());
            }
        }
    }

    impl Subscriber for Printer {
        fn enabled(&self, m: &Metadata<'_>) -> bool {
            *m.level() <= Level::WARN
        }
        fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
            tracing::span::Id::from_u64(1)
        }
        fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
        fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
        fn event(&self, e: &Event<'_>) {
            let mut f = Fields(String::new());
            e.record(&mut f);
            // Every queue of a dropped Accel is retired with this WARN: not worth a line each
            if f.0.contains("the accelerator was shut down") {
                return;
            }
            let line = format!("# tracing {} {}:{}", e.metadata().level(), e.metadata().target(), f.0);
            if self.stderr {
                eprintln!("{line}");
            } else {
                println!("{line}");
            }
        }
        fn enter(&self, _: &tracing::span::Id) {}
        fn exit(&self, _: &tracing::span::Id) {}
    }

    pub fn init(stderr: bool) {
        let _ = tracing::subscriber::set_global_default(Printer { stderr });
    }
}
