//! HiSilicon SEC BD (SQE) encode (driver side) and decode / result write-back (device side).
//!
//! Layouts: `hisi-qm-protocol.md` §7.1 (BD type 2, hw v2) and §7.2 (BD type 3, hw v3); codes §7.3; fill rules §7.4;
//! completion §8; observed behaviour §11. All multi-byte fields are little-endian.
//!
//! Supported operations:
//! * cipher: AES-128/192/256 and SM4 in ECB, CBC, XTS (key = key1‖key2), and on BD3 only CTR (§11), OFB, CFB and
//!   CBC-CS1/2/3 (c_mode 9, c_width 1..=3);
//! * AEAD: AES-GCM seal/open, block mode (AAD in front of the payload in `src`);
//! * authenc: AES-CBC + HMAC-SHA-1/256/512 in one pass, encrypt-then-MAC ([`AuthencRequest`], BD2 and BD3);
//! * digest: SM3, MD5, SHA-1, SHA-224/256/384/512, SHA-512/224, SHA-512/256 and their HMACs, one-shot and long-hash
//!   first/middle/last stages (all on BD2 and BD3);
//! * CCM with AES (BD2, BD3) or SM4 (BD3), SM4-GCM (BD3) ([`XcmRequest`]), and the AES MACs CMAC, XCBC-MAC (BD2,
//!   BD3) and GMAC (BD3) ([`MacRequest`]); see the `xcm_mac` module and `uacce-sys/docs/sec-ccm-mac.md`.
//!
//! The driver builds a [`SecRequest`], [`encode`]s it for its [`QmVersion`] and, after completion, reads the
//! hardware-written words with [`read_result`]. A device [`decode`]s strictly (never panicking on any 128 bytes) and
//! writes its result with [`write_result`], which leaves every other field unchanged (§8).
//!
//! The module is split by side: `layout` (byte offsets and bit fields of BD2/BD3), `driver` (validation, encode,
//! completion reading), `device` (strict decode, result write-back); the shared types (algorithms, requests,
//! errors, outcome) are here, and everything public is re-exported here.

mod authenc;
mod device;
mod driver;
mod layout;
mod xcm_mac;

pub use authenc::AuthencRequest;

pub use device::{SecResult, SecSqeView, decode, write_result};
pub use driver::{SecCompletion, encode, read_result, read_tag};
pub use layout::{FLAG_AEAD, FLAG_CIPHER, ICV_MISMATCH, MAX_DATA_LEN, SVA_PREFETCH_MAX_LEN};
pub use xcm_mac::{
    MAX_CCM_AAD_LEN, MacAlg, MacRequest, XcmMode, XcmRequest, ccm_b0, ccm_counter_block,
};

use super::QmVersion;

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
///
/// BD2 (hw v2) does ECB, CBC and XTS; BD3 (hw v3) adds CTR, OFB, CFB and CBC-CS1/2/3 (UADK
/// `fill_cipher_bd2_mode` / `fill_cipher_bd3_mode`).
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
    /// OFB, code 3. BD3 only; any nonzero length.
    Ofb,
    /// CFB with 128-bit segments (CFB-128), code 2. BD3 only; any nonzero length.
    Cfb,
    /// CBC with ciphertext stealing, variant CS1 of NIST SP 800-38A Addendum: code 9 with `c_width` 1. BD3 only
    /// (UADK `fill_cipher_bd3_mode`; its BD2 fill refuses CBC-CS); more than 16 bytes (UADK's `aes_len_check`
    /// for AES; UADK checks no length for SM4-CBC-CS, this crate applies the same rule to it).
    CbcCs1,
    /// CBC-CS2 (last two blocks swapped when the last is partial): code 9, `c_width` 2. BD3 only; > 16 bytes.
    CbcCs2,
    /// CBC-CS3 (last two blocks always swapped, as Kerberos, RFC 3962): code 9, `c_width` 3. BD3 only; > 16 bytes.
    CbcCs3,
}

impl CipherMode {
    const fn code(self) -> u8 {
        match self {
            CipherMode::Ecb => 0,
            CipherMode::Cbc => 1,
            CipherMode::Cfb => 2,
            CipherMode::Ofb => 3,
            CipherMode::Ctr => 4,
            CipherMode::Xts => 7,
            CipherMode::CbcCs1 | CipherMode::CbcCs2 | CipherMode::CbcCs3 => C_MODE_CBC_CS,
        }
    }

