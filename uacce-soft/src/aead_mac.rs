//! The software SEC engines for CCM, SM4-GCM and the AES MACs: AES-CCM and SM4-CCM (RFC 3610 / NIST SP 800-38C,
//! the `ccm` crate), GCM with AES or SM4 (`aes-gcm` over `aes` or `sm4`; RFC 8998 for SM4), AES-CMAC (RFC 4493 /
//! NIST SP 800-38B, the `cmac` crate), AES-GMAC (GCM with an empty plaintext, NIST SP 800-38D) and
//! AES-XCBC-MAC-96 (RFC 3566; no maintained crate implements it, so it is written here on the `aes` block cipher,
//! checked against RFC 3566's test cases). The emulated SEC device and `uacce-async`'s CPU backend run the same
//! functions.

use aes::cipher::generic_array::GenericArray;
use aes::cipher::{BlockEncrypt, KeyInit, KeyIvInit, StreamCipher};
use aes::{Aes128, Aes192, Aes256};
use aes_gcm::aead::AeadInPlace;
use aes_gcm::aead::consts::{U4, U6, U7, U8, U9, U10, U11, U12, U13, U14, U16};
use cmac::Mac;
use subtle::ConstantTimeEq;
use uacce_sys::qm::sec::CipherAlg;
use zeroize::Zeroizing;

use crate::sec::{SoftError, with_block_cipher};

const U: SoftError = SoftError::Unsupported;

/// Whether `(nonce_len, tag_len)` are valid CCM parameters: a nonce of 7..=13 bytes (L = 15 − nonce = 2..=8) and a
/// tag of 4, 6, …, 16 bytes (RFC 3610 §2, NIST SP 800-38C A.1).
pub const fn ccm_params_ok(nonce_len: usize, tag_len: usize) -> bool {
    nonce_len >= 7 && nonce_len <= 13 && tag_len >= 4 && tag_len <= 16 && tag_len.is_multiple_of(2)
}

/// Whether `payload_len` fits CCM's length field for a nonce of `nonce_len` bytes (L = 15 − nonce bytes).
pub const fn ccm_payload_fits(nonce_len: usize, payload_len: u64) -> bool {
    let l = 15 - nonce_len;
    l >= 8 || payload_len >> (8 * l) == 0
}

/// Run `$body` with `$A` bound to `ccm::Ccm<$C, tag, nonce>` for runtime tag (4, 6, …, 16) and nonce (7..=13)
/// lengths.
macro_rules! with_ccm {
    ($C:ty, $tag:expr, $nonce:expr, $A:ident, $body:block) => {
        with_ccm!(
            @tag $C, $tag, $nonce, $A, $body,
            [4 U4, 6 U6, 8 U8, 10 U10, 12 U12, 14 U14, 16 U16]
        )
    };
    (@tag $C:ty, $tag:expr, $nonce:expr, $A:ident, $body:block, [$($t:literal $M:ty),*]) => {
        match $tag {
            $($t => with_ccm!(
                @nonce $C, $M, $nonce, $A, $body,
                [7 U7, 8 U8, 9 U9, 10 U10, 11 U11, 12 U12, 13 U13]
            ),)*
            _ => Err(U),
        }
    };
    (@nonce $C:ty, $M:ty, $nonce:expr, $A:ident, $body:block, [$($n:literal $N:ty),*]) => {
        match $nonce {
            $($n => {
                type $A = ccm::Ccm<$C, $M, $N>;
                $body
            })*
            _ => Err(U),
        }
    };
}

/// CCM seal in place (AES with a 16/24/32-byte key, SM4 with 16): `buf` becomes the ciphertext and `tag.len()`
/// bytes of tag (4..=16, even) are written. Nonce 7..=13 bytes; the payload must fit the length field.
pub fn ccm_seal(
    alg: CipherAlg,
    key: &[u8],
    nonce: &[u8],
    aad: &[u8],
    buf: &mut [u8],
    tag: &mut [u8],
) -> Result<(), SoftError> {
    if !ccm_params_ok(nonce.len(), tag.len()) || !ccm_payload_fits(nonce.len(), buf.len() as u64) {
        return Err(U);
    }
    with_block_cipher!(alg, key.len(), C, {
        with_ccm!(C, tag.len(), nonce.len(), A, {
            let aead = A::new_from_slice(key).map_err(|_| U)?;
            let t = aead
                .encrypt_in_place_detached(GenericArray::from_slice(nonce), aad, buf)
                .map_err(|_| U)?;
            tag.copy_from_slice(&t);
            Ok(())
        })
    })
}

