//! The trace: the record Warden's per-CPU trace ring holds, the batch a drain writes into Host
//! memory, and the implementation-defined RMI command that drains it.
//!
//! Owns everything `warden` (the producer) and `trace-tool` (the consumer) must agree on:
//! * [`TraceRecord`]: one fixed-layout 32-byte record per event (`#[repr(C)]`, little-endian,
//!   offsets asserted at compile time), copied into the ring with plain stores on the hot path;
//! * [`EventKind`] and the meaning of each record field per kind;
//! * the batch framing ([`BatchHeader`], postcard-encoded, followed by `record_count` raw records)
//!   and its decoder ([`decode_batch`]), which tells a truncated batch, a newer format and
//!   something that is not a trace apart;
//! * [`RMI_WARDEN_TRACE_DRAIN`], the drain command's FID, and its register interface.
//!
//! # What a record may contain
//! Only what the Host can observe anyway: its own RMI calls (FID, first argument, status), the
//! exit reason and ESR class of exits to the Host, timing, and — for work Warden does inside a REC
//! entry (RSI/PSCI handled without an exit, walk-cache hits) — *which* handler ran and how long it
//! took, never an argument, result, address or register value that came from the Realm. See
//! `warden::trace` for the threat analysis.
//!
//! # The drain FID: [`RMI_WARDEN_TRACE_DRAIN`] = `0xC400_0182`
//! The command must be an SMC64 fast call of the Standard Secure Service owner that TF-A v2.12's
//! RMMD forwards to the RMM: `is_rmi_fid` accepts fnum 0x150–0x18F with FID bits 23:17 zero
//! (bit 16, the SVE hint, may be set), and 0x18F is `RMM_RMI_REQ_COMPLETE`, so 0x150–0x18E.
//! No fnum in that range is free in every RMI draft. Per fnum, the users found (RMI 1.0-rel0;
//! TF-RMM's 1.1-aligned `smc-rmi.h`; an earlier TF-RMM DA branch and the ACS headers that follow
//! it; Linux's RMI 1.1 DA series; TF-RMM's main-line (2.0) `smc-rmi.h`; Linux's `rmi_smc.h` for
//! DEN0137 2.0-bet3):
//!
//! | fnum | users |
//! |---|---|
//! | 0x150–0x169 except 0x156/0x160/0x163 | RMI 1.0 |
//! | 0x156, 0x160, 0x163, 0x16A–0x16F | 1.1 (TF-RMM, Linux DA), most also 2.0 |
//! | **0x170** | early DA branch (`GRANULE_IO_DELEGATE`), Linux 2.0-bet3 (`ATTEST_PLAT_TOKEN_REFRESH`) |
//! | **0x171** | early DA branch (`GRANULE_IO_UNDELEGATE`), Linux 1.1 DA (`PDEV_P2P_CONNECT`) |
//! | 0x172, 0x173, 0x179 | 1.1 TF-RMM, early DA branch, Linux 1.1 DA |
//! | 0x174–0x181, 0x183–0x18B, 0x18E | 1.1 and/or 2.0 drafts (three or more each) |
//! | **0x182** | early DA branch (`RTT_AUX_READ_ENTRY`), Linux 1.1 DA (`PDEV_P2P_DISCONNECT`) |
//! | **0x18C, 0x18D** | 1.1 TF-RMM and Linux 1.1 DA (`MEC_SET_SHARED`/`_PRIVATE`) |
//!
//! The least contended fnums have two users each. 0x182 is chosen because both of its users are
//! superseded prototypes: TF-RMM's own 1.1-aligned header and its main-line (2.0) header both
//! mark `0xC4000182` "not used", and Linux's 2.0-bet3 header leaves it free, whereas 0x170 is
//! taken by the newest draft (2.0-bet3), 0x171 sits in the 0x170–0x173 hole that 2.0 is already
//! refilling, and 0x18C/0x18D are used by TF-RMM's own 1.1 tag. **Trade-off:** a Host written for
//! the early DA branch or for Linux's 1.1 DA series that calls `0xC4000182` reaches the drain
//! instead of its command. It then gets `RMI_ERROR_INPUT` (its first argument is not a plausible
//! buffer, or its X3 is not a CPU index) or, at worst, a trace batch written into the buffer it
//! named, which is Host memory it owns; nothing Realm-side changes. Builds without the `trace`
//! feature answer `SMC_UNKNOWN`, as for any unimplemented FID. The FID is this one constant, so
//! moving it is a one-line change on both sides.
//!
//! Registers: X1 = NS PA of the buffer, X2 = its size in bytes (it may cross granules), X3 = the
//! CPU whose ring to drain. Returns X0 = `RMI_SUCCESS`, X1 = bytes written (one batch), X2 = 1 if
//! that ring holds more records, X3 = the number of rings. `RMI_ERROR_INPUT` if X3 is not below
//! the number of rings, the buffer is smaller than [`MIN_DRAIN_BUFFER`], or a write to it faults
//! (then nothing is consumed).

