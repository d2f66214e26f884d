//! What the library sends: every family's SQEs, recorded by the emulator's SQE trace (`EmuDevice::set_trace`)
//! through the public `Accel` API on v2 and v3 devices, compared byte for byte with SQEs written here from the
//! protocol doc's tables (§6.3, §6.8, §7.4, §11). Addresses, tags and the output sizes the library chooses are
//! masked; what the address slots pointed at (key, IVs, a_ivin, source) is compared instead.

mod common;

use bytes::Bytes;
use tokio::io::AsyncWriteExt;
use uacce_async::hazmat::{BlockCipher, CipherKey, CipherMode, UnauthenticatedCipher};
use uacce_async::{AeadKey, Flush, Format, HashAlg, HmacKey, JobKind, StreamCompressor};
use uacce_emu::{DeviceKind, SqeRecord};
use uacce_sys::qm::QmVersion;

use common::trace::{accel, device, mask_sec, prefetch, put16, put32, put64};

const VERSIONS: [QmVersion; 2] = [QmVersion::V2, QmVersion::V3];

/// ZIP: tag (dw13, dw26), addresses (dw18..23) and dest_avail_out (dw14: the library sizes its outputs) zeroed.
fn mask_zip(s: &[u8; 128]) -> [u8; 128] {
    let mut m = *s;
    for dw in [13usize, 14, 18, 19, 20, 21, 22, 23, 26] {
        m[dw * 4..dw * 4 + 4].fill(0);
    }
    m
}

/// §7.4 cipher: BD2 byte0 = 2 | dir<<4, byte1 0x0A, icvw_kmode = key<<9 | mode<<12, c_alg 2; BD3 bd_param 0x223,
/// c_icv_key = dir | key<<13, c_mode_alg = mode | 2<<4, CTR ctr_count_mode 2, prefetch.
fn cipher_bd(v: QmVersion, dir: u8, mode: u8, key_code: u16, len: usize) -> [u8; 128] {
    cipher_bd_alg(v, 2, dir, mode, key_code, len)
}

/// As [`cipher_bd`] with c_alg `alg` (2 AES, 3 SM4).
fn cipher_bd_alg(v: QmVersion, alg: u8, dir: u8, mode: u8, key_code: u16, len: usize) -> [u8; 128] {
    let mut s = [0u8; 128];
    match v {
        QmVersion::V2 => {
            s[0] = 2 | dir << 4;
            s[1] = 0x0A;
            put16(&mut s, 12, key_code << 9 | u16::from(mode) << 12);
            s[14] = alg;
            put32(&mut s, 20, len as u32);
        }
        _ => {
            put32(&mut s, 0, 0x223);
            put16(&mut s, 4, u16::from(dir) | key_code << 13);
            s[6] = mode | alg << 4;
            let ctr = if mode == 4 { 2 << 25 } else { 0 };
            put32(&mut s, 56, ctr | prefetch(v, len));
            put32(&mut s, 72, len as u32);
        }
    }
    s
}

/// §7.4 AEAD (GCM, 16-byte tag).
fn gcm_bd(v: QmVersion, dir: u8, key_code: u16, aad: usize, body: usize) -> [u8; 128] {
    let mut s = [0u8; 128];
    match v {
        QmVersion::V2 => {
            s[0] = 2 | dir << 4;
            s[1] = 0x0A | u8::from(dir == 2);
            put16(&mut s, 12, 16 | key_code << 9 | 6 << 12);
            s[14] = 2;
            put32(&mut s, 16, aad as u32);
            put32(&mut s, 20, body as u32);
            put16(&mut s, 26, aad as u16);
        }
        _ => {
            put32(&mut s, 0, 0x223);
            put16(&mut s, 4, u16::from(dir) | 16 << 4 | key_code << 13);
            s[6] = 0x26;
            s[7] = if dir == 2 { 0x40 } else { 0 };
            put32(&mut s, 56, prefetch(v, aad + body));
            put16(&mut s, 66, aad as u16);
            put32(&mut s, 68, aad as u32);
            put32(&mut s, 72, body as u32);
        }
    }
    s
}

