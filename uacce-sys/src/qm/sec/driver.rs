//! SEC driver side: request validation, [`encode`] into BD2/BD3, and reading a completed BD ([`read_result`],
//! [`read_tag`]).

use super::layout::*;
use super::*;
use crate::qm::field::{read_u16_at, read_u64_at, write_u16_at, write_u32_at, write_u64_at};
use crate::qm::{QmVersion, SQE_SIZE, Sqe};

mod authenc;
#[path = "driver_xcm_mac.rs"]
mod xcm_mac;

// ---------------------------------------------------------------------------------------------------------------------
// Validation before encoding (decode enforces the same limits on its side)
// ---------------------------------------------------------------------------------------------------------------------

fn check_cipher(c: &CipherRequest) -> Result<u8, SecEncodeError> {
    let code = key_len_code(c.alg, c.mode == CipherMode::Xts, c.key_len)
        .ok_or(SecEncodeError::KeyLen(c.key_len))?;
    if c.len > MAX_DATA_LEN {
        return Err(SecEncodeError::TooLong(c.len.into()));
    }
    if !c.mode.len_ok(c.len) {
        return Err(SecEncodeError::BadLength(c.len));
    }
    nonzero(c.key_addr, "key")?;
    if c.mode != CipherMode::Ecb {
        nonzero(c.iv_addr, "IV")?;
    }
    nonzero(c.src_addr, "source")?;
    nonzero(c.dst_addr, "destination")?;
    Ok(code)
}

/// An AES-GCM request as the CCM/GCM BD code sees it: GCM mode with AES (AES-GCM and SM4-GCM share the BD).
const fn gcm_as_xcm(g: &GcmRequest) -> XcmRequest {
    XcmRequest {
        mode: XcmMode::Gcm,
        alg: CipherAlg::Aes,
        dir: g.dir,
        key_addr: g.key_addr,
        key_len: g.key_len,
        iv_addr: g.iv_addr,
        aiv_addr: g.aiv_addr,
        src_addr: g.src_addr,
        dst_addr: g.dst_addr,
        aad_len: g.aad_len,
        payload_len: g.payload_len,
        mac_addr: g.mac_addr,
        tag_len: g.tag_len,
    }
}

/// Returns the `c_key_len` code and the request in the CCM/GCM BD code's terms.
fn check_gcm(g: &GcmRequest) -> Result<(u8, XcmRequest), SecEncodeError> {
    let code =
        key_len_code(CipherAlg::Aes, false, g.key_len).ok_or(SecEncodeError::KeyLen(g.key_len))?;
    if !(4..=16).contains(&g.tag_len) {
        return Err(SecEncodeError::TagLen(g.tag_len));
    }
    let x = gcm_as_xcm(g);
    // No aead_len_check: an empty AES-GCM job is encoded.
    xcm_mac::check_aead_data(&x, None)?;
    Ok((code, x))
}

