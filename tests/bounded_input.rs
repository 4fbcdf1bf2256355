//! The files aku reads are bounded: `--config` (or `AKU_CONF`) and
//! `AKU_SYS_PASSWORD_FILE` must be regular files of at most 16 MiB and 64 KiB.
//! A FIFO used to block aku forever and `/dev/zero` to be read until memory ran
//! out; now each is a configuration error (exit 3) naming the path and the problem.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use assert_cmd::Command;

const SAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/aku.conf.sample");
const CONFIG_ERROR: i32 = 3;

fn aku() -> Command {
    let mut cmd = Command::cargo_bin("aku").unwrap();
    cmd.env_clear().env("PATH", std::env::var("PATH").unwrap_or_default()).env("AKU_HOSTNAME", "altibase-sts-1");
    // A FIFO used to block forever: a hang fails the test instead of stalling it.
    cmd.timeout(Duration::from_secs(20));
    cmd
}

/// `aku -i` with `args`: exit code and standard error.
fn info(cmd: &mut Command) -> (i32, String) {
    let out = cmd.arg("-i").output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn mkfifo(path: &Path) {
    assert!(std::process::Command::new("mkfifo").arg(path).status().unwrap().success());
}

#[test]
fn a_fifo_as_configuration_is_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("aku.conf");
    mkfifo(&fifo);
    let expected = format!("Cannot read configuration file {}: not a regular file (it is a named pipe)\n", fifo.display());
    assert_eq!(info(aku().arg("--config").arg(&fifo)), (CONFIG_ERROR, expected.clone()));
    assert_eq!(info(aku().env("AKU_CONF", &fifo)), (CONFIG_ERROR, expected));
}

#[test]
fn devices_and_directories_as_configuration_are_refused() {
    for (path, kind) in [("/dev/zero", "a character device"), ("/dev/urandom", "a character device"), ("/tmp", "a directory")] {
        let expected = format!("Cannot read configuration file {path}: not a regular file (it is {kind})\n");
        assert_eq!(info(aku().args(["--config", path])), (CONFIG_ERROR, expected));
    }
}

#[test]
fn a_configuration_of_16_mib_is_read_and_one_byte_more_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("aku.conf");
    let sample = std::fs::read(SAMPLE).unwrap();
    let limit = 16 << 20;
    let mut file = File::create(&conf).unwrap();
    file.write_all(&sample).unwrap();
    let line = b"# padding comment line of sixty-four bytes.......................\n";
    let mut written = sample.len();
    while written + line.len() <= limit {
        file.write_all(line).unwrap();
        written += line.len();
    }
    file.write_all(&b"#".repeat(limit - written - 1)).unwrap();
    file.write_all(b"\n").unwrap();
    drop(file);
    assert_eq!(std::fs::metadata(&conf).unwrap().len(), limit as u64);
    assert_eq!(info(aku().arg("--config").arg(&conf)), (0, String::new()));

    std::fs::OpenOptions::new().append(true).open(&conf).unwrap().write_all(b"\n").unwrap();
    let expected =
        format!("Cannot read configuration file {}: larger than 16777216 bytes (16 MiB), the limit for this file\n", conf.display());
    assert_eq!(info(aku().arg("--config").arg(&conf)), (CONFIG_ERROR, expected));
    // A sparse file of 100 GiB is refused by its size, without reading it.
    let huge = dir.path().join("huge.conf");
    File::create(&huge).unwrap().set_len(100 << 30).unwrap();
    let (code, err) = info(aku().arg("--config").arg(&huge));
    assert_eq!((code, err.ends_with("larger than 16777216 bytes (16 MiB), the limit for this file\n")), (CONFIG_ERROR, true), "{err}");
}

#[test]
fn the_password_file_must_be_a_regular_file_of_at_most_64_kib() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    mkfifo(&fifo);
    let big = dir.path().join("big");
    std::fs::write(&big, "p".repeat((64 << 10) + 1)).unwrap();
    let just_right = dir.path().join("ok");
    std::fs::write(&just_right, format!("{}\n", "p".repeat((64 << 10) - 1))).unwrap();
    let what = "Cannot read password file (AKU_SYS_PASSWORD_FILE)";
    let cases = [
        (fifo.clone(), format!("{what} {}: not a regular file (it is a named pipe)\n", fifo.display())),
        ("/dev/zero".into(), format!("{what} /dev/zero: not a regular file (it is a character device)\n")),
        (big.clone(), format!("{what} {}: larger than 65536 bytes (64 KiB), the limit for this file\n", big.display())),
    ];
    for (path, expected) in cases {
        assert_eq!(info(aku().args(["--config", SAMPLE]).env("AKU_SYS_PASSWORD_FILE", &path)), (CONFIG_ERROR, expected));
    }
    assert_eq!(info(aku().args(["--config", SAMPLE]).env("AKU_SYS_PASSWORD_FILE", &just_right)), (0, String::new()));
}
