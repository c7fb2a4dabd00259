//! Arm semihosting (QEMU `-semihosting-config enable=on,target=native`): the results file.

const SYS_OPEN: u64 = 0x01;
const SYS_CLOSE: u64 = 0x02;
const SYS_WRITE: u64 = 0x05;
/// `fopen` mode "w" in the semihosting mode table.
const MODE_W: u64 = 4;

fn call(op: u64, block: &[u64]) -> u64 {
    let mut ret = op;
    // SAFETY: `hlt #0xf000` is the AArch64 semihosting trap; QEMU reads the parameter block, which
    // lives for the duration of the call, and the buffers it points to (borrowed by the caller).
    unsafe {
        core::arch::asm!("hlt #0xf000", inout("x0") ret, in("x1") block.as_ptr(), options(nostack, readonly))
    };
    ret
}

/// Writes `contents` to the host file `name` (relative to QEMU's working directory).
pub fn write_file(name: &str, contents: &[u8]) -> Result<(), &'static str> {
    let handle = call(SYS_OPEN, &[name.as_ptr() as u64, MODE_W, name.len() as u64]);
    if handle as i64 == -1 {
        return Err("SYS_OPEN failed");
    }
    let not_written = call(
        SYS_WRITE,
        &[handle, contents.as_ptr() as u64, contents.len() as u64],
    );
    call(SYS_CLOSE, &[handle]);
    if not_written == 0 {
        Ok(())
    } else {
        Err("SYS_WRITE incomplete")
    }
}
