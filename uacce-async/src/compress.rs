//! One-shot compression and decompression of deflate, zlib and gzip streams, of any size, on the device.
//!
//! A request whose input and output fit one flat buffer (8 MiB, [`zip::MAX_FLAT_LEN`]) is one block-mode ZIP job
//! (32 KiB window). Anything larger runs on the same device as a sequence of *stream-mode* BDs on one queue, each
//! with at most 8 MiB of input and 8 MiB of output space, and the context words carried from each completion to the
//! next BD (protocol doc §6.3), as UADK's `wd_do_comp_sync2` splits a large request into stream requests. The result
//! is one ordinary stream (one gzip member, one zlib stream), byte for byte what a client decodes.
//!
//! * **Compression over 8 MiB**: the input goes in chunks of at most [`STREAM_IN_MAX`] bytes (about 7.1 MiB), each
//!   BD with 9/8 of its input as output space (UADK's rule for stateful compression, `hisi_comp.c`: the engine may
//!   expand data it cannot compress by up to 1/8, as fixed-Huffman codes do), so a chunk's output always fits. Every
//!   BD but the last ends with a sync flush, so each chunk's output ends on a byte boundary with no final block.
//! * **Incompressible data**: the device's own counts show it (a chunk's output no smaller than the chunk stored).
//!   Such a chunk's output is replaced, in place, by stored blocks of the same bytes (5 bytes of framing per
//!   65535): the decoder ends up with the same data in its window, so the device's next BD (which may refer back
//!   into the chunk) and its running checksum and ISIZE (over the bytes it consumed) stay right. For the last
//!   chunk the stored blocks end with BFINAL and the device's own trailer bytes follow (they cover all the input;
//!   the running checksum word is not interpreted). Nothing is redone on the CPU; the cost is a copy of the chunk,
//!   and the output is never larger than [`compress_bound`]. A block-mode job whose output does not fit
//!   [`compress_bound`] (deflate could not shrink the data) is finished the same way: the whole stream is written
//!   as stored blocks with a software checksum, instead of a second device attempt or a CPU deflate.
//! * **Decompression**: block-mode attempts (output space 4× the input, growing 4× per attempt, at most 8 MiB and the
//!   limit) serve the usual case. When the output does not fit 8 MiB, or the input is over 8 MiB, the stream is
//!   decoded with stream BDs:
//!   each takes what fits its output space and reports what it consumed; the output is drained into the result and
//!   the rest of the input resubmitted with the context, until the device reports the end of the stream
//!   (status 0x13 with lstblk), so no output size needs guessing past 8 MiB and nothing is decoded twice after the
//!   block attempts. The limit (`Config::max_decompressed`) is checked after every BD, and no BD gets more output space
//!   than the limit still admits (plus the hardware's 200-byte stream minimum), so a bomb stops at the limit.
//!
//! Memory of a large request, besides the caller's input: the result (compression: reserved at
//! [`compress_bound`] of the input, which on Linux costs address space, and resident memory only as the output
//! is written; decompression: grown as output arrives, at most the limit), one output buffer of at most 8 MiB
//! reused by every BD of the request (what the device writes, copied into the result after each completion), and
//! a 64 KiB stream context. The zlib/gzip header of a decompression is parsed in software and the device inflates
//! the body; on compression the header is written in software.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use uacce_soft::zip::InflateError;
use uacce_sys::qm::zip::{
    self, HwBuffers, QcType, StreamState, ZipAlg, ZipCompletion, ZipMode, ZipOutcome, ZipRequest,
    ZipWindow,
};
use uacce_sys::qm::{QmVersion, Sqe};

use crate::accel::Accel;
use crate::error::{Error, Result};
use crate::gzip_header;
use crate::job::{Job, Step, Tally, addr};
use crate::lane::{Buffers, Class, JobOutput, Lane, Scratch};
use crate::pool::ClassPool;
use crate::stats::{CpuReason, Family};
use crate::stream::{CtxBuf, no_context};
use crate::types::Format;

/// The largest flat buffer one ZIP BD takes.
const MAX_FLAT: usize = zip::MAX_FLAT_LEN as usize;

/// zlib's `deflateBound` plus room for the zlib/gzip header and trailer.
pub(crate) fn compress_bound(n: usize) -> usize {
    n + (n >> 12) + (n >> 14) + (n >> 25) + 13 + 18
}

/// True if compressing `n` bytes is one block-mode BD: its output space, [`compress_bound`] (header included),
/// fits one flat buffer.
fn block_compress_fits(n: usize) -> bool {
    compress_bound(n) <= MAX_FLAT
}

/// Output space of a stream-mode compression BD of `n` input bytes: 9/8 of the input, rounded up (UADK's
/// `min_out_buf_size`, the room the hardware needs for stateful compression), plus room for a trailer.
const fn stream_room(n: usize) -> usize {
    (n * 9).div_ceil(8) + 64
}

/// The largest input of one stream-mode compression BD: a multiple of 4 whose [`stream_room`] fits 8 MiB (UADK cuts
/// stateful inputs to `(out * 8 / 9) & !3`).
pub(crate) const STREAM_IN_MAX: usize = ((MAX_FLAT - 64) * 8 / 9) & !3;

/// Output space no stream-mode BD goes below: the hardware needs at least 200 bytes in stream mode (UADK's
/// `SW_STOREBUF_TH`; below it UADK substitutes a buffer of its own).
const STREAM_MIN_ROOM: usize = 256;

