//! Streaming compression: one standard deflate / zlib / gzip stream produced or consumed a chunk at a time.
//!
//! On a device, a stream is a ZIP *stream-mode* session pinned to one queue: a 64 KiB context buffer owned by the
//! stream (the device keeps its state there), BDs with the first/last flags and the context words carried from each
//! completion to the next BD (protocol doc §6.3). zlib/gzip headers are written and parsed in software (§6.4). On the
//! CPU backend the same types run flate2's encoders and decoders.
//!
//! The tokio types are in [`crate::bufread`] (wrap an `AsyncBufRead`, give an `AsyncRead`) and [`crate::write`]
//! (wrap an `AsyncWrite`, are an `AsyncWrite`), in the manner of async-compression's.

use std::io::Write;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use tokio::sync::OwnedSemaphorePermit;
use uacce_sys::qm::zip::{
    self, HwBuffers, StreamState, ZipMode, ZipOutcome, ZipRequest, ZipStatus, ZipWindow,
};

use crate::accel::Accel;
use crate::error::{Error, Result};
use crate::gzip_header;
use crate::job::addr;
use crate::lane::{Buffers, Class, Lane, StreamRelease};
use crate::types::Format;

/// Input bytes per device BD / CPU step.
pub(crate) const CHUNK: usize = 64 * 1024;
/// Output space per decompression BD.
const DECOMP_OUT: usize = 256 * 1024;
/// Size of a stream's context buffer (UADK reserves 64 KiB; the hardware context starts 64 bytes in).
const CTX_LEN: usize = 64 * 1024;

/// What a compression step does at its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Flush {
    /// Nothing: output comes when the codec has it.
    None,
    /// Everything written so far is made decodable (sync flush).
    Sync,
    /// End the stream (final block and trailer).
    Finish,
}

struct DeviceSide {
    lane: Arc<Lane>,
    ctx: Arc<CtxBuf>,
    state: StreamState,
}

/// A stream's context buffer. The device keeps the stream's state in it; BDs in flight hold it too (their buffers
/// keep an `Arc`), so it is freed, and the emulator's entry for it released, after the last BD that names it.
pub(crate) struct CtxBuf {
    mem: Vec<u8>,
    release: StreamRelease,
}

impl CtxBuf {
    /// A zeroed context buffer for a stream on `lane`.
    pub(crate) fn new(lane: &Lane) -> Arc<Self> {
        Arc::new(CtxBuf {
            mem: vec![0u8; CTX_LEN],
            release: lane.stream_release(),
        })
    }

    /// The hardware context address the BDs name.
    pub(crate) fn ctx_addr(&self) -> u64 {
        self.mem.as_ptr() as u64 + zip::HW_CTX_OFFSET
    }
}

impl Drop for CtxBuf {
    fn drop(&mut self) {
        self.release.release(self.ctx_addr());
    }
}

/// True if `s` says the device has no stream context left for a new stream (the emulator's bounded table).
pub(crate) fn no_context(s: ZipStatus) -> bool {
    #[cfg(feature = "emu")]
    if s == ZipStatus::Other(uacce_emu::STATUS_NO_CONTEXT) {
        return true;
    }
    let _ = s;
    false
}

enum CpuEnc {
    Deflate(flate2::write::DeflateEncoder<Vec<u8>>),
    Zlib(flate2::write::ZlibEncoder<Vec<u8>>),
    Gzip(flate2::write::GzEncoder<Vec<u8>>),
}

/// The CPU decoder: raw inflate after the software-parsed header, trailer checked in software (as the device path).
struct CpuDec {
    d: flate2::Decompress,
    crc: crc32fast::Hasher,
    adler: adler2::Adler32,
    size: u32,
    inflated_done: bool,
    trailer: Vec<u8>,
}

impl CpuDec {
    fn new() -> Self {
        Self {
            d: flate2::Decompress::new(false),
            crc: crc32fast::Hasher::new(),
            adler: adler2::Adler32::new(),
            size: 0,
            inflated_done: false,
            trailer: Vec::new(),
        }
    }
}