    /// `c_width` of the mode: 1, 2, 3 for CBC-CS1/2/3 (UADK `C_WIDTH_CS1..3`), 0 for the others.
    pub const fn c_width(self) -> u8 {
        match self {
            CipherMode::CbcCs1 => 1,
            CipherMode::CbcCs2 => 2,
            CipherMode::CbcCs3 => 3,
            _ => 0,
        }
    }

    /// The mode of a `(c_mode, c_width)` pair: CBC-CS from code 9 with width 1..=3, the others from their code
    /// (their width is checked separately).
    const fn from_fields(c_mode: u8, c_width: u8) -> Option<CipherMode> {
        match (c_mode, c_width) {
            (C_MODE_CBC_CS, 1) => Some(CipherMode::CbcCs1),
            (C_MODE_CBC_CS, 2) => Some(CipherMode::CbcCs2),
            (C_MODE_CBC_CS, 3) => Some(CipherMode::CbcCs3),
            (C_MODE_CBC_CS, _) => None,
            (c, _) => CipherMode::from_code(c),
        }
    }
    const fn from_code(c: u8) -> Option<CipherMode> {
        match c {
            0 => Some(CipherMode::Ecb),
            1 => Some(CipherMode::Cbc),
            2 => Some(CipherMode::Cfb),
            3 => Some(CipherMode::Ofb),
            4 => Some(CipherMode::Ctr),
            7 => Some(CipherMode::Xts),
            _ => None,
        }
    }

    /// True for the modes BD2 (hw v2) does: ECB, CBC, XTS.
    pub const fn on_bd2(self) -> bool {
        matches!(self, CipherMode::Ecb | CipherMode::Cbc | CipherMode::Xts)
    }

    /// Whether `len` bytes are a valid data length for the mode (ECB/CBC: a nonzero multiple of 16; XTS: ≥ 16;
    /// CTR, OFB, CFB: nonzero).
    pub const fn len_ok(self, len: u32) -> bool {
        match self {
            CipherMode::Ecb | CipherMode::Cbc => len != 0 && len.is_multiple_of(16),
            CipherMode::Xts => len >= 16,
            CipherMode::Ctr | CipherMode::Ofb | CipherMode::Cfb => len != 0,
            CipherMode::CbcCs1 | CipherMode::CbcCs2 | CipherMode::CbcCs3 => len > 16,
        }
    }
}

/// `c_mode` code of GCM (§7.3).
const C_MODE_GCM: u8 = 6;
/// `c_mode` code of CBC-CS (§7.3); `c_width` picks the variant.
const C_MODE_CBC_CS: u8 = 9;

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
        if !key_len.is_multiple_of(2) {
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

/// Hash function of a digest or HMAC (`a_alg`, §7.3). Every one of them is done by the device on BD2 (hw v2) and
/// BD3 (hw v3): UADK's `hisi_sec.c` fills the same `a_alg` tables for both BD types and refuses none by hardware
/// version (only zero-length data on BD2, and zero-length long-hash parts on both).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DigestAlg {
    /// SM3 (GB/T 32905): a_alg 0x25 (HMAC 0x26), 32-byte digest, 64-byte block.
    Sm3,
    /// MD5 (RFC 1321; legacy, broken for collision resistance): 0x02 (0x12), 16 bytes, 64-byte block.
    Md5,
    /// SHA-1 (legacy, broken for collision resistance): a_alg 0x00 (HMAC 0x10), 20-byte digest, 64-byte block.
    Sha1,
    /// SHA-224: 0x03 (0x13), 28 bytes, 64-byte block.
    Sha224,
    /// SHA-256: 0x01 (0x11), 32 bytes, 64-byte block.
    Sha256,
    /// SHA-384: 0x04 (0x14), 48 bytes, 128-byte block.
    Sha384,
    /// SHA-512: 0x05 (0x15), 64 bytes, 128-byte block.
    Sha512,
    /// SHA-512/224: 0x06 (0x16), 28 bytes, 128-byte block.
    Sha512_224,
    /// SHA-512/256: 0x07 (0x17), 32 bytes, 128-byte block.
    Sha512_256,
}

impl DigestAlg {
    /// Every hash function the BD formats name, in UADK's `wd_digest_type` order.
    pub const ALL: [DigestAlg; 9] = [
        DigestAlg::Sm3,
        DigestAlg::Md5,
        DigestAlg::Sha1,
        DigestAlg::Sha256,
        DigestAlg::Sha224,
        DigestAlg::Sha384,
        DigestAlg::Sha512,
        DigestAlg::Sha512_224,
        DigestAlg::Sha512_256,
    ];

