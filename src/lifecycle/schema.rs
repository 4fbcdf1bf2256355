//! The schema check before a start, a join or a recovery changes anything: every
//! replicated table must have the same definition on this pod, the copy source and
//! every reachable peer it links with — the same columns with the same types (by
//! name: logical replication matches columns by name) and the same key (primary
//! key or replica identity). A difference is a refusal naming the pod, the table,
//! the column and both definitions.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use crate::topology::ServerId;

/// A table's definition as a backend reads it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TableDef {
    /// Column name → type as the database names it (PostgreSQL `format_type`,
    /// Altibase `SYS_COLUMNS_` type with precision and scale).
    pub columns: BTreeMap<String, String>,
    /// The columns that identify a row (primary key or replica identity index);
    /// `FULL` identities list every column.
    pub key: BTreeSet<String>,
}

/// The differences between the definitions of `table` on `here` and `there`, one
/// sentence each (empty when they are the same).
pub fn differences(table: &str, here: (ServerId, &TableDef), there: (ServerId, &TableDef)) -> Vec<String> {
    let ((a, da), (b, db)) = (here, there);
    let mut out = Vec::new();
    let names: BTreeSet<&String> = da.columns.keys().chain(db.columns.keys()).collect();
    for name in names {
        match (da.columns.get(name), db.columns.get(name)) {
            (Some(x), Some(y)) if x != y => out.push(format!("column {name} is {x} on pod {a} but {y} on pod {b}")),
            (Some(x), None) => out.push(format!("column {name} ({x}) exists on pod {a} but is missing on pod {b}")),
            (None, Some(y)) => out.push(format!("column {name} ({y}) exists on pod {b} but is missing on pod {a}")),
            _ => {}
        }
    }
    if da.key != db.key {
        let show = |k: &BTreeSet<String>| if k.is_empty() { "none".to_owned() } else { k.iter().cloned().collect::<Vec<_>>().join(", ") };
        out.push(format!("the key is ({}) on pod {a} but ({}) on pod {b}", show(&da.key), show(&db.key)));
    }
    out.into_iter().map(|d| format!("table {table}: {d}")).collect()
}

/// Renders differences as one message part.
pub fn describe(diffs: &[String]) -> String {
    let mut out = String::new();
    for (i, d) in diffs.iter().enumerate() {
        if i > 0 {
            out.push_str("; ");
        }
        let _ = write!(out, "{d}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(columns: &[(&str, &str)], key: &[&str]) -> TableDef {
        TableDef {
            columns: columns.iter().map(|(n, t)| ((*n).to_owned(), (*t).to_owned())).collect(),
            key: key.iter().map(|k| (*k).to_owned()).collect(),
        }
    }

    #[test]
    fn a_missing_column_a_changed_type_and_another_key_are_named_with_both_definitions() {
        let here = def(&[("id", "bigint"), ("v", "text")], &["id"]);
        let there = def(&[("id", "integer"), ("v", "text"), ("note", "text")], &["id", "v"]);
        assert_eq!(
            differences("public.events", (ServerId(2), &here), (ServerId(0), &there)),
            vec![
                "table public.events: column id is bigint on pod 2 but integer on pod 0",
                "table public.events: column note (text) exists on pod 0 but is missing on pod 2",
                "table public.events: the key is (id) on pod 2 but (id, v) on pod 0",
            ]
        );
        assert!(differences("t", (ServerId(1), &here), (ServerId(0), &here.clone())).is_empty());
    }
}
