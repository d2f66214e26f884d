//! The soft SEC device's breadth (issue 15), BD by BD: SM4 ECB/CBC/XTS, SM3, MD5, SHA-1/224/384 (and SHA-256/512)
//! with their HMACs, one-shot and in long-hash parts, against published vectors (GB/T 32907, GB/T 32905, FIPS 180-4,
//! RFC 1321, RFC 2202, RFC 4231) and the CPU backend's code (`uacce_soft`, which uacce-emu also runs); the long-hash
//! state a first part leaves must be the emulator's. SHA-512/224 and /256, which the kernel's crypto API does not
//! have, end with the unsupported error type (0x03).

use super::sec::{sec_bd, sec_status, C_DEC, C_ENC};
use super::*;

use uacce_sys::qm::sec::{CipherAlg, CipherDir, CipherMode, CipherRequest, DigestAlg, DigestRequest, DigestStage, HmacKey, SecOp};
use uacce_testkit::hex;

/// The hashes the soft device computes (all of the BD's but SHA-512/224 and SHA-512/256).
const DEVICE_HASHES: [DigestAlg; 7] =
    [DigestAlg::Sm3, DigestAlg::Md5, DigestAlg::Sha1, DigestAlg::Sha224, DigestAlg::Sha256, DigestAlg::Sha384, DigestAlg::Sha512];

/// Run a BD that must succeed (done 1, icv 0, flag 2, error_type 0, tag kept).
fn run_ok(q: &mut Queue, s: &Sqe, what: &str) -> TestResult {
    // SAFETY: every caller builds `s` from its own locals, which outlive this call and are untouched during it; `run`
    // returns with the completion consumed, or stops the queue first.
    let r = unsafe { q.run(s) }.map_err(e2s)?;
    let (done, icv, flag, err) = sec_status(&r);
    check!(done == 1 && icv == 0 && flag == 2 && err == 0, "{what}: done {done} icv {icv} flag {flag} error_type {err:#x}");
    check!(uacce_sys::qm::sec::read_result(&r).tag == 0x5a5a, "{what}: tag not preserved");
    Ok(())
}

fn sm4_sqe(mode: CipherMode, dir: CipherDir, key: &[u8], iv: &[u8], src: &[u8], dst: &mut [u8]) -> Sqe {
    sec_bd(SecOp::Cipher(CipherRequest { alg: CipherAlg::Sm4, ..req::cipher(mode, dir, key, iv, src, dst) }), 0x5a5a)
}

fn dev_sm4(q: &mut Queue, mode: CipherMode, dir: CipherDir, key: &[u8], iv: &[u8], input: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = vec![0u8; input.len()];
    let s = sm4_sqe(mode, dir, key, iv, input, &mut out);
    run_ok(q, &s, &format!("SM4 {mode:?} {dir:?} {} bytes", input.len()))?;
    Ok(out)
}

