//! Where the time goes: the VMM drains Warden's trace rings while it builds, runs and tears down
//! the Realm (into the host driver's run trace, [`crate::trace::collect`], written out as
//! `trace-linux.bin` after the scenario), and at the end reads the records back to count the
//! Realm's exits by reason and to split the run's time between the Realm, Warden and EL3.
//!
//! What the trace can attribute (per CPU, records in the order their events ended, so an event's
//! nested events come before it):
//! * `RMI_REC_ENTER` (an `rmi` record) spans Warden's whole handling of one entry; the `rec_run`
//!   record inside it spans the run loop: the Realm's execution plus Warden's in-loop handling and
//!   the world switches. Their difference is Warden's entry checks and exit reporting.
//! * Inside the run loop, `rsi` and `psci` records are Warden's handlers, and `walk_*` records
//!   outside them its RTT walks for the Realm's aborts. What else Warden does in the loop (trap
//!   entry and return, ID-register emulation, exception injection) is not recorded: it stays in
//!   the Realm's share, which is therefore an upper bound.
//! * The VMM's own counter readings around `RMI_REC_ENTER` include EL3 and the SMC round trip as
//!   well; the remainder over the `rmi` record is theirs.
//!
//! Never decides anything about the Realm or Warden's behaviour: it only counts.

use warden_abi::fid::rmi::REC_ENTER;
use warden_abi::rec_run::RmiRecExitReason;
use warden_abi::trace::{EventKind, TraceRecord};

use crate::trace;

/// Drain the trace after this many granule operations (each records at most four events; a
/// ring holds 8192).
pub const DRAIN_OPS: u64 = 1024;
/// Drain the trace after this many exits of a vCPU (each records a handful of events).
pub const DRAIN_EXITS: u64 = 64;

fn cntpct() -> u64 {
    let c: u64;
    // SAFETY: reads the physical counter; no memory access.
    unsafe { core::arch::asm!("isb", "mrs {}, cntpct_el0", out(reg) c, options(nomem, nostack)) };
    c
}

/// Drains the ring of physical CPU `cpu` into the run trace; returns the counter ticks it took.
/// A Warden without the `trace` feature makes this one refused call.
pub fn drain(cpu: usize) -> u64 {
    let t = cntpct();
    let _ = trace::collect(cpu as u64);
    cntpct() - t
}

/// A count and the ticks summed over it.
#[derive(Clone, Copy, Default, Debug)]
pub struct Sum {
    /// Events.
    pub n: u64,
    /// Counter ticks.
    pub ticks: u64,
}

impl Sum {
    fn add(&mut self, ticks: u64) {
        self.n += 1;
        self.ticks += ticks;
    }
}

/// What the trace says about the run, summed over CPUs.
#[derive(Clone, Copy, Default, Debug)]
pub struct Split {
    /// What was collected (batches, records, drops).
    pub collected: trace::Collected,
    /// `RMI_REC_ENTER` commands (Warden's whole handling of each entry).
    pub rec_enter: Sum,
    /// Their run loops (the Realm, Warden's in-loop work, the world switches).
    pub rec_run: Sum,
    /// Run loops by the exit reason the Host saw (`RmiRecExitReason` values 0–6).
    pub by_reason: [u64; 7],
    /// SYNC exits by class: data abort, instruction abort, MSR/MRS (`ICC_SGI1R_EL1`), WFx, other.
    pub sync_by_class: [u64; 5],
    /// RSI calls Warden handled in the loop (and those it turned into exits).
    pub rsi: Sum,
    /// PSCI calls, likewise.
    pub psci: Sum,
    /// RTT walks in run loops, outside RSI/PSCI handlers.
    pub walks_in_run: Sum,
    /// RTT walks inside RSI/PSCI handlers (part of those).
    pub walks_in_rsi: Sum,
    /// Other RMI commands that ended inside the run window (the VMM's populating, RIPAS changes,
    /// PSCI_COMPLETE).
    pub other_rmi: Sum,
    /// EL3 granule transitions among those (part of them).
    pub el3: Sum,
}

impl Split {
    /// Warden's attributable ticks inside `RMI_REC_ENTER`: entry and exit around the loop, and
    /// its RSI/PSCI handlers and walks in it.
    pub fn warden_in_rec_enter(&self) -> u64 {
        self.entry_exit() + self.rsi.ticks + self.psci.ticks + self.walks_in_run.ticks
    }

