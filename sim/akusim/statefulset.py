"""A Kubernetes StatefulSet of PostgreSQL + aku pods, simulated with Linux namespaces.

See sim/README.md for the model and the API. Root only; PostgreSQL runs as the
unprivileged user made by scripts/setup (akusim).
"""

from __future__ import annotations

import atexit
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

from ._sys import (SimError, assert_traversable, ip, kill_netns_processes, netns_delete,
                   netns_exists, netns_inode, netns_list, pids_in_netns, proc_start_time,
                   process_alive, run, user_ids)

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_ENTRYPOINT = REPO_ROOT / "deploy" / "entrypoint" / "aku-postgres-entrypoint.sh"
NS_PREFIX = "akusim-"
REGISTRY_DIR = Path("/run/akusim")
MARKER = "aku_start_completed"
STS_NAME_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$")

# postgresql.conf lines for every pod (on top of the entrypoint's own defaults:
# wal_level = logical, 40 slots / senders / logical workers, 48 worker processes).
DEFAULT_SERVER_OPTIONS: dict[str, str] = {
    "shared_buffers": "16MB",
    "fsync": "off",
    "full_page_writes": "off",
    "max_connections": "60",
    "wal_keep_size": "0",
    "log_line_prefix": "'%m [%p] %q%a '",
}


class PodFailed(SimError):
    """A pod's entrypoint exited (or did not become ready) when it should have."""

    def __init__(self, message: str, pod: int, exit_code: int | None, log_tail: str):
        super().__init__(f"{message}\n--- last lines of the pod's log ---\n{log_tail}")
        self.pod = pod
        self.exit_code = exit_code
        self.log_tail = log_tail


class PsqlError(SimError):
    """psql exited non-zero."""

    def __init__(self, pod: int, sql: str, returncode: int, stderr: str):
        super().__init__(f"psql on pod {pod} failed (exit {returncode}): {stderr.strip()}\n"
                         f"SQL: {sql}")
        self.pod = pod
        self.returncode = returncode
        self.stderr = stderr


@dataclass
class _Pod:
    k: int
    ip: str
    mac: str
    netns: str
    pause: subprocess.Popen | None = None
    entry: subprocess.Popen | None = None
    state: str = "absent"  # absent | starting | running | failed | killed
    cut: bool = False
    log_file: object | None = field(default=None, repr=False)


# ---------------------------------------------------------------- registry / sweeper
_live: "weakref.WeakSet[StatefulSet]" = weakref.WeakSet()
_signals_installed = False


def _registry_path(sts: str) -> Path:
    return REGISTRY_DIR / f"{sts}.json"


def _stale_owner(sts: str) -> dict | None:
    """The registry entry of `sts` if its owner process is gone; None if alive."""
    try:
        entry = json.loads(_registry_path(sts).read_text())
    except (OSError, ValueError):
        return {}
    if process_alive(int(entry.get("pid", 0)), entry.get("start_time")):
        return None
    return entry


def _netns_groups() -> dict[str, list[str]]:
    """akusim network namespaces grouped by StatefulSet name."""
    groups: dict[str, list[str]] = {}
    for name in netns_list():
        m = re.match(rf"^{re.escape(NS_PREFIX)}(.+)-(net|\d+)$", name)
        if m:
            groups.setdefault(m.group(1), []).append(name)
    return groups


def sweep_stale(sts_prefix: str = "") -> list[str]:
    """Removes what crashed runs left behind: network namespaces (and every process
    in them), temporary state folders and registry entries of StatefulSets whose
    name starts with `sts_prefix` and whose owner process is gone. StatefulSets of
    live owners are left alone. Returns the names swept."""
    swept = []
    names = set(_netns_groups())
    if REGISTRY_DIR.is_dir():
        names |= {p.stem for p in REGISTRY_DIR.glob("*.json")}
    for sts in sorted(n for n in names if n.startswith(sts_prefix)):
        entry = _stale_owner(sts)
        if entry is None:
            continue
        for ns in sorted(_netns_groups().get(sts, []), key=lambda n: n.endswith("-net")):
            netns_delete(ns)
        state_dir = entry.get("state_dir")
        if state_dir and entry.get("temporary") and os.path.isdir(state_dir):
            shutil.rmtree(state_dir, ignore_errors=True)
        try:
            _registry_path(sts).unlink()
        except FileNotFoundError:
            pass
        swept.append(sts)
    return swept


def _teardown_all() -> None:
    for s in list(_live):
        try:
            s.teardown()
        except Exception as e:  # noqa: BLE001 - best effort at exit
            print(f"akusim: teardown of {s.sts} failed: {e}")


def _on_signal(signum, frame):  # noqa: ARG001
    # Turns SIGTERM/SIGHUP into SystemExit: `with` blocks unwind, atexit runs.
    raise SystemExit(128 + signum)


