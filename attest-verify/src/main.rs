//! `attest-verify`: checks a CCA attestation token written by Warden's test Host.
//!
//! Exit status 0 when every check passed, 1 when a check failed, 2 on bad usage.

use std::path::PathBuf;
use std::process::ExitCode;

use attest_verify::description::{RealmDescription, parse_hex};
use attest_verify::{Policy, verify};
use clap::Parser;

/// Verify a CCA attestation token (RMM 1.0-rel0): CBOR/COSE structure, the Realm token's ES384
/// signature with the RAK it carries, the platform token's binding to that RAK (its challenge is
/// the RAK's hash), the platform token's signature with a trusted IAK, every Realm claim, and the
/// RIM against the one predicted from a description of the Realm.
#[derive(Parser, Debug)]
#[command(name = "attest-verify", version)]
struct Args {
    /// The token file (raw CBOR bytes, as RSI_ATTESTATION_TOKEN_CONTINUE wrote them).
    token: PathBuf,
    /// The challenge the Realm passed to RSI_ATTESTATION_TOKEN_INIT (hex, up to 64 bytes,
    /// zero-padded).
    #[arg(long)]
    challenge: Option<String>,
    /// A Realm description (JSON; see the README): the RIM is recomputed from it and compared, and
    /// its RPV (if given) is checked.
    #[arg(long)]
    realm: Option<PathBuf>,
    /// The expected RIM (hex), instead of or in addition to --realm.
    #[arg(long)]
    rim: Option<String>,
    /// An expected REM: INDEX=HEX (INDEX 0–3 in the token's array, RSI index 1–4), repeatable.
    #[arg(long = "rem", value_name = "INDEX=HEX")]
    rems: Vec<String>,
    /// The IAK that signs the platform token: SEC1 public key as hex, or "test" for Warden's
    /// TEST-ONLY IAK (which also allows a TEST platform lifecycle).
    #[arg(long)]
    iak: Option<String>,
    /// Do not check the platform token's signature (no IAK known).
    #[arg(long, conflicts_with = "iak")]
    no_platform_signature: bool,
    /// Accept a platform whose lifecycle is not "secured" (a test platform).
    #[arg(long)]
    allow_test_platform: bool,
    /// Print the decoded claims.
    #[arg(long, short)]
    verbose: bool,
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn run(args: Args) -> Result<(), String> {
    let token = std::fs::read(&args.token).map_err(|e| format!("{}: {e}", args.token.display()))?;
    let mut policy = Policy {
        allow_test_platform: args.allow_test_platform,
        ..Policy::default()
    };
    if let Some(c) = &args.challenge {
        let mut c = parse_hex(c).map_err(|e| e.0)?;
        if c.len() > 64 {
            return Err("the challenge is longer than 64 bytes".into());
        }
        c.resize(64, 0);
        policy.challenge = Some(c);
    }
    match args.iak.as_deref() {
        Some("test") => {
            policy.iak = Some(attest_verify::test_iak());
            policy.allow_test_platform = true;
        }
        Some(h) => policy.iak = Some(parse_hex(h).map_err(|e| e.0)?),
        None if args.no_platform_signature => {}
        None => {
            return Err(
                "give --iak (or --no-platform-signature to skip the platform token's signature)"
                    .into(),
            );
        }
    }
    if let Some(path) = &args.realm {
        let d = RealmDescription::load(path).map_err(|e| e.0)?;
        policy.rim = Some(d.expected_rim().map_err(|e| e.0)?);
        policy.rpv = d.rpv().map_err(|e| e.0)?;
    }
    if let Some(r) = &args.rim {
        let r = parse_hex(r).map_err(|e| e.0)?;
        if policy.rim.as_ref().is_some_and(|p| *p != r) {
            return Err("--rim differs from the RIM predicted by --realm".into());
        }
        policy.rim = Some(r);
    }
    for r in &args.rems {
        let (i, h) = r.split_once('=').ok_or("--rem takes INDEX=HEX")?;
        let i: usize = i.parse().map_err(|_| "--rem INDEX is 0–3")?;
        let slot = policy.rems.get_mut(i).ok_or("--rem INDEX is 0–3")?;
        *slot = Some(parse_hex(h).map_err(|e| e.0)?);
    }
    let report = verify(&token, &policy).map_err(|e| e.0)?;
    let c = &report.token.realm_claims;
    if args.verbose {
        println!("realm challenge   {}", hex(&c.challenge));
        println!(
            "realm profile     {}",
            c.profile.as_deref().unwrap_or("(none)")
        );
        println!("RPV               {}", hex(&c.rpv));
        println!("hash algo         {}", c.hash_algo);
        println!("RAK (COSE_Key)    {}", hex(&c.rak_pub));
        println!("RIM               {}", hex(&c.rim));
        for (i, r) in c.rems.iter().enumerate() {
            println!("REM{i}              {}", hex(r));
        }
        let p = &report.token.platform_claims;
        println!(
            "platform profile  {}",
            p.profile.as_deref().unwrap_or("(none)")
        );
        println!("platform lifecycle {:#06x}", p.lifecycle.unwrap_or(0));
        println!(
            "verification svc  {}",
            p.verification_service.as_deref().unwrap_or("(none)")
        );
    }
    println!(
        "OK: realm signature, platform binding{}, claims{}{} verified",
        if report.platform_signature_checked {
            ", platform signature"
        } else {
            " (platform signature NOT checked)"
        },
        if policy.challenge.is_some() {
            ", challenge"
        } else {
            ""
        },
        if policy.rim.is_some() { ", RIM" } else { "" },
    );
    Ok(())
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("attest-verify: FAILED: {e}");
            ExitCode::from(1)
        }
    }
}
