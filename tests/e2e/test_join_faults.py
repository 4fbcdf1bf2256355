"""End-to-end: joins that overlap a fault (issue 13). Each test is one of the
issue's three reproductions, made deterministic on the pod simulator, and asserts
what a user must observe afterwards, once they did what the procedures say (restart
a pod whose start failed): every acknowledged row on every running pod, and
`aku -s` exiting 0 only when that is so."""

from __future__ import annotations

import os
import signal
import subprocess
import time

from faults import log_offset, status, summarize, wait_log, wait_rows, wait_start, write_ids

from akusim import PsqlError, StatefulSet
from helpers import TABLES, aku_objects


def restart_until_ready(s: StatefulSet, k: int, attempts: int = 3, timeout: float = 150.0) -> list[str]:
    """What the kubelet does with a container whose start failed: run it again
    (bounded). Returns the outcome of every attempt; the last one is ready, or
    the caller's assertion shows why not."""
    outcomes = []
    for _ in range(attempts):
        since = log_offset(s, k)
        s.restart_pod(k, wait=False)
        o = wait_start(s, k, since, timeout)
        outcomes.append(o.describe())
        if o.ready or o.kind in ("refused", "timeout"):
            break
    return outcomes


def expect_all(ids: set[int]) -> dict[str, set[int]]:
    return {t: set(ids) for t in TABLES}


def test_a_join_that_took_a_running_peer_for_absent_leaves_no_gap(make_sts):
    """Reproduction 1: pod 2 joins while pod 1 runs but is cut off. The join must
    not complete with pod 1 unaccounted for (it waits, bounded, or fails before the
    marker and its re-run completes); rows written on pods 1 and 2 afterwards reach
    every pod, without and with a later restart of pod 1; `aku -s` is 0 only then."""
    s = make_sts(replicas_max=3)
    s.scale(2)
    s.cut_network(1)
    s.create_pod(2, wait=False)
    first = wait_start(s, 2, 0, timeout=150)
    s.restore_network(1)
    outcomes = [first.describe()]
    if not first.ready:
        # A bounded failure before the marker is acceptable: the kubelet runs it again.
        assert first.kind == "exited", f"pod 2's join neither completed nor failed: {first.describe()}"
        outcomes += restart_until_ready(s, 2)
    assert s.marker_exists(2), f"pod 2 never became ready: {outcomes}"

    written = write_ids(s, 1, 1000, 10) | write_ids(s, 2, 2000, 10)
    expected = expect_all(written)
    missing_before = wait_rows(s, range(3), expected, timeout=30)
    rc_before, flagged_before = status(s, 0)
    objects_before = {k: aku_objects(s, k) for k in range(3)}

    # The "later restart of pod 1" (a crash and a container restart).
    s.kill_pod(1)
    since = log_offset(s, 1)
    s.restart_pod(1, wait=False)
    restart = wait_start(s, 1, since, timeout=150)
    assert restart.ready, f"pod 1's restart: {restart.describe()}"
    missing_after = wait_rows(s, range(3), expected, timeout=30)
    rc_after, flagged_after = status(s, 0)

    report = (f"pod 2's starts: {outcomes}\n"
              f"after the join: {summarize(missing_before)}; aku -s exit {rc_before}\n{flagged_before}\n"
              f"objects: {objects_before}\n"
              f"after pod 1's restart: {summarize(missing_after)}; aku -s exit {rc_after}\n{flagged_after}")
    assert not missing_before and not missing_after, report
    assert rc_after == 0, report


HOLD = "aku_e2e_hold"


def hold_tables_across_a_restart(s: StatefulSet, k: int) -> None:
    """A prepared transaction on pod k holding an ACCESS SHARE lock on public.t1: it
    survives the server's restart, and a TRUNCATE of the table waits for it (aku's
    lock_timeout is 60 s) until release_tables. Needs max_prepared_transactions."""
    s.psql(k, f"BEGIN; LOCK TABLE public.t1 IN ACCESS SHARE MODE; PREPARE TRANSACTION '{HOLD}'")


def release_tables(s: StatefulSet, k: int) -> None:
    """Commits the prepared transaction (if pod k's server is down, the test fails
    on what follows; its volume is discarded at teardown)."""
    try:
        if s.psql(k, f"SELECT 1 FROM pg_prepared_xacts WHERE gid = '{HOLD}'"):
            s.psql(k, f"COMMIT PREPARED '{HOLD}'")
    except PsqlError as e:
        print(f"could not release the lock on pod {k}: {e}")


