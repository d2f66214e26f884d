//! ECC on the hardware's blocks (alg 0x0D–0x0F, 0x11–0x15): UADK's private block p ‖ a ‖ d ‖ b ‖ n ‖ Gx ‖ Gy and
//! public block p ‖ a ‖ b ‖ n ‖ Gx ‖ Gy ‖ Px ‖ Py, every field h bytes (§12.4).
//!
//! The curves are recognised by their parameters (the hardware never gets a name): P-256, P-384, P-521 and SM2,
//! with the arithmetic of RustCrypto's `p256`, `p384`, `p521` and `sm2` crates. A curve's parameters are taken from
//! those crates ([`curve_params`]), not typed in here.
//!
//! Checks, in the order applied: block lengths; the curve parameters (`UnknownCurve`: p, a, b always; n, Gx, Gy
//! too where the operation uses the generator, i.e. not on the ECDH multiply, whose fifth field the kernel fills
//! with Gx where UADK puts n); private scalars in [1, n−1] (`BadKey`); input points on the curve
//! (`NotOnCurve`); nonces in [1, n−1] and digests no wider than the curve (`BadInput`). A verify with r or s
//! outside [1, n−1] is a failed verify, not an error.

use elliptic_curve::bigint::Encoding;
use uacce_sys::qm::hpre::layout::{ecc_private, ecc_public, field};

use super::{PkeyError, fit};

/// A curve this engine implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CurveId {
    /// NIST P-256 (secp256r1): 32-byte numbers, h = 32.
    P256,
    /// NIST P-384 (secp384r1): 48-byte numbers, h = 48.
    P384,
    /// NIST P-521 (secp521r1): 66-byte numbers, h = 72.
    P521,
    /// SM2 (GB/T 32918.5 recommended curve): 32-byte numbers, h = 32.
    Sm2,
}

impl CurveId {
    /// Every implemented curve.
    pub const ALL: [CurveId; 4] = [CurveId::P256, CurveId::P384, CurveId::P521, CurveId::Sm2];

    /// Bytes of one number on the curve.
    pub const fn key_bytes(self) -> usize {
        match self {
            CurveId::P256 | CurveId::Sm2 => 32,
            CurveId::P384 => 48,
            CurveId::P521 => 66,
        }
    }

    /// The hardware field width h.
    pub const fn width(self) -> usize {
        match self {
            CurveId::P256 | CurveId::Sm2 => 32,
            CurveId::P384 => 48,
            CurveId::P521 => 72,
        }
    }
}

/// A curve's parameters, each [`CurveId::key_bytes`] long, big-endian: what a driver puts (right-aligned in h
/// bytes) in the key blocks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurveParams {
    /// The field prime.
    pub p: Vec<u8>,
    /// a.
    pub a: Vec<u8>,
    /// b.
    pub b: Vec<u8>,
    /// The group order.
    pub n: Vec<u8>,
    /// Generator x.
    pub gx: Vec<u8>,
    /// Generator y.
    pub gy: Vec<u8>,
}

impl CurveParams {
    /// The parameters as the hardware key-block writers (`uacce_sys::qm::hpre::layout`) take them.
    pub fn layout(&self) -> uacce_sys::qm::hpre::layout::CurveParams<'_> {
        uacce_sys::qm::hpre::layout::CurveParams {
            p: &self.p,
            a: &self.a,
            b: &self.b,
            n: &self.n,
            gx: &self.gx,
            gy: &self.gy,
        }
    }
}

/// The parameters of a curve, from its RustCrypto crate.
pub fn curve_params(id: CurveId) -> CurveParams {
    match id {
        CurveId::P256 => c_p256::params(),
        CurveId::P384 => c_p384::params(),
        CurveId::P521 => c_p521::params(),
        CurveId::Sm2 => c_sm2::params(),
    }
}

/// A big-endian number plus one (for p from p − 1).
fn plus_one(mut v: Vec<u8>) -> Vec<u8> {
    for b in v.iter_mut().rev() {
        let (s, carry) = b.overflowing_add(1);
        *b = s;
        if !carry {
            break;
        }
    }
    v
}

