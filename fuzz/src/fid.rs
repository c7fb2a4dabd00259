//! The `rmi_fid` target: every RMI FID with arbitrary X1–X6.
//!
//! Owns the input format: a starting state (nothing delegated; a NEW Realm; an ACTIVE Realm — each
//! with tables, DATA, RECs and spare DELEGATED granules, see [`Setup`]) and up to 16 calls, each an
//! FID (an RMI 1.0 command with or without the SVE hint, a FID near the RMI range, or any 64-bit
//! value) with six arguments that are either raw 64-bit values or picks from the addresses and
//! values that reach deeper paths (the RD, RTTs, RECs, DATA, NS pages, protected and unprotected
//! IPAs, levels, MMIO/Root/Secure memory, beyond DRAM…, optionally nudged off alignment), plus
//! optional contents for the NS page the command reads (`RmiRealmParams`, `RmiRecParams`,
//! `RmiRecEnter`, or raw bytes). Every result goes through [`crate::status::check`] and the quick
//! consistency check; the deep check runs at the end.

use arbitrary::{Arbitrary, Unstructured};
use warden::granule::GranuleState;
use warden_abi::SMCCC_SVE_HINT;
use warden_abi::fid::RmiCommand;
use warden_abi::realm_params::RmiRealmParams;
use warden_abi::rec_params::{RecMpidr, RmiRecParams};
use zerocopy::{FromZeros, IntoBytes};

use crate::Signature;
use crate::exits::{self, Step};
use crate::harness::{Shape, 
    self, BANK1, BANK1_SIZE, BLOCK, DRAM, DRAM_SIZE, GRANULE, IPA, MMIO, NS_IPA, NS_POOL, PARAMS, POOL, REC_PARAMS, RD, ROOT,
    RTT, RUN, SECURE, SRC, World, with_world,
};

/// The state the calls start from.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Setup {
    /// Nothing delegated.
    Bare,
    /// A NEW Realm (tables, DATA, two RECs) and spare DELEGATED granules.
    New,
    /// The same Realm, ACTIVE.
    Active,
}

/// An FID.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Fid {
    /// RMI command `RmiCommand::ALL[i]`, with the SVE hint (bit 16) if set.
    Command(u8, bool),
    /// `0xC400_0100 + n` (0x100–0x1FF: the RMI range and its neighbours, RSI, EL3 services).
    Near(u8),
    /// Any value.
    Raw(u64),
}

impl Fid {
    fn get(self) -> u64 {
        match self {
            Fid::Command(i, sve) => {
                RmiCommand::ALL[i as usize % RmiCommand::ALL.len()].fid() | if sve { SMCCC_SVE_HINT } else { 0 }
            }
            Fid::Near(n) => 0xC400_0100 + u64::from(n),
            Fid::Raw(f) => f,
        }
    }
}

/// One argument register (mostly [`Arg::Typical`]: see its `Arbitrary` impl).
#[derive(Debug, Clone, Copy)]
pub enum Arg {
    /// A value of the kind the command expects in this register ([`kinds`]): the `n`-th RD,
    /// DELEGATED granule, REC, IPA, level, NS page… of the live state, nudged by the second byte.
    Typical(u8, u8),
    /// A value of [`PICKS`] (or of the live state), nudged by the second byte.
    Pick(u8, u8),
    /// The `n`-th granule in a granule state (UNDELEGATED … RTT), at call time.
    InState(u8, u8),
    /// A small integer (levels, indices, flags).
    Small(i8),
    /// Any value.
    Raw(u64),
}

impl<'a> Arbitrary<'a> for Arg {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        // Skewed towards values of the expected kind: most calls then get past their first checks.
        Ok(match u8::arbitrary(u)? {
            0..=149 => Arg::Typical(u.arbitrary()?, u.arbitrary()?),
            150..=189 => Arg::Pick(u.arbitrary()?, u.arbitrary()?),
            190..=209 => Arg::InState(u.arbitrary()?, u.arbitrary()?),
            210..=229 => Arg::Small(u.arbitrary()?),
            _ => Arg::Raw(u.arbitrary()?),
        })
    }
}

