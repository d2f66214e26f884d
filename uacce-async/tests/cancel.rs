//! Cancelled steps of stateful objects: a dropped `Hasher::update` leaves the hasher as it was or poisons it; it
//! never yields the digest of data that was not fed by completed updates.

use std::future::Future;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use sha2::Digest;
use uacce_async::{Accel, Backend, Error, HashAlg};

async fn accel(backend: Backend) -> Accel {
    Accel::builder()
        .backend(backend)
        .build()
        .await
        .expect("accelerator")
}

/// `update(3 MiB of 'a')`, then `update(3 MiB of 'b')` dropped after its first poll or under a timeout of 0..=1000 µs,
/// then `update(1 KiB of 'c')` and `finalize()`: the digest of a‖b‖c if the cut-short update completed, of a‖c if
/// it had no effect, or `Error::Poisoned` from the later calls; nothing else. (Before: `Ok` with a digest of
/// neither, 4 of 4 tries on the emulator.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_update_never_gives_a_wrong_digest() {
    let (a, b, c) = (
        vec![b'a'; 3 << 20],
        vec![b'b'; 3 << 20],
        vec![b'c'; 1 << 10],
    );
    let abc = sha2::Sha256::new()
        .chain_update(&a)
        .chain_update(&b)
        .chain_update(&c)
        .finalize()
        .to_vec();
    let ac = sha2::Sha256::new()
        .chain_update(&a)
        .chain_update(&c)
        .finalize()
        .to_vec();
    for backend in [Backend::Emulated, Backend::Cpu] {
        let accel = accel(backend).await;
        let mut poisoned = 0;
        // None: dropped after exactly one poll, whatever the clock says (under valgrind's serialised threads a
        // timeout may fire only once the work is done, or before it started).
        for us in [None, Some(0u64), Some(1), Some(10), Some(100), Some(1000)] {
            let mut h = accel.hasher(HashAlg::Sha256);
            h.update(&a).await.unwrap();
            let completed = match us {
                None => {
                    let mut step = std::pin::pin!(h.update(&b));
                    let mut cx = Context::from_waker(Waker::noop());
                    matches!(step.as_mut().poll(&mut cx), Poll::Ready(Ok(())))
                }
                Some(us) => matches!(
                    tokio::time::timeout(Duration::from_micros(us), h.update(&b)).await,
                    Ok(Ok(()))
                ),
            };
            match h.update(&c).await {
                Err(Error::Poisoned(_)) => {
                    poisoned += 1;
                    assert!(
                        !completed,
                        "{backend:?} {us:?} µs: poisoned after a completed update"
                    );
                    assert!(matches!(h.finalize().await, Err(Error::Poisoned(_))));
                }
                Err(e) => panic!("{backend:?} {us:?} µs: {e}"),
                Ok(()) => {
                    let d = h.finalize().await.unwrap();
                    let want = if completed { &abc } else { &ac };
                    assert_eq!(&d, want, "{backend:?} {us:?} µs: completed={completed}");
                }
            }
        }
        // A 3 MiB update cannot finish within one poll: at least the update dropped after it was cancelled midway.
        assert!(poisoned > 0, "{backend:?}: no update was cancelled midway");
    }
}

/// A hasher whose update failed is poisoned as well: the device job failed after part of the data was hashed.
#[tokio::test]
async fn a_failed_update_poisons_the_hasher() {
    let accel = accel(Backend::Emulated).await;
    let sec = accel
        .emulated_devices()
        .iter()
        .find(|d| d.config().name.starts_with("emu_sec"))
        .unwrap()
        .clone();
    let mut h = accel.hasher(HashAlg::Sha512);
    h.update(vec![1u8; 1 << 20]).await.unwrap();
    // The next device job (the first part of the next update) fails with an error status.
    sec.inject(uacce_async::Fault::ErrorStatus(sec.counters().accepted));
    assert!(matches!(
        h.update(vec![2u8; 2 << 20]).await,
        Err(Error::Device(_))
    ));
    assert!(matches!(h.update(b"more").await, Err(Error::Poisoned(_))));
    assert!(matches!(h.finalize().await, Err(Error::Poisoned(_))));
}

/// XTS refuses a key whose two halves are equal (IEEE 1619, NIST SP 800-38E), for both key sizes.
#[test]
fn xts_refuses_equal_key_halves() {
    use uacce_async::hazmat::{CipherKey, CipherMode};
    for half in [16usize, 32] {
        let same = vec![0x42u8; 2 * half];
        assert!(
            matches!(CipherKey::new(CipherMode::Xts, &same), Err(Error::InvalidParameter(m)) if m.contains("XTS"))
        );
        let mut differ = same.clone();
        differ[2 * half - 1] ^= 1;
        assert!(CipherKey::new(CipherMode::Xts, &differ).is_ok());
    }
}

/// A stream step that fails midway poisons the stream: the next step is refused rather than continue a session
/// whose state is unknown.
#[tokio::test]
async fn a_failed_stream_step_poisons_the_stream() {
    let accel = accel(Backend::Emulated).await;
    let zip = accel
        .emulated_devices()
        .iter()
        .find(|d| d.config().name.starts_with("emu_zip"))
        .unwrap()
        .clone();
    let c = uacce_async::StreamCompressor::new(&accel, uacce_async::Format::Gzip).unwrap();
    let (c, r) = c
        .compress(
            bytes::Bytes::from(vec![b'a'; 100_000]),
            uacce_async::Flush::None,
        )
        .await;
    r.unwrap();
    zip.inject(uacce_async::Fault::ErrorStatus(zip.counters().accepted));
    let (c, r) = c
        .compress(
            bytes::Bytes::from(vec![b'b'; 100_000]),
            uacce_async::Flush::None,
        )
        .await;
    // The injected error status reads as a rejected stream.
    assert!(
        matches!(r, Err(Error::Device(_) | Error::CorruptData(_))),
        "{r:?}"
    );
    let (_c, r) = c
        .compress(
            bytes::Bytes::from_static(b"more"),
            uacce_async::Flush::Finish,
        )
        .await;
    assert!(matches!(r, Err(Error::Poisoned(_))), "{r:?}");
}
