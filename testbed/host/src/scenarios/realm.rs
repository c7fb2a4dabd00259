//! Realms that run: bench-guest (placed in NS memory by QEMU's loader at [`GUEST_NS`]) loaded
//! into a Realm and run to SYSTEM_OFF with every exit handled by this Host.
//!
//! * `realm` — one Realm, two RECs: delegate, REALM_CREATE, RTTs, measured DATA_CREATE of the
//!   image, RTT_INIT_RIPAS + DATA_CREATE_UNKNOWN for the rest, REC_CREATE ×2 (REC 1 not
//!   runnable, for PSCI CPU_ON), REALM_ACTIVATE; then REC_ENTER until SYSTEM_OFF, handling MMIO
//!   emulation, host calls (the results protocol), RIPAS changes (RTT_SET_RIPAS), PSCI
//!   (PSCI_COMPLETE) and IRQs; prints the guest's benchmark table, writes it as JSON
//!   ([`RESULTS_JSON`]) through semihosting, tears everything down and checks every granule reads
//!   back zero. The guest also extends a REM and requests an attestation token (host calls 0x500,
//!   0x501): the driver writes it as [`TOKEN_FILE`], with [`REALM_DESCRIPTION`] — the Realm as
//!   attest-verify describes it (params, RTT_INIT_RIPAS, the measured DATA_CREATEs of the image
//!   file [`GUEST_IMAGE_FILE`], the REC_CREATEs, in order) — for `cargo xtask` to verify.
//! * `realm-pair` — two such Realms at once on 4 CPUs: CPUs 0 and 1 run the REC 0s, CPUs 2 and 3
//!   the REC 1s (started by the guests' CPU_ON), so both RECs of a Realm also run concurrently.
//!
//! Host-call protocol and MMIO addresses: bench-guest's crate docs.

use core::mem::offset_of;
use core::sync::atomic::{AtomicU64, Ordering};

use warden_abi::fid::psci as psci_fid;
use warden_abi::rec_run::{REC_RUN_EXIT_OFFSET, RmiRecEnter, RmiRecExit, RmiRecExitReason};
use warden_abi::status::PsciAffinityState;

use super::checks::*;
use super::{JOB, JOB_REALM, Msg, Outcome, SECONDARY_RESULT, release_and_wait_off, rmi, wait_for};
use crate::entry::host_secondary_entry;
use crate::nsmem;
use crate::rmi::Rmi;
use crate::smc::Smc;
use crate::text::Text;
use crate::{println, psci, semihosting};

/// Where QEMU's loader puts the flat bench-guest image (NS DRAM; `cargo xtask` adds
/// `-device loader,file=target/images/bench-guest.bin,addr=0x70000000,force-raw=on`).
pub const GUEST_NS: u64 = 0x7000_0000;
/// The guest's link address and entry point (protected IPA).
const GUEST_IPA: u64 = 0x8000_0000;
/// The image header's magic (bench-guest `MAGIC`).
const MAGIC: u64 = u64::from_le_bytes(*b"WRDNBNCH");
/// bench-guest's emulated MMIO register and console, offsets in the unprotected half.
const MMIO_OFFSET: u64 = 0x0A00_0000;
const CONSOLE_OFFSET: u64 = 0x0900_0000;
/// What an emulated MMIO read returns (bench-guest `MMIO_READ_VALUE`).
const MMIO_READ_VALUE: u64 = 0x5EA1_CAFE;
/// The most pages the guest may span (one level-3 table maps 2 MiB).
const MAX_PAGES: u64 = 64;
/// The most auxiliary granules per REC this driver provides room for.
const MAX_AUX: u64 = 16;
/// Benchmarks the guest reports (imm 0x100 + k).
const MAX_ROWS: usize = 8;
/// The results file (semihosting, relative to QEMU's working directory).
pub const RESULTS_JSON: &str = "realm-bench.json";
/// The guest's attestation token (raw CBOR, as RSI_ATTESTATION_TOKEN_CONTINUE wrote it).
pub const TOKEN_FILE: &str = "realm-token.cbor";
/// The Realm description attest-verify recomputes the RIM from (its README's format).
pub const REALM_DESCRIPTION: &str = "realm.json";
/// The image file the description's measured `data` steps name (relative to the description): the
/// flat bench-guest image QEMU's loader put at [`GUEST_NS`]; `cargo xtask` copies it there.
pub const GUEST_IMAGE_FILE: &str = "bench-guest.bin";
/// Room for [`REALM_DESCRIPTION`] (about 120 bytes per measured page).
const DESCRIPTION_BYTES: usize = 4096;
/// bench-guest's `TOKEN_PIECE`: token bytes per host call 0x501.
const TOKEN_PIECE: u64 = 232;

/// bench-guest's `FORBIDDEN_OFFSET`: two unprotected pages mapped to Realm-PAS memory (Warden's
/// image, then the Realm's RD); the guest's loads take granule protection faults.
const FORBIDDEN_OFFSET: u64 = 0x0B00_0000;
/// Warden's image (Realm PAS).
const WARDEN_IMAGE: u64 = 0x4010_0000;
/// The EL1 virtual timer's PPI (bench-guest `VTIMER_INTID`) and the EL2 physical timer's.
const VTIMER_INTID: u64 = 27;
const CNTHP_INTID: u64 = 26;
/// GICv3 redistributors of QEMU virt (the SGI/PPI frame is the second 64 KiB).
const GICR_BASE: u64 = 0x080A_0000;
const GICR_STRIDE: u64 = 0x2_0000;
const GICR_ISENABLER0: u64 = 0x1_0100;
/// `ICH_LR<n>_EL2`: State = pending (`[63:62]` = 01), Group 1 (`[60]`).
const LR_PENDING_G1: u64 = (1 << 62) | (1 << 60);

/// `RmiRecEnter.flags` bit 0: the exit was an emulated MMIO access.
const FLAG_EMUL_MMIO: u64 = 1 << 0;
/// PSCI_SUCCESS, the status passed to PSCI_COMPLETE.
const PSCI_SUCCESS: u64 = 0;

/// One Realm's NS memory: the host's pages and every granule it delegates, in a 512 KiB block.
#[derive(Clone, Copy)]
struct Layout {
    base: u64,
    vmid: u16,
}