/// Values that reach the commands' deeper paths.
pub const PICKS: [u64; 40] = [
    RD,
    RTT,
    RTT + GRANULE,
    POOL,
    POOL + GRANULE,
    PARAMS,
    REC_PARAMS,
    RUN,
    SRC,
    NS_POOL,
    IPA,
    IPA + GRANULE,
    IPA & !0x1F_FFFF,
    0x4000_0000,
    0,
    NS_IPA,
    NS_IPA + GRANULE,
    NS_IPA & !0x3FFF_FFFF,
    1 << 39,
    1 << 40,
    1,
    2,
    3,
    u64::MAX,
    4,
    MMIO,
    ROOT,
    SECURE,
    DRAM + DRAM_SIZE,
    BANK1,
    BANK1 + BANK1_SIZE - GRANULE,
    BLOCK,
    0xC000_0000 | (0b110 << 2) | (0b11 << 6),
    0xC020_0000 | (0b001 << 2) | (0b01 << 6),
    0x1_0000,
    (1 << 39) - GRANULE,
    IPA + 0x20_0000,
    0x10_0000_0000,
    DRAM,
    1 << 48,
];

fn nudge(v: u64, t: u8) -> u64 {
    match t % 16 {
        0..=8 => v,
        9 => v.wrapping_add(0x800),
        10 => v.wrapping_add(GRANULE),
        11 => v.wrapping_sub(GRANULE),
        12 => v | (1 << 63),
        13 => v ^ (1 << 39),
        14 => v.wrapping_add(8),
        _ => v.wrapping_add(0x20_0000),
    }
}

const STATES: [GranuleState; 7] = [
    GranuleState::Undelegated,
    GranuleState::Delegated,
    GranuleState::Rd,
    GranuleState::Rec,
    GranuleState::RecAux,
    GranuleState::Data,
    GranuleState::Rtt,
];

/// What a command expects in X1…X6.
#[derive(Clone, Copy, Debug)]
enum Kind {
    Rd,
    Undelegated,
    Delegated,
    Rec,
    Ipa,
    ProtIpa,
    UnprotIpa,
    Level,
    Top,
    Desc,
    Ns,
    Small,
}

/// The kinds of X1… for each RMI command (the spec's argument list, §1.2).
fn kinds(cmd: Option<RmiCommand>) -> &'static [Kind] {
    use Kind::*;
    use RmiCommand as C;
    match cmd {
        None | Some(C::Version | C::Features) => &[Small],
        Some(C::GranuleDelegate) => &[Undelegated],
        Some(C::GranuleUndelegate) => &[Delegated],
        Some(C::DataCreate) => &[Rd, Delegated, ProtIpa, Ns, Small],
        Some(C::DataCreateUnknown) => &[Rd, Delegated, ProtIpa],
        Some(C::DataDestroy) => &[Rd, ProtIpa],
        Some(C::RealmActivate | C::RealmDestroy | C::RecAuxCount) => &[Rd],
        Some(C::RealmCreate) => &[Delegated, Ns],
        Some(C::RecCreate) => &[Rd, Delegated, Ns],
        Some(C::RecDestroy) => &[Rec],
        Some(C::RecEnter) => &[Rec, Ns],
        Some(C::RttCreate) => &[Rd, Delegated, Ipa, Level],
        Some(C::RttDestroy | C::RttFold | C::RttReadEntry) => &[Rd, Ipa, Level],
        Some(C::RttMapUnprotected) => &[Rd, UnprotIpa, Level, Desc],
        Some(C::RttUnmapUnprotected) => &[Rd, UnprotIpa, Level],
        Some(C::PsciComplete) => &[Rec, Rec, Small],
        Some(C::RttInitRipas) => &[Rd, ProtIpa, Top],
        Some(C::RttSetRipas) => &[Rd, Rec, ProtIpa, Top],
    }
}

const PROT_IPAS: [u64; 6] = [IPA, IPA + GRANULE, IPA + 2 * GRANULE, IPA & !0x1F_FFFF, 0x4000_0000, 0];
const UNPROT_IPAS: [u64; 4] = [NS_IPA, NS_IPA + GRANULE, NS_IPA & !0x1F_FFFF, NS_IPA & !0x3FFF_FFFF];
const LEVELS: [u64; 6] = [3, 2, 3, 1, 2, 0];
const NS_PAGES: [u64; 4] = [PARAMS, REC_PARAMS, RUN, SRC];

