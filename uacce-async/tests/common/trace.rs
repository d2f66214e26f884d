//! Helpers of the SQE fidelity tests (`fidelity.rs`, `fidelity_ccm_mac.rs`): an emulated accelerator with the SQE
//! trace on, and the pieces to write expected SQEs and mask what the library chooses freely.

use std::time::Duration;

use uacce_async::{Accel, EmuDevice, EmuOptions, NotifyMode};
use uacce_emu::DeviceKind;
use uacce_sys::qm::QmVersion;

/// An emulated accelerator of QM version `v` whose devices record every SQE.
pub async fn accel(v: QmVersion) -> Accel {
    let opts = EmuOptions::default().version(v);
    let a = super::emu(NotifyMode::Eventfd, opts, Some(Duration::from_secs(10))).await;
    for d in a.emulated_devices() {
        d.set_trace(true);
    }
    a
}

/// The emulated device of `kind`.
pub fn device(a: &Accel, kind: DeviceKind) -> &EmuDevice {
    a.emulated_devices()
        .iter()
        .find(|d| d.config().kind == kind)
        .unwrap()
}

pub fn put32(s: &mut [u8; 128], off: usize, v: u32) {
    s[off..off + 4].copy_from_slice(&v.to_le_bytes());
}
pub fn put16(s: &mut [u8; 128], off: usize, v: u16) {
    s[off..off + 2].copy_from_slice(&v.to_le_bytes());
}
pub fn put64(s: &mut [u8; 128], off: usize, v: u64) {
    s[off..off + 8].copy_from_slice(&v.to_le_bytes());
}

/// SEC: tag and the address slots zeroed (BD2 40..41 and 56..111; BD3 8..39, 48..55, 76..99; §7.1, §7.2).
pub fn mask_sec(v: QmVersion, s: &[u8; 128]) -> [u8; 128] {
    let mut m = *s;
    let ranges: &[(usize, usize)] = match v {
        QmVersion::V2 => &[(40, 42), (56, 112)],
        _ => &[(8, 40), (48, 56), (76, 100)],
    };
    for &(a, b) in ranges {
        m[a..b].fill(0);
    }
    m
}

/// The BD3 SVA prefetch bit (auth_mac_key bit 27) the library sets for data of at most 0x6000 bytes.
pub fn prefetch(v: QmVersion, len: usize) -> u32 {
    u32::from(v == QmVersion::V3 && len <= 0x6000) << 27
}