/// Largest block a stored deflate block holds.
const STORED_MAX: usize = 0xFFFF;

/// Bytes `n` bytes take as stored deflate blocks (at least one block, 5 bytes of framing each).
fn stored_len(n: usize) -> usize {
    n + 5 * n.div_ceil(STORED_MAX).max(1)
}

/// Append `data` as stored deflate blocks, starting on a byte boundary (so the 3 header bits and their padding are
/// one zero byte, or 1 for the final block). `last`: the final block of the stream has BFINAL set.
fn push_stored(out: &mut Vec<u8>, data: &[u8], last: bool) {
    let mut blocks = data.chunks(STORED_MAX).peekable();
    if blocks.peek().is_none() {
        if last {
            out.extend_from_slice(&[1, 0, 0, 0xFF, 0xFF]);
        }
        return;
    }
    while let Some(b) = blocks.next() {
        let bfinal = last && blocks.peek().is_none();
        let len = b.len() as u16;
        out.push(u8::from(bfinal));
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(b);
    }
}

/// Length of the `format` trailer after the deflate data (zlib: Adler-32; gzip: CRC-32 and ISIZE).
fn trailer_len(format: Format) -> usize {
    match format {
        Format::Deflate => 0,
        Format::Zlib => 4,
        Format::Gzip => 8,
    }
}

/// `data` as one complete `format` stream of stored blocks: the software header, the blocks, the trailer
/// (zlib: Adler-32 big-endian; gzip: CRC-32 and ISIZE little-endian) computed in software. Never larger than
/// [`compress_bound`]`(data.len())`.
pub(crate) fn stored_stream(format: Format, data: &[u8]) -> Vec<u8> {
    let alg = format.zip_alg();
    let mut out = Vec::with_capacity(alg.header().len() + stored_len(data.len()) + 8);
    out.extend_from_slice(alg.header());
    push_stored(&mut out, data, true);
    match format {
        Format::Deflate => {}
        Format::Zlib => {
            let mut a = adler2::Adler32::new();
            a.write_slice(data);
            out.extend_from_slice(&a.checksum().to_be_bytes());
        }
        Format::Gzip => {
            out.extend_from_slice(&crc32fast::hash(data).to_le_bytes());
            out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        }
    }
    out
}

/// One stream session on one queue for a one-shot request: its context buffer, the words carried between BDs, and
/// the output buffer every BD of the request reuses (in the lane while a BD is in flight, here between BDs).
struct StreamBds {
    lane: Arc<Lane>,
    ctx: Arc<CtxBuf>,
    state: StreamState,
    out: BytesMut,
    /// BDs completed so far.
    bds: usize,
}

impl StreamBds {
    fn new(lane: Arc<Lane>) -> Self {
        let ctx = CtxBuf::new(&lane);
        let state = StreamState {
            ctx_addr: ctx.ctx_addr(),
            first: true,
            ..StreamState::default()
        };
        Self {
            lane,
            ctx,
            state,
            out: BytesMut::new(),
            bds: 0,
        }
    }

    /// One stream BD: `input` (at most 8 MiB) with `room` bytes of output space (at most 8 MiB), finishing the
    /// stream if `last`. Returns the completion; its output is [`StreamBds::output`]. The buffers (input, output,
    /// context) belong to the lane until the completion has been consumed, or the queue stopped if the future is
    /// dropped. A completion whose counts exceed what the BD was given is an error, never an out-of-bounds slice.
    async fn step(
        &mut self,
        alg: ZipAlg,
        input: Bytes,
        room: usize,
        last: bool,
    ) -> Result<ZipCompletion> {
        debug_assert!(input.len() <= MAX_FLAT && room <= MAX_FLAT);
        let mut out = std::mem::take(&mut self.out);
        // Zero-filled on growth only: the device writes what it reports, and only that is read back.
        out.resize(room, 0);
        let in_len = input.len();
        let mut state = self.state;
        state.last = last;
        let version = self.lane.version;
        let bufs = Buffers {
            input: Some(input),
            output: Some(out),
            keep: Some(self.ctx.clone()),
        };
        let fut = self
            .lane
            .submit(bufs, move |tag, _, bufs| {
                let (input, output) = (bufs.input(), bufs.output());
                let req = ZipRequest {
                    alg,
                    buffers: HwBuffers {
                        src_addr: addr(input),
                        src_len: input.len() as u32,
                        dst_addr: addr(output),
                        dst_avail: output.len() as u32,
                    },
                    tag,
                    window: ZipWindow::W32K,
                    mode: ZipMode::Stream(state),
                };
                Ok(zip::encode(&req, version))
            })
            .await?;
        let done = fut.await?;
        let c = zip::read_result(&done.sqe);
        self.out = done.into_output();
        self.bds += 1;
        if c.consumed as usize > in_len || c.produced as usize > room {
            return Err(Error::Device(format!(
                "a stream BD reports {} bytes consumed of {in_len} and {} produced into {room}",
                c.consumed, c.produced
            )));
        }
        if matches!(c.outcome(), ZipOutcome::Ok | ZipOutcome::StreamEnd) {
            self.state = c.next_stream_state(self.state.ctx_addr, false);
        }
        Ok(c)
    }

    /// What the last BD produced.
    fn output(&self, c: &ZipCompletion) -> &[u8] {
        &self.out[..c.produced as usize]
    }

