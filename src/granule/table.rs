//! The table of granule words and the acquisition protocol (see the module docs of `granule`).

use warden_abi::addr::Pa;

use super::handle::{Claimed, GranuleObject, Shared};
use super::state::GranuleState;
use crate::platform::{DramLayout, Machine};
use crate::sync::{AtomicU32, Ordering, spin_loop};
use crate::trace::{Trace, Tracer};

pub(super) const STATE_MASK: u32 = 0xF;
pub(super) const CLAIMED: u32 = 1 << 7;
pub(super) const REF_ONE: u32 = 1 << 8;
const REF_MASK: u32 = !0xFF;

#[derive(Clone, Copy)]
enum Mode {
    Exclusive,
    Shared,
}

#[derive(Clone, Copy)]
enum Waits {
    /// Only while the state is the expected one (the outcome depends on the holder).
    ForSameState,
    /// Also while claimed in another state (the granule's owner is moving it into the expected one).
    ForAnyState,
    /// Never: a held granule is reported as [`AcquireError::Busy`].
    Never,
}

/// Why [`GranuleTable::claim_unless`] did not claim.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused<E> {
    /// The granule could not be acquired at all (not delegable, wrong state).
    Acquire(AcquireError),
    /// The object's own state makes the command fail with this error.
    By(E),
}

/// Why a granule could not be acquired.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AcquireError {
    /// The address is not a granule of delegable DRAM (`PaIsDelegable` is false).
    OutOfBounds,
    /// The granule is in another state than the one the command needs.
    State(GranuleState),
    /// The granule is held by another command (only from [`GranuleTable::try_claim`]).
    Busy,
}

/// One packed atomic word per granule of delegable DRAM, and the machine that reaches their contents.
pub struct GranuleTable<'a, M> {
    words: &'a [AtomicU32],
    layout: DramLayout,
    machine: &'a M,
    tracer: Tracer<'a>,
}

impl<'a, M: Machine> GranuleTable<'a, M> {
    /// Builds the table over `words`, which must hold one word per granule of `layout`, all zero
    /// (every granule UNDELEGATED).
    ///
    /// # Panics
    /// If `words` is shorter than the layout's granule count — a boot-time sizing bug.
    pub fn new(words: &'a [AtomicU32], layout: DramLayout, machine: &'a M) -> Self {
        assert!(words.len() >= layout.granules(), "granule table too small for the DRAM banks");
        Self { words, layout, machine, tracer: Tracer::for_build() }
    }

    /// Bytes of table needed for `granules` granules.
    pub const fn bytes_for(granules: usize) -> usize {
        granules * core::mem::size_of::<u32>()
    }

    /// The delegable DRAM this table covers.
    pub fn layout(&self) -> &DramLayout {
        &self.layout
    }

