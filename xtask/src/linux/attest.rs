//! Attesting the Linux Realm end to end: what goes into the Realm for it, what comes out, and the
//! check.
//!
//! * In: the Debian kernel's `configfs`, `tsm_report` and `arm-cca-guest` modules (decompressed
//!   from `.ko.xz`, their load order checked against their own `depends=`), and a per-run 64-byte
//!   challenge on the kernel command line (`warden.challenge=HEX`, in the DTB, so measured).
//! * Out: `/init` asks Linux's TSM report interface for a token with that challenge (arm-cca-guest
//!   issues RSI_ATTESTATION_TOKEN_INIT/CONTINUE to Warden) and prints it as numbered hex lines
//!   ([`TOKEN_PREFIX`]) and a closing line with its length and SHA-256 ([`TOKEN_END`]);
//!   [`collect_token`] reassembles and checks it.
//! * Check: [`description`] writes the Realm description `attest-verify` recomputes the RIM from —
//!   derived from the boot descriptor the VMM reads, following `testbed/host/src/vmm/build.rs`
//!   step by step — and [`verify`] runs `attest-verify`'s library on the token: the Realm
//!   signature, the platform signature with the TEST IAK, the RAK binding, RPV, challenge and the
//!   recomputed RIM. [`controls`] shows the same check refusing a wrong challenge and a description
//!   one bit off.

use std::io::Write;
use std::path::Path;

use attest_verify::Policy;
use attest_verify::description::RealmDescription;
use serde_json::{Value, json};
use sha2::{Digest, Sha256, Sha512};

/// The prefix of `/init`'s token lines: `WARDEN-TOKEN: <index> <hex>`.
pub const TOKEN_PREFIX: &str = "WARDEN-TOKEN: ";
/// The prefix of `/init`'s closing token line: `WARDEN-TOKEN-END: <bytes> <sha256 hex>`.
pub const TOKEN_END: &str = "WARDEN-TOKEN-END: ";
/// The kernel command-line parameter carrying the challenge (hex).
pub const CHALLENGE_PARAM: &str = "warden.challenge=";

/// The modules `/init` loads, in load order: (path under the release's `kernel/` directory in
/// `linux-modules-*`, module name). Each one's `depends=` must name only modules before it
/// ([`check_modules`]).
pub const MODULES: [(&str, &str); 3] = [
    ("fs/configfs/configfs.ko.xz", "configfs"),
    ("drivers/virt/coco/guest/tsm_report.ko.xz", "tsm_report"),
    (
        "drivers/virt/coco/arm-cca-guest/arm-cca-guest.ko.xz",
        "arm_cca_guest",
    ),
];

/// The file name a module has in the initramfs (`/lib/modules/<this>.ko`): its package file name
/// without `.ko.xz` (`arm-cca-guest`, whose module name is `arm_cca_guest`).
pub fn module_file(path: &str) -> &str {
    path.rsplit('/')
        .next()
        .unwrap_or(path)
        .trim_end_matches(".ko.xz")
}

/// The Realm parameters `testbed/host/src/vmm/build.rs` passes to REALM_CREATE (its `params`):
/// flags 0, no SVE, one breakpoint and one watchpoint (raw), no PMU counters, SHA-256, RPV 0x11….
const RPV_BYTE: u8 = 0x11;
const NUM_BPS: u8 = 1;
const NUM_WPS: u8 = 1;

/// Lower-case hex of `b`.
pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A fresh 64-byte challenge: SHA-512 of the time, the process id and a stack address.
pub fn challenge() -> [u8; 64] {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let here = 0u8;
    let mut h = Sha512::new();
    h.update(b"warden linux realm challenge");
    h.update(now.to_le_bytes());
    h.update(std::process::id().to_le_bytes());
    h.update((&here as *const u8 as usize).to_le_bytes());
    h.finalize().into()
}

/// Decompresses a `.ko.xz`.
pub fn unxz(xz: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    lzma_rs::xz_decompress(&mut std::io::BufReader::new(xz), &mut out)
        .map_err(|e| format!("xz: {e:?}"))?;
    Ok(out)
}

/// The value of `key` in a module's `.modinfo` (NUL-separated `key=value` strings).
pub fn modinfo<'a>(ko: &'a [u8], key: &str) -> Option<&'a str> {
    let want = format!("{key}=");
    ko.split(|&b| b == 0)
        .filter_map(|s| std::str::from_utf8(s).ok())
        .find_map(|s| s.strip_prefix(want.as_str()))
}

