//! Configuration errors: what is wrong with an aku.conf (or its TOML twin) and
//! where. Owns [`ConfigError`], its exact message texts, the rendering of the
//! offending source line under a syntax error, and [`decode_utf8`].
//!
//! Messages never contain the SYS password: the source line of a syntax error
//! that may hold it is masked (see `mask`), and no other error quotes a password
//! value. Tokens are quoted with at most 64 characters and with invisible
//! characters (a byte-order mark, a zero-width space, controls) escaped.

use std::fmt;

use super::mask;
use super::quote::{is_invisible, show};
use super::raw::Span;

/// The file name used in messages until the caller sets the real one with
/// [`ConfigError::with_file`].
pub(crate) const DEFAULT_FILE: &str = "aku.conf";

/// Where an error is: file name (as given by the caller) and 1-based line:column.
/// Displays as `aku.conf:7:12`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// File name shown in messages, `aku.conf` unless set by [`ConfigError::with_file`].
    pub file: String,
    /// Line and column (in characters) of the offending text.
    pub span: Span,
}

impl Location {
    pub(crate) fn new(span: Span) -> Self {
        Location { file: DEFAULT_FILE.to_owned(), span }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.span)
    }
}

/// Why a configuration was refused. Every variant but [`ConfigError::Missing`]
/// carries a [`Location`]; the Display texts are part of the interface.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The text does not follow the aku.conf (or TOML) grammar:
    /// `aku.conf:7:12: expected …, found …` followed by the line and a caret.
    #[error("{at}: {message}{snippet}")]
    Syntax { at: Location, message: String, snippet: Snippet },
    /// The bytes are not UTF-8: `aku.conf:3:7: invalid UTF-8 (byte 0xFF); …`.
    #[error("{at}: invalid UTF-8 (byte 0x{byte:02X}); the configuration must be UTF-8 text")]
    InvalidUtf8 { at: Location, byte: u8 },
    /// The bytes are UTF-16 (a byte-order mark, or every other byte 0).
    #[error("{at}: the file is UTF-16 ({order}); the configuration must be UTF-8 text: convert it, e.g. iconv -f UTF-16 -t UTF-8")]
    Utf16 { at: Location, order: &'static str },
    /// A required property is missing or empty (message of the original aku).
    #[error("Property [{name}] should be specified by configuration.")]
    Missing { name: String },
    /// An item of the 7.1 form (or a TOML inline table) lacks `USER_NAME` or `TABLE_NAME`.
    #[error("{at}: item has no {field}; an item needs USER_NAME and TABLE_NAME (PARTITION_NAME is optional)")]
    MissingField { at: Location, field: &'static str },
    /// A property name that aku does not know, with the closest known name.
    #[error("{at}: unknown property {}{}", show(name), did_you_mean(*.suggestion))]
    Unknown { at: Location, name: String, suggestion: Option<&'static str> },
    /// A known property written in the wrong place (e.g. a group property at the top level).
    #[error("{at}: property {name} belongs {place}")]
    Misplaced { at: Location, name: String, place: &'static str },
    /// The same property twice in one scope (`first_name` differs for the 7.1 alias).
    #[error("{at}: duplicate property {name} ({})", first_set(name, first_name, *.first))]
    Duplicate { at: Location, name: String, first_name: String, first: Span },
    /// A value of the wrong type or outside its range:
    /// `aku.conf:3:20: AKU_SERVER_COUNT = 9 is out of range; allowed: 1..6`.
    #[error("{at}: {name} = {value} {problem}; allowed: {allowed}")]
    BadValue { at: Location, name: String, value: String, problem: &'static str, allowed: String },
    /// A name longer than its limit in bytes; `why` explains a derived limit.
    #[error("{at}: {what} is {len} bytes long; allowed: 1..{max} bytes{why}")]
    TooLong { at: Location, what: String, len: usize, max: usize, why: &'static str },
    /// A user, table, partition, prefix, SYS user or database name that is not a
    /// plain SQL identifier.
    #[error(
        "{at}: {what} is not a plain identifier: {problem}; names must match \
         [A-Za-z_][A-Za-z0-9_$]* because anything else would be unsafe or ambiguous in SQL"
    )]
    NotIdentifier { at: Location, what: String, problem: String },
    /// `AKU_STS_NAME` or `AKU_SVC_NAME` that Kubernetes would not accept.
    #[error(
        "{at}: {name} = {value} is not a valid DNS label: use letters, digits and '-', \
         starting and ending with a letter or digit (RFC 1123), because pods and hosts are named after it"
    )]
    NotDnsLabel { at: Location, name: &'static str, value: String },
    /// Two groups with the same `REPLICATION_NAME_PREFIX` (compared ignoring ASCII case).
    #[error(
        "{at}: duplicate REPLICATION_NAME_PREFIX {prefix} (first used at {first}); each group \
         needs its own prefix because replication names are <prefix>_<i><j>"
    )]
    DuplicatePrefix { at: Location, prefix: String, first: Span },
    /// The same item twice in one group (compared ignoring ASCII case).
    #[error("{at}: duplicate item {item} in group {prefix} (first listed at {first})")]
    DuplicateItem { at: Location, item: String, prefix: String, first: Span },
}

