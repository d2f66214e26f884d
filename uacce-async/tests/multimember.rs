//! Multi-member gzip (issue 13): files written by the gzip CLI (`gzip -c a > x; gzip -c b >> x`), by Python's
//! gzip module and in BGZF (what `bgzip` writes) decode equal to `gzip -dc`'s output, one-shot and streaming, on the
//! emulator and the CPU backend; the first-member-only options; the output limit across members.

mod common;

use std::io::Write;
use std::process::Command;

use bytes::Bytes;
use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use uacce_async::*;

async fn accels() -> Vec<Accel> {
    vec![emu_default(NotifyMode::Eventfd).await, cpu().await]
}

/// `gzip -dc` of `data` (gzip is on every machine the tests run on; CI's Debian has it as an essential package).
fn gzip_dc(data: &[u8]) -> Vec<u8> {
    pipe_through(Command::new("gzip").arg("-dc"), data)
}

/// Three members written by the gzip CLI, appended as `gzip -c a > x; gzip -c b >> x; gzip -c c >> x` does.
fn gzip_cli_members(parts: &[Vec<u8>]) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let x = dir.path().join("x.gz");
    let mut script = String::from("set -e; : > x.gz; ");
    for (i, p) in parts.iter().enumerate() {
        std::fs::write(dir.path().join(format!("p{i}")), p).unwrap();
        script.push_str(&format!("gzip -c p{i} >> x.gz; "));
    }
    let st = Command::new("sh")
        .arg("-c")
        .arg(script)
        .current_dir(dir.path())
        .status()
        .unwrap();
    assert!(st.success());
    std::fs::read(x).unwrap()
}

/// Members written by Python's gzip module (`gzip.compress` per part, joined).
fn python_members(parts: &[Vec<u8>]) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let mut names = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        let n = dir.path().join(format!("p{i}"));
        std::fs::write(&n, p).unwrap();
        names.push(format!("{:?}", n.to_str().unwrap()));
    }
    let out = Command::new("python3")
        .arg("-c")
        .arg(format!(
            "import gzip,sys; sys.stdout.buffer.write(b''.join(gzip.compress(open(n,'rb').read()) for n in [{}]))",
            names.join(",")
        ))
        .output()
        .expect("python3 must be installed for this test");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// BGZF as the SAM specification defines it (what `bgzip` writes): gzip members of at most 64 KiB, each with an
/// FEXTRA subfield 'B','C' (length 2) holding the member's size minus one, and the fixed empty member at the end.
fn bgzf(data: &[u8]) -> Vec<u8> {
    use flate2::{Compression, write::DeflateEncoder};
    let mut out = Vec::new();
    for block in data.chunks(0xff00) {
        let mut e = DeflateEncoder::new(Vec::new(), Compression::new(6));
        e.write_all(block).unwrap();
        let body = e.finish().unwrap();
        let bsize = 18 + body.len() + 8 - 1;
        let mut m = vec![
            0x1f, 0x8b, 8, 4, 0, 0, 0, 0, 0, 0xff, 6, 0, b'B', b'C', 2, 0,
        ];
        m.extend_from_slice(&(bsize as u16).to_le_bytes());
        m.extend_from_slice(&body);
        m.extend_from_slice(&crc32fast::hash(block).to_le_bytes());
        m.extend_from_slice(&(block.len() as u32).to_le_bytes());
        out.extend_from_slice(&m);
    }
    // The BGZF end-of-file marker (SAM spec §4.1.2).
    out.extend_from_slice(&[
        0x1f, 0x8b, 8, 4, 0, 0, 0, 0, 0, 0xff, 6, 0, b'B', b'C', 2, 0, 0x1b, 0, 3, 0, 0, 0, 0, 0,
        0, 0, 0, 0,
    ]);
    out
}

fn parts() -> Vec<Vec<u8>> {
    let mut r = Rng::new(13);
    vec![r.text(100_000), Vec::new(), r.text(300_000)]
}