    /// True if `c`, this session's first completion, says the device had no context for a new stream.
    fn refused_at_start(&self, c: &ZipCompletion) -> bool {
        self.bds == 1 && matches!(c.outcome(), ZipOutcome::Error(s) if no_context(s))
    }
}

/// The SQE of a one-shot ZIP job (block mode, 32 KiB window) over `hw`.
fn block_sqe(format: Format, hw: HwBuffers, tag: u32, version: QmVersion) -> Sqe {
    let req = ZipRequest {
        alg: format.zip_alg(),
        buffers: hw,
        tag,
        window: ZipWindow::W32K,
        mode: ZipMode::Block,
    };
    zip::encode(&req, version)
}

/// Compress `data` into one stream with one block-mode BD (inputs for which [`block_compress_fits`]).
struct CompressJob {
    format: Format,
    /// Deflate level on the CPU.
    level: u32,
    data: Bytes,
    /// Output room of the device attempt.
    cap: usize,
}

impl Job for CompressJob {
    type Output = Bytes;
    const CLASS: Class = Class::ZipCompress;
    const FAMILY: Family = Family::Compress;

    fn size(&self) -> usize {
        self.data.len()
    }

    fn fits(&self, _: &ClassPool) -> bool {
        block_compress_fits(self.data.len())
    }

    fn buffers(&mut self, _: QmVersion) -> Result<Buffers> {
        let header = self.format.zip_alg().header();
        let mut output = BytesMut::zeroed(self.cap);
        output[..header.len()].copy_from_slice(header);
        Ok(Buffers {
            input: Some(self.data.clone()),
            output: Some(output),
            keep: None,
        })
    }

    fn sqe(&self, tag: u32, _: &mut Scratch, bufs: &Buffers, version: QmVersion) -> Result<Sqe> {
        let (input, output) = (bufs.input(), bufs.output());
        let hw = HwBuffers::from_user(
            self.format.zip_alg(),
            QcType::Compress,
            true,
            addr(input),
            input.len() as u32,
            addr(output),
            output.len() as u32,
        )
        .map_err(|e| Error::Device(e.to_string()))?;
        Ok(block_sqe(self.format, hw, tag, version))
    }

    fn complete(&mut self, out: JobOutput, _: QmVersion) -> Result<Step<Bytes>> {
        let c = zip::read_result(&out.sqe);
        Ok(match c.outcome() {
            ZipOutcome::Ok | ZipOutcome::StreamEnd => {
                let (_, produced) = c.user_lengths(QcType::Compress);
                let mut output = out.into_output();
                output.truncate(produced as usize);
                Step::Done(output.freeze())
            }
            // The device's output does not fit deflate's worst-case bound: it could not compress this data. Stored
            // blocks are within the bound and cost a copy and a checksum (here, at memory speed, at most 8 MiB),
            // where another device attempt or a CPU deflate would redo the whole input.
            ZipOutcome::DstTooSmall => {
                tracing::debug!(
                    len = self.data.len(),
                    "incompressible input: stored blocks instead of the device's output"
                );
                Step::Done(Bytes::from(stored_stream(self.format, &self.data)))
            }
            ZipOutcome::Error(s) => {
                return Err(Error::Device(format!("compression failed, status {s:?}")));
            }
        })
    }

    fn cpu(self) -> Result<Bytes> {
        Ok(Bytes::from(uacce_soft::zip::compress(
            self.format.wrapper(),
            self.level,
            &self.data,
        )))
    }
}

/// The gzip magic: what a member after another starts with.
const GZIP_MAGIC: [u8; 2] = [0x1F, 0x8B];

/// True if `rest` (what follows a gzip member) starts another member.
fn next_member(format: Format, rest: &[u8]) -> bool {
    format == Format::Gzip && rest.starts_with(&GZIP_MAGIC)
}

/// What a decompression job ends with.
enum Decoded {
    /// The output and the input bytes taken.
    Done(Bytes, usize),
    /// The output is over what one block-mode BD holds (8 MiB) but may fit the limit: decode with stream BDs, the
    /// first with `room` bytes of output space.
    Stream { room: usize },
}

impl crate::stats::OutputLen for Decoded {
    /// The output of a finished job; a block attempt that hands over to stream BDs produced nothing yet.
    fn output_len(&self) -> usize {
        match self {
            Decoded::Done(out, _) => out.len(),
            Decoded::Stream { .. } => 0,
        }
    }

    fn handed_over(&self) -> bool {
        matches!(self, Decoded::Stream { .. })
    }
}

/// Decompress the stream (gzip: the member) at the start of `data`, of at most `limit` output bytes, with one
/// block-mode BD (inputs of at most 8 MiB). Its output is the decompressed data and the input bytes taken; what
/// follows is the caller's to judge. An output that does not fit the BD continues with stream BDs
/// ([`Decoded::Stream`]).
struct DecompressJob {
    format: Format,
    data: Bytes,
    limit: usize,
    /// On the CPU, also decode the gzip members that follow (one trip to the blocking pool for all of them); a
    /// device attempt always decodes one member (one block-mode BD ends at the first member's trailer).
    all_members: bool,
    /// First device output room, if the caller has a better guess than 4× the input (the previous member's
    /// output: BGZF members are many and small, and 4× the rest of the file would be a large buffer per member).
    /// Never from a length field of the input.
    first_cap: Option<usize>,
    /// Length of the zlib/gzip header, parsed in software before the first device attempt.
    header: Option<usize>,
    /// Output room of the device attempt.
    cap: usize,
}

