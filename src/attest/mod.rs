//! Realm attestation: the CCA token, `RSI_ATTESTATION_TOKEN_INIT` and `_CONTINUE`.
//!
//! Owns the token's encoding ([`token`], over the small CBOR writer in [`cbor`]), the ES384 signer
//! that can stop between steps ([`sign`]), the material EL3 provides ([`material`]: the Realm
//! Attestation Key and the platform token, fetched once), and each REC's token session.
//!
//! # A REC's token session
//! Kept in the REC's auxiliary granules 1 and 2 (granule 0 is the machine's FP save area), which
//! only Warden can reach and only while it owns the REC (RUNNING, inside `RMI_REC_ENTER`):
//! * aux 1: a header (state, bytes handed out, Realm-token length) and the Realm token itself
//!   (claims encoded at INIT, signature filled in when signing ends);
//! * aux 2: the signer's state while signing is in progress (scrubbed when it ends).
//!
//! The CCA token is never assembled: CONTINUE copies the requested range out of the pieces
//! (collection head, the cached platform token, the Realm token), so a token larger than a granule
//! costs no extra memory.
//!
//! # Interruption
//! TOKEN_INIT snapshots the claims (challenge, RPV, RIM and REMs as they are then), encodes the
//! Realm token and derives the signing nonce. TOKEN_CONTINUE runs signing steps (at most one
//! point addition or one 4-bit window each) and, between steps, asks the machine whether a
//! physical IRQ is pending: if so it saves the signer, returns RSI_INCOMPLETE with nothing written
//! and leaves to the Host with an IRQ exit. The next CONTINUE resumes at the step after the last
//! one done, so the work of every call is kept; each call does at least one step, so an interrupt
//! storm cannot stop progress. Once signed, each CONTINUE copies up to the buffer's size from where
//! the last one stopped: RSI_INCOMPLETE while bytes remain, RSI_SUCCESS with the last ones (the
//! session then ends). A new INIT replaces any session in progress.

pub mod cbor;
pub mod material;
pub mod sign;
#[cfg(not(target_os = "none"))]
pub mod test_keys;
pub mod token;

use warden_abi::addr::GRANULE_SIZE;
use warden_abi::rec_run::RmiRecExitReason;
use warden_abi::status::RsiStatus;

use crate::granule::GranuleState;
use crate::platform::Machine;
use crate::rec::{HostExit, RecInner};
use crate::rsi::{BufferFault, Flow, RecRun, buffer_abort_exit, exit_with};
use material::Material;
use sign::{SIGNATURE_BYTES, SIGNER_BYTES, Signer};
use token::{MAX_CLAIMS_BYTES, MAX_REALM_TOKEN_BYTES, RealmClaims};

pub use material::AttestCache;

/// The largest CCA token Warden can produce (what TOKEN_INIT reports when the material is not
/// available).
pub const MAX_TOKEN_BYTES: usize =
    token::cca_len(material::MAX_PLATFORM_TOKEN_BYTES, MAX_REALM_TOKEN_BYTES);

/// Index of the REC auxiliary granule holding the session header and the Realm token.
const AUX_TOKEN: usize = 1;
/// Index of the REC auxiliary granule holding the signer.
const AUX_SIGNER: usize = 2;

/// Where the Realm token starts in [`AUX_TOKEN`].
const TOKEN_OFFSET: usize = 64;
const _: () = assert!(TOKEN_OFFSET + MAX_REALM_TOKEN_BYTES <= GRANULE_SIZE as usize);
const _: () = assert!(SIGNER_BYTES <= GRANULE_SIZE as usize);

/// Session states (the header's first word). Aux granules are zeroed at REC_CREATE: NONE.
mod state {
    /// No token in progress.
    pub const NONE: u64 = 0;
    /// Claims encoded, signature in progress.
    pub const SIGNING: u64 = 0x5349_474E; // "SIGN"
    /// Signed; bytes being handed out.
    pub const READY: u64 = 0x5245_4459; // "REDY"
    /// INIT could not get the attestation material: CONTINUE fails with RSI_ERROR_UNKNOWN.
    pub const FAILED: u64 = 0x4641_494C; // "FAIL"
}

/// The session header at the start of [`AUX_TOKEN`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Header {
    state: u64,
    /// Bytes of the CCA token already handed out.
    copied: u64,
    /// Bytes of the Realm token.
    realm_len: u64,
}

