//! Attestation end to end on the host model: a measured Realm asks for a CCA token with
//! RSI_ATTESTATION_TOKEN_INIT/CONTINUE, the token is checked by the independent verifier
//! (`attest-verify`: ciborium + coset + p384) against a Realm description that predicts the RIM,
//! signing is interrupted and resumed, and every RSI_ERROR_* path is taken.

mod common;

use std::sync::{Arc, Mutex};

use attest_verify::description::{RealmDescription, rem_extend};
use attest_verify::{Policy, verify};
use common::*;
use warden::granule::GranuleState;
use warden::rec::context::RecContext;
use warden_abi::addr::Pa;
use warden_abi::fid::{rmi, rsi};
use warden_abi::rec_run::RmiRecExitReason;
use warden_abi::status::RmiStatus;

const PC: u64 = 0x4000_1000;
const SUCCESS: u64 = 0;
const ERROR_INPUT: u64 = 1;
const ERROR_STATE: u64 = 2;
const INCOMPLETE: u64 = 3;
const ERROR_UNKNOWN: u64 = 4;

/// The image measured into the DATA granule at IPA.
const IMAGE: &[u8] = b"warden attestation test image\n";
/// X0–X7 of the REC (measured).
const GPRS: [u64; 8] = [0x1111, 0x2222, 0, 0, 0, 0, 0, 0x8888];

/// What the Realm's scripted CPU saw after one SMC: X0–X8.
type Regs = Arc<Mutex<Option<[u64; 9]>>>;

struct Realm<'h, 'a> {
    h: &'h Host<'a>,
    rec: u64,
    run: u64,
    /// The DATA granule at IPA (the token buffer in most tests).
    page: u64,
}

/// Builds the Realm the description in [`description`] describes: RIPAS RAM over
/// [IPA, IPA + 16 KiB), a measured DATA granule at IPA, an unmeasured one at IPA + 4 KiB, one
/// runnable REC with [`GPRS`].
fn measured_realm<'h, 'a>(h: &'h Host<'a>) -> Realm<'h, 'a> {
    h.realm();
    h.map_l3(IPA);
    let r = h.call(rmi::RTT_INIT_RIPAS, &[RD, IPA, IPA + 0x4000]);
    assert_eq!(r.status(), Some(RmiStatus::SUCCESS));
    assert_eq!(r.0[1], IPA + 0x4000);
    let src = h.fresh_ns();
    h.write(src, IMAGE);
    let page = h.fresh();
    assert_eq!(
        h.status(rmi::DATA_CREATE, &[RD, page, IPA, src, 1]),
        RmiStatus::SUCCESS
    );
    let page2 = h.fresh();
    assert_eq!(
        h.status(rmi::DATA_CREATE, &[RD, page2, IPA + 0x1000, src, 0]),
        RmiStatus::SUCCESS
    );
    let (st, rec) = h.rec_create_with(0, true, PC, GPRS);
    assert_eq!(st, RmiStatus::SUCCESS);
    assert_eq!(h.status(rmi::REALM_ACTIVATE, &[RD]), RmiStatus::SUCCESS);
    Realm {
        h,
        rec,
        run: h.fresh_ns(),
        page,
    }
}

/// The description of [`measured_realm`] for the verifier (with the image inline).
fn description() -> String {
    let hex: String = IMAGE.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        r#"{{
  "hash_algo": "sha-256", "s2sz": 40, "num_bps": 1, "num_wps": 1,
  "rpv": "{rpv}",
  "steps": [
    {{ "init_ripas": {{ "base": "{ipa:#x}", "top": "{top:#x}", "level": 3 }} }},
    {{ "data": {{ "ipa": "{ipa:#x}", "hex": "{hex}", "measured": true }} }},
    {{ "data": {{ "ipa": "{ipa2:#x}", "hex": "{hex}", "measured": false }} }},
    {{ "rec": {{ "pc": "{PC:#x}", "gprs": [{gprs}] }} }}
  ]
}}"#,
        rpv = "5a".repeat(64),
        ipa = IPA,
        top = IPA + 0x4000,
        ipa2 = IPA + 0x1000,
        gprs = GPRS
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(", "),
    )
}

