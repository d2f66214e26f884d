//! SEC on the soft device: AES-CBC/XTS, SHA-2, HMAC and AES-GCM against RustCrypto, CTR refused in BD2, and the
//! error types of bad BDs (the other algorithms: `sec_breadth`).

use super::*;

use uacce_sys::qm::sec::{
    self, CipherDir, CipherMode, CipherRequest, DigestAlg, SecOp,
};

pub(super) const C_ENC: CipherDir = CipherDir::Encrypt;
pub(super) const C_DEC: CipherDir = CipherDir::Decrypt;

/// (done, icv, flag, error_type) of a completed BD (`uacce_sys::qm::sec::read_result`).
pub(super) fn sec_status(r: &Sqe) -> (u8, u8, u8, u8) {
    let c = sec::read_result(r);
    (c.done as u8, c.icv, c.flag, c.error_type)
}

pub(super) fn sec_bd(op: SecOp, tag: u16) -> Sqe {
    req::sec_sqe(op, u32::from(tag), VERSION)
}

pub(super) fn cipher_req(dir: CipherDir, mode: CipherMode, key: &[u8], iv: &[u8], src: &[u8], dst: &mut [u8]) -> CipherRequest {
    req::cipher(mode, dir, key, iv, src, dst)
}

/// A BD2 cipher BD. CTR: uacce_sys refuses CTR in BD2 (`CtrOnBd2`: the hardware has it in BD3 only, protocol doc
/// §11), so for the refusal test the BD is CBC over the length rounded up to a block with c_mode (BD2 bytes 12..13
/// bits 12..15) patched to 4 and c_len (BD2 u32 at byte 20) to the real length.
pub(super) fn sec_cipher_sqe(dir: CipherDir, mode: CipherMode, key: &[u8], iv: &[u8], src: &[u8], dst: &mut [u8]) -> Sqe {
    if mode == CipherMode::Ctr {
        let mut r = cipher_req(dir, CipherMode::Cbc, key, iv, src, dst);
        r.len = r.len.next_multiple_of(16);
        let mut s = sec_bd(SecOp::Cipher(r), 0xbeef);
        s[13] = (s[13] & 0x0f) | 4 << 4;
        s[20..24].copy_from_slice(&(src.len() as u32).to_le_bytes());
        return s;
    }
    sec_bd(SecOp::Cipher(cipher_req(dir, mode, key, iv, src, dst)), 0xbeef)
}

pub(super) fn dev_cipher(q: &mut Queue, dir: CipherDir, mode: CipherMode, key: &[u8], iv: &[u8], input: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = vec![0u8; input.len()];
    let s = sec_cipher_sqe(dir, mode, key, iv, input, &mut out);
    // SAFETY: the buffers the SQE names are locals that outlive this call and are untouched during it; `run`
    // returns with the completion consumed, or stops the queue first.
    let r = unsafe { q.run(&s) }.map_err(e2s)?;
    let (done, icv, flag, err) = sec_status(&r);
    check!(done == 1 && err == 0 && icv == 0 && flag == 2, "done {done} icv {icv} flag {flag} error_type {err}");
    check!(sec::read_result(&r).tag == 0xbeef, "tag not preserved");
    Ok(out)
}

pub(super) fn sec_aes_cbc() -> TestResult {
    use aes::cipher::{block_padding::NoPadding, BlockDecryptMut, BlockEncryptMut, KeyIvInit};
    let mut q = Queue::open(&sec_dev(), 0).map_err(e2s)?;
    let iv = [7u8; 16];
    for klen in [16usize, 24, 32] {
        let key: Vec<u8> = (0..klen as u8).collect();
        let pt = data(4096 + 16 * klen, klen as u32);
        let ct = dev_cipher(&mut q, C_ENC, CipherMode::Cbc, &key, &iv, &pt)?;
        let mut r = pt.clone();
        let n = r.len();
        match klen {
            16 => cbc::Encryptor::<aes::Aes128>::new_from_slices(&key, &iv).unwrap().encrypt_padded_mut::<NoPadding>(&mut r, n).map(|_| ()),
            24 => cbc::Encryptor::<aes::Aes192>::new_from_slices(&key, &iv).unwrap().encrypt_padded_mut::<NoPadding>(&mut r, n).map(|_| ()),
            _ => cbc::Encryptor::<aes::Aes256>::new_from_slices(&key, &iv).unwrap().encrypt_padded_mut::<NoPadding>(&mut r, n).map(|_| ()),
        }
        .map_err(|_| "pad".to_string())?;
        check!(ct == r, "AES-{} CBC encrypt differs from RustCrypto", klen * 8);
        let back = dev_cipher(&mut q, C_DEC, CipherMode::Cbc, &key, &iv, &ct)?;
        check!(back == pt, "AES-{} CBC decrypt differs", klen * 8);
        if klen == 16 {
            let mut r2 = ct.clone();
            cbc::Decryptor::<aes::Aes128>::new_from_slices(&key, &iv).unwrap().decrypt_padded_mut::<NoPadding>(&mut r2).map_err(|_| "unpad")?;
            check!(r2 == pt, "RustCrypto decrypt of device output differs");
        }
    }
    Ok(())
}

