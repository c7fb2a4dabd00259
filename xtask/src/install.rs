//! `cargo xtask install`: Rust targets, llvm-tools, clippy and a QEMU with FEAT_RME (>= 8.1).
//!
//! The same idempotent steps run at the start of `build`, `run`, `qemu-e2e` and `test` ([`ensure`]):
//! each part is checked first (the target's standard library and the components' binaries in the
//! toolchain's sysroot, `qemu-system-aarch64 --version`) and only what is missing is installed.
//!
//! QEMU comes from Debian's `<codename>-backports` suite when the distribution's own QEMU is too
//! old (bookworm ships 7.2). The mirror is not hard-coded: it is the one the machine's existing
//! apt sources already use for `<codename>`, read at run time.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::qemu;
use crate::util::{self, Error, Result, step};

/// The oldest QEMU with `-cpu max,x-rme=on` (FEAT_RME).
pub const MIN_QEMU: (u32, u32) = (8, 1);

const SOURCES_DIR: &str = "/etc/apt/sources.list.d";
const SOURCES_LIST: &str = "/etc/apt/sources.list";
const OS_RELEASE: &str = "/etc/os-release";

/// The command a user runs to fix a missing/old QEMU.
pub const INSTALL_HINT: &str = "cargo xtask install";

/// The bare-metal targets of the firmware images (also pinned in rust-toolchain.toml).
pub const TARGETS: [&str; 2] = ["aarch64-unknown-none-softfloat", "aarch64-unknown-none"];

/// What a subcommand needs installed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Needs {
    /// The bare-metal targets and llvm-tools (firmware images).
    pub firmware: bool,
    /// clippy (the lint tiers).
    pub clippy: bool,
    /// QEMU >= 8.1 (runs).
    pub qemu: bool,
}

impl Needs {
    /// `build`.
    pub const BUILD: Needs = Needs {
        firmware: true,
        clippy: false,
        qemu: false,
    };
    /// `run` and `qemu-e2e`.
    pub const RUN: Needs = Needs {
        firmware: true,
        clippy: false,
        qemu: true,
    };
    /// `test` and `install`.
    pub const ALL: Needs = Needs {
        firmware: true,
        clippy: true,
        qemu: true,
    };
}

/// The active Rust toolchain (the one rust-toolchain.toml selects in the workspace).
pub struct Toolchain {
    /// `rustc --print sysroot`.
    pub sysroot: PathBuf,
    /// The host triple.
    pub host: String,
    /// `rustc --version`.
    pub version: String,
}

impl Toolchain {
    /// Asks `rustc` (run in the workspace, so rust-toolchain.toml applies).
    pub fn detect() -> Result<Self> {
        let rustc = || {
            let mut cmd = Command::new("rustc");
            cmd.current_dir(util::workspace_root());
            cmd
        };
        let sysroot = util::output(rustc().args(["--print", "sysroot"]))?;
        let verbose = util::output(rustc().arg("-vV"))?;
        let host = verbose
            .lines()
            .find_map(|l| l.strip_prefix("host: "))
            .ok_or_else(|| Error::new("cannot find the host triple in `rustc -vV`"))?;
        Ok(Toolchain {
            sysroot: PathBuf::from(sysroot.trim()),
            host: host.trim().to_string(),
            version: verbose.lines().next().unwrap_or("rustc").trim().to_string(),
        })
    }

    /// `llvm-objcopy` of the llvm-tools component.
    pub fn llvm_objcopy(&self) -> PathBuf {
        self.sysroot
            .join("lib/rustlib")
            .join(&self.host)
            .join("bin/llvm-objcopy")
    }

    /// Whether the standard library for `target` is installed.
    pub fn has_target(&self, target: &str) -> bool {
        self.sysroot
            .join("lib/rustlib")
            .join(target)
            .join("lib")
            .is_dir()
    }

    /// Whether clippy is installed in this toolchain (not just the rustup proxy).
    pub fn has_clippy(&self) -> bool {
        self.sysroot.join("bin/cargo-clippy").exists()
    }
}

/// `cargo xtask install`: everything, with a line per item.
pub fn install() -> Result<()> {
    ensure(Needs::ALL)?;
    ensure_cargo_fuzz()
}

