//! Mirror of the kernel's uacce user-space API.
//!
//! Mainline: `include/uapi/misc/uacce/uacce.h` and `include/uapi/misc/uacce/hisi_qm.h` (installed as
//! `<misc/uacce/uacce.h>` and `<misc/uacce/hisi_qm.h>`). Every constant and struct of those two headers is mirrored
//! here; `tests/uapi_headers.rs` compiles a C program against the installed headers and compares each value, size and
//! field offset with this module.
//!
//! Project additions (not in mainline; defined by this project's kernel patch and soft device module):
//! [`UacceEventfd`] / [`UACCE_CMD_SET_EVENTFD`]; the soft device's [`UACCE_SOFT_CMD_DOORBELL`],
//! [`UACCE_SOFT_CMD_SET_KICK`], its register offsets (`UACCE_SOFT_REG_*`, from `kmod-patch/uacce_soft/uacce_soft.h`)
//! and [`SOFT_QM_API_V2`] / [`SOFT_QM_API_V3`].
//!
//! ioctl numbers are computed with nix's `request_code_*` macros, i.e. with the architecture's own `_IO`/`_IOW`/`_IOWR`
//! encoding, and exposed as `u32` (every uacce number fits in 32 bits). [`ioctl`] holds the typed nix wrappers.

use std::mem::size_of;

/// `UACCE_CMD_START_Q` = `_IO('W', 0)`: start the queue (program the queue contexts; the queue becomes live).
pub const UACCE_CMD_START_Q: u32 = nix::request_code_none!(b'W', 0) as u32;

/// `UACCE_CMD_PUT_Q` = `_IO('W', 1)`: stop the queue and free its resources now (instead of at `close`).
pub const UACCE_CMD_PUT_Q: u32 = nix::request_code_none!(b'W', 1) as u32;

/// `UACCE_DEV_SVA` = `BIT(0)`: the device supports shared virtual addresses (PASID and device page faults), so
/// descriptors carry plain process virtual addresses. Bit of the sysfs `flags` attribute.
pub const UACCE_DEV_SVA: u32 = 1 << 0;

/// `enum uacce_qfrt`: queue file region type. The value is the mmap page offset that selects the region.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UacceQfrt {
    /// `UACCE_QFRT_MMIO`: the device MMIO (doorbell) region.
    Mmio = 0,
    /// `UACCE_QFRT_DUS`: the device user share region (SQ, CQ, status page).
    Dus = 1,
}

impl UacceQfrt {
    /// The mmap page offset (`pgoff`) that selects this region; the byte offset is `pgoff * page_size`.
    pub const fn page_offset(self) -> u64 {
        self as u64
    }
}

/// `UACCE_QFRT_MMIO` (0), the value of [`UacceQfrt::Mmio`].
pub const UACCE_QFRT_MMIO: u32 = UacceQfrt::Mmio as u32;
/// `UACCE_QFRT_DUS` (1), the value of [`UacceQfrt::Dus`].
pub const UACCE_QFRT_DUS: u32 = UacceQfrt::Dus as u32;

/// `struct hisi_qp_ctx`: argument of [`UACCE_CMD_QM_SET_QP_CTX`].
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct HisiQpCtx {
    /// `__u16 id`: out, the queue number (sqn) used in every doorbell.
    pub id: u16,
    /// `__u16 qc_type`: in, the accelerator algorithm type (ZIP: 0 compress, 1 decompress; SEC: 0).
    pub qc_type: u16,
}

/// `struct hisi_qp_info`: argument of [`UACCE_CMD_QM_SET_QP_INFO`] (all fields are outputs).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct HisiQpInfo {
    /// `__u32 sqe_size`: submission queue element size in bytes.
    pub sqe_size: u32,
    /// `__u16 sq_depth`: number of SQEs.
    pub sq_depth: u16,
    /// `__u16 cq_depth`: number of CQEs.
    pub cq_depth: u16,
    /// `__u64 reserved`.
    pub reserved: u64,
}

/// `HISI_QM_API_VER_BASE`: api string of QM hardware v1.
pub const HISI_QM_API_VER_BASE: &str = "hisi_qm_v1";
/// `HISI_QM_API_VER2_BASE`: api string of QM hardware v2 (Kunpeng 920).
pub const HISI_QM_API_VER2_BASE: &str = "hisi_qm_v2";
/// `HISI_QM_API_VER3_BASE`: api string of QM hardware v3 (Kunpeng 930).
pub const HISI_QM_API_VER3_BASE: &str = "hisi_qm_v3";

