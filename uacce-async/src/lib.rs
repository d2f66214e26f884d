//! `uacce-async`: compression and crypto jobs on uacce accelerators as awaitable tokio futures, woken by the queue's
//! fd or an eventfd instead of busy-polling.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), uacce_async::Error> {
//! use uacce_async::{Accel, AeadKey, Backend, HashAlg, NotifyMode};
//! let accel = Accel::builder()
//!     .backend(Backend::Emulated)
//!     .mode(NotifyMode::Eventfd)
//!     .build()
//!     .await?;
//! let key = AeadKey::new(&[7u8; 32])?;
//! let sealed = accel.aes_gcm_seal(&key, &[1u8; 12], b"header", &b"secret"[..]).await?;
//! assert_eq!(&accel.aes_gcm_open(&key, &[1u8; 12], b"header", sealed).await?[..], b"secret");
//! let digest = accel.digest(HashAlg::Sha256, &b"abc"[..]).await?;
//! assert_eq!(digest[0], 0xba);
//! # Ok(()) }
//! ```

mod accel;
mod cpu;
mod error;
mod gzip_header;
mod lane;
mod notify;
mod types;

pub use accel::{Accel, AccelBuilder, Backend, Config, EmuOptions, Hasher};
pub use error::{Error, Result};
pub use notify::NotifyMode;
pub use types::{AeadKey, CipherKey, CipherMode, Format, HashAlg, HmacKey};
pub use uacce_emu::{EmuDevice, Fault, ServiceModel};
