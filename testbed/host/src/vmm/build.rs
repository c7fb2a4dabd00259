//! The Realm builder: reads the boot descriptor and creates, populates and activates the Realm.
//!
//! NS memory it uses (its pool, [`POOL`] upwards): parameter pages, one `RmiRecRun` per vCPU, and
//! every granule it delegates — RD, RTTs, RECs and their aux granules, and one DATA granule per
//! 4 KiB of Realm RAM at `POOL + DATA_OFFSET + (ipa - ram base)`. It must never delegate the
//! loader's copies of the Image, DTB and initrd: those are DATA_CREATE sources. Every delegation
//! (here and on first touch) goes through [`delegate`], which records it for the teardown's check.

use core::mem::offset_of;
use core::sync::atomic::{AtomicU64, Ordering};

use warden_abi::addr::Pa;
use warden_abi::realm_params::{RealmParams, RmiRealmFlags};
use warden_abi::rec_params::RmiRecParams;
use warden_abi::rtt::RmiHashAlgorithm;

use super::gic::MAX_VCPUS;
use crate::nsmem;
use crate::rmi::Rmi;
use crate::scenarios::Msg;
use crate::smc::Smc;
use crate::println;

/// Where `cargo xtask linux` loads the boot descriptor (xtask/src/linux.rs `DESCRIPTOR_NS`).
pub const DESCRIPTOR: u64 = 0x9FFF_F000;
/// Its first word.
const MAGIC: u64 = u64::from_le_bytes(*b"WRDNLNX1");
/// The VMM's NS pool (above the loader's Image/initrd/DTB at 0xA000_0000–0xA5FF_FFFF).
pub const POOL: u64 = 0xB000_0000;
/// Where the DATA granules start in the pool.
const DATA_OFFSET: u64 = 0x100_0000;
/// Aux granules per REC this pool has room for.
const MAX_AUX: u64 = 16;
/// 2 MiB, 1 GiB.
const MIB2: u64 = 2 << 20;
const GIB: u64 = 1 << 30;
/// `RMI_MEASURE_CONTENT`.
const MEASURE: u64 = 1;

/// The pool's fixed pages.
pub mod pool {
    use super::{MAX_AUX, POOL};
    /// `RmiRealmParams`.
    pub const PARAMS: u64 = POOL;
    /// `RmiRecParams`.
    pub const REC_PARAMS: u64 = POOL + 0x1000;
    /// `RmiRecRun` of vCPU `i`.
    pub const fn run(i: usize) -> u64 {
        POOL + 0x2000 + 0x1000 * i as u64
    }
    /// The RD.
    pub const RD: u64 = POOL + 0x8000;
    /// Two concatenated level-1 tables (8 KiB aligned).
    pub const RTT0: u64 = POOL + 0xA000;
    /// REC of vCPU `i`.
    pub const fn rec(i: usize) -> u64 {
        POOL + 0x1_0000 + 0x1000 * i as u64
    }
    /// Aux granule `a` of vCPU `i`'s REC.
    pub const fn aux(i: usize, a: u64) -> u64 {
        POOL + 0x2_0000 + (i as u64 * MAX_AUX + a) * 0x1000
    }
    /// The `k`-th RTT below the starting level (level 2 first, then the level 3s).
    pub const fn table(k: u64) -> u64 {
        POOL + 0x10_0000 + k * 0x1000
    }
}

/// A file QEMU's loader put in NS DRAM, and where it goes in the Realm.
#[derive(Clone, Copy, Debug)]
pub struct Blob {
    /// NS address (4 KiB aligned).
    pub ns: u64,
    /// Bytes (a multiple of 4 KiB).
    pub size: u64,
    /// Protected IPA.
    pub ipa: u64,
}

impl Blob {
    fn contains(&self, ipa: u64) -> bool {
        (self.ipa..self.ipa + self.size).contains(&ipa)
    }
}

/// The boot descriptor (xtask/src/linux.rs `Layout::descriptor`).
#[derive(Clone, Copy, Debug)]
pub struct Desc {
    /// The Realm's IPA width.
    pub ipa_bits: u32,
    /// RAM base (protected IPA) and size.
    pub ram_ipa: u64,
    /// RAM bytes.
    pub ram_size: u64,
    /// vCPUs.
    pub cpus: usize,
    /// The kernel Image (file bytes), its whole footprint (`image_size`), the DTB, the initrd.
    pub image: Blob,
    /// `image_size` from the Image header.
    pub image_mem: u64,
    /// The DTB.
    pub dtb: Blob,
    /// The initrd.
    pub initrd: Blob,
    /// Populate all RAM before activation (else only the kernel's footprint, the DTB and the
    /// initrd; the rest on the Realm's first touch, [`populate`]).
    pub eager: bool,
}

