//! Per-operation time of the HPRE software engine (`uacce_soft::pkey::execute`, what the emulated HPRE device runs
//! for each SQE) on RSA and DH blocks laid out for the hardware: RSA-2048 CRT private, RSA-2048 non-CRT private and
//! public, RSA-1024 CRT private, DH on the 2048-bit modulus. Prints the fastest and the median of `N` runs per
//! operation (the fastest is the figure least disturbed by other load on the machine).
//!
//! ```sh
//! cargo run --release -p uacce-soft --example pkey-ops            # N = 20
//! cargo run --release -p uacce-soft --example pkey-ops -- 5
//! valgrind --tool=callgrind target/release/examples/pkey-ops 1    # instruction counts, independent of load
//! ```

#[path = "../tests/vectors.rs"]
mod vectors;

use std::time::{Duration, Instant};

use uacce_soft::pkey::{PkeyJob, PkeyOutput, execute};
use uacce_sys::qm::hpre::HpreAlg;
use uacce_sys::qm::hpre::layout;
use vectors::{RSA1024, RSA2048, RsaVector};

fn hex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("hex"))
        .collect()
}

fn crt_block(v: &RsaVector, k: usize) -> Vec<u8> {
    layout::rsa_crt_block(
        &hex(v.dq),
        &hex(v.dp),
        &hex(v.q),
        &hex(v.p),
        &hex(v.qinv),
        k,
    )
    .expect("CRT block")
}

/// Run `job` `n` times; (fastest, median) per run. Every run's result is checked against `want`.
fn time(job: &PkeyJob<'_>, want: &[u8], n: usize) -> (Duration, Duration) {
    let mut runs = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let out = execute(job);
        runs.push(t.elapsed());
        match out {
            Ok(PkeyOutput::Data(d)) => assert_eq!(d, want, "{:?} gave a wrong result", job.alg),
            other => panic!("{:?}: {other:?}", job.alg),
        }
    }
    runs.sort();
    (runs[0], runs[n / 2])
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse().expect("N: a number of runs"))
        .unwrap_or(20)
        .max(1);
    let (v, k) = (&RSA2048, 256);
    let (e, nn, d, m, c) = (hex(v.e), hex(v.n), hex(v.d), hex(v.m), hex(v.c));
    let public = layout::rsa_key_block(&e, &nn, k).expect("public block");
    let private = layout::rsa_key_block(&d, &nn, k).expect("private block");
    let crt = crt_block(v, k);
    let (v1, k1) = (&RSA1024, 128);
    let crt1 = crt_block(v1, k1);
    let (m1, c1) = (hex(v1.m), hex(v1.c));
    let job = |alg, width, key, input| PkeyJob {
        alg,
        width,
        key,
        input,
        msg_len: 0,
        random_k: false,
    };
    // DH with the RSA-2048 modulus (odd, 2048 bits) and d as the private exponent: g = m.
    let dh_key = layout::dh_key_block(&d, &nn, k).expect("DH block");
    let dh_want = match execute(&job(HpreAlg::Dh, k, &dh_key, &m)) {
        Ok(PkeyOutput::Data(d)) => d,
        other => panic!("DH: {other:?}"),
    };
    let cases: [(&str, PkeyJob<'_>, &[u8]); 5] = [
        (
            "RSA-2048 private, CRT (0x01)",
            job(HpreAlg::RsaCrt, k, &crt, &c),
            &m,
        ),
        (
            "RSA-2048 private, non-CRT (0x00)",
            job(HpreAlg::RsaNonCrt, k, &private, &c),
            &m,
        ),
        (
            "RSA-2048 public, e = 65537 (0x00)",
            job(HpreAlg::RsaNonCrt, k, &public, &m),
            &c,
        ),
        (
            "RSA-1024 private, CRT (0x01)",
            job(HpreAlg::RsaCrt, k1, &crt1, &c1),
            &m1,
        ),
        (
            "DH 2048-bit modulus (0x05)",
            job(HpreAlg::Dh, k, &dh_key, &m),
            &dh_want,
        ),
    ];
    println!(
        "{:<36} {:>12} {:>12}   ({n} runs each)",
        "operation", "fastest µs", "median µs"
    );
    for (name, j, want) in &cases {
        let (min, med) = time(j, want, n);
        println!(
            "{name:<36} {:>12.0} {:>12.0}",
            min.as_secs_f64() * 1e6,
            med.as_secs_f64() * 1e6
        );
    }
}
