//! Each negotiation and skip rule, checked against what tower-http's `CompressionLayer` (gzip, deflate, br and
//! zstd) does in the same case, plus the decoded bodies and, for br and zstd (CPU), the quality knob.

use std::convert::Infallible;
use std::io::Read;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response, StatusCode, header};
use http_body::{Body, Frame};
use http_body_util::{BodyExt, Full, StreamBody};
use tower::{Layer, ServiceExt};
use uacce_async::{Accel, Backend};
use uacce_tower::CompressionLayer;

#[derive(Clone, Debug)]
struct Case {
    name: &'static str,
    method: Method,
    accept: Vec<&'static str>,
    status: StatusCode,
    content_type: Option<&'static str>,
    content_encoding: Option<&'static str>,
    content_range: bool,
    body: Bytes,
    content_length: bool,
}

impl Case {
    fn new(name: &'static str, accept: &[&'static str]) -> Self {
        Self {
            name,
            method: Method::GET,
            accept: accept.to_vec(),
            status: StatusCode::OK,
            content_type: Some("text/plain"),
            content_encoding: None,
            content_range: false,
            body: Bytes::from("hello compressible world. ".repeat(200)),
            content_length: true,
        }
    }
}

fn request(c: &Case) -> Request<Full<Bytes>> {
    let mut b = Request::builder().method(c.method.clone()).uri("/");
    for a in &c.accept {
        b = b.header(header::ACCEPT_ENCODING, *a);
    }
    b.body(Full::new(Bytes::new())).unwrap()
}

fn response(c: &Case) -> Response<Full<Bytes>> {
    let mut b = Response::builder().status(c.status);
    if let Some(t) = c.content_type {
        b = b.header(header::CONTENT_TYPE, t);
    }
    if let Some(e) = c.content_encoding {
        b = b.header(header::CONTENT_ENCODING, e);
    }
    if c.content_range {
        b = b.header(header::CONTENT_RANGE, "bytes 0-9/100");
    }
    if c.content_length {
        b = b.header(header::CONTENT_LENGTH, c.body.len());
    }
    b = b.header(header::ACCEPT_RANGES, "bytes");
    let body = if c.method == Method::HEAD {
        Bytes::new()
    } else {
        c.body.clone()
    };
    b.body(Full::new(body)).unwrap()
}

/// What a client sees of a response's headers.
#[derive(Debug, PartialEq)]
struct Outcome {
    status: StatusCode,
    encoding: Option<String>,
    vary: bool,
    content_length: bool,
    accept_ranges: bool,
}

fn outcome(h: &HeaderMap, status: StatusCode) -> Outcome {
    Outcome {
        status,
        encoding: h
            .get(header::CONTENT_ENCODING)
            .map(|v| v.to_str().unwrap().to_string()),
        vary: h.get_all(header::VARY).iter().any(|v| {
            v.to_str()
                .unwrap()
                .to_ascii_lowercase()
                .contains("accept-encoding")
        }),
        content_length: h.contains_key(header::CONTENT_LENGTH),
        accept_ranges: h.contains_key(header::ACCEPT_RANGES),
    }
}

fn decode(encoding: Option<&str>, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    match encoding {
        Some("gzip") => {
            flate2::read::GzDecoder::new(data)
                .read_to_end(&mut out)
                .unwrap();
        }
        Some("deflate") => {
            flate2::read::ZlibDecoder::new(data)
                .read_to_end(&mut out)
                .unwrap();
        }
        Some("br") => {
            brotli_decode(data, &mut out);
        }
        Some("zstd") => {
            zstd_decode(data, &mut out);
        }
        _ => out.extend_from_slice(data),
    }
    out
}

/// async-compression's decoders (what tower-http's decompression uses), driven to the end on a small runtime.
fn brotli_decode(data: &[u8], out: &mut Vec<u8>) {
    use tokio::io::AsyncReadExt;
    block_on(async_compression::tokio::bufread::BrotliDecoder::new(data).read_to_end(out)).unwrap();
}

fn zstd_decode(data: &[u8], out: &mut Vec<u8>) {
    use tokio::io::AsyncReadExt;
    block_on(async_compression::tokio::bufread::ZstdDecoder::new(data).read_to_end(out)).unwrap();
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    // Reading from a slice never waits: one poll finishes it.
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match std::pin::pin!(f).poll(&mut cx) {
        std::task::Poll::Ready(v) => v,
        std::task::Poll::Pending => panic!("decoding a slice waited"),
    }
}

