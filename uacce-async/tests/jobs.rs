//! Awaitable jobs on the emulated device in every notification mode, checked against the CPU backend; bad input;
//! incremental hashing.

mod common;

use bytes::Bytes;
use common::*;
use uacce_async::hazmat::{CipherKey, CipherMode, UnauthenticatedCipher};
use uacce_async::*;

const SIZES: [usize; 6] = [0, 1, 4095, 65_536, 1 << 20, 4 << 20];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_algorithm_in_every_mode_matches_the_cpu() {
    let cpu = cpu().await;
    let mut rng = Rng::new(7);
    // Fixed sizes plus random ones up to 4 MiB (fewer under valgrind).
    let mut sizes: Vec<usize> = SIZES.to_vec();
    for _ in 0..3 {
        sizes.push(rng.below(4 << 20) as usize);
    }
    if scaled(100) < 100 {
        sizes.retain(|&s| s <= 65_536);
    }
    let inputs: Vec<Bytes> = sizes.iter().map(|&n| Bytes::from(rng.text(n))).collect();
    let aead = AeadKey::new(&rng.bytes(32)).unwrap();
    let keys = [
        CipherKey::new(CipherMode::Cbc, &rng.bytes(16)).unwrap(),
        CipherKey::new(CipherMode::Ctr, &rng.bytes(32)).unwrap(),
        CipherKey::new(CipherMode::Xts, &rng.bytes(64)).unwrap(),
    ];
    let hkey = HmacKey::new(HashAlg::Sha256, b"a key of no particular length");
    let hkey512 = HmacKey::new(HashAlg::Sha512, &rng.bytes(200));
    let nonce = [9u8; 12];
    let iv = [3u8; 16];

    // CPU reference results, computed once.
    let formats = [Format::Gzip, Format::Zlib, Format::Deflate];
    let mut refs = Vec::new();
    for data in &inputs {
        let mut c = Vec::new();
        for f in formats {
            c.push(cpu.compress(f, data.clone()).await.unwrap());
        }
        let sealed = cpu
            .aes_gcm_seal_with_nonce_unchecked(&aead, &nonce, b"aad", data.clone())
            .await
            .unwrap();
        let mut ciphers = Vec::new();
        for key in &keys {
            let d = cipher_input(key, data);
            let e = match &d {
                Some(d) => Some(
                    cpu.encrypt_unauthenticated(key, &iv, d.clone())
                        .await
                        .unwrap(),
                ),
                None => None,
            };
            ciphers.push((d, e));
        }
        let mut digests = Vec::new();
        for alg in [HashAlg::Sha256, HashAlg::Sha512] {
            digests.push(cpu.digest(alg, data.clone()).await.unwrap());
        }
        let macs = vec![
            cpu.hmac_sign(&hkey, data.clone()).await.unwrap(),
            cpu.hmac_sign(&hkey512, data.clone()).await.unwrap(),
        ];
        refs.push((c, sealed, ciphers, digests, macs));
    }
    // The device's compressed output, checked once by the CPU decoder, must be the same in every mode.
    let mut device_compressed: Vec<Vec<Bytes>> = vec![Vec::new(); inputs.len()];

    for mode in NotifyMode::ALL {
        let accel = emu_default(mode).await;
        assert!(accel.compression_offloaded() && accel.crypto_offloaded());
        for (i, data) in inputs.iter().enumerate() {
            let n = data.len();
            let (ref_c, ref_sealed, ref_ciphers, ref_digests, ref_macs) = &refs[i];
            for (j, format) in formats.into_iter().enumerate() {
                let c = accel.compress(format, data.clone()).await.unwrap();
                match device_compressed[i].get(j) {
                    // The CPU backend (flate2) is an independent decoder of what the device produced...
                    None => {
                        assert_eq!(
                            cpu.decompress(format, c.clone()).await.unwrap(),
                            data,
                            "{mode} {format:?} {n}"
                        );
                        device_compressed[i].push(c);
                    }
                    Some(first) => assert_eq!(&c, first, "{mode} {format:?} {n}"),
                }
                // ...and the device decodes what flate2 produced.
                assert_eq!(
                    accel.decompress(format, ref_c[j].clone()).await.unwrap(),
                    data,
                    "{mode} {format:?} {n}"
                );
            }
            let sealed = accel
                .aes_gcm_seal_with_nonce_unchecked(&aead, &nonce, b"aad", data.clone())
                .await
                .unwrap();
            assert_eq!(&sealed, ref_sealed, "{mode} gcm {n}");
            assert_eq!(
                accel
                    .aes_gcm_open(&aead, &nonce, b"aad", sealed)
                    .await
                    .unwrap(),
                data
            );
            for (key, (d, e_ref)) in keys.iter().zip(ref_ciphers) {
                let (Some(d), Some(e_ref)) = (d, e_ref) else {
                    continue;
                };
                let e = accel
                    .encrypt_unauthenticated(key, &iv, d.clone())
                    .await
                    .unwrap();
                assert_eq!(&e, e_ref, "{mode} {:?} {n}", key.mode());
                assert_eq!(
                    &accel.decrypt_unauthenticated(key, &iv, e).await.unwrap(),
                    d
                );
            }
            for (alg, r) in [HashAlg::Sha256, HashAlg::Sha512]
                .into_iter()
                .zip(ref_digests)
            {
                assert_eq!(
                    &accel.digest(alg, data.clone()).await.unwrap(),
                    r,
                    "{mode} {alg:?} {n}"
                );
            }
            for (k, r) in [&hkey, &hkey512].into_iter().zip(ref_macs) {
                assert_eq!(&accel.hmac_sign(k, data.clone()).await.unwrap(), r);
                accel.hmac_verify(k, data.clone(), r).await.unwrap();
            }
        }
    }
}

