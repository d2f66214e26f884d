//! Resource bounds under hostile input and cancellation: the CPU pool's bound holds when futures are dropped, open
//! streams are bounded and released, output buffers are not sized from an untrusted trailer, and an output limit of
//! zero holds on every backend. Threads and resident memory return to their baseline after bursts of dropped jobs
//! and streams.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use uacce_async::{Accel, Backend, Error, Flush, Format, StreamCompressor, bufread};

/// Run `f` on a fresh runtime of `workers` worker threads (0: current-thread), one test at a time: the tests count
/// the process's threads and resident memory, which tests running beside them would change.
fn serial<F: std::future::Future>(workers: usize, f: F) -> F::Output {
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let rt = if workers == 0 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .enable_all()
            .build()
    };
    rt.expect("runtime").block_on(f)
}

/// Threads of this process.
fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").map_or(0, |d| d.count())
}

/// Resident memory of this process in KiB, after handing freed heap back to the kernel.
fn rss_kib() -> u64 {
    // SAFETY: malloc_trim only releases free memory of glibc's heap; it takes no pointers.
    unsafe { nix::libc::malloc_trim(0) };
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

async fn accel(backend: Backend, cpu_threads: usize, max_streams: usize) -> Accel {
    Accel::builder()
        .backend(backend)
        .cpu_threads(cpu_threads)
        .max_streams(max_streams)
        .build()
        .await
        .expect("accelerator")
}

fn text(len: usize, seed: u32) -> Vec<u8> {
    let words = [&b"alpha "[..], b"beta ", b"gamma ", b"delta ", b"epsilon "];
    let mut out = Vec::with_capacity(len);
    let mut x = seed.wrapping_mul(2_654_435_761).max(1);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        out.extend_from_slice(words[x as usize % words.len()]);
    }
    out.truncate(len);
    out
}

/// Start `n` jobs of `len` bytes each on the CPU path and drop every future after its first poll; return the most
/// threads seen while the work they started drains.
async fn drop_cpu_jobs(accel: &Accel, n: usize, len: usize) -> usize {
    let data = Bytes::from(text(len, 7));
    let mut peak = threads();
    for _ in 0..n {
        let fut = accel.compress(Format::Gzip, data.clone());
        // One poll, then the future is dropped (like a request timeout or a client that went away).
        let _ = tokio::time::timeout(Duration::from_micros(1), fut).await;
        peak = peak.max(threads());
    }
    let t = Instant::now();
    while t.elapsed() < Duration::from_millis(300) {
        peak = peak.max(threads());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    peak
}

/// A dropped future frees its CPU-pool slot only when the work it started has ended: dropped jobs cannot run more
/// blocking threads than `cpu_threads`. (Before the fix 400 dropped 256 KiB jobs took the process from 28 to 375
/// threads.) The emulated backend's CPU path (inputs over 8 MiB) shares the bound.
#[test]
fn dropped_cpu_jobs_stay_within_the_pool_bound() {
    serial(2, async {
        for (backend, n, len) in [
            (Backend::Cpu, 400, 256 << 10),
            (Backend::Emulated, 24, 9 << 20),
        ] {
            let accel = accel(backend, 2, 16).await;
            // Warm the runtime's blocking pool and the accelerator first, so the baseline holds their own threads.
            accel
                .compress(Format::Gzip, Bytes::from(text(len, 1)))
                .await
                .unwrap();
            let base = threads();
            let peak = drop_cpu_jobs(&accel, n, len).await;
            // The pool has at most cpu_threads = 2 threads, whatever the callers drop.
            assert!(
                peak <= base + 2,
                "{backend:?}: {base} threads before, {peak} with {n} dropped jobs"
            );
        }
    })
}

/// At most `max_streams` streams are open; one more fails at open with the typed, retryable `Error::Busy`, and the
/// open ones finish correctly. A dropped stream frees its slot, and on the emulator its device state.
#[test]
fn streams_beyond_the_limit_are_busy_and_the_rest_finish() {
    serial(0, async {
        for backend in [Backend::Emulated, Backend::Cpu] {
            let accel = accel(backend, 2, 48).await;
            let mut open = Vec::new();
            let mut busy = 0;
            for _ in 0..60 {
                match StreamCompressor::new(&accel, Format::Gzip) {
                    Ok(c) => open.push(c),
                    Err(Error::Busy(_)) => busy += 1,
                    Err(e) => panic!("{backend:?}: {e}"),
                }
            }
            assert_eq!((open.len(), busy), (48, 12), "{backend:?}");
            // Every open stream starts on the device, then all finish and decode.
            let mut started = Vec::new();
            for (i, c) in open.into_iter().enumerate() {
                let (c, r) = c
                    .compress(Bytes::from(text(3000, i as u32)), Flush::None)
                    .await;
                started.push((c, r.unwrap()));
            }
            for (i, (c, mut out)) in started.into_iter().enumerate() {
                let (_, r) = c.compress(Bytes::from(text(500, 99)), Flush::Finish).await;
                out.extend(r.unwrap());
                let gz: Vec<u8> = out.concat();
                let back = accel.decompress(Format::Gzip, gz).await.unwrap();
                let mut want = text(3000, i as u32);
                want.extend(text(500, 99));
                assert_eq!(back, want, "{backend:?}: stream {i}");
            }
            // All were dropped: the slots and the emulator's contexts are free again.
            let c = StreamCompressor::new(&accel, Format::Zlib)
                .expect("a slot after the others were dropped");
            drop(c);
            for d in accel.emulated_devices() {
                assert_eq!(d.open_streams(), 0, "{}", d.config().name);
            }
        }
    })
}

/// The emulator's own stream table is bounded too, independently of the library's limit: a new stream beyond it
/// fails with `Error::Busy` (never `CorruptData`, never by evicting another stream), and the others go on.
#[test]
fn the_emulators_stream_table_refuses_new_streams_when_full() {
    serial(0, async {
        use uacce_async::EmuOptions;
        let accel = Accel::builder()
            .backend(Backend::Emulated)
            .emu(EmuOptions::default().max_streams(8))
            .max_streams(100)
            .build()
            .await
            .unwrap();
        let zip = accel.emulated_devices()[0].clone();
        assert!(
            zip.config().name.starts_with("emu_zip"),
            "{}",
            zip.config().name
        );
        let mut live = Vec::new();
        let mut busy = 0;
        for i in 0..10u32 {
            let c = StreamCompressor::new(&accel, Format::Deflate).unwrap();
            let (c, r) = c.compress(Bytes::from(text(1000, i)), Flush::None).await;
            match r {
                Ok(out) => live.push((i, c, out)),
                Err(Error::Busy(_)) => busy += 1,
                Err(e) => panic!("stream {i}: {e}"),
            }
        }
        assert_eq!((live.len(), busy, zip.open_streams()), (8, 2, 8));
        for (i, c, mut out) in live {
            let (_, r) = c.compress(Bytes::new(), Flush::Finish).await;
            out.extend(r.unwrap());
            let back = accel
                .decompress(Format::Deflate, out.concat())
                .await
                .unwrap();
            assert_eq!(back, text(1000, i), "stream {i}");
        }
        assert_eq!(zip.open_streams(), 0);
    })
}

/// Counts the bytes this test binary has allocated, live and at the peak: what a job costs in memory, whether or
/// not the pages were touched.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn count_up(n: usize) {
    let live = LIVE.fetch_add(n, Ordering::Relaxed) + n;
    PEAK.fetch_max(live, Ordering::Relaxed);
}

