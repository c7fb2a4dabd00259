//! The secret-holding Realm payload: a small position-independent program, assembled by the
//! compiler into this driver (`global_asm!`, section `.text.realm_payload`, symbols
//! [`realm_payload_start`]/[`realm_payload_end`]), that the Host copies into a Realm's first
//! [`CODE_PAGES`] DATA granules (measured) and runs at R-EL1 with the MMU off. It is the Realm of the
//! confidentiality, integrity and fault scenarios (`secret_realm.rs` builds and runs it).
//!
//! Owns the payload's code, its memory layout and its Host protocol (the constants below, shared
//! by the assembly through `const` operands). Never calls into the driver: it runs in the Realm.
//!
//! # What it does
//! It fills its RAM (every DATA granule but its code, and later the granule the Host adds on
//! demand) and its registers with **secret words** — X0–X30, SP_EL0, Q0–Q31 and eleven EL1/EL0
//! system registers (TPIDR_EL1, TPIDR_EL0, TPIDRRO_EL0, CONTEXTIDR_EL1, PAR_EL1, MAIR_EL1,
//! AMAIR_EL1, TTBR0_EL1, TTBR1_EL1, AFSR0_EL1, AFSR1_EL1; FAR_EL1, ESR_EL1, ELR_EL1 and SPSR_EL1
//! hold secrets too until its first injected exception) — and then leaves to the Host in every way
//! a Realm can, with every register it does not need for the exit holding a secret: host calls,
//! MMIO writes of 8, 32 and 64 bits (whose register holds a secret in the bytes the access does not
//! write), MMIO reads, WFI, a RIPAS change, PSCI CPU_ON (with a secret context id) of REC 1 (which
//! host-calls and turns itself off with secrets in its registers), spins that the Host interrupts
//! or releases through a shared NS page, data aborts the Host must handle (an unprotected IPA with
//! ISV = 0, answered with an SEA; a protected RAM IPA without a DATA granule, answered with
//! DATA_CREATE_UNKNOWN), and finally PSCI SYSTEM_OFF. In between it takes the faults Warden must
//! answer with an exception and no exit (a load from EMPTY memory and from beyond its IPA space,
//! instruction fetches from EMPTY and unprotected memory, HVC) and makes an unknown SMC.
//!
//! After every exit or fault ("phase") it stores X0–X30 and compares each register, SP_EL0, the
//! system registers, Q0–Q31 and its exception count with what they must hold: a register the Host
//! could change (Warden copying `RmiRecEnter.gprs` where it must not) is counted as a failure, as
//! is a RAM word that changed (checked after the Host's probes and at the end). It reports the
//! failures, the first failing check `phase << 8 | item` (item: register 0–30, SP_EL0 0x1F, system
//! register 0x20 + k, Q word 0x40 + j, inline checks 0xA0+, host-call buffer 0xC0 + i, RAM 0xE0,
//! exception count 0xFE) and the phases it completed in its report host call.
//!
//! # Secret words
//! `TAG_HI << 32 | TAG_LO | index` ([`secret`]): GPR `i` → index `i`, SP_EL0 → 0x1F, system
//! register `k` → 0x20 + k, REC 1's context id → 0x3E, Q word `j` (two per register) → 0x40 + j,
//! RAM word at address `a` → `0x80 | (a >> 3) & 0x7F`. The Host scans for [`TAG_HI`] and for
//! [`TAG_LO`] in every aligned 32-bit word ([`is_secret_word`]), so a secret found whole, halved or
//! truncated to 32 bits is still found. The payload builds them with `movz`/`movk`, so neither
//! 32-bit tag appears as a word in its code (the Host's copy of the code is not a "leak").
//!
//! # Layout (offsets from [`BASE_IPA`], a protected IPA of a 40-bit Realm)
//! | offset | what |
//! |---|---|
//! | 0x0000–0x2FFF | code (DATA_CREATE, measured; about 10 KiB, padded); EL1 vectors at 0x800 |
//! | [`HC`] 0x3000 | host-call page: REC 0's `RsiHostCall` at 0, REC 1's at 0x100, secrets from 0x200 |
//! | [`TAB`] 0x4000 | table page: secret GPR/SP_EL0 words (0x000), Q words (0x100), system-register read-backs (0x300), results (0x380), Q dump (0x400), exception stacks (below 0x700 and 0x800), GPR save area (0x800), secrets from 0x900 |
//! | [`RAM`] 0x5000–0xCFFF | RAM: secrets |
//! | [`UNASSIGNED`] 0xD000 | RIPAS RAM, no DATA: the payload's store makes the Host add it |
//! | [`EMPTY`] 0xE000 | RIPAS EMPTY: loads and fetches take an SEA |
//!
//! Unprotected IPAs: [`MMIO_IPA`] (no mapping: emulated MMIO, and the ISV = 0 abort) and
//! [`SHARED_IPA`] (mapped to an NS page of the Host: the spin flag and counter). [`BEYOND_IPA`] is
//! outside the IPA space.
//!
//! # Host protocol (RSI_HOST_CALL `imm`)
//! | imm | gprs out | Host answer |
//! |---|---|---|
//! | 0x5A00 + phase (1, 0x10, 0x11, 0x12) | [`checkpoint`]`(phase, i)` | [`answer`]`(phase, i)`, which the payload checks in its buffer; 0x10: release the spin when ready; 0x11: arm the Host's timer (an IRQ exit), then release |
//! | 0x5A40 (REC 1) | 0: 1 if its context id arrived, i ≥ 1: `checkpoint(0x40, i)` | anything |
//! | 0x5A1F | the report: 0 failures, 1 first failure, 2 phases completed (bit mask), 3 first failure's class (1 = a Host garbage value, 2 = zero, 3 = other), 4 exceptions taken, 5 and 6 spin iterations, 7 = 1 if its table of register secrets holds only secret words | anything |
//! | 0x5AFF | an unexpected exception: 0 ESR_EL1, 1 ELR_EL1, 2 vector | – (SYSTEM_OFF follows) |

