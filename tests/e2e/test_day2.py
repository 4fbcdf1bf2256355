"""End-to-end, day 2 (issue 9): the replicated table set changes under a rolling
restart with writes on every pod, and a table definition that differs on a joiner
is refused before anything is changed."""

from __future__ import annotations

import threading
import time

from faults import missing_rows, wait_rows

from akusim import PodFailed, PsqlError, StatefulSet
from conftest import default_conf
from helpers import aku_objects

SCHEMA = """
CREATE TABLE public.t1 (id bigint PRIMARY KEY, v text);
CREATE TABLE public.t2 (id bigint PRIMARY KEY, n integer, at timestamptz DEFAULT now());
CREATE TABLE public.events (id bigint PRIMARY KEY, note text);
"""


class Writer(threading.Thread):
    """Inserts uniquely keyed rows into public.t1 on pod k (ids k*10^6 + n), a few
    per second, and keeps the ids whose statement returned (acknowledged)."""

    def __init__(self, s: StatefulSet, k: int):
        super().__init__(daemon=True)
        self.s, self.k, self.n = s, k, 0
        self.acked: set[int] = set()
        self.stop = threading.Event()
        # Cleared while the pod is taken out of service (Kubernetes removes a
        # terminating pod from the Service's endpoints before its preStop `end`).
        self.serving = threading.Event()
        self.serving.set()
        self.lock = threading.Lock()

    def run(self) -> None:
        while not self.stop.is_set():
            row = self.k * 1_000_000 + self.n
            self.n += 1
            with self.lock:
                try:
                    if self.serving.is_set() and self.s.pod_state(self.k) == "running" and self.s.marker_exists(self.k):
                        self.s.psql(self.k, f"INSERT INTO public.t1 VALUES ({row}, 'w')", timeout=10)
                        self.acked.add(row)
                except (PsqlError, Exception):  # the pod is being replaced: not acknowledged
                    pass
            self.stop.wait(0.25)

    def take_out_of_service(self) -> None:
        self.serving.clear()
        with self.lock:  # the write in flight, if any, has returned
            pass


def publication(s: StatefulSet, k: int) -> list[str]:
    sql = "SELECT schemaname || '.' || tablename FROM pg_publication_tables WHERE pubname = 'aku_rep'"
    return sorted(r[0] for r in s.psql(k, sql))


def test_a_table_added_and_one_removed_under_a_rolling_restart_with_writes_on_every_pod(make_sts):
    s = make_sts(replicas_max=3, schema_sql=SCHEMA)
    s.scale(3)
    s.psql(0, "INSERT INTO public.events SELECT i, 'on the master before the change' FROM generate_series(1, 50) i")
    writers = [Writer(s, k) for k in range(3)]
    for w in writers:
        w.start()
    time.sleep(2)
    # The ConfigMap changes: events is added, t2 removed.
    conf = default_conf(s.sts, s.svc, 3).replace("( PUBLIC.T1, PUBLIC.T2 )", "( PUBLIC.T1, PUBLIC.EVENTS )")
    assert conf != default_conf(s.sts, s.svc, 3)
    s.set_conf(conf)
    started = time.monotonic()
    # The rolling restart, from the highest ordinal down: each pod ends and starts again.
    for k in (2, 1, 0):
        writers[k].take_out_of_service()
        assert s.delete_pod(k) == 0
        s.restart_pod(k)
        writers[k].serving.set()
        log = s.pod_log(k)
        assert "detected to have failed" not in log
    for k in range(3):
        assert publication(s, k) == ["public.events", "public.t1"], k
    took = time.monotonic() - started
    for w in writers:
        w.stop.set()
    for w in writers:
        w.join()
    acked = set().union(*(w.acked for w in writers))
    missing = wait_rows(s, range(3), {"public.t1": acked}, timeout=90)
    print(f"table-set change under a rolling restart: {took:.1f} s; {len(acked)} rows acknowledged on t1; "
          f"missing: {missing}")
    assert not missing, missing
    # The added table was copied from the master, once, and replicates from now on.
    for k in range(3):
        assert s.psql(k, "SELECT count(*) FROM public.events") == [("50",)], k
    s.psql(0, "INSERT INTO public.events VALUES (100, 'after')")
    s.psql(2, "INSERT INTO public.events VALUES (102, 'after, on a slave')")
    assert not wait_rows(s, range(3), {"public.events": set(range(1, 51)) | {100, 102}}, timeout=60)
    # The removed table no longer replicates.
    s.psql(1, "INSERT INTO public.t2 (id, n) VALUES (7, 1)")
    time.sleep(2)
    assert s.psql(0, "SELECT count(*) FROM public.t2 WHERE id = 7") == [("0",)]
    rc, out, _ = s.aku(0, "-s")
    assert rc == 0 and "items differ" not in out, out
    for k in range(3):
        assert len(aku_objects(s, k)["enabled"]) == 2
    # A slave that restarts with the old aku.conf (the ConfigMap has not reached it)
    # follows the MASTER Pod and undoes nothing.
    s.set_conf(default_conf(s.sts, s.svc, 3))
    s.kill_pod(2)
    s.restart_pod(2)
    assert "the MASTER Pod's tables are replicated until it starts with this configuration" in s.pod_log(2)
    for k in range(3):
        assert publication(s, k) == ["public.events", "public.t1"], k
    s.psql(0, "INSERT INTO public.events VALUES (101, 'still replicated')")
    assert not wait_rows(s, range(3), {"public.events": set(range(1, 51)) | {100, 101, 102}}, timeout=60)


