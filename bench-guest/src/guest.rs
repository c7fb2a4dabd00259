//! The Realm side: entry, EL1 vectors, RSI/PSCI calls and the benchmarks (see the crate docs).

use core::arch::asm;
use core::cell::UnsafeCell;
use core::ptr::{read_volatile, write_volatile};
use core::sync::atomic::{AtomicU64, Ordering::Relaxed};

use warden_abi::fid::{psci, rsi};

use crate::{
    CONSOLE_OFFSET, EMPTY_IPA, FORBIDDEN_OFFSET, IPA_BASE, UNMAPPED_IPA, VTIMER_INTID, MAGIC, MMIO_OFFSET, MMIO_READ_VALUE, REM_INDEX,
    REM_VALUE_LEN, SAMPLES, SECONDARY_MAGIC, TOKEN_PIECE, challenge, rem_value,
};

/// Stack of REC 0 (REC 1 needs none).
const STACK_SIZE: usize = 16 * 1024;

/// A page-aligned, interior-mutable static the Realm shares with the RMM by IPA.
#[repr(C, align(4096))]
struct Page<T>(UnsafeCell<T>);
// SAFETY: only REC 0 runs Rust code; REC 1 runs the assembly stub only.
unsafe impl<T> Sync for Page<T> {}

/// `RsiHostCall`: imm at 0, gprs[0..31] at 8 (256 bytes, 256-byte aligned).
#[repr(C)]
struct HostCallBuf {
    imm: u64,
    gprs: [u64; 31],
}

#[unsafe(link_section = ".bss.page")]
static STACK: Page<[u8; STACK_SIZE]> = Page(UnsafeCell::new([0; STACK_SIZE]));
#[unsafe(link_section = ".bss.page")]
static CONFIG: Page<[u64; 512]> = Page(UnsafeCell::new([0; 512]));
/// RSI_ATTESTATION_TOKEN_CONTINUE's buffer: the token is assembled here.
#[unsafe(link_section = ".bss.page")]
static TOKEN: Page<[u8; 4096]> = Page(UnsafeCell::new([0; 4096]));
#[unsafe(link_section = ".bss.page")]
static HOST_CALL: Page<HostCallBuf> = Page(UnsafeCell::new(HostCallBuf {
    imm: 0,
    gprs: [0; 31],
}));

