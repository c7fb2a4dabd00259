//! Host-side verification of Warden's CCA attestation tokens (RMM 1.0-rel0).
//!
//! Independent of Warden's own code: the token is decoded with `ciborium`/`coset`, signatures are
//! checked with `p384`, and the expected RIM is recomputed here from a description of the Realm
//! ([`description::RealmDescription`]) by re-implementing the RMM specification's measurement
//! descriptors. What [`verify`] checks:
//! 1. the CCA token is CBOR tag 399 around a map of exactly {44234: bstr, 44241: bstr};
//! 2. both tokens are `COSE_Sign1_Tagged` with ES384 in the protected header and a payload;
//! 3. every Realm claim is present with its type and size (challenge 64 B, RPV 64 B, hash algorithm
//!    `sha-256`/`sha-512`, RIM and four REMs of that digest length, RAK as an EC2 P-384 COSE_Key,
//!    public-key hash algorithm, profile if present);
//! 4. the Realm token's signature verifies with the RAK it carries;
//! 5. the platform token's challenge is the hash of that RAK's COSE_Key (the binding);
//! 6. the platform token's signature verifies with the IAK the caller trusts (or the caller says
//!    it does not check it), and a TEST-ONLY platform is refused unless allowed;
//! 7. the challenge, RPV, RIM and REMs equal what the caller expects (each optional).

pub mod description;

use ciborium::Value;
use coset::{CborSerializable, CoseKey, CoseSign1, Label, TaggedCborSerializable, iana};
use p384::ecdsa::signature::Verifier;
use p384::ecdsa::{Signature, VerifyingKey};
use sha2::{Digest, Sha256, Sha384, Sha512};

/// A check failed: what and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(pub String);

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

fn err<T>(msg: impl Into<String>) -> Result<T, Error> {
    Err(Error(msg.into()))
}

/// CBOR tag of the CCA token.
pub const TAG_CCA: u64 = 399;
/// Key of the platform token in the collection.
pub const KEY_PLATFORM: i128 = 44234;
/// Key of the Realm token in the collection.
pub const KEY_REALM: i128 = 44241;
/// The Realm token profile.
pub const REALM_PROFILE: &str = "tag:arm.com,2023:realm#1.0.0";
/// The CCA platform token profile.
pub const PLATFORM_PROFILE: &str = "tag:arm.com,2023:cca_platform#1.0.0";
/// The seed from which Warden's TEST-ONLY IAK is derived (SHA-384 of it is the private scalar).
pub const TEST_IAK_SEED: &str = "warden TEST-ONLY initial attestation key (P-384)";
/// Platform lifecycle values below this are not "secured" (PSA/CCA security lifecycle 0x3000).
const LIFECYCLE_SECURED_MIN: u64 = 0x3000;
/// Above this the platform is in debug or decommissioned states.
const LIFECYCLE_SECURED_MAX: u64 = 0x30FF;

/// The Realm token's claims, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RealmClaims {
    /// 10: the Realm's challenge.
    pub challenge: Vec<u8>,
    /// 265: the profile, if present.
    pub profile: Option<String>,
    /// 44235: the Realm personalisation value.
    pub rpv: Vec<u8>,
    /// 44236: the measurement hash algorithm.
    pub hash_algo: String,
    /// 44237: the RAK's public key, as the COSE_Key bytes the token carries.
    pub rak_pub: Vec<u8>,
    /// 44238: the RIM.
    pub rim: Vec<u8>,
    /// 44239: the four REMs.
    pub rems: [Vec<u8>; 4],
    /// 44240: the hash algorithm of the RAK hash (the platform challenge).
    pub pub_key_hash_algo: String,
}

/// The platform token's claims that the binding and the policy need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformClaims {
    /// 10: challenge (the RAK hash).
    pub challenge: Vec<u8>,
    /// 265: profile.
    pub profile: Option<String>,
    /// 2395: security lifecycle.
    pub lifecycle: Option<u64>,
    /// 2396: implementation ID.
    pub implementation_id: Option<Vec<u8>>,
    /// 256: instance ID.
    pub instance_id: Option<Vec<u8>>,
    /// 2400: verification service.
    pub verification_service: Option<String>,
    /// 2399: number of software components.
    pub sw_components: usize,
}