impl Layout {
    const fn params(self) -> u64 {
        self.base
    }
    const fn rec_params(self) -> u64 {
        self.base + 0x1000
    }
    /// `RmiRecRun` of REC `i` (4 KiB each).
    const fn run(self, i: u64) -> u64 {
        self.base + 0x2000 + 0x1000 * i
    }
    const fn src(self) -> u64 {
        self.base + 0x4000
    }
    const fn rd(self) -> u64 {
        self.base + 0x5000
    }
    /// Two concatenated level-1 tables (8 KiB aligned).
    const fn rtt0(self) -> u64 {
        self.base + 0x6000
    }
    const fn l2(self) -> u64 {
        self.base + 0x8000
    }
    const fn l3(self) -> u64 {
        self.base + 0x9000
    }
    const fn rec(self, i: u64) -> u64 {
        self.base + 0xA000 + 0x1000 * i
    }
    const fn aux(self, rec: u64, i: u64) -> u64 {
        self.base + 0x10000 + (rec * MAX_AUX + i) * 0x1000
    }
    const fn data(self, page: u64) -> u64 {
        self.base + 0x30000 + page * 0x1000
    }
    /// Level-2 and level-3 RTTs of the unprotected half, for the forbidden mappings.
    const fn ul2(self) -> u64 {
        self.base + 0x70000
    }
    const fn ul3(self) -> u64 {
        self.base + 0x71000
    }
    /// The granules of every Realm built here, whatever its REC_AUX count and guest size: the RD,
    /// its RTTs and both RECs.
    const fn fixed(self) -> [u64; 9] {
        [
            self.rd(),
            self.rtt0(),
            self.rtt0() + 0x1000,
            self.l2(),
            self.l3(),
            self.rec(0),
            self.rec(1),
            self.ul2(),
            self.ul3(),
        ]
    }
}

/// NS memory of the `realm` scenario (and of the first Realm of `realm-pair`).
const REALM_A: Layout = Layout {
    base: 0x8800_0000,
    vmid: 77,
};
/// The second Realm of `realm-pair`.
const REALM_B: Layout = Layout {
    base: 0x8810_0000,
    vmid: 78,
};

/// One benchmark as reported by the guest (imm 0x100 + k).
#[derive(Clone, Copy, Default)]
struct Row {
    name: [u8; 24],
    /// samples, min, median, p99, max (CNTVCT ticks).
    v: [u64; 5],
}

impl Row {
    fn name(&self) -> &str {
        let len = self.name.iter().position(|&b| b == 0).unwrap_or(24);
        core::str::from_utf8(&self.name[..len]).unwrap_or("?")
    }
}

/// How REC 1 (started by the guest's CPU_ON) is run.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Rec1 {
    /// On this CPU, when the guest asks (host call 0x300).
    Inline,
    /// On another CPU, through [`MAILBOX`] slot `n`: posted after PSCI_COMPLETE, awaited at 0x300.
    Remote(usize),
}

/// What a run of REC 0 saw.
struct Run {
    unprotected: u64,
    rows: [Row; MAX_ROWS],
    checks: u64,
    checks_failed: u64,
    /// Per exit reason (0–6; 7 = other).
    exits: [u64; 8],
    /// Host cycles between a ping's exit and the next REC_ENTER: sum, count.
    ping_host: (u64, u64),
    done: bool,
    /// Host call 0x500: token length, INIT bound, INIT ticks, INIT..last CONTINUE ticks,
    /// CONTINUE calls, interrupted CONTINUEs, error; the first (cold) request's INIT ticks,
    /// INIT..last CONTINUE ticks, CONTINUE calls, interrupted CONTINUEs.
    attest: Option<[u64; 11]>,
    /// Token bytes received (host calls 0x501), in order.
    token_received: u64,
    line: [u8; 160],
    line_len: usize,
    /// CNTHP interrupts this Host took after IRQ exits.
    cnthp_irqs: u64,
    /// Virtual timer injections, and the `cntv_cval` reported at the last one.
    vtimer_injections: u64,
    vtimer_cval: u64,
    /// SYNC exits for granule protection faults (Warden injected an SEA).
    gpf_exits: u64,
    /// Console lines are prefixed with this.
    tag: &'static str,
}

impl Run {
    const fn new(tag: &'static str) -> Self {
        Run {
            unprotected: 1 << (IPA_BITS - 1),
            rows: [Row {
                name: [0; 24],
                v: [0; 5],
            }; MAX_ROWS],
            checks: 0,
            checks_failed: 0,
            exits: [0; 8],
            ping_host: (0, 0),
            done: false,
            attest: None,
            token_received: 0,
            line: [0; 160],
            line_len: 0,
            cnthp_irqs: 0,
            vtimer_injections: 0,
            vtimer_cval: 0,
            gpf_exits: 0,
            tag,
        }
    }
}

fn cntpct() -> u64 {
    let c: u64;
    // SAFETY: reads the physical counter; no memory access.
    unsafe { core::arch::asm!("isb", "mrs {}, cntpct_el0", out(reg) c, options(nomem, nostack)) };
    c
}

fn exit_u64(run: u64, field: usize) -> u64 {
    nsmem::read_u64(run + (REC_RUN_EXIT_OFFSET + field) as u64)
}

fn exit_gpr(run: u64, i: usize) -> u64 {
    exit_u64(run, offset_of!(RmiRecExit, gprs) + 8 * i)
}

/// Writes `RmiRecEnter.flags` and gprs[0..8] (the rest stay zero from the initial fill).
fn set_enter(run: u64, flags: u64, gprs: &[u64; 8]) {
    nsmem::write_u64(run + offset_of!(RmiRecEnter, flags) as u64, flags);
    for (i, g) in gprs.iter().enumerate() {
        nsmem::write_u64(run + (offset_of!(RmiRecEnter, gprs) + 8 * i) as u64, *g);
    }
}

/// This CPU's Host-side interrupt setup: PPIs 26 (CNTHP) and 27 (the Realm's virtual timer, which
/// makes the REC exit) enabled in its redistributor (NS Group 1, as EL3 configured them), Group 1
/// on in its CPU interface. PSTATE.I stays masked: the Host polls ICC_IAR1_EL1 after IRQ exits.
pub(super) fn host_gic_init() {
    let mpidr: u64;
    // SAFETY: reads a register.
    unsafe { core::arch::asm!("mrs {}, mpidr_el1", out(reg) mpidr, options(nomem, nostack)) };
    let rd = GICR_BASE + (mpidr & 0xFF) * GICR_STRIDE;
    // SAFETY: this CPU's redistributor (MMU off, Device memory); ISENABLER0 is write-1-to-set and
    // both PPIs are Non-secure Group 1. ICC_IGRPEN1_EL1 is this CPU's NS Group 1 enable.
    unsafe {
        core::ptr::write_volatile(
            (rd + GICR_ISENABLER0) as *mut u32,
            (1 << CNTHP_INTID) | (1 << VTIMER_INTID),
        );
        core::arch::asm!("msr S3_0_C12_C12_7, {}", "isb", in(reg) 1u64, options(nostack));
    }
}