/// The `kb` low bytes of an h-byte field, if the bytes above are zero.
fn narrow(f: &[u8], kb: usize) -> Option<&[u8]> {
    if f.len() < kb || f[..f.len() - kb].iter().any(|&b| b != 0) {
        return None;
    }
    Some(&f[f.len() - kb..])
}

/// `v` right-aligned in `h` bytes (v is never wider: it is a curve number).
fn widen(v: &[u8], h: usize) -> Vec<u8> {
    fit(v, h).unwrap_or_else(|| vec![0; h])
}

/// Which of the curve parameters a check compares.
#[derive(Clone, Copy)]
enum Check {
    /// p, a, b (the ECDH multiply).
    Equation,
    /// p, a, b, n, Gx, Gy.
    Full,
}

/// Identify the curve of a block whose fields p, a, b, n, Gx, Gy sit at the given indices.
fn identify(block: &[u8], h: usize, idx: [usize; 6], check: Check) -> Result<CurveId, PkeyError> {
    let f = |i| field(block, h, i).ok_or(PkeyError::Length);
    let fields = [
        f(idx[0])?,
        f(idx[1])?,
        f(idx[2])?,
        f(idx[3])?,
        f(idx[4])?,
        f(idx[5])?,
    ];
    let used = match check {
        Check::Equation => 3,
        Check::Full => 6,
    };
    for id in CurveId::ALL {
        if id.width() != h {
            continue;
        }
        let c = curve_params(id);
        let want = [&c.p, &c.a, &c.b, &c.n, &c.gx, &c.gy];
        if (0..used).all(|i| fit(want[i], h).as_deref() == Some(fields[i])) {
            return Ok(id);
        }
    }
    Err(PkeyError::UnknownCurve)
}

const PRIV_IDX: [usize; 6] = [
    ecc_private::P,
    ecc_private::A,
    ecc_private::B,
    ecc_private::N,
    ecc_private::GX,
    ecc_private::GY,
];
const PUB_IDX: [usize; 6] = [
    ecc_public::P,
    ecc_public::A,
    ecc_public::B,
    ecc_public::N,
    ecc_public::GX,
    ecc_public::GY,
];

/// SM3 of the concatenation of `parts`.
fn sm3(parts: &[&[u8]]) -> [u8; 32] {
    use sm3::Digest;
    let mut h = sm3::Sm3::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// The SM2 key derivation function (GB/T 32918.4 §5.4.3): SM3(Z ‖ ct) for ct = 1, 2, … (32-bit big-endian),
/// concatenated and cut to `len` bytes. Software runs it on the split-SM2 path (messages over one SQE, protocol
/// doc §12.4), where the engine only multiplies points.
pub fn sm2_kdf(z: &[u8], len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 32);
    let mut ct: u32 = 1;
    while out.len() < len {
        out.extend_from_slice(&sm3(&[z, &ct.to_be_bytes()]));
        ct = ct.wrapping_add(1);
    }
    out.truncate(len);
    out
}

