//! Public-key jobs on the HPRE engine — the first, raw layer: RSA public and private operations without padding,
//! X25519, and ECDH on P-256. (Padding, signatures, key formats and the other curves come with the full `pkey`
//! API; the SQE codec, the engine and the emulated device below already cover every HPRE algorithm.)
//!
//! Each request becomes one 64-byte HPRE SQE naming a key block, an input block and an output block laid out as
//! the hardware wants them (`uacce_sys::qm::hpre::layout`): RSA/DH on queue type 0, ECC on type 1 (QM v3 only;
//! without a v3 device the ECC jobs run on the CPU, or fail under `Backend::Hardware`). The CPU backend runs `uacce_soft::pkey` on the very same
//! blocks, so both paths compute the same thing.
//!
//! Errors: the device reports a failed job with a bare error code whose meaning no source documents, so a job the
//! device refuses is handed to the CPU path, which says why in a typed error (`Error::InvalidParameter` for a bad
//! key, an input out of range or a point off the curve).

mod ecc;

pub use ecc::{
    EcCurve, EcPrivateKey, EcPublicKey, EcdsaNonce, EcdsaSignature, SM2_DEFAULT_ID,
    SM2_MAX_MESSAGE, Sm2PrivateKey, Sm2PublicKey, Sm2Signature,
};

use std::sync::Arc;

mod rsa;
pub use rsa::{RsaFaultCheck, RsaHash, RsaPrivateKey, RsaPublicKey};
mod rsa_keygen;
pub use rsa_keygen::RSA_KEYGEN_BITS;

use bytes::{Bytes, BytesMut};
use uacce_soft::pkey::{self, CurveId, PkeyError, PkeyOutput};
use uacce_sys::qm::hpre::{self, HpreAlg, HpreOutcome, HpreRequest, X25519_A24, X25519_P, layout};
use uacce_sys::qm::{QmVersion, SQE_SIZE, Sqe};

use crate::accel::Accel;
use crate::error::{Error, Result};
use crate::job::{Job, Step, addr};
use crate::lane::{Buffers, Class, JobOutput, Scratch};
use crate::pool::ClassPool;
use crate::stats::Family;

/// Whether the kernel soft HPRE device (`soft_hpre-N`, api `soft_qm_v3`, `kmod-patch/uacce_soft`) computes a job:
/// RSA (NC_NCRT and NC_CRT, every RSA width), the ECDH multiply on NIST P-256 and X25519. Its other codes (DH, RSA
/// key generation, ECDSA, SM2, X448, other curves) complete with a "not supported" error; jobs of those are not
/// sent to it (`Job::capable`): they run on the CPU, or fail with `Error::Unsupported` under `Backend::Hardware`.
pub(crate) fn soft_hpre_computes(alg: HpreAlg, width: usize, key: &[u8]) -> bool {
    match alg {
        HpreAlg::RsaNonCrt | HpreAlg::RsaCrt => true,
        HpreAlg::XdhMultiply => width == 32,
        HpreAlg::EcdhMultiply => {
            width == 32
                && layout::field(key, width, layout::ecc_private::P)
                    == Some(&pkey::curve_params(CurveId::P256).p[..])
        }
        _ => false,
    }
}

/// The SQE of an HPRE request: checked against what `version` takes, then encoded (64 bytes at the start of the
/// ring's SQE slot). A request that does not validate is a library bug, reported as `Error::Device`.
pub(crate) fn hpre_sqe(req: &HpreRequest, version: QmVersion) -> Result<Sqe> {
    req.validate(version)
        .map_err(|e| Error::Device(format!("cannot encode the HPRE request: {e}")))?;
    let mut sqe = [0u8; SQE_SIZE];
    sqe[..hpre::HPRE_SQE_SIZE].copy_from_slice(&hpre::encode(req));
    Ok(sqe)
}

/// One HPRE job: the blocks as the hardware reads them. `ECC` picks the queue type (and so the pool).
struct HpreJob<const ECC: bool> {
    alg: HpreAlg,
    width: usize,
    key: Bytes,
    input: Bytes,
    out_len: usize,
    hpcore: bool,
}

