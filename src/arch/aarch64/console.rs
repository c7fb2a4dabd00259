//! The boot console: the PL011 UART named by the boot manifest (first `console_info`, which must be
//! `"pl011"`, as TF-RMM requires), and a `log`-free `wprintln!`.
//!
//! Used for the cold-boot banner, boot errors, panics and fatal exceptions — never on the RMI hot
//! path. It may run with the MMU off (the cold boot validates the manifest before building page
//! tables): then every access is Device memory, so the lock, an atomic read-modify-write, is only
//! taken once the MMU is on; before that one CPU runs alone.

use core::fmt::{self, Write};
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use tock_registers::interfaces::{Readable, Writeable};
use tock_registers::registers::{ReadOnly, ReadWrite, WriteOnly};
use tock_registers::{register_bitfields, register_structs};

use super::sysreg::mmu_enabled;

register_bitfields! [u32,
    FR [
        /// Transmit FIFO full.
        TXFF OFFSET(5) NUMBITS(1) [],
        /// UART busy transmitting.
        BUSY OFFSET(3) NUMBITS(1) []
    ],
    LCR_H [
        /// Word length.
        WLEN OFFSET(5) NUMBITS(2) [EightBits = 0b11],
        /// FIFOs enabled.
        FEN OFFSET(4) NUMBITS(1) []
    ],
    CR [
        /// Receive enable.
        RXE OFFSET(9) NUMBITS(1) [],
        /// Transmit enable.
        TXE OFFSET(8) NUMBITS(1) [],
        /// UART enable.
        UARTEN OFFSET(0) NUMBITS(1) []
    ]
];

register_structs! {
    Pl011Registers {
        (0x00 => dr: ReadWrite<u32>),
        (0x04 => _reserved0),
        (0x18 => fr: ReadOnly<u32, FR::Register>),
        (0x1c => _reserved1),
        (0x24 => ibrd: ReadWrite<u32>),
        (0x28 => fbrd: ReadWrite<u32>),
        (0x2c => lcr_h: ReadWrite<u32, LCR_H::Register>),
        (0x30 => cr: ReadWrite<u32, CR::Register>),
        (0x34 => _reserved2),
        (0x44 => icr: WriteOnly<u32>),
        (0x48 => @END),
    }
}

/// Why the manifest's console cannot be used (TF-RMM reports `E_RMM_BOOT_UNKNOWN` for these).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConsoleError;

/// The UART's base address once initialised (0: no console).
static BASE: AtomicUsize = AtomicUsize::new(0);
static LOCK: AtomicBool = AtomicBool::new(false);

/// Initialises the PL011 at `base` (identity-mapped device memory: the MMU is off, or the page
/// tables map it at its PA) for 8N1 at `baud` from `clk_hz`.
///
/// Refuses a zero base, clock or baud rate as TF-RMM's `pl011_init` does. When the divisor does
/// not fit the PL011's registers (QEMU's manifests give a 1 Hz clock) the baud rate EL3 programmed
/// is kept: the UART is shared with EL3 and already running.
pub fn init(base: u64, clk_hz: u64, baud: u64) -> Result<(), ConsoleError> {
    if base == 0 || clk_hz == 0 || baud == 0 || !base.is_multiple_of(4096) {
        return Err(ConsoleError);
    }
    let regs = registers(base as usize);
    // Wait for anything EL3 is still sending, then reprogram with the UART disabled.
    while regs.fr.is_set(FR::BUSY) {}
    regs.cr.set(0);
    // Divisor in 1/64ths: IBRD = clk / (16 * baud), FBRD = the 6-bit fraction.
    let div = clk_hz.saturating_mul(4) / baud;
    let (ibrd, fbrd) = (div >> 6, div & 0x3f);
    if (1..=0xffff).contains(&ibrd) {
        regs.ibrd.set(ibrd as u32);
        regs.fbrd.set(fbrd as u32);
    }
    regs.lcr_h.write(LCR_H::WLEN::EightBits + LCR_H::FEN::SET);
    regs.icr.set(0x7ff);
    regs.cr.write(CR::UARTEN::SET + CR::TXE::SET + CR::RXE::SET);
    BASE.store(base as usize, Ordering::Relaxed);
    Ok(())
}

/// The console's base address, if one was initialised.
pub fn base() -> Option<u64> {
    match BASE.load(Ordering::Relaxed) {
        0 => None,
        b => Some(b as u64),
    }
}

fn registers(base: usize) -> &'static Pl011Registers {
    // SAFETY: `base` is the PL011 the boot manifest named, identity-mapped as device memory
    // for Warden's lifetime (checked non-zero and page aligned by `init`); the registers are only
    // accessed through tock-registers' volatile accessors.
    unsafe { &*(base as *const Pl011Registers) }
}

struct Uart(&'static Pl011Registers);

impl Uart {
    fn putc(&self, c: u8) {
        while self.0.fr.is_set(FR::TXFF) {}
        self.0.dr.set(u32::from(c));
    }
}

impl Write for Uart {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for b in s.bytes() {
            if b == b'\n' {
                self.putc(b'\r');
            }
            self.putc(b);
        }
        Ok(())
    }
}

/// Prints `args` on the console, if there is one. Lines from different CPUs are not interleaved:
/// once the MMU is on a spinlock serialises printers, with a bounded wait so that a CPU that died
/// holding it (a panic while printing) cannot silence the others.
pub fn print(args: fmt::Arguments<'_>) {
    let Some(base) = base() else { return };
    let locked = mmu_enabled() && lock();
    let _ = Uart(registers(base as usize)).write_fmt(args);
    if locked {
        LOCK.store(false, Ordering::Release);
    }
}

fn lock() -> bool {
    for _ in 0..(1u32 << 22) {
        if LOCK
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
        {
            return true;
        }
        core::hint::spin_loop();
    }
    false
}

/// `println!` for the firmware console: `wprintln!("x = {x}")`. Cold paths only.
macro_rules! wprintln {
    () => {
        $crate::arch::aarch64::console::print(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::arch::aarch64::console::print(format_args!("{}\n", format_args!($($arg)*)))
    };
}

pub(crate) use wprintln;
