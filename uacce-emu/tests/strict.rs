//! The strict device model: for each field the engines check (`src/exec/FIELDS.md`), a valid SQE with that field
//! changed fails with the malformed-BD status, on v2 and v3; the GCM rule (`a_ivin` must hold the IV) included.

use std::time::Duration;

use uacce_emu::{DeviceKind, EmuConfig, EmuDevice, EmuQueue};
use uacce_sys::qm::sec::{self, CipherDir, CipherMode, DigestAlg, SecOp, SecOutcome};
use uacce_sys::qm::zip::{
    self, HwBuffers, StreamState, ZipAlg, ZipMode, ZipRequest, ZipStatus, ZipWindow,
};
use uacce_sys::qm::{DriverRing, QmVersion, Sqe};
use uacce_testkit::{req, text};

struct Tq {
    q: EmuQueue,
    ring: DriverRing,
}

fn open(kind: DeviceKind, version: QmVersion, qc_type: u16) -> (EmuDevice, Tq) {
    let dev = EmuDevice::new(EmuConfig::new(kind).version(version));
    let q = dev.open_queue(qc_type).unwrap();
    let ring = q.driver_ring().unwrap();
    (dev, Tq { q, ring })
}

/// Submit one SQE, wait for its completion, return the completed SQE.
///
/// # Safety
/// Every buffer `sqe` names must stay valid and untouched until this returns. It returns only with the completion
/// consumed; if waiting fails the process aborts rather than free buffers under the device.
unsafe fn run(tq: &mut Tq, sqe: &Sqe) -> Sqe {
    let _ = tq.q.version();
    // SAFETY: the caller's promise lasts until this returns, which is only with the completion consumed.
    match unsafe { tq.ring.run_blocking(sqe, Duration::from_secs(10)) } {
        Ok(c) => c.sqe,
        Err(e) => {
            eprintln!("run_blocking failed ({e}); aborting");
            std::process::abort()
        }
    }
}

const VERSIONS: [QmVersion; 2] = [QmVersion::V2, QmVersion::V3];

fn sec_refused(done: &Sqe) -> bool {
    let r = sec::read_result(done);
    r.done && r.error_type == sec::ERROR_TYPE_INVALID_BD
}

/// `(what, byte offset, xor mask)`: one checked field each, per BD type and operation.
type Mutations = &'static [(&'static str, usize, u8)];

