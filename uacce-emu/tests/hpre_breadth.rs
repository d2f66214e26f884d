//! The emulated HPRE device on the operations added for issue 14's breadth: the split-SM2 multiplies (alg 0x0D
//! with bd_rsv2 and the dw10 marker, protocol doc §12.4) and RSA key generation (KG_STD 0x02 / KG_CRT 0x03), end
//! to end on the device's rings, with the strict checks UADK's SQEs pass and others fail.

#[path = "../../uacce-soft/tests/vectors.rs"]
mod vectors;

use std::time::Duration;

use uacce_emu::{DeviceKind, EmuConfig, EmuDevice, EmuQueue};
use uacce_soft::pkey::{CurveId, curve_params};
use uacce_sys::qm::hpre::layout::{self, CurveParams, ecc_private};
use uacce_sys::qm::hpre::*;
use uacce_sys::qm::{DriverRing, QmVersion};

use vectors::{RSA1024, RSA2048, RsaVector};

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn pad(v: &[u8], w: usize) -> Vec<u8> {
    let mut out = vec![0u8; w - v.len()];
    out.extend_from_slice(v);
    out
}

/// The engine's etype values (`uacce_emu`'s HPRE engine; documented as this project's choice there).
const ETYPE_BAD_KEY: u16 = 0x001;
const ETYPE_NOT_ON_CURVE: u16 = 0x004;
const ETYPE_MALFORMED: u16 = 0x7FF;

struct Tq {
    _q: EmuQueue,
    ring: DriverRing,
}

fn open(version: QmVersion, qc: HpreQcType) -> (EmuDevice, Tq) {
    let dev = EmuDevice::new(EmuConfig::new(DeviceKind::Hpre).version(version).depth(8));
    let q = dev.open_queue(qc.code()).unwrap();
    let ring = q.driver_ring().unwrap();
    (dev, Tq { _q: q, ring })
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
        HpreRequest::new(
            alg,
            width,
            Self::addr(&self.key),
            Self::addr(&self.input),
            self.out.as_ptr() as u64,
            0x5A5,
        )
    }
}