/// The cargo-fuzz release `cargo xtask fuzz` and the fuzz smoke tier use (installed `--locked`).
pub const CARGO_FUZZ_VERSION: &str = "0.13.2";

/// Installs cargo-fuzz [`CARGO_FUZZ_VERSION`] with `cargo install --locked` unless `cargo fuzz
/// --version` already reports it. Idempotent: one `cargo fuzz --version` when it is present.
pub fn ensure_cargo_fuzz() -> Result<()> {
    // `cargo fuzz --version` prints `cargo-fuzz 0.13.2`; a missing subcommand fails (quietly here).
    let installed = || {
        let out = util::cargo()
            .args(["fuzz", "--version"])
            .stderr(std::process::Stdio::null())
            .output()
            .ok()
            .filter(|o| o.status.success())?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.split_whitespace().nth(1).map(str::to_string)
    };
    match installed() {
        Some(v) if v == CARGO_FUZZ_VERSION => {
            step(&format!("cargo-fuzz {v}: present"));
            return Ok(());
        }
        Some(v) => step(&format!(
            "cargo-fuzz {v} is not {CARGO_FUZZ_VERSION}: cargo install cargo-fuzz --locked --version {CARGO_FUZZ_VERSION}"
        )),
        None => step(&format!(
            "cargo-fuzz is missing: cargo install cargo-fuzz --locked --version {CARGO_FUZZ_VERSION}"
        )),
    }
    util::run(util::cargo().args([
        "install",
        "cargo-fuzz",
        "--locked",
        "--force",
        "--version",
        CARGO_FUZZ_VERSION,
    ]))?;
    match installed() {
        Some(v) if v == CARGO_FUZZ_VERSION => {
            step(&format!("cargo-fuzz {v}: installed"));
            Ok(())
        }
        other => Err(Error::new(format!(
            "cargo fuzz --version reports {other:?} after the install, not {CARGO_FUZZ_VERSION}; is ~/.cargo/bin on PATH?"
        ))),
    }
}

/// Installs whatever `needs` lists and is missing: the idempotent steps of `cargo xtask install`.
/// When everything is present this takes two `rustc` calls and one `qemu-system-aarch64
/// --version`, and prints one line per part.
pub fn ensure(needs: Needs) -> Result<()> {
    let start = std::time::Instant::now();
    if needs.firmware || needs.clippy {
        ensure_rust(needs)?;
    }
    if needs.qemu {
        ensure_qemu()?;
    }
    step(&format!(
        "prerequisites ready ({:.1} s)",
        start.elapsed().as_secs_f64()
    ));
    Ok(())
}

fn rustup() -> Command {
    let mut cmd = Command::new("rustup");
    cmd.current_dir(util::workspace_root());
    cmd
}