fn challenge() -> [u8; 64] {
    core::array::from_fn(|i| (i as u8).wrapping_mul(37) ^ 0xC3)
}

fn challenge_words(c: &[u8; 64]) -> [u64; 8] {
    core::array::from_fn(|i| u64::from_le_bytes(c[8 * i..8 * i + 8].try_into().unwrap()))
}

impl Realm<'_, '_> {
    /// The Realm makes one SMC; the REC is entered (as often as Warden exits to the Host first)
    /// until the Realm has seen the result. Returns X0–X8 and the exits Warden made on the way.
    fn smc(&self, fid: u64, args: &[u64]) -> ([u64; 9], Vec<RmiRecExitReason>) {
        let regs: Regs = Arc::new(Mutex::new(None));
        let args = args.to_vec();
        self.h
            .m
            .script(Pa(self.rec), move |ctx: &mut RecContext, _| {
                ctx.pc = PC;
                ctx.gprs[0] = fid;
                ctx.gprs[1..=args.len()].copy_from_slice(&args);
                smc()
            });
        let seen = regs.clone();
        self.h
            .m
            .script(Pa(self.rec), move |ctx: &mut RecContext, _| {
                assert_eq!(ctx.pc, PC + 4, "the SMC completed");
                *seen.lock().unwrap() = Some(core::array::from_fn(|i| ctx.gprs[i]));
                // Back to the test (as if a timer fired).
                warden::platform::RealmTrap::Irq
            });
        let mut exits = Vec::new();
        loop {
            let (st, exit) = self.h.enter(self.rec, self.run);
            assert_eq!(st, RmiStatus::SUCCESS);
            if let Some(r) = *regs.lock().unwrap() {
                assert_eq!(self.h.m.script_left(Pa(self.rec)), 0);
                return (r, exits);
            }
            exits.push(RmiRecExitReason::from_raw(exit.exit_reason).expect("a valid exit"));
            assert!(exits.len() < 10_000, "no progress");
        }
    }

    /// Reads `len` bytes of the Realm's DATA granule `page` at `offset`.
    fn read(&self, page: u64, offset: usize, len: usize) -> Vec<u8> {
        let g = self
            .h
            .rmm
            .granules()
            .share(Pa(page), GranuleState::Data)
            .unwrap();
        let mut b = vec![0u8; len];
        g.read_bytes(offset, &mut b);
        b
    }

    /// INIT then CONTINUE into the DATA page at `offset`, `size` bytes per call, until done.
    /// Returns the token, INIT's size bound, the number of CONTINUE calls and IRQ exits seen.
    fn token(&self, challenge: &[u8; 64], offset: u64, size: u64) -> (Vec<u8>, u64, usize, usize) {
        let (r, _) = self.smc(rsi::ATTESTATION_TOKEN_INIT, &challenge_words(challenge));
        assert_eq!(r[0], SUCCESS, "TOKEN_INIT");
        let bound = r[1];
        let mut token = Vec::new();
        let (mut calls, mut irqs) = (0, 0);
        loop {
            let (r, exits) = self.smc(rsi::ATTESTATION_TOKEN_CONTINUE, &[IPA, offset, size]);
            calls += 1;
            irqs += exits
                .iter()
                .filter(|&&e| e == RmiRecExitReason::Irq)
                .count();
            assert!(
                r[0] == SUCCESS || r[0] == INCOMPLETE,
                "TOKEN_CONTINUE: {}",
                r[0]
            );
            assert!(r[1] <= size);
            token.extend(self.read(self.page, offset as usize, r[1] as usize));
            if r[0] == SUCCESS {
                return (token, bound, calls, irqs);
            }
        }
    }
}