    /// The machine behind the table.
    pub fn machine(&self) -> &'a M {
        self.machine
    }

    /// Where events are traced (see `crate::trace`).
    #[inline(always)]
    pub(crate) fn trace(&self) -> Trace<'_, M> {
        Trace::new(&self.tracer, self.machine)
    }

    /// The tracer.
    #[allow(dead_code)] // only the `trace` feature's drain reads it
    pub(crate) fn tracer(&self) -> &Tracer<'a> {
        &self.tracer
    }

    /// The tracer, to attach rings.
    #[allow(dead_code)] // only the `trace` feature attaches rings
    pub(crate) fn tracer_mut(&mut self) -> &mut Tracer<'a> {
        &mut self.tracer
    }

    /// `PaIsDelegable`: whether `pa` lies in delegable DRAM. Alignment is the caller's check.
    #[inline]
    pub fn is_delegable(&self, pa: Pa) -> bool {
        self.layout.index(pa).is_some()
    }

    /// The current state of the granule at `pa`, or `None` outside delegable DRAM. A snapshot: it
    /// may change as soon as it is read, so commands use it only for their spec-ordered checks.
    #[inline]
    pub fn state(&self, pa: Pa) -> Option<GranuleState> {
        let i = self.layout.index(pa)?;
        Some(GranuleState::from_bits(self.words[i].load(Ordering::Acquire)))
    }

    /// Claims the granule at `pa` (granule aligned) exclusively, if it is in state `expected`.
    ///
    /// Fails at once if the state differs; retries while another command holds the granule in the
    /// expected state (that command is short and its outcome decides ours).
    #[inline]
    pub fn claim(&self, pa: Pa, expected: GranuleState) -> Result<Claimed<'_, 'a, M>, AcquireError> {
        let index = self.acquire(pa, expected, Mode::Exclusive, Waits::ForSameState)?;
        Ok(Claimed::new(self, index, pa, expected))
    }

    /// Claims a granule the caller reached through its owner (an RTT entry, a REC's RD): like
    /// [`GranuleTable::claim`], but also waits while the granule is claimed in *another* state, because
    /// then the owner's command is still moving it into the state the entry promises.
    #[inline]
    pub fn claim_owned(&self, pa: Pa, expected: GranuleState) -> Result<Claimed<'_, 'a, M>, AcquireError> {
        let index = self.acquire(pa, expected, Mode::Exclusive, Waits::ForAnyState)?;
        Ok(Claimed::new(self, index, pa, expected))
    }

    /// Claims the granule at `pa` exclusively if it is in state `expected` and nobody holds it;
    /// returns [`AcquireError::Busy`] instead of waiting. For granules that may be shared for a long
    /// time (a REC while it runs, an RD while one of its RECs runs): the caller decides from the
    /// object's own state whether to fail or try again.
    #[inline]
    pub fn try_claim(&self, pa: Pa, expected: GranuleState) -> Result<Claimed<'_, 'a, M>, AcquireError> {
        let index = self.acquire(pa, expected, Mode::Exclusive, Waits::Never)?;
        Ok(Claimed::new(self, index, pa, expected))
    }

    /// Claims a granule that may stay shared for a long time — an RD while one of its RECs runs, a
    /// REC while it runs — without ever waiting for that: `refuse` looks at the object through a
    /// shared reference and names the command's error if the long holder makes it fail; otherwise
    /// the claim is retried while short commands hold references.
    pub fn claim_unless<T: GranuleObject, E>(
        &self,
        pa: Pa,
        refuse: impl Fn(&T) -> Option<E>,
    ) -> Result<Claimed<'_, 'a, M>, Refused<E>> {
        let mut wait = self.trace().wait(false);
        let claim = loop {
            if let Some(e) = refuse(self.share(pa, T::STATE).map_err(Refused::Acquire)?.object::<T>()) {
                return Err(Refused::By(e));
            }
            match self.try_claim(pa, T::STATE) {
                Ok(claim) => break claim,
                Err(AcquireError::Busy) => {
                    wait.spin();
                    spin_loop();
                }
                Err(e) => return Err(Refused::Acquire(e)),
            }
        };
        wait.end();
        Ok(claim)
    }

    /// Takes a shared reference to the granule at `pa` if it is in state `expected`: its state
    /// cannot change (no claim can be taken) until the reference is dropped.
    #[inline]
    pub fn share(&self, pa: Pa, expected: GranuleState) -> Result<Shared<'_, 'a, M>, AcquireError> {
        let index = self.acquire(pa, expected, Mode::Shared, Waits::ForSameState)?;
        Ok(Shared::new(self, index, pa))
    }

    /// [`GranuleTable::share`] for a granule reached through its owner (see
    /// [`GranuleTable::claim_owned`]).
    #[inline]
    pub fn share_owned(&self, pa: Pa, expected: GranuleState) -> Result<Shared<'_, 'a, M>, AcquireError> {
        let index = self.acquire(pa, expected, Mode::Shared, Waits::ForAnyState)?;
        Ok(Shared::new(self, index, pa))
    }

    #[inline(always)]
    fn acquire(&self, pa: Pa, expected: GranuleState, mode: Mode, waits: Waits) -> Result<usize, AcquireError> {
        let index = self.layout.index(pa).ok_or(AcquireError::OutOfBounds)?;
        let word = &self.words[index];
        let idle = expected.bits();
        // Fast path: one CAS that assumes the common word (expected state, unclaimed, unshared),
        // without a load first — one coherence transaction on a line another CPU last wrote.
        let taken = match mode {
            Mode::Exclusive => idle | CLAIMED,
            Mode::Shared => idle + REF_ONE,
        };
        let mut cur = match word.compare_exchange(idle, taken, Ordering::Acquire, Ordering::Acquire) {
            Ok(_) => return Ok(index),
            Err(now) => now,
        };
        let mut wait = self.trace().wait(matches!(mode, Mode::Shared));
        loop {
            let busy = match mode {
                Mode::Exclusive => cur & (CLAIMED | REF_MASK) != 0,
                Mode::Shared => cur & CLAIMED != 0,
            };
            let owner_in_flight = matches!(waits, Waits::ForAnyState) && cur & CLAIMED != 0;
            if cur & STATE_MASK != idle && !owner_in_flight {
                return Err(AcquireError::State(GranuleState::from_bits(cur)));
            }
            if busy && matches!(waits, Waits::Never) {
                return Err(AcquireError::Busy);
            }
            if busy || owner_in_flight {
                wait.spin();
                spin_loop();
                cur = word.load(Ordering::Acquire);
                continue;
            }
            let next = match mode {
                Mode::Exclusive => cur | CLAIMED,
                // The reference count has 24 bits; one reference per CPU in flight cannot overflow.
                Mode::Shared => cur + REF_ONE,
            };
            match word.compare_exchange_weak(cur, next, Ordering::Acquire, Ordering::Acquire) {
                Ok(_) => return Ok(index),
                Err(now) => cur = now,
            }
        }
    }

    /// The word of granule `index`, for the handles.
    #[inline]
    pub(super) fn word(&self, index: usize) -> &AtomicU32 {
        &self.words[index]
    }
}
