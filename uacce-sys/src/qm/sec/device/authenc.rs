//! Authenc decode (device side): see [`AuthencRequest`](super::super::AuthencRequest).

use super::super::layout::*;
use super::super::*;
use super::{Raw, dir_of, need};

/// Decode an authenc BD: `(cipher, auth)` is (1, 1) or (2, 2). Strict: the fields UADK and the kernel fill for
/// authenc, with the values they use; the two MAC-then-encrypt `seq` combinations neither sends are refused.
pub(super) fn decode(r: &Raw) -> Result<AuthencRequest, SecDecodeError> {
    if r.c_alg != CipherAlg::Aes.code() {
        return Err(SecDecodeError::CAlg(r.c_alg));
    }
    if r.c_mode != CipherMode::Cbc.code() {
        return Err(SecDecodeError::CMode(r.c_mode));
    }
    let key_len = key_len_from_code(CipherAlg::Aes, false, r.key_code)
        .ok_or(SecDecodeError::KeyLenCode(r.key_code))?;
    if r.de != 1 {
        return Err(SecDecodeError::Field("de must be 1 for authenc"));
    }
    let dir = dir_of(r.cipher);
    if r.seq != (dir == CipherDir::Decrypt) {
        return Err(SecDecodeError::Field(
            "authenc seq must be 0 (cipher then auth) on encrypt and 1 (auth then cipher) on decrypt",
        ));
    }
    if r.icv_len != 0 || r.c_width != 0 || r.ai_gen != 0 || r.pad != 0 {
        return Err(SecDecodeError::Field(
            "c_icv_len, c_width, ai_gen and a_pad must be 0 for authenc",
        ));
    }
    // The kernel sets ctr_count_mode 2 on every BD3 skcipher fill, which its authenc BDs start from.
    if r.amk_extra != 0 && r.amk_extra != bd3::CTR_COUNT_MODE_128 {
        return Err(SecDecodeError::Field("BD3 ctr_count_mode / key_sel"));
    }
    let hash = match DigestAlg::from_a_alg(r.a_alg) {
        Some((h, true)) if h.authenc_ok() => h,
        _ => return Err(SecDecodeError::AAlg(r.a_alg)),
    };
    let mac_len = r.mac_words * 4;
    if mac_len == 0 || mac_len > hash.digest_len() {
        return Err(SecDecodeError::Field("mac_len out of range for the hash"));
    }
    let akey_len = r.akey_words * 4;
    if akey_len == 0 || akey_len > hash.block_len() {
        return Err(SecDecodeError::Field("a_key_len out of range for the hash"));
    }
    let (aad_len, payload_len) = (u32::from(r.cipher_src_offset), r.c_len_word);
    if r.auth_src_offset != 0 || r.long_a_data_len != 0 || r.a_len_word != aad_len + payload_len {
        return Err(SecDecodeError::Lengths(
            "authenc needs a_len = AAD + payload, cipher_src_offset = AAD, auth_src_offset 0",
        ));
    }
    if aad_len + payload_len > MAX_DATA_LEN {
        return Err(SecDecodeError::TooLong(aad_len + payload_len));
    }
    if payload_len == 0 || !payload_len.is_multiple_of(16) {
        return Err(SecDecodeError::Lengths(
            "authenc c_len must be a nonzero multiple of 16",
        ));
    }
    need(r.c_key, "key")?;
    need(r.c_ivin, "IV")?;
    need(r.a_key, "HMAC key")?;
    need(r.src, "source")?;
    need(r.dst, "destination")?;
    need(r.mac, "MAC")?;
    Ok(AuthencRequest {
        dir,
        key_addr: r.c_key,
        key_len,
        iv_addr: r.c_ivin,
        hash,
        hmac_key: HmacKey {
            addr: r.a_key,
            len: akey_len,
        },
        src_addr: r.src,
        dst_addr: r.dst,
        aad_len,
        payload_len,
        mac_addr: r.mac,
        mac_len,
    })
}