fn policy(challenge: &[u8; 64]) -> Policy {
    let d = RealmDescription::from_json(&description()).unwrap();
    Policy {
        challenge: Some(challenge.to_vec()),
        iak: Some(attest_verify::test_iak()),
        allow_test_platform: true,
        rpv: d.rpv().unwrap(),
        rim: Some(d.expected_rim().unwrap()),
        rems: [
            Some(vec![0; 32]),
            Some(vec![0; 32]),
            Some(vec![0; 32]),
            Some(vec![0; 32]),
        ],
    }
}

#[test]
fn token_verifies_and_the_rim_is_predicted_from_the_description() {
    with_host(|h| {
        let realm = measured_realm(h);
        let c = challenge();
        let (token, bound, calls, irqs) = realm.token(&c, 0, 4096);
        assert_eq!(bound, token.len() as u64, "INIT reports the exact size");
        assert_eq!(calls, 1, "a 4 KiB buffer takes the whole token");
        assert_eq!(irqs, 0);
        let report = verify(&token, &policy(&c)).expect("the token verifies");
        assert!(report.platform_signature_checked);
        assert_eq!(report.token.realm_claims.hash_algo, "sha-256");
        assert_eq!(
            report.token.realm_claims.profile.as_deref(),
            Some("tag:arm.com,2023:realm#1.0.0")
        );
        // The RIM in the token is the one Warden holds.
        let rd = h.rmm.granules().share(Pa(RD), GranuleState::Rd).unwrap();
        let rim = rd
            .object::<warden::realm::Rd>()
            .measurements()
            .get(0)
            .copied()
            .unwrap();
        assert_eq!(report.token.realm_claims.rim, rim[..32]);
        // EL3 was asked once for the key and the platform token (then cached).
        let (again, ..) = realm.token(&c, 0, 4096);
        assert_eq!(
            again, token,
            "deterministic signature: the same token again"
        );
        assert_eq!(h.m.attestation_calls(), (1, 1));
        // A wrong challenge or RIM is refused.
        let mut p = policy(&c);
        p.challenge.as_mut().unwrap()[0] ^= 1;
        assert!(verify(&token, &p).unwrap_err().0.contains("challenge"));
        let mut p = policy(&c);
        p.rim.as_mut().unwrap()[5] ^= 1;
        assert!(verify(&token, &p).unwrap_err().0.contains("RIM"));
        // Write it out for the verifier CLI and its README example.
        if let Ok(dir) = std::env::var("WARDEN_ATTEST_OUT") {
            std::fs::write(format!("{dir}/token.cbor"), &token).unwrap();
            std::fs::write(format!("{dir}/realm.json"), description()).unwrap();
        }
    });
}

#[test]
fn a_rem_extended_by_the_realm_is_in_the_token() {
    with_host(|h| {
        let realm = measured_realm(h);
        let value: Vec<u8> = (1..=20u8).collect();
        let mut words = [0u64; 8];
        for (i, b) in value.iter().enumerate() {
            words[i / 8] |= u64::from(*b) << (8 * (i % 8));
        }
        let mut args = vec![3, value.len() as u64];
        args.extend_from_slice(&words);
        let (r, _) = realm.smc(rsi::MEASUREMENT_EXTEND, &args);
        assert_eq!(r[0], SUCCESS);
        let c = challenge();
        let (token, ..) = realm.token(&c, 0, 4096);
        let mut p = policy(&c);
        let rem = rem_extend("sha-256", &[0; 32], &value).unwrap();
        p.rems[2] = Some(rem.clone());
        let report = verify(&token, &p).expect("verifies with the extended REM");
        assert_eq!(report.token.realm_claims.rems[2], rem);
        p.rems[2] = Some(vec![0; 32]);
        assert!(verify(&token, &p).is_err(), "the unextended REM is refused");
    });
}

