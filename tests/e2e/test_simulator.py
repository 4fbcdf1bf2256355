"""Tests of the pod simulator itself (sim/akusim), with a test double in place of aku
(tests/e2e/fakes/aku-test-double): they check the simulated Kubernetes, not aku."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from akusim import PodFailed, PodState, PsqlError, SimError, SimOptions, StatefulSet, sweep_stale
from akusim._sys import netns_inode, netns_list, pids_in_netns

FAKES = Path(__file__).resolve().parent / "fakes"


@pytest.fixture
def aku_bin() -> str:
    return str(FAKES / "aku-test-double")


def _cmdlines() -> list[str]:
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                out.append(Path(f"/proc/{d}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"))
            except OSError:
                pass
    return out


def _ns_of(s: StatefulSet) -> list[str]:
    return [n for n in netns_list() if n.startswith(f"akusim-{s.sts}-")]


def test_hostnames_and_ips(sts):
    sts.scale(3)
    assert sts.pods() == {0: "running", 1: "running", 2: "running"}
    for k in range(3):
        rc, out, _ = sts.exec_in_pod(k, ["hostname"])
        assert (rc, out.strip()) == (0, f"{sts.sts}-{k}")
        rc, out, _ = sts.exec_in_pod(k, ["ip", "-4", "-o", "addr", "show", "dev", "eth0"])
        assert f"inet {sts.pod_ip(k)}/24" in out
    # the host keeps its own name
    assert os.uname().nodename != f"{sts.sts}-0"


def test_hosts_file_follows_pods(sts):
    sts.create_pod(0)
    sts.create_pod(1)

    def hosts_in(k):
        rc, out, err = sts.exec_in_pod(k, ["cat", "/etc/hosts"])
        assert rc == 0, err
        return out

    text = hosts_in(0)
    assert f"{sts.pod_ip(0)}\t{sts.pod_fqdn(0)} {sts.pod_name(0)}" in text
    assert f"{sts.pod_ip(1)}\t{sts.pod_fqdn(1)} {sts.pod_name(1)}" in text
    assert sts.pod_fqdn(2) not in text
    sts.create_pod(2)
    # updated in place: pod 0's bind mount sees the new pod
    assert f"{sts.pod_ip(2)}\t{sts.pod_fqdn(2)} {sts.pod_name(2)}" in hosts_in(0)
    rc, out, _ = sts.exec_in_pod(1, ["getent", "hosts", sts.pod_fqdn(2)])
    assert rc == 0 and out.split()[0] == sts.pod_ip(2)
    assert sts.delete_pod(2) == 0
    assert sts.pod_fqdn(2) not in hosts_in(0)
    assert sts.pod_fqdn(2) not in hosts_in(1)
    assert hosts_in(0) == sts.hosts_text()


def test_private_tmp(sts):
    sts.scale(2)
    probe = f"akusim-probe-{os.getpid()}"
    rc, _, err = sts.exec_in_pod(0, ["sh", "-c", f"echo pod0 > /tmp/{probe}"])
    assert rc == 0, err
    assert sts.exec_in_pod(0, ["cat", f"/tmp/{probe}"])[1] == "pod0\n"
    assert sts.exec_in_pod(1, ["test", "-e", f"/tmp/{probe}"])[0] == 1
    assert not Path("/tmp", probe).exists()
    assert (sts.pod_tmp(0) / probe).read_text() == "pod0\n"
    # each pod's start marker is in its own /tmp
    for k in range(2):
        assert sts.exec_in_pod(k, ["test", "-e", "/tmp/aku_start_completed"])[0] == 0
        assert sts.marker_exists(k)


def test_postgres_reachable_by_name(sts):
    sts.scale(2)
    rows = sts.psql(0, "SELECT host(inet_server_addr()), current_user", host=sts.pod_fqdn(1))
    assert rows == [(sts.pod_ip(1), "postgres")]
    rows = sts.psql(1, "SELECT host(inet_server_addr())", host=sts.pod_name(0))
    assert rows == [(sts.pod_ip(0),)]
    # the server: PostgreSQL 18, logical WAL, the schema of initdb.d, the port of aku.conf
    assert sts.psql(0, "SHOW server_version")[0][0].startswith("18.")
    assert sts.psql(0, "SHOW wal_level") == [("logical",)]
    assert sts.psql(1, "SHOW port") == [(str(sts.port),)]
    assert sts.psql(1, "SELECT count(*) FROM public.t1") == [("0",)]
    assert sts.psql(0, "SELECT x, NULL, 'a b' FROM generate_series(1, 2) x") == \
        [("1", "", "a b"), ("2", "", "a b")]
    # replication connections are allowed with the password
    rc, out, err = sts.exec_in_pod(
        0, [f"{sts.pg_bin}/psql", "-X", "-At", "-c", "IDENTIFY_SYSTEM",
            f"host={sts.pod_fqdn(1)} port={sts.port} user=postgres dbname=postgres replication=database"],
        env={"PGPASSFILE": str(sts.state_dir / "secret" / "pgpass")})
    assert rc == 0, err
    # a password is required: no passfile, no connection
    rc, out, err = sts.exec_in_pod(
        0, [f"{sts.pg_bin}/psql", "-X", "-w", "-h", sts.pod_fqdn(1), "-p", str(sts.port),
            "-U", "postgres", "-c", "SELECT 1"], env={"PGPASSFILE": "/dev/null"})
    assert rc != 0 and "password" in err
    # the server runs as the unprivileged user, not root
    rc, out, _ = sts.exec_in_pod(0, ["sh", "-c", f"stat -c %U {sts.pgdata(0)}/postmaster.pid"])
    assert out.strip() == "akusim"


def test_deleted_pod_name_stops_resolving(sts):
    sts.scale(2)
    assert sts.delete_pod(1) == 0
    assert sts.pods() == {0: "running"}
    t = time.monotonic()
    rc, _, _ = sts.exec_in_pod(0, ["getent", "hosts", sts.pod_fqdn(1)])
    assert rc == 2
    assert time.monotonic() - t < 5.0, "name resolution must fail fast, not wait for a DNS server"
    t = time.monotonic()
    with pytest.raises(PsqlError, match="could not translate host name"):
        sts.psql(0, "SELECT 1", host=sts.pod_fqdn(1))
    assert time.monotonic() - t < 5.0, "name resolution must fail fast, not wait for a DNS server"
    # the pod's own name still resolves, and other names fail fast too
    assert sts.exec_in_pod(0, ["getent", "hosts", sts.pod_name(0)])[0] == 0
    assert sts.exec_in_pod(0, ["getent", "hosts", "example.invalid"])[0] == 2


def test_cut_network_times_out_and_restore_fixes(sts):
    sts.scale(2)
    sts.cut_network(1)
    for src, dst in ((0, 1), (1, 0)):
        t = time.monotonic()
        with pytest.raises(PsqlError, match="timeout expired"):
            sts.psql(src, "SELECT 1", host=sts.pod_fqdn(dst), connect_timeout=2)
        assert 1.9 <= time.monotonic() - t < 10
    # the name still resolves, and the pod's own server still answers locally
    assert sts.exec_in_pod(0, ["getent", "hosts", sts.pod_fqdn(1)])[0] == 0
    assert sts.psql(1, "SELECT 1") == [("1",)]
    sts.restore_network(1)
    assert sts.psql(0, "SELECT 1", host=sts.pod_fqdn(1), connect_timeout=5) == [("1",)]
    assert sts.psql(1, "SELECT 1", host=sts.pod_fqdn(0), connect_timeout=5) == [("1",)]


def test_data_survives_kill_and_restart(sts):
    sts.scale(2)
    sts.psql(1, "INSERT INTO public.t1 SELECT g, 'v' || g FROM generate_series(1, 100) g")
    sts.exec_in_pod(1, ["touch", "/tmp/before-kill"])
    sts.kill_pod(1)
    assert sts.pod_state(1) == "killed"
    assert pids_in_netns(netns_inode(sts.pod_netns(1))) == [sts._pods[1].pause.pid]
    # no server, but the pod (and its name) is still there: connection refused, fast
    with pytest.raises(PsqlError, match="refused"):
        sts.psql(0, "SELECT 1", host=sts.pod_fqdn(1))
    assert "aku-test-double: end" not in sts.pod_log(1)
    sts.restart_pod(1)
    assert sts.pod_state(1) == "running"
    assert sts.psql(1, "SELECT count(*), sum(id) FROM public.t1") == [("100", "5050")]
    assert sts.exec_in_pod(1, ["test", "-e", "/tmp/before-kill"])[0] == 1, "/tmp is fresh"
    # a deleted pod comes back on its volume too
    assert sts.delete_pod(1) == 0
    sts.restart_pod(1)
    assert sts.psql(0, "SELECT count(*) FROM public.t1", host=sts.pod_fqdn(1)) == [("100",)]
    # and so does a killed master
    sts.psql(0, "INSERT INTO public.t2 (id, n) VALUES (1, 1)")
    sts.kill_pod(0)
    sts.restart_pod(0)
    assert sts.psql(0, "SELECT n FROM public.t2") == [("1",)]


def test_graceful_delete_runs_end_and_scale(sts):
    sts.scale(3)
    sts.scale(1)
    assert sts.pods() == {0: "running"}
    for k in (1, 2):
        log = sts.pod_log(k)
        assert f"aku-test-double: end on {sts.pod_name(k)}" in log
        assert "aku -p end completed" in log and "stopped" in log
    assert sts.pod_fqdn(1) not in sts.hosts_text()
    assert len(_ns_of(sts)) == 2  # the bridge and pod 0
    sts.scale(2)
    assert sts.pods() == {0: "running", 1: "running"}


def test_aku_commands_in_pod(sts):
    sts.create_pod(0)
    rc, out, err = sts.aku(0, "-s")
    assert rc == 0, err
    assert f"status on {sts.pod_name(0)}" in out
    assert f"conf={sts.state_dir}/conf/aku.conf" in out
    rc, out, _ = sts.exec_in_pod(0, ["sh", "-c", "id -un; echo $ODBCSYSINI; cat $ODBCSYSINI/odbcinst.ini"])
    lines = out.splitlines()
    assert lines[0] == "akusim"
    assert "CommLog=0" in out
    rc, out, _ = sts.exec_in_pod(0, ["id", "-u"], user="root")
    assert out.strip() == "0"
    # aku -p end by hand removes the marker; the pod keeps running
    assert sts.aku(0, "-p", "end")[0] == 0
    assert not sts.marker_exists(0)
    assert sts.pod_state(0) == "running"


def test_start_failure_raises_with_log(make_sts):
    # 10 = a step failed (7, recovery required, keeps the server up: see test_refusals).
    s = make_sts(replicas_max=2, env={"AKU_TEST_DOUBLE_FAIL_START": "10"})
    with pytest.raises(PodFailed) as e:
        s.create_pod(0, timeout=60)
    assert e.value.exit_code == 10
    assert "start fails on purpose" in str(e.value)
    assert "aku -p start failed (exit 10)" in str(e.value)
    assert s.pod_state(0) == "failed"
    # the server was stopped by the entrypoint; the sandbox is left for inspection
    assert s.exec_in_pod(0, ["hostname"])[1].strip() == s.pod_name(0)
    s.extra_env.pop("AKU_TEST_DOUBLE_FAIL_START")
    s.restart_pod(0)
    assert s.pod_state(0) == "running"


def test_options_as_a_dataclass_or_keywords(make_sts):
    """options=SimOptions(...) and the keyword options mix, the keywords winning;
    pod states are PodState members equal to the documented strings."""
    s = make_sts(replicas_max=1, options=SimOptions(grace_period=7.0, start_timeout=9.0, env={"X": "1"}),
                 grace_period=8.0)
    assert s.options == SimOptions(grace_period=8.0, start_timeout=9.0, env={"X": "1"})
    assert (s.grace_period, s.start_timeout, s.pod_env(0)["X"]) == (8.0, 9.0, "1")
    assert s.pod_state(0) is PodState.ABSENT and s.pod_state(0) == "absent" and f"{s.pod_state(0)}" == "absent"
    s.create_pod(0)
    assert s.pods() == {0: PodState.RUNNING} and s.pods() == {0: "running"}
    with pytest.raises(TypeError, match="grace"):
        StatefulSet(f"e2eopt-{os.getpid()}", "svc", 1, "", grace=1.0)  # type: ignore[call-arg]


def test_teardown_leaves_nothing(make_sts):
    s = make_sts(replicas_max=3)
    s.scale(3)
    s.cut_network(2)
    s.kill_pod(1)
    state_dir = s.state_dir
    inodes = [netns_inode(n) for n in _ns_of(s)]
    assert len(inodes) == 4
    s.teardown()
    assert _ns_of(s) == []
    assert all(pids_in_netns(i) == [] for i in inodes)
    assert not state_dir.exists()
    assert not Path(f"/run/akusim/{s.sts}.json").exists()
    assert not [p for p in _cmdlines() if str(state_dir) in p]
    with pytest.raises(SimError):
        s.create_pod(0)
    s.teardown()  # idempotent


def test_sweeper_removes_leftovers_of_a_crashed_run(make_sts, aku_bin):
    sts_name = f"e2ecrash-{os.getpid()}"
    script = textwrap.dedent(f"""
        import os, signal, sys
        sys.path.insert(0, {str(Path(__file__).resolve().parents[2] / 'sim')!r})
        from akusim import StatefulSet
        s = StatefulSet({sts_name!r}, "svc", 2, "AKU_PORT_NO = 20300\\n", None, aku_bin={aku_bin!r})
        s.create_pod(0)
        print(s.state_dir, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    cp = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert cp.returncode == -9, cp.stderr
    state_dir = Path(cp.stdout.strip())
    left = [n for n in netns_list() if n.startswith(f"akusim-{sts_name}-")]
    assert len(left) == 2 and state_dir.is_dir()
    inodes = [netns_inode(n) for n in left]
    assert any(pids_in_netns(i) for i in inodes)  # the orphaned server still runs
    assert sweep_stale(sts_name) == [sts_name]
    assert [n for n in netns_list() if n.startswith(f"akusim-{sts_name}-")] == []
    assert all(pids_in_netns(i) == [] for i in inodes)
    assert not state_dir.exists()


def test_sigterm_tears_down(aku_bin):
    """A simulator process stopped by SIGTERM removes what it created."""
    sts_name = f"e2esig-{os.getpid()}"
    script = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(Path(__file__).resolve().parents[2] / 'sim')!r})
        from akusim import StatefulSet
        s = StatefulSet({sts_name!r}, "svc", 2, "AKU_PORT_NO = 20300\\n", None, aku_bin={aku_bin!r})
        s.create_pod(0)
        print(s.state_dir, flush=True)
        time.sleep(120)
    """)
    p = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert p.stdout is not None
    state_dir = Path(p.stdout.readline().strip())
    assert state_dir.is_dir()
    p.terminate()
    assert p.wait(timeout=60) != 0
    assert [n for n in netns_list() if n.startswith(f"akusim-{sts_name}-")] == []
    assert not state_dir.exists()


def test_odbc_from_a_pod_without_commlog(sts):
    """aku's stack: unixODBC + psqlODBC with the private odbcinst.ini, from pod 0 to
    pod 1 by name; the driver writes no psqlodbc_*.log files into /tmp."""
    sts.scale(2)
    dsn = textwrap.dedent(f"""\
        [peer]
        Driver = PostgreSQL Unicode
        Servername = {sts.pod_fqdn(1)}
        Port = {sts.port}
        Database = postgres
        Username = postgres
        Password = {sts.password}
        """)
    rc, _, err = sts.exec_in_pod(0, ["sh", "-c", "umask 077; cat > /tmp/odbc.ini"], input=dsn)
    assert rc == 0, err
    rc, out, err = sts.exec_in_pod(0, ["isql", "-b", "-v", "peer"], input="SELECT inet_server_addr()\n",
                                   env={"ODBCINI": "/tmp/odbc.ini"})
    assert rc == 0, out + err
    assert sts.pod_ip(1) in out
    rc, out, _ = sts.exec_in_pod(0, ["sh", "-c", "ls -a /tmp"])
    assert "psqlodbc" not in out
