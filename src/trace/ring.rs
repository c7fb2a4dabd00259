//! The per-CPU trace ring: single producer (the CPU that owns it), one drainer at a time (any CPU).
//!
//! # Protocol
//! `head` (written only by the producer) and `tail` (written only by the drainer holding the drain
//! flag) are free-running `u32` indices; the ring holds `head - tail` records, slot `i % N`.
//! * **Push** (producer): load `head` (Relaxed: only it writes it) and `tail` (Acquire: pairs with
//!   the drainer's Release store of `tail`, so the drainer's reads of the slots it consumed happen
//!   before this overwrite). Full → count a drop and return. Otherwise write the slot at `head`
//!   with plain stores, then publish with a Release store of `head + 1`.
//! * **Drain** (any CPU): take the drain flag (CAS 0 → 1, Acquire; spin while another CPU drains
//!   this ring), load `head` (Acquire: pairs with the push's Release, so the slots below it are
//!   written), copy records out, and only once they are safely delivered consume them with a
//!   Release store of `tail`. Release the flag (Release), so the next drainer sees `tail`.
//!
//! # Why no record is ever torn
//! The producer writes only the slot at `head`, which is outside `[tail, head)` because the ring is
//! not full; the drainer reads only slots in `[tail, head)` as it observed them. A slot is therefore
//! never written while it is read, and the Release/Acquire pairs above order each slot write before
//! its read and each read before its next write. This is the property `loom-tests/tests/trace.rs`
//! checks (loom's `UnsafeCell` reports any overlapping access).
//!
//! # Overflow: drop the newest
//! A full ring drops the record being pushed and counts it. Dropping the oldest would have the
//! producer overwrite slots a concurrent drainer may be copying, which needs a per-slot sequence
//! check (more instructions on every push, and retries in the drainer); dropping the newest keeps
//! the push at a handful of instructions and the drainer wait-free on the producer. What is kept is
//! the *start* of a burst, and `dropped` tells the reader exactly how many records are missing;
//! the Host controls how often it drains, so it can size its drain interval to avoid drops.
//!
//! The producer must be unique per ring: on the firmware a CPU never runs two Warden contexts at
//! once (Warden runs with interrupts masked), and host tests that attach rings give each thread its
//! own CPU index.

use crossbeam_utils::CachePadded;
use warden_abi::trace::TraceRecord;

use crate::sync::{AtomicU32, AtomicU64, Ordering, UnsafeCell, spin_loop};

const _: () = assert!(
    core::mem::size_of::<TraceRecord>() == core::mem::size_of::<[u64; 4]>()
        && core::mem::align_of::<TraceRecord>() == core::mem::align_of::<[u64; 4]>()
);
#[cfg(not(target_endian = "little"))]
compile_error!("the ring stores records as little-endian words");

/// The producer's line: only the owning CPU writes it.
struct Producer {
    head: AtomicU32,
    /// Records dropped since boot (monotonic).
    dropped: AtomicU64,
}

/// The drainers' line: written only under the drain flag.
struct Consumer {
    tail: AtomicU32,
    draining: AtomicU32,
    /// The value of `dropped` reported by the previous drain.
    reported: AtomicU64,
}

/// One CPU's ring of `N` records (`N` a power of two, at most 2^31).
///
/// `repr(C)` keeps `head` at the ring's address and the slots within a store's immediate offset of
/// it, which saves the producer address arithmetic.
#[repr(C)]
pub struct Ring<const N: usize> {
    producer: CachePadded<Producer>,
    consumer: CachePadded<Consumer>,
    slots: [UnsafeCell<TraceRecord>; N],
}

// SAFETY: the slots are accessed only by the protocol in the module docs (one producer writes a
// slot outside `[tail, head)`, drainers read slots inside it under the drain flag), which orders
// every write of a slot before its reads and every read before its next write.
unsafe impl<const N: usize> Sync for Ring<N> {}

impl<const N: usize> Ring<N> {
    const CHECK: () = assert!(N.is_power_of_two() && N <= 1 << 31, "ring size must be a power of two ≤ 2^31");

    /// An empty ring.
    #[cfg(not(loom))]
    pub const fn new() -> Self {
        let () = Self::CHECK;
        Self {
            producer: CachePadded::new(Producer { head: AtomicU32::new(0), dropped: AtomicU64::new(0) }),
            consumer: CachePadded::new(Consumer { tail: AtomicU32::new(0), draining: AtomicU32::new(0), reported: AtomicU64::new(0) }),
            slots: [const { UnsafeCell::new(TraceRecord::ZERO) }; N],
        }
    }

    /// An empty ring (loom's atomics are not `const`).
    #[cfg(loom)]
    pub fn new() -> Self {
        let () = Self::CHECK;
        Self {
            producer: CachePadded::new(Producer { head: AtomicU32::new(0), dropped: AtomicU64::new(0) }),
            consumer: CachePadded::new(Consumer { tail: AtomicU32::new(0), draining: AtomicU32::new(0), reported: AtomicU64::new(0) }),
            slots: core::array::from_fn(|_| UnsafeCell::new(TraceRecord::ZERO)),
        }
    }

