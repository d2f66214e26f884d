//! The `uacce_job` span of each job. A test binary of its own: tracing caches a callsite's interest process-wide,
//! and tests running in parallel threads without a subscriber would make it "never" under this test's feet.

use uacce_async::*;

/// A subscriber that keeps, per `uacce_job` span, the values recorded into its `route` and `outcome` fields.
mod spans {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Arc, Mutex};
    use tracing::field::{Field, Visit};
    use tracing::span::{Attributes, Id, Record};
    use tracing::{Event, Metadata, Subscriber};

    #[derive(Default)]
    pub struct Spans {
        next: AtomicU64,
        /// (span name, field, value) in the order recorded.
        pub records: Arc<Mutex<Vec<(String, String, String)>>>,
        names: Mutex<Vec<(u64, String)>>,
    }

    struct Fields<'a>(&'a mut Vec<(String, String)>);
    impl Visit for Fields<'_> {
        fn record_str(&mut self, f: &Field, v: &str) {
            self.0.push((f.name().into(), v.into()));
        }
        fn record_debug(&mut self, f: &Field, v: &dyn std::fmt::Debug) {
            self.0.push((f.name().into(), format!("{v:?}")));
        }
    }

    impl Subscriber for Spans {
        fn enabled(&self, _: &Metadata<'_>) -> bool {
            true
        }
        fn new_span(&self, a: &Attributes<'_>) -> Id {
            let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
            let name = a.metadata().name().to_string();
            let mut f = Vec::new();
            a.record(&mut Fields(&mut f));
            let mut r = self.records.lock().unwrap();
            for (k, v) in f {
                r.push((name.clone(), k, v));
            }
            self.names.lock().unwrap().push((id, name));
            Id::from_u64(id)
        }
        fn record(&self, id: &Id, values: &Record<'_>) {
            let name = self
                .names
                .lock()
                .unwrap()
                .iter()
                .find(|(i, _)| *i == id.into_u64())
                .map(|(_, n)| n.clone())
                .unwrap_or_default();
            let mut f = Vec::new();
            values.record(&mut Fields(&mut f));
            let mut r = self.records.lock().unwrap();
            for (k, v) in f {
                r.push((name.clone(), k, v));
            }
        }
        fn record_follows_from(&self, _: &Id, _: &Id) {}
        fn event(&self, _: &Event<'_>) {}
        fn enter(&self, _: &Id) {}
        fn exit(&self, _: &Id) {}
    }
}

/// With a subscriber at debug level, every job has a `uacce_job` span that names its family, size, route and outcome.
#[test]
fn each_job_has_a_debug_span_with_its_route() {
    let spans = spans::Spans::default();
    let records = spans.records.clone();
    let _guard = tracing::subscriber::set_default(spans);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let accel = Accel::builder()
            .backend(Backend::Emulated)
            .min_device_bytes(Family::Digest, 100)
            .build()
            .await
            .unwrap();
        accel.digest(HashAlg::Sha256, vec![1u8; 10]).await.unwrap();
        accel
            .digest(HashAlg::Sha256, vec![1u8; 1000])
            .await
            .unwrap();
    });
    let r = records.lock().unwrap();
    let jobs: Vec<_> = r.iter().filter(|(n, _, _)| n == "uacce_job").collect();
    let values = |field: &str| -> Vec<String> {
        jobs.iter()
            .filter(|(_, f, _)| f == field)
            .map(|(_, _, v)| v.clone())
            .collect()
    };
    assert_eq!(values("family"), ["digest", "digest"], "{jobs:?}");
    assert_eq!(values("bytes"), ["10", "1000"], "{jobs:?}");
    assert_eq!(values("route"), ["cpu-inline", "device"], "{jobs:?}");
    assert_eq!(values("outcome"), ["ok", "ok"], "{jobs:?}");
}
