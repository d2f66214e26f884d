//! CCM (AES, SM4), SM4-GCM and the AES MACs (CMAC, XCBC-MAC-96, GMAC) through `uacce::aio` on emulated v2 and v3
//! SEC devices and the CPU backend: published vectors (`tests/vectors/README.md`: NIST CAVP CCM DVPT/VADT/VNT/VPT/
//! VTT, SP 800-38B CMAC examples, CAVP GCM with an empty plaintext for GMAC; RFC 3566 for XCBC, RFC 8998 for SM4),
//! device results equal to the CPU backend's in every notification mode, where each request runs (device or CPU
//! per QM version), and the typed errors.

mod common;

use std::path::Path;
use std::time::Duration;

use common::emu_v2_v3_and_cpu as backends;
use uacce_async::hazmat::BlockCipher;
use uacce_async::{
    Accel, AeadCipherKey, EmuOptions, Error, JobKind, MacAlgorithm, MacKey, NotifyMode,
};
use uacce_sys::qm::QmVersion;
use uacce_testkit::hex;

fn vectors(rel: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vectors")
        .join(rel);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Records of a CAVP `.rsp` file: each record's fields with the parameters (`Alen = 32`, `[Nlen = 7]`,
/// `[Keylen = 128]`, a `Key = …` line before the records, …) in force where it appears.
fn records(text: &str) -> Vec<std::collections::HashMap<String, String>> {
    let mut params = std::collections::HashMap::new();
    let mut out = Vec::new();
    let mut cur: Option<std::collections::HashMap<String, String>> = None;
    for line in text.lines().map(str::trim) {
        if line.starts_with('#') {
            continue;
        }
        if line.is_empty() {
            out.extend(cur.take());
            continue;
        }
        if let Some(inner) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            out.extend(cur.take());
            for kv in inner.split(',') {
                if let Some((k, v)) = kv.split_once('=') {
                    params.insert(k.trim().to_lowercase(), v.trim().to_string());
                }
            }
            continue;
        }
        let (k, v) = match line.split_once('=') {
            Some((k, v)) => (k.trim().to_lowercase(), v.trim().to_string()),
            None => (line.to_lowercase(), String::new()), // "FAIL" lines of the GCM files
        };
        if k == "count" {
            out.extend(cur.take());
            cur = Some(params.clone());
        }
        match cur.as_mut() {
            Some(r) => {
                r.insert(k, v);
            }
            None => {
                params.insert(k, v);
            }
        }
    }
    out.extend(cur);
    out
}

fn num(r: &std::collections::HashMap<String, String>, k: &str) -> usize {
    r[k].parse().unwrap_or_else(|_| panic!("{k} in {r:?}"))
}

/// A hex field cut to `len` bytes (CAVP writes `00` for an empty field).
fn field(r: &std::collections::HashMap<String, String>, k: &str, len: usize) -> Vec<u8> {
    let v = hex(&r[k]);
    assert!(v.len() >= len, "{k} shorter than {len} in {r:?}");
    v[..len].to_vec()
}

/// The emulated v3 device (every mode's test uses it) for `mode`, and the v2 one.
async fn emu(mode: NotifyMode, v: QmVersion) -> Accel {
    common::emu(
        mode,
        EmuOptions::default().version(v),
        Some(Duration::from_secs(20)),
    )
    .await
}

