//! The built binary's command line: modes, `-i` (text and JSON snapshots),
//! configuration and identity errors with their exit codes, and the log line
//! format on a real emitted line.

use assert_cmd::Command;

const SAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/aku.conf.sample");

/// The binary with a clean environment: only what each test sets.
fn aku() -> Command {
    let mut cmd = Command::cargo_bin("aku").unwrap();
    cmd.env_clear().env("PATH", std::env::var("PATH").unwrap_or_default());
    cmd
}

fn run(cmd: &mut Command) -> (i32, String, String) {
    let out = cmd.output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

const SIX_TWO_GROUPS: &str = "\
AKU_STS_NAME = \"altibase-sts\"   # 7.3 syntax, comments after values
AKU_SVC_NAME = altibase-svc
AKU_SERVER_COUNT = 6
AKU_SYS_PASSWORD = \"s3cret\"
REPLICATIONS = (
    REPLICATION_NAME_PREFIX = AKU_REP1
    SYNC_PARALLEL_COUNT     = 2
    ( SYS.T1, SYS.T2 PARTITION P1,
      SYS.T3 )
),
(
    REPLICATION_NAME_PREFIX = AKU_REP2
    ( SYS.T4 )
)
";

#[test]
fn version_is_lowercase_v() {
    let (code, out, _) = run(aku().arg("-v"));
    assert_eq!((code, out.as_str()), (0, concat!("aku ", env!("CARGO_PKG_VERSION"), "\n")));
    let (code, out, _) = run(aku().arg("--version"));
    assert_eq!((code, out.trim()), (0, concat!("aku ", env!("CARGO_PKG_VERSION"))));
    assert_eq!(run(aku().arg("-V")).0, 2);
}

const HELP_SCREEN: &str = include_str!("manual/help_screen_bug_50005.txt");

#[test]
fn no_option_or_a_wrong_one_prints_the_original_help_screen_alone_and_exits_2() {
    // BUG-50005 (7.1.0.9.7): the help screen only, no `Error while getting option.`.
    for args in [&[][..], &["-x"], &["-p", "bogus"], &["-i", "-p", "start"], &["-v", "-i"], &["-p"], &["-V"]] {
        let (code, out, err) = run(aku().args(args));
        assert_eq!(code, 2, "{args:?}: {out}{err}");
        assert!(out.starts_with(HELP_SCREEN), "{args:?}: {out}");
        assert!(out.contains("-p recover --from N --yes") && out.contains("--dry-run"), "the extensions follow: {out}");
        assert_eq!(err, "", "{args:?}: no error line");
        assert!(!out.contains("error:"), "{args:?}: {out}");
    }
    let (code, out, err) = run(aku().arg("-h"));
    assert_eq!((code, err.as_str()), (0, ""));
    assert!(out.starts_with(HELP_SCREEN), "{out}");
    assert_eq!(run(aku().arg("--help")).1, out);
}

#[test]
fn an_extension_flag_without_its_mode_says_what_it_needs() {
    for args in [&["--dry-run", "-i"][..], &["-p", "recover", "--from", "1"], &["-i", "--lag-threshold", "5"]] {
        let (code, _, err) = run(aku().args(args));
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.starts_with("error: ") && err.contains("can only be used with"), "{args:?}: {err}");
    }
}

#[test]
fn info_of_the_sample_on_server_2() {
    let (code, out, err) = run(aku().args(["-i", "--config", SAMPLE]).env("AKU_HOSTNAME", "altibase-sts-2"));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("  Server ID        : 2\n"));
    assert!(out.contains("  Host             : altibase-sts-2.altibase-svc\n"));
    assert!(out.contains("  Password         : ********\n") && !out.contains("manager"));
    insta::assert_snapshot!("info_sample_server_2", out);
}

#[test]
fn info_of_six_servers_and_two_groups() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("aku.conf");
    std::fs::write(&conf, SIX_TWO_GROUPS).unwrap();
    let (code, out, err) = run(aku().arg("-i").env("AKU_CONF", &conf).env("AKU_HOSTNAME", "altibase-sts-5"));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("  Replication Name : AKU_REP2_45\n"));
    assert!(out.contains("  Partition Name   : P1\n"));
    insta::assert_snapshot!("info_six_servers_two_groups", out);

    let (code, json, _) =
        run(aku().args(["-i", "--output", "json", "--show-password"]).env("AKU_CONF", &conf).env("AKU_HOSTNAME", "altibase-sts-5"));
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["server"]["id"], 5);
    assert_eq!(v["server"]["password"], "s3cret");
    assert_eq!(v["groups"][0]["items"][1]["partition"], "P1");
    assert_eq!(v["groups"][1]["replications"][5]["names"].as_array().unwrap().len(), 5);
    insta::assert_snapshot!("info_six_servers_two_groups_json", json);
}

