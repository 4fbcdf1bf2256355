//! The raw layer: an aku.conf (either generation) or its TOML twin as written,
//! with the position of every name and value. It keeps what validation must
//! judge — duplicates, unknown names, empty values — and decides nothing: no
//! defaults, no ranges, no types. Produced by `parser` and `toml_source`,
//! consumed only by `validate`.

use std::fmt;

use super::error::{ConfigError, Location};
use super::schema::{self, Place};

/// A 1-based line and column (the column counts characters, not bytes).
/// Displays as `line:column`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Span {
    pub line: u32,
    pub column: u32,
}

impl Span {
    pub fn new(line: u32, column: u32) -> Self {
        Span { line, column }
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// A value as written: without its quotes, where it starts (the opening quote
/// for a quoted value) and whether it was quoted. An empty value (`NAME =` at
/// the end of a line) has empty text and the position where it was expected.
/// A TOML boolean has the text `true` or `false` and `boolean` set: only the
/// 0/1 flags accept it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawValue {
    pub text: String,
    pub span: Span,
    pub quoted: bool,
    pub boolean: bool,
}

/// One `NAME = value`, with the position of the name.
#[derive(Clone, PartialEq, Eq)]
pub struct RawProperty {
    pub name: String,
    pub span: Span,
    pub value: RawValue,
}

impl fmt::Debug for RawProperty {
    /// Like a derived Debug, but a password value is never shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = f.debug_struct("RawProperty");
        out.field("name", &self.name).field("span", &self.span);
        if schema::is_secret(&self.name) { out.field("value", &"********").finish() } else { out.field("value", &self.value).finish() }
    }
}

/// One replicated table or partition: `USER.TABLE [PARTITION P]` (7.3) or
/// `( USER_NAME = .. TABLE_NAME = .. )` (7.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawItem {
    /// Where the item starts.
    pub span: Span,
    pub user: RawValue,
    pub table: RawValue,
    pub partition: Option<RawValue>,
}

impl RawItem {
    /// Builds a 7.1-style item (or a TOML inline table) from its fields,
    /// refusing unknown, misplaced and duplicate fields and a missing
    /// `USER_NAME` or `TABLE_NAME` (reported at `span`, the item's start).
    pub(crate) fn from_fields(fields: Vec<RawProperty>, span: Span) -> Result<RawItem, ConfigError> {
        let (mut user, mut table, mut partition) = (None, None, None);
        let mut seen: Vec<(String, Span)> = Vec::new();
        for field in fields {
            schema::check_name(&field.name, field.span, Place::Item)?;
            if let Some((_, first)) = seen.iter().find(|(n, _)| *n == field.name) {
                return Err(ConfigError::Duplicate {
                    at: Location::new(field.span),
                    first_name: field.name.clone(),
                    name: field.name,
                    first: *first,
                });
            }
            seen.push((field.name.clone(), field.span));
            match field.name.as_str() {
                "USER_NAME" => user = Some(field.value),
                "TABLE_NAME" => table = Some(field.value),
                _ => partition = Some(field.value),
            }
        }
        let missing = |field| ConfigError::MissingField { at: Location::new(span), field };
        Ok(RawItem { span, user: user.ok_or_else(|| missing("USER_NAME"))?, table: table.ok_or_else(|| missing("TABLE_NAME"))?, partition })
    }

    /// `USER.TABLE` or `USER.TABLE PARTITION P`, as in the 7.3 syntax and in messages.
    pub fn display(&self) -> String {
        match &self.partition {
            Some(p) => format!("{}.{} PARTITION {}", self.user.text, self.table.text, p.text),
            None => format!("{}.{}", self.user.text, self.table.text),
        }
    }
}

/// Splits a 7.3 item word `USER.TABLE` at its first dot. A dot inside the
/// table part stays there, for validation to refuse as not an identifier.
pub(crate) fn split_user_table(word: &str) -> Option<(&str, &str)> {
    word.split_once('.')
}

/// One `( REPLICATION_NAME_PREFIX = .. SYNC_PARALLEL_COUNT = .. ( items ) )` group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawGroup {
    /// Where the group's opening parenthesis (or TOML table) is.
    pub span: Span,
    /// The group's properties in file order, duplicates and unknown names kept.
    pub properties: Vec<RawProperty>,
    /// The items in file order, duplicates kept.
    pub items: Vec<RawItem>,
}

impl RawGroup {
    /// The first `REPLICATION_NAME_PREFIX` of the group, if any.
    pub fn prefix(&self) -> Option<&RawValue> {
        self.property("REPLICATION_NAME_PREFIX")
    }

    /// The first `SYNC_PARALLEL_COUNT` of the group, if any.
    pub fn sync_parallel_count(&self) -> Option<&RawValue> {
        self.property("SYNC_PARALLEL_COUNT")
    }

    fn property(&self, name: &str) -> Option<&RawValue> {
        self.properties.iter().find(|p| p.name == name).map(|p| &p.value)
    }
}

/// One `REPLICATIONS = ...` (the property may be written twice; validation refuses that).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawReplications {
    /// Where the name `REPLICATIONS` is.
    pub span: Span,
    /// The groups in file order; empty for `REPLICATIONS =` with no block or `( )`.
    pub groups: Vec<RawGroup>,
}

/// A whole configuration as written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawConfig {
    /// Top-level `NAME = value` properties in file order (REPLICATIONS excluded).
    pub properties: Vec<RawProperty>,
    /// Every REPLICATIONS property in file order.
    pub replications: Vec<RawReplications>,
}