impl Desc {
    /// Reads and checks the descriptor.
    pub fn read() -> Result<Desc, Msg> {
        let w = |i: u64| nsmem::read_u64(DESCRIPTOR + 8 * i);
        if w(0) != MAGIC || w(1) != 1 {
            return Err(vmsg!(
                "no Linux boot descriptor at {DESCRIPTOR:#x} (magic {:#x}): run `cargo xtask linux`",
                w(0)
            ));
        }
        let d = Desc {
            ipa_bits: w(2) as u32,
            ram_ipa: w(3),
            ram_size: w(4),
            cpus: w(5) as usize,
            image: Blob { ns: w(6), size: w(7), ipa: w(9) },
            image_mem: w(8),
            dtb: Blob { ns: w(10), size: w(11), ipa: w(12) },
            initrd: Blob { ns: w(13), size: w(14), ipa: w(15) },
            eager: w(16) & 1 != 0,
        };
        let top = d.ram_ipa + d.ram_size;
        let fits = |b: &Blob| b.ipa >= d.ram_ipa && b.ipa + b.size <= top && b.size.is_multiple_of(0x1000);
        if !(32..=48).contains(&d.ipa_bits)
            || !(1..=MAX_VCPUS).contains(&d.cpus)
            || d.ram_ipa % GIB + d.ram_size > GIB
            || !d.ram_size.is_multiple_of(MIB2)
            || d.ram_size > MAX_RAM
            || !fits(&d.image)
            || !fits(&d.dtb)
            || !fits(&d.initrd)
            || d.image.ipa + d.image_mem > d.dtb.ipa
            || d.dtb.ipa + d.dtb.size > d.initrd.ipa
        {
            return Err(vmsg!("bad Linux boot descriptor: {d:x?}"));
        }
        Ok(d)
    }

    /// The NS source of the content of `ipa`, if it has content.
    pub fn source(&self, ipa: u64) -> Option<u64> {
        [self.image, self.dtb, self.initrd]
            .iter()
            .find(|b| b.contains(ipa))
            .map(|b| b.ns + (ipa - b.ipa))
    }

    /// The DATA granule for `ipa`.
    pub const fn data(&self, ipa: u64) -> u64 {
        POOL + DATA_OFFSET + (ipa - self.ram_ipa)
    }
}

/// The most Realm RAM the pool and [`POPULATED`] cover (its DATA granules end below 0xD100_0000,
/// under the host driver's trace areas: the run trace at 0xE000_0000, the drain area at
/// 0xF000_0000; `crate::trace`).
const MAX_RAM: u64 = 512 << 20;
/// Realm RAM pages that have a DATA granule (or are being given one), one bit per 4 KiB.
static POPULATED: [AtomicU64; (MAX_RAM >> 18) as usize] = [const { AtomicU64::new(0) }; (MAX_RAM >> 18) as usize];
/// Pages populated per first-touch fault (the aligned block around the faulting page).
pub const CHUNK_PAGES: u64 = 32;

/// Pool granules, from [`POOL`] to the end of the DATA granules of [`MAX_RAM`].
const POOL_GRANULES: usize = ((DATA_OFFSET + MAX_RAM) >> 12) as usize;
/// Pool granules delegated since [`build`] began, one bit per 4 KiB from [`POOL`]: the record the
/// teardown's NS read-back walks, kept apart from the structure its undelegations follow.
static DELEGATED: [AtomicU64; POOL_GRANULES / 64] = [const { AtomicU64::new(0) }; POOL_GRANULES / 64];

/// GRANULE_DELEGATE of the pool granule `pa`, recorded in [`DELEGATED`].
pub fn delegate(rmi: &mut Rmi<Smc>, pa: u64) -> Result<(), Msg> {
    ok(format_args!("GRANULE_DELEGATE({pa:#x})"), rmi.granule_delegate(pa))?;
    let g = ((pa - POOL) >> 12) as usize;
    DELEGATED[g / 64].fetch_or(1 << (g % 64), Ordering::SeqCst);
    Ok(())
}

