//! SEC BD codec tests: hand-derived golden BDs (hisi-qm-protocol.md §7, §11), encode→decode round trips for every op ×
//! v2/v3, strict decode on random bytes, result write/read and classification.

use uacce_sys::qm::sec::*;
use uacce_sys::qm::{QmVersion, SQE_SIZE, Sqe};

use uacce_testkit::req::{assert_sec_golden, sec_request as req};
use uacce_testkit::{Rng, golden};

// ---------------------------------------------------------------------------------------------------------------------
// Golden BDs: every expected byte written by hand from the document's tables, not by running encode().
// ---------------------------------------------------------------------------------------------------------------------

/// §7.4 cipher example: BD2, AES-128-CBC, encrypt.
#[test]
fn golden_bd2_aes128_cbc_encrypt() {
    let c = CipherRequest {
        alg: CipherAlg::Aes,
        mode: CipherMode::Cbc,
        dir: CipherDir::Encrypt,
        key_addr: 0x1111_0000,
        key_len: 16,
        iv_addr: 0x2222_0000,
        src_addr: 0x3333_0000,
        dst_addr: 0x4444_0000,
        len: 0x100,
    };
    let expected = golden(&[
        // byte0 = type 2 | cipher 1 (encrypt) << 4 = 0x12; byte1 = de 1 << 1 | scene 1 << 3 = 0x0A (§7.1, §7.4 example)
        (0, &[0x12, 0x0A]),
        // bytes 12..13 icvw_kmode = c_key_len 0 (AES-128) << 9 | c_mode 1 (CBC) << 12 = 0x1000; byte 14 c_alg 2 (AES)
        (12, &[0x00, 0x10, 0x02]),
        (20, &[0x00, 0x01, 0x00, 0x00]), // bytes 20..23 c_len = 0x100 (§7.4 "clen = in_bytes")
        (40, &[0xEF, 0xBE]),             // bytes 40..41 tag u16 (§7.1)
        (80, &[0x00, 0x00, 0x22, 0x22, 0, 0, 0, 0]), // c_ivin_addr (§7.4 "c_ivin 80")
        (88, &[0x00, 0x00, 0x11, 0x11, 0, 0, 0, 0]), // c_key_addr (88)
        (96, &[0x00, 0x00, 0x33, 0x33, 0, 0, 0, 0]), // data_src_addr (96)
        (104, &[0x00, 0x00, 0x44, 0x44, 0, 0, 0, 0]), // data_dst_addr (104)
    ]);
    let r = req(SecOp::Cipher(c), 0xBEEF);
    assert_eq!(encode(&r, QmVersion::V2).unwrap(), expected);
    let v = decode(&expected).unwrap();
    assert_eq!(
        (v.bd_type, v.tag, v.op, v.sva_prefetch),
        (BdType::Bd2, 0xBEEF, SecOp::Cipher(c), false)
    );
}

/// §7.4: BD3 AES-256-XTS decrypt (XTS key-length code from half the 64-byte key, §11), with sva_prefetch.
#[test]
fn golden_bd3_aes256_xts_decrypt_prefetch() {
    let c = CipherRequest {
        alg: CipherAlg::Aes,
        mode: CipherMode::Xts,
        dir: CipherDir::Decrypt,
        key_addr: 0x7F00_0000_1000,
        key_len: 64,
        iv_addr: 0x7F00_0000_2000,
        src_addr: 0x7F00_0000_3000,
        dst_addr: 0x7F00_0000_4000,
        len: 0x200,
    };
    let expected = golden(&[
        // bytes 0..3 bd_param = type 3 | scene 1 << 5 | de 1 << 9 = 0x223 (§7.2, §7.4 "bd_param = 0x223")
        (0, &[0x23, 0x02, 0x00, 0x00]),
        // bytes 4..5 c_icv_key = dir 2 (decrypt) | c_key_len 2 (256 per key) << 13 = 0x4002 (§7.2, §7.3)
        (4, &[0x02, 0x40]),
        // byte 6 c_mode_alg = c_mode 7 (XTS) | c_alg 2 (AES) << 4 = 0x27 (§7.2, §7.3)
        (6, &[0x27]),
        (8, &[0x04, 0x03, 0x02, 0x01, 0, 0, 0, 0]), // bytes 8..15 tag u64, u32 zero-extended (§7.2, §11)
        (16, &[0x00, 0x30, 0x00, 0x00, 0x00, 0x7F, 0, 0]), // data_src_addr (16)
        (48, &[0x00, 0x10, 0x00, 0x00, 0x00, 0x7F, 0, 0]), // c_key_addr (48)
        (56, &[0x00, 0x00, 0x00, 0x08]), // auth_mac_key: sva_prefetch bit 27 only (§7.2, §11)
        (72, &[0x00, 0x02, 0x00, 0x00]), // bytes 72..75 c_len = 0x200 (§7.4 "c_len_ivin")
        (76, &[0x00, 0x40, 0x00, 0x00, 0x00, 0x7F, 0, 0]), // data_dst_addr (76, unaligned u64)
        (92, &[0x00, 0x20, 0x00, 0x00, 0x00, 0x7F, 0, 0]), // c_ivin_addr (92)
    ]);
    let r = SecRequest {
        op: SecOp::Cipher(c),
        tag: 0x0102_0304,
        sva_prefetch: true,
    };
    assert_eq!(encode(&r, QmVersion::V3).unwrap(), expected);
    let v = decode(&expected).unwrap();
    assert_eq!(
        (v.bd_type, v.tag, v.op, v.sva_prefetch),
        (BdType::Bd3, 0x0102_0304, SecOp::Cipher(c), true)
    );
}

/// §7.4 / §11: BD3 AES-128-CTR encrypt sets ctr_count_mode 2 (auth_mac_key 0x04000000).
#[test]
fn golden_bd3_aes128_ctr_encrypt() {
    let c = CipherRequest {
        alg: CipherAlg::Aes,
        mode: CipherMode::Ctr,
        dir: CipherDir::Encrypt,
        key_addr: 0xA000,
        key_len: 16,
        iv_addr: 0xB000,
        src_addr: 0xC000,
        dst_addr: 0xD000,
        len: 100, // CTR: any length
    };
    let expected = golden(&[
        (0, &[0x23, 0x02, 0x00, 0x00]),        // bd_param 0x223 (§7.4)
        (4, &[0x01, 0x00]),                    // c_icv_key = dir 1 (encrypt), key code 0 (AES-128)
        (6, &[0x24]),                          // c_mode 4 (CTR) | c_alg 2 << 4 (§7.3)
        (8, &[0x2A, 0, 0, 0, 0, 0, 0, 0]),     // tag 42
        (16, &[0x00, 0xC0, 0, 0, 0, 0, 0, 0]), // src
        (48, &[0x00, 0xA0, 0, 0, 0, 0, 0, 0]), // c_key
        (56, &[0x00, 0x00, 0x00, 0x04]), // auth_mac_key = ctr_count_mode 2 << 25 = 0x04000000 (§7.2, §7.4, §11)
        (72, &[100, 0, 0, 0]),           // c_len
        (76, &[0x00, 0xD0, 0, 0, 0, 0, 0, 0]), // dst
        (92, &[0x00, 0xB0, 0, 0, 0, 0, 0, 0]), // c_ivin (counter block)
    ]);
    assert_sec_golden(SecOp::Cipher(c), 42, QmVersion::V3, &expected);
    // §11: the same request on v2 is refused at encode.
    assert_eq!(
        encode(&req(SecOp::Cipher(c), 42), QmVersion::V2),
        Err(SecEncodeError::CtrOnBd2)
    );
}

