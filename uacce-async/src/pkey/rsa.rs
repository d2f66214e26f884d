//! RSA on the HPRE engine: keys ([`RsaPrivateKey`], [`RsaPublicKey`]; PKCS#1 and PKCS#8, DER and PEM) and the
//! operations on them — PKCS#1 v1.5 and PSS signatures, OAEP encryption (RFC 8017).
//!
//! **Where the work happens.** Hashing and the encodings (EMSA-PKCS1-v1_5, EMSA-PSS, EME-OAEP) are done in
//! software; the modular exponentiation is one HPRE job: a private operation in CRT form (key block dq ‖ dp ‖ q ‖ p
//! ‖ qinv, algorithm `RsaCrt`, as UADK's `wd_rsa` CRT mode sends it), a public one as `RsaNonCrt` with e ‖ n.
//! Every private-key result coming back from the device is checked by raising it to the public exponent and
//! comparing with the input (a countermeasure against faults, which with CRT would give the key away), as
//! [`RsaFaultCheck`] says: by default on the device itself, as the job's second HPRE request (`RsaNonCrt` on the
//! result); with [`RsaFaultCheck::Cpu`] in software. A mismatch is [`Error::Device`], the signature or plaintext
//! is never released, and the job is redone on the CPU backend when the routing's CPU backup is on.
//!
//! **CPU backend.** aws-lc-rs (constant time) does the whole operation where it covers it: keys of 2048 bits and
//! more, PSS with the salt as long as the hash, OAEP with SHA-1/SHA-256/384/512, PKCS#1 v1.5 verification also for
//! 1024-bit keys with SHA-256/512. What it does not cover (1024-bit private keys, other PSS salt lengths, the
//! known-answer entry points) runs the same software encoding with the exponentiation of `uacce_soft::pkey`
//! (crypto-bigint, constant time), the engine the emulated device uses.
//!
//! **Errors.** A malformed or inconsistent key is [`Error::InvalidKey`]; a signature that does not verify is
//! [`Error::BadSignature`]; every OAEP decoding failure is the one [`Error::DecryptionFailed`]; a message too long
//! for the key, or a signature or ciphertext of the wrong length, is [`Error::InvalidLength`]; a signature or
//! ciphertext not below the modulus is [`Error::BadSignature`] / [`Error::DecryptionFailed`].

use std::fmt;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use rsa::BigUint;
use rsa::pkcs1::der::{Decode, Encode, asn1::UintRef};
use rsa::pkcs1::{self, LineEnding};
use rsa::pkcs8::{self, DecodePublicKey, EncodePublicKey};
use sha2::Digest;
use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};
use uacce_soft::pkey::{self as soft, PkeyOutput};
use uacce_sys::qm::hpre::{self, HpreAlg, HpreOutcome, HpreRequest, layout};
use uacce_sys::qm::{QmVersion, Sqe};
use zeroize::{Zeroize, Zeroizing};

use crate::accel::Accel;
use crate::error::{Error, Result};
use crate::job::{Job, Step, addr};
use crate::lane::{Buffers, Class, JobOutput, Scratch};
use crate::stats::{Family, OutputLen};

/// The hash of an RSA signature scheme or of OAEP (and its MGF1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RsaHash {
    /// SHA-1: for OAEP only (interoperability); signatures refuse it.
    Sha1,
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl RsaHash {
    /// The digest length in bytes.
    pub fn output_len(self) -> usize {
        match self {
            RsaHash::Sha1 => 20,
            RsaHash::Sha256 => 32,
            RsaHash::Sha384 => 48,
            RsaHash::Sha512 => 64,
        }
    }

    /// The hash of the concatenation of `parts`.
    fn hash(self, parts: &[&[u8]]) -> Vec<u8> {
        fn run<D: Digest>(parts: &[&[u8]]) -> Vec<u8> {
            let mut h = D::new();
            for p in parts {
                h.update(p);
            }
            h.finalize().to_vec()
        }
        match self {
            RsaHash::Sha1 => run::<sha1::Sha1>(parts),
            RsaHash::Sha256 => run::<sha2::Sha256>(parts),
            RsaHash::Sha384 => run::<sha2::Sha384>(parts),
            RsaHash::Sha512 => run::<sha2::Sha512>(parts),
        }
    }

    /// The DER of DigestInfo up to the digest itself (RFC 8017 §9.2, note 1).
    fn digest_info_prefix(self) -> Result<&'static [u8]> {
        Ok(match self {
            RsaHash::Sha256 => &[
                0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x01, 0x05, 0x00, 0x04, 0x20,
            ],
            RsaHash::Sha384 => &[
                0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x02, 0x05, 0x00, 0x04, 0x30,
            ],
            RsaHash::Sha512 => &[
                0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x03, 0x05, 0x00, 0x04, 0x40,
            ],
            RsaHash::Sha1 => return Err(sha1_signature()),
        })
    }
}

fn sha1_signature() -> Error {
    Error::Unsupported("RSA signatures with SHA-1 (use SHA-256, SHA-384 or SHA-512)")
}

/// MGF1 (RFC 8017 B.2.1): `out` ^= MGF1(seed, out.len()).
fn mgf1_xor(hash: RsaHash, seed: &[u8], out: &mut [u8]) {
    for (counter, chunk) in out.chunks_mut(hash.output_len()).enumerate() {
        // `out` is at most 512 bytes: the counter fits in 32 bits.
        let c = (counter as u32).to_be_bytes();
        let mut t = Zeroizing::new(hash.hash(&[seed, &c]));
        for (o, m) in chunk.iter_mut().zip(t.iter()) {
            *o ^= *m;
        }
        t.zeroize();
    }
}

fn random(buf: &mut [u8]) -> Result<()> {
    getrandom::fill(buf).map_err(|e| Error::Random(e.to_string()))
}

fn key_err(why: &'static str) -> Error {
    Error::InvalidKey(why)
}

/// `v` without leading zero bytes.
fn significant(v: &[u8]) -> &[u8] {
    let first = v.iter().position(|&b| b != 0).unwrap_or(v.len());
    &v[first..]
}

// ---------------------------------------------------------------------------------------------------------------
// Keys
// ---------------------------------------------------------------------------------------------------------------

struct PublicInner {
    /// Modulus and public exponent, big-endian without leading zeros.
    n: Vec<u8>,
    e: Vec<u8>,
    /// Modulus size in bytes (the HPRE width) and in bits.
    k: usize,
    bits: usize,
    n_big: BigUint,
    e_big: BigUint,
    /// The HPRE key block of the public operation: e ‖ n, k bytes each.
    block: Arc<Vec<u8>>,
    /// aws-lc-rs's parsed copies of the key for signature verification, one per (hash, padding): SHA-256, SHA-384,
    /// SHA-512 × PKCS#1 v1.5, PSS. Parsed on first use (`None` where aws-lc-rs takes no such key: see
    /// [`aws_verify_alg`]); they keep aws-lc's Montgomery context of n, so a verify pays only the exponentiation.
    verifiers: [OnceLock<Option<aws_lc_rs::signature::ParsedPublicKey>>; 6],
}

/// An RSA public key: modulus n of 1024, 2048, 3072 or 4096 bits (128, 256, 384 or 512 bytes: the sizes the HPRE
/// takes) and an odd public exponent 3 ≤ e < 2³³. Cheap to clone.
///
/// Import from PKCS#1 (`RSAPublicKey`) or X.509 SubjectPublicKeyInfo, DER or PEM, or from a RustCrypto
/// [`rsa::RsaPublicKey`]; export to the same.
#[derive(Clone)]
pub struct RsaPublicKey(Arc<PublicInner>);

impl fmt::Debug for RsaPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RsaPublicKey")
            .field("bits", &self.0.bits)
            .field("e", &self.0.e_big)
            .finish()
    }
}

impl PartialEq for RsaPublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.0.n == other.0.n && self.0.e == other.0.e
    }
}
impl Eq for RsaPublicKey {}

impl RsaPublicKey {
    /// The key from its modulus `n` and public exponent `e` (big-endian, leading zeros allowed), checked: n odd and
    /// of an HPRE size, e odd, 3 ≤ e < 2³³ and e < n. Otherwise [`Error::InvalidKey`].
    pub fn from_components(n: &[u8], e: &[u8]) -> Result<Self> {
        let (n, e) = (significant(n), significant(e));
        let k = n.len();
        if !layout::RSA_KEY_BYTES.contains(&k) {
            return Err(key_err("the modulus must be 1024, 2048, 3072 or 4096 bits"));
        }
        if n[k - 1] & 1 == 0 {
            return Err(key_err("the modulus is even"));
        }
        if e.is_empty() || e.len() > 5 || (e.len() == 5 && e[0] > 1) {
            return Err(key_err("the public exponent must be below 2^33"));
        }
        if e[e.len() - 1] & 1 == 0 || (e.len() == 1 && e[0] < 3) {
            return Err(key_err("the public exponent must be odd and at least 3"));
        }
        let block = layout::rsa_key_block(e, n, k)
            .map_err(|_| key_err("the public exponent is not below n"))?;
        let bits = 8 * k - n[0].leading_zeros() as usize;
        Ok(RsaPublicKey(Arc::new(PublicInner {
            n: n.to_vec(),
            e: e.to_vec(),
            k,
            bits,
            n_big: BigUint::from_bytes_be(n),
            e_big: BigUint::from_bytes_be(e),
            block: Arc::new(block),
            verifiers: Default::default(),
        })))
    }

