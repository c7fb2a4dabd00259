//! Helpers shared by the realm scenarios: a counting checker, expected statuses, the standard
//! Realm parameters, and granule bookkeeping (fill, delegate, undelegate, read back zero).

use core::fmt::{self, Debug, Write};

use warden_abi::addr::Pa;
use warden_abi::realm_params::{RealmParams, RmiRealmFlags};
use warden_abi::rtt::RmiHashAlgorithm;
use warden_abi::status::{RmiStatus, RmiStatusCode};
use warden_abi::version::RMI_VERSION_1_0;

use super::{Msg, rmi};
use crate::nsmem;
use crate::rmi::{RmiError, RttEntry};

/// `RMI_ERROR_INPUT`.
pub const INPUT: RmiError = RmiError::code(RmiStatusCode::ErrorInput);
/// `RMI_ERROR_REALM` with index 0.
pub const REALM: RmiError = RmiError::code(RmiStatusCode::ErrorRealm);

/// `RMI_ERROR_RTT` at `level`.
pub const fn rtt_error(level: i8) -> RmiError {
    RmiError::Status(RmiStatus::rtt(level))
}

/// `RmiRttEntryState` and `RmiRipas` values of `RMI_RTT_READ_ENTRY`.
pub const UNASSIGNED: u64 = 0;
/// ASSIGNED / ASSIGNED_NS.
pub const ASSIGNED: u64 = 1;
/// TABLE.
pub const TABLE: u64 = 2;
/// RIPAS EMPTY.
pub const EMPTY: u64 = 0;
/// RIPAS RAM.
pub const RAM: u64 = 1;
/// RIPAS DESTROYED.
pub const DESTROYED: u64 = 2;

/// A READ_ENTRY result.
pub const fn entry(level: i64, state: u64, desc: u64, ripas: u64) -> RttEntry {
    RttEntry::new(level, state, desc, ripas)
}

/// 1 GiB, the size of a level-1 entry.
pub const GIB: u64 = 1 << 30;
/// 2 MiB, the size of a level-2 entry.
pub const MIB2: u64 = 2 << 20;
/// The IPA width of the scenario Realms.
pub const IPA_BITS: u32 = 40;
/// The first unprotected IPA of a 40-bit Realm (bit 39 set).
pub const UNPROTECTED: u64 = 1 << (IPA_BITS - 1);
/// A protected IPA: level-1 entry 1, level-2 entry 1.
pub const IPA: u64 = 0x4020_0000;
/// The level-2 table's IPA (1 GiB aligned) above [`IPA`].
pub const IPA_L2: u64 = IPA & !(GIB - 1);
/// An unprotected IPA: the second 2 MiB of the unprotected half.
pub const NS_IPA: u64 = UNPROTECTED | MIB2;
/// Host-controlled bits of an unprotected mapping: MemAttr 0b110 (Normal WB, FWB), S2AP RW.
pub const NS_ATTRS: u64 = (0b110 << 2) | (0b11 << 6);

/// Addresses no Host may pass where a granule or a buffer is expected.
pub const BAD: [(&str, u64); 12] = [
    ("MMIO: GIC distributor", 0x0800_0000),
    ("MMIO: GIC redistributor", 0x080A_0000),
    ("MMIO: UART0", 0x0900_0000),
    ("Secure: the EL3 image in secure flash", 0),
    ("Root: EL3 SRAM", 0x0E00_1000),
    ("Root: the GPT", 0x0EEF_E000),
    ("Realm: Warden's image (inside DRAM)", 0x4010_0000),
    ("Realm: the EL3-RMM shared page", 0x418F_F000),
    ("beyond DRAM", 0x1_0000_0000),
    ("the last granule of a 48-bit PA space", 0xFFFF_FFFF_F000),
    ("beyond a 52-bit PA space", 1 << 52),
    ("the top granule of the address space", !0xFFF),
];

/// The standard Realm: 40-bit IPA, level-1 start with two concatenated tables at `rtt_base`,
/// SHA-256, one breakpoint and one watchpoint (encoded minus one: 1 means two).
pub fn realm_params(rtt_base: u64, vmid: u16) -> RealmParams {
    RealmParams {
        flags: RmiRealmFlags::empty(),
        s2sz: IPA_BITS as u8,
        sve_vl: 0,
        num_bps: 1,
        num_wps: 1,
        pmu_num_ctrs: 0,
        hash_algo: RmiHashAlgorithm::Sha256,
        rpv: [0x5A; 64],
        vmid,
        rtt_base: Pa(rtt_base),
        rtt_level_start: 1,
        rtt_num_start: 2,
    }
}

/// Counts passed checks; the first failed one becomes the scenario's FAIL message.
pub struct Checks {
    /// Checks passed so far.
    pub passed: u32,
    /// Bad calls rejected as expected (each followed by a VERSION check), see [`Checks::rejected`].
    pub rejected: u32,
}

impl Checks {
    /// No checks yet.
    pub const fn new() -> Self {
        Checks {
            passed: 0,
            rejected: 0,
        }
    }

    /// A bad call that must fail with `want`; then Warden must still answer RMI_VERSION.
    pub fn rejected<T: PartialEq + Debug>(
        &mut self,
        what: fmt::Arguments<'_>,
        got: Result<T, RmiError>,
        want: RmiError,
    ) -> Result<(), Msg> {
        self.eq(what, got, Err(want))?;
        self.still_serving(what)?;
        self.rejected += 1;
        Ok(())
    }

    /// `got == want`, else `"<what> = <got>, want <want>"`.
    pub fn eq<T: PartialEq + Debug>(
        &mut self,
        what: fmt::Arguments<'_>,
        got: T,
        want: T,
    ) -> Result<(), Msg> {
        if got == want {
            self.passed += 1;
            return Ok(());
        }
        let mut m = Msg::new();
        let _ = write!(m, "{what} = {got:x?}, want {want:x?}");
        Err(m)
    }

