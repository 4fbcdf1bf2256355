//! `aku -s` / `--status`: from any pod, connect to every server of the
//! StatefulSet in parallel (bounded), read every replication pair, flag problems,
//! and print one table (or one JSON document, schema in `docs/status-json.md`).
//! Read-only: it never changes a server.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

use serde::Serialize;

use crate::config::Config;
use crate::lifecycle::observe::{PEER_DEADLINE, in_parallel};
use crate::lifecycle::port::{Absence, Backend, Connector, PairStatus};
use crate::topology::{self, ServerId};

/// Lag above which a pair is flagged, in bytes, unless `--lag-threshold` says otherwise.
pub const DEFAULT_LAG_THRESHOLD: u64 = 16 * 1024 * 1024;

/// One pair on one server, with the problems found.
#[derive(Debug, Clone, Serialize)]
pub struct PairReport {
    #[serde(flatten)]
    pub status: PairStatus,
    pub problems: Vec<String>,
}

/// One server.
#[derive(Debug, Clone, Serialize)]
pub struct ServerReport {
    pub server: ServerId,
    pub pod: String,
    pub host: String,
    pub reachable: bool,
    /// Why the server is not reachable (or its status could not be read).
    pub absence: Option<String>,
    pub role: &'static str,
    /// The marker file, known only for the pod aku runs in.
    pub marker_present: Option<bool>,
    pub pairs: Vec<PairReport>,
}

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct StatusReport {
    pub sts: String,
    pub backend: &'static str,
    pub lag_threshold_bytes: u64,
    pub servers: Vec<ServerReport>,
    /// Number of problems flagged; 0 means healthy.
    pub problems: usize,
}

/// What aku runs in: its own server ID and marker, when the hostname is a pod of the StatefulSet.
#[derive(Debug, Clone, Copy)]
pub struct OwnPod {
    pub server: ServerId,
    pub marker_present: bool,
}

/// Connects to every server and builds the report.
pub fn collect(
    config: &Arc<Config>,
    backend: &Arc<dyn Backend>,
    connector: &Arc<dyn Connector>,
    own: Option<OwnPod>,
    lag_threshold: u64,
) -> StatusReport {
    let servers: Vec<ServerId> = (0..config.server_count).map(ServerId).collect();
    let (cfg, be, co) = (Arc::clone(config), Arc::clone(backend), Arc::clone(connector));
    let answers = in_parallel(&servers, PEER_DEADLINE, move |server| {
        let mut session = co.connect(server, &topology::host_of(&cfg, server))?;
        be.status(&cfg, server, session.as_mut())
            .map_err(|e| Absence::ConnectFailed(format!("connected, but reading its status failed: {e}")))
    });
    build(config, &answers, own, lag_threshold, backend.capabilities().item_key)
}

/// Builds the report from each server's answer (pure; tested without servers).
pub fn build(
    config: &Config,
    answers: &BTreeMap<ServerId, Result<Vec<PairStatus>, Absence>>,
    own: Option<OwnPod>,
    lag_threshold: u64,
    item_key: fn(&crate::config::ReplicationItem) -> String,
) -> StatusReport {
    let reachable = |s: ServerId| matches!(answers.get(&s), Some(Ok(_)));
    // The peer's side of the same replication, when the peer answered.
    let peer_side = |p: &PairStatus, server: ServerId| match answers.get(&p.peer) {
        Some(Ok(pairs)) => pairs.iter().find(|q| q.replication == p.replication && q.peer == server).cloned(),
        _ => None,
    };
    let mut servers = Vec::new();
    let mut problems = 0;
    for (&server, answer) in answers {
        let pairs: Vec<PairReport> = match answer {
            Ok(pairs) => pairs
                .iter()
                .map(|p| {
                    let mut found = pair_problems(p, reachable(p.peer), lag_threshold);
                    if let Some(q) = peer_side(p, server) {
                        if p.exists && p.reset && !q.reset {
                            found.push(format!(
                                "not linked: this side is reset while pod {}'s side keeps a restart point \
                                 (rows written on pod {} since may be missing here)",
                                p.peer, p.peer
                            ));
                        }
                    }
                    if let Some(diff) = items_differ(config, server, p, item_key).filter(|_| reachable(p.peer)) {
                        found.push(diff);
                    }
                    problems += found.len();
                    PairReport { status: p.clone(), problems: found }
                })
                .collect(),
            Err(_) => Vec::new(),
        };
        servers.push(ServerReport {
            server,
            pod: format!("{}-{server}", config.sts_name),
            host: topology::host_of(config, server),
            reachable: answer.is_ok(),
            absence: answer.as_ref().err().map(|a| a.detail().to_owned()),
            role: if server.is_master() { "master" } else { "slave" },
            marker_present: own.filter(|o| o.server == server).map(|o| o.marker_present),
            pairs,
        });
    }
    StatusReport { sts: config.sts_name.clone(), backend: config.backend.as_str(), lag_threshold_bytes: lag_threshold, servers, problems }
}

/// `items differ: +added -dropped` when the replication holds other items than the
/// configuration lists (a table-set change not applied yet).
fn items_differ(
    config: &Config,
    server: ServerId,
    p: &PairStatus,
    item_key: fn(&crate::config::ReplicationItem) -> String,
) -> Option<String> {
    let held = p.items.as_ref()?;
    let pair = topology::Pair::new(server, p.peer);
    let group = config.groups.iter().find(|g| topology::replication_name(&g.prefix, pair) == p.replication)?;
    let configured: std::collections::BTreeSet<String> = group.items.iter().map(item_key).collect();
    let held: std::collections::BTreeSet<String> = held.iter().cloned().collect();
    if configured == held {
        return None;
    }
    let mut diff: Vec<String> = configured.difference(&held).map(|k| format!("+{k}")).collect();
    diff.extend(held.difference(&configured).map(|k| format!("-{k}")));
    Some(format!("items differ: {}", diff.join(" ")))
}