#[test]
fn config_comes_from_altibase_home_by_default() {
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir(home.path().join("conf")).unwrap();
    std::fs::copy(SAMPLE, home.path().join("conf/aku.conf")).unwrap();
    let (code, out, _) = run(aku().arg("-i").env("ALTIBASE_HOME", home.path()).env("AKU_HOSTNAME", "altibase-sts-0"));
    assert_eq!(code, 0);
    assert!(out.contains("  Server ID        : 0\n"));
    let (code, _, err) = run(aku().arg("-i").env("AKU_HOSTNAME", "altibase-sts-0"));
    assert_eq!(code, 3);
    assert!(err.contains("No configuration file: pass --config PATH, set AKU_CONF, or set ALTIBASE_HOME"), "{err}");
}

#[test]
fn password_from_a_secret_file_is_masked() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("aku.conf");
    let text = std::fs::read_to_string(SAMPLE).unwrap().replace("AKU_SYS_PASSWORD = \"manager\"", "");
    std::fs::write(&conf, text).unwrap();
    let secret = dir.path().join("password");
    std::fs::write(&secret, "from-file\n").unwrap();
    let (code, _, err) = run(aku().args(["-i", "--config"]).arg(&conf).env("AKU_HOSTNAME", "altibase-sts-0"));
    assert_eq!(code, 3);
    assert_eq!(err.trim(), "Property [AKU_SYS_PASSWORD] should be specified by configuration.");
    let (code, out, _) = run(aku()
        .args(["-i", "--show-password", "--config"])
        .arg(&conf)
        .env("AKU_HOSTNAME", "altibase-sts-0")
        .env("AKU_SYS_PASSWORD_FILE", &secret));
    assert_eq!(code, 0);
    assert!(out.contains("  Password         : from-file\n"));
}

#[test]
fn identity_errors_exit_4() {
    for (host, message) in [
        ("web-0", "The hostname [web-0] is not of the form <AKU_STS_NAME>-<ordinal>"),
        ("altibase-sts-4", "The ordinal 4 of hostname [altibase-sts-4] is not below AKU_SERVER_COUNT = 4"),
    ] {
        let (code, _, err) = run(aku().args(["-i", "--config", SAMPLE]).env("AKU_HOSTNAME", host));
        assert_eq!(code, 4, "{host}");
        assert!(err.contains(message), "{err}");
    }
}

#[test]
fn configuration_errors_exit_3_and_name_what_and_where() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("aku.conf");
    std::fs::write(&conf, "AKU_STS_NAME = s\nAKU_SVC_NAME = v\nAKU_SERVER_CONT = 3\n").unwrap();
    let (code, _, err) = run(aku().args(["-i", "--config"]).arg(&conf).env("AKU_HOSTNAME", "s-0"));
    assert_eq!(code, 3);
    assert!(err.contains("aku.conf:3:1: unknown property AKU_SERVER_CONT (did you mean AKU_SERVER_COUNT?)"), "{err}");
    // The same error from -p is framed by the original's first and last lines.
    let (code, out, _) = run(aku().args(["-p", "start", "--config"]).arg(&conf).env("AKU_HOSTNAME", "s-0"));
    assert_eq!(code, 3);
    assert!(out.starts_with("AKU started with START option.\n"), "{out}");
    assert!(out.contains("unknown property AKU_SERVER_CONT"), "{out}");
    assert!(out.ends_with("AKU failed to run.\n"), "{out}");
}

fn unreachable_conf(dir: &std::path::Path) -> std::path::PathBuf {
    let conf = dir.join("aku.conf");
    let text = std::fs::read_to_string(SAMPLE).unwrap().replace("AKU_ADDRESS_CHECK_COUNT = 30", "AKU_ADDRESS_CHECK_COUNT = 2");
    std::fs::write(&conf, text).unwrap();
    conf
}

/// The binary in a new, empty network namespace (`unshare -n`, needs root): no
/// name resolves and nothing leaves the machine.
fn aku_offline() -> Command {
    let mut cmd = Command::new("unshare");
    cmd.env_clear().env("PATH", std::env::var("PATH").unwrap_or_default());
    cmd.arg("-n").arg(assert_cmd::cargo::cargo_bin("aku"));
    cmd
}

