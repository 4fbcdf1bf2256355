//! Typed SQL templates: a statement is text parts and typed variables
//! ([`Sql`]); a `Capture` operation reads one value of a declared kind into a
//! variable ([`Var`]), and a later statement renders it as a literal of that kind.
//! A value that was never read is an error naming the variable, and the statement
//! is never sent. Variable names come from [`Var::new`] only.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;

use crate::topology::ServerId;

/// The kind of a captured value, which decides how it is parsed and rendered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ValueKind {
    /// A PostgreSQL log sequence number `X/Y` (hexadecimal), rendered `'X/Y'`.
    Lsn,
    /// An object identifier (unsigned 32-bit), rendered as digits.
    Oid,
    /// A signed 64-bit integer, rendered as digits.
    Int,
    /// Text, rendered as a string literal with `'` doubled.
    Text,
}

/// A captured value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Lsn(String),
    Oid(u32),
    Int(i64),
    Text(String),
}

impl Value {
    /// Parses the text a query returned as a value of `kind`.
    pub fn parse(kind: ValueKind, text: &str) -> Result<Value, String> {
        let t = text.trim();
        let bad = || format!("`{}` is not a valid {kind:?} value", t.chars().take(64).collect::<String>());
        match kind {
            ValueKind::Lsn => {
                let (hi, lo) = t.split_once('/').ok_or_else(bad)?;
                let hex = |s: &str| !s.is_empty() && s.len() <= 8 && s.bytes().all(|b| b.is_ascii_hexdigit());
                if hex(hi) && hex(lo) { Ok(Value::Lsn(t.to_ascii_uppercase())) } else { Err(bad()) }
            }
            ValueKind::Oid => t.parse().map(Value::Oid).map_err(|_| bad()),
            ValueKind::Int => t.parse().map(Value::Int).map_err(|_| bad()),
            ValueKind::Text => Ok(Value::Text(text.to_owned())),
        }
    }

    /// The value as an SQL literal.
    pub fn literal(&self) -> String {
        match self {
            Value::Lsn(l) => format!("'{l}'"),
            Value::Oid(o) => o.to_string(),
            Value::Int(i) => i.to_string(),
            Value::Text(t) => format!("'{}'", t.replace('\'', "''")),
        }
    }
}

/// A variable: a name and the kind of value it holds.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Var {
    name: String,
    pub kind: ValueKind,
}

impl Var {
    /// The variable `what` read on `server` for `object` (a replication name,
    /// or a group prefix): `server<N>.<object>.<what>`. The one place names are made.
    pub fn new(kind: ValueKind, server: ServerId, object: &str, what: &str) -> Var {
        Var { name: format!("server{server}.{object}.{what}"), kind }
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

impl fmt::Display for Var {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{{{}}}", self.name)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Var(Var),
}

/// A statement: text parts and typed variables.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Sql {
    parts: Vec<Part>,
}

impl Sql {
    /// Plain text (no variable).
    pub fn text(text: impl Into<String>) -> Sql {
        Sql { parts: vec![Part::Text(text.into())] }
    }

    /// Appends text.
    #[must_use]
    pub fn then(mut self, text: impl Into<String>) -> Sql {
        self.parts.push(Part::Text(text.into()));
        self
    }

    /// Appends a variable, rendered as a literal of its kind.
    #[must_use]
    pub fn var(mut self, var: &Var) -> Sql {
        self.parts.push(Part::Var(var.clone()));
        self
    }

    /// The variables the statement needs.
    pub fn vars(&self) -> impl Iterator<Item = &Var> {
        self.parts.iter().filter_map(|p| match p {
            Part::Var(v) => Some(v),
            Part::Text(_) => None,
        })
    }

    /// The statement with every variable rendered from `captures`, or the first
    /// variable that has no value.
    pub fn render(&self, captures: &Captures) -> Result<String, Var> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Var(v) => out.push_str(&captures.get(v).ok_or_else(|| v.clone())?.literal()),
            }
        }
        Ok(out)
    }

    /// The statement with variables shown as `{name}` (dry-run plans).
    pub fn template(&self) -> String {
        self.parts
            .iter()
            .map(|p| match p {
                Part::Text(t) => t.clone(),
                Part::Var(v) => v.to_string(),
            })
            .collect()
    }
}

impl From<&str> for Sql {
    fn from(text: &str) -> Sql {
        Sql::text(text)
    }
}

impl From<String> for Sql {
    fn from(text: String) -> Sql {
        Sql::text(text)
    }
}

/// The values captured during one run, shared by every track.
#[derive(Debug, Default)]
pub struct Captures(Mutex<HashMap<String, Value>>);

impl Captures {
    pub fn get(&self, var: &Var) -> Option<Value> {
        self.0.lock().expect("captures lock").get(var.name()).cloned()
    }

    pub fn set(&self, var: &Var, value: Value) {
        self.0.lock().expect("captures lock").insert(var.name().to_owned(), value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_render_as_literals_of_their_kind() {
        assert_eq!(Value::parse(ValueKind::Lsn, "0/1a2B").unwrap().literal(), "'0/1A2B'");
        assert_eq!(Value::parse(ValueKind::Oid, "16400").unwrap().literal(), "16400");
        assert_eq!(Value::parse(ValueKind::Int, "-1").unwrap().literal(), "-1");
        assert_eq!(Value::parse(ValueKind::Text, "it's").unwrap().literal(), "'it''s'");
        assert!(Value::parse(ValueKind::Lsn, "0/1'; DROP").is_err());
        assert!(Value::parse(ValueKind::Oid, "").is_err());
        assert!(Value::parse(ValueKind::Int, "1 OR 1=1").is_err());
    }

    #[test]
    fn a_statement_renders_only_when_every_variable_has_a_value() {
        let lsn = Var::new(ValueKind::Lsn, ServerId(1), "aku_rep_01", "flush_lsn");
        let sql = Sql::text("SELECT confirmed_flush_lsn >= ").var(&lsn).then("::pg_lsn");
        assert_eq!(sql.template(), "SELECT confirmed_flush_lsn >= {server1.aku_rep_01.flush_lsn}::pg_lsn");
        let captures = Captures::default();
        assert_eq!(sql.render(&captures), Err(lsn.clone()));
        captures.set(&lsn, Value::Lsn("0/2800".into()));
        assert_eq!(sql.render(&captures).unwrap(), "SELECT confirmed_flush_lsn >= '0/2800'::pg_lsn");
    }
}
