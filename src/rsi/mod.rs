//! Realm services: RSI commands, PSCI and SMCCC calls a Realm makes with SMC.
//!
//! Owns the dispatch of a Realm's SMC (by function ID: RSI, PSCI, SMCCC, else "not supported") and
//! the RSI commands. Each handler either finishes inside Warden (the Realm resumes at the next
//! instruction with its results in X0…), or produces an exit the Host must act on. A handler that
//! needs a Realm buffer which is not mapped makes the REC exit as if the Realm had taken the data
//! abort itself, without advancing the PC: once the Host maps the page, the SMC runs again. This
//! module never reads Host memory.

pub mod psci;

use warden_abi::addr::{GRANULE_SIZE, Pa};
use warden_abi::fid::{psci as psci_fid, rsi, smccc};
use warden_abi::rec_run::RmiRecExitReason;
use warden_abi::rsi::{RSI_HOST_CALL_ALIGN, RsiHostCall, RsiRealmConfig, RsiRipasChangeFlags};
use warden_abi::rtt::RmiRipas;
use warden_abi::status::RsiStatus;
use warden_abi::version::{InterfaceVersion, RSI_VERSION_1_0, SMCCC_VERSION_1_2};
use zerocopy::{FromZeros, IntoBytes};

use crate::granule::{GranuleState, Shared};
use crate::measure::rem_extend;
use crate::platform::Machine;
use crate::realm::Rd;
use crate::rec::inject::{ESR_IL, ec};
use crate::rec::{HostExit, Rec, RecInner, RipasRequest};
use crate::rmm::Rmm;
use crate::rtt::entry::EntryKind;
use crate::rtt::table::RTT_ENTRIES;
use crate::rtt::walk::entry_shift;

/// What the REC does after Warden handled a trap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    /// Run the Realm again.
    Resume,
    /// Return to the Host with the exit left in `RecInner::exit`.
    Exit,
}

/// Leaves `e` as the REC's exit and stops the run loop.
pub fn exit_with(inner: &mut RecInner, e: HostExit) -> Flow {
    inner.exit = e;
    Flow::Exit
}

/// The REC being run and its Realm: what every handler needs besides the REC's mutable state.
pub struct RecRun<'r, 'a, M: Machine> {
    /// Warden.
    pub rmm: &'r Rmm<'a, M>,
    /// The RD's address.
    pub rd: Pa,
    /// The Realm.
    pub realm: &'r Rd,
    /// The REC.
    pub rec: &'r Rec,
}

/// Why a Realm buffer named by an RSI call cannot be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BufferFault {
    /// Its RIPAS is EMPTY: the call fails with RSI_ERROR_INPUT.
    Empty,
    /// It is RAM but not mapped (or DESTROYED): the REC exits as for a data abort at this level.
    Unmapped {
        /// The level where the walk stopped.
        level: i8,
    },
}

/// The SYNC exit for a data abort on `ipa` (translation fault at `level`) that an RSI call's own
/// access to Realm memory would take.
pub fn buffer_abort_exit(ipa: u64, level: i8) -> HostExit {
    let dfsc = if level < 0 { 0x2B } else { 0x04 | level as u64 };
    HostExit::sync((ec::DABT_LOWER << 26) | ESR_IL | dfsc, 0, (ipa >> 12) << 4)
}

impl<M: Machine> RecRun<'_, '_, M> {
    /// The DATA granule backing the protected IPA `ipa` (with the offset of `ipa` in it), shared so
    /// that it cannot be destroyed while Warden reads or writes it.
    pub fn realm_buffer(&self, ipa: u64) -> Result<(Shared<'_, '_, M>, usize), BufferFault> {
        let walk = self.rmm.walk(self.rd, self.realm, ipa & !(GRANULE_SIZE - 1), 3);
        match walk.kind() {
            EntryKind::Assigned(pa, RmiRipas::Ram) => {
                let size = 1u64 << entry_shift(walk.level);
                let page = Pa(pa + (ipa & (size - 1) & !(GRANULE_SIZE - 1)));
                let data = self.rmm.granules().share_owned(page, GranuleState::Data).map_err(|_| BufferFault::Unmapped { level: walk.level })?;
                Ok((data, (ipa % GRANULE_SIZE) as usize))
            }
            EntryKind::Assigned(_, RmiRipas::Empty) | EntryKind::Unassigned(RmiRipas::Empty) => Err(BufferFault::Empty),
            _ => Err(BufferFault::Unmapped { level: walk.level }),
        }
    }

    fn protected(&self, ipa: u64) -> bool {
        ipa >> (self.realm.config().ipa_width - 1) == 0
    }