macro_rules! curve_ops {
    ($m:ident, $krate:ident, $C:ty, $U:ty, $kb:expr) => {
        // The SM2 operations are instantiated for every curve; only the SM2 curve's are called.
        #[allow(dead_code)]
        mod $m {
            use super::*;
            // `Field` gives `is_zero` to the scalars of the crates that have no inherent one.
            #[allow(unused_imports)]
            use elliptic_curve::ff::{Field, PrimeField};
            use elliptic_curve::group::Group;
            use elliptic_curve::ops::Reduce;
            use elliptic_curve::point::AffineCoordinates;
            use elliptic_curve::sec1::{EncodedPoint, FromEncodedPoint, ToEncodedPoint};
            use elliptic_curve::{Curve, NonZeroScalar};
            use primeorder::PrimeCurveParams;
            use $krate::{AffinePoint, FieldBytes, ProjectivePoint, Scalar};

            const KB: usize = $kb;

            pub(super) fn params() -> CurveParams {
                type Fe = <$C as PrimeCurveParams>::FieldElement;
                let g = AffinePoint::GENERATOR.to_encoded_point(false);
                CurveParams {
                    p: plus_one((-Fe::ONE).to_repr().to_vec()),
                    a: <$C as PrimeCurveParams>::EQUATION_A.to_repr().to_vec(),
                    b: <$C as PrimeCurveParams>::EQUATION_B.to_repr().to_vec(),
                    n: <$C as Curve>::ORDER.to_be_bytes().as_ref()[..].to_vec()[<$U>::BYTES - KB..]
                        .to_vec(),
                    gx: g.x().map(|x| x.to_vec()).unwrap_or_default(),
                    gy: g.y().map(|y| y.to_vec()).unwrap_or_default(),
                }
            }

            fn bytes(v: &[u8]) -> Option<FieldBytes> {
                if v.len() != KB {
                    return None;
                }
                Some(FieldBytes::clone_from_slice(v))
            }

            /// A scalar in [1, n−1] from an h-byte field.
            fn scalar_nz(f: &[u8]) -> Option<Scalar> {
                let s: Option<Scalar> = Scalar::from_repr(bytes(narrow(f, KB)?)?).into();
                s.filter(|s| !bool::from(s.is_zero()))
            }

            /// An h-byte number reduced mod n; `None` if it is wider than the curve.
            fn reduced(f: &[u8]) -> Option<Scalar> {
                Some(<Scalar as Reduce<$U>>::reduce_bytes(&bytes(narrow(
                    f, KB,
                )?)?))
            }

            fn point(x: &[u8], y: &[u8]) -> Result<ProjectivePoint, PkeyError> {
                let (x, y) = (
                    bytes(narrow(x, KB).ok_or(PkeyError::NotOnCurve)?).ok_or(PkeyError::Length)?,
                    bytes(narrow(y, KB).ok_or(PkeyError::NotOnCurve)?).ok_or(PkeyError::Length)?,
                );
                let ep = EncodedPoint::<$C>::from_affine_coordinates(&x, &y, false);
                let p: Option<AffinePoint> = AffinePoint::from_encoded_point(&ep).into();
                p.map(ProjectivePoint::from).ok_or(PkeyError::NotOnCurve)
            }

            /// (x, y) of a point, each h bytes; `Degenerate` at infinity.
            fn coords(p: &ProjectivePoint, h: usize) -> Result<(Vec<u8>, Vec<u8>), PkeyError> {
                let ep = p.to_affine().to_encoded_point(false);
                match (ep.x(), ep.y()) {
                    (Some(x), Some(y)) => Ok((widen(x, h), widen(y, h))),
                    _ => Err(PkeyError::Degenerate),
                }
            }

            fn x_mod_n(p: &ProjectivePoint) -> Scalar {
                <Scalar as Reduce<$U>>::reduce_bytes(&p.to_affine().x())
            }

            fn random_scalar() -> Scalar {
                *NonZeroScalar::<$C>::random(&mut rand_core::OsRng)
            }

            fn cat(parts: &[&[u8]]) -> Vec<u8> {
                parts.concat()
            }

            pub(super) fn multiply(
                key: &[u8],
                input: &[u8],
                h: usize,
            ) -> Result<Vec<u8>, PkeyError> {
                let k = scalar_nz(field(key, h, ecc_private::D).ok_or(PkeyError::Length)?)
                    .ok_or(PkeyError::BadKey)?;
                let p = point(&input[..h], &input[h..2 * h])?;
                let (x, y) = coords(&(p * k), h)?;
                Ok(cat(&[&x, &y]))
            }

            pub(super) fn ecdsa_sign(
                key: &[u8],
                input: &[u8],
                h: usize,
            ) -> Result<Vec<u8>, PkeyError> {
                let d = scalar_nz(field(key, h, ecc_private::D).ok_or(PkeyError::Length)?)
                    .ok_or(PkeyError::BadKey)?;
                let e = reduced(&input[..h]).ok_or(PkeyError::BadInput)?;
                let k = scalar_nz(&input[h..2 * h]).ok_or(PkeyError::BadInput)?;
                let r = x_mod_n(&(ProjectivePoint::GENERATOR * k));
                if bool::from(r.is_zero()) {
                    return Err(PkeyError::Degenerate);
                }
                let kinv: Option<Scalar> = k.invert().into();
                let s = kinv.ok_or(PkeyError::Degenerate)? * (e + r * d);
                if bool::from(s.is_zero()) {
                    return Err(PkeyError::Degenerate);
                }
                Ok(cat(&[&widen(&r.to_repr(), h), &widen(&s.to_repr(), h)]))
            }

            pub(super) fn ecdsa_verify(
                key: &[u8],
                input: &[u8],
                h: usize,
            ) -> Result<bool, PkeyError> {
                let q = point(
                    field(key, h, ecc_public::PX).ok_or(PkeyError::Length)?,
                    field(key, h, ecc_public::PY).ok_or(PkeyError::Length)?,
                )?;
                let e = reduced(&input[..h]).ok_or(PkeyError::BadInput)?;
                // e ‖ s ‖ r: s before r (§12.4).
                let (Some(s), Some(r)) =
                    (scalar_nz(&input[h..2 * h]), scalar_nz(&input[2 * h..3 * h]))
                else {
                    return Ok(false);
                };
                let winv: Option<Scalar> = s.invert().into();
                let w = winv.ok_or(PkeyError::BadInput)?;
                let big_r = ProjectivePoint::GENERATOR * (e * w) + q * (r * w);
                if bool::from(big_r.is_identity()) {
                    return Ok(false);
                }
                Ok(x_mod_n(&big_r) == r)
            }

            pub(super) fn sm2_sign(
                key: &[u8],
                input: &[u8],
                h: usize,
                random_k: bool,
            ) -> Result<Vec<u8>, PkeyError> {
                let d = scalar_nz(field(key, h, ecc_private::D).ok_or(PkeyError::Length)?)
                    .ok_or(PkeyError::BadKey)?;
                let inv: Option<Scalar> = (Scalar::ONE + d).invert().into();
                let d1 = inv.ok_or(PkeyError::BadKey)?;
                let e = reduced(&input[..h]).ok_or(PkeyError::BadInput)?;
                let k = if random_k {
                    random_scalar()
                } else {
                    scalar_nz(&input[h..2 * h]).ok_or(PkeyError::BadInput)?
                };
                let r = e + x_mod_n(&(ProjectivePoint::GENERATOR * k));
                if bool::from(r.is_zero()) || bool::from((r + k).is_zero()) {
                    return Err(PkeyError::Degenerate);
                }
                let s = d1 * (k - r * d);
                if bool::from(s.is_zero()) {
                    return Err(PkeyError::Degenerate);
                }
                Ok(cat(&[&widen(&r.to_repr(), h), &widen(&s.to_repr(), h)]))
            }

            pub(super) fn sm2_verify(
                key: &[u8],
                input: &[u8],
                h: usize,
            ) -> Result<bool, PkeyError> {
                let q = point(
                    field(key, h, ecc_public::PX).ok_or(PkeyError::Length)?,
                    field(key, h, ecc_public::PY).ok_or(PkeyError::Length)?,
                )?;
                let e = reduced(&input[..h]).ok_or(PkeyError::BadInput)?;
                let (Some(s), Some(r)) =
                    (scalar_nz(&input[h..2 * h]), scalar_nz(&input[2 * h..3 * h]))
                else {
                    return Ok(false);
                };
                let t = r + s;
                if bool::from(t.is_zero()) {
                    return Ok(false);
                }
                let p = ProjectivePoint::GENERATOR * s + q * t;
                if bool::from(p.is_identity()) {
                    return Ok(false);
                }
                Ok(e + x_mod_n(&p) == r)
            }

            pub(super) fn sm2_keygen(input: &[u8], h: usize) -> Result<Vec<u8>, PkeyError> {
                let g = point(&input[..h], &input[h..2 * h])?;
                let d = random_scalar();
                // d = n − 1 would make (1 + d) non-invertible in signing: draw again (probability ~2^-256).
                let d = if bool::from((Scalar::ONE + d).is_zero()) {
                    Scalar::ONE
                } else {
                    d
                };
                let (x, y) = coords(&(g * d), h)?;
                Ok(cat(&[&x, &y, &widen(&d.to_repr(), h)]))
            }

            pub(super) fn sm2_encrypt(
                key: &[u8],
                input: &[u8],
                h: usize,
                mlen: usize,
                random_k: bool,
            ) -> Result<Vec<u8>, PkeyError> {
                let pb = point(
                    field(key, h, ecc_public::PX).ok_or(PkeyError::Length)?,
                    field(key, h, ecc_public::PY).ok_or(PkeyError::Length)?,
                )
                .map_err(|_| PkeyError::BadKey)?;
                let k = if random_k {
                    random_scalar()
                } else {
                    scalar_nz(&input[..h]).ok_or(PkeyError::BadInput)?
                };
                let m = input.get(h..h + mlen).ok_or(PkeyError::Length)?;
                let (c1x, c1y) = coords(&(ProjectivePoint::GENERATOR * k), h)?;
                let (x2, y2) = coords(&(pb * k), h)?;
                let (x2, y2) = (&x2[h - KB..], &y2[h - KB..]);
                let t = sm2_kdf(&cat(&[x2, y2]), mlen);
                if t.iter().all(|&b| b == 0) {
                    return Err(PkeyError::Degenerate);
                }
                let c2: Vec<u8> = m.iter().zip(&t).map(|(a, b)| a ^ b).collect();
                let c3 = sm3(&[x2, m, y2]);
                Ok(cat(&[&c1x, &c1y, &c2, &c3]))
            }

            pub(super) fn sm2_decrypt(
                key: &[u8],
                input: &[u8],
                h: usize,
                mlen: usize,
            ) -> Result<Vec<u8>, PkeyError> {
                let d = scalar_nz(field(key, h, ecc_private::D).ok_or(PkeyError::Length)?)
                    .ok_or(PkeyError::BadKey)?;
                let c1 = point(&input[..h], &input[h..2 * h])?;
                let c2 = input.get(2 * h..2 * h + mlen).ok_or(PkeyError::Length)?;
                let c3 = input
                    .get(2 * h + mlen..2 * h + mlen + 32)
                    .ok_or(PkeyError::Length)?;
                let (x2, y2) = coords(&(c1 * d), h)?;
                let (x2, y2) = (&x2[h - KB..], &y2[h - KB..]);
                let t = sm2_kdf(&cat(&[x2, y2]), mlen);
                if t.iter().all(|&b| b == 0) {
                    return Err(PkeyError::DecryptCheck);
                }
                let m: Vec<u8> = c2.iter().zip(&t).map(|(a, b)| a ^ b).collect();
                let u = sm3(&[x2, &m, y2]);
                // Not secret-dependent timing in the usual sense (the whole message is out), but compare in
                // constant time anyway.
                use subtle::ConstantTimeEq;
                if !bool::from(u.ct_eq(c3)) {
                    return Err(PkeyError::DecryptCheck);
                }
                Ok(m)
            }
        }
    };
}