/// SM4 ECB/CBC/XTS (`ecb(sm4)`, `cbc(sm4)`, `xts(sm4)` in the guest kernel): GB/T 32907-2016 A.1, then every mode
/// equal to the CPU backend both ways; a key-length code SM4 does not have is refused (0xff).
pub(super) fn sec_sm4_modes() -> TestResult {
    let mut q = Queue::open(&sec_dev(), 0).map_err(e2s)?;
    // GB/T 32907-2016 A.1: plaintext = key
    let k = hex("0123456789abcdeffedcba9876543210");
    let ct = dev_sm4(&mut q, CipherMode::Ecb, C_ENC, &k, &[0u8; 16], &k)?;
    check!(ct == hex("681edf34d206965e86b3e94f536e4246"), "SM4 GB/T 32907 A.1: {ct:02x?}");
    check!(dev_sm4(&mut q, CipherMode::Ecb, C_DEC, &k, &[0u8; 16], &ct)? == k, "SM4 GB/T 32907 A.1 decrypt");
    for mode in [CipherMode::Ecb, CipherMode::Cbc, CipherMode::Xts] {
        let key = data(if mode == CipherMode::Xts { 32 } else { 16 }, 21);
        let iv = data(16, 22);
        let lens: &[usize] = if mode == CipherMode::Xts { &[16, 17, 1000, 4096] } else { &[16, 4096, 65_552] };
        for &len in lens {
            let pt = data(len, len as u32);
            let mut want = pt.clone();
            uacce_soft::sec::cipher(CipherAlg::Sm4, mode, C_ENC, &key, &iv, &mut want).map_err(|e| format!("CPU SM4: {e:?}"))?;
            let got = dev_sm4(&mut q, mode, C_ENC, &key, &iv, &pt)?;
            check!(got == want, "SM4 {mode:?} {len} bytes: device differs from the CPU backend");
            check!(dev_sm4(&mut q, mode, C_DEC, &key, &iv, &got)? == pt, "SM4 {mode:?} {len} bytes: decrypt differs");
        }
    }
    // c_key_len 2 (an AES-256 code) with SM4: no such SM4 key, the BD does not decode
    let mut out = [0u8; 16];
    let mut s = sm4_sqe(CipherMode::Cbc, C_ENC, &k, &k, &k, &mut out);
    s[13] = (s[13] & !0x0e) | 2 << 1;
    // SAFETY: the SQE names locals of this function; `run` returns with the completion consumed, or stops the queue.
    let (done, _, flag, err) = sec_status(&unsafe { q.run(&s) }.map_err(e2s)?);
    check!(done == 1 && flag == 0 && err == 0xff && out == [0u8; 16], "SM4 with key code 2: done {done} flag {flag} error_type {err:#x}");
    Ok(())
}

/// A one-shot digest or HMAC on the device, `out_len` bytes of MAC.
fn dev_hash(q: &mut Queue, alg: DigestAlg, key: Option<&[u8]>, msg: &[u8], out_len: usize) -> Result<Vec<u8>, String> {
    let mut mac = vec![0u8; out_len];
    let s = sec_bd(SecOp::Digest(req::digest(alg, key, msg, &mut mac)), 0x5a5a);
    run_ok(q, &s, &format!("{alg:?} hmac={} {} bytes", key.is_some(), msg.len()))?;
    Ok(mac)
}

fn cpu_hash(alg: DigestAlg, key: Option<&[u8]>, msg: &[u8]) -> Result<Vec<u8>, String> {
    match key {
        Some(k) => uacce_soft::sec::hmac(alg, k, msg),
        None => uacce_soft::sec::hash(alg, msg),
    }
    .map_err(|e| format!("CPU {alg:?}: {e:?}"))
}