impl DecompressJob {
    fn new(
        format: Format,
        data: Bytes,
        limit: usize,
        all_members: bool,
        first_cap: Option<usize>,
    ) -> Self {
        Self {
            format,
            data,
            limit,
            all_members,
            first_cap,
            header: None,
            cap: 0,
        }
    }

    /// The most output a device attempt is given.
    fn ceiling(&self) -> usize {
        self.limit.min(MAX_FLAT)
    }

    fn body_len(&self) -> usize {
        self.data.len() - self.header.unwrap_or(0)
    }

    /// The whole job on the CPU: this member, and with `all_members` the gzip members after it.
    fn cpu_decode(&self) -> Result<(Bytes, usize)> {
        let err = |e| match e {
            InflateError::Corrupt(m) => Error::CorruptData(m),
            InflateError::OutputLimit { limit } => Error::OutputLimit { limit },
        };
        let wrapper = self.format.wrapper();
        let (mut out, mut pos) =
            uacce_soft::zip::decompress_prefix(wrapper, &self.data, self.limit).map_err(err)?;
        while self.all_members && next_member(self.format, &self.data[pos..]) {
            // The limit holds across members: each gets what the ones before it left.
            let (more, used) = uacce_soft::zip::decompress_prefix(
                wrapper,
                &self.data[pos..],
                self.limit - out.len(),
            )
            .map_err(|e| match e {
                InflateError::OutputLimit { .. } => Error::OutputLimit { limit: self.limit },
                e => err(e),
            })?;
            out.extend_from_slice(&more);
            pos += used;
        }
        Ok((Bytes::from(out), pos))
    }
}

impl Job for DecompressJob {
    type Output = Decoded;
    const CLASS: Class = Class::ZipDecompress;
    const FAMILY: Family = Family::Decompress;

    fn size(&self) -> usize {
        self.data.len()
    }

    /// The device's error status on an inflate job reads as corrupt input; the CPU redoes it (and says so too if the
    /// input is corrupt), as a device that fails a good stream must not fail the caller's job.
    fn device_failed(&self, e: &Error) -> bool {
        matches!(
            e,
            Error::Device(_)
                | Error::CorruptData(_)
                | Error::QueueReset
                | Error::DeviceRemoved
                | Error::Timeout(_)
                | Error::NoDevice { .. }
        )
    }

    fn fits(&self, _: &ClassPool) -> bool {
        self.data.len() <= MAX_FLAT
    }

    fn buffers(&mut self, _: QmVersion) -> Result<Buffers> {
        let hdr = match self.header {
            Some(h) => h,
            None => {
                let hdr = gzip_header::complete_header_len(self.format, &self.data)?;
                self.header = Some(hdr);
                // First guess at the output size: 4× the deflate body, within [4 KiB, the limit]. Never the gzip
                // trailer's ISIZE: a length field of the input is not trusted to size a buffer (a patched ISIZE
                // would make a 25-byte input allocate megabytes).
                let ceiling = self.ceiling().max(1);
                self.cap = self
                    .first_cap
                    .unwrap_or_else(|| self.body_len().saturating_mul(4))
                    .clamp(4096.min(ceiling), ceiling);
                hdr
            }
        };
        debug_assert!(hdr <= self.data.len());
        Ok(Buffers {
            input: Some(self.data.clone()),
            output: Some(BytesMut::zeroed(self.cap)),
            keep: None,
        })
    }

    fn sqe(&self, tag: u32, _: &mut Scratch, bufs: &Buffers, version: QmVersion) -> Result<Sqe> {
        let body = &bufs.input()[self.header.unwrap_or(0)..];
        let output = bufs.output();
        let hw = HwBuffers {
            src_addr: addr(body),
            src_len: body.len() as u32,
            dst_addr: addr(output),
            dst_avail: output.len() as u32,
        };
        Ok(block_sqe(self.format, hw, tag, version))
    }

    fn complete(&mut self, out: JobOutput, _: QmVersion) -> Result<Step<Decoded>> {
        let c = zip::read_result(&out.sqe);
        let body_len = self.body_len();
        Ok(match c.outcome() {
            // The output room is at least one byte even for a limit of 0: the limit itself is checked here.
            ZipOutcome::Ok | ZipOutcome::StreamEnd if c.produced as usize > self.limit => {
                return Err(Error::OutputLimit { limit: self.limit });
            }
            ZipOutcome::Ok | ZipOutcome::StreamEnd => {
                if c.consumed as usize > body_len || c.produced as usize > self.cap {
                    return Err(Error::Device(
                        "the device reports more input consumed or output produced than it was given".into(),
                    ));
                }
                let mut output = out.into_output();
                output.truncate(c.produced as usize);
                Step::Done(Decoded::Done(
                    output.freeze(),
                    self.header.unwrap_or(0) + c.consumed as usize,
                ))
            }
            // A bigger block attempt while the output may still fit one BD (4x per attempt, as before: these jobs stay
            // whole device jobs for routing, statistics and the CPU backup).
            ZipOutcome::DstTooSmall if self.cap < self.ceiling() => {
                self.cap = self.cap.saturating_mul(4).min(self.ceiling());
                Step::Again
            }
            // Over 8 MiB of output: continue with stream BDs, which take the output as it comes, rather than the CPU.
            ZipOutcome::DstTooSmall if self.limit > MAX_FLAT => {
                Step::Done(Decoded::Stream { room: MAX_FLAT })
            }
            // The room was the limit: the stream is over it.
            ZipOutcome::DstTooSmall => return Err(Error::OutputLimit { limit: self.limit }),
            ZipOutcome::Error(s) => {
                return Err(Error::CorruptData(format!(
                    "the device rejected the stream (status {s:?})"
                )));
            }
        })
    }

