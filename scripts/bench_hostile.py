"""Figures, not a test (issue 12): how long aku takes to exit against each fake
server of tests/e2e/fakes/pgfake.py on 127.0.0.1 (with and without a SIGTERM one
second in), and how long it takes to refuse configuration files holding a 1 MB,
10 MB and 100 MB unknown property name.

Run after `source scripts/env.sh`, with a built aku:
    python3 scripts/bench_hostile.py --aku-bin target/release/aku
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))

from fakes.pgfake import PgFake  # noqa: E402
from test_hostile_servers import aku_argv  # noqa: E402

MODES = ["accept-silent", "login-then-silent", "setup-then-silent"]
ACTIONS = [("-p", "start"), ("-p", "end"), ("-p", "start", "--dry-run"), ("-s",)]


def against(aku_bin: str, mode: str, args: tuple[str, ...], signal_after: float | None) -> tuple[int, float]:
    """Exit code and seconds (from the signal when one is sent, else from the start)."""
    with tempfile.TemporaryDirectory() as tmp, PgFake(mode) as pg:
        argv, env = aku_argv(aku_bin, Path(tmp), pg.port, *args)
        started = time.monotonic()
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        if signal_after is not None:
            time.sleep(signal_after)
            started = time.monotonic()
            os.killpg(proc.pid, signal.SIGTERM)
        rc = proc.wait(timeout=300)
        return rc, time.monotonic() - started


def unknown_name(aku_bin: str, size: int) -> tuple[int, float, int]:
    """Exit code, seconds and message length of `aku -i` on a file whose first
    property name is `size` bytes long."""
    with tempfile.TemporaryDirectory() as tmp:
        conf = Path(tmp) / "aku.conf"
        with open(conf, "wb") as f:
            f.write(b"AKU_" + b"X" * size + b" = 1\n")
        started = time.monotonic()
        cp = subprocess.run([aku_bin, "-i", "--config", str(conf)], capture_output=True, timeout=600, check=False)
        return cp.returncode, time.monotonic() - started, len(cp.stdout) + len(cp.stderr)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--aku-bin", default=str(ROOT / "target" / "release" / "aku"))
    a = ap.parse_args()
    if not os.environ.get("ODBCSYSINI"):
        print("ODBCSYSINI is not set: source scripts/env.sh first")
        return 2
    print(f"{'fake server':<20} {'command':<24} {'exit':>4} {'s':>6}   {'SIGTERM at 1 s: exit':>20} {'s after it':>10}")
    for mode in MODES:
        for args in ACTIONS:
            rc, took = against(a.aku_bin, mode, args, None)
            rc_sig, took_sig = against(a.aku_bin, mode, args, 1.0)
            print(f"{mode:<20} {' '.join(args):<24} {rc:>4} {took:>6.2f}   {rc_sig:>20} {took_sig:>10.2f}", flush=True)
    print()
    print(f"{'unknown name':<20} {'exit':>4} {'s':>6} {'message bytes':>14}")
    for size in (1_000_000, 10_000_000, 100_000_000):
        rc, took, out = unknown_name(a.aku_bin, size)
        print(f"{f'{size // 1_000_000} MB':<20} {rc:>4} {took:>6.2f} {out:>14}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
