//! What the library sends for CCM, SM4-GCM and the AES MACs, recorded by the emulator's SQE trace through the
//! public API on v2 and v3 devices, compared byte for byte with SQEs written here from UADK's `drv/hisi_sec.c`
//! (`fill_aead_bd2`/`fill_aead_bd3` and their `_alg`/`_mode` helpers, `set_aead_auth_iv`; the digest send paths in
//! HMAC mode, `fill_digest_v3_scene`, `fill_digest_bd3_addr`). Addresses and tags are masked; what the address
//! slots pointed at (key, counter block A1, B0, IV, source, expected tag) is compared instead. (The same approach
//! as `fidelity.rs`, kept in its own file.)

mod common;

use uacce_async::{AeadCipherKey, EmuDevice, MacAlgorithm, MacKey};
use uacce_emu::{DeviceKind, SqeRecord};
use uacce_sys::qm::QmVersion;

use common::trace::{accel, device, mask_sec as mask, prefetch, put16, put32};

fn sec(a: &uacce_async::Accel) -> &EmuDevice {
    device(a, DeviceKind::Sec)
}

/// CCM (c_mode 5) or GCM (6) BD with c_alg `alg` (2 AES, 3 SM4): BD2 byte0 = 2 | dir << 4, byte1 = 0x0A | seq,
/// icvw_kmode = tag | key << 9 | mode << 12, c_alg, a_len = AAD, c_len = body, cipher_src_offset = AAD; BD3
/// bd_param 0x223, c_icv_key = dir | tag << 4 | key << 13, c_mode_alg = mode | alg << 4, seq << 6, auth_mac_key 0
/// (+ prefetch).
#[allow(clippy::too_many_arguments)]
fn xcm_bd(
    v: QmVersion,
    mode: u8,
    alg: u8,
    dir: u8,
    key_code: u16,
    tag: u16,
    aad: usize,
    body: usize,
) -> [u8; 128] {
    let mut s = [0u8; 128];
    match v {
        QmVersion::V2 => {
            s[0] = 2 | dir << 4;
            s[1] = 0x0A | u8::from(dir == 2);
            put16(&mut s, 12, tag | key_code << 9 | u16::from(mode) << 12);
            s[14] = alg;
            put32(&mut s, 16, aad as u32);
            put32(&mut s, 20, body as u32);
            put16(&mut s, 26, aad as u16);
        }
        _ => {
            put32(&mut s, 0, 0x223);
            put16(&mut s, 4, u16::from(dir) | tag << 4 | key_code << 13);
            s[6] = mode | alg << 4;
            s[7] = if dir == 2 { 0x40 } else { 0 };
            put32(&mut s, 56, prefetch(v, aad + body));
            put16(&mut s, 66, aad as u16);
            put32(&mut s, 68, aad as u32);
            put32(&mut s, 72, body as u32);
        }
    }
    s
}

/// A MAC as a digest BD in UADK's HMAC mode: BD2 0x42/0x08, mac_key_alg = words | key words << 5 | a_alg << 11;
/// BD3 bd_param 0xE3 (GMAC 0x23), auth_mac_key = 1 | ai_gen << 2 | words << 4 | key words << 9 | a_alg << 15.
fn mac_bd(v: QmVersion, a_alg: u32, mac_words: u32, key_words: u32, len: usize) -> [u8; 128] {
    let mut s = [0u8; 128];
    let gmac = a_alg == 0x22;
    match v {
        QmVersion::V2 => {
            s[0] = 0x42;
            s[1] = 0x08;
            put32(&mut s, 8, mac_words | key_words << 5 | a_alg << 11);
            put32(&mut s, 16, len as u32);
        }
        _ => {
            put32(&mut s, 0, if gmac { 0x23 } else { 0xE3 });
            let ai_gen = u32::from(gmac);
            put32(
                &mut s,
                56,
                1 | ai_gen << 2 | mac_words << 4 | key_words << 9 | a_alg << 15 | prefetch(v, len),
            );
            put32(&mut s, 68, len as u32);
        }
    }
    s
}

fn read<'a>(r: &'a SqeRecord, slot: &str) -> &'a [u8] {
    &r.read(slot)
        .unwrap_or_else(|| panic!("no {slot} in {r:?}"))
        .bytes
}

