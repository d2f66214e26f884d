//! What the report measures: jobs, service models, runners, depths, and the command line.

use super::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Job {
    Null,
    Gzip4k,
    Gzip64k,
    Gcm4k,
    Sha4k,
}

impl Job {
    pub(crate) const ALL: [Job; 5] = [Job::Null, Job::Gzip4k, Job::Gzip64k, Job::Gcm4k, Job::Sha4k];
    pub(crate) fn name(self) -> &'static str {
        match self {
            Job::Null => "null",
            Job::Gzip4k => "gzip-4k",
            Job::Gzip64k => "gzip-64k",
            Job::Gcm4k => "aes256gcm-4k",
            Job::Sha4k => "sha256-4k",
        }
    }
    pub(crate) fn bytes(self) -> usize {
        match self {
            Job::Null => 0,
            Job::Gzip64k => 64 << 10,
            _ => 4 << 10,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Service {
    None,
    Fixed10us,
    Bw2GBs,
    /// Not emulated: baselines on the CPU, or real hardware.
    NotApplicable,
}

impl Service {
    pub(crate) const EMULATED: [Service; 3] = [Service::None, Service::Fixed10us, Service::Bw2GBs];
    pub(crate) fn name(self) -> &'static str {
        match self {
            Service::None => "none",
            Service::Fixed10us => "fixed-10us",
            Service::Bw2GBs => "bw-2GB/s",
            Service::NotApplicable => "-",
        }
    }
    pub(crate) fn model(self) -> ServiceModel {
        match self {
            Service::Fixed10us => ServiceModel::Fixed(Duration::from_micros(10)),
            Service::Bw2GBs => ServiceModel::Bandwidth {
                bytes_per_sec: 2_000_000_000,
                base: Duration::ZERO,
            },
            _ => ServiceModel::Immediate,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Runner {
    Mode(NotifyMode),
    /// `uacce-async` on its CPU backend (`--backend cpu`).
    CpuBackend,
    Inline,
    SpawnBlocking,
    Uadk,
}

impl Runner {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Runner::Mode(m) => m.name(),
            Runner::CpuBackend => "cpu-backend",
            Runner::Inline => "inline",
            Runner::SpawnBlocking => "spawn-blocking",
            Runner::Uadk => "uadk-poll-thread",
        }
    }
}

pub(crate) const DEPTHS: [usize; 4] = [1, 4, 16, 64];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BackendArg {
    Emu,
    Hw,
    Cpu,
}

pub(crate) struct Args {
    pub(crate) quick: bool,
    pub(crate) json: Option<String>,
    pub(crate) plot: Option<String>,
    pub(crate) backend: BackendArg,
    /// `--device`: only these uacce devices (hw).
    pub(crate) device: Option<Vec<String>>,
    pub(crate) secs: f64,
    pub(crate) workers: usize,
    pub(crate) modes: Option<Vec<String>>,
    pub(crate) jobs: Option<Vec<String>>,
    pub(crate) depths: Option<Vec<usize>>,
    pub(crate) services: Option<Vec<String>>,
    pub(crate) no_floors: bool,
    /// `--no-mixed`: skip the mixed-workload cell; `--mixed-only`: run only it.
    pub(crate) mixed: bool,
    pub(crate) mixed_only: bool,
    /// `--no-pkey`: skip the public-key cells; `--pkey-only`: run only them; `--pkey-ops rsa,ecdh`: which.
    pub(crate) pkey: bool,
    pub(crate) pkey_only: bool,
    pub(crate) pkey_ops: Vec<crate::pkey::PkeyOp>,
    /// `--rsa-fault-check device|cpu`: the device path's RSA fault check (default the library's, `device`).
    pub(crate) rsa_fault_check: uacce_async::RsaFaultCheck,
    /// `--route-min family=bytes[,…]`: thresholds of the routed strategy instead of the library's defaults.
    pub(crate) route_min: Vec<(uacce_async::Family, usize)>,
}

pub(crate) const USAGE: &str = "usage: polling-vs-interrupt [--quick] [--json FILE] [--plot FILE.svg] [--backend emu|hw|cpu] \
[--device NAME[,NAME]] [--secs S] [--workers N] [--modes a,b] [--jobs a,b] [--depths 1,16] [--services a,b] [--no-floors] [--no-mixed | --mixed-only] [--no-pkey | --pkey-only] [--pkey-ops rsa,ecdh] [--rsa-fault-check device|cpu] [--route-min aead=BYTES,compress=BYTES]";

pub(crate) fn parse_args() -> Result<Args, BoxError> {
    let mut a = Args {
        quick: false,
        json: None,
        plot: None,
        backend: BackendArg::Emu,
        device: None,
        secs: 0.0,
        workers: 1,
        modes: None,
        jobs: None,
        depths: None,
        services: None,
        no_floors: false,
        mixed: true,
        mixed_only: false,
        pkey: true,
        pkey_only: false,
        pkey_ops: crate::pkey::PkeyOp::ALL.to_vec(),
        rsa_fault_check: uacce_async::RsaFaultCheck::default(),
        route_min: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    let list = |s: String| {
        s.split(',')
            .map(|x| x.trim().to_string())
            .collect::<Vec<_>>()
    };
    while let Some(arg) = it.next() {
        let mut val = || {
            it.next()
                .ok_or_else(|| format!("{arg} needs a value\n{USAGE}"))
        };
        match arg.as_str() {
            "--quick" => a.quick = true,
            "--no-floors" => a.no_floors = true,
            "--no-mixed" => a.mixed = false,
            "--mixed-only" => a.mixed_only = true,
            "--no-pkey" => a.pkey = false,
            "--pkey-only" => a.pkey_only = true,
            "--pkey-ops" => {
                a.pkey_ops = list(val()?)
                    .iter()
                    .map(|o| match o.as_str() {
                        "rsa" => Ok(crate::pkey::PkeyOp::RsaSign),
                        "ecdh" => Ok(crate::pkey::PkeyOp::EcdhP256),
                        _ => Err(format!("--pkey-ops: `{o}` is not rsa or ecdh")),
                    })
                    .collect::<Result<_, _>>()?;
            }
            "--rsa-fault-check" => {
                a.rsa_fault_check = match val()?.as_str() {
                    "device" => uacce_async::RsaFaultCheck::Device,
                    "cpu" => uacce_async::RsaFaultCheck::Cpu,
                    o => {
                        return Err(format!("--rsa-fault-check: `{o}` is not device or cpu").into());
                    }
                };
            }
            "--route-min" => {
                for kv in list(val()?) {
                    let (k, v) = kv
                        .split_once('=')
                        .ok_or_else(|| format!("--route-min wants family=bytes, not `{kv}`"))?;
                    let f = uacce_async::Family::ALL
                        .into_iter()
                        .find(|f| f.name() == k)
                        .ok_or_else(|| format!("--route-min: unknown family `{k}`"))?;
                    a.route_min.push((f, v.parse()?));
                }
            }
            "--json" => a.json = Some(val()?),
            "--plot" => a.plot = Some(val()?),
            "--device" => {
                a.device = Some(list(val()?).into_iter().filter(|d| !d.is_empty()).collect())
            }
            "--secs" => a.secs = val()?.parse()?,
            "--workers" => a.workers = val()?.parse::<usize>()?.max(1),
            "--modes" => a.modes = Some(list(val()?)),
            "--jobs" => a.jobs = Some(list(val()?)),
            "--services" => a.services = Some(list(val()?)),
            "--depths" => {
                a.depths = Some(
                    list(val()?)
                        .iter()
                        .map(|d| d.parse())
                        .collect::<Result<_, _>>()?,
                )
            }
            "--backend" => {
                a.backend = match val()?.as_str() {
                    "emu" | "emulated" => BackendArg::Emu,
                    "hw" | "hardware" => BackendArg::Hw,
                    "cpu" => BackendArg::Cpu,
                    other => return Err(format!("unknown backend `{other}`\n{USAGE}").into()),
                }
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument `{other}`\n{USAGE}").into()),
        }
    }
    if a.secs <= 0.0 {
        a.secs = if a.quick { 0.1 } else { 1.0 };
    }
    Ok(a)
}
