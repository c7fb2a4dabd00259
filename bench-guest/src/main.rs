//! bench-guest: a bare-metal Realm payload (R-EL1, MMU off) that measures REC round trips and
//! reports them to the Host through host calls, then powers the Realm off.
//!
//! # Placement (what the Host must do)
//! Linked at protected IPA [`IPA_BASE`] = 0x8000_0000 (a 40-bit Realm: protected half below
//! 2^39). The flat image starts with a header: `b entry; .word 0; .quad MAGIC; .quad file_size;
//! .quad mem_size` — the Host DATA_CREATEs (measured) `file_size` bytes from there, and backs the
//! rest up to `mem_size` (bss, stacks, the RSI buffers) with RIPAS-RAM granules
//! (RTT_INIT_RIPAS + DATA_CREATE_UNKNOWN). REC 0 starts at IPA_BASE with x0 = 0; REC 1 (MPIDR 1,
//! created not runnable) is started by PSCI CPU_ON at the same entry with x0 = [`SECONDARY_MAGIC`]
//! and turns itself off again.
//!
//! # The Host protocol (RSI_HOST_CALL imm, gprs)
//! | imm | meaning | gprs |
//! |---|---|---|
//! | 0x0000 | ping (the host-call benchmark): just re-enter | – |
//! | 0x0001 | config: ipa_width, hash_algo, CNTFRQ, samples per benchmark | 0–3 |
//! | 0x0100 + k | result of benchmark k | 0 = samples, 1 = min, 2 = median, 3 = p99, 4 = max (CNTVCT ticks), 5–7 = name (ASCII, little-endian, NUL padded) |
//! | 0x0200 | check result | 0 = check id, 1 = 1 pass / 0 fail, 2–3 = detail |
//! | 0x0300 | run REC 1 until it exits (after a CPU_ON), then re-enter REC 0 | – |
//! | 0x0400 | done: PSCI SYSTEM_OFF follows | 0 = number of failed checks |
//! | 0x0500 | attestation summary (before the token) | of the second (reported) request: 0 = token length, 1 = INIT's upper bound, 2 = INIT ticks, 3 = ticks from before INIT to after the last CONTINUE, 4 = CONTINUE calls, 5 = of those, RSI_INCOMPLETE with 0 bytes (signing interrupted by an IRQ), 6 = 0 ok / 1 error; of the first request (which also fills Warden's attestation cache): 7 = INIT ticks, 8 = INIT..last CONTINUE ticks, 9 = CONTINUE calls, 10 = interrupted |
//! | 0x0501 | a piece of the attestation token | 0 = byte offset, 1 = bytes in this piece (≤ 232), 2–30 = the bytes (little-endian words) |
//! | 0x0600 | arm the Host's EL2 physical timer (CNTHP, INTID 26) to fire during the guest's next loop | 0 = ticks from now |
//! | 0x0601 | interrupt/fault statistics (answer) | answer: 0 = CNTHP IRQs the Host took after IRQ exits, 1 = virtual timer (vINTID 27) injections, 2 = the reported `cntv_cval` at the last injection, 3 = SYNC exits for a granule protection fault |
//! | 0xDEAD | unexpected exception in the guest | 0 = ESR_EL1, 1 = ELR_EL1, 2 = FAR_EL1 |
//!
//! # Interrupts and forbidden memory (checks 30–36)
//! The guest enables its virtual GIC CPU interface (ICC_PMR_EL1, ICC_IGRPEN1_EL1) and arms its EL1
//! virtual timer twice (the second time while making host calls): the timer's physical PPI makes the
//! REC exit (IRQ) or is seen asserted in an exit's `cntv_ctl`; the Host then injects vINTID
//! [`VTIMER_INTID`] in LR 0, the guest takes it (ICC_IAR1_EL1), disables the timer and EOIs it.
//! Then the Host arms its own CNTHP (host call 0x600) and the guest spins: an IRQ exit. Finally
//! the guest loads from two unprotected IPAs the Host mapped to Realm-PAS granules (Warden's image
//! at `+ FORBIDDEN_OFFSET`, the Realm's RD at `+ FORBIDDEN_OFFSET + 0x1000`): Warden takes the
//! granule protection fault (`HCR_EL2.GPF` routes it to EL2), injects an SEA and reports a SYNC
//! exit, so the load does not complete; and from [`UNMAPPED_IPA`], a
//! protected IPA without any RTT below level 1 (RIPAS EMPTY): an SEA without exit.
//!
//! # EL1 state across exits to the Host (checks 37–39)
//! The guest sets its APIA and APGA pointer-authentication keys and computes a PACGA, sets
//! breakpoint 0 / watchpoint 0 value registers (Warden moves debug registers lazily, on this first
//! access) and CSSELR_EL1, making a host call after each: the keys read back and the PACGA result
//! is the same, the debug registers and CSSELR read back what was written.
//!
//! MMIO: the Host emulates a 32-bit register at unprotected IPA `2^(ipa_width-1) + MMIO_OFFSET`
//! (reads return [`MMIO_READ_VALUE`], writes are accepted) and a console at
//! `2^(ipa_width-1) + CONSOLE_OFFSET` (each 32-bit write is one character).
//!
//! # Attestation
//! After the benchmarks REC 0 extends REM index [`REM_INDEX`] (RSI_MEASUREMENT_EXTEND, the
//! [`REM_VALUE_LEN`] bytes of [`rem_value`]), then requests a token with the fixed challenge
//! [`challenge`] (byte `i` = `i*37 ^ 0xC3`, i = 0..64): RSI_ATTESTATION_TOKEN_INIT, then
//! RSI_ATTESTATION_TOKEN_CONTINUE into its own RAM page (a protected IPA backed by
//! DATA_CREATE_UNKNOWN) at increasing offsets until RSI_SUCCESS, calling again on RSI_INCOMPLETE (with
//! 0 bytes when an IRQ interrupted the signing). It does this twice — the first request also makes
//! Warden fetch its attestation material from EL3 — and reports both (0x0500), then the second
//! token in 0x0501 pieces. Checks 20–22: the extend, the first and the second request.
//! The token's expected REM is `SHA-256(32 zero bytes ‖ rem_value)` (the REM starts at zero).
//!
//! Timing: `ISB; MRS CNTVCT_EL0` around each operation. Under QEMU's
//! `-icount shift=0,align=off,sleep=off` the counter advances one tick per executed instruction,
//! so every figure is an instruction count (guest + Warden + EL3 + Host), deterministic run to run.
//! The PMU is hidden from Realms (ID_AA64DFR0_EL1.PMUVer = 0), so PMCCNTR is not used.
#![cfg_attr(target_os = "none", no_std, no_main)]
#![cfg_attr(not(target_os = "none"), allow(dead_code))]

