//! The hardware backend: uacce devices under `/sys/class/uacce` (HiSilicon QM v2/v3, or the kernel soft device),
//! their queues, the eventfd bound with the patched kernel's ioctl, and the hang-up watch.

use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;

use nix::sys::eventfd::{EfdFlags, EventFd};
use uacce_sys::qm::{DriverRing, RingLayout};
use uacce_sys::queue::{Queue, QueueError};
use uacce_sys::sysfs::{self, Sysfs, SysfsError};

use super::{Discovered, LaneEnv, Source, dup};
use crate::config::{Backend, Config};
use crate::error::{DeviceErrorKind, Error, Result};
use crate::lane::{Class, Lane, LaneSpec, Owner};
use crate::notify::NotifyMode;

/// The usable uacce devices for `config` (`Auto`, `Hardware`).
pub(super) fn discover(config: &Config) -> Result<Discovered> {
    let sysfs = Sysfs::new();
    let only = config.devices.as_deref();
    let (zs, ss) = hw_devices(&sysfs, only)?;
    let (zip, sec): (Vec<Source>, Vec<Source>) = (
        zs.into_iter().map(Source::Hw).collect(),
        ss.into_iter().map(Source::Hw).collect(),
    );
    if config.backend == Backend::Hardware && (zip.is_empty() || sec.is_empty()) {
        return Err(match (only, sysfs.devices()) {
            (Some(names), _) => Error::no_device(
                format!(
                    "the devices named in Config::devices ({}) serve no {} jobs",
                    names.join(", "),
                    if zip.is_empty() {
                        "ZIP (gzip)"
                    } else {
                        "SEC (aead)"
                    }
                ),
                DeviceErrorKind::Missing,
            ),
            (None, Err(e)) => {
                let kind = DeviceErrorKind::from(&e);
                Error::no_device_from("no uacce devices", kind, e)
            }
            (None, Ok(d)) => Error::no_device(
                format!(
                    "{} uacce device(s), none usable for both ZIP (gzip) and SEC (aead)",
                    d.len()
                ),
                DeviceErrorKind::Missing,
            ),
        });
    }
    let names: Vec<String> = zip.iter().chain(sec.iter()).map(Source::name).collect();
    if zip.is_empty() || sec.is_empty() {
        // Auto falls back to the CPU for what no device serves: say so once, at build.
        tracing::info!(
            compression = if zip.is_empty() { "CPU" } else { "device" },
            crypto = if sec.is_empty() { "CPU" } else { "device" },
            "uacce: no usable uacce device for some kinds of job ({}); they run on the CPU backend",
            match sysfs.devices() {
                Ok(d) if d.is_empty() => format!("no devices under {}", sysfs.root().display()),
                Ok(d) => format!(
                    "{} uacce device(s) found, none usable for the missing kinds",
                    d.len()
                ),
                Err(e) => e.to_string(),
            }
        );
    }
    let description = if names.is_empty() {
        "the CPU backend (no usable uacce devices)".to_string()
    } else {
        format!("uacce devices {}", names.join(", "))
    };
    Ok(Discovered {
        zip,
        sec,
        description,
        ..Discovered::default()
    })
}

