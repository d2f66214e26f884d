//! HiSilicon HPRE (public-key engine) SQE: encode (driver side) and strict decode / result write-back (device side).
//!
//! Facts: `hisi-qm-protocol.md` §12 (the 64-byte SQE §12.2, algorithm codes §12.3, block layouts §12.4, worked
//! examples §12.5, captured SQEs §12.7), checked against UADK's `drv/hisi_hpre.c` / `wd_ecc.c` / `wd_rsa.c` /
//! `wd_dh.c` and the kernel's `drivers/crypto/hisilicon/hpre/hpre_crypto.c` and `hpre_main.c`. The decisions this
//! module takes where the sources leave room are listed in `uacce-sys/docs/hpre.md`.
//!
//! * The SQE is 64 bytes ([`HPRE_SQE_SIZE`]); a queue's ring takes that size from `SET_QP_INFO`
//!   ([`RingLayout::for_queue`](crate::qm::RingLayout::for_queue)).
//! * Two queue types ([`HpreQcType`]): 0 for RSA and DH, 1 for every ECC algorithm. ECC needs hardware v3
//!   ([`HpreAlg::min_version`]); the sysfs `algorithms` list says what a device has ([`algorithms`]).
//! * The engine is raw: RSA padding, hashing, X25519/X448 clamping and every byte-order conversion are software's.
//!   The key, input and output blocks are big-endian numbers right-aligned in fixed-width fields
//!   ([`layout`]).
//!
//! The driver builds an [`HpreRequest`], checks it with [`HpreRequest::validate`], [`encode`]s it and after the
//! completion reads the device's words with [`read_result`]. A device [`decode`]s strictly (never panicking on any
//! 64 bytes) and writes its result with [`write_result`], which leaves every other field unchanged.

mod device;
mod driver;
pub mod layout;

pub use device::{HpreResult, HpreSqeView, decode, write_result};
pub use driver::{HpreCompletion, HpreOutcome, encode, read_result};
pub use layout::{DONE_INIT, DONE_TASK, SM2_MAX_SINGLE_MSG, ecc_width, task_len1};

pub use super::HPRE_SQE_SIZE;
use super::QmVersion;

/// One HPRE SQE as it sits in the ring (64 bytes).
pub type HpreSqe = [u8; HPRE_SQE_SIZE];

// ---------------------------------------------------------------------------------------------------------------------
// Algorithm codes (§12.3)
// ---------------------------------------------------------------------------------------------------------------------

/// The SQE's `alg` field (dw0 bits 0..4), every code UADK or the kernel sends (§12.3). Codes 0x06–0x0C (prime
/// test, modular reduce/inverse/multiply, coprime test, curve test, "ECDH plus") are defined in the headers but
/// neither UADK nor the kernel sends them; they are not represented, and a device refuses them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HpreAlg {
    /// 0x00 NC_NCRT: `in^key mod n` with key block e‖n (public) or d‖n (non-CRT private).
    RsaNonCrt,
    /// 0x01 NC_CRT: RSA private with the CRT block dq‖dp‖q‖p‖qinv.
    RsaCrt,
    /// 0x02 KG_STD: RSA key generation from e, p, q; out = d‖n.
    RsaKeygen,
    /// 0x03 KG_CRT: RSA key generation, CRT form; out = d‖n‖qinv‖dq‖dp.
    RsaKeygenCrt,
    /// 0x04 DH_G2: `2^x mod p` (no input). Only the kernel sends it; UADK always uses [`HpreAlg::Dh`].
    DhG2,
    /// 0x05 DH: `in^x mod p`.
    Dh,
    /// 0x0D ECDH_MULTIPLY (kernel: ECC_MUL): k·P.
    EcdhMultiply,
    /// 0x0E ECDSA sign of a digest with a given k.
    EcdsaSign,
    /// 0x0F ECDSA verify (result in dw6 bit 1).
    EcdsaVerify,
    /// 0x10 X_DH_MULTIPLY (kernel: CURVE25519_MUL): the X25519 / X448 Montgomery ladder.
    XdhMultiply,
    /// 0x11 SM2 key generation.
    Sm2Keygen,
    /// 0x12 SM2 sign of a digest e = H(ZA‖M).
    Sm2Sign,
    /// 0x13 SM2 verify (result in dw6 bit 1).
    Sm2Verify,
    /// 0x14 SM2 encrypt, one SQE (message ≤ 512 bytes, SM3).
    Sm2Encrypt,
    /// 0x15 SM2 decrypt, one SQE.
    Sm2Decrypt,
}

