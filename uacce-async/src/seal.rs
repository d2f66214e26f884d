//! The one seal/open job of the SEC engine's AEAD BDs, shared by AES-GCM ([`crate::aead`]), CCM and SM4-GCM
//! ([`crate::ccm`]) and authenc ([`crate::authenc`]).
//!
//! On a device a seal or an open is one SEC job over AAD ‖ body: the IV block (and the auth IV block, where the
//! algorithm has one) in the slot's scratch memory, the result after the AAD area of the output, the tag right behind
//! the ciphertext (seal) or the expected tag in the scratch memory, compared by the device (open). What differs
//! between the algorithms (the IV blocks, the request, the size limits, the CPU code) is a [`SealAlg`].

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use uacce_sys::qm::sec::{CipherDir, SecOp};
use uacce_sys::qm::{QmVersion, Sqe};

use crate::accel::Inner;
use crate::cipher::{MAX_SEC, check_sec, sec_encode};
use crate::error::{Error, Result};
use crate::job::{Job, Step, addr};
use crate::lane::{Buffers, Class, JobOutput, Scratch, scratch};
use crate::pool::ClassPool;
use crate::stats::Family;

/// Where a seal or open job's data is, for [`SealAlg::op`]: every address is in the job's buffers or the slot's
/// scratch memory.
pub(crate) struct SealIo {
    pub dir: CipherDir,
    /// The IV block (scratch).
    pub iv_addr: u64,
    /// The auth IV block (scratch); written only when [`SealAlg::iv_blocks`] gives one.
    pub aiv_addr: u64,
    /// AAD ‖ body.
    pub src_addr: u64,
    /// [AAD area | result (| tag)].
    pub dst_addr: u64,
    pub aad_len: u32,
    pub payload_len: u32,
    /// Seal: where the device writes the tag (behind the ciphertext); open: the expected tag (scratch).
    pub mac_addr: u64,
}

/// What an AEAD algorithm adds to the shared seal/open job.
pub(crate) trait SealAlg: Send + Sync + 'static {
    /// The tag length in bytes (at most 64, the scratch MAC area).
    fn tag_len(&self) -> usize;

    /// Whether a device takes a request of these lengths (the BD's AAD limit and the like); the engine's 16 MiB
    /// over AAD and body is checked by the job.
    fn fits(&self, aad_len: usize, body_len: usize) -> bool;

    /// As [`Job::capable`].
    fn capable(&self, _pool: &ClassPool) -> bool {
        true
    }

    /// The key memory the device reads, kept alive while a job is in flight.
    fn keep(&self) -> Arc<dyn Send + Sync>;

    /// The 16-byte IV block and the auth IV block (none: the algorithm has none) of a job.
    fn iv_blocks(&self, aad_len: usize, body_len: usize) -> Result<([u8; 16], Option<[u8; 16]>)>;

    /// The SEC request of a job.
    fn op(&self, io: SealIo) -> SecOp;

    /// Seal `buf` (the plaintext) on the CPU: `buf` becomes the ciphertext, `tag` the tag.
    fn cpu_seal(&self, aad: &[u8], buf: &mut BytesMut, tag: &mut [u8]) -> Result<()>;

    /// Open `buf` (the ciphertext) on the CPU: `buf` becomes the plaintext when `tag` checks out.
    fn cpu_open(&self, aad: &[u8], buf: &mut BytesMut, tag: &[u8]) -> Result<()>;
}

/// One seal (`expected_tag` none; gives ciphertext ‖ tag) or open (gives the plaintext).
struct SealJob<A> {
    alg: A,
    aad: Vec<u8>,
    /// Plaintext (seal) or ciphertext (open).
    body: Bytes,
    expected_tag: Option<Vec<u8>>,
    /// AAD ‖ body, the device's source, made for the first device attempt.
    src: Option<Bytes>,
}

impl<A: SealAlg> Job for SealJob<A> {
    type Output = Bytes;
    const CLASS: Class = Class::Sec;
    const FAMILY: Family = Family::Aead;

    fn size(&self) -> usize {
        self.body.len()
    }

    fn fits(&self, _: &ClassPool) -> bool {
        self.alg.fits(self.aad.len(), self.body.len())
            && self.aad.len() + self.body.len() <= MAX_SEC
    }

    fn capable(&self, pool: &ClassPool) -> bool {
        self.alg.capable(pool)
    }

