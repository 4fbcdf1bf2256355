//! Generated inputs for the corpus test: ten-megabyte files (too big to commit)
//! and the proptest strategies for grammar-shaped text.

use std::fmt::Write;
use std::time::Duration;

use proptest::prelude::*;

const TEN_MB: usize = 10 << 20;
const REQUIRED: &str = "AKU_STS_NAME = altibase-sts\nAKU_SVC_NAME = altibase-svc\nAKU_SYS_PASSWORD = manager\n";

/// A valid configuration of at least 10 MB: one group with ~500 000 items.
pub fn ten_megabytes_of_items() -> String {
    let mut text = format!("{REQUIRED}REPLICATIONS = (\n    REPLICATION_NAME_PREFIX = BIG\n    (\n");
    let mut i = 0u32;
    while text.len() < TEN_MB {
        writeln!(text, "        APP.TABLE_{i:07}, APP.T{i} PARTITION P{i},  # two per line").unwrap();
        i += 1;
    }
    text.push_str("        APP.LAST\n    )\n)\n");
    text
}

/// Hostile files of at least 10 MB with the exact message each must give.
pub fn ten_megabyte_hostile_files() -> Vec<(String, String)> {
    let a = "a".repeat(TEN_MB);
    let comment_lines = TEN_MB / 40 + 1;
    let comments = "# a comment line of exactly forty bytes\n".repeat(comment_lines);
    let error_line = comment_lines + 1;
    vec![
        (
            format!("AKU_STS_NAME = {a}\n"),
            format!("aku.conf:1:16: AKU_STS_NAME = {}… is {TEN_MB} bytes long; allowed: 1..63 bytes", &a[..64]),
        ),
        (
            format!("{comments}AKU_STS_NAME altibase-sts\n"),
            format!(
                "aku.conf:{error_line}:14: expected '=' after the property name AKU_STS_NAME, found 'altibase-sts'\n\
                 {error_line:>width$} | AKU_STS_NAME altibase-sts\n{:width$} |              ^",
                "",
                width = error_line.to_string().len().max(5)
            ),
        ),
        (
            format!("AKU_STS_NAME = \"{a}"),
            format!(
                "aku.conf:1:{}: expected '\"' to close the quoted value that starts at 1:16, found end of file\n\
                 \x20   1 | …{}\n      | {}^",
                TEN_MB + 17,
                &a[..60],
                " ".repeat(61)
            ),
        ),
        (
            format!("REPLICATIONS = {}", "(".repeat(TEN_MB)),
            // The line is shown up to 60 characters after the caret.
            format!(
                "aku.conf:1:19: expected a field (USER_NAME, TABLE_NAME, PARTITION_NAME) or ')' to close the item \
                 opened at 1:18, found '('\n    1 | REPLICATIONS = {}…\n      |                   ^",
                "(".repeat(18 + 60 - 15)
            ),
        ),
        ("\n".repeat(TEN_MB), "Property [AKU_STS_NAME] should be specified by configuration.".to_owned()),
        // An unknown name is quoted cut, and far too long for a "did you mean" search.
        (format!("AKU_{a} = 1\n"), format!("aku.conf:1:1: unknown property AKU_{}…", &a[..60])),
        (
            format!("AKU_{a}\n"),
            format!(
                "aku.conf:1:{}: expected '=' after the property name AKU_{}…, found end of line\n\
                 \x20   1 | …{}\n      | {}^",
                TEN_MB + 5,
                &a[..60],
                &a[..60],
                " ".repeat(61)
            ),
        ),
        (
            format!("{REQUIRED}REPLICATIONS = ( REPLICATION_NAME_PREFIX = P ( SYS.{a} ) )"),
            format!("aku.conf:4:52: table name {}… of item SYS.{}… is {TEN_MB} bytes long; allowed: 1..128 bytes", &a[..64], &a[..64]),
        ),
        (
            // ';' does not end a word: this is one 10 MB item, refused by length first.
            format!("{REQUIRED}REPLICATIONS = ( REPLICATION_NAME_PREFIX = P ( {} ) )", "SYS.T1;".repeat(TEN_MB / 7 + 1)),
            format!(
                "aku.conf:4:52: table name {0}… of item SYS.{0}… is {1} bytes long; allowed: 1..128 bytes",
                &"T1;SYS.".repeat(10)[..64],
                (TEN_MB / 7 + 1) * 7 - 4
            ),
        ),
    ]
}

/// Each fuzz input is a few kilobytes; far less than this is expected.
pub fn limit_per_input() -> Duration {
    Duration::from_secs(1)
}

const SAMPLE: &str = include_str!("../config/good/sample73.conf");

const TOKENS: &[&str] = &[
    "AKU_STS_NAME",
    "AKU_SVC_NAME",
    "AKU_SYS_PASSWORD",
    "AKU_SYS_PASWWORD",
    "AKU_SERVER_COUNT",
    "REPLICATIONS",
    "REPLICATION_NAME_PREFIX",
    "SYNC_PARALLEL_COUNT",
    "USER_NAME",
    "TABLE_NAME",
    "PARTITION_NAME",
    "PARTITION",
    "SYS.T1",
    "SYS.T2",
    "T1",
    ".",
    "=",
    "(",
    ")",
    ",",
    "\"",
    "\"q\"",
    "#",
    "# c\n",
    "\n",
    "\r\n",
    " ",
    "\t",
    "4",
    "-1",
    "99999999999999999999",
    "altibase-sts",
    "é",
    "\u{feff}",
    "\0",
    "\\",
    "[[REPLICATIONS]]",
    "ITEMS = [",
    "]",
    "{",
    "}",
    "'",
    ";",
    "\"\"\"",
];

fn token() -> impl Strategy<Value = &'static str> {
    proptest::sample::select(TOKENS)
}

/// Text made of the grammar's own tokens, and the 7.3 sample with a few random edits.
pub fn near_valid_text() -> impl Strategy<Value = String> {
    let shuffled = proptest::collection::vec(token(), 0..300).prop_map(|t| t.concat());
    let edits = proptest::collection::vec((any::<proptest::sample::Index>(), 0..3u8, token()), 1..8);
    let mutated = edits.prop_map(|edits| {
        let mut chars: Vec<char> = SAMPLE.chars().collect();
        for (at, kind, token) in edits {
            let i = at.index(chars.len() + 1);
            match kind {
                0 if i < chars.len() => {
                    chars.remove(i);
                }
                1 => chars.splice(i..i, token.chars()).for_each(drop),
                _ => chars.truncate(i),
            }
        }
        chars.into_iter().collect::<String>()
    });
    prop_oneof![shuffled, mutated]
}
