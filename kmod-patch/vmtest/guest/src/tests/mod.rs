//! The guest tests, one module a topic. Devices: `soft_zip-*`, `soft_sec-*` and `soft_hpre-*` registered by
//! uacce_soft (devices=4 queues=8). `PATCHED` and `UNPATCHED` are the lists `main` runs; the names are what the harness reports.

use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use crate::queue::*;
use crate::{Test, TestResult};
use uacce_sys::qm::Sqe;
use uacce_testkit::{codec, data, req};

macro_rules! check {
    ($c:expr, $($fmt:tt)*) => {
        if !$c {
            return Err(format!($($fmt)*));
        }
    };
}

mod basics;
mod eventfd;
mod hpre;
mod kick;
mod removal;
mod sec;
mod sec_breadth;
mod teardown;
mod waits;
mod zip;

pub use removal::child_sigbus;
pub use teardown::child_flood;

// helpers more than one topic uses
use sec::dev_digest;
use waits::small_job;
use zip::{dev_compress, zip_sqe, REQ_GZIP, REQ_ZLIB};

pub const PATCHED: &[Test] = &[
    ("discovery", basics::discovery),
    ("queue_start_put", basics::queue_start_put),
    ("private_mapping_refused", basics::private_mapping_refused),
    ("kick_path_jobs", kick::kick_path_jobs),
    ("kick_registers_and_binding", kick::kick_registers_and_binding),
    ("zip_deflate", zip::zip_deflate),
    ("zip_zlib", zip::zip_zlib),
    ("zip_gzip", zip::zip_gzip),
    ("zip_errors", zip::zip_errors),
    ("sec_aes_cbc", sec::sec_aes_cbc),
    ("sec_aes_ctr_refused_on_v2", sec::sec_aes_ctr),
    ("sec_aes_xts", sec::sec_aes_xts),
    ("sec_sha256_sha512", sec::sec_sha),
    ("sec_hmac_sha256", sec::sec_hmac),
    ("sec_aes_gcm", sec::sec_gcm),
    ("sec_gcm_auth_iv_checked", sec::sec_gcm_auth_iv_checked),
    ("sec_errors", sec::sec_errors),
    ("sec_sm4_modes", sec_breadth::sec_sm4_modes),
    ("sec_hashes_one_shot", sec_breadth::sec_hashes_one_shot),
    ("sec_long_hash", sec_breadth::sec_long_hash),
    ("sec_sha512_t_unsupported", sec_breadth::sec_sha512_t_unsupported),
    ("sec_aes_ccm", sec_breadth::sec_aes_ccm),
    ("sec_aes_cmac", sec_breadth::sec_aes_cmac),
    ("ring_wrap", waits::ring_wrap),
    ("poll_wakes", waits::poll_wakes),
    ("poll_not_armed_no_wake", waits::poll_not_armed),
    ("eventfd_wakes", eventfd::eventfd_wakes),
    ("eventfd_ioctl_errors", eventfd::eventfd_errors),
    ("eventfd_unbind_rebind", eventfd::eventfd_rebind),
    ("eventfd_rebind_races_wakes", eventfd::eventfd_rebind_race),
    ("eventfd_hangup_not_signalled_by_completions", eventfd::eventfd_hangup_distinct),
    ("tokio_asyncfd_queue_fd", waits::tokio_asyncfd),
    ("tokio_asyncfd_eventfd", waits::tokio_asyncfd_eventfd),
    ("async_interrupt_mixed_64", crate::async_tests::mixed_interrupt),
    ("async_eventfd_mixed_64", crate::async_tests::mixed_eventfd),
    ("async_io_uring_mixed_64", crate::async_tests::mixed_io_uring),
    ("async_busy_poll_mixed_64", crate::async_tests::mixed_busy_poll),
    ("async_hybrid_mixed_64", crate::async_tests::mixed_hybrid),
    ("async_stream_bufread_write", crate::async_tests::stream_bufread),
    ("async_sec_breadth_interrupt", crate::async_sec::breadth_interrupt),
    ("async_sec_breadth_eventfd", crate::async_sec::breadth_eventfd),
    ("async_sec_breadth_io_uring", crate::async_sec::breadth_io_uring),
    ("async_sec_breadth_busy_poll", crate::async_sec::breadth_busy_poll),
    ("async_sec_breadth_hybrid", crate::async_sec::breadth_hybrid),
    ("async_sha512_t_falls_back", crate::async_sec::sha512_t_falls_back),
    ("async_sec_ccm_cmac_interrupt", crate::async_sec::ccm_cmac_interrupt),
    ("async_sec_ccm_cmac_eventfd", crate::async_sec::ccm_cmac_eventfd),
    ("async_sec_ccm_cmac_io_uring", crate::async_sec::ccm_cmac_io_uring),
    ("async_sec_ccm_cmac_busy_poll", crate::async_sec::ccm_cmac_busy_poll),
    ("async_sec_ccm_cmac_hybrid", crate::async_sec::ccm_cmac_hybrid),
    ("async_xcbc_falls_back", crate::async_sec::xcbc_falls_back),
    ("hpre_raw_queue", hpre::hpre_raw_queue),
    ("async_pkey_interrupt", crate::async_hpre::pkey_interrupt),
    ("async_pkey_eventfd", crate::async_hpre::pkey_eventfd),
    ("async_pkey_io_uring", crate::async_hpre::pkey_io_uring),
    ("async_pkey_busy_poll", crate::async_hpre::pkey_busy_poll),
    ("async_pkey_hybrid", crate::async_hpre::pkey_hybrid),
    ("async_pkey_unsupported_falls_back", crate::async_hpre::pkey_unsupported_falls_back),
    ("open_after_io_uring_exit", teardown::open_after_io_uring_exit),
    ("parallel_queues", teardown::parallel_queues),
    ("kill9_in_flight", teardown::kill9),
    ("mm_exit_stops_queue", teardown::mm_exit),
    ("async_removal_eventfd_zip", crate::async_tests::removal_eventfd_zip),
    ("async_removal_interrupt_sec", crate::async_tests::removal_interrupt_sec),
    ("async_removal_io_uring_zip", crate::async_tests::removal_io_uring_zip),
    ("async_removal_hybrid_sec", crate::async_tests::removal_hybrid_sec),
    ("async_removal_busy_poll_zip", crate::async_tests::removal_busy_poll_zip),
    ("async_removal_eventfd_hpre", crate::async_tests::removal_eventfd_hpre),
    ("device_removal_wakes_waiters", removal::removal),
    ("module_unload_with_open_queue", teardown::module_unload),
    ("sigbus_without_opt_in", removal::sigbus_without_opt_in),
    ("async_removal_sigbus_kernel_eventfd_zip", crate::async_tests::removal_sigbus_eventfd_zip),
    ("async_removal_sigbus_kernel_interrupt_sec", crate::async_tests::removal_sigbus_interrupt_sec),
    ("async_removal_sigbus_kernel_io_uring_zip", crate::async_tests::removal_sigbus_io_uring_zip),
    ("async_removal_sigbus_kernel_hybrid_sec", crate::async_tests::removal_sigbus_hybrid_sec),
    ("async_removal_sigbus_kernel_busy_poll_zip", crate::async_tests::removal_sigbus_busy_poll_zip),
];

pub const UNPATCHED: &[Test] = &[
    ("discovery", basics::discovery),
    ("zip_zlib", zip::zip_zlib),
    ("eventfd_ioctl_enotty", eventfd::unpatched_enotty),
    ("eventfd_falls_back_to_poll", eventfd::unpatched_fallback),
    ("async_eventfd_falls_back_to_poll", crate::async_tests::mixed_eventfd),
    ("kill9_in_flight", teardown::kill9),
    ("removal_not_reported_without_patch", removal::unpatched_removal),
];

pub(super) fn e2s(e: std::io::Error) -> String {
    e.to_string()
}

pub(super) fn errno(r: std::io::Result<()>) -> Option<i32> {
    r.err().and_then(|e| e.raw_os_error())
}

pub(super) fn zip_dev() -> String {
    devices("soft_zip-").into_iter().next().unwrap_or_default()
}

pub(super) fn sec_dev() -> String {
    devices("soft_sec-").into_iter().next().unwrap_or_default()
}

pub(super) struct Fd(RawFd);
impl AsRawFd for Fd {
    fn as_raw_fd(&self) -> RawFd {
        self.0
    }
}

pub(super) fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}