def waiting_statement(s: StatefulSet, k: int, prefix: str) -> bool:
    """True when a session on pod k is running a statement that starts with `prefix`."""
    return bool(s.psql(k, "SELECT 1 FROM pg_stat_activity WHERE state = 'active' AND starts_with(query, "
                          f"'{prefix.replace(chr(39), chr(39) * 2)}')"))


def test_a_slave_restarted_during_another_slaves_join_leaves_no_false_slave_failure(make_sts):
    """Reproduction 2: pod 2 joins again (deleted and re-created); when it logs
    `Truncate tables for replications.`, pod 1 crashes and restarts at once. Pod 1's
    non-reset start starts their pair on both sides while pod 2's join is between
    its truncation and its bookmark of pod 1, whose session is dead by then: the
    bookmark fails (exit 10). The next start of pod 2 must redo the join (not
    refuse it as a SLAVE failure), whatever the join left paused on the master must
    run again, and every row reaches every pod.

    In the issue's run the load held pod 2's join in that window. Here a prepared
    transaction on pod 2 holds a lock on public.t1 so that pod 2's TRUNCATE waits
    until pod 1's start is creating its slot on pod 2 (which waits for the running
    transactions on pod 2 to end); then it is committed: the truncation, pod 1's
    start on pod 2 and pod 2's bookmark then run as in the issue's run."""
    s = make_sts(replicas_max=3, server_options={"max_prepared_transactions": "4"})
    s.scale(3)
    written = write_ids(s, 0, 1, 10) | write_ids(s, 1, 1000, 10) | write_ids(s, 2, 2000, 10)
    assert not wait_rows(s, range(3), expect_all(written), timeout=60)

    hold_tables_across_a_restart(s, 2)
    s.delete_pod(2)
    since2 = log_offset(s, 2)
    s.create_pod(2, wait=False)
    try:
        assert wait_log(s, 2, "Truncate tables for replications.", since2, timeout=60), s.pod_log(2)[since2:]
        s.kill_pod(1)
        since1 = log_offset(s, 1)
        s.restart_pod(1, wait=False)
        # Release once pod 1's start waits on pod 2 (today: creating its slot there),
        # or has ended, or after 40 s (below aku's lock_timeout): never a hang.
        deadline = time.monotonic() + 40
        while (time.monotonic() < deadline and s.pod_state(1) == "starting" and not s.marker_exists(1)
               and not waiting_statement(s, 2, "SELECT pg_create_logical_replication_slot('aku_rep_12'")):
            time.sleep(0.05)
    finally:
        release_tables(s, 2)
    join = wait_start(s, 2, since2, timeout=120)
    pod1 = wait_start(s, 1, since1, timeout=120)
    objects = {k: aku_objects(s, k) for k in range(3) if s.pod_state(k) in ("starting", "running")}
    outcomes = {2: [join.describe()], 1: [pod1.describe()]}
    # The kubelet runs a failed container again; pod 1 first (its start may have
    # failed towards the stopped pod 2), then pod 2.
    if not pod1.ready:
        outcomes[1] += restart_until_ready(s, 1)
    if not join.ready:
        outcomes[2] += restart_until_ready(s, 2)
    objects_now = {k: aku_objects(s, k) for k in range(3) if s.pod_state(k) in ("starting", "running")}
    report = f"starts: {outcomes}\nobjects after the first attempts: {objects}\nobjects now: {objects_now}"
    assert s.marker_exists(1) and s.marker_exists(2), report

    written |= write_ids(s, 0, 3000, 10) | write_ids(s, 1, 4000, 10) | write_ids(s, 2, 5000, 10)
    missing = wait_rows(s, range(3), expect_all(written), timeout=30)
    rc, flagged = status(s, 0)
    report += f"\n{summarize(missing)}; aku -s exit {rc}\n{flagged}"
    assert not missing, report
    assert rc == 0, report