/// The problems of one pair on a reachable server.
fn pair_problems(p: &PairStatus, peer_reachable: bool, lag_threshold: u64) -> Vec<String> {
    let mut out = Vec::new();
    if !peer_reachable {
        if !p.reset {
            let retained = p.retained_bytes.map_or_else(String::new, |b| format!(", {b} bytes of log retained"));
            if p.peer.is_master() {
                // Not an orphan: the master's end keeps the restart points so that its next start
                // catches up; the cost is the log retained until then.
                out.push(format!("master absent: log retained for its return{retained}"));
            } else {
                out.push(format!("orphan: peer absent but replication not reset{retained} (aku -p reset --peer {})", p.peer));
            }
        }
        return out;
    }
    if !p.exists {
        out.push("missing: the peer is up but the replication does not exist".to_owned());
    } else if !p.started {
        out.push("stopped".to_owned());
    } else if p.running == Some(false) {
        out.push("started but not running".to_owned());
    }
    if let Some(joiner) = p.paused_for_join_of {
        out.push(format!(
            "paused by the join of pod {joiner}: it resumes when that join completes, or with the next aku run of any pod once the join is over"
        ));
    }
    if let Some(lag) = p.lag_bytes {
        if u64::try_from(lag).unwrap_or(0) > lag_threshold {
            out.push(format!("lag {lag} bytes above {lag_threshold}"));
        }
    }
    out
}

fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

fn opt<T: ToString>(v: Option<&T>) -> String {
    v.map_or_else(|| "-".to_owned(), ToString::to_string)
}

/// The report as one aligned table, a row per server and pair.
pub fn render_text(report: &StatusReport) -> String {
    let header = [
        "POD",
        "HOST",
        "REACHABLE",
        "ROLE",
        "MARKER",
        "REPLICATION",
        "PEER",
        "EXISTS",
        "STARTED",
        "RUNNING",
        "RESET",
        "LAG_BYTES",
        "LAG_S",
        "RETAINED_BYTES",
        "ERRORS",
        "PROBLEMS",
    ];
    let mut rows: Vec<Vec<String>> = vec![header.iter().map(|h| (*h).to_owned()).collect()];
    for s in &report.servers {
        let lead = [
            s.pod.clone(),
            s.host.clone(),
            yes_no(s.reachable).to_owned(),
            s.role.to_owned(),
            s.marker_present.map_or_else(|| "-".to_owned(), |m| yes_no(m).to_owned()),
        ];
        if !s.reachable || s.pairs.is_empty() {
            // One row for the server: unreachable, or reachable without any pair (a
            // StatefulSet of one pod).
            let mut row = lead.to_vec();
            row.extend(std::iter::repeat_n("-".to_owned(), 10));
            row.push(if s.reachable { "-".to_owned() } else { format!("unreachable: {}", s.absence.as_deref().unwrap_or("")) });
            rows.push(row);
            continue;
        }
        for p in &s.pairs {
            let st = &p.status;
            let mut row = lead.to_vec();
            row.extend([
                st.replication.clone(),
                st.peer.to_string(),
                yes_no(st.exists).to_owned(),
                yes_no(st.started).to_owned(),
                st.running.map_or_else(|| "-".to_owned(), |r| yes_no(r).to_owned()),
                yes_no(st.reset).to_owned(),
                opt(st.lag_bytes.as_ref()),
                opt(st.lag_s.as_ref()),
                opt(st.retained_bytes.as_ref()),
                st.errors.clone().unwrap_or_else(|| "-".to_owned()),
                if p.problems.is_empty() { "-".to_owned() } else { p.problems.join("; ") },
            ]);
            rows.push(row);
        }
    }
    let widths: Vec<usize> = (0..header.len()).map(|c| rows.iter().map(|r| r[c].len()).max().unwrap_or(0)).collect();
    let mut out = String::new();
    for row in &rows {
        let cells: Vec<String> = row.iter().zip(&widths).map(|(cell, w)| format!("{cell:<w$}")).collect();
        let _ = writeln!(out, "{}", cells.join("  ").trim_end());
    }
    let _ = if report.problems == 0 {
        writeln!(out, "\nHealthy: no problem found.")
    } else {
        writeln!(out, "\n{} problem(s) found.", report.problems)
    };
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reachable_server_without_pairs_still_has_its_row() {
        let report = StatusReport {
            sts: "pg".into(),
            backend: "postgresql",
            lag_threshold_bytes: DEFAULT_LAG_THRESHOLD,
            servers: vec![ServerReport {
                server: ServerId(0),
                pod: "pg-0".into(),
                host: "pg-0.svc".into(),
                reachable: true,
                absence: None,
                role: "master",
                marker_present: Some(true),
                pairs: Vec::new(),
            }],
            problems: 0,
        };
        let text = render_text(&report);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[1].split_whitespace().collect::<Vec<_>>()[..5], ["pg-0", "pg-0.svc", "yes", "master", "yes"], "{text}");
        assert!(lines[1].ends_with('-'), "{text}");
        assert_eq!(lines[3], "Healthy: no problem found.");
    }
}
