"""The benchmark behind scripts/bench (not a test): in one run of the pod simulator,
real PostgreSQL 18 servers, it times

  - the join: `aku -p start` on pod 1 (a re-join after `aku -p end`, which
    truncates and copies again) with N rows (default 1,000,000) in public.t1 on
    pod 0, against PostgreSQL's own copy of the same rows between the same two
    servers with a bare subscription (CREATE SUBSCRIPTION ... WITH (copy_data =
    true) until every pg_subscription_rel row is 'r'), and the ratio; then the
    same with empty tables (aku's fixed cost of a join);
  - `aku -p start` on the master with 5 absent peers (AKU_SERVER_COUNT = 6, only
    pod 0 exists), after `aku -p end`;
  - `aku -p end` on pod 3 with 3 live peers (idle, and just after writes), and on
    pod 1 with 1 live peer;

each aku run under /usr/bin/time inside the pod (elapsed time and max RSS of the
aku process). Prints a table, then the timeline of aku's log lines for the slowest
run of each case. Exits non-zero if a command fails or a copy is incomplete."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import re
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "sim"))
sys.path.insert(0, str(ROOT / "tests" / "e2e"))

from akusim import StatefulSet, sweep_stale  # noqa: E402
from conftest import default_conf  # noqa: E402

STS_PREFIX = "bench"
SVC = "bench-svc"

# aku replicates t1 and t2; c1 and c2 are identical tables that only the bare
# subscription copies (same servers, same rows, same moment).
SCHEMA = """
CREATE TABLE public.t1 (id bigint PRIMARY KEY, v text);
CREATE TABLE public.t2 (id bigint PRIMARY KEY, n integer, at timestamptz DEFAULT now());
CREATE TABLE public.c1 (id bigint PRIMARY KEY, v text);
CREATE TABLE public.c2 (id bigint PRIMARY KEY, n integer, at timestamptz DEFAULT now());
"""

MARKER = "/tmp/aku_start_completed"
TIME_FMT = "AKUBENCH %e %M %x"
LOG_RE = re.compile(r"^\[AKU\]\[(\d{4}/\d\d/\d\d \d\d:\d\d:\d\d\.\d+)\]\[\d+\] "
                    r"\[(\w+)\]\[([^\]]*)\]\[([^\]]*)\]\[([^\]]*)\] (.*)$")
ENTRY_RE = re.compile(r"^\[entrypoint\]\[([0-9T:.\-]+)Z\] (.*)$")


def mib(kb: int | None) -> str:
    """A max RSS in MiB, "–" when unknown."""
    return f"{kb / 1024:.1f}" if kb is not None else "–"


class BenchError(Exception):
    pass


@dataclass
class Run:
    seconds: float            # elapsed time of the measured process (/usr/bin/time %e, or SQL clock)
    wall: float               # wall time around the exec from the host (nsenter + setpriv included)
    rss_kb: int | None = None  # max RSS of aku (/usr/bin/time %M)
    log: str = ""


@dataclass
class Case:
    name: str
    command: str
    runs: list[Run] = field(default_factory=list)

    def mean(self) -> float:
        return statistics.mean(r.seconds for r in self.runs)

    def spread(self) -> str:
        xs = [r.seconds for r in self.runs]
        return f"{min(xs):.2f}–{max(xs):.2f}" if len(xs) > 1 else "–"

    def rss_mib(self) -> str:
        xs = [r.rss_kb for r in self.runs if r.rss_kb is not None]
        return f"{max(xs) / 1024:.1f}" if xs else "–"


def slowest(case: Case) -> Run:
    return max(case.runs, key=lambda r: r.seconds)


def say(text: str) -> None:
    print(f"\n=== {text}", flush=True)


def aku_timed(s: StatefulSet, k: int, action: str) -> Run:
    """`aku -p ACTION` in pod k under /usr/bin/time; fails on a non-zero exit."""
    t0 = time.monotonic()
    rc, out, err = s.exec_in_pod(k, ["/usr/bin/time", "-f", TIME_FMT, "aku", "-p", action], timeout=900)
    wall = time.monotonic() - t0
    stats = [ln for ln in err.splitlines() if ln.startswith("AKUBENCH ")]
    if rc != 0 or not stats:
        raise BenchError(f"`aku -p {action}` on {s.pod_name(k)} failed (exit {rc})\n{out}\n{err}")
    _, elapsed, rss, _ = stats[-1].split()
    return Run(seconds=float(elapsed), wall=wall, rss_kb=int(rss), log=out)


def end_then_start(s: StatefulSet, k: int) -> tuple[Run, Run]:
    """`aku -p end` then `aku -p start` on pod k (end removes the marker; a leftover
    one is removed so that start is not refused as a duplicate)."""
    end = aku_timed(s, k, "end")
    if s.marker_exists(k):
        s.exec_in_pod(k, ["rm", "-f", MARKER])
    start = aku_timed(s, k, "start")
    return end, start


def psql_script(s: StatefulSet, k: int, script: str, timeout: float = 900) -> list[list[str]]:
    """A psql script (several statements, each in its own transaction) in pod k on
    its own server; returns the rows printed (unaligned, '|' separated)."""
    argv = [f"{s.pg_bin}/psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1",
            "-p", str(s.port), "-U", s.sys_user, "-d", s.database, "-f", "-"]
    env = {"PGPASSFILE": str(s.state_dir / "secret" / "pgpass"), "PGAPPNAME": "akubench"}
    rc, out, err = s.exec_in_pod(k, argv, env=env, input=script, timeout=timeout)
    if rc != 0:
        raise BenchError(f"psql on {s.pod_name(k)} failed (exit {rc}): {err}")
    return [ln.split("|") for ln in out.splitlines() if ln.strip()]


def load_rows(s: StatefulSet, k: int, tables: list[str], rows: int) -> float:
    t0 = time.monotonic()
    for t in tables:
        s.psql(k, f"INSERT INTO {t} SELECT i, md5(i::text) FROM generate_series(1, {rows}) i", timeout=900)
    s.psql(k, "CHECKPOINT")
    return time.monotonic() - t0


def count(s: StatefulSet, k: int, table: str) -> int:
    return int(s.psql(k, f"SELECT count(*) FROM {table}")[0][0])


def bare_copy(s: StatefulSet, master: int, k: int, rows: int) -> Run:
    """PostgreSQL alone: a subscription on pod k with copy_data = true from pod
    `master`'s publication of c1, c2; timed on the subscriber's clock from CREATE
    SUBSCRIPTION until every pg_subscription_rel row is 'r' (polled every 10 ms)."""
    conninfo = f"host={s.pod_fqdn(master)} port={s.port} dbname={s.database} user={s.sys_user}"
    script = f"""