/// A decoded CCA token (nothing verified yet).
#[derive(Debug, Clone)]
pub struct Token {
    /// The platform token.
    pub platform: CoseSign1,
    /// The Realm token.
    pub realm: CoseSign1,
    /// The platform claims.
    pub platform_claims: PlatformClaims,
    /// The Realm claims.
    pub realm_claims: RealmClaims,
}

/// What the caller expects and trusts.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// The challenge the Realm was given (64 bytes).
    pub challenge: Option<Vec<u8>>,
    /// The IAK that signs the platform token (SEC1 bytes). `None`: the platform signature is not
    /// checked (reported in [`Report`]).
    pub iak: Option<Vec<u8>>,
    /// Accept a platform whose lifecycle is not "secured" (a TEST platform).
    pub allow_test_platform: bool,
    /// The RPV the Realm was created with.
    pub rpv: Option<Vec<u8>>,
    /// The expected RIM (digest length).
    pub rim: Option<Vec<u8>>,
    /// Expected REMs (digest length), each optional.
    pub rems: [Option<Vec<u8>>; 4],
}

/// What [`verify`] established.
#[derive(Debug, Clone)]
pub struct Report {
    /// The decoded token.
    pub token: Token,
    /// Whether the platform token's signature was checked (an IAK was given).
    pub platform_signature_checked: bool,
}

fn map_get(map: &[(Value, Value)], key: i128) -> Option<&Value> {
    map.iter()
        .find(|(k, _)| k.as_integer().map(i128::from) == Some(key))
        .map(|(_, v)| v)
}

fn bytes(map: &[(Value, Value)], key: i128, what: &str) -> Result<Vec<u8>, Error> {
    match map_get(map, key) {
        Some(Value::Bytes(b)) => Ok(b.clone()),
        Some(_) => err(format!("claim {key} ({what}) is not a byte string")),
        None => err(format!("claim {key} ({what}) is missing")),
    }
}

fn text(map: &[(Value, Value)], key: i128, what: &str) -> Result<String, Error> {
    match map_get(map, key) {
        Some(Value::Text(t)) => Ok(t.clone()),
        Some(_) => err(format!("claim {key} ({what}) is not a text string")),
        None => err(format!("claim {key} ({what}) is missing")),
    }
}

fn payload_map(sign1: &CoseSign1, what: &str) -> Result<Vec<(Value, Value)>, Error> {
    let payload = sign1
        .payload
        .as_ref()
        .ok_or_else(|| Error(format!("the {what} token has no payload")))?;
    let value: Value = ciborium::from_reader(payload.as_slice())
        .map_err(|e| Error(format!("the {what} claims are not CBOR: {e}")))?;
    match value {
        Value::Map(m) => Ok(m),
        _ => err(format!("the {what} claims are not a map")),
    }
}

fn check_es384(sign1: &CoseSign1, what: &str) -> Result<(), Error> {
    match &sign1.protected.header.alg {
        Some(coset::Algorithm::Assigned(iana::Algorithm::ES384)) => Ok(()),
        other => err(format!(
            "the {what} token is not signed with ES384 (alg {other:?})"
        )),
    }
}

/// The digest length of a measurement hash algorithm name.
pub fn digest_len(algo: &str) -> Option<usize> {
    match algo {
        "sha-256" => Some(32),
        "sha-384" => Some(48),
        "sha-512" => Some(64),
        _ => None,
    }
}

/// Hashes `data` with the named algorithm.
pub fn hash_named(algo: &str, data: &[u8]) -> Option<Vec<u8>> {
    match algo {
        "sha-256" => Some(Sha256::digest(data).to_vec()),
        "sha-384" => Some(Sha384::digest(data).to_vec()),
        "sha-512" => Some(Sha512::digest(data).to_vec()),
        _ => None,
    }
}

