//! `cargo xtask linux`: an unmodified Debian arm64 kernel booted as a Realm on Warden.
//!
//! Owns everything the Linux boot needs on the build machine: fetching the pinned Debian packages
//! (kernel, its modules and busybox-static, with private apt state and the machine's own Debian
//! mirror, verified by the sha256 sums pinned here), extracting the raw arm64 `Image`, building
//! the busybox initramfs (newc cpio + gzip, written here), generating the Realm's device tree
//! ([`fdt`]) and the boot descriptor the host driver's VMM reads, booting QEMU with them in NS
//! DRAM, and verifying the CCA token the Realm's `/init` requests ([`attest`]). It never writes
//! outside `target/linux/` (plus QEMU's working directory) and never names a registry host: the
//! mirror URI is read from the machine's apt sources at run time.
//!
//! The layout it decides is shared with `testbed/host/src/vmm/` through the boot descriptor
//! ([`Descriptor`]), so the two can only disagree about the descriptor's own address and format.

pub mod attest;
mod fdt;

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use clap::Args;
use sha2::{Digest, Sha256};

use crate::install::{self, Needs};
use crate::qemu;
use crate::tasks;
use crate::util::{self, Error, Result, step};

/// A pinned Debian package: what is fetched, and the one file used from it.
struct Pin {
    /// Package name (arm64).
    package: &'static str,
    /// Exact version.
    version: &'static str,
    /// The suite that has it.
    suite: &'static str,
    /// The .deb's file name as `apt-get download` writes it.
    file: &'static str,
    /// Its sha256.
    sha256: &'static str,
    /// The file used, inside the package.
    member: &'static str,
}

/// The kernel: Debian's 7.3.4 cloud flavour from trixie-backports (the 7.x layout: the raw Image
/// alone, as `vmlinuz.unsigned`). Realm guest support (RSI) is built in since 6.13.
const KERNEL: Pin = Pin {
    package: "linux-binary-unsigned-7.3.4+deb13-cloud-arm64",
    version: "7.3.4-1~bpo13+1",
    suite: "trixie-backports",
    file: "linux-binary-unsigned-7.3.4+deb13-cloud-arm64_7.3.4-1~bpo13+1_arm64.deb",
    sha256: "b84ffe405b9554b13ab880af7144cccfc03f58fb1f5fd85d476efa20f86ec858",
    member: "usr/lib/modules/7.3.4+deb13-cloud-arm64/vmlinuz.unsigned",
};

/// busybox-static from trixie: `/init` and its applets.
const BUSYBOX: Pin = Pin {
    package: "busybox-static",
    version: "1:1.37.0-6+b9",
    suite: "trixie",
    file: "busybox-static_1%3a1.37.0-6+b9_arm64.deb",
    sha256: "c833be48abfa16bc19c4966ec93e289ff1ce5d2f1476cad3a57bd105378cd15c",
    member: "usr/bin/busybox",
};

/// The kernel's modules (same source package and version): `configfs`, `tsm_report` and
/// `arm-cca-guest` ([`attest::MODULES`]) are taken from it, for the Realm to request a token.
const MODULES: Pin = Pin {
    package: "linux-modules-7.3.4+deb13-cloud-arm64",
    version: "7.3.4-1~bpo13+1",
    suite: "trixie-backports",
    file: "linux-modules-7.3.4+deb13-cloud-arm64_7.3.4-1~bpo13+1_arm64.deb",
    sha256: "90a6ce3e126d739938996a7493335403de7678abcdbae916c7f4c61ff8de3f32",
    member: "usr/lib/modules/7.3.4+deb13-cloud-arm64/kernel/drivers/virt/coco/arm-cca-guest/arm-cca-guest.ko.xz",
};

/// Where the boot descriptor is loaded (NS DRAM; testbed/host/src/vmm/mod.rs `DESCRIPTOR`).
pub const DESCRIPTOR_NS: u64 = 0x9FFF_F000;
/// Where the Image, initrd and DTB are loaded (NS DRAM, above the host driver's scenarios).
const IMAGE_NS: u64 = 0xA000_0000;
const INITRD_NS: u64 = 0xA400_0000;
const DTB_NS: u64 = 0xA500_0000;
/// The descriptor's magic (first word).
pub const DESCRIPTOR_MAGIC: &[u8; 8] = b"WRDNLNX1";
/// The Realm: IPA width, RAM base (protected IPA) and the emulated devices (QEMU virt addresses).
const IPA_BITS: u32 = 40;
const RAM_IPA: u64 = 0x8000_0000;
const GICD_IPA: u64 = 0x0800_0000;
const GICR_IPA: u64 = 0x080A_0000;
const GICR_STRIDE: u64 = 0x2_0000;
const UART_IPA: u64 = 0x0900_0000;
/// The UART's SPI (INTID 33).
const UART_SPI: u32 = 1;
/// 2 MiB: the kernel's alignment, and the DTB's slot.
const MIB2: u64 = 2 << 20;
/// The line `/init` prints first; the tier looks for it.
pub const BANNER: &str = "WARDEN-LINUX: Linux";
/// The prefix of the Realm's console lines on the QEMU console (the VMM's PL011 model).
pub const REALM_PREFIX: &str = "realm| ";
/// The host driver scenario that boots Linux.
const SCENARIO: &str = "linux";
/// The start of the VMM's teardown line (testbed/host/src/vmm/run.rs).
pub const TEARDOWN: &str = "host: linux: teardown in ";

