//! The soft HPRE device SQE by SQE (issue 14): 64-byte SQEs on its RSA (type 0) and ECC (type 1) queues, results
//! equal to the CPU backend's code (`uacce_soft::pkey`, which uacce-emu also runs) and RFC 7748; the error types of
//! uacce-emu's HPRE engine for a bad key, a bad input, a point off the curve, a code the device does not compute
//! (0x040) and an SQE the strict decoder refuses (0x7ff).

use super::*;

use uacce_soft::pkey::{self, CurveId, PkeyJob, PkeyOutput};
use uacce_sys::qm::hpre::{self, layout, HpreAlg, HpreRequest, X25519_A24, X25519_P};
use uacce_sys::qm::SQE_SIZE;
use uacce_testkit::hex;

fn hpre_dev() -> String {
    devices("soft_hpre-").into_iter().next().unwrap_or_default()
}

/// The SQE of `req`, in a ring-sized buffer.
fn sqe_of(req: &HpreRequest) -> Sqe {
    let mut s = [0u8; SQE_SIZE];
    s[..hpre::HPRE_SQE_SIZE].copy_from_slice(&hpre::encode(req));
    s
}

/// Run `s` and return (done, etype, etype1, tag).
fn run(q: &mut Queue, s: &Sqe) -> Result<(u8, u16, u16, u64), String> {
    // SAFETY: every caller builds `s` from its own locals (key, input and output blocks), which outlive this call and
    // are untouched during it; `run` returns with the completion consumed, or stops the queue first.
    let r = unsafe { q.run(s) }.map_err(e2s)?;
    let c = hpre::read_result(&r);
    Ok((c.done, c.etype, c.etype1, c.tag))
}

/// Run a job that must succeed (done 3, no error, tag kept).
fn run_ok(q: &mut Queue, req: &HpreRequest, what: &str) -> TestResult {
    let (done, etype, etype1, tag) = run(q, &sqe_of(req))?;
    check!(done == 3 && etype == 0 && etype1 == 0, "{what}: done {done} etype {etype:#x} etype1 {etype1:#x}");
    check!(tag == req.tag, "{what}: tag {tag:#x}");
    Ok(())
}

/// Run an SQE that must fail with `want` (etype; done 3).
fn run_err(q: &mut Queue, s: &Sqe, want: u16, what: &str) -> TestResult {
    let (done, etype, etype1, _) = run(q, s)?;
    check!(done == 3 && etype == want && etype1 == 0, "{what}: done {done} etype {etype:#x} (want {want:#x}) etype1 {etype1:#x}");
    Ok(())
}

fn addr(b: &[u8]) -> u64 {
    b.as_ptr() as u64
}

/// The address of an output block (the device writes it).
fn addr_mut(b: &mut [u8]) -> u64 {
    b.as_mut_ptr() as u64
}

fn cpu(alg: HpreAlg, width: usize, key: &[u8], input: &[u8]) -> Result<Vec<u8>, String> {
    let job = PkeyJob { alg, width, key, input, msg_len: 0, random_k: false };
    match pkey::execute(&job) {
        Ok(PkeyOutput::Data(d)) => Ok(d),
        r => Err(format!("CPU {alg:?}: {r:?}")),
    }
}

const ETYPE_BAD_KEY: u16 = 0x001;
const ETYPE_BAD_INPUT: u16 = 0x002;
const ETYPE_NOT_ON_CURVE: u16 = 0x004;
const ETYPE_UNSUPPORTED: u16 = 0x040;
const ETYPE_MALFORMED: u16 = 0x7ff;

