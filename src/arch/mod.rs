//! The machine-specific side of the seam: one implementation of [`crate::platform::Machine`] per
//! kind of build. The choice is made here, once, by target: logic never asks which one it runs on.

#[cfg(target_os = "none")]
pub mod aarch64;
#[cfg(not(target_os = "none"))]
pub mod host;
