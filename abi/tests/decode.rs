//! Decode tests for the shared-memory structures: SBZ enforcement, accepted
//! and rejected values, and encode/decode round trips.

use warden_abi::addr::Pa;
use warden_abi::manifest::{
    ConsoleInfo, NsDramBank, PlatInfoList, RmmBootManifest, checksum_for, checksum_ok,
};
use warden_abi::realm_params::{ParamsInvalid, RealmParams, RmiRealmFlags, RmiRealmParams};
use warden_abi::rec_params::{
    MAX_REC_AUX_GRANULES, RecMpidr, RecParamsInvalid, RmiRecCreateFlags, RmiRecParams,
};
use warden_abi::rec_run::{
    GICV3_HCR_HOST_MASK, REC_RUN_EXIT_OFFSET, RmiPmuOverflowStatus, RmiRecEnterFlags,
    RmiRecExitReason, RmiRecRun,
};
use warden_abi::rsi::{RsiHostCall, RsiRealmConfig, RsiRipasChangeFlags};
use warden_abi::rtt::RmiHashAlgorithm;
use warden_abi::version::BOOT_MANIFEST_0_3;
use zerocopy::{FromBytes, FromZeros, IntoBytes};

fn zero_realm_params() -> RmiRealmParams {
    RmiRealmParams::new_zeroed()
}

fn good_realm_params() -> RmiRealmParams {
    let mut p = zero_realm_params();
    p.flags = (RmiRealmFlags::SVE | RmiRealmFlags::PMU).bits();
    p.s2sz = 48;
    p.sve_vl = 3;
    p.num_bps = 5;
    p.num_wps = 3;
    p.pmu_num_ctrs = 6;
    p.hash_algo = 1;
    p.rpv = [0xA5; 64];
    p.vmid = 0xFFFF;
    p.rtt_base = 0x8800_0000;
    p.rtt_level_start = 0;
    p.rtt_num_start = 1;
    p
}

#[test]
fn realm_params_accepts_valid() {
    let d = good_realm_params().decode().unwrap();
    assert_eq!(d.flags, RmiRealmFlags::SVE | RmiRealmFlags::PMU);
    assert_eq!(d.s2sz, 48);
    assert_eq!(d.sve_vl, 3);
    assert_eq!(d.num_bps, 5);
    assert_eq!(d.num_wps, 3);
    assert_eq!(d.pmu_num_ctrs, 6);
    assert_eq!(d.hash_algo, RmiHashAlgorithm::Sha512);
    assert_eq!(d.rpv, [0xA5; 64]);
    assert_eq!(d.vmid, 0xFFFF);
    assert_eq!(d.rtt_base, Pa(0x8800_0000));
    assert_eq!(d.rtt_level_start, 0);
    assert_eq!(d.rtt_num_start, 1);
    // An all-zero page is a valid encoding (SHA-256, no features).
    let z = zero_realm_params().decode().unwrap();
    assert_eq!(z.hash_algo, RmiHashAlgorithm::Sha256);
    assert!(z.flags.is_empty());
}

#[test]
fn realm_params_round_trip() {
    let p = good_realm_params();
    let d: RealmParams = p.decode().unwrap();
    assert_eq!(d.encode().as_bytes(), p.as_bytes());
    let mut lpa2 = d;
    lpa2.flags = RmiRealmFlags::LPA2;
    lpa2.rtt_level_start = -1;
    lpa2.s2sz = 52;
    assert_eq!(lpa2.encode().decode(), Ok(lpa2));
    assert_eq!(lpa2.encode().rtt_level_start, -1);
}

#[test]
fn realm_params_flags_sbz() {
    for bit in 3..64 {
        let mut p = good_realm_params();
        p.flags |= 1 << bit;
        assert_eq!(p.decode(), Err(ParamsInvalid::Flags), "bit {bit}");
    }
    let mut p = good_realm_params();
    p.flags = 0b111;
    assert!(p.decode().is_ok());
}

