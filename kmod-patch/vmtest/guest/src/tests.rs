//! The guest tests. Devices: `soft_zip-*` and `soft_sec-*` registered by uacce_soft (devices=3 queues=8).

use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use crate::queue::*;
use uacce_sys::qm::Sqe;
use crate::TestResult;

pub const PATCHED: &[(&str, fn() -> TestResult)] = &[
    ("discovery", discovery),
    ("queue_start_put", queue_start_put),
    ("zip_deflate", zip_deflate),
    ("zip_zlib", zip_zlib),
    ("zip_gzip", zip_gzip),
    ("zip_errors", zip_errors),
    ("sec_aes_cbc", sec_aes_cbc),
    ("sec_aes_ctr", sec_aes_ctr),
    ("sec_aes_xts", sec_aes_xts),
    ("sec_sha256_sha512", sec_sha),
    ("sec_hmac_sha256", sec_hmac),
    ("sec_aes_gcm", sec_gcm),
    ("sec_errors", sec_errors),
    ("ring_wrap", ring_wrap),
    ("poll_wakes", poll_wakes),
    ("poll_not_armed_no_wake", poll_not_armed),
    ("eventfd_wakes", eventfd_wakes),
    ("eventfd_ioctl_errors", eventfd_errors),
    ("eventfd_unbind_rebind", eventfd_rebind),
    ("eventfd_rebind_races_wakes", eventfd_rebind_race),
    ("tokio_asyncfd_queue_fd", tokio_asyncfd),
    ("tokio_asyncfd_eventfd", tokio_asyncfd_eventfd),
    ("async_interrupt_mixed_64", crate::async_tests::mixed_interrupt),
    ("async_eventfd_mixed_64", crate::async_tests::mixed_eventfd),
    ("async_io_uring_mixed_64", crate::async_tests::mixed_io_uring),
    ("async_busy_poll_mixed_64", crate::async_tests::mixed_busy_poll),
    ("async_hybrid_mixed_64", crate::async_tests::mixed_hybrid),
    ("async_stream_bufread_write", crate::async_tests::stream_bufread),
    ("open_after_io_uring_exit", open_after_io_uring_exit),
    ("parallel_queues", parallel_queues),
    ("kill9_in_flight", kill9),
    ("mm_exit_stops_queue", mm_exit),
    ("async_removal_eventfd_zip", crate::async_tests::removal_eventfd_zip),
    ("async_removal_interrupt_sec", crate::async_tests::removal_interrupt_sec),
    ("async_removal_io_uring_zip", crate::async_tests::removal_io_uring_zip),
    ("async_removal_hybrid_sec", crate::async_tests::removal_hybrid_sec),
    ("device_removal_wakes_waiters", removal),
    ("module_unload_with_open_queue", module_unload),
];

pub const UNPATCHED: &[(&str, fn() -> TestResult)] = &[
    ("discovery", discovery),
    ("zip_zlib", zip_zlib),
    ("eventfd_ioctl_enotty", unpatched_enotty),
    ("eventfd_falls_back_to_poll", unpatched_fallback),
    ("async_eventfd_falls_back_to_poll", crate::async_tests::mixed_eventfd),
    ("kill9_in_flight", kill9),
    ("removal_not_reported_without_patch", unpatched_removal),
];

macro_rules! check {
    ($c:expr, $($fmt:tt)*) => {
        if !$c {
            return Err(format!($($fmt)*));
        }
    };
}

fn e2s(e: std::io::Error) -> String {
    e.to_string()
}

fn errno(r: std::io::Result<()>) -> Option<i32> {
    r.err().and_then(|e| e.raw_os_error())
}

fn zip_dev() -> String {
    devices("soft_zip-").into_iter().next().unwrap_or_default()
}

fn sec_dev() -> String {
    devices("soft_sec-").into_iter().next().unwrap_or_default()
}

/// Deterministic test data: some text, some pseudo-random bytes.
pub fn data(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2654435761).wrapping_add(1);
    let text = b"uacce soft device test data, compressible and repeated. ";
    (0..len)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            if (i / 512) % 2 == 0 { text[i % text.len()] } else { x as u8 }
        })
        .collect()
}

// ------------------------------------------------------------------ basics --

fn discovery() -> TestResult {
    let zips = devices("soft_zip-");
    let secs = devices("soft_sec-");
    check!(zips.len() >= 1 && secs.len() >= 1, "devices: zip {zips:?} sec {secs:?}");
    for d in zips.iter().chain(secs.iter()) {
        check!(sysfs_attr(d, "api").map_err(e2s)? == "soft_qm_v2", "{d}: api");
        check!(sysfs_attr(d, "flags").map_err(e2s)? == "0", "{d}: flags");
        let dus: usize = sysfs_attr(d, "region_dus_size").map_err(e2s)?.parse().unwrap_or(0);
        let ps = page_size();
        let want = (128 * 1024 + 16 * 1024 + ps - 1) / ps * ps + ps;
        check!(dus == want, "{d}: region_dus_size {dus} want {want}");
        let inst = sysfs_attr(d, "available_instances").map_err(e2s)?;
        check!(inst == "8", "{d}: available_instances {inst}");
        check!(std::path::Path::new(&format!("/dev/{d}")).exists(), "/dev/{d} missing");
    }
    // The same through uacce-sys: discovery, the device check and the doorbell path it picks
    let sysfs = uacce_sys::sysfs::Sysfs::new();
    let devs = sysfs.devices().map_err(|e| e.to_string())?;
    let soft: Vec<_> = devs.iter().filter(|d| d.is_soft()).collect();
    check!(soft.len() == zips.len() + secs.len(), "uacce-sys sees {} soft devices", soft.len());
    for d in &soft {
        let path = uacce_sys::queue::check_device(d).map_err(|e| e.to_string())?;
        check!(path == uacce_sys::queue::DoorbellPath::SoftIoctl, "{}: doorbell path {path:?}", d.name);
        check!(d.region_mmio_size == 0 && !d.is_sva(), "{}: mmio {} sva {}", d.name, d.region_mmio_size, d.is_sva());
    }
    let zlib = sysfs.devices_for_algorithm("zlib").map_err(|e| e.to_string())?;
    check!(zlib.iter().all(|d| d.driver == "soft_zip") && zlib.len() == zips.len(), "zlib devices {zlib:?}");
    let za = sysfs_attr(&zips[0], "algorithms").map_err(e2s)?;
    check!(za.split('\n').collect::<Vec<_>>() == ["zlib", "gzip", "deflate"], "zip algorithms {za:?}");
    let sa = sysfs_attr(&secs[0], "algorithms").map_err(e2s)?;
    check!(sa.split('\n').collect::<Vec<_>>() == ["cipher", "digest", "aead"], "sec algorithms {sa:?}");
    Ok(())
}

fn queue_start_put() -> TestResult {
    let d = zip_dev();
    let before: u32 = sysfs_attr(&d, "available_instances").map_err(e2s)?.parse().unwrap();
    let q = Queue::open_unstarted(&d, 0).map_err(e2s)?;
    let during: u32 = sysfs_attr(&d, "available_instances").map_err(e2s)?.parse().unwrap();
    check!(during + 1 == before, "available_instances {before} -> {during}");
    check!(q.depth == 1024, "depth {}", q.depth);
    // Doorbell before START_Q is refused
    check!(errno(q.doorbell(doorbell_value(q.qid, 0, 1, 0))) == Some(libc::EINVAL), "doorbell before start");
    q.ioctl(UACCE_CMD_START_Q, std::ptr::null_mut()).map_err(e2s)?;
    let again = q.ioctl(UACCE_CMD_START_Q, std::ptr::null_mut());
    check!(again.err().and_then(|e| e.raw_os_error()) == Some(libc::EINVAL), "second START_Q");
    // Malformed doorbells
    check!(errno(q.doorbell(doorbell_value(q.qid + 1, 0, 1, 0))) == Some(libc::EINVAL), "wrong sqn");
    check!(errno(q.doorbell(doorbell_value(q.qid, 2, 1, 0))) == Some(libc::EINVAL), "cmd 2");
    check!(errno(q.doorbell(doorbell_value(q.qid, 0, 1024, 0))) == Some(libc::EINVAL), "index >= depth");
    check!(q.status_words() == (0, 0), "status words {:?}", q.status_words());
    // No MMIO region: the doorbell is an ioctl
    let m = unsafe {
        libc::mmap(std::ptr::null_mut(), page_size(), libc::PROT_READ, libc::MAP_SHARED, q.fd(), 0)
    };
    check!(m == libc::MAP_FAILED, "MMIO region mapped");
    // Unknown ioctl
    let r = q.ioctl(0x5a5a, std::ptr::null_mut());
    check!(r.err().and_then(|e| e.raw_os_error()) == Some(libc::ENOTTY), "unknown ioctl");
    q.put().map_err(e2s)?;
    drop(q);
    let after: u32 = sysfs_attr(&d, "available_instances").map_err(e2s)?.parse().unwrap();
    check!(after == before, "available_instances after close {after}");
    Ok(())
}

// --------------------------------------------------------------------- ZIP --

use uacce_sys::qm::zip::{self, HwBuffers, QcType, ZipAlg, ZipMode, ZipRequest, ZipStatus, ZipWindow};

const REQ_DEFLATE: ZipAlg = ZipAlg::Deflate;
const REQ_ZLIB: ZipAlg = ZipAlg::Zlib;
const REQ_GZIP: ZipAlg = ZipAlg::Gzip;

/// A block-mode ZIP SQE as UADK builds it on hw v2 (`uacce_sys::qm::zip::encode`: type 0 for zlib/gzip, type 3 for
/// deflate). `src`/`dst` are the hardware buffers (after a zlib/gzip header).
fn zip_sqe(alg: ZipAlg, src: &[u8], dst: &mut [u8], tag: u32) -> Sqe {
    zip_sqe_raw(alg, src.as_ptr() as u64, src.len() as u32, dst.as_mut_ptr() as u64, dst.len() as u32, tag)
}

