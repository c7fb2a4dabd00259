//! Observability: a per-CPU binary trace of what Warden does, drained by the Host and decoded by
//! `trace-tool`.
//!
//! # What it guarantees
//! * **Cost.** An event is a counter read at its start and, at its end, a counter read, the CPU
//!   index, the ring's full check, two pair-stores of a fixed 32-byte record into the CPU's own ring
//!   and one Release store (see [`ring`]): no lock, no call, no atomic read-modify-write, no
//!   formatting — 26 instructions per event measured under QEMU icount (`perf/RESULTS.md`, "Trace").
//! * **Absent when off.** Without the `trace` cargo feature every hook below is an empty
//!   `#[inline(always)]` function on zero-sized types, so instrumented code compiles to exactly what
//!   it was; the drain command does not exist ([`RMI_WARDEN_TRACE_DRAIN`] answers `SMC_UNKNOWN`
//!   like any unimplemented FID). This facade is the only place that tests the feature.
//! * **Never torn, never silently lost.** Records are written by their CPU only and drained by one
//!   drainer per ring at a time (any CPU; concurrent drains of one ring wait for each other, drains
//!   of different rings run in parallel). A full ring drops the *newest* record and counts it; every
//!   drained batch reports the drops since the previous one (why newest: see [`ring`]).
//!
//! # Threat analysis: the trace must not become a side channel
//! The drain hands records to the Host, which is untrusted by the Realms. A record therefore carries
//! only what the Host observes anyway:
//! * its own RMI calls: FID, its own X1 (an address or index it chose), the status it is returned,
//!   and how long the call took (which it can time itself);
//! * for `REC_ENTER`, the exit reason and the ESR class of the exit *as reported to the Host* in
//!   `RmiRecExit` (0 for exits without an ESR), and the REC's address (its own argument);
//! * EL3 granule transitions its DELEGATE/UNDELEGATE calls caused, with the PA it passed;
//! * retries when two of its commands contend for one granule, and walk-cache hits or misses.
//!
//! Work Warden does inside a REC entry without exiting (RSI and PSCI calls it answers itself, RTT
//! walks for Realm aborts and RSI buffers) is recorded as *which handler ran and for how long* —
//! the RSI/PSCI function ID (the Realm's X0, but only once it has selected one of Warden's
//! handlers, so it names code, not data), the status code Warden returned, a hit/miss bit — and
//! never with an argument, result, address or register value that came from the Realm, nor any
//! Realm data. The
//! Host can already learn this much from timing: it measures every REC entry's duration, can slice
//! a Realm's execution with interrupts at will, and each handler has a distinct cost. The trace
//! makes that inference exact but adds no Realm secret to it. Timestamps come from the same counter
//! the Host can read. Finally the feature is a build-time choice for development builds: a firmware
//! image built with it has a different measurement, which the platform attestation token reports to
//! every Realm's verifier, so a Realm owner can refuse to run on a traced RMM.
//!
//! # The drain command
//! `RMI_WARDEN_TRACE_DRAIN` = `0xC400_0182` (X1 NS buffer PA, X2 size, X3 CPU → X1 bytes written,
//! X2 more pending, X3 ring count; [`drain`](self) writes one postcard-framed batch through the
//! fault-safe NS copy). TF-A v2.12 forwards fnum 0x150–0x18E to the RMM, and no fnum there is free
//! in every RMI draft; 0x182 has the fewest users, both superseded prototypes (an early TF-RMM DA
//! branch's `RTT_AUX_READ_ENTRY`, Linux's RMI 1.1 DA series' `PDEV_P2P_DISCONNECT`), while TF-RMM's
//! 1.1-aligned and main-line headers mark it "not used" and Linux's 2.0-bet3 header leaves it free.
//! The trade-off: a Host written for one of those two prototypes reaches the drain instead, which
//! can only write a batch into the buffer that Host named or answer `RMI_ERROR_INPUT`. The full
//! survey and the per-fnum table are in `warden_abi::trace`; the FID is that one constant.
//!
//! # Shape
//! [`Tracer`] (in the granule table, so every path that can contend on a granule reaches it) holds
//! the rings; [`Trace`] is a `Copy` handle (tracer + machine) with one method per event kind.
//! Firmware builds with the feature record into a static [`TraceRings`]; host builds record only
//! into rings a test attaches ([`crate::Rmm::attach_trace`]).

pub mod ring;

#[cfg(feature = "trace")]
mod drain;

pub use ring::{RING_RECORDS, Ring, TRACE_CPUS, TraceRings};
pub use warden_abi::trace::{RMI_WARDEN_TRACE_DRAIN, TraceRecord};

#[cfg(feature = "trace")]
pub use on::*;

#[cfg(not(feature = "trace"))]
pub use off::*;

/// The hooks with the feature on.
#[cfg(feature = "trace")]
mod on {
    use warden_abi::rec_run::RmiRecExitReason;
    use warden_abi::trace::{DURATION_SATURATED, EventKind, TraceRecord, flags};