/// Options of `linux`.
#[derive(Args, Debug, Clone)]
pub struct LinuxArgs {
    /// vCPUs (RECs, each on its own physical CPU; the others start by PSCI CPU_ON).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=2))]
    pub smp: u32,
    /// Realm RAM in MiB (all of it RIPAS RAM before activation).
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u64).range(64..=512))]
    pub ram_mib: u64,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 120)]
    pub timeout: u64,
    /// The kernel's full log and earlycon on the aliased (unprotected) UART address.
    #[arg(long)]
    pub verbose: bool,
    /// Populate all Realm RAM before activation (DATA_CREATE_UNKNOWN per granule) instead of on
    /// the Realm's first touch of each 128 KiB block.
    #[arg(long)]
    pub eager: bool,
    /// Extra arguments appended to the QEMU command line (repeat for several).
    #[arg(long = "qemu-arg", value_name = "ARG", allow_hyphen_values = true)]
    pub qemu_args: Vec<String>,
}

fn cache_dir() -> PathBuf {
    tasks::target_dir().join("linux")
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The pinned .deb, verified: from the cache, or fetched with apt into it.
fn fetch(pins: &[&Pin]) -> Result<Vec<PathBuf>> {
    let debs = cache_dir().join("debs");
    fs::create_dir_all(&debs)?;
    let cached = |p: &Pin| {
        let path = debs.join(p.file);
        fs::read(&path)
            .ok()
            .filter(|b| sha256_hex(b) == p.sha256)
            .map(|_| path)
    };
    let missing: Vec<&&Pin> = pins.iter().filter(|p| cached(p).is_none()).collect();
    if !missing.is_empty() {
        let names: Vec<&str> = missing.iter().map(|p| p.package).collect();
        step(&format!("fetching {} (arm64) with apt", names.join(", ")));
        apt_download(&missing, &debs).map_err(|e| {
            Error::new(format!(
                "could not fetch the Debian packages for the Linux Realm ({e}); this needs the \
                 network and the machine's Debian mirror (its apt sources), once: the .debs are \
                 cached in {}",
                debs.display()
            ))
        })?;
    }
    pins.iter()
        .map(|p| {
            let path = debs.join(p.file);
            let bytes = fs::read(&path)
                .map_err(|e| Error::new(format!("{} not fetched: {e}", path.display())))?;
            let got = sha256_hex(&bytes);
            if got != p.sha256 {
                return Err(Error::new(format!(
                    "{}: sha256 {got}, pinned {} — refusing to use it",
                    path.display(),
                    p.sha256
                )));
            }
            Ok(path)
        })
        .collect()
}

/// `apt-get update` + `apt-get download` with private state under the cache (the machine's apt
/// state is never touched) and a sources list naming the machine's own Debian mirror.
fn apt_download(pins: &[&&Pin], into: &Path) -> Result<()> {
    let apt = cache_dir().join("apt");
    for d in ["lists/partial", "cache/archives/partial"] {
        fs::create_dir_all(apt.join(d))?;
    }
    // The mirror the machine's own Debian suite comes from (any Debian mirror has every suite).
    let files = install::read_apt_sources();
    let codename =
        install::os_release_codename(&fs::read_to_string("/etc/os-release").unwrap_or_default());
    let mirror = codename
        .iter()
        .map(String::as_str)
        .chain(["bookworm", "trixie", "forky", "sid"])
        .find_map(|suite| install::find_mirror(&files, suite))
        .ok_or_else(|| {
            Error::new("no Debian apt source found in /etc/apt/sources.list(.d) to take the mirror from")
        })?;
    let mut suites: Vec<&str> = pins.iter().map(|p| p.suite).collect();
    suites.sort_unstable();
    suites.dedup();
    let signed = mirror
        .signed_by
        .as_deref()
        .map(|k| format!("[signed-by={k}] "))
        .unwrap_or_default();
    let list: String = suites
        .iter()
        .map(|s| format!("deb {signed}{} {s} main\n", mirror.uri))
        .collect();
    let sources = apt.join("sources.list");
    fs::write(&sources, list)?;
    let opts = |cmd: &mut Command| {
        cmd.arg("-o")
            .arg(format!("Dir::Etc::SourceList={}", sources.display()))
            .args(["-o", "Dir::Etc::SourceParts=/dev/null"])
            .arg("-o")
            .arg(format!("Dir::State::Lists={}", apt.join("lists").display()))
            .arg("-o")
            .arg(format!("Dir::Cache={}", apt.join("cache").display()))
            .args(["-o", "Dir::State::status=/dev/null"])
            .args(["-o", "APT::Architecture=arm64", "-o", "APT::Architectures=arm64"])
            .args(["-o", "APT::Sandbox::User=root", "-q"]);
    };
    let mut update = Command::new("apt-get");
    opts(&mut update);
    update.arg("update");
    util::run(&mut update)?;
    let mut download = Command::new("apt-get");
    opts(&mut download);
    download.arg("download").current_dir(into);
    for p in pins {
        download.arg(format!("{}:arm64={}", p.package, p.version));
    }
    util::run(&mut download)
}

/// Where [`extract`] unpacks `pin`.
fn extracted(pin: &Pin) -> PathBuf {
    cache_dir().join("x").join(pin.package)
}

/// `dpkg-deb -x` of `deb` (cached), returning the path of `member` inside it.
fn extract(deb: &Path, pin: &Pin) -> Result<PathBuf> {
    let dir = extracted(pin);
    let member = dir.join(pin.member);
    if !member.exists() {
        fs::create_dir_all(&dir)?;
        util::run(Command::new("dpkg-deb").arg("-x").arg(deb).arg(&dir))?;
    }
    if member.exists() {
        Ok(member)
    } else {
        Err(Error::new(format!("{} has no {}", deb.display(), pin.member)))
    }
}

/// What the arm64 Image header says (Documentation/arch/arm64/booting.rst).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageHeader {
    /// `text_offset`.
    pub text_offset: u64,
    /// `image_size`: bytes from the load address the kernel uses (BSS included).
    pub image_size: u64,
    /// `flags`.
    pub flags: u64,
}

