//! HiSilicon ZIP SQE encode (driver side) and decode / result write-back (device side).
//!
//! Layout and values: `hisi-qm-protocol.md` §6 (dword table §6.2, values §6.3, headers §6.4, codes §6.5, example
//! §6.8) and the observed-behaviour notes of §11. All fields are little-endian `u32` words (`dwN` = bytes `4N..4N+4`).
//!
//! Two sides use this module:
//! * the **driver** builds a [`ZipRequest`], [`encode`]s it into an [`Sqe`], and after completion reads the
//!   hardware-written fields back with [`read_result`];
//! * the **device** (emulator, tests) [`decode`]s an SQE strictly into a [`ZipSqeView`] and writes its result in
//!   place with [`write_result`], leaving every other field untouched (§8).
//!
//! The compression direction is **not** in the SQE: it is the queue's `qc_type` ([`QcType`], §6.1).
//!
//! zlib/gzip headers are produced and skipped in software (§6.4, §11): the SQE addresses start after the header.
//! [`HwBuffers::from_user`] computes the hardware addresses and lengths from the user's buffers, and
//! [`ZipCompletion::user_lengths`] adds the header size back to the hardware's consumed/produced counts.

use super::{QmVersion, SQE_SIZE, Sqe};

// ---------------------------------------------------------------------------------------------------------------------
// Field positions (§6.2)
// ---------------------------------------------------------------------------------------------------------------------

const DW_CONSUMED: usize = 0;
const DW_PRODUCED: usize = 1;
const DW_STATUS: usize = 3;
const DW_INPUT_LEN: usize = 4;
const DW_FLAGS: usize = 7;
const DW_OUT_SKIP: usize = 8;
const DW_ALG: usize = 9;
const DW_TAG_TYPE0: usize = 13;
const DW_DEST_AVAIL: usize = 14;
const DW_CTX0: usize = 15;
const DW_SRC_L: usize = 18;
const DW_DST_L: usize = 20;
const DW_CTX_ADDR_L: usize = 22;
const DW_TAG_TYPE3: usize = 26;
const DW_CTX1: usize = 28;
const DW_CTX2: usize = 29;
const DW_ISIZE: usize = 30;
const DW_CHECKSUM: usize = 31;

/// dw7 bits 0..23: SGL source skip (§6.2).
const DW7_IN_SKIP_MASK: u32 = 0x00FF_FFFF;
/// dw7 bit 25: flush (1 = finish, 0 = sync-flush) (§6.2, §9).
pub const DW7_FLUSH: u32 = 1 << 25;
/// dw7 bit 26: stream mode (1 = stateful) (§6.2, §9).
pub const DW7_STATEFUL: u32 = 1 << 26;
/// dw7 bit 27: stream new (first BD of a stream; always set in block mode) (§6.2, §9).
pub const DW7_NEW: u32 = 1 << 27;
/// dw7 bits 28..31: SQE type (§6.1).
const DW7_TYPE_SHIFT: u32 = 28;
/// dw7 value of a block-mode request before the SQE type is added: new | flush (§6.3).
pub const DW7_BLOCK: u32 = DW7_NEW | DW7_FLUSH;

/// dw9 bits 8..11: buffer type (§6.2).
const DW9_BUF_SHIFT: u32 = 8;
/// dw9 bits 12..15: window size code (§6.2).
const DW9_WIN_SHIFT: u32 = 12;

/// dw3 bit 8: last block (lstblk) (§6.2, §9).
pub const DW3_LSTBLK: u32 = 1 << 8;

/// Maximum input and output length of one flat-buffer SQE: 8 MiB (§6.5, §9).
pub const MAX_FLAT_LEN: u32 = 0x80_0000;

/// Offset of the hardware context inside a session's stream context buffer; the SQE's `stream_ctx_addr` is
/// `ctx_buf + 64` (§6.2, §11).
pub const HW_CTX_OFFSET: u64 = 64;

