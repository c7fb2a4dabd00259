//! The Realm's PL011 UART, emulated from MMIO exits (pure logic, host-tested).
//!
//! Transmit only: every byte written to `UARTDR` is handed to the caller (which prints the Realm's
//! console lines with a prefix); the transmit FIFO is always empty (`FR.TXFE`, never `TXFF` or
//! `BUSY`) and the receive FIFO too (`FR.RXFE`). Its interrupt line is `RIS & IMSC`, with the
//! transmit interrupt raised whenever the (always empty) FIFO is below its trigger level, as the
//! hardware does. The PrimeCell identification registers say "PL011 r1p5", which the AMBA bus
//! reads before binding the driver.

/// `UARTFR`: TXFE | RXFE.
const FR_IDLE: u32 = (1 << 7) | (1 << 4);
/// `UARTRIS.TXRIS`.
const TXRIS: u32 = 1 << 5;
/// PeriphID0–3 and CellID0–3 (0xFE0–0xFFC).
const ID: [u32; 8] = [0x11, 0x10, 0x14, 0x00, 0x0D, 0xF0, 0x05, 0xB1];

/// The UART's registers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pl011 {
    cr: u32,
    lcr_h: u32,
    ibrd: u32,
    fbrd: u32,
    ifls: u32,
    imsc: u32,
    ris: u32,
    dmacr: u32,
}

impl Default for Pl011 {
    fn default() -> Self {
        Self::new()
    }
}

impl Pl011 {
    /// After reset: transmit interrupt raw-pending (FIFO empty), everything masked.
    pub const fn new() -> Self {
        Pl011 {
            cr: 0x300,
            lcr_h: 0,
            ibrd: 0,
            fbrd: 0,
            ifls: 0x12,
            imsc: 0,
            ris: TXRIS,
            dmacr: 0,
        }
    }

    /// A read at `off`.
    pub fn read(&self, off: u64) -> u32 {
        match off {
            0x018 => FR_IDLE,
            0x024 => self.ibrd,
            0x028 => self.fbrd,
            0x02C => self.lcr_h,
            0x030 => self.cr,
            0x034 => self.ifls,
            0x038 => self.imsc,
            0x03C => self.ris,
            0x040 => self.ris & self.imsc,
            0x048 => self.dmacr,
            0xFE0..=0xFFC => ID[((off - 0xFE0) / 4) as usize],
            _ => 0,
        }
    }

    /// A write at `off`; returns the byte transmitted, if it was a `UARTDR` write.
    pub fn write(&mut self, off: u64, v: u32) -> Option<u8> {
        match off {
            0x000 => {
                self.ris |= TXRIS;
                return Some(v as u8);
            }
            0x024 => self.ibrd = v & 0xFFFF,
            0x028 => self.fbrd = v & 0x3F,
            0x02C => self.lcr_h = v & 0xFF,
            0x030 => self.cr = v & 0xFFFF,
            0x034 => self.ifls = v & 0x3F,
            0x038 => self.imsc = v & 0x7FF,
            // ICR clears the raw status; TX comes back when the FIFO drains (at once, here) on the
            // next transmitted byte.
            0x044 => self.ris &= !(v & 0x7FF),
            0x048 => self.dmacr = v & 0x7,
            _ => {}
        }
        None
    }

    /// The interrupt line (level).
    pub fn irq(&self) -> bool {
        self.ris & self.imsc != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identification_and_transmit() {
        let mut u = Pl011::new();
        let id: [u32; 8] = core::array::from_fn(|i| u.read(0xFE0 + 4 * i as u64));
        assert_eq!(id, [0x11, 0x10, 0x14, 0x00, 0x0D, 0xF0, 0x05, 0xB1]);
        assert_eq!(u.read(0x18) & (1 << 5), 0, "never TXFF");
        assert_eq!(u.write(0, u32::from(b'A')), Some(b'A'));
        assert_eq!(u.write(0x30, 0x301), None);
        assert!(!u.irq(), "masked");
        u.write(0x38, 1 << 5);
        assert!(u.irq(), "TX interrupt: FIFO empty");
        u.write(0x44, 0x7FF);
        assert!(!u.irq());
        u.write(0, u32::from(b'B'));
        assert!(u.irq());
        assert_eq!(u.read(0x40), 1 << 5);
    }
}
