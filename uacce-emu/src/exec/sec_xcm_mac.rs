//! CCM (AES, SM4), SM4-GCM and the AES MACs (XCBC, CMAC, GMAC) of the emulated SEC engine, computed by
//! `uacce_soft::aead_mac`. A child of `exec::sec`.
//!
//! Conventions (the protocol leaves them open; the BD fields are decoded strictly by `qm::sec::decode`):
//! * CCM: `c_ivin` must hold the counter block A1 UADK and the kernel write (`L' ‖ nonce ‖ 0…01`) and `a_ivin`
//!   the block B0 (`Adata << 6 | M' << 3 | L'`, nonce, payload length in L bytes) that matches the BD's tag and
//!   lengths; otherwise the BD is malformed (`ERROR_TYPE_INVALID_BD`). The payload length in B0 is the full
//!   length, which for payloads under 64 KiB is byte for byte what UADK and the kernel write (they fill only its
//!   last two bytes).
//! * SM4-GCM: as AES-GCM, `a_ivin` must hold a copy of the 12-byte IV.
//! * GMAC: the 16-byte area at `a_ivin` is the 12-byte IV and 4 zero bytes (the shape of UADK's GMAC test IV);
//!   other values of the last four bytes are refused as malformed, since what the hardware makes of them is not
//!   documented.
//! * Output as for AES-GCM: the payload's result at `dst + aad_len`, the tag at `mac_addr` (seal) or compared
//!   with it (open: icv 2 on a mismatch, nothing written). MACs write `mac_len` bytes of the MAC at `mac_addr`.

use uacce_soft::aead_mac;
use uacce_sys::qm::sec::{self, CipherDir, MacAlg, MacRequest, XcmMode, XcmRequest};

use super::Fail;
use crate::mem::ProcMem;

pub(super) fn xcm(x: &XcmRequest, mem: &ProcMem) -> Result<(), Fail> {
    let key = mem.read(x.key_addr, x.key_len as usize)?;
    let iv = mem.read(x.iv_addr, 16)?;
    let aiv = mem.read(x.aiv_addr, 16)?;
    let nonce = match x.mode {
        XcmMode::Ccm => {
            // L' = L − 1 in 1..=7 (L = 1 is reserved, RFC 3610 §2), so the nonce is 14 − L' = 7..=13 bytes.
            if !(1..=7).contains(&iv[0]) {
                return Err(Fail::Malformed);
            }
            let nonce = iv[1..15 - usize::from(iv[0])].to_vec();
            let a1 = sec::ccm_counter_block(&nonce).ok_or(Fail::Malformed)?;
            let b0 =
                sec::ccm_b0(&nonce, x.tag_len, x.aad_len, x.payload_len).ok_or(Fail::Malformed)?;
            if iv != a1 || aiv != b0 {
                return Err(Fail::Malformed);
            }
            nonce
        }
        XcmMode::Gcm => {
            if aiv[..12] != iv[..12] {
                return Err(Fail::Malformed);
            }
            iv[..12].to_vec()
        }
    };
    let src = mem.read(x.src_addr, (x.aad_len + x.payload_len) as usize)?;
    let (aad, payload) = src.split_at(x.aad_len as usize);
    let mut buf = payload.to_vec();
    let out_addr = x.dst_addr + u64::from(x.aad_len);
    match x.dir {
        CipherDir::Encrypt => {
            let mut tag = vec![0u8; usize::from(x.tag_len)];
            match x.mode {
                XcmMode::Ccm => aead_mac::ccm_seal(x.alg, &key, &nonce, aad, &mut buf, &mut tag)?,
                XcmMode::Gcm => aead_mac::gcm_seal(x.alg, &key, &nonce, aad, &mut buf, &mut tag)?,
            }
            mem.write(out_addr, &buf)?;
            mem.write(x.mac_addr, &tag)?;
        }
        CipherDir::Decrypt => {
            let tag = mem.read(x.mac_addr, usize::from(x.tag_len))?;
            match x.mode {
                XcmMode::Ccm => aead_mac::ccm_open(x.alg, &key, &nonce, aad, &mut buf, &tag)?,
                XcmMode::Gcm => aead_mac::gcm_open(x.alg, &key, &nonce, aad, &mut buf, &tag)?,
            }
            mem.write(out_addr, &buf)?;
        }
    }
    Ok(())
}

pub(super) fn mac(m: &MacRequest, mem: &ProcMem) -> Result<(), Fail> {
    let key = mem.read(m.key_addr, m.key_len as usize)?;
    let data = mem.read(m.src_addr, m.len as usize)?;
    let full = match m.alg {
        MacAlg::AesXcbc => aead_mac::xcbc_mac(&key, &data)?,
        MacAlg::AesCmac => aead_mac::cmac(&key, &data)?,
        MacAlg::AesGmac => {
            let iv = mem.read(m.iv_addr, 16)?;
            if iv[12..] != [0u8; 4] {
                return Err(Fail::Malformed);
            }
            aead_mac::gmac(&key, &iv[..12], &data)?
        }
    };
    mem.write(m.mac_addr, &full[..m.mac_len as usize])?;
    Ok(())
}
