//! `RawConfig` + `EnvOverrides` → [`Config`]: every property of spec table 3.2 and
//! the extensions with its default and range, the password sources, and the
//! REPLICATIONS groups. Pure: it reads nothing but its arguments.
//!
//! Checks run in a fixed order so that a file with several faults always
//! reports the same one first: names (unknown, misplaced, duplicate) in file
//! order, then the top-level values in the order of the spec's table, then the
//! groups in file order.
//!
//! Decisions beyond the spec, documented in `aku.conf.sample`:
//! - `AKU_QUERY_TIMEOUT` is 1..2^32-1: 0 would mean "no timeout" to ODBC and
//!   every statement aku runs must be bounded.
//! - An empty optional value (`AKU_PORT_NO =`) is an error, not the default.
//! - Empty `AKU_SYS_PASSWORD`/`AKU_SYS_PASSWORD_FILE` environment variables count as unset.
//! - Prefixes and items are compared ignoring ASCII case: the database folds
//!   unquoted names, so `sys.t1` and `SYS.T1` are the same table.
//! - With the postgresql backend names are limited to 63 bytes (`PostgreSQL`
//!   silently truncates longer identifiers); with altibase to 128.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::PathBuf;

use super::error::{ConfigError, Location};
use super::quote::show;
use super::raw::{RawConfig, RawGroup, RawProperty, RawReplications, RawValue, Span};
use super::schema::{self, Place};
use super::values::{byte_limit, choice, dns_label, flag, identifier, non_empty, number};
use super::{BackendKind, Config, EnvOverrides, PasswordSource, ReplicationGroup, ReplicationItem, Secret};

/// Altibase limits replication names to 40 bytes; ours are `<prefix>_<i><j>`.
const MAX_REPLICATION_NAME: usize = 40;
const REPLICATION_SUFFIX: usize = "_01".len();
const MAX_PREFIX: usize = MAX_REPLICATION_NAME - REPLICATION_SUFFIX;
const PREFIX_WHY: &str = ", because replication names <prefix>_<i><j> add 3 bytes and Altibase allows at most 40";
const ALTIBASE_DRIVER: &str = "libaltibase_odbc-64bit-ul64.so";

/// The properties of one scope, each name checked and present at most once.
struct Scope<'r>(Vec<&'r RawProperty>);

impl<'r> Scope<'r> {
    fn new(properties: &'r [RawProperty], place: Place) -> Result<Self, ConfigError> {
        let mut seen: Vec<&RawProperty> = Vec::new();
        for p in properties {
            schema::check_name(&p.name, p.span, place)?;
            let canonical = schema::canonical(&p.name);
            if let Some(first) = seen.iter().find(|f| schema::canonical(&f.name) == canonical) {
                return Err(ConfigError::Duplicate {
                    at: Location::new(p.span),
                    name: p.name.clone(),
                    first_name: first.name.clone(),
                    first: first.span,
                });
            }
            seen.push(p);
        }
        Ok(Scope(seen))
    }

    fn get(&self, name: &str) -> Option<&'r RawValue> {
        self.0.iter().find(|p| schema::canonical(&p.name) == name).map(|p| &p.value)
    }

    /// A required value: missing or empty is the original's message.
    fn required(&self, name: &str) -> Result<&'r RawValue, ConfigError> {
        self.get(name).filter(|v| !v.text.is_empty()).ok_or_else(|| ConfigError::missing(name))
    }

    fn number<T>(&self, name: &str, default: T, min: T, max: T) -> Result<T, ConfigError>
    where
        T: Copy + Into<u64> + TryFrom<u64> + std::fmt::Display,
    {
        self.get(name).map_or(Ok(default), |v| number(v, name, min, max))
    }

    fn flag(&self, name: &str, default: bool) -> Result<bool, ConfigError> {
        self.get(name).map_or(Ok(default), |v| flag(v, name))
    }
}

