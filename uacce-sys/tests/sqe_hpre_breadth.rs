//! Golden HPRE SQEs for the operations added for issue 14's breadth, every expected byte written by hand from the
//! protocol document (§12.2, §12.4, §12.7) and UADK's `drv/hisi_hpre.c` / `wd_rsa.c` / `wd_ecc.c`, not by running
//! `encode()`: ECDSA on P-521 (h = 72, task_len1 8), the split SM2 decrypt multiply (dw10 = 0xF, bd_rsv2), and RSA
//! key generation (KG_STD 0x02 / KG_CRT 0x03, input address 0).

use uacce_sys::qm::QmVersion;
use uacce_sys::qm::hpre::layout::{self, CurveParams};
use uacce_sys::qm::hpre::*;

const KEY: u64 = 0x0000_FFFF_8123_4000;
const IN: u64 = 0x0000_FFFF_8123_5000;
const OUT: u64 = 0x0000_FFFF_8123_6000;
const TAG: u64 = 0x0000_AAAA_0000_1238;

/// A 64-byte SQE: the four addresses (key at byte 8, in 16, out 24, tag 32, little-endian), then `parts`.
fn golden(input: u64, output: u64, parts: &[(usize, &[u8])]) -> HpreSqe {
    let mut s = [0u8; 64];
    s[8..16].copy_from_slice(&[0x00, 0x40, 0x23, 0x81, 0xFF, 0xFF, 0x00, 0x00]);
    s[16..24].copy_from_slice(&input.to_le_bytes());
    s[24..32].copy_from_slice(&output.to_le_bytes());
    s[32..40].copy_from_slice(&[0x38, 0x12, 0x00, 0x00, 0xAA, 0xAA, 0x00, 0x00]);
    for (off, bytes) in parts {
        s[*off..*off + bytes.len()].copy_from_slice(bytes);
    }
    s
}

/// P-521 ECDSA (UADK curve id 0x17, key bytes 66, h = 72): sign dw0 = 0x4000000E, verify 0x4000000F with the
/// output field = the input address; dw1 = 72/8 − 1 = 8; refused on v2 and on a type-0 queue.
#[test]
fn golden_p521_ecdsa() {
    let sign = HpreRequest::new(HpreAlg::EcdsaSign, 72, KEY, IN, OUT, TAG);
    let expected = golden(IN, OUT, &[(0, &[0x0E, 0, 0, 0x40]), (4, &[0x08, 0, 0, 0])]);
    sign.validate(QmVersion::V3).unwrap();
    assert_eq!(encode(&sign), expected);
    let v = decode(&expected, QmVersion::V3, HpreQcType::Ecc).unwrap();
    assert_eq!((v.alg, v.width), (HpreAlg::EcdsaSign, 72));
    let verify = HpreRequest::new(HpreAlg::EcdsaVerify, 72, KEY, IN, IN, TAG);
    let expected = golden(IN, IN, &[(0, &[0x0F, 0, 0, 0x40]), (4, &[0x08, 0, 0, 0])]);
    assert_eq!(encode(&verify), expected);
    assert!(matches!(
        sign.validate(QmVersion::V2),
        Err(HpreError::Unsupported { .. })
    ));
    assert!(matches!(
        decode(&expected, QmVersion::V3, HpreQcType::RsaDh),
        Err(HpreError::WrongQueue { .. })
    ));
    // Widths: 7 × 72 = 504-byte private block, 8 × 72 public, in e ‖ k = 144, verify in e ‖ s ‖ r = 216.
    let l = layout::block_lens(HpreAlg::EcdsaSign, 72, 0);
    assert_eq!((l.key, l.input, l.output), (504, 144, 144));
    let l = layout::block_lens(HpreAlg::EcdsaVerify, 72, 0);
    assert_eq!((l.key, l.input, l.output), (576, 216, 0));
    assert_eq!(ecc_width(66), Some(72));
    assert_eq!(task_len1(72), 8);
}

/// P-521's 66-byte numbers sit right-aligned in 72-byte fields: p = 2^521 − 1 is six zero bytes, 0x01, then 65
/// bytes 0xFF; d is the third field.
#[test]
fn p521_blocks_are_right_aligned_in_72_bytes() {
    let mut p = vec![0xFFu8; 66];
    p[0] = 0x01;
    let one = [1u8];
    let c = CurveParams {
        p: &p,
        a: &one,
        b: &one,
        n: &one,
        gx: &one,
        gy: &one,
    };
    let d = [0xABu8; 66];
    let blk = layout::ecc_private_block(&c, &d, 72).unwrap();
    assert_eq!(blk.len(), 504);
    assert_eq!(&blk[..7], &[0, 0, 0, 0, 0, 0, 0x01]);
    assert!(blk[7..72].iter().all(|&b| b == 0xFF));
    assert_eq!(&blk[144..150], &[0; 6]);
    assert_eq!(&blk[150..216], &d[..]);
    // A number wider than the 72-byte field does not fit.
    assert!(layout::ecc_private_block(&c, &[1u8; 73], 72).is_err());
}

