//! ZIP driver side: [`encode`] a request, and read a completed SQE ([`read_result`], [`read_tag`],
//! [`ZipCompletion`]).

use super::layout::*;
use super::*;
use crate::qm::field::{read_dw, write_dw, write_dw64};
use crate::qm::{QmVersion, SQE_SIZE, Sqe};

/// Read the tag of an SQE whose type is known (dw13 for type 0, dw26 for type 3; §6.2).
pub fn read_tag(sqe: &Sqe, sqe_type: ZipSqeType) -> u32 {
    read_dw(sqe, sqe_type.tag_dword())
}

/// Encode a request into a zeroed SQE (§6.2, §6.3, §11).
///
/// * dw7: SQE type (3 on v3 and always for raw deflate; 0 for zlib/gzip on v1/v2) and the mode flags.
/// * Zero-length source: the source address fields get the destination address (§6.3 last row).
/// * The request is not validated here; call [`ZipRequest::validate`] first.
pub fn encode(req: &ZipRequest, version: QmVersion) -> Sqe {
    let mut sqe = [0u8; SQE_SIZE];
    let b = &req.buffers;
    let sqe_type = req.sqe_type(version);

    write_dw(&mut sqe, DW_INPUT_LEN, b.src_len);
    let src = if b.src_len == 0 {
        b.dst_addr
    } else {
        b.src_addr
    };
    write_dw64(&mut sqe, DW_SRC_L, src);
    write_dw64(&mut sqe, DW_DST_L, b.dst_addr);
    write_dw(&mut sqe, DW_DEST_AVAIL, b.dst_avail);

    let mut dw7 = u32::from(sqe_type.code()) << DW7_TYPE_SHIFT;
    match &req.mode {
        ZipMode::Block => dw7 |= DW7_BLOCK,
        ZipMode::Stream(s) => {
            dw7 |= DW7_STATEFUL;
            if s.first {
                dw7 |= DW7_NEW;
            }
            if s.last {
                dw7 |= DW7_FLUSH;
            }
            write_dw64(&mut sqe, DW_CTX_ADDR_L, s.ctx_addr);
            write_dw(&mut sqe, DW_CTX0, s.ctx_dw0);
            write_dw(&mut sqe, DW_CTX1, s.ctx_dw1);
            write_dw(&mut sqe, DW_CTX2, s.ctx_dw2);
            write_dw(&mut sqe, DW_ISIZE, s.isize);
            write_dw(&mut sqe, DW_CHECKSUM, s.checksum);
        }
    }
    write_dw(&mut sqe, DW_FLAGS, dw7);

    let dw9 = u32::from(req.alg.req_type()) | (u32::from(req.window.code()) << DW9_WIN_SHIFT);
    write_dw(&mut sqe, DW_ALG, dw9);
    write_dw(&mut sqe, sqe_type.tag_dword(), req.tag);
    sqe
}

// ---------------------------------------------------------------------------------------------------------------------
// Driver side: completion
// ---------------------------------------------------------------------------------------------------------------------

/// The result of a completed SQE as the driver reads it (§6.2, §6.5, §8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ZipCompletion {
    /// SQE type from dw7, or `None` if dw7 holds neither 0 nor 3 (then `tag` is read from dw13).
    pub sqe_type: Option<ZipSqeType>,
    /// Request type (dw9 bits 0..7) as the driver wrote it.
    pub req_type: u8,
    /// dw7 bit 27 as written (the zlib/gzip header was handled for this BD).
    pub new: bool,
    /// Tag (dw13 or dw26 by SQE type).
    pub tag: u32,
    /// Status (dw3 bits 0..7).
    pub status: ZipStatus,
    /// Last block (dw3 bit 8).
    pub lstblk: bool,
    /// Hardware bytes consumed (dw0), header not included.
    pub consumed: u32,
    /// Hardware bytes produced (dw1), header not included.
    pub produced: u32,
    /// ctx_dw0 (dw15).
    pub ctx_dw0: u32,
    /// ctx_dw1 (dw28).
    pub ctx_dw1: u32,
    /// ctx_dw2 (dw29).
    pub ctx_dw2: u32,
    /// ISIZE (dw30).
    pub isize: u32,
    /// Checksum (dw31).
    pub checksum: u32,
}

impl ZipCompletion {
    /// Classify the status (§8).
    pub fn outcome(&self) -> ZipOutcome {
        match self.status {
            ZipStatus::DecompEnd if self.lstblk => ZipOutcome::StreamEnd,
            s if s.is_success() => ZipOutcome::Ok,
            ZipStatus::DstTooSmall => ZipOutcome::DstTooSmall,
            s => ZipOutcome::Error(s),
        }
    }

    /// `(consumed, produced)` in user-buffer terms: adds the zlib/gzip header size back (to `produced` on a compress
    /// queue, to `consumed` on a decompress queue) when dw7 bit 27 is set, as UADK does (§6.4, §8).
    pub fn user_lengths(&self, dir: QcType) -> (u32, u32) {
        let hdr = match ZipAlg::from_req_type(self.req_type) {
            Some(alg) if self.new => alg.header_len(),
            _ => 0,
        };
        match dir {
            QcType::Compress => (self.consumed, self.produced.saturating_add(hdr)),
            QcType::Decompress => (self.consumed.saturating_add(hdr), self.produced),
        }
    }

    /// ctx_dw0 bits 0..3 (ctx_st, §6.5).
    pub const fn ctx_st(&self) -> u8 {
        (self.ctx_dw0 & CTX_ST_MASK) as u8
    }

    /// The stream state to carry into the next BD of the same session (§6.3): the context words, ISIZE and checksum
    /// from this completion; `first` cleared.
    pub const fn next_stream_state(&self, ctx_addr: u64, last: bool) -> StreamState {
        StreamState {
            ctx_addr,
            first: false,
            last,
            ctx_dw0: self.ctx_dw0,
            ctx_dw1: self.ctx_dw1,
            ctx_dw2: self.ctx_dw2,
            isize: self.isize,
            checksum: self.checksum,
        }
    }
}

/// Driver side: read a completed SQE (§6.2). Never panics.
pub fn read_result(sqe: &Sqe) -> ZipCompletion {
    let sqe_type = ZipSqeType::of(sqe);
    let dw3 = read_dw(sqe, DW_STATUS);
    ZipCompletion {
        sqe_type,
        req_type: (read_dw(sqe, DW_ALG) & 0xFF) as u8,
        new: read_dw(sqe, DW_FLAGS) & DW7_NEW != 0,
        tag: read_tag(sqe, sqe_type.unwrap_or(ZipSqeType::Type0)),
        status: ZipStatus::from_code((dw3 & 0xFF) as u8),
        lstblk: dw3 & DW3_LSTBLK != 0,
        consumed: read_dw(sqe, DW_CONSUMED),
        produced: read_dw(sqe, DW_PRODUCED),
        ctx_dw0: read_dw(sqe, DW_CTX0),
        ctx_dw1: read_dw(sqe, DW_CTX1),
        ctx_dw2: read_dw(sqe, DW_CTX2),
        isize: read_dw(sqe, DW_ISIZE),
        checksum: read_dw(sqe, DW_CHECKSUM),
    }
}
