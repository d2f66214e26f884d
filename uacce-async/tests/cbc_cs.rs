//! CBC with ciphertext stealing (CS1, CS2, CS3 of NIST SP 800-38A Addendum) for AES and SM4 through
//! `uacce_async::hazmat`, on an emulated QM v3 SEC device (BD3 c_mode 9, c_width 1..=3), a v2 device (which has no
//! CBC-CS: the job runs on the CPU) and the CPU backend.
//!
//! Expected values: RFC 3962 Appendix B (AES-128 CBC-CTS as Kerberos uses it, which is CS3: the six vectors of 17
//! to 64 bytes), and for every variant, cipher and length, the Addendum's definition applied here by hand to plain
//! RustCrypto CBC (`cbc` with `aes` / `sm4`, not `uacce-soft`): zero-pad the last partial block, CBC-encrypt, keep the
//! first `d` bytes of the next-to-last block, and order the last two blocks per variant.

mod common;

use aes::cipher::{BlockEncryptMut, KeyIvInit, block_padding::NoPadding};
use uacce_async::hazmat::{BlockCipher, CipherKey, CipherMode, UnauthenticatedCipher};
use uacce_async::{Error, JobKind};
use uacce_testkit::{Rng, hex};

use common::emu_v2_v3_and_cpu as backends;

const MODES: [CipherMode; 3] = [CipherMode::CbcCs1, CipherMode::CbcCs2, CipherMode::CbcCs3];

/// Plain CBC (no padding) with RustCrypto, for AES-128/192/256 and SM4.
fn cbc(alg: BlockCipher, key: &[u8], iv: &[u8; 16], data: &mut [u8]) {
    let n = data.len();
    macro_rules! run {
        ($C:ty) => {
            cbc::Encryptor::<$C>::new_from_slices(key, iv)
                .unwrap()
                .encrypt_padded_mut::<NoPadding>(data, n)
                .unwrap()
        };
    }
    match (alg, key.len()) {
        (BlockCipher::Sm4, _) => run!(sm4::Sm4),
        (_, 16) => run!(aes::Aes128),
        (_, 24) => run!(aes::Aes192),
        _ => run!(aes::Aes256),
    };
}

/// NIST SP 800-38A Addendum, CBC-CSx-Encrypt, from CBC.
fn cs_encrypt(alg: BlockCipher, mode: CipherMode, key: &[u8], iv: &[u8; 16], pt: &[u8]) -> Vec<u8> {
    let n = pt.len();
    let d = if n.is_multiple_of(16) { 16 } else { n % 16 };
    // P1 … Pn-1 ‖ (P*n ‖ 0^(128-d)), CBC-encrypted.
    let mut c = pt.to_vec();
    c.resize(n.div_ceil(16) * 16, 0);
    cbc(alg, key, iv, &mut c);
    let blocks = c.len() / 16;
    let head = &c[..(blocks - 2) * 16];
    let c_star = &c[(blocks - 2) * 16..(blocks - 2) * 16 + d]; // MSB_d(Cn-1)
    let cn = &c[(blocks - 1) * 16..];
    let swap = match mode {
        CipherMode::CbcCs1 => false,
        CipherMode::CbcCs2 => d != 16,
        _ => true,
    };
    let mut out = head.to_vec();
    if swap {
        out.extend_from_slice(cn);
        out.extend_from_slice(c_star);
    } else {
        out.extend_from_slice(c_star);
        out.extend_from_slice(cn);
    }
    out
}

/// RFC 3962 Appendix B: AES-128 key "chicken teriyaki", IV 0, prefixes of one sentence; these are CS3.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc3962_vectors_cs3() {
    let key = b"chicken teriyaki";
    let text = b"I would like the General Gau's Chicken, please, and wonton soup.";
    let cases = [
        (17, "c6353568f2bf8cb4d8a580362da7ff7f97"),
        (
            31,
            "fc00783e0efdb2c1d445d4c8eff7ed2297687268d6ecccc0c07b25e25ecfe5",
        ),
        (
            32,
            "39312523a78662d5be7fcbcc98ebf5a897687268d6ecccc0c07b25e25ecfe584",
        ),
        (
            47,
            "97687268d6ecccc0c07b25e25ecfe584b3fffd940c16a18c1b5549d2f838029e39312523a78662d5be7fcbcc98ebf5",
        ),
        (
            48,
            "97687268d6ecccc0c07b25e25ecfe5849dad8bbb96c4cdc03bc103e1a194bbd839312523a78662d5be7fcbcc98ebf5a8",
        ),
        (
            64,
            "97687268d6ecccc0c07b25e25ecfe58439312523a78662d5be7fcbcc98ebf5a84807efe836ee89a526730dbc2f7bc8409dad8bbb96c4cdc03bc103e1a194bbd8",
        ),
    ];
    let k = CipherKey::new(CipherMode::CbcCs3, key).unwrap();
    let iv = [0u8; 16];
    for (name, a) in backends().await {
        for (len, ct) in cases {
            let pt = text[..len].to_vec();
            let got = a
                .encrypt_unauthenticated(&k, &iv, pt.clone())
                .await
                .unwrap();
            assert_eq!(got[..], hex(ct)[..], "{name} RFC 3962 {len}");
            // The test's own derivation agrees with the RFC (so it is a fair oracle for CS1 and CS2 below).
            assert_eq!(
                cs_encrypt(BlockCipher::Aes, CipherMode::CbcCs3, key, &iv, &pt),
                hex(ct)
            );
            let back = a.decrypt_unauthenticated(&k, &iv, got).await.unwrap();
            assert_eq!(back[..], pt[..], "{name} RFC 3962 {len} decrypt");
        }
    }
}