curve_ops!(c_p256, p256, p256::NistP256, p256::U256, 32);
curve_ops!(c_p384, p384, p384::NistP384, p384::U384, 48);
curve_ops!(c_p521, p521, p521::NistP521, p521::U576, 66);
curve_ops!(c_sm2, sm2, sm2::Sm2, sm2::U256, 32);

macro_rules! dispatch {
    ($id:expr, $f:ident ( $($arg:expr),* )) => {
        match $id {
            CurveId::P256 => c_p256::$f($($arg),*),
            CurveId::P384 => c_p384::$f($($arg),*),
            CurveId::P521 => c_p521::$f($($arg),*),
            CurveId::Sm2 => c_sm2::$f($($arg),*),
        }
    };
}

/// ECDH_MULTIPLY (0x0D): key = p ‖ a ‖ k ‖ b ‖ (n or Gx), in = x ‖ y, out = k·(x, y).
pub(super) fn multiply(key: &[u8], input: &[u8], h: usize) -> Result<Vec<u8>, PkeyError> {
    // p, a, b sit at 0, 1, 3 of the 5-field block (the order of the private block).
    let id = identify(key, h, [0, 1, 3, 0, 0, 0], Check::Equation)?;
    dispatch!(id, multiply(key, input, h))
}

/// ECDSA sign (0x0E): key = private block, in = e ‖ k, out = r ‖ s.
pub(super) fn ecdsa_sign(key: &[u8], input: &[u8], h: usize) -> Result<Vec<u8>, PkeyError> {
    let id = identify(key, h, PRIV_IDX, Check::Full)?;
    dispatch!(id, ecdsa_sign(key, input, h))
}

