//! The error type of every job.

use std::sync::Arc;
use std::time::Duration;

use uacce_sys::queue::QueueError;
use uacce_sys::sysfs::SysfsError;

/// The cause of an [`Error::NoDevice`] or [`Error::Setup`]: the `uacce-sys` error ([`QueueError`],
/// [`SysfsError`]) or the OS error behind it, shared so that [`Error`] stays `Clone`. Reach it with
/// [`std::error::Error::source`], or [`Error::device_cause`] to downcast it.
pub type Cause = Arc<dyn std::error::Error + Send + Sync + 'static>;

/// What kind of device problem an [`Error::NoDevice`] or [`Error::Setup`] is, as far as `uacce-sys` tells (see
/// [`Error::device_kind`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DeviceErrorKind {
    /// No uacce class, no device of that name, or no device node ([`SysfsError::NoClass`],
    /// [`SysfsError::NoSuchDevice`], [`QueueError::NodeMissing`], …).
    Missing,
    /// The device node is not readable and writable by this process ([`QueueError::PermissionDenied`],
    /// [`SysfsError::PermissionDenied`]): run as root or add a udev rule.
    PermissionDenied,
    /// The kernel isolated the device after hardware errors ([`SysfsError::Isolated`]).
    Isolated,
    /// No free queue, or the device is resetting ([`QueueError::Busy`]).
    Busy,
    /// A device this crate cannot drive: an unknown api, no SVA, or an ioctl the kernel lacks
    /// ([`QueueError::UnsupportedApi`], [`QueueError::SvaRequired`], [`QueueError::Unsupported`]).
    Unsupported,
    /// Anything else (an ioctl or mmap that failed, a thread that could not start, …).
    Other,
}

impl From<&QueueError> for DeviceErrorKind {
    fn from(e: &QueueError) -> Self {
        match e {
            QueueError::NodeMissing { .. } => DeviceErrorKind::Missing,
            QueueError::PermissionDenied { .. } => DeviceErrorKind::PermissionDenied,
            QueueError::Busy { .. } => DeviceErrorKind::Busy,
            QueueError::UnsupportedApi { .. }
            | QueueError::SvaRequired { .. }
            | QueueError::Unsupported { .. } => DeviceErrorKind::Unsupported,
            _ => DeviceErrorKind::Other,
        }
    }
}

impl From<&SysfsError> for DeviceErrorKind {
    fn from(e: &SysfsError) -> Self {
        match e {
            SysfsError::NoClass { .. }
            | SysfsError::NoSuchDevice { .. }
            | SysfsError::NodeMissing { .. }
            | SysfsError::MissingAttribute { .. } => DeviceErrorKind::Missing,
            SysfsError::PermissionDenied { .. } => DeviceErrorKind::PermissionDenied,
            SysfsError::Isolated { .. } => DeviceErrorKind::Isolated,
            _ => DeviceErrorKind::Other,
        }
    }
}