/// NIST CAVP CCM, AES-128/192/256: VADT, VNT, VPT, VTT (seal gives CT = ciphertext ‖ tag, open gives the payload
/// back) and DVPT (open: Pass gives the payload, Fail is `AuthFailed`), every record, on each backend. On the
/// devices every request with a payload runs on the device (`cpu_jobs` counts only the empty payloads, which the
/// library keeps on the CPU).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ccm_cavp_vectors() {
    let all = backends().await;
    let mut total = 0;
    for (name, a) in &all {
        let mut on_cpu = 0;
        for kind in ["VADT", "VNT", "VPT", "VTT", "DVPT"] {
            for bits in [128, 192, 256] {
                let file = format!("ccm/{kind}{bits}.rsp");
                for r in records(&vectors(&file)) {
                    let (alen, plen, nlen, tlen) = (
                        num(&r, "alen"),
                        num(&r, "plen"),
                        num(&r, "nlen"),
                        num(&r, "tlen"),
                    );
                    let key = AeadCipherKey::aes(&hex(&r["key"])).unwrap();
                    let nonce = field(&r, "nonce", nlen);
                    let aad = field(&r, "adata", alen);
                    let ct = field(&r, "ct", plen + tlen);
                    let what = format!("{name} {file} count {}", r["count"]);
                    let opened = a.ccm_open(&key, &nonce, tlen, &aad, ct.clone()).await;
                    if plen == 0 {
                        on_cpu += 1;
                    }
                    if kind == "DVPT" {
                        if r.contains_key("result") && r["result"].starts_with("Fail") {
                            assert!(matches!(opened, Err(Error::AuthFailed)), "{what}");
                            continue;
                        }
                        let pt = field(&r, "payload", plen);
                        assert_eq!(opened.unwrap()[..], pt[..], "{what} open");
                        total += 1;
                        continue;
                    }
                    let pt = field(&r, "payload", plen);
                    assert_eq!(opened.unwrap()[..], pt[..], "{what} open");
                    let sealed = a
                        .ccm_seal_with_nonce_unchecked(&key, &nonce, tlen, &aad, pt.clone())
                        .await
                        .unwrap();
                    if plen == 0 {
                        on_cpu += 1;
                    }
                    assert_eq!(sealed[..], ct[..], "{what} seal");
                    total += 1;
                }
            }
        }
        if name != "cpu" {
            assert_eq!(
                a.cpu_jobs(),
                on_cpu,
                "{name}: only empty payloads ran on the CPU"
            );
        }
    }
    assert!(total > 3 * 2000, "{total} vectors checked");
}

/// NIST SP 800-38B's AES-CMAC examples (128, 192, 256-bit keys; empty, 16, 40, 64-byte messages): sign and verify
/// on each backend; a flipped bit fails verification.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cmac_sp800_38b_vectors() {
    for (name, a) in backends().await {
        let mut n = 0;
        for bits in [128, 192, 256] {
            for r in records(&vectors(&format!("cmac/nist-800-38b-aes{bits}.txt"))) {
                let key = MacKey::new(MacAlgorithm::AesCmac, &hex(&r["key"])).unwrap();
                let msg = hex(&r["message"]);
                let want = hex(&r["output"]);
                let tag = a.mac_sign(&key, msg.clone()).await.unwrap();
                assert_eq!(tag, want, "{name} AES-{bits} count {}", r["count"]);
                a.mac_verify(&key, msg.clone(), &want).await.unwrap();
                let mut bad = want.clone();
                bad[7] ^= 0x10;
                assert!(matches!(
                    a.mac_verify(&key, msg, &bad).await,
                    Err(Error::AuthFailed)
                ));
                n += 1;
            }
        }
        assert_eq!(n, 12, "{name}");
    }
}