enum Engine {
    Device(DeviceSide),
    CpuEnc(Box<CpuEnc>),
    CpuDec(Box<CpuDec>),
}

/// The longest zlib/gzip header a decoder gathers: gzip's extra field is at most 64 KiB, and its name and comment,
/// NUL-terminated strings of any length in the format, get the rest (no real stream comes near).
const MAX_HEADER: usize = 256 << 10;

/// Output gathered per decode call before it returns (the rest of the input is taken by the next call), so a
/// small input cannot make one step hold an unbounded amount of output.
const DECODE_STEP_OUT: usize = 1 << 20;

/// A streaming codec; its async methods take it by value and give it back, so that poll-based wrappers can keep
/// the step's future in a box while it runs.
pub(crate) struct Codec {
    accel: Accel,
    /// This stream's place among `Config::max_streams`, freed when the codec is dropped.
    _slot: OwnedSemaphorePermit,
    format: Format,
    /// `None` only while a CPU step runs on the blocking pool.
    engine: Option<Engine>,
    /// Encoder: the software header has been emitted. Decoder: the header has been parsed.
    header_done: bool,
    /// Decoder: header bytes gathered so far.
    header_buf: Vec<u8>,
    /// The stream has ended (encoder: finished; decoder: trailer verified).
    pub(crate) ended: bool,
    /// A step failed midway: the session's state is unknown, so every later step fails ([`Error::Poisoned`]).
    poisoned: bool,
}

/// Why a poisoned stream refuses to go on.
const POISONED: &str = "an earlier step of this stream failed midway; its state is unknown";

/// Whether a failed step may have changed the stream (an `InvalidParameter` is refused before anything is done).
fn poisons<T>(r: &Result<T>) -> bool {
    matches!(r, Err(e) if !matches!(e, Error::InvalidParameter(_)))
}

impl Codec {
    pub(crate) fn encoder(accel: &Accel, format: Format) -> Result<Self> {
        Self::new(accel, format, Class::ZipCompress, None)
    }

    pub(crate) fn encoder_with_level(accel: &Accel, format: Format, level: u32) -> Result<Self> {
        Self::new(accel, format, Class::ZipCompress, Some(level))
    }

    pub(crate) fn decoder(accel: &Accel, format: Format) -> Result<Self> {
        Self::new(accel, format, Class::ZipDecompress, None)
    }

    fn new(accel: &Accel, format: Format, class: Class, level: Option<u32>) -> Result<Self> {
        let slot = accel
            .inner
            .streams
            .clone()
            .try_acquire_owned()
            .map_err(|_| {
                Error::Busy(format!(
                    "{} streams are open (Config::max_streams)",
                    accel.config().max_streams
                ))
            })?;
        let engine = match accel.stream_lane(class)? {
            Some(lane) => {
                let ctx = CtxBuf::new(&lane);
                let state = StreamState {
                    ctx_addr: ctx.ctx_addr(),
                    first: true,
                    ..StreamState::default()
                };
                Engine::Device(DeviceSide { lane, ctx, state })
            }
            None if class == Class::ZipCompress => {
                let level =
                    flate2::Compression::new(level.unwrap_or(accel.config().cpu_level).min(9));
                Engine::CpuEnc(Box::new(match format {
                    Format::Deflate => {
                        CpuEnc::Deflate(flate2::write::DeflateEncoder::new(Vec::new(), level))
                    }
                    Format::Zlib => {
                        CpuEnc::Zlib(flate2::write::ZlibEncoder::new(Vec::new(), level))
                    }
                    Format::Gzip => CpuEnc::Gzip(flate2::write::GzEncoder::new(Vec::new(), level)),
                }))
            }
            None => Engine::CpuDec(Box::new(CpuDec::new())),
        };
        Ok(Self {
            accel: accel.clone(),
            _slot: slot,
            format,
            engine: Some(engine),
            header_done: false,
            header_buf: Vec::new(),
            ended: false,
            poisoned: false,
        })
    }