/// A lane on a new queue of `dev`.
pub(super) fn open_lane(dev: &sysfs::Device, class: Class, env: &LaneEnv<'_>) -> Result<Arc<Lane>> {
    // A removal on a kernel that raises SIGBUS must not kill the process (crate docs, "Device removal").
    if let Err(e) = uacce_sys::guard::install() {
        tracing::warn!("cannot install the SIGBUS guard for device removal: {e}");
    }
    let q = Arc::new(
        Queue::open_and_start(dev, class.qc_type())
            .map_err(|e| Error::queue(format!("cannot open a queue on {}", dev.name), e))?,
    );
    let version = dev.qm_version().ok_or_else(|| Error::Setup {
        message: format!("{}: unsupported api {}", dev.name, dev.api),
        kind: DeviceErrorKind::Unsupported,
        source: None,
    })?;
    // The SQE size the kernel reported for this queue (128 ZIP/SEC, 64 HPRE), not an assumed one.
    let layout = RingLayout::for_queue(&q).map_err(|e| {
        Error::setup_from(
            format!("{}: ring layout", dev.name),
            DeviceErrorKind::Unsupported,
            e,
        )
    })?;
    let sqn = q
        .sqn()
        .ok_or_else(|| Error::setup(format!("{}: the queue has no number", dev.name)))?;
    let ring = DriverRing::new(q.clone(), layout, q.clone(), version, sqn)
        .map_err(|e| Error::setup_from(format!("{}: ring", dev.name), DeviceErrorKind::Other, e))?;
    let (fd, is_eventfd) = match env.mode {
        NotifyMode::Interrupt | NotifyMode::BusyPoll => (dup(q.as_fd())?, false),
        _ => bind_eventfd(&q)?,
    };
    let hup_fd = if is_eventfd {
        Some(hangup_watch(&q)?)
    } else {
        None
    };
    let spec = LaneSpec {
        class,
        device: dev.name.clone(),
        numa_node: dev.numa_node,
        version,
        owner: Owner::Hw(q),
        wait_fd: fd,
        wait_is_eventfd: is_eventfd,
        hup_fd,
        job_timeout: env.job_timeout,
        kick: env.notifier.kick(),
    };
    Ok(Lane::new(spec, ring))
}

/// The uacce devices under `sysfs` that serve ZIP (`gzip`) and SEC (`aead`) jobs, each list in sysfs order.
///
/// Without `only`: every device that lists the algorithm, is not isolated and passes
/// [`uacce_sys::queue::check_device`]; the others are skipped. With `only` (see [`Config::devices`]): those devices
/// alone, and each must exist and be usable, else [`Error::NoDevice`] says which and why.
fn hw_devices(
    sysfs: &Sysfs,
    only: Option<&[String]>,
) -> Result<(Vec<sysfs::Device>, Vec<sysfs::Device>)> {
    let Some(only) = only else {
        let usable = |alg: &str| -> Vec<sysfs::Device> {
            sysfs
                .devices_for_algorithm(alg)
                .unwrap_or_default()
                .into_iter()
                .filter(|d| uacce_sys::queue::check_device(d).is_ok())
                .collect()
        };
        return Ok((usable("gzip"), usable("aead")));
    };
    let found = sysfs.device_names();
    let found_names: &[String] = found.as_deref().unwrap_or(&[]);
    let missing: Vec<&str> = only
        .iter()
        .filter(|n| !found_names.contains(n))
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        let here = match &found {
            Ok(names) if names.is_empty() => {
                format!("no uacce devices under {}", sysfs.root().display())
            }
            Ok(names) => format!("uacce devices here: {}", names.join(", ")),
            Err(e) => format!("no uacce devices: {e}"),
        };
        return Err(Error::no_device(
            format!(
                "uacce device{} {} (Config::devices) not found; {here}",
                if missing.len() > 1 { "s" } else { "" },
                missing.join(", ")
            ),
            DeviceErrorKind::Missing,
        ));
    }
    let (mut zip, mut sec) = (Vec::new(), Vec::new());
    // In sysfs order, each named device once.
    for name in found_names.iter().filter(|n| only.contains(n)) {
        let unusable = format!("uacce device {name} (Config::devices) is unusable");
        let dev = sysfs.device(name).map_err(|e| {
            let kind = DeviceErrorKind::from(&e);
            Error::no_device_from(&*unusable, kind, e)
        })?;
        if dev.is_isolated() {
            return Err(Error::no_device_from(
                &*unusable,
                DeviceErrorKind::Isolated,
                SysfsError::Isolated { name: name.clone() },
            ));
        }
        uacce_sys::queue::check_device(&dev).map_err(|e| {
            let kind = DeviceErrorKind::from(&e);
            Error::no_device_from(&*unusable, kind, e)
        })?;
        let (z, s) = (dev.supports("gzip"), dev.supports("aead"));
        if !z && !s {
            return Err(Error::no_device(
                format!(
                    "{unusable}: it serves neither compression (gzip) nor crypto (aead); its algorithms: {}",
                    dev.algorithms.join(", ")
                ),
                DeviceErrorKind::Unsupported,
            ));
        }
        if z {
            zip.push(dev.clone());
        }
        if s {
            sec.push(dev);
        }
    }
    Ok((zip, sec))
}