core::arch::global_asm!(
    r#"
    .section .text.boot, "ax"
    .global _start
_start:
    b 1f
    .word 0
    .quad {magic}
    .quad __file_end
    .quad __mem_end
1:  mov x9, #(3 << 20)              // CPACR_EL1.FPEN: FP/SIMD for EL1 and EL0
    msr cpacr_el1, x9
    adrp x9, guest_vectors
    add x9, x9, :lo12:guest_vectors
    msr vbar_el1, x9
    isb
    ldr x9, ={secondary}
    cmp x0, x9
    b.eq 2f
    adrp x9, {stack}
    add x9, x9, :lo12:{stack}
    add x9, x9, #{stack_size}
    mov sp, x9
    bl guest_main
    b .
2:  ldr x0, ={cpu_off}              // REC 1: off again at once
    smc #0
    b .

    .section .text.vectors, "ax"
    .balign 2048
    .global guest_vectors
guest_vectors:
    .balign 128
    b guest_unexpected_asm          // current EL, SP0
    .balign 128
    b guest_unexpected_asm
    .balign 128
    b guest_unexpected_asm
    .balign 128
    b guest_unexpected_asm
    .balign 128                     // current EL, SPx, synchronous: an SEA is skipped
    stp x0, x1, [sp, #-16]!
    mrs x0, esr_el1
    adrp x1, {last_esr}
    str x0, [x1, :lo12:{last_esr}]
    lsr x1, x0, #26
    cmp x1, #0x25
    b.ne 3f
    mrs x0, elr_el1
    add x0, x0, #4
    msr elr_el1, x0
    ldp x0, x1, [sp], #16
    eret
3:  ldp x0, x1, [sp], #16
    b guest_unexpected_asm
    .balign 128                     // current EL, SPx, IRQ: the virtual timer
    stp x0, x1, [sp, #-16]!
    mrs x0, S3_0_C12_C12_0          // ICC_IAR1_EL1
    cmp x0, #{vtimer}
    b.ne 4f
    msr cntv_ctl_el0, xzr           // the timer is handled: off
    isb
    adrp x1, {irqs}
    ldr x1, [x1, :lo12:{irqs}]
    add x1, x1, #1
    stp x2, x3, [sp, #-16]!
    adrp x2, {irqs}
    str x1, [x2, :lo12:{irqs}]
    ldp x2, x3, [sp], #16
4:  cmp x0, #1020
    b.hs 5f                         // spurious: nothing to EOI
    msr S3_0_C12_C12_1, x0          // ICC_EOIR1_EL1
5:  ldp x0, x1, [sp], #16
    eret
    .balign 128
    b guest_unexpected_asm
    .balign 128
    b guest_unexpected_asm
    .balign 128
guest_unexpected_asm:
    mrs x0, esr_el1
    mrs x1, elr_el1
    mrs x2, far_el1
    bl {unexpected}
    b .
    "#,
    magic = const MAGIC,
    secondary = const SECONDARY_MAGIC,
    cpu_off = const psci::CPU_OFF,
    stack = sym STACK,
    stack_size = const STACK_SIZE,
    unexpected = sym guest_unexpected,
    last_esr = sym LAST_ESR,
    irqs = sym TIMER_IRQS,
    vtimer = const VTIMER_INTID,
);

/// ESR_EL1 of the last synchronous exception (written by the vector).
static LAST_ESR: AtomicU64 = AtomicU64::new(0);
/// Virtual timer interrupts taken (written by the IRQ vector).
static TIMER_IRQS: AtomicU64 = AtomicU64::new(0);

/// An SMC with up to six arguments; x0–x3 of the result.
#[inline(always)]
fn smc(fid: u64, a: [u64; 6]) -> [u64; 4] {
    let (x0, x1, x2, x3);
    // SAFETY: an RSI/PSCI call; the RMM may write x0–x17 (SMCCC), nothing else.
    unsafe {
        asm!(
            "smc #0",
            inout("x0") fid => x0, inout("x1") a[0] => x1, inout("x2") a[1] => x2,
            inout("x3") a[2] => x3, inout("x4") a[3] => _, inout("x5") a[4] => _,
            inout("x6") a[5] => _, out("x7") _, out("x8") _, out("x9") _, out("x10") _,
            out("x11") _, out("x12") _, out("x13") _, out("x14") _, out("x15") _, out("x16") _,
            out("x17") _, options(nostack),
        )
    };
    [x0, x1, x2, x3]
}

/// An SMC with eight arguments (x1–x8); x0–x3 of the result.
#[inline(always)]
fn smc8(fid: u64, a: [u64; 8]) -> [u64; 4] {
    let (x0, x1, x2, x3);
    // SAFETY: an RSI call; the RMM may write x0–x17 (SMCCC), nothing else.
    unsafe {
        asm!(
            "smc #0",
            inout("x0") fid => x0, inout("x1") a[0] => x1, inout("x2") a[1] => x2,
            inout("x3") a[2] => x3, inout("x4") a[3] => _, inout("x5") a[4] => _,
            inout("x6") a[5] => _, inout("x7") a[6] => _, inout("x8") a[7] => _, out("x9") _,
            out("x10") _, out("x11") _, out("x12") _, out("x13") _, out("x14") _, out("x15") _,
            out("x16") _, out("x17") _, options(nostack),
        )
    };
    [x0, x1, x2, x3]
}

/// Little-endian words of `bytes` (zero-padded).
fn words<const N: usize>(bytes: &[u8]) -> [u64; N] {
    let mut w = [0u64; N];
    for (i, b) in bytes.iter().take(8 * N).enumerate() {
        w[i / 8] |= u64::from(*b) << (8 * (i % 8));
    }
    w
}

/// One token request into [`TOKEN`]: INIT with [`challenge`], then CONTINUE until RSI_SUCCESS.
struct Request {
    /// INIT's X0 and X1 (upper bound of the token size).
    init: [u64; 2],
    /// The last CONTINUE's X0.
    status: u64,
    /// Token bytes written.
    len: u64,
    /// Ticks of INIT, and from before INIT to after the last CONTINUE.
    ticks: [u64; 2],
    /// CONTINUE calls, and those that returned RSI_INCOMPLETE with 0 bytes (IRQ during signing).
    calls: u64,
    interrupted: u64,
}

impl Request {
    const SUCCESS: u64 = 0;
    const INCOMPLETE: u64 = 3;
    /// CONTINUE calls before giving up (each signing step polls for an IRQ; ~110 steps).
    const MAX_CALLS: u64 = 100_000;

    fn run() -> Self {
        let buf = TOKEN.0.get() as u64;
        let t0 = now();
        let init = smc8(rsi::ATTESTATION_TOKEN_INIT, words(&challenge()));
        let t1 = now();
        let mut r = Request {
            init: [init[0], init[1]],
            status: init[0],
            len: 0,
            ticks: [t1 - t0, 0],
            calls: 0,
            interrupted: 0,
        };
        if init[0] == Self::SUCCESS && init[1] <= 4096 {
            loop {
                let c = smc(
                    rsi::ATTESTATION_TOKEN_CONTINUE,
                    [buf, r.len, 4096 - r.len, 0, 0, 0],
                );
                r.calls += 1;
                r.status = c[0];
                if c[0] != Self::SUCCESS && c[0] != Self::INCOMPLETE {
                    break;
                }
                r.len += c[1];
                r.interrupted += u64::from(c[0] == Self::INCOMPLETE && c[1] == 0);
                if c[0] == Self::SUCCESS || r.len >= 4096 || r.calls >= Self::MAX_CALLS {
                    break;
                }
            }
        }
        r.ticks[1] = now() - t0;
        r
    }

    fn ok(&self) -> bool {
        self.init[0] == Self::SUCCESS
            && self.status == Self::SUCCESS
            && self.len > 0
            && self.len <= self.init[1]
    }
}

/// Extends REM [`REM_INDEX`], requests a token for [`challenge`] twice into [`TOKEN`] (the first
/// request also fills Warden's attestation cache) and hands the second to the Host (host calls
/// 0x500, 0x501); returns the number of failed checks.
fn attest() -> u64 {
    let v: [u64; 4] = words(&rem_value());
    let ext = smc(
        rsi::MEASUREMENT_EXTEND,
        [REM_INDEX, REM_VALUE_LEN as u64, v[0], v[1], v[2], v[3]],
    );
    let mut failed = check(20, ext[0] == 0, ext[0], 0);
    let first = Request::run();
    failed += check(21, first.ok(), first.init[0], first.status);
    let r = Request::run();
    let ok = r.ok();
    let off = r.len;
    let _ = host_call(
        0x500,
        &[
            off,
            r.init[1],
            r.ticks[0],
            r.ticks[1],
            r.calls,
            r.interrupted,
            u64::from(!ok),
            first.ticks[0],
            first.ticks[1],
            first.calls,
            first.interrupted,
        ],
    );
    let base = TOKEN.0.get().cast::<u8>();
    let len = off.min(4096) as usize;
    for at in (0..len).step_by(TOKEN_PIECE) {
        let n = (len - at).min(TOKEN_PIECE);
        let mut piece = [0u8; TOKEN_PIECE];
        for (i, b) in piece[..n].iter_mut().enumerate() {
            // SAFETY: inside REC 0's own token page, which the RMM wrote during CONTINUE.
            *b = unsafe { read_volatile(base.add(at + i)) };
        }
        let mut g = [0u64; 31];
        g[0] = at as u64;
        g[1] = n as u64;
        g[2..].copy_from_slice(&words::<29>(&piece[..n]));
        let _ = host_call(0x501, &g);
    }
    failed += check(22, ok, r.init[0], r.status);
    failed
}

/// The virtual counter, after every earlier instruction.
#[inline(always)]
fn now() -> u64 {
    let t: u64;
    // SAFETY: reads the counter; no memory access.
    unsafe { asm!("isb", "mrs {}, cntvct_el0", out(reg) t, options(nomem, nostack)) };
    t
}

/// RSI_HOST_CALL with `imm` and `gprs`; returns the Host's gprs[0..4].
fn host_call(imm: u16, gprs: &[u64]) -> [u64; 4] {
    let hc = HOST_CALL.0.get();
    // SAFETY: the buffer is REC 0's own; the RMM reads/writes it only during the call.
    unsafe {
        write_volatile(&raw mut (*hc).imm, u64::from(imm));
        for i in 0..31 {
            write_volatile(&raw mut (*hc).gprs[i], gprs.get(i).copied().unwrap_or(0));
        }
    }
    let r = smc(rsi::HOST_CALL, [hc as u64, 0, 0, 0, 0, 0]);
    if r[0] != 0 {
        fail_stop(0xDEAD);
    }
    // SAFETY: as above.
    unsafe { core::array::from_fn(|i| read_volatile(&raw const (*hc).gprs[i])) }
}

/// Reports `code` (and 0xDEAD details if any) and powers off.
pub fn fail_stop(code: u16) -> ! {
    let hc = HOST_CALL.0.get();
    // SAFETY: as in `host_call`.
    unsafe { write_volatile(&raw mut (*hc).imm, u64::from(code)) };
    let _ = smc(rsi::HOST_CALL, [hc as u64, 0, 0, 0, 0, 0]);
    let _ = smc(psci::SYSTEM_OFF, [0; 6]);
    loop {
        core::hint::spin_loop();
    }
}

extern "C" fn guest_unexpected(esr: u64, elr: u64, far: u64) -> ! {
    let _ = host_call(0xDEAD, &[esr, elr, far]);
    let _ = smc(psci::SYSTEM_OFF, [0; 6]);
    loop {
        core::hint::spin_loop();
    }
}

/// Emulated console output (one MMIO write, so one REC exit, per byte).
struct Console(u64);

impl core::fmt::Write for Console {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        for b in s.bytes() {
            // SAFETY: an unprotected IPA the Host emulates; the access exits to the Host.
            unsafe { write_volatile(self.0 as *mut u32, u32::from(b)) };
        }
        Ok(())
    }
}

/// Up to 24 ASCII bytes of `name` as three little-endian words.
fn name_words(name: &str) -> [u64; 3] {
    let mut w = [0u64; 3];
    for (i, b) in name.bytes().take(24).enumerate() {
        w[i / 8] |= u64::from(b) << (8 * (i % 8));
    }
    w
}

/// Runs `op` [`SAMPLES`] times, timing each, and reports min/median/p99/max as benchmark `id`.
fn bench(id: u16, name: &str, mut op: impl FnMut() -> bool) -> bool {
    let mut s = [0u64; SAMPLES];
    let mut ok = true;
    for slot in s.iter_mut() {
        let t0 = now();
        ok &= op();
        let t1 = now();
        *slot = t1 - t0;
    }
    report_samples(id, name, &mut s);
    ok
}

/// Reports a check.
fn check(id: u64, ok: bool, d0: u64, d1: u64) -> u64 {
    let _ = host_call(0x200, &[id, u64::from(ok), d0, d1]);
    u64::from(!ok)
}

/// Reads D8 (FP register).
fn read_d8() -> u64 {
    let v: u64;
    // SAFETY: reads an FP register into a GPR.
    unsafe { asm!("fmov {}, d8", out(reg) v, options(nomem, nostack)) };
    v
}

/// Writes D8.
fn write_d8(v: u64) {
    // SAFETY: D8 is callee-saved and this crate's code never keeps a value in it across here.
    unsafe { asm!("fmov d8, {}", in(reg) v, options(nomem, nostack)) };
}

#[unsafe(no_mangle)]
extern "C" fn guest_main() -> ! {
    use core::fmt::Write;
    let mut failed = 0;
    // RSI_VERSION and RSI_REALM_CONFIG first: they need no exit.
    let v = smc(rsi::VERSION, [0x1_0000, 0, 0, 0, 0, 0]);
    let cfg = CONFIG.0.get();
    let r = smc(rsi::REALM_CONFIG, [cfg as u64, 0, 0, 0, 0, 0]);
    // SAFETY: the RMM wrote the config page.
    let (ipa_width, hash) = unsafe {
        (
            read_volatile(&raw const (*cfg)[0]),
            read_volatile(&raw const (*cfg)[1]),
        )
    };
    let unprotected = 1u64 << (ipa_width.clamp(32, 52) - 1);
    let mut con = Console(unprotected + CONSOLE_OFFSET);
    let _ = writeln!(
        con,
        "bench-guest: RSI_VERSION x0={:#x} x1={:#x} x2={:#x}; REALM_CONFIG x0={:#x}: ipa_width {ipa_width}, hash_algo {hash}",
        v[0], v[1], v[2], r[0]
    );
    let cntfrq: u64;
    // SAFETY: reads a register.
    unsafe { asm!("mrs {}, cntfrq_el0", out(reg) cntfrq, options(nomem, nostack)) };
    let _ = host_call(1, &[ipa_width, hash, cntfrq, SAMPLES as u64]);
    failed += check(1, r[0] == 0 && v[0] == 0, r[0], v[0]);

    // Lazy FP: the first FP instruction traps to Warden, which loads this REC's (zeroed) state; the
    // value must survive exits that Warden handles and exits to the Host.
    write_d8(0x4009_21FB_5444_2D18);
    let _ = smc(rsi::VERSION, [0x1_0000, 0, 0, 0, 0, 0]);
    let _ = host_call(0, &[]);
    let d8 = read_d8();
    failed += check(2, d8 == 0x4009_21FB_5444_2D18, d8, 0);

    let mmio = unprotected + MMIO_OFFSET;
    let rsi_ok = bench(0, "rsi_version", || {
        smc(rsi::VERSION, [0x1_0000, 0, 0, 0, 0, 0])[0] == 0
    });
    let hc_ok = bench(1, "rsi_host_call", || {
        let _ = host_call(0, &[]);
        true
    });
    let rd_ok = bench(2, "mmio_read", || {
        // SAFETY: an unprotected IPA the Host emulates.
        let v = unsafe { read_volatile(mmio as *const u32) };
        v == MMIO_READ_VALUE
    });
    let wr_ok = bench(3, "mmio_write", || {
        // SAFETY: as above.
        unsafe { write_volatile(mmio as *mut u32, 0x1234_5678) };
        true
    });
    let sea_ok = bench(4, "sea_empty", || {
        let v: u64;
        // SAFETY: a protected IPA with RIPAS EMPTY: Warden injects an SEA, whose handler skips the
        // single load; x9 keeps its marker.
        unsafe {
            asm!("mov x9, #7", "ldr x9, [{a}]", a = in(reg) EMPTY_IPA, out("x9") v, options(nostack))
        };
        v == 7
    });
    let page = IPA_BASE;
    let get_ok = bench(5, "ipa_state_get", || {
        let r = smc(rsi::IPA_STATE_GET, [page, page + 0x1000, 0, 0, 0, 0]);
        r[0] == 0 && r[2] == 1
    });
    // RAM -> RAM on the config page: a RIPAS_CHANGE exit the Host accepts (RTT_SET_RIPAS).
    let set_ok = bench(6, "ipa_state_set", || {
        let r = smc(
            rsi::IPA_STATE_SET,
            [cfg as u64, cfg as u64 + 0x1000, 1, 0, 0, 0],
        );
        r[0] == 0 && r[1] == cfg as u64 + 0x1000 && r[2] == 0
    });
    let mut on_ok = true;
    let mut s = [0u64; SAMPLES];
    for slot in s.iter_mut() {
        let t0 = now();
        let r = smc(psci::CPU_ON_64, [1, IPA_BASE, SECONDARY_MAGIC, 0, 0, 0]);
        let t1 = now();
        *slot = t1 - t0;
        on_ok &= r[0] == 0;
        let _ = host_call(0x300, &[]); // the Host runs REC 1 to its CPU_OFF
    }
    report_samples(7, "psci_cpu_on", &mut s);
    for (id, (name, ok)) in [
        ("rsi_version", rsi_ok),
        ("host_call", hc_ok),
        ("mmio_read", rd_ok),
        ("mmio_write", wr_ok),
        ("sea_empty", sea_ok),
        ("ipa_state_get", get_ok),
        ("ipa_state_set", set_ok),
        ("psci_cpu_on", on_ok),
    ]
    .into_iter()
    .enumerate()
    {
        failed += check(10 + id as u64, ok, name_words(name)[0], name_words(name)[1]);
    }
    failed += interrupts();
    failed += forbidden(unprotected);
    failed += el1_state();
    failed += attest();
    let d8 = read_d8();
    failed += check(3, d8 == 0x4009_21FB_5444_2D18, d8, 0);
    let _ = writeln!(con, "bench-guest: done, {failed} failed checks; SYSTEM_OFF");
    let _ = host_call(0x400, &[failed]);
    let _ = smc(psci::SYSTEM_OFF, [0; 6]);
    fail_stop(0xDEAD)
}

/// Reads CNTV_CTL_EL0.
fn cntv_ctl() -> u64 {
    let v: u64;
    // SAFETY: reads a register.
    unsafe { asm!("mrs {}, cntv_ctl_el0", out(reg) v, options(nomem, nostack)) };
    v
}

/// Checks 30–33: the EL1 virtual timer through the virtual GIC (twice, the second time across host
/// calls), then a physical IRQ (the Host's CNTHP) during a long loop. See the crate docs.
fn interrupts() -> u64 {
    /// Ticks until the virtual timer fires.
    const DELTA: u64 = 20_000;
    /// Ticks until the Host's CNTHP fires, and how long the guest loops meanwhile.
    const HOST_DELTA: u64 = 100_000;
    const SPIN: u64 = 2_000_000;
    /// Give up waiting for an interrupt after this many ticks.
    const TIMEOUT: u64 = 500_000_000;
    // SAFETY: the virtual CPU interface (HCR_EL2.IMO: ICC_* at EL1 are the virtual ones): all
    // priorities unmasked, Group 1 on.
    unsafe {
        asm!("msr S3_0_C4_C6_0, {pmr}", "msr S3_0_C12_C12_7, {one}", "isb",
            pmr = in(reg) 0xFFu64, one = in(reg) 1u64, options(nostack))
    };
    let mut failed = 0;
    let mut cval = 0;
    for round in 0..2u64 {
        let before = TIMER_IRQS.load(Relaxed);
        cval = now() + DELTA;
        // SAFETY: arms this REC's virtual timer and unmasks IRQs; the vector handles vINTID 27.
        unsafe {
            asm!("msr cntv_cval_el0, {c}", "msr cntv_ctl_el0, {one}", "isb", "msr daifclr, #2",
                c = in(reg) cval, one = in(reg) 1u64, options(nostack))
        };
        let t0 = now();
        while TIMER_IRQS.load(Relaxed) == before && now() - t0 < TIMEOUT {
            if round == 1 {
                let _ = host_call(0, &[]); // exits to the Host while the timer runs
            }
        }
        // SAFETY: masks IRQs again.
        unsafe { asm!("msr daifset, #2", "isb", options(nostack)) };
        let n = TIMER_IRQS.load(Relaxed) - before;
        let ctl = cntv_ctl();
        failed += check(30 + round, n == 1 && ctl == 0, n, ctl);
    }
    let s = host_call(0x601, &[]);
    failed += check(32, s[1] == 2 && s[2] == cval, s[1], s[2]);
    let before = s[0];
    let _ = host_call(0x600, &[HOST_DELTA]);
    // Loop SPIN ticks; the IRQ exit is normally within it. QEMU may deliver the timer late (its
    // timers run on the main-loop thread, which competes with four vCPU threads), so ask the Host
    // after each further SPIN ticks, until TIMEOUT.
    let t0 = now();
    let mut s;
    loop {
        let t1 = now();
        while now() - t1 < SPIN {
            core::hint::spin_loop();
        }
        s = host_call(0x601, &[]);
        if s[0] != before || now() - t0 >= TIMEOUT {
            break;
        }
    }
    failed += check(33, s[0] == before + 1, s[0], before);
    failed
}

/// A load from `ipa` whose SEA the vector skips: returns the marker 7 if it was skipped.
fn load_skipped(ipa: u64) -> u64 {
    let v: u64;
    // SAFETY: the access faults (an SEA injected by Warden), and the vector skips the load.
    unsafe {
        asm!("mov x9, #7", "ldr x9, [{a}]", a = in(reg) ipa, out("x9") v, options(nostack))
    };
    v
}

/// Checks 37–39: EL1 state Warden switches at Host boundaries survives exits to the Host — the
/// pointer authentication keys (read back, and a PACGA result computed with them), the
/// breakpoint/watchpoint registers (moved lazily on first access) and CSSELR_EL1.
fn el1_state() -> u64 {
    const KEY: [u64; 2] = [0x0123_4567_89AB_CDEF, 0xFEDC_BA98_7654_3210];
    const BVR: u64 = 0x0000_7FFF_DEAD_B000;
    const WVR: u64 = 0x0000_7FFF_BEEF_C000;
    let mut failed = 0;
    let pac = |v: u64| -> u64 {
        let out: u64;
        // SAFETY: PACGA computes a code from registers and the APGA key; no memory is touched.
        unsafe {
            asm!(".arch_extension pauth", "pacga {o}, {v}, {m}", o = out(reg) out, v = in(reg) v,
                m = in(reg) 0x55u64, options(nomem, nostack))
        };
        out
    };
    // SAFETY: this REC's own APIA and APGA keys (not used by this code otherwise: it is built
    // without pointer authentication).
    unsafe {
        asm!("msr S3_0_C2_C1_0, {lo}", "msr S3_0_C2_C1_1, {hi}", "msr S3_0_C2_C3_0, {hi}",
            "msr S3_0_C2_C3_1, {lo}", "isb", lo = in(reg) KEY[0], hi = in(reg) KEY[1],
            options(nostack))
    };
    let code = pac(0x1234);
    let _ = host_call(0, &[]);
    let (lo, hi): (u64, u64);
    // SAFETY: reads this REC's APIA key.
    unsafe {
        asm!("mrs {lo}, S3_0_C2_C1_0", "mrs {hi}, S3_0_C2_C1_1", lo = out(reg) lo, hi = out(reg) hi,
            options(nomem, nostack))
    };
    let again = pac(0x1234);
    failed += check(37, [lo, hi] == KEY && code == again && code != 0x1234, lo, again);

    // SAFETY: breakpoint 0 and watchpoint 0 values; their control registers stay 0 (disabled), and
    // MDSCR_EL1.MDE is 0, so nothing fires.
    unsafe {
        asm!("msr S2_0_C0_C0_4, {b}", "msr S2_0_C0_C0_6, {w}", "isb", b = in(reg) BVR,
            w = in(reg) WVR, options(nostack))
    };
    let _ = host_call(0, &[]);
    let (b, w): (u64, u64);
    // SAFETY: reads DBGBVR0_EL1 and DBGWVR0_EL1.
    unsafe {
        asm!("mrs {b}, S2_0_C0_C0_4", "mrs {w}, S2_0_C0_C0_6", b = out(reg) b, w = out(reg) w,
            options(nomem, nostack))
    };
    failed += check(38, b == BVR && w == WVR, b, w);

    // SAFETY: selects the level-2 unified cache for CCSIDR_EL1 (no other effect).
    unsafe { asm!("msr csselr_el1, {v}", "isb", v = in(reg) 2u64, options(nostack)) };
    let _ = host_call(0, &[]);
    let sel: u64;
    // SAFETY: reads CSSELR_EL1.
    unsafe { asm!("mrs {}, csselr_el1", out(reg) sel, options(nomem, nostack)) };
    failed += check(39, sel == 2, sel, 0);
    failed
}

/// Checks 34–36: memory the Realm must not reach (see the crate docs).
fn forbidden(unprotected: u64) -> u64 {
    let mut failed = 0;
    for (i, ipa) in [0, 0x1000].into_iter().enumerate() {
        let ipa = unprotected + FORBIDDEN_OFFSET + ipa;
        let before = host_call(0x601, &[])[3];
        LAST_ESR.store(0, Relaxed);
        let v = load_skipped(ipa);
        let esr = LAST_ESR.load(Relaxed);
        let gpf = host_call(0x601, &[])[3] - before;
        // The load does not complete: Warden took the granule protection fault (HCR_EL2.GPF
        // routes it to EL2), injected an SEA (EC 0x25, DFSC 0x10) and reported one SYNC exit.
        let sea = esr & 0x3F == 0x10 && gpf == 1;
        failed += check(
            34 + i as u64,
            v == 7 && esr >> 26 == 0x25 && sea,
            esr,
            gpf,
        );
    }
    LAST_ESR.store(0, Relaxed);
    let v = load_skipped(UNMAPPED_IPA);
    let esr = LAST_ESR.load(Relaxed);
    failed += check(
        36,
        v == 7 && esr >> 26 == 0x25 && esr & 0x3F == 0x10,
        esr,
        v,
    );
    failed
}

/// Sorts `s` and reports it as benchmark `id` (the same record as [`bench`]).
fn report_samples(id: u16, name: &str, s: &mut [u64; SAMPLES]) {
    s.sort_unstable();
    let p99 = s[(SAMPLES * 99).div_ceil(100) - 1];
    let n = name_words(name);
    let _ = host_call(
        0x100 + id,
        &[
            SAMPLES as u64,
            s[0],
            s[SAMPLES / 2],
            p99,
            s[SAMPLES - 1],
            n[0],
            n[1],
            n[2],
        ],
    );
}