    fn cpu(self) -> Result<Decoded> {
        let (out, used) = self.cpu_decode()?;
        Ok(Decoded::Done(out, used))
    }
}

impl Accel {
    /// Compress `data` into one `format` stream.
    ///
    /// On a device, inputs of any size: up to about 8 MiB one block-mode job, larger ones a sequence of stream-mode
    /// BDs on one queue (chunks of about 7.1 MiB, each with 9/8 of its size as output space), giving one ordinary
    /// stream (one gzip member). Data the device cannot compress comes back as stored blocks, never larger than
    /// zlib's `compressBound` plus the header and trailer; it is not compressed again on the CPU. Without a device
    /// for compression (or, on the emulator, with its stream table full), the CPU backend compresses at
    /// `Config::cpu_level`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), uacce_async::Error> {
    /// use uacce_async::{Accel, Backend, Format};
    /// let accel = Accel::builder().backend(Backend::Emulated).build().await?;
    /// let text = "to be or not to be, ".repeat(100);
    /// let zlib = accel.compress(Format::Zlib, text.clone()).await?;
    /// assert!(zlib.len() < text.len() / 10);
    /// assert_eq!(accel.decompress(Format::Zlib, zlib).await?, text.as_bytes());
    /// # Ok(()) }
    /// ```
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the call changes no state of the [`Accel`](crate::Accel), so dropping the future only abandons
    /// the job. A job already on a device keeps its buffers until the device completes it (then they are freed); a
    /// CPU job not yet started is skipped, one already running finishes on its pool thread. The call can simply be
    /// made again.
    pub async fn compress(&self, format: Format, data: impl Into<Bytes>) -> Result<Bytes> {
        let data: Bytes = data.into();
        let job = CompressJob {
            format,
            level: self.inner.config.cpu_level,
            cap: compress_bound(data.len()).min(MAX_FLAT),
            data,
        };
        if !block_compress_fits(job.data.len())
            && let Some(lane) = self.stream_lane(Class::ZipCompress)?
        {
            // Counted here, as `execute` counts the jobs it runs.
            let fam = self.inner.counters.family(Family::Compress);
            let tally = Tally::start(fam, job.data.len());
            let (r, on_device) = match self.compress_stream(lane, format, &job.data).await {
                Ok(Some(out)) => (Ok(out), true),
                Ok(None) => {
                    // No stream context on the device for it (the emulator's bounded table): the job does not
                    // fit one block, so it runs on the CPU.
                    fam.cpu(CpuReason::Unfit);
                    tracing::debug!(
                        bytes = job.data.len(),
                        "no device stream context: compressing on the CPU"
                    );
                    (self.inner.cpu.run(move || job.cpu()).await, false)
                }
                Err(e) => (Err(e), true),
            };
            tally.end(&r, on_device);
            return r;
        }
        self.inner.execute(job).await
    }

    /// Compress `data` (more than one block-mode BD holds) with stream-mode BDs on `lane`; the output is never larger
    /// than [`compress_bound`]`(data.len())` (every chunk is at most its stored size). `None` if the device had
    /// no stream context for it (the emulator's bounded table; the caller then uses the CPU).
    async fn compress_stream(
        &self,
        lane: Arc<Lane>,
        format: Format,
        data: &Bytes,
    ) -> Result<Option<Bytes>> {
        let alg = format.zip_alg();
        let n = data.len();
        // Chunks of equal size (a multiple of 4, at most STREAM_IN_MAX): the fewest BDs, the smallest output buffer.
        let chunks = n.div_ceil(STREAM_IN_MAX);
        let chunk = n.div_ceil(chunks).next_multiple_of(4).min(STREAM_IN_MAX);
        // The whole output's worst case, reserved once: address space, resident only as written (Linux allocates
        // pages on first touch), so compressible data costs what it compresses to and nothing is copied to grow.
        // (Plus one BD's room: a chunk's output before it is stored may pass the bound for a moment.)
        let mut out = Vec::with_capacity(compress_bound(n) + stream_room(chunk));
        out.extend_from_slice(alg.header());
        let mut bds = StreamBds::new(lane);
        let mut pos = 0;
        while pos < n {
            let end = (pos + chunk).min(n);
            let last = end == n;
            let seg_start = out.len();
            let room = stream_room(end - pos);
            let tl = if last { trailer_len(format) } else { 0 };
            let mut piece = data.slice(pos..end);
            let mut stored = false;
            // The chunk, then (rarely: the room is the hardware's worst case) empty BDs draining what did not fit.
            loop {
                let given = piece.len();
                let c = bds.step(alg, piece, room, last).await?;
                match c.outcome() {
                    ZipOutcome::Ok | ZipOutcome::StreamEnd => {}
                    _ if bds.refused_at_start(&c) => {
                        tracing::debug!(
                            len = n,
                            "no device stream context: compressing on the CPU"
                        );
                        return Ok(None);
                    }
                    o => {
                        return Err(Error::Device(format!("stream compression failed ({o:?})")));
                    }
                }
                if c.consumed as usize != given {
                    return Err(Error::Device(
                        "the device did not take a whole stream BD".into(),
                    ));
                }
                let produced = bds.output(&c);
                let full = produced.len() == room;
                let chunk_done = if last { c.lstblk } else { !full };
                piece = Bytes::new();
                // Every BD but the last ended with a sync flush, so each chunk's output starts on a byte boundary
                // and, but for the last, is whole blocks ending on one with no final block; the last is blocks
                // ending with the final one, then the trailer the device computed over all the input. If a chunk's
                // deflate data is no smaller than the chunk stored, it is stored instead, the trailer kept as the
                // device wrote it: the decoder's window holds the same bytes either way, so the device's later BDs,
                // which may refer back into the chunk, and its checksum and ISIZE stay right (see the module
                // notes). The usual case, the whole chunk's output in one BD, is decided before copying it.
                if chunk_done
                    && out.len() == seg_start
                    && produced.len() >= tl + stored_len(end - pos)
                {
                    let mut trailer = [0u8; 8];
                    trailer[..tl].copy_from_slice(&produced[produced.len() - tl..]);
                    push_stored(&mut out, &data[pos..end], last);
                    out.extend_from_slice(&trailer[..tl]);
                    stored = true;
                    break;
                }
                out.extend_from_slice(produced);
                if out.len() > compress_bound(n) + MAX_FLAT {
                    return Err(Error::Device(
                        "the device produced more than any deflate encoder could".into(),
                    ));
                }
                if chunk_done {
                    break;
                }
                if last && !full {
                    return Err(Error::Device(
                        "the device did not finish the stream on its last BD".into(),
                    ));
                }
            }
            // A chunk whose output took several BDs: the same replacement, after the fact.
            if !stored && out.len() - seg_start >= tl + stored_len(end - pos) {
                let mut trailer = [0u8; 8];
                trailer[..tl].copy_from_slice(&out[out.len() - tl..]);
                out.truncate(seg_start);
                push_stored(&mut out, &data[pos..end], last);
                out.extend_from_slice(&trailer[..tl]);
            }
            pos = end;
        }
        out.shrink_to_fit();
        Ok(Some(Bytes::from(out)))
    }

