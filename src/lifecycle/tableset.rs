//! The replicated table set can change (docs/operations.md, "Changing the
//! replicated tables"). The items in force for a group are the MASTER Pod's: a
//! slave whose aku.conf lists other tables (the ConfigMap has not reached it, or the
//! MASTER Pod has not restarted with it yet) follows the master and never undoes a
//! change; the master's own start applies its aku.conf to itself and to every
//! reachable member. Tables already replicated are never truncated or copied again.
//!
//! - PostgreSQL (group objects): each publication is set to the items in force, a
//!   slave's replication from the master copies the added tables (they are emptied
//!   on the slave first), every other replication registers them without a copy.
//! - Altibase: each pair whose items differ is stopped on both sides, its items are
//!   added and dropped on both sides, the added tables are emptied on the slave and
//!   synchronised from the master (`SYNC ONLY TABLE`), then the pair starts again.

use std::collections::BTreeSet;

use crate::config::ReplicationItem;
use crate::lifecycle::decide::{Ctx, PhaseList};
use crate::lifecycle::plan::{Action, Step, messages};
use crate::topology::{Pair, ServerId};

impl Ctx<'_> {
    /// The items in force for `group`: the master's when this pod is a slave and the
    /// master holds the group's objects, else this pod's configuration.
    pub(super) fn items_in_force(&self, group: usize) -> Vec<ReplicationItem> {
        if !self.me.is_master() {
            if let Some(items) = self.obs.server(ServerId::MASTER).and_then(|m| m.group_items.get(&group)) {
                return items.clone();
            }
        }
        self.config.groups[group].items.clone()
    }

    fn keys(&self, items: &[ReplicationItem]) -> BTreeSet<String> {
        items.iter().map(self.caps.item_key).collect()
    }

    /// (added, dropped) to go from `held` to `want`.
    fn item_diff(&self, held: &[ReplicationItem], want: &[ReplicationItem]) -> (Vec<ReplicationItem>, Vec<ReplicationItem>) {
        let (h, w) = (self.keys(held), self.keys(want));
        let added = want.iter().filter(|i| !h.contains(&(self.caps.item_key)(i))).cloned().collect();
        let dropped = held.iter().filter(|i| !w.contains(&(self.caps.item_key)(i))).cloned().collect();
        (added, dropped)
    }

    /// The servers whose objects this start reconciles: this pod, and on the master
    /// every reachable member.
    fn reconciled_servers(&self) -> Vec<ServerId> {
        let mut servers = vec![self.me];
        if self.me.is_master() {
            servers.extend(self.obs.reachable_peers().into_iter().filter(|&p| self.member(p)));
        }
        servers
    }

    /// The pairs this start reconciles: this pod's pairs with members, and on the
    /// master every pair between two reconciled servers.
    fn reconciled_pairs(&self) -> Vec<Pair> {
        let servers = self.reconciled_servers();
        let mut pairs = Vec::new();
        for (i, &a) in servers.iter().enumerate() {
            for &b in &servers[i + 1..] {
                pairs.push(Pair::new(a, b));
            }
        }
        for peer in self.obs.reachable_peers().into_iter().filter(|&p| self.member(p)) {
            let pair = Pair::new(self.me, peer);
            if !pairs.contains(&pair) {
                pairs.push(pair);
            }
        }
        pairs.sort();
        pairs
    }

    /// Phases that bring every reconciled object to the items in force.
    pub(super) fn reconcile_items(&self, phases: &mut PhaseList) {
        if self.caps.group_objects {
            self.reconcile_group_objects(phases);
        } else {
            self.reconcile_pairs(phases);
        }
    }

    fn reconcile_group_objects(&self, phases: &mut PhaseList) {
        let (mut set, mut truncate, mut refresh) = (Vec::new(), Vec::new(), Vec::new());
        for group in self.groups() {
            let want = self.items_in_force(group);
            for server in self.reconciled_servers() {
                let Some(state) = self.obs.server(server) else { continue };
                if let Some(held) = state.group_items.get(&group) {
                    if self.keys(held) != self.keys(&want) {
                        set.push(Step { server, action: Action::SetItems { group } });
                    }
                }
            }
            for pair in self.reconciled_pairs() {
                for server in [pair.low, pair.high] {
                    let Some(state) = self.obs.server(server) else { continue };
                    let repl = state.replication(group, pair);
                    // The pairs of this pod were just started on both sides; others only
                    // when running.
                    if !repl.exists || !(repl.started || pair.contains(self.me)) {
                        continue;
                    }
                    // Not read (or nothing registered yet: the start registers the tables).
                    let Some(held) = state.repl_items.get(&crate::lifecycle::ReplKey { group, pair }) else { continue };
                    let (added, dropped) = self.item_diff(held, &want);
                    if added.is_empty() && dropped.is_empty() {
                        continue;
                    }
                    let copy = !server.is_master() && pair.other(server).is_master() && !added.is_empty();
                    if copy {
                        truncate.push(Step { server, action: Action::TruncateItems { group, items: added } });
                    }
                    refresh.push(Step { server, action: Action::Refresh { group, pair, copy } });
                }
            }
        }
        phases.push(messages::ITEMS, set);
        phases.push(messages::ITEMS_TRUNCATE, truncate);
        phases.push(messages::REFRESH, refresh);
    }

    fn reconcile_pairs(&self, phases: &mut PhaseList) {
        let (mut stop, mut alter, mut truncate, mut sync, mut start) = (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for group in self.groups() {
            let want = self.items_in_force(group);
            for pair in self.reconciled_pairs() {
                let sides: Vec<(ServerId, Vec<ReplicationItem>)> = [pair.low, pair.high]
                    .into_iter()
                    .filter_map(|server| {
                        let state = self.obs.server(server)?;
                        let held = state.repl_items.get(&crate::lifecycle::ReplKey { group, pair })?;
                        state.replication(group, pair).exists.then(|| (server, held.clone()))
                    })
                    .collect();
                // Both sides must exist to be changed together (a missing side is created
                // with the items in force and started by the start that follows).
                if sides.len() < 2 || sides.iter().all(|(_, held)| self.keys(held) == self.keys(&want)) {
                    continue;
                }
                for &(server, _) in &sides {
                    stop.push(Step { server, action: Action::Stop { group, pair } });
                }
                for (server, held) in &sides {
                    let (add, drop) = self.item_diff(held, &want);
                    if !(add.is_empty() && drop.is_empty()) {
                        alter.push(Step { server: *server, action: Action::AlterItems { group, pair, add: add.clone(), drop } });
                    }
                    if !server.is_master() && pair.other(*server).is_master() && !add.is_empty() {
                        truncate.push(Step { server: *server, action: Action::TruncateItems { group, items: add.clone() } });
                        sync.push(Step { server: ServerId::MASTER, action: Action::SyncItems { group, pair, items: add } });
                    }
                }
                for &(server, _) in &sides {
                    start.push(Step { server, action: Action::Start { group, pair, peer_present: true } });
                }
            }
        }
        phases.push(messages::ITEMS_STOP, stop);
        phases.push(messages::ITEMS, alter);
        phases.push(messages::ITEMS_TRUNCATE, truncate);
        phases.push(messages::ITEMS_SYNC, sync);
        phases.push(messages::ITEMS_START, start);
    }
}
