//! GICv3 (secure=on, so DS = 0): route everything to NS Group 1 except SGI 15, the Group 0 SGI the
//! monitor uses to wake parked CPUs (CPU_ON). Parked CPUs sleep in WFI, which QEMU really halts,
//! unlike a WFE spin.

use crate::arch::{isb, read_sysreg, write_sysreg};
use crate::platform::{CPU_COUNT, GICD_BASE, GICR_BASE, GICR_STRIDE};

/// The SGI that wakes a parked CPU.
pub const WAKE_SGI: u32 = 15;

const GICD_CTLR: u64 = 0x0000;
const GICD_TYPER: u64 = 0x0004;
const GICD_IGROUPR: u64 = 0x0080;
const CTLR_ENABLE_G0: u32 = 1 << 0;
const CTLR_ENABLE_G1NS: u32 = 1 << 1;
const CTLR_ARE_S: u32 = 1 << 4;
const CTLR_ARE_NS: u32 = 1 << 5;
const CTLR_RWP: u32 = 1 << 31;

const GICR_WAKER: u64 = 0x0014;
const WAKER_PROCESSOR_SLEEP: u32 = 1 << 1;
const WAKER_CHILDREN_ASLEEP: u32 = 1 << 2;
const SGI_FRAME: u64 = 0x1_0000;
const GICR_IGROUPR0: u64 = SGI_FRAME + 0x0080;
const GICR_ISENABLER0: u64 = SGI_FRAME + 0x0100;
const GICR_IPRIORITYR: u64 = SGI_FRAME + 0x0400;
const GICR_IGRPMODR0: u64 = SGI_FRAME + 0x0D00;

fn read(addr: u64) -> u32 {
    // SAFETY: `addr` is a 32-bit register of the GIC distributor or a redistributor at the fixed
    // QEMU virt addresses (GPI ANY), naturally aligned; EL3 runs with the MMU off.
    unsafe { core::ptr::read_volatile(addr as *const u32) }
}

fn write(addr: u64, value: u32) {
    // SAFETY: as in `read`.
    unsafe { core::ptr::write_volatile(addr as *mut u32, value) }
}

fn wait_rwp() {
    while read(GICD_BASE + GICD_CTLR) & CTLR_RWP != 0 {
        core::hint::spin_loop();
    }
}

/// Distributor and all redistributors (primary CPU, cold boot).
pub fn init_system() {
    write(GICD_BASE + GICD_CTLR, CTLR_ARE_S | CTLR_ARE_NS);
    wait_rwp();
    let lines = (read(GICD_BASE + GICD_TYPER) & 0x1F) as u64; // ITLinesNumber: 32 * (N + 1) INTIDs
    for n in 1..=lines {
        write(GICD_BASE + GICD_IGROUPR + 4 * n, u32::MAX); // SPIs: NS Group 1
    }
    write(
        GICD_BASE + GICD_CTLR,
        CTLR_ARE_S | CTLR_ARE_NS | CTLR_ENABLE_G0 | CTLR_ENABLE_G1NS,
    );
    wait_rwp();
    for cpu in 0..CPU_COUNT as u64 {
        let rd = GICR_BASE + cpu * GICR_STRIDE;
        write(
            rd + GICR_WAKER,
            read(rd + GICR_WAKER) & !WAKER_PROCESSOR_SLEEP,
        );
        while read(rd + GICR_WAKER) & WAKER_CHILDREN_ASLEEP != 0 {
            core::hint::spin_loop();
        }
        write(rd + GICR_IGROUPR0, !(1 << WAKE_SGI)); // SGIs/PPIs NS Group 1, except the wake SGI
        write(rd + GICR_IGRPMODR0, 0);
        let prio = rd + GICR_IPRIORITYR + u64::from(WAKE_SGI / 4) * 4;
        write(prio, read(prio) & !(0xFF << ((WAKE_SGI % 4) * 8))); // priority 0
        write(rd + GICR_ISENABLER0, 1 << WAKE_SGI);
    }
}

/// This CPU's interface: system registers on, Group 0 on (so the wake SGI ends WFI).
pub fn init_cpu_interface() {
    write_sysreg!("icc_sre_el3", 0xF); // SRE | DFB | DIB | Enable (lower ELs may use SRE)
    isb();
    write_sysreg!("icc_pmr_el1", 0xFF);
    write_sysreg!("icc_igrpen0_el1", 1);
    isb();
}

/// Sends the wake SGI to `cpu`.
pub fn wake(cpu: usize) {
    write_sysreg!("icc_sgi0r_el1", (u64::from(WAKE_SGI) << 24) | (1 << cpu));
    isb();
}

/// Acknowledges any pending Group 0 interrupt (the wake SGI) so the FIQ line drops.
pub fn ack_wake() {
    loop {
        let intid = read_sysreg!("icc_iar0_el1") & 0xFF_FFFF;
        if intid >= 1020 {
            break;
        }
        write_sysreg!("icc_eoir0_el1", intid);
    }
    isb();
}