/// A published vector: (hash, HMAC key or none, message, digest in hex).
type HashVector = (DigestAlg, Option<Vec<u8>>, Vec<u8>, &'static str);

/// One-shot hashes and HMACs: published vectors, then every device hash, plain and HMAC (keys of 4, 20 and one
/// block), on lengths around the padding boundaries, equal to the CPU backend; a truncated mac_len writes that much.
pub(super) fn sec_hashes_one_shot() -> TestResult {
    let mut q = Queue::open(&sec_dev(), 0).map_err(e2s)?;
    let abc = b"abc".to_vec();
    let jefe = b"what do ya want for nothing?".to_vec();
    // (alg, key, message, digest): GB/T 32905-2016 A.1/A.2 (SM3), RFC 1321 A.5 (MD5), FIPS 180-4 examples (SHA-1,
    // SHA-224, SHA-384), RFC 2202 test cases 1-2 (HMAC-MD5, HMAC-SHA-1), RFC 4231 test case 2 (HMAC-SHA-224/384)
    let vectors: Vec<HashVector> = vec![
        (DigestAlg::Sm3, None, abc.clone(), "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"),
        (DigestAlg::Sm3, None, b"abcd".repeat(16), "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"),
        (DigestAlg::Md5, None, abc.clone(), "900150983cd24fb0d6963f7d28e17f72"),
        (DigestAlg::Md5, None, b"message digest".to_vec(), "f96b697d7cb7938d525a2f31aaf161d0"),
        (DigestAlg::Sha1, None, abc.clone(), "a9993e364706816aba3e25717850c26c9cd0d89d"),
        (DigestAlg::Sha224, None, abc.clone(), "23097d223405d8228642a477bda255b32aadbce4bda0b3f7e36c9da7"),
        (
            DigestAlg::Sha384,
            None,
            abc,
            "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7",
        ),
        (DigestAlg::Md5, Some(vec![0x0b; 16]), b"Hi There".to_vec(), "9294727a3638bb1c13f48ef8158bfc9d"),
        (DigestAlg::Md5, Some(b"Jefe".to_vec()), jefe.clone(), "750c783e6ab0b503eaa86e310a5db738"),
        (DigestAlg::Sha1, Some(vec![0x0b; 20]), b"Hi There".to_vec(), "b617318655057264e28bc0b6fb378c8ef146be00"),
        (DigestAlg::Sha1, Some(b"Jefe".to_vec()), jefe.clone(), "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"),
        (DigestAlg::Sha224, Some(b"Jefe".to_vec()), jefe.clone(), "a30e01098bc6dbbf45690f3a7e9e6d0f8bbea2a39e6148008fd05e44"),
        (
            DigestAlg::Sha384,
            Some(b"Jefe".to_vec()),
            jefe,
            "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e8e2240ca5e69e2c78b3239ecfab21649",
        ),
    ];
    for (alg, key, msg, want) in &vectors {
        let got = dev_hash(&mut q, *alg, key.as_deref(), msg, alg.digest_len() as usize)?;
        check!(got == hex(want), "{alg:?} (key {}) published vector: {got:02x?}", key.is_some());
    }
    for alg in DEVICE_HASHES {
        let b = alg.block_len() as usize;
        for klen in [0usize, 4, 20, b] {
            let key = (klen > 0).then(|| data(klen, klen as u32 + 7));
            for len in [1usize, b - 9, b - 8, b, 1000, 65_537] {
                let msg = data(len, len as u32 ^ 0x33);
                let want = cpu_hash(alg, key.as_deref(), &msg)?;
                let got = dev_hash(&mut q, alg, key.as_deref(), &msg, want.len())?;
                check!(got == want, "{alg:?} key {klen} len {len}: device differs from the CPU backend");
            }
        }
        // mac_len shorter than the digest: only that much is written
        let msg = data(300, 1);
        let mut mac = vec![0xeeu8; alg.digest_len() as usize];
        let half = (alg.digest_len() / 2).next_multiple_of(4) as usize;
        let s = sec_bd(SecOp::Digest(req::digest(alg, None, &msg, &mut mac[..half])), 0x5a5a);
        run_ok(&mut q, &s, &format!("{alg:?} truncated"))?;
        check!(mac[..half] == cpu_hash(alg, None, &msg)?[..half] && mac[half..].iter().all(|&b| b == 0xee), "{alg:?}: truncated MAC");
    }
    Ok(())
}

/// One long-hash part BD (`state` is the mac_addr buffer: 64 bytes, the state in and out).
fn part_sqe(alg: DigestAlg, key: Option<&[u8]>, msg: &[u8], state: &mut [u8; 64], stage: DigestStage) -> Sqe {
    sec_bd(
        SecOp::Digest(DigestRequest {
            alg,
            hmac_key: key.map(|k| HmacKey { addr: k.as_ptr() as u64, len: k.len() as u32 }),
            src_addr: msg.as_ptr() as u64,
            len: msg.len() as u32,
            mac_addr: state.as_mut_ptr() as u64,
            mac_len: alg.digest_len(),
            stage,
        }),
        0x5a5a,
    )
}

/// Long hash in parts (first, middle, last BDs with the state at mac_addr, as UADK sends them) for every device hash,
/// plain and HMAC: the state after the first part is byte for byte the emulator's (`uacce_soft::sec::long_hash`), the
/// digest after the last equals the one-shot CPU digest of the whole message; a middle part whose a_ivin is not
/// mac_addr, and an intermediate part of a length that is not whole blocks, are refused (0xff).
pub(super) fn sec_long_hash() -> TestResult {
    let mut q = Queue::open(&sec_dev(), 0).map_err(e2s)?;
    for alg in DEVICE_HASHES {
        let b = alg.block_len() as usize;
        for key in [None, Some(data(20, 3))] {
            let what = format!("{alg:?} hmac={}", key.is_some());
            let msg = data(5 * b + 100, b as u32);
            let (first, rest) = msg.split_at(2 * b);
            let (middle, last) = rest.split_at(3 * b);
            let slen = uacce_soft::sec::state_len(alg).map_err(|e| format!("{e:?}"))?;
            let mut state = [0u8; 64];
            run_ok(&mut q, &part_sqe(alg, key.as_deref(), first, &mut state, DigestStage::First), &format!("{what} first"))?;
            let emu = match &key {
                Some(k) => uacce_soft::sec::hmac_long_hash(alg, k, None, first, None),
                None => uacce_soft::sec::long_hash(alg, None, first, None),
            }
            .map_err(|e| format!("{e:?}"))?;
            check!(state[..slen] == emu[..], "{what}: state after the first part differs from the emulator's");
            run_ok(&mut q, &part_sqe(alg, key.as_deref(), middle, &mut state, DigestStage::Middle), &format!("{what} middle"))?;
            let total_len = msg.len() as u64;
            run_ok(&mut q, &part_sqe(alg, key.as_deref(), last, &mut state, DigestStage::Last { total_len }), &format!("{what} last"))?;
            let want = cpu_hash(alg, key.as_deref(), &msg)?;
            check!(state[..want.len()] == want[..], "{what}: long hash in parts differs from the one-shot CPU digest");
        }
    }
    let mut state = [0u8; 64];
    let msg = data(128, 1);
    let expect_invalid = |q: &mut Queue, s: &Sqe, what: &str| -> TestResult {
        // SAFETY: the SQEs name `msg` and `state`, locals of the enclosing function that outlive the call; `run`
        // returns with the completion consumed, or stops the queue first.
        let (done, _, flag, err) = sec_status(&unsafe { q.run(s) }.map_err(e2s)?);
        check!(done == 1 && flag == 0 && err == 0xff, "{what}: done {done} flag {flag} error_type {err:#x}");
        Ok(())
    };
    let mut s = part_sqe(DigestAlg::Sm3, None, &msg, &mut state, DigestStage::Middle);
    s[56..64].copy_from_slice(&0u64.to_le_bytes());
    expect_invalid(&mut q, &s, "middle part with a_ivin 0")?;
    let mut s = part_sqe(DigestAlg::Sha1, None, &msg, &mut state, DigestStage::First);
    s[16..20].copy_from_slice(&100u32.to_le_bytes());
    expect_invalid(&mut q, &s, "first part of 100 bytes")?;
    Ok(())
}

/// SHA-512/224 and SHA-512/256 (a_alg 0x06/0x07, HMAC 0x16/0x17) decode but the guest kernel's crypto API has no
/// such hash: done 1, flag 0, error_type 0x03 (unsupported), nothing written; one-shot and first part.
pub(super) fn sec_sha512_t_unsupported() -> TestResult {
    let mut q = Queue::open(&sec_dev(), 0).map_err(e2s)?;
    let msg = data(256, 9);
    let key = data(32, 1);
    for alg in [DigestAlg::Sha512_224, DigestAlg::Sha512_256] {
        for k in [None, Some(&key[..])] {
            let mut mac = [0u8; 64];
            let one = sec_bd(SecOp::Digest(req::digest(alg, k, &msg, &mut mac[..alg.digest_len() as usize])), 0);
            let mut state = [0u8; 64];
            let first = part_sqe(alg, k, &msg, &mut state, DigestStage::First);
            for (what, s) in [("one-shot", one), ("first part", first)] {
                // SAFETY: the SQEs name `msg`, `key`, `mac` and `state`, locals that outlive the call; `run` returns
                // with the completion consumed, or stops the queue first.
                let (done, icv, flag, err) = sec_status(&unsafe { q.run(&s) }.map_err(e2s)?);
                check!(done == 1 && icv == 0 && flag == 0 && err == 0x03, "{alg:?} hmac={} {what}: done {done} flag {flag} error_type {err:#x}", k.is_some());
            }
            check!(mac == [0u8; 64] && state == [0u8; 64], "{alg:?}: MAC written");
        }
    }
    Ok(())
}

// ----------------------------------------------------------------------------------------------------- CCM, CMAC --
//
// uacce_sys has no encoder for them yet (branch aead15 adds CCM and CMAC to the codec), so these BDs are encoded BDs
// of a neighbour patched byte by byte, as UADK's `fill_aead_bd2` / `fill_digest_bd2_alg` lay them out: CCM is a GCM
// BD with c_mode 5 (BD2 byte 13 bits 4..7), CTR1 at c_ivin and B0 at a_ivin; CMAC is an HMAC BD with a_alg 0x21 (BD2
// u32 at byte 8, bits 11..16) and a 16-byte key.

/// CCM's two IVs as UADK's `set_aead_auth_iv` and the kernel's sec2 driver write them: CTR1 (`L - 1`, the nonce,
/// the counter 1) and B0 (flags, the nonce, the payload length in the last two bytes).
fn ccm_ivs(nonce: &[u8], tag_len: usize, aad_len: usize, len: usize) -> ([u8; 16], [u8; 16]) {
    let l = 15 - nonce.len();
    let mut ctr1 = [0u8; 16];
    ctr1[0] = (l - 1) as u8;
    ctr1[1..1 + nonce.len()].copy_from_slice(nonce);
    ctr1[15] = 1;
    let mut b0 = ctr1;
    b0[0] = (l - 1) as u8 | (((tag_len - 2) / 2) as u8) << 3 | if aad_len > 0 { 0x40 } else { 0 };
    b0[14..].copy_from_slice(&(len as u16).to_be_bytes());
    (ctr1, b0)
}

struct Ccm<'a> {
    key: &'a [u8],
    ctr1: &'a [u8; 16],
    b0: &'a [u8; 16],
    aad_len: usize,
}