/// Parses the 64-byte arm64 Image header.
pub fn image_header(image: &[u8]) -> Option<ImageHeader> {
    let u64_at = |o: usize| Some(u64::from_le_bytes(image.get(o..o + 8)?.try_into().ok()?));
    if image.get(0x38..0x3C)? != b"ARM\x64" {
        return None;
    }
    Some(ImageHeader {
        text_offset: u64_at(0x08)?,
        image_size: u64_at(0x10)?,
        flags: u64_at(0x18)?,
    })
}

/// The raw Image from Debian's `vmlinuz` (gunzipped if it ever ships gzip-compressed).
pub fn raw_image(vmlinuz: Vec<u8>) -> Result<Vec<u8>> {
    if vmlinuz.starts_with(&[0x1F, 0x8B]) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&vmlinuz[..])
            .read_to_end(&mut out)
            .map_err(|e| Error::new(format!("gunzip of the kernel failed: {e}")))?;
        Ok(out)
    } else {
        Ok(vmlinuz)
    }
}

/// One newc cpio member.
pub enum CpioEntry<'a> {
    /// A directory (mode 0755).
    Dir(&'a str),
    /// A regular file with its mode bits.
    File(&'a str, u32, &'a [u8]),
    /// A character device (mode 0600) with its major and minor.
    CharDev(&'a str, u32, u32),
}

/// A newc ("070701") cpio archive of `entries`, with the trailer.
pub fn cpio_newc(entries: &[CpioEntry<'_>]) -> Vec<u8> {
    fn pad4(out: &mut Vec<u8>) {
        while !out.len().is_multiple_of(4) {
            out.push(0);
        }
    }
    let mut out = Vec::new();
    let mut put = |ino: u32, name: &str, mode: u32, rdev: (u32, u32), data: &[u8]| {
        let fields = [
            ino,
            mode,
            0,
            0,
            if mode & 0o040000 != 0 { 2 } else { 1 },
            0,
            data.len() as u32,
            0,
            0,
            rdev.0,
            rdev.1,
            name.len() as u32 + 1,
            0,
        ];
        out.extend_from_slice(b"070701");
        for f in fields {
            out.extend_from_slice(format!("{f:08X}").as_bytes());
        }
        out.extend_from_slice(name.as_bytes());
        out.push(0);
        pad4(&mut out);
        out.extend_from_slice(data);
        pad4(&mut out);
    };
    for (i, e) in entries.iter().enumerate() {
        let ino = i as u32 + 1;
        match *e {
            CpioEntry::Dir(name) => put(ino, name, 0o040755, (0, 0), &[]),
            CpioEntry::File(name, mode, data) => put(ino, name, 0o100000 | mode, (0, 0), data),
            CpioEntry::CharDev(name, major, minor) => {
                put(ino, name, 0o020600, (major, minor), &[])
            }
        }
    }
    put(0, "TRAILER!!!", 0, (0, 0), &[]);
    out
}

/// `/init`: a banner with `uname -r`, the CPUs Linux brought up, what it says about the Realm; then
/// the attestation: loads the modules, asks configfs-tsm for a report with the challenge from the
/// command line and prints the token ([`attest::TOKEN_PREFIX`] lines, then [`attest::TOKEN_END`]);
/// then `poweroff -f` (PSCI SYSTEM_OFF).
pub fn init_script() -> String {
    let modules: Vec<&str> = attest::MODULES
        .iter()
        .map(|(path, _)| attest::module_file(path))
        .collect();
    format!(
        r#"#!/bin/busybox sh
/bin/busybox mkdir -p /proc /sys /dev /sbin /usr/bin /usr/sbin /tmp
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
echo "WARDEN-LINUX: Linux $(uname -r) $(uname -m) up $(cut -d' ' -f1 /proc/uptime) s"
echo "WARDEN-LINUX: cpus: $(grep -c ^processor /proc/cpuinfo) in /proc/cpuinfo, online $(cat /sys/devices/system/cpu/online)"
echo "WARDEN-LINUX: $(grep MemTotal /proc/meminfo | tr -s ' ')"
dmesg | grep -i -E 'rsi|realm|rme' | sed 's/^/WARDEN-LINUX: dmesg: /'
attest() {{
  for m in {modules}; do
    insmod /lib/modules/$m.ko || {{ echo "WARDEN-LINUX: attestation: insmod $m failed"; return; }}
  done
  mount -t configfs configfs /sys/kernel/config || {{ echo "WARDEN-LINUX: attestation: no configfs"; return; }}
  c=$(sed -n 's/.*{param}\([0-9a-f]*\).*/\1/p' /proc/cmdline)
  r=/sys/kernel/config/tsm/report/warden
  mkdir $r || {{ echo "WARDEN-LINUX: attestation: no TSM report interface"; dmesg | tail -5; return; }}
  echo -n "$c" | xxd -r -p > $r/inblob || {{ echo "WARDEN-LINUX: attestation: inblob refused"; return; }}
  t0=$(cut -d' ' -f1 /proc/uptime)
  cat $r/outblob > /tmp/token || {{ echo "WARDEN-LINUX: attestation: outblob failed"; dmesg | tail -5; return; }}
  t1=$(cut -d' ' -f1 /proc/uptime)
  echo "WARDEN-LINUX: attestation: provider $(cat $r/provider), challenge $(echo $c | cut -c1-16)..., token $(wc -c < /tmp/token) bytes (uptime $t0 to $t1 s)"
  {{ od -An -v -tx1 /tmp/token | tr -d ' \n'; echo; }} | fold -w 128 | {{
    i=0
    while read l; do echo "{prefix}$i $l"; i=$((i+1)); done
  }}
  echo "{end}$(wc -c < /tmp/token) $(sha256sum /tmp/token | cut -d' ' -f1)"
}}
attest
echo "WARDEN-LINUX: powering off"
poweroff -f
"#,
        modules = modules.join(" "),
        param = attest::CHALLENGE_PARAM.replace('.', "\\."),
        prefix = attest::TOKEN_PREFIX,
        end = attest::TOKEN_END,
    )
}

/// The initramfs: busybox, `/init`, the mount points, `/dev/console` and the `modules` (file name
/// as [`attest::module_file`] gives it, decompressed `.ko`) as `/lib/modules/<file>.ko`,
/// gzip-compressed.
pub fn initramfs(busybox: &[u8], modules: &[(&str, Vec<u8>)]) -> Result<Vec<u8>> {
    let init = init_script();
    let names: Vec<String> = modules
        .iter()
        .map(|(name, _)| format!("lib/modules/{name}.ko"))
        .collect();
    let mut entries = vec![
        CpioEntry::Dir("bin"),
        CpioEntry::Dir("dev"),
        CpioEntry::Dir("proc"),
        CpioEntry::Dir("sys"),
        CpioEntry::Dir("lib"),
        CpioEntry::Dir("lib/modules"),
        CpioEntry::CharDev("dev/console", 5, 1),
        CpioEntry::File("bin/busybox", 0o755, busybox),
        CpioEntry::File("init", 0o755, init.as_bytes()),
    ];
    for (name, (_, ko)) in names.iter().zip(modules) {
        entries.push(CpioEntry::File(name, 0o644, ko));
    }
    let cpio = cpio_newc(&entries);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&cpio)?;
    Ok(gz.finish()?)
}

/// The Realm as the VMM builds it and Linux sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// vCPUs.
    pub cpus: u32,
    /// RAM bytes from [`RAM_IPA`].
    pub ram_size: u64,
    /// Image: bytes of the file (4 KiB padded) and of the kernel's whole footprint.
    pub image_file: u64,
    /// `image_size` from the header.
    pub image_mem: u64,
    /// DTB IPA and (padded) size.
    pub dtb_ipa: u64,
    /// Padded DTB size.
    pub dtb_size: u64,
    /// initrd IPA and size (padded to 4 KiB; `linux,initrd-end` is the unpadded end).
    pub initrd_ipa: u64,
    /// Unpadded initrd size.
    pub initrd_size: u64,
    /// Kernel command line.
    pub bootargs: String,
    /// All RAM populated before activation.
    pub eager: bool,
}

