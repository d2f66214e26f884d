//! The HPRE engine: RSA, DH, ECDH, ECDSA, X25519/X448 and SM2 on the key, input and output blocks an SQE names,
//! computed by `uacce_soft::pkey` on the blocks exactly as laid out for the hardware.
//!
//! Flow: strict [`hpre::decode`] (the queue's type and the device's QM version decide which algorithms it
//! takes) → read the key and input blocks ([`block_lens`] says how long they are) → arithmetic → write the output
//! block → [`hpre::write_result`] (done = 3; for the verify algorithms dw6 bit 1).
//!
//! Error reporting. Hardware reports a failed job as done = 3 with a nonzero etype (dw0 bits 5..15) or etype1
//! (bits 16..29); UADK fails any such job with WD_IN_EPARA and the kernel with -EINVAL, and **no source gives the
//! meaning of any etype value** (protocol doc §12.3, §12.6 item 1). The one documented value is etype1 bit 5
//! (0x20), the SVA prefetch error, which this engine uses for an address it cannot access. The etype values below
//! are this project's choice, one per cause, so that tests can tell the causes apart; drivers must only test
//! "nonzero".
//!
//! Strictness beyond the SQE fields (see `FIELDS.md`): bd_rsv2 ("hpcore") on an ECDH multiply is accepted only
//! where UADK sets it, i.e. on the built-in P-256 curve, or on the SM2 curve together with a split-SM2 marker
//! in dw10 (and then the key block's fifth field must be SM2's n, as UADK fills it); a split marker without
//! bd_rsv2 is refused too (UADK always sets both).

use uacce_soft::pkey::{self, CurveId, PkeyError, PkeyJob, PkeyOutput};
use uacce_sys::qm::hpre::layout::{block_lens, ecc_private, field};
use uacce_sys::qm::hpre::{self, Dw10, HpreAlg, HpreQcType, HpreResult};
use uacce_sys::qm::{QmVersion, Sqe};

use super::Outcome;
use crate::mem::ProcMem;

/// etype: a private key or modulus out of range (even or trivial modulus, zero exponent, scalar not in
/// [1, n−1], an unclamped X25519/X448 scalar).
pub const ETYPE_BAD_KEY: u16 = 0x001;
/// etype: an input out of range (message ≥ modulus, nonce not in [1, n−1], u ≥ p, a digest wider than the curve).
pub const ETYPE_BAD_INPUT: u16 = 0x002;
/// etype: an input point not on the curve.
pub const ETYPE_NOT_ON_CURVE: u16 = 0x004;
/// etype: a degenerate result the standard says to retry with another k (r = 0, s = 0, a point at infinity).
pub const ETYPE_DEGENERATE: u16 = 0x008;
/// etype: SM2 decrypt found C3 ≠ SM3(x2 ‖ M ‖ y2).
pub const ETYPE_DECRYPT_CHECK: u16 = 0x010;
/// etype: a valid job the emulator does not compute (ECC on curve parameters other than
/// P-256, P-384, P-521 and SM2, which real hardware would compute on).
pub const ETYPE_UNSUPPORTED: u16 = 0x040;
/// etype written for an injected error (`Fault::ErrorStatus`).
pub const ETYPE_INJECTED: u16 = 0x080;
/// etype: the SQE does not decode strictly ([`hpre::decode`]), or hpcore/split marker where UADK never sets them.
pub const ETYPE_MALFORMED: u16 = 0x7FF;
/// etype1 bit 5: SVA prefetch error (documented: UADK `hisi_hpre.c`), used for an address the device cannot
/// read or write.
pub const ETYPE1_SVA_FAULT: u16 = 0x20;

fn fail(sqe: &mut Sqe, etype: u16, etype1: u16) -> Outcome {
    hpre::write_result(
        sqe,
        &HpreResult {
            etype,
            etype1,
            verify: None,
        },
    );
    Outcome {
        ok: false,
        bytes: 0,
        consumed: 0,
        produced: 0,
    }
}

