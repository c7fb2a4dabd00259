//! Cold and warm boot in Rust: the boot arguments and the boot manifest (v0.3) as TF-RMM
//! validates them, the page tables, building the [`Rmm`] once, and each CPU's RMI loop.
//!
//! Checks and their `RMM_BOOT_COMPLETE` codes, in TF-RMM's order:
//! 1. x1, the EL3 interface version: same major as 0.4 and minor ≥ 4, bit 31 clear →
//!    else `VERSION_NOT_VALID`;
//! 2. x2 (CPU count) ≤ [`MAX_CPUS`] → else `CPUS_OUT_OF_RANGE`; x0 < x2 → else
//!    `CPU_ID_OUT_OF_RANGE`;
//! 3. x3 non-zero, 4 KiB aligned, outside Warden's region → else `INVALID_SHARED_BUFFER`;
//! 4. manifest version: major 0, minor ≥ 3 → else `MANIFEST_VERSION_NOT_SUPPORTED`;
//! 5. consoles: array inside the shared buffer and checksum → else `MANIFEST_DATA_ERROR`; a first
//!    console that is not `"pl011"` or has a zero base/clock/baud → `UNKNOWN` (as TF-RMM);
//! 6. DRAM banks: 1 to [`MAX_DRAM_BANKS`], array inside the shared buffer, each non-zero,
//!    4 KiB aligned, ascending, disjoint, below the PA range (and below 128 TiB, the NS alias
//!    limit), checksum, and a granule table that fits Warden's region → else `MANIFEST_DATA_ERROR`;
//! 7. anything else that stops the boot (page-table pool, a panic) → `UNKNOWN`.
//!
//! The rules of 4–6 are `platform::manifest`'s (pure, host-tested and fuzzed); this module reads the
//! shared buffer for them and keeps the firmware's own policy (console driver, NS alias, granule table).
//!
//! The checksum rule is `warden_abi::manifest`'s (every 64-bit word of the array). For consoles,
//! the rule TF-A's own platforms use to *produce* the checksum (every word except `name`) is
//! accepted too: TF-A v2.12 writes console checksums that way, and Warden must boot under it.

use core::sync::atomic::{AtomicBool, Ordering};

use arrayvec::ArrayVec;
use warden_abi::addr::GRANULE_SIZE;
use warden_abi::el3::SHARED_BUFFER_SIZE;
use warden_abi::fid::{rmi, strip_sve_hint};
use warden_abi::manifest::{ConsoleInfo, PlatInfoList, RmmBootManifest};
use warden_abi::status::BootError;
use warden_abi::version::{InterfaceVersion, RMM_EL3_INTERFACE_0_4};

use super::console::{self, wprintln};
use super::entry::{BOOT_PARAMS, BootParams, ColdBootCell};
use super::layout::{
    DEFAULT_REGION_SIZE, ImageLayout, MAX_CPUS, exception_stack, granule_round_up, main_stack,
};
use super::mmu::{self, Access, Builder, MapError, NS_ALIAS_OFFSET, Pas};
use super::sysreg::{isb, read_sysreg, write_sysreg};
use super::{FirmwareMachine, MACHINE, RMM, park, smc};
use crate::granule::GranuleTable;
use crate::platform::manifest::{self as manifest_rules, Refusal, SharedBuffer};
use crate::platform::{DramBank, DramLayout, MAX_DRAM_BANKS, MachineFeatures};
use crate::rmm::Rmm;
use crate::sync::AtomicU32;

/// Whether each CPU has reported `RMM_BOOT_COMPLETE` (a fatal error before that reports
/// `UNKNOWN` instead of leaving EL3 waiting). Plain loads and stores only: also used MMU off.
pub(super) static BOOT_REPORTED: [AtomicBool; MAX_CPUS] =
    [const { AtomicBool::new(false) }; MAX_CPUS];

