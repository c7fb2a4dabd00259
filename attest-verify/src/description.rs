//! A Realm's description, from which its RIM is predicted (RMM 1.0 measurement rules,
//! re-implemented here independently of Warden).
//!
//! JSON, in the order the Host built the Realm:
//! ```json
//! {
//!   "hash_algo": "sha-256",
//!   "s2sz": 40, "flags": 0, "sve_vl": 0, "num_bps": 1, "num_wps": 1, "pmu_num_ctrs": 0,
//!   "rpv": "5a5a…(64 bytes hex, optional)",
//!   "steps": [
//!     { "init_ripas": { "base": 1075838976, "top": 1075847168, "level": 3 } },
//!     { "data": { "ipa": 1075838976, "file": "realm.bin", "offset": 0, "measured": true } },
//!     { "data": { "ipa": 1075843072, "hex": "00112233", "measured": false } },
//!     { "rec": { "pc": 1075838976, "gprs": [0, 0, 0, 0, 0, 0, 0, 0], "runnable": true } }
//!   ]
//! }
//! ```
//! * `init_ripas`: one RIPAS descriptor per RTT entry of `level` (3: 4 KiB, 2: 2 MiB, 1: 1 GiB)
//!   that RMI_RTT_INIT_RIPAS processed, base = entry address, top = min(entry end, top).
//! * `data`: one RMI_DATA_CREATE of the 4 KiB granule at `ipa`; contents from `file` (at byte
//!   `offset`) or `hex`, zero-padded to 4 KiB; `measured` is RmiDataFlags.measure (the flags word
//!   is 1 or 0). DATA_CREATE_UNKNOWN does not change the RIM: leave it out.
//! * `rec`: one RMI_REC_CREATE; only runnable RECs change the RIM.
//!
//! Numbers may be JSON integers or strings ("0x…" hex or decimal).

use serde::Deserialize;
use sha2::{Digest, Sha256, Sha512};

use crate::Error;

/// A number given as a JSON integer or a string.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(untagged)]
enum Num {
    Int(u64),
    Str(#[serde(deserialize_with = "parse_num")] u64),
}

fn parse_num<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let s = String::deserialize(d)?;
    let r = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(&h.replace('_', ""), 16),
        None => s.replace('_', "").parse(),
    };
    r.map_err(serde::de::Error::custom)
}

impl Num {
    fn get(self) -> u64 {
        match self {
            Num::Int(v) | Num::Str(v) => v,
        }
    }
}

/// One RIM-changing operation.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum Step {
    InitRipas {
        base: Num,
        top: Num,
        level: i8,
    },
    Data {
        ipa: Num,
        file: Option<String>,
        hex: Option<String>,
        offset: Option<Num>,
        measured: bool,
    },
    Rec {
        pc: Num,
        gprs: Option<Vec<Num>>,
        runnable: Option<bool>,
    },
}

/// A Realm as its owner describes it (see the module docs).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RealmDescription {
    hash_algo: String,
    s2sz: u8,
    #[serde(default)]
    flags: u64,
    #[serde(default)]
    sve_vl: u8,
    #[serde(default)]
    num_bps: u8,
    #[serde(default)]
    num_wps: u8,
    #[serde(default)]
    pmu_num_ctrs: u8,
    rpv: Option<String>,
    #[serde(default)]
    steps: Vec<Step>,
    /// Where relative `file` paths are looked up (set by [`RealmDescription::load`]).
    #[serde(skip)]
    base_dir: Option<std::path::PathBuf>,
}

/// Parses hex (whitespace and a leading "0x" allowed).
pub fn parse_hex(s: &str) -> Result<Vec<u8>, Error> {
    let s: String = s
        .trim()
        .trim_start_matches("0x")
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    if !s.len().is_multiple_of(2) {
        return Err(Error("odd number of hex digits".into()));
    }
    (0..s.len())
        .step_by(2)
        .map(|i| {
            u8::from_str_radix(&s[i..i + 2], 16)
                .map_err(|_| Error(format!("bad hex near {:?}", &s[i..(i + 2).min(s.len())])))
        })
        .collect()
}

