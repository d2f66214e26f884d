//! The hardware backend: uacce devices under `/sys/class/uacce` (HiSilicon QM v2/v3, or the kernel soft device),
//! their queues, the eventfd bound with the patched kernel's ioctl, and the hang-up watch.

use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;

use nix::sys::eventfd::{EfdFlags, EventFd};
use uacce_sys::qm::{DriverRing, QmVersion, RingLayout};
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
    let found = hw_devices(&sysfs, only)?;
    let names = found.names();
    let sources =
        |v: Vec<sysfs::Device>| -> Vec<Source> { v.into_iter().map(Source::Hw).collect() };
    let (zip, sec, hpre, hpre_ecc) = (
        sources(found.zip),
        sources(found.sec),
        sources(found.hpre),
        sources(found.hpre_ecc),
    );
    // Public-key jobs do not make `Hardware` fail here: without an HPRE device they fail one by one
    // (`hardware_refusal`), so that a machine with ZIP and SEC devices but no HPRE one still builds.
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
                    "{} uacce device(s), none usable for both ZIP (gzip) and SEC (aead){}",
                    d.len(),
                    if names.is_empty() {
                        String::new()
                    } else {
                        format!(" (usable: {})", names.join(", "))
                    }
                ),
                DeviceErrorKind::Missing,
            ),
        });
    }
    if zip.is_empty() || sec.is_empty() || hpre.is_empty() || hpre_ecc.is_empty() {
        // What no device serves runs on the CPU backend under Auto (under Hardware, public-key jobs fail): say so
        // once, at build.
        let on = |v: &[Source]| if v.is_empty() { "CPU" } else { "device" };
        tracing::info!(
            compression = on(&zip),
            crypto = on(&sec),
            rsa = on(&hpre),
            ecc = on(&hpre_ecc),
            "uacce: no usable uacce device for some kinds of job ({}); they run on the CPU backend ({})",
            match sysfs.devices() {
                Ok(d) if d.is_empty() => format!("no devices under {}", sysfs.root().display()),
                Ok(d) => format!(
                    "{} uacce device(s) found, none usable for the missing kinds",
                    d.len()
                ),
                Err(e) => e.to_string(),
            },
            if config.backend == Backend::Hardware {
                "Backend::Hardware: public-key jobs fail instead"
            } else {
                "Backend::Auto"
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
        hpre,
        hpre_ecc,
        description,
        ..Discovered::default()
    })
}

/// The `algorithms` entries an HPRE device must list for its ECC queues (type 1) to serve this crate's ECC jobs:
/// what those jobs send (ECDH and the curve25519/448 multiplies, ECDSA, SM2). The kernel's hpre driver
/// (`hpre_main.c`, `hpre_set_qm_algs`) lists them from its capability bitmap: `rsa`, `dh` on QM v2; these five as
/// well on v3.
pub(crate) const HPRE_ECC_ALGORITHMS: [&str; 5] = ["ecdh", "ecdsa", "sm2", "x25519", "x448"];

/// Whether `dev` serves RSA jobs on queue type 0: it lists `rsa` and speaks QM v2 or newer (the HPRE SQE codec's
/// versions; the kernel refuses HPRE on v1).
fn serves_rsa(dev: &sysfs::Device) -> bool {
    dev.supports("rsa") && dev.qm_version() >= Some(QmVersion::V2)
}

/// Whether `dev` serves ECC jobs on queue type 1: QM v3 or newer (v2 has no ECC queue type) and every entry of
/// [`HPRE_ECC_ALGORITHMS`] listed.
fn serves_ecc(dev: &sysfs::Device) -> bool {
    dev.qm_version() >= Some(QmVersion::V3) && HPRE_ECC_ALGORITHMS.iter().all(|a| dev.supports(a))
}

