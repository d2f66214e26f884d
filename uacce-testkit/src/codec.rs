//! flate2 reference codecs: what a device's output is checked against, and where its input comes from.

use std::io::{Read, Write};

use flate2::Compression;
use uacce_sys::qm::zip::ZipAlg;

/// Compress `input` with flate2 at the default level, in the stream format of `alg` (header and trailer included).
pub fn compress(alg: ZipAlg, input: &[u8]) -> Vec<u8> {
    use flate2::write::{DeflateEncoder, GzEncoder, ZlibEncoder};
    let c = Compression::default();
    let r = match alg {
        ZipAlg::Zlib => {
            let mut e = ZlibEncoder::new(Vec::new(), c);
            e.write_all(input).and_then(|_| e.finish())
        }
        ZipAlg::Gzip => {
            let mut e = GzEncoder::new(Vec::new(), c);
            e.write_all(input).and_then(|_| e.finish())
        }
        ZipAlg::Deflate => {
            let mut e = DeflateEncoder::new(Vec::new(), c);
            e.write_all(input).and_then(|_| e.finish())
        }
    };
    r.expect("compressing into a Vec cannot fail")
}

/// Decompress a whole `alg` stream with flate2; an error for corrupt or truncated input.
pub fn decompress(alg: ZipAlg, comp: &[u8]) -> std::io::Result<Vec<u8>> {
    use flate2::read::{DeflateDecoder, GzDecoder, ZlibDecoder};
    let mut out = Vec::new();
    match alg {
        ZipAlg::Zlib => ZlibDecoder::new(comp).read_to_end(&mut out)?,
        ZipAlg::Gzip => GzDecoder::new(comp).read_to_end(&mut out)?,
        ZipAlg::Deflate => DeflateDecoder::new(comp).read_to_end(&mut out)?,
    };
    Ok(out)
}
