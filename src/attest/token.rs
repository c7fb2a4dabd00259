//! The CCA attestation token's encoding (RMM 1.0-rel0; spec file §10.5).
//!
//! ```text
//! CCA token   = #6.399({ 44234: bstr(platform token), 44241: bstr(realm token) })
//! realm token = #6.18([ bstr({1: -35}), {}, bstr(claims), bstr(r ‖ s) ])     ; COSE_Sign1, ES384
//! claims      = { 10: challenge (64 B), 265: profile, 44235: RPV (64 B), 44236: hash algo,
//!                 44237: bstr(COSE_Key of the RAK), 44238: RIM, 44239: [4 × REM], 44240: "sha-256" }
//! ```
//! Maps are written in ascending key order (which is also deterministic-CBOR order here), heads in
//! their shortest form, measurements at their digest length (32 bytes for SHA-256, 64 for
//! SHA-512). The signature covers the COSE `Sig_structure`
//! `["Signature1", bstr({1: -35}), h'', bstr(claims)]`, hashed with SHA-384.

use sha2::{Digest, Sha384};
use warden_abi::rtt::RmiHashAlgorithm;

use super::cbor::{Overflow, Writer, head_len, int_len, str_len};
use super::sign::SIGNATURE_BYTES;

/// CBOR tag of the CCA token collection (CMW collection).
pub const TAG_CCA_TOKEN: u64 = 399;
/// CBOR tag of `COSE_Sign1`.
pub const TAG_COSE_SIGN1: u64 = 18;
/// Collection key of the platform token.
pub const KEY_PLATFORM_TOKEN: i64 = 44234;
/// Collection key of the Realm token.
pub const KEY_REALM_TOKEN: i64 = 44241;

/// Realm claim keys.
pub mod claim {
    /// Challenge (EAT nonce).
    pub const CHALLENGE: i64 = 10;
    /// EAT profile.
    pub const PROFILE: i64 = 265;
    /// Realm personalisation value.
    pub const RPV: i64 = 44235;
    /// Hash algorithm of the RIM and REMs.
    pub const HASH_ALGO_ID: i64 = 44236;
    /// Realm public key (the RAK, a COSE_Key).
    pub const PUB_KEY: i64 = 44237;
    /// Realm initial measurement.
    pub const RIM: i64 = 44238;
    /// Realm extensible measurements.
    pub const REM: i64 = 44239;
    /// Hash algorithm of the public key's hash (the platform token's challenge).
    pub const PUB_KEY_HASH_ALGO_ID: i64 = 44240;
}

/// The Realm token's EAT profile.
pub const REALM_PROFILE: &str = "tag:arm.com,2023:realm#1.0.0";
/// The protected header of an ES384 `COSE_Sign1`: `{1 (alg): -35 (ES384)}`.
pub const PROTECTED_ES384: [u8; 4] = [0xA1, 0x01, 0x38, 0x22];
/// The hash algorithm of the RAK's public-key hash (the platform challenge).
pub const PUB_KEY_HASH_ALGO: &str = "sha-256";

/// Bytes of the RAK's COSE_Key: `{1: 2 (EC2), -1: 2 (P-384), -2: x, -3: y}`.
pub const COSE_KEY_BYTES: usize = 1 + 2 + 2 + (3 + 48) + (3 + 48);

/// The IANA name of a measurement hash algorithm.
pub fn hash_algo_name(algo: RmiHashAlgorithm) -> &'static str {
    match algo {
        RmiHashAlgorithm::Sha256 => "sha-256",
        RmiHashAlgorithm::Sha512 => "sha-512",
    }
}

/// Encodes a P-384 public key (affine x, y) as a COSE_Key.
pub fn cose_key_p384(x: &[u8; 48], y: &[u8; 48]) -> [u8; COSE_KEY_BYTES] {
    let mut out = [0u8; COSE_KEY_BYTES];
    let mut w = Writer::new(&mut out);
    let r: Result<(), Overflow> = (|| {
        w.map(4)?
            .int(1)?
            .int(2)?
            .int(-1)?
            .int(2)?
            .int(-2)?
            .bstr(x)?
            .int(-3)?
            .bstr(y)?;
        Ok(())
    })();
    r.expect("COSE_KEY_BYTES is exact");
    debug_assert_eq!(w.len(), COSE_KEY_BYTES);
    out
}

