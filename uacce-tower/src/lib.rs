//! `uacce-tower`: a tower [`Layer`](tower_layer::Layer) that compresses HTTP response bodies on uacce
//! accelerators (or the emulated device, or the CPU — whatever the [`Accel`] was built with), so that the runtime's
//! threads do not spend their time in deflate.
//!
//! tower-http's `CompressionLayer` has no hook for a custom encoder, so this layer follows its behaviour:
//!
//! * `Accept-Encoding` negotiation among `gzip` (also `x-gzip`) and `deflate`, with q-values, `identity;q=0` and
//!   `*`; the highest q wins, ties go to gzip. When the client accepts nothing this server can send (identity
//!   refused and no supported coding acceptable), the response is `406 Not Acceptable`, as tower-http 0.7 does.
//! * A compressed response gets `Content-Encoding`, `Vary: accept-encoding`, and loses `Content-Length` and
//!   `Accept-Ranges`.
//! * Not compressed: responses that already have `Content-Encoding` or `Content-Range`, bodies known to be below
//!   the size threshold (default 32 bytes), `image/*` except `image/svg+xml`, `video/*` and `audio/*`
//!   (already-compressed media; tower-http's default compresses these), `text/event-stream`, `application/grpc`
//!   (but `application/grpc-web` is compressed), responses to `HEAD`, and `204` / `304` / `1xx` responses.
//! * The body is streamed through a [`StreamCompressor`] a chunk at a time (at most 64 KiB of input is held);
//!   when the inner body has nothing ready, what was buffered is sync-flushed so that slow streams still reach the
//!   client; trailers are passed on after the data; an error of the inner body ends the response body with that
//!   error.
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

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, header};
use http_body::{Body, Frame, SizeHint};
use uacce_async::{Accel, Flush, Format, StreamCompressor};

/// Boxed error of the compressed body.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A content coding this layer can send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Encoding {
    /// No compression.
    Identity,
    /// `deflate` (zlib format).
    Deflate,
    /// `gzip`.
    Gzip,
}

