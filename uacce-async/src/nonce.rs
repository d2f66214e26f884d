//! AES-GCM nonces that are hard to reuse: made only from the OS's random numbers or from a counter that refuses to
//! wrap.

use crate::error::{Error, Result};

/// Length of an AES-GCM nonce (96 bits, the length GCM is specified for: NIST SP 800-38D §5.2.1.1).
pub const NONCE_LEN: usize = 12;

/// A 96-bit AES-GCM nonce for one seal.
///
/// A `Nonce` is made only by [`Nonce::random`] or [`NonceSequence::advance`], and [`Accel::aes_gcm_seal`] takes it
/// by value. It is neither `Clone` nor `Copy`, so one nonce value seals once: the compiler refuses a second seal
/// with the same `Nonce`. (A raw array still works through
/// [`Accel::aes_gcm_seal_with_nonce_unchecked`], whose name says who checks.)
///
/// Opening takes the nonce as bytes ([`Nonce::as_bytes`]; it travels with the message): a nonce used to open is
/// not a hazard.
///
/// ```
/// use uacce_async::Nonce;
/// let a = Nonce::random()?;
/// let b = Nonce::random()?;
/// assert_ne!(a.as_bytes(), b.as_bytes()); // 96 random bits each
/// # Ok::<(), uacce_async::Error>(())
/// ```
///
/// A nonce cannot be copied for a second seal:
///
/// ```compile_fail
/// let nonce = uacce_async::Nonce::random().unwrap();
/// let again = nonce.clone(); // error: `Nonce` is not `Clone`
/// ```
///
/// [`Accel::aes_gcm_seal`]: crate::Accel::aes_gcm_seal
/// [`Accel::aes_gcm_seal_with_nonce_unchecked`]: crate::Accel::aes_gcm_seal_with_nonce_unchecked
#[derive(Debug, PartialEq, Eq)]
#[must_use = "a nonce is for sealing one message"]
pub struct Nonce([u8; NONCE_LEN]);

impl Nonce {
    /// 96 bits from the operating system's random number generator (`getrandom(2)`).
    ///
    /// Random nonces are safe for up to 2^32 seals under one key (NIST SP 800-38D §8.3: the chance of a repeat
    /// stays under 2^-32); for more, use a [`NonceSequence`] or a new key.
    ///
    /// Like every key or nonce this crate draws from the OS (SM2 and ECDSA with OS randomness, key generation),
    /// the call **blocks until the kernel's random number generator is initialised**, as `getrandom(2)` without
    /// `GRND_NONBLOCK` does: never a weak value, but early in boot (an init process, a freshly started VM or
    /// container host with little entropy) the first call can wait for seconds or, on a guest with no entropy
    /// source, indefinitely. A program that runs that early should give the guest an entropy source (virtio-rng)
    /// or use a [`NonceSequence`], which needs no randomness.
    ///
    /// # Errors
    ///
    /// [`Error::Random`] if the OS has no random numbers to give (e.g. the syscall is blocked by a sandbox).
    pub fn random() -> Result<Self> {
        let mut n = [0u8; NONCE_LEN];
        getrandom::fill(&mut n).map_err(|e| Error::Random(e.to_string()))?;
        Ok(Self(n))
    }

    /// The nonce's bytes, to send with the sealed message and to open it.
    pub fn as_bytes(&self) -> &[u8; NONCE_LEN] {
        &self.0
    }

    pub(crate) fn into_bytes(self) -> [u8; NONCE_LEN] {
        self.0
    }
}

/// The nonces of one key as a counter: a 4-byte fixed field, then a 64-bit big-endian counter (the deterministic
/// construction of NIST SP 800-38D §8.2.1). Each [`NonceSequence::advance`] gives the next nonce; after the last
/// counter value the sequence is exhausted and refuses to wrap ([`Error::NoncesExhausted`]): change the key.
///
/// Use one sequence per key and per sender. Two senders sharing a key must use different fixed fields (e.g. a
/// sender ID), and a sender that restarts must resume past every counter it used
/// ([`NonceSequence::starting_at`] with a counter it persisted) or take a new key. The sequence is not `Clone`, so
/// a copy of it cannot hand out the same nonces twice.
///
/// ```
/// use uacce_async::{Error, NonceSequence};
/// let mut seq = NonceSequence::new([0, 0, 0, 1]);
/// let first = seq.advance()?;
/// assert_eq!(first.as_bytes(), &[0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
/// assert_eq!(seq.advance()?.as_bytes()[11], 1);
/// // The last counter value is given once; then the sequence refuses to wrap.
/// let mut end = NonceSequence::starting_at([0, 0, 0, 1], u64::MAX);
/// assert!(end.advance().is_ok());
/// assert!(matches!(end.advance(), Err(Error::NoncesExhausted)));
/// # Ok::<(), Error>(())
/// ```
#[derive(Debug)]
pub struct NonceSequence {
    fixed: [u8; 4],
    /// The next counter value; `None` once `u64::MAX` has been given.
    next: Option<u64>,
}

impl NonceSequence {
    /// A sequence with this fixed field, counting from 0.
    pub fn new(fixed: [u8; 4]) -> Self {
        Self::starting_at(fixed, 0)
    }

    /// A sequence with this fixed field whose next counter value is `counter` (to resume after a restart from a
    /// counter kept in durable storage).
    pub fn starting_at(fixed: [u8; 4], counter: u64) -> Self {
        Self {
            fixed,
            next: Some(counter),
        }
    }

    /// The next nonce.
    ///
    /// # Errors
    ///
    /// [`Error::NoncesExhausted`] once every counter value has been given (2^64 nonces from [`NonceSequence::new`]):
    /// the counter never wraps to a value it gave before.
    pub fn advance(&mut self) -> Result<Nonce> {
        let counter = self.next.ok_or(Error::NoncesExhausted)?;
        self.next = counter.checked_add(1);
        let mut n = [0u8; NONCE_LEN];
        n[..4].copy_from_slice(&self.fixed);
        n[4..].copy_from_slice(&counter.to_be_bytes());
        Ok(Nonce(n))
    }

    /// The counter value the next [`NonceSequence::advance`] uses (`None`: exhausted). Persist it (or a value past
    /// it) to resume with [`NonceSequence::starting_at`].
    pub fn next_counter(&self) -> Option<u64> {
        self.next
    }
}