const fn align_up(v: u64, a: u64) -> u64 {
    v.div_ceil(a) * a
}

impl Layout {
    /// The layout for a kernel with `header` and file size `image_file`, and an initrd.
    pub fn new(
        cpus: u32,
        ram_mib: u64,
        header: &ImageHeader,
        image_file: u64,
        initrd_size: u64,
        verbose: bool,
    ) -> Result<Layout> {
        let image_mem = header.image_size.max(image_file);
        let dtb_ipa = align_up(RAM_IPA + image_mem, MIB2);
        let initrd_ipa = dtb_ipa + MIB2;
        let ram_size = ram_mib << 20;
        if initrd_ipa + align_up(initrd_size, 0x1000) + (32 << 20) > RAM_IPA + ram_size {
            return Err(Error::new(format!(
                "{ram_mib} MiB of Realm RAM cannot hold the {image_mem}-byte kernel, the DTB, the \
                 {initrd_size}-byte initrd and 32 MiB to run in"
            )));
        }
        let uart_alias = UART_IPA | (1 << (IPA_BITS - 1));
        let mut bootargs = String::from("console=ttyAMA0 panic=-1 cma=0 swiotlb=noforce nokaslr");
        if verbose {
            bootargs.push_str(&format!(" earlycon=pl011,mmio32,{uart_alias:#x}"));
        } else {
            bootargs.push_str(" quiet");
        }
        Ok(Layout {
            cpus,
            ram_size,
            image_file: align_up(image_file, 0x1000),
            image_mem,
            dtb_ipa,
            dtb_size: 0,
            initrd_ipa,
            initrd_size,
            bootargs,
            eager: false,
        })
    }

    /// The Realm's device tree (see ../shared/spec/linux-realm-guest.md §3.3).
    pub fn dtb(&self) -> Vec<u8> {
        const GIC: u32 = 1;
        const CLK: u32 = 2;
        let mut f = fdt::Writer::new();
        f.begin("");
        f.u32("#address-cells", 2);
        f.u32("#size-cells", 2);
        f.strs("compatible", &["linux,dummy-virt"]);
        f.u32("interrupt-parent", GIC);
        f.begin("chosen");
        f.strs("bootargs", &[&self.bootargs]);
        f.u64s("linux,initrd-start", &[self.initrd_ipa]);
        f.u64s("linux,initrd-end", &[self.initrd_ipa + self.initrd_size]);
        f.end();
        f.begin(&format!("memory@{RAM_IPA:x}"));
        f.strs("device_type", &["memory"]);
        f.u64s("reg", &[RAM_IPA, self.ram_size]);
        f.end();
        f.begin("cpus");
        f.u32("#address-cells", 1);
        f.u32("#size-cells", 0);
        for cpu in 0..self.cpus {
            f.begin(&format!("cpu@{cpu}"));
            f.strs("device_type", &["cpu"]);
            f.strs("compatible", &["arm,armv8"]);
            f.u32("reg", cpu);
            f.strs("enable-method", &["psci"]);
            f.end();
        }
        f.end();
        f.begin("psci");
        f.strs("compatible", &["arm,psci-1.0", "arm,psci-0.2"]);
        f.strs("method", &["smc"]);
        f.end();
        f.begin(&format!("intc@{GICD_IPA:x}"));
        f.strs("compatible", &["arm,gic-v3"]);
        f.u32("#interrupt-cells", 3);
        f.empty("interrupt-controller");
        f.u32("#redistributor-regions", 1);
        f.u64s(
            "reg",
            &[
                GICD_IPA,
                0x1_0000,
                GICR_IPA,
                GICR_STRIDE * u64::from(self.cpus),
            ],
        );
        f.u32("phandle", GIC);
        f.end();
        f.begin("timer");
        f.strs("compatible", &["arm,armv8-timer"]);
        // PPIs 13 (secure phys), 14 (phys), 11 (virt: INTID 27), 10 (hyp), level-high.
        f.u32s("interrupts", &[1, 13, 4, 1, 14, 4, 1, 11, 4, 1, 10, 4]);
        f.empty("always-on");
        f.end();
        f.begin("apb-pclk");
        f.strs("compatible", &["fixed-clock"]);
        f.u32("#clock-cells", 0);
        f.u32("clock-frequency", 24_000_000);
        f.strs("clock-output-names", &["clk24mhz"]);
        f.u32("phandle", CLK);
        f.end();
        f.begin(&format!("pl011@{UART_IPA:x}"));
        f.strs("compatible", &["arm,pl011", "arm,primecell"]);
        f.u64s("reg", &[UART_IPA, 0x1000]);
        f.u32s("interrupts", &[0, UART_SPI, 4]);
        f.u32s("clocks", &[CLK, CLK]);
        f.strs("clock-names", &["uartclk", "apb_pclk"]);
        f.end();
        f.end();
        f.finish()
    }