impl Header {
    fn to_bytes(self) -> [u8; 24] {
        let mut b = [0u8; 24];
        b[..8].copy_from_slice(&self.state.to_le_bytes());
        b[8..16].copy_from_slice(&self.copied.to_le_bytes());
        b[16..].copy_from_slice(&self.realm_len.to_le_bytes());
        b
    }

    fn from_bytes(b: &[u8; 24]) -> Self {
        let word = |i: usize| u64::from_le_bytes(b[i..i + 8].try_into().expect("8 bytes"));
        Self {
            state: word(0),
            copied: word(8),
            realm_len: word(16),
        }
    }
}

/// Builds the Realm token for `claims` (signature zero) into `out`; returns its length and the
/// digest to sign.
pub fn realm_token_unsigned(claims: &RealmClaims<'_>, out: &mut [u8]) -> (usize, [u8; 48]) {
    let mut payload = [0u8; MAX_CLAIMS_BYTES];
    let n = token::encode_claims(claims, &mut payload).expect("MAX_CLAIMS_BYTES bounds the claims");
    token::sign1_unsigned(&payload[..n], out).expect("MAX_REALM_TOKEN_BYTES bounds the token")
}

/// Signs `digest` with `key` in one go (tests, benchmarks and the TEST platform token).
pub fn sign_now(key: &[u8; 48], digest: &[u8; 48]) -> Result<[u8; SIGNATURE_BYTES], sign::BadKey> {
    let mut s = Signer::new(key, digest)?;
    while !s.step() {}
    Ok(*s.signature())
}

/// Finishes an RSI command: X0 = `status`, X1… = `results`.
fn finish(inner: &mut RecInner, status: RsiStatus, results: &[u64]) -> Flow {
    inner.ctx.gprs[0] = status.to_x0();
    inner.ctx.gprs[1..=results.len()].copy_from_slice(results);
    Flow::Resume
}

impl<M: Machine> RecRun<'_, '_, M> {
    fn aux(&self, index: usize) -> Option<crate::granule::Shared<'_, '_, M>> {
        let pa = *self.rec.aux().get(index)?;
        self.rmm
            .granules()
            .share_owned(pa, GranuleState::RecAux)
            .ok()
    }

    /// `RSI_ATTESTATION_TOKEN_INIT`: X1–X8 challenge → X1 upper bound of the token size.
    pub fn rsi_attestation_token_init(&self, inner: &mut RecInner) -> Flow {
        let (Some(tok), Some(sig)) = (self.aux(AUX_TOKEN), self.aux(AUX_SIGNER)) else {
            return finish(inner, RsiStatus::ErrorUnknown, &[]);
        };
        let mut challenge = [0u8; 64];
        for (c, w) in challenge.chunks_exact_mut(8).zip(&inner.ctx.gprs[1..9]) {
            c.copy_from_slice(&w.to_le_bytes());
        }
        let material: &Material = match self.rmm.attest.get(self.rmm.machine()) {
            Ok(m) => m,
            Err(_) => {
                tok.write_bytes(
                    0,
                    &Header {
                        state: state::FAILED,
                        ..Header::default()
                    }
                    .to_bytes(),
                );
                return finish(inner, RsiStatus::Success, &[MAX_TOKEN_BYTES as u64]);
            }
        };
        let config = self.realm.config();
        let slots = self
            .realm
            .with_measurements(|m| [0, 1, 2, 3, 4].map(|i| *m.get(i).expect("five slots")));
        let claims = RealmClaims {
            challenge: &challenge,
            rpv: &config.rpv,
            algo: config.hash_algo,
            rak_pub: &material.rak_pub,
            rim: &slots[0],
            rems: [&slots[1], &slots[2], &slots[3], &slots[4]],
        };
        let mut realm = [0u8; MAX_REALM_TOKEN_BYTES];
        let (realm_len, digest) = realm_token_unsigned(&claims, &mut realm);
        let signer = Signer::new(&material.rak, &digest).expect("the cached RAK was checked");
        sig.write_bytes(0, signer.as_bytes());
        tok.write_bytes(TOKEN_OFFSET, &realm[..realm_len]);
        tok.write_bytes(
            0,
            &Header {
                state: state::SIGNING,
                copied: 0,
                realm_len: realm_len as u64,
            }
            .to_bytes(),
        );
        let total = token::cca_len(material.platform_token().len(), realm_len);
        finish(inner, RsiStatus::Success, &[total as u64])
    }

