//! **TEST-ONLY** attestation material for the host model's EL3 and `testbed/el3`: a Realm
//! Attestation Key, an Initial Attestation Key and a CCA platform token signed with it.
//!
//! Every key here is derived from a public string, so anyone can forge tokens with them: they exist
//! to exercise the protocol, never to be trusted. The platform token says so (lifecycle
//! "assembly and test", an implementation ID and software component named TEST-ONLY, and a
//! verification-service claim pointing nowhere). Not built into the firmware.

use sha2::{Digest, Sha256, Sha384};
use std::vec::Vec;

use super::cbor::{Overflow, Writer};
use super::sign;
use super::token::{self, cose_key_p384};

/// The seed of the TEST Realm Attestation Key.
pub const RAK_SEED: &str = "warden TEST-ONLY realm attestation key (P-384)";
/// The seed of the TEST Initial Attestation Key (the platform token's signer).
pub const IAK_SEED: &str = "warden TEST-ONLY initial attestation key (P-384)";

/// The CCA platform token's EAT profile.
pub const PLATFORM_PROFILE: &str = "tag:arm.com,2023:cca_platform#1.0.0";
/// Platform lifecycle "assembly and test" (0x1000): no verifier should trust such a platform.
pub const LIFECYCLE_TEST: u64 = 0x1000;
/// The verification service claim of the TEST token.
pub const VERIFICATION_SERVICE: &str = "test-only.invalid";

/// A P-384 private key derived from `seed`: SHA-384(seed), which is below the group order for these
/// seeds (checked by the tests).
pub fn key_from_seed(seed: &str) -> [u8; 48] {
    Sha384::digest(seed.as_bytes()).into()
}

/// The TEST RAK's private scalar.
pub fn rak() -> [u8; 48] {
    key_from_seed(RAK_SEED)
}

/// The TEST IAK's private scalar.
pub fn iak() -> [u8; 48] {
    key_from_seed(IAK_SEED)
}

/// The public COSE_Key of a private key.
pub fn public_cose_key(d: &[u8; 48]) -> [u8; token::COSE_KEY_BYTES] {
    let (x, y) = sign::public_key(d).expect("TEST keys are valid");
    cose_key_p384(&x, &y)
}

/// The challenge EL3 puts in the platform token for the TEST RAK: SHA-256 of its COSE_Key.
pub fn rak_hash() -> [u8; 32] {
    Sha256::digest(public_cose_key(&rak())).into()
}

fn platform_claims(challenge: &[u8], out: &mut [u8]) -> Result<usize, Overflow> {
    let iak_pub = public_cose_key(&iak());
    let mut instance = [0u8; 33];
    instance[0] = 0x01;
    instance[1..].copy_from_slice(&Sha256::digest(iak_pub));
    let implementation: [u8; 32] =
        Sha256::digest(b"warden testbed/el3 TEST-ONLY implementation").into();
    let measurement: [u8; 32] = Sha256::digest(b"TEST-ONLY testbed-el3 image").into();
    let signer: [u8; 32] = Sha256::digest(b"TEST-ONLY signer").into();
    let mut w = Writer::new(out);
    w.map(9)?;
    w.int(10)?.bstr(challenge)?;
    w.int(256)?.bstr(&instance)?;
    w.int(265)?.tstr(PLATFORM_PROFILE)?;
    w.int(2395)?.int(LIFECYCLE_TEST as i64)?;
    w.int(2396)?.bstr(&implementation)?;
    w.int(2399)?.array(1)?;
    w.map(4)?
        .int(1)?
        .tstr("TEST-ONLY testbed-el3")?
        .int(2)?
        .bstr(&measurement)?
        .int(5)?
        .bstr(&signer)?
        .int(6)?
        .tstr("sha-256")?;
    w.int(2400)?.tstr(VERIFICATION_SERVICE)?;
    w.int(2401)?.bstr(b"TEST-ONLY")?;
    w.int(2402)?.tstr("sha-256")?;
    Ok(w.len())
}

/// A TEST platform token (a `COSE_Sign1_Tagged`, ES384 with the TEST IAK) whose challenge is
/// `challenge`.
pub fn platform_token(challenge: &[u8]) -> Vec<u8> {
    let mut payload = [0u8; 1024];
    let n = platform_claims(challenge, &mut payload).expect("the TEST claims fit");
    let mut out = std::vec![0u8; token::sign1_len(n)];
    let (len, digest) = token::sign1_unsigned(&payload[..n], &mut out).expect("sized above");
    let signature = super::sign_now(&iak(), &digest).expect("TEST IAK is valid");
    out[len - sign::SIGNATURE_BYTES..].copy_from_slice(&signature);
    out
}

