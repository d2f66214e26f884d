//! `uacce-tower`: a tower [`Layer`](tower_layer::Layer) that compresses HTTP response bodies on uacce
//! accelerators (or the emulated device, or the CPU — whatever the [`Accel`] was built with), so that the runtime's
//! threads do not spend their time in deflate.
//!
//! tower-http's `CompressionLayer` has no hook for a custom encoder, so this layer follows its behaviour and can
//! replace it:
//!
//! * `Accept-Encoding` negotiation among `zstd`, `br`, `gzip` (also `x-gzip`) and `deflate`, with q-values,
//!   `identity;q=0` and `*`, as tower-http 0.7 does it: the highest q wins; ties go to zstd, then br, then gzip, then
//!   deflate. When the client accepts nothing this server can send (identity refused and no enabled coding
//!   acceptable), the response is `406 Not Acceptable`.
//! * gzip and deflate go through a [`StreamCompressor`] (the device, or the accelerator's CPU backend); `br` and
//!   `zstd`, which the ZIP engine does not do, are compressed on the CPU with async-compression (the crate
//!   tower-http uses), inline in the body's `poll_frame` exactly as tower-http does. The quality knob
//!   ([`CompressionLevel`]) means what it means in tower-http: brotli's default is 4, zstd's is zstd's default, and
//!   zstd at level 17 and above keeps an 8 MiB window.
//! * A compressed response gets `Content-Encoding`, `Vary: accept-encoding`, and loses `Content-Length` and
//!   `Accept-Ranges`.
//! * Not compressed: responses that already have `Content-Encoding` or `Content-Range`, bodies known to be below
//!   the size threshold (default 32 bytes), `image/*` except `image/svg+xml`, `video/*` and `audio/*`
//!   (already-compressed media; tower-http's default compresses these), `text/event-stream`, `application/grpc`
//!   (but `application/grpc-web` is compressed), responses to `HEAD`, and `204` / `304` / `1xx` responses.
//! * The body is streamed through the compressor a chunk at a time (at most 64 KiB of input is held); when the
//!   inner body has nothing ready, what was buffered is sync-flushed so that slow streams still reach the client;
//!   trailers are passed on after the data; an error of the inner body ends the response body with that error.
//!
//! **Framing.** Each device step is an asynchronous round trip, and hyper writes to the socket whenever the body is
//! pending, so a body that handed out every compressor output as it came (the gzip header alone, then each BD's
//! output) made several small writes per response. With Nagle's algorithm on, the second small write waits for
//! the client's delayed ACK: ~40 ms per response on a reused connection. So the layer coalesces: the response
//! head is held until the body's first frame is ready (head and body leave in one write), and output is handed on
//! only in frames of at least [`MIN_FRAME`] bytes, or whatever there is at the end of the stream or at a flush
//! (the inner body pending). A response whose compressed size is below [`MIN_FRAME`] and whose body is ready is
//! one write. If the inner body is pending before it yields anything, the head goes out at once.
//!
//! `deflate` is the zlib format (RFC 9110 §8.4.1.2).
//!
//! ```no_run
//! # async fn doc() -> Result<(), Box<dyn std::error::Error>> {
//! use uacce_async::Accel;
//! use uacce_tower::CompressionLayer;
//! let accel = Accel::new().await?; // UACCE_BACKEND, else devices, else CPU
//! let layer = CompressionLayer::new(accel).min_size(256).level(6);
//! // axum: Router::new().route(...).layer(layer)
//! # let _ = layer; Ok(()) }
//! ```

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, header};
use http_body::{Body, Frame, SizeHint};
use tokio::io::AsyncWriteExt;
use uacce_async::{Accel, Flush, Format, StreamCompressor};

/// Boxed error of the compressed body.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A content coding this layer can send. Ordered from least to most preferred when q-values tie (tower-http's
/// order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Encoding {
    /// No compression.
    Identity,
    /// `deflate` (zlib format).
    Deflate,
    /// `gzip`.
    Gzip,
    /// `br` (brotli), on the CPU.
    Brotli,
    /// `zstd`, on the CPU.
    Zstd,
}

