//! ES384 (ECDSA over P-384 with SHA-384) signing that can stop after any step and resume later.
//!
//! The signature is exactly the one `p384::ecdsa::SigningKey::sign_prehash` gives (RFC 6979
//! deterministic nonce, no low-S normalisation); only the expensive part, R = k·G, is split up:
//! * [`Signer::new`] derives k (HMAC-DRBG, cheap) and sets up the table of 0·G … 15·G;
//! * each [`Signer::step`] does one bounded piece of work: one table entry (one point addition),
//!   or one 4-bit window of k (four doublings, one constant-time table lookup, one addition);
//! * the last step converts R to affine and computes s = k⁻¹(z + r·d).
//!
//! 14 + 96 + 1 = 111 steps per signature; the caller checks for a pending interrupt between
//! steps, so the latency before Warden yields is one step. The scalar multiplication has a fixed
//! sequence of operations whatever k is (complete addition formulas, constant-time selection).
//!
//! The whole state is plain integers (field elements, scalars, counters) so that it can be kept
//! as bytes in a REC auxiliary granule between RSI calls ([`Signer::as_bytes`],
//! [`Signer::from_bytes`]).

use core::mem::size_of;

use p384::elliptic_curve::bigint::U384;
use p384::elliptic_curve::group::Group;
use p384::elliptic_curve::ops::Reduce;
use p384::elliptic_curve::point::AffineCoordinates;
use p384::elliptic_curve::subtle::{ConditionallySelectable, ConstantTimeEq};
use p384::elliptic_curve::{Curve, PrimeField};
use p384::{NistP384, ProjectivePoint, Scalar};
use sha2::Sha384;

/// Table entries: multiples 0·G … 15·G of the generator (4-bit windows).
const TABLE: usize = 16;
/// Steps that fill the table (entries 2…15; 0 and 1 are free).
const TABLE_STEPS: u32 = TABLE as u32 - 2;
/// 4-bit windows in a 384-bit scalar.
const WINDOWS: u32 = 96;
/// Every step of one signature.
pub const STEPS: u32 = TABLE_STEPS + WINDOWS + 1;

/// Bytes of an ES384 signature (r ‖ s, big-endian).
pub const SIGNATURE_BYTES: usize = 96;

/// The signing key cannot be used (zero or not below the group order).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BadKey;

/// One ES384 signature in progress. See the module docs.
#[derive(Clone)]
#[repr(C)]
pub struct Signer {
    table: [ProjectivePoint; TABLE],
    acc: ProjectivePoint,
    d: Scalar,
    k: Scalar,
    z: Scalar,
    step: u64,
    /// r ‖ s once done.
    signature: [u8; SIGNATURE_BYTES],
}

// The byte view below relies on the state being integers only, with no padding: every field is a
// whole number of u64 words.
const _: () = {
    assert!(size_of::<ProjectivePoint>() == 3 * 48);
    assert!(size_of::<Scalar>() == 48);
    assert!(size_of::<Signer>() == (TABLE + 1) * 144 + 3 * 48 + 8 + SIGNATURE_BYTES);
};

/// Bytes of a [`Signer`] kept between calls.
pub const SIGNER_BYTES: usize = size_of::<Signer>();

/// The private scalar from its 48 big-endian bytes.
pub fn secret_scalar(d: &[u8; 48]) -> Result<Scalar, BadKey> {
    let s: Option<Scalar> = Scalar::from_repr((*d).into()).into();
    s.filter(|s| !bool::from(s.is_zero())).ok_or(BadKey)
}

/// The public point d·G as SEC1 coordinates (x, y), 48 big-endian bytes each.
pub fn public_key(d: &[u8; 48]) -> Result<([u8; 48], [u8; 48]), BadKey> {
    let d = secret_scalar(d)?;
    let p = (ProjectivePoint::GENERATOR * d).to_affine();
    let enc = p384::elliptic_curve::sec1::ToSec1Point::to_sec1_point(&p, false);
    let bytes = enc.as_bytes();
    let mut x = [0u8; 48];
    let mut y = [0u8; 48];
    x.copy_from_slice(&bytes[1..49]);
    y.copy_from_slice(&bytes[49..97]);
    Ok((x, y))
}

