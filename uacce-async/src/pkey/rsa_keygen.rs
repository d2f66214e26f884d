//! RSA key generation ([`Accel::rsa_generate_key`]): primes on the CPU, the private exponent and the CRT
//! parameters on the HPRE (alg 0x02 KG_STD and 0x03 KG_CRT, queue type 0, hardware v2 and v3; protocol doc §12.4).
//!
//! The engine has no prime search (UADK's `wd_rsa` key generation takes p and q from its caller, and sends
//! mrttest_num = 0), so the primes come from aws-lc-rs (`rsa::KeyPair::generate`: FIPS 186 key generation with
//! e = 65537, constant time), whose key is parsed for p and q. Two SQEs then compute, from e ‖ p ‖ q:
//! KG_STD d ‖ n, KG_CRT qinv ‖ dq ‖ dp. Before the key is returned it is checked: n and the CRT parameters (unique
//! for given e, p, q) must equal those of aws-lc's key, [`RsaPrivateKey::from_components`] checks n = p·q and
//! d·e ≡ 1 modulo p−1 and q−1, and a PKCS#1 v1.5 signature made with the new key must verify. A result that fails
//! is [`Error::Device`] (a fault) and nothing is returned.
//!
//! Without an HPRE device (the CPU backend, or the device refused the job), the two jobs' results are aws-lc's own
//! numbers: the CPU backend's key *is* aws-lc's generated key, imported. The device's d may differ from aws-lc's
//! (the emulated engine takes d modulo (p−1)(q−1), aws-lc modulo lcm(p−1, q−1)); both are valid exponents, and the
//! key's private operations use the CRT parameters, which are the same.
//!
//! Sizes: 2048, 3072 and 4096 bits. 1024-bit keys are refused ([`Error::InvalidKeyLength`]): too weak to create
//! today (NIST SP 800-131A disallows generating them), and aws-lc-rs does not generate them; 1024-bit keys from
//! elsewhere still import and run on the HPRE.

use std::sync::Arc;

use rsa::pkcs1::der::Decode;
use uacce_sys::qm::hpre::{self, HpreAlg, HpreOutcome, HpreRequest, layout};
use uacce_sys::qm::{QmVersion, Sqe};
use zeroize::Zeroizing;

use super::RsaPrivateKey;
use crate::accel::Accel;
use crate::error::{Error, Result};
use crate::job::{Job, Step, addr};
use crate::lane::{Buffers, Class, JobOutput, Scratch};
use crate::pool::ClassPool;
use crate::stats::{Family, OutputLen};

/// The RSA modulus sizes [`Accel::rsa_generate_key`] takes, in bits.
pub const RSA_KEYGEN_BITS: [usize; 3] = [2048, 3072, 4096];

/// The numbers of aws-lc's key that the device path needs, big-endian with leading zeros stripped.
struct AwsKey {
    n: Vec<u8>,
    e: Vec<u8>,
    d: Zeroizing<Vec<u8>>,
    p: Zeroizing<Vec<u8>>,
    q: Zeroizing<Vec<u8>>,
    dp: Zeroizing<Vec<u8>>,
    dq: Zeroizing<Vec<u8>>,
    qinv: Zeroizing<Vec<u8>>,
}

fn aws_generate(bits: usize) -> Result<AwsKey> {
    use aws_lc_rs::encoding::AsDer;
    use aws_lc_rs::rsa::{KeyPair, KeySize};
    let size = match bits {
        2048 => KeySize::Rsa2048,
        3072 => KeySize::Rsa3072,
        4096 => KeySize::Rsa4096,
        _ => {
            return Err(Error::InvalidKeyLength {
                alg: "RSA key generation",
                got: bits,
                expected: "2048, 3072 or 4096 bits",
            });
        }
    };
    let pair = KeyPair::generate(size)
        .map_err(|_| Error::Device("aws-lc RSA key generation failed".into()))?;
    let der = pair
        .as_der()
        .map_err(|_| Error::Device("aws-lc cannot encode its RSA key".into()))?;
    let info = rsa::pkcs8::PrivateKeyInfo::try_from(der.as_ref())
        .map_err(|_| Error::Device("aws-lc's RSA key is not PKCS#8".into()))?;
    let k = rsa::pkcs1::RsaPrivateKey::from_der(info.private_key)
        .map_err(|_| Error::Device("aws-lc's RSA key is not PKCS#1".into()))?;
    let z = |v: rsa::pkcs1::UintRef<'_>| Zeroizing::new(v.as_bytes().to_vec());
    Ok(AwsKey {
        n: k.modulus.as_bytes().to_vec(),
        e: k.public_exponent.as_bytes().to_vec(),
        d: z(k.private_exponent),
        p: z(k.prime1),
        q: z(k.prime2),
        dp: z(k.exponent1),
        dq: z(k.exponent2),
        qinv: z(k.coefficient),
    })
}

