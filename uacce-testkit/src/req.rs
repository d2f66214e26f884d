//! ZIP and SEC requests built from slices: the addresses are the slices' own (what an SVA device, the kernel soft
//! device and the emulator take), the lengths theirs.
//!
//! Building a request is safe; handing its SQE to a device is where the slices must outlive the job.

use uacce_sys::qm::sec::{
    self, CipherAlg, CipherDir, CipherMode, CipherRequest, DigestAlg, DigestRequest, DigestStage,
    GcmRequest, HmacKey, SecOp, SecRequest,
};
use uacce_sys::qm::zip::{
    self, HwBuffers, QcType, ZipAlg, ZipEncodeError, ZipMode, ZipRequest, ZipWindow,
};
use uacce_sys::qm::{QmVersion, Sqe};

// ------------------------------------------------------------------------------------------------------------ ZIP --

/// Flat hardware buffers exactly over `src` and `dst` (no header rule: see [`zip_user`] for that).
pub fn hw_buffers(src: &[u8], dst: &mut [u8]) -> HwBuffers {
    HwBuffers {
        src_addr: src.as_ptr() as u64,
        src_len: src.len() as u32,
        dst_addr: dst.as_mut_ptr() as u64,
        dst_avail: dst.len() as u32,
    }
}

/// A block-mode request (32 KiB window) over the hardware buffers `src` and `dst` as they are (for a zlib/gzip
/// stream: after its header).
pub fn zip_block(alg: ZipAlg, src: &[u8], dst: &mut [u8], tag: u32) -> ZipRequest {
    ZipRequest {
        alg,
        buffers: hw_buffers(src, dst),
        tag,
        window: ZipWindow::W32K,
        mode: ZipMode::Block,
    }
}

/// A block-mode request (32 KiB window, SVA) over the user's buffers, as a driver builds it
/// ([`HwBuffers::from_user`]): compress leaves room for the zlib/gzip header at the start of `dst` (the caller
/// writes it), decompress skips the header at the start of `src`.
pub fn zip_user(
    alg: ZipAlg,
    dir: QcType,
    src: &[u8],
    dst: &mut [u8],
    tag: u32,
) -> Result<ZipRequest, ZipEncodeError> {
    let b = hw_buffers(src, dst);
    let buffers = HwBuffers::from_user(
        alg,
        dir,
        true,
        b.src_addr,
        b.src_len,
        b.dst_addr,
        b.dst_avail,
    )?;
    Ok(ZipRequest {
        alg,
        buffers,
        tag,
        window: ZipWindow::W32K,
        mode: ZipMode::Block,
    })
}

/// The SQE of a [`zip_block`] request.
pub fn zip_block_sqe(alg: ZipAlg, src: &[u8], dst: &mut [u8], tag: u32, version: QmVersion) -> Sqe {
    zip::encode(&zip_block(alg, src, dst, tag), version)
}

// ------------------------------------------------------------------------------------------------------------ SEC --

/// An AES cipher request from `key`, `iv`, `src` into `dst` (`len` is `src`'s).
pub fn cipher(
    mode: CipherMode,
    dir: CipherDir,
    key: &[u8],
    iv: &[u8],
    src: &[u8],
    dst: &mut [u8],
) -> CipherRequest {
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

/// A one-shot digest of `src` (HMAC when `key` is given) writing `mac.len()` bytes of MAC.
pub fn digest(alg: DigestAlg, key: Option<&[u8]>, src: &[u8], mac: &mut [u8]) -> DigestRequest {
    DigestRequest {
        alg,
        hmac_key: key.map(|k| HmacKey {
            addr: k.as_ptr() as u64,
            len: k.len() as u32,
        }),
        src_addr: src.as_ptr() as u64,
        len: src.len() as u32,
        mac_addr: mac.as_mut_ptr() as u64,
        mac_len: mac.len() as u32,
        stage: DigestStage::OneShot,
    }
}

/// The buffers of an AES-GCM request: `src` is the AAD (`aad_len` bytes) followed by the payload, `dst` the same
/// layout, `mac` the tag (written on encrypt, read on decrypt), `aiv` the auth IV the BD names (a_ivin): it must
/// hold a copy of the 12-byte IV, as UADK and the kernel's sec2 driver fill it; the emulator and the soft device
/// refuse a GCM BD whose a_ivin does not.
pub struct Gcm<'a> {
    pub key: &'a [u8],
    pub iv: &'a [u8],
    pub aiv: &'a [u8],
    pub aad_len: usize,
    pub src: &'a [u8],
    pub dst: &'a mut [u8],
    pub mac: &'a mut [u8],
}

/// An AES-GCM request over the buffers of `g`.
pub fn gcm(dir: CipherDir, g: Gcm<'_>) -> GcmRequest {
    GcmRequest {
        dir,
        key_addr: g.key.as_ptr() as u64,
        key_len: g.key.len() as u32,
        iv_addr: g.iv.as_ptr() as u64,
        aiv_addr: g.aiv.as_ptr() as u64,
        src_addr: g.src.as_ptr() as u64,
        dst_addr: g.dst.as_mut_ptr() as u64,
        aad_len: g.aad_len as u32,
        payload_len: (g.src.len() - g.aad_len) as u32,
        mac_addr: g.mac.as_mut_ptr() as u64,
        tag_len: g.mac.len() as u8,
    }
}

/// `op` with `tag`, no SVA prefetch.
pub fn sec_request(op: SecOp, tag: u32) -> SecRequest {
    SecRequest {
        op,
        tag,
        sva_prefetch: false,
    }
}

/// The BD of [`sec_request`]; panics if uacce-sys refuses to encode it.
pub fn sec_sqe(op: SecOp, tag: u32, version: QmVersion) -> Sqe {
    sec::encode(&sec_request(op, tag), version).expect("a request uacce-sys encodes")
}

/// A golden-BD check: `op` with `tag` encodes for `version` to exactly `expected`, and `expected` decodes back to
/// `op`.
#[track_caller]
pub fn assert_sec_golden(op: SecOp, tag: u32, version: QmVersion, expected: &Sqe) {
    assert_eq!(
        sec::encode(&sec_request(op, tag), version).unwrap(),
        *expected
    );
    assert_eq!(sec::decode(expected).unwrap().op, op);
}
