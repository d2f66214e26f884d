//! tokio I/O adapters for streaming compression (see [`crate::bufread`] and [`crate::write`]).

use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Buf, Bytes, BytesMut};
use pin_project_lite::pin_project;
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

/// A deflate level for `with_quality`: 0..=9.
fn check_level(level: u32) -> Result<()> {
    if level > 9 {
        return Err(Error::InvalidParameter("deflate level must be 0..=9"));
    }
    Ok(())
}

/// The smallest input of one streaming job ([`crate::Config::stream_chunk`]), within one stream BD.
fn unit(accel: &Accel) -> usize {
    accel.config().stream_chunk.clamp(1, CHUNK)
}

/// Take bytes from `reader` into `pending` until it holds `unit` bytes, the reader ends (returns true), or the
/// reader has nothing ready while something was gathered (then what is there goes out: a stalled source must not
/// hold back data it already sent). `Pending` only when nothing was gathered.
fn poll_gather<R: AsyncBufRead + ?Sized>(
    mut reader: Pin<&mut R>,
    pending: &mut BytesMut,
    unit: usize,
    cx: &mut Context<'_>,
) -> Poll<io::Result<bool>> {
    while pending.len() < unit {
        let data = match reader.as_mut().poll_fill_buf(cx) {
            Poll::Ready(r) => r?,
            Poll::Pending if pending.is_empty() => return Poll::Pending,
            Poll::Pending => return Poll::Ready(Ok(false)),
        };
        if data.is_empty() {
            return Poll::Ready(Ok(true));
        }
        let n = data.len().min(unit - pending.len());
        pending.extend_from_slice(&data[..n]);
        reader.as_mut().consume(n);
    }
    Poll::Ready(Ok(false))
}

