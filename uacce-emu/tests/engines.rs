//! Synchronous round trips through the emulated ZIP and SEC engines, with no async runtime: the driver side of the
//! ring encodes SQEs with `uacce_sys::qm::{zip, sec}`, the emulator does the work, results are checked against
//! published vectors and an independent decoder (flate2's readers).

use std::time::Duration;

use uacce_emu::{DeviceKind, EmuConfig, EmuDevice, EmuQueue};
use uacce_sys::qm::sec::{
    self, CipherDir, CipherMode, DigestAlg, DigestRequest, DigestStage, SecOp, SecOutcome,
};
use uacce_sys::qm::zip::{
    self, HwBuffers, QcType, StreamState, ZipAlg, ZipMode, ZipOutcome, ZipRequest, ZipWindow,
};
use uacce_sys::qm::{DriverRing, QmVersion, Sqe};
use uacce_testkit::{codec, hex, req, text};

/// An emulated queue with the driver side of its ring.
struct Tq {
    q: EmuQueue,
    ring: DriverRing,
}

impl Tq {
    fn open(dev: &EmuDevice, qc_type: u16) -> Tq {
        let q = dev.open_queue(qc_type).unwrap();
        let ring = q.driver_ring().unwrap();
        Tq { q, ring }
    }

    fn version(&self) -> QmVersion {
        self.q.version()
    }
}

/// Submit one SQE and wait for its completion; return the completed SQE.
///
/// # Safety
/// Every buffer `sqe` names must stay valid and untouched until this returns ([`DriverRing::push`]'s contract). It
/// returns only after the SQE's completion was consumed: a job still in flight when waiting fails aborts the process
/// instead of unwinding, which would free the caller's buffers under the device.
unsafe fn run(tq: &mut Tq, sqe: &Sqe) -> Sqe {
    // SAFETY: the caller's promise lasts until this returns, and this returns only with the completion consumed
    // (`Ok`); on an error the job may still be in flight, so the process aborts before anything is freed.
    match unsafe { tq.ring.run_blocking(sqe, Duration::from_secs(10)) } {
        Ok(c) => c.sqe,
        Err(e) => {
            eprintln!("run_blocking failed ({e}); aborting: the job may still own its buffers");
            std::process::abort()
        }
    }
}

/// Block-compress `src` on a compress queue; returns the whole user-visible stream (header + device output).
fn zip_compress(
    q: &mut Tq,
    alg: ZipAlg,
    src: &[u8],
    dst_len: usize,
) -> Result<Vec<u8>, ZipOutcome> {
    let mut dst = vec![0u8; dst_len];
    dst[..alg.header().len()].copy_from_slice(alg.header());
    let req = req::zip_user(alg, QcType::Compress, src, &mut dst, 7).unwrap();
    // SAFETY: the SQE names `src` (borrowed for this whole call) and `dst` (owned here); both outlive `run`,
    // which returns after the completion was consumed.
    let done = zip::read_result(&unsafe { run(q, &zip::encode(&req, q.version())) });
    assert_eq!(done.tag, 7);
    match done.outcome() {
        ZipOutcome::Ok => {
            let (consumed, produced) = done.user_lengths(QcType::Compress);
            assert_eq!(consumed as usize, src.len());
            dst.truncate(produced as usize);
            Ok(dst)
        }
        other => Err(other),
    }
}

fn zip_decompress(
    q: &mut Tq,
    alg: ZipAlg,
    src: &[u8],
    dst_len: usize,
) -> Result<Vec<u8>, ZipOutcome> {
    let mut dst = vec![0u8; dst_len];
    let req = req::zip_user(alg, QcType::Decompress, src, &mut dst, 9).unwrap();
    // SAFETY: the SQE names `src` (borrowed for this whole call) and `dst` (owned here); both outlive `run`,
    // which returns after the completion was consumed.
    let done = zip::read_result(&unsafe { run(q, &zip::encode(&req, q.version())) });
    match done.outcome() {
        ZipOutcome::Ok => {
            let (consumed, produced) = done.user_lengths(QcType::Decompress);
            assert_eq!(consumed as usize, src.len());
            dst.truncate(produced as usize);
            Ok(dst)
        }
        other => Err(other),
    }
}

