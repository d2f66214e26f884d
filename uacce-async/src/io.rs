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

/// The smallest input of one streaming job ([`crate::Config::stream_chunk`]), within one stream BD.
fn unit(accel: &Accel) -> usize {
    accel.config().stream_chunk.clamp(1, CHUNK)
}

/// Take bytes from `reader` into `pending` until it holds `unit` bytes, the reader ends (returns true), or the
/// reader has nothing ready while something was gathered (then what is there goes out: a stalled source must not
/// hold back data it already sent). `Pending` only when nothing was gathered.
fn poll_gather<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    pending: &mut BytesMut,
    unit: usize,
    cx: &mut Context<'_>,
) -> Poll<io::Result<bool>> {
    while pending.len() < unit {
        let data = match Pin::new(&mut *reader).poll_fill_buf(cx) {
            Poll::Ready(r) => r?,
            Poll::Pending if pending.is_empty() => return Poll::Pending,
            Poll::Pending => return Poll::Ready(Ok(false)),
        };
        if data.is_empty() {
            return Poll::Ready(Ok(true));
        }
        let n = data.len().min(unit - pending.len());
        pending.extend_from_slice(&data[..n]);
        Pin::new(&mut *reader).consume(n);
    }
    Poll::Ready(Ok(false))
}

/// With nothing gathered, the reader's buffered data if it holds a full unit already (a copy of at most one BD;
/// not consumed): no gathering needed.
fn poll_direct<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    pending: &BytesMut,
    unit: usize,
    cx: &mut Context<'_>,
) -> Poll<io::Result<Option<Bytes>>> {
    if !pending.is_empty() {
        return Poll::Ready(Ok(None));
    }
    let data = ready!(Pin::new(reader).poll_fill_buf(cx))?;
    Poll::Ready(Ok(
        (data.len() >= unit).then(|| Bytes::copy_from_slice(&data[..data.len().min(CHUNK)]))
    ))
}

/// True if `rest`, what follows a gzip member, starts another (its first byte is the magic's; a wrong second
/// byte is then the next member's corrupt header).
fn starts_member(format: Format, rest: &[u8]) -> bool {
    format == Format::Gzip && rest.first() == Some(&0x1F)
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
    /// Small reads gathered for the next step.
    pending: BytesMut,
    unit: usize,
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
            pending: BytesMut::new(),
            unit: unit(accel),
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
            let (input, flush) = if let Some(b) =
                ready!(poll_direct(&mut this.reader, &this.pending, this.unit, cx))?
            {
                Pin::new(&mut this.reader).consume(b.len());
                (b, Flush::None)
            } else {
                let eof = ready!(poll_gather(
                    &mut this.reader,
                    &mut this.pending,
                    this.unit,
                    cx
                ))?;
                this.finishing = eof;
                let f = if eof { Flush::Finish } else { Flush::None };
                (this.pending.split().freeze(), f)
            };
            let codec = this.codec.take().ok_or_else(|| io_err(Error::Shutdown))?;
            this.step = Some(Box::pin(codec.encode(input, flush)));
        }
    }
}

/// Decompressing reader: reads one compressed stream from an `AsyncBufRead`, yields the plain data. A stream that
/// ends early is an error (`InvalidData`).
///
/// gzip: every member is decoded, one after another, as `gzip -dc` and flate2's `MultiGzDecoder` do (BGZF too);
/// [`ReadDecoder::multiple_members`]`(false)` stops after the first. (async-compression's decoders default to the
/// first member only; this crate follows `gzip -dc`.) The decoder stops at the end of the (last) stream, where the
/// reader ends or what follows is not a gzip member, and leaves what follows unread: in the reader, except for
/// bytes it had already taken while gathering small reads into one job ([`crate::Config::stream_chunk`]), which
/// [`ReadDecoder::unused`] returns.
pub struct ReadDecoder<R> {
    reader: R,
    codec: Option<Codec>,
    step: Option<Step<(Vec<Bytes>, usize)>>,
    out: VecDeque<Bytes>,
    /// Input taken from the reader, not yet decoded (gathered small reads; after the end, the bytes that follow).
    pending: BytesMut,
    /// The running step's input came from `pending` (else it is a copy of the reader's buffer, not yet consumed).
    from_pending: Option<Bytes>,
    unit: usize,
    multiple_members: bool,
    done: bool,
    /// The reader returned EOF.
    eof: bool,
    /// The request with the flush bit, after the reader's EOF, was sent for the current member.
    eof_sent: bool,
}

impl<R: AsyncBufRead + Unpin> ReadDecoder<R> {
    pub fn new(accel: &Accel, format: Format, reader: R) -> Result<Self> {
        Ok(Self {
            reader,
            codec: Some(Codec::decoder(accel, format)?),
            step: None,
            out: VecDeque::new(),
            pending: BytesMut::new(),
            from_pending: None,
            unit: unit(accel),
            multiple_members: true,
            done: false,
            eof: false,
            eof_sent: false,
        })
    }

    /// gzip: decode every member (`true`, the default) or stop after the first (`false`). Other formats have one
    /// stream.
    pub fn multiple_members(&mut self, enabled: bool) -> &mut Self {
        self.multiple_members = enabled;
        self
    }

