//! The misuse-resistant parts of the API: nonces that seal once and never wrap, detached tags.

mod common;

use std::collections::HashSet;

use bytes::Bytes;
use common::*;
use uacce_async::*;

#[test]
fn a_nonce_sequence_never_repeats_and_refuses_to_wrap() {
    let mut seq = NonceSequence::new(*b"abcd");
    let mut seen = HashSet::new();
    for i in 0..1000u64 {
        let n = seq.advance().unwrap();
        assert_eq!(&n.as_bytes()[..4], b"abcd");
        assert_eq!(n.as_bytes()[4..], i.to_be_bytes());
        assert!(seen.insert(*n.as_bytes()), "nonce {i} repeated");
    }
    assert_eq!(seq.next_counter(), Some(1000));

    // The last two counter values are given once each, then every later call fails: no wrap to 0.
    let mut end = NonceSequence::starting_at(*b"abcd", u64::MAX - 1);
    assert_eq!(
        end.advance().unwrap().as_bytes()[4..],
        (u64::MAX - 1).to_be_bytes()
    );
    assert_eq!(
        end.advance().unwrap().as_bytes()[4..],
        u64::MAX.to_be_bytes()
    );
    assert_eq!(end.next_counter(), None);
    for _ in 0..3 {
        assert!(matches!(end.advance(), Err(Error::NoncesExhausted)));
    }
}

#[test]
fn random_nonces_differ() {
    let seen: HashSet<[u8; NONCE_LEN]> = (0..1000)
        .map(|_| *Nonce::random().unwrap().as_bytes())
        .collect();
    assert_eq!(seen.len(), 1000);
}

/// On the emulated device and on the CPU: a detached seal is the attached seal split in two, both open, and a
/// change to the ciphertext, the tag, the AAD or the nonce is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn detached_tags_round_trip_and_reject_tampering() {
    let key = AeadKey::new(&[0x5a; 32]).unwrap();
    for accel in [emu_default(NotifyMode::Eventfd).await, cpu().await] {
        for len in [0usize, 1, 16, 4097] {
            let plain = Bytes::from((0..len).map(|i| i as u8).collect::<Vec<_>>());
            let nonce = Nonce::random().unwrap();
            let n = *nonce.as_bytes();
            let (ct, tag) = accel
                .aes_gcm_seal_detached(&key, nonce, b"aad", plain.clone())
                .await
                .unwrap();
            assert_eq!(ct.len(), len);
            // The same as the attached form with that nonce.
            let attached = accel
                .aes_gcm_seal_with_nonce_unchecked(&key, &n, b"aad", plain.clone())
                .await
                .unwrap();
            assert_eq!(attached[..len], ct[..]);
            assert_eq!(attached[len..], tag[..]);
            let open = |ct: Bytes, tag: Tag, aad: &'static [u8], n: [u8; 12]| {
                let (accel, key) = (accel.clone(), key.clone());
                async move { accel.aes_gcm_open_detached(&key, &n, aad, ct, &tag).await }
            };
            assert_eq!(open(ct.clone(), tag, b"aad", n).await.unwrap(), plain);
            let mut bad_tag = tag;
            bad_tag[0] ^= 0x80;
            assert!(matches!(
                open(ct.clone(), bad_tag, b"aad", n).await,
                Err(Error::AuthFailed)
            ));
            assert!(matches!(
                open(ct.clone(), tag, b"aaD", n).await,
                Err(Error::AuthFailed)
            ));
            let mut bad_n = n;
            bad_n[11] ^= 1;
            assert!(matches!(
                open(ct.clone(), tag, b"aad", bad_n).await,
                Err(Error::AuthFailed)
            ));
            if len > 0 {
                let mut bad_ct = ct.to_vec();
                bad_ct[len - 1] ^= 1;
                assert!(matches!(
                    open(bad_ct.into(), tag, b"aad", n).await,
                    Err(Error::AuthFailed)
                ));
            }
        }
    }
}

/// Without uacce devices (this test's machines have no `/sys/class/uacce`), `Backend::Hardware` fails with a
/// typed kind and the `uacce-sys` error as its source.
#[tokio::test]
async fn a_missing_uacce_class_is_a_typed_error_with_its_source() {
    let class = std::path::Path::new("/sys/class/uacce");
    let built = Accel::builder().backend(Backend::Hardware).build().await;
    if class.exists() {
        // A machine with uacce: the build may succeed; if it fails, the error is still a typed device error.
        if let Err(e) = built {
            assert!(e.device_kind().is_some(), "{e:?}");
        }
        return;
    }
    let err = built.unwrap_err();
    assert_eq!(err.device_kind(), Some(DeviceErrorKind::Missing), "{err:?}");
    let source = std::error::Error::source(&err).expect("a source");
    assert!(source.to_string().contains("modprobe"), "{source}");
    let cause = err.device_cause().expect("a cause");
    assert!(matches!(
        cause.downcast_ref::<uacce_sys::sysfs::SysfsError>(),
        Some(uacce_sys::sysfs::SysfsError::NoClass { .. })
    ));
    assert_eq!(
        std::io::Error::from(err).kind(),
        std::io::ErrorKind::NotFound
    );
}
