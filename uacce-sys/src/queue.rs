//! A uacce queue: the open device node, its mmap regions, the queue ioctls, start/put, eventfd binding and the
//! doorbell.
//!
//! Setup follows UADK's order (`shared/docs/hisi-qm-protocol.md` §1.2):
//!
//! ```no_run
//! use std::sync::Arc;
//! use uacce_sys::queue::{Queue, check_device};
//! use uacce_sys::sysfs::Sysfs;
//!
//! let dev = Sysfs::new().devices_for_algorithm("zlib")?.into_iter().next().expect("a zlib device");
//! check_device(&dev)?; // hardware needs UACCE_DEV_SVA
//! let mut q = Queue::open(&dev)?;
//! let sqn = q.set_qp_ctx(0)?; // ZIP: 0 = compress
//! let _info = q.qp_info(); // None on old kernels: defaults 1024/1024/128 are used
//! q.map_dus()?;
//! q.map_mmio()?;
//! q.start()?;
//! let q = Arc::new(q); // Arc<Queue> is both the ring memory (DusMemory) and the Doorbell
//! # let _ = sqn;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Dropping the queue stops it (`UACCE_CMD_PUT_Q`) if it was started and not yet put, then unmaps the regions, then
//! closes the fd.

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, Ordering, fence};

use memmap2::{MmapOptions, MmapRaw};
use nix::errno::Errno;
use nix::fcntl::{OFlag, open};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::eventfd::{EfdFlags, EventFd};
use nix::sys::stat::Mode;

use crate::guard;
use crate::qm::{Doorbell, DusMemory, QmVersion};
use crate::sysfs::Device;
use crate::uapi::{
    HisiQpCtx, HisiQpInfo, UACCE_DEV_SVA, UACCE_EVENTFD_HANGUP, UACCE_SOFT_REG_CQ_ARM,
    UACCE_SOFT_REG_CQ_DB, UACCE_SOFT_REG_SQ_DB, UacceEventfd, UacceQfrt, ioctl,
};

/// SQE size used when `UACCE_CMD_QM_SET_QP_INFO` is unavailable (ZIP and SEC use 128).
pub const DEFAULT_SQE_SIZE: u32 = 128;

pub use crate::qm::doorbell::{DOORBELL_OFFSET_V1, DOORBELL_OFFSET_V2};
pub use crate::qm::ring::{DEFAULT_DEPTH, dus_size_for, page_size};

/// How a queue's doorbell reaches the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DoorbellPath {
    /// A 64-bit volatile store into the MMIO region at `offset` (hardware).
    Mmio {
        /// Register offset in the MMIO region: 0x340 for v1, 0x1000 otherwise.
        offset: usize,
    },
    /// `UACCE_SOFT_CMD_DOORBELL` ioctl on the queue fd (the kernel soft device, api `soft_qm_v2`, without a
    /// register page, i.e. on a uacce without the project's series). Goes through uacce's ioctl path, which
    /// serialises the doorbells of all queues of a device on one mutex.
    SoftIoctl,
    /// The kernel soft device with a register page: a store of the value into `UACCE_SOFT_REG_SQ_DB` (SQ) or
    /// `UACCE_SOFT_REG_CQ_DB` (CQ; priority 1 also stores 1 into `UACCE_SOFT_REG_CQ_ARM`), then a write of 1 to
    /// the queue's kick eventfd ([`Queue::bind_kick`]), which reaches the device without any uacce lock. A
    /// malformed value is not reported to the caller: the device ignores it and counts it in
    /// `UACCE_SOFT_REG_DB_ERRORS`. Without a bound kick eventfd the queue uses the ioctl.
    SoftKick,
}

impl DoorbellPath {
    /// True for the kernel soft device's paths.
    pub fn is_soft(self) -> bool {
        matches!(self, DoorbellPath::SoftIoctl | DoorbellPath::SoftKick)
    }
}