impl Encoding {
    /// The header token.
    pub fn as_str(self) -> &'static str {
        match self {
            Encoding::Identity => "identity",
            Encoding::Deflate => "deflate",
            Encoding::Gzip => "gzip",
        }
    }

    fn format(self) -> Option<Format> {
        match self {
            Encoding::Identity => None,
            Encoding::Deflate => Some(Format::Zlib),
            Encoding::Gzip => Some(Format::Gzip),
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

/// The coding to answer `headers`' `Accept-Encoding` with, among those enabled; `None` means 406.
pub fn negotiate(headers: &HeaderMap, gzip: bool, deflate: bool) -> Option<Encoding> {
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
            let enc = if (coding.eq_ignore_ascii_case("gzip")
                || coding.eq_ignore_ascii_case("x-gzip"))
                && gzip
            {
                Encoding::Gzip
            } else if coding.eq_ignore_ascii_case("deflate") && deflate {
                Encoding::Deflate
            } else if coding.eq_ignore_ascii_case("identity") {
                Encoding::Identity
            } else {
                continue;
            };
            explicit.push((enc, q));
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
            let mut all = vec![Encoding::Identity];
            if gzip {
                all.push(Encoding::Gzip);
            }
            if deflate {
                all.push(Encoding::Deflate);
            }
            let mut eff = all.into_iter().map(|e| {
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
    gzip: bool,
    deflate: bool,
    level: Option<u32>,
    predicate: P,
}

impl std::fmt::Debug for CompressionLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompressionLayer")
            .field("accel", &self.accel)
            .field("gzip", &self.gzip)
            .field("deflate", &self.deflate)
            .finish_non_exhaustive()
    }
}

impl CompressionLayer {
    /// gzip and deflate, the default predicate, jobs on `accel`.
    pub fn new(accel: Accel) -> Self {
        Self {
            accel,
            gzip: true,
            deflate: true,
            level: None,
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
        self.gzip = on;
        self
    }

    /// Offer deflate (default on).
    pub fn deflate(mut self, on: bool) -> Self {
        self.deflate = on;
        self
    }

    /// Deflate level when the CPU does the work (0..=9); devices have no level.
    pub fn level(mut self, level: u32) -> Self {
        self.level = Some(level.min(9));
        self
    }

    /// Replace the predicate (the layer's fixed rules — existing encodings, ranges, HEAD, 204/304 — still apply).
    pub fn predicate<Q: Predicate>(self, predicate: Q) -> CompressionLayer<Q> {
        CompressionLayer {
            accel: self.accel,
            gzip: self.gzip,
            deflate: self.deflate,
            level: self.level,
            predicate,
        }
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
    type Future = ResponseFuture<S::Future, P>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let encoding = negotiate(req.headers(), self.layer.gzip, self.layer.deflate);
        let head = req.method() == Method::HEAD;
        ResponseFuture {
            inner: self.inner.call(req),
            encoding,
            head,
            layer: Some(self.layer.clone()),
        }
    }
}

pin_project_lite::pin_project! {
    /// Future of [`Compression`].
    pub struct ResponseFuture<F, P> {
        #[pin]
        inner: F,
        encoding: Option<Encoding>,
        head: bool,
        layer: Option<CompressionLayer<P>>,
    }
}

fn has_token(headers: &HeaderMap, name: header::HeaderName, token: &str) -> bool {
    headers.get_all(name).iter().any(|v| {
        v.to_str()
            .map(|s| s.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
            .unwrap_or(false)
    })
}

impl<F, P, B, E> Future for ResponseFuture<F, P>
where
    F: Future<Output = Result<Response<B>, E>>,
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
    P: Predicate,
{
    type Output = Result<Response<CompressionBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let res = ready!(this.inner.poll(cx))?;
        let layer = this
            .layer
            .take()
            .expect("ResponseFuture polled after completion");
        let (mut parts, body) = res.into_parts();
        let Some(encoding) = *this.encoding else {
            parts.status = StatusCode::NOT_ACCEPTABLE;
            if !has_token(&parts.headers, header::VARY, "accept-encoding") {
                parts
                    .headers
                    .append(header::VARY, HeaderValue::from_static("accept-encoding"));
            }
            return Poll::Ready(Ok(Response::from_parts(
                parts,
                CompressionBody::identity(body),
            )));
        };
        let status = parts.status;
        let compress = !*this.head
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
        let Some(format) = encoding.format().filter(|_| compress) else {
            return Poll::Ready(Ok(Response::from_parts(
                parts,
                CompressionBody::identity(body),
            )));
        };
        let compressor = match layer.level {
            Some(l) => StreamCompressor::with_level(&layer.accel, format, l),
            None => StreamCompressor::new(&layer.accel, format),
        };
        let compressor = match compressor {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!("cannot start response compression, sending it uncompressed: {e}");
                return Poll::Ready(Ok(Response::from_parts(
                    parts,
                    CompressionBody::identity(body),
                )));
            }
        };
        parts.headers.remove(header::ACCEPT_RANGES);
        parts.headers.remove(header::CONTENT_LENGTH);
        parts.headers.insert(
            header::CONTENT_ENCODING,
            HeaderValue::from_static(encoding.as_str()),
        );
        Poll::Ready(Ok(Response::from_parts(
            parts,
            CompressionBody::compressed(body, compressor),
        )))
    }
}

type Step =
    Pin<Box<dyn Future<Output = (StreamCompressor, uacce_async::Result<Vec<Bytes>>)> + Send>>;

/// Input gathered before a compression step.
const CHUNK: usize = 64 * 1024;

pin_project_lite::pin_project! {
    /// The response body: the inner body as is, or compressed on the fly.
    pub struct CompressionBody<B> {
        #[pin]
        inner: B,
        state: Option<Box<Compressing>>,
    }
}

/// Streaming state of a compressed body.
struct Compressing {
    compressor: Option<StreamCompressor>,
    step: Option<Step>,
    input: bytes::BytesMut,
    out: VecDeque<Bytes>,
    trailers: Option<HeaderMap>,
    inner_done: bool,
    finished: bool,
}

impl<B> CompressionBody<B> {
    fn identity(inner: B) -> Self {
        Self { inner, state: None }
    }

    fn compressed(inner: B, compressor: StreamCompressor) -> Self {
        Self {
            inner,
            state: Some(Box::new(Compressing {
                compressor: Some(compressor),
                step: None,
                input: bytes::BytesMut::new(),
                out: VecDeque::new(),
                trailers: None,
                inner_done: false,
                finished: false,
            })),
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
        let mut this = self.project();
        let Some(st) = this.state.as_deref_mut() else {
            return this
                .inner
                .poll_frame(cx)
                .map(|f| f.map(|r| r.map_err(Into::into)));
        };
        loop {
            if let Some(b) = st.out.pop_front() {
                if !b.is_empty() {
                    return Poll::Ready(Some(Ok(Frame::data(b))));
                }
                continue;
            }
            if let Some(step) = st.step.as_mut() {
                let (c, r) = ready!(step.as_mut().poll(cx));
                st.step = None;
                st.compressor = Some(c);
                st.out.extend(r.map_err(|e| Box::new(e) as BoxError)?);
                continue;
            }
            if st.finished {
                return Poll::Ready(st.trailers.take().map(|t| Ok(Frame::trailers(t))));
            }
            if st.inner_done {
                let input = st.input.split().freeze();
                st.finished = true;
                start(st, input, Flush::Finish)?;
                continue;
            }
            if st.input.len() >= CHUNK {
                let input = st.input.split().freeze();
                start(st, input, Flush::None)?;
                continue;
            }
            match this.inner.as_mut().poll_frame(cx) {
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
                    if st.input.is_empty() {
                        return Poll::Pending;
                    }
                    let input = st.input.split().freeze();
                    start(st, input, Flush::Sync)?;
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.state {
            None => self.inner.is_end_stream(),
            Some(st) => {
                st.finished && st.step.is_none() && st.out.is_empty() && st.trailers.is_none()
            }
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.state {
            None => self.inner.size_hint(),
            Some(_) => SizeHint::default(),
        }
    }
}

fn start(st: &mut Compressing, input: Bytes, flush: Flush) -> Result<(), BoxError> {
    let c = st
        .compressor
        .take()
        .ok_or_else(|| -> BoxError { "compressor lost".into() })?;
    st.step = Some(Box::pin(c.compress(input, flush)));
    Ok(())
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
