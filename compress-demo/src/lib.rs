//! The compress-server's command line, router and serve loop, shared by `examples/compress-server/main.rs`, the
//! load comparison (`examples/compress-load.rs`, which starts this same server as a child process) and
//! `tests/compress_server.rs` (which starts it in-process on an ephemeral port).
//!
//! A demo, not a library of the project (`publish = false`).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;

use axum::Router;
use axum::extract::Query;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use tower_http::services::ServeDir;
use tower_http::trace::TraceLayer;
use uacce_async::{Accel, Backend, NotifyMode};

/// Largest `/json?bytes=N`.
pub const MAX_JSON: usize = 16 << 20;
/// `/json` without `bytes`.
pub const DEFAULT_JSON: usize = 4096;

/// Command line of the server.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "compress-server",
    about = "HTTP server whose responses are compressed on uacce accelerators (or, with --software, by tower-http)"
)]
pub struct Args {
    /// Address to listen on (port 0: any free port; the bound address is printed).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Backend of the offload layer: auto | hw | emu | cpu.
    #[arg(long, default_value = "auto")]
    pub backend: Backend,
    /// Completion notification mode: interrupt | eventfd | io-uring | busy-poll | hybrid.
    #[arg(long, default_value = "eventfd")]
    pub mode: NotifyMode,
    /// Compress with tower-http's CompressionLayer (on the runtime's threads) instead of the offload layer.
    #[arg(long)]
    pub software: bool,
    /// Deflate level where the CPU compresses (tower-http with --software, or the offload layer's CPU backend);
    /// devices have no level (the emulated ZIP device uses 1). Default: each layer's own default (tower-http: 6).
    #[arg(long)]
    pub level: Option<u32>,
    /// Directory served under /static/.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/static"))]
    pub root: PathBuf,
    /// Tokio worker threads (default: one per CPU).
    #[arg(long)]
    pub workers: Option<usize>,
    /// Leave Nagle's algorithm on for accepted connections. By default the server sets TCP_NODELAY on each one,
    /// as production servers do; this flag is for checking that the compression layer does not stall without it.
    #[arg(long)]
    pub nagle: bool,
}

/// How responses are compressed.
#[derive(Clone)]
pub enum Compression {
    /// `uacce_tower::CompressionLayer` on this accelerator.
    Offload(Accel),
    /// tower-http's `CompressionLayer`.
    Software,
}

/// What the router needs.
#[derive(Clone)]
pub struct AppConfig {
    /// The compression layer.
    pub compression: Compression,
    /// Deflate level for CPU compression (see [`Args::level`]).
    pub level: Option<u32>,
    /// Directory served under /static/.
    pub root: PathBuf,
}

/// The router: `/` (an index page), `/static/*` (the file tree), `/json?bytes=N` (generated JSON), all behind the
/// compression layer, and `/health`, added after the layer so that it is never compressed.
pub fn router(cfg: &AppConfig) -> Router {
    let app = Router::new()
        .route("/", get(index))
        .route("/json", get(json))
        .nest_service("/static", ServeDir::new(&cfg.root));
    let app = match &cfg.compression {
        Compression::Offload(accel) => {
            let mut layer = uacce_tower::CompressionLayer::new(accel.clone());
            if let Some(l) = cfg.level {
                layer = layer.level(l);
            }
            app.layer(layer)
        }
        Compression::Software => {
            let quality = match cfg.level {
                Some(l) => tower_http::CompressionLevel::Precise(l.min(9) as i32),
                None => tower_http::CompressionLevel::Default,
            };
            app.layer(
                tower_http::compression::CompressionLayer::new()
                    .gzip(true)
                    .deflate(true)
                    .quality(quality),
            )
        }
    };
    // Routes added after `layer` are not wrapped by it.
    app.route("/health", get(health))
        .layer(TraceLayer::new_for_http())
}

async fn health() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        "ok\n",
    )
        .into_response()
}

async fn index() -> Response {
    let body = "compress-server (uacce-rs)\n\n\
                GET /static/...        files of the --root tree (index: /static/index.html)\n\
                GET /json?bytes=N      generated JSON of about N bytes (N <= 16 MiB, default 4096)\n\
                GET /health            never compressed\n\n\
                Responses are compressed when the request's Accept-Encoding allows zstd, br, gzip or deflate\n\
                (with the offload layer gzip and deflate run on the accelerator, zstd and br on the CPU).\n";
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body).into_response()
}

