//! Where queues come from: hardware uacce devices found in sysfs ([`hw`]), the in-process emulated devices
//! ([`emu`], with the `emu` feature), and the CPU backend's bounded blocking pool ([`cpu`]).

use std::os::fd::{BorrowedFd, OwnedFd};
use std::sync::Arc;
use std::time::Duration;

use uacce_sys::sysfs;

use crate::config::{Backend, Config};
use crate::error::{DeviceErrorKind, Error, Result};
use crate::lane::{Class, Lane};
use crate::notify::{Notifier, NotifyMode};

mod cpu;
pub(crate) mod crypto;
#[cfg(feature = "emu")]
mod emu;
mod hw;

pub(crate) use cpu::CpuPool;
#[cfg(feature = "emu")]
pub use emu::EmuOptions;
pub(crate) use hw::hardware_refusal;

/// A device that queues are opened on.
#[derive(Clone)]
pub(crate) enum Source {
    /// An emulated device.
    #[cfg(feature = "emu")]
    Emu(uacce_emu::EmuDevice),
    /// A uacce device.
    Hw(sysfs::Device),
}

impl Source {
    /// Queues this device can still hand out (`available_instances`; 0 from sysfs means "unknown").
    pub(crate) fn available(&self) -> Option<usize> {
        match self {
            #[cfg(feature = "emu")]
            Source::Emu(d) => Some(usize::from(d.available_instances())),
            Source::Hw(d) => (d.available_instances > 0).then_some(d.available_instances as usize),
        }
    }

    /// The device's name (`hisi_zip-0`, `emu_sec-1`, …).
    pub(crate) fn name(&self) -> String {
        match self {
            #[cfg(feature = "emu")]
            Source::Emu(d) => d.config().name.clone(),
            Source::Hw(d) => d.name.clone(),
        }
    }

    /// Open and start a queue for `class` jobs and attach it to the completion strategy.
    pub(crate) fn open_lane(&self, class: Class, env: &LaneEnv<'_>) -> Result<Arc<Lane>> {
        let lane = match self {
            #[cfg(feature = "emu")]
            Source::Emu(dev) => emu::open_lane(dev, class, env)?,
            Source::Hw(dev) => hw::open_lane(dev, class, env)?,
        };
        env.notifier.attach(lane.clone())?;
        Ok(lane)
    }
}

/// What opening a lane needs from the accelerator.
pub(crate) struct LaneEnv<'a> {
    /// The completion strategy.
    pub mode: NotifyMode,
    /// Per-job timeout.
    pub job_timeout: Option<Duration>,
    /// The running strategy the lane joins.
    pub notifier: &'a Notifier,
}

/// The devices a backend found, per kind of job.
#[derive(Default)]
pub(crate) struct Discovered {
    /// ZIP devices (compression and decompression queues are opened on each).
    pub zip: Vec<Source>,
    /// SEC devices.
    pub sec: Vec<Source>,
    /// Null-job devices (emulator only).
    pub null: Vec<Source>,
    /// HPRE devices for RSA/DH queues (type 0): emulated, or `hisi_hpre` devices listing `rsa` (QM v2 and newer).
    pub hpre: Vec<Source>,
    /// HPRE devices for ECC queues (type 1): those of QM v3 and newer (real ones must list every ECC algorithm
    /// the jobs send).
    pub hpre_ecc: Vec<Source>,
    /// What serves the jobs, in words.
    pub description: String,
    /// The emulated devices, for tests and benchmarks.
    #[cfg(feature = "emu")]
    pub emu_devices: Vec<uacce_emu::EmuDevice>,
}

/// The devices `config`'s backend serves jobs on.
pub(crate) fn discover(config: &Config) -> Result<Discovered> {
    match config.backend {
        Backend::Cpu => Ok(Discovered {
            description: "the CPU backend".into(),
            ..Discovered::default()
        }),
        #[cfg(feature = "emu")]
        Backend::Emulated => Ok(emu::discover(&config.emu)),
        #[cfg(not(feature = "emu"))]
        Backend::Emulated => Err(Error::Unsupported(
            "the emulated backend needs uacce-async's `emu` feature",
        )),
        Backend::Auto | Backend::Hardware => hw::discover(config),
    }
}

/// An owned duplicate of a queue's fd (for the lane's wait fd).
fn dup(fd: BorrowedFd<'_>) -> Result<OwnedFd> {
    fd.try_clone_to_owned()
        .map_err(|e| Error::setup_from("dup of a queue fd", DeviceErrorKind::Other, e))
}
