//! The ZIP engine: deflate / zlib / gzip, block and stream mode, on the buffers an SQE names.
//!
//! Conventions (where the protocol document leaves the hardware's behaviour open, §10):
//! * zlib/gzip headers are the driver's business (written on compress, skipped on decompress, §6.4); the engine
//!   produces and consumes raw deflate data followed by the trailer (zlib: Adler-32 big-endian; gzip: CRC-32 and
//!   ISIZE little-endian; raw deflate: none).
//! * Block compress: status 0, or 0x0D when the output is not smaller than the input (a success code); 0x0E with
//!   nothing written when the output does not fit `dest_avail_out`.
//! * Block decompress: status 0 on success (§8: the safe choice), `consumed` = deflate data + trailer; 0x0E when the
//!   output does not fit; 0x10 when the trailer does not match; [`STATUS_BAD_DATA`] for malformed or truncated
//!   deflate data.
//! * Stream mode keeps the codec state in a table keyed by the stream context address (the hardware keeps it in the
//!   context buffer). Compress consumes all input of each BD and hands out the output as `dest_avail_out` allows;
//!   lstblk marks the BD whose output completed the stream (trailer included). Decompress consumes what fits the
//!   output; the end of the stream (trailer checked) is status 0x13 with lstblk.
//! * dw30/dw31 carry the running ISIZE and checksum (plain Adler-32 / CRC-32 values).

use std::collections::HashMap;
use std::sync::Mutex;

use adler2::Adler32;
use flate2::{Compress, Compression, Crc, Decompress, FlushCompress, FlushDecompress, Status};
use uacce_sys::qm::Sqe;
use uacce_sys::qm::zip::{
    self, QcType, StreamState, ZipAlg, ZipMode, ZipResult, ZipSqeView, ZipStatus,
};

use super::Outcome;
use crate::mem::ProcMem;

/// Status for malformed or truncated deflate data (no documented hardware code; any code other than 0x00, 0x0D and
/// 0x13 is an error to UADK and to this project's driver).
pub const STATUS_BAD_DATA: u8 = 0x11;
/// Status for a buffer the device cannot access (the hardware would take an IOMMU fault).
pub const STATUS_ACCESS_FAULT: u8 = 0x1F;
/// Status written for an injected error (see `Fault::ErrorStatus`).
pub const STATUS_INJECTED: u8 = 0x10;
/// Status of a stream's first BD when the emulator's stream table is full ([`crate::EmuConfig::max_streams`]).
/// Emulator only: hardware keeps a stream's state in the caller's context buffer and has no such limit. The code is
/// outside the range the hardware documents (§6.5 of the protocol notes).
pub const STATUS_NO_CONTEXT: u8 = 0xF0;

enum Running {
    Compress {
        c: Compress,
        pending: Vec<u8>,
        finished: bool,
    },
    Decompress {
        d: Decompress,
        trailer: Vec<u8>,
        inflated_done: bool,
    },
}

struct StreamCtx {
    alg: ZipAlg,
    /// What the last completion wrote into ctx_dw0, ctx_dw1, ctx_dw2, ISIZE and checksum: the next BD of the stream
    /// must carry exactly these (UADK copies them from each completion into the next BD, §6.3; the hardware resumes
    /// from them).
    carried: [u32; 5],
    running: Running,
    adler: Adler32,
    crc: Crc,
}

/// ZIP engine state of one device: stream contexts by context address, at most `max_streams` of them.
pub(crate) struct ZipEngine {
    level: u32,
    streams: Mutex<HashMap<u64, StreamCtx>>,
    max_streams: usize,
}

impl ZipEngine {
    pub fn new(level: u32, max_streams: usize) -> Self {
        Self {
            level: level.clamp(1, 9),
            streams: Mutex::new(HashMap::new()),
            max_streams,
        }
    }