    /// The modulus n, big-endian without leading zeros.
    pub fn modulus(&self) -> &[u8] {
        &self.0.n
    }

    /// The public exponent e, big-endian without leading zeros.
    pub fn exponent(&self) -> &[u8] {
        &self.0.e
    }

    /// The modulus size in bytes: the length of every signature and ciphertext of the key.
    pub fn size(&self) -> usize {
        self.0.k
    }

    /// The modulus size in bits.
    pub fn bits(&self) -> usize {
        self.0.bits
    }

    /// Parse PKCS#1 `RSAPublicKey` DER.
    pub fn from_pkcs1_der(der: &[u8]) -> Result<Self> {
        let k =
            pkcs1::RsaPublicKey::from_der(der).map_err(|_| key_err("not a PKCS#1 RSAPublicKey"))?;
        Self::from_components(k.modulus.as_bytes(), k.public_exponent.as_bytes())
    }

    /// Parse X.509 SubjectPublicKeyInfo DER (algorithm rsaEncryption).
    pub fn from_public_key_der(der: &[u8]) -> Result<Self> {
        let k = rsa::RsaPublicKey::from_public_key_der(der)
            .map_err(|_| key_err("not an RSA SubjectPublicKeyInfo"))?;
        Self::try_from(&k)
    }

    /// Parse PEM: `RSA PUBLIC KEY` (PKCS#1) or `PUBLIC KEY` (SubjectPublicKeyInfo), as `openssl` writes them.
    pub fn from_pem(pem: &str) -> Result<Self> {
        let (label, der) = pkcs1::der::pem::decode_vec(pem.as_bytes())
            .map_err(|_| key_err("not a PEM document"))?;
        match label {
            "RSA PUBLIC KEY" => Self::from_pkcs1_der(&der),
            "PUBLIC KEY" => Self::from_public_key_der(&der),
            _ => Err(key_err(
                "PEM label is neither RSA PUBLIC KEY nor PUBLIC KEY",
            )),
        }
    }

    fn pkcs1(&self) -> Result<pkcs1::RsaPublicKey<'_>> {
        Ok(pkcs1::RsaPublicKey {
            modulus: UintRef::new(&self.0.n).map_err(|_| key_err("modulus"))?,
            public_exponent: UintRef::new(&self.0.e).map_err(|_| key_err("exponent"))?,
        })
    }

    /// PKCS#1 `RSAPublicKey` DER.
    pub fn to_pkcs1_der(&self) -> Result<Vec<u8>> {
        self.pkcs1()?
            .to_der()
            .map_err(|_| Error::InvalidParameter("cannot encode the public key"))
    }

    /// X.509 SubjectPublicKeyInfo DER.
    pub fn to_public_key_der(&self) -> Result<Vec<u8>> {
        let k = rsa::RsaPublicKey::try_from(self)?;
        Ok(k.to_public_key_der()
            .map_err(|_| Error::InvalidParameter("cannot encode the public key"))?
            .into_vec())
    }

    /// PKCS#1 PEM (`RSA PUBLIC KEY`).
    pub fn to_pkcs1_pem(&self) -> Result<String> {
        pem(pkcs1_label::PUBLIC, &self.to_pkcs1_der()?)
    }

    /// SubjectPublicKeyInfo PEM (`PUBLIC KEY`).
    pub fn to_public_key_pem(&self) -> Result<String> {
        pem("PUBLIC KEY", &self.to_public_key_der()?)
    }

    /// `x^e mod n` for `x` < n, as k big-endian bytes (variable time: only for public data or the fault check,
    /// as OpenSSL and aws-lc do theirs).
    fn public_op(&self, x: &[u8]) -> Zeroizing<Vec<u8>> {
        let mut xb = BigUint::from_bytes_be(x);
        let mut y = xb.modpow(&self.0.e_big, &self.0.n_big);
        let mut out = Zeroizing::new(vec![0u8; self.0.k]);
        let bytes = Zeroizing::new(y.to_bytes_be());
        out[self.0.k - bytes.len()..].copy_from_slice(&bytes);
        xb.zeroize();
        y.zeroize();
        out
    }

    /// Whether `x` (k bytes, big-endian) is below n (n has no leading zero byte: it is k bytes long).
    fn below_n(&self, x: &[u8]) -> bool {
        x.len() == self.0.k && x < &self.0.n[..]
    }

    /// aws-lc-rs's verifier of this key for `hash` and PKCS#1 v1.5 (`pss` false) or PSS with the salt as long as
    /// the hash; `None` where aws-lc-rs has no such algorithm for the key's size (see [`aws_verify_alg`]).
    fn verifier(&self, hash: RsaHash, pss: bool) -> Option<&aws_lc_rs::signature::ParsedPublicKey> {
        let h = match hash {
            RsaHash::Sha256 => 0,
            RsaHash::Sha384 => 1,
            RsaHash::Sha512 => 2,
            RsaHash::Sha1 => return None,
        };
        self.0.verifiers[h * 2 + usize::from(pss)]
            .get_or_init(|| {
                let alg = aws_verify_alg(hash, pss, self.0.bits)?;
                let der = self.to_pkcs1_der().ok()?;
                aws_lc_rs::signature::ParsedPublicKey::new(alg, der).ok()
            })
            .as_ref()
    }
}

mod pkcs1_label {
    pub const PUBLIC: &str = "RSA PUBLIC KEY";
    pub const PRIVATE: &str = "RSA PRIVATE KEY";
}

fn pem(label: &str, der: &[u8]) -> Result<String> {
    pkcs1::der::pem::encode_string(label, LineEnding::LF, der)
        .map_err(|_| Error::InvalidParameter("cannot encode PEM"))
}

impl TryFrom<&rsa::RsaPublicKey> for RsaPublicKey {
    type Error = Error;
    /// Checked as [`RsaPublicKey::from_components`].
    fn try_from(k: &rsa::RsaPublicKey) -> Result<Self> {
        use rsa::traits::PublicKeyParts;
        Self::from_components(&k.n().to_bytes_be(), &k.e().to_bytes_be())
    }
}

impl TryFrom<&RsaPublicKey> for rsa::RsaPublicKey {
    type Error = Error;
    fn try_from(k: &RsaPublicKey) -> Result<Self> {
        rsa::RsaPublicKey::new(k.0.n_big.clone(), k.0.e_big.clone())
            .map_err(|_| key_err("the rsa crate refuses the public key"))
    }
}

struct PrivateInner {
    public: RsaPublicKey,
    d: Zeroizing<Vec<u8>>,
    p: Zeroizing<Vec<u8>>,
    q: Zeroizing<Vec<u8>>,
    dp: Zeroizing<Vec<u8>>,
    dq: Zeroizing<Vec<u8>>,
    qinv: Zeroizing<Vec<u8>>,
    /// The HPRE key block of the CRT operation: dq ‖ dp ‖ q ‖ p ‖ qinv, k/2 bytes each.
    crt_block: Arc<Zeroizing<Vec<u8>>>,
    /// aws-lc-rs's copies for the CPU backend (keys of 2048 bits and more: aws-lc-rs takes no smaller ones).
    aws_sign: Option<aws_lc_rs::rsa::KeyPair>,
    aws_oaep: Option<aws_lc_rs::rsa::OaepPrivateDecryptingKey>,
}

/// An RSA private key with its CRT parameters, for the HPRE's CRT mode: two primes p, q of at most half the
/// modulus size each, the modulus of an HPRE size (1024, 2048, 3072 or 4096 bits). Opaque: the secret numbers are
/// zeroized on drop (aws-lc frees its copies with a wipe too) and never printed. Cheap to clone (shared).
///
/// Import from PKCS#1 (`RSAPrivateKey`) or PKCS#8 (`PrivateKeyInfo`), DER or PEM, or a RustCrypto
/// [`rsa::RsaPrivateKey`] (only parsed and converted: the `rsa` crate's private-key operations, subject to
/// RUSTSEC-2023-0071, are never used). Every import checks the key: n = p·q, n odd, e as for [`RsaPublicKey`],
/// d·e ≡ 1 modulo p−1 and q−1, dp = d mod (p−1), dq = d mod (q−1), qinv·q ≡ 1 mod p with qinv < p; a multi-prime
/// key, or one failing a check, is [`Error::InvalidKey`].
#[derive(Clone)]
pub struct RsaPrivateKey(Arc<PrivateInner>);

impl fmt::Debug for RsaPrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RsaPrivateKey")
            .field("bits", &self.0.public.bits())
            .finish_non_exhaustive()
    }
}

/// Big-endian bytes as a BigUint that is wiped on drop.
fn big(v: &[u8]) -> Zeroizing<BigUint> {
    Zeroizing::new(BigUint::from_bytes_be(v))
}