    pub(crate) fn format(&self) -> Format {
        self.format
    }

    /// Decoder: start the next gzip member after the one that ended (its trailer was verified). The next call of
    /// [`Codec::decode`] parses the member's header; a device stream starts afresh in the same context buffer.
    pub(crate) fn next_member(&mut self) {
        debug_assert!(self.ended && self.format == Format::Gzip);
        self.ended = false;
        self.header_done = false;
        self.header_buf = Vec::new();
        match self.engine.as_mut() {
            Some(Engine::Device(dev)) => {
                dev.state = StreamState {
                    ctx_addr: dev.ctx.ctx_addr(),
                    first: true,
                    ..StreamState::default()
                };
            }
            Some(Engine::CpuDec(dec)) => **dec = CpuDec::new(),
            _ => {}
        }
    }

    /// Compress `input` (any length); returns the output produced.
    pub(crate) async fn encode(mut self, input: Bytes, flush: Flush) -> (Self, Result<Vec<Bytes>>) {
        if self.poisoned {
            return (self, Err(Error::Poisoned(POISONED)));
        }
        let r = self.encode_inner(input, flush).await;
        self.poisoned = poisons(&r);
        (self, r)
    }

    async fn encode_inner(&mut self, input: Bytes, flush: Flush) -> Result<Vec<Bytes>> {
        if self.ended {
            return if input.is_empty() {
                Ok(Vec::new())
            } else {
                Err(Error::InvalidParameter(
                    "write after the end of the compressed stream",
                ))
            };
        }
        let mut out = Vec::new();
        let format = self.format;
        match self.engine.as_mut().ok_or(Error::Shutdown)? {
            Engine::Device(dev) => {
                if !self.header_done {
                    self.header_done = true;
                    let h = format.zip_alg().header();
                    if !h.is_empty() {
                        out.push(Bytes::from_static(h));
                    }
                }
                let mut pos = 0;
                loop {
                    let end = (pos + CHUNK).min(input.len());
                    let piece = input.slice(pos..end);
                    pos = end;
                    let more_input = pos < input.len();
                    let last = flush == Flush::Finish && !more_input;
                    // Send this piece, then drain with empty BDs while the output space came back full (or, on the
                    // last BD, until the device reports the end of the stream).
                    let mut piece = piece;
                    loop {
                        let cap = crate::compress::compress_bound(piece.len()).max(4096);
                        let (consumed, produced, full, end) =
                            device_step(dev, format, piece.clone(), cap, last).await?;
                        if consumed != piece.len() {
                            return Err(Error::Device(
                                "the device did not take a whole stream BD".into(),
                            ));
                        }
                        if !produced.is_empty() {
                            out.push(produced);
                        }
                        piece = Bytes::new();
                        if (last && end) || (!last && !full) {
                            break;
                        }
                    }
                    if !more_input {
                        break;
                    }
                }
                if flush == Flush::Finish {
                    self.ended = true;
                }
                Ok(out)
            }
            Engine::CpuEnc(_) => {
                let Some(Engine::CpuEnc(enc)) = self.engine.take() else {
                    unreachable!("matched CpuEnc")
                };
                let (enc, r) = self
                    .accel
                    .cpu_blocking(move || {
                        let mut enc = enc;
                        let r = cpu_encode(&mut enc, &input, flush);
                        Ok((enc, r))
                    })
                    .await?;
                self.engine = Some(Engine::CpuEnc(enc));
                let piece = r?;
                if flush == Flush::Finish {
                    self.ended = true;
                }
                Ok(if piece.is_empty() {
                    vec![]
                } else {
                    vec![piece]
                })
            }
            Engine::CpuDec(_) => Err(Error::InvalidParameter("encode on a decoder")),
        }
    }

