//! What a PostgreSQL server must offer before aku changes anything on it:
//! `wal_level = logical`, and every replicated table present with a primary key
//! or a usable replica identity. Each problem is a complete sentence.

use std::collections::BTreeMap;

use crate::config::Config;
use crate::lifecycle::schema::TableDef;
use crate::odbc::{DbError, Session};
use crate::topology::ServerId;

use super::sql::{lit, relation};

/// The unmet preconditions of `server`, in configuration order.
pub(super) fn problems(config: &Config, server: ServerId, session: &mut dyn Session) -> Result<Vec<String>, DbError> {
    let mut problems = Vec::new();
    let t = config.query_timeout_s;
    let wal = session.query("SELECT current_setting('wal_level')", t)?;
    let wal = wal.first().and_then(|r| r.text(0)).unwrap_or_default().to_owned();
    if wal != "logical" {
        problems.push(format!("wal_level is {wal}, it must be logical (set wal_level = logical and restart the server)."));
    }
    let values = relation_values(config);
    let rows = session.query(
        &format!(
            "SELECT v.s, v.r, c.oid IS NOT NULL, coalesce(c.relreplident::text, ''), \
             coalesce((SELECT bool_or(i.indisprimary) FROM pg_index i WHERE i.indrelid = c.oid), false) \
             FROM (VALUES {}) AS v(o, s, r) LEFT JOIN pg_namespace n ON n.nspname = v.s \
             LEFT JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = v.r AND c.relkind IN ('r', 'p') \
             ORDER BY v.o",
            values.join(", ")
        ),
        t,
    )?;
    for row in rows {
        let table = format!("{}.{}", row.text(0).unwrap_or_default(), row.text(1).unwrap_or_default());
        if !row.flag(2) {
            problems.push(format!("Table {table} does not exist on server {server} (create it on every pod before aku runs)."));
            continue;
        }
        let identity_ok = match row.text(3).unwrap_or_default() {
            "d" => row.flag(4),
            "f" | "i" => true,
            _ => false,
        };
        if !identity_ok {
            problems.push(format!("Table {table} has no primary key or replica identity (UPDATE and DELETE could not be replicated)."));
        }
    }
    Ok(problems)
}

/// The definition of every replicated table present on the server, by
/// `schema.relation`: columns with their `format_type`, and the replica identity's
/// columns (the primary key by default; every column for `REPLICA IDENTITY FULL`).
pub(super) fn tables(config: &Config, session: &mut dyn Session) -> Result<BTreeMap<String, TableDef>, DbError> {
    let values = relation_values(config);
    let rows = session.query(
        &format!(
            "SELECT v.s || '.' || v.r, a.attname, format_type(a.atttypid, a.atttypmod), \
             CASE c.relreplident WHEN 'f' THEN true ELSE coalesce(a.attnum = ANY ((SELECT i.indkey FROM pg_index i \
             WHERE i.indrelid = c.oid AND ((c.relreplident = 'd' AND i.indisprimary) OR (c.relreplident = 'i' AND i.indisreplident)) \
             LIMIT 1)::int2[]), false) END \
             FROM (VALUES {}) AS v(o, s, r) JOIN pg_namespace n ON n.nspname = v.s \
             JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = v.r AND c.relkind IN ('r', 'p') \
             JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped \
             ORDER BY v.o, a.attnum",
            values.join(", ")
        ),
        config.query_timeout_s,
    )?;
    let mut out: BTreeMap<String, TableDef> = BTreeMap::new();
    for row in rows {
        let (Some(table), Some(column), Some(kind)) = (row.text(0), row.text(1), row.text(2)) else { continue };
        let def = out.entry(table.to_owned()).or_default();
        def.columns.insert(column.to_owned(), kind.to_owned());
        if row.flag(3) {
            def.key.insert(column.to_owned());
        }
    }
    Ok(out)
}

/// `(order, schema, relation)` rows of every configured item, for a `VALUES` list.
fn relation_values(config: &Config) -> Vec<String> {
    let mut values = Vec::new();
    for item in config.groups.iter().flat_map(|g| &g.items) {
        let (schema, rel) = relation(item);
        values.push(format!("({}, {}, {})", values.len(), lit(&schema), lit(&rel)));
    }
    values
}
