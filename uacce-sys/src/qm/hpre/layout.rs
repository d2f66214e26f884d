//! HPRE SQE field positions (protocol doc §12.2) and the layouts of the key, input and output blocks (§12.4).
//!
//! SQE positions are **dword indices** (`dwN` = bytes `4N..4N+4`), read and written with the `*_dw` accessors of
//! [`crate::qm::field`]. The data blocks are concatenations of unsigned **big-endian** numbers, each right-aligned
//! (left zero-padded) in a field of the operation's width, with no gaps (§12, first paragraph).

use super::HpreError;

// ---------------------------------------------------------------------------------------------------------------------
// SQE positions (§12.2; UADK `struct hisi_hpre_sqe`, the kernel's `struct hpre_sqe`)
// ---------------------------------------------------------------------------------------------------------------------

/// dw0: alg (bits 0..4), etype (5..15), etype1 (16..29), done (30..31).
pub(super) const DW_CTRL: usize = 0;
/// dw1: task_len1 (0..7), task_len2 (8..15), mrttest_num (16..23), uwkey_enb (24), sm2_ksel (25), sva_bypass (26),
/// sva_status (27..30), bd_rsv2 (31).
pub(super) const DW_TASK: usize = 1;
/// dw2–3: key address.
pub(super) const DW_KEY: usize = 2;
/// dw4–5: input address.
pub(super) const DW_IN: usize = 4;
/// dw6–7: output address; for the verify algorithms the device's result in bit 1 of dw6.
pub(super) const DW_OUT: usize = 6;
/// dw8–9: tag (UADK: the request's address; the kernel: a request id in dw8 bits 0..15).
pub(super) const DW_TAG: usize = 8;
/// dw10: sm2_mlen (bits 0..8), rsvd1 (9..15), uwkey_sel (16..19), wrap_num (20..22), reserved (23..31).
pub(super) const DW_MLEN: usize = 10;
/// dw11: kek_key; dw12–15: reserved. Never set by UADK or the kernel.
pub(super) const DW_RESERVED_FIRST: usize = 11;

pub(super) const ALG_MASK: u32 = 0x1F;
pub(super) const ETYPE_SHIFT: u32 = 5;
pub(super) const ETYPE_MASK: u32 = 0x7FF;
pub(super) const ETYPE1_SHIFT: u32 = 16;
pub(super) const ETYPE1_MASK: u32 = 0x3FFF;
pub(super) const DONE_SHIFT: u32 = 30;
/// done = 1: what software writes (task not yet processed).
pub const DONE_INIT: u8 = 1;
/// done = 3: task done (written by the device).
pub const DONE_TASK: u8 = 3;

pub(super) const TASK_LEN1_MASK: u32 = 0xFF;
/// dw1 bit 25: the hardware picks a random k (SM2 sign and single-SQE SM2 encrypt).
pub(super) const SM2_KSEL: u32 = 1 << 25;
/// dw1 bit 31 (bd_rsv2): UADK's "hpcore" switch on ECDH with the built-in P-256 on hw ≥ v3, and on split SM2.
pub(super) const BD_RSV2: u32 = 1 << 31;

/// dw10 bits 0..8: sm2_mlen = message bytes − 1.
pub(super) const MLEN_MASK: u32 = 0x1FF;
/// The longest message a single-SQE SM2 encrypt or decrypt carries: 512 bytes (9-bit `sm2_mlen`; UADK splits
/// longer messages, §12.4).
pub const SM2_MAX_SINGLE_MSG: usize = 512;
/// dw10 marker UADK writes on the ECC multiplies of a split SM2 encrypt (§12.4).
pub const SPLIT_MARK_ENCRYPT: u16 = 0xE;
/// dw10 marker UADK writes on the ECC multiply of a split SM2 decrypt (§12.4).
pub const SPLIT_MARK_DECRYPT: u16 = 0xF;

/// Bit 1 of dw6: the device's verify result (1 = the signature is valid; §12.2).
pub const VERIFY_OK_BIT: u32 = 1 << 1;

// ---------------------------------------------------------------------------------------------------------------------
// Widths (§12.1, §12.4)
// ---------------------------------------------------------------------------------------------------------------------

/// RSA modulus sizes the hardware takes, in bytes (1024, 2048, 3072 and 4096 bits). The kernel sends 512 and 1536
/// to software; UADK refuses them.
pub const RSA_KEY_BYTES: [usize; 4] = [128, 256, 384, 512];
/// DH prime sizes the hardware takes, in bytes (768, 1024, 1536, 2048, 3072 and 4096 bits).
pub const DH_KEY_BYTES: [usize; 6] = [96, 128, 192, 256, 384, 512];
/// ECC field widths `h` (§12.1): every ECC field is `h` bytes.
pub const ECC_WIDTHS: [usize; 3] = [32, 48, 72];

