//! Driver side of CCM, SM4-GCM and the AES MACs: validation and BD2/BD3 encoding, as UADK's `drv/hisi_sec.c` fills
//! them (`fill_aead_bd2`/`fill_aead_bd3` with `fill_aead_bd*_alg`/`_mode`; `hisi_sec_digest_send`/`_v3` with
//! `fill_digest_bd*_alg` in HMAC mode). A child of `driver`, so the two stay apart in the source.

use super::super::layout::*;
use super::super::*;
use super::nonzero;
use crate::qm::Sqe;
use crate::qm::field::{write_u16_at, write_u32_at, write_u64_at};

/// Validate an [`XcmRequest`] for `bd`; returns the `c_key_len` code.
fn check_xcm(x: &XcmRequest, bd: BdType) -> Result<u8, SecEncodeError> {
    if bd == BdType::Bd2 {
        // fill_aead_bd2_alg knows AES only; SM4-GCM therefore too (AES-GCM is a GcmRequest).
        match (x.alg, x.mode) {
            (CipherAlg::Sm4, XcmMode::Ccm) => return Err(SecEncodeError::NotOnBd2("SM4-CCM")),
            (_, XcmMode::Gcm) => return Err(SecEncodeError::NotOnBd2("SM4-GCM")),
            _ => {}
        }
    }
    if x.mode == XcmMode::Gcm && x.alg == CipherAlg::Aes {
        // One request type per BD: AES-GCM is GcmRequest (decode gives it back as that).
        return Err(SecEncodeError::WrongRequest(
            "AES-GCM is a GcmRequest, not an XcmRequest",
        ));
    }
    let code = key_len_code(x.alg, false, x.key_len).ok_or(SecEncodeError::KeyLen(x.key_len))?;
    if !x.mode.tag_len_ok(x.tag_len) {
        return Err(SecEncodeError::TagLen(x.tag_len));
    }
    check_aead_data(x, Some(bd))?;
    Ok(code)
}

/// The AAD, length and address checks every CCM/GCM BD shares (AES-GCM's too, as an [`XcmRequest`] in GCM mode).
/// `len_check`: the BD type whose UADK `aead_len_check` applies (CCM and SM4-GCM: no empty job, BD2 needs a
/// payload); none for AES-GCM, which takes an empty job.
pub(super) fn check_aead_data(
    x: &XcmRequest,
    len_check: Option<BdType>,
) -> Result<(), SecEncodeError> {
    if x.aad_len > x.mode.max_aad() {
        return Err(SecEncodeError::AadTooLong(x.aad_len));
    }
    let total = u64::from(x.aad_len) + u64::from(x.payload_len);
    if total > u64::from(MAX_DATA_LEN) {
        return Err(SecEncodeError::TooLong(total));
    }
    if let Some(bd) = len_check
        && (total == 0 || (bd == BdType::Bd2 && x.payload_len == 0))
    {
        return Err(SecEncodeError::BadLength(x.payload_len));
    }
    nonzero(x.key_addr, "key")?;
    nonzero(x.iv_addr, "IV")?;
    nonzero(x.aiv_addr, "auth IV")?;
    nonzero(x.mac_addr, "MAC")?;
    if total != 0 {
        nonzero(x.src_addr, "source")?;
    }
    if x.payload_len != 0 {
        nonzero(x.dst_addr, "destination")?;
    }
    Ok(())
}

pub(in crate::qm::sec) fn encode_xcm_bd2(
    s: &mut Sqe,
    x: &XcmRequest,
) -> Result<(), SecEncodeError> {
    let key_code = check_xcm(x, BdType::Bd2)?;
    write_aead_bd2(s, x, key_code);
    Ok(())
}

/// Fill a BD2 for a checked CCM/GCM request (AES-GCM's too) with `c_key_len` code `key_code`.
pub(super) fn write_aead_bd2(s: &mut Sqe, x: &XcmRequest, key_code: u8) {
    let seq = u8::from(x.dir == CipherDir::Decrypt);
    s[bd2::TYPE_CIPHER_AUTH] = 2 | (x.dir.code() << 4) as u8; // auth bits cleared (SEC_AUTH_MASK)
    s[bd2::SDS] = seq | (1 << 1 | SCENE_IPSEC << 3) as u8; // 0x0A enc, 0x0B dec
    write_u16_at(
        s,
        bd2::ICVW_KMODE,
        u16::from(x.tag_len) | u16::from(key_code) << 9 | u16::from(x.mode.code()) << 12,
    );
    s[bd2::C_ALG] = x.alg.code();
    write_u32_at(s, bd2::A_LEN, x.aad_len);
    write_u32_at(s, bd2::C_LEN, x.payload_len);
    write_u16_at(s, bd2::CIPHER_SRC_OFFSET, x.aad_len as u16);
    write_u64_at(s, bd2::A_IVIN, x.aiv_addr);
    write_u64_at(s, bd2::A_KEY, x.key_addr);
    write_u64_at(s, bd2::MAC, x.mac_addr);
    write_u64_at(s, bd2::C_IVIN, x.iv_addr);
    write_u64_at(s, bd2::C_KEY, x.key_addr);
    write_u64_at(s, bd2::SRC, x.src_addr);
    write_u64_at(s, bd2::DST, x.dst_addr);
}

/// Returns the auth_mac_key word (0: auth bits cleared for CCM/GCM).
pub(in crate::qm::sec) fn encode_xcm_bd3(
    s: &mut Sqe,
    x: &XcmRequest,
) -> Result<u32, SecEncodeError> {
    let key_code = check_xcm(x, BdType::Bd3)?;
    write_aead_bd3(s, x, key_code);
    Ok(0)
}