const BD2_COMMON: Mutations = &[
    ("reserved byte 3", 3, 0x01),
    ("nonce_len/huk/key_s/ci_gen", 4, 0x10),
    ("c_s", 5, 0x10),
    ("rhf/key types", 6, 0x02),
    ("cal_iv_addr_en", 7, 0x01),
    ("invalid", 7, 0x80),
    ("reserved byte 15", 15, 0x01),
    ("cs_ip_header_offset", 28, 0x01),
    ("salt0", 39, 0x01),
    ("reserved 42", 42, 0x01),
    ("c_pad_len_field", 46, 0x01),
    ("src_addr_type", 1, 0x80),
    ("dst_addr_type", 2, 0x04),
    ("auth_src_offset", 24, 0x01),
    ("iv_offset_l", 19, 0x01),
];
const BD2_CIPHER: Mutations = &[
    ("seq", 1, 0x01),
    ("de", 1, 0x02),
    ("mac_len", 8, 0x01),
    ("a_len", 16, 0x10),
    ("cipher_src_offset", 26, 0x01),
    ("long_a_data_len", 48, 0x08),
    ("a_ivin_addr", 56, 0x40),
    ("a_key_addr", 64, 0x40),
    ("mac_addr", 72, 0x40),
    ("c_width", 12, 0x40),
];
const BD2_DIGEST: Mutations = &[
    ("c_len", 20, 0x10),
    ("a_ivin_addr", 56, 0x40),
    ("a_key_addr", 64, 0x40),
    ("c_ivin_addr", 80, 0x40),
    ("c_key_addr", 88, 0x40),
    ("data_dst_addr", 104, 0x40),
    ("de", 1, 0x02),
];
const BD2_GCM: Mutations = &[
    ("seq", 1, 0x01),
    ("cipher_src_offset", 26, 0x01),
    ("mac_len", 8, 0x01),
];
const BD3_COMMON: Mutations = &[
    ("bd_invalid", 0, 0x10),
    ("bd_param reserved bits 20..23", 2, 0x10),
    ("bd_param reserved bits 24..31", 3, 0x01),
    ("src_addr_type", 1, 0x08),
    ("ci_gen", 4, 0x04),
    ("nonce_len", 7, 0x01),
    ("huk", 7, 0x10),
    ("auth_ivin reserved", 40, 0x01),
    ("auth_ivin reserved", 47, 0x01),
    ("salt", 60, 0x01),
    ("key_wrap_num", 59, 0x10),
    ("key_sel", 58, 0x20),
    ("auth_key_offset", 71, 0x01),
];
const BD3_CIPHER: Mutations = &[
    ("seq", 7, 0x40),
    ("a_ivin_addr", 32, 0x40),
    ("a_key_addr", 24, 0x40),
    ("mac_addr", 84, 0x40),
    ("long_a_data_len / no_scene reserved", 100, 0x08),
    ("no_scene reserved", 109, 0x01),
    ("auth", 56, 0x01),
];
const BD3_DIGEST: Mutations = &[
    ("c_len", 72, 0x10),
    ("a_ivin_addr", 32, 0x40),
    ("a_key_addr", 24, 0x40),
    ("c_key_addr", 48, 0x40),
    ("data_dst_addr", 76, 0x40),
    ("c_ivin_addr", 92, 0x40),
    ("stream_protocol", 108, 0x04),
    ("plaintext_type", 109, 0x01),
    ("pad_len_1p3", 110, 0x01),
    ("ctr_count_mode", 59, 0x04),
];
const BD3_GCM: Mutations = &[
    ("seq", 7, 0x40),
    ("cipher_src_offset", 66, 0x01),
    ("mac_len", 56, 0x10),
];

/// Run `sqe` unchanged (must succeed) and with each mutation (must be refused as malformed).
///
/// # Safety
/// The buffers `sqe` names stay valid for the whole call.
unsafe fn check_mutations(tq: &mut Tq, sqe: &Sqe, lists: &[Mutations], what: &str) {
    // SAFETY: forwarded from the caller.
    let done = unsafe { run(tq, sqe) };
    assert_eq!(
        sec::read_result(&done).outcome(),
        SecOutcome::Ok,
        "{what}: the valid BD"
    );
    for list in lists {
        for &(field, off, mask) in *list {
            let mut bad = *sqe;
            bad[off] ^= mask;
            // SAFETY: forwarded from the caller; a changed field names no other buffer (addresses become
            // nonzero only in slots the strict decode refuses before any access).
            let done = unsafe { run(tq, &bad) };
            assert!(
                sec_refused(&done),
                "{what} {:?}: {field} (byte {off} ^ {mask:#04x}) was not refused: {:?}",
                tq.q.version(),
                sec::read_result(&done)
            );
        }
    }
}

#[test]
fn sec_checked_fields_are_refused() {
    for v in VERSIONS {
        let (_dev, mut tq) = open(DeviceKind::Sec, v, 0);
        let (common, cipher, digest, gcm) = match v {
            QmVersion::V2 => (BD2_COMMON, BD2_CIPHER, BD2_DIGEST, BD2_GCM),
            _ => (BD3_COMMON, BD3_CIPHER, BD3_DIGEST, BD3_GCM),
        };
        let key = [7u8; 16];
        let iv = [9u8; 16];
        let src = text(64);
        let mut dst = vec![0u8; 64];
        let op = SecOp::Cipher(req::cipher(
            CipherMode::Cbc,
            CipherDir::Encrypt,
            &key,
            &iv,
            &src,
            &mut dst,
        ));
        let sqe = req::sec_sqe(op, 1, v);
        // SAFETY: the BD names locals that live until the end of this iteration.
        unsafe { check_mutations(&mut tq, &sqe, &[common, cipher], "CBC") };

        let mut mac = [0u8; 32];
        let op = SecOp::Digest(req::digest(DigestAlg::Sha256, None, &src, &mut mac));
        let sqe = req::sec_sqe(op, 2, v);
        // SAFETY: as above.
        unsafe { check_mutations(&mut tq, &sqe, &[common, digest], "SHA-256") };

        let nonce = [3u8; 12];
        let aiv = {
            let mut a = [0u8; 64];
            a[..12].copy_from_slice(&nonce);
            a
        };
        let mut tag = [0u8; 16];
        let mut out = vec![0u8; 64];
        let op = SecOp::Aead(req::gcm(
            CipherDir::Encrypt,
            req::Gcm {
                key: &key,
                iv: &nonce,
                aiv: &aiv,
                aad_len: 16,
                src: &src,
                dst: &mut out,
                mac: &mut tag,
            },
        ));
        let sqe = req::sec_sqe(op, 3, v);
        // SAFETY: as above.
        unsafe { check_mutations(&mut tq, &sqe, &[common, gcm], "GCM") };
    }
}