use warden_abi::fid::{psci, rsi};

/// Where the payload runs: a protected IPA (level-1 entry 2 of a 40-bit Realm).
pub const BASE_IPA: u64 = 0x8000_0000;
/// Code granules (DATA_CREATE, measured, from the blob).
pub const CODE_PAGES: u64 = 3;
/// The host-call page.
pub const HC: u64 = 0x3000;
/// The table page.
pub const TAB: u64 = 0x4000;
/// The first RAM page.
pub const RAM: u64 = 0x5000;
/// The RIPAS RAM page without a DATA granule until the payload touches it.
pub const UNASSIGNED: u64 = 0xD000;
/// A RIPAS EMPTY page inside the payload's level-3 table.
pub const EMPTY: u64 = 0xE000;
/// DATA granules created before activation (code, host-call, table and RAM pages).
pub const DATA_PAGES: u64 = UNASSIGNED / 0x1000;
/// RTT_INIT_RIPAS covers `[BASE_IPA, BASE_IPA + RIPAS_TOP)`: everything but [`EMPTY`].
pub const RIPAS_TOP: u64 = EMPTY;
/// The first unprotected IPA of the 40-bit Realm.
pub const UNPROTECTED: u64 = 1 << 39;
/// The emulated MMIO page (unprotected, never mapped).
pub const MMIO_IPA: u64 = UNPROTECTED + 0x0A00_0000;
/// The shared page (unprotected, mapped to an NS granule of the Host).
pub const SHARED_IPA: u64 = UNPROTECTED + 0x0A00_1000;
/// An IPA beyond the Realm's 40-bit IPA space.
pub const BEYOND_IPA: u64 = 1 << 40;

/// The high 32 bits of every secret word.
pub const TAG_HI: u32 = 0x5EC2_E75E;
/// The low 32 bits of every secret word, but for the index in bits 7:0.
pub const TAG_LO: u32 = 0x5EC0_DE00;
/// A secret word with index 0.
pub const SECRET_BASE: u64 = ((TAG_HI as u64) << 32) | TAG_LO as u64;

/// The secret word with `index` (see the module docs).
pub const fn secret(index: u64) -> u64 {
    SECRET_BASE | (index & 0xFF)
}

/// Whether the 32-bit word `w` is (part of) a secret word.
pub const fn is_secret_word(w: u32) -> bool {
    w == TAG_HI || (w & 0xFFFF_FF00) == TAG_LO
}

/// REC 1's context id (a secret: PSCI CPU_ON must not show it to the Host).
pub const CONTEXT_ID: u64 = secret(0x3E);

/// What the payload puts in host-call register `i` of checkpoint `phase` (not a secret).
pub const fn checkpoint(phase: u64, i: u64) -> u64 {
    CHECKPOINT_BASE | (phase << 8) | i
}
const CHECKPOINT_BASE: u64 = 0x0000_4350_0000_0000;

/// What the Host answers in host-call register `i` of checkpoint `phase`.
pub const fn answer(phase: u64, i: u64) -> u64 {
    ANSWER_BASE | (phase << 8) | i
}
const ANSWER_BASE: u64 = 0x0000_4841_0000_0000;

/// The high 32 bits of the values a hostile Host writes into `RmiRecEnter.gprs` where they must
/// have no effect ([`garbage`]).
pub const GARBAGE_HI: u64 = 0xBAD0_0000;

/// Host garbage for `RmiRecEnter.gprs[i]`.
pub const fn garbage(i: u64) -> u64 {
    (GARBAGE_HI << 32) | 0x6A00_0000 | i
}

/// Host-call immediates.
pub mod imm {
    /// Checkpoint `phase`: `CHECKPOINT + phase`.
    pub const CHECKPOINT: u64 = 0x5A00;
    /// REC 1 reports whether its context id arrived.
    pub const REC1: u64 = 0x5A40;
    /// The final report.
    pub const REPORT: u64 = 0x5A1F;
    /// An unexpected exception in the payload.
    pub const UNEXPECTED: u64 = 0x5AFF;
}

/// Checkpoint phases.
pub mod phase {
    /// The first host call, after the secrets are in place.
    pub const FIRST: u64 = 0x01;
    /// Before the first spin (the Host probes, then releases it).
    pub const SPIN: u64 = 0x10;
    /// Before the second spin (the Host arms its timer; an IRQ exit releases it).
    pub const SPIN_IRQ: u64 = 0x11;
    /// After both spins.
    pub const AFTER_SPINS: u64 = 0x12;
    /// Every phase that ends with the payload's register checks (bit `n` of the report's mask).
    pub const ALL: u64 = (0x7FF << 0x10) | 0b11_1111_1110;
}