impl RsaPrivateKey {
    /// The key from its components (big-endian): n, e, d, the primes p and q, and the CRT parameters dp, dq and
    /// qinv; all checked (see the type's documentation).
    #[allow(clippy::too_many_arguments)]
    pub fn from_components(
        n: &[u8],
        e: &[u8],
        d: &[u8],
        p: &[u8],
        q: &[u8],
        dp: &[u8],
        dq: &[u8],
        qinv: &[u8],
    ) -> Result<Self> {
        let public = RsaPublicKey::from_components(n, e)?;
        let k = public.size();
        let (d, p, q, dp, dq, qinv) = (
            significant(d),
            significant(p),
            significant(q),
            significant(dp),
            significant(dq),
            significant(qinv),
        );
        if p.len() > k / 2 || q.len() > k / 2 {
            return Err(key_err(
                "a prime is longer than half the modulus (the HPRE's CRT mode needs k/2)",
            ));
        }
        if d.is_empty() || d.len() > k {
            return Err(key_err("private exponent out of range"));
        }
        // Checks (variable-time BigUint arithmetic, once per import, as OpenSSL's RSA_check_key; every
        // intermediate is wiped).
        let (bn, be) = (&public.0.n_big, &public.0.e_big);
        let (bd, bp, bq) = (big(d), big(p), big(q));
        let (bdp, bdq, bqinv) = (big(dp), big(dq), big(qinv));
        let one = BigUint::from(1u8);
        if *bp <= one || *bq <= one || *bp == *bq {
            return Err(key_err("bad primes"));
        }
        if *Zeroizing::new(&*bp * &*bq) != *bn {
            return Err(key_err("n is not p·q"));
        }
        if *bd >= *bn {
            return Err(key_err("d is not below n"));
        }
        let p1 = Zeroizing::new(&*bp - &one);
        let q1 = Zeroizing::new(&*bq - &one);
        if *Zeroizing::new(&*bd % &*p1) != *bdp || *Zeroizing::new(&*bd % &*q1) != *bdq {
            return Err(key_err("dp or dq is not d mod (p-1) / (q-1)"));
        }
        if *Zeroizing::new((&*bdp * be) % &*p1) != one
            || *Zeroizing::new((&*bdq * be) % &*q1) != one
        {
            return Err(key_err("d is not the inverse of e"));
        }
        if *bqinv >= *bp || *Zeroizing::new((&*bqinv * &*bq) % &*bp) != one {
            return Err(key_err("qinv is not q^-1 mod p"));
        }
        let crt_block = layout::rsa_crt_block(dq, dp, q, p, qinv, k)
            .map_err(|_| key_err("a CRT parameter is longer than half the modulus"))?;
        let mut this = PrivateInner {
            public,
            d: Zeroizing::new(d.to_vec()),
            p: Zeroizing::new(p.to_vec()),
            q: Zeroizing::new(q.to_vec()),
            dp: Zeroizing::new(dp.to_vec()),
            dq: Zeroizing::new(dq.to_vec()),
            qinv: Zeroizing::new(qinv.to_vec()),
            crt_block: Arc::new(Zeroizing::new(crt_block)),
            aws_sign: None,
            aws_oaep: None,
        };
        if k >= 256 {
            let pkcs1 = this.pkcs1_der()?;
            let pkcs8 = pkcs8_of(&pkcs1)?;
            this.aws_sign = Some(
                aws_lc_rs::rsa::KeyPair::from_der(&pkcs1)
                    .map_err(|_| key_err("aws-lc refuses the key"))?,
            );
            let dec = aws_lc_rs::rsa::PrivateDecryptingKey::from_pkcs8(&pkcs8)
                .map_err(|_| key_err("aws-lc refuses the key"))?;
            this.aws_oaep = Some(
                aws_lc_rs::rsa::OaepPrivateDecryptingKey::new(dec)
                    .map_err(|_| key_err("aws-lc refuses the key"))?,
            );
        }
        Ok(RsaPrivateKey(Arc::new(this)))
    }

    /// The public half.
    pub fn public_key(&self) -> RsaPublicKey {
        self.0.public.clone()
    }

    /// The modulus size in bytes (the signature length).
    pub fn size(&self) -> usize {
        self.0.public.size()
    }

    /// The modulus size in bits.
    pub fn bits(&self) -> usize {
        self.0.public.bits()
    }

    /// Parse PKCS#1 `RSAPrivateKey` DER (two-prime only).
    pub fn from_pkcs1_der(der: &[u8]) -> Result<Self> {
        let k = pkcs1::RsaPrivateKey::from_der(der)
            .map_err(|_| key_err("not a PKCS#1 RSAPrivateKey"))?;
        if k.other_prime_infos.is_some() {
            return Err(key_err("multi-prime keys are not supported"));
        }
        Self::from_components(
            k.modulus.as_bytes(),
            k.public_exponent.as_bytes(),
            k.private_exponent.as_bytes(),
            k.prime1.as_bytes(),
            k.prime2.as_bytes(),
            k.exponent1.as_bytes(),
            k.exponent2.as_bytes(),
            k.coefficient.as_bytes(),
        )
    }

    /// Parse PKCS#8 `PrivateKeyInfo` DER (unencrypted; algorithm rsaEncryption).
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self> {
        let info = pkcs8::PrivateKeyInfo::try_from(der)
            .map_err(|_| key_err("not a PKCS#8 PrivateKeyInfo"))?;
        if info.algorithm.oid != pkcs1::ALGORITHM_OID {
            return Err(key_err(
                "PKCS#8 key of another algorithm than rsaEncryption",
            ));
        }
        Self::from_pkcs1_der(info.private_key)
    }

    /// Parse PEM: `RSA PRIVATE KEY` (PKCS#1) or `PRIVATE KEY` (PKCS#8), as `openssl genpkey`/`genrsa` write them.
    /// Encrypted PEM is refused.
    pub fn from_pem(pem: &str) -> Result<Self> {
        let (label, der) = pkcs1::der::pem::decode_vec(pem.as_bytes())
            .map_err(|_| key_err("not a PEM document"))?;
        let der = Zeroizing::new(der);
        match label {
            pkcs1_label::PRIVATE => Self::from_pkcs1_der(&der),
            "PRIVATE KEY" => Self::from_pkcs8_der(&der),
            _ => Err(key_err(
                "PEM label is neither RSA PRIVATE KEY nor PRIVATE KEY",
            )),
        }
    }

    /// PKCS#1 `RSAPrivateKey` DER.
    pub fn to_pkcs1_der(&self) -> Result<Zeroizing<Vec<u8>>> {
        self.0.pkcs1_der()
    }

    /// PKCS#8 `PrivateKeyInfo` DER.
    pub fn to_pkcs8_der(&self) -> Result<Zeroizing<Vec<u8>>> {
        pkcs8_of(&self.to_pkcs1_der()?)
    }

    /// PKCS#1 PEM (`RSA PRIVATE KEY`).
    pub fn to_pkcs1_pem(&self) -> Result<Zeroizing<String>> {
        pem(pkcs1_label::PRIVATE, &self.to_pkcs1_der()?).map(Zeroizing::new)
    }

    /// PKCS#8 PEM (`PRIVATE KEY`).
    pub fn to_pkcs8_pem(&self) -> Result<Zeroizing<String>> {
        pem("PRIVATE KEY", &self.to_pkcs8_der()?).map(Zeroizing::new)
    }
}

fn pkcs8_of(pkcs1_der: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    pkcs8::PrivateKeyInfo::new(pkcs1::ALGORITHM_ID, pkcs1_der)
        .to_der()
        .map(Zeroizing::new)
        .map_err(|_| Error::InvalidParameter("cannot encode the private key"))
}

impl PrivateInner {
    fn pkcs1_der(&self) -> Result<Zeroizing<Vec<u8>>> {
        let s = self;
        fn u(v: &[u8]) -> Result<UintRef<'_>> {
            UintRef::new(v).map_err(|_| key_err("component"))
        }
        let k = pkcs1::RsaPrivateKey {
            modulus: u(&s.public.0.n)?,
            public_exponent: u(&s.public.0.e)?,
            private_exponent: u(&s.d)?,
            prime1: u(&s.p)?,
            prime2: u(&s.q)?,
            exponent1: u(&s.dp)?,
            exponent2: u(&s.dq)?,
            coefficient: u(&s.qinv)?,
            other_prime_infos: None,
        };
        k.to_der()
            .map(Zeroizing::new)
            .map_err(|_| Error::InvalidParameter("cannot encode the private key"))
    }
}

impl TryFrom<&rsa::RsaPrivateKey> for RsaPrivateKey {
    type Error = Error;
    /// Only the key's numbers are read (the CRT parameters are recomputed by `rsa` if it has none); checked as
    /// [`RsaPrivateKey::from_components`]. Multi-prime keys are refused.
    fn try_from(k: &rsa::RsaPrivateKey) -> Result<Self> {
        use rsa::traits::{PrivateKeyParts, PublicKeyParts};
        let primes = k.primes();
        if primes.len() != 2 {
            return Err(key_err("multi-prime keys are not supported"));
        }
        let (p, q) = (&primes[0], &primes[1]);
        let one = BigUint::from(1u8);
        let d = k.d();
        let dp = Zeroizing::new(d % (p - &one));
        let dq = Zeroizing::new(d % (q - &one));
        let qinv = k
            .crt_coefficient()
            .map(Zeroizing::new)
            .ok_or(key_err("no CRT coefficient (q not invertible mod p)"))?;
        let b = |v: &BigUint| Zeroizing::new(v.to_bytes_be());
        Self::from_components(
            &k.n().to_bytes_be(),
            &k.e().to_bytes_be(),
            &b(d),
            &b(p),
            &b(q),
            &b(&dp),
            &b(&dq),
            &b(&qinv),
        )
    }
}

