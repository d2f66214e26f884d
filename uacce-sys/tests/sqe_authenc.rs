//! Authenc (AES-CBC + HMAC, encrypt-then-MAC) BD codec: hand-derived golden BD2/BD3 (hisi-qm-protocol.md §7.4 AEAD
//! table, authenc column; UADK `fill_aead_bd2`/`fill_aead_bd3`; the kernel's `sec_auth_bd_fill_ex{,_v3}`), round
//! trips for every hash × key size × direction × version, and the strict decoder's refusals (MAC-then-encrypt `seq`
//! combinations, bad lengths, wrong hashes).

use uacce_sys::qm::sec::*;
use uacce_sys::qm::{QmVersion, Sqe};

use uacce_testkit::golden;
use uacce_testkit::req::{assert_sec_golden, sec_request as req};

/// AES-128 + HMAC-SHA-256 (32-byte key), 16-byte tag, 20 bytes of AAD, 64 bytes of payload.
fn sha256_128(dir: CipherDir) -> AuthencRequest {
    AuthencRequest {
        dir,
        key_addr: 0x1000,
        key_len: 16,
        iv_addr: 0x2000,
        hash: DigestAlg::Sha256,
        hmac_key: HmacKey {
            addr: 0x7000,
            len: 32,
        },
        src_addr: 0x4000,
        dst_addr: 0x5000,
        aad_len: 20,
        payload_len: 64,
        mac_addr: 0x6000,
        mac_len: 16,
    }
}

/// BD2 encrypt: byte0 0x52, byte1 0x0A (§7.4: "enc 0x52 (auth calc)"; seq 0 = cipher then auth).
#[test]
fn golden_bd2_encrypt_sha256() {
    let a = sha256_128(CipherDir::Encrypt);
    let expected = golden(&[
        // byte0 = type 2 | cipher 1 << 4 | auth 1 (calculate) << 6 = 0x52; byte1 = seq 0 | de 1 << 1 | scene 1 << 3
        (0, &[0x52, 0x0A]),
        // mac_key_alg = mac 16/4 = 4 | akey 32/4 = 8 << 5 | a_alg 0x11 (HMAC-SHA256) << 11 = 0x8904
        (8, &[0x04, 0x89, 0x00, 0x00]),
        // icvw_kmode = c_icv_len 0 | key code 0 << 9 | c_mode 1 (CBC) << 12 = 0x1000; c_alg 2 (AES)
        (12, &[0x00, 0x10, 0x02]),
        (16, &[84, 0, 0, 0]), // a_len = AAD + payload (20 + 64)
        (20, &[64, 0, 0, 0]), // c_len = payload
        (26, &[20, 0]),       // cipher_src_offset = AAD; auth_src_offset (24..25) 0
        (40, &[0x09, 0x00]),  // tag u16
        // a_ivin_addr (56) stays 0 (the kernel's choice; ai_gen 0)
        (64, &[0x00, 0x70, 0, 0, 0, 0, 0, 0]), // a_key_addr = HMAC key
        (72, &[0x00, 0x60, 0, 0, 0, 0, 0, 0]), // mac_addr = tag output
        (80, &[0x00, 0x20, 0, 0, 0, 0, 0, 0]), // c_ivin_addr
        (88, &[0x00, 0x10, 0, 0, 0, 0, 0, 0]), // c_key_addr
        (96, &[0x00, 0x40, 0, 0, 0, 0, 0, 0]), // data_src = AAD ‖ payload
        (104, &[0x00, 0x50, 0, 0, 0, 0, 0, 0]), // data_dst
    ]);
    assert_sec_golden(SecOp::Authenc(a), 9, QmVersion::V2, &expected);
    // Decrypt: byte0 = 2 | 2 << 4 | auth 2 (verify) << 6 = 0xA2, byte1 seq 1 → 0x0B; nothing else changes.
    let d = sha256_128(CipherDir::Decrypt);
    let mut want = expected;
    want[0] = 0xA2;
    want[1] = 0x0B;
    assert_eq!(
        encode(&req(SecOp::Authenc(d), 9), QmVersion::V2).unwrap(),
        want
    );
    assert_eq!(decode(&want).unwrap().op, SecOp::Authenc(d));
}