fn gcm128(dir: CipherDir) -> GcmRequest {
    GcmRequest {
        dir,
        key_addr: 0x1000,
        key_len: 16,
        iv_addr: 0x2000,
        aiv_addr: 0x3000,
        src_addr: 0x4000,
        dst_addr: 0x5000,
        aad_len: 20,
        payload_len: 64,
        mac_addr: 0x6000,
        tag_len: 16,
    }
}

/// §7.4 AEAD example: BD3 AES-128-GCM encrypt, 16-byte tag.
#[test]
fn golden_bd3_aes128_gcm_encrypt() {
    let g = gcm128(CipherDir::Encrypt);
    let expected = golden(&[
        (0, &[0x23, 0x02, 0x00, 0x00]), // bd_param 0x223 (§7.4 AEAD BD3 row)
        // c_icv_key = dir 1 | tag_bytes 16 << 4 | keylen 0 << 13 = 0x0101 (§7.4 example); c_mode_alg 0x26 (GCM, AES);
        // huk_iv_seq 0x00 for encrypt
        (4, &[0x01, 0x01, 0x26, 0x00]),
        (8, &[0x07, 0, 0, 0, 0, 0, 0, 0]),     // tag 7
        (16, &[0x00, 0x40, 0, 0, 0, 0, 0, 0]), // data_src = AAD ‖ payload
        (24, &[0x00, 0x10, 0, 0, 0, 0, 0, 0]), // a_key_addr = c_key (kernel convention, see sec.rs docs)
        (32, &[0x00, 0x30, 0, 0, 0, 0, 0, 0]), // a_ivin_addr = per-slot IV copy (§7.4 "a_ivin_addr")
        (48, &[0x00, 0x10, 0, 0, 0, 0, 0, 0]), // c_key_addr
        // auth_mac_key (56..59) = 0: auth field 0 for GCM (§11), no prefetch
        (66, &[20, 0]),       // cipher_src_offset = AAD bytes (§7.4 table, §11)
        (68, &[20, 0, 0, 0]), // a_len = AAD bytes only (§11)
        (72, &[64, 0, 0, 0]), // c_len = payload bytes
        (76, &[0x00, 0x50, 0, 0, 0, 0, 0, 0]), // data_dst
        (84, &[0x00, 0x60, 0, 0, 0, 0, 0, 0]), // mac_addr = tag output
        (92, &[0x00, 0x20, 0, 0, 0, 0, 0, 0]), // c_ivin_addr = 12-byte IV
    ]);
    assert_sec_golden(SecOp::Aead(g), 7, QmVersion::V3, &expected);
    // §7.4: decrypt differs in c_icv_key 0x0102 and huk_iv_seq 0x40.
    let d = encode(
        &req(SecOp::Aead(gcm128(CipherDir::Decrypt)), 7),
        QmVersion::V3,
    )
    .unwrap();
    let mut want = expected;
    want[4] = 0x02;
    want[7] = 0x40;
    assert_eq!(d, want);
}

/// §7.4 AEAD BD2 column: AES-128-GCM decrypt, 16-byte tag.
#[test]
fn golden_bd2_aes128_gcm_decrypt() {
    let g = gcm128(CipherDir::Decrypt);
    let expected = golden(&[
        // byte0 = type 2 | dir 2 << 4, auth 0 = 0x22; byte1 = seq 1 | de 1 << 1 | scene 1 << 3 = 0x0B (§7.4 AEAD table)
        (0, &[0x22, 0x0B]),
        // icvw_kmode = tag 16 | keylen 0 << 9 | mode 6 << 12 = 0x6010 (§7.4 "AES-128 GCM, 16-byte tag: 0x6010"); c_alg 2
        (12, &[0x10, 0x60, 0x02]),
        (16, &[20, 0, 0, 0]),                   // a_len = AAD bytes
        (20, &[64, 0, 0, 0]),                   // c_len = payload bytes
        (26, &[20, 0]),      // cipher_src_offset = AAD (auth_src_offset 24..25 = 0)
        (40, &[0x07, 0x00]), // tag u16
        (56, &[0x00, 0x30, 0, 0, 0, 0, 0, 0]), // a_ivin_addr
        (64, &[0x00, 0x10, 0, 0, 0, 0, 0, 0]), // a_key_addr = key
        (72, &[0x00, 0x60, 0, 0, 0, 0, 0, 0]), // mac_addr = expected tag
        (80, &[0x00, 0x20, 0, 0, 0, 0, 0, 0]), // c_ivin_addr
        (88, &[0x00, 0x10, 0, 0, 0, 0, 0, 0]), // c_key_addr
        (96, &[0x00, 0x40, 0, 0, 0, 0, 0, 0]), // data_src
        (104, &[0x00, 0x50, 0, 0, 0, 0, 0, 0]), // data_dst
    ]);
    assert_sec_golden(SecOp::Aead(g), 7, QmVersion::V2, &expected);
}

/// BD2 SM4-CBC decrypt: c_alg 3 (byte 14), key code 0, mode 1 (icvw_kmode 0x1000), byte0 0x22.
#[test]
fn golden_bd2_sm4_cbc_decrypt() {
    let c = CipherRequest {
        alg: CipherAlg::Sm4,
        mode: CipherMode::Cbc,
        dir: CipherDir::Decrypt,
        key_addr: 0x1000,
        key_len: 16,
        iv_addr: 0x2000,
        src_addr: 0x3000,
        dst_addr: 0x4000,
        len: 32,
    };
    let expected = golden(&[
        (0, &[0x22, 0x0A]),
        (12, &[0x00, 0x10, 0x03]), // icvw_kmode = 1 << 12; c_alg = 3 (SM4)
        (20, &[0x20, 0x00, 0x00, 0x00]),
        (40, &[0x05, 0x00]),
        (80, &[0x00, 0x20, 0, 0, 0, 0, 0, 0]),
        (88, &[0x00, 0x10, 0, 0, 0, 0, 0, 0]),
        (96, &[0x00, 0x30, 0, 0, 0, 0, 0, 0]),
        (104, &[0x00, 0x40, 0, 0, 0, 0, 0, 0]),
    ]);
    assert_sec_golden(SecOp::Cipher(c), 5, QmVersion::V2, &expected);
}