/// The ECC width `h` for a curve whose numbers are `key_bytes` long (§12.1): 32 up to 32 bytes, 48 up to 48, 72
/// up to 72 (576 bits; P-521 and X448 use it). `None` for 0 or more than 72.
pub const fn ecc_width(key_bytes: usize) -> Option<usize> {
    match key_bytes {
        1..=32 => Some(32),
        33..=48 => Some(48),
        49..=72 => Some(72),
        _ => None,
    }
}

/// task_len1 for an operand width in bytes: `width / 8 − 1` (§12.4). RSA-2048 (256) → 0x1F, ECC h = 32 → 3.
/// Meaningful for the widths [`super::HpreAlg::width_ok`] accepts (8..=2048 bytes); others saturate instead of
/// panicking.
pub const fn task_len1(width: usize) -> u8 {
    let v = (width / 8).saturating_sub(1);
    if v > 0xFF { 0xFF } else { v as u8 }
}

// ---------------------------------------------------------------------------------------------------------------------
// Block layouts (§12.4)
// ---------------------------------------------------------------------------------------------------------------------

/// Fields of UADK's ECC **private** key block, in order (7 × h): p ‖ a ‖ d ‖ b ‖ n ‖ Gx ‖ Gy. The SQE key address
/// points at p. ECDH and the split-SM2 multiplies pass the first five fields (the kernel puts Gx where n is: the
/// hardware presumably reads only p, a, k and b there, §12.6 item 2).
pub mod ecc_private {
    /// Field index of p (the prime).
    pub const P: usize = 0;
    /// Field index of a.
    pub const A: usize = 1;
    /// Field index of the private scalar d (or the multiplier k of an ECDH multiply).
    pub const D: usize = 2;
    /// Field index of b.
    pub const B: usize = 3;
    /// Field index of the group order n.
    pub const N: usize = 4;
    /// Field index of Gx.
    pub const GX: usize = 5;
    /// Field index of Gy.
    pub const GY: usize = 6;
    /// Number of fields.
    pub const FIELDS: usize = 7;
    /// Fields an ECDH multiply (alg 0x0D) names: p, a, k, b, n.
    pub const MULTIPLY_FIELDS: usize = 5;
}

/// Fields of UADK's ECC **public** key block, in order (8 × h): p ‖ a ‖ b ‖ n ‖ Gx ‖ Gy ‖ Px ‖ Py.
pub mod ecc_public {
    /// Field index of p.
    pub const P: usize = 0;
    /// Field index of a.
    pub const A: usize = 1;
    /// Field index of b.
    pub const B: usize = 2;
    /// Field index of n.
    pub const N: usize = 3;
    /// Field index of Gx.
    pub const GX: usize = 4;
    /// Field index of Gy.
    pub const GY: usize = 5;
    /// Field index of the public point's x.
    pub const PX: usize = 6;
    /// Field index of the public point's y.
    pub const PY: usize = 7;
    /// Number of fields.
    pub const FIELDS: usize = 8;
}

/// Fields of the X25519 / X448 key block (3 × h): p ‖ a ‖ k, with a = (A − 2) / 4.
pub mod x_dh {
    /// Field index of p.
    pub const P: usize = 0;
    /// Field index of a = (A − 2) / 4.
    pub const A: usize = 1;
    /// Field index of the (clamped, big-endian) scalar.
    pub const K: usize = 2;
    /// Number of fields.
    pub const FIELDS: usize = 3;
}

/// Fields of the RSA CRT private key block, in order, each k/2 bytes: dq ‖ dp ‖ q ‖ p ‖ qinv (the kernel's
/// "dq->dp->q->p->qinv"; UADK the same).
pub mod rsa_crt {
    /// Field index of dq = d mod (q − 1).
    pub const DQ: usize = 0;
    /// Field index of dp = d mod (p − 1).
    pub const DP: usize = 1;
    /// Field index of q.
    pub const Q: usize = 2;
    /// Field index of p.
    pub const P: usize = 3;
    /// Field index of qinv = q⁻¹ mod p.
    pub const QINV: usize = 4;
    /// Number of fields.
    pub const FIELDS: usize = 5;
}