/// What the cold boot learnt before the MMU was on, for the rest of the boot and the banner.
#[derive(Clone, Copy, Debug)]
pub struct BootInfo {
    /// CPU count (x2).
    pub cpus: u64,
    /// The CPU that ran the cold boot.
    pub cold_cpu: u64,
    /// RMM ↔ EL3 interface version (x1).
    pub el3_version: InterfaceVersion,
    /// Boot manifest version.
    pub manifest_version: InterfaceVersion,
    /// PA of the EL3 shared buffer (x3).
    pub shared_buffer: u64,
    /// DRAM banks (the first `num_banks`).
    pub banks: [DramBank; MAX_DRAM_BANKS],
    /// Number of DRAM banks.
    pub num_banks: usize,
    /// The console in use, if the manifest named one.
    pub console: Option<ConsoleInfo>,
    /// Machine features from the ID registers.
    pub features: MachineFeatures,
    /// The image's sections.
    pub image: ImageLayout,
    /// End of Warden's region.
    pub region_end: u64,
    /// Base of the granule table (right after the image).
    pub granule_table: u64,
    /// Granules it covers (one `u32` each).
    pub granules: usize,
    /// Stage-1 tables used.
    pub tables_used: usize,
}

static BOOT_INFO: ColdBootCell<Option<BootInfo>> = ColdBootCell::new(None);

/// Cold boot, MMU off (called by `_start`). Returns only on success.
pub(super) extern "C" fn cold_early(x0: u64, x1: u64, x2: u64, x3: u64) {
    if let Err(e) = early(x0, x1, x2, x3) {
        boot_failed(e);
    }
}

fn boot_failed(e: BootError) -> ! {
    wprintln!(
        "warden: boot failed: {e:?} (RMM_BOOT_COMPLETE x1 = {})",
        e.to_x1() as i64
    );
    let cpu = read_sysreg!("tpidr_el2") as usize;
    if let Some(flag) = BOOT_REPORTED.get(cpu) {
        flag.store(true, Ordering::Relaxed);
    }
    let _ = smc::boot_complete(e);
    park()
}

/// Prints why the manifest is refused and returns the error to report.
fn refuse(e: BootError, why: core::fmt::Arguments<'_>) -> BootError {
    wprintln!("warden: boot manifest refused: {why}");
    e
}

/// `major` equal and `minor` at least the expected one (TF-RMM's `IS_*_COMPATIBLE`).
fn compatible(v: InterfaceVersion, expected: InterfaceVersion) -> bool {
    v.major == expected.major && v.minor >= expected.minor
}