pub(crate) fn validate(raw: &RawConfig, env: &EnvOverrides) -> Result<Config, ConfigError> {
    let top = Scope::new(&raw.properties, Place::TopLevel)?;
    let replications = single_replications(raw)?;
    let group_scopes = match replications {
        Some(r) => r.groups.iter().map(|g| Scope::new(&g.properties, Place::Group)).collect::<Result<_, _>>()?,
        None => Vec::new(),
    };

    let backend = match top.get("AKU_BACKEND") {
        None => BackendKind::Altibase,
        Some(v) => match choice(v, "AKU_BACKEND", &["altibase", "postgresql"])? {
            "altibase" => BackendKind::Altibase,
            _ => BackendKind::Postgresql,
        },
    };
    let name_limit = match backend {
        BackendKind::Altibase => 128,
        BackendKind::Postgresql => 63,
    };
    let sts_name = dns_label(top.required("AKU_STS_NAME")?, "AKU_STS_NAME")?;
    let svc_name = dns_label(top.required("AKU_SVC_NAME")?, "AKU_SVC_NAME")?;
    let server_count = top.number("AKU_SERVER_COUNT", 4u8, 1, 6)?;
    let password = password(&top, env)?;
    let port_no = top.number("AKU_PORT_NO", 20300u16, 1024, 65535)?;
    let replication_port_no = top.number("AKU_REPLICATION_PORT_NO", 20301u16, 1024, 65535)?;
    let query_timeout_s = top.number("AKU_QUERY_TIMEOUT", 3600u32, 1, u32::MAX)?;
    let query_retry_count = top.number("AKU_QUERY_RETRY_COUNT", 5u32, 0, u32::MAX)?;
    let query_retry_delay_ms = top.number("AKU_QUERY_RETRY_DELAY_MSEC", 1000u32, 0, u32::MAX)?;
    let address_check_count = top.number("AKU_ADDRESS_CHECK_COUNT", 30u32, 1, u32::MAX)?;
    let flush_at_start = top.flag("AKU_FLUSH_AT_START", true)?;
    let flush_timeout_at_start_s = top.number("AKU_FLUSH_TIMEOUT_AT_START", 300u32, 0, u32::MAX)?;
    let delay_start_complete_s = top.number("AKU_DELAY_START_COMPLETE_TIME", 0u32, 0, u32::MAX)?;
    let flush_at_end = top.flag("AKU_FLUSH_AT_END", true)?;
    let replication_reset_at_end = top.flag("AKU_REPLICATION_RESET_AT_END", true)?;
    let sys_user = match top.get("AKU_SYS_USER") {
        Some(v) => identifier(v, &|| format!("AKU_SYS_USER = {}", show(&v.text)), name_limit, "")?,
        None if backend == BackendKind::Postgresql => "postgres".to_owned(),
        None => "SYS".to_owned(),
    };
    let database = match top.get("AKU_DATABASE") {
        Some(v) => identifier(v, &|| format!("AKU_DATABASE = {}", show(&v.text)), name_limit, "")?,
        None => "postgres".to_owned(),
    };
    let odbc_driver = match top.get("AKU_ODBC_DRIVER") {
        Some(v) => non_empty(v, "AKU_ODBC_DRIVER", "an ODBC driver name or driver library path")?,
        None => default_driver(backend, env),
    };
    let groups = groups(replications, &group_scopes, name_limit)?;

    Ok(Config {
        sts_name,
        svc_name,
        server_count,
        sys_user,
        password,
        port_no,
        replication_port_no,
        query_timeout_s,
        query_retry_count,
        query_retry_delay_ms,
        address_check_count,
        flush_at_start,
        flush_timeout_at_start_s,
        delay_start_complete_s,
        flush_at_end,
        replication_reset_at_end,
        backend,
        database,
        odbc_driver,
        groups,
    })
}

/// The one REPLICATIONS property, if any; a second one is a duplicate.
fn single_replications(raw: &RawConfig) -> Result<Option<&RawReplications>, ConfigError> {
    if let [first, second, ..] = raw.replications.as_slice() {
        return Err(ConfigError::Duplicate {
            at: Location::new(second.span),
            name: "REPLICATIONS".to_owned(),
            first_name: "REPLICATIONS".to_owned(),
            first: first.span,
        });
    }
    Ok(raw.replications.first())
}

/// Environment `AKU_SYS_PASSWORD` > environment `AKU_SYS_PASSWORD_FILE` >
/// property `AKU_SYS_PASSWORD_FILE` > property `AKU_SYS_PASSWORD`.
fn password(top: &Scope<'_>, env: &EnvOverrides) -> Result<PasswordSource, ConfigError> {
    if let Some(p) = env.sys_password.as_deref().filter(|p| !p.is_empty()) {
        return Ok(PasswordSource::Environment(Secret::new(p)));
    }
    if let Some(path) = env.sys_password_file.as_deref().filter(|p| !p.is_empty()) {
        return Ok(PasswordSource::File(PathBuf::from(path)));
    }
    if let Some(v) = top.get("AKU_SYS_PASSWORD_FILE") {
        let path = non_empty(v, "AKU_SYS_PASSWORD_FILE", "the path of a file that holds the password")?;
        return Ok(PasswordSource::File(PathBuf::from(path)));
    }
    let v = top.required("AKU_SYS_PASSWORD")?;
    if v.boolean {
        let (at, name) = (Location::new(v.span), "AKU_SYS_PASSWORD".to_owned());
        let problem = "is a boolean (booleans are for the 0/1 flags only)";
        return Err(ConfigError::BadValue { at, name, value: "********".to_owned(), problem, allowed: "a string".to_owned() });
    }
    Ok(PasswordSource::Property(Secret::new(v.text.clone())))
}