def test_a_slave_rejoining_after_a_crash_keeps_what_its_slots_held_for_a_peer(make_sts):
    """Reproduction 3: pod 3's slot for pod 2 holds 10 rows (pod 2 is down) when pod
    3 crashes; pod 2 restarts, pod 1 is deleted and re-created (it forgets pod 3),
    then pod 3 restarts and re-joins. Pods 0 and 1 have the 10 rows: pod 2 must get
    them too (the documented limit is rows that reached no peer), and `aku -s`
    must not say healthy before it has them."""
    s = make_sts(replicas_max=4)
    s.scale(4)
    written = write_ids(s, 0, 1, 10)
    assert not wait_rows(s, range(4), expect_all(written), timeout=60)
    s.kill_pod(2)
    rows3 = write_ids(s, 3, 3000, 10)
    written |= rows3
    # They reached pods 0 and 1: not rows that reached no peer.
    assert not wait_rows(s, (0, 1, 3), expect_all(rows3), timeout=60)
    assert "aku_rep_23" in aku_objects(s, 3)["slots"]
    s.kill_pod(3)
    outcomes = {}
    for step, k in (("restart", 2), ("re-create", 1), ("restart", 3)):
        if step == "re-create":
            s.delete_pod(k)
        since = log_offset(s, k)
        s.restart_pod(k, wait=False)
        o = wait_start(s, k, since, timeout=150)
        outcomes[f"{step} of pod {k}"] = o.describe()
        assert o.ready, outcomes
    joined = "Truncate tables for replications." in s.pod_log(3)[since:]

    written |= write_ids(s, 0, 4000, 10) | write_ids(s, 1, 5000, 10) | write_ids(s, 2, 6000, 10) \
        | write_ids(s, 3, 7000, 10)
    missing = wait_rows(s, range(4), expect_all(written), timeout=30)
    rc, flagged = status(s, 0)
    report = (f"starts: {outcomes}; pod 3 re-joined: {joined}\n{summarize(missing)}; aku -s exit {rc}\n{flagged}\n"
              f"objects: { {k: aku_objects(s, k) for k in range(4)} }")
    assert not missing, report
    assert rc == 0, report


def crash_pod_2_with_rows_the_master_lacks(s: StatefulSet, written: set[int], rows: bool) -> set[int]:
    """Three pods replicated; with `rows`, pod 2 writes rows that reach pod 1 but not
    yet the master; then pod 2 crashes (its pairs stay live on the survivors).
    Returns the rows pod 2 wrote."""
    s.scale(3)
    written |= write_ids(s, 0, 1, 10)
    assert not wait_rows(s, range(3), expect_all(written), timeout=60)
    rows2: set[int] = set()
    if rows:
        s.psql(0, "ALTER SUBSCRIPTION aku_rep_02 DISABLE")  # the master lags behind pod 2
        rows2 = write_ids(s, 2, 2000, 10)
        assert not wait_rows(s, (1, 2), expect_all(rows2), timeout=60)
    s.kill_pod(2)
    if rows:
        s.psql(0, "ALTER SUBSCRIPTION aku_rep_02 ENABLE")
    return rows2


def test_a_join_while_a_slave_is_down_waits_for_it_and_receives_what_it_wrote(make_sts):
    """Seed 6 of the randomized run, made deterministic: pod 2 wrote rows that reached
    pod 1 but not yet the master, then crashed; pod 3 starts its join meanwhile. The
    join waits for pod 2 (its container restarts), then bookmarks it: pod 2's rows
    reach the master and pod 3, and every pod's later rows reach every pod."""
    s = make_sts(replicas_max=4)
    written: set[int] = set()
    written |= crash_pod_2_with_rows_the_master_lacks(s, written, rows=True)
    s.create_pod(3, wait=False)
    host2 = s.pod_fqdn(2)
    assert wait_log(s, 3, f"Waiting for peer {host2} to return", 0, timeout=60), s.pod_log(3)
    since = log_offset(s, 2)
    s.restart_pod(2, wait=False)
    o2 = wait_start(s, 2, since, timeout=150)
    assert o2.ready, o2.describe()
    assert "Truncate tables for replications." not in s.pod_log(2)[since:], "pod 2 resumes, it does not join"
    o3 = wait_start(s, 3, 0, timeout=150)
    assert o3.ready, o3.describe()
    assert "did not return" not in s.pod_log(3)
    written |= write_ids(s, 3, 3000, 10) | write_ids(s, 2, 2100, 10)
    missing = wait_rows(s, range(4), expect_all(written), timeout=60)
    rc, flagged = status(s, 0)
    assert not missing, f"{summarize(missing)}\n{flagged}"
    assert rc == 0, flagged


