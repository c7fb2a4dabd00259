//! The driver's own (NS PAS) memory: filling granules, writing `RmiRealmParams` and
//! `RmiRecParams`, and scanning a granule for zero through the fault probe.
//!
//! The driver runs with its MMU off, so every data access is Device-nGnRnE: only aligned 64-bit
//! volatile accesses are used here.

use core::mem::offset_of;

use warden_abi::realm_params::{RealmParams, RmiRealmParams};
use warden_abi::rec_params::RmiRecParams;

use crate::fault::{Fault, probe_read};

/// Bytes per granule.
pub const GRANULE: u64 = 0x1000;
/// 64-bit words per granule.
const WORDS: u64 = GRANULE / 8;

/// Writes the 64-bit word `value` at `pa` (8-byte aligned NS memory).
pub fn write_u64(pa: u64, value: u64) {
    // SAFETY: `pa` is an aligned address in the driver's NS DRAM (MMU off: VA = PA), not part of
    // any Rust object; a volatile store has no other effect.
    unsafe { core::ptr::write_volatile(pa as *mut u64, value) }
}

/// Reads the 64-bit word at `pa` (8-byte aligned NS memory that is known to be readable).
pub fn read_u64(pa: u64) -> u64 {
    // SAFETY: as in `write_u64`, for a load.
    unsafe { core::ptr::read_volatile(pa as *const u64) }
}

/// Fills the granule at `pa` with `word(i)` in its i-th 64-bit word.
pub fn fill(pa: u64, word: impl Fn(u64) -> u64) {
    for i in 0..WORDS {
        write_u64(pa + i * 8, word(i));
    }
}

/// A non-zero pattern that differs per granule and per word (what "not scrubbed" would look like).
pub const fn pattern(pa: u64, i: u64) -> u64 {
    0xA5A5_0000_0000_0000 ^ (pa << 4) ^ (i * 0x0101_0101)
}

/// Fills the granule at `pa` with [`pattern`].
pub fn fill_pattern(pa: u64) {
    fill(pa, |i| pattern(pa, i));
}

/// Whether the granule at `pa` holds [`pattern`] (it must be readable).
pub fn holds_pattern(pa: u64) -> bool {
    (0..WORDS).all(|i| read_u64(pa + i * 8) == pattern(pa, i))
}

/// Reads the whole granule at `pa` through the fault probe (primary CPU only): `Ok(None)` if it is
/// all zero, `Ok(Some((offset, value)))` for the first non-zero word, `Err` if a read faults.
pub fn scan_zero(pa: u64) -> Result<Option<(u64, u64)>, Fault> {
    for i in 0..WORDS {
        let v = probe_read(pa + i * 8)?;
        if v != 0 {
            return Ok(Some((i * 8, v)));
        }
    }
    Ok(None)
}

/// Writes `p` as an `RmiRealmParams` granule at `pa` (NS memory): every field at its offset in
/// warden-abi's layout, reserved bytes zero.
pub fn write_realm_params(pa: u64, p: &RealmParams) {
    let raw = p.encode();
    fill(pa, |_| 0);
    let fields = [
        (offset_of!(RmiRealmParams, flags), raw.flags),
        (offset_of!(RmiRealmParams, s2sz), raw.s2sz),
        (offset_of!(RmiRealmParams, sve_vl), raw.sve_vl),
        (offset_of!(RmiRealmParams, num_bps), raw.num_bps),
        (offset_of!(RmiRealmParams, num_wps), raw.num_wps),
        (offset_of!(RmiRealmParams, pmu_num_ctrs), raw.pmu_num_ctrs),
        (offset_of!(RmiRealmParams, hash_algo), raw.hash_algo),
        (offset_of!(RmiRealmParams, vmid), raw.vmid),
        (offset_of!(RmiRealmParams, rtt_base), raw.rtt_base),
        (
            offset_of!(RmiRealmParams, rtt_level_start),
            raw.rtt_level_start as u64,
        ),
        // rtt_num_start is a UInt32 whose 8-byte slot's upper half is reserved (zero).
        (
            offset_of!(RmiRealmParams, rtt_num_start),
            u64::from(raw.rtt_num_start),
        ),
    ];
    for (offset, value) in fields {
        write_u64(pa + offset as u64, value);
    }
    let rpv = offset_of!(RmiRealmParams, rpv) as u64;
    for (i, chunk) in raw.rpv.chunks_exact(8).enumerate() {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        write_u64(pa + rpv + i as u64 * 8, u64::from_le_bytes(word));
    }
}

/// Writes an `RmiRecParams` granule at `pa` (NS memory): `flags` RUNNABLE if `runnable`, `mpidr`,
/// `pc`, `num_aux` and the auxiliary granules `aux(0)..aux(num_aux - 1)`; every other byte zero.
pub fn write_rec_params(
    pa: u64,
    runnable: bool,
    mpidr: u64,
    pc: u64,
    num_aux: u64,
    aux: impl Fn(u64) -> u64,
) {
    fill(pa, |_| 0);
    let field = |offset: usize| pa + offset as u64;
    write_u64(field(offset_of!(RmiRecParams, flags)), u64::from(runnable));
    write_u64(field(offset_of!(RmiRecParams, mpidr)), mpidr);
    write_u64(field(offset_of!(RmiRecParams, pc)), pc);
    write_u64(field(offset_of!(RmiRecParams, num_aux)), num_aux);
    for i in 0..num_aux {
        write_u64(field(offset_of!(RmiRecParams, aux)) + 8 * i, aux(i));
    }
}

/// Rewrites `rtt_base` and `vmid` of the `RmiRealmParams` at `pa` (the storm reuses one page).
pub fn set_params_rtt_and_vmid(pa: u64, rtt_base: u64, vmid: u16) {
    write_u64(pa + offset_of!(RmiRealmParams, rtt_base) as u64, rtt_base);
    write_u64(
        pa + offset_of!(RmiRealmParams, vmid) as u64,
        u64::from(vmid),
    );
}
