//! SEC device side: strict [`decode`] of a BD into a [`SecSqeView`] (never panicking on any 128 bytes), and the
//! result write-back ([`write_result`]).

use super::layout::*;
use super::*;
use crate::qm::Sqe;
use crate::qm::field::{read_u16_at, read_u32_at, read_u64_at, write_u16_at};

mod authenc;
#[path = "device_xcm_mac.rs"]
mod xcm_mac;

// ---------------------------------------------------------------------------------------------------------------------
// Decode (device side)
// ---------------------------------------------------------------------------------------------------------------------

/// What a device learns from a valid BD.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SecSqeView {
    /// BD format.
    pub bd_type: BdType,
    /// Tag as stored: BD2 u16 zero-extended, BD3 the whole u64.
    pub tag: u64,
    /// The operation, in the same form the driver encoded it (digest first/middle BDs report
    /// `mac_len` = full digest size).
    pub op: SecOp,
    /// BD3 auth_mac_key bit 27; always false for BD2.
    pub sva_prefetch: bool,
}

/// Raw fields common to both BD formats, gathered before interpretation.
struct Raw {
    bd: BdType,
    scene: u8,
    de: u8,
    cipher: u8,
    auth: u8,
    seq: bool,
    ai_gen: u8,
    pad: u8,
    mac_words: u32,
    akey_words: u32,
    a_alg: u8,
    icv_len: u8,
    c_width: u8,
    key_code: u8,
    c_mode: u8,
    c_alg: u8,
    a_len_word: u32,
    c_len_word: u32,
    auth_src_offset: u16,
    cipher_src_offset: u16,
    long_a_data_len: u64,
    a_ivin: u64,
    a_key: u64,
    mac: u64,
    c_ivin: u64,
    c_key: u64,
    src: u64,
    dst: u64,
    tag: u64,
    /// BD3 auth_mac_key bits 21..26 (key_sel, ctr_count_mode) and 28..31; 0 on BD2.
    amk_extra: u32,
    sva_prefetch: bool,
}

fn raw_bd2(s: &Sqe) -> Result<Raw, SecDecodeError> {
    if s[bd2::INVALID] & 0x80 != 0 {
        return Err(SecDecodeError::InvalidBd);
    }
    let b0 = s[bd2::TYPE_CIPHER_AUTH];
    let b1 = s[bd2::SDS];
    let b2 = s[bd2::SDM];
    let src_type = (b1 >> 7) | (b2 & 3) << 1;
    check_addr_types(src_type, (b2 >> 2) & 7, b2 >> 5)?;
    let mka = read_u32_at(s, bd2::MAC_KEY_ALG);
    let icvw = read_u16_at(s, bd2::ICVW_KMODE);
    if mka >> 17 != 0 {
        return Err(SecDecodeError::Field("mac_key_alg reserved bits"));
    }
    Ok(Raw {
        bd: BdType::Bd2,
        scene: (b1 >> 3) & 0xF,
        de: (b1 >> 1) & 3,
        cipher: (b0 >> 4) & 3,
        auth: b0 >> 6,
        seq: b1 & 1 != 0,
        ai_gen: s[bd2::AI_APD] & 3,
        pad: (s[bd2::AI_APD] >> 2) & 3,
        mac_words: mka & 0x1F,
        akey_words: (mka >> 5) & 0x3F,
        a_alg: ((mka >> 11) & 0x3F) as u8,
        icv_len: (icvw & 0x3F) as u8,
        c_width: ((icvw >> 6) & 7) as u8,
        key_code: ((icvw >> 9) & 7) as u8,
        c_mode: (icvw >> 12) as u8,
        c_alg: s[bd2::C_ALG],
        a_len_word: read_u32_at(s, bd2::A_LEN),
        c_len_word: read_u32_at(s, bd2::C_LEN),
        auth_src_offset: read_u16_at(s, bd2::AUTH_SRC_OFFSET),
        cipher_src_offset: read_u16_at(s, bd2::CIPHER_SRC_OFFSET),
        long_a_data_len: read_u64_at(s, bd2::LONG_A_DATA_LEN),
        a_ivin: read_u64_at(s, bd2::A_IVIN),
        a_key: read_u64_at(s, bd2::A_KEY),
        mac: read_u64_at(s, bd2::MAC),
        c_ivin: read_u64_at(s, bd2::C_IVIN),
        c_key: read_u64_at(s, bd2::C_KEY),
        src: read_u64_at(s, bd2::SRC),
        dst: read_u64_at(s, bd2::DST),
        tag: u64::from(read_u16_at(s, bd2::TAG)),
        amk_extra: 0,
        sva_prefetch: false,
    })
}