/// CTR is a BD3 (QM v3) mode (UADK `fill_cipher_bd2_mode` has ECB, CBC and XTS only): a v2 device refuses a CTR BD2
/// as malformed (error_type 0xff), as uacce-emu's decode does, and writes nothing. uacce_sys does not encode CTR in
/// BD2, so the BD is a CBC one with c_mode patched to 4.
pub(super) fn sec_aes_ctr() -> TestResult {
    let mut q = Queue::open(&sec_dev(), 0).map_err(e2s)?;
    let key = [0x42u8; 32];
    let iv = [0u8; 16];
    let pt = data(1001, 3);
    let mut out = vec![0u8; pt.len()];
    let s = sec_cipher_sqe(C_ENC, CipherMode::Ctr, &key, &iv, &pt, &mut out);
    // SAFETY: the buffers the SQE names are locals that outlive this call and are untouched during it; `run`
    // returns with the completion consumed, or stops the queue first.
    let r = unsafe { q.run(&s) }.map_err(e2s)?;
    let (done, icv, flag, err) = sec_status(&r);
    check!(done == 1 && icv == 0 && flag == 0 && err == 0xff, "CTR in BD2: done {done} icv {icv} flag {flag} error_type {err:#x}");
    check!(out.iter().all(|&b| b == 0), "CTR in BD2: dst written");
    Ok(())
}

