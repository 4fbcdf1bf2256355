//! Parser tests: the raw layer for both generations, and every syntax error
//! with its exact message.

use super::parse;
use crate::config::{RawConfig, Span};

fn err(text: &str) -> String {
    parse(text).unwrap_err().to_string()
}

fn items(raw: &RawConfig, group: usize) -> Vec<String> {
    raw.replications[0].groups[group].items.iter().map(super::RawItem::display).collect()
}

const NEW_FORM: &str = "\
# aku.conf, 7.3 form
AKU_STS_NAME = altibase-sts   # the StatefulSet
AKU_SVC_NAME = \"altibase-svc\"
REPLICATIONS = (
    REPLICATION_NAME_PREFIX = AKU_REP1  # first group
    SYNC_PARALLEL_COUNT     = 1
    (
        SYS.T1, SYS.T2 PARTITION P1,   # two on a line
        # a comment inside the list
        SYS.T3
    )
),
(
    REPLICATION_NAME_PREFIX = AKU_REP2
    SYNC_PARALLEL_COUNT     = 4
    ( SYS.T4 )
)
";

#[test]
fn new_form_with_comments_and_two_groups() {
    let raw = parse(NEW_FORM).unwrap();
    let names: Vec<_> = raw.properties.iter().map(|p| (p.name.as_str(), p.value.text.as_str(), p.value.quoted)).collect();
    assert_eq!(names, [("AKU_STS_NAME", "altibase-sts", false), ("AKU_SVC_NAME", "altibase-svc", true)]);
    assert_eq!(raw.properties[1].value.span, Span::new(3, 16));
    let groups = &raw.replications[0].groups;
    assert_eq!(groups.len(), 2);
    assert_eq!(groups[0].prefix().unwrap().text, "AKU_REP1");
    assert_eq!(groups[1].sync_parallel_count().unwrap().text, "4");
    assert_eq!(items(&raw, 0), ["SYS.T1", "SYS.T2 PARTITION P1", "SYS.T3"]);
    assert_eq!(items(&raw, 1), ["SYS.T4"]);
    let t2 = &groups[0].items[1];
    assert_eq!((t2.user.span, t2.table.span), (Span::new(8, 17), Span::new(8, 21)));
    assert_eq!(t2.partition.as_ref().unwrap().span, Span::new(8, 34));
}

#[test]
fn old_form_with_fields_on_separate_lines_and_optional_commas() {
    let raw = parse(
        "AKU_SYS_PASWWORD = \"manager\"\n\
         REPLICATIONS = (\n\
             REPLICATION_NAME_PREFIX = \"AKU_REP\"\n\
             SYNC_PARALLEL_COUNT     = 1\n\
             (\n\
                 ( USER_NAME = \"SYS\"  TABLE_NAME = \"T1\" ),\n\
                 ( USER_NAME = \"SYS\",\n   TABLE_NAME = \"T2\"\n   PARTITION_NAME = \"P1\" )\n\
             )\n\
         )\n",
    )
    .unwrap();
    assert_eq!(raw.properties[0].name, "AKU_SYS_PASWWORD");
    assert_eq!(items(&raw, 0), ["SYS.T1", "SYS.T2 PARTITION P1"]);
    assert_eq!(raw.replications[0].groups[0].items[1].span, Span::new(7, 1));
}

#[test]
fn replications_block_may_open_on_the_next_line_and_groups_may_share_lines() {
    let raw =
        parse("REPLICATIONS =\n(REPLICATION_NAME_PREFIX = A (SYS.T1)), (REPLICATION_NAME_PREFIX = B (s.t partition p))\nX = 1").unwrap();
    assert_eq!(items(&raw, 1), ["s.t PARTITION p"]);
    assert_eq!(raw.properties[0].name, "X");
}