/// Arms this CPU's EL2 physical timer `ticks` from now.
pub(super) fn cnthp_arm(ticks: u64) {
    let cval = cntpct() + ticks;
    // SAFETY: CNTHP is the Host's own timer (EL3 does not switch it; Warden does not use it).
    unsafe {
        core::arch::asm!("msr S3_4_C14_C2_2, {c}", "msr S3_4_C14_C2_1, {one}", "isb",
            c = in(reg) cval, one = in(reg) 1u64, options(nostack))
    };
}

/// After an IRQ exit: acknowledges every pending interrupt (CNTHP: disabled and counted).
fn host_take_irqs(st: &mut Run) {
    st.cnthp_irqs += take_irqs();
}

/// Acknowledges every pending interrupt of this CPU (maintenance, kicks, a Realm's timer PPI, at
/// most 16); returns how many were the Host's CNTHP (which is disabled). Also the VMM's.
pub(crate) fn take_irqs() -> u64 {
    let mut cnthp = 0;
    for _ in 0..16 {
        let intid: u64;
        // SAFETY: ICC_IAR1_EL1 / ICC_EOIR1_EL1 of this CPU; CNTHP_CTL_EL2 is the Host's timer.
        unsafe {
            core::arch::asm!("mrs {}, S3_0_C12_C12_0", out(reg) intid, options(nomem, nostack))
        };
        if intid >= 1020 {
            break;
        }
        if intid == CNTHP_INTID {
            // SAFETY: disables the Host's own EL2 physical timer.
            unsafe { core::arch::asm!("msr S3_4_C14_C2_1, xzr", "isb", options(nostack)) };
            cnthp += 1;
        }
        // SAFETY: as above (EOImode 0: drop and deactivate).
        unsafe { core::arch::asm!("msr S3_0_C12_C12_1, {}", in(reg) intid, options(nostack)) };
    }
    cnthp
}

/// The token of the `realm` scenario's guest (host calls 0x501), little-endian words.
static TOKEN: [AtomicU64; 512] = [const { AtomicU64::new(0) }; 512];

/// REC 1 hand-off between the CPU running REC 0 and the CPU running REC 1 (`realm-pair`).
static MAILBOX: [AtomicU64; 2] = [const { AtomicU64::new(MB_IDLE) }; 2];
const MB_IDLE: u64 = 0;
/// REC 1 was made runnable (PSCI_COMPLETE): run it to its CPU_OFF.
const MB_RUN: u64 = 1;
const MB_DONE: u64 = 2;
const MB_FAILED: u64 = 3;
/// The runner CPUs leave their loop.
const MB_STOP: u64 = 4;