    /// The wrapped reader.
    pub fn get_ref(&self) -> &R {
        &self.reader
    }

    /// The wrapped reader (positioned after the compressed stream once it was read to the end, less what
    /// [`ReadDecoder::unused`] holds).
    pub fn into_inner(self) -> R {
        self.reader
    }

    /// Bytes after the end of the stream that the decoder had already taken from the reader (it gathers small
    /// reads into one job); the reader continues after them. Empty while the stream has not ended.
    pub fn unused(&self) -> &[u8] {
        if self.done { &self.pending } else { &[] }
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
                this.codec = Some(codec);
                let (pieces, used) = r.map_err(io_err)?;
                match this.from_pending.take() {
                    // What the step did not take goes back in front of the gathered input.
                    Some(input) if used < input.len() => {
                        let mut again = BytesMut::from(&input[used..]);
                        again.extend_from_slice(&this.pending);
                        this.pending = again;
                    }
                    Some(_) => {}
                    // The step read from the reader's buffer without consuming; consume what it used now.
                    None => Pin::new(&mut this.reader).consume(used),
                }
                this.out.extend(pieces);
                continue;
            }
            if this.done {
                return Poll::Ready(Ok(()));
            }
            let codec = this.codec.as_mut().ok_or_else(|| io_err(Error::Shutdown))?;
            if codec.ended {
                // The end of a member: another follows if the next byte starts one.
                if !this.multiple_members {
                    this.done = true;
                    continue;
                }
                let next = if this.pending.is_empty() {
                    let data = ready!(Pin::new(&mut this.reader).poll_fill_buf(cx))?;
                    starts_member(codec.format(), data)
                } else {
                    starts_member(codec.format(), &this.pending)
                };
                if next {
                    codec.next_member();
                    this.eof_sent = false;
                } else {
                    this.done = true;
                }
                continue;
            }
            let (input, last) = if let Some(b) =
                ready!(poll_direct(&mut this.reader, &this.pending, this.unit, cx))?
            {
                (b, false)
            } else {
                if !this.eof && this.pending.len() < this.unit {
                    this.eof = ready!(poll_gather(
                        &mut this.reader,
                        &mut this.pending,
                        this.unit,
                        cx
                    ))?;
                }
                if this.pending.is_empty() && this.eof_sent {
                    return Poll::Ready(Err(io_err(Error::CorruptData(
                        "the compressed stream is truncated".into(),
                    ))));
                }
                // At the reader's end the request that takes the last input (none, if all was taken) has the
                // flush bit set, which lets the device finish what it holds; if the stream still has not ended it
                // is truncated.
                this.eof_sent |= this.eof;
                let input = this.pending.split().freeze();
                this.from_pending = Some(input.clone());
                (input, this.eof)
            };
            let codec = this.codec.take().ok_or_else(|| io_err(Error::Shutdown))?;
            this.step = Some(Box::pin(codec.decode(input, last)));
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
    unit: usize,
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
            unit: unit(accel),
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
                _ if self.input.len() >= self.unit => Some(Flush::None),
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
        let n = data.len().min(this.unit - this.input.len().min(this.unit));
        this.input.extend_from_slice(&data[..n]);
        if this.input.len() >= this.unit {
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
///
/// gzip: every member is decoded, as `gzip -dc` does (BGZF too); with [`WriteDecoder::multiple_members`]`(false)`
/// data after the first member is refused like any trailing data. Small writes are gathered into jobs of
/// [`crate::Config::stream_chunk`] bytes; `flush` and `shutdown` decode what was gathered at once.
pub struct WriteDecoder<W> {
    writer: W,
    codec: Option<Codec>,
    step: Option<Step<(Vec<Bytes>, usize)>>,
    /// Input handed to the running step.
    running: Bytes,
    input: BytesMut,
    out: VecDeque<Bytes>,
    unit: usize,
    multiple_members: bool,
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
            unit: unit(accel),
            multiple_members: true,
            ended: false,
        })
    }

    /// gzip: decode every member (`true`, the default) or refuse data after the first (`false`). Other formats
    /// have one stream.
    pub fn multiple_members(&mut self, enabled: bool) -> &mut Self {
        self.multiple_members = enabled;
        self
    }

    /// After the end of a member with `rest` following: start the next member if `rest` starts one (and more than
    /// one is wanted), else it is trailing data.
    fn member_end(&mut self, rest: usize, first: Option<u8>) -> io::Result<()> {
        let codec = self.codec.as_mut().ok_or_else(|| io_err(Error::Shutdown))?;
        if self.multiple_members && first.is_some_and(|b| starts_member(codec.format(), &[b])) {
            codec.next_member();
            self.ended = false;
            return Ok(());
        }
        Err(io_err(Error::CorruptData(format!(
            "{rest} bytes of trailing data after the end of the stream"
        ))))
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
                        self.member_end(rest.len() + self.input.len(), Some(rest[0]))?;
                    }
                    // Not taken yet (the next member, or the step's output was full): put it back in front.
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
                self.member_end(self.input.len(), self.input.first().copied())?;
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
        if this.input.len() >= this.unit || this.step.is_some() {
            ready!(this.poll_drive(cx, false))?;
        }
        let n = data.len().min(this.unit.saturating_sub(this.input.len()));
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