/// zlib header written/skipped by software (§6.4).
pub const ZLIB_HEADER: [u8; 2] = [0x78, 0x9C];
/// gzip header written/skipped by software: no flags, MTIME 0, OS 3 (§6.4).
pub const GZIP_HEADER: [u8; 10] = [0x1F, 0x8B, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03];

fn rd32(sqe: &Sqe, dw: usize) -> u32 {
    let o = dw * 4;
    u32::from_le_bytes([sqe[o], sqe[o + 1], sqe[o + 2], sqe[o + 3]])
}

fn wr32(sqe: &mut Sqe, dw: usize, v: u32) {
    let o = dw * 4;
    sqe[o..o + 4].copy_from_slice(&v.to_le_bytes());
}

fn rd64(sqe: &Sqe, dw_low: usize) -> u64 {
    u64::from(rd32(sqe, dw_low)) | (u64::from(rd32(sqe, dw_low + 1)) << 32)
}

fn wr64(sqe: &mut Sqe, dw_low: usize, v: u64) {
    wr32(sqe, dw_low, v as u32);
    wr32(sqe, dw_low + 1, (v >> 32) as u32);
}

// ---------------------------------------------------------------------------------------------------------------------
// Codes
// ---------------------------------------------------------------------------------------------------------------------

/// Compression algorithm: the dw9 request type (§6.1, §9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ZipAlg {
    /// Raw deflate, request type 0x01. Always SQE type 3 (§11).
    Deflate,
    /// zlib, request type 0x02; 2-byte software header (§6.4).
    Zlib,
    /// gzip, request type 0x03; 10-byte software header (§6.4).
    Gzip,
}

impl ZipAlg {
    /// dw9 bits 0..7 request type (§6.1).
    pub const fn req_type(self) -> u8 {
        match self {
            ZipAlg::Deflate => 0x01,
            ZipAlg::Zlib => 0x02,
            ZipAlg::Gzip => 0x03,
        }
    }

    /// The algorithm for a dw9 request type, if it is one this crate supports (§6.1).
    pub const fn from_req_type(code: u8) -> Option<ZipAlg> {
        match code {
            0x01 => Some(ZipAlg::Deflate),
            0x02 => Some(ZipAlg::Zlib),
            0x03 => Some(ZipAlg::Gzip),
            _ => None,
        }
    }

    /// The fixed header software writes (compress) or skips (decompress); empty for raw deflate (§6.4).
    pub const fn header(self) -> &'static [u8] {
        match self {
            ZipAlg::Deflate => &[],
            ZipAlg::Zlib => &ZLIB_HEADER,
            ZipAlg::Gzip => &GZIP_HEADER,
        }
    }

    /// Length of [`ZipAlg::header`]: 0, 2 or 10 (§6.4).
    pub const fn header_len(self) -> u32 {
        self.header().len() as u32
    }

    /// The SQE type a driver uses for this algorithm on `version`: 3 on v3 and always for raw deflate, 0 for
    /// zlib/gzip on v1/v2 (§6.1, §11).
    pub const fn sqe_type(self, version: QmVersion) -> ZipSqeType {
        match (self, version) {
            (ZipAlg::Deflate, _) | (_, QmVersion::V3) => ZipSqeType::Type3,
            _ => ZipSqeType::Type0,
        }
    }
}

/// ZIP SQE type, dw7 bits 28..31 (§6.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ZipSqeType {
    /// Type 0 (v2 layout): tag in dw13.
    Type0,
    /// Type 3 (v3 layout): tag in dw26.
    Type3,
}

impl ZipSqeType {
    /// The dw7 bits 28..31 value (0 or 3).
    pub const fn code(self) -> u8 {
        match self {
            ZipSqeType::Type0 => 0,
            ZipSqeType::Type3 => 3,
        }
    }

    /// The SQE type of `sqe` (dw7 bits 28..31), or `None` for a value other than 0 or 3.
    pub fn of(sqe: &Sqe) -> Option<ZipSqeType> {
        match rd32(sqe, DW_FLAGS) >> DW7_TYPE_SHIFT {
            0 => Some(ZipSqeType::Type0),
            3 => Some(ZipSqeType::Type3),
            _ => None,
        }
    }

