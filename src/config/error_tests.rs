//! Error tests: invalid UTF-8 positions, file names, snippets and value quoting.

use super::*;
use crate::config::{Config, EnvOverrides, Secret, Syntax};

#[test]
fn invalid_utf8_names_the_line_and_column_of_the_first_bad_byte() {
    let err = decode_utf8(b"A = 1\nB = \xc3\xa9x\xff\xfe\n").unwrap_err();
    assert_eq!(err.to_string(), "aku.conf:2:7: invalid UTF-8 (byte 0xFF); the configuration must be UTF-8 text");
    let err = decode_utf8(b"\x80").unwrap_err();
    assert_eq!(err.to_string(), "aku.conf:1:1: invalid UTF-8 (byte 0x80); the configuration must be UTF-8 text");
    assert_eq!(decode_utf8("é".as_bytes()).unwrap(), "é");
}

#[test]
fn parse_bytes_reports_invalid_utf8_before_anything_else() {
    let err = Config::parse_bytes(b"AKU_STS_NAME = \xe9t\xe9", Syntax::Toml, &EnvOverrides::default()).unwrap_err();
    assert_eq!(err.to_string(), "aku.conf:1:16: invalid UTF-8 (byte 0xE9); the configuration must be UTF-8 text");
}

#[test]
fn with_file_names_the_file_in_positioned_messages_only() {
    let err = ConfigError::syntax("A B", 2, Span::new(1, 3), "'='", "'B'").with_file("/etc/aku/aku.conf");
    assert_eq!(err.to_string(), "/etc/aku/aku.conf:1:3: expected '=', found 'B'\n    1 | A B\n      |   ^");
    assert_eq!(err.location().map(|l| l.span), Some(Span::new(1, 3)));
    let missing = ConfigError::missing("AKU_STS_NAME").with_file("x.conf");
    assert_eq!(missing.to_string(), "Property [AKU_STS_NAME] should be specified by configuration.");
    assert_eq!(missing.location(), None);
}

#[test]
fn line_numbers_wider_than_the_gutter_push_it_right() {
    let text = format!("{}A B", "\n".repeat(123_455));
    let err = ConfigError::syntax(&text, text.len() - 1, Span::new(123_456, 3), "'='", "'B'");
    assert_eq!(err.to_string(), "aku.conf:123456:3: expected '=', found 'B'\n123456 | A B\n       |   ^");
}

#[test]
fn control_characters_in_the_shown_line_are_replaced() {
    let err = ConfigError::syntax("A\u{7}B = 1", 0, Span::new(1, 1), "x", "y");
    assert!(err.to_string().contains("    1 | A?B = 1"));
}

#[test]
fn values_are_shown_bare_or_quoted_and_cut() {
    assert_eq!(show("altibase-sts"), "altibase-sts");
    assert_eq!(show(""), "\"\"");
    assert_eq!(show("a b"), "\"a b\"");
    assert_eq!(show("a\"b"), "\"a\\\"b\"");
    assert_eq!(show("é"), "é");
    assert_eq!(show("it's"), "it's");
    assert_eq!(show("a\\b\u{1}"), "\"a\\\\b\\u{1}\"");
    assert_eq!(show(&"x".repeat(100)), format!("{}…", "x".repeat(64)));
}

#[test]
fn secret_shows_nothing_but_through_expose() {
    let secret = Secret::new("manager");
    assert_eq!(format!("{secret:?}"), "********");
    assert_eq!(secret.expose(), "manager");
}

#[test]
fn errors_stay_small() {
    assert!(std::mem::size_of::<ConfigError>() <= 128);
}
