//! Authenc encode (driver side): see [`AuthencRequest`](super::super::AuthencRequest).

use super::super::layout::*;
use super::super::*;
use super::nonzero;
use crate::qm::Sqe;
use crate::qm::field::{write_u16_at, write_u32_at, write_u64_at};

/// Returns `(c_key_len code, mac_key words: mac_len | akey << 5 | a_alg << 11)` after checking every limit.
fn check(a: &AuthencRequest) -> Result<(u8, u32), SecEncodeError> {
    let code =
        key_len_code(CipherAlg::Aes, false, a.key_len).ok_or(SecEncodeError::KeyLen(a.key_len))?;
    if !a.hash.authenc_ok() {
        return Err(SecEncodeError::AuthencHash(a.hash));
    }
    if a.mac_len == 0 || !a.mac_len.is_multiple_of(4) || a.mac_len > a.hash.digest_len() {
        return Err(SecEncodeError::MacLen(a.mac_len));
    }
    let k = a.hmac_key;
    if k.len == 0 || !k.len.is_multiple_of(4) || k.len > a.hash.block_len() {
        return Err(SecEncodeError::HmacKeyLen(k.len));
    }
    if a.aad_len > 0xFFFF {
        return Err(SecEncodeError::AadTooLong(a.aad_len));
    }
    let total = u64::from(a.aad_len) + u64::from(a.payload_len);
    if total > u64::from(MAX_DATA_LEN) {
        return Err(SecEncodeError::TooLong(total));
    }
    if a.payload_len == 0 || !a.payload_len.is_multiple_of(16) {
        return Err(SecEncodeError::BadLength(a.payload_len));
    }
    nonzero(a.key_addr, "key")?;
    nonzero(a.iv_addr, "IV")?;
    nonzero(k.addr, "HMAC key")?;
    nonzero(a.src_addr, "source")?;
    nonzero(a.dst_addr, "destination")?;
    nonzero(a.mac_addr, "MAC")?;
    let words = (a.mac_len / 4) | ((k.len / 4) << 5) | (u32::from(a.hash.hmac_a_alg()) << 11);
    Ok((code, words))
}

/// `(auth field, seq)` of a direction: encrypt = calculate, cipher first; decrypt = verify, auth first.
const fn auth_seq(dir: CipherDir) -> (u8, u8) {
    match dir {
        CipherDir::Encrypt => (1, 0),
        CipherDir::Decrypt => (2, 1),
    }
}

pub(super) fn encode_bd2(s: &mut Sqe, a: &AuthencRequest) -> Result<(), SecEncodeError> {
    let (key_code, words) = check(a)?;
    let (auth, seq) = auth_seq(a.dir);
    s[bd2::TYPE_CIPHER_AUTH] = 2 | (a.dir.code() << 4) as u8 | auth << 6; // 0x52 / 0xA2
    s[bd2::SDS] = seq | (1 << 1 | SCENE_IPSEC << 3) as u8; // 0x0A / 0x0B
    write_u32_at(s, bd2::MAC_KEY_ALG, words);
    write_u16_at(
        s,
        bd2::ICVW_KMODE,
        u16::from(key_code) << 9 | u16::from(CipherMode::Cbc.code()) << 12,
    );
    s[bd2::C_ALG] = CipherAlg::Aes.code();
    write_u32_at(s, bd2::A_LEN, a.aad_len + a.payload_len);
    write_u32_at(s, bd2::C_LEN, a.payload_len);
    write_u16_at(s, bd2::CIPHER_SRC_OFFSET, a.aad_len as u16);
    write_u64_at(s, bd2::A_KEY, a.hmac_key.addr);
    write_u64_at(s, bd2::MAC, a.mac_addr);
    write_u64_at(s, bd2::C_IVIN, a.iv_addr);
    write_u64_at(s, bd2::C_KEY, a.key_addr);
    write_u64_at(s, bd2::SRC, a.src_addr);
    write_u64_at(s, bd2::DST, a.dst_addr);
    Ok(())
}

/// Returns the auth_mac_key word (without the prefetch bit).
pub(super) fn encode_bd3(s: &mut Sqe, a: &AuthencRequest) -> Result<u32, SecEncodeError> {
    let (key_code, words) = check(a)?;
    let (auth, seq) = auth_seq(a.dir);
    write_u32_at(s, bd3::BD_PARAM, 3 | SCENE_IPSEC << 5 | 1 << 9); // 0x223
    write_u16_at(
        s,
        bd3::C_ICV_KEY,
        a.dir.code() as u16 | u16::from(key_code) << 13,
    );
    s[bd3::C_MODE_ALG] = CipherMode::Cbc.code() | CipherAlg::Aes.code() << 4; // 0x21
    s[bd3::HUK_IV_SEQ] = seq << 6;
    write_u16_at(s, bd3::CIPHER_SRC_OFFSET, a.aad_len as u16);
    write_u32_at(s, bd3::A_LEN, a.aad_len + a.payload_len);
    write_u32_at(s, bd3::C_LEN, a.payload_len);
    write_u64_at(s, bd3::SRC, a.src_addr);
    write_u64_at(s, bd3::A_KEY, a.hmac_key.addr);
    write_u64_at(s, bd3::C_KEY, a.key_addr);
    write_u64_at(s, bd3::DST, a.dst_addr);
    write_u64_at(s, bd3::MAC, a.mac_addr);
    write_u64_at(s, bd3::C_IVIN, a.iv_addr);
    // mac_len 4..8, akey 9..14, a_alg 15..20: the BD2 word's fields shifted by 4.
    Ok(u32::from(auth) | words << 4)
}