/// The error of a public-key job of `class` under [`Backend::Hardware`] when no HPRE device serves its class
/// (`rsa_devices`: whether HPRE devices serve RSA, i.e. the ones here lack ECC). Under `Auto` such a job runs on the
/// CPU backend instead.
pub(crate) fn hardware_refusal(class: Class, rsa_devices: bool) -> Error {
    match class {
        Class::HpreEcc if rsa_devices => Error::Unsupported(
            "no HPRE device here does ECC (it needs QM v3 and ecdh, ecdsa, sm2, x25519, x448 in its algorithms; \
             Backend::Hardware: no CPU fallback)",
        ),
        Class::HpreEcc => Error::no_device(
            "no usable hisi_hpre device (QM v3) for ECC jobs (Backend::Hardware: no CPU fallback)",
            DeviceErrorKind::Missing,
        ),
        _ => Error::no_device(
            "no usable hisi_hpre device for RSA jobs (Backend::Hardware: no CPU fallback)",
            DeviceErrorKind::Missing,
        ),
    }
}

/// A lane on a new queue of `dev`.
pub(super) fn open_lane(dev: &sysfs::Device, class: Class, env: &LaneEnv<'_>) -> Result<Arc<Lane>> {
    // A removal on a kernel that raises SIGBUS must not kill the process (crate docs, "Device removal").
    if let Err(e) = uacce_sys::guard::install() {
        tracing::warn!("cannot install the SIGBUS guard for device removal: {e}");
    }
    let version = dev.qm_version().ok_or_else(|| Error::Setup {
        message: format!("{}: unsupported api {}", dev.name, dev.api),
        kind: DeviceErrorKind::Unsupported,
        source: None,
    })?;
    // Discovery puts only QM v3 devices in the ECC pool; a type-1 HPRE queue on v2 is not a thing (UADK and the
    // kernel open ECC queues on v3 only).
    if class == Class::HpreEcc && version < QmVersion::V3 {
        return Err(Error::Setup {
            message: format!(
                "{}: ECC queues need QM v3, the device speaks {}",
                dev.name, dev.api
            ),
            kind: DeviceErrorKind::Unsupported,
            source: None,
        });
    }
    // The queue type: ZIP 0 compress / 1 decompress, SEC 0, HPRE 0 RSA/DH / 1 ECC (`Class::qc_type`).
    let q = Arc::new(
        Queue::open_and_start(dev, class.qc_type())
            .map_err(|e| Error::queue(format!("cannot open a queue on {}", dev.name), e))?,
    );
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
        soft: dev.is_soft(),
        owner: Owner::Hw(q),
        wait_fd: fd,
        wait_is_eventfd: is_eventfd,
        hup_fd,
        job_timeout: env.job_timeout,
        kick: env.notifier.kick(),
    };
    Ok(Lane::new(spec, ring))
}

/// The uacce devices that serve each kind of job, each list in sysfs order (one HPRE device of QM v3 is in both
/// HPRE lists: its RSA and its ECC queues are separate pools).
#[derive(Debug, Default)]
struct HwDevices {
    /// ZIP devices (`gzip`).
    zip: Vec<sysfs::Device>,
    /// SEC devices (`aead`).
    sec: Vec<sysfs::Device>,
    /// HPRE devices for RSA queues (type 0): [`serves_rsa`].
    hpre: Vec<sysfs::Device>,
    /// HPRE devices for ECC queues (type 1): [`serves_ecc`].
    hpre_ecc: Vec<sysfs::Device>,
}

impl HwDevices {
    /// Every device named once, in the order zip, sec, hpre, hpre_ecc.
    fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for d in self
            .zip
            .iter()
            .chain(&self.sec)
            .chain(&self.hpre)
            .chain(&self.hpre_ecc)
        {
            if !names.contains(&d.name) {
                names.push(d.name.clone());
            }
        }
        names
    }
}

