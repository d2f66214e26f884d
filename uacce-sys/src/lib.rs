//! `uacce-sys`: the kernel uacce uapi mirror, sysfs discovery, queue lifecycle and the HiSilicon QM ring protocol.
//!
//! Synchronous and small; `unsafe` only at the edge (ioctls, mmap, volatile ring memory).
//!
//! The device-write boundary is `unsafe` too: [`qm::DriverRing::push`], [`submit`](qm::DriverRing::submit) and
//! [`run_blocking`](qm::DriverRing::run_blocking) are `unsafe fn`. An SQE carries addresses the device reads and
//! writes (SVA) outside the Rust abstract machine, so a safe submit would let safe code free a buffer the device
//! still writes into. The caller promises that every buffer an SQE names stays valid and otherwise untouched until
//! that SQE's completion has been consumed or the queue has been stopped (see [`qm::ring`]; the model is the
//! `io-uring` crate's `SubmissionQueue::push`). [`qm::Doorbell::ring`] is `unsafe` for the same reason: an SQ
//! doorbell makes the device consume SQ slots, stale ones included.
pub mod guard;
pub mod qm;
pub mod queue;
pub mod sysfs;
pub mod uapi;
