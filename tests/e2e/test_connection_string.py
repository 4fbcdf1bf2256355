"""What aku's PostgreSQL connection string delivers: the real aku binary, through
unixODBC and psqlODBC, logs in to a fake server on 127.0.0.1 (tests/e2e/fakes/pgfake.py)
that records the startup and the password. Every password, however special its
characters, must arrive exactly, and aku's own libpq options (`pqopt`:
`hostaddr`, `application_name=aku`) must arrive with it.

aku runs in a mount namespace of its own (`unshare --mount`, root) whose
/etc/hosts makes the pod name resolve to 127.0.0.1, as the pod simulator does.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from fakes.pgfake import PgFake

# Each arrived as something else before aku braced every password (psqlODBC
# URL-decodes a bare value and reads one that starts with '{' up to a '}').
PASSWORDS = [
    "{pw}", "{pw", "pw}", "}", "{", "{}", "p;w", ";", "p=w", "p w", " pw ", "p'w", 'p"w', "p\\w",
    "p+w", "p%41w", "p%", "a}};b", "};{", "{pw;pqopt={application_name=evil}", "pä€w😀", "$(id)`x`",
]


def conf(port: int) -> str:
    return f"""\
AKU_STS_NAME = pg
AKU_SVC_NAME = svc
AKU_SERVER_COUNT = 1
AKU_BACKEND = postgresql
AKU_PORT_NO = {port}
AKU_ADDRESS_CHECK_COUNT = 1
AKU_QUERY_RETRY_COUNT = 0
REPLICATIONS = (
    REPLICATION_NAME_PREFIX = AKU_REP
    ( PUBLIC.T1 )
)
"""


def run_aku(aku_bin: str, tmp: Path, port: int, password: str, *args: str) -> subprocess.CompletedProcess:
    """aku -s (or `args`) as pod pg-0, its host pg-0.svc resolving to 127.0.0.1."""
    (tmp / "aku.conf").write_text(conf(port))
    (tmp / "hosts").write_text("127.0.0.1 localhost\n127.0.0.1 pg-0.svc pg-0\n")
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "ODBCSYSINI": os.environ["ODBCSYSINI"],
        "AKU_HOSTNAME": "pg-0",
        "AKU_CONF": str(tmp / "aku.conf"),
        "AKU_SYS_PASSWORD": password,
        "AKU_MARKER_FILE": str(tmp / "marker"),
    }
    argv = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
            'mount --bind "$0" /etc/hosts && exec "$@"', str(tmp / "hosts"), aku_bin, *(args or ("-s",))]
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60, check=False)


@pytest.fixture(autouse=True)
def _odbc_config():
    if not os.environ.get("ODBCSYSINI"):
        pytest.skip("ODBCSYSINI is not set: source scripts/env.sh (the private odbcinst.ini, CommLog off)")


@pytest.mark.parametrize("password", PASSWORDS, ids=[repr(p) for p in PASSWORDS])
def test_every_password_arrives_exactly_with_akus_libpq_options(aku_bin, tmp_path, password):
    with PgFake("password-capture") as pg:
        cp = run_aku(aku_bin, tmp_path, pg.port, password)
        conn = pg.wait_for_connection(password=True, timeout=10)
    detail = f"aku exit {cp.returncode}\n{cp.stdout}{cp.stderr}"
    assert conn.password == password, detail
    arrived = (conn.user, conn.database, conn.application_name)
    assert arrived == ("postgres", "postgres", "aku"), f"{conn.params}\n{detail}"
    # A refused login is reported as such, and the password is in no message.
    assert "28P01" in cp.stdout + cp.stderr or "password authentication failed" in cp.stdout + cp.stderr, detail
    if len(password.strip()) > 2:
        assert password not in cp.stdout + cp.stderr, detail


def test_a_server_that_logs_in_sees_akus_session_setup(aku_bin, tmp_path):
    """The fake completes the login and answers everything: psqlODBC's own
    statements come first, then aku's session setup, with the password intact."""
    with PgFake("answer-all") as pg:
        cp = run_aku(aku_bin, tmp_path, pg.port, "{s3;cr}3t")
        conn = pg.wait_for_connection(password=True, timeout=10)
        queries = list(conn.queries)
    assert conn.password == "{s3;cr}3t", cp.stdout + cp.stderr
    assert any(q.startswith("SET lock_timeout") for q in queries), queries
    assert any("pg_type" in q for q in queries), queries


def test_a_special_password_works_between_real_postgresql_pods(make_sts):
    """Real PostgreSQL 18 pods (scram-sha-256) whose password starts with '{' and
    holds '%41': sent bare, psqlODBC read it as '{pw}A' and every login failed."""
    from akusim import wait_until

    s = make_sts(replicas_max=2, password="{pw}%41 x")
    s.create_pod(0)
    s.create_pod(1)
    s.psql(0, "INSERT INTO public.t1 VALUES (1, 'from pod 0')")
    wait_until(lambda: s.psql(1, "SELECT v FROM public.t1 WHERE id = 1") == [("from pod 0",)],
               timeout=30, what="the row replicated to pod 1")
