//! Arm semihosting (QEMU `-semihosting-config enable=on,target=native`): the results files.

const SYS_OPEN: u64 = 0x01;
const SYS_CLOSE: u64 = 0x02;
const SYS_WRITE: u64 = 0x05;
/// `fopen` mode "w" in the semihosting mode table.
const MODE_W: u64 = 4;
/// `fopen` mode "wb".
const MODE_WB: u64 = 5;

fn call(op: u64, block: &[u64]) -> u64 {
    let mut ret = op;
    // SAFETY: `hlt #0xf000` is the AArch64 semihosting trap; QEMU reads the parameter block, which
    // lives for the duration of the call, and the buffers it points to (borrowed by the caller).
    unsafe {
        core::arch::asm!("hlt #0xf000", inout("x0") ret, in("x1") block.as_ptr(), options(nostack, readonly))
    };
    ret
}

/// The longest file name [`write_file`] accepts.
const MAX_NAME: usize = 127;

/// Writes `contents` to the host file `name` (relative to QEMU's working directory).
pub fn write_file(name: &str, contents: &[u8]) -> Result<(), &'static str> {
    write_with_mode(name, MODE_W, contents)
}

/// [`write_file`] in binary mode ("wb").
pub fn write_binary(name: &str, contents: &[u8]) -> Result<(), &'static str> {
    write_with_mode(name, MODE_WB, contents)
}

fn write_with_mode(name: &str, mode: u64, contents: &[u8]) -> Result<(), &'static str> {
    // QEMU wants a NUL right after the `len` bytes of the name (it checks `name[len] == 0`), which a
    // `&str` does not promise: copy it into a zeroed buffer.
    if name.len() > MAX_NAME {
        return Err("file name too long");
    }
    let mut cname = [0u8; MAX_NAME + 1];
    cname[..name.len()].copy_from_slice(name.as_bytes());
    let handle = call(SYS_OPEN, &[cname.as_ptr() as u64, mode, name.len() as u64]);
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
