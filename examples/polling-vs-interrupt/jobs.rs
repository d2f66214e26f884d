//! Job inputs, the CPU versions of the jobs and the library's jobs.

use super::*;

/// Compressible, log-like text (about 4:1 with deflate level 1).
pub(crate) fn sample(len: usize) -> Bytes {
    let mut out = Vec::with_capacity(len + 64);
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let words = [
        "GET",
        "POST",
        "/api/v1/items",
        "/static/app.js",
        "200",
        "404",
        "user",
        "session",
        "ok",
        "latency_ms",
        "cache",
        "miss",
        "hit",
    ];
    let mut i = 0u64;
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let _ = write!(
            LenWriter(&mut out),
            "{i} {} {} {}={} ",
            words[(x % 13) as usize],
            words[((x >> 8) % 13) as usize],
            words[((x >> 16) % 13) as usize],
            (x >> 24) % 1000
        );
        if x.is_multiple_of(5) {
            out.push(b'\n');
        }
        i += 1;
    }
    out.truncate(len);
    Bytes::from(out)
}

pub(crate) struct LenWriter<'a>(&'a mut Vec<u8>);
impl std::fmt::Write for LenWriter<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

pub(crate) const KEY: [u8; 32] = [0x42; 32];

thread_local! {
    /// This thread's nonces under [`KEY`]: a counter after a fixed field drawn from the OS RNG once per thread (a
    /// counter alone would repeat nonces under the fixed key at every run).
    static NONCES: std::cell::RefCell<NonceSequence> = std::cell::RefCell::new(NonceSequence::new({
        let seed = Nonce::random().expect("OS random numbers");
        let mut fixed = [0u8; 4];
        fixed.copy_from_slice(&seed.as_bytes()[..4]);
        fixed
    }));
}

/// A fresh nonce for one seal under [`KEY`]; the CPU jobs, the library's jobs and the UADK-style path all pay
/// the same for it (a counter step, no syscall).
pub(crate) fn next_nonce() -> Nonce {
    NONCES.with(|s| s.borrow_mut().advance().expect("2^64 nonces per thread"))
}

/// The job on the CPU (flate2 with zlib-rs at level 1, as the emulated ZIP engine; RustCrypto AES-GCM and SHA-256).
pub(crate) fn cpu_job(job: Job, data: &[u8]) -> usize {
    use aes_gcm::aead::{AeadInPlace, KeyInit};
    use sha2::Digest;
    match job {
        Job::Null => 0,
        Job::Gzip4k | Job::Gzip64k => {
            let mut e = flate2::write::GzEncoder::new(
                Vec::with_capacity(data.len() / 2 + 64),
                flate2::Compression::new(1),
            );
            std::io::Write::write_all(&mut e, data).expect("vec write");
            e.finish().expect("vec write").len()
        }
        Job::Gcm4k => {
            let c = aes_gcm::Aes256Gcm::new_from_slice(&KEY).expect("key length");
            let mut buf = data.to_vec();
            let tag = c
                .encrypt_in_place_detached(next_nonce().as_bytes().into(), b"", &mut buf)
                .expect("gcm");
            buf.len() + tag.len()
        }
        Job::Sha4k => sha2::Sha256::digest(data).len(),
    }
}

// The library's jobs.

/// True if `job` runs on devices when compression (`zip`) and crypto (`sec`) are offloaded as given.
pub(crate) fn job_served(job: Job, zip: bool, sec: bool) -> bool {
    match job {
        Job::Null => true,
        Job::Gzip4k | Job::Gzip64k => zip,
        Job::Gcm4k | Job::Sha4k => sec,
    }
}

pub(crate) async fn accel_job(
    accel: &Accel,
    key: &AeadKey,
    job: Job,
    data: &Bytes,
) -> Result<(), BoxError> {
    match job {
        Job::Null => accel.nop().await?,
        Job::Gzip4k | Job::Gzip64k => {
            accel.compress(Format::Gzip, data.clone()).await?;
        }
        Job::Gcm4k => {
            accel
                .aes_gcm_seal(key, next_nonce(), b"", data.clone())
                .await?;
        }
        Job::Sha4k => {
            accel.digest(HashAlg::Sha256, data.clone()).await?;
        }
    }
    Ok(())
}
