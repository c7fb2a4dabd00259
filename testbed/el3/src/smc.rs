//! SMC dispatch for the two lower worlds: RMI forwarding (NS → Realm → NS), the RMM → EL3 services
//! (GTSI, boot complete, attestation stubs), PSCI and SMCCC for NS.

use core::sync::atomic::Ordering;

use warden_abi::fid::{self, el3, psci, rmi, smccc};
use warden_abi::status::{BootError, El3Status, PsciAffinityState, PsciReturn};
use warden_abi::version::{PSCI_VERSION_1_1, SMCCC_VERSION_1_2};

use crate::arch::read_sysreg;
use crate::boot::{self, exit_status};
use crate::context::{self, World, WorldContext};
use crate::cpu::{self, CPUS, Power, RMM_BOOTED, RmmPhase, stats};
use crate::gpt::GlobalGpt;
use crate::platform::{self, CPU_COUNT};
use crate::{gic, println, semihosting};

const NS: usize = 0;
const REALM: usize = 1;
/// ESR_EL3.EC for an SMC from AArch64.
const EC_SMC64: u64 = 0x17;

/// Entry from `el3_lower_sync`: `ctx` is the context of the world that trapped. Returns the context
/// to resume (same or other world).
#[unsafe(no_mangle)]
extern "C" fn el3_handle_lower_sync(ctx: *mut WorldContext) -> *mut WorldContext {
    // SAFETY: the entry code passes the trapping world's context, a static of this CPU; reading the
    // two fields below does not create a lasting reference.
    let (world, cpu) = unsafe { ((*ctx).world, (*ctx).cpu as usize) };
    let esr = read_sysreg!("esr_el3");
    // SAFETY: `cpu` is this CPU (contexts are per CPU and only resumed on it) and `ctx` is not used
    // again; this is the only reference to the pair for the rest of the handler.
    let pair = unsafe { cpu::contexts(cpu) };
    if (esr >> 26) & 0x3F != EC_SMC64 {
        unexpected_trap(&pair[world as usize], esr);
    }
    let next = match world {
        World::NonSecure => from_ns(cpu, pair),
        World::Realm => from_realm(cpu, pair),
    };
    &mut pair[next]
}

fn unexpected_trap(ctx: &WorldContext, esr: u64) -> ! {
    println!(
        "FATAL: {:?} world on cpu {} trapped to EL3: ESR_EL3 {esr:#x} (EC {:#x}) ELR_EL3 {:#x} FAR_EL3 {:#x}",
        ctx.world,
        ctx.cpu,
        (esr >> 26) & 0x3F,
        ctx.elr_el3,
        read_sysreg!("far_el3")
    );
    semihosting::exit(exit_status::UNEXPECTED_TRAP)
}

/// The function ID of an SMC (W0; SMCCC), with the SVE hint removed.
fn function_id(x0: u64) -> u64 {
    fid::strip_sve_hint(x0 & 0xFFFF_FFFF)
}

fn is_rmi(fid: u64) -> bool {
    (rmi::FID_MIN..=rmi::FID_MAX).contains(&fid)
}

fn from_ns(cpu: usize, pair: &mut [WorldContext; 2]) -> usize {
    let fid = function_id(pair[NS].gpr[0]);
    if is_rmi(fid) {
        if !RMM_BOOTED.load(Ordering::Acquire) || CPUS[cpu].phase() != RmmPhase::Ready {
            pair[NS].gpr[0] = fid::SMC_UNKNOWN;
            return NS;
        }
        // NS x0–x7 (FID with its SVE hint bit) → Realm x0–x7; Realm x8–x30 keep their values.
        let args: [u64; 8] = pair[NS].gpr[..8].try_into().unwrap_or([0; 8]);
        pair[REALM].gpr[..8].copy_from_slice(&args);
        let [ns, realm] = pair;
        context::switch_el2(&mut ns.el2, &realm.el2, &cpu::config().features);
        CPUS[cpu].set_phase(RmmPhase::InRmi);
        stats::RMI_CALLS.fetch_add(1, Ordering::Relaxed);
        return REALM;
    }
    let ns = &mut pair[NS];
    let (x1, x2, x3) = (ns.gpr[1], ns.gpr[2], ns.gpr[3]);
    let ret: u64 = match fid {
        smccc::VERSION => SMCCC_VERSION_1_2.encode(),
        smccc::ARCH_FEATURES => match function_id(x1) {
            smccc::VERSION | smccc::ARCH_FEATURES => 0,
            _ => smccc::NOT_SUPPORTED,
        },
        psci::VERSION => PSCI_VERSION_1_1.encode(),
        psci::FEATURES => psci_features(function_id(x1)),
        psci::CPU_SUSPEND_32 | psci::CPU_SUSPEND_64 => {
            // Only standby (retention) states: StateType (bit 16) must be 0.
            if x1 & (1 << 16) != 0 {
                psci_ret(PsciReturn::InvalidParameters)
            } else {
                crate::arch::wfi();
                0
            }
        }
        psci::CPU_ON_32 | psci::CPU_ON_64 => cpu_on(x1, x2, x3),
        psci::CPU_OFF => cpu_off(cpu),
        psci::AFFINITY_INFO_32 | psci::AFFINITY_INFO_64 => affinity_info(x1, x2),
        psci::MIGRATE_INFO_TYPE => 2, // no Trusted OS: migration not required
        psci::SYSTEM_OFF => system_off(cpu, x1),
        psci::SYSTEM_RESET => system_reset(cpu),
        _ => fid::SMC_UNKNOWN,
    };
    pair[NS].gpr[0] = ret;
    NS
}

