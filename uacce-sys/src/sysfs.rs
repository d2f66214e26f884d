//! uacce device discovery under `/sys/class/uacce` (root and `/dev` directory injectable for tests).
//!
//! Each entry `<name>` (e.g. `hisi_zip-0`) of the class directory is one accelerator function; its character device
//! is `<dev_dir>/<name>`. See `shared/docs/hisi-qm-protocol.md` §1.1 for the attributes.
//!
//! ```no_run
//! use uacce_sys::sysfs::Sysfs;
//! let sysfs = Sysfs::new();
//! for dev in sysfs.devices_for_algorithm("zlib")? {
//!     println!("{} ({}) at {}", dev.name, dev.api, dev.node_path.display());
//! }
//! # Ok::<(), uacce_sys::sysfs::SysfsError>(())
//! ```

use std::io;
use std::path::{Path, PathBuf};

use crate::qm::QmVersion;
use crate::uapi::{SOFT_QM_API_V2, SOFT_QM_API_V3, UACCE_DEV_SVA};

/// Default uacce class directory.
pub const DEFAULT_CLASS_ROOT: &str = "/sys/class/uacce";
/// Default directory of the device nodes.
pub const DEFAULT_DEV_DIR: &str = "/dev";

/// Errors of sysfs discovery and device checks. Each message says what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum SysfsError {
    /// The uacce class directory does not exist.
    #[error(
        "no uacce class at {}: the uacce module / accelerator driver is not loaded; try `modprobe hisi_zip` \
         (or hisi_sec2; uacce_soft for the soft device)",
        root.display()
    )]
    NoClass {
        /// The class directory that was looked for.
        root: PathBuf,
    },
    /// No device of that name under the class directory.
    #[error("no uacce device {name:?} under {}; list the directory to see the available devices", root.display())]
    NoSuchDevice {
        /// The requested device name.
        name: String,
        /// The class directory.
        root: PathBuf,
    },
    /// A required attribute file is absent.
    #[error("{} is missing: not a uacce device directory, or an unsupported kernel", path.display())]
    MissingAttribute {
        /// The attribute file.
        path: PathBuf,
    },
    /// An attribute file has content that cannot be parsed.
    #[error("{} is malformed: expected {expected}, found {content:?}", path.display())]
    Malformed {
        /// The attribute file.
        path: PathBuf,
        /// What the file contained (trimmed).
        content: String,
        /// What was expected there.
        expected: &'static str,
    },
    /// The device node is not readable and writable by this process.
    #[error(
        "permission denied on {}: run as root, or add a udev rule such as \
         `SUBSYSTEM==\"uacce\", GROUP=\"accel\", MODE=\"0660\"` and join that group",
        path.display()
    )]
    PermissionDenied {
        /// The device node.
        path: PathBuf,
    },
    /// The device node does not exist although the sysfs entry does.
    #[error(
        "device node {} does not exist: devtmpfs/udev did not create it, or the device was just removed",
        path.display()
    )]
    NodeMissing {
        /// The device node.
        path: PathBuf,
    },
    /// The kernel isolated the device after hardware errors.
    #[error(
        "device {name} is isolated by the kernel after repeated hardware errors: use another device, or reset it \
         (e.g. remove and rescan the PCI function) after checking `isolate_strategy` and the kernel log"
    )]
    Isolated {
        /// The device name.
        name: String,
    },
    /// Another I/O error while reading sysfs.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
}

