//! The emulated SEC engine on CCM and the AES MACs: the IV blocks the BD names must be the ones UADK's
//! `set_aead_auth_iv` writes (A1 in `c_ivin`, B0 in `a_ivin`, matching the BD's tag and lengths), a wrong tag on
//! open is the hardware's ICV status (icv 2) with nothing written, and GMAC's IV area must end in four zero bytes.

use std::time::Duration;

use uacce_emu::{DeviceKind, EmuConfig, EmuDevice, EmuQueue};
use uacce_sys::qm::sec::{
    self, CipherAlg, CipherDir, MacAlg, MacRequest, SecOp, SecOutcome, XcmMode, XcmRequest,
};
use uacce_sys::qm::{DriverRing, QmVersion, Sqe};
use uacce_testkit::{hex, req};

struct Tq {
    _dev: EmuDevice,
    _q: EmuQueue,
    ring: DriverRing,
}

fn open(version: QmVersion) -> Tq {
    let dev = EmuDevice::new(EmuConfig::new(DeviceKind::Sec).version(version));
    let q = dev.open_queue(0).unwrap();
    let ring = q.driver_ring().unwrap();
    Tq {
        _dev: dev,
        _q: q,
        ring,
    }
}

/// Submit one SQE and wait for its completion.
///
/// # Safety
/// Every buffer `sqe` names must stay valid and untouched until this returns; it returns only with the completion
/// consumed (a failed wait aborts the process rather than free buffers under the device).
unsafe fn run(tq: &mut Tq, sqe: &Sqe) -> Sqe {
    // SAFETY: the caller's promise lasts until this returns, which is only with the completion consumed.
    match unsafe { tq.ring.run_blocking(sqe, Duration::from_secs(10)) } {
        Ok(c) => c.sqe,
        Err(e) => {
            eprintln!("run_blocking failed ({e}); aborting");
            std::process::abort()
        }
    }
}

fn refused(done: &Sqe) -> bool {
    let r = sec::read_result(done);
    r.done && r.error_type == sec::ERROR_TYPE_INVALID_BD
}

/// RFC 3610 packet vector #1: AES-128, 13-byte nonce, 8 bytes of AAD, 23 of payload, 8-byte tag.
struct V1 {
    key: Vec<u8>,
    nonce: Vec<u8>,
    src: Vec<u8>,
    sealed: Vec<u8>,
}

fn v1() -> V1 {
    V1 {
        key: hex("c0c1c2c3c4c5c6c7c8c9cacbcccdcecf"),
        nonce: hex("00000003020100a0a1a2a3a4a5"),
        src: hex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e"),
        sealed: hex("588c979a61c663d2f066d0c2c0f989806d5f6b61dac38417e8d12cfdf926e0"),
    }
}

/// Run one AES-CCM BD over vector #1 with the given IV blocks (and, for open, the given tag); returns the
/// completed BD, the destination and the tag buffer.
fn ccm_run(
    tq: &mut Tq,
    v: QmVersion,
    dir: CipherDir,
    a1: [u8; 16],
    b0: [u8; 16],
    tag_in: [u8; 8],
) -> (Sqe, Vec<u8>, [u8; 8]) {
    let t = v1();
    let src = match dir {
        CipherDir::Encrypt => t.src.clone(),
        CipherDir::Decrypt => [&t.src[..8], &t.sealed[..23]].concat(),
    };
    let mut dst = vec![0u8; src.len()];
    let mut tag = tag_in;
    let (iv, aiv) = (a1, b0);
    let op = SecOp::Xcm(XcmRequest {
        mode: XcmMode::Ccm,
        alg: CipherAlg::Aes,
        dir,
        key_addr: t.key.as_ptr() as u64,
        key_len: 16,
        iv_addr: iv.as_ptr() as u64,
        aiv_addr: aiv.as_ptr() as u64,
        src_addr: src.as_ptr() as u64,
        dst_addr: dst.as_mut_ptr() as u64,
        aad_len: 8,
        payload_len: 23,
        mac_addr: tag.as_mut_ptr() as u64,
        tag_len: 8,
    });
    let sqe = req::sec_sqe(op, 3, v);
    // SAFETY: the BD names locals of this function (t, iv, aiv, src, dst, tag), alive until `run` returns.
    let done = unsafe { run(tq, &sqe) };
    (done, dst, tag)
}