/// BD3 SM4-OFB encrypt, 7 bytes (any length): c_mode_alg = 3 | 3 << 4 = 0x33; no ctr_count_mode. On BD2 the same
/// request is refused both ways (UADK's BD2 fill has no OFB/CFB).
#[test]
fn golden_bd3_sm4_ofb_and_bd2_refusal() {
    let c = CipherRequest {
        alg: CipherAlg::Sm4,
        mode: CipherMode::Ofb,
        dir: CipherDir::Encrypt,
        key_addr: 0x1000,
        key_len: 16,
        iv_addr: 0x2000,
        src_addr: 0x3000,
        dst_addr: 0x4000,
        len: 7,
    };
    let expected = golden(&[
        (0, &[0x23, 0x02, 0x00, 0x00]), // bd_param 0x223
        (4, &[0x01, 0x00]),             // c_icv_key: encrypt, key code 0
        (6, &[0x33]),                   // c_mode_alg: OFB 3 | SM4 3 << 4
        (16, &[0x00, 0x30, 0, 0, 0, 0, 0, 0]),
        (48, &[0x00, 0x10, 0, 0, 0, 0, 0, 0]),
        (72, &[0x07, 0x00, 0x00, 0x00]),
        (76, &[0x00, 0x40, 0, 0, 0, 0, 0, 0]),
        (92, &[0x00, 0x20, 0, 0, 0, 0, 0, 0]),
    ]);
    assert_sec_golden(SecOp::Cipher(c), 0, QmVersion::V3, &expected);
    let cfb = CipherRequest {
        mode: CipherMode::Cfb,
        ..c
    };
    let s = encode(&req(SecOp::Cipher(cfb), 0), QmVersion::V3).unwrap();
    assert_eq!(s[6], 0x32); // CFB 2 | SM4 3 << 4
    for m in [CipherMode::Ofb, CipherMode::Cfb] {
        let r = CipherRequest { mode: m, ..c };
        assert_eq!(
            encode(&req(SecOp::Cipher(r), 0), QmVersion::V2),
            Err(SecEncodeError::ModeNotOnBd2(m))
        );
    }
    // A BD2 with c_mode 3 (OFB) is refused by the device side too.
    let mut bd2 = encode(
        &req(
            SecOp::Cipher(CipherRequest {
                mode: CipherMode::Cbc,
                len: 16,
                ..c
            }),
            0,
        ),
        QmVersion::V2,
    )
    .unwrap();
    bd2[13] = 0x30;
    assert_eq!(
        decode(&bd2),
        Err(SecDecodeError::ModeNotOnBd2(CipherMode::Ofb))
    );
}

/// §7.4 digest example: BD2 SHA-256 one-shot, 32-byte output (mac_key_alg 0x808).
#[test]
fn golden_bd2_sha256() {
    let d = DigestRequest {
        alg: DigestAlg::Sha256,
        hmac_key: None,
        src_addr: 0x8000,
        len: 1000,
        mac_addr: 0x9000,
        mac_len: 32,
        stage: DigestStage::OneShot,
    };
    let expected = golden(&[
        // byte0 = type 2 | auth 1 << 6 = 0x42; byte1 = scene 1 << 3, de 0 = 0x08 (§7.4 digest table, §11)
        (0, &[0x42, 0x08]),
        // byte5 = 0 (ai_gen 0 inner, pad): one-shot. bytes 8..11 mac_key_alg = 32/4 | 0 << 5 | 0x01 << 11 = 0x808
        (8, &[0x08, 0x08, 0x00, 0x00]),
        (16, &[0xE8, 0x03, 0x00, 0x00]), // a_len = 1000 (§7.4 "a_len (bytes 16..19) = in_bytes")
        (40, &[0x34, 0x12]),             // tag
        (72, &[0x00, 0x90, 0, 0, 0, 0, 0, 0]), // mac_addr = output
        (96, &[0x00, 0x80, 0, 0, 0, 0, 0, 0]), // data_src
    ]);
    assert_sec_golden(SecOp::Digest(d), 0x1234, QmVersion::V2, &expected);
}

/// §7.4 digest example: BD3 HMAC-SHA256 one-shot, 32-byte key (auth_mac_key 0x89081), scene 7 (bd_param 0xE3).
#[test]
fn golden_bd3_hmac_sha256() {
    let d = DigestRequest {
        alg: DigestAlg::Sha256,
        hmac_key: Some(HmacKey {
            addr: 0xAB00,
            len: 32,
        }),
        src_addr: 0x8000,
        len: 0x40,
        mac_addr: 0x9000,
        mac_len: 32,
        stage: DigestStage::OneShot,
    };
    let expected = golden(&[
        (0, &[0xE3, 0x00, 0x00, 0x00]), // bd_param = type 3 | scene 7 << 5, de 0 = 0xE3 (§7.4, §11)
        (8, &[0x01, 0, 0, 0, 0, 0, 0, 0]), // tag 1
        (16, &[0x00, 0x80, 0, 0, 0, 0, 0, 0]), // data_src
        (24, &[0x00, 0xAB, 0, 0, 0, 0, 0, 0]), // a_key_addr = HMAC key
        // auth_mac_key = auth 1 | mac 8 << 4 | akey 8 << 9 | a_alg 0x11 << 15 = 0x89081 (§7.4 example, §7.3 codes)
        (56, &[0x81, 0x90, 0x08, 0x00]),
        (68, &[0x40, 0x00, 0x00, 0x00]),       // a_len = input bytes
        (84, &[0x00, 0x90, 0, 0, 0, 0, 0, 0]), // mac_addr
    ]);
    assert_sec_golden(SecOp::Digest(d), 1, QmVersion::V3, &expected);
}

