#![doc = include_str!("../README.md")]

/// Awaitable jobs on tokio (`uacce-async`): [`aio::Accel`] and its completion strategies.
pub use uacce_async as aio;

/// The in-process emulated device.
pub use uacce_emu as emu;
/// The uapi mirror, sysfs discovery, queue lifecycle and QM ring protocol.
pub use uacce_sys as sys;