fn etype_of(e: PkeyError) -> u16 {
    match e {
        PkeyError::BadKey => ETYPE_BAD_KEY,
        PkeyError::BadInput => ETYPE_BAD_INPUT,
        PkeyError::NotOnCurve => ETYPE_NOT_ON_CURVE,
        PkeyError::Degenerate => ETYPE_DEGENERATE,
        PkeyError::DecryptCheck => ETYPE_DECRYPT_CHECK,
        PkeyError::UnknownCurve | PkeyError::Unsupported => ETYPE_UNSUPPORTED,
        PkeyError::Length => ETYPE_MALFORMED,
    }
}

/// The p field of an ECDH multiply's key block equals `curve`'s p.
fn curve_p_is(key: &[u8], h: usize, curve: CurveId) -> bool {
    field_is(key, h, ecc_private::P, &pkey::curve_params(curve).p)
}

/// Field `index` of a block of `h`-byte fields holds the big-endian number `want` (right-aligned).
fn field_is(key: &[u8], h: usize, index: usize, want: &[u8]) -> bool {
    let Some(f) = field(key, h, index) else {
        return false;
    };
    f.len() >= want.len()
        && f[..f.len() - want.len()].iter().all(|&b| b == 0)
        && f[f.len() - want.len()..] == want[..]
}

pub(crate) fn execute(sqe: &mut Sqe, version: QmVersion, qc_type: u16, mem: &ProcMem) -> Outcome {
    let Some(qc) = HpreQcType::from_code(qc_type) else {
        return fail(sqe, ETYPE_MALFORMED, 0);
    };
    let view = match hpre::decode(&sqe[..], version, qc) {
        Ok(v) => v,
        Err(e) => {
            tracing::debug!("emulated HPRE: SQE refused: {e}");
            return fail(sqe, ETYPE_MALFORMED, 0);
        }
    };
    let lens = block_lens(view.alg, view.width, view.msg_len());
    let Ok(key) = mem.read(view.key, lens.key) else {
        return fail(sqe, 0, ETYPE1_SVA_FAULT);
    };
    let input = if lens.input == 0 {
        Vec::new()
    } else {
        match mem.read(view.input, lens.input) {
            Ok(v) => v,
            Err(_) => return fail(sqe, 0, ETYPE1_SVA_FAULT),
        }
    };
    if view.alg == HpreAlg::EcdhMultiply {
        let ok = match (view.hpcore, view.dw10) {
            (false, Dw10::None) => true,
            (true, Dw10::None) => curve_p_is(&key, view.width, CurveId::P256),
            // Split SM2 (UADK `sm2_enc_send` / `sm2_dec_send`): the SM2 curve, and UADK's full five-field block
            // p ‖ a ‖ k ‖ b ‖ n (the kernel, which puts Gx in the fifth field, never sends the marker).
            (true, Dw10::SplitMark(_)) => {
                curve_p_is(&key, view.width, CurveId::Sm2)
                    && field_is(
                        &key,
                        view.width,
                        ecc_private::N,
                        &pkey::curve_params(CurveId::Sm2).n,
                    )
            }
            _ => false,
        };
        if !ok {
            return fail(sqe, ETYPE_MALFORMED, 0);
        }
    }
    let job = PkeyJob {
        alg: view.alg,
        width: view.width,
        key: &key,
        input: &input,
        msg_len: view.msg_len(),
        random_k: view.sm2_ksel,
    };
    let bytes = (lens.key + lens.input) as u64;
    let verify = match pkey::execute(&job) {
        Ok(PkeyOutput::Data(out)) => {
            if mem.write(view.output, &out).is_err() {
                return fail(sqe, 0, ETYPE1_SVA_FAULT);
            }
            None
        }
        Ok(PkeyOutput::Verify(v)) => Some(v),
        Err(e) => {
            let mut o = fail(sqe, etype_of(e), 0);
            o.bytes = bytes;
            return o;
        }
    };
    hpre::write_result(
        sqe,
        &HpreResult {
            etype: 0,
            etype1: 0,
            verify,
        },
    );
    Outcome {
        ok: true,
        bytes,
        consumed: bytes,
        produced: 0,
    }
}

/// Write an injected error result.
pub(crate) fn inject_error(sqe: &mut Sqe) {
    hpre::write_result(
        sqe,
        &HpreResult {
            etype: ETYPE_INJECTED,
            etype1: 0,
            verify: None,
        },
    );
}
