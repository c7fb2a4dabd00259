//! PL011 UART0 console, shared by all CPUs under a spinlock.

use core::fmt::{self, Write};
use core::sync::atomic::{AtomicBool, Ordering};

const UART0: usize = 0x0900_0000;
const UARTDR: usize = 0x000;
const UARTFR: usize = 0x018;
const TXFF: u32 = 1 << 5;

static LOCK: AtomicBool = AtomicBool::new(false);

struct Uart;

impl Write for Uart {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for byte in s.bytes() {
            if byte == b'\n' {
                put(b'\r');
            }
            put(byte);
        }
        Ok(())
    }
}

fn put(byte: u8) {
    // SAFETY: UART0 is a PL011 at a fixed QEMU address (GPI ANY); 32-bit aligned registers.
    unsafe {
        while core::ptr::read_volatile((UART0 + UARTFR) as *const u32) & TXFF != 0 {}
        core::ptr::write_volatile((UART0 + UARTDR) as *mut u32, u32::from(byte));
    }
}

/// Writes formatted text (use [`crate::println!`]).
pub fn print(args: fmt::Arguments<'_>) {
    while LOCK
        .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        core::hint::spin_loop();
    }
    let _ = Uart.write_fmt(args);
    LOCK.store(false, Ordering::Release);
}

/// Writes without the lock (fatal paths).
pub fn print_unlocked(args: fmt::Arguments<'_>) {
    let _ = Uart.write_fmt(args);
}

/// Prints a line.
#[macro_export]
macro_rules! println {
    ($($arg:tt)*) => { $crate::console::print(format_args!("{}\n", format_args!($($arg)*))) };
}