    /// `RSI_ATTESTATION_TOKEN_CONTINUE`: X1 IPA of a granule, X2 offset in it, X3 buffer size → X1
    /// bytes written.
    pub fn rsi_attestation_token_continue(&self, inner: &mut RecInner) -> Flow {
        let x = inner.ctx.gprs;
        let (addr, offset, size) = (x[1], x[2], x[3]);
        if !addr.is_multiple_of(GRANULE_SIZE) // addr_align
            || addr >> (self.realm.config().ipa_width - 1) != 0 // addr_bound
            || offset >= GRANULE_SIZE
        // offset_bound
        {
            return finish(inner, RsiStatus::ErrorInput, &[]);
        }
        let Some(end) = offset.checked_add(size) else {
            return finish(inner, RsiStatus::ErrorInput, &[]); // size_overflow
        };
        if end > GRANULE_SIZE {
            return finish(inner, RsiStatus::ErrorInput, &[]); // size_bound
        }
        let (Some(tok), Some(sig)) = (self.aux(AUX_TOKEN), self.aux(AUX_SIGNER)) else {
            return finish(inner, RsiStatus::ErrorUnknown, &[]);
        };
        let mut raw = [0u8; 24];
        tok.read_bytes(0, &mut raw);
        let mut header = Header::from_bytes(&raw);
        match header.state {
            state::SIGNING | state::READY => {}
            state::FAILED => return finish(inner, RsiStatus::ErrorUnknown, &[]),
            _ => return finish(inner, RsiStatus::ErrorState, &[]), // state
        }
        let Ok(material) = self.rmm.attest.get(self.rmm.machine()) else {
            return finish(inner, RsiStatus::ErrorUnknown, &[]);
        };
        if header.state == state::SIGNING {
            let mut bytes = [0u8; SIGNER_BYTES];
            sig.read_bytes(0, &mut bytes);
            let mut signer = Signer::from_bytes(&bytes);
            loop {
                if signer.step() {
                    break;
                }
                if self.rmm.machine().irq_pending() {
                    sig.write_bytes(0, signer.as_bytes());
                    finish(inner, RsiStatus::Incomplete, &[0]);
                    return exit_with(inner, HostExit::new(RmiRecExitReason::Irq));
                }
            }
            let at = TOKEN_OFFSET + header.realm_len as usize - SIGNATURE_BYTES;
            tok.write_bytes(at, signer.signature());
            bytes.fill(0);
            sig.write_bytes(0, &bytes);
            header.state = state::READY;
            tok.write_bytes(0, &header.to_bytes());
        }
        // Hand out the next bytes.
        let total =
            token::cca_len(material.platform_token().len(), header.realm_len as usize) as u64;
        let n = size.min(total - header.copied) as usize;
        if n > 0 {
            let data = match self.realm_buffer(addr) {
                Ok((data, _)) => data,
                Err(BufferFault::Empty) => return finish(inner, RsiStatus::ErrorInput, &[]),
                Err(BufferFault::Unmapped { level }) => {
                    return exit_with(inner, buffer_abort_exit(addr, level));
                }
            };
            let mut realm = [0u8; MAX_REALM_TOKEN_BYTES];
            let realm = &mut realm[..header.realm_len as usize];
            tok.read_bytes(TOKEN_OFFSET, realm);
            let mut chunk = [0u8; 256];
            let mut done = 0usize;
            while done < n {
                let want = (n - done).min(chunk.len());
                let got = token::copy_cca(
                    material.platform_token(),
                    realm,
                    header.copied as usize + done,
                    &mut chunk[..want],
                );
                data.write_bytes(offset as usize + done, &chunk[..got]);
                done += got;
            }
        }
        header.copied += n as u64;
        if header.copied == total {
            tok.write_bytes(
                0,
                &Header {
                    state: state::NONE,
                    ..Header::default()
                }
                .to_bytes(),
            );
            finish(inner, RsiStatus::Success, &[n as u64])
        } else {
            tok.write_bytes(0, &header.to_bytes());
            finish(inner, RsiStatus::Incomplete, &[n as u64])
        }
    }
}