impl Kind {
    fn value(self, w: &World<'_>, n: u8, prev: u64) -> u64 {
        let i = n as usize;
        let nth = |s: GranuleState| w.nth_in(s, i).unwrap_or(RD);
        match self {
            Kind::Rd => nth(GranuleState::Rd),
            Kind::Undelegated => [POOL + u64::from(n) * GRANULE, NS_POOL][i % 2],
            Kind::Delegated => nth(GranuleState::Delegated),
            Kind::Rec => nth(GranuleState::Rec),
            Kind::ProtIpa => PROT_IPAS[i % PROT_IPAS.len()],
            Kind::UnprotIpa => UNPROT_IPAS[i % UNPROT_IPAS.len()],
            Kind::Ipa => [PROT_IPAS[i % PROT_IPAS.len()], UNPROT_IPAS[i % UNPROT_IPAS.len()]][(i / 8) % 2],
            Kind::Level => LEVELS[i % LEVELS.len()],
            Kind::Top => prev.wrapping_add([GRANULE, 2 * GRANULE, 0x20_0000, 0x4000_0000][i % 4]) & ![0, 0x1F_FFFF][(i / 4) % 2],
            Kind::Desc => (0xC000_0000 + (u64::from(n) << 12)) | [(0b110 << 2) | (0b11 << 6), (0b001 << 2) | (0b01 << 6)][i % 2],
            Kind::Ns => NS_PAGES[i % NS_PAGES.len()],
            Kind::Small => u64::from(n % 4),
        }
    }
}

impl Arg {
    fn get(self, w: &World<'_>) -> u64 {
        self.get_for(w, Kind::Small, 0)
    }

    fn get_for(self, w: &World<'_>, kind: Kind, prev: u64) -> u64 {
        match self {
            Arg::Typical(n, t) => nudge(kind.value(w, n, prev), t),
            Arg::Pick(i, t) => nudge(PICKS[i as usize % PICKS.len()], t),
            Arg::InState(s, n) => w.nth_in(STATES[s as usize % STATES.len()], n as usize).unwrap_or(RD),
            Arg::Small(v) => v as i64 as u64,
            Arg::Raw(v) => v,
        }
    }
}

/// Contents the Host writes into one of its NS pages before the call.
#[derive(Arbitrary, Debug, Clone)]
pub enum Page {
    /// Nothing.
    None,
    /// `RmiRealmParams` at PARAMS.
    RealmParams {
        /// flags, s2sz, sve_vl, num_bps, num_wps, pmu_num_ctrs, hash_algo (small values).
        small: [u8; 7],
        /// vmid.
        vmid: u16,
        /// rtt_base.
        rtt_base: Arg,
        /// rtt_level_start.
        level: i8,
        /// rtt_num_start.
        num: u8,
    },
    /// `RmiRecParams` at REC_PARAMS.
    RecParams {
        /// flags.
        flags: u8,
        /// The MPIDR of this REC index (or any value if `raw_mpidr`).
        index: u16,
        /// Use `index` as the raw MPIDR.
        raw_mpidr: bool,
        /// pc.
        pc: Arg,
        /// num_aux.
        num_aux: u8,
        /// aux[0..4].
        aux: [Arg; 4],
    },
    /// `RmiRecEnter` at RUN.
    Enter(exits::Enter),
    /// Raw bytes at an offset of one of the NS pages.
    Bytes {
        /// Which page: PARAMS, REC_PARAMS, RUN, SRC.
        page: u8,
        /// Offset in the page.
        offset: u16,
        /// The bytes (truncated at the page's end).
        bytes: Vec<u8>,
    },
}

/// One call.
#[derive(Arbitrary, Debug, Clone)]
pub struct Call {
    /// X0.
    pub fid: Fid,
    /// X1–X6.
    pub args: [Arg; 6],
    /// The NS page written before the call.
    pub page: Page,
    /// For REC_ENTER of a REC: what its Realm does before the IRQ that ends the entry.
    pub realm: Option<Step>,
}

/// The input of `rmi_fid`.
#[derive(Debug)]
pub struct Input {
    /// The starting state.
    pub setup: Setup,
    /// The calls (at most 16).
    pub calls: Vec<Call>,
}

impl<'a> Arbitrary<'a> for Input {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let setup = u.arbitrary()?;
        let calls = harness::items(u, 16, |_| true)?;
        Ok(Input { setup, calls })
    }
}