/// Errors of queue operations. Each message says what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// The device node does not exist (ENOENT).
    #[error(
        "{} does not exist: the device was removed, or devtmpfs/udev did not create the node; check \
         /sys/class/uacce and /dev",
        path.display()
    )]
    NodeMissing {
        /// The device node.
        path: PathBuf,
    },
    /// Opening the node was refused (EACCES or EPERM).
    #[error(
        "permission denied opening {} ({errno}): run as root, or add a udev rule such as \
         `SUBSYSTEM==\"uacce\", GROUP=\"accel\", MODE=\"0660\"` and join that group",
        path.display()
    )]
    PermissionDenied {
        /// The device node.
        path: PathBuf,
        /// EACCES or EPERM.
        errno: Errno,
    },
    /// The device has no free queue or is resetting (EBUSY).
    #[error(
        "{} is busy: no free queue on this device (see available_instances) or it is resetting; try another \
         device or retry later",
        path.display()
    )]
    Busy {
        /// The device node.
        path: PathBuf,
    },
    /// Another error from `open`.
    #[error("cannot open {}: {source}", path.display())]
    Open {
        /// The device node.
        path: PathBuf,
        /// The errno.
        #[source]
        source: Errno,
    },
    /// The device's api is not a QM api this crate speaks.
    #[error(
        "device {name} has api {api:?}, which is not a supported QM api (hisi_qm_v1/v2/v3+, soft_qm_v2 or soft_qm_v3)"
    )]
    UnsupportedApi {
        /// The device name.
        name: String,
        /// Its api string.
        api: String,
    },
    /// A hardware (`hisi_qm_*`) device without `UACCE_DEV_SVA`.
    #[error(
        "device {name} (api {api}) lacks the UACCE_DEV_SVA flag: the hardware path puts process virtual addresses \
         into descriptors and needs SVA, which the kernel enables only with a working IOMMU with SVA/PASID support \
         (arm64 SMMUv3 with iommu.passthrough=0 and SVA enabled in the accelerator driver); non-SVA (DMA address) \
         devices are not supported"
    )]
    SvaRequired {
        /// The device name.
        name: String,
        /// Its api string.
        api: String,
    },
    /// An ioctl failed.
    #[error("ioctl {cmd} failed: {source}")]
    Ioctl {
        /// The ioctl's C name.
        cmd: &'static str,
        /// The errno.
        #[source]
        source: Errno,
    },
    /// The kernel does not know this ioctl (ENOTTY or EINVAL): e.g. a kernel without the eventfd patch.
    #[error(
        "ioctl {cmd} is not supported by this kernel/driver ({source}); fall back to poll() on the queue fd"
    )]
    Unsupported {
        /// The ioctl's C name.
        cmd: &'static str,
        /// ENOTTY or EINVAL.
        #[source]
        source: Errno,
    },
    /// A region of size 0 was asked to be mapped.
    #[error(
        "the {region:?} region has size 0: the device exposes no such region (check region_*_size in sysfs)"
    )]
    ZeroSizeRegion {
        /// The region.
        region: UacceQfrt,
    },
    /// The region is already mapped (the kernel allows one mapping per region).
    #[error("the {region:?} region is already mapped")]
    AlreadyMapped {
        /// The region.
        region: UacceQfrt,
    },
    /// mmap failed.
    #[error("mmap of the {region:?} region ({len} bytes) failed: {source}")]
    Mmap {
        /// The region.
        region: UacceQfrt,
        /// The requested length.
        len: usize,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// A region needed for an operation has not been mapped.
    #[error("the {region:?} region is not mapped; call map_{}() first", if *region == UacceQfrt::Mmio { "mmio" } else { "dus" })]
    NotMapped {
        /// The region.
        region: UacceQfrt,
    },
    /// The MMIO region does not contain the doorbell register.
    #[error("MMIO region of {len} bytes cannot hold the 8-byte doorbell at offset {offset:#x}")]
    MmioTooSmall {
        /// The region length.
        len: usize,
        /// The doorbell offset.
        offset: usize,
    },
    /// The operation does not fit the queue's state (e.g. a doorbell before `start` or after `put`).
    /// Creating the soft device's kick eventfd, or writing to it, failed.
    #[error("kick eventfd {what} failed: {source}")]
    Kick {
        /// `eventfd` or `write`.
        what: &'static str,
        /// The errno.
        #[source]
        source: Errno,
    },
    #[error("queue is {state}: {what} is not allowed")]
    State {
        /// `"not started"` or `"put"`.
        state: &'static str,
        /// The refused operation.
        what: &'static str,
    },
}

impl From<QueueError> for io::Error {
    fn from(e: QueueError) -> Self {
        let kind = match &e {
            QueueError::NodeMissing { .. } => io::ErrorKind::NotFound,
            QueueError::PermissionDenied { .. } => io::ErrorKind::PermissionDenied,
            QueueError::Unsupported { .. } | QueueError::UnsupportedApi { .. } => {
                io::ErrorKind::Unsupported
            }
            QueueError::State { .. } | QueueError::NotMapped { .. } => io::ErrorKind::NotConnected,
            QueueError::Ioctl { source, .. } | QueueError::Open { source, .. } => {
                io::Error::from(*source).kind()
            }
            _ => io::ErrorKind::Other,
        };
        io::Error::new(kind, e)
    }
}

/// Maps an `open(2)` errno on `path` to a typed error with a hint.
pub fn open_error(path: &Path, errno: Errno) -> QueueError {
    let path = path.to_owned();
    match errno {
        Errno::ENOENT => QueueError::NodeMissing { path },
        Errno::EACCES | Errno::EPERM => QueueError::PermissionDenied { path, errno },
        Errno::EBUSY => QueueError::Busy { path },
        source => QueueError::Open { path, source },
    }
}

/// Maps an ioctl errno: ENOTTY/EINVAL (unknown command) → [`QueueError::Unsupported`], others → `Ioctl`.
fn optional_ioctl_error(cmd: &'static str, errno: Errno) -> QueueError {
    match errno {
        Errno::ENOTTY | Errno::EINVAL => QueueError::Unsupported { cmd, source: errno },
        source => QueueError::Ioctl { cmd, source },
    }
}