    /// The dword holding the tag: 13 for type 0, 26 for type 3 (§6.2).
    pub const fn tag_dword(self) -> usize {
        match self {
            ZipSqeType::Type0 => DW_TAG_TYPE0,
            ZipSqeType::Type3 => DW_TAG_TYPE3,
        }
    }
}

/// Read the tag of an SQE whose type is known (dw13 for type 0, dw26 for type 3; §6.2).
pub fn read_tag(sqe: &Sqe, sqe_type: ZipSqeType) -> u32 {
    rd32(sqe, sqe_type.tag_dword())
}

/// Queue direction, given as `qc_type` to `UACCE_CMD_QM_SET_QP_CTX`; not part of the SQE (§1.2, §6.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QcType {
    /// Compress queue, `qc_type` 0.
    Compress,
    /// Decompress queue, `qc_type` 1.
    Decompress,
}

impl QcType {
    /// The `qc_type` value for the ioctl (§1.2).
    pub const fn code(self) -> u16 {
        match self {
            QcType::Compress => 0,
            QcType::Decompress => 1,
        }
    }

    /// The direction for a `qc_type` value (0 or 1).
    pub const fn from_code(code: u16) -> Option<QcType> {
        match code {
            0 => Some(QcType::Compress),
            1 => Some(QcType::Decompress),
            _ => None,
        }
    }
}

/// Window size, dw9 bits 12..15 (§6.3). The hardware meaning is unknown (§10 item 3); UADK writes it in both
/// directions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ZipWindow {
    /// Code 0: 4 KiB.
    W4K,
    /// Code 1: 8 KiB.
    W8K,
    /// Code 2: 16 KiB.
    W16K,
    /// Code 3: 24 KiB (never used by UADK's zlib wrapper).
    W24K,
    /// Code 4: 32 KiB (zlib windowBits 15).
    #[default]
    W32K,
}

impl ZipWindow {
    /// The code 0..4 (§6.3).
    pub const fn code(self) -> u8 {
        match self {
            ZipWindow::W4K => 0,
            ZipWindow::W8K => 1,
            ZipWindow::W16K => 2,
            ZipWindow::W24K => 3,
            ZipWindow::W32K => 4,
        }
    }

    /// The window for a code 0..4.
    pub const fn from_code(code: u8) -> Option<ZipWindow> {
        match code {
            0 => Some(ZipWindow::W4K),
            1 => Some(ZipWindow::W8K),
            2 => Some(ZipWindow::W16K),
            3 => Some(ZipWindow::W24K),
            4 => Some(ZipWindow::W32K),
            _ => None,
        }
    }

    /// Window size in bytes.
    pub const fn bytes(self) -> u32 {
        match self {
            ZipWindow::W4K => 4 << 10,
            ZipWindow::W8K => 8 << 10,
            ZipWindow::W16K => 16 << 10,
            ZipWindow::W24K => 24 << 10,
            ZipWindow::W32K => 32 << 10,
        }
    }
}

/// dw3 bits 0..7 status code (§6.5, §9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ZipStatus {
    /// 0x00: OK.
    Ok,
    /// 0x0D: negative compression (output not smaller than input); treated as success.
    NegativeCompression,
    /// 0x0E: `dest_avail_out` too small.
    DstTooSmall,
    /// 0x0F: input data DIF check error.
    SrcDifError,
    /// 0x10: CRC (checksum) error.
    CrcError,
    /// 0x12: uncompressed-data DIF check error.
    DstDifError,
    /// 0x13: decompression reached the end (with lstblk: end of stream).
    DecompEnd,
    /// Any other code: an error. [`STATUS_INVALID_SQE`] is the one this crate's device side uses for SQEs it rejects.
    Other(u8),
}