use serde::{Deserialize, Serialize};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

use crate::layout::assert_layout;

/// `RMI_WARDEN_TRACE_DRAIN`: the implementation-defined RMI command that drains one CPU's trace
/// ring (see the module docs for why this FID).
pub const RMI_WARDEN_TRACE_DRAIN: u64 = 0xC400_0182;

/// The first bytes of every batch.
pub const MAGIC: [u8; 4] = *b"WTRC";

/// The batch format this crate writes and reads. A reader refuses batches with a higher version.
pub const FORMAT_VERSION: u16 = 1;

/// Size of one [`TraceRecord`] in a batch.
pub const RECORD_SIZE: usize = 32;

/// The smallest buffer a drain accepts: the largest header and one record.
pub const MIN_DRAIN_BUFFER: usize = MAX_HEADER_SIZE + RECORD_SIZE;

/// The largest encoded [`BatchHeader`].
pub const MAX_HEADER_SIZE: usize = <BatchHeader as postcard::experimental::max_size::MaxSize>::POSTCARD_MAX_SIZE;

/// What a record describes. The value is [`TraceRecord::kind`].
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EventKind {
    /// One RMI command, start to end. `id` = FID as the Host passed it (bit 16 is the SMCCC SVE
    /// hint; readers group by the FID without it), `status` = X0 returned
    /// (status | index << 8), `arg` = the Host's X1.
    Rmi = 1,
    /// One REC entry's run loop, from entering the Realm to the exit the Host sees. `id` = exit
    /// reason, `aux` = ESR_EL2.EC of the exit as reported to the Host (0 unless SYNC/SERROR),
    /// `arg` = the REC's PA (the Host's X1).
    RecRun = 2,
    /// An RSI call the Realm made. `id` = RSI FID, `status` = RSI status returned to the Realm
    /// (low 32 bits; [`flags::TO_HOST`] set and `status` 0 if it exited to the Host instead).
    Rsi = 3,
    /// A PSCI call the Realm made. `id` = PSCI FID, `status` = PSCI return value (low 32 bits,
    /// signed), or [`flags::TO_HOST`] if forwarded to the Host.
    Psci = 4,
    /// An EL3 call for a granule transition. `id` = the EL3 FID (`RMM_GTSI_DELEGATE` or
    /// `_UNDELEGATE`), `status` = 0 or the EL3 error (low 32 bits), `arg` = the granule's PA.
    El3Gtsi = 5,
    /// A level-3 RTT walk served by this CPU's walk cache. No address is recorded.
    WalkHit = 6,
    /// A level-3 RTT walk the walk cache could not serve (a full walk, which refills the slot).
    WalkMiss = 7,
    /// A granule acquisition that had to wait for another command. `duration` = the wait,
    /// `arg` = spins, `aux` = 0 exclusive claim / 1 shared reference.
    ClaimRetry = 8,
}

impl EventKind {
    /// Every kind, in value order.
    pub const ALL: [EventKind; 8] =
        [Self::Rmi, Self::RecRun, Self::Rsi, Self::Psci, Self::El3Gtsi, Self::WalkHit, Self::WalkMiss, Self::ClaimRetry];