/// CCM open in place; the tag is checked in constant time (by the `ccm` crate). On a mismatch
/// ([`SoftError::AuthFailed`]) `buf` is left unchanged.
pub fn ccm_open(
    alg: CipherAlg,
    key: &[u8],
    nonce: &[u8],
    aad: &[u8],
    buf: &mut [u8],
    tag: &[u8],
) -> Result<(), SoftError> {
    if !ccm_params_ok(nonce.len(), tag.len()) || !ccm_payload_fits(nonce.len(), buf.len() as u64) {
        return Err(U);
    }
    with_block_cipher!(alg, key.len(), C, {
        with_ccm!(C, tag.len(), nonce.len(), A, {
            let aead = A::new_from_slice(key).map_err(|_| U)?;
            let mut work = buf.to_vec();
            aead.decrypt_in_place_detached(
                GenericArray::from_slice(nonce),
                aad,
                &mut work,
                GenericArray::from_slice(tag),
            )
            .map_err(|_| SoftError::AuthFailed)?;
            buf.copy_from_slice(&work);
            Ok(())
        })
    })
}

/// GCM seal in place with AES or SM4 and a 12-byte IV; writes `tag.len()` (4..=16) bytes of tag
/// ([`crate::sec::gcm_seal`] is its AES case).
pub fn gcm_seal(
    alg: CipherAlg,
    key: &[u8],
    iv: &[u8],
    aad: &[u8],
    buf: &mut [u8],
    tag: &mut [u8],
) -> Result<(), SoftError> {
    if iv.len() != 12 || !(4..=16).contains(&tag.len()) {
        return Err(U);
    }
    with_block_cipher!(alg, key.len(), C, {
        let aead = aes_gcm::AesGcm::<C, U12>::new_from_slice(key).map_err(|_| U)?;
        let full = aead
            .encrypt_in_place_detached(GenericArray::from_slice(iv), aad, buf)
            .map_err(|_| U)?;
        let n = tag.len();
        tag.copy_from_slice(&full[..n]);
        Ok(())
    })
}

/// GCM open in place with AES or SM4, a 12-byte IV and a tag of 4..=16 bytes, compared in constant time. On a
/// mismatch `buf` is left unchanged.
pub fn gcm_open(
    alg: CipherAlg,
    key: &[u8],
    iv: &[u8],
    aad: &[u8],
    buf: &mut [u8],
    tag: &[u8],
) -> Result<(), SoftError> {
    if iv.len() != 12 || !(4..=16).contains(&tag.len()) {
        return Err(U);
    }
    with_block_cipher!(alg, key.len(), C, {
        let aead = aes_gcm::AesGcm::<C, U12>::new_from_slice(key).map_err(|_| U)?;
        // For a 96-bit IV GCM's keystream is CTR from IV ‖ 00000002 (32-bit counter): recover the plaintext,
        // recompute the full tag over it and compare its first tag.len() bytes (every length 4..=16).
        let mut plain = buf.to_vec();
        let mut ctr_iv = [0u8; 16];
        ctr_iv[..12].copy_from_slice(iv);
        ctr_iv[15] = 2;
        ctr::Ctr32BE::<C>::new_from_slices(key, &ctr_iv)
            .map_err(|_| U)?
            .apply_keystream(&mut plain);
        let mut check = plain.clone();
        let full = aead
            .encrypt_in_place_detached(GenericArray::from_slice(iv), aad, &mut check)
            .map_err(|_| U)?;
        if !bool::from(full[..tag.len()].ct_eq(tag)) {
            return Err(SoftError::AuthFailed);
        }
        buf.copy_from_slice(&plain);
        Ok(())
    })
}

/// AES-GMAC (NIST SP 800-38D: GCM over `aad` with an empty plaintext), 12-byte IV, full 16-byte tag.
pub fn gmac(key: &[u8], iv: &[u8], aad: &[u8]) -> Result<[u8; 16], SoftError> {
    let mut tag = [0u8; 16];
    gcm_seal(CipherAlg::Aes, key, iv, aad, &mut [], &mut tag)?;
    Ok(tag)
}

/// AES-CMAC (RFC 4493, NIST SP 800-38B) with a 16, 24 or 32-byte key: the full 16-byte tag.
pub fn cmac(key: &[u8], data: &[u8]) -> Result<[u8; 16], SoftError> {
    fn run<C>(key: &[u8], data: &[u8]) -> Result<[u8; 16], SoftError>
    where
        C: aes::cipher::BlockCipher
            + BlockEncrypt
            + KeyInit
            + Clone
            + aes::cipher::BlockSizeUser<BlockSize = aes::cipher::consts::U16>,
        cmac::Cmac<C>: Mac + KeyInit,
    {
        let mut m = <cmac::Cmac<C> as KeyInit>::new_from_slice(key).map_err(|_| U)?;
        m.update(data);
        let mut out = [0u8; 16];
        out.copy_from_slice(&m.finalize().into_bytes());
        Ok(out)
    }
    match key.len() {
        16 => run::<Aes128>(key, data),
        24 => run::<Aes192>(key, data),
        32 => run::<Aes256>(key, data),
        _ => Err(U),
    }
}