async fn ours(accel: &Accel, c: &Case) -> (Outcome, Vec<u8>) {
    let case = c.clone();
    let svc = CompressionLayer::new(accel.clone()).layer(tower::service_fn(
        move |_req: Request<Full<Bytes>>| {
            let r = response(&case);
            async move { Ok::<_, Infallible>(r) }
        },
    ));
    let res = svc.oneshot(request(c)).await.unwrap();
    let o = outcome(res.headers(), res.status());
    let body = res.into_body().collect().await.unwrap().to_bytes();
    // A response that came already encoded passes as it is.
    let applied = o
        .encoding
        .as_deref()
        .filter(|_| c.content_encoding.is_none());
    let plain = decode(applied, &body);
    (o, plain)
}

async fn theirs(c: &Case) -> Outcome {
    let case = c.clone();
    let svc = tower_http::compression::CompressionLayer::new().layer(tower::service_fn(
        move |_req: Request<Full<Bytes>>| {
            let r = response(&case);
            async move { Ok::<_, Infallible>(r) }
        },
    ));
    let res = svc.oneshot(request(c)).await.unwrap();
    outcome(res.headers(), res.status())
}

fn cases() -> Vec<Case> {
    let mut v = vec![
        Case::new("no accept-encoding", &[]),
        Case::new("gzip", &["gzip"]),
        Case::new("x-gzip", &["x-gzip"]),
        Case::new("deflate", &["deflate"]),
        Case::new("gzip, deflate (tie → gzip)", &["gzip, deflate"]),
        Case::new("deflate preferred by q", &["gzip;q=0.5, deflate"]),
        Case::new("gzip preferred by q", &["gzip;q=0.9, deflate;q=0.8"]),
        Case::new("q=0 refuses gzip", &["gzip;q=0, deflate;q=0.1"]),
        Case::new("br", &["br"]),
        Case::new("zstd", &["zstd"]),
        Case::new("br, zstd (tie → zstd)", &["br, zstd"]),
        Case::new("gzip, deflate, br (tie → br)", &["gzip, deflate, br"]),
        Case::new("everything (tie → zstd)", &["gzip, deflate, br, zstd"]),
        Case::new("br preferred by q", &["zstd;q=0.5, br;q=0.8, gzip;q=0.7"]),
        Case::new("gzip preferred by q over br", &["gzip;q=0.9, br;q=0.8"]),
        Case::new("zstd refused", &["zstd;q=0, br;q=0.1"]),
        Case::new("BR upper case", &["BR;Q=0.5, Zstd;q=0.4"]),
        Case::new("only unknown codings", &["compress, lzma"]),
        Case::new("identity only", &["identity"]),
        Case::new("identity;q=0 alone → 406", &["identity;q=0"]),
        Case::new("identity;q=0 with gzip", &["identity;q=0, gzip"]),
        Case::new("identity;q=0 with br", &["identity;q=0, br"]),
        Case::new(
            "identity;q=0 with unknown only → 406",
            &["identity;q=0, compress"],
        ),
        Case::new("* wildcard", &["*"]),
        Case::new("*;q=0 → 406", &["*;q=0"]),
        Case::new("* with gzip;q=0", &["gzip;q=0, *"]),
        Case::new("*;q=0.5 and deflate", &["*;q=0.5, deflate"]),
        Case::new("* with zstd and br refused", &["zstd;q=0, br;q=0, *"]),
        Case::new("*;q=0 and br", &["*;q=0, br"]),
        Case::new("* q=0 but identity allowed", &["*;q=0, identity"]),
        Case::new("two headers", &["br", "deflate;q=0.3, gzip;q=0.2"]),
        Case::new(
            "two headers, br lower",
            &["br;q=0.1", "deflate;q=0.3, gzip;q=0.2"],
        ),
        Case::new("case and spaces", &["  GZIP ;q=1 , Deflate;Q=0.7"]),
        Case::new("malformed q ignored", &["gzip;q=2, deflate;q=abc"]),
        Case::new("three decimals", &["gzip;q=0.001, deflate;q=0.002"]),
    ];
    let g = ["gzip"];
    let mut small = Case::new("small body under threshold", &g);
    small.body = Bytes::from_static(b"tiny");
    v.push(small);
    let mut exact = Case::new("exactly 32 bytes", &g);
    exact.body = Bytes::from(vec![b'a'; 32]);
    v.push(exact);
    let mut enc = Case::new("already encoded", &g);
    enc.content_encoding = Some("br");
    v.push(enc);
    let mut range = Case::new("content-range", &g);
    range.content_range = true;
    range.status = StatusCode::PARTIAL_CONTENT;
    v.push(range);
    for ct in [
        "image/png",
        "image/svg+xml",
        "text/event-stream",
        "application/grpc",
        "application/grpc-web+proto",
        "application/json",
    ] {
        let mut c = Case::new("content type", &g);
        c.content_type = Some(ct);
        v.push(c);
    }
    let mut none = Case::new("no content type", &g);
    none.content_type = None;
    v.push(none);
    let mut head = Case::new("HEAD", &g);
    head.method = Method::HEAD;
    v.push(head);
    for st in [StatusCode::NO_CONTENT, StatusCode::NOT_MODIFIED] {
        let mut c = Case::new("empty status", &g);
        c.status = st;
        c.body = Bytes::new();
        v.push(c);
    }
    let mut nolen = Case::new("no content-length (streaming)", &g);
    nolen.content_length = false;
    v.push(nolen);
    v
}

