//! The firmware side of the seam (R-EL2 on aarch64): being written.
