//! Regression benchmarks for the completion strategies (criterion, `async_tokio`): a few cells of the
//! `polling-vs-interrupt` matrix on the emulated devices, service time none.
//!
//! `cargo bench --bench notify` (filter with e.g. `-- eventfd/null`).
//!
//! * `<mode>/null/d1`: one null job at a time (latency of the ring plus the completion path).
//! * `<mode>/null/d16`: 16 null jobs submitted together and awaited (batched completions; time per batch).
//! * `<mode>/gzip-4k/d16`: 16 gzip jobs of 4 KiB each (time per batch).
//! * `spawn-blocking/gzip-4k/d16`: the same 16 gzip jobs on `spawn_blocking` with flate2, for comparison.

use std::time::Duration;

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use uacce_async::{Accel, Backend, Format, NotifyMode};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn sample(len: usize) -> Bytes {
    let line = b"GET /api/v1/items 200 latency_ms=12 cache=hit user=42\n";
    Bytes::from(line.iter().copied().cycle().take(len).collect::<Vec<u8>>())
}

fn gzip_cpu(data: &[u8]) -> usize {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(1));
    e.write_all(data).expect("vec write");
    e.finish().expect("vec write").len()
}

async fn batch<F, Fut>(n: usize, f: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let handles: Vec<_> = (0..n).map(|_| tokio::spawn(f())).collect();
    for h in handles {
        h.await.expect("job task");
    }
}

fn modes(c: &mut Criterion) {
    let rt = runtime();
    let data = sample(4096);
    for mode in [
        NotifyMode::BusyPoll,
        NotifyMode::Hybrid,
        NotifyMode::Interrupt,
        NotifyMode::Eventfd,
        NotifyMode::IoUring,
    ] {
        let accel = rt.block_on(async {
            Accel::builder()
                .backend(Backend::Emulated)
                .mode(mode)
                .queues_per_device(1)
                .build()
                .await
                .expect("emulated accelerator")
        });
        let mut g = c.benchmark_group(mode.name());
        g.measurement_time(Duration::from_secs(3));
        g.warm_up_time(Duration::from_millis(500));
        g.bench_function("null/d1", |b| {
            b.to_async(&rt)
                .iter(|| async { accel.nop().await.expect("nop") })
        });
        g.bench_function("null/d16", |b| {
            b.to_async(&rt).iter(|| {
                batch(16, || {
                    let a = accel.clone();
                    async move { a.nop().await.expect("nop") }
                })
            })
        });
        g.bench_function("gzip-4k/d16", |b| {
            b.to_async(&rt).iter(|| {
                batch(16, || {
                    let (a, d) = (accel.clone(), data.clone());
                    async move {
                        a.compress(Format::Gzip, d).await.expect("compress");
                    }
                })
            })
        });
        g.finish();
        rt.block_on(async move { drop(accel) });
    }
    let mut g = c.benchmark_group("spawn-blocking");
    g.measurement_time(Duration::from_secs(3));
    g.bench_function("gzip-4k/d16", |b| {
        b.to_async(&rt).iter(|| {
            batch(16, || {
                let d = data.clone();
                async move {
                    tokio::task::spawn_blocking(move || std::hint::black_box(gzip_cpu(&d)))
                        .await
                        .expect("blocking task");
                }
            })
        })
    });
    g.finish();
}

criterion_group!(benches, modes);
criterion_main!(benches);