/// Returns `(mac_len words, akey words, a_alg)`.
fn check_digest(d: &DigestRequest, bd: BdType) -> Result<(u32, u32, u32), SecEncodeError> {
    if d.len > MAX_DATA_LEN {
        return Err(SecEncodeError::TooLong(d.len.into()));
    }
    let block_stage = matches!(d.stage, DigestStage::First | DigestStage::Middle);
    if (block_stage && (d.len == 0 || !d.len.is_multiple_of(d.alg.block_len())))
        || (bd == BdType::Bd2 && d.len == 0)
    {
        return Err(SecEncodeError::BadLength(d.len));
    }
    match d.stage {
        DigestStage::Last { total_len }
            if total_len < u64::from(d.len) || total_len.checked_mul(8).is_none() =>
        {
            return Err(SecEncodeError::TotalLen(total_len));
        }
        _ => {}
    }
    let mac_words = if block_stage {
        // §7.4: intermediate BDs use mac_len 0 for plain hashes (SM3: full) and the full length for HMAC.
        d.alg.intermediate_mac_words(d.hmac_key.is_some())
    } else {
        if d.mac_len == 0 || !d.mac_len.is_multiple_of(4) || d.mac_len > d.alg.digest_len() {
            return Err(SecEncodeError::MacLen(d.mac_len));
        }
        d.mac_len / 4
    };
    let (akey_words, a_alg) = match d.hmac_key {
        Some(k) => {
            if k.len == 0 || k.len % 4 != 0 || k.len > d.alg.block_len() {
                return Err(SecEncodeError::HmacKeyLen(k.len));
            }
            nonzero(k.addr, "HMAC key")?;
            (k.len / 4, u32::from(d.alg.hmac_a_alg()))
        }
        None => (0, u32::from(d.alg.a_alg())),
    };
    if d.len != 0 {
        nonzero(d.src_addr, "source")?;
    }
    nonzero(d.mac_addr, "MAC")?;
    Ok((mac_words, akey_words, a_alg))
}

fn nonzero(addr: u64, what: &'static str) -> Result<(), SecEncodeError> {
    if addr == 0 {
        Err(SecEncodeError::NullAddress(what))
    } else {
        Ok(())
    }
}

/// `(ai_gen, pad)` of a digest stage (§7.4 long-hash table; pad 1 = no-pad).
const fn stage_bits(stage: DigestStage) -> (u32, u32) {
    match stage {
        DigestStage::OneShot => (0, 0),
        DigestStage::First => (0, 1),
        DigestStage::Middle => (1, 1),
        DigestStage::Last { .. } => (1, 0),
    }
}

// ---------------------------------------------------------------------------------------------------------------------
// Encode
// ---------------------------------------------------------------------------------------------------------------------

/// Encode a request into a zeroed BD for `version` (BD2 on v2, BD3 on v3; §7.4 fill rules, §11).
pub fn encode(req: &SecRequest, version: QmVersion) -> Result<Sqe, SecEncodeError> {
    let bd = BdType::for_version(version).ok_or(SecEncodeError::UnsupportedVersion(version))?;
    let mut s = [0u8; SQE_SIZE];
    match bd {
        BdType::Bd2 => {
            let tag = u16::try_from(req.tag).map_err(|_| SecEncodeError::TagTooLarge(req.tag))?;
            match &req.op {
                SecOp::Cipher(c) => encode_cipher_bd2(&mut s, c)?,
                SecOp::Aead(g) => encode_gcm_bd2(&mut s, g)?,
                SecOp::Digest(d) => encode_digest_bd2(&mut s, d)?,
                SecOp::Authenc(a) => authenc::encode_bd2(&mut s, a)?,
                SecOp::Xcm(x) => xcm_mac::encode_xcm_bd2(&mut s, x)?,
                SecOp::Mac(m) => xcm_mac::encode_mac_bd2(&mut s, m)?,
            }
            write_u16_at(&mut s, bd2::TAG, tag);
        }
        BdType::Bd3 => {
            let mut auth_mac_key = match &req.op {
                SecOp::Cipher(c) => encode_cipher_bd3(&mut s, c)?,
                SecOp::Aead(g) => encode_gcm_bd3(&mut s, g)?,
                SecOp::Digest(d) => encode_digest_bd3(&mut s, d)?,
                SecOp::Authenc(a) => authenc::encode_bd3(&mut s, a)?,
                SecOp::Xcm(x) => xcm_mac::encode_xcm_bd3(&mut s, x)?,
                SecOp::Mac(m) => xcm_mac::encode_mac_bd3(&mut s, m)?,
            };
            if req.sva_prefetch {
                auth_mac_key |= bd3::SVA_PREFETCH;
            }
            write_u32_at(&mut s, bd3::AUTH_MAC_KEY, auth_mac_key);
            write_u64_at(&mut s, bd3::TAG, u64::from(req.tag));
        }
    }
    Ok(s)
}

