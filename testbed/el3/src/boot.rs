//! Cold boot (primary), the parking pen (secondaries, CPU_OFF), warm boot (CPU_ON), and crash paths.

use core::sync::atomic::Ordering;

use crate::arch::{self, read_sysreg, write_sysreg};
use crate::context::{self, El2Sysregs, ICC_SRE_EL2_INIT, SCTLR_EL2_RES1, World, WorldContext};
use crate::cpu::{self, CPUS, Config, Power, RmmPhase};
use crate::entry::{self, BOOT_GATE, GATE_OPEN};
use crate::features::{Features, IdRegs, scr};
use crate::gpt::{self, GlobalGpt};
use crate::platform::*;
use crate::{gic, manifest, println, semihosting};

/// QEMU exit statuses the monitor itself produces (the host driver's own statuses are < 100).
pub mod exit_status {
    /// `RMM_BOOT_COMPLETE` reported an error (cold or warm boot).
    pub const RMM_BOOT_FAILED: u64 = 100;
    /// An unexpected exception at EL3, or a panic.
    pub const EL3_CRASH: u64 = 101;
    /// A lower EL trapped to EL3 with something other than an SMC.
    pub const UNEXPECTED_TRAP: u64 = 102;
    /// The monitor could not set up the platform (e.g. GPT build failure).
    pub const SETUP_FAILED: u64 = 103;
}

/// MDCR_EL3: SDD (no secure self-hosted debug), SPD32 = 0b10, SCCD; PMU and debug registers not
/// trapped; trace buffer / SPE controls trapped (not present on QEMU).
const MDCR_EL3: u64 = (1 << 16) | (0b10 << 14) | (1 << 23);
/// CPTR_EL3 base: TAM (AMU trapped), TTA (trace registers trapped); FP/SIMD untrapped (TFP = 0).
const CPTR_EL3_BASE: u64 = (1 << 30) | (1 << 20);
/// CPTR_EL3.EZ: SVE untrapped.
const CPTR_EL3_EZ: u64 = 1 << 8;
/// CPTR_EL3.ESM: SME untrapped.
const CPTR_EL3_ESM: u64 = 1 << 12;
/// CPTR_EL2 initial value (non-VHE): RES1 bits, nothing trapped (TZ = TFP = 0), TSM set.
const CPTR_EL2_INIT: u64 = 0x32FF;

fn read_id_regs() -> IdRegs {
    IdRegs {
        pfr0: read_sysreg!("id_aa64pfr0_el1"),
        pfr1: read_sysreg!("id_aa64pfr1_el1"),
        mmfr0: read_sysreg!("id_aa64mmfr0_el1"),
        mmfr1: read_sysreg!("id_aa64mmfr1_el1"),
        mmfr2: read_sysreg!("id_aa64mmfr2_el1"),
        mmfr3: read_sysreg!("S3_0_C0_C7_3"),
        dfr0: read_sysreg!("id_aa64dfr0_el1"),
        isar1: read_sysreg!("id_aa64isar1_el1"),
        isar2: read_sysreg!("S3_0_C0_C6_2"),
    }
}

fn make_config(features: Features) -> Config {
    // SMD = 0 (SMC enabled) and GPF = 0 (GPFs reported to the faulting EL, not EL3).
    let common = (scr::RES1 | scr::RW | scr::HCE | scr::SIF | features.scr_enables())
        & !(scr::SMD | scr::GPF);
    let mut cptr = CPTR_EL3_BASE;
    if features.sve {
        cptr |= CPTR_EL3_EZ;
    }
    if features.sme {
        cptr |= CPTR_EL3_ESM;
    }
    Config {
        features,
        scr_ns: common | scr::NS,
        scr_realm: common | scr::NS | scr::NSE,
        mdcr_el3: MDCR_EL3,
        cptr_el3: cptr,
    }
}

/// EL3 registers of this CPU: MDCR/CPTR/ZCR/MPAM3, the GIC CPU interface, and GPC.
fn init_this_cpu(gpc: bool) -> u64 {
    let cfg = cpu::config();
    write_sysreg!("scr_el3", cfg.scr_ns);
    write_sysreg!("mdcr_el3", cfg.mdcr_el3);
    write_sysreg!("cptr_el3", cfg.cptr_el3);
    arch::isb();
    if cfg.features.sve {
        write_sysreg!("S3_6_C1_C2_0", 0xF); // ZCR_EL3.LEN = max: lower ELs choose their own VL
    }
    if cfg.features.mpam {
        write_sysreg!("S3_6_C10_C5_0", 0); // MPAM3_EL3: TRAPLOWER = 0
    }
    gic::init_cpu_interface();
    arch::isb();
    if gpc { gpt::enable_on_this_cpu() } else { 0 }
}