fn raw_bd3(s: &Sqe) -> Result<Raw, SecDecodeError> {
    let p = read_u32_at(s, bd3::BD_PARAM);
    if p & 1 << 4 != 0 {
        return Err(SecDecodeError::InvalidBd);
    }
    check_addr_types(
        ((p >> 11) & 7) as u8,
        ((p >> 14) & 7) as u8,
        ((p >> 17) & 7) as u8,
    )?;
    let cik = read_u16_at(s, bd3::C_ICV_KEY);
    let amk = read_u32_at(s, bd3::AUTH_MAC_KEY);
    Ok(Raw {
        bd: BdType::Bd3,
        scene: ((p >> 5) & 0xF) as u8,
        de: ((p >> 9) & 3) as u8,
        cipher: (cik & 3) as u8,
        auth: (amk & 3) as u8,
        seq: s[bd3::HUK_IV_SEQ] & 1 << 6 != 0,
        ai_gen: ((amk >> 2) & 3) as u8,
        pad: s[bd3::AUTH_PAD] & 3,
        mac_words: (amk >> 4) & 0x1F,
        akey_words: (amk >> 9) & 0x3F,
        a_alg: ((amk >> 15) & 0x3F) as u8,
        icv_len: ((cik >> 4) & 0x3F) as u8,
        c_width: ((cik >> 10) & 7) as u8,
        key_code: (cik >> 13) as u8,
        c_mode: s[bd3::C_MODE_ALG] & 0xF,
        c_alg: s[bd3::C_MODE_ALG] >> 4,
        a_len_word: read_u32_at(s, bd3::A_LEN),
        c_len_word: read_u32_at(s, bd3::C_LEN),
        auth_src_offset: read_u16_at(s, bd3::AUTH_SRC_OFFSET),
        cipher_src_offset: read_u16_at(s, bd3::CIPHER_SRC_OFFSET),
        long_a_data_len: read_u64_at(s, bd3::LONG_A_DATA_LEN),
        a_ivin: read_u64_at(s, bd3::A_IVIN),
        a_key: read_u64_at(s, bd3::A_KEY),
        mac: read_u64_at(s, bd3::MAC),
        c_ivin: read_u64_at(s, bd3::C_IVIN),
        c_key: read_u64_at(s, bd3::C_KEY),
        src: read_u64_at(s, bd3::SRC),
        dst: read_u64_at(s, bd3::DST),
        tag: read_u64_at(s, bd3::TAG),
        amk_extra: amk & !(bd3::SVA_PREFETCH | 0x001F_FFFF),
        sva_prefetch: amk & bd3::SVA_PREFETCH != 0,
    })
}

fn check_addr_types(src: u8, dst: u8, mac: u8) -> Result<(), SecDecodeError> {
    for (what, t) in [("source", src), ("destination", dst), ("MAC", mac)] {
        if t != 0 {
            return Err(SecDecodeError::AddrType(what, t));
        }
    }
    Ok(())
}

fn need(addr: u64, what: &'static str) -> Result<(), SecDecodeError> {
    if addr == 0 {
        Err(SecDecodeError::NullAddress(what))
    } else {
        Ok(())
    }
}

