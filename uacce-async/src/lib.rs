//! `uacce-async`: compression and crypto jobs on uacce accelerators as awaitable tokio futures, woken by the queue's
//! fd or an eventfd instead of busy-polling.
//!
//! [`Accel`] is the handle. Behind it each kind of job has a pool of device queues (hardware uacce devices, or the
//! in-process emulated devices) or runs on the CPU backend (`uacce-soft`'s codecs on a bounded blocking pool). Every
//! job family — compression, decompression, AES modes, AES-GCM, digests and HMACs, null jobs — goes through one
//! execute path that picks a queue, hands the job's owned buffers to the device, waits for the completion without
//! polling (see [`NotifyMode`]), and falls back to the CPU for requests a device cannot take.
//!
//! # Device removal
//!
//! When a hardware device goes away (hot unplug, driver unbind, `rmmod`), the jobs in flight on it fail with
//! [`Error::DeviceRemoved`] and new jobs go to the remaining devices or the CPU. What the kernel does with the removed
//! queues' mappings differs: with the project's uacce series (`kmod-patch/`) every waiter is woken and, for a parent
//! driver that opts in to dummy pages, a late access reads all ones; on mainline kernels, and with the series for a
//! parent that does not opt in (hisi_qm), a late access raises SIGBUS. A lane cannot avoid every late access (a
//! task may be writing an SQE or reading the CQ between the zap and the moment the hang-up is seen), so the
//! hardware backend installs `uacce_sys::guard` when it opens its first queue: a SIGBUS inside a queue mapping
//! replaces that mapping with memory of ones (what the dummy-page opt-in gives), which the ring reads as a dead
//! queue; any other SIGBUS goes to the handler installed before, or kills the process as usual. An application
//! that installs its own SIGBUS handler afterwards replaces the guard and then sees those faults itself. Mainline
//! kernels also do not report the hang-up (no `EPOLLHUP`, no wake-up), so there a job on a removed device is only
//! failed when its lane next looks at the ring; set a job timeout to bound that. The guard is tested against
//! `uacce_soft dummy_pages=0` (the series without the opt-in) in the VM suite (`kmod-patch/README.md`).
//!
//! Features: `emu` (default) builds the emulated devices in ([`Backend::Emulated`], [`EmuDevice`]); a production
//! build may turn it off with `default-features = false`, which links nothing of `uacce-emu`.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), uacce_async::Error> {
//! use uacce_async::{Accel, AeadKey, Backend, HashAlg, Nonce, NotifyMode};
//! let accel = Accel::builder()
//!     .backend(Backend::Emulated)
//!     .mode(NotifyMode::Eventfd)
//!     .build()
//!     .await?;
//! let key = AeadKey::new(&[7u8; 32])?;
//! // A nonce seals once: `Nonce::random()` (OS RNG) or `NonceSequence::advance()` (a counter per key).
//! let nonce = Nonce::random()?;
//! let n = *nonce.as_bytes(); // travels with the message
//! let sealed = accel.aes_gcm_seal(&key, nonce, b"header", &b"secret"[..]).await?;
//! assert_eq!(&accel.aes_gcm_open(&key, &n, b"header", sealed).await?[..], b"secret");
//! let digest = accel.digest(HashAlg::Sha256, &b"abc"[..]).await?;
//! assert_eq!(digest[0], 0xba);
//! # Ok(()) }
//! ```

mod accel;
mod backend;
mod config;
mod error;
mod gzip_header;
mod io;
mod job;
mod lane;
mod nonce;
mod notify;
mod pool;
mod routing;
mod seal;
mod stats;
mod stream;
mod types;

// Job families: one module each (see `job`).
mod aead;
mod authenc;
mod ccm;
mod cipher;
mod compress;
mod digest;
mod mac;
mod nop;
mod pkey;