fn did_you_mean(suggestion: Option<&str>) -> String {
    suggestion.map(|s| format!(" (did you mean {s}?)")).unwrap_or_default()
}

fn first_set(name: &str, first_name: &str, first: Span) -> String {
    if name == first_name { format!("first set at {first}") } else { format!("already set at {first} as {first_name}") }
}

/// The location field of every positioned variant, by reference or by mutable
/// reference (the same match serves `location` and `location_mut`).
macro_rules! located {
    ($error:expr) => {
        match $error {
            ConfigError::Missing { .. } => None,
            ConfigError::Syntax { at, .. }
            | ConfigError::InvalidUtf8 { at, .. }
            | ConfigError::Utf16 { at, .. }
            | ConfigError::MissingField { at, .. }
            | ConfigError::Unknown { at, .. }
            | ConfigError::Misplaced { at, .. }
            | ConfigError::Duplicate { at, .. }
            | ConfigError::BadValue { at, .. }
            | ConfigError::TooLong { at, .. }
            | ConfigError::NotIdentifier { at, .. }
            | ConfigError::NotDnsLabel { at, .. }
            | ConfigError::DuplicatePrefix { at, .. }
            | ConfigError::DuplicateItem { at, .. } => Some(at),
        }
    };
}

impl ConfigError {
    /// Sets the file name shown in positioned messages (default `aku.conf`).
    #[must_use]
    pub fn with_file(mut self, file: impl Into<String>) -> Self {
        if let Some(at) = self.location_mut() {
            at.file = file.into();
        }
        self
    }

    /// The file and line:column of the error, if it has one.
    pub fn location(&self) -> Option<&Location> {
        located!(self)
    }

    fn location_mut(&mut self) -> Option<&mut Location> {
        located!(self)
    }

    pub(crate) fn missing(name: &str) -> Self {
        ConfigError::Missing { name: name.to_owned() }
    }

    /// A syntax error at byte `offset` of `text` (which is at `span`):
    /// `expected {expected}, found {found}`, with the source line shown.
    pub(crate) fn syntax(text: &str, offset: usize, span: Span, expected: &str, found: &str) -> Self {
        ConfigError::syntax_about(text, offset, span, expected, "", found)
    }

    /// [`ConfigError::syntax`] where `expected` names a token of the line: its
    /// `{}` is replaced by `name`, quoted as [`show`] does — or by `(hidden)` when
    /// the line may hold the password and `name` could be it.
    pub(crate) fn syntax_about(text: &str, offset: usize, span: Span, expected: &str, name: &str, found: &str) -> Self {
        let snippet = Snippet::new(text, offset, span.line);
        let name = if snippet.masked && !super::schema::may_name_password(name) { "(hidden)".to_owned() } else { show(name) };
        let expected = expected.replacen("{}", &name, 1);
        let found = if snippet.masked { "(hidden: the line may hold a password)" } else { found };
        ConfigError::Syntax { at: Location::new(span), message: format!("expected {expected}, found {found}"), snippet }
    }

    /// A syntax error with a free-form message (used for TOML parser messages).
    pub(crate) fn syntax_message(text: &str, offset: usize, span: Span, message: String) -> Self {
        ConfigError::Syntax { at: Location::new(span), message, snippet: Snippet::new(text, offset, span.line) }
    }
}

