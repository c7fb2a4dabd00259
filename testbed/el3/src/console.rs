//! The PL011 UART0 console (`el3: …` lines). Shared by all CPUs under a spinlock.

use core::fmt::{self, Write};
use core::sync::atomic::{AtomicBool, Ordering};

use crate::platform::UART0_BASE;

const UARTDR: u64 = 0x000;
const UARTFR: u64 = 0x018;
const UARTFR_TXFF: u32 = 1 << 5;

static LOCK: AtomicBool = AtomicBool::new(false);

struct Uart;

impl Uart {
    fn put(&mut self, byte: u8) {
        let base = UART0_BASE as usize;
        // SAFETY: UART0 is a PL011 at a fixed MMIO address (GPI ANY, reachable from Root with the
        // MMU off); FR and DR are 32-bit registers and accesses are naturally aligned.
        unsafe {
            while core::ptr::read_volatile((base + UARTFR as usize) as *const u32) & UARTFR_TXFF
                != 0
            {}
            core::ptr::write_volatile((base + UARTDR as usize) as *mut u32, u32::from(byte));
        }
    }
}

impl Write for Uart {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for byte in s.bytes() {
            if byte == b'\n' {
                self.put(b'\r');
            }
            self.put(byte);
        }
        Ok(())
    }
}

/// Writes formatted text to the console (use [`crate::println!`]).
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

/// Writes formatted text without taking the lock (crash paths, where the lock may be held).
pub fn print_unlocked(args: fmt::Arguments<'_>) {
    let _ = Uart.write_fmt(args);
}

/// Prints one `el3: …` console line.
#[macro_export]
macro_rules! println {
    ($($arg:tt)*) => {
        $crate::console::print(format_args!("el3: {}\n", format_args!($($arg)*)))
    };
}
