//! Finding QEMU and booting the testbed on it.

use std::collections::VecDeque;
use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use crate::install::{INSTALL_HINT, MIN_QEMU};
use crate::util::{Error, Result, describe, step};

/// The QEMU binary.
pub const QEMU: &str = "qemu-system-aarch64";

/// Where the images go in the guest physical address space.
pub const RMM_LOAD_ADDR: u64 = 0x4010_0000;
/// Load address of the NS-EL2 host driver.
pub const HOST_LOAD_ADDR: u64 = 0x6000_0000;
/// Where the flat bench-guest image is put in NS DRAM; the host driver's `realm` scenarios read it
/// from there (testbed/host/src/scenarios/realm.rs `GUEST_NS`).
pub const GUEST_NS_ADDR: u64 = 0x7000_0000;
/// bench-guest's link address and entry point (a protected IPA of its Realm).
pub const GUEST_LINK_ADDR: u64 = 0x8000_0000;
/// Where `--only` puts the scenario selection string (testbed/host/src/select.rs).
pub const SELECT_ADDR: u64 = 0x5FFF_F000;
/// The selection file written into the run's working directory for `--only`.
const SELECT_FILE: &str = "scenarios.sel";

/// QEMU arguments of the deterministic bench mode: the virtual counter advances one tick per
/// executed instruction (`shift=0`), not paced to real time and without idle sleeps.
pub const ICOUNT_ARGS: [&str; 2] = ["-icount", "shift=0,align=off,sleep=off"];

/// `(major, minor)` of the installed `qemu-system-aarch64`, if any.
pub fn installed_version() -> Option<(u32, u32)> {
    let out = Command::new(QEMU).arg("--version").output().ok()?;
    parse_version(&String::from_utf8_lossy(&out.stdout))
}

