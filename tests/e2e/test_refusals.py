"""End-to-end: every refusal of the engine, observed on real servers: the exit
code, the message, and no change to any table or replication object."""

from __future__ import annotations

import pytest

from akusim import PodFailed
from helpers import TABLES, aku_objects, destroy_replication_state, fingerprints, wait_identical, write_rows

EXIT_DUPLICATE_START = 6
EXIT_RECOVERY_REQUIRED = 7
EXIT_PEER_REQUIRED = 8


def snapshot(s, pods):
    return {k: ({t: fingerprints(s, [k], t)[k] for t in TABLES}, aku_objects(s, k)) for k in pods}


def test_duplicate_start_is_refused_and_changes_nothing(sts):
    sts.scale(2)
    write_rows(sts, 0, base=1000)
    wait_identical(sts, range(2), expect_rows={t: 20 for t in TABLES})
    before = snapshot(sts, range(2))
    rc, out, _ = sts.aku(1, "-p", "start")
    assert rc == EXIT_DUPLICATE_START
    assert "aku -p start was already run on this pod: /tmp/aku_start_completed exists" in out
    assert out.rstrip().endswith("AKU failed to run.")
    assert snapshot(sts, range(2)) == before


def test_master_failure_is_refused_and_changes_nothing(sts):
    sts.scale(2)
    write_rows(sts, 1, base=1000)
    wait_identical(sts, range(2), expect_rows={t: 20 for t in TABLES})
    # The master loses its replication state (as after losing its volume's catalog).
    destroy_replication_state(sts, 0)
    before = snapshot(sts, range(2))
    rc, out, _ = sts.aku(0, "-p", "start")
    assert rc == EXIT_RECOVERY_REQUIRED, out
    assert "The MASTER server is detected to have failed. Check and perform a manual recovery." in out
    assert snapshot(sts, range(2)) == before
    # A dry run shows the same refusal.
    rc, out, _ = sts.aku(0, "-p", "start", "--dry-run")
    assert rc == EXIT_RECOVERY_REQUIRED


def test_fresh_slave_without_master_is_refused_and_nothing_is_truncated(sts):
    sts.scale(2)
    write_rows(sts, 0, base=1000)
    wait_identical(sts, range(2), expect_rows={t: 20 for t in TABLES})
    # Pod 1 leaves gracefully (its replications are reset), then the master goes too.
    assert sts.delete_pod(1) == 0
    assert sts.delete_pod(0) == 0
    # Pod 1 comes back first: a fresh start with nowhere to sync from.
    with pytest.raises(PodFailed):
        sts.restart_pod(1)
    log = sts.pod_log(1)
    assert "is not reachable: a new SLAVE Pod can only be synchronised from it." in log
    assert f"aku -p start failed (exit {EXIT_PEER_REQUIRED})" in log
    assert log.count("Truncate tables for replications.") == 1  # only the first start truncated
    assert not sts.marker_exists(1)
    # Once the master is back, the same pod starts and catches up.
    sts.restart_pod(0)
    write_rows(sts, 0, base=2000)
    sts.restart_pod(1)
    wait_identical(sts, range(2), expect_rows={t: 40 for t in TABLES})


EXIT_PRECONDITION = 9

SCHEMA_WITHOUT_KEY = """
CREATE TABLE public.t1 (id bigint PRIMARY KEY, v text);
CREATE TABLE public.t2 (id bigint, n integer, at timestamptz DEFAULT now());
"""


def test_a_table_without_primary_key_is_refused_before_any_change(make_sts):
    s = make_sts(replicas_max=2, schema_sql=SCHEMA_WITHOUT_KEY)
    with pytest.raises(PodFailed):
        s.create_pod(0)
    log = s.pod_log(0)
    assert (f"Server 0 ({s.pod_fqdn(0)}) does not meet the requirements of aku: Table public.t2 has no primary key "
            "or replica identity (UPDATE and DELETE could not be replicated).") in log
    assert f"aku -p start failed (exit {EXIT_PRECONDITION})" in log
    assert "Create replications." not in log


def test_a_missing_table_and_wal_level_replica_are_refused(make_sts):
    s = make_sts(replicas_max=2, schema_sql="CREATE TABLE public.t1 (id bigint PRIMARY KEY, v text);",
                 server_options={"wal_level": "replica"})
    with pytest.raises(PodFailed):
        s.create_pod(0)
    log = s.pod_log(0)
    assert "wal_level is replica, it must be logical (set wal_level = logical and restart the server)." in log
    assert "Table public.t2 does not exist on server 0 (create it on every pod before aku runs)." in log
    assert f"aku -p start failed (exit {EXIT_PRECONDITION})" in log
    assert "Create replications." not in log
