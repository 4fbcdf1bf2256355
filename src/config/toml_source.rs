//! The aku.conf schema written as TOML (an extension): the same property names
//! at the top level and one `[[REPLICATIONS]]` table per group. Produces the
//! same [`RawConfig`] as the aku.conf parser so that validation is shared — one
//! schema, two syntaxes. It decides nothing about values.
//!
//! ```toml
//! AKU_STS_NAME = "altibase-sts"
//! AKU_SERVER_COUNT = 4                # integers as TOML integers or strings
//! [[REPLICATIONS]]
//! REPLICATION_NAME_PREFIX = "AKU_REP"
//! SYNC_PARALLEL_COUNT = 1
//! ITEMS = ["SYS.T1", "SYS.T2 PARTITION P1", { USER_NAME = "SYS", TABLE_NAME = "T3" }]
//! ```
//! Booleans are accepted for the 0/1 flags only (validation refuses them
//! elsewhere). TOML itself refuses a key
//! written twice; that is reported as a syntax error.

use std::cell::Cell;
use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::error::{ConfigError, saturate};
use super::raw::{RawConfig, RawGroup, RawItem, RawProperty, RawReplications, RawValue, Span, split_user_table};
use super::schema::{self, Place};

/// Parses TOML text into the raw layer.
pub(crate) fn parse(text: &str) -> Result<RawConfig, ConfigError> {
    let source = Source::new(text);
    let doc = DeTable::parse(text).map_err(|e| {
        let offset = e.span().map_or(0, |r| r.start);
        let message = e.message().trim().replace('\n', "; ");
        ConfigError::syntax_message(text, offset, source.span(offset), format!("invalid TOML: {message}"))
    })?;
    let mut raw = RawConfig::default();
    for (key, value) in sorted(doc.get_ref()) {
        let name = key.get_ref().as_ref();
        let span = source.span(key.span().start);
        if name == "REPLICATIONS" {
            raw.replications.push(RawReplications { span, groups: source.groups(value)? });
        } else {
            let value = source.scalar(name, value, span, Place::TopLevel)?;
            raw.properties.push(RawProperty { name: name.to_owned(), span, value });
        }
    }
    Ok(raw)
}

type Entry<'t, 'i> = (&'t Spanned<std::borrow::Cow<'i, str>>, &'t Spanned<DeValue<'i>>);

/// A table's entries in file order (the map itself is ordered by key).
fn sorted<'t, 'i>(table: &'t DeTable<'i>) -> Vec<Entry<'t, 'i>> {
    let mut entries: Vec<_> = table.iter().collect();
    entries.sort_by_key(|(k, _)| k.span().start);
    entries
}