/// The payload's emulated MMIO accesses, in order: `(offset in the MMIO page, size in bytes,
/// write, value)` — for a write the value the exit must report, for a read what the Host answers.
pub const MMIO: [(u64, u64, bool, u64); 5] = [
    (0x7F8, 8, true, MMIO_W64),
    (0x010, 4, true, MMIO_W32 & 0xFFFF_FFFF),
    (0x003, 1, true, MMIO_W8 & 0xFF),
    (0x100, 8, false, MMIO_R64),
    (0x104, 4, false, MMIO_R32),
];
/// X23 of the 64-bit MMIO write.
const MMIO_W64: u64 = 0x0000_0123_4567_89AB;
/// X24 of the 32-bit MMIO write: a secret in the half the access does not write.
const MMIO_W32: u64 = ((TAG_HI as u64) << 32) | 0x1357_9BDF;
/// X25 of the 8-bit MMIO write: a secret in the bytes the access does not write.
const MMIO_W8: u64 = (secret(25) & !0xFF) | 0x5A;
/// What the Host answers to the 64-bit read (into X21).
const MMIO_R64: u64 = 0x0000_7654_3210_FEDC;
/// What the Host answers to the 32-bit read (into W20: X20 must become 0x8765_4321).
const MMIO_R32: u64 = 0xFFFF_FFFF_8765_4321;
/// The offset of the ISV = 0 access (an LDP) in the MMIO page.
pub const LDP_OFFSET: u64 = 0x40;
/// The payload's spins give up after this many iterations (bit 26: a few seconds under QEMU).
const SPIN_LIMIT: u64 = 1 << 26;

/// Shared-page words: the Host's release value, and the Realm's spin counter.
pub mod shared {
    /// The Host writes [`RELEASE_SPIN`] or [`RELEASE_IRQ`] here.
    pub const RELEASE: u64 = 0;
    /// The Realm's spin loop stores its iteration count here.
    pub const COUNTER: u64 = 8;
    /// Releases the first spin.
    pub const RELEASE_SPIN: u64 = 1;
    /// Releases the second spin (after the IRQ exit).
    pub const RELEASE_IRQ: u64 = 2;
}

/// Offsets of the result words in the table page (for the docs and the Host's debugging).
mod t {
    pub const GPR: u64 = 0x000;
    pub const FP: u64 = 0x100;
    pub const SYS: u64 = 0x300;
    pub const FAILS: u64 = 0x380;
    pub const FIRST: u64 = 0x388;
    pub const PHASES: u64 = 0x390;
    pub const CLASS: u64 = 0x398;
    pub const LAST_ESR: u64 = 0x3A0;
    pub const LAST_FAR: u64 = 0x3A8;
    pub const EXC: u64 = 0x3B0;
    pub const EXC_EXPECTED: u64 = 0x3B8;
    pub const SPIN1: u64 = 0x3C0;
    pub const SPIN2: u64 = 0x3C8;
    pub const RET: u64 = 0x3D0;
    pub const CUR: u64 = 0x3D8;
    pub const FPDUMP: u64 = 0x400;
    pub const STACK_TOP: u64 = 0x800;
    pub const SAVE: u64 = 0x800;
    pub const SECRETS: u64 = 0x900;
    /// REC 1's exception stack top.
    pub const STACK1_TOP: u64 = 0x700;
}

/// All of X0–X30.
const ALL_GPRS: u64 = 0x7FFF_FFFF;
/// Check flags: SP_EL0, system registers, Q registers, exception count.
const FLAGS_ALL: u64 = 0b1111;