    /// The boot descriptor (little-endian words; testbed/host/src/vmm/mod.rs `Descriptor`).
    pub fn descriptor(&self) -> Vec<u8> {
        let words: [u64; 17] = [
            u64::from_le_bytes(*DESCRIPTOR_MAGIC),
            1,
            u64::from(IPA_BITS),
            RAM_IPA,
            self.ram_size,
            u64::from(self.cpus),
            IMAGE_NS,
            self.image_file,
            self.image_mem,
            RAM_IPA,
            DTB_NS,
            self.dtb_size,
            self.dtb_ipa,
            INITRD_NS,
            align_up(self.initrd_size, 0x1000),
            self.initrd_ipa,
            u64::from(self.eager),
        ];
        let mut out: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
        out.resize(0x1000, 0);
        out
    }
}

/// Writes `bytes` padded to a whole number of 4 KiB granules (what DATA_CREATE measures).
fn write_padded(path: &Path, bytes: &[u8]) -> Result<u64> {
    let mut b = bytes.to_vec();
    b.resize(align_up(b.len() as u64, 0x1000) as usize, 0);
    fs::write(path, &b)?;
    Ok(b.len() as u64)
}

/// The files QEMU's loader puts in NS DRAM, as `-device loader` arguments.
pub struct Inputs {
    /// QEMU arguments.
    pub loader_args: Vec<String>,
    /// The kernel release (from the package).
    pub release: String,
    /// This run's attestation challenge (on the kernel command line).
    pub challenge: [u8; 64],
    /// The boot descriptor.
    pub descriptor: Vec<u8>,
    /// The Image, DTB and initrd file names (in [`cache_dir`]).
    pub files: [String; 3],
}

/// The attestation modules from the extracted `linux-modules` package, decompressed and checked,
/// in load order.
fn modules(release: &str) -> Result<Vec<(&'static str, Vec<u8>)>> {
    let root = extracted(&MODULES)
        .join("usr/lib/modules")
        .join(release)
        .join("kernel");
    let mods = attest::MODULES
        .iter()
        .map(|(path, name)| {
            let p = root.join(path);
            let xz = fs::read(&p).map_err(|e| Error::new(format!("{}: {e}", p.display())))?;
            let ko = attest::unxz(&xz).map_err(|e| Error::new(format!("{}: {e}", p.display())))?;
            Ok((*name, ko))
        })
        .collect::<Result<Vec<_>>>()?;
    let view: Vec<(&str, &[u8])> = mods.iter().map(|(n, k)| (*n, &k[..])).collect();
    attest::check_modules(&view, release).map_err(Error::new)?;
    // The file name `/init` loads: the module's file name (arm-cca-guest), not its name.
    Ok(attest::MODULES
        .iter()
        .zip(mods)
        .map(|((path, _), (_, ko))| (attest::module_file(path), ko))
        .collect())
}