/// RFC 3566 §4.6 test cases 1..7 (AES-XCBC-MAC-96, key 000102…0f).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xcbc_rfc3566_vectors() {
    let key = MacKey::new(
        MacAlgorithm::AesXcbcMac96,
        &hex("000102030405060708090a0b0c0d0e0f"),
    )
    .unwrap();
    let seq = |n: usize| (0..n).map(|i| i as u8).collect::<Vec<u8>>();
    let cases = [
        (vec![], "75f0251d528ac01c4573dfd5"),
        (seq(3), "5b376580ae2f19afe7219cee"),
        (seq(16), "d2a246fa349b68a79998a439"),
        (seq(20), "47f51b4564966215b8985c63"),
        (seq(32), "f54f0ec8d2b9f3d36807734b"),
        (seq(34), "becbb3bccdb518a30677d548"),
        (vec![0u8; 1000], "f0dafee895db30253761103b"),
    ];
    for (name, a) in backends().await {
        for (msg, mac) in &cases {
            let tag = a.mac_sign(&key, msg.clone()).await.unwrap();
            assert_eq!(tag, hex(mac), "{name} len {}", msg.len());
            a.mac_verify(&key, msg.clone(), &tag).await.unwrap();
        }
        if name != "cpu" {
            assert_eq!(
                a.cpu_jobs(),
                2,
                "{name}: only the empty message ran on the CPU"
            );
        }
    }
}

/// GMAC: the CAVP gcmEncryptExtIV records with a 96-bit IV, no plaintext and 128-bit tags (AAD of 0, 128, 160,
/// 384 and 720 bits; 225 records), on each backend; a wrong nonce fails verification.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gmac_cavp_vectors() {
    let recs = records(&vectors("gmac/gmac-ivlen96-taglen128.rsp"));
    assert_eq!(recs.len(), 225);
    for (name, a) in backends().await {
        for r in &recs {
            let key = MacKey::new(MacAlgorithm::AesGmac, &hex(&r["key"])).unwrap();
            let iv: [u8; 12] = hex(&r["iv"]).try_into().unwrap();
            let aad = hex(&r["aad"]);
            let want: [u8; 16] = hex(&r["tag"]).try_into().unwrap();
            let tag = a
                .gmac_sign_with_nonce_unchecked(&key, &iv, aad.clone())
                .await
                .unwrap();
            assert_eq!(tag, want, "{name} {r:?}");
            a.gmac_verify(&key, &iv, aad.clone(), &want).await.unwrap();
            let mut other = iv;
            other[0] ^= 1;
            assert!(matches!(
                a.gmac_verify(&key, &other, aad, &want).await,
                Err(Error::AuthFailed)
            ));
        }
    }
}

/// RFC 8998 appendix A.1 (SM4-GCM) and A.2 (SM4-CCM): 12-byte nonce, 20 bytes of AAD, 64-byte payload, 16-byte
/// tag.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sm4_rfc8998_vectors() {
    let key = AeadCipherKey::sm4(&hex("0123456789abcdeffedcba9876543210")).unwrap();
    let iv: [u8; 12] = hex("00001234567800000000abcd").try_into().unwrap();
    let aad = hex("feedfacedeadbeeffeedfacedeadbeefabaddad2");
    let pt = hex(concat!(
        "aaaaaaaaaaaaaaaabbbbbbbbbbbbbbbbccccccccccccccccdddddddddddddddd",
        "eeeeeeeeeeeeeeeeffffffffffffffffeeeeeeeeeeeeeeeeaaaaaaaaaaaaaaaa"
    ));
    let gcm = hex(concat!(
        "17f399f08c67d5ee19d0dc9969c4bb7d5fd46fd3756489069157b282bb200735",
        "d82710ca5c22f0ccfa7cbf93d496ac15a56834cbcf98c397b4024a2691233b8d",
        "83de3541e4c2b58177e065a9bf7b62ec"
    ));
    let ccm = hex(concat!(
        "48af93501fa62adbcd414cce6034d895dda1bf8f132f042098661572e7483094",
        "fd12e518ce062c98acee28d95df4416bed31a2f04476c18bb40c84a74b97dc5b",
        "16842d4fa186f56ab33256971fa110f4"
    ));
    for (name, a) in backends().await {
        let s = a
            .sm4_gcm_seal_with_nonce_unchecked(&key, &iv, &aad, pt.clone())
            .await
            .unwrap();
        assert_eq!(s[..], gcm[..], "{name} SM4-GCM");
        assert_eq!(
            a.sm4_gcm_open(&key, &iv, &aad, s).await.unwrap()[..],
            pt[..]
        );
        let (ct, tag) = gcm.split_at(64);
        let tag: [u8; 16] = tag.try_into().unwrap();
        let back = a
            .sm4_gcm_open_detached(&key, &iv, &aad, ct.to_vec(), &tag)
            .await
            .unwrap();
        assert_eq!(back[..], pt[..]);
        let s = a
            .ccm_seal_with_nonce_unchecked(&key, &iv, 16, &aad, pt.clone())
            .await
            .unwrap();
        assert_eq!(s[..], ccm[..], "{name} SM4-CCM");
        assert_eq!(
            a.ccm_open(&key, &iv, 16, &aad, s).await.unwrap()[..],
            pt[..]
        );
        let mut bad = ccm.clone();
        bad[3] ^= 4;
        assert!(matches!(
            a.ccm_open(&key, &iv, 16, &aad, bad).await,
            Err(Error::AuthFailed)
        ));
        // On v2 SM4 AEAD runs on the CPU (4 jobs: the two seals, the two opens of good data, the tampered one);
        // on v3 on the device.
        match name.as_str() {
            "emu V2" => assert_eq!(a.cpu_jobs(), 6, "{name}"),
            "emu V3" => assert_eq!(a.cpu_jobs(), 0, "{name}"),
            _ => {}
        }
    }
}

