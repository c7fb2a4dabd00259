//! A typed RMI client: one function per RMI command, returning `Result<_, RmiError>`.
//!
//! The client is generic over a [`Conduit`] (the SMC instruction in firmware, a mock in host unit
//! tests). Through EL3 an RMI call passes X0–X7 to the RMM and gets X0–X4 back.

use warden_abi::fid::{SMC_UNKNOWN, rmi};
use warden_abi::status::{RmiStatus, RmiStatusCode};
use warden_abi::version::InterfaceVersion;

/// Something that performs an SMC: X0–X7 in, X0–X4 out.
pub trait Conduit {
    /// Issues the call.
    fn call(&mut self, regs: [u64; 8]) -> [u64; 5];
}

/// Why an RMI command failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RmiError {
    /// The RMM answered with an RMI error status (code and index).
    Status(RmiStatus),
    /// `SMC_UNKNOWN` (−1): the FID is not implemented (by the RMM, or EL3 refused to forward it).
    Unknown,
    /// X0 is neither a valid RmiCommandReturnCode nor SMC_UNKNOWN.
    Invalid(u64),
}

impl RmiError {
    /// `RmiError::Status` with index 0.
    pub const fn code(code: RmiStatusCode) -> Self {
        RmiError::Status(RmiStatus::new(code, 0))
    }
}

/// Outputs X1–X4 of a successful call.
pub type Outputs = [u64; 4];

/// Decodes X0 of an RMI return.
pub fn decode(x: [u64; 5]) -> Result<Outputs, RmiError> {
    if x[0] == SMC_UNKNOWN {
        return Err(RmiError::Unknown);
    }
    match RmiStatus::from_x0(x[0]) {
        Some(status) if status.is_success() => Ok([x[1], x[2], x[3], x[4]]),
        Some(status) => Err(RmiError::Status(status)),
        None => Err(RmiError::Invalid(x[0])),
    }
}

/// The RMI client.
pub struct Rmi<C: Conduit> {
    conduit: C,
}

/// `RMI_VERSION` result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VersionInfo {
    /// Lowest implemented revision.
    pub lower: InterfaceVersion,
    /// Highest implemented revision.
    pub higher: InterfaceVersion,
}

// The realm commands are the client's API for the realm scenarios that come with Warden's
// implementation of them; until then only the host unit tests call them.
#[cfg_attr(target_os = "none", allow(dead_code))]
impl<C: Conduit> Rmi<C> {
    /// A client over `conduit`.
    pub const fn new(conduit: C) -> Self {
        Rmi { conduit }
    }

    /// Issues `fid` with up to seven arguments; decodes the status.
    pub fn raw(&mut self, fid: u64, args: &[u64]) -> Result<Outputs, RmiError> {
        let mut regs = [0u64; 8];
        regs[0] = fid;
        for (slot, arg) in regs[1..].iter_mut().zip(args) {
            *slot = *arg;
        }
        decode(self.conduit.call(regs))
    }

    /// `RMI_VERSION(requested)`.
    pub fn version(&mut self, requested: InterfaceVersion) -> Result<VersionInfo, RmiError> {
        let out = self.raw(rmi::VERSION, &[requested.encode()])?;
        Ok(version_info(out[0], out[1]))
    }

    /// `RMI_FEATURES(index)` → feature register value.
    pub fn features(&mut self, index: u64) -> Result<u64, RmiError> {
        Ok(self.raw(rmi::FEATURES, &[index])?[0])
    }

    /// `RMI_GRANULE_DELEGATE(addr)`.
    pub fn granule_delegate(&mut self, addr: u64) -> Result<(), RmiError> {
        self.raw(rmi::GRANULE_DELEGATE, &[addr]).map(|_| ())
    }

    /// `RMI_GRANULE_UNDELEGATE(addr)`.
    pub fn granule_undelegate(&mut self, addr: u64) -> Result<(), RmiError> {
        self.raw(rmi::GRANULE_UNDELEGATE, &[addr]).map(|_| ())
    }

