//! Typed handles: the only way Warden touches a granule's contents.
//!
//! A [`Claimed`] granule is held exclusively; a [`Shared`] one is held by any number of commands that
//! will not change its state. Both reach the contents through the machine's Realm-PAS mapping of the
//! granule; this file is the only place that turns that address into references, so every `unsafe`
//! about granule memory lives here.
//!
//! Objects with a Rust type ([`GranuleObject`]: the RD, RTTs, RECs) are written whole when a granule
//! takes their state ([`Claimed::init`], [`Claimed::prepare`]) and dropped in place when it leaves it
//! ([`Claimed::retire`]); a
//! granule can only enter such a state through `init`, so a shared reader never sees anything but a
//! fully written object of the type its state names.

use core::marker::PhantomData;
use core::mem::{align_of, size_of};
use core::ptr::NonNull;

use warden_abi::addr::{GRANULE_SIZE, Pa};

use super::state::GranuleState;
use super::table::{CLAIMED, GranuleTable, REF_ONE, STATE_MASK};
use crate::platform::Machine;
use crate::sync::Ordering;

/// A Rust type that lives in a granule of one state.
///
/// # Safety
/// Exactly one type may name each state as its `STATE`: the granule table reads a granule in state
/// `STATE` as this type. The type must fit in one granule (checked at compile time on use).
pub unsafe trait GranuleObject: Sync + Sized {
    /// The granule state whose granules hold this type.
    const STATE: GranuleState;
}

/// Whether granules in `state` hold a typed object.
const fn has_object(state: GranuleState) -> bool {
    matches!(state, GranuleState::Rd | GranuleState::Rec | GranuleState::Rtt)
}

const fn assert_fits<T>() {
    assert!(size_of::<T>() <= GRANULE_SIZE as usize && align_of::<T>() <= GRANULE_SIZE as usize);
}

/// A granule held exclusively. Dropping it without [`Claimed::commit`], [`Claimed::init`] or
/// [`Claimed::retire`] releases it unchanged.
pub struct Claimed<'t, 'a, M: Machine> {
    table: &'t GranuleTable<'a, M>,
    index: usize,
    pa: Pa,
    state: GranuleState,
}

impl<'t, 'a, M: Machine> Claimed<'t, 'a, M> {
    #[inline]
    pub(super) fn new(table: &'t GranuleTable<'a, M>, index: usize, pa: Pa, state: GranuleState) -> Self {
        Self { table, index, pa, state }
    }

    /// The granule's address.
    pub fn pa(&self) -> Pa {
        self.pa
    }

    /// The granule's state while claimed (the state it was claimed in).
    pub fn state(&self) -> GranuleState {
        self.state
    }

    fn base(&self) -> NonNull<u8> {
        self.table.machine().realm_granule(self.pa)
    }

    /// Ends the claim with the granule in `new`, a state without a typed object. This store is the
    /// transition's linearisation point.
    ///
    /// # Panics
    /// If `new` holds a typed object (use [`Claimed::init`]) or the granule still holds one (use
    /// [`Claimed::retire`]) — both are bugs in the caller.
    #[inline]
    pub fn commit(self, new: GranuleState) {
        assert!(!has_object(new) && !has_object(self.state), "typed granule states change through init/retire");
        self.store(new);
    }

    /// Writes `value` into the granule and ends the claim in `T::STATE`.
    pub fn init<T: GranuleObject>(self, value: T) {
        const { assert_fits::<T>() };
        assert!(!has_object(self.state), "granule already holds an object");
        // SAFETY: the granule is claimed, so nothing else reads or writes its memory; the pointer is
        // granule aligned (so aligned for T) and valid for GRANULE_SIZE bytes, which T fits in. The
        // old contents hold no object (checked above), so nothing is leaked or double-dropped.
        unsafe { self.base().cast::<T>().write(value) };
        self.store(T::STATE);
    }

    /// Writes `value` into the granule but keeps the claim: the caller publishes the object
    /// elsewhere first (e.g. the TABLE entry pointing at a new RTT), then commits.
    pub fn prepare<T: GranuleObject>(self, value: T) -> Prepared<'t, 'a, M, T> {
        const { assert_fits::<T>() };
        assert!(!has_object(self.state), "granule already holds an object");
        // SAFETY: as in `init`: claimed, aligned, large enough, and no object to overwrite.
        unsafe { self.base().cast::<T>().write(value) };
        Prepared { claim: Some(self), _t: PhantomData }
    }

