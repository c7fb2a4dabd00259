//! Reading a trace file (concatenated drain batches) and naming what is in it.

use std::collections::BTreeMap;
use std::path::Path;

use warden_abi::fid::{RmiCommand, RsiCommand, el3, psci, smccc};
use warden_abi::rec_run::RmiRecExitReason;
use warden_abi::status::{RmiStatus, RsiStatus};
use warden_abi::trace::{EventKind, TraceRecord, decode_batch, flags};

/// One record and the counter frequency of the batch it came in.
#[derive(Clone, Copy, Debug)]
pub struct Event {
    /// The record.
    pub rec: TraceRecord,
    /// Counter frequency in Hz (0: unknown).
    pub freq: u64,
}

impl Event {
    /// The record's kind (records of unknown kinds are skipped at load).
    pub fn kind(&self) -> EventKind {
        self.rec.event().expect("known kinds only")
    }

    /// Duration in nanoseconds, if the frequency is known.
    pub fn duration_ns(&self) -> Option<f64> {
        ticks_to_ns(u64::from(self.rec.duration), self.freq)
    }

    /// The group this event's statistics go in: its kind and, for kinds with a function, the
    /// function.
    pub fn group(&self) -> Group {
        let id = match self.kind() {
            // The SMCCC SVE hint (FID bit 16) is the Host's, not part of the command.
            EventKind::Rmi => self.rec.id & !(warden_abi::fid::SMCCC_SVE_HINT as u32),
            EventKind::Rsi | EventKind::Psci | EventKind::El3Gtsi | EventKind::RecRun => self.rec.id,
            EventKind::WalkHit | EventKind::WalkMiss | EventKind::ClaimRetry => 0,
        };
        Group { kind: self.kind(), id }
    }
}

/// `ticks` at `freq` Hz in nanoseconds.
pub fn ticks_to_ns(ticks: u64, freq: u64) -> Option<f64> {
    (freq != 0).then(|| ticks as f64 * 1e9 / freq as f64)
}

/// An event kind, with the function (FID, exit reason) for kinds that have one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Group {
    /// The kind.
    pub kind: EventKind,
    /// The function (0 for kinds without one).
    pub id: u32,
}

impl Group {
    /// The function's name (`RMI_DATA_CREATE`, `REC_EXIT_IRQ`, …), or the kind's.
    pub fn name(&self) -> String {
        id_name(self.kind, self.id)
    }
}

/// The name of function `id` of an event of `kind`.
pub fn id_name(kind: EventKind, id: u32) -> String {
    let id64 = u64::from(id);
    let known = match kind {
        EventKind::Rmi => RmiCommand::from_fid(id64).map(|c| c.name().to_string()),
        EventKind::Rsi => RsiCommand::from_fid(id64).map(|c| c.name().to_string()),
        EventKind::Psci => psci_name(id64).map(str::to_string),
        EventKind::El3Gtsi => match id64 {
            el3::GTSI_DELEGATE => Some("RMM_GTSI_DELEGATE".into()),
            el3::GTSI_UNDELEGATE => Some("RMM_GTSI_UNDELEGATE".into()),
            _ => None,
        },
        EventKind::RecRun => RmiRecExitReason::from_raw(id64).map(|r| format!("REC_EXIT_{}", exit_name(r))),
        EventKind::WalkHit | EventKind::WalkMiss | EventKind::ClaimRetry => return kind.name().to_string(),
    };
    known.unwrap_or_else(|| format!("{id:#010x}"))
}

fn exit_name(r: RmiRecExitReason) -> &'static str {
    match r {
        RmiRecExitReason::Sync => "SYNC",
        RmiRecExitReason::Irq => "IRQ",
        RmiRecExitReason::Fiq => "FIQ",
        RmiRecExitReason::Psci => "PSCI",
        RmiRecExitReason::RipasChange => "RIPAS_CHANGE",
        RmiRecExitReason::HostCall => "HOST_CALL",
        RmiRecExitReason::Serror => "SERROR",
    }
}

fn psci_name(fid: u64) -> Option<&'static str> {
    Some(match fid {
        psci::VERSION => "PSCI_VERSION",
        psci::CPU_SUSPEND_32 | psci::CPU_SUSPEND_64 => "PSCI_CPU_SUSPEND",
        psci::CPU_OFF => "PSCI_CPU_OFF",
        psci::CPU_ON_32 | psci::CPU_ON_64 => "PSCI_CPU_ON",
        psci::AFFINITY_INFO_32 | psci::AFFINITY_INFO_64 => "PSCI_AFFINITY_INFO",
        psci::SYSTEM_OFF => "PSCI_SYSTEM_OFF",
        psci::SYSTEM_RESET => "PSCI_SYSTEM_RESET",
        psci::FEATURES => "PSCI_FEATURES",
        smccc::VERSION => "SMCCC_VERSION",
        _ => return None,
    })
}

/// The outcome of an event, for people.
pub fn status_text(e: &Event) -> String {
    let r = &e.rec;
    match e.kind() {
        EventKind::Rmi => match RmiStatus::from_x0(u64::from(r.status)) {
            Some(s) if s.index == 0 => format!("{:?}", s.code),
            Some(s) => format!("{:?}({})", s.code, s.index),
            None => format!("{:#x}", r.status),
        },
        EventKind::Rsi if r.flags & flags::TO_HOST != 0 => "exit-to-host".into(),
        EventKind::Rsi => match RsiStatus::from_x0(u64::from(r.status)) {
            Some(s) => format!("{s:?}"),
            None => format!("{}", r.status as i32),
        },
        EventKind::Psci if r.flags & flags::TO_HOST != 0 => "forwarded-to-host".into(),
        EventKind::Psci | EventKind::El3Gtsi => format!("{}", r.status as i32),
        EventKind::RecRun => format!("ec={:#04x}", r.aux),
        EventKind::ClaimRetry => format!("spins={} {}", r.arg, if r.aux == 1 { "shared" } else { "exclusive" }),
        EventKind::WalkHit | EventKind::WalkMiss => String::new(),
    }
}