    /// Decodes [`TraceRecord::kind`].
    pub const fn from_raw(v: u8) -> Option<Self> {
        match v {
            1 => Some(Self::Rmi),
            2 => Some(Self::RecRun),
            3 => Some(Self::Rsi),
            4 => Some(Self::Psci),
            5 => Some(Self::El3Gtsi),
            6 => Some(Self::WalkHit),
            7 => Some(Self::WalkMiss),
            8 => Some(Self::ClaimRetry),
            _ => None,
        }
    }

    /// A short lower-case name (used by `trace-tool` for filters and output).
    pub const fn name(self) -> &'static str {
        match self {
            Self::Rmi => "rmi",
            Self::RecRun => "rec_run",
            Self::Rsi => "rsi",
            Self::Psci => "psci",
            Self::El3Gtsi => "el3_gtsi",
            Self::WalkHit => "walk_hit",
            Self::WalkMiss => "walk_miss",
            Self::ClaimRetry => "claim_retry",
        }
    }
}

/// Bits of [`TraceRecord::flags`].
pub mod flags {
    /// An RSI or PSCI call that exits to the Host rather than returning to the Realm.
    pub const TO_HOST: u8 = 1 << 1;
}

/// [`TraceRecord::duration`] of an event that lasted `u32::MAX` ticks or more (durations
/// saturate).
pub const DURATION_SATURATED: u32 = u32::MAX;

/// One trace event (32 bytes, little-endian). Field meanings per kind are on [`EventKind`].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct TraceRecord {
    /// The counter (CNTPCT_EL0) at the start of the event.
    pub timestamp: u64,
    /// Counter ticks from start to end, saturating at [`DURATION_SATURATED`].
    pub duration: u32,
    /// The FID, exit reason, RSI/PSCI function or EL3 FID, per kind.
    pub id: u32,
    /// A small argument the Host already knows (its X1, a PA it passed) or a count.
    pub arg: u64,
    /// The outcome, per kind.
    pub status: u32,
    /// [`EventKind`] value.
    pub kind: u8,
    /// The CPU that recorded the event.
    pub cpu: u8,
    /// [`flags`] bits.
    pub flags: u8,
    /// A per-kind byte (ESR class, acquisition mode).
    pub aux: u8,
}

assert_layout!(TraceRecord, size = RECORD_SIZE;
    timestamp @ 0,
    duration @ 8,
    id @ 12,
    arg @ 16,
    status @ 24,
    kind @ 28,
    cpu @ 29,
    flags @ 30,
    aux @ 31,
);

impl TraceRecord {
    /// The all-zero record (an empty ring slot).
    pub const ZERO: Self = Self { timestamp: 0, duration: 0, id: 0, arg: 0, status: 0, kind: 0, cpu: 0, flags: 0, aux: 0 };

    /// The decoded kind, if this crate knows it.
    pub const fn event(&self) -> Option<EventKind> {
        EventKind::from_raw(self.kind)
    }

    /// The record as four little-endian 64-bit words, in memory order (what the producer stores:
    /// two pair-stores instead of nine field stores).
    #[inline(always)]
    pub const fn to_words(&self) -> [u64; 4] {
        [
            self.timestamp,
            self.duration as u64 | (self.id as u64) << 32,
            self.arg,
            self.status as u64 | (self.kind as u64) << 32 | (self.cpu as u64) << 40 | (self.flags as u64) << 48 | (self.aux as u64) << 56,
        ]
    }
}

/// The header of one drained batch: postcard-encoded (varints), followed directly by
/// `record_count` [`TraceRecord`]s of [`RECORD_SIZE`] bytes each. A trace file is batches
/// concatenated.
///
/// `magic` (four raw bytes) and `version` (a varint) come first in every format version, so a
/// reader can refuse a newer format before decoding the rest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, postcard::experimental::max_size::MaxSize)]
pub struct BatchHeader {
    /// [`MAGIC`].
    pub magic: [u8; 4],
    /// [`FORMAT_VERSION`] of the writer.
    pub version: u16,
    /// The CPU whose ring this batch drained.
    pub cpu: u16,
    /// Counter frequency in Hz (CNTFRQ_EL0); 0 if the machine has none.
    pub counter_frequency: u64,
    /// Records this CPU dropped (ring full) since its previous batch.
    pub dropped: u64,
    /// Records following the header.
    pub record_count: u32,
    /// Whether the ring held more records when this batch was taken.
    pub more_pending: bool,
}