fn zip_sqe_raw(alg: ZipAlg, src: u64, src_len: u32, dst: u64, dst_avail: u32, tag: u32) -> Sqe {
    let buffers = HwBuffers { src_addr: src, src_len, dst_addr: dst, dst_avail };
    zip::encode(&ZipRequest { alg, buffers, tag, window: ZipWindow::W32K, mode: ZipMode::Block }, VERSION)
}

fn zip_status(r: &Sqe) -> u8 {
    zip::read_result(r).status.code()
}

/// Compress on the device; returns (status, header + produced).
fn dev_compress(q: &mut Queue, alg: ZipAlg, input: &[u8]) -> Result<(u8, Vec<u8>), String> {
    let h = alg.header();
    let mut out = vec![0u8; input.len() + input.len() / 8 + 1024];
    out[..h.len()].copy_from_slice(h);
    let hw = HwBuffers::from_user(alg, QcType::Compress, true, input.as_ptr() as u64, input.len() as u32, out.as_mut_ptr() as u64, out.len() as u32)
        .map_err(|e| e.to_string())?;
    let sqe = zip::encode(&ZipRequest { alg, buffers: hw, tag: 0x1234, window: ZipWindow::W32K, mode: ZipMode::Block }, VERSION);
    // SAFETY: the buffers the SQE names are locals that outlive this call and are untouched during it; `run`
    // returns with the completion consumed, or stops the queue first.
    let c = zip::read_result(&unsafe { q.run(&sqe) }.map_err(e2s)?);
    if c.status.is_success() {
        // block mode: dw30 ISIZE, dw31 the plain checksum (gzip CRC-32; zlib Adler-32; deflate 0)
        let mut crc = flate2::Crc::new();
        crc.update(input);
        if c.isize != input.len() as u32 || (alg == REQ_GZIP && c.checksum != crc.sum()) {
            return Err(format!("isize/checksum {:#x}/{:#x}", c.isize, c.checksum));
        }
    }
    if c.tag != 0x1234 {
        return Err(format!("tag not preserved: {:#x}", c.tag));
    }
    let (_, produced) = c.user_lengths(QcType::Compress);
    out.truncate(produced as usize);
    Ok((c.status.code(), out))
}

/// Decompress on the device (the header is skipped by software); returns (status, consumed, output).
fn dev_decompress(q: &mut Queue, alg: ZipAlg, comp: &[u8], cap: usize) -> Result<(u8, u32, Vec<u8>), String> {
    let h = alg.header().len();
    let mut out = vec![0u8; cap];
    let sqe = zip_sqe(alg, &comp[h..], &mut out, 0x77);
    // SAFETY: the buffers the SQE names are locals that outlive this call and are untouched during it; `run`
    // returns with the completion consumed, or stops the queue first.
    let c = zip::read_result(&unsafe { q.run(&sqe) }.map_err(e2s)?);
    out.truncate(c.produced as usize);
    Ok((c.status.code(), c.consumed, out))
}

fn cpu_compress(req: ZipAlg, input: &[u8]) -> Vec<u8> {
    use flate2::write::{DeflateEncoder, GzEncoder, ZlibEncoder};
    use flate2::Compression;
    let c = Compression::default();
    match req {
        REQ_ZLIB => {
            let mut e = ZlibEncoder::new(Vec::new(), c);
            e.write_all(input).unwrap();
            e.finish().unwrap()
        }
        REQ_GZIP => {
            let mut e = GzEncoder::new(Vec::new(), c);
            e.write_all(input).unwrap();
            e.finish().unwrap()
        }
        _ => {
            let mut e = DeflateEncoder::new(Vec::new(), c);
            e.write_all(input).unwrap();
            e.finish().unwrap()
        }
    }
}

fn cpu_decompress(req: ZipAlg, comp: &[u8]) -> std::io::Result<Vec<u8>> {
    use flate2::read::{DeflateDecoder, GzDecoder, ZlibDecoder};
    let mut out = Vec::new();
    match req {
        REQ_ZLIB => ZlibDecoder::new(comp).read_to_end(&mut out)?,
        REQ_GZIP => GzDecoder::new(comp).read_to_end(&mut out)?,
        _ => DeflateDecoder::new(comp).read_to_end(&mut out)?,
    };
    Ok(out)
}

fn zip_roundtrip(req: ZipAlg) -> TestResult {
    let d = zip_dev();
    let mut cq = Queue::open(&d, 0).map_err(e2s)?;
    let mut dq = Queue::open(&d, 1).map_err(e2s)?;
    for (i, len) in [1usize, 100, 4096, 65536, 300_000].into_iter().enumerate() {
        let input = data(len, i as u32 + req.req_type() as u32 * 10);
        // device compress -> CPU decompress
        let (st, comp) = dev_compress(&mut cq, req, &input)?;
        // 0x0d: "negative compression" (output not smaller than input), a success code
        check!(st == 0 || (st == 0x0d && comp.len() >= input.len()), "compress len {len}: status {st:#x}");
        let back = cpu_decompress(req, &comp).map_err(|e| format!("CPU decompress of device output, len {len}: {e}"))?;
        check!(back == input, "device compress len {len}: round trip differs");
        // CPU compress -> device decompress
        let comp = cpu_compress(req, &input);
        let (st, consumed, out) = dev_decompress(&mut dq, req, &comp, len + 64)?;
        check!(st == 0, "decompress len {len}: status {st:#x}");
        check!(out == input, "device decompress len {len}: output differs");
        let h = req.header().len();
        check!(consumed as usize == comp.len() - h, "consumed {consumed} of {}", comp.len() - h);
    }
    Ok(())
}

fn zip_deflate() -> TestResult {
    zip_roundtrip(REQ_DEFLATE)
}
fn zip_zlib() -> TestResult {
    zip_roundtrip(REQ_ZLIB)
}
fn zip_gzip() -> TestResult {
    zip_roundtrip(REQ_GZIP)
}

fn zip_errors() -> TestResult {
    let d = zip_dev();
    let mut cq = Queue::open(&d, 0).map_err(e2s)?;
    let mut dq = Queue::open(&d, 1).map_err(e2s)?;
    let input = data(100_000, 7);
    // Output too small: 0x0e
    let mut small = vec![0u8; 64];
    // SAFETY: the buffers the SQE names are locals that outlive this call and are untouched during it; `run`
    // returns with the completion consumed, or stops the queue first.
    let r = unsafe { cq.run(&zip_sqe(REQ_ZLIB, &input, &mut small, 1)) }.map_err(e2s)?;
    check!(zip::read_result(&r).status == ZipStatus::DstTooSmall, "short dst: status {:#x}", zip_status(&r));
    // Decompress output too small
    let comp = cpu_compress(REQ_GZIP, &input);
    let (st, _, _) = dev_decompress(&mut dq, REQ_GZIP, &comp, 1000)?;
    check!(st == 0x0e, "short decompress dst: status {st:#x}");
    // Corrupt gzip trailer: CRC error 0x10
    let mut bad = comp.clone();
    let n = bad.len();
    bad[n - 6] ^= 0xff;
    let (st, _, _) = dev_decompress(&mut dq, REQ_GZIP, &bad, 200_000)?;
    check!(st == ZipStatus::CrcError.code(), "bad CRC: status {st:#x}");
    // Garbage: 0x11 (bad data); truncated: 0x11
    let garbage = data(5000, 99);
    let (st, _, _) = dev_decompress(&mut dq, REQ_DEFLATE, &garbage, 200_000)?;
    check!(st == 0x11, "garbage: status {st:#x}");
    let (st, _, _) = dev_decompress(&mut dq, REQ_GZIP, &comp[..comp.len() / 2], 200_000)?;
    check!(st == 0x11, "truncated: status {st:#x}");
    // SQEs the soft device does not accept: 0xff, no kernel warning. Unknown request type and SGL buffer type have
    // no encoder (uacce_sys::qm::zip only builds valid flat-buffer SQEs): the two fields are patched in an encoded
    // SQE (dw9 bits 0..7 request type, bits 8..11 buffer type).
    let mut out = vec![0u8; 200_000];
    let mut s = zip_sqe(REQ_ZLIB, &input, &mut out, 1);
    s[36] = 0x40;
    // SAFETY: the buffers the SQE names are locals that outlive this call and are untouched during it; `run`
    // returns with the completion consumed, or stops the queue first.
    let r = unsafe { cq.run(&s) }.map_err(e2s)?;
    check!(zip_status(&r) == 0xff, "req type 0x40: status {:#x}", zip_status(&r));
    let mut s = zip_sqe(REQ_ZLIB, &input, &mut out, 1);
    s[37] |= 0x01;
    // SAFETY: the buffers the SQE names are locals that outlive this call and are untouched during it; `run`
    // returns with the completion consumed, or stops the queue first.
    let r = unsafe { cq.run(&s) }.map_err(e2s)?;
    check!(zip_status(&r) == 0xff && !zip::read_result(&r).lstblk, "SGL accepted: {:#x}", zip_status(&r));
    // Stream mode (dw7 bit 26): a continuation BD for a context no "new" BD started is refused, and so is a
    // stream BD with another algorithm than the one that started the stream (which is then still usable)
    let ctx = vec![0u8; 4096];
    let stream = zip::StreamState { ctx_addr: ctx.as_ptr() as u64 + zip::HW_CTX_OFFSET, first: false, last: true, ..Default::default() };
    let hw = HwBuffers { src_addr: input.as_ptr() as u64, src_len: input.len() as u32, dst_addr: out.as_mut_ptr() as u64, dst_avail: out.len() as u32 };
    let sreq = |alg, first, last| ZipRequest { alg, buffers: hw, tag: 1, window: ZipWindow::W32K, mode: ZipMode::Stream(zip::StreamState { first, last, ..stream }) };
    // SAFETY: the buffers the SQE names are locals that outlive this call and are untouched during it; `run`
    // returns with the completion consumed, or stops the queue first.
    check!(zip_status(&unsafe { cq.run(&zip::encode(&sreq(REQ_ZLIB, false, true), VERSION)) }.map_err(e2s)?) == 0xff, "stream continuation without a start accepted");
    // SAFETY: the buffers the SQE names are locals that outlive this call and are untouched during it; `run`
    // returns with the completion consumed, or stops the queue first.
    let c = zip::read_result(&unsafe { cq.run(&zip::encode(&sreq(REQ_ZLIB, true, false), VERSION)) }.map_err(e2s)?);
    check!(c.status == ZipStatus::Ok && c.consumed == input.len() as u32 && !c.lstblk && c.isize == input.len() as u32, "stream start: {c:?}");
    let mut comp = vec![0x78, 0x9c];
    comp.extend_from_slice(&out[..c.produced as usize]);
    // SAFETY: the buffers the SQE names are locals that outlive this call and are untouched during it; `run`
    // returns with the completion consumed, or stops the queue first.
    check!(zip_status(&unsafe { cq.run(&zip::encode(&sreq(REQ_GZIP, false, true), VERSION)) }.map_err(e2s)?) == 0xff, "stream BD of another algorithm accepted");
    // the end of the stream: no input, Z_FINISH, the rest of the output and the Adler-32 trailer, lstblk
    let hw0 = HwBuffers { src_len: 0, ..hw };
    let end = ZipRequest { buffers: hw0, ..sreq(REQ_ZLIB, false, true) };
    // SAFETY: the buffers the SQE names are locals that outlive this call and are untouched during it; `run`
    // returns with the completion consumed, or stops the queue first.
    let c = zip::read_result(&unsafe { cq.run(&zip::encode(&end, VERSION)) }.map_err(e2s)?);
    check!(c.status == ZipStatus::Ok && c.lstblk && c.consumed == 0, "stream end: {c:?}");
    comp.extend_from_slice(&out[..c.produced as usize]);
    check!(cpu_decompress(REQ_ZLIB, &comp).map_err(e2s)? == input, "two-BD zlib stream differs");
    // Addresses the device cannot access: 0x1f, nothing produced
    let s = zip_sqe_raw(REQ_ZLIB, 0x10, input.len() as u32, out.as_mut_ptr() as u64, out.len() as u32, 1);
    // SAFETY: the SQE names `out` (outlives this call) and source 0x10, below mmap_min_addr: nothing of ours is
    // there; `run` returns with the completion consumed, or stops the queue first.
    let r = unsafe { cq.run(&s) }.map_err(e2s)?;
    let c = zip::read_result(&r);
    check!(c.status.code() == 0x1f && c.produced == 0, "bad source address: {:#x}", c.status.code());
    let s = zip_sqe_raw(REQ_ZLIB, input.as_ptr() as u64, input.len() as u32, 0xffff_8000_0000_1000, out.len() as u32, 1);
    // SAFETY: the SQE names `input` (outlives this call) and a kernel destination address the device must refuse;
    // `run` returns with the completion consumed, or stops the queue first.
    check!(zip_status(&unsafe { cq.run(&s) }.map_err(e2s)?) == 0x1f, "kernel destination address accepted");
    // The queue still works
    let (st, comp) = dev_compress(&mut cq, REQ_ZLIB, &input)?;
    check!((st == 0 || st == 0x0d) && cpu_decompress(REQ_ZLIB, &comp).map_err(e2s)? == input, "queue broken after errors");
    Ok(())
}