def _install_exit_hooks() -> None:
    global _signals_installed
    if _signals_installed:
        return
    _signals_installed = True
    atexit.register(_teardown_all)
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGHUP):
            if signal.getsignal(sig) in (signal.SIG_DFL, None):
                signal.signal(sig, _on_signal)


# ---------------------------------------------------------------- defaults
def find_aku_bin() -> str:
    """The aku binary to run: $AKU_BIN, else the newer of target/debug/aku and
    target/release/aku (so a stale build of the other profile is never picked)."""
    env = os.environ.get("AKU_BIN")
    if env:
        return env
    built = [p for p in (REPO_ROOT / "target" / "debug" / "aku", REPO_ROOT / "target" / "release" / "aku")
             if p.is_file()]
    if not built:
        raise SimError("no aku binary: pass aku_bin, set AKU_BIN or build it (cargo build)")
    return str(max(built, key=lambda p: p.stat().st_mtime))


def _default_pg_bin() -> str:
    env = os.environ.get("PG_BIN")
    if env:
        return env
    f = REPO_ROOT / ".cache" / "pg_bin"
    if f.is_file():
        return f.read_text().strip()
    raise SimError("no PostgreSQL binaries: run scripts/setup and source scripts/env.sh (PG_BIN)")


def _default_odbcsysini() -> str:
    d = os.environ.get("ODBCSYSINI") or str(REPO_ROOT / ".cache" / "odbc")
    if not os.path.isfile(os.path.join(d, "odbcinst.ini")):
        raise SimError(f"no odbcinst.ini in {d}: run scripts/setup and source scripts/env.sh")
    return d


def conf_value(conf_text: str, name: str) -> str | None:
    """The value of `NAME = value` in aku.conf (or TOML) text; the last one wins."""
    val = None
    for m in re.finditer(rf"(?m)^[ \t]*{re.escape(name)}[ \t]*=[ \t]*[\"']?([^\"'#\s]*)", conf_text):
        val = m.group(1)
    return val


