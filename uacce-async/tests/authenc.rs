//! Authenc (AES-CBC + HMAC-SHA-1/256/512, encrypt-then-MAC) through `uacce::aio` on emulated v2 and v3 SEC devices
//! (device only, no CPU backup) and the CPU backend.
//!
//! Expected values come from outside the library: a composition of plain RustCrypto primitives written here
//! (`aes` + `cbc` + `hmac` + `sha1`/`sha2`, not `uacce-soft`), Python's `cryptography` package run at test time
//! (an OpenSSL-backed implementation), and the AES-CBC ciphertexts of RFC 3602 §4 (cases 1 and 2). Tampering, bad
//! keys and bad lengths give typed errors; every notification mode gives the CPU backend's bytes; the SQEs sent
//! carry the keys, IV and tag where the protocol says.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use aes::cipher::{BlockEncryptMut, KeyIvInit, block_padding::NoPadding};
use hmac::{Hmac, Mac};
use uacce_async::{AuthencKey, EmuOptions, Error, HashAlg, JobKind, NotifyMode};
use uacce_emu::DeviceKind;
use uacce_sys::qm::QmVersion;
use uacce_testkit::{Rng, hex};

use common::emu_v2_v3_and_cpu as backends;

const HASHES: [HashAlg; 3] = [HashAlg::Sha1, HashAlg::Sha256, HashAlg::Sha512];

/// AES-CBC (no padding) with plain RustCrypto.
fn cbc_encrypt(key: &[u8], iv: &[u8; 16], pt: &[u8]) -> Vec<u8> {
    let mut buf = pt.to_vec();
    let n = pt.len();
    match key.len() {
        16 => cbc::Encryptor::<aes::Aes128>::new_from_slices(key, iv)
            .unwrap()
            .encrypt_padded_mut::<NoPadding>(&mut buf, n)
            .unwrap(),
        24 => cbc::Encryptor::<aes::Aes192>::new_from_slices(key, iv)
            .unwrap()
            .encrypt_padded_mut::<NoPadding>(&mut buf, n)
            .unwrap(),
        _ => cbc::Encryptor::<aes::Aes256>::new_from_slices(key, iv)
            .unwrap()
            .encrypt_padded_mut::<NoPadding>(&mut buf, n)
            .unwrap(),
    };
    buf
}

/// HMAC(key, data) with plain RustCrypto.
fn hmac(hash: HashAlg, key: &[u8], data: &[u8]) -> Vec<u8> {
    macro_rules! run {
        ($H:ty) => {{
            let mut m = <Hmac<$H> as Mac>::new_from_slice(key).unwrap();
            m.update(data);
            m.finalize().into_bytes().to_vec()
        }};
    }
    match hash {
        HashAlg::Sha1 => run!(sha1::Sha1),
        HashAlg::Sha256 => run!(sha2::Sha256),
        HashAlg::Sha512 => run!(sha2::Sha512),
        other => panic!("{other:?} is not an authenc hash"),
    }
}

/// The expected seal: ciphertext ‖ HMAC(mac key, aad ‖ ciphertext)[..tag_len].
fn expected(
    hash: HashAlg,
    enc: &[u8],
    mk: &[u8],
    tag_len: usize,
    iv: &[u8; 16],
    aad: &[u8],
    pt: &[u8],
) -> Vec<u8> {
    let ct = cbc_encrypt(enc, iv, pt);
    let mut mac_in = aad.to_vec();
    mac_in.extend_from_slice(&ct);
    let tag = hmac(hash, mk, &mac_in);
    let mut out = ct;
    out.extend_from_slice(&tag[..tag_len]);
    out
}

