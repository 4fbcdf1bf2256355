//! `aku -i`: the parsed configuration as the original prints it
//! (`spec/aku-behaviour.md` section 6), or as one JSON object (`docs/info-json.md`).
//!
//! Kept from the original for script compatibility: the misspelt header
//! `#### Serve[ID:n] Replication list ####`. Changed on purpose: the password is
//! masked as `********` unless `--show-password` is given.

use std::fmt::Write as _;

use serde::Serialize;

use crate::config::{BackendKind, Config, ReplicationItem};
use crate::topology::{self, ServerId};

const RULE: &str = " #########################";
const MASK: &str = "********";

/// Renders `-i` in the original text layout. `password` is the resolved password,
/// printed only when `show_password` is set.
pub fn render_text(config: &Config, me: ServerId, password: &str, show_password: bool) -> String {
    let mut out = String::new();
    let pw = if show_password { password } else { MASK };
    // The first rule has two leading spaces, the others one (Utilities manual, aku, example 1).
    let _ = writeln!(out, " {RULE}");
    let _ = writeln!(out, " [ Server ]");
    let _ = writeln!(out, "  Server ID        : {me}");
    let _ = writeln!(out, "  Host             : {}", topology::host_of(config, me));
    let _ = writeln!(out, "  User             : {}", config.sys_user);
    let _ = writeln!(out, "  Password         : {pw}");
    let _ = writeln!(out, "  Port             : {}", config.port_no);
    let _ = writeln!(out, "  Replication Port : {}", config.replication_port_no);
    let _ = writeln!(out, "  Max Server Count : {}", config.server_count);
    if config.backend != BackendKind::Altibase {
        let _ = writeln!(out, "  Backend          : {}", config.backend.as_str());
        let _ = writeln!(out, "  Database         : {}", config.database);
    }
    for group in &config.groups {
        let _ = writeln!(out, "{RULE}");
        let _ = writeln!(out, " [ Replications ]");
        for server in 0..config.server_count {
            let _ = writeln!(out, " #### Serve[ID:{server}] Replication list ####");
            for name in topology::replication_names_of(&group.prefix, ServerId(server), config.server_count) {
                let _ = writeln!(out, "  Replication Name : {name}");
            }
        }
        let _ = writeln!(out, "{RULE}");
        let _ = writeln!(out, " [ Replication Items ]");
        let _ = writeln!(out, "  #### Replication [Prefix:{}] item list ####", group.prefix);
        for (i, item) in group.items.iter().enumerate() {
            // Items are separated by a line holding one space.
            if i > 0 {
                let _ = writeln!(out, " ");
            }
            let _ = writeln!(out, "  User Name        : {}", item.user);
            let _ = writeln!(out, "  Table Name       : {}", item.table);
            if let Some(partition) = &item.partition {
                let _ = writeln!(out, "  Partition Name   : {partition}");
            }
        }
    }
    let _ = writeln!(out, "{RULE}");
    out
}

/// The JSON document of `-i --output json` (schema: `docs/info-json.md`).
#[derive(Debug, Serialize)]
pub struct InfoJson<'a> {
    pub server: ServerJson<'a>,
    pub settings: SettingsJson<'a>,
    pub groups: Vec<GroupJson<'a>>,
}

#[derive(Debug, Serialize)]
pub struct ServerJson<'a> {
    pub id: ServerId,
    pub host: String,
    pub user: &'a str,
    pub password: &'a str,
    pub port: u16,
    pub replication_port: u16,
    pub max_server_count: u8,
}

#[derive(Debug, Serialize)]
pub struct SettingsJson<'a> {
    pub sts_name: &'a str,
    pub svc_name: &'a str,
    pub backend: BackendKind,
    pub database: &'a str,
    pub odbc_driver: &'a str,
    pub query_timeout_s: u32,
    pub query_retry_count: u32,
    pub query_retry_delay_ms: u32,
    pub address_check_count: u32,
    pub flush_at_start: bool,
    pub flush_timeout_at_start_s: u32,
    pub delay_start_complete_s: u32,
    pub flush_at_end: bool,
    pub replication_reset_at_end: bool,
}

#[derive(Debug, Serialize)]
pub struct GroupJson<'a> {
    pub prefix: &'a str,
    pub sync_parallel_count: u32,
    pub replications: Vec<ServerReplicationsJson>,
    pub items: &'a [ReplicationItem],
}

#[derive(Debug, Serialize)]
pub struct ServerReplicationsJson {
    pub server: ServerId,
    pub names: Vec<String>,
}

/// Renders `-i --output json`: one pretty-printed JSON object and a newline.
pub fn render_json(config: &Config, me: ServerId, password: &str, show_password: bool) -> String {
    let doc = InfoJson {
        server: ServerJson {
            id: me,
            host: topology::host_of(config, me),
            user: &config.sys_user,
            password: if show_password { password } else { MASK },
            port: config.port_no,
            replication_port: config.replication_port_no,
            max_server_count: config.server_count,
        },
        settings: SettingsJson {
            sts_name: &config.sts_name,
            svc_name: &config.svc_name,
            backend: config.backend,
            database: &config.database,
            odbc_driver: &config.odbc_driver,
            query_timeout_s: config.query_timeout_s,
            query_retry_count: config.query_retry_count,
            query_retry_delay_ms: config.query_retry_delay_ms,
            address_check_count: config.address_check_count,
            flush_at_start: config.flush_at_start,
            flush_timeout_at_start_s: config.flush_timeout_at_start_s,
            delay_start_complete_s: config.delay_start_complete_s,
            flush_at_end: config.flush_at_end,
            replication_reset_at_end: config.replication_reset_at_end,
        },
        groups: config
            .groups
            .iter()
            .map(|g| GroupJson {
                prefix: &g.prefix,
                sync_parallel_count: g.sync_parallel_count,
                replications: (0..config.server_count)
                    .map(|s| ServerReplicationsJson {
                        server: ServerId(s),
                        names: topology::replication_names_of(&g.prefix, ServerId(s), config.server_count),
                    })
                    .collect(),
                items: &g.items,
            })
            .collect(),
    };
    let mut text = serde_json::to_string_pretty(&doc).expect("the info document always serialises");
    text.push('\n');
    text
}