/// BD3: bd_param 0x223, c_icv_key = dir | key code << 13, c_mode_alg 0x21, huk_iv_seq = seq << 6,
/// auth_mac_key = auth | mac/4 << 4 | akey/4 << 9 | a_alg << 15.
#[test]
fn golden_bd3_sha512_aes256() {
    let a = AuthencRequest {
        key_len: 32,
        hash: DigestAlg::Sha512,
        hmac_key: HmacKey {
            addr: 0x7000,
            len: 64,
        },
        mac_len: 32,
        ..sha256_128(CipherDir::Encrypt)
    };
    let expected = golden(&[
        (0, &[0x23, 0x02, 0x00, 0x00]), // bd_param: type 3 | scene 1 << 5 | de 1 << 9
        // c_icv_key = dir 1 | key code 2 (AES-256) << 13 = 0x4001; c_mode_alg = CBC 1 | AES 2 << 4; huk_iv_seq 0
        (4, &[0x01, 0x40, 0x21, 0x00]),
        (8, &[0x09, 0, 0, 0, 0, 0, 0, 0]),     // tag
        (16, &[0x00, 0x40, 0, 0, 0, 0, 0, 0]), // data_src
        (24, &[0x00, 0x70, 0, 0, 0, 0, 0, 0]), // a_key_addr = HMAC key
        (48, &[0x00, 0x10, 0, 0, 0, 0, 0, 0]), // c_key_addr
        // auth_mac_key = 1 | (32/4 = 8) << 4 | (64/4 = 16) << 9 | 0x15 << 15 = 0x000A_A081, with sva_prefetch
        // (bit 27): 0x080A_A081
        (56, &[0x81, 0xA0, 0x0A, 0x08]),
        (66, &[20, 0]),                        // cipher_src_offset = AAD
        (68, &[84, 0, 0, 0]),                  // a_len = AAD + payload
        (72, &[64, 0, 0, 0]),                  // c_len
        (76, &[0x00, 0x50, 0, 0, 0, 0, 0, 0]), // data_dst
        (84, &[0x00, 0x60, 0, 0, 0, 0, 0, 0]), // mac_addr
        (92, &[0x00, 0x20, 0, 0, 0, 0, 0, 0]), // c_ivin_addr
    ]);
    let r = SecRequest {
        op: SecOp::Authenc(a),
        tag: 9,
        sva_prefetch: true,
    };
    assert_eq!(encode(&r, QmVersion::V3).unwrap(), expected);
    let v = decode(&expected).unwrap();
    assert_eq!((v.op, v.sva_prefetch), (SecOp::Authenc(a), true));
    // Decrypt: c_icv_key dir 2, huk_iv_seq 0x40, auth 2 (verify) in auth_mac_key.
    let d = AuthencRequest {
        dir: CipherDir::Decrypt,
        ..a
    };
    let mut want = expected;
    want[4] = 0x02;
    want[7] = 0x40;
    want[56] = 0x82;
    assert_eq!(
        encode(
            &SecRequest {
                op: SecOp::Authenc(d),
                ..r
            },
            QmVersion::V3
        )
        .unwrap(),
        want
    );
    assert_eq!(decode(&want).unwrap().op, SecOp::Authenc(d));
}

/// Every hash × AES key size × direction × version: encode → decode gives the request back, and the a_alg code is
/// the HMAC one (0x10 SHA-1, 0x11 SHA-256, 0x15 SHA-512).
#[test]
fn round_trips() {
    for (hash, code) in [
        (DigestAlg::Sha1, 0x10u32),
        (DigestAlg::Sha256, 0x11),
        (DigestAlg::Sha512, 0x15),
    ] {
        for key_len in [16, 24, 32] {
            for dir in [CipherDir::Encrypt, CipherDir::Decrypt] {
                for ver in [QmVersion::V2, QmVersion::V3] {
                    let a = AuthencRequest {
                        key_len,
                        hash,
                        mac_len: hash.digest_len(),
                        ..sha256_128(dir)
                    };
                    let s = encode(&req(SecOp::Authenc(a), 3), ver).unwrap();
                    assert_eq!(
                        decode(&s).unwrap().op,
                        SecOp::Authenc(a),
                        "{hash:?} {ver:?}"
                    );
                    let a_alg = if ver == QmVersion::V2 {
                        u32::from_le_bytes(s[8..12].try_into().unwrap()) >> 11
                    } else {
                        (u32::from_le_bytes(s[56..60].try_into().unwrap()) >> 15) & 0x3F
                    };
                    assert_eq!(a_alg, code);
                }
            }
        }
    }
}

fn bd(a: AuthencRequest, ver: QmVersion) -> Sqe {
    encode(&req(SecOp::Authenc(a), 3), ver).unwrap()
}

