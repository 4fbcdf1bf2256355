//! Splits aku.conf text into tokens with their positions. Owns the lexical
//! rules shared by both generations; it knows nothing of property names.
//!
//! - `#` starts a comment that runs to the end of the line, wherever it is
//!   (so a bare value cannot contain `#`: quote it).
//! - `"..."` is a quoted value on one line; `\"` and `\\` are its only escapes.
//! - `=`, `(`, `)`, `,` and line ends are tokens; other whitespace separates.
//! - Anything else up to the next separator is a word (`SYS.T1`, `altibase-sts`).
//! - Control characters (other than tab and CR) are refused; a leading UTF-8
//!   byte-order mark is skipped.
//!
//! Each token is produced in time proportional to its length, so lexing a
//! whole file is linear.

use std::borrow::Cow;

use super::error::{ConfigError, saturate};
use super::quote::visible;
use super::raw::Span;

/// What a token is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Tok<'a> {
    Word(&'a str),
    Quoted(Cow<'a, str>),
    Equals,
    Open,
    Close,
    Comma,
    Newline,
    Eof,
}

impl Tok<'_> {
    /// How the token is named after "found" in a syntax error.
    pub(crate) fn describe(&self) -> String {
        match self {
            Tok::Word(w) => format!("'{}'", visible(w, 40)),
            Tok::Quoted(q) => format!("'\"{}\"'", visible(q, 40)),
            Tok::Equals => "'='".to_owned(),
            Tok::Open => "'('".to_owned(),
            Tok::Close => "')'".to_owned(),
            Tok::Comma => "','".to_owned(),
            Tok::Newline => "end of line".to_owned(),
            Tok::Eof => "end of file".to_owned(),
        }
    }
}

/// A token, where it starts, and its byte offset (for showing the source line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Token<'a> {
    pub tok: Tok<'a>,
    pub span: Span,
    pub offset: usize,
}

/// A cursor over the text. Cheap to clone, which is how the parser looks ahead.
#[derive(Debug, Clone)]
pub(crate) struct Lexer<'a> {
    text: &'a str,
    pos: usize,
    line: usize,
    column: usize,
}

fn is_separator(c: char) -> bool {
    c.is_whitespace() || c.is_control() || matches!(c, '=' | '(' | ')' | ',' | '#' | '"')
}

/// Bytes and characters of the word at the start of `rest`, scanned byte by
/// byte for ASCII (words can be megabytes long in hostile files).
fn word_len(rest: &str) -> (usize, usize) {
    let bytes = rest.as_bytes();
    let (mut i, mut chars) = (0, 0);
    while i < bytes.len() {
        let b = bytes[i];
        let width = if b.is_ascii() {
            if is_separator(char::from(b)) {
                break;
            }
            1
        } else {
            let c = rest[i..].chars().next().unwrap_or(' ');
            if is_separator(c) {
                break;
            }
            c.len_utf8()
        };
        i += width;
        chars += 1;
    }
    (i, chars)
}

impl<'a> Lexer<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        let pos = if text.starts_with('\u{feff}') { '\u{feff}'.len_utf8() } else { 0 };
        Lexer { text, pos, line: 1, column: 1 }
    }

    pub(crate) fn text(&self) -> &'a str {
        self.text
    }

    fn span(&self) -> Span {
        Span::new(saturate(self.line), saturate(self.column))
    }

    fn token(&self, tok: Tok<'a>) -> Token<'a> {
        Token { tok, span: self.span(), offset: self.pos }
    }

    /// Moves over `len` bytes holding `chars` characters of one line.
    fn bump(&mut self, len: usize, chars: usize) {
        self.pos += len;
        self.column += chars;
    }

    pub(crate) fn next_token(&mut self) -> Result<Token<'a>, ConfigError> {
        loop {
            let rest = &self.text[self.pos..];
            let Some(c) = rest.chars().next() else {
                return Ok(self.token(Tok::Eof));
            };
            let single = match c {
                '\n' => {
                    let token = self.token(Tok::Newline);
                    self.pos += 1;
                    self.line += 1;
                    self.column = 1;
                    return Ok(token);
                }
                '#' => {
                    let len = rest.find('\n').unwrap_or(rest.len());
                    self.bump(len, rest[..len].chars().count());
                    continue;
                }
                ' ' | '\t' | '\r' => {
                    let len = rest.bytes().take_while(|b| matches!(b, b' ' | b'\t' | b'\r')).count();
                    self.bump(len, len);
                    continue;
                }
                c if c.is_whitespace() => {
                    self.bump(c.len_utf8(), 1);
                    continue;
                }
                '=' => Tok::Equals,
                '(' => Tok::Open,
                ')' => Tok::Close,
                ',' => Tok::Comma,
                '"' => return self.quoted(),
                c if c.is_control() => {
                    let found = format!("control character U+{:04X}", u32::from(c));
                    return Err(self.error("a printable character", &found));
                }
                _ => {
                    let (len, chars) = word_len(rest);
                    let token = self.token(Tok::Word(&rest[..len]));
                    self.bump(len, chars);
                    return Ok(token);
                }
            };
            let token = self.token(single);
            self.bump(1, 1);
            return Ok(token);
        }
    }

    /// A double-quoted value; the cursor is on the opening quote.
    fn quoted(&mut self) -> Result<Token<'a>, ConfigError> {
        let start = self.clone();
        self.bump(1, 1);
        let body_start = self.pos;
        let mut owned: Option<String> = None;
        loop {
            let rest = &self.text[self.pos..];
            let mut chars = rest.chars();
            match chars.next() {
                Some('"') => {
                    let value = match owned {
                        Some(s) => Cow::Owned(s),
                        None => Cow::Borrowed(&self.text[body_start..self.pos]),
                    };
                    self.bump(1, 1);
                    return Ok(start.token(Tok::Quoted(value)));
                }
                Some('\\') if matches!(chars.next(), Some('"' | '\\')) => {
                    let s = owned.get_or_insert_with(|| self.text[body_start..self.pos].to_owned());
                    s.push_str(&rest[1..2]);
                    self.bump(2, 2);
                }
                None | Some('\n') => {
                    let found = if rest.is_empty() { "end of file" } else { "end of line" };
                    let expected = format!("'\"' to close the quoted value that starts at {}", start.span());
                    return Err(self.error(&expected, found));
                }
                Some(c) if c.is_control() && c != '\t' && c != '\r' => {
                    let found = format!("control character U+{:04X}", u32::from(c));
                    return Err(self.error("a printable character", &found));
                }
                Some(c) => {
                    if let Some(s) = owned.as_mut() {
                        s.push(c);
                    }
                    self.bump(c.len_utf8(), 1);
                }
            }
        }
    }

    fn error(&self, expected: &str, found: &str) -> ConfigError {
        ConfigError::syntax(self.text, self.pos, self.span(), expected, found)
    }
}

#[cfg(test)]
#[path = "lexer_tests.rs"]
mod tests;