pub(super) fn sec_aes_xts() -> TestResult {
    use aes::cipher::KeyInit;
    let mut q = Queue::open(&sec_dev(), 0).map_err(e2s)?;
    for klen in [32usize, 64] {
        let key: Vec<u8> = (0..klen).map(|i| (i * 3 + 1) as u8).collect();
        let iv: [u8; 16] = [5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        for len in [512usize, 4096, 1000] {
            let pt = data(len, len as u32);
            let ct = dev_cipher(&mut q, C_ENC, CipherMode::Xts, &key, &iv, &pt)?;
            let mut r = pt.clone();
            if klen == 32 {
                let x = xts_mode::Xts128::new(aes::Aes128::new_from_slice(&key[..16]).unwrap(), aes::Aes128::new_from_slice(&key[16..]).unwrap());
                x.encrypt_sector(&mut r, iv);
            } else {
                let x = xts_mode::Xts128::new(aes::Aes256::new_from_slice(&key[..32]).unwrap(), aes::Aes256::new_from_slice(&key[32..]).unwrap());
                x.encrypt_sector(&mut r, iv);
            }
            check!(ct == r, "AES-{}-XTS len {len} differs from RustCrypto", klen * 4);
            let back = dev_cipher(&mut q, C_DEC, CipherMode::Xts, &key, &iv, &ct)?;
            check!(back == pt, "XTS decrypt len {len} differs");
        }
    }
    Ok(())
}

/// A one-shot digest (no key) or HMAC BD writing `mac.len()` bytes.
pub(super) fn sec_digest_sqe(alg: DigestAlg, key: &[u8], src: &[u8], mac: &mut [u8], tag: u16) -> Sqe {
    sec_bd(SecOp::Digest(req::digest(alg, (!key.is_empty()).then_some(key), src, mac)), tag)
}

pub(super) fn run_digest(q: &mut Queue, s: &Sqe, what: &str) -> TestResult {
    // SAFETY: every caller of this helper passes an SQE built from its own locals, which outlive this call; `run`
    // returns with the completion consumed, or stops the queue first.
    let r = unsafe { q.run(s) }.map_err(e2s)?;
    let (done, _, _, err) = sec_status(&r);
    check!(done == 1 && err == 0, "digest {what}: done {done} error_type {err}");
    Ok(())
}

pub(super) fn dev_digest(q: &mut Queue, alg: DigestAlg, key: &[u8], src: &[u8]) -> Result<Vec<u8>, String> {
    let mut mac = vec![0u8; alg.digest_len() as usize];
    let s = sec_digest_sqe(alg, key, src, &mut mac, 1);
    run_digest(q, &s, &format!("{alg:?}"))?;
    Ok(mac)
}

pub(super) fn sec_sha() -> TestResult {
    use sha2::Digest;
    let mut q = Queue::open(&sec_dev(), 0).map_err(e2s)?;
    for len in [1usize, 64, 1000, 100_000] {
        let m = data(len, 11);
        let d = dev_digest(&mut q, DigestAlg::Sha256, &[], &m)?;
        check!(d == sha2::Sha256::digest(&m).to_vec(), "SHA-256 len {len} differs");
        let d = dev_digest(&mut q, DigestAlg::Sha512, &[], &m)?;
        check!(d == sha2::Sha512::digest(&m).to_vec(), "SHA-512 len {len} differs");
    }
    Ok(())
}

pub(super) fn sec_hmac() -> TestResult {
    use hmac::{Hmac, Mac};
    let mut q = Queue::open(&sec_dev(), 0).map_err(e2s)?;
    for klen in [16usize, 32, 128] {
        let key = data(klen, 5);
        let m = data(3000, klen as u32);
        if klen > 64 {
            // A key longer than the block: the driver hashes it first (uacce_sys only encodes keys up to the block
            // size); a BD with a_key_len above the block (32 words, patched into the BD2 u32 at byte 8, bits
            // 5..10) is refused as malformed (0xff), as uacce-emu's decode does, and nothing is written.
            let mut mac = vec![0u8; 32];
            let mut s = sec_digest_sqe(DigestAlg::Sha256, &key[..64], &m, &mut mac, 1);
            let w = u32::from_le_bytes(s[8..12].try_into().unwrap());
            s[8..12].copy_from_slice(&((w & !(0x3f << 5)) | (klen as u32 / 4) << 5).to_le_bytes());
            // SAFETY: the SQE names locals of this function (`key`, `m`, `mac`); `run` returns with the completion
            // consumed, or stops the queue first.
            let (done, _, flag, err) = sec_status(&unsafe { q.run(&s) }.map_err(e2s)?);
            check!(done == 1 && flag == 0 && err == 0xff && mac == [0u8; 32], "HMAC key of 128 bytes: done {done} flag {flag} error_type {err:#x}");
            continue;
        }
        let d = dev_digest(&mut q, DigestAlg::Sha256, &key, &m)?;
        let mut h = Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
        h.update(&m);
        check!(d == h.finalize().into_bytes().to_vec(), "HMAC-SHA256 key {klen} differs");
    }
    let key = data(64, 1);
    let m = data(777, 2);
    let d = dev_digest(&mut q, DigestAlg::Sha512, &key, &m)?;
    let mut h = Hmac::<sha2::Sha512>::new_from_slice(&key).unwrap();
    h.update(&m);
    check!(d == h.finalize().into_bytes().to_vec(), "HMAC-SHA512 differs");
    Ok(())
}

/// An AES-GCM BD; the IV doubles as the auth IV (a_ivin), which the soft device does not read.
pub(super) fn sec_gcm_sqe(dir: CipherDir, key: &[u8], iv: &[u8], aad_len: usize, src: &[u8], dst: &mut [u8], tag: &mut [u8]) -> Sqe {
    sec_bd(SecOp::Aead(req::gcm(dir, req::Gcm { key, iv, aiv: iv, aad_len, src, dst, mac: tag })), 0)
}

pub(super) fn sec_gcm() -> TestResult {
    use aes_gcm::aead::{AeadInPlace, KeyInit};
    let mut q = Queue::open(&sec_dev(), 0).map_err(e2s)?;
    for (klen, aad_len, plen) in [(16usize, 16usize, 64usize), (32, 20, 1000), (16, 0, 4096), (32, 13, 0)] {
        let key = data(klen, 9);
        let iv = [3u8; 12];
        let aad = data(aad_len, 4);
        let pt = data(plen, 8);
        let mut src = aad.clone();
        src.extend_from_slice(&pt);
        let mut dst = vec![0u8; src.len()];
        let mut tag = [0u8; 16];
        // SAFETY: the buffers the SQE names are locals that outlive this call and are untouched during it; `run`
        // returns with the completion consumed, or stops the queue first.
        let r = unsafe { q.run(&sec_gcm_sqe(C_ENC, &key, &iv, aad_len, &src, &mut dst, &mut tag)) }.map_err(e2s)?;
        let (done, icv, flag, err) = sec_status(&r);
        check!(done == 1 && icv == 0 && flag == 3 && err == 0, "GCM enc: done {done} icv {icv} flag {flag} err {err}");
        let mut ct = pt.clone();
        let rtag = if klen == 16 {
            aes_gcm::Aes128Gcm::new_from_slice(&key).unwrap().encrypt_in_place_detached(&iv.into(), &aad, &mut ct)
        } else {
            aes_gcm::Aes256Gcm::new_from_slice(&key).unwrap().encrypt_in_place_detached(&iv.into(), &aad, &mut ct)
        }
        .map_err(|_| "gcm")?;
        check!(dst[aad_len..] == ct[..], "GCM ciphertext differs (key {klen}, aad {aad_len}, len {plen})");
        check!(dst[..aad_len].iter().all(|&b| b == 0), "AAD region of dst written");
        check!(tag[..] == rtag[..], "GCM tag differs");
        // decrypt with the right tag
        let mut src2 = aad.clone();
        src2.extend_from_slice(&ct);
        let mut out = vec![0u8; src2.len()];
        // SAFETY: the buffers the SQE names are locals that outlive this call and are untouched during it; `run`
        // returns with the completion consumed, or stops the queue first.
        let r = unsafe { q.run(&sec_gcm_sqe(C_DEC, &key, &iv, aad_len, &src2, &mut out, &mut tag)) }.map_err(e2s)?;
        let (done, icv, _, err) = sec_status(&r);
        check!(done == 1 && icv == 0 && err == 0, "GCM dec: icv {icv} err {err}");
        check!(out[aad_len..] == pt[..], "GCM decrypt differs");
        // and with a wrong tag: icv = 2, dst untouched
        tag[0] ^= 1;
        let mut out = vec![0u8; src2.len()];
        // SAFETY: the buffers the SQE names are locals that outlive this call and are untouched during it; `run`
        // returns with the completion consumed, or stops the queue first.
        let r = unsafe { q.run(&sec_gcm_sqe(C_DEC, &key, &iv, aad_len, &src2, &mut out, &mut tag)) }.map_err(e2s)?;
        let (done, icv, _, err) = sec_status(&r);
        check!(done == 1 && icv == sec::ICV_MISMATCH && err == 0, "GCM bad tag: done {done} icv {icv} err {err}");
        check!(out.iter().all(|&b| b == 0), "GCM bad tag: dst written");
    }
    Ok(())
}

/// The soft device is as strict as the emulator: a GCM BD whose auth IV (`a_ivin`) does not hold a copy of the IV
/// (as UADK and the kernel's sec2 driver write it) is refused as malformed (error_type 0xff), writing nothing.
pub(super) fn sec_gcm_auth_iv_checked() -> TestResult {
    let mut q = Queue::open(&sec_dev(), 0).map_err(e2s)?;
    let (key, iv, aad_len) = (data(16, 9), [3u8; 12], 16usize);
    let src = data(aad_len + 256, 4);
    let mut other = iv;
    other[11] ^= 1;
    for (what, aiv) in [("zeroed", [0u8; 12]), ("one byte off", other)] {
        for dir in [C_ENC, C_DEC] {
            let mut dst = vec![0u8; src.len()];
            let mut tag = [0u8; 16];
            let sqe = sec_bd(SecOp::Aead(req::gcm(dir, req::Gcm { key: &key, iv: &iv, aiv: &aiv, aad_len, src: &src, dst: &mut dst, mac: &mut tag })), 0);
            // SAFETY: the buffers the SQE names are locals that outlive this call and are untouched during it; `run`
            // returns with the completion consumed, or stops the queue first.
            let r = unsafe { q.run(&sqe) }.map_err(e2s)?;
            let (done, _, _, err) = sec_status(&r);
            check!(done == 1 && err == 0xff, "GCM {dir:?} with an a_ivin {what}: done {done} error_type {err:#x}");
            check!(dst.iter().all(|&b| b == 0), "GCM {dir:?} with an a_ivin {what}: dst written");
            if dir == C_ENC {
                check!(tag == [0u8; 16], "GCM with an a_ivin {what}: tag written");
            }
        }
    }
    Ok(())
}

pub(super) fn sec_errors() -> TestResult {
    let mut q = Queue::open(&sec_dev(), 0).map_err(e2s)?;
    let key = [1u8; 16];
    let iv = [0u8; 16];
    let pt = data(64, 1);
    let mut out = vec![0u8; 64];
    // error: done 1, icv 0, flag 0, error_type as uacce-emu (0x02 fault, 0x03 unsupported, 0xff invalid)
    let mut expect = |what: &str, s: &Sqe, err: u8| -> TestResult {
        // SAFETY: every SQE given to this closure names locals of `sec_errors` (`key`, `iv`, `pt`, `out`, `mac`, …)
        // that outlive it, or addresses the device must refuse (8, a kernel address); `run` returns with the
        // completion consumed, or stops the queue first.
        let (done, icv, flag, e) = sec_status(&unsafe { q.run(s) }.map_err(e2s)?);
        check!(done == 1 && icv == 0 && flag == 0 && e == err, "{what}: done {done} icv {icv} flag {flag} error_type {e:#x}, want {err:#x}");
        Ok(())
    };
    let cbc = |key: &[u8], dst: &mut [u8]| cipher_req(C_ENC, CipherMode::Cbc, key, &iv, &pt, dst);
    // BDs uacce_sys does not encode (it refuses them, or has no such field): patched bytes of an encoded BD
    let mut s = sec_bd(SecOp::Cipher(cbc(&key, &mut out)), 0);
    s[0] = (s[0] & 0xf0) | 3;
    expect("BD type 3 on a v2 device", &s, 0xff)?;
    let mut s = sec_bd(SecOp::Cipher(cbc(&key, &mut out)), 0);
    s[20..24].copy_from_slice(&30u32.to_le_bytes());
    expect("CBC length 30", &s, 0xff)?;
    let mut s = sec_bd(SecOp::Cipher(cbc(&key, &mut out)), 0);
    s[1] |= 0x80;
    expect("SGL source", &s, 0xff)?;
    let mut s = sec_bd(SecOp::Cipher(cbc(&key, &mut out)), 0);
    s[7] |= 0x80;
    expect("BD marked invalid", &s, 0xff)?;
    let mut s = sec_bd(SecOp::Cipher(cbc(&key, &mut out)), 0);
    s[30] = 1;
    expect("reserved byte 30 set", &s, 0xff)?;
    let mut s = sec_bd(SecOp::Cipher(cbc(&key, &mut out)), 0);
    s[72..80].copy_from_slice(&(pt.as_ptr() as u64).to_le_bytes());
    expect("mac_addr set for a plain cipher", &s, 0xff)?;
    // Valid BDs with addresses the device cannot access
    let s = sec_bd(SecOp::Cipher(CipherRequest { key_addr: 8, ..cbc(&key, &mut out) }), 0);
    expect("bad key address", &s, 0x02)?;
    let s = sec_bd(SecOp::Cipher(CipherRequest { dst_addr: 0xffff_8000_0000_1000, ..cbc(&key, &mut out) }), 0);
    expect("kernel dst address", &s, 0x02)?;
    let mut mac = [0u8; 32];
    let mut s = sec_digest_sqe(DigestAlg::Sha256, &[], &pt, &mut mac, 0);
    // a_alg (bits 11..16 of the u32 at byte 8) 0x35: no hash has it (HMAC-SM3 is 0x26)
    let w = u32::from_le_bytes(s[8..12].try_into().unwrap());
    s[8..12].copy_from_slice(&((w & !(0x3f << 11)) | 0x35 << 11).to_le_bytes());
    expect("a_alg 0x35", &s, 0xff)?;
    let mut s = sec_digest_sqe(DigestAlg::Sha256, &[], &pt, &mut mac, 0);
    s[16..20].copy_from_slice(&0u32.to_le_bytes()); // a_len 0: BD2 cannot hash nothing (uacce_sys refuses it)
    expect("zero-length hash", &s, 0xff)?;
    // Still works
    dev_cipher(&mut q, C_ENC, CipherMode::Cbc, &key, &iv, &pt)?;
    Ok(())
}
