//! tokio I/O adapters for streaming compression (see [`crate::bufread`] and [`crate::write`]).

use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncBufRead, AsyncRead, AsyncWrite, ReadBuf};

use crate::accel::Accel;
use crate::error::{Error, Result};
use crate::stream::{CHUNK, Codec, Flush};
use crate::types::Format;

type Step<T> = Pin<Box<dyn Future<Output = (Codec, Result<T>)> + Send>>;

fn io_err(e: Error) -> io::Error {
    e.into()
}

/// Copy queued output into `buf`; true if anything was copied.
fn serve(out: &mut VecDeque<Bytes>, buf: &mut ReadBuf<'_>) -> bool {
    let mut copied = false;
    while buf.remaining() > 0 {
        let Some(front) = out.front_mut() else { break };
        let n = front.len().min(buf.remaining());
        buf.put_slice(&front[..n]);
        front.advance(n);
        if front.is_empty() {
            out.pop_front();
        }
        copied |= n > 0;
    }
    copied
}

/// Write queued output to `w` until it is all written.
fn poll_write_out<W: AsyncWrite + Unpin>(
    w: &mut W,
    out: &mut VecDeque<Bytes>,
    cx: &mut Context<'_>,
) -> Poll<io::Result<()>> {
    while let Some(front) = out.front_mut() {
        if front.is_empty() {
            out.pop_front();
            continue;
        }
        let n = ready!(Pin::new(&mut *w).poll_write(cx, front))?;
        if n == 0 {
            return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
        }
        front.advance(n);
    }
    Poll::Ready(Ok(()))
}

/// Compressing reader: reads plain data from an `AsyncBufRead`, yields one compressed stream.
pub struct ReadEncoder<R> {
    reader: R,
    codec: Option<Codec>,
    step: Option<Step<Vec<Bytes>>>,
    out: VecDeque<Bytes>,
    finishing: bool,
    done: bool,
}

impl<R: AsyncBufRead + Unpin> ReadEncoder<R> {
    pub fn new(accel: &Accel, format: Format, reader: R) -> Result<Self> {
        Ok(Self {
            reader,
            codec: Some(Codec::encoder(accel, format)?),
            step: None,
            out: VecDeque::new(),
            finishing: false,
            done: false,
        })
    }

    /// The wrapped reader.
    pub fn get_ref(&self) -> &R {
        &self.reader
    }

    /// The wrapped reader.
    pub fn into_inner(self) -> R {
        self.reader
    }
}

impl<R: AsyncBufRead + Unpin> AsyncRead for ReadEncoder<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        loop {
            if serve(&mut this.out, buf) {
                return Poll::Ready(Ok(()));
            }
            if let Some(step) = this.step.as_mut() {
                let (codec, r) = ready!(step.as_mut().poll(cx));
                this.step = None;
                this.codec = Some(codec);
                this.out.extend(r.map_err(io_err)?);
                if this.finishing {
                    this.done = true;
                }
                continue;
            }
            if this.done {
                return Poll::Ready(Ok(()));
            }
            let data = ready!(Pin::new(&mut this.reader).poll_fill_buf(cx))?;
            let (input, flush) = if data.is_empty() {
                this.finishing = true;
                (Bytes::new(), Flush::Finish)
            } else {
                let n = data.len().min(CHUNK);
                let b = Bytes::copy_from_slice(&data[..n]);
                Pin::new(&mut this.reader).consume(n);
                (b, Flush::None)
            };
            let codec = this.codec.take().ok_or_else(|| io_err(Error::Shutdown))?;
            this.step = Some(Box::pin(codec.encode(input, flush)));
        }
    }
}

/// Decompressing reader: reads one compressed stream from an `AsyncBufRead`, yields the plain data. It stops at
/// the end of the stream and leaves whatever follows in the reader; a stream that ends early is an error
/// (`InvalidData`).
pub struct ReadDecoder<R> {
    reader: R,
    codec: Option<Codec>,
    step: Option<Step<(Vec<Bytes>, usize)>>,
    out: VecDeque<Bytes>,
    done: bool,
    /// The reader reached EOF and the last (flush) request was sent.
    eof_sent: bool,
}

impl<R: AsyncBufRead + Unpin> ReadDecoder<R> {
    pub fn new(accel: &Accel, format: Format, reader: R) -> Result<Self> {
        Ok(Self {
            reader,
            codec: Some(Codec::decoder(accel, format)?),
            step: None,
            out: VecDeque::new(),
            done: false,
            eof_sent: false,
        })
    }