/// Length of an X25519 / X448 value in RFC 7748 (little-endian) form for a width `h`: 32 for h = 32, 56 for
/// h = 72 (X448's 56-byte numbers sit right-aligned in a 72-byte field after 16 zero bytes).
pub const fn x_dh_value_len(h: usize) -> usize {
    if h == 72 { 56 } else { h }
}

/// Store the unsigned big-endian number `src` right-aligned in `dst` (left zero-padded). Leading zero bytes of
/// `src` are ignored; a number with more significant bytes than `dst` holds is [`HpreError::NumberTooLong`].
pub fn put_be(dst: &mut [u8], src: &[u8]) -> Result<(), HpreError> {
    let first = src.iter().position(|&b| b != 0).unwrap_or(src.len());
    let sig = &src[first..];
    if sig.len() > dst.len() {
        return Err(HpreError::NumberTooLong {
            bytes: sig.len(),
            width: dst.len(),
        });
    }
    let pad = dst.len() - sig.len();
    dst[..pad].fill(0);
    dst[pad..].copy_from_slice(sig);
    Ok(())
}

/// Concatenate numbers, each right-aligned in a `width`-byte field: the block layout of every HPRE key, input and
/// output buffer.
pub fn concat_be(width: usize, numbers: &[&[u8]]) -> Result<Vec<u8>, HpreError> {
    let len = width
        .checked_mul(numbers.len())
        .ok_or(HpreError::BadWidth(width))?;
    let mut out = vec![0u8; len];
    for (i, n) in numbers.iter().enumerate() {
        put_be(&mut out[i * width..(i + 1) * width], n)?;
    }
    Ok(out)
}

/// Field `index` of a block of `width`-byte fields, or `None` if the block is too short.
pub fn field(block: &[u8], width: usize, index: usize) -> Option<&[u8]> {
    let start = index.checked_mul(width)?;
    block.get(start..start.checked_add(width)?)
}

/// The number `value` with its leading zero bytes stripped, as UADK returns outputs (at least one byte).
pub fn strip_leading_zeros(value: &[u8]) -> &[u8] {
    let first = value.iter().position(|&b| b != 0).unwrap_or(value.len());
    if first == value.len() {
        &value[value.len().saturating_sub(1)..]
    } else {
        &value[first..]
    }
}

/// RSA public or non-CRT private key block (2k): `e ‖ n` or `d ‖ n`, each right-aligned in `k` bytes.
pub fn rsa_key_block(exponent: &[u8], n: &[u8], k: usize) -> Result<Vec<u8>, HpreError> {
    if !RSA_KEY_BYTES.contains(&k) {
        return Err(HpreError::BadWidth(k));
    }
    concat_be(k, &[exponent, n])
}

/// RSA CRT key block (5 × k/2): `dq ‖ dp ‖ q ‖ p ‖ qinv`.
pub fn rsa_crt_block(
    dq: &[u8],
    dp: &[u8],
    q: &[u8],
    p: &[u8],
    qinv: &[u8],
    k: usize,
) -> Result<Vec<u8>, HpreError> {
    if !RSA_KEY_BYTES.contains(&k) {
        return Err(HpreError::BadWidth(k));
    }
    concat_be(k / 2, &[dq, dp, q, p, qinv])
}

/// DH key block (2k): `x ‖ p`.
pub fn dh_key_block(x: &[u8], p: &[u8], k: usize) -> Result<Vec<u8>, HpreError> {
    if !DH_KEY_BYTES.contains(&k) {
        return Err(HpreError::BadWidth(k));
    }
    concat_be(k, &[x, p])
}

/// Curve parameters as big-endian numbers (any width up to `h`), in the order of the hardware blocks.
#[derive(Debug, Clone, Copy)]
pub struct CurveParams<'a> {
    /// The prime p.
    pub p: &'a [u8],
    /// a of y² = x³ + ax + b.
    pub a: &'a [u8],
    /// b of y² = x³ + ax + b.
    pub b: &'a [u8],
    /// The group order n.
    pub n: &'a [u8],
    /// The generator's x.
    pub gx: &'a [u8],
    /// The generator's y.
    pub gy: &'a [u8],
}

fn check_ecc_width(h: usize) -> Result<(), HpreError> {
    if ECC_WIDTHS.contains(&h) {
        Ok(())
    } else {
        Err(HpreError::BadWidth(h))
    }
}

/// UADK's ECC private block (7h): p ‖ a ‖ d ‖ b ‖ n ‖ Gx ‖ Gy.
pub fn ecc_private_block(c: &CurveParams<'_>, d: &[u8], h: usize) -> Result<Vec<u8>, HpreError> {
    check_ecc_width(h)?;
    concat_be(h, &[c.p, c.a, d, c.b, c.n, c.gx, c.gy])
}