fn default_driver(backend: BackendKind, env: &EnvOverrides) -> String {
    match (backend, env.altibase_home.as_deref().filter(|h| !h.is_empty())) {
        (BackendKind::Postgresql, _) => "PostgreSQL Unicode".to_owned(),
        (BackendKind::Altibase, Some(home)) => format!("{}/lib/{ALTIBASE_DRIVER}", home.trim_end_matches('/')),
        (BackendKind::Altibase, None) => ALTIBASE_DRIVER.to_owned(),
    }
}

fn groups(replications: Option<&RawReplications>, scopes: &[Scope<'_>], name_limit: usize) -> Result<Vec<ReplicationGroup>, ConfigError> {
    let raw_groups = replications.map_or(&[][..], |r| r.groups.as_slice());
    if raw_groups.is_empty() {
        return Err(ConfigError::missing("REPLICATIONS"));
    }
    let mut groups: Vec<ReplicationGroup> = Vec::new();
    let mut prefixes: HashMap<Folded<'_>, Span> = HashMap::new();
    for (raw, scope) in raw_groups.iter().zip(scopes) {
        let prefix_value = scope.required("REPLICATION_NAME_PREFIX")?;
        let what = || format!("REPLICATION_NAME_PREFIX = {}", show(&prefix_value.text));
        let prefix = identifier(prefix_value, &what, name_limit, "")?;
        // The prefix limit (37 bytes) comes from the replication-name limit.
        byte_limit(prefix_value, &what, MAX_PREFIX, PREFIX_WHY)?;
        if let Some(&first) = prefixes.get(&Folded(&prefix_value.text)) {
            return Err(ConfigError::DuplicatePrefix { at: Location::new(prefix_value.span), prefix, first });
        }
        prefixes.insert(Folded(&prefix_value.text), prefix_value.span);
        let sync_parallel_count = scope.number("SYNC_PARALLEL_COUNT", 1u32, 1, 100)?;
        let items = items(raw, &prefix, name_limit)?;
        groups.push(ReplicationGroup { prefix, sync_parallel_count, items });
    }
    Ok(groups)
}

fn items(raw: &RawGroup, prefix: &str, name_limit: usize) -> Result<Vec<ReplicationItem>, ConfigError> {
    if raw.items.is_empty() {
        return Err(ConfigError::missing("REPLICATIONS"));
    }
    let mut items: Vec<ReplicationItem> = Vec::with_capacity(raw.items.len());
    let mut seen: HashMap<ItemKey<'_>, Span> = HashMap::with_capacity(raw.items.len());
    for item in &raw.items {
        let shown = || match &item.partition {
            Some(p) => format!("{}.{} PARTITION {}", show(&item.user.text), show(&item.table.text), show(&p.text)),
            None => format!("{}.{}", show(&item.user.text), show(&item.table.text)),
        };
        let part = |value: &RawValue, kind: &str| {
            identifier(value, &|| format!("{kind} name {} of item {}", show(&value.text), shown()), name_limit, "")
        };
        let new = ReplicationItem {
            user: part(&item.user, "user")?,
            table: part(&item.table, "table")?,
            partition: item.partition.as_ref().map(|p| part(p, "partition")).transpose()?,
        };
        // The whole table and one of its partitions are different items.
        let key = (Folded(&item.user.text), Folded(&item.table.text), item.partition.as_ref().map(|p| Folded(&p.text)));
        if let Some(&first) = seen.get(&key) {
            let at = Location::new(item.span);
            return Err(ConfigError::DuplicateItem { at, item: shown(), prefix: prefix.to_owned(), first });
        }
        seen.insert(key, item.span);
        items.push(new);
    }
    Ok(items)
}

type ItemKey<'a> = (Folded<'a>, Folded<'a>, Option<Folded<'a>>);

/// A name compared and hashed ignoring ASCII case, without allocating.
#[derive(Debug, Clone, Copy, Eq)]
struct Folded<'a>(&'a str);

impl PartialEq for Folded<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.0.eq_ignore_ascii_case(other.0)
    }
}

impl Hash for Folded<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        for b in self.0.bytes() {
            state.write_u8(b.to_ascii_uppercase());
        }
        state.write_u8(0xff);
    }
}

#[cfg(test)]
#[path = "validate_tests.rs"]
mod tests;
