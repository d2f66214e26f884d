//! ZIP on the soft device: block-mode round trips against flate2 for raw deflate, zlib and gzip, and the statuses of
//! bad jobs.

use super::*;

use uacce_sys::qm::zip::{self, HwBuffers, QcType, ZipAlg, ZipMode, ZipRequest, ZipStatus, ZipWindow};

pub(super) const REQ_DEFLATE: ZipAlg = ZipAlg::Deflate;
pub(super) const REQ_ZLIB: ZipAlg = ZipAlg::Zlib;
pub(super) const REQ_GZIP: ZipAlg = ZipAlg::Gzip;

/// A block-mode ZIP SQE as UADK builds it on hw v2 (`uacce_sys::qm::zip::encode`: type 0 for zlib/gzip, type 3 for
/// deflate). `src`/`dst` are the hardware buffers (after a zlib/gzip header).
pub(super) fn zip_sqe(alg: ZipAlg, src: &[u8], dst: &mut [u8], tag: u32) -> Sqe {
    req::zip_block_sqe(alg, src, dst, tag, VERSION)
}

/// The same from raw addresses, for the addresses the device must refuse.
pub(super) fn zip_sqe_raw(alg: ZipAlg, src: u64, src_len: u32, dst: u64, dst_avail: u32, tag: u32) -> Sqe {
    let buffers = HwBuffers { src_addr: src, src_len, dst_addr: dst, dst_avail };
    zip::encode(&ZipRequest { alg, buffers, tag, window: ZipWindow::W32K, mode: ZipMode::Block }, VERSION)
}

pub(super) fn zip_status(r: &Sqe) -> u8 {
    zip::read_result(r).status.code()
}

/// Compress on the device; returns (status, header + produced).
pub(super) fn dev_compress(q: &mut Queue, alg: ZipAlg, input: &[u8]) -> Result<(u8, Vec<u8>), String> {
    let h = alg.header();
    let mut out = vec![0u8; input.len() + input.len() / 8 + 1024];
    out[..h.len()].copy_from_slice(h);
    let sqe = zip::encode(&req::zip_user(alg, QcType::Compress, input, &mut out, 0x1234).map_err(|e| e.to_string())?, VERSION);
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
pub(super) fn dev_decompress(q: &mut Queue, alg: ZipAlg, comp: &[u8], cap: usize) -> Result<(u8, u32, Vec<u8>), String> {
    let h = alg.header().len();
    let mut out = vec![0u8; cap];
    let sqe = zip_sqe(alg, &comp[h..], &mut out, 0x77);
    // SAFETY: the buffers the SQE names are locals that outlive this call and are untouched during it; `run`
    // returns with the completion consumed, or stops the queue first.
    let c = zip::read_result(&unsafe { q.run(&sqe) }.map_err(e2s)?);
    out.truncate(c.produced as usize);
    Ok((c.status.code(), c.consumed, out))
}

pub(super) fn zip_roundtrip(req: ZipAlg) -> TestResult {
    let d = zip_dev();
    let mut cq = Queue::open(&d, 0).map_err(e2s)?;
    let mut dq = Queue::open(&d, 1).map_err(e2s)?;
    for (i, len) in [1usize, 100, 4096, 65536, 300_000].into_iter().enumerate() {
        let input = data(len, i as u32 + req.req_type() as u32 * 10);
        // device compress -> CPU decompress
        let (st, comp) = dev_compress(&mut cq, req, &input)?;
        // 0x0d: "negative compression" (output not smaller than input), a success code
        check!(st == 0 || (st == 0x0d && comp.len() >= input.len()), "compress len {len}: status {st:#x}");
        let back = codec::decompress(req, &comp).map_err(|e| format!("CPU decompress of device output, len {len}: {e}"))?;
        check!(back == input, "device compress len {len}: round trip differs");
        // CPU compress -> device decompress
        let comp = codec::compress(req, &input);
        let (st, consumed, out) = dev_decompress(&mut dq, req, &comp, len + 64)?;
        check!(st == 0, "decompress len {len}: status {st:#x}");
        check!(out == input, "device decompress len {len}: output differs");
        let h = req.header().len();
        check!(consumed as usize == comp.len() - h, "consumed {consumed} of {}", comp.len() - h);
    }
    Ok(())
}

pub(super) fn zip_deflate() -> TestResult {
    zip_roundtrip(REQ_DEFLATE)
}
pub(super) fn zip_zlib() -> TestResult {
    zip_roundtrip(REQ_ZLIB)
}
pub(super) fn zip_gzip() -> TestResult {
    zip_roundtrip(REQ_GZIP)
}

pub(super) fn zip_errors() -> TestResult {
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
    let comp = codec::compress(REQ_GZIP, &input);
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
    // SAFETY: the SQE names `out` (outlives this call) and source 0x10, below mmap_min_addr: nothing of ours is
    // there; `run` returns with the completion consumed, or stops the queue first.
    let r = unsafe { cq.run(&s) }.map_err(e2s)?;
    check!(zip_status(&r) == 0xff, "req type 0x40: status {:#x}", zip_status(&r));
    let mut s = zip_sqe(REQ_ZLIB, &input, &mut out, 1);
    s[37] |= 0x01;
    // SAFETY: the SQE names `out` (outlives this call) and source 0x10, below mmap_min_addr: nothing of ours is
    // there; `run` returns with the completion consumed, or stops the queue first.
    let r = unsafe { cq.run(&s) }.map_err(e2s)?;
    check!(zip_status(&r) == 0xff && !zip::read_result(&r).lstblk, "SGL accepted: {:#x}", zip_status(&r));
    // Stream mode (dw7 bit 26): a continuation BD for a context no "new" BD started is refused, and so is a
    // stream BD with another algorithm than the one that started the stream (which is then still usable)
    let ctx = vec![0u8; 4096];
    let stream = zip::StreamState { ctx_addr: ctx.as_ptr() as u64 + zip::HW_CTX_OFFSET, first: false, last: true, ..Default::default() };
    let hw = req::hw_buffers(&input, &mut out);
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
    check!(codec::decompress(REQ_ZLIB, &comp).map_err(e2s)? == input, "two-BD zlib stream differs");
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
    check!((st == 0 || st == 0x0d) && codec::decompress(REQ_ZLIB, &comp).map_err(e2s)? == input, "queue broken after errors");
    Ok(())
}
