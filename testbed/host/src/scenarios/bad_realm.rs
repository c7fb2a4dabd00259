//! The Realm part of `bad-input`: bad pointers and granules passed to REALM_CREATE, DATA_CREATE and
//! the RD/RTT commands. Each bad call must fail with RMI_ERROR_INPUT and Warden must keep serving;
//! a positive control with the same arguments except the bad one must then succeed.
//!
//! The most important cases are the DELEGATED granule passed as `params_ptr` and as `src`: Warden's
//! checks that the pointer is in DRAM pass, and only its copy through the NS PAS alias finds out,
//! by taking a real granule protection fault that its exception-fixup table turns into an error.
//! Warden's own image (Realm PAS, inside DRAM) takes the same path.

use super::Msg;
use super::checks::*;
use super::rmi;
use crate::nsmem;

/// The scenario's NS memory: 0x8200_0000 onwards.
const BASE: u64 = 0x8200_0000;
const PARAMS: u64 = BASE;
const SRC: u64 = BASE + 0x1000;
/// An NS granule that is never delegated (an UNDELEGATED "RD").
const NS_PLAIN: u64 = BASE + 0x2000;
const RD: u64 = BASE + 0x3000;
const RTT0: u64 = BASE + 0x4000;
const RTT1: u64 = BASE + 0x5000;
const L2: u64 = BASE + 0x6000;
const L3: u64 = BASE + 0x7000;
const DATA: u64 = BASE + 0x8000;
/// Holds valid Realm parameters and a source pattern, and is DELEGATED while it is used as
/// `params_ptr` / `src` (and as an RD that is not an RD).
const DELEGATED: u64 = BASE + 0x9000;

const GRANULES: [u64; 7] = [DELEGATED, RD, RTT0, RTT1, L2, L3, DATA];
const VMID: u16 = 20;

/// Warden's image (Realm PAS; inside DRAM, so it passes the bound check).
const WARDEN_IMAGE: u64 = 0x4010_0000;
/// UART0.
const MMIO: u64 = 0x0900_0000;
/// The first byte after DRAM (3 GiB at 0x4000_0000).
const BEYOND_DRAM: u64 = 0x1_0000_0000;

/// How many bad calls of each kind were rejected.
pub struct Counts {
    /// REALM_CREATE with a bad `params_ptr`.
    pub params: u32,
    /// REALM_CREATE with a bad RD.
    pub create_rd: u32,
    /// RD/RTT commands with a bad RD.
    pub rd: u32,
    /// RTT commands with a bad level.
    pub levels: u32,
    /// DATA_CREATE with a bad `src`.
    pub src: u32,
}

