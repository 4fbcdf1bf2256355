//! Exact SQL transcripts of every procedure, per backend: for each scenario, the
//! statements each server receives, in order, and the log lines. Snapshots live in
//! `tests/transcripts/<backend>/`; review changes with `cargo insta review`.

mod support;

use aku::config::BackendKind;
use aku::lifecycle::Intent;
use aku::topology::ServerId;
use support::engine::{Obj, Scenario, config, group, item, transcript};

/// Every scenario of issue 3, for one backend: one list, read top to bottom.
#[expect(clippy::too_many_lines, reason = "a table of scenarios")]
fn scenarios(backend: BackendKind) -> Vec<(&'static str, Scenario, Intent)> {
    let c = || config(backend);
    let mut out = vec![
        ("01_master_first_start", Scenario::new("master first start, no peers", c(), 0).server(0, Obj::Missing, &[]), Intent::Start),
        (
            "02_master_restart_slaves_reset",
            Scenario::new("master restart after end; pods 1 and 2 live, their links with the master reset", c(), 0)
                .server(0, Obj::Reset, &[])
                .server(1, Obj::Running, &[(0, Obj::Reset), (3, Obj::Reset)])
                .server(2, Obj::Running, &[(0, Obj::Reset), (3, Obj::Reset)]),
            Intent::Start,
        ),
        (
            "03_slave2_fresh_pods_0_1_up",
            Scenario::new("slave pod 2 fresh start with pods 0 and 1 up", c(), 2)
                .server(2, Obj::Missing, &[])
                .server(0, Obj::Reset, &[(1, Obj::Running)])
                .server(1, Obj::Reset, &[(0, Obj::Running)]),
            Intent::Start,
        ),
        (
            "04_slave3_fresh_only_master_up",
            Scenario::new("slave pod 3 fresh start with only pod 0 up", c(), 3).server(3, Obj::Missing, &[]).server(0, Obj::Reset, &[]),
            Intent::Start,
        ),
    ];
    let non_reset = |title: &str, config| {
        Scenario::new(title, config, 1).server(1, Obj::Running, &[(3, Obj::Reset)]).server(0, Obj::Running, &[(3, Obj::Reset)]).server(
            2,
            Obj::Running,
            &[(3, Obj::Reset)],
        )
    };
    out.push((
        "05_slave1_non_reset_flush_wait",
        non_reset("slave pod 1 restart, not reset, AKU_FLUSH_AT_START = 1 (FLUSH WAIT 300)", c()),
        Intent::Start,
    ));
    let mut flush_all = c();
    flush_all.flush_timeout_at_start_s = 0;
    out.push((
        "06_slave1_non_reset_flush_all",
        non_reset("slave pod 1 restart, not reset, AKU_FLUSH_TIMEOUT_AT_START = 0 (FLUSH ALL)", flush_all),
        Intent::Start,
    ));
    let mut no_flush = c();
    no_flush.flush_at_start = false;
    out.push((
        "07_slave1_non_reset_no_flush",
        non_reset("slave pod 1 restart, not reset, AKU_FLUSH_AT_START = 0", no_flush),
        Intent::Start,
    ));
    let all_running = |title: &str, config, me| {
        Scenario::new(title, config, me).server(0, Obj::Running, &[]).server(1, Obj::Running, &[]).server(2, Obj::Running, &[]).server(
            3,
            Obj::Running,
            &[],
        )
    };
    out.push(("08_end_pod3", all_running("end on pod 3, flush and reset on", c(), 3), Intent::End));
    let mut keep = c();
    keep.flush_at_end = false;
    keep.replication_reset_at_end = false;
    out.push((
        "09_end_pod3_no_flush_no_reset",
        all_running("end on pod 3 with AKU_FLUSH_AT_END = 0 and AKU_REPLICATION_RESET_AT_END = 0", keep, 3),
        Intent::End,
    ));
    out.push(("10_clean_pod2", all_running("clean on pod 2", c(), 2), Intent::Clean));
    out.push((
        "11_master_failure_refused",
        Scenario::new("master start with its state lost while pod 1 holds live replication with it", c(), 0)
            .server(0, Obj::Missing, &[])
            .server(1, Obj::Running, &[]),
        Intent::Start,
    ));
    out.push((
        "12_duplicate_start_refused",
        Scenario::new("start when /tmp/aku_start_completed exists", c(), 1).server(1, Obj::Running, &[]).with_marker(),
        Intent::Start,
    ));
    let mut two = c();
    two.groups = vec![
        group("AKU_REP1", 1, vec![item("SYS", "T1", None), item("SYS", "T2", Some("P1"))]),
        group("AKU_REP2", 4, vec![item("SYS", "T3", None)]),
    ];
    out.push((
        "13_two_groups_partition",
        Scenario::new("slave pod 1 fresh start, two REPLICATIONS groups, a PARTITION item", two, 1).server(1, Obj::Missing, &[]).server(
            0,
            Obj::Reset,
            &[],
        ),
        Intent::Start,
    ));
    let mut parallel = c();
    parallel.groups[0].sync_parallel_count = 8;
    out.push((
        "14_sync_parallel_8",
        Scenario::new("slave pod 1 fresh start with SYNC_PARALLEL_COUNT = 8", parallel, 1).server(1, Obj::Missing, &[]).server(
            0,
            Obj::Reset,
            &[],
        ),
        Intent::Start,
    ));
    out.push((
        "15_slave_failure_refused",
        Scenario::new("slave pod 2 whose link to the master was reset while its link with pod 1 is live", c(), 2)
            .server(2, Obj::Running, &[(0, Obj::Reset)])
            .server(0, Obj::Running, &[])
            .server(1, Obj::Running, &[]),
        Intent::Start,
    ));
    out.push((
        "16_slave_fresh_master_unreachable_refused",
        Scenario::new("slave pod 2 fresh start while pod 0 is absent", c(), 2).server(2, Obj::Missing, &[]).server(1, Obj::Running, &[]),
        Intent::Start,
    ));
    out.push((
        "17_slave2_redo_interrupted_sync",
        Scenario::new("slave pod 2 start after an interrupted copy: link with the master started but not ready", c(), 2)
            .server(2, Obj::Reset, &[(0, Obj::Copying)])
            .server(0, Obj::Running, &[])
            .server(1, Obj::Running, &[(2, Obj::Reset)]),
        Intent::Start,
    ));
    out.push((
        "18_slave1_restart_after_end_without_reset",
        Scenario::new("slave pod 1 restart after an end with AKU_REPLICATION_RESET_AT_END = 0", c(), 1)
            .server(1, Obj::StoppedLive, &[(3, Obj::Reset)])
            .server(0, Obj::StoppedLive, &[(3, Obj::Reset)])
            .server(2, Obj::Running, &[(1, Obj::StoppedLive), (3, Obj::Reset)]),
        Intent::Start,
    ));
    out.push((
        "19_reset_gone_peer_2_from_pod_1",
        Scenario::new("aku -p reset --peer 2 on pod 1: pod 2 vanished without end; pods 0 and 3 up", c(), 1)
            .server(1, Obj::Running, &[])
            .server(0, Obj::Running, &[])
            .server(3, Obj::Running, &[]),
        Intent::ResetPeer(ServerId(2)),
    ));
    out.push((
        "20_recover_master_from_pod_1",
        Scenario::new("aku -p recover --from 1 on the master, which lost its replication state; pods 1 and 2 live", c(), 0)
            .server(0, Obj::Missing, &[])
            .server(1, Obj::Running, &[(3, Obj::Reset)])
            .server(2, Obj::Running, &[(3, Obj::Reset)]),
        Intent::Recover(ServerId(1)),
    ));
    out.push((
        "22_slave1_returns_after_its_pairs_were_reset_by_the_survivors",
        Scenario::new("slave pod 1 returns with its old volume after aku -p reset --peer 1 on the survivors", c(), 1)
            .server(1, Obj::Running, &[(3, Obj::Reset)])
            .server(0, Obj::Running, &[(1, Obj::Reset), (3, Obj::Reset)])
            .server(2, Obj::Running, &[(1, Obj::Reset), (3, Obj::Reset)]),
        Intent::Start,
    ));
    out.push((
        "26_end_master_keeps_restart_points",
        all_running("end on the MASTER Pod: flush and stop, never reset (BUG-50259, BUG-50503)", c(), 0),
        Intent::End,
    ));
    out.push((
        "27_start_refused_server_in_normal_mode",
        Scenario::new("slave pod 1 start on a server that booted with ADMIN_MODE = 0", c(), 1)
            .server(1, Obj::Missing, &[])
            .server(0, Obj::Running, &[(1, Obj::Reset)])
            .admin_mode_off(),
        Intent::Start,
    ));
    let t12 = || vec![item("SYS", "T1", None), item("SYS", "T2", None)];
    let t123 = || vec![item("SYS", "T1", None), item("SYS", "T2", None), item("SYS", "T3", None)];
    let mut added = c();
    added.groups[0].items = t123();
    out.push((
        "28_master_start_after_a_table_was_added",
        Scenario::new(
            "master restart (not reset) after REPLICATIONS gained SYS.T3; pods 1 and 2 run and replicate T1, T2",
            added.clone(),
            0,
        )
        .server(0, Obj::Running, &[(3, Obj::Reset)])
        .server(1, Obj::Running, &[(3, Obj::Reset)])
        .server(2, Obj::Running, &[(3, Obj::Reset)])
        .holding(0, t12())
        .holding(1, t12())
        .holding(2, t12()),
        Intent::Start,
    ));
    out.push((
        "29_slave1_with_an_older_conf_follows_the_master",
        Scenario::new(
            "slave pod 1 restart (not reset) with an aku.conf that lacks SYS.T3, which the MASTER Pod replicates already",
            c(),
            1,
        )
        .server(1, Obj::Running, &[(3, Obj::Reset)])
        .server(0, Obj::Running, &[(3, Obj::Reset)])
        .server(2, Obj::Running, &[(3, Obj::Reset)])
        .holding(0, t123())
        .holding(1, t123())
        .holding(2, t123()),
        Intent::Start,
    ));
    out.push((
        "30_slave2_start_with_a_newer_conf_waits_for_the_master",
        Scenario::new(
            "slave pod 2 restart (not reset) with an aku.conf that gained SYS.T3; the MASTER Pod still replicates T1, T2",
            added,
            2,
        )
        .server(2, Obj::Running, &[(3, Obj::Reset)])
        .server(0, Obj::Running, &[(3, Obj::Reset)])
        .server(1, Obj::Running, &[(3, Obj::Reset)])
        .holding(0, t12())
        .holding(1, t12())
        .holding(2, t12()),
        Intent::Start,
    ));
    out.push((
        "31_slave3_joins_while_pod_2_is_crashed",
        Scenario::new("slave pod 3 fresh start while pod 2 is down after a crash (the master keeps its side with pod 2)", c(), 3)
            .server(3, Obj::Missing, &[])
            .server(0, Obj::Running, &[(3, Obj::Reset)])
            .server(1, Obj::Running, &[(3, Obj::Reset)]),
        Intent::Start,
    ));
    // Only PostgreSQL links a pair in the peer's absence (capability `absent_bookmarks`).
    if backend == BackendKind::Postgresql {
        out.push((
            "32_slave1_returns_after_pod_2_rejoined_in_its_absence_drains_then_joins",
            Scenario::new(
                "slave pod 1 restarts after a crash; pod 2 ended and joined again meanwhile, linking its side with pod 1 in pod 1's absence: drain, then join",
                c(),
                1,
            )
            .server(1, Obj::Running, &[])
            .server(0, Obj::Running, &[])
            .server(2, Obj::Running, &[])
            .linked_in_absence(2, 1),
            Intent::Start,
        ));
        out.push((
            "33_slave2_returns_after_pod_3_joined_in_its_absence_resumes",
            Scenario::new(
                "slave pod 2 restarts after a crash; pod 3 joined meanwhile and linked its side with pod 2: pod 2 kept nothing for pod 3, so it resumes and clears the note",
                c(),
                2,
            )
            .server(2, Obj::Running, &[(3, Obj::Reset)])
            .server(0, Obj::Running, &[])
            .server(1, Obj::Running, &[])
            .server(3, Obj::Running, &[])
            .linked_in_absence(3, 2),
            Intent::Start,
        ));
        out.push((
            "34_slave2_returns_after_pod_3_joined_in_its_absence_keeping_a_slot_resumes",
            Scenario::new(
                "slave pod 2 restarts after a crash; an earlier attempt of pod 3's join bookmarked pod 2 (its slot for pod 3 is live), then pod 3 joined without it: pod 2 never received from pod 3, so it resumes",
                c(),
                2,
            )
            .server(2, Obj::Running, &[])
            .server(0, Obj::Running, &[])
            .server(1, Obj::Running, &[])
            .server(3, Obj::Running, &[])
            .received_nothing(2, 3)
            .linked_in_absence(3, 2),
            Intent::Start,
        ));
        out.push((
            "35_slave1_returns_stopped_after_pod_2_rejoined_in_its_absence_stops_what_it_drained",
            Scenario::new(
                "as 32, with pod 1's replication with pod 2 stopped: the drain starts it on both sides, and the join stops it again before the reset",
                c(),
                1,
            )
            .server(1, Obj::Running, &[(2, Obj::StoppedLive)])
            .server(0, Obj::Running, &[])
            .server(2, Obj::Running, &[])
            .linked_in_absence(2, 1),
            Intent::Start,
        ));
    }
    out.push((
        "23_slave3_rejoins_after_pod_1_forgot_it_drains_first",
        Scenario::new(
            "slave pod 3 restarts after a crash; pod 1 re-joined meanwhile and forgot it: drain to pods 0 and 2, then join",
            c(),
            3,
        )
        .server(3, Obj::Running, &[])
        .server(0, Obj::Running, &[])
        .server(1, Obj::Running, &[(3, Obj::Reset)])
        .server(2, Obj::Running, &[]),
        Intent::Start,
    ));
    out.push((
        "24_slave2_join_refused_while_pod_1_does_not_answer",
        Scenario::new("slave pod 2 fresh start while pod 1 resolves but does not answer (cut off the network)", c(), 2)
            .server(2, Obj::Missing, &[])
            .server(0, Obj::Running, &[(2, Obj::Reset)])
            .unanswered(1),
        Intent::Start,
    ));
    out.push((
        "25_slave1_restart_leaves_a_joining_pod_2_alone_and_resumes_a_paused_replication",
        Scenario::new(
            "slave pod 1 restarts (not reset) while pod 2's join is interrupted; pod 3's earlier join paused pod 0's replication with pod 1 and pod 3 is gone",
            c(),
            1,
        )
        .server(1, Obj::Running, &[(3, Obj::Reset)])
        .server(0, Obj::Running, &[(2, Obj::Reset), (3, Obj::Reset)])
        .server(2, Obj::Reset, &[])
        .paused(0, 1, 3),
        Intent::Start,
    ));
    out
}