/// The check the async layer runs before using a device: a supported QM api, and for the hardware path
/// (`hisi_qm_*`) the `UACCE_DEV_SVA` flag. The soft device (`soft_qm_v2`) is accepted without SVA.
/// Returns how the doorbell will be delivered.
pub fn check_device(dev: &Device) -> Result<DoorbellPath, QueueError> {
    let path = doorbell_path(dev)?;
    if !path.is_soft() && dev.flags & UACCE_DEV_SVA == 0 {
        return Err(QueueError::SvaRequired {
            name: dev.name.clone(),
            api: dev.api.clone(),
        });
    }
    Ok(path)
}

fn doorbell_path(dev: &Device) -> Result<DoorbellPath, QueueError> {
    match dev.qm_version() {
        _ if dev.is_soft() && dev.region_mmio_size >= SOFT_REGS_LEN => Ok(DoorbellPath::SoftKick),
        _ if dev.is_soft() => Ok(DoorbellPath::SoftIoctl),
        Some(QmVersion::V1) => Ok(DoorbellPath::Mmio {
            offset: DOORBELL_OFFSET_V1,
        }),
        Some(_) => Ok(DoorbellPath::Mmio {
            offset: DOORBELL_OFFSET_V2,
        }),
        None => Err(QueueError::UnsupportedApi {
            name: dev.name.clone(),
            api: dev.api.clone(),
        }),
    }
}

/// Bytes of the soft device's register page the kick path uses (up to and including `UACCE_SOFT_REG_CQ_ARM`).
const SOFT_REGS_LEN: u64 = (UACCE_SOFT_REG_CQ_ARM + 4) as u64;

/// An open uacce queue (one hardware queue pair).
///
/// Setup methods take `&mut self`; once set up, wrap it in an `Arc`: `Arc<Queue>` coerces to `Arc<dyn DusMemory>`
/// (the ring memory stays mapped while any clone lives) and to `Arc<dyn Doorbell>`.
#[derive(Debug)]
pub struct Queue {
    name: String,
    node_path: PathBuf,
    api: String,
    version: QmVersion,
    doorbell: DoorbellPath,
    flags: u32,
    region_mmio_size: u64,
    region_dus_size: u64,
    sqn: Option<u16>,
    kernel_info: Option<HisiQpInfo>,
    sqe_size: u32,
    sq_depth: u16,
    cq_depth: u16,
    started: AtomicBool,
    put: AtomicBool,
    // Registrations with the SIGBUS guard (`crate::guard`), dropped before the mappings they name.
    dus_guard: Option<guard::Registration>,
    mmio_guard: Option<guard::Registration>,
    // Declared before `file` so that, after `Drop::drop`, the mappings go before the fd.
    dus: Option<MmapRaw>,
    mmio: Option<MmapRaw>,
    /// The soft device's kick eventfd, once bound ([`Queue::bind_kick`]).
    kick: Option<OwnedFd>,
    file: File,
}

impl Queue {
    /// Opens the device node `O_RDWR | O_CLOEXEC`; the kernel allocates a queue. Fails for an unsupported api.
    ///
    /// Does not check `UACCE_DEV_SVA`; call [`check_device`] (or [`Queue::check_sva`]) for the hardware path.
    pub fn open(dev: &Device) -> Result<Queue, QueueError> {
        let doorbell = doorbell_path(dev)?;
        let version = dev.qm_version().expect("doorbell_path accepted the api");
        // A queue open registers the process mm with the device (SVA bind / mmu notifier), which the kernel
        // abandons with EINTR when a signal is pending; that is not a failure of the device, so try again.
        let fd = loop {
            match open(
                &dev.node_path,
                OFlag::O_RDWR | OFlag::O_CLOEXEC,
                Mode::empty(),
            ) {
                Err(Errno::EINTR) => continue,
                r => break r.map_err(|e| open_error(&dev.node_path, e))?,
            }
        };
        Ok(Queue {
            name: dev.name.clone(),
            node_path: dev.node_path.clone(),
            api: dev.api.clone(),
            version,
            doorbell,
            flags: dev.flags,
            region_mmio_size: dev.region_mmio_size,
            region_dus_size: dev.region_dus_size,
            sqn: None,
            kernel_info: None,
            sqe_size: DEFAULT_SQE_SIZE,
            sq_depth: DEFAULT_DEPTH,
            cq_depth: DEFAULT_DEPTH,
            started: AtomicBool::new(false),
            put: AtomicBool::new(false),
            dus_guard: None,
            mmio_guard: None,
            dus: None,
            mmio: None,
            kick: None,
            file: File::from(fd),
        })
    }

    /// The whole setup in one call, in UADK's order: [`check_device`] (SVA for hardware), [`Queue::open`],
    /// [`Queue::set_qp_ctx`]`(qc_type)`, [`Queue::qp_info`] (defaults if unavailable), [`Queue::map_dus`],
    /// [`Queue::map_mmio`] (skipped for the soft device when it exposes no MMIO region), for the soft device with a
    /// register page [`Queue::bind_kick`] (a module that refuses it leaves the queue on the ioctl doorbell),
    /// [`Queue::start`].
    pub fn open_and_start(dev: &Device, qc_type: u16) -> Result<Queue, QueueError> {
        check_device(dev)?;
        let mut q = Queue::open(dev)?;
        q.set_qp_ctx(qc_type)?;
        q.qp_info();
        q.map_dus()?;
        if !(q.is_soft() && q.region_mmio_size == 0) {
            q.map_mmio()?;
        }
        if q.doorbell == DoorbellPath::SoftKick {
            match q.bind_kick() {
                Ok(()) => {}
                Err(QueueError::Unsupported { .. }) => q.doorbell = DoorbellPath::SoftIoctl,
                Err(e) => return Err(e),
            }
        }
        q.start()?;
        Ok(q)
    }