/// The GCM rule: a_ivin must hold the IV. A correct BD gives the published ciphertext and tag (GCM spec test case
/// 4); a zeroed or altered a_ivin is refused, on v2 and v3.
#[test]
fn gcm_a_ivin_must_hold_the_iv() {
    let uacce_testkit::GcmVector {
        key,
        iv,
        aad,
        pt,
        ct,
        tag: want_tag,
    } = uacce_testkit::gcm_test_case_4();
    let src = [aad.clone(), pt.clone()].concat();
    for v in VERSIONS {
        let (_dev, mut tq) = open(DeviceKind::Sec, v, 0);
        let mut cases: Vec<(&str, [u8; 64], bool)> = Vec::new();
        let mut good = [0u8; 64];
        good[..12].copy_from_slice(&iv);
        cases.push(("a_ivin = IV", good, true));
        cases.push(("a_ivin zeroed", [0u8; 64], false));
        let mut flipped = good;
        flipped[11] ^= 1;
        cases.push(("a_ivin last IV byte altered", flipped, false));
        let mut stale = [0xA5u8; 64];
        stale[..11].copy_from_slice(&iv[..11]);
        cases.push(("a_ivin holding a previous job's bytes", stale, false));
        for (what, aiv, ok) in cases {
            let mut dst = vec![0u8; src.len()];
            let mut tag = [0u8; 16];
            let op = SecOp::Aead(req::gcm(
                CipherDir::Encrypt,
                req::Gcm {
                    key: &key,
                    iv: &iv,
                    aiv: &aiv,
                    aad_len: aad.len(),
                    src: &src,
                    dst: &mut dst,
                    mac: &mut tag,
                },
            ));
            let sqe = req::sec_sqe(op, 5, v);
            // SAFETY: the BD names locals of this iteration, alive until `run` returns.
            let done = unsafe { run(&mut tq, &sqe) };
            if ok {
                assert_eq!(
                    sec::read_result(&done).outcome(),
                    SecOutcome::Ok,
                    "{v:?} {what}"
                );
                assert_eq!(dst[aad.len()..], ct[..], "{v:?} {what}");
                assert_eq!(tag[..], want_tag[..], "{v:?} {what}");
            } else {
                assert!(sec_refused(&done), "{v:?} {what}: not refused");
                assert!(dst.iter().all(|&b| b == 0), "{v:?} {what}: wrote output");
            }
        }
    }
}

fn zip_refused(done: &Sqe) -> bool {
    zip::read_result(done).status == ZipStatus::Other(zip::STATUS_INVALID_SQE)
}

fn set_dw(s: &mut Sqe, dw: usize, v: u32) {
    s[dw * 4..dw * 4 + 4].copy_from_slice(&v.to_le_bytes());
}

fn get_dw(s: &Sqe, dw: usize) -> u32 {
    u32::from_le_bytes(s[dw * 4..dw * 4 + 4].try_into().unwrap())
}

