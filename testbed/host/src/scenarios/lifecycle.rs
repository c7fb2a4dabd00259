//! `lifecycle`: one Realm from REALM_CREATE to the last GRANULE_UNDELEGATE, with every RTT and DATA
//! command Warden implements, checked through RTT_READ_ENTRY, then every granule read back through
//! NS (scrubbed: all zero, no GPF).

use super::checks::*;
use super::{Outcome, rmi};
use crate::fault::probe_read;
use crate::nsmem;

/// The scenario's NS memory: 0x8100_0000 onwards.
const BASE: u64 = 0x8100_0000;
/// `RmiRealmParams` (NS).
const PARAMS: u64 = BASE;
/// DATA_CREATE's source page (NS), filled with a pattern.
const SRC: u64 = BASE + 0x1000;
/// The page the unprotected IPA maps (NS; never touched by the Realm here).
const NS_PAGE: u64 = BASE + 0x2000;
/// The RD.
const RD: u64 = BASE + 0x3000;
/// The two starting RTTs (8 KiB aligned: two concatenated level-1 tables).
const RTT0: u64 = BASE + 0x4000;
const RTT1: u64 = BASE + 0x5000;
/// Level-2 and level-3 tables of the protected half.
const L2: u64 = BASE + 0x6000;
const L3: u64 = BASE + 0x7000;
/// Level-2 and level-3 tables of the unprotected half.
const NS_L2: u64 = BASE + 0x8000;
const NS_L3: u64 = BASE + 0x9000;
/// DATA (measured DATA_CREATE), DATA (DATA_CREATE_UNKNOWN), and the one refused once ACTIVE.
const DATA: u64 = BASE + 0xA000;
const DATA_UNKNOWN: u64 = BASE + 0xB000;
const DATA_LATE: u64 = BASE + 0xC000;

/// Every granule the Realm uses (all delegated).
const GRANULES: [u64; 10] = [
    RD,
    RTT0,
    RTT1,
    L2,
    L3,
    NS_L2,
    NS_L3,
    DATA,
    DATA_UNKNOWN,
    DATA_LATE,
];

const VMID: u16 = 10;
/// RTT_INIT_RIPAS covers the first four pages of the level-3 table.
const RIPAS_PAGES: u64 = 4;
/// IPAs of the two DATA granules: one inside the RAM range (DATA_CREATE_UNKNOWN keeps RAM), one
/// outside it (DATA_CREATE makes EMPTY into RAM).
const IPA_UNKNOWN: u64 = IPA + 0x1000;
const IPA_DATA: u64 = IPA + 0x8000;

