//! The configuration corpus: every file in `tests/config/bad` (`.conf` and
//! `.toml`) is refused with exactly the message in `<name>.expected`; every file
//! in `tests/config/good` validates. Large inputs are generated here, not
//! committed. Set `AKU_BLESS=1` to rewrite the `.expected` files (then review
//! the diff).

#[path = "config_corpus/support.rs"]
mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use aku::config::{BackendKind, Config, EnvOverrides, PasswordSource, Secret, Syntax};

fn corpus(dir: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/config").join(dir);
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "conf" || e == "toml"))
        .collect();
    files.sort();
    files
}

/// Parses a file as `aku -i` would: bytes, syntax from the extension, no environment.
fn load(path: &Path) -> Result<Config, String> {
    let bytes = fs::read(path).unwrap();
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    Config::parse_bytes(&bytes, Syntax::for_path(path), &EnvOverrides::default()).map_err(|e| e.with_file(name).to_string())
}

#[test]
fn every_bad_file_gives_its_exact_message() {
    let files = corpus("bad");
    assert!(files.len() >= 45, "only {} bad files", files.len());
    let bless = std::env::var_os("AKU_BLESS").is_some();
    let mut failures = Vec::new();
    let mut stems = std::collections::HashSet::new();
    for path in &files {
        assert!(stems.insert(path.file_stem().unwrap().to_owned()), "two bad files named {}", path.display());
        let expected_path = path.with_extension("expected");
        let Err(message) = load(path) else {
            failures.push(format!("{}: accepted", path.display()));
            continue;
        };
        assert!(!message.contains("s3cr3t"), "{}: the password leaked: {message}", path.display());
        if bless {
            fs::write(&expected_path, format!("{message}\n")).unwrap();
            continue;
        }
        let expected = fs::read_to_string(&expected_path).unwrap_or_default();
        if expected.strip_suffix('\n').unwrap_or(&expected) != message {
            failures.push(format!("{}:\n  expected: {expected:?}\n  actual:   {message:?}", path.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_good_file_validates() {
    for path in corpus("good") {
        if let Err(e) = load(&path) {
            panic!("{}: {e}", path.display());
        }
    }
}

#[test]
fn the_7_1_sample_with_the_password_typo() {
    let c = load(&corpus("good")[0]).unwrap();
    assert_eq!((c.sts_name.as_str(), c.svc_name.as_str(), c.server_count), ("altibase-sts", "altibase-svc", 4));
    assert_eq!(c.password, PasswordSource::Property(Secret::new("manager")));
    assert_eq!(c.groups.len(), 1);
    assert_eq!(c.groups[0].prefix, "AKU_REP");
    let tables: Vec<_> = c.groups[0].items.iter().map(|i| format!("{}.{}", i.user, i.table)).collect();
    assert_eq!(tables, ["SYS.T1", "SYS.T2"]);
}

#[test]
fn the_7_3_sample_and_its_toml_twin_are_the_same_config() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/config/good");
    let conf = load(&dir.join("sample73.conf")).unwrap();
    let toml = load(&dir.join("sample73.toml")).unwrap();
    assert_eq!(conf, toml);
    assert_eq!(conf.password, PasswordSource::Property(Secret::new("pass#word")));
    assert_eq!((conf.server_count, conf.query_timeout_s, conf.replication_reset_at_end), (6, 600, false));
    let items: Vec<Vec<String>> =
        conf.groups.iter().map(|g| g.items.iter().map(|i| format!("{}.{} {:?}", i.user, i.table, i.partition)).collect()).collect();
    assert_eq!(
        items,
        [
            vec!["SYS.T1 None", "SYS.T2 Some(\"P1\")", "SYS.T2 Some(\"P2\")", "SYS.T3 None"],
            vec!["APP.ORDERS Some(\"P2024\")", "APP.CUSTOMERS None"],
        ]
    );
    assert_eq!((conf.groups[0].sync_parallel_count, conf.groups[1].sync_parallel_count), (1, 4));
}

#[test]
fn the_shipped_sample() {
    let c = load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("aku.conf.sample")).unwrap();
    assert_eq!((c.sts_name.as_str(), c.svc_name.as_str(), c.server_count), ("altibase-sts", "altibase-svc", 4));
    assert_eq!(c.password, PasswordSource::Property(Secret::new("manager")));
    assert_eq!((c.backend, c.sys_user.as_str()), (BackendKind::Altibase, "SYS"));
    assert_eq!(c.groups.len(), 1);
    assert_eq!(c.groups[0].prefix, "AKU_REP");
    let tables: Vec<_> = c.groups[0].items.iter().map(|i| i.table.as_str()).collect();
    assert_eq!(tables, ["T1", "T2"]);
}

/// The bound is on the release build (`cargo test --release`); an unoptimised
/// build is about ten times slower, and its bound still catches anything
/// worse than linear.
fn limit() -> Duration {
    if cfg!(debug_assertions) { Duration::from_secs(10) } else { Duration::from_secs(1) }
}

/// The ten-megabyte tests run one at a time, so that they time themselves, not each other.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn timed(text: &str) -> (Result<Config, String>, Duration) {
    let start = Instant::now();
    let result = Config::parse(text, Syntax::AkuConf, &EnvOverrides::default()).map_err(|e| e.to_string());
    (result, start.elapsed())
}

#[test]
fn a_ten_megabyte_file_parses_in_bounded_time() {
    let _serial = ONE_AT_A_TIME.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let text = support::ten_megabytes_of_items();
    assert!(text.len() >= 10 << 20);
    let (result, took) = timed(&text);
    let config = result.unwrap();
    eprintln!("{} bytes, {} items: {took:?}", text.len(), config.groups[0].items.len());
    assert!(config.groups[0].items.len() > 250_000);
    assert!(took < limit(), "took {took:?}");
}

#[test]
fn ten_megabyte_hostile_files_fail_in_bounded_time_with_short_messages() {
    let _serial = ONE_AT_A_TIME.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    for (text, expected) in support::ten_megabyte_hostile_files() {
        assert!(text.len() >= 10 << 20);
        let (result, took) = timed(&text);
        let message = result.unwrap_err();
        eprintln!("{took:?}: {}", message.lines().next().unwrap_or_default().chars().take(100).collect::<String>());
        assert_eq!(message, expected);
        assert!(took < limit(), "took {took:?}: {message}");
    }
}

mod fuzz {
    use std::time::Instant;

    use aku::config::{Config, EnvOverrides, Syntax};
    use proptest::prelude::*;

    use super::support::{limit_per_input, near_valid_text};

    fn run(bytes: &[u8]) {
        let env = EnvOverrides::default();
        for syntax in [Syntax::AkuConf, Syntax::Toml] {
            let start = Instant::now();
            let _ = Config::parse_bytes(bytes, syntax, &env);
            assert!(start.elapsed() < limit_per_input(), "{syntax:?} took {:?}", start.elapsed());
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        #[test]
        fn random_bytes_never_panic_or_hang(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
            run(&bytes);
        }

        #[test]
        fn grammar_shaped_text_never_panics_or_hangs(text in near_valid_text()) {
            run(text.as_bytes());
        }
    }
}
