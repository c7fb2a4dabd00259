//! Realm Translation Tables (stage 2): entry encoding, tables and the starting-level configuration.
//!
//! Owns the 64-bit entry format ([`entry`]), the table object that lives in an RTT granule
//! ([`table::RttTable`]) and `RttConfigIsValid` ([`config`]). Walks, the RTT commands and the
//! per-CPU walk cache build on these. This module must never decide granule states: that is the
//! granule table's.

pub mod config;
pub mod entry;
pub mod table;
pub mod walk;
pub mod walk_cache;

pub use entry::RttEntry;
pub use table::{RTT_ENTRIES, RttTable};
