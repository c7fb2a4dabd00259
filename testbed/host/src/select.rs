//! Scenario selection: `cargo xtask … --only a,b` has QEMU's loader put `SCENARIOS=a,b\0` at
//! [`SELECT_ADDR`] (NS DRAM below the driver image, zero at reset); the driver then runs only the
//! scenarios named there. Without it every scenario runs.

/// Where the selection string is loaded (see `xtask/src/qemu.rs`).
pub const SELECT_ADDR: u64 = 0x5FFF_F000;
/// The selection string's prefix.
const PREFIX: &[u8] = b"SCENARIOS=";
/// The longest selection read.
const MAX: usize = 256;

/// The selection at `SELECT_ADDR` (without the prefix), if there is one.
fn selection(buf: &mut [u8; MAX]) -> Option<&[u8]> {
    let mut len = 0;
    while len < MAX {
        // SAFETY: NS DRAM below the driver image (MMU off, VA = PA: Device memory, so only
        // aligned 64-bit reads, as in nsmem), not a Rust object; written by QEMU before reset.
        let word = unsafe { core::ptr::read_volatile((SELECT_ADDR + len as u64) as *const u64) };
        buf[len..len + 8].copy_from_slice(&word.to_le_bytes());
        len += 8;
        if buf[..len].contains(&0) {
            break;
        }
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(MAX);
    buf[..end].strip_prefix(PREFIX)
}

/// Whether the scenario `name` runs in this boot.
pub fn runs(name: &str) -> bool {
    let mut buf = [0u8; MAX];
    match selection(&mut buf) {
        Some(list) => list.split(|&b| b == b',').any(|n| n == name.as_bytes()),
        None => true,
    }
}

/// Whether the selection names `name` (scenarios that never run by default, e.g. `linux`).
pub fn named(name: &str) -> bool {
    let mut buf = [0u8; MAX];
    selection(&mut buf).is_some_and(|list| list.split(|&b| b == b',').any(|n| n == name.as_bytes()))
}