/// Split SM2 decrypt (UADK `sm2_dec_send` → `ecc_prepare_in`: sm2_mlen = HPRE_SM2_DEC = 0xF, bd_rsv2 = 1): dw0
/// 0x4000000D, dw1 0x80000003, dw10 0x0000000F; only 0xE and 0xF are markers, and only on alg 0x0D.
#[test]
fn golden_split_sm2_decrypt() {
    let mut req = HpreRequest::new(HpreAlg::EcdhMultiply, 32, KEY, IN, OUT, TAG);
    req.hpcore = true;
    req.dw10 = Dw10::SplitMark(0xF);
    let expected = golden(
        IN,
        OUT,
        &[
            (0, &[0x0D, 0, 0, 0x40]),
            (4, &[0x03, 0, 0, 0x80]),
            (40, &[0x0F, 0, 0, 0]),
        ],
    );
    req.validate(QmVersion::V3).unwrap();
    assert_eq!(encode(&req), expected);
    let v = decode(&expected, QmVersion::V3, HpreQcType::Ecc).unwrap();
    assert_eq!(v.dw10, Dw10::SplitMark(0xF));
    assert!(v.hpcore);
    assert_eq!(v.msg_len(), 0);
    // Another marker value, or the marker on ECDSA: refused.
    let mut bad = expected;
    bad[40] = 0x0D;
    assert!(decode(&bad, QmVersion::V3, HpreQcType::Ecc).is_err());
    let mut bad = expected;
    bad[0] = 0x0E;
    assert!(decode(&bad, QmVersion::V3, HpreQcType::Ecc).is_err());
    // The marker on a single-SQE SM2 decrypt would be a message length: dw10 = 0xF there means 16 bytes.
    let mut sm2 = expected;
    sm2[0] = 0x15;
    sm2[7] = 0;
    let v = decode(&sm2, QmVersion::V3, HpreQcType::Ecc).unwrap();
    assert_eq!(v.msg_len(), 16);
}

/// RSA key generation (UADK `wd_rsa`): KG_STD dw0 0x40000002, KG_CRT 0x40000003, dw1 = k/8 − 1, input address
/// 0 (§12.7), on v2 and v3 type-0 queues; key e(k) ‖ p(k/2) ‖ q(k/2) = 2k, out d ‖ n = 2k, CRT + qinv ‖ dq ‖ dp =
/// 3.5k.
#[test]
fn golden_rsa_keygen() {
    for (alg, code, k, tl) in [
        (HpreAlg::RsaKeygen, 0x02u8, 256usize, 0x1Fu8),
        (HpreAlg::RsaKeygenCrt, 0x03, 512, 0x3F),
        (HpreAlg::RsaKeygenCrt, 0x03, 128, 0x0F),
    ] {
        let req = HpreRequest::new(alg, k, KEY, 0, OUT, TAG);
        let expected = golden(0, OUT, &[(0, &[code, 0, 0, 0x40]), (4, &[tl, 0, 0, 0])]);
        for v in [QmVersion::V2, QmVersion::V3] {
            req.validate(v).unwrap();
            let view = decode(&expected, v, HpreQcType::RsaDh).unwrap();
            assert_eq!((view.alg, view.width, view.input), (alg, k, 0));
        }
        assert_eq!(encode(&req), expected);
        assert!(matches!(
            decode(&expected, QmVersion::V3, HpreQcType::Ecc),
            Err(HpreError::WrongQueue { .. })
        ));
        // An input address: UADK never sends one.
        let with_in = HpreRequest::new(alg, k, KEY, IN, OUT, TAG);
        assert!(matches!(
            with_in.validate(QmVersion::V2),
            Err(HpreError::UnexpectedField(_))
        ));
        assert!(decode(&encode(&with_in), QmVersion::V2, HpreQcType::RsaDh).is_err());
    }
    let l = layout::block_lens(HpreAlg::RsaKeygen, 256, 0);
    assert_eq!((l.key, l.input, l.output), (512, 0, 512));
    let l = layout::block_lens(HpreAlg::RsaKeygenCrt, 256, 0);
    assert_eq!((l.key, l.input, l.output), (512, 0, 896));
    // 1536-bit keys: not an HPRE size.
    assert!(
        HpreRequest::new(HpreAlg::RsaKeygen, 192, KEY, 0, OUT, TAG)
            .validate(QmVersion::V2)
            .is_err()
    );
}
