//! A password the Altibase ODBC driver could not receive exactly (its connection
//! strings have no quoting: a value runs to the next `;`, and one that starts with
//! `{`, `"`, `(` or `[` or with a blank is read otherwise) is refused before any
//! connection, as a configuration error (exit 3), instead of logging in with a
//! different password. PostgreSQL takes any password (tests/e2e/test_connection_string.py).

use assert_cmd::Command;

const SAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/aku.conf.sample");

/// aku in a new, empty network namespace (`unshare -n`, needs root): nothing
/// can be reached, so any attempt to connect would show as "unreachable".
fn aku(password: &str, args: &[&str]) -> (i32, String, String) {
    let mut cmd = Command::new("unshare");
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AKU_HOSTNAME", "altibase-sts-1")
        .env("AKU_SYS_PASSWORD", password)
        .env("AKU_MARKER_FILE", "/nonexistent/marker")
        .arg("-n")
        .arg(assert_cmd::cargo::cargo_bin("aku"))
        .args(args)
        .args(["--config", SAMPLE]);
    let out = cmd.output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn an_altibase_password_the_driver_cannot_receive_is_refused_before_connecting() {
    let tail = "(its connection strings have no quoting); change it";
    for (password, problem) in [
        ("p;w", "it contains ';'"),
        ("{pw}", "it starts with '{', '\"', '(' or '['"),
        ("\"pw\"", "it starts with '{', '\"', '(' or '['"),
        (" pw", "it starts or ends with a blank"),
    ] {
        let message = format!("The password cannot be sent to the Altibase ODBC driver exactly: {problem} {tail}");
        let (code, out, err) = aku(password, &["-s"]);
        assert_eq!((code, err.trim_end()), (3, message.as_str()), "{password:?}: {out}");
        let (code, out, _) = aku(password, &["-p", "end"]);
        assert_eq!(code, 3, "{password:?}: {out}");
        assert!(out.contains(&message) && !out.contains("not reachable"), "{password:?}: {out}");
    }
}

#[test]
fn any_other_altibase_password_goes_on_to_connect() {
    for password in ["manager", "p}w{", "p+w%41", "p w", "p=w"] {
        let (code, out, err) = aku(password, &["-p", "end"]);
        assert_eq!(code, 5, "{password:?}: {out}{err}");
        assert!(out.contains("not reachable yet"), "{password:?}: {out}");
    }
}