/// Checks decompressed modules, given in load order with their names: each is built for
/// `release`, says it is the module it should be, and depends only on modules loaded before it.
pub fn check_modules(mods: &[(&str, &[u8])], release: &str) -> Result<(), String> {
    for (i, (name, ko)) in mods.iter().enumerate() {
        if modinfo(ko, "name") != Some(name) {
            return Err(format!(
                "module {name}: .modinfo names {:?}",
                modinfo(ko, "name")
            ));
        }
        let vermagic = modinfo(ko, "vermagic").unwrap_or("");
        if vermagic.split(' ').next() != Some(release) {
            return Err(format!(
                "module {name}: vermagic `{vermagic}`, kernel {release}"
            ));
        }
        for dep in modinfo(ko, "depends").unwrap_or("").split(',') {
            if !dep.is_empty() && !mods[..i].iter().any(|(n, _)| n.replace('-', "_") == dep) {
                return Err(format!(
                    "module {name} depends on {dep}, not loaded before it"
                ));
            }
        }
    }
    Ok(())
}

/// Reassembles the token from the Realm's console lines (`realm| ` prefix already removed):
/// [`TOKEN_PREFIX`] lines numbered 0, 1, … in order, then [`TOKEN_END`] with the length and
/// SHA-256, both of which must match.
pub fn collect_token<'a>(lines: impl IntoIterator<Item = &'a str>) -> Result<Vec<u8>, String> {
    let mut token = Vec::new();
    let mut next = 0u32;
    for line in lines {
        if let Some(rest) = line.strip_prefix(TOKEN_END) {
            let mut it = rest.split_whitespace();
            let len: usize = it
                .next()
                .and_then(|l| l.parse().ok())
                .ok_or_else(|| format!("bad token end line `{line}`"))?;
            let sum = it.next().unwrap_or("");
            if next == 0 {
                return Err("the token end line came without token lines".into());
            }
            if token.len() != len {
                return Err(format!(
                    "token: {} bytes collected, the Realm says {len}",
                    token.len()
                ));
            }
            if hex(&Sha256::digest(&token)) != sum {
                return Err(format!(
                    "token: SHA-256 {} ≠ the Realm's {sum}",
                    hex(&Sha256::digest(&token))
                ));
            }
            return Ok(token);
        }
        let Some(rest) = line.strip_prefix(TOKEN_PREFIX) else {
            continue;
        };
        let (index, digits) = rest
            .split_once(' ')
            .ok_or_else(|| format!("bad token line `{line}`"))?;
        if index.parse::<u32>().ok() != Some(next) {
            return Err(format!("token line {index} where line {next} was due"));
        }
        token.extend(
            attest_verify::description::parse_hex(digits)
                .map_err(|e| format!("token line {index}: {}", e.0))?,
        );
        next += 1;
    }
    Err(if next == 0 {
        "no attestation token on the Realm's console (no `WARDEN-TOKEN:` lines)".into()
    } else {
        format!(
            "the token ended after {next} lines without a `{}` line",
            TOKEN_END.trim()
        )
    })
}

/// One file the loader put in NS memory and the VMM measured into the Realm (a descriptor entry).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Blob {
    size: u64,
    ipa: u64,
}