/// CCM: AES on v2 and v3, SM4 on v3; c_ivin holds A1 = L' ‖ nonce ‖ 0…01 and a_ivin B0 = flags ‖ nonce ‖ length
/// (RFC 3610 §2.2/2.3, as set_aead_auth_iv writes them); two jobs in a row must not see each other's scratch bytes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ccm_sends_what_uadk_sends() {
    for v in [QmVersion::V2, QmVersion::V3] {
        let a = accel(v).await;
        let dev = sec(&a);
        let mut cases = vec![
            (
                AeadCipherKey::aes(&[7; 16]).unwrap(),
                2u8,
                0u16,
                vec![0xA5u8; 13],
                8usize,
            ),
            (
                AeadCipherKey::aes(&[8; 32]).unwrap(),
                2,
                2,
                vec![0x11; 7],
                16,
            ),
        ];
        if v == QmVersion::V3 {
            cases.push((
                AeadCipherKey::sm4(&[9; 16]).unwrap(),
                3,
                0,
                vec![0x22; 12],
                4,
            ));
        }
        for (key, alg, kc, nonce, tag) in cases {
            let aad = b"0123456789abcdefXYZ";
            let body = vec![0x33u8; 1000];
            let sealed = a
                .ccm_seal_with_nonce_unchecked(&key, &nonce, tag, aad, body.clone())
                .await
                .unwrap();
            let opened = a
                .ccm_open(&key, &nonce, tag, aad, sealed.clone())
                .await
                .unwrap();
            assert_eq!(opened[..], body[..]);
            let t = dev.take_trace();
            assert_eq!(t.len(), 2, "{v:?}");
            let l = 15 - nonce.len();
            let mut a1 = [0u8; 16];
            a1[0] = (l - 1) as u8;
            a1[1..1 + nonce.len()].copy_from_slice(&nonce);
            a1[15] = 1;
            let mut b0 = a1;
            // Adata 1 << 6 | M' = (tag − 2) / 2 << 3 | L'; the length 1000 = 0x03E8 in the last L bytes.
            b0[0] = 0x40 | ((tag as u8 - 2) / 2) << 3 | (l - 1) as u8;
            b0[1 + nonce.len()..].fill(0);
            b0[14] = 0x03;
            b0[15] = 0xE8;
            for (r, dir) in [(&t[0], 1u8), (&t[1], 2)] {
                assert_eq!(
                    mask(v, &r.sqe),
                    xcm_bd(v, 5, alg, dir, kc, tag as u16, aad.len(), body.len()),
                    "{v:?} alg {alg} dir {dir}: {:02x?}",
                    r.sqe
                );
                assert_eq!(read(r, "c_ivin_addr"), &a1[..], "c_ivin = A1");
                assert_eq!(read(r, "a_ivin_addr"), &b0[..], "a_ivin = B0");
                assert_eq!(read(r, "c_key_addr").len(), kc as usize * 8 + 16);
                assert_eq!(&read(r, "data_src_addr")[..aad.len()], aad);
            }
            assert_eq!(read(&t[1], "mac_addr"), &sealed[sealed.len() - tag..]);
        }
    }
}

/// SM4-GCM on v3: c_mode_alg 0x36, IV in c_ivin and a copy in a_ivin, as AES-GCM.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sm4_gcm_sends_what_uadk_sends() {
    let a = accel(QmVersion::V3).await;
    let key = AeadCipherKey::sm4(&[4; 16]).unwrap();
    let nonce = [0x5Au8; 12];
    let sealed = a
        .sm4_gcm_seal_with_nonce_unchecked(&key, &nonce, b"aad", vec![1u8; 50])
        .await
        .unwrap();
    a.sm4_gcm_open(&key, &nonce, b"aad", sealed).await.unwrap();
    let t = sec(&a).take_trace();
    assert_eq!(t.len(), 2);
    let mut iv16 = [0u8; 16];
    iv16[..12].copy_from_slice(&nonce);
    for (r, dir) in [(&t[0], 1u8), (&t[1], 2)] {
        assert_eq!(
            mask(QmVersion::V3, &r.sqe),
            xcm_bd(QmVersion::V3, 6, 3, dir, 0, 16, 3, 50)
        );
        assert_eq!(read(r, "c_ivin_addr"), &iv16[..]);
        assert_eq!(read(r, "a_ivin_addr"), &iv16[..]);
        assert_eq!(read(r, "c_key_addr"), &[4u8; 16][..]);
    }
}

/// CMAC (a_alg 0x21, 4 words) and XCBC-MAC-96 (0x20, 3 words) on v2 and v3, GMAC (0x22, ai_gen 1, scene 1, the
/// IV area = nonce ‖ 0000 at a_ivin) on v3.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn macs_send_what_uadk_sends() {
    for v in [QmVersion::V2, QmVersion::V3] {
        let a = accel(v).await;
        let dev = sec(&a);
        let data = vec![0x44u8; 300];
        for (alg, a_alg, words) in [
            (MacAlgorithm::AesCmac, 0x21, 4),
            (MacAlgorithm::AesXcbcMac96, 0x20, 3),
        ] {
            let key = MacKey::new(alg, &[0x11; 16]).unwrap();
            a.mac_sign(&key, data.clone()).await.unwrap();
            let t = dev.take_trace();
            assert_eq!(t.len(), 1);
            assert_eq!(
                mask(v, &t[0].sqe),
                mac_bd(v, a_alg, words, 4, data.len()),
                "{v:?} {alg:?}: {:02x?}",
                t[0].sqe
            );
            assert_eq!(read(&t[0], "a_key_addr"), &[0x11u8; 16][..]);
            assert_eq!(read(&t[0], "data_src_addr"), &data[..]);
            assert!(t[0].read("a_ivin_addr").is_none());
        }
        if v == QmVersion::V3 {
            let key = MacKey::new(MacAlgorithm::AesGmac, &[0x22; 24]).unwrap();
            let nonce = [0x33u8; 12];
            a.gmac_sign_with_nonce_unchecked(&key, &nonce, data.clone())
                .await
                .unwrap();
            let t = dev.take_trace();
            assert_eq!(t.len(), 1);
            assert_eq!(mask(v, &t[0].sqe), mac_bd(v, 0x22, 4, 6, data.len()));
            let mut iv16 = [0u8; 16];
            iv16[..12].copy_from_slice(&nonce);
            assert_eq!(read(&t[0], "a_ivin_addr"), &iv16[..]);
            assert_eq!(read(&t[0], "a_key_addr"), &[0x22u8; 24][..]);
        }
    }
}
