//! Coalescing (issue 13): the streaming encoders and decoders gather small writes and reads into device jobs of at
//! least `Config::stream_chunk` bytes, and an explicit flush still goes out at once.

mod common;

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use common::*;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader, ReadBuf};
use uacce_async::*;

/// A reader that returns one byte per read (a slow network source).
struct OneByte(Vec<u8>, usize);

impl AsyncRead for OneByte {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if self.1 < self.0.len() && buf.remaining() > 0 {
            let b = self.0[self.1];
            buf.put_slice(&[b]);
            self.1 += 1;
        }
        Poll::Ready(Ok(()))
    }
}

/// Device jobs completed by the emulated devices of `accel` so far.
fn jobs(accel: &Accel) -> u64 {
    accel
        .emulated_devices()
        .iter()
        .map(|d| d.counters().completed)
        .sum()
}

async fn emu_with_chunk(chunk: Option<usize>) -> Accel {
    let mut b = Accel::builder().backend(Backend::Emulated);
    if let Some(c) = chunk {
        b = b.stream_chunk(c);
    }
    b.build().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_byte_at_a_time_makes_one_job_per_unit() {
    // 64 KiB of incompressible data: the gzip stream is a little over 64 KiB.
    let plain = Rng::new(64).bytes(64 << 10);
    let cpu = cpu().await;
    let gz = cpu
        .compress(Format::Gzip, plain.clone())
        .await
        .unwrap()
        .to_vec();
    for (chunk, unit) in [(None, 32usize << 10), (Some(16 << 10), 16 << 10)] {
        let accel = emu_with_chunk(chunk).await;
        // Allowed: one job per unit of input, plus the request with the flush bit at the end and one spare.
        let bound = |len: usize| len.div_ceil(unit) as u64 + 2;
        // An encoder's BD may come back with its output room full (incompressible data, with what the device held
        // from the BD before): one more BD drains it.
        let enc_bound = |len: usize| 2 * len.div_ceil(unit) as u64 + 2;

        let before = jobs(&accel);
        let t = Instant::now();
        let mut dec = write::Decoder::new(&accel, Format::Gzip, Vec::new()).unwrap();
        for b in gz.chunks(1) {
            dec.write_all(b).await.unwrap();
        }
        dec.shutdown().await.unwrap();
        let (n, ms) = (jobs(&accel) - before, t.elapsed().as_secs_f64() * 1e3);
        assert_eq!(dec.into_inner(), plain);
        eprintln!(
            "write::Decoder, unit {unit}: {} bytes one at a time, {n} device jobs, {ms:.1} ms",
            gz.len()
        );
        assert!(
            n <= bound(gz.len()),
            "write::Decoder: {n} jobs for {} bytes",
            gz.len()
        );

        let before = jobs(&accel);
        let t = Instant::now();
        let reader = BufReader::new(OneByte(gz.clone(), 0));
        let mut dec = bufread::Decoder::new(&accel, Format::Gzip, reader).unwrap();
        let mut out = Vec::new();
        dec.read_to_end(&mut out).await.unwrap();
        let (n, ms) = (jobs(&accel) - before, t.elapsed().as_secs_f64() * 1e3);
        assert_eq!(out, plain);
        eprintln!(
            "bufread::Decoder, unit {unit}: {} bytes one per read, {n} device jobs, {ms:.1} ms",
            gz.len()
        );
        assert!(
            n <= bound(gz.len()),
            "bufread::Decoder: {n} jobs for {} bytes",
            gz.len()
        );

        let before = jobs(&accel);
        let t = Instant::now();
        let mut enc = write::Encoder::new(&accel, Format::Gzip, Vec::new()).unwrap();
        for b in plain.chunks(1) {
            enc.write_all(b).await.unwrap();
        }
        enc.shutdown().await.unwrap();
        let (n, ms) = (jobs(&accel) - before, t.elapsed().as_secs_f64() * 1e3);
        assert_eq!(
            cpu.decompress(Format::Gzip, enc.into_inner())
                .await
                .unwrap(),
            plain
        );
        eprintln!("write::Encoder, unit {unit}: {n} device jobs, {ms:.1} ms");
        assert!(n <= enc_bound(plain.len()), "write::Encoder: {n} jobs");

        let before = jobs(&accel);
        let t = Instant::now();
        let reader = BufReader::new(OneByte(plain.clone(), 0));
        let mut enc = bufread::Encoder::new(&accel, Format::Gzip, reader).unwrap();
        let mut gz2 = Vec::new();
        enc.read_to_end(&mut gz2).await.unwrap();
        let (n, ms) = (jobs(&accel) - before, t.elapsed().as_secs_f64() * 1e3);
        assert_eq!(cpu.decompress(Format::Gzip, gz2).await.unwrap(), plain);
        eprintln!("bufread::Encoder, unit {unit}: {n} device jobs, {ms:.1} ms");
        assert!(n <= enc_bound(plain.len()), "bufread::Encoder: {n} jobs");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flush_is_not_held_back() {
    for accel in [emu_default(NotifyMode::Eventfd).await, cpu().await] {
        let mut enc = write::Encoder::new(&accel, Format::Deflate, Vec::new()).unwrap();
        enc.write_all(b"hello").await.unwrap();
        enc.flush().await.unwrap();
        // Far below the unit, yet everything written so far is decodable now.
        let mut d = flate2::Decompress::new(false);
        let mut out = Vec::with_capacity(64);
        d.decompress_vec(enc.get_ref(), &mut out, flate2::FlushDecompress::Sync)
            .unwrap();
        assert_eq!(out, b"hello", "{}", accel.description());
        // The decoder decodes what it gathered at a flush, too.
        let mut dec = write::Decoder::new(&accel, Format::Deflate, Vec::new()).unwrap();
        dec.write_all(enc.get_ref()).await.unwrap();
        dec.flush().await.unwrap();
        assert_eq!(dec.get_ref(), b"hello", "{}", accel.description());
    }
}