/// Parses `QEMU emulator version X.Y.Z …`.
pub fn parse_version(text: &str) -> Option<(u32, u32)> {
    let rest = text.split("version").nth(1)?.trim_start();
    let number = rest.split_whitespace().next()?;
    let mut parts = number.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

/// Fails with the install command unless a QEMU with FEAT_RME is installed.
pub fn require() -> Result<()> {
    match installed_version() {
        Some(v) if v >= MIN_QEMU => Ok(()),
        Some(v) => Err(Error::new(format!(
            "{QEMU} is version {}.{}, but FEAT_RME (`-cpu max,x-rme=on`) needs >= {}.{}; run `{INSTALL_HINT}`",
            v.0, v.1, MIN_QEMU.0, MIN_QEMU.1
        ))),
        None => Err(Error::new(format!(
            "{QEMU} was not found; FEAT_RME needs QEMU >= {}.{}; run `{INSTALL_HINT}`",
            MIN_QEMU.0, MIN_QEMU.1
        ))),
    }
}

/// The three images of one run.
#[derive(Debug, Clone)]
pub struct Images {
    /// EL3 monitor, loaded with `-bios` at 0.
    pub monitor: PathBuf,
    /// RMM (Warden) image for 0x4010_0000.
    pub rmm: PathBuf,
    /// NS-EL2 host driver for 0x6000_0000.
    pub host: PathBuf,
    /// bench-guest (flat), loaded into NS DRAM at [`GUEST_NS_ADDR`] when present.
    pub guest: Option<PathBuf>,
}

/// Run options.
#[derive(Debug, Clone)]
pub struct Options {
    /// Kill QEMU after this long.
    pub timeout_secs: u64,
    /// Appended to the command line.
    pub extra_args: Vec<String>,
    /// Run only these host driver scenarios (comma-separated names); all when `None`.
    pub only: Option<String>,
}

/// The QEMU command line of the testbed (see docs: architecture §4).
pub fn command(images: &Images, opts: &Options, workdir: &Path) -> Command {
    let mut cmd = Command::new(QEMU);
    cmd.current_dir(workdir)
        .args([
            "-M",
            "virt,virtualization=on,secure=on,gic-version=3",
            "-M",
            "acpi=off",
        ])
        .args([
            "-cpu",
            "max,x-rme=on,sme=off,pauth-impdef=on",
            "-m",
            "3G",
            "-smp",
            "4",
        ])
        .args(["-nographic", "-nic", "none"])
        .args(["-semihosting-config", "enable=on,target=native"])
        .arg("-bios")
        .arg(&images.monitor)
        .arg("-device")
        .arg(format!(
            "loader,file={},addr={RMM_LOAD_ADDR:#x},force-raw=on",
            images.rmm.display()
        ))
        .arg("-device")
        .arg(format!(
            "loader,file={},addr={HOST_LOAD_ADDR:#x},force-raw=on",
            images.host.display()
        ));
    if let Some(guest) = &images.guest {
        cmd.arg("-device").arg(format!(
            "loader,file={},addr={GUEST_NS_ADDR:#x},force-raw=on",
            guest.display()
        ));
    }
    if let Some(only) = &opts.only {
        // Best effort: if the file cannot be written, QEMU fails to start and says why.
        let _ = fs::write(
            workdir.join(SELECT_FILE),
            format!("SCENARIOS={only}\0\0\0\0\0\0\0\0"),
        );
        cmd.arg("-device").arg(format!(
            "loader,file={SELECT_FILE},addr={SELECT_ADDR:#x},force-raw=on"
        ));
    }
    cmd.args(&opts.extra_args);
    cmd
}

/// How long a captured run goes on after a `FATAL` console line before QEMU is stopped. A fatal
/// error in the monitor or the host driver ends QEMU by itself; one in Warden parks that CPU, and
/// the others soon wait for it forever.
pub const FATAL_GRACE: Duration = Duration::from_secs(3);

/// How a QEMU run ended.
#[derive(Debug)]
pub struct Outcome {
    /// QEMU's exit status, or `None` when it was stopped (timeout, or a fatal console line).
    pub status: Option<ExitStatus>,
    /// How long it ran.
    pub elapsed: Duration,
    /// Console lines (all of them when captured; empty for an interactive run).
    pub console: Vec<String>,
    /// The first console line that reported a fatal error, if QEMU was stopped because of it.
    pub fatal: Option<String>,
}

impl Outcome {
    /// The exit code, if QEMU exited by itself.
    pub fn code(&self) -> Option<i32> {
        self.status.and_then(|s| s.code())
    }
}

/// Boots QEMU with the console on this terminal (stdin too, so Ctrl-A X works).
pub fn run_interactive(images: &Images, opts: &Options, workdir: &Path) -> Result<Outcome> {
    let mut cmd = command(images, opts, workdir);
    step(&format!(
        "booting QEMU (timeout {} s): {}",
        opts.timeout_secs,
        describe(&cmd)
    ));
    let start = Instant::now();
    let mut child = cmd
        .spawn()
        .map_err(|e| Error::new(format!("cannot start {QEMU}: {e}")))?;
    let status = wait_with_timeout(&mut child, Duration::from_secs(opts.timeout_secs))?;
    Ok(Outcome {
        status,
        elapsed: start.elapsed(),
        console: Vec::new(),
        fatal: None,
    })
}

/// Whether a console line reports a fatal error (`warden: FATAL …`, `host: FATAL …`, …).
pub fn is_fatal(line: &str) -> bool {
    line.split_once(": ")
        .is_some_and(|(_, rest)| rest.starts_with("FATAL"))
}

/// Boots QEMU with the console captured into `workdir/console.log` (not shown live).
pub fn run_captured(images: &Images, opts: &Options, workdir: &Path) -> Result<Outcome> {
    let mut cmd = command(images, opts, workdir);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    step(&format!(
        "booting QEMU (timeout {} s): {}",
        opts.timeout_secs,
        describe(&cmd)
    ));
    let start = Instant::now();
    let mut child = cmd
        .spawn()
        .map_err(|e| Error::new(format!("cannot start {QEMU}: {e}")))?;

    let (tx, rx) = mpsc::channel::<String>();
    let readers: Vec<_> = [
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    ]
    .into_iter()
    .flatten()
    .map(|stream| {
        let tx = tx.clone();
        thread::spawn(move || {
            for line in BufReader::new(stream).split(b'\n').map_while(|l| l.ok()) {
                let text = String::from_utf8_lossy(&line)
                    .trim_end_matches('\r')
                    .to_string();
                if tx.send(text).is_err() {
                    break;
                }
            }
        })
    })
    .collect();
    drop(tx);

    // Collect lines while waiting, so that a fatal line can stop the run early.
    let deadline = start + Duration::from_secs(opts.timeout_secs);
    let mut console: Vec<String> = Vec::new();
    let mut fatal: Option<(String, Instant)> = None;
    let status = loop {
        for line in rx.try_iter() {
            if fatal.is_none() && is_fatal(&line) {
                fatal = Some((line.clone(), Instant::now()));
            }
            console.push(line);
        }
        if let Some(status) = child.try_wait()? {
            break Some(status);
        }
        let now = Instant::now();
        let fatal_expired = fatal
            .as_ref()
            .is_some_and(|(_, at)| now >= *at + FATAL_GRACE);
        if now >= deadline || fatal_expired {
            stop(&mut child)?;
            break None;
        }
        thread::sleep(Duration::from_millis(50));
    };
    for reader in readers {
        let _ = reader.join();
    }
    console.extend(rx.try_iter());
    fs::write(workdir.join("console.log"), console.join("\n") + "\n")?;
    Ok(Outcome {
        // A fatal line only explains the stop if QEMU did not exit by itself.
        fatal: fatal.filter(|_| status.is_none()).map(|(line, _)| line),
        status,
        elapsed: start.elapsed(),
        console,
    })
}

/// Waits for the child; on timeout asks it to quit (SIGTERM restores the terminal), then kills it.
fn wait_with_timeout(child: &mut Child, timeout: Duration) -> Result<Option<ExitStatus>> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        if Instant::now() >= deadline {
            stop(child)?;
            return Ok(None);
        }
        thread::sleep(Duration::from_millis(50));
    }
}

