//! Elliptic-curve public-key jobs: ECDSA sign/verify and ECDH on NIST P-256, P-384 and P-521, X448 and X25519 key
//! agreement, with key types that read and write the usual formats.
//!
//! * **Keys.** [`EcPrivateKey`] (the scalar is zeroized on drop) and [`EcPublicKey`] (validated: on the curve, not
//!   the identity) import and export raw scalars and SEC1 points, SEC1 `EC PRIVATE KEY` and PKCS#8 private keys,
//!   SubjectPublicKeyInfo public keys, DER and PEM (OpenSSL's `ecparam -genkey` and `genpkey` files read as they
//!   are), and convert from and to RustCrypto's `p256` / `p384` / `p521` key types.
//! * **ECDSA.** The message is hashed in software (SHA-256 for P-256, SHA-384 for P-384, SHA-512 for P-521); the
//!   hardware's ECDSA sign (alg 0x0E) takes the nonce k from software: RFC 6979 deterministic by default ([`EcdsaNonce::Rfc6979`]),
//!   or from the operating system's RNG ([`EcdsaNonce::Random`]). Every signature is verified (on the same path:
//!   the device when there is one) before it is returned, as a fault countermeasure. Signatures are
//!   [`EcdsaSignature`]: fixed-width r ‖ s or ASN.1 DER (`ECDSA-Sig-Value`).
//! * **ECDH** (alg 0x0D, the point multiply): the shared x coordinate; public keys derived the same way.
//! * **X448 / X25519** (alg 0x10) in RFC 7748 byte order, with the all-zero shared secret refused (RFC 7748 §6).
//!
//! On a QM v3 HPRE device each operation is one SQE on an ECC queue (type 1). Without one (no device, QM v2, the
//! CPU backend) it runs on the CPU: aws-lc-rs (constant time) for ECDSA with a random nonce, ECDSA verify, ECDH
//! P-256/P-384/P-521 and X25519; `uacce_soft::pkey` (RustCrypto arithmetic) on the hardware's own blocks for the RFC 6979
//! ECDSA signatures (so the CPU backend's signatures are byte-equal to the device's) and X448, which aws-lc-rs
//! lacks. A job the device refuses is run on the CPU, which says why in a typed error.

use std::sync::Arc;

use bytes::Bytes;
use elliptic_curve::ops::Reduce;
use elliptic_curve::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use elliptic_curve::sec1::ToEncodedPoint;
use sha2::Digest as _;
use uacce_soft::pkey::{self, CurveId, PkeyJob, PkeyOutput};
use uacce_sys::qm::hpre::{
    self, HpreAlg, HpreOutcome, HpreRequest, X448_A24, X448_P, X25519_A24, X25519_P, layout,
};
use uacce_sys::qm::{QmVersion, Sqe};
use zeroize::Zeroizing;

use super::{layout_err, pkey_error};
use crate::accel::Accel;
use crate::error::{Error, Result};
use crate::job::{Job, Step, addr};
use crate::lane::{Buffers, Class, JobOutput, Scratch};
use crate::pool::ClassPool;
use crate::stats::{Family, OutputLen};

// -------------------------------------------------------------------------------------------------------------
// Curves and keys
// -------------------------------------------------------------------------------------------------------------

/// A NIST prime curve the ECDSA and ECDH calls take. Non-exhaustive: a curve may be added (P-521 was).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EcCurve {
    /// NIST P-256 (secp256r1, prime256v1); ECDSA hashes with SHA-256.
    P256,
    /// NIST P-384 (secp384r1); ECDSA hashes with SHA-384.
    P384,
    /// NIST P-521 (secp521r1); ECDSA hashes with SHA-512. Numbers are 66 bytes (521 bits); the hardware's fields
    /// are h = 72 bytes wide (task_len1 = 8, protocol doc §12.4).
    P521,
}

impl EcCurve {
    /// Bytes of a scalar or a coordinate: 32, 48 or 66.
    pub const fn field_bytes(self) -> usize {
        match self {
            EcCurve::P256 => 32,
            EcCurve::P384 => 48,
            EcCurve::P521 => 66,
        }
    }

    fn id(self) -> CurveId {
        match self {
            EcCurve::P256 => CurveId::P256,
            EcCurve::P384 => CurveId::P384,
            EcCurve::P521 => CurveId::P521,
        }
    }

    fn scalar_len_text(self) -> &'static str {
        match self {
            EcCurve::P256 => "32 bytes",
            EcCurve::P384 => "48 bytes",
            EcCurve::P521 => "66 bytes",
        }
    }

    fn name(self) -> &'static str {
        match self {
            EcCurve::P256 => "P-256",
            EcCurve::P384 => "P-384",
            EcCurve::P521 => "P-521",
        }
    }

    /// The ECDSA digest of `msg` (SHA-256, SHA-384 or SHA-512).
    fn hash(self, msg: &[u8]) -> Vec<u8> {
        match self {
            EcCurve::P256 => sha2::Sha256::digest(msg).to_vec(),
            EcCurve::P384 => sha2::Sha384::digest(msg).to_vec(),
            EcCurve::P521 => sha2::Sha512::digest(msg).to_vec(),
        }
    }
}

/// Runs `$body` with `$m` bound to the RustCrypto crate of `$curve` (`p256`, `p384` or `p521`).
macro_rules! with_curve {
    ($curve:expr, $m:ident => $body:expr) => {
        match $curve {
            EcCurve::P256 => {
                use p256 as $m;
                $body
            }
            EcCurve::P384 => {
                use p384 as $m;
                $body
            }
            EcCurve::P521 => {
                use p521 as $m;
                $body
            }
        }
    };
}

fn bad_key(_: impl std::fmt::Display) -> Error {
    Error::InvalidParameter("EC key: not a valid key for the curve, or a malformed encoding")
}

/// An elliptic-curve public key on P-256, P-384 or P-521: a point on the curve, never the identity (checked on import).
#[derive(Clone, PartialEq, Eq)]
pub struct EcPublicKey {
    curve: EcCurve,
    /// Uncompressed SEC1: 0x04 ‖ x ‖ y.
    sec1: Vec<u8>,
}

impl std::fmt::Debug for EcPublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EcPublicKey")
            .field("curve", &self.curve)
            .finish_non_exhaustive()
    }
}

impl EcPublicKey {
    /// A SEC1 point (uncompressed 0x04 ‖ x ‖ y or compressed 0x02/0x03 ‖ x). A point off the curve, the identity
    /// or a wrong length is [`Error::InvalidParameter`].
    pub fn from_sec1_bytes(curve: EcCurve, bytes: &[u8]) -> Result<Self> {
        with_curve!(curve, c => {
            let pk = c::PublicKey::from_sec1_bytes(bytes).map_err(|_| {
                Error::InvalidParameter("EC public key: not a point on the curve (or a malformed SEC1 encoding)")
            })?;
            Ok(Self::from(pk))
        })
    }

    /// The point (x, y), big-endian coordinates of exactly [`EcCurve::field_bytes`] bytes each.
    pub fn from_coordinates(curve: EcCurve, x: &[u8], y: &[u8]) -> Result<Self> {
        let n = curve.field_bytes();
        if x.len() != n || y.len() != n {
            return Err(Error::InvalidLength {
                alg: curve.name(),
                got: x.len().max(y.len()),
                why: "a coordinate must be exactly the curve's field size",
            });
        }
        Self::from_sec1_bytes(curve, &[&[4u8][..], x, y].concat())
    }

    /// A DER SubjectPublicKeyInfo (`-----BEGIN PUBLIC KEY-----` as DER); the curve comes from its OID.
    pub fn from_public_key_der(der: &[u8]) -> Result<Self> {
        if let Ok(k) = p256::PublicKey::from_public_key_der(der) {
            return Ok(k.into());
        }
        if let Ok(k) = p521::PublicKey::from_public_key_der(der) {
            return Ok(k.into());
        }
        p384::PublicKey::from_public_key_der(der)
            .map(Into::into)
            .map_err(bad_key)
    }

    /// A PEM SubjectPublicKeyInfo (`-----BEGIN PUBLIC KEY-----`, as `openssl ec -pubout` writes; any line length).
    pub fn from_public_key_pem(pem: &str) -> Result<Self> {
        let der = pem_der(pem, "PUBLIC KEY").ok_or(Error::InvalidParameter(
            "EC public key: no PUBLIC KEY PEM block",
        ))?;
        Self::from_public_key_der(&der)
    }

    /// DER SubjectPublicKeyInfo.
    pub fn to_public_key_der(&self) -> Result<Vec<u8>> {
        with_curve!(self.curve, c => {
            let k = c::PublicKey::try_from(self)?;
            Ok(k.to_public_key_der().map_err(bad_key)?.into_vec())
        })
    }

    /// PEM SubjectPublicKeyInfo (`-----BEGIN PUBLIC KEY-----`, LF line endings).
    pub fn to_public_key_pem(&self) -> Result<String> {
        with_curve!(self.curve, c => {
            let k = c::PublicKey::try_from(self)?;
            k.to_public_key_pem(elliptic_curve::pkcs8::LineEnding::LF).map_err(bad_key)
        })
    }

    /// The curve.
    pub fn curve(&self) -> EcCurve {
        self.curve
    }

    /// Uncompressed SEC1: 0x04 ‖ x ‖ y.
    pub fn to_sec1_bytes(&self) -> &[u8] {
        &self.sec1
    }

    /// x, big-endian, [`EcCurve::field_bytes`] bytes.
    pub fn x(&self) -> &[u8] {
        &self.sec1[1..1 + self.curve.field_bytes()]
    }

    /// y, big-endian, [`EcCurve::field_bytes`] bytes.
    pub fn y(&self) -> &[u8] {
        &self.sec1[1 + self.curve.field_bytes()..]
    }
}

