//! The emulated HPRE device, end to end without an async runtime: the driver half (`uacce_sys::qm::hpre` encode and
//! the key-block builders) builds 64-byte SQEs, the emulator runs them on its 64-byte-SQE rings, and the results are
//! checked against known answers from other implementations (OpenSSL, RFC 7748, FIPS 186-4; the vectors are
//! shared with `uacce-soft`'s tests) and against the hardware's error reporting for hostile inputs.

#[path = "../../uacce-soft/tests/vectors.rs"]
mod vectors;

use std::time::Duration;

use uacce_emu::{DeviceKind, EmuConfig, EmuDevice, EmuQueue};
use uacce_soft::pkey::{CurveId, curve_params};
use uacce_sys::qm::hpre::layout::{self, CurveParams, ecc_private};
use uacce_sys::qm::hpre::*;
use uacce_sys::qm::{DriverRing, QmVersion};
use vectors::*;

/// The engine's etype values (`uacce_emu`'s HPRE engine; documented as this project's choice there).
const ETYPE_BAD_KEY: u16 = 0x001;
const ETYPE_BAD_INPUT: u16 = 0x002;
const ETYPE_NOT_ON_CURVE: u16 = 0x004;
const ETYPE_DECRYPT_CHECK: u16 = 0x010;
const ETYPE_MALFORMED: u16 = 0x7FF;
const ETYPE1_SVA_FAULT: u16 = 0x20;

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn pad(v: &[u8], w: usize) -> Vec<u8> {
    let mut out = vec![0u8; w];
    layout::put_be(&mut out, v).unwrap();
    out
}

fn rev(v: &[u8]) -> Vec<u8> {
    v.iter().rev().copied().collect()
}

struct Tq {
    q: EmuQueue,
    ring: DriverRing,
}

fn open(version: QmVersion, qc: HpreQcType) -> (EmuDevice, Tq) {
    let dev = EmuDevice::new(EmuConfig::new(DeviceKind::Hpre).version(version).depth(8));
    let q = dev.open_queue(qc.code()).unwrap();
    let ring = q.driver_ring().unwrap();
    (dev, Tq { q, ring })
}

/// One job's buffers: the device reads `key` and `input` and writes `out`.
struct Bufs {
    key: Vec<u8>,
    input: Vec<u8>,
    out: Vec<u8>,
}

impl Bufs {
    fn new(key: Vec<u8>, input: Vec<u8>, out_len: usize) -> Self {
        Self {
            key,
            input,
            out: vec![0xEE; out_len.max(1)],
        }
    }

    fn addr(v: &[u8]) -> u64 {
        if v.is_empty() { 0 } else { v.as_ptr() as u64 }
    }

    fn request(&self, alg: HpreAlg, width: usize) -> HpreRequest {
        let input = Self::addr(&self.input);
        let output = if alg.is_verify() {
            input
        } else {
            self.out.as_ptr() as u64
        };
        HpreRequest::new(alg, width, Self::addr(&self.key), input, output, 0x7A6)
    }
}

/// Submit one SQE naming `b`'s buffers and wait for its completion.
fn run(tq: &mut Tq, sqe: &HpreSqe, b: &mut Bufs) -> HpreCompletion {
    // The SQE names only `b`'s buffers (or addresses the tests chose to be unreadable); `b` is borrowed mutably for
    // the whole call, and the call returns only with the completion consumed (else the process aborts).
    let _hold = &mut *b;
    // SAFETY: every buffer the SQE names belongs to `b` (or is an address no allocation covers, which the device
    // only fails to access), stays allocated and untouched until the completion is consumed below; on an error the
    // job may still be in flight, so the process aborts instead of freeing them.
    match unsafe { tq.ring.run_blocking(sqe, Duration::from_secs(30)) } {
        Ok(c) => {
            assert_eq!(c.sqe_size, 64);
            assert!(c.sqe[64..].iter().all(|&x| x == 0));
            read_result(c.sqe_bytes())
        }
        Err(e) => {
            eprintln!("run_blocking failed ({e}); aborting: the job may still own its buffers");
            std::process::abort()
        }
    }
}

fn run_req(tq: &mut Tq, req: &HpreRequest, b: &mut Bufs) -> HpreCompletion {
    req.validate(tq.q.version()).unwrap();
    run(tq, &encode(req), b)
}

fn owned(id: CurveId) -> uacce_soft::pkey::CurveParams {
    curve_params(id)
}

