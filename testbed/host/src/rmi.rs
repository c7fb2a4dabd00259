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

// Not every command is used by the firmware scenarios (e.g. RTT_FOLD); the host unit tests cover
// the encoding of each.
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

    /// `RMI_RTT_CREATE(rd, rtt, ipa, level)`.
    pub fn rtt_create(&mut self, rd: u64, rtt: u64, ipa: u64, level: i64) -> Result<(), RmiError> {
        self.raw(rmi::RTT_CREATE, &[rd, rtt, ipa, level as u64])
            .map(|_| ())
    }

    /// `RMI_RTT_DESTROY(rd, ipa, level)` → (X1 = the table's PA, X2 = top).
    pub fn rtt_destroy(&mut self, rd: u64, ipa: u64, level: i64) -> Result<(u64, u64), RmiError> {
        let out = self.raw(rmi::RTT_DESTROY, &[rd, ipa, level as u64])?;
        Ok((out[0], out[1]))
    }

    /// `RMI_RTT_FOLD(rd, ipa, level)` → X1 = the folded table's PA.
    pub fn rtt_fold(&mut self, rd: u64, ipa: u64, level: i64) -> Result<u64, RmiError> {
        Ok(self.raw(rmi::RTT_FOLD, &[rd, ipa, level as u64])?[0])
    }

    /// `RMI_RTT_READ_ENTRY(rd, ipa, level)`.
    pub fn rtt_read_entry(&mut self, rd: u64, ipa: u64, level: i64) -> Result<RttEntry, RmiError> {
        let out = self.raw(rmi::RTT_READ_ENTRY, &[rd, ipa, level as u64])?;
        Ok(RttEntry {
            walk_level: out[0] as i64,
            state: out[1],
            desc: out[2],
            ripas: out[3],
        })
    }

    /// `RMI_RTT_MAP_UNPROTECTED(rd, ipa, level, desc)`.
    pub fn rtt_map_unprotected(
        &mut self,
        rd: u64,
        ipa: u64,
        level: i64,
        desc: u64,
    ) -> Result<(), RmiError> {
        self.raw(rmi::RTT_MAP_UNPROTECTED, &[rd, ipa, level as u64, desc])
            .map(|_| ())
    }

    /// `RMI_RTT_UNMAP_UNPROTECTED(rd, ipa, level)` → X1 = top.
    pub fn rtt_unmap_unprotected(
        &mut self,
        rd: u64,
        ipa: u64,
        level: i64,
    ) -> Result<u64, RmiError> {
        Ok(self.raw(rmi::RTT_UNMAP_UNPROTECTED, &[rd, ipa, level as u64])?[0])
    }

    /// `RMI_RTT_INIT_RIPAS(rd, base, top)` → X1 = out_top.
    pub fn rtt_init_ripas(&mut self, rd: u64, base: u64, top: u64) -> Result<u64, RmiError> {
        Ok(self.raw(rmi::RTT_INIT_RIPAS, &[rd, base, top])?[0])
    }

    /// `RMI_DATA_CREATE(rd, data, ipa, src, flags)`.
    pub fn data_create(
        &mut self,
        rd: u64,
        data: u64,
        ipa: u64,
        src: u64,
        flags: u64,
    ) -> Result<(), RmiError> {
        self.raw(rmi::DATA_CREATE, &[rd, data, ipa, src, flags])
            .map(|_| ())
    }

    /// `RMI_DATA_CREATE_UNKNOWN(rd, data, ipa)`.
    pub fn data_create_unknown(&mut self, rd: u64, data: u64, ipa: u64) -> Result<(), RmiError> {
        self.raw(rmi::DATA_CREATE_UNKNOWN, &[rd, data, ipa])
            .map(|_| ())
    }

    /// `RMI_DATA_DESTROY(rd, ipa)` → (X1 = the data granule's PA, X2 = top).
    pub fn data_destroy(&mut self, rd: u64, ipa: u64) -> Result<(u64, u64), RmiError> {
        let out = self.raw(rmi::DATA_DESTROY, &[rd, ipa])?;
        Ok((out[0], out[1]))
    }

    /// `RMI_REC_CREATE(rd, rec, params_ptr)`.
    pub fn rec_create(&mut self, rd: u64, rec: u64, params: u64) -> Result<(), RmiError> {
        self.raw(rmi::REC_CREATE, &[rd, rec, params]).map(|_| ())
    }

    /// `RMI_REC_DESTROY(rec)`.
    pub fn rec_destroy(&mut self, rec: u64) -> Result<(), RmiError> {
        self.raw(rmi::REC_DESTROY, &[rec]).map(|_| ())
    }

    /// `RMI_REC_ENTER(rec, run_ptr)`: runs the REC until its next exit to the Host, described in
    /// the `RmiRecExit` half of the `RmiRecRun` at `run`.
    pub fn rec_enter(&mut self, rec: u64, run: u64) -> Result<(), RmiError> {
        self.raw(rmi::REC_ENTER, &[rec, run]).map(|_| ())
    }

    /// `RMI_PSCI_COMPLETE(calling_rec, target_rec, status)`: completes the PSCI call (CPU_ON,
    /// AFFINITY_INFO) that `calling_rec` exited with; `status` is a PSCI return code.
    pub fn psci_complete(
        &mut self,
        calling: u64,
        target: u64,
        status: u64,
    ) -> Result<(), RmiError> {
        self.raw(rmi::PSCI_COMPLETE, &[calling, target, status])
            .map(|_| ())
    }

    /// `RMI_RTT_SET_RIPAS(rd, rec, base, top)` → X1 = out_top (the change applies to
    /// `[base, out_top)`; the Host calls again from there until `top`).
    pub fn rtt_set_ripas(
        &mut self,
        rd: u64,
        rec: u64,
        base: u64,
        top: u64,
    ) -> Result<u64, RmiError> {
        Ok(self.raw(rmi::RTT_SET_RIPAS, &[rd, rec, base, top])?[0])
    }
}

