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

fn send<T: Send>(t: T) -> T {
    t
}

/// Every job future is `Send` (checked at compile time: `send` takes only `Send` values), so jobs can be
/// awaited inside `tokio::spawn`; then each runs once on the CPU backend.
#[tokio::test]
async fn job_futures_are_send() {
    fn shared<T: Send + Sync + Clone + 'static>() {}
    shared::<Accel>();
    shared::<Error>();
    shared::<AeadKey>();
    shared::<HmacKey>();
    shared::<hazmat::CipherKey>();
    fn owned<T: Send + 'static>() {}
    owned::<Hasher>();
    owned::<StreamCompressor>();
    owned::<Nonce>();
    owned::<NonceSequence>();
    owned::<bufread::Encoder<&'static [u8]>>();
    owned::<bufread::Decoder<&'static [u8]>>();
    owned::<write::Encoder<Vec<u8>>>();
    owned::<write::Decoder<Vec<u8>>>();

    use hazmat::UnauthenticatedCipher;
    let accel = send(Accel::builder().backend(Backend::Cpu).build())
        .await
        .unwrap();
    let key = AeadKey::new(&[1; 16]).unwrap();
    let hkey = HmacKey::new(HashAlg::Sha256, b"k");
    let ckey = hazmat::CipherKey::new(hazmat::CipherMode::Ctr, &[2; 16]).unwrap();
    let data = Bytes::from_static(b"data");

    let gz = send(accel.compress(Format::Gzip, data.clone()))
        .await
        .unwrap();
    send(accel.decompress(Format::Gzip, gz.clone()))
        .await
        .unwrap();
    send(accel.decompress_with_limit(Format::Gzip, gz.clone(), 100))
        .await
        .unwrap();
    send(accel.decompress_first_member(Format::Gzip, gz))
        .await
        .unwrap();
    let nonce = Nonce::random().unwrap();
    let n = *nonce.as_bytes();
    let sealed = send(accel.aes_gcm_seal(&key, nonce, b"", data.clone()))
        .await
        .unwrap();
    send(accel.aes_gcm_open(&key, &n, b"", sealed))
        .await
        .unwrap();
    let nonce = Nonce::random().unwrap();
    let n2 = *nonce.as_bytes();
    let (ct, tag) = send(accel.aes_gcm_seal_detached(&key, nonce, b"", data.clone()))
        .await
        .unwrap();
    send(accel.aes_gcm_open_detached(&key, &n2, b"", ct, &tag))
        .await
        .unwrap();
    send(accel.aes_gcm_seal_with_nonce_unchecked(&key, &n, b"", data.clone()))
        .await
        .unwrap();
    let ct = send(accel.encrypt_unauthenticated(&ckey, &[0; 16], data.clone()))
        .await
        .unwrap();
    send(accel.decrypt_unauthenticated(&ckey, &[0; 16], ct))
        .await
        .unwrap();
    send(accel.digest(HashAlg::Sha256, data.clone()))
        .await
        .unwrap();
    let mac = send(accel.hmac_sign(&hkey, data.clone())).await.unwrap();
    send(accel.hmac_verify(&hkey, data.clone(), &mac))
        .await
        .unwrap();
    let mut h = accel.hasher(HashAlg::Sha512);
    send(h.update(&data)).await.unwrap();
    send(h.finalize()).await.unwrap();
    let c = StreamCompressor::new(&accel, Format::Zlib).unwrap();
    send(c.compress(data, Flush::Finish)).await.1.unwrap();
    let _ = send(accel.nop()).await;
}

/// `offloaded` says where each kind of job runs, checked against the emulated SEC device's job counter: AES-CTR
/// on QM v2 queues goes to the CPU, the other SEC kinds to the device.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offloaded_matches_where_each_kind_of_job_runs() {
    use hazmat::{CipherKey, CipherMode, UnauthenticatedCipher};
    use uacce_sys::qm::QmVersion;
    for version in [QmVersion::V2, QmVersion::V3] {
        // Every job to the device when it serves the kind (no routing of small jobs to the CPU).
        let accel = Accel::builder()
            .backend(Backend::Emulated)
            .emu(EmuOptions::default().version(version))
            .routing(Routing::device_only())
            .build()
            .await
            .unwrap();
        let sec = accel
            .emulated_devices()
            .iter()
            .find(|d| d.config().name.starts_with("emu_sec"))
            .unwrap()
            .clone();
        let on_device = |before: u64| sec.counters().accepted > before;
        let data = Bytes::from(vec![7u8; 4096]);
        for (kind, mode) in [
            (JobKind::AesCtr, CipherMode::Ctr),
            (JobKind::AesCbc, CipherMode::Cbc),
        ] {
            let key = CipherKey::new(mode, &[3; 16]).unwrap();
            let before = sec.counters().accepted;
            accel
                .encrypt_unauthenticated(&key, &[0; 16], data.clone())
                .await
                .unwrap();
            assert_eq!(
                accel.offloaded(kind),
                on_device(before),
                "{kind:?} {version:?}"
            );
        }
        let before = sec.counters().accepted;
        accel.digest(HashAlg::Sha256, data.clone()).await.unwrap();
        assert!(accel.offloaded(JobKind::Digest) && on_device(before));
        assert_eq!(accel.offloaded(JobKind::AesCtr), version != QmVersion::V2);
        assert!(accel.compression_offloaded() && accel.crypto_offloaded());
    }
    let cpu = cpu().await;
    assert!(!cpu.compression_offloaded() && !cpu.crypto_offloaded());
    assert!(!cpu.offloaded(JobKind::AesGcm) && !cpu.offloaded(JobKind::Nop));
}

/// The unchecked path seals with exactly the bytes given: NIST's GCM test vector (gcmEncryptExtIV128, Count 0:
/// zero key, zero nonce, no data, no AAD), on the emulated device and on the CPU.
#[tokio::test]
async fn the_unchecked_seal_matches_a_nist_vector() {
    let expect = [
        0x58, 0xe2, 0xfc, 0xce, 0xfa, 0x7e, 0x30, 0x61, 0x36, 0x7f, 0x1d, 0x57, 0xa4, 0xe7, 0x45,
        0x5a,
    ];
    let key = AeadKey::new(&[0; 16]).unwrap();
    for accel in [emu_default(NotifyMode::Eventfd).await, cpu().await] {
        let tag = accel
            .aes_gcm_seal_with_nonce_unchecked(&key, &[0; 12], b"", Vec::new())
            .await
            .unwrap();
        assert_eq!(tag[..], expect, "{}", accel.description());
    }
}
