//! Error tests: invalid UTF-8 positions, file names, snippets and value quoting.

use super::*;
use crate::config::quote::visible;
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

#[test]
fn invisible_characters_are_escaped_in_values_tokens_and_the_shown_line() {
    assert_eq!(show("A\u{feff}B"), "\"A\\u{feff}B\"");
    assert_eq!(show("A\u{200b}"), "\"A\\u{200b}\"");
    assert_eq!(show("a\u{a0}b"), "\"a\\u{a0}b\"");
    assert_eq!(visible("x\u{200d}y", 40), "x\\u{200d}y");
    assert_eq!(visible(&"y".repeat(50), 40), format!("{}…", "y".repeat(40)));
    let text = "A\u{200b}B C";
    let err = ConfigError::syntax(text, text.len() - 1, Span::new(1, 5), "'='", "'C'");
    assert_eq!(err.to_string(), "aku.conf:1:5: expected '=', found 'C'\n    1 | A\\u{200b}B C\n      |            ^");
}

#[test]
fn a_utf16_file_is_named_as_such() {
    let utf16 = |text: &str, le: bool| -> Vec<u8> {
        text.encode_utf16().flat_map(|u| if le { u.to_le_bytes() } else { u.to_be_bytes() }).collect()
    };
    let message = |bytes: &[u8]| decode_utf8(bytes).unwrap_err().to_string();
    let tail = "; the configuration must be UTF-8 text: convert it, e.g. iconv -f UTF-16 -t UTF-8";
    assert_eq!(
        message(&utf16("\u{feff}A = 1", true)),
        format!("aku.conf:1:1: the file is UTF-16 (little-endian, with a byte-order mark){tail}")
    );
    assert_eq!(
        message(&utf16("\u{feff}A = 1", false)),
        format!("aku.conf:1:1: the file is UTF-16 (big-endian, with a byte-order mark){tail}")
    );
    assert_eq!(message(&utf16("AKU_STS_NAME = a", true)), format!("aku.conf:1:1: the file is UTF-16 (little-endian){tail}"));
    assert_eq!(message(&utf16("AKU_STS_NAME = a", false)), format!("aku.conf:1:1: the file is UTF-16 (big-endian){tail}"));
    // A UTF-8 byte-order mark is no UTF-16, and one NUL is no pattern.
    assert!(decode_utf8("\u{feff}A = 1".as_bytes()).is_ok());
    assert!(decode_utf8(b"A\0 = 1").is_ok());
}
