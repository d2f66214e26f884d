//! Tests run inside the QEMU guest against the `uacce_soft` devices (see kmod-patch/README.md).
//!
//! `uacce-vmtest-guest --mode patched|unpatched` prints one line per test, `ok NAME` or `FAIL NAME: why`.
//! `uacce-vmtest-guest --child-flood DEV` is the helper process of the kill -9 test.

mod async_hpre;
mod async_sec;
mod async_tests;
mod queue;
mod tests;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;

pub type TestResult = Result<(), String>;

/// True in the patched boot (the v3 series: uacce_soft has its MMIO register page and opts in to dummy pages).
pub static MODE_PATCHED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
/// A test: the name the harness reports and the function.
pub type Test = (&'static str, fn() -> TestResult);

fn run(name: &str, f: fn() -> TestResult) -> bool {
    let t = Instant::now();
    let r = catch_unwind(AssertUnwindSafe(f));
    let ms = t.elapsed().as_millis();
    match r {
        Ok(Ok(())) => {
            println!("ok {name} ({ms} ms)");
            true
        }
        Ok(Err(e)) => {
            println!("FAIL {name}: {e}");
            false
        }
        Err(p) => {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            println!("FAIL {name}: panic: {msg}");
            false
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() >= 3 && args[1] == "--child-flood" {
        tests::child_flood(&args[2]);
        return;
    }
    if args.len() >= 3 && args[1] == "--child-sigbus" {
        tests::child_sigbus(&args[2]);
        return;
    }
    if args.len() >= 4 && args[1] == "--child-async-removal" {
        async_tests::log::init(true);
        async_tests::child_removal(&args[2], &args[3]);
        return;
    }
    let mode = args
        .iter()
        .position(|a| a == "--mode")
        .and_then(|i| args.get(i + 1))
        .map(String::as_str)
        .unwrap_or("patched");
    MODE_PATCHED.store(mode != "unpatched", std::sync::atomic::Ordering::Relaxed);
    std::panic::set_hook(Box::new(|_| {}));
    async_tests::log::init(false);
    let list: &[Test] = if mode == "unpatched" {
        tests::UNPATCHED
    } else {
        tests::PATCHED
    };
    let mut failed = 0;
    for (name, f) in list {
        if !run(name, *f) {
            failed += 1;
        }
    }
    println!("guest: {} passed, {} failed", list.len() - failed, failed);
    std::process::exit(if failed == 0 { 0 } else { 1 });
}
