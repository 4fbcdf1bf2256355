"""Issue 12: a server that logs in and then goes silent, a wrong password, a missing
driver and a signal during the local address check, against fake servers on
127.0.0.1 (tests/e2e/fakes/pgfake.py). aku runs as pod pg-0 in a mount namespace of
its own whose /etc/hosts makes pg-0.svc resolve to 127.0.0.1."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from fakes.pgfake import PgFake


def conf(port: int, check_count: int = 1, driver: str | None = None) -> str:
    extra = f'AKU_ODBC_DRIVER = "{driver}"\n' if driver else ""
    return f"""\
AKU_STS_NAME = pg
AKU_SVC_NAME = svc
AKU_SERVER_COUNT = 1
AKU_BACKEND = postgresql
AKU_PORT_NO = {port}
AKU_ADDRESS_CHECK_COUNT = {check_count}
AKU_QUERY_RETRY_COUNT = 0
AKU_QUERY_TIMEOUT = 20
{extra}REPLICATIONS = (
    REPLICATION_NAME_PREFIX = AKU_REP
    ( PUBLIC.T1 )
)
"""


def aku_argv(aku_bin: str, tmp: Path, port: int, *args: str, check_count: int = 1,
             driver: str | None = None) -> tuple[list[str], dict[str, str]]:
    (tmp / "aku.conf").write_text(conf(port, check_count, driver))
    (tmp / "hosts").write_text("127.0.0.1 localhost\n127.0.0.1 pg-0.svc pg-0\n")
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "ODBCSYSINI": os.environ["ODBCSYSINI"],
        "AKU_HOSTNAME": "pg-0",
        "AKU_CONF": str(tmp / "aku.conf"),
        "AKU_SYS_PASSWORD": "secret",
        "AKU_MARKER_FILE": str(tmp / "marker"),
    }
    argv = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
            'mount --bind "$0" /etc/hosts && exec "$@"', str(tmp / "hosts"), aku_bin, *args]
    return argv, env


def run(aku_bin: str, tmp: Path, port: int, *args: str, **kw) -> tuple[int, str, float]:
    argv, env = aku_argv(aku_bin, tmp, port, *args, **kw)
    started = time.monotonic()
    cp = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120, check=False)
    return cp.returncode, cp.stdout + cp.stderr, time.monotonic() - started


@pytest.fixture(autouse=True)
def _odbc_config():
    if not os.environ.get("ODBCSYSINI"):
        pytest.skip("ODBCSYSINI is not set: source scripts/env.sh")


@pytest.mark.parametrize("mode", ["login-then-silent", "setup-then-silent", "accept-silent"])
@pytest.mark.parametrize("args", [("-p", "end"), ("-p", "start"), ("-p", "start", "--dry-run")])
def test_a_local_server_that_goes_silent_cannot_hang_aku(aku_bin, tmp_path, mode, args):
    with PgFake(mode) as pg:
        rc, out, took = run(aku_bin, tmp_path, pg.port, *args)
    # Bounded by aku itself: the login (5 s), the whole connection (20 s).
    assert rc == 5, out
    assert took < 40, f"{took:.1f} s\n{out}"
    assert "did not answer after 1 attempts" in out, out


def test_a_wrong_password_is_not_retried_and_has_its_own_exit_code(aku_bin, tmp_path):
    with PgFake("wrong-password") as pg:
        rc, out, took = run(aku_bin, tmp_path, pg.port, "-p", "start", check_count=5)
        logins = len(pg.connections)
    assert rc == 14, out
    assert "The local server pg-0.svc refused aku's login: " in out, out
    assert "password authentication failed" in out, out
    assert logins == 1, f"{logins} logins: a refused login is not retried"
    assert took < 10, out
    assert "secret" not in out


def test_a_missing_odbc_driver_has_its_own_exit_code(aku_bin, tmp_path):
    with PgFake("answer-all") as pg:
        rc, out, _ = run(aku_bin, tmp_path, pg.port, "-p", "end", check_count=5, driver="/nonexistent/libnodriver.so")
        logins = len(pg.connections)
    assert rc == 15, out
    assert "The ODBC driver cannot be used" in out and "AKU_ODBC_DRIVER" in out, out
    assert logins == 0


def test_a_signal_during_the_local_address_check_ends_aku_within_a_second(aku_bin, tmp_path):
    with PgFake("accept-silent") as pg:
        argv, env = aku_argv(aku_bin, tmp_path, pg.port, "-p", "start", check_count=30)
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                start_new_session=True)
        time.sleep(2)
        signalled = time.monotonic()
        os.killpg(proc.pid, signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
        took = time.monotonic() - signalled
    assert proc.returncode == 12, out
    assert took < 1.5, f"{took:.2f} s\n{out}"