/// Fetches (cached), extracts, builds the initramfs, DTB and descriptor.
pub fn prepare(smp: u32, ram_mib: u64, verbose: bool, eager: bool) -> Result<Inputs> {
    let debs = fetch(&[&KERNEL, &BUSYBOX, &MODULES])?;
    let vmlinuz = extract(&debs[0], &KERNEL)?;
    let busybox = extract(&debs[1], &BUSYBOX)?;
    extract(&debs[2], &MODULES)?;
    let out = cache_dir();
    let image = raw_image(fs::read(&vmlinuz)?)?;
    let header = image_header(&image).ok_or_else(|| {
        Error::new(format!(
            "{} is not an arm64 Image (no ARM\\x64 magic)",
            vmlinuz.display()
        ))
    })?;
    if header.text_offset != 0 || header.flags & 0b1110 != 0b1010 {
        return Err(Error::new(format!(
            "unexpected Image header {header:?}: want text_offset 0, little-endian, 4K pages, placeable anywhere"
        )));
    }
    if image.len() as u64 > INITRD_NS - IMAGE_NS {
        return Err(Error::new("the Image does not fit below the initrd's NS address"));
    }
    let release = KERNEL
        .member
        .split('/')
        .nth(3)
        .unwrap_or("?")
        .to_string();
    let kos = modules(&release)?;
    let initrd = initramfs(&fs::read(&busybox)?, &kos)?;
    if initrd.len() as u64 > DTB_NS - INITRD_NS {
        return Err(Error::new("the initrd does not fit below the DTB's NS address"));
    }
    let image_path = out.join("Image");
    let image_file = write_padded(&image_path, &image)?;
    let initrd_path = out.join("initrd.cpio.gz");
    write_padded(&initrd_path, &initrd)?;
    let mut layout = Layout::new(
        smp,
        ram_mib,
        &header,
        image_file,
        initrd.len() as u64,
        verbose,
    )?;
    layout.eager = eager;
    // This run's challenge, in the DTB's bootargs (so measured: the description names the DTB).
    let challenge = attest::challenge();
    layout
        .bootargs
        .push_str(&format!(" {}{}", attest::CHALLENGE_PARAM, attest::hex(&challenge)));
    let dtb = layout.dtb();
    let dtb_path = out.join(format!("realm-{smp}cpu.dtb"));
    layout.dtb_size = write_padded(&dtb_path, &dtb)?;
    let desc_path = out.join(format!("boot-{smp}cpu.bin"));
    let descriptor = layout.descriptor();
    fs::write(&desc_path, &descriptor)?;
    step(&format!(
        "Linux {release}: Image {} bytes (image_size {:#x}), initrd {} bytes ({} modules: {}), DTB {} bytes; Realm {} vCPU(s), {} MiB RAM at {RAM_IPA:#x}, IPA width {IPA_BITS}",
        image.len(),
        header.image_size,
        initrd.len(),
        kos.len(),
        kos.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", "),
        dtb.len(),
        smp,
        ram_mib
    ));
    step(&format!("attestation challenge (this run): {}", attest::hex(&challenge)));
    let name = |p: &Path| p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let loader = |p: &Path, addr: u64| {
        vec![
            "-device".to_string(),
            format!("loader,file={},addr={addr:#x},force-raw=on", p.display()),
        ]
    };
    let mut loader_args = Vec::new();
    for (p, a) in [
        (&image_path, IMAGE_NS),
        (&initrd_path, INITRD_NS),
        (&dtb_path, DTB_NS),
        (&desc_path, DESCRIPTOR_NS),
    ] {
        loader_args.extend(loader(p, a));
    }
    Ok(Inputs {
        loader_args,
        release,
        challenge,
        descriptor,
        files: [name(&image_path), name(&dtb_path), name(&initrd_path)],
    })
}

/// How a Linux boot went.
pub struct Boot {
    /// QEMU's exit code (None: stopped).
    pub code: Option<i32>,
    /// Console lines.
    pub console: Vec<String>,
    /// Wall time.
    pub secs: f64,
}