/// Streaming compression over `tokio::io::AsyncBufRead`: [`bufread::Encoder`] reads plain data and yields one
/// compressed stream, [`bufread::Decoder`] the reverse.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use tokio::io::AsyncReadExt;
/// use uacce_async::{Accel, Backend, Format, bufread};
/// let accel = Accel::builder().backend(Backend::Emulated).build().await?;
/// let plain = b"streamed through the accelerator ".repeat(1000);
/// let mut gz = Vec::new();
/// bufread::Encoder::new(&accel, Format::Gzip, &plain[..])?.read_to_end(&mut gz).await?;
/// let mut back = Vec::new();
/// bufread::Decoder::new(&accel, Format::Gzip, &gz[..])?.read_to_end(&mut back).await?;
/// assert_eq!(back, plain);
/// # Ok(()) }
/// ```
pub mod bufread {
    pub use crate::io::{ReadDecoder as Decoder, ReadEncoder as Encoder};
}

/// Streaming compression over `tokio::io::AsyncWrite`: [`write::Encoder`] takes plain data and writes one
/// compressed stream to the wrapped writer, [`write::Decoder`] the reverse. Call `shutdown` to end the stream.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use tokio::io::AsyncWriteExt;
/// use uacce_async::{Accel, Backend, Format, write};
/// let accel = Accel::builder().backend(Backend::Emulated).build().await?;
/// let mut enc = write::Encoder::new(&accel, Format::Zlib, Vec::new())?;
/// enc.write_all(b"hello, ").await?;
/// enc.write_all(b"world").await?;
/// enc.shutdown().await?;
/// let zlib = enc.into_inner();
/// let mut dec = write::Decoder::new(&accel, Format::Zlib, Vec::new())?;
/// dec.write_all(&zlib).await?;
/// dec.shutdown().await?;
/// assert_eq!(dec.into_inner(), b"hello, world");
/// # Ok(()) }
/// ```
pub mod write {
    pub use crate::io::{WriteDecoder as Decoder, WriteEncoder as Encoder};
}

/// Hazardous materials: raw AES and SM4 in CBC, CTR, XTS, ECB, OFB, CFB and CBC-CS1/2/3 (ciphertext stealing),
/// which encrypt **without authentication**.
///
/// Nothing in this module detects tampering: a modified ciphertext decrypts without an error to a plaintext an
/// attacker can partly choose (CTR flips the very bits flipped in the ciphertext; CBC and XTS garble or move
/// blocks). Prefer [`Accel::aes_gcm_seal`](crate::Accel::aes_gcm_seal) (AES-GCM). These modes are for formats that
/// fix them: XTS for storage sectors (IEEE 1619), CBC or CTR inside a protocol that authenticates the ciphertext
/// itself (encrypt-then-MAC with [`Accel::hmac_sign`](crate::Accel::hmac_sign)).
///
/// The methods come with the [`UnauthenticatedCipher`](hazmat::UnauthenticatedCipher) trait, so a call site
/// says what it uses: `use uacce_async::hazmat::UnauthenticatedCipher;`.
pub mod hazmat {
    pub use crate::cipher::UnauthenticatedCipher;
    pub use crate::types::{BlockCipher, CipherKey, CipherMode};
}

pub use accel::{Accel, JobKind};
pub use aead::Tag;
pub use authenc::AuthencKey;
#[cfg(feature = "emu")]
pub use backend::EmuOptions;
pub use ccm::AeadCipherKey;
pub use config::{AccelBuilder, Backend, Config};
pub use digest::Hasher;
pub use error::{Cause, DeviceErrorKind, Error, Result};
pub use mac::{MacAlgorithm, MacKey};
pub use nonce::{NONCE_LEN, Nonce, NonceSequence};
pub use notify::NotifyMode;
pub use pkey::{
    EcCurve, EcPrivateKey, EcPublicKey, EcdsaNonce, EcdsaSignature, RSA_KEYGEN_BITS, RsaFaultCheck,
    RsaHash, RsaPrivateKey, RsaPublicKey, SM2_DEFAULT_ID, SM2_MAX_MESSAGE, Sm2PrivateKey,
    Sm2PublicKey, Sm2Signature,
};
pub use routing::Routing;
pub use stats::{
    CpuCounts, CpuReason, DeviceStats, FailCounts, FailKind, Family, FamilyStats, QueueStats, Stats,
};
pub use stream::{Flush, StreamCompressor};
pub use types::{AeadKey, Format, HashAlg, HmacKey};
#[cfg(feature = "emu")]
pub use uacce_emu::{EmuDevice, Fault, ServiceModel};