/// Maps an API string to the QM generation: `hisi_qm_v1` → V1, `hisi_qm_v2` and `soft_qm_v2` → V2, `hisi_qm_vN`
/// with N ≥ 3 and `soft_qm_v3` (the kernel soft HPRE device) → V3. A non-mainline suffix starting with `_` after the number (e.g. `hisi_qm_v2_noiommu`) is allowed,
/// as UADK parses only the number. Anything else is unsupported (`None`).
pub fn qm_version_from_api(api: &str) -> Option<QmVersion> {
    if api == SOFT_QM_API_V2 {
        return Some(QmVersion::V2);
    }
    if api == SOFT_QM_API_V3 {
        return Some(QmVersion::V3);
    }
    let rest = api.strip_prefix("hisi_qm_v")?;
    let digits_end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    let (digits, suffix) = rest.split_at(digits_end);
    if !(suffix.is_empty() || suffix.starts_with('_')) {
        return None;
    }
    match digits.parse::<u32>().ok()? {
        1 => Some(QmVersion::V1),
        2 => Some(QmVersion::V2),
        n if n >= 3 => Some(QmVersion::V3),
        _ => None,
    }
}

/// Splits `hisi_zip-3` into (`hisi_zip`, `Some(3)`); a name without a numeric `-N` suffix is returned whole.
pub fn split_device_name(name: &str) -> (&str, Option<u32>) {
    if let Some((driver, n)) = name.rsplit_once('-')
        && !driver.is_empty()
        && !n.is_empty()
        && n.bytes().all(|b| b.is_ascii_digit())
        && let Ok(n) = n.parse()
    {
        return (driver, Some(n));
    }
    (name, None)
}

/// One uacce device as described by sysfs.
///
/// Fields are public so that tests and emulators can build a `Device` by hand (see [`Device::manual`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    /// Device name, e.g. `hisi_zip-0` (the class entry name).
    pub name: String,
    /// Driver name: the name with its `-N` suffix stripped, e.g. `hisi_zip`.
    pub driver: String,
    /// The sysfs directory of the device.
    pub sysfs_path: PathBuf,
    /// The character device node, `<dev_dir>/<name>`.
    pub node_path: PathBuf,
    /// `api`, trimmed, e.g. `hisi_qm_v2`.
    pub api: String,
    /// `flags` (bit 0 = [`UACCE_DEV_SVA`]).
    pub flags: u32,
    /// `available_instances`: free queues. The kernel prints a negative errno (e.g. -ENODEV) when the driver cannot
    /// tell; that is reported here as 0 ("none known to be free"), so treat 0 as "try and see" rather than "full".
    pub available_instances: u32,
    /// `algorithms`, one per line, trimmed, empty lines dropped.
    pub algorithms: Vec<String>,
    /// `region_mmio_size` in bytes (0 if the file is absent).
    pub region_mmio_size: u64,
    /// `region_dus_size` in bytes (0 if the file is absent).
    pub region_dus_size: u64,
    /// `isolate` (newer kernels): `Some(true)` if the kernel isolated the device; `None` if the file is absent.
    pub isolate: Option<bool>,
    /// `isolate_strategy` (newer kernels): the error threshold; `None` if the file is absent.
    pub isolate_strategy: Option<u32>,
    /// `device/numa_node`; `None` if absent or negative (-1 = no NUMA affinity; UADK treats it as node 0).
    pub numa_node: Option<u32>,
}

impl Device {
    /// A device described by hand (tests, emulators): the given name, node path and api; `flags` 0, no algorithms,
    /// all sizes 0 and no optional attributes. Adjust the public fields as needed.
    pub fn manual(name: &str, node_path: impl Into<PathBuf>, api: &str) -> Self {
        Device {
            name: name.to_owned(),
            driver: split_device_name(name).0.to_owned(),
            sysfs_path: PathBuf::new(),
            node_path: node_path.into(),
            api: api.to_owned(),
            flags: 0,
            available_instances: 0,
            algorithms: Vec::new(),
            region_mmio_size: 0,
            region_dus_size: 0,
            isolate: None,
            isolate_strategy: None,
            numa_node: None,
        }
    }

    /// The instance number: the `N` of a `<driver>-N` name.
    pub fn instance(&self) -> Option<u32> {
        split_device_name(&self.name).1
    }