/// BD2 HMAC-SM3 one-shot, 16-byte key: a_alg 0x26 (UADK `A_ALG_HMAC_SM3`, not 0x25 | 0x10), mac 8 words, key 4 words.
#[test]
fn golden_bd2_hmac_sm3() {
    let d = DigestRequest {
        alg: DigestAlg::Sm3,
        hmac_key: Some(HmacKey {
            addr: 0xAB00,
            len: 16,
        }),
        src_addr: 0x8000,
        len: 3,
        mac_addr: 0x9000,
        mac_len: 32,
        stage: DigestStage::OneShot,
    };
    let expected = golden(&[
        (0, &[0x42, 0x08]),
        // mac_key_alg = 8 | 4 << 5 | 0x26 << 11 = 0x13088
        (8, &[0x88, 0x30, 0x01, 0x00]),
        (16, &[0x03, 0x00, 0x00, 0x00]),
        (40, &[0x02, 0x00]),
        (64, &[0x00, 0xAB, 0, 0, 0, 0, 0, 0]), // a_key_addr
        (72, &[0x00, 0x90, 0, 0, 0, 0, 0, 0]),
        (96, &[0x00, 0x80, 0, 0, 0, 0, 0, 0]),
    ]);
    assert_sec_golden(SecOp::Digest(d), 2, QmVersion::V2, &expected);
}

/// BD3 SM3 long-hash first BD: plain SM3 intermediate BDs carry mac_len 8, not 0 (UADK: "SM3 can't config 0 in
/// normal mode", §7.3 full-length table); a_alg 0x25.
#[test]
fn golden_bd3_sm3_long_first() {
    let d = DigestRequest {
        alg: DigestAlg::Sm3,
        hmac_key: None,
        src_addr: 0x8000,
        len: 128,
        mac_addr: 0x9000,
        mac_len: 32,
        stage: DigestStage::First,
    };
    let expected = golden(&[
        (0, &[0xE3, 0x00, 0x00, 0x00]),
        (16, &[0x00, 0x80, 0, 0, 0, 0, 0, 0]),
        // auth_mac_key = auth 1 | ai_gen 0 | mac 8 << 4 | a_alg 0x25 << 15 = 0x12_8081
        (56, &[0x81, 0x80, 0x12, 0x00]),
        (68, &[0x80, 0x00, 0x00, 0x00]),
        (84, &[0x00, 0x90, 0, 0, 0, 0, 0, 0]),
        (108, &[0x01]), // auth pad 1 = no-pad
    ]);
    assert_sec_golden(SecOp::Digest(d), 0, QmVersion::V3, &expected);
    // The same BD with mac_len 0 (what every other plain hash sends) is refused for SM3.
    let mut zero = expected;
    zero[56] = 0x01;
    assert!(decode(&zero).is_err());
}

/// BD3 MD5 and SHA-512/224 one-shot: a_alg 0x02 (mac 4 words) and HMAC-SHA-512/224 0x16 (mac 7 words, 128-byte
/// key = 32 words, the block size).
#[test]
fn golden_bd3_md5_and_hmac_sha512_224() {
    let md5 = DigestRequest {
        alg: DigestAlg::Md5,
        hmac_key: None,
        src_addr: 0x8000,
        len: 1,
        mac_addr: 0x9000,
        mac_len: 16,
        stage: DigestStage::OneShot,
    };
    let mut s = encode(&req(SecOp::Digest(md5), 0), QmVersion::V3).unwrap();
    // auth 1 | mac 4 << 4 | a_alg 2 << 15 = 0x1_0041
    assert_eq!(s[56..60], [0x41, 0x00, 0x01, 0x00]);
    assert_eq!(decode(&s).unwrap().op, SecOp::Digest(md5));
    let h = DigestRequest {
        alg: DigestAlg::Sha512_224,
        hmac_key: Some(HmacKey {
            addr: 0xAB00,
            len: 128,
        }),
        mac_len: 28,
        ..md5
    };
    s = encode(&req(SecOp::Digest(h), 0), QmVersion::V3).unwrap();
    // auth 1 | mac 7 << 4 | key 32 << 9 | a_alg 0x16 << 15 = 0xB_4071
    assert_eq!(s[56..60], [0x71, 0x40, 0x0B, 0x00]);
    assert_eq!(decode(&s).unwrap().op, SecOp::Digest(h));
    // An a_alg no table names (0x08) is refused.
    s[57] = 0x00;
    s[58] = 0x04;
    assert!(decode(&s).is_err());
}

/// §7.4 long-hash table, BD2 middle BD of a SHA-512 long hash: byte5 0x05, mac_len 0, a_ivin = mac_addr.
#[test]
fn golden_bd2_sha512_long_middle() {
    let d = DigestRequest {
        alg: DigestAlg::Sha512,
        hmac_key: None,
        src_addr: 0x8000,
        len: 256, // multiple of the 128-byte block
        mac_addr: 0x9000,
        mac_len: 64,
        stage: DigestStage::Middle,
    };
    let expected = golden(&[
        (0, &[0x42, 0x08]), // digest, scene 1, de 0
        (5, &[0x05]), // ai_gen 1 (from a_ivin) | a_pad 1 (no-pad) << 2 (§7.4 long-hash "middle 0x05")
        // mac_key_alg = mac_len 0 (intermediate plain hash, §7.4/§11) | a_alg 0x05 << 11 = 0x2800
        (8, &[0x00, 0x28, 0x00, 0x00]),
        (16, &[0x00, 0x01, 0x00, 0x00]),       // a_len 256
        (56, &[0x00, 0x90, 0, 0, 0, 0, 0, 0]), // a_ivin_addr = mac_addr (§7.4 "a_ivin = mac_addr")
        (72, &[0x00, 0x90, 0, 0, 0, 0, 0, 0]), // mac_addr
        (96, &[0x00, 0x80, 0, 0, 0, 0, 0, 0]), // data_src
    ]);
    assert_sec_golden(SecOp::Digest(d), 0, QmVersion::V2, &expected);
}

/// §7.4 long-hash table, BD3 last BD of an HMAC-SHA256 long hash: ai_gen 1, byte 108 = 0 (pad), total length in bits.
#[test]
fn golden_bd3_hmac_sha256_long_last() {
    let d = DigestRequest {
        alg: DigestAlg::Sha256,
        hmac_key: Some(HmacKey {
            addr: 0xAB00,
            len: 32,
        }),
        src_addr: 0x8000,
        len: 72,
        mac_addr: 0x9000,
        mac_len: 32,
        stage: DigestStage::Last { total_len: 200 },
    };
    let expected = golden(&[
        (0, &[0xE3, 0x00, 0x00, 0x00]),        // bd_param 0xE3
        (16, &[0x00, 0x80, 0, 0, 0, 0, 0, 0]), // src
        (24, &[0x00, 0xAB, 0, 0, 0, 0, 0, 0]), // a_key
        (32, &[0x00, 0x90, 0, 0, 0, 0, 0, 0]), // a_ivin = mac_addr
        // auth_mac_key = auth 1 | ai_gen 1 << 2 | mac 8 << 4 | akey 8 << 9 | 0x11 << 15 = 0x89085
        (56, &[0x85, 0x90, 0x08, 0x00]),
        (68, &[72, 0, 0, 0]),                  // a_len
        (84, &[0x00, 0x90, 0, 0, 0, 0, 0, 0]), // mac
        // long_a_data_len = 200 * 8 = 1600 = 0x640 bits (§7.2, §7.4); byte 108 stream_auth_pad stays 0 (pad)
        (100, &[0x40, 0x06, 0, 0, 0, 0, 0, 0]),
    ]);
    assert_sec_golden(SecOp::Digest(d), 0, QmVersion::V3, &expected);
}

