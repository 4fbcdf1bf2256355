//! What a PostgreSQL server must offer before aku changes anything on it:
//! `wal_level = logical`, and every replicated table present with a primary key
//! or a usable replica identity. Each problem is a complete sentence.

use crate::config::Config;
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
    let mut values = Vec::new();
    for group in &config.groups {
        for item in &group.items {
            let (schema, rel) = relation(item);
            values.push(format!("({}, {}, {})", values.len(), lit(&schema), lit(&rel)));
        }
    }
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
