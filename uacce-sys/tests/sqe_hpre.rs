//! HPRE SQE codec tests: hand-derived golden SQEs (hisi-qm-protocol.md §12.2, §12.5, §12.7), encode→decode round
//! trips, strict decode of corrupted and random SQEs, result write/read, and the key-block layouts.

use uacce_sys::qm::QmVersion;
use uacce_sys::qm::hpre::layout::{self, CurveParams, ecc_private, ecc_public, rsa_crt};
use uacce_sys::qm::hpre::*;

use uacce_testkit::Rng;

/// A 64-byte SQE with the given bytes at the given offsets, the rest zero.
fn golden64(parts: &[(usize, &[u8])]) -> HpreSqe {
    let mut s = [0u8; 64];
    for (off, bytes) in parts {
        s[*off..*off + bytes.len()].copy_from_slice(bytes);
    }
    s
}

const KEY: u64 = 0x0000_FFFF_8123_4000;
const IN: u64 = 0x0000_FFFF_8123_5000;
const OUT: u64 = 0x0000_FFFF_8123_6000;
const TAG: u64 = 0x0000_AAAA_0000_1238;

/// The address fields every golden below shares: key at byte 8, in at 16, out at 24, tag at 32, little-endian
/// 64-bit each (§12.2: dw2–3, dw4–5, dw6–7, dw8–9).
fn addrs() -> [(usize, &'static [u8]); 4] {
    [
        (8, &[0x00, 0x40, 0x23, 0x81, 0xFF, 0xFF, 0x00, 0x00]),
        (16, &[0x00, 0x50, 0x23, 0x81, 0xFF, 0xFF, 0x00, 0x00]),
        (24, &[0x00, 0x60, 0x23, 0x81, 0xFF, 0xFF, 0x00, 0x00]),
        (32, &[0x38, 0x12, 0x00, 0x00, 0xAA, 0xAA, 0x00, 0x00]),
    ]
}

fn with_addrs(extra: &[(usize, &[u8])]) -> HpreSqe {
    let mut parts: Vec<(usize, &[u8])> = addrs().to_vec();
    parts.extend_from_slice(extra);
    golden64(&parts)
}

// ---------------------------------------------------------------------------------------------------------------------
// Golden SQEs: every expected byte written by hand from the protocol document, not by running encode().
// ---------------------------------------------------------------------------------------------------------------------

/// §12.5 first example: RSA-2048 private, CRT. dw0 = 0x40000001 (alg 1, done 1), dw1 = 0x1F (256 / 8 − 1).
#[test]
fn golden_rsa2048_crt() {
    let req = HpreRequest::new(HpreAlg::RsaCrt, 256, KEY, IN, OUT, TAG);
    let expected = with_addrs(&[(0, &[0x01, 0x00, 0x00, 0x40]), (4, &[0x1F, 0, 0, 0])]);
    req.validate(QmVersion::V2).unwrap();
    assert_eq!(encode(&req), expected);
    let v = decode(&expected, QmVersion::V2, HpreQcType::RsaDh).unwrap();
    assert_eq!(
        (v.alg, v.width, v.key, v.input, v.output, v.tag),
        (HpreAlg::RsaCrt, 256, KEY, IN, OUT, TAG)
    );
}

/// RSA public / non-CRT private at every size: alg 0, task_len1 0x0F / 0x1F / 0x2F / 0x3F (§12.4 first line).
#[test]
fn golden_rsa_widths() {
    for (k, tl) in [(128, 0x0F), (256, 0x1F), (384, 0x2F), (512, 0x3F)] {
        let req = HpreRequest::new(HpreAlg::RsaNonCrt, k, KEY, IN, OUT, TAG);
        let expected = with_addrs(&[(0, &[0x00, 0x00, 0x00, 0x40]), (4, &[tl, 0, 0, 0])]);
        assert_eq!(encode(&req), expected, "k = {k}");
    }
    // 512- and 1536-bit RSA go to software in the kernel; UADK refuses them.
    for k in [64, 192, 1024] {
        let req = HpreRequest::new(HpreAlg::RsaNonCrt, k, KEY, IN, OUT, TAG);
        assert!(matches!(
            req.validate(QmVersion::V2),
            Err(HpreError::BadWidthFor { .. })
        ));
    }
}

/// DH: alg 5 with an input (UADK, also for g = 2), alg 4 with input address 0 (the kernel's g = 2); DH-768 0x0B,
/// DH-1536 0x17 (§12.4).
#[test]
fn golden_dh() {
    let req = HpreRequest::new(HpreAlg::Dh, 96, KEY, IN, OUT, TAG);
    let expected = with_addrs(&[(0, &[0x05, 0x00, 0x00, 0x40]), (4, &[0x0B, 0, 0, 0])]);
    assert_eq!(encode(&req), expected);
    let g2 = HpreRequest::new(HpreAlg::DhG2, 192, KEY, 0, OUT, TAG);
    g2.validate(QmVersion::V2).unwrap();
    let mut expected = with_addrs(&[(0, &[0x04, 0x00, 0x00, 0x40]), (4, &[0x17, 0, 0, 0])]);
    expected[16..24].fill(0);
    assert_eq!(encode(&g2), expected);
    // g = 2 without input only; the general DH needs one.
    assert!(
        HpreRequest::new(HpreAlg::DhG2, 192, KEY, IN, OUT, TAG)
            .validate(QmVersion::V2)
            .is_err()
    );
    assert!(
        HpreRequest::new(HpreAlg::Dh, 192, KEY, 0, OUT, TAG)
            .validate(QmVersion::V2)
            .is_err()
    );
}

/// §12.5 second example: X25519. dw0 = 0x40000010, dw1 = 3; X448 h = 72 gives task_len1 8 (§12.4, §12.7).
#[test]
fn golden_x25519_x448() {
    let req = HpreRequest::new(HpreAlg::XdhMultiply, 32, KEY, IN, OUT, TAG);
    let expected = with_addrs(&[(0, &[0x10, 0x00, 0x00, 0x40]), (4, &[0x03, 0, 0, 0])]);
    req.validate(QmVersion::V3).unwrap();
    assert_eq!(encode(&req), expected);
    let req = HpreRequest::new(HpreAlg::XdhMultiply, 72, KEY, IN, OUT, TAG);
    let expected = with_addrs(&[(0, &[0x10, 0x00, 0x00, 0x40]), (4, &[0x08, 0, 0, 0])]);
    assert_eq!(encode(&req), expected);
    // X25519 is ECC: not on v2, not on a type-0 queue.
    assert!(matches!(
        req.validate(QmVersion::V2),
        Err(HpreError::Unsupported { .. })
    ));
    assert!(matches!(
        decode(&expected, QmVersion::V3, HpreQcType::RsaDh),
        Err(HpreError::WrongQueue { .. })
    ));
    assert!(decode(&expected, QmVersion::V3, HpreQcType::Ecc).is_ok());
}

/// §12.7: ECDH with the built-in P-256 on v3 sets bd_rsv2: dw1 = 0x80000003; P-384 has task_len1 5, P-521 8.
#[test]
fn golden_ecdh() {
    let mut req = HpreRequest::new(HpreAlg::EcdhMultiply, 32, KEY, IN, OUT, TAG);
    req.hpcore = true;
    let expected = with_addrs(&[(0, &[0x0D, 0x00, 0x00, 0x40]), (4, &[0x03, 0, 0, 0x80])]);
    assert_eq!(encode(&req), expected);
    let v = decode(&expected, QmVersion::V3, HpreQcType::Ecc).unwrap();
    assert!(v.hpcore);
    for (h, tl) in [(48, 5u8), (72, 8)] {
        let req = HpreRequest::new(HpreAlg::EcdhMultiply, h, KEY, IN, OUT, TAG);
        let expected = with_addrs(&[(0, &[0x0D, 0x00, 0x00, 0x40]), (4, &[tl, 0, 0, 0])]);
        assert_eq!(encode(&req), expected);
    }
    // Split SM2 encrypt: alg 0x0D, bd_rsv2, dw10 = 0x00E (§12.4).
    let mut split = HpreRequest::new(HpreAlg::EcdhMultiply, 32, KEY, IN, OUT, TAG);
    split.hpcore = true;
    split.dw10 = Dw10::SplitMark(0xE);
    let expected = with_addrs(&[
        (0, &[0x0D, 0x00, 0x00, 0x40]),
        (4, &[0x03, 0, 0, 0x80]),
        (40, &[0x0E, 0, 0, 0]),
    ]);
    assert_eq!(encode(&split), expected);
    assert_eq!(
        decode(&expected, QmVersion::V3, HpreQcType::Ecc)
            .unwrap()
            .dw10,
        Dw10::SplitMark(0xE)
    );
}

/// §12.7: single-SQE SM2 encrypt with the hardware choosing k: dw1 = 0x02000003, dw10 = message length − 1.
#[test]
fn golden_sm2_encrypt_ksel() {
    let mut req = HpreRequest::new(HpreAlg::Sm2Encrypt, 32, KEY, IN, OUT, TAG);
    req.sm2_ksel = true;
    req.dw10 = Dw10::MsgLen(19);
    let expected = with_addrs(&[
        (0, &[0x14, 0x00, 0x00, 0x40]),
        (4, &[0x03, 0, 0, 0x02]),
        (40, &[0x12, 0, 0, 0]),
    ]);
    req.validate(QmVersion::V3).unwrap();
    assert_eq!(encode(&req), expected);
    let v = decode(&expected, QmVersion::V3, HpreQcType::Ecc).unwrap();
    assert_eq!(v.msg_len(), 19);
    assert!(v.sm2_ksel);
    // 512 bytes is the most one SQE carries: dw10 = 0x1FF.
    req.dw10 = Dw10::MsgLen(512);
    assert_eq!(&encode(&req)[40..44], &[0xFF, 0x01, 0, 0]);
    req.dw10 = Dw10::MsgLen(513);
    assert_eq!(req.validate(QmVersion::V3), Err(HpreError::BadMsgLen));
    req.dw10 = Dw10::None;
    assert_eq!(req.validate(QmVersion::V3), Err(HpreError::BadMsgLen));
}

// ---------------------------------------------------------------------------------------------------------------------
// Completion
// ---------------------------------------------------------------------------------------------------------------------

/// §12.3 / §12.5: the device returns dw0 = 0xC00000xx; a verify's result is dw6 bit 1, which the device must write
/// (UADK puts the input address in `out`).
#[test]
fn results_and_verify_bit() {
    let mut s = encode(&HpreRequest::new(HpreAlg::RsaCrt, 256, KEY, IN, OUT, TAG));
    write_result(&mut s, &HpreResult::default());
    assert_eq!(&s[0..4], &[0x01, 0x00, 0x00, 0xC0]);
    let c = read_result(&s);
    assert_eq!((c.done, c.etype, c.etype1, c.tag), (3, 0, 0, TAG));
    assert_eq!(c.outcome(), HpreOutcome::Ok);
    // A fresh SQE is "not done".
    let fresh = encode(&HpreRequest::new(HpreAlg::RsaCrt, 256, KEY, IN, OUT, TAG));
    assert_eq!(read_result(&fresh).outcome(), HpreOutcome::NotDone);
    // etype 0x7FF and etype1 0x3FFF use all their bits and leave alg and done intact.
    write_result(
        &mut s,
        &HpreResult {
            etype: 0x7FF,
            etype1: 0x3FFF,
            verify: None,
        },
    );
    assert_eq!(&s[0..4], &[0xE1, 0xFF, 0xFF, 0xFF]);
    assert_eq!(
        read_result(&s).outcome(),
        HpreOutcome::Error {
            etype: 0x7FF,
            etype1: 0x3FFF
        }
    );

    // Verify with out = in, an address whose bit 1 is set: the device's write decides.
    let addr = IN | 0x2;
    let mut v = encode(&HpreRequest::new(
        HpreAlg::EcdsaVerify,
        32,
        KEY,
        addr,
        addr,
        TAG,
    ));
    write_result(
        &mut v,
        &HpreResult {
            verify: Some(false),
            ..Default::default()
        },
    );
    assert_eq!(read_result(&v).outcome(), HpreOutcome::VerifyFailed);
    assert_eq!(v[24], 0x00);
    write_result(
        &mut v,
        &HpreResult {
            verify: Some(true),
            ..Default::default()
        },
    );
    assert_eq!(v[24], 0x02);
    assert_eq!(read_result(&v).outcome(), HpreOutcome::Ok);
    // The ring's copies are 128-byte buffers: reading the first 64 bytes of one gives the same answer.
    let mut big = [0u8; 128];
    big[..64].copy_from_slice(&v);
    assert_eq!(read_result(&big), read_result(&v));
}

// ---------------------------------------------------------------------------------------------------------------------
// Round trips and strictness
// ---------------------------------------------------------------------------------------------------------------------

fn valid_requests() -> Vec<HpreRequest> {
    let mut out = Vec::new();
    for alg in HpreAlg::ALL {
        for width in [32usize, 48, 72, 96, 128, 192, 256, 384, 512] {
            if !alg.width_ok(width) {
                continue;
            }
            let input = if alg.has_no_input() { 0 } else { IN };
            let output = if alg.is_verify() { input } else { OUT };
            let mut r = HpreRequest::new(alg, width, KEY, input, output, TAG);
            if matches!(alg, HpreAlg::Sm2Encrypt | HpreAlg::Sm2Decrypt) {
                r.dw10 = Dw10::MsgLen(100);
            }
            out.push(r);
        }
    }
    out
}

#[test]
fn every_algorithm_round_trips_and_respects_versions() {
    let reqs = valid_requests();
    assert!(reqs.len() > 20);
    for r in reqs {
        let s = encode(&r);
        let qc = r.alg.qc_type();
        r.validate(QmVersion::V3).unwrap();
        let v = decode(&s, QmVersion::V3, qc).unwrap();
        assert_eq!(
            (
                v.alg, v.width, v.key, v.input, v.output, v.tag, v.dw10, v.sm2_ksel, v.hpcore
            ),
            (
                r.alg, r.width, r.key, r.input, r.output, r.tag, r.dw10, r.sm2_ksel, r.hpcore
            )
        );
        assert_eq!(
            r.validate(QmVersion::V2).is_ok(),
            qc == HpreQcType::RsaDh,
            "{:?}",
            r.alg
        );
        assert_eq!(
            decode(&s, QmVersion::V2, qc).is_ok(),
            qc == HpreQcType::RsaDh
        );
        assert!(decode(&s, QmVersion::V1, qc).is_err());
        assert!(algorithms(r.alg.min_version()).contains(&r.alg.sysfs_name()));
    }
    assert_eq!(algorithms(QmVersion::V2), &["rsa", "dh"]);
    assert!(algorithms(QmVersion::V1).is_empty());
}

/// Every field hardware must find at its UADK/kernel value is checked by decode.
#[test]
fn decode_refuses_every_bad_field() {
    let good = {
        let mut r = HpreRequest::new(HpreAlg::Sm2Encrypt, 32, KEY, IN, OUT, TAG);
        r.dw10 = Dw10::MsgLen(10);
        encode(&r)
    };
    assert!(decode(&good, QmVersion::V3, HpreQcType::Ecc).is_ok());
    let cases: &[(&str, usize, u8)] = &[
        ("done 0", 3, 0x00),
        ("done 3", 3, 0xC0),
        ("etype", 0, 0x34),
        ("etype1", 2, 0x01),
        ("alg 0x06", 0, 0x06),
        ("alg 0x0C", 0, 0x0C),
        ("alg 0x16", 0, 0x16),
        ("task_len1 for h = 40", 4, 0x04),
        ("task_len2", 5, 0x01),
        ("mrttest_num", 6, 0x01),
        ("uwkey_enb", 7, 0x01),
        ("sva_bypass", 7, 0x04),
        ("sva_status", 7, 0x08),
        ("bd_rsv2 on SM2 encrypt", 7, 0x80),
        ("dw10 rsvd1", 41, 0x02),
        ("dw10 uwkey_sel", 42, 0x01),
        ("kek_key", 44, 0x01),
        ("reserved dw15", 63, 0x01),
    ];
    for (what, off, val) in cases {
        let mut s = good;
        if *off == 0 {
            s[0] = (s[0] & !0x1F) | (val & 0x1F);
            s[0] |= val & 0xE0;
        } else if *off == 3 {
            s[3] = (s[3] & 0x3F) | val;
        } else {
            s[*off] |= val;
        }
        assert!(
            decode(&s, QmVersion::V3, HpreQcType::Ecc).is_err(),
            "{what}"
        );
    }
    // Zero addresses.
    for off in [8, 16, 24] {
        let mut s = good;
        s[off..off + 8].fill(0);
        assert!(matches!(
            decode(&s, QmVersion::V3, HpreQcType::Ecc),
            Err(HpreError::MissingAddress(_))
        ));
    }
    // sm2_ksel on a verify; a dw10 on RSA.
    let mut v = encode(&HpreRequest::new(HpreAlg::Sm2Verify, 32, KEY, IN, IN, TAG));
    v[7] |= 0x02;
    assert!(decode(&v, QmVersion::V3, HpreQcType::Ecc).is_err());
    let mut r = encode(&HpreRequest::new(
        HpreAlg::RsaNonCrt,
        128,
        KEY,
        IN,
        OUT,
        TAG,
    ));
    r[40] = 1;
    assert!(decode(&r, QmVersion::V2, HpreQcType::RsaDh).is_err());
    // Bytes past the SQE in a longer buffer must be zero; a short buffer is refused.
    let mut big = [0u8; 128];
    big[..64].copy_from_slice(&good);
    assert!(decode(&big, QmVersion::V3, HpreQcType::Ecc).is_ok());
    big[100] = 1;
    assert!(decode(&big, QmVersion::V3, HpreQcType::Ecc).is_err());
    assert!(decode(&good[..63], QmVersion::V3, HpreQcType::Ecc).is_err());
}

#[test]
fn decode_never_panics_on_random_bytes() {
    let mut rng = Rng::new(0x4850_5245);
    let mut accepted = 0;
    for i in 0..20_000 {
        let mut s: Vec<u8> = rng.bytes(64);
        if i % 2 == 0 {
            // Mostly-valid SQEs with one random dword: exercises the checks past the first.
            let r = valid_requests()[i % 20];
            s = encode(&r).to_vec();
            let dw = rng.below(16) as usize;
            let b = rng.bytes(4);
            s[dw * 4..dw * 4 + 4].copy_from_slice(&b);
        }
        for v in [QmVersion::V1, QmVersion::V2, QmVersion::V3] {
            for qc in [HpreQcType::RsaDh, HpreQcType::Ecc] {
                if decode(&s, v, qc).is_ok() {
                    accepted += 1;
                }
            }
        }
        let _ = read_result(&s);
        let mut w = s.clone();
        write_result(
            &mut w,
            &HpreResult {
                etype: rng.below(0x10000) as u16,
                etype1: 0xFFFF,
                verify: Some(true),
            },
        );
    }
    // Some of the one-dword mutations (address and tag dwords) stay valid.
    assert!(accepted > 1000, "{accepted}");
}

// ---------------------------------------------------------------------------------------------------------------------
// Block layouts (§12.4)
// ---------------------------------------------------------------------------------------------------------------------

#[test]
fn rsa_blocks_are_big_endian_right_aligned_in_crt_order() {
    let k = 128;
    let b = layout::rsa_key_block(&[0x01, 0x00, 0x01], &[0xC0; 128], k).unwrap();
    assert_eq!(b.len(), 256);
    assert!(b[..125].iter().all(|&x| x == 0));
    assert_eq!(&b[125..128], &[0x01, 0x00, 0x01]);
    assert!(b[128..].iter().all(|&x| x == 0xC0));
    // Leading zeros of an input do not count against the width.
    let mut n = vec![0u8; 10];
    n.extend_from_slice(&[0xC0; 128]);
    assert_eq!(
        layout::rsa_key_block(&[3], &n, k).unwrap()[128..],
        [0xC0; 128]
    );
    // A 129-byte modulus does not fit.
    assert!(matches!(
        layout::rsa_key_block(&[3], &[0xC0; 129], k),
        Err(HpreError::NumberTooLong {
            bytes: 129,
            width: 128
        })
    ));
    assert!(matches!(
        layout::rsa_key_block(&[3], &[1], 100),
        Err(HpreError::BadWidth(100))
    ));

    let c = layout::rsa_crt_block(&[1], &[2], &[3], &[4], &[5], 256).unwrap();
    assert_eq!(c.len(), 5 * 128);
    for (i, v) in [
        (rsa_crt::DQ, 1u8),
        (rsa_crt::DP, 2),
        (rsa_crt::Q, 3),
        (rsa_crt::P, 4),
        (rsa_crt::QINV, 5),
    ] {
        let f = layout::field(&c, 128, i).unwrap();
        assert_eq!(f[127], v);
        assert!(f[..127].iter().all(|&x| x == 0));
    }
    // The kernel's comment: dq first, qinv last.
    assert_eq!((rsa_crt::DQ, rsa_crt::QINV), (0, 4));
    let d = layout::dh_key_block(&[7], &[0xFF; 96], 96).unwrap();
    assert_eq!((d[95], d[96]), (7, 0xFF));
}

#[test]
fn ecc_blocks_follow_uadk_order() {
    let p = [0x11u8; 32];
    let c = CurveParams {
        p: &p,
        a: &[0x22],
        b: &[0x33],
        n: &[0x44],
        gx: &[0x55],
        gy: &[0x66],
    };
    let prv = layout::ecc_private_block(&c, &[0x77], 32).unwrap();
    assert_eq!(prv.len(), 7 * 32);
    // p ‖ a ‖ d ‖ b ‖ n ‖ Gx ‖ Gy: d third.
    let last = |blk: &[u8], i: usize| layout::field(blk, 32, i).unwrap()[31];
    assert_eq!(
        [
            ecc_private::A,
            ecc_private::D,
            ecc_private::B,
            ecc_private::N,
            ecc_private::GX,
            ecc_private::GY
        ]
        .map(|i| last(&prv, i)),
        [0x22, 0x77, 0x33, 0x44, 0x55, 0x66]
    );
    assert_eq!(layout::field(&prv, 32, ecc_private::P).unwrap(), &p);
    // Keygen's input is the private block's Gx (§12.7: +160 for h = 32).
    assert_eq!(ecc_private::GX * 32, 160);
    let pb = layout::ecc_public_block(&c, &[0x88], &[0x99], 32).unwrap();
    assert_eq!(pb.len(), 8 * 32);
    assert_eq!(
        [
            ecc_public::A,
            ecc_public::B,
            ecc_public::N,
            ecc_public::GX,
            ecc_public::GY,
            ecc_public::PX,
            ecc_public::PY
        ]
        .map(|i| last(&pb, i)),
        [0x22, 0x33, 0x44, 0x55, 0x66, 0x88, 0x99]
    );
    // Split SM2 encrypt part 2 reads Px at +192 (§12.7).
    assert_eq!(ecc_public::PX * 32, 192);
    assert!(layout::ecc_private_block(&c, &[1], 40).is_err());
    assert_eq!(
        [
            ecc_width(16),
            ecc_width(32),
            ecc_width(33),
            ecc_width(48),
            ecc_width(56),
            ecc_width(66),
            ecc_width(73)
        ],
        [
            Some(32),
            Some(32),
            Some(48),
            Some(48),
            Some(72),
            Some(72),
            None
        ]
    );
}

#[test]
fn x25519_x448_constants_and_clamping() {
    // §12.5: X25519 key block +0 = 7F FF … FF ED, +32 = 29 zeros then 01 DB 41.
    let blk = layout::x_dh_key_block(&X25519_P, &X25519_A24, &[0x40; 32], 32).unwrap();
    assert_eq!(blk[0], 0x7F);
    assert!(blk[1..31].iter().all(|&b| b == 0xFF));
    assert_eq!(blk[31], 0xED);
    assert!(blk[32..61].iter().all(|&b| b == 0));
    assert_eq!(&blk[61..64], &[0x01, 0xDB, 0x41]);
    // 121665 and 39081.
    assert_eq!(u32::from_be_bytes([0, 0x01, 0xDB, 0x41]), 121_665);
    assert_eq!(u16::from_be_bytes(X448_A24), 39_081);
    // X448 p = 2^448 - 2^224 - 1: 28 bytes FF, FE, 27 bytes FF.
    assert!(
        X448_P[..27].iter().all(|&b| b == 0xFF)
            && X448_P[27] == 0xFE
            && X448_P[28..].iter().all(|&b| b == 0xFF)
    );
    let mut k = [0xFFu8; 32];
    x25519_clamp_be(&mut k);
    assert_eq!((k[0], k[31]), (0x7F, 0xF8));
    assert!(x25519_is_clamped_be(&k));
    assert!(!x25519_is_clamped_be(&[0xFF; 32]));
    let mut k = [0u8; 72];
    k[16..].fill(0x01);
    x448_clamp_be(&mut k);
    assert_eq!((k[16], k[71]), (0x81, 0x00));
    assert!(x448_is_clamped_be(&k));
    k[3] = 1;
    assert!(!x448_is_clamped_be(&k));
    assert_eq!(
        (layout::x_dh_value_len(32), layout::x_dh_value_len(72)),
        (32, 56)
    );
}

/// The helpers take any numbers without panicking.
#[test]
fn helpers_never_panic() {
    assert_eq!(task_len1(0), 0);
    assert_eq!(task_len1(1 << 20), 0xFF);
    for alg in HpreAlg::ALL {
        let l = layout::block_lens(alg, usize::MAX, usize::MAX);
        assert!(l.key >= 1 || l.input >= 1);
        let _ = layout::block_lens(alg, 0, 0);
    }
    // §12.4: RSA-2048 CRT key 640 bytes; SM2 encrypt of 19 bytes: in 32 + 19, out 64 + 19 + 32.
    assert_eq!(layout::block_lens(HpreAlg::RsaCrt, 256, 0).key, 640);
    let l = layout::block_lens(HpreAlg::Sm2Encrypt, 32, 19);
    assert_eq!((l.key, l.input, l.output), (256, 51, 115));
    let l = layout::block_lens(HpreAlg::RsaKeygenCrt, 256, 0);
    assert_eq!((l.key, l.input, l.output), (512, 0, 896));
}
