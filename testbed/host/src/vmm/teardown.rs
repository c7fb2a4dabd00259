//! Tearing the Realm down after its run, as the other scenarios do: REC_DESTROY of each REC,
//! DATA_DESTROY of every populated page (measured, created empty before activation, or populated
//! on first touch), RTT_DESTROY of the level-3 tables and then the level-2 one, REALM_DESTROY, and
//! GRANULE_UNDELEGATE of every granule the build and the first-touch faults delegated, following
//! the Realm's structure. Then the check: every granule the VMM ever delegated — the independent
//! record [`build::delegated`] — must read from the NS PAS without a fault and hold only zeros
//! (Warden scrubs what it returns). All of them are checked, every word: one probed load per
//! granule, the rest plain loads.
//!
//! Must never run while a vCPU may still enter the Realm. Every step runs even after one failed
//! (so as much as possible is reclaimed); the first failure is the result.

use super::account::{self, DRAIN_OPS};
use super::build::{self, Built, Desc, pool};
use crate::fault::probe_read;
use crate::nsmem::{self, GRANULE};
use crate::rmi::Rmi;
use crate::scenarios::Msg;
use crate::smc::Smc;

/// 2 MiB, 1 GiB.
const MIB2: u64 = 2 << 20;
const GIB: u64 = 1 << 30;

/// What the teardown did.
#[derive(Clone, Copy, Debug, Default)]
pub struct Torn {
    /// RECs destroyed.
    pub recs: u64,
    /// DATA granules destroyed.
    pub data: u64,
    /// Of those, measured ones (DATA_CREATE with content).
    pub measured: u64,
    /// RTTs destroyed below the starting level.
    pub rtts: u64,
    /// REALM_DESTROY succeeded.
    pub realm: bool,
    /// Granules undelegated.
    pub undelegated: u64,
    /// Granules the VMM had delegated (its record).
    pub delegated: u64,
    /// Granules read back through NS, all zero.
    pub zero: u64,
    /// Counter ticks: the RMI steps, the read-back.
    pub ticks: u64,
    /// Of those, the read-back.
    pub check_ticks: u64,
    /// Of those, draining Warden's trace.
    pub trace_ticks: u64,
}

fn cntpct() -> u64 {
    let c: u64;
    // SAFETY: reads the physical counter; no memory access.
    unsafe { core::arch::asm!("isb", "mrs {}, cntpct_el0", out(reg) c, options(nomem, nostack)) };
    c
}

/// Keeps the first failure.
struct First(Option<Msg>);

impl First {
    fn note<T>(
        &mut self,
        r: Result<T, crate::rmi::RmiError>,
        what: core::fmt::Arguments<'_>,
    ) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                if self.0.is_none() {
                    self.0 = Some(vmsg!("teardown: {what} = {e:?}"));
                }
                None
            }
        }
    }

    fn fail(&mut self, m: Msg) {
        if self.0.is_none() {
            self.0 = Some(m);
        }
    }
}

/// Whether the granule at `pa` reads from NS without a fault and is all zero; the failure
/// otherwise.
fn reads_zero(pa: u64) -> Result<(), Msg> {
    match probe_read(pa) {
        Err(f) => Err(vmsg!(
            "teardown: granule {pa:#x} is not readable from NS (still delegated?): ESR {:#x} FAR {:#x}",
            f.esr,
            f.far
        )),
        Ok(first) => {
            // The first word read without a fault, so the whole granule is NS (a GPT entry covers
            // at least a granule): plain loads for the rest.
            let mut o = 0;
            let mut v = first;
            while v == 0 && o + 8 < GRANULE {
                o += 8;
                v = nsmem::read_u64(pa + o);
            }
            if v == 0 {
                Ok(())
            } else {
                Err(vmsg!(
                    "teardown: granule {pa:#x} not scrubbed after undelegation: word at +{o:#x} = {v:#x}"
                ))
            }
        }
    }
}

/// Destroys the Realm `d` that `b` built and the first-touch faults populated, undelegates its
/// granules and checks them. Returns what it did, and the first failure.
pub fn teardown(d: &Desc, b: &Built) -> (Torn, Result<(), Msg>) {
    let t0 = cntpct();
    let mut rmi = Rmi::new(Smc);
    let mut first = First(None);
    let mut t = Torn::default();
    let mut ops = 0u64;
    let mut tick = |t: &mut Torn| {
        ops += 1;
        if ops.is_multiple_of(DRAIN_OPS) {
            t.trace_ticks += account::drain(0);
        }
    };

    for i in 0..d.cpus {
        let rec = pool::rec(i);
        if first
            .note(rmi.rec_destroy(rec), format_args!("REC_DESTROY({rec:#x})"))
            .is_some()
        {
            t.recs += 1;
        }
    }
    for ipa in build::populated(d) {
        let r = rmi.data_destroy(pool::RD, ipa);
        if let Some((pa, _top)) = first.note(r, format_args!("DATA_DESTROY({ipa:#x})")) {
            if pa != d.data(ipa) {
                first.fail(vmsg!(
                    "teardown: DATA_DESTROY({ipa:#x}) returned granule {pa:#x}, want {:#x}",
                    d.data(ipa)
                ));
            }
            t.data += 1;
            t.measured += u64::from(d.source(ipa).is_some());
        }
        tick(&mut t);
    }
    let l3s = d.ram_size / MIB2;
    let rtts = (0..l3s)
        .map(|k| (pool::table(k + 1), d.ram_ipa + k * MIB2, 3))
        .chain([(pool::table(0), d.ram_ipa & !(GIB - 1), 2)]);
    for (table, ipa, level) in rtts {
        let r = rmi.rtt_destroy(pool::RD, ipa, level);
        if let Some((pa, _top)) =
            first.note(r, format_args!("RTT_DESTROY({ipa:#x}, level {level})"))
        {
            if pa != table {
                first.fail(vmsg!(
                    "teardown: RTT_DESTROY({ipa:#x}, level {level}) returned table {pa:#x}, want {table:#x}"
                ));
            }
            t.rtts += 1;
        }
    }
    t.realm = first
        .note(rmi.realm_destroy(pool::RD), format_args!("REALM_DESTROY"))
        .is_some();

    let objects = [pool::RD, pool::RTT0, pool::RTT0 + GRANULE]
        .into_iter()
        .chain((0..=l3s).map(pool::table))
        .chain((0..d.cpus).map(pool::rec))
        .chain((0..d.cpus).flat_map(|i| (0..b.aux).map(move |a| pool::aux(i, a))));
    for pa in objects.chain(build::populated(d).map(|ipa| d.data(ipa))) {
        if first
            .note(
                rmi.granule_undelegate(pa),
                format_args!("GRANULE_UNDELEGATE({pa:#x})"),
            )
            .is_some()
        {
            t.undelegated += 1;
        }
        tick(&mut t);
    }

    let tc = cntpct();
    for pa in build::delegated() {
        t.delegated += 1;
        match reads_zero(pa) {
            Ok(()) => t.zero += 1,
            Err(m) => first.fail(m),
        }
    }
    if t.undelegated != t.delegated {
        first.fail(vmsg!(
            "teardown: {} granules undelegated, but the VMM delegated {}",
            t.undelegated,
            t.delegated
        ));
    }
    let t1 = cntpct();
    t.check_ticks = t1 - tc;
    t.ticks = t1 - t0;
    (t, first.0.map_or(Ok(()), Err))
}