    /// Appends `record`; returns `false` (and counts a drop) if the ring is full.
    ///
    /// Only the ring's own CPU may call this (see the module docs).
    #[inline(always)]
    pub fn push(&self, record: TraceRecord) -> bool {
        let p = &*self.producer;
        let head = p.head.load(Ordering::Relaxed);
        let tail = self.consumer.tail.load(Ordering::Acquire);
        if head.wrapping_sub(tail) as usize >= N {
            // Only the producer writes `dropped`: a load and a store, no atomic read-modify-write.
            p.dropped.store(p.dropped.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
            return false;
        }
        // SAFETY: the slot at `head` is outside `[tail, head)` (the ring is not full), so no drainer
        // reads it, and this CPU is the ring's only producer. `TraceRecord` is 32 bytes, 8-aligned,
        // and `to_words` is its exact little-endian image (asserted below and in warden-abi's tests),
        // so the record is written with two pair-stores.
        self.slots[head as usize & (N - 1)].with_mut(|slot| unsafe { slot.cast::<[u64; 4]>().write(record.to_words()) });
        p.head.store(head.wrapping_add(1), Ordering::Release);
        true
    }

    /// Records dropped since boot.
    pub fn dropped_total(&self) -> u64 {
        self.producer.dropped.load(Ordering::Relaxed)
    }

    /// Becomes this ring's drainer, waiting while another CPU drains it.
    pub fn begin_drain(&self) -> Drain<'_, N> {
        let c = &*self.consumer;
        while c.draining.compare_exchange_weak(0, 1, Ordering::Acquire, Ordering::Relaxed).is_err() {
            spin_loop();
        }
        let tail = c.tail.load(Ordering::Relaxed);
        let head = self.producer.head.load(Ordering::Acquire);
        Drain { ring: self, tail, available: head.wrapping_sub(tail) as usize }
    }
}

#[cfg(not(loom))]
impl<const N: usize> Default for Ring<N> {
    fn default() -> Self {
        Self::new()
    }
}

/// The right to drain one ring (its drain flag), with a snapshot of what it holds.
pub struct Drain<'r, const N: usize> {
    ring: &'r Ring<N>,
    tail: u32,
    available: usize,
}

impl<const N: usize> Drain<'_, N> {
    /// Records available to this drain (those pushed before it began).
    pub fn available(&self) -> usize {
        self.available
    }

    /// Drops counted since the previous drain's [`Drain::consume`].
    pub fn dropped_since_last(&self) -> u64 {
        self.ring.dropped_total().wrapping_sub(self.ring.consumer.reported.load(Ordering::Relaxed))
    }

    /// Copies the available records from `skip` on into `out` (as many as fit); returns how many.
    /// Nothing is consumed.
    pub fn copy(&self, skip: usize, out: &mut [TraceRecord]) -> usize {
        let n = out.len().min(self.available.saturating_sub(skip));
        for (i, o) in out[..n].iter_mut().enumerate() {
            let index = self.tail.wrapping_add((skip + i) as u32) as usize & (N - 1);
            // SAFETY: the slot is in `[tail, head)` as this drain observed them (Acquire on `head`),
            // so the producer wrote it before publishing and will not write it again until `tail`
            // moves past it, which only this drain (holding the flag) can do.
            *o = self.ring.slots[index].with(|slot| unsafe { slot.read() });
        }
        n
    }

    /// Consumes the first `n` available records and marks `dropped` drops as reported.
    pub fn consume(self, n: usize, dropped: u64) {
        let c = &*self.ring.consumer;
        let n = n.min(self.available);
        c.reported.store(c.reported.load(Ordering::Relaxed).wrapping_add(dropped), Ordering::Relaxed);
        c.tail.store(self.tail.wrapping_add(n as u32), Ordering::Release);
        // `Drop` releases the flag.
    }
}

impl<const N: usize> Drop for Drain<'_, N> {
    fn drop(&mut self) {
        self.ring.consumer.draining.store(0, Ordering::Release);
    }
}

/// Records per CPU ring (32 bytes each: 256 KiB per CPU, 2 MiB for [`TRACE_CPUS`] in a trace
/// build's `.bss`). Sized for the QEMU storm scenario (2000 random commands per CPU, about 5000
/// events) between two drains; a Host that drains less often sees counted drops.
pub const RING_RECORDS: usize = 8192;

/// CPUs with a ring (the firmware supports 8); events on a CPU with a higher index are not
/// recorded.
pub const TRACE_CPUS: usize = 8;

/// One ring per CPU.
pub struct TraceRings {
    rings: [Ring<RING_RECORDS>; TRACE_CPUS],
}

impl TraceRings {
    /// Empty rings.
    #[cfg(not(loom))]
    pub const fn new() -> Self {
        Self { rings: [const { Ring::new() }; TRACE_CPUS] }
    }

    /// Empty rings (loom).
    #[cfg(loom)]
    pub fn new() -> Self {
        Self { rings: core::array::from_fn(|_| Ring::new()) }
    }

    /// Empty rings on the heap, without building 2 MiB on the stack first (host builds).
    #[cfg(all(not(loom), not(target_os = "none")))]
    pub fn new_boxed() -> std::boxed::Box<Self> {
        let layout = core::alloc::Layout::new::<Self>();
        // SAFETY: the layout is non-zero-sized. All-zero bytes are a valid `TraceRings`: every field
        // is an atomic integer (zero), a `TraceRecord` (plain integers) in an `UnsafeCell`, or
        // padding, and `new()` builds exactly that value.
        unsafe {
            let p = std::alloc::alloc_zeroed(layout).cast::<Self>();
            assert!(!p.is_null(), "out of memory for the trace rings");
            std::boxed::Box::from_raw(p)
        }
    }

    /// The number of rings.
    pub const fn len(&self) -> usize {
        TRACE_CPUS
    }

    /// Always false (there is a ring per CPU).
    pub const fn is_empty(&self) -> bool {
        false
    }

    /// CPU `cpu`'s ring.
    #[inline(always)]
    pub fn get(&self, cpu: usize) -> Option<&Ring<RING_RECORDS>> {
        self.rings.get(cpu)
    }
}

#[cfg(not(loom))]
impl Default for TraceRings {
    fn default() -> Self {
        Self::new()
    }
}