fn psci_ret(code: PsciReturn) -> u64 {
    code.to_x0()
}

fn psci_features(fid: u64) -> u64 {
    match fid {
        psci::VERSION
        | psci::FEATURES
        | psci::CPU_SUSPEND_32
        | psci::CPU_SUSPEND_64
        | psci::CPU_OFF
        | psci::CPU_ON_32
        | psci::CPU_ON_64
        | psci::AFFINITY_INFO_32
        | psci::AFFINITY_INFO_64
        | psci::MIGRATE_INFO_TYPE
        | psci::SYSTEM_OFF
        | psci::SYSTEM_RESET
        | smccc::VERSION => 0,
        _ => psci_ret(PsciReturn::NotSupported),
    }
}

fn cpu_on(target: u64, entry: u64, context_id: u64) -> u64 {
    let Some(index) = platform::cpu_index(target) else {
        return psci_ret(PsciReturn::InvalidParameters);
    };
    if !entry.is_multiple_of(4) || !platform::is_ns_dram(entry, 4) {
        return psci_ret(PsciReturn::InvalidAddress);
    }
    let state = &CPUS[index];
    match state.try_power_on() {
        Ok(()) => {
            // Only the CPU_ON that won Off -> OnPending writes the mailbox; the target waits for
            // `start_ready` before reading it.
            state.entry.store(entry, Ordering::Relaxed);
            state.context_id.store(context_id, Ordering::Relaxed);
            state.start_ready.store(true, Ordering::Release);
            println!("PSCI CPU_ON cpu {index} at {entry:#x} (context {context_id:#x})");
            gic::wake(index);
            0
        }
        Err(Power::OnPending) => psci_ret(PsciReturn::OnPending),
        Err(_) => psci_ret(PsciReturn::AlreadyOn),
    }
}

fn cpu_off(cpu: usize) -> u64 {
    println!("PSCI CPU_OFF cpu {cpu}");
    CPUS[cpu].set_power(Power::Off);
    CPUS[cpu].set_phase(RmmPhase::Idle);
    // The contexts are rebuilt on the next CPU_ON; nothing of this handler's frame is used again.
    boot::park(cpu)
}

fn affinity_info(target: u64, level: u64) -> u64 {
    if level != 0 {
        return psci_ret(PsciReturn::InvalidParameters);
    }
    match platform::cpu_index(target) {
        None => psci_ret(PsciReturn::InvalidParameters),
        Some(index) => match CPUS[index].power() {
            Power::On => PsciAffinityState::On.to_x0(),
            Power::Off => PsciAffinityState::Off.to_x0(),
            Power::OnPending => PsciAffinityState::OnPending.to_x0(),
        },
    }
}

fn system_off(cpu: usize, status: u64) -> ! {
    println!(
        "PSCI SYSTEM_OFF from cpu {cpu}: exit status {status} ({} RMI calls forwarded, {} delegations, {} undelegations, {} GTSI errors)",
        stats::RMI_CALLS.load(Ordering::Relaxed),
        stats::DELEGATES.load(Ordering::Relaxed),
        stats::UNDELEGATES.load(Ordering::Relaxed),
        stats::GTSI_ERRORS.load(Ordering::Relaxed),
    );
    semihosting::exit(status)
}

fn system_reset(cpu: usize) -> ! {
    println!("PSCI SYSTEM_RESET from cpu {cpu}");
    crate::entry::BOOT_GATE.store(0, Ordering::Release);
    crate::arch::dsb_sy();
    let base = platform::SECURE_GPIO_BASE;
    let line = platform::SECURE_GPIO_RESET_LINE;
    // SAFETY: the secure PL061 at its fixed QEMU address (secure-only MMIO, reachable from Root);
    // GPIODIR is at 0x400 and the data register is addressed with the line mask in bits [9:2].
    unsafe {
        let dir = (base + 0x400) as *mut u32;
        core::ptr::write_volatile(dir, core::ptr::read_volatile(dir) | (1 << line));
        core::ptr::write_volatile((base + (4 << line)) as *mut u32, 1 << line);
    }
    loop {
        crate::arch::wfi();
    }
}