/// Device side: decode and validate a BD (§7.1–§7.4). Never panics, whatever the 128 bytes.
///
/// Accepted: BD2/BD3; scene 0, 1 or 7; flat buffers; cipher (cipher ≠ 0, auth 0, c_mode ECB/CBC/XTS, and CTR, OFB,
/// CFB, CBC-CS on BD3), GCM (cipher ≠ 0, auth 0, c_mode 6), digest/HMAC (cipher 0, auth 1) and authenc (cipher 1
/// with auth 1, cipher 2 with auth 2: [`AuthencRequest`]). Unused address fields and the
/// hardware-written words are ignored; BD3 `ctr_count_mode` is accepted as 0 or 2 for non-CTR ciphers (the kernel
/// sets 2 for every skcipher, §7.4).
pub fn decode(s: &Sqe) -> Result<SecSqeView, SecDecodeError> {
    let raw = match s[0] & 0xF {
        2 => raw_bd2(s)?,
        3 => raw_bd3(s)?,
        t => return Err(SecDecodeError::UnknownBdType(t)),
    };
    if !matches!(raw.scene, 0 | 1 | 7) {
        return Err(SecDecodeError::Scene(raw.scene));
    }
    // Bits 24..31 of a_len / c_len words (iv offsets, auth key/ivin offsets) are not used by these operations.
    if raw.a_len_word >> 24 != 0 || raw.c_len_word >> 24 != 0 {
        return Err(SecDecodeError::Field("offset bits 24..31 of a_len/c_len"));
    }
    let (a_len, c_len) = (raw.a_len_word, raw.c_len_word);
    for l in [a_len, c_len] {
        if l > MAX_DATA_LEN {
            return Err(SecDecodeError::TooLong(l));
        }
    }
    let op = match (raw.cipher, raw.auth) {
        (1 | 2, 0) if raw.c_mode == C_MODE_GCM && raw.c_alg == CipherAlg::Aes.code() => {
            SecOp::Aead(decode_gcm(&raw)?)
        }
        (1 | 2, 0) if matches!(raw.c_mode, 5 | C_MODE_GCM) => {
            SecOp::Xcm(xcm_mac::decode_xcm(&raw)?)
        }
        (0, 1) if let Some(alg) = MacAlg::from_a_alg(raw.a_alg) => {
            SecOp::Mac(xcm_mac::decode_mac(&raw, alg)?)
        }
        (1 | 2, 0) => SecOp::Cipher(decode_cipher(&raw)?),
        (0, 1) => SecOp::Digest(decode_digest(&raw)?),
        (1, 1) | (2, 2) => SecOp::Authenc(authenc::decode(&raw)?),
        (cipher, auth) => return Err(SecDecodeError::UnsupportedOp { cipher, auth }),
    };
    check_reserved(s, raw.bd)?;
    check_unused(&raw, &op)?;
    Ok(SecSqeView {
        bd_type: raw.bd,
        tag: raw.tag,
        op,
        sva_prefetch: raw.sva_prefetch,
    })
}

/// Byte ranges and bit masks that UADK and the kernel's sec2 driver both leave 0 for the operations decoded here
/// (they start from a zeroed BD): reserved bytes, and fields of features neither uses for them (HUK, key
/// selection, IV generation, TLS/checksum offsets, padding, passwords and salts). `(offset, mask)` per byte.
const BD2_ZERO: &[(usize, u8)] = &[
    (3, 0xFF),  // reserved
    (4, 0xFF),  // nonce_len, huk, key_s, ci_gen
    (5, 0xF0),  // c_s, reserved (ai_gen and a_pad are decoded)
    (6, 0xFF),  // rhf, c_key_type, a_key_type, write_frame_len
    (7, 0x7F),  // cal_iv_addr_en, tls_up, reserved (bit 7 invalid is decoded)
    (15, 0xFF), // reserved
];
/// BD2 bytes 28..39 (cs_ip/udp header offsets, pass_word_len, dk_len, salts) and 42..47 (reserved, cph_pad,
/// c_pad_len_field).
const BD2_ZERO_RANGES: &[(usize, usize)] = &[(28, 40), (42, 48)];
const BD3_ZERO: &[(usize, u8)] = &[
    (2, 0xF0),   // bd_param bits 20..23 reserved
    (3, 0xFF),   // bd_param bits 24..31 reserved
    (4, 0x0C),   // c_icv_key ci_gen
    (7, 0xBF),   // huk_iv_seq: nonce_len, huk, cal_iv_addr_en, reserved (bit 6 seq is decoded)
    (108, 0xFC), // stream_auth_pad: stream_protocol, mac_sel, reserved (auth_pad is decoded)
];
/// BD3 bytes 40..47 (auth_ivin reserved words), 60..63 (salt), 109..111 (plaintext_type, pad_len_1p3).
const BD3_ZERO_RANGES: &[(usize, usize)] = &[(40, 48), (60, 64), (109, 112)];