/// Boots QEMU with Warden, the host driver in `linux` mode and the Realm's inputs; echoes the
/// console live when `echo`, and stops on timeout or a FATAL line.
fn boot(args: &LinuxArgs, echo: bool) -> Result<(Boot, Inputs)> {
    let inputs = prepare(args.smp, args.ram_mib, args.verbose, args.eager)?;
    let built = tasks::build_images(None, None)?;
    qemu::require()?;
    let workdir = tasks::target_dir().join("qemu-linux");
    fs::create_dir_all(&workdir)?;
    crate::trace::clear(&workdir);
    let mut extra = inputs.loader_args.clone();
    extra.extend(args.qemu_args.iter().cloned());
    let opts = qemu::Options {
        timeout_secs: args.timeout,
        extra_args: extra,
        only: Some(SCENARIO.to_string()),
    };
    let mut cmd = qemu::command(&built.images, &opts, &workdir);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    step(&format!(
        "booting QEMU (timeout {} s): {}",
        args.timeout,
        util::describe(&cmd)
    ));
    let start = Instant::now();
    let mut child = cmd
        .spawn()
        .map_err(|e| Error::new(format!("cannot start {}: {e}", qemu::QEMU)))?;
    let (tx, rx) = mpsc::channel::<String>();
    for stream in [
        child.stdout.take().map(|s| Box::new(s) as Box<dyn Read + Send>),
        child.stderr.take().map(|s| Box::new(s) as Box<dyn Read + Send>),
    ]
    .into_iter()
    .flatten()
    {
        let tx = tx.clone();
        thread::spawn(move || {
            for line in BufReader::new(stream).split(b'\n').map_while(|l| l.ok()) {
                let text = String::from_utf8_lossy(&line).trim_end_matches('\r').to_string();
                if tx.send(text).is_err() {
                    break;
                }
            }
        });
    }
    drop(tx);
    let deadline = start + Duration::from_secs(args.timeout);
    let mut console = Vec::new();
    let mut fatal_at: Option<Instant> = None;
    let code = loop {
        while let Ok(line) = rx.recv_timeout(Duration::from_millis(50)) {
            if echo {
                println!("{line}");
            }
            if fatal_at.is_none() && qemu::is_fatal(&line) {
                fatal_at = Some(Instant::now());
            }
            console.push(line);
        }
        if let Some(status) = child.try_wait()? {
            console.extend(rx.try_iter().inspect(|l| {
                if echo {
                    println!("{l}");
                }
            }));
            break status.code();
        }
        let now = Instant::now();
        if now >= deadline || fatal_at.is_some_and(|t| now >= t + qemu::FATAL_GRACE) {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
    };
    fs::write(workdir.join("console.log"), console.join("\n") + "\n")?;
    Ok((
        Boot {
            code,
            console,
            secs: start.elapsed().as_secs_f64(),
        },
        inputs,
    ))
}

/// What is wrong with the VMM's teardown line, if anything: it must say that every granule the VMM
/// delegated was undelegated and read back zero through NS (`… {u} of {d} delegated granules
/// undelegated; {z} read back zero …` with u = d = z > 0).
pub fn teardown_verdict(console: &[String]) -> std::result::Result<(), String> {
    let line = console
        .iter()
        .find(|l| l.starts_with(TEARDOWN))
        .ok_or("no teardown line from the VMM (the Realm was not destroyed)")?;
    let number_before = |what: &str| -> Option<u64> {
        let head = &line[..line.find(what)?];
        head.rsplit(' ').next()?.parse().ok()
    };
    let undelegated = number_before(" of ");
    let delegated = number_before(" delegated granules undelegated");
    let zero = number_before(" read back zero");
    match (undelegated, delegated, zero) {
        (Some(u), Some(d), Some(z)) if u == d && z == d && d > 0 => Ok(()),
        _ => Err(format!("the teardown did not return every granule: `{line}`")),
    }
}

/// What is wrong with a boot's console, if anything: the banner with the kernel release, the
/// CPU count, a PASS line for the scenario, the teardown line and QEMU's clean exit.
pub fn verdict(boot: &Boot, release: &str, cpus: u32) -> std::result::Result<String, String> {
    let realm: Vec<&str> = boot
        .console
        .iter()
        .filter_map(|l| l.strip_prefix(REALM_PREFIX))
        .collect();
    let banner = realm
        .iter()
        .find(|l| l.starts_with(BANNER))
        .ok_or("no banner from /init on the Realm's console")?;
    if !banner.contains(release) {
        return Err(format!("the banner `{banner}` does not name {release}"));
    }
    let want = format!("cpus: {cpus} in /proc/cpuinfo");
    if !realm.iter().any(|l| l.contains(&want)) {
        return Err(format!("the Realm did not report `{want}`"));
    }
    let pass = boot
        .console
        .iter()
        .find(|l| l.starts_with(&format!("PASS {SCENARIO}:")))
        .ok_or_else(|| {
            boot.console
                .iter()
                .find(|l| l.starts_with(&format!("FAIL {SCENARIO}:")))
                .cloned()
                .unwrap_or_else(|| format!("no PASS {SCENARIO} line"))
        })?;
    teardown_verdict(&boot.console)?;
    match boot.code {
        Some(0) => Ok(format!("{banner}; {pass}")),
        Some(c) => Err(format!("QEMU exited with status {c}")),
        None => Err("QEMU was stopped (timeout or FATAL)".to_string()),
    }
}

/// The token file and the Realm description (in [`cache_dir`]).
pub const TOKEN_FILE: &str = "realm-token.cbor";
/// The Realm description the RIM is recomputed from (its files relative to it).
pub const REALM_DESCRIPTION: &str = "realm.json";

/// The attestation check of a boot: the token from the Realm's console (written to
/// [`TOKEN_FILE`]), the Realm description (written to [`REALM_DESCRIPTION`]), verified with
/// attest-verify (TEST IAK, binding, RPV, recomputed RIM, this run's challenge); then the negative
/// controls (a wrong challenge and a tampered description must fail). Returns the verdict line.
pub fn attestation(boot: &Boot, inputs: &Inputs) -> std::result::Result<String, String> {
    let realm = boot.console.iter().filter_map(|l| l.strip_prefix(REALM_PREFIX));
    let token = attest::collect_token(realm)?;
    let dir = cache_dir();
    let io = |p: &Path, e: std::io::Error| format!("{}: {e}", p.display());
    let token_path = dir.join(TOKEN_FILE);
    fs::write(&token_path, &token).map_err(|e| io(&token_path, e))?;
    let files = inputs.files.each_ref().map(String::as_str);
    let d = attest::description(&inputs.descriptor, files)?;
    let measured = d["steps"]
        .as_array()
        .map_or(0, |s| s.iter().filter(|s| s.get("data").is_some()).count());
    let path = dir.join(REALM_DESCRIPTION);
    fs::write(&path, attest::render(&d)).map_err(|e| io(&path, e))?;
    let t = Instant::now();
    let rim = attest::verify(&token, &path, &inputs.challenge).map_err(|e| {
        format!(
            "attestation: FAIL: {e} (token {}, description {}; `cargo run -p attest-verify -- {} --iak test --challenge {} --realm {} -v`)",
            token_path.display(),
            path.display(),
            token_path.display(),
            attest::hex(&inputs.challenge),
            path.display()
        )
    })?;
    let secs = t.elapsed().as_secs_f64();
    let [c, r] = attest::controls(&token, &path, &inputs.challenge, &rim)
        .map_err(|e| format!("attestation: the negative controls passed: {e}"))?;
    let short = |e: &str| e.chars().take(60).collect::<String>();
    let guest = boot
        .console
        .iter()
        .filter_map(|l| l.strip_prefix(REALM_PREFIX))
        .find_map(|l| l.strip_prefix("WARDEN-LINUX: attestation: "))
        .unwrap_or("");
    Ok(format!(
        "PASS attestation: {TOKEN_FILE} ({} B) verified by attest-verify in {secs:.1} s: realm signature (RAK), platform signature (TEST IAK, TEST lifecycle allowed), RAK binding, RPV, challenge {}..., RIM recomputed from {REALM_DESCRIPTION} ({measured} measured DATA_CREATEs) = token RIM {}; refused as it must be: wrong challenge ({}...), REC 0 pc off by 0x1000 ({}...); guest: {guest}",
        token.len(),
        &attest::hex(&inputs.challenge)[..16],
        attest::hex(&rim),
        short(&c),
        short(&r),
    ))
}

/// `cargo xtask linux`.
pub fn linux(args: &LinuxArgs) -> Result<()> {
    install::ensure(Needs::RUN)?;
    let (b, inputs) = boot(args, true)?;
    match verdict(&b, &inputs.release, args.smp).and_then(|v| Ok((v, attestation(&b, &inputs)?))) {
        Ok((v, a)) => {
            // Warden's trace of the whole scenario (build, run, teardown), drained as it ran.
            crate::trace::print_stats(&tasks::target_dir().join("qemu-linux"))?;
            step(&format!("Linux Realm boot OK in {:.1} s: {v}", b.secs));
            step(&a);
            Ok(())
        }
        Err(why) => Err(Error::new(format!(
            "Linux Realm boot failed after {:.1} s: {why} (console: target/qemu-linux/console.log)",
            b.secs
        ))),
    }
}

/// The `cargo xtask test` tier: the boot with `smp` vCPUs, console captured, at most `timeout` s.
pub fn tier(smp: u32, timeout: u64) -> Result<String> {
    let args = LinuxArgs {
        smp,
        ram_mib: 256,
        timeout,
        verbose: false,
        eager: false,
        qemu_args: Vec::new(),
    };
    let (b, inputs) = boot(&args, false)?;
    match verdict(&b, &inputs.release, smp).and_then(|v| Ok((v, attestation(&b, &inputs)?))) {
        Ok((v, a)) => Ok(format!(
            "Linux Realm ({smp} vCPUs) booted in {:.1} s: {v}\n{a}",
            b.secs
        )),
        Err(why) => {
            eprintln!("---- console tail (target/qemu-linux/console.log) ----");
            for line in qemu::tail(&b.console, 40) {
                eprintln!("{line}");
            }
            eprintln!("---- end of console tail ----");
            Err(Error::new(format!(
                "Linux Realm boot failed after {:.1} s: {why}",
                b.secs
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpio_layout() {
        let a = cpio_newc(&[CpioEntry::Dir("bin"), CpioEntry::File("init", 0o755, b"#!x\n")]);
        assert!(a.starts_with(b"070701"));
        // Header 110 bytes + "bin\0" = 114, padded to 116.
        assert_eq!(&a[110..114], b"bin\0");
        let second = &a[116..];
        assert!(second.starts_with(b"070701"));
        // mode of the file, then its size (field 7).
        assert_eq!(&second[14..22], b"000081ED");
        assert_eq!(&second[54..62], b"00000004");
        assert_eq!(&second[110..115], b"init\0");
        assert_eq!(&second[116..120], b"#!x\n");
        assert!(a.windows(10).any(|w| w == b"TRAILER!!!"));
        assert_eq!(a.len() % 4, 0);
    }

    #[test]
    fn image_header_and_gzip() {
        let mut img = vec![0u8; 64];
        img[0x10..0x18].copy_from_slice(&0x25c_0000u64.to_le_bytes());
        img[0x18..0x20].copy_from_slice(&0xAu64.to_le_bytes());
        img[0x38..0x3C].copy_from_slice(b"ARM\x64");
        let h = image_header(&img).unwrap();
        assert_eq!((h.text_offset, h.image_size, h.flags), (0, 0x25c_0000, 0xA));
        assert!(image_header(&[0; 64]).is_none());
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&img).unwrap();
        assert_eq!(raw_image(gz.finish().unwrap()).unwrap(), img);
        assert_eq!(raw_image(img.clone()).unwrap(), img);
    }

    #[test]
    fn layout_dtb_and_descriptor() {
        let h = ImageHeader {
            text_offset: 0,
            image_size: 0x28d_0000,
            flags: 0xA,
        };
        let l = Layout::new(2, 256, &h, 0x27d_c000, 1_000_000, false).unwrap();
        assert_eq!(l.dtb_ipa, 0x82A0_0000);
        assert_eq!(l.initrd_ipa, 0x82C0_0000);
        assert!(l.bootargs.contains("quiet") && !l.bootargs.contains("earlycon"));
        let v = Layout::new(1, 256, &h, 0x27d_c000, 1_000_000, true).unwrap();
        assert!(v.bootargs.contains("earlycon=pl011,mmio32,0x8009000000"));
        assert!(Layout::new(1, 32, &h, 0x27d_c000, 1_000_000, false).is_err());
        let dtb = l.dtb();
        let tree = fdt::parse(&dtb).unwrap();
        assert!(tree.contains(&"/psci:method=smc".to_string()));
        assert!(tree.contains(&"/cpus/cpu@1:enable-method=psci".to_string()));
        assert!(tree.contains(&"/intc@8000000:interrupt-controller".to_string()));
        assert!(tree.iter().any(|p| p.starts_with("/chosen:bootargs=console=ttyAMA0")));
        let d = l.descriptor();
        assert_eq!(&d[..8], DESCRIPTOR_MAGIC);
        assert_eq!(d.len(), 0x1000);
        assert_eq!(u64::from_le_bytes(d[40..48].try_into().unwrap()), 2, "cpus");
    }

    #[test]
    fn init_script_attests() {
        let s = init_script();
        let loads = s.find("for m in configfs tsm_report arm-cca-guest; do").unwrap();
        assert!(s[loads..].contains("insmod /lib/modules/$m.ko"));
        assert!(s.contains(r"s/.*warden\.challenge=\([0-9a-f]*\).*/\1/p"));
        assert!(s.contains("echo \"WARDEN-TOKEN: $i $l\""));
        assert!(s.contains("echo \"WARDEN-TOKEN-END: $(wc -c < /tmp/token)"));
        assert!(s.find("attest\n").unwrap() < s.find("poweroff -f").unwrap());
        let gz = initramfs(b"bb", &[("configfs", b"ko".to_vec())]).unwrap();
        let mut cpio = Vec::new();
        flate2::read::GzDecoder::new(&gz[..]).read_to_end(&mut cpio).unwrap();
        assert!(cpio.windows(24).any(|w| w == b"lib/modules/configfs.ko\0"));
    }

    #[test]
    fn teardown_line() {
        let line = |u: u64, d: u64, z: u64| {
            vec![format!(
                "{TEARDOWN}2530 ms: 2 RECs, 17612 DATA (10454 measured, 7158 unmeasured), 129 RTTs destroyed, REALM_DESTROY ok; {u} of {d} delegated granules undelegated; {z} read back zero through NS (all of them, every word: 90 ms; trace drains 12 ms)"
            )]
        };
        assert_eq!(teardown_verdict(&line(17998, 17998, 17998)), Ok(()));
        assert!(teardown_verdict(&line(17997, 17998, 17997)).is_err());
        assert!(teardown_verdict(&line(17998, 17998, 17997)).is_err());
        assert!(teardown_verdict(&line(0, 0, 0)).is_err());
        assert!(teardown_verdict(&[]).is_err());
    }
}