impl Encoding {
    /// The header token.
    pub fn as_str(self) -> &'static str {
        match self {
            Encoding::Identity => "identity",
            Encoding::Deflate => "deflate",
            Encoding::Gzip => "gzip",
            Encoding::Brotli => "br",
            Encoding::Zstd => "zstd",
        }
    }

    fn parse(token: &str, enabled: Codings) -> Option<Encoding> {
        let is = |t: &str| token.eq_ignore_ascii_case(t);
        if (is("gzip") || is("x-gzip")) && enabled.gzip {
            Some(Encoding::Gzip)
        } else if is("deflate") && enabled.deflate {
            Some(Encoding::Deflate)
        } else if is("br") && enabled.br {
            Some(Encoding::Brotli)
        } else if is("zstd") && enabled.zstd {
            Some(Encoding::Zstd)
        } else if is("identity") {
            Some(Encoding::Identity)
        } else {
            None
        }
    }
}

/// The codings a layer offers (all on by default, as in tower-http with every compression feature).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Codings {
    /// `gzip` (device or CPU backend).
    pub gzip: bool,
    /// `deflate` (device or CPU backend).
    pub deflate: bool,
    /// `br` (CPU).
    pub br: bool,
    /// `zstd` (CPU).
    pub zstd: bool,
}

impl Default for Codings {
    fn default() -> Self {
        Self {
            gzip: true,
            deflate: true,
            br: true,
            zstd: true,
        }
    }
}

impl Codings {
    fn all(self) -> impl Iterator<Item = Encoding> {
        [
            (true, Encoding::Identity),
            (self.gzip, Encoding::Gzip),
            (self.deflate, Encoding::Deflate),
            (self.br, Encoding::Brotli),
            (self.zstd, Encoding::Zstd),
        ]
        .into_iter()
        .filter_map(|(on, e)| on.then_some(e))
    }
}

/// Compression quality, as tower-http's `CompressionLevel`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CompressionLevel {
    /// Fastest.
    Fastest,
    /// Smallest output.
    Best,
    /// Each codec's default (deflate: the accelerator's configured level; brotli: 4; zstd: zstd's default).
    #[default]
    Default,
    /// A codec-specific level (deflate 0..=9, clamped; brotli 0..=11; zstd 1..=22).
    Precise(i32),
}

impl CompressionLevel {
    /// Deflate level for the stream compressor's CPU path; `None`: the accelerator's configured level.
    fn deflate(self) -> Option<u32> {
        match self {
            CompressionLevel::Fastest => Some(1),
            CompressionLevel::Best => Some(9),
            CompressionLevel::Default => None,
            CompressionLevel::Precise(l) => Some(l.clamp(0, 9) as u32),
        }
    }

    fn async_compression(self) -> async_compression::Level {
        match self {
            CompressionLevel::Fastest => async_compression::Level::Fastest,
            CompressionLevel::Best => async_compression::Level::Best,
            CompressionLevel::Default => async_compression::Level::Default,
            CompressionLevel::Precise(l) => async_compression::Level::Precise(l),
        }
    }
}

/// Parse a q-value (`q=0.5`): at most three decimals, 0..=1, as thousandths.
fn parse_q(s: &str) -> Option<u16> {
    let v = s
        .trim()
        .strip_prefix("q=")
        .or_else(|| s.trim().strip_prefix("Q="))?;
    let (int, frac) = match v.split_once('.') {
        Some((i, f)) => (i, f),
        None => (v, ""),
    };
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let whole: u16 = match int {
        "0" => 0,
        "1" => 1000,
        _ => return None,
    };
    let mut f = 0u16;
    for (i, b) in frac.bytes().enumerate() {
        f += u16::from(b - b'0') * [100, 10, 1][i];
    }
    let q = whole + f;
    (q <= 1000).then_some(q)
}