def test_a_column_missing_on_a_joiner_is_refused_at_once_and_nothing_is_created(make_sts):
    s = make_sts(replicas_max=3)
    s.scale(2)
    for k in (0, 1):
        s.psql(k, "ALTER TABLE public.t2 ADD COLUMN note text")
    s.create_pod(2, wait=False)
    started = time.monotonic()
    try:
        s.wait_ready(2, timeout=60)
        raise AssertionError("pod 2's start was not refused")
    except PodFailed as e:
        assert e.exit_code == 9, e
    took = time.monotonic() - started
    log = s.pod_log(2)
    print(f"schema mismatch refused in {took:.1f} s")
    assert took < 30
    assert "The replicated tables differ between this pod and pod 0" in log, log
    assert "table public.t2: column note (text) exists on pod 0 but is missing on pod 2" in log, log
    assert "Create replications." not in log and "Truncate tables for replications." not in log
    for k in (0, 1):
        assert "aku_rep_02" not in aku_objects(s, k)["slots"], "nothing was created for pod 2"
    # Once the definitions are equal (here: the column dropped again), pod 2 joins.
    for k in (0, 1):
        s.psql(k, "ALTER TABLE public.t2 DROP COLUMN note")
    s.restart_pod(2)
    missing = missing_rows(s, range(3), {"public.t1": set()})
    assert not missing


def test_a_flush_whose_peer_keeps_failing_ends_within_30_s_naming_the_cause(make_sts):
    # A duplicate key written on both pods while pod 1 does not apply pod 0's
    # changes: once enabled again, pod 1's apply worker fails on it every few
    # seconds, so pod 0's end can never flush towards pod 1.
    s = make_sts(replicas_max=2)
    s.scale(2)
    s.psql(1, "ALTER SUBSCRIPTION aku_rep_01 DISABLE")
    s.psql(0, "INSERT INTO public.t1 VALUES (500, 'on pod 0')")
    s.psql(1, "INSERT INTO public.t1 VALUES (500, 'on pod 1')")
    s.psql(1, "ALTER SUBSCRIPTION aku_rep_01 ENABLE")
    started = time.monotonic()
    rc, out, err = s.aku(0, "-p", "end", timeout=120)
    took = time.monotonic() - started
    print(f"flush towards a failing peer ended after {took:.1f} s")
    assert rc == 10, out + err
    assert took < 30, out
    assert "it cannot complete: the workers of subscription aku_rep_01 keep failing" in out, out
    assert f"see the server log of pod 1 ({s.pod_fqdn(1)})" in out, out