fn reduce(bytes: &[u8; 48]) -> Scalar {
    <Scalar as Reduce<U384>>::reduce(&U384::from_be_slice(bytes))
}

impl Signer {
    /// Starts signing the SHA-384 digest `prehash` with the private key `d` (big-endian).
    pub fn new(d: &[u8; 48], prehash: &[u8; 48]) -> Result<Self, BadKey> {
        let d_scalar = secret_scalar(d)?;
        let order = NistP384::ORDER;
        let mut kgen = rfc6979::KGenerator::<Sha384, U384>::new(d, prehash, &[], order.as_ref());
        // The first candidate is below n and non-zero except with negligible probability; the
        // loop is what RFC 6979 (and the one-shot signer) does in that case.
        let k = loop {
            let mut kb = [0u8; 48];
            kgen.fill_next_k(&mut kb);
            let k: Option<Scalar> = Scalar::from_repr(kb.into()).into();
            if let Some(k) = k.filter(|k| !bool::from(k.is_zero())) {
                break k;
            }
        };
        let mut table = [ProjectivePoint::IDENTITY; TABLE];
        table[1] = ProjectivePoint::GENERATOR;
        Ok(Self {
            table,
            acc: ProjectivePoint::IDENTITY,
            d: d_scalar,
            k,
            z: reduce(prehash),
            step: 0,
            signature: [0; SIGNATURE_BYTES],
        })
    }

    /// Whether every step is done ([`Signer::signature`] is valid).
    pub fn done(&self) -> bool {
        self.step >= u64::from(STEPS)
    }

    /// Steps done so far.
    pub fn steps_done(&self) -> u32 {
        self.step.min(u64::from(STEPS)) as u32
    }

    /// The signature r ‖ s (valid once [`Signer::done`]).
    pub fn signature(&self) -> &[u8; SIGNATURE_BYTES] {
        &self.signature
    }

    /// Does the next step. Returns whether the signature is complete.
    pub fn step(&mut self) -> bool {
        let step = self.step;
        if step < u64::from(TABLE_STEPS) {
            let i = step as usize + 2;
            self.table[i] = self.table[i - 1] + ProjectivePoint::GENERATOR;
        } else if step < u64::from(TABLE_STEPS + WINDOWS) {
            let w = (step - u64::from(TABLE_STEPS)) as usize;
            // Windows from the most significant nibble of k down.
            let repr = self.k.to_repr();
            let byte = repr[w / 2];
            let nibble = if w.is_multiple_of(2) {
                byte >> 4
            } else {
                byte & 0xF
            };
            let mut acc = self.acc;
            for _ in 0..4 {
                acc = acc.double();
            }
            let mut pick = ProjectivePoint::IDENTITY;
            for (j, entry) in self.table.iter().enumerate() {
                pick.conditional_assign(entry, (j as u8).ct_eq(&nibble));
            }
            self.acc = acc + pick;
        } else if step == u64::from(TABLE_STEPS + WINDOWS) {
            self.finish();
        }
        self.step = step.saturating_add(1);
        self.done()
    }

    fn finish(&mut self) {
        let x: [u8; 48] = self.acc.to_affine().x().into();
        let r = reduce(&x);
        let k_inv: Scalar = Option::from(self.k.invert()).expect("k is non-zero");
        let s = k_inv * (self.z + r * self.d);
        // r = 0 or s = 0 happens with probability ~2^-384; the one-shot signer would then try the
        // next k. Treat it as impossible, as every deployed signer does, but never emit it.
        assert!(
            !bool::from(r.is_zero()) && !bool::from(s.is_zero()),
            "degenerate ECDSA signature"
        );
        self.signature[..48].copy_from_slice(&r.to_repr());
        self.signature[48..].copy_from_slice(&s.to_repr());
        // The nonce and key are not needed any more.
        self.k = Scalar::ZERO;
        self.d = Scalar::ZERO;
    }