/// Every pool granule delegated since [`build`] began (whether or not undelegated since), in
/// address order.
pub fn delegated() -> impl Iterator<Item = u64> {
    (0..POOL_GRANULES)
        .filter(|&g| DELEGATED[g / 64].load(Ordering::SeqCst) >> (g % 64) & 1 != 0)
        .map(|g| POOL + ((g as u64) << 12))
}

/// The protected IPAs of every populated page (given a DATA granule), in address order.
pub fn populated(d: &Desc) -> impl Iterator<Item = u64> + '_ {
    (0..d.ram_size >> 12)
        .filter(|&p| POPULATED[(p / 64) as usize].load(Ordering::SeqCst) >> (p % 64) & 1 != 0)
        .map(|p| d.ram_ipa + (p << 12))
}

/// Claims the page at `ipa` for population; false if it already was.
fn claim(d: &Desc, ipa: u64) -> bool {
    let page = (ipa - d.ram_ipa) >> 12;
    let bit = 1u64 << (page % 64);
    POPULATED[(page / 64) as usize].fetch_or(bit, Ordering::SeqCst) & bit == 0
}

/// Gives the Realm's RAM around the protected IPA `ipa` DATA granules (DATA_CREATE_UNKNOWN): the
/// pages of its aligned [`CHUNK_PAGES`] block nobody populated yet. Returns the pages created.
/// Safe on several CPUs at once: each page is claimed once; a vCPU whose page another CPU is
/// still populating faults again and retries.
pub fn populate(rmi: &mut Rmi<Smc>, d: &Desc, ipa: u64) -> Result<u64, Msg> {
    let top = d.ram_ipa + d.ram_size;
    if !(d.ram_ipa..top).contains(&ipa) {
        return Err(vmsg!("stage-2 fault at protected IPA {ipa:#x}, outside RAM"));
    }
    let chunk = CHUNK_PAGES * 0x1000;
    let base = (ipa & !(chunk - 1)).max(d.ram_ipa);
    let mut created = 0;
    let mut at = base;
    while at < (base + chunk).min(top) {
        if claim(d, at) {
            let data = d.data(at);
            delegate(rmi, data)?;
            ok(
                format_args!("DATA_CREATE_UNKNOWN({at:#x})"),
                rmi.data_create_unknown(pool::RD, data, at),
            )?;
            created += 1;
        }
        at += 0x1000;
    }
    Ok(created)
}

/// What was built.
pub struct Built {
    /// Granules delegated.
    pub granules: u64,
    /// Granules measured (DATA_CREATE with content).
    pub measured: u64,
    /// DATA granules created before activation (measured or not).
    pub data: u64,
    /// Aux granules per REC.
    pub aux: u64,
    /// Counter ticks the build took.
    pub ticks: u64,
    /// Of those, draining Warden's trace.
    pub trace_ticks: u64,
}

fn cntpct() -> u64 {
    let c: u64;
    // SAFETY: reads the physical counter; no memory access.
    unsafe { core::arch::asm!("isb", "mrs {}, cntpct_el0", out(reg) c, options(nomem, nostack)) };
    c
}

fn ok<T>(what: core::fmt::Arguments<'_>, r: Result<T, crate::rmi::RmiError>) -> Result<T, Msg> {
    r.map_err(|e| vmsg!("{what} = {e:?}"))
}