/// Status the device side writes for an SQE that [`decode`] rejected. Not a documented hardware code (none is known
/// for "malformed SQE"); any nonzero code other than 0x0D/0x13 is an error to UADK (§6.5) and to this crate.
pub const STATUS_INVALID_SQE: u8 = 0xFF;

impl ZipStatus {
    /// The dw3 bits 0..7 value.
    pub const fn code(self) -> u8 {
        match self {
            ZipStatus::Ok => 0x00,
            ZipStatus::NegativeCompression => 0x0D,
            ZipStatus::DstTooSmall => 0x0E,
            ZipStatus::SrcDifError => 0x0F,
            ZipStatus::CrcError => 0x10,
            ZipStatus::DstDifError => 0x12,
            ZipStatus::DecompEnd => 0x13,
            ZipStatus::Other(c) => c,
        }
    }

    /// The status for a dw3 bits 0..7 value.
    pub const fn from_code(code: u8) -> ZipStatus {
        match code {
            0x00 => ZipStatus::Ok,
            0x0D => ZipStatus::NegativeCompression,
            0x0E => ZipStatus::DstTooSmall,
            0x0F => ZipStatus::SrcDifError,
            0x10 => ZipStatus::CrcError,
            0x12 => ZipStatus::DstDifError,
            0x13 => ZipStatus::DecompEnd,
            c => ZipStatus::Other(c),
        }
    }

    /// True for the codes UADK treats as success: 0x00, 0x0D, 0x13 (§6.5, §8).
    pub const fn is_success(self) -> bool {
        matches!(
            self,
            ZipStatus::Ok | ZipStatus::NegativeCompression | ZipStatus::DecompEnd
        )
    }
}

// ---------------------------------------------------------------------------------------------------------------------
// Request (driver side)
// ---------------------------------------------------------------------------------------------------------------------

/// Stream (stateful) mode state carried from BD to BD of one session (§6.2, §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct StreamState {
    /// Hardware context address (dw22/23): the session's context buffer + [`HW_CTX_OFFSET`]. Must not be 0.
    pub ctx_addr: u64,
    /// First BD of the stream: sets dw7 bit 27 (stream new).
    pub first: bool,
    /// Last BD of the stream: sets dw7 bit 25 (flush = finish); otherwise sync-flush.
    pub last: bool,
    /// Saved ctx_dw0 (dw15) from the previous BD's completion (0 at stream start).
    pub ctx_dw0: u32,
    /// Saved ctx_dw1 (dw28).
    pub ctx_dw1: u32,
    /// Saved ctx_dw2 (dw29).
    pub ctx_dw2: u32,
    /// Running gzip ISIZE (dw30).
    pub isize: u32,
    /// Running checksum (dw31).
    pub checksum: u32,
}

/// Block (stateless) or stream (stateful) mode (§6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ZipMode {
    /// Stateless, one independent request: dw7 flags new | flush = 0x0A000000.
    Block,
    /// Stateful: dw7 bit 26, plus bit 27 on the first BD and bit 25 on the last.
    Stream(StreamState),
}

/// Hardware source/destination as they go into the SQE (after the software header adjustment of §6.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HwBuffers {
    /// Source address (dw18/19).
    pub src_addr: u64,
    /// Source length (dw4).
    pub src_len: u32,
    /// Destination address (dw20/21).
    pub dst_addr: u64,
    /// Destination space (dw14).
    pub dst_avail: u32,
}