impl HpreAlg {
    /// Every algorithm, in code order.
    pub const ALL: [HpreAlg; 15] = [
        HpreAlg::RsaNonCrt,
        HpreAlg::RsaCrt,
        HpreAlg::RsaKeygen,
        HpreAlg::RsaKeygenCrt,
        HpreAlg::DhG2,
        HpreAlg::Dh,
        HpreAlg::EcdhMultiply,
        HpreAlg::EcdsaSign,
        HpreAlg::EcdsaVerify,
        HpreAlg::XdhMultiply,
        HpreAlg::Sm2Keygen,
        HpreAlg::Sm2Sign,
        HpreAlg::Sm2Verify,
        HpreAlg::Sm2Encrypt,
        HpreAlg::Sm2Decrypt,
    ];

    /// The 5-bit code.
    pub const fn code(self) -> u8 {
        match self {
            HpreAlg::RsaNonCrt => 0x00,
            HpreAlg::RsaCrt => 0x01,
            HpreAlg::RsaKeygen => 0x02,
            HpreAlg::RsaKeygenCrt => 0x03,
            HpreAlg::DhG2 => 0x04,
            HpreAlg::Dh => 0x05,
            HpreAlg::EcdhMultiply => 0x0D,
            HpreAlg::EcdsaSign => 0x0E,
            HpreAlg::EcdsaVerify => 0x0F,
            HpreAlg::XdhMultiply => 0x10,
            HpreAlg::Sm2Keygen => 0x11,
            HpreAlg::Sm2Sign => 0x12,
            HpreAlg::Sm2Verify => 0x13,
            HpreAlg::Sm2Encrypt => 0x14,
            HpreAlg::Sm2Decrypt => 0x15,
        }
    }

    /// The algorithm of a code, `None` for codes nobody sends.
    pub const fn from_code(code: u8) -> Option<HpreAlg> {
        Some(match code {
            0x00 => HpreAlg::RsaNonCrt,
            0x01 => HpreAlg::RsaCrt,
            0x02 => HpreAlg::RsaKeygen,
            0x03 => HpreAlg::RsaKeygenCrt,
            0x04 => HpreAlg::DhG2,
            0x05 => HpreAlg::Dh,
            0x0D => HpreAlg::EcdhMultiply,
            0x0E => HpreAlg::EcdsaSign,
            0x0F => HpreAlg::EcdsaVerify,
            0x10 => HpreAlg::XdhMultiply,
            0x11 => HpreAlg::Sm2Keygen,
            0x12 => HpreAlg::Sm2Sign,
            0x13 => HpreAlg::Sm2Verify,
            0x14 => HpreAlg::Sm2Encrypt,
            0x15 => HpreAlg::Sm2Decrypt,
            _ => return None,
        })
    }

    /// The queue type the algorithm runs on: RSA and DH on type 0, every ECC algorithm on type 1 (§12.1; UADK's
    /// rsa/dh drivers always open type 0, its ECC drivers type 1; the kernel does the same).
    pub const fn qc_type(self) -> HpreQcType {
        match self {
            HpreAlg::RsaNonCrt
            | HpreAlg::RsaCrt
            | HpreAlg::RsaKeygen
            | HpreAlg::RsaKeygenCrt
            | HpreAlg::DhG2
            | HpreAlg::Dh => HpreQcType::RsaDh,
            _ => HpreQcType::Ecc,
        }
    }

    /// The oldest hardware that has the algorithm: RSA and DH from v2 (Kunpeng 920), ECC from v3 (Kunpeng 930).
    /// The kernel refuses HPRE on QM v1 altogether.
    pub const fn min_version(self) -> QmVersion {
        match self.qc_type() {
            HpreQcType::RsaDh => QmVersion::V2,
            HpreQcType::Ecc => QmVersion::V3,
        }
    }

    /// True if hardware of `version` has the algorithm.
    pub fn supported_on(self, version: QmVersion) -> bool {
        version >= self.min_version()
    }