/// Creates, populates and activates the Realm `d` describes.
///
/// `cargo xtask linux` predicts the Realm's RIM from the boot descriptor by replaying these steps
/// (xtask/src/linux/attest.rs `description`: the REALM_CREATE parameters, the RTT_INIT_RIPAS range,
/// the measured DATA_CREATEs in IPA order, REC 0's pc and x0): change them together.
pub fn build(d: &Desc) -> Result<Built, Msg> {
    let t0 = cntpct();
    let mut rmi = Rmi::new(Smc);
    for word in DELEGATED.iter().chain(&POPULATED) {
        word.store(0, Ordering::SeqCst);
    }
    let mut granules = 0u64;
    let mut delegate = |rmi: &mut Rmi<Smc>, pa: u64| {
        granules += 1;
        delegate(rmi, pa)
    };
    let l3s = d.ram_size / MIB2;
    for pa in [pool::RD, pool::RTT0, pool::RTT0 + 0x1000] {
        delegate(&mut rmi, pa)?;
    }
    for k in 0..=l3s {
        delegate(&mut rmi, pool::table(k))?;
    }
    for i in 0..d.cpus {
        delegate(&mut rmi, pool::rec(i))?;
    }
    let params = RealmParams {
        flags: RmiRealmFlags::empty(),
        s2sz: d.ipa_bits as u8,
        sve_vl: 0,
        num_bps: 1,
        num_wps: 1,
        pmu_num_ctrs: 0,
        hash_algo: RmiHashAlgorithm::Sha256,
        rpv: [0x11; 64],
        vmid: 99,
        rtt_base: Pa(pool::RTT0),
        rtt_level_start: 1,
        rtt_num_start: 2,
    };
    nsmem::write_realm_params(pool::PARAMS, &params);
    ok(format_args!("REALM_CREATE"), rmi.realm_create(pool::RD, pool::PARAMS))?;
    let aux = ok(format_args!("REC_AUX_COUNT"), rmi.rec_aux_count(pool::RD))?;
    if aux > MAX_AUX {
        return Err(vmsg!("REC_AUX_COUNT {aux} > {MAX_AUX}"));
    }
    for i in 0..d.cpus {
        for a in 0..aux {
            delegate(&mut rmi, pool::aux(i, a))?;
        }
    }
    ok(
        format_args!("RTT_CREATE L2"),
        rmi.rtt_create(pool::RD, pool::table(0), d.ram_ipa & !(GIB - 1), 2),
    )?;
    for k in 0..l3s {
        let ipa = d.ram_ipa + k * MIB2;
        ok(
            format_args!("RTT_CREATE L3 {ipa:#x}"),
            rmi.rtt_create(pool::RD, pool::table(k + 1), ipa, 3),
        )?;
    }
    let top = d.ram_ipa + d.ram_size;
    let mut at = d.ram_ipa;
    while at < top {
        match rmi.rtt_init_ripas(pool::RD, at, top) {
            Ok(next) if next > at => at = next,
            r => return Err(vmsg!("RTT_INIT_RIPAS({at:#x}, {top:#x}) = {r:x?}")),
        }
    }
    let (mut measured, mut data_pages, mut trace_ticks) = (0u64, 0u64, 0u64);
    let mut ipa = d.ram_ipa;
    let kernel_end = d.image.ipa + d.image_mem;
    while ipa < top {
        let content = d.source(ipa);
        if d.eager || content.is_some() || (d.image.ipa..kernel_end).contains(&ipa) {
            claim(d, ipa);
            let data = d.data(ipa);
            delegate(&mut rmi, data)?;
            data_pages += 1;
            if data_pages.is_multiple_of(super::account::DRAIN_OPS) {
                trace_ticks += super::account::drain(0);
            }
            match content {
                Some(src) => {
                    measured += 1;
                    ok(
                        format_args!("DATA_CREATE({ipa:#x}, src {src:#x})"),
                        rmi.data_create(pool::RD, data, ipa, src, MEASURE),
                    )?
                }
                None => ok(
                    format_args!("DATA_CREATE_UNKNOWN({ipa:#x})"),
                    rmi.data_create_unknown(pool::RD, data, ipa),
                )?,
            }
        }
        ipa += 0x1000;
        if d.eager && (ipa - d.ram_ipa).is_multiple_of(64 << 20) {
            println!(
                "host: linux: {} MiB of {} populated",
                (ipa - d.ram_ipa) >> 20,
                d.ram_size >> 20
            );
        }
    }
    for i in 0..d.cpus {
        let p = pool::REC_PARAMS;
        // REC 0 starts at the Image with x0 = the DTB; the others wait for PSCI CPU_ON.
        let pc = if i == 0 { d.image.ipa } else { 0 };
        nsmem::write_rec_params(p, i == 0, i as u64, pc, aux, |a| pool::aux(i, a));
        if i == 0 {
            nsmem::write_u64(p + offset_of!(RmiRecParams, gprs) as u64, d.dtb.ipa);
        }
        ok(format_args!("REC_CREATE {i}"), rmi.rec_create(pool::RD, pool::rec(i), p))?;
        nsmem::fill(pool::run(i), |_| 0);
    }
    ok(format_args!("REALM_ACTIVATE"), rmi.realm_activate(pool::RD))?;
    trace_ticks += super::account::drain(0);
    Ok(Built {
        granules,
        measured,
        data: data_pages,
        aux,
        ticks: cntpct() - t0,
        trace_ticks,
    })
}