/// The offending line under a syntax error, with a caret under the column.
/// Long lines are cut to a window around the column; password values are masked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snippet {
    line: u32,
    text: String,
    caret: usize,
    masked: bool,
}

/// How many characters of a long line are shown before and after the caret.
const WINDOW: usize = 60;

impl Snippet {
    fn new(text: &str, offset: usize, line: u32) -> Self {
        let offset = floor_char_boundary(text, offset.min(text.len()));
        let start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
        let end = text[offset..].find('\n').map_or(text.len(), |i| offset + i);
        let mut source = text[start..end].trim_end_matches('\r');
        let mut caret = text[start..offset].chars().count();
        if let Some(rest) = source.strip_prefix('\u{feff}') {
            source = rest;
            caret = caret.saturating_sub(1);
        }
        if let Some((masked, value_at)) = mask::masked(text, start, source) {
            return Snippet { line, caret: caret.min(value_at), text: masked, masked: true };
        }
        // Only the window is copied: a line may be megabytes long.
        // Controls become '?'; other invisible characters are escaped (`\u{200b}`),
        // which moves the caret right by the extra characters before it.
        let from = caret.saturating_sub(WINDOW);
        let mut shown: String = if from > 0 { "…".to_owned() } else { String::new() };
        let mut shift = 0;
        let mut chars = source.chars().skip(from);
        for (i, c) in chars.by_ref().take(caret + WINDOW - from).enumerate() {
            match c {
                '\t' => shown.push(c),
                c if c.is_control() => shown.push('?'),
                c if is_invisible(c) => {
                    let escaped: String = c.escape_default().collect();
                    if from + i < caret {
                        shift += escaped.chars().count() - 1;
                    }
                    shown.push_str(&escaped);
                }
                c => shown.push(c),
            }
        }
        if chars.next().is_some() {
            shown.push('…');
        }
        let caret = caret - from + usize::from(from > 0) + shift;
        Snippet { line, text: shown, caret, masked: false }
    }
}

fn floor_char_boundary(text: &str, mut i: usize) -> usize {
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

impl fmt::Display for Snippet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let number = self.line.to_string();
        let width = number.len().max(5);
        let pad: String = self.text.chars().take(self.caret).map(|c| if c == '\t' { '\t' } else { ' ' }).collect();
        write!(f, "\n{number:>width$} | {}\n{:width$} | {pad}^", self.text, "")
    }
}

/// Checks that `bytes` are UTF-8; otherwise names the line:column of the first
/// bad byte, or says that the file is UTF-16.
pub(crate) fn decode_utf8(bytes: &[u8]) -> Result<&str, ConfigError> {
    if let Some(order) = utf16_order(bytes) {
        return Err(ConfigError::Utf16 { at: Location::new(Span::new(1, 1)), order });
    }
    std::str::from_utf8(bytes).map_err(|e| {
        let good = &bytes[..e.valid_up_to()];
        // `good` is valid UTF-8 by construction; the fallback never runs.
        let good = std::str::from_utf8(good).unwrap_or_default();
        let line_start = good.rfind('\n').map_or(0, |i| i + 1);
        let line = good.bytes().filter(|&b| b == b'\n').count() + 1;
        let column = good[line_start..].chars().count() + 1;
        ConfigError::InvalidUtf8 { at: Location::new(Span::new(saturate(line), saturate(column))), byte: bytes[e.valid_up_to()] }
    })
}

/// UTF-16 by its byte-order mark, or by a 0 in every other byte of the start of
/// a text (ASCII written as UTF-16 without a mark): the byte order, if so.
fn utf16_order(bytes: &[u8]) -> Option<&'static str> {
    match bytes {
        [0xFF, 0xFE, ..] => return Some("little-endian, with a byte-order mark"),
        [0xFE, 0xFF, ..] => return Some("big-endian, with a byte-order mark"),
        _ => {}
    }
    let head = &bytes[..bytes.len().min(64) & !1];
    let zero_at = |parity: usize| head.len() >= 4 && head.iter().enumerate().all(|(i, &b)| (b == 0) == (i % 2 == parity));
    if zero_at(1) {
        Some("little-endian")
    } else if zero_at(0) {
        Some("big-endian")
    } else {
        None
    }
}

/// Converts a count to a line or column number, saturating (files are far smaller).
pub(crate) fn saturate(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
#[path = "error_tests.rs"]
mod tests;