/// Each hash × AES key size × tag length (truncated and full) × AAD length × payload length, with HMAC keys of 0,
/// a block, and longer than a block (hashed first), against the RustCrypto composition, on v2, v3 and the CPU.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn matches_rustcrypto_composition() {
    let mut rng = Rng::new(0xA07E);
    for (name, a) in backends().await {
        for hash in HASHES {
            let full = hash.output_len();
            for (klen, tag_len, mk_len) in [
                (16, 12, 20),
                (24, full, 0),
                (32, 16, 200),
                (16, full, hash.block_len()),
            ] {
                for (aad_len, pt_len) in [(0, 16), (8, 64), (20, 4096 + 16), (13, 48)] {
                    let enc = rng.bytes(klen);
                    let mk = rng.bytes(mk_len);
                    let iv: [u8; 16] = rng.bytes(16).try_into().unwrap();
                    let aad = rng.bytes(aad_len);
                    let pt = rng.bytes(pt_len);
                    let key = AuthencKey::new(&enc, hash, &mk, tag_len).unwrap();
                    let want = expected(hash, &enc, &mk, tag_len, &iv, &aad, &pt);
                    let what = format!(
                        "{name} {hash:?} AES-{} tag {tag_len} mk {mk_len} aad {aad_len} pt {pt_len}",
                        klen * 8
                    );
                    let sealed = a.authenc_seal(&key, &iv, &aad, pt.clone()).await.unwrap();
                    assert_eq!(sealed[..], want[..], "{what}");
                    let back = a.authenc_open(&key, &iv, &aad, sealed).await.unwrap();
                    assert_eq!(back[..], pt[..], "{what}");
                }
            }
        }
        if name.starts_with("emu") {
            assert_eq!(a.cpu_jobs(), 0, "{name}: every job ran on the device");
            assert!(a.offloaded(JobKind::Authenc), "{name}");
        } else {
            assert!(!a.offloaded(JobKind::Authenc), "{name}");
        }
    }
}

/// Python's `cryptography` (OpenSSL underneath) computes the same ciphertext ‖ tag: run at test time on a few cases
/// of each hash.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn matches_python_cryptography() {
    let mut rng = Rng::new(0xB1);
    let mut cases = Vec::new();
    for (hash, py, klen, tag_len) in [
        (HashAlg::Sha1, "SHA1", 16, 12),
        (HashAlg::Sha256, "SHA256", 32, 16),
        (HashAlg::Sha512, "SHA512", 24, 32),
        (HashAlg::Sha256, "SHA256", 16, 32),
    ] {
        let (enc, mk, iv, aad, pt) = (
            rng.bytes(klen),
            rng.bytes(32),
            rng.bytes(16),
            rng.bytes(11),
            rng.bytes(80),
        );
        cases.push((hash, py, tag_len, enc, mk, iv, aad, pt));
    }
    let script = r#"
import sys
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
for line in sys.stdin:
    h, n, enc, mk, iv, aad, pt = line.split()
    n = int(n)
    enc, mk, iv, aad, pt = (bytes.fromhex(x) if x != "-" else b"" for x in (enc, mk, iv, aad, pt))
    e = Cipher(algorithms.AES(enc), modes.CBC(iv)).encryptor()
    ct = e.update(pt) + e.finalize()
    m = hmac.HMAC(mk, getattr(hashes, h)())
    m.update(aad + ct)
    print((ct + m.finalize()[:n]).hex())
"#;
    let hx = |b: &[u8]| {
        if b.is_empty() {
            "-".to_string()
        } else {
            b.iter().map(|x| format!("{x:02x}")).collect()
        }
    };
    let input: String = cases
        .iter()
        .map(|(_, py, n, enc, mk, iv, aad, pt)| {
            format!(
                "{py} {n} {} {} {} {} {}\n",
                hx(enc),
                hx(mk),
                hx(iv),
                hx(aad),
                hx(pt)
            )
        })
        .collect();
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 (with the cryptography package) is required for this test");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "python3 cryptography failed");
    let lines: Vec<Vec<u8>> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(hex)
        .collect();
    assert_eq!(lines.len(), cases.len());
    for (name, a) in backends().await {
        for ((hash, _, tag_len, enc, mk, iv, aad, pt), want) in cases.iter().zip(&lines) {
            let iv: [u8; 16] = iv[..].try_into().unwrap();
            let key = AuthencKey::new(enc, *hash, mk, *tag_len).unwrap();
            let sealed = a.authenc_seal(&key, &iv, aad, pt.clone()).await.unwrap();
            assert_eq!(sealed[..], want[..], "{name} {hash:?} against Python");
            let back = a.authenc_open(&key, &iv, aad, sealed).await.unwrap();
            assert_eq!(back[..], pt[..]);
        }
    }
}