#[test]
fn signing_is_interrupted_and_resumed_without_losing_work() {
    with_host(|h| {
        let realm = measured_realm(h);
        let c = challenge();
        let (want, ..) = realm.token(&c, 0, 4096);
        let polls_whole = h.m.irq_polls();
        // An IRQ becomes pending at the 3rd, 40th and 100th poll: each makes CONTINUE return
        // RSI_INCOMPLETE through an IRQ exit; the signature goes on where it stopped.
        let mut script = vec![false; 100];
        script[2] = true;
        script[39] = true;
        script[99] = true;
        h.m.script_irqs(script);
        let (got, _, calls, irqs) = realm.token(&c, 0, 4096);
        assert_eq!(got, want, "the same token");
        assert_eq!(irqs, 3);
        assert_eq!(calls, 4, "three interrupted calls and the last one");
        assert_eq!(
            h.m.irq_polls() - polls_whole,
            polls_whole,
            "no step was done twice"
        );
        // An interrupt storm: a pending IRQ at every poll still makes progress (one step per call).
        h.m.script_irqs(vec![true; 1000]);
        let (got, _, calls, irqs) = realm.token(&c, 0, 4096);
        assert_eq!(got, want);
        assert_eq!(irqs as u64, polls_whole, "one step per call");
        assert_eq!(calls as u64, polls_whole + 1);
        verify(&got, &policy(&c)).unwrap();
    });
}

#[test]
fn small_buffers_and_offsets_hand_out_the_token_in_pieces() {
    with_host(|h| {
        let realm = measured_realm(h);
        let c = challenge();
        let (want, ..) = realm.token(&c, 0, 4096);
        for (offset, size) in [(0u64, 100u64), (4000, 96), (17, 1), (4095, 1)] {
            if size == 1 && offset == 17 {
                continue; // covered by 4095/1 with fewer calls
            }
            let (got, bound, calls, _) = realm.token(&c, offset, size);
            assert_eq!(got, want, "offset {offset} size {size}");
            assert_eq!(bound, want.len() as u64);
            assert_eq!(calls as u64, want.len().div_ceil(size as usize) as u64);
        }
        // size 0: nothing written, still incomplete.
        let (r, _) = realm.smc(rsi::ATTESTATION_TOKEN_INIT, &challenge_words(&c));
        assert_eq!(r[0], SUCCESS);
        let (r, _) = realm.smc(rsi::ATTESTATION_TOKEN_CONTINUE, &[IPA, 0, 0]);
        assert_eq!((r[0], r[1]), (INCOMPLETE, 0));
    });
}

#[test]
fn every_error_path() {
    with_host(|h| {
        let realm = measured_realm(h);
        let c = challenge();
        // state: no INIT yet.
        let (r, _) = realm.smc(rsi::ATTESTATION_TOKEN_CONTINUE, &[IPA, 0, 4096]);
        assert_eq!(r[0], ERROR_STATE);
        let (r, _) = realm.smc(rsi::ATTESTATION_TOKEN_INIT, &challenge_words(&c));
        assert_eq!(r[0], SUCCESS);
        let cases: [(&str, [u64; 3]); 6] = [
            ("addr_align", [IPA + 8, 0, 16]),
            ("addr_bound", [1 << 39, 0, 16]),
            ("offset_bound", [IPA, 4096, 0]),
            ("size_overflow", [IPA, 8, u64::MAX - 4]),
            ("size_bound", [IPA, 8, 4089]),
            ("size_bound at the edge", [IPA, 1, 4096]),
        ];
        for (what, args) in cases {
            let (r, _) = realm.smc(rsi::ATTESTATION_TOKEN_CONTINUE, &args);
            assert_eq!(r[0], ERROR_INPUT, "{what}");
        }
        // Input checks come before the state check.
        // A buffer whose RIPAS is EMPTY: RSI_ERROR_INPUT.
        let (r, _) = realm.smc(rsi::ATTESTATION_TOKEN_CONTINUE, &[IPA + 0x10_0000, 0, 4096]);
        assert_eq!(r[0], ERROR_INPUT, "EMPTY buffer");
        // A RAM buffer that is not mapped: the REC exits with a data abort, and the SMC runs again
        // once mapped (here: the Realm gives up and the test reads the exit).
        h.m.script(Pa(realm.rec), |ctx: &mut RecContext, _| {
            ctx.pc = PC;
            ctx.gprs[0] = rsi::ATTESTATION_TOKEN_CONTINUE;
            ctx.gprs[1..4].copy_from_slice(&[IPA + 0x2000, 0, 4096]);
            smc()
        });
        let (st, exit) = h.enter(realm.rec, realm.run);
        assert_eq!(st, RmiStatus::SUCCESS);
        assert_eq!(exit.exit_reason, RmiRecExitReason::Sync.to_raw());
        assert_eq!(exit.esr >> 26, 0x24, "a data abort");
        assert_eq!(exit.hpfar, ((IPA + 0x2000) >> 12) << 4);
        // The work is kept: the next CONTINUE on a mapped buffer hands out the token.
        let (r, _) = realm.smc(rsi::ATTESTATION_TOKEN_CONTINUE, &[IPA, 0, 4096]);
        assert_eq!(r[0], SUCCESS);
        let token = realm.read(realm.page, 0, r[1] as usize);
        verify(&token, &policy(&c)).unwrap();
        // Done: the session is over.
        let (r, _) = realm.smc(rsi::ATTESTATION_TOKEN_CONTINUE, &[IPA, 0, 4096]);
        assert_eq!(
            r[0], ERROR_STATE,
            "no token in progress after the last bytes"
        );
    });
}

