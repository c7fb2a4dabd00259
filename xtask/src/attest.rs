//! Verifying the attestation token bench-guest requested in the `realm` scenario: the host driver
//! writes `realm-token.cbor` and `realm.json` (testbed/host/src/scenarios/realm.rs) into QEMU's
//! working directory, and `attest-verify` checks them against what this side knows independently:
//! the fixed challenge, the expected REM and the TEST-ONLY IAK.

use std::fs;
use std::path::Path;
use std::process::Command;

use sha2::{Digest, Sha256};

use crate::util::{self, Error, Result};

/// The token file (testbed/host `TOKEN_FILE`).
pub const TOKEN_FILE: &str = "realm-token.cbor";
/// The Realm description (testbed/host `REALM_DESCRIPTION`).
pub const REALM_DESCRIPTION: &str = "realm.json";
/// The image the description's measured `data` steps name (testbed/host `GUEST_IMAGE_FILE`).
pub const GUEST_IMAGE_FILE: &str = "bench-guest.bin";
/// The host driver scenario that writes them.
pub const SCENARIO: &str = "realm";

/// bench-guest's challenge (bench-guest `challenge()`): byte `i` is `i*37 ^ 0xC3`.
pub fn challenge() -> [u8; 64] {
    std::array::from_fn(|i| ((i * 37) as u8) ^ 0xC3)
}

/// bench-guest's RSI_MEASUREMENT_EXTEND value (bench-guest `rem_value()`): byte `i` is `i ^ 0xA5`.
fn rem_value() -> [u8; 32] {
    std::array::from_fn(|i| (i as u8) ^ 0xA5)
}

/// The REM bench-guest extends (RSI index 1, the token's REM array index 0): the hash of the
/// initial (zero) REM followed by the value (DEN0137 RSI_MEASUREMENT_EXTEND; the Realm uses SHA-256).
pub fn expected_rem() -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([0u8; 32]);
    h.update(rem_value());
    h.finalize().into()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Whether a run with `--only only` runs the `realm` scenario.
pub fn selected(only: Option<&str>) -> bool {
    only.is_none_or(|o| o.split(',').any(|n| n == SCENARIO))
}

/// Before a run: removes stale outputs and puts the guest image next to the description.
pub fn prepare(workdir: &Path, guest_image: Option<&Path>) -> Result<()> {
    for f in [TOKEN_FILE, REALM_DESCRIPTION, GUEST_IMAGE_FILE] {
        let _ = fs::remove_file(workdir.join(f));
    }
    if let Some(image) = guest_image {
        fs::copy(image, workdir.join(GUEST_IMAGE_FILE)).map_err(|e| {
            Error::new(format!(
                "cannot copy {} into {}: {e}",
                image.display(),
                workdir.display()
            ))
        })?;
    }
    Ok(())
}

/// Runs `attest-verify` on the run's token and description; returns the one-line PASS summary.
pub fn verify(workdir: &Path) -> Result<String> {
    let token = workdir.join(TOKEN_FILE);
    let realm = workdir.join(REALM_DESCRIPTION);
    for f in [&token, &realm] {
        if !f.exists() {
            return Err(Error::new(format!(
                "attestation: {} was not written by the `{SCENARIO}` scenario",
                f.display()
            )));
        }
    }
    let rem = expected_rem();
    let mut cmd = util::cargo();
    cmd.args(["run", "-q", "-p", "attest-verify", "--"])
        .arg(&token)
        .args(["--iak", "test", "--allow-test-platform", "--challenge"])
        .arg(hex(&challenge()))
        .arg("--realm")
        .arg(&realm)
        .arg("--rem")
        .arg(format!("0={}", hex(&rem)))
        .arg("-v");
    let described = util::describe(&cmd);
    let out = Command::output(&mut cmd)
        .map_err(|e| Error::new(format!("cannot run attest-verify: {e}")))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        return Err(Error::new(format!(
            "attestation token verification failed: {described}\n{stdout}{stderr}"
        )));
    }
    let claim = |name: &str| {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_string()))
            .unwrap_or_default()
    };
    let rim = claim("RIM ");
    let ok = stdout
        .lines()
        .find(|l| l.starts_with("OK:"))
        .unwrap_or("OK")
        .to_string();
    let size = fs::metadata(&token).map(|m| m.len()).unwrap_or(0);
    Ok(format!(
        "PASS attest-verify {TOKEN_FILE} ({size} B): realm signature (RAK), platform signature (TEST IAK, TEST lifecycle allowed), RAK binding, RIM recomputed from {REALM_DESCRIPTION} = token RIM {}…, REM[0] = SHA-256(0 ‖ value) {}…, challenge {}… [{ok}]",
        &rim[..rim.len().min(16)],
        &hex(&rem)[..16],
        &hex(&challenge())[..16],
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_inputs() {
        let c = challenge();
        assert_eq!((c[0], c[1], c[63]), (0xC3, 0xE6, ((63 * 37) as u8) ^ 0xC3));
        assert_eq!(rem_value()[0], 0xA5);
        assert!(selected(None) && selected(Some("smoke,realm")) && !selected(Some("realm-pair")));
    }
}