def wait_until(predicate: Callable[[], object], timeout: float = 30.0, interval: float = 0.1,
               what: str = "condition"):
    """Polls `predicate` until it returns a truthy value (returned) or raises on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        v = predicate()
        if v:
            return v
        if time.monotonic() > deadline:
            raise SimError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


# ---------------------------------------------------------------- the StatefulSet
class StatefulSet:
    """A StatefulSet `sts` with headless Service `svc` and at most `replicas_max` pods.

    Each pod k: network namespace `akusim-<sts>-<k>` with IP `<subnet>.<10+k>` on a
    bridge in namespace `akusim-<sts>-net`; hostname `<sts>-<k>` (UTS namespace); a
    private /tmp and the StatefulSet's /etc/hosts and resolv.conf (mount namespace);
    PostgreSQL 18 started by the shared entrypoint as `user`, data on the pod's
    volume (kept across pod restarts). Use as a context manager.
    """

    def __init__(self, sts: str, svc: str, replicas_max: int, conf_text: str,
                 schema_sql: str | Sequence[str] | os.PathLike | None = None,
                 aku_bin: str | os.PathLike | None = None,
                 state_dir: str | os.PathLike | None = None, *,
                 password: str | None = None,
                 user: str = "akusim",
                 subnet: str = "10.251.0",
                 server_options: Mapping[str, str] | None = None,
                 env: Mapping[str, str] | None = None,
                 entrypoint: str | os.PathLike | None = None,
                 pg_bin: str | None = None,
                 odbcsysini: str | None = None,
                 keep_volumes: bool = False,
                 reuse_volumes: bool = False,
                 start_timeout: float = 300.0,
                 grace_period: float = 120.0):
        if not STS_NAME_RE.match(sts):
            raise ValueError(f"sts name {sts!r}: lower-case letters, digits and '-', at most 32")
        if not 1 <= replicas_max <= 200:
            raise ValueError("replicas_max must be 1..200")
        if os.geteuid() != 0:
            raise SimError("the pod simulator needs root (namespaces, veths, bind mounts)")
        self.sts, self.svc, self.replicas_max = sts, svc, replicas_max
        self.user = user
        self.uid, self.gid = user_ids(user)
        self.subnet = subnet
        self.keep_volumes = keep_volumes
        self.start_timeout = start_timeout
        self.grace_period = grace_period
        self.extra_env = dict(env or {})
        self.server_options = dict(DEFAULT_SERVER_OPTIONS)
        self.server_options.update(server_options or {})
        self.port = int(conf_value(conf_text, "AKU_PORT_NO") or 20300)
        self.database = conf_value(conf_text, "AKU_DATABASE") or "postgres"
        self.sys_user = conf_value(conf_text, "AKU_SYS_USER") or "postgres"
        self.pg_bin = pg_bin or _default_pg_bin()
        self._torn_down = False
        self._pods: dict[int, _Pod] = {}
        self.net_ns = f"{NS_PREFIX}{sts}-net"

        _install_exit_hooks()
        # Leftovers of a crashed run of the same name; refuse a name a live run owns.
        if _stale_owner(sts) is None:
            raise SimError(f"StatefulSet {sts!r} is in use by a live simulator "
                           f"(see {_registry_path(sts)})")
        sweep_stale(sts)
        for ns in _netns_groups().get(sts, []):
            netns_delete(ns)

        self.temporary = state_dir is None
        if state_dir is None:
            state_dir = tempfile.mkdtemp(prefix=f"akusim-{sts}-", dir="/var/tmp")
        self.state_dir = Path(state_dir).resolve()
        self._register()
        _live.add(self)
        try:
            self._prepare_files(conf_text, schema_sql, aku_bin, entrypoint, password,
                                odbcsysini, reuse_volumes)
            self._create_network()
        except BaseException:
            self.teardown()
            raise

    # ------------------------------------------------------------ context manager
    def __enter__(self) -> "StatefulSet":
        return self

    def __exit__(self, *exc) -> None:
        self.teardown()

    # ------------------------------------------------------------ names
    def pod_name(self, k: int) -> str:
        return f"{self.sts}-{k}"

    def pod_fqdn(self, k: int) -> str:
        """`<sts>-<k>.<svc>`, as listed in every pod's /etc/hosts while pod k exists."""
        return f"{self.sts}-{k}.{self.svc}"

    def pod_ip(self, k: int) -> str:
        self._check_k(k)
        return f"{self.subnet}.{10 + k}"

    def pod_netns(self, k: int) -> str:
        return f"{NS_PREFIX}{self.sts}-{k}"

    def volume(self, k: int) -> Path:
        """The pod's "PVC" folder; PGDATA is its subfolder pgdata."""
        return self.state_dir / "volumes" / self.pod_name(k)

    def pgdata(self, k: int) -> Path:
        return self.volume(k) / "pgdata"

    def pod_tmp(self, k: int) -> Path:
        """Host path of the folder mounted on the pod's /tmp."""
        return self.state_dir / "pods" / str(k) / "tmp"

    def log_path(self, k: int) -> Path:
        return self.state_dir / "pods" / str(k) / "pod.log"

    def pod_state(self, k: int) -> str:
        """absent | starting | running | failed | killed."""
        self._check_k(k)
        pod = self._pods.get(k)
        if pod and pod.state in ("starting", "running") and pod.entry and pod.entry.poll() is not None:
            pod.state = "failed"
        return pod.state if pod else "absent"

    def pods(self) -> dict[int, str]:
        """State of every pod that is not absent."""
        return {k: self.pod_state(k) for k in sorted(self._pods) if self.pod_state(k) != "absent"}

    def running_pods(self) -> list[int]:
        return [k for k, s in self.pods().items() if s in ("starting", "running")]

    def marker_exists(self, k: int) -> bool:
        return (self.pod_tmp(k) / MARKER).exists()

    def pod_log(self, k: int) -> str:
        """Everything pod k's entrypoint printed (all starts of the pod, appended)."""
        try:
            return self.log_path(k).read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def hosts_text(self) -> str:
        return (self.state_dir / "net" / "hosts").read_text()

    # ------------------------------------------------------------ pod operations
    def create_pod(self, k: int, *, wait: bool = True, timeout: float | None = None) -> None:
        """Creates pod k (its name starts resolving) and runs its entrypoint; with
        `wait`, returns once /tmp/aku_start_completed exists in the pod (OrderedReady)
        and raises PodFailed with the pod's log if the entrypoint exits first."""
        self._check_k(k)
        self._check_alive()
        if self.pod_state(k) != "absent":
            raise SimError(f"pod {self.pod_name(k)} exists ({self.pod_state(k)}): "
                           f"delete_pod or restart_pod it")
        pod = _Pod(k=k, ip=self.pod_ip(k), mac=self._mac(k), netns=self.pod_netns(k))
        self._pods[k] = pod
        try:
            self._create_sandbox(pod)
            self._write_hosts()
        except BaseException:
            self._destroy_sandbox(pod)
            del self._pods[k]
            self._write_hosts()
            raise
        self._start_entrypoint(pod)
        if wait:
            self.wait_ready(k, timeout=timeout)

    def wait_ready(self, k: int, timeout: float | None = None) -> None:
        """Waits for pod k's start marker; PodFailed if the entrypoint exits first."""
        pod = self._pod(k)
        timeout = self.start_timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        marker = self.pod_tmp(k) / MARKER
        while True:
            if marker.exists():
                pod.state = "running"
                return
            rc = pod.entry.poll() if pod.entry else -1
            if rc is not None:
                pod.state = "failed"
                raise PodFailed(f"pod {self.pod_name(k)}: the entrypoint exited (exit {rc}) "
                                f"before {MARKER} existed", k, rc, self._log_tail(k))
            if time.monotonic() > deadline:
                raise PodFailed(f"pod {self.pod_name(k)}: no {MARKER} after {timeout}s",
                                k, None, self._log_tail(k))
            time.sleep(0.05)

    def delete_pod(self, k: int, *, grace_period: float | None = None) -> int | None:
        """Deletes pod k gracefully: SIGTERM to the entrypoint (which runs `aku -p end`
        and stops the server), waits up to `grace_period` (then SIGKILL), removes the
        pod's name from /etc/hosts and its network namespace. The volume is kept.
        Returns the entrypoint's exit code (None if it had to be killed or was not
        running)."""
        pod = self._pod(k)
        grace = self.grace_period if grace_period is None else grace_period
        rc = None
        if pod.entry and pod.entry.poll() is None:
            pod.entry.send_signal(signal.SIGTERM)
            try:
                rc = pod.entry.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                rc = None
        elif pod.entry:
            rc = pod.entry.returncode
        self._destroy_sandbox(pod)
        del self._pods[k]
        self._write_hosts()
        return rc

    def kill_pod(self, k: int) -> None:
        """Kills pod k's server and entrypoint (and anything else running in the pod)
        with SIGKILL: no `aku -p end`. Like a crashed container, the pod keeps its
        IP and its name keeps resolving; restart_pod(k) runs the entrypoint again on
        the same volume."""
        pod = self._pod(k)
        keep = [pod.pause.pid] if pod.pause else []
        kill_netns_processes(pod.netns, keep=keep)
        if pod.entry:
            pod.entry.wait()
        pod.state = "killed"
        self._remove_stale_pidfile(k)

    def restart_pod(self, k: int, *, wait: bool = True, timeout: float | None = None) -> None:
        """Runs pod k again on its volume: after kill_pod (or a failed start) the
        entrypoint restarts in the same pod with a fresh /tmp; after delete_pod the
        pod is created again."""
        self._check_alive()
        state = self.pod_state(k)
        if state == "absent":
            self.create_pod(k, wait=wait, timeout=timeout)
            return
        if state in ("starting", "running"):
            raise SimError(f"pod {self.pod_name(k)} is {state}: kill_pod or delete_pod it first")
        pod = self._pods[k]
        kill_netns_processes(pod.netns, keep=[pod.pause.pid] if pod.pause else [])
        if pod.entry:
            pod.entry.wait()
        self._remove_stale_pidfile(k)
        self._clear_tmp(k)
        self._start_entrypoint(pod)
        if wait:
            self.wait_ready(k, timeout=timeout)

    def scale(self, n: int, *, timeout: float | None = None) -> None:
        """Scales to n pods like an OrderedReady StatefulSet: creates (or restarts)
        pods 0..n-1 in order, each ready before the next; deletes pods >= n in
        reverse order, gracefully."""
        if not 0 <= n <= self.replicas_max:
            raise ValueError(f"scale: 0..{self.replicas_max}")
        for k in sorted((k for k in self._pods if k >= n), reverse=True):
            self.delete_pod(k)
        for k in range(n):
            state = self.pod_state(k)
            if state == "absent":
                self.create_pod(k, timeout=timeout)
            elif state in ("killed", "failed"):
                self.restart_pod(k, timeout=timeout)
            elif state == "starting":
                self.wait_ready(k, timeout=timeout)

    def cut_network(self, k: int) -> None:
        """Drops every packet to and from pod k (its port leaves the bridge; static
        neighbour entries make peers' packets vanish rather than fail fast, so
        connections time out). The name still resolves."""
        pod = self._pod(k)
        ip("link", "set", f"vb{k}", "nomaster", netns=self.net_ns)
        pod.cut = True

    def restore_network(self, k: int) -> None:
        pod = self._pod(k)
        ip("link", "set", f"vb{k}", "master", "br0", netns=self.net_ns)
        pod.cut = False

    # ------------------------------------------------------------ commands in pods
    def pod_env(self, k: int) -> dict[str, str]:
        """The environment of pod k's entrypoint and of exec_in_pod."""
        sd = self.state_dir
        env = {
            "PATH": f"{sd}/bin:{self.pg_bin}:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
            "HOME": "/tmp",
            "LANG": "C.UTF-8",
            "HOSTNAME": self.pod_name(k),
            "PGDATA": str(self.pgdata(k)),
            "PG_BIN": self.pg_bin,
            "AKU_BIN": str(sd / "bin" / "aku"),
            "AKU_CONF": str(sd / "conf" / "aku.conf"),
            "AKU_SYS_PASSWORD_FILE": str(sd / "secret" / "password"),
            "AKU_INIT_SQL_DIR": str(sd / "initdb.d"),
            "ODBCSYSINI": str(sd / "odbc"),
            "PGPORT": str(self.port),
            "PG_LISTEN_ADDRESSES": f"{self.pod_ip(k)},127.0.0.1",
            "PG_SOCKET_DIR": "/tmp",
            "PG_INITDB_ARGS": "--no-sync",
            "PG_SERVER_OPTIONS": "\n".join(f"{n} = {v}" for n, v in self.server_options.items()),
            "AKU_PGPASSFILE": "/tmp/.aku-pgpass",
        }
        env.update(self.extra_env)
        return env

    def exec_in_pod(self, k: int, argv: Sequence[str], env: Mapping[str, str] | None = None, *,
                    user: str | None = None, timeout: float | None = 600.0,
                    input: str | None = None) -> tuple[int, str, str]:
        """Runs argv inside pod k (its network, UTS and mount namespaces, as `user`,
        default the pod's user) with the pod's environment plus `env`. Returns
        (exit code, stdout, stderr); exit code -9 style negatives for signals and
        124 on timeout."""
        proc = self.popen_in_pod(k, argv, env, user=user, stdin=subprocess.PIPE if input is not None
                                 else subprocess.DEVNULL)
        try:
            out, err = proc.communicate(input=input, timeout=timeout)
            return proc.returncode, out, err
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            out, err = proc.communicate()
            return 124, out, err + f"\n[akusim] timed out after {timeout}s"

    def popen_in_pod(self, k: int, argv: Sequence[str], env: Mapping[str, str] | None = None, *,
                     user: str | None = None, stdin=subprocess.DEVNULL) -> subprocess.Popen:
        """Starts argv inside pod k like exec_in_pod, without waiting: returns the
        Popen (text stdout/stderr pipes, its own session so os.killpg reaches it)."""
        pod = self._pod(k)
        if not pod.pause or pod.pause.poll() is not None:
            raise SimError(f"pod {self.pod_name(k)} has no sandbox")
        full_env = self.pod_env(k)
        full_env.update(env or {})
        cmd = self._nsenter(pod) + self._drop_privileges(user) + list(argv)
        return subprocess.Popen(cmd, env=full_env, stdin=stdin, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, start_new_session=True)

    def psql_env(self) -> dict[str, str]:
        """Environment for a psql run inside a pod as the superuser (passfile, no password in argv)."""
        return {"PGPASSFILE": str(self.state_dir / "secret" / "pgpass"), "PGAPPNAME": "akusim",
                "PGUSER": self.sys_user, "PGDATABASE": self.database, "PGPORT": str(self.port),
                "PGHOST": "127.0.0.1"}

    def aku(self, k: int, *args: str, env: Mapping[str, str] | None = None,
            timeout: float | None = 600.0) -> tuple[int, str, str]:
        """`aku ARGS...` in pod k (the StatefulSet's aku binary and configuration)."""
        return self.exec_in_pod(k, ["aku", *args], env=env, timeout=timeout)

    def psql(self, k: int, sql: str, *, host: str = "127.0.0.1", dbname: str | None = None,
             user: str | None = None, connect_timeout: int = 5,
             timeout: float | None = 120.0) -> list[tuple[str, ...]]:
        """Runs SQL with psql inside pod k (network and names as the pod sees them)
        against `host` (default the pod's own server), as the superuser with the
        password from a passfile; returns the rows of the last statement (NULL as
        ''). Raises PsqlError."""
        argv = [f"{self.pg_bin}/psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                "-F", "\x1f", "-0", "-h", host, "-p", str(self.port),
                "-U", user or self.sys_user, "-d", dbname or self.database, "-c", sql]
        env = {"PGPASSFILE": str(self.state_dir / "secret" / "pgpass"),
               "PGCONNECT_TIMEOUT": str(connect_timeout), "PGAPPNAME": "akusim"}
        rc, out, err = self.exec_in_pod(k, argv, env=env, timeout=timeout)
        if rc != 0:
            raise PsqlError(k, sql, rc, err)
        out = out.rstrip("\n")
        if out.endswith("\0"):
            out = out[:-1]
        if not out:
            return []
        return [tuple(rec.lstrip("\n").split("\x1f")) for rec in out.split("\0")]

    def psql_all(self, sql: str, **kw) -> dict[int, list[tuple[str, ...]]]:
        """psql(k, sql) on every running pod."""
        return {k: self.psql(k, sql, **kw) for k in self.running_pods()}

    # ------------------------------------------------------------ configuration
    def set_conf(self, conf_text: str) -> None:
        """Replaces aku.conf (read by pods at their next start / aku run)."""
        self._write_secret_file(self.state_dir / "conf" / "aku.conf", conf_text, 0o600)
        self.port = int(conf_value(conf_text, "AKU_PORT_NO") or 20300)
        self.database = conf_value(conf_text, "AKU_DATABASE") or "postgres"
        self.sys_user = conf_value(conf_text, "AKU_SYS_USER") or "postgres"

    def set_aku_bin(self, aku_bin: str | os.PathLike) -> None:
        """Installs another aku binary (pods use it from their next command)."""
        self._install_exe(Path(aku_bin), self.state_dir / "bin" / "aku")

    @property
    def password(self) -> str:
        return self._password

    # ------------------------------------------------------------ teardown
    def teardown(self, keep_volumes: bool | None = None) -> None:
        """Removes everything this StatefulSet created: processes, network
        namespaces (and their veths and bridge), files; the volumes too unless
        keep_volumes (default: the constructor's). Idempotent."""
        if self._torn_down:
            return
        self._torn_down = True
        keep = self.keep_volumes if keep_volumes is None else keep_volumes
        errors = []
        for k in sorted(self._pods, reverse=True):
            try:
                self._destroy_sandbox(self._pods[k])
            except Exception as e:  # noqa: BLE001
                errors.append(f"pod {k}: {e}")
        self._pods.clear()
        for ns in _netns_groups().get(self.sts, []):
            try:
                netns_delete(ns)
            except Exception as e:  # noqa: BLE001
                errors.append(str(e))
        if self.state_dir.is_dir():
            if keep:
                for child in self.state_dir.iterdir():
                    if child.name not in ("volumes", "pods"):
                        shutil.rmtree(child, ignore_errors=True) if child.is_dir() else child.unlink()
            else:
                shutil.rmtree(self.state_dir, ignore_errors=True)
        try:
            _registry_path(self.sts).unlink()
        except FileNotFoundError:
            pass
        _live.discard(self)
        if errors:
            raise SimError("teardown: " + "; ".join(errors))

    # ------------------------------------------------------------ internals
    def _check_k(self, k: int) -> None:
        if not (isinstance(k, int) and 0 <= k < self.replicas_max):
            raise ValueError(f"pod index {k!r} outside 0..{self.replicas_max - 1}")

    def _check_alive(self) -> None:
        if self._torn_down:
            raise SimError(f"StatefulSet {self.sts} was torn down")

    def _pod(self, k: int) -> _Pod:
        self._check_k(k)
        pod = self._pods.get(k)
        if pod is None:
            raise SimError(f"pod {self.pod_name(k)} does not exist")
        return pod

    def _mac(self, k: int) -> str:
        return f"02:ac:00:00:00:{10 + k:02x}"

    def _log_tail(self, k: int, lines: int = 60) -> str:
        return "\n".join(self.pod_log(k).splitlines()[-lines:])

    def _register(self) -> None:
        REGISTRY_DIR.mkdir(parents=True, exist_ok=True)
        _registry_path(self.sts).write_text(json.dumps({
            "pid": os.getpid(), "start_time": proc_start_time(os.getpid()),
            "state_dir": str(self.state_dir), "temporary": self.temporary}))

    def _chown(self, path: Path, mode: int) -> None:
        os.chown(path, self.uid, self.gid)
        os.chmod(path, mode)

    def _write_secret_file(self, path: Path, text: str, mode: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text)
        self._chown(tmp, mode)
        os.replace(tmp, path)

    def _install_exe(self, src: Path, dst: Path) -> None:
        if not src.is_file():
            raise SimError(f"{src}: no such file")
        tmp = dst.with_name(dst.name + ".tmp")
        shutil.copyfile(src, tmp)
        os.chmod(tmp, 0o755)
        os.replace(tmp, dst)

    def _prepare_files(self, conf_text, schema_sql, aku_bin, entrypoint, password,
                       odbcsysini, reuse_volumes) -> None:
        sd = self.state_dir
        sd.mkdir(parents=True, exist_ok=True)
        os.chmod(sd, 0o755)
        assert_traversable(str(sd), self.uid, self.gid)
        for sub in ("bin", "conf", "secret", "initdb.d", "odbc", "net", "pods"):
            shutil.rmtree(sd / sub, ignore_errors=True)
            (sd / sub).mkdir()
            os.chmod(sd / sub, 0o755)
        vols = sd / "volumes"
        if vols.exists() and not reuse_volumes:
            shutil.rmtree(vols)
        vols.mkdir(exist_ok=True)
        os.chmod(vols, 0o755)
        # binaries: copies, so that the pod user can run them wherever the repo lives
        self._install_exe(Path(aku_bin or find_aku_bin()), sd / "bin" / "aku")
        self._install_exe(Path(entrypoint or DEFAULT_ENTRYPOINT),
                          sd / "bin" / "aku-postgres-entrypoint.sh")
        # the Secret and the ConfigMap
        self._password = password or f"akusim-{os.urandom(9).hex()}"
        self._chown(sd / "secret", 0o700)
        self._write_secret_file(sd / "secret" / "password", self._password + "\n", 0o400)
        esc = self._password.replace("\\", "\\\\").replace(":", "\\:")
        self._write_secret_file(sd / "secret" / "pgpass", f"*:*:*:*:{esc}\n", 0o600)
        self._chown(sd / "conf", 0o700)
        self.set_conf(conf_text)
        # schema
        if isinstance(schema_sql, (str, bytes)) and not isinstance(schema_sql, os.PathLike):
            scripts = [schema_sql]
        elif isinstance(schema_sql, os.PathLike):
            p = Path(schema_sql)
            scripts = [f.read_text() for f in sorted(p.glob("*.sql"))] if p.is_dir() else [p.read_text()]
        else:
            scripts = list(schema_sql or [])
        for i, text in enumerate(scripts):
            f = sd / "initdb.d" / f"{i + 1:02d}-schema.sql"
            f.write_text(text if isinstance(text, str) else text.decode())
            os.chmod(f, 0o644)
        # unixODBC configuration (CommLog off)
        src = Path(odbcsysini or _default_odbcsysini())
        for name in ("odbcinst.ini", "odbc.ini"):
            dst = sd / "odbc" / name
            if (src / name).is_file():
                shutil.copyfile(src / name, dst)
            else:
                dst.write_text("")
            os.chmod(dst, 0o644)
        # name service of the pods
        (sd / "net" / "hosts").write_text("")
        os.chmod(sd / "net" / "hosts", 0o644)
        (sd / "net" / "resolv.conf").write_text(
            "# akusim: no DNS in the pods; names come from /etc/hosts only\n"
            "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")
        os.chmod(sd / "net" / "resolv.conf", 0o644)
        self._write_hosts()
        # the pod user must be able to run the server binaries
        cp = run(["setpriv", f"--reuid={self.uid}", f"--regid={self.gid}", "--init-groups",
                  "--", f"{self.pg_bin}/postgres", "--version"], check=False)
        if cp.returncode != 0 or "PostgreSQL" not in cp.stdout:
            raise SimError(f"user {self.user} cannot run {self.pg_bin}/postgres: "
                           f"{cp.stderr.strip()} (run scripts/setup)")

    def _write_hosts(self) -> None:
        """Rewrites the pods' /etc/hosts IN PLACE (same inode: the pods see it
        through bind mounts; a rename would leave them on the old file)."""
        lines = [f"# akusim: pods of StatefulSet {self.sts} that exist now "
                 f"(headless Service {self.svc}, publishNotReadyAddresses)",
                 "127.0.0.1\tlocalhost"]
        for k in sorted(self._pods):
            lines.append(f"{self.pod_ip(k)}\t{self.pod_fqdn(k)} {self.pod_name(k)}")
        data = ("\n".join(lines) + "\n").encode()
        fd = os.open(self.state_dir / "net" / "hosts", os.O_WRONLY)
        try:
            os.pwrite(fd, data, 0)
            os.ftruncate(fd, len(data))
        finally:
            os.close(fd)

    def _create_network(self) -> None:
        ip("netns", "add", self.net_ns)
        ip("link", "set", "lo", "up", netns=self.net_ns)
        ip("link", "add", "br0", "type", "bridge", netns=self.net_ns)
        ip("link", "set", "br0", "up", netns=self.net_ns)

    def _create_sandbox(self, pod: _Pod) -> None:
        """Network namespace + veth, then the "pause" process that holds the pod's
        UTS and mount namespaces (hostname, /tmp, /etc/hosts, /etc/resolv.conf)."""
        k, ns = pod.k, pod.netns
        if netns_exists(ns):
            netns_delete(ns)
        ip("link", "del", f"vb{k}", netns=self.net_ns, check=False)
        ip("netns", "add", ns)
        ip("link", "add", f"vb{k}", "type", "veth", "peer", "name", "eth0", "netns", ns,
           netns=self.net_ns)
        ip("link", "set", f"vb{k}", "master", "br0", "up", netns=self.net_ns)
        ip("link", "set", "lo", "up", netns=ns)
        ip("link", "set", "eth0", "address", pod.mac, netns=ns)
        ip("addr", "add", f"{pod.ip}/24", "dev", "eth0", netns=ns)
        ip("link", "set", "eth0", "up", netns=ns)
        for j in range(self.replicas_max):
            if j != k:
                ip("neigh", "replace", self.pod_ip(j), "lladdr", self._mac(j), "dev", "eth0",
                   "nud", "permanent", netns=ns)
        self._clear_tmp(pod.k)
        script = (
            'set -e\n'
            'for f in /proc/sys/net/ipv6/conf/all/disable_ipv6 /proc/sys/net/ipv6/conf/default/disable_ipv6; do\n'
            '  [ -w "$f" ] && echo 1 > "$f" || true\n'
            'done\n'
            'mount --bind "$AKUSIM_TMP" /tmp\n'
            'mount --bind "$AKUSIM_HOSTS" /etc/hosts\n'
            'mount --bind "$AKUSIM_RESOLV" /etc/resolv.conf\n'
            'hostname "$AKUSIM_HOSTNAME"\n'
            'echo ready\n'
            'exec sleep infinity\n')
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
               "AKUSIM_TMP": str(self.pod_tmp(k)),
               "AKUSIM_HOSTS": str(self.state_dir / "net" / "hosts"),
               "AKUSIM_RESOLV": str(self.state_dir / "net" / "resolv.conf"),
               "AKUSIM_HOSTNAME": self.pod_name(k)}
        log = open(self.log_path(k), "ab")
        pod.log_file = log
        pod.pause = subprocess.Popen(
            ["nsenter", f"--net={os.path.join('/run/netns', ns)}", "--",
             "unshare", "--mount", "--uts", "--propagation", "private", "--",
             "/bin/sh", "-c", script],
            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log,
            start_new_session=True)
        line = pod.pause.stdout.readline()
        if line.strip() != b"ready":
            pod.pause.wait()
            raise SimError(f"pod {self.pod_name(k)}: sandbox failed: {self._log_tail(k, 10)}")
        pod.state = "killed"  # a sandbox with nothing running yet

    def _nsenter(self, pod: _Pod) -> list[str]:
        return ["nsenter", f"--target={pod.pause.pid}", "--net", "--uts", "--mount", "--wdns=/", "--"]

    def _drop_privileges(self, user: str | None) -> list[str]:
        user = user or self.user
        if user == "root":
            return []
        uid, gid = (self.uid, self.gid) if user == self.user else user_ids(user)
        return ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--init-groups", "--"]

    def _start_entrypoint(self, pod: _Pod) -> None:
        k = pod.k
        vol = self.volume(k)
        vol.mkdir(parents=True, exist_ok=True)
        self._chown(vol, 0o700)
        log = pod.log_file
        log.write(f"=== akusim: {time.strftime('%Y-%m-%dT%H:%M:%S')} pod {self.pod_name(k)} "
                  f"({pod.ip}) starts its entrypoint ===\n".encode())
        log.flush()
        cmd = (self._nsenter(pod) + self._drop_privileges(None)
               + [str(self.state_dir / "bin" / "aku-postgres-entrypoint.sh")])
        pod.entry = subprocess.Popen(cmd, env=self.pod_env(k), stdin=subprocess.DEVNULL,
                                     stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        pod.state = "starting"

    def _clear_tmp(self, k: int) -> None:
        """A fresh, empty /tmp for the pod (a container's /tmp does not survive it)."""
        t = self.pod_tmp(k)
        t.mkdir(parents=True, exist_ok=True)
        for child in t.iterdir():
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child, ignore_errors=True)
            else:
                child.unlink()
        os.chmod(t, 0o1777)

    def _remove_stale_pidfile(self, k: int) -> None:
        # All the pod's processes are dead. The server's postmaster.pid may name a
        # pid that has since been reused by another process of the same user (pid_max
        # can be small): the server would then refuse to start. A real pod restarts in
        # a fresh pid namespace, where this check passes.
        try:
            (self.pgdata(k) / "postmaster.pid").unlink()
        except FileNotFoundError:
            pass

    def _destroy_sandbox(self, pod: _Pod) -> None:
        if netns_exists(pod.netns):
            kill_netns_processes(pod.netns)
        for p in (pod.entry, pod.pause):
            if p is not None:
                if p.poll() is None:
                    try:
                        p.kill()
                    except ProcessLookupError:
                        pass
                p.wait()
                if p.stdout:
                    p.stdout.close()
        if pod.log_file:
            pod.log_file.close()
            pod.log_file = None
        ip("link", "del", f"vb{pod.k}", netns=self.net_ns, check=False) \
            if netns_exists(self.net_ns) else None
        netns_delete(pod.netns)
        self._remove_stale_pidfile(pod.k)
        shutil.rmtree(self.pod_tmp(pod.k), ignore_errors=True)
        pod.state = "absent"
