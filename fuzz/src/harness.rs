//! The small machine every target runs on, the Host's helpers, and the consistency oracle.
//!
//! Owns the arena layout (1 MiB of delegable DRAM at [`DRAM`], then either a second 256 KiB bank at
//! [`BANK1`] or 2 MiB more for a [`BLOCK`] of DATA; Root and Secure memory; MMIO holes; kept small
//! because every input gets a fresh arena), [`with_world`] (a fresh `HostMachine` and Warden
//! per input: inputs never share state), [`World::call`] (every call's result checked by
//! [`crate::status::check`], then the quick consistency check), and [`World::check_deep`] (the
//! whole-state check run at the end of each input). It must never reach into Warden's state except
//! to *read* it for the oracle (granule words, RD and REC objects through shared references).

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet};

use arbitrary::{Arbitrary, Unstructured};

use warden::arch::host::{HostMachine, Pas, RegionSpec};
use warden::granule::GranuleState;
use warden::platform::{DramLayout, RealmTrap};
use warden::realm::Rd;
use warden::rec::Rec;
use warden::sync::{AtomicU32, Ordering};
use warden::Rmm;
use warden_abi::addr::Pa;
use warden_abi::fid::{rmi, RmiCommand};
use warden_abi::rec_params::{RecMpidr, RmiRecParams};
use zerocopy::{FromZeros, IntoBytes};

use crate::status;
use crate::Signature;

#[path = "../../tests/common/realm_params.rs"]
mod realm_params;
/// The standard Realm's parameters, one definition with the integration tests
/// (`tests/common/realm_params.rs`).
pub use realm_params::params;

/// 4 KiB.
pub const GRANULE: u64 = 0x1000;
/// Base of the first (or only) bank of delegable DRAM: 1 MiB below a 2 MiB boundary.
pub const DRAM: u64 = 0x8010_0000;
/// Its size on the two-bank machine: 1 MiB (256 granules).
pub const DRAM_SIZE: u64 = 1 << 20;
/// Its size on the block machine: 3 MiB, the last 2 MiB being [`BLOCK`].
pub const BLOCK_DRAM_SIZE: u64 = 3 << 20;
/// Base of the second bank (two-bank machines only): 256 KiB.
pub const BANK1: u64 = 0x8800_0000;
/// Size of the second bank.
pub const BANK1_SIZE: u64 = 256 << 10;
/// Where the Host writes `RmiRealmParams` (NS).
pub const PARAMS: u64 = DRAM;
/// Where the Host writes `RmiRecParams` (NS).
pub const REC_PARAMS: u64 = DRAM + 0x1000;
/// The Host's `RmiRecRun` granule (NS).
pub const RUN: u64 = DRAM + 0x2000;
/// DATA_CREATE's source page (NS).
pub const SRC: u64 = DRAM + 0x3000;
/// First NS granule the Host hands out for other uses.
pub const NS_POOL: u64 = DRAM + 0x4000;
/// The standard Realm's RD.
pub const RD: u64 = DRAM + 0x1_0000;
/// The standard Realm's two starting RTTs (64 KiB aligned: room for 16 concatenated tables).
pub const RTT: u64 = DRAM + 0x2_0000;
/// First granule of the delegated pool (208 granules up to BLOCK).
pub const POOL: u64 = DRAM + 0x3_0000;
/// A 2 MiB-aligned 2 MiB range (block machine only), for blocks of DATA.
pub const BLOCK: u64 = DRAM + 0x10_0000;
/// Protected IPA with tables down to level 3 in the set-ups.
pub const IPA: u64 = 0x4020_0000;
/// Unprotected IPA (40-bit Realms: bit 39) with tables down to level 3 in the set-ups.
pub const NS_IPA: u64 = (1 << 39) | 0x20_0000;
/// MMIO (no memory).
pub const MMIO: u64 = 0x0900_0000;
/// Root memory (exists, never delegable).
pub const ROOT: u64 = 0x0E00_0000;
/// Secure memory (exists, never delegable).
pub const SECURE: u64 = 0x0E10_0000;
/// The standard Realm's entry PC.
pub const PC: u64 = 0x4020_0000;
/// ESR of a trapped SMC from AArch64 (EC 0x17, IL).
pub const SMC_ESR: u64 = (0x17 << 26) | (1 << 25);

/// Bytes mapped by one entry of a level-`level` table (the reference model's own).
pub use crate::spec::size;