SELECT extract(epoch FROM clock_timestamp()) AS t0 \\gset
CREATE SUBSCRIPTION bench_bare CONNECTION '{conninfo}' PUBLICATION bench_bare WITH (copy_data = true);
DO $$
BEGIN
  LOOP
    EXIT WHEN (SELECT count(*) = 2 AND bool_and(r.srsubstate = 'r')
               FROM pg_subscription_rel r JOIN pg_subscription s ON s.oid = r.srsubid
               WHERE s.subname = 'bench_bare');
    COMMIT;
    PERFORM pg_sleep(0.01);
  END LOOP;
END $$;
SELECT extract(epoch FROM clock_timestamp()) - :t0;
"""
    t0 = time.monotonic()
    out = psql_script(s, k, script)
    wall = time.monotonic() - t0
    seconds = float(out[-1][0])
    got = count(s, k, "public.c1")
    if got != rows:
        raise BenchError(f"bare copy: {got} rows in public.c1 on {s.pod_name(k)}, expected {rows}")
    s.psql(k, "DROP SUBSCRIPTION bench_bare")  # drops its slot on the publisher too
    s.psql(k, "TRUNCATE public.c1, public.c2")
    return Run(seconds=seconds, wall=wall)


def entrypoint_start_seconds(s: StatefulSet, k: int, timeout: float = 10.0) -> float | None:
    """Duration of the last `aku -p start` run by pod k's entrypoint (from its log).
    create_pod returns on the marker, which aku writes just before it exits: the
    entrypoint's "completed" line may come a moment later."""
    deadline = time.monotonic() + timeout
    while True:
        x = _entrypoint_start_seconds(s, k)
        if x is not None or time.monotonic() > deadline:
            return x
        time.sleep(0.05)


def _entrypoint_start_seconds(s: StatefulSet, k: int) -> float | None:
    began = ended = None
    for line in s.pod_log(k).splitlines():
        m = ENTRY_RE.match(line)
        if not m:
            continue
        at = dt.datetime.fromisoformat(m.group(1))
        if " -p start" in m.group(2) and m.group(2).startswith("running"):
            began, ended = at, None
        elif m.group(2) == "aku -p start completed":
            ended = at
    if began and ended:
        return (ended - began).total_seconds()
    return None