impl RealmDescription {
    /// Parses a description from JSON text.
    pub fn from_json(text: &str) -> Result<Self, Error> {
        serde_json::from_str(text).map_err(|e| Error(format!("bad Realm description: {e}")))
    }

    /// Reads a description file; relative image paths are taken from the file's directory.
    pub fn load(path: &std::path::Path) -> Result<Self, Error> {
        let text =
            std::fs::read_to_string(path).map_err(|e| Error(format!("{}: {e}", path.display())))?;
        let mut d = Self::from_json(&text)?;
        d.base_dir = path.parent().map(std::path::Path::to_path_buf);
        Ok(d)
    }

    /// The RPV the description gives (64 bytes), if any.
    pub fn rpv(&self) -> Result<Option<Vec<u8>>, Error> {
        match &self.rpv {
            None => Ok(None),
            Some(h) => {
                let mut v = parse_hex(h)?;
                if v.len() > 64 {
                    return Err(Error("the RPV is longer than 64 bytes".into()));
                }
                v.resize(64, 0);
                Ok(Some(v))
            }
        }
    }

    /// The measurement algorithm's name ("sha-256" / "sha-512").
    pub fn hash_algo(&self) -> &str {
        &self.hash_algo
    }

    fn hash(&self, data: &[u8]) -> Result<[u8; 64], Error> {
        let mut out = [0u8; 64];
        match self.hash_algo.as_str() {
            "sha-256" => out[..32].copy_from_slice(&Sha256::digest(data)),
            "sha-512" => out.copy_from_slice(&Sha512::digest(data)),
            other => {
                return Err(Error(format!(
                    "unsupported hash_algo {other:?} (sha-256 or sha-512)"
                )));
            }
        }
        Ok(out)
    }

    fn digest_len(&self) -> usize {
        if self.hash_algo == "sha-512" { 64 } else { 32 }
    }

    /// One granule's contents. `files` caches each file read, so a description with thousands of
    /// data steps into one large image (a Linux kernel) reads it once.
    fn image(
        &self,
        files: &mut std::collections::HashMap<std::path::PathBuf, Vec<u8>>,
        file: &Option<String>,
        hex: &Option<String>,
        offset: u64,
    ) -> Result<[u8; 4096], Error> {
        let bytes = match (file, hex) {
            (Some(f), None) => {
                let path = match &self.base_dir {
                    Some(dir) if std::path::Path::new(f).is_relative() => dir.join(f),
                    _ => std::path::PathBuf::from(f),
                };
                if !files.contains_key(&path) {
                    let all = std::fs::read(&path)
                        .map_err(|e| Error(format!("{}: {e}", path.display())))?;
                    files.insert(path.clone(), all);
                }
                let all = &files[&path];
                all.get(offset as usize..)
                    .unwrap_or(&[])
                    .iter()
                    .take(4096)
                    .copied()
                    .collect()
            }
            (None, Some(h)) => parse_hex(h)?,
            (None, None) => Vec::new(),
            _ => return Err(Error("a data step has both file and hex".into())),
        };
        if bytes.len() > 4096 {
            return Err(Error("a data step's contents exceed 4096 bytes".into()));
        }
        let mut page = [0u8; 4096];
        page[..bytes.len()].copy_from_slice(&bytes);
        Ok(page)
    }

    fn descriptor(kind: u8, rim: &[u8; 64]) -> [u8; 256] {
        let mut d = [0u8; 256];
        d[0] = kind;
        d[8..16].copy_from_slice(&256u64.to_le_bytes());
        d[0x10..0x50].copy_from_slice(rim);
        d
    }