    /// `ok`, else `"<what>"`.
    pub fn that(&mut self, what: fmt::Arguments<'_>, ok: bool) -> Result<(), Msg> {
        if ok {
            self.passed += 1;
            return Ok(());
        }
        let mut m = Msg::new();
        let _ = write!(m, "{what}");
        Err(m)
    }

    /// An RMI call that must succeed; returns its value.
    pub fn ok<T: Debug>(
        &mut self,
        what: fmt::Arguments<'_>,
        r: Result<T, RmiError>,
    ) -> Result<T, Msg> {
        match r {
            Ok(v) => {
                self.passed += 1;
                Ok(v)
            }
            Err(e) => {
                let mut m = Msg::new();
                let _ = write!(m, "{what} = {e:?}, want success");
                Err(m)
            }
        }
    }

    /// `RMI_VERSION` still answers (Warden keeps serving after a rejected call).
    pub fn still_serving(&mut self, after: fmt::Arguments<'_>) -> Result<(), Msg> {
        let v = rmi().version(RMI_VERSION_1_0);
        self.that(
            format_args!("RMI_VERSION after {after} = {v:?}"),
            matches!(v, Ok(v) if v.higher == RMI_VERSION_1_0),
        )
    }

    /// REC_AUX_COUNT of the RD at `rd`: it must succeed and be in 1..=`max` (the room the caller
    /// has for auxiliary granules); returns it.
    pub fn rec_aux_count(&mut self, rd: u64, max: u64) -> Result<u64, Msg> {
        let aux = self.ok(format_args!("REC_AUX_COUNT"), rmi().rec_aux_count(rd))?;
        self.that(
            format_args!("REC_AUX_COUNT {aux} in 1..={max}"),
            (1..=max).contains(&aux),
        )?;
        Ok(aux)
    }

    /// Fills each granule with a non-zero pattern (so that a later zero read-back proves a scrub),
    /// then delegates it.
    pub fn fill_and_delegate(&mut self, granules: &[u64]) -> Result<(), Msg> {
        for &pa in granules {
            nsmem::fill_pattern(pa);
            self.ok(
                format_args!("GRANULE_DELEGATE({pa:#x})"),
                rmi().granule_delegate(pa),
            )?;
        }
        Ok(())
    }

    /// Undelegates each granule, then reads it back through NS: readable (no GPF) and all zero.
    pub fn undelegate_and_read_zero(&mut self, granules: &[u64]) -> Result<(), Msg> {
        for &pa in granules {
            self.ok(
                format_args!("GRANULE_UNDELEGATE({pa:#x})"),
                rmi().granule_undelegate(pa),
            )?;
        }
        for &pa in granules {
            self.read_zero(pa)?;
        }
        Ok(())
    }

    /// Reads the granule at `pa` through NS: no fault, every word zero.
    pub fn read_zero(&mut self, pa: u64) -> Result<(), Msg> {
        match nsmem::scan_zero(pa) {
            Ok(None) => {
                self.passed += 1;
                Ok(())
            }
            Ok(Some((offset, value))) => {
                let mut m = Msg::new();
                let _ = write!(
                    m,
                    "granule {pa:#x} not scrubbed after undelegation: word at +{offset:#x} = {value:#x}"
                );
                Err(m)
            }
            Err(f) => {
                let mut m = Msg::new();
                let _ = write!(
                    m,
                    "NS read of undelegated granule {pa:#x} faulted: ESR {:#x} FAR {:#x}",
                    f.esr, f.far
                );
                Err(m)
            }
        }
    }
}

/// What a scenario that failed half-way may have left behind in one Realm: every object it may
/// have created, in teardown order. [`Wreck::reclaim`] destroys what exists and undelegates every
/// granule, ignoring errors, so that one failed scenario does not leave delegated granules (which
/// fault when the next scenario writes them) or a live VMID behind.
pub struct Wreck<'a> {
    /// The RD.
    pub rd: u64,
    /// Its RECs.
    pub recs: &'a [u64],
    /// Protected IPAs that may hold a DATA granule (level 3).
    pub data: &'a [u64],
    /// Unprotected IPAs that may be mapped (level 3).
    pub unprotected: &'a [u64],
    /// RTTs below the starting level, `(ipa, level)`, children first.
    pub rtts: &'a [(u64, i64)],
    /// Every granule the scenario may have delegated (including the above).
    pub granules: &'a [u64],
}

impl Wreck<'_> {
    /// Best effort, errors ignored: REC_DESTROY, DATA_DESTROY, RTT_UNMAP_UNPROTECTED, RTT_DESTROY,
    /// REALM_DESTROY, then GRANULE_UNDELEGATE of every granule. Returns how many granules are still
    /// not readable from NS afterwards (0 when everything was reclaimed).
    pub fn reclaim(&self) -> usize {
        let mut rmi = rmi();
        for &rec in self.recs {
            let _ = rmi.rec_destroy(rec);
        }
        for &ipa in self.data {
            let _ = rmi.data_destroy(self.rd, ipa);
        }
        for &ipa in self.unprotected {
            let _ = rmi.rtt_unmap_unprotected(self.rd, ipa, 3);
        }
        for &(ipa, level) in self.rtts {
            let _ = rmi.rtt_destroy(self.rd, ipa, level);
        }
        let _ = rmi.realm_destroy(self.rd);
        for &pa in self.granules {
            let _ = rmi.granule_undelegate(pa);
        }
        self.granules
            .iter()
            .filter(|&&pa| crate::fault::probe_read(pa).is_err())
            .count()
    }
}
