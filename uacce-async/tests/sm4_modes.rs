//! SM4 (every mode) and AES-OFB/CFB/ECB against published vectors on emulated v2 and v3 SEC devices and the CPU
//! backend, device == CPU on random data, and the routing of modes QM v2 does not do.
//!
//! Vectors: GB/T 32907-2016 Appendix A example 1 (SM4 block); NIST SP 800-38A F.1.1 (ECB-AES128), F.3.13
//! (CFB128-AES128), F.4.1 (OFB-AES128).

mod common;

use common::emu_v2_v3_and_cpu as backends;
use uacce_testkit::hex;

use uacce_async::Error;
use uacce_async::hazmat::{BlockCipher, CipherKey, CipherMode, UnauthenticatedCipher};

const NIST_KEY: &str = "2b7e151628aed2a6abf7158809cf4f3c";
const NIST_IV: &str = "000102030405060708090a0b0c0d0e0f";
const NIST_PT: &str = "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn published_vectors() {
    // (cipher, mode, key, iv, plaintext, ciphertext)
    let sm4 = "0123456789abcdeffedcba9876543210";
    let cases = [
        // GB/T 32907-2016 A.1: plaintext = key.
        (
            BlockCipher::Sm4,
            CipherMode::Ecb,
            sm4,
            NIST_IV,
            sm4,
            "681edf34d206965e86b3e94f536e4246",
        ),
        (
            BlockCipher::Aes,
            CipherMode::Ecb,
            NIST_KEY,
            NIST_IV,
            NIST_PT,
            "3ad77bb40d7a3660a89ecaf32466ef97f5d3d58503b9699de785895a96fdbaaf",
        ),
        (
            BlockCipher::Aes,
            CipherMode::Cfb,
            NIST_KEY,
            NIST_IV,
            NIST_PT,
            "3b3fd92eb72dad20333449f8e83cfb4ac8a64537a0b3a93fcde3cdad9f1ce58b",
        ),
        (
            BlockCipher::Aes,
            CipherMode::Ofb,
            NIST_KEY,
            NIST_IV,
            NIST_PT,
            "3b3fd92eb72dad20333449f8e83cfb4a7789508d16918f03f53c52dac54ed825",
        ),
    ];
    for (name, a) in backends().await {
        for (alg, mode, key, iv, pt, ct) in cases {
            let k = CipherKey::with_cipher(alg, mode, &hex(key)).unwrap();
            let iv: [u8; 16] = hex(iv).try_into().unwrap();
            let got = a.encrypt_unauthenticated(&k, &iv, hex(pt)).await.unwrap();
            assert_eq!(got[..], hex(ct)[..], "{name} {alg:?} {mode:?} encrypt");
            let back = a.decrypt_unauthenticated(&k, &iv, got).await.unwrap();
            assert_eq!(back[..], hex(pt)[..], "{name} {alg:?} {mode:?} decrypt");
            // A stream mode on a prefix: the prefix of the ciphertext.
            if matches!(mode, CipherMode::Ofb | CipherMode::Cfb) {
                let short = a
                    .encrypt_unauthenticated(&k, &iv, hex(pt)[..5].to_vec())
                    .await
                    .unwrap();
                assert_eq!(short[..], hex(ct)[..5], "{name} {mode:?} 5 bytes");
            }
        }
    }
}

/// Every cipher × mode: the emulated devices (v2, v3) give the CPU backend's bytes, on lengths of one block,
/// several blocks, a non-multiple (stream modes and XTS ciphertext stealing) and over 64 KiB.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_agree_with_the_cpu_backend() {
    let all = backends().await;
    let (_, cpu) = all.last().unwrap();
    let mut rng = common::Rng::new(0x5134);
    let modes = [
        CipherMode::Ecb,
        CipherMode::Cbc,
        CipherMode::Ctr,
        CipherMode::Xts,
        CipherMode::Ofb,
        CipherMode::Cfb,
    ];
    for alg in [BlockCipher::Sm4, BlockCipher::Aes] {
        for mode in modes {
            let klen = match (alg, mode) {
                (BlockCipher::Sm4, CipherMode::Xts) => 32,
                (BlockCipher::Sm4, _) => 16,
                (_, CipherMode::Xts) => 64,
                _ => 24,
            };
            let k = CipherKey::with_cipher(alg, mode, &rng.bytes(klen)).unwrap();
            let iv: [u8; 16] = rng.bytes(16).try_into().unwrap();
            for len in [16usize, 48, 100, 70_001] {
                if matches!(mode, CipherMode::Ecb | CipherMode::Cbc) && len % 16 != 0 {
                    let err = cpu.encrypt_unauthenticated(&k, &iv, vec![0u8; len]).await;
                    assert!(
                        matches!(err, Err(Error::InvalidLength { .. })),
                        "{alg:?} {mode:?} {len}"
                    );
                    continue;
                }
                let data = rng.bytes(len);
                let want = cpu
                    .encrypt_unauthenticated(&k, &iv, data.clone())
                    .await
                    .unwrap();
                for (name, a) in &all[..2] {
                    let got = a
                        .encrypt_unauthenticated(&k, &iv, data.clone())
                        .await
                        .unwrap();
                    assert_eq!(got, want, "{name} {alg:?} {mode:?} {len}");
                    let back = a.decrypt_unauthenticated(&k, &iv, got).await.unwrap();
                    assert_eq!(back[..], data[..], "{name} {alg:?} {mode:?} {len} decrypt");
                }
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sm4_keys_are_checked() {
    assert!(matches!(
        CipherKey::sm4(CipherMode::Ctr, &[1u8; 24]),
        Err(Error::InvalidKeyLength { got: 24, .. })
    ));
    assert!(matches!(
        CipherKey::sm4(CipherMode::Xts, &[1u8; 64]),
        Err(Error::InvalidKeyLength { got: 64, .. })
    ));
    assert!(matches!(
        CipherKey::sm4(CipherMode::Xts, &[1u8; 32]),
        Err(Error::InvalidParameter(_))
    ));
    let k = CipherKey::sm4(CipherMode::Ecb, &[1u8; 16]).unwrap();
    assert_eq!((k.cipher(), k.mode()), (BlockCipher::Sm4, CipherMode::Ecb));
    let a = common::cpu().await;
    assert!(matches!(
        a.encrypt_unauthenticated(&k, &[0; 16], vec![0u8; 17]).await,
        Err(Error::InvalidLength { alg: "SM4-ECB", .. })
    ));
}