fn view(c: &uacce_soft::pkey::CurveParams) -> CurveParams<'_> {
    CurveParams {
        p: &c.p,
        a: &c.a,
        b: &c.b,
        n: &c.n,
        gx: &c.gx,
        gy: &c.gy,
    }
}

// ---------------------------------------------------------------------------------------------------------------------

#[test]
fn device_reports_like_hisi_hpre() {
    let v2 = EmuDevice::new(EmuConfig::new(DeviceKind::Hpre).version(QmVersion::V2));
    assert_eq!(
        DeviceKind::Hpre.algorithms_on(QmVersion::V2),
        &["rsa", "dh"]
    );
    assert_eq!(
        DeviceKind::Hpre.algorithms_on(QmVersion::V3),
        &["rsa", "dh", "ecdh", "ecdsa", "sm2", "x25519", "x448"]
    );
    assert_eq!(v2.config().name, "emu_hpre-0");
    let q = v2.open_queue(0).unwrap();
    // §12.1: 64-byte SQEs; depth 1024 on 4 KiB pages gives a 0x15000-byte DUS.
    assert_eq!(q.layout().sqe_size, 64);
    assert_eq!(q.layout().cq_offset(), 64 * 1024);
    if q.layout().page_size == 4096 {
        assert_eq!(q.layout().dus_size(), 0x15000);
    }
    assert!(v2.open_queue(1).is_ok());
    assert!(v2.open_queue(2).is_err());
    // A 128-byte SQE does not go into a 64-byte ring.
    let mut ring = q.driver_ring().unwrap();
    // SAFETY: the SQE is refused before it reaches the ring (wrong length), and names no buffers anyway.
    assert!(unsafe { ring.push(&[0u8; 128]) }.is_err());
}

#[test]
fn rsa_through_the_device_matches_openssl() {
    for version in [QmVersion::V2, QmVersion::V3] {
        let (_dev, mut tq) = open(version, HpreQcType::RsaDh);
        for (v, k) in [(&RSA1024, 128), (&RSA2048, 256)] {
            let (n, e, d, m, c) = (hex(v.n), hex(v.e), hex(v.d), hex(v.m), hex(v.c));
            let mut b = Bufs::new(layout::rsa_key_block(&e, &n, k).unwrap(), m.clone(), k);
            let done = run_req(&mut tq, &b.request(HpreAlg::RsaNonCrt, k), &mut b);
            assert_eq!(done.outcome(), HpreOutcome::Ok);
            assert_eq!(done.tag, 0x7A6);
            assert_eq!(b.out, c);
            let mut b = Bufs::new(layout::rsa_key_block(&d, &n, k).unwrap(), c.clone(), k);
            assert_eq!(
                run_req(&mut tq, &b.request(HpreAlg::RsaNonCrt, k), &mut b).outcome(),
                HpreOutcome::Ok
            );
            assert_eq!(b.out, m);
            let crt = layout::rsa_crt_block(
                &hex(v.dq),
                &hex(v.dp),
                &hex(v.q),
                &hex(v.p),
                &hex(v.qinv),
                k,
            )
            .unwrap();
            let mut b = Bufs::new(crt, c.clone(), k);
            let done = run_req(&mut tq, &b.request(HpreAlg::RsaCrt, k), &mut b);
            assert_eq!(
                (done.outcome(), done.alg_code, done.done),
                (HpreOutcome::Ok, 1, 3)
            );
            assert_eq!(b.out, m);
        }
    }
}

