//! Device side of CCM, SM4-GCM and the AES MACs: strict decode of the fields UADK's `drv/hisi_sec.c` fills for
//! them (see `driver_xcm_mac.rs`). A child of `device`, so the two stay apart in the source.

use super::super::layout::*;
use super::super::*;
use super::{Raw, dir_of, need};

/// CCM (c_mode 5, AES or SM4) or GCM with SM4 (c_mode 6); AES-GCM stays `decode_gcm`'s.
pub(super) fn decode_xcm(r: &Raw) -> Result<XcmRequest, SecDecodeError> {
    let mode = match r.c_mode {
        5 => XcmMode::Ccm,
        6 => XcmMode::Gcm,
        m => return Err(SecDecodeError::CMode(m)),
    };
    let alg = CipherAlg::from_code(r.c_alg).ok_or(SecDecodeError::CAlg(r.c_alg))?;
    if r.bd == BdType::Bd2 && alg != CipherAlg::Aes {
        // fill_aead_bd2_alg: AES only.
        return Err(SecDecodeError::CAlg(r.c_alg));
    }
    let key_len =
        key_len_from_code(alg, false, r.key_code).ok_or(SecDecodeError::KeyLenCode(r.key_code))?;
    if r.de != 1 {
        return Err(SecDecodeError::Field("de must be 1 for AEAD"));
    }
    // UADK writes scene 1 (IPsec) for AEAD BDs, the kernel's sec2 driver (sec_skcipher_bd_fill, which its AEAD
    // fill builds on) scene 0 (common): hardware takes both.
    if r.scene != SCENE_IPSEC as u8 && r.scene != 0 {
        return Err(SecDecodeError::Scene(r.scene));
    }
    if !mode.tag_len_ok(r.icv_len) || r.c_width != 0 {
        return Err(SecDecodeError::Field(
            "c_icv_len must be 4..=16 (CCM: even) for CCM/GCM",
        ));
    }
    let dir = dir_of(r.cipher);
    if r.seq != (dir == CipherDir::Decrypt) {
        return Err(SecDecodeError::Field(
            "seq must be set exactly for CCM/GCM decrypt",
        ));
    }
    if r.mac_words != 0
        || r.akey_words != 0
        || r.a_alg != 0
        || r.ai_gen != 0
        || r.pad != 0
        || r.amk_extra != 0
    {
        return Err(SecDecodeError::Field("auth fields must be 0 for CCM/GCM"));
    }
    if r.a_len_word != u32::from(r.cipher_src_offset)
        || r.auth_src_offset != 0
        || r.long_a_data_len != 0
    {
        return Err(SecDecodeError::Lengths(
            "CCM/GCM need a_len = cipher_src_offset = AAD, auth_src_offset 0",
        ));
    }
    let (aad_len, payload_len) = aead_data(r, mode.max_aad(), true)?;
    Ok(XcmRequest {
        mode,
        alg,
        dir,
        key_addr: r.c_key,
        key_len,
        iv_addr: r.c_ivin,
        aiv_addr: r.a_ivin,
        src_addr: r.src,
        dst_addr: r.dst,
        aad_len,
        payload_len,
        mac_addr: r.mac,
        tag_len: r.icv_len,
    })
}

/// The AAD, length and address checks every CCM/GCM BD shares (AES-GCM's too), after its `a_len` =
/// `cipher_src_offset` check: AAD at most `max_aad`, AAD + payload at most [`MAX_DATA_LEN`]; `len_check` (CCM and
/// SM4-GCM, UADK `aead_len_check`): no empty job, and a payload on BD2. Returns `(aad_len, payload_len)`.
pub(super) fn aead_data(
    r: &Raw,
    max_aad: u32,
    len_check: bool,
) -> Result<(u32, u32), SecDecodeError> {
    let (aad_len, payload_len) = (r.a_len_word, r.c_len_word);
    if aad_len > max_aad {
        return Err(SecDecodeError::Lengths("AAD over the mode's limit"));
    }
    if aad_len + payload_len > MAX_DATA_LEN {
        return Err(SecDecodeError::TooLong(aad_len + payload_len));
    }
    if len_check && (aad_len + payload_len == 0 || (r.bd == BdType::Bd2 && payload_len == 0)) {
        return Err(SecDecodeError::Lengths(
            "CCM/GCM need data (BD2: a nonzero payload)",
        ));
    }
    need(r.c_key, "key")?;
    need(r.c_ivin, "IV")?;
    need(r.a_ivin, "auth IV")?;
    need(r.mac, "MAC")?;
    if aad_len + payload_len != 0 {
        need(r.src, "source")?;
    }
    if payload_len != 0 {
        need(r.dst, "destination")?;
    }
    Ok((aad_len, payload_len))
}

