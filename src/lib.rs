#![doc = include_str!("../README.md")]

/// The in-process emulated device.
pub use uacce_emu as emu;
/// The uapi mirror, sysfs discovery, queue lifecycle and QM ring protocol.
pub use uacce_sys as sys;