/// §7.4 digest: stage (ai_gen, pad), mac words, key words, a_alg, length, total bits for the last part.
#[allow(clippy::too_many_arguments)]
fn digest_bd(
    v: QmVersion,
    ai_gen: u32,
    pad: u32,
    mac_words: u32,
    key_words: u32,
    a_alg: u32,
    len: usize,
    total_bits: u64,
) -> [u8; 128] {
    let mut s = [0u8; 128];
    match v {
        QmVersion::V2 => {
            s[0] = 0x42;
            s[1] = 0x08;
            s[5] = (ai_gen | pad << 2) as u8;
            put32(&mut s, 8, mac_words | key_words << 5 | a_alg << 11);
            put32(&mut s, 16, len as u32);
            put64(&mut s, 48, total_bits);
        }
        _ => {
            put32(&mut s, 0, 0xE3);
            put32(
                &mut s,
                56,
                1 | ai_gen << 2 | mac_words << 4 | key_words << 9 | a_alg << 15 | prefetch(v, len),
            );
            put32(&mut s, 68, len as u32);
            put64(&mut s, 100, total_bits);
            s[108] = pad as u8;
        }
    }
    s
}

fn read<'a>(r: &'a SqeRecord, slot: &str) -> &'a [u8] {
    &r.read(slot)
        .unwrap_or_else(|| panic!("no {slot} in {r:?}"))
        .bytes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ciphers_send_what_uadk_sends() {
    for v in VERSIONS {
        let a = accel(v).await;
        let sec = device(&a, DeviceKind::Sec);
        let data = Bytes::from(vec![0x5Au8; 4096]);
        let iv = [0x11u8; 16];
        // (mode, hw code, key, key-length code)
        let mut cases = vec![
            (CipherMode::Cbc, 1u8, vec![1u8; 16], 0u16),
            (CipherMode::Cbc, 1, vec![2u8; 32], 2),
            (CipherMode::Xts, 7, [[3u8; 32], [6u8; 32]].concat(), 2),
            (CipherMode::Xts, 7, [[4u8; 16], [8u8; 16]].concat(), 0),
        ];
        if v == QmVersion::V3 {
            cases.push((CipherMode::Ctr, 4, vec![5u8; 24], 1)); // BD2 has no CTR (§11): CPU there
        }
        for (mode, code, key, kc) in cases {
            let k = CipherKey::new(mode, &key).unwrap();
            let ct = a
                .encrypt_unauthenticated(&k, &iv, data.clone())
                .await
                .unwrap();
            let pt = a
                .decrypt_unauthenticated(&k, &iv, ct.clone())
                .await
                .unwrap();
            assert_eq!(pt, data);
            let t = sec.take_trace();
            assert_eq!(t.len(), 2, "{v:?} {mode:?}");
            for (r, dir, src) in [(&t[0], 1u8, &data), (&t[1], 2, &ct)] {
                assert_eq!(r.version, v);
                let want = cipher_bd(v, dir, code, kc, data.len());
                assert_eq!(
                    mask_sec(v, &r.sqe),
                    want,
                    "{v:?} {mode:?} dir {dir}: {:02x?}",
                    r.sqe
                );
                assert_eq!(read(r, "c_key_addr"), &key[..]);
                assert_eq!(read(r, "c_ivin_addr"), &iv[..]);
                assert_eq!(read(r, "data_src_addr"), &src[..]);
            }
        }
    }
}

