//! ZIP SQE field layout (§6.2): dword indices, bit fields of dw3/dw7/dw9/ctx_dw0, limits and the software headers.
//!
//! Positions are **dword indices** (`dwN` = bytes `4N..4N+4`), read and written with the `*_dw` accessors of
//! [`crate::qm::field`].

// ---------------------------------------------------------------------------------------------------------------------
// Field positions (§6.2)
// ---------------------------------------------------------------------------------------------------------------------

pub(super) const DW_CONSUMED: usize = 0;
pub(super) const DW_PRODUCED: usize = 1;
pub(super) const DW_STATUS: usize = 3;
pub(super) const DW_INPUT_LEN: usize = 4;
pub(super) const DW_FLAGS: usize = 7;
pub(super) const DW_OUT_SKIP: usize = 8;
pub(super) const DW_ALG: usize = 9;
pub(super) const DW_TAG_TYPE0: usize = 13;
pub(super) const DW_DEST_AVAIL: usize = 14;
pub(super) const DW_CTX0: usize = 15;
pub(super) const DW_SRC_L: usize = 18;
pub(super) const DW_DST_L: usize = 20;
pub(super) const DW_CTX_ADDR_L: usize = 22;
pub(super) const DW_TAG_TYPE3: usize = 26;
pub(super) const DW_CTX1: usize = 28;
pub(super) const DW_CTX2: usize = 29;
pub(super) const DW_ISIZE: usize = 30;
pub(super) const DW_CHECKSUM: usize = 31;

/// dw7 bits 0..23: SGL source skip (§6.2).
pub(super) const DW7_IN_SKIP_MASK: u32 = 0x00FF_FFFF;
/// dw7 bit 25: flush (1 = finish, 0 = sync-flush) (§6.2, §9).
pub const DW7_FLUSH: u32 = 1 << 25;
/// dw7 bit 26: stream mode (1 = stateful) (§6.2, §9).
pub const DW7_STATEFUL: u32 = 1 << 26;
/// dw7 bit 27: stream new (first BD of a stream; always set in block mode) (§6.2, §9).
pub const DW7_NEW: u32 = 1 << 27;
/// dw7 bits 28..31: SQE type (§6.1).
pub(super) const DW7_TYPE_SHIFT: u32 = 28;
/// dw7 value of a block-mode request before the SQE type is added: new | flush (§6.3).
pub const DW7_BLOCK: u32 = DW7_NEW | DW7_FLUSH;

/// dw9 bits 8..11: buffer type (§6.2).
pub(super) const DW9_BUF_SHIFT: u32 = 8;
/// dw9 bits 12..15: window size code (§6.2).
pub(super) const DW9_WIN_SHIFT: u32 = 12;

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

/// ctx_dw0 bits 0..3 (§6.5).
pub const CTX_ST_MASK: u32 = 0xF;
/// ctx_dw0 bit 7: bfinal seen (§6.5).
pub const CTX_BFINAL: u32 = 0x80;
