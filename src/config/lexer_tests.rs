//! Lexer tests: tokens, positions, comments, quotes and refused characters.

use std::borrow::Cow;

use super::*;

fn tokens(text: &str) -> Result<Vec<(Tok<'_>, Span)>, ConfigError> {
    let mut lexer = Lexer::new(text);
    let mut out = Vec::new();
    loop {
        let t = lexer.next_token()?;
        let end = t.tok == Tok::Eof;
        out.push((t.tok, t.span));
        if end {
            return Ok(out);
        }
    }
}

#[test]
fn words_quotes_punctuation_and_positions() {
    let toks = tokens("A = \"x y\" # note\n( SYS.T1, )").unwrap();
    let kinds: Vec<_> = toks.iter().map(|(t, _)| t.clone()).collect();
    assert_eq!(
        kinds,
        [
            Tok::Word("A"),
            Tok::Equals,
            Tok::Quoted(Cow::Borrowed("x y")),
            Tok::Newline,
            Tok::Open,
            Tok::Word("SYS.T1"),
            Tok::Comma,
            Tok::Close,
            Tok::Eof
        ]
    );
    assert_eq!(toks[2].1, Span::new(1, 5));
    assert_eq!(toks[5].1, Span::new(2, 3));
}

#[test]
fn a_comment_ends_a_bare_word() {
    let toks = tokens("SYS.T1#c, SYS.T2").unwrap();
    assert_eq!(toks[0].0, Tok::Word("SYS.T1"));
    assert_eq!(toks[1].0, Tok::Eof);
}

#[test]
fn escapes_in_quoted_values() {
    let toks = tokens(r#""a\"b\\c\d""#).unwrap();
    assert_eq!(toks[0].0, Tok::Quoted(Cow::Owned(r#"a"b\c\d"#.to_owned())));
}

#[test]
fn byte_order_mark_and_crlf_are_accepted() {
    let toks = tokens("\u{feff}A = 1\r\n").unwrap();
    assert_eq!(toks[0], (Tok::Word("A"), Span::new(1, 1)));
    assert_eq!(toks[3].0, Tok::Newline);
}

#[test]
fn unterminated_quote_names_where_it_started() {
    let err = tokens("AKU_STS_NAME = \"abc\nX = 1").unwrap_err();
    assert_eq!(
        err.to_string(),
        "aku.conf:1:20: expected '\"' to close the quoted value that starts at 1:16, found end of line\n\
         \x20   1 | AKU_STS_NAME = \"abc\n\
         \x20     |                    ^"
    );
}

#[test]
fn control_characters_are_refused() {
    let err = tokens("A = b\u{0}c").unwrap_err();
    assert_eq!(
        err.to_string(),
        "aku.conf:1:6: expected a printable character, found control character U+0000\n\
         \x20   1 | A = b?c\n\
         \x20     |      ^"
    );
}

#[test]
fn non_ascii_whitespace_separates_words() {
    let toks = tokens("A\u{a0}B").unwrap();
    assert_eq!(toks[0].0, Tok::Word("A"));
    assert_eq!(toks[1], (Tok::Word("B"), Span::new(1, 3)));
}