    /// The claimed granule's bytes (it holds no typed object), for filling it from Host memory or
    /// hashing it.
    ///
    /// # Panics
    /// If the granule holds a typed object.
    pub fn bytes_mut(&mut self) -> &mut [u8; GRANULE_SIZE as usize] {
        assert!(!has_object(self.state), "raw access to a typed object is not allowed");
        // SAFETY: the claim makes this the only access to the granule's memory while the borrow
        // lasts; the pointer is valid and aligned for GRANULE_SIZE bytes; any bytes are valid u8s.
        unsafe { self.base().cast::<[u8; GRANULE_SIZE as usize]>().as_mut() }
    }

    /// The object held by the claimed granule.
    ///
    /// # Panics
    /// If the granule is not in `T::STATE`.
    pub fn object<T: GranuleObject>(&self) -> &T {
        const { assert_fits::<T>() };
        assert_eq!(self.state, T::STATE, "granule holds another type");
        // SAFETY: a granule in T::STATE holds a T written by `init` (GranuleObject's contract and
        // `commit`'s check); the claim excludes writers for the reference's lifetime.
        unsafe { self.base().cast::<T>().as_ref() }
    }

    /// Drops the object in place (never moving a whole granule onto the stack), zeroes the granule
    /// and ends the claim in `new`.
    ///
    /// # Panics
    /// If the granule is not in `T::STATE`, or `new` holds an object.
    pub fn retire<T: GranuleObject>(mut self, new: GranuleState) {
        const { assert_fits::<T>() };
        assert_eq!(self.state, T::STATE, "granule holds another type");
        assert!(!has_object(new), "typed granule states change through init/retire");
        // SAFETY: the granule holds a T (see `object`) that only this claim can reach; it is dropped
        // once, then its memory is zeroed before the claim ends.
        unsafe { core::ptr::drop_in_place(self.base().cast::<T>().as_ptr()) };
        self.zero_memory();
        self.store(new);
    }

    /// Zeroes the claimed granule (which holds no typed object).
    ///
    /// # Panics
    /// If the granule holds a typed object.
    pub fn zero(&mut self) {
        assert!(!has_object(self.state), "zeroing would forget a typed object");
        self.zero_memory();
    }

    /// Copies `src` into the claimed granule at `offset` (which holds no typed object).
    ///
    /// # Panics
    /// If the range leaves the granule or the granule holds a typed object.
    pub fn write_bytes(&mut self, offset: usize, src: &[u8]) {
        assert!(!has_object(self.state), "raw writes would corrupt a typed object");
        assert!(offset <= GRANULE_SIZE as usize && src.len() <= GRANULE_SIZE as usize - offset);
        // SAFETY: the range is inside the granule (checked above), the claim excludes every other
        // access to it, and `src` cannot overlap Realm-PAS granule memory owned by this claim.
        unsafe { core::ptr::copy_nonoverlapping(src.as_ptr(), self.base().as_ptr().add(offset), src.len()) };
    }

    /// Copies the claimed granule's bytes at `offset` into `dst` (which holds no typed object).
    ///
    /// # Panics
    /// If the range leaves the granule or the granule holds a typed object.
    pub fn read_bytes(&self, offset: usize, dst: &mut [u8]) {
        assert!(!has_object(self.state), "raw reads of a typed object are not allowed");
        assert!(offset <= GRANULE_SIZE as usize && dst.len() <= GRANULE_SIZE as usize - offset);
        // SAFETY: as in `write_bytes`; the claim excludes concurrent writers.
        unsafe { core::ptr::copy_nonoverlapping(self.base().as_ptr().add(offset), dst.as_mut_ptr(), dst.len()) };
    }

    fn zero_memory(&mut self) {
        // SAFETY: the pointer is valid for GRANULE_SIZE bytes of granule memory that only this claim
        // may touch.
        unsafe { self.base().as_ptr().write_bytes(0, GRANULE_SIZE as usize) };
    }

    #[inline]
    fn store(self, new: GranuleState) {
        let word = self.table.word(self.index);
        debug_assert_eq!(word.load(Ordering::Relaxed) & !STATE_MASK, CLAIMED);
        word.store(new.bits(), Ordering::Release);
        core::mem::forget(self);
    }
}

impl<M: Machine> Drop for Claimed<'_, '_, M> {
    #[inline]
    fn drop(&mut self) {
        // Released unchanged: the command failed after claiming.
        self.table.word(self.index).store(self.state.bits(), Ordering::Release);
    }
}

/// A claimed granule holding a new object not yet committed: [`Prepared::commit`] ends the claim in
/// `T::STATE`; dropping it instead moves the object out, zeroes the granule and releases it unchanged.
pub struct Prepared<'t, 'a, M: Machine, T: GranuleObject> {
    claim: Option<Claimed<'t, 'a, M>>,
    _t: PhantomData<T>,
}