/// Fill a BD3 for a checked CCM/GCM request (AES-GCM's too) with `c_key_len` code `key_code`; the auth_mac_key
/// word stays 0 (auth bits cleared, §11).
pub(super) fn write_aead_bd3(s: &mut Sqe, x: &XcmRequest, key_code: u8) {
    write_u32_at(s, bd3::BD_PARAM, 3 | SCENE_IPSEC << 5 | 1 << 9); // 0x223
    write_u16_at(
        s,
        bd3::C_ICV_KEY,
        x.dir.code() as u16 | u16::from(x.tag_len) << 4 | u16::from(key_code) << 13,
    );
    s[bd3::C_MODE_ALG] = x.mode.code() | x.alg.code() << 4;
    if x.dir == CipherDir::Decrypt {
        s[bd3::HUK_IV_SEQ] = 1 << 6;
    }
    write_u16_at(s, bd3::CIPHER_SRC_OFFSET, x.aad_len as u16);
    write_u32_at(s, bd3::A_LEN, x.aad_len);
    write_u32_at(s, bd3::C_LEN, x.payload_len);
    write_u64_at(s, bd3::SRC, x.src_addr);
    write_u64_at(s, bd3::A_KEY, x.key_addr);
    write_u64_at(s, bd3::A_IVIN, x.aiv_addr);
    write_u64_at(s, bd3::C_KEY, x.key_addr);
    write_u64_at(s, bd3::DST, x.dst_addr);
    write_u64_at(s, bd3::MAC, x.mac_addr);
    write_u64_at(s, bd3::C_IVIN, x.iv_addr);
}

/// Validate a [`MacRequest`] for `bd`; returns `(mac words, key words)`.
fn check_mac(m: &MacRequest, bd: BdType) -> Result<(u32, u32), SecEncodeError> {
    if bd == BdType::Bd2 && !m.alg.on_bd2() {
        return Err(SecEncodeError::NotOnBd2("AES-GMAC"));
    }
    if !m.alg.key_len_ok(m.key_len) {
        return Err(SecEncodeError::HmacKeyLen(m.key_len));
    }
    if m.len > MAX_DATA_LEN {
        return Err(SecEncodeError::TooLong(m.len.into()));
    }
    // BD2 refuses every empty digest, BD3 the empty XCBC and CMAC (digest_bd2/bd3_type_check).
    if m.len == 0 && (bd == BdType::Bd2 || m.alg != MacAlg::AesGmac) {
        return Err(SecEncodeError::BadLength(0));
    }
    if m.mac_len == 0 || !m.mac_len.is_multiple_of(4) || m.mac_len > 16 {
        return Err(SecEncodeError::MacLen(m.mac_len));
    }
    nonzero(m.key_addr, "MAC key")?;
    // UADK names the output buffer as the source of an empty message (never address 0).
    nonzero(m.src_addr, "source")?;
    nonzero(m.mac_addr, "MAC")?;
    if m.alg == MacAlg::AesGmac {
        nonzero(m.iv_addr, "GMAC IV")?;
    } else if m.iv_addr != 0 {
        return Err(SecEncodeError::WrongRequest(
            "XCBC and CMAC take no IV: iv_addr must be 0",
        ));
    }
    Ok((m.mac_len / 4, m.key_len / 4))
}

pub(in crate::qm::sec) fn encode_mac_bd2(
    s: &mut Sqe,
    m: &MacRequest,
) -> Result<(), SecEncodeError> {
    let (mac_words, key_words) = check_mac(m, BdType::Bd2)?;
    s[bd2::TYPE_CIPHER_AUTH] = 2 | 1 << 6; // 0x42
    s[bd2::SDS] = (SCENE_IPSEC << 3) as u8; // 0x08
    write_u32_at(
        s,
        bd2::MAC_KEY_ALG,
        mac_words | key_words << 5 | u32::from(m.alg.a_alg()) << 11,
    );
    write_u32_at(s, bd2::A_LEN, m.len);
    write_u64_at(s, bd2::A_KEY, m.key_addr);
    write_u64_at(s, bd2::MAC, m.mac_addr);
    write_u64_at(s, bd2::SRC, m.src_addr);
    Ok(())
}

/// Returns the auth_mac_key word (without the prefetch bit).
pub(in crate::qm::sec) fn encode_mac_bd3(
    s: &mut Sqe,
    m: &MacRequest,
) -> Result<u32, SecEncodeError> {
    let (mac_words, key_words) = check_mac(m, BdType::Bd3)?;
    let (scene, ai_gen) = match m.alg {
        MacAlg::AesGmac => (SCENE_IPSEC, 1), // scene 1, IV from a_ivin
        _ => (SCENE_STREAM, 0),
    };
    write_u32_at(s, bd3::BD_PARAM, 3 | scene << 5); // 0xE3, GMAC 0x23; de 0
    write_u32_at(s, bd3::A_LEN, m.len);
    write_u64_at(s, bd3::SRC, m.src_addr);
    write_u64_at(s, bd3::MAC, m.mac_addr);
    write_u64_at(s, bd3::A_KEY, m.key_addr);
    if ai_gen == 1 {
        write_u64_at(s, bd3::A_IVIN, m.iv_addr);
    }
    Ok(1 | ai_gen << 2 | mac_words << 4 | key_words << 9 | u32::from(m.alg.a_alg()) << 15)
}