impl TryFrom<&RsaPrivateKey> for rsa::RsaPrivateKey {
    type Error = Error;
    fn try_from(k: &RsaPrivateKey) -> Result<Self> {
        let s = &k.0;
        rsa::RsaPrivateKey::from_components(
            s.public.0.n_big.clone(),
            s.public.0.e_big.clone(),
            BigUint::from_bytes_be(&s.d),
            vec![BigUint::from_bytes_be(&s.p), BigUint::from_bytes_be(&s.q)],
        )
        .map_err(|_| key_err("the rsa crate refuses the private key"))
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Encodings (RFC 8017)
// ---------------------------------------------------------------------------------------------------------------

/// EMSA-PKCS1-v1_5 (RFC 8017 §9.2) of `digest` for a k-byte modulus.
fn emsa_pkcs1v15(hash: RsaHash, digest: &[u8], k: usize) -> Result<Vec<u8>> {
    let prefix = hash.digest_info_prefix()?;
    let t_len = prefix.len() + digest.len();
    // At least 8 bytes of 0xFF (every HPRE size leaves room for SHA-512).
    if k < t_len + 11 {
        return Err(Error::InvalidParameter(
            "the key is too short for this hash",
        ));
    }
    let mut em = vec![0xFFu8; k];
    em[0] = 0;
    em[1] = 1;
    em[k - t_len - 1] = 0;
    em[k - t_len..k - digest.len()].copy_from_slice(prefix);
    em[k - digest.len()..].copy_from_slice(digest);
    Ok(em)
}

/// EMSA-PSS-ENCODE (RFC 8017 §9.1.1) of `m_hash` with `salt`, for a modulus of `mod_bits`: the encoded message
/// left-padded to k bytes.
fn emsa_pss_encode(
    hash: RsaHash,
    m_hash: &[u8],
    salt: &[u8],
    mod_bits: usize,
    k: usize,
) -> Result<Vec<u8>> {
    let h_len = hash.output_len();
    let em_bits = mod_bits - 1;
    let em_len = em_bits.div_ceil(8);
    if em_len < h_len + salt.len() + 2 {
        return Err(Error::InvalidParameter(
            "PSS salt too long for the key and hash",
        ));
    }
    let h = hash.hash(&[&[0u8; 8], m_hash, salt]);
    let mut out = vec![0u8; k];
    let em = &mut out[k - em_len..];
    let db_len = em_len - h_len - 1;
    {
        let db = &mut em[..db_len];
        db[db_len - salt.len() - 1] = 1;
        db[db_len - salt.len()..].copy_from_slice(salt);
        mgf1_xor(hash, &h, db);
        db[0] &= 0xFF >> (8 * em_len - em_bits);
    }
    em[db_len..em_len - 1].copy_from_slice(&h);
    em[em_len - 1] = 0xBC;
    Ok(out)
}

/// EMSA-PSS-VERIFY (RFC 8017 §9.1.2) of `m` (k bytes, the public operation's result); `salt_len` as signed.
fn emsa_pss_verify(
    hash: RsaHash,
    m_hash: &[u8],
    m: &[u8],
    salt_len: usize,
    mod_bits: usize,
) -> Result<()> {
    let bad = || Error::BadSignature;
    let h_len = hash.output_len();
    let em_bits = mod_bits - 1;
    let em_len = em_bits.div_ceil(8);
    let k = m.len();
    if em_len < h_len + salt_len + 2 || k < em_len || m[..k - em_len].iter().any(|&b| b != 0) {
        return Err(bad());
    }
    let em = &m[k - em_len..];
    if em[em_len - 1] != 0xBC {
        return Err(bad());
    }
    let db_len = em_len - h_len - 1;
    let h = &em[db_len..em_len - 1];
    let top_mask = !(0xFFu8 >> (8 * em_len - em_bits));
    if em[0] & top_mask != 0 {
        return Err(bad());
    }
    let mut db = em[..db_len].to_vec();
    mgf1_xor(hash, h, &mut db);
    db[0] &= 0xFF >> (8 * em_len - em_bits);
    let ps_len = db_len - salt_len - 1;
    if db[..ps_len].iter().any(|&b| b != 0) || db[ps_len] != 1 {
        return Err(bad());
    }
    let salt = &db[db_len - salt_len..];
    let h2 = hash.hash(&[&[0u8; 8], m_hash, salt]);
    if bool::from(h2.ct_eq(h)) {
        Ok(())
    } else {
        Err(bad())
    }
}

/// EME-OAEP encoding (RFC 8017 §7.1.1 step 2) of `msg` with `label` and `seed` (h_len bytes) for a k-byte modulus.
fn eme_oaep_encode(
    hash: RsaHash,
    label: &[u8],
    msg: &[u8],
    seed: &[u8],
    k: usize,
) -> Result<Zeroizing<Vec<u8>>> {
    let h_len = hash.output_len();
    if k < 2 * h_len + 2 || msg.len() > k - 2 * h_len - 2 {
        return Err(Error::InvalidLength {
            alg: "RSA-OAEP",
            got: msg.len(),
            why: "message longer than the key size minus 2·hash length minus 2",
        });
    }
    let mut em = Zeroizing::new(vec![0u8; k]);
    let (seed_part, db) = em[1..].split_at_mut(h_len);
    db[..h_len].copy_from_slice(&hash.hash(&[label]));
    let db_len = db.len();
    db[db_len - msg.len() - 1] = 1;
    db[db_len - msg.len()..].copy_from_slice(msg);
    seed_part.copy_from_slice(seed);
    mgf1_xor(hash, seed, db);
    mgf1_xor(hash, db, seed_part);
    Ok(em)
}

/// EME-OAEP decoding (RFC 8017 §7.1.2 step 3), in constant time up to the message length; every failure is the
/// same [`Error::DecryptionFailed`].
fn eme_oaep_decode(hash: RsaHash, label: &[u8], em: &mut [u8]) -> Result<Vec<u8>> {
    let h_len = hash.output_len();
    let k = em.len();
    if k < 2 * h_len + 2 {
        return Err(Error::DecryptionFailed);
    }
    let l_hash = hash.hash(&[label]);
    let first_zero = em[0].ct_eq(&0);
    let (seed, db) = em[1..].split_at_mut(h_len);
    mgf1_xor(hash, db, seed);
    mgf1_xor(hash, seed, db);
    let hash_ok = db[..h_len].ct_eq(&l_hash);
    // Find the 0x01 after the zero padding without branching on secret bytes.
    let mut searching = Choice::from(1u8);
    let mut bad_pad = Choice::from(0u8);
    let mut index = 0u32;
    for (i, &b) in db[h_len..].iter().enumerate() {
        let is_one = b.ct_eq(&1);
        let is_zero = b.ct_eq(&0);
        // `db` is at most 512 bytes.
        index.conditional_assign(&(i as u32), searching & is_one);
        bad_pad |= searching & !is_one & !is_zero;
        searching &= !is_one;
    }
    let ok = first_zero & hash_ok & !bad_pad & !searching;
    if bool::from(ok) {
        Ok(db[h_len + index as usize + 1..].to_vec())
    } else {
        Err(Error::DecryptionFailed)
    }
}

// ---------------------------------------------------------------------------------------------------------------
// The job
// ---------------------------------------------------------------------------------------------------------------

/// What the CPU backend does for the whole operation (aws-lc-rs where it covers it).
enum CpuPlan {
    SignPkcs1 {
        hash: RsaHash,
        msg: Bytes,
    },
    SignPss {
        hash: RsaHash,
        msg: Bytes,
    },
    VerifyPkcs1 {
        hash: RsaHash,
        msg: Bytes,
    },
    VerifyPss {
        hash: RsaHash,
        msg: Bytes,
    },
    OaepEncrypt {
        hash: RsaHash,
        label: Bytes,
        msg: Bytes,
    },
    OaepDecrypt {
        hash: RsaHash,
        label: Bytes,
    },
    /// Only the exponentiation (uacce_soft::pkey, constant time).
    Raw,
}

/// What a job gives back.
enum Done {
    /// The exponentiation's result (k bytes), for the caller to finish (a private one already checked).
    Raw(Zeroizing<Vec<u8>>),
    /// aws-lc-rs's finished result: a signature, a ciphertext or a plaintext.
    Out(Vec<u8>),
    /// aws-lc-rs's verdict on a signature.
    Valid(bool),
}

impl OutputLen for Done {
    fn output_len(&self) -> usize {
        match self {
            Done::Raw(v) => v.len(),
            Done::Out(v) => v.len(),
            Done::Valid(_) => 0,
        }
    }
}

enum RsaKeyRef {
    Public(RsaPublicKey),
    Private(RsaPrivateKey),
}

/// How the result of an RSA private-key operation done by an HPRE device is checked before it is released: the
/// countermeasure against faults (a CRT private operation with one faulty half gives a result from which the key
/// follows: Boneh–DeMillo–Lipton, the Bellcore attack, Lenstra's gcd). Set with
/// [`AccelBuilder::rsa_fault_check`](crate::AccelBuilder::rsa_fault_check) or [`Config::rsa_fault_check`](crate::Config);
/// a check that fails is [`Error::Device`](crate::Error::Device): the signature or plaintext is never released,
/// and the job is redone on the CPU backend when the routing's CPU backup is on.
///
/// The CPU backend is not affected: aws-lc-rs's private operation does its own check, and what aws-lc-rs does not
/// cover (`uacce_soft::pkey`'s exponentiation) is always followed by the software check of
/// [`Cpu`](RsaFaultCheck::Cpu).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum RsaFaultCheck {
    /// The device checks its own result (default): the same job submits a second HPRE request to the same queue
    /// (another one if that queue was retired or is full), the public operation (`RsaNonCrt`, key e ‖ n) on the
    /// private result, and its output is compared in constant time with the private operation's input (the
    /// result must also be below n); a mismatch, or an error completion of either request, refuses the result.
    /// One job per call in [`Accel::stats`](crate::Accel::stats), two HPRE requests (SQEs) on the device.
    ///
    /// Why it still catches the fault the countermeasure is for: the check is a different computation (one
    /// non-CRT exponentiation by e on the full modulus, not two half-size exponentiations by dp and dq), so a
    /// random fault in one CRT half — a glitch, a flipped bit, a transient error — gives a result whose e-th power
    /// is not the input, whatever the check's own run does; the chance that a second, independent fault makes
    /// the check agree is negligible. Its limit: it is not an independent check. A device that is adversarial, or
    /// systematically broken so that both computations err consistently (its public operation returning the input
    /// whatever it is given, say), is not caught by asking the device; [`Cpu`](RsaFaultCheck::Cpu) is the
    /// independent check, at several times the application CPU per operation.
    #[default]
    Device,
    /// The application checks the result in software, as the CPU backend would (aws-lc-rs's verification of
    /// the signature for PKCS#1 v1.5 and PSS where it covers the key and hash, else the public exponentiation in
    /// software and a constant-time comparison): independent of the device, and for RSA-2048 most of the
    /// application CPU a device operation costs (about 28 µs per operation where the rest of the job is 5–8 µs).
    Cpu,
}

/// One RSA exponentiation on the HPRE (queue type 0, v2 and v3); a private one checked by
/// [`RsaFaultCheck`]: with [`RsaFaultCheck::Device`] the job's second step is the public operation on its result.
struct RsaJob {
    key: RsaKeyRef,
    /// The k-byte input (an encoded message, a signature or a ciphertext), below n.
    input: Bytes,
    plan: CpuPlan,
    /// How a private result from the device is checked.
    fault_check: RsaFaultCheck,
    /// The private result the device computed, while the device's check of it (the second step, under
    /// [`RsaFaultCheck::Device`]) is pending: released only when that check agrees.
    checking: Option<Zeroizing<Vec<u8>>>,
}

impl RsaJob {
    fn public(&self) -> &RsaPublicKey {
        match &self.key {
            RsaKeyRef::Public(k) => k,
            RsaKeyRef::Private(k) => &k.0.public,
        }
    }

