//! CBC-CS BD codec: a hand-derived golden BD3 (UADK `fill_cipher_bd3_mode`: c_mode 9, c_width 1/2/3 in c_icv_key
//! bits 10..12), round trips of every variant, BD2's refusal (UADK's BD2 fill has no CBC-CS) and the decoder's
//! refusals of a c_width that names no variant.

use uacce_sys::qm::QmVersion;
use uacce_sys::qm::sec::*;

use uacce_testkit::golden;
use uacce_testkit::req::{assert_sec_golden, sec_request as req};

fn cs(mode: CipherMode, alg: CipherAlg, dir: CipherDir) -> CipherRequest {
    CipherRequest {
        alg,
        mode,
        dir,
        key_addr: 0x1000,
        key_len: 16,
        iv_addr: 0x2000,
        src_addr: 0x3000,
        dst_addr: 0x4000,
        len: 33,
    }
}

/// BD3 AES-128-CBC-CS2 encrypt.
#[test]
fn golden_bd3_aes_cbc_cs2() {
    let c = cs(CipherMode::CbcCs2, CipherAlg::Aes, CipherDir::Encrypt);
    let expected = golden(&[
        (0, &[0x23, 0x02, 0x00, 0x00]), // bd_param 0x223 (cipher, §7.4)
        // c_icv_key = dir 1 | c_width 2 << 10 | key code 0 << 13 = 0x0801; c_mode_alg = 9 | AES 2 << 4 = 0x29
        (4, &[0x01, 0x08, 0x29, 0x00]),
        (8, &[0x05, 0, 0, 0, 0, 0, 0, 0]),     // tag
        (16, &[0x00, 0x30, 0, 0, 0, 0, 0, 0]), // data_src
        (48, &[0x00, 0x10, 0, 0, 0, 0, 0, 0]), // c_key_addr
        (72, &[33, 0, 0, 0]),                  // c_len
        (76, &[0x00, 0x40, 0, 0, 0, 0, 0, 0]), // data_dst
        (92, &[0x00, 0x20, 0, 0, 0, 0, 0, 0]), // c_ivin_addr
    ]);
    assert_sec_golden(SecOp::Cipher(c), 5, QmVersion::V3, &expected);
}

/// Every variant × AES/SM4 × direction on BD3 round-trips with its c_width; BD2 refuses them both ways.
#[test]
fn variants_round_trip_and_bd2_refuses() {
    for (mode, width) in [
        (CipherMode::CbcCs1, 1u16),
        (CipherMode::CbcCs2, 2),
        (CipherMode::CbcCs3, 3),
    ] {
        assert_eq!(u16::from(mode.c_width()), width);
        assert!(!mode.on_bd2());
        for alg in [CipherAlg::Aes, CipherAlg::Sm4] {
            for dir in [CipherDir::Encrypt, CipherDir::Decrypt] {
                let c = cs(mode, alg, dir);
                let s = encode(&req(SecOp::Cipher(c), 1), QmVersion::V3).unwrap();
                assert_eq!((u16::from_le_bytes([s[4], s[5]]) >> 10) & 7, width);
                assert_eq!(s[6] & 0xF, 9);
                assert_eq!(decode(&s).unwrap().op, SecOp::Cipher(c));
                assert_eq!(
                    encode(&req(SecOp::Cipher(c), 1), QmVersion::V2),
                    Err(SecEncodeError::ModeNotOnBd2(mode))
                );
            }
        }
        // A BD2 carrying c_mode 9 with the width (icvw_kmode bits 6..8) is refused as a BD3-only mode.
        let mut s = encode(
            &req(
                SecOp::Cipher(CipherRequest {
                    len: 32,
                    ..cs(CipherMode::Cbc, CipherAlg::Aes, CipherDir::Encrypt)
                }),
                1,
            ),
            QmVersion::V2,
        )
        .unwrap();
        let w = u16::from_le_bytes([s[12], s[13]]) & 0x0FFF | 9 << 12 | width << 6;
        s[12..14].copy_from_slice(&w.to_le_bytes());
        s[20] = 33;
        assert_eq!(decode(&s), Err(SecDecodeError::ModeNotOnBd2(mode)));
    }
}

/// c_mode 9 with c_width 0 or 4..7 names no variant; a CBC-CS length of 16 or less is refused both ways; a nonzero
/// c_width on another mode is refused.
#[test]
fn strict_fields() {
    let c = cs(CipherMode::CbcCs1, CipherAlg::Aes, CipherDir::Encrypt);
    let s = encode(&req(SecOp::Cipher(c), 1), QmVersion::V3).unwrap();
    for width in [0u16, 4, 7] {
        let mut t = s;
        let w = u16::from_le_bytes([t[4], t[5]]) & !(7 << 10) | width << 10;
        t[4..6].copy_from_slice(&w.to_le_bytes());
        assert_eq!(decode(&t), Err(SecDecodeError::CMode(9)), "width {width}");
    }
    let mut t = s;
    t[72] = 16;
    assert!(matches!(decode(&t), Err(SecDecodeError::Lengths(_))));
    assert_eq!(
        encode(
            &req(SecOp::Cipher(CipherRequest { len: 16, ..c }), 1),
            QmVersion::V3
        ),
        Err(SecEncodeError::BadLength(16))
    );
    let plain = encode(
        &req(
            SecOp::Cipher(CipherRequest {
                mode: CipherMode::Cbc,
                len: 32,
                ..c
            }),
            1,
        ),
        QmVersion::V3,
    )
    .unwrap();
    let mut t = plain;
    t[5] |= 1 << 2; // c_width 1 on plain CBC
    assert!(matches!(decode(&t), Err(SecDecodeError::Field(_))));
}