    fn buffers(&mut self, _: QmVersion) -> Result<Buffers> {
        let src = self
            .src
            .get_or_insert_with(|| {
                let mut src = BytesMut::with_capacity(self.aad.len() + self.body.len());
                src.extend_from_slice(&self.aad);
                src.extend_from_slice(&self.body);
                src.freeze()
            })
            .clone();
        // Seal output: [aad area | ciphertext | tag], so ciphertext ‖ tag is contiguous. Open: [aad area | plaintext].
        let tag_room = if self.expected_tag.is_none() {
            self.alg.tag_len()
        } else {
            0
        };
        Ok(Buffers {
            output: Some(BytesMut::zeroed(src.len() + tag_room)),
            input: Some(src),
            keep: Some(self.alg.keep()),
        })
    }

    fn sqe(&self, tag: u32, scr: &mut Scratch, bufs: &Buffers, version: QmVersion) -> Result<Sqe> {
        let (src, out) = (bufs.input(), bufs.output());
        let (aad_len, body_len) = (self.aad.len(), self.body.len());
        // The whole 16-byte IV areas are written every job (the slot's scratch is reused).
        let (iv, aiv) = self.alg.iv_blocks(aad_len, body_len)?;
        scr.0[scratch::IV..scratch::IV + 16].copy_from_slice(&iv);
        if let Some(aiv) = aiv {
            scr.0[scratch::AIV..scratch::AIV + 16].copy_from_slice(&aiv);
        }
        let base = scr.0.as_ptr() as u64;
        let (dir, mac_addr) = match &self.expected_tag {
            None => (CipherDir::Encrypt, addr(out) + (aad_len + body_len) as u64),
            Some(t) => {
                // At most 64 bytes (SHA-512 authenc): the scratch MAC area's size.
                scr.0[scratch::MAC..scratch::MAC + t.len()].copy_from_slice(t);
                (CipherDir::Decrypt, base + scratch::MAC as u64)
            }
        };
        let op = self.alg.op(SealIo {
            dir,
            iv_addr: base + scratch::IV as u64,
            aiv_addr: base + scratch::AIV as u64,
            src_addr: addr(src),
            dst_addr: addr(out),
            aad_len: aad_len as u32,
            payload_len: body_len as u32,
            mac_addr,
        });
        sec_encode(op, tag, version, aad_len + body_len)
    }

    fn complete(&mut self, out: JobOutput, _: QmVersion) -> Result<Step<Bytes>> {
        check_sec(&out.sqe)?;
        let mut output = out.into_output();
        Ok(Step::Done(output.split_off(self.aad.len()).freeze()))
    }

    fn cpu(self) -> Result<Bytes> {
        let tag_len = self.alg.tag_len();
        let mut buf = BytesMut::with_capacity(self.body.len() + tag_len);
        buf.extend_from_slice(&self.body);
        match &self.expected_tag {
            None => {
                let mut tag = vec![0u8; tag_len];
                self.alg.cpu_seal(&self.aad, &mut buf, &mut tag)?;
                buf.extend_from_slice(&tag);
            }
            Some(tag) => self.alg.cpu_open(&self.aad, &mut buf, tag)?,
        }
        Ok(buf.freeze())
    }
}

impl Inner {
    /// Seal `body` under `alg` with `aad` (`expected_tag` none; gives ciphertext ‖ tag), or open it (gives the
    /// plaintext when `expected_tag` checks out).
    pub(crate) async fn aead<A: SealAlg>(
        &self,
        alg: A,
        aad: &[u8],
        body: Bytes,
        expected_tag: Option<Vec<u8>>,
    ) -> Result<Bytes> {
        let job = SealJob {
            alg,
            aad: aad.to_vec(),
            body,
            expected_tag,
            src: None,
        };
        self.execute(job).await
    }
}

/// Split a sealed message into ciphertext and tag; an input shorter than the tag is [`Error::AuthFailed`].
pub(crate) fn split_sealed(sealed: &Bytes, tag_len: usize) -> Result<(Bytes, Vec<u8>)> {
    let Some(ct_len) = sealed.len().checked_sub(tag_len) else {
        return Err(Error::AuthFailed);
    };
    Ok((sealed.slice(..ct_len), sealed[ct_len..].to_vec()))
}

/// Split what a seal gave (ciphertext ‖ tag of `tag_len` bytes) for the detached APIs.
pub(crate) fn detach_tag(mut sealed: Bytes, tag_len: usize) -> (Bytes, Bytes) {
    let tag = sealed.split_off(sealed.len() - tag_len);
    (sealed, tag)
}