/// The run of the scenario.
pub fn lifecycle() -> Outcome {
    let mut c = Checks::new();
    let mut rmi = rmi();

    // NS memory the Host owns: parameters, source pattern.
    nsmem::write_realm_params(PARAMS, &realm_params(RTT0, VMID));
    nsmem::fill_pattern(SRC);
    nsmem::fill_pattern(NS_PAGE);
    c.fill_and_delegate(&GRANULES)?;

    // REALM_CREATE, REC_AUX_COUNT.
    c.ok(
        format_args!("REALM_CREATE(rd {RD:#x}, params {PARAMS:#x})"),
        rmi.realm_create(RD, PARAMS),
    )?;
    c.eq(
        format_args!("GRANULE_UNDELEGATE of the RD"),
        rmi.granule_undelegate(RD),
        Err(INPUT),
    )?;
    let aux = c.rec_aux_count(RD, 16)?;
    // Every protected starting entry is UNASSIGNED/EMPTY; the walk stops at level 1.
    c.eq(
        format_args!("READ_ENTRY({IPA:#x}, 3) of a new Realm"),
        rmi.rtt_read_entry(RD, IPA, 3),
        Ok(entry(1, UNASSIGNED, 0, EMPTY)),
    )?;

    // RTT_CREATE level 2 and 3 (protected).
    c.ok(
        format_args!("RTT_CREATE({IPA_L2:#x}, 2)"),
        rmi.rtt_create(RD, L2, IPA_L2, 2),
    )?;
    c.ok(
        format_args!("RTT_CREATE({IPA:#x}, 3)"),
        rmi.rtt_create(RD, L3, IPA, 3),
    )?;
    c.eq(
        format_args!("READ_ENTRY({IPA_L2:#x}, 1)"),
        rmi.rtt_read_entry(RD, IPA_L2, 1),
        Ok(entry(1, TABLE, L2, EMPTY)),
    )?;
    c.eq(
        format_args!("READ_ENTRY({IPA:#x}, 2)"),
        rmi.rtt_read_entry(RD, IPA, 2),
        Ok(entry(2, TABLE, L3, EMPTY)),
    )?;
    c.eq(
        format_args!("GRANULE_UNDELEGATE of a live RTT"),
        rmi.granule_undelegate(L3),
        Err(INPUT),
    )?;

    // RTT_INIT_RIPAS of a range.
    let top = IPA + RIPAS_PAGES * 0x1000;
    c.eq(
        format_args!("RTT_INIT_RIPAS({IPA:#x}, {top:#x})"),
        rmi.rtt_init_ripas(RD, IPA, top),
        Ok(top),
    )?;
    for i in 0..RIPAS_PAGES {
        let ipa = IPA + i * 0x1000;
        c.eq(
            format_args!("READ_ENTRY({ipa:#x}, 3) after INIT_RIPAS"),
            rmi.rtt_read_entry(RD, ipa, 3),
            Ok(entry(3, UNASSIGNED, 0, RAM)),
        )?;
    }
    c.eq(
        format_args!("READ_ENTRY({top:#x}, 3) past INIT_RIPAS"),
        rmi.rtt_read_entry(RD, top, 3),
        Ok(entry(3, UNASSIGNED, 0, EMPTY)),
    )?;

    // DATA_CREATE (measured) from the NS source; DATA_CREATE_UNKNOWN.
    c.ok(
        format_args!("DATA_CREATE(data {DATA:#x}, ipa {IPA_DATA:#x}, src {SRC:#x}, measured)"),
        rmi.data_create(RD, DATA, IPA_DATA, SRC, 1),
    )?;
    c.eq(
        format_args!("READ_ENTRY({IPA_DATA:#x}, 3) after DATA_CREATE"),
        rmi.rtt_read_entry(RD, IPA_DATA, 3),
        Ok(entry(3, ASSIGNED, DATA, RAM)),
    )?;
    c.that(
        format_args!("the NS source page changed during DATA_CREATE"),
        nsmem::holds_pattern(SRC),
    )?;
    c.ok(
        format_args!("DATA_CREATE_UNKNOWN(data {DATA_UNKNOWN:#x}, ipa {IPA_UNKNOWN:#x})"),
        rmi.data_create_unknown(RD, DATA_UNKNOWN, IPA_UNKNOWN),
    )?;
    c.eq(
        format_args!("READ_ENTRY({IPA_UNKNOWN:#x}, 3) after DATA_CREATE_UNKNOWN"),
        rmi.rtt_read_entry(RD, IPA_UNKNOWN, 3),
        Ok(entry(3, ASSIGNED, DATA_UNKNOWN, RAM)),
    )?;
    c.eq(
        format_args!("DATA_CREATE_UNKNOWN at an ASSIGNED IPA"),
        rmi.data_create_unknown(RD, DATA_LATE, IPA_DATA),
        Err(rtt_error(3)),
    )?;
    // The DATA granule is Realm memory now: the Host cannot read it.
    let read = probe_read(DATA);
    c.that(
        format_args!("NS read of DATA granule {DATA:#x} = {read:x?}, want a GPF"),
        matches!(read, Err(f) if f.is_gpf()),
    )?;

    // The unprotected half: tables, MAP_UNPROTECTED / UNMAP_UNPROTECTED.
    let ns_l2_ipa = NS_IPA & !(GIB - 1);
    c.ok(
        format_args!("RTT_CREATE({ns_l2_ipa:#x}, 2)"),
        rmi.rtt_create(RD, NS_L2, ns_l2_ipa, 2),
    )?;
    c.ok(
        format_args!("RTT_CREATE({NS_IPA:#x}, 3)"),
        rmi.rtt_create(RD, NS_L3, NS_IPA, 3),
    )?;
    c.eq(
        format_args!("READ_ENTRY({NS_IPA:#x}, 3) (UNASSIGNED_NS)"),
        rmi.rtt_read_entry(RD, NS_IPA, 3),
        Ok(entry(3, UNASSIGNED, 0, EMPTY)),
    )?;
    let desc = NS_PAGE | NS_ATTRS;
    c.ok(
        format_args!("RTT_MAP_UNPROTECTED({NS_IPA:#x}, 3, {desc:#x})"),
        rmi.rtt_map_unprotected(RD, NS_IPA, 3, desc),
    )?;
    c.eq(
        format_args!("READ_ENTRY({NS_IPA:#x}, 3) after MAP_UNPROTECTED"),
        rmi.rtt_read_entry(RD, NS_IPA, 3),
        Ok(entry(3, ASSIGNED, desc, EMPTY)),
    )?;
    c.eq(
        format_args!("RTT_MAP_UNPROTECTED of a protected IPA"),
        rmi.rtt_map_unprotected(RD, IPA + 0x5000, 3, desc),
        Err(INPUT),
    )?;
    c.eq(
        format_args!("RTT_UNMAP_UNPROTECTED({NS_IPA:#x}, 3) (X1 = top)"),
        rmi.rtt_unmap_unprotected(RD, NS_IPA, 3),
        Ok(NS_IPA + MIB2),
    )?;
    c.eq(
        format_args!("READ_ENTRY({NS_IPA:#x}, 3) after UNMAP_UNPROTECTED"),
        rmi.rtt_read_entry(RD, NS_IPA, 3),
        Ok(entry(3, UNASSIGNED, 0, EMPTY)),
    )?;

    // REALM_ACTIVATE; then DATA_CREATE is refused (Realm not NEW), and activation is one-shot.
    c.ok(format_args!("REALM_ACTIVATE"), rmi.realm_activate(RD))?;
    c.eq(
        format_args!("DATA_CREATE in an ACTIVE Realm"),
        rmi.data_create(RD, DATA_LATE, IPA + 0x9000, SRC, 1),
        Err(REALM),
    )?;
    c.eq(
        format_args!("REALM_ACTIVATE of an ACTIVE Realm"),
        rmi.realm_activate(RD),
        Err(REALM),
    )?;
    c.eq(
        format_args!("RTT_INIT_RIPAS in an ACTIVE Realm"),
        rmi.rtt_init_ripas(RD, IPA + 0x9000, IPA + 0xA000),
        Err(REALM),
    )?;
    c.eq(
        format_args!("REALM_DESTROY of a live Realm"),
        rmi.realm_destroy(RD),
        Err(REALM),
    )?;

    // Teardown: DATA_DESTROY (X1 = PA, X2 = top), RTT_DESTROY (X1 = PA, X2 = top).
    c.eq(
        format_args!("DATA_DESTROY({IPA_UNKNOWN:#x})"),
        rmi.data_destroy(RD, IPA_UNKNOWN),
        Ok((DATA_UNKNOWN, IPA_DATA)),
    )?;
    c.eq(
        format_args!("DATA_DESTROY({IPA_DATA:#x})"),
        rmi.data_destroy(RD, IPA_DATA),
        Ok((DATA, IPA + MIB2)),
    )?;
    c.eq(
        format_args!("READ_ENTRY({IPA_DATA:#x}, 3) after DATA_DESTROY"),
        rmi.rtt_read_entry(RD, IPA_DATA, 3),
        Ok(entry(3, UNASSIGNED, 0, DESTROYED)),
    )?;
    c.eq(
        format_args!("RTT_DESTROY({IPA:#x}, 3)"),
        rmi.rtt_destroy(RD, IPA, 3),
        Ok((L3, IPA_L2 + GIB)),
    )?;
    c.eq(
        format_args!("READ_ENTRY({IPA:#x}, 2) after RTT_DESTROY"),
        rmi.rtt_read_entry(RD, IPA, 2),
        Ok(entry(2, UNASSIGNED, 0, DESTROYED)),
    )?;
    // The next live level-1 entry after IPA_L2 is the unprotected level-2 table: the end of the
    // first starting table (512 GiB) is where both would put top.
    c.eq(
        format_args!("RTT_DESTROY({IPA_L2:#x}, 2)"),
        rmi.rtt_destroy(RD, IPA_L2, 2),
        Ok((L2, UNPROTECTED)),
    )?;
    c.eq(
        format_args!("RTT_DESTROY({NS_IPA:#x}, 3)"),
        rmi.rtt_destroy(RD, NS_IPA, 3),
        Ok((NS_L3, ns_l2_ipa + GIB)),
    )?;
    c.eq(
        format_args!("RTT_DESTROY({ns_l2_ipa:#x}, 2)"),
        rmi.rtt_destroy(RD, ns_l2_ipa, 2),
        Ok((NS_L2, 1 << IPA_BITS)),
    )?;
    c.ok(format_args!("REALM_DESTROY"), rmi.realm_destroy(RD))?;
    c.eq(
        format_args!("REC_AUX_COUNT of a destroyed RD"),
        rmi.rec_aux_count(RD),
        Err(INPUT),
    )?;

    // Everything back to the Host, scrubbed.
    c.undelegate_and_read_zero(&GRANULES)?;
    c.that(
        format_args!("the NS source page changed"),
        nsmem::holds_pattern(SRC),
    )?;
    c.still_serving(format_args!("the lifecycle"))?;
    Ok(msg!(
        "{} checks: REALM_CREATE (40-bit IPA, L1 start x2, SHA-256), REC_AUX_COUNT {aux}, RTT L2+L3 \
             (protected and unprotected), INIT_RIPAS {RIPAS_PAGES} pages, DATA_CREATE measured + \
             DATA_CREATE_UNKNOWN, MAP/UNMAP_UNPROTECTED, ACTIVATE (DATA_CREATE -> RMI_ERROR_REALM), \
             DATA/RTT_DESTROY PA+top, REALM_DESTROY; {} granules undelegated, read back zero without GPF",
        c.passed,
        GRANULES.len()
    ))
}
