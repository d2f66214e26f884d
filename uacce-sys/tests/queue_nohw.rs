//! Queue behaviour without accelerator hardware: error mapping, ioctls on a non-uacce fd (/dev/null), mmap errors.

use std::io;
use std::os::fd::{AsFd, AsRawFd};
use std::path::Path;

use nix::errno::Errno;
use uacce_sys::qm::Doorbell;
use uacce_sys::queue::{
    DEFAULT_DEPTH, DEFAULT_SQE_SIZE, DoorbellPath, Queue, QueueError, check_device, dus_size_for,
    open_error, page_size,
};
use uacce_sys::sysfs::Device;
use uacce_sys::uapi::{UACCE_DEV_SVA, UacceQfrt};

fn null_device(api: &str) -> Device {
    let mut dev = Device::manual("hisi_zip-0", "/dev/null", api);
    dev.flags = UACCE_DEV_SVA;
    dev
}

#[test]
fn open_missing_node() {
    let tmp = tempfile::tempdir().unwrap();
    let dev = Device::manual("hisi_zip-0", tmp.path().join("hisi_zip-0"), "hisi_qm_v2");
    let err = Queue::open(&dev).unwrap_err();
    assert!(matches!(err, QueueError::NodeMissing { .. }), "{err:?}");
    assert!(err.to_string().contains("does not exist"));
    assert_eq!(io::Error::from(err).kind(), io::ErrorKind::NotFound);
}

#[test]
fn open_error_mapping() {
    let p = Path::new("/dev/hisi_zip-0");
    for errno in [Errno::EACCES, Errno::EPERM] {
        let err = open_error(p, errno);
        assert!(
            matches!(err, QueueError::PermissionDenied { errno: e, .. } if e == errno),
            "{err:?}"
        );
        let msg = err.to_string();
        assert!(msg.contains("root") && msg.contains("udev"), "{msg}");
    }
    assert!(matches!(
        open_error(p, Errno::ENOENT),
        QueueError::NodeMissing { .. }
    ));
    let busy = open_error(p, Errno::EBUSY);
    assert!(matches!(busy, QueueError::Busy { .. }));
    assert!(busy.to_string().contains("available_instances"));
    assert!(matches!(
        open_error(p, Errno::ENXIO),
        QueueError::Open {
            source: Errno::ENXIO,
            ..
        }
    ));
}

#[test]
fn unsupported_api_is_refused() {
    let err = Queue::open(&null_device("some_other_v1")).unwrap_err();
    assert!(matches!(err, QueueError::UnsupportedApi { .. }), "{err:?}");
    assert!(check_device(&null_device("some_other_v1")).is_err());
}

