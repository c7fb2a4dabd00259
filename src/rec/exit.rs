//! What a Realm trap means: handled inside Warden (re-enter) or an exit to the Host, with the
//! sanitised syndrome the spec allows the Host to see. Pure functions; the caller supplies the one
//! fact that needs the RTTs (the state of a faulting IPA).

use warden_abi::rtt::RmiRipas;

use super::MmioAbort;
use super::inject::{Injected, ec};

/// ESR_EL2 fields.
pub mod esr {
    /// Exception class, `[31:26]`.
    pub const EC_SHIFT: u32 = 26;
    /// Instruction length.
    pub const IL: u64 = 1 << 25;
    /// ISS.ISV: the syndrome describes the access.
    pub const ISV: u64 = 1 << 24;
    /// ISS.SAS: access size.
    pub const SAS_SHIFT: u32 = 22;
    /// ISS.SSE: sign-extend.
    pub const SSE: u64 = 1 << 21;
    /// ISS.SRT: the register.
    pub const SRT_SHIFT: u32 = 16;
    /// ISS.SF: 64-bit register.
    pub const SF: u64 = 1 << 15;
    /// ISS.SET, `[12:11]`.
    pub const SET_MASK: u64 = 0b11 << 11;
    /// ISS.FnV: FAR not valid.
    pub const FNV: u64 = 1 << 10;
    /// ISS.EA: external abort type.
    pub const EA: u64 = 1 << 9;
    /// ISS.WnR: a write.
    pub const WNR: u64 = 1 << 6;
    /// ISS.DFSC/IFSC, `[5:0]`.
    pub const FSC_MASK: u64 = 0x3F;
    /// SError ISS.IDS.
    pub const IDS: u64 = 1 << 24;
    /// SError ISS.AET, `[12:10]`.
    pub const AET_MASK: u64 = 0b111 << 10;
    /// The exception class field.
    pub const EC_MASK: u64 = 0x3F << EC_SHIFT;
}

/// Exception classes Warden distinguishes (beyond those it injects).
pub mod class {
    /// WFI/WFE/WFIT/WFET.
    pub const WFX: u64 = 0x01;
    /// HVC from AArch32.
    pub const HVC32: u64 = 0x12;
    /// SMC from AArch32.
    pub const SMC32: u64 = 0x13;
    /// HVC from AArch64.
    pub const HVC64: u64 = 0x16;
    /// SMC from AArch64.
    pub const SMC64: u64 = 0x17;
    /// MSR/MRS/system instruction.
    pub const SYSREG: u64 = 0x18;
    /// FP/SIMD access.
    pub const FP: u64 = 0x07;
    /// SVE access.
    pub const SVE: u64 = 0x19;
}

/// The syndrome bits a Host may see for an abort it must handle but cannot emulate.
pub const NON_EMULATABLE_MASK: u64 = esr::EC_MASK | esr::IL | esr::SET_MASK | esr::FNV | esr::EA | esr::FSC_MASK;
/// ... and for an emulatable MMIO abort (the register number and sign extension are withheld).
pub const EMULATABLE_MASK: u64 = NON_EMULATABLE_MASK | esr::ISV | (0b11 << esr::SAS_SHIFT) | esr::SF | esr::WNR;
/// The syndrome bits of an SError a Host may see.
pub const SERROR_MASK: u64 = esr::EC_MASK | esr::IDS | esr::AET_MASK | esr::EA | esr::FSC_MASK;

/// The host's view of the IPA an abort hit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IpaState {
    /// Beyond the Realm's IPA space.
    OutOfRange,
    /// A protected IPA: its RIPAS and whether a DATA granule is assigned.
    Protected {
        /// RIPAS.
        ripas: RmiRipas,
        /// HIPAS ASSIGNED.
        assigned: bool,
    },
    /// An unprotected IPA: whether the Host mapped it (ASSIGNED_NS).
    Unprotected {
        /// HIPAS ASSIGNED_NS.
        assigned: bool,
    },
}

/// A stage-2 abort: the IPA and what kind of access faulted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Abort {
    /// The faulting IPA (from HPFAR_EL2 and the page offset of FAR_EL2).
    pub ipa: u64,
    /// An instruction fetch (else a data access).
    pub instruction: bool,
    /// ESR_EL2.
    pub esr: u64,
    /// FAR_EL2.
    pub far: u64,
    /// HPFAR_EL2.
    pub hpfar: u64,
}