#[test]
fn rsa_hostile_inputs_get_error_codes() {
    let (dev, mut tq) = open(QmVersion::V2, HpreQcType::RsaDh);
    let v = &RSA1024;
    let (n, e) = (hex(v.n), hex(v.e));
    let k = 128;
    // Input = n: out of range; the output buffer is left alone.
    let mut b = Bufs::new(layout::rsa_key_block(&e, &n, k).unwrap(), n.clone(), k);
    let done = run_req(&mut tq, &b.request(HpreAlg::RsaNonCrt, k), &mut b);
    assert_eq!(
        done.outcome(),
        HpreOutcome::Error {
            etype: ETYPE_BAD_INPUT,
            etype1: 0
        }
    );
    assert!(b.out.iter().all(|&x| x == 0xEE));
    // Even modulus: bad key.
    let mut even = n.clone();
    *even.last_mut().unwrap() &= 0xFE;
    let mut b = Bufs::new(layout::rsa_key_block(&e, &even, k).unwrap(), hex(v.m), k);
    let done = run_req(&mut tq, &b.request(HpreAlg::RsaNonCrt, k), &mut b);
    assert_eq!(
        done.outcome(),
        HpreOutcome::Error {
            etype: ETYPE_BAD_KEY,
            etype1: 0
        }
    );
    // An unreadable key address and an unwritable output address: the SVA fault bit.
    let mut b = Bufs::new(layout::rsa_key_block(&e, &n, k).unwrap(), hex(v.m), k);
    let mut req = b.request(HpreAlg::RsaNonCrt, k);
    req.key = 0x10;
    let done = run_req(&mut tq, &req, &mut b);
    assert_eq!(
        done.outcome(),
        HpreOutcome::Error {
            etype: 0,
            etype1: ETYPE1_SVA_FAULT
        }
    );
    let mut req = b.request(HpreAlg::RsaNonCrt, k);
    req.output = 0x20;
    let done = run_req(&mut tq, &req, &mut b);
    assert_eq!(
        done.outcome(),
        HpreOutcome::Error {
            etype: 0,
            etype1: ETYPE1_SVA_FAULT
        }
    );
    // ECC on an RSA/DH queue, and the 512-bit RSA the hardware does not take.
    let mut x = Bufs::new(vec![1; 96], vec![1; 32], 32);
    let sqe = encode(&x.request(HpreAlg::XdhMultiply, 32));
    assert_eq!(
        run(&mut tq, &sqe, &mut x).outcome(),
        HpreOutcome::Error {
            etype: ETYPE_MALFORMED,
            etype1: 0
        }
    );
    let mut s = Bufs::new(vec![1; 128], vec![1; 64], 64);
    let sqe = encode(&s.request(HpreAlg::RsaNonCrt, 64));
    assert_eq!(
        run(&mut tq, &sqe, &mut s).outcome(),
        HpreOutcome::Error {
            etype: ETYPE_MALFORMED,
            etype1: 0
        }
    );
    let c = dev.counters();
    assert_eq!((c.completed, c.failed), (6, 6));
}

#[test]
fn ecc_needs_v3() {
    let (_dev, mut tq) = open(QmVersion::V2, HpreQcType::Ecc);
    let mut k = [0x55u8; 32];
    x25519_clamp_be(&mut k);
    let mut b = Bufs::new(
        layout::x_dh_key_block(&X25519_P, &X25519_A24, &k, 32).unwrap(),
        pad(&[9], 32),
        32,
    );
    let sqe = encode(&b.request(HpreAlg::XdhMultiply, 32));
    let done = run(&mut tq, &sqe, &mut b);
    assert_eq!(
        done.outcome(),
        HpreOutcome::Error {
            etype: ETYPE_MALFORMED,
            etype1: 0
        }
    );
    // The same SQE on v3 works.
    let (_dev, mut tq) = open(QmVersion::V3, HpreQcType::Ecc);
    assert_eq!(run(&mut tq, &sqe, &mut b).outcome(), HpreOutcome::Ok);
}

#[test]
fn x25519_x448_rfc7748_through_the_device() {
    let (_dev, mut tq) = open(QmVersion::V3, HpreQcType::Ecc);
    // X25519: big-endian, clamped by software, u with the top bit cleared.
    let mut k: [u8; 32] = rev(&hex(X25519_ALICE_PRIV)).try_into().unwrap();
    x25519_clamp_be(&mut k);
    let key = layout::x_dh_key_block(&X25519_P, &X25519_A24, &k, 32).unwrap();
    let mut b = Bufs::new(key.clone(), rev(&hex(X25519_BOB_PUB)), 32);
    assert_eq!(
        run_req(&mut tq, &b.request(HpreAlg::XdhMultiply, 32), &mut b).outcome(),
        HpreOutcome::Ok
    );
    assert_eq!(rev(&b.out), hex(X25519_SHARED));
    // u with the top bit set (software clears it): out of range.
    let mut u = rev(&hex(X25519_BOB_PUB));
    u[0] |= 0x80;
    let mut b = Bufs::new(key, u, 32);
    let done = run_req(&mut tq, &b.request(HpreAlg::XdhMultiply, 32), &mut b);
    assert_eq!(
        done.outcome(),
        HpreOutcome::Error {
            etype: ETYPE_BAD_INPUT,
            etype1: 0
        }
    );
    // X448: h = 72, 16 zero bytes before each 56-byte number.
    let mut k = [0u8; 72];
    k[16..].copy_from_slice(&rev(&hex(X448_ALICE_PRIV)));
    x448_clamp_be(&mut k);
    let key = layout::x_dh_key_block(&X448_P, &X448_A24, &k, 72).unwrap();
    let mut b = Bufs::new(key, pad(&rev(&hex(X448_BOB_PUB)), 72), 72);
    assert_eq!(
        run_req(&mut tq, &b.request(HpreAlg::XdhMultiply, 72), &mut b).outcome(),
        HpreOutcome::Ok
    );
    assert_eq!(rev(&b.out[16..]), hex(X448_SHARED));
}