#[test]
fn zip_block_round_trips_v2_v3() {
    for version in [QmVersion::V2, QmVersion::V3] {
        let dev = EmuDevice::new(EmuConfig::new(DeviceKind::Zip).version(version).depth(16));
        let mut cq = Tq::open(&dev, 0);
        let mut dq = Tq::open(&dev, 1);
        for alg in [ZipAlg::Gzip, ZipAlg::Zlib, ZipAlg::Deflate] {
            for len in [0usize, 1, 1000, 100_000] {
                let src = text(len);
                let compressed = zip_compress(&mut cq, alg, &src, len + 1024).unwrap();
                // An independent decoder reads the stream the device (plus the software header) produced.
                assert_eq!(
                    codec::decompress(alg, &compressed).unwrap(),
                    src,
                    "{alg:?} {len}"
                );
                let back = zip_decompress(&mut dq, alg, &compressed, len + 16).unwrap();
                assert_eq!(back, src, "{alg:?} {len} {version:?}");
            }
        }
        let c = dev.counters();
        assert_eq!(c.accepted, c.completed);
        assert_eq!(c.failed, 0);
    }
}

#[test]
fn zip_errors_are_statuses() {
    let dev = EmuDevice::new(EmuConfig::new(DeviceKind::Zip).depth(16));
    let mut cq = Tq::open(&dev, 0);
    let mut dq = Tq::open(&dev, 1);
    let src = text(50_000);
    // Output space too small, both directions.
    assert_eq!(
        zip_compress(&mut cq, ZipAlg::Gzip, &src, 100),
        Err(ZipOutcome::DstTooSmall)
    );
    let gz = zip_compress(&mut cq, ZipAlg::Gzip, &src, 60_000).unwrap();
    assert_eq!(
        zip_decompress(&mut dq, ZipAlg::Gzip, &gz, 1000),
        Err(ZipOutcome::DstTooSmall)
    );
    // Output that fits exactly is fine.
    assert_eq!(
        zip_decompress(&mut dq, ZipAlg::Gzip, &gz, src.len()).unwrap(),
        src
    );
    // A flipped trailer byte: CRC error. Garbage: an error. Truncated: an error.
    let mut bad = gz.clone();
    *bad.last_mut().unwrap() ^= 1;
    assert!(matches!(
        zip_decompress(&mut dq, ZipAlg::Gzip, &bad, 60_000),
        Err(ZipOutcome::Error(zip::ZipStatus::CrcError))
    ));
    assert!(matches!(
        zip_decompress(&mut dq, ZipAlg::Deflate, &[0xFF; 64], 1000),
        Err(ZipOutcome::Error(_))
    ));
    assert!(matches!(
        zip_decompress(&mut dq, ZipAlg::Gzip, &gz[..gz.len() / 2], 60_000),
        Err(ZipOutcome::Error(_))
    ));
    // An SQE with an unknown request type, and one whose source is not mapped.
    let mut sqe = [0u8; 128];
    sqe[36] = 0x07;
    // SAFETY: this SQE names no buffers (all address fields zero).
    let done = zip::read_result(&unsafe { run(&mut cq, &sqe) });
    assert!(matches!(done.outcome(), ZipOutcome::Error(_)));
    let req = ZipRequest {
        alg: ZipAlg::Deflate,
        buffers: HwBuffers {
            src_addr: 0x10,
            src_len: 100,
            dst_addr: 0x1000,
            dst_avail: 100,
        },
        tag: 1,
        window: ZipWindow::W32K,
        mode: ZipMode::Block,
    };
    // SAFETY: the addresses 0x10 and 0x1000 lie below mmap_min_addr: never mapped, the emulator refuses them.
    let done = zip::read_result(&unsafe { run(&mut cq, &zip::encode(&req, QmVersion::V2)) });
    assert!(matches!(done.outcome(), ZipOutcome::Error(_)));
    let c = dev.counters();
    assert_eq!(c.accepted, c.completed);
    assert_eq!(c.failed, 7);
}