def phase_seconds(log: str, begin: str, end: str) -> float | None:
    """Time between aku's log lines `begin` and `end` (messages), or None."""
    at = {}
    for line in log.splitlines():
        m = LOG_RE.match(line)
        if m and m.group(6) in (begin, end) and m.group(6) not in at:
            at[m.group(6)] = dt.datetime.strptime(m.group(1), "%Y/%m/%d %H:%M:%S.%f")
    if begin in at and end in at:
        return (at[end] - at[begin]).total_seconds()
    return None


def timeline(log: str) -> list[str]:
    """aku's log lines with the time since the first one and since the previous one."""
    out, first, prev = [], None, None
    for line in log.splitlines():
        m = LOG_RE.match(line)
        if not m:
            continue
        at = dt.datetime.strptime(m.group(1), "%Y/%m/%d %H:%M:%S.%f")
        first = first or at
        gap = (at - prev).total_seconds() if prev else 0.0
        prev = at
        flag = "  <--" if gap >= 0.3 else ""
        where = "" if m.group(4) == "-" and m.group(5) == "-" else f"[{m.group(4)}][{m.group(5)}] "
        out.append(f"  +{(at - first).total_seconds():7.3f}s (+{gap:6.3f}) {m.group(2):4} "
                   f"{where}{m.group(6)}{flag}")
    return out


def joins(s: StatefulSet, rows: int, runs: int) -> tuple[Case, Case, Case]:
    """Alternately: aku's re-join of pod 1 (`aku -p end`, `aku -p start`) and a bare
    copy of the same rows between the same servers; pod 0 holds `rows` rows in
    public.t1 and public.c1."""
    join = Case(f"join: `aku -p start` on pod 1, {rows:,} rows on pod 0",
                "aku -p end; aku -p start  (pod 1, re-join: truncate + copy)")
    bare = Case(f"bare copy of the same {rows:,} rows (CREATE SUBSCRIPTION, until all 'r')",
                "same two servers, public.c1/c2, copy_data = true")
    for i in range(runs):
        say(f"Join run {i + 1}/{runs} ({rows:,} rows): `aku -p end` then `aku -p start` on pod 1")
        _, start = end_then_start(s, 1)
        got = count(s, 1, "public.t1")
        if got != rows:
            raise BenchError(f"after aku's join pod 1 holds {got} rows of public.t1, expected {rows}")
        join.runs.append(start)
        print(f"  aku join: {start.seconds:.2f} s, max RSS {mib(start.rss_kb)} MiB")
        say(f"Bare copy run {i + 1}/{runs} ({rows:,} rows): subscription on pod 1 from pod 0")
        b = bare_copy(s, 0, 1, rows)
        bare.runs.append(b)
        print(f"  bare copy: {b.seconds:.2f} s")
    sync = Case("  of which aku's sync phase ('Sync tables' .. 'sync has ended')",
                "aku's log lines, same runs")
    for r in join.runs:
        x = phase_seconds(r.log, "Sync tables from MASTER Server.", "Replication sync has ended.")
        sync.runs.append(Run(seconds=float("nan") if x is None else x, wall=0.0))
    return join, sync, bare


def conf(sts: str, svc: str, server_count: int) -> str:
    # Queries may run long (the copy); everything else is the e2e default.
    return default_conf(sts, svc, server_count).replace("AKU_QUERY_TIMEOUT = 60", "AKU_QUERY_TIMEOUT = 900")