    /// The plain-hash `a_alg` code (§7.3).
    pub const fn a_alg(self) -> u8 {
        match self {
            DigestAlg::Sha1 => 0x00,
            DigestAlg::Sha256 => 0x01,
            DigestAlg::Md5 => 0x02,
            DigestAlg::Sha224 => 0x03,
            DigestAlg::Sha384 => 0x04,
            DigestAlg::Sha512 => 0x05,
            DigestAlg::Sha512_224 => 0x06,
            DigestAlg::Sha512_256 => 0x07,
            DigestAlg::Sm3 => 0x25,
        }
    }

    /// The HMAC `a_alg` code (§7.3): the plain code + 0x10 for MD5 and the SHAs, 0x26 for SM3 (not 0x35).
    pub const fn hmac_a_alg(self) -> u8 {
        match self {
            DigestAlg::Sm3 => 0x26,
            other => other.a_alg() | 0x10,
        }
    }

    const fn from_a_alg(c: u8) -> Option<(DigestAlg, bool)> {
        let mut i = 0;
        while i < DigestAlg::ALL.len() {
            let alg = DigestAlg::ALL[i];
            if alg.a_alg() == c {
                return Some((alg, false));
            }
            if alg.hmac_a_alg() == c {
                return Some((alg, true));
            }
            i += 1;
        }
        None
    }

    /// Digest size in bytes (the full `mac_len` × 4, §7.3 table).
    pub const fn digest_len(self) -> u32 {
        match self {
            DigestAlg::Md5 => 16,
            DigestAlg::Sha1 => 20,
            DigestAlg::Sha224 | DigestAlg::Sha512_224 => 28,
            DigestAlg::Sha256 | DigestAlg::Sm3 | DigestAlg::Sha512_256 => 32,
            DigestAlg::Sha384 => 48,
            DigestAlg::Sha512 => 64,
        }
    }

    /// Block size in bytes: first/middle long-hash parts must be a multiple of it (§7.4; UADK aligns SHA-384 and the
    /// SHA-512 family to 128, everything else to 64).
    pub const fn block_len(self) -> u32 {
        match self {
            DigestAlg::Sm3
            | DigestAlg::Md5
            | DigestAlg::Sha1
            | DigestAlg::Sha224
            | DigestAlg::Sha256 => 64,
            DigestAlg::Sha384
            | DigestAlg::Sha512
            | DigestAlg::Sha512_224
            | DigestAlg::Sha512_256 => 128,
        }
    }

    /// `mac_len` in words of an intermediate (first/middle) long-hash BD (§7.3, §7.4): the full length for HMACs
    /// and for plain SM3 ("SM3 can't config 0", UADK), 0 (= full) for the other plain hashes.
    pub const fn intermediate_mac_words(self, hmac: bool) -> u32 {
        if hmac || matches!(self, DigestAlg::Sm3) {
            self.digest_len() / 4
        } else {
            0
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
    /// Authenc: AES-CBC + HMAC in one pass (completes with the AEAD flag).
    Authenc(AuthencRequest),
    /// CCM (AES, SM4) or SM4-GCM.
    Xcm(XcmRequest),
    /// AES-CMAC, AES-XCBC-MAC or AES-GMAC (a digest BD).
    Mac(MacRequest),
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
            SecOp::Aead(_) | SecOp::Authenc(_) | SecOp::Xcm(_) => SecOpKind::Aead,
            SecOp::Digest(_) | SecOp::Mac(_) => SecOpKind::Digest,
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
    /// OFB or CFB on BD2 (hw v2): UADK's BD2 fill refuses them; route them to the CPU backend.
    #[error("{0:?} mode is not supported with BD type 2 (hw v2)")]
    ModeNotOnBd2(CipherMode),
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
    /// An authenc hash other than SHA-1, SHA-256, SHA-512.
    #[error("{0:?} is not an authenc hash (SHA-1, SHA-256, SHA-512)")]
    AuthencHash(DigestAlg),
    /// An algorithm BD2 (hw v2) does not do: SM4-CCM, SM4-GCM, GMAC (UADK's BD2 fill refuses or cannot express
    /// them); route it to the CPU backend.
    #[error("{0} is not supported with BD type 2 (hw v2)")]
    NotOnBd2(&'static str),
    /// A request whose fields belong to another request type (AES-GCM as an [`XcmRequest`], an IV for CMAC).
    #[error("malformed request: {0}")]
    WrongRequest(&'static str),
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
    /// A cipher/auth combination not supported (copy, none, cipher 1 with auth verify, cipher 2 with auth calculate,
    /// …); authenc is (1, 1) and (2, 2).
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
    /// OFB or CFB on BD2.
    #[error("{0:?} mode is not supported with BD type 2")]
    ModeNotOnBd2(CipherMode),
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