    /// `RMI_REALM_CREATE(rd, params_ptr)`.
    pub fn realm_create(&mut self, rd: u64, params: u64) -> Result<(), RmiError> {
        self.raw(rmi::REALM_CREATE, &[rd, params]).map(|_| ())
    }

    /// `RMI_REALM_ACTIVATE(rd)`.
    pub fn realm_activate(&mut self, rd: u64) -> Result<(), RmiError> {
        self.raw(rmi::REALM_ACTIVATE, &[rd]).map(|_| ())
    }

    /// `RMI_REALM_DESTROY(rd)`.
    pub fn realm_destroy(&mut self, rd: u64) -> Result<(), RmiError> {
        self.raw(rmi::REALM_DESTROY, &[rd]).map(|_| ())
    }

    /// `RMI_REC_AUX_COUNT(rd)` → number of auxiliary granules a REC needs.
    pub fn rec_aux_count(&mut self, rd: u64) -> Result<u64, RmiError> {
        Ok(self.raw(rmi::REC_AUX_COUNT, &[rd])?[0])
    }
}

fn version_info(lower: u64, higher: u64) -> VersionInfo {
    let decode = |v| InterfaceVersion::decode(v).unwrap_or_default();
    VersionInfo {
        lower: decode(lower),
        higher: decode(higher),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    struct Mock {
        calls: Vec<[u64; 8]>,
        reply: [u64; 5],
    }

    impl Conduit for &mut Mock {
        fn call(&mut self, regs: [u64; 8]) -> [u64; 5] {
            self.calls.push(regs);
            self.reply
        }
    }

    #[test]
    fn registers_and_decoding() {
        let mut mock = Mock {
            calls: Vec::new(),
            reply: [0, 0x10000, 0x10000, 0, 0],
        };
        let v = Rmi::new(&mut mock)
            .version(InterfaceVersion::new(1, 0))
            .unwrap();
        assert_eq!(v.lower, InterfaceVersion::new(1, 0));
        assert_eq!(v.higher, InterfaceVersion::new(1, 0));
        assert_eq!(mock.calls[0], [0xC400_0150, 0x10000, 0, 0, 0, 0, 0, 0]);

        mock.reply = [1, 0, 0, 0, 0];
        assert_eq!(
            Rmi::new(&mut mock).granule_delegate(0x8000_0010),
            Err(RmiError::code(RmiStatusCode::ErrorInput))
        );
        assert_eq!(mock.calls[1][..2], [0xC400_0151, 0x8000_0010]);

        mock.reply = [u64::MAX, 0, 0, 0, 0];
        assert_eq!(
            Rmi::new(&mut mock).raw(0xC400_0160, &[]),
            Err(RmiError::Unknown)
        );

        mock.reply = [0x0204, 0, 0, 0, 0];
        assert_eq!(
            Rmi::new(&mut mock).realm_destroy(0x1000),
            Err(RmiError::Status(RmiStatus::rtt(2)))
        );
        assert_eq!(mock.calls[3][..2], [0xC400_0159, 0x1000]);

        mock.reply = [0x10005, 0, 0, 0, 0];
        assert_eq!(
            Rmi::new(&mut mock).realm_activate(0x2000),
            Err(RmiError::Invalid(0x10005))
        );

        mock.reply = [0, 7, 0, 0, 0];
        assert_eq!(Rmi::new(&mut mock).rec_aux_count(0x3000), Ok(7));
        assert_eq!(mock.calls[5][..2], [0xC400_0167, 0x3000]);
        assert_eq!(Rmi::new(&mut mock).features(0), Ok(7));
        assert!(Rmi::new(&mut mock).realm_create(0x4000, 0x5000).is_ok());
        assert_eq!(mock.calls[7][..3], [0xC400_0158, 0x4000, 0x5000]);
        assert!(Rmi::new(&mut mock).granule_undelegate(0x4000).is_ok());
        assert_eq!(mock.calls[8][..2], [0xC400_0152, 0x4000]);
    }
}
