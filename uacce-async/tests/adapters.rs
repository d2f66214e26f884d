//! The streaming adapters as async-compression has them: inner readers and writers that are not `Unpin`,
//! `with_quality`, the accessors, and the documented constructor errors.

mod common;

use std::io;
use std::marker::PhantomPinned;
use std::pin::Pin;
use std::task::{Context, Poll};

use common::*;
use pin_project_lite::pin_project;
use tokio::io::{AsyncBufRead, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use uacce_async::{Accel, Backend, Error, Format, bufread, write};

pin_project! {
    /// A reader or writer that is not `Unpin`: the adapters must pin-project it, not move it.
    struct Pinned<T> {
        #[pin]
        inner: T,
        #[pin]
        _pin: PhantomPinned,
    }
}

fn pinned<T>(inner: T) -> Pinned<T> {
    Pinned {
        inner,
        _pin: PhantomPinned,
    }
}

impl<T: AsyncRead> AsyncRead for Pinned<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.project().inner.poll_read(cx, buf)
    }
}

impl<T: AsyncBufRead> AsyncBufRead for Pinned<T> {
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        self.project().inner.poll_fill_buf(cx)
    }
    fn consume(self: Pin<&mut Self>, amt: usize) {
        self.project().inner.consume(amt)
    }
}

impl<T: AsyncWrite> AsyncWrite for Pinned<T> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, b: &[u8]) -> Poll<io::Result<usize>> {
        self.project().inner.poll_write(cx, b)
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_flush(cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_shutdown(cx)
    }
}

fn text(n: usize) -> Vec<u8> {
    Rng::new(11).text(n)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adapters_take_readers_and_writers_that_are_not_unpin() {
    let plain = text(300_000);
    for backend in [Backend::Emulated, Backend::Cpu] {
        let accel = Accel::builder().backend(backend).build().await.unwrap();
        // write::Encoder into a pinned Vec, bufread::Decoder from a pinned slice.
        let enc = write::Encoder::new(&accel, Format::Gzip, pinned(Vec::new())).unwrap();
        let mut enc = Box::pin(enc);
        enc.write_all(&plain).await.unwrap();
        enc.shutdown().await.unwrap();
        let _: Pin<&mut Pinned<Vec<u8>>> = enc.as_mut().get_pin_mut();
        let gz = enc.get_ref().inner.clone();

        let dec = bufread::Decoder::new(&accel, Format::Gzip, pinned(&gz[..])).unwrap();
        tokio::pin!(dec);
        let mut back = Vec::new();
        dec.read_to_end(&mut back).await.unwrap();
        assert!(back == plain, "{backend:?}");
        assert!(
            dec.as_mut().get_pin_mut().inner.is_empty(),
            "the reader is read to its end"
        );

        // bufread::Encoder from a pinned slice, write::Decoder into a pinned Vec.
        let enc = bufread::Encoder::new(&accel, Format::Zlib, pinned(&plain[..])).unwrap();
        tokio::pin!(enc);
        let mut zlib = Vec::new();
        enc.read_to_end(&mut zlib).await.unwrap();
        let dec = write::Decoder::new(&accel, Format::Zlib, pinned(Vec::new())).unwrap();
        let mut dec = Box::pin(dec);
        dec.write_all(&zlib).await.unwrap();
        dec.shutdown().await.unwrap();
        assert!(dec.get_ref().inner == plain, "{backend:?}");
    }
}

/// `with_quality` sets the CPU backend's level: level 1 output differs from level 9's, both decode, and a level
/// over 9 is a typed error.
#[tokio::test]
async fn with_quality_sets_the_cpu_level() {
    let accel = Accel::builder()
        .backend(Backend::Cpu)
        .build()
        .await
        .unwrap();
    let plain = text(200_000);
    let mut sizes = Vec::new();
    for level in [1u32, 9] {
        let mut enc =
            write::Encoder::with_quality(&accel, Format::Deflate, Vec::new(), level).unwrap();
        enc.write_all(&plain).await.unwrap();
        enc.shutdown().await.unwrap();
        let out = enc.into_inner();
        assert_eq!(
            accel
                .decompress(Format::Deflate, out.clone())
                .await
                .unwrap(),
            plain
        );
        let mut r =
            bufread::Encoder::with_quality(&accel, Format::Deflate, &plain[..], level).unwrap();
        let mut out2 = Vec::new();
        r.read_to_end(&mut out2).await.unwrap();
        assert_eq!(
            accel.decompress(Format::Deflate, out2).await.unwrap(),
            plain
        );
        sizes.push(out.len());
    }
    assert!(
        sizes[1] < sizes[0],
        "level 9 ({}) not smaller than level 1 ({})",
        sizes[1],
        sizes[0]
    );
    assert!(matches!(
        write::Encoder::with_quality(&accel, Format::Gzip, Vec::new(), 10),
        Err(Error::InvalidParameter(_))
    ));
    assert!(matches!(
        bufread::Encoder::with_quality(&accel, Format::Gzip, &b""[..], 10),
        Err(Error::InvalidParameter(_))
    ));
}

/// The constructors' documented error: more streams than `max_streams` is `Error::Busy`.
#[tokio::test]
async fn constructors_refuse_streams_over_the_limit() {
    let accel = Accel::builder()
        .backend(Backend::Cpu)
        .max_streams(1)
        .build()
        .await
        .unwrap();
    let mut first = write::Encoder::new(&accel, Format::Gzip, Vec::new()).unwrap();
    first.get_mut().extend_from_slice(b"");
    assert!(matches!(
        bufread::Decoder::new(&accel, Format::Gzip, &b""[..]),
        Err(Error::Busy(_))
    ));
    drop(first);
    assert!(bufread::Decoder::new(&accel, Format::Gzip, &b""[..]).is_ok());
}
