//! zlib and gzip headers, parsed in software: the hardware skips a fixed 2 or 10 bytes (protocol doc §6.4), so the
//! driver checks the header and tells the device where the deflate data starts.

use crate::error::{Error, Result};

fn corrupt(why: &str) -> Error {
    Error::CorruptData(why.to_string())
}

/// Length of a valid zlib header (always 2); an error names what is wrong.
pub(crate) fn zlib_header_len(data: &[u8]) -> Result<usize> {
    if data.len() < 2 {
        return Err(corrupt("zlib stream shorter than its header"));
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
    Ok(2)
}

/// Length of a valid gzip member header (10 bytes plus the optional FEXTRA, FNAME, FCOMMENT and FHCRC fields).
pub(crate) fn gzip_header_len(data: &[u8]) -> Result<usize> {
    if data.len() < 10 {
        return Err(corrupt("gzip stream shorter than its header"));
    }
    if data[0] != 0x1F || data[1] != 0x8B {
        return Err(corrupt("not a gzip stream (bad magic)"));
    }
    if data[2] != 8 {
        return Err(corrupt("gzip compression method is not deflate"));
    }
    let flg = data[3];
    if flg & 0xE0 != 0 {
        return Err(corrupt("gzip header has reserved flag bits set"));
    }
    let mut pos = 10usize;
    let truncated = || corrupt("gzip header is truncated");
    if flg & 0x04 != 0 {
        let xlen = data.get(pos..pos + 2).ok_or_else(truncated)?;
        pos += 2 + usize::from(u16::from_le_bytes([xlen[0], xlen[1]]));
    }
    for bit in [0x08u8, 0x10] {
        if flg & bit != 0 {
            let rest = data.get(pos..).ok_or_else(truncated)?;
            let nul = rest.iter().position(|&b| b == 0).ok_or_else(truncated)?;
            pos += nul + 1;
        }
    }
    if flg & 0x02 != 0 {
        pos += 2;
    }
    if pos > data.len() {
        return Err(truncated());
    }
    Ok(pos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers() {
        assert_eq!(zlib_header_len(&[0x78, 0x9C, 0]).unwrap(), 2);
        assert_eq!(zlib_header_len(&[0x78, 0x01]).unwrap(), 2);
        assert!(zlib_header_len(&[0x78, 0x9D]).is_err());
        assert!(zlib_header_len(&[0x78, 0xBB]).is_err()); // FDICT
        assert!(zlib_header_len(&[0x1F]).is_err());
        let plain = [0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 3];
        assert_eq!(gzip_header_len(&plain).unwrap(), 10);
        // FEXTRA (2 bytes) + FNAME "a" + FHCRC.
        let mut h = vec![
            0x1F,
            0x8B,
            8,
            0x04 | 0x08 | 0x02,
            0,
            0,
            0,
            0,
            0,
            3,
            2,
            0,
            9,
            9,
            b'a',
            0,
            1,
            2,
        ];
        assert_eq!(gzip_header_len(&h).unwrap(), 18);
        h.truncate(15);
        assert!(gzip_header_len(&h).is_err());
        assert!(gzip_header_len(&[0x1F, 0x8B, 7, 0, 0, 0, 0, 0, 0, 3]).is_err());
    }
}