def test_a_join_without_a_slave_that_stays_down_reaches_it_when_it_returns(make_sts):
    """Pod 2 crashed and does not return within the wait: pod 3 joins without it,
    saying so. When pod 2 returns, it resumes (no second join) and receives what pod
    3 wrote meanwhile, and pod 3 receives what pod 2 writes from then on."""
    s = make_sts(replicas_max=4)
    written: set[int] = set()
    crash_pod_2_with_rows_the_master_lacks(s, written, rows=False)
    s.create_pod(3, wait=False)
    o3 = wait_start(s, 3, 0, timeout=200)
    assert o3.ready, o3.describe()
    log3 = s.pod_log(3)
    assert f"Peer {s.pod_fqdn(2)} did not return: joining without it." in log3
    # The decision follows a fresh reading of every server, not the one before the wait.
    reread = log3.index("Reading the state of every server again after the wait.")
    assert log3.rindex(f"Waiting for peer {s.pod_fqdn(2)}") < reread, log3
    assert f"Connected to the local server {s.pod_fqdn(3)}." in log3[reread:], log3
    assert reread < log3.index("Start as SLAVE Pod."), log3
    written |= write_ids(s, 3, 3000, 10)
    assert not wait_rows(s, (0, 1, 3), expect_all(written), timeout=60)
    since = log_offset(s, 2)
    s.restart_pod(2, wait=False)
    o2 = wait_start(s, 2, since, timeout=150)
    assert o2.ready, o2.describe()
    assert "Truncate tables for replications." not in s.pod_log(2)[since:], "pod 2 resumes, it does not join"
    written |= write_ids(s, 2, 2100, 10) | write_ids(s, 3, 3100, 10)
    missing = wait_rows(s, range(4), expect_all(written), timeout=60)
    rc, flagged = status(s, 0)
    assert not missing, f"{summarize(missing)}\n{flagged}"
    assert rc == 0, flagged


def test_a_slave_returning_after_a_peer_rejoined_without_it_joins_again_and_gets_the_peers_rows(make_sts):
    """Seed 3 of the randomized run, made deterministic: pod 1 crashed and stays
    down; pod 2 writes rows (they reach the master only), then is deleted and
    re-created: its join waits for pod 1, then joins without it (its slot for pod 1
    is new). When pod 1 returns, resuming would never bring the rows pod 2 wrote
    before its re-join: pod 1 joins again, from the master, and has them."""
    s = make_sts(replicas_max=3)
    written: set[int] = set()
    s.scale(3)
    written |= write_ids(s, 0, 1, 10)
    assert not wait_rows(s, range(3), expect_all(written), timeout=60)
    s.kill_pod(1)
    written |= write_ids(s, 2, 2000, 10)
    assert not wait_rows(s, (0, 2), expect_all(written), timeout=60)
    s.delete_pod(2)
    since = log_offset(s, 2)
    s.create_pod(2, wait=False)
    o2 = wait_start(s, 2, since, timeout=200)
    assert o2.ready, o2.describe()
    assert f"Peer {s.pod_fqdn(1)} did not return: joining without it." in s.pod_log(2)[since:]
    written |= write_ids(s, 2, 2100, 10)
    since = log_offset(s, 1)
    s.restart_pod(1, wait=False)
    o1 = wait_start(s, 1, since, timeout=150)
    assert o1.ready, o1.describe()
    assert "Truncate tables for replications." in s.pod_log(1)[since:], "pod 1 joins again"
    written |= write_ids(s, 1, 1000, 10) | write_ids(s, 2, 2200, 10)
    missing = wait_rows(s, range(3), expect_all(written), timeout=60)
    rc, flagged = status(s, 0)
    assert not missing, f"{summarize(missing)}\n{flagged}"
    assert rc == 0, flagged


def test_a_peer_crashing_while_a_joiner_starts_replications_leaves_a_start_the_kubelet_completes(make_sts):
    """Seed 6 of the randomized run (second form): pod 3 joins; when it logs `Start
    replications.`, pod 2 crashes and stays down. The join may fail (exit 10, the
    peer's session died under a statement), but what it leaves must be completed by
    the kubelet's next start, never refused as a SLAVE failure; rows written on the
    running pods reach each other, and pod 2, when it returns, gets them and gives
    its own."""
    s = make_sts(replicas_max=4)
    written: set[int] = set()
    s.scale(3)
    written |= write_ids(s, 0, 1, 10) | write_ids(s, 2, 2000, 10)
    assert not wait_rows(s, range(3), expect_all(written), timeout=60)
    s.create_pod(3, wait=False)
    assert wait_log(s, 3, "Start replications.", 0, timeout=150), s.pod_log(3)
    s.kill_pod(2)
    first = wait_start(s, 3, 0, timeout=200)
    outcomes = [first.describe()]
    if not first.ready:
        assert first.kind == "exited", f"pod 3's join neither completed nor failed: {first.describe()}"
        outcomes += restart_until_ready(s, 3, timeout=200)
    print(f"pod 3's starts: {outcomes}")
    assert s.marker_exists(3), f"pod 3 never became ready: {outcomes}\n{s.pod_log(3)}"
    written |= write_ids(s, 0, 100, 10) | write_ids(s, 1, 1000, 10) | write_ids(s, 3, 3000, 10)
    missing = wait_rows(s, (0, 1, 3), expect_all(written), timeout=60)
    assert not missing, f"{outcomes}\n{summarize(missing)}"
    since = log_offset(s, 2)
    s.restart_pod(2, wait=False)
    o2 = wait_start(s, 2, since, timeout=200)
    assert o2.ready, o2.describe()
    written |= write_ids(s, 2, 2100, 10) | write_ids(s, 3, 3100, 10)
    missing = wait_rows(s, range(4), expect_all(written), timeout=60)
    rc, flagged = status(s, 0)
    assert not missing, f"{outcomes}\n{summarize(missing)}\n{flagged}"
    assert rc == 0, flagged


