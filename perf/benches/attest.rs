//! Attestation token generation cost (issue 9): what TOKEN_INIT does (claims, digest, nonce), one
//! signing step (the longest Warden runs before it can notice a pending IRQ and yield), a whole
//! incremental ES384 signature, and the one-shot p384 signature of the same digest as a baseline.
//!
//! `cargo bench -p warden-perf --bench attest`

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use warden::attest::sign::{STEPS, Signer};
use warden::attest::test_keys;
use warden::attest::token::RealmClaims;
use warden_abi::rtt::RmiHashAlgorithm;

fn init(rak_pub: &[u8]) -> (Vec<u8>, [u8; 48]) {
    let (challenge, rpv, m) = ([0xC0u8; 64], [0x5Au8; 64], [0x11u8; 64]);
    let claims = RealmClaims {
        challenge: &challenge,
        rpv: &rpv,
        algo: RmiHashAlgorithm::Sha256,
        rak_pub,
        rim: &m,
        rems: [&m, &m, &m, &m],
    };
    let mut out = vec![0u8; warden::attest::token::MAX_REALM_TOKEN_BYTES];
    let (len, digest) = warden::attest::realm_token_unsigned(&claims, &mut out);
    out.truncate(len);
    (out, digest)
}

fn bench(c: &mut Criterion) {
    let rak = test_keys::rak();
    let rak_pub = test_keys::public_cose_key(&rak);
    let (_, digest) = init(&rak_pub);
    let mut g = c.benchmark_group("attest");
    g.bench_function(
        "init: claims + Sig_structure digest + RFC 6979 nonce",
        |b| {
            b.iter(|| {
                let (_, d) = init(black_box(&rak_pub));
                black_box(Signer::new(&rak, &d).unwrap())
            })
        },
    );
    // The slowest kinds of step: a 4-bit window (4 doublings + lookup + addition), and the last one
    // (affine conversion + scalar inversion).
    let mut at_window = Signer::new(&rak, &digest).unwrap();
    for _ in 0..20 {
        at_window.step();
    }
    g.bench_function("one window step", |b| {
        b.iter(|| black_box(at_window.clone()).step())
    });
    let mut at_last = Signer::new(&rak, &digest).unwrap();
    for _ in 0..STEPS - 1 {
        at_last.step();
    }
    g.bench_function("final step (to affine, s)", |b| {
        b.iter(|| black_box(at_last.clone()).step())
    });
    g.bench_function("whole incremental signature", |b| {
        b.iter(|| {
            let mut s = Signer::new(&rak, black_box(&digest)).unwrap();
            while !s.step() {}
            *s.signature()
        })
    });
    g.bench_function("baseline: p384 one-shot sign_prehash", |b| {
        use p384::ecdsa::signature::hazmat::PrehashSigner;
        let sk = p384::ecdsa::SigningKey::from_bytes(&rak.into()).unwrap();
        b.iter(|| -> p384::ecdsa::Signature { sk.sign_prehash(black_box(&digest)).unwrap() })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