/// The coding to answer `headers`' `Accept-Encoding` with, among those `enabled`; `None` means 406.
pub fn negotiate(headers: &HeaderMap, enabled: Codings) -> Option<Encoding> {
    let mut explicit: Vec<(Encoding, u16)> = Vec::new();
    let mut wildcard: Option<u16> = None;
    for value in headers.get_all(header::ACCEPT_ENCODING) {
        let Ok(s) = value.to_str() else { continue };
        for item in s.split(',') {
            let mut parts = item.splitn(2, ';');
            let coding = parts.next().unwrap_or("").trim();
            let q = match parts.next() {
                Some(p) => match parse_q(p) {
                    Some(q) => q,
                    None => continue, // a malformed q-value drops the item
                },
                None => 1000,
            };
            if coding == "*" {
                wildcard.get_or_insert(q);
                continue;
            }
            if let Some(enc) = Encoding::parse(coding, enabled) {
                explicit.push((enc, q));
            }
        }
    }
    let best = |set: &mut dyn Iterator<Item = (Encoding, u16)>| {
        set.filter(|&(_, q)| q > 0)
            .max_by_key(|&(e, q)| (q, e))
            .map(|(e, _)| e)
    };
    match wildcard {
        None => match best(&mut explicit.iter().copied()) {
            Some(e) => Some(e),
            None if explicit
                .iter()
                .any(|&(e, q)| e == Encoding::Identity && q == 0) =>
            {
                None
            }
            None => Some(Encoding::Identity),
        },
        Some(wq) => {
            let mut eff = enabled.all().map(|e| {
                let q = explicit
                    .iter()
                    .find(|(x, _)| *x == e)
                    .map_or(wq, |&(_, q)| q);
                (e, q)
            });
            best(&mut eff)
        }
    }
}

/// Decides whether a response is worth compressing (after the layer's own rules).
pub trait Predicate: Clone {
    /// True to compress this response.
    fn should_compress(&self, parts: &http::response::Parts, size_hint: &SizeHint) -> bool;
}

/// The default predicate: a minimum size, and no images (but SVG), video, audio, server-sent events or gRPC.
#[derive(Debug, Clone, Copy)]
pub struct DefaultPredicate {
    /// Bodies known to be smaller than this are not compressed (default 32).
    pub min_size: u64,
}

impl Default for DefaultPredicate {
    fn default() -> Self {
        Self { min_size: 32 }
    }
}

impl Predicate for DefaultPredicate {
    fn should_compress(&self, parts: &http::response::Parts, size_hint: &SizeHint) -> bool {
        let size = size_hint.exact().or_else(|| {
            parts
                .headers
                .get(header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok())
        });
        if size.is_some_and(|s| s < self.min_size) {
            return false;
        }
        let ct = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        let no = |prefix: &str, except: Option<&str>| {
            ct.starts_with(prefix) && except.is_none_or(|e| !ct.starts_with(e))
        };
        !(no("image/", Some("image/svg+xml"))
            || no("video/", None)
            || no("audio/", None)
            || no("text/event-stream", None)
            || no("application/grpc", Some("application/grpc-web")))
    }
}

/// Any `Fn(&Parts, &SizeHint) -> bool` is a predicate.
impl<F> Predicate for F
where
    F: Fn(&http::response::Parts, &SizeHint) -> bool + Clone,
{
    fn should_compress(&self, parts: &http::response::Parts, size_hint: &SizeHint) -> bool {
        self(parts, size_hint)
    }
}

/// The layer. Cheap to clone.
#[derive(Clone)]
pub struct CompressionLayer<P = DefaultPredicate> {
    accel: Accel,
    codings: Codings,
    quality: CompressionLevel,
    predicate: P,
}

impl<P> std::fmt::Debug for CompressionLayer<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompressionLayer")
            .field("accel", &self.accel)
            .field("codings", &self.codings)
            .field("quality", &self.quality)
            .finish_non_exhaustive()
    }
}

impl CompressionLayer {
    /// gzip, deflate, br and zstd, the default predicate and quality, gzip/deflate jobs on `accel`.
    pub fn new(accel: Accel) -> Self {
        Self {
            accel,
            codings: Codings::default(),
            quality: CompressionLevel::Default,
            predicate: DefaultPredicate::default(),
        }
    }

    /// Minimum body size of the default predicate.
    pub fn min_size(mut self, bytes: u64) -> Self {
        self.predicate.min_size = bytes;
        self
    }
}

impl<P: Predicate> CompressionLayer<P> {
    /// Offer gzip (default on).
    pub fn gzip(mut self, on: bool) -> Self {
        self.codings.gzip = on;
        self
    }

    /// Offer deflate (default on).
    pub fn deflate(mut self, on: bool) -> Self {
        self.codings.deflate = on;
        self
    }

    /// Offer brotli, compressed on the CPU (default on).
    pub fn br(mut self, on: bool) -> Self {
        self.codings.br = on;
        self
    }

    /// Offer zstd, compressed on the CPU (default on).
    pub fn zstd(mut self, on: bool) -> Self {
        self.codings.zstd = on;
        self
    }