#[test]
fn ecdsa_ecdh_through_the_device() {
    let (dev, mut tq) = open(QmVersion::V3, HpreQcType::Ecc);
    dev.set_trace(true);
    for (id, v) in [
        (CurveId::P256, &ECDSA_P256),
        (CurveId::P384, &ECDSA_P384),
        (CurveId::P521, &ECDSA_P521),
    ] {
        let h = id.width();
        let c = owned(id);
        let prv = layout::ecc_private_block(&view(&c), &hex(v.d), h).unwrap();
        // ECDH keygen as UADK sends it: key = the private block's first five fields, in = its Gx ‖ Gy. On P-256
        // (hw v3) UADK sets bd_rsv2.
        let g = prv[ecc_private::GX * h..].to_vec();
        let mut b = Bufs::new(prv[..5 * h].to_vec(), g, 2 * h);
        let mut req = b.request(HpreAlg::EcdhMultiply, h);
        req.hpcore = id == CurveId::P256;
        assert_eq!(run_req(&mut tq, &req, &mut b).outcome(), HpreOutcome::Ok);
        assert_eq!(b.out, [pad(&hex(v.qx), h), pad(&hex(v.qy), h)].concat());
        if id == CurveId::P384 {
            // bd_rsv2 on P-384: UADK never sets it there.
            req.hpcore = true;
            let done = run_req(&mut tq, &req, &mut b);
            assert_eq!(
                done.outcome(),
                HpreOutcome::Error {
                    etype: ETYPE_MALFORMED,
                    etype1: 0
                }
            );
        }
        // Sign.
        let input = [pad(&hex(v.m), h), pad(&hex(v.k), h)].concat();
        let mut b = Bufs::new(prv.clone(), input, 2 * h);
        assert_eq!(
            run_req(&mut tq, &b.request(HpreAlg::EcdsaSign, h), &mut b).outcome(),
            HpreOutcome::Ok
        );
        assert_eq!(b.out, [pad(&hex(v.r), h), pad(&hex(v.s), h)].concat());
        // Verify: dw6 bit 1 carries the answer, whatever bit 1 of the address was.
        let pb = layout::ecc_public_block(&view(&c), &hex(v.qx), &hex(v.qy), h).unwrap();
        for (s, r, valid) in [(v.s, v.r, true), (v.r, v.s, false)] {
            let input = [pad(&hex(v.m), h), pad(&hex(s), h), pad(&hex(r), h)].concat();
            let mut b = Bufs::new(pb.clone(), input, 0);
            let done = run_req(&mut tq, &b.request(HpreAlg::EcdsaVerify, h), &mut b);
            let want = if valid {
                HpreOutcome::Ok
            } else {
                HpreOutcome::VerifyFailed
            };
            assert_eq!(done.outcome(), want, "{id:?}");
            assert_eq!(done.verify_bit, valid);
        }
        // A point off the curve.
        let mut off = [pad(&hex(v.qx), h), pad(&hex(v.qy), h)].concat();
        off[2 * h - 1] ^= 1;
        let mut b = Bufs::new(prv[..5 * h].to_vec(), off, 2 * h);
        let done = run_req(&mut tq, &b.request(HpreAlg::EcdhMultiply, h), &mut b);
        assert_eq!(
            done.outcome(),
            HpreOutcome::Error {
                etype: ETYPE_NOT_ON_CURVE,
                etype1: 0
            }
        );
    }
    // The trace shows the key and input blocks the device read (first record: the P-256 keygen).
    let t = dev.take_trace();
    let first = &t[0];
    assert_eq!(first.read("key").unwrap().bytes.len(), 5 * 32);
    assert_eq!(first.read("in").unwrap().bytes.len(), 2 * 32);
    assert_eq!(&first.sqe[4..8], &[0x03, 0, 0, 0x80]);
}