/// A digest BD with a_alg 0x20..=0x22: XCBC, CMAC or GMAC, one-shot.
pub(super) fn decode_mac(r: &Raw, alg: MacAlg) -> Result<MacRequest, SecDecodeError> {
    if r.bd == BdType::Bd2 && !alg.on_bd2() {
        return Err(SecDecodeError::AAlg(r.a_alg));
    }
    if r.de != 0 {
        return Err(SecDecodeError::Field("de must be 0 for a MAC"));
    }
    // Scenes as UADK writes them: BD2 1; BD3 7, GMAC 1 (fill_digest_v3_scene).
    let scene = match (r.bd, alg) {
        (BdType::Bd3, MacAlg::AesXcbc | MacAlg::AesCmac) => SCENE_STREAM,
        _ => SCENE_IPSEC,
    };
    if u32::from(r.scene) != scene {
        return Err(SecDecodeError::Scene(r.scene));
    }
    if r.seq || r.amk_extra != 0 {
        return Err(SecDecodeError::Field(
            "seq / BD3 key_sel / ctr_count_mode set for a MAC",
        ));
    }
    if r.c_len_word != 0
        || r.cipher_src_offset != 0
        || r.auth_src_offset != 0
        || r.long_a_data_len != 0
    {
        return Err(SecDecodeError::Lengths(
            "c_len/offsets/long_a_data_len nonzero for a MAC",
        ));
    }
    // One-shot only (aes_auth_long_hash_check): pad 0, ai_gen 1 exactly for GMAC.
    let ai_gen = u8::from(alg == MacAlg::AesGmac);
    if r.pad != 0 || r.ai_gen != ai_gen {
        return Err(SecDecodeError::Field(
            "ai_gen / auth pad (AES MACs are one-shot; GMAC takes its IV from a_ivin)",
        ));
    }
    let len = r.a_len_word;
    if len == 0 && (r.bd == BdType::Bd2 || alg != MacAlg::AesGmac) {
        return Err(SecDecodeError::Lengths("a_len 0 for this MAC"));
    }
    if r.mac_words == 0 || r.mac_words > 4 {
        return Err(SecDecodeError::Field("mac_len"));
    }
    let key_len = r.akey_words * 4;
    if !alg.key_len_ok(key_len) {
        return Err(SecDecodeError::Field("a_key_len"));
    }
    need(r.a_key, "MAC key")?;
    need(r.src, "source")?;
    need(r.mac, "MAC")?;
    if alg == MacAlg::AesGmac {
        need(r.a_ivin, "GMAC IV")?;
    }
    Ok(MacRequest {
        alg,
        key_addr: r.a_key,
        key_len,
        iv_addr: if alg == MacAlg::AesGmac { r.a_ivin } else { 0 },
        src_addr: r.src,
        len,
        mac_addr: r.mac,
        mac_len: r.mac_words * 4,
    })
}

/// Address slots CCM/GCM and the MACs leave 0 (UADK starts from a zeroed BD).
pub(super) fn unused_slots(r: &Raw, op: &SecOp) -> Option<&'static str> {
    match op {
        SecOp::Xcm(_) => None,
        SecOp::Mac(m) => [
            (r.c_ivin, "c_ivin_addr must be 0 for a MAC"),
            (r.c_key, "c_key_addr must be 0 for a MAC"),
            (r.dst, "data_dst_addr must be 0 for a MAC"),
            (
                if m.alg == MacAlg::AesGmac {
                    0
                } else {
                    r.a_ivin
                },
                "a_ivin_addr must be 0 for XCBC and CMAC",
            ),
        ]
        .into_iter()
        .find(|&(a, _)| a != 0)
        .map(|(_, what)| what),
        _ => None,
    }
}