async fn accels() -> Vec<Accel> {
    vec![
        Accel::builder()
            .backend(Backend::Emulated)
            .build()
            .await
            .unwrap(),
        Accel::builder()
            .backend(Backend::Cpu)
            .build()
            .await
            .unwrap(),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rule_matches_tower_http() {
    for accel in accels().await {
        for c in cases() {
            let (o, plain) = ours(&accel, &c).await;
            let t = theirs(&c).await;
            assert_eq!(
                o, t,
                "case `{}` {:?} {:?}",
                c.name, c.accept, c.content_type
            );
            if c.method != Method::HEAD && o.status == c.status {
                assert_eq!(plain, c.body, "case `{}`: decoded body", c.name);
            }
        }
    }
}

/// Where this layer deliberately differs from tower-http's default: it leaves already-compressed media alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_is_not_compressed() {
    let accel = Accel::builder()
        .backend(Backend::Emulated)
        .build()
        .await
        .unwrap();
    for ct in ["video/mp4", "audio/ogg"] {
        let mut c = Case::new("media", &["gzip"]);
        c.content_type = Some(ct);
        let (o, plain) = ours(&accel, &c).await;
        assert_eq!(o.encoding, None, "{ct}");
        assert!(o.content_length);
        assert_eq!(plain, c.body);
        // tower-http compresses these.
        assert_eq!(theirs(&c).await.encoding.as_deref(), Some("gzip"));
    }
}

/// A streamed body of many frames with trailers: compressed as one stream, trailers passed on, and an error in
/// the inner body surfaces as a body error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streaming_trailers_and_errors() {
    for accel in accels().await {
        let chunks: Vec<Bytes> = (0..300)
            .map(|i| Bytes::from(format!("line {i} of a long streamed response\n").repeat(20)))
            .collect();
        let expect: Vec<u8> = chunks.iter().flat_map(|c| c.iter().copied()).collect();
        let frames = chunks.clone();
        let svc = CompressionLayer::new(accel.clone()).layer(tower::service_fn(
            move |_req: Request<Full<Bytes>>| {
                let mut items: Vec<Result<Frame<Bytes>, Infallible>> =
                    frames.iter().cloned().map(|b| Ok(Frame::data(b))).collect();
                let mut t = HeaderMap::new();
                t.insert("x-checksum", "abc".parse().unwrap());
                items.push(Ok(Frame::trailers(t)));
                let body = StreamBody::new(futures_stream(items));
                async move { Ok::<_, Infallible>(Response::new(body)) }
            },
        ));
        for coding in ["gzip", "deflate", "br", "zstd"] {
            let req = Request::builder()
                .header(header::ACCEPT_ENCODING, coding)
                .body(Full::new(Bytes::new()))
                .unwrap();
            let res = svc.clone().oneshot(req).await.unwrap();
            assert_eq!(res.headers()[header::CONTENT_ENCODING], coding);
            let collected = res.into_body().collect().await.unwrap();
            assert_eq!(collected.trailers().unwrap()["x-checksum"], "abc");
            assert_eq!(
                decode(Some(coding), &collected.to_bytes()),
                expect,
                "{coding}"
            );
        }

        // An inner body error.
        let svc =
            CompressionLayer::new(accel.clone()).layer(tower::service_fn(
                |_req: Request<Full<Bytes>>| {
                    let items: Vec<Result<Frame<Bytes>, std::io::Error>> = vec![
                        Ok(Frame::data(Bytes::from(vec![b'x'; 100_000]))),
                        Err(std::io::Error::other("backend went away")),
                    ];
                    async move {
                        Ok::<_, Infallible>(Response::new(StreamBody::new(futures_stream(items))))
                    }
                },
            ));
        let req = Request::builder()
            .header(header::ACCEPT_ENCODING, "deflate")
            .body(Full::new(Bytes::new()))
            .unwrap();
        let mut res = svc.oneshot(req).await.unwrap();
        let mut saw_error = false;
        while let Some(f) = res.body_mut().frame().await {
            if let Err(e) = f {
                assert!(e.to_string().contains("backend went away"));
                saw_error = true;
                break;
            }
        }
        assert!(saw_error);
    }
}