    /// The sysfs `algorithms` line that announces the algorithm (UADK matches these whole lines).
    pub const fn sysfs_name(self) -> &'static str {
        match self {
            HpreAlg::RsaNonCrt | HpreAlg::RsaCrt | HpreAlg::RsaKeygen | HpreAlg::RsaKeygenCrt => {
                "rsa"
            }
            HpreAlg::DhG2 | HpreAlg::Dh => "dh",
            HpreAlg::EcdhMultiply => "ecdh",
            HpreAlg::EcdsaSign | HpreAlg::EcdsaVerify => "ecdsa",
            HpreAlg::XdhMultiply => "x25519",
            HpreAlg::Sm2Keygen
            | HpreAlg::Sm2Sign
            | HpreAlg::Sm2Verify
            | HpreAlg::Sm2Encrypt
            | HpreAlg::Sm2Decrypt => "sm2",
        }
    }

    /// True for the verify algorithms, whose result is dw6 bit 1 and which write no output buffer.
    pub const fn is_verify(self) -> bool {
        matches!(self, HpreAlg::EcdsaVerify | HpreAlg::Sm2Verify)
    }

    /// True if the SQE carries no input address (RSA keygen, DH with g = 2).
    pub const fn has_no_input(self) -> bool {
        matches!(
            self,
            HpreAlg::RsaKeygen | HpreAlg::RsaKeygenCrt | HpreAlg::DhG2
        )
    }

    /// True if `width` (bytes per field; k for RSA/DH, h for ECC) is one the hardware takes for this algorithm
    /// (§12.1 "Sizes accepted", §12.4).
    pub fn width_ok(self, width: usize) -> bool {
        match self {
            // NC_NCRT is both the RSA public and the non-CRT private operation: the RSA widths.
            HpreAlg::RsaNonCrt | HpreAlg::RsaCrt | HpreAlg::RsaKeygen | HpreAlg::RsaKeygenCrt => {
                layout::RSA_KEY_BYTES.contains(&width)
            }
            HpreAlg::DhG2 | HpreAlg::Dh => layout::DH_KEY_BYTES.contains(&width),
            HpreAlg::EcdhMultiply | HpreAlg::EcdsaSign | HpreAlg::EcdsaVerify => {
                layout::ECC_WIDTHS.contains(&width)
            }
            HpreAlg::XdhMultiply => width == 32 || width == 72,
            HpreAlg::Sm2Keygen
            | HpreAlg::Sm2Sign
            | HpreAlg::Sm2Verify
            | HpreAlg::Sm2Encrypt
            | HpreAlg::Sm2Decrypt => width == 32,
        }
    }
}

/// The HPRE queue type (`SET_QP_CTX` qc_type, §12.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HpreQcType {
    /// 0: RSA and DH (the "v2 algorithms").
    RsaDh,
    /// 1: ECDH, ECDSA, SM2, X25519, X448.
    Ecc,
}

impl HpreQcType {
    /// The value for `SET_QP_CTX`.
    pub const fn code(self) -> u16 {
        match self {
            HpreQcType::RsaDh => 0,
            HpreQcType::Ecc => 1,
        }
    }

    /// The queue type of a `SET_QP_CTX` value.
    pub const fn from_code(code: u16) -> Option<HpreQcType> {
        match code {
            0 => Some(HpreQcType::RsaDh),
            1 => Some(HpreQcType::Ecc),
            _ => None,
        }
    }
}

/// The lines of a `hisi_hpre` device's sysfs `algorithms` attribute (§12.1): v2 `rsa`, `dh`; v3 adds `ecdh`,
/// `ecdsa`, `sm2`, `x25519`, `x448` (newer mainline builds the list from capability register 0x3148, bit 0 rsa …
/// bit 6 x448; these are its defaults 0x03 and 0x7F, in bit order). Empty for v1 (no HPRE).
pub fn algorithms(version: QmVersion) -> &'static [&'static str] {
    match version {
        QmVersion::V1 => &[],
        QmVersion::V2 => &["rsa", "dh"],
        QmVersion::V3 => &["rsa", "dh", "ecdh", "ecdsa", "sm2", "x25519", "x448"],
    }
}

// ---------------------------------------------------------------------------------------------------------------------
// The dw10 word
// ---------------------------------------------------------------------------------------------------------------------

/// What dw10 (sm2_mlen, 9 bits) carries (§12.2, §12.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Dw10 {
    /// 0: every algorithm except the two below.
    #[default]
    None,
    /// Single-SQE SM2 encrypt / decrypt: the message (or C2) length in bytes, 1..=512; encoded as length − 1.
    MsgLen(u16),
    /// UADK's split-SM2 marker on an ECDH multiply: 0xE (encrypt) or 0xF (decrypt). Hardware is not known to read
    /// it; UADK re-reads it from the completed SQE to pair the two halves of a split encrypt.
    SplitMark(u16),
}

// ---------------------------------------------------------------------------------------------------------------------
// Requests and errors
// ---------------------------------------------------------------------------------------------------------------------

