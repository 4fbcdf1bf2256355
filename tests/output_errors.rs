//! Standard output that cannot be written never makes aku panic (exit code 101):
//! a closed pipe (`aku -i | head -1`) ends the output quietly and keeps the exit
//! code; any other write error (`aku -i > /dev/full`) is reported once on standard
//! error, and the command exits with INTERNAL (1) — except `-p`, whose procedure's
//! own exit code wins.

use std::fs::OpenOptions;
use std::process::{Command, Stdio};

const SAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/aku.conf.sample");
const INTERNAL: i32 = 1;
const LOCAL_UNREACHABLE: i32 = 5;
const FULL_DISK: &str = "aku: cannot write to standard output: No space left on device (os error 28)\n";

/// The write end of a pipe whose reader has already exited: every write is EPIPE.
fn closed_pipe() -> Stdio {
    let mut reader = Command::new("true").stdin(Stdio::piped()).spawn().unwrap();
    let write_end = reader.stdin.take().unwrap();
    reader.wait().unwrap();
    Stdio::from(write_end)
}

fn dev_full() -> Stdio {
    Stdio::from(OpenOptions::new().write(true).open("/dev/full").unwrap())
}

/// aku in a new, empty network namespace (`unshare -n`, needs root): no name
/// resolves, so `-s` and `-p end` run quickly against absent servers.
fn aku(args: &[&str]) -> Command {
    let mut cmd = Command::new("unshare");
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AKU_HOSTNAME", "altibase-sts-1")
        .env("AKU_MARKER_FILE", "/nonexistent/aku-marker")
        .arg("-n")
        .arg(assert_cmd::cargo::cargo_bin("aku"))
        .args(args);
    cmd
}

fn run_with_stdout(args: &[&str], stdout: Stdio) -> (i32, String) {
    let out = aku(args).stdout(stdout).stderr(Stdio::piped()).output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// Every mode that prints, with the exit code it has when its output is written.
fn modes() -> Vec<(Vec<&'static str>, i32)> {
    vec![
        (vec!["-v"], 0),
        (vec!["-h"], 0),
        (vec!["-i", "--config", SAMPLE], 0),
        (vec!["-i", "--output", "json", "--config", SAMPLE], 0),
        (vec!["-s", "--config", SAMPLE], 0),
        (vec!["-s", "--output", "json", "--config", SAMPLE], 0),
        (vec!["-p", "end", "--config", SAMPLE], LOCAL_UNREACHABLE),
        (vec!["-p", "end", "--log-format", "json", "--config", SAMPLE], LOCAL_UNREACHABLE),
    ]
}

#[test]
fn the_exit_codes_when_output_is_written() {
    for (args, code) in modes() {
        let (actual, stderr) = run_with_stdout(&args, Stdio::null());
        assert_eq!(actual, code, "{args:?}: {stderr}");
    }
}

#[test]
fn a_closed_pipe_ends_quietly_with_the_same_exit_code() {
    for (args, code) in modes() {
        let (actual, stderr) = run_with_stdout(&args, closed_pipe());
        assert_eq!((actual, stderr.as_str()), (code, ""), "{args:?}");
    }
}

#[test]
fn a_full_disk_is_reported_once_and_fails_a_report() {
    for (args, code) in modes() {
        let (actual, stderr) = run_with_stdout(&args, dev_full());
        let expected = if args[0] == "-p" { code } else { INTERNAL };
        assert_eq!((actual, stderr.as_str()), (expected, FULL_DISK), "{args:?}");
    }
}

#[test]
fn a_configuration_error_is_still_reported_when_stderr_is_full() {
    let out = aku(&["-i", "--config", "/nonexistent/aku.conf"]).stdout(Stdio::null()).stderr(dev_full()).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
}