impl HwBuffers {
    /// Hardware buffers for user buffers `src`/`dst` (flat, already SVA addresses), applying the zlib/gzip header rule
    /// of §6.4 when `header` is true (block mode, or the first BD of a stream):
    /// compress → `dst + hdr`, `dst_len − hdr` (the caller writes [`ZipAlg::header`] at `dst`);
    /// decompress → `src + hdr`, `src_len − hdr` (the caller has checked or ignores the header bytes).
    ///
    /// `dst_len` is clamped to [`MAX_FLAT_LEN`] as UADK does; a source longer than that is an error.
    pub fn from_user(
        alg: ZipAlg,
        dir: QcType,
        header: bool,
        src_addr: u64,
        src_len: u32,
        dst_addr: u64,
        dst_len: u32,
    ) -> Result<HwBuffers, ZipEncodeError> {
        let hdr = if header { alg.header_len() } else { 0 };
        let mut b = HwBuffers {
            src_addr,
            src_len,
            dst_addr,
            dst_avail: dst_len,
        };
        match dir {
            QcType::Compress => {
                b.dst_avail = dst_len
                    .checked_sub(hdr)
                    .ok_or(ZipEncodeError::BufferShorterThanHeader)?;
                b.dst_addr = dst_addr.wrapping_add(u64::from(hdr));
            }
            QcType::Decompress => {
                b.src_len = src_len
                    .checked_sub(hdr)
                    .ok_or(ZipEncodeError::BufferShorterThanHeader)?;
                b.src_addr = src_addr.wrapping_add(u64::from(hdr));
            }
        }
        if b.src_len > MAX_FLAT_LEN {
            return Err(ZipEncodeError::SrcTooLong(b.src_len));
        }
        b.dst_avail = b.dst_avail.min(MAX_FLAT_LEN);
        Ok(b)
    }
}

/// A ZIP request as the driver encodes it (§6.2, §6.3). Addresses and lengths are the **hardware** ones
/// (see [`HwBuffers::from_user`] for the zlib/gzip header rule). Buffers are flat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ZipRequest {
    /// Algorithm (dw9 request type).
    pub alg: ZipAlg,
    /// Hardware source and destination.
    pub buffers: HwBuffers,
    /// Request tag (dw13 or dw26 depending on the SQE type).
    pub tag: u32,
    /// Window size code (dw9 bits 12..15).
    pub window: ZipWindow,
    /// Block or stream mode (dw7 bits 25..27, stream context fields).
    pub mode: ZipMode,
}

/// Why a [`ZipRequest`] cannot be encoded (driver-side checks; see [`ZipRequest::validate`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ZipEncodeError {
    /// A user buffer is shorter than the zlib/gzip header that must be written or skipped (§6.4).
    #[error("buffer shorter than the zlib/gzip header")]
    BufferShorterThanHeader,
    /// The source is longer than 8 MiB (§6.5).
    #[error("source length {0} exceeds the 8 MiB flat-buffer limit")]
    SrcTooLong(u32),
    /// The destination space is larger than 8 MiB (§6.5; UADK clamps it).
    #[error("destination space {0} exceeds the 8 MiB flat-buffer limit")]
    DstTooLong(u32),
    /// A null address with a nonzero length.
    #[error("null buffer address with nonzero length")]
    NullAddress,
    /// Stream mode without a context address.
    #[error("stream mode needs a context address")]
    NullContext,
}

impl ZipRequest {
    /// Check the limits the device enforces (§6.5): lengths ≤ 8 MiB, no null address with a nonzero length, a
    /// context address in stream mode. [`encode`] does not check; a device rejects what this rejects.
    pub fn validate(&self) -> Result<(), ZipEncodeError> {
        let b = &self.buffers;
        if b.src_len > MAX_FLAT_LEN {
            return Err(ZipEncodeError::SrcTooLong(b.src_len));
        }
        if b.dst_avail > MAX_FLAT_LEN {
            return Err(ZipEncodeError::DstTooLong(b.dst_avail));
        }
        if (b.src_addr == 0 && b.src_len != 0) || (b.dst_addr == 0 && b.dst_avail != 0) {
            return Err(ZipEncodeError::NullAddress);
        }
        if matches!(&self.mode, ZipMode::Stream(s) if s.ctx_addr == 0) {
            return Err(ZipEncodeError::NullContext);
        }
        Ok(())
    }

    /// The SQE type this request uses on `version` (§11).
    pub const fn sqe_type(&self, version: QmVersion) -> ZipSqeType {
        self.alg.sqe_type(version)
    }
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

