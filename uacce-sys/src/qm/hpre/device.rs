//! HPRE device side: strict [`decode`] of an SQE into an [`HpreSqeView`] (never panicking on any bytes), and the
//! result write-back ([`write_result`]).

use super::layout::*;
use super::*;
use crate::qm::field::{read_dw, read_dw64, write_dw};

/// What a device learns from a valid HPRE SQE.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HpreSqeView {
    /// The algorithm.
    pub alg: HpreAlg,
    /// Operand width in bytes, from task_len1: `(task_len1 + 1) · 8`.
    pub width: usize,
    /// Key block address.
    pub key: u64,
    /// Input block address (0 for the no-input algorithms).
    pub input: u64,
    /// Output block address.
    pub output: u64,
    /// Tag.
    pub tag: u64,
    /// dw1 bit 25.
    pub sm2_ksel: bool,
    /// dw1 bit 31.
    pub hpcore: bool,
    /// dw10.
    pub dw10: Dw10,
}

impl HpreSqeView {
    /// The message length of a single-SQE SM2 encrypt/decrypt (dw10 + 1), else 0.
    pub fn msg_len(&self) -> usize {
        match self.dw10 {
            Dw10::MsgLen(n) => usize::from(n),
            _ => 0,
        }
    }
}

/// Device side: decode an SQE strictly, as the hardware of `version` on a queue of type `qc_type` would take it.
///
/// Refused (the device should then end the job with an error etype, see [`write_result`]): a length other than 64
/// bytes (or a longer buffer whose bytes past 64 are not zero), done ≠ 1 or a nonzero etype/etype1 (not a fresh
/// SQE), a code nobody sends, an algorithm the hardware generation lacks or that belongs to the other queue type,
/// a task_len1 the algorithm does not take, any of task_len2 / mrttest_num / uwkey_enb / sva_bypass / sva_status
/// set, sm2_ksel or bd_rsv2 where UADK and the kernel never set them, a dw10 that does not fit the algorithm, and
/// a nonzero dw11–15 (kek_key and reserved).
pub fn decode(
    sqe: &[u8],
    version: QmVersion,
    qc_type: HpreQcType,
) -> Result<HpreSqeView, HpreError> {
    if sqe.len() < HPRE_SQE_SIZE || sqe[HPRE_SQE_SIZE..].iter().any(|&b| b != 0) {
        return Err(HpreError::UnexpectedField("bytes past the 64-byte SQE"));
    }
    let s = &sqe[..HPRE_SQE_SIZE];
    let dw0 = read_dw(s, DW_CTRL);
    let done = (dw0 >> DONE_SHIFT) as u8;
    let etype = ((dw0 >> ETYPE_SHIFT) & ETYPE_MASK) as u16;
    let etype1 = ((dw0 >> ETYPE1_SHIFT) & ETYPE1_MASK) as u16;
    if done != DONE_INIT || etype != 0 || etype1 != 0 {
        return Err(HpreError::NotFresh {
            done,
            etype,
            etype1,
        });
    }
    let code = (dw0 & ALG_MASK) as u8;
    let alg = HpreAlg::from_code(code).ok_or(HpreError::UnknownAlg(code))?;
    if !alg.supported_on(version) {
        return Err(HpreError::Unsupported { alg, version });
    }
    if alg.qc_type() != qc_type {
        return Err(HpreError::WrongQueue {
            alg,
            expected: alg.qc_type(),
            got: qc_type,
        });
    }
    let dw1 = read_dw(s, DW_TASK);
    let width = ((dw1 & TASK_LEN1_MASK) as usize + 1) * 8;
    // task_len2 (8..15), mrttest_num (16..23), uwkey_enb (24), sva_bypass (26), sva_status (27..30).
    if dw1 & 0x7D00_FF00 != 0 || dw1 & 0x00FF_0000 != 0 {
        return Err(HpreError::UnexpectedField(
            "dw1 task_len2 / mrttest_num / uwkey_enb / sva_bypass / sva_status",
        ));
    }
    let raw10 = read_dw(s, DW_MLEN);
    if raw10 & !MLEN_MASK != 0 {
        return Err(HpreError::UnexpectedField(
            "dw10 rsvd1 / uwkey_sel / wrap_num",
        ));
    }
    if (DW_RESERVED_FIRST..16).any(|dw| read_dw(s, dw) != 0) {
        return Err(HpreError::UnexpectedField("dw11-15 (kek_key, reserved)"));
    }
    let mlen = (raw10 & MLEN_MASK) as u16;
    let dw10 = match alg {
        HpreAlg::Sm2Encrypt | HpreAlg::Sm2Decrypt => Dw10::MsgLen(mlen + 1),
        HpreAlg::EcdhMultiply if mlen != 0 => Dw10::SplitMark(mlen),
        _ if mlen == 0 => Dw10::None,
        // Any other algorithm with a nonzero dw10: check_fields refuses it.
        _ => Dw10::MsgLen(mlen + 1),
    };
    let view = HpreSqeView {
        alg,
        width,
        key: read_dw64(s, DW_KEY),
        input: read_dw64(s, DW_IN),
        output: read_dw64(s, DW_OUT),
        tag: read_dw64(s, DW_TAG),
        sm2_ksel: dw1 & SM2_KSEL != 0,
        hpcore: dw1 & BD_RSV2 != 0,
        dw10,
    };
    check_fields(
        alg,
        width,
        version,
        view.key,
        view.input,
        view.output,
        view.sm2_ksel,
        view.hpcore,
        view.dw10,
    )?;
    Ok(view)
}

/// What the device writes back into a processed SQE.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct HpreResult {
    /// etype (11 bits; 0 = OK).
    pub etype: u16,
    /// etype1 (14 bits; 0 = OK).
    pub etype1: u16,
    /// For the verify algorithms: the signature is valid (dw6 bit 1). `None` leaves dw6 alone.
    pub verify: Option<bool>,
}

/// Device side: write a result into a processed SQE (§12.3): done = 3, etype and etype1 (masked to their widths),
/// the alg field and every other field unchanged; for a verify, dw6 bit 1 set or cleared. Works on any slice of at
/// least 64 bytes (shorter slices are left alone).
pub fn write_result(sqe: &mut [u8], r: &HpreResult) {
    if sqe.len() < HPRE_SQE_SIZE {
        return;
    }
    let dw0 = read_dw(sqe, DW_CTRL);
    let keep = dw0 & ALG_MASK;
    let new = keep
        | ((u32::from(r.etype) & ETYPE_MASK) << ETYPE_SHIFT)
        | ((u32::from(r.etype1) & ETYPE1_MASK) << ETYPE1_SHIFT)
        | (u32::from(DONE_TASK) << DONE_SHIFT);
    write_dw(sqe, DW_CTRL, new);
    if let Some(ok) = r.verify {
        let dw6 = read_dw(sqe, DW_OUT);
        let dw6 = if ok {
            dw6 | VERIFY_OK_BIT
        } else {
            dw6 & !VERIFY_OK_BIT
        };
        write_dw(sqe, DW_OUT, dw6);
    }
}