    /// The fault check of a private operation's result `out` for `input`: out < n and out^e ≡ input. For a
    /// PKCS#1 v1.5 or PSS signature that aws-lc-rs can verify, its verification of `out` over the message is that
    /// check (it computes out^e mod n after checking out < n, and compares it with the encoding of the message's
    /// hash: for PKCS#1 v1.5 the input itself, for PSS a valid encoding of the same hash, which a faulty result
    /// gives with negligible probability); elsewhere the public exponentiation in software.
    fn check(&self, out: &[u8]) -> Result<()> {
        let public = self.public();
        let verified = match &self.plan {
            CpuPlan::SignPkcs1 { hash, msg } | CpuPlan::SignPss { hash, msg } => {
                let pss = matches!(self.plan, CpuPlan::SignPss { .. });
                public
                    .verifier(*hash, pss)
                    .map(|v| public.below_n(out) && v.verify_sig(msg, out).is_ok())
            }
            _ => None,
        };
        let ok = verified.unwrap_or_else(|| {
            public.below_n(out) && super::ct_eq_bytes(&public.public_op(out), &self.input)
        });
        if ok { Ok(()) } else { Err(fault_detected()) }
    }

    /// The exponentiation in software (uacce_soft::pkey: crypto-bigint, constant time) on the same blocks.
    fn soft(&self) -> Result<Zeroizing<Vec<u8>>> {
        let k = self.public().size();
        let (alg, key): (HpreAlg, &[u8]) = match &self.key {
            RsaKeyRef::Public(p) => (HpreAlg::RsaNonCrt, &p.0.block),
            RsaKeyRef::Private(p) => (HpreAlg::RsaCrt, &p.0.crt_block),
        };
        let job = soft::PkeyJob {
            alg,
            width: k,
            key,
            input: &self.input,
            msg_len: 0,
            random_k: false,
        };
        match soft::execute(&job).map_err(super::pkey_error)? {
            PkeyOutput::Data(d) => {
                let d = Zeroizing::new(d);
                if let RsaKeyRef::Private(_) = self.key {
                    self.check(&d)?;
                }
                Ok(d)
            }
            PkeyOutput::Verify(_) => Err(Error::Unsupported("verify jobs return no data")),
        }
    }
}

fn aws_sig_alg(
    hash: RsaHash,
    pss: bool,
) -> Option<&'static aws_lc_rs::signature::RsaSignatureEncoding> {
    use aws_lc_rs::signature as s;
    Some(match (hash, pss) {
        (RsaHash::Sha256, false) => &s::RSA_PKCS1_SHA256,
        (RsaHash::Sha384, false) => &s::RSA_PKCS1_SHA384,
        (RsaHash::Sha512, false) => &s::RSA_PKCS1_SHA512,
        (RsaHash::Sha256, true) => &s::RSA_PSS_SHA256,
        (RsaHash::Sha384, true) => &s::RSA_PSS_SHA384,
        (RsaHash::Sha512, true) => &s::RSA_PSS_SHA512,
        (RsaHash::Sha1, _) => return None,
    })
}

fn aws_verify_alg(
    hash: RsaHash,
    pss: bool,
    bits: usize,
) -> Option<&'static aws_lc_rs::signature::RsaParameters> {
    use aws_lc_rs::signature as s;
    let big = bits >= 2048;
    Some(match (hash, pss, big) {
        (RsaHash::Sha256, false, true) => &s::RSA_PKCS1_2048_8192_SHA256,
        (RsaHash::Sha384, false, true) => &s::RSA_PKCS1_2048_8192_SHA384,
        (RsaHash::Sha512, false, true) => &s::RSA_PKCS1_2048_8192_SHA512,
        (RsaHash::Sha256, false, false) => &s::RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY,
        (RsaHash::Sha512, false, false) => &s::RSA_PKCS1_1024_8192_SHA512_FOR_LEGACY_USE_ONLY,
        (RsaHash::Sha256, true, true) => &s::RSA_PSS_2048_8192_SHA256,
        (RsaHash::Sha384, true, true) => &s::RSA_PSS_2048_8192_SHA384,
        (RsaHash::Sha512, true, true) => &s::RSA_PSS_2048_8192_SHA512,
        _ => return None,
    })
}

fn aws_oaep_alg(hash: RsaHash) -> &'static aws_lc_rs::rsa::OaepAlgorithm {
    use aws_lc_rs::rsa as r;
    match hash {
        RsaHash::Sha1 => &r::OAEP_SHA1_MGF1SHA1,
        RsaHash::Sha256 => &r::OAEP_SHA256_MGF1SHA256,
        RsaHash::Sha384 => &r::OAEP_SHA384_MGF1SHA384,
        RsaHash::Sha512 => &r::OAEP_SHA512_MGF1SHA512,
    }
}

/// A private-key result that failed its fault check ([`RsaFaultCheck`]).
fn fault_detected() -> Error {
    Error::Device(
        "the RSA private-key result failed the public-exponent check (a fault): not released"
            .into(),
    )
}

fn aws_failed() -> Error {
    Error::Device("aws-lc-rs failed an RSA private-key operation".into())
}

impl Job for RsaJob {
    type Output = Done;
    const CLASS: Class = Class::Hpre;
    const FAMILY: Family = Family::Pkey;

    fn size(&self) -> usize {
        self.input.len()
    }

    fn buffers(&mut self, _: QmVersion) -> Result<Buffers> {
        if let Some(result) = &self.checking {
            // The check step: the public operation on the private result (a copy, wiped when the lane drops it),
            // key block e ‖ n kept alive by the buffers.
            return Ok(Buffers {
                input: Some(Bytes::from_owner(result.clone())),
                output: Some(super::out_buf(result.len())),
                keep: Some(self.public().0.block.clone()),
            });
        }
        let keep: Arc<dyn Send + Sync> = match &self.key {
            RsaKeyRef::Public(p) => p.0.block.clone(),
            RsaKeyRef::Private(p) => p.0.crt_block.clone(),
        };
        Ok(Buffers {
            input: Some(self.input.clone()),
            output: Some(super::out_buf(self.input.len())),
            keep: Some(keep),
        })
    }

    fn sqe(&self, tag: u32, _: &mut Scratch, bufs: &Buffers, version: QmVersion) -> Result<Sqe> {
        let (alg, key) = match &self.key {
            _ if self.checking.is_some() => (HpreAlg::RsaNonCrt, addr(&self.public().0.block)),
            RsaKeyRef::Public(p) => (HpreAlg::RsaNonCrt, addr(&p.0.block)),
            RsaKeyRef::Private(p) => (HpreAlg::RsaCrt, addr(&p.0.crt_block)),
        };
        let req = HpreRequest::new(
            alg,
            self.public().size(),
            key,
            addr(bufs.input()),
            addr(bufs.output()),
            u64::from(tag),
        );
        super::hpre_sqe(&req, version)
    }

