//! Large one-shot compression and decompression on the device (issue 13, item 1).

mod common;

use common::*;
use uacce_async::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smoke() {
    let accel = emu_default(NotifyMode::Eventfd).await;
    let mut rng = Rng::new(7);
    let mut data = rng.text(20 << 20);
    data.extend(rng.bytes(9 << 20));
    let t = std::time::Instant::now();
    let gz = accel.compress(Format::Gzip, data.clone()).await.unwrap();
    eprintln!("compress {:?} {} -> {}", t.elapsed(), data.len(), gz.len());
    let t = std::time::Instant::now();
    let back = accel.decompress(Format::Gzip, gz.clone()).await.unwrap();
    eprintln!("decompress {:?}", t.elapsed());
    assert!(back == data);
    let c = accel.emulated_devices()[0].counters();
    eprintln!("{c:?} cpu {}", accel.cpu_jobs());
}