    /// `UACCE_CMD_QM_SET_QP_CTX`: sets the queue's algorithm type (ZIP: 0 compress, 1 decompress; SEC: 0) and
    /// returns the queue number (sqn) used in doorbells.
    pub fn set_qp_ctx(&mut self, qc_type: u16) -> Result<u16, QueueError> {
        let mut ctx = HisiQpCtx { id: 0, qc_type };
        // SAFETY: `ctx` is a live, writable HisiQpCtx for the duration of the call; the fd is open.
        unsafe { ioctl::qm_set_qp_ctx(self.file.as_raw_fd(), &mut ctx) }.map_err(|source| {
            QueueError::Ioctl {
                cmd: "UACCE_CMD_QM_SET_QP_CTX",
                source,
            }
        })?;
        self.sqn = Some(ctx.id);
        Ok(ctx.id)
    }

    /// `UACCE_CMD_QM_SET_QP_INFO`: the kernel's SQE size and ring depths. `None` if the ioctl fails (old kernels)
    /// or reports zeros; the queue then uses [`DEFAULT_SQE_SIZE`] and [`DEFAULT_DEPTH`].
    pub fn qp_info(&mut self) -> Option<HisiQpInfo> {
        let mut info = HisiQpInfo::default();
        // SAFETY: `info` is a live, writable HisiQpInfo for the duration of the call; the fd is open.
        let res = unsafe { ioctl::qm_set_qp_info(self.file.as_raw_fd(), &mut info) };
        if res.is_err() || info.sqe_size == 0 || info.sq_depth == 0 || info.cq_depth == 0 {
            return None;
        }
        self.kernel_info = Some(info);
        self.sqe_size = info.sqe_size;
        self.sq_depth = info.sq_depth;
        self.cq_depth = info.cq_depth;
        Some(info)
    }

    /// The DUS length [`Queue::map_dus`] will use: `region_dus_size` from sysfs, or, when that is 0, the size computed
    /// from the ring geometry ([`dus_size_for`]).
    pub fn dus_len(&self) -> usize {
        match usize::try_from(self.region_dus_size) {
            Ok(n) if n > 0 => n,
            _ => dus_size_for(
                self.sqe_size as usize,
                self.sq_depth,
                self.cq_depth,
                page_size(),
            ),
        }
    }

    /// Maps the DUS region (SQ, CQ, status words; page offset 1). Returns its length.
    pub fn map_dus(&mut self) -> Result<usize, QueueError> {
        let len = self.dus_len();
        self.map_region(UacceQfrt::Dus, len)?;
        Ok(len)
    }

    /// Maps the MMIO region (page offset 0, length `region_mmio_size`). For an MMIO doorbell the region must hold
    /// the doorbell register. Returns its length.
    pub fn map_mmio(&mut self) -> Result<usize, QueueError> {
        let len = usize::try_from(self.region_mmio_size).unwrap_or(usize::MAX);
        if let DoorbellPath::Mmio { offset } = self.doorbell
            && len != 0
            && len < offset + 8
        {
            return Err(QueueError::MmioTooSmall { len, offset });
        }
        self.map_region(UacceQfrt::Mmio, len)?;
        Ok(len)
    }

    /// Maps `len` bytes of `region` (shared, read/write) at byte offset `region page offset × page size`.
    pub fn map_region(&mut self, region: UacceQfrt, len: usize) -> Result<(), QueueError> {
        if len == 0 {
            return Err(QueueError::ZeroSizeRegion { region });
        }
        let slot = match region {
            UacceQfrt::Mmio => &self.mmio,
            UacceQfrt::Dus => &self.dus,
        };
        if slot.is_some() {
            return Err(QueueError::AlreadyMapped { region });
        }
        let map = MmapOptions::new()
            .offset(region.page_offset() * page_size() as u64)
            .len(len)
            .map_raw(&self.file)
            .map_err(|source| QueueError::Mmap {
                region,
                len,
                source,
            })?;
        // Registered whether or not the guard is installed (cheap): see crate::guard.
        let reg = guard::register(map.as_mut_ptr() as usize, len);
        match region {
            UacceQfrt::Mmio => (self.mmio, self.mmio_guard) = (Some(map), reg),
            UacceQfrt::Dus => (self.dus, self.dus_guard) = (Some(map), reg),
        }
        Ok(())
    }

    /// `UACCE_CMD_START_Q`: the queue becomes live.
    pub fn start(&self) -> Result<(), QueueError> {
        if self.put.load(Ordering::Acquire) {
            return Err(QueueError::State {
                state: "put",
                what: "start",
            });
        }
        // SAFETY: no pointer argument; the fd is open.
        unsafe { ioctl::start_q(self.file.as_raw_fd()) }.map_err(|source| QueueError::Ioctl {
            cmd: "UACCE_CMD_START_Q",
            source,
        })?;
        self.started.store(true, Ordering::Release);
        Ok(())
    }

