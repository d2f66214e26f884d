//! CCM (AES, SM4), SM4-GCM and the AES MACs (CMAC, XCBC-MAC, GMAC): request types and the rules UADK's
//! `drv/hisi_sec.c` applies per BD type. The decisions and their sources are in `uacce-sys/docs/sec-ccm-mac.md`.
//!
//! * CCM and GCM are one BD layout (UADK `fill_aead_bd2` / `fill_aead_bd3`, `fill_aead_bd2_mode` /
//!   `fill_aead_bd3_mode`): c_mode 5 (CCM) or 6 (GCM), tag length in `c_icv_len`, `a_len` = AAD bytes,
//!   `cipher_src_offset` = AAD bytes, auth fields 0, `seq` set on decrypt. BD2 does AES only (`fill_aead_bd2_alg`
//!   has no SM4 case); BD3 does AES and SM4 (`fill_aead_bd3_alg`).
//! * CCM IVs (UADK `set_aead_auth_iv`, kernel `sec2/sec_crypto.c` `set_aead_auth_iv`): `c_ivin` is the 16-byte
//!   counter block `L' ‖ nonce ‖ counter` with the counter 1 (A1), `a_ivin` is B0 (`flags ‖ nonce ‖ payload
//!   length`), flags = `Adata << 6 | M' << 3 | L'` with M' = (tag − 2) / 2 and L' = L − 1 = 14 − nonce bytes.
//! * CMAC, XCBC and GMAC are digest BDs in UADK's HMAC mode (`fill_digest_bd2_alg` / `fill_digest_bd3_alg` with
//!   `g_hmac_a_alg`): a_alg 0x21 / 0x20 / 0x22, the key at `a_key_addr` with `a_key_len` in words, one-shot only
//!   (`aes_auth_long_hash_check`). BD3: CMAC and XCBC need a 16-byte key (`hmac_key_len_check`) and a nonzero
//!   length (`digest_bd3_type_check`), scene 7; GMAC takes a 16/24/32-byte key (`wd_digest_set_key`), a 16-byte
//!   IV at `a_ivin_addr` with ai_gen 1 (`fill_digest_bd3_addr`, `fill_digest_bd3_alg`) and scene 1
//!   (`fill_digest_v3_scene`). BD2 fills no IV address for GMAC (`fill_digest_bd2_addr`), so GMAC is BD3 only here.

/// CCM or GCM, the two `c_mode`s of an [`XcmRequest`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum XcmMode {
    /// CCM (RFC 3610, NIST SP 800-38C), c_mode 5. Tag 4..=16 bytes, even; AAD at most [`MAX_CCM_AAD_LEN`].
    Ccm,
    /// GCM, c_mode 6. Tag 4..=16 bytes; AAD at most 0xFFFF. (AES-GCM on both BD types is [`super::GcmRequest`];
    /// an [`XcmRequest`] in GCM mode is SM4-GCM, BD3 only.)
    Gcm,
}

impl XcmMode {
    pub(super) const fn code(self) -> u8 {
        match self {
            XcmMode::Ccm => 5,
            XcmMode::Gcm => 6,
        }
    }

    /// Whether `tag_len` is a valid tag length: CCM 4, 6, …, 16 (UADK `wd_aead_set_authsize`), GCM 4..=16.
    pub const fn tag_len_ok(self, tag_len: u8) -> bool {
        match self {
            XcmMode::Ccm => tag_len >= 4 && tag_len <= 16 && tag_len.is_multiple_of(2),
            XcmMode::Gcm => tag_len >= 4 && tag_len <= 16,
        }
    }

    /// The most AAD bytes one BD takes: CCM 65279 (UADK `MAX_CCM_AAD_LEN`), GCM 0xFFFF (`cipher_src_offset` is 16
    /// bits).
    pub const fn max_aad(self) -> u32 {
        match self {
            XcmMode::Ccm => MAX_CCM_AAD_LEN,
            XcmMode::Gcm => 0xFFFF,
        }
    }
}

/// The most AAD bytes of a CCM BD (UADK `MAX_CCM_AAD_LEN`, `aead_len_check`).
pub const MAX_CCM_AAD_LEN: u32 = 65279;

/// A CCM (AES or SM4) or SM4-GCM request, block mode: the same BD layout as [`super::GcmRequest`] (AAD in front of
/// the payload in `src`; the result lands at `dst + aad_len`; the tag at `mac_addr`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct XcmRequest {
    /// CCM or GCM.
    pub mode: XcmMode,
    /// AES (BD2 and BD3) or SM4 (BD3 only).
    pub alg: super::CipherAlg,
    /// Seal (encrypt) or open (decrypt; sets `seq`).
    pub dir: super::CipherDir,
    /// Key address (`c_key_addr`; also written to `a_key_addr`, as the kernel's sec2 driver does for GCM).
    pub key_addr: u64,
    /// Key length: AES 16, 24 or 32; SM4 16.
    pub key_len: u32,
    /// `c_ivin_addr`: CCM the 16-byte counter block A1 ([`ccm_counter_block`]); GCM the 12-byte IV (16-byte area,
    /// rest 0).
    pub iv_addr: u64,
    /// `a_ivin_addr`: CCM B0 ([`ccm_b0`]); GCM a copy of the IV.
    pub aiv_addr: u64,
    /// Source: AAD ‖ payload.
    pub src_addr: u64,
    /// Destination (AAD area, then the payload's result).
    pub dst_addr: u64,
    /// AAD bytes (`a_len`, `cipher_src_offset`).
    pub aad_len: u32,
    /// Payload bytes (`c_len`); nonzero on BD2 (UADK `aead_len_check`).
    pub payload_len: u32,
    /// Tag buffer: written on seal, the expected tag on open.
    pub mac_addr: u64,
    /// Tag bytes (`c_icv_len`), see [`XcmMode::tag_len_ok`].
    pub tag_len: u8,
}