    /// Decompress `input`; returns the output and how much input was used (less than all only at the end of the
    /// stream: the rest is trailing data). `last`: no input follows `input` (the caller saw the end of its input),
    /// so the BD that takes its final piece is the stream's last request and sets the flush bit, as UADK's last
    /// request of a stream does (protocol doc §6.3).
    pub(crate) async fn decode(
        mut self,
        input: Bytes,
        last: bool,
    ) -> (Self, Result<(Vec<Bytes>, usize)>) {
        if self.poisoned {
            return (self, Err(Error::Poisoned(POISONED)));
        }
        let r = self.decode_inner(input, last).await;
        self.poisoned = poisons(&r);
        (self, r)
    }

    async fn decode_inner(&mut self, input: Bytes, last: bool) -> Result<(Vec<Bytes>, usize)> {
        if self.ended {
            return Ok((Vec::new(), 0));
        }
        let format = self.format;
        let mut used = 0;
        let mut body = input.clone();
        if !self.header_done {
            // Gather the software header; what follows it goes to the engine.
            let before = self.header_buf.len();
            self.header_buf.extend_from_slice(&input);
            match gzip_header::header_len(format, &self.header_buf)? {
                // A header is bounded too (gzip's name and comment fields are not): input that never ends its
                // header must not grow this buffer without limit.
                None if self.header_buf.len() > MAX_HEADER => {
                    return Err(Error::CorruptData(format!(
                        "the stream header is longer than {MAX_HEADER} bytes"
                    )));
                }
                None => return Ok((Vec::new(), input.len())),
                Some(h) => {
                    self.header_done = true;
                    used = h - before;
                    body = input.slice(used..);
                    self.header_buf = Vec::new();
                }
            }
        }
        match self.engine.as_mut().ok_or(Error::Shutdown)? {
            Engine::Device(dev) => {
                let mut out = Vec::new();
                let mut produced_total = 0;
                let mut pos = 0;
                while produced_total < DECODE_STEP_OUT {
                    let end = (pos + CHUNK).min(body.len());
                    let piece = body.slice(pos..end);
                    let final_piece = last && end == body.len();
                    let (consumed, produced, full, ended) =
                        device_step(dev, format, piece.clone(), DECOMP_OUT, final_piece).await?;
                    pos += consumed;
                    produced_total += produced.len();
                    if !produced.is_empty() {
                        out.push(produced);
                    }
                    if ended {
                        self.ended = true;
                        break;
                    }
                    if pos >= body.len() && !full {
                        break;
                    }
                    if consumed == 0 && !full && !piece.is_empty() {
                        return Err(Error::CorruptData(
                            "the device made no progress on the stream".into(),
                        ));
                    }
                }
                Ok((out, used + pos))
            }
            Engine::CpuDec(_) => {
                let Some(Engine::CpuDec(dec)) = self.engine.take() else {
                    unreachable!("matched CpuDec")
                };
                let (dec, r) = self
                    .accel
                    .cpu_blocking(move || {
                        let mut dec = dec;
                        let r = cpu_inflate(&mut dec, format, &body);
                        Ok((dec, r))
                    })
                    .await?;
                self.engine = Some(Engine::CpuDec(dec));
                let (piece, pos, ended) = r?;
                self.ended = ended;
                Ok((
                    if piece.is_empty() {
                        vec![]
                    } else {
                        vec![piece]
                    },
                    used + pos,
                ))
            }
            Engine::CpuEnc(_) => Err(Error::InvalidParameter("decode on an encoder")),
        }
    }
}