fn early(x0: u64, x1: u64, x2: u64, x3: u64) -> Result<(), BootError> {
    let el3_version = InterfaceVersion::decode(x1)
        .filter(|&v| compatible(v, RMM_EL3_INTERFACE_0_4))
        .ok_or(BootError::VersionNotValid)?;
    if x2 > MAX_CPUS as u64 {
        return Err(BootError::CpusOutOfRange);
    }
    if x0 >= x2 {
        return Err(BootError::CpuIdOutOfRange);
    }
    if x3 == 0 || !x3.is_multiple_of(GRANULE_SIZE) {
        return Err(BootError::InvalidSharedBuffer);
    }
    let image = ImageLayout::current();
    if !image.start.is_multiple_of(GRANULE_SIZE) {
        return Err(BootError::Unknown);
    }
    // Warden's region: from the load address, 24 MiB − 4 KiB, cut short by the shared buffer if
    // EL3 placed it inside (TF-A puts it right after the RMM's carve-out).
    let mut region_end = image.start + DEFAULT_REGION_SIZE;
    if x3 >= image.end && x3 < region_end {
        region_end = x3;
    }
    if x3 < region_end && x3 + SHARED_BUFFER_SIZE > image.start {
        return Err(BootError::InvalidSharedBuffer);
    }

    // SAFETY: x3 is a non-zero, page-aligned PA that EL3 passed as the shared buffer (Realm PAS);
    // with the MMU off it is reached at its PA. A volatile copy: EL3 wrote it.
    let manifest = unsafe { core::ptr::read_volatile(x3 as *const RmmBootManifest) };
    let manifest_version = manifest_rules::version(&manifest).map_err(refused)?;

    let console = consoles(&manifest.plat_console, x3)?;
    if let Some(c) = console {
        if c.name != *b"pl011\0\0\0" {
            return Err(BootError::Unknown);
        }
        console::init(c.base, c.clk_in_hz, c.baud_rate).map_err(|_| BootError::Unknown)?;
    }

    cpu_init_gic();
    let features = read_features();
    let banks = dram_banks(&manifest.plat_dram, x3, features.pa_bits)?;
    let layout = DramLayout::with_holes(&banks, features.pa_bits, &rmm_memory(image.start, region_end, x3)).map_err(|e| {
        refuse(
            BootError::ManifestDataError,
            format_args!("DRAM banks: {e:?}"),
        )
    })?;
    let dram_end = banks.last().map_or(0, |b| b.base + b.size);
    if dram_end > NS_ALIAS_OFFSET {
        return Err(refuse(
            BootError::ManifestDataError,
            format_args!(
                "DRAM ends at {dram_end:#x}; Warden maps DRAM below {NS_ALIAS_OFFSET:#x} only"
            ),
        ));
    }

    let granule_table = image.end;
    let table_bytes =
        granule_round_up(GranuleTable::<FirmwareMachine>::bytes_for(layout.granules()) as u64);
    if table_bytes > region_end - granule_table {
        return Err(refuse(
            BootError::ManifestDataError,
            format_args!(
                "the granule table for {} granules needs {table_bytes:#x} bytes; Warden's region has {:#x} left",
                layout.granules(),
                region_end - granule_table
            ),
        ));
    }

    let plan = MapPlan {
        image,
        region_end,
        granule_table,
        table_bytes,
        banks: &banks,
        console,
        shared_buffer: x3,
    };
    let (root, tables_used) = plan.build().map_err(|e| {
        wprintln!("warden: stage-1 page tables: {e:?}");
        BootError::Unknown
    })?;

    let mut info = BootInfo {
        cpus: x2,
        cold_cpu: x0,
        el3_version,
        manifest_version,
        shared_buffer: x3,
        banks: [DramBank { base: 0, size: 0 }; MAX_DRAM_BANKS],
        num_banks: banks.len(),
        console,
        features,
        image,
        region_end,
        granule_table,
        granules: layout.granules(),
        tables_used,
    };
    info.banks[..banks.len()].copy_from_slice(&banks);
    let params = BootParams {
        mair: mmu::MAIR,
        tcr: mmu::tcr(features.pa_bits),
        ttbr0: root,
        sctlr: mmu::SCTLR_MMU_ON,
        num_cpus: x2,
    };
    // SAFETY: the cold boot runs alone (module docs of `entry`), and nothing borrows these cells.
    unsafe {
        BOOT_INFO.set(Some(info));
        BOOT_PARAMS.set(params);
    }
    Ok(())
}

/// The shared buffer at its PA, read with the MMU off: what the manifest rules
/// (`platform::manifest`, pure and host-tested and fuzzed) read the manifest's arrays through.
struct PhysSharedBuffer(u64);

impl SharedBuffer for PhysSharedBuffer {
    fn base(&self) -> u64 {
        self.0
    }

    fn read_word(&self, pa: u64) -> u64 {
        let end = self.0.checked_add(SHARED_BUFFER_SIZE);
        let inside = pa.is_multiple_of(8)
            && pa >= self.0
            && pa.checked_add(8).zip(end).is_some_and(|(e, end)| e <= end);
        if !inside {
            // The rules read only inside the buffer; never reach outside it regardless.
            return 0;
        }
        // SAFETY: `pa` is an 8-byte aligned word of the shared buffer (checked above): Realm PAS
        // memory reached at its PA with the MMU off. A volatile read: EL3 wrote it.
        unsafe { core::ptr::read_volatile(pa as *const u64) }
    }
}

/// Prints why the manifest rules refused and returns the error to report.
fn refused(e: Refusal) -> BootError {
    refuse(e.boot_error(), format_args!("{e}"))
}

fn consoles(list: &PlatInfoList, shared: u64) -> Result<Option<ConsoleInfo>, BootError> {
    manifest_rules::console(list, &PhysSharedBuffer(shared)).map_err(refused)
}

fn dram_banks(
    list: &PlatInfoList,
    shared: u64,
    pa_bits: u8,
) -> Result<ArrayVec<DramBank, MAX_DRAM_BANKS>, BootError> {
    manifest_rules::dram_banks(list, &PhysSharedBuffer(shared), pa_bits).map_err(refused)
}

