//! HiSilicon SEC BD (SQE) encode (driver side) and decode / result write-back (device side).
//!
//! Layouts: `hisi-qm-protocol.md` §7.1 (BD type 2, hw v2) and §7.2 (BD type 3, hw v3); codes §7.3; fill rules §7.4;
//! completion §8; observed behaviour §11. All multi-byte fields are little-endian.
//!
//! Supported operations:
//! * cipher: AES-128/192/256 and SM4 in ECB, CBC, CTR (BD3 only, §11) and XTS (key = key1‖key2);
//! * AEAD: AES-GCM seal/open, block mode (AAD in front of the payload in `src`);
//! * digest: SHA-1/224/256/384/512 and their HMACs, one-shot and long-hash first/middle/last stages.
//!
//! The driver builds a [`SecRequest`], [`encode`]s it for its [`QmVersion`] and, after completion, reads the
//! hardware-written words with [`read_result`]. A device [`decode`]s strictly (never panicking on any 128 bytes) and
//! writes its result with [`write_result`], which leaves every other field unchanged (§8).

use super::{QmVersion, SQE_SIZE, Sqe};

/// Maximum data length of one BD: 16 MiB − 512 (§9 SEC limits).
pub const MAX_DATA_LEN: u32 = 0xFF_FE00;
/// UADK's SVA prefetch threshold: callers set [`SecRequest::sva_prefetch`] for flat buffers up to this length (§7.4,
/// §9, §11).
pub const SVA_PREFETCH_MAX_LEN: u32 = 0x6000;

// ---------------------------------------------------------------------------------------------------------------------
// Byte helpers
// ---------------------------------------------------------------------------------------------------------------------

fn rd16(s: &Sqe, o: usize) -> u16 {
    u16::from_le_bytes([s[o], s[o + 1]])
}
fn rd32(s: &Sqe, o: usize) -> u32 {
    u32::from_le_bytes([s[o], s[o + 1], s[o + 2], s[o + 3]])
}
fn rd64(s: &Sqe, o: usize) -> u64 {
    u64::from(rd32(s, o)) | (u64::from(rd32(s, o + 4)) << 32)
}
fn wr16(s: &mut Sqe, o: usize, v: u16) {
    s[o..o + 2].copy_from_slice(&v.to_le_bytes());
}
fn wr32(s: &mut Sqe, o: usize, v: u32) {
    s[o..o + 4].copy_from_slice(&v.to_le_bytes());
}
fn wr64(s: &mut Sqe, o: usize, v: u64) {
    s[o..o + 8].copy_from_slice(&v.to_le_bytes());
}

// ---------------------------------------------------------------------------------------------------------------------
// Field offsets (§7.1, §7.2) and shifts (§9)
// ---------------------------------------------------------------------------------------------------------------------

mod bd2 {
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

mod bd3 {
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
const DONE_FLAG: usize = 112;
/// Offset of `error_type` (§7.1, §7.2).
const ERROR_TYPE: usize = 114;
/// Offset of `warning_type` (§7.1, §7.2).
const WARNING_TYPE: usize = 115;

/// Scene 1, IPSEC: UADK cipher, block AEAD, BD2 digest (§7.3).
const SCENE_IPSEC: u32 = 1;
/// Scene 7, stream: UADK digest on BD3 (§7.3, §11).
const SCENE_STREAM: u32 = 7;

// ---------------------------------------------------------------------------------------------------------------------
// Codes (§7.3)
// ---------------------------------------------------------------------------------------------------------------------

/// BD format: type 2 on hw v2, type 3 on hw v3 (§7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BdType {
    /// BD type 2 (Kunpeng 920, [`QmVersion::V2`]), layout §7.1.
    Bd2,
    /// BD type 3 (Kunpeng 930, [`QmVersion::V3`]), layout §7.2.
    Bd3,
}

impl BdType {
    /// The BD type for a QM version; `None` for v1 (no SEC BD format is defined for it here).
    pub const fn for_version(version: QmVersion) -> Option<BdType> {
        match version {
            QmVersion::V1 => None,
            QmVersion::V2 => Some(BdType::Bd2),
            QmVersion::V3 => Some(BdType::Bd3),
        }
    }

    /// The value of the type field (byte 0 bits 0..3): 2 or 3.
    pub const fn code(self) -> u8 {
        match self {
            BdType::Bd2 => 2,
            BdType::Bd3 => 3,
        }
    }
}

/// Block cipher, `c_alg` (§7.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CipherAlg {
    /// AES, code 2; keys of 16, 24 or 32 bytes.
    Aes,
    /// SM4, code 3; 16-byte key.
    Sm4,
}

impl CipherAlg {
    const fn code(self) -> u8 {
        match self {
            CipherAlg::Aes => 2,
            CipherAlg::Sm4 => 3,
        }
    }
    const fn from_code(c: u8) -> Option<CipherAlg> {
        match c {
            2 => Some(CipherAlg::Aes),
            3 => Some(CipherAlg::Sm4),
            _ => None,
        }
    }
}

/// Cipher mode, `c_mode` (§7.3). GCM is separate ([`GcmRequest`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CipherMode {
    /// ECB, code 0. Length a multiple of 16.
    Ecb,
    /// CBC, code 1. Length a multiple of 16.
    Cbc,
    /// CTR, code 4. BD3 only (§11); sets ctr_count_mode 2.
    Ctr,
    /// XTS, code 7. Key = key1‖key2; key-length code from half the key. Length ≥ 16.
    Xts,
}

impl CipherMode {
    const fn code(self) -> u8 {
        match self {
            CipherMode::Ecb => 0,
            CipherMode::Cbc => 1,
            CipherMode::Ctr => 4,
            CipherMode::Xts => 7,
        }
    }
    const fn from_code(c: u8) -> Option<CipherMode> {
        match c {
            0 => Some(CipherMode::Ecb),
            1 => Some(CipherMode::Cbc),
            4 => Some(CipherMode::Ctr),
            7 => Some(CipherMode::Xts),
            _ => None,
        }
    }
}

/// `c_mode` code of GCM (§7.3).
const C_MODE_GCM: u8 = 6;

/// Cipher direction (BD2 byte 0 bits 4..5, BD3 `c_icv_key` bits 0..1): 1 encrypt, 2 decrypt (§7.1, §7.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CipherDir {
    /// Encrypt (code 1).
    Encrypt,
    /// Decrypt (code 2).
    Decrypt,
}

impl CipherDir {
    const fn code(self) -> u32 {
        match self {
            CipherDir::Encrypt => 1,
            CipherDir::Decrypt => 2,
        }
    }
}

/// `c_key_len` code for a cipher key of `key_len` bytes (XTS: both keys) (§7.3).
fn key_len_code(alg: CipherAlg, xts: bool, key_len: u32) -> Option<u8> {
    let per_key = if xts {
        if key_len % 2 != 0 {
            return None;
        }
        key_len / 2
    } else {
        key_len
    };
    match (alg, per_key) {
        (CipherAlg::Aes, 16) => Some(0),
        (CipherAlg::Aes, 24) => Some(1),
        (CipherAlg::Aes, 32) => Some(2),
        (CipherAlg::Sm4, 16) => Some(0),
        _ => None,
    }
}

