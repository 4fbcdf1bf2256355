//! Renders a plan as text for `--dry-run`: phase by phase, server by server, the
//! exact SQL each server would receive (variables such as
//! `{server1.aku_rep_12.bookmark_lsn}` stand for values read while the plan runs).

use std::fmt::Write as _;

use crate::config::Config;
use crate::lifecycle::port::{Backend, Op, OpKind};
use crate::lifecycle::{MarkerChange, Observation, PeerState, Plan};
use crate::topology::{self, ServerId};

/// One operation as a line (or lines) of SQL text with `;`.
pub fn op_text(op: &Op) -> String {
    match &op.kind {
        OpKind::Exec { sql } => format!("{};", sql.template()),
        OpKind::Capture { sql, into } => format!("{};  -- keeps {into}", sql.template()),
        OpKind::WaitUntil { sql, what, timeout_s, watch, .. } => {
            let mut text = format!("-- wait until {what} (at most {timeout_s} s), polling:\n{};", sql.template());
            for w in watch {
                let _ = write!(text, "\n--   and watching on server {}: {};", w.server, w.sql.template());
            }
            text
        }
        OpKind::Sleep { seconds } => format!("-- sleep {seconds} s"),
        OpKind::Skip { note, .. } => format!("-- nothing to run: {note}"),
    }
}

/// The dry-run text of `plan`.
pub fn render_plan(config: &Config, backend: &dyn Backend, obs: &Observation, plan: &Plan, marker: &str) -> String {
    let me = obs.me;
    let mut out = String::new();
    let _ = writeln!(out, "Plan: {} on server {me} ({})", plan.procedure.title(), topology::host_of(config, me));
    for (id, peer) in &obs.peers {
        let what = match peer {
            PeerState::Reachable(_) => "reachable".to_owned(),
            PeerState::Absent(a) => format!("absent ({})", a.detail()),
        };
        let _ = writeln!(out, "  peer {id} ({}): {what}", topology::host_of(config, *id));
    }
    for (n, phase) in plan.phases.iter().enumerate() {
        let _ = writeln!(out, "\nPhase {}: {}", n + 1, phase.begin);
        let mut current: Option<ServerId> = None;
        for step in &phase.steps {
            for op in backend.expand(config, step) {
                if current != Some(op.server) {
                    current = Some(op.server);
                    let _ = writeln!(out, "  -- on server {} ({})", op.server, topology::host_of(config, op.server));
                }
                for line in op_text(&op).lines() {
                    let _ = writeln!(out, "  {line}");
                }
            }
        }
    }
    let _ = match plan.marker {
        MarkerChange::Write => writeln!(out, "\nFinally: create {marker}"),
        MarkerChange::Remove => writeln!(out, "\nFinally: remove {marker}"),
        MarkerChange::Keep => writeln!(out, "\nFinally: {marker} is left as it is"),
    };
    out
}