impl<M: Machine, T: GranuleObject> Prepared<'_, '_, M, T> {
    /// The granule's address.
    pub fn pa(&self) -> Pa {
        self.claim.as_ref().map_or(Pa(0), Claimed::pa)
    }

    /// The object being prepared.
    pub fn object(&self) -> &T {
        let claim = self.claim.as_ref().expect("prepared granule");
        // SAFETY: `prepare` wrote a T and the claim is still held, excluding every writer.
        unsafe { claim.base().cast::<T>().as_ref() }
    }

    /// Ends the claim with the granule in `T::STATE`: the linearisation point of its creation.
    pub fn commit(mut self) {
        if let Some(claim) = self.claim.take() {
            claim.store(T::STATE);
        }
    }
}

impl<M: Machine, T: GranuleObject> Drop for Prepared<'_, '_, M, T> {
    fn drop(&mut self) {
        if let Some(mut claim) = self.claim.take() {
            // SAFETY: `prepare` wrote a T that was never published; moving it out once here.
            drop(unsafe { claim.base().cast::<T>().read() });
            claim.zero_memory();
            // Dropping the claim releases it in its prior state.
        }
    }
}

/// A shared reference to a granule: its state cannot change while any is held.
pub struct Shared<'t, 'a, M: Machine> {
    table: &'t GranuleTable<'a, M>,
    index: usize,
    pa: Pa,
    _not_send: PhantomData<*const ()>,
}

impl<'t, 'a, M: Machine> Shared<'t, 'a, M> {
    #[inline]
    pub(super) fn new(table: &'t GranuleTable<'a, M>, index: usize, pa: Pa) -> Self {
        Self { table, index, pa, _not_send: PhantomData }
    }

    /// The granule's address.
    pub fn pa(&self) -> Pa {
        self.pa
    }

    /// The object the granule holds.
    ///
    /// # Panics
    /// If the granule is not in `T::STATE`.
    pub fn object<T: GranuleObject>(&self) -> &T {
        const { assert_fits::<T>() };
        let word = self.table.word(self.index).load(Ordering::Relaxed);
        assert_eq!(GranuleState::from_bits(word), T::STATE, "granule holds another type");
        // SAFETY: the state cannot leave T::STATE while this reference is held (no claim can be
        // taken), and a granule in T::STATE holds a T written by `init`. T is Sync, so other
        // shared holders may read it concurrently.
        unsafe { self.table.machine().realm_granule(self.pa).cast::<T>().as_ref() }
    }
}

impl<M: Machine> Shared<'_, '_, M> {
    fn raw_range(&self, offset: usize, len: usize) -> *mut u8 {
        let word = self.table.word(self.index).load(Ordering::Relaxed);
        assert!(!has_object(GranuleState::from_bits(word)), "raw access to a typed object is not allowed");
        assert!(offset <= GRANULE_SIZE as usize && len <= GRANULE_SIZE as usize - offset);
        // SAFETY: the range is inside the granule (checked above).
        unsafe { self.table.machine().realm_granule(self.pa).as_ptr().add(offset) }
    }

    /// Copies bytes of a shared plain granule (a Realm's DATA) at `offset` into `dst`.
    ///
    /// The Realm itself may write the same memory concurrently from another CPU; the copy then sees
    /// some mix of old and new bytes, as hardware would. Warden never keeps references into it.
    pub fn read_bytes(&self, offset: usize, dst: &mut [u8]) {
        let src = self.raw_range(offset, dst.len());
        // SAFETY: `src` is valid for `dst.len()` bytes of granule memory that cannot be freed while
        // this reference is held; `dst` is Warden's own buffer.
        unsafe { core::ptr::copy_nonoverlapping(src, dst.as_mut_ptr(), dst.len()) };
    }

    /// Copies `src` into a shared plain granule (a Realm's DATA) at `offset` (an RSI result written
    /// into Realm memory). See [`Shared::read_bytes`] on concurrent Realm accesses.
    pub fn write_bytes(&self, offset: usize, src: &[u8]) {
        let dst = self.raw_range(offset, src.len());
        // SAFETY: as in `read_bytes`, in the other direction.
        unsafe { core::ptr::copy_nonoverlapping(src.as_ptr(), dst, src.len()) };
    }
}

impl<M: Machine> Drop for Shared<'_, '_, M> {
    #[inline]
    fn drop(&mut self) {
        self.table.word(self.index).fetch_sub(REF_ONE, Ordering::Release);
    }
}