fn ensure_rust(needs: Needs) -> Result<()> {
    let tc = Toolchain::detect()?;
    let mut targets: Vec<&str> = Vec::new();
    let mut components: Vec<&str> = Vec::new();
    if needs.firmware {
        targets.extend(TARGETS.iter().filter(|t| !tc.has_target(t)));
        if !tc.llvm_objcopy().exists() {
            components.push("llvm-tools");
        }
    }
    if needs.clippy && !tc.has_clippy() {
        components.push("clippy");
    }
    let wanted = [
        needs
            .firmware
            .then(|| format!("targets {}", TARGETS.join(" + "))),
        needs.firmware.then(|| "llvm-tools".to_string()),
        needs.clippy.then(|| "clippy".to_string()),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(", ");
    if targets.is_empty() && components.is_empty() {
        step(&format!("Rust: {} with {wanted}: present", tc.version));
        return Ok(());
    }
    if !targets.is_empty() {
        step(&format!(
            "Rust: adding target(s) {} to {}",
            targets.join(" "),
            tc.version
        ));
        util::run(rustup().args(["target", "add"]).args(&targets))
            .map_err(|e| Error::new(format!("{e}; is Rust installed through rustup?")))?;
    }
    if !components.is_empty() {
        step(&format!(
            "Rust: adding component(s) {} (llvm-objcopy for flat images, clippy for the lint tiers)",
            components.join(" ")
        ));
        util::run(rustup().args(["component", "add"]).args(&components))
            .map_err(|e| Error::new(format!("{e}; is Rust installed through rustup?")))?;
    }
    let tc = Toolchain::detect()?;
    let still: Vec<&str> = TARGETS
        .iter()
        .copied()
        .filter(|t| needs.firmware && !tc.has_target(t))
        .chain((needs.firmware && !tc.llvm_objcopy().exists()).then_some("llvm-tools"))
        .chain((needs.clippy && !tc.has_clippy()).then_some("clippy"))
        .collect();
    if still.is_empty() {
        step(&format!("Rust: {} with {wanted}: installed", tc.version));
        Ok(())
    } else {
        Err(Error::new(format!(
            "still missing after rustup: {}",
            still.join(", ")
        )))
    }
}

fn ensure_qemu() -> Result<()> {
    match qemu::installed_version() {
        Some(v) if v >= MIN_QEMU => {
            step(&format!(
                "QEMU {}.{} (FEAT_RME needs >= {}.{}): present",
                v.0, v.1, MIN_QEMU.0, MIN_QEMU.1
            ));
            return Ok(());
        }
        Some(v) => step(&format!(
            "QEMU {}.{} is too old (FEAT_RME needs >= {}.{}): installing from backports",
            v.0, v.1, MIN_QEMU.0, MIN_QEMU.1
        )),
        None => step(&format!(
            "{} is not installed: installing QEMU >= {}.{} from backports",
            qemu::QEMU,
            MIN_QEMU.0,
            MIN_QEMU.1
        )),
    }
    install_qemu_from_backports()?;
    match qemu::installed_version() {
        Some(v) if v >= MIN_QEMU => {
            step(&format!("QEMU {}.{}: installed", v.0, v.1));
            Ok(())
        }
        Some(v) => Err(Error::new(format!(
            "QEMU {}.{} is still too old after the install; check `apt-cache policy qemu-system-arm`",
            v.0, v.1
        ))),
        None => Err(Error::new(
            "qemu-system-aarch64 is still missing after the install",
        )),
    }
}

fn install_qemu_from_backports() -> Result<()> {
    let os_release = fs::read_to_string(OS_RELEASE)
        .map_err(|e| Error::new(format!("cannot read {OS_RELEASE}: {e}")))?;
    let codename = os_release_codename(&os_release)
        .ok_or_else(|| Error::new(format!("no VERSION_CODENAME in {OS_RELEASE}")))?;
    let backports = format!("{codename}-backports");

    let sources = read_apt_sources();
    if sources
        .iter()
        .any(|(_, text)| mentions_suite(text, &backports))
    {
        step(&format!("apt sources already list {backports}"));
    } else {
        let mirror = find_mirror(&sources, &codename).ok_or_else(|| {
            Error::new(format!(
                "no apt source for suite `{codename}` found in {SOURCES_DIR}/*.sources or {SOURCES_LIST}; \
                 add one, or install QEMU >= 8.1 by hand"
            ))
        })?;
        let path = PathBuf::from(SOURCES_DIR).join(format!("{backports}.sources"));
        step(&format!(
            "writing {} (suite {backports}, mirror {})",
            path.display(),
            mirror.uri
        ));
        let text = backports_stanza(&mirror, &backports);
        write_root_file(&path, &text)?;
    }

    step("apt-get update");
    util::run(privileged("apt-get").args(["update"]))?;
    step(&format!(
        "apt-get install -y -t {backports} qemu-system-arm"
    ));
    util::run(
        privileged("apt-get")
            .env("DEBIAN_FRONTEND", "noninteractive")
            .args([
                "install",
                "-y",
                "--no-install-recommends",
                "-t",
                &backports,
                "qemu-system-arm",
            ]),
    )
}

/// A command run as root: directly when we are root, through sudo otherwise.
fn privileged(program: &str) -> Command {
    if is_root() {
        Command::new(program)
    } else {
        let mut cmd = Command::new("sudo");
        cmd.arg(program);
        cmd
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn write_root_file(path: &Path, text: &str) -> Result<()> {
    if is_root() {
        return fs::write(path, text)
            .map_err(|e| Error::new(format!("cannot write {}: {e}", path.display())));
    }
    let mut child = Command::new("sudo")
        .args(["tee", &path.to_string_lossy()])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .map_err(|e| Error::new(format!("cannot run sudo tee: {e}")))?;
    if let Some(stdin) = child.stdin.as_mut() {
        use std::io::Write;
        stdin.write_all(text.as_bytes())?;
    }
    let status = child.wait()?;
    if status.success() {
        Ok(())
    } else {
        Err(Error::new(format!("sudo tee {} failed", path.display())))
    }
}

/// Every apt source file (deb822 `*.sources`, one-line `*.list`, and sources.list) with its text.
pub fn read_apt_sources() -> Vec<(PathBuf, String)> {
    let mut files = Vec::new();
    if let Ok(text) = fs::read_to_string(SOURCES_LIST) {
        files.push((PathBuf::from(SOURCES_LIST), text));
    }
    if let Ok(dir) = fs::read_dir(SOURCES_DIR) {
        let mut paths: Vec<PathBuf> = dir.filter_map(|e| e.ok().map(|e| e.path())).collect();
        paths.sort();
        for path in paths {
            let is_source = matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("sources") | Some("list")
            );
            if is_source && let Ok(text) = fs::read_to_string(&path) {
                files.push((path, text));
            }
        }
    }
    files
}

/// The mirror a Debian suite is fetched from, as found in an existing apt source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mirror {
    /// The archive URI (e.g. the value of a deb822 `URIs:` field).
    pub uri: String,
    /// The keyring the existing source is verified with, if it names one.
    pub signed_by: Option<String>,
}

/// `VERSION_CODENAME=…` from /etc/os-release text.
pub fn os_release_codename(text: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let value = line.strip_prefix("VERSION_CODENAME=")?;
        let value = value.trim().trim_matches('"');
        (!value.is_empty()).then(|| value.to_string())
    })
}