fn encode_cipher_bd2(s: &mut Sqe, c: &CipherRequest) -> Result<(), SecEncodeError> {
    match c.mode {
        CipherMode::Ctr => return Err(SecEncodeError::CtrOnBd2),
        m if !m.on_bd2() => return Err(SecEncodeError::ModeNotOnBd2(m)),
        _ => {}
    }
    let key_code = check_cipher(c)?;
    s[bd2::TYPE_CIPHER_AUTH] = 2 | (c.dir.code() << 4) as u8;
    s[bd2::SDS] = (1 << 1 | SCENE_IPSEC << 3) as u8; // de 1, scene 1: 0x0A
    write_u16_at(
        s,
        bd2::ICVW_KMODE,
        u16::from(key_code) << 9 | u16::from(c.mode.code()) << 12,
    );
    s[bd2::C_ALG] = c.alg.code();
    write_u32_at(s, bd2::C_LEN, c.len);
    write_u64_at(s, bd2::C_IVIN, c.iv_addr);
    write_u64_at(s, bd2::C_KEY, c.key_addr);
    write_u64_at(s, bd2::SRC, c.src_addr);
    write_u64_at(s, bd2::DST, c.dst_addr);
    Ok(())
}

fn encode_gcm_bd2(s: &mut Sqe, g: &GcmRequest) -> Result<(), SecEncodeError> {
    let (key_code, x) = check_gcm(g)?;
    xcm_mac::write_aead_bd2(s, &x, key_code); // auth 0 (§11)
    Ok(())
}

fn encode_digest_bd2(s: &mut Sqe, d: &DigestRequest) -> Result<(), SecEncodeError> {
    let (mac_words, akey_words, a_alg) = check_digest(d, BdType::Bd2)?;
    s[bd2::TYPE_CIPHER_AUTH] = 2 | 1 << 6; // auth 1 = calculate: 0x42
    s[bd2::SDS] = (SCENE_IPSEC << 3) as u8; // de 0, scene 1: 0x08
    let (ai_gen, pad) = stage_bits(d.stage);
    s[bd2::AI_APD] = (ai_gen | pad << 2) as u8;
    write_u32_at(
        s,
        bd2::MAC_KEY_ALG,
        mac_words | akey_words << 5 | a_alg << 11,
    );
    write_u32_at(s, bd2::A_LEN, d.len);
    if let Some(k) = d.hmac_key {
        write_u64_at(s, bd2::A_KEY, k.addr);
    }
    if ai_gen == 1 {
        write_u64_at(s, bd2::A_IVIN, d.mac_addr);
    }
    if let DigestStage::Last { total_len } = d.stage {
        write_u64_at(s, bd2::LONG_A_DATA_LEN, total_len * 8);
    }
    write_u64_at(s, bd2::MAC, d.mac_addr);
    write_u64_at(s, bd2::SRC, d.src_addr);
    Ok(())
}

/// BD3 bd_param for type 3 with `scene` and `de` (§7.2).
const fn bd3_param(scene: u32, de: u32) -> u32 {
    3 | scene << 5 | de << 9
}

/// Returns the auth_mac_key word (without the prefetch bit).
fn encode_cipher_bd3(s: &mut Sqe, c: &CipherRequest) -> Result<u32, SecEncodeError> {
    let key_code = check_cipher(c)?;
    write_u32_at(s, bd3::BD_PARAM, bd3_param(SCENE_IPSEC, 1)); // 0x223
    write_u16_at(
        s,
        bd3::C_ICV_KEY,
        c.dir.code() as u16 | u16::from(c.mode.c_width()) << 10 | u16::from(key_code) << 13,
    );
    s[bd3::C_MODE_ALG] = c.mode.code() | c.alg.code() << 4;
    write_u32_at(s, bd3::C_LEN, c.len);
    write_u64_at(s, bd3::SRC, c.src_addr);
    write_u64_at(s, bd3::DST, c.dst_addr);
    write_u64_at(s, bd3::C_KEY, c.key_addr);
    write_u64_at(s, bd3::C_IVIN, c.iv_addr);
    Ok(if c.mode == CipherMode::Ctr {
        bd3::CTR_COUNT_MODE_128
    } else {
        0
    })
}