/// Key bytes for a `c_key_len` code (inverse of [`key_len_code`]).
fn key_len_from_code(alg: CipherAlg, xts: bool, code: u8) -> Option<u32> {
    let per_key = match (alg, code) {
        (CipherAlg::Aes, 0) => 16,
        (CipherAlg::Aes, 1) => 24,
        (CipherAlg::Aes, 2) => 32,
        (CipherAlg::Sm4, 0) => 16,
        _ => return None,
    };
    Some(if xts { per_key * 2 } else { per_key })
}

/// Hash function of a digest or HMAC (`a_alg`, §7.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DigestAlg {
    /// SHA-1: a_alg 0x00 (HMAC 0x10), 20-byte digest, 64-byte block.
    Sha1,
    /// SHA-224: 0x03 (0x13), 28 bytes, 64-byte block.
    Sha224,
    /// SHA-256: 0x01 (0x11), 32 bytes, 64-byte block.
    Sha256,
    /// SHA-384: 0x04 (0x14), 48 bytes, 128-byte block.
    Sha384,
    /// SHA-512: 0x05 (0x15), 64 bytes, 128-byte block.
    Sha512,
}

const HMAC_A_ALG: u8 = 0x10;

impl DigestAlg {
    /// The plain-hash `a_alg` code; HMAC adds 0x10 (§7.3).
    pub const fn a_alg(self) -> u8 {
        match self {
            DigestAlg::Sha1 => 0x00,
            DigestAlg::Sha256 => 0x01,
            DigestAlg::Sha224 => 0x03,
            DigestAlg::Sha384 => 0x04,
            DigestAlg::Sha512 => 0x05,
        }
    }
    const fn from_a_alg(c: u8) -> Option<(DigestAlg, bool)> {
        let alg = match c & !HMAC_A_ALG {
            0x00 => DigestAlg::Sha1,
            0x01 => DigestAlg::Sha256,
            0x03 => DigestAlg::Sha224,
            0x04 => DigestAlg::Sha384,
            0x05 => DigestAlg::Sha512,
            _ => return None,
        };
        match c & 0xF0 {
            0x00 => Some((alg, false)),
            HMAC_A_ALG => Some((alg, true)),
            _ => None,
        }
    }
    /// Digest size in bytes (the full `mac_len` × 4, §7.3 table).
    pub const fn digest_len(self) -> u32 {
        match self {
            DigestAlg::Sha1 => 20,
            DigestAlg::Sha224 => 28,
            DigestAlg::Sha256 => 32,
            DigestAlg::Sha384 => 48,
            DigestAlg::Sha512 => 64,
        }
    }
    /// Block size in bytes: first/middle long-hash parts must be a multiple of it (§7.4).
    pub const fn block_len(self) -> u32 {
        match self {
            DigestAlg::Sha1 | DigestAlg::Sha224 | DigestAlg::Sha256 => 64,
            DigestAlg::Sha384 | DigestAlg::Sha512 => 128,
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------------------------------------

/// A cipher request (§7.4 "Cipher"). All addresses are device-visible (SVA) addresses of flat buffers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CipherRequest {
    /// Block cipher.
    pub alg: CipherAlg,
    /// Mode.
    pub mode: CipherMode,
    /// Direction.
    pub dir: CipherDir,
    /// Key address (`c_key_addr`).
    pub key_addr: u64,
    /// Key length in bytes; for XTS the whole key1‖key2 (32, 48 or 64 for AES; 32 for SM4).
    pub key_len: u32,
    /// IV / counter / tweak address (`c_ivin_addr`); may be 0 for ECB.
    pub iv_addr: u64,
    /// Source (`data_src_addr`).
    pub src_addr: u64,
    /// Destination (`data_dst_addr`).
    pub dst_addr: u64,
    /// Data length in bytes (`c_len`).
    pub len: u32,
}

/// An AES-GCM request, block mode (§7.4 "AEAD", §11).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GcmRequest {
    /// Seal (encrypt) or open (decrypt; sets the `seq` bit).
    pub dir: CipherDir,
    /// AES key address (`c_key_addr`; also written to `a_key_addr`, as the kernel does).
    pub key_addr: u64,
    /// Key length: 16, 24 or 32.
    pub key_len: u32,
    /// 12-byte IV (`c_ivin_addr`).
    pub iv_addr: u64,
    /// Per-slot copy of the IV (`a_ivin_addr`); the caller provides the address.
    pub aiv_addr: u64,
    /// Source: AAD ‖ payload.
    pub src_addr: u64,
    /// Destination (sized AAD + payload; the ciphertext presumably lands at `dst + aad_len`, §10 item 6).
    pub dst_addr: u64,
    /// AAD bytes (`a_len` and `cipher_src_offset`), ≤ 0xFFFF.
    pub aad_len: u32,
    /// Payload bytes (`c_len`).
    pub payload_len: u32,
    /// Tag buffer (`mac_addr`): written on seal, the expected tag on open.
    pub mac_addr: u64,
    /// Tag length in bytes, 4..=16 (`c_icv_len`).
    pub tag_len: u8,
}

/// An HMAC key (`a_key_addr`, `a_key_len` in 4-byte words).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HmacKey {
    /// Key address.
    pub addr: u64,
    /// Key length in bytes: a nonzero multiple of 4, at most the hash's block size (longer keys must be hashed by
    /// the caller first).
    pub len: u32,
}

/// Digest stage (§7.4 long-hash table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DigestStage {
    /// The whole message in one BD (ai_gen 0, pad).
    OneShot,
    /// First part of a long hash (ai_gen 0, no-pad); length a multiple of the block size.
    First,
    /// Middle part (ai_gen 1, no-pad, `a_ivin = mac_addr`); length a multiple of the block size.
    Middle,
    /// Last part (ai_gen 1, pad, `a_ivin = mac_addr`), with the total message length (all parts) in bytes; the BD
    /// carries it in bits (`long_a_data_len`).
    Last {
        /// Total message length in bytes over all parts.
        total_len: u64,
    },
}

/// A digest or HMAC request (§7.4 "Digest / HMAC").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DigestRequest {
    /// Hash function.
    pub alg: DigestAlg,
    /// `Some` for HMAC.
    pub hmac_key: Option<HmacKey>,
    /// Source (`data_src_addr`).
    pub src_addr: u64,
    /// Source length (`a_len`).
    pub len: u32,
    /// Output buffer (`mac_addr`); for long hash it also holds the intermediate state.
    pub mac_addr: u64,
    /// Output length in bytes for one-shot/last BDs (a multiple of 4, 4..=digest size). First/middle BDs ignore it
    /// (the hardware keeps the full state) and [`decode`] reports the full digest size for them.
    pub mac_len: u32,
    /// Stage.
    pub stage: DigestStage,
}

/// One SEC operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SecOp {
    /// Cipher.
    Cipher(CipherRequest),
    /// AEAD (AES-GCM).
    Aead(GcmRequest),
    /// Digest / HMAC.
    Digest(DigestRequest),
}