/// A tiny `Stream` over a Vec (no extra dependency).
fn futures_stream<T: Unpin>(items: Vec<T>) -> VecStream<T> {
    VecStream(items.into_iter().collect())
}

struct VecStream<T>(std::collections::VecDeque<T>);

impl<T: Unpin> futures_core_shim::Stream for VecStream<T> {
    type Item = T;
    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<T>> {
        std::task::Poll::Ready(self.0.pop_front())
    }
}

mod futures_core_shim {
    pub use futures_core::Stream;
}

#[allow(dead_code)]
fn assert_body<B: Body>() {}

/// Semi-compressible text (about 4:1 at deflate level 1), deterministic.
fn text(n: usize) -> Bytes {
    let mut s = String::with_capacity(n + 64);
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    while s.len() < n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s.push_str(&format!(
            "{{\"id\":{},\"v\":\"{:x}\"}},",
            x % 100_000,
            x >> 40
        ));
    }
    s.truncate(n);
    Bytes::from(s)
}

const CODINGS: [&str; 4] = ["gzip", "deflate", "br", "zstd"];

/// br and zstd at each quality: about the same size (within 10 %: the codecs see the input in different pieces)
/// as tower-http's output at that quality, and both decode to the body. The knob means the same in both layers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quality_matches_tower_http() {
    use uacce_tower::CompressionLevel as Q;
    let accel = Accel::builder()
        .backend(Backend::Cpu)
        .build()
        .await
        .unwrap();
    let body = text(200_000);
    for (ours_q, theirs_q) in [
        (Q::Default, tower_http::CompressionLevel::Default),
        (Q::Fastest, tower_http::CompressionLevel::Fastest),
        (Q::Precise(9), tower_http::CompressionLevel::Precise(9)),
        (Q::Best, tower_http::CompressionLevel::Best),
    ] {
        for coding in ["br", "zstd"] {
            let b = body.clone();
            let inner = tower::service_fn(move |_req: Request<Full<Bytes>>| {
                let r = Response::new(Full::new(b.clone()));
                async move { Ok::<_, Infallible>(r) }
            });
            let req = || {
                Request::builder()
                    .header(header::ACCEPT_ENCODING, coding)
                    .body(Full::new(Bytes::new()))
                    .unwrap()
            };
            let ours = CompressionLayer::new(accel.clone())
                .quality(ours_q)
                .layer(inner.clone())
                .oneshot(req())
                .await
                .unwrap();
            assert_eq!(ours.headers()[header::CONTENT_ENCODING], coding);
            let ours = ours.into_body().collect().await.unwrap().to_bytes();
            let theirs = tower_http::compression::CompressionLayer::new()
                .quality(theirs_q)
                .layer(inner)
                .oneshot(req())
                .await
                .unwrap();
            assert_eq!(theirs.headers()[header::CONTENT_ENCODING], coding);
            let theirs = theirs.into_body().collect().await.unwrap().to_bytes();
            assert_eq!(decode(Some(coding), &ours), body, "{coding} {ours_q:?}");
            assert_eq!(decode(Some(coding), &theirs), body, "{coding} {ours_q:?}");
            let ratio = ours.len() as f64 / theirs.len() as f64;
            assert!(
                (0.9..=1.1).contains(&ratio),
                "{coding} {ours_q:?}: {} bytes, tower-http {} bytes",
                ours.len(),
                theirs.len()
            );
        }
    }
}