/// The initial EL2 register values of a world on this CPU.
fn el2_init() -> El2Sysregs {
    El2Sysregs {
        sctlr: SCTLR_EL2_RES1,
        icc_sre: ICC_SRE_EL2_INIT,
        cptr: CPTR_EL2_INIT,
        vpidr: read_sysreg!("midr_el1"),
        vmpidr: read_sysreg!("mpidr_el1"),
        mdcr: (read_sysreg!("pmcr_el0") >> 11) & 0x1F, // HPMN = all counters
        ..El2Sysregs::default()
    }
}

/// Sets up both contexts of `cpu` and enters the RMM at its entry point with `rmm_args`; NS will be
/// entered at `ns_entry` with x0 = `ns_arg` once the RMM reports `RMM_BOOT_COMPLETE`.
fn enter_rmm(cpu: usize, rmm_args: [u64; 4], ns_entry: u64, ns_arg: u64) -> ! {
    let cfg = cpu::config();
    // SAFETY: `cpu` is this CPU, and this is the only reference (no exception is being handled).
    let pair = unsafe { cpu::contexts(cpu) };
    for (ctx, world) in pair.iter_mut().zip([World::NonSecure, World::Realm]) {
        *ctx = WorldContext::new(world, cpu as u64);
        ctx.el3_stack_top = entry::stack_top(cpu);
    }
    let [ns, realm] = pair;
    ns.reset_for_entry(cfg.scr_ns, ns_entry, [ns_arg, 0, 0, 0], el2_init());
    realm.reset_for_entry(cfg.scr_realm, RMM_BASE, rmm_args, el2_init());
    context::restore_el2(&realm.el2, &cfg.features);
    CPUS[cpu].set_phase(RmmPhase::Booting);
    let realm: *mut WorldContext = realm;
    // SAFETY: `realm` is this CPU's static context with its stack top set; nothing of this frame is
    // used afterwards.
    unsafe { entry::enter_world(realm) }
}

/// Cold boot on CPU 0.
#[unsafe(no_mangle)]
extern "C" fn el3_primary_main(cpu: usize) -> ! {
    println!(
        "testbed-el3: EL3 monitor for QEMU virt + FEAT_RME, cold boot on cpu {cpu} of {CPU_COUNT}"
    );
    let current_el = (read_sysreg!("CurrentEL") >> 2) & 3;
    let id = read_id_regs();
    let rme = (id.pfr0 >> 52) & 0xF;
    println!(
        "CurrentEL {current_el}, MIDR {:#x}, ID_AA64PFR0 {:#x} (RME {rme})",
        read_sysreg!("midr_el1"),
        id.pfr0
    );
    if current_el != 3 || rme == 0 {
        println!(
            "FATAL: needs EL3 and FEAT_RME (-M secure=on,virtualization=on -cpu max,x-rme=on)"
        );
        semihosting::exit(exit_status::SETUP_FAILED);
    }
    let features = Features::decode(&id);
    println!("features: {features:?}");
    let config = make_config(features);
    println!(
        "SCR_EL3 NS {:#x}, Realm {:#x}; MDCR_EL3 {:#x}; CPTR_EL3 {:#x}",
        config.scr_ns, config.scr_realm, config.mdcr_el3, config.cptr_el3
    );
    // SAFETY: primary CPU, before the gate opens; nobody has read the configuration yet.
    unsafe { cpu::set_config(config) };

    gic::init_system();
    println!(
        "GICv3: distributor + {CPU_COUNT} redistributors on (SPIs/PPIs NS Group 1, SGI {} Group 0 for CPU wake-up)",
        gic::WAKE_SGI
    );
    init_this_cpu(false);

    // The manifest goes into the (Realm) shared page while GPC is still off: EL3 runs MMU-off in the
    // Root PAS and could not write a Realm granule afterwards.
    let words = manifest::words(RMM_SHARED_PAGE);
    for i in 0..(RMM_SHARED_PAGE_SIZE / 8) as usize {
        let value = words.get(i).copied().unwrap_or(0);
        // SAFETY: the shared page is RAM reserved for EL3 ↔ RMM use; GPC is not enabled yet, so the
        // Root-PAS access is not checked; index < page size / 8.
        unsafe { core::ptr::write_volatile((RMM_SHARED_PAGE as *mut u64).add(i), value) };
    }
    arch::dsb_sy();
    println!(
        "boot manifest v0.3 at {RMM_SHARED_PAGE:#x}: 1 NS DRAM bank {DRAM_BASE:#x}+{DRAM_SIZE:#x}, console pl011 at {UART0_BASE:#x}"
    );

    match GlobalGpt::build() {
        Ok(tables) => println!(
            "GPT: L0 at {GPT_L0_BASE:#x} (PPS 1TB, 1GB/entry), {tables} L1 tables at {GPT_L1_BASE:#x} (4KB granules)"
        ),
        Err(err) => {
            println!("FATAL: GPT build failed: {err:?}");
            semihosting::exit(exit_status::SETUP_FAILED);
        }
    }
    for region in gpt::qemu_regions() {
        println!(
            "GPT:   {:#011x}-{:#011x} {}",
            region.base,
            region.base + region.size - 1,
            region.gpi.name()
        );
    }
    println!("GPT:   everything else ANY (flash, MMIO, DRAM above 4 GiB)");
    let gpccr = gpt::enable_on_this_cpu();
    println!(
        "GPC enabled on cpu {cpu}: GPCCR_EL3 {gpccr:#x}, GPTBR_EL3 {:#x}",
        read_sysreg!("S3_6_C2_C1_4")
    );

    BOOT_GATE.store(GATE_OPEN, Ordering::Release);
    arch::dsb_sy();
    for other in 1..CPU_COUNT {
        gic::wake(other);
    }
    CPUS[cpu].set_power(Power::OnPending);
    println!(
        "entering RMM at {RMM_BASE:#x} (R-EL2, cold boot): x0={cpu} x1={:#x} x2={CPU_COUNT} x3={RMM_SHARED_PAGE:#x}",
        RMM_EL3_INTERFACE.encode()
    );
    enter_rmm(
        cpu,
        [
            cpu as u64,
            RMM_EL3_INTERFACE.encode(),
            CPU_COUNT as u64,
            RMM_SHARED_PAGE,
        ],
        NS_ENTRY,
        DTB_BASE,
    )
}