core::arch::global_asm!(
    r#"
    .arch_extension fp
    .arch_extension simd

    // A 64-bit constant without a literal pool.
    .macro MOV64 reg, imm
    movz \reg, #((\imm) & 0xFFFF)
    movk \reg, #(((\imm) >> 16) & 0xFFFF), lsl #16
    movk \reg, #(((\imm) >> 32) & 0xFFFF), lsl #32
    movk \reg, #(((\imm) >> 48) & 0xFFFF), lsl #48
    .endm

    // reg = the address of the payload's byte `off` (< 16 MiB), position independent.
    .macro ADDR reg, off
    adr \reg, payload_base
    .if (\off) & ~0xFFF
    add \reg, \reg, #((\off) & ~0xFFF)
    .endif
    .if (\off) & 0xFFF
    add \reg, \reg, #((\off) & 0xFFF)
    .endif
    .endm

    // `op` (ldp or stp) of X0-X29, X<i> at [base, #(8 * i)].
    .macro GPR_PAIRS op, base
    \op x0, x1, [\base, #0]
    \op x2, x3, [\base, #16]
    \op x4, x5, [\base, #32]
    \op x6, x7, [\base, #48]
    \op x8, x9, [\base, #64]
    \op x10, x11, [\base, #80]
    \op x12, x13, [\base, #96]
    \op x14, x15, [\base, #112]
    \op x16, x17, [\base, #128]
    \op x18, x19, [\base, #144]
    \op x20, x21, [\base, #160]
    \op x22, x23, [\base, #176]
    \op x24, x25, [\base, #192]
    \op x26, x27, [\base, #208]
    \op x28, x29, [\base, #224]
    .endm

    // `op` (ldp or stp) of Q0-Q31, Q<i> at [base, #(16 * i)].
    .macro Q_PAIRS op, base
    \op q0, q1, [\base, #0]
    \op q2, q3, [\base, #32]
    \op q4, q5, [\base, #64]
    \op q6, q7, [\base, #96]
    \op q8, q9, [\base, #128]
    \op q10, q11, [\base, #160]
    \op q12, q13, [\base, #192]
    \op q14, q15, [\base, #224]
    \op q16, q17, [\base, #256]
    \op q18, q19, [\base, #288]
    \op q20, q21, [\base, #320]
    \op q22, q23, [\base, #352]
    \op q24, q25, [\base, #384]
    \op q26, q27, [\base, #416]
    \op q28, q29, [\base, #448]
    \op q30, q31, [\base, #480]
    .endm

    // Macro `m` of each EL1/EL0 system register that holds a secret for the whole run, with its
    // index k (secret 0x20 + k, read-back at t_sys + 8 * k).
    .macro EL1_REGS m
    \m tpidr_el1, 0
    \m tpidr_el0, 1
    \m tpidrro_el0, 2
    \m contextidr_el1, 3
    \m par_el1, 4
    \m mair_el1, 5
    \m amair_el1, 6
    \m ttbr0_el1, 7
    \m ttbr1_el1, 8
    \m afsr0_el1, 9
    \m afsr1_el1, 10
    .endm

    // X0-X30 = the secret GPR words (X30 last: it is the base).
    .macro LOAD_SECRETS
    ADDR x30, {tab}
    GPR_PAIRS ldp, x30
    ldr x30, [x30, #240]
    .endm

    // X0-X30 into the save area (SP_EL1 points at it).
    .macro SAVE_ALL
    GPR_PAIRS stp, sp
    str x30, [sp, #240]
    .endm

    // SMC `fid` with a secret in every other register (X1 = the payload's address `buf`, if given).
    .macro SECRET_SMC fid, buf
    LOAD_SECRETS
    .ifnb \buf
    ADDR x1, \buf
    .endif
    MOV64 x0, \fid
    smc #0
    .endm

    // x9 = the table page.
    .macro TABLE
    ADDR x9, {tab}
    .endm

    // The current phase (for check ids and the completed-phases mask).
    .macro PHASE n
    TABLE
    mov x10, #\n
    str x10, [x9, #{t_cur}]
    .endm

    // One more exception is expected (the next instruction faults on purpose).
    .macro EXPECT_EXCEPTION
    TABLE
    ldr x10, [x9, #{t_exc_expected}]
    add x10, x10, #1
    str x10, [x9, #{t_exc_expected}]
    .endm

    // Unless `got` == `want`: failure `item` (an immediate or a register) with the value `got`.
    // Clobbers x3-x8.
    .macro FAIL_UNLESS_EQ got, want, item
    cmp \got, \want
    b.eq 9f
    mov x4, \got
    mov x3, \item
    bl payload_fail
9:
    .endm

    // The saved X<reg> must be `imm`, else failure `item`.
    .macro EXPECT_SAVED reg, imm, item
    ldr x3, [sp, #(\reg * 8)]
    MOV64 x4, \imm
    FAIL_UNLESS_EQ x3, x4, #\item
    .endm

    // The saved X<reg> must equal x10, else failure `item`.
    .macro EXPECT_SAVED_X10 reg, item
    ldr x3, [sp, #(\reg * 8)]
    FAIL_UNLESS_EQ x3, x10, #\item
    .endm

    // The last exception's ESR_EL1 must have class `ec` and status `fsc`, else failure `item`.
    .macro EXPECT_ESR ec, fsc, item
    TABLE
    ldr x3, [x9, #{t_last_esr}]
    MOV64 x4, 0xFC00003F
    and x3, x3, x4
    MOV64 x4, ((\ec << 26) | \fsc)
    cmp x3, x4
    b.eq 9f
    ldr x4, [x9, #{t_last_esr}]
    mov x3, #\item
    bl payload_fail
9:
    .endm

    // The last exception's FAR_EL1 must equal x10, else failure `item`.
    .macro EXPECT_FAR_X10 item
    TABLE
    ldr x3, [x9, #{t_last_far}]
    FAIL_UNLESS_EQ x3, x10, #\item
    .endm

    // Register checks: X<i> for every bit i of `mask`, plus SP_EL0, system registers, Q0-Q31 and
    // the exception count; then the phase is complete.
    .macro CHECK mask
    MOV64 x0, \mask
    mov x1, #{flags_all}
    bl payload_check
    .endm

    // System register `k`: a secret, its read-back kept for the checks.
    .macro SETSYS reg, k
    add x14, x12, #(0x20 + \k)
    msr \reg, x14
    isb
    mrs x14, \reg
    str x14, [x10, #({t_sys} + 8 * \k)]
    .endm

    // System register `k` must still read back as it did.
    .macro CHKSYS reg, k
    mrs x13, \reg
    ldr x14, [x9, #({t_sys} + 8 * \k)]
    FAIL_UNLESS_EQ x13, x14, #(0x20 + \k)
    .endm

    // Macro `fn` (x0 = start, x1 = end) on each region that holds RAM secrets from the start: the
    // host-call page above its buffers, the table page above its working words, the RAM pages.
    .macro RAM_REGIONS fn
    ADDR x0, {hc}
    add x1, x0, #0x1000
    add x0, x0, #0x200
    bl \fn
    ADDR x0, {tab}
    add x1, x0, #0x1000
    add x0, x0, #{t_secrets}
    bl \fn
    ADDR x0, 0
    add x1, x0, #{unassigned}
    add x0, x0, #{ram}
    bl \fn
    .endm

    // Macro `fn` (x0 = start, x1 = end) on the page the Host adds on demand.
    .macro ON_DEMAND_PAGE fn
    ADDR x0, {unassigned}
    add x1, x0, #0x1000
    bl \fn
    .endm

    // Phase `n`: a checkpoint host call (payload_hostcall).
    .macro HOSTCALL_PHASE n
    PHASE \n
    mov x0, #\n
    bl payload_hostcall
    .endm

    // Phase `n`: the emulated MMIO access `insn` through X22 = the MMIO page, a secret in every
    // other register; then X<rt> must hold `value` (for a write, put there before the access).
    .macro MMIO_PHASE n, write, rt, value, insn:vararg
    PHASE \n
    LOAD_SECRETS
    MOV64 x22, {mmio_ipa}
    .if \write
    MOV64 x\rt, \value
    .endif
    \insn
    SAVE_ALL
    EXPECT_SAVED 22, {mmio_ipa}, 0xA0
    EXPECT_SAVED \rt, \value, 0xA1
    CHECK ({all_gprs} & ~((1 << 22) | (1 << \rt)))
    .endm

    // Phase `n`: a checkpoint host call, then a spin on the shared page (X20; X19 counts, X21 reads
    // the release word) with secrets in the other registers, until the Host writes `release` (or
    // the spin limit); the count goes to table word `slot`.
    .macro SPIN_PHASE n, release, slot
    HOSTCALL_PHASE \n
    LOAD_SECRETS
    MOV64 x20, {shared_ipa}
    mov x19, #0
1:  add x19, x19, #1
    str x19, [x20, #{shared_counter}]
    ldr x21, [x20, #{shared_release}]
    cmp x21, #\release
    b.eq 2f
    tst x19, #{spin_limit}
    b.eq 1b
2:  SAVE_ALL
    TABLE
    ldr x3, [sp, #(19 * 8)]
    str x3, [x9, #\slot]
    EXPECT_SAVED 21, \release, 0xA2
    EXPECT_SAVED 20, {shared_ipa}, 0xA3
    CHECK ({all_gprs} & ~(7 << 19))
    .endm

    // Phase `n`: a load through X19 = `ipa` (set by `how`: ADDR for a payload offset, MOV64 for
    // an IPA) takes an SEA, no exit: ESR_EL1 a data abort, FAR_EL1 = the address, X26 unchanged.
    .macro SEA_LOAD_PHASE n, how, ipa
    PHASE \n
    EXPECT_EXCEPTION
    LOAD_SECRETS
    \how x19, \ipa
    ldr x26, [x19]
    SAVE_ALL
    EXPECT_ESR 0x25, 0x10, 0xA0
    \how x10, \ipa
    EXPECT_FAR_X10 0xA1
    CHECK ({all_gprs} & ~(1 << 19))
    .endm

    // Phase `n`: an instruction fetch from X19 = `ipa` (set by `how`, as above) takes an SEA (an
    // instruction abort, which returns to X30), no exit.
    .macro SEA_FETCH_PHASE n, how, ipa
    PHASE \n
    EXPECT_EXCEPTION
    LOAD_SECRETS
    \how x19, \ipa
    blr x19
    SAVE_ALL
    EXPECT_ESR 0x21, 0x10, 0xA0
    CHECK ({all_gprs} & ~((1 << 19) | (1 << 30)))
    .endm

    .section .text.realm_payload, "ax"
    .balign 4096
    .global realm_payload_start
realm_payload_start:
payload_base:
    b payload_init

// Records failure `x3` (item; the phase comes from the table) with the value seen `x4`.
// Clobbers x3-x8.
payload_fail:
    ADDR x5, {tab}
    ldr x6, [x5, #{t_fails}]
    add x6, x6, #1
    str x6, [x5, #{t_fails}]
    ldr x6, [x5, #{t_first}]
    cbnz x6, 1f
    ldr x6, [x5, #{t_cur}]
    orr x3, x3, x6, lsl #8
    str x3, [x5, #{t_first}]
    mov x6, #3
    cbnz x4, 2f
    mov x6, #2
2:  lsr x7, x4, #32
    MOV64 x8, {garbage_hi}
    cmp x7, x8
    b.ne 3f
    mov x6, #1
3:  str x6, [x5, #{t_class}]
1:  ret

// The checks after a phase (x0 = GPR mask, x1 = flags). Clobbers x0-x15.
payload_check:
    mov x15, x30
    TABLE
    add x10, x9, #{t_save}
    mov x11, #0
1:  lsr x12, x0, x11
    tbz x12, #0, 2f
    ldr x13, [x10, x11, lsl #3]
    ldr x14, [x9, x11, lsl #3]
    FAIL_UNLESS_EQ x13, x14, x11
2:  add x11, x11, #1
    cmp x11, #31
    b.lo 1b
    tbz x1, #0, 3f
    mrs x13, sp_el0
    ldr x14, [x9, #(31 * 8)]
    FAIL_UNLESS_EQ x13, x14, #0x1F
3:  tbz x1, #1, 4f
    EL1_REGS CHKSYS
4:  tbz x1, #2, 6f
    add x10, x9, #{t_fpdump}
    Q_PAIRS stp, x10
    add x12, x9, #{t_fp}
    mov x11, #0
5:  ldr x13, [x10, x11, lsl #3]
    ldr x14, [x12, x11, lsl #3]
    cmp x13, x14
    b.eq 7f
    add x3, x11, #0x40
    mov x4, x13
    bl payload_fail
7:  add x11, x11, #1
    cmp x11, #64
    b.lo 5b
6:  tbz x1, #3, 8f
    ldr x13, [x9, #{t_exc}]
    ldr x14, [x9, #{t_exc_expected}]
    FAIL_UNLESS_EQ x13, x14, #0xFE
8:  ldr x13, [x9, #{t_cur}]
    mov x14, #1
    lsl x14, x14, x13
    ldr x13, [x9, #{t_phases}]
    orr x13, x13, x14
    str x13, [x9, #{t_phases}]
    mov x30, x15
    ret

// Writes host-call buffer x2: imm x0, gprs[i] = checkpoint(x1, i). Clobbers x3-x6.
payload_hc_prepare:
    str x0, [x2]
    MOV64 x3, {checkpoint_base}
    orr x3, x3, x1, lsl #8
    mov x4, #0
    add x5, x2, #8
1:  orr x6, x3, x4
    str x6, [x5, x4, lsl #3]
    add x4, x4, #1
    cmp x4, #31
    b.lo 1b
    ret

// Fills [x0, x1) with the RAM secret words.
payload_fill:
    MOV64 x2, ({secret_base} | 0x80)
1:  ubfx x3, x0, #3, #7
    orr x3, x2, x3
    str x3, [x0], #8
    cmp x0, x1
    b.lo 1b
    ret

// Checks [x0, x1) still holds the RAM secret words (failure item 0xE0, once).
payload_check_ram:
    mov x15, x30
    MOV64 x9, ({secret_base} | 0x80)
1:  ubfx x10, x0, #3, #7
    orr x10, x9, x10
    ldr x11, [x0], #8
    cmp x11, x10
    b.ne 2f
    cmp x0, x1
    b.lo 1b
    b 3f
2:  mov x3, #0xE0
    mov x4, x11
    bl payload_fail
3:  mov x30, x15
    ret

// Every RAM region that holds secret words since the start.
payload_check_all_ram:
    mov x16, x30
    RAM_REGIONS payload_check_ram
    mov x30, x16
    ret

// A checkpoint host call of phase x0 with secrets in X2-X30; then the checks: X0 = RSI_SUCCESS,
// X1 = the buffer, the rest unchanged, the buffer holds the Host's answer.
payload_hostcall:
    TABLE
    str x30, [x9, #{t_ret}]
    mov x1, x0
    mov x0, #{imm_checkpoint}
    orr x0, x0, x1
    ADDR x2, {hc}
    bl payload_hc_prepare
    SECRET_SMC {rsi_host_call}, {hc}
    SAVE_ALL
    EXPECT_SAVED 0, 0, 0xA0
    ADDR x10, {hc}
    EXPECT_SAVED_X10 1, 0xA1
    CHECK ({all_gprs} & ~3)
    // The Host's answer, in the buffer only.
    TABLE
    ldr x1, [x9, #{t_cur}]
    MOV64 x10, {answer_base}
    orr x10, x10, x1, lsl #8
    ADDR x12, ({hc} + 8)
    mov x11, #0
1:  ldr x13, [x12, x11, lsl #3]
    orr x14, x10, x11
    cmp x13, x14
    b.eq 2f
    add x3, x11, #0xC0
    mov x4, x13
    bl payload_fail
2:  add x11, x11, #1
    cmp x11, #31
    b.lo 1b
    TABLE
    ldr x30, [x9, #{t_ret}]
    ret

// An exception the payload does not expect: report it, then SYSTEM_OFF.
payload_unexpected:
    mrs x1, esr_el1
    mrs x2, elr_el1
    ADDR x4, {hc}
    mov x5, #{imm_unexpected}
    str x5, [x4]
    str x1, [x4, #8]
    str x2, [x4, #16]
    str x0, [x4, #24]
    mov x1, x4
    MOV64 x0, {rsi_host_call}
    smc #0
    MOV64 x0, {psci_system_off}
    smc #0
    b .

// Synchronous exceptions at EL1 (SP_EL1): recorded and counted; an instruction abort returns to
// the caller (X30, the fetch came from a BLR), anything else skips the instruction.
payload_sync:
    stp x0, x1, [sp, #-16]!
    stp x2, x3, [sp, #-16]!
    ADDR x1, {tab}
    mrs x0, esr_el1
    str x0, [x1, #{t_last_esr}]
    mrs x2, far_el1
    str x2, [x1, #{t_last_far}]
    ldr x2, [x1, #{t_exc}]
    add x2, x2, #1
    str x2, [x1, #{t_exc}]
    lsr x2, x0, #26
    cmp x2, #0x21
    b.eq 1f
    mrs x2, elr_el1
    add x2, x2, #4
    msr elr_el1, x2
    b 2f
1:  msr elr_el1, x30
2:  ldp x2, x3, [sp], #16
    ldp x0, x1, [sp], #16
    eret

// REC 1 (PSCI CPU_ON from REC 0, x0 = context id): reports whether the context id arrived, then
// CPU_OFF, with secrets in every other register.
payload_rec1:
    adr x9, payload_vectors
    msr vbar_el1, x9
    ADDR x9, ({tab} + {t_stack1_top})
    mov sp, x9
    isb
    MOV64 x1, {context_id}
    cmp x0, x1
    cset x7, eq
    mov x0, #{imm_rec1}
    mov x1, #0x40
    ADDR x2, ({hc} + 0x100)
    bl payload_hc_prepare
    // gprs[0]: whether the context id arrived.
    str x7, [x2, #8]
    SECRET_SMC {rsi_host_call}, ({hc} + 0x100)
    SECRET_SMC {psci_cpu_off}
    b .

    .balign 2048
payload_vectors:
    .irp kind, 0, 1, 2, 3
    .balign 128
    mov x0, #\kind
    b payload_unexpected
    .endr
    .balign 128
    b payload_sync
    .irp kind, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
    .balign 128
    mov x0, #\kind
    b payload_unexpected
    .endr

payload_init:
    TABLE
    add x10, x9, #{t_stack_top}
    mov sp, x10
    adr x10, payload_vectors
    msr vbar_el1, x10
    mov x10, #(3 << 20)
    msr cpacr_el1, x10
    isb
    mov x10, x9
    // The secret GPR and SP_EL0 words, then the Q words.
    MOV64 x12, {secret_base}
    mov x13, #0
1:  orr x14, x12, x13
    str x14, [x10, x13, lsl #3]
    add x13, x13, #1
    cmp x13, #32
    b.lo 1b
    add x15, x10, #{t_fp}
    mov x13, #0
2:  add x14, x13, #0x40
    orr x14, x12, x14
    str x14, [x15, x13, lsl #3]
    add x13, x13, #1
    cmp x13, #64
    b.lo 2b
    // System registers (and their read-backs).
    EL1_REGS SETSYS
    SETSYS far_el1, 11
    SETSYS esr_el1, 12
    SETSYS elr_el1, 13
    SETSYS spsr_el1, 14
    ldr x14, [x10, #(31 * 8)]
    msr sp_el0, x14
    add x15, x10, #{t_fp}
    Q_PAIRS ldp, x15
    // The RAM secrets.
    RAM_REGIONS payload_fill

    // 0x01: a host call.
    HOSTCALL_PHASE 0x01

    // 0x02: MMIO write, 64 bits.
    MMIO_PHASE 0x02, 1, 23, {mmio_w64}, str x23, [x22, #0x7F8]
    // 0x03: MMIO write, 32 bits, a secret in the upper half of the register.
    MMIO_PHASE 0x03, 1, 24, {mmio_w32}, str w24, [x22, #0x10]
    // 0x04: MMIO write, 8 bits, secrets in the other bytes.
    MMIO_PHASE 0x04, 1, 25, {mmio_w8}, strb w25, [x22, #0x3]
    // 0x05: MMIO read, 64 bits: only X21 may change, to the Host's value.
    MMIO_PHASE 0x05, 0, 21, {mmio_r64}, ldr x21, [x22, #0x100]
    // 0x06: MMIO read, 32 bits into W20 (zero-extended).
    MMIO_PHASE 0x06, 0, 20, ({mmio_r32} & 0xFFFFFFFF), ldr w20, [x22, #0x104]

    // 0x07: WFI (the Host traps it) with a secret in every register.
    PHASE 0x07
    LOAD_SECRETS
    wfi
    SAVE_ALL
    CHECK {all_gprs}

    // 0x08: RSI_IPA_STATE_SET RAM -> RAM on the first RAM page: a RIPAS_CHANGE exit.
    PHASE 0x08
    LOAD_SECRETS
    MOV64 x0, {rsi_ipa_state_set}
    ADDR x1, {ram}
    add x2, x1, #0x1000
    mov x3, #1
    mov x4, #0
    smc #0
    SAVE_ALL
    EXPECT_SAVED 0, 0, 0xA0
    ADDR x10, ({ram} + 0x1000)
    EXPECT_SAVED_X10 1, 0xA1
    EXPECT_SAVED 2, 0, 0xA2
    CHECK ({all_gprs} & ~0x1F)

    // 0x09: PSCI CPU_ON of REC 1 with a secret context id.
    PHASE 0x09
    LOAD_SECRETS
    MOV64 x0, {psci_cpu_on}
    mov x1, #1
    adr x2, payload_rec1
    MOV64 x3, {context_id}
    smc #0
    SAVE_ALL
    EXPECT_SAVED 0, 0, 0xA0
    CHECK ({all_gprs} & ~0x7F)

    // 0x10: a host call, then a spin on the shared page (the Host probes the Realm's granules
    // meanwhile, then releases it), then the RAM must be unchanged.
    SPIN_PHASE 0x10, {release_spin}, {t_spin1}
    bl payload_check_all_ram

    // 0x11: a host call (the Host arms its timer), then a spin the IRQ exit ends.
    SPIN_PHASE 0x11, {release_irq}, {t_spin2}

    // 0x12: a host call after the spins.
    HOSTCALL_PHASE 0x12

    // 0x13: an unprotected load with ISV = 0 (LDP): a non-emulatable exit; the Host answers with
    // an SEA, which skips the load (X26 and X27 keep their secrets).
    PHASE 0x13
    EXPECT_EXCEPTION
    LOAD_SECRETS
    MOV64 x22, {mmio_ipa}
    ldp x26, x27, [x22, #{ldp_offset}]
    SAVE_ALL
    EXPECT_SAVED 22, {mmio_ipa}, 0xA0
    EXPECT_ESR 0x25, 0x10, 0xA1
    MOV64 x10, ({mmio_ipa} + {ldp_offset})
    EXPECT_FAR_X10 0xA2
    CHECK ({all_gprs} & ~(1 << 22))

    // 0x14: a store to the RIPAS RAM page without a DATA granule: the Host adds one.
    PHASE 0x14
    LOAD_SECRETS
    ADDR x19, {unassigned}
    str x28, [x19]
    SAVE_ALL
    ADDR x10, {unassigned}
    EXPECT_SAVED_X10 19, 0xA0
    ldr x3, [x10]
    ldr x4, [sp, #(28 * 8)]
    FAIL_UNLESS_EQ x3, x4, #0xA1
    CHECK ({all_gprs} & ~(1 << 19))
    ON_DEMAND_PAGE payload_fill

    // 0x15: a load from EMPTY memory: an SEA, no exit.
    SEA_LOAD_PHASE 0x15, ADDR, {empty}
    // 0x16: a load beyond the IPA space: an SEA, no exit.
    SEA_LOAD_PHASE 0x16, MOV64, {beyond_ipa}
    // 0x17: an instruction fetch from EMPTY memory: an SEA (instruction abort), no exit.
    SEA_FETCH_PHASE 0x17, ADDR, {empty}
    // 0x18: an instruction fetch from an unprotected IPA: an SEA, no exit.
    SEA_FETCH_PHASE 0x18, MOV64, {mmio_ipa}

    // 0x19: HVC: an Undefined Instruction, no exit.
    PHASE 0x19
    EXPECT_EXCEPTION
    LOAD_SECRETS
    hvc #0
    SAVE_ALL
    EXPECT_ESR 0x00, 0x00, 0xA0
    CHECK {all_gprs}

    // 0x1A: an SMC nobody implements: X0 = SMC_UNKNOWN; then every RAM secret must be intact.
    PHASE 0x1A
    SECRET_SMC 0xC2000000
    SAVE_ALL
    EXPECT_SAVED 0, 0xFFFFFFFFFFFFFFFF, 0xA0
    CHECK ({all_gprs} & ~0xF)
    bl payload_check_all_ram
    ON_DEMAND_PAGE payload_check_ram

    // The report, then SYSTEM_OFF with secrets in X1-X30.
    PHASE 0x1F
    TABLE
    ADDR x2, {hc}
    mov x3, #{imm_report}
    str x3, [x2]
    // gprs[0..7]: these table words, in order.
    .set .Lreport_at, 8
    .irp word, {t_fails}, {t_first}, {t_phases}, {t_class}, {t_exc}, {t_spin1}, {t_spin2}
    ldr x3, [x9, #\word]
    str x3, [x2, #.Lreport_at]
    .set .Lreport_at, .Lreport_at + 8
    .endr
    // Self-test: every GPR/SP_EL0 word and Q word of the table is a secret word (so the register
    // checks compared against secrets, and the Host's scans looked for what was there).
    mov x4, #1
    MOV64 x5, {secret_base}
    mov x6, #0
4:  ldr x7, [x9, x6, lsl #3]
    and x8, x7, #0xFFFFFFFFFFFFFF00
    cmp x8, x5
    csel x4, x4, xzr, eq
    add x6, x6, #1
    cmp x6, #96
    b.lo 4b
    str x4, [x2, #64]
    add x2, x2, #72
    mov x4, #8
3:  str xzr, [x2], #8
    add x4, x4, #1
    cmp x4, #31
    b.lo 3b
    SECRET_SMC {rsi_host_call}, {hc}
    SECRET_SMC {psci_system_off}
    b payload_unexpected

    // Padded to its code pages; if the code outgrows them, the assembler stops here ("attempt to
    // move .org backwards").
    .org realm_payload_start + {code_pages} * 4096
    .global realm_payload_end
realm_payload_end:
    .text
    "#,
    tab = const TAB,
    hc = const HC,
    ram = const RAM,
    unassigned = const UNASSIGNED,
    empty = const EMPTY,
    code_pages = const CODE_PAGES,
    t_sys = const t::SYS,
    t_fp = const t::FP,
    t_fails = const t::FAILS,
    t_first = const t::FIRST,
    t_phases = const t::PHASES,
    t_class = const t::CLASS,
    t_last_esr = const t::LAST_ESR,
    t_last_far = const t::LAST_FAR,
    t_exc = const t::EXC,
    t_exc_expected = const t::EXC_EXPECTED,
    t_spin1 = const t::SPIN1,
    t_spin2 = const t::SPIN2,
    t_ret = const t::RET,
    t_cur = const t::CUR,
    t_fpdump = const t::FPDUMP,
    t_stack_top = const t::STACK_TOP,
    t_stack1_top = const t::STACK1_TOP,
    t_save = const t::SAVE,
    t_secrets = const t::SECRETS,
    secret_base = const SECRET_BASE,
    garbage_hi = const GARBAGE_HI,
    checkpoint_base = const CHECKPOINT_BASE,
    answer_base = const ANSWER_BASE,
    context_id = const CONTEXT_ID,
    all_gprs = const ALL_GPRS,
    flags_all = const FLAGS_ALL,
    imm_checkpoint = const imm::CHECKPOINT,
    imm_rec1 = const imm::REC1,
    imm_report = const imm::REPORT,
    imm_unexpected = const imm::UNEXPECTED,
    mmio_ipa = const MMIO_IPA,
    shared_ipa = const SHARED_IPA,
    beyond_ipa = const BEYOND_IPA,
    mmio_w64 = const MMIO_W64,
    mmio_w32 = const MMIO_W32,
    mmio_w8 = const MMIO_W8,
    mmio_r64 = const MMIO_R64,
    mmio_r32 = const MMIO_R32,
    ldp_offset = const LDP_OFFSET,
    spin_limit = const SPIN_LIMIT,
    shared_counter = const shared::COUNTER,
    shared_release = const shared::RELEASE,
    release_spin = const shared::RELEASE_SPIN,
    release_irq = const shared::RELEASE_IRQ,
    rsi_host_call = const rsi::HOST_CALL,
    rsi_ipa_state_set = const rsi::IPA_STATE_SET,
    psci_cpu_on = const psci::CPU_ON_64,
    psci_cpu_off = const psci::CPU_OFF,
    psci_system_off = const psci::SYSTEM_OFF,
);

unsafe extern "C" {
    /// The first byte of the payload (its entry point, at [`BASE_IPA`] in the Realm).
    pub static realm_payload_start: [u8; 0];
    /// The byte after the payload.
    pub static realm_payload_end: [u8; 0];
}

/// The payload's bytes: where the driver image holds them, and how many (exactly [`CODE_PAGES`]
/// granules: the assembly pads it, and refuses to assemble a bigger payload).
pub fn image() -> (u64, u64) {
    // Only the addresses of the two symbols are taken; nothing is read through them.
    let start = (&raw const realm_payload_start) as u64;
    let end = (&raw const realm_payload_end) as u64;
    (start, end - start)
}

/// The payload's `t::GPR` offset is 0: the secret of GPR `i` is word `i` of the table page.
const _: () = assert!(t::GPR == 0 && t::SAVE == t::STACK_TOP && 31 * 8 < t::FP);