    /// Warden's ticks in `RMI_REC_ENTER` outside the run loop.
    pub fn entry_exit(&self) -> u64 {
        self.rec_enter.ticks.saturating_sub(self.rec_run.ticks)
    }

    /// The run loops' ticks that the trace does not give to Warden: the Realm, plus Warden's
    /// unrecorded in-loop work (an upper bound on the Realm's time).
    pub fn realm(&self) -> u64 {
        self.rec_run
            .ticks
            .saturating_sub(self.rsi.ticks + self.psci.ticks + self.walks_in_run.ticks)
    }
}

/// Walks still waiting for the event around them, per CPU.
#[derive(Clone, Copy)]
struct Pending {
    /// The latest walks, `(start, ticks)`, oldest first.
    walks: [(u64, u64); 16],
    len: usize,
    /// Walks pushed out of `walks` (too many before their enclosing event): not inside any
    /// RSI/PSCI handler that ends later, as handlers make at most a few walks.
    older: Sum,
}

impl Pending {
    const EMPTY: Pending = Pending {
        walks: [(0, 0); 16],
        len: 0,
        older: Sum { n: 0, ticks: 0 },
    };

    fn push(&mut self, start: u64, ticks: u64) {
        if self.len == self.walks.len() {
            self.older.add(self.walks[0].1);
            self.walks.copy_within(1.., 0);
            self.len -= 1;
        }
        self.walks[self.len] = (start, ticks);
        self.len += 1;
    }

    /// Moves the walks that started at or after `start` (inside the event that just ended) to
    /// `into`.
    fn take_since(&mut self, start: u64, into: &mut Sum) {
        while self.len > 0 && self.walks[self.len - 1].0 >= start {
            self.len -= 1;
            into.add(self.walks[self.len].1);
        }
    }

    /// Moves every pending walk to `into`.
    fn take_all(&mut self, into: &mut Sum) {
        for &(_, t) in &self.walks[..self.len] {
            into.add(t);
        }
        into.n += self.older.n;
        into.ticks += self.older.ticks;
        *self = Pending::EMPTY;
    }
}

/// Reads the run trace back: exits by reason and the time split of the run window
/// `[start, end)` (counter values).
pub fn split(start: u64, end: u64) -> Split {
    let mut s = Split {
        collected: trace::collected(),
        ..Split::default()
    };
    let mut pending = [Pending::EMPTY; 8];
    let mut discarded = Sum::default();
    trace::collected_batches(|batch| {
        for r in batch.records() {
            account(&mut s, &mut pending, &mut discarded, &r, start, end);
        }
    });
    s
}

fn account(
    s: &mut Split,
    pending: &mut [Pending; 8],
    discarded: &mut Sum,
    r: &TraceRecord,
    start: u64,
    end: u64,
) {
    let Some(p) = pending.get_mut(usize::from(r.cpu)) else {
        return;
    };
    let ticks = u64::from(r.duration);
    match r.event() {
        Some(EventKind::WalkHit | EventKind::WalkMiss) => p.push(r.timestamp, ticks),
        Some(EventKind::Rsi) => {
            s.rsi.add(ticks);
            p.take_since(r.timestamp, &mut s.walks_in_rsi);
        }
        Some(EventKind::Psci) => {
            s.psci.add(ticks);
            p.take_since(r.timestamp, &mut s.walks_in_rsi);
        }
        Some(EventKind::RecRun) => {
            s.rec_run.add(ticks);
            p.take_all(&mut s.walks_in_run);
            let reason = r.id as usize;
            if let Some(c) = s.by_reason.get_mut(reason) {
                *c += 1;
            }
            if reason == RmiRecExitReason::Sync as usize {
                let class = match r.aux {
                    0x24 => 0,
                    0x20 => 1,
                    0x18 => 2,
                    0x01 => 3,
                    _ => 4,
                };
                s.sync_by_class[class] += 1;
            }
        }
        Some(EventKind::Rmi) => {
            // Walks of a command other than REC_ENTER are its own.
            p.take_all(discarded);
            let fid = warden_abi::fid::strip_sve_hint(u64::from(r.id));
            if fid == REC_ENTER {
                s.rec_enter.add(ticks);
            } else if (start..end).contains(&r.timestamp) {
                s.other_rmi.add(ticks);
            }
        }
        Some(EventKind::El3Gtsi) if (start..end).contains(&r.timestamp) => s.el3.add(ticks),
        _ => {}
    }
}