/// One stream BD. Returns (input consumed, output, output space came back full, end of stream).
async fn device_step(
    dev: &mut DeviceSide,
    format: crate::types::Format,
    input: Bytes,
    cap: usize,
    last: bool,
) -> Result<(usize, Bytes, bool, bool)> {
    let alg = format.zip_alg();
    let output = BytesMut::zeroed(cap);
    let mut state = dev.state;
    state.last = last;
    let version = dev.lane.version;
    let bufs = Buffers {
        input: Some(input.clone()),
        output: Some(output),
        keep: Some(dev.ctx.clone()),
    };
    let fut = dev
        .lane
        .submit(bufs, move |tag, _, bufs| {
            let (input, output) = (bufs.input(), bufs.output());
            let hw = HwBuffers {
                src_addr: addr(input),
                src_len: input.len() as u32,
                dst_addr: addr(output),
                dst_avail: output.len() as u32,
            };
            let req = ZipRequest {
                alg,
                buffers: hw,
                tag,
                window: ZipWindow::W32K,
                mode: ZipMode::Stream(state),
            };
            Ok(zip::encode(&req, version))
        })
        .await?;
    let out = fut.await?;
    let c = zip::read_result(&out.sqe);
    let end = match c.outcome() {
        ZipOutcome::Ok => c.lstblk,
        ZipOutcome::StreamEnd => true,
        ZipOutcome::DstTooSmall => false,
        ZipOutcome::Error(s) if no_context(s) => {
            return Err(Error::Busy(
                "the device has no stream context left for a new stream".into(),
            ));
        }
        ZipOutcome::Error(s) => {
            return Err(Error::CorruptData(format!(
                "the device rejected the stream (status {s:?})"
            )));
        }
    };
    dev.state = c.next_stream_state(dev.state.ctx_addr, false);
    let mut output = out.into_output();
    let produced = c.produced as usize;
    output.truncate(produced);
    Ok((c.consumed as usize, output.freeze(), produced == cap, end))
}

fn cpu_encode(enc: &mut CpuEnc, input: &[u8], flush: Flush) -> Result<Bytes> {
    fn step<W: Write>(w: &mut W, input: &[u8], flush: Flush) -> std::io::Result<()> {
        w.write_all(input)?;
        if flush == Flush::Sync {
            w.flush()?;
        }
        Ok(())
    }
    let io = |e: std::io::Error| Error::Device(format!("CPU compressor: {e}"));
    let out = match enc {
        CpuEnc::Deflate(e) => {
            step(e, input, flush).map_err(io)?;
            if flush == Flush::Finish {
                e.try_finish().map_err(io)?;
            }
            std::mem::take(e.get_mut())
        }
        CpuEnc::Zlib(e) => {
            step(e, input, flush).map_err(io)?;
            if flush == Flush::Finish {
                e.try_finish().map_err(io)?;
            }
            std::mem::take(e.get_mut())
        }
        CpuEnc::Gzip(e) => {
            step(e, input, flush).map_err(io)?;
            if flush == Flush::Finish {
                e.try_finish().map_err(io)?;
            }
            std::mem::take(e.get_mut())
        }
    };
    Ok(Bytes::from(out))
}

/// Inflate `input` after the header; returns (output, input used, stream ended with a good trailer).
fn cpu_inflate(st: &mut CpuDec, format: Format, input: &[u8]) -> Result<(Bytes, usize, bool)> {
    use flate2::{FlushDecompress, Status};
    let mut out: Vec<u8> = Vec::new();
    let mut pos = 0;
    while !st.inflated_done && pos < input.len() && out.len() < DECODE_STEP_OUT {
        if out.capacity() - out.len() < 32 * 1024 {
            out.reserve(out.len().max(64 * 1024));
        }
        let (in0, out0) = (st.d.total_in(), out.len());
        let status =
            st.d.decompress_vec(&input[pos..], &mut out, FlushDecompress::None)
                .map_err(|e| Error::CorruptData(e.to_string()))?;
        pos += (st.d.total_in() - in0) as usize;
        if status == Status::StreamEnd {
            st.inflated_done = true;
        } else if st.d.total_in() == in0 && out.len() == out0 && out.len() < out.capacity() {
            break;
        }
    }
    st.crc.update(&out);
    st.adler.write_slice(&out);
    st.size = st.size.wrapping_add(out.len() as u32);
    let mut ended = false;
    if st.inflated_done {
        let tl = match format {
            Format::Deflate => 0,
            Format::Zlib => 4,
            Format::Gzip => 8,
        };
        let take = (tl - st.trailer.len()).min(input.len() - pos);
        st.trailer.extend_from_slice(&input[pos..pos + take]);
        pos += take;
        if st.trailer.len() == tl {
            let expect: Vec<u8> = match format {
                Format::Deflate => Vec::new(),
                Format::Zlib => st.adler.checksum().to_be_bytes().to_vec(),
                Format::Gzip => {
                    let mut t = st.crc.clone().finalize().to_le_bytes().to_vec();
                    t.extend_from_slice(&st.size.to_le_bytes());
                    t
                }
            };
            if expect != st.trailer {
                return Err(Error::CorruptData(
                    "checksum mismatch in the stream trailer".into(),
                ));
            }
            ended = true;
        }
    }
    Ok((Bytes::from(out), pos, ended))
}