/// Stream mode: compress in chunks with one context, decode the result with flate2; decompress in chunks with
/// small output buffers.
#[test]
fn zip_stream_mode() {
    let dev = EmuDevice::new(
        EmuConfig::new(DeviceKind::Zip)
            .version(QmVersion::V3)
            .depth(16),
    );
    let mut cq = Tq::open(&dev, 0);
    let mut dq = Tq::open(&dev, 1);
    let src = text(300_000);
    for alg in [ZipAlg::Gzip, ZipAlg::Zlib, ZipAlg::Deflate] {
        let ctx = vec![0u8; 0x10000];
        let ctx_addr = ctx.as_ptr() as u64 + zip::HW_CTX_OFFSET;
        let mut out = alg.header().to_vec();
        let mut state = StreamState {
            ctx_addr,
            first: true,
            ..StreamState::default()
        };
        let chunks: Vec<&[u8]> = src.chunks(70_000).collect();
        let mut i = 0;
        loop {
            let input: &[u8] = chunks.get(i).copied().unwrap_or(&[]);
            state.last = i + 1 >= chunks.len();
            let mut dst = vec![0u8; 16_384];
            let req = ZipRequest {
                alg,
                buffers: req::hw_buffers(input, &mut dst),
                tag: i as u32,
                window: ZipWindow::W32K,
                mode: ZipMode::Stream(state),
            };
            let sqe = zip::encode(&req, cq.version());
            // SAFETY: `input` (in `src`), `dst` and `ctx` live until after `run` returns (completion consumed).
            let done = zip::read_result(&unsafe { run(&mut cq, &sqe) });
            assert!(
                matches!(done.outcome(), ZipOutcome::Ok),
                "{:?}",
                done.outcome()
            );
            assert_eq!(done.consumed as usize, input.len());
            out.extend_from_slice(&dst[..done.produced as usize]);
            if done.lstblk {
                break;
            }
            state = done.next_stream_state(ctx_addr, state.last);
            i += 1;
        }
        assert_eq!(codec::decompress(alg, &out).unwrap(), src, "{alg:?}");

        // Decompress the stream in 5000-byte input pieces into 4096-byte outputs.
        let body = &out[alg.header().len()..];
        let mut back = Vec::new();
        let mut pos = 0;
        let mut state = StreamState {
            ctx_addr,
            first: true,
            ..StreamState::default()
        };
        loop {
            let end = (pos + 5000).min(body.len());
            let input = &body[pos..end];
            let mut dst = vec![0u8; 4096];
            let req = ZipRequest {
                alg,
                buffers: req::hw_buffers(input, &mut dst),
                tag: 0,
                window: ZipWindow::W32K,
                mode: ZipMode::Stream(state),
            };
            let sqe = zip::encode(&req, dq.version());
            // SAFETY: `input` (in `out`), `dst` and `ctx` live until after `run` returns (completion consumed).
            let done = zip::read_result(&unsafe { run(&mut dq, &sqe) });
            back.extend_from_slice(&dst[..done.produced as usize]);
            pos += done.consumed as usize;
            match done.outcome() {
                ZipOutcome::StreamEnd => break,
                ZipOutcome::Ok => {}
                other => panic!("{other:?}"),
            }
            state = done.next_stream_state(ctx_addr, false);
        }
        assert_eq!(pos, body.len());
        assert_eq!(back, src, "{alg:?}");
        drop(ctx);
    }
}

/// Run one SEC job and return its outcome.
///
/// # Safety
/// Every buffer `op` names must stay valid and untouched until this returns (see [`run`]).
unsafe fn sec_run(q: &mut Tq, op: SecOp) -> SecOutcome {
    // SAFETY: the SQE names the buffers of `op`, which the caller keeps valid until this returns (our contract).
    let done = sec::read_result(&unsafe { run(q, &req::sec_sqe(op, 42, q.version())) });
    assert_eq!(done.tag, 42);
    done.outcome()
}

fn digest_op(alg: DigestAlg, key: Option<&[u8]>, data: &[u8], out: &mut [u8]) -> SecOp {
    SecOp::Digest(req::digest(alg, key, data, out))
}