/// Kind of a [`SecOp`], for the completion `flag` (§8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SecOpKind {
    /// Cipher.
    Cipher,
    /// AEAD.
    Aead,
    /// Digest / HMAC.
    Digest,
}

impl SecOp {
    /// The operation's kind.
    pub const fn kind(&self) -> SecOpKind {
        match self {
            SecOp::Cipher(_) => SecOpKind::Cipher,
            SecOp::Aead(_) => SecOpKind::Aead,
            SecOp::Digest(_) => SecOpKind::Digest,
        }
    }
}

/// A SEC request as the driver encodes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SecRequest {
    /// The operation.
    pub op: SecOp,
    /// Tag: BD2 stores it as u16 (must be ≤ 0xFFFF), BD3 zero-extends it to its u64 field (§7.1, §7.2, §11).
    pub tag: u32,
    /// BD3 only: set `sva_prefetch` (auth_mac_key bit 27). The caller decides (UADK: SVA and flat and
    /// len ≤ [`SVA_PREFETCH_MAX_LEN`], §7.4, §11). Ignored on BD2, which has no such bit.
    pub sva_prefetch: bool,
}

/// Why a request cannot be encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SecEncodeError {
    /// QM v1 has no SEC BD format here.
    #[error("no SEC BD format for QM version {0:?}")]
    UnsupportedVersion(QmVersion),
    /// AES/SM4-CTR on BD2 (hw v2): UADK refuses it; route it to the CPU backend (§11).
    #[error("CTR mode is not supported with BD type 2 (hw v2)")]
    CtrOnBd2,
    /// BD2 has a 16-bit tag field.
    #[error("tag {0:#x} does not fit the 16-bit BD2 tag field")]
    TagTooLarge(u32),
    /// Key length not valid for the algorithm/mode.
    #[error("invalid key length {0} bytes")]
    KeyLen(u32),
    /// Data length above [`MAX_DATA_LEN`].
    #[error("data length {0} exceeds 0xFFFE00")]
    TooLong(u64),
    /// Data length not allowed for the mode or stage (zero, or not a block multiple).
    #[error("invalid data length {0} for this mode or stage")]
    BadLength(u32),
    /// GCM tag length outside 4..=16.
    #[error("invalid GCM tag length {0}")]
    TagLen(u8),
    /// GCM AAD longer than 0xFFFF (cipher_src_offset is 16 bits).
    #[error("AAD length {0} exceeds 0xFFFF")]
    AadTooLong(u32),
    /// Digest output length not a multiple of 4 in 4..=digest size.
    #[error("invalid MAC length {0}")]
    MacLen(u32),
    /// HMAC key length not a nonzero multiple of 4 up to the block size.
    #[error("invalid HMAC key length {0}")]
    HmacKeyLen(u32),
    /// Last long-hash part whose total length is smaller than its own length, or overflows in bits.
    #[error("invalid long-hash total length {0}")]
    TotalLen(u64),
    /// A required address is 0.
    #[error("null {0} address")]
    NullAddress(&'static str),
}