/// Enters REC `rec` of `realm` until the exit that ends it: SYSTEM_OFF for REC 0, CPU_OFF for
/// REC 1. Every other exit is handled and the REC re-entered.
fn run_rec(
    rmi: &mut Rmi<Smc>,
    realm: Layout,
    rec: u64,
    rec1: Rec1,
    st: &mut Run,
) -> Result<(), Msg> {
    let run = realm.run(rec);
    let rec_pa = realm.rec(rec);
    let (mut flags, mut gprs) = (0u64, [0u64; 8]);
    let mut ping_exit: Option<u64> = None;
    let mut lr0 = 0u64;
    host_gic_init();
    loop {
        set_enter(run, flags, &gprs);
        nsmem::write_u64(run + offset_of!(RmiRecEnter, gicv3_lrs) as u64, lr0);
        if let Some(t) = ping_exit.take() {
            st.ping_host.0 += cntpct() - t;
            st.ping_host.1 += 1;
        }
        if let Err(e) = rmi.rec_enter(rec_pa, run) {
            return Err(msg!("REC_ENTER(REC {rec} at {rec_pa:#x}) = {e:?}"));
        }
        let t_exit = cntpct();
        (flags, gprs) = (0, [0; 8]);
        let reason = exit_u64(run, offset_of!(RmiRecExit, exit_reason));
        st.exits[(reason as usize).min(7)] += 1;
        // The virtual timer: injected when the reported CNTV has fired (ENABLE, ISTATUS, not
        // IMASK) and LR 0 is free (its state as reported, carried over to the next entry).
        lr0 = exit_u64(run, offset_of!(RmiRecExit, gicv3_lrs));
        let cntv_ctl = exit_u64(run, offset_of!(RmiRecExit, cntv_ctl));
        if cntv_ctl & 0b111 == 0b101 && lr0 >> 62 == 0 {
            lr0 = LR_PENDING_G1 | VTIMER_INTID;
            st.vtimer_injections += 1;
            st.vtimer_cval = exit_u64(run, offset_of!(RmiRecExit, cntv_cval));
        }
        match RmiRecExitReason::from_raw(reason) {
            Some(RmiRecExitReason::Sync) => {
                let esr = exit_u64(run, offset_of!(RmiRecExit, esr));
                let far = exit_u64(run, offset_of!(RmiRecExit, far));
                let hpfar = exit_u64(run, offset_of!(RmiRecExit, hpfar));
                let ipa = ((hpfar >> 4) << 12) | (far & 0xFFF);
                let write = esr & (1 << 6) != 0;
                // A granule protection fault (Warden injected an SEA; no address is reported).
                if esr >> 26 == 0x24 && esr & (1 << 24) == 0 && (0x23..=0x28).contains(&(esr & 0x3F)) {
                    st.gpf_exits += 1;
                    continue;
                }
                // A data abort from a lower EL with a valid syndrome (ISV): emulatable.
                ensure!(
                    esr >> 26 == 0x24 && esr & (1 << 24) != 0,
                    "REC {rec}: unexpected SYNC exit: ESR {esr:#x} FAR {far:#x} HPFAR {hpfar:#x}"
                );
                if ipa == st.unprotected + CONSOLE_OFFSET && write {
                    console_byte(st, exit_gpr(run, 0) as u8);
                } else if ipa == st.unprotected + MMIO_OFFSET {
                    if !write {
                        gprs[0] = MMIO_READ_VALUE;
                    }
                } else {
                    return Err(msg!(
                        "REC {rec}: MMIO at an unknown IPA {ipa:#x} (ESR {esr:#x})"
                    ));
                }
                flags = FLAG_EMUL_MMIO;
            }
            Some(RmiRecExitReason::Irq | RmiRecExitReason::Fiq) => host_take_irqs(st),
            Some(RmiRecExitReason::Psci) => {
                let fid = exit_gpr(run, 0);
                match fid {
                    psci_fid::CPU_ON_64 => {
                        let target = exit_gpr(run, 1);
                        ensure!(target == 1, "REC {rec}: CPU_ON of MPIDR {target:#x}");
                        if let Err(e) = rmi.psci_complete(rec_pa, realm.rec(1), PSCI_SUCCESS) {
                            return Err(msg!("PSCI_COMPLETE(CPU_ON) = {e:?}"));
                        }
                        if let Rec1::Remote(slot) = rec1 {
                            MAILBOX[slot].store(MB_RUN, Ordering::SeqCst);
                        }
                    }
                    psci_fid::CPU_OFF if rec == 1 => return Ok(()),
                    psci_fid::SYSTEM_OFF if rec == 0 => {
                        st.done = true;
                        return Ok(());
                    }
                    _ => return Err(msg!("REC {rec}: unexpected PSCI exit, FID {fid:#x}")),
                }
            }
            Some(RmiRecExitReason::RipasChange) => {
                let base = exit_u64(run, offset_of!(RmiRecExit, ripas_base));
                let top = exit_u64(run, offset_of!(RmiRecExit, ripas_top));
                let mut at = base;
                while at < top {
                    match rmi.rtt_set_ripas(realm.rd(), rec_pa, at, top) {
                        Ok(next) if next > at => at = next,
                        r => {
                            return Err(msg!(
                                "RTT_SET_RIPAS({at:#x}, {top:#x}) = {r:x?}, want progress"
                            ));
                        }
                    }
                }
            }
            Some(RmiRecExitReason::HostCall) => {
                let imm = exit_u64(run, offset_of!(RmiRecExit, imm));
                let g: [u64; 8] = core::array::from_fn(|i| exit_gpr(run, i));
                match imm {
                    0 => ping_exit = Some(t_exit),
                    1 => {
                        if st.tag.is_empty() {
                            println!(
                                "host: bench-guest config: ipa_width {}, hash_algo {}, CNTFRQ {} Hz, {} samples per benchmark",
                                g[0], g[1], g[2], g[3]
                            );
                        }
                        ensure!(
                            (32..=52).contains(&g[0]),
                            "bench-guest reported ipa_width {}",
                            g[0]
                        );
                        st.unprotected = 1 << (g[0] - 1);
                    }
                    0x100..=0x107 => {
                        let row = &mut st.rows[(imm - 0x100) as usize];
                        for (i, w) in g[5..8].iter().enumerate() {
                            row.name[i * 8..i * 8 + 8].copy_from_slice(&w.to_le_bytes());
                        }
                        row.v.copy_from_slice(&g[0..5]);
                    }
                    0x200 => {
                        st.checks += 1;
                        if g[1] != 1 {
                            st.checks_failed += 1;
                            println!(
                                "host:{} bench-guest check {} FAILED ({:#x}, {:#x})",
                                st.tag, g[0], g[2], g[3]
                            );
                        }
                    }
                    0x300 => match rec1 {
                        Rec1::Inline => {
                            let mut sub = Run::new(st.tag);
                            run_rec(rmi, realm, 1, rec1, &mut sub)?;
                            for (a, b) in st.exits.iter_mut().zip(sub.exits) {
                                *a += b;
                            }
                        }
                        Rec1::Remote(slot) => {
                            let mb = &MAILBOX[slot];
                            ensure!(
                                wait_for(20, || mb.load(Ordering::SeqCst) >= MB_DONE),
                                "REC 1 of VMID {} not off within 20 s",
                                realm.vmid
                            );
                            let r = mb.swap(MB_IDLE, Ordering::SeqCst);
                            ensure!(r == MB_DONE, "REC 1 of VMID {} failed", realm.vmid);
                        }
                    },
                    0x400 => {}
                    0x600 => cnthp_arm(g[0]),
                    0x601 => {
                        gprs[..4].copy_from_slice(&[
                            st.cnthp_irqs,
                            st.vtimer_injections,
                            st.vtimer_cval,
                            st.gpf_exits,
                        ]);
                    }
                    0x500 => {
                        ensure!(
                            st.attest.is_none() && g[0] <= 4096,
                            "REC {rec}: attestation summary twice, or a {}-byte token",
                            g[0]
                        );
                        st.attest = Some(core::array::from_fn(|i| exit_gpr(run, i)));
                    }
                    0x501 => {
                        let (at, n) = (g[0], g[1]);
                        let len = st.attest.map_or(0, |a| a[0]);
                        ensure!(
                            at == st.token_received && n <= TOKEN_PIECE && at + n <= len,
                            "REC {rec}: token piece at {at} of {n} bytes (have {}, token {len})",
                            st.token_received
                        );
                        if st.tag.is_empty() {
                            for i in 0..n.div_ceil(8) {
                                let w = exit_gpr(run, 2 + i as usize);
                                TOKEN[(at / 8 + i) as usize].store(w, Ordering::Relaxed);
                            }
                        }
                        st.token_received += n;
                    }
                    0xDEAD => {
                        return Err(msg!(
                            "guest exception: ESR_EL1 {:#x} ELR_EL1 {:#x} FAR_EL1 {:#x}",
                            g[0],
                            g[1],
                            g[2]
                        ));
                    }
                    _ => return Err(msg!("REC {rec}: unknown host call imm {imm:#x}")),
                }
            }
            _ => {
                let esr = exit_u64(run, offset_of!(RmiRecExit, esr));
                return Err(msg!(
                    "REC {rec}: unexpected exit reason {reason} (ESR {esr:#x})"
                ));
            }
        }
    }
}

/// One byte of the guest's emulated console: whole lines are printed as `realm: …`.
fn console_byte(st: &mut Run, c: u8) {
    if c == b'\n' || st.line_len == st.line.len() {
        let s = core::str::from_utf8(&st.line[..st.line_len]).unwrap_or("?");
        println!("realm{}: {s}", st.tag);
        st.line_len = 0;
    }
    if c != b'\n' {
        st.line[st.line_len] = c;
        st.line_len += 1;
    }
}

/// A built Realm: its granules, for teardown.
struct Built {
    realm: Layout,
    file_pages: u64,
    mem_pages: u64,
    aux: u64,
    granules: [u64; (10 + 2 * MAX_AUX + MAX_PAGES) as usize],
    n: usize,
}

impl Built {
    fn granules(&self) -> &[u64] {
        &self.granules[..self.n]
    }
}

/// Writes `RmiRecParams` for REC `i` (MPIDR `i`, entry at the guest's start) and creates it.
fn rec_create(c: &mut Checks, b: &Built, i: u64, runnable: bool) -> Result<(), Msg> {
    let p = b.realm.rec_params();
    nsmem::write_rec_params(p, runnable, i, GUEST_IPA, b.aux, |a| b.realm.aux(i, a));
    c.ok(
        format_args!("REC_CREATE {i} (runnable {runnable})"),
        rmi().rec_create(b.realm.rd(), b.realm.rec(i), p),
    )
}