/// Submit one SQE naming `b`'s buffers and wait for its completion.
fn run(tq: &mut Tq, sqe: &HpreSqe, b: &mut Bufs) -> HpreCompletion {
    let _hold = &mut *b;
    // SAFETY: every buffer the SQE names belongs to `b`, which is borrowed mutably for the whole call and stays
    // allocated and untouched until the completion is consumed below; on an error the job may still be in flight,
    // so the process aborts instead of freeing them.
    match unsafe { tq.ring.run_blocking(sqe, Duration::from_secs(30)) } {
        Ok(c) => read_result(c.sqe_bytes()),
        Err(e) => {
            eprintln!("run_blocking failed ({e}); aborting: the job may still own its buffers");
            std::process::abort()
        }
    }
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

fn err(etype: u16) -> HpreOutcome {
    HpreOutcome::Error { etype, etype1: 0 }
}

/// Split SM2 as UADK sends it: k·G and k·P with bd_rsv2 and the marker 0xE, d·C1 with 0xF; results equal to the
/// `sm2` crate's point multiplication. Refused: the marker without bd_rsv2, the marker on another curve, the
/// kernel's layout (Gx in the fifth field instead of n), the marker on an unmarked-only algorithm, a zero scalar,
/// a point off the curve.
#[test]
fn split_sm2_multiplies() {
    use sm2::elliptic_curve::sec1::ToEncodedPoint;
    let (_dev, mut tq) = open(QmVersion::V3, HpreQcType::Ecc);
    let c = curve_params(CurveId::Sm2);
    let k = [0x3Cu8; 32];
    let kblock = layout::ecc_private_block(&view(&c), &k, 32).unwrap();
    let key5 = kblock[..ecc_private::MULTIPLY_FIELDS * 32].to_vec();
    let g = [c.gx.clone(), c.gy.clone()].concat();
    let sk = sm2::SecretKey::from_slice(&k).unwrap();
    let kg = sk.public_key().to_encoded_point(false);
    // A peer public key P = 7·G.
    let mut seven = [0u8; 32];
    seven[31] = 7;
    let p = sm2::SecretKey::from_slice(&seven).unwrap().public_key();
    let pxy = p.to_encoded_point(false).as_bytes()[1..].to_vec();
    // k·P = (7k)·G.
    let sk7 = sm2::SecretKey::new(sm2::elliptic_curve::ScalarPrimitive::from(
        *sk.to_nonzero_scalar()
            * *sm2::SecretKey::from_slice(&seven)
                .unwrap()
                .to_nonzero_scalar(),
    ));
    let kp = sk7.public_key().to_encoded_point(false);
    for (mark, input, want) in [
        (
            layout::SPLIT_MARK_ENCRYPT,
            g.clone(),
            kg.as_bytes()[1..].to_vec(),
        ),
        (
            layout::SPLIT_MARK_ENCRYPT,
            pxy.clone(),
            kp.as_bytes()[1..].to_vec(),
        ),
        (
            layout::SPLIT_MARK_DECRYPT,
            pxy.clone(),
            kp.as_bytes()[1..].to_vec(),
        ),
    ] {
        let mut b = Bufs::new(key5.clone(), input, 64);
        let mut req = b.request(HpreAlg::EcdhMultiply, 32);
        req.hpcore = true;
        req.dw10 = Dw10::SplitMark(mark);
        req.validate(QmVersion::V3).unwrap();
        assert_eq!(
            run(&mut tq, &encode(&req), &mut b).outcome(),
            HpreOutcome::Ok
        );
        assert_eq!(b.out, want);
        // The marker without bd_rsv2: UADK always sets both (the codec refuses to encode it, so the SQE is
        // patched: dw1 bit 31 cleared).
        let mut sqe = encode(&req);
        sqe[7] &= 0x7F;
        assert_eq!(run(&mut tq, &sqe, &mut b).outcome(), err(ETYPE_MALFORMED));
        // The kernel's layout (Gx where UADK puts n): not what UADK's split SQEs carry.
        let mut kernel = key5.clone();
        kernel[128..160].copy_from_slice(&c.gx);
        let mut b2 = Bufs::new(kernel, b.input.clone(), 64);
        let mut req2 = b2.request(HpreAlg::EcdhMultiply, 32);
        req2.hpcore = true;
        req2.dw10 = Dw10::SplitMark(mark);
        assert_eq!(
            run(&mut tq, &encode(&req2), &mut b2).outcome(),
            err(ETYPE_MALFORMED)
        );
        // Without marker and bd_rsv2 the same multiply is an ordinary ECDH one (and gives the same point).
        let mut plain = b.request(HpreAlg::EcdhMultiply, 32);
        plain.hpcore = false;
        b.out.fill(0);
        assert_eq!(
            run(&mut tq, &encode(&plain), &mut b).outcome(),
            HpreOutcome::Ok
        );
        assert_eq!(b.out, want);
    }
    // The marker on P-256 (UADK's split path is SM2 only).
    let p256 = curve_params(CurveId::P256);
    let pblock = layout::ecc_private_block(&view(&p256), &k, 32).unwrap();
    let mut b = Bufs::new(pblock[..160].to_vec(), pblock[160..].to_vec(), 64);
    let mut req = b.request(HpreAlg::EcdhMultiply, 32);
    req.hpcore = true;
    req.dw10 = Dw10::SplitMark(layout::SPLIT_MARK_ENCRYPT);
    assert_eq!(
        run(&mut tq, &encode(&req), &mut b).outcome(),
        err(ETYPE_MALFORMED)
    );
    // Any other marker value, or a marker on another algorithm: refused by decode.
    let mut b = Bufs::new(key5.clone(), g.clone(), 64);
    let mut req = b.request(HpreAlg::EcdhMultiply, 32);
    req.hpcore = true;
    req.dw10 = Dw10::SplitMark(layout::SPLIT_MARK_ENCRYPT);
    let mut sqe = encode(&req);
    sqe[40] = 0x0D;
    assert_eq!(run(&mut tq, &sqe, &mut b).outcome(), err(ETYPE_MALFORMED));
    // A zero scalar and a point off the curve.
    let zero = layout::ecc_private_block(&view(&c), &[0], 32).unwrap();
    let mut b = Bufs::new(zero[..160].to_vec(), g.clone(), 64);
    let mut req = b.request(HpreAlg::EcdhMultiply, 32);
    req.hpcore = true;
    req.dw10 = Dw10::SplitMark(layout::SPLIT_MARK_DECRYPT);
    assert_eq!(
        run(&mut tq, &encode(&req), &mut b).outcome(),
        err(ETYPE_BAD_KEY)
    );
    let mut off = g.clone();
    off[63] ^= 1;
    let mut b = Bufs::new(key5, off, 64);
    let mut req = b.request(HpreAlg::EcdhMultiply, 32);
    req.hpcore = true;
    req.dw10 = Dw10::SplitMark(layout::SPLIT_MARK_DECRYPT);
    assert_eq!(
        run(&mut tq, &encode(&req), &mut b).outcome(),
        err(ETYPE_NOT_ON_CURVE)
    );
}

/// The keygen key block e(k) ‖ p(k/2) ‖ q(k/2) (UADK `wd_rsa_new_kg_in`).
fn kg_block(e: &[u8], p: &[u8], q: &[u8], k: usize) -> Vec<u8> {
    [pad(e, k), pad(p, k / 2), pad(q, k / 2)].concat()
}

/// KG_STD and KG_CRT on keys OpenSSL generated (RSA-1024 and RSA-2048, on v2 and v3): n equals the key's n; the
/// device's d decrypts the key's known ciphertext on the device (NC_NCRT, d ‖ n), so it is a valid private exponent
/// (it may differ from OpenSSL's, which is taken modulo lcm(p−1, q−1)); dp, dq and qinv are OpenSSL's exactly and
/// KG_CRT leaves d ‖ n zero. The SQE carries input address 0.
#[test]
fn rsa_keygen_on_openssl_keys() {
    for version in [QmVersion::V2, QmVersion::V3] {
        let (dev, mut tq) = open(version, HpreQcType::RsaDh);
        for (v, k) in [(&RSA1024, 128usize), (&RSA2048, 256)] {
            let v: &RsaVector = v;
            let key = kg_block(&hex(v.e), &hex(v.p), &hex(v.q), k);
            // KG_STD: d ‖ n.
            let mut b = Bufs::new(key.clone(), Vec::new(), 2 * k);
            let req = b.request(HpreAlg::RsaKeygen, k);
            assert_eq!(req.input, 0);
            req.validate(version).unwrap();
            dev.set_trace(true);
            let _ = dev.take_trace();
            assert_eq!(
                run(&mut tq, &encode(&req), &mut b).outcome(),
                HpreOutcome::Ok
            );
            let t = dev.take_trace();
            dev.set_trace(false);
            assert_eq!(
                &t[0].sqe[..8],
                &[0x02, 0, 0, 0x40, (k / 8 - 1) as u8, 0, 0, 0]
            );
            assert_eq!(&t[0].sqe[16..24], &[0; 8]);
            assert_eq!(t[0].read("key").unwrap().bytes.len(), 2 * k);
            let (d, n) = b.out.split_at(k);
            assert_eq!(n, &pad(&hex(v.n), k)[..]);
            let (d, n) = (d.to_vec(), n.to_vec());
            // The device's d decrypts: c^d mod n = m.
            let mut b = Bufs::new([d.clone(), n.clone()].concat(), pad(&hex(v.c), k), k);
            assert_eq!(
                run(&mut tq, &encode(&b.request(HpreAlg::RsaNonCrt, k)), &mut b).outcome(),
                HpreOutcome::Ok
            );
            assert_eq!(b.out, pad(&hex(v.m), k));
            // KG_CRT: 0(2k) ‖ qinv ‖ dq ‖ dp.
            let mut b = Bufs::new(key.clone(), Vec::new(), 2 * k + 3 * k / 2);
            let req = b.request(HpreAlg::RsaKeygenCrt, k);
            assert_eq!(
                run(&mut tq, &encode(&req), &mut b).outcome(),
                HpreOutcome::Ok
            );
            let h = k / 2;
            assert!(b.out[..2 * k].iter().all(|&x| x == 0));
            assert_eq!(&b.out[2 * k..2 * k + h], &pad(&hex(v.qinv), h)[..]);
            assert_eq!(&b.out[2 * k + h..2 * k + 2 * h], &pad(&hex(v.dq), h)[..]);
            assert_eq!(&b.out[2 * k + 2 * h..], &pad(&hex(v.dp), h)[..]);
        }
    }
}

/// Keygen inputs with no key, or SQEs UADK never sends: typed error completions, never a panic.
#[test]
fn rsa_keygen_refuses_what_has_no_key() {
    let (_dev, mut tq) = open(QmVersion::V3, HpreQcType::RsaDh);
    let k = 128;
    let (e, p, q) = (hex(RSA1024.e), hex(RSA1024.p), hex(RSA1024.q));
    let bad_keys: Vec<(&str, Vec<u8>)> = vec![
        ("even e", kg_block(&[0x01, 0x00, 0x00], &p, &q, k)),
        ("e = 1", kg_block(&[1], &p, &q, k)),
        ("p = q", kg_block(&e, &p, &p, k)),
        ("even q", kg_block(&e, &p, &[0x10; 64], k)),
        ("p = 1", kg_block(&e, &[1], &q, k)),
        ("q = 0", kg_block(&e, &p, &[0], k)),
        // e = 5 has no inverse modulo p − 1 = 10.
        ("gcd(e, p-1) = 5", kg_block(&[5], &[11], &[13], k)),
    ];
    for alg in [HpreAlg::RsaKeygen, HpreAlg::RsaKeygenCrt] {
        for (why, key) in &bad_keys {
            let mut b = Bufs::new(key.clone(), Vec::new(), 2 * k + 3 * k / 2);
            let done = run(&mut tq, &encode(&b.request(alg, k)), &mut b);
            assert_eq!(done.outcome(), err(ETYPE_BAD_KEY), "{alg:?}: {why}");
        }
        // An input address (UADK sends 0), and keygen on an ECC queue: malformed.
        let key = kg_block(&e, &p, &q, k);
        let mut b = Bufs::new(key.clone(), vec![1; 8], 2 * k + 3 * k / 2);
        let mut sqe = encode(&b.request(alg, k));
        sqe[16..24].copy_from_slice(&(b.input.as_ptr() as u64).to_le_bytes());
        assert_eq!(run(&mut tq, &sqe, &mut b).outcome(), err(ETYPE_MALFORMED));
        // A width no RSA key has (1536 bits).
        let mut b = Bufs::new(kg_block(&e, &p, &q, 192), Vec::new(), 2 * 192 + 3 * 96);
        let mut sqe = encode(&b.request(alg, 128));
        sqe[4] = 192 / 8 - 1;
        assert_eq!(run(&mut tq, &sqe, &mut b).outcome(), err(ETYPE_MALFORMED));
    }
    let (_dev, mut tq) = open(QmVersion::V3, HpreQcType::Ecc);
    let mut b = Bufs::new(kg_block(&e, &p, &q, k), Vec::new(), 2 * k);
    let sqe = encode(&b.request(HpreAlg::RsaKeygen, k));
    assert_eq!(run(&mut tq, &sqe, &mut b).outcome(), err(ETYPE_MALFORMED));
}