#[test]
fn sm2_through_the_device() {
    let (_dev, mut tq) = open(QmVersion::V3, HpreQcType::Ecc);
    let c = owned(CurveId::Sm2);
    let prv = layout::ecc_private_block(&view(&c), &hex(SM2_D), 32).unwrap();
    let pb = layout::ecc_public_block(&view(&c), &hex(SM2_PX), &hex(SM2_PY), 32).unwrap();
    // Decrypt OpenSSL's ciphertext (C1 ‖ C2 ‖ C3), dw10 = len − 1.
    let ct = [hex(SM2_C1X), hex(SM2_C1Y), hex(SM2_C2), hex(SM2_C3)].concat();
    let m = SM2_MSG.len();
    let mut b = Bufs::new(prv.clone(), ct.clone(), m);
    let mut req = b.request(HpreAlg::Sm2Decrypt, 32);
    req.dw10 = Dw10::MsgLen(m as u16);
    assert_eq!(run_req(&mut tq, &req, &mut b).outcome(), HpreOutcome::Ok);
    assert_eq!(b.out, SM2_MSG);
    // A broken C3.
    let mut bad = ct.clone();
    *bad.last_mut().unwrap() ^= 0x01;
    let mut b = Bufs::new(prv.clone(), bad, m);
    let mut req = b.request(HpreAlg::Sm2Decrypt, 32);
    req.dw10 = Dw10::MsgLen(m as u16);
    let done = run_req(&mut tq, &req, &mut b);
    assert_eq!(
        done.outcome(),
        HpreOutcome::Error {
            etype: ETYPE_DECRYPT_CHECK,
            etype1: 0
        }
    );
    // Encrypt with the hardware's k (sm2_ksel; the k field is zero as UADK leaves it), then decrypt.
    let msg = b"hello, SM2 on an emulated Kunpeng 930";
    let mut b = Bufs::new(
        pb.clone(),
        [vec![0u8; 32], msg.to_vec()].concat(),
        64 + msg.len() + 32,
    );
    let mut req = b.request(HpreAlg::Sm2Encrypt, 32);
    req.sm2_ksel = true;
    req.dw10 = Dw10::MsgLen(msg.len() as u16);
    assert_eq!(&encode(&req)[4..8], &[0x03, 0, 0, 0x02]);
    assert_eq!(run_req(&mut tq, &req, &mut b).outcome(), HpreOutcome::Ok);
    let mut d = Bufs::new(prv.clone(), b.out.clone(), msg.len());
    let mut req = d.request(HpreAlg::Sm2Decrypt, 32);
    req.dw10 = Dw10::MsgLen(msg.len() as u16);
    assert_eq!(run_req(&mut tq, &req, &mut d).outcome(), HpreOutcome::Ok);
    assert_eq!(d.out, msg);
    // Sign with the hardware's k, verify (e ‖ s ‖ r).
    let e = [0x3Cu8; 32];
    let mut s = Bufs::new(prv, [e.to_vec(), vec![0; 32]].concat(), 64);
    let mut req = s.request(HpreAlg::Sm2Sign, 32);
    req.sm2_ksel = true;
    assert_eq!(run_req(&mut tq, &req, &mut s).outcome(), HpreOutcome::Ok);
    let mut v = Bufs::new(
        pb,
        [e.to_vec(), s.out[32..].to_vec(), s.out[..32].to_vec()].concat(),
        0,
    );
    assert_eq!(
        run_req(&mut tq, &v.request(HpreAlg::Sm2Verify, 32), &mut v).outcome(),
        HpreOutcome::Ok
    );
}

/// SQEs with one field scrambled (addresses kept pointing at the job's own buffers) never hang or panic the
/// device, and each completes, with an error unless the scrambled field was one the engine may accept.
#[test]
fn scrambled_sqes_complete_without_panics() {
    let (dev, mut tq) = open(QmVersion::V3, HpreQcType::Ecc);
    let c = owned(CurveId::P256);
    let prv = layout::ecc_private_block(&view(&c), &hex(ECDSA_P256.d), 32).unwrap();
    let input = [pad(&hex(ECDSA_P256.m), 32), pad(&hex(ECDSA_P256.k), 32)].concat();
    let mut b = Bufs::new(prv, input, 4096);
    let good = encode(&b.request(HpreAlg::EcdsaSign, 32));
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut ok = 0;
    for i in 0..300 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let mut sqe = good;
        // dw0, dw1, dw10..15 only: the address fields keep naming this job's buffers.
        let dw = [0usize, 1, 10, 11, 12, 13, 14, 15][i % 8];
        sqe[dw * 4..dw * 4 + 4].copy_from_slice(&(x as u32).to_le_bytes());
        if run(&mut tq, &sqe, &mut b).outcome() == HpreOutcome::Ok {
            ok += 1;
        }
    }
    let counters = dev.counters();
    assert_eq!(counters.completed, 300);
    assert_eq!(counters.failed, 300 - ok);
    assert!(ok < 10, "{ok} scrambled SQEs were accepted");
}