/// `Eventfd` mode on a real queue: bind an eventfd with the patched kernel's ioctl, or fall back to the queue fd.
fn bind_eventfd(q: &Queue) -> Result<(OwnedFd, bool)> {
    let efd = EventFd::from_value_and_flags(0, EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK)
        .map_err(|e| Error::setup_from("eventfd", DeviceErrorKind::Other, e))?;
    match q.bind_eventfd(efd.as_fd()) {
        Ok(()) => Ok((OwnedFd::from(efd), true)),
        Err(QueueError::Unsupported { .. }) => {
            tracing::info!(
                "the kernel does not know UACCE_CMD_SET_EVENTFD (no eventfd patch); falling back to poll() on the queue fd"
            );
            Ok((dup(q.as_fd())?, false))
        }
        Err(e) => Err(Error::queue("bind an eventfd to the queue", e)),
    }
}

/// An epoll fd that becomes readable only when the queue fd reports `EPOLLHUP`/`EPOLLERR` (device removed, patched
/// kernel). The queue is registered with no events, so the completion wake-ups (keyed `EPOLLIN` by the patched
/// `uacce_wake_up()`) do not reach it: the runtime pays nothing per completion for the watch.
fn hangup_watch(q: &Queue) -> Result<OwnedFd> {
    use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags};
    let ep = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)
        .map_err(|e| Error::setup_from("epoll_create1", DeviceErrorKind::Other, e))?;
    // The registration follows the queue's open file: it ends when the queue is closed, with no fd to keep.
    ep.add(q.as_fd(), EpollEvent::new(EpollFlags::empty(), 0))
        .map_err(|e| Error::setup_from("epoll_ctl(queue fd)", DeviceErrorKind::Other, e))?;
    Ok(ep.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accel::Accel;

    /// A fake `/sys/class/uacce` in a temporary directory.
    struct FakeSysfs {
        _dir: tempfile::TempDir,
        sysfs: Sysfs,
    }

    impl FakeSysfs {
        fn new() -> Self {
            let dir = tempfile::tempdir().expect("temp dir");
            let root = dir.path().join("class/uacce");
            std::fs::create_dir_all(&root).expect("class dir");
            let sysfs = Sysfs::with_root(&root, dir.path().join("dev"));
            Self { _dir: dir, sysfs }
        }

        /// A device entry: `flags` 1 is SVA; `algorithms` one per line.
        fn add(&self, name: &str, api: &str, flags: u32, algorithms: &[&str]) -> &Self {
            let dir = self.sysfs.root().join(name);
            std::fs::create_dir_all(&dir).expect("device dir");
            for (attr, content) in [
                ("api", format!("{api}\n")),
                ("flags", format!("{flags}\n")),
                ("available_instances", "4\n".to_string()),
                ("algorithms", algorithms.join("\n") + "\n"),
            ] {
                std::fs::write(dir.join(attr), content).expect("attribute");
            }
            self
        }

        /// hisi_zip-0, hisi_zip-1, hisi_sec2-0 (SVA), hisi_zip-2 (no SVA), hisi_hpre-0 (neither gzip nor aead).
        fn typical() -> Self {
            let f = Self::new();
            f.add("hisi_zip-0", "hisi_qm_v2", 1, &["zlib", "gzip", "deflate"])
                .add("hisi_zip-1", "hisi_qm_v3", 1, &["zlib", "gzip", "deflate"])
                .add(
                    "hisi_sec2-0",
                    "hisi_qm_v2",
                    1,
                    &["cipher", "digest", "aead"],
                )
                .add("hisi_zip-2", "hisi_qm_v2", 0, &["zlib", "gzip"])
                .add("hisi_hpre-0", "hisi_qm_v2", 1, &["rsa", "dh"]);
            f
        }

        fn pick(&self, only: Option<&[&str]>) -> Result<(Vec<String>, Vec<String>)> {
            let only: Option<Vec<String>> = only.map(|o| o.iter().map(|s| s.to_string()).collect());
            let (z, s) = hw_devices(&self.sysfs, only.as_deref())?;
            let names = |v: Vec<sysfs::Device>| v.into_iter().map(|d| d.name).collect();
            Ok((names(z), names(s)))
        }
    }

    /// The message of an [`Error::NoDevice`] with its whole source chain, and its kind.
    fn no_device(r: Result<(Vec<String>, Vec<String>)>) -> (String, DeviceErrorKind) {
        match r {
            Err(e @ Error::NoDevice { .. }) => {
                let mut m = e.to_string();
                let mut cause = std::error::Error::source(&e);
                while let Some(c) = cause {
                    m = format!("{m}: {c}");
                    cause = c.source();
                }
                (m, e.device_kind().expect("a device error has a kind"))
            }
            other => panic!("expected Error::NoDevice, got {other:?}"),
        }
    }

    fn no_device_message(r: Result<(Vec<String>, Vec<String>)>) -> String {
        no_device(r).0
    }

    #[test]
    fn without_a_filter_every_usable_device_serves() {
        let f = FakeSysfs::typical();
        let (z, s) = f.pick(None).unwrap();
        // hisi_zip-2 lacks SVA and is skipped silently, as before the filter existed.
        assert_eq!(z, ["hisi_zip-0", "hisi_zip-1"]);
        assert_eq!(s, ["hisi_sec2-0"]);
    }

    #[test]
    fn the_filter_keeps_only_the_named_devices() {
        let f = FakeSysfs::typical();
        assert_eq!(
            f.pick(Some(&["hisi_zip-1"])).unwrap(),
            (vec!["hisi_zip-1".to_string()], vec![])
        );
        // In sysfs order whatever the order of the names; a name given twice counts once.
        assert_eq!(
            f.pick(Some(&[
                "hisi_sec2-0",
                "hisi_zip-1",
                "hisi_zip-0",
                "hisi_zip-1"
            ]))
            .unwrap(),
            (
                vec!["hisi_zip-0".to_string(), "hisi_zip-1".to_string()],
                vec!["hisi_sec2-0".to_string()]
            )
        );
        assert_eq!(f.pick(Some(&[])).unwrap(), (vec![], vec![]));
    }

    #[test]
    fn a_missing_device_is_named_with_the_devices_found() {
        let f = FakeSysfs::typical();
        let m = no_device_message(f.pick(Some(&["hisi_zip-0", "hisi_zip-7", "nope"])));
        let (missing, here) = m.split_once("not found").expect("two parts");
        assert!(missing.contains("hisi_zip-7, nope"), "{m}");
        assert!(!missing.contains("hisi_zip-0"), "{m}");
        assert!(
            here.contains("hisi_hpre-0, hisi_sec2-0, hisi_zip-0, hisi_zip-1, hisi_zip-2"),
            "{m}"
        );
        // No uacce class at all.
        let none = Sysfs::with_root("/nonexistent/class/uacce", "/dev");
        let only = vec!["hisi_zip-0".to_string()];
        let m = match hw_devices(&none, Some(&only)) {
            Err(Error::NoDevice { message, kind, .. }) => {
                assert_eq!(kind, DeviceErrorKind::Missing);
                message
            }
            other => panic!("{other:?}"),
        };
        assert!(m.contains("hisi_zip-0") && m.contains("no uacce"), "{m}");
        // An empty list needs no devices at all.
        assert_eq!(hw_devices(&none, Some(&[])).unwrap().0.len(), 0);
    }

    #[test]
    fn a_named_device_that_cannot_serve_is_an_error_not_skipped() {
        let f = FakeSysfs::typical();
        let (m, kind) = no_device(f.pick(Some(&["hisi_zip-2"])));
        assert!(m.contains("hisi_zip-2") && m.contains("SVA"), "{m}");
        assert_eq!(kind, DeviceErrorKind::Unsupported);
        // The uacce-sys error is the source, typed.
        let e = f.pick(Some(&["hisi_zip-2"])).unwrap_err();
        let cause = e.device_cause().expect("a cause");
        // The same error is std's source, and survives a clone (it is shared in an Arc).
        let via_std = std::error::Error::source(&e).expect("a source");
        assert_eq!(via_std.to_string(), cause.to_string());
        assert!(
            !e.to_string().contains("SVA"),
            "the cause is not repeated in the message: {e}"
        );
        let copy = e.clone();
        assert!(
            copy.device_cause()
                .is_some_and(|c| c.to_string() == cause.to_string())
        );
        assert!(
            matches!(cause.downcast_ref::<QueueError>(), Some(QueueError::SvaRequired { name, .. }) if name == "hisi_zip-2"),
            "{cause:?}"
        );
        let (m, kind) = no_device(f.pick(Some(&["hisi_zip-0", "hisi_hpre-0"])));
        assert!(m.contains("hisi_hpre-0") && m.contains("rsa"), "{m}");
        assert_eq!(kind, DeviceErrorKind::Unsupported);
        f.add("hisi_zip-3", "acme_v9", 1, &["gzip"]);
        let (m, kind) = no_device(f.pick(Some(&["hisi_zip-3"])));
        assert!(m.contains("hisi_zip-3") && m.contains("acme_v9"), "{m}");
        assert_eq!(kind, DeviceErrorKind::Unsupported);
        std::fs::write(f.sysfs.root().join("hisi_zip-1/isolate"), "1\n").unwrap();
        let (m, kind) = no_device(f.pick(Some(&["hisi_zip-1"])));
        assert!(m.contains("hisi_zip-1") && m.contains("isolated"), "{m}");
        assert_eq!(kind, DeviceErrorKind::Isolated);
        // Unfiltered, the same devices are skipped silently.
        assert_eq!(f.pick(None).unwrap().0, ["hisi_zip-0"]);
    }

    #[tokio::test]
    async fn the_filter_is_ignored_by_the_emulated_and_cpu_backends() {
        for backend in [Backend::Emulated, Backend::Cpu] {
            let accel = Accel::builder()
                .backend(backend)
                .devices(["hisi_zip-99"])
                .build()
                .await
                .unwrap();
            assert_eq!(
                accel.config().devices.as_deref(),
                Some(&["hisi_zip-99".to_string()][..])
            );
        }
    }

    #[tokio::test]
    async fn a_missing_named_device_fails_the_hardware_backends_at_build() {
        // This machine's /sys/class/uacce, whatever it holds, has no device of that name.
        for backend in [Backend::Auto, Backend::Hardware] {
            let r = Accel::builder()
                .backend(backend)
                .devices(["no_such_accel-99"])
                .build()
                .await;
            match r {
                Err(Error::NoDevice { message, kind, .. }) => {
                    assert!(message.contains("no_such_accel-99"), "{message}");
                    assert_eq!(kind, DeviceErrorKind::Missing);
                }
                other => panic!("{backend:?}: {other:?}"),
            }
        }
    }
}