#[test]
fn realm_params_u8_slots_sbz() {
    type Setter = fn(&mut RmiRealmParams, u64);
    let cases: [(Setter, ParamsInvalid); 5] = [
        (|p, v| p.s2sz = v, ParamsInvalid::S2sz),
        (|p, v| p.sve_vl = v, ParamsInvalid::SveVl),
        (|p, v| p.num_bps = v, ParamsInvalid::NumBps),
        (|p, v| p.num_wps = v, ParamsInvalid::NumWps),
        (|p, v| p.pmu_num_ctrs = v, ParamsInvalid::PmuNumCtrs),
    ];
    for (set, err) in cases {
        let mut p = good_realm_params();
        set(&mut p, 0xFF);
        assert!(p.decode().is_ok(), "{err:?} 0xFF is a valid UInt8");
        for bad in [0x100, 0x1_0000_0000, 1 << 63, u64::MAX] {
            let mut p = good_realm_params();
            set(&mut p, bad);
            assert_eq!(p.decode(), Err(err), "{err:?} = {bad:#x}");
        }
    }
}

#[test]
fn realm_params_hash_algo() {
    for (v, ok) in [
        (0u64, true),
        (1, true),
        (2, false),
        (0xFF, false),
        (0x100, false),
    ] {
        let mut p = good_realm_params();
        p.hash_algo = v;
        assert_eq!(p.decode().is_ok(), ok, "hash_algo {v:#x}");
        if !ok {
            assert_eq!(p.decode(), Err(ParamsInvalid::HashAlgo));
        }
    }
}

#[test]
fn realm_params_vmid() {
    let mut p = good_realm_params();
    p.vmid = 0x1_0000;
    assert_eq!(p.decode(), Err(ParamsInvalid::Vmid));
    p.vmid = 0;
    assert_eq!(p.decode().unwrap().vmid, 0);
}

#[test]
fn realm_params_first_bad_field_reported() {
    let mut p = good_realm_params();
    p.vmid = u64::MAX;
    p.s2sz = u64::MAX;
    p.flags = u64::MAX;
    assert_eq!(p.decode(), Err(ParamsInvalid::Flags));
    p.flags = 0;
    assert_eq!(p.decode(), Err(ParamsInvalid::S2sz));
}

#[test]
fn realm_params_reserved_and_unchecked_fields() {
    // Reserved bytes, the padding after rtt_num_start and the range of the
    // Int64 / Address / UInt32 fields are not part of the encoding check.
    let mut p = good_realm_params();
    p.reserved_038.fill(0xFF);
    p.reserved_440.fill(0xFF);
    p.reserved_81c.fill(0xFF);
    p.rtt_level_start = i64::MIN;
    p.rtt_base = u64::MAX;
    p.rtt_num_start = u32::MAX;
    let d = p.decode().unwrap();
    assert_eq!(d.rtt_level_start, i64::MIN);
    assert_eq!(d.rtt_num_start, u32::MAX);
}

#[test]
fn realm_params_from_bytes() {
    let mut page = [0u8; 4096];
    page[0x8] = 40; // s2sz
    page[0x30] = 1; // hash_algo
    page[0x400] = 0x11; // rpv[0]
    page[0x800..0x802].copy_from_slice(&0x1234u16.to_le_bytes());
    page[0x810..0x818].copy_from_slice(&(-1i64).to_le_bytes());
    page[0x818..0x81C].copy_from_slice(&2u32.to_le_bytes());
    let p = RmiRealmParams::read_from_bytes(&page[..]).unwrap();
    let d = p.decode().unwrap();
    assert_eq!(d.s2sz, 40);
    assert_eq!(d.hash_algo, RmiHashAlgorithm::Sha512);
    assert_eq!(d.rpv[0], 0x11);
    assert_eq!(d.vmid, 0x1234);
    assert_eq!(d.rtt_level_start, -1);
    assert_eq!(d.rtt_num_start, 2);
    page[0x9] = 1; // bit 8 of the s2sz slot
    let p = RmiRealmParams::read_from_bytes(&page[..]).unwrap();
    assert_eq!(p.decode(), Err(ParamsInvalid::S2sz));
}

fn good_rec_params() -> RmiRecParams {
    let mut p = RmiRecParams::new_zeroed();
    p.flags = RmiRecCreateFlags::RUNNABLE.bits();
    p.mpidr = 0x0302_0105;
    p.pc = 0x8008_0000;
    p.gprs = [1, 2, 3, 4, 5, 6, 7, 8];
    p.num_aux = 3;
    p.aux[..3].copy_from_slice(&[0x9000_0000, 0x9000_1000, 0x9000_2000]);
    p
}