    wr32(&mut sqe, DW_INPUT_LEN, b.src_len);
    let src = if b.src_len == 0 {
        b.dst_addr
    } else {
        b.src_addr
    };
    wr64(&mut sqe, DW_SRC_L, src);
    wr64(&mut sqe, DW_DST_L, b.dst_addr);
    wr32(&mut sqe, DW_DEST_AVAIL, b.dst_avail);

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
            wr64(&mut sqe, DW_CTX_ADDR_L, s.ctx_addr);
            wr32(&mut sqe, DW_CTX0, s.ctx_dw0);
            wr32(&mut sqe, DW_CTX1, s.ctx_dw1);
            wr32(&mut sqe, DW_CTX2, s.ctx_dw2);
            wr32(&mut sqe, DW_ISIZE, s.isize);
            wr32(&mut sqe, DW_CHECKSUM, s.checksum);
        }
    }
    wr32(&mut sqe, DW_FLAGS, dw7);

    let dw9 = u32::from(req.alg.req_type()) | (u32::from(req.window.code()) << DW9_WIN_SHIFT);
    wr32(&mut sqe, DW_ALG, dw9);
    wr32(&mut sqe, sqe_type.tag_dword(), req.tag);
    sqe
}

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

/// Why a device rejects a ZIP SQE. [`ZipDecodeError::status`] gives the status to write back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ZipDecodeError {
    /// dw7 bits 28..31 is neither 0 nor 3.
    #[error("unknown ZIP SQE type {0}")]
    UnknownSqeType(u8),
    /// A documented request type this crate does not implement (lz4 0x04, lz77_only 0x40/0x41, lz77_zstd 0x42/0x43).
    #[error("unsupported ZIP request type {0:#04x}")]
    UnsupportedReqType(u8),
    /// An undocumented request type.
    #[error("unknown ZIP request type {0:#04x}")]
    UnknownReqType(u8),
    /// Raw deflate in a type 0 SQE (UADK always uses type 3 for it, §6.1).
    #[error("raw deflate requires SQE type 3")]
    DeflateNeedsType3,
    /// dw9 bits 8..11 ≠ 0 (1 = hardware SGL, not supported; others unknown).
    #[error("unsupported buffer type {0} (only flat buffers, type 0)")]
    BufferType(u8),
    /// A nonzero SGL skip (dw7 bits 0..23 or dw8) with flat buffers.
    #[error("SGL skip offset set with flat buffers")]
    SglSkipWithFlat,
    /// dw9 bits 12..15 > 4.
    #[error("window code {0} out of range 0..=4")]
    WindowCode(u8),
    /// dw4 > 8 MiB.
    #[error("input length {0} exceeds 8 MiB")]
    SrcTooLong(u32),
    /// dw14 > 8 MiB.
    #[error("dest_avail_out {0} exceeds 8 MiB")]
    DstTooLong(u32),
    /// Source address 0 with a nonzero input length.
    #[error("null source address with nonzero length")]
    NullSrc,
    /// Destination address 0 with nonzero space.
    #[error("null destination address with nonzero space")]
    NullDst,
    /// Stream mode with context address 0.
    #[error("stream mode with null context address")]
    NullContext,
}

impl ZipDecodeError {
    /// The dw3 status a device writes back for a rejected SQE: [`STATUS_INVALID_SQE`] (no documented code exists).
    pub const fn status(&self) -> ZipStatus {
        ZipStatus::Other(STATUS_INVALID_SQE)
    }
}

/// Request types that are documented (§6.1) but not implemented here.
const UNSUPPORTED_REQ_TYPES: [u8; 5] = [0x04, 0x40, 0x41, 0x42, 0x43];