macro_rules! public_conversions {
    ($m:ident, $curve:expr) => {
        impl From<$m::PublicKey> for EcPublicKey {
            fn from(k: $m::PublicKey) -> Self {
                EcPublicKey {
                    curve: $curve,
                    sec1: k.to_encoded_point(false).as_bytes().to_vec(),
                }
            }
        }

        impl TryFrom<&EcPublicKey> for $m::PublicKey {
            type Error = Error;
            /// Fails ([`Error::InvalidParameter`]) when the key is on the other curve.
            fn try_from(k: &EcPublicKey) -> Result<Self> {
                if k.curve != $curve {
                    return Err(Error::InvalidParameter("EC public key: on another curve"));
                }
                $m::PublicKey::from_sec1_bytes(&k.sec1).map_err(bad_key)
            }
        }
    };
}
public_conversions!(p256, EcCurve::P256);
public_conversions!(p384, EcCurve::P384);
public_conversions!(p521, EcCurve::P521);

/// An elliptic-curve private key on P-256, P-384 or P-521: the scalar d in [1, n−1] (zeroized on drop) and its public
/// key. `Debug` does not show the scalar.
#[derive(Clone)]
pub struct EcPrivateKey {
    curve: EcCurve,
    d: Zeroizing<Vec<u8>>,
    public: EcPublicKey,
}

impl std::fmt::Debug for EcPrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EcPrivateKey")
            .field("curve", &self.curve)
            .finish_non_exhaustive()
    }
}

/// The DER inside the PEM block of `label` in `pem`. Lenient as OpenSSL is: other blocks around it (OpenSSL's
/// `ecparam -genkey` writes `EC PARAMETERS` before `EC PRIVATE KEY`), any line length, CRLF. An encrypted PEM
/// (with `Proc-Type` headers) is refused.
fn pem_der(pem: &str, label: &str) -> Option<Zeroizing<Vec<u8>>> {
    use base64ct::Encoding;
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = pem.find(&begin)? + begin.len();
    let stop = pem[start..].find(&end)? + start;
    let body = &pem[start..stop];
    if body.contains(':') {
        return None;
    }
    let b64: Zeroizing<String> = Zeroizing::new(body.split_whitespace().collect());
    base64ct::Base64::decode_vec(&b64).ok().map(Zeroizing::new)
}

fn pem_string(label: &str, der: &[u8]) -> Result<Zeroizing<String>> {
    sec1::der::pem::encode_string(label, sec1::LineEnding::LF, der)
        .map(Zeroizing::new)
        .map_err(bad_key)
}

impl EcPrivateKey {
    /// A new key from the operating system's random number generator.
    pub fn generate(curve: EcCurve) -> Self {
        with_curve!(curve, c => c::SecretKey::random(&mut rand_core::OsRng).into())
    }

    /// The raw scalar d, big-endian, exactly [`EcCurve::field_bytes`] bytes; d must be in [1, n−1].
    pub fn from_bytes(curve: EcCurve, d: &[u8]) -> Result<Self> {
        if d.len() != curve.field_bytes() {
            return Err(Error::InvalidKeyLength {
                alg: curve.name(),
                got: d.len(),
                expected: curve.scalar_len_text(),
            });
        }
        with_curve!(curve, c => {
            let k = c::SecretKey::from_slice(d)
                .map_err(|_| Error::InvalidParameter("EC private key: d must be in [1, n-1]"))?;
            Ok(k.into())
        })
    }

    /// A SEC1 `ECPrivateKey` in DER (RFC 5915; the curve from its parameters).
    pub fn from_sec1_der(der: &[u8]) -> Result<Self> {
        if let Ok(k) = p256::SecretKey::from_sec1_der(der) {
            return Ok(k.into());
        }
        if let Ok(k) = p521::SecretKey::from_sec1_der(der) {
            return Ok(k.into());
        }
        p384::SecretKey::from_sec1_der(der)
            .map(Into::into)
            .map_err(bad_key)
    }

    /// A PKCS#8 `PrivateKeyInfo` in DER (unencrypted).
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self> {
        if let Ok(k) = p256::SecretKey::from_pkcs8_der(der) {
            return Ok(k.into());
        }
        if let Ok(k) = p521::SecretKey::from_pkcs8_der(der) {
            return Ok(k.into());
        }
        p384::SecretKey::from_pkcs8_der(der)
            .map(Into::into)
            .map_err(bad_key)
    }

    /// A PEM private key: `-----BEGIN EC PRIVATE KEY-----` (SEC1; a preceding `EC PARAMETERS` block, as
    /// `openssl ecparam -genkey` writes, is skipped) or `-----BEGIN PRIVATE KEY-----` (unencrypted PKCS#8, as
    /// `openssl genpkey` writes). Encrypted PEM is not read.
    pub fn from_pem(pem: &str) -> Result<Self> {
        if let Some(der) = pem_der(pem, "EC PRIVATE KEY") {
            return Self::from_sec1_der(&der);
        }
        if let Some(der) = pem_der(pem, "PRIVATE KEY") {
            return Self::from_pkcs8_der(&der);
        }
        Err(Error::InvalidParameter(
            "EC private key: no unencrypted EC PRIVATE KEY or PRIVATE KEY PEM block",
        ))
    }

    /// SEC1 `ECPrivateKey` DER (RFC 5915) with the named-curve OID and the public key, as OpenSSL writes it.
    pub fn to_sec1_der(&self) -> Result<Zeroizing<Vec<u8>>> {
        use elliptic_curve::pkcs8::AssociatedOid;
        use sec1::der::Encode;
        let oid = match self.curve {
            EcCurve::P256 => p256::NistP256::OID,
            EcCurve::P384 => p384::NistP384::OID,
            EcCurve::P521 => p521::NistP521::OID,
        };
        let key = sec1::EcPrivateKey {
            private_key: &self.d,
            parameters: Some(sec1::EcParameters::NamedCurve(oid)),
            public_key: Some(&self.public.sec1),
        };
        key.to_der().map(Zeroizing::new).map_err(bad_key)
    }

    /// SEC1 PEM (`-----BEGIN EC PRIVATE KEY-----`, LF line endings), as [`EcPrivateKey::to_sec1_der`].
    pub fn to_sec1_pem(&self) -> Result<Zeroizing<String>> {
        pem_string("EC PRIVATE KEY", &self.to_sec1_der()?)
    }

    /// PKCS#8 DER (unencrypted).
    pub fn to_pkcs8_der(&self) -> Result<Zeroizing<Vec<u8>>> {
        with_curve!(self.curve, c => {
            let k = c::SecretKey::try_from(self)?;
            Ok(Zeroizing::new(k.to_pkcs8_der().map_err(bad_key)?.as_bytes().to_vec()))
        })
    }

    /// PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`, unencrypted, LF line endings).
    pub fn to_pkcs8_pem(&self) -> Result<Zeroizing<String>> {
        with_curve!(self.curve, c => {
            let k = c::SecretKey::try_from(self)?;
            k.to_pkcs8_pem(elliptic_curve::pkcs8::LineEnding::LF).map_err(bad_key)
        })
    }

    /// The curve.
    pub fn curve(&self) -> EcCurve {
        self.curve
    }

    /// The raw scalar d, big-endian, [`EcCurve::field_bytes`] bytes.
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        self.d.clone()
    }

    /// The public key d·G (computed in software at import; [`Accel::ec_public_key`] derives it on the device).
    pub fn public_key(&self) -> &EcPublicKey {
        &self.public
    }
}

macro_rules! private_conversions {
    ($m:ident, $curve:expr) => {
        impl From<$m::SecretKey> for EcPrivateKey {
            fn from(k: $m::SecretKey) -> Self {
                EcPrivateKey {
                    curve: $curve,
                    d: Zeroizing::new(k.to_bytes().to_vec()),
                    public: k.public_key().into(),
                }
            }
        }

        impl TryFrom<&EcPrivateKey> for $m::SecretKey {
            type Error = Error;
            /// Fails ([`Error::InvalidParameter`]) when the key is on the other curve.
            fn try_from(k: &EcPrivateKey) -> Result<Self> {
                if k.curve != $curve {
                    return Err(Error::InvalidParameter("EC private key: on another curve"));
                }
                $m::SecretKey::from_slice(&k.d).map_err(bad_key)
            }
        }
    };
}
private_conversions!(p256, EcCurve::P256);
private_conversions!(p384, EcCurve::P384);
private_conversions!(p521, EcCurve::P521);

// -------------------------------------------------------------------------------------------------------------
// Signatures
// -------------------------------------------------------------------------------------------------------------

/// Where the ECDSA nonce k comes from. Never from anything weaker than these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EcdsaNonce {
    /// RFC 6979 deterministic k (HMAC-DRBG over the private key and the message hash, with the curve's hash):
    /// the same key and message give the same signature on every backend.
    #[default]
    Rfc6979,
    /// k from the operating system's random number generator (`getrandom`); on the CPU backend aws-lc-rs draws it.
    Random,
}

/// An ECDSA signature (r, s), each [`EcCurve::field_bytes`] bytes, r and s in [1, n−1].
#[derive(Clone, PartialEq, Eq)]
pub struct EcdsaSignature {
    curve: EcCurve,
    /// r ‖ s.
    rs: Vec<u8>,
}

impl std::fmt::Debug for EcdsaSignature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EcdsaSignature({:?}, ", self.curve)?;
        for b in &self.rs {
            write!(f, "{b:02x}")?;
        }
        write!(f, ")")
    }
}

fn bad_signature_encoding(_: impl std::fmt::Display) -> Error {
    Error::InvalidParameter("ECDSA signature: malformed encoding, or r or s not in [1, n-1]")
}

impl EcdsaSignature {
    /// Fixed-width r ‖ s (IEEE P1363, JWS, WebAuthn's raw form): 64 bytes on P-256, 96 on P-384, 132 on P-521.
    pub fn from_bytes(curve: EcCurve, rs: &[u8]) -> Result<Self> {
        if rs.len() != 2 * curve.field_bytes() {
            return Err(Error::InvalidLength {
                alg: "ECDSA signature",
                got: rs.len(),
                why: "r || s must be twice the curve's field size",
            });
        }
        with_curve!(curve, c => {
            c::ecdsa::Signature::from_slice(rs).map_err(bad_signature_encoding)?;
        });
        Ok(EcdsaSignature {
            curve,
            rs: rs.to_vec(),
        })
    }