#[test]
fn ccm_iv_blocks_are_checked_and_bad_tags_are_icv_errors() {
    let t = v1();
    let a1 = sec::ccm_counter_block(&t.nonce).unwrap();
    let b0 = sec::ccm_b0(&t.nonce, 8, 8, 23).unwrap();
    let want_tag: [u8; 8] = t.sealed[23..].try_into().unwrap();
    for v in [QmVersion::V2, QmVersion::V3] {
        let mut tq = open(v);
        let (done, dst, tag) = ccm_run(&mut tq, v, CipherDir::Encrypt, a1, b0, [0; 8]);
        assert_eq!(sec::read_result(&done).outcome(), SecOutcome::Ok, "{v:?}");
        assert_eq!(dst[8..], t.sealed[..23], "{v:?} ciphertext at dst + AAD");
        assert_eq!(tag, want_tag, "{v:?} tag");
        let (done, dst, _) = ccm_run(&mut tq, v, CipherDir::Decrypt, a1, b0, want_tag);
        assert_eq!(sec::read_result(&done).outcome(), SecOutcome::Ok, "{v:?}");
        assert_eq!(dst[8..], t.src[8..], "{v:?} plaintext");

        // A wrong tag: icv 2 (MacMismatch), done, error_type 0, nothing written.
        let mut bad = want_tag;
        bad[7] ^= 1;
        let (done, dst, _) = ccm_run(&mut tq, v, CipherDir::Decrypt, a1, b0, bad);
        let r = sec::read_result(&done);
        assert_eq!(r.outcome(), SecOutcome::MacMismatch, "{v:?}");
        assert_eq!((r.icv, r.error_type), (sec::ICV_MISMATCH, 0));
        assert!(
            dst.iter().all(|&b| b == 0),
            "{v:?}: wrote output on a tag mismatch"
        );

        // IV blocks that are not what UADK writes for this BD: refused, nothing written.
        let mut cases: Vec<(&str, [u8; 16], [u8; 16])> = Vec::new();
        let mut x = a1;
        x[15] = 0;
        cases.push(("A1 with counter 0", x, b0));
        let mut x = a1;
        x[0] = 0;
        cases.push(("A1 with L' = 0 (reserved)", x, b0));
        let mut x = a1;
        x[3] ^= 1;
        cases.push(("A1 nonce differs from B0's", x, b0));
        let mut x = b0;
        x[15] = 22;
        cases.push(("B0 payload length 22", a1, x));
        let mut x = b0;
        x[0] ^= 0x40;
        cases.push(("B0 without Adata", a1, x));
        let mut x = b0;
        x[0] = (x[0] & !0x38) | 7 << 3;
        cases.push(("B0 M' for a 16-byte tag", a1, x));
        cases.push(("a_ivin zeroed", a1, [0; 16]));
        for (what, a, b) in cases {
            for dir in [CipherDir::Encrypt, CipherDir::Decrypt] {
                let (done, dst, _) = ccm_run(&mut tq, v, dir, a, b, want_tag);
                assert!(refused(&done), "{v:?} {dir:?} {what}: not refused");
                assert!(dst.iter().all(|&b| b == 0), "{v:?} {what}: wrote output");
            }
        }
    }
}

#[test]
fn gmac_iv_area_and_mac_results() {
    let mut tq = open(QmVersion::V3);
    let key = [0u8; 16];
    let data = [0u8; 16];
    for (what, tail, ok) in [
        ("IV ‖ 0000", [0u8; 4], true),
        ("IV ‖ 00000001", [0, 0, 0, 1], false),
    ] {
        let mut iv = [0u8; 16];
        iv[12..].copy_from_slice(&tail);
        let mut mac = [0u8; 16];
        let op = SecOp::Mac(MacRequest {
            alg: MacAlg::AesGmac,
            key_addr: key.as_ptr() as u64,
            key_len: 16,
            iv_addr: iv.as_ptr() as u64,
            src_addr: data.as_ptr() as u64,
            len: 16,
            mac_addr: mac.as_mut_ptr() as u64,
            mac_len: 16,
        });
        let sqe = req::sec_sqe(op, 1, QmVersion::V3);
        // SAFETY: the BD names locals of this iteration, alive until `run` returns.
        let done = unsafe { run(&mut tq, &sqe) };
        if ok {
            assert_eq!(sec::read_result(&done).outcome(), SecOutcome::Ok);
            let want = uacce_soft::aead_mac::gmac(&key, &iv[..12], &data).unwrap();
            assert_eq!(mac, want, "{what}");
        } else {
            assert!(refused(&done), "{what}: not refused");
            assert_eq!(mac, [0u8; 16], "{what}: wrote a MAC");
        }
    }
    // XCBC-MAC-96 on v2 (RFC 3566 test case 2): the first 12 bytes, mac_len 12.
    let mut tq = open(QmVersion::V2);
    let key = hex("000102030405060708090a0b0c0d0e0f");
    let msg = [0u8, 1, 2];
    let mut mac = [0u8; 16];
    let op = SecOp::Mac(MacRequest {
        alg: MacAlg::AesXcbc,
        key_addr: key.as_ptr() as u64,
        key_len: 16,
        iv_addr: 0,
        src_addr: msg.as_ptr() as u64,
        len: 3,
        mac_addr: mac.as_mut_ptr() as u64,
        mac_len: 12,
    });
    let sqe = req::sec_sqe(op, 1, QmVersion::V2);
    // SAFETY: the BD names locals, alive until `run` returns.
    let done = unsafe { run(&mut tq, &sqe) };
    assert_eq!(sec::read_result(&done).outcome(), SecOutcome::Ok);
    assert_eq!(mac[..12], hex("5b376580ae2f19afe7219cee")[..]);
    assert_eq!(mac[12..], [0u8; 4], "only mac_len bytes are written");
}