/// A loaded trace.
#[derive(Debug, Default)]
pub struct Trace {
    /// Every record of a known kind, in file order.
    pub events: Vec<Event>,
    /// Batches in the file.
    pub batches: usize,
    /// Records dropped in Warden (ring full), per CPU.
    pub dropped: BTreeMap<u16, u64>,
    /// Records of kinds this tool does not know (skipped).
    pub unknown: u64,
    /// The counter frequencies seen.
    pub frequencies: Vec<u64>,
    /// The file it was read from.
    pub path: String,
}

impl Trace {
    /// Total drops.
    pub fn dropped_total(&self) -> u64 {
        self.dropped.values().sum()
    }

    /// The first timestamp (for relative times).
    pub fn start(&self) -> u64 {
        self.events.iter().map(|e| e.rec.timestamp).min().unwrap_or(0)
    }
}

/// Reads and decodes the trace at `path`; the error says plainly what is wrong and where.
pub fn load(path: &Path) -> Result<Trace, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut t = parse(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    t.path = path.display().to_string();
    Ok(t)
}

/// Decodes a trace from memory.
pub fn parse(bytes: &[u8]) -> Result<Trace, String> {
    if bytes.is_empty() {
        return Err("empty file: not a Warden trace".into());
    }
    let mut t = Trace::default();
    let mut rest = bytes;
    while !rest.is_empty() {
        let offset = bytes.len() - rest.len();
        let (batch, after) = decode_batch(rest).map_err(|e| format!("{e} (batch {} at byte {offset})", t.batches + 1))?;
        let h = batch.header;
        *t.dropped.entry(h.cpu).or_default() += h.dropped;
        if !t.frequencies.contains(&h.counter_frequency) {
            t.frequencies.push(h.counter_frequency);
        }
        for rec in batch.records() {
            if rec.event().is_some() {
                t.events.push(Event { rec, freq: h.counter_frequency });
            } else {
                t.unknown += 1;
            }
        }
        t.batches += 1;
        rest = after;
    }
    Ok(t)
}

/// Which events a command looks at.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// CPUs (empty: all).
    pub cpus: Vec<u8>,
    /// Kinds (empty: all).
    pub kinds: Vec<EventKind>,
    /// Functions (empty: all): matched against the FID / exit reason of kinds that have one.
    pub ids: Vec<u32>,
}

impl Filter {
    /// Whether `e` passes.
    pub fn admits(&self, e: &Event) -> bool {
        (self.cpus.is_empty() || self.cpus.contains(&e.rec.cpu))
            && (self.kinds.is_empty() || self.kinds.contains(&e.kind()))
            && (self.ids.is_empty() || (e.group().id != 0 || e.kind() == EventKind::RecRun) && self.ids.contains(&e.group().id))
    }
}

/// Parses an event kind name (`rmi`, `rec_run`, …).
pub fn parse_kind(s: &str) -> Result<EventKind, String> {
    EventKind::ALL.into_iter().find(|k| k.name().eq_ignore_ascii_case(s)).ok_or_else(|| {
        let names: Vec<_> = EventKind::ALL.iter().map(|k| k.name()).collect();
        format!("unknown event '{s}' (one of: {})", names.join(", "))
    })
}

/// Parses a function: a number (`0xC4000153`, `338`) or a name (`RMI_DATA_CREATE`, `DATA_CREATE`,
/// `RSI_VERSION`, `PSCI_CPU_ON`, `REC_EXIT_IRQ`).
pub fn parse_fid(s: &str) -> Result<Vec<u32>, String> {
    let num = if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        u32::from_str_radix(&hex.replace('_', ""), 16).ok()
    } else {
        s.parse::<u32>().ok()
    };
    if let Some(n) = num {
        return Ok(vec![n]);
    }
    let want = s.to_ascii_uppercase();
    let mut found = Vec::new();
    for kind in [EventKind::Rmi, EventKind::Rsi, EventKind::Psci, EventKind::El3Gtsi] {
        let candidates: Vec<u64> = match kind {
            EventKind::Rmi => RmiCommand::ALL.iter().map(|c| c.fid()).collect(),
            EventKind::Rsi => RsiCommand::ALL.iter().map(|c| c.fid()).collect(),
            EventKind::Psci => (0..=0x14).flat_map(|n| [0x8400_0000 + n, 0xC400_0000 + n]).chain([smccc::VERSION]).collect(),
            _ => vec![el3::GTSI_DELEGATE, el3::GTSI_UNDELEGATE],
        };
        for fid in candidates {
            let name = id_name(kind, fid as u32);
            if name == want || name.split_once('_').is_some_and(|(_, rest)| rest == want) {
                found.push(fid as u32);
            }
        }
    }
    for raw in 0..7u32 {
        if id_name(EventKind::RecRun, raw) == want {
            found.push(raw);
        }
    }
    if found.is_empty() { Err(format!("unknown function '{s}' (a FID like 0xC4000153 or a name like RMI_DATA_CREATE)")) } else { Ok(found) }
}