/// §7.4 long-hash table, BD3 first BD of a SHA-256 long hash: ai_gen 0, byte 108 = 1 (no-pad), mac_len 0.
#[test]
fn golden_bd3_sha256_long_first() {
    let d = DigestRequest {
        alg: DigestAlg::Sha256,
        hmac_key: None,
        src_addr: 0x8000,
        len: 128,
        mac_addr: 0x9000,
        mac_len: 32,
        stage: DigestStage::First,
    };
    let expected = golden(&[
        (0, &[0xE3, 0x00, 0x00, 0x00]),
        (16, &[0x00, 0x80, 0, 0, 0, 0, 0, 0]),
        (56, &[0x01, 0x80, 0x00, 0x00]), // auth 1 | a_alg 0x01 << 15 = 0x8001; mac_len 0, ai_gen 0
        (68, &[0x80, 0, 0, 0]),          // a_len 128
        (84, &[0x00, 0x90, 0, 0, 0, 0, 0, 0]),
        (108, &[0x01]), // stream_auth_pad 1 = no-pad
    ]);
    assert_sec_golden(SecOp::Digest(d), 0, QmVersion::V3, &expected);
}

// ---------------------------------------------------------------------------------------------------------------------
// Round trips
// ---------------------------------------------------------------------------------------------------------------------

fn random_cipher(r: &mut Rng, bd3: bool) -> CipherRequest {
    let alg = r.pick(&[CipherAlg::Aes, CipherAlg::Sm4]);
    let modes: &[CipherMode] = if bd3 {
        &[
            CipherMode::Ecb,
            CipherMode::Cbc,
            CipherMode::Ctr,
            CipherMode::Xts,
            CipherMode::Ofb,
            CipherMode::Cfb,
            CipherMode::CbcCs1,
            CipherMode::CbcCs2,
            CipherMode::CbcCs3,
        ]
    } else {
        &[CipherMode::Ecb, CipherMode::Cbc, CipherMode::Xts]
    };
    let mode = r.pick(modes);
    let per_key = match alg {
        CipherAlg::Aes => r.pick(&[16, 24, 32]),
        CipherAlg::Sm4 => 16,
    };
    let key_len = if mode == CipherMode::Xts {
        per_key * 2
    } else {
        per_key
    };
    let len = match mode {
        CipherMode::Ecb | CipherMode::Cbc => {
            16 * (1 + r.below(u64::from(MAX_DATA_LEN / 16))) as u32
        }
        CipherMode::Xts => 16 + r.below(u64::from(MAX_DATA_LEN - 15)) as u32,
        CipherMode::Ctr | CipherMode::Ofb | CipherMode::Cfb => {
            1 + r.below(u64::from(MAX_DATA_LEN)) as u32
        }
        CipherMode::CbcCs1 | CipherMode::CbcCs2 | CipherMode::CbcCs3 => {
            17 + r.below(u64::from(MAX_DATA_LEN - 16)) as u32
        }
    };
    CipherRequest {
        alg,
        mode,
        dir: r.pick(&[CipherDir::Encrypt, CipherDir::Decrypt]),
        key_addr: r.addr(),
        key_len,
        iv_addr: if mode == CipherMode::Ecb && r.bool() {
            0
        } else {
            r.addr()
        },
        src_addr: r.addr(),
        dst_addr: r.addr(),
        len,
    }
}

fn random_gcm(r: &mut Rng) -> GcmRequest {
    let aad_len = r.below(0x1_0000) as u32;
    let payload_len = r.below(u64::from(MAX_DATA_LEN - aad_len) + 1) as u32;
    GcmRequest {
        dir: r.pick(&[CipherDir::Encrypt, CipherDir::Decrypt]),
        key_addr: r.addr(),
        key_len: r.pick(&[16, 24, 32]),
        iv_addr: r.addr(),
        aiv_addr: r.addr(),
        src_addr: r.addr(),
        dst_addr: r.addr(),
        aad_len,
        payload_len,
        mac_addr: r.addr(),
        tag_len: 4 + r.below(13) as u8,
    }
}

fn random_digest(r: &mut Rng, bd3: bool) -> DigestRequest {
    let alg = r.pick(&DigestAlg::ALL);
    let stage = match r.below(4) {
        0 => DigestStage::OneShot,
        1 => DigestStage::First,
        2 => DigestStage::Middle,
        _ => DigestStage::Last { total_len: 0 },
    };
    let block = alg.block_len();
    let len = match stage {
        DigestStage::First | DigestStage::Middle => {
            block * (1 + r.below(u64::from(MAX_DATA_LEN / block))) as u32
        }
        _ if bd3 && r.below(10) == 0 => 0,
        _ => 1 + r.below(u64::from(MAX_DATA_LEN)) as u32,
    };
    let stage = match stage {
        DigestStage::Last { .. } => DigestStage::Last {
            total_len: u64::from(len) + r.below(1 << 40),
        },
        s => s,
    };
    let hmac_key = r.bool().then(|| HmacKey {
        addr: r.addr(),
        len: 4 * (1 + r.below(u64::from(block / 4))) as u32,
    });
    let mac_len = match stage {
        DigestStage::First | DigestStage::Middle => alg.digest_len(), // normalized by decode
        _ => 4 * (1 + r.below(u64::from(alg.digest_len() / 4))) as u32,
    };
    DigestRequest {
        alg,
        hmac_key,
        src_addr: if len == 0 && r.bool() { 0 } else { r.addr() },
        len,
        mac_addr: r.addr(),
        mac_len,
        stage,
    }
}

