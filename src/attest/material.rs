//! The attestation material EL3 provides, fetched once and cached: the Realm Attestation Key
//! (RAK, private scalar) and the platform token that binds it (its challenge is the SHA-256 of the
//! RAK's public COSE_Key).
//!
//! Fetched on first use (the first `RSI_ATTESTATION_TOKEN_INIT` after boot) rather than in
//! `Rmm::new`, so that a machine whose EL3 offers no attestation still boots and only attestation
//! fails. One CPU fetches while any other that needs the material waits; a failed fetch is retried
//! by the next user. Once fetched the material never changes and is read without a lock.

use sha2::{Digest, Sha256};

use super::sign;
use super::token::{COSE_KEY_BYTES, cose_key_p384};
use crate::platform::{El3Error, Machine};
use crate::sync::{AtomicU8, Ordering, UnsafeCell, spin_loop};

/// Largest platform token Warden keeps (TF-RMM keeps 4 KiB; CCA platform tokens with many
/// software components can be larger).
pub const MAX_PLATFORM_TOKEN_BYTES: usize = 8 * 1024;
/// Bytes of a P-384 private key.
pub const RAK_BYTES: usize = 48;
/// Bytes of the platform token's challenge (SHA-256 of the RAK's public COSE_Key).
pub const PLATFORM_CHALLENGE_BYTES: usize = 32;
/// EL3 answers `E_RMM_AGAIN` at most this many times in a row before Warden gives up.
const MAX_AGAIN: u32 = 1000;

/// The cached material.
pub struct Material {
    /// The RAK's private scalar (big-endian).
    pub rak: [u8; RAK_BYTES],
    /// The RAK's public key as a COSE_Key (the `44237` claim).
    pub rak_pub: [u8; COSE_KEY_BYTES],
    platform: [u8; MAX_PLATFORM_TOKEN_BYTES],
    platform_len: usize,
}

impl Material {
    const fn empty() -> Self {
        Self {
            rak: [0; RAK_BYTES],
            rak_pub: [0; COSE_KEY_BYTES],
            platform: [0; MAX_PLATFORM_TOKEN_BYTES],
            platform_len: 0,
        }
    }

    /// The platform token (a `COSE_Sign1_Tagged`, as EL3 gave it).
    pub fn platform_token(&self) -> &[u8] {
        &self.platform[..self.platform_len]
    }
}

/// Why the material is not available.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MaterialError {
    /// EL3 refused a call.
    El3(El3Error),
    /// EL3 gave a key that is not a P-384 private key.
    BadKey,
    /// The platform token does not fit [`MAX_PLATFORM_TOKEN_BYTES`], or EL3's hunks were inconsistent.
    BadToken,
}

const EMPTY: u8 = 0;
const BUSY: u8 = 1;
const READY: u8 = 2;

/// The material, fetched once (see the module docs).
pub struct AttestCache {
    state: AtomicU8,
    material: UnsafeCell<Material>,
}

// SAFETY: `material` is written only by the CPU that moved `state` EMPTY → BUSY, and read only
// after `state` is READY (Acquire, after the writer's Release), after which nobody writes it.
unsafe impl Sync for AttestCache {}

impl Default for AttestCache {
    fn default() -> Self {
        Self::new()
    }
}

impl AttestCache {
    /// Nothing fetched yet.
    pub fn new() -> Self {
        Self {
            state: AtomicU8::new(EMPTY),
            material: UnsafeCell::new(Material::empty()),
        }
    }

    /// The material, fetching it from EL3 through `machine` on first use.
    pub fn get<M: Machine>(&self, machine: &M) -> Result<&Material, MaterialError> {
        loop {
            match self
                .state
                .compare_exchange(EMPTY, BUSY, Ordering::Acquire, Ordering::Acquire)
            {
                Ok(_) => {
                    // SAFETY: this CPU moved the state to BUSY: nobody else reads or writes the
                    // material until it stores READY or EMPTY.
                    let r = self
                        .material
                        .with_mut(|p| fetch(machine, unsafe { &mut *p }));
                    self.state
                        .store(if r.is_ok() { READY } else { EMPTY }, Ordering::Release);
                    r?;
                }
                Err(READY) => {
                    // SAFETY: READY was published after the material was written, and it is never
                    // written again.
                    return Ok(self.material.with(|p| unsafe { &*p }));
                }
                Err(_) => spin_loop(),
            }
        }
    }
}

/// Fetches the RAK and the platform token bound to it.
fn fetch<M: Machine>(machine: &M, m: &mut Material) -> Result<(), MaterialError> {
    let mut key = [0u8; 2 * RAK_BYTES];
    let n = machine
        .el3_realm_attest_key(&mut key)
        .map_err(MaterialError::El3)?;
    if n != RAK_BYTES {
        return Err(MaterialError::BadKey);
    }
    m.rak.copy_from_slice(&key[..RAK_BYTES]);
    key.fill(0);
    let (x, y) = sign::public_key(&m.rak).map_err(|_| MaterialError::BadKey)?;
    m.rak_pub = cose_key_p384(&x, &y);
    let challenge: [u8; PLATFORM_CHALLENGE_BYTES] = Sha256::digest(m.rak_pub).into();
    m.platform_len = 0;
    let mut first = true;
    let mut again = 0;
    loop {
        let buf = &mut m.platform[m.platform_len..];
        if buf.is_empty() {
            return Err(MaterialError::BadToken);
        }
        match machine.el3_platform_token(first.then_some(&challenge[..]), buf) {
            Ok(hunk) => {
                if hunk.len > buf.len() || (hunk.len == 0 && hunk.remaining != 0) {
                    return Err(MaterialError::BadToken);
                }
                first = false;
                again = 0;
                m.platform_len += hunk.len;
                if hunk.remaining == 0 {
                    return if m.platform_len == 0 {
                        Err(MaterialError::BadToken)
                    } else {
                        Ok(())
                    };
                }
            }
            Err(El3Error::Other(AGAIN)) if again < MAX_AGAIN => {
                again += 1;
                spin_loop();
            }
            Err(e) => return Err(MaterialError::El3(e)),
        }
    }
}

/// `E_RMM_AGAIN`.
const AGAIN: i64 = -6;