    /// Do not offer gzip.
    pub fn no_gzip(self) -> Self {
        self.gzip(false)
    }

    /// Do not offer deflate.
    pub fn no_deflate(self) -> Self {
        self.deflate(false)
    }

    /// Do not offer brotli.
    pub fn no_br(self) -> Self {
        self.br(false)
    }

    /// Do not offer zstd.
    pub fn no_zstd(self) -> Self {
        self.zstd(false)
    }

    /// Compression quality, as tower-http's `quality`. Devices have no level: it applies to deflate where a CPU
    /// does the work, and to brotli and zstd.
    pub fn quality(mut self, quality: CompressionLevel) -> Self {
        self.quality = quality;
        self
    }

    /// `quality(CompressionLevel::Precise(level))`, with the deflate level 0..=9.
    pub fn level(self, level: u32) -> Self {
        self.quality(CompressionLevel::Precise(level.min(9) as i32))
    }

    /// Replace the predicate (the layer's fixed rules — existing encodings, ranges, HEAD, 204/304 — still apply).
    pub fn predicate<Q: Predicate>(self, predicate: Q) -> CompressionLayer<Q> {
        CompressionLayer {
            accel: self.accel,
            codings: self.codings,
            quality: self.quality,
            predicate,
        }
    }

    /// tower-http's name for [`predicate`](Self::predicate).
    pub fn compress_when<Q: Predicate>(self, predicate: Q) -> CompressionLayer<Q> {
        self.predicate(predicate)
    }
}

impl<S, P: Predicate> tower_layer::Layer<S> for CompressionLayer<P> {
    type Service = Compression<S, P>;