/// What went wrong with a job or with setting up the accelerator.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No device and no fallback could serve the request (e.g. `Backend::Hardware` with no uacce device, or a
    /// device named in [`Config::devices`](crate::Config::devices) that is missing or unusable).
    #[error("no accelerator: {message}")]
    NoDevice {
        /// What was looked for, and what was found.
        message: String,
        /// The kind of problem.
        kind: DeviceErrorKind,
        /// The `uacce-sys` error behind it, if any.
        #[source]
        source: Option<Cause>,
    },
    /// Opening or starting a device queue (or a completion driver) failed.
    #[error("device setup failed: {message}")]
    Setup {
        /// What was being set up.
        message: String,
        /// The kind of problem.
        kind: DeviceErrorKind,
        /// The `uacce-sys` or OS error behind it, if any.
        #[source]
        source: Option<Cause>,
    },
    /// A key of the wrong length for the algorithm.
    #[error("invalid key length {got} for {alg} (expected {expected})")]
    InvalidKeyLength {
        /// Algorithm.
        alg: &'static str,
        /// Length given.
        got: usize,
        /// What is allowed.
        expected: &'static str,
    },
    /// An input whose length the algorithm does not accept (CBC not a multiple of 16, XTS shorter than 16, …).
    #[error("invalid input length {got} for {alg}: {why}")]
    InvalidLength {
        /// Algorithm.
        alg: &'static str,
        /// Length given.
        got: usize,
        /// The rule.
        why: &'static str,
    },
    /// A parameter outside its range (tag length, …).
    #[error("invalid parameter: {0}")]
    InvalidParameter(&'static str),
    /// A nonce (IV) of the wrong length for the algorithm (CCM: 7..=13 bytes).
    #[error("invalid nonce length {got} for {alg} (expected {expected})")]
    InvalidNonceLength {
        /// Algorithm.
        alg: &'static str,
        /// Length given.
        got: usize,
        /// What is allowed.
        expected: &'static str,
    },
    /// A tag (MAC) length the algorithm does not allow (CCM: 4, 6, …, 16), or a tag to verify of another length.
    #[error("invalid tag length {got} for {alg} (expected {expected})")]
    InvalidTagLength {
        /// Algorithm.
        alg: &'static str,
        /// Length given.
        got: usize,
        /// What is allowed.
        expected: &'static str,
    },
    /// Compressed input that is malformed, truncated or fails its checksum.
    #[error("corrupt compressed data: {0}")]
    CorruptData(String),
    /// Decompressed output would exceed the configured limit (a decompression bomb, or a limit set too low).
    #[error("decompressed output exceeds the limit of {limit} bytes")]
    OutputLimit {
        /// The limit in bytes.
        limit: usize,
    },
    /// AEAD authentication failed: wrong key, nonce, AAD, or tampered ciphertext/tag.
    #[error("authentication failed (AEAD tag or MAC mismatch)")]
    AuthFailed,
    /// An RSA key that is malformed, inconsistent (n ≠ p·q, CRT parameters that do not match, …) or of a size or
    /// public exponent the library does not take (see [`RsaPrivateKey`](crate::RsaPrivateKey)).
    #[error("invalid RSA key: {0}")]
    InvalidKey(&'static str),
    /// A signature that does not verify (wrong key, message, hash or signature; an RSA signature not below the
    /// modulus; an ECDSA/SM2 signature that is not one of this message under this key).
    #[error("the signature does not verify")]
    BadSignature,
    /// An RSA-OAEP ciphertext that does not decrypt: one error for every decoding failure (wrong key or label,
    /// tampered ciphertext), so that the failures cannot be told apart.
    #[error("decryption failed")]
    DecryptionFailed,
    /// A [`NonceSequence`](crate::NonceSequence) has given every nonce it has; it never wraps. Use a new key.
    #[error("the nonce sequence is exhausted (it never wraps): use a new key")]
    NoncesExhausted,
    /// The operating system's random number generator failed.
    #[error("random number generator: {0}")]
    Random(String),
    /// The device reported an error status for the job.
    #[error("device error: {0}")]
    Device(String),
    /// The device reset or disabled the queue the job was on (status words set); the queue was retired.
    #[error("the device queue was reset; the job did not complete")]
    QueueReset,
    /// The device disappeared while the job was in flight.
    #[error("the device was removed; the job did not complete")]
    DeviceRemoved,
    /// The job did not complete within the configured job timeout; its queue was retired.
    #[error("the job did not complete within {0:?}; its queue was retired")]
    Timeout(Duration),
    /// The accelerator was shut down.
    #[error("the accelerator was shut down")]
    Shutdown,
    /// The operation is not available on this backend (e.g. null jobs outside the emulator).
    #[error("not supported: {0}")]
    Unsupported(&'static str),
    /// A stateful object (a [`Hasher`](crate::Hasher), a [`StreamCompressor`](crate::StreamCompressor) or a
    /// streaming adapter) whose earlier step was cancelled or failed midway: its state is unknown, so it refuses to
    /// go on rather than give a wrong result.
    #[error("poisoned: {0}")]
    Poisoned(&'static str),
    /// A bounded resource is in use up to its limit (e.g. [`Config::max_streams`](crate::Config::max_streams)
    /// open streams). Nothing was started; retry when others have finished.
    #[error("busy: {0}")]
    Busy(String),
}

impl Error {
    /// [`Error::NoDevice`] with no underlying error.
    pub(crate) fn no_device(message: impl Into<String>, kind: DeviceErrorKind) -> Self {
        Error::NoDevice {
            message: message.into(),
            kind,
            source: None,
        }
    }

    /// [`Error::NoDevice`] caused by `source`.
    pub(crate) fn no_device_from(
        message: impl Into<String>,
        kind: DeviceErrorKind,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Error::NoDevice {
            message: message.into(),
            kind,
            source: Some(Arc::new(source)),
        }
    }

    /// [`Error::Setup`] with no underlying error.
    pub(crate) fn setup(message: impl Into<String>) -> Self {
        Error::Setup {
            message: message.into(),
            kind: DeviceErrorKind::Other,
            source: None,
        }
    }

    /// [`Error::Setup`] caused by `source`, of kind `kind`.
    pub(crate) fn setup_from(
        message: impl Into<String>,
        kind: DeviceErrorKind,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Error::Setup {
            message: message.into(),
            kind,
            source: Some(Arc::new(source)),
        }
    }

    /// [`Error::Setup`] caused by a queue operation of `uacce-sys`, its kind taken from the error.
    pub(crate) fn queue(message: impl Into<String>, e: QueueError) -> Self {
        let kind = DeviceErrorKind::from(&e);
        Error::setup_from(message, kind, e)
    }

    /// The kind of device problem of an [`Error::NoDevice`] or [`Error::Setup`] (`None` for other errors).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use uacce_async::{Accel, Backend, DeviceErrorKind};
    /// let err = Accel::builder().backend(Backend::Hardware).devices(["hisi_zip-99"]).build().await.unwrap_err();
    /// assert_eq!(err.device_kind(), Some(DeviceErrorKind::Missing));
    /// # }
    /// ```
    pub fn device_kind(&self) -> Option<DeviceErrorKind> {
        match self {
            Error::NoDevice { kind, .. } | Error::Setup { kind, .. } => Some(*kind),
            _ => None,
        }
    }

    /// The underlying error of an [`Error::NoDevice`] or [`Error::Setup`], to downcast to the `uacce-sys` type
    /// ([`QueueError`], [`SysfsError`]) or the OS error. The same error is [`std::error::Error::source`]'s (through
    /// its `Arc`).
    pub fn device_cause(&self) -> Option<&(dyn std::error::Error + Send + Sync + 'static)> {
        match self {
            Error::NoDevice { source, .. } | Error::Setup { source, .. } => source.as_deref(),
            _ => None,
        }
    }
}

/// Result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<Error> for std::io::Error {
    fn from(e: Error) -> Self {
        let kind = match &e {
            Error::CorruptData(_) | Error::AuthFailed | Error::BadSignature => {
                std::io::ErrorKind::InvalidData
            }
            Error::InvalidKeyLength { .. }
            | Error::InvalidLength { .. }
            | Error::InvalidNonceLength { .. }
            | Error::InvalidTagLength { .. }
            | Error::InvalidParameter(_) => std::io::ErrorKind::InvalidInput,
            Error::OutputLimit { .. } => std::io::ErrorKind::FileTooLarge,
            Error::Timeout(_) => std::io::ErrorKind::TimedOut,
            Error::Unsupported(_) => std::io::ErrorKind::Unsupported,
            Error::Busy(_) => std::io::ErrorKind::ResourceBusy,
            Error::NoDevice { kind, .. } | Error::Setup { kind, .. } => match kind {
                DeviceErrorKind::Missing => std::io::ErrorKind::NotFound,
                DeviceErrorKind::PermissionDenied => std::io::ErrorKind::PermissionDenied,
                DeviceErrorKind::Busy => std::io::ErrorKind::ResourceBusy,
                DeviceErrorKind::Unsupported => std::io::ErrorKind::Unsupported,
                _ => std::io::ErrorKind::Other,
            },
            _ => std::io::ErrorKind::Other,
        };
        std::io::Error::new(kind, e)
    }
}