#[test]
fn a_new_init_aborts_the_old_token() {
    with_host(|h| {
        let realm = measured_realm(h);
        let c1 = challenge();
        let mut c2 = c1;
        c2[63] ^= 0xFF;
        let (r, _) = realm.smc(rsi::ATTESTATION_TOKEN_INIT, &challenge_words(&c1));
        assert_eq!(r[0], SUCCESS);
        // Half the token out with the first challenge…
        let (r, _) = realm.smc(rsi::ATTESTATION_TOKEN_CONTINUE, &[IPA, 0, 512]);
        assert_eq!((r[0], r[1]), (INCOMPLETE, 512));
        // …then a new INIT: the token starts again, with the new challenge.
        let (token, ..) = realm.token(&c2, 0, 4096);
        verify(&token, &policy(&c2)).expect("the new token");
        assert!(verify(&token, &policy(&c1)).is_err());
    });
}

#[test]
fn without_el3_attestation_continue_fails_with_unknown() {
    with_host(|h| {
        h.m.set_attestation_available(false);
        let realm = measured_realm(h);
        let (r, _) = realm.smc(rsi::ATTESTATION_TOKEN_INIT, &challenge_words(&challenge()));
        assert_eq!(r[0], SUCCESS, "INIT has no failure condition");
        assert_eq!(r[1], warden::attest::MAX_TOKEN_BYTES as u64);
        let (r, _) = realm.smc(rsi::ATTESTATION_TOKEN_CONTINUE, &[IPA, 0, 4096]);
        assert_eq!(r[0], ERROR_UNKNOWN);
        // EL3 comes back: the next INIT fetches the material.
        h.m.set_attestation_available(true);
        let (token, ..) = realm.token(&challenge(), 0, 4096);
        verify(&token, &policy(&challenge())).unwrap();
    });
}

#[test]
fn platform_token_in_small_hunks_with_busy_el3() {
    with_host(|h| {
        h.m.set_platform_token_hunks(100, 3);
        let realm = measured_realm(h);
        let (token, ..) = realm.token(&challenge(), 0, 4096);
        verify(&token, &policy(&challenge())).unwrap();
        let (_, plat_calls) = h.m.attestation_calls();
        let hunks = warden::attest::test_keys::bound_platform_token()
            .len()
            .div_ceil(100) as u32;
        assert!(hunks > 1);
        assert_eq!(plat_calls, 3 + hunks, "three E_RMM_AGAIN, then the hunks");
    });
}