    /// The QM generation derived from `api` (see [`qm_version_from_api`]); `None` = unsupported api.
    pub fn qm_version(&self) -> Option<QmVersion> {
        qm_version_from_api(&self.api)
    }

    /// True for the project's kernel soft devices (api `soft_qm_v2`; `soft_qm_v3` for the HPRE device): doorbell
    /// through the register page and kick eventfd or by ioctl, no SVA flag needed.
    pub fn is_soft(&self) -> bool {
        self.api == SOFT_QM_API_V2 || self.api == SOFT_QM_API_V3
    }

    /// True for a HiSilicon QM device (api `hisi_qm_v*` with a known version).
    pub fn is_hisi_qm(&self) -> bool {
        !self.is_soft() && self.qm_version().is_some()
    }

    /// True for api `hisi_qm_v1` (v1 doorbell format at MMIO 0x340).
    pub fn is_qm_v1(&self) -> bool {
        self.qm_version() == Some(QmVersion::V1)
    }

    /// True if `flags` has [`UACCE_DEV_SVA`].
    pub fn is_sva(&self) -> bool {
        self.flags & UACCE_DEV_SVA != 0
    }

    /// True if the kernel isolated the device (`isolate` reads 1).
    pub fn is_isolated(&self) -> bool {
        self.isolate == Some(true)
    }

    /// True if `algorithm` is one whole line of `algorithms`.
    pub fn supports(&self, algorithm: &str) -> bool {
        self.algorithms.iter().any(|a| a == algorithm)
    }

    /// Checks that the device can be opened by this process: not isolated, node present, readable and writable.
    pub fn check_access(&self) -> Result<(), SysfsError> {
        use nix::errno::Errno;
        use nix::unistd::{AccessFlags, access};
        if self.is_isolated() {
            return Err(SysfsError::Isolated {
                name: self.name.clone(),
            });
        }
        match access(&self.node_path, AccessFlags::R_OK | AccessFlags::W_OK) {
            Ok(()) => Ok(()),
            Err(Errno::ENOENT) => Err(SysfsError::NodeMissing {
                path: self.node_path.clone(),
            }),
            Err(Errno::EACCES | Errno::EPERM | Errno::EROFS) => Err(SysfsError::PermissionDenied {
                path: self.node_path.clone(),
            }),
            Err(e) => Err(SysfsError::Io {
                path: self.node_path.clone(),
                source: e.into(),
            }),
        }
    }
}

/// Keeps devices that list `algorithm` and are not isolated, in their original order.
pub fn filter_by_algorithm<'a>(
    devices: impl IntoIterator<Item = &'a Device>,
    algorithm: &'a str,
) -> impl Iterator<Item = &'a Device> {
    devices
        .into_iter()
        .filter(move |d| d.supports(algorithm) && !d.is_isolated())
}

/// A uacce class directory plus the directory of the device nodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sysfs {
    root: PathBuf,
    dev_dir: PathBuf,
}

impl Default for Sysfs {
    fn default() -> Self {
        Self::new()
    }
}

impl Sysfs {
    /// The system's `/sys/class/uacce` and `/dev`.
    pub fn new() -> Self {
        Self::with_root(DEFAULT_CLASS_ROOT, DEFAULT_DEV_DIR)
    }

    /// A class directory `root` (e.g. a fake tree in a temp dir) whose device nodes are in `dev_dir`.
    pub fn with_root(root: impl Into<PathBuf>, dev_dir: impl Into<PathBuf>) -> Self {
        Sysfs {
            root: root.into(),
            dev_dir: dev_dir.into(),
        }
    }

    /// The class directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The directory of the device nodes.
    pub fn dev_dir(&self) -> &Path {
        &self.dev_dir
    }