#[test]
fn round_trip_every_op_v2_v3() {
    let mut r = Rng(0x5EC0_5EC0_1234_5677);
    for i in 0..30_000 {
        for ver in [QmVersion::V2, QmVersion::V3] {
            let bd3 = ver == QmVersion::V3;
            let op = match i % 3 {
                0 => SecOp::Cipher(random_cipher(&mut r, bd3)),
                1 => SecOp::Aead(random_gcm(&mut r)),
                _ => SecOp::Digest(random_digest(&mut r, bd3)),
            };
            let tag = if bd3 {
                r.next() as u32
            } else {
                r.below(0x1_0000) as u32
            };
            let sva_prefetch = r.bool();
            let rq = SecRequest {
                op,
                tag,
                sva_prefetch,
            };
            let sqe = encode(&rq, ver).unwrap_or_else(|e| panic!("{rq:?} {ver:?}: {e}"));
            let v = decode(&sqe).unwrap_or_else(|e| panic!("{rq:?} {ver:?}: {e}"));
            assert_eq!(v.op, op, "{ver:?}");
            assert_eq!(v.tag, u64::from(tag));
            assert_eq!(v.sva_prefetch, sva_prefetch && bd3);
            assert_eq!(v.bd_type, if bd3 { BdType::Bd3 } else { BdType::Bd2 });
            assert_eq!(sqe[0] & 0xF, v.bd_type.code());
            assert_eq!(read_tag(&sqe), u64::from(tag));
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------------
// Encode errors
// ---------------------------------------------------------------------------------------------------------------------

fn cbc() -> CipherRequest {
    CipherRequest {
        alg: CipherAlg::Aes,
        mode: CipherMode::Cbc,
        dir: CipherDir::Encrypt,
        key_addr: 0x100,
        key_len: 16,
        iv_addr: 0x200,
        src_addr: 0x300,
        dst_addr: 0x400,
        len: 32,
    }
}

#[test]
fn encode_errors() {
    let e = |op: SecOp, ver| encode(&req(op, 1), ver).unwrap_err();
    assert_eq!(
        encode(&req(SecOp::Cipher(cbc()), 0x1_0000), QmVersion::V2),
        Err(SecEncodeError::TagTooLarge(0x1_0000))
    );
    assert!(encode(&req(SecOp::Cipher(cbc()), 0x1_0000), QmVersion::V3).is_ok());
    assert_eq!(
        e(SecOp::Cipher(cbc()), QmVersion::V1),
        SecEncodeError::UnsupportedVersion(QmVersion::V1)
    );
    assert_eq!(
        e(
            SecOp::Cipher(CipherRequest {
                key_len: 20,
                ..cbc()
            }),
            QmVersion::V3
        ),
        SecEncodeError::KeyLen(20)
    );
    assert_eq!(
        e(
            SecOp::Cipher(CipherRequest {
                mode: CipherMode::Xts,
                key_len: 16,
                ..cbc()
            }),
            QmVersion::V3
        ),
        SecEncodeError::KeyLen(16)
    );
    assert_eq!(
        e(
            SecOp::Cipher(CipherRequest {
                alg: CipherAlg::Sm4,
                key_len: 32,
                ..cbc()
            }),
            QmVersion::V3
        ),
        SecEncodeError::KeyLen(32)
    );
    assert_eq!(
        e(
            SecOp::Cipher(CipherRequest { len: 33, ..cbc() }),
            QmVersion::V2
        ),
        SecEncodeError::BadLength(33)
    );
    assert_eq!(
        e(
            SecOp::Cipher(CipherRequest { len: 0, ..cbc() }),
            QmVersion::V2
        ),
        SecEncodeError::BadLength(0)
    );
    assert_eq!(
        e(
            SecOp::Cipher(CipherRequest {
                len: MAX_DATA_LEN + 16,
                ..cbc()
            }),
            QmVersion::V2
        ),
        SecEncodeError::TooLong(u64::from(MAX_DATA_LEN + 16))
    );
    assert_eq!(
        e(
            SecOp::Cipher(CipherRequest {
                iv_addr: 0,
                ..cbc()
            }),
            QmVersion::V2
        ),
        SecEncodeError::NullAddress("IV")
    );

    let g = gcm128(CipherDir::Encrypt);
    assert_eq!(
        e(SecOp::Aead(GcmRequest { tag_len: 3, ..g }), QmVersion::V3),
        SecEncodeError::TagLen(3)
    );
    assert_eq!(
        e(SecOp::Aead(GcmRequest { tag_len: 17, ..g }), QmVersion::V2),
        SecEncodeError::TagLen(17)
    );
    assert_eq!(
        e(
            SecOp::Aead(GcmRequest {
                aad_len: 0x1_0000,
                ..g
            }),
            QmVersion::V3
        ),
        SecEncodeError::AadTooLong(0x1_0000)
    );
    assert_eq!(
        e(SecOp::Aead(GcmRequest { aiv_addr: 0, ..g }), QmVersion::V3),
        SecEncodeError::NullAddress("auth IV")
    );

    let d = DigestRequest {
        alg: DigestAlg::Sha256,
        hmac_key: None,
        src_addr: 0x100,
        len: 64,
        mac_addr: 0x200,
        mac_len: 32,
        stage: DigestStage::OneShot,
    };
    assert_eq!(
        e(SecOp::Digest(DigestRequest { len: 0, ..d }), QmVersion::V2),
        SecEncodeError::BadLength(0)
    );
    assert!(
        encode(
            &req(SecOp::Digest(DigestRequest { len: 0, ..d }), 1),
            QmVersion::V3
        )
        .is_ok()
    );
    assert_eq!(
        e(
            SecOp::Digest(DigestRequest {
                len: 65,
                stage: DigestStage::First,
                ..d
            }),
            QmVersion::V3
        ),
        SecEncodeError::BadLength(65)
    );
    assert_eq!(
        e(
            SecOp::Digest(DigestRequest { mac_len: 30, ..d }),
            QmVersion::V3
        ),
        SecEncodeError::MacLen(30)
    );
    assert_eq!(
        e(
            SecOp::Digest(DigestRequest { mac_len: 36, ..d }),
            QmVersion::V3
        ),
        SecEncodeError::MacLen(36)
    );
    let hk = |len| Some(HmacKey { addr: 0x300, len });
    assert_eq!(
        e(
            SecOp::Digest(DigestRequest {
                hmac_key: hk(6),
                ..d
            }),
            QmVersion::V3
        ),
        SecEncodeError::HmacKeyLen(6)
    );
    assert_eq!(
        e(
            SecOp::Digest(DigestRequest {
                hmac_key: hk(68),
                ..d
            }),
            QmVersion::V3
        ),
        SecEncodeError::HmacKeyLen(68)
    );
    assert_eq!(
        e(
            SecOp::Digest(DigestRequest {
                stage: DigestStage::Last { total_len: 10 },
                ..d
            }),
            QmVersion::V2
        ),
        SecEncodeError::TotalLen(10)
    );
}

// ---------------------------------------------------------------------------------------------------------------------
// Strict decode
// ---------------------------------------------------------------------------------------------------------------------

#[test]
fn decode_rejects_bad_fields() {
    let bd2 = encode(&req(SecOp::Cipher(cbc()), 1), QmVersion::V2).unwrap();
    let bd3 = encode(&req(SecOp::Cipher(cbc()), 1), QmVersion::V3).unwrap();
    let with = |base: &Sqe, f: &dyn Fn(&mut Sqe)| {
        let mut s = *base;
        f(&mut s);
        decode(&s)
    };
    assert_eq!(
        with(&bd2, &|s| s[0] = 0x11),
        Err(SecDecodeError::UnknownBdType(1))
    );
    assert_eq!(
        with(&bd2, &|s| s[0] = 0x1F),
        Err(SecDecodeError::UnknownBdType(0xF))
    );
    assert_eq!(
        with(&bd2, &|s| s[1] |= 0x80),
        Err(SecDecodeError::AddrType("source", 1))
    );
    assert_eq!(
        with(&bd2, &|s| s[2] = 0x04),
        Err(SecDecodeError::AddrType("destination", 1))
    );
    assert_eq!(
        with(&bd3, &|s| s[1] |= 0x08),
        Err(SecDecodeError::AddrType("source", 1))
    ); // bit 11
    assert_eq!(
        with(&bd3, &|s| s[1] |= 0x40),
        Err(SecDecodeError::AddrType("destination", 1))
    ); // bit 14
    assert_eq!(with(&bd2, &|s| s[7] = 0x80), Err(SecDecodeError::InvalidBd));
    assert_eq!(
        with(&bd3, &|s| s[0] |= 0x10),
        Err(SecDecodeError::InvalidBd)
    );
    assert_eq!(with(&bd2, &|s| s[1] = 0x1A), Err(SecDecodeError::Scene(3)));
    assert_eq!(with(&bd2, &|s| s[14] = 0), Err(SecDecodeError::CAlg(0)));
    assert_eq!(with(&bd3, &|s| s[6] = 0x12), Err(SecDecodeError::CAlg(1))); // 3DES
    // CCM fields on a plain cipher BD: a CCM BD without its tag length.
    assert!(matches!(
        with(&bd3, &|s| s[6] = 0x25),
        Err(SecDecodeError::Field(_))
    ));
    assert_eq!(with(&bd3, &|s| s[6] = 0x28), Err(SecDecodeError::CMode(8))); // no such mode
    assert_eq!(
        with(&bd2, &|s| s[13] = 0x20),
        Err(SecDecodeError::ModeNotOnBd2(CipherMode::Cfb))
    );
    assert_eq!(with(&bd2, &|s| s[13] = 0x40), Err(SecDecodeError::CtrOnBd2));
    assert_eq!(
        with(&bd3, &|s| s[5] = 0x60),
        Err(SecDecodeError::KeyLenCode(3))
    );
    assert_eq!(
        with(&bd2, &|s| s[13] = 0x16), // c_key_len bits 9..11 = 3, c_mode CBC
        Err(SecDecodeError::KeyLenCode(3))
    );
    assert_eq!(
        with(&bd2, &|s| s[0] = 0x32),
        Err(SecDecodeError::UnsupportedOp { cipher: 3, auth: 0 })
    );
    // cipher 1 + auth 1 is authenc (tests/sqe_authenc.rs): a plain cipher BD has no HMAC a_alg there.
    assert_eq!(with(&bd2, &|s| s[0] = 0x52), Err(SecDecodeError::AAlg(0)));
    assert_eq!(
        with(&bd2, &|s| s[0] = 0x92),
        Err(SecDecodeError::UnsupportedOp { cipher: 1, auth: 2 })
    );
    assert_eq!(
        with(&bd2, &|s| s[0] = 0x02),
        Err(SecDecodeError::UnsupportedOp { cipher: 0, auth: 0 })
    );
    assert!(matches!(
        with(&bd2, &|s| s[16] = 1),
        Err(SecDecodeError::Lengths(_))
    )); // a_len for a cipher
    assert!(matches!(
        with(&bd3, &|s| s[68] = 1),
        Err(SecDecodeError::Lengths(_))
    ));
    assert!(matches!(
        with(&bd2, &|s| s[20] = 33),
        Err(SecDecodeError::Lengths(_))
    ));
    assert_eq!(
        with(&bd3, &|s| s[72..76]
            .copy_from_slice(&0x00FF_FF00u32.to_le_bytes())),
        Err(SecDecodeError::TooLong(0xFF_FF00))
    );
    assert_eq!(
        with(&bd2, &|s| s[88..96].fill(0)),
        Err(SecDecodeError::NullAddress("key"))
    );
    // BD3 CTR without ctr_count_mode 2
    let ctr = CipherRequest {
        mode: CipherMode::Ctr,
        ..cbc()
    };
    let bd3_ctr = encode(&req(SecOp::Cipher(ctr), 1), QmVersion::V3).unwrap();
    assert!(matches!(
        with(&bd3_ctr, &|s| s[59] = 0),
        Err(SecDecodeError::Field(_))
    ));
    // The kernel sets ctr_count_mode 2 for every BD3 skcipher: accepted for CBC too.
    assert!(with(&bd3, &|s| s[59] = 0x04).is_ok());

    // GCM
    let g = encode(
        &req(SecOp::Aead(gcm128(CipherDir::Encrypt)), 1),
        QmVersion::V3,
    )
    .unwrap();
    assert!(matches!(
        with(&g, &|s| s[68] = 21),
        Err(SecDecodeError::Lengths(_))
    )); // a_len ≠ cipher_src_offset
    assert!(matches!(
        with(&g, &|s| s[7] = 0x40),
        Err(SecDecodeError::Field(_))
    )); // seq on encrypt
    assert!(matches!(
        with(&g, &|s| s[4] = 0x31),
        Err(SecDecodeError::Field(_))
    )); // tag len 3
    // SM4-GCM is an XcmRequest on BD3 (sqe_sec_xcm_mac.rs); BD2 refuses it.
    assert!(matches!(
        with(&g, &|s| s[6] = 0x36).map(|v| v.op),
        Ok(SecOp::Xcm(XcmRequest {
            mode: XcmMode::Gcm,
            alg: CipherAlg::Sm4,
            ..
        }))
    ));
    let g2 = encode(
        &req(SecOp::Aead(gcm128(CipherDir::Decrypt)), 1),
        QmVersion::V2,
    )
    .unwrap();
    assert!(matches!(
        with(&g2, &|s| s[1] = 0x0A),
        Err(SecDecodeError::Field(_))
    )); // decrypt without seq

    // Digest
    let d = DigestRequest {
        alg: DigestAlg::Sha256,
        hmac_key: None,
        src_addr: 0x100,
        len: 64,
        mac_addr: 0x200,
        mac_len: 32,
        stage: DigestStage::Middle,
    };
    let d2 = encode(&req(SecOp::Digest(d), 1), QmVersion::V2).unwrap();
    let d3 = encode(&req(SecOp::Digest(d), 1), QmVersion::V3).unwrap();
    // 0x08: no table names it (between SHA-512/256 0x07 and the HMACs 0x10)
    assert_eq!(with(&d2, &|s| s[9] = 0x40), Err(SecDecodeError::AAlg(0x08)));
    // 0x35 = SM3 0x25 | 0x10 is not HMAC-SM3 (that is 0x26)
    assert_eq!(
        with(&d2, &|s| {
            s[9] = 0xA8;
            s[10] = 0x01
        }),
        Err(SecDecodeError::AAlg(0x35))
    );
    // AES-CMAC (a_alg 0x21) is one-shot only: a middle long-hash part of it is refused.
    assert!(matches!(
        with(&d3, &|s| s[58] = 0x10),
        Err(SecDecodeError::Field(_))
    ));
    assert!(matches!(
        with(&d2, &|s| s[20] = 1),
        Err(SecDecodeError::Lengths(_))
    )); // c_len for digest
    assert!(matches!(
        with(&d2, &|s| s[16] = 65),
        Err(SecDecodeError::Lengths(_))
    )); // not a block multiple
    assert!(matches!(
        with(&d2, &|s| s[56] = 1),
        Err(SecDecodeError::Field(_))
    )); // a_ivin ≠ mac
    assert!(matches!(
        with(&d3, &|s| s[56] |= 0x80),
        Err(SecDecodeError::Field(_))
    )); // mac_len 8 on plain middle
    assert!(matches!(
        with(&d3, &|s| s[56] |= 0x08),
        Err(SecDecodeError::Field(_))
    )); // ai_gen 3
    assert!(matches!(
        with(&d3, &|s| s[100] = 8),
        Err(SecDecodeError::Lengths(_))
    )); // long len on middle
    assert!(matches!(
        with(&d2, &|s| s[1] = 0x0A),
        Err(SecDecodeError::Field(_))
    )); // de 1 for digest
}

#[test]
fn decode_never_panics_on_random_bytes() {
    let mut r = Rng(0xDEC0_DE00_0000_0001);
    let mut accepted = 0;
    for i in 0..200_000 {
        let mut s: Sqe = [0; SQE_SIZE];
        if i % 2 == 0 {
            for b in s.iter_mut() {
                *b = r.next() as u8;
            }
            // Half of them with a valid BD type so the deeper paths run.
            if r.bool() {
                s[0] = (s[0] & 0xF0) | r.pick(&[2, 3]);
            }
        } else {
            let bd3 = r.bool();
            let op = match r.below(3) {
                0 => SecOp::Cipher(random_cipher(&mut r, bd3)),
                1 => SecOp::Aead(random_gcm(&mut r)),
                _ => SecOp::Digest(random_digest(&mut r, bd3)),
            };
            let tag = r.below(0x1_0000) as u32;
            s = encode(
                &req(op, tag),
                if bd3 { QmVersion::V3 } else { QmVersion::V2 },
            )
            .unwrap();
            for _ in 0..1 + r.below(3) {
                let bit = r.below(1024) as usize;
                s[bit / 8] ^= 1 << (bit % 8);
            }
        }
        if decode(&s).is_ok() {
            accepted += 1;
        }
        let c = read_result(&s);
        let _ = c.outcome();
    }
    assert!(accepted > 0);
}

// ---------------------------------------------------------------------------------------------------------------------
// Results
// ---------------------------------------------------------------------------------------------------------------------

#[test]
fn write_then_read_result() {
    let g = gcm128(CipherDir::Decrypt);
    for (ver, op, tag) in [
        (QmVersion::V2, SecOp::Cipher(cbc()), 0xFFFFu32),
        (QmVersion::V3, SecOp::Cipher(cbc()), 0xFFFF_FFFF),
        (QmVersion::V2, SecOp::Aead(g), 3),
        (QmVersion::V3, SecOp::Aead(g), 0x8000_0001),
    ] {
        let orig = encode(&req(op, tag), ver).unwrap();
        let mut s = orig;
        write_result(&mut s, &SecResult::success(op.kind()));
        // Only bytes 112..114 change.
        for i in 0..SQE_SIZE {
            if !(112..=114).contains(&i) {
                assert_eq!(s[i], orig[i], "byte {i} changed");
            }
        }
        let flag = if op.kind() == SecOpKind::Aead { 3 } else { 2 };
        // done bit 0 | flag << 7 (§7.1/§7.2 bytes 112..113)
        assert_eq!(u16::from_le_bytes([s[112], s[113]]), 1 | flag << 7);
        let c = read_result(&s);
        assert_eq!(c.tag, u64::from(tag));
        assert_eq!(
            (c.done, c.icv, c.flag, c.error_type),
            (true, 0, flag as u8, 0)
        );
        assert_eq!(c.outcome(), SecOutcome::Ok);
        assert_eq!(decode(&s).unwrap().op, op);

        write_result(&mut s, &SecResult::mac_mismatch());
        assert_eq!(read_result(&s).outcome(), SecOutcome::MacMismatch);
        assert_eq!(s[112] & 0x0E, 2 << 1);

        write_result(
            &mut s,
            &SecResult {
                done: true,
                icv: 0,
                flag: 2,
                error_type: 0x11,
            },
        );
        assert_eq!(
            read_result(&s).outcome(),
            SecOutcome::DeviceError {
                done: true,
                error_type: 0x11
            }
        );
        write_result(
            &mut s,
            &SecResult {
                done: false,
                icv: 0,
                flag: 0,
                error_type: 0,
            },
        );
        assert_eq!(
            read_result(&s).outcome(),
            SecOutcome::DeviceError {
                done: false,
                error_type: 0
            }
        );
    }
}

#[test]
fn write_result_keeps_csc_and_dif_bits() {
    let mut s = encode(&req(SecOp::Cipher(cbc()), 1), QmVersion::V3).unwrap();
    s[112] = 0x70; // csc bits 4..6
    s[113] = 0x38; // dif/dc bits 11..13
    s[115] = 0x5A; // warning_type
    write_result(&mut s, &SecResult::success(SecOpKind::Cipher));
    assert_eq!(u16::from_le_bytes([s[112], s[113]]), 0x3870 | 1 | 2 << 7);
    assert_eq!(read_result(&s).warning_type, 0x5A);
}

#[test]
fn rejected_bd_result_is_an_error() {
    let mut s = [0u8; SQE_SIZE];
    s[0] = 0x07;
    let err = decode(&s).unwrap_err();
    write_result(&mut s, &err.result());
    assert_eq!(
        read_result(&s).outcome(),
        SecOutcome::DeviceError {
            done: true,
            error_type: ERROR_TYPE_INVALID_BD
        }
    );
}