/// Delegates, creates and activates a Realm holding bench-guest, with two RECs.
fn build(c: &mut Checks, realm: Layout) -> Result<Built, Msg> {
    let mut rmi = rmi();
    let magic = nsmem::read_u64(GUEST_NS + 8);
    ensure!(
        magic == MAGIC,
        "no bench-guest image at {GUEST_NS:#x} (magic {magic:#x}): QEMU needs -device loader,file=bench-guest.bin,addr={GUEST_NS:#x},force-raw=on"
    );
    let file_end = nsmem::read_u64(GUEST_NS + 16);
    let mem_end = nsmem::read_u64(GUEST_NS + 24);
    ensure!(
        file_end > GUEST_IPA && mem_end >= file_end,
        "bench-guest header: file end {file_end:#x}, mem end {mem_end:#x}"
    );
    let file_pages = (file_end - GUEST_IPA).div_ceil(0x1000);
    let mem_pages = (mem_end - GUEST_IPA).div_ceil(0x1000);
    c.that(
        format_args!("bench-guest spans {mem_pages} pages, at most {MAX_PAGES}"),
        mem_pages <= MAX_PAGES,
    )?;
    let mut b = Built {
        realm,
        file_pages,
        mem_pages,
        aux: 0,
        granules: [0; (10 + 2 * MAX_AUX + MAX_PAGES) as usize],
        n: 0,
    };
    let add = |b: &mut Built, g: u64| {
        b.granules[b.n] = g;
        b.n += 1;
    };
    for g in realm.fixed() {
        add(&mut b, g);
    }
    for i in 0..mem_pages {
        add(&mut b, realm.data(i));
    }
    c.fill_and_delegate(&b.granules[..b.n])?;
    nsmem::write_realm_params(realm.params(), &realm_params(realm.rtt0(), realm.vmid));
    c.ok(
        format_args!("REALM_CREATE"),
        rmi.realm_create(realm.rd(), realm.params()),
    )?;
    let aux = c.rec_aux_count(realm.rd(), MAX_AUX)?;
    b.aux = aux;
    let first_aux = b.n;
    for rec in 0..2 {
        for i in 0..aux {
            add(&mut b, realm.aux(rec, i));
        }
    }
    c.fill_and_delegate(&b.granules[first_aux..b.n])?;
    c.ok(
        format_args!("RTT_CREATE L2"),
        rmi.rtt_create(realm.rd(), realm.l2(), GUEST_IPA & !(GIB - 1), 2),
    )?;
    c.ok(
        format_args!("RTT_CREATE L3"),
        rmi.rtt_create(realm.rd(), realm.l3(), GUEST_IPA, 3),
    )?;
    // RIPAS RAM for the whole guest, then the image measured page by page (through a bounce
    // page: DATA_CREATE reads `src` while the image stays where the loader put it), then the rest
    // (bss, stacks, RSI buffers) as DATA_CREATE_UNKNOWN.
    let top = GUEST_IPA + mem_pages * 0x1000;
    c.eq(
        format_args!("RTT_INIT_RIPAS({GUEST_IPA:#x}, {top:#x})"),
        rmi.rtt_init_ripas(realm.rd(), GUEST_IPA, top),
        Ok(top),
    )?;
    for i in 0..file_pages {
        let ns = GUEST_NS + i * 0x1000;
        nsmem::fill(realm.src(), |w| nsmem::read_u64(ns + w * 8));
        c.ok(
            format_args!("DATA_CREATE (measured) of image page {i}"),
            rmi.data_create(
                realm.rd(),
                realm.data(i),
                GUEST_IPA + i * 0x1000,
                realm.src(),
                1,
            ),
        )?;
    }
    for i in file_pages..mem_pages {
        c.ok(
            format_args!("DATA_CREATE_UNKNOWN page {i}"),
            rmi.data_create_unknown(realm.rd(), realm.data(i), GUEST_IPA + i * 0x1000),
        )?;
    }
    // Memory the Realm must not reach, at unprotected IPAs: Warden's image and the RD.
    let forbidden = UNPROTECTED + FORBIDDEN_OFFSET;
    c.ok(
        format_args!("RTT_CREATE L2 (unprotected)"),
        rmi.rtt_create(realm.rd(), realm.ul2(), forbidden & !(GIB - 1), 2),
    )?;
    c.ok(
        format_args!("RTT_CREATE L3 (unprotected)"),
        rmi.rtt_create(realm.rd(), realm.ul3(), forbidden, 3),
    )?;
    for (i, pa) in [WARDEN_IMAGE, realm.rd()].into_iter().enumerate() {
        let ipa = forbidden + 0x1000 * i as u64;
        c.ok(
            format_args!("RTT_MAP_UNPROTECTED({ipa:#x}) to Realm-PAS {pa:#x}"),
            rmi.rtt_map_unprotected(realm.rd(), ipa, 3, pa | NS_ATTRS),
        )?;
    }
    rec_create(c, &b, 0, true)?;
    rec_create(c, &b, 1, false)?;
    c.ok(
        format_args!("REALM_ACTIVATE"),
        rmi.realm_activate(realm.rd()),
    )?;
    nsmem::fill(realm.run(0), |_| 0);
    nsmem::fill(realm.run(1), |_| 0);
    Ok(b)
}

/// Destroys the RECs, DATA, RTTs and RD with the exact outputs, undelegates every granule and
/// reads it back zero.
fn teardown(c: &mut Checks, b: &Built) -> Result<(), Msg> {
    let mut rmi = rmi();
    let realm = b.realm;
    for i in [1, 0] {
        c.ok(
            format_args!("REC_DESTROY {i}"),
            rmi.rec_destroy(realm.rec(i)),
        )?;
    }
    for i in 0..b.mem_pages {
        let ipa = GUEST_IPA + i * 0x1000;
        let r = rmi.data_destroy(realm.rd(), ipa);
        // X2 = top: the next page is still live, except after the last one.
        let ok = match r {
            Ok((pa, top)) if i + 1 < b.mem_pages => pa == realm.data(i) && top == ipa + 0x1000,
            Ok((pa, top)) => pa == realm.data(i) && top > ipa,
            Err(_) => false,
        };
        c.that(
            format_args!(
                "DATA_DESTROY({ipa:#x}) = {r:x?}, want ({:#x}, top)",
                realm.data(i)
            ),
            ok,
        )?;
    }
    let forbidden = UNPROTECTED + FORBIDDEN_OFFSET;
    for i in 0..2 {
        let ipa = forbidden + 0x1000 * i;
        c.ok(
            format_args!("RTT_UNMAP_UNPROTECTED({ipa:#x})"),
            rmi.rtt_unmap_unprotected(realm.rd(), ipa, 3),
        )?;
    }
    c.ok(
        format_args!("RTT_DESTROY L3 (unprotected)"),
        rmi.rtt_destroy(realm.rd(), forbidden, 3),
    )?;
    c.ok(
        format_args!("RTT_DESTROY L2 (unprotected)"),
        rmi.rtt_destroy(realm.rd(), forbidden & !(GIB - 1), 2),
    )?;
    c.ok(
        format_args!("RTT_DESTROY L3"),
        rmi.rtt_destroy(realm.rd(), GUEST_IPA, 3),
    )?;
    c.ok(
        format_args!("RTT_DESTROY L2"),
        rmi.rtt_destroy(realm.rd(), GUEST_IPA & !(GIB - 1), 2),
    )?;
    c.ok(format_args!("REALM_DESTROY"), rmi.realm_destroy(realm.rd()))?;
    c.undelegate_and_read_zero(b.granules())
}

