//! SQE trace: what the library sent. With tracing on ([`EmuDevice::set_trace`](crate::EmuDevice::set_trace)),
//! the device records every SQE it consumes — its 128 bytes as fetched from the ring (before the result
//! write-back), the queue, the QM version — and the bytes its address slots pointed at when the device read them
//! (key, IVs, source, expected tag, …), so a test or a user debugging a job can answer "what exactly did the
//! driver send?" without a Kunpeng. [`EmuDevice::take_trace`](crate::EmuDevice::take_trace) hands the records out.
//!
//! The slots are resolved with the same strict decode the engines use; an SQE that does not decode has no slots.

use uacce_sys::qm::sec::{self, CipherMode, DigestStage, SecOp};
use uacce_sys::qm::{QmVersion, Sqe};
use uacce_sys::qm::{hpre, zip};

use crate::DeviceKind;
use crate::mem::ProcMem;

/// One address slot of an SQE and the bytes the device read there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotRead {
    /// The SQE field, as the protocol document names it (`c_key_addr`, `c_ivin_addr`, `a_ivin_addr`,
    /// `data_src_addr`, `mac_addr`, `a_key_addr`, `source_addr`).
    pub slot: &'static str,
    /// The address the SQE holds.
    pub addr: u64,
    /// What was there when the device consumed the SQE (empty if the device could not read it).
    pub bytes: Vec<u8>,
}

/// One SQE a device consumed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqeRecord {
    /// Device name.
    pub device: String,
    /// Queue number.
    pub sqn: u16,
    /// The queue's `qc_type` (ZIP: 0 compress, 1 decompress).
    pub qc_type: u16,
    /// QM version the device speaks (which SQE format the bytes are).
    pub version: QmVersion,
    /// The SQE as the device fetched it.
    pub sqe: Sqe,
    /// The input slots it names, resolved to the bytes read.
    pub reads: Vec<SlotRead>,
}

impl SqeRecord {
    /// The read of `slot`, if the SQE names it.
    pub fn read(&self, slot: &str) -> Option<&SlotRead> {
        self.reads.iter().find(|r| r.slot == slot)
    }
}

fn slot(mem: &ProcMem, slot: &'static str, addr: u64, len: usize) -> SlotRead {
    SlotRead {
        slot,
        addr,
        bytes: mem.read(addr, len).unwrap_or_default(),
    }
}

/// The input slots `sqe` names, read from `mem`.
pub(crate) fn reads(
    kind: DeviceKind,
    version: QmVersion,
    qc_type: u16,
    mem: &ProcMem,
    sqe: &Sqe,
) -> Vec<SlotRead> {
    match kind {
        DeviceKind::Null => Vec::new(),
        DeviceKind::Hpre => {
            let Some(qc) = hpre::HpreQcType::from_code(qc_type) else {
                return Vec::new();
            };
            let Ok(v) = hpre::decode(&sqe[..], version, qc) else {
                return Vec::new();
            };
            let lens = hpre::layout::block_lens(v.alg, v.width, v.msg_len());
            let mut out = vec![slot(mem, "key", v.key, lens.key)];
            if lens.input != 0 {
                out.push(slot(mem, "in", v.input, lens.input));
            }
            out
        }
        DeviceKind::Zip => match zip::decode(sqe) {
            Ok(v) if v.buffers.src_len != 0 => vec![slot(
                mem,
                "source_addr",
                v.buffers.src_addr,
                v.buffers.src_len as usize,
            )],
            _ => Vec::new(),
        },
        DeviceKind::Sec => {
            let Ok(v) = sec::decode(sqe) else {
                return Vec::new();
            };
            let mut out = Vec::new();
            match v.op {
                SecOp::Cipher(c) => {
                    out.push(slot(mem, "c_key_addr", c.key_addr, c.key_len as usize));
                    if c.mode != CipherMode::Ecb {
                        out.push(slot(mem, "c_ivin_addr", c.iv_addr, 16));
                    }
                    out.push(slot(mem, "data_src_addr", c.src_addr, c.len as usize));
                }
                SecOp::Aead(g) => {
                    out.push(slot(mem, "c_key_addr", g.key_addr, g.key_len as usize));
                    out.push(slot(mem, "c_ivin_addr", g.iv_addr, 16));
                    out.push(slot(mem, "a_ivin_addr", g.aiv_addr, 16));
                    let n = (g.aad_len + g.payload_len) as usize;
                    out.push(slot(mem, "data_src_addr", g.src_addr, n));
                    if g.dir == sec::CipherDir::Decrypt {
                        out.push(slot(mem, "mac_addr", g.mac_addr, usize::from(g.tag_len)));
                    }
                }
                SecOp::Xcm(x) => {
                    out.push(slot(mem, "c_key_addr", x.key_addr, x.key_len as usize));
                    out.push(slot(mem, "c_ivin_addr", x.iv_addr, 16));
                    out.push(slot(mem, "a_ivin_addr", x.aiv_addr, 16));
                    let n = (x.aad_len + x.payload_len) as usize;
                    out.push(slot(mem, "data_src_addr", x.src_addr, n));
                    if x.dir == sec::CipherDir::Decrypt {
                        out.push(slot(mem, "mac_addr", x.mac_addr, usize::from(x.tag_len)));
                    }
                }
                SecOp::Mac(m) => {
                    out.push(slot(mem, "a_key_addr", m.key_addr, m.key_len as usize));
                    if m.alg == sec::MacAlg::AesGmac {
                        out.push(slot(mem, "a_ivin_addr", m.iv_addr, 16));
                    }
                    if m.len != 0 {
                        out.push(slot(mem, "data_src_addr", m.src_addr, m.len as usize));
                    }
                }
                SecOp::Digest(d) => {
                    if let Some(k) = d.hmac_key {
                        out.push(slot(mem, "a_key_addr", k.addr, k.len as usize));
                    }
                    if matches!(d.stage, DigestStage::Middle | DigestStage::Last { .. }) {
                        out.push(slot(mem, "a_ivin_addr", d.mac_addr, 64));
                    }
                    if d.len != 0 {
                        out.push(slot(mem, "data_src_addr", d.src_addr, d.len as usize));
                    }
                }
                SecOp::Authenc(a) => {
                    out.push(slot(mem, "c_key_addr", a.key_addr, a.key_len as usize));
                    out.push(slot(mem, "c_ivin_addr", a.iv_addr, 16));
                    let k = a.hmac_key;
                    out.push(slot(mem, "a_key_addr", k.addr, k.len as usize));
                    let n = (a.aad_len + a.payload_len) as usize;
                    out.push(slot(mem, "data_src_addr", a.src_addr, n));
                    if a.dir == sec::CipherDir::Decrypt {
                        out.push(slot(mem, "mac_addr", a.mac_addr, a.mac_len as usize));
                    }
                }
            }
            out
        }
    }
}