fn check(backend: BackendKind) {
    for (name, scenario, intent) in scenarios(backend) {
        let text = transcript(&scenario, intent);
        insta::with_settings!({
            snapshot_path => format!("transcripts/{}", backend.as_str()),
            prepend_module_to_snapshot => false,
            omit_expression => true,
            description => scenario.title.clone(),
        }, {
            insta::assert_snapshot!(name, text);
        });
    }
}

#[test]
fn altibase_transcripts() {
    check(BackendKind::Altibase);
}

#[test]
fn postgresql_transcripts() {
    check(BackendKind::Postgresql);
}

/// `aku -s` on Altibase: the SQL each server receives and the report built from
/// scripted answers of `SYS_REPLICATIONS_`, `V$REPSENDER` and `V$REPGAP`.
#[test]
fn altibase_status_transcript() {
    let text = support::engine::status_transcript(BackendKind::Altibase);
    insta::with_settings!({ snapshot_path => "transcripts/altibase", prepend_module_to_snapshot => false, omit_expression => true }, {
        insta::assert_snapshot!("21_status", text);
    });
}

/// The log lines of the Utilities manual's examples 2 to 4 (7.3, aku: start on the
/// master, start on the 4th pod, end on the 4th pod) appear in this
/// implementation's log, in order and with the original's function names (time,
/// thread and source line aside; other lines may come between them).
#[test]
fn the_manuals_example_log_lines_appear_in_order_with_the_originals_function_names() {
    let c = || config(BackendKind::Altibase);
    let cases = [
        (include_str!("manual/m73_ex2_start_master.txt"), Scenario::new("example 2", c(), 0).server(0, Obj::Missing, &[]), Intent::Start),
        (
            include_str!("manual/m73_ex3_start_slave_4th.txt"),
            Scenario::new("example 3", c(), 3)
                .server(3, Obj::Missing, &[])
                .server(0, Obj::Running, &[(3, Obj::Reset)])
                .server(1, Obj::Running, &[(3, Obj::Reset)])
                .server(2, Obj::Running, &[(3, Obj::Reset)]),
            Intent::Start,
        ),
        (
            include_str!("manual/m73_ex4_end_slave_4th.txt"),
            Scenario::new("example 4", c(), 3)
                .server(3, Obj::Running, &[])
                .server(0, Obj::Running, &[])
                .server(1, Obj::Running, &[])
                .server(2, Obj::Running, &[]),
            Intent::End,
        ),
    ];
    let strip = regex::Regex::new(r"^\[AKU\]\[[^\]]*\]\[\d+\] \[(\w+)\]\[(\w+):\d+\](.*)$").unwrap();
    for (manual, scenario, intent) in cases {
        let ours = transcript(&scenario, intent);
        let ours: Vec<&str> = ours.lines().skip_while(|l| *l != "-- log").skip(1).collect();
        let mut at = 0;
        for line in manual.lines().filter(|l| l.starts_with("[AKU]")) {
            let caps = strip.captures(line).unwrap_or_else(|| panic!("a log line of the manual: {line}"));
            let wanted = format!("[{}][{}]{}", &caps[1], &caps[2], &caps[3]);
            let found = ours[at..].iter().position(|l| *l == wanted);
            let Some(found) = found else { panic!("{}: `{wanted}` not found after line {at} of:\n{}", scenario.title, ours.join("\n")) };
            at += found + 1;
        }
    }
}
