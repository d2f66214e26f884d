//! Little-endian field accessors for an SQE (128 bytes ZIP/SEC, 64 bytes HPRE), shared by the codecs.
//!
//! The name says the unit of the position: `*_dw` functions take a **dword index** (`dwN` = bytes `4N..4N+4`, as
//! the ZIP tables of protocol doc §6.2 count), `*_at` functions take a **byte offset** (as the SEC BD tables of
//! §7.1/§7.2 count). A 64-bit field is little-endian, so at dword `N` its low half is `dwN` and its high half
//! `dwN+1`. Positions are compile-time constants of the codecs; one outside the SQE panics (index out of bounds).

/// The `u16` at byte offset `byte_off`.
pub(crate) fn read_u16_at(sqe: &[u8], byte_off: usize) -> u16 {
    u16::from_le_bytes([sqe[byte_off], sqe[byte_off + 1]])
}

/// The `u32` at byte offset `byte_off`.
pub(crate) fn read_u32_at(sqe: &[u8], byte_off: usize) -> u32 {
    let o = byte_off;
    u32::from_le_bytes([sqe[o], sqe[o + 1], sqe[o + 2], sqe[o + 3]])
}

/// The `u64` at byte offset `byte_off`.
pub(crate) fn read_u64_at(sqe: &[u8], byte_off: usize) -> u64 {
    u64::from(read_u32_at(sqe, byte_off)) | (u64::from(read_u32_at(sqe, byte_off + 4)) << 32)
}

/// Store `v` as the `u16` at byte offset `byte_off`.
pub(crate) fn write_u16_at(sqe: &mut [u8], byte_off: usize, v: u16) {
    sqe[byte_off..byte_off + 2].copy_from_slice(&v.to_le_bytes());
}

/// Store `v` as the `u32` at byte offset `byte_off`.
pub(crate) fn write_u32_at(sqe: &mut [u8], byte_off: usize, v: u32) {
    sqe[byte_off..byte_off + 4].copy_from_slice(&v.to_le_bytes());
}

/// Store `v` as the `u64` at byte offset `byte_off`.
pub(crate) fn write_u64_at(sqe: &mut [u8], byte_off: usize, v: u64) {
    sqe[byte_off..byte_off + 8].copy_from_slice(&v.to_le_bytes());
}

/// Dword `dw` (bytes `4·dw..4·dw+4`).
pub(crate) fn read_dw(sqe: &[u8], dw: usize) -> u32 {
    read_u32_at(sqe, dw * 4)
}

/// Store `v` in dword `dw`.
pub(crate) fn write_dw(sqe: &mut [u8], dw: usize, v: u32) {
    write_u32_at(sqe, dw * 4, v);
}

/// The 64-bit field whose low half is dword `dw_low` and high half dword `dw_low + 1`.
pub(crate) fn read_dw64(sqe: &[u8], dw_low: usize) -> u64 {
    read_u64_at(sqe, dw_low * 4)
}

/// Store `v` in dwords `dw_low` (low half) and `dw_low + 1` (high half).
pub(crate) fn write_dw64(sqe: &mut [u8], dw_low: usize, v: u64) {
    write_u64_at(sqe, dw_low * 4, v);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_agree() {
        let mut s = [0u8; 128];
        write_dw(&mut s, 3, 0x0403_0201);
        assert_eq!(&s[12..16], &[1, 2, 3, 4]);
        assert_eq!(read_u32_at(&s, 12), 0x0403_0201);
        assert_eq!(read_u16_at(&s, 14), 0x0403);
        write_dw64(&mut s, 20, 0x1122_3344_5566_7788);
        assert_eq!(read_dw(&s, 20), 0x5566_7788);
        assert_eq!(read_dw(&s, 21), 0x1122_3344);
        assert_eq!(read_u64_at(&s, 80), 0x1122_3344_5566_7788);
        write_u64_at(&mut s, 120, u64::MAX - 1);
        assert_eq!(read_dw64(&s, 30), u64::MAX - 1);
        write_u16_at(&mut s, 0, 0xBEEF);
        write_u32_at(&mut s, 4, 7);
        assert_eq!((read_dw(&s, 0), read_dw(&s, 1)), (0xBEEF, 7));
    }
}
