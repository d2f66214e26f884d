//! `uacce-soft`: the software codecs of uacce-rs, in one place.
//!
//! Two users run this code: `uacce-async`'s CPU backend (the production fallback on machines without devices, and
//! the path for jobs a device cannot take) and `uacce-emu`'s emulated devices, whose engines run it on the buffers
//! an SQE names. So the CPU backend and the emulator agree by construction, and a production build that leaves the
//! emulator out (`uacce-async` without its `emu` feature) still has every codec.
//!
//! * [`zip`]: deflate, zlib and gzip streams (flate2 with the zlib-rs backend).
//! * [`pkey`]: the HPRE public-key engine's arithmetic (RSA, DH, ECDH, ECDSA, X25519/X448, SM2) on the hardware's
//!   key and parameter blocks.
//! * [`sec`]: AES (ECB, CBC, CTR, XTS), AES-GCM, SHA-2, HMAC and the raw long-hash steps.
//! * [`cbc_cs`]: CBC with ciphertext stealing (CS1, CS2, CS3 of NIST SP 800-38A Addendum) for AES and SM4.
//! * [`authenc`]: AES-CBC + HMAC-SHA-1/256/512 encrypt-then-MAC in one call (the SEC engine's authenc BD).
//! * [`aead_mac`]: AES-CCM and SM4-CCM, GCM with SM4, AES-CMAC, AES-GMAC and AES-XCBC-MAC-96.

pub mod aead_mac;
pub mod authenc;
pub mod cbc_cs;
pub mod pkey;
pub mod sec;
pub mod zip;

pub use sec::SoftError;