/// Decodes a CCA token and checks its structure and claim types (no signature checked).
pub fn decode(token: &[u8]) -> Result<Token, Error> {
    let value: Value = ciborium::from_reader(token).map_err(|e| Error(format!("not CBOR: {e}")))?;
    let Value::Tag(TAG_CCA, inner) = value else {
        return err("not a CCA token (CBOR tag 399)");
    };
    let Value::Map(map) = *inner else {
        return err("the CCA collection is not a map");
    };
    if map.len() != 2 {
        return err(format!(
            "the CCA collection has {} entries, not 2",
            map.len()
        ));
    }
    let platform = bytes(&map, KEY_PLATFORM, "platform token")?;
    let realm = bytes(&map, KEY_REALM, "realm token")?;
    let platform = CoseSign1::from_tagged_slice(&platform).map_err(|e| {
        Error(format!(
            "the platform token is not a COSE_Sign1_Tagged: {e:?}"
        ))
    })?;
    let realm = CoseSign1::from_tagged_slice(&realm)
        .map_err(|e| Error(format!("the realm token is not a COSE_Sign1_Tagged: {e:?}")))?;
    check_es384(&realm, "realm")?;
    check_es384(&platform, "platform")?;

    let c = payload_map(&realm, "realm")?;
    let hash_algo = text(&c, 44236, "hash algo id")?;
    let len = digest_len(&hash_algo)
        .filter(|&l| l != 48)
        .ok_or_else(|| Error(format!("unknown measurement algorithm {hash_algo:?}")))?;
    let measurement = |key, what: &str| -> Result<Vec<u8>, Error> {
        let m = bytes(&c, key, what)?;
        if m.len() != len {
            return err(format!(
                "claim {key} ({what}) is {} bytes, not {len}",
                m.len()
            ));
        }
        Ok(m)
    };
    let rim = measurement(44238, "RIM")?;
    let rems = match map_get(&c, 44239) {
        Some(Value::Array(a)) if a.len() == 4 => {
            let mut out: [Vec<u8>; 4] = Default::default();
            for (o, v) in out.iter_mut().zip(a) {
                match v {
                    Value::Bytes(b) if b.len() == len => *o = b.clone(),
                    _ => return err(format!("a REM is not a byte string of {len} bytes")),
                }
            }
            out
        }
        Some(_) => return err("claim 44239 (REMs) is not an array of 4"),
        None => return err("claim 44239 (REMs) is missing"),
    };
    let challenge = bytes(&c, 10, "challenge")?;
    if challenge.len() != 64 {
        return err(format!(
            "the realm challenge is {} bytes, not 64",
            challenge.len()
        ));
    }
    let rpv = bytes(&c, 44235, "personalization value")?;
    if rpv.len() != 64 {
        return err(format!("the RPV is {} bytes, not 64", rpv.len()));
    }
    let profile = match map_get(&c, 265) {
        None => None,
        Some(Value::Text(t)) if t == REALM_PROFILE => Some(t.clone()),
        Some(v) => return err(format!("unexpected realm profile {v:?}")),
    };
    let pub_key_hash_algo = text(&c, 44240, "public key hash algo id")?;
    if digest_len(&pub_key_hash_algo).is_none() {
        return err(format!(
            "unknown public key hash algorithm {pub_key_hash_algo:?}"
        ));
    }
    let realm_claims = RealmClaims {
        challenge,
        profile,
        rpv,
        hash_algo,
        rak_pub: bytes(&c, 44237, "public key")?,
        rim,
        rems,
        pub_key_hash_algo,
    };
    if c.len() != 7 + usize::from(realm_claims.profile.is_some()) {
        return err("the realm claims contain unknown claims");
    }

    let p = payload_map(&platform, "platform")?;
    let sw_components = match map_get(&p, 2399) {
        Some(Value::Array(a)) => a.len(),
        Some(_) => return err("claim 2399 (software components) is not an array"),
        None => 0,
    };
    let platform_claims = PlatformClaims {
        challenge: bytes(&p, 10, "platform challenge")?,
        profile: map_get(&p, 265).and_then(Value::as_text).map(str::to_owned),
        lifecycle: map_get(&p, 2395)
            .and_then(Value::as_integer)
            .and_then(|i| u64::try_from(i).ok()),
        implementation_id: map_get(&p, 2396).and_then(Value::as_bytes).cloned(),
        instance_id: map_get(&p, 256).and_then(Value::as_bytes).cloned(),
        verification_service: map_get(&p, 2400)
            .and_then(Value::as_text)
            .map(str::to_owned),
        sw_components,
    };
    Ok(Token {
        platform,
        realm,
        platform_claims,
        realm_claims,
    })
}