/// Every algorithm in every notification mode on emulated v3 (and the v2-capable ones on v2): the device's bytes
/// equal the CPU backend's for random keys, nonces, AAD and bodies (one block, odd sizes, 64 KiB − 1 for CCM, 70 000
/// for SM4-GCM and the MACs), and no job ran on the CPU.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_equal_cpu_in_every_mode() {
    let cpu = common::cpu().await;
    let mut rng = common::Rng::new(0xCC3);
    for mode in NotifyMode::ALL {
        for v in [QmVersion::V2, QmVersion::V3] {
            let a = emu(mode, v).await;
            let v3 = v == QmVersion::V3;
            for len in [16usize, 33, 1000] {
                let aad = rng.bytes(len % 40);
                let body = rng.bytes(len);
                // AES-CCM (all key sizes) and, on v3, SM4-CCM; nonce and tag sizes vary.
                for (key, nonce_len, tag_len) in [
                    (AeadCipherKey::aes(&rng.bytes(16)).unwrap(), 13, 16),
                    (AeadCipherKey::aes(&rng.bytes(24)).unwrap(), 7, 4),
                    (AeadCipherKey::aes(&rng.bytes(32)).unwrap(), 11, 10),
                    (AeadCipherKey::sm4(&rng.bytes(16)).unwrap(), 12, 8),
                ] {
                    if key.cipher() == BlockCipher::Sm4 && !v3 {
                        continue;
                    }
                    let nonce = rng.bytes(nonce_len);
                    let want = cpu
                        .ccm_seal_with_nonce_unchecked(&key, &nonce, tag_len, &aad, body.clone())
                        .await
                        .unwrap();
                    let got = a
                        .ccm_seal_with_nonce_unchecked(&key, &nonce, tag_len, &aad, body.clone())
                        .await
                        .unwrap();
                    assert_eq!(got, want, "{mode:?} {v:?} {key:?} {len}");
                    let back = a.ccm_open(&key, &nonce, tag_len, &aad, got).await.unwrap();
                    assert_eq!(back[..], body[..]);
                }
                let mac_keys = [
                    MacKey::new(MacAlgorithm::AesCmac, &rng.bytes(16)).unwrap(),
                    MacKey::new(MacAlgorithm::AesXcbcMac96, &rng.bytes(16)).unwrap(),
                ];
                for key in &mac_keys {
                    let want = cpu.mac_sign(key, body.clone()).await.unwrap();
                    assert_eq!(
                        a.mac_sign(key, body.clone()).await.unwrap(),
                        want,
                        "{mode:?} {v:?} {key:?}"
                    );
                }
                if v3 {
                    let key = AeadCipherKey::sm4(&rng.bytes(16)).unwrap();
                    let n: [u8; 12] = rng.bytes(12).try_into().unwrap();
                    let want = cpu
                        .sm4_gcm_seal_with_nonce_unchecked(&key, &n, &aad, body.clone())
                        .await
                        .unwrap();
                    let got = a
                        .sm4_gcm_seal_with_nonce_unchecked(&key, &n, &aad, body.clone())
                        .await
                        .unwrap();
                    assert_eq!(got, want, "{mode:?} SM4-GCM {len}");
                    let gk = MacKey::new(MacAlgorithm::AesGmac, &rng.bytes(24)).unwrap();
                    let want = cpu
                        .gmac_sign_with_nonce_unchecked(&gk, &n, body.clone())
                        .await
                        .unwrap();
                    let got = a
                        .gmac_sign_with_nonce_unchecked(&gk, &n, body.clone())
                        .await
                        .unwrap();
                    assert_eq!(got, want, "{mode:?} GMAC {len}");
                }
            }
            assert_eq!(
                a.cpu_jobs(),
                0,
                "{mode:?} {v:?}: everything ran on the device"
            );
        }
    }
    // The largest a device takes: a CCM body of 64 KiB − 1 (see the ccm module), SM4-GCM and the MACs over 64 KiB.
    let a = emu(NotifyMode::Eventfd, QmVersion::V3).await;
    let key = AeadCipherKey::aes(&rng.bytes(32)).unwrap();
    let big = rng.bytes(0xFFFF);
    let n = rng.bytes(12);
    let want = cpu
        .ccm_seal_with_nonce_unchecked(&key, &n, 16, b"h", big.clone())
        .await
        .unwrap();
    let got = a
        .ccm_seal_with_nonce_unchecked(&key, &n, 16, b"h", big.clone())
        .await
        .unwrap();
    assert_eq!(got, want);
    let key = MacKey::new(MacAlgorithm::AesCmac, &rng.bytes(16)).unwrap();
    let big = rng.bytes(70_000);
    assert_eq!(
        a.mac_sign(&key, big.clone()).await.unwrap(),
        cpu.mac_sign(&key, big).await.unwrap()
    );
    assert_eq!(a.cpu_jobs(), 0);
}

