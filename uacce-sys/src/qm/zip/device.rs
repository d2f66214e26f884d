//! ZIP device side: strict [`decode`] of an SQE into a [`ZipSqeView`] (never panicking on any 128 bytes), and the
//! result write-back ([`write_result`]).

use super::layout::*;
use super::*;
use crate::qm::Sqe;
use crate::qm::field::{read_dw, read_dw64, write_dw};

// ---------------------------------------------------------------------------------------------------------------------
// Device side: strict decode and result write-back
// ---------------------------------------------------------------------------------------------------------------------

/// What a device learns from a valid ZIP SQE.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ZipSqeView {
    /// SQE type (dw7 bits 28..31).
    pub sqe_type: ZipSqeType,
    /// Algorithm (dw9 bits 0..7).
    pub alg: ZipAlg,
    /// Window (dw9 bits 12..15).
    pub window: ZipWindow,
    /// Hardware buffers. For a zero-length source `src_addr` is whatever the SQE holds (the driver puts the
    /// destination address there, §6.3).
    pub buffers: HwBuffers,
    /// Tag (dw13 or dw26).
    pub tag: u32,
    /// dw7 bit 27, stream new (set in block mode by UADK; the kernel leaves it 0).
    pub new: bool,
    /// dw7 bit 25, flush = finish.
    pub flush: bool,
    /// Block mode (dw7 bit 26 clear), or stream mode with the carried state. In stream mode `first`/`last` equal
    /// `new`/`flush`.
    pub mode: ZipMode,
}

/// Request types that are documented (§6.1) but not implemented here.
const UNSUPPORTED_REQ_TYPES: [u8; 5] = [0x04, 0x40, 0x41, 0x42, 0x43];

/// The dwords that must be 0 in every SQE of the request types decoded here (deflate/zlib/gzip, flat buffers):
/// hardware-written counts and status (dw0..3), the legacy DIF/LBA words (dw5, dw6, dw10..12), comp_head_addr
/// (dw16/17) and dw27. UADK and the kernel's zip driver both start from a zeroed SQE and never write them.
const ZERO_DWORDS: [usize; 11] = [0, 1, 2, 3, 5, 6, 10, 11, 12, 16, 17];
/// Block mode (stateless): the stream context address, context words, ISIZE and checksum are 0 (§6.3).
const ZERO_DWORDS_BLOCK: [usize; 7] = [15, 22, 23, 28, 29, 30, 31];
/// dw7 bit 24 is reserved; dw9 bits 16..31 are reserved.
const DW7_RSVD: u32 = 1 << 24;
const DW9_RSVD: u32 = 0xFFFF_0000;

fn zero(sqe: &Sqe, dws: &[usize]) -> Result<(), ZipDecodeError> {
    match dws.iter().find(|&&dw| read_dw(sqe, dw) != 0) {
        Some(&dw) => Err(ZipDecodeError::NonZero(dw)),
        None => Ok(()),
    }
}

