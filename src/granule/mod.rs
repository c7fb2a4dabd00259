//! The granule table: the spec state of every 4 KiB granule of delegable DRAM, without locks on the
//! common path.
//!
//! # What it owns
//! One packed 32-bit atomic word per granule ([`table::GranuleTable`]), sized at boot from the DRAM
//! banks (4 bytes per 4 KiB granule: **1 MiB of table per GiB of DRAM**, 0.1 %), and the only code that
//! may change a granule's state or reach its contents. Logic gets a granule's contents only through
//! the typed handles in [`handle`]: an exclusive [`Claimed`] or a shared [`Shared`] reference.
//!
//! # The word
//! `[3:0]` state ([`GranuleState`]), `[7]` CLAIMED (exclusive, short-lived), `[31:8]` shared reference
//! count (commands in flight that use the granule without changing its state, e.g. the RD under a
//! DATA_CREATE). The word is changed only by compare-and-swap or by the claimer's final store.
//!
//! # Protocol
//! * **Claim** (exclusive): CAS from (state S, unclaimed, no sharers) to (S, CLAIMED). Ends with one
//!   store: the commit (new state, unclaimed — the transition's linearisation point) or the release
//!   (S, unclaimed — the command failed and nothing changed).
//! * **Share**: CAS from (S, unclaimed) to (S, refcount + 1); ends with an atomic decrement.
//! * **Observers.** A command that finds a granule in a state other than the one it needs fails at
//!   once, with the error of that state check: its load comes before any claimer's commit, so it is
//!   ordered before that claimer (this is how DELEGATE ‖ UNDELEGATE on one granule fails the loser
//!   without waiting). Only when the state matches but the word is claimed (or, for a claim, shared)
//!   does the outcome depend on a command still in flight; then it retries. Claims are short: no
//!   claim is held across Realm execution or while waiting for anything but another claim.
//! * **Order.** A command that holds several granules acquires them in ascending physical address
//!   order, whatever their roles, so waiting can never form a cycle. Each command first checks every
//!   state with plain loads in the spec's order (so its error is the spec's), then acquires in address
//!   order; an acquisition that then fails can only be a race, and reports that granule's own error.
//!
//! # Scrubbing
//! Contents are wiped when a granule leaves for the Host (UNDELEGATE zeroes it through the Realm PAS
//! before EL3 returns it to the NS PAS), and every role initialises the whole granule when it takes
//! it (REALM_CREATE zeroes the RD, RTTs are written whole), so nothing a Host or another Realm wrote
//! is ever read as Warden state.
//!
//! This module must never decide *whether* a command may run — that is the command's spec check —
//! only that its transitions are atomic.

pub mod handle;
pub mod state;
pub mod table;

pub use handle::{Claimed, GranuleObject, Shared};
pub use state::GranuleState;
pub use table::{AcquireError, GranuleTable, Refused};
