//! The Realm's GICv3 distributor and redistributors, emulated from MMIO exits (pure logic: no
//! hardware access, host-tested).
//!
//! The CPU interface is not emulated: the Realm's `ICC_*` accesses reach the hardware's virtual
//! CPU interface, which Warden switches per REC, and this model only decides what goes into the
//! list registers (see `run.rs`). It advertises 32 SPIs (INTIDs 32–63), no LPIs, no ITS, a single
//! security state (`GICD_CTLR.DS`), affinity routing always on, and one redistributor per vCPU
//! with `Aff0` = the vCPU index. Registers it does not implement read as zero and ignore writes.

/// vCPUs the model has redistributors for.
pub const MAX_VCPUS: usize = 4;
/// SPIs advertised (`GICD_TYPER.ITLinesNumber` = 1: INTIDs 32–63).
pub const SPIS: u32 = 32;
/// Bytes between two redistributors (RD frame + SGI frame).
pub const GICR_STRIDE: u64 = 0x2_0000;
/// The distributor's window.
pub const GICD_SIZE: u64 = 0x1_0000;
/// `GICD_IIDR` / `GICR_IIDR`: implementer Arm (0x43B), product 0x57 ('W').
const IIDR: u64 = 0x5700_043B;
/// `PIDR2`: ArchRev 3 (GICv3).
const PIDR2: u64 = 0x3B;

/// Bitmap registers of one 32-interrupt block, as the distributor and the SGI frame lay them out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Block {
    /// IGROUPR.
    pub group: u32,
    /// IS/ICENABLER.
    pub enabled: u32,
    /// IS/ICPENDR (edge state; level sources are sampled by the VMM).
    pub pending: u32,
    /// IS/ICACTIVER.
    pub active: u32,
    /// ICFGR (two registers of 16 × 2 bits).
    pub cfg: [u32; 2],
    /// IPRIORITYR, one byte per interrupt.
    pub prio: [u8; 32],
}

impl Block {
    const fn new() -> Self {
        Block {
            group: 0,
            enabled: 0,
            pending: 0,
            active: 0,
            cfg: [0; 2],
            prio: [0; 32],
        }
    }

    /// Reads the register at `off` of the common layout (0x080 IGROUPR … 0xC00 ICFGR) for this
    /// block, `n` being the register index the offset names (0 for SGIs/PPIs, 1 for SPIs here).
    fn read(&self, off: u64, size: u8) -> Option<u64> {
        let v = match off {
            0x080 => self.group,
            0x100 | 0x180 => self.enabled,
            0x200 | 0x280 => self.pending,
            0x300 | 0x380 => self.active,
            0x400..=0x41F => {
                let i = (off - 0x400) as usize;
                let n = usize::from(size).min(32 - i);
                let mut v = 0u64;
                for (k, b) in self.prio[i..i + n].iter().enumerate() {
                    v |= u64::from(*b) << (8 * k);
                }
                return Some(v);
            }
            0xC00 => self.cfg[0],
            0xC04 => self.cfg[1],
            _ => return None,
        };
        Some(u64::from(v))
    }

    /// Writes it; `sgi_cfg_ro` keeps ICFGR0 (SGIs: always edge) read-only.
    fn write(&mut self, off: u64, size: u8, v: u64, sgi_cfg_ro: bool) -> bool {
        let w = v as u32;
        match off {
            0x080 => self.group = w,
            0x100 => self.enabled |= w,
            0x180 => self.enabled &= !w,
            0x200 => self.pending |= w,
            0x280 => self.pending &= !w,
            0x300 => self.active |= w,
            0x380 => self.active &= !w,
            0x400..=0x41F => {
                let i = (off - 0x400) as usize;
                let n = usize::from(size).min(32 - i);
                for (k, b) in self.prio[i..i + n].iter_mut().enumerate() {
                    *b = (v >> (8 * k)) as u8;
                }
            }
            0xC00 if !sgi_cfg_ro => self.cfg[0] = w,
            0xC00 => {}
            0xC04 => self.cfg[1] = w,
            _ => return false,
        }
        true
    }
}

/// One vCPU's redistributor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Redist {
    /// SGIs and PPIs.
    pub block: Block,
    /// `GICR_WAKER.ProcessorSleep`.
    pub sleep: bool,
}

/// The distributor and the redistributors.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Gic {
    /// vCPUs (redistributors).
    pub vcpus: usize,
    /// `GICD_CTLR` enables (EnableGrp0/1).
    pub ctlr: u32,
    /// SPIs 32–63.
    pub spis: Block,
    /// `GICD_IROUTER<n>` of the SPIs.
    pub route: [u64; SPIS as usize],
    /// Per vCPU.
    pub redist: [Redist; MAX_VCPUS],
}

/// A register's offset with the size of the access, for readable messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unknown(pub u64);

impl Gic {
    /// Everything disabled, every redistributor asleep.
    pub const fn new(vcpus: usize) -> Self {
        Gic {
            vcpus,
            ctlr: 0,
            spis: Block::new(),
            route: [0; SPIS as usize],
            redist: [Redist {
                block: Block::new(),
                sleep: true,
            }; MAX_VCPUS],
        }
    }

