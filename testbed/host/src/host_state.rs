//! The Host's own register state across Realm runs — what Warden must hand back untouched because
//! EL3 does not switch it between worlds.
//!
//! **SVE**: before a Realm runs, the driver fills Z0–Z31, P0–P15
//! and FFR with a pattern at a 512-bit vector length; afterwards it checks every bit came back.
//! A Realm's first FP/SIMD instruction makes Warden load the Realm's FP registers, which clears the
//! Z registers above bit 127 — Warden must have saved (and restore) the Host's whole SVE state,
//! since the Host's SMCs do not set the SMCCC "no live SVE state" hint.
//!
//!
//! **Self-hosted debug**: the driver writes its breakpoint 0 and watchpoint 0 value registers
//! ([`debug_fill`]); bench-guest writes its own breakpoint 0 / watchpoint 0 (Warden loads a
//! Realm's debug registers on its first access and must put the Host's back when it leaves).
//!
//! Owns only this CPU's SVE registers, `ZCR_EL2` and breakpoint/watchpoint 0 (disabled: their
//! control registers stay 0); SVE is never used on a CPU without it (the caller asks [`present`]
//! first). The driver is softfloat: the compiler never touches these registers,
//! so the pattern survives the driver's own code between [`fill`] and [`check`].

/// `ZCR_EL2.LEN` the check runs at: 512-bit vectors (Warden's save must cover more than Q0–Q31).
const LEN: u64 = 3;
/// Vector length in bytes at [`LEN`].
const VL: usize = (LEN as usize + 1) * 16;
/// Bytes `host_sve_store` writes: 32 Z registers, then 16 P registers and FFR (VL/8 bytes each).
const STATE_BYTES: usize = 32 * VL + 17 * (VL / 8);

/// Whether this CPU implements SVE (ID_AA64PFR0_EL1.SVE).
pub fn present() -> bool {
    let pfr0: u64;
    // SAFETY: reads an ID register.
    unsafe { core::arch::asm!("mrs {}, id_aa64pfr0_el1", out(reg) pfr0, options(nomem, nostack)) };
    (pfr0 >> 32) & 0xF != 0
}

/// Sets the vector length and fills every SVE register from `seed` (see [`expected`]).
pub fn fill(seed: u64) {
    // SAFETY: ZCR_EL2 only sets this CPU's SVE vector length; EL3 leaves SVE untrapped for NS-EL2
    // (CPTR_EL3.EZ, CPTR_EL2.TZ = 0). The fill routine writes only SVE registers.
    unsafe {
        core::arch::asm!("msr S3_4_C1_C2_0, {}", "isb", in(reg) LEN, options(nostack));
        host_sve_fill(seed);
    }
}

/// Compares the SVE registers with what [`fill`] put there: the number of differing bytes.
pub fn check(seed: u64) -> usize {
    let mut now = [0u8; STATE_BYTES];
    // SAFETY: stores exactly STATE_BYTES at the VL `fill` set (checked by the caller's order).
    unsafe { host_sve_store(now.as_mut_ptr()) };
    let want = expected(seed);
    now.iter().zip(want.iter()).filter(|(a, b)| a != b).count()
}

/// The register image [`fill`] produces: Z<n> is the 64-bit value `seed ^ n * 0x0101…` in every
/// lane; P<n> has its predicate bit set for byte lanes whose index is a multiple of `n % 4 + 1`
/// (`ptrue` with patterns … see the assembly); FFR all true.
fn expected(seed: u64) -> [u8; STATE_BYTES] {
    let mut img = [0u8; STATE_BYTES];
    for n in 0..32usize {
        let v = (seed ^ (n as u64).wrapping_mul(0x0101_0101_0101_0101)).to_le_bytes();
        for lane in 0..VL / 8 {
            img[n * VL + lane * 8..][..8].copy_from_slice(&v);
        }
    }
    let p = 32 * VL;
    for n in 0..16usize {
        // ptrue p<n>.<T>: element size 1, 2, 4, 8 bytes → every 1st/2nd/4th/8th predicate bit.
        let step = 1usize << (n % 4);
        for bit in (0..VL).step_by(step) {
            img[p + n * (VL / 8) + bit / 8] |= 1 << (bit % 8);
        }
    }
    img[p + 16 * (VL / 8)..][..VL / 8].fill(0xFF);
    img
}

/// DBGBVR0_EL1 and DBGWVR0_EL1 values the Host keeps during `realm`.
const DEBUG_VALUES: [u64; 2] = [0x0000_0000_6000_1000, 0x0000_0000_6000_2000];

/// Writes the Host's breakpoint 0 and watchpoint 0 value registers.
pub fn debug_fill() {
    // SAFETY: value registers of a disabled breakpoint/watchpoint (DBGBCR0/DBGWCR0 are 0);
    // EL3 leaves debug registers untrapped (MDCR_EL3.TDA = 0).
    unsafe {
        core::arch::asm!("msr S2_0_C0_C0_4, {b}", "msr S2_0_C0_C0_6, {w}", "isb",
            b = in(reg) DEBUG_VALUES[0], w = in(reg) DEBUG_VALUES[1], options(nostack))
    };
}

/// The Host's breakpoint 0 and watchpoint 0 values now, and whether they are what
/// [`debug_fill`] wrote.
pub fn debug_check() -> ([u64; 2], bool) {
    let (b, w): (u64, u64);
    // SAFETY: reads two debug registers.
    unsafe {
        core::arch::asm!("mrs {b}, S2_0_C0_C0_4", "mrs {w}, S2_0_C0_C0_6", b = out(reg) b,
            w = out(reg) w, options(nomem, nostack))
    };
    ([b, w], [b, w] == DEBUG_VALUES)
}

unsafe extern "C" {
    /// Fills Z0–Z31, P0–P15, FFR (x0 = seed), as [`expected`] describes.
    fn host_sve_fill(seed: u64);
    /// Stores Z0–Z31, P0–P15, FFR at x0 (`STATE_BYTES` at the current VL).
    fn host_sve_store(buf: *mut u8);
}

core::arch::global_asm!(
    r#"
    .arch_extension sve
    .text
    .global host_sve_fill
    .balign 16
host_sve_fill:
    mov x1, #0x0101010101010101
    mov x2, #0
    .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    eor x3, x0, x2
    mov z\n\().d, x3
    add x2, x2, x1
    .endr
    .irp n, 0,4,8,12
    ptrue p\n\().b
    .endr
    .irp n, 1,5,9,13
    ptrue p\n\().h
    .endr
    .irp n, 2,6,10,14
    ptrue p\n\().s
    .endr
    .irp n, 3,7,11,15
    ptrue p\n\().d
    .endr
    setffr
    ret

    .global host_sve_store
    .balign 16
host_sve_store:
    .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    str z\n, [x0, #\n, mul vl]
    .endr
    addvl x0, x0, #16
    addvl x0, x0, #16
    .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
    str p\n, [x0, #\n, mul vl]
    .endr
    rdffr p0.b
    str p0, [x0, #16, mul vl]
    ptrue p0.b
    ret
    "#
);