/// The results as JSON: `{"unit": …, "benchmarks": [{"name", "samples", "min", "median", "p99",
/// "max"}, …], "rmi_version_ns": …, "exits": {…}}`.
fn json(st: &Run, rmi_version: u64, cntfrq: u64) -> Text<3072> {
    use core::fmt::Write;
    let mut j = Text::<3072>::new();
    let _ = write!(
        j,
        "{{\n  \"source\": \"bench-guest\",\n  \"unit\": \"CNTVCT ticks (instructions under -icount shift=0)\",\n  \"cntfrq\": {cntfrq},\n  \"benchmarks\": ["
    );
    for (i, r) in st.rows.iter().filter(|r| r.v[0] > 0).enumerate() {
        let _ = write!(
            j,
            "{}\n    {{\"name\": \"{}\", \"samples\": {}, \"min\": {}, \"median\": {}, \"p99\": {}, \"max\": {}}}",
            if i > 0 { "," } else { "" },
            r.name(),
            r.v[0],
            r.v[1],
            r.v[2],
            r.v[3],
            r.v[4]
        );
    }
    let host = st.ping_host.0.checked_div(st.ping_host.1).unwrap_or(0);
    let e = &st.exits;
    let _ = write!(
        j,
        "\n  ],\n  \"rmi_version_from_ns_min\": {rmi_version},\n  \"host_time_per_ping\": {host},\n  \"exits\": {{\"sync\": {}, \"irq\": {}, \"fiq\": {}, \"psci\": {}, \"ripas_change\": {}, \"host_call\": {}}},\n  \"guest_checks\": {}",
        e[0], e[1], e[2], e[3], e[4], e[5], st.checks
    );
    if let Some(a) = st.attest {
        let _ = write!(
            j,
            ",\n  \"attestation\": {{\"token_bytes\": {}, \"init\": {}, \"init_to_last_continue\": {}, \"continue_calls\": {}, \"interrupted\": {}, \"first_init\": {}, \"first_init_to_last_continue\": {}, \"first_continue_calls\": {}, \"first_interrupted\": {}}}",
            a[0], a[2], a[3], a[4], a[5], a[7], a[8], a[9], a[10]
        );
    }
    let _ = write!(j, "\n}}\n");
    j
}

/// The Realm as attest-verify describes it: the params REALM_CREATE measured and the RIM-changing
/// calls [`build`] made, in order.
fn description(b: &Built) -> Text<DESCRIPTION_BYTES> {
    use core::fmt::Write;
    let raw = realm_params(b.realm.rtt0(), b.realm.vmid).encode();
    let mut j = Text::<DESCRIPTION_BYTES>::new();
    let algo = match raw.hash_algo {
        0 => "sha-256",
        _ => "sha-512",
    };
    let _ = write!(
        j,
        "{{\n  \"hash_algo\": \"{algo}\", \"s2sz\": {}, \"flags\": {}, \"sve_vl\": {}, \"num_bps\": {}, \"num_wps\": {}, \"pmu_num_ctrs\": {},\n  \"rpv\": \"",
        raw.s2sz, raw.flags, raw.sve_vl, raw.num_bps, raw.num_wps, raw.pmu_num_ctrs
    );
    for byte in raw.rpv {
        let _ = write!(j, "{byte:02x}");
    }
    let top = GUEST_IPA + b.mem_pages * 0x1000;
    let _ = write!(
        j,
        "\",\n  \"steps\": [\n    {{\"init_ripas\": {{\"base\": \"{GUEST_IPA:#x}\", \"top\": \"{top:#x}\", \"level\": 3}}}}"
    );
    for i in 0..b.file_pages {
        let _ = write!(
            j,
            ",\n    {{\"data\": {{\"ipa\": \"{:#x}\", \"file\": \"{GUEST_IMAGE_FILE}\", \"offset\": {}, \"measured\": true}}}}",
            GUEST_IPA + i * 0x1000,
            i * 0x1000
        );
    }
    for runnable in [true, false] {
        let _ = write!(
            j,
            ",\n    {{\"rec\": {{\"pc\": \"{GUEST_IPA:#x}\", \"gprs\": [0, 0, 0, 0, 0, 0, 0, 0], \"runnable\": {runnable}}}}}"
        );
    }
    let _ = write!(j, "\n  ]\n}}\n");
    j
}

/// Writes [`RESULTS_JSON`]. Not inlined: its buffer must not sit in [`realm`]'s frame while the
/// REC runs (the host stacks are 32 KiB).
#[inline(never)]
fn write_results(st: &Run, rmi_version: u64) -> Result<(), Msg> {
    let j = json(st, rmi_version, cntfrq());
    match semihosting::write_file(RESULTS_JSON, j.as_bytes()) {
        Ok(()) => {
            println!("host: benchmark results written to {RESULTS_JSON} (semihosting)");
            Ok(())
        }
        Err(e) => Err(msg!("could not write {RESULTS_JSON}: {e}")),
    }
}