/// Whether a source file (either format) already enables `suite`.
fn mentions_suite(text: &str, suite: &str) -> bool {
    deb822_stanzas(text)
        .iter()
        .any(|s| s.enabled && s.types_deb && s.suites.iter().any(|x| x == suite))
        || one_line_entries(text).iter().any(|(_, s, _)| s == suite)
}

/// The first enabled `deb` source for exactly `codename`, deb822 files and one-line files alike.
pub fn find_mirror(files: &[(PathBuf, String)], codename: &str) -> Option<Mirror> {
    for (path, text) in files {
        let deb822 = path.extension().and_then(|e| e.to_str()) == Some("sources");
        if deb822 {
            for stanza in deb822_stanzas(text) {
                if stanza.enabled
                    && stanza.types_deb
                    && stanza.suites.iter().any(|s| s == codename)
                    && let Some(uri) = stanza.uris.first()
                {
                    return Some(Mirror {
                        uri: uri.clone(),
                        signed_by: stanza.signed_by,
                    });
                }
            }
        } else {
            for (uri, suite, signed_by) in one_line_entries(text) {
                if suite == codename {
                    return Some(Mirror { uri, signed_by });
                }
            }
        }
    }
    None
}

/// The deb822 text of the backports source.
pub fn backports_stanza(mirror: &Mirror, suite: &str) -> String {
    let mut text = String::from(
        "# Written by `cargo xtask install`: QEMU >= 8.1 (FEAT_RME) for the Warden testbed.\n",
    );
    text.push_str("Types: deb\n");
    text.push_str(&format!("URIs: {}\n", mirror.uri));
    text.push_str(&format!("Suites: {suite}\n"));
    text.push_str("Components: main\n");
    if let Some(keyring) = &mirror.signed_by {
        text.push_str(&format!("Signed-By: {keyring}\n"));
    }
    text
}

#[derive(Debug, Default)]
struct Stanza {
    enabled: bool,
    types_deb: bool,
    uris: Vec<String>,
    suites: Vec<String>,
    signed_by: Option<String>,
}