/// Where requests run: `offloaded` per QM version, and the CPU fallback under `Backend::Auto`-like routing for
/// what v2 does not do (SM4-CCM, SM4-GCM, GMAC), for CMAC with 24/32-byte keys, CCM bodies of 64 KiB and more,
/// and empty messages.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routing_per_version() {
    let v2 = emu(NotifyMode::Eventfd, QmVersion::V2).await;
    let v3 = emu(NotifyMode::Eventfd, QmVersion::V3).await;
    let kinds_v3_only = [
        JobKind::Ccm(BlockCipher::Sm4),
        JobKind::Sm4Gcm,
        JobKind::Mac(MacAlgorithm::AesGmac),
    ];
    let kinds_both = [
        JobKind::Ccm(BlockCipher::Aes),
        JobKind::Mac(MacAlgorithm::AesCmac),
        JobKind::Mac(MacAlgorithm::AesXcbcMac96),
    ];
    for k in kinds_v3_only {
        assert!(!v2.offloaded(k), "{k:?} on v2");
        assert!(v3.offloaded(k), "{k:?} on v3");
    }
    for k in kinds_both {
        assert!(v2.offloaded(k) && v3.offloaded(k), "{k:?}");
    }
    let cpu = common::cpu().await;
    assert!(!cpu.offloaded(JobKind::Ccm(BlockCipher::Aes)));

    let sm4 = AeadCipherKey::sm4(&[1; 16]).unwrap();
    let before = v2.cpu_jobs();
    let s = v2
        .ccm_seal_with_nonce_unchecked(&sm4, &[2; 12], 16, b"a", vec![3u8; 100])
        .await
        .unwrap();
    assert_eq!(v2.cpu_jobs(), before + 1, "SM4-CCM on v2 runs on the CPU");
    assert_eq!(
        v3.ccm_open(&sm4, &[2; 12], 16, b"a", s).await.unwrap()[..],
        [3u8; 100][..]
    );
    assert_eq!(v3.cpu_jobs(), 0, "and on the device on v3");

    let gmac = MacKey::new(MacAlgorithm::AesGmac, &[4; 16]).unwrap();
    let t2 = v2
        .gmac_sign_with_nonce_unchecked(&gmac, &[5; 12], vec![6u8; 64])
        .await
        .unwrap();
    assert_eq!(v2.cpu_jobs(), before + 2, "GMAC on v2 runs on the CPU");
    let t3 = v3
        .gmac_sign_with_nonce_unchecked(&gmac, &[5; 12], vec![6u8; 64])
        .await
        .unwrap();
    assert_eq!((t2, v3.cpu_jobs()), (t3, 0));

    // CMAC with an AES-256 key: the device takes 16-byte keys only.
    let c256 = MacKey::new(MacAlgorithm::AesCmac, &[7; 32]).unwrap();
    v3.mac_sign(&c256, vec![1u8; 32]).await.unwrap();
    assert_eq!(v3.cpu_jobs(), 1);
    // A CCM body of 64 KiB: the CPU (B0's length beyond 16 bits is not known for the hardware).
    let aes = AeadCipherKey::aes(&[8; 16]).unwrap();
    let big = v3
        .ccm_seal_with_nonce_unchecked(&aes, &[9; 12], 8, b"", vec![0u8; 0x1_0000])
        .await
        .unwrap();
    assert_eq!(v3.cpu_jobs(), 2);
    assert_eq!(
        v3.ccm_open(&aes, &[9; 12], 8, b"", big)
            .await
            .unwrap()
            .len(),
        0x1_0000
    );
    assert_eq!(v3.cpu_jobs(), 3);
}

