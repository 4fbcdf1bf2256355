"""End-to-end: the operator's tools on real pods: status, dry run, reset of a
gone pod's replications, master recovery, and SIGTERM during a procedure."""

from __future__ import annotations

import json

from akusim import wait_until
from helpers import TABLES, aku_objects, destroy_replication_state, wait_identical, write_rows

EXIT_RECOVERY_REQUIRED = 7
EXIT_PEER_REQUIRED = 8
EXIT_STATUS_PROBLEM = 13


def test_status_reports_a_healthy_cluster_then_the_orphan_of_a_killed_pod(sts):
    sts.scale(3)
    rc, out, err = sts.aku(1, "-s", "--output", "json")
    assert rc == 0, out + err
    report = json.loads(out)
    assert report["problems"] == 0
    assert [s["role"] for s in report["servers"]] == ["master", "slave", "slave", "slave"]
    assert [s["reachable"] for s in report["servers"]] == [True, True, True, False]
    assert [s["marker_present"] for s in report["servers"][:3]] == [None, True, None]
    pairs = {(s["server"], p["replication"]): p for s in report["servers"] for p in s["pairs"]}
    assert pairs[(0, "AKU_REP_01")]["running"] is True and pairs[(0, "AKU_REP_01")]["reset"] is False
    assert pairs[(0, "AKU_REP_03")]["exists"] is True and pairs[(0, "AKU_REP_03")]["reset"] is True

    sts.kill_pod(2)
    write_rows(sts, 0, base=1000, n=200)
    rc, out, _ = sts.aku(0, "-s")
    assert rc == EXIT_STATUS_PROBLEM, out
    lines = [line for line in out.splitlines() if "orphan: peer absent" in line]
    assert {line.split()[5] for line in lines} == {"AKU_REP_02", "AKU_REP_12"}, out
    assert "2 problem(s) found." in out


def test_dry_run_prints_the_plan_and_changes_nothing(sts):
    sts.scale(2)
    before = {k: aku_objects(sts, k) for k in range(2)}
    rc, out, err = sts.aku(1, "-p", "end", "--dry-run")
    assert rc == 0, out + err
    assert "Plan: end on server 1" in out
    assert 'ALTER SUBSCRIPTION "aku_rep_01" DISABLE;' in out
    assert "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = 'aku_rep_01';" in out
    assert "Finally: remove /tmp/aku_start_completed" in out
    assert sts.marker_exists(1)
    assert {k: aku_objects(sts, k) for k in range(2)} == before


def test_reset_of_a_killed_pod_frees_the_log_the_survivors_retain(sts):
    sts.scale(3)
    sts.kill_pod(2)
    write_rows(sts, 0, base=1000, n=2000)
    write_rows(sts, 1, base=5000, n=2000)
    wait_identical(sts, (0, 1), expect_rows={t: 4000 for t in TABLES})
    for k in (0, 1):
        assert f"aku_rep_{k}2" in aku_objects(sts, k)["slots"]
    # A pod that answers is refused.
    rc, out, _ = sts.aku(0, "-p", "reset", "--peer", "1")
    assert rc == EXIT_PEER_REQUIRED and "answers: its replications are reset only when it is gone" in out
    # Starting another pod warns about the retained log.
    rc, out, _ = sts.aku(1, "-p", "start", "--dry-run")
    assert "Pod 2 is absent but this replication was not reset" in out
    # Pod 2 is gone for good: its name no longer resolves.
    sts.delete_pod(2)
    rc, out, err = sts.aku(1, "-p", "reset", "--peer", "2")
    assert rc == 0, out + err
    assert "AKU started with RESET option." in out and "AKU run successfully." in out
    for k in (0, 1):
        objs = aku_objects(sts, k)
        assert objs["slots"] == ["aku_rep_01"], objs
        retained = sts.psql(k, "SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE 'aku\\_%2'")
        assert retained == [("0",)]
    rc, out, _ = sts.aku(0, "-s")
    assert rc == 0, out
    write_rows(sts, 1, base=9000)
    wait_identical(sts, (0, 1), expect_rows={t: 4020 for t in TABLES})


def test_master_recovery_from_a_slave_while_it_keeps_writing(sts):
    sts.scale(3)
    write_rows(sts, 1, base=1000)
    wait_identical(sts, range(3), expect_rows={t: 20 for t in TABLES})
    # The master loses its replication state: subscriptions and slots dropped.
    destroy_replication_state(sts, 0)
    # The master pod restarts: its entrypoint's start is refused, and the server is
    # kept running without the marker so that the recovery can run in the pod.
    sts.kill_pod(0)
    sts.restart_pod(0, wait=False)
    wait_until(lambda: "manual recovery required" in sts.pod_log(0), timeout=90, what="the refusal")
    log = sts.pod_log(0)
    assert "The MASTER server is detected to have failed. Check and perform a manual recovery." in log
    assert not sts.marker_exists(0)
    rc, out, _ = sts.aku(0, "-p", "start")
    assert rc == EXIT_RECOVERY_REQUIRED
    rc, out, _ = sts.aku(0, "-p", "recover", "--from", "1", "--dry-run")
    assert rc == 0 and "Plan: recover the MASTER Pod from a SLAVE Pod" in out
    # Pod 1 keeps writing while the master recovers from it.
    writes = ("for i in $(seq 1 300); do echo \"INSERT INTO public.t1 VALUES (100000 + $i, 'during');\"; "
              "sleep 0.01; done | psql -q -v ON_ERROR_STOP=1")
    writer = sts.popen_in_pod(1, ["sh", "-c", writes], env=sts.psql_env())
    rc, out, err = sts.aku(0, "-p", "recover", "--from", "1", "--yes")
    assert rc == 0, out + err
    assert "AKU started with RECOVER option." in out and "AKU run successfully." in out
    assert writer.wait(timeout=120) == 0, writer.stderr.read()
    assert sts.marker_exists(0)
    write_rows(sts, 0, base=5000)
    write_rows(sts, 2, base=6000)
    wait_identical(sts, range(3), expect_rows={"public.t1": 360, "public.t2": 60})