    /// Decompress one `format` stream; the output may not exceed the configured `max_decompressed`.
    ///
    /// On a device, any size within the limit: one block-mode BD when the input and output fit 8 MiB, otherwise
    /// stream-mode BDs on one queue that take the input as their output space allows and continue with the stream's
    /// context until its end; the limit is checked after every BD. The CPU backend decodes only without a device for
    /// decompression (or, on the emulator, with its stream table full).
    ///
    /// gzip input may hold several members one after another (`gzip -c a > x; gzip -c b >> x`, pigz, BGZF as
    /// `bgzip` writes it): all of them are decoded and their outputs joined, as `gzip -dc` and flate2's
    /// `MultiGzDecoder` do, with the limit counting the whole output. [`Accel::decompress_first_member`] stops after
    /// the first. Bytes after the last member that do not start another member are [`Error::CorruptData`]
    /// ("trailing data"): `gzip -dc` warns "trailing garbage ignored" and exits with status 2; this crate refuses
    /// rather than return data with a warning nobody sees.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), uacce_async::Error> {
    /// use uacce_async::{Accel, Backend, Error, Format};
    /// let accel = Accel::builder().backend(Backend::Emulated).build().await?;
    /// let gz = accel.compress(Format::Gzip, &b"hello hello hello"[..]).await?;
    /// assert_eq!(&accel.decompress(Format::Gzip, gz.clone()).await?[..], b"hello hello hello");
    /// // Two members, as `gzip -c a > x; gzip -c b >> x` writes them.
    /// let two = [&gz[..], &accel.compress(Format::Gzip, &b", bye"[..]).await?[..]].concat();
    /// assert_eq!(&accel.decompress(Format::Gzip, two).await?[..], b"hello hello hello, bye");
    /// // A damaged stream is an error, never wrong data.
    /// let mut bad = gz.to_vec();
    /// let last = bad.len() - 1;
    /// bad[last] ^= 0xff; // the length in the gzip trailer
    /// assert!(matches!(accel.decompress(Format::Gzip, bad).await, Err(Error::CorruptData(_))));
    /// # Ok(()) }
    /// ```
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the call changes no state of the [`Accel`](crate::Accel), so dropping the future only abandons
    /// the job. A job already on a device keeps its buffers until the device completes it (then they are freed); a
    /// CPU job not yet started is skipped, one already running finishes on its pool thread. The call can simply be
    /// made again.
    pub async fn decompress(&self, format: Format, data: impl Into<Bytes>) -> Result<Bytes> {
        self.decompress_with_limit(format, data, self.inner.config.max_decompressed)
            .await
    }