/// The inputs of every test: (name, file, what `gzip -dc` makes of it).
fn samples() -> Vec<(&'static str, Vec<u8>, Vec<u8>)> {
    let p = parts();
    let plain: Vec<u8> = p.concat();
    let mut s = vec![
        ("gzip cli", gzip_cli_members(&p)),
        ("python", python_members(&p)),
        ("bgzf", bgzf(&plain)),
        ("bgzf empty", bgzf(&[])),
    ];
    // pigz-like: many small members of one file.
    s.push((
        "small members",
        python_members(&plain.chunks(5000).map(<[u8]>::to_vec).collect::<Vec<_>>()),
    ));
    s.into_iter()
        .map(|(n, f)| {
            let want = gzip_dc(&f);
            (n, f, want)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_shot_decodes_every_member() {
    let samples = samples();
    assert_eq!(samples[0].2, parts().concat());
    for accel in accels().await {
        for (name, file, want) in &samples {
            let got = accel.decompress(Format::Gzip, file.clone()).await;
            let got = got.unwrap_or_else(|e| panic!("{name} on {}: {e}", accel.description()));
            assert!(got == want[..], "{name} on {}", accel.description());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_shot_first_member_and_trailing_data() {
    let p = parts();
    let file = Bytes::from(python_members(&p));
    for accel in accels().await {
        let d = accel.description();
        let (first, used) = accel
            .decompress_first_member(Format::Gzip, file.clone())
            .await
            .unwrap();
        assert_eq!(first, p[0], "{d}");
        // The rest starts with the next member.
        let (second, used2) = accel
            .decompress_first_member(Format::Gzip, file.slice(used..))
            .await
            .unwrap();
        assert!(second.is_empty(), "{d}");
        assert_eq!(file[used + used2..][..2], [0x1f, 0x8b], "{d}");
        // Bytes after the last member that are not a member: CorruptData, as before (gzip -dc warns and exits 2).
        for junk in [&b"junk"[..], &[0u8; 8][..], &[0x1f][..]] {
            let mut bad = file.to_vec();
            bad.extend_from_slice(junk);
            match accel.decompress(Format::Gzip, bad).await {
                Err(Error::CorruptData(m)) => assert!(m.contains("trailing"), "{d}: {m}"),
                other => panic!("{d}: {other:?}"),
            }
        }
        // A corrupt second member is CorruptData, not the first member's output.
        let mut bad = file.to_vec();
        let l = bad.len();
        bad[l - 6] ^= 0x40;
        assert!(
            matches!(
                accel.decompress(Format::Gzip, bad).await,
                Err(Error::CorruptData(_))
            ),
            "{d}"
        );
        // zlib has no members: a second zlib stream after the first is trailing data.
        let z = accel.compress(Format::Zlib, &b"abc"[..]).await.unwrap();
        let zz = [&z[..], &z[..]].concat();
        assert!(matches!(
            accel.decompress(Format::Zlib, zz.clone()).await,
            Err(Error::CorruptData(_))
        ));
        let (one, used) = accel
            .decompress_first_member(Format::Zlib, zz)
            .await
            .unwrap();
        assert_eq!((&one[..], used), (&b"abc"[..], z.len()), "{d}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_limit_holds_across_members() {
    // Two members of 600 000 bytes each: each fits a 1 MiB limit, both together do not.
    let part = Rng::new(5).text(600_000);
    let two = python_members(&[part.clone(), part.clone()]);
    let bg = bgzf(&[part.clone(), part.clone()].concat());
    for accel in accels().await {
        let d = accel.description();
        for file in [&two, &bg] {
            let r = accel
                .decompress_with_limit(Format::Gzip, file.clone(), 1 << 20)
                .await;
            assert!(
                matches!(r, Err(Error::OutputLimit { limit: 1_048_576 })),
                "{d}: {r:?}"
            );
            let ok = accel
                .decompress_with_limit(Format::Gzip, file.clone(), 1_200_000)
                .await
                .unwrap();
            assert_eq!(ok.len(), 1_200_000, "{d}");
            let r = accel
                .decompress_with_limit(Format::Gzip, file.clone(), 1_199_999)
                .await;
            assert!(
                matches!(r, Err(Error::OutputLimit { limit: 1_199_999 })),
                "{d}: {r:?}"
            );
        }
        // Many empty members need no output room at all, and a limit of 0 admits them.
        let empties = python_members(&vec![Vec::new(); 50]);
        assert!(
            accel
                .decompress_with_limit(Format::Gzip, empties, 0)
                .await
                .unwrap()
                .is_empty()
        );
    }
}

/// A reader that returns one byte per read (a slow network source), under a `BufReader`.
struct OneByte<'a>(&'a [u8]);

impl tokio::io::AsyncRead for OneByte<'_> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        if let Some((&b, rest)) = self.0.split_first()
            && buf.remaining() > 0
        {
            buf.put_slice(&[b]);
            self.0 = rest;
        }
        std::task::Poll::Ready(Ok(()))
    }
}

/// Decode `file` with `bufread::Decoder` (over a whole-slice reader, and one byte per read) and `write::Decoder`
/// (one write, and one byte per write).
async fn stream_decode(
    accel: &Accel,
    file: &[u8],
    multiple: bool,
) -> Vec<std::io::Result<Vec<u8>>> {
    let mut results = Vec::new();
    let mut dec = bufread::Decoder::new(accel, Format::Gzip, file).unwrap();
    dec.multiple_members(multiple);
    let mut out = Vec::new();
    results.push(dec.read_to_end(&mut out).await.map(|_| out));
    let mut dec = bufread::Decoder::new(
        accel,
        Format::Gzip,
        tokio::io::BufReader::new(OneByte(file)),
    )
    .unwrap();
    dec.multiple_members(multiple);
    let mut out = Vec::new();
    results.push(dec.read_to_end(&mut out).await.map(|_| out));
    for bytewise in [false, true] {
        let mut dec = write::Decoder::new(accel, Format::Gzip, Vec::new()).unwrap();
        dec.multiple_members(multiple);
        let r = async {
            if bytewise {
                for b in file.chunks(1) {
                    dec.write_all(b).await?;
                }
            } else {
                dec.write_all(file).await?;
            }
            dec.shutdown().await
        }
        .await;
        results.push(r.map(|_| dec.into_inner()));
    }
    results
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streaming_decodes_every_member() {
    let samples = samples();
    for accel in accels().await {
        for (name, file, want) in &samples {
            for (i, r) in stream_decode(&accel, file, true)
                .await
                .into_iter()
                .enumerate()
            {
                let got =
                    r.unwrap_or_else(|e| panic!("{name} #{i} on {}: {e}", accel.description()));
                assert!(got == want[..], "{name} #{i} on {}", accel.description());
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streaming_first_member_only() {
    let p = parts();
    let file = python_members(&p);
    for accel in accels().await {
        let d = accel.description();
        let r = stream_decode(&accel, &file, false).await;
        // The readers stop after the first member and leave the rest: in the reader or in `unused`.
        assert_eq!(r[0].as_ref().unwrap(), &p[0], "{d}");
        assert_eq!(r[1].as_ref().unwrap(), &p[0], "{d}");
        // The writers refuse data after the first member, as any trailing data.
        for w in &r[2..] {
            assert_eq!(
                w.as_ref().unwrap_err().kind(),
                std::io::ErrorKind::InvalidData,
                "{d}"
            );
        }
        let mut dec = bufread::Decoder::new(&accel, Format::Gzip, &file[..]).unwrap();
        dec.multiple_members(false);
        dec.read_to_end(&mut Vec::new()).await.unwrap();
        let rest = [dec.unused(), dec.get_ref()].concat();
        let (second, _) = accel
            .decompress_first_member(Format::Gzip, rest)
            .await
            .unwrap();
        assert!(second.is_empty(), "{d}");
        // A member with a corrupt trailer after a good one: an error, in every decoder.
        let mut bad = file.clone();
        let l = bad.len();
        bad[l - 6] ^= 0x40;
        for (i, r) in stream_decode(&accel, &bad, true)
            .await
            .into_iter()
            .enumerate()
        {
            assert!(r.is_err(), "{d} #{i}");
        }
    }
}