#[test]
fn sec_digests_match_published_values() {
    for version in [QmVersion::V2, QmVersion::V3] {
        let dev = EmuDevice::new(EmuConfig::new(DeviceKind::Sec).version(version).depth(8));
        let mut q = Tq::open(&dev, 0);
        // FIPS 180-2 "abc".
        let mut out = [0u8; 32];
        assert_eq!(
            // SAFETY: the op names locals of this test, which live until `sec_run` returns (completion consumed).
            unsafe { sec_run(&mut q, digest_op(DigestAlg::Sha256, None, b"abc", &mut out)) },
            SecOutcome::Ok
        );
        assert_eq!(
            out.to_vec(),
            hex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        );
        let mut out = [0u8; 64];
        assert_eq!(
            // SAFETY: the op names locals of this test, which live until `sec_run` returns (completion consumed).
            unsafe { sec_run(&mut q, digest_op(DigestAlg::Sha512, None, b"abc", &mut out)) },
            SecOutcome::Ok
        );
        assert_eq!(
            out.to_vec(),
            hex(concat!(
                "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a",
                "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"
            ))
        );
        // RFC 4231 test case 2 (key "Jefe").
        let mut out = [0u8; 32];
        let op = digest_op(
            DigestAlg::Sha256,
            Some(b"Jefe"),
            b"what do ya want for nothing?",
            &mut out,
        );
        // SAFETY: the op names locals of this test, which live until `sec_run` returns (completion consumed).
        assert_eq!(unsafe { sec_run(&mut q, op) }, SecOutcome::Ok);
        assert_eq!(
            out.to_vec(),
            hex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        );
        let mut out = [0u8; 64];
        let op = digest_op(
            DigestAlg::Sha512,
            Some(b"Jefe"),
            b"what do ya want for nothing?",
            &mut out,
        );
        // SAFETY: the op names locals of this test, which live until `sec_run` returns (completion consumed).
        assert_eq!(unsafe { sec_run(&mut q, op) }, SecOutcome::Ok);
        assert_eq!(
            out.to_vec(),
            hex(concat!(
                "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554",
                "9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"
            ))
        );
    }
}

/// Long hash in three parts gives the one-shot value.
#[test]
fn sec_long_hash() {
    use sha2::Digest;
    let dev = EmuDevice::new(
        EmuConfig::new(DeviceKind::Sec)
            .version(QmVersion::V3)
            .depth(8),
    );
    let mut q = Tq::open(&dev, 0);
    let data = text(128 * 10 + 77);
    for (alg, block) in [(DigestAlg::Sha256, 64usize), (DigestAlg::Sha512, 128)] {
        let mut mac = vec![0u8; alg.digest_len() as usize];
        let parts = [
            (0, block * 4),
            (block * 4, block * 9),
            (block * 9, data.len()),
        ];
        for (i, &(a, b)) in parts.iter().enumerate() {
            let stage = match i {
                0 => DigestStage::First,
                1 => DigestStage::Middle,
                _ => DigestStage::Last {
                    total_len: data.len() as u64,
                },
            };
            let op = SecOp::Digest(DigestRequest {
                alg,
                hmac_key: None,
                src_addr: data[a..].as_ptr() as u64,
                len: (b - a) as u32,
                mac_addr: mac.as_mut_ptr() as u64,
                mac_len: mac.len() as u32,
                stage,
            });
            // SAFETY: the op names locals of this test, which live until `sec_run` returns (completion consumed).
            assert_eq!(unsafe { sec_run(&mut q, op) }, SecOutcome::Ok);
        }
        let expect = match alg {
            DigestAlg::Sha256 => sha2::Sha256::digest(&data).to_vec(),
            _ => sha2::Sha512::digest(&data).to_vec(),
        };
        assert_eq!(mac, expect, "{alg:?}");
    }
}

fn cipher_op(
    mode: CipherMode,
    dir: CipherDir,
    key: &[u8],
    iv: &[u8],
    src: &[u8],
    dst: &mut [u8],
) -> SecOp {
    SecOp::Cipher(req::cipher(mode, dir, key, iv, src, dst))
}