    /// The state as bytes (to keep it in a REC auxiliary granule).
    pub fn as_bytes(&self) -> &[u8; SIGNER_BYTES] {
        // SAFETY: `Signer` is `repr(C)`, made only of u64-word integers (field elements, scalars,
        // a counter) and bytes, with no padding (checked above), so every byte is initialised.
        unsafe { &*(self as *const Self).cast::<[u8; SIGNER_BYTES]>() }
    }

    /// A state from bytes that [`Signer::as_bytes`] produced.
    ///
    /// Any bytes give a value that is safe to use (every field is plain integers); bytes that did
    /// not come from `as_bytes` give a wrong signature, never undefined behaviour.
    pub fn from_bytes(bytes: &[u8; SIGNER_BYTES]) -> Self {
        // SAFETY: every field of `Signer` is plain integer words for which any bit pattern is a
        // valid value (see the module docs); `read_unaligned` copes with any alignment.
        unsafe { core::ptr::read_unaligned(bytes.as_ptr().cast::<Self>()) }
    }
}

impl Drop for Signer {
    fn drop(&mut self) {
        // Do not leave the nonce or key on the stack.
        self.k = Scalar::ZERO;
        self.d = Scalar::ZERO;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use p384::ecdsa::signature::hazmat::{PrehashSigner, PrehashVerifier};
    use p384::ecdsa::{Signature, SigningKey, VerifyingKey};
    use sha2::Digest;

    fn key(seed: u8) -> [u8; 48] {
        let h = Sha384::digest([seed]);
        let mut d = [0u8; 48];
        d.copy_from_slice(&h);
        d
    }

    #[test]
    fn incremental_signature_equals_the_one_shot_signature() {
        for seed in 0..4u8 {
            let d = key(seed);
            let z: [u8; 48] = Sha384::digest([seed, 0xAA]).into();
            let mut s = Signer::new(&d, &z).unwrap();
            let mut steps = 0;
            while !s.step() {
                steps += 1;
            }
            assert_eq!(steps + 1, STEPS);
            let sk = SigningKey::from_bytes(&d.into()).unwrap();
            let want: Signature = sk.sign_prehash(&z).unwrap();
            assert_eq!(s.signature().as_slice(), want.to_bytes().as_slice());
            let vk = VerifyingKey::from(&sk);
            vk.verify_prehash(&z, &Signature::from_slice(s.signature()).unwrap())
                .unwrap();
            let (x, y) = public_key(&d).unwrap();
            let point = vk.to_sec1_point(false);
            assert_eq!(&point.as_bytes()[1..49], &x);
            assert_eq!(&point.as_bytes()[49..], &y);
        }
    }

    #[test]
    fn state_survives_a_round_trip_through_bytes_at_every_step() {
        let d = key(9);
        let z: [u8; 48] = Sha384::digest(b"resume").into();
        let mut straight = Signer::new(&d, &z).unwrap();
        while !straight.step() {}
        let mut s = Signer::new(&d, &z).unwrap();
        loop {
            let mut stash = [0u8; SIGNER_BYTES];
            stash.copy_from_slice(s.as_bytes());
            drop(s);
            s = Signer::from_bytes(&stash);
            if s.step() {
                break;
            }
        }
        assert_eq!(s.signature(), straight.signature());
    }

    #[test]
    fn bad_keys_are_refused() {
        assert!(Signer::new(&[0; 48], &[0; 48]).is_err());
        assert!(Signer::new(&[0xFF; 48], &[0; 48]).is_err());
    }
}