// --------------------------------------------------------------------- SEC --

use uacce_sys::qm::sec::{
    self, CipherAlg, CipherDir, CipherMode, CipherRequest, DigestAlg, DigestRequest, DigestStage, GcmRequest, HmacKey,
    SecOp, SecRequest,
};

const C_ENC: CipherDir = CipherDir::Encrypt;
const C_DEC: CipherDir = CipherDir::Decrypt;

/// (done, icv, flag, error_type) of a completed BD (`uacce_sys::qm::sec::read_result`).
fn sec_status(r: &Sqe) -> (u8, u8, u8, u8) {
    let c = sec::read_result(r);
    (c.done as u8, c.icv, c.flag, c.error_type)
}

fn sec_bd(op: SecOp, tag: u16) -> Sqe {
    sec::encode(&SecRequest { op, tag: u32::from(tag), sva_prefetch: false }, VERSION).expect("valid BD2 request")
}

fn cipher_req(dir: CipherDir, mode: CipherMode, key: &[u8], iv: &[u8], src: &[u8], dst: &mut [u8]) -> CipherRequest {
    CipherRequest {
        alg: CipherAlg::Aes,
        mode,
        dir,
        key_addr: key.as_ptr() as u64,
        key_len: key.len() as u32,
        iv_addr: iv.as_ptr() as u64,
        src_addr: src.as_ptr() as u64,
        dst_addr: dst.as_mut_ptr() as u64,
        len: src.len() as u32,
    }
}

/// A BD2 cipher BD. CTR: uacce_sys refuses CTR in BD2 (`CtrOnBd2`: the hardware has it in BD3 only, protocol doc
/// §11), but uacce_soft implements it (as uacce-emu does), so the test encodes CBC over the length rounded up to a
/// block and patches c_mode (BD2 bytes 12..13 bits 12..15) to 4 and c_len (BD2 u32 at byte 20) to the real length.
fn sec_cipher_sqe(dir: CipherDir, mode: CipherMode, key: &[u8], iv: &[u8], src: &[u8], dst: &mut [u8]) -> Sqe {
    if mode == CipherMode::Ctr {
        let mut r = cipher_req(dir, CipherMode::Cbc, key, iv, src, dst);
        r.len = r.len.next_multiple_of(16);
        let mut s = sec_bd(SecOp::Cipher(r), 0xbeef);
        s[13] = (s[13] & 0x0f) | 4 << 4;
        s[20..24].copy_from_slice(&(src.len() as u32).to_le_bytes());
        return s;
    }
    sec_bd(SecOp::Cipher(cipher_req(dir, mode, key, iv, src, dst)), 0xbeef)
}

fn dev_cipher(q: &mut Queue, dir: CipherDir, mode: CipherMode, key: &[u8], iv: &[u8], input: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = vec![0u8; input.len()];
    let s = sec_cipher_sqe(dir, mode, key, iv, input, &mut out);
    // SAFETY: the buffers the SQE names are locals that outlive this call and are untouched during it; `run`
    // returns with the completion consumed, or stops the queue first.
    let r = unsafe { q.run(&s) }.map_err(e2s)?;
    let (done, icv, flag, err) = sec_status(&r);
    check!(done == 1 && err == 0 && icv == 0 && flag == 2, "done {done} icv {icv} flag {flag} error_type {err}");
    check!(sec::read_result(&r).tag == 0xbeef, "tag not preserved");
    Ok(out)
}

fn sec_aes_cbc() -> TestResult {
    use aes::cipher::{block_padding::NoPadding, BlockDecryptMut, BlockEncryptMut, KeyIvInit};
    let mut q = Queue::open(&sec_dev(), 0).map_err(e2s)?;
    let iv = [7u8; 16];
    for klen in [16usize, 24, 32] {
        let key: Vec<u8> = (0..klen as u8).collect();
        let pt = data(4096 + 16 * klen, klen as u32);
        let ct = dev_cipher(&mut q, C_ENC, CipherMode::Cbc, &key, &iv, &pt)?;
        let mut r = pt.clone();
        let n = r.len();
        match klen {
            16 => cbc::Encryptor::<aes::Aes128>::new_from_slices(&key, &iv).unwrap().encrypt_padded_mut::<NoPadding>(&mut r, n).map(|_| ()),
            24 => cbc::Encryptor::<aes::Aes192>::new_from_slices(&key, &iv).unwrap().encrypt_padded_mut::<NoPadding>(&mut r, n).map(|_| ()),
            _ => cbc::Encryptor::<aes::Aes256>::new_from_slices(&key, &iv).unwrap().encrypt_padded_mut::<NoPadding>(&mut r, n).map(|_| ()),
        }
        .map_err(|_| "pad".to_string())?;
        check!(ct == r, "AES-{} CBC encrypt differs from RustCrypto", klen * 8);
        let back = dev_cipher(&mut q, C_DEC, CipherMode::Cbc, &key, &iv, &ct)?;
        check!(back == pt, "AES-{} CBC decrypt differs", klen * 8);
        if klen == 16 {
            let mut r2 = ct.clone();
            cbc::Decryptor::<aes::Aes128>::new_from_slices(&key, &iv).unwrap().decrypt_padded_mut::<NoPadding>(&mut r2).map_err(|_| "unpad")?;
            check!(r2 == pt, "RustCrypto decrypt of device output differs");
        }
    }
    Ok(())
}

fn sec_aes_ctr() -> TestResult {
    use aes::cipher::{KeyIvInit, StreamCipher};
    let mut q = Queue::open(&sec_dev(), 0).map_err(e2s)?;
    let key = [0x42u8; 32];
    let mut iv = [0u8; 16];
    iv[15] = 0xfe; // counter wraps a byte early
    let pt = data(10_001, 3);
    let ct = dev_cipher(&mut q, C_ENC, CipherMode::Ctr, &key, &iv, &pt)?;
    let mut r = pt.clone();
    ctr::Ctr128BE::<aes::Aes256>::new_from_slices(&key, &iv).unwrap().apply_keystream(&mut r);
    check!(ct == r, "AES-256 CTR differs from RustCrypto");
    let back = dev_cipher(&mut q, C_DEC, CipherMode::Ctr, &key, &iv, &ct)?;
    check!(back == pt, "CTR decrypt differs");
    Ok(())
}