def bench_join_and_end(args, cases: dict[str, Case], timelines: dict[str, list[str]]) -> None:
    sts = f"{STS_PREFIX}-a-{os.getpid()}"
    rows = args.rows
    with StatefulSet(sts, SVC, 4, conf(sts, SVC, 4), SCHEMA, aku_bin=args.aku_bin,
                     start_timeout=900) as s:
        say(f"StatefulSet {sts} (AKU_SERVER_COUNT = 4): pod 0, then {rows:,} rows into "
            f"public.t1 (aku) and public.c1 (bare copy) on pod 0")
        s.create_pod(0)
        took = load_rows(s, 0, ["public.t1", "public.c1"], rows)
        size = s.psql(0, "SELECT pg_size_pretty(pg_total_relation_size('public.t1'))")[0][0]
        print(f"  loaded in {took:.1f} s; public.t1 is {size} with its index")
        s.psql(0, "CREATE PUBLICATION bench_bare FOR TABLE public.c1, public.c2")

        say("Pod 1 joins (its entrypoint runs `aku -p start`: truncate, copy from pod 0)")
        s.create_pod(1)
        first = entrypoint_start_seconds(s, 1)
        if count(s, 1, "public.t1") != rows:
            raise BenchError("pod 1 does not hold every row after its first join")
        cases["join_first"] = Case("join, first start of pod 1 (entrypoint log, no RSS)",
                                   "create_pod(1): entrypoint runs `aku -p start`",
                                   [Run(seconds=first or float("nan"), wall=first or float("nan"))])
        print(f"  first join: {first or float('nan'):.2f} s (entrypoint log)")
        timelines["join_first"] = timeline(s.pod_log(1))

        join, sync, bare = joins(s, rows, args.join_runs)
        cases["join"], cases["sync"], cases["bare"] = join, sync, bare
        timelines["join"] = timeline(slowest(join).log)

        say("Emptying the tables (TRUNCATE is not replicated: on each pod): the fixed cost of a join")
        for k in (0, 1):
            s.psql(k, "TRUNCATE public.t1, public.t2, public.c1, public.c2")
        join0, sync0, bare0 = joins(s, 0, args.join_runs)
        cases["join0"], cases["sync0"], cases["bare0"] = join0, sync0, bare0
        timelines["join0"] = timeline(slowest(join0).log)

        say("Pods 2 and 3 join (empty tables)")
        s.psql(0, "DROP PUBLICATION bench_bare")
        s.create_pod(2)
        s.create_pod(3)

        end3 = Case("end on pod 3, 3 live peers (4 pods up)", "aku -p end  (pod 3)")
        rejoin = Case("re-join of pod 3, empty tables, 3 live peers", "aku -p start  (pod 3, after end)")
        for i in range(args.runs):
            say(f"End run {i + 1}/{args.runs}: `aku -p end` on pod 3 (3 live peers), then `aku -p start`")
            e, st = end_then_start(s, 3)
            end3.runs.append(e)
            rejoin.runs.append(st)
            print(f"  end: {e.seconds:.2f} s ({mib(e.rss_kb)} MiB); "
                  f"start again: {st.seconds:.2f} s ({mib(st.rss_kb)} MiB)")
        end3w = Case("end on pod 3, 3 live peers, just after writes",
                     f"{args.write_rows:,} rows on pod 3 and on pod 0; aku -p end  (pod 3)")
        base = 10_000_000
        for i in range(args.runs):
            say(f"End-after-writes run {i + 1}/{args.runs}: {args.write_rows:,} rows written on pod 3 "
                f"and on pod 0, then at once `aku -p end` on pod 3, then `aku -p start`")
            for k in (3, 0):
                s.psql(k, f"INSERT INTO public.t1 SELECT i, md5(i::text) FROM "
                          f"generate_series({base + 1}, {base + args.write_rows}) i")
                base += args.write_rows
            e, st = end_then_start(s, 3)
            end3w.runs.append(e)
            print(f"  end: {e.seconds:.2f} s ({mib(e.rss_kb)} MiB); start again: {st.seconds:.2f} s")
        cases["end3"], cases["end3w"], cases["rejoin3"] = end3, end3w, rejoin
        timelines["end3w"] = timeline(slowest(end3w).log)
        timelines["end3"] = timeline(slowest(end3).log)
        timelines["rejoin3"] = timeline(slowest(rejoin).log)

        say("Scaling down to 2 pods (graceful deletes of pods 3 and 2)")
        s.scale(2)
        end1 = Case("end on pod 1, 1 live peer (2 pods up)", "aku -p end  (pod 1)")
        for i in range(args.runs):
            say(f"End run {i + 1}/{args.runs}: `aku -p end` on pod 1 (1 live peer), then `aku -p start`")
            e, st = end_then_start(s, 1)
            end1.runs.append(e)
            print(f"  end: {e.seconds:.2f} s ({mib(e.rss_kb)} MiB); start again: {st.seconds:.2f} s")
        cases["end1"] = end1
        timelines["end1"] = timeline(slowest(end1).log)
        say("Tearing down")


