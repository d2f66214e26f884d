//! HPRE driver side: [`encode`] a request, and read a completed SQE ([`read_result`], [`HpreCompletion`]).

use super::layout::*;
use super::*;
use crate::qm::field::{read_dw, read_dw64, write_dw, write_dw64};

/// Encode a request into a zeroed 64-byte SQE (§12.2, worked examples §12.5):
///
/// * dw0 = alg | done 1 (bits 30..31);
/// * dw1 = task_len1 (width / 8 − 1) | sm2_ksel (bit 25) | bd_rsv2 (bit 31);
/// * dw2–3 key, dw4–5 input, dw6–7 output, dw8–9 tag;
/// * dw10 = message length − 1 (single-SQE SM2 encrypt/decrypt) or UADK's split-SM2 marker;
/// * everything else 0.
///
/// The request is not validated here; call [`HpreRequest::validate`] first.
pub fn encode(req: &HpreRequest) -> HpreSqe {
    let mut sqe = [0u8; HPRE_SQE_SIZE];
    write_dw(
        &mut sqe,
        DW_CTRL,
        u32::from(req.alg.code()) | (u32::from(DONE_INIT) << DONE_SHIFT),
    );
    let mut dw1 = u32::from(task_len1(req.width.max(8)));
    if req.sm2_ksel {
        dw1 |= SM2_KSEL;
    }
    if req.hpcore {
        dw1 |= BD_RSV2;
    }
    write_dw(&mut sqe, DW_TASK, dw1);
    write_dw64(&mut sqe, DW_KEY, req.key);
    write_dw64(&mut sqe, DW_IN, req.input);
    write_dw64(&mut sqe, DW_OUT, req.output);
    write_dw64(&mut sqe, DW_TAG, req.tag);
    let dw10 = match req.dw10 {
        Dw10::None => 0,
        Dw10::MsgLen(n) => u32::from(n.saturating_sub(1)) & MLEN_MASK,
        Dw10::SplitMark(m) => u32::from(m) & MLEN_MASK,
    };
    write_dw(&mut sqe, DW_MLEN, dw10);
    sqe
}

/// A completed SQE as the driver reads it (§12.2, §12.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HpreCompletion {
    /// dw0 bits 0..4 as written (UADK re-reads it to pick the output parser).
    pub alg_code: u8,
    /// dw0 bits 30..31: 3 when the device processed the task.
    pub done: u8,
    /// dw0 bits 5..15.
    pub etype: u16,
    /// dw0 bits 16..29 (bit 5 = SVA prefetch error).
    pub etype1: u16,
    /// dw1 bits 27..30 (meaningful when etype1 bit 5 is set).
    pub sva_status: u8,
    /// dw6 bit 1: the verify result (meaningful for the verify algorithms only).
    pub verify_bit: bool,
    /// dw10 bits 0..8 (UADK reads the split-SM2 marker back from here).
    pub dw10: u16,
    /// dw8–9.
    pub tag: u64,
}

/// How a completion ended, as UADK decides it (§12.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HpreOutcome {
    /// done = 3, etype = etype1 = 0 (and, for a verify, dw6 bit 1 set).
    Ok,
    /// done ≠ 3: the device never processed the SQE (UADK: WD_EINVAL).
    NotDone,
    /// A verify the device processed and found the signature invalid (UADK: WD_VERIFY_ERR).
    VerifyFailed,
    /// The device reported an error (UADK: WD_IN_EPARA). No source gives the meaning of the values.
    Error {
        /// etype.
        etype: u16,
        /// etype1.
        etype1: u16,
    },
}

impl HpreCompletion {
    /// Classify the completion as UADK does: success iff done = 3 and etype = etype1 = 0; then a verify is good
    /// only with dw6 bit 1 set. (The kernel ignores etype1; being stricter here costs nothing.)
    pub fn outcome(&self) -> HpreOutcome {
        if self.done != DONE_TASK {
            return HpreOutcome::NotDone;
        }
        if self.etype != 0 || self.etype1 != 0 {
            return HpreOutcome::Error {
                etype: self.etype,
                etype1: self.etype1,
            };
        }
        match HpreAlg::from_code(self.alg_code) {
            Some(a) if a.is_verify() && !self.verify_bit => HpreOutcome::VerifyFailed,
            _ => HpreOutcome::Ok,
        }
    }
}

/// Driver side: read a completed SQE. Takes any byte slice (the ring's copy is a 128-byte buffer whose first 64
/// bytes are the HPRE SQE); a slice shorter than 64 bytes reads as zeros where it ends. Never panics.
pub fn read_result(sqe: &[u8]) -> HpreCompletion {
    let mut s = [0u8; HPRE_SQE_SIZE];
    let n = sqe.len().min(HPRE_SQE_SIZE);
    s[..n].copy_from_slice(&sqe[..n]);
    let dw0 = read_dw(&s, DW_CTRL);
    let dw1 = read_dw(&s, DW_TASK);
    HpreCompletion {
        alg_code: (dw0 & ALG_MASK) as u8,
        done: (dw0 >> DONE_SHIFT) as u8,
        etype: ((dw0 >> ETYPE_SHIFT) & ETYPE_MASK) as u16,
        etype1: ((dw0 >> ETYPE1_SHIFT) & ETYPE1_MASK) as u16,
        sva_status: ((dw1 >> 27) & 0xF) as u8,
        verify_bit: read_dw(&s, DW_OUT) & VERIFY_OK_BIT != 0,
        dw10: (read_dw(&s, DW_MLEN) & MLEN_MASK) as u16,
        tag: read_dw64(&s, DW_TAG),
    }
}