#[test]
fn empty_values_empty_blocks_and_empty_input_are_not_syntax_errors() {
    assert_eq!(parse("").unwrap(), RawConfig::default());
    assert_eq!(parse("\n# only a comment\n\n").unwrap(), RawConfig::default());
    let raw = parse("AKU_STS_NAME =\nREPLICATIONS = ( )").unwrap();
    assert_eq!(raw.properties[0].value.text, "");
    assert_eq!(raw.properties[0].value.span, Span::new(1, 15));
    assert!(raw.replications[0].groups.is_empty());
    assert!(parse("REPLICATIONS =\n").unwrap().replications[0].groups.is_empty());
    assert!(parse("REPLICATIONS = (REPLICATION_NAME_PREFIX = A ( ))").unwrap().replications[0].groups[0].items.is_empty());
}

#[test]
fn duplicates_are_kept_for_validation() {
    let raw = parse("A = 1\nA = 2\nREPLICATIONS = ()\nREPLICATIONS = ()").unwrap();
    assert_eq!(raw.properties.len(), 2);
    assert_eq!(raw.replications.len(), 2);
}

#[test]
fn trailing_comma_in_the_item_list_is_accepted() {
    let raw = parse("REPLICATIONS = ( REPLICATION_NAME_PREFIX = A ( SYS.T1, ) )").unwrap();
    assert_eq!(items(&raw, 0), ["SYS.T1"]);
}

#[test]
fn missing_comma_between_items() {
    assert_eq!(
        err("REPLICATIONS = (\n    REPLICATION_NAME_PREFIX = A\n    (\n    SYS.T1 SYS.T2\n    )\n)"),
        "aku.conf:4:12: expected ',' between items or ')' to close the item list opened at 3:5, found 'SYS.T2'\n\
         \x20   4 |     SYS.T1 SYS.T2\n\
         \x20     |            ^"
    );
}

#[test]
fn truncated_block() {
    assert_eq!(
        err("REPLICATIONS = (\n  REPLICATION_NAME_PREFIX = A\n  ( SYS.T1 )\n"),
        "aku.conf:4:1: expected ')' to close the replication group opened at 1:16, found end of file\n\
         \x20   4 | \n\
         \x20     | ^"
    );
}

#[test]
fn unbalanced_parentheses() {
    assert_eq!(
        err("REPLICATIONS = ( REPLICATION_NAME_PREFIX = A ( SYS.T1 ) ) )"),
        "aku.conf:1:59: expected end of line after the REPLICATIONS block (quote values that contain spaces), found ')'\n\
         \x20   1 | REPLICATIONS = ( REPLICATION_NAME_PREFIX = A ( SYS.T1 ) ) )\n\
         \x20     |                                                           ^"
    );
    assert_eq!(
        err("REPLICATIONS = ( REPLICATION_NAME_PREFIX = A ( ( SYS.T1 ) )"),
        "aku.conf:1:50: expected a field (USER_NAME, TABLE_NAME, PARTITION_NAME) or ')' to close the item opened at 1:48, found 'SYS.T1'\n\
         \x20   1 | REPLICATIONS = ( REPLICATION_NAME_PREFIX = A ( ( SYS.T1 ) )\n\
         \x20     |                                                  ^"
    );
}

#[test]
fn value_with_a_space_must_be_quoted() {
    assert_eq!(
        err("AKU_ODBC_DRIVER = PostgreSQL Unicode"),
        "aku.conf:1:30: expected end of line after AKU_ODBC_DRIVER (quote values that contain spaces), found 'Unicode'\n\
         \x20   1 | AKU_ODBC_DRIVER = PostgreSQL Unicode\n\
         \x20     |                              ^"
    );
    assert_eq!(parse("AKU_ODBC_DRIVER = \"PostgreSQL Unicode\"").unwrap().properties[0].value.text, "PostgreSQL Unicode");
}