    fn complete(&mut self, out: JobOutput, _: QmVersion) -> Result<Step<Done>> {
        let outcome = hpre::read_result(&out.sqe).outcome();
        if let Some(result) = self.checking.take() {
            // The device's check of its private result: result^e mod n must be the input. An error completion
            // refuses the result as a mismatch does (the result is wiped on drop).
            let mut buf = out.into_output();
            let ok = matches!(outcome, HpreOutcome::Ok) && super::ct_eq_bytes(&buf, &self.input);
            buf.zeroize();
            return if ok {
                Ok(Step::Done(Done::Raw(result)))
            } else {
                Err(fault_detected())
            };
        }
        match outcome {
            HpreOutcome::Ok => {
                let mut buf = out.into_output();
                let result = Zeroizing::new(buf.to_vec());
                buf.zeroize();
                if let RsaKeyRef::Private(_) = self.key {
                    if self.fault_check == RsaFaultCheck::Device {
                        if !self.public().below_n(&result) {
                            return Err(fault_detected());
                        }
                        self.checking = Some(result);
                        return Ok(Step::Again);
                    }
                    self.check(&result)?;
                }
                Ok(Step::Done(Done::Raw(result)))
            }
            outcome => {
                // The device's codes carry no documented meaning: the CPU path says what is wrong.
                tracing::debug!(?outcome, "RSA job failed on the device; rerun on the CPU");
                Ok(Step::Cpu)
            }
        }
    }

    fn cpu(self) -> Result<Done> {
        let bits = self.public().bits();
        match (&self.plan, &self.key) {
            (
                CpuPlan::SignPkcs1 { hash, msg } | CpuPlan::SignPss { hash, msg },
                RsaKeyRef::Private(key),
            ) => {
                let pss = matches!(self.plan, CpuPlan::SignPss { .. });
                if let (Some(kp), Some(alg)) = (&key.0.aws_sign, aws_sig_alg(*hash, pss)) {
                    let mut sig = vec![0u8; key.size()];
                    let rng = aws_lc_rs::rand::SystemRandom::new();
                    kp.sign(alg, &rng, msg, &mut sig)
                        .map_err(|_| aws_failed())?;
                    return Ok(Done::Out(sig));
                }
            }
            (
                CpuPlan::VerifyPkcs1 { hash, msg } | CpuPlan::VerifyPss { hash, msg },
                RsaKeyRef::Public(key),
            ) => {
                let pss = matches!(self.plan, CpuPlan::VerifyPss { .. });
                if let Some(v) = key.verifier(*hash, pss) {
                    return Ok(Done::Valid(v.verify_sig(msg, &self.input).is_ok()));
                }
            }
            (CpuPlan::OaepEncrypt { hash, label, msg }, RsaKeyRef::Public(key)) if bits >= 2048 => {
                let spki = key.to_public_key_der()?;
                let refused = |_| key_err("aws-lc refuses the public key");
                let enc = aws_lc_rs::rsa::PublicEncryptingKey::from_der(&spki)
                    .map_err(|_| ())
                    .and_then(|k| aws_lc_rs::rsa::OaepPublicEncryptingKey::new(k).map_err(|_| ()))
                    .map_err(refused)?;
                let mut ct = vec![0u8; key.size()];
                let n = enc
                    .encrypt(aws_oaep_alg(*hash), msg, &mut ct, Some(label))
                    .map_err(|_| Error::Device("aws-lc-rs failed an OAEP encryption".into()))?
                    .len();
                ct.truncate(n);
                return Ok(Done::Out(ct));
            }
            (CpuPlan::OaepDecrypt { hash, label }, RsaKeyRef::Private(key)) => {
                if let Some(dec) = &key.0.aws_oaep {
                    let mut pt = Zeroizing::new(vec![0u8; key.size()]);
                    let n = dec
                        .decrypt(aws_oaep_alg(*hash), &self.input, &mut pt, Some(label))
                        .map_err(|_| Error::DecryptionFailed)?
                        .len();
                    return Ok(Done::Out(pt[..n].to_vec()));
                }
            }
            _ => {}
        }
        self.soft().map(Done::Raw)
    }
}

// ---------------------------------------------------------------------------------------------------------------
// The API
// ---------------------------------------------------------------------------------------------------------------

/// A signature or ciphertext `sig` as the k-byte input of the public/private operation: exactly k bytes.
fn input_of(key: &RsaPublicKey, what: &'static str, v: &[u8]) -> Result<Bytes> {
    if v.len() != key.size() {
        return Err(Error::InvalidLength {
            alg: what,
            got: v.len(),
            why: "must be exactly the modulus size",
        });
    }
    Ok(Bytes::copy_from_slice(v))
}

fn sig_hash(hash: RsaHash) -> Result<RsaHash> {
    if hash == RsaHash::Sha1 {
        return Err(sha1_signature());
    }
    Ok(hash)
}

impl Accel {
    async fn rsa_job(&self, job: RsaJob) -> Result<Done> {
        self.inner.execute(job).await
    }

    async fn rsa_private_em(
        &self,
        key: &RsaPrivateKey,
        em: Vec<u8>,
        plan: CpuPlan,
    ) -> Result<Vec<u8>> {
        match self
            .rsa_job(RsaJob {
                key: RsaKeyRef::Private(key.clone()),
                input: em.into(),
                plan,
                fault_check: self.inner.config.rsa_fault_check,
                checking: None,
            })
            .await?
        {
            // A signature (public): moved out, not copied; the emptied buffer is wiped (nothing left) on drop.
            Done::Raw(mut s) => Ok(std::mem::take(&mut *s)),
            Done::Out(s) => Ok(s),
            Done::Valid(_) => Err(Error::Device("a signing job returned a verdict".into())),
        }
    }

    /// RSASSA-PKCS1-v1_5 signature (RFC 8017 §8.2) of `msg` hashed with `hash` (SHA-256, SHA-384 or SHA-512; SHA-1
    /// is [`Error::Unsupported`]). Returns [`RsaPrivateKey::size`] bytes. Deterministic: the device and the CPU
    /// backend give the same bytes.
    ///
    /// The private operation runs on an HPRE queue in CRT form when there is one, its result checked with the
    /// public exponent ([`RsaFaultCheck`]; a mismatch is [`Error::Device`]: the signature is not released, and the job is redone on the CPU backend when
    /// the routing's CPU backup is on); on the CPU backend aws-lc-rs signs (1024-bit keys:
    /// `uacce_soft::pkey`).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), uacce_async::Error> {
    /// use uacce_async::{Accel, Backend, RsaHash, RsaPrivateKey};
    /// # let pem = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/rsa/key2048.pem")).unwrap();
    /// let key = RsaPrivateKey::from_pem(&pem)?;
    /// let accel = Accel::builder().backend(Backend::Emulated).build().await?;
    /// let sig = accel.rsa_sign_pkcs1v15(&key, RsaHash::Sha256, b"hello").await?;
    /// accel.rsa_verify_pkcs1v15(&key.public_key(), RsaHash::Sha256, b"hello", &sig).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the call changes no state of the [`Accel`](crate::Accel), so dropping the future only abandons
    /// the job (a device keeps its buffers until it completes). The call can simply be made again.
    pub async fn rsa_sign_pkcs1v15(
        &self,
        key: &RsaPrivateKey,
        hash: RsaHash,
        msg: &[u8],
    ) -> Result<Vec<u8>> {
        let hash = sig_hash(hash)?;
        let em = emsa_pkcs1v15(hash, &hash.hash(&[msg]), key.size())?;
        let plan = CpuPlan::SignPkcs1 {
            hash,
            msg: Bytes::copy_from_slice(msg),
        };
        self.rsa_private_em(key, em, plan).await
    }

    /// Verify an RSASSA-PKCS1-v1_5 signature: the public operation on an HPRE queue, the encoding checked in
    /// software (aws-lc-rs on the CPU backend). `Ok(())` if it verifies; [`Error::BadSignature`] if not (a
    /// signature not below n included); [`Error::InvalidLength`] if `sig` is not [`RsaPublicKey::size`] bytes.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe, as [`Accel::rsa_sign_pkcs1v15`].
    pub async fn rsa_verify_pkcs1v15(
        &self,
        key: &RsaPublicKey,
        hash: RsaHash,
        msg: &[u8],
        sig: &[u8],
    ) -> Result<()> {
        let hash = sig_hash(hash)?;
        let input = input_of(key, "RSA signature", sig)?;
        if !key.below_n(&input) {
            return Err(Error::BadSignature);
        }
        let plan = CpuPlan::VerifyPkcs1 {
            hash,
            msg: Bytes::copy_from_slice(msg),
        };
        match self.rsa_public(key, input, plan).await? {
            Done::Raw(m) => {
                let em = emsa_pkcs1v15(hash, &hash.hash(&[msg]), key.size())?;
                if bool::from(em.ct_eq(&m[..])) {
                    Ok(())
                } else {
                    Err(Error::BadSignature)
                }
            }
            Done::Valid(true) => Ok(()),
            _ => Err(Error::BadSignature),
        }
    }

    async fn rsa_public(&self, key: &RsaPublicKey, input: Bytes, plan: CpuPlan) -> Result<Done> {
        self.rsa_job(RsaJob {
            key: RsaKeyRef::Public(key.clone()),
            input,
            plan,
            fault_check: self.inner.config.rsa_fault_check,
            checking: None,
        })
        .await
    }