/// The Realm description of the Realm the boot descriptor `desc` (xtask's `Layout::descriptor`,
/// as testbed/host/src/vmm/build.rs `Desc::read` reads it) makes the VMM build; `files` names the
/// Image, DTB and initrd files (relative to where the description is written), in that order.
///
/// It follows `build()` there: REALM_CREATE with its fixed parameters; RTT_INIT_RIPAS over all of
/// RAM with level-3 tables present everywhere (one RIPAS descriptor per 4 KiB); DATA_CREATE of
/// every RAM page in IPA order, measured when the page has content (Image, DTB, initrd; the rest
/// of the kernel's footprint and, with `--eager`, all other RAM are DATA_CREATE_UNKNOWN, which
/// does not measure); REC_CREATE of REC 0 (runnable, pc = Image, x0 = DTB) and of the others (not
/// runnable, unmeasured).
pub fn description(desc: &[u8], files: [&str; 3]) -> Result<Value, String> {
    let w = |i: usize| -> Result<u64, String> {
        desc.get(8 * i..8 * i + 8)
            .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
            .ok_or_else(|| "short boot descriptor".to_string())
    };
    if w(0)? != u64::from_le_bytes(*super::DESCRIPTOR_MAGIC) || w(1)? != 1 {
        return Err("not a version-1 boot descriptor".into());
    }
    let (ipa_bits, ram_ipa, ram_size, cpus) = (w(2)?, w(3)?, w(4)?, w(5)?);
    let image = Blob {
        size: w(7)?,
        ipa: w(9)?,
    };
    let dtb = Blob {
        size: w(11)?,
        ipa: w(12)?,
    };
    let initrd = Blob {
        size: w(14)?,
        ipa: w(15)?,
    };
    let top = ram_ipa + ram_size;
    let mut steps = vec![json!({ "init_ripas": {
        "base": format!("{ram_ipa:#x}"), "top": format!("{top:#x}"), "level": 3 } })];
    let blobs = [image, dtb, initrd];
    let mut ipa = ram_ipa;
    while ipa < top {
        if let Some((b, file)) = blobs
            .iter()
            .zip(files)
            .find(|(b, _)| (b.ipa..b.ipa + b.size).contains(&ipa))
        {
            steps.push(json!({ "data": {
                "ipa": format!("{ipa:#x}"), "file": file, "offset": ipa - b.ipa, "measured": true } }));
        }
        ipa += 0x1000;
    }
    for i in 0..cpus {
        let boot = i == 0;
        let (pc, x0) = if boot { (image.ipa, dtb.ipa) } else { (0, 0) };
        steps.push(json!({ "rec": {
            "pc": format!("{pc:#x}"),
            "gprs": [format!("{x0:#x}"), 0, 0, 0, 0, 0, 0, 0],
            "runnable": boot } }));
    }
    Ok(json!({
        "hash_algo": "sha-256",
        "s2sz": ipa_bits,
        "flags": 0,
        "sve_vl": 0,
        "num_bps": NUM_BPS,
        "num_wps": NUM_WPS,
        "pmu_num_ctrs": 0,
        "rpv": hex(&[RPV_BYTE; 64]),
        "steps": steps,
    }))
}

/// The description as text: one step per line (a Linux Realm has some 12,000).
pub fn render(d: &Value) -> String {
    let mut head = d.clone();
    let steps = head
        .as_object_mut()
        .and_then(|o| o.remove("steps"))
        .unwrap_or(Value::Null);
    let head = head.to_string();
    let steps: Vec<String> = steps
        .as_array()
        .map(|a| a.iter().map(|s| format!("    {s}")).collect())
        .unwrap_or_default();
    format!(
        "{},\n  \"steps\": [\n{}\n  ]\n}}\n",
        head.trim_end_matches('}'),
        steps.join(",\n")
    )
}

/// Verifies `token` against the description at `path` (its files relative to it) and the
/// `challenge`: attest-verify's checks with the TEST IAK, the RPV and the RIM recomputed from the
/// description. Returns the RIM.
pub fn verify(token: &[u8], path: &Path, challenge: &[u8; 64]) -> Result<Vec<u8>, String> {
    let d = RealmDescription::load(path).map_err(|e| e.0)?;
    let rim = d.expected_rim().map_err(|e| e.0)?;
    check(token, &rim, d.rpv().map_err(|e| e.0)?, challenge)?;
    Ok(rim)
}

/// attest-verify's checks of `token` with the TEST IAK, against an expected RIM, RPV and challenge.
fn check(
    token: &[u8],
    rim: &[u8],
    rpv: Option<Vec<u8>>,
    challenge: &[u8; 64],
) -> Result<(), String> {
    let policy = Policy {
        challenge: Some(challenge.to_vec()),
        iak: Some(attest_verify::test_iak()),
        allow_test_platform: true,
        rpv,
        rim: Some(rim.to_vec()),
        rems: Default::default(),
    };
    let report = attest_verify::verify(token, &policy).map_err(|e| e.0)?;
    if !report.platform_signature_checked || report.token.realm_claims.rim != rim {
        return Err("attest-verify did not check the platform signature and the RIM".into());
    }
    Ok(())
}