/// The part of `data` a cipher mode accepts (CBC: whole blocks; XTS: at least one block).
fn cipher_input(key: &CipherKey, data: &Bytes) -> Option<Bytes> {
    let mut d = data.clone();
    if key.mode() == CipherMode::Cbc {
        d.truncate(d.len() / 16 * 16);
    }
    let ok = match key.mode() {
        CipherMode::Cbc => !d.is_empty(),
        CipherMode::Xts => d.len() >= 16,
        CipherMode::Ctr => true,
        other => panic!("no test input rule for {other:?}"),
    };
    ok.then_some(d)
}

#[tokio::test]
async fn published_vectors() {
    let accel = emu_default(NotifyMode::Eventfd).await;
    let d = accel.digest(HashAlg::Sha256, &b"abc"[..]).await.unwrap();
    assert_eq!(
        hex(&d),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    let k = HmacKey::new(HashAlg::Sha256, b"Jefe");
    let m = accel
        .hmac_sign(&k, &b"what do ya want for nothing?"[..])
        .await
        .unwrap();
    assert_eq!(
        hex(&m),
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[tokio::test]
async fn bad_input_gets_typed_errors() {
    for accel in [emu_default(NotifyMode::Eventfd).await, cpu().await] {
        let data = Rng::new(3).text(100_000);
        let gz = accel.compress(Format::Gzip, data.clone()).await.unwrap();
        // Corrupt: flipped byte in the middle, truncated, garbage, trailing data.
        let mut bad = gz.to_vec();
        bad[gz.len() / 2] ^= 0x55;
        assert!(matches!(
            accel.decompress(Format::Gzip, bad).await,
            Err(Error::CorruptData(_))
        ));
        assert!(matches!(
            accel
                .decompress(Format::Gzip, gz.slice(..gz.len() - 5))
                .await,
            Err(Error::CorruptData(_))
        ));
        assert!(matches!(
            accel.decompress(Format::Zlib, vec![1u8, 2, 3, 4, 5]).await,
            Err(Error::CorruptData(_))
        ));
        assert!(matches!(
            accel.decompress(Format::Gzip, Bytes::new()).await,
            Err(Error::CorruptData(_))
        ));
        let mut trailing = gz.to_vec();
        trailing.extend_from_slice(b"junk");
        assert!(matches!(
            accel.decompress(Format::Gzip, trailing).await,
            Err(Error::CorruptData(_))
        ));
        // A decompression bomb: 64 MiB of zeros against a 1 MiB limit.
        let bomb = accel
            .compress(Format::Deflate, vec![0u8; 64 << 20])
            .await
            .unwrap();
        // A 64 MiB input now compresses on the device too (stream BDs): the emulator's level-1 deflate reaches about
        // 100:1 on zeros (the CPU backend's level 6 about 1000:1).
        assert!(bomb.len() < (64 << 20) / 50, "{} bytes", bomb.len());
        assert!(matches!(
            accel
                .decompress_with_limit(Format::Deflate, bomb.clone(), 1 << 20)
                .await,
            Err(Error::OutputLimit { limit: 1_048_576 })
        ));
        // Exactly at the limit is fine.
        let exact = accel.compress(Format::Zlib, vec![1u8; 4096]).await.unwrap();
        assert_eq!(
            accel
                .decompress_with_limit(Format::Zlib, exact, 4096)
                .await
                .unwrap()
                .len(),
            4096
        );
        // Keys and lengths.
        assert!(matches!(
            AeadKey::new(&[0; 15]),
            Err(Error::InvalidKeyLength { got: 15, .. })
        ));
        assert!(matches!(
            CipherKey::new(CipherMode::Xts, &[0; 16]),
            Err(Error::InvalidKeyLength { .. })
        ));
        let cbc = CipherKey::new(CipherMode::Cbc, &[1; 16]).unwrap();
        assert!(matches!(
            accel
                .encrypt_unauthenticated(&cbc, &[0; 16], vec![0u8; 17])
                .await,
            Err(Error::InvalidLength { got: 17, .. })
        ));
        // Tampering.
        let key = AeadKey::new(&[5; 16]).unwrap();
        let sealed = accel
            .aes_gcm_seal_with_nonce_unchecked(&key, &[1; 12], b"", &b"payload"[..])
            .await
            .unwrap();
        let mut t = sealed.to_vec();
        t[0] ^= 1;
        assert!(matches!(
            accel.aes_gcm_open(&key, &[1; 12], b"", t).await,
            Err(Error::AuthFailed)
        ));
        assert!(matches!(
            accel
                .aes_gcm_open(&key, &[1; 12], b"other aad", sealed.clone())
                .await,
            Err(Error::AuthFailed)
        ));
        assert!(matches!(
            accel
                .aes_gcm_open(&key, &[1; 12], b"", sealed.slice(..10))
                .await,
            Err(Error::AuthFailed)
        ));
        let hk = HmacKey::new(HashAlg::Sha256, b"k");
        assert!(matches!(
            accel.hmac_verify(&hk, &b"data"[..], &[0; 32]).await,
            Err(Error::AuthFailed)
        ));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incremental_digest_over_long_data() {
    let mut rng = Rng::new(11);
    let data = rng.bytes(scaled(5 << 20).max(300_000) + 123);
    for accel in [emu_default(NotifyMode::Eventfd).await, cpu().await] {
        for alg in [HashAlg::Sha256, HashAlg::Sha512] {
            let mut h = accel.hasher(alg);
            let mut pos = 0;
            while pos < data.len() {
                let n = (rng.below(700_000) as usize + 1).min(data.len() - pos);
                h.update(&data[pos..pos + n]).await.unwrap();
                pos += n;
            }
            let got = h.finalize().await.unwrap();
            let expect = uacce_emu::soft::hash(
                match alg {
                    HashAlg::Sha256 => uacce_sys::qm::sec::DigestAlg::Sha256,
                    HashAlg::Sha512 => uacce_sys::qm::sec::DigestAlg::Sha512,
                    other => panic!("no reference digest for {other:?}"),
                },
                &data,
            )
            .unwrap();
            assert_eq!(got, expect, "{alg:?} {}", accel.description());
            // Empty input.
            let empty = accel.hasher(alg).finalize().await.unwrap();
            assert_eq!(empty, accel.digest(alg, Bytes::new()).await.unwrap());
        }
    }
}

#[test]
fn backend_and_mode_names_parse() {
    assert_eq!("emu".parse::<Backend>().unwrap(), Backend::Emulated);
    assert_eq!("HW".parse::<Backend>().unwrap(), Backend::Hardware);
    assert!("gpu".parse::<Backend>().is_err());
    for m in NotifyMode::ALL {
        assert_eq!(m.name().parse::<NotifyMode>().unwrap(), m);
    }
    assert!("poll".parse::<NotifyMode>().is_err());
}