/// Everything the stage-1 tables map (see `mmu`).
struct MapPlan<'a> {
    image: ImageLayout,
    region_end: u64,
    granule_table: u64,
    table_bytes: u64,
    banks: &'a [DramBank],
    console: Option<ConsoleInfo>,
    shared_buffer: u64,
}

impl MapPlan<'_> {
    fn build(&self) -> Result<(u64, usize), MapError> {
        let img = &self.image;
        // SAFETY: called once, by the cold-boot CPU, with the MMU off.
        let mut b = unsafe { Builder::new() }?;
        let identity = |b: &mut Builder, start: u64, end: u64, access: Access| {
            b.map(start, start, end - start, access, Pas::Realm)
        };
        identity(&mut b, img.start, img.text_end, Access::ReadExecute)?;
        identity(&mut b, img.text_end, img.ro_end, Access::ReadOnly)?;
        identity(&mut b, img.ro_end, img.rw_end, Access::ReadWrite)?;
        for cpu in 0..MAX_CPUS {
            for (base, size) in [
                exception_stack(img.stacks, cpu),
                main_stack(img.stacks, cpu),
            ] {
                identity(&mut b, base, base + size, Access::ReadWrite)?;
            }
        }
        let (tables, tables_size) = mmu::TABLES.range();
        identity(&mut b, tables, tables + tables_size, Access::ReadWrite)?;
        identity(
            &mut b,
            self.granule_table,
            self.granule_table + self.table_bytes,
            Access::ReadWrite,
        )?;

        let (own_start, own_end) = (img.start, self.region_end);
        let mut shared_mapped = false;
        for bank in self.banks {
            let (start, end) = (bank.base, bank.base + bank.size);
            // Realm PAS alias, minus Warden's own region (mapped above with its permissions).
            for (s, e) in [(start, end.min(own_start)), (start.max(own_end), end)] {
                if s < e {
                    identity(&mut b, s, e, Access::ReadWrite)?;
                    shared_mapped |= self.shared_buffer >= s && self.shared_buffer < e;
                }
            }
            // NS PAS alias of the whole bank.
            b.map(
                start + NS_ALIAS_OFFSET,
                start,
                bank.size,
                Access::ReadWrite,
                Pas::NonSecure,
            )?;
        }
        if !shared_mapped {
            identity(
                &mut b,
                self.shared_buffer,
                self.shared_buffer + SHARED_BUFFER_SIZE,
                Access::ReadWrite,
            )?;
        }
        if let Some(c) = self.console {
            let pages = c.map_pages.clamp(1, 16);
            identity(&mut b, c.base, c.base + pages * 4096, Access::Device)?;
        }
        Ok((b.root(), b.tables_used()))
    }
}

/// Lets EL2 use the GIC system registers (`ICC_SRE_EL2.SRE`) so that `ICH_VTR_EL2` can be read,
/// unless EL3 already did.
fn cpu_init_gic() {
    const SRE: u64 = 1 << 0;
    const SRE_ENABLE_LOWER: u64 = 1 << 3;
    const DFB_DIB: u64 = 0b110;
    let sre = read_sysreg!("S3_4_C12_C9_5"); // ICC_SRE_EL2
    if sre & SRE == 0 {
        // SAFETY: enables the system-register interface of the GIC CPU interface for EL2 and
        // lower ELs; touches no memory.
        unsafe { write_sysreg!("S3_4_C12_C9_5", sre | SRE | SRE_ENABLE_LOWER | DFB_DIB) };
        isb();
    }
}

/// The RMM's own memory that the manifest's DRAM banks may include and the granule table must
/// leave out (never delegable): Warden's region from its load address, and the EL3 shared page.
fn rmm_memory(image_start: u64, region_end: u64, shared_buffer: u64) -> [(u64, u64); 2] {
    [(image_start, region_end), (shared_buffer, shared_buffer + SHARED_BUFFER_SIZE)]
}