    fn layer(&self, inner: S) -> Self::Service {
        Compression {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service the layer wraps around `S`.
#[derive(Clone)]
pub struct Compression<S, P = DefaultPredicate> {
    inner: S,
    layer: CompressionLayer<P>,
}

impl<S, P, ReqBody, ResBody> tower_service::Service<Request<ReqBody>> for Compression<S, P>
where
    S: tower_service::Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: Body<Data = Bytes>,
    ResBody::Error: Into<BoxError>,
    P: Predicate,
{
    type Response = Response<CompressionBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, P, ResBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let encoding = negotiate(req.headers(), self.layer.codings);
        let head = req.method() == Method::HEAD;
        ResponseFuture {
            inner: self.inner.call(req),
            encoding,
            head,
            layer: Some(self.layer.clone()),
            priming: None,
        }
    }
}

pin_project_lite::pin_project! {
    /// Future of [`Compression`]. A compressed response is returned once its body's first frame is ready (or the
    /// inner body is pending with nothing to send), so that the head and the first data leave in one write.
    pub struct ResponseFuture<F, P, B> {
        #[pin]
        inner: F,
        encoding: Option<Encoding>,
        head: bool,
        layer: Option<CompressionLayer<P>>,
        priming: Option<Priming<B>>,
    }
}

/// A compressed response waiting for its first frame.
struct Priming<B> {
    parts: http::response::Parts,
    body: Pin<Box<B>>,
    st: Box<Compressing>,
}

fn has_token(headers: &HeaderMap, name: header::HeaderName, token: &str) -> bool {
    headers.get_all(name).iter().any(|v| {
        v.to_str()
            .map(|s| s.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
            .unwrap_or(false)
    })
}

impl<F, P, B, E> Future for ResponseFuture<F, P, B>
where
    F: Future<Output = Result<Response<B>, E>>,
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
    P: Predicate,
{
    type Output = Result<Response<CompressionBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if this.priming.is_none() {
            let res = ready!(this.inner.poll(cx))?;
            let layer = this
                .layer
                .take()
                .expect("ResponseFuture polled after completion");
            match begin(res, *this.encoding, *this.head, &layer) {
                Begun::Ready(res) => return Poll::Ready(Ok(res)),
                Begun::Priming(p) => *this.priming = Some(p),
            }
        }
        let p = this.priming.as_mut().expect("priming set above");
        match poll_compressed(p.body.as_mut(), &mut p.st, cx) {
            Poll::Ready(first) => p.st.peeked = Some(first),
            // A step is running: its completion wakes us.
            Poll::Pending if p.st.step.is_some() => return Poll::Pending,
            // The inner body is pending with nothing to send: let the head go now.
            Poll::Pending => {}
        }
        let p = this.priming.take().expect("priming set above");
        Poll::Ready(Ok(Response::from_parts(
            p.parts,
            CompressionBody::compressed(p.body, p.st),
        )))
    }
}

/// What [`begin`] decided.
enum Begun<B> {
    /// The response as it goes (not compressed).
    Ready(Response<CompressionBody<B>>),
    /// A compressed response that waits for its first frame.
    Priming(Priming<B>),
}

/// Decide whether and how to compress `res`.
fn begin<B, P: Predicate>(
    res: Response<B>,
    encoding: Option<Encoding>,
    head: bool,
    layer: &CompressionLayer<P>,
) -> Begun<B>
where
    B: Body<Data = Bytes>,
{
    let (mut parts, body) = res.into_parts();
    let Some(encoding) = encoding else {
        parts.status = StatusCode::NOT_ACCEPTABLE;
        if !has_token(&parts.headers, header::VARY, "accept-encoding") {
            parts
                .headers
                .append(header::VARY, HeaderValue::from_static("accept-encoding"));
        }
        return Begun::Ready(Response::from_parts(parts, CompressionBody::identity(body)));
    };
    let status = parts.status;
    let compress = !head
        && !status.is_informational()
        && status != StatusCode::NO_CONTENT
        && status != StatusCode::NOT_MODIFIED
        && !parts.headers.contains_key(header::CONTENT_ENCODING)
        && !parts.headers.contains_key(header::CONTENT_RANGE)
        && layer.predicate.should_compress(&parts, &body.size_hint());
    if compress && !has_token(&parts.headers, header::VARY, "accept-encoding") {
        parts
            .headers
            .append(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    if !compress || encoding == Encoding::Identity {
        return Begun::Ready(Response::from_parts(parts, CompressionBody::identity(body)));
    }
    let coder = match Coder::new(&layer.accel, encoding, layer.quality) {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!("cannot start response compression, sending it uncompressed: {e}");
            return Begun::Ready(Response::from_parts(parts, CompressionBody::identity(body)));
        }
    };
    parts.headers.remove(header::ACCEPT_RANGES);
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_ENCODING,
        HeaderValue::from_static(encoding.as_str()),
    );
    Begun::Priming(Priming {
        parts,
        body: Box::pin(body),
        st: Box::new(Compressing::new(coder)),
    })
}

/// What compresses one response body.
enum Coder {
    /// gzip / deflate: the device or the accelerator's CPU backend.
    Stream(StreamCompressor),
    /// br on the CPU.
    Brotli(Box<async_compression::tokio::write::BrotliEncoder<Vec<u8>>>),
    /// zstd on the CPU.
    Zstd(Box<async_compression::tokio::write::ZstdEncoder<Vec<u8>>>),
}

type Step = Pin<Box<dyn Future<Output = (Coder, Result<Vec<Bytes>, BoxError>)> + Send>>;

impl Coder {
    fn new(
        accel: &Accel,
        encoding: Encoding,
        quality: CompressionLevel,
    ) -> uacce_async::Result<Coder> {
        use async_compression::tokio::write::{BrotliEncoder, ZstdEncoder};
        let stream = |format| match quality.deflate() {
            Some(l) => StreamCompressor::with_level(accel, format, l),
            None => StreamCompressor::new(accel, format),
        };
        Ok(match encoding {
            Encoding::Gzip => Coder::Stream(stream(Format::Gzip)?),
            Encoding::Deflate => Coder::Stream(stream(Format::Zlib)?),
            Encoding::Brotli => {
                // Brotli's own default (11) is far too slow for responses; 4 is tower-http's (and nginx's).
                let level = match quality {
                    CompressionLevel::Default => async_compression::Level::Precise(4),
                    q => q.async_compression(),
                };
                Coder::Brotli(Box::new(BrotliEncoder::with_quality(Vec::new(), level)))
            }
            Encoding::Zstd => {
                // From level 17 zstd's window exceeds the 8 MiB browsers accept: cap it there (as tower-http).
                let wide = match quality {
                    CompressionLevel::Best => true,
                    CompressionLevel::Precise(l) => l >= 17,
                    _ => false,
                };
                let level = quality.async_compression();
                Coder::Zstd(Box::new(if wide {
                    ZstdEncoder::with_quality_and_params(
                        Vec::new(),
                        level,
                        &[async_compression::zstd::CParameter::window_log(23)],
                    )
                } else {
                    ZstdEncoder::with_quality(Vec::new(), level)
                }))
            }
            Encoding::Identity => {
                return Err(uacce_async::Error::InvalidParameter(
                    "identity has no coder",
                ));
            }
        })
    }

    /// Compress `input`, then flush as asked. The CPU coders write into memory, so their step is ready at its
    /// first poll (they run inline, as tower-http's do).
    fn step(self, input: Bytes, flush: Flush) -> Step {
        async fn cpu<W>(w: &mut W, input: &[u8], flush: Flush) -> std::io::Result<()>
        where
            W: tokio::io::AsyncWrite + Unpin,
        {
            w.write_all(input).await?;
            match flush {
                Flush::None => Ok(()),
                Flush::Sync => w.flush().await,
                Flush::Finish => w.shutdown().await,
                other => Err(std::io::Error::new(
                    std::io::ErrorKind::Unsupported,
                    format!("flush mode {other:?}"),
                )),
            }
        }
        match self {
            Coder::Stream(c) => Box::pin(async move {
                let (c, r) = c.compress(input, flush).await;
                (Coder::Stream(c), r.map_err(|e| Box::new(e) as BoxError))
            }),
            Coder::Brotli(mut e) => Box::pin(async move {
                let r = cpu(&mut *e, &input, flush).await;
                let out = Bytes::from(std::mem::take(e.get_mut()));
                (Coder::Brotli(e), r.map(|()| vec![out]).map_err(Into::into))
            }),
            Coder::Zstd(mut e) => Box::pin(async move {
                let r = cpu(&mut *e, &input, flush).await;
                let out = Bytes::from(std::mem::take(e.get_mut()));
                (Coder::Zstd(e), r.map(|()| vec![out]).map_err(Into::into))
            }),
        }
    }
}

/// Input gathered before a compression step.
const CHUNK: usize = 64 * 1024;

/// Compressed output is handed on in frames of at least this many bytes, except at the end of the stream and at a
/// flush. One loopback MSS (65 483 bytes at the usual 65 536-byte MTU): every write but the last of a response is
/// then at least one full segment, which Nagle's algorithm never holds back (on Ethernet, 16 KiB would do).
pub const MIN_FRAME: usize = 64 * 1024;

pin_project_lite::pin_project! {
    /// The response body: the inner body as is, or compressed on the fly.
    pub struct CompressionBody<B> {
        #[pin]
        inner: BodyInner<B>,
    }
}

pin_project_lite::pin_project! {
    #[project = BodyInnerProj]
    #[project_ref = BodyInnerRef]
    enum BodyInner<B> {
        Identity { #[pin] body: B },
        Compressed { body: Pin<Box<B>>, st: Box<Compressing> },
    }
}

/// Streaming state of a compressed body.
struct Compressing {
    coder: Option<Coder>,
    step: Option<Step>,
    /// The running step ends with a flush (sync or finish): what it produces is handed on at once.
    step_flushes: bool,
    input: BytesMut,
    /// Input went to the coder since its last flush (a CPU deflate may hold it back until then).
    unflushed: bool,
    /// Output gathered, not yet handed on.
    out: Vec<Bytes>,
    out_len: usize,
    /// A flush completed: hand on what is gathered even if below [`MIN_FRAME`].
    emit: bool,
    /// The first poll's result, taken while the response head was held.
    peeked: Option<Option<Result<Frame<Bytes>, BoxError>>>,
    trailers: Option<HeaderMap>,
    inner_done: bool,
    finished: bool,
}

impl Compressing {
    fn new(coder: Coder) -> Self {
        Self {
            coder: Some(coder),
            step: None,
            step_flushes: false,
            input: BytesMut::new(),
            unflushed: false,
            out: Vec::new(),
            out_len: 0,
            emit: false,
            peeked: None,
            trailers: None,
            inner_done: false,
            finished: false,
        }
    }

    fn start(&mut self, flush: Flush) -> Result<(), BoxError> {
        let c = self
            .coder
            .take()
            .ok_or_else(|| -> BoxError { "compressor lost".into() })?;
        // At most one chunk per step without a flush; a flush takes everything (the caller has stepped the input
        // down to at most a chunk first).
        let input = match flush {
            Flush::None => self.input.split_to(self.input.len().min(CHUNK)).freeze(),
            _ => self.input.split().freeze(),
        };
        self.step_flushes = flush != Flush::None;
        self.unflushed = flush == Flush::None;
        self.step = Some(c.step(input, flush));
        Ok(())
    }

    /// Everything gathered, as one frame.
    fn take_out(&mut self) -> Bytes {
        self.out_len = 0;
        if self.out.len() == 1 {
            return self.out.pop().expect("one piece");
        }
        let mut all = BytesMut::with_capacity(self.out.iter().map(Bytes::len).sum());
        for b in self.out.drain(..) {
            all.extend_from_slice(&b);
        }
        all.freeze()
    }
}

impl<B> CompressionBody<B> {
    fn identity(body: B) -> Self {
        Self {
            inner: BodyInner::Identity { body },
        }
    }

    fn compressed(body: Pin<Box<B>>, st: Box<Compressing>) -> Self {
        Self {
            inner: BodyInner::Compressed { body, st },
        }
    }
}

/// The next frame of a compressed body.
fn poll_compressed<B>(
    mut body: Pin<&mut B>,
    st: &mut Compressing,
    cx: &mut Context<'_>,
) -> Poll<Option<Result<Frame<Bytes>, BoxError>>>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    if let Some(first) = st.peeked.take() {
        return Poll::Ready(first);
    }
    loop {
        if let Some(step) = st.step.as_mut() {
            let (c, r) = ready!(step.as_mut().poll(cx));
            st.step = None;
            st.coder = Some(c);
            for b in r? {
                if !b.is_empty() {
                    st.out_len += b.len();
                    st.out.push(b);
                }
            }
            st.emit |= st.step_flushes;
            continue;
        }
        if st.out_len >= MIN_FRAME || (st.emit && st.out_len > 0) {
            st.emit = false;
            return Poll::Ready(Some(Ok(Frame::data(st.take_out()))));
        }
        st.emit = false;
        if st.finished {
            return Poll::Ready(st.trailers.take().map(|t| Ok(Frame::trailers(t))));
        }
        if st.input.len() > CHUNK || (st.input.len() == CHUNK && !st.inner_done) {
            st.start(Flush::None)?;
            continue;
        }
        if st.inner_done {
            st.finished = true;
            st.start(Flush::Finish)?;
            continue;
        }
        match body.as_mut().poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                Ok(data) => st.input.extend_from_slice(&data),
                Err(frame) => {
                    if let Ok(t) = frame.into_trailers() {
                        match st.trailers.as_mut() {
                            Some(all) => all.extend(t),
                            None => st.trailers = Some(t),
                        }
                    }
                }
            },
            Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(None) => st.inner_done = true,
            Poll::Pending => {
                // Nothing more for now: let what is buffered reach the client.
                if !st.input.is_empty() || st.unflushed {
                    st.start(Flush::Sync)?;
                } else if st.out_len > 0 {
                    st.emit = true;
                } else {
                    return Poll::Pending;
                }
            }
        }
    }
}

