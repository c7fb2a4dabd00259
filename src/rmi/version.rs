//! `RMI_VERSION` and `RMI_FEATURES`.

use warden_abi::status::RmiStatus;
use warden_abi::version::InterfaceVersion;

use super::RmiReturn;
use crate::platform::Machine;
use crate::rmm::Rmm;

/// The one RMI version Warden implements.
pub const IMPLEMENTED: InterfaceVersion = warden_abi::version::RMI_VERSION_1_0;

/// The spec's three-case rule for an implementation of exactly [`IMPLEMENTED`]: a request for it
/// succeeds with lower = requested; any other request (older, newer, or not a valid encoding) fails
/// with RMI_ERROR_INPUT, and lower = higher = the implemented version — the highest supported below
/// a newer request, and the lowest supported above an older one.
pub fn negotiate(requested: u64) -> (RmiStatus, InterfaceVersion, InterfaceVersion) {
    match InterfaceVersion::decode(requested) {
        Some(v) if v == IMPLEMENTED => (RmiStatus::SUCCESS, v, IMPLEMENTED),
        _ => (RmiStatus::input(), IMPLEMENTED, IMPLEMENTED),
    }
}

impl<M: Machine> Rmm<'_, M> {
    pub(super) fn rmi_version(&self, requested: u64) -> RmiReturn {
        let (status, lower, higher) = negotiate(requested);
        RmiReturn::with(status, &[lower.encode(), higher.encode()])
    }

    pub(super) fn rmi_features(&self, index: u64) -> RmiReturn {
        let value = if index == 0 { self.features.encode() } else { 0 };
        RmiReturn::ok(&[value])
    }
}