/// Per-CPU EL2 setup once the MMU is on.
fn cpu_init(features: &MachineFeatures) {
    cpu_init_gic();
    // VTCR_EL2.VS: 16-bit VMIDs when the hardware has them, so the VMID written into VTTBR_EL2 for
    // TLB maintenance (`Machine::tlb_invalidate`) is the VMID the allocator handed out.
    let vs = if features.vmid_bits == 16 {
        1u64 << 19
    } else {
        0
    };
    // SAFETY: HCR_EL2.VM is 0 while Warden runs, so VTCR_EL2 affects no translation now.
    unsafe { write_sysreg!("vtcr_el2", vs) };
    // Realm-facing EL2 state that is the same for every REC (EL3 keeps it per world): the Realm's
    // virtual counter is the physical one (CNTVOFF_EL2 = 0), MIDR_EL1 reads the real MIDR, and the
    // PMU — hidden from Realms by the ID registers, and not switched — traps (MDCR_EL2.TPM/TPMCR).
    const MDCR_TPMCR: u64 = 1 << 5;
    const MDCR_TPM: u64 = 1 << 6;
    let midr = read_sysreg!("midr_el1");
    let mdcr = read_sysreg!("mdcr_el2");
    // SAFETY: these only affect EL1/EL0 execution, and no Realm runs yet on this CPU.
    unsafe {
        write_sysreg!("cntvoff_el2", 0u64);
        write_sysreg!("vpidr_el2", midr);
        write_sysreg!("mdcr_el2", mdcr | MDCR_TPM | MDCR_TPMCR);
    }
    isb();
}

/// The machine's features, from the ID registers (the same on every CPU).
fn read_features() -> MachineFeatures {
    let mmfr0 = read_sysreg!("id_aa64mmfr0_el1");
    let pa_bits = match mmfr0 & 0xf {
        0 => 32,
        1 => 36,
        2 => 40,
        3 => 42,
        4 => 44,
        5 => 48,
        _ => 52,
    };
    let vmid_bits = if (read_sysreg!("id_aa64mmfr1_el1") >> 4) & 0xf == 2 {
        16
    } else {
        8
    };
    let dfr0 = read_sysreg!("id_aa64dfr0_el1");
    let vtr = read_sysreg!("S3_4_C12_C11_1"); // ICH_VTR_EL2
    MachineFeatures {
        pa_bits,
        vmid_bits,
        num_bps: ((dfr0 >> 12) & 0xf) as u8 + 1,
        num_wps: ((dfr0 >> 20) & 0xf) as u8 + 1,
        gicv3_num_lrs: (vtr & 0x1f) as u8 + 1,
    }
}

/// Cold boot, MMU on (called by `_start`): builds the RMM, prints the banner, runs the RMI loop.
pub(super) extern "C" fn cold_main(cpu: u64) -> ! {
    let Some(info) = BOOT_INFO.get() else {
        super::fatal(format_args!("cold boot without boot info"))
    };
    cpu_init(&info.features);
    // The runtime EL3 services that exchange data through the shared buffer (attestation) need
    // its address; stored once the MMU (and so Normal memory for atomics) is on.
    super::EL3_SHARED_BUFFER.store(info.shared_buffer, core::sync::atomic::Ordering::Release);
    let bytes = GranuleTable::<FirmwareMachine>::bytes_for(info.granules);
    // SAFETY: the granule table lies in Warden's own region, mapped RW, used by nothing yet.
    unsafe { core::ptr::write_bytes(info.granule_table as *mut u8, 0, bytes) };
    let banks = &info.banks[..info.num_banks];
    let holes = rmm_memory(info.image.start, info.region_end, info.shared_buffer);
    let layout = DramLayout::with_holes(banks, info.features.pa_bits, &holes)
        .expect("banks validated at cold boot");
    // SAFETY: the table is `granules` zeroed, 4-byte aligned words in Warden's region, never freed
    // and from now on only accessed through this slice.
    let words: &'static [AtomicU32] = unsafe {
        core::slice::from_raw_parts(info.granule_table as *const AtomicU32, info.granules)
    };
    // SAFETY: the cold-boot CPU initialises both once, before its RMM_BOOT_COMPLETE; warm boots
    // (the only other readers) start after it.
    let machine =
        unsafe { MACHINE.init_with(|| FirmwareMachine::new(info.features, layout.clone())) };
    // SAFETY: as above.
    let rmm = unsafe { RMM.init_with(|| Rmm::new(machine, layout, words)) };
    banner(&info, cpu);
    rmi_loop(cpu, rmm)
}