/// Runs the checks on `c`.
pub fn realm_checks(c: &mut Checks) -> Result<Counts, Msg> {
    let mut rmi = rmi();
    let mut n = Counts {
        params: 0,
        create_rd: 0,
        rd: 0,
        levels: 0,
        src: 0,
    };
    let params = realm_params(RTT0, VMID);
    nsmem::write_realm_params(PARAMS, &params);
    nsmem::fill_pattern(SRC);
    nsmem::fill_pattern(NS_PLAIN);
    c.fill_and_delegate(&GRANULES[1..])?;
    // The DELEGATED granule holds valid parameters when it is delegated (the delegation may wipe
    // them; Warden must not even get that far).
    nsmem::write_realm_params(DELEGATED, &params);
    c.ok(
        format_args!("GRANULE_DELEGATE({DELEGATED:#x})"),
        rmi.granule_delegate(DELEGATED),
    )?;

    // REALM_CREATE: bad params_ptr, everything else valid: the shared list of bad addresses
    // (MMIO, Secure, Root, Realm, beyond DRAM and the PA space) and a DELEGATED granule.
    let bad_params = BAD.into_iter().chain([
        ("a DELEGATED granule (GPF in Warden's copy)", DELEGATED),
        ("misaligned", PARAMS + 8),
    ]);
    for (what, p) in bad_params {
        c.rejected(
            format_args!("REALM_CREATE(rd {RD:#x}, params_ptr {p:#x} [{what}])"),
            rmi.realm_create(RD, p),
            INPUT,
        )?;
        n.params += 1;
    }
    // REALM_CREATE: bad RD, valid parameters.
    let bad_rds: [(&str, u64); 6] = [
        ("misaligned", RD + 0x10),
        ("UNDELEGATED", NS_PLAIN),
        ("a starting RTT (alias)", RTT1),
        ("MMIO", MMIO),
        ("beyond DRAM", BEYOND_DRAM),
        ("Warden's image", WARDEN_IMAGE),
    ];
    for (what, rd) in bad_rds {
        c.rejected(
            format_args!("REALM_CREATE(rd {rd:#x} [{what}], params_ptr {PARAMS:#x})"),
            rmi.realm_create(rd, PARAMS),
            INPUT,
        )?;
        n.create_rd += 1;
    }
    // Positive control: only the bad argument was wrong.
    c.ok(
        format_args!("REALM_CREATE(rd {RD:#x}, params_ptr {PARAMS:#x}) after the bad ones"),
        rmi.realm_create(RD, PARAMS),
    )?;

    // RD commands with something that is not an RD.
    let not_rds: [(&str, u64); 7] = [
        ("misaligned", RD + 0x10),
        ("UNDELEGATED", NS_PLAIN),
        ("DELEGATED", DELEGATED),
        ("an RTT", RTT0),
        ("MMIO", MMIO),
        ("beyond DRAM", BEYOND_DRAM),
        ("Warden's image", WARDEN_IMAGE),
    ];
    for (what, rd) in not_rds {
        c.rejected(
            format_args!("REALM_ACTIVATE({rd:#x} [{what}])"),
            rmi.realm_activate(rd),
            INPUT,
        )?;
        c.rejected(
            format_args!("REALM_DESTROY({rd:#x} [{what}])"),
            rmi.realm_destroy(rd),
            INPUT,
        )?;
        c.rejected(
            format_args!("REC_AUX_COUNT({rd:#x} [{what}])"),
            rmi.rec_aux_count(rd),
            INPUT,
        )?;
        c.rejected(
            format_args!("RTT_READ_ENTRY(rd {rd:#x} [{what}])"),
            rmi.rtt_read_entry(rd, IPA, 3),
            INPUT,
        )?;
        c.rejected(
            format_args!("RTT_CREATE(rd {rd:#x} [{what}])"),
            rmi.rtt_create(rd, L2, IPA_L2, 2),
            INPUT,
        )?;
        n.rd += 5;
    }

    // RTT commands with bad levels (IPA 0 is aligned at every level, so only the level is wrong).
    // The starting level is 1; 0x103 must not be truncated to 3.
    let bad_create_levels: [i64; 6] = [1, 0, -1, 4, 0x103, i64::MIN];
    for level in bad_create_levels {
        c.rejected(
            format_args!("RTT_CREATE(ipa 0, level {level:#x})"),
            rmi.rtt_create(RD, L2, 0, level),
            INPUT,
        )?;
        n.levels += 1;
    }
    for level in [1, 0, 4, -1] {
        c.rejected(
            format_args!("RTT_DESTROY(ipa 0, level {level})"),
            rmi.rtt_destroy(RD, 0, level),
            INPUT,
        )?;
        c.rejected(
            format_args!("RTT_FOLD(ipa 0, level {level})"),
            rmi.rtt_fold(RD, 0, level),
            INPUT,
        )?;
        n.levels += 2;
    }
    for level in [0, -1, 4, 0x103] {
        c.rejected(
            format_args!("RTT_READ_ENTRY(ipa 0, level {level:#x})"),
            rmi.rtt_read_entry(RD, 0, level),
            INPUT,
        )?;
        n.levels += 1;
    }
    let desc = SRC | NS_ATTRS;
    for level in [0, 4, -1] {
        c.rejected(
            format_args!("RTT_MAP_UNPROTECTED({UNPROTECTED:#x}, level {level})"),
            rmi.rtt_map_unprotected(RD, UNPROTECTED, level, desc),
            INPUT,
        )?;
        c.rejected(
            format_args!("RTT_UNMAP_UNPROTECTED({UNPROTECTED:#x}, level {level})"),
            rmi.rtt_unmap_unprotected(RD, UNPROTECTED, level),
            INPUT,
        )?;
        n.levels += 2;
    }
    // Positive controls: the same commands at valid levels.
    c.eq(
        format_args!("READ_ENTRY(ipa 0, level 1) after the bad levels"),
        rmi.rtt_read_entry(RD, 0, 1),
        Ok(entry(1, UNASSIGNED, 0, EMPTY)),
    )?;
    c.ok(
        format_args!("RTT_CREATE({IPA_L2:#x}, 2) after the bad levels"),
        rmi.rtt_create(RD, L2, IPA_L2, 2),
    )?;
    c.ok(
        format_args!("RTT_CREATE({IPA:#x}, 3)"),
        rmi.rtt_create(RD, L3, IPA, 3),
    )?;

    // DATA_CREATE: bad src, everything else valid.
    let bad_srcs = BAD.into_iter().chain([
        ("a DELEGATED granule (GPF in Warden's copy)", DELEGATED),
        ("misaligned", SRC + 8),
    ]);
    for (what, src) in bad_srcs {
        c.rejected(
            format_args!("DATA_CREATE(src {src:#x} [{what}])"),
            rmi.data_create(RD, DATA, IPA, src, 1),
            INPUT,
        )?;
        n.src += 1;
    }
    c.eq(
        format_args!("READ_ENTRY({IPA:#x}, 3) after the rejected DATA_CREATEs"),
        rmi.rtt_read_entry(RD, IPA, 3),
        Ok(entry(3, UNASSIGNED, 0, EMPTY)),
    )?;
    c.ok(
        format_args!("DATA_CREATE(src {SRC:#x}) after the bad ones"),
        rmi.data_create(RD, DATA, IPA, SRC, 1),
    )?;
    c.eq(
        format_args!("READ_ENTRY({IPA:#x}, 3) after DATA_CREATE"),
        rmi.rtt_read_entry(RD, IPA, 3),
        Ok(entry(3, ASSIGNED, DATA, RAM)),
    )?;

    // Teardown; every granule back to the Host, scrubbed.
    c.eq(
        format_args!("DATA_DESTROY({IPA:#x})"),
        rmi.data_destroy(RD, IPA),
        Ok((DATA, IPA + MIB2)),
    )?;
    c.eq(
        format_args!("RTT_DESTROY({IPA:#x}, 3)"),
        rmi.rtt_destroy(RD, IPA, 3).map(|(pa, _)| pa),
        Ok(L3),
    )?;
    c.eq(
        format_args!("RTT_DESTROY({IPA_L2:#x}, 2)"),
        rmi.rtt_destroy(RD, IPA_L2, 2).map(|(pa, _)| pa),
        Ok(L2),
    )?;
    c.ok(format_args!("REALM_DESTROY"), rmi.realm_destroy(RD))?;
    c.undelegate_and_read_zero(&GRANULES)?;
    c.that(
        format_args!("NS granule {NS_PLAIN:#x} changed"),
        nsmem::holds_pattern(NS_PLAIN),
    )?;
    Ok(n)
}