    pub fn open_streams(&self) -> usize {
        self.streams.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn execute(&self, qc_type: u16, sqe: &mut Sqe, mem: &ProcMem) -> Outcome {
        let view = match zip::decode(sqe) {
            Ok(v) => v,
            Err(e) => return finish(sqe, ZipResult::status_only(e.status()), 0),
        };
        let Some(dir) = QcType::from_code(qc_type) else {
            return finish(
                sqe,
                ZipResult::status_only(ZipStatus::Other(zip::STATUS_INVALID_SQE)),
                0,
            );
        };
        let bytes = u64::from(view.buffers.src_len);
        let src = match mem.read(view.buffers.src_addr, view.buffers.src_len as usize) {
            Ok(s) => s,
            Err(_) => return finish(sqe, status(STATUS_ACCESS_FAULT), bytes),
        };
        let res = match (view.mode, dir) {
            (ZipMode::Block, QcType::Compress) => self.block_compress(&view, &src),
            (ZipMode::Block, QcType::Decompress) => block_decompress(&view, &src),
            (ZipMode::Stream(st), dir) => self.stream(&view, st, dir, &src),
        };
        let (res, out) = match res {
            Ok(v) => v,
            Err(r) => (r, Vec::new()),
        };
        if !out.is_empty() && mem.write(view.buffers.dst_addr, &out).is_err() {
            return finish(sqe, status(STATUS_ACCESS_FAULT), bytes);
        }
        finish(sqe, res, bytes)
    }

    fn block_compress(
        &self,
        view: &ZipSqeView,
        src: &[u8],
    ) -> Result<(ZipResult, Vec<u8>), ZipResult> {
        let mut c = Compress::new(Compression::new(self.level), false);
        let mut out = Vec::with_capacity(src.len() / 2 + 64);
        deflate_all(&mut c, src, &mut out, FlushCompress::Finish);
        let (isize, checksum) = append_trailer(view.alg, src, &mut out);
        if out.len() > view.buffers.dst_avail as usize {
            return Err(status(ZipStatus::DstTooSmall.code()));
        }
        let st = if !src.is_empty() && out.len() >= src.len() {
            ZipStatus::NegativeCompression
        } else {
            ZipStatus::Ok
        };
        let res = ZipResult {
            consumed: src.len() as u32,
            produced: out.len() as u32,
            isize,
            checksum,
            ..ZipResult::status_only(st)
        };
        Ok((res, out))
    }

    fn stream(
        &self,
        view: &ZipSqeView,
        st: StreamState,
        dir: QcType,
        src: &[u8],
    ) -> Result<(ZipResult, Vec<u8>), ZipResult> {
        let mut streams = self.streams.lock().unwrap_or_else(|e| e.into_inner());
        let carried = [st.ctx_dw0, st.ctx_dw1, st.ctx_dw2, st.isize, st.checksum];
        if st.first && carried != [0; 5] {
            // A stream starts from zeroed context words, ISIZE and checksum (UADK, §6.3).
            return Err(status(zip::STATUS_INVALID_SQE));
        }
        if st.first {
            // A first BD at an address the table knows restarts that stream (its buffer was reused); a new stream
            // when the table is full is refused, never made room for by evicting another owner's state.
            if !streams.contains_key(&st.ctx_addr) && streams.len() >= self.max_streams {
                return Err(status(STATUS_NO_CONTEXT));
            }
            let running = match dir {
                QcType::Compress => Running::Compress {
                    c: Compress::new(Compression::new(self.level), false),
                    pending: Vec::new(),
                    finished: false,
                },
                QcType::Decompress => Running::Decompress {
                    d: Decompress::new(false),
                    trailer: Vec::new(),
                    inflated_done: false,
                },
            };
            streams.insert(
                st.ctx_addr,
                StreamCtx {
                    alg: view.alg,
                    carried: [0; 5],
                    running,
                    adler: Adler32::new(),
                    crc: Crc::new(),
                },
            );
        }
        let Some(ctx) = streams.get_mut(&st.ctx_addr) else {
            // A continuation BD for a context the device never saw start.
            return Err(status(zip::STATUS_INVALID_SQE));
        };
        if ctx.alg != view.alg || ctx.carried != carried {
            return Err(status(zip::STATUS_INVALID_SQE));
        }
        let avail = view.buffers.dst_avail as usize;
        let alg = ctx.alg;
        let (res, out, done) = match &mut ctx.running {
            Running::Compress {
                c,
                pending,
                finished,
            } => {
                if *finished && !src.is_empty() {
                    return Err(status(zip::STATUS_INVALID_SQE));
                }
                ctx.adler.write_slice(src);
                ctx.crc.update(src);
                let flush = if st.last {
                    FlushCompress::Finish
                } else {
                    FlushCompress::Sync
                };
                if !*finished {
                    deflate_all(c, src, pending, flush);
                    if st.last {
                        *finished = true;
                        push_trailer(alg, ctx.adler.checksum(), &ctx.crc, pending);
                    }
                }
                let n = pending.len().min(avail);
                let out: Vec<u8> = pending.drain(..n).collect();
                let done = *finished && pending.is_empty();
                let res = ZipResult {
                    consumed: src.len() as u32,
                    produced: out.len() as u32,
                    lstblk: done,
                    isize: ctx.crc.amount(),
                    checksum: running_checksum(alg, ctx.adler.checksum(), &ctx.crc),
                    ..ZipResult::status_only(ZipStatus::Ok)
                };
                (res, out, done)
            }
            Running::Decompress {
                d,
                trailer,
                inflated_done,
            } => {
                let mut out = Vec::with_capacity(avail);
                let mut consumed = 0usize;
                if !*inflated_done {
                    let before_in = d.total_in();
                    let r = d.decompress_vec(src, &mut out, FlushDecompress::None);
                    consumed = (d.total_in() - before_in) as usize;
                    match r {
                        Ok(Status::StreamEnd) => *inflated_done = true,
                        Ok(_) => {}
                        Err(_) => {
                            drop(streams);
                            self.forget(st.ctx_addr);
                            return Err(status(STATUS_BAD_DATA));
                        }
                    }
                    ctx.adler.write_slice(&out);
                    ctx.crc.update(&out);
                }
                if *inflated_done {
                    let need = trailer_len(alg).saturating_sub(trailer.len());
                    let take = need.min(src.len() - consumed);
                    trailer.extend_from_slice(&src[consumed..consumed + take]);
                    consumed += take;
                }
                let done = *inflated_done && trailer.len() == trailer_len(alg);
                if done && !trailer_matches(alg, trailer, ctx.adler.checksum(), &ctx.crc) {
                    drop(streams);
                    self.forget(st.ctx_addr);
                    return Err(status(ZipStatus::CrcError.code()));
                }
                let res = ZipResult {
                    consumed: consumed as u32,
                    produced: out.len() as u32,
                    lstblk: done,
                    isize: ctx.crc.amount(),
                    checksum: running_checksum(alg, ctx.adler.checksum(), &ctx.crc),
                    ..ZipResult::status_only(if done {
                        ZipStatus::DecompEnd
                    } else {
                        ZipStatus::Ok
                    })
                };
                (res, out, done)
            }
        };
        if done {
            streams.remove(&st.ctx_addr);
        } else if let Some(ctx) = streams.get_mut(&st.ctx_addr) {
            ctx.carried = [
                res.ctx_dw0,
                res.ctx_dw1,
                res.ctx_dw2,
                res.isize,
                res.checksum,
            ];
        }
        Ok((res, out))
    }

    pub fn forget(&self, ctx_addr: u64) {
        self.streams
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&ctx_addr);
    }
}