    /// ASN.1 DER `ECDSA-Sig-Value` (SEQUENCE { r INTEGER, s INTEGER }), as OpenSSL and X.509 carry it.
    pub fn from_der(curve: EcCurve, der: &[u8]) -> Result<Self> {
        with_curve!(curve, c => {
            let s = c::ecdsa::Signature::from_der(der).map_err(bad_signature_encoding)?;
            Ok(EcdsaSignature { curve, rs: s.to_bytes().to_vec() })
        })
    }

    /// The curve.
    pub fn curve(&self) -> EcCurve {
        self.curve
    }

    /// Fixed-width r ‖ s.
    pub fn to_bytes(&self) -> &[u8] {
        &self.rs
    }

    /// r, big-endian.
    pub fn r(&self) -> &[u8] {
        &self.rs[..self.curve.field_bytes()]
    }

    /// s, big-endian.
    pub fn s(&self) -> &[u8] {
        &self.rs[self.curve.field_bytes()..]
    }

    /// ASN.1 DER `ECDSA-Sig-Value`.
    pub fn to_der(&self) -> Vec<u8> {
        with_curve!(self.curve, c => {
            match c::ecdsa::Signature::from_slice(&self.rs) {
                Ok(s) => s.to_der().as_bytes().to_vec(),
                // Unreachable: r and s were checked when the signature was made or parsed.
                Err(_) => Vec::new(),
            }
        })
    }
}

// -------------------------------------------------------------------------------------------------------------
// The job
// -------------------------------------------------------------------------------------------------------------

/// What an ECC job gives back: an output block, or a verify verdict.
enum EccOut {
    Data(Zeroizing<Vec<u8>>),
    Verify(bool),
}

impl OutputLen for EccOut {
    fn output_len(&self) -> usize {
        match self {
            EccOut::Data(d) => d.len(),
            EccOut::Verify(_) => 0,
        }
    }
}

type CpuFn = Box<dyn FnOnce() -> Result<EccOut> + Send + Sync>;

/// One ECC SQE (queue type 1) and how to do the same on the CPU.
struct EccJob {
    alg: HpreAlg,
    width: usize,
    /// The key block (it may hold a private scalar: zeroized when the last holder drops it).
    key: Arc<Zeroizing<Vec<u8>>>,
    input: Bytes,
    out_len: usize,
    hpcore: bool,
    /// SM2 encrypt/decrypt message length (dw10 = len − 1), else 0.
    msg_len: usize,
    /// UADK's split-SM2 marker for dw10 on an ECDH multiply (0xE encrypt, 0xF decrypt), else `None`.
    split: Option<u16>,
    cpu: CpuFn,
}

impl EccJob {
    /// A job whose CPU path runs `uacce_soft::pkey` on the same blocks.
    fn soft(alg: HpreAlg, width: usize, key: Vec<u8>, input: Vec<u8>, out_len: usize) -> Self {
        Self::soft_msg(alg, width, key, input, out_len, 0)
    }

    fn soft_msg(
        alg: HpreAlg,
        width: usize,
        key: Vec<u8>,
        input: Vec<u8>,
        out_len: usize,
        msg_len: usize,
    ) -> Self {
        let key = Arc::new(Zeroizing::new(key));
        // The input may hold a secret (the ECDSA / SM2 nonce k, an SM2 plaintext): zeroized when freed.
        let input = Bytes::from_owner(Zeroizing::new(input));
        let (k, i) = (key.clone(), input.clone());
        EccJob {
            alg,
            width,
            key,
            input,
            out_len,
            hpcore: false,
            msg_len,
            split: None,
            cpu: Box::new(move || soft_run(alg, width, &k, &i, msg_len)),
        }
    }

    fn with_cpu(mut self, cpu: CpuFn) -> Self {
        self.cpu = cpu;
        self
    }
}

fn soft_run(
    alg: HpreAlg,
    width: usize,
    key: &[u8],
    input: &[u8],
    msg_len: usize,
) -> Result<EccOut> {
    let job = PkeyJob {
        alg,
        width,
        key,
        input,
        msg_len,
        random_k: false,
    };
    match pkey::execute(&job).map_err(pkey_error)? {
        PkeyOutput::Data(d) => Ok(EccOut::Data(Zeroizing::new(d))),
        PkeyOutput::Verify(v) => Ok(EccOut::Verify(v)),
    }
}

impl Job for EccJob {
    type Output = EccOut;
    const CLASS: Class = Class::HpreEcc;
    const FAMILY: Family = Family::Pkey;

    fn size(&self) -> usize {
        self.input.len()
    }

    fn capable(&self, pool: &ClassPool) -> bool {
        // A split-SM2 multiply (msg_len 0, hpcore on the SM2 curve) fails the P-256 check.
        !pool.all_lanes_soft() || super::soft_hpre_computes(self.alg, self.width, &self.key)
    }

    fn buffers(&mut self, _: QmVersion) -> Result<Buffers> {
        Ok(Buffers {
            input: Some(self.input.clone()),
            output: (self.out_len > 0).then(|| super::out_buf(self.out_len)),
            // The key block is read by the device: kept alive while the job is in flight.
            keep: Some(self.key.clone()),
        })
    }

    fn sqe(&self, tag: u32, _: &mut Scratch, bufs: &Buffers, version: QmVersion) -> Result<Sqe> {
        let input = addr(bufs.input());
        // A verify writes no output block; UADK puts the input address in the output field (§12.4).
        let output = if self.alg.is_verify() {
            input
        } else {
            addr(bufs.output())
        };
        let mut req = HpreRequest::new(
            self.alg,
            self.width,
            addr(&self.key),
            input,
            output,
            u64::from(tag),
        );
        req.hpcore = self.hpcore;
        if self.msg_len > 0 {
            let n = u16::try_from(self.msg_len)
                .map_err(|_| Error::InvalidParameter("SM2 message too long for one SQE"))?;
            req.dw10 = hpre::Dw10::MsgLen(n);
        }
        if let Some(mark) = self.split {
            req.dw10 = hpre::Dw10::SplitMark(mark);
        }
        super::hpre_sqe(&req, version)
    }

    fn complete(&mut self, out: JobOutput, _: QmVersion) -> Result<Step<EccOut>> {
        match hpre::read_result(&out.sqe).outcome() {
            HpreOutcome::Ok if self.alg.is_verify() => Ok(Step::Done(EccOut::Verify(true))),
            HpreOutcome::VerifyFailed => Ok(Step::Done(EccOut::Verify(false))),
            HpreOutcome::Ok => {
                // The output may be secret (a shared secret, an SM2 plaintext or private key): the device's buffer
                // is wiped once copied.
                let mut o = out.into_output();
                let data = Zeroizing::new(o.to_vec());
                zeroize::Zeroize::zeroize(&mut o[..]);
                Ok(Step::Done(EccOut::Data(data)))
            }
            outcome => {
                // The device's codes carry no documented meaning: let the CPU path say what is wrong.
                tracing::debug!(?outcome, alg = ?self.alg, "HPRE ECC job failed on the device; rerun on the CPU");
                Ok(Step::Cpu)
            }
        }
    }

    fn cpu(self) -> Result<EccOut> {
        (self.cpu)()
    }
}

fn data(out: EccOut) -> Result<Zeroizing<Vec<u8>>> {
    match out {
        EccOut::Data(d) => Ok(d),
        EccOut::Verify(_) => Err(Error::Device("a verify verdict where data was due".into())),
    }
}

/// The hardware's curve parameters for `curve`, and its private / public key blocks.
fn private_block(curve: EcCurve, d: &[u8]) -> Result<Vec<u8>> {
    let c = pkey::curve_params(curve.id());
    let params = c.layout();
    layout::ecc_private_block(&params, d, curve.id().width()).map_err(layout_err)
}

fn public_block(key: &EcPublicKey) -> Result<Vec<u8>> {
    let c = pkey::curve_params(key.curve.id());
    let params = c.layout();
    layout::ecc_public_block(&params, key.x(), key.y(), key.curve.id().width()).map_err(layout_err)
}

/// e = bits2int(digest) for the hardware: the leftmost field-size bytes of the digest (both curves' orders are a
/// whole number of bytes), right-aligned in the h-byte field. The engine reduces e mod n.
fn digest_field(curve: EcCurve, digest: &[u8]) -> Result<Vec<u8>> {
    if digest.is_empty() || digest.len() > 64 {
        return Err(Error::InvalidLength {
            alg: "ECDSA",
            got: digest.len(),
            why: "a message digest is 1 to 64 bytes",
        });
    }
    let n = curve.field_bytes();
    let e = &digest[..digest.len().min(n)];
    let mut out = vec![0u8; curve.id().width()];
    let w = out.len();
    out[w - e.len()..].copy_from_slice(e);
    Ok(out)
}

/// The RFC 6979 nonce for `d` and `digest` (§3.2 with the curve's hash; h1 = bits2octets(digest)).
fn rfc6979_k(curve: EcCurve, d: &[u8], digest: &[u8]) -> Zeroizing<Vec<u8>> {
    use elliptic_curve::{Curve, FieldBytesEncoding};
    let n = curve.field_bytes();
    let e = &digest[..digest.len().min(n)];
    macro_rules! k {
        ($m:ident, $C:ty, $U:ty, $H:ty) => {{
            // bits2int then mod n (bits2octets); a short digest is left-padded.
            let mut z = $m::FieldBytes::default();
            z[n - e.len()..].copy_from_slice(e);
            let h1 = <$m::Scalar as Reduce<$U>>::reduce_bytes(&z).to_bytes();
            let order: $m::FieldBytes =
                <$U as FieldBytesEncoding<$C>>::encode_field_bytes(&<$C as Curve>::ORDER);
            let x = Zeroizing::new($m::FieldBytes::clone_from_slice(d));
            let mut k = rfc6979::generate_k::<$H, _>(&x, &order, &h1, &[]);
            let out = Zeroizing::new(k.to_vec());
            zeroize::Zeroize::zeroize(k.as_mut_slice());
            out
        }};
    }
    match curve {
        EcCurve::P256 => k!(p256, p256::NistP256, p256::U256, sha2::Sha256),
        EcCurve::P384 => k!(p384, p384::NistP384, p384::U384, sha2::Sha384),
        EcCurve::P521 => rfc6979_k_p521(d, e),
    }
}