    /// Names of the class entries, sorted by driver then instance number (`hisi_zip-2` before `hisi_zip-10`).
    pub fn device_names(&self) -> Result<Vec<String>, SysfsError> {
        let entries = match std::fs::read_dir(&self.root) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(SysfsError::NoClass {
                    root: self.root.clone(),
                });
            }
            Err(e) => {
                return Err(SysfsError::Io {
                    path: self.root.clone(),
                    source: e,
                });
            }
        };
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| SysfsError::Io {
                path: self.root.clone(),
                source: e,
            })?;
            if let Some(name) = entry.file_name().to_str() {
                names.push(name.to_owned());
            }
        }
        names.sort_by(|a, b| {
            let (da, na) = split_device_name(a);
            let (db, nb) = split_device_name(b);
            (da, na, a.as_str()).cmp(&(db, nb, b.as_str()))
        });
        Ok(names)
    }

    /// Every class entry, each parsed or with the error that prevented it; `Err` only if the class directory itself
    /// cannot be read.
    pub fn scan(&self) -> Result<Vec<Result<Device, SysfsError>>, SysfsError> {
        Ok(self
            .device_names()?
            .iter()
            .map(|n| self.device(n))
            .collect())
    }

    /// Every device; fails on the first malformed entry (use [`Sysfs::scan`] to get the others anyway).
    pub fn devices(&self) -> Result<Vec<Device>, SysfsError> {
        self.scan()?.into_iter().collect()
    }

    /// Devices that list `algorithm` and are not isolated, sorted by name. Malformed entries are skipped (they
    /// cannot be used anyway; [`Sysfs::scan`] reports them).
    pub fn devices_for_algorithm(&self, algorithm: &str) -> Result<Vec<Device>, SysfsError> {
        let ok: Vec<Device> = self.scan()?.into_iter().filter_map(Result::ok).collect();
        Ok(filter_by_algorithm(&ok, algorithm).cloned().collect())
    }

    /// Parses the device `name` (e.g. `hisi_zip-0`).
    pub fn device(&self, name: &str) -> Result<Device, SysfsError> {
        let dir = self.root.join(name);
        if !dir.is_dir() {
            if !self.root.is_dir() {
                return Err(SysfsError::NoClass {
                    root: self.root.clone(),
                });
            }
            return Err(SysfsError::NoSuchDevice {
                name: name.to_owned(),
                root: self.root.clone(),
            });
        }
        let required = |attr: &str| -> Result<(PathBuf, String), SysfsError> {
            let path = dir.join(attr);
            match read_attr(&path)? {
                Some(s) => Ok((path, s)),
                None => Err(SysfsError::MissingAttribute { path }),
            }
        };
        let optional = |attr: &str| -> Result<Option<(PathBuf, String)>, SysfsError> {
            let path = dir.join(attr);
            Ok(read_attr(&path)?.map(|s| (path, s)))
        };

        let (api_path, api) = required("api")?;
        let api = api.trim().to_owned();
        if api.is_empty() {
            return Err(malformed(api_path, &api, "an api name such as hisi_qm_v2"));
        }
        let (p, s) = required("flags")?;
        let flags = parse_u32(&s).ok_or_else(|| malformed(p, &s, "a decimal or 0x-hex u32"))?;
        let (p, s) = required("available_instances")?;
        let available = s
            .trim()
            .parse::<i64>()
            .map_err(|_| malformed(p.clone(), &s, "an integer"))?;
        let available_instances =
            u32::try_from(available.max(0)).map_err(|_| malformed(p, &s, "a u32"))?;
        let (_, s) = required("algorithms")?;
        let algorithms = s
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect::<Vec<_>>();
        let region_mmio_size = parse_size(optional("region_mmio_size")?)?;
        let region_dus_size = parse_size(optional("region_dus_size")?)?;
        let isolate = match optional("isolate")? {
            None => None,
            Some((p, s)) => match s.trim() {
                "0" => Some(false),
                "1" => Some(true),
                _ => return Err(malformed(p, &s, "0 or 1")),
            },
        };
        let isolate_strategy = match optional("isolate_strategy")? {
            None => None,
            Some((p, s)) => Some(parse_u32(&s).ok_or_else(|| malformed(p, &s, "a u32"))?),
        };
        let numa_node = match optional("device/numa_node")? {
            None => None,
            Some((p, s)) => {
                let n = s
                    .trim()
                    .parse::<i64>()
                    .map_err(|_| malformed(p.clone(), &s, "an integer (-1 = none)"))?;
                if n < 0 {
                    None
                } else {
                    Some(u32::try_from(n).map_err(|_| malformed(p, &s, "a u32 node"))?)
                }
            }
        };

        Ok(Device {
            name: name.to_owned(),
            driver: split_device_name(name).0.to_owned(),
            sysfs_path: dir,
            node_path: self.dev_dir.join(name),
            api,
            flags,
            available_instances,
            algorithms,
            region_mmio_size,
            region_dus_size,
            isolate,
            isolate_strategy,
            numa_node,
        })
    }
}