#[test]
fn sec_ciphers_match_published_vectors() {
    let dev = EmuDevice::new(
        EmuConfig::new(DeviceKind::Sec)
            .version(QmVersion::V3)
            .depth(8),
    );
    let mut q = Tq::open(&dev, 0);
    // NIST SP 800-38A F.2.1 (CBC-AES128), F.5.1 (CTR-AES128), first block.
    let key = hex("2b7e151628aed2a6abf7158809cf4f3c");
    let pt = hex("6bc1bee22e409f96e93d7e117393172a");
    let cases = [
        (
            CipherMode::Cbc,
            "000102030405060708090a0b0c0d0e0f",
            "7649abac8119b246cee98e9b12e9197d",
        ),
        (
            CipherMode::Ctr,
            "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff",
            "874d6191b620e3261bef6864990db6ce",
        ),
        (
            CipherMode::Ecb,
            "00000000000000000000000000000000",
            "3ad77bb40d7a3660a89ecaf32466ef97",
        ),
    ];
    for (mode, iv, ct) in cases {
        let iv = hex(iv);
        let mut out = [0u8; 16];
        assert_eq!(
            // SAFETY: the op names locals of this test, which live until `sec_run` returns (completion consumed).
            unsafe {
                sec_run(
                    &mut q,
                    cipher_op(mode, CipherDir::Encrypt, &key, &iv, &pt, &mut out),
                )
            },
            SecOutcome::Ok
        );
        assert_eq!(out.to_vec(), hex(ct), "{mode:?}");
        let mut back = [0u8; 16];
        assert_eq!(
            // SAFETY: the op names locals of this test, which live until `sec_run` returns (completion consumed).
            unsafe {
                sec_run(
                    &mut q,
                    cipher_op(mode, CipherDir::Decrypt, &key, &iv, &out, &mut back),
                )
            },
            SecOutcome::Ok
        );
        assert_eq!(back.to_vec(), pt, "{mode:?}");
    }
    // IEEE 1619-2007 XTS-AES-128 vector 1: zero keys, zero tweak, 32 zero bytes.
    let key = [0u8; 32];
    let iv = [0u8; 16];
    let pt = [0u8; 32];
    let mut out = [0u8; 32];
    assert_eq!(
        // SAFETY: the op names locals of this test, which live until `sec_run` returns (completion consumed).
        unsafe {
            sec_run(
                &mut q,
                cipher_op(
                    CipherMode::Xts,
                    CipherDir::Encrypt,
                    &key,
                    &iv,
                    &pt,
                    &mut out,
                ),
            )
        },
        SecOutcome::Ok
    );
    assert_eq!(
        out.to_vec(),
        hex("917cf69ebd68b2ec9b9fe9a3eadda692cd43d2f59598ed858c02c2652fbf922e")
    );
}