/// RFC 6979 §3.2 on P-521 with SHA-512, written out because the order is not a whole number of bytes (qlen = 521,
/// rlen = 66 bytes): each 66-byte HMAC-DRBG output T becomes k = bits2int(T) = T >> 7, which the generic
/// `rfc6979::generate_k` (k = T) does not do. `e` is the digest cut to 66 bytes; SHA-512's 64 bytes are shorter
/// than qlen, so bits2int(h1) = h1 and bits2octets(h1) = h1 mod n, 66 bytes. The DRBG is `rfc6979`'s
/// `HmacDrbg`, whose `fill_bytes` also does step h.3's K/V update after each output.
fn rfc6979_k_p521(d: &[u8], e: &[u8]) -> Zeroizing<Vec<u8>> {
    use elliptic_curve::ff::PrimeField;
    use elliptic_curve::{Curve, FieldBytesEncoding};
    const RLEN: usize = 66;
    let mut z = p521::FieldBytes::default();
    z[RLEN - e.len()..].copy_from_slice(e);
    let h1 = <p521::Scalar as Reduce<p521::U576>>::reduce_bytes(&z).to_repr();
    let order: p521::FieldBytes =
        <p521::U576 as FieldBytesEncoding<p521::NistP521>>::encode_field_bytes(
            &<p521::NistP521 as Curve>::ORDER,
        );
    let mut drbg = rfc6979::HmacDrbg::<sha2::Sha512>::new(d, &h1, &[]);
    loop {
        let mut t = Zeroizing::new([0u8; RLEN]);
        drbg.fill_bytes(&mut t[..]);
        // k = T >> 7 (big-endian, 66 bytes).
        let mut k = Zeroizing::new(vec![0u8; RLEN]);
        for i in (0..RLEN).rev() {
            let hi = if i == 0 { 0 } else { t[i - 1] };
            k[i] = (t[i] >> 7) | (hi << 1);
        }
        // 1 <= k < n, compared in constant time as rfc6979 does.
        if !all_zero(&k) & ct_lt_be(&k, &order) {
            return k;
        }
    }
}

/// Constant-time `a < b` for equal-length big-endian numbers.
fn ct_lt_be(a: &[u8], b: &[u8]) -> bool {
    use subtle::{ConditionallySelectable, ConstantTimeEq, ConstantTimeLess};
    let mut lt = subtle::Choice::from(0);
    let mut eq = subtle::Choice::from(1);
    for (x, y) in a.iter().zip(b) {
        lt = subtle::Choice::conditional_select(&lt, &x.ct_lt(y), eq);
        eq &= x.ct_eq(y);
    }
    bool::from(lt)
}

/// A uniformly random k in [1, n−1] from the operating system's RNG.
fn random_k(curve: EcCurve) -> Zeroizing<Vec<u8>> {
    with_curve!(curve, c => {
        let k = c::NonZeroScalar::random(&mut rand_core::OsRng);
        Zeroizing::new(c::FieldBytes::from(k).to_vec())
    })
}

fn widen(v: &[u8], h: usize) -> Vec<u8> {
    let mut out = vec![0u8; h];
    out[h - v.len()..].copy_from_slice(v);
    out
}

fn aws_signing_alg(curve: EcCurve) -> &'static aws_lc_rs::signature::EcdsaSigningAlgorithm {
    match curve {
        EcCurve::P256 => &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        EcCurve::P384 => &aws_lc_rs::signature::ECDSA_P384_SHA384_FIXED_SIGNING,
        EcCurve::P521 => &aws_lc_rs::signature::ECDSA_P521_SHA512_FIXED_SIGNING,
    }
}

fn aws_verify_alg(curve: EcCurve) -> &'static aws_lc_rs::signature::EcdsaVerificationAlgorithm {
    match curve {
        EcCurve::P256 => &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED,
        EcCurve::P384 => &aws_lc_rs::signature::ECDSA_P384_SHA384_FIXED,
        EcCurve::P521 => &aws_lc_rs::signature::ECDSA_P521_SHA512_FIXED,
    }
}

fn aws_digest_alg(curve: EcCurve) -> &'static aws_lc_rs::digest::Algorithm {
    match curve {
        EcCurve::P256 => &aws_lc_rs::digest::SHA256,
        EcCurve::P384 => &aws_lc_rs::digest::SHA384,
        EcCurve::P521 => &aws_lc_rs::digest::SHA512,
    }
}

fn aws_agreement_alg(curve: EcCurve) -> &'static aws_lc_rs::agreement::Algorithm {
    match curve {
        EcCurve::P256 => &aws_lc_rs::agreement::ECDH_P256,
        EcCurve::P384 => &aws_lc_rs::agreement::ECDH_P384,
        EcCurve::P521 => &aws_lc_rs::agreement::ECDH_P521,
    }
}

/// r ‖ s from an h-wide output block, narrowed to the curve's size (the padding must be zero).
fn narrow_rs(curve: EcCurve, out: &[u8]) -> Result<EcdsaSignature> {
    let (h, n) = (curve.id().width(), curve.field_bytes());
    if out.len() != 2 * h {
        return Err(Error::Device("ECDSA result of the wrong length".into()));
    }
    let (r, s) = out.split_at(h);
    if r[..h - n].iter().chain(&s[..h - n]).any(|&b| b != 0) {
        return Err(Error::Device("ECDSA result wider than the curve".into()));
    }
    EcdsaSignature::from_bytes(curve, &[&r[h - n..], &s[h - n..]].concat())
        .map_err(|_| Error::Device("ECDSA result out of range".into()))
}

// -------------------------------------------------------------------------------------------------------------
// The calls
// -------------------------------------------------------------------------------------------------------------

impl Accel {
    async fn ecc(&self, job: EccJob) -> Result<EccOut> {
        self.inner.execute(job).await
    }

