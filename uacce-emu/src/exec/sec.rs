//! The SEC engine: AES and SM4 (ECB, CBC, XTS; CTR, OFB, CFB on BD3), AES-GCM, every hash of the `a_alg` table
//! (SM3, MD5, SHA-1, SHA-2) and their HMACs on the buffers a BD names, computed by
//! [`crate::soft`]; CCM (AES; SM4 on BD3), SM4-GCM (BD3) and the AES MACs XCBC, CMAC and GMAC (BD3) by
//! `uacce_soft::aead_mac` (conventions in `sec_xcm_mac.rs`).
//!
//! Conventions (where the protocol document leaves the hardware's behaviour open, §10):
//! * AES-GCM: the ciphertext/plaintext goes to `dst + cipher_src_offset` (= `dst + aad_len`); the AAD region of
//!   `dst` is not written. On seal the tag goes to `mac_addr`; on open the tag at `mac_addr` is checked first and on
//!   a mismatch nothing is written and the BD reports icv = 2.
//! * Authenc (AES-CBC + HMAC, encrypt-then-MAC): like GCM, the payload's result goes to `dst + cipher_src_offset`
//!   and the AAD region of `dst` is not written; the tag is HMAC(a_key, AAD ‖ ciphertext) truncated to `mac_len`.
//!   On decrypt the tag at `mac_addr` is checked (constant time) before decrypting; on a mismatch nothing is
//!   written and the BD reports icv = 2. `a_ivin_addr` is not read (ai_gen 0: the HMAC starts from its own IV).
//! * Long hash (every plain hash): first and middle parts leave the raw chaining value (the whole state, also for the
//!   truncated SHA-224/384/512-224/512-256; big-endian words, MD5 little-endian) in `mac_addr`; the last part starts
//!   from it and pads with the total length. HMAC long hash: the first part starts from the key block XOR ipad, the
//!   intermediate state is the inner hash's, and the last part (total length = message bytes, without the key
//!   block) finishes the inner hash and computes the outer one. The hardware's intermediate format is not
//!   documented; only the emulator reads it back.
//! * Error types of the emulator (none is documented for hardware): [`ERROR_ACCESS_FAULT`], [`ERROR_UNSUPPORTED`],
//!   [`ERROR_INJECTED`]; a malformed BD (one that does not decode strictly, or a GCM BD whose `a_ivin` does not
//!   hold the IV) gets `qm::sec::ERROR_TYPE_INVALID_BD` (0xFF). Neither UADK nor the kernel's sec2 driver names a
//!   code for a malformed BD (they only test error_type ≠ 0), so 0xFF is this project's choice.
//! * Strictness: every BD field is used as the hardware does, or checked against the value UADK and the kernel's
//!   sec2 driver agree on; the table is `FIELDS.md` in this directory.

use uacce_sys::qm::Sqe;
use uacce_sys::qm::sec::{
    self, AuthencRequest, CipherDir, CipherMode, CipherRequest, DigestRequest, DigestStage,
    GcmRequest, SecOp, SecResult,
};

use super::Outcome;
use crate::mem::{AccessFault, ProcMem};
use crate::soft::{self, SoftError};

#[path = "sec_xcm_mac.rs"]
mod xcm_mac;

/// error_type for a buffer the device cannot access.
pub const ERROR_ACCESS_FAULT: u8 = 0x02;
/// error_type for a valid BD the engine cannot compute (parameters the software engines refuse).
pub const ERROR_UNSUPPORTED: u8 = 0x03;
/// error_type written for an injected error (`Fault::ErrorStatus`).
pub const ERROR_INJECTED: u8 = 0x01;

enum Fail {
    /// The BD is malformed in a way only its buffers show (GCM a_ivin not holding the IV): the BD-rejection status.
    Malformed,
    Access,
    Unsupported,
    MacMismatch,
}

impl From<AccessFault> for Fail {
    fn from(_: AccessFault) -> Self {
        Fail::Access
    }
}

impl From<SoftError> for Fail {
    fn from(e: SoftError) -> Self {
        match e {
            SoftError::Unsupported => Fail::Unsupported,
            SoftError::AuthFailed => Fail::MacMismatch,
        }
    }
}

fn error(error_type: u8) -> SecResult {
    SecResult {
        done: true,
        icv: 0,
        flag: 0,
        error_type,
    }
}

pub(crate) fn execute(sqe: &mut Sqe, mem: &ProcMem) -> Outcome {
    let view = match sec::decode(sqe) {
        Ok(v) => v,
        Err(e) => {
            sec::write_result(sqe, &e.result());
            return Outcome {
                ok: false,
                bytes: 0,
                consumed: 0,
                produced: 0,
            };
        }
    };
    let (r, bytes) = match view.op {
        SecOp::Cipher(c) => (cipher(&c, mem), c.len),
        SecOp::Aead(g) => (gcm(&g, mem), g.aad_len + g.payload_len),
        SecOp::Digest(d) => (digest(&d, mem), d.len),
        SecOp::Authenc(a) => (authenc(&a, mem), a.aad_len + a.payload_len),
        SecOp::Xcm(x) => (xcm_mac::xcm(&x, mem), x.aad_len + x.payload_len),
        SecOp::Mac(m) => (xcm_mac::mac(&m, mem), m.len),
    };
    let res = match r {
        Ok(()) => SecResult::success(view.op.kind()),
        Err(Fail::Malformed) => error(sec::ERROR_TYPE_INVALID_BD),
        Err(Fail::Access) => error(ERROR_ACCESS_FAULT),
        Err(Fail::Unsupported) => error(ERROR_UNSUPPORTED),
        Err(Fail::MacMismatch) => SecResult::mac_mismatch(),
    };
    sec::write_result(sqe, &res);
    let ok = res.error_type == 0 && res.icv == 0;
    Outcome {
        ok,
        bytes: u64::from(bytes),
        consumed: if ok { u64::from(bytes) } else { 0 },
        produced: 0,
    }
}