/// The TEST platform token bound to the TEST RAK (what `testbed/el3` serves).
pub fn bound_platform_token() -> Vec<u8> {
    platform_token(&rak_hash())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// testbed/el3 serves these bytes; regenerate with `WARDEN_BLESS=1 cargo test -p warden --lib
    /// test_keys`.
    #[test]
    fn testbed_el3_blobs_are_current() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testbed/el3/src/attest");
        let blobs = [
            ("rak.bin", rak().to_vec()),
            ("platform_token.bin", bound_platform_token()),
        ];
        for (name, want) in blobs {
            let path = dir.join(name);
            if std::env::var_os("WARDEN_BLESS").is_some() {
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(&path, &want).unwrap();
            }
            let got = std::fs::read(&path).unwrap_or_default();
            assert!(
                got == want,
                "{} is stale: run WARDEN_BLESS=1 cargo test -p warden --lib test_keys",
                path.display()
            );
        }
    }

    #[test]
    fn test_keys_are_valid_scalars_and_the_token_is_bound() {
        assert!(sign::secret_scalar(&rak()).is_ok());
        assert!(sign::secret_scalar(&iak()).is_ok());
        let t = bound_platform_token();
        let hash = rak_hash();
        assert!(
            t.windows(34)
                .any(|w| w[..2] == [0x58, 0x20] && w[2..] == hash),
            "challenge claim present"
        );
    }

    /// Golden: the Realm token's encoding for fixed claims, byte for byte where it is not the
    /// signature, and its Sig_structure digest.
    #[test]
    fn realm_token_golden_encoding() {
        let challenge = [0xC0; 64];
        let rpv = [0x5A; 64];
        let rim = [0x11; 64];
        let rems = [[0x21; 64], [0x22; 64], [0x23; 64], [0x24; 64]];
        let rak_pub = public_cose_key(&rak());
        let claims = token::RealmClaims {
            challenge: &challenge,
            rpv: &rpv,
            algo: warden_abi::rtt::RmiHashAlgorithm::Sha256,
            rak_pub: &rak_pub,
            rim: &rim,
            rems: [&rems[0], &rems[1], &rems[2], &rems[3]],
        };
        let mut out = [0u8; token::MAX_REALM_TOKEN_BYTES];
        let (len, digest) = crate::attest::realm_token_unsigned(&claims, &mut out);
        let t = &out[..len];
        let mut expect = std::vec![0xD2, 0x84, 0x44, 0xA1, 0x01, 0x38, 0x22, 0xA0];
        let payload_len = 1
            + (1 + 2 + 64)
            + (3 + 2 + 28)
            + (3 + 2 + 64)
            + (3 + 1 + 7)
            + (3 + 2 + 107)
            + (3 + 2 + 32)
            + (3 + 1 + 4 * 34)
            + (3 + 1 + 7);
        expect.extend([0x59, (payload_len >> 8) as u8, payload_len as u8]);
        expect.push(0xA8);
        expect.extend([0x0A, 0x58, 0x40]);
        expect.extend([0xC0; 64]);
        expect.extend([0x19, 0x01, 0x09, 0x78, 0x1C]);
        expect.extend(b"tag:arm.com,2023:realm#1.0.0");
        expect.extend([0x19, 0xAC, 0xCB, 0x58, 0x40]);
        expect.extend([0x5A; 64]);
        expect.extend([0x19, 0xAC, 0xCC, 0x67]);
        expect.extend(b"sha-256");
        expect.extend([0x19, 0xAC, 0xCD, 0x58, 0x6B]);
        expect.extend(rak_pub);
        expect.extend([0x19, 0xAC, 0xCE, 0x58, 0x20]);
        expect.extend([0x11; 32]);
        expect.extend([0x19, 0xAC, 0xCF, 0x84]);
        for r in 0x21..=0x24u8 {
            expect.extend([0x58, 0x20]);
            expect.extend([r; 32]);
        }
        expect.extend([0x19, 0xAC, 0xD0, 0x67]);
        expect.extend(b"sha-256");
        expect.extend([0x58, 0x60]);
        expect.extend([0u8; 96]);
        assert_eq!(t, expect.as_slice());
        // The digest is SHA-384 over the Sig_structure built by hand.
        let mut sig_structure = std::vec![0x84, 0x6A];
        sig_structure.extend(b"Signature1");
        sig_structure.extend([
            0x44,
            0xA1,
            0x01,
            0x38,
            0x22,
            0x40,
            0x59,
            (payload_len >> 8) as u8,
            payload_len as u8,
        ]);
        sig_structure.extend(&t[11..11 + payload_len]);
        assert_eq!(digest.as_slice(), Sha384::digest(&sig_structure).as_slice());
    }
}