    /// The wrapped reader.
    pub fn get_ref(&self) -> &R {
        &self.reader
    }

    /// The wrapped reader (positioned after the compressed stream once it was read to the end).
    pub fn into_inner(self) -> R {
        self.reader
    }
}

impl<R: AsyncBufRead + Unpin> AsyncRead for ReadDecoder<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        loop {
            if serve(&mut this.out, buf) {
                return Poll::Ready(Ok(()));
            }
            if let Some(step) = this.step.as_mut() {
                let (codec, r) = ready!(step.as_mut().poll(cx));
                this.step = None;
                let (pieces, used) = r.map_err(io_err)?;
                // The step read from the reader's buffer without consuming; consume what it used now.
                Pin::new(&mut this.reader).consume(used);
                this.done = codec.ended;
                this.codec = Some(codec);
                this.out.extend(pieces);
                continue;
            }
            if this.done {
                return Poll::Ready(Ok(()));
            }
            let data = ready!(Pin::new(&mut this.reader).poll_fill_buf(cx))?;
            if data.is_empty() {
                if this.eof_sent {
                    return Poll::Ready(Err(io_err(Error::CorruptData(
                        "the compressed stream is truncated".into(),
                    ))));
                }
                // The reader ended before the stream did: one last request (no input, the flush bit set) lets the
                // device finish what it holds; if the stream still has not ended it is truncated.
                this.eof_sent = true;
                let codec = this.codec.take().ok_or_else(|| io_err(Error::Shutdown))?;
                this.step = Some(Box::pin(codec.decode(Bytes::new(), true)));
                continue;
            }
            let input = Bytes::copy_from_slice(&data[..data.len().min(CHUNK)]);
            let codec = this.codec.take().ok_or_else(|| io_err(Error::Shutdown))?;
            this.step = Some(Box::pin(codec.decode(input, false)));
        }
    }
}

/// Compressing writer: plain data written to it goes out to the wrapped `AsyncWrite` as one compressed stream.
/// `flush` makes everything written so far decodable (sync flush); `shutdown` ends the stream and shuts the writer
/// down.
pub struct WriteEncoder<W> {
    writer: W,
    codec: Option<Codec>,
    step: Option<Step<Vec<Bytes>>>,
    input: BytesMut,
    out: VecDeque<Bytes>,
    finished: bool,
}

impl<W: AsyncWrite + Unpin> WriteEncoder<W> {
    pub fn new(accel: &Accel, format: Format, writer: W) -> Result<Self> {
        Ok(Self {
            writer,
            codec: Some(Codec::encoder(accel, format)?),
            step: None,
            input: BytesMut::new(),
            out: VecDeque::new(),
            finished: false,
        })
    }

    /// The wrapped writer.
    pub fn get_ref(&self) -> &W {
        &self.writer
    }

    /// The wrapped writer.
    pub fn into_inner(self) -> W {
        self.writer
    }

    /// Finish the running step and write all output. With `flush` set, also encode the buffered input with it.
    fn poll_drive(&mut self, cx: &mut Context<'_>, flush: Option<Flush>) -> Poll<io::Result<()>> {
        let mut flush = flush;
        loop {
            ready!(poll_write_out(&mut self.writer, &mut self.out, cx))?;
            if let Some(step) = self.step.as_mut() {
                let (codec, r) = ready!(step.as_mut().poll(cx));
                self.step = None;
                self.codec = Some(codec);
                self.out.extend(r.map_err(io_err)?);
                continue;
            }
            let start = match flush {
                Some(f) if !self.finished => {
                    flush = None;
                    if f == Flush::Finish {
                        self.finished = true;
                    }
                    Some(f)
                }
                _ if self.input.len() >= CHUNK => Some(Flush::None),
                _ => None,
            };
            let Some(f) = start else {
                return Poll::Ready(Ok(()));
            };
            let codec = self.codec.take().ok_or_else(|| io_err(Error::Shutdown))?;
            let input = self.input.split().freeze();
            self.step = Some(Box::pin(codec.encode(input, f)));
        }
    }
}