/// The GCM specification's test case 4 (AES-128, 60-byte payload, 20-byte AAD), seal and open; a flipped tag bit
/// is a MAC mismatch and writes no plaintext.
#[test]
fn sec_gcm_nist_vector() {
    for version in [QmVersion::V2, QmVersion::V3] {
        let dev = EmuDevice::new(EmuConfig::new(DeviceKind::Sec).version(version).depth(8));
        let mut q = Tq::open(&dev, 0);
        let uacce_testkit::GcmVector {
            key,
            iv,
            aad,
            pt,
            ct,
            tag,
        } = uacce_testkit::gcm_test_case_4();
        let gcm = |dir, src: &[u8], dst: &mut [u8], mac: &mut [u8], aiv: &mut [u8]| {
            let (key, iv, aad_len) = (&key[..], &iv[..], aad.len());
            SecOp::Aead(req::gcm(
                dir,
                req::Gcm {
                    key,
                    iv,
                    aiv,
                    aad_len,
                    src,
                    dst,
                    mac,
                },
            ))
        };
        // a_ivin holds a copy of the IV (the engine refuses a GCM BD whose a_ivin does not).
        let mut aiv = [0u8; 64];
        aiv[..12].copy_from_slice(&iv);
        let src = [aad.clone(), pt.clone()].concat();
        let mut dst = vec![0u8; src.len()];
        let mut mac = [0u8; 16];
        assert_eq!(
            // SAFETY: the op names locals of this test, which live until `sec_run` returns (completion consumed).
            unsafe {
                sec_run(
                    &mut q,
                    gcm(CipherDir::Encrypt, &src, &mut dst, &mut mac, &mut aiv),
                )
            },
            SecOutcome::Ok
        );
        assert_eq!(dst[aad.len()..].to_vec(), ct);
        assert_eq!(mac.to_vec(), tag);

        let src = [aad.clone(), ct.clone()].concat();
        let mut dst = vec![0u8; src.len()];
        let mut mac = [0u8; 16];
        mac.copy_from_slice(&tag);
        assert_eq!(
            // SAFETY: the op names locals of this test, which live until `sec_run` returns (completion consumed).
            unsafe {
                sec_run(
                    &mut q,
                    gcm(CipherDir::Decrypt, &src, &mut dst, &mut mac, &mut aiv),
                )
            },
            SecOutcome::Ok
        );
        assert_eq!(dst[aad.len()..].to_vec(), pt);

        let mut dst = vec![0u8; src.len()];
        mac[15] ^= 1;
        assert_eq!(
            // SAFETY: the op names locals of this test, which live until `sec_run` returns (completion consumed).
            unsafe {
                sec_run(
                    &mut q,
                    gcm(CipherDir::Decrypt, &src, &mut dst, &mut mac, &mut aiv),
                )
            },
            SecOutcome::MacMismatch
        );
        assert!(
            dst.iter().all(|&b| b == 0),
            "plaintext written despite a bad tag"
        );
    }
}

#[test]
fn sec_bad_bds_get_error_status() {
    let dev = EmuDevice::new(EmuConfig::new(DeviceKind::Sec).depth(8));
    let mut q = Tq::open(&dev, 0);
    // BD type 9 does not exist.
    let mut sqe = [0u8; 128];
    sqe[0] = 9;
    // SAFETY: this SQE names no buffers (all address fields zero).
    let done = sec::read_result(&unsafe { run(&mut q, &sqe) });
    assert!(matches!(done.outcome(), SecOutcome::DeviceError { .. }));
    // A digest whose source address is unmapped.
    let mut out = [0u8; 32];
    let op = SecOp::Digest(DigestRequest {
        src_addr: 0x20,
        len: 64,
        ..req::digest(DigestAlg::Sha256, None, &[], &mut out)
    });
    assert!(matches!(
        // SAFETY: the op names `out`, which outlives `sec_run` (completion consumed), and 0x20, below
        // mmap_min_addr: never mapped, the emulator refuses it.
        unsafe { sec_run(&mut q, op) },
        SecOutcome::DeviceError {
            error_type: 0x02,
            ..
        }
    ));
    assert_eq!(out, [0u8; 32]);
    assert_eq!(dev.counters().failed, 2);
}

#[test]
fn injected_error_status() {
    let dev = EmuDevice::new(EmuConfig::new(DeviceKind::Sec).depth(8));
    let mut q = Tq::open(&dev, 0);
    dev.inject(uacce_emu::Fault::ErrorStatus(1));
    let mut out = [0u8; 32];
    assert_eq!(
        // SAFETY: the op names locals of this test, which live until `sec_run` returns (completion consumed).
        unsafe { sec_run(&mut q, digest_op(DigestAlg::Sha256, None, b"abc", &mut out)) },
        SecOutcome::Ok
    );
    assert!(matches!(
        // SAFETY: the op names locals of this test, which live until `sec_run` returns (completion consumed).
        unsafe { sec_run(&mut q, digest_op(DigestAlg::Sha256, None, b"abc", &mut out)) },
        SecOutcome::DeviceError {
            error_type: 0x01,
            ..
        }
    ));
    assert_eq!(
        // SAFETY: the op names locals of this test, which live until `sec_run` returns (completion consumed).
        unsafe { sec_run(&mut q, digest_op(DigestAlg::Sha256, None, b"abc", &mut out)) },
        SecOutcome::Ok
    );
}