#[test]
fn log_lines_have_the_original_format() {
    let dir = tempfile::tempdir().unwrap();
    let conf = unreachable_conf(dir.path());
    let (code, out, _) = run(aku_offline().args(["-p", "end", "--config"]).arg(&conf).env("AKU_HOSTNAME", "altibase-sts-1"));
    assert_eq!(code, 5, "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.first(), Some(&"AKU started with END option."));
    assert_eq!(lines.last(), Some(&"AKU failed to run."));
    let re = regex::Regex::new(
        r"^\[AKU\]\[\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}\.\d{6}\]\[\d+\] \[INFO\]\[akuObserve:\d+\]\[altibase-sts-1\]\[-\] Local server altibase-sts-1\.altibase-svc not reachable yet \(attempt 1/2\): ",
    )
    .unwrap();
    assert!(lines.iter().any(|l| re.is_match(l)), "{out}");
    let last_log = lines[lines.len() - 2];
    assert!(
        last_log.contains("[ERROR][akuMain:")
            && last_log.contains("The local server altibase-sts-1.altibase-svc did not answer after 2 attempts (AKU_ADDRESS_CHECK_COUNT)"),
        "{last_log}"
    );

    let (code, out, _) =
        run(aku_offline().args(["-p", "end", "--log-format", "json", "--config"]).arg(&conf).env("AKU_HOSTNAME", "altibase-sts-1"));
    assert_eq!(code, 5);
    let json_line = out.lines().find(|l| l.starts_with('{')).unwrap();
    let v: serde_json::Value = serde_json::from_str(json_line).unwrap();
    assert_eq!(v["app"], "AKU");
    assert_eq!(v["level"], "INFO");
    assert_eq!(v["func"], "akuObserve");
    assert_eq!(v["pod"], "altibase-sts-1");
    assert!(v["msg"].as_str().unwrap().starts_with("Local server altibase-sts-1.altibase-svc not reachable yet"));
    assert!(v["tid"].as_u64().is_some() && v["line"].as_u64().is_some());
}

#[test]
fn a_peer_or_source_that_is_not_a_server_id_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let conf = unreachable_conf(dir.path());
    for (args, expected) in [
        (&["-p", "reset", "--peer", "9"][..], "--peer 9 is not a server ID of this StatefulSet: expected 0..3 (AKU_SERVER_COUNT = 4)"),
        (
            &["-p", "recover", "--from", "4", "--yes"][..],
            "--from 4 is not a server ID of this StatefulSet: expected 1..3 (AKU_SERVER_COUNT = 4)",
        ),
        (
            &["-p", "recover", "--from", "0", "--dry-run"][..],
            "--from 0 is not a server ID of this StatefulSet: expected 1..3 (AKU_SERVER_COUNT = 4)",
        ),
    ] {
        let (code, out, _) = run(aku_offline().args(args).arg("--config").arg(&conf).env("AKU_HOSTNAME", "altibase-sts-0"));
        assert_eq!(code, 2, "{args:?}: {out}");
        assert!(out.contains(expected), "{args:?}: {out}");
        assert!(!out.contains("not reachable yet"), "nothing is contacted: {out}");
    }
}

/// The Utilities manual (7.3, aku, example 1): `aku -i` on pod 0 of `AKUHOST`,
/// byte for byte (with `--show-password`: the original prints the password).
#[test]
fn info_is_the_manuals_example_1_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("aku.conf");
    std::fs::write(
        &conf,
        "AKU_STS_NAME = AKUHOST\nAKU_SVC_NAME = altibase-svc\nAKU_SERVER_COUNT = 4\nAKU_SYS_PASSWORD = manager\n\
         REPLICATIONS = (\n    REPLICATION_NAME_PREFIX = AKU_REP\n    ( SYS.T1, SYS.T2, SYS.T3 )\n)\n",
    )
    .unwrap();
    let manual = include_str!("manual/m73_ex1_aku_i.txt");
    let expected = manual.strip_prefix("$ aku -i\n").unwrap();
    let (code, out, err) = run(aku().args(["-i", "--show-password", "--config"]).arg(&conf).env("AKU_HOSTNAME", "AKUHOST-0"));
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(out, expected);
    let (_, masked, _) = run(aku().args(["-i", "--config"]).arg(&conf).env("AKU_HOSTNAME", "akuhost-0"));
    assert_eq!(masked, expected.replace("Password         : manager", "Password         : ********"));
}
