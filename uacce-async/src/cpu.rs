//! The CPU backend's compression (flate2 with the zlib-rs backend). Its crypto is `uacce_emu::soft`, the same code
//! the emulated SEC engine runs.

use std::io::{Read, Write};

use flate2::Compression;

use crate::error::{Error, Result};
use crate::types::Format;

/// Compress `data` into one `format` stream.
pub(crate) fn compress(format: Format, level: u32, data: &[u8]) -> Vec<u8> {
    let level = Compression::new(level.min(9));
    let out = Vec::with_capacity(data.len() / 2 + 64);
    // Writing into a Vec cannot fail.
    let r = match format {
        Format::Deflate => {
            let mut e = flate2::write::DeflateEncoder::new(out, level);
            e.write_all(data).and_then(|_| e.finish())
        }
        Format::Zlib => {
            let mut e = flate2::write::ZlibEncoder::new(out, level);
            e.write_all(data).and_then(|_| e.finish())
        }
        Format::Gzip => {
            let mut e = flate2::write::GzEncoder::new(out, level);
            e.write_all(data).and_then(|_| e.finish())
        }
    };
    r.unwrap_or_default()
}

/// Decompress one `format` stream of at most `limit` output bytes; trailing input is an error.
pub(crate) fn decompress(format: Format, data: &[u8], limit: usize) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let cap = (limit as u64).saturating_add(1);
    let corrupt = |e: std::io::Error| Error::CorruptData(e.to_string());
    let rest = match format {
        Format::Deflate => {
            let mut d = flate2::bufread::DeflateDecoder::new(data);
            (&mut d).take(cap).read_to_end(&mut out).map_err(corrupt)?;
            d.into_inner()
        }
        Format::Zlib => {
            let mut d = flate2::bufread::ZlibDecoder::new(data);
            (&mut d).take(cap).read_to_end(&mut out).map_err(corrupt)?;
            d.into_inner()
        }
        Format::Gzip => {
            let mut d = flate2::bufread::GzDecoder::new(data);
            (&mut d).take(cap).read_to_end(&mut out).map_err(corrupt)?;
            d.into_inner()
        }
    };
    if out.len() > limit {
        return Err(Error::OutputLimit { limit });
    }
    if data.is_empty() || (format == Format::Gzip && out.is_empty() && data.len() < 18) {
        return Err(Error::CorruptData("empty or truncated stream".into()));
    }
    if !rest.is_empty() {
        return Err(Error::CorruptData(format!(
            "{} bytes of trailing data after the end of the stream",
            rest.len()
        )));
    }
    Ok(out)
}