    /// Decompress one `format` stream (gzip: all its members, see [`Accel::decompress`]) whose output may not
    /// exceed `limit` bytes ([`Error::OutputLimit`] otherwise, whichever member crosses it). Malformed or truncated
    /// input, a checksum mismatch or trailing data is [`Error::CorruptData`].
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), uacce_async::Error> {
    /// use uacce_async::{Accel, Backend, Error, Format};
    /// let accel = Accel::builder().backend(Backend::Emulated).build().await?;
    /// let zeros = accel.compress(Format::Deflate, vec![0u8; 1 << 20]).await?;
    /// println!("1 MiB of zeros in {} bytes", zeros.len());
    /// let err = accel.decompress_with_limit(Format::Deflate, zeros.clone(), 64 << 10).await;
    /// assert!(matches!(err, Err(Error::OutputLimit { limit: 65536 })));
    /// assert_eq!(accel.decompress_with_limit(Format::Deflate, zeros, 1 << 20).await?.len(), 1 << 20);
    /// # Ok(()) }
    /// ```
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the call changes no state of the [`Accel`](crate::Accel), so dropping the future only abandons
    /// the job. A job already on a device keeps its buffers until the device completes it (then they are freed); a
    /// CPU job not yet started is skipped, one already running finishes on its pool thread. The call can simply be
    /// made again.
    pub async fn decompress_with_limit(
        &self,
        format: Format,
        data: impl Into<Bytes>,
        limit: usize,
    ) -> Result<Bytes> {
        let data: Bytes = data.into();
        let (out, used) = self
            .decompress_members(format, data.clone(), limit, true)
            .await?;
        if used != data.len() {
            return Err(Error::CorruptData(format!(
                "{} bytes of trailing data after the end of the stream",
                data.len() - used
            )));
        }
        Ok(out)
    }

    /// Decompress only the first stream at the start of `data` (for gzip: the first member), within the configured
    /// `max_decompressed`; returns its output and the number of input bytes it took. Whatever follows is left
    /// alone: another member, a BGZF block, or data of another kind.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), uacce_async::Error> {
    /// use uacce_async::{Accel, Backend, Format};
    /// let accel = Accel::builder().backend(Backend::Emulated).build().await?;
    /// let a = accel.compress(Format::Gzip, &b"first"[..]).await?;
    /// let b = accel.compress(Format::Gzip, &b"second"[..]).await?;
    /// let both = [&a[..], &b[..]].concat();
    /// let (out, used) = accel.decompress_first_member(Format::Gzip, both).await?;
    /// assert_eq!((&out[..], used), (&b"first"[..], a.len()));
    /// # Ok(()) }
    /// ```
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the call changes no state of the [`Accel`](crate::Accel), so dropping the future only abandons
    /// the job. A job already on a device keeps its buffers until the device completes it (then they are freed); a
    /// CPU job not yet started is skipped, one already running finishes on its pool thread. The call can simply be
    /// made again.
    pub async fn decompress_first_member(
        &self,
        format: Format,
        data: impl Into<Bytes>,
    ) -> Result<(Bytes, usize)> {
        let limit = self.inner.config.max_decompressed;
        self.decompress_members(format, data.into(), limit, false)
            .await
    }

    /// Decode the stream at the start of `data` and, with `all` and gzip, each member that follows; returns the
    /// joined output (at most `limit` bytes in all) and the input taken.
    async fn decompress_members(
        &self,
        format: Format,
        data: Bytes,
        limit: usize,
        all: bool,
    ) -> Result<(Bytes, usize)> {
        let all = all && format == Format::Gzip;
        let (first, mut pos) = self
            .decompress_one(format, data.clone(), limit, all, None)
            .await?;
        if !all || !next_member(format, &data[pos..]) {
            return Ok((first, pos));
        }
        // More members (a device BD ends at the first member's trailer). Each member's output is appended; the
        // buffer grows with what the members really produce, never from their ISIZE fields.
        let mut prev = first.len();
        let mut out = BytesMut::from(&first[..]);
        while next_member(format, &data[pos..]) {
            let left = limit - out.len();
            // The first guess of a member's output room is its predecessor's output (a little more), which for
            // BGZF's equal blocks is right the first time.
            let guess = Some((prev + prev / 16).max(4096));
            let (more, used) = self
                .decompress_one(format, data.slice(pos..), left, all, guess)
                .await
                .map_err(|e| match e {
                    Error::OutputLimit { .. } => Error::OutputLimit { limit },
                    e => e,
                })?;
            prev = more.len();
            out.extend_from_slice(&more);
            pos += used;
        }
        Ok((out.freeze(), pos))
    }

    /// Decode the stream (gzip: the member) at the start of `data`: one block-mode BD if the input fits one and the
    /// output fits its room, else stream BDs on a device; on the CPU when no device decompresses (with `all`, the
    /// gzip members after it too).
    async fn decompress_one(
        &self,
        format: Format,
        data: Bytes,
        limit: usize,
        all: bool,
        first_cap: Option<usize>,
    ) -> Result<(Bytes, usize)> {
        let job = DecompressJob::new(format, data.clone(), limit, all, first_cap);
        let fam = self.inner.counters.family(Family::Decompress);
        // Statistics: a large input is one job, counted here as `execute` counts the jobs it runs; a block attempt
        // that hands over to stream BDs was started by `execute` and is ended here.
        let (room, tally) =
            if data.len() > MAX_FLAT && self.inner.pools.get(Class::ZipDecompress).is_some() {
                // Too much input for one BD: stream BDs from the start.
                let room = first_cap
                    .unwrap_or_else(|| data.len().saturating_mul(4))
                    .min(MAX_FLAT);
                (room, Tally::start(fam, data.len()))
            } else {
                match self.inner.execute(job).await? {
                    Decoded::Done(out, used) => return Ok((out, used)),
                    Decoded::Stream { room } => (room, Tally::resume(fam)),
                }
            };
        let streamed = match self.stream_lane(Class::ZipDecompress) {
            Ok(Some(lane)) => {
                self.decompress_stream(lane, format, &data, limit, room)
                    .await
            }
            Ok(None) => Ok(None),
            Err(e) => Err(e),
        };
        let (r, on_device) = match streamed {
            Ok(Some(done)) => (Ok(done), true),
            Ok(None) => {
                // No device stream context for it (the emulator's bounded table), or no queue left.
                fam.cpu(CpuReason::Unfit);
                tracing::debug!(
                    bytes = data.len(),
                    "no device stream context: decompressing on the CPU"
                );
                let job = DecompressJob::new(format, data, limit, all, first_cap);
                (self.inner.cpu.run(move || job.cpu_decode()).await, false)
            }
            Err(e) => (Err(e), true),
        };
        tally.end(&r, on_device);
        r
    }

    /// Decode the stream at the start of `data` with stream-mode BDs on `lane`, the first with `room` bytes of output
    /// space; returns the output (at most `limit` bytes) and the input taken. `None` if the device had no stream
    /// context for it.
    async fn decompress_stream(
        &self,
        lane: Arc<Lane>,
        format: Format,
        data: &Bytes,
        limit: usize,
        room: usize,
    ) -> Result<Option<(Bytes, usize)>> {
        let alg = format.zip_alg();
        let hdr = gzip_header::complete_header_len(format, data)?;
        let body = data.slice(hdr..);
        let mut room = room.clamp(STREAM_MIN_ROOM, MAX_FLAT);
        let mut out: Vec<u8> = Vec::new();
        let mut bds = StreamBds::new(lane);
        let mut pos = 0;
        loop {
            let end = (pos + MAX_FLAT).min(body.len());
            let piece = body.slice(pos..end);
            // No more space than the limit still admits, plus one byte to see it crossed (and at least the
            // hardware's stream minimum): a stream over the limit stops within one BD of it.
            let r = room
                .min(limit.saturating_sub(out.len()).saturating_add(1))
                .clamp(STREAM_MIN_ROOM, MAX_FLAT);
            // UADK sets the flush bit on a stream's last request; the device ignores it when decompressing.
            let c = bds.step(alg, piece, r, end == body.len()).await?;
            let ended = match c.outcome() {
                ZipOutcome::StreamEnd => true,
                ZipOutcome::Ok => false,
                _ if bds.refused_at_start(&c) => {
                    tracing::debug!(
                        len = data.len(),
                        "no device stream context: decompressing on the CPU"
                    );
                    return Ok(None);
                }
                ZipOutcome::DstTooSmall => {
                    return Err(Error::Device(
                        "the device refused a stream BD's output space".into(),
                    ));
                }
                ZipOutcome::Error(s) => {
                    return Err(Error::CorruptData(format!(
                        "the device rejected the stream (status {s:?})"
                    )));
                }
            };
            let (consumed, produced) = (c.consumed as usize, c.produced as usize);
            if out.len() + produced > limit {
                return Err(Error::OutputLimit { limit });
            }
            // Grows by doubling (on glibc, blocks this large are moved with mremap, not copied).
            out.extend_from_slice(bds.output(&c));
            pos += consumed;
            if ended {
                out.shrink_to_fit();
                return Ok(Some((Bytes::from(out), hdr + pos)));
            }
            let full = produced == r;
            if !full && pos >= body.len() {
                return Err(Error::CorruptData(
                    "the stream ends before its final block and trailer".into(),
                ));
            }
            if !full && consumed == 0 {
                return Err(Error::CorruptData(
                    "the device made no progress on the stream".into(),
                ));
            }
            if full {
                // Output-heavy data: the next BDs get more room.
                room = room.saturating_mul(4).min(MAX_FLAT);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inflate(format: Format, z: &[u8]) -> Vec<u8> {
        uacce_soft::zip::decompress(format.wrapper(), z, usize::MAX).expect("valid stream")
    }

    /// Stored streams decode to their input in every format, at block boundaries and around them, and stay within
    /// the bound the output buffers are sized by.
    #[test]
    fn stored_streams_decode_and_fit_the_bound() {
        let mut x = 1u32;
        for n in [0, 1, 100, 65534, 65535, 65536, 3 * 65535, 200_000] {
            let data: Vec<u8> = (0..n)
                .map(|_| {
                    x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    (x >> 16) as u8
                })
                .collect();
            for format in [Format::Deflate, Format::Zlib, Format::Gzip] {
                let z = stored_stream(format, &data);
                assert_eq!(inflate(format, &z), data, "{n} {format:?}");
                assert!(z.len() <= compress_bound(n), "{n} {format:?}: {}", z.len());
                assert_eq!(
                    z.len(),
                    format.zip_alg().header().len() + stored_len(n) + trailer_len(format)
                );
            }
        }
    }

    /// Non-final stored segments joined to a final one are one valid raw deflate stream.
    #[test]
    fn stored_segments_join() {
        let parts: [&[u8]; 3] = [b"first part, ", &[7u8; 70_000], b"and the end"];
        let mut z = Vec::new();
        for (i, p) in parts.iter().enumerate() {
            push_stored(&mut z, p, i == parts.len() - 1);
        }
        assert_eq!(inflate(Format::Deflate, &z), parts.concat());
    }

    #[test]
    fn stream_chunks_fit_one_bd() {
        assert!(stream_room(STREAM_IN_MAX) <= MAX_FLAT);
        assert!(stream_room(STREAM_IN_MAX + 4) > MAX_FLAT);
        assert_eq!(STREAM_IN_MAX % 4, 0);
        assert!(!block_compress_fits(MAX_FLAT));
        assert!(block_compress_fits(MAX_FLAT - 4096));
    }
}