// SAFETY: every method forwards to the system allocator with the caller's arguments unchanged; the counters are
// only statistics.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_up(layout.size());
        // SAFETY: the caller's layout, as GlobalAlloc::alloc requires.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count_up(layout.size());
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: `ptr` was allocated by System with `layout` (every allocation above goes to System).
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count_up(new_size);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: `ptr` was allocated by System with `layout`; the caller guarantees new_size is valid.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// The most bytes live at once while `n` concurrent decompressions of `input` run, above what was live before.
async fn peak_of_decompressions(
    accel: &Accel,
    input: &[u8],
    n: usize,
) -> (usize, Vec<uacce_async::Result<Bytes>>) {
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let (a, d) = (accel.clone(), Bytes::copy_from_slice(input));
            tokio::spawn(async move { a.decompress(Format::Gzip, d).await })
        })
        .collect();
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.expect("task"));
    }
    (PEAK.load(Ordering::Relaxed).saturating_sub(base), results)
}

/// gzip's ISIZE trailer does not size the output buffer: 256 concurrent decompressions of `gzip("hello")` with ISIZE
/// patched to 4 GiB cost what the honest ones do (each took an 8 MiB buffer when the trailer sized it), and the
/// result is `CorruptData` on every backend.
#[test]
fn a_patched_isize_is_corrupt_data_and_costs_nothing_extra() {
    serial(0, async {
        for backend in [Backend::Emulated, Backend::Cpu] {
            let accel = accel(backend, 2, 16).await;
            let honest = accel.compress(Format::Gzip, &b"hello"[..]).await.unwrap();
            let mut patched = honest.to_vec();
            let n = patched.len();
            patched[n - 4..].copy_from_slice(&u32::MAX.to_le_bytes());
            let (honest_peak, results) = peak_of_decompressions(&accel, &honest, 256).await;
            for r in results {
                assert_eq!(&r.unwrap()[..], b"hello", "{backend:?}");
            }
            let (patched_peak, results) = peak_of_decompressions(&accel, &patched, 256).await;
            for r in results {
                assert!(
                    matches!(r, Err(Error::CorruptData(_))),
                    "{backend:?}: {r:?}"
                );
            }
            assert!(
                patched_peak <= honest_peak + honest_peak / 2 + (1 << 20),
                "{backend:?}: peak {patched_peak} bytes with a patched ISIZE, {honest_peak} with the honest one"
            );
        }
    })
}