/// A CCM BD over `src` (AAD ‖ payload) into `dst`, tag at `tag` (its length is the tag length).
fn ccm_sqe(dir: CipherDir, c: &Ccm<'_>, src: &[u8], dst: &mut [u8], tag: &mut [u8]) -> Sqe {
    let g = req::Gcm { key: c.key, iv: &c.ctr1[..12], aiv: &c.b0[..12], aad_len: c.aad_len, src, dst, mac: tag };
    let mut s = sec_bd(SecOp::Aead(req::gcm(dir, g)), 0x5a5a);
    s[13] = (s[13] & 0x0f) | 5 << 4;
    s[80..88].copy_from_slice(&(c.ctr1.as_ptr() as u64).to_le_bytes());
    s[56..64].copy_from_slice(&(c.b0.as_ptr() as u64).to_le_bytes());
    s
}

/// Run an AEAD BD: (done, icv, flag, error_type).
fn run_status(q: &mut Queue, s: &Sqe) -> Result<(u8, u8, u8, u8), String> {
    // SAFETY: every caller builds `s` from its own locals, which outlive this call and are untouched during it; `run`
    // returns with the completion consumed, or stops the queue first.
    Ok(sec_status(&unsafe { q.run(s) }.map_err(e2s)?))
}

/// AES-CCM (`ccm(aes)` in the guest kernel): RFC 3610 packet vector #1 sealed and opened, a 64 KB payload with a
/// 16-byte tag and no AAD round trip, a wrong tag (icv 2, nothing written), a 70000-byte payload with B0 in both
/// length forms, and malformed IVs (B0 with another length, a nonzero counter byte in CTR1, L = 1) and an odd tag
/// length refused (0xff).
pub(super) fn sec_aes_ccm() -> TestResult {
    let mut q = Queue::open(&sec_dev(), 0).map_err(e2s)?;
    let key: Vec<u8> = (0xc0..=0xcf).collect();
    let nonce = hex("00000003020100a0a1a2a3a4a5");
    let src: Vec<u8> = (0..=0x1e).collect(); // AAD 00..07, payload 08..1e
    let (ctr1, b0) = ccm_ivs(&nonce, 8, 8, 23);
    let c = Ccm { key: &key, ctr1: &ctr1, b0: &b0, aad_len: 8 };
    let (mut dst, mut tag) = (vec![0u8; src.len()], [0u8; 8]);
    let st = run_status(&mut q, &ccm_sqe(C_ENC, &c, &src, &mut dst, &mut tag))?;
    check!(st == (1, 0, 3, 0), "CCM seal (done, icv, flag, error_type) = {st:?}");
    check!(dst[8..] == hex("588c979a61c663d2f066d0c2c0f989806d5f6b61dac384")[..], "RFC 3610 #1 ciphertext: {:02x?}", &dst[8..]);
    check!(tag[..] == hex("17e8d12cfdf926e0")[..] && dst[..8] == [0u8; 8], "RFC 3610 #1 tag: {tag:02x?}");
    let mut sealed = src[..8].to_vec();
    sealed.extend_from_slice(&dst[8..]);
    let mut out = vec![0u8; src.len()];
    let st = run_status(&mut q, &ccm_sqe(C_DEC, &c, &sealed, &mut out, &mut tag))?;
    check!(st == (1, 0, 3, 0) && out[8..] == src[8..], "CCM open: {st:?}");
    tag[7] ^= 1;
    let mut out = vec![0u8; src.len()];
    let st = run_status(&mut q, &ccm_sqe(C_DEC, &c, &sealed, &mut out, &mut tag))?;
    check!(st == (1, 2, 3, 0) && out.iter().all(|&b| b == 0), "CCM wrong tag: {st:?}");
    // 64 KB, no AAD, 16-byte tag, a 7-byte nonce (L = 8): round trip
    let nonce7 = data(7, 1);
    let pt = data(65_536, 2);
    let (ctr1, b0) = ccm_ivs(&nonce7, 16, 0, pt.len());
    let key = data(32, 3);
    let c = Ccm { key: &key, ctr1: &ctr1, b0: &b0, aad_len: 0 };
    let (mut ct, mut tag16) = (vec![0u8; pt.len()], [0u8; 16]);
    check!(run_status(&mut q, &ccm_sqe(C_ENC, &c, &pt, &mut ct, &mut tag16))? == (1, 0, 3, 0), "CCM 64 KB seal");
    check!(ct != pt, "CCM 64 KB: ciphertext equals the plaintext");
    let mut back = vec![0u8; pt.len()];
    check!(run_status(&mut q, &ccm_sqe(C_DEC, &c, &ct, &mut back, &mut tag16))? == (1, 0, 3, 0) && back == pt, "CCM 64 KB open");
    // 70000 bytes, L = 3: B0 with the low 16 bits of the length (as UADK and the kernel's sec2 write it) and with
    // the full length (RFC 3610, as uacce-sys's encoder writes it) give the same sealed bytes
    let nonce12 = data(12, 4);
    let pt = data(70_000, 5);
    let (ctr1, b0_16) = ccm_ivs(&nonce12, 8, 0, pt.len());
    let mut b0_full = b0_16;
    b0_full[13] = (pt.len() >> 16) as u8;
    check!(b0_full != b0_16, "70000 bytes: the two B0 forms do not differ");
    let mut sealed = Vec::new();
    for b0 in [&b0_16, &b0_full] {
        let c = Ccm { key: &key, ctr1: &ctr1, b0, aad_len: 0 };
        let (mut ct, mut tag8) = (vec![0u8; pt.len()], [0u8; 8]);
        check!(run_status(&mut q, &ccm_sqe(C_ENC, &c, &pt, &mut ct, &mut tag8))? == (1, 0, 3, 0), "CCM 70000 bytes seal");
        sealed.push((ct, tag8));
    }
    check!(sealed[0] == sealed[1], "CCM 70000 bytes: the two B0 forms seal differently");
    // Malformed: B0 with another length, a counter byte set in CTR1, L = 1, a tag of 5 bytes
    let (ctr1, b0) = ccm_ivs(&nonce, 8, 8, 23);
    let mut b0_bad = b0;
    b0_bad[15] ^= 1;
    let mut ctr_bad = ctr1;
    ctr_bad[14] = 1;
    let (mut ctr_l1, mut b0_l1) = (ctr1, b0);
    ctr_l1[0] = 0;
    b0_l1[0] &= !7;
    let key: Vec<u8> = (0xc0..=0xcf).collect();
    for (what, ctr1, b0) in [("B0 length", &ctr1, &b0_bad), ("CTR1 counter", &ctr_bad, &b0), ("L = 1", &ctr_l1, &b0_l1)] {
        let c = Ccm { key: &key, ctr1, b0, aad_len: 8 };
        let (mut dst, mut tag) = (vec![0u8; src.len()], [0u8; 8]);
        let st = run_status(&mut q, &ccm_sqe(C_ENC, &c, &src, &mut dst, &mut tag))?;
        check!(st == (1, 0, 0, 0xff) && dst.iter().all(|&b| b == 0) && tag == [0u8; 8], "CCM with a bad {what}: {st:?}");
    }
    let (ctr1, b0) = ccm_ivs(&nonce, 5, 8, 23);
    let c = Ccm { key: &key, ctr1: &ctr1, b0: &b0, aad_len: 8 };
    let (mut dst, mut tag) = (vec![0u8; src.len()], [0u8; 5]);
    let st = run_status(&mut q, &ccm_sqe(C_ENC, &c, &src, &mut dst, &mut tag))?;
    check!(st == (1, 0, 0, 0xff), "CCM with a 5-byte tag: {st:?}");
    Ok(())
}

