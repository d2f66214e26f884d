//! `uacce-sys`: the kernel uacce uapi mirror, sysfs discovery, queue lifecycle and the HiSilicon QM ring protocol.
//!
//! Synchronous and small; `unsafe` only at the edge (ioctls, mmap, volatile ring memory).
pub mod qm;
pub mod queue;
pub mod sysfs;
pub mod uapi;