/// Secondaries after reset: wait for the gate, then park.
#[unsafe(no_mangle)]
extern "C" fn el3_secondary_main(cpu: usize) -> ! {
    gic::init_cpu_interface();
    while BOOT_GATE.load(Ordering::Acquire) != GATE_OPEN {
        arch::wfi();
        gic::ack_wake();
    }
    park(cpu)
}

/// Parks this CPU (WFI) until a CPU_ON targets it, then warm-boots it. Used after reset and by
/// CPU_OFF.
pub fn park(cpu: usize) -> ! {
    let state = &CPUS[cpu];
    // CPU_ON sets OnPending first and `start_ready` after writing the entry point and context id.
    while !(state.power() == Power::OnPending && state.start_ready.load(Ordering::Acquire)) {
        arch::wfi();
        gic::ack_wake();
    }
    state.start_ready.store(false, Ordering::Relaxed);
    let (entry, context_id) = (
        state.entry.load(Ordering::Relaxed),
        state.context_id.load(Ordering::Relaxed),
    );
    let gpccr = init_this_cpu(true);
    println!(
        "cpu {cpu}: CPU_ON warm boot (GPCCR_EL3 {gpccr:#x}); entering RMM warm boot at {RMM_BASE:#x}"
    );
    enter_rmm(cpu, [cpu as u64, 0, 0, 0], entry, context_id)
}

/// Reports an exception the monitor does not expect, then ends the run.
#[unsafe(no_mangle)]
extern "C" fn el3_crash(kind: u64) -> ! {
    const KINDS: [&str; 16] = [
        "EL3 SP0 sync",
        "EL3 SP0 IRQ",
        "EL3 SP0 FIQ",
        "EL3 SP0 SError",
        "EL3 sync",
        "EL3 IRQ",
        "EL3 FIQ",
        "EL3 SError",
        "lower AArch64 sync",
        "lower AArch64 IRQ",
        "lower AArch64 FIQ",
        "lower AArch64 SError",
        "lower AArch32 sync",
        "lower AArch32 IRQ",
        "lower AArch32 FIQ",
        "lower AArch32 SError",
    ];
    crate::console::print_unlocked(format_args!(
        "el3: CRASH on cpu {}: unexpected exception '{}': ESR_EL3 {:#x} ELR_EL3 {:#x} FAR_EL3 {:#x} SPSR_EL3 {:#x}\n",
        arch::this_cpu(),
        KINDS.get(kind as usize).copied().unwrap_or("?"),
        read_sysreg!("esr_el3"),
        read_sysreg!("elr_el3"),
        read_sysreg!("far_el3"),
        read_sysreg!("spsr_el3"),
    ));
    semihosting::exit(exit_status::EL3_CRASH)
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    crate::console::print_unlocked(format_args!(
        "el3: PANIC on cpu {}: {info}\n",
        arch::this_cpu()
    ));
    semihosting::exit(exit_status::EL3_CRASH)
}
