//! Helpers shared by the async tests.
#![allow(dead_code)]

pub mod ecc;
pub mod trace;

use std::time::Duration;

use uacce_async::{Accel, Backend, EmuDevice, EmuOptions, NotifyMode, Routing, ServiceModel};

/// Scale for job counts: `UACCE_TEST_SCALE=0.01` under valgrind.
pub fn scaled(n: usize) -> usize {
    let s: f64 = std::env::var("UACCE_TEST_SCALE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1.0);
    ((n as f64 * s) as usize).max(1)
}

/// An emulated accelerator that sends every job to the device and fails a job the device fails (no routing to the
/// CPU by size, no backup): the tests of the device path use it.
pub async fn emu(mode: NotifyMode, emu: EmuOptions, job_timeout: Option<Duration>) -> Accel {
    Accel::builder()
        .backend(Backend::Emulated)
        .mode(mode)
        .emu(emu)
        .job_timeout(job_timeout)
        .routing(Routing::device_only().cpu_backup(false))
        .build()
        .await
        .expect("emulated accelerator")
}

pub async fn emu_default(mode: NotifyMode) -> Accel {
    emu(mode, EmuOptions::default(), Some(Duration::from_secs(10))).await
}

pub async fn cpu() -> Accel {
    Accel::builder()
        .backend(Backend::Cpu)
        .build()
        .await
        .expect("cpu accelerator")
}

pub fn service(us: u64) -> EmuOptions {
    EmuOptions::default().service(ServiceModel::Fixed(Duration::from_micros(us)))
}

/// The deterministic generator for test data (`text`, `bytes`, `below`).
#[allow(unused_imports)] // not every test file draws data
pub use uacce_testkit::Rng;

/// The emulated null device of `accel` (the one that completes jobs without work).
pub fn null_device(accel: &Accel) -> &EmuDevice {
    accel
        .emulated_devices()
        .iter()
        .find(|d| d.config().kind == uacce_emu::DeviceKind::Null)
        .expect("null device")
}

/// CPU time (user + system) of this process's threads whose name starts with `prefix`, from /proc/self/task.
pub fn threads_cpu(prefix: &str) -> Duration {
    let tick = 100.0; // USER_HZ on Linux
    let mut total = 0.0;
    if let Ok(dir) = std::fs::read_dir("/proc/self/task") {
        for t in dir.flatten() {
            let comm = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
            if !comm.trim_end().starts_with(prefix) {
                continue;
            }
            let stat = std::fs::read_to_string(t.path().join("stat")).unwrap_or_default();
            // Fields after the ")" that closes the command name: state is field 3; utime 14, stime 15.
            if let Some(rest) = stat.rsplit_once(')').map(|x| x.1) {
                let f: Vec<&str> = rest.split_whitespace().collect();
                if f.len() > 13 {
                    let ut: f64 = f[11].parse().unwrap_or(0.0);
                    let st: f64 = f[12].parse().unwrap_or(0.0);
                    total += (ut + st) / tick;
                }
            }
        }
    }
    Duration::from_secs_f64(total)
}

/// Run `cmd` with `data` on its stdin and return its stdout; a program that cannot start or fails fails the test
/// (the tools the tests use are installed on the project's machines).
pub fn pipe_through(cmd: &mut std::process::Command, data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{cmd:?} could not start: {e}"));
    let mut stdin = child.stdin.take().unwrap();
    let input = data.to_vec();
    // Written from another thread: a full stdout pipe must not block the write.
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// The emulated device at QM v2 and at v3 (eventfd, 20 s job timeout) and the CPU backend, each with its name: the
/// backends whose results the algorithm tests compare.
pub async fn emu_v2_v3_and_cpu() -> Vec<(String, Accel)> {
    let mut v = Vec::new();
    for ver in [uacce_sys::qm::QmVersion::V2, uacce_sys::qm::QmVersion::V3] {
        let opts = EmuOptions::default().version(ver);
        let a = emu(NotifyMode::Eventfd, opts, Some(Duration::from_secs(20))).await;
        v.push((format!("emu {ver:?}"), a));
    }
    v.push(("cpu".into(), cpu().await));
    v
}

/// Runs the `openssl` CLI (the RSA and ECC interoperability tests) and asserts it succeeded.
pub fn openssl(args: &[&str]) -> std::process::Output {
    let out = std::process::Command::new("openssl")
        .args(args)
        .output()
        .expect("the openssl CLI");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}