/// `UACCE_CMD_QM_SET_QP_CTX` = `_IOWR('H', 10, struct hisi_qp_ctx)`: set the queue's algorithm type, get its sqn.
pub const UACCE_CMD_QM_SET_QP_CTX: u32 =
    nix::request_code_readwrite!(b'H', 10, size_of::<HisiQpCtx>()) as u32;
/// `UACCE_CMD_QM_SET_QP_INFO` = `_IOWR('H', 11, struct hisi_qp_info)`: get the SQE size and ring depths.
pub const UACCE_CMD_QM_SET_QP_INFO: u32 =
    nix::request_code_readwrite!(b'H', 11, size_of::<HisiQpInfo>()) as u32;

// ---- project additions (not in mainline headers) ----

/// `struct uacce_eventfd` (project kernel patch): argument of [`UACCE_CMD_SET_EVENTFD`].
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UacceEventfd {
    /// `__s32 fd`: the eventfd to signal on completions, or -1 to unbind.
    pub fd: i32,
    /// `__u32 flags`: 0 binds the completion eventfd, [`UACCE_EVENTFD_HANGUP`] the hang-up eventfd; other bits are
    /// refused with EINVAL.
    pub flags: u32,
}

/// `UACCE_EVENTFD_HANGUP` = `(1U << 0)` (project kernel patch, series v3): [`UacceEventfd::flags`] bit that binds the
/// queue's hang-up eventfd, signalled only when the queue dies (parent device removed). The completion eventfd
/// (flags 0) is signalled by completions and, once more, by the removal. Kernels with the first version of the
/// series refuse the flag with EINVAL.
pub const UACCE_EVENTFD_HANGUP: u32 = 1 << 0;

/// `UACCE_CMD_SET_EVENTFD` = `_IOW('W', 4, struct uacce_eventfd)` (project kernel patch): bind (fd ≥ 0) or unbind
/// (fd = -1) an eventfd signalled on every queue wake-up (flags 0), or one signalled only on hang-up
/// ([`UACCE_EVENTFD_HANGUP`]). Number 4 avoids openEuler's out-of-tree `'W'` 2 and 3.
/// Kernels without the patch answer ENOTTY or EINVAL.
pub const UACCE_CMD_SET_EVENTFD: u32 =
    nix::request_code_write!(b'W', 4, size_of::<UacceEventfd>()) as u32;

/// `UACCE_SOFT_CMD_DOORBELL` = `_IOW('J', 0, __u64)` (project soft device, `uacce_soft.h`): deliver one encoded
/// 64-bit QM doorbell value (pointer to a `u64`) through uacce's ioctl path, which reports a malformed doorbell
/// (EINVAL) or a queue whose owner's mm is gone (EIO) at once, but serialises all queues of a device on uacce's
/// device mutex. The only doorbell path when the module runs on a uacce without the v3 series (no MMIO region).
/// `'J'` is unused in the kernel's `ioctl-number.rst` (7.2); until 2026-12 the number was `_IOW('S', 0, __u64)`.
pub const UACCE_SOFT_CMD_DOORBELL: u32 = nix::request_code_write!(b'J', 0, size_of::<u64>()) as u32;

/// `UACCE_SOFT_CMD_SET_KICK` = `_IOW('J', 1, __s32)` (project soft device): bind an eventfd (pointer to an `i32`
/// fd; -1 unbinds) whose writes make the device read its doorbell registers (`UACCE_SOFT_REG_SQ_DB`, `_CQ_DB`,
/// `_CQ_ARM`) without any uacce or device-wide lock (the kernel hooks the eventfd's wait queue like KVM's irqfd).
/// EINVAL without an MMIO region or after the queue stopped, EBADF for a closed fd, EINVAL for a non-eventfd.
pub const UACCE_SOFT_CMD_SET_KICK: u32 = nix::request_code_write!(b'J', 1, size_of::<i32>()) as u32;

