//! `RMI_WARDEN_TRACE_DRAIN` (implementation defined; present only with the `trace` feature): copies
//! one postcard-framed batch of one CPU's ring into a Host buffer through the fault-safe NS copy.
//! The registers and the choice of FID are documented in `warden_abi::trace`.

use warden_abi::addr::{GRANULE_SIZE, Pa};
use warden_abi::status::RmiStatus;
use warden_abi::trace::{BatchHeader, MAX_HEADER_SIZE, MIN_DRAIN_BUFFER, RECORD_SIZE, TraceRecord};
use zerocopy::IntoBytes;

use super::TraceRings;
use crate::platform::{Machine, NsAccessFault};
use crate::rmi::RmiReturn;
use crate::rmm::Rmm;

/// Records copied out of the ring per NS write.
const CHUNK: usize = 16;

/// A cursor over the Host's buffer: writes split at granule boundaries (the NS copy works within
/// one granule), each through `Machine::ns_write`.
struct NsCursor<'m, M> {
    machine: &'m M,
    pa: u64,
    written: u64,
}

impl<M: Machine> NsCursor<'_, M> {
    fn write(&mut self, mut bytes: &[u8]) -> Result<(), NsAccessFault> {
        while !bytes.is_empty() {
            let room = (GRANULE_SIZE - self.pa % GRANULE_SIZE) as usize;
            let (now, rest) = bytes.split_at(room.min(bytes.len()));
            self.machine.ns_write(Pa(self.pa), now)?;
            self.pa += now.len() as u64;
            self.written += now.len() as u64;
            bytes = rest;
        }
        Ok(())
    }
}

impl<'a, M: Machine> Rmm<'a, M> {
    /// Records this Warden's events into `rings` from now on (host builds; the firmware records
    /// into its static rings from boot).
    pub fn attach_trace(&mut self, rings: &'a TraceRings) {
        self.granules.tracer_mut().attach(rings);
    }

    /// The rings this Warden records into, if any.
    pub fn trace_rings(&self) -> Option<&'a TraceRings> {
        self.granules.tracer().rings()
    }

    /// RMI_WARDEN_TRACE_DRAIN: X1 buffer PA, X2 size, X3 CPU → X1 bytes written, X2 more pending,
    /// X3 number of rings.
    #[inline(never)]
    pub(crate) fn trace_drain(&self, buf: u64, size: u64, cpu: u64) -> RmiReturn {
        let input = RmiReturn::err(RmiStatus::input());
        let Some(rings) = self.trace_rings() else { return input };
        let Some(ring) = usize::try_from(cpu).ok().and_then(|c| rings.get(c)) else { return input };
        if size < MIN_DRAIN_BUFFER as u64 || buf.checked_add(size).is_none() {
            return input;
        }
        let capacity = usize::try_from((size - MAX_HEADER_SIZE as u64) / RECORD_SIZE as u64).unwrap_or(usize::MAX);

        let drain = ring.begin_drain();
        let n = drain.available().min(capacity);
        let dropped = drain.dropped_since_last();
        let more = drain.available() > n;
        let header = BatchHeader::new(cpu as u16, self.machine().counter_frequency(), dropped, n as u32, more);
        let mut encoded = [0u8; MAX_HEADER_SIZE];
        let len = header.encode(&mut encoded).expect("MAX_HEADER_SIZE holds any header");

        let mut out = NsCursor { machine: self.machine(), pa: buf, written: 0 };
        let copied = out.write(&encoded[..len]).and_then(|()| {
            let mut chunk = [TraceRecord::ZERO; CHUNK];
            let mut done = 0;
            while done < n {
                let k = drain.copy(done, &mut chunk[..(n - done).min(CHUNK)]);
                out.write(chunk[..k].as_bytes())?;
                done += k;
            }
            Ok(())
        });
        if copied.is_err() {
            // Nothing is consumed: the Host can retry with a buffer it owns.
            return input;
        }
        drain.consume(n, dropped);
        RmiReturn::ok(&[out.written, u64::from(more), rings.len() as u64])
    }
}