/// A keygen job's output block.
struct Block(Zeroizing<Vec<u8>>);

impl OutputLen for Block {
    fn output_len(&self) -> usize {
        self.0.len()
    }
}

/// One keygen SQE: key = e(k) ‖ p(k/2) ‖ q(k/2), no input; `cpu` is the same block from aws-lc's key.
struct KeygenJob {
    alg: HpreAlg,
    k: usize,
    key: Arc<Zeroizing<Vec<u8>>>,
    out_len: usize,
    cpu: Zeroizing<Vec<u8>>,
}

impl Job for KeygenJob {
    type Output = Block;
    const CLASS: Class = Class::Hpre;
    const FAMILY: Family = Family::Pkey;

    fn size(&self) -> usize {
        self.key.len()
    }

    /// The kernel soft HPRE device does not generate keys (it completes KG_STD/KG_CRT with "not supported"):
    /// not sent there, as the other codes it lacks.
    fn capable(&self, pool: &ClassPool) -> bool {
        !pool.all_lanes_soft() || super::soft_hpre_computes(self.alg, self.k, &self.key)
    }

    fn buffers(&mut self, _: QmVersion) -> Result<Buffers> {
        Ok(Buffers {
            input: None,
            output: Some(super::out_buf(self.out_len)),
            // The key block (it holds the primes) is read by the device: kept alive while the job is in flight.
            keep: Some(self.key.clone()),
        })
    }

    fn sqe(&self, tag: u32, _: &mut Scratch, bufs: &Buffers, version: QmVersion) -> Result<Sqe> {
        // No input: UADK sends address 0 (§12.4, §12.7).
        let req = HpreRequest::new(
            self.alg,
            self.k,
            addr(&self.key),
            0,
            addr(bufs.output()),
            u64::from(tag),
        );
        super::hpre_sqe(&req, version)
    }

    fn complete(&mut self, out: JobOutput, _: QmVersion) -> Result<Step<Block>> {
        match hpre::read_result(&out.sqe).outcome() {
            HpreOutcome::Ok => {
                let mut o = out.into_output();
                let data = Zeroizing::new(o.to_vec());
                zeroize::Zeroize::zeroize(&mut o[..]);
                Ok(Step::Done(Block(data)))
            }
            outcome => {
                tracing::debug!(?outcome, alg = ?self.alg, "HPRE RSA keygen failed on the device; using aws-lc's numbers");
                Ok(Step::Cpu)
            }
        }
    }

    fn cpu(self) -> Result<Block> {
        Ok(Block(self.cpu))
    }
}

/// `v` right-aligned in `w` bytes.
fn fit(v: &[u8], w: usize) -> Result<Zeroizing<Vec<u8>>> {
    let mut out = Zeroizing::new(vec![0u8; w]);
    layout::put_be(&mut out, v)
        .map_err(|_| Error::Device("an RSA key number longer than its field".into()))?;
    Ok(out)
}

fn strip(v: &[u8]) -> &[u8] {
    let first = v.iter().position(|&b| b != 0).unwrap_or(v.len());
    &v[first..]
}

