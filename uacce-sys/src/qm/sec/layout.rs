//! SEC BD field layout: byte offsets of BD type 2 (§7.1) and BD type 3 (§7.2), the result word shared by both,
//! scene codes, and the limits and result codes of a BD (§8, §9).
//!
//! Offsets are **byte** offsets, read and written with the `*_at` accessors of [`crate::qm::field`].

/// Maximum data length of one BD: 16 MiB − 512 (§9 SEC limits).
pub const MAX_DATA_LEN: u32 = 0xFF_FE00;
/// UADK's SVA prefetch threshold: callers set [`SecRequest::sva_prefetch`](super::SecRequest::sva_prefetch) for flat buffers up to this length (§7.4,
/// §9, §11).
pub const SVA_PREFETCH_MAX_LEN: u32 = 0x6000;

// ---------------------------------------------------------------------------------------------------------------------
// Field offsets (§7.1, §7.2) and shifts (§9)
// ---------------------------------------------------------------------------------------------------------------------

pub(super) mod bd2 {
    pub const TYPE_CIPHER_AUTH: usize = 0; // type 0..3, cipher 4..5, auth 6..7
    pub const SDS: usize = 1; // seq 0, de 1..2, scene 3..6, src_addr_type bit 7
    pub const SDM: usize = 2; // src_addr_type cont. 0..1, dst 2..4, mac 5..7
    pub const AI_APD: usize = 5; // ai_gen 0..1, a_pad 2..3
    pub const INVALID: usize = 7; // bit 7
    pub const MAC_KEY_ALG: usize = 8; // mac_len 0..4, a_key_len 5..10, a_alg 11..16
    pub const ICVW_KMODE: usize = 12; // c_icv_len 0..5, c_width 6..8, c_key_len 9..11, c_mode 12..15
    pub const C_ALG: usize = 14;
    pub const A_LEN: usize = 16;
    pub const C_LEN: usize = 20;
    pub const AUTH_SRC_OFFSET: usize = 24;
    pub const CIPHER_SRC_OFFSET: usize = 26;
    pub const TAG: usize = 40;
    pub const LONG_A_DATA_LEN: usize = 48;
    pub const A_IVIN: usize = 56;
    pub const A_KEY: usize = 64;
    pub const MAC: usize = 72;
    pub const C_IVIN: usize = 80;
    pub const C_KEY: usize = 88;
    pub const SRC: usize = 96;
    pub const DST: usize = 104;
}

pub(super) mod bd3 {
    pub const BD_PARAM: usize = 0; // type 0..3, invalid 4, scene 5..8, de 9..10, src 11..13, dst 14..16, mac 17..19
    pub const C_ICV_KEY: usize = 4; // dir 0..1, ci_gen 2..3, icv_len 4..9, c_width 10..12, c_key_len 13..15
    pub const C_MODE_ALG: usize = 6; // c_mode 0..3, c_alg 4..7
    pub const HUK_IV_SEQ: usize = 7; // seq bit 6
    pub const TAG: usize = 8;
    pub const SRC: usize = 16;
    pub const A_KEY: usize = 24;
    pub const A_IVIN: usize = 32;
    pub const C_KEY: usize = 48;
    pub const AUTH_MAC_KEY: usize = 56; // auth 0..1, ai_gen 2..3, mac 4..8, akey 9..14, a_alg 15..20, ctr 25..26, pf 27
    pub const AUTH_SRC_OFFSET: usize = 64;
    pub const CIPHER_SRC_OFFSET: usize = 66;
    pub const A_LEN: usize = 68;
    pub const C_LEN: usize = 72;
    pub const DST: usize = 76;
    pub const MAC: usize = 84;
    pub const C_IVIN: usize = 92;
    pub const LONG_A_DATA_LEN: usize = 100;
    pub const AUTH_PAD: usize = 108; // stream_auth_pad 0..1
    pub const CTR_COUNT_MODE_128: u32 = 2 << 25;
    pub const SVA_PREFETCH: u32 = 1 << 27;
}

/// Offset of the 16-bit done/icv/csc/flag/dif word, the same in BD2 and BD3 (§7.1, §7.2).
pub(super) const DONE_FLAG: usize = 112;
/// Offset of `error_type` (§7.1, §7.2).
pub(super) const ERROR_TYPE: usize = 114;
/// Offset of `warning_type` (§7.1, §7.2).
pub(super) const WARNING_TYPE: usize = 115;

/// Scene 1, IPSEC: UADK cipher, block AEAD, BD2 digest (§7.3).
pub(super) const SCENE_IPSEC: u32 = 1;
/// Scene 7, stream: UADK digest on BD3 (§7.3, §11).
pub(super) const SCENE_STREAM: u32 = 7;

/// ICV value reporting a MAC mismatch (§7.1, §8).
pub const ICV_MISMATCH: u8 = 2;
/// `flag` for a successful cipher or digest (§8).
pub const FLAG_CIPHER: u8 = 2;
/// `flag` for a successful AEAD (§8).
pub const FLAG_AEAD: u8 = 3;