    /// ECDSA signature of `msg` with an RFC 6979 deterministic nonce: the message hashed with SHA-256 (P-256) or
    /// SHA-384 (P-384) or SHA-512 (P-521), then the HPRE's ECDSA sign. Same as [`Accel::ecdsa_sign_with`] with
    /// [`EcdsaNonce::Rfc6979`].
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), uacce_async::Error> {
    /// use uacce_async::{Accel, Backend, EcCurve, EcPrivateKey};
    /// let accel = Accel::builder().backend(Backend::Emulated).build().await?;
    /// let key = EcPrivateKey::generate(EcCurve::P256);
    /// let sig = accel.ecdsa_sign(&key, b"hello").await?;
    /// accel.ecdsa_verify(key.public_key(), b"hello", &sig).await?;
    /// assert!(accel.ecdsa_verify(key.public_key(), b"hellO", &sig).await.is_err());
    /// # Ok(()) }
    /// ```
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the call changes no state of the [`Accel`](crate::Accel), so dropping the future only abandons
    /// the job. A job already on a device keeps its buffers until the device completes it (then they are freed); a
    /// CPU job not yet started is skipped, one already running finishes on its pool thread. The call can simply be
    /// made again.
    pub async fn ecdsa_sign(&self, key: &EcPrivateKey, msg: &[u8]) -> Result<EcdsaSignature> {
        self.ecdsa_sign_with(key, msg, EcdsaNonce::Rfc6979).await
    }

    /// ECDSA signature of `msg` (hashed with the curve's SHA-2) with the nonce from `nonce`.
    ///
    /// # Cancel safety
    ///
    /// As [`Accel::ecdsa_sign`].
    pub async fn ecdsa_sign_with(
        &self,
        key: &EcPrivateKey,
        msg: &[u8],
        nonce: EcdsaNonce,
    ) -> Result<EcdsaSignature> {
        let digest = key.curve.hash(msg);
        self.ecdsa_sign_prehash(key, &digest, nonce).await
    }

    /// ECDSA signature of a message digest computed by the caller (1 to 64 bytes; a digest longer than the curve
    /// is truncated to its leftmost bytes as FIPS 186 says). The signature is verified before it is returned; a
    /// signature that fails that check (a fault) is [`Error::Device`].
    ///
    /// # Cancel safety
    ///
    /// As [`Accel::ecdsa_sign`].
    pub async fn ecdsa_sign_prehash(
        &self,
        key: &EcPrivateKey,
        digest: &[u8],
        nonce: EcdsaNonce,
    ) -> Result<EcdsaSignature> {
        let curve = key.curve;
        let e = digest_field(curve, digest)?;
        let k = match nonce {
            EcdsaNonce::Rfc6979 => rfc6979_k(curve, &key.d, digest),
            EcdsaNonce::Random => random_k(curve),
        };
        let sig = self.ecdsa_sign_k(key, digest, &e, &k, nonce).await?;
        // Fault countermeasure: a signature made with a faulted computation can leak the key; check it first.
        match self.ecdsa_verify_prehash(&key.public, digest, &sig).await {
            Ok(()) => Ok(sig),
            Err(Error::BadSignature) => Err(Error::Device(
                "the ECDSA signature failed its check (fault): not released".into(),
            )),
            Err(e) => Err(e),
        }
    }

    /// ECDSA sign with a caller-chosen nonce `k` (big-endian, in [1, n−1]): **for known-answer tests only** (a
    /// nonce used twice, or a biased one, reveals the private key). The result is not checked.
    ///
    /// # Cancel safety
    ///
    /// As [`Accel::ecdsa_sign`].
    #[doc(hidden)]
    pub async fn ecdsa_sign_prehash_with_k_for_tests(
        &self,
        key: &EcPrivateKey,
        digest: &[u8],
        k: &[u8],
    ) -> Result<EcdsaSignature> {
        let curve = key.curve;
        if k.len() != curve.field_bytes() {
            return Err(Error::InvalidKeyLength {
                alg: "ECDSA nonce",
                got: k.len(),
                expected: curve.scalar_len_text(),
            });
        }
        let e = digest_field(curve, digest)?;
        let k = Zeroizing::new(k.to_vec());
        self.ecdsa_sign_k(key, digest, &e, &k, EcdsaNonce::Rfc6979)
            .await
    }

    async fn ecdsa_sign_k(
        &self,
        key: &EcPrivateKey,
        digest: &[u8],
        e: &[u8],
        k: &[u8],
        nonce: EcdsaNonce,
    ) -> Result<EcdsaSignature> {
        let curve = key.curve;
        let h = curve.id().width();
        let block = private_block(curve, &key.d)?;
        let kw = Zeroizing::new(widen(k, h));
        let input = [e, &kw[..]].concat();
        let mut job = EccJob::soft(HpreAlg::EcdsaSign, h, block, input, 2 * h);
        if nonce == EcdsaNonce::Random && digest.len() == aws_digest_alg(curve).output_len() {
            // aws-lc-rs signs a digest with its own random k.
            let (d, q) = (key.d.clone(), key.public.sec1.clone());
            let digest = digest.to_vec();
            job = job.with_cpu(Box::new(move || {
                let pair = aws_lc_rs::signature::EcdsaKeyPair::from_private_key_and_public_key(
                    aws_signing_alg(curve),
                    &d,
                    &q,
                )
                .map_err(|_| Error::InvalidParameter("EC private key refused by aws-lc"))?;
                let dg =
                    aws_lc_rs::digest::Digest::import_less_safe(&digest, aws_digest_alg(curve))
                        .map_err(|_| Error::InvalidParameter("ECDSA digest length"))?;
                let sig = pair
                    .sign_digest(&dg)
                    .map_err(|_| Error::Device("aws-lc ECDSA sign failed".into()))?;
                Ok(EccOut::Data(Zeroizing::new(
                    [
                        &widen(&sig.as_ref()[..sig.as_ref().len() / 2], h)[..],
                        &widen(&sig.as_ref()[sig.as_ref().len() / 2..], h),
                    ]
                    .concat(),
                )))
            }));
        }
        let out = data(self.ecc(job).await?)?;
        narrow_rs(curve, &out)
    }

    /// Verify an ECDSA signature of `msg` (hashed with the curve's SHA-2). A signature that does not verify is
    /// [`Error::BadSignature`]; a key and signature on different curves is [`Error::InvalidParameter`].
    ///
    /// # Cancel safety
    ///
    /// As [`Accel::ecdsa_sign`].
    pub async fn ecdsa_verify(
        &self,
        key: &EcPublicKey,
        msg: &[u8],
        sig: &EcdsaSignature,
    ) -> Result<()> {
        let digest = key.curve.hash(msg);
        self.ecdsa_verify_prehash(key, &digest, sig).await
    }

    /// Verify an ECDSA signature of a digest computed by the caller (1 to 64 bytes). As [`Accel::ecdsa_verify`].
    ///
    /// # Cancel safety
    ///
    /// As [`Accel::ecdsa_sign`].
    pub async fn ecdsa_verify_prehash(
        &self,
        key: &EcPublicKey,
        digest: &[u8],
        sig: &EcdsaSignature,
    ) -> Result<()> {
        let curve = key.curve;
        if sig.curve != curve {
            return Err(Error::InvalidParameter(
                "ECDSA: the signature and the key are on different curves",
            ));
        }
        let h = curve.id().width();
        let e = digest_field(curve, digest)?;
        // e ‖ s ‖ r: s before r (§12.4).
        let input = [&e[..], &widen(sig.s(), h), &widen(sig.r(), h)].concat();
        let mut job = EccJob::soft(HpreAlg::EcdsaVerify, h, public_block(key)?, input, 0);
        if digest.len() == aws_digest_alg(curve).output_len() {
            let (q, digest, rs) = (key.sec1.clone(), digest.to_vec(), sig.rs.clone());
            job = job.with_cpu(Box::new(move || {
                let dg =
                    aws_lc_rs::digest::Digest::import_less_safe(&digest, aws_digest_alg(curve))
                        .map_err(|_| Error::InvalidParameter("ECDSA digest length"))?;
                let ok = aws_lc_rs::signature::UnparsedPublicKey::new(aws_verify_alg(curve), &q)
                    .verify_digest(&dg, &rs)
                    .is_ok();
                Ok(EccOut::Verify(ok))
            }));
        }
        match self.ecc(job).await? {
            EccOut::Verify(true) => Ok(()),
            EccOut::Verify(false) => Err(Error::BadSignature),
            EccOut::Data(_) => Err(Error::Device("data where a verify verdict was due".into())),
        }
    }

    /// ECDH: the shared secret (the x coordinate of d·Q, [`EcCurve::field_bytes`] bytes) of `private` and the
    /// peer's `public` key (validated on import: on the curve, not the identity). Keys on different curves are
    /// [`Error::InvalidParameter`].
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), uacce_async::Error> {
    /// use uacce_async::{Accel, Backend, EcCurve, EcPrivateKey};
    /// let accel = Accel::builder().backend(Backend::Emulated).build().await?;
    /// let (a, b) = (EcPrivateKey::generate(EcCurve::P384), EcPrivateKey::generate(EcCurve::P384));
    /// let s1 = accel.ecdh(&a, b.public_key()).await?;
    /// let s2 = accel.ecdh(&b, a.public_key()).await?;
    /// assert_eq!(*s1, *s2);
    /// # Ok(()) }
    /// ```
    ///
    /// # Cancel safety
    ///
    /// As [`Accel::ecdsa_sign`].
    pub async fn ecdh(
        &self,
        private: &EcPrivateKey,
        public: &EcPublicKey,
    ) -> Result<Zeroizing<Vec<u8>>> {
        let curve = private.curve;
        if public.curve != curve {
            return Err(Error::InvalidParameter(
                "ECDH: the two keys are on different curves",
            ));
        }
        let (d, q) = (private.d.clone(), public.sec1.clone());
        let cpu: CpuFn = Box::new(move || {
            let alg = aws_agreement_alg(curve);
            let pk = aws_lc_rs::agreement::PrivateKey::from_private_key(alg, &d)
                .map_err(|_| Error::InvalidParameter("EC private key refused by aws-lc"))?;
            let peer = aws_lc_rs::agreement::UnparsedPublicKey::new(alg, &q);
            aws_lc_rs::agreement::agree(
                &pk,
                peer,
                Error::InvalidParameter("ECDH: the peer's public key is refused"),
                |z| Ok(EccOut::Data(Zeroizing::new(z.to_vec()))),
            )
        });
        let out = self
            .ec_multiply(curve, &private.d, public.x(), public.y(), Some(cpu))
            .await?;
        let n = curve.field_bytes();
        match out.len() {
            l if l == n => Ok(out),
            l if l == 2 * curve.id().width() => {
                let h = curve.id().width();
                Ok(Zeroizing::new(out[h - n..h].to_vec()))
            }
            _ => Err(Error::Device("ECDH result of the wrong length".into())),
        }
    }

    /// The public key d·G of `private`, computed on the device (the hardware's point multiply, as UADK's ECDH key
    /// generation does); on the CPU, aws-lc-rs computes it.
    ///
    /// # Cancel safety
    ///
    /// As [`Accel::ecdsa_sign`].
    pub async fn ec_public_key(&self, private: &EcPrivateKey) -> Result<EcPublicKey> {
        let curve = private.curve;
        let c = pkey::curve_params(curve.id());
        let d = private.d.clone();
        let cpu: CpuFn = Box::new(move || {
            let pk =
                aws_lc_rs::agreement::PrivateKey::from_private_key(aws_agreement_alg(curve), &d)
                    .map_err(|_| Error::InvalidParameter("EC private key refused by aws-lc"))?;
            let q = pk
                .compute_public_key()
                .map_err(|_| Error::Device("aws-lc public key".into()))?;
            Ok(EccOut::Data(Zeroizing::new(q.as_ref().to_vec())))
        });
        let out = self
            .ec_multiply(curve, &private.d, &c.gx, &c.gy, Some(cpu))
            .await?;
        let (h, n) = (curve.id().width(), curve.field_bytes());
        if out.len() == 1 + 2 * n {
            // aws-lc's SEC1 encoding.
            return EcPublicKey::from_sec1_bytes(curve, &out);
        }
        if out.len() != 2 * h {
            return Err(Error::Device("EC public key of the wrong length".into()));
        }
        EcPublicKey::from_coordinates(curve, &out[h - n..h], &out[2 * h - n..])
            .map_err(|_| Error::Device("the device's public key is not on the curve".into()))
    }

    /// d · (x, y) on the HPRE (alg 0x0D): the h-wide x ‖ y block from the device or the soft path, or what `cpu`
    /// returns when it runs instead.
    async fn ec_multiply(
        &self,
        curve: EcCurve,
        d: &[u8],
        x: &[u8],
        y: &[u8],
        cpu: Option<CpuFn>,
    ) -> Result<Zeroizing<Vec<u8>>> {
        let h = curve.id().width();
        let mut key = private_block(curve, d)?;
        // ECDH names the first five fields (p, a, k, b, n).
        key.truncate(layout::ecc_private::MULTIPLY_FIELDS * h);
        let input = [widen(x, h), widen(y, h)].concat();
        let mut job = EccJob::soft(HpreAlg::EcdhMultiply, h, key, input, 2 * h);
        // UADK sets bd_rsv2 for the built-in secp256r1 on hw >= v3 (ECC queues are v3 only); not for P-384 or P-521.
        job.hpcore = curve == EcCurve::P256;
        if let Some(cpu) = cpu {
            job = job.with_cpu(cpu);
        }
        data(self.ecc(job).await?)
    }

    /// X448 (RFC 7748): `scalar` and `u` little-endian as the RFC writes them, the result likewise. The scalar is
    /// clamped as the RFC says; a non-canonical u (≥ p) is reduced first. Runs on an HPRE ECC queue (QM v3) when
    /// there is one (the 56-byte numbers right-aligned in 72-byte fields); on the CPU, `x448` (RustCrypto).
    /// This is the raw function: for a key agreement use [`Accel::x448_agree`], which refuses the all-zero result.
    ///
    /// # Cancel safety
    ///
    /// As [`Accel::ecdsa_sign`].
    pub async fn x448(&self, scalar: &[u8; 56], u: &[u8; 56]) -> Result<[u8; 56]> {
        let mut k = [0u8; 72];
        for (dst, src) in k[16..].iter_mut().zip(scalar.iter().rev()) {
            *dst = *src;
        }
        hpre::x448_clamp_be(&mut k);
        let k = Zeroizing::new(k);
        let mut ub = [0u8; 56];
        for (dst, src) in ub.iter_mut().zip(u.iter().rev()) {
            *dst = *src;
        }
        if ub >= X448_P {
            // u < 2^448 < 2p: one subtraction.
            let mut borrow = 0u16;
            for i in (0..56).rev() {
                let d = u16::from(ub[i]) + 0x100 - u16::from(X448_P[i]) - borrow;
                ub[i] = d as u8;
                borrow = u16::from(d < 0x100);
            }
        }
        let key = layout::x_dh_key_block(&X448_P, &X448_A24, &k[..], 72).map_err(layout_err)?;
        let out = data(
            self.ecc(EccJob::soft(
                HpreAlg::XdhMultiply,
                72,
                key,
                widen(&ub, 72),
                72,
            ))
            .await?,
        )?;
        if out.len() != 72 || out[..16].iter().any(|&b| b != 0) {
            return Err(Error::Device("X448 result of the wrong shape".into()));
        }
        let mut r = [0u8; 56];
        for (dst, src) in r.iter_mut().zip(out[16..].iter().rev()) {
            *dst = *src;
        }
        Ok(r)
    }

    /// The X448 public key of `private` (the scalar times the base point u = 5), RFC 7748 byte order.
    ///
    /// # Cancel safety
    ///
    /// As [`Accel::ecdsa_sign`].
    pub async fn x448_public(&self, private: &[u8; 56]) -> Result<[u8; 56]> {
        let mut five = [0u8; 56];
        five[0] = 5;
        self.x448(private, &five).await
    }

    /// X448 key agreement: [`Accel::x448`] of our `private` scalar and the peer's `public` u, refusing an all-zero
    /// shared secret (the peer sent a small-order point; RFC 7748 §6.2 allows the check) with
    /// [`Error::InvalidParameter`].
    ///
    /// # Cancel safety
    ///
    /// As [`Accel::ecdsa_sign`].
    pub async fn x448_agree(
        &self,
        private: &[u8; 56],
        public: &[u8; 56],
    ) -> Result<Zeroizing<[u8; 56]>> {
        let z = Zeroizing::new(self.x448(private, public).await?);
        if all_zero(&z[..]) {
            return Err(Error::InvalidParameter(
                "X448: all-zero shared secret (the peer's public key is a small-order point)",
            ));
        }
        Ok(z)
    }

    /// The X25519 public key of `private` (the scalar times the base point u = 9), RFC 7748 byte order.
    ///
    /// # Cancel safety
    ///
    /// As [`Accel::ecdsa_sign`].
    pub async fn x25519_public(&self, private: &[u8; 32]) -> Result<[u8; 32]> {
        let mut nine = [0u8; 32];
        nine[0] = 9;
        self.x25519(private, &nine).await
    }

    /// X25519 key agreement: [`Accel::x25519`] of our `private` scalar and the peer's `public` u, refusing an
    /// all-zero shared secret (RFC 7748 §6.1) with [`Error::InvalidParameter`]. On the CPU, aws-lc-rs computes it.
    ///
    /// # Cancel safety
    ///
    /// As [`Accel::ecdsa_sign`].
    pub async fn x25519_agree(
        &self,
        private: &[u8; 32],
        public: &[u8; 32],
    ) -> Result<Zeroizing<[u8; 32]>> {
        const ALL_ZERO: Error = Error::InvalidParameter(
            "X25519: all-zero shared secret (the peer's public key is a small-order point)",
        );
        // The hardware's big-endian blocks, as `Accel::x25519` builds them.
        let mut k = Zeroizing::new(*private);
        k.reverse();
        hpre::x25519_clamp_be(&mut k);
        let mut ub = *public;
        ub.reverse();
        ub[0] &= 0x7F;
        if ub >= X25519_P {
            // u < 2^255, so u − p < 19: one subtraction.
            let mut borrow = 0u16;
            for i in (0..32).rev() {
                let d = u16::from(ub[i]) + 0x100 - u16::from(X25519_P[i]) - borrow;
                ub[i] = d as u8;
                borrow = u16::from(d < 0x100);
            }
        }
        let key = layout::x_dh_key_block(&X25519_P, &X25519_A24, &k[..], 32).map_err(layout_err)?;
        let (sk, pk) = (Zeroizing::new(*private), *public);
        let cpu: CpuFn = Box::new(move || {
            let alg = &aws_lc_rs::agreement::X25519;
            let sk = aws_lc_rs::agreement::PrivateKey::from_private_key(alg, &sk[..])
                .map_err(|_| Error::InvalidParameter("X25519 private key refused by aws-lc"))?;
            let peer = aws_lc_rs::agreement::UnparsedPublicKey::new(alg, pk);
            // aws-lc refuses an all-zero result; the block is big-endian like the device's output.
            aws_lc_rs::agreement::agree(&sk, peer, ALL_ZERO, |z| {
                let mut be = Zeroizing::new(z.to_vec());
                be.reverse();
                Ok(EccOut::Data(be))
            })
        });
        let job = EccJob::soft(HpreAlg::XdhMultiply, 32, key, ub.to_vec(), 32).with_cpu(cpu);
        let out = data(self.ecc(job).await?)?;
        let mut z = Zeroizing::new([0u8; 32]);
        if out.len() != 32 {
            return Err(Error::Device("X25519 result of the wrong length".into()));
        }
        for (dst, src) in z.iter_mut().zip(out.iter().rev()) {
            *dst = *src;
        }
        if all_zero(&z[..]) {
            return Err(ALL_ZERO);
        }
        Ok(z)
    }
}