impl<W: AsyncWrite + Unpin> AsyncWrite for WriteEncoder<W> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.finished {
            return Poll::Ready(Err(io::Error::other("write after shutdown")));
        }
        ready!(this.poll_drive(cx, None))?;
        let n = data.len().min(CHUNK - this.input.len().min(CHUNK));
        this.input.extend_from_slice(&data[..n]);
        if this.input.len() >= CHUNK {
            // Start compressing now; the next call waits for it.
            let _ = this.poll_drive(cx, None)?;
        }
        Poll::Ready(Ok(n))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let f = if this.finished || this.input.is_empty() {
            None
        } else {
            Some(Flush::Sync)
        };
        ready!(this.poll_drive(cx, f))?;
        Pin::new(&mut this.writer).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        ready!(this.poll_drive(cx, Some(Flush::Finish)))?;
        Pin::new(&mut this.writer).poll_shutdown(cx)
    }
}

/// Decompressing writer: compressed data written to it goes out to the wrapped `AsyncWrite` as plain data.
/// `shutdown` fails with `InvalidData` if the stream was incomplete; writing past the end of the stream fails too.
pub struct WriteDecoder<W> {
    writer: W,
    codec: Option<Codec>,
    step: Option<Step<(Vec<Bytes>, usize)>>,
    /// Input handed to the running step.
    running: Bytes,
    input: BytesMut,
    out: VecDeque<Bytes>,
    ended: bool,
}

impl<W: AsyncWrite + Unpin> WriteDecoder<W> {
    pub fn new(accel: &Accel, format: Format, writer: W) -> Result<Self> {
        Ok(Self {
            writer,
            codec: Some(Codec::decoder(accel, format)?),
            step: None,
            running: Bytes::new(),
            input: BytesMut::new(),
            out: VecDeque::new(),
            ended: false,
        })
    }

    /// The wrapped writer.
    pub fn get_ref(&self) -> &W {
        &self.writer
    }

    /// The wrapped writer.
    pub fn into_inner(self) -> W {
        self.writer
    }

    /// Decode all buffered input and write all output. `last`: no more input will be written (shutdown), so the
    /// request that takes the end of the buffered input is the stream's last (flush bit set).
    fn poll_drive(&mut self, cx: &mut Context<'_>, last: bool) -> Poll<io::Result<()>> {
        loop {
            ready!(poll_write_out(&mut self.writer, &mut self.out, cx))?;
            if let Some(step) = self.step.as_mut() {
                let (codec, r) = ready!(step.as_mut().poll(cx));
                self.step = None;
                let (pieces, used) = r.map_err(io_err)?;
                self.ended = codec.ended;
                self.codec = Some(codec);
                self.out.extend(pieces);
                let rest = self.running.slice(used..);
                self.running = Bytes::new();
                if !rest.is_empty() {
                    if self.ended {
                        return Poll::Ready(Err(io_err(Error::CorruptData(format!(
                            "{} bytes of trailing data after the end of the stream",
                            rest.len()
                        )))));
                    }
                    // Not taken yet (the step's output was full): put it back in front.
                    let mut again = BytesMut::from(&rest[..]);
                    again.extend_from_slice(&self.input);
                    self.input = again;
                }
                continue;
            }
            if self.input.is_empty() {
                return Poll::Ready(Ok(()));
            }
            if self.ended {
                return Poll::Ready(Err(io_err(Error::CorruptData(
                    "trailing data after the end of the stream".into(),
                ))));
            }
            let n = self.input.len().min(CHUNK);
            self.running = self.input.split_to(n).freeze();
            let final_input = last && self.input.is_empty();
            let codec = self.codec.take().ok_or_else(|| io_err(Error::Shutdown))?;
            self.step = Some(Box::pin(codec.decode(self.running.clone(), final_input)));
        }
    }
}

impl<W: AsyncWrite + Unpin> AsyncWrite for WriteDecoder<W> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.input.len() >= CHUNK || this.step.is_some() {
            ready!(this.poll_drive(cx, false))?;
        }
        let n = data.len().min(CHUNK.saturating_sub(this.input.len()));
        this.input.extend_from_slice(&data[..n]);
        Poll::Ready(Ok(n))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        ready!(this.poll_drive(cx, false))?;
        Pin::new(&mut this.writer).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        ready!(this.poll_drive(cx, true))?;
        if !this.ended {
            return Poll::Ready(Err(io_err(Error::CorruptData(
                "the compressed stream is truncated".into(),
            ))));
        }
        Pin::new(&mut this.writer).poll_shutdown(cx)
    }
}
