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
//!
//! The module is split by side: `layout` (dword indices and bit fields), `driver` ([`encode`], [`read_result`],
//! [`read_tag`], completion interpretation), `device` ([`decode`], [`ZipSqeView`], [`write_result`]); the shared
//! types (algorithms, requests, errors, status and outcome) are here, and everything public is re-exported here.

mod device;
mod driver;
mod layout;

pub use device::{ZipResult, ZipSqeView, decode, write_result};
pub use driver::{ZipCompletion, encode, read_result, read_tag};
pub use layout::{
    CTX_BFINAL, CTX_ST_MASK, DW3_LSTBLK, DW7_BLOCK, DW7_FLUSH, DW7_NEW, DW7_STATEFUL, GZIP_HEADER,
    HW_CTX_OFFSET, MAX_FLAT_LEN, ZLIB_HEADER,
};

use super::field::read_dw;
use super::{QmVersion, Sqe};
use layout::{DW_FLAGS, DW_TAG_TYPE0, DW_TAG_TYPE3, DW7_TYPE_SHIFT};

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
        match read_dw(sqe, DW_FLAGS) >> DW7_TYPE_SHIFT {
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
// Requests (built by the driver, seen again by the device through decode)
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
    /// A field UADK and the kernel's zip driver both leave 0 (reserved, hardware-written, or unused by this request
    /// type and mode) holds something else. See the field table beside the emulator's engines.
    #[error("dw{0} must be 0 for this request")]
    NonZero(usize),
}

impl ZipDecodeError {
    /// The dw3 status a device writes back for a rejected SQE: [`STATUS_INVALID_SQE`] (no documented code exists).
    pub const fn status(&self) -> ZipStatus {
        ZipStatus::Other(STATUS_INVALID_SQE)
    }
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