/// A synchronous trap, classified before any lookup.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncTrap {
    /// An SMC: an RSI or PSCI call (or an unknown SMCCC function).
    Smc,
    /// An HVC: undefined for Realms.
    Hvc,
    /// A stage-2 abort that needs the IPA's state to decide.
    Abort(Abort),
    /// An external abort reported by the hardware (the access itself failed).
    ExternalAbort {
        /// ESR_EL2.
        esr: u64,
        /// FAR_EL2.
        far: u64,
        /// An instruction fetch.
        instruction: bool,
    },
    /// WFI/WFE trapped because the Host asked.
    Wfx {
        /// ESR_EL2.
        esr: u64,
    },
    /// A trapped system register access.
    Sysreg {
        /// ESR_EL2.
        esr: u64,
    },
    /// Anything else.
    Other {
        /// ESR_EL2.
        esr: u64,
    },
}

/// The exception class of a syndrome.
pub const fn exception_class(esr: u64) -> u64 {
    (esr >> esr::EC_SHIFT) & 0x3F
}

/// The faulting IPA of a stage-2 abort: HPFAR_EL2.FIPA (`[47:4]`, IPA bits `[55:12]`) plus the page
/// offset from FAR_EL2.
pub const fn fault_ipa(hpfar: u64, far: u64) -> u64 {
    ((hpfar >> 4) & 0xFFF_FFFF_FFFF) << 12 | (far & 0xFFF)
}

const fn is_external_abort(fsc: u64) -> bool {
    // SEA (0x10), SEA on a table walk (0x13..0x17), parity/ECC variants (0x18, 0x1B..0x1F), and
    // granule protection faults (0x23..0x28: on a walk at levels −1..3, or on the access): the
    // Host mapped memory the Realm may not reach (e.g. Realm-PAS memory through an unprotected
    // IPA). Retrying could never succeed; the Realm takes an SEA and the Host is told.
    matches!(fsc, 0x10 | 0x13..=0x18 | 0x1B..=0x1F | 0x23..=0x28)
}

/// Classifies a synchronous trap from its syndrome.
pub const fn classify(esr: u64, far: u64, hpfar: u64) -> SyncTrap {
    match exception_class(esr) {
        class::SMC64 | class::SMC32 => SyncTrap::Smc,
        class::HVC64 | class::HVC32 => SyncTrap::Hvc,
        class::WFX => SyncTrap::Wfx { esr },
        class::SYSREG => SyncTrap::Sysreg { esr },
        c @ (ec::DABT_LOWER | ec::IABT_LOWER) => {
            let instruction = c == ec::IABT_LOWER;
            if is_external_abort(esr & esr::FSC_MASK) {
                SyncTrap::ExternalAbort { esr, far, instruction }
            } else {
                SyncTrap::Abort(Abort { ipa: fault_ipa(hpfar, far), instruction, esr, far, hpfar })
            }
        }
        _ => SyncTrap::Other { esr },
    }
}

/// What to do about a stage-2 abort.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AbortAction {
    /// Inject this exception and run the Realm again.
    Inject(Injected),
    /// The mapping exists (the fault raced a change that has completed): run the Realm again.
    Retry,
    /// Exit to the Host, which must emulate the access (an MMIO access it can complete).
    Emulatable {
        /// Sanitised ESR.
        esr: u64,
        /// FAR page offset only.
        far: u64,
        /// HPFAR.
        hpfar: u64,
        /// The access, for the completion.
        access: MmioAbort,
    },
    /// Exit to the Host, which must act (map memory, or handle a non-emulatable access).
    NonEmulatable {
        /// Sanitised ESR.
        esr: u64,
        /// HPFAR.
        hpfar: u64,
        /// Whether the IPA is unprotected (the Host may then ask for an SEA on the next entry).
        unprotected: bool,
    },
}

const fn fsc_kind(esr: u64) -> u64 {
    (esr & esr::FSC_MASK) >> 2
}

const FSC_TRANSLATION: u64 = 0b0001;
const FSC_PERMISSION: u64 = 0b0011;