    /// RSASSA-PSS signature (RFC 8017 §8.1) of `msg` with `hash` for the message, MGF1 and the salt length (salt
    /// as long as the hash, a fresh random one from the OS each time), trailer 0xBC. Use
    /// [`Accel::rsa_sign_pss_salt_len`] for another salt length.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe, as [`Accel::rsa_sign_pkcs1v15`].
    pub async fn rsa_sign_pss(
        &self,
        key: &RsaPrivateKey,
        hash: RsaHash,
        msg: &[u8],
    ) -> Result<Vec<u8>> {
        self.sign_pss(key, hash, msg, None, hash.output_len()).await
    }

    /// [`Accel::rsa_sign_pss`] with a salt of `salt_len` random bytes (0 gives a deterministic signature). A salt too
    /// long for the key is [`Error::InvalidParameter`]. The CPU backend does these in software (aws-lc-rs takes
    /// only the hash length), with `uacce_soft::pkey`'s constant-time exponentiation.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe, as [`Accel::rsa_sign_pkcs1v15`].
    pub async fn rsa_sign_pss_salt_len(
        &self,
        key: &RsaPrivateKey,
        hash: RsaHash,
        salt_len: usize,
        msg: &[u8],
    ) -> Result<Vec<u8>> {
        self.sign_pss(key, hash, msg, None, salt_len).await
    }

    /// [`Accel::rsa_sign_pss`] with the caller's `salt`: for known-answer tests only (a salt must be fresh and
    /// random for the security proof; nothing checks it here).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe, as [`Accel::rsa_sign_pkcs1v15`].
    pub async fn rsa_sign_pss_with_salt_unchecked(
        &self,
        key: &RsaPrivateKey,
        hash: RsaHash,
        salt: &[u8],
        msg: &[u8],
    ) -> Result<Vec<u8>> {
        self.sign_pss(key, hash, msg, Some(salt), salt.len()).await
    }

    async fn sign_pss(
        &self,
        key: &RsaPrivateKey,
        hash: RsaHash,
        msg: &[u8],
        salt: Option<&[u8]>,
        salt_len: usize,
    ) -> Result<Vec<u8>> {
        let hash = sig_hash(hash)?;
        if salt_len > key.size() {
            return Err(Error::InvalidParameter(
                "PSS salt too long for the key and hash",
            ));
        }
        let mut s = vec![0u8; salt_len];
        match salt {
            Some(v) => s.copy_from_slice(v),
            None => random(&mut s)?,
        }
        let em = emsa_pss_encode(hash, &hash.hash(&[msg]), &s, key.bits(), key.size())?;
        let plan = if salt.is_none() && salt_len == hash.output_len() {
            CpuPlan::SignPss {
                hash,
                msg: Bytes::copy_from_slice(msg),
            }
        } else {
            CpuPlan::Raw
        };
        self.rsa_private_em(key, em, plan).await
    }

    /// Verify an RSASSA-PSS signature with the salt as long as the hash. Errors as
    /// [`Accel::rsa_verify_pkcs1v15`].
    ///
    /// # Cancel safety
    ///
    /// Cancel safe, as [`Accel::rsa_sign_pkcs1v15`].
    pub async fn rsa_verify_pss(
        &self,
        key: &RsaPublicKey,
        hash: RsaHash,
        msg: &[u8],
        sig: &[u8],
    ) -> Result<()> {
        self.verify_pss(key, hash, hash.output_len(), msg, sig)
            .await
    }

    /// Verify an RSASSA-PSS signature made with a salt of `salt_len` bytes.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe, as [`Accel::rsa_sign_pkcs1v15`].
    pub async fn rsa_verify_pss_salt_len(
        &self,
        key: &RsaPublicKey,
        hash: RsaHash,
        salt_len: usize,
        msg: &[u8],
        sig: &[u8],
    ) -> Result<()> {
        self.verify_pss(key, hash, salt_len, msg, sig).await
    }

    async fn verify_pss(
        &self,
        key: &RsaPublicKey,
        hash: RsaHash,
        salt_len: usize,
        msg: &[u8],
        sig: &[u8],
    ) -> Result<()> {
        let hash = sig_hash(hash)?;
        let input = input_of(key, "RSA signature", sig)?;
        if !key.below_n(&input) {
            return Err(Error::BadSignature);
        }
        let plan = if salt_len == hash.output_len() {
            CpuPlan::VerifyPss {
                hash,
                msg: Bytes::copy_from_slice(msg),
            }
        } else {
            CpuPlan::Raw
        };
        match self.rsa_public(key, input, plan).await? {
            Done::Raw(m) => emsa_pss_verify(hash, &hash.hash(&[msg]), &m, salt_len, key.bits()),
            Done::Valid(true) => Ok(()),
            _ => Err(Error::BadSignature),
        }
    }

    /// RSAES-OAEP encryption (RFC 8017 §7.1.1) of `msg` with `hash` for the label hash and MGF1 (SHA-256 is the
    /// usual choice; SHA-1 is allowed for interoperability) and `label` (usually empty). `msg` may be at most k −
    /// 2·hLen − 2 bytes ([`Error::InvalidLength`] otherwise). Returns k bytes.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe, as [`Accel::rsa_sign_pkcs1v15`].
    pub async fn rsa_encrypt_oaep(
        &self,
        key: &RsaPublicKey,
        hash: RsaHash,
        label: &[u8],
        msg: &[u8],
    ) -> Result<Vec<u8>> {
        let mut seed = Zeroizing::new(vec![0u8; hash.output_len()]);
        random(&mut seed)?;
        self.encrypt_oaep(key, hash, label, msg, &seed, true).await
    }

    /// [`Accel::rsa_encrypt_oaep`] with the caller's `seed` (hash-length bytes): for known-answer tests only (the
    /// seed must be fresh and random).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe, as [`Accel::rsa_sign_pkcs1v15`].
    pub async fn rsa_encrypt_oaep_with_seed_unchecked(
        &self,
        key: &RsaPublicKey,
        hash: RsaHash,
        label: &[u8],
        msg: &[u8],
        seed: &[u8],
    ) -> Result<Vec<u8>> {
        if seed.len() != hash.output_len() {
            return Err(Error::InvalidLength {
                alg: "RSA-OAEP seed",
                got: seed.len(),
                why: "must be the hash length",
            });
        }
        self.encrypt_oaep(key, hash, label, msg, seed, false).await
    }

    async fn encrypt_oaep(
        &self,
        key: &RsaPublicKey,
        hash: RsaHash,
        label: &[u8],
        msg: &[u8],
        seed: &[u8],
        random_seed: bool,
    ) -> Result<Vec<u8>> {
        let em = eme_oaep_encode(hash, label, msg, seed, key.size())?;
        let plan = if random_seed {
            CpuPlan::OaepEncrypt {
                hash,
                label: Bytes::copy_from_slice(label),
                msg: Bytes::copy_from_slice(msg),
            }
        } else {
            CpuPlan::Raw
        };
        match self
            .rsa_public(key, Bytes::copy_from_slice(&em), plan)
            .await?
        {
            Done::Raw(c) => Ok(c.to_vec()),
            Done::Out(c) => Ok(c),
            Done::Valid(_) => Err(Error::Device("an encryption job returned a verdict".into())),
        }
    }

