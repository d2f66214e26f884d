//! RustCrypto vs ring vs aws-lc-rs: AES-256-GCM seal, AES-256-CBC and AES-256-CTR encryption, SHA-256, SHA-512 and
//! HMAC-SHA256, at 64 B, 1 KiB, 16 KiB and 64 KiB, in GB/s of input (best of 5 runs of ~0.2 s each, one thread).
//! ring has no CBC/CTR; none of the three but RustCrypto has XTS, so XTS is not compared.

use std::hint::black_box;
use std::time::{Duration, Instant};

const SIZES: [usize; 4] = [64, 1024, 16 << 10, 64 << 10];
const KEY: [u8; 32] = [0x42; 32];
const IV: [u8; 16] = [7; 16];

/// GB/s of `f` over `len`-byte inputs: the best of 5 runs of about 0.2 s.
fn rate(len: usize, mut f: impl FnMut()) -> f64 {
    let mut best = 0f64;
    for _ in 0..5 {
        let t = Instant::now();
        let mut n = 0u64;
        while t.elapsed() < Duration::from_millis(200) {
            for _ in 0..16 {
                f();
            }
            n += 16;
        }
        best = best.max(n as f64 * len as f64 / t.elapsed().as_secs_f64() / 1e9);
    }
    best
}

fn row(name: &str, lib: &str, f: impl Fn(usize) -> f64) {
    print!("{name:<14} {lib:<11}");
    for &s in &SIZES {
        print!(" {:>9.2}", f(s));
    }
    println!();
}

fn main() {
    print!("{:<14} {:<11}", "GB/s", "crate");
    for s in SIZES {
        print!(
            " {:>9}",
            if s >= 1024 {
                format!("{} KiB", s >> 10)
            } else {
                format!("{s} B")
            }
        );
    }
    println!();

    // AES-256-GCM seal (in place, detached tag).
    row("aes-256-gcm", "rustcrypto", |len| {
        use aes_gcm::aead::{AeadInPlace, KeyInit};
        let c = aes_gcm::Aes256Gcm::new_from_slice(&KEY).unwrap();
        let mut buf = vec![1u8; len];
        rate(len, || {
            black_box(
                c.encrypt_in_place_detached((&IV[..12]).into(), b"", &mut buf)
                    .unwrap(),
            );
        })
    });
    row("aes-256-gcm", "ring", |len| {
        use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
        let k = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &KEY).unwrap());
        let mut buf = vec![1u8; len];
        rate(len, || {
            let n = Nonce::assume_unique_for_key(IV[..12].try_into().unwrap());
            black_box(
                k.seal_in_place_separate_tag(n, Aad::empty(), &mut buf)
                    .unwrap(),
            );
        })
    });
    row("aes-256-gcm", "aws-lc-rs", |len| {
        use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
        let k = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &KEY).unwrap());
        let mut buf = vec![1u8; len];
        rate(len, || {
            let n = Nonce::assume_unique_for_key(IV[..12].try_into().unwrap());
            black_box(
                k.seal_in_place_separate_tag(n, Aad::empty(), &mut buf)
                    .unwrap(),
            );
        })
    });

    // AES-256-CBC encrypt (no padding: whole blocks).
    row("aes-256-cbc", "rustcrypto", |len| {
        use cbc::cipher::{BlockEncryptMut, KeyIvInit, block_padding::NoPadding};
        let mut buf = vec![1u8; len];
        rate(len, || {
            let e = cbc::Encryptor::<aes::Aes256>::new((&KEY).into(), (&IV).into());
            black_box(e.encrypt_padded_mut::<NoPadding>(&mut buf, len).unwrap());
        })
    });
    row("aes-256-cbc", "aws-lc-rs", |len| {
        use aws_lc_rs::cipher::{AES_256, EncryptingKey, EncryptionContext, UnboundCipherKey};
        let k = EncryptingKey::cbc(UnboundCipherKey::new(&AES_256, &KEY).unwrap()).unwrap();
        let mut buf = vec![1u8; len];
        rate(len, || {
            let ctx = EncryptionContext::Iv128(IV.into());
            black_box(k.less_safe_encrypt(&mut buf, ctx).unwrap());
        })
    });

    // AES-256-CTR.
    row("aes-256-ctr", "rustcrypto", |len| {
        use ctr::cipher::{KeyIvInit, StreamCipher};
        let mut buf = vec![1u8; len];
        rate(len, || {
            let mut c = ctr::Ctr128BE::<aes::Aes256>::new((&KEY).into(), (&IV).into());
            c.apply_keystream(&mut buf);
            black_box(&buf);
        })
    });
    row("aes-256-ctr", "aws-lc-rs", |len| {
        use aws_lc_rs::cipher::{AES_256, EncryptingKey, EncryptionContext, UnboundCipherKey};
        let k = EncryptingKey::ctr(UnboundCipherKey::new(&AES_256, &KEY).unwrap()).unwrap();
        let mut buf = vec![1u8; len];
        rate(len, || {
            let ctx = EncryptionContext::Iv128(IV.into());
            black_box(k.less_safe_encrypt(&mut buf, ctx).unwrap());
        })
    });

    // SHA-256, SHA-512.
    let data = vec![3u8; 64 << 10];
    row("sha-256", "rustcrypto", |len| {
        use sha2::Digest;
        rate(len, || {
            black_box(sha2::Sha256::digest(&data[..len]));
        })
    });
    row("sha-256", "ring", |len| {
        rate(len, || {
            black_box(ring::digest::digest(&ring::digest::SHA256, &data[..len]));
        })
    });
    row("sha-256", "aws-lc-rs", |len| {
        rate(len, || {
            black_box(aws_lc_rs::digest::digest(
                &aws_lc_rs::digest::SHA256,
                &data[..len],
            ));
        })
    });
    row("sha-512", "rustcrypto", |len| {
        use sha2::Digest;
        rate(len, || {
            black_box(sha2::Sha512::digest(&data[..len]));
        })
    });
    row("sha-512", "ring", |len| {
        rate(len, || {
            black_box(ring::digest::digest(&ring::digest::SHA512, &data[..len]));
        })
    });
    row("sha-512", "aws-lc-rs", |len| {
        rate(len, || {
            black_box(aws_lc_rs::digest::digest(
                &aws_lc_rs::digest::SHA512,
                &data[..len],
            ));
        })
    });

    // HMAC-SHA256 (key set up once, as the library's HmacKey does).
    row("hmac-sha256", "rustcrypto", |len| {
        use hmac::{Hmac, Mac};
        let m = <Hmac<sha2::Sha256> as Mac>::new_from_slice(&KEY).unwrap();
        rate(len, || {
            let mut m = m.clone();
            m.update(&data[..len]);
            black_box(m.finalize().into_bytes());
        })
    });
    row("hmac-sha256", "ring", |len| {
        let k = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &KEY);
        rate(len, || {
            black_box(ring::hmac::sign(&k, &data[..len]));
        })
    });
    row("hmac-sha256", "aws-lc-rs", |len| {
        let k = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &KEY);
        rate(len, || {
            black_box(aws_lc_rs::hmac::sign(&k, &data[..len]));
        })
    });
}