def bench_master_start(args, cases: dict[str, Case], timelines: dict[str, list[str]]) -> None:
    sts = f"{STS_PREFIX}-b-{os.getpid()}"
    with StatefulSet(sts, SVC, 6, conf(sts, SVC, 6), SCHEMA, aku_bin=args.aku_bin) as s:
        say(f"StatefulSet {sts} (AKU_SERVER_COUNT = 6): only pod 0")
        s.create_pod(0)
        first = entrypoint_start_seconds(s, 0)
        print(f"  first start of pod 0: {first or float('nan'):.2f} s (entrypoint log)")
        start = Case("start on the master, 5 absent peers (AKU_SERVER_COUNT = 6)",
                     "aku -p start  (pod 0 alone, after end)")
        end0 = Case("end on the master, no live peer (5 absent)", "aku -p end  (pod 0 alone)")
        for i in range(args.runs):
            say(f"Master run {i + 1}/{args.runs}: `aku -p end` then `aku -p start` on pod 0")
            e, st = end_then_start(s, 0)
            end0.runs.append(e)
            start.runs.append(st)
            print(f"  start: {st.seconds:.2f} s ({mib(st.rss_kb)} MiB); end before it: {e.seconds:.2f} s")
        cases["master"], cases["end0"] = start, end0
        timelines["master"] = timeline(slowest(start).log)
        say("Tearing down")


def machine() -> str:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GiB RAM, Linux {platform.release()}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--aku-bin", default=str(ROOT / "target" / "release" / "aku"))
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows in public.t1 for the join")
    parser.add_argument("--write-rows", type=int, default=10_000,
                        help="rows written on pod 3 and on pod 0 before an `end` (the after-writes case)")
    parser.add_argument("--join-runs", type=int, default=3, help="aku joins and bare copies (alternating)")
    parser.add_argument("--runs", type=int, default=3, help="runs of each start / end case")
    args = parser.parse_args()
    if not Path("/usr/bin/time").is_file():
        print("no /usr/bin/time: run scripts/bench (it installs Debian's time)")
        return 2
    began = time.monotonic()
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    swept = sweep_stale(STS_PREFIX)
    if swept:
        print(f"swept leftovers of crashed runs: {swept}")
    cases: dict[str, Case] = {}
    timelines: dict[str, list[str]] = {}
    try:
        bench_join_and_end(args, cases, timelines)
        bench_master_start(args, cases, timelines)
    except BenchError as e:
        print(f"BENCHMARK FAILED: {e}")
        return 1

    say(f"Results ({stamp}; {machine()}; PostgreSQL 18, pod simulator)")
    argv = sys.argv[3:] if sys.argv[1:2] == ["--aku-bin"] else sys.argv[1:]
    print(f"  command: scripts/bench {' '.join(argv)}".rstrip())
    print("  time = elapsed of the aku process (/usr/bin/time %e inside the pod), mean of the runs;"
          "\n  bare copy = PostgreSQL's own clock from CREATE SUBSCRIPTION to every table 'r'")
    head = f"  {'case':74} {'runs':>4} {'mean s':>8} {'min–max s':>12} {'max RSS MiB':>12}  command"
    print(head)
    print("  " + "-" * (len(head) - 2 + 20))
    order = ["join", "sync", "bare", "join0", "sync0", "bare0", "join_first", "master",
             "end3", "end3w", "end1", "end0", "rejoin3"]
    for key in order:
        c = cases[key]
        print(f"  {c.name:74} {len(c.runs):>4} {c.mean():>8.2f} {c.spread():>12} {c.rss_mib():>12}  {c.command}")
    ratio = cases["join"].mean() / cases["bare"].mean()
    print(f"\n  join ratio ({args.rows:,} rows): aku {cases['join'].mean():.2f} s / bare copy "
          f"{cases['bare'].mean():.2f} s = {ratio:.2f}x")
    print(f"  fixed cost of a join (empty tables): aku {cases['join0'].mean():.2f} s, "
          f"bare copy {cases['bare0'].mean():.2f} s")

    titles = {"join_first": "first start of pod 1 by its entrypoint (pod log)",
              "join": "aku -p start, join of pod 1 (slowest run)",
              "join0": "aku -p start, join of pod 1 with empty tables (slowest run)",
              "master": "aku -p start on the master with 5 absent peers (slowest run)",
              "end3": "aku -p end on pod 3 with 3 live peers (slowest run)",
              "end3w": "aku -p end on pod 3 with 3 live peers, just after writes (slowest run)",
              "end1": "aku -p end on pod 1 with 1 live peer (slowest run)",
              "rejoin3": "aku -p start, re-join of pod 3 with empty tables (slowest run)"}
    for key, title in titles.items():
        say(f"Timeline: {title}  (<-- marks a gap of 0.3 s or more)")
        print("\n".join(timelines.get(key) or ["  (no log lines)"]))
    print(f"\nBenchmark completed in {time.monotonic() - began:.0f} s.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