fn block_decompress(view: &ZipSqeView, src: &[u8]) -> Result<(ZipResult, Vec<u8>), ZipResult> {
    let avail = view.buffers.dst_avail as usize;
    let mut d = Decompress::new(false);
    // One byte more than the space: telling "fits exactly" from "does not fit" needs it.
    let mut out = Vec::with_capacity(avail.saturating_add(1).min(zip::MAX_FLAT_LEN as usize + 1));
    let r = d.decompress_vec(src, &mut out, FlushDecompress::Finish);
    let end = match r {
        Ok(Status::StreamEnd) => true,
        Ok(_) => false,
        Err(_) => return Err(status(STATUS_BAD_DATA)),
    };
    if out.len() > avail || (!end && out.len() == out.capacity()) {
        return Err(status(ZipStatus::DstTooSmall.code()));
    }
    if !end {
        // Input ran out before the final block: truncated data.
        return Err(status(STATUS_BAD_DATA));
    }
    let used = d.total_in() as usize;
    let tl = trailer_len(view.alg);
    if src.len() < used + tl {
        return Err(status(STATUS_BAD_DATA));
    }
    let mut adler = Adler32::new();
    adler.write_slice(&out);
    let mut crc = Crc::new();
    crc.update(&out);
    if !trailer_matches(view.alg, &src[used..used + tl], adler.checksum(), &crc) {
        return Err(status(ZipStatus::CrcError.code()));
    }
    let res = ZipResult {
        consumed: (used + tl) as u32,
        produced: out.len() as u32,
        isize: crc.amount(),
        checksum: running_checksum(view.alg, adler.checksum(), &crc),
        ..ZipResult::status_only(ZipStatus::Ok)
    };
    Ok((res, out))
}

