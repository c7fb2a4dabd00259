//! CPU features that decide which EL2 registers exist (and are switched per world) and which
//! SCR_EL3 enables are set. Decoding is pure (host-tested); reading the ID registers is firmware-only.

/// Optional architecture features relevant to the world switch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Features {
    /// FEAT_FGT: HFGRTR/HFGWTR/HFGITR/HDFGRTR/HDFGWTR_EL2, SCR_EL3.FGTEn.
    pub fgt: bool,
    /// FEAT_ECV: SCR_EL3.ECVEn.
    pub ecv: bool,
    /// FEAT_ECV_POFF (ECV = 2): CNTPOFF_EL2.
    pub ecv_poff: bool,
    /// FEAT_RAS: VDISR_EL2, VSESR_EL2.
    pub ras: bool,
    /// FEAT_HCX: HCRX_EL2, SCR_EL3.HXEn.
    pub hcx: bool,
    /// FEAT_TCR2: TCR2_EL2, SCR_EL3.TCR2En.
    pub tcr2: bool,
    /// FEAT_SCTLR2: SCTLR2_EL2, SCR_EL3.SCTLR2En.
    pub sctlr2: bool,
    /// FEAT_S1PIE: PIRE0_EL2, PIR_EL2, SCR_EL3.PIEn.
    pub s1pie: bool,
    /// FEAT_S2PIE: S2PIR_EL2 (also under SCR_EL3.PIEn).
    pub s2pie: bool,
    /// FEAT_S1POE: POR_EL2, SCR_EL3.PIEn.
    pub s1poe: bool,
    /// FEAT_GCS: GCSCR_EL2, GCSPR_EL2, SCR_EL3.GCSEn.
    pub gcs: bool,
    /// FEAT_MTE2: TFSR_EL2, SCR_EL3.ATA.
    pub mte2: bool,
    /// FEAT_MPAM: MPAM2_EL2 (MPAM3_EL3 is set not to trap lower ELs).
    pub mpam: bool,
    /// FEAT_NV2: VNCR_EL2.
    pub nv2: bool,
    /// FEAT_TRF: TRFCR_EL2.
    pub trf: bool,
    /// FEAT_CSV2_2 (or CSV2_1p2): SCXTNUM_EL2, SCR_EL3.EnSCXT.
    pub csv2_2: bool,
    /// FEAT_SVE: CPTR_EL3.EZ, ZCR_EL3.
    pub sve: bool,
    /// FEAT_SME: CPTR_EL3.ESM (QEMU is run with `sme=off`).
    pub sme: bool,
    /// FEAT_PAuth (any algorithm): keys switched per world, SCR_EL3.{APK, API}.
    pub pauth: bool,
}

/// The ID registers the decision is based on.
#[derive(Clone, Copy, Debug, Default)]
pub struct IdRegs {
    /// ID_AA64PFR0_EL1.
    pub pfr0: u64,
    /// ID_AA64PFR1_EL1.
    pub pfr1: u64,
    /// ID_AA64MMFR0_EL1.
    pub mmfr0: u64,
    /// ID_AA64MMFR1_EL1.
    pub mmfr1: u64,
    /// ID_AA64MMFR2_EL1.
    pub mmfr2: u64,
    /// ID_AA64MMFR3_EL1.
    pub mmfr3: u64,
    /// ID_AA64DFR0_EL1.
    pub dfr0: u64,
    /// ID_AA64ISAR1_EL1.
    pub isar1: u64,
    /// ID_AA64ISAR2_EL1.
    pub isar2: u64,
}

const fn field(reg: u64, shift: u32) -> u64 {
    (reg >> shift) & 0xF
}

impl Features {
    /// Decodes the features from the ID registers.
    pub const fn decode(id: &IdRegs) -> Self {
        let csv2 = field(id.pfr0, 56);
        let csv2_frac = field(id.pfr1, 32);
        Features {
            fgt: field(id.mmfr0, 56) >= 1,
            ecv: field(id.mmfr0, 60) >= 1,
            ecv_poff: field(id.mmfr0, 60) >= 2,
            ras: field(id.pfr0, 28) >= 1,
            hcx: field(id.mmfr1, 40) >= 1,
            tcr2: field(id.mmfr3, 0) >= 1,
            sctlr2: field(id.mmfr3, 4) >= 1,
            s1pie: field(id.mmfr3, 8) >= 1,
            s2pie: field(id.mmfr3, 12) >= 1,
            s1poe: field(id.mmfr3, 16) >= 1,
            gcs: field(id.pfr1, 44) >= 1,
            mte2: field(id.pfr1, 8) >= 2,
            mpam: field(id.pfr0, 40) >= 1 || field(id.pfr1, 16) >= 1,
            nv2: field(id.mmfr2, 24) >= 2,
            trf: field(id.dfr0, 40) >= 1,
            csv2_2: csv2 >= 2 || (csv2 == 1 && csv2_frac >= 2),
            sve: field(id.pfr0, 32) >= 1,
            sme: field(id.pfr1, 24) >= 1,
            // APA [7:4], API [11:8], GPA [27:24], GPI [31:28] in ISAR1; APA3 [15:12], GPA3 [11:8] in ISAR2.
            pauth: field(id.isar1, 4) != 0 || field(id.isar1, 8) != 0 || field(id.isar2, 12) != 0,
        }
    }