pub(super) fn hpre_raw_queue() -> TestResult {
    let dev = hpre_dev();
    // RSA NC_NCRT with a 2048-bit odd modulus and e = 65537 on a type-0 queue, equal to the CPU code
    let mut q = Queue::open_hpre(&dev, 0).map_err(e2s)?;
    let k = 256;
    let mut n = data(k, 31);
    n[0] |= 0x80;
    n[k - 1] |= 1;
    let key = layout::rsa_key_block(&[1, 0, 1], &n, k).map_err(|e| e.to_string())?;
    let mut input = data(k, 32);
    input[0] &= 0x7f;
    let mut out = vec![0u8; k];
    let req = HpreRequest::new(HpreAlg::RsaNonCrt, k, addr(&key), addr(&input), addr_mut(&mut out), 0x1234);
    run_ok(&mut q, &req, "RSA-2048 NC_NCRT")?;
    check!(out == cpu(HpreAlg::RsaNonCrt, k, &key, &input)?, "RSA-2048: differs from the CPU code");
    // input >= n: bad input; an even modulus: bad key
    let req = HpreRequest::new(HpreAlg::RsaNonCrt, k, addr(&key), addr(&n), addr_mut(&mut out), 1);
    run_err(&mut q, &sqe_of(&req), ETYPE_BAD_INPUT, "RSA input = n")?;
    let mut even = n.clone();
    even[k - 1] &= 0xfe;
    let bad_key = layout::rsa_key_block(&[1, 0, 1], &even, k).map_err(|e| e.to_string())?;
    let req = HpreRequest::new(HpreAlg::RsaNonCrt, k, addr(&bad_key), addr(&input), addr_mut(&mut out), 1);
    run_err(&mut q, &sqe_of(&req), ETYPE_BAD_KEY, "RSA even modulus")?;
    // DH: a valid SQE the device does not compute
    let req = HpreRequest::new(HpreAlg::Dh, k, addr(&key), addr(&input), addr_mut(&mut out), 1);
    run_err(&mut q, &sqe_of(&req), ETYPE_UNSUPPORTED, "DH")?;
    // The strict decoder: an ECC code on a type-0 queue, done != 1, a reserved dword, a width RSA does not take
    let req = HpreRequest::new(HpreAlg::XdhMultiply, 32, addr(&key), addr(&input), addr_mut(&mut out), 1);
    run_err(&mut q, &sqe_of(&req), ETYPE_MALFORMED, "X25519 on a type-0 queue")?;
    let good = sqe_of(&HpreRequest::new(HpreAlg::RsaNonCrt, k, addr(&key), addr(&input), addr_mut(&mut out), 1));
    let mut s = good;
    s[3] &= 0x3f; // done = 0
    run_err(&mut q, &s, ETYPE_MALFORMED, "done 0")?;
    let mut s = good;
    s[48] = 1; // dw12
    run_err(&mut q, &s, ETYPE_MALFORMED, "dw12 set")?;
    let mut s = good;
    s[4] = 0x17; // task_len1 of a 192-byte (1536-bit) width, which the hardware does not take for RSA
    run_err(&mut q, &s, ETYPE_MALFORMED, "RSA-1536 width")?;
    // Still in order afterwards
    out.fill(0);
    run_ok(&mut q, &HpreRequest::new(HpreAlg::RsaNonCrt, k, addr(&key), addr(&input), addr_mut(&mut out), 2), "RSA again")?;
    check!(out == cpu(HpreAlg::RsaNonCrt, k, &key, &input)?, "RSA-2048 again: differs from the CPU code");
    drop(q);

    // Type 1: X25519 (RFC 7748 5.2, first vector), big-endian blocks, the scalar clamped by software
    let mut q = Queue::open_hpre(&dev, 1).map_err(e2s)?;
    let mut kb: [u8; 32] = hex("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4").try_into().unwrap();
    kb.reverse();
    hpre::x25519_clamp_be(&mut kb);
    let mut u = hex("e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c");
    u.reverse();
    let xkey = layout::x_dh_key_block(&X25519_P, &X25519_A24, &kb, 32).map_err(|e| e.to_string())?;
    let mut xo = vec![0u8; 32];
    run_ok(&mut q, &HpreRequest::new(HpreAlg::XdhMultiply, 32, addr(&xkey), addr(&u), addr_mut(&mut xo), 7), "X25519")?;
    xo.reverse();
    check!(xo == hex("c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552"), "X25519 RFC 7748 5.2");
    // An unclamped scalar: bad key
    let mut unclamped = xkey.clone();
    unclamped[64] |= 0x80;
    let req = HpreRequest::new(HpreAlg::XdhMultiply, 32, addr(&unclamped), addr(&u), addr_mut(&mut xo), 7);
    run_err(&mut q, &sqe_of(&req), ETYPE_BAD_KEY, "X25519 unclamped scalar")?;

    // ECDH multiply on P-256 with UADK's bd_rsv2, equal to the CPU code; a point off the curve
    let c = pkey::curve_params(CurveId::P256);
    let params = c.layout();
    let mut d = data(32, 41);
    d[0] &= 0x7f; // < n
    let mut ekey = layout::ecc_private_block(&params, &d, 32).map_err(|e| e.to_string())?;
    ekey.truncate(5 * 32);
    let g = [&c.gx[..], &c.gy[..]].concat();
    let mut eo = vec![0u8; 64];
    let mut req = HpreRequest::new(HpreAlg::EcdhMultiply, 32, addr(&ekey), addr(&g), addr_mut(&mut eo), 9);
    req.hpcore = true;
    run_ok(&mut q, &req, "ECDH P-256 k·G")?;
    check!(eo == cpu(HpreAlg::EcdhMultiply, 32, &ekey, &g)?, "ECDH P-256 k·G: differs from the CPU code");
    let p = eo.clone();
    let mut eo2 = vec![0u8; 64];
    let req = HpreRequest::new(HpreAlg::EcdhMultiply, 32, addr(&ekey), addr(&p), addr_mut(&mut eo2), 9);
    run_ok(&mut q, &req, "ECDH P-256 k·P")?;
    check!(eo2 == cpu(HpreAlg::EcdhMultiply, 32, &ekey, &p)?, "ECDH P-256 k·P: differs from the CPU code");
    let mut off = p.clone();
    off[63] ^= 1;
    let req = HpreRequest::new(HpreAlg::EcdhMultiply, 32, addr(&ekey), addr(&off), addr_mut(&mut eo2), 9);
    run_err(&mut q, &sqe_of(&req), ETYPE_NOT_ON_CURVE, "ECDH point off the curve")?;
    // ECDSA sign on P-256: valid, not computed by the soft device
    let full = layout::ecc_private_block(&params, &d, 32).map_err(|e| e.to_string())?;
    let ein = [data(32, 42), data(32, 43)].concat();
    let req = HpreRequest::new(HpreAlg::EcdsaSign, 32, addr(&full), addr(&ein), addr_mut(&mut eo), 9);
    run_err(&mut q, &sqe_of(&req), ETYPE_UNSUPPORTED, "ECDSA sign")?;
    // RSA on an ECC queue: refused by the decoder
    let req = HpreRequest::new(HpreAlg::RsaNonCrt, k, addr(&key), addr(&input), addr_mut(&mut out), 1);
    run_err(&mut q, &sqe_of(&req), ETYPE_MALFORMED, "RSA on a type-1 queue")?;
    Ok(())
}