/// RFC 3602 §4 cases 1 and 2 (AES-128-CBC for ESP): the ciphertext part of the seal is the RFC's ciphertext, and
/// the tag is HMAC-SHA-256-128 over aad ‖ that ciphertext.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc3602_ciphertexts() {
    let cases = [
        (
            "06a9214036b8a15b512e03d534120006",
            "3dafba429d9eb430b422da802c9fac41",
            b"Single block msg".to_vec(),
            "e353779c1079aeb82708942dbe77181a",
        ),
        (
            "c286696d887c9aa0611bbb3e2025a45a",
            "562e17996d093d28ddb3ba695a2e6f58",
            (0u8..32).collect(),
            "d296cd94c2cccf8a3a863028b5e1dc0a7586602d253cfff91b8266bea6d61ab1",
        ),
    ];
    let mk = [0x0b; 32];
    let aad = hex("0000430100000001"); // an ESP header: SPI 0x4301, sequence number 1
    for (name, a) in backends().await {
        for (k, iv, pt, ct) in &cases {
            let key = AuthencKey::new(&hex(k), HashAlg::Sha256, &mk, 16).unwrap();
            let iv: [u8; 16] = hex(iv).try_into().unwrap();
            let sealed = a.authenc_seal(&key, &iv, &aad, pt.clone()).await.unwrap();
            let ct = hex(ct);
            assert_eq!(sealed[..ct.len()], ct[..], "{name} RFC 3602 ciphertext");
            let mut mac_in = aad.clone();
            mac_in.extend_from_slice(&ct);
            assert_eq!(
                sealed[ct.len()..],
                hmac(HashAlg::Sha256, &mk, &mac_in)[..16],
                "{name} tag"
            );
        }
    }
}

/// A flipped bit in the ciphertext, the tag or the AAD, the wrong MAC key, a truncated input: `AuthFailed` on the
/// device (which checks the tag itself: no CPU backup here) and on the CPU, and nothing is returned.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampering_is_auth_failed() {
    let mut rng = Rng::new(7);
    for (name, a) in backends().await {
        for hash in HASHES {
            let (enc, mk) = (rng.bytes(32), rng.bytes(40));
            let key = AuthencKey::new(&enc, hash, &mk, hash.output_len()).unwrap();
            let iv: [u8; 16] = rng.bytes(16).try_into().unwrap();
            let (aad, pt) = (rng.bytes(16), rng.bytes(64));
            let sealed = a
                .authenc_seal(&key, &iv, &aad, pt.clone())
                .await
                .unwrap()
                .to_vec();
            for i in [0, 63, 64, sealed.len() - 1] {
                let mut bad = sealed.clone();
                bad[i] ^= 0x80;
                let r = a.authenc_open(&key, &iv, &aad, bad).await;
                assert!(
                    matches!(r, Err(Error::AuthFailed)),
                    "{name} {hash:?} byte {i}: {r:?}"
                );
            }
            let mut other_aad = aad.clone();
            other_aad[3] ^= 1;
            let r = a.authenc_open(&key, &iv, &other_aad, sealed.clone()).await;
            assert!(matches!(r, Err(Error::AuthFailed)), "{name} aad: {r:?}");
            let other = AuthencKey::new(&enc, hash, b"another mac key", hash.output_len()).unwrap();
            let r = a.authenc_open(&other, &iv, &aad, sealed.clone()).await;
            assert!(matches!(r, Err(Error::AuthFailed)), "{name} mac key: {r:?}");
            let r = a.authenc_open(&key, &iv, &aad, sealed[..8].to_vec()).await;
            assert!(matches!(r, Err(Error::AuthFailed)), "{name} short: {r:?}");
            // A truncated tag length does not open a full-tag seal.
            let short = AuthencKey::new(&enc, hash, &mk, 12).unwrap();
            let r = a.authenc_open(&short, &iv, &aad, sealed.clone()).await;
            assert!(r.is_err(), "{name} other tag length: {r:?}");
            // The untampered input still opens.
            assert_eq!(
                a.authenc_open(&key, &iv, &aad, sealed).await.unwrap()[..],
                pt[..]
            );
        }
        if name.starts_with("emu") {
            assert_eq!(a.cpu_jobs(), 0, "{name}: the device checked every tag");
        }
    }
}