/// Why a device rejects a BD.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SecDecodeError {
    /// Byte 0 bits 0..3 is neither 2 nor 3.
    #[error("unknown BD type {0}")]
    UnknownBdType(u8),
    /// The BD's invalid / bd_invalid bit is set (software-finished BDs are not supported).
    #[error("BD marked invalid")]
    InvalidBd,
    /// A source, destination or MAC address type other than flat (1 SGL, 2 PRP).
    #[error("unsupported {0} address type {1} (only flat buffers)")]
    AddrType(&'static str, u8),
    /// A scene this crate does not handle (accepted: 0, 1, 7).
    #[error("unsupported scene {0}")]
    Scene(u8),
    /// A cipher/auth combination not supported (cipher-then-auth, verify, copy, none).
    #[error("unsupported operation: cipher {cipher}, auth {auth}")]
    UnsupportedOp {
        /// Cipher field.
        cipher: u8,
        /// Auth field.
        auth: u8,
    },
    /// Unknown or unsupported `c_alg`.
    #[error("unsupported c_alg {0}")]
    CAlg(u8),
    /// Unknown or unsupported `c_mode`.
    #[error("unsupported c_mode {0}")]
    CMode(u8),
    /// CTR on BD2 (§11).
    #[error("CTR mode is not supported with BD type 2")]
    CtrOnBd2,
    /// `c_key_len` code not valid for the algorithm.
    #[error("invalid c_key_len code {0}")]
    KeyLenCode(u8),
    /// Unknown or unsupported `a_alg`.
    #[error("unsupported a_alg {0:#04x}")]
    AAlg(u8),
    /// A length above 0xFFFE00.
    #[error("length {0} exceeds 0xFFFE00")]
    TooLong(u32),
    /// `a_len` / `c_len` / offsets inconsistent with the operation.
    #[error("lengths inconsistent with the operation: {0}")]
    Lengths(&'static str),
    /// Another field inconsistent with the operation.
    #[error("field inconsistent with the operation: {0}")]
    Field(&'static str),
    /// A required address is 0.
    #[error("null {0} address")]
    NullAddress(&'static str),
}

/// `error_type` a device writes for a BD that [`decode`] rejected. The hardware's error_type values are not documented
/// (§10 item 5); this one is emulator-specific and only needs to be nonzero.
pub const ERROR_TYPE_INVALID_BD: u8 = 0xFF;

impl SecDecodeError {
    /// The result a device writes back for a rejected BD: done = 1, error_type = [`ERROR_TYPE_INVALID_BD`].
    pub const fn result(&self) -> SecResult {
        SecResult {
            done: true,
            icv: 0,
            flag: 0,
            error_type: ERROR_TYPE_INVALID_BD,
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------------
// Validation shared by encode and decode
// ---------------------------------------------------------------------------------------------------------------------

fn check_cipher(c: &CipherRequest) -> Result<u8, SecEncodeError> {
    let code = key_len_code(c.alg, c.mode == CipherMode::Xts, c.key_len)
        .ok_or(SecEncodeError::KeyLen(c.key_len))?;
    if c.len > MAX_DATA_LEN {
        return Err(SecEncodeError::TooLong(c.len.into()));
    }
    let len_ok = match c.mode {
        CipherMode::Ecb | CipherMode::Cbc => c.len != 0 && c.len % 16 == 0,
        CipherMode::Xts => c.len >= 16,
        CipherMode::Ctr => c.len != 0,
    };
    if !len_ok {
        return Err(SecEncodeError::BadLength(c.len));
    }
    nonzero(c.key_addr, "key")?;
    if c.mode != CipherMode::Ecb {
        nonzero(c.iv_addr, "IV")?;
    }
    nonzero(c.src_addr, "source")?;
    nonzero(c.dst_addr, "destination")?;
    Ok(code)
}

fn check_gcm(g: &GcmRequest) -> Result<u8, SecEncodeError> {
    let code =
        key_len_code(CipherAlg::Aes, false, g.key_len).ok_or(SecEncodeError::KeyLen(g.key_len))?;
    if !(4..=16).contains(&g.tag_len) {
        return Err(SecEncodeError::TagLen(g.tag_len));
    }
    if g.aad_len > 0xFFFF {
        return Err(SecEncodeError::AadTooLong(g.aad_len));
    }
    let total = u64::from(g.aad_len) + u64::from(g.payload_len);
    if total > u64::from(MAX_DATA_LEN) {
        return Err(SecEncodeError::TooLong(total));
    }
    nonzero(g.key_addr, "key")?;
    nonzero(g.iv_addr, "IV")?;
    nonzero(g.aiv_addr, "auth IV")?;
    nonzero(g.mac_addr, "MAC")?;
    if total != 0 {
        nonzero(g.src_addr, "source")?;
    }
    if g.payload_len != 0 {
        nonzero(g.dst_addr, "destination")?;
    }
    Ok(code)
}

/// Returns `(mac_len words, akey words, a_alg)`.
fn check_digest(d: &DigestRequest, bd: BdType) -> Result<(u32, u32, u32), SecEncodeError> {
    if d.len > MAX_DATA_LEN {
        return Err(SecEncodeError::TooLong(d.len.into()));
    }
    let block_stage = matches!(d.stage, DigestStage::First | DigestStage::Middle);
    if (block_stage && (d.len == 0 || d.len % d.alg.block_len() != 0))
        || (bd == BdType::Bd2 && d.len == 0)
    {
        return Err(SecEncodeError::BadLength(d.len));
    }
    match d.stage {
        DigestStage::Last { total_len }
            if total_len < u64::from(d.len) || total_len.checked_mul(8).is_none() =>
        {
            return Err(SecEncodeError::TotalLen(total_len));
        }
        _ => {}
    }
    let full = d.alg.digest_len() / 4;
    let mac_words = if block_stage {
        // §7.4: intermediate BDs use mac_len 0 for plain hashes and the full length for HMAC.
        if d.hmac_key.is_some() { full } else { 0 }
    } else {
        if d.mac_len == 0 || d.mac_len % 4 != 0 || d.mac_len > d.alg.digest_len() {
            return Err(SecEncodeError::MacLen(d.mac_len));
        }
        d.mac_len / 4
    };
    let (akey_words, a_alg) = match d.hmac_key {
        Some(k) => {
            if k.len == 0 || k.len % 4 != 0 || k.len > d.alg.block_len() {
                return Err(SecEncodeError::HmacKeyLen(k.len));
            }
            nonzero(k.addr, "HMAC key")?;
            (k.len / 4, u32::from(d.alg.a_alg() | HMAC_A_ALG))
        }
        None => (0, u32::from(d.alg.a_alg())),
    };
    if d.len != 0 {
        nonzero(d.src_addr, "source")?;
    }
    nonzero(d.mac_addr, "MAC")?;
    Ok((mac_words, akey_words, a_alg))
}

fn nonzero(addr: u64, what: &'static str) -> Result<(), SecEncodeError> {
    if addr == 0 {
        Err(SecEncodeError::NullAddress(what))
    } else {
        Ok(())
    }
}

/// `(ai_gen, pad)` of a digest stage (§7.4 long-hash table; pad 1 = no-pad).
const fn stage_bits(stage: DigestStage) -> (u32, u32) {
    match stage {
        DigestStage::OneShot => (0, 0),
        DigestStage::First => (0, 1),
        DigestStage::Middle => (1, 1),
        DigestStage::Last { .. } => (1, 0),
    }
}

// ---------------------------------------------------------------------------------------------------------------------
// Encode
// ---------------------------------------------------------------------------------------------------------------------

/// Encode a request into a zeroed BD for `version` (BD2 on v2, BD3 on v3; §7.4 fill rules, §11).
pub fn encode(req: &SecRequest, version: QmVersion) -> Result<Sqe, SecEncodeError> {
    let bd = BdType::for_version(version).ok_or(SecEncodeError::UnsupportedVersion(version))?;
    let mut s = [0u8; SQE_SIZE];
    match bd {
        BdType::Bd2 => {
            let tag = u16::try_from(req.tag).map_err(|_| SecEncodeError::TagTooLarge(req.tag))?;
            match &req.op {
                SecOp::Cipher(c) => encode_cipher_bd2(&mut s, c)?,
                SecOp::Aead(g) => encode_gcm_bd2(&mut s, g)?,
                SecOp::Digest(d) => encode_digest_bd2(&mut s, d)?,
            }
            wr16(&mut s, bd2::TAG, tag);
        }
        BdType::Bd3 => {
            let mut auth_mac_key = match &req.op {
                SecOp::Cipher(c) => encode_cipher_bd3(&mut s, c)?,
                SecOp::Aead(g) => encode_gcm_bd3(&mut s, g)?,
                SecOp::Digest(d) => encode_digest_bd3(&mut s, d)?,
            };
            if req.sva_prefetch {
                auth_mac_key |= bd3::SVA_PREFETCH;
            }
            wr32(&mut s, bd3::AUTH_MAC_KEY, auth_mac_key);
            wr64(&mut s, bd3::TAG, u64::from(req.tag));
        }
    }
    Ok(s)
}

fn encode_cipher_bd2(s: &mut Sqe, c: &CipherRequest) -> Result<(), SecEncodeError> {
    if c.mode == CipherMode::Ctr {
        return Err(SecEncodeError::CtrOnBd2);
    }
    let key_code = check_cipher(c)?;
    s[bd2::TYPE_CIPHER_AUTH] = 2 | (c.dir.code() << 4) as u8;
    s[bd2::SDS] = (1 << 1 | SCENE_IPSEC << 3) as u8; // de 1, scene 1: 0x0A
    wr16(
        s,
        bd2::ICVW_KMODE,
        u16::from(key_code) << 9 | u16::from(c.mode.code()) << 12,
    );
    s[bd2::C_ALG] = c.alg.code();
    wr32(s, bd2::C_LEN, c.len);
    wr64(s, bd2::C_IVIN, c.iv_addr);
    wr64(s, bd2::C_KEY, c.key_addr);
    wr64(s, bd2::SRC, c.src_addr);
    wr64(s, bd2::DST, c.dst_addr);
    Ok(())
}

fn encode_gcm_bd2(s: &mut Sqe, g: &GcmRequest) -> Result<(), SecEncodeError> {
    let key_code = check_gcm(g)?;
    let seq = u8::from(g.dir == CipherDir::Decrypt);
    s[bd2::TYPE_CIPHER_AUTH] = 2 | (g.dir.code() << 4) as u8; // auth 0 (§11)
    s[bd2::SDS] = seq | (1 << 1 | SCENE_IPSEC << 3) as u8; // 0x0A enc, 0x0B dec
    wr16(
        s,
        bd2::ICVW_KMODE,
        u16::from(g.tag_len) | u16::from(key_code) << 9 | u16::from(C_MODE_GCM) << 12,
    );
    s[bd2::C_ALG] = CipherAlg::Aes.code();
    wr32(s, bd2::A_LEN, g.aad_len);
    wr32(s, bd2::C_LEN, g.payload_len);
    wr16(s, bd2::CIPHER_SRC_OFFSET, g.aad_len as u16);
    wr64(s, bd2::A_IVIN, g.aiv_addr);
    wr64(s, bd2::A_KEY, g.key_addr);
    wr64(s, bd2::MAC, g.mac_addr);
    wr64(s, bd2::C_IVIN, g.iv_addr);
    wr64(s, bd2::C_KEY, g.key_addr);
    wr64(s, bd2::SRC, g.src_addr);
    wr64(s, bd2::DST, g.dst_addr);
    Ok(())
}

fn encode_digest_bd2(s: &mut Sqe, d: &DigestRequest) -> Result<(), SecEncodeError> {
    let (mac_words, akey_words, a_alg) = check_digest(d, BdType::Bd2)?;
    s[bd2::TYPE_CIPHER_AUTH] = 2 | 1 << 6; // auth 1 = calculate: 0x42
    s[bd2::SDS] = (SCENE_IPSEC << 3) as u8; // de 0, scene 1: 0x08
    let (ai_gen, pad) = stage_bits(d.stage);
    s[bd2::AI_APD] = (ai_gen | pad << 2) as u8;
    wr32(
        s,
        bd2::MAC_KEY_ALG,
        mac_words | akey_words << 5 | a_alg << 11,
    );
    wr32(s, bd2::A_LEN, d.len);
    if let Some(k) = d.hmac_key {
        wr64(s, bd2::A_KEY, k.addr);
    }
    if ai_gen == 1 {
        wr64(s, bd2::A_IVIN, d.mac_addr);
    }
    if let DigestStage::Last { total_len } = d.stage {
        wr64(s, bd2::LONG_A_DATA_LEN, total_len * 8);
    }
    wr64(s, bd2::MAC, d.mac_addr);
    wr64(s, bd2::SRC, d.src_addr);
    Ok(())
}

/// BD3 bd_param for type 3 with `scene` and `de` (§7.2).
const fn bd3_param(scene: u32, de: u32) -> u32 {
    3 | scene << 5 | de << 9
}

/// Returns the auth_mac_key word (without the prefetch bit).
fn encode_cipher_bd3(s: &mut Sqe, c: &CipherRequest) -> Result<u32, SecEncodeError> {
    let key_code = check_cipher(c)?;
    wr32(s, bd3::BD_PARAM, bd3_param(SCENE_IPSEC, 1)); // 0x223
    wr16(
        s,
        bd3::C_ICV_KEY,
        c.dir.code() as u16 | u16::from(key_code) << 13,
    );
    s[bd3::C_MODE_ALG] = c.mode.code() | c.alg.code() << 4;
    wr32(s, bd3::C_LEN, c.len);
    wr64(s, bd3::SRC, c.src_addr);
    wr64(s, bd3::DST, c.dst_addr);
    wr64(s, bd3::C_KEY, c.key_addr);
    wr64(s, bd3::C_IVIN, c.iv_addr);
    Ok(if c.mode == CipherMode::Ctr {
        bd3::CTR_COUNT_MODE_128
    } else {
        0
    })
}

fn encode_gcm_bd3(s: &mut Sqe, g: &GcmRequest) -> Result<u32, SecEncodeError> {
    let key_code = check_gcm(g)?;
    wr32(s, bd3::BD_PARAM, bd3_param(SCENE_IPSEC, 1)); // 0x223
    wr16(
        s,
        bd3::C_ICV_KEY,
        g.dir.code() as u16 | u16::from(g.tag_len) << 4 | u16::from(key_code) << 13,
    );
    s[bd3::C_MODE_ALG] = C_MODE_GCM | CipherAlg::Aes.code() << 4; // 0x26
    if g.dir == CipherDir::Decrypt {
        s[bd3::HUK_IV_SEQ] = 1 << 6;
    }
    wr16(s, bd3::CIPHER_SRC_OFFSET, g.aad_len as u16);
    wr32(s, bd3::A_LEN, g.aad_len);
    wr32(s, bd3::C_LEN, g.payload_len);
    wr64(s, bd3::SRC, g.src_addr);
    wr64(s, bd3::A_KEY, g.key_addr);
    wr64(s, bd3::A_IVIN, g.aiv_addr);
    wr64(s, bd3::C_KEY, g.key_addr);
    wr64(s, bd3::DST, g.dst_addr);
    wr64(s, bd3::MAC, g.mac_addr);
    wr64(s, bd3::C_IVIN, g.iv_addr);
    Ok(0) // auth bits 0 for GCM (§11)
}

fn encode_digest_bd3(s: &mut Sqe, d: &DigestRequest) -> Result<u32, SecEncodeError> {
    let (mac_words, akey_words, a_alg) = check_digest(d, BdType::Bd3)?;
    wr32(s, bd3::BD_PARAM, bd3_param(SCENE_STREAM, 0)); // 0xE3 (§11: scene 7 even one-shot)
    let (ai_gen, pad) = stage_bits(d.stage);
    s[bd3::AUTH_PAD] = pad as u8;
    wr32(s, bd3::A_LEN, d.len);
    wr64(s, bd3::SRC, d.src_addr);
    wr64(s, bd3::MAC, d.mac_addr);
    if let Some(k) = d.hmac_key {
        wr64(s, bd3::A_KEY, k.addr);
    }
    if ai_gen == 1 {
        wr64(s, bd3::A_IVIN, d.mac_addr);
    }
    if let DigestStage::Last { total_len } = d.stage {
        wr64(s, bd3::LONG_A_DATA_LEN, total_len * 8);
    }
    Ok(1 | ai_gen << 2 | mac_words << 4 | akey_words << 9 | a_alg << 15)
}

// ---------------------------------------------------------------------------------------------------------------------
// Decode (device side)
// ---------------------------------------------------------------------------------------------------------------------

/// What a device learns from a valid BD.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SecSqeView {
    /// BD format.
    pub bd_type: BdType,
    /// Tag as stored: BD2 u16 zero-extended, BD3 the whole u64.
    pub tag: u64,
    /// The operation, in the same form the driver encoded it (digest first/middle BDs report
    /// `mac_len` = full digest size).
    pub op: SecOp,
    /// BD3 auth_mac_key bit 27; always false for BD2.
    pub sva_prefetch: bool,
}

/// Raw fields common to both BD formats, gathered before interpretation.
struct Raw {
    bd: BdType,
    scene: u8,
    de: u8,
    cipher: u8,
    auth: u8,
    seq: bool,
    ai_gen: u8,
    pad: u8,
    mac_words: u32,
    akey_words: u32,
    a_alg: u8,
    icv_len: u8,
    c_width: u8,
    key_code: u8,
    c_mode: u8,
    c_alg: u8,
    a_len_word: u32,
    c_len_word: u32,
    auth_src_offset: u16,
    cipher_src_offset: u16,
    long_a_data_len: u64,
    a_ivin: u64,
    a_key: u64,
    mac: u64,
    c_ivin: u64,
    c_key: u64,
    src: u64,
    dst: u64,
    tag: u64,
    /// BD3 auth_mac_key bits 21..26 (key_sel, ctr_count_mode) and 28..31; 0 on BD2.
    amk_extra: u32,
    sva_prefetch: bool,
}

fn raw_bd2(s: &Sqe) -> Result<Raw, SecDecodeError> {
    if s[bd2::INVALID] & 0x80 != 0 {
        return Err(SecDecodeError::InvalidBd);
    }
    let b0 = s[bd2::TYPE_CIPHER_AUTH];
    let b1 = s[bd2::SDS];
    let b2 = s[bd2::SDM];
    let src_type = (b1 >> 7) | (b2 & 3) << 1;
    check_addr_types(src_type, (b2 >> 2) & 7, b2 >> 5)?;
    let mka = rd32(s, bd2::MAC_KEY_ALG);
    let icvw = rd16(s, bd2::ICVW_KMODE);
    if mka >> 17 != 0 {
        return Err(SecDecodeError::Field("mac_key_alg reserved bits"));
    }
    Ok(Raw {
        bd: BdType::Bd2,
        scene: (b1 >> 3) & 0xF,
        de: (b1 >> 1) & 3,
        cipher: (b0 >> 4) & 3,
        auth: b0 >> 6,
        seq: b1 & 1 != 0,
        ai_gen: s[bd2::AI_APD] & 3,
        pad: (s[bd2::AI_APD] >> 2) & 3,
        mac_words: mka & 0x1F,
        akey_words: (mka >> 5) & 0x3F,
        a_alg: ((mka >> 11) & 0x3F) as u8,
        icv_len: (icvw & 0x3F) as u8,
        c_width: ((icvw >> 6) & 7) as u8,
        key_code: ((icvw >> 9) & 7) as u8,
        c_mode: (icvw >> 12) as u8,
        c_alg: s[bd2::C_ALG],
        a_len_word: rd32(s, bd2::A_LEN),
        c_len_word: rd32(s, bd2::C_LEN),
        auth_src_offset: rd16(s, bd2::AUTH_SRC_OFFSET),
        cipher_src_offset: rd16(s, bd2::CIPHER_SRC_OFFSET),
        long_a_data_len: rd64(s, bd2::LONG_A_DATA_LEN),
        a_ivin: rd64(s, bd2::A_IVIN),
        a_key: rd64(s, bd2::A_KEY),
        mac: rd64(s, bd2::MAC),
        c_ivin: rd64(s, bd2::C_IVIN),
        c_key: rd64(s, bd2::C_KEY),
        src: rd64(s, bd2::SRC),
        dst: rd64(s, bd2::DST),
        tag: u64::from(rd16(s, bd2::TAG)),
        amk_extra: 0,
        sva_prefetch: false,
    })
}

fn raw_bd3(s: &Sqe) -> Result<Raw, SecDecodeError> {
    let p = rd32(s, bd3::BD_PARAM);
    if p & 1 << 4 != 0 {
        return Err(SecDecodeError::InvalidBd);
    }
    check_addr_types(
        ((p >> 11) & 7) as u8,
        ((p >> 14) & 7) as u8,
        ((p >> 17) & 7) as u8,
    )?;
    let cik = rd16(s, bd3::C_ICV_KEY);
    let amk = rd32(s, bd3::AUTH_MAC_KEY);
    Ok(Raw {
        bd: BdType::Bd3,
        scene: ((p >> 5) & 0xF) as u8,
        de: ((p >> 9) & 3) as u8,
        cipher: (cik & 3) as u8,
        auth: (amk & 3) as u8,
        seq: s[bd3::HUK_IV_SEQ] & 1 << 6 != 0,
        ai_gen: ((amk >> 2) & 3) as u8,
        pad: s[bd3::AUTH_PAD] & 3,
        mac_words: (amk >> 4) & 0x1F,
        akey_words: (amk >> 9) & 0x3F,
        a_alg: ((amk >> 15) & 0x3F) as u8,
        icv_len: ((cik >> 4) & 0x3F) as u8,
        c_width: ((cik >> 10) & 7) as u8,
        key_code: (cik >> 13) as u8,
        c_mode: s[bd3::C_MODE_ALG] & 0xF,
        c_alg: s[bd3::C_MODE_ALG] >> 4,
        a_len_word: rd32(s, bd3::A_LEN),
        c_len_word: rd32(s, bd3::C_LEN),
        auth_src_offset: rd16(s, bd3::AUTH_SRC_OFFSET),
        cipher_src_offset: rd16(s, bd3::CIPHER_SRC_OFFSET),
        long_a_data_len: rd64(s, bd3::LONG_A_DATA_LEN),
        a_ivin: rd64(s, bd3::A_IVIN),
        a_key: rd64(s, bd3::A_KEY),
        mac: rd64(s, bd3::MAC),
        c_ivin: rd64(s, bd3::C_IVIN),
        c_key: rd64(s, bd3::C_KEY),
        src: rd64(s, bd3::SRC),
        dst: rd64(s, bd3::DST),
        tag: rd64(s, bd3::TAG),
        amk_extra: amk & !(bd3::SVA_PREFETCH | 0x001F_FFFF),
        sva_prefetch: amk & bd3::SVA_PREFETCH != 0,
    })
}

fn check_addr_types(src: u8, dst: u8, mac: u8) -> Result<(), SecDecodeError> {
    for (what, t) in [("source", src), ("destination", dst), ("MAC", mac)] {
        if t != 0 {
            return Err(SecDecodeError::AddrType(what, t));
        }
    }
    Ok(())
}

fn need(addr: u64, what: &'static str) -> Result<(), SecDecodeError> {
    if addr == 0 {
        Err(SecDecodeError::NullAddress(what))
    } else {
        Ok(())
    }
}

/// Device side: decode and validate a BD (§7.1–§7.4). Never panics, whatever the 128 bytes.
///
/// Accepted: BD2/BD3; scene 0, 1 or 7; flat buffers; cipher (cipher ≠ 0, auth 0, c_mode ECB/CBC/XTS, and CTR on
/// BD3), GCM (cipher ≠ 0, auth 0, c_mode 6) and digest/HMAC (cipher 0, auth 1). Unused address fields and the
/// hardware-written words are ignored; BD3 `ctr_count_mode` is accepted as 0 or 2 for non-CTR ciphers (the kernel
/// sets 2 for every skcipher, §7.4).
pub fn decode(s: &Sqe) -> Result<SecSqeView, SecDecodeError> {
    let raw = match s[0] & 0xF {
        2 => raw_bd2(s)?,
        3 => raw_bd3(s)?,
        t => return Err(SecDecodeError::UnknownBdType(t)),
    };
    if !matches!(raw.scene, 0 | 1 | 7) {
        return Err(SecDecodeError::Scene(raw.scene));
    }
    // Bits 24..31 of a_len / c_len words (iv offsets, auth key/ivin offsets) are not used by these operations.
    if raw.a_len_word >> 24 != 0 || raw.c_len_word >> 24 != 0 {
        return Err(SecDecodeError::Field("offset bits 24..31 of a_len/c_len"));
    }
    let (a_len, c_len) = (raw.a_len_word, raw.c_len_word);
    for l in [a_len, c_len] {
        if l > MAX_DATA_LEN {
            return Err(SecDecodeError::TooLong(l));
        }
    }
    let op = match (raw.cipher, raw.auth) {
        (1 | 2, 0) if raw.c_mode == C_MODE_GCM => SecOp::Aead(decode_gcm(&raw)?),
        (1 | 2, 0) => SecOp::Cipher(decode_cipher(&raw)?),
        (0, 1) => SecOp::Digest(decode_digest(&raw)?),
        (cipher, auth) => return Err(SecDecodeError::UnsupportedOp { cipher, auth }),
    };
    Ok(SecSqeView {
        bd_type: raw.bd,
        tag: raw.tag,
        op,
        sva_prefetch: raw.sva_prefetch,
    })
}

const fn dir_of(code: u8) -> CipherDir {
    if code == 1 {
        CipherDir::Encrypt
    } else {
        CipherDir::Decrypt
    }
}

fn decode_cipher(r: &Raw) -> Result<CipherRequest, SecDecodeError> {
    let alg = CipherAlg::from_code(r.c_alg).ok_or(SecDecodeError::CAlg(r.c_alg))?;
    let mode = CipherMode::from_code(r.c_mode).ok_or(SecDecodeError::CMode(r.c_mode))?;
    if mode == CipherMode::Ctr && r.bd == BdType::Bd2 {
        return Err(SecDecodeError::CtrOnBd2);
    }
    let key_len = key_len_from_code(alg, mode == CipherMode::Xts, r.key_code)
        .ok_or(SecDecodeError::KeyLenCode(r.key_code))?;
    if r.de != 1 {
        return Err(SecDecodeError::Field("de must be 1 for cipher"));
    }
    if r.seq || r.icv_len != 0 || r.c_width != 0 {
        return Err(SecDecodeError::Field(
            "seq/c_icv_len/c_width set for a plain cipher",
        ));
    }
    if r.mac_words != 0 || r.akey_words != 0 || r.a_alg != 0 || r.ai_gen != 0 || r.pad != 0 {
        return Err(SecDecodeError::Field("auth fields set for a plain cipher"));
    }
    let ctr_bits = r.amk_extra;
    let ctr_ok = match mode {
        CipherMode::Ctr => ctr_bits == bd3::CTR_COUNT_MODE_128,
        _ => ctr_bits == 0 || ctr_bits == bd3::CTR_COUNT_MODE_128,
    };
    if !ctr_ok {
        return Err(SecDecodeError::Field("BD3 ctr_count_mode / key_sel"));
    }
    if r.a_len_word != 0
        || r.auth_src_offset != 0
        || r.cipher_src_offset != 0
        || r.long_a_data_len != 0
    {
        return Err(SecDecodeError::Lengths(
            "a_len/offsets nonzero for a plain cipher",
        ));
    }
    let len = r.c_len_word;
    let len_ok = match mode {
        CipherMode::Ecb | CipherMode::Cbc => len != 0 && len % 16 == 0,
        CipherMode::Xts => len >= 16,
        CipherMode::Ctr => len != 0,
    };
    if !len_ok {
        return Err(SecDecodeError::Lengths("c_len invalid for the mode"));
    }
    need(r.c_key, "key")?;
    if mode != CipherMode::Ecb {
        need(r.c_ivin, "IV")?;
    }
    need(r.src, "source")?;
    need(r.dst, "destination")?;
    Ok(CipherRequest {
        alg,
        mode,
        dir: dir_of(r.cipher),
        key_addr: r.c_key,
        key_len,
        iv_addr: r.c_ivin,
        src_addr: r.src,
        dst_addr: r.dst,
        len,
    })
}

fn decode_gcm(r: &Raw) -> Result<GcmRequest, SecDecodeError> {
    if r.c_alg != CipherAlg::Aes.code() {
        return Err(SecDecodeError::CAlg(r.c_alg));
    }
    let key_len = key_len_from_code(CipherAlg::Aes, false, r.key_code)
        .ok_or(SecDecodeError::KeyLenCode(r.key_code))?;
    if r.de != 1 {
        return Err(SecDecodeError::Field("de must be 1 for AEAD"));
    }
    if !(4..=16).contains(&r.icv_len) || r.c_width != 0 {
        return Err(SecDecodeError::Field("c_icv_len must be 4..=16 for GCM"));
    }
    let dir = dir_of(r.cipher);
    if r.seq != (dir == CipherDir::Decrypt) {
        return Err(SecDecodeError::Field(
            "seq must be set exactly for GCM decrypt",
        ));
    }
    let amk_bits_ok = r.amk_extra == 0 || r.amk_extra == bd3::CTR_COUNT_MODE_128;
    if r.mac_words != 0
        || r.akey_words != 0
        || r.a_alg != 0
        || r.ai_gen != 0
        || r.pad != 0
        || !amk_bits_ok
    {
        return Err(SecDecodeError::Field("auth fields must be 0 for GCM"));
    }
    if r.a_len_word != u32::from(r.cipher_src_offset)
        || r.auth_src_offset != 0
        || r.long_a_data_len != 0
    {
        return Err(SecDecodeError::Lengths(
            "GCM needs a_len = cipher_src_offset = AAD, auth_src_offset 0",
        ));
    }
    let (aad_len, payload_len) = (r.a_len_word, r.c_len_word);
    if aad_len + payload_len > MAX_DATA_LEN {
        return Err(SecDecodeError::TooLong(aad_len + payload_len));
    }
    need(r.c_key, "key")?;
    need(r.c_ivin, "IV")?;
    need(r.a_ivin, "auth IV")?;
    need(r.mac, "MAC")?;
    if aad_len + payload_len != 0 {
        need(r.src, "source")?;
    }
    if payload_len != 0 {
        need(r.dst, "destination")?;
    }
    Ok(GcmRequest {
        dir,
        key_addr: r.c_key,
        key_len,
        iv_addr: r.c_ivin,
        aiv_addr: r.a_ivin,
        src_addr: r.src,
        dst_addr: r.dst,
        aad_len,
        payload_len,
        mac_addr: r.mac,
        tag_len: r.icv_len,
    })
}

fn decode_digest(r: &Raw) -> Result<DigestRequest, SecDecodeError> {
    let (alg, hmac) = DigestAlg::from_a_alg(r.a_alg).ok_or(SecDecodeError::AAlg(r.a_alg))?;
    if r.de != 0 {
        return Err(SecDecodeError::Field("de must be 0 for digest"));
    }
    if r.seq || r.amk_extra != 0 {
        return Err(SecDecodeError::Field(
            "seq / BD3 key_sel / ctr_count_mode set for digest",
        ));
    }
    if r.c_len_word != 0 || r.cipher_src_offset != 0 || r.auth_src_offset != 0 {
        return Err(SecDecodeError::Lengths("c_len/offsets nonzero for digest"));
    }
    let len = r.a_len_word;
    let stage = match (r.ai_gen, r.pad) {
        (0, 0) => DigestStage::OneShot,
        (0, 1) => DigestStage::First,
        (1, 1) => DigestStage::Middle,
        (1, 0) => {
            if r.long_a_data_len % 8 != 0 || r.long_a_data_len / 8 < u64::from(len) {
                return Err(SecDecodeError::Lengths(
                    "long_a_data_len must be the total length in bits",
                ));
            }
            DigestStage::Last {
                total_len: r.long_a_data_len / 8,
            }
        }
        _ => return Err(SecDecodeError::Field("ai_gen / auth pad")),
    };
    if !matches!(stage, DigestStage::Last { .. }) && r.long_a_data_len != 0 {
        return Err(SecDecodeError::Lengths(
            "long_a_data_len set outside the last long-hash BD",
        ));
    }
    let block_stage = matches!(stage, DigestStage::First | DigestStage::Middle);
    if (block_stage && (len == 0 || len % alg.block_len() != 0))
        || (r.bd == BdType::Bd2 && len == 0)
    {
        return Err(SecDecodeError::Lengths(
            "a_len invalid for the digest stage",
        ));
    }
    let full = alg.digest_len() / 4;
    let mac_len = if block_stage {
        let want = if hmac { full } else { 0 };
        if r.mac_words != want {
            return Err(SecDecodeError::Field(
                "mac_len of an intermediate long-hash BD",
            ));
        }
        alg.digest_len()
    } else {
        if r.mac_words == 0 || r.mac_words > full {
            return Err(SecDecodeError::Field("mac_len"));
        }
        r.mac_words * 4
    };
    let hmac_key = if hmac {
        let klen = r.akey_words * 4;
        if klen == 0 || klen > alg.block_len() {
            return Err(SecDecodeError::Field("a_key_len"));
        }
        need(r.a_key, "HMAC key")?;
        Some(HmacKey {
            addr: r.a_key,
            len: klen,
        })
    } else {
        if r.akey_words != 0 {
            return Err(SecDecodeError::Field("a_key_len set for a plain hash"));
        }
        None
    };
    if r.ai_gen == 1 && r.a_ivin != r.mac {
        return Err(SecDecodeError::Field(
            "a_ivin must equal mac_addr for middle/last long-hash BDs",
        ));
    }
    if len != 0 {
        need(r.src, "source")?;
    }
    need(r.mac, "MAC")?;
    Ok(DigestRequest {
        alg,
        hmac_key,
        src_addr: r.src,
        len,
        mac_addr: r.mac,
        mac_len,
        stage,
    })
}

// ---------------------------------------------------------------------------------------------------------------------
// Results
// ---------------------------------------------------------------------------------------------------------------------

/// ICV value reporting a MAC mismatch (§7.1, §8).
pub const ICV_MISMATCH: u8 = 2;
/// `flag` for a successful cipher or digest (§8).
pub const FLAG_CIPHER: u8 = 2;
/// `flag` for a successful AEAD (§8).
pub const FLAG_AEAD: u8 = 3;

/// What the device writes into bytes 112..114 (same place in BD2 and BD3, §7.1, §7.2, §8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SecResult {
    /// `done` (bit 0): 1 = the task completed.
    pub done: bool,
    /// `icv` (bits 1..3): 2 = MAC mismatch.
    pub icv: u8,
    /// `flag` (bits 7..10): 2 cipher/digest, 3 AEAD (what the kernel checks).
    pub flag: u8,
    /// `error_type` (byte 114): 0 = OK.
    pub error_type: u8,
}

impl SecResult {
    /// Success for an operation of `kind`: done 1, icv 0, flag 2 (cipher, digest) or 3 (AEAD), error_type 0 (§8).
    pub const fn success(kind: SecOpKind) -> SecResult {
        let flag = match kind {
            SecOpKind::Aead => FLAG_AEAD,
            SecOpKind::Cipher | SecOpKind::Digest => FLAG_CIPHER,
        };
        SecResult {
            done: true,
            icv: 0,
            flag,
            error_type: 0,
        }
    }

    /// An AEAD open whose tag did not verify: done 1, icv 2, flag 3 (§8).
    pub const fn mac_mismatch() -> SecResult {
        SecResult {
            done: true,
            icv: ICV_MISMATCH,
            flag: FLAG_AEAD,
            error_type: 0,
        }
    }
}

/// Device side: write `done`, `icv`, `flag` and `error_type` in place; csc/dif bits, `warning_type` and every other
/// byte are left unchanged. `icv` is masked to 3 bits and `flag` to 4.
pub fn write_result(s: &mut Sqe, res: &SecResult) {
    let keep = rd16(s, DONE_FLAG) & !(0x1 | 0xE | 0x780);
    let w =
        keep | u16::from(res.done) | u16::from(res.icv & 7) << 1 | u16::from(res.flag & 0xF) << 7;
    wr16(s, DONE_FLAG, w);
    s[ERROR_TYPE] = res.error_type;
}

/// A completed BD as the driver reads it (§8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SecCompletion {
    /// Byte 0 bits 0..3 (2 or 3 for BDs this crate wrote).
    pub bd_type: u8,
    /// Tag: BD2 u16 at byte 40; otherwise the BD3 u64 at byte 8.
    pub tag: u64,
    /// `done` bit.
    pub done: bool,
    /// `icv` field.
    pub icv: u8,
    /// `flag` field.
    pub flag: u8,
    /// `error_type`.
    pub error_type: u8,
    /// `warning_type`.
    pub warning_type: u8,
}

/// Classification of a completion (§8, UADK rules).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SecOutcome {
    /// done = 1, error_type = 0, icv ≠ 2.
    Ok,
    /// icv = 2: AEAD tag mismatch (kernel −EBADMSG).
    MacMismatch,
    /// done ≠ 1 or error_type ≠ 0.
    DeviceError {
        /// The done bit.
        done: bool,
        /// error_type.
        error_type: u8,
    },
}

impl SecCompletion {
    /// Classify: MAC mismatch first, then done/error_type (§8). `flag` is not checked (UADK ignores it).
    pub const fn outcome(&self) -> SecOutcome {
        if self.icv == ICV_MISMATCH {
            SecOutcome::MacMismatch
        } else if self.done && self.error_type == 0 {
            SecOutcome::Ok
        } else {
            SecOutcome::DeviceError {
                done: self.done,
                error_type: self.error_type,
            }
        }
    }
}

/// Driver side: read the tag of a BD (BD2: u16 at byte 40; anything else: BD3 u64 at byte 8).
pub fn read_tag(s: &Sqe) -> u64 {
    if s[0] & 0xF == 2 {
        u64::from(rd16(s, bd2::TAG))
    } else {
        rd64(s, bd3::TAG)
    }
}

/// Driver side: read a completed BD. Never panics.
pub fn read_result(s: &Sqe) -> SecCompletion {
    let w = rd16(s, DONE_FLAG);
    SecCompletion {
        bd_type: s[0] & 0xF,
        tag: read_tag(s),
        done: w & 1 != 0,
        icv: ((w >> 1) & 7) as u8,
        flag: ((w >> 7) & 0xF) as u8,
        error_type: s[ERROR_TYPE],
        warning_type: s[WARNING_TYPE],
    }
}