    /// Handles the Realm's SMC (X0 = function ID). The PC is at the SMC instruction.
    pub fn smc(&self, inner: &mut RecInner) -> Flow {
        let fid = inner.ctx.gprs[0];
        let fid_masked = warden_abi::fid::strip_sve_hint(fid);
        let trace = self.rmm.granules().trace();
        if (rsi::FID_MIN..=rsi::FID_MAX).contains(&fid_masked) {
            let start = trace.start();
            let flow = self.rsi(fid_masked, inner);
            trace.rsi(start, fid_masked, inner.ctx.gprs[0], flow == Flow::Exit);
            return flow;
        }
        inner.ctx.pc += 4;
        if psci_fid::is_psci(fid) {
            let start = trace.start();
            let flow = self.psci(fid, inner);
            trace.psci(start, fid, inner.ctx.gprs[0], flow == Flow::Exit);
            return flow;
        }
        let x = &mut inner.ctx.gprs;
        x[0] = match fid {
            smccc::VERSION => SMCCC_VERSION_1_2.encode(),
            _ => smccc::NOT_SUPPORTED,
        };
        Flow::Resume
    }

    fn rsi(&self, fid: u64, inner: &mut RecInner) -> Flow {
        // Every RSI command but those that may have to retry completes at the next instruction.
        let retry_pc = inner.ctx.pc;
        inner.ctx.pc += 4;
        let flow = match fid {
            rsi::VERSION => self.rsi_version(inner),
            rsi::FEATURES => finish(inner, RsiStatus::Success, &[0]),
            rsi::MEASUREMENT_READ => self.rsi_measurement_read(inner),
            rsi::MEASUREMENT_EXTEND => self.rsi_measurement_extend(inner),
            rsi::REALM_CONFIG => self.rsi_realm_config(inner),
            rsi::IPA_STATE_SET => self.rsi_ipa_state_set(inner),
            rsi::IPA_STATE_GET => self.rsi_ipa_state_get(inner),
            rsi::HOST_CALL => self.rsi_host_call(inner),
            // Attestation (src/attest).
            rsi::ATTESTATION_TOKEN_INIT => self.rsi_attestation_token_init(inner),
            rsi::ATTESTATION_TOKEN_CONTINUE => self.rsi_attestation_token_continue(inner),
            // Other FIDs in the range are not RSI 1.0 commands.
            _ => {
                inner.ctx.gprs[0] = smccc::NOT_SUPPORTED;
                Flow::Resume
            }
        };
        if flow == Flow::Exit && inner.exit.reason == RmiRecExitReason::Sync {
            // A buffer abort: the SMC runs again once the Host has mapped the page.
            inner.ctx.pc = retry_pc;
        }
        flow
    }

    fn rsi_version(&self, inner: &mut RecInner) -> Flow {
        let ok = InterfaceVersion::decode(inner.ctx.gprs[1]) == Some(RSI_VERSION_1_0);
        let status = if ok { RsiStatus::Success } else { RsiStatus::ErrorInput };
        finish(inner, status, &[RSI_VERSION_1_0.encode(), RSI_VERSION_1_0.encode()])
    }

    fn rsi_measurement_read(&self, inner: &mut RecInner) -> Flow {
        let index = inner.ctx.gprs[1];
        if index > 4 {
            return finish(inner, RsiStatus::ErrorInput, &[]); // index_bound
        }
        let m = self.realm.with_measurements(|m| *m.get(index as usize).expect("five slots"));
        let mut words = [0u64; 8];
        for (w, chunk) in words.iter_mut().zip(m.chunks_exact(8)) {
            *w = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
        }
        finish(inner, RsiStatus::Success, &words)
    }

    fn rsi_measurement_extend(&self, inner: &mut RecInner) -> Flow {
        let x = inner.ctx.gprs;
        let (index, size) = (x[1], x[2]);
        if !(1..=4).contains(&index) || size > 64 {
            return finish(inner, RsiStatus::ErrorInput, &[]); // index_bound, size_bound
        }
        let mut value = [0u8; 64];
        for (chunk, w) in value.chunks_exact_mut(8).zip(&x[3..11]) {
            chunk.copy_from_slice(&w.to_le_bytes());
        }
        let algo = self.realm.config().hash_algo;
        self.realm.with_measurements(|m| {
            let rem = rem_extend(algo, m.get(index as usize).expect("five slots"), &value[..size as usize]);
            m.set(index as usize, rem);
        });
        finish(inner, RsiStatus::Success, &[])
    }

    fn rsi_realm_config(&self, inner: &mut RecInner) -> Flow {
        let addr = inner.ctx.gprs[1];
        if !addr.is_multiple_of(GRANULE_SIZE) || !self.protected(addr) {
            return finish(inner, RsiStatus::ErrorInput, &[]); // addr_align, addr_bound
        }
        match self.realm_buffer(addr) {
            Ok((data, _)) => {
                let c = self.realm.config();
                let config = RsiRealmConfig::new(u64::from(c.ipa_width), c.hash_algo, c.rpv);
                data.write_bytes(0, config.as_bytes());
                finish(inner, RsiStatus::Success, &[])
            }
            Err(BufferFault::Empty) => finish(inner, RsiStatus::ErrorInput, &[]),
            Err(BufferFault::Unmapped { level }) => exit_with(inner, buffer_abort_exit(addr, level)),
        }
    }