/// AES-XCBC-MAC with a 16-byte key (RFC 3566 §4): the full 16-byte value; AES-XCBC-MAC-96 is its first 12 bytes
/// ([`xcbc_mac_96`]).
pub fn xcbc_mac(key: &[u8], data: &[u8]) -> Result<[u8; 16], SoftError> {
    let k = Aes128::new_from_slice(key).map_err(|_| U)?;
    // K1, K2, K3 = E(K, 0x01…), E(K, 0x02…), E(K, 0x03…).
    let derive = |c: u8| {
        let mut b = GenericArray::from([c; 16]);
        k.encrypt_block(&mut b);
        Zeroizing::new(<[u8; 16]>::from(b))
    };
    let (k1, k2, k3) = (derive(1), derive(2), derive(3));
    let c1 = Aes128::new_from_slice(&k1[..]).map_err(|_| U)?;
    let mut e = GenericArray::from([0u8; 16]);
    // Every block but the last is chained with K1; the last (possibly empty or partial) block is XORed with K2
    // when it is complete, else padded with 10* and XORed with K3.
    let last_start = if data.is_empty() {
        0
    } else {
        (data.len() - 1) / 16 * 16
    };
    for block in data[..last_start].chunks_exact(16) {
        for (x, m) in e.iter_mut().zip(block) {
            *x ^= m;
        }
        c1.encrypt_block(&mut e);
    }
    let last = &data[last_start..];
    let (mut m, mask) = ([0u8; 16], if last.len() == 16 { &k2 } else { &k3 });
    m[..last.len()].copy_from_slice(last);
    if last.len() < 16 {
        m[last.len()] = 0x80;
    }
    for ((x, m), k) in e.iter_mut().zip(m).zip(mask.iter()) {
        *x ^= m ^ k;
    }
    c1.encrypt_block(&mut e);
    Ok(e.into())
}

