"""Fixtures of the end-to-end tests: StatefulSets of PostgreSQL + aku pods in the
pod simulator (sim/akusim). Needs root and scripts/setup; see sim/README.md."""

from __future__ import annotations

import itertools
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "sim"))

from akusim import SimError, StatefulSet, find_aku_bin, sweep_stale  # noqa: E402

# Every StatefulSet made here is named e2e<n>-<pid>: unique per test and per run,
# and the prefix lets a run sweep what a crashed earlier run left behind.
STS_PREFIX = "e2e"
SVC = "aku-svc"
_counter = itertools.count()

DEFAULT_SCHEMA = """
CREATE TABLE public.t1 (id bigint PRIMARY KEY, v text);
CREATE TABLE public.t2 (id bigint PRIMARY KEY, n integer, at timestamptz DEFAULT now());
"""


def default_conf(sts: str, svc: str, server_count: int, port: int = 20300) -> str:
    """An aku.conf for the PostgreSQL backend replicating DEFAULT_SCHEMA's tables."""
    return f"""\
AKU_STS_NAME = {sts}
AKU_SVC_NAME = {svc}
AKU_SERVER_COUNT = {server_count}
AKU_BACKEND = postgresql
AKU_SYS_USER = postgres
AKU_DATABASE = postgres
AKU_PORT_NO = {port}
AKU_QUERY_TIMEOUT = 60
AKU_QUERY_RETRY_COUNT = 2
AKU_QUERY_RETRY_DELAY_MSEC = 500
AKU_ADDRESS_CHECK_COUNT = 10
REPLICATIONS = (
    REPLICATION_NAME_PREFIX = AKU_REP
    SYNC_PARALLEL_COUNT     = 1
    ( PUBLIC.T1, PUBLIC.T2 )
)
"""


def pytest_configure(config):
    config.addinivalue_line("markers", "e2e: needs root, namespaces and PostgreSQL (scripts/setup)")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, f"rep_{rep.when}", rep)


@pytest.fixture(scope="session", autouse=True)
def _e2e_environment():
    if os.geteuid() != 0:
        pytest.skip("the pod simulator needs root")
    swept = sweep_stale(STS_PREFIX)
    if swept:
        print(f"swept leftovers of crashed runs: {swept}")
    yield


@pytest.fixture
def aku_bin() -> str:
    """The aku binary under test (akusim.find_aku_bin: $AKU_BIN, else the newer build).
    Simulator self-tests override this with a test double."""
    try:
        return find_aku_bin()
    except SimError as e:
        pytest.fail(str(e))


@pytest.fixture
def make_sts(request, aku_bin) -> Iterator[Callable[..., StatefulSet]]:
    """Factory: make_sts(replicas_max=4, conf=None, schema_sql=DEFAULT_SCHEMA, **kw)
    builds a StatefulSet with a unique name; `conf` is aku.conf text or a callable
    (sts, svc, replicas_max) -> text, default default_conf. Every StatefulSet made
    is torn down after the test, whatever happened; on failure the end of each pod's
    log is printed."""
    made: list[StatefulSet] = []

    def factory(replicas_max: int = 4, conf=None, schema_sql=DEFAULT_SCHEMA, **kw) -> StatefulSet:
        sts = f"{STS_PREFIX}{next(_counter)}-{os.getpid()}"
        svc = kw.pop("svc", SVC)
        if conf is None:
            conf = default_conf
        conf_text = conf(sts, svc, replicas_max) if callable(conf) else conf
        kw.setdefault("aku_bin", aku_bin)
        s = StatefulSet(sts, svc, replicas_max, conf_text, schema_sql, **kw)
        made.append(s)
        return s

    yield factory

    failed = any(getattr(request.node, f"rep_{w}", None) is not None
                 and getattr(request.node, f"rep_{w}").failed for w in ("setup", "call"))
    for s in made:
        if failed:
            for k in range(s.replicas_max):
                log = s.pod_log(k)
                if log:
                    # aku's and the entrypoint's lines only: the server's crowd them out of an excerpt.
                    ours = [line[:240] for line in log.splitlines()
                            if line.startswith(("[AKU]", "[entrypoint]", "AKU "))]
                    tail = "\n".join(ours[-30:])
                    print(f"----- {s.pod_name(k)}: last lines of aku and the entrypoint -----\n{tail}")
        s.teardown()


@pytest.fixture
def sts(make_sts) -> StatefulSet:
    """A StatefulSet of at most 4 pods, none created yet."""
    return make_sts()
