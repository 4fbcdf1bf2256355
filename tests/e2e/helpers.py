"""Assertions shared by the end-to-end tests: what a user would check on the pods."""

from __future__ import annotations

import time

from akusim import StatefulSet

TABLES = ("public.t1", "public.t2")


def fingerprint(s: StatefulSet, k: int, table: str) -> tuple[int, str]:
    """(row count, md5 of every row in key order) of `table` on pod k."""
    rows = s.psql(k, f"SELECT count(*), coalesce(md5(string_agg(x::text, ',' ORDER BY x.id)), '') FROM {table} x")
    return int(rows[0][0]), rows[0][1]


def fingerprints(s: StatefulSet, pods, table: str) -> dict[int, tuple[int, str]]:
    return {k: fingerprint(s, k, table) for k in pods}


def wait_identical(s: StatefulSet, pods, *, expect_rows: dict[str, int] | None = None, timeout: float = 60.0):
    """Waits until every table holds identical rows on every pod in `pods` (and,
    when given, the expected row count); fails with the last fingerprints."""
    pods = list(pods)
    deadline = time.monotonic() + timeout
    while True:
        last = {t: fingerprints(s, pods, t) for t in TABLES}
        same = all(len(set(v.values())) == 1 for v in last.values())
        counts_ok = expect_rows is None or all(
            next(iter(last[t].values()))[0] == n for t, n in expect_rows.items())
        if same and counts_ok:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"pods {pods} did not converge within {timeout} s "
                                 f"(expected {expect_rows}): {last}")
        time.sleep(0.5)


def write_rows(s: StatefulSet, k: int, base: int, n: int = 20) -> None:
    """Inserts n uniquely keyed rows into each table on pod k (ids base..base+n-1)."""
    s.psql(k, f"INSERT INTO public.t1 SELECT i, 'pod {k} row ' || i FROM generate_series({base}, {base + n - 1}) i")
    s.psql(k, f"INSERT INTO public.t2 (id, n) SELECT i, {k} FROM generate_series({base}, {base + n - 1}) i")


def aku_objects(s: StatefulSet, k: int) -> dict[str, list[str]]:
    """aku's PostgreSQL objects on pod k: subscriptions, slots, publications."""
    one = lambda sql: sorted(r[0] for r in s.psql(k, sql))  # noqa: E731
    return {
        "subscriptions": one("SELECT subname FROM pg_subscription WHERE subname LIKE 'aku\\_%'"),
        "enabled": one("SELECT subname FROM pg_subscription WHERE subname LIKE 'aku\\_%' AND subenabled"),
        "slots": one("SELECT slot_name FROM pg_replication_slots WHERE slot_name LIKE 'aku\\_%'"),
        "publications": one("SELECT pubname FROM pg_publication WHERE pubname LIKE 'aku\\_%'"),
    }


def pair_slots(n: int) -> list[str]:
    return [f"aku_rep_{i}{j}" for i in range(n) for j in range(i + 1, n)]


DROP_SLOTS_SQL = """
DO $$
DECLARE s text;
BEGIN
  FOR s IN SELECT slot_name FROM pg_replication_slots LOOP
    LOOP
      PERFORM pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = s AND active_pid IS NOT NULL;
      PERFORM pg_sleep(0.05);
      BEGIN
        PERFORM pg_drop_replication_slot(s);
        EXIT;
      EXCEPTION WHEN object_in_use THEN
        NULL;  -- a peer's subscription reconnected in between: terminate it again
      END;
    END LOOP;
  END LOOP;
END $$"""


def destroy_replication_state(s: StatefulSet, k: int) -> None:
    """Pod k loses its replication state (as after restoring its data from a
    backup): its aku subscriptions and every slot are dropped, its marker removed."""
    for (sub,) in s.psql(k, "SELECT subname FROM pg_subscription"):
        s.psql(k, f"ALTER SUBSCRIPTION {sub} DISABLE")
        s.psql(k, f"ALTER SUBSCRIPTION {sub} SET (slot_name = NONE)")
        s.psql(k, f"DROP SUBSCRIPTION {sub}")
    s.psql(k, DROP_SLOTS_SQL)
    s.exec_in_pod(k, ["rm", "-f", "/tmp/aku_start_completed"])
