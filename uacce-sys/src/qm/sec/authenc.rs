//! Authenc: AES-CBC + HMAC in one pass (the IPsec ESP / TLS 1.2 CBC suites), block mode.
//!
//! What the BD says (UADK `drv/hisi_sec.c` `fill_aead_bd2`/`fill_aead_bd3` with `fill_aead_bd*_alg`; the kernel's
//! `sec_crypto.c` `sec_auth_bd_fill_ex`/`sec_auth_bd_fill_ex_v3` for `authenc(hmac(sha*),cbc(aes))`):
//!
//! * **Encrypt** is cipher then auth: `cipher` = 1, `auth` = 1 (calculate), `seq` = 0. The device encrypts the
//!   payload with AES-CBC and computes the HMAC over AAD ‖ ciphertext (`a_len` = AAD + payload bytes from
//!   `auth_src_offset` 0; `c_len` = payload bytes from `cipher_src_offset` = AAD bytes), writing `mac_len` bytes
//!   of it to `mac_addr`: encrypt-then-MAC, as RFC 7366 / ESP.
//! * **Decrypt** is auth then cipher: `cipher` = 2, `auth` = 2 (verify), `seq` = 1. The device computes the HMAC
//!   over AAD ‖ ciphertext, compares its first `mac_len` bytes with the tag at `mac_addr` (a mismatch is icv = 2)
//!   and decrypts.
//!
//! Neither UADK (`wd_aead.h` has only `WD_CIPHER_ENCRYPTION_DIGEST` / `WD_CIPHER_DECRYPTION_DIGEST`) nor the kernel
//! ever sends the other two combinations (encrypt with `seq` 1, decrypt with `seq` 0), so what the hardware does
//! with them is unknown and [`decode`](super::decode) refuses them: MAC-then-encrypt is not a mode of this engine
//! as its drivers use it.
//!
//! Other facts: `de` 1, scene 1; `c_mode` CBC, `c_alg` AES (UADK's BD2 refuses SM4 here; BD3 takes SM4 and
//! HMAC-SM3, which this crate does not send); `a_alg` HMAC-SHA1 0x10, HMAC-SHA256 0x11, HMAC-SHA512 0x15 (the three
//! UADK's `fill_aead_bd2_alg` takes); `mac_len` and `a_key_len` in words (UADK's `aead_auth_spec_check` refuses
//! byte counts that are not multiples of 4; `wd_aead_set_authsize` takes 1..=digest size, so truncated tags are
//! allowed); `c_icv_len` 0; the payload a nonzero multiple of 16 (`wd_aead.c` `aead_param_check`: no padding).
//! `a_ivin_addr` differs between the drivers (UADK: a per-slot copy of the IV, ai_gen 0 so presumably unused; the
//! kernel: 0), so it is not checked; this crate sends 0.

use super::{CipherDir, DigestAlg, HmacKey};

/// An authenc request (AES-CBC + HMAC, encrypt-then-MAC), block mode. All addresses are device-visible (SVA)
/// addresses of flat buffers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AuthencRequest {
    /// Encrypt (cipher then MAC over AAD ‖ ciphertext) or decrypt (verify the MAC, then decrypt).
    pub dir: CipherDir,
    /// AES key address (`c_key_addr`).
    pub key_addr: u64,
    /// AES key length: 16, 24 or 32.
    pub key_len: u32,
    /// 16-byte CBC IV (`c_ivin_addr`).
    pub iv_addr: u64,
    /// Hash of the HMAC: [`DigestAlg::Sha1`], [`DigestAlg::Sha256`] or [`DigestAlg::Sha512`].
    pub hash: DigestAlg,
    /// HMAC key (`a_key_addr`, `a_key_len` words): a nonzero multiple of 4 bytes, at most the hash's block.
    pub hmac_key: HmacKey,
    /// Source: AAD ‖ payload.
    pub src_addr: u64,
    /// Destination, sized AAD + payload: the payload's result lands at `dst + aad_len`.
    pub dst_addr: u64,
    /// AAD bytes (`cipher_src_offset`), ≤ 0xFFFF.
    pub aad_len: u32,
    /// Payload bytes (`c_len`): a nonzero multiple of 16.
    pub payload_len: u32,
    /// Tag buffer (`mac_addr`): written on encrypt, the expected tag on decrypt.
    pub mac_addr: u64,
    /// Tag length in bytes (`mac_len` × 4): a multiple of 4 in 4..=digest size (truncated HMAC allowed).
    pub mac_len: u32,
}

impl DigestAlg {
    /// Whether the SEC engine does authenc with this hash (UADK `fill_aead_bd2_alg`: SHA-1, SHA-256, SHA-512).
    pub const fn authenc_ok(self) -> bool {
        matches!(
            self,
            DigestAlg::Sha1 | DigestAlg::Sha256 | DigestAlg::Sha512
        )
    }
}