def hold_origin(s: StatefulSet, k: int, subscription: str) -> subprocess.Popen[str]:
    """A psql session in pod k that holds the replication origin of `subscription`
    (its subscription must be disabled and its worker gone): advancing or resetting
    that origin fails with SQLSTATE 55006 until the session ends (release_origin)."""
    proc = s.popen_in_pod(k, [f"{s.pg_bin}/psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"],
                          env=s.psql_env(), stdin=subprocess.PIPE)
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(f"SELECT pg_replication_origin_session_setup('pg_' || oid) FROM pg_subscription "
                     f"WHERE subname = '{subscription}';\nSELECT 'held';\n")
    proc.stdin.flush()
    for line in proc.stdout:
        if line.strip() == "held":
            return proc
    why = proc.stderr.read() if proc.stderr else ""
    raise AssertionError(f"the origin of {subscription} on pod {k} was not taken: {why}")


def release_origin(proc: subprocess.Popen[str]) -> None:
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


def stop_subscription(s: StatefulSet, k: int, subscription: str, timeout: float = 30.0) -> None:
    """Disables `subscription` on pod k and waits until its apply worker has exited."""
    s.psql(k, f"ALTER SUBSCRIPTION {subscription} DISABLE")
    deadline = time.monotonic() + timeout
    while s.psql(k, f"SELECT 1 FROM pg_stat_subscription WHERE subname = '{subscription}' AND pid IS NOT NULL"):
        assert time.monotonic() < deadline, f"the apply worker of {subscription} on pod {k} stays"
        time.sleep(0.2)


def test_a_join_that_fails_while_resetting_its_own_links_is_joined_again_not_refused(make_sts):
    """Pod 3 must join again (pod 1 forgot it: its side of their pair is reset). Its
    join resets its own links; the reset of its link with pod 1 fails (the origin is
    held by another session). The next start must join again, never be refused as a
    SLAVE failure: the link with the master is reset after the other links, so it is
    not left reset and stopped beside a live link. Rows written on every pod
    afterwards reach every pod."""
    s = make_sts(replicas_max=4)
    written: set[int] = set()
    s.scale(4)
    written |= write_ids(s, 0, 1, 10) | write_ids(s, 3, 3000, 10)
    assert not wait_rows(s, range(4), expect_all(written), timeout=60)
    # Pod 3's side of aku_rep_13 is stopped; pod 1 forgets pod 3 (what a reset does there).
    stop_subscription(s, 3, "aku_rep_13")
    stop_subscription(s, 1, "aku_rep_13")
    s.psql(1, "SELECT pg_replication_origin_advance('pg_' || oid, '0/0') FROM pg_subscription "
              "WHERE subname = 'aku_rep_13'")
    s.psql(1, "SELECT pg_drop_replication_slot('aku_rep_13')")
    holder = hold_origin(s, 3, "aku_rep_13")
    s.exec_in_pod(3, ["rm", "-f", "/tmp/aku_start_completed"])
    try:
        rc, out, err = s.aku(3, "-p", "start")
        assert rc == 10, out + err
        assert "Reset replications." in out and "55006" in out, out
    finally:
        release_origin(holder)
    rc, out, err = s.aku(3, "-p", "start")
    assert rc == 0, out + err
    assert "Truncate tables for replications." in out, "pod 3 joins again"
    for k, base in ((0, 100), (1, 1000), (2, 2000), (3, 3100)):
        written |= write_ids(s, k, base, 10)
    missing = wait_rows(s, range(4), expect_all(written), timeout=60)
    rc, flagged = status(s, 0)
    assert not missing, f"{summarize(missing)}\n{flagged}"
    assert rc == 0, flagged