impl Accel {
    /// A new RSA key of `bits` bits (2048, 3072 or 4096; e = 65537): primes from aws-lc-rs on the CPU, d and the
    /// CRT parameters from the HPRE's key generation (KG_STD and KG_CRT) when there is a device, all checked (n,
    /// the CRT parameters, d·e ≡ 1, a signature self-test) before the key is returned. On the CPU backend the key
    /// is aws-lc-rs's, imported. Other sizes are [`Error::InvalidKeyLength`]. See the module documentation of
    /// `pkey::rsa_keygen` for the choices.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), uacce_async::Error> {
    /// use uacce_async::{Accel, Backend, RsaHash};
    /// let accel = Accel::builder().backend(Backend::Emulated).build().await?;
    /// let key = accel.rsa_generate_key(2048).await?;
    /// assert_eq!(key.bits(), 2048);
    /// let sig = accel.rsa_sign_pss(&key, RsaHash::Sha256, b"hello").await?;
    /// accel.rsa_verify_pss(&key.public_key(), RsaHash::Sha256, b"hello", &sig).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: nothing is kept from an abandoned call (a device job in flight keeps its buffers until it
    /// completes; the prime search, on a blocking thread, runs to its end and is discarded).
    pub async fn rsa_generate_key(&self, bits: usize) -> Result<RsaPrivateKey> {
        if !RSA_KEYGEN_BITS.contains(&bits) {
            return Err(Error::InvalidKeyLength {
                alg: "RSA key generation",
                got: bits,
                expected: "2048, 3072 or 4096 bits",
            });
        }
        let aws = tokio::task::spawn_blocking(move || aws_generate(bits))
            .await
            .map_err(|e| Error::Device(format!("RSA prime generation did not finish: {e}")))??;
        let k = bits / 8;
        let h = k / 2;
        let key = Arc::new(Zeroizing::new(
            [&fit(&aws.e, k)?[..], &fit(&aws.p, h)?, &fit(&aws.q, h)?].concat(),
        ));
        let std_cpu = Zeroizing::new([&fit(&aws.d, k)?[..], &fit(&aws.n, k)?].concat());
        let crt_cpu = Zeroizing::new(
            [
                &vec![0u8; 2 * k][..],
                &fit(&aws.qinv, h)?,
                &fit(&aws.dq, h)?,
                &fit(&aws.dp, h)?,
            ]
            .concat(),
        );
        let std_job = KeygenJob {
            alg: HpreAlg::RsaKeygen,
            k,
            key: key.clone(),
            out_len: 2 * k,
            cpu: std_cpu,
        };
        let crt_job = KeygenJob {
            alg: HpreAlg::RsaKeygenCrt,
            k,
            key,
            out_len: 2 * k + 3 * h,
            cpu: crt_cpu,
        };
        let (std_out, crt_out) =
            tokio::try_join!(self.inner.execute(std_job), self.inner.execute(crt_job))?;
        let (std_out, crt_out) = (std_out.0, crt_out.0);
        if std_out.len() != 2 * k || crt_out.len() != 2 * k + 3 * h {
            return Err(Error::Device(
                "RSA keygen: a result block of the wrong length".into(),
            ));
        }
        let (d, n) = std_out.split_at(k);
        let crt = &crt_out[2 * k..];
        let (qinv, rest) = crt.split_at(h);
        let (dq, dp) = rest.split_at(h);
        // Fault checks: n and the CRT parameters are unique for e, p, q: they must be aws-lc's.
        let same = |a: &[u8], b: &[u8]| {
            use subtle::ConstantTimeEq;
            let (a, b) = (strip(a), strip(b));
            a.len() == b.len() && bool::from(a.ct_eq(b))
        };
        if !same(n, &aws.n) || !same(qinv, &aws.qinv) || !same(dq, &aws.dq) || !same(dp, &aws.dp) {
            return Err(Error::Device(
                "RSA keygen: the engine's n or CRT parameters are wrong (fault): no key returned"
                    .into(),
            ));
        }
        let key = RsaPrivateKey::from_components(n, &aws.e, d, &aws.p, &aws.q, dp, dq, qinv)
            .map_err(|_| {
                Error::Device("RSA keygen: the engine's key fails its checks (fault)".into())
            })?;
        // Self-test: sign with the new key and verify.
        const MSG: &[u8] = b"uacce RSA key generation self-test";
        let sig = self
            .rsa_sign_pkcs1v15(&key, super::RsaHash::Sha256, MSG)
            .await?;
        self.rsa_verify_pkcs1v15(&key.public_key(), super::RsaHash::Sha256, MSG, &sig)
            .await
            .map_err(|_| {
                Error::Device("RSA keygen: the new key fails its signature self-test".into())
            })?;
        Ok(key)
    }
}