/// Negative controls, after [`verify`] returned `rim`: the same check must refuse the token with
/// the challenge's last bit flipped, and with a copy of the description (written next to it) whose
/// REC 0 pc is one bit off (its RIM recomputed). Returns the two refusals.
pub fn controls(
    token: &[u8],
    path: &Path,
    challenge: &[u8; 64],
    rim: &[u8],
) -> Result<[String; 2], String> {
    let mut wrong = *challenge;
    wrong[63] ^= 1;
    let rpv = RealmDescription::load(path)
        .and_then(|d| d.rpv())
        .map_err(|e| e.0)?;
    let c = check(token, rim, rpv, &wrong)
        .err()
        .ok_or("the token verified with a wrong challenge")?;
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut v: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    let rec = v["steps"]
        .as_array_mut()
        .and_then(|s| s.iter_mut().find(|s| s.get("rec").is_some()))
        .ok_or("the description has no REC")?;
    let pc = rec["rec"]["pc"]
        .as_str()
        .and_then(|p| u64::from_str_radix(p.trim_start_matches("0x"), 16).ok())
        .ok_or("the description's REC 0 pc is not a hex string")?;
    rec["rec"]["pc"] = json!(format!("{:#x}", pc ^ 0x1000));
    let tampered = path.with_extension("tampered.json");
    std::fs::File::create(&tampered)
        .and_then(|mut f| f.write_all(render(&v).as_bytes()))
        .map_err(|e| format!("{}: {e}", tampered.display()))?;
    let r = verify(token, &tampered, challenge);
    let _ = std::fs::remove_file(&tampered);
    let r = r
        .err()
        .ok_or("the token verified with a tampered description")?;
    Ok([c, r])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(token: &[u8], per: usize) -> Vec<String> {
        let mut v = vec!["WARDEN-LINUX: noise".to_string()];
        for (i, c) in token.chunks(per).enumerate() {
            v.push(format!("{TOKEN_PREFIX}{i} {}", hex(c)));
        }
        v.push(format!(
            "{TOKEN_END}{} {}",
            token.len(),
            hex(&Sha256::digest(token))
        ));
        v
    }

    #[test]
    fn token_collector() {
        let token: Vec<u8> = (0..200u32).map(|i| (i * 7) as u8).collect();
        let l = lines(&token, 64);
        assert_eq!(
            collect_token(l.iter().map(String::as_str)),
            Ok(token.clone())
        );
        // A missing line, a line out of order, a corrupted digit, a missing end, no token.
        let mut gap = l.clone();
        gap.remove(2);
        assert!(collect_token(gap.iter().map(String::as_str)).is_err());
        let mut swapped = l.clone();
        swapped.swap(1, 2);
        assert!(collect_token(swapped.iter().map(String::as_str)).is_err());
        let mut flipped = l.clone();
        flipped[1] = flipped[1].replacen("00", "01", 1);
        assert!(
            collect_token(flipped.iter().map(String::as_str))
                .unwrap_err()
                .contains("SHA-256")
        );
        assert!(collect_token(l[..l.len() - 1].iter().map(String::as_str)).is_err());
        assert!(collect_token(["realm| x"]).is_err());
    }

    #[test]
    fn modules_xz_and_modinfo() {
        let ko = |name: &str, deps: &str| {
            format!("\x7fELF..\0license=GPL\0depends={deps}\0name={name}\0vermagic=7.3.4+deb13-cloud-arm64 SMP preempt mod_unload aarch64\0")
                .into_bytes()
        };
        let (a, b, c) = (
            ko("configfs", ""),
            ko("tsm_report", "configfs"),
            ko("arm_cca_guest", "tsm_report"),
        );
        let mut xz = Vec::new();
        lzma_rs::xz_compress(&mut &c[..], &mut xz).unwrap();
        assert_eq!(unxz(&xz).unwrap(), c);
        assert!(unxz(b"not xz").is_err());
        assert_eq!(modinfo(&b, "depends"), Some("configfs"));
        assert_eq!(modinfo(&a, "depends"), Some(""));
        let rel = "7.3.4+deb13-cloud-arm64";
        let names = MODULES.map(|(_, n)| n);
        let ok = [(names[0], &a[..]), (names[1], &b[..]), (names[2], &c[..])];
        assert_eq!(check_modules(&ok, rel), Ok(()));
        let bad_order = [(names[1], &b[..]), (names[0], &a[..]), (names[2], &c[..])];
        assert!(
            check_modules(&bad_order, rel)
                .unwrap_err()
                .contains("depends on configfs")
        );
        assert!(check_modules(&ok, "7.3.5").is_err());
        assert!(check_modules(&[("configfs", &b[..])], rel).is_err());
    }

    fn descriptor(cpus: u64) -> Vec<u8> {
        let words: [u64; 17] = [
            u64::from_le_bytes(*super::super::DESCRIPTOR_MAGIC),
            1,
            40,
            0x8000_0000,
            256 << 20,
            cpus,
            0xA000_0000,
            0x3000,
            0x5000,
            0x8000_0000,
            0xA500_0000,
            0x1000,
            0x8020_0000,
            0xA400_0000,
            0x2000,
            0x8040_0000,
            0,
        ];
        words.iter().flat_map(|w| w.to_le_bytes()).collect()
    }

    #[test]
    fn description_follows_the_vmm() {
        let d = description(&descriptor(2), ["Image", "realm.dtb", "initrd"]).unwrap();
        assert_eq!(d["s2sz"], 40);
        assert_eq!(d["rpv"].as_str().unwrap(), "11".repeat(64));
        let steps = d["steps"].as_array().unwrap();
        assert_eq!(steps[0]["init_ripas"]["base"], "0x80000000");
        assert_eq!(steps[0]["init_ripas"]["top"], "0x90000000");
        let data: Vec<(String, String, u64)> = steps
            .iter()
            .filter_map(|s| s.get("data"))
            .map(|d| {
                (
                    d["ipa"].as_str().unwrap().to_string(),
                    d["file"].as_str().unwrap().to_string(),
                    d["offset"].as_u64().unwrap(),
                )
            })
            .collect();
        let want = [
            ("0x80000000", "Image", 0),
            ("0x80001000", "Image", 0x1000),
            ("0x80002000", "Image", 0x2000),
            ("0x80200000", "realm.dtb", 0),
            ("0x80400000", "initrd", 0),
            ("0x80401000", "initrd", 0x1000),
        ];
        assert_eq!(data.len(), want.len());
        for (got, w) in data.iter().zip(want) {
            assert_eq!((got.0.as_str(), got.1.as_str(), got.2), w);
        }
        let recs: Vec<&Value> = steps.iter().filter_map(|s| s.get("rec")).collect();
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[0]["pc"], "0x80000000");
        assert_eq!(recs[0]["gprs"][0], "0x80200000");
        assert_eq!(recs[0]["runnable"], true);
        assert_eq!(recs[1]["runnable"], false);
        assert!(steps.last().unwrap().get("rec").is_some());
        assert!(description(&descriptor(1)[..40], ["a", "b", "c"]).is_err());
        // Rendered one step per line, it is the same JSON, in attest-verify's format.
        let text = render(&d);
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), d);
        assert_eq!(text.lines().count(), 4 + steps.len());
        RealmDescription::from_json(&text).unwrap();
    }

    /// The check itself, on the token and description attest-verify keeps as test data: passes,
    /// and the negative controls are refused.
    #[test]
    fn verification_passes_and_refuses() {
        let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../attest-verify/tests/data");
        let token = std::fs::read(data.join("token.cbor")).unwrap();
        let text = std::fs::read_to_string(data.join("realm.json")).unwrap();
        let challenge: [u8; 64] = std::array::from_fn(|i| (i as u8).wrapping_mul(37) ^ 0xC3);
        let tmp = std::env::temp_dir().join(format!("xtask-linux-attest-{}", std::process::id()));
        std::fs::create_dir_all(&tmp).unwrap();
        // Through render(), as the Linux description is written.
        let path = tmp.join("realm.json");
        let v: Value = serde_json::from_str(&text).unwrap();
        std::fs::write(&path, render(&v)).unwrap();
        let rim = verify(&token, &path, &challenge).unwrap();
        assert_eq!(rim.len(), 32);
        let [c, r] = controls(&token, &path, &challenge, &rim).unwrap();
        assert!(c.contains("challenge"), "{c}");
        assert!(r.contains("RIM"), "{r}");
        assert!(!tmp.join("realm.tampered.json").exists());
        let _ = std::fs::remove_dir_all(&tmp);
    }
}