/// With nothing gathered, the reader's buffered data if it holds a full unit already (a copy of at most one BD;
/// not consumed): no gathering needed.
fn poll_direct<R: AsyncBufRead + ?Sized>(
    reader: Pin<&mut R>,
    pending: &BytesMut,
    unit: usize,
    cx: &mut Context<'_>,
) -> Poll<io::Result<Option<Bytes>>> {
    if !pending.is_empty() {
        return Poll::Ready(Ok(None));
    }
    let data = ready!(reader.poll_fill_buf(cx))?;
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
fn poll_write_out<W: AsyncWrite + ?Sized>(
    mut w: Pin<&mut W>,
    out: &mut VecDeque<Bytes>,
    cx: &mut Context<'_>,
) -> Poll<io::Result<()>> {
    while let Some(front) = out.front_mut() {
        if front.is_empty() {
            out.pop_front();
            continue;
        }
        let n = ready!(w.as_mut().poll_write(cx, front))?;
        if n == 0 {
            return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
        }
        front.advance(n);
    }
    Poll::Ready(Ok(()))
}

pin_project! {
    /// Compressing reader: reads plain data from an `AsyncBufRead`, yields one compressed stream.
    ///
    /// The reader need not be `Unpin` (pin the encoder instead, e.g. with `tokio::pin!` or `Box::pin`).
    ///
    /// # Cancel safety
    ///
    /// Its `AsyncRead` is poll-based and keeps all state in the encoder: a read future (`read`, `read_to_end`, …)
    /// dropped between polls loses nothing; the job in flight stays with the encoder and the next read goes on
    /// from it. A failed step poisons the stream: later reads fail.
    pub struct ReadEncoder<R> {
        #[pin]
        reader: R,
        s: ReadEncState,
    }
}

struct ReadEncState {
    codec: Option<Codec>,
    step: Option<Step<Vec<Bytes>>>,
    out: VecDeque<Bytes>,
    /// Small reads gathered for the next step.
    pending: BytesMut,
    unit: usize,
    finishing: bool,
    done: bool,
}

impl<R: AsyncBufRead> ReadEncoder<R> {
    /// An encoder of `format` over `reader`; the CPU backend compresses at the configured
    /// [`cpu_level`](crate::Config::cpu_level).
    ///
    /// # Errors
    ///
    /// [`Error::Busy`] when [`max_streams`](crate::Config::max_streams) streams are open (or the device has no
    /// free stream context); [`Error::NoDevice`] or [`Error::Setup`] when no device queue can be had for the
    /// session.
    pub fn new(accel: &Accel, format: Format, reader: R) -> Result<Self> {
        Self::with_codec(accel, Codec::encoder(accel, format)?, reader)
    }

    /// An encoder whose CPU backend compresses at deflate `level` (0 = stored … 9 = smallest); devices have no
    /// level.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidParameter`] for a level over 9; otherwise as [`ReadEncoder::new`].
    pub fn with_quality(accel: &Accel, format: Format, reader: R, level: u32) -> Result<Self> {
        check_level(level)?;
        Self::with_codec(
            accel,
            Codec::encoder_with_level(accel, format, level)?,
            reader,
        )
    }

    fn with_codec(accel: &Accel, codec: Codec, reader: R) -> Result<Self> {
        Ok(Self {
            reader,
            s: ReadEncState {
                codec: Some(codec),
                step: None,
                out: VecDeque::new(),
                pending: BytesMut::new(),
                unit: unit(accel),
                finishing: false,
                done: false,
            },
        })
    }

    /// The wrapped reader.
    pub fn get_ref(&self) -> &R {
        &self.reader
    }

    /// The wrapped reader. Reading from it directly takes input from under the encoder.
    pub fn get_mut(&mut self) -> &mut R {
        &mut self.reader
    }

    /// The wrapped reader, pinned. Reading from it directly takes input from under the encoder.
    pub fn get_pin_mut(self: Pin<&mut Self>) -> Pin<&mut R> {
        self.project().reader
    }

    /// The wrapped reader.
    pub fn into_inner(self) -> R {
        self.reader
    }
}

impl<R: AsyncBufRead> AsyncRead for ReadEncoder<R> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let p = self.project();
        let mut reader = p.reader;
        let this = p.s;
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
                ready!(poll_direct(reader.as_mut(), &this.pending, this.unit, cx))?
            {
                reader.as_mut().consume(b.len());
                (b, Flush::None)
            } else {
                let eof = ready!(poll_gather(
                    reader.as_mut(),
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

pin_project! {
    /// Decompressing reader: reads one compressed stream from an `AsyncBufRead`, yields the plain data. A stream
    /// that ends early is an error (`InvalidData`).
    ///
    /// gzip: every member is decoded, one after another, as `gzip -dc` and flate2's `MultiGzDecoder` do (BGZF
    /// too); [`ReadDecoder::multiple_members`]`(false)` stops after the first. (async-compression's decoders
    /// default to the first member only; this crate follows `gzip -dc`.) The decoder stops at the end of the (last)
    /// stream, where the reader ends or what follows is not a gzip member, and leaves what follows unread: in the
    /// reader, except for bytes it had already taken while gathering small reads into one job
    /// ([`crate::Config::stream_chunk`]), which [`ReadDecoder::unused`] returns.
    ///
    /// The reader need not be `Unpin`.
    ///
    /// # Cancel safety
    ///
    /// As [`ReadEncoder`]: poll-based, all state kept in the decoder; a dropped read future loses nothing.
    pub struct ReadDecoder<R> {
        #[pin]
        reader: R,
        s: ReadDecState,
    }
}

struct ReadDecState {
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

impl<R: AsyncBufRead> ReadDecoder<R> {
    /// A decoder of `format` over `reader`.
    ///
    /// # Errors
    ///
    /// As [`ReadEncoder::new`].
    pub fn new(accel: &Accel, format: Format, reader: R) -> Result<Self> {
        Ok(Self {
            reader,
            s: ReadDecState {
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
            },
        })
    }

    /// gzip: decode every member (`true`, the default) or stop after the first (`false`). Other formats have one
    /// stream.
    pub fn multiple_members(&mut self, enabled: bool) -> &mut Self {
        self.s.multiple_members = enabled;
        self
    }

    /// The wrapped reader.
    pub fn get_ref(&self) -> &R {
        &self.reader
    }

    /// The wrapped reader. Reading from it directly takes input from under the decoder.
    pub fn get_mut(&mut self) -> &mut R {
        &mut self.reader
    }

    /// The wrapped reader, pinned. Reading from it directly takes input from under the decoder.
    pub fn get_pin_mut(self: Pin<&mut Self>) -> Pin<&mut R> {
        self.project().reader
    }

    /// The wrapped reader (positioned after the compressed stream once it was read to the end, less what
    /// [`ReadDecoder::unused`] holds).
    pub fn into_inner(self) -> R {
        self.reader
    }

    /// Bytes after the end of the stream that the decoder had already taken from the reader (it gathers small
    /// reads into one job); the reader continues after them. Empty while the stream has not ended.
    pub fn unused(&self) -> &[u8] {
        if self.s.done { &self.s.pending } else { &[] }
    }
}

impl<R: AsyncBufRead> AsyncRead for ReadDecoder<R> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let p = self.project();
        let mut reader = p.reader;
        let this = p.s;
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
                    None => reader.as_mut().consume(used),
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
                    let data = ready!(reader.as_mut().poll_fill_buf(cx))?;
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
                ready!(poll_direct(reader.as_mut(), &this.pending, this.unit, cx))?
            {
                (b, false)
            } else {
                if !this.eof && this.pending.len() < this.unit {
                    this.eof = ready!(poll_gather(
                        reader.as_mut(),
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

pin_project! {
    /// Compressing writer: plain data written to it goes out to the wrapped `AsyncWrite` as one compressed stream.
    /// `flush` makes everything written so far decodable (sync flush); `shutdown` ends the stream and shuts the
    /// writer down. The writer need not be `Unpin`.
    ///
    /// # Cancel safety
    ///
    /// Its `AsyncWrite` is poll-based and keeps all state in the encoder: a `write`, `flush` or `shutdown` future
    /// dropped between polls loses nothing that `poll_write` had accepted; call it again to go on. A failed step
    /// poisons the stream: later calls fail.
    pub struct WriteEncoder<W> {
        #[pin]
        writer: W,
        s: WriteEncState,
    }
}

struct WriteEncState {
    codec: Option<Codec>,
    step: Option<Step<Vec<Bytes>>>,
    input: BytesMut,
    out: VecDeque<Bytes>,
    unit: usize,
    finished: bool,
}

impl<W: AsyncWrite> WriteEncoder<W> {
    /// An encoder of `format` writing to `writer`; the CPU backend compresses at the configured
    /// [`cpu_level`](crate::Config::cpu_level).
    ///
    /// # Errors
    ///
    /// As [`ReadEncoder::new`].
    pub fn new(accel: &Accel, format: Format, writer: W) -> Result<Self> {
        Self::with_codec(accel, Codec::encoder(accel, format)?, writer)
    }

    /// An encoder whose CPU backend compresses at deflate `level` (0..=9); devices have no level.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidParameter`] for a level over 9; otherwise as [`ReadEncoder::new`].
    pub fn with_quality(accel: &Accel, format: Format, writer: W, level: u32) -> Result<Self> {
        check_level(level)?;
        Self::with_codec(
            accel,
            Codec::encoder_with_level(accel, format, level)?,
            writer,
        )
    }

    fn with_codec(accel: &Accel, codec: Codec, writer: W) -> Result<Self> {
        Ok(Self {
            writer,
            s: WriteEncState {
                codec: Some(codec),
                step: None,
                input: BytesMut::new(),
                out: VecDeque::new(),
                unit: unit(accel),
                finished: false,
            },
        })
    }

    /// The wrapped writer.
    pub fn get_ref(&self) -> &W {
        &self.writer
    }

    /// The wrapped writer. Writing to it directly corrupts the compressed stream.
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.writer
    }

    /// The wrapped writer, pinned. Writing to it directly corrupts the compressed stream.
    pub fn get_pin_mut(self: Pin<&mut Self>) -> Pin<&mut W> {
        self.project().writer
    }

    /// The wrapped writer.
    pub fn into_inner(self) -> W {
        self.writer
    }
}

impl WriteEncState {
    /// Finish the running step and write all output. With `flush` set, also encode the buffered input with it.
    fn poll_drive<W: AsyncWrite + ?Sized>(
        &mut self,
        mut writer: Pin<&mut W>,
        cx: &mut Context<'_>,
        flush: Option<Flush>,
    ) -> Poll<io::Result<()>> {
        let mut flush = flush;
        loop {
            ready!(poll_write_out(writer.as_mut(), &mut self.out, cx))?;
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

impl<W: AsyncWrite> AsyncWrite for WriteEncoder<W> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let p = self.project();
        let mut writer = p.writer;
        let this = p.s;
        if this.finished {
            return Poll::Ready(Err(io::Error::other("write after shutdown")));
        }
        ready!(this.poll_drive(writer.as_mut(), cx, None))?;
        let n = data.len().min(this.unit - this.input.len().min(this.unit));
        this.input.extend_from_slice(&data[..n]);
        if this.input.len() >= this.unit {
            // Start compressing now; the next call waits for it.
            let _ = this.poll_drive(writer, cx, None)?;
        }
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let p = self.project();
        let mut writer = p.writer;
        let this = p.s;
        let f = if this.finished || this.input.is_empty() {
            None
        } else {
            Some(Flush::Sync)
        };
        ready!(this.poll_drive(writer.as_mut(), cx, f))?;
        writer.poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let p = self.project();
        let mut writer = p.writer;
        ready!(p.s.poll_drive(writer.as_mut(), cx, Some(Flush::Finish)))?;
        writer.poll_shutdown(cx)
    }
}

pin_project! {
    /// Decompressing writer: compressed data written to it goes out to the wrapped `AsyncWrite` as plain data.
    /// `shutdown` fails with `InvalidData` if the stream was incomplete; writing past the end of the stream fails
    /// too.
    ///
    /// gzip: every member is decoded, as `gzip -dc` does (BGZF too); with
    /// [`WriteDecoder::multiple_members`]`(false)` data after the first member is refused like any trailing data.
    /// Small writes are gathered into jobs of [`crate::Config::stream_chunk`] bytes; `flush` and `shutdown` decode
    /// what was gathered at once. The writer need not be `Unpin`.
    ///
    /// # Cancel safety
    ///
    /// As [`WriteEncoder`]: poll-based, all state kept in the decoder.
    pub struct WriteDecoder<W> {
        #[pin]
        writer: W,
        s: WriteDecState,
    }
}

struct WriteDecState {
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

impl<W: AsyncWrite> WriteDecoder<W> {
    /// A decoder of `format` writing to `writer`.
    ///
    /// # Errors
    ///
    /// As [`ReadEncoder::new`].
    pub fn new(accel: &Accel, format: Format, writer: W) -> Result<Self> {
        Ok(Self {
            writer,
            s: WriteDecState {
                codec: Some(Codec::decoder(accel, format)?),
                step: None,
                running: Bytes::new(),
                input: BytesMut::new(),
                out: VecDeque::new(),
                unit: unit(accel),
                multiple_members: true,
                ended: false,
            },
        })
    }

    /// gzip: decode every member (`true`, the default) or refuse data after the first (`false`). Other formats
    /// have one stream.
    pub fn multiple_members(&mut self, enabled: bool) -> &mut Self {
        self.s.multiple_members = enabled;
        self
    }

    /// The wrapped writer.
    pub fn get_ref(&self) -> &W {
        &self.writer
    }

    /// The wrapped writer. Writing to it directly mixes other data into the plain output.
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.writer
    }

    /// The wrapped writer, pinned. Writing to it directly mixes other data into the plain output.
    pub fn get_pin_mut(self: Pin<&mut Self>) -> Pin<&mut W> {
        self.project().writer
    }

    /// The wrapped writer.
    pub fn into_inner(self) -> W {
        self.writer
    }
}

impl WriteDecState {
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

    /// Decode all buffered input and write all output. `last`: no more input will be written (shutdown), so the
    /// request that takes the end of the buffered input is the stream's last (flush bit set).
    fn poll_drive<W: AsyncWrite + ?Sized>(
        &mut self,
        mut writer: Pin<&mut W>,
        cx: &mut Context<'_>,
        last: bool,
    ) -> Poll<io::Result<()>> {
        loop {
            ready!(poll_write_out(writer.as_mut(), &mut self.out, cx))?;
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

impl<W: AsyncWrite> AsyncWrite for WriteDecoder<W> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let p = self.project();
        let this = p.s;
        if this.input.len() >= this.unit || this.step.is_some() {
            ready!(this.poll_drive(p.writer, cx, false))?;
        }
        let n = data.len().min(this.unit.saturating_sub(this.input.len()));
        this.input.extend_from_slice(&data[..n]);
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let p = self.project();
        let mut writer = p.writer;
        ready!(p.s.poll_drive(writer.as_mut(), cx, false))?;
        writer.poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let p = self.project();
        let mut writer = p.writer;
        let this = p.s;
        ready!(this.poll_drive(writer.as_mut(), cx, true))?;
        if !this.ended {
            return Poll::Ready(Err(io_err(Error::CorruptData(
                "the compressed stream is truncated".into(),
            ))));
        }
        writer.poll_shutdown(cx)
    }
}