/// A CMAC BD: an HMAC-SHA256 BD with a_alg patched to 0x21.
fn cmac_sqe(key: &[u8], msg: &[u8], mac: &mut [u8], stage: DigestStage) -> Sqe {
    let mut s = sec_bd(
        SecOp::Digest(DigestRequest {
            alg: DigestAlg::Sha256,
            hmac_key: Some(HmacKey { addr: key.as_ptr() as u64, len: key.len() as u32 }),
            src_addr: msg.as_ptr() as u64,
            len: msg.len() as u32,
            mac_addr: mac.as_mut_ptr() as u64,
            mac_len: mac.len() as u32,
            stage,
        }),
        0x5a5a,
    );
    let w = u32::from_le_bytes(s[8..12].try_into().unwrap());
    s[8..12].copy_from_slice(&((w & !(0x3f << 11)) | 0x21 << 11).to_le_bytes());
    s
}

/// AES-CMAC (`cmac(aes)`): RFC 4493 examples 2 to 4, a truncated MAC (8 bytes); refused as malformed (0xff), as
/// UADK never sends them: a 32-byte key (AES-128 only), a long-hash first part (one-shot only), scene 0.
pub(super) fn sec_aes_cmac() -> TestResult {
    let mut q = Queue::open(&sec_dev(), 0).map_err(e2s)?;
    let key = hex("2b7e151628aed2a6abf7158809cf4f3c");
    let m = hex("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e5130c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710");
    for (len, want) in [(16, "070a16b46b4d4144f79bdd9dd04a287c"), (40, "dfa66747de9ae63030ca32611497c827"), (64, "51f0bebf7e3b9d92fc49741779363cfe")] {
        let mut mac = [0u8; 16];
        run_ok(&mut q, &cmac_sqe(&key, &m[..len], &mut mac, DigestStage::OneShot), &format!("CMAC {len}"))?;
        check!(mac[..] == hex(want)[..], "RFC 4493 CMAC of {len} bytes: {mac:02x?}");
    }
    let mut mac = [0xeeu8; 16];
    run_ok(&mut q, &cmac_sqe(&key, &m[..40], &mut mac[..8], DigestStage::OneShot), "CMAC truncated")?;
    check!(mac[..8] == hex("dfa66747de9ae630")[..] && mac[8..] == [0xee; 8], "CMAC truncated to 8 bytes: {mac:02x?}");
    let key32 = data(32, 1);
    let mut mac = [0u8; 16];
    let st = run_status(&mut q, &cmac_sqe(&key32, &m, &mut mac, DigestStage::OneShot))?;
    check!(st == (1, 0, 0, 0xff) && mac == [0u8; 16], "CMAC with a 32-byte key: {st:?}");
    // a first part with mac_len the full 4 words (the encoder wrote SHA-256's 8)
    let mut s = cmac_sqe(&key, &m, &mut mac, DigestStage::First);
    s[8] = (s[8] & !0x1f) | 4;
    let st = run_status(&mut q, &s)?;
    check!(st == (1, 0, 0, 0xff) && mac == [0u8; 16], "CMAC first part: {st:?}");
    let mut s = cmac_sqe(&key, &m, &mut mac, DigestStage::OneShot);
    s[1] &= !(0xf << 3);
    let st = run_status(&mut q, &s)?;
    check!(st == (1, 0, 0, 0xff) && mac == [0u8; 16], "CMAC with scene 0: {st:?}");
    Ok(())
}