    use super::TraceRings;
    use crate::platform::Machine;
    use crate::rmi::RmiReturn;
    use crate::rmm::Rmm;

    /// Where this Warden records its events: the rings, if any.
    #[derive(Clone, Copy)]
    pub struct Tracer<'a> {
        #[cfg_attr(target_os = "none", allow(dead_code))]
        rings: Option<&'a TraceRings>,
    }

    /// The rings the firmware records into.
    #[cfg(target_os = "none")]
    static FIRMWARE_RINGS: TraceRings = TraceRings::new();

    impl<'a> Tracer<'a> {
        /// The build's default: the static rings on the firmware, none on the host.
        pub(crate) fn for_build() -> Self {
            #[cfg(target_os = "none")]
            return Self { rings: Some(&FIRMWARE_RINGS) };
            #[cfg(not(target_os = "none"))]
            Self { rings: None }
        }

        /// Records into `rings` from now on.
        pub(crate) fn attach(&mut self, rings: &'a TraceRings) {
            self.rings = Some(rings);
        }

        /// The rings, if any. On the firmware always the static rings: a constant address, so the
        /// hooks neither load nor test it.
        #[inline(always)]
        pub(crate) fn rings(&self) -> Option<&'a TraceRings> {
            #[cfg(target_os = "none")]
            return Some(&FIRMWARE_RINGS);
            #[cfg(not(target_os = "none"))]
            self.rings
        }
    }

    /// The counter at an event's start (0 when nothing records).
    #[derive(Clone, Copy)]
    pub struct Stamp(u64);

    /// The tracer and the machine whose counter and CPU index it uses.
    pub struct Trace<'t, M> {
        tracer: &'t Tracer<'t>,
        machine: &'t M,
    }

    impl<M> Clone for Trace<'_, M> {
        fn clone(&self) -> Self {
            *self
        }
    }
    impl<M> Copy for Trace<'_, M> {}

    impl<'t, M: Machine> Trace<'t, M> {
        /// A handle for `tracer` on `machine`.
        #[inline(always)]
        pub fn new(tracer: &'t Tracer<'t>, machine: &'t M) -> Self {
            Self { tracer, machine }
        }

        /// Starts an event.
        #[inline(always)]
        pub fn start(self) -> Stamp {
            Stamp(if self.tracer.rings().is_some() { self.machine.counter() } else { 0 })
        }

        #[inline(always)]
        #[allow(clippy::too_many_arguments)]
        fn emit(self, start: Stamp, kind: EventKind, id: u64, status: u64, arg: u64, flag: u8, aux: u8) {
            let Some(rings) = self.tracer.rings() else { return };
            let duration = self.machine.counter().wrapping_sub(start.0);
            let cpu = self.machine.cpu_id();
            let Some(ring) = rings.get(cpu) else { return };
            ring.push(TraceRecord {
                timestamp: start.0,
                duration: duration.min(u64::from(DURATION_SATURATED)) as u32,
                id: id as u32,
                arg,
                status: status as u32,
                kind: kind as u8,
                cpu: cpu as u8,
                flags: flag,
                aux,
            });
        }

        /// An RMI command `fid` (X1 = `x1`) returned `x0` (its status).
        #[inline(always)]
        pub fn rmi(self, start: Stamp, fid: u64, x1: u64, x0: u64) {
            self.emit(start, EventKind::Rmi, fid, x0, x1, 0, 0);
        }

        /// A REC entry's run loop ended with the exit the Host sees (`reason`, `esr` as reported).
        #[inline(always)]
        pub fn rec_run(self, start: Stamp, rec: u64, reason: u64, esr: u64) {
            let ec = if reason == RmiRecExitReason::Sync as u64 || reason == RmiRecExitReason::Serror as u64 {
                (esr >> 26) as u8 & 0x3F
            } else {
                0
            };
            self.emit(start, EventKind::RecRun, reason, 0, rec, 0, ec);
        }

        /// An RSI call `fid` returned `status` to the Realm, or exited to the Host.
        #[inline(always)]
        pub fn rsi(self, start: Stamp, fid: u64, status: u64, to_host: bool) {
            let (status, flag) = if to_host { (0, flags::TO_HOST) } else { (status, 0) };
            self.emit(start, EventKind::Rsi, fid, status, 0, flag, 0);
        }

        /// A PSCI call `fid` returned `ret` to the Realm, or was forwarded to the Host.
        #[inline(always)]
        pub fn psci(self, start: Stamp, fid: u64, ret: u64, to_host: bool) {
            let (ret, flag) = if to_host { (0, flags::TO_HOST) } else { (ret, 0) };
            self.emit(start, EventKind::Psci, fid, ret, 0, flag, 0);
        }

        /// An EL3 granule transition `fid` for `pa` (`error` 0 on success).
        #[inline(always)]
        pub fn el3(self, start: Stamp, fid: u64, pa: u64, error: i64) {
            self.emit(start, EventKind::El3Gtsi, fid, error as u64, pa, 0, 0);
        }

        /// A level-3 walk through the walk cache.
        #[inline(always)]
        pub fn walk(self, start: Stamp, hit: bool) {
            let kind = if hit { EventKind::WalkHit } else { EventKind::WalkMiss };
            self.emit(start, kind, 0, 0, 0, 0, 0);
        }

        /// A granule acquisition about to wait; records on drop if it spun.
        #[inline(always)]
        pub fn wait(self, shared: bool) -> Wait<'t, M> {
            Wait { trace: self, start: Stamp(0), spins: 0, shared }
        }
    }

    /// A granule acquisition's waiting: counts spins, records one event when it ends.
    pub struct Wait<'t, M: Machine> {
        trace: Trace<'t, M>,
        start: Stamp,
        spins: u64,
        shared: bool,
    }

    impl<M: Machine> Wait<'_, M> {
        /// One more spin.
        #[inline(always)]
        pub fn spin(&mut self) {
            if self.spins == 0 {
                self.start = self.trace.start();
            }
            self.spins += 1;
        }

        /// The wait is over (records it, if it spun). Dropping it does the same.
        #[inline(always)]
        pub fn end(self) {}
    }

    impl<M: Machine> Drop for Wait<'_, M> {
        #[inline(always)]
        fn drop(&mut self) {
            if self.spins != 0 {
                self.trace.emit(self.start, EventKind::ClaimRetry, 0, 0, self.spins, 0, u8::from(self.shared));
            }
        }
    }

    /// An RMI FID that is not an RMI 1.0 command: the trace drain, or `SMC_UNKNOWN`.
    #[inline(always)]
    pub fn implementation_defined<M: Machine>(rmm: &Rmm<'_, M>, x: &[u64; 8]) -> RmiReturn {
        if warden_abi::fid::strip_sve_hint(x[0]) == super::RMI_WARDEN_TRACE_DRAIN {
            return rmm.trace_drain(x[1], x[2], x[3]);
        }
        RmiReturn([warden_abi::fid::SMC_UNKNOWN, 0, 0, 0, 0])
    }
}

