//! Streaming encoders and decoders: their output is one standard stream that independent decoders read (the
//! `gzip` command and Python's zlib module), and they decode standard streams.

mod common;

use std::process::Command;

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use uacce_async::*;

/// Decode with a program that has nothing to do with this project: `gzip -dc` for gzip, Python's zlib for zlib
/// and raw deflate. A missing tool fails the test (it is installed on the project's machines).
fn independent_decode(format: Format, data: &[u8]) -> Vec<u8> {
    let mut cmd = match format {
        Format::Gzip => {
            let mut c = Command::new("gzip");
            c.arg("-dc");
            c
        }
        other => {
            let wbits = match other {
                Format::Zlib => 15,
                Format::Deflate => -15,
                other => panic!("no independent decoder for {other:?}"),
            };
            let mut c = Command::new("python3");
            c.arg("-c").arg(format!(
                "import sys,zlib; d=zlib.decompressobj({wbits}); o=d.decompress(sys.stdin.buffer.read()); \
                 assert d.eof, 'stream not finished'; assert not d.unused_data, 'trailing data'; \
                 sys.stdout.buffer.write(o)"
            ));
            c
        }
    };
    pipe_through(&mut cmd, data)
}

async fn accels() -> Vec<Accel> {
    vec![
        emu_default(NotifyMode::Eventfd).await,
        emu_default(NotifyMode::BusyPoll).await,
        cpu().await,
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encoders_produce_standard_streams() {
    let mut rng = Rng::new(5);
    let sizes = [0usize, 1, 70_000, scaled(1 << 20).max(200_000)];
    for accel in accels().await {
        for format in [Format::Gzip, Format::Zlib, Format::Deflate] {
            for &n in &sizes {
                let plain = rng.text(n);
                // bufread::Encoder over a reader with a small buffer (many steps).
                let reader = BufReader::with_capacity(10_000, &plain[..]);
                let mut enc = bufread::Encoder::new(&accel, format, reader).unwrap();
                let mut c = Vec::new();
                enc.read_to_end(&mut c).await.unwrap();
                assert_eq!(
                    independent_decode(format, &c),
                    plain,
                    "{} {format:?} {n}",
                    accel.description()
                );

                // write::Encoder fed in odd-sized pieces, with a flush in the middle.
                let mut enc = write::Encoder::new(&accel, format, Vec::new()).unwrap();
                let mut pos = 0;
                let mut flushed = false;
                while pos < plain.len() {
                    let k = (rng.below(90_000) as usize + 1).min(plain.len() - pos);
                    enc.write_all(&plain[pos..pos + k]).await.unwrap();
                    pos += k;
                    if !flushed && pos > plain.len() / 2 {
                        enc.flush().await.unwrap();
                        flushed = true;
                    }
                }
                enc.shutdown().await.unwrap();
                let c = enc.into_inner();
                assert_eq!(
                    independent_decode(format, &c),
                    plain,
                    "{} {format:?} {n}",
                    accel.description()
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decoders_read_standard_streams() {
    let mut rng = Rng::new(8);
    let plain = rng.text(scaled(2 << 20).max(150_000));
    let cpu = cpu().await;
    for accel in accels().await {
        for format in [Format::Gzip, Format::Zlib, Format::Deflate] {
            let c = cpu.compress(format, plain.clone()).await.unwrap();
            let reader = BufReader::with_capacity(7_000, &c[..]);
            let mut dec = bufread::Decoder::new(&accel, format, reader).unwrap();
            let mut out = Vec::new();
            dec.read_to_end(&mut out).await.unwrap();
            assert_eq!(out, plain, "{} {format:?}", accel.description());

            let mut dec = write::Decoder::new(&accel, format, Vec::new()).unwrap();
            for piece in c.chunks(33_333) {
                dec.write_all(piece).await.unwrap();
            }
            dec.shutdown().await.unwrap();
            assert_eq!(
                dec.into_inner(),
                plain,
                "{} {format:?}",
                accel.description()
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decoders_report_truncation_and_trailing_data() {
    let plain = Rng::new(9).text(300_000);
    let cpu = cpu().await;
    for accel in accels().await {
        let gz = cpu.compress(Format::Gzip, plain.clone()).await.unwrap();
        // Truncated: the reader ends before the stream does.
        let cut = &gz[..gz.len() - 20];
        let mut dec = bufread::Decoder::new(&accel, Format::Gzip, cut).unwrap();
        let e = dec.read_to_end(&mut Vec::new()).await.unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidData, "{e}");
        let mut dec = write::Decoder::new(&accel, Format::Gzip, Vec::new()).unwrap();
        dec.write_all(cut).await.unwrap();
        let e = dec.shutdown().await.unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidData, "{e}");
        // A corrupt trailer.
        let mut bad = gz.to_vec();
        let l = bad.len();
        bad[l - 6] ^= 0xFF;
        let mut dec = bufread::Decoder::new(&accel, Format::Gzip, &bad[..]).unwrap();
        assert!(dec.read_to_end(&mut Vec::new()).await.is_err());
        // Trailing data that is not a gzip member: the reader decoder stops at the end and leaves it; the writer
        // decoder refuses it.
        let mut more = gz.to_vec();
        more.extend_from_slice(b"NEXT");
        let mut dec = bufread::Decoder::new(&accel, Format::Gzip, &more[..]).unwrap();
        let mut out = Vec::new();
        dec.read_to_end(&mut out).await.unwrap();
        assert_eq!(out, plain);
        // What follows is in the reader, or in `unused` when the decoder had gathered it with the stream's end.
        let unused = dec.unused().to_vec();
        assert_eq!([&unused[..], dec.into_inner()].concat(), b"NEXT");
        let mut dec = write::Decoder::new(&accel, Format::Gzip, Vec::new()).unwrap();
        let r = async {
            dec.write_all(&more).await?;
            dec.shutdown().await
        }
        .await;
        assert!(r.is_err(), "{}", accel.description());
        // Not a gzip stream at all.
        let mut dec =
            bufread::Decoder::new(&accel, Format::Gzip, &b"hello world, not gzip"[..]).unwrap();
        assert!(dec.read_to_end(&mut Vec::new()).await.is_err());
    }
}
