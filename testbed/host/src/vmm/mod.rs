//! A small VMM at NS-EL2: it builds a Realm holding an unmodified Linux kernel, runs it to
//! PSCI SYSTEM_OFF on Warden and tears it down (the `linux` scenario, run only when named:
//! `cargo xtask linux`).
//!
//! * `build.rs` — the Realm builder: the boot descriptor `cargo xtask linux` put in NS DRAM
//!   (`xtask/src/linux.rs`), then REALM_CREATE, RTTs, all RAM RIPAS RAM (RTT_INIT_RIPAS), the
//!   Image, DTB and initrd by measured DATA_CREATE straight from where QEMU's loader put them,
//!   the rest of RAM by DATA_CREATE_UNKNOWN (before activation with `--eager`, else on the
//!   Realm's first touch of each 128 KiB block), one REC per vCPU (REC 0 runnable at the Image with
//!   x0 = the DTB), REALM_ACTIVATE. Device windows are never touched, so they stay RIPAS EMPTY
//!   and Linux reaches them through the unprotected alias (MMIO exits).
//! * `run.rs` — the exit loop of one vCPU (REC *i* on physical CPU *i*): MMIO to the
//!   [`gic`] and [`pl011`] models, `ICC_SGI1R_EL1` exits, the virtual timer (PPI 27) and the
//!   UART's SPI injected through `RmiRecEnter`'s list registers, PSCI (CPU_ON: PSCI_COMPLETE and
//!   the next physical CPU; SYSTEM_OFF), RIPAS changes (RTT_SET_RIPAS before re-entering).
//!   Exits are counted by reason and printed at the end.
//! * `teardown.rs` — after SYSTEM_OFF, once every vCPU is out: REC_DESTROY, DATA_DESTROY of every
//!   populated page, RTT_DESTROY bottom-up, REALM_DESTROY, GRANULE_UNDELEGATE of everything
//!   delegated, and every delegated granule read back zero through NS.
//! * `account.rs` — Warden's trace drained while the Realm is built, run and torn down (so its
//!   rings never overflow; `trace-linux.bin`), and read back at the end: exits by reason and the
//!   run's time split between the Realm, Warden, EL3 and the VMM.
//!
//! No heap: the models live in one static behind a spin lock, shared by the vCPUs' CPUs. The VMM
//! never reads Realm memory (it cannot), never delegates memory outside its pool, and leaves
//! nothing delegated behind when its Realm has ended.

// Messages are fixed-size buffers (no heap in this driver), as in the scenarios.
#![allow(clippy::result_large_err)]

pub mod gic;
pub mod pl011;

#[cfg(target_os = "none")]
macro_rules! vmsg {
    ($($arg:tt)*) => {{
        let mut m = $crate::scenarios::Msg::new();
        let _ = core::fmt::Write::write_fmt(&mut m, format_args!($($arg)*));
        m
    }};
}

#[cfg(target_os = "none")]
mod account;
#[cfg(target_os = "none")]
mod build;
#[cfg(target_os = "none")]
mod run;
#[cfg(target_os = "none")]
mod teardown;

#[cfg(target_os = "none")]
pub use run::secondary;

/// The scenarios of this module: run only when named in the selection (`--only linux`).
#[cfg(target_os = "none")]
pub const SCENARIOS: &[crate::scenarios::Scenario] = &[crate::scenarios::Scenario {
    name: "linux",
    run: run::linux,
}];