    /// A distributor read of `size` bytes at `off`.
    pub fn dist_read(&self, off: u64, size: u8) -> u64 {
        match off {
            // RWP 0; ARE (bit 4) always on; DS (bit 6): one security state.
            0x0000 => u64::from(self.ctlr) | (1 << 4) | (1 << 6),
            // ITLinesNumber 1, IDbits 9 (10-bit INTIDs), No1N.
            0x0004 => 1 | (9 << 19) | (1 << 25),
            0x0008 => IIDR,
            0x0084 | 0x0104 | 0x0184 | 0x0204 | 0x0284 | 0x0304 | 0x0384 => {
                self.spis.read(off - 4, size).unwrap_or(0)
            }
            0x0420..=0x043F => self.spis.read(off - 0x20, size).unwrap_or(0),
            0x0C08 | 0x0C0C => self.spis.read(off - 8, size).unwrap_or(0),
            0x6100..=0x61FF => {
                let v = self.route[((off - 0x6100) / 8) as usize];
                if off % 8 == 4 { v >> 32 } else { v }
            }
            0xFFE8 => PIDR2,
            _ => 0,
        }
    }

    /// A distributor write; `Err` for a register this model ignores (counted by the caller).
    pub fn dist_write(&mut self, off: u64, size: u8, v: u64) -> Result<(), Unknown> {
        match off {
            0x0000 => self.ctlr = v as u32 & 0b11,
            0x0084 | 0x0104 | 0x0184 | 0x0204 | 0x0284 | 0x0304 | 0x0384 => {
                self.spis.write(off - 4, size, v, false);
            }
            0x0420..=0x043F => {
                self.spis.write(off - 0x20, size, v, false);
            }
            0x0C08 | 0x0C0C => {
                self.spis.write(off - 8, size, v, false);
            }
            0x6100..=0x61FF => {
                let r = &mut self.route[((off - 0x6100) / 8) as usize];
                *r = match (off % 8, size) {
                    (0, 8) => v,
                    (0, _) => (*r & !0xFFFF_FFFF) | (v & 0xFFFF_FFFF),
                    _ => (*r & 0xFFFF_FFFF) | (v << 32),
                };
            }
            // SGI/PPI registers of the distributor are RAZ/WI with affinity routing.
            0x0080 | 0x0100 | 0x0180 | 0x0200 | 0x0280 | 0x0300 | 0x0380 => {}
            0x0400..=0x041F | 0x0C00 | 0x0C04 | 0x0D00..=0x0D7F => {}
            _ => return Err(Unknown(off)),
        }
        Ok(())
    }

    /// A read in the redistributors' window (`off` from its base).
    pub fn redist_read(&self, off: u64, size: u8) -> u64 {
        let cpu = (off / GICR_STRIDE) as usize;
        if cpu >= self.vcpus {
            return 0;
        }
        let r = &self.redist[cpu];
        let typer = ((cpu as u64) << 32) | ((cpu as u64) << 8) | (u64::from(cpu + 1 == self.vcpus) << 4);
        match off % GICR_STRIDE {
            0x0000 => 0,
            0x0004 => IIDR,
            0x0008 if size == 8 => typer,
            0x0008 => typer & 0xFFFF_FFFF,
            0x000C => typer >> 32,
            0x0014 => u64::from(r.sleep) * 0b110,
            0xFFE8 => PIDR2,
            sgi @ 0x1_0000.. => r.block.read(sgi - 0x1_0000, size).unwrap_or(0),
            _ => 0,
        }
    }

    /// A write in the redistributors' window.
    pub fn redist_write(&mut self, off: u64, size: u8, v: u64) -> Result<(), Unknown> {
        let cpu = (off / GICR_STRIDE) as usize;
        if cpu >= self.vcpus {
            return Err(Unknown(off));
        }
        let r = &mut self.redist[cpu];
        match off % GICR_STRIDE {
            0x0014 => r.sleep = v & 0b10 != 0,
            0x0000 => {}
            sgi @ 0x1_0000.. => {
                if !r.block.write(sgi - 0x1_0000, size, v, true) && sgi - 0x1_0000 != 0xD00 {
                    return Err(Unknown(off));
                }
            }
            _ => return Err(Unknown(off)),
        }
        Ok(())
    }

    /// An `ICC_SGI1R_EL1` write by vCPU `from`: marks the SGI pending at its targets; returns
    /// them as a bit mask of vCPUs.
    pub fn sgi(&mut self, from: usize, v: u64) -> u32 {
        let intid = (v >> 24) & 0xF;
        let targets: u32 = if v & (1 << 40) != 0 {
            ((1u32 << self.vcpus) - 1) & !(1 << from)
        } else if (v >> 16) & 0xFF != 0 || (v >> 32) & 0xFF != 0 || (v >> 48) & 0xFF != 0 {
            0
        } else {
            let rs = (v >> 44) & 0xF;
            let list = (v & 0xFFFF) as u32;
            if rs == 0 { list & ((1u32 << self.vcpus) - 1) } else { 0 }
        };
        for cpu in 0..self.vcpus {
            if targets & (1 << cpu) != 0 {
                self.redist[cpu].block.pending |= 1 << intid;
            }
        }
        targets
    }