/// Typed errors: key sizes, nonce and tag lengths, tag mismatches (device and CPU), wrong key kinds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_errors() {
    assert!(matches!(
        AeadCipherKey::aes(&[0; 15]),
        Err(Error::InvalidKeyLength { got: 15, .. })
    ));
    assert!(matches!(
        AeadCipherKey::sm4(&[0; 24]),
        Err(Error::InvalidKeyLength { got: 24, .. })
    ));
    assert!(matches!(
        MacKey::new(MacAlgorithm::AesXcbcMac96, &[0; 24]),
        Err(Error::InvalidKeyLength { got: 24, .. })
    ));
    assert!(matches!(
        MacKey::new(MacAlgorithm::AesGmac, &[0; 8]),
        Err(Error::InvalidKeyLength { got: 8, .. })
    ));
    for (name, a) in backends().await {
        let k = AeadCipherKey::aes(&[1; 16]).unwrap();
        for n in [0usize, 6, 14, 16] {
            let e = a
                .ccm_seal_with_nonce_unchecked(&k, &vec![0; n], 16, b"", vec![1u8; 8])
                .await;
            assert!(
                matches!(e, Err(Error::InvalidNonceLength { got, .. }) if got == n),
                "{name} nonce {n}: {e:?}"
            );
            let e = a.ccm_open(&k, &vec![0; n], 16, b"", vec![1u8; 24]).await;
            assert!(matches!(e, Err(Error::InvalidNonceLength { .. })), "{name}");
        }
        for t in [0usize, 2, 5, 15, 18] {
            let e = a
                .ccm_seal_with_nonce_unchecked(&k, &[0; 12], t, b"", vec![1u8; 8])
                .await;
            assert!(
                matches!(e, Err(Error::InvalidTagLength { got, .. }) if got == t),
                "{name} tag {t}: {e:?}"
            );
            let e = a
                .ccm_open_detached(&k, &[0; 12], b"", vec![1u8; 8], &vec![0; t])
                .await;
            assert!(matches!(e, Err(Error::InvalidTagLength { .. })), "{name}");
        }
        // A 13-byte nonce leaves 2 length bytes: 64 KiB does not fit.
        let e = a
            .ccm_seal_with_nonce_unchecked(&k, &[0; 13], 16, b"", vec![0u8; 0x1_0000])
            .await;
        assert!(
            matches!(e, Err(Error::InvalidLength { .. })),
            "{name}: {e:?}"
        );
        // Tag mismatch: a flipped bit in ciphertext, tag or AAD, and a wrong tag length on open.
        let s = a
            .ccm_seal_with_nonce_unchecked(&k, &[3; 8], 6, b"aad", vec![9u8; 40])
            .await
            .unwrap();
        for i in [0, 39, 45] {
            let mut bad = s.to_vec();
            bad[i] ^= 0x80;
            let e = a.ccm_open(&k, &[3; 8], 6, b"aad", bad).await;
            assert!(
                matches!(e, Err(Error::AuthFailed)),
                "{name} byte {i}: {e:?}"
            );
        }
        let e = a.ccm_open(&k, &[3; 8], 6, b"aaD", s.clone()).await;
        assert!(matches!(e, Err(Error::AuthFailed)), "{name}");
        let e = a.ccm_open(&k, &[3; 8], 8, b"aad", s.clone()).await;
        assert!(matches!(e, Err(Error::AuthFailed)), "{name}");
        assert!(matches!(
            a.ccm_open(&k, &[3; 8], 6, b"aad", vec![0u8; 5]).await,
            Err(Error::AuthFailed)
        ));
        // SM4-GCM takes an SM4 key; SM4-GCM tag mismatch.
        let e = a
            .sm4_gcm_seal_with_nonce_unchecked(&k, &[0; 12], b"", vec![1u8; 4])
            .await;
        assert!(matches!(e, Err(Error::InvalidParameter(_))), "{name}");
        let sk = AeadCipherKey::sm4(&[2; 16]).unwrap();
        let mut s = a
            .sm4_gcm_seal_with_nonce_unchecked(&sk, &[0; 12], b"", vec![1u8; 4])
            .await
            .unwrap()
            .to_vec();
        s[19] ^= 1;
        assert!(matches!(
            a.sm4_gcm_open(&sk, &[0; 12], b"", s).await,
            Err(Error::AuthFailed)
        ));
        // MACs: wrong tag length, mismatch, GMAC key on mac_sign and the reverse.
        let cm = MacKey::new(MacAlgorithm::AesCmac, &[5; 16]).unwrap();
        let xc = MacKey::new(MacAlgorithm::AesXcbcMac96, &[5; 16]).unwrap();
        let gm = MacKey::new(MacAlgorithm::AesGmac, &[5; 16]).unwrap();
        assert!(matches!(
            a.mac_verify(&cm, vec![1u8; 20], &[0; 12]).await,
            Err(Error::InvalidTagLength { got: 12, .. })
        ));
        assert!(matches!(
            a.mac_verify(&xc, vec![1u8; 20], &[0; 16]).await,
            Err(Error::InvalidTagLength { got: 16, .. })
        ));
        assert!(matches!(
            a.mac_verify(&xc, vec![1u8; 20], &[0; 12]).await,
            Err(Error::AuthFailed)
        ));
        assert!(matches!(
            a.mac_sign(&gm, vec![1u8; 20]).await,
            Err(Error::InvalidParameter(_))
        ));
        assert!(matches!(
            a.gmac_sign_with_nonce_unchecked(&cm, &[0; 12], vec![1u8; 20])
                .await,
            Err(Error::InvalidParameter(_))
        ));
    }
}