/// An output limit of 0 admits only an empty output, on every backend and for every format.
#[test]
fn a_limit_of_zero_holds_everywhere() {
    serial(0, async {
        for backend in [Backend::Emulated, Backend::Cpu] {
            let accel = accel(backend, 2, 16).await;
            for format in [Format::Deflate, Format::Zlib, Format::Gzip] {
                let x = accel.compress(format, &b"x"[..]).await.unwrap();
                let r = accel.decompress_with_limit(format, x, 0).await;
                assert!(
                    matches!(r, Err(Error::OutputLimit { limit: 0 })),
                    "{backend:?} {format:?}: {r:?}"
                );
                let empty = accel.compress(format, Bytes::new()).await.unwrap();
                let r = accel.decompress_with_limit(format, empty, 0).await;
                assert_eq!(r.unwrap().len(), 0, "{backend:?} {format:?}");
            }
        }
    })
}

/// Threads and resident memory come back after repeated bursts of dropped jobs and of streams dropped unfinished.
#[test]
fn threads_and_memory_return_to_baseline_after_bursts() {
    serial(2, async {
        let accel = accel(Backend::Emulated, 2, 4096).await;
        let data = Bytes::from(text(200 << 10, 5));
        let mut after = Vec::new();
        for round in 0..4 {
            // Streams started on the device and dropped before their end.
            for i in 0..200 {
                let c = StreamCompressor::new(&accel, Format::Gzip).unwrap();
                let (c, r) = c
                    .compress(data.slice(..(i % 7 + 1) * 1000), Flush::None)
                    .await;
                r.unwrap();
                drop(c);
            }
            // Decoders over truncated input, dropped midway.
            let gz = accel.compress(Format::Gzip, data.clone()).await.unwrap();
            for _ in 0..50 {
                let mut d =
                    bufread::Decoder::new(&accel, Format::Gzip, &gz[..gz.len() / 2]).unwrap();
                let mut buf = [0u8; 4096];
                let _ = tokio::io::AsyncReadExt::read(&mut d, &mut buf).await;
            }
            // Device jobs dropped in flight.
            for _ in 0..200 {
                let _ = tokio::time::timeout(
                    Duration::from_micros(1),
                    accel.compress(Format::Zlib, data.clone()),
                )
                .await;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
            let zip = &accel.emulated_devices()[0];
            assert_eq!(
                zip.open_streams(),
                0,
                "round {round}: stream contexts left on the device"
            );
            after.push((threads(), rss_kib()));
        }
        let (t0, r0) = after[0];
        for (round, &(t, r)) in after.iter().enumerate() {
            assert!(
                t <= t0 + 2,
                "round {round}: {t} threads after the bursts, {t0} after the first"
            );
            assert!(
                r <= r0 + r0 / 10 + 4096,
                "round {round}: {r} KiB resident, {r0} KiB after the first: {after:?}"
            );
        }
    })
}

/// A gzip header that never ends (a file name without its NUL) does not make a streaming decoder gather input
/// without limit: past 256 KiB of header it is corrupt data, on every backend.
#[test]
fn an_endless_gzip_header_is_corrupt_data() {
    serial(0, async {
        for backend in [Backend::Emulated, Backend::Cpu] {
            let accel = accel(backend, 2, 16).await;
            // Magic, deflate, FNAME, mtime, xfl, os, then name bytes without end and no NUL.
            let header: &[u8] = &[0x1f, 0x8b, 8, 0x08, 0, 0, 0, 0, 0, 3];
            let endless = tokio::io::AsyncReadExt::chain(header, tokio::io::repeat(b'a'));
            let mut d =
                bufread::Decoder::new(&accel, Format::Gzip, tokio::io::BufReader::new(endless))
                    .unwrap();
            let mut out = Vec::new();
            let read = tokio::io::AsyncReadExt::read_to_end(&mut d, &mut out);
            let err = tokio::time::timeout(Duration::from_secs(20), read)
                .await
                .expect("the decoder kept gathering the header")
                .expect_err("an endless header decoded");
            assert_eq!(
                err.kind(),
                std::io::ErrorKind::InvalidData,
                "{backend:?}: {err}"
            );
            assert!(err.to_string().contains("header"), "{backend:?}: {err}");
        }
    })
}