fn deb822_stanzas(text: &str) -> Vec<Stanza> {
    let mut stanzas = Vec::new();
    let mut current: Option<Stanza> = None;
    for line in text.lines() {
        if line.trim().is_empty() {
            stanzas.extend(current.take());
            continue;
        }
        if line.starts_with('#') || line.starts_with(' ') || line.starts_with('\t') {
            continue;
        }
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let stanza = current.get_or_insert_with(|| Stanza {
            enabled: true,
            ..Stanza::default()
        });
        let words = || value.split_whitespace().map(str::to_string);
        match key.trim().to_ascii_lowercase().as_str() {
            "types" => stanza.types_deb = words().any(|w| w == "deb"),
            "uris" => stanza.uris = words().collect(),
            "suites" => stanza.suites = words().collect(),
            "enabled" => stanza.enabled = !value.trim().eq_ignore_ascii_case("no"),
            "signed-by" => {
                stanza.signed_by = Some(value.trim().to_string()).filter(|v| !v.is_empty())
            }
            _ => {}
        }
    }
    stanzas.extend(current);
    stanzas
}

/// `(uri, suite, signed_by)` of each `deb [options] uri suite components…` line.
fn one_line_entries(text: &str) -> Vec<(String, String, Option<String>)> {
    let mut entries = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        let Some(rest) = line.strip_prefix("deb ") else {
            continue;
        };
        let mut rest = rest.trim_start();
        let mut signed_by = None;
        if let Some(options) = rest.strip_prefix('[') {
            let Some((options, after)) = options.split_once(']') else {
                continue;
            };
            signed_by = options
                .split_whitespace()
                .find_map(|o| o.strip_prefix("signed-by="))
                .map(str::to_string);
            rest = after.trim_start();
        }
        let mut words = rest.split_whitespace();
        if let (Some(uri), Some(suite)) = (words.next(), words.next()) {
            entries.push((uri.to_string(), suite.to_string(), signed_by));
        }
    }
    entries
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEB822: &str = "Types: deb\n# comment\nURIs: http://mirror.example/debian\n\
        Suites: bookworm bookworm-updates\nComponents: main\nSigned-By: /usr/share/keyrings/k.gpg\n\n\
        Types: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\nComponents: main\n";

    #[test]
    fn codename_from_os_release() {
        let text = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nVERSION_CODENAME=bookworm\nID=debian\n";
        assert_eq!(os_release_codename(text).as_deref(), Some("bookworm"));
        assert_eq!(os_release_codename("ID=debian\n"), None);
    }

    #[test]
    fn mirror_from_deb822() {
        let files = vec![(PathBuf::from("/x/debian.sources"), DEB822.to_string())];
        let mirror = find_mirror(&files, "bookworm").unwrap();
        assert_eq!(mirror.uri, "http://mirror.example/debian");
        assert_eq!(
            mirror.signed_by.as_deref(),
            Some("/usr/share/keyrings/k.gpg")
        );
        assert!(find_mirror(&files, "trixie").is_none());
        assert!(!mentions_suite(DEB822, "bookworm-backports"));
        assert!(mentions_suite(DEB822, "bookworm-updates"));
    }

    #[test]
    fn disabled_deb822_stanza_is_ignored() {
        let text = "Enabled: no\nTypes: deb\nURIs: http://a.example/debian\nSuites: bookworm\n";
        let files = vec![(PathBuf::from("/x/a.sources"), text.to_string())];
        assert!(find_mirror(&files, "bookworm").is_none());
    }

    #[test]
    fn mirror_from_one_line_format() {
        let text = "# deb http://old.example/debian bookworm main\n\
            deb-src http://src.example/debian bookworm main\n\
            deb [arch=amd64 signed-by=/k.gpg] http://b.example/debian bookworm main contrib\n";
        let files = vec![(PathBuf::from("/etc/apt/sources.list"), text.to_string())];
        let mirror = find_mirror(&files, "bookworm").unwrap();
        assert_eq!(
            mirror,
            Mirror {
                uri: "http://b.example/debian".into(),
                signed_by: Some("/k.gpg".into())
            }
        );
    }

    #[test]
    fn stanza_text() {
        let mirror = Mirror {
            uri: "http://m.example/debian".into(),
            signed_by: None,
        };
        let text = backports_stanza(&mirror, "bookworm-backports");
        assert!(text.contains(
            "URIs: http://m.example/debian\nSuites: bookworm-backports\nComponents: main\n"
        ));
        assert!(!text.contains("Signed-By"));
    }
}