/// One HPRE job as the driver describes it. Addresses are process virtual addresses (SVA) of the key, input and
/// output blocks laid out as [`layout`] describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HpreRequest {
    /// The algorithm.
    pub alg: HpreAlg,
    /// Bytes per field: k (the RSA modulus or DH prime size) or h (the ECC width, 32/48/72).
    pub width: usize,
    /// Address of the key block.
    pub key: u64,
    /// Address of the input block; 0 for [`HpreAlg::has_no_input`] algorithms.
    pub input: u64,
    /// Address of the output block. For the verify algorithms UADK puts the input address here (the device
    /// writes no output; the result is dw6 bit 1).
    pub output: u64,
    /// Tag (dw8–9), returned unchanged.
    pub tag: u64,
    /// dw1 bit 25: let the hardware pick k (SM2 sign and single-SQE encrypt without a caller k).
    pub sm2_ksel: bool,
    /// dw1 bit 31 (bd_rsv2): UADK's "hpcore" on ECDH multiplies with the built-in P-256 (hw ≥ v3) and on split
    /// SM2 multiplies.
    pub hpcore: bool,
    /// dw10.
    pub dw10: Dw10,
}

impl HpreRequest {
    /// A request with the common defaults (no ksel, no hpcore, dw10 0).
    pub const fn new(
        alg: HpreAlg,
        width: usize,
        key: u64,
        input: u64,
        output: u64,
        tag: u64,
    ) -> Self {
        Self {
            alg,
            width,
            key,
            input,
            output,
            tag,
            sm2_ksel: false,
            hpcore: false,
            dw10: Dw10::None,
        }
    }

    /// Check the request against what the hardware of `version` takes and what UADK / the kernel send (§12.2 –
    /// §12.4). [`decode`] applies the same rules on the device side.
    pub fn validate(&self, version: QmVersion) -> Result<(), HpreError> {
        check_fields(
            self.alg,
            self.width,
            version,
            self.key,
            self.input,
            self.output,
            self.sm2_ksel,
            self.hpcore,
            self.dw10,
        )
    }
}

#[allow(clippy::too_many_arguments)]
pub(super) fn check_fields(
    alg: HpreAlg,
    width: usize,
    version: QmVersion,
    key: u64,
    input: u64,
    output: u64,
    sm2_ksel: bool,
    hpcore: bool,
    dw10: Dw10,
) -> Result<(), HpreError> {
    if !alg.supported_on(version) {
        return Err(HpreError::Unsupported { alg, version });
    }
    if !alg.width_ok(width) {
        return Err(HpreError::BadWidthFor { alg, width });
    }
    if key == 0 {
        return Err(HpreError::MissingAddress("key"));
    }
    if alg.has_no_input() {
        // UADK sends DH with g = 2 as alg 0x05 with an input; 0x04 and keygen carry input address 0 (§12.4).
        if input != 0 {
            return Err(HpreError::UnexpectedField("input address"));
        }
    } else if input == 0 {
        return Err(HpreError::MissingAddress("input"));
    }
    if output == 0 {
        return Err(HpreError::MissingAddress("output"));
    }
    if sm2_ksel && !matches!(alg, HpreAlg::Sm2Sign | HpreAlg::Sm2Encrypt) {
        return Err(HpreError::UnexpectedField("sm2_ksel"));
    }
    if hpcore && alg != HpreAlg::EcdhMultiply {
        return Err(HpreError::UnexpectedField("bd_rsv2 (hpcore)"));
    }
    match (alg, dw10) {
        (HpreAlg::Sm2Encrypt | HpreAlg::Sm2Decrypt, Dw10::MsgLen(n))
            if (1..=SM2_MAX_SINGLE_MSG as u16).contains(&n) => {}
        (HpreAlg::Sm2Encrypt | HpreAlg::Sm2Decrypt, _) => {
            return Err(HpreError::BadMsgLen);
        }
        (HpreAlg::EcdhMultiply, Dw10::SplitMark(m))
            if m == layout::SPLIT_MARK_ENCRYPT || m == layout::SPLIT_MARK_DECRYPT => {}
        (_, Dw10::None) => {}
        _ => return Err(HpreError::UnexpectedField("dw10 (sm2_mlen)")),
    }
    Ok(())
}