/// The Host writes its own page; if the fuzzer delegated it, the write faults and is skipped.
fn try_write(w: &World<'_>, pa: u64, bytes: &[u8]) {
    let _ = w.m.host_write(warden_abi::addr::Pa(pa), bytes);
}

fn write_page(w: &World<'_>, page: &Page) {
    match page {
        Page::None => {}
        Page::RealmParams { small, vmid, rtt_base, level, num } => {
            let mut p = RmiRealmParams::new_zeroed();
            p.flags = u64::from(small[0] % 8);
            p.s2sz = u64::from(small[1]);
            p.sve_vl = u64::from(small[2] % 16);
            p.num_bps = u64::from(small[3] % 17);
            p.num_wps = u64::from(small[4] % 17);
            p.pmu_num_ctrs = u64::from(small[5] % 32);
            p.hash_algo = u64::from(small[6] % 3);
            p.vmid = u64::from(*vmid);
            p.rtt_base = rtt_base.get(w);
            p.rtt_level_start = i64::from(*level);
            p.rtt_num_start = u32::from(*num);
            try_write(w, PARAMS, p.as_bytes());
        }
        Page::RecParams { flags, index, raw_mpidr, pc, num_aux, aux } => {
            let mut p = RmiRecParams::new_zeroed();
            p.flags = u64::from(*flags);
            p.mpidr = if *raw_mpidr { u64::from(*index) } else { RecMpidr::from_index(u64::from(*index)).raw() };
            p.pc = pc.get(w);
            p.num_aux = u64::from(*num_aux);
            for (i, a) in aux.iter().enumerate() {
                p.aux[i] = a.get(w);
            }
            try_write(w, REC_PARAMS, p.as_bytes());
        }
        Page::Enter(e) => try_write(w, RUN, e.bytes().as_bytes()),
        Page::Bytes { page, offset, bytes } => {
            let base = [PARAMS, REC_PARAMS, RUN, SRC][*page as usize % 4];
            let off = u64::from(*offset) % GRANULE;
            let n = bytes.len().min((GRANULE - off) as usize);
            try_write(w, base + off, &bytes[..n]);
        }
    }
}

fn setup(w: &World<'_>, s: Setup) {
    match s {
        Setup::Bare => {}
        Setup::New | Setup::Active => {
            w.populated(&[true, false], matches!(s, Setup::Active));
            for _ in 0..6 {
                w.fresh();
            }
            // A valid RmiRecParams for the next REC (index 2) with DELEGATED aux granules.
            let mut p = RmiRecParams::new_zeroed();
            p.flags = 1;
            p.mpidr = RecMpidr::from_index(2).raw();
            p.pc = harness::PC;
            p.num_aux = 4;
            // DELEGATED spares 1–4 (spare 0 is left for the REC itself).
            for (i, n) in (1..5).enumerate() {
                p.aux[i] = w.nth_in(GranuleState::Delegated, n).unwrap_or(RD);
            }
            try_write(w, REC_PARAMS, p.as_bytes());
        }
    }
    try_write(w, PARAMS, harness::params(RTT + 0x4000, 2).encode().as_bytes());
}

/// Runs one input; panics on any violation. Returns what it exercised.
pub fn run(data: &[u8]) -> Signature {
    let Ok(input) = Input::arbitrary_take_rest(Unstructured::new(data)) else { return Signature::new() };
    with_world(Shape::TwoBanks, |w| {
        setup(w, input.setup);
        for c in &input.calls {
            write_page(w, &c.page);
            let fid = c.fid.get();
            let kinds = kinds(RmiCommand::from_fid(fid));
            let mut args = [0u64; 6];
            for (i, a) in c.args.iter().enumerate() {
                let kind = kinds.get(i).copied().unwrap_or(Kind::Small);
                args[i] = a.get_for(w, kind, if i > 0 { args[i - 1] } else { 0 });
            }
            if RmiCommand::from_fid(fid) == Some(RmiCommand::RecEnter) && w.state(args[0]) == Some(GranuleState::Rec) {
                exits::script(w, args[0], c.realm.as_slice());
            }
            w.call(fid, &args);
        }
        w.check_deep();
        w.sig.take()
    })
}