    /// True if the kernel reports the queue hung up (`poll()` gives `POLLHUP` or `POLLERR`). With the kernel patches
    /// of `kmod-patch/` that is how a queue shows that its device was removed; mainline kernels never report it (a
    /// dead queue polls as idle there), so `false` means "not known to be dead". Never blocks.
    pub fn hung_up(&self) -> bool {
        let mut fds = [PollFd::new(self.file.as_fd(), PollFlags::empty())];
        match poll(&mut fds, PollTimeout::ZERO) {
            Ok(n) if n > 0 => fds[0]
                .revents()
                .is_some_and(|r| r.intersects(PollFlags::POLLHUP | PollFlags::POLLERR)),
            _ => false,
        }
    }

    /// `UACCE_CMD_PUT_Q`: stops the queue and frees it in the kernel now. Idempotent. Afterwards doorbells are
    /// refused; do not race `put` with [`Doorbell::ring`] (the sqn may be reused by another process).
    pub fn put(&self) -> Result<(), QueueError> {
        if self.put.load(Ordering::Acquire) {
            return Ok(());
        }
        // SAFETY: no pointer argument; the fd is open.
        unsafe { ioctl::put_q(self.file.as_raw_fd()) }.map_err(|source| QueueError::Ioctl {
            cmd: "UACCE_CMD_PUT_Q",
            source,
        })?;
        self.put.store(true, Ordering::Release);
        Ok(())
    }

    /// Binds `fd` (an eventfd) with `UACCE_CMD_SET_EVENTFD` (project kernel patch): it is signalled on every queue
    /// wake-up. [`QueueError::Unsupported`] on kernels without the patch (ENOTTY/EINVAL).
    pub fn bind_eventfd(&self, fd: BorrowedFd<'_>) -> Result<(), QueueError> {
        self.set_eventfd(fd.as_raw_fd())
    }

    /// Unbinds the eventfd (`UACCE_CMD_SET_EVENTFD` with fd -1).
    pub fn unbind_eventfd(&self) -> Result<(), QueueError> {
        self.set_eventfd(-1)
    }

    /// Binds `fd` as the queue's hang-up eventfd (`UACCE_CMD_SET_EVENTFD` with [`UACCE_EVENTFD_HANGUP`]): the
    /// kernel signals it only when the queue dies (its device is removed), never for a completion, so a task woken
    /// on the completion eventfd can tell a hang-up from a completion by this eventfd's counter. Kernels without
    /// the series answer [`QueueError::Unsupported`], as for [`Queue::bind_eventfd`].
    pub fn bind_hangup_eventfd(&self, fd: BorrowedFd<'_>) -> Result<(), QueueError> {
        self.set_eventfd_flags(fd.as_raw_fd(), UACCE_EVENTFD_HANGUP)
    }

    /// Unbinds the hang-up eventfd.
    pub fn unbind_hangup_eventfd(&self) -> Result<(), QueueError> {
        self.set_eventfd_flags(-1, UACCE_EVENTFD_HANGUP)
    }

    fn set_eventfd(&self, fd: RawFd) -> Result<(), QueueError> {
        self.set_eventfd_flags(fd, 0)
    }

    fn set_eventfd_flags(&self, fd: RawFd, flags: u32) -> Result<(), QueueError> {
        let arg = UacceEventfd { fd, flags };
        // SAFETY: `arg` is a live UacceEventfd for the duration of the call; the fd is open.
        unsafe { ioctl::set_eventfd(self.file.as_raw_fd(), &arg) }
            .map_err(|e| optional_ioctl_error("UACCE_CMD_SET_EVENTFD", e))?;
        Ok(())
    }

    /// Soft device only: creates an eventfd (non-blocking, close-on-exec) and binds it as the queue's kick eventfd
    /// with `UACCE_SOFT_CMD_SET_KICK`; from then on [`Doorbell::ring`] stores into the register page and writes to
    /// it ([`DoorbellPath::SoftKick`]). Needs the MMIO region mapped. [`QueueError::Unsupported`] if the module
    /// refuses the ioctl (ENOTTY/EINVAL: an older module, or no register page).
    pub fn bind_kick(&mut self) -> Result<(), QueueError> {
        if !self.is_soft() {
            return Err(QueueError::Unsupported {
                cmd: "UACCE_SOFT_CMD_SET_KICK",
                source: Errno::ENOTTY,
            });
        }
        match &self.mmio {
            Some(m) if m.len() as u64 >= SOFT_REGS_LEN => {}
            Some(m) => {
                return Err(QueueError::MmioTooSmall {
                    len: m.len(),
                    offset: UACCE_SOFT_REG_CQ_DB,
                });
            }
            None => {
                return Err(QueueError::NotMapped {
                    region: UacceQfrt::Mmio,
                });
            }
        }
        let efd = EventFd::from_value_and_flags(0, EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK)
            .map_err(|source| QueueError::Kick {
                what: "eventfd",
                source,
            })?;
        let fd: i32 = efd.as_fd().as_raw_fd();
        // SAFETY: `fd` is a live i32 for the duration of the call; the queue fd is open.
        unsafe { ioctl::soft_set_kick(self.file.as_raw_fd(), &fd) }
            .map_err(|e| optional_ioctl_error("UACCE_SOFT_CMD_SET_KICK", e))?;
        self.kick = Some(OwnedFd::from(efd));
        self.doorbell = DoorbellPath::SoftKick;
        Ok(())
    }