/// The SEC1 point of an EC2 P-384 COSE_Key.
pub fn cose_key_to_sec1(key: &[u8]) -> Result<Vec<u8>, Error> {
    let k =
        CoseKey::from_slice(key).map_err(|e| Error(format!("the RAK is not a COSE_Key: {e:?}")))?;
    if k.kty != coset::KeyType::Assigned(iana::KeyType::EC2) {
        return err("the RAK is not an EC2 key");
    }
    let param = |l: i64| {
        k.params
            .iter()
            .find(|(label, _)| *label == Label::Int(l))
            .map(|(_, v)| v)
    };
    if param(-1).and_then(Value::as_integer).map(i128::from)
        != Some(iana::EllipticCurve::P_384 as i128)
    {
        return err("the RAK is not on P-384");
    }
    let coord = |l| match param(l) {
        Some(Value::Bytes(b)) if b.len() == 48 => Ok(b.clone()),
        _ => err("the RAK's coordinates are not 48-byte strings"),
    };
    let mut sec1 = vec![0x04];
    sec1.extend(coord(-2)?);
    sec1.extend(coord(-3)?);
    Ok(sec1)
}

fn verify_sign1(sign1: &CoseSign1, sec1: &[u8], what: &str) -> Result<(), Error> {
    let key = VerifyingKey::from_sec1_bytes(sec1)
        .map_err(|_| Error(format!("the {what} key is not a P-384 point")))?;
    sign1.verify_signature(b"", |sig, data| {
        let sig = Signature::from_slice(sig)
            .map_err(|_| Error(format!("the {what} signature is not 96 bytes")))?;
        key.verify(data, &sig)
            .map_err(|_| Error(format!("the {what} token's signature does not verify")))
    })
}

/// The SEC1 public key of Warden's TEST-ONLY IAK, derived here from its public seed.
pub fn test_iak() -> Vec<u8> {
    let d = Sha384::digest(TEST_IAK_SEED.as_bytes());
    let sk = p384::ecdsa::SigningKey::from_slice(&d).expect("the TEST IAK seed gives a valid key");
    VerifyingKey::from(&sk)
        .to_sec1_point(false)
        .as_bytes()
        .to_vec()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Decodes and verifies a CCA token against `policy` (see the crate docs).
pub fn verify(token: &[u8], policy: &Policy) -> Result<Report, Error> {
    let t = decode(token)?;
    let rc = &t.realm_claims;
    let rak = cose_key_to_sec1(&rc.rak_pub)?;
    verify_sign1(&t.realm, &rak, "realm")?;
    let rak_hash = hash_named(&rc.pub_key_hash_algo, &rc.rak_pub).expect("checked by decode");
    if t.platform_claims.challenge != rak_hash {
        return err(
            "the platform token is not bound to the RAK (platform challenge ≠ hash of the RAK)",
        );
    }
    let platform_signature_checked = match &policy.iak {
        Some(iak) => {
            verify_sign1(&t.platform, iak, "platform")?;
            true
        }
        None => false,
    };
    if t.platform_claims.profile.as_deref() != Some(PLATFORM_PROFILE) {
        return err(format!(
            "unexpected platform profile {:?}",
            t.platform_claims.profile
        ));
    }
    let secured = t
        .platform_claims
        .lifecycle
        .is_some_and(|l| (LIFECYCLE_SECURED_MIN..=LIFECYCLE_SECURED_MAX).contains(&l));
    if !secured && !policy.allow_test_platform {
        return err(format!(
            "the platform is not in a secured lifecycle state ({:?}): a TEST platform?",
            t.platform_claims.lifecycle
        ));
    }
    let expect = |name: &str, got: &[u8], want: &Option<Vec<u8>>| match want {
        Some(w) if w.as_slice() != got => err(format!(
            "{name} mismatch: token {} expected {}",
            hex(got),
            hex(w)
        )),
        _ => Ok(()),
    };
    expect("challenge", &rc.challenge, &policy.challenge)?;
    expect("RPV", &rc.rpv, &policy.rpv)?;
    expect("RIM", &rc.rim, &policy.rim)?;
    for (i, (got, want)) in rc.rems.iter().zip(&policy.rems).enumerate() {
        expect(&format!("REM{i}"), got, want)?;
    }
    Ok(Report {
        token: t,
        platform_signature_checked,
    })
}
