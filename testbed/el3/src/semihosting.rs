//! Arm semihosting (QEMU `-semihosting-config enable=on,target=native`): ending the run.

/// `SYS_EXIT_EXTENDED`.
const SYS_EXIT_EXTENDED: u64 = 0x20;
/// `ADP_Stopped_ApplicationExit`: the subcode becomes QEMU's exit status.
const ADP_STOPPED_APPLICATION_EXIT: u64 = 0x2_0026;

/// Ends the QEMU process with `status` (QEMU exits with `status & 0xff`).
pub fn exit(status: u64) -> ! {
    let block = [ADP_STOPPED_APPLICATION_EXIT, status];
    // SAFETY: `hlt #0xf000` is the AArch64 semihosting trap; QEMU reads the two-word parameter block
    // (which outlives the call) and terminates. If semihosting is disabled this is an UNDEFINED
    // instruction, which ends in the crash handler.
    unsafe {
        core::arch::asm!("hlt #0xf000", in("x0") SYS_EXIT_EXTENDED, in("x1") block.as_ptr(),
            options(nostack, readonly))
    };
    loop {
        crate::arch::wfi();
    }
}