/// Device side: decode and validate an SQE (§6.2). Never panics, whatever the 128 bytes.
///
/// Reserved and hardware-written fields (dw0..3, dw5/6, dw10..12, dw16/17, dw24/25, dw27; dw13 on type 3) are
/// ignored, as hardware would.
pub fn decode(sqe: &Sqe) -> Result<ZipSqeView, ZipDecodeError> {
    let dw7 = rd32(sqe, DW_FLAGS);
    let sqe_type = match (dw7 >> DW7_TYPE_SHIFT) as u8 {
        0 => ZipSqeType::Type0,
        3 => ZipSqeType::Type3,
        t => return Err(ZipDecodeError::UnknownSqeType(t)),
    };
    let dw9 = rd32(sqe, DW_ALG);
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
    if dw7 & DW7_IN_SKIP_MASK != 0 || rd32(sqe, DW_OUT_SKIP) & 0x00FF_FFFF != 0 {
        return Err(ZipDecodeError::SglSkipWithFlat);
    }
    let win = ((dw9 >> DW9_WIN_SHIFT) & 0xF) as u8;
    let window = ZipWindow::from_code(win).ok_or(ZipDecodeError::WindowCode(win))?;

    let buffers = HwBuffers {
        src_addr: rd64(sqe, DW_SRC_L),
        src_len: rd32(sqe, DW_INPUT_LEN),
        dst_addr: rd64(sqe, DW_DST_L),
        dst_avail: rd32(sqe, DW_DEST_AVAIL),
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
        let ctx_addr = rd64(sqe, DW_CTX_ADDR_L);
        if ctx_addr == 0 {
            return Err(ZipDecodeError::NullContext);
        }
        ZipMode::Stream(StreamState {
            ctx_addr,
            first: new,
            last: flush,
            ctx_dw0: rd32(sqe, DW_CTX0),
            ctx_dw1: rd32(sqe, DW_CTX1),
            ctx_dw2: rd32(sqe, DW_CTX2),
            isize: rd32(sqe, DW_ISIZE),
            checksum: rd32(sqe, DW_CHECKSUM),
        })
    } else {
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
    wr32(sqe, DW_CONSUMED, res.consumed);
    wr32(sqe, DW_PRODUCED, res.produced);
    let dw3 = u32::from(res.status.code()) | if res.lstblk { DW3_LSTBLK } else { 0 };
    wr32(sqe, DW_STATUS, dw3);
    wr32(sqe, DW_CTX0, res.ctx_dw0);
    wr32(sqe, DW_CTX1, res.ctx_dw1);
    wr32(sqe, DW_CTX2, res.ctx_dw2);
    wr32(sqe, DW_ISIZE, res.isize);
    wr32(sqe, DW_CHECKSUM, res.checksum);
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

/// Classification of a ZIP completion, as UADK does it (§8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ZipOutcome {
    /// Status 0x00, 0x0D, or 0x13 without lstblk.
    Ok,
    /// Status 0x13 with lstblk: end of a decompressed stream (WD_STREAM_END).
    StreamEnd,
    /// Status 0x0E: the output buffer was too small.
    DstTooSmall,
    /// Any other status.
    Error(ZipStatus),
}

/// ctx_dw0 bits 0..3 (§6.5).
pub const CTX_ST_MASK: u32 = 0xF;
/// ctx_dw0 bit 7: bfinal seen (§6.5).
pub const CTX_BFINAL: u32 = 0x80;

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
    let dw3 = rd32(sqe, DW_STATUS);
    ZipCompletion {
        sqe_type,
        req_type: (rd32(sqe, DW_ALG) & 0xFF) as u8,
        new: rd32(sqe, DW_FLAGS) & DW7_NEW != 0,
        tag: read_tag(sqe, sqe_type.unwrap_or(ZipSqeType::Type0)),
        status: ZipStatus::from_code((dw3 & 0xFF) as u8),
        lstblk: dw3 & DW3_LSTBLK != 0,
        consumed: rd32(sqe, DW_CONSUMED),
        produced: rd32(sqe, DW_PRODUCED),
        ctx_dw0: rd32(sqe, DW_CTX0),
        ctx_dw1: rd32(sqe, DW_CTX1),
        ctx_dw2: rd32(sqe, DW_CTX2),
        isize: rd32(sqe, DW_ISIZE),
        checksum: rd32(sqe, DW_CHECKSUM),
    }
}
