//! Discovery (sysfs attributes, uacce-sys's view of the soft devices) and the queue life cycle.

use super::*;

pub(super) fn discovery() -> TestResult {
    let zips = devices("soft_zip-");
    let secs = devices("soft_sec-");
    check!(!zips.is_empty() && !secs.is_empty(), "devices: zip {zips:?} sec {secs:?}");
    for d in zips.iter().chain(secs.iter()) {
        check!(sysfs_attr(d, "api").map_err(e2s)? == "soft_qm_v2", "{d}: api");
        check!(sysfs_attr(d, "flags").map_err(e2s)? == "0", "{d}: flags");
        let dus: usize = sysfs_attr(d, "region_dus_size").map_err(e2s)?.parse().unwrap_or(0);
        let ps = page_size();
        let want = (128 * 1024 + 16 * 1024usize).div_ceil(ps) * ps + ps;
        check!(dus == want, "{d}: region_dus_size {dus} want {want}");
        let inst = sysfs_attr(d, "available_instances").map_err(e2s)?;
        check!(inst == "8", "{d}: available_instances {inst}");
        check!(std::path::Path::new(&format!("/dev/{d}")).exists(), "/dev/{d} missing");
    }
    // The same through uacce-sys: discovery, the device check and the doorbell path it picks
    let sysfs = uacce_sys::sysfs::Sysfs::new();
    let devs = sysfs.devices().map_err(|e| e.to_string())?;
    let soft: Vec<_> = devs.iter().filter(|d| d.is_soft()).collect();
    // The soft HPRE devices: api soft_qm_v3 (QM v3, for its ECC queues), 64-byte SQEs, the v3 hisi_hpre algorithms
    let hpres = devices("soft_hpre-");
    check!(hpres.len() == zips.len(), "hpre devices {hpres:?}");
    for d in &hpres {
        check!(sysfs_attr(d, "api").map_err(e2s)? == "soft_qm_v3", "{d}: api");
        check!(sysfs_attr(d, "flags").map_err(e2s)? == "0", "{d}: flags");
        let dus: usize = sysfs_attr(d, "region_dus_size").map_err(e2s)?.parse().unwrap_or(0);
        let ps = page_size();
        let want = (64 * 1024 + 16 * 1024usize).div_ceil(ps) * ps + ps;
        check!(dus == want, "{d}: region_dus_size {dus} want {want}");
        let a = sysfs_attr(d, "algorithms").map_err(e2s)?;
        check!(
            a.split('\n').collect::<Vec<_>>() == ["rsa", "dh", "ecdh", "ecdsa", "sm2", "x25519", "x448"],
            "{d}: algorithms {a:?}"
        );
    }
    check!(soft.len() == zips.len() + secs.len() + hpres.len(), "uacce-sys sees {} soft devices", soft.len());
    for d in soft.iter().filter(|d| d.driver == "soft_hpre") {
        check!(d.qm_version() == Some(uacce_sys::qm::QmVersion::V3), "{}: QM version {:?}", d.name, d.qm_version());
        // The queue reports the HPRE SQE size (SET_QP_INFO), and the ring takes it
        let q = uacce_sys::queue::Queue::open_and_start(d, 0).map_err(|e| format!("{}: open: {e}", d.name))?;
        check!(q.sqe_size() == 64, "{}: SET_QP_INFO SQE size {}", d.name, q.sqe_size());
        let layout = uacce_sys::qm::RingLayout::for_queue(&q).map_err(|e| e.to_string())?;
        check!(layout.cq_offset() == 64 * 1024, "{}: CQ at {}", d.name, layout.cq_offset());
    }
    for d in &soft {
        let path = uacce_sys::queue::check_device(d).map_err(|e| e.to_string())?;
        // The patched boot's uacce_soft has a one-page MMIO register page (remap_pfn_range, VM_PFNMAP) and takes
        // doorbells through it and a kick eventfd; built against a uacce without the series it has none and takes
        // them by ioctl
        let patched = crate::MODE_PATCHED.load(std::sync::atomic::Ordering::Relaxed);
        let want = if patched { uacce_sys::queue::DoorbellPath::SoftKick } else { uacce_sys::queue::DoorbellPath::SoftIoctl };
        check!(path == want, "{}: doorbell path {path:?}", d.name);
        let mmio = if patched { page_size() as u64 } else { 0 };
        check!(d.region_mmio_size == mmio && !d.is_sva(), "{}: mmio {} sva {}", d.name, d.region_mmio_size, d.is_sva());
    }
    let zlib = sysfs.devices_for_algorithm("zlib").map_err(|e| e.to_string())?;
    check!(zlib.iter().all(|d| d.driver == "soft_zip") && zlib.len() == zips.len(), "zlib devices {zlib:?}");
    let za = sysfs_attr(&zips[0], "algorithms").map_err(e2s)?;
    check!(za.split('\n').collect::<Vec<_>>() == ["zlib", "gzip", "deflate"], "zip algorithms {za:?}");
    let sa = sysfs_attr(&secs[0], "algorithms").map_err(e2s)?;
    check!(sa.split('\n').collect::<Vec<_>>() == ["cipher", "digest", "aead"], "sec algorithms {sa:?}");
    Ok(())
}