/// Every variant × AES-128/192/256 and SM4 × lengths from 17 bytes to past 64 KiB (whole and partial last blocks):
/// the Addendum's definition from CBC, on v3 (device), v2 (CPU) and the CPU backend; decryption inverts it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_variants_match_the_addendum() {
    let mut rng = Rng::new(0xC5);
    let all = backends().await;
    for (alg, klen) in [
        (BlockCipher::Aes, 16),
        (BlockCipher::Aes, 24),
        (BlockCipher::Aes, 32),
        (BlockCipher::Sm4, 16),
    ] {
        for mode in MODES {
            let key = rng.bytes(klen);
            let k = CipherKey::with_cipher(alg, mode, &key).unwrap();
            let iv: [u8; 16] = rng.bytes(16).try_into().unwrap();
            for len in [17usize, 31, 32, 33, 48, 100, 70_001] {
                let pt = rng.bytes(len);
                let want = cs_encrypt(alg, mode, &key, &iv, &pt);
                for (name, a) in &all {
                    let got = a
                        .encrypt_unauthenticated(&k, &iv, pt.clone())
                        .await
                        .unwrap();
                    assert_eq!(
                        got[..],
                        want[..],
                        "{name} {alg:?}-{} {mode:?} {len}",
                        klen * 8
                    );
                    let back = a.decrypt_unauthenticated(&k, &iv, got).await.unwrap();
                    assert_eq!(back[..], pt[..], "{name} {alg:?} {mode:?} {len} decrypt");
                }
            }
        }
    }
    // v3 did every job on the device; v2 has no CBC-CS, so its jobs ran on the CPU.
    let (v2, v3) = (&all[0], &all[1]);
    assert_eq!(v3.1.cpu_jobs(), 0, "{}", v3.0);
    assert!(v2.1.cpu_jobs() > 0, "{}", v2.0);
    for mode in MODES {
        for alg in [BlockCipher::Aes, BlockCipher::Sm4] {
            assert!(!mode.on_qm_v2());
            assert!(
                !v2.1.offloaded(JobKind::Cipher(alg, mode)),
                "v2 {alg:?} {mode:?}"
            );
            assert!(
                v3.1.offloaded(JobKind::Cipher(alg, mode)),
                "v3 {alg:?} {mode:?}"
            );
        }
    }
}

/// CS2 with a whole last block is plain CBC; CS1 with a whole last block is plain CBC too; CS3 swaps.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whole_last_block_relations() {
    let a = common::emu_default(uacce_async::NotifyMode::Eventfd).await;
    let key = [7u8; 16];
    let iv = [1u8; 16];
    let pt: Vec<u8> = (0..64u8).collect();
    let mut plain_cbc = pt.clone();
    cbc(BlockCipher::Aes, &key, &iv, &mut plain_cbc);
    for (mode, swapped) in [
        (CipherMode::CbcCs1, false),
        (CipherMode::CbcCs2, false),
        (CipherMode::CbcCs3, true),
    ] {
        let k = CipherKey::new(mode, &key).unwrap();
        let got = a
            .encrypt_unauthenticated(&k, &iv, pt.clone())
            .await
            .unwrap();
        let mut want = plain_cbc.clone();
        if swapped {
            want[32..].rotate_left(16);
        }
        assert_eq!(got[..], want[..], "{mode:?}");
    }
}

/// 16 bytes or less is a typed error (the SEC engine refuses it: UADK `aes_len_check`), on every backend.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_inputs_are_typed_errors() {
    for (name, a) in backends().await {
        for mode in MODES {
            let k = CipherKey::sm4(mode, &[3u8; 16]).unwrap();
            for len in [0usize, 1, 15, 16] {
                let r = a
                    .encrypt_unauthenticated(&k, &[0; 16], vec![0u8; len])
                    .await;
                assert!(
                    matches!(r, Err(Error::InvalidLength { got, .. }) if got == len),
                    "{name} {mode:?} {len}: {r:?}"
                );
                let r = a
                    .decrypt_unauthenticated(&k, &[0; 16], vec![0u8; len])
                    .await;
                assert!(
                    matches!(r, Err(Error::InvalidLength { .. })),
                    "{name} {mode:?} {len}"
                );
            }
        }
    }
    assert!(matches!(
        CipherKey::new(CipherMode::CbcCs2, &[0u8; 20]),
        Err(Error::InvalidKeyLength { got: 20, .. })
    ));
}

/// Every notification mode: the emulated v3 device gives the Addendum's bytes for each variant and inverts them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_notification_mode() {
    let mut rng = Rng::new(0x0DE);
    for mode in uacce_async::NotifyMode::ALL {
        let a = common::emu_default(mode).await;
        for cs in MODES {
            let key = rng.bytes(32);
            let k = CipherKey::new(cs, &key).unwrap();
            let iv: [u8; 16] = rng.bytes(16).try_into().unwrap();
            let pt = rng.bytes(1000);
            let got = a
                .encrypt_unauthenticated(&k, &iv, pt.clone())
                .await
                .unwrap();
            assert_eq!(
                got[..],
                cs_encrypt(BlockCipher::Aes, cs, &key, &iv, &pt)[..],
                "{mode:?} {cs:?}"
            );
            let back = a.decrypt_unauthenticated(&k, &iv, got).await.unwrap();
            assert_eq!(back[..], pt[..], "{mode:?} {cs:?}");
        }
        assert_eq!(a.cpu_jobs(), 0, "{mode:?}");
    }
}