/// SM4 in every mode, and AES-OFB/CFB: c_alg 3 for SM4 (§7.3), OFB 3 / CFB 2 / CTR 4 on BD3 only (on v2 those go to
/// the CPU and no BD is sent), ECB/CBC/XTS on both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sm4_and_stream_modes_send_what_uadk_sends() {
    for v in VERSIONS {
        let a = accel(v).await;
        let sec = device(&a, DeviceKind::Sec);
        let data = Bytes::from(vec![0x3Cu8; 1000]);
        let iv = [0x22u8; 16];
        // (cipher, c_alg, mode, hw code, key, key code)
        let cases = [
            (
                BlockCipher::Sm4,
                3u8,
                CipherMode::Ecb,
                0u8,
                vec![1u8; 16],
                0u16,
            ),
            (BlockCipher::Sm4, 3, CipherMode::Cbc, 1, vec![2u8; 16], 0),
            (
                BlockCipher::Sm4,
                3,
                CipherMode::Xts,
                7,
                [[3u8; 16], [4u8; 16]].concat(),
                0,
            ),
            (BlockCipher::Sm4, 3, CipherMode::Ctr, 4, vec![5u8; 16], 0),
            (BlockCipher::Sm4, 3, CipherMode::Ofb, 3, vec![6u8; 16], 0),
            (BlockCipher::Sm4, 3, CipherMode::Cfb, 2, vec![7u8; 16], 0),
            (BlockCipher::Aes, 2, CipherMode::Ofb, 3, vec![8u8; 32], 2),
            (BlockCipher::Aes, 2, CipherMode::Cfb, 2, vec![9u8; 24], 1),
            (BlockCipher::Aes, 2, CipherMode::Ecb, 0, vec![10u8; 16], 0),
        ];
        for (alg, c_alg, mode, code, key, kc) in cases {
            let k = CipherKey::with_cipher(alg, mode, &key).unwrap();
            // Block modes take whole blocks; the stream modes an odd length.
            let d = if matches!(mode, CipherMode::Ecb | CipherMode::Cbc) {
                data.slice(..992)
            } else {
                data.clone()
            };
            let ct = a.encrypt_unauthenticated(&k, &iv, d.clone()).await.unwrap();
            assert_eq!(
                a.decrypt_unauthenticated(&k, &iv, ct.clone())
                    .await
                    .unwrap(),
                d
            );
            let t = sec.take_trace();
            if v == QmVersion::V2 && !mode.on_qm_v2() {
                assert!(
                    t.is_empty(),
                    "{v:?} {alg:?} {mode:?}: v2 has no such mode, the CPU does it"
                );
                assert!(!a.offloaded(JobKind::Cipher(alg, mode)));
                continue;
            }
            assert!(a.offloaded(JobKind::Cipher(alg, mode)));
            assert_eq!(t.len(), 2, "{v:?} {alg:?} {mode:?}");
            for (r, dir, src) in [(&t[0], 1u8, &d), (&t[1], 2, &ct)] {
                let want = cipher_bd_alg(v, c_alg, dir, code, kc, d.len());
                assert_eq!(
                    mask_sec(v, &r.sqe),
                    want,
                    "{v:?} {alg:?} {mode:?} dir {dir}: {:02x?}",
                    r.sqe
                );
                assert_eq!(read(r, "c_key_addr"), &key[..]);
                if mode != CipherMode::Ecb {
                    assert_eq!(read(r, "c_ivin_addr"), &iv[..]);
                }
                assert_eq!(read(r, "data_src_addr"), &src[..]);
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gcm_sends_the_iv_in_a_ivin() {
    for v in VERSIONS {
        let a = accel(v).await;
        let sec = device(&a, DeviceKind::Sec);
        for (key, kc) in [(vec![7u8; 16], 0u16), (vec![8u8; 32], 2)] {
            let k = AeadKey::new(&key).unwrap();
            // Two jobs in a row with different nonces: the second must not see the first's scratch bytes.
            for nonce in [[0xEEu8; 12], [1u8; 12]] {
                let aad = b"associated data!";
                let body = Bytes::from(vec![0x33u8; 1000]);
                let sealed = a
                    .aes_gcm_seal_with_nonce_unchecked(&k, &nonce, aad, body.clone())
                    .await
                    .unwrap();
                let opened = a
                    .aes_gcm_open(&k, &nonce, aad, sealed.clone())
                    .await
                    .unwrap();
                assert_eq!(opened, body);
                let t = sec.take_trace();
                assert_eq!(t.len(), 2);
                let mut iv16 = [0u8; 16];
                iv16[..12].copy_from_slice(&nonce);
                for (r, dir) in [(&t[0], 1u8), (&t[1], 2)] {
                    assert_eq!(
                        mask_sec(v, &r.sqe),
                        gcm_bd(v, dir, kc, aad.len(), body.len()),
                        "{v:?} dir {dir}: {:02x?}",
                        r.sqe
                    );
                    assert_eq!(read(r, "c_key_addr"), &key[..]);
                    assert_eq!(read(r, "c_ivin_addr"), &iv16[..]);
                    assert_eq!(read(r, "a_ivin_addr"), &iv16[..], "a_ivin holds the IV");
                    let src = read(r, "data_src_addr");
                    assert_eq!(&src[..aad.len()], aad);
                }
                assert_eq!(read(&t[1], "mac_addr"), &sealed[sealed.len() - 16..]);
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn digests_send_what_uadk_sends() {
    for v in VERSIONS {
        let a = accel(v).await;
        let sec = device(&a, DeviceKind::Sec);
        let data = Bytes::from(vec![0x61u8; 3000]);
        // (alg, a_alg, HMAC a_alg, mac words): §7.3 codes (UADK `A_ALG_*`; HMAC-SM3 is 0x26, not 0x35).
        for (alg, a_alg, hmac_alg, words) in [
            (HashAlg::Sha256, 0x01u32, 0x11u32, 8u32),
            (HashAlg::Sha512, 0x05, 0x15, 16),
            (HashAlg::Sm3, 0x25, 0x26, 8),
            (HashAlg::Md5, 0x02, 0x12, 4),
            (HashAlg::Sha1, 0x00, 0x10, 5),
            (HashAlg::Sha224, 0x03, 0x13, 7),
            (HashAlg::Sha384, 0x04, 0x14, 12),
            (HashAlg::Sha512_224, 0x06, 0x16, 7),
            (HashAlg::Sha512_256, 0x07, 0x17, 8),
        ] {
            a.digest(alg, data.clone()).await.unwrap();
            let t = sec.take_trace();
            assert_eq!(t.len(), 1);
            let want = digest_bd(v, 0, 0, words, 0, a_alg, data.len(), 0);
            assert_eq!(mask_sec(v, &t[0].sqe), want, "{v:?} {alg:?}");
            assert_eq!(read(&t[0], "data_src_addr"), &data[..]);

            let key = HmacKey::new(alg, &[0x0Bu8; 32]);
            a.hmac_sign(&key, data.clone()).await.unwrap();
            let t = sec.take_trace();
            assert_eq!(t.len(), 1);
            let want = digest_bd(v, 0, 0, words, 8, hmac_alg, data.len(), 0);
            assert_eq!(mask_sec(v, &t[0].sqe), want, "{v:?} HMAC {alg:?}");
            assert_eq!(read(&t[0], "a_key_addr"), &[0x0Bu8; 32][..]);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_hash_parts_follow_the_stage_table() {
    for v in VERSIONS {
        let a = accel(v).await;
        let sec = device(&a, DeviceKind::Sec);
        // (alg, a_alg, mac words of first/middle BDs): 0 for plain hashes except SM3, which UADK sends with its full
        // 8 words ("SM3 can't config 0 in normal mode").
        for (alg, a_alg, mid_words, words) in [
            (HashAlg::Sha256, 0x01u32, 0u32, 8u32),
            (HashAlg::Sm3, 0x25, 8, 8),
            (HashAlg::Sha384, 0x04, 0, 12),
            (HashAlg::Md5, 0x02, 0, 4),
        ] {
            let mut h = a.hasher(alg);
            // Parts of 1 MiB go to the device as first/middle/last BDs; shorter totals are one-shot (a deliberate
            // difference from UADK, README protocol notes).
            let part = vec![0x42u8; 1 << 20];
            for _ in 0..3 {
                h.update(&part).await.unwrap();
            }
            h.update(b"tail").await.unwrap();
            h.finalize().await.unwrap();
            let t = sec.take_trace();
            assert!(t.len() >= 2, "{v:?}: {} BDs", t.len());
            let total: usize = 3 * part.len() + 4;
            let mut seen = 0usize;
            for (i, r) in t.iter().enumerate() {
                let len = read(r, "data_src_addr").len();
                let (ai_gen, pad, mac, bits) = if i == 0 {
                    (0, 1, mid_words, 0)
                } else if i + 1 < t.len() {
                    (1, 1, mid_words, 0)
                } else {
                    (1, 0, words, (total as u64) * 8)
                };
                let want = digest_bd(v, ai_gen, pad, mac, 0, a_alg, len, bits);
                assert_eq!(mask_sec(v, &r.sqe), want, "{v:?} {alg:?} part {i}");
                if ai_gen == 1 {
                    // a_ivin = mac_addr (§7.4): the state the previous part left.
                    let off = if v == QmVersion::V2 {
                        (56, 72)
                    } else {
                        (32, 84)
                    };
                    assert_eq!(r.sqe[off.0..off.0 + 8], r.sqe[off.1..off.1 + 8]);
                }
                seen += len;
            }
            assert_eq!(seen, total);
        }
    }
}

/// HMAC long hash (UADK `fill_digest_long_hash`): every BD carries the HMAC a_alg and the key; first/middle BDs the
/// full mac_len (7 words for HMAC-SHA-224), the last the total message bits (without the key block).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hmac_long_hash_parts_carry_the_key() {
    for v in VERSIONS {
        let a = accel(v).await;
        let sec = device(&a, DeviceKind::Sec);
        let key = HmacKey::new(HashAlg::Sha224, &[0x5Au8; 20]);
        let mut h = a.hmac_hasher(&key);
        let part = vec![0x42u8; 1 << 20];
        for _ in 0..2 {
            h.update(&part).await.unwrap();
        }
        h.update(b"end").await.unwrap();
        h.finalize().await.unwrap();
        let t = sec.take_trace();
        assert!(t.len() >= 2, "{v:?}: {} BDs", t.len());
        let total = (2 * part.len() + 3) as u64;
        for (i, r) in t.iter().enumerate() {
            let len = read(r, "data_src_addr").len();
            let (ai_gen, pad, bits) = if i == 0 {
                (0, 1, 0)
            } else if i + 1 < t.len() {
                (1, 1, 0)
            } else {
                (1, 0, total * 8)
            };
            let want = digest_bd(v, ai_gen, pad, 7, 5, 0x13, len, bits);
            assert_eq!(mask_sec(v, &r.sqe), want, "{v:?} part {i}");
            assert_eq!(read(r, "a_key_addr"), &[0x5Au8; 20][..]);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zip_sends_what_uadk_sends() {
    let text: Vec<u8> = uacce_testkit::text(100_000);
    for v in VERSIONS {
        let a = accel(v).await;
        let zip = device(&a, DeviceKind::Zip);
        for (fmt, req, hdr) in [
            (Format::Zlib, 2u32, 2usize),
            (Format::Gzip, 3, 10),
            (Format::Deflate, 1, 0),
        ] {
            // Block mode (§6.8): dw4 = len − header (decompress), dw7 0x0A000000 (+0x30000000 type 3), dw9 req | 4<<12.
            let comp = a.compress(fmt, text.clone()).await.unwrap();
            let back = a.decompress(fmt, comp.clone()).await.unwrap();
            assert_eq!(&back[..], &text[..]);
            let t = zip.take_trace();
            let type3 = v == QmVersion::V3 || fmt == Format::Deflate;
            let dw7 = 0x0A00_0000u32 | if type3 { 0x3000_0000 } else { 0 };
            for r in &t {
                let src = read(r, "source_addr");
                let mut want = [0u8; 128];
                put32(&mut want, 16, src.len() as u32);
                put32(&mut want, 28, dw7);
                put32(&mut want, 36, req | 4 << 12);
                assert_eq!(mask_zip(&r.sqe), want, "{v:?} {fmt:?} block");
                if r.qc_type == 0 {
                    assert_eq!(src, &text[..]);
                } else {
                    assert_eq!(src, &comp[hdr..]);
                }
            }

            // Stream compress: first BD 0x0C, middle 0x04, last adds flush (§6.3).
            let mut c = StreamCompressor::new(&a, fmt).unwrap();
            let mut out = Vec::new();
            for (i, piece) in text.chunks(40_000).enumerate() {
                let last = i == 2;
                let (c2, r) = c
                    .compress(
                        Bytes::copy_from_slice(piece),
                        if last { Flush::Finish } else { Flush::None },
                    )
                    .await;
                c = c2;
                out.extend(r.unwrap().into_iter().flatten());
            }
            // Stream decompress through write::Decoder: the request carrying the input buffered at shutdown is the
            // stream's last and sets the flush bit (0x0E000000 / 0x3E000000 with the new bit on a first BD).
            let mut w = uacce_async::write::Decoder::new(&a, fmt, Vec::new()).unwrap();
            w.write_all(&out).await.unwrap();
            w.shutdown().await.unwrap();
            assert_eq!(w.into_inner(), text);
            let t = zip.take_trace();
            let ty = if type3 { 0x3000_0000u32 } else { 0 };
            let comp_bds: Vec<_> = t.iter().filter(|r| r.qc_type == 0).collect();
            let dec_bds: Vec<_> = t.iter().filter(|r| r.qc_type == 1).collect();
            for (bds, what) in [(&comp_bds, "compress"), (&dec_bds, "decompress")] {
                assert!(!bds.is_empty());
                let n = bds.len();
                for (i, r) in bds.iter().enumerate() {
                    let dw7 = u32::from_le_bytes(r.sqe[28..32].try_into().unwrap());
                    let mut want = 0x0400_0000 | ty;
                    if i == 0 {
                        want |= 0x0800_0000;
                    }
                    let is_last = if what == "compress" {
                        i >= 2 // the Finish call's BDs (the third piece and any drain BDs)
                    } else {
                        i + 1 == n
                    };
                    if is_last {
                        want |= 0x0200_0000;
                    }
                    // Compress: drain BDs after the Finish call's first one are not checked here.
                    if what == "decompress" || i <= 2 {
                        assert_eq!(dw7, want, "{v:?} {fmt:?} {what} BD {i}/{n}");
                    }
                    let dw9 = u32::from_le_bytes(r.sqe[36..40].try_into().unwrap());
                    assert_eq!(dw9, req | 4 << 12);
                }
            }
        }
    }
}
