//! Bad configuration never touches a database: every malformed or hostile file of
//! the corpus (`tests/config/bad/`) given to `aku -p start` exits with the
//! configuration error code and its message, and `strace` shows that the process
//! never created a socket, let alone connected anywhere.

use std::path::Path;
use std::process::Command;

const CONFIG_ERROR: i32 = 3;

#[test]
fn no_socket_is_opened_for_any_bad_configuration() {
    assert!(Command::new("strace").arg("-V").output().is_ok(), "strace is required (scripts/setup installs it)");
    let aku = assert_cmd::cargo::cargo_bin("aku");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/config/bad");
    let trace_dir = tempfile::tempdir().unwrap();
    let mut checked = 0;
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    for conf in files.iter().filter(|p| p.extension().is_some_and(|e| e == "conf" || e == "toml")) {
        let trace = trace_dir.path().join("trace");
        let out = Command::new("strace")
            .args(["-f", "-qq", "-e", "trace=socket,connect", "-o"])
            .arg(&trace)
            .arg(&aku)
            .args(["-p", "start", "--config"])
            .arg(conf)
            .env_clear()
            .env("AKU_HOSTNAME", "altibase-sts-0")
            .env("AKU_MARKER_FILE", trace_dir.path().join("marker"))
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(CONFIG_ERROR), "{}: {stdout}", conf.display());
        let expected = std::fs::read_to_string(conf.with_extension("expected")).unwrap();
        let first_line = expected.lines().next().unwrap();
        // Messages name the file by its path; the corpus' expectations use "aku.conf".
        let message_tail = first_line.split_once(": ").map_or(first_line, |(_, rest)| rest);
        assert!(stdout.contains(message_tail), "{}: expected {message_tail:?} in\n{stdout}", conf.display());
        assert!(stdout.ends_with("AKU failed to run.\n"), "{}", conf.display());
        let calls = std::fs::read_to_string(&trace).unwrap();
        assert!(!calls.contains("socket(") && !calls.contains("connect("), "{}: {calls}", conf.display());
        checked += 1;
    }
    assert!(checked >= 40, "only {checked} bad files");
    assert!(!trace_dir.path().join("marker").exists());
}