#[test]
fn zip_checked_fields_are_refused() {
    let src = text(4096);
    for v in VERSIONS {
        let (_dev, mut tq) = open(DeviceKind::Zip, v, 0);
        for alg in [ZipAlg::Zlib, ZipAlg::Gzip, ZipAlg::Deflate] {
            let mut dst = vec![0u8; 8192];
            let sqe = req::zip_block_sqe(alg, &src, &mut dst, 9, v);
            // SAFETY: the SQE names `src` and `dst`, alive until the end of this iteration.
            let done = unsafe { run(&mut tq, &sqe) };
            assert!(zip::read_result(&done).status.is_success(), "{v:?} {alg:?}");
            let type3 = get_dw(&sqe, 7) >> 28 == 3;
            let other_tag = if type3 { 13 } else { 26 };
            let mut dws = vec![
                0, 1, 2, 3, 5, 6, 8, 10, 11, 12, 15, 16, 17, 22, 24, 25, 27, 28, 29, 30, 31,
            ];
            dws.push(other_tag);
            for dw in dws {
                let mut bad = sqe;
                set_dw(&mut bad, dw, get_dw(&sqe, dw) ^ 1);
                // SAFETY: as above; the changed dword names no other buffer.
                let done = unsafe { run(&mut tq, &bad) };
                assert!(zip_refused(&done), "{v:?} {alg:?}: dw{dw} not refused");
            }
            for (dw, bit) in [(7usize, 24u32), (9, 16), (9, 31)] {
                let mut bad = sqe;
                set_dw(&mut bad, dw, get_dw(&sqe, dw) ^ (1 << bit));
                // SAFETY: as above.
                let done = unsafe { run(&mut tq, &bad) };
                assert!(
                    zip_refused(&done),
                    "{v:?} {alg:?}: dw{dw} bit {bit} not refused"
                );
            }
        }
    }
}

/// Stream mode: the first BD carries zeroed context words; every later BD carries exactly what the previous
/// completion wrote.
#[test]
fn zip_stream_carried_words_are_checked() {
    let src = text(8192);
    for v in VERSIONS {
        let (_dev, mut tq) = open(DeviceKind::Zip, v, 0);
        let ctx = vec![0u8; 64 * 1024];
        let ctx_addr = ctx.as_ptr() as u64 + zip::HW_CTX_OFFSET;
        let mut dst = vec![0u8; 16384];
        let bd = |state: StreamState, part: &[u8], dst: &mut [u8]| {
            zip::encode(
                &ZipRequest {
                    alg: ZipAlg::Gzip,
                    buffers: HwBuffers {
                        src_addr: part.as_ptr() as u64,
                        src_len: part.len() as u32,
                        dst_addr: dst.as_mut_ptr() as u64,
                        dst_avail: dst.len() as u32,
                    },
                    tag: 1,
                    window: ZipWindow::W32K,
                    mode: ZipMode::Stream(state),
                },
                v,
            )
        };
        let first = StreamState {
            ctx_addr,
            first: true,
            ..StreamState::default()
        };
        // A first BD with a nonzero ISIZE is refused.
        let bad_first = bd(StreamState { isize: 1, ..first }, &src[..4096], &mut dst);
        // SAFETY: the SQE names `src`, `dst` and `ctx`, alive until the end of this test.
        assert!(zip_refused(&unsafe { run(&mut tq, &bad_first) }), "{v:?}");
        let sqe = bd(first, &src[..4096], &mut dst);
        // SAFETY: as above.
        let done = unsafe { run(&mut tq, &sqe) };
        let c = zip::read_result(&done);
        assert!(c.status.is_success(), "{v:?}: {c:?}");
        let next = c.next_stream_state(ctx_addr, true);
        for (what, state) in [
            (
                "checksum",
                StreamState {
                    checksum: next.checksum ^ 1,
                    ..next
                },
            ),
            (
                "isize",
                StreamState {
                    isize: next.isize + 1,
                    ..next
                },
            ),
            (
                "ctx_dw1",
                StreamState {
                    ctx_dw1: next.ctx_dw1 ^ 4,
                    ..next
                },
            ),
        ] {
            let sqe = bd(state, &src[4096..], &mut dst);
            // SAFETY: as above.
            assert!(
                zip_refused(&unsafe { run(&mut tq, &sqe) }),
                "{v:?}: altered {what} not refused"
            );
        }
        let sqe = bd(next, &src[4096..], &mut dst);
        // SAFETY: as above.
        let done = unsafe { run(&mut tq, &sqe) };
        assert!(zip::read_result(&done).status.is_success(), "{v:?}");
        drop(ctx);
    }
}

