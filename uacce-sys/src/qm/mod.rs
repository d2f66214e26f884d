//! HiSilicon QM ring protocol (hardware v1/v2/v3), written once and used by both sides: the driver (SQ producer, CQ
//! consumer) and a device (SQ consumer, CQ producer; the emulator and tests).
//!
//! Facts are from `shared/docs/hisi-qm-protocol.md` (sections 2–5).

/// Size of one ZIP or SEC submission queue element in bytes, and the largest SQE any QM device has: the ring's
/// SQE copies ([`Sqe`]) are this long.
pub const SQE_SIZE: usize = 128;
/// Size of one HPRE submission queue element in bytes (protocol doc §12.1; the kernel's `sqe_size` for `hisi_hpre`).
pub const HPRE_SQE_SIZE: usize = 64;
/// Size of one completion queue element in bytes.
pub const CQE_SIZE: usize = 16;
/// One submission queue element as the ring hands it around: ZIP and SEC SQEs fill it; a queue with smaller SQEs
/// ([`RingLayout::sqe_size`], 64 bytes for HPRE) uses its first `sqe_size` bytes and the rest reads as zero.
pub type Sqe = [u8; SQE_SIZE];

/// QM hardware generation, from the device's `api` attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum QmVersion {
    /// `hisi_qm_v1` (Hi1620 ES); doorbell v1 format at MMIO 0x340.
    V1,
    /// `hisi_qm_v2` (Kunpeng 920) and the kernel soft device `soft_qm_v2`; SEC uses BD type 2.
    V2,
    /// `hisi_qm_v3` (Kunpeng 930) and newer; SEC uses BD type 3, ZIP SQE type 3.
    V3,
}

/// Something that delivers a 64-bit QM doorbell value to the device: an MMIO store (hardware), the soft device's
/// ioctl, or the in-process emulator.
///
/// Ringing is `unsafe` for the same reason as [`DriverRing::push`]: an SQ doorbell makes the device consume every
/// SQ slot from its head up to the new tail and act on the addresses in them. A safe `ring` would let safe code
/// announce a stale slot (an old SQE whose buffers were freed after its completion) and have the device write into
/// freed memory. [`DriverRing`] is the caller that knows which slots are live.
pub trait Doorbell: Send + Sync {
    /// Deliver `value` (already encoded, see [`encode_doorbell`]) to the device.
    ///
    /// # Safety
    ///
    /// If `value` is an SQ doorbell, every SQ slot it announces (from the device's current head up to the new tail)
    /// must hold an SQE written by [`DriverRing::push`] whose contract still holds, i.e. whose completion has not
    /// been consumed yet. A CQ doorbell must name a head the consumer has really reached (else the device may
    /// overwrite completions nobody has read, and their jobs never finish). Other values the device refuses (the
    /// emulator disables the queue; hardware raises a doorbell error). In practice only [`DriverRing`] rings.
    unsafe fn ring(&self, value: u64) -> std::io::Result<()>;
}

/// Memory that holds a queue's DUS region (SQ, CQ, status page), shared with a device.
///
/// # Safety
/// `as_ptr()` must return a pointer valid for reads and writes of `len()` bytes for as long as the value lives,
/// aligned to at least 64 bytes, and the memory must not be accessed through Rust references elsewhere (only through
/// raw pointers / atomics, because the device writes it concurrently).
pub unsafe trait DusMemory: Send + Sync {
    /// Start of the region.
    fn as_ptr(&self) -> *mut u8;
    /// Length of the region in bytes.
    fn len(&self) -> usize;
    /// True if the region is empty (never for a valid queue).
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

mod field;

pub mod hpre;
pub mod sec;
pub mod zip;

pub mod doorbell;
pub mod ring;

pub use doorbell::{DoorbellCmd, DoorbellFields, decode_doorbell, encode_doorbell};
pub use ring::{Completion, DeviceEvent, DeviceRing, DriverRing, RingError, RingLayout};