pub(super) fn queue_start_put() -> TestResult {
    let d = zip_dev();
    let before: u32 = sysfs_attr(&d, "available_instances").map_err(e2s)?.parse().unwrap();
    let q = Queue::open_unstarted(&d, 0).map_err(e2s)?;
    let during: u32 = sysfs_attr(&d, "available_instances").map_err(e2s)?.parse().unwrap();
    check!(during + 1 == before, "available_instances {before} -> {during}");
    check!(q.depth == 1024, "depth {}", q.depth);
    // Doorbell before START_Q is refused
    check!(errno(q.doorbell(doorbell_value(q.qid, 0, 1, 0))) == Some(libc::EINVAL), "doorbell before start");
    q.ioctl(UACCE_CMD_START_Q).map_err(e2s)?;
    let again = q.ioctl(UACCE_CMD_START_Q);
    check!(again.err().and_then(|e| e.raw_os_error()) == Some(libc::EINVAL), "second START_Q");
    // Malformed doorbells
    check!(errno(q.doorbell(doorbell_value(q.qid + 1, 0, 1, 0))) == Some(libc::EINVAL), "wrong sqn");
    check!(errno(q.doorbell(doorbell_value(q.qid, 2, 1, 0))) == Some(libc::EINVAL), "cmd 2");
    check!(errno(q.doorbell(doorbell_value(q.qid, 0, 1024, 0))) == Some(libc::EINVAL), "index >= depth");
    check!(q.status_words() == (0, 0), "status words {:?}", q.status_words());
    // The MMIO register page: shared, one page, the SQ head register reads 0 (doorbells above went by ioctl)
    let m = map_raw(q.fd(), 0, page_size(), libc::MAP_SHARED).map_err(e2s)?;
    // SAFETY: `m` is a live, page-sized, readable shared mapping until the munmap below.
    let sq_head = unsafe { std::ptr::read_volatile(m.cast::<u32>()) };
    // SAFETY: `m` and its length come from the mmap above; nothing uses it afterwards.
    unsafe { libc::munmap(m, page_size()) };
    check!(sq_head == 0, "MMIO SQ head register {sq_head:#x}");
    // Unknown ioctl
    let r = q.ioctl(0x5a5a);
    check!(r.err().and_then(|e| e.raw_os_error()) == Some(libc::ENOTTY), "unknown ioctl");
    q.put().map_err(e2s)?;
    drop(q);
    let after: u32 = sysfs_attr(&d, "available_instances").map_err(e2s)?.parse().unwrap();
    check!(after == before, "available_instances after close {after}");
    Ok(())
}

/// mmap() a region of a queue fd; Err(errno) if refused.
fn map_raw(fd: RawFd, region: usize, len: usize, flags: i32) -> std::io::Result<*mut libc::c_void> {
    // SAFETY: a new mapping at an address the kernel picks replaces nothing of ours; the caller unmaps it.
    let m = unsafe {
        libc::mmap(std::ptr::null_mut(), len, libc::PROT_READ | libc::PROT_WRITE, flags, fd, (region * page_size()) as libc::off_t)
    };
    if m == libc::MAP_FAILED {
        return Err(std::io::Error::last_os_error());
    }
    Ok(m)
}

/// Patch 1: MAP_PRIVATE of either region is refused with EINVAL (a private VM_PFNMAP mapping would be COW, which
/// a later vmf_insert_pfn() BUGs on); the same regions map shared.
pub(super) fn private_mapping_refused() -> TestResult {
    let d = zip_dev();
    let dev = uacce_sys::sysfs::Sysfs::new().device(&d).map_err(|e| e.to_string())?;
    let f = std::fs::OpenOptions::new().read(true).write(true).open(format!("/dev/{d}")).map_err(e2s)?;
    let dus = dev.region_dus_size as usize;
    for (region, len, what) in [(0usize, page_size(), "MMIO"), (1, dus, "DUS")] {
        let r = map_raw(f.as_raw_fd(), region, len, libc::MAP_PRIVATE);
        check!(r.as_ref().err().and_then(|e| e.raw_os_error()) == Some(libc::EINVAL), "MAP_PRIVATE {what}: {r:?}");
    }
    for (region, len, what) in [(0usize, page_size(), "MMIO"), (1, dus, "DUS")] {
        let m = map_raw(f.as_raw_fd(), region, len, libc::MAP_SHARED).map_err(|e| format!("MAP_SHARED {what}: {e}"))?;
        // SAFETY: `m` and `len` come from the mmap above; nothing uses the mapping afterwards.
        unsafe { libc::munmap(m, len) };
    }
    Ok(())
}