/// What the Realm token says.
pub struct RealmClaims<'a> {
    /// The Realm's challenge.
    pub challenge: &'a [u8; 64],
    /// The Realm personalisation value.
    pub rpv: &'a [u8; 64],
    /// The Realm's measurement algorithm.
    pub algo: RmiHashAlgorithm,
    /// The RAK as a COSE_Key.
    pub rak_pub: &'a [u8],
    /// The RIM (zero-extended slot; only the digest length is used).
    pub rim: &'a [u8; 64],
    /// The four REMs (zero-extended slots).
    pub rems: [&'a [u8; 64]; 4],
}

/// Largest claims payload: SHA-512 measurements.
pub const MAX_CLAIMS_BYTES: usize = 1 // map head
    + (1 + 2 + 64) // challenge
    + (3 + 2 + REALM_PROFILE.len())
    + (3 + 2 + 64) // RPV
    + (3 + 1 + 7) // hash algo
    + (3 + 2 + COSE_KEY_BYTES)
    + (3 + 2 + 64) // RIM
    + (3 + 1 + 4 * (2 + 64)) // REMs
    + (3 + 1 + 7);

/// Bytes of a `COSE_Sign1_Tagged` (ES384, empty unprotected header) around `payload` bytes.
pub const fn sign1_len(payload: usize) -> usize {
    head_len(TAG_COSE_SIGN1)
        + 1
        + str_len(PROTECTED_ES384.len())
        + 1
        + str_len(payload)
        + str_len(SIGNATURE_BYTES)
}

/// Largest Realm token.
pub const MAX_REALM_TOKEN_BYTES: usize = sign1_len(MAX_CLAIMS_BYTES);

/// Encodes the claims map into `out`; returns its length.
pub fn encode_claims(c: &RealmClaims<'_>, out: &mut [u8]) -> Result<usize, Overflow> {
    let len = c.algo.digest_len();
    let mut w = Writer::new(out);
    w.map(8)?;
    w.int(claim::CHALLENGE)?.bstr(c.challenge)?;
    w.int(claim::PROFILE)?.tstr(REALM_PROFILE)?;
    w.int(claim::RPV)?.bstr(c.rpv)?;
    w.int(claim::HASH_ALGO_ID)?.tstr(hash_algo_name(c.algo))?;
    w.int(claim::PUB_KEY)?.bstr(c.rak_pub)?;
    w.int(claim::RIM)?.bstr(&c.rim[..len])?;
    w.int(claim::REM)?.array(4)?;
    for rem in c.rems {
        w.bstr(&rem[..len])?;
    }
    w.int(claim::PUB_KEY_HASH_ALGO_ID)?
        .tstr(PUB_KEY_HASH_ALGO)?;
    Ok(w.len())
}

/// The SHA-384 digest ES384 signs for `payload` under the ES384 protected header: the hash of
/// `["Signature1", bstr(protected), h'', bstr(payload)]`.
pub fn sig_structure_digest(payload: &[u8]) -> [u8; 48] {
    let mut head = [0u8; 32];
    let mut w = Writer::new(&mut head);
    let n = (|| -> Result<usize, Overflow> {
        w.array(4)?
            .tstr("Signature1")?
            .bstr(&PROTECTED_ES384)?
            .bstr(&[])?
            .head(super::cbor::Major::Bstr, payload.len() as u64)?;
        Ok(w.len())
    })()
    .expect("the Sig_structure head fits");
    let mut h = Sha384::new();
    h.update(&head[..n]);
    h.update(payload);
    h.finalize().into()
}

/// Writes a `COSE_Sign1_Tagged` around `payload` into `out`, with a zero signature; returns the
/// total length and the digest to sign. The signature is the last [`SIGNATURE_BYTES`] bytes.
pub fn sign1_unsigned(payload: &[u8], out: &mut [u8]) -> Result<(usize, [u8; 48]), Overflow> {
    let mut w = Writer::new(out);
    w.tag(TAG_COSE_SIGN1)?
        .array(4)?
        .bstr(&PROTECTED_ES384)?
        .map(0)?
        .bstr(payload)?
        .bstr(&[0; SIGNATURE_BYTES])?;
    let len = w.len();
    debug_assert_eq!(len, sign1_len(payload.len()));
    Ok((len, sig_structure_digest(payload)))
}