    fn rsi_ipa_state_set(&self, inner: &mut RecInner) -> Flow {
        let x = inner.ctx.gprs;
        let (base, top, ripas, flags) = (x[1], x[2], x[3], x[4]);
        if base % GRANULE_SIZE != 0 // base_align
            || top % GRANULE_SIZE != 0 // top_align
            || top <= base // size_valid
            || !self.protected(top - 1)
        // rgn_bound
        {
            return finish(inner, RsiStatus::ErrorInput, &[]);
        }
        let value = match RmiRipas::from_raw(ripas & 0xFF) {
            Some(v @ (RmiRipas::Empty | RmiRipas::Ram)) if ripas >> 8 == 0 => v,
            _ => return finish(inner, RsiStatus::ErrorInput, &[]), // ripas_valid
        };
        let change_destroyed = RsiRipasChangeFlags::from_bits_truncate(flags).contains(RsiRipasChangeFlags::DESTROYED);
        inner.ripas = RipasRequest { addr: base, top, value: value as u8, change_destroyed, pending: true };
        let mut exit = HostExit::new(RmiRecExitReason::RipasChange);
        exit.ripas_base = base;
        exit.ripas_top = top;
        exit.ripas_value = value.to_raw();
        exit_with(inner, exit)
    }

    fn rsi_ipa_state_get(&self, inner: &mut RecInner) -> Flow {
        let x = inner.ctx.gprs;
        let (base, top) = (x[1], x[2]);
        if base % GRANULE_SIZE != 0 || top % GRANULE_SIZE != 0 || top <= base || !self.protected(top - 1) {
            return finish(inner, RsiStatus::ErrorInput, &[]); // base_align, end_align, size_valid, rgn_bound
        }
        let walk = self.rmm.walk(self.rd, self.realm, base, 3);
        let ripas_of = |k: EntryKind| match k {
            EntryKind::Unassigned(r) | EntryKind::Assigned(_, r) => r,
            _ => RmiRipas::Empty,
        };
        let ripas = ripas_of(walk.kind());
        // The run of entries with the same RIPAS in this table, capped at top.
        let size = 1u64 << entry_shift(walk.level);
        let mut out = (base & !(size - 1)) + size;
        let mut i = walk.index + 1;
        while out < top && i < RTT_ENTRIES && ripas_of(walk.rtt().entry(i).kind(walk.level)) == ripas {
            out += size;
            i += 1;
        }
        finish(inner, RsiStatus::Success, &[out.min(top), ripas.to_raw()])
    }

    fn rsi_host_call(&self, inner: &mut RecInner) -> Flow {
        let addr = inner.ctx.gprs[1];
        if !addr.is_multiple_of(RSI_HOST_CALL_ALIGN) || !self.protected(addr) {
            return finish(inner, RsiStatus::ErrorInput, &[]); // addr_align, addr_bound
        }
        match self.realm_buffer(addr) {
            Ok((data, offset)) => {
                let mut call = RsiHostCall::new_zeroed();
                data.read_bytes(offset, call.as_mut_bytes());
                inner.host_call = Some(addr);
                let mut exit = HostExit::new(RmiRecExitReason::HostCall);
                exit.imm = u64::from(call.imm16());
                exit.gprs = call.gprs;
                exit_with(inner, exit)
            }
            Err(BufferFault::Empty) => finish(inner, RsiStatus::ErrorInput, &[]),
            Err(BufferFault::Unmapped { level }) => exit_with(inner, buffer_abort_exit(addr, level)),
        }
    }

    /// Writes the Host's results into the pending host call's `RsiHostCall` (on REC entry).
    /// Returns `Flow::Exit` if the buffer is not mapped (the Host must map it and enter again).
    pub fn complete_host_call(&self, inner: &mut RecInner, gprs: &[u64; 31]) -> Flow {
        let Some(addr) = inner.host_call else { return Flow::Resume };
        match self.realm_buffer(addr) {
            Ok((data, offset)) => {
                data.write_bytes(offset + core::mem::offset_of!(RsiHostCall, gprs), gprs.as_bytes());
                inner.host_call = None;
                inner.ctx.gprs[0] = RsiStatus::Success.to_x0();
                Flow::Resume
            }
            Err(BufferFault::Unmapped { level }) => exit_with(inner, buffer_abort_exit(addr, level)),
            Err(BufferFault::Empty) => {
                // The Realm made its own buffer EMPTY meanwhile: the results cannot be delivered.
                inner.host_call = None;
                inner.ctx.gprs[0] = RsiStatus::ErrorInput.to_x0();
                Flow::Resume
            }
        }
    }
}

/// Finishes an RSI command: X0 = `status`, X1… = `results`.
fn finish(inner: &mut RecInner, status: RsiStatus, results: &[u64]) -> Flow {
    inner.ctx.gprs[0] = status.to_x0();
    inner.ctx.gprs[1..=results.len()].copy_from_slice(results);
    Flow::Resume
}