#[test]
fn missing_equals_and_stray_tokens() {
    assert_eq!(
        err("AKU_STS_NAME altibase-sts"),
        "aku.conf:1:14: expected '=' after the property name AKU_STS_NAME, found 'altibase-sts'\n\
         \x20   1 | AKU_STS_NAME altibase-sts\n\
         \x20     |              ^"
    );
    assert!(err("= 4").starts_with("aku.conf:1:1: expected a property name, found '='"));
    assert!(err("\"AKU_STS_NAME\" = x").starts_with("aku.conf:1:1: expected a property name, found '\"AKU_STS_NAME\"'"));
}

#[test]
fn block_values_are_only_for_replications() {
    assert_eq!(
        err("AKU_STS_NAME = ( x )"),
        "aku.conf:1:16: expected a value for AKU_STS_NAME, found '('\n\
         \x20   1 | AKU_STS_NAME = ( x )\n\
         \x20     |                ^"
    );
    assert_eq!(err("REPLICATION = ( x )"), "aku.conf:1:1: unknown property REPLICATION (did you mean REPLICATIONS?)");
    assert!(err("REPLICATIONS = SYS.T1").starts_with("aku.conf:1:16: expected '(' to open the REPLICATIONS block, found 'SYS.T1'"));
}

#[test]
fn item_errors() {
    let group = |list: &str| err(&format!("REPLICATIONS = ( REPLICATION_NAME_PREFIX = A ( {list} ) )"));
    assert!(group("T1").starts_with(
        "aku.conf:1:48: expected an item: USER.TABLE, USER.TABLE PARTITION P or ( USER_NAME = .. TABLE_NAME = .. ), found 'T1'"
    ));
    assert!(group("SYS.T1 PARTITION").starts_with("aku.conf:1:65: expected a partition name after PARTITION, found ')'"));
    assert!(group("SYS.T1,,").starts_with("aku.conf:1:55: expected an item"));
    assert_eq!(
        group("( USER_NAME = SYS )"),
        "aku.conf:1:48: item has no TABLE_NAME; an item needs USER_NAME and TABLE_NAME (PARTITION_NAME is optional)"
    );
    assert_eq!(
        group("( USER_NAME = SYS USER_NAME = SYS TABLE_NAME = T )"),
        "aku.conf:1:66: duplicate property USER_NAME (first set at 1:50)"
    );
    assert_eq!(group("( USER = SYS TABLE_NAME = T )"), "aku.conf:1:50: unknown property USER (did you mean USER_NAME?)");
}

#[test]
fn group_errors() {
    assert!(
        err("REPLICATIONS = ( REPLICATION_NAME_PREFIX = A ( SYS.T1 ) , ( SYS.T2 ) )")
            .starts_with("aku.conf:1:57: expected ')' to close the replication group opened at 1:16, found ','")
    );
    assert!(
        err("REPLICATIONS = ( A = 1 ( SYS.T1 ) ),\n")
            .starts_with("aku.conf:2:1: expected '(' to open the next replication group, found end of file")
    );
    assert!(
        err("REPLICATIONS = ( , )").starts_with(
            "aku.conf:1:18: expected a property, the item list or ')' to close the replication group opened at 1:16, found ','"
        )
    );
    assert!(
        err("REPLICATIONS = ( SYNC_PARALLEL_COUNT = ( SYS.T1 ) )")
            .starts_with("aku.conf:1:40: expected a value for SYNC_PARALLEL_COUNT, found '('")
    );
}

#[test]
fn the_password_never_appears_in_a_syntax_error() {
    for text in [
        "AKU_SYS_PASSWORD = top secret",
        "AKU_SYS_PASWWORD = \"top secret",
        "AKU_SYS_PASSWORD top-secret",
        "  AKU_SYS_PASSWORD = top\u{1}secret",
    ] {
        let message = err(text);
        assert!(!message.contains("secret"), "{message}");
        assert!(message.contains("AKU_SYS_PAS"), "{message}");
    }
    assert_eq!(
        err("AKU_SYS_PASSWORD = top secret"),
        "aku.conf:1:24: expected end of line after AKU_SYS_PASSWORD (quote values that contain spaces), \
         found (hidden: the line may hold a password)\n\
         \x20   1 | AKU_SYS_PASSWORD = ********\n\
         \x20     |                    ^"
    );
}

