//! Calls to EL3 (the RMM ↔ EL3 interface as TF-A's RMMD implements it, interface 0.x).
//!
//! Every call is `SMC #0` with the FID in x0. Per SMCCC, EL3 may clobber x0–x17 and preserves
//! x18–x30 and the stack pointers; the `asm!` blocks below say exactly that, so the compiler keeps
//! nothing live in x0–x17 across a call. None is `nomem`: a world switch hands the CPU to the Host,
//! which may change memory Warden later reads (through atomics or the fault-safe copy).

use warden_abi::fid::el3;
use warden_abi::status::BootError;

/// x0–x7 of an RMI call as EL3 delivers it to Warden (x0 = FID).
pub type RmiCall = [u64; 8];

/// `SMC` with up to two arguments, returning x0 (the EL3 services Warden uses return one value).
#[inline]
pub fn call1(fid: u64, arg1: u64) -> u64 {
    let x0: u64;
    // SAFETY: an EL3 service call that only reads its register arguments; the clobber list covers
    // everything SMCCC lets EL3 change.
    unsafe {
        core::arch::asm!(
            "smc #0",
            inout("x0") fid => x0,
            inout("x1") arg1 => _,
            out("x2") _, out("x3") _, out("x4") _, out("x5") _, out("x6") _, out("x7") _,
            out("x8") _, out("x9") _, out("x10") _, out("x11") _, out("x12") _, out("x13") _,
            out("x14") _, out("x15") _, out("x16") _, out("x17") _,
            options(nostack),
        )
    };
    x0
}

/// `RMM_BOOT_COMPLETE` with `result` in x1.
///
/// On success the call returns when the Host makes its first RMI call on this CPU, with that
/// call's x0–x7. On failure EL3 disables the Realm world and never returns; should it return
/// anyway, this returns its registers and the caller parks the CPU.
#[inline(never)]
pub fn boot_complete(result: BootError) -> RmiCall {
    complete(el3::BOOT_COMPLETE, [result.to_x1(), 0, 0, 0, 0])
}

/// `RMM_RMI_REQ_COMPLETE`: hands `ret` (the RMI call's X0–X4) back to the Host through EL3 and
/// returns the next RMI call's x0–x7. This is the RMI hot path: one `SMC` with the five results
/// already in x1–x5 and the eight arguments taken straight from x0–x7.
#[inline(always)]
pub fn rmi_req_complete(ret: &[u64; 5]) -> RmiCall {
    complete(el3::RMI_REQ_COMPLETE, *ret)
}

#[inline(always)]
fn complete(fid: u64, ret: [u64; 5]) -> RmiCall {
    let (x0, x1, x2, x3, x4, x5, x6, x7): (u64, u64, u64, u64, u64, u64, u64, u64);
    // SAFETY: a world switch through EL3; EL3 restores this CPU's Realm context (x18–x30, SP,
    // EL2 system registers) before returning with the Host's next call in x0–x7.
    unsafe {
        core::arch::asm!(
            "smc #0",
            inout("x0") fid => x0,
            inout("x1") ret[0] => x1,
            inout("x2") ret[1] => x2,
            inout("x3") ret[2] => x3,
            inout("x4") ret[3] => x4,
            inout("x5") ret[4] => x5,
            out("x6") x6, out("x7") x7,
            out("x8") _, out("x9") _, out("x10") _, out("x11") _, out("x12") _, out("x13") _,
            out("x14") _, out("x15") _, out("x16") _, out("x17") _,
            options(nostack),
        )
    };
    [x0, x1, x2, x3, x4, x5, x6, x7]
}
