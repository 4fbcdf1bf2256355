"""End-to-end: aku's procedures on real PostgreSQL 18 servers in simulated
StatefulSet pods. Every test asserts row-level equality across pods."""

from __future__ import annotations

from helpers import TABLES, aku_objects, fingerprints, wait_identical, write_rows


def test_scale_up_in_order_and_every_write_reaches_every_pod(sts):
    sts.scale(4)
    for k in range(4):
        log = sts.pod_log(k)
        assert ("Start as MASTER Pod." if k == 0 else "Start as SLAVE Pod.") in log
        assert "AKU run successfully." in log
    for k in range(4):
        write_rows(sts, k, base=1000 * (k + 1))
    wait_identical(sts, range(4), expect_rows={t: 80 for t in TABLES})
    for k in range(4):
        objs = aku_objects(sts, k)
        assert objs["publications"] == ["aku_rep"]
        assert objs["subscriptions"] == objs["enabled"] == sorted(
            f"aku_rep_{min(k, j)}{max(k, j)}" for j in range(4) if j != k)
        assert objs["slots"] == objs["subscriptions"]


def test_graceful_scale_down_resets_the_leaving_pods_on_the_survivors(sts):
    sts.scale(4)
    write_rows(sts, 3, base=3000)
    wait_identical(sts, range(4), expect_rows={t: 20 for t in TABLES})
    assert sts.delete_pod(3) == 0
    assert sts.delete_pod(2) == 0
    for k in (2, 3):
        log = sts.pod_log(k)
        assert "AKU started with END option." in log and "Reset replications." in log
    for k in (0, 1):
        objs = aku_objects(sts, k)
        # Only the pair 0-1 still holds a slot: nothing is retained for pods 2 and 3.
        assert objs["slots"] == ["aku_rep_01"], objs
        assert objs["enabled"] == ["aku_rep_01"], objs
        retained = sts.psql(k, "SELECT count(*) FROM pg_replication_slots WHERE slot_name NOT IN ('aku_rep_01')")
        assert retained == [("0",)]
    write_rows(sts, 0, base=5000)
    write_rows(sts, 1, base=6000)
    wait_identical(sts, (0, 1), expect_rows={t: 60 for t in TABLES})


def test_returning_pods_are_truncated_and_resynced(sts):
    sts.scale(4)
    write_rows(sts, 2, base=2000)
    wait_identical(sts, range(4), expect_rows={t: 20 for t in TABLES})
    sts.scale(2)
    # While pods 2 and 3 are away: new rows, and pod 2's rows deleted.
    write_rows(sts, 0, base=7000)
    sts.psql(1, "DELETE FROM public.t1 WHERE id BETWEEN 2000 AND 2009")
    wait_identical(sts, (0, 1), expect_rows={"public.t1": 30, "public.t2": 40})
    sts.scale(4)
    for k in (2, 3):
        log = sts.pod_log(k)
        assert log.count("Truncate tables for replications.") == 2  # first start and return
        assert log.count("Sync tables from MASTER Server.") == 2
    wait_identical(sts, range(4), expect_rows={"public.t1": 30, "public.t2": 40})
    write_rows(sts, 3, base=9000)
    wait_identical(sts, range(4), expect_rows={"public.t1": 50, "public.t2": 60})


def test_killed_pod_restarts_without_truncation_and_loses_nothing(sts):
    sts.scale(3)
    write_rows(sts, 0, base=1000)
    wait_identical(sts, range(3), expect_rows={t: 20 for t in TABLES})
    # Rows written on pod 2 that never left it: cut it off, write, kill it.
    sts.cut_network(2)
    write_rows(sts, 2, base=2000)
    sts.kill_pod(2)
    sts.restore_network(2)
    # Rows written elsewhere while pod 2 is down.
    write_rows(sts, 0, base=3000)
    write_rows(sts, 1, base=4000)
    before = sts.pod_log(2).count("Truncate tables for replications.")
    sts.restart_pod(2)
    log = sts.pod_log(2)
    assert log.count("Truncate tables for replications.") == before, "the non-reset path must not truncate"
    assert log.count("Start as SLAVE Pod.") == 2
    wait_identical(sts, range(3), expect_rows={t: 80 for t in TABLES})


def test_master_restart_with_live_slaves(sts):
    sts.scale(3)
    write_rows(sts, 1, base=1000)
    wait_identical(sts, range(3), expect_rows={t: 20 for t in TABLES})
    # A crashed master: slaves keep writing, the master catches up when it returns.
    sts.kill_pod(0)
    write_rows(sts, 1, base=2000)
    write_rows(sts, 2, base=3000)
    sts.restart_pod(0)
    assert sts.pod_log(0).count("Start as MASTER Pod.") == 2
    wait_identical(sts, range(3), expect_rows={t: 60 for t in TABLES})
    # A graceful master restart: end, then start again; replication works both ways after.
    assert sts.delete_pod(0) == 0
    sts.create_pod(0)
    write_rows(sts, 0, base=4000)
    write_rows(sts, 2, base=5000)
    wait_identical(sts, range(3), expect_rows={t: 100 for t in TABLES})


def test_clean_on_one_pod_then_on_all_leaves_no_aku_object(sts):
    sts.scale(3)
    write_rows(sts, 0, base=1000)
    wait_identical(sts, range(3), expect_rows={t: 20 for t in TABLES})
    rc, out, err = sts.aku(2, "-p", "clean")
    assert rc == 0, out + err
    assert "AKU started with CLEAN option." in out and "AKU run successfully." in out
    assert not sts.marker_exists(2)
    assert aku_objects(sts, 2) == {"subscriptions": [], "enabled": [], "slots": [], "publications": []}
    for k in (0, 1):
        objs = aku_objects(sts, k)
        assert objs["slots"] == ["aku_rep_01"], objs  # nothing retained for pod 2
        assert "aku_rep_02" not in objs["enabled"] and "aku_rep_12" not in objs["enabled"]
    # Pod 2 no longer receives changes; the others still replicate to each other.
    write_rows(sts, 1, base=2000)
    wait_identical(sts, (0, 1), expect_rows={t: 40 for t in TABLES})
    assert fingerprints(sts, [2], "public.t1")[2][0] == 20
    for k in (0, 1):
        rc, out, err = sts.aku(k, "-p", "clean")
        assert rc == 0, out + err
    for k in range(3):
        assert aku_objects(sts, k) == {"subscriptions": [], "enabled": [], "slots": [], "publications": []}


def test_a_statefulset_of_one_pod_starts_ends_and_reports_healthy(make_sts):
    # AKU_SERVER_COUNT = 1: no pair at all; the catalog reads name no replication.
    s = make_sts(replicas_max=1)
    s.create_pod(0)
    assert "AKU run successfully." in s.pod_log(0)
    rc, out, err = s.aku(0, "-s")
    assert rc == 0 and "Healthy: no problem found." in out, out + err
    # The pod has its row although it has no pair: reachable, master, marker present.
    assert any(line.split()[:5] == [s.pod_name(0), s.pod_fqdn(0), "yes", "master", "yes"]
               for line in out.splitlines()), out
    assert s.delete_pod(0) == 0