/// Constant-time all-zero test.
fn all_zero(v: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    let acc = v.iter().fold(0u8, |a, &b| a | b);
    bool::from(acc.ct_eq(&0))
}

// -------------------------------------------------------------------------------------------------------------
// SM2 (GB/T 32918)
// -------------------------------------------------------------------------------------------------------------

/// The default SM2 user ID (GB/T 35276 / GM/T 0009: "1234567812345678"), used when none is given.
pub const SM2_DEFAULT_ID: &[u8] = b"1234567812345678";

/// Longest message [`Accel::sm2_encrypt`] and [`Accel::sm2_decrypt`] take: 1 MiB. Up to 512 bytes (what one HPRE
/// SQE carries) a message takes one SQE; longer ones take UADK's split path (the engine multiplies the points, the
/// KDF and C3 run in software, protocol doc §12.4). SM2 encryption is meant for short secrets (keys); the bound
/// keeps a ciphertext from sizing an allocation without limit.
pub const SM2_MAX_MESSAGE: usize = 1 << 20;

/// Attempts at a split SM2 encryption before giving up: a new k is drawn only when the KDF output is all zero
/// (GB/T 32918.4 §6.1 A5), which happens with probability about 2^-256 per attempt.
const SM2_SPLIT_ATTEMPTS: usize = 4;

/// SM3 of the concatenation of `parts`.
fn sm3_of(parts: &[&[u8]]) -> [u8; 32] {
    use sm3::Digest;
    let mut h = sm3::Sm3::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// An SM2 public key: a point on the SM2 recommended curve (checked on import), never the identity.
#[derive(Clone, PartialEq, Eq)]
pub struct Sm2PublicKey {
    /// 0x04 ‖ x ‖ y.
    sec1: Vec<u8>,
}

impl std::fmt::Debug for Sm2PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sm2PublicKey").finish_non_exhaustive()
    }
}

impl From<sm2::PublicKey> for Sm2PublicKey {
    fn from(k: sm2::PublicKey) -> Self {
        Sm2PublicKey {
            sec1: k.to_encoded_point(false).as_bytes().to_vec(),
        }
    }
}

impl TryFrom<&Sm2PublicKey> for sm2::PublicKey {
    type Error = Error;
    fn try_from(k: &Sm2PublicKey) -> Result<Self> {
        sm2::PublicKey::from_sec1_bytes(&k.sec1).map_err(bad_key)
    }
}

impl Sm2PublicKey {
    /// A SEC1 point (uncompressed or compressed); off the curve or the identity is [`Error::InvalidParameter`].
    pub fn from_sec1_bytes(bytes: &[u8]) -> Result<Self> {
        sm2::PublicKey::from_sec1_bytes(bytes)
            .map(Into::into)
            .map_err(|_| Error::InvalidParameter("SM2 public key: not a point on the curve"))
    }

    /// A DER SubjectPublicKeyInfo (id-ecPublicKey with the SM2 curve OID 1.2.156.10197.1.301).
    pub fn from_public_key_der(der: &[u8]) -> Result<Self> {
        sm2::PublicKey::from_public_key_der(der)
            .map(Into::into)
            .map_err(bad_key)
    }

    /// A PEM SubjectPublicKeyInfo (`-----BEGIN PUBLIC KEY-----`).
    pub fn from_public_key_pem(pem: &str) -> Result<Self> {
        let der = pem_der(pem, "PUBLIC KEY").ok_or(Error::InvalidParameter(
            "SM2 public key: no PUBLIC KEY PEM block",
        ))?;
        Self::from_public_key_der(&der)
    }