/// The shape of the delegable DRAM.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// [`DRAM`] (1 MiB) and [`BANK1`] (256 KiB): two banks.
    TwoBanks,
    /// [`DRAM`] with [`BLOCK`] (3 MiB): one bank, as the reference model assumes.
    Block,
}

/// The host machine of the targets: Root and Secure memory, delegable DRAM of `shape`.
pub fn machine(shape: Shape) -> HostMachine {
    let size = if shape == Shape::Block { BLOCK_DRAM_SIZE } else { DRAM_SIZE };
    let mut regions = vec![
        RegionSpec { base: ROOT, size: 0x1_0000, pas: Pas::Root, delegable: false },
        RegionSpec { base: SECURE, size: 0x1_0000, pas: Pas::Secure, delegable: false },
        RegionSpec { base: DRAM, size, pas: Pas::NonSecure, delegable: true },
    ];
    if shape == Shape::TwoBanks {
        regions.push(RegionSpec { base: BANK1, size: BANK1_SIZE, pas: Pas::NonSecure, delegable: true });
    }
    HostMachine::new(&regions, HostMachine::default_features())
}

/// A Host and a Warden on a fresh machine (see the module docs).
pub struct World<'a> {
    /// The machine.
    pub m: &'a HostMachine,
    /// Warden.
    pub rmm: &'a Rmm<'a, HostMachine>,
    words: &'a [AtomicU32],
    /// The PA of each granule-table word.
    pas: Vec<u64>,
    next_free: Cell<u64>,
    next_ns: Cell<u64>,
    /// What the input exercised so far.
    pub sig: RefCell<Signature>,
    /// Calls made (for the deep check's budget and for messages).
    pub calls: Cell<u64>,
    /// The granule words as the last check saw them.
    snapshot: RefCell<Vec<u32>>,
    /// While set, [`World::call`] checks only the granules its arguments name; the caller runs
    /// [`World::check_changed`] itself after a batch of calls.
    pub batch: Cell<bool>,
}

/// The list every target's input holds: up to `max` items decoded from `u` one after another
/// until the bytes run out, so that libFuzzer's mutation of one item leaves the others in place.
/// `keep` may adjust an item or drop it (the bytes it took stay taken).
pub fn items<'a, T: Arbitrary<'a>>(
    u: &mut Unstructured<'a>,
    max: usize,
    mut keep: impl FnMut(&mut T) -> bool,
) -> arbitrary::Result<Vec<T>> {
    let mut v = Vec::new();
    while v.len() < max && !u.is_empty() {
        let mut item: T = u.arbitrary()?;
        if keep(&mut item) {
            v.push(item);
        }
    }
    Ok(v)
}