/// Write an injected error result.
pub(crate) fn inject_error(sqe: &mut Sqe) {
    sec::write_result(sqe, &error(ERROR_INJECTED));
}

fn cipher(c: &CipherRequest, mem: &ProcMem) -> Result<(), Fail> {
    let key = mem.read(c.key_addr, c.key_len as usize)?;
    let mut buf = mem.read(c.src_addr, c.len as usize)?;
    let iv = match c.mode {
        CipherMode::Ecb => Vec::new(),
        _ => mem.read(c.iv_addr, 16)?,
    };
    soft::cipher(c.alg, c.mode, c.dir, &key, &iv, &mut buf)?;
    mem.write(c.dst_addr, &buf)?;
    Ok(())
}

fn gcm(g: &GcmRequest, mem: &ProcMem) -> Result<(), Fail> {
    let key = mem.read(g.key_addr, g.key_len as usize)?;
    let iv = mem.read(g.iv_addr, 12)?;
    // a_ivin must hold a copy of the 12-byte IV: UADK and the kernel's sec2 driver both write it there ("GCM
    // 12Byte Cipher_IV == Auth_IV"); the hardware reads it for the authentication part (J0 for the tag).
    if mem.read(g.aiv_addr, 12)? != iv {
        return Err(Fail::Malformed);
    }
    let src = mem.read(g.src_addr, (g.aad_len + g.payload_len) as usize)?;
    let (aad, payload) = src.split_at(g.aad_len as usize);
    let mut buf = payload.to_vec();
    let out_addr = g.dst_addr + u64::from(g.aad_len);
    match g.dir {
        CipherDir::Encrypt => {
            let mut tag = vec![0u8; usize::from(g.tag_len)];
            soft::gcm_seal(&key, &iv, aad, &mut buf, &mut tag)?;
            mem.write(out_addr, &buf)?;
            mem.write(g.mac_addr, &tag)?;
        }
        CipherDir::Decrypt => {
            let tag = mem.read(g.mac_addr, usize::from(g.tag_len))?;
            soft::gcm_open(&key, &iv, aad, &mut buf, &tag)?;
            mem.write(out_addr, &buf)?;
        }
    }
    Ok(())
}

fn digest(d: &DigestRequest, mem: &ProcMem) -> Result<(), Fail> {
    let data = mem.read(d.src_addr, d.len as usize)?;
    let out = match (d.hmac_key, d.stage) {
        (Some(k), DigestStage::OneShot) => {
            let key = mem.read(k.addr, k.len as usize)?;
            soft::hmac(d.alg, &key, &data)?
        }
        (Some(k), stage) => {
            let key = mem.read(k.addr, k.len as usize)?;
            let state = match stage {
                DigestStage::First => None,
                _ => Some(mem.read(d.mac_addr, soft::state_len(d.alg)?)?),
            };
            let total = match stage {
                DigestStage::Last { total_len } => Some(total_len),
                _ => None,
            };
            soft::hmac_long_hash(d.alg, &key, state.as_deref(), &data, total)?
        }
        (None, DigestStage::OneShot) => soft::hash(d.alg, &data)?,
        (None, DigestStage::First) => soft::long_hash(d.alg, None, &data, None)?,
        (None, DigestStage::Middle) => {
            let state = mem.read(d.mac_addr, soft::state_len(d.alg)?)?;
            soft::long_hash(d.alg, Some(&state), &data, None)?
        }
        (None, DigestStage::Last { total_len }) => {
            let state = mem.read(d.mac_addr, soft::state_len(d.alg)?)?;
            soft::long_hash(d.alg, Some(&state), &data, Some(total_len))?
        }
    };
    let n = match d.stage {
        DigestStage::First | DigestStage::Middle => out.len(),
        _ => (d.mac_len as usize).min(out.len()),
    };
    mem.write(d.mac_addr, &out[..n])?;
    Ok(())
}

fn authenc(a: &AuthencRequest, mem: &ProcMem) -> Result<(), Fail> {
    let key = mem.read(a.key_addr, a.key_len as usize)?;
    let iv = mem.read(a.iv_addr, 16)?;
    let mac_key = mem.read(a.hmac_key.addr, a.hmac_key.len as usize)?;
    let src = mem.read(a.src_addr, (a.aad_len + a.payload_len) as usize)?;
    let (aad, payload) = src.split_at(a.aad_len as usize);
    let mut buf = payload.to_vec();
    let out_addr = a.dst_addr + u64::from(a.aad_len);
    match a.dir {
        CipherDir::Encrypt => {
            let mut tag = vec![0u8; a.mac_len as usize];
            uacce_soft::authenc::seal(&key, &iv, a.hash, &mac_key, aad, &mut buf, &mut tag)?;
            mem.write(out_addr, &buf)?;
            mem.write(a.mac_addr, &tag)?;
        }
        CipherDir::Decrypt => {
            let tag = mem.read(a.mac_addr, a.mac_len as usize)?;
            uacce_soft::authenc::open(&key, &iv, a.hash, &mac_key, aad, &mut buf, &tag)?;
            mem.write(out_addr, &buf)?;
        }
    }
    Ok(())
}