fn kind(value: &DeValue<'_>) -> &'static str {
    match value {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a date-time",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

/// The text and a byte offset → line:column translator. Lookups are fast when
/// offsets come in increasing order, as they do, so the whole pass is linear.
struct Source<'a> {
    text: &'a str,
    line_starts: Vec<usize>,
    /// (offset, line index, column) of the last lookup.
    last: Cell<(usize, usize, usize)>,
}

impl<'a> Source<'a> {
    fn new(text: &'a str) -> Self {
        let line_starts = std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1)).collect();
        Source { text, line_starts, last: Cell::new((0, 0, 1)) }
    }

    fn span(&self, offset: usize) -> Span {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.line_starts.partition_point(|&s| s <= offset) - 1;
        let (last_offset, last_line, last_column) = self.last.get();
        let column = if last_line == line && last_offset <= offset {
            last_column + self.text[last_offset..offset].chars().count()
        } else {
            1 + self.text[self.line_starts[line]..offset].chars().count()
        };
        self.last.set((offset, line, column));
        Span::new(saturate(line + 1), saturate(column))
    }

    fn error(&self, range: &Range<usize>, expected: &str, found: &str) -> ConfigError {
        ConfigError::syntax(self.text, range.start, self.span(range.start), expected, found)
    }

    /// A property value: strings, integers, floats (refused later), booleans as 1/0.
    fn scalar(&self, name: &str, value: &Spanned<DeValue<'_>>, name_span: Span, place: Place) -> Result<RawValue, ConfigError> {
        let span = self.span(value.span().start);
        let (text, quoted, boolean) = match value.get_ref() {
            DeValue::String(s) => (s.to_string(), true, false),
            DeValue::Integer(i) => {
                let decimal = i128::from_str_radix(i.as_str(), i.radix()).map(|n| n.to_string());
                (decimal.unwrap_or_else(|_| i.as_str().to_owned()), false, false)
            }
            DeValue::Float(f) => (f.as_str().to_owned(), false, false),
            DeValue::Boolean(b) => (b.to_string(), false, true),
            other => {
                schema::check_name(name, name_span, place)?;
                let at = value.span().start;
                let expected = "a string or an integer for {}";
                return Err(ConfigError::syntax_about(self.text, at, self.span(at), expected, name, kind(other)));
            }
        };
        Ok(RawValue { text, span, quoted, boolean })
    }

    /// `[[REPLICATIONS]]` tables (or one `[REPLICATIONS]` table) → groups.
    fn groups(&self, value: &Spanned<DeValue<'_>>) -> Result<Vec<RawGroup>, ConfigError> {
        const EXPECTED: &str = "[[REPLICATIONS]] tables";
        match value.get_ref() {
            DeValue::Table(table) => Ok(vec![self.group(table, value.span())?]),
            DeValue::Array(array) => array
                .iter()
                .map(|element| match element.get_ref() {
                    DeValue::Table(table) => self.group(table, element.span()),
                    other => Err(self.error(&element.span(), EXPECTED, kind(other))),
                })
                .collect(),
            other => Err(self.error(&value.span(), EXPECTED, kind(other))),
        }
    }

    fn group(&self, table: &DeTable<'_>, range: Range<usize>) -> Result<RawGroup, ConfigError> {
        let mut group = RawGroup { span: self.span(range.start), properties: Vec::new(), items: Vec::new() };
        for (key, value) in sorted(table) {
            let name = key.get_ref().as_ref();
            let span = self.span(key.span().start);
            if name == "ITEMS" {
                let DeValue::Array(items) = value.get_ref() else {
                    return Err(self.error(&value.span(), "an array of items for ITEMS", kind(value.get_ref())));
                };
                group.items = items.iter().map(|item| self.item(item)).collect::<Result<_, _>>()?;
            } else {
                let value = self.scalar(name, value, span, Place::Group)?;
                group.properties.push(RawProperty { name: name.to_owned(), span, value });
            }
        }
        Ok(group)
    }

    fn item(&self, item: &Spanned<DeValue<'_>>) -> Result<RawItem, ConfigError> {
        const EXPECTED: &str = "an item \"USER.TABLE\", \"USER.TABLE PARTITION P\" or { USER_NAME = .., TABLE_NAME = .. }";
        let range = item.span();
        match item.get_ref() {
            DeValue::String(s) => self.item_string(s, &range).ok_or_else(|| self.error(&range, EXPECTED, &quoted(s))),
            DeValue::Table(table) => {
                let mut fields = Vec::new();
                for (key, value) in sorted(table) {
                    let name = key.get_ref().as_ref();
                    let span = self.span(key.span().start);
                    fields.push(RawProperty { name: name.to_owned(), span, value: self.scalar(name, value, span, Place::Item)? });
                }
                RawItem::from_fields(fields, self.span(range.start))
            }
            other => Err(self.error(&range, EXPECTED, kind(other))),
        }
    }

    /// `"SYS.T1"` or `"SYS.T1 PARTITION P1"`; positions point inside the
    /// string when it is written without escapes.
    fn item_string(&self, s: &str, range: &Range<usize>) -> Option<RawItem> {
        let literal = &self.text[range.clone()];
        let plain = literal.len() == s.len() + 2 && &literal[1..literal.len() - 1] == s;
        let at = |offset: usize| self.span(if plain { range.start + 1 + offset } else { range.start });
        let words = words(s);
        let (offset, word, partition) = match words.as_slice() {
            [(o, ut)] => (*o, *ut, None),
            [(o, ut), (_, kw), (po, p)] if kw.eq_ignore_ascii_case("PARTITION") => (*o, *ut, Some((*po, *p))),
            _ => return None,
        };
        let (user, table) = split_user_table(word)?;
        let value = |text: &str, offset: usize| RawValue { text: text.to_owned(), span: at(offset), quoted: false, boolean: false };
        Some(RawItem {
            span: at(offset),
            user: value(user, offset),
            table: value(table, offset + user.len() + 1),
            partition: partition.map(|(po, p)| value(p, po)),
        })
    }
}

/// A TOML string as written in a message: in double quotes, escaped as Rust's
/// Debug does (invisible characters too), cut after 64 characters.
fn quoted(s: &str) -> String {
    let cut: String = s.chars().take(64).collect();
    let ellipsis = if cut.len() < s.len() { "…" } else { "" };
    format!("{cut:?}{ellipsis}")
}

/// The whitespace-separated words of `s` with their byte offsets.
fn words(s: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in s.char_indices() {
        match (c.is_whitespace(), start) {
            (true, Some(st)) => {
                out.push((st, &s[st..i]));
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(st) = start {
        out.push((st, &s[st..]));
    }
    out
}

#[cfg(test)]
#[path = "toml_source_tests.rs"]
mod tests;