    /// True once a kick eventfd is bound ([`Queue::bind_kick`]).
    pub fn has_kick(&self) -> bool {
        self.kick.is_some()
    }

    /// Refuses a hardware (`hisi_qm_*`) queue whose device lacks `UACCE_DEV_SVA` (see [`check_device`]).
    pub fn check_sva(&self) -> Result<(), QueueError> {
        if !self.doorbell.is_soft() && !self.is_sva() {
            return Err(QueueError::SvaRequired {
                name: self.name.clone(),
                api: self.api.clone(),
            });
        }
        Ok(())
    }

    /// Device name, e.g. `hisi_zip-0`.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The device node that was opened.
    pub fn node_path(&self) -> &Path {
        &self.node_path
    }
    /// The device's api string.
    pub fn api(&self) -> &str {
        &self.api
    }
    /// The QM generation.
    pub fn version(&self) -> QmVersion {
        self.version
    }
    /// How the doorbell is delivered.
    pub fn doorbell_path(&self) -> DoorbellPath {
        self.doorbell
    }
    /// True for the kernel soft devices (`soft_qm_v2`, `soft_qm_v3`).
    pub fn is_soft(&self) -> bool {
        self.doorbell.is_soft()
    }
    /// The device `flags`.
    pub fn flags(&self) -> u32 {
        self.flags
    }
    /// True if the device has `UACCE_DEV_SVA`.
    pub fn is_sva(&self) -> bool {
        self.flags & UACCE_DEV_SVA != 0
    }
    /// The queue number from [`Queue::set_qp_ctx`], if it was called.
    pub fn sqn(&self) -> Option<u16> {
        self.sqn
    }
    /// What `UACCE_CMD_QM_SET_QP_INFO` returned, if it succeeded.
    pub fn kernel_qp_info(&self) -> Option<HisiQpInfo> {
        self.kernel_info
    }
    /// SQE size in bytes (kernel value or [`DEFAULT_SQE_SIZE`]).
    pub fn sqe_size(&self) -> u32 {
        self.sqe_size
    }
    /// SQ depth (kernel value or [`DEFAULT_DEPTH`]).
    pub fn sq_depth(&self) -> u16 {
        self.sq_depth
    }
    /// CQ depth (kernel value or [`DEFAULT_DEPTH`]).
    pub fn cq_depth(&self) -> u16 {
        self.cq_depth
    }
    /// True after a successful [`Queue::start`].
    pub fn is_started(&self) -> bool {
        self.started.load(Ordering::Acquire)
    }
    /// True after a successful [`Queue::put`].
    pub fn is_put(&self) -> bool {
        self.put.load(Ordering::Acquire)
    }
    /// Length of the mapped MMIO region (0 if unmapped).
    pub fn mmio_len(&self) -> usize {
        self.mmio.as_ref().map_or(0, MmapRaw::len)
    }
    /// A volatile 32-bit load from the mapped MMIO region at byte `offset` (`None` if the region is not mapped or
    /// `offset` is not an aligned offset inside it). Meant for the soft device's register page (its SQ head and CQ
    /// tail); on hardware the region is the doorbell page, whose loads mean nothing.
    pub fn mmio_read_u32(&self, offset: usize) -> Option<u32> {
        let m = self.mmio.as_ref()?;
        if !offset.is_multiple_of(4) || offset.checked_add(4)? > m.len() {
            return None;
        }
        // SAFETY: the mapping stays mapped while `self.mmio` holds it, and `&self` keeps it there for this load;
        // `offset + 4` is within it and the address is 4-aligned (mmap returns page-aligned addresses). A volatile
        // load of a u32 from shared memory the device may write has no other requirement.
        Some(unsafe { std::ptr::read_volatile(m.as_mut_ptr().add(offset).cast::<u32>()) })
    }

    /// Length of the mapped DUS region (0 if unmapped).
    pub fn dus_mapped_len(&self) -> usize {
        self.dus.as_ref().map_or(0, MmapRaw::len)
    }