/// AES-XCBC-MAC-96 (RFC 3566): the first 12 bytes of [`xcbc_mac`].
pub fn xcbc_mac_96(key: &[u8], data: &[u8]) -> Result<[u8; 12], SoftError> {
    let full = xcbc_mac(key, data)?;
    let mut out = [0u8; 12];
    out.copy_from_slice(&full[..12]);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// RFC 3566 §4.6, test cases 1..7 (key 000102…0f).
    #[test]
    fn xcbc_rfc3566_vectors() {
        let key = h("000102030405060708090a0b0c0d0e0f");
        let seq = |n: usize| (0..n).map(|i| i as u8).collect::<Vec<u8>>();
        let cases: [(Vec<u8>, &str); 7] = [
            (vec![], "75f0251d528ac01c4573dfd584d79f29"),
            (seq(3), "5b376580ae2f19afe7219ceef172756f"),
            (seq(16), "d2a246fa349b68a79998a4394ff7a263"),
            (seq(20), "47f51b4564966215b8985c63055ed308"),
            (seq(32), "f54f0ec8d2b9f3d36807734bd5283fd4"),
            (seq(34), "becbb3bccdb518a30677d5481fb6b4d8"),
            (vec![0u8; 1000], "f0dafee895db30253761103b5d84528f"),
        ];
        for (msg, mac) in cases {
            let mac = h(mac);
            assert_eq!(
                xcbc_mac(&key, &msg).unwrap()[..],
                mac[..],
                "len {}",
                msg.len()
            );
            assert_eq!(xcbc_mac_96(&key, &msg).unwrap()[..], mac[..12]);
        }
        assert_eq!(xcbc_mac(&[0u8; 24], b"x"), Err(SoftError::Unsupported));
    }

    /// RFC 3610 packet vector #1 (AES-128, 13-byte nonce, 8-byte tag, 8 bytes of AAD).
    #[test]
    fn ccm_rfc3610_vector_1() {
        let key = h("c0c1c2c3c4c5c6c7c8c9cacbcccdcecf");
        let nonce = h("00000003020100a0a1a2a3a4a5");
        let input = h("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e");
        let (aad, pt) = input.split_at(8);
        let mut buf = pt.to_vec();
        let mut tag = [0u8; 8];
        ccm_seal(CipherAlg::Aes, &key, &nonce, aad, &mut buf, &mut tag).unwrap();
        let expect = h("588c979a61c663d2f066d0c2c0f989806d5f6b61dac38417e8d12cfdf926e0");
        assert_eq!([&buf[..], &tag[..]].concat(), expect);
        ccm_open(CipherAlg::Aes, &key, &nonce, aad, &mut buf, &tag).unwrap();
        assert_eq!(buf, pt);
        let mut bad = tag;
        bad[0] ^= 1;
        let mut ct = expect[..23].to_vec();
        assert_eq!(
            ccm_open(CipherAlg::Aes, &key, &nonce, aad, &mut ct, &bad),
            Err(SoftError::AuthFailed)
        );
        assert_eq!(
            ct,
            expect[..23],
            "a failed open leaves the buffer as it was"
        );
    }

    /// RFC 8998 appendix A.1 (SM4-GCM) and A.2 (SM4-CCM).
    #[test]
    fn sm4_rfc8998_vectors() {
        let key = h("0123456789abcdeffedcba9876543210");
        let iv = h("00001234567800000000abcd");
        let aad = h("feedfacedeadbeeffeedfacedeadbeefabaddad2");
        let pt = h(concat!(
            "aaaaaaaaaaaaaaaabbbbbbbbbbbbbbbbccccccccccccccccdddddddddddddddd",
            "eeeeeeeeeeeeeeeeffffffffffffffffeeeeeeeeeeeeeeeeaaaaaaaaaaaaaaaa"
        ));
        let mut buf = pt.clone();
        let mut tag = [0u8; 16];
        gcm_seal(CipherAlg::Sm4, &key, &iv, &aad, &mut buf, &mut tag).unwrap();
        assert_eq!(
            buf,
            h(concat!(
                "17f399f08c67d5ee19d0dc9969c4bb7d5fd46fd3756489069157b282bb200735",
                "d82710ca5c22f0ccfa7cbf93d496ac15a56834cbcf98c397b4024a2691233b8d"
            ))
        );
        assert_eq!(tag[..], h("83de3541e4c2b58177e065a9bf7b62ec")[..]);
        gcm_open(CipherAlg::Sm4, &key, &iv, &aad, &mut buf, &tag).unwrap();
        assert_eq!(buf, pt);

        let mut buf = pt.clone();
        ccm_seal(CipherAlg::Sm4, &key, &iv, &aad, &mut buf, &mut tag).unwrap();
        assert_eq!(
            buf,
            h(concat!(
                "48af93501fa62adbcd414cce6034d895dda1bf8f132f042098661572e7483094",
                "fd12e518ce062c98acee28d95df4416bed31a2f04476c18bb40c84a74b97dc5b"
            ))
        );
        assert_eq!(tag[..], h("16842d4fa186f56ab33256971fa110f4")[..]);
        ccm_open(CipherAlg::Sm4, &key, &iv, &aad, &mut buf, &tag).unwrap();
        assert_eq!(buf, pt);
    }

    /// RFC 4493 §4 examples 1 and 2 (AES-128-CMAC), and GMAC = GCM with an empty plaintext.
    #[test]
    fn cmac_rfc4493_and_gmac() {
        let key = h("2b7e151628aed2a6abf7158809cf4f3c");
        assert_eq!(
            cmac(&key, b"").unwrap()[..],
            h("bb1d6929e95937287fa37d129b756746")[..]
        );
        assert_eq!(
            cmac(&key, &h("6bc1bee22e409f96e93d7e117393172a")).unwrap()[..],
            h("070a16b46b4d4144f79bdd9dd04a287c")[..]
        );
        assert_eq!(cmac(&[0u8; 20], b"x"), Err(SoftError::Unsupported));
        // NIST GCM test case 1 (zero key, zero IV, nothing): the tag is GMAC of the empty AAD.
        assert_eq!(
            gmac(&[0u8; 16], &[0u8; 12], b"").unwrap()[..],
            h("58e2fccefa7e3061367f1d57a4e7455a")[..]
        );
    }

    #[test]
    fn ccm_parameter_rules() {
        assert!(ccm_params_ok(7, 4) && ccm_params_ok(13, 16));
        assert!(!ccm_params_ok(6, 16) && !ccm_params_ok(14, 16) && !ccm_params_ok(12, 5));
        assert!(!ccm_params_ok(12, 2) && !ccm_params_ok(12, 18));
        assert!(ccm_payload_fits(13, 0xFFFF) && !ccm_payload_fits(13, 0x1_0000));
        assert!(ccm_payload_fits(7, u64::MAX));
        let mut tag = [0u8; 5];
        assert_eq!(
            ccm_seal(CipherAlg::Aes, &[0; 16], &[0; 12], b"", &mut [], &mut tag),
            Err(SoftError::Unsupported)
        );
    }
}
