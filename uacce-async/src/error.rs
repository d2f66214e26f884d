//! The error type of every job.

use std::time::Duration;

/// What went wrong with a job or with setting up the accelerator.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No device and no fallback could serve the request (e.g. `Backend::Hardware` with no uacce device).
    #[error("no accelerator: {0}")]
    NoDevice(String),
    /// Opening or starting a device queue failed.
    #[error("device setup failed: {0}")]
    Setup(String),
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
    /// A stateful object (a [`Hasher`](crate::Hasher)) whose earlier step was cancelled or failed midway: its state
    /// is unknown, so it refuses to go on rather than give a wrong result.
    #[error("poisoned: {0}")]
    Poisoned(&'static str),
    /// A bounded resource is in use up to its limit (e.g. [`Config::max_streams`](crate::Config::max_streams)
    /// open streams). Nothing was started; retry when others have finished.
    #[error("busy: {0}")]
    Busy(String),
}

/// Result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<Error> for std::io::Error {
    fn from(e: Error) -> Self {
        let kind = match e {
            Error::CorruptData(_) | Error::AuthFailed => std::io::ErrorKind::InvalidData,
            Error::InvalidKeyLength { .. }
            | Error::InvalidLength { .. }
            | Error::InvalidParameter(_) => std::io::ErrorKind::InvalidInput,
            Error::OutputLimit { .. } => std::io::ErrorKind::FileTooLarge,
            Error::Timeout(_) => std::io::ErrorKind::TimedOut,
            Error::Unsupported(_) => std::io::ErrorKind::Unsupported,
            Error::Busy(_) => std::io::ErrorKind::ResourceBusy,
            _ => std::io::ErrorKind::Other,
        };
        std::io::Error::new(kind, e)
    }
}
