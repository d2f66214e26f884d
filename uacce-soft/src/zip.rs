//! Deflate, zlib and gzip in software (flate2 with the zlib-rs backend).

use std::io::{Read, Write};

use flate2::Compression;

/// The three stream formats the ZIP engine speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Wrapper {
    /// Raw deflate (RFC 1951).
    Deflate,
    /// zlib (RFC 1950).
    Zlib,
    /// gzip (RFC 1952).
    Gzip,
}

/// Why a stream did not decompress.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InflateError {
    /// Malformed or truncated input, a checksum mismatch, or trailing data after the end of the stream.
    #[error("corrupt data: {0}")]
    Corrupt(String),
    /// The output would exceed the caller's limit.
    #[error("output over the limit of {limit} bytes")]
    OutputLimit {
        /// The limit in bytes.
        limit: usize,
    },
}

/// Compress `data` into one `wrapper` stream at deflate `level` (0..=9; larger values mean 9).
pub fn compress(wrapper: Wrapper, level: u32, data: &[u8]) -> Vec<u8> {
    let level = Compression::new(level.min(9));
    let out = Vec::with_capacity(data.len() / 2 + 64);
    // Writing into a Vec cannot fail.
    let r = match wrapper {
        Wrapper::Deflate => {
            let mut e = flate2::write::DeflateEncoder::new(out, level);
            e.write_all(data).and_then(|_| e.finish())
        }
        Wrapper::Zlib => {
            let mut e = flate2::write::ZlibEncoder::new(out, level);
            e.write_all(data).and_then(|_| e.finish())
        }
        Wrapper::Gzip => {
            let mut e = flate2::write::GzEncoder::new(out, level);
            e.write_all(data).and_then(|_| e.finish())
        }
    };
    r.unwrap_or_default()
}

/// Decompress one `wrapper` stream of at most `limit` output bytes; trailing input is an error. The output grows
/// with what the stream really holds: nothing is sized from a length field of the input.
pub fn decompress(wrapper: Wrapper, data: &[u8], limit: usize) -> Result<Vec<u8>, InflateError> {
    let (out, used) = decompress_prefix(wrapper, data, limit)?;
    if used != data.len() {
        return Err(InflateError::Corrupt(format!(
            "{} bytes of trailing data after the end of the stream",
            data.len() - used
        )));
    }
    Ok(out)
}

/// Decompress the one `wrapper` stream (for gzip: the one member) at the start of `data`, of at most `limit`
/// output bytes; returns the output and the input bytes the stream took (header, body and trailer). What follows
/// is left to the caller. Nothing is sized from a length field of the input.
pub fn decompress_prefix(
    wrapper: Wrapper,
    data: &[u8],
    limit: usize,
) -> Result<(Vec<u8>, usize), InflateError> {
    let mut out = Vec::new();
    let cap = (limit as u64).saturating_add(1);
    let corrupt = |e: std::io::Error| InflateError::Corrupt(e.to_string());
    let rest = match wrapper {
        Wrapper::Deflate => {
            let mut d = flate2::bufread::DeflateDecoder::new(data);
            (&mut d).take(cap).read_to_end(&mut out).map_err(corrupt)?;
            d.into_inner()
        }
        Wrapper::Zlib => {
            let mut d = flate2::bufread::ZlibDecoder::new(data);
            (&mut d).take(cap).read_to_end(&mut out).map_err(corrupt)?;
            d.into_inner()
        }
        Wrapper::Gzip => {
            let mut d = flate2::bufread::GzDecoder::new(data);
            (&mut d).take(cap).read_to_end(&mut out).map_err(corrupt)?;
            d.into_inner()
        }
    };
    if out.len() > limit {
        return Err(InflateError::OutputLimit { limit });
    }
    let used = data.len() - rest.len();
    if data.is_empty() || (wrapper == Wrapper::Gzip && out.is_empty() && used < 18) {
        return Err(InflateError::Corrupt("empty or truncated stream".into()));
    }
    Ok((out, used))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_every_wrapper_and_level() {
        let data: Vec<u8> = (0..50_000u32)
            .map(|i| (i % 251) as u8 ^ (i / 1000) as u8)
            .collect();
        for w in [Wrapper::Deflate, Wrapper::Zlib, Wrapper::Gzip] {
            for level in [0, 1, 6, 9, 42] {
                let c = compress(w, level, &data);
                assert_eq!(
                    decompress(w, &c, data.len()).unwrap(),
                    data,
                    "{w:?} level {level}"
                );
                assert_eq!(
                    decompress(w, &c, data.len() - 1),
                    Err(InflateError::OutputLimit {
                        limit: data.len() - 1
                    })
                );
            }
        }
    }

    #[test]
    fn trailing_and_truncated_input_is_corrupt() {
        let c = compress(Wrapper::Gzip, 6, b"hello");
        let mut trailing = c.clone();
        trailing.push(0);
        assert!(
            matches!(decompress(Wrapper::Gzip, &trailing, 100), Err(InflateError::Corrupt(m)) if m.contains("trailing"))
        );
        assert!(matches!(
            decompress(Wrapper::Gzip, &c[..c.len() - 3], 100),
            Err(InflateError::Corrupt(_))
        ));
        assert!(matches!(
            decompress(Wrapper::Zlib, &[], 100),
            Err(InflateError::Corrupt(_))
        ));
    }
}