    /// DER SubjectPublicKeyInfo.
    pub fn to_public_key_der(&self) -> Result<Vec<u8>> {
        let k = sm2::PublicKey::try_from(self)?;
        Ok(k.to_public_key_der().map_err(bad_key)?.into_vec())
    }

    /// Uncompressed SEC1: 0x04 ‖ x ‖ y (65 bytes).
    pub fn to_sec1_bytes(&self) -> &[u8] {
        &self.sec1
    }

    fn x(&self) -> &[u8] {
        &self.sec1[1..33]
    }

    fn y(&self) -> &[u8] {
        &self.sec1[33..]
    }
}

/// An SM2 private key: d in [1, n−2] (zeroized on drop) and its public key.
#[derive(Clone)]
pub struct Sm2PrivateKey {
    d: Zeroizing<Vec<u8>>,
    public: Sm2PublicKey,
}

impl std::fmt::Debug for Sm2PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sm2PrivateKey").finish_non_exhaustive()
    }
}

impl From<sm2::SecretKey> for Sm2PrivateKey {
    fn from(k: sm2::SecretKey) -> Self {
        Sm2PrivateKey {
            d: Zeroizing::new(k.to_bytes().to_vec()),
            public: k.public_key().into(),
        }
    }
}

impl TryFrom<&Sm2PrivateKey> for sm2::SecretKey {
    type Error = Error;
    fn try_from(k: &Sm2PrivateKey) -> Result<Self> {
        sm2::SecretKey::from_slice(&k.d).map_err(bad_key)
    }
}

impl Sm2PrivateKey {
    /// A new key from the operating system's random number generator, in software (see [`Accel::sm2_generate`]
    /// for the device's key generation).
    pub fn generate() -> Self {
        loop {
            let k = Self::from(sm2::SecretKey::random(&mut rand_core::OsRng));
            if k.signing_ok() {
                return k;
            }
        }
    }

    /// The raw scalar d, big-endian, 32 bytes, in [1, n−2] (n − 1 cannot sign: 1 + d has no inverse).
    pub fn from_bytes(d: &[u8]) -> Result<Self> {
        if d.len() != 32 {
            return Err(Error::InvalidKeyLength {
                alg: "SM2",
                got: d.len(),
                expected: "32 bytes",
            });
        }
        let k: Self = sm2::SecretKey::from_slice(d)
            .map_err(|_| Error::InvalidParameter("SM2 private key: d must be in [1, n-2]"))?
            .into();
        if !k.signing_ok() {
            return Err(Error::InvalidParameter(
                "SM2 private key: d must be in [1, n-2]",
            ));
        }
        Ok(k)
    }

    /// d ≠ n − 1.
    fn signing_ok(&self) -> bool {
        let n = pkey::curve_params(CurveId::Sm2).n;
        let mut n1 = n.clone();
        // n is odd: n − 1 only clears the low bit.
        if let Some(last) = n1.last_mut() {
            *last &= 0xFE;
        }
        self.d[..] != n1[..]
    }

    /// A PKCS#8 `PrivateKeyInfo` DER (unencrypted; id-ecPublicKey with the SM2 curve OID).
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self> {
        let k: Self = sm2::SecretKey::from_pkcs8_der(der)
            .map(Into::into)
            .map_err(bad_key)?;
        Self::from_bytes(&k.d)
    }

    /// A PEM PKCS#8 private key (`-----BEGIN PRIVATE KEY-----`, as `openssl genpkey -algorithm SM2` writes).
    pub fn from_pem(pem: &str) -> Result<Self> {
        let der = pem_der(pem, "PRIVATE KEY").ok_or(Error::InvalidParameter(
            "SM2 private key: no unencrypted PRIVATE KEY PEM block",
        ))?;
        Self::from_pkcs8_der(&der)
    }

    /// PKCS#8 DER (unencrypted).
    pub fn to_pkcs8_der(&self) -> Result<Zeroizing<Vec<u8>>> {
        let k = sm2::SecretKey::try_from(self)?;
        Ok(Zeroizing::new(
            k.to_pkcs8_der().map_err(bad_key)?.as_bytes().to_vec(),
        ))
    }

    /// PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`).
    pub fn to_pkcs8_pem(&self) -> Result<Zeroizing<String>> {
        pem_string("PRIVATE KEY", &self.to_pkcs8_der()?)
    }

    /// The raw scalar d (32 bytes, big-endian).
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        self.d.clone()
    }

    /// The public key d·G.
    pub fn public_key(&self) -> &Sm2PublicKey {
        &self.public
    }
}

/// An SM2 signature (r, s), 32 bytes each, both in [1, n−1].
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Sm2Signature {
    rs: [u8; 64],
}

impl Sm2Signature {
    /// r ‖ s (64 bytes).
    pub fn from_bytes(rs: &[u8]) -> Result<Self> {
        let rs: [u8; 64] = rs.try_into().map_err(|_| Error::InvalidLength {
            alg: "SM2 signature",
            got: rs.len(),
            why: "r || s is 64 bytes",
        })?;
        sm2::dsa::Signature::from_slice(&rs).map_err(bad_signature_encoding)?;
        Ok(Sm2Signature { rs })
    }

    /// r ‖ s.
    pub fn to_bytes(&self) -> &[u8; 64] {
        &self.rs
    }
}