/// UADK's ECC public block (8h): p ‖ a ‖ b ‖ n ‖ Gx ‖ Gy ‖ Px ‖ Py.
pub fn ecc_public_block(
    c: &CurveParams<'_>,
    px: &[u8],
    py: &[u8],
    h: usize,
) -> Result<Vec<u8>, HpreError> {
    check_ecc_width(h)?;
    concat_be(h, &[c.p, c.a, c.b, c.n, c.gx, c.gy, px, py])
}

/// X25519 / X448 key block (3h): p ‖ a ‖ k, `k` the clamped scalar in big-endian order (see
/// [`super::x25519_clamp_be`], [`super::x448_clamp_be`]).
pub fn x_dh_key_block(p: &[u8], a: &[u8], k: &[u8], h: usize) -> Result<Vec<u8>, HpreError> {
    if h != 32 && h != 72 {
        return Err(HpreError::BadWidth(h));
    }
    concat_be(h, &[p, a, k])
}

/// Lengths in bytes of the three blocks an SQE names (§12.4), from its algorithm, width and (SM2
/// encrypt/decrypt) message length: what a device reads at `key` and `input` and writes at `output`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BlockLens {
    /// Key block.
    pub key: usize,
    /// Input block (0: no input).
    pub input: usize,
    /// Output block (0: the verify algorithms, whose result is dw6 bit 1).
    pub output: usize,
}

/// The block lengths of an operation (§12.4). `width` is k (RSA/DH) or h (ECC); `msg_len` is the SM2
/// encrypt/decrypt message length (ignored elsewhere). SM2's C3 is an SM3 digest, 32 bytes.
///
/// * RSA non-CRT: key e‖n or d‖n (2k), in k, out k; CRT: key 5 × k/2. Keygen: key e(k)‖p(k/2)‖q(k/2) = 2k, no
///   input, out d‖n (2k), CRT adds qinv‖dq‖dp (3.5k).
/// * DH: key x‖p (2k), in g or the peer value (k; none for g = 2), out k.
/// * ECDH multiply: key p‖a‖k‖b‖n (5h), in x‖y, out x‖y. ECDSA / SM2 sign: key 7h, in e‖k, out r‖s; verify: key
///   8h, in e‖s‖r, no output. X25519/X448: key p‖a‖k (3h), in u (h), out u′ (h). SM2 keygen: key 8h, in Gx‖Gy,
///   out Px‖Py‖d. SM2 encrypt: key 8h, in k(32)‖M, out C1x‖C1y‖C2‖C3; decrypt: key 7h, in C1x‖C1y‖C2‖C3, out M.
pub fn block_lens(alg: super::HpreAlg, width: usize, msg_len: usize) -> BlockLens {
    use super::HpreAlg::*;
    // Saturating: any width and length give an answer (a huge one for nonsense), never an overflow panic.
    let (w, m) = (width, msg_len);
    let x = |n: usize| n.saturating_mul(w);
    let half = w / 2;
    let (key, input, output) = match alg {
        RsaNonCrt => (x(2), w, w),
        RsaCrt => (half.saturating_mul(5), w, w),
        RsaKeygen => (x(2), 0, x(2)),
        RsaKeygenCrt => (x(2), 0, x(2).saturating_add(half.saturating_mul(3))),
        DhG2 => (x(2), 0, w),
        Dh => (x(2), w, w),
        EcdhMultiply => (x(ecc_private::MULTIPLY_FIELDS), x(2), x(2)),
        EcdsaSign | Sm2Sign => (x(ecc_private::FIELDS), x(2), x(2)),
        EcdsaVerify | Sm2Verify => (x(ecc_public::FIELDS), x(3), 0),
        XdhMultiply => (x(x_dh::FIELDS), w, w),
        Sm2Keygen => (x(ecc_public::FIELDS), x(2), x(3)),
        Sm2Encrypt => (
            x(ecc_public::FIELDS),
            w.saturating_add(m),
            x(2).saturating_add(m).saturating_add(SM3_LEN),
        ),
        Sm2Decrypt => (
            x(ecc_private::FIELDS),
            x(2).saturating_add(m).saturating_add(SM3_LEN),
            m,
        ),
    };
    BlockLens { key, input, output }
}

/// Length of SM2's C3 (an SM3 digest).
pub const SM3_LEN: usize = 32;