/// Device side: decode and validate an SQE (§6.2). Never panics, whatever the 128 bytes.
///
/// Strict: every dword is used, or checked against the value both UADK and the kernel's zip driver write (0 for
/// reserved, hardware-written and unused fields; see the field table beside the emulator's engines). dw7 bits
/// 25/27 are not checked in block mode (UADK sets both, the kernel neither).
pub fn decode(sqe: &Sqe) -> Result<ZipSqeView, ZipDecodeError> {
    let dw7 = read_dw(sqe, DW_FLAGS);
    let sqe_type = match (dw7 >> DW7_TYPE_SHIFT) as u8 {
        0 => ZipSqeType::Type0,
        3 => ZipSqeType::Type3,
        t => return Err(ZipDecodeError::UnknownSqeType(t)),
    };
    let dw9 = read_dw(sqe, DW_ALG);
    let req = (dw9 & 0xFF) as u8;
    let alg = match ZipAlg::from_req_type(req) {
        Some(a) => a,
        None if UNSUPPORTED_REQ_TYPES.contains(&req) => {
            return Err(ZipDecodeError::UnsupportedReqType(req));
        }
        None => return Err(ZipDecodeError::UnknownReqType(req)),
    };
    if alg == ZipAlg::Deflate && sqe_type == ZipSqeType::Type0 {
        return Err(ZipDecodeError::DeflateNeedsType3);
    }
    let buf_type = ((dw9 >> DW9_BUF_SHIFT) & 0xF) as u8;
    if buf_type != 0 {
        return Err(ZipDecodeError::BufferType(buf_type));
    }
    if dw7 & DW7_IN_SKIP_MASK != 0 || read_dw(sqe, DW_OUT_SKIP) & 0x00FF_FFFF != 0 {
        return Err(ZipDecodeError::SglSkipWithFlat);
    }
    if dw7 & DW7_RSVD != 0 {
        return Err(ZipDecodeError::NonZero(DW_FLAGS));
    }
    if dw9 & DW9_RSVD != 0 {
        return Err(ZipDecodeError::NonZero(DW_ALG));
    }
    zero(sqe, &ZERO_DWORDS)?;
    // The tag dword of the other SQE type, and the lz77 literal fields of type 3, are unused here: 0.
    match sqe_type {
        ZipSqeType::Type0 => zero(sqe, &[24, 25, DW_TAG_TYPE3, 27])?,
        ZipSqeType::Type3 => zero(sqe, &[DW_TAG_TYPE0, 24, 25, 27])?,
    }
    if read_dw(sqe, DW_OUT_SKIP) != 0 {
        return Err(ZipDecodeError::SglSkipWithFlat);
    }
    let win = ((dw9 >> DW9_WIN_SHIFT) & 0xF) as u8;
    let window = ZipWindow::from_code(win).ok_or(ZipDecodeError::WindowCode(win))?;

    let buffers = HwBuffers {
        src_addr: read_dw64(sqe, DW_SRC_L),
        src_len: read_dw(sqe, DW_INPUT_LEN),
        dst_addr: read_dw64(sqe, DW_DST_L),
        dst_avail: read_dw(sqe, DW_DEST_AVAIL),
    };
    if buffers.src_len > MAX_FLAT_LEN {
        return Err(ZipDecodeError::SrcTooLong(buffers.src_len));
    }
    if buffers.dst_avail > MAX_FLAT_LEN {
        return Err(ZipDecodeError::DstTooLong(buffers.dst_avail));
    }
    if buffers.src_addr == 0 && buffers.src_len != 0 {
        return Err(ZipDecodeError::NullSrc);
    }
    if buffers.dst_addr == 0 && buffers.dst_avail != 0 {
        return Err(ZipDecodeError::NullDst);
    }

    let new = dw7 & DW7_NEW != 0;
    let flush = dw7 & DW7_FLUSH != 0;
    let mode = if dw7 & DW7_STATEFUL != 0 {
        let ctx_addr = read_dw64(sqe, DW_CTX_ADDR_L);
        if ctx_addr == 0 {
            return Err(ZipDecodeError::NullContext);
        }
        ZipMode::Stream(StreamState {
            ctx_addr,
            first: new,
            last: flush,
            ctx_dw0: read_dw(sqe, DW_CTX0),
            ctx_dw1: read_dw(sqe, DW_CTX1),
            ctx_dw2: read_dw(sqe, DW_CTX2),
            isize: read_dw(sqe, DW_ISIZE),
            checksum: read_dw(sqe, DW_CHECKSUM),
        })
    } else {
        zero(sqe, &ZERO_DWORDS_BLOCK)?;
        ZipMode::Block
    };

    Ok(ZipSqeView {
        sqe_type,
        alg,
        window,
        buffers,
        tag: read_tag(sqe, sqe_type),
        new,
        flush,
        mode,
    })
}

impl ZipSqeView {
    /// The request this SQE encodes (the inverse of [`encode`] for requests [`encode`] produced).
    pub fn request(&self) -> ZipRequest {
        ZipRequest {
            alg: self.alg,
            buffers: self.buffers,
            tag: self.tag,
            window: self.window,
            mode: self.mode,
        }
    }
}

/// What the device writes back into the SQE (§6.2 "written back by HW").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ZipResult {
    /// Input bytes consumed (dw0).
    pub consumed: u32,
    /// Output bytes produced (dw1).
    pub produced: u32,
    /// Status (dw3 bits 0..7).
    pub status: ZipStatus,
    /// Last block seen (dw3 bit 8).
    pub lstblk: bool,
    /// ctx_dw0 (dw15): bits 0..3 ctx_st, bit 7 bfinal, bits 10..15 header bit count.
    pub ctx_dw0: u32,
    /// ctx_dw1 (dw28).
    pub ctx_dw1: u32,
    /// ctx_dw2 (dw29).
    pub ctx_dw2: u32,
    /// Updated ISIZE (dw30).
    pub isize: u32,
    /// Updated checksum (dw31).
    pub checksum: u32,
}

impl ZipResult {
    /// A result with only a status (all counts and context words 0), e.g. for a rejected SQE.
    pub const fn status_only(status: ZipStatus) -> ZipResult {
        ZipResult {
            consumed: 0,
            produced: 0,
            status,
            lstblk: false,
            ctx_dw0: 0,
            ctx_dw1: 0,
            ctx_dw2: 0,
            isize: 0,
            checksum: 0,
        }
    }
}

/// Device side: write a result into the SQE in place: dw0, dw1, dw3 (status | lstblk << 8; bits 9..31 cleared),
/// dw15, dw28, dw29, dw30, dw31. Every other byte is left unchanged (§8).
pub fn write_result(sqe: &mut Sqe, res: &ZipResult) {
    write_dw(sqe, DW_CONSUMED, res.consumed);
    write_dw(sqe, DW_PRODUCED, res.produced);
    let dw3 = u32::from(res.status.code()) | if res.lstblk { DW3_LSTBLK } else { 0 };
    write_dw(sqe, DW_STATUS, dw3);
    write_dw(sqe, DW_CTX0, res.ctx_dw0);
    write_dw(sqe, DW_CTX1, res.ctx_dw1);
    write_dw(sqe, DW_CTX2, res.ctx_dw2);
    write_dw(sqe, DW_ISIZE, res.isize);
    write_dw(sqe, DW_CHECKSUM, res.checksum);
}