/// The hooks with the feature off: zero-sized, empty, inlined away.
#[cfg(not(feature = "trace"))]
mod off {
    use core::marker::PhantomData;

    use crate::platform::Machine;
    use crate::rmi::RmiReturn;
    use crate::rmm::Rmm;

    /// Nothing (the `trace` feature is off).
    #[derive(Clone, Copy)]
    pub struct Tracer<'a>(PhantomData<&'a ()>);

    impl Tracer<'_> {
        /// Nothing to record into.
        #[inline(always)]
        pub(crate) fn for_build() -> Self {
            Self(PhantomData)
        }
    }

    /// Nothing.
    #[derive(Clone, Copy)]
    pub struct Stamp;

    /// Nothing.
    pub struct Trace<'t, M>(PhantomData<(&'t (), &'t M)>);

    impl<M> Clone for Trace<'_, M> {
        fn clone(&self) -> Self {
            *self
        }
    }
    impl<M> Copy for Trace<'_, M> {}

    /// Empty hooks.
    #[allow(missing_docs)]
    impl<'t, M: Machine> Trace<'t, M> {
        #[inline(always)]
        pub fn new(_: &'t Tracer<'t>, _: &'t M) -> Self {
            Self(PhantomData)
        }
        #[inline(always)]
        pub fn start(self) -> Stamp {
            Stamp
        }
        #[inline(always)]
        pub fn rmi(self, _: Stamp, _: u64, _: u64, _: u64) {}
        #[inline(always)]
        pub fn rec_run(self, _: Stamp, _: u64, _: u64, _: u64) {}
        #[inline(always)]
        pub fn rsi(self, _: Stamp, _: u64, _: u64, _: bool) {}
        #[inline(always)]
        pub fn psci(self, _: Stamp, _: u64, _: u64, _: bool) {}
        #[inline(always)]
        pub fn el3(self, _: Stamp, _: u64, _: u64, _: i64) {}
        #[inline(always)]
        pub fn walk(self, _: Stamp, _: bool) {}
        #[inline(always)]
        pub fn wait(self, _: bool) -> Wait<'t, M> {
            Wait(PhantomData)
        }
    }

    /// Nothing.
    pub struct Wait<'t, M>(PhantomData<(&'t (), &'t M)>);

    impl<M> Wait<'_, M> {
        /// Nothing.
        #[inline(always)]
        pub fn spin(&mut self) {}

        /// Nothing.
        #[inline(always)]
        pub fn end(self) {}
    }

    /// Every FID that is not an RMI 1.0 command is unknown: there is no drain command.
    #[inline(always)]
    pub fn implementation_defined<M: Machine>(_: &Rmm<'_, M>, _: &[u64; 8]) -> RmiReturn {
        RmiReturn([warden_abi::fid::SMC_UNKNOWN, 0, 0, 0, 0])
    }
}