    /// RSAES-OAEP decryption (RFC 8017 §7.1.2): the private operation on an HPRE queue in CRT form (checked with
    /// the public exponent), the decoding in software in constant time. Every decoding failure, and a ciphertext
    /// not below n, is the one [`Error::DecryptionFailed`]; a ciphertext of the wrong length is
    /// [`Error::InvalidLength`].
    ///
    /// # Cancel safety
    ///
    /// Cancel safe, as [`Accel::rsa_sign_pkcs1v15`].
    pub async fn rsa_decrypt_oaep(
        &self,
        key: &RsaPrivateKey,
        hash: RsaHash,
        label: &[u8],
        ct: &[u8],
    ) -> Result<Vec<u8>> {
        let public = &key.0.public;
        let input = input_of(public, "RSA-OAEP ciphertext", ct)?;
        if !public.below_n(&input) {
            return Err(Error::DecryptionFailed);
        }
        let plan = CpuPlan::OaepDecrypt {
            hash,
            label: Bytes::copy_from_slice(label),
        };
        match self
            .rsa_job(RsaJob {
                key: RsaKeyRef::Private(key.clone()),
                input,
                plan,
                fault_check: self.inner.config.rsa_fault_check,
                checking: None,
            })
            .await?
        {
            Done::Raw(mut em) => eme_oaep_decode(hash, label, &mut em),
            Done::Out(m) => Ok(m),
            Done::Valid(_) => Err(Error::Device("a decryption job returned a verdict".into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BytesMut;
    use uacce_sys::qm::SQE_SIZE;

    #[test]
    fn oaep_round_trip_and_tamper() {
        let k = 256;
        let seed = [7u8; 32];
        let mut em = eme_oaep_encode(RsaHash::Sha256, b"L", b"secret", &seed, k).unwrap();
        let mut copy = em.clone();
        assert_eq!(
            eme_oaep_decode(RsaHash::Sha256, b"L", &mut copy).unwrap(),
            b"secret"
        );
        let mut copy = em.clone();
        assert!(matches!(
            eme_oaep_decode(RsaHash::Sha256, b"M", &mut copy),
            Err(Error::DecryptionFailed)
        ));
        em[0] = 1;
        assert!(matches!(
            eme_oaep_decode(RsaHash::Sha256, b"L", &mut em),
            Err(Error::DecryptionFailed)
        ));
        assert!(eme_oaep_encode(RsaHash::Sha256, b"", &[0; 191], &seed, k).is_err());
        assert!(eme_oaep_encode(RsaHash::Sha256, b"", &[0; 190], &seed, k).is_ok());
    }

    #[test]
    fn pss_round_trip_every_top_bit_count() {
        for bits in [2041usize, 2042, 2047, 2048, 2049] {
            let k = bits.div_ceil(8);
            let mh = RsaHash::Sha256.hash(&[b"m"]);
            let em = emsa_pss_encode(RsaHash::Sha256, &mh, &[9; 32], bits, k).unwrap();
            emsa_pss_verify(RsaHash::Sha256, &mh, &em, 32, bits).unwrap();
            assert!(emsa_pss_verify(RsaHash::Sha256, &mh, &em, 31, bits).is_err());
            let other = RsaHash::Sha256.hash(&[b"n"]);
            assert!(emsa_pss_verify(RsaHash::Sha256, &other, &em, 32, bits).is_err());
        }
    }

    /// The fault countermeasure: a private-key result that is not the input raised to d (one flipped bit, as a
    /// faulty CRT half would give) or is not below n is refused with `Error::Device`, never returned; by the
    /// software exponentiation (raw jobs, 1024-bit PSS) and by aws-lc-rs's verification (PKCS#1 v1.5 and PSS
    /// signatures), which must be the path those take.
    #[test]
    fn fault_check_refuses_a_wrong_result() {
        let key1024 =
            RsaPrivateKey::from_pem(include_str!("../../tests/vectors/rsa/key1024.pem")).unwrap();
        let key2048 =
            RsaPrivateKey::from_pem(include_str!("../../tests/vectors/rsa/key2048.pem")).unwrap();
        let msg = Bytes::from_static(b"m");
        let mh = RsaHash::Sha256.hash(&[&msg]);
        let pkcs1 = |k| emsa_pkcs1v15(RsaHash::Sha256, &mh, k).unwrap();
        let pss = |key: &RsaPrivateKey| {
            emsa_pss_encode(RsaHash::Sha256, &mh, &[5; 32], key.bits(), key.size()).unwrap()
        };
        let sign_pkcs1 = || CpuPlan::SignPkcs1 {
            hash: RsaHash::Sha256,
            msg: msg.clone(),
        };
        let sign_pss = || CpuPlan::SignPss {
            hash: RsaHash::Sha256,
            msg: msg.clone(),
        };
        // (key, input, plan, whether aws-lc-rs verifies)
        let cases = [
            (&key1024, pkcs1(128), CpuPlan::Raw, false),
            (&key1024, pkcs1(128), sign_pkcs1(), true),
            (&key1024, pss(&key1024), sign_pss(), false),
            (&key2048, pkcs1(256), CpuPlan::Raw, false),
            (&key2048, pkcs1(256), sign_pkcs1(), true),
            (&key2048, pss(&key2048), sign_pss(), true),
        ];
        for (i, (key, em, plan, aws)) in cases.into_iter().enumerate() {
            let k = key.size();
            let job = RsaJob {
                key: RsaKeyRef::Private(key.clone()),
                input: em.into(),
                plan,
                fault_check: RsaFaultCheck::Cpu,
                checking: None,
            };
            if let CpuPlan::SignPkcs1 { hash, .. } | CpuPlan::SignPss { hash, .. } = &job.plan {
                let pss = matches!(job.plan, CpuPlan::SignPss { .. });
                assert_eq!(
                    key.public_key().verifier(*hash, pss).is_some(),
                    aws,
                    "case {i}"
                );
            }
            let good = job.soft().unwrap();
            job.check(&good).unwrap();
            for b in [0, k / 2, k - 1] {
                let mut bad = good.clone();
                bad[b] ^= 1;
                assert!(
                    matches!(job.check(&bad), Err(Error::Device(_))),
                    "case {i} byte {b}"
                );
            }
            let n = key.public_key().modulus().to_vec();
            assert_eq!(n.len(), k);
            assert!(matches!(job.check(&n), Err(Error::Device(_))), "case {i}");
            assert!(
                matches!(job.check(&good[1..]), Err(Error::Device(_))),
                "case {i}"
            );
        }
    }

    /// A completed HPRE SQE of `alg` (etype 0 = success) with `output` as the job's output buffer.
    fn completion(alg: HpreAlg, k: usize, etype: u16, output: &[u8]) -> JobOutput {
        let mut sqe = [0u8; SQE_SIZE];
        let enc = hpre::encode(&HpreRequest::new(alg, k, 0x1000, 0x2000, 0x3000, 1));
        sqe[..hpre::HPRE_SQE_SIZE].copy_from_slice(&enc);
        hpre::write_result(
            &mut sqe,
            &hpre::HpreResult {
                etype,
                ..Default::default()
            },
        );
        JobOutput {
            sqe,
            bufs: Buffers {
                input: None,
                output: Some(BytesMut::from(output)),
                keep: None,
            },
            mac: [0; 64],
        }
    }

    /// `RsaFaultCheck::Device`: the private result is held back while the job's second step (the public operation
    /// on it, key e ‖ n) runs, and released only if that step's output is the input. Refused with `Error::Device`:
    /// a wrong private result (one flipped bit, as a faulty CRT half gives) that the device's check computes
    /// faithfully, a right one whose check output is wrong, a check that completes with an error, and a result not
    /// below n (refused before any check is submitted).
    #[test]
    fn device_fault_check_refuses_a_wrong_result() {
        let key =
            RsaPrivateKey::from_pem(include_str!("../../tests/vectors/rsa/key1024.pem")).unwrap();
        let public = key.public_key();
        let k = key.size();
        let em = emsa_pkcs1v15(RsaHash::Sha256, &RsaHash::Sha256.hash(&[b"m"]), k).unwrap();
        let job = || RsaJob {
            key: RsaKeyRef::Private(key.clone()),
            input: em.clone().into(),
            plan: CpuPlan::Raw,
            fault_check: RsaFaultCheck::Device,
            checking: None,
        };
        let good = job().soft().unwrap();
        // Step 1 done → Again, with the result held and the check step's buffers naming it.
        let step1 = |result: &[u8]| {
            let mut j = job();
            let r = j.complete(completion(HpreAlg::RsaCrt, k, 0, result), QmVersion::V3);
            (j, r)
        };
        let (mut j, r) = step1(&good);
        assert!(matches!(r, Ok(Step::Again)));
        let bufs = j.buffers(QmVersion::V3).unwrap();
        assert_eq!(bufs.input(), &good[..]);
        assert_eq!(bufs.output().len(), k);
        // The check agrees: the result is released.
        let checked = public.public_op(&good);
        assert_eq!(&checked[..], &em[..]);
        match j.complete(
            completion(HpreAlg::RsaNonCrt, k, 0, &checked),
            QmVersion::V3,
        ) {
            Ok(Step::Done(Done::Raw(v))) => assert_eq!(v, good),
            _ => panic!("a right result that the check confirms is released"),
        }
        for b in [0, k / 2, k - 1] {
            // A wrong private result, checked faithfully.
            let mut bad = good.clone();
            bad[b] ^= 1;
            let (mut j, r) = step1(&bad);
            if public.below_n(&bad) {
                assert!(matches!(r, Ok(Step::Again)), "byte {b}");
                let out = public.public_op(&bad);
                assert!(
                    matches!(
                        j.complete(completion(HpreAlg::RsaNonCrt, k, 0, &out), QmVersion::V3),
                        Err(Error::Device(_))
                    ),
                    "byte {b}"
                );
            } else {
                assert!(matches!(r, Err(Error::Device(_))), "byte {b}");
            }
            // A right result whose check output is wrong.
            let (mut j, _) = step1(&good);
            let mut out = em.clone();
            out[b] ^= 1;
            assert!(
                matches!(
                    j.complete(completion(HpreAlg::RsaNonCrt, k, 0, &out), QmVersion::V3),
                    Err(Error::Device(_))
                ),
                "byte {b}"
            );
        }
        // A check that completes with an error, even with the input in its output buffer.
        let (mut j, _) = step1(&good);
        assert!(matches!(
            j.complete(completion(HpreAlg::RsaNonCrt, k, 1, &em), QmVersion::V3),
            Err(Error::Device(_))
        ));
        // A result not below n: refused at once.
        let (_, r) = step1(public.modulus());
        assert!(matches!(r, Err(Error::Device(_))));
        // Under `Cpu` the first completion is the end (the software check).
        let mut j = job();
        j.fault_check = RsaFaultCheck::Cpu;
        match j.complete(completion(HpreAlg::RsaCrt, k, 0, &good), QmVersion::V3) {
            Ok(Step::Done(Done::Raw(v))) => assert_eq!(v, good),
            _ => panic!("RsaFaultCheck::Cpu releases a right result after the first request"),
        }
        let mut j = job();
        j.fault_check = RsaFaultCheck::Cpu;
        let mut bad = good.clone();
        bad[1] ^= 1;
        assert!(matches!(
            j.complete(completion(HpreAlg::RsaCrt, k, 0, &bad), QmVersion::V3),
            Err(Error::Device(_))
        ));
    }
}