/// Bad key sizes, hashes, tag lengths and payload lengths are typed errors.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_errors() {
    for bad in [0usize, 15, 20, 33, 64] {
        assert!(matches!(
            AuthencKey::new(&vec![1; bad], HashAlg::Sha256, b"k", 16),
            Err(Error::InvalidKeyLength { got, .. }) if got == bad
        ));
    }
    for h in [
        HashAlg::Sm3,
        HashAlg::Md5,
        HashAlg::Sha224,
        HashAlg::Sha384,
        HashAlg::Sha512_256,
    ] {
        assert!(matches!(
            AuthencKey::new(&[1; 16], h, b"k", 16),
            Err(Error::Unsupported(_))
        ));
    }
    for (h, t) in [
        (HashAlg::Sha1, 0),
        (HashAlg::Sha1, 24),
        (HashAlg::Sha256, 10),
        (HashAlg::Sha256, 36),
        (HashAlg::Sha512, 68),
    ] {
        assert!(matches!(
            AuthencKey::new(&[1; 16], h, b"k", t),
            Err(Error::InvalidParameter(_))
        ));
    }
    let key = AuthencKey::new(&[1; 16], HashAlg::Sha256, b"k", 16).unwrap();
    assert_eq!((key.hash(), key.tag_len()), (HashAlg::Sha256, 16));
    let iv = [0u8; 16];
    for (name, a) in backends().await {
        for len in [0usize, 1, 15, 17, 33] {
            let r = a.authenc_seal(&key, &iv, b"", vec![0u8; len]).await;
            assert!(
                matches!(r, Err(Error::InvalidLength { got, .. }) if got == len),
                "{name} seal {len}: {r:?}"
            );
            let r = a.authenc_open(&key, &iv, b"", vec![0u8; len + 16]).await;
            assert!(
                matches!(r, Err(Error::InvalidLength { got, .. }) if got == len),
                "{name} open {len}: {r:?}"
            );
        }
    }
}

/// Every notification mode: the emulated device's seal equals the CPU backend's, opens, and rejects a tampered tag.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_notification_mode() {
    let cpu = common::cpu().await;
    let mut rng = Rng::new(99);
    for mode in NotifyMode::ALL {
        let a = common::emu_default(mode).await;
        for hash in HASHES {
            let key = AuthencKey::new(&rng.bytes(16), hash, &rng.bytes(20), 12).unwrap();
            let iv: [u8; 16] = rng.bytes(16).try_into().unwrap();
            let (aad, pt) = (rng.bytes(24), rng.bytes(1024));
            let want = cpu.authenc_seal(&key, &iv, &aad, pt.clone()).await.unwrap();
            let got = a.authenc_seal(&key, &iv, &aad, pt.clone()).await.unwrap();
            assert_eq!(got, want, "{mode:?} {hash:?}");
            assert_eq!(
                a.authenc_open(&key, &iv, &aad, got.clone()).await.unwrap()[..],
                pt[..]
            );
            let mut bad = got.to_vec();
            *bad.last_mut().unwrap() ^= 1;
            let r = a.authenc_open(&key, &iv, &aad, bad).await;
            assert!(
                matches!(r, Err(Error::AuthFailed)),
                "{mode:?} {hash:?}: {r:?}"
            );
        }
        assert_eq!(a.cpu_jobs(), 0, "{mode:?}");
    }
}