/// Decides a stage-2 abort given the state of its IPA (spec: the RIPAS/HIPAS table of Realm
/// accesses, and emulatable data aborts at unprotected IPAs).
pub fn abort_action(a: &Abort, state: IpaState) -> AbortAction {
    let sea = if a.instruction { Injected::InstructionAbort { far: a.far } } else { Injected::DataAbort { far: a.far } };
    let exit = |unprotected| AbortAction::NonEmulatable { esr: a.esr & NON_EMULATABLE_MASK, hpfar: a.hpfar, unprotected };
    match state {
        IpaState::OutOfRange => AbortAction::Inject(sea),
        IpaState::Protected { ripas: RmiRipas::Empty, .. } => AbortAction::Inject(sea),
        IpaState::Protected { ripas: RmiRipas::Ram, assigned: true } => AbortAction::Retry,
        IpaState::Protected { .. } => exit(false),
        IpaState::Unprotected { .. } if a.instruction => AbortAction::Inject(sea),
        IpaState::Unprotected { assigned } => {
            let kind = fsc_kind(a.esr);
            let mmio_fault = (!assigned && kind == FSC_TRANSLATION) || (assigned && kind == FSC_PERMISSION);
            if a.esr & esr::ISV != 0 && mmio_fault {
                AbortAction::Emulatable {
                    esr: a.esr & EMULATABLE_MASK,
                    far: a.far & 0xFFF,
                    hpfar: a.hpfar,
                    access: MmioAbort {
                        srt: ((a.esr >> esr::SRT_SHIFT) & 0x1F) as u8,
                        size: 1 << ((a.esr >> esr::SAS_SHIFT) & 0b11),
                        sign_extend: a.esr & esr::SSE != 0,
                        sixty_four: a.esr & esr::SF != 0,
                        write: a.esr & esr::WNR != 0,
                    },
                }
            } else if assigned && !mmio_fault {
                AbortAction::Retry
            } else {
                exit(true)
            }
        }
    }
}

/// The value a Realm wrote in an emulatable MMIO write: Rt masked to the access size (XZR reads 0).
pub fn mmio_write_value(access: &MmioAbort, gprs: &[u64; 31]) -> u64 {
    let v = gprs.get(usize::from(access.srt)).copied().unwrap_or(0);
    mask_to(v, access.size)
}

/// Completes an emulated MMIO read: the Host's value masked to the size, sign-extended if asked,
/// truncated to 32 bits for a W register.
pub fn mmio_read_result(access: &MmioAbort, host_value: u64) -> u64 {
    let bits = u32::from(access.size) * 8;
    let mut v = mask_to(host_value, access.size);
    if access.sign_extend && bits < 64 && v & (1 << (bits - 1)) != 0 {
        v |= !0u64 << bits;
    }
    if !access.sixty_four {
        v &= 0xFFFF_FFFF;
    }
    v
}

const fn mask_to(v: u64, size: u8) -> u64 {
    if size >= 8 { v } else { v & ((1u64 << (size as u32 * 8)) - 1) }
}

#[cfg(test)]
mod tests {
    use super::*;

    const W: u64 = (ec::DABT_LOWER << 26) | esr::IL;
    /// A 4-byte store of W3 that faulted on translation at level 3, with a valid syndrome.
    const STORE_W3: u64 = W | esr::ISV | (2 << 22) | (3 << 16) | esr::WNR | 0x07;

    fn abort(esr: u64, instruction: bool) -> Abort {
        Abort { ipa: 0x80_0000_1000, instruction, esr, far: 0xFFFF_0000_0000_1234, hpfar: 0x80_0000_1000 >> 8 }
    }

    #[test]
    fn classify_by_exception_class() {
        assert_eq!(classify(class::SMC64 << 26, 0, 0), SyncTrap::Smc);
        assert_eq!(classify(class::HVC64 << 26, 0, 0), SyncTrap::Hvc);
        assert_eq!(classify(class::WFX << 26 | 1, 0, 0), SyncTrap::Wfx { esr: class::WFX << 26 | 1 });
        assert!(matches!(classify(class::SYSREG << 26, 0, 0), SyncTrap::Sysreg { .. }));
        let a = classify(STORE_W3, 0x1234, 0x4000_0000 >> 8);
        assert!(matches!(a, SyncTrap::Abort(Abort { instruction: false, .. })));
        assert!(matches!(classify(W | 0x10, 0, 0), SyncTrap::ExternalAbort { instruction: false, .. }));
        assert!(matches!(classify(ec::IABT_LOWER << 26 | 0x14, 0, 0), SyncTrap::ExternalAbort { instruction: true, .. }));
        // A granule protection fault (the Host mapped Realm-PAS memory at an unprotected IPA).
        assert!(matches!(classify(W | 0x28, 0, 0), SyncTrap::ExternalAbort { instruction: false, .. }));
        assert!(matches!(classify(W | 0x25, 0, 0), SyncTrap::ExternalAbort { .. }));
        assert!(matches!(classify(0x3C << 26, 0, 0), SyncTrap::Other { .. }));
    }

    #[test]
    fn fault_ipa_from_hpfar_and_far() {
        assert_eq!(fault_ipa(0x8000_0010, 0xABC), ((0x8000_0010u64 >> 4) << 12) | 0xABC);
        assert_eq!(fault_ipa((0x80_0000_1000u64 >> 12) << 4, 0xFFFF_0000_0000_1234), 0x80_0000_1234);
    }