/// Warm boot, MMU on (called by `_start`): joins the RMI loop.
pub(super) extern "C" fn warm_main(cpu: u64) -> ! {
    // A CPU that EL3 turned off and on again boots afresh: until its RMM_BOOT_COMPLETE, a fatal
    // error must report UNKNOWN again. (`_start` checked `cpu` against the CPU count.)
    BOOT_REPORTED[cpu as usize].store(false, Ordering::Relaxed);
    let Some(info) = BOOT_INFO.get() else {
        super::fatal(format_args!("warm boot without boot info"))
    };
    cpu_init(&info.features);
    // EL3 warm-boots a CPU only after the cold boot's RMM_BOOT_COMPLETE, by which time the RMM is
    // built; if that ever changes this reports UNKNOWN instead of racing the cold boot.
    let Some(rmm) = RMM.get() else {
        super::fatal(format_args!(
            "warm boot of CPU {cpu} before the cold boot finished"
        ))
    };
    rmi_loop(cpu, rmm)
}

/// Reports a successful boot of this CPU, then serves RMI calls for ever.
fn rmi_loop(cpu: u64, rmm: &'static Rmm<'static, FirmwareMachine>) -> ! {
    BOOT_REPORTED[cpu as usize].store(true, Ordering::Relaxed);
    let mut call = smc::boot_complete(BootError::Success);
    loop {
        super::rec_switch::note_rmi_call(call[0]);
        let mut ret = rmm.handle_rmi(&call).0;
        preserve_x4(&call, &mut ret);
        call = smc::rmi_req_complete(&ret);
    }
}

/// SMCCC (1.1 and later) has the callee preserve X4–X17 unless they hold results. TF-A's RMMD
/// returns `RMM_RMI_REQ_COMPLETE`'s x1–x5 to the Host as X0–X4 and leaves the Host's X5–X7 alone,
/// so Warden itself must hand back the Host's X4 for every command that does not return X4 — in
/// RMI 1.0 all but `RMI_RTT_READ_ENTRY` (X1–X4 outputs).
#[inline(always)]
fn preserve_x4(call: &smc::RmiCall, ret: &mut [u64; 5]) {
    if strip_sve_hint(call[0]) != rmi::RTT_READ_ENTRY {
        ret[4] = call[4];
    }
}

fn banner(info: &BootInfo, cpu: u64) {
    let img = &info.image;
    let f = &info.features;
    wprintln!(
        "warden: Warden {} - Arm CCA RMM 1.0-rel0 at R-EL2",
        env!("CARGO_PKG_VERSION")
    );
    wprintln!(
        "warden: EL3 interface {}.{}, boot manifest {}.{}, {} CPUs, cold boot on CPU {cpu}",
        info.el3_version.major,
        info.el3_version.minor,
        info.manifest_version.major,
        info.manifest_version.minor,
        info.cpus
    );
    wprintln!(
        "warden: image {:#x}-{:#x} (linked at {:#x}, {} relocations), region ends {:#x}, shared buffer {:#x}",
        img.start,
        img.end,
        img.link_base,
        img.relocations,
        info.region_end,
        info.shared_buffer
    );
    for (i, b) in info.banks[..info.num_banks].iter().enumerate() {
        wprintln!(
            "warden: DRAM bank {i}: {:#x}-{:#x} ({} MiB)",
            b.base,
            b.base + b.size,
            b.size >> 20
        );
    }
    wprintln!(
        "warden: granule table: {} granules, {} KiB at {:#x}",
        info.granules,
        GranuleTable::<FirmwareMachine>::bytes_for(info.granules) >> 10,
        info.granule_table
    );
    wprintln!(
        "warden: stage 1: {} tables; Realm PAS at VA=PA, NS PAS at VA=PA+{NS_ALIAS_OFFSET:#x}; console {:#x}",
        info.tables_used,
        console::base().unwrap_or(0)
    );
    wprintln!(
        "warden: PA {} bits, VMID {} bits, {} BRPs, {} WRPs, {} GIC list registers",
        f.pa_bits,
        f.vmid_bits,
        f.num_bps,
        f.num_wps,
        f.gicv3_num_lrs
    );
}
