"""Helpers of the fault tests (test_join_faults.py, test_chaos.py): how a pod's
start ended, SIGKILL of the aku process inside one pod, and checks of exactly
which acknowledged rows each pod holds."""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass

from akusim import PodFailed, PsqlError, StatefulSet
from akusim._sys import netns_inode, pids_in_netns

# The entrypoint's line when aku -p start was refused with exit 7: the server keeps
# running without the marker, so the entrypoint does not exit.
REFUSED_LINE = "aku -p start refused: manual recovery required (exit 7)"
SLAVE_FAILURE = "The SLAVE server is detected to have failed. Check and perform a manual recovery."
MASTER_FAILURE = "The MASTER server is detected to have failed. Check and perform a manual recovery."


@dataclass
class StartOutcome:
    """How one start of a pod ended: `ready` (marker written), `exited` (the
    entrypoint exited with `rc`), `refused` (exit 7, server kept up) or `timeout`."""
    kind: str
    rc: int | None = None
    log: str = ""

    @property
    def ready(self) -> bool:
        return self.kind == "ready"

    def describe(self) -> str:
        aku_lines = [line for line in self.log.splitlines() if "[ERROR]" in line or "detected to have failed" in line
                     or "AKU failed to run." in line or "aku -p start" in line]
        return f"{self.kind} (rc {self.rc}): " + " | ".join(aku_lines[-6:])


def log_offset(s: StatefulSet, k: int) -> int:
    """The current length of pod k's log (the start of what the next start prints)."""
    return len(s.pod_log(k))


def wait_start(s: StatefulSet, k: int, since: int, timeout: float = 120.0) -> StartOutcome:
    """Waits until pod k's current start ends: marker, entrypoint exit, or refusal
    (exit 7, logged after offset `since`); never longer than `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            s.wait_ready(k, timeout=0.5)
            return StartOutcome("ready", 0, s.pod_log(k)[since:])
        except PodFailed as e:
            if e.exit_code is not None:
                return StartOutcome("exited", e.exit_code, s.pod_log(k)[since:])
        text = s.pod_log(k)[since:]
        if REFUSED_LINE in text:
            return StartOutcome("refused", 7, text)
        if time.monotonic() > deadline:
            return StartOutcome("timeout", None, text)


def wait_log(s: StatefulSet, k: int, needle: str, since: int, timeout: float = 60.0, interval: float = 0.02) -> bool:
    """Polls pod k's log (after offset `since`) for `needle`; True when seen."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if needle in s.pod_log(k)[since:]:
            return True
        time.sleep(interval)
    return False


def aku_pids(s: StatefulSet, k: int) -> list[int]:
    """Pids of the aku processes running inside pod k (and only pod k: selected by
    the pod's network namespace, never by name across the machine)."""
    out = []
    for pid in pids_in_netns(netns_inode(s.pod_netns(k))):
        try:
            with open(f"/proc/{pid}/comm") as f:
                if f.read().strip() == "aku":
                    out.append(pid)
        except OSError:
            continue
    return out


def kill_aku(s: StatefulSet, k: int) -> list[int]:
    """SIGKILLs every aku process inside pod k; returns their pids."""
    pids = aku_pids(s, k)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return pids


def ids_on(s: StatefulSet, k: int, table: str, where: str = "true") -> set[int]:
    """Every id of `table` on pod k (matching `where`)."""
    return {int(r[0]) for r in s.psql(k, f"SELECT id FROM {table} WHERE {where}", timeout=60)}


def missing_rows(s: StatefulSet, pods, expected: dict[str, set[int]]) -> dict[int, dict[str, list[int]]]:
    """For each pod, per table, the expected ids it does not hold (sorted); pods
    and tables missing nothing are left out. A pod that does not answer counts as
    missing everything."""
    out: dict[int, dict[str, list[int]]] = {}
    for k in pods:
        for table, ids in expected.items():
            if not ids:
                continue
            try:
                have = ids_on(s, k, table, f"id BETWEEN {min(ids)} AND {max(ids)}")
            except PsqlError:
                have = set()
            lost = sorted(ids - have)
            if lost:
                out.setdefault(k, {})[table] = lost
    return out


def wait_rows(s: StatefulSet, pods, expected: dict[str, set[int]], timeout: float = 60.0):
    """Waits (bounded) until every pod holds every expected row; returns what is
    still missing at the end ({} when everything arrived)."""
    deadline = time.monotonic() + timeout
    while True:
        missing = missing_rows(s, pods, expected)
        if not missing or time.monotonic() > deadline:
            return missing
        time.sleep(0.5)


def summarize(missing: dict[int, dict[str, list[int]]]) -> str:
    """`pod 2: public.t1 10 rows (ids 3000..3009)` per pod and table."""
    parts = []
    for k, tables in sorted(missing.items()):
        for table, ids in tables.items():
            parts.append(f"pod {k}: {table} misses {len(ids)} rows (ids {ids[0]}..{ids[-1]})")
    return "; ".join(parts) or "nothing missing"


def status(s: StatefulSet, k: int) -> tuple[int, str]:
    """`aku -s` in pod k: (exit code, the problem lines of its table)."""
    rc, out, err = s.aku(k, "-s", timeout=120)
    problems = [line for line in out.splitlines() if "problem" in line.lower() and line.strip()]
    words = ("orphan", "missing:", "stopped", "not running", "lag ", "not linked", "paused", "items differ",
             "master absent")
    flagged = [line for line in out.splitlines() if any(w in line for w in words)]
    return rc, "\n".join(flagged + problems) + (err.strip() and f"\n{err.strip()}")


def write_ids(s: StatefulSet, k: int, base: int, n: int) -> set[int]:
    """write_rows without the helper's fixed column values: inserts ids base..base+n-1
    into both tables on pod k in one statement each and returns them."""
    s.psql(k, f"INSERT INTO public.t1 SELECT i, 'pod {k} row ' || i FROM generate_series({base}, {base + n - 1}) i")
    s.psql(k, f"INSERT INTO public.t2 (id, n) SELECT i, {k} FROM generate_series({base}, {base + n - 1}) i")
    return set(range(base, base + n))


class LogTail:
    """Reads pod k's log from byte offset `since` on, incrementally (the log of a
    busy pod grows by megabytes: polling it whole would cost a core)."""

    def __init__(self, s: StatefulSet, k: int, since: int | None = None):
        self.path = s.log_path(k)
        self.pos = self.path.stat().st_size if since is None and self.path.exists() else (since or 0)
        self.text = ""

    def poll(self) -> str:
        try:
            with open(self.path, "rb") as f:
                f.seek(self.pos)
                chunk = f.read()
        except FileNotFoundError:
            return self.text
        self.pos += len(chunk)
        self.text += chunk.decode(errors="replace")
        return self.text

    def wait_for(self, needles, timeout: float, stop=lambda: False) -> str | None:
        """The first of `needles` seen within `timeout` s (None if none, or once `stop()`)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.poll()
            for n in needles:
                if n in text:
                    return n
            if stop():
                return None
            time.sleep(0.02)
        return None