/// A streaming compressor for callers that drive it chunk by chunk (HTTP bodies, message framing): each call
/// takes the compressor by value and gives it back with the output, so its future can be stored by poll-based
/// code. Produces one standard stream; on devices it is a ZIP stream-mode session on one queue, on the CPU flate2.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), uacce_async::Error> {
/// use bytes::Bytes;
/// use uacce_async::{Accel, Backend, Flush, Format, StreamCompressor};
/// let accel = Accel::builder().backend(Backend::Emulated).build().await?;
/// let c = StreamCompressor::new(&accel, Format::Gzip)?;
/// let (c, first) = c.compress(Bytes::from_static(b"part one, "), Flush::None).await;
/// let (_c, rest) = c.compress(Bytes::from_static(b"part two"), Flush::Finish).await;
/// let gz: Vec<u8> = first?.into_iter().chain(rest?).flatten().collect();
/// assert_eq!(&accel.decompress(Format::Gzip, gz).await?[..], b"part one, part two");
/// # Ok(()) }
/// ```
pub struct StreamCompressor {
    codec: Codec,
}

impl std::fmt::Debug for StreamCompressor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamCompressor")
            .field("format", &self.codec.format)
            .field("ended", &self.codec.ended)
            .finish_non_exhaustive()
    }
}

impl StreamCompressor {
    /// A compressor for `format` (the CPU backend uses the accelerator's configured level).
    pub fn new(accel: &Accel, format: Format) -> Result<Self> {
        Ok(Self {
            codec: Codec::encoder(accel, format)?,
        })
    }

    /// A compressor whose CPU fallback uses deflate `level` (0..=9); devices have no level.
    pub fn with_level(accel: &Accel, format: Format, level: u32) -> Result<Self> {
        Ok(Self {
            codec: Codec::encoder_with_level(accel, format, level)?,
        })
    }

    /// Compress `input`, then flush as asked. Returns the compressor and the output produced (possibly none).
    /// After `Flush::Finish` the stream is complete; more input is an error.
    ///
    /// # Errors
    ///
    /// The returned result: [`Error::InvalidParameter`] for input after `Flush::Finish`, and the job errors of
    /// [`Error`]. After an error the stream's state is unknown: start a new one.
    ///
    /// # Cancel safety
    ///
    /// The compressor is moved into the call and comes back only with its result: dropping the future drops the
    /// compressor and its session (a device context is released once the job in flight has completed). The
    /// output of that call and the rest of the stream are lost: start a new stream. Nothing can be resumed with
    /// half a stream, so nothing returns a wrong one.
    pub async fn compress(self, input: Bytes, flush: Flush) -> (Self, Result<Vec<Bytes>>) {
        let (codec, r) = self.codec.encode(input, flush).await;
        (Self { codec }, r)
    }

    /// True once the stream was finished.
    pub fn is_finished(&self) -> bool {
        self.codec.ended
    }
}