/// The decoder refuses what neither UADK nor the kernel sends: MAC-then-encrypt `seq` combinations, cipher/auth
/// mismatches, other modes and algorithms, lengths that disagree.
#[test]
fn strict_decode() {
    let e = sha256_128(CipherDir::Encrypt);
    // BD2 encrypt with seq 1 (auth then cipher) and decrypt with seq 0.
    let mut s = bd(e, QmVersion::V2);
    s[1] |= 1;
    assert!(matches!(decode(&s), Err(SecDecodeError::Field(_))));
    let mut s = bd(sha256_128(CipherDir::Decrypt), QmVersion::V2);
    s[1] &= !1;
    assert!(matches!(decode(&s), Err(SecDecodeError::Field(_))));
    // BD3 encrypt with seq 1.
    let mut s = bd(e, QmVersion::V3);
    s[7] = 0x40;
    assert!(matches!(decode(&s), Err(SecDecodeError::Field(_))));
    // Encrypt with auth verify (cipher 1, auth 2): not an operation the drivers send.
    let mut s = bd(e, QmVersion::V2);
    s[0] = 0x92;
    assert!(matches!(
        decode(&s),
        Err(SecDecodeError::UnsupportedOp { cipher: 1, auth: 2 })
    ));
    // c_mode ECB instead of CBC; c_alg SM4.
    let mut s = bd(e, QmVersion::V2);
    s[13] = 0x00;
    assert!(matches!(decode(&s), Err(SecDecodeError::CMode(0))));
    let mut s = bd(e, QmVersion::V3);
    s[6] = 0x31;
    assert!(matches!(decode(&s), Err(SecDecodeError::CAlg(3))));
    // a_alg plain SHA-256 (0x01) and HMAC-SHA224 (0x13).
    for code in [0x01u32, 0x13] {
        let mut s = bd(e, QmVersion::V2);
        let w = u32::from_le_bytes(s[8..12].try_into().unwrap()) & 0x7FF | code << 11;
        s[8..12].copy_from_slice(&w.to_le_bytes());
        assert!(matches!(decode(&s), Err(SecDecodeError::AAlg(_))));
    }
    // a_len not AAD + payload; c_len not a multiple of 16; a nonzero c_icv_len.
    let mut s = bd(e, QmVersion::V2);
    s[16] = 64;
    assert!(matches!(decode(&s), Err(SecDecodeError::Lengths(_))));
    let mut s = bd(e, QmVersion::V2);
    s[16] = 20 + 60;
    s[20] = 60;
    assert!(matches!(decode(&s), Err(SecDecodeError::Lengths(_))));
    let mut s = bd(e, QmVersion::V3);
    s[4] |= 0x10; // c_icv_len 1
    assert!(matches!(decode(&s), Err(SecDecodeError::Field(_))));
    // mac_len over the digest (SHA-256: 9 words).
    let mut s = bd(e, QmVersion::V2);
    s[8] = (s[8] & !0x1F) | 9;
    assert!(matches!(decode(&s), Err(SecDecodeError::Field(_))));
    // A null HMAC key address.
    let mut s = bd(e, QmVersion::V2);
    s[64..72].fill(0);
    assert!(matches!(decode(&s), Err(SecDecodeError::NullAddress(_))));
}

/// The encoder refuses what the engine does not take, with typed errors.
#[test]
fn encode_refusals() {
    let a = sha256_128(CipherDir::Encrypt);
    let e = |a: AuthencRequest| encode(&req(SecOp::Authenc(a), 1), QmVersion::V3).unwrap_err();
    assert_eq!(
        e(AuthencRequest { key_len: 20, ..a }),
        SecEncodeError::KeyLen(20)
    );
    assert_eq!(
        e(AuthencRequest {
            hash: DigestAlg::Sm3,
            ..a
        }),
        SecEncodeError::AuthencHash(DigestAlg::Sm3)
    );
    assert_eq!(
        e(AuthencRequest { mac_len: 10, ..a }),
        SecEncodeError::MacLen(10)
    );
    assert_eq!(
        e(AuthencRequest { mac_len: 36, ..a }),
        SecEncodeError::MacLen(36)
    );
    assert_eq!(
        e(AuthencRequest {
            payload_len: 0,
            ..a
        }),
        SecEncodeError::BadLength(0)
    );
    assert_eq!(
        e(AuthencRequest {
            payload_len: 17,
            ..a
        }),
        SecEncodeError::BadLength(17)
    );
    assert_eq!(
        e(AuthencRequest {
            aad_len: 0x1_0000,
            ..a
        }),
        SecEncodeError::AadTooLong(0x1_0000)
    );
    assert_eq!(
        e(AuthencRequest {
            hmac_key: HmacKey {
                addr: 0x7000,
                len: 68
            },
            ..a
        }),
        SecEncodeError::HmacKeyLen(68)
    );
    assert_eq!(
        e(AuthencRequest { mac_addr: 0, ..a }),
        SecEncodeError::NullAddress("MAC")
    );
}