    fn ring_checked(&self, value: u64) -> Result<(), QueueError> {
        if self.put.load(Ordering::Acquire) {
            return Err(QueueError::State {
                state: "put",
                what: "a doorbell",
            });
        }
        if !self.started.load(Ordering::Acquire) {
            return Err(QueueError::State {
                state: "not started",
                what: "a doorbell",
            });
        }
        match self.doorbell {
            DoorbellPath::Mmio { offset } => {
                let mmio = self.mmio.as_ref().ok_or(QueueError::NotMapped {
                    region: UacceQfrt::Mmio,
                })?;
                if mmio.len() < offset + 8 {
                    return Err(QueueError::MmioTooSmall {
                        len: mmio.len(),
                        offset,
                    });
                }
                // Make every SQE/CQ-head store visible before the device sees the doorbell.
                fence(Ordering::SeqCst);
                // SAFETY: offset + 8 <= mmio.len(), so the u64 lies inside the live mapping owned by `self`; the
                // mapping is page-aligned and `offset` is a multiple of 8, so the pointer is aligned. Volatile:
                // the store is a device register write that must not be elided or merged.
                unsafe {
                    mmio.as_mut_ptr()
                        .add(offset)
                        .cast::<u64>()
                        .write_volatile(value.to_le())
                };
                Ok(())
            }
            DoorbellPath::SoftKick if self.kick.is_some() => self.ring_kick(value),
            DoorbellPath::SoftIoctl | DoorbellPath::SoftKick => {
                fence(Ordering::SeqCst);
                // SAFETY: `value` is a live u64 for the duration of the call; the fd is open.
                unsafe { ioctl::soft_doorbell(self.file.as_raw_fd(), &value) }.map_err(
                    |source| QueueError::Ioctl {
                        cmd: "UACCE_SOFT_CMD_DOORBELL",
                        source,
                    },
                )?;
                Ok(())
            }
        }
    }
}

impl Queue {
    /// [`DoorbellPath::SoftKick`]: the value into its register, then the kick.
    fn ring_kick(&self, value: u64) -> Result<(), QueueError> {
        let (Some(mmio), Some(kick)) = (self.mmio.as_ref(), self.kick.as_ref()) else {
            return Err(QueueError::NotMapped {
                region: UacceQfrt::Mmio,
            });
        };
        // bind_kick checked that the register page holds every register used here.
        debug_assert!(mmio.len() as u64 >= SOFT_REGS_LEN);
        let cmd = (value >> 12) & 0xf;
        let arm = cmd == 1 && value >> 48 != 0;
        let reg = if cmd == 0 {
            UACCE_SOFT_REG_SQ_DB
        } else {
            UACCE_SOFT_REG_CQ_DB
        };
        // Every SQE/CQ-head store is visible before the device can read the doorbell.
        fence(Ordering::SeqCst);
        // SAFETY: the register page is mapped while `self.mmio` holds it (`&self` keeps it there), bind_kick checked
        // it is at least SOFT_REGS_LEN bytes, and `reg` + 8 ≤ SOFT_REGS_LEN; the mapping is page-aligned and `reg` a
        // multiple of 8, so the u64 store is aligned. Volatile: a register write that must not be elided or merged.
        unsafe {
            mmio.as_mut_ptr()
                .add(reg)
                .cast::<u64>()
                .write_volatile(value.to_le())
        };
        if arm {
            // SAFETY: as above, for the u32 at UACCE_SOFT_REG_CQ_ARM (4-aligned, + 4 = SOFT_REGS_LEN).
            unsafe {
                mmio.as_mut_ptr()
                    .add(UACCE_SOFT_REG_CQ_ARM)
                    .cast::<u32>()
                    .write_volatile(1u32.to_le())
            };
        }
        // The syscall orders the stores above before the kernel's wake-up.
        loop {
            match nix::unistd::write(kick, &1u64.to_ne_bytes()) {
                Ok(_) => return Ok(()),
                Err(Errno::EINTR) => continue,
                Err(source) => {
                    return Err(QueueError::Kick {
                        what: "write",
                        source,
                    });
                }
            }
        }
    }
}

impl Doorbell for Queue {
    /// Delivers the encoded doorbell: for `hisi_qm_*`, a `SeqCst` fence then one 64-bit volatile store at MMIO 0x340
    /// (v1) or 0x1000 (v2+); for `soft_qm_v2`, a store into the register page and a write to the kick eventfd
    /// ([`DoorbellPath::SoftKick`]), or the `UACCE_SOFT_CMD_DOORBELL` ioctl without a kick eventfd. Fails before
    /// `start`, after `put`, or if the MMIO region is unmapped or too small.
    ///
    /// On arm64 the fence is a `dmb ish`, where UADK uses `dsb sy`; the MMIO mapping is device memory, whose
    /// ordering after a barrier on normal memory is what the SeqCst fence provides.
    unsafe fn ring(&self, value: u64) -> io::Result<()> {
        self.ring_checked(value).map_err(|e| match e {
            QueueError::Ioctl { source, .. } | QueueError::Kick { source, .. } => {
                io::Error::from(source)
            }
            e => e.into(),
        })
    }
}

/// Only used for a dangling, 64-byte aligned pointer of an unmapped DUS.
#[repr(align(64))]
struct Align64;

// SAFETY: `as_ptr` is either the start of the DUS mapping, which lives (read/write, MAP_SHARED) as long as the
// Queue because it is only unmapped in `Drop`, and is page-aligned (≥ 64), with `len` its exact length; or, when
// unmapped, a dangling 64-aligned non-null pointer with `len` 0. The Queue never creates Rust references into it.
unsafe impl DusMemory for Queue {
    fn as_ptr(&self) -> *mut u8 {
        match &self.dus {
            Some(map) => map.as_mut_ptr(),
            None => NonNull::<Align64>::dangling().as_ptr().cast(),
        }
    }

    fn len(&self) -> usize {
        self.dus_mapped_len()
    }
}