/// The uacce devices under `sysfs` that serve ZIP (`gzip`), SEC (`aead`) and HPRE (RSA: `rsa`; ECC: QM v3 and
/// [`HPRE_ECC_ALGORITHMS`]) jobs.
///
/// Without `only`: every device that lists the algorithm, is not isolated and passes
/// [`uacce_sys::queue::check_device`] (SVA, a known `api`); the others are skipped. With `only` (see
/// [`Config::devices`]): those devices alone, and each must exist and be usable for some kind of job, else
/// [`Error::NoDevice`] says which and why.
fn hw_devices(sysfs: &Sysfs, only: Option<&[String]>) -> Result<HwDevices> {
    let Some(only) = only else {
        let usable = |alg: &str, serves: fn(&sysfs::Device) -> bool| -> Vec<sysfs::Device> {
            sysfs
                .devices_for_algorithm(alg)
                .unwrap_or_default()
                .into_iter()
                .filter(|d| serves(d) && uacce_sys::queue::check_device(d).is_ok())
                .collect()
        };
        return Ok(HwDevices {
            zip: usable("gzip", |_| true),
            sec: usable("aead", |_| true),
            hpre: usable("rsa", serves_rsa),
            hpre_ecc: usable("ecdh", serves_ecc),
        });
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
    let mut picked = HwDevices::default();
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
        let (z, s, r, e) = (
            dev.supports("gzip"),
            dev.supports("aead"),
            serves_rsa(&dev),
            serves_ecc(&dev),
        );
        if !(z || s || r || e) {
            return Err(Error::no_device(
                format!(
                    "{unusable}: it serves neither compression (gzip), crypto (aead) nor public-key jobs (rsa on QM \
                     v2 or newer; ECC on v3: {}); its algorithms: {}",
                    HPRE_ECC_ALGORITHMS.join(", "),
                    dev.algorithms.join(", ")
                ),
                DeviceErrorKind::Unsupported,
            ));
        }
        for (serves, list) in [
            (z, &mut picked.zip),
            (s, &mut picked.sec),
            (r, &mut picked.hpre),
            (e, &mut picked.hpre_ecc),
        ] {
            if serves {
                list.push(dev.clone());
            }
        }
    }
    Ok(picked)
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

        /// hisi_zip-0, hisi_zip-1, hisi_sec2-0 (SVA), hisi_zip-2 (no SVA), hisi_hpre-0 (QM v2: RSA only).
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

        /// The names picked per kind of job: zip, sec, hpre (RSA), hpre_ecc.
        fn pick_all(&self, only: Option<&[&str]>) -> Result<[Vec<String>; 4]> {
            let only: Option<Vec<String>> = only.map(|o| o.iter().map(|s| s.to_string()).collect());
            let d = hw_devices(&self.sysfs, only.as_deref())?;
            let names = |v: Vec<sysfs::Device>| v.into_iter().map(|d| d.name).collect();
            Ok([names(d.zip), names(d.sec), names(d.hpre), names(d.hpre_ecc)])
        }

        /// The ZIP and SEC names picked.
        fn pick(&self, only: Option<&[&str]>) -> Result<(Vec<String>, Vec<String>)> {
            self.pick_all(only).map(|[z, s, ..]| (z, s))
        }
    }

    /// The message of an [`Error::NoDevice`] with its whole source chain, and its kind.
    fn no_device<T: std::fmt::Debug>(r: Result<T>) -> (String, DeviceErrorKind) {
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

    fn no_device_message<T: std::fmt::Debug>(r: Result<T>) -> String {
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

    /// The kernel's hpre `algorithms` on QM v3: newer mainline from the capability bitmap (no trailing newline),
    /// older mainline a fixed string in another order.
    const HPRE_V3_ALGS: [&str; 7] = ["rsa", "dh", "ecdh", "ecdsa", "sm2", "x25519", "x448"];
    const HPRE_V3_ALGS_OLD: [&str; 7] = ["rsa", "dh", "ecdh", "x25519", "x448", "ecdsa", "sm2"];

    #[test]
    fn hpre_devices_serve_rsa_on_v2_and_v3_and_ecc_on_v3_only() {
        let f = FakeSysfs::typical();
        let [z, s, rsa, ecc] = f.pick_all(None).unwrap();
        assert_eq!((z.len(), s.len()), (2, 1));
        // QM v2 (Kunpeng 920): RSA/DH queues only.
        assert_eq!(rsa, ["hisi_hpre-0"]);
        assert!(ecc.is_empty(), "{ecc:?}");
        f.add("hisi_hpre-1", "hisi_qm_v3", 1, &HPRE_V3_ALGS).add(
            "hisi_hpre-2",
            "hisi_qm_v3",
            1,
            &HPRE_V3_ALGS_OLD,
        );
        let [_, _, rsa, ecc] = f.pick_all(None).unwrap();
        assert_eq!(rsa, ["hisi_hpre-0", "hisi_hpre-1", "hisi_hpre-2"]);
        assert_eq!(ecc, ["hisi_hpre-1", "hisi_hpre-2"]);
        // The NUMA node comes through to the device the pool opens queues on.
        let dir = f.sysfs.root().join("hisi_hpre-1/device");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("numa_node"), "1\n").unwrap();
        let d = hw_devices(&f.sysfs, None).unwrap();
        assert_eq!(d.hpre_ecc[0].numa_node, Some(1));
        assert_eq!(d.hpre_ecc[0].available_instances, 4);
        assert_eq!(
            d.names(),
            [
                "hisi_zip-0",
                "hisi_zip-1",
                "hisi_sec2-0",
                "hisi_hpre-0",
                "hisi_hpre-1",
                "hisi_hpre-2"
            ]
        );
    }

    #[test]
    fn hpre_devices_that_cannot_serve_are_skipped() {
        let f = FakeSysfs::new();
        // No SVA, as for ZIP and SEC.
        f.add("hisi_hpre-0", "hisi_qm_v3", 0, &HPRE_V3_ALGS)
            // QM v1: no HPRE (the kernel refuses it; the SQE codec is v2/v3).
            .add("hisi_hpre-1", "hisi_qm_v1", 1, &["rsa", "dh"])
            // v3 with an ECC algorithm missing from its capability bitmap: RSA only.
            .add(
                "hisi_hpre-2",
                "hisi_qm_v3",
                1,
                &["rsa", "dh", "ecdh", "ecdsa", "sm2", "x25519"],
            )
            // ECC algorithms on a v2 device (no ECC queue type there): RSA only.
            .add("hisi_hpre-3", "hisi_qm_v2", 1, &HPRE_V3_ALGS)
            // ECC without RSA: ECC only.
            .add("hisi_hpre-4", "hisi_qm_v3", 1, &HPRE_V3_ALGS[2..])
            // An unknown api.
            .add("hisi_hpre-5", "acme_v9", 1, &HPRE_V3_ALGS)
            .add("hisi_hpre-6", "hisi_qm_v3", 1, &HPRE_V3_ALGS);
        std::fs::write(f.sysfs.root().join("hisi_hpre-6/isolate"), "1\n").unwrap();
        let [z, s, rsa, ecc] = f.pick_all(None).unwrap();
        assert!(z.is_empty() && s.is_empty());
        assert_eq!(rsa, ["hisi_hpre-2", "hisi_hpre-3"]);
        assert_eq!(ecc, ["hisi_hpre-4"]);
        // Named, the same devices are errors that say why.
        let (m, kind) = no_device(f.pick_all(Some(&["hisi_hpre-0"])));
        assert!(m.contains("hisi_hpre-0") && m.contains("SVA"), "{m}");
        assert_eq!(kind, DeviceErrorKind::Unsupported);
        let (m, kind) = no_device(f.pick_all(Some(&["hisi_hpre-1"])));
        assert!(m.contains("hisi_hpre-1") && m.contains("rsa, dh"), "{m}");
        assert_eq!(kind, DeviceErrorKind::Unsupported);
        let (m, kind) = no_device(f.pick_all(Some(&["hisi_hpre-6"])));
        assert!(m.contains("hisi_hpre-6") && m.contains("isolated"), "{m}");
        assert_eq!(kind, DeviceErrorKind::Isolated);
        assert_eq!(
            f.pick_all(Some(&["hisi_hpre-4", "hisi_hpre-2"])).unwrap(),
            [
                vec![],
                vec![],
                vec!["hisi_hpre-2".to_string()],
                vec!["hisi_hpre-4".to_string()]
            ]
        );
    }

    #[test]
    fn the_filter_picks_hpre_devices_for_the_pkey_pools() {
        let f = FakeSysfs::typical();
        f.add("hisi_hpre-1", "hisi_qm_v3", 1, &HPRE_V3_ALGS);
        let only = |names: &[&str]| f.pick_all(Some(names)).unwrap();
        assert_eq!(
            only(&["hisi_hpre-1"]),
            [
                vec![],
                vec![],
                vec!["hisi_hpre-1".to_string()],
                vec!["hisi_hpre-1".to_string()]
            ]
        );
        let [z, s, rsa, ecc] = only(&["hisi_zip-0", "hisi_sec2-0", "hisi_hpre-0"]);
        assert_eq!(
            (z, s),
            (
                vec!["hisi_zip-0".to_string()],
                vec!["hisi_sec2-0".to_string()]
            )
        );
        assert_eq!((rsa, ecc), (vec!["hisi_hpre-0".to_string()], vec![]));
        // A missing HPRE device is named with the devices found.
        let m = no_device_message(f.pick_all(Some(&["hisi_hpre-9"])));
        assert!(
            m.contains("hisi_hpre-9") && m.contains("hisi_hpre-0, hisi_hpre-1"),
            "{m}"
        );
    }

    #[test]
    fn hardware_refuses_pkey_jobs_without_an_hpre_device() {
        // No HPRE device at all: the typed "no device" error, as for ZIP and SEC, naming the driver.
        for class in [Class::Hpre, Class::HpreEcc] {
            let (m, kind) = no_device::<()>(Err(hardware_refusal(class, false)));
            assert!(
                m.contains("hisi_hpre") && m.contains("Backend::Hardware"),
                "{m}"
            );
            assert!(
                m.contains(if class == Class::Hpre { "RSA" } else { "ECC" }),
                "{m}"
            );
            assert_eq!(kind, DeviceErrorKind::Missing);
        }
        // HPRE devices of QM v2 only: ECC is a capability they lack, as a SEC mode v2 lacks.
        match hardware_refusal(Class::HpreEcc, true) {
            Error::Unsupported(m) => assert!(m.contains("QM v3") && m.contains("x448"), "{m}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn hpre_queue_types_follow_uadk_and_the_kernel() {
        // UADK drv/hisi_hpre.c hpre_init, kernel hpre.h: RSA/DH queue type 0, ECC type 1.
        assert_eq!(Class::Hpre.qc_type(), 0);
        assert_eq!(Class::HpreEcc.qc_type(), 1);
        // What the ECC pool asks of a device is what the kernel lists on v3 (and the SQE codec knows).
        let v3 = uacce_sys::qm::hpre::algorithms(QmVersion::V3);
        assert!(HPRE_ECC_ALGORITHMS.iter().all(|a| v3.contains(a)));
        assert!(uacce_sys::qm::hpre::algorithms(QmVersion::V2).contains(&"rsa"));
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
        let d = hw_devices(&none, Some(&[])).unwrap();
        assert!(d.zip.is_empty() && d.sec.is_empty() && d.hpre.is_empty() && d.hpre_ecc.is_empty());
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
        f.add("hisi_trng-0", "hisi_qm_v2", 1, &["trng"]);
        let (m, kind) = no_device(f.pick(Some(&["hisi_zip-0", "hisi_trng-0"])));
        assert!(m.contains("hisi_trng-0") && m.contains("trng"), "{m}");
        assert!(
            m.contains("gzip") && m.contains("aead") && m.contains("rsa"),
            "{m}"
        );
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