/// Checks the guest's attestation report and writes [`TOKEN_FILE`] and [`REALM_DESCRIPTION`].
/// Not inlined, like [`write_results`].
#[inline(never)]
fn write_attestation(c: &mut Checks, st: &Run, b: &Built) -> Result<(), Msg> {
    let Some(a) = st.attest else {
        return Err(msg!(
            "bench-guest reported no attestation token (host call 0x500)"
        ));
    };
    let [
        len,
        bound,
        init,
        total,
        calls,
        interrupted,
        err,
        init1,
        total1,
        calls1,
        _,
    ] = a;
    c.that(
        format_args!(
            "attestation: token {len} bytes (INIT bound {bound}), {calls} CONTINUEs, guest error flag {err}"
        ),
        err == 0 && len > 0 && len <= bound && st.token_received == len,
    )?;
    // SAFETY: `AtomicU64` has `u64`'s in-memory representation (little-endian words in token
    // order); this CPU wrote them and nothing writes them during the `realm` scenario now.
    let token = unsafe { core::slice::from_raw_parts(TOKEN.as_ptr().cast::<u8>(), len as usize) };
    if let Err(e) = semihosting::write_binary(TOKEN_FILE, token) {
        return Err(msg!("could not write {TOKEN_FILE}: {e}"));
    }
    let d = description(b);
    ensure!(
        d.as_bytes().len() < DESCRIPTION_BYTES && d.as_bytes().ends_with(b"}\n"),
        "the Realm description does not fit in {DESCRIPTION_BYTES} bytes"
    );
    if let Err(e) = semihosting::write_file(REALM_DESCRIPTION, d.as_bytes()) {
        return Err(msg!("could not write {REALM_DESCRIPTION}: {e}"));
    }
    println!(
        "host: attestation: REM extended, token {len} bytes (INIT bound {bound}); INIT {init} ticks, INIT..last CONTINUE {total} ticks over {calls} CONTINUEs ({interrupted} interrupted); first request (fills the attestation cache): INIT {init1}, INIT..last CONTINUE {total1} over {calls1} CONTINUEs"
    );
    println!(
        "host: attestation token written to {TOKEN_FILE}, the Realm description to {REALM_DESCRIPTION} (semihosting)"
    );
    Ok(())
}

fn cntfrq() -> u64 {
    let f: u64;
    // SAFETY: reads the counter frequency.
    unsafe { core::arch::asm!("mrs {}, cntfrq_el0", out(reg) f, options(nomem, nostack)) };
    f
}

/// The `realm` scenario.
/// The pattern seed of the Host's SVE registers during `realm`.
const SVE_SEED: u64 = 0x5E5E_0123_4567_89AB;

pub fn realm() -> Outcome {
    let mut c = Checks::new();
    let mut rmi = rmi();
    let b = build(&mut c, REALM_A)?;
    // RMI_VERSION seen from NS: the cost of one RMI round trip through EL3, for comparison.
    let mut rmi_version = u64::MAX;
    for _ in 0..16 {
        let t0 = cntpct();
        let _ = rmi.version(warden_abi::version::RMI_VERSION_1_0);
        rmi_version = rmi_version.min(cntpct() - t0);
    }
    let mut st = Run::new("");
    // The Host's SVE registers hold a pattern while bench-guest (which uses FP) runs.
    let sve = crate::host_state::present();
    if sve {
        crate::host_state::fill(SVE_SEED);
    }
    crate::host_state::debug_fill();
    let t0 = cntpct();
    run_rec(&mut rmi, REALM_A, 0, Rec1::Inline, &mut st)?;
    let ticks = cntpct() - t0;
    if sve {
        let bad = crate::host_state::check(SVE_SEED);
        c.that(format_args!("the Host's SVE state (Z, P, FFR at VL 512) survived the Realm's FP use: {bad} bytes differ"), bad == 0)?;
    }
    let (dbg, dbg_ok) = crate::host_state::debug_check();
    c.that(format_args!("the Host's DBGBVR0/DBGWVR0 survived the Realm's debug use: {:#x} {:#x}", dbg[0], dbg[1]), dbg_ok)?;
    c.that(format_args!("the Realm reached SYSTEM_OFF"), st.done)?;

    println!(
        "host: bench-guest results, CNTVCT ticks (under -icount shift=0 a tick is one instruction, in any world):"
    );
    println!(
        "host:   {:<16} {:>4} {:>9} {:>9} {:>9} {:>9}",
        "benchmark", "n", "min", "median", "p99", "max"
    );
    for row in st.rows.iter().filter(|r| r.v[0] > 0) {
        println!(
            "host:   {:<16} {:>4} {:>9} {:>9} {:>9} {:>9}",
            row.name(),
            row.v[0],
            row.v[1],
            row.v[2],
            row.v[3],
            row.v[4]
        );
    }
    let host = st.ping_host.0.checked_div(st.ping_host.1).unwrap_or(0);
    let e = &st.exits;
    println!(
        "host: RMI_VERSION from NS (min of 16) {rmi_version}; host time per ping host call (exit to next REC_ENTER) {host}; \
         exits: sync {} irq {} fiq {} psci {} ripas {} host_call {}; run {ticks} ticks",
        e[0], e[1], e[2], e[3], e[4], e[5]
    );
    println!(
        "host: interrupts: {} IRQ exits, virtual timer injected {} times (vINTID {VTIMER_INTID}, last cntv_cval {:#x}), CNTHP (INTID {CNTHP_INTID}) taken {} times after IRQ exits; {} SYNC exits for granule protection faults (Warden image, RD at unprotected IPAs)",
        e[1], st.vtimer_injections, st.vtimer_cval, st.cnthp_irqs, st.gpf_exits
    );
    let rows = st.rows.iter().filter(|r| r.v[0] > 0).count();
    c.that(
        format_args!("{rows} benchmark results, want {MAX_ROWS}"),
        rows == MAX_ROWS,
    )?;
    c.that(
        format_args!("{} of {} guest checks failed", st.checks_failed, st.checks),
        st.checks_failed == 0 && st.checks > 0,
    )?;
    write_results(&st, rmi_version)?;
    write_attestation(&mut c, &st, &b)?;
    teardown(&mut c, &b)?;
    Ok(msg!(
        "bench-guest ran to SYSTEM_OFF ({} exits): {rows} benchmarks, {} guest checks passed, attestation token {} bytes; 2 RECs, {} pages ({} measured); torn down, {} granules read back zero; {} checks",
        e.iter().sum::<u64>(),
        st.checks,
        st.token_received,
        b.mem_pages,
        b.file_pages,
        b.n,
        c.passed
    ))
}