impl<B> Body for CompressionBody<B>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match self.project().inner.project() {
            BodyInnerProj::Identity { body } => body
                .poll_frame(cx)
                .map(|f| f.map(|r| r.map_err(Into::into))),
            BodyInnerProj::Compressed { body, st } => poll_compressed(body.as_mut(), st, cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.inner {
            BodyInner::Identity { body } => body.is_end_stream(),
            BodyInner::Compressed { st, .. } => {
                st.finished
                    && st.step.is_none()
                    && st.out.is_empty()
                    && st.trailers.is_none()
                    && st.peeked.is_none()
            }
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.inner {
            BodyInner::Identity { body } => body.size_hint(),
            BodyInner::Compressed { .. } => SizeHint::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn q_values() {
        assert_eq!(parse_q("q=1"), Some(1000));
        assert_eq!(parse_q(" q=0.5"), Some(500));
        assert_eq!(parse_q("q=0.125"), Some(125));
        assert_eq!(parse_q("q=0.1234"), None);
        assert_eq!(parse_q("q=1.5"), None);
        assert_eq!(parse_q("q=2"), None);
        assert_eq!(parse_q("x=1"), None);
        assert_eq!(parse_q("q=1.000"), Some(1000));
        assert_eq!(parse_q("q=1.001"), None);
    }
}