/// Soft device register page (MMIO region, little-endian): the device's SQ head (`u32`, device-written).
pub const UACCE_SOFT_REG_SQ_HEAD: usize = 0x00;
/// The device's CQ tail (`u32`, device-written).
pub const UACCE_SOFT_REG_CQ_TAIL: usize = 0x04;
/// Count of malformed doorbell values the device found in its registers and ignored (`u32`, device-written).
pub const UACCE_SOFT_REG_DB_ERRORS: usize = 0x08;
/// The latest SQ doorbell value (`u64`, user-written; read by the device on a kick).
pub const UACCE_SOFT_REG_SQ_DB: usize = 0x10;
/// The latest CQ doorbell value (`u64`, user-written; read by the device on a kick).
pub const UACCE_SOFT_REG_CQ_DB: usize = 0x18;
/// Non-zero asks for one completion signal, as priority 1 of a CQ doorbell does (`u32`, user-written; the device
/// clears it when it takes the request, so a later priority-0 CQ doorbell cannot cancel it).
pub const UACCE_SOFT_REG_CQ_ARM: usize = 0x20;

/// Api string of the project's kernel soft device (same ring protocol as `hisi_qm_v2`, doorbell by ioctl).
pub const SOFT_QM_API_V2: &str = "soft_qm_v2";

/// Api string of the kernel soft HPRE device (`soft_hpre-N`): the same ring protocol and doorbell paths as
/// [`SOFT_QM_API_V2`], but QM v3, since HPRE's ECC queues (type 1) exist on v3 only; 64-byte SQEs (`SET_QP_INFO`).
pub const SOFT_QM_API_V3: &str = "soft_qm_v3";

/// Typed ioctl wrappers generated with nix's `ioctl_*!` macros.
///
/// All take the raw queue fd. They are `unsafe` because the kernel reads/writes through the pointer argument.
pub mod ioctl {
    use super::{HisiQpCtx, HisiQpInfo, UacceEventfd};

    nix::ioctl_none!(
        /// `UACCE_CMD_START_Q`.
        ///
        /// # Safety
        /// `fd` must be an open file descriptor (any fd is memory-safe for this call).
        start_q,
        b'W',
        0
    );
    nix::ioctl_none!(
        /// `UACCE_CMD_PUT_Q`.
        ///
        /// # Safety
        /// `fd` must be an open file descriptor (any fd is memory-safe for this call).
        put_q,
        b'W',
        1
    );
    nix::ioctl_readwrite!(
        /// `UACCE_CMD_QM_SET_QP_CTX`.
        ///
        /// # Safety
        /// `data` must point to a valid, writable [`HisiQpCtx`].
        qm_set_qp_ctx,
        b'H',
        10,
        HisiQpCtx
    );
    nix::ioctl_readwrite!(
        /// `UACCE_CMD_QM_SET_QP_INFO`.
        ///
        /// # Safety
        /// `data` must point to a valid, writable [`HisiQpInfo`].
        qm_set_qp_info,
        b'H',
        11,
        HisiQpInfo
    );
    nix::ioctl_write_ptr!(
        /// `UACCE_CMD_SET_EVENTFD` (project kernel patch).
        ///
        /// # Safety
        /// `data` must point to a valid [`UacceEventfd`].
        set_eventfd,
        b'W',
        4,
        UacceEventfd
    );
    nix::ioctl_write_ptr!(
        /// `UACCE_SOFT_CMD_DOORBELL` (project soft device).
        ///
        /// # Safety
        /// `data` must point to a valid `u64`.
        soft_doorbell,
        b'J',
        0,
        u64
    );
    nix::ioctl_write_ptr!(
        /// `UACCE_SOFT_CMD_SET_KICK` (project soft device).
        ///
        /// # Safety
        /// `data` must point to a valid `i32`.
        soft_set_kick,
        b'J',
        1,
        i32
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_values() {
        // Values from the protocol reference (asm-generic encoding, used by x86-64 and arm64).
        #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
        {
            assert_eq!(UACCE_CMD_START_Q, 0x5700);
            assert_eq!(UACCE_CMD_PUT_Q, 0x5701);
            assert_eq!(UACCE_CMD_QM_SET_QP_CTX, 0xC004_480A);
            assert_eq!(UACCE_CMD_QM_SET_QP_INFO, 0xC010_480B);
            assert_eq!(UACCE_CMD_SET_EVENTFD, 0x4008_5704);
            assert_eq!(UACCE_SOFT_CMD_DOORBELL, 0x4008_4A00);
            assert_eq!(UACCE_SOFT_CMD_SET_KICK, 0x4004_4A01);
        }
        assert_eq!(size_of::<HisiQpCtx>(), 4);
        assert_eq!(size_of::<HisiQpInfo>(), 16);
        assert_eq!(size_of::<UacceEventfd>(), 8);
        assert_eq!(UacceQfrt::Dus.page_offset(), 1);
    }
}
