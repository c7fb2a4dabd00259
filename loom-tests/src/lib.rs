//! loom models of Warden's lock-free protocols.
//!
//! The models themselves are the work of the loom issue; see `README.md` for what will live here.