/// What the library sends: the traced BDs (v2 and v3) carry the AES key, the IV, the HMAC key zero-padded to whole
/// words (hashed first when longer than a block), AAD ‖ payload, and on open the expected tag; the fields UADK
/// fills for authenc have its values (byte 0 0x52 / 0xA2 on BD2; seq and auth on BD3).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traced_sqes() {
    for v in [QmVersion::V2, QmVersion::V3] {
        let a = common::emu(
            NotifyMode::Eventfd,
            EmuOptions::default().version(v),
            Some(Duration::from_secs(10)),
        )
        .await;
        let sec = a
            .emulated_devices()
            .iter()
            .find(|d| d.config().kind == DeviceKind::Sec)
            .unwrap();
        sec.set_trace(true);
        for (mk, dev_key) in [
            (b"short".to_vec(), b"short\0\0\0".to_vec()),
            (vec![9u8; 100], {
                use sha2::Digest;
                sha2::Sha256::digest([9u8; 100]).to_vec()
            }),
        ] {
            let enc = [5u8; 24];
            let key = AuthencKey::new(&enc, HashAlg::Sha256, &mk, 16).unwrap();
            let iv = [0x11u8; 16];
            let (aad, pt) = (b"header".to_vec(), vec![0x22u8; 48]);
            let sealed = a.authenc_seal(&key, &iv, &aad, pt.clone()).await.unwrap();
            a.authenc_open(&key, &iv, &aad, sealed.clone())
                .await
                .unwrap();
            let t = sec.take_trace();
            assert_eq!(t.len(), 2, "{v:?}");
            for (r, dec) in [(&t[0], false), (&t[1], true)] {
                let read = |slot: &str| {
                    r.read(slot)
                        .unwrap_or_else(|| panic!("{slot}"))
                        .bytes
                        .clone()
                };
                assert_eq!(read("c_key_addr"), enc);
                assert_eq!(read("c_ivin_addr"), iv);
                assert_eq!(read("a_key_addr"), dev_key);
                let mut src = aad.clone();
                src.extend_from_slice(if dec { &sealed[..48] } else { &pt[..] });
                assert_eq!(read("data_src_addr"), src);
                if dec {
                    assert_eq!(read("mac_addr"), sealed[48..]);
                }
                let s = &r.sqe;
                if v == QmVersion::V2 {
                    assert_eq!(s[0], if dec { 0xA2 } else { 0x52 });
                    assert_eq!(s[1], if dec { 0x0B } else { 0x0A });
                    // mac 4 words, key words, HMAC-SHA256
                    let w = u32::from_le_bytes(s[8..12].try_into().unwrap());
                    assert_eq!(w, 4 | (dev_key.len() as u32 / 4) << 5 | 0x11 << 11);
                    assert_eq!(
                        u64::from_le_bytes(s[56..64].try_into().unwrap()),
                        0,
                        "a_ivin 0"
                    );
                } else {
                    assert_eq!(s[7], if dec { 0x40 } else { 0 });
                    let w = u32::from_le_bytes(s[56..60].try_into().unwrap());
                    assert_eq!(w & 3, if dec { 2 } else { 1 });
                    assert_eq!(w >> 4 & 0x1F, 4);
                    assert_eq!((w >> 15) & 0x3F, 0x11);
                    assert_ne!(w & 1 << 27, 0, "sva_prefetch for small data");
                }
            }
        }
    }
}

/// AAD over 64 KiB does not fit the BD's 16-bit cipher_src_offset: the job runs on the CPU, with the same result.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_aad_runs_on_the_cpu() {
    let mut rng = Rng::new(3);
    let a = common::emu_default(NotifyMode::Eventfd).await;
    let (enc, mk) = (rng.bytes(16), rng.bytes(32));
    let key = AuthencKey::new(&enc, HashAlg::Sha256, &mk, 16).unwrap();
    let iv: [u8; 16] = rng.bytes(16).try_into().unwrap();
    let (aad, pt) = (rng.bytes(70_000), rng.bytes(32));
    let sealed = a.authenc_seal(&key, &iv, &aad, pt.clone()).await.unwrap();
    assert_eq!(
        sealed[..],
        expected(HashAlg::Sha256, &enc, &mk, 16, &iv, &aad, &pt)[..]
    );
    assert_eq!(
        a.authenc_open(&key, &iv, &aad, sealed).await.unwrap()[..],
        pt[..]
    );
    assert_eq!(a.cpu_jobs(), 2);
}