fn malformed(path: PathBuf, content: &str, expected: &'static str) -> SysfsError {
    SysfsError::Malformed {
        path,
        content: content.trim().to_owned(),
        expected,
    }
}

/// Reads an attribute file; `Ok(None)` if it does not exist.
fn read_attr(path: &Path) -> Result<Option<String>, SysfsError> {
    match std::fs::read(path) {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(s) => Ok(Some(s)),
            Err(e) => Err(malformed(
                path.to_owned(),
                &String::from_utf8_lossy(e.as_bytes()),
                "UTF-8 text",
            )),
        },
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(SysfsError::Io {
            path: path.to_owned(),
            source: e,
        }),
    }
}

/// Parses a decimal or `0x`-hex u32 (surrounding whitespace ignored).
fn parse_u32(s: &str) -> Option<u32> {
    let s = s.trim();
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u32::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    }
}

fn parse_size(attr: Option<(PathBuf, String)>) -> Result<u64, SysfsError> {
    match attr {
        None => Ok(0),
        Some((p, s)) => s
            .trim()
            .parse::<u64>()
            .map_err(|_| malformed(p, &s, "a size in bytes")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert_eq!(qm_version_from_api("hisi_qm_v1"), Some(QmVersion::V1));
        assert_eq!(qm_version_from_api("hisi_qm_v2"), Some(QmVersion::V2));
        assert_eq!(qm_version_from_api("soft_qm_v2"), Some(QmVersion::V2));
        assert_eq!(qm_version_from_api("hisi_qm_v3"), Some(QmVersion::V3));
        assert_eq!(qm_version_from_api("hisi_qm_v5"), Some(QmVersion::V3));
        assert_eq!(
            qm_version_from_api("hisi_qm_v2_noiommu"),
            Some(QmVersion::V2)
        );
        assert_eq!(qm_version_from_api("hisi_qm_v"), None);
        assert_eq!(qm_version_from_api("hisi_qm_v0"), None);
        assert_eq!(qm_version_from_api("hisi_qm_v2x"), None);
        assert_eq!(qm_version_from_api("soft_qm_v3"), Some(QmVersion::V3));
        assert_eq!(qm_version_from_api("soft_qm_v4"), None);
        assert_eq!(qm_version_from_api("foo"), None);
    }

    #[test]
    fn names() {
        assert_eq!(split_device_name("hisi_zip-0"), ("hisi_zip", Some(0)));
        assert_eq!(split_device_name("hisi_sec2-12"), ("hisi_sec2", Some(12)));
        assert_eq!(split_device_name("weird"), ("weird", None));
        assert_eq!(split_device_name("a-b"), ("a-b", None));
        assert_eq!(split_device_name("-3"), ("-3", None));
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_u32("1\n"), Some(1));
        assert_eq!(parse_u32("0x10"), Some(16));
        assert_eq!(parse_u32("abc"), None);
        assert_eq!(parse_u32("-1"), None);
    }
}