/// A zeroed output buffer for a public-key request (at most a few KiB). `BytesMut::zeroed` allocates with
/// `calloc`, which glibc serves without its per-thread cache (about 270 instructions for a 256-byte buffer,
/// callgrind); an allocation from that cache and a `memset` take about 60.
pub(crate) fn out_buf(len: usize) -> BytesMut {
    let mut b = BytesMut::with_capacity(len);
    b.resize(len, 0);
    b
}

/// Constant-time equality of two byte strings of public length, eight bytes at a time: no branch and no early exit
/// on the contents, one `subtle` comparison at the end. `subtle`'s slice `ct_eq` puts every byte through an
/// optimisation barrier (about 3,000 instructions for the 256 bytes of an RSA-2048 result, a fifth of the
/// application's instructions per device signature); this folds the XOR of whole words instead.
pub(crate) fn ct_eq_bytes(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    if a.len() != b.len() {
        return false;
    }
    let (wa, wb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail = wa
        .remainder()
        .iter()
        .zip(wb.remainder())
        .fold(0u64, |acc, (x, y)| acc | u64::from(x ^ y));
    let diff = wa.zip(wb).fold(tail, |acc, (x, y)| {
        let x = u64::from_ne_bytes(x.try_into().expect("8-byte chunk"));
        let y = u64::from_ne_bytes(y.try_into().expect("8-byte chunk"));
        acc | (x ^ y)
    });
    bool::from(diff.ct_eq(&0))
}

fn pkey_error(e: PkeyError) -> Error {
    match e {
        PkeyError::BadKey => {
            Error::InvalidParameter("public-key operation: key parameter out of range")
        }
        PkeyError::BadInput => Error::InvalidParameter("public-key operation: input out of range"),
        PkeyError::NotOnCurve => {
            Error::InvalidParameter("public-key operation: point not on the curve")
        }
        PkeyError::Degenerate => Error::InvalidParameter("public-key operation: degenerate result"),
        PkeyError::Length => Error::InvalidParameter("public-key operation: block length"),
        PkeyError::DecryptCheck => Error::AuthFailed,
        PkeyError::UnknownCurve | PkeyError::Unsupported => {
            Error::Unsupported("public-key operation not implemented in software")
        }
    }
}

impl<const ECC: bool> Job for HpreJob<ECC> {
    type Output = Bytes;
    const CLASS: Class = if ECC { Class::HpreEcc } else { Class::Hpre };
    const FAMILY: Family = Family::Pkey;

    fn size(&self) -> usize {
        self.input.len()
    }

    fn capable(&self, pool: &ClassPool) -> bool {
        !pool.all_lanes_soft() || soft_hpre_computes(self.alg, self.width, &self.key)
    }

    fn buffers(&mut self, _: QmVersion) -> Result<Buffers> {
        Ok(Buffers {
            input: (!self.input.is_empty()).then(|| self.input.clone()),
            output: Some(out_buf(self.out_len)),
            // The key block is read by the device: kept alive while the job is in flight.
            keep: Some(Arc::new(self.key.clone())),
        })
    }

    fn sqe(&self, tag: u32, _: &mut Scratch, bufs: &Buffers, version: QmVersion) -> Result<Sqe> {
        let input = if bufs.input().is_empty() {
            0
        } else {
            addr(bufs.input())
        };
        let mut req = HpreRequest::new(
            self.alg,
            self.width,
            addr(&self.key),
            input,
            addr(bufs.output()),
            u64::from(tag),
        );
        req.hpcore = self.hpcore;
        hpre_sqe(&req, version)
    }

    fn complete(&mut self, out: JobOutput, _: QmVersion) -> Result<Step<Bytes>> {
        match hpre::read_result(&out.sqe).outcome() {
            HpreOutcome::Ok => Ok(Step::Done(out.into_output().freeze())),
            outcome => {
                // The device's codes carry no documented meaning: let the CPU path say what is wrong.
                tracing::debug!(?outcome, alg = ?self.alg, "HPRE job failed on the device; rerun on the CPU");
                Ok(Step::Cpu)
            }
        }
    }

    fn cpu(self) -> Result<Bytes> {
        let job = pkey::PkeyJob {
            alg: self.alg,
            width: self.width,
            key: &self.key,
            input: &self.input,
            msg_len: 0,
            random_k: false,
        };
        match pkey::execute(&job).map_err(pkey_error)? {
            PkeyOutput::Data(d) => Ok(Bytes::from(d)),
            PkeyOutput::Verify(_) => Err(Error::Unsupported("verify jobs return no data")),
        }
    }
}

/// `v` without its leading zero bytes.
fn significant(v: &[u8]) -> &[u8] {
    let first = v.iter().position(|&b| b != 0).unwrap_or(v.len());
    &v[first..]
}

/// The RSA key width k for a modulus of `n_bytes` significant bytes, if the hardware takes it.
fn rsa_width(n_bytes: usize) -> Result<usize> {
    if layout::RSA_KEY_BYTES.contains(&n_bytes) {
        Ok(n_bytes)
    } else {
        Err(Error::InvalidParameter(
            "RSA modulus must be 1024, 2048, 3072 or 4096 bits",
        ))
    }
}

fn layout_err(_: hpre::HpreError) -> Error {
    Error::InvalidParameter("a number is longer than the key size")
}

impl Accel {
    async fn hpre<const ECC: bool>(&self, job: HpreJob<ECC>) -> Result<Bytes> {
        self.inner.execute(job).await
    }

    /// Raw RSA public operation `input^e mod n` (no padding: the caller pads), on an HPRE queue when there is one.
    /// `n`, `e` and `input` are big-endian; `n` must be 1024, 2048, 3072 or 4096 bits and `input` < n. Returns k
    /// bytes (k = the modulus size), big-endian.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), uacce_async::Error> {
    /// use uacce_async::{Accel, Backend};
    /// let accel = Accel::builder().backend(Backend::Emulated).build().await?;
    /// // A 1024-bit modulus made of 0xFF bytes is odd; 3^65537 mod n of the input 3.
    /// let n = [0xFFu8; 128];
    /// let out = accel.rsa_public_raw(&n, &[1, 0, 1], &[3]).await?;
    /// assert_eq!(out.len(), 128);
    /// # Ok(()) }
    /// ```
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the call changes no state of the [`Accel`](crate::Accel), so dropping the future only abandons
    /// the job. A job already on a device keeps its buffers until the device completes it (then they are freed); a
    /// CPU job not yet started is skipped, one already running finishes on its pool thread. The call can simply be
    /// made again.
    pub async fn rsa_public_raw(&self, n: &[u8], e: &[u8], input: &[u8]) -> Result<Bytes> {
        self.rsa_exp(n, e, input).await
    }

    /// Raw RSA private operation `input^d mod n` without CRT (no padding). As [`Accel::rsa_public_raw`].
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the call changes no state of the [`Accel`](crate::Accel), so dropping the future only abandons
    /// the job. A job already on a device keeps its buffers until the device completes it (then they are freed); a
    /// CPU job not yet started is skipped, one already running finishes on its pool thread. The call can simply be
    /// made again.
    pub async fn rsa_private_raw(&self, n: &[u8], d: &[u8], input: &[u8]) -> Result<Bytes> {
        self.rsa_exp(n, d, input).await
    }

    async fn rsa_exp(&self, n: &[u8], exp: &[u8], input: &[u8]) -> Result<Bytes> {
        let k = rsa_width(significant(n).len())?;
        let key = layout::rsa_key_block(exp, n, k).map_err(layout_err)?;
        let mut block = vec![0u8; k];
        layout::put_be(&mut block, input).map_err(layout_err)?;
        self.hpre(HpreJob::<false> {
            alg: HpreAlg::RsaNonCrt,
            width: k,
            key: key.into(),
            input: block.into(),
            out_len: k,
            hpcore: false,
        })
        .await
    }

    /// Raw RSA private operation with the CRT parameters (p, q, dp = d mod (p−1), dq = d mod (q−1), qinv = q⁻¹ mod
    /// p; all big-endian). The modulus size k is twice the longer of p and q and must be 1024…4096 bits; `input`
    /// < pq. Returns k bytes.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the call changes no state of the [`Accel`](crate::Accel), so dropping the future only abandons
    /// the job. A job already on a device keeps its buffers until the device completes it (then they are freed); a
    /// CPU job not yet started is skipped, one already running finishes on its pool thread. The call can simply be
    /// made again.
    pub async fn rsa_private_crt_raw(
        &self,
        p: &[u8],
        q: &[u8],
        dp: &[u8],
        dq: &[u8],
        qinv: &[u8],
        input: &[u8],
    ) -> Result<Bytes> {
        let k = rsa_width(2 * significant(p).len().max(significant(q).len()))?;
        let key = layout::rsa_crt_block(dq, dp, q, p, qinv, k).map_err(layout_err)?;
        let mut block = vec![0u8; k];
        layout::put_be(&mut block, input).map_err(layout_err)?;
        self.hpre(HpreJob::<false> {
            alg: HpreAlg::RsaCrt,
            width: k,
            key: key.into(),
            input: block.into(),
            out_len: k,
            hpcore: false,
        })
        .await
    }

    /// X25519 (RFC 7748): `scalar` and `u` little-endian as the RFC writes them, the result likewise. The scalar
    /// is clamped and u's top bit masked as the RFC says; a non-canonical u (≥ 2²⁵⁵ − 19) is reduced first (the
    /// hardware takes only u < p). Runs on an HPRE ECC queue (QM v3) when there is one.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), uacce_async::Error> {
    /// use uacce_async::{Accel, Backend};
    /// let accel = Accel::builder().backend(Backend::Emulated).build().await?;
    /// let (a, b) = ([0x11u8; 32], [0x22u8; 32]);
    /// let mut nine = [0u8; 32];
    /// nine[0] = 9;
    /// let pa = accel.x25519(&a, &nine).await?;
    /// let pb = accel.x25519(&b, &nine).await?;
    /// assert_eq!(accel.x25519(&a, &pb).await?, accel.x25519(&b, &pa).await?);
    /// # Ok(()) }
    /// ```
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the call changes no state of the [`Accel`](crate::Accel), so dropping the future only abandons
    /// the job. A job already on a device keeps its buffers until the device completes it (then they are freed); a
    /// CPU job not yet started is skipped, one already running finishes on its pool thread. The call can simply be
    /// made again.
    pub async fn x25519(&self, scalar: &[u8; 32], u: &[u8; 32]) -> Result<[u8; 32]> {
        let mut k = *scalar;
        k.reverse();
        hpre::x25519_clamp_be(&mut k);
        let mut ub = *u;
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
        let key = layout::x_dh_key_block(&X25519_P, &X25519_A24, &k, 32).map_err(layout_err)?;
        let out = self
            .hpre(HpreJob::<true> {
                alg: HpreAlg::XdhMultiply,
                width: 32,
                key: key.into(),
                input: Bytes::copy_from_slice(&ub),
                out_len: 32,
                hpcore: false,
            })
            .await?;
        let mut r: [u8; 32] = out[..]
            .try_into()
            .map_err(|_| Error::Device("X25519 result of the wrong length".into()))?;
        r.reverse();
        Ok(r)
    }

    /// ECDH on P-256: `private` · (x, y), big-endian 32-byte numbers; returns the shared x coordinate. A private
    /// scalar outside [1, n−1] or a point off the curve is [`Error::InvalidParameter`]. Runs on an HPRE ECC queue
    /// (QM v3) when there is one, with UADK's bd_rsv2 setting for the built-in P-256.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the call changes no state of the [`Accel`](crate::Accel), so dropping the future only abandons
    /// the job. A job already on a device keeps its buffers until the device completes it (then they are freed); a
    /// CPU job not yet started is skipped, one already running finishes on its pool thread. The call can simply be
    /// made again.
    pub async fn ecdh_p256(
        &self,
        private: &[u8; 32],
        x: &[u8; 32],
        y: &[u8; 32],
    ) -> Result<[u8; 32]> {
        let out = self.p256_multiply(private, x, y).await?;
        out[..32]
            .try_into()
            .map_err(|_| Error::Device("ECDH result of the wrong length".into()))
    }

    /// The P-256 public key (x, y) of `private`: `private` · G, as UADK's ECDH keygen computes it.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the call changes no state of the [`Accel`](crate::Accel), so dropping the future only abandons
    /// the job. A job already on a device keeps its buffers until the device completes it (then they are freed); a
    /// CPU job not yet started is skipped, one already running finishes on its pool thread. The call can simply be
    /// made again.
    pub async fn ecdh_p256_public(&self, private: &[u8; 32]) -> Result<([u8; 32], [u8; 32])> {
        let c = pkey::curve_params(CurveId::P256);
        let (gx, gy): ([u8; 32], [u8; 32]) = match (c.gx[..].try_into(), c.gy[..].try_into()) {
            (Ok(x), Ok(y)) => (x, y),
            _ => return Err(Error::Device("P-256 generator of the wrong length".into())),
        };
        let out = self.p256_multiply(private, &gx, &gy).await?;
        let mut x = [0u8; 32];
        let mut y = [0u8; 32];
        if out.len() != 64 {
            return Err(Error::Device("ECDH result of the wrong length".into()));
        }
        x.copy_from_slice(&out[..32]);
        y.copy_from_slice(&out[32..]);
        Ok((x, y))
    }

    async fn p256_multiply(&self, k: &[u8; 32], x: &[u8; 32], y: &[u8; 32]) -> Result<Bytes> {
        let c = pkey::curve_params(CurveId::P256);
        let params = c.layout();
        let mut key = layout::ecc_private_block(&params, k, 32).map_err(layout_err)?;
        // ECDH names the first five fields (p, a, k, b, n).
        key.truncate(layout::ecc_private::MULTIPLY_FIELDS * 32);
        let input = [&x[..], &y[..]].concat();
        self.hpre(HpreJob::<true> {
            alg: HpreAlg::EcdhMultiply,
            width: 32,
            key: key.into(),
            input: input.into(),
            out_len: 64,
            // UADK sets bd_rsv2 for the built-in secp256r1 on hw >= v3, and ECC queues are v3 only.
            hpcore: true,
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Equal strings compare equal, and a difference in any byte (in the words or the tail) or in the length does
    /// not.
    #[test]
    fn ct_eq_bytes_sees_every_byte() {
        for len in [0usize, 1, 7, 8, 9, 31, 256, 257] {
            let a: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
            assert!(ct_eq_bytes(&a, &a.clone()), "len {len}");
            for i in 0..len {
                for bit in [0x01u8, 0x80] {
                    let mut b = a.clone();
                    b[i] ^= bit;
                    assert!(!ct_eq_bytes(&a, &b), "len {len}, byte {i}, bit {bit:#x}");
                }
            }
            let mut longer = a.clone();
            longer.push(0);
            assert!(!ct_eq_bytes(&a, &longer));
        }
    }

    /// The ECDH multiply key block (p ‖ a ‖ k ‖ b ‖ n) of `curve` with the scalar 1.
    fn multiply_key(curve: CurveId) -> Vec<u8> {
        let c = pkey::curve_params(curve);
        let params = c.layout();
        let h = curve.width();
        let mut key = layout::ecc_private_block(&params, &[1], h).unwrap();
        key.truncate(layout::ecc_private::MULTIPLY_FIELDS * h);
        key
    }

    #[test]
    fn soft_hpre_computes_rsa_p256_ecdh_and_x25519_only() {
        let rsa = vec![0u8; 512];
        assert!(soft_hpre_computes(HpreAlg::RsaNonCrt, 256, &rsa));
        assert!(soft_hpre_computes(HpreAlg::RsaCrt, 512, &rsa));
        assert!(soft_hpre_computes(HpreAlg::XdhMultiply, 32, &[0; 96]));
        assert!(!soft_hpre_computes(HpreAlg::XdhMultiply, 72, &[0; 216]));
        assert!(soft_hpre_computes(
            HpreAlg::EcdhMultiply,
            32,
            &multiply_key(CurveId::P256)
        ));
        for other in [CurveId::Sm2, CurveId::P384, CurveId::P521] {
            let key = multiply_key(other);
            assert!(
                !soft_hpre_computes(HpreAlg::EcdhMultiply, other.width(), &key),
                "{other:?}"
            );
        }
        for alg in HpreAlg::ALL {
            if !matches!(
                alg,
                HpreAlg::RsaNonCrt | HpreAlg::RsaCrt | HpreAlg::XdhMultiply | HpreAlg::EcdhMultiply
            ) {
                assert!(!soft_hpre_computes(alg, 32, &[0; 256]), "{alg:?}");
            }
        }
    }
}
