//! The emulated backend: in-process devices (`uacce-emu`) that speak the QM protocol, one ZIP, one SEC and one HPRE
//! device per `EmuOptions::devices`, plus a null-job device.

use std::sync::Arc;

use uacce_emu::{DeviceKind, EmuConfig, EmuDevice, ServiceModel};
use uacce_sys::qm::QmVersion;

use super::{Discovered, LaneEnv, Source, dup};
use crate::error::{DeviceErrorKind, Error, Result};
use crate::lane::{Class, Lane, LaneSpec, Owner};

/// Options of the emulated backend.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct EmuOptions {
    /// QM generation the emulated devices speak (default V3).
    pub version: QmVersion,
    /// Ring depth (default 1024).
    pub depth: u16,
    /// Service-time model (default immediate).
    pub service: ServiceModel,
    /// Emulated ZIP, SEC and HPRE devices each (default 1).
    pub devices: usize,
    /// ZIP stream contexts each emulated ZIP device keeps at once (default 4096; see
    /// `uacce_emu::EmuConfig::max_streams`). A stream started beyond it fails with [`Error::Busy`].
    pub max_streams: usize,
}

impl Default for EmuOptions {
    fn default() -> Self {
        Self {
            version: QmVersion::V3,
            depth: 1024,
            service: ServiceModel::Immediate,
            devices: 1,
            max_streams: uacce_emu::DEFAULT_MAX_STREAMS,
        }
    }
}

impl EmuOptions {
    /// QM generation the emulated devices speak.
    #[must_use]
    pub fn version(mut self, version: QmVersion) -> Self {
        self.version = version;
        self
    }

    /// Ring depth.
    #[must_use]
    pub fn depth(mut self, depth: u16) -> Self {
        self.depth = depth;
        self
    }

    /// Service-time model.
    #[must_use]
    pub fn service(mut self, service: ServiceModel) -> Self {
        self.service = service;
        self
    }

    /// Emulated ZIP and SEC devices each.
    #[must_use]
    pub fn devices(mut self, n: usize) -> Self {
        self.devices = n;
        self
    }

    /// ZIP stream contexts each emulated ZIP device keeps at once.
    #[must_use]
    pub fn max_streams(mut self, n: usize) -> Self {
        self.max_streams = n;
        self
    }
}

/// The emulated devices `opts` asks for.
pub(super) fn discover(opts: &EmuOptions) -> Discovered {
    let mut found = Discovered::default();
    let new = |kind: DeviceKind, name: Option<String>| {
        let mut cfg = EmuConfig::new(kind)
            .version(opts.version)
            .depth(opts.depth)
            .service(opts.service)
            .max_streams(opts.max_streams);
        if let Some(name) = name {
            cfg = cfg.name(name);
        }
        EmuDevice::new(cfg)
    };
    for i in 0..opts.devices.max(1) {
        let zip = new(DeviceKind::Zip, Some(format!("emu_zip-{i}")));
        let sec = new(DeviceKind::Sec, Some(format!("emu_sec-{i}")));
        found.emu_devices.extend([zip.clone(), sec.clone()]);
        found.zip.push(Source::Emu(zip));
        found.sec.push(Source::Emu(sec));
    }
    let null = new(DeviceKind::Null, None);
    found.emu_devices.push(null.clone());
    found.null.push(Source::Emu(null));
    // After the others, so that their positions in `emulated_devices` stay as they were.
    for i in 0..opts.devices.max(1) {
        let hpre = new(DeviceKind::Hpre, Some(format!("emu_hpre-{i}")));
        found.emu_devices.push(hpre.clone());
        if opts.version >= QmVersion::V3 {
            found.hpre_ecc.push(Source::Emu(hpre.clone()));
        }
        found.hpre.push(Source::Emu(hpre));
    }
    found.description = format!(
        "the emulated devices (QM {:?}, depth {})",
        opts.version, opts.depth
    );
    found
}

/// A lane on a new queue of `dev`.
pub(super) fn open_lane(dev: &EmuDevice, class: Class, env: &LaneEnv<'_>) -> Result<Arc<Lane>> {
    let q = dev
        .open_queue(class.qc_type())
        .map_err(|e| Error::setup_from("emulated queue", DeviceErrorKind::Other, e))?;
    let ring = q
        .driver_ring()
        .map_err(|e| Error::setup_from("emulated queue ring", DeviceErrorKind::Other, e))?;
    let spec = LaneSpec {
        class,
        device: dev.config().name.clone(),
        numa_node: Some(dev.config().numa_node),
        version: q.version(),
        soft: false,
        wait_fd: dup(q.eventfd())?,
        wait_is_eventfd: true,
        // The emulator's removal is seen in its queue state on the eventfd wake-up.
        hup_fd: None,
        owner: Owner::Emu(q),
        job_timeout: env.job_timeout,
        kick: env.notifier.kick(),
    };
    Ok(Lane::new(spec, ring))
}