/// Runs `f` with a fresh machine of `shape` and Warden.
pub fn with_world<R>(shape: Shape, f: impl FnOnce(&World<'_>) -> R) -> R {
    let m = machine(shape);
    let banks = m.dram_banks();
    let layout = DramLayout::new(&banks, 48).expect("the fuzz machine's banks are valid");
    let words: Vec<AtomicU32> = (0..layout.granules()).map(|_| AtomicU32::new(0)).collect();
    let pas = banks.iter().flat_map(|b| (0..b.size / GRANULE).map(move |i| b.base + i * GRANULE)).collect();
    let rmm = Rmm::new(&m, layout, &words);
    let w = World {
        m: &m,
        rmm: &rmm,
        words: &words,
        pas,
        next_free: Cell::new(POOL),
        next_ns: Cell::new(NS_POOL),
        sig: RefCell::new(Signature::new()),
        calls: Cell::new(0),
        snapshot: RefCell::new(vec![0; words.len()]),
        batch: Cell::new(false),
    };
    f(&w)
}

/// The RMI name of `fid` ("FID 0x…" for others).
pub fn fid_name(fid: u64) -> String {
    RmiCommand::from_fid(fid).map_or_else(|| format!("FID {fid:#x}"), |c| c.name().to_string())
}

impl World<'_> {
    /// Issues an RMI call without checking its result.
    pub fn raw(&self, fid: u64, args: &[u64]) -> [u64; 5] {
        let mut x = [0u64; 8];
        x[0] = fid;
        x[1..=args.len()].copy_from_slice(args);
        self.calls.set(self.calls.get() + 1);
        self.rmm.handle_rmi(&x).0
    }

    /// Issues an RMI call, checks its result against the spec's table ([`status::check`]) and the
    /// machine's state ([`World::check_quick`]); panics on any violation. Returns X0–X4.
    pub fn call(&self, fid: u64, args: &[u64]) -> [u64; 5] {
        let x = self.raw(fid, args);
        if let Err(why) = status::check(fid, args, &x) {
            panic!("spec violation: {why}\n  call: {} {args:#x?}\n  result: {x:#x?}", fid_name(fid));
        }
        let checked = if self.batch.get() { self.check_args(args) } else { self.check_changed(args) };
        if let Err(why) = checked {
            panic!("inconsistent state after {} {args:#x?} -> {x:#x?}: {why}", fid_name(fid));
        }
        self.sig.borrow_mut().insert((fid_name(fid), status::kind(x[0])));
        // The record of TLB invalidations only grows; nothing here checks it.
        let _ = self.m.take_tlb_invalidations();
        x
    }

    /// Records an event in the input's signature.
    pub fn note(&self, what: &str, detail: impl Into<String>) {
        self.sig.borrow_mut().insert((what.to_string(), detail.into()));
    }

    /// `call`, asserting RMI_SUCCESS (for set-ups that must succeed).
    pub fn ok(&self, fid: u64, args: &[u64]) -> [u64; 5] {
        let x = self.call(fid, args);
        assert_eq!(x[0], 0, "set-up call {} {args:#x?} failed: {x:#x?}", fid_name(fid));
        x
    }

    /// The check of one granule: not claimed or shared (every command is over), a valid state, and
    /// the fake GPT agrees with it (UNDELEGATED ⇔ NS, every other state ⇔ Realm).
    fn check_granule(&self, i: usize) -> Result<(), String> {
        let (w, pa) = (self.words[i].load(Ordering::Acquire), self.pas[i]);
        if w & !0xF != 0 || w & 0xF > 6 {
            return Err(format!("granule {pa:#x}: word {w:#x} is not a quiescent valid state"));
        }
        let state = GranuleState::from_bits(w);
        let want = if state == GranuleState::Undelegated { Pas::NonSecure } else { Pas::Realm };
        let gpt = self.m.pas(Pa(pa));
        if gpt != Some(want) {
            return Err(format!("granule {pa:#x} is {state:?} but the GPT says {gpt:?}"));
        }
        Ok(())
    }

    /// The quick check after every call: [`World::check_granule`] for every granule whose word
    /// changed since the last check (a claim or reference left behind changes it) and every
    /// granule an argument names (a GPT change without a table change could only be there).
    pub fn check_changed(&self, args: &[u64]) -> Result<(), String> {
        let mut snap = self.snapshot.borrow_mut();
        for (i, (word, old)) in self.words.iter().zip(snap.iter_mut()).enumerate() {
            let w = word.load(Ordering::Acquire);
            if w != *old {
                *old = w;
                self.check_granule(i)?;
            }
        }
        drop(snap);
        self.check_args(args)
    }

    /// [`World::check_granule`] for the granules the arguments name.
    pub fn check_args(&self, args: &[u64]) -> Result<(), String> {
        for &a in args {
            if let Some(i) = self.rmm.granules().layout().index(Pa(a)) {
                self.check_granule(i)?;
            }
        }
        Ok(())
    }

    /// [`World::check_granule`] for every granule.
    pub fn check_quick(&self) -> Result<(), String> {
        (0..self.words.len()).try_for_each(|i| self.check_granule(i))
    }

    /// The granules Warden holds in a state other than UNDELEGATED, with their states.
    pub fn live_granules(&self) -> Vec<(u64, GranuleState)> {
        self.words
            .iter()
            .zip(&self.pas)
            .filter_map(|(w, &pa)| {
                let w = w.load(Ordering::Acquire);
                (w & 0xF != 0).then(|| (pa, GranuleState::from_bits(w)))
            })
            .collect()
    }

    /// The granules in each state.
    fn by_state(&self) -> BTreeMap<u32, BTreeSet<u64>> {
        let mut m: BTreeMap<u32, BTreeSet<u64>> = BTreeMap::new();
        for (word, &pa) in self.words.iter().zip(&self.pas) {
            m.entry(word.load(Ordering::Acquire) & 0xF).or_default().insert(pa);
        }
        m
    }

    /// The `n`-th granule (modulo their number) in state `s`, if any.
    pub fn nth_in(&self, s: GranuleState, n: usize) -> Option<u64> {
        let all: Vec<u64> =
            self.words.iter().zip(&self.pas).filter(|(w, _)| w.load(Ordering::Acquire) & 0xF == s.bits()).map(|(_, &p)| p).collect();
        (!all.is_empty()).then(|| all[n % all.len()])
    }

    /// The state Warden records for `pa` (`None` outside delegable DRAM).
    pub fn state(&self, pa: u64) -> Option<GranuleState> {
        self.rmm.granules().state(Pa(pa))
    }

    /// The whole-state check (end of each input), on top of [`World::check_quick`]:
    /// * every REC belongs to an RD, its aux granules are REC_AUX and nobody else's, every REC_AUX
    ///   granule is some REC's, and each RD's REC count is the number of RECs naming it;
    /// * walking every Realm's RTTs through RMI_RTT_READ_ENTRY from its starting tables, every
    ///   TABLE entry names a distinct RTT granule, every protected ASSIGNED entry names DATA
    ///   granules (a block: all of them) that no other entry names, and the RTT and DATA granules
    ///   found are exactly those the granule table holds in those states.
    pub fn check_deep(&self) {
        if let Err(why) = self.check_quick() {
            panic!("inconsistent state at the end of the input: {why}");
        }
        let states = self.by_state();
        let of = |s: GranuleState| states.get(&s.bits()).cloned().unwrap_or_default();
        let (rds, recs, auxes) = (of(GranuleState::Rd), of(GranuleState::Rec), of(GranuleState::RecAux));

        let mut recs_of: BTreeMap<u64, u64> = BTreeMap::new();
        let mut aux_seen = BTreeSet::new();
        for &rec in &recs {
            let h = self.rmm.granules().share(Pa(rec), GranuleState::Rec).expect("a REC granule can be shared");
            let r = h.object::<Rec>();
            let owner = r.owner().raw();
            assert!(rds.contains(&owner), "REC {rec:#x} names {owner:#x}, which is not an RD");
            *recs_of.entry(owner).or_default() += 1;
            for a in r.aux() {
                assert!(auxes.contains(&a.raw()), "REC {rec:#x}: aux {:#x} is not REC_AUX", a.raw());
                assert!(aux_seen.insert(a.raw()), "aux granule {:#x} belongs to two RECs", a.raw());
            }
        }
        assert_eq!(aux_seen, auxes, "REC_AUX granules that no REC names (or the reverse)");

        let mut rtts = BTreeSet::new();
        let mut data = BTreeSet::new();
        for &rd in &rds {
            let h = self.rmm.granules().share(Pa(rd), GranuleState::Rd).expect("an RD granule can be shared");
            let realm = h.object::<Rd>();
            assert_eq!(realm.num_recs(), recs_of.get(&rd).copied().unwrap_or(0), "RD {rd:#x}: num_recs");
            let cfg = realm.config().clone();
            drop(h);
            for i in 0..u64::from(cfg.rtt_num_start) {
                let t = cfg.rtt_base.raw() + i * GRANULE;
                assert!(rtts.insert(t), "starting RTT {t:#x} of RD {rd:#x} is used twice");
            }
            let level = i64::from(cfg.rtt_level_start);
            let entries = (1u64 << cfg.ipa_width) / size(level);
            self.walk_table(rd, cfg.ipa_width, level, 0, entries, &mut rtts, &mut data);
        }
        assert_eq!(rtts, of(GranuleState::Rtt), "RTT granules reachable from the RDs vs. the granule table");
        assert_eq!(data, of(GranuleState::Data), "DATA granules mapped by the RTTs vs. the granule table");
    }

    #[allow(clippy::too_many_arguments)]
    fn walk_table(
        &self,
        rd: u64,
        ipa_width: u8,
        level: i64,
        base: u64,
        entries: u64,
        rtts: &mut BTreeSet<u64>,
        data: &mut BTreeSet<u64>,
    ) {
        for i in 0..entries {
            let ipa = base + i * size(level);
            let x = self.raw(rmi::RTT_READ_ENTRY, &[rd, ipa, level as u64]);
            assert!(
                x[0] == 0 && x[1] == level as u64,
                "RTT_READ_ENTRY({rd:#x}, {ipa:#x}, {level}) under a TABLE entry returned {x:#x?}"
            );
            match x[2] {
                2 => {
                    assert!(level < 3, "a TABLE entry at level 3 ({ipa:#x})");
                    assert!(rtts.insert(x[3]), "RTT {:#x} is linked twice (at {ipa:#x} L{level})", x[3]);
                    self.walk_table(rd, ipa_width, level + 1, ipa, 512, rtts, data);
                }
                1 if ipa < 1 << (ipa_width - 1) => {
                    for g in 0..size(level) / GRANULE {
                        let pa = x[3] + g * GRANULE;
                        assert!(data.insert(pa), "DATA {pa:#x} is mapped twice (at {ipa:#x} L{level})");
                    }
                }
                _ => {}
            }
        }
    }

    // -----------------------------------------------------------------------------------------
    // The Host's helpers for set-ups.

    /// Delegates `pa` (asserting success).
    pub fn delegate(&self, pa: u64) {
        self.ok(rmi::GRANULE_DELEGATE, &[pa]);
    }

    /// A pool granule nobody used yet, delegated.
    pub fn fresh(&self) -> u64 {
        let pa = self.next_free.get();
        assert!(pa < BLOCK, "pool exhausted");
        self.next_free.set(pa + GRANULE);
        self.delegate(pa);
        pa
    }

    /// An NS granule nobody used yet.
    pub fn fresh_ns(&self) -> u64 {
        let pa = self.next_ns.get();
        assert!(pa < RD, "NS pool exhausted");
        self.next_ns.set(pa + GRANULE);
        pa
    }

    /// Writes `bytes` into Host memory at `pa` (must be NS).
    pub fn write(&self, pa: u64, bytes: &[u8]) {
        self.m.host_write(Pa(pa), bytes).expect("the Host writes its own memory");
    }

    /// Creates the standard Realm (RD, two level-1 tables at RTT, 40-bit IPA, VMID 1).
    pub fn realm(&self) {
        self.delegate(RD);
        self.delegate(RTT);
        self.delegate(RTT + GRANULE);
        self.write(PARAMS, params(RTT, 1).encode().as_bytes());
        self.ok(rmi::REALM_CREATE, &[RD, PARAMS]);
    }

    /// RTT_CREATE down to level 3 for `ipa` in the standard Realm.
    pub fn tables(&self, ipa: u64) {
        for level in 2..=3 {
            let x = self.call(rmi::RTT_READ_ENTRY, &[RD, ipa & !(size(level - 1) - 1), (level - 1) as u64]);
            if x[2] != 2 {
                let t = self.fresh();
                self.ok(rmi::RTT_CREATE, &[RD, t, ipa & !(size(level - 1) - 1), level as u64]);
            }
        }
    }

    /// DATA_CREATE (measured, from SRC) of a fresh granule at `ipa`; returns it.
    pub fn data(&self, ipa: u64) -> u64 {
        let d = self.fresh();
        self.ok(rmi::DATA_CREATE, &[RD, d, ipa, SRC, 1]);
        d
    }

    /// REC_CREATE of REC `index` of the standard Realm with fresh aux granules; returns it.
    pub fn rec(&self, index: u64, runnable: bool, pc: u64) -> u64 {
        let rec = self.fresh();
        let mut p = RmiRecParams::new_zeroed();
        p.flags = u64::from(runnable);
        p.mpidr = RecMpidr::from_index(index).raw();
        p.pc = pc;
        p.num_aux = self.call(rmi::REC_AUX_COUNT, &[RD])[1];
        for i in 0..p.num_aux as usize {
            p.aux[i] = self.fresh();
        }
        self.write(REC_PARAMS, p.as_bytes());
        self.ok(rmi::REC_CREATE, &[RD, rec, REC_PARAMS]);
        rec
    }

    /// The standard Realm with tables to level 3 at IPA and NS_IPA, a DATA page at IPA (RIPAS RAM)
    /// and RECs (`runnable[i]`: REC i's flag) starting at PC; activated if `activate`.
    pub fn populated(&self, runnable: &[bool], activate: bool) -> Vec<u64> {
        self.realm();
        self.tables(IPA);
        self.tables(NS_IPA);
        self.data(IPA);
        let recs = runnable.iter().enumerate().map(|(i, &r)| self.rec(i as u64, r, PC)).collect();
        if activate {
            self.ok(rmi::REALM_ACTIVATE, &[RD]);
        }
        recs
    }

    /// Makes sure the Realm of `rec` cannot run past its script: appends an IRQ exit.
    pub fn script_irq(&self, rec: u64) {
        self.m.script(Pa(rec), |_, _| RealmTrap::Irq);
    }
}