/// Bytes of the CCA token before the platform token: tag, map head, key, bstr head.
pub const fn prefix_len(platform: usize) -> usize {
    head_len(TAG_CCA_TOKEN) + 1 + int_len(KEY_PLATFORM_TOKEN) + head_len(platform as u64)
}

/// Bytes between the platform token and the Realm token: key, bstr head.
pub const fn middle_len(realm: usize) -> usize {
    int_len(KEY_REALM_TOKEN) + head_len(realm as u64)
}

/// Bytes of the CCA token around a platform token and a Realm token of these sizes.
pub const fn cca_len(platform: usize, realm: usize) -> usize {
    prefix_len(platform) + platform + middle_len(realm) + realm
}

/// Writes the CCA token's prefix (before the platform token); returns its length.
pub fn write_prefix(platform: usize, out: &mut [u8; 16]) -> usize {
    let mut w = Writer::new(out);
    w.tag(TAG_CCA_TOKEN)
        .and_then(|w| w.map(2))
        .and_then(|w| w.int(KEY_PLATFORM_TOKEN))
        .and_then(|w| w.head(super::cbor::Major::Bstr, platform as u64))
        .expect("fits");
    w.len()
}

/// Writes the bytes between the platform and Realm tokens; returns their length.
pub fn write_middle(realm: usize, out: &mut [u8; 16]) -> usize {
    let mut w = Writer::new(out);
    w.int(KEY_REALM_TOKEN)
        .and_then(|w| w.head(super::cbor::Major::Bstr, realm as u64))
        .expect("fits");
    w.len()
}

/// The CCA token as three pieces: what Warden writes around two token byte strings. Copies
/// `dst.len()` bytes of the token starting at `offset` from the pieces and returns how many it
/// copied (fewer at the end of the token).
pub fn copy_cca(platform: &[u8], realm: &[u8], offset: usize, dst: &mut [u8]) -> usize {
    let mut prefix = [0u8; 16];
    let p = write_prefix(platform.len(), &mut prefix);
    let mut middle = [0u8; 16];
    let m = write_middle(realm.len(), &mut middle);
    let pieces: [&[u8]; 4] = [&prefix[..p], platform, &middle[..m], realm];
    let mut at = 0usize; // start of the current piece in the token
    let mut done = 0usize;
    for piece in pieces {
        let end = at + piece.len();
        let from = offset + done;
        if from < end && done < dst.len() {
            let start = from - at;
            let n = (piece.len() - start).min(dst.len() - done);
            dst[done..done + n].copy_from_slice(&piece[start..start + n]);
            done += n;
        }
        at = end;
    }
    done
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cose_key_layout() {
        let k = cose_key_p384(&[0x11; 48], &[0x22; 48]);
        assert_eq!(&k[..8], &[0xA4, 0x01, 0x02, 0x20, 0x02, 0x21, 0x58, 0x30]);
        assert_eq!(&k[8..56], &[0x11; 48]);
        assert_eq!(&k[56..59], &[0x22, 0x58, 0x30]);
        assert_eq!(&k[59..], &[0x22; 48]);
    }

    #[test]
    fn cca_pieces_copy_at_any_offset_and_size() {
        let platform: std::vec::Vec<u8> = (0..300u32).map(|i| i as u8).collect();
        let realm: std::vec::Vec<u8> = (0..40u32).map(|i| (i * 7) as u8).collect();
        let total = cca_len(platform.len(), realm.len());
        let mut whole = std::vec![0u8; total + 10];
        assert_eq!(copy_cca(&platform, &realm, 0, &mut whole), total);
        whole.truncate(total);
        assert_eq!(
            &whole[..10],
            &[0xD9, 0x01, 0x8F, 0xA2, 0x19, 0xAC, 0xCA, 0x59, 0x01, 0x2C]
        );
        assert_eq!(&whole[10..310], platform.as_slice());
        assert_eq!(&whole[310..314], &[0x19, 0xAC, 0xD1, 0x58]);
        for chunk in [1usize, 3, 7, 64, 500] {
            let mut got = std::vec::Vec::new();
            let mut off = 0;
            loop {
                let mut b = std::vec![0u8; chunk];
                let n = copy_cca(&platform, &realm, off, &mut b);
                got.extend_from_slice(&b[..n]);
                off += n;
                if n < chunk {
                    break;
                }
            }
            assert_eq!(got, whole, "chunk {chunk}");
        }
    }
}