fn status(code: u8) -> ZipResult {
    ZipResult::status_only(ZipStatus::from_code(code))
}

fn finish(sqe: &mut Sqe, res: ZipResult, bytes: u64) -> Outcome {
    zip::write_result(sqe, &res);
    let ok = res.status.is_success();
    Outcome {
        ok,
        bytes,
        consumed: if ok { u64::from(res.consumed) } else { 0 },
        produced: if ok { u64::from(res.produced) } else { 0 },
    }
}

/// Write an injected error status.
pub(crate) fn inject_error(sqe: &mut Sqe) {
    zip::write_result(sqe, &status(STATUS_INJECTED));
}

/// Compress all of `input` into `out` (growing it), with the given flush at the end.
fn deflate_all(c: &mut Compress, input: &[u8], out: &mut Vec<u8>, flush: FlushCompress) {
    let start = c.total_in();
    let finish = matches!(flush, FlushCompress::Finish);
    loop {
        if out.capacity() - out.len() < 4096 {
            out.reserve(out.len().max(4096));
        }
        let off = (c.total_in() - start) as usize;
        match c.compress_vec(&input[off..], out, flush) {
            Ok(Status::StreamEnd) | Err(_) => return,
            Ok(_) => {}
        }
        let all_in = (c.total_in() - start) as usize == input.len();
        // A sync flush is complete once all input is in and zlib stopped with output space left.
        if !finish && all_in && out.len() < out.capacity() {
            return;
        }
    }
}

fn trailer_len(alg: ZipAlg) -> usize {
    match alg {
        ZipAlg::Deflate => 0,
        ZipAlg::Zlib => 4,
        ZipAlg::Gzip => 8,
    }
}

fn push_trailer(alg: ZipAlg, adler: u32, crc: &Crc, out: &mut Vec<u8>) {
    match alg {
        ZipAlg::Deflate => {}
        ZipAlg::Zlib => out.extend_from_slice(&adler.to_be_bytes()),
        ZipAlg::Gzip => {
            out.extend_from_slice(&crc.sum().to_le_bytes());
            out.extend_from_slice(&crc.amount().to_le_bytes());
        }
    }
}

fn append_trailer(alg: ZipAlg, data: &[u8], out: &mut Vec<u8>) -> (u32, u32) {
    let mut adler = Adler32::new();
    adler.write_slice(data);
    let mut crc = Crc::new();
    crc.update(data);
    push_trailer(alg, adler.checksum(), &crc, out);
    (crc.amount(), running_checksum(alg, adler.checksum(), &crc))
}

fn trailer_matches(alg: ZipAlg, trailer: &[u8], adler: u32, crc: &Crc) -> bool {
    let mut expect = Vec::with_capacity(8);
    push_trailer(alg, adler, crc, &mut expect);
    expect == trailer
}

fn running_checksum(alg: ZipAlg, adler: u32, crc: &Crc) -> u32 {
    match alg {
        ZipAlg::Zlib => adler,
        ZipAlg::Gzip => crc.sum(),
        ZipAlg::Deflate => 0,
    }
}