/// Authenc (AES-CBC + HMAC-SHA256): each checked field changed is refused as malformed (MAC-then-encrypt `seq`
/// included), on v2 and v3; a decrypt BD whose tag is wrong completes with icv 2 and writes nothing; the right tag
/// decrypts.
#[test]
fn authenc_checked_fields_and_tag() {
    const BD2_AUTHENC: Mutations = &[
        ("seq (MAC-then-encrypt)", 1, 0x01),
        ("de", 1, 0x02),
        ("ai_gen", 5, 0x01),
        ("c_icv_len", 12, 0x01),
        ("c_width", 12, 0x40),
        ("c_mode", 13, 0x20),
        ("a_alg", 9, 0x10),
        ("cipher_src_offset", 26, 0x01),
        ("long_a_data_len", 48, 0x08),
    ];
    const BD3_AUTHENC: Mutations = &[
        ("seq (MAC-then-encrypt)", 7, 0x40),
        ("auth", 56, 0x02),
        ("ai_gen", 56, 0x04),
        ("a_alg", 58, 0x01),
        ("c_icv_len", 4, 0x10),
        ("c_width", 5, 0x04),
        ("c_mode", 6, 0x02),
        ("cipher_src_offset", 66, 0x01),
        ("long_a_data_len", 100, 0x08),
        ("stream_auth_pad", 108, 0x01),
    ];
    for v in VERSIONS {
        let (_dev, mut tq) = open(DeviceKind::Sec, v, 0);
        let (common, own) = match v {
            QmVersion::V2 => (BD2_COMMON, BD2_AUTHENC),
            _ => (BD3_COMMON, BD3_AUTHENC),
        };
        let key = [7u8; 16];
        let iv = [9u8; 16];
        let mac_key = [5u8; 32];
        let src = text(80); // 16 bytes of AAD, 64 of payload
        let mut dst = vec![0u8; 80];
        let mut tag = [0u8; 16];
        let a = |dir, src: &[u8], dst: &mut [u8], tag: &mut [u8]| sec::AuthencRequest {
            dir,
            key_addr: key.as_ptr() as u64,
            key_len: 16,
            iv_addr: iv.as_ptr() as u64,
            hash: DigestAlg::Sha256,
            hmac_key: sec::HmacKey {
                addr: mac_key.as_ptr() as u64,
                len: 32,
            },
            src_addr: src.as_ptr() as u64,
            dst_addr: dst.as_mut_ptr() as u64,
            aad_len: 16,
            payload_len: 64,
            mac_addr: tag.as_mut_ptr() as u64,
            mac_len: 16,
        };
        let sqe = req::sec_sqe(
            SecOp::Authenc(a(CipherDir::Encrypt, &src, &mut dst, &mut tag)),
            4,
            v,
        );
        // SAFETY: the BD names locals that live until the end of this iteration.
        unsafe { check_mutations(&mut tq, &sqe, &[common, own], "authenc") };

        // Open what the valid BD sealed: src' = AAD ‖ ciphertext.
        let mut sealed = src[..16].to_vec();
        sealed.extend_from_slice(&dst[16..]);
        let mut bad_tag = tag;
        bad_tag[0] ^= 1;
        let mut out = vec![0u8; 80];
        let op = SecOp::Authenc(a(CipherDir::Decrypt, &sealed, &mut out, &mut bad_tag));
        // SAFETY: as above.
        let done = unsafe { run(&mut tq, &req::sec_sqe(op, 5, v)) };
        assert_eq!(
            sec::read_result(&done).outcome(),
            SecOutcome::MacMismatch,
            "{v:?}"
        );
        assert!(
            out.iter().all(|&b| b == 0),
            "{v:?}: nothing written on a mismatch"
        );
        let op = SecOp::Authenc(a(CipherDir::Decrypt, &sealed, &mut out, &mut tag));
        // SAFETY: as above.
        let done = unsafe { run(&mut tq, &req::sec_sqe(op, 6, v)) };
        assert_eq!(sec::read_result(&done).outcome(), SecOutcome::Ok, "{v:?}");
        assert_eq!(out[16..], src[16..], "{v:?}: the plaintext back");
    }
}