fn check_reserved(s: &Sqe, bd: BdType) -> Result<(), SecDecodeError> {
    let (bits, ranges) = match bd {
        BdType::Bd2 => (BD2_ZERO, BD2_ZERO_RANGES),
        BdType::Bd3 => (BD3_ZERO, BD3_ZERO_RANGES),
    };
    if bits.iter().any(|&(off, mask)| s[off] & mask != 0)
        || ranges.iter().any(|&(a, b)| s[a..b].iter().any(|&x| x != 0))
    {
        return Err(SecDecodeError::Field(
            "reserved or unused bits must be 0 (UADK and the kernel leave them 0)",
        ));
    }
    Ok(())
}

/// Address slots the operation does not use must be 0: UADK and the kernel's sec2 driver leave them 0 (the kernel
/// sends no hash BDs; for those UADK alone is the reference). GCM's a_key_addr is not checked: UADK names its own
/// auth-key buffer there, the kernel the cipher key.
fn check_unused(r: &Raw, op: &SecOp) -> Result<(), SecDecodeError> {
    let unused: &[(u64, &'static str)] = match op {
        SecOp::Cipher(_) => &[
            (r.a_ivin, "a_ivin_addr must be 0 for a plain cipher"),
            (r.a_key, "a_key_addr must be 0 for a plain cipher"),
            (r.mac, "mac_addr must be 0 for a plain cipher"),
        ],
        SecOp::Aead(_) | SecOp::Authenc(_) => &[],
        SecOp::Xcm(_) | SecOp::Mac(_) => {
            return match xcm_mac::unused_slots(r, op) {
                Some(what) => Err(SecDecodeError::Field(what)),
                None => Ok(()),
            };
        }
        SecOp::Digest(d) => {
            let mut v = vec![
                (r.c_ivin, "c_ivin_addr must be 0 for a digest"),
                (r.c_key, "c_key_addr must be 0 for a digest"),
                (r.dst, "data_dst_addr must be 0 for a digest"),
            ];
            if d.hmac_key.is_none() {
                v.push((r.a_key, "a_key_addr must be 0 for a plain hash"));
            }
            if r.ai_gen == 0 {
                v.push((r.a_ivin, "a_ivin_addr must be 0 when ai_gen is 0"));
            }
            return match v.into_iter().find(|&(a, _)| a != 0) {
                Some((_, what)) => Err(SecDecodeError::Field(what)),
                None => Ok(()),
            };
        }
    };
    match unused.iter().find(|&&(a, _)| a != 0) {
        Some(&(_, what)) => Err(SecDecodeError::Field(what)),
        None => Ok(()),
    }
}

const fn dir_of(code: u8) -> CipherDir {
    if code == 1 {
        CipherDir::Encrypt
    } else {
        CipherDir::Decrypt
    }
}

fn decode_cipher(r: &Raw) -> Result<CipherRequest, SecDecodeError> {
    let alg = CipherAlg::from_code(r.c_alg).ok_or(SecDecodeError::CAlg(r.c_alg))?;
    let mode =
        CipherMode::from_fields(r.c_mode, r.c_width).ok_or(SecDecodeError::CMode(r.c_mode))?;
    if r.bd == BdType::Bd2 && !mode.on_bd2() {
        return Err(if mode == CipherMode::Ctr {
            SecDecodeError::CtrOnBd2
        } else {
            SecDecodeError::ModeNotOnBd2(mode)
        });
    }
    let key_len = key_len_from_code(alg, mode == CipherMode::Xts, r.key_code)
        .ok_or(SecDecodeError::KeyLenCode(r.key_code))?;
    if r.de != 1 {
        return Err(SecDecodeError::Field("de must be 1 for cipher"));
    }
    if r.seq || r.icv_len != 0 || r.c_width != mode.c_width() {
        return Err(SecDecodeError::Field(
            "seq/c_icv_len/c_width set for a plain cipher",
        ));
    }
    if r.mac_words != 0 || r.akey_words != 0 || r.a_alg != 0 || r.ai_gen != 0 || r.pad != 0 {
        return Err(SecDecodeError::Field("auth fields set for a plain cipher"));
    }
    let ctr_bits = r.amk_extra;
    let ctr_ok = match mode {
        CipherMode::Ctr => ctr_bits == bd3::CTR_COUNT_MODE_128,
        _ => ctr_bits == 0 || ctr_bits == bd3::CTR_COUNT_MODE_128,
    };
    if !ctr_ok {
        return Err(SecDecodeError::Field("BD3 ctr_count_mode / key_sel"));
    }
    if r.a_len_word != 0
        || r.auth_src_offset != 0
        || r.cipher_src_offset != 0
        || r.long_a_data_len != 0
    {
        return Err(SecDecodeError::Lengths(
            "a_len/offsets nonzero for a plain cipher",
        ));
    }
    let len = r.c_len_word;
    if !mode.len_ok(len) {
        return Err(SecDecodeError::Lengths("c_len invalid for the mode"));
    }
    need(r.c_key, "key")?;
    if mode != CipherMode::Ecb {
        need(r.c_ivin, "IV")?;
    }
    need(r.src, "source")?;
    need(r.dst, "destination")?;
    Ok(CipherRequest {
        alg,
        mode,
        dir: dir_of(r.cipher),
        key_addr: r.c_key,
        key_len,
        iv_addr: r.c_ivin,
        src_addr: r.src,
        dst_addr: r.dst,
        len,
    })
}

fn decode_gcm(r: &Raw) -> Result<GcmRequest, SecDecodeError> {
    if r.c_alg != CipherAlg::Aes.code() {
        return Err(SecDecodeError::CAlg(r.c_alg));
    }
    let key_len = key_len_from_code(CipherAlg::Aes, false, r.key_code)
        .ok_or(SecDecodeError::KeyLenCode(r.key_code))?;
    if r.de != 1 {
        return Err(SecDecodeError::Field("de must be 1 for AEAD"));
    }
    if !(4..=16).contains(&r.icv_len) || r.c_width != 0 {
        return Err(SecDecodeError::Field("c_icv_len must be 4..=16 for GCM"));
    }
    let dir = dir_of(r.cipher);
    if r.seq != (dir == CipherDir::Decrypt) {
        return Err(SecDecodeError::Field(
            "seq must be set exactly for GCM decrypt",
        ));
    }
    let amk_bits_ok = r.amk_extra == 0 || r.amk_extra == bd3::CTR_COUNT_MODE_128;
    if r.mac_words != 0
        || r.akey_words != 0
        || r.a_alg != 0
        || r.ai_gen != 0
        || r.pad != 0
        || !amk_bits_ok
    {
        return Err(SecDecodeError::Field("auth fields must be 0 for GCM"));
    }
    if r.a_len_word != u32::from(r.cipher_src_offset)
        || r.auth_src_offset != 0
        || r.long_a_data_len != 0
    {
        return Err(SecDecodeError::Lengths(
            "GCM needs a_len = cipher_src_offset = AAD, auth_src_offset 0",
        ));
    }
    // a_len = cipher_src_offset (16 bits) keeps the AAD within 0xFFFF.
    let (aad_len, payload_len) = xcm_mac::aead_data(r, 0xFFFF, false)?;
    Ok(GcmRequest {
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

fn decode_digest(r: &Raw) -> Result<DigestRequest, SecDecodeError> {
    let (alg, hmac) = DigestAlg::from_a_alg(r.a_alg).ok_or(SecDecodeError::AAlg(r.a_alg))?;
    if r.de != 0 {
        return Err(SecDecodeError::Field("de must be 0 for digest"));
    }
    if r.seq || r.amk_extra != 0 {
        return Err(SecDecodeError::Field(
            "seq / BD3 key_sel / ctr_count_mode set for digest",
        ));
    }
    if r.c_len_word != 0 || r.cipher_src_offset != 0 || r.auth_src_offset != 0 {
        return Err(SecDecodeError::Lengths("c_len/offsets nonzero for digest"));
    }
    let len = r.a_len_word;
    let stage = match (r.ai_gen, r.pad) {
        (0, 0) => DigestStage::OneShot,
        (0, 1) => DigestStage::First,
        (1, 1) => DigestStage::Middle,
        (1, 0) => {
            if !r.long_a_data_len.is_multiple_of(8) || r.long_a_data_len / 8 < u64::from(len) {
                return Err(SecDecodeError::Lengths(
                    "long_a_data_len must be the total length in bits",
                ));
            }
            DigestStage::Last {
                total_len: r.long_a_data_len / 8,
            }
        }
        _ => return Err(SecDecodeError::Field("ai_gen / auth pad")),
    };
    if !matches!(stage, DigestStage::Last { .. }) && r.long_a_data_len != 0 {
        return Err(SecDecodeError::Lengths(
            "long_a_data_len set outside the last long-hash BD",
        ));
    }
    let block_stage = matches!(stage, DigestStage::First | DigestStage::Middle);
    if (block_stage && (len == 0 || !len.is_multiple_of(alg.block_len())))
        || (r.bd == BdType::Bd2 && len == 0)
    {
        return Err(SecDecodeError::Lengths(
            "a_len invalid for the digest stage",
        ));
    }
    let full = alg.digest_len() / 4;
    let mac_len = if block_stage {
        if r.mac_words != alg.intermediate_mac_words(hmac) {
            return Err(SecDecodeError::Field(
                "mac_len of an intermediate long-hash BD",
            ));
        }
        alg.digest_len()
    } else {
        if r.mac_words == 0 || r.mac_words > full {
            return Err(SecDecodeError::Field("mac_len"));
        }
        r.mac_words * 4
    };
    let hmac_key = if hmac {
        let klen = r.akey_words * 4;
        if klen == 0 || klen > alg.block_len() {
            return Err(SecDecodeError::Field("a_key_len"));
        }
        need(r.a_key, "HMAC key")?;
        Some(HmacKey {
            addr: r.a_key,
            len: klen,
        })
    } else {
        if r.akey_words != 0 {
            return Err(SecDecodeError::Field("a_key_len set for a plain hash"));
        }
        None
    };
    if r.ai_gen == 1 && r.a_ivin != r.mac {
        return Err(SecDecodeError::Field(
            "a_ivin must equal mac_addr for middle/last long-hash BDs",
        ));
    }
    if len != 0 {
        need(r.src, "source")?;
    }
    need(r.mac, "MAC")?;
    Ok(DigestRequest {
        alg,
        hmac_key,
        src_addr: r.src,
        len,
        mac_addr: r.mac,
        mac_len,
        stage,
    })
}

/// What the device writes into bytes 112..114 (same place in BD2 and BD3, §7.1, §7.2, §8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SecResult {
    /// `done` (bit 0): 1 = the task completed.
    pub done: bool,
    /// `icv` (bits 1..3): 2 = MAC mismatch.
    pub icv: u8,
    /// `flag` (bits 7..10): 2 cipher/digest, 3 AEAD (what the kernel checks).
    pub flag: u8,
    /// `error_type` (byte 114): 0 = OK.
    pub error_type: u8,
}

impl SecResult {
    /// Success for an operation of `kind`: done 1, icv 0, flag 2 (cipher, digest) or 3 (AEAD), error_type 0 (§8).
    pub const fn success(kind: SecOpKind) -> SecResult {
        let flag = match kind {
            SecOpKind::Aead => FLAG_AEAD,
            SecOpKind::Cipher | SecOpKind::Digest => FLAG_CIPHER,
        };
        SecResult {
            done: true,
            icv: 0,
            flag,
            error_type: 0,
        }
    }

    /// An AEAD open whose tag did not verify: done 1, icv 2, flag 3 (§8).
    pub const fn mac_mismatch() -> SecResult {
        SecResult {
            done: true,
            icv: ICV_MISMATCH,
            flag: FLAG_AEAD,
            error_type: 0,
        }
    }
}

/// Device side: write `done`, `icv`, `flag` and `error_type` in place; csc/dif bits, `warning_type` and every other
/// byte are left unchanged. `icv` is masked to 3 bits and `flag` to 4.
pub fn write_result(s: &mut Sqe, res: &SecResult) {
    let keep = read_u16_at(s, DONE_FLAG) & !(0x1 | 0xE | 0x780);
    let w =
        keep | u16::from(res.done) | u16::from(res.icv & 7) << 1 | u16::from(res.flag & 0xF) << 7;
    write_u16_at(s, DONE_FLAG, w);
    s[ERROR_TYPE] = res.error_type;
}