/// What a CPU of `realm-pair` does (set before its CPU_ON): cpu 1 runs Realm B's REC 0; cpus 2
/// and 3 run the REC 1s of Realms A and B whenever their mailbox says so.
pub(super) fn secondary(cpu: usize) -> bool {
    let mut rmi = rmi();
    match cpu {
        1 => {
            let mut st = Run::new(" B");
            let r = run_rec(&mut rmi, REALM_B, 0, Rec1::Remote(1), &mut st);
            if let Err(m) = &r {
                println!("host: cpu 1 (Realm B): {m}");
            }
            let ok = r.is_ok() && st.done && st.checks_failed == 0 && st.checks > 0;
            PAIR_CHECKS[1].store(st.checks, Ordering::SeqCst);
            ok
        }
        2 | 3 => {
            let (realm, slot) = if cpu == 2 { (REALM_A, 0) } else { (REALM_B, 1) };
            let mb = &MAILBOX[slot];
            let mut runs = 0;
            loop {
                match mb.load(Ordering::SeqCst) {
                    MB_RUN => {
                        let mut st = Run::new(if cpu == 2 { " A1" } else { " B1" });
                        let r = run_rec(&mut rmi, realm, 1, Rec1::Remote(slot), &mut st);
                        if let Err(m) = &r {
                            println!("host: cpu {cpu}: {m}");
                        }
                        runs += 1;
                        mb.store(
                            if r.is_ok() { MB_DONE } else { MB_FAILED },
                            Ordering::SeqCst,
                        );
                    }
                    MB_STOP => break,
                    _ => core::hint::spin_loop(),
                }
            }
            PAIR_CHECKS[cpu].store(runs, Ordering::SeqCst);
            runs > 0
        }
        _ => false,
    }
}

/// Per CPU of `realm-pair`: guest checks (cpu 1) or REC 1 runs (cpus 2, 3).
static PAIR_CHECKS: [AtomicU64; 4] = [const { AtomicU64::new(0) }; 4];

/// The `realm-pair` scenario: two Realms × two RECs on four CPUs at once. If it fails, the CPUs
/// it started are stopped and both Realms reclaimed, so the next scenario starts clean.
pub fn realm_pair() -> Outcome {
    let r = realm_pair_run();
    if r.is_err() {
        stop_pair_cpus();
        for realm in [REALM_A, REALM_B] {
            let left = reclaim(realm);
            if left > 0 {
                println!(
                    "host: realm-pair: {left} granules of VMID {} could not be reclaimed",
                    realm.vmid
                );
            }
        }
    }
    r
}

/// After a failed `realm-pair`: stops the mailbox runners and turns off every CPU that reports
/// within 10 s (one still inside a Realm cannot be stopped).
fn stop_pair_cpus() {
    for mb in &MAILBOX {
        mb.store(MB_STOP, Ordering::SeqCst);
    }
    for cpu in 1..4u64 {
        if psci::affinity_info(cpu) == PsciAffinityState::On.to_x0()
            && wait_for(10, || {
                SECONDARY_RESULT[cpu as usize].load(Ordering::SeqCst) != 0
            })
        {
            let _ = release_and_wait_off(cpu);
        }
    }
    JOB.store(super::JOB_PING, Ordering::SeqCst);
}

/// Everything `build` may have created for `realm`, best effort ([`Wreck::reclaim`]): the granules
/// still not readable from NS.
fn reclaim(realm: Layout) -> usize {
    let data: [u64; MAX_PAGES as usize] = core::array::from_fn(|i| GUEST_IPA + i as u64 * 0x1000);
    let mut granules = [0u64; (9 + 2 * MAX_AUX + MAX_PAGES) as usize];
    let aux = (0..2).flat_map(|r| (0..MAX_AUX).map(move |i| realm.aux(r, i)));
    let pages = (0..MAX_PAGES).map(|i| realm.data(i));
    for (slot, pa) in granules
        .iter_mut()
        .zip(realm.fixed().into_iter().chain(aux).chain(pages))
    {
        *slot = pa;
    }
    let forbidden = UNPROTECTED + FORBIDDEN_OFFSET;
    Wreck {
        rd: realm.rd(),
        recs: &[realm.rec(1), realm.rec(0)],
        data: &data,
        unprotected: &[forbidden, forbidden + 0x1000],
        rtts: &[
            (forbidden, 3),
            (forbidden & !(GIB - 1), 2),
            (GUEST_IPA, 3),
            (GUEST_IPA & !(GIB - 1), 2),
        ],
        granules: &granules,
    }
    .reclaim()
}

fn realm_pair_run() -> Outcome {
    let mut c = Checks::new();
    let a = build(&mut c, REALM_A)?;
    let b = build(&mut c, REALM_B)?;
    for mb in &MAILBOX {
        mb.store(MB_IDLE, Ordering::SeqCst);
    }
    JOB.store(JOB_REALM, Ordering::SeqCst);
    let entry = host_secondary_entry as *const () as u64;
    // The REC 1 runners first, then Realm B's REC 0 on cpu 1.
    for cpu in [2u64, 3, 1] {
        SECONDARY_RESULT[cpu as usize].store(0, Ordering::SeqCst);
        let r = psci::cpu_on(cpu, entry, cpu);
        ensure!(r == 0, "CPU_ON({cpu}) = {r:#x}");
    }
    let mut rmi = rmi();
    let mut st = Run::new(" A");
    let ra = run_rec(&mut rmi, REALM_A, 0, Rec1::Remote(0), &mut st);
    let b_done = wait_for(60, || SECONDARY_RESULT[1].load(Ordering::SeqCst) != 0);
    for mb in &MAILBOX {
        mb.store(MB_STOP, Ordering::SeqCst);
    }
    let runners_done = wait_for(10, || {
        (2..4).all(|cpu| SECONDARY_RESULT[cpu].load(Ordering::SeqCst) != 0)
    });
    let results: [u64; 3] =
        core::array::from_fn(|i| SECONDARY_RESULT[i + 1].load(Ordering::SeqCst));
    // Every CPU that reported goes OFF again before any verdict, so later scenarios can CPU_ON it.
    for (cpu, r) in (1..4u64).zip(results) {
        if r != 0 {
            release_and_wait_off(cpu)?;
        }
    }
    ra?;
    c.that(format_args!("Realm A reached SYSTEM_OFF"), st.done)?;
    c.that(
        format_args!(
            "Realm A: {} of {} guest checks failed",
            st.checks_failed, st.checks
        ),
        st.checks_failed == 0 && st.checks > 0,
    )?;
    ensure!(b_done, "cpu 1 (Realm B) did not finish within 60 s");
    ensure!(runners_done, "the REC 1 runners (cpus 2, 3) did not stop");
    for (cpu, r) in (1..4u64).zip(results) {
        ensure!(r == 1, "cpu {cpu} failed (see its console line)");
    }
    JOB.store(super::JOB_PING, Ordering::SeqCst);
    teardown(&mut c, &a)?;
    teardown(&mut c, &b)?;
    Ok(msg!(
        "2 Realms x 2 RECs on 4 CPUs ran to SYSTEM_OFF: guest checks A {} B {}, REC 1 runs A {} B {} (cpus 2, 3); both torn down, granules read back zero; {} checks",
        st.checks,
        PAIR_CHECKS[1].load(Ordering::SeqCst),
        PAIR_CHECKS[2].load(Ordering::SeqCst),
        PAIR_CHECKS[3].load(Ordering::SeqCst),
        c.passed
    ))
}