/// Protected IPA the image is linked at.
pub const IPA_BASE: u64 = 0x8000_0000;
/// Header magic ("WRDNBNCH").
pub const MAGIC: u64 = u64::from_le_bytes(*b"WRDNBNCH");
/// x0 of REC 1's CPU_ON entry (context id).
pub const SECONDARY_MAGIC: u64 = 0x5EC0_0001;
/// Offset of the emulated MMIO register in the unprotected half.
pub const MMIO_OFFSET: u64 = 0x0A00_0000;
/// Offset of the emulated console in the unprotected half.
pub const CONSOLE_OFFSET: u64 = 0x0900_0000;
/// What the Host returns for an MMIO read.
pub const MMIO_READ_VALUE: u32 = 0x5EA1_CAFE;
/// A protected IPA with RIPAS EMPTY (nothing is ever created there): an access is an SEA.
pub const EMPTY_IPA: u64 = 0x9000_0000;
/// Offset in the unprotected half of two pages the Host maps to Realm-PAS memory: Warden's image
/// (0x4010_0000) and the Realm's RD (a delegated granule).
pub const FORBIDDEN_OFFSET: u64 = 0x0B00_0000;
/// A protected IPA no RTT below level 1 covers.
pub const UNMAPPED_IPA: u64 = 0x40_0000_0000;
/// The EL1 virtual timer's INTID.
pub const VTIMER_INTID: u64 = 27;
/// Samples per benchmark.
pub const SAMPLES: usize = 64;
/// The REM the guest extends (RSI index; the token's REM array index is one less).
pub const REM_INDEX: u64 = 1;
/// How many bytes of [`rem_value`] RSI_MEASUREMENT_EXTEND measures.
pub const REM_VALUE_LEN: usize = 32;
/// Token bytes per 0x0501 host call (29 words).
pub const TOKEN_PIECE: usize = 232;

/// The attestation challenge: byte `i` is `i*37 ^ 0xC3` (mod 256), i = 0..64.
pub const fn challenge() -> [u8; 64] {
    let mut c = [0u8; 64];
    let mut i = 0;
    while i < 64 {
        c[i] = ((i * 37) as u8) ^ 0xC3;
        i += 1;
    }
    c
}

/// The value extended into REM [`REM_INDEX`]: byte `i` is `i ^ 0xA5`, i = 0..32.
pub const fn rem_value() -> [u8; REM_VALUE_LEN] {
    let mut v = [0u8; REM_VALUE_LEN];
    let mut i = 0;
    while i < REM_VALUE_LEN {
        v[i] = (i as u8) ^ 0xA5;
        i += 1;
    }
    v
}

#[cfg(target_os = "none")]
mod guest;

#[cfg(target_os = "none")]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    guest::fail_stop(0xDEAD)
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!(
        "bench-guest is a Realm payload for aarch64-unknown-none; build it with `cargo xtask`"
    );
}