impl BatchHeader {
    /// A header of the current format.
    pub const fn new(cpu: u16, counter_frequency: u64, dropped: u64, record_count: u32, more_pending: bool) -> Self {
        Self { magic: MAGIC, version: FORMAT_VERSION, cpu, counter_frequency, dropped, record_count, more_pending }
    }

    /// Encodes the header into `buf` (at least [`MAX_HEADER_SIZE`] bytes); returns its length.
    pub fn encode(&self, buf: &mut [u8]) -> Option<usize> {
        postcard::to_slice(self, buf).ok().map(|s| s.len())
    }
}

/// Why bytes are not a batch this crate can read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BatchError {
    /// The bytes do not start with [`MAGIC`]: not a Warden trace.
    NotATrace,
    /// Written by a newer format than [`FORMAT_VERSION`].
    NewerFormat {
        /// The version found.
        version: u16,
    },
    /// The batch ends early: `needed` bytes from its start, only `available` present.
    Truncated {
        /// Bytes the batch needs.
        needed: usize,
        /// Bytes present.
        available: usize,
    },
    /// The header does not decode although the magic and version are right.
    Malformed,
}

impl core::fmt::Display for BatchError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::NotATrace => write!(f, "not a Warden trace (bad magic)"),
            Self::NewerFormat { version } => {
                write!(f, "written by a newer trace format (version {version}; this tool reads up to {FORMAT_VERSION})")
            }
            Self::Truncated { needed, available } => {
                write!(f, "truncated: the batch needs {needed} bytes, only {available} present")
            }
            Self::Malformed => write!(f, "malformed batch header"),
        }
    }
}

/// One decoded batch, borrowing its records' bytes.
#[derive(Clone, Copy, Debug)]
pub struct Batch<'b> {
    /// The header.
    pub header: BatchHeader,
    /// `record_count * RECORD_SIZE` bytes of records.
    pub records: &'b [u8],
}

impl Batch<'_> {
    /// The records, in ring order.
    pub fn records(&self) -> impl Iterator<Item = TraceRecord> + '_ {
        self.records.chunks_exact(RECORD_SIZE).map(|c| TraceRecord::read_from_bytes(c).expect("RECORD_SIZE chunk"))
    }
}

/// Decodes the batch at the start of `bytes`; returns it and the bytes after it.
pub fn decode_batch(bytes: &[u8]) -> Result<(Batch<'_>, &[u8]), BatchError> {
    if bytes.len() < MAGIC.len() {
        return Err(if MAGIC.starts_with(bytes) && !bytes.is_empty() {
            BatchError::Truncated { needed: MAGIC.len(), available: bytes.len() }
        } else {
            BatchError::NotATrace
        });
    }
    if bytes[..MAGIC.len()] != MAGIC {
        return Err(BatchError::NotATrace);
    }
    let truncated = |needed| BatchError::Truncated { needed, available: bytes.len() };
    let (version, _) = postcard::take_from_bytes::<u16>(&bytes[MAGIC.len()..]).map_err(|e| match e {
        postcard::Error::DeserializeUnexpectedEnd => truncated(MAX_HEADER_SIZE.min(bytes.len() + 1)),
        _ => BatchError::Malformed,
    })?;
    if version > FORMAT_VERSION {
        return Err(BatchError::NewerFormat { version });
    }
    let (header, rest) = postcard::take_from_bytes::<BatchHeader>(bytes).map_err(|e| match e {
        postcard::Error::DeserializeUnexpectedEnd => truncated(MAX_HEADER_SIZE.min(bytes.len() + 1)),
        _ => BatchError::Malformed,
    })?;
    let header_len = bytes.len() - rest.len();
    let len = header.record_count as usize * RECORD_SIZE;
    if rest.len() < len {
        return Err(truncated(header_len + len));
    }
    Ok((Batch { header, records: &rest[..len] }, &rest[len..]))
}

#[cfg(not(target_endian = "little"))]
compile_error!("trace records are little-endian byte images; a big-endian reader must swap fields");