    #[test]
    fn protected_ipas() {
        let a = abort(W | 0x07, false);
        let sea = AbortAction::Inject(Injected::DataAbort { far: a.far });
        assert_eq!(abort_action(&a, IpaState::OutOfRange), sea);
        assert_eq!(abort_action(&a, IpaState::Protected { ripas: RmiRipas::Empty, assigned: false }), sea);
        assert_eq!(abort_action(&a, IpaState::Protected { ripas: RmiRipas::Empty, assigned: true }), sea);
        let exit = AbortAction::NonEmulatable { esr: W | 0x07, hpfar: a.hpfar, unprotected: false };
        assert_eq!(abort_action(&a, IpaState::Protected { ripas: RmiRipas::Ram, assigned: false }), exit);
        assert_eq!(abort_action(&a, IpaState::Protected { ripas: RmiRipas::Destroyed, assigned: false }), exit);
        assert_eq!(abort_action(&a, IpaState::Protected { ripas: RmiRipas::Destroyed, assigned: true }), exit);
        assert_eq!(abort_action(&a, IpaState::Protected { ripas: RmiRipas::Ram, assigned: true }), AbortAction::Retry);
        // Instruction fetches follow the same table.
        let i = abort((ec::IABT_LOWER << 26) | esr::IL | 0x06, true);
        assert_eq!(
            abort_action(&i, IpaState::Protected { ripas: RmiRipas::Empty, assigned: false }),
            AbortAction::Inject(Injected::InstructionAbort { far: i.far })
        );
        assert!(matches!(
            abort_action(&i, IpaState::Protected { ripas: RmiRipas::Ram, assigned: false }),
            AbortAction::NonEmulatable { unprotected: false, .. }
        ));
    }

    #[test]
    fn unprotected_ipas() {
        // A store with a valid syndrome to an unmapped unprotected IPA: emulatable, SRT/SSE hidden.
        let a = abort(STORE_W3 | esr::SSE, false);
        match abort_action(&a, IpaState::Unprotected { assigned: false }) {
            AbortAction::Emulatable { esr: e, far, hpfar, access } => {
                assert_eq!(e, W | esr::ISV | (2 << 22) | esr::WNR | 0x07);
                assert_eq!(far, 0x234);
                assert_eq!(hpfar, a.hpfar);
                assert_eq!(access, MmioAbort { srt: 3, size: 4, sign_extend: true, sixty_four: false, write: true });
            }
            other => panic!("{other:?}"),
        }
        // No valid syndrome: not emulatable.
        let b = abort(W | 0x07, false);
        assert_eq!(
            abort_action(&b, IpaState::Unprotected { assigned: false }),
            AbortAction::NonEmulatable { esr: W | 0x07, hpfar: b.hpfar, unprotected: true }
        );
        // A permission fault on an ASSIGNED_NS page (a write to read-only MMIO): emulatable.
        let p = abort((STORE_W3 & !0x3F) | 0x0F, false);
        assert!(matches!(abort_action(&p, IpaState::Unprotected { assigned: true }), AbortAction::Emulatable { .. }));
        // A translation fault on an ASSIGNED_NS page raced the mapping: retry.
        assert_eq!(abort_action(&a, IpaState::Unprotected { assigned: true }), AbortAction::Retry);
        // Instruction fetches from unprotected memory: SEA.
        let i = abort((ec::IABT_LOWER << 26) | 0x07, true);
        assert!(matches!(abort_action(&i, IpaState::Unprotected { assigned: false }), AbortAction::Inject(_)));
    }

    #[test]
    fn mmio_values() {
        let mut gprs = [0u64; 31];
        gprs[3] = 0x1122_3344_5566_7788;
        let w = MmioAbort { srt: 3, size: 2, sign_extend: false, sixty_four: true, write: true };
        assert_eq!(mmio_write_value(&w, &gprs), 0x7788);
        assert_eq!(mmio_write_value(&MmioAbort { srt: 31, ..w }, &gprs), 0, "XZR");
        let r = MmioAbort { srt: 0, size: 1, sign_extend: true, sixty_four: true, write: false };
        assert_eq!(mmio_read_result(&r, 0x80), 0xFFFF_FFFF_FFFF_FF80);
        assert_eq!(mmio_read_result(&MmioAbort { sixty_four: false, ..r }, 0x80), 0xFFFF_FF80);
        assert_eq!(mmio_read_result(&MmioAbort { sign_extend: false, ..r }, 0x1FF), 0xFF);
        assert_eq!(mmio_read_result(&MmioAbort { size: 8, ..r }, u64::MAX), u64::MAX);
    }
}