fn sm3(parts: &[&[u8]]) -> [u8; 32] {
    use sm3::Digest;
    let mut h = sm3::Sm3::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// Z_A = SM3(ENTL_A ‖ ID_A ‖ a ‖ b ‖ x_G ‖ y_G ‖ x_A ‖ y_A) (GB/T 32918.2 §5.5); ENTL is the ID's length in bits,
/// two bytes big-endian, so the ID is at most 8191 bytes.
fn sm2_za(id: &[u8], key: &Sm2PublicKey) -> Result<[u8; 32]> {
    let bits = id
        .len()
        .checked_mul(8)
        .and_then(|b| u16::try_from(b).ok())
        .ok_or(Error::InvalidLength {
            alg: "SM2 user ID",
            got: id.len(),
            why: "at most 8191 bytes (ENTL is 16 bits)",
        })?;
    let c = pkey::curve_params(CurveId::Sm2);
    Ok(sm3(&[
        &bits.to_be_bytes(),
        id,
        &c.a,
        &c.b,
        &c.gx,
        &c.gy,
        key.x(),
        key.y(),
    ]))
}

fn sm2_private_block(d: &[u8]) -> Result<Vec<u8>> {
    let c = pkey::curve_params(CurveId::Sm2);
    let params = c.layout();
    layout::ecc_private_block(&params, d, 32).map_err(layout_err)
}

fn sm2_public_block(x: &[u8], y: &[u8]) -> Result<Vec<u8>> {
    let c = pkey::curve_params(CurveId::Sm2);
    let params = c.layout();
    layout::ecc_public_block(&params, x, y, 32).map_err(layout_err)
}

impl Accel {
    /// SM2 signature (GB/T 32918.2) of `msg` for the signer `id` ([`SM2_DEFAULT_ID`] when `None`): e = SM3(Z_A ‖
    /// M) in software, then the HPRE's SM2 sign (alg 0x12) with k from the operating system's RNG. The signature is
    /// verified (on the same path) before it is returned.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), uacce_async::Error> {
    /// use uacce_async::{Accel, Backend, Sm2PrivateKey};
    /// let accel = Accel::builder().backend(Backend::Emulated).build().await?;
    /// let key = Sm2PrivateKey::generate();
    /// let sig = accel.sm2_sign(&key, None, b"message").await?;
    /// accel.sm2_verify(key.public_key(), None, b"message", &sig).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Cancel safety
    ///
    /// As [`Accel::ecdsa_sign`].
    pub async fn sm2_sign(
        &self,
        key: &Sm2PrivateKey,
        id: Option<&[u8]>,
        msg: &[u8],
    ) -> Result<Sm2Signature> {
        let za = sm2_za(id.unwrap_or(SM2_DEFAULT_ID), &key.public)?;
        let e = sm3(&[&za, msg]);
        let k = Zeroizing::new({
            let k = sm2::NonZeroScalar::random(&mut rand_core::OsRng);
            sm2::FieldBytes::from(k).to_vec()
        });
        let input = [&e[..], &k[..]].concat();
        let job = EccJob::soft(HpreAlg::Sm2Sign, 32, sm2_private_block(&key.d)?, input, 64);
        let out = data(self.ecc(job).await?)?;
        let sig = Sm2Signature::from_bytes(&out)
            .map_err(|_| Error::Device("SM2 signature out of range".into()))?;
        match self.sm2_verify_e(&key.public, &e, &sig).await {
            Ok(()) => Ok(sig),
            Err(Error::BadSignature) => Err(Error::Device(
                "the SM2 signature failed its check (fault): not released".into(),
            )),
            Err(e) => Err(e),
        }
    }

    /// Verify an SM2 signature of `msg` for the signer `id` ([`SM2_DEFAULT_ID`] when `None`); a signature that
    /// does not verify is [`Error::BadSignature`].
    ///
    /// # Cancel safety
    ///
    /// As [`Accel::ecdsa_sign`].
    pub async fn sm2_verify(
        &self,
        key: &Sm2PublicKey,
        id: Option<&[u8]>,
        msg: &[u8],
        sig: &Sm2Signature,
    ) -> Result<()> {
        let za = sm2_za(id.unwrap_or(SM2_DEFAULT_ID), key)?;
        self.sm2_verify_e(key, &sm3(&[&za, msg]), sig).await
    }

    async fn sm2_verify_e(&self, key: &Sm2PublicKey, e: &[u8], sig: &Sm2Signature) -> Result<()> {
        // e ‖ s ‖ r (§12.4).
        let input = [e, &sig.rs[32..], &sig.rs[..32]].concat();
        let job = EccJob::soft(
            HpreAlg::Sm2Verify,
            32,
            sm2_public_block(key.x(), key.y())?,
            input,
            0,
        );
        match self.ecc(job).await? {
            EccOut::Verify(true) => Ok(()),
            EccOut::Verify(false) => Err(Error::BadSignature),
            EccOut::Data(_) => Err(Error::Device("data where a verify verdict was due".into())),
        }
    }

    /// SM2 encryption (GB/T 32918.4) of `msg` (1 to [`SM2_MAX_MESSAGE`] bytes) to `key`, k from the operating
    /// system's RNG. Returns the ciphertext in the C1 ‖ C3 ‖ C2 layout: 0x04 ‖ x1 ‖ y1 (65 bytes), C3 (32), C2 (as
    /// long as `msg`).
    ///
    /// Up to 512 bytes it is one HPRE SQE (alg 0x14: C1 = k·G, the KDF with SM3 and C3 on the engine). Longer
    /// messages take UADK's split path (`sm2_enc_send`): two point multiplies on the engine (alg 0x0D with bd_rsv2
    /// and the dw10 marker 0xE, key p ‖ a ‖ k ‖ b ‖ n: k·G and k·P), both results checked to be on the curve, then
    /// the KDF, C2 = M ⊕ t and C3 = SM3(x2 ‖ M ‖ y2) in software.
    ///
    /// # Cancel safety
    ///
    /// As [`Accel::ecdsa_sign`].
    pub async fn sm2_encrypt(&self, key: &Sm2PublicKey, msg: &[u8]) -> Result<Vec<u8>> {
        if !(1..=SM2_MAX_MESSAGE).contains(&msg.len()) {
            return Err(Error::InvalidLength {
                alg: "SM2 encrypt",
                got: msg.len(),
                why: "1 to 1 MiB (SM2_MAX_MESSAGE)",
            });
        }
        if msg.len() > hpre::SM2_MAX_SINGLE_MSG {
            return self.sm2_encrypt_split(key, msg).await;
        }
        let k = Zeroizing::new({
            let k = sm2::NonZeroScalar::random(&mut rand_core::OsRng);
            sm2::FieldBytes::from(k).to_vec()
        });
        let input = [&k[..], msg].concat();
        let m = msg.len();
        let job = EccJob::soft_msg(
            HpreAlg::Sm2Encrypt,
            32,
            sm2_public_block(key.x(), key.y())?,
            input,
            64 + m + 32,
            m,
        );
        let out = data(self.ecc(job).await?)?;
        if out.len() != 64 + m + 32 {
            return Err(Error::Device("SM2 ciphertext of the wrong length".into()));
        }
        // The engine writes C1x ‖ C1y ‖ C2 ‖ C3.
        let (c1, rest) = out.split_at(64);
        let (c2, c3) = rest.split_at(m);
        Ok([&[4u8][..], c1, c3, c2].concat())
    }

    /// One multiply of the split SM2 path (protocol doc §12.4, UADK `sm2_enc_send` / `sm2_dec_send`): alg 0x0D,
    /// bd_rsv2 = 1, dw10 = `mark`, key = p ‖ a ‖ `scalar` ‖ b ‖ n of the SM2 curve, in = (x, y); returns x ‖ y
    /// (64 bytes), checked to be a point on the curve (a fault countermeasure: the result feeds the KDF).
    async fn sm2_split_multiply(
        &self,
        scalar: &[u8],
        x: &[u8],
        y: &[u8],
        mark: u16,
    ) -> Result<Zeroizing<Vec<u8>>> {
        let mut key = sm2_private_block(scalar)?;
        key.truncate(layout::ecc_private::MULTIPLY_FIELDS * 32);
        let mut job = EccJob::soft(HpreAlg::EcdhMultiply, 32, key, [x, y].concat(), 64);
        job.hpcore = true;
        job.split = Some(mark);
        let out = data(self.ecc(job).await?)?;
        if out.len() != 64 {
            return Err(Error::Device(
                "split SM2 multiply: result of the wrong length".into(),
            ));
        }
        let point = Zeroizing::new([&[4u8][..], &out[..]].concat());
        Sm2PublicKey::from_sec1_bytes(&point).map_err(|_| {
            Error::Device("split SM2 multiply: the result is not on the curve (fault)".into())
        })?;
        Ok(out)
    }

    /// SM2 encryption of a message longer than one SQE carries: see [`Accel::sm2_encrypt`].
    async fn sm2_encrypt_split(&self, key: &Sm2PublicKey, msg: &[u8]) -> Result<Vec<u8>> {
        let g = pkey::curve_params(CurveId::Sm2);
        for _ in 0..SM2_SPLIT_ATTEMPTS {
            let k = Zeroizing::new({
                let k = sm2::NonZeroScalar::random(&mut rand_core::OsRng);
                sm2::FieldBytes::from(k).to_vec()
            });
            // The two multiplies are independent: both in flight at once (UADK sends them with one doorbell;
            // here each is its own job, matched to its completion by tag).
            let (c1, x2y2) = tokio::try_join!(
                self.sm2_split_multiply(&k, &g.gx, &g.gy, layout::SPLIT_MARK_ENCRYPT),
                self.sm2_split_multiply(&k, key.x(), key.y(), layout::SPLIT_MARK_ENCRYPT),
            )?;
            let (x2, y2) = x2y2.split_at(32);
            let mut c2 = Zeroizing::new(pkey::sm2_kdf(&x2y2, msg.len()));
            if all_zero(&c2) {
                continue;
            }
            for (t, m) in c2.iter_mut().zip(msg) {
                *t ^= m;
            }
            let c3 = sm3_of(&[x2, msg, y2]);
            return Ok([&[4u8][..], &c1, &c3, &c2].concat());
        }
        Err(Error::Device(
            "SM2 encrypt: the KDF output was all zero for every k drawn".into(),
        ))
    }

    /// SM2 decryption of a C1 ‖ C3 ‖ C2 ciphertext (C1 uncompressed, 0x04 ‖ x1 ‖ y1; C2 of 1 to
    /// [`SM2_MAX_MESSAGE`] bytes) with `key`. Up to 512 bytes of C2 it is one HPRE SQE (alg 0x15); longer ones take
    /// UADK's split path (one multiply d·C1, alg 0x0D with bd_rsv2 and the dw10 marker 0xF; the KDF, M = C2 ⊕ t and
    /// the C3 check in software, C3 compared in constant time). C1 off the curve is [`Error::InvalidParameter`]; a
    /// C3 that does not match (a wrong key or a changed ciphertext) is [`Error::AuthFailed`].
    ///
    /// # Cancel safety
    ///
    /// As [`Accel::ecdsa_sign`].
    pub async fn sm2_decrypt(
        &self,
        key: &Sm2PrivateKey,
        ciphertext: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>> {
        let m = ciphertext.len().saturating_sub(65 + 32);
        if ciphertext.len() < 65 + 32 + 1 || m > SM2_MAX_MESSAGE || ciphertext[0] != 4 {
            return Err(Error::InvalidLength {
                alg: "SM2 decrypt",
                got: ciphertext.len(),
                why: "0x04 || C1 (64) || C3 (32) || C2 (1 byte to 1 MiB)",
            });
        }
        // C1 must be on the curve (GB/T 32918.4 §7.1 B1).
        Sm2PublicKey::from_sec1_bytes(&ciphertext[..65])
            .map_err(|_| Error::InvalidParameter("SM2 decrypt: C1 is not a point on the curve"))?;
        let (c1, rest) = ciphertext[1..].split_at(64);
        let (c3, c2) = rest.split_at(32);
        if m > hpre::SM2_MAX_SINGLE_MSG {
            let (c1x, c1y) = c1.split_at(32);
            let x2y2 = self
                .sm2_split_multiply(&key.d, c1x, c1y, layout::SPLIT_MARK_DECRYPT)
                .await?;
            let (x2, y2) = x2y2.split_at(32);
            let mut out = Zeroizing::new(pkey::sm2_kdf(&x2y2, m));
            if all_zero(&out) {
                return Err(Error::AuthFailed);
            }
            for (t, c) in out.iter_mut().zip(c2) {
                *t ^= c;
            }
            let u = sm3_of(&[x2, &out, y2]);
            use subtle::ConstantTimeEq;
            if !bool::from(u.ct_eq(c3)) {
                return Err(Error::AuthFailed);
            }
            return Ok(out);
        }
        let input = [c1, c2, c3].concat();
        let job = EccJob::soft_msg(
            HpreAlg::Sm2Decrypt,
            32,
            sm2_private_block(&key.d)?,
            input,
            m,
            m,
        );
        let out = data(self.ecc(job).await?)?;
        if out.len() != m {
            return Err(Error::Device("SM2 plaintext of the wrong length".into()));
        }
        Ok(out)
    }

    /// SM2 key generation on the device (alg 0x11: the engine draws d and computes d·G); on the CPU, the same
    /// from the operating system's RNG. The result is checked (d in range, d·G equal to the public key the
    /// engine returned) before it is returned.
    ///
    /// # Cancel safety
    ///
    /// As [`Accel::ecdsa_sign`].
    pub async fn sm2_generate(&self) -> Result<Sm2PrivateKey> {
        let c = pkey::curve_params(CurveId::Sm2);
        let zero = [0u8; 32];
        let key = sm2_public_block(&zero, &zero)?;
        let input = [&c.gx[..], &c.gy[..]].concat();
        let out = data(
            self.ecc(EccJob::soft(HpreAlg::Sm2Keygen, 32, key, input, 96))
                .await?,
        )?;
        if out.len() != 96 {
            return Err(Error::Device("SM2 key pair of the wrong length".into()));
        }
        let k = Sm2PrivateKey::from_bytes(&out[64..])
            .map_err(|_| Error::Device("SM2 keygen: d out of range".into()))?;
        if k.public.x() != &out[..32] || k.public.y() != &out[32..64] {
            return Err(Error::Device(
                "SM2 keygen: the public key is not d·G (fault)".into(),
            ));
        }
        Ok(k)
    }
}
