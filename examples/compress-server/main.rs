//! An axum server whose responses are compressed on uacce accelerators (`uacce-tower`), or with `--software` by
//! tower-http's `CompressionLayer` on the runtime's own threads, for comparison.
//!
//! ```sh
//! cargo run --release --example compress-server -- --backend emu      # the emulated ZIP device
//! curl --compressed http://127.0.0.1:8080/json?bytes=100000
//! ```
//!
//! Routes: `/static/...` (a file tree, `--root`, default `examples/static`), `/json?bytes=N` (generated JSON),
//! `/health` (never compressed), `/` (an index). Ctrl-C (or SIGTERM) stops it after the requests in progress.
//! Logs go to stderr through `tracing` (`RUST_LOG`, default `info`).

use clap::Parser;
use compress_demo as app;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    app::run(app::Args::parse())
}