#[test]
fn rec_params_accepts_valid() {
    let p = good_rec_params();
    let d = p.decode().unwrap();
    assert_eq!(d.flags, RmiRecCreateFlags::RUNNABLE);
    assert_eq!(d.mpidr.raw(), 0x0302_0105);
    assert_eq!(d.pc, 0x8008_0000);
    assert_eq!(d.gprs, [1, 2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(
        d.aux_granules().unwrap(),
        &[Pa(0x9000_0000), Pa(0x9000_1000), Pa(0x9000_2000)]
    );
    assert_eq!(d.encode().as_bytes(), p.as_bytes());
    let mut not_runnable = p.clone();
    not_runnable.flags = 0;
    assert!(not_runnable.decode().unwrap().flags.is_empty());
}

#[test]
fn rec_params_sbz() {
    for bit in 1..64 {
        let mut p = good_rec_params();
        p.flags |= 1 << bit;
        assert_eq!(p.decode(), Err(RecParamsInvalid::Flags), "flags bit {bit}");
    }
    for bit in (4..8).chain(32..64) {
        let mut p = good_rec_params();
        p.mpidr |= 1 << bit;
        assert_eq!(p.decode(), Err(RecParamsInvalid::Mpidr), "mpidr bit {bit}");
    }
    // Flags are checked before mpidr.
    let mut p = good_rec_params();
    p.flags = 2;
    p.mpidr = 0x10;
    assert_eq!(p.decode(), Err(RecParamsInvalid::Flags));
}

#[test]
fn rec_params_num_aux_passthrough() {
    let mut p = good_rec_params();
    p.num_aux = MAX_REC_AUX_GRANULES as u64;
    assert_eq!(p.decode().unwrap().aux_granules().unwrap().len(), 16);
    p.num_aux = 17;
    let d = p.decode().unwrap();
    assert_eq!(d.num_aux, 17);
    assert_eq!(d.aux_granules(), None);
    p.num_aux = u64::MAX;
    assert_eq!(p.decode().unwrap().aux_granules(), None);
    p.num_aux = 0;
    assert_eq!(p.decode().unwrap().aux_granules().unwrap().len(), 0);
}

#[test]
fn rec_mpidr_decode() {
    assert!(RecMpidr::decode(0).is_some());
    assert!(RecMpidr::decode(0xF).is_some());
    assert!(RecMpidr::decode(0xFFFF_FF0F).is_some());
    assert!(RecMpidr::decode(0x10).is_none());
    assert!(RecMpidr::decode(0x80).is_none());
    assert!(RecMpidr::decode(0x1_0000_0000).is_none());
    // MPIDR_EL1.U / MT style bits are SBZ in RmiRecMpidr.
    assert!(RecMpidr::decode(1 << 31).is_some()); // Aff3 bit 7
    assert!(RecMpidr::decode(1 << 40).is_none());
}

#[test]
fn rec_mpidr_index() {
    let idx = |v| RecMpidr::decode(v).unwrap().rec_index();
    assert_eq!(idx(0x0000_0000), 0);
    assert_eq!(idx(0x0000_0001), 1);
    assert_eq!(idx(0x0000_000F), 15);
    assert_eq!(idx(0x0000_0100), 16);
    assert_eq!(idx(0x0000_0101), 17);
    assert_eq!(idx(0x0000_FF0F), 16 * 255 + 15);
    assert_eq!(idx(0x0001_0000), 16 * 256);
    assert_eq!(idx(0x0100_0000), 16 * 256 * 256);
    assert_eq!(idx(0x0302_0105), 5 + 16 + 16 * 256 * 2 + 16 * 256 * 256 * 3);
    assert_eq!(idx(0xFFFF_FF0F), RecMpidr::MAX_INDEX);

    assert_eq!(RecMpidr::from_index(0).raw(), 0);
    assert_eq!(RecMpidr::from_index(15).raw(), 0xF);
    assert_eq!(RecMpidr::from_index(16).raw(), 0x100);
    assert_eq!(RecMpidr::from_index(17).raw(), 0x101);
    assert_eq!(RecMpidr::from_index(4096).raw(), 0x1_0000);
    assert_eq!(RecMpidr::from_index(RecMpidr::MAX_INDEX).raw(), 0xFFFF_FF0F);
    for i in (0..=RecMpidr::MAX_INDEX).step_by(997).chain(0..5000) {
        let m = RecMpidr::from_index(i);
        assert_eq!(RecMpidr::decode(m.raw()), Some(m));
        assert_eq!(m.rec_index(), i);
    }
    let m = RecMpidr::from_index(0x0302_0105);
    assert_eq!(
        (m.aff0(), m.aff1(), m.aff2(), m.aff3()),
        (5, 0x10, 0x20, 0x30)
    );
}

#[test]
fn rec_enter_flags() {
    assert_eq!(RmiRecEnterFlags::decode(0), Some(RmiRecEnterFlags::empty()));
    assert_eq!(
        RmiRecEnterFlags::decode(0x1F),
        Some(RmiRecEnterFlags::all())
    );
    assert_eq!(
        RmiRecEnterFlags::decode(1 << 4),
        Some(RmiRecEnterFlags::RIPAS_RESPONSE)
    );
    assert_eq!(RmiRecEnterFlags::EMUL_MMIO.bits(), 1);
    assert_eq!(RmiRecEnterFlags::INJECT_SEA.bits(), 2);
    assert_eq!(RmiRecEnterFlags::TRAP_WFI.bits(), 4);
    assert_eq!(RmiRecEnterFlags::TRAP_WFE.bits(), 8);
    for bit in 5..64 {
        assert_eq!(RmiRecEnterFlags::decode(1 << bit), None, "bit {bit}");
    }
    let mut run = RmiRecRun::new_zeroed();
    run.enter.flags = 0x21;
    assert_eq!(run.enter.decode_flags(), None);
    run.enter.flags = 0x1;
    assert_eq!(run.enter.decode_flags(), Some(RmiRecEnterFlags::EMUL_MMIO));
}

#[test]
fn rec_enter_gicv3_hcr() {
    let mut run = RmiRecRun::new_zeroed();
    assert!(run.enter.gicv3_hcr_valid());
    run.enter.gicv3_hcr = GICV3_HCR_HOST_MASK;
    assert!(run.enter.gicv3_hcr_valid());
    for bad in [0u32, 8, 9, 10, 11, 12, 13, 15, 27, 63] {
        run.enter.gicv3_hcr = 1 << bad;
        assert!(!run.enter.gicv3_hcr_valid(), "ICH_HCR bit {bad}");
    }
}

#[test]
fn rec_run_exit_in_bytes() {
    let mut run = RmiRecRun::new_zeroed();
    run.exit.exit_reason = RmiRecExitReason::HostCall.to_raw();
    run.exit.imm = 0xBEEF;
    run.exit.gprs[30] = 0x1122_3344_5566_7788;
    run.exit.ripas_value = 2;
    let bytes = run.as_bytes();
    assert_eq!(bytes.len(), 4096);
    assert_eq!(REC_RUN_EXIT_OFFSET, 0x800);
    assert_eq!(bytes[0x800], 5);
    assert_eq!(
        &bytes[0x800 + 0x600..0x800 + 0x608],
        &0xBEEFu64.to_le_bytes()
    );
    assert_eq!(
        &bytes[0x800 + 0x2F0..0x800 + 0x2F8],
        &0x1122_3344_5566_7788u64.to_le_bytes()
    );
    assert_eq!(bytes[0x800 + 0x510], 2);
}

#[test]
fn exit_reasons() {
    for v in 0..=6u64 {
        assert_eq!(RmiRecExitReason::from_raw(v).unwrap().to_raw(), v);
    }
    assert_eq!(RmiRecExitReason::from_raw(7), None); // S2AP_CHANGE is 1.1
    assert_eq!(RmiRecExitReason::Serror as u8, 6);
    assert_eq!(
        RmiPmuOverflowStatus::from_raw(1),
        Some(RmiPmuOverflowStatus::Active)
    );
    assert_eq!(RmiPmuOverflowStatus::from_raw(2), None);
}

#[test]
fn rsi_structures() {
    let cfg = RsiRealmConfig::new(48, RmiHashAlgorithm::Sha512, [7; 64]);
    let b = cfg.as_bytes();
    assert_eq!(b.len(), 4096);
    assert_eq!(&b[0..8], &48u64.to_le_bytes());
    assert_eq!(&b[8..16], &1u64.to_le_bytes());
    assert!(b[0x10..0x200].iter().all(|&x| x == 0));
    assert_eq!(&b[0x200..0x240], &[7; 64]);
    assert!(b[0x240..].iter().all(|&x| x == 0));

    let mut page = [0u8; 256];
    page[0..4].copy_from_slice(&0x0001_ABCDu32.to_le_bytes());
    page[0xF8..0x100].copy_from_slice(&9u64.to_le_bytes());
    let hc = RsiHostCall::read_from_bytes(&page[..]).unwrap();
    assert_eq!(hc.imm16(), 0xABCD);
    assert_eq!(hc.gprs[30], 9);
}

#[test]
fn rsi_ripas_change_flags() {
    assert_eq!(
        RsiRipasChangeFlags::decode(0),
        Some(RsiRipasChangeFlags::empty())
    );
    assert_eq!(
        RsiRipasChangeFlags::decode(1),
        Some(RsiRipasChangeFlags::DESTROYED)
    );
    assert_eq!(RsiRipasChangeFlags::decode(2), None);
    assert_eq!(RsiRipasChangeFlags::decode(u64::MAX), None);
}

#[test]
fn realm_and_rec_create_flag_decoders() {
    assert_eq!(RmiRealmFlags::decode(0b111), Some(RmiRealmFlags::all()));
    assert_eq!(RmiRealmFlags::decode(0b1000), None);
    assert_eq!(
        RmiRecCreateFlags::decode(1),
        Some(RmiRecCreateFlags::RUNNABLE)
    );
    assert_eq!(RmiRecCreateFlags::decode(3), None);
}

#[test]
fn manifest_checksum_round_trip() {
    let banks = [
        NsDramBank {
            base: 0x8000_0000,
            size: 0x7C00_0000,
        },
        NsDramBank {
            base: 0x8_8000_0000,
            size: 0x8000_0000,
        },
    ];
    let ptr = 0xFFFF_F000_0000_0040u64; // large values exercise wrapping
    let words = || banks.iter().flat_map(NsDramBank::words);
    let list = PlatInfoList {
        num: banks.len() as u64,
        ptr,
        checksum: checksum_for(banks.len() as u64, ptr, words()),
    };
    assert!(checksum_ok(&list, words()));
    // Any change to count, pointer, checksum or contents is detected.
    assert!(!checksum_ok(&PlatInfoList { num: 3, ..list }, words()));
    assert!(!checksum_ok(
        &PlatInfoList {
            ptr: ptr + 8,
            ..list
        },
        words()
    ));
    assert!(!checksum_ok(
        &PlatInfoList {
            checksum: list.checksum ^ 1,
            ..list
        },
        words()
    ));
    let mut bad = banks;
    bad[1].size += 0x1000;
    assert!(!checksum_ok(&list, bad.iter().flat_map(NsDramBank::words)));
    // The sum of everything is 0 mod 2^64.
    let total = words().fold(list.num.wrapping_add(list.ptr), u64::wrapping_add);
    assert_eq!(total.wrapping_add(list.checksum), 0);

    // An empty list: checksum cancels num + ptr.
    let empty = PlatInfoList {
        num: 0,
        ptr: 0,
        checksum: checksum_for(0, 0, core::iter::empty()),
    };
    assert_eq!(empty.checksum, 0);
    assert!(checksum_ok(&empty, core::iter::empty()));
}

#[test]
fn manifest_console_checksum_and_layout() {
    let console = ConsoleInfo {
        base: 0x1c09_0000,
        map_pages: 1,
        name: *b"pl011\0\0\0",
        clk_in_hz: 24_000_000,
        baud_rate: 115_200,
        flags: 0,
    };
    let words = console.words();
    assert_eq!(words[2], u64::from_le_bytes(*b"pl011\0\0\0"));
    // The words are exactly the struct's bytes read as little-endian u64s.
    let from_bytes: Vec<u64> = console
        .as_bytes()
        .chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
        .collect();
    assert_eq!(from_bytes, words);
    let list = PlatInfoList {
        num: 1,
        ptr: 0x4000_1000,
        checksum: checksum_for(1, 0x4000_1000, words.into_iter()),
    };
    assert!(checksum_ok(&list, words.into_iter()));

    let m = RmmBootManifest {
        version: BOOT_MANIFEST_0_3.encode() as u32,
        padding: 0,
        plat_data: 0,
        plat_dram: PlatInfoList::default(),
        plat_console: list,
    };
    assert_eq!(m.decoded_version(), Some(BOOT_MANIFEST_0_3));
    let b = m.as_bytes();
    assert_eq!(b.len(), 64);
    assert_eq!(&b[40..48], &1u64.to_le_bytes());
    assert_eq!(&b[48..56], &0x4000_1000u64.to_le_bytes());
    let back = RmmBootManifest::read_from_bytes(b).unwrap();
    assert_eq!(back, m);
    let bad = RmmBootManifest {
        version: 0x8000_0003,
        ..m
    };
    assert_eq!(bad.decoded_version(), None);
}