async fn json(Query(q): Query<HashMap<String, String>>) -> Response {
    let n = match q.get("bytes").map(|b| b.parse::<usize>()) {
        None => DEFAULT_JSON,
        Some(Ok(n)) if n <= MAX_JSON => n,
        Some(_) => {
            return (
                StatusCode::BAD_REQUEST,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                format!("bytes must be an integer from 0 to {MAX_JSON}\n"),
            )
                .into_response();
        }
    };
    (
        [(header::CONTENT_TYPE, "application/json")],
        json_payload(n),
    )
        .into_response()
}

/// Deterministic JSON of about `n` bytes (at least a small fixed document; exactly `n` bytes when `n` is above
/// ~200): an array of records with pseudo-random values, as an API response might look.
pub fn json_payload(n: usize) -> Bytes {
    let mut s = String::with_capacity(n + 256);
    s.push_str("{\"generator\":\"uacce-rs compress-server\",\"items\":[");
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let names = [
        "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf",
    ];
    let mut i = 0u64;
    // Room for the closing part: `],"pad":""}` plus one record.
    while s.len() + 160 < n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        if i > 0 {
            s.push(',');
        }
        let _ = write!(
            s,
            "{{\"id\":{i},\"name\":\"{}-{}\",\"price\":{}.{:02},\"stock\":{},\"active\":{},\"tags\":[\"{}\",\"{}\"]}}",
            names[(x % 7) as usize],
            x % 1000,
            (x >> 8) % 500,
            (x >> 20) % 100,
            (x >> 30) % 10_000,
            (x >> 40) & 1 == 1,
            names[((x >> 44) % 7) as usize],
            names[((x >> 48) % 7) as usize],
        );
        i += 1;
    }
    s.push_str("],\"pad\":\"");
    while s.len() + 2 < n {
        s.push('.');
    }
    s.push_str("\"}");
    Bytes::from(s)
}

/// Build what `args` asks for: the accelerator (unless `--software`), then the router.
pub async fn app_config(args: &Args) -> Result<AppConfig, uacce_async::Error> {
    let compression = if args.software {
        Compression::Software
    } else {
        let accel = Accel::builder()
            .backend(args.backend)
            .mode(args.mode)
            .build()
            .await?;
        tracing::info!(
            backend = ?args.backend,
            mode = %args.mode,
            offloaded = accel.compression_offloaded(),
            "compression on {}",
            accel.description()
        );
        Compression::Offload(accel)
    };
    if args.software {
        tracing::info!(level = ?args.level, "compression by tower-http on the runtime's threads");
    }
    Ok(AppConfig {
        compression,
        level: args.level,
        root: args.root.clone(),
    })
}

/// Serve `router` on `listener` until `shutdown` completes, then finish the requests in progress. With `nodelay`
/// each accepted connection gets TCP_NODELAY (Nagle's algorithm off), as production servers set it; without, the
/// kernel's default (Nagle on) stays.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    nodelay: bool,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use axum::serve::ListenerExt;
    let listener = listener.tap_io(move |tcp| {
        if nodelay && let Err(e) = tcp.set_nodelay(true) {
            tracing::warn!("cannot set TCP_NODELAY on an accepted connection: {e}");
        }
    });
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}

/// Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
    tracing::info!("shutting down: finishing the requests in progress");
}

/// The whole server: runtime, logging, accelerator, listener, serve until Ctrl-C / SIGTERM.
pub fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    rt.enable_all();
    if let Some(n) = args.workers {
        rt.worker_threads(n.max(1));
    }
    rt.build()?.block_on(async move {
        let cfg = app_config(&args).await?;
        let listener = tokio::net::TcpListener::bind(args.listen).await?;
        let addr = listener.local_addr()?;
        tracing::info!(root = %args.root.display(), nagle = args.nagle, "listening on http://{addr}");
        // A plain line on stdout for scripts (the load comparison reads it to learn the port).
        println!("listening on http://{addr}");
        serve(listener, router(&cfg), !args.nagle, shutdown_signal()).await?;
        tracing::info!("stopped");
        Ok(())
    })
}
