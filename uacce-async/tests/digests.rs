//! Every hash function and its HMAC against published vectors, on emulated v2 and v3 SEC devices and on the CPU
//! backend; long hashes in parts through `Hasher` (first/middle/last BDs) equal to the one-shot digest; device ==
//! CPU on random data.
//!
//! Vectors: FIPS 180-4 examples ("abc", the two-block 448-bit message) as published in NIST's "Example Algorithms"
//! (SHA-1, SHA-224, SHA-384, SHA-512/224, SHA-512/256); RFC 1321 §A.5 (MD5); GB/T 32905-2016 Appendix A (SM3);
//! RFC 2202 (HMAC-MD5, HMAC-SHA-1); RFC 4231 (HMAC-SHA-224/384).

mod common;

use common::emu_v2_v3_and_cpu as backends;
use uacce_testkit::hex;

use uacce_async::{HashAlg, HmacKey};

const ABC_448: &[u8] = b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";

/// (alg, message, digest).
fn hash_vectors() -> Vec<(HashAlg, Vec<u8>, Vec<u8>)> {
    let abc = b"abc".to_vec();
    vec![
        (
            HashAlg::Sm3,
            abc.clone(),
            hex("66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"),
        ),
        (
            HashAlg::Sm3,
            b"abcd".repeat(16),
            hex("debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"),
        ),
        (
            HashAlg::Md5,
            abc.clone(),
            hex("900150983cd24fb0d6963f7d28e17f72"),
        ),
        (
            HashAlg::Md5,
            b"message digest".to_vec(),
            hex("f96b697d7cb7938d525a2f31aaf161d0"),
        ),
        (
            HashAlg::Sha1,
            abc.clone(),
            hex("a9993e364706816aba3e25717850c26c9cd0d89d"),
        ),
        (
            HashAlg::Sha1,
            ABC_448.to_vec(),
            hex("84983e441c3bd26ebaae4aa1f95129e5e54670f1"),
        ),
        (
            HashAlg::Sha224,
            abc.clone(),
            hex("23097d223405d8228642a477bda255b32aadbce4bda0b3f7e36c9da7"),
        ),
        (
            HashAlg::Sha224,
            ABC_448.to_vec(),
            hex("75388b16512776cc5dba5da1fd890150b0c6455cb4f58b1952522525"),
        ),
        (
            HashAlg::Sha384,
            abc.clone(),
            hex(
                "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7",
            ),
        ),
        (
            HashAlg::Sha512_224,
            abc.clone(),
            hex("4634270f707b6a54daae7530460842e20e37ed265ceee9a43e8924aa"),
        ),
        (
            HashAlg::Sha512_256,
            abc,
            hex("53048e2681941ef99b2e29b76b4c7dabe4c2d0c634fc6d46e0e2f13107e7af23"),
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn digests_match_published_vectors() {
    for (name, a) in backends().await {
        for (alg, msg, want) in hash_vectors() {
            let d = a.digest(alg, msg.clone()).await.unwrap();
            assert_eq!(d, want, "{name} {alg:?} one-shot");
            assert_eq!(d.len(), alg.output_len());
            // Through Hasher, byte by byte (short totals: one BD at the end).
            let mut h = a.hasher(alg);
            for b in &msg {
                h.update([*b]).await.unwrap();
            }
            assert_eq!(h.finalize().await.unwrap(), want, "{name} {alg:?} hasher");
        }
    }
}

/// (alg, key, message, mac).
type Case = (HashAlg, Vec<u8>, Vec<u8>, Vec<u8>);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hmacs_match_published_vectors() {
    let jefe_msg = b"what do ya want for nothing?";
    let cases: Vec<Case> = vec![
        // RFC 2202 test cases 1 and 2.
        (
            HashAlg::Md5,
            vec![0x0b; 16],
            b"Hi There".to_vec(),
            hex("9294727a3638bb1c13f48ef8158bfc9d"),
        ),
        (
            HashAlg::Md5,
            b"Jefe".to_vec(),
            jefe_msg.to_vec(),
            hex("750c783e6ab0b503eaa86e310a5db738"),
        ),
        (
            HashAlg::Sha1,
            vec![0x0b; 20],
            b"Hi There".to_vec(),
            hex("b617318655057264e28bc0b6fb378c8ef146be00"),
        ),
        (
            HashAlg::Sha1,
            b"Jefe".to_vec(),
            jefe_msg.to_vec(),
            hex("effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"),
        ),
        // RFC 2202 test case 6: an 80-byte key (hashed first: longer than SHA-1's 64-byte block).
        (
            HashAlg::Sha1,
            vec![0xaa; 80],
            b"Test Using Larger Than Block-Size Key - Hash Key First".to_vec(),
            hex("aa4ae5e15272d00e95705637ce8a3b55ed402112"),
        ),
        // RFC 4231 test case 2.
        (
            HashAlg::Sha224,
            b"Jefe".to_vec(),
            jefe_msg.to_vec(),
            hex("a30e01098bc6dbbf45690f3a7e9e6d0f8bbea2a39e6148008fd05e44"),
        ),
        (
            HashAlg::Sha384,
            b"Jefe".to_vec(),
            jefe_msg.to_vec(),
            hex(
                "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e8e2240ca5e69e2c78b3239ecfab21649",
            ),
        ),
    ];
    for (name, a) in backends().await {
        for (alg, key, msg, want) in &cases {
            let k = HmacKey::new(*alg, key);
            let mac = a.hmac_sign(&k, msg.clone()).await.unwrap();
            assert_eq!(&mac, want, "{name} HMAC {alg:?}");
            a.hmac_verify(&k, msg.clone(), want).await.unwrap();
            let mut bad = want.clone();
            bad[0] ^= 1;
            assert!(a.hmac_verify(&k, msg.clone(), &bad).await.is_err());
        }
    }
}

/// Every hash and HMAC, device (v2, v3) == CPU backend, on random lengths (odd ones, block multiples, 1 byte) and
/// key lengths (empty, odd, one block, longer than a block).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_agree_with_the_cpu_backend() {
    let all = backends().await;
    let (_, cpu) = all.last().unwrap();
    let mut rng = common::Rng::new(0x5EC0_0015);
    for alg in HashAlg::ALL {
        for len in [1usize, 55, 64, 127, 128, 1000, 65537] {
            let data = rng.bytes(len);
            let want = cpu.digest(alg, data.clone()).await.unwrap();
            for klen in [0usize, 3, alg.block_len(), alg.block_len() + 9] {
                let key = rng.bytes(klen);
                let k = HmacKey::new(alg, &key);
                let want_mac = cpu.hmac_sign(&k, data.clone()).await.unwrap();
                assert_eq!(want_mac.len(), alg.output_len());
                for (name, a) in &all[..2] {
                    assert_eq!(
                        a.hmac_sign(&k, data.clone()).await.unwrap(),
                        want_mac,
                        "{name} HMAC {alg:?} len {len} key {klen}"
                    );
                }
            }
            for (name, a) in &all[..2] {
                assert_eq!(
                    a.digest(alg, data.clone()).await.unwrap(),
                    want,
                    "{name} {alg:?} {len}"
                );
            }
        }
    }
}

/// Long hashes: more than one 1 MiB part goes to the device as first/middle/last BDs; the result equals the
/// one-shot digest (CPU) for every hash function, also the ones whose digest is a truncated state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_hashes_in_parts_equal_one_shot() {
    let all = backends().await;
    let (_, cpu) = all.last().unwrap();
    let mut rng = common::Rng::new(15);
    let data = rng.bytes((2 << 20) + 777);
    for alg in HashAlg::ALL {
        let want = cpu.digest(alg, data.clone()).await.unwrap();
        for (name, a) in &all {
            let mut h = a.hasher(alg);
            for chunk in data.chunks(300_000) {
                h.update(chunk).await.unwrap();
            }
            assert_eq!(h.finalize().await.unwrap(), want, "{name} {alg:?}");
        }
    }
}

/// HMAC long hashes: `hmac_hasher` in parts (first BD with the key, middle, last) equals the one-shot HMAC of the
/// CPU backend for every hash function and key lengths of 0, one block and more than a block.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hmac_long_hashes_in_parts_equal_one_shot() {
    let all = backends().await;
    let (_, cpu) = all.last().unwrap();
    let mut rng = common::Rng::new(0x4AC);
    let data = rng.bytes((2 << 20) + 333);
    for alg in HashAlg::ALL {
        for klen in [0usize, alg.block_len(), alg.block_len() + 1] {
            let key = HmacKey::new(alg, &rng.bytes(klen));
            let want = cpu.hmac_sign(&key, data.clone()).await.unwrap();
            for (name, a) in &all {
                let mut h = a.hmac_hasher(&key);
                for chunk in data.chunks(700_000) {
                    h.update(chunk).await.unwrap();
                }
                assert_eq!(
                    h.finalize().await.unwrap(),
                    want,
                    "{name} HMAC {alg:?} key {klen}"
                );
            }
        }
    }
    // RFC 4231 test case 2 through the hasher, byte by byte.
    let key = HmacKey::new(HashAlg::Sha384, b"Jefe");
    for (name, a) in &all {
        let mut h = a.hmac_hasher(&key);
        for b in b"what do ya want for nothing?" {
            h.update([*b]).await.unwrap();
        }
        assert_eq!(
            h.finalize().await.unwrap(),
            hex(
                "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e8e2240ca5e69e2c78b3239ecfab21649"
            ),
            "{name}"
        );
    }
}

/// An HMAC over more than one SEC job (16 MiB) stays on the device, in long-hash parts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hmac_over_one_job_equals_cpu() {
    let all = backends().await;
    let (_, cpu) = all.last().unwrap();
    let data = vec![0xA7u8; (16 << 20) + 5];
    let key = HmacKey::new(HashAlg::Sm3, b"sixteen byte key");
    let want = cpu.hmac_sign(&key, data.clone()).await.unwrap();
    for (name, a) in &all[..2] {
        assert_eq!(
            a.hmac_sign(&key, data.clone()).await.unwrap(),
            want,
            "{name}"
        );
    }
}