    /// The RIM the Realm must have when activated (digest length).
    pub fn expected_rim(&self) -> Result<Vec<u8>, Error> {
        // RMI_REALM_CREATE: the measured fields of RmiRealmParams in a zeroed 4 KiB image.
        let algo_code: u8 = match self.hash_algo.as_str() {
            "sha-256" => 0,
            "sha-512" => 1,
            other => return Err(Error(format!("unsupported hash_algo {other:?}"))),
        };
        let mut params = [0u8; 4096];
        params[0..8].copy_from_slice(&self.flags.to_le_bytes());
        params[0x08] = self.s2sz;
        params[0x10] = self.sve_vl;
        params[0x18] = self.num_bps;
        params[0x20] = self.num_wps;
        params[0x28] = self.pmu_num_ctrs;
        params[0x30] = algo_code;
        let mut rim = self.hash(&params)?;
        let mut files = std::collections::HashMap::new();
        for step in &self.steps {
            match step {
                Step::InitRipas { base, top, level } => {
                    let shift = match level {
                        3 => 12,
                        2 => 21,
                        1 => 30,
                        _ => {
                            return Err(Error(format!("init_ripas level {level} is not 1, 2 or 3")));
                        }
                    };
                    let (base, top) = (base.get(), top.get());
                    let size = 1u64 << shift;
                    if base % size != 0 || top <= base {
                        return Err(Error(format!(
                            "init_ripas [{base:#x}, {top:#x}) is not a range of level-{level} entries"
                        )));
                    }
                    let mut entry = base;
                    while entry < top {
                        let mut d = Self::descriptor(2, &rim);
                        d[0x50..0x58].copy_from_slice(&entry.to_le_bytes());
                        d[0x58..0x60].copy_from_slice(&(entry + size).min(top).to_le_bytes());
                        rim = self.hash(&d)?;
                        entry += size;
                    }
                }
                Step::Data {
                    ipa,
                    file,
                    hex,
                    offset,
                    measured,
                } => {
                    let mut d = Self::descriptor(0, &rim);
                    d[0x50..0x58].copy_from_slice(&ipa.get().to_le_bytes());
                    d[0x58..0x60].copy_from_slice(&u64::from(*measured).to_le_bytes());
                    if *measured {
                        let page = self.image(&mut files, file, hex, offset.map_or(0, Num::get))?;
                        d[0x60..0xA0].copy_from_slice(&self.hash(&page)?);
                    }
                    rim = self.hash(&d)?;
                }
                Step::Rec { pc, gprs, runnable } => {
                    if !runnable.unwrap_or(true) {
                        continue;
                    }
                    let mut params = [0u8; 4096];
                    params[0] = 1; // flags.runnable
                    params[0x200..0x208].copy_from_slice(&pc.get().to_le_bytes());
                    let gprs = gprs.as_deref().unwrap_or(&[]);
                    if gprs.len() > 8 {
                        return Err(Error("a REC has at most 8 measured gprs".into()));
                    }
                    for (i, g) in gprs.iter().enumerate() {
                        params[0x300 + 8 * i..0x308 + 8 * i]
                            .copy_from_slice(&g.get().to_le_bytes());
                    }
                    let content = self.hash(&params)?;
                    let mut d = Self::descriptor(1, &rim);
                    d[0x50..0x90].copy_from_slice(&content);
                    rim = self.hash(&d)?;
                }
            }
        }
        Ok(rim[..self.digest_len()].to_vec())
    }
}

/// A REM after extending `rem` (digest length) with `value` (≤ 64 bytes), as TF-RMM computes it:
/// H(rem ‖ value).
pub fn rem_extend(algo: &str, rem: &[u8], value: &[u8]) -> Result<Vec<u8>, Error> {
    let mut data = rem.to_vec();
    data.extend_from_slice(value);
    crate::hash_named(algo, &data).ok_or_else(|| Error(format!("unsupported algorithm {algo:?}")))
}
