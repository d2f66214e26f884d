//! zlib and gzip headers, parsed in software: the hardware skips a fixed 2 or 10 bytes (protocol doc §6.4), so the
//! driver checks the header and tells the device where the deflate data starts.

use crate::error::{Error, Result};
use crate::types::Format;

fn corrupt(why: &str) -> Error {
    Error::CorruptData(why.to_string())
}

/// Length of the header at the start of a `format` stream: `Ok(None)` while `data` is a valid but incomplete
/// prefix of a header, an error when it cannot be one.
pub(crate) fn header_len(format: Format, data: &[u8]) -> Result<Option<usize>> {
    match format {
        Format::Deflate => Ok(Some(0)),
        Format::Zlib => zlib(data),
        Format::Gzip => gzip(data),
    }
}

/// Length of a complete header; a short input is corrupt.
pub(crate) fn complete_header_len(format: Format, data: &[u8]) -> Result<usize> {
    header_len(format, data)?.ok_or_else(|| corrupt("stream is shorter than its header"))
}

fn zlib(data: &[u8]) -> Result<Option<usize>> {
    if data.len() < 2 {
        return Ok(None);
    }
    let (cmf, flg) = (data[0], data[1]);
    if cmf & 0x0F != 8 || cmf >> 4 > 7 {
        return Err(corrupt(
            "not a zlib stream (compression method is not deflate)",
        ));
    }
    if (u16::from(cmf) << 8 | u16::from(flg)) % 31 != 0 {
        return Err(corrupt("zlib header check bits are wrong"));
    }
    if flg & 0x20 != 0 {
        return Err(corrupt("zlib preset dictionaries are not supported"));
    }
    Ok(Some(2))
}

fn gzip(data: &[u8]) -> Result<Option<usize>> {
    for (i, (&b, want)) in data.iter().zip([0x1Fu8, 0x8B, 8]).enumerate() {
        if b != want {
            return Err(corrupt(if i < 2 {
                "not a gzip stream (bad magic)"
            } else {
                "gzip compression method is not deflate"
            }));
        }
    }
    if data.len() < 10 {
        return Ok(None);
    }
    let flg = data[3];
    if flg & 0xE0 != 0 {
        return Err(corrupt("gzip header has reserved flag bits set"));
    }
    let mut pos = 10usize;
    if flg & 0x04 != 0 {
        let Some(xlen) = data.get(pos..pos + 2) else {
            return Ok(None);
        };
        pos += 2 + usize::from(u16::from_le_bytes([xlen[0], xlen[1]]));
    }
    for bit in [0x08u8, 0x10] {
        if flg & bit != 0 {
            let Some(nul) = data.get(pos..).and_then(|r| r.iter().position(|&b| b == 0)) else {
                return Ok(None);
            };
            pos += nul + 1;
        }
    }
    if flg & 0x02 != 0 {
        pos += 2;
    }
    Ok((pos <= data.len()).then_some(pos))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers() {
        let z = |d: &[u8]| header_len(Format::Zlib, d);
        let g = |d: &[u8]| header_len(Format::Gzip, d);
        assert_eq!(z(&[0x78, 0x9C, 0]).unwrap(), Some(2));
        assert_eq!(z(&[0x78, 0x01]).unwrap(), Some(2));
        assert_eq!(z(&[0x78]).unwrap(), None);
        assert!(z(&[0x78, 0x9D]).is_err());
        assert!(z(&[0x78, 0xBB]).is_err()); // FDICT
        assert!(complete_header_len(Format::Zlib, &[0x78]).is_err());
        let plain = [0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 3];
        assert_eq!(g(&plain).unwrap(), Some(10));
        assert_eq!(g(&plain[..4]).unwrap(), None);
        // FEXTRA (2 bytes) + FNAME "a" + FHCRC.
        let h = [
            0x1F, 0x8B, 8, 0x0E, 0, 0, 0, 0, 0, 3, 2, 0, 9, 9, b'a', 0, 1, 2,
        ];
        assert_eq!(g(&h).unwrap(), Some(18));
        for cut in 10..18 {
            assert_eq!(g(&h[..cut]).unwrap(), None, "{cut}");
        }
        assert!(g(&[0x1F, 0x8B, 7, 0, 0, 0, 0, 0, 0, 3]).is_err());
        assert!(g(&[0x1F, 0x8C]).is_err());
        assert_eq!(header_len(Format::Deflate, &[]).unwrap(), Some(0));
    }
}