/// Errors of the HPRE codec: a request the hardware would not take, a field that does not decode, or a number that
/// does not fit its field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HpreError {
    /// The algorithm needs newer hardware (ECC needs v3), or HPRE does not exist on v1.
    #[error("{alg:?} is not supported on QM {version:?} (ECC needs v3; RSA and DH v2)")]
    Unsupported {
        /// The algorithm.
        alg: HpreAlg,
        /// The hardware generation.
        version: QmVersion,
    },
    /// A width no HPRE operation takes.
    #[error("width of {0} bytes is not an HPRE operand width")]
    BadWidth(usize),
    /// A width the algorithm does not take.
    #[error("{alg:?} does not take {width}-byte operands")]
    BadWidthFor {
        /// The algorithm.
        alg: HpreAlg,
        /// The width in bytes.
        width: usize,
    },
    /// A required address is 0.
    #[error("the {0} address is 0")]
    MissingAddress(&'static str),
    /// A field holds a value UADK and the kernel never put there for this algorithm.
    #[error("{0} is set where neither UADK nor the kernel sets it")]
    UnexpectedField(&'static str),
    /// Single-SQE SM2 encrypt/decrypt needs a message length of 1..=512 bytes in dw10.
    #[error("SM2 encrypt/decrypt needs a message length of 1..=512 bytes")]
    BadMsgLen,
    /// dw0 names a code no driver sends (0x06–0x0C, 0x16–0x1F).
    #[error("algorithm code {0:#04x} is not one UADK or the kernel sends")]
    UnknownAlg(u8),
    /// dw0's done field is not 1 (software writes 1), or an error field is already set.
    #[error(
        "dw0 status fields are not those of a fresh SQE (done {done}, etype {etype}, etype1 {etype1})"
    )]
    NotFresh {
        /// done field.
        done: u8,
        /// etype.
        etype: u16,
        /// etype1.
        etype1: u16,
    },
    /// An ECC algorithm on a RSA/DH queue or the other way round.
    #[error("{alg:?} runs on queue type {expected:?}, not {got:?}")]
    WrongQueue {
        /// The algorithm.
        alg: HpreAlg,
        /// The queue type it needs.
        expected: HpreQcType,
        /// The queue's type.
        got: HpreQcType,
    },
    /// A number has more significant bytes than its field.
    #[error("a {bytes}-byte number does not fit a {width}-byte field")]
    NumberTooLong {
        /// Significant bytes of the number.
        bytes: usize,
        /// Field width.
        width: usize,
    },
}

// ---------------------------------------------------------------------------------------------------------------------
// X25519 / X448 helpers (§12.4): clamping in big-endian byte positions, as UADK does before the SQE
// ---------------------------------------------------------------------------------------------------------------------

/// Clamp an X25519 scalar given in **big-endian** order (32 bytes) as RFC 7748 does in little-endian: byte 31 &=
/// 0xF8, byte 0 &= 0x7F, byte 0 |= 0x40.
pub fn x25519_clamp_be(k: &mut [u8; 32]) {
    k[31] &= 0xF8;
    k[0] &= 0x7F;
    k[0] |= 0x40;
}

/// True if a big-endian X25519 scalar is clamped ([`x25519_clamp_be`] would not change it).
pub fn x25519_is_clamped_be(k: &[u8]) -> bool {
    k.len() == 32 && k[31] & 0x07 == 0 && k[0] & 0xC0 == 0x40
}

/// Clamp an X448 scalar in its 72-byte big-endian field (16 zero bytes, then the 56-byte number): byte 71 &= 0xFC,
/// byte 16 |= 0x80.
pub fn x448_clamp_be(k: &mut [u8; 72]) {
    k[71] &= 0xFC;
    k[16] |= 0x80;
}

/// True if a 72-byte big-endian X448 scalar field is clamped and its 16 padding bytes are zero.
pub fn x448_is_clamped_be(k: &[u8]) -> bool {
    k.len() == 72 && k[..16].iter().all(|&b| b == 0) && k[71] & 0x03 == 0 && k[16] & 0x80 != 0
}

/// a = (A − 2) / 4 for curve25519: 121665, big-endian.
pub const X25519_A24: [u8; 3] = [0x01, 0xDB, 0x41];
/// a = (A − 2) / 4 for curve448: 39081, big-endian.
pub const X448_A24: [u8; 2] = [0x98, 0xA9];

/// p = 2²⁵⁵ − 19, big-endian (32 bytes).
pub const X25519_P: [u8; 32] = {
    let mut p = [0xFF; 32];
    p[0] = 0x7F;
    p[31] = 0xED;
    p
};

/// p = 2⁴⁴⁸ − 2²²⁴ − 1, big-endian (56 bytes): 28 bytes 0xFF, one 0xFE, 27 bytes 0xFF.
pub const X448_P: [u8; 56] = {
    let mut p = [0xFF; 56];
    p[27] = 0xFE;
    p
};