#[test]
fn positions_count_characters_and_tabs_keep_the_caret_aligned() {
    assert_eq!(
        err("\tAKU_STS_NAME = \"é\" x"),
        "aku.conf:1:21: expected end of line after AKU_STS_NAME (quote values that contain spaces), found 'x'\n\
         \x20   1 | \tAKU_STS_NAME = \"é\" x\n\
         \x20     | \t                   ^"
    );
}

#[test]
fn long_lines_are_shown_around_the_error() {
    let text = format!("AKU_STS_NAME = {} x", "a".repeat(500));
    let message = err(&text);
    let shown = message.lines().nth(1).unwrap();
    assert!(shown.len() < 200, "{shown}");
    assert!(shown.starts_with("    1 | …") && shown.ends_with(" x"), "{shown}");
    let caret = message.lines().nth(2).unwrap();
    assert_eq!(caret.chars().count(), shown.chars().count());
}

#[test]
fn items_without_their_list_and_stray_closing_parentheses() {
    assert!(
        err("REPLICATIONS = (\n  REPLICATION_NAME_PREFIX = A\n  SYS.T1, SYS.T2 )\n)")
            .starts_with("aku.conf:3:3: expected a property or '(' to open the item list, found 'SYS.T1'")
    );
    assert!(
        err("REPLICATIONS = (\n  REPLICATION_NAME_PREFIX\n  = A ( SYS.T1 ) )")
            .starts_with("aku.conf:2:26: expected '=' after the property name REPLICATION_NAME_PREFIX, found end of line")
    );
    assert!(err("A = 1\n)").starts_with("aku.conf:2:1: expected a property name (this ')' closes nothing), found ')'"));
}

#[test]
fn a_password_on_the_line_after_its_equals_is_refused_unshown() {
    for next in ["s3cr3t", "s3cr3t = x", "s3cr3t=x", "\"s3 cr3t\"", "  s3cr3t  # c", ",s3cr3t"] {
        for name in ["AKU_SYS_PASSWORD", "AKU_SYS_PASWWORD", "AKU_SYS_PASSWROD", "aku_sys_password"] {
            let message = err(&format!("AKU_STS_NAME = a\n{name} =\n\n{next}\n"));
            assert!(!message.contains("s3cr3t") && !message.contains("cr3t"), "{message}");
            assert!(message.starts_with("aku.conf:4:"), "{message}");
            assert!(message.contains(&format!("expected the value of {name} on the line of its '=', found (hidden")), "{message}");
        }
    }
}

#[test]
fn an_empty_password_followed_by_a_known_property_is_no_error() {
    // The password may come from the environment; validation decides.
    let raw = parse("AKU_SYS_PASSWORD =\nAKU_PORT_NO = 20300\n").unwrap();
    assert_eq!(raw.properties.len(), 2);
    assert!(parse("AKU_SYS_PASSWORD =\n").is_ok());
    assert!(parse("REPLICATIONS = ( AKU_SYS_PASSWORD =\n ( SYS.T1 ) )\n").is_ok());
    // Other properties left empty are not judged by their next line.
    assert_eq!(
        err("AKU_STS_NAME =\nfoo\n"),
        "aku.conf:2:4: expected '=' after the property name foo, found end of line\n    2 | foo\n      |    ^"
    );
}

#[test]
fn long_names_are_cut_in_syntax_errors() {
    let name = "N".repeat(1000);
    assert_eq!(
        err(&format!("{name}\n")),
        format!(
            "aku.conf:1:1001: expected '=' after the property name {}…, found end of line\n    1 | …{}\n      | {}^",
            "N".repeat(64),
            "N".repeat(60),
            " ".repeat(61)
        )
    );
}