impl AsFd for Queue {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }
}

impl AsRawFd for Queue {
    fn as_raw_fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }
}

impl Drop for Queue {
    fn drop(&mut self) {
        if self.is_started() && !self.is_put() {
            // Errors are ignored: closing the fd releases the queue anyway.
            let _ = self.put();
        }
        self.dus_guard = None;
        self.mmio_guard = None;
        self.dus = None;
        self.mmio = None;
        // `file` is closed when the fields drop, after the regions are unmapped.
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A "device" backed by /dev/zero: MAP_SHARED mappings of it are shared anonymous memory, so regions can be
    /// mapped and doorbell stores observed without hardware.
    fn zero_queue(api: &str, mmio: u64) -> Queue {
        let mut dev = Device::manual("fake-0", "/dev/zero", api);
        dev.region_mmio_size = mmio;
        Queue::open(&dev).unwrap()
    }

    fn read_mmio(q: &Queue, offset: usize) -> u64 {
        let map = q.mmio.as_ref().unwrap();
        assert!(offset + 8 <= map.len());
        // SAFETY: in bounds of the live, page-aligned mapping; offset is a multiple of 8.
        unsafe { map.as_ptr().add(offset).cast::<u64>().read_volatile() }
    }

    #[test]
    fn mmio_doorbell_v2_and_v1() {
        for (api, offset) in [
            ("hisi_qm_v2", 0x1000),
            ("hisi_qm_v3", 0x1000),
            ("hisi_qm_v1", 0x340),
        ] {
            let mut q = zero_queue(api, 8192);
            assert_eq!(q.doorbell_path(), DoorbellPath::Mmio { offset });
            assert!(matches!(
                q.ring_checked(1),
                Err(QueueError::State {
                    state: "not started",
                    ..
                })
            ));
            q.started.store(true, Ordering::Release); // /dev/zero has no START_Q
            assert!(matches!(
                q.ring_checked(1),
                Err(QueueError::NotMapped {
                    region: UacceQfrt::Mmio
                })
            ));
            assert_eq!(q.map_mmio().unwrap(), 8192);
            assert!(matches!(
                q.map_mmio(),
                Err(QueueError::AlreadyMapped { .. })
            ));
            // SAFETY: no device: the MMIO region is a /dev/zero mapping, so the value only lands in memory.
            unsafe { q.ring(0x0001_0001_0000_1005) }.unwrap();
            assert_eq!(read_mmio(&q, offset), 0x0001_0001_0000_1005, "{api}");
            q.put.store(true, Ordering::Release);
            // SAFETY: refused before it reaches anything (the queue is put); there is no device either.
            let err = unsafe { q.ring(1) }.unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::NotConnected);
        }
    }

    #[test]
    fn mmio_too_small_for_doorbell() {
        let mut q = zero_queue("hisi_qm_v2", 4096);
        assert!(matches!(
            q.map_mmio(),
            Err(QueueError::MmioTooSmall {
                len: 4096,
                offset: 0x1000
            })
        ));
        let mut q = zero_queue("hisi_qm_v1", 4096);
        q.map_mmio().unwrap();
    }

    #[test]
    fn dus_memory_from_geometry() {
        let mut q = zero_queue("hisi_qm_v2", 0);
        assert_eq!(DusMemory::len(&q), 0);
        assert_eq!(q.as_ptr() as usize % 64, 0);
        let len = q.map_dus().unwrap();
        assert_eq!(len, dus_size_for(128, 1024, 1024, page_size()));
        assert_eq!(DusMemory::len(&q), len);
        let ptr = q.as_ptr();
        assert_eq!(ptr as usize % page_size(), 0);
        // SAFETY: first 8 bytes of the live mapping. (Not the last page: /dev/zero's shared object is only `len`
        // bytes long but is mapped from page offset 1, so its last page would SIGBUS; real DUS regions do not.)
        unsafe {
            ptr.cast::<u64>().write_volatile(7);
            assert_eq!(ptr.cast::<u64>().read_volatile(), 7);
        }
        let shared = std::sync::Arc::new(q);
        let mem: std::sync::Arc<dyn DusMemory> = shared.clone();
        let _db: std::sync::Arc<dyn Doorbell> = shared;
        assert_eq!(mem.len(), len);
    }

    #[test]
    fn soft_doorbell_goes_through_the_ioctl() {
        let q = Queue::open(&Device::manual("soft_zip-0", "/dev/null", "soft_qm_v2")).unwrap();
        q.started.store(true, Ordering::Release); // /dev/null has no START_Q
        // SAFETY: /dev/null is no device: the ioctl fails with ENOTTY.
        let err = unsafe { q.ring(0x0000_0001_0000_0005) }.unwrap_err();
        assert_eq!(err.raw_os_error(), Some(Errno::ENOTTY as i32), "{err}");
    }

    #[test]
    fn dus_size_formula() {
        assert_eq!(dus_size_for(128, 1024, 1024, 4096), 0x25000);
        assert_eq!(dus_size_for(128, 1024, 1024, 65536), 0x40000);
        assert_eq!(dus_size_for(128, 1, 1, 4096), 8192);
    }
}