    /// The SCR_EL3 enable bits for these features (common to the NS and Realm worlds).
    pub const fn scr_enables(&self) -> u64 {
        let mut scr = 0;
        if self.fgt {
            scr |= scr::FGTEN;
        }
        if self.ecv {
            scr |= scr::ECVEN;
        }
        if self.hcx {
            scr |= scr::HXEN;
        }
        if self.tcr2 {
            scr |= scr::TCR2EN;
        }
        if self.sctlr2 {
            scr |= scr::SCTLR2EN;
        }
        if self.s1pie || self.s2pie || self.s1poe {
            scr |= scr::PIEN;
        }
        if self.gcs {
            scr |= scr::GCSEN;
        }
        if self.mte2 {
            scr |= scr::ATA;
        }
        if self.csv2_2 {
            scr |= scr::ENSCXT;
        }
        if self.pauth {
            scr |= scr::APK | scr::API;
        }
        scr
    }
}

/// SCR_EL3 bits.
pub mod scr {
    /// Non-secure (with NSE: Realm).
    pub const NS: u64 = 1 << 0;
    /// RES1 bits [5:4].
    pub const RES1: u64 = 0b11 << 4;
    /// SMC disable (kept 0).
    pub const SMD: u64 = 1 << 7;
    /// HVC enable.
    pub const HCE: u64 = 1 << 8;
    /// Secure instruction fetch only from Secure memory.
    pub const SIF: u64 = 1 << 9;
    /// Lower ELs are AArch64.
    pub const RW: u64 = 1 << 10;
    /// PAuth key registers not trapped.
    pub const APK: u64 = 1 << 16;
    /// PAuth instructions not trapped.
    pub const API: u64 = 1 << 17;
    /// SCXTNUM_ELx not trapped.
    pub const ENSCXT: u64 = 1 << 25;
    /// MTE tag access allowed.
    pub const ATA: u64 = 1 << 26;
    /// Fine-grained trap registers accessible.
    pub const FGTEN: u64 = 1 << 27;
    /// ECV registers accessible.
    pub const ECVEN: u64 = 1 << 28;
    /// HCRX_EL2 accessible.
    pub const HXEN: u64 = 1 << 38;
    /// GCS registers accessible.
    pub const GCSEN: u64 = 1 << 39;
    /// TCR2_ELx accessible.
    pub const TCR2EN: u64 = 1 << 43;
    /// SCTLR2_ELx accessible.
    pub const SCTLR2EN: u64 = 1 << 44;
    /// PIR/POR registers accessible.
    pub const PIEN: u64 = 1 << 45;
    /// Granule protection faults taken to EL3 (kept 0: reported to the faulting EL).
    pub const GPF: u64 = 1 << 48;
    /// Security state extension: with NS, Realm.
    pub const NSE: u64 = 1 << 62;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_and_scr() {
        let id = IdRegs {
            pfr0: (1 << 56) | (1 << 32) | (1 << 28),
            pfr1: 2 << 32,
            mmfr0: (2 << 60) | (1 << 56),
            mmfr1: 1 << 40,
            mmfr2: 2 << 24,
            mmfr3: 0x11,
            dfr0: 0,
            isar1: 1 << 4,
            isar2: 0,
        };
        let f = Features::decode(&id);
        assert!(f.fgt && f.ecv && f.ecv_poff && f.ras && f.hcx && f.tcr2 && f.sctlr2 && f.nv2);
        assert!(f.csv2_2 && f.sve && f.pauth);
        assert!(!f.s1pie && !f.gcs && !f.mte2 && !f.mpam && !f.trf && !f.sme);
        let scr = f.scr_enables();
        assert_eq!(
            scr,
            scr::FGTEN
                | scr::ECVEN
                | scr::HXEN
                | scr::TCR2EN
                | scr::SCTLR2EN
                | scr::ENSCXT
                | scr::APK
                | scr::API
        );
        assert_eq!(Features::decode(&IdRegs::default()).scr_enables(), 0);
    }
}