/// ECDSA verify (0x0F): key = public block, in = e ‖ s ‖ r.
pub(super) fn ecdsa_verify(key: &[u8], input: &[u8], h: usize) -> Result<bool, PkeyError> {
    let id = identify(key, h, PUB_IDX, Check::Full)?;
    dispatch!(id, ecdsa_verify(key, input, h))
}

fn sm2_curve(block: &[u8], h: usize, idx: [usize; 6]) -> Result<CurveId, PkeyError> {
    match identify(block, h, idx, Check::Full)? {
        CurveId::Sm2 => Ok(CurveId::Sm2),
        _ => Err(PkeyError::UnknownCurve),
    }
}

/// SM2 keygen (0x11): key = public block (its Px, Py are not read), in = Gx ‖ Gy, out = Px ‖ Py ‖ d with d
/// from the OS RNG (the hardware's RNG).
pub(super) fn sm2_keygen(key: &[u8], input: &[u8], h: usize) -> Result<Vec<u8>, PkeyError> {
    sm2_curve(key, h, PUB_IDX)?;
    c_sm2::sm2_keygen(input, h)
}

/// SM2 sign (0x12): key = private block, in = e ‖ k (k ignored when `random_k`), out = r ‖ s.
pub(super) fn sm2_sign(
    key: &[u8],
    input: &[u8],
    h: usize,
    random_k: bool,
) -> Result<Vec<u8>, PkeyError> {
    sm2_curve(key, h, PRIV_IDX)?;
    c_sm2::sm2_sign(key, input, h, random_k)
}

/// SM2 verify (0x13): key = public block, in = e ‖ s ‖ r.
pub(super) fn sm2_verify(key: &[u8], input: &[u8], h: usize) -> Result<bool, PkeyError> {
    sm2_curve(key, h, PUB_IDX)?;
    c_sm2::sm2_verify(key, input, h)
}

/// SM2 encrypt, one SQE (0x14): key = public block, in = k ‖ M, out = C1x ‖ C1y ‖ C2 ‖ C3.
pub(super) fn sm2_encrypt(
    key: &[u8],
    input: &[u8],
    h: usize,
    mlen: usize,
    random_k: bool,
) -> Result<Vec<u8>, PkeyError> {
    sm2_curve(key, h, PUB_IDX)?;
    c_sm2::sm2_encrypt(key, input, h, mlen, random_k)
}

/// SM2 decrypt, one SQE (0x15): key = private block, in = C1x ‖ C1y ‖ C2 ‖ C3, out = M.
pub(super) fn sm2_decrypt(
    key: &[u8],
    input: &[u8],
    h: usize,
    mlen: usize,
) -> Result<Vec<u8>, PkeyError> {
    sm2_curve(key, h, PRIV_IDX)?;
    c_sm2::sm2_decrypt(key, input, h, mlen)
}