fn encode_gcm_bd3(s: &mut Sqe, g: &GcmRequest) -> Result<u32, SecEncodeError> {
    let (key_code, x) = check_gcm(g)?;
    xcm_mac::write_aead_bd3(s, &x, key_code);
    Ok(0) // auth bits 0 for GCM (§11)
}

fn encode_digest_bd3(s: &mut Sqe, d: &DigestRequest) -> Result<u32, SecEncodeError> {
    let (mac_words, akey_words, a_alg) = check_digest(d, BdType::Bd3)?;
    write_u32_at(s, bd3::BD_PARAM, bd3_param(SCENE_STREAM, 0)); // 0xE3 (§11: scene 7 even one-shot)
    let (ai_gen, pad) = stage_bits(d.stage);
    s[bd3::AUTH_PAD] = pad as u8;
    write_u32_at(s, bd3::A_LEN, d.len);
    write_u64_at(s, bd3::SRC, d.src_addr);
    write_u64_at(s, bd3::MAC, d.mac_addr);
    if let Some(k) = d.hmac_key {
        write_u64_at(s, bd3::A_KEY, k.addr);
    }
    if ai_gen == 1 {
        write_u64_at(s, bd3::A_IVIN, d.mac_addr);
    }
    if let DigestStage::Last { total_len } = d.stage {
        write_u64_at(s, bd3::LONG_A_DATA_LEN, total_len * 8);
    }
    Ok(1 | ai_gen << 2 | mac_words << 4 | akey_words << 9 | a_alg << 15)
}

/// A completed BD as the driver reads it (§8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SecCompletion {
    /// Byte 0 bits 0..3 (2 or 3 for BDs this crate wrote).
    pub bd_type: u8,
    /// Tag: BD2 u16 at byte 40; otherwise the BD3 u64 at byte 8.
    pub tag: u64,
    /// `done` bit.
    pub done: bool,
    /// `icv` field.
    pub icv: u8,
    /// `flag` field.
    pub flag: u8,
    /// `error_type`.
    pub error_type: u8,
    /// `warning_type`.
    pub warning_type: u8,
}

impl SecCompletion {
    /// Classify: MAC mismatch first, then done/error_type (§8). `flag` is not checked (UADK ignores it).
    pub const fn outcome(&self) -> SecOutcome {
        if self.icv == ICV_MISMATCH {
            SecOutcome::MacMismatch
        } else if self.done && self.error_type == 0 {
            SecOutcome::Ok
        } else {
            SecOutcome::DeviceError {
                done: self.done,
                error_type: self.error_type,
            }
        }
    }
}

/// Driver side: read the tag of a BD (BD2: u16 at byte 40; anything else: BD3 u64 at byte 8).
pub fn read_tag(s: &Sqe) -> u64 {
    if s[0] & 0xF == 2 {
        u64::from(read_u16_at(s, bd2::TAG))
    } else {
        read_u64_at(s, bd3::TAG)
    }
}

/// Driver side: read a completed BD. Never panics.
pub fn read_result(s: &Sqe) -> SecCompletion {
    let w = read_u16_at(s, DONE_FLAG);
    SecCompletion {
        bd_type: s[0] & 0xF,
        tag: read_tag(s),
        done: w & 1 != 0,
        icv: ((w >> 1) & 7) as u8,
        flag: ((w >> 7) & 0xF) as u8,
        error_type: s[ERROR_TYPE],
        warning_type: s[WARNING_TYPE],
    }
}