fn sec_aes_xts() -> TestResult {
    use aes::cipher::KeyInit;
    let mut q = Queue::open(&sec_dev(), 0).map_err(e2s)?;
    for klen in [32usize, 64] {
        let key: Vec<u8> = (0..klen).map(|i| (i * 3 + 1) as u8).collect();
        let iv: [u8; 16] = [5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        for len in [512usize, 4096, 1000] {
            let pt = data(len, len as u32);
            let ct = dev_cipher(&mut q, C_ENC, CipherMode::Xts, &key, &iv, &pt)?;
            let mut r = pt.clone();
            if klen == 32 {
                let x = xts_mode::Xts128::new(aes::Aes128::new_from_slice(&key[..16]).unwrap(), aes::Aes128::new_from_slice(&key[16..]).unwrap());
                x.encrypt_sector(&mut r, iv);
            } else {
                let x = xts_mode::Xts128::new(aes::Aes256::new_from_slice(&key[..32]).unwrap(), aes::Aes256::new_from_slice(&key[32..]).unwrap());
                x.encrypt_sector(&mut r, iv);
            }
            check!(ct == r, "AES-{}-XTS len {len} differs from RustCrypto", klen * 4);
            let back = dev_cipher(&mut q, C_DEC, CipherMode::Xts, &key, &iv, &ct)?;
            check!(back == pt, "XTS decrypt len {len} differs");
        }
    }
    Ok(())
}

/// A one-shot digest (no key) or HMAC BD writing `mac.len()` bytes.
fn sec_digest_sqe(alg: DigestAlg, key: &[u8], src: &[u8], mac: &mut [u8], tag: u16) -> Sqe {
    let hmac_key = (!key.is_empty()).then(|| HmacKey { addr: key.as_ptr() as u64, len: key.len() as u32 });
    let req = DigestRequest {
        alg,
        hmac_key,
        src_addr: src.as_ptr() as u64,
        len: src.len() as u32,
        mac_addr: mac.as_mut_ptr() as u64,
        mac_len: mac.len() as u32,
        stage: DigestStage::OneShot,
    };
    sec_bd(SecOp::Digest(req), tag)
}

fn run_digest(q: &mut Queue, s: &Sqe, what: &str) -> TestResult {
    // SAFETY: every caller of this helper passes an SQE built from its own locals, which outlive this call; `run`
    // returns with the completion consumed, or stops the queue first.
    let r = unsafe { q.run(s) }.map_err(e2s)?;
    let (done, _, _, err) = sec_status(&r);
    check!(done == 1 && err == 0, "digest {what}: done {done} error_type {err}");
    Ok(())
}

fn dev_digest(q: &mut Queue, alg: DigestAlg, key: &[u8], src: &[u8]) -> Result<Vec<u8>, String> {
    let mut mac = vec![0u8; alg.digest_len() as usize];
    let s = sec_digest_sqe(alg, key, src, &mut mac, 1);
    run_digest(q, &s, &format!("{alg:?}"))?;
    Ok(mac)
}

fn sec_sha() -> TestResult {
    use sha2::Digest;
    let mut q = Queue::open(&sec_dev(), 0).map_err(e2s)?;
    for len in [1usize, 64, 1000, 100_000] {
        let m = data(len, 11);
        let d = dev_digest(&mut q, DigestAlg::Sha256, &[], &m)?;
        check!(d == sha2::Sha256::digest(&m).to_vec(), "SHA-256 len {len} differs");
        let d = dev_digest(&mut q, DigestAlg::Sha512, &[], &m)?;
        check!(d == sha2::Sha512::digest(&m).to_vec(), "SHA-512 len {len} differs");
    }
    Ok(())
}

fn sec_hmac() -> TestResult {
    use hmac::{Hmac, Mac};
    let mut q = Queue::open(&sec_dev(), 0).map_err(e2s)?;
    for klen in [16usize, 32, 128] {
        let key = data(klen, 5);
        let m = data(3000, klen as u32);
        let d = if klen <= 64 {
            dev_digest(&mut q, DigestAlg::Sha256, &key, &m)?
        } else {
            // A key longer than the block: uacce_sys (as a driver must for the hardware) only encodes keys up to
            // the block size, but uacce_soft takes longer ones (a_key_len 32 words), hashing them as HMAC does.
            // Encode with the first 64 bytes, then patch a_key_len (BD2 u32 at byte 8, bits 5..10).
            let mut mac = vec![0u8; 32];
            let mut s = sec_digest_sqe(DigestAlg::Sha256, &key[..64], &m, &mut mac, 1);
            let w = u32::from_le_bytes(s[8..12].try_into().unwrap());
            s[8..12].copy_from_slice(&((w & !(0x3f << 5)) | (klen as u32 / 4) << 5).to_le_bytes());
            run_digest(&mut q, &s, "HMAC-SHA256 128-byte key")?;
            mac
        };
        let mut h = Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
        h.update(&m);
        check!(d == h.finalize().into_bytes().to_vec(), "HMAC-SHA256 key {klen} differs");
    }
    let key = data(64, 1);
    let m = data(777, 2);
    let d = dev_digest(&mut q, DigestAlg::Sha512, &key, &m)?;
    let mut h = Hmac::<sha2::Sha512>::new_from_slice(&key).unwrap();
    h.update(&m);
    check!(d == h.finalize().into_bytes().to_vec(), "HMAC-SHA512 differs");
    Ok(())
}

fn sec_gcm_sqe(dir: CipherDir, key: &[u8], iv: &[u8], aad_len: usize, src: &[u8], dst: &mut [u8], tag: &mut [u8]) -> Sqe {
    let g = GcmRequest {
        dir,
        key_addr: key.as_ptr() as u64,
        key_len: key.len() as u32,
        iv_addr: iv.as_ptr() as u64,
        aiv_addr: iv.as_ptr() as u64,
        src_addr: src.as_ptr() as u64,
        dst_addr: dst.as_mut_ptr() as u64,
        aad_len: aad_len as u32,
        payload_len: (src.len() - aad_len) as u32,
        mac_addr: tag.as_mut_ptr() as u64,
        tag_len: tag.len() as u8,
    };
    sec_bd(SecOp::Aead(g), 0)
}

fn sec_gcm() -> TestResult {
    use aes_gcm::aead::{AeadInPlace, KeyInit};
    let mut q = Queue::open(&sec_dev(), 0).map_err(e2s)?;
    for (klen, aad_len, plen) in [(16usize, 16usize, 64usize), (32, 20, 1000), (16, 0, 4096), (32, 13, 0)] {
        let key = data(klen, 9);
        let iv = [3u8; 12];
        let aad = data(aad_len, 4);
        let pt = data(plen, 8);
        let mut src = aad.clone();
        src.extend_from_slice(&pt);
        let mut dst = vec![0u8; src.len()];
        let mut tag = [0u8; 16];
        // SAFETY: the buffers the SQE names are locals that outlive this call and are untouched during it; `run`
    // returns with the completion consumed, or stops the queue first.
        let r = unsafe { q.run(&sec_gcm_sqe(C_ENC, &key, &iv, aad_len, &src, &mut dst, &mut tag)) }.map_err(e2s)?;
        let (done, icv, flag, err) = sec_status(&r);
        check!(done == 1 && icv == 0 && flag == 3 && err == 0, "GCM enc: done {done} icv {icv} flag {flag} err {err}");
        let mut ct = pt.clone();
        let rtag = if klen == 16 {
            aes_gcm::Aes128Gcm::new_from_slice(&key).unwrap().encrypt_in_place_detached(&iv.into(), &aad, &mut ct)
        } else {
            aes_gcm::Aes256Gcm::new_from_slice(&key).unwrap().encrypt_in_place_detached(&iv.into(), &aad, &mut ct)
        }
        .map_err(|_| "gcm")?;
        check!(dst[aad_len..] == ct[..], "GCM ciphertext differs (key {klen}, aad {aad_len}, len {plen})");
        check!(dst[..aad_len].iter().all(|&b| b == 0), "AAD region of dst written");
        check!(tag[..] == rtag[..], "GCM tag differs");
        // decrypt with the right tag
        let mut src2 = aad.clone();
        src2.extend_from_slice(&ct);
        let mut out = vec![0u8; src2.len()];
        // SAFETY: the buffers the SQE names are locals that outlive this call and are untouched during it; `run`
    // returns with the completion consumed, or stops the queue first.
        let r = unsafe { q.run(&sec_gcm_sqe(C_DEC, &key, &iv, aad_len, &src2, &mut out, &mut tag)) }.map_err(e2s)?;
        let (done, icv, _, err) = sec_status(&r);
        check!(done == 1 && icv == 0 && err == 0, "GCM dec: icv {icv} err {err}");
        check!(out[aad_len..] == pt[..], "GCM decrypt differs");
        // and with a wrong tag: icv = 2, dst untouched
        tag[0] ^= 1;
        let mut out = vec![0u8; src2.len()];
        // SAFETY: the buffers the SQE names are locals that outlive this call and are untouched during it; `run`
    // returns with the completion consumed, or stops the queue first.
        let r = unsafe { q.run(&sec_gcm_sqe(C_DEC, &key, &iv, aad_len, &src2, &mut out, &mut tag)) }.map_err(e2s)?;
        let (done, icv, _, err) = sec_status(&r);
        check!(done == 1 && icv == sec::ICV_MISMATCH && err == 0, "GCM bad tag: done {done} icv {icv} err {err}");
        check!(out.iter().all(|&b| b == 0), "GCM bad tag: dst written");
    }
    Ok(())
}

fn sec_errors() -> TestResult {
    let mut q = Queue::open(&sec_dev(), 0).map_err(e2s)?;
    let key = [1u8; 16];
    let iv = [0u8; 16];
    let pt = data(64, 1);
    let mut out = vec![0u8; 64];
    // error: done 1, icv 0, flag 0, error_type as uacce-emu (0x02 fault, 0x03 unsupported, 0xff invalid)
    let mut expect = |what: &str, s: &Sqe, err: u8| -> TestResult {
        // SAFETY: every SQE given to this closure names locals of `sec_errors` (`key`, `iv`, `pt`, `out`, `mac`, …)
        // that outlive it, or addresses the device must refuse (8, a kernel address); `run` returns with the
        // completion consumed, or stops the queue first.
        let (done, icv, flag, e) = sec_status(&unsafe { q.run(s) }.map_err(e2s)?);
        check!(done == 1 && icv == 0 && flag == 0 && e == err, "{what}: done {done} icv {icv} flag {flag} error_type {e:#x}, want {err:#x}");
        Ok(())
    };
    let cbc = |key: &[u8], dst: &mut [u8]| cipher_req(C_ENC, CipherMode::Cbc, key, &iv, &pt, dst);
    // BDs uacce_sys does not encode (it refuses them, or has no such field): patched bytes of an encoded BD
    let mut s = sec_bd(SecOp::Cipher(cbc(&key, &mut out)), 0);
    s[0] = (s[0] & 0xf0) | 3;
    expect("BD type 3 on a v2 device", &s, 0xff)?;
    let mut s = sec_bd(SecOp::Cipher(cbc(&key, &mut out)), 0);
    s[20..24].copy_from_slice(&30u32.to_le_bytes());
    expect("CBC length 30", &s, 0xff)?;
    let mut s = sec_bd(SecOp::Cipher(cbc(&key, &mut out)), 0);
    s[1] |= 0x80;
    expect("SGL source", &s, 0x03)?;
    // Valid BDs the soft device does not implement, or with addresses it cannot access
    let s = sec_bd(SecOp::Cipher(CipherRequest { alg: CipherAlg::Sm4, ..cbc(&key, &mut out) }), 0);
    expect("SM4", &s, 0x03)?;
    let s = sec_bd(SecOp::Cipher(CipherRequest { key_addr: 8, ..cbc(&key, &mut out) }), 0);
    expect("bad key address", &s, 0x02)?;
    let s = sec_bd(SecOp::Cipher(CipherRequest { dst_addr: 0xffff_8000_0000_1000, ..cbc(&key, &mut out) }), 0);
    expect("kernel dst address", &s, 0x02)?;
    let mut mac = [0u8; 32];
    let mut s = sec_digest_sqe(DigestAlg::Sha256, &[], &pt, &mut mac, 0);
    // a_alg (bits 11..16 of the u32 at byte 8) 0x25 = SM3, which uacce_sys has no encoder for
    let w = u32::from_le_bytes(s[8..12].try_into().unwrap());
    s[8..12].copy_from_slice(&((w & !(0x3f << 11)) | 0x25 << 11).to_le_bytes());
    expect("SM3", &s, 0x03)?;
    let long = DigestRequest {
        alg: DigestAlg::Sha256,
        hmac_key: None,
        src_addr: pt.as_ptr() as u64,
        len: pt.len() as u32,
        mac_addr: mac.as_mut_ptr() as u64,
        mac_len: 32,
        stage: DigestStage::First,
    };
    expect("long hash", &sec_bd(SecOp::Digest(long), 0), 0x03)?;
    let mut s = sec_digest_sqe(DigestAlg::Sha256, &[], &pt, &mut mac, 0);
    s[16..20].copy_from_slice(&0u32.to_le_bytes()); // a_len 0: BD2 cannot hash nothing (uacce_sys refuses it)
    expect("zero-length hash", &s, 0xff)?;
    drop(expect);
    // Still works
    dev_cipher(&mut q, C_ENC, CipherMode::Cbc, &key, &iv, &pt)?;
    Ok(())
}

// ----------------------------------------------------------- ring and waits --

fn hash_sqe(src: &[u8], mac: &mut [u8; 32], tag: u16) -> Sqe {
    sec_digest_sqe(DigestAlg::Sha256, &[], src, mac, tag)
}

/// 2500 jobs through a depth-1024 ring, up to 300 in flight: the CQ wraps twice, the phase toggles.
fn ring_wrap() -> TestResult {
    use sha2::Digest;
    let mut q = Queue::open(&sec_dev(), 0).map_err(e2s)?;
    let n = 2500usize;
    let srcs: Vec<Vec<u8>> = (0..n).map(|i| data(64 + i % 50, i as u32)).collect();
    let mut macs = vec![[0u8; 32]; n];
    let mut next = 0usize;
    let mut done = 0usize;
    let t = Instant::now();
    while done < n {
        while next < n && q.in_flight() < 300 {
            let s = hash_sqe(&srcs[next], &mut macs[next], next as u16);
            // SAFETY: the SQE names `srcs[next]` and `macs[next]`, which live to the end of this function and are
            // not touched until the completion loop has consumed every job (the checks below read `macs` after it).
            // An early error return drops them before `q` is closed: accepted in this VM test.
            unsafe { q.submit(&s) }.map_err(e2s)?;
            next += 1;
        }
        match q.pop().map_err(e2s)? {
            Some((_, sqe)) => {
                let tag = sec::read_result(&sqe).tag as usize;
                check!(tag == done % 65536, "completion order: tag {tag} expected {done}");
                check!(sec_status(&sqe).3 == 0, "job {done} failed");
                done += 1;
            }
            None => thread::sleep(Duration::from_micros(100)),
        }
        check!(t.elapsed() < Duration::from_secs(60), "stuck at {done}/{n}");
    }
    for i in 0..n {
        check!(macs[i][..] == sha2::Sha256::digest(&srcs[i])[..], "digest {i} differs");
    }
    Ok(())
}

fn small_job(q: &mut Queue, buf: &[u8], mac: &mut [u8; 32]) -> std::io::Result<u16> {
    // SAFETY: this helper's callers keep `buf` and `mac` alive and untouched until they pop the completion
    // (`wait_pop`) or the queue is stopped; on an early error return they drop them first: accepted in these VM tests.
    unsafe { q.submit(&hash_sqe(buf, mac, 1)) }
}

fn poll_wakes() -> TestResult {
    let mut q = Queue::open(&sec_dev(), 0).map_err(e2s)?;
    let buf = data(100, 1);
    let mut mac = [0u8; 32];
    for round in 0..3 {
        // consumer loop: drain, arm, check again, wait
        while q.pop().map_err(e2s)?.is_some() {}
        q.arm().map_err(e2s)?;
        let fd = q.fd();
        let (tx, rx) = mpsc::channel();
        let waiter = thread::spawn(move || {
            let t = Instant::now();
            let r = poll1(fd, libc::POLLIN, Duration::from_secs(5));
            tx.send(()).ok();
            (r.map_err(e2s), t.elapsed())
        });
        thread::sleep(Duration::from_millis(50));
        small_job(&mut q, &buf, &mut mac).map_err(e2s)?;
        let _ = rx.recv_timeout(Duration::from_secs(6));
        let (r, el) = waiter.join().map_err(|_| "waiter panicked")?;
        let rev = r?;
        check!(rev & libc::POLLIN != 0, "round {round}: poll revents {rev:#x} after {el:?}");
        check!(el < Duration::from_secs(2), "round {round}: woke after {el:?}");
        q.wait_pop(Duration::from_secs(5)).map_err(e2s)?;
    }
    Ok(())
}

/// Not armed: a completion must not wake a task sleeping in poll().
fn poll_not_armed() -> TestResult {
    let mut q = Queue::open(&sec_dev(), 0).map_err(e2s)?;
    let buf = data(100, 1);
    let mut mac = [0u8; 32];
    let fd = q.fd();
    let waiter = thread::spawn(move || {
        let t = Instant::now();
        (poll1(fd, libc::POLLIN, Duration::from_millis(800)).map_err(e2s), t.elapsed())
    });
    thread::sleep(Duration::from_millis(100));
    small_job(&mut q, &buf, &mut mac).map_err(e2s)?;
    let (rev, el) = waiter.join().map_err(|_| "waiter panicked")?;
    let rev = rev?;
    // poll() re-polls once after its time-out, so POLLIN may be reported then: what matters is that the sleeper
    // was not woken before the time-out.
    check!(el >= Duration::from_millis(750), "woken without arming after {el:?}: revents {rev:#x}");
    q.wait_pop(Duration::from_secs(5)).map_err(e2s)?;
    // The completion is now visible to a fresh poll() (is_q_updated), armed or not
    Ok(())
}

fn eventfd_wakes() -> TestResult {
    let mut q = Queue::open(&sec_dev(), 0).map_err(e2s)?;
    let efd = eventfd().map_err(e2s)?;
    q.sys().bind_eventfd(efd.as_fd()).map_err(|e| e.to_string())?;
    let buf = data(100, 1);
    let mut mac = [0u8; 32];
    // armed: signalled
    q.arm().map_err(e2s)?;
    small_job(&mut q, &buf, &mut mac).map_err(e2s)?;
    let rev = poll1(efd.as_raw_fd(), libc::POLLIN, Duration::from_secs(5)).map_err(e2s)?;
    check!(rev & libc::POLLIN != 0, "eventfd not signalled");
    check!(eventfd_take(efd.as_raw_fd()).map_err(e2s)? == 1, "count != 1");
    q.wait_pop(Duration::from_secs(5)).map_err(e2s)?;
    // the arm is one-shot: the next completion is not signalled
    small_job(&mut q, &buf, &mut mac).map_err(e2s)?;
    q.wait_pop(Duration::from_secs(5)).map_err(e2s)?;
    thread::sleep(Duration::from_millis(50));
    check!(eventfd_take(efd.as_raw_fd()).map_err(e2s)? == 0, "signalled without re-arming");
    // arming while a completion is already posted signals at once
    small_job(&mut q, &buf, &mut mac).map_err(e2s)?;
    let t = Instant::now();
    while !q.has_completion() && t.elapsed() < Duration::from_secs(5) {
        thread::sleep(Duration::from_millis(1));
    }
    q.arm().map_err(e2s)?;
    check!(eventfd_take(efd.as_raw_fd()).map_err(e2s)? == 1, "arm over a posted CQE did not signal");
    q.wait_pop(Duration::from_secs(5)).map_err(e2s)?;
    // a task blocked on the eventfd is woken
    q.arm().map_err(e2s)?;
    let fd = efd.as_raw_fd();
    let w = thread::spawn(move || {
        let t = Instant::now();
        (poll1(fd, libc::POLLIN, Duration::from_secs(5)).map_err(e2s), t.elapsed())
    });
    thread::sleep(Duration::from_millis(50));
    small_job(&mut q, &buf, &mut mac).map_err(e2s)?;
    let (r, el) = w.join().map_err(|_| "panicked")?;
    check!(r? & libc::POLLIN != 0 && el < Duration::from_secs(2), "blocked eventfd waiter: {el:?}");
    Ok(())
}

fn eventfd_errors() -> TestResult {
    let q = Queue::open(&sec_dev(), 0).map_err(e2s)?;
    let efd = eventfd().map_err(e2s)?;
    check!(errno(q.set_eventfd(efd.as_raw_fd(), 1)) == Some(libc::EINVAL), "flags 1");
    check!(errno(q.set_eventfd(efd.as_raw_fd(), 0x8000_0000)) == Some(libc::EINVAL), "flags high bit");
    check!(errno(q.set_eventfd(9999, 0)) == Some(libc::EBADF), "closed fd");
    check!(errno(q.set_eventfd(-2, 0)) == Some(libc::EBADF), "fd -2");
    let mut p = [0i32; 2];
    unsafe { libc::pipe(p.as_mut_ptr()) };
    check!(errno(q.set_eventfd(p[0], 0)) == Some(libc::EINVAL), "pipe fd");
    unsafe {
        libc::close(p[0]);
        libc::close(p[1]);
    }
    q.set_eventfd(-1, 0).map_err(e2s)?; // unbind with nothing bound
    q.set_eventfd(efd.as_raw_fd(), 0).map_err(e2s)?;
    q.set_eventfd(efd.as_raw_fd(), 0).map_err(e2s)?; // same fd again
    // Also on a queue that is not started
    let q2 = Queue::open_unstarted(&sec_dev(), 0).map_err(e2s)?;
    q2.set_eventfd(efd.as_raw_fd(), 0).map_err(e2s)?;
    Ok(())
}

fn eventfd_rebind() -> TestResult {
    let mut q = Queue::open(&sec_dev(), 0).map_err(e2s)?;
    let e1 = eventfd().map_err(e2s)?;
    let e2 = eventfd().map_err(e2s)?;
    let buf = data(100, 1);
    let mut mac = [0u8; 32];
    let mut job = |q: &mut Queue| -> TestResult {
        q.arm().map_err(e2s)?;
        small_job(q, &buf, &mut mac).map_err(e2s)?;
        q.wait_pop(Duration::from_secs(5)).map_err(e2s)?;
        thread::sleep(Duration::from_millis(20));
        Ok(())
    };
    q.set_eventfd(e1.as_raw_fd(), 0).map_err(e2s)?;
    q.set_eventfd(e2.as_raw_fd(), 0).map_err(e2s)?;
    job(&mut q)?;
    let (c1, c2) = (eventfd_take(e1.as_raw_fd()).map_err(e2s)?, eventfd_take(e2.as_raw_fd()).map_err(e2s)?);
    check!(c1 == 0 && c2 == 1, "after rebind: old {c1} new {c2}");
    q.set_eventfd(-1, 0).map_err(e2s)?;
    job(&mut q)?;
    let (c1, c2) = (eventfd_take(e1.as_raw_fd()).map_err(e2s)?, eventfd_take(e2.as_raw_fd()).map_err(e2s)?);
    check!(c1 == 0 && c2 == 0, "after unbind: {c1} {c2}");
    // closing our eventfd fd keeps the context alive while bound
    q.set_eventfd(e1.as_raw_fd(), 0).map_err(e2s)?;
    let dup = unsafe { libc::dup(e1.as_raw_fd()) };
    drop(e1);
    job(&mut q)?;
    check!(eventfd_take(dup).map_err(e2s)? == 1, "bound eventfd lost after close of one fd");
    unsafe { libc::close(dup) };
    Ok(())
}

struct Fd(RawFd);
impl AsRawFd for Fd {
    fn as_raw_fd(&self) -> RawFd {
        self.0
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

/// tokio AsyncFd on the queue fd (a poll-only fd, cf. tokio#6632): registered with `AsyncFd::register_with_interest`
/// (tokio 1.54 deprecates `AsyncFd::new`/`with_interest` as unsound, tokio PR #8587).
fn tokio_asyncfd() -> TestResult {
    let q = Queue::open(&sec_dev(), 0).map_err(e2s)?;
    let q = std::sync::Arc::new(std::sync::Mutex::new(q));
    let fd = q.lock().unwrap().fd();
    rt().block_on(async move {
        // SAFETY: the queue (and its fd) outlives the AsyncFd, which is dropped at the end of this block.
        let afd = unsafe { tokio::io::unix::AsyncFd::register_with_interest(Fd(fd), tokio::io::Interest::READABLE) }
            .map_err(|e| format!("register: {e:?}"))?;
        let buf = data(100, 1);
        for round in 0..3 {
            {
                let mut g = q.lock().unwrap();
                while g.pop().map_err(e2s)?.is_some() {}
                g.arm().map_err(e2s)?;
            }
            let q2 = q.clone();
            let buf2 = buf.clone();
            let h = thread::spawn(move || {
                thread::sleep(Duration::from_millis(30));
                let mut mac = [0u8; 32];
                let mut g = q2.lock().unwrap();
                small_job(&mut g, &buf2, &mut mac).map(|_| ())
            });
            let t = Instant::now();
            let mut guard = tokio::time::timeout(Duration::from_secs(5), afd.readable())
                .await
                .map_err(|_| format!("round {round}: AsyncFd not woken within 5 s"))?
                .map_err(e2s)?;
            let el = t.elapsed();
            h.join().map_err(|_| "submitter panicked")?.map_err(e2s)?;
            {
                let mut g = q.lock().unwrap();
                g.wait_pop(Duration::from_secs(5)).map_err(e2s)?;
            }
            guard.clear_ready();
            if el > Duration::from_secs(2) {
                return Err(format!("round {round}: woke after {el:?}"));
            }
        }
        drop(afd);
        Ok::<(), String>(())
    })
}

fn tokio_asyncfd_eventfd() -> TestResult {
    let mut q = Queue::open(&sec_dev(), 0).map_err(e2s)?;
    let efd = eventfd().map_err(e2s)?;
    q.set_eventfd(efd.as_raw_fd(), 0).map_err(e2s)?;
    let buf = data(100, 1);
    let mut mac = [0u8; 32];
    let raw = efd.as_raw_fd();
    rt().block_on(async {
        // SAFETY: efd outlives the AsyncFd
        let afd = unsafe { tokio::io::unix::AsyncFd::register_with_interest(Fd(raw), tokio::io::Interest::READABLE) }
            .map_err(|e| format!("register: {e:?}"))?;
        for round in 0..3 {
            q.arm().map_err(e2s)?;
            small_job(&mut q, &buf, &mut mac).map_err(e2s)?;
            let mut g = tokio::time::timeout(Duration::from_secs(5), afd.readable())
                .await
                .map_err(|_| format!("round {round}: not woken"))?
                .map_err(e2s)?;
            check!(eventfd_take(raw).map_err(e2s)? >= 1, "round {round}: counter 0");
            g.clear_ready();
            q.wait_pop(Duration::from_secs(5)).map_err(e2s)?;
        }
        Ok::<(), String>(())
    })
}

// --------------------------------------------------------- kill and removal --

/// Child of the kill -9 test: floods a compress queue, says "ready", keeps going until killed.
pub fn child_flood(dev: &str) {
    let mut q = match Queue::open(dev, 0) {
        Ok(q) => q,
        Err(e) => {
            println!("error {e}");
            return;
        }
    };
    let input = data(256 * 1024, 1);
    let mut outs: Vec<Vec<u8>> = (0..64).map(|_| vec![0u8; 300 * 1024]).collect();
    let mut said = false;
    loop {
        for o in outs.iter_mut() {
            let s = zip_sqe(REQ_ZLIB, &input, o, 1);
            // SAFETY: `input` and `outs` live until this process is killed or the queue dies (a pop error ends
            // the loop); nothing reads `outs`. (Resubmitting into an `o` an earlier job may still write is garbage
            // data, not read by anyone.)
            if unsafe { q.submit(&s) }.is_err() {
                break;
            }
        }
        if !said {
            println!("ready");
            std::io::stdout().flush().ok();
            said = true;
        }
        while q.in_flight() > 32 {
            match q.pop() {
                Ok(Some(_)) => {}
                Ok(None) => thread::sleep(Duration::from_micros(100)),
                Err(_) => return,
            }
        }
    }
}

fn kill9() -> TestResult {
    let d = zip_dev();
    let before = sysfs_attr(&d, "available_instances").map_err(e2s)?;
    for round in 0..3 {
        let mut child = Command::new("/proc/self/exe")
            .args(["--child-flood", &d])
            .stdout(Stdio::piped())
            .spawn()
            .map_err(e2s)?;
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).map_err(e2s)?;
        check!(line.trim() == "ready", "child said {line:?}");
        thread::sleep(Duration::from_millis(20 + 40 * round));
        unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
        child.wait().map_err(e2s)?;
    }
    // The queues come back (the worker may finish the job it was running first)
    let t = Instant::now();
    loop {
        let now = sysfs_attr(&d, "available_instances").map_err(e2s)?;
        if now == before {
            break;
        }
        check!(t.elapsed() < Duration::from_secs(30), "available_instances {now}, was {before} after {:?}", t.elapsed());
        thread::sleep(Duration::from_millis(50));
    }
    // and the device still works
    let mut q = Queue::open(&d, 0).map_err(e2s)?;
    let input = data(1000, 3);
    let (st, comp) = dev_compress(&mut q, REQ_ZLIB, &input)?;
    check!((st == 0 || st == 0x0d) && cpu_decompress(REQ_ZLIB, &comp).map_err(e2s)? == input, "device broken after kill");
    Ok(())
}

fn removal() -> TestResult {
    // Remove the last ZIP device while a poll() sleeper, an eventfd sleeper and a tokio task wait on its queues.
    let d = devices("soft_zip-").into_iter().last().ok_or("no zip device")?;
    let mut q1 = Queue::open(&d, 0).map_err(e2s)?;
    let mut q2 = Queue::open(&d, 0).map_err(e2s)?;
    let mut q3 = Queue::open(&d, 1).map_err(e2s)?;
    // A fourth queue with jobs in flight and nobody waiting: removal must cope with a busy worker
    let mut q4 = Queue::open(&d, 0).map_err(e2s)?;
    let input = data(256 * 1024, 1);
    let mut outs: Vec<Vec<u8>> = (0..16).map(|_| vec![0u8; 300 * 1024]).collect();
    for o in outs.iter_mut() {
        // SAFETY: `input` and `outs` live to the end of the test, after the device removal has stopped `q4`;
        // nothing reads `outs`.
        unsafe { q4.submit(&zip_sqe(REQ_ZLIB, &input, o, 1)) }.map_err(e2s)?;
    }
    let efd = eventfd().map_err(e2s)?;
    q2.set_eventfd(efd.as_raw_fd(), 0).map_err(e2s)?;
    for q in [&mut q1, &mut q2, &mut q3] {
        q.arm().map_err(e2s)?;
    }
    let (fd1, fd3, efd_raw) = (q1.fd(), q3.fd(), efd.as_raw_fd());
    let (tx, rx) = mpsc::channel::<(&'static str, Result<i16, String>, Instant)>();
    let tx1 = tx.clone();
    let h1 = thread::spawn(move || {
        let r = poll1(fd1, libc::POLLIN, Duration::from_secs(10)).map_err(e2s);
        tx1.send(("poll", r, Instant::now())).ok();
    });
    let tx2 = tx.clone();
    let h2 = thread::spawn(move || {
        let r = poll1(efd_raw, libc::POLLIN, Duration::from_secs(10)).map_err(e2s);
        tx2.send(("eventfd", r, Instant::now())).ok();
    });
    let tx3 = tx.clone();
    let h3 = thread::spawn(move || {
        let r = rt().block_on(async {
            // SAFETY: q3 outlives this thread (joined below)
            let afd = unsafe { tokio::io::unix::AsyncFd::register_with_interest(Fd(fd3), tokio::io::Interest::READABLE) }
                .map_err(|e| format!("{e:?}"))?;
            let g = tokio::time::timeout(Duration::from_secs(10), afd.ready(tokio::io::Interest::READABLE | tokio::io::Interest::ERROR))
                .await
                .map_err(|_| "tokio waiter not woken".to_string())?
                .map_err(e2s)?;
            let rd = g.ready();
            Ok::<i16, String>(if rd.is_error() { libc::POLLERR } else { 0 } | if rd.is_read_closed() { libc::POLLHUP } else { 0 } | if rd.is_readable() { libc::POLLIN } else { 0 })
        });
        tx3.send(("tokio", r, Instant::now())).ok();
    });
    drop(tx);
    thread::sleep(Duration::from_millis(300));
    let t0 = Instant::now();
    std::fs::write("/sys/module/uacce_soft/parameters/remove", format!("{d}\n")).map_err(|e| format!("remove: {e}"))?;
    let mut got = Vec::new();
    while got.len() < 3 {
        match rx.recv_timeout(Duration::from_secs(5)) {
            Ok(x) => got.push(x),
            Err(_) => break,
        }
    }
    for h in [h1, h2, h3] {
        let _ = h.join();
    }
    check!(got.len() == 3, "only {} of 3 waiters woke: {:?}", got.len(), got.iter().map(|g| g.0).collect::<Vec<_>>());
    for (who, r, at) in &got {
        let rev = r.clone()?;
        let el = at.saturating_duration_since(t0);
        check!(el < Duration::from_secs(1), "{who} woke after {el:?}");
        match *who {
            "poll" => check!(rev & (libc::POLLERR | libc::POLLHUP) == (libc::POLLERR | libc::POLLHUP), "poll revents {rev:#x}"),
            "eventfd" => check!(rev & libc::POLLIN != 0, "eventfd revents {rev:#x}"),
            _ => check!(rev & (libc::POLLERR | libc::POLLHUP) != 0, "tokio readiness {rev:#x}"),
        }
    }
    // After removal: poll reports EPOLLERR|EPOLLHUP at once, ioctls fail with ENXIO, the device node is gone
    let rev = poll1(q1.fd(), libc::POLLIN, Duration::from_millis(100)).map_err(e2s)?;
    check!(rev & (libc::POLLERR | libc::POLLHUP) == (libc::POLLERR | libc::POLLHUP), "poll after removal {rev:#x}");
    check!(errno(q1.doorbell(doorbell_value(q1.qid, 0, 1, 0))) == Some(libc::ENXIO), "doorbell after removal");
    check!(errno(q2.set_eventfd(-1, 0)) == Some(libc::ENXIO), "SET_EVENTFD after removal");
    check!(!std::path::Path::new(&format!("/dev/{d}")).exists(), "/dev/{d} still exists");
    // Patch 0004: the zapped mappings fault in pages of ones, which take stores, instead of SIGBUS (a SIGBUS here
    // kills the test binary, which the harness reports as a failure)
    check!(q1.status_words() == (u32::MAX, u32::MAX), "status words after removal {:x?}", q1.status_words());
    check!(q4.dus_u32(0) == u32::MAX, "SQ word after removal {:#x}", q4.dus_u32(0));
    q4.set_dus_u32(0, 0x1234_5678);
    check!(q4.dus_u32(0) == 0x1234_5678 && q4.dus_u32(4) == u32::MAX, "store into a removed queue's page");
    check!(q1.dus_u32(0) == u32::MAX, "a store into one removed queue's page showed in another's");
    // and uacce-sys reads that as a dead queue, not as completions
    let r = q1.pop();
    check!(r.as_ref().is_err_and(|e| e.to_string().contains("reset or disabled")), "pop after removal: {r:?}");
    drop(outs);
    Ok(())
}

// --------------------------------------------------------------- unpatched --

fn unpatched_enotty() -> TestResult {
    let q = Queue::open(&sec_dev(), 0).map_err(e2s)?;
    let efd = eventfd().map_err(e2s)?;
    let e = errno(q.set_eventfd(efd.as_raw_fd(), 0));
    check!(e == Some(libc::ENOTTY), "SET_EVENTFD on unpatched uacce: {e:?}");
    Ok(())
}

/// The fallback a driver does: try the eventfd, and on ENOTTY/EINVAL wait with poll() on the queue fd instead.
fn unpatched_fallback() -> TestResult {
    let mut q = Queue::open(&sec_dev(), 0).map_err(e2s)?;
    let efd = eventfd().map_err(e2s)?;
    // uacce-sys reports ENOTTY/EINVAL as QueueError::Unsupported
    let wait_fd = match q.sys().bind_eventfd(efd.as_fd()) {
        Ok(()) => efd.as_raw_fd(),
        Err(e @ uacce_sys::queue::QueueError::Unsupported { .. }) => {
            println!("# {e}");
            q.fd()
        }
        Err(e) => return Err(e.to_string()),
    };
    check!(wait_fd == q.fd(), "eventfd accepted on unpatched uacce");
    let buf = data(100, 1);
    let mut mac = [0u8; 32];
    q.arm().map_err(e2s)?;
    let w = thread::spawn(move || poll1(wait_fd, libc::POLLIN, Duration::from_secs(5)).map_err(e2s));
    thread::sleep(Duration::from_millis(50));
    small_job(&mut q, &buf, &mut mac).map_err(e2s)?;
    let rev = w.join().map_err(|_| "panicked")??;
    check!(rev & libc::POLLIN != 0, "poll fallback not woken: {rev:#x}");
    q.wait_pop(Duration::from_secs(5)).map_err(e2s)?;
    use sha2::Digest;
    check!(mac[..] == sha2::Sha256::digest(&buf)[..], "digest differs");
    Ok(())
}

// ---------------------------------------------------------- more teardown --

/// Four threads, each with its own queue (two ZIP, two SEC), 150 jobs each, checked against the CPU.
fn parallel_queues() -> TestResult {
    let mut hs = Vec::new();
    for t in 0..4u32 {
        hs.push(thread::spawn(move || -> TestResult {
            if t % 2 == 0 {
                let mut q = Queue::open(&zip_dev(), 0).map_err(e2s)?;
                for i in 0..150u32 {
                    let input = data(2000 + (i as usize * 37) % 5000, t * 1000 + i);
                    let (st, comp) = dev_compress(&mut q, REQ_GZIP, &input)?;
                    check!((st == 0 || st == 0x0d) && cpu_decompress(REQ_GZIP, &comp).map_err(e2s)? == input, "thread {t} job {i}");
                }
            } else {
                use sha2::Digest;
                let mut q = Queue::open(&sec_dev(), 0).map_err(e2s)?;
                for i in 0..150u32 {
                    let m = data(100 + i as usize, t * 1000 + i);
                    let d = dev_digest(&mut q, DigestAlg::Sha256, &[], &m)?;
                    check!(d == sha2::Sha256::digest(&m).to_vec(), "thread {t} job {i}");
                }
            }
            Ok(())
        }));
    }
    for h in hs {
        h.join().map_err(|_| "thread panicked")??;
    }
    Ok(())
}

/// The process that opened a queue dies (SIGKILL, jobs in flight) while another process still holds the queue fd
/// (taken with pidfd_getfd): the mmu_notifier release callback must stop the queue, so doorbells fail with EIO.
fn mm_exit() -> TestResult {
    let d = zip_dev();
    let before = sysfs_attr(&d, "available_instances").map_err(e2s)?;
    let mut p = [0i32; 2];
    check!(unsafe { libc::pipe(p.as_mut_ptr()) } == 0, "pipe");
    let pid = unsafe { libc::fork() };
    check!(pid >= 0, "fork");
    if pid == 0 {
        unsafe { libc::close(p[0]) };
        let mut q = match Queue::open(&d, 0) {
            Ok(q) => q,
            Err(_) => unsafe { libc::_exit(1) },
        };
        let input = data(256 * 1024, 1);
        let mut outs: Vec<Vec<u8>> = (0..16).map(|_| vec![0u8; 300 * 1024]).collect();
        for o in outs.iter_mut() {
            // SAFETY: the child never frees `input` or `outs` nor reads `outs`: it sleeps in pause() until killed.
            let _ = unsafe { q.submit(&zip_sqe(REQ_ZLIB, &input, o, 1)) };
        }
        let msg = format!("{} {}\n", q.fd(), q.qid);
        unsafe {
            libc::write(p[1], msg.as_ptr() as *const libc::c_void, msg.len());
            loop {
                libc::pause();
            }
        }
    }
    unsafe { libc::close(p[1]) };
    let mut buf = [0u8; 64];
    let n = unsafe { libc::read(p[0], buf.as_mut_ptr() as *mut libc::c_void, buf.len()) };
    unsafe { libc::close(p[0]) };
    check!(n > 0, "child did not report");
    let msg = String::from_utf8_lossy(&buf[..n as usize]).to_string();
    let mut it = msg.split_whitespace().map(|x| x.parse::<i32>().unwrap_or(-1));
    let (cfd, qid) = (it.next().unwrap_or(-1), it.next().unwrap_or(-1));
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) } as i32;
    check!(pidfd >= 0, "pidfd_open: {}", std::io::Error::last_os_error());
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_getfd, pidfd, cfd, 0) } as i32;
    check!(fd >= 0, "pidfd_getfd: {}", std::io::Error::last_os_error());
    unsafe {
        libc::close(pidfd);
        libc::kill(pid, libc::SIGKILL);
        libc::waitpid(pid, std::ptr::null_mut(), 0);
    }
    // The queue is still open here, but its mm is gone: the doorbell is refused with EIO
    let db = |v: u64| -> Option<i32> {
        let mut v = v;
        ioctl_raw(fd, UACCE_SOFT_CMD_DOORBELL, &mut v as *mut u64 as *mut _).err().and_then(|e| e.raw_os_error())
    };
    let t = Instant::now();
    let mut e = db(doorbell_value(qid as u16, 0, 17, 0));
    while e != Some(libc::EIO) && t.elapsed() < Duration::from_secs(10) {
        thread::sleep(Duration::from_millis(20));
        e = db(doorbell_value(qid as u16, 0, 17, 0));
    }
    check!(e == Some(libc::EIO), "doorbell after the owner's exit: {e:?}");
    // PUT_Q and close still work; the queue comes back
    let _ = ioctl_raw(fd, UACCE_CMD_PUT_Q, std::ptr::null_mut());
    unsafe { libc::close(fd) };
    let t = Instant::now();
    while sysfs_attr(&d, "available_instances").map_err(e2s)? != before {
        check!(t.elapsed() < Duration::from_secs(30), "queue not released after {:?}", t.elapsed());
        thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

/// rmmod uacce_soft with a queue open and a task sleeping in poll() on it: the task wakes with EPOLLERR|EPOLLHUP,
/// the fd can still be closed, and uacce itself can then be unloaded.
fn module_unload() -> TestResult {
    let d = sec_dev();
    let mut q = Queue::open(&d, 0).map_err(e2s)?;
    q.arm().map_err(e2s)?;
    let fd = q.fd();
    let w = thread::spawn(move || {
        let r = poll1(fd, libc::POLLIN, Duration::from_secs(10)).map_err(e2s);
        (r, Instant::now())
    });
    thread::sleep(Duration::from_millis(200));
    let t0 = Instant::now();
    let out = Command::new("/bin/rmmod").arg("uacce_soft").output().map_err(e2s)?;
    check!(out.status.success(), "rmmod uacce_soft: {}", String::from_utf8_lossy(&out.stderr));
    let (r, at) = w.join().map_err(|_| "panicked")?;
    let rev = r?;
    let el = at.saturating_duration_since(t0);
    check!(rev & (libc::POLLERR | libc::POLLHUP) == (libc::POLLERR | libc::POLLHUP), "revents {rev:#x}");
    check!(el < Duration::from_secs(1), "woke after {el:?}");
    drop(q);
    let out = Command::new("/bin/rmmod").arg("uacce").output().map_err(e2s)?;
    check!(out.status.success(), "rmmod uacce: {}", String::from_utf8_lossy(&out.stderr));
    check!(std::fs::read_dir("/sys/class/uacce").is_err(), "/sys/class/uacce still there");
    Ok(())
}

/// Without patch 2 a removed device leaves poll() sleepers asleep and poll() reports nothing: this documents what the
/// patch fixes (the patched run checks EPOLLERR|EPOLLHUP and a wake within 1 s instead).
fn unpatched_removal() -> TestResult {
    let d = devices("soft_zip-").into_iter().last().ok_or("no zip device")?;
    let mut q = Queue::open(&d, 0).map_err(e2s)?;
    q.arm().map_err(e2s)?;
    let fd = q.fd();
    let w = thread::spawn(move || {
        let t = Instant::now();
        (poll1(fd, libc::POLLIN, Duration::from_millis(1500)).map_err(e2s), t.elapsed())
    });
    thread::sleep(Duration::from_millis(200));
    std::fs::write("/sys/module/uacce_soft/parameters/remove", format!("{d}\n")).map_err(|e| format!("remove: {e}"))?;
    let (r, el) = w.join().map_err(|_| "panicked")?;
    let rev = r?;
    check!(rev == 0 && el >= Duration::from_millis(1400), "unpatched poll() woke: revents {rev:#x} after {el:?}");
    let rev = poll1(q.fd(), libc::POLLIN, Duration::from_millis(100)).map_err(e2s)?;
    check!(rev == 0, "unpatched poll() after removal: revents {rev:#x}");
    println!("# without the series a removed queue's poll() sleeps until its time-out and reports nothing");
    Ok(())
}

/// Rebinding and unbinding eventfds (and closing them) while completions are signalled on another CPU: exercises the
/// locking between UACCE_CMD_SET_EVENTFD and uacce_wake_up(). The kernel log must stay clean.
fn eventfd_rebind_race() -> TestResult {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let q = Queue::open(&sec_dev(), 0).map_err(e2s)?;
    let fd = q.fd();
    let q = Arc::new(std::sync::Mutex::new(q));
    let stop = Arc::new(AtomicBool::new(false));
    let (q2, stop2) = (q.clone(), stop.clone());
    let worker = thread::spawn(move || -> Result<usize, String> {
        let buf = data(64, 1);
        let mut mac = [0u8; 32];
        let mut n = 0;
        while !stop2.load(Ordering::Relaxed) {
            let mut g = q2.lock().unwrap();
            g.arm().map_err(e2s)?;
            small_job(&mut g, &buf, &mut mac).map_err(e2s)?;
            g.wait_pop(Duration::from_secs(5)).map_err(e2s)?;
            n += 1;
        }
        Ok(n)
    });
    let t = Instant::now();
    let mut binds = 0;
    while t.elapsed() < Duration::from_millis(1500) {
        let e1 = eventfd().map_err(e2s)?;
        let e2 = eventfd().map_err(e2s)?;
        let mut a = uacce_sys::uapi::UacceEventfd { fd: e1.as_raw_fd(), flags: 0 };
        ioctl_raw(fd, UACCE_CMD_SET_EVENTFD, &mut a as *mut _ as *mut _).map_err(e2s)?;
        a.fd = e2.as_raw_fd();
        ioctl_raw(fd, UACCE_CMD_SET_EVENTFD, &mut a as *mut _ as *mut _).map_err(e2s)?;
        drop(e2); // still bound: the kernel holds its own reference
        drop(e1);
        if binds % 3 == 0 {
            a.fd = -1;
            ioctl_raw(fd, UACCE_CMD_SET_EVENTFD, &mut a as *mut _ as *mut _).map_err(e2s)?;
        }
        binds += 1;
    }
    stop.store(true, Ordering::Relaxed);
    let jobs = worker.join().map_err(|_| "worker panicked")??;
    check!(jobs > 10 && binds > 100, "only {jobs} jobs / {binds} binds");
    println!("# eventfd_rebind_races_wakes: {binds} rebinds during {jobs} signalled completions");
    Ok(())
}

/// io_uring's ring exit work queues task work with TWA_SIGNAL on every task that used the ring, which makes
/// signal_pending() true until the task returns to user space; uacce_soft's open() registers an mmu_notifier, whose
/// mm_take_all_locks() gives up with -EINTR then. uacce_soft restarts the open (-ERESTARTSYS) instead of failing
/// it: opens right after dropping a ring with a multishot poll must all succeed.
fn open_after_io_uring_exit() -> TestResult {
    let efd = eventfd().map_err(e2s)?;
    let (mut opened, mut eintr) = (0, 0);
    for _ in 0..40 {
        let mut ring = io_uring::IoUring::new(8).map_err(e2s)?;
        let poll = io_uring::opcode::PollAdd::new(io_uring::types::Fd(efd.as_raw_fd()), libc::POLLIN as u32)
            .multi(true)
            .build()
            .user_data(1);
        // SAFETY: the eventfd outlives the ring
        unsafe { ring.submission().push(&poll) }.map_err(|e| e.to_string())?;
        ring.submit().map_err(e2s)?;
        drop(ring);
        for _ in 0..3 {
            match Queue::open(&sec_dev(), 0) {
                Ok(q) => {
                    opened += 1;
                    drop(q);
                }
                Err(e) if e.to_string().contains("EINTR") || e.raw_os_error() == Some(libc::EINTR) => eintr += 1,
                Err(e) => return Err(e.to_string()),
            }
        }
    }
    check!(eintr == 0, "{eintr} of {} opens failed with EINTR", opened + eintr);
    Ok(())
}