    /// Whether `intid` is enabled for `cpu` (SPIs: in the distributor, with Group 1 on).
    pub fn enabled(&self, cpu: usize, intid: u32) -> bool {
        match intid {
            0..32 => self.redist[cpu].block.enabled & (1 << intid) != 0,
            32..64 => self.ctlr & 0b10 != 0 && self.spis.enabled & (1 << (intid - 32)) != 0,
            _ => false,
        }
    }

    /// The priority of `intid` as `cpu` sees it.
    pub fn priority(&self, cpu: usize, intid: u32) -> u8 {
        match intid {
            0..32 => self.redist[cpu].block.prio[intid as usize],
            32..64 => self.spis.prio[(intid - 32) as usize],
            _ => 0xFF,
        }
    }

    /// The vCPU an SPI is routed to (`IROUTER.Aff0`; vCPU 0 if that names none).
    pub fn spi_target(&self, intid: u32) -> usize {
        let aff0 = (self.route[((intid - 32) % SPIS) as usize] & 0xFF) as usize;
        if aff0 < self.vcpus { aff0 } else { 0 }
    }

    /// Takes `cpu`'s pending, enabled SGIs and PPIs (edge: they are delivered once).
    pub fn take_pending(&mut self, cpu: usize) -> u32 {
        let b = &mut self.redist[cpu].block;
        let p = b.pending & b.enabled;
        b.pending &= !p;
        p
    }

    /// Puts back SGIs/PPIs that found no free list register.
    pub fn repend(&mut self, cpu: usize, bits: u32) {
        self.redist[cpu].block.pending |= bits;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linux_probe_sequence() {
        let mut g = Gic::new(2);
        assert_eq!(g.dist_read(0xFFE8, 4) >> 4 & 0xF, 3, "GICv3");
        assert_eq!(g.dist_read(0x4, 4) & 0x1F, 1, "32 SPIs");
        g.dist_write(0, 4, 0).unwrap();
        assert_eq!(g.dist_read(0, 4) & (1 << 31), 0, "RWP clear");
        g.dist_write(0x84, 4, u32::MAX as u64).unwrap();
        g.dist_write(0x420, 4, 0xA0A0_A0A0).unwrap();
        g.dist_write(0x6100 + 8, 8, 1).unwrap();
        assert_eq!(g.spi_target(33), 1);
        g.dist_write(0x104, 4, 1 << 1).unwrap();
        assert!(!g.enabled(0, 33), "Group 1 still off");
        g.dist_write(0, 4, 0b10011).unwrap();
        assert!(g.enabled(0, 33));
        assert_eq!(g.priority(0, 32), 0xA0);
        // Redistributor of vCPU 1: TYPER (Last, affinity 1), WAKER handshake.
        let rd1 = GICR_STRIDE;
        assert_eq!(g.redist_read(rd1 + 8, 8), (1 << 32) | (1 << 8) | (1 << 4));
        assert_eq!(g.redist_read(8, 8) & (1 << 4), 0, "vCPU 0 is not last");
        assert_eq!(g.redist_read(rd1 + 0x14, 4), 0b110);
        g.redist_write(rd1 + 0x14, 4, 0).unwrap();
        assert_eq!(g.redist_read(rd1 + 0x14, 4), 0);
        // SGI frame: enable PPI 27, byte priority write.
        g.redist_write(0x1_0100, 4, 1 << 27).unwrap();
        g.redist_write(0x1_0400 + 27, 1, 0x80).unwrap();
        assert!(g.enabled(0, 27) && !g.enabled(1, 27));
        assert_eq!(g.priority(0, 27), 0x80);
        assert_eq!(g.redist_read(0x1_0418, 4), 0x8000_0000);
        assert!(g.redist_write(0x2_0000 * 2 + 0x14, 4, 0).is_err(), "no vCPU 2");
    }

    #[test]
    fn sgis() {
        let mut g = Gic::new(2);
        g.redist_write(0x1_0100, 4, 0xFFFF).unwrap();
        // To vCPU 1 (TargetList bit 1), INTID 3: not enabled there yet.
        assert_eq!(g.sgi(0, (3 << 24) | 0b10), 0b10);
        assert_eq!(g.take_pending(1), 0);
        g.redist_write(GICR_STRIDE + 0x1_0100, 4, 1 << 3).unwrap();
        assert_eq!(g.take_pending(1), 1 << 3);
        assert_eq!(g.take_pending(1), 0, "delivered once");
        // IRM: everyone else.
        assert_eq!(g.sgi(1, (1 << 40) | (5 << 24)), 0b01);
        assert_eq!(g.take_pending(0), 1 << 5);
        // Another cluster (Aff1 = 1): nobody.
        assert_eq!(g.sgi(0, (1 << 16) | 1), 0);
        g.repend(0, 1 << 2);
        assert_eq!(g.take_pending(0), 1 << 2);
    }
}