/// The CCM counter block A1 that goes to `c_ivin`: `L' ‖ nonce ‖ 0…01` (RFC 3610 §2.3 with counter 1; UADK and the
/// kernel set the counter bytes this way). `None` unless the nonce is 7..=13 bytes.
pub fn ccm_counter_block(nonce: &[u8]) -> Option<[u8; 16]> {
    if !(7..=13).contains(&nonce.len()) {
        return None;
    }
    let mut a = [0u8; 16];
    a[0] = (14 - nonce.len()) as u8;
    a[1..1 + nonce.len()].copy_from_slice(nonce);
    a[15] = 1;
    Some(a)
}

/// The CCM block B0 that goes to `a_ivin`: `Adata << 6 | M' << 3 | L'`, the nonce, then the payload length
/// big-endian in the last L bytes (RFC 3610 §2.2). `None` for a nonce outside 7..=13 bytes, a tag length that is
/// not 4..=16 and even, or a payload that does not fit L bytes.
pub fn ccm_b0(nonce: &[u8], tag_len: u8, aad_len: u32, payload_len: u32) -> Option<[u8; 16]> {
    let mut b = ccm_counter_block(nonce)?;
    if !XcmMode::Ccm.tag_len_ok(tag_len) {
        return None;
    }
    let l = 15 - nonce.len();
    if l < 4 && u64::from(payload_len) >> (8 * l) != 0 {
        return None;
    }
    b[0] |= u8::from(aad_len > 0) << 6 | ((tag_len - 2) / 2) << 3;
    let len = u64::from(payload_len).to_be_bytes();
    b[16 - l..].copy_from_slice(&len[8 - l..]);
    Some(b)
}

/// An AES MAC of the SEC engine's digest BDs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MacAlg {
    /// AES-XCBC-MAC (RFC 3566), a_alg 0x20 (the code of XCBC-MAC-96 and XCBC-PRF-128 alike: the MAC length tells
    /// them apart). 16-byte key.
    AesXcbc,
    /// AES-CMAC (RFC 4493), a_alg 0x21. 16-byte key on the device (UADK `hmac_key_len_check`).
    AesCmac,
    /// AES-GMAC (NIST SP 800-38D), a_alg 0x22, BD3 only. 16, 24 or 32-byte key; 16-byte IV area at `a_ivin`.
    AesGmac,
}

impl MacAlg {
    /// The `a_alg` code (`hisi-qm-protocol.md` §7.3; UADK `A_ALG_AES_*`).
    pub const fn a_alg(self) -> u8 {
        match self {
            MacAlg::AesXcbc => 0x20,
            MacAlg::AesCmac => 0x21,
            MacAlg::AesGmac => 0x22,
        }
    }

    pub(super) const fn from_a_alg(c: u8) -> Option<MacAlg> {
        match c {
            0x20 => Some(MacAlg::AesXcbc),
            0x21 => Some(MacAlg::AesCmac),
            0x22 => Some(MacAlg::AesGmac),
            _ => None,
        }
    }

    /// Whether a key of `len` bytes is one the device takes: XCBC and CMAC 16 (UADK `hmac_key_len_check`), GMAC
    /// 16, 24 or 32 (`wd_digest_set_key`).
    pub const fn key_len_ok(self, len: u32) -> bool {
        match self {
            MacAlg::AesXcbc | MacAlg::AesCmac => len == 16,
            MacAlg::AesGmac => matches!(len, 16 | 24 | 32),
        }
    }

    /// Whether BD2 (hw v2) does it: XCBC and CMAC yes, GMAC no (UADK's BD2 fill names no IV for it).
    pub const fn on_bd2(self) -> bool {
        !matches!(self, MacAlg::AesGmac)
    }
}

/// A one-shot AES MAC request (a digest BD in UADK's HMAC mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MacRequest {
    /// The MAC.
    pub alg: MacAlg,
    /// AES key address (`a_key_addr`).
    pub key_addr: u64,
    /// Key bytes ([`MacAlg::key_len_ok`]); `a_key_len` in words.
    pub key_len: u32,
    /// GMAC: the 16-byte IV area (12-byte IV, then 4 zero bytes) at `a_ivin_addr`; 0 for XCBC and CMAC.
    pub iv_addr: u64,
    /// Message (GMAC: the authenticated data) (`data_src_addr`).
    pub src_addr: u64,
    /// Message bytes (`a_len`): nonzero for XCBC and CMAC (and anything on BD2).
    pub len: u32,
    /// Output (`mac_addr`).
    pub mac_addr: u64,
    /// Output bytes: a multiple of 4 in 4..=16 (`mac_len` in words). XCBC-MAC-96 is 12.
    pub mac_len: u32,
}