/// The data frames of a ready body: one frame while the compressed body is below `MIN_FRAME`, else frames of at
/// least `MIN_FRAME` but the last. (Small frames make several small writes per response: Nagle stalls.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_are_coalesced() {
    for accel in accels().await {
        for (n, one) in [(100_000, true), (4_000_000, false)] {
            let body = text(n);
            for coding in CODINGS {
                let b = body.clone();
                let svc = CompressionLayer::new(accel.clone()).layer(tower::service_fn(
                    move |_req: Request<Full<Bytes>>| {
                        let r = Response::new(Full::new(b.clone()));
                        async move { Ok::<_, Infallible>(r) }
                    },
                ));
                let req = Request::builder()
                    .header(header::ACCEPT_ENCODING, coding)
                    .body(Full::new(Bytes::new()))
                    .unwrap();
                let mut res = svc.oneshot(req).await.unwrap();
                let mut frames = Vec::new();
                while let Some(f) = res.body_mut().frame().await {
                    frames.push(f.unwrap().into_data().unwrap());
                }
                let all: Vec<u8> = frames.iter().flat_map(|f| f.iter().copied()).collect();
                assert_eq!(decode(Some(coding), &all), body, "{coding} {n}");
                let sizes: Vec<usize> = frames.iter().map(Bytes::len).collect();
                if one {
                    assert!(
                        all.len() < uacce_tower::MIN_FRAME,
                        "{coding}: {}",
                        all.len()
                    );
                    assert_eq!(sizes.len(), 1, "{coding} {n}: {sizes:?}");
                } else {
                    assert!(
                        all.len() > 2 * uacce_tower::MIN_FRAME,
                        "{coding}: {}",
                        all.len()
                    );
                    // Brotli keeps its input until its window is full or the stream ends: one frame may be all.
                    assert!(sizes.len() > 1 || coding == "br", "{coding} {n}: {sizes:?}");
                    assert!(
                        sizes[..sizes.len() - 1]
                            .iter()
                            .all(|&s| s >= uacce_tower::MIN_FRAME),
                        "{coding} {n}: {sizes:?}"
                    );
                }
            }
        }
    }
}

/// A body that yields what its channel gets and is pending in between.
struct ChanBody(tokio::sync::mpsc::Receiver<Bytes>);

impl Body for ChanBody {
    type Data = Bytes;
    type Error = Infallible;
    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.0.poll_recv(cx).map(|o| o.map(|b| Ok(Frame::data(b))))
    }
}

/// Coalescing never holds data past a flush: with the inner body pending, the head goes out at once (nothing to
/// send yet), and each piece the inner body yields reaches the client, decodable, before the next one is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_inner_body_is_flushed() {
    use std::time::Duration;
    for accel in accels().await {
        for coding in ["gzip", "deflate"] {
            let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(4);
            let rx = std::sync::Mutex::new(Some(rx));
            let svc = CompressionLayer::new(accel.clone()).layer(tower::service_fn(
                move |_req: Request<Full<Bytes>>| {
                    let body = ChanBody(rx.lock().unwrap().take().unwrap());
                    async move { Ok::<_, Infallible>(Response::new(body)) }
                },
            ));
            let req = Request::builder()
                .header(header::ACCEPT_ENCODING, coding)
                .body(Full::new(Bytes::new()))
                .unwrap();
            let mut res = tokio::time::timeout(Duration::from_secs(5), svc.oneshot(req))
                .await
                .expect("the head is not held while the inner body is idle")
                .unwrap();
            assert_eq!(res.headers()[header::CONTENT_ENCODING], coding);
            let mut wire = Vec::new();
            let mut sent = Vec::new();
            for i in 0..3 {
                // The second piece is one chunk exactly: a step without a flush, then an empty sync-flush step.
                let piece = text([1000, 65_536, 101_000][i]);
                sent.extend_from_slice(&piece);
                tx.send(piece).await.unwrap();
                let f = tokio::time::timeout(Duration::from_secs(5), res.body_mut().frame())
                    .await
                    .expect("a piece is flushed while the inner body is pending")
                    .unwrap()
                    .unwrap();
                wire.extend_from_slice(&f.into_data().unwrap());
                assert_eq!(partial_decode(coding, &wire), sent, "{coding} piece {i}");
            }
            drop(tx);
            while let Some(f) = res.body_mut().frame().await {
                wire.extend_from_slice(&f.unwrap().into_data().unwrap());
            }
            assert_eq!(decode(Some(coding), &wire), sent);
        }
    }
}

/// Decode a stream that is not finished yet (sync-flushed so far).
fn partial_decode(coding: &str, wire: &[u8]) -> Vec<u8> {
    use std::io::Write;
    match coding {
        "gzip" => {
            let mut d = flate2::write::GzDecoder::new(Vec::new());
            d.write_all(wire).unwrap();
            d.flush().unwrap();
            d.get_ref().clone()
        }
        _ => {
            let mut d = flate2::write::ZlibDecoder::new(Vec::new());
            d.write_all(wire).unwrap();
            d.flush().unwrap();
            d.get_ref().clone()
        }
    }
}
