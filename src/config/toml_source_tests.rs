//! TOML source tests: the same raw layer and `Config` as aku.conf, and errors
//! with their exact messages and positions.

use super::parse;
use crate::config::{Config, EnvOverrides, Span, Syntax};

fn err(text: &str) -> String {
    parse(text).unwrap_err().to_string()
}

const CONF: &str = "\
AKU_STS_NAME = altibase-sts
AKU_SVC_NAME = altibase-svc
AKU_SERVER_COUNT = 6
AKU_SYS_PASSWORD = \"manager\"
AKU_FLUSH_AT_END = 0
REPLICATIONS = (
    REPLICATION_NAME_PREFIX = AKU_REP1
    ( SYS.T1, SYS.T2 PARTITION P1, ( USER_NAME = SYS TABLE_NAME = T3 ) )
),
(
    REPLICATION_NAME_PREFIX = AKU_REP2
    SYNC_PARALLEL_COUNT = 4
    ( SYS.T4 )
)
";

const TOML: &str = r#"
AKU_STS_NAME = "altibase-sts"
AKU_SVC_NAME = "altibase-svc"
AKU_SERVER_COUNT = "6"          # a string is fine too
AKU_SYS_PASSWORD = "manager"
AKU_FLUSH_AT_END = false

[[REPLICATIONS]]
REPLICATION_NAME_PREFIX = "AKU_REP1"
ITEMS = ["SYS.T1", "SYS.T2 PARTITION P1", { USER_NAME = "SYS", TABLE_NAME = "T3" }]

[[REPLICATIONS]]
REPLICATION_NAME_PREFIX = "AKU_REP2"
SYNC_PARALLEL_COUNT = 4
ITEMS = ["SYS.T4"]
"#;

#[test]
fn toml_validates_to_the_same_config_as_its_aku_conf_twin() {
    let env = EnvOverrides::default();
    let from_conf = Config::parse(CONF, Syntax::AkuConf, &env).unwrap();
    let from_toml = Config::parse(TOML, Syntax::Toml, &env).unwrap();
    assert_eq!(from_toml, from_conf);
    assert_eq!(from_toml.groups[0].items[1].partition.as_deref(), Some("P1"));
}

#[test]
fn positions_point_at_keys_values_and_inside_item_strings() {
    let raw = parse(TOML).unwrap();
    assert_eq!(raw.properties[0].span, Span::new(2, 1));
    assert_eq!(raw.properties[0].value.span, Span::new(2, 16));
    let item = &raw.replications[0].groups[0].items[1];
    assert_eq!((item.user.span, item.table.span), (Span::new(10, 21), Span::new(10, 25)));
    assert_eq!(item.partition.as_ref().unwrap().span, Span::new(10, 38));
}

#[test]
fn integers_in_any_radix_and_floats_reach_validation_as_text() {
    let raw = parse("A = 0x10\nB = 1_000\nC = 1.5\nD = true").unwrap();
    let texts: Vec<_> = raw.properties.iter().map(|p| (p.value.text.as_str(), p.value.boolean)).collect();
    assert_eq!(texts, [("16", false), ("1000", false), ("1.5", false), ("true", true)]);
}

#[test]
fn toml_syntax_errors_have_positions_and_the_line() {
    assert_eq!(
        err("AKU_STS_NAME = \"x\nB = 1"),
        "aku.conf:1:18: invalid TOML: invalid basic string, expected `\"`\n\
         \x20   1 | AKU_STS_NAME = \"x\n\
         \x20     |                  ^"
    );
    assert_eq!(
        err("AKU_PORT_NO = 1\nAKU_PORT_NO = 2"),
        "aku.conf:2:1: invalid TOML: duplicate key\n\
         \x20   2 | AKU_PORT_NO = 2\n\
         \x20     | ^"
    );
    assert!(err(&format!("A = {}", "[".repeat(100_000))).starts_with("aku.conf:1:85: invalid TOML: cannot recurse further"));
    assert!(!err("AKU_SYS_PASSWORD = \"secret").contains("secret\""));
}

#[test]
fn schema_errors_in_toml() {
    assert_eq!(
        err("AKU_STS_NAME = [\"a\"]"),
        "aku.conf:1:16: expected a string or an integer for AKU_STS_NAME, found an array\n\
         \x20   1 | AKU_STS_NAME = [\"a\"]\n\
         \x20     |                ^"
    );
    assert_eq!(err("[AKU_STS]\nX = 1"), "aku.conf:1:2: unknown property AKU_STS (did you mean AKU_STS_NAME?)");
    assert!(err("REPLICATIONS = 1").starts_with("aku.conf:1:16: expected [[REPLICATIONS]] tables, found an integer"));
    assert!(err("[[REPLICATIONS]]\nITEMS = \"SYS.T1\"").starts_with("aku.conf:2:9: expected an array of items for ITEMS, found a string"));
    assert!(err("[[REPLICATIONS]]\nITEMS = [\"T1\"]").starts_with(
        "aku.conf:2:10: expected an item \"USER.TABLE\", \"USER.TABLE PARTITION P\" or { USER_NAME = .., TABLE_NAME = .. }, found \"T1\""
    ));
    assert!(err("[[REPLICATIONS]]\nITEMS = [\"SYS.T1 PART P\"]").contains("found \"SYS.T1 PART P\""));
    assert!(err("[[REPLICATIONS]]\nITEMS = [3]").contains("found an integer"));
    assert_eq!(
        err("[[REPLICATIONS]]\nITEMS = [{ USER_NAME = \"S\", TABLE = \"T\" }]"),
        "aku.conf:2:29: unknown property TABLE (did you mean TABLE_NAME?)"
    );
    assert_eq!(
        err("[[REPLICATIONS]]\nITEMS = [{ USER_NAME = \"S\" }]"),
        "aku.conf:2:10: item has no TABLE_NAME; an item needs USER_NAME and TABLE_NAME (PARTITION_NAME is optional)"
    );
}

#[test]
fn a_single_replications_table_is_one_group() {
    let raw = parse("[REPLICATIONS]\nREPLICATION_NAME_PREFIX = \"A\"\nITEMS = [\"S.T\"]").unwrap();
    assert_eq!(raw.replications[0].groups.len(), 1);
    assert!(parse("REPLICATIONS = []").unwrap().replications[0].groups.is_empty());
}