/// Asks QEMU to quit (SIGTERM restores the terminal), then kills it after 3 s.
fn stop(child: &mut Child) -> Result<()> {
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let grace = Instant::now() + Duration::from_secs(3);
    while Instant::now() < grace {
        if child.try_wait()?.is_some() {
            return Ok(());
        }
        thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    Ok(())
}

/// The last `n` lines of a console log.
pub fn tail(lines: &[String], n: usize) -> Vec<&str> {
    let mut tail: VecDeque<&str> = VecDeque::with_capacity(n);
    for line in lines {
        if tail.len() == n {
            tail.pop_front();
        }
        tail.push_back(line);
    }
    tail.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_parsing() {
        assert_eq!(
            parse_version("QEMU emulator version 10.0.2 (Debian 1:10.0.2+ds-1~bpo12+1)\n"),
            Some((10, 0))
        );
        assert_eq!(
            parse_version("QEMU emulator version 7.2.15 (Debian 1:7.2+dfsg-7+deb12u12)"),
            Some((7, 2))
        );
        assert_eq!(parse_version("garbage"), None);
        assert!((8, 1) >= MIN_QEMU && (7, 2) < MIN_QEMU && (10, 0) >= MIN_QEMU);
    }

    #[test]
    fn fatal_lines() {
        assert!(is_fatal(
            "warden: FATAL on CPU 1: panic: panicked at src/rmi/rtt.rs:128:60:"
        ));
        assert!(is_fatal(
            "host: FATAL unexpected synchronous exception: ESR_EL2 0x96000010"
        ));
        assert!(!is_fatal(
            "FAIL bad-input: REALM_CREATE = Ok(()), want Err(FATAL)"
        ));
        assert!(!is_fatal("el3: PSCI SYSTEM_OFF from cpu 0: exit status 0"));
    }

    #[test]
    fn tail_keeps_last_lines() {
        let lines: Vec<String> = (0..10).map(|i| i.to_string()).collect();
        assert_eq!(tail(&lines, 3), vec!["7", "8", "9"]);
        assert_eq!(tail(&lines[..2], 3), vec!["0", "1"]);
    }
}