/// `RMI_RTT_READ_ENTRY` outputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RttEntry {
    /// X1: the level the walk stopped at.
    pub walk_level: i64,
    /// X2: `RmiRttEntryState` (0 UNASSIGNED, 1 ASSIGNED, 2 TABLE).
    pub state: u64,
    /// X3: the descriptor (PA, plus MemAttr/S2AP for ASSIGNED_NS).
    pub desc: u64,
    /// X4: `RmiRipas` (0 EMPTY, 1 RAM, 2 DESTROYED).
    pub ripas: u64,
}

impl RttEntry {
    /// An entry from its four fields (for comparisons).
    pub const fn new(walk_level: i64, state: u64, desc: u64, ripas: u64) -> Self {
        RttEntry {
            walk_level,
            state,
            desc,
            ripas,
        }
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

    #[test]
    fn rtt_and_data_commands() {
        let mut mock = Mock {
            calls: Vec::new(),
            reply: [0, 3, 2, 0x8000_1000, 1],
        };
        let mut rmi = Rmi::new(&mut mock);
        assert_eq!(
            rmi.rtt_read_entry(0x1000, 0x4020_0000, 3),
            Ok(RttEntry::new(3, 2, 0x8000_1000, 1))
        );
        assert!(rmi.rtt_create(0x1000, 0x2000, 0x4000_0000, 2).is_ok());
        assert_eq!(rmi.rtt_destroy(0x1000, 0x4000_0000, 2), Ok((3, 2)));
        assert_eq!(rmi.rtt_fold(0x1000, 0x4000_0000, 3), Ok(3));
        assert!(
            rmi.rtt_map_unprotected(0x1000, 1 << 39, 3, 0x9000_00D8)
                .is_ok()
        );
        assert_eq!(rmi.rtt_unmap_unprotected(0x1000, 1 << 39, 3), Ok(3));
        assert_eq!(rmi.rtt_init_ripas(0x1000, 0x4000, 0x8000), Ok(3));
        assert!(rmi.data_create(0x1000, 0x3000, 0x4000, 0x5000, 1).is_ok());
        assert!(rmi.data_create_unknown(0x1000, 0x3000, 0x4000).is_ok());
        assert_eq!(rmi.data_destroy(0x1000, 0x4000), Ok((3, 2)));
        // A negative level is passed as its two's complement.
        assert!(rmi.rtt_create(0x1000, 0x2000, 0, -1).is_ok());
        let expect: [&[u64]; 11] = [
            &[0xC400_0161, 0x1000, 0x4020_0000, 3],
            &[0xC400_015D, 0x1000, 0x2000, 0x4000_0000, 2],
            &[0xC400_015E, 0x1000, 0x4000_0000, 2],
            &[0xC400_0166, 0x1000, 0x4000_0000, 3],
            &[0xC400_015F, 0x1000, 1 << 39, 3, 0x9000_00D8],
            &[0xC400_0162, 0x1000, 1 << 39, 3],
            &[0xC400_0168, 0x1000, 0x4000, 0x8000],
            &[0xC400_0153, 0x1000, 0x3000, 0x4000, 0x5000, 1],
            &[0xC400_0154, 0x1000, 0x3000, 0x4000],
            &[0xC400_0155, 0x1000, 0x4000],
            &[0xC400_015D, 0x1000, 0x2000, 0, u64::MAX],
        ];
        for (call, want) in mock.calls.iter().zip(expect) {
            assert_eq!(&call[..want.len()], want);
            assert!(
                call[want.len()..].iter().all(|&r| r == 0),
                "unused X registers are 0"
            );
        }
        assert_eq!(mock.calls.len(), expect.len());
    }

    #[test]
    fn rec_commands() {
        let mut mock = Mock {
            calls: Vec::new(),
            reply: [0, 0x8000_3000, 0, 0, 0],
        };
        let mut rmi = Rmi::new(&mut mock);
        assert!(rmi.rec_create(0x1000, 0x2000, 0x3000).is_ok());
        assert!(rmi.rec_enter(0x2000, 0x4000).is_ok());
        assert!(rmi.psci_complete(0x2000, 0x5000, 0).is_ok());
        assert_eq!(
            rmi.rtt_set_ripas(0x1000, 0x2000, 0x8000_0000, 0x8000_4000),
            Ok(0x8000_3000)
        );
        assert!(rmi.rec_destroy(0x2000).is_ok());
        let expect: [&[u64]; 5] = [
            &[0xC400_015A, 0x1000, 0x2000, 0x3000],
            &[0xC400_015C, 0x2000, 0x4000],
            &[0xC400_0164, 0x2000, 0x5000, 0],
            &[0xC400_0169, 0x1000, 0x2000, 0x8000_0000, 0x8000_4000],
            &[0xC400_015B, 0x2000],
        ];
        for (call, want) in mock.calls.iter().zip(expect) {
            assert_eq!(&call[..want.len()], want);
            assert!(call[want.len()..].iter().all(|&r| r == 0));
        }
        assert_eq!(mock.calls.len(), expect.len());
        mock.reply = [3, 0, 0, 0, 0];
        assert_eq!(
            Rmi::new(&mut mock).rec_enter(0x2000, 0x4000),
            Err(RmiError::Status(RmiStatus::new(RmiStatusCode::ErrorRec, 0)))
        );
    }
}