#[test]
fn sva_requirement() {
    let mut hw = null_device("hisi_qm_v2");
    assert_eq!(
        check_device(&hw).unwrap(),
        DoorbellPath::Mmio { offset: 0x1000 }
    );
    hw.flags = 0;
    let err = check_device(&hw).unwrap_err();
    assert!(matches!(err, QueueError::SvaRequired { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("UACCE_DEV_SVA") && msg.contains("IOMMU"),
        "{msg}"
    );
    let q = Queue::open(&hw).unwrap();
    assert!(matches!(q.check_sva(), Err(QueueError::SvaRequired { .. })));

    let mut v1 = null_device("hisi_qm_v1");
    assert_eq!(
        check_device(&v1).unwrap(),
        DoorbellPath::Mmio { offset: 0x340 }
    );
    v1.flags = 0;
    assert!(check_device(&v1).is_err());

    let mut soft = null_device("soft_qm_v2");
    soft.flags = 0;
    assert_eq!(check_device(&soft).unwrap(), DoorbellPath::SoftIoctl);
    // With a register page large enough for the doorbell registers: MMIO store + kick eventfd.
    soft.region_mmio_size = 4096;
    assert_eq!(check_device(&soft).unwrap(), DoorbellPath::SoftKick);
    soft.region_mmio_size = 0x20;
    assert_eq!(check_device(&soft).unwrap(), DoorbellPath::SoftIoctl);
    soft.region_mmio_size = 0;
    let q = Queue::open(&soft).unwrap();
    q.check_sva().unwrap();
    assert!(q.is_soft() && !q.is_sva());
}

#[test]
fn ioctls_on_a_non_uacce_fd() {
    let mut q = Queue::open(&null_device("hisi_qm_v2")).unwrap();
    assert_eq!(q.name(), "hisi_zip-0");
    assert_eq!(q.api(), "hisi_qm_v2");
    assert!(q.is_sva());
    assert!(q.as_raw_fd() >= 0);
    let _ = q.as_fd();

    let err = q.set_qp_ctx(0).unwrap_err();
    assert!(
        matches!(
            err,
            QueueError::Ioctl {
                cmd: "UACCE_CMD_QM_SET_QP_CTX",
                source: Errno::ENOTTY
            }
        ),
        "{err:?}"
    );
    assert_eq!(q.sqn(), None);

    assert_eq!(q.qp_info(), None);
    assert_eq!(
        (q.sqe_size(), q.sq_depth(), q.cq_depth()),
        (DEFAULT_SQE_SIZE, DEFAULT_DEPTH, DEFAULT_DEPTH)
    );
    assert_eq!(q.kernel_qp_info(), None);

    let efd = nix::sys::eventfd::EventFd::new().unwrap();
    let err = q.bind_eventfd(efd.as_fd()).unwrap_err();
    assert!(
        matches!(
            err,
            QueueError::Unsupported {
                cmd: "UACCE_CMD_SET_EVENTFD",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(matches!(
        q.unbind_eventfd(),
        Err(QueueError::Unsupported { .. })
    ));

    assert!(matches!(
        q.start(),
        Err(QueueError::Ioctl {
            cmd: "UACCE_CMD_START_Q",
            ..
        })
    ));
    assert!(!q.is_started());
    assert!(matches!(
        q.put(),
        Err(QueueError::Ioctl {
            cmd: "UACCE_CMD_PUT_Q",
            ..
        })
    ));
    assert!(!q.is_put());

    // SAFETY: refused before any ioctl (the queue is not started); the node is /dev/null, no device.
    let err = unsafe { q.ring(1) }.unwrap_err();
    assert_eq!(
        err.kind(),
        io::ErrorKind::NotConnected,
        "doorbell before start: {err}"
    );
}

#[test]
fn mmap_errors_are_typed() {
    let mut q = Queue::open(&null_device("hisi_qm_v2")).unwrap();
    // region_mmio_size is 0 on this fake device.
    assert!(matches!(
        q.map_mmio(),
        Err(QueueError::ZeroSizeRegion {
            region: UacceQfrt::Mmio
        })
    ));
    assert!(matches!(
        q.map_region(UacceQfrt::Dus, 0),
        Err(QueueError::ZeroSizeRegion {
            region: UacceQfrt::Dus
        })
    ));
    // region_dus_size is 0: the geometry gives the length; /dev/null cannot be mapped.
    assert_eq!(q.dus_len(), dus_size_for(128, 1024, 1024, page_size()));
    let err = q.map_dus().unwrap_err();
    assert!(
        matches!(
            err,
            QueueError::Mmap {
                region: UacceQfrt::Dus,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(q.dus_mapped_len(), 0);
}

#[test]
fn sysfs_dus_size_wins_over_geometry() {
    let mut dev = null_device("hisi_qm_v3");
    dev.region_dus_size = 12345 * 4096;
    let q = Queue::open(&dev).unwrap();
    assert_eq!(q.dus_len(), 12345 * 4096);
}

#[test]
fn soft_doorbell_on_a_non_uacce_fd() {
    let q = Queue::open(&null_device("soft_qm_v2")).unwrap();
    // Not started: refused before any ioctl.
    // SAFETY: refused before any ioctl (the queue is not started); the node is /dev/null, no device.
    assert_eq!(
        unsafe { q.ring(1) }.unwrap_err().kind(),
        io::ErrorKind::NotConnected
    );
}

#[test]
fn open_and_start_stops_at_the_first_failure() {
    let err = Queue::open_and_start(&null_device("hisi_qm_v2"), 0).unwrap_err();
    assert!(
        matches!(
            err,
            QueueError::Ioctl {
                cmd: "UACCE_CMD_QM_SET_QP_CTX",
                ..
            }
        ),
        "{err:?}"
    );
    let mut no_sva = null_device("hisi_qm_v2");
    no_sva.flags = 0;
    assert!(matches!(
        Queue::open_and_start(&no_sva, 0),
        Err(QueueError::SvaRequired { .. })
    ));
}