fn from_realm(cpu: usize, pair: &mut [WorldContext; 2]) -> usize {
    let realm = &mut pair[REALM];
    let fid = function_id(realm.gpr[0]);
    let phase = CPUS[cpu].phase();
    match fid {
        el3::RMI_REQ_COMPLETE if phase == RmmPhase::InRmi => {
            // Realm x1..x5 → NS X0..X4; NS X5–X17 (and everything else) keep their values.
            let results: [u64; 5] = realm.gpr[1..6].try_into().unwrap_or([0; 5]);
            let [ns, realm] = pair;
            ns.gpr[..5].copy_from_slice(&results);
            context::switch_el2(&mut realm.el2, &ns.el2, &cpu::config().features);
            CPUS[cpu].set_phase(RmmPhase::Ready);
            NS
        }
        el3::BOOT_COMPLETE if phase == RmmPhase::Booting => boot_complete(cpu, pair),
        el3::GTSI_DELEGATE | el3::GTSI_UNDELEGATE => {
            let pa = realm.gpr[1];
            let (result, counter) = if fid == el3::GTSI_DELEGATE {
                (GlobalGpt::delegate(pa), &stats::DELEGATES)
            } else {
                (GlobalGpt::undelegate(pa), &stats::UNDELEGATES)
            };
            realm.gpr[0] = match result {
                Ok(()) => {
                    counter.fetch_add(1, Ordering::Relaxed);
                    El3Status::Ok.to_x0()
                }
                Err(err) => {
                    stats::GTSI_ERRORS.fetch_add(1, Ordering::Relaxed);
                    err.to_x0()
                }
            };
            REALM
        }
        el3::EL3_FEATURES => {
            // Register 0 is all zero: RMM_EL3_TOKEN_SIGN is not implemented.
            let index = realm.gpr[1];
            realm.gpr[0] = if index == 0 {
                El3Status::Ok.to_x0()
            } else {
                El3Status::Inval.to_x0()
            };
            realm.gpr[1] = 0;
            REALM
        }
        // TEST-ONLY attestation material (src/attest.rs).
        el3::ATTEST_GET_REALM_KEY => {
            let (status, len) = crate::attest::get_realm_key(realm.gpr[1], realm.gpr[2], realm.gpr[3]);
            realm.gpr[0] = status.to_x0();
            realm.gpr[1] = len;
            REALM
        }
        el3::ATTEST_GET_PLAT_TOKEN => {
            let (status, hunk, remaining) =
                crate::attest::get_platform_token(realm.gpr[1], realm.gpr[2], realm.gpr[3]);
            realm.gpr[0] = status.to_x0();
            realm.gpr[1] = hunk;
            realm.gpr[2] = remaining;
            REALM
        }
        el3::RMI_REQ_COMPLETE | el3::BOOT_COMPLETE => {
            println!(
                "warning: cpu {cpu}: RMM sent {fid:#x} in phase {phase:?}; returning SMC_UNKNOWN"
            );
            realm.gpr[0] = fid::SMC_UNKNOWN;
            REALM
        }
        _ => {
            realm.gpr[0] = fid::SMC_UNKNOWN;
            REALM
        }
    }
}

fn boot_complete(cpu: usize, pair: &mut [WorldContext; 2]) -> usize {
    let status = pair[REALM].gpr[1];
    if status != 0 {
        let name = BootError::from_x1(status);
        println!(
            "FATAL: RMM boot failed on cpu {cpu}: RMM_BOOT_COMPLETE status {} ({name:?})",
            status as i64
        );
        semihosting::exit(exit_status::RMM_BOOT_FAILED);
    }
    let [ns, realm] = pair;
    context::switch_el2(&mut realm.el2, &ns.el2, &cpu::config().features);
    CPUS[cpu].set_phase(RmmPhase::Ready);
    CPUS[cpu].set_power(Power::On);
    if cpu == 0 {
        RMM_BOOTED.store(true, Ordering::Release);
    }
    println!(
        "cpu {cpu}: RMM_BOOT_COMPLETE (success); entering NS-EL2 at {:#x} with x0={:#x}",
        ns.elr_el3, ns.gpr[0]
    );
    debug_assert!(cpu < CPU_COUNT);
    NS
}
