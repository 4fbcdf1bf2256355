"""A Kubernetes StatefulSet of PostgreSQL + aku pods, simulated with Linux namespaces:
the facade. It holds a StatefulSet's pods and ties together its files (statedir.py),
network and names (network.py), pod processes (pod.py), psql (psql.py) and the
registry of owners (registry.py). See sim/README.md for the model and the API. Root
only; PostgreSQL runs as the unprivileged user made by scripts/setup (akusim).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any, Unpack

from . import pod as pod_ops
from . import registry
from ._sys import netns_delete, run, user_ids
from .errors import PsqlError, SimError
from .network import Network, netns_groups
from .options import (
    DEFAULT_ENTRYPOINT,
    DEFAULT_SERVER_OPTIONS,
    ServerSettings,
    SimOptions,
    SimOptionsArgs,
    default_odbcsysini,
    default_pg_bin,
    find_aku_bin,
    merge_options,
)
from .pod import ACTIVE, MARKER, Pod, PodState
from .psql import parse_rows, psql_argv, psql_run_env, superuser_env
from .statedir import SchemaSql, StateDir

STS_NAME_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$")


class StatefulSet:
    """A StatefulSet `sts` with headless Service `svc` and at most `replicas_max` pods.

    Each pod k: network namespace `akusim-<sts>-<k>` with IP `<subnet>.<10+k>` on a
    bridge in namespace `akusim-<sts>-net`; hostname `<sts>-<k>` (UTS namespace); a
    private /tmp and the StatefulSet's /etc/hosts and resolv.conf (mount namespace);
    PostgreSQL 18 started by the shared entrypoint as `user`, data on the pod's
    volume (kept across pod restarts). Options: `options=SimOptions(...)`, or its
    fields as keyword arguments (which override `options`). Use as a context manager.
    """

    def __init__(self, sts: str, svc: str, replicas_max: int, conf_text: str,
                 schema_sql: SchemaSql = None,
                 aku_bin: str | os.PathLike[str] | None = None,
                 state_dir: str | os.PathLike[str] | None = None, *,
                 options: SimOptions | None = None,
                 **keywords: Unpack[SimOptionsArgs]):
        if not STS_NAME_RE.match(sts):
            raise ValueError(f"sts name {sts!r}: lower-case letters, digits and '-', at most 32")
        if not 1 <= replicas_max <= 200:
            raise ValueError("replicas_max must be 1..200")
        opts = merge_options(options, keywords)
        if os.geteuid() != 0:
            raise SimError("the pod simulator needs root (namespaces, veths, bind mounts)")
        self.options = opts
        self.sts, self.svc, self.replicas_max = sts, svc, replicas_max
        self.user = opts.user
        self.uid, self.gid = user_ids(opts.user)
        self.subnet = opts.subnet
        self.keep_volumes = opts.keep_volumes
        self.start_timeout = opts.start_timeout
        self.grace_period = opts.grace_period
        self.extra_env = dict(opts.env or {})
        self.server_options = dict(DEFAULT_SERVER_OPTIONS)
        self.server_options.update(opts.server_options or {})
        self._read_conf(conf_text)
        self.pg_bin = opts.pg_bin or default_pg_bin()
        self._torn_down = False
        self._pods: dict[int, Pod] = {}

        registry.install_exit_hooks()
        # Leftovers of a crashed run of the same name; refuse a name a live run owns.
        registry.claim(sts)

        self.temporary = state_dir is None
        if state_dir is None:
            state_dir = tempfile.mkdtemp(prefix=f"akusim-{sts}-", dir="/var/tmp")
        self.state_dir = Path(state_dir).resolve()
        self._files = StateDir(self.state_dir, self.uid, self.gid)
        self._net = Network(sts, svc, self.subnet, replicas_max, self._files.net_dir)
        self.net_ns = self._net.net_ns
        registry.register(self, self.state_dir, self.temporary)
        try:
            self._prepare_files(conf_text, schema_sql, aku_bin, opts)
            self._net.create_bridge()
        except BaseException:
            self.teardown()
            raise

    # ------------------------------------------------------------ context manager
    def __enter__(self) -> StatefulSet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.teardown()

    # ------------------------------------------------------------ names
    def pod_name(self, k: int) -> str:
        return self._net.pod_name(k)

    def pod_fqdn(self, k: int) -> str:
        """`<sts>-<k>.<svc>`, as listed in every pod's /etc/hosts while pod k exists."""
        return self._net.pod_fqdn(k)

    def pod_ip(self, k: int) -> str:
        self._check_k(k)
        return self._net.pod_ip(k)

    def pod_netns(self, k: int) -> str:
        return self._net.pod_netns(k)

    def volume(self, k: int) -> Path:
        """The pod's "PVC" folder; PGDATA is its subfolder pgdata."""
        return self._files.volume(self.pod_name(k))

    def pgdata(self, k: int) -> Path:
        return self.volume(k) / "pgdata"

    def pod_tmp(self, k: int) -> Path:
        """Host path of the folder mounted on the pod's /tmp."""
        return self._files.pod_tmp(k)

    def log_path(self, k: int) -> Path:
        return self._files.log_path(k)

    # ------------------------------------------------------------ states
    def pod_state(self, k: int) -> PodState:
        """absent | starting | running | failed | killed (a PodState, equal to those strings)."""
        self._check_k(k)
        pod = self._pods.get(k)
        return pod.refresh_state() if pod else PodState.ABSENT

    def pods(self) -> dict[int, PodState]:
        """State of every pod that is not absent."""
        return {k: self.pod_state(k) for k in sorted(self._pods) if self.pod_state(k) != PodState.ABSENT}

    def running_pods(self) -> list[int]:
        return [k for k, s in self.pods().items() if s in ACTIVE]

    def marker_exists(self, k: int) -> bool:
        return (self.pod_tmp(k) / MARKER).exists()

    def pod_log(self, k: int) -> str:
        """Everything pod k's entrypoint printed (all starts of the pod, appended)."""
        try:
            return self.log_path(k).read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def hosts_text(self) -> str:
        return self._net.hosts_text()

    # ------------------------------------------------------------ pod operations
    def create_pod(self, k: int, *, wait: bool = True, timeout: float | None = None) -> None:
        """Creates pod k (its name starts resolving) and runs its entrypoint; with
        `wait`, returns once /tmp/aku_start_completed exists in the pod (OrderedReady)
        and raises PodFailed with the pod's log if the entrypoint exits first."""
        self._check_k(k)
        self._check_alive()
        if self.pod_state(k) != PodState.ABSENT:
            raise SimError(f"pod {self.pod_name(k)} exists ({self.pod_state(k)}): "
                           f"delete_pod or restart_pod it")
        pod = Pod(k=k, name=self.pod_name(k), ip=self.pod_ip(k), netns=self.pod_netns(k))
        self._pods[k] = pod
        try:
            self._net.add_pod(k)
            pod_ops.start_sandbox(pod, tmp=self.pod_tmp(k), hosts=self._net.hosts, resolv=self._net.resolv,
                               log_path=self.log_path(k))
            self._net.write_hosts(self._pods)
        except BaseException:
            self._destroy_pod(pod)
            del self._pods[k]
            self._net.write_hosts(self._pods)
            raise
        self._start_entrypoint(pod)
        if wait:
            self.wait_ready(k, timeout=timeout)

    def wait_ready(self, k: int, timeout: float | None = None) -> None:
        """Waits for pod k's start marker; PodFailed if the entrypoint exits first."""
        pod = self._pod(k)
        pod_ops.wait_ready(pod, self.pod_tmp(k) / MARKER, self.start_timeout if timeout is None else timeout,
                        lambda: self._log_tail(k))

    def delete_pod(self, k: int, *, grace_period: float | None = None) -> int | None:
        """Deletes pod k gracefully: SIGTERM to the entrypoint (which runs `aku -p end`
        and stops the server), waits up to `grace_period` (then SIGKILL), removes the
        pod's name from /etc/hosts and its network namespace. The volume is kept.
        Returns the entrypoint's exit code (None if it had to be killed or was not
        running)."""
        pod = self._pod(k)
        rc = pod_ops.terminate(pod, self.grace_period if grace_period is None else grace_period)
        self._destroy_pod(pod)
        del self._pods[k]
        self._net.write_hosts(self._pods)
        return rc

    def kill_pod(self, k: int) -> None:
        """Kills pod k's server and entrypoint (and anything else running in the pod)
        with SIGKILL: no `aku -p end`. Like a crashed container, the pod keeps its
        IP and its name keeps resolving; restart_pod(k) runs the entrypoint again on
        the same volume."""
        pod_ops.kill_container(self._pod(k))
        pod_ops.remove_stale_pidfile(self.pgdata(k))

    def restart_pod(self, k: int, *, wait: bool = True, timeout: float | None = None) -> None:
        """Runs pod k again on its volume: after kill_pod (or a failed start) the
        entrypoint restarts in the same pod with a fresh /tmp; after delete_pod the
        pod is created again."""
        self._check_alive()
        state = self.pod_state(k)
        if state == PodState.ABSENT:
            self.create_pod(k, wait=wait, timeout=timeout)
            return
        if state in ACTIVE:
            raise SimError(f"pod {self.pod_name(k)} is {state}: kill_pod or delete_pod it first")
        pod = self._pods[k]
        pod_ops.kill_container(pod)
        pod_ops.remove_stale_pidfile(self.pgdata(k))
        pod_ops.clear_tmp(self.pod_tmp(k))
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
            if state == PodState.ABSENT:
                self.create_pod(k, timeout=timeout)
            elif state in (PodState.KILLED, PodState.FAILED):
                self.restart_pod(k, timeout=timeout)
            elif state == PodState.STARTING:
                self.wait_ready(k, timeout=timeout)

    def cut_network(self, k: int) -> None:
        """Drops every packet to and from pod k (its port leaves the bridge; static
        neighbour entries make peers' packets vanish rather than fail fast, so
        connections time out). The name still resolves."""
        pod = self._pod(k)
        self._net.cut(k)
        pod.cut = True

    def restore_network(self, k: int) -> None:
        pod = self._pod(k)
        self._net.restore(k)
        pod.cut = False

    # ------------------------------------------------------------ commands in pods
    def pod_env(self, k: int) -> dict[str, str]:
        """The environment of pod k's entrypoint and of exec_in_pod."""
        f = self._files
        env = {
            "PATH": f"{f.bin_dir()}:{self.pg_bin}:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
            "HOME": "/tmp",
            "LANG": "C.UTF-8",
            "HOSTNAME": self.pod_name(k),
            "PGDATA": str(self.pgdata(k)),
            "PG_BIN": self.pg_bin,
            "AKU_BIN": str(f.aku_bin),
            "AKU_CONF": str(f.conf),
            "AKU_SYS_PASSWORD_FILE": str(f.password),
            "AKU_INIT_SQL_DIR": str(f.initdb_dir),
            "ODBCSYSINI": str(f.odbc_dir),
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
        proc = self.popen_in_pod(k, argv, env, user=user,
                                 stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL)
        return pod_ops.communicate(proc, input, timeout)

    def popen_in_pod(self, k: int, argv: Sequence[str], env: Mapping[str, str] | None = None, *,
                     user: str | None = None,
                     stdin: int | IO[Any] | None = subprocess.DEVNULL) -> subprocess.Popen[str]:
        """Starts argv inside pod k like exec_in_pod, without waiting: returns the
        Popen (text stdout/stderr pipes, its own session so os.killpg reaches it)."""
        pod = self._pod(k)
        full_env = self.pod_env(k)
        full_env.update(env or {})
        return pod_ops.popen_in(pod, argv, full_env, privileges=self._privileges(user), stdin=stdin)

    def psql_env(self) -> dict[str, str]:
        """Environment for a psql run inside a pod as the superuser (passfile, no password in argv)."""
        return superuser_env(self._files.pgpass, user=self.sys_user, database=self.database, port=self.port)

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
        argv = psql_argv(self.pg_bin, sql, host=host, port=self.port, user=user or self.sys_user,
                         dbname=dbname or self.database)
        rc, out, err = self.exec_in_pod(k, argv, env=psql_run_env(self._files.pgpass, connect_timeout),
                                        timeout=timeout)
        if rc != 0:
            raise PsqlError(k, sql, rc, err)
        return parse_rows(out)

    def psql_all(self, sql: str, **kw: Any) -> dict[int, list[tuple[str, ...]]]:
        """psql(k, sql) on every running pod."""
        return {k: self.psql(k, sql, **kw) for k in self.running_pods()}

    # ------------------------------------------------------------ configuration
    def set_conf(self, conf_text: str) -> None:
        """Replaces aku.conf (read by pods at their next start / aku run)."""
        self._files.write_secret_file(self._files.conf, conf_text, 0o600)
        self._read_conf(conf_text)

    def _read_conf(self, conf_text: str) -> None:
        settings = ServerSettings.from_conf(conf_text)
        self.port, self.database, self.sys_user = settings.port, settings.database, settings.sys_user

    def set_aku_bin(self, aku_bin: str | os.PathLike[str]) -> None:
        """Installs another aku binary (pods use it from their next command)."""
        self._files.install_exe(Path(aku_bin), self._files.aku_bin)

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
                self._destroy_pod(self._pods[k])
            except Exception as e:
                errors.append(f"pod {k}: {e}")
        self._pods.clear()
        for ns in netns_groups().get(self.sts, []):
            try:
                netns_delete(ns)
            except Exception as e:
                errors.append(str(e))
        self._files.remove(keep_volumes=keep)
        registry.unregister(self.sts, self)
        if errors:
            raise SimError("teardown: " + "; ".join(errors))

    # ------------------------------------------------------------ internals
    def _check_k(self, k: int) -> None:
        if not (isinstance(k, int) and 0 <= k < self.replicas_max):
            raise ValueError(f"pod index {k!r} outside 0..{self.replicas_max - 1}")

    def _check_alive(self) -> None:
        if self._torn_down:
            raise SimError(f"StatefulSet {self.sts} was torn down")

    def _pod(self, k: int) -> Pod:
        self._check_k(k)
        pod = self._pods.get(k)
        if pod is None:
            raise SimError(f"pod {self.pod_name(k)} does not exist")
        return pod

    def _log_tail(self, k: int, lines: int = 60) -> str:
        return "\n".join(self.pod_log(k).splitlines()[-lines:])

    def _privileges(self, user: str | None) -> list[str]:
        """argv prefix that runs as `user` (default the pod user; none for root)."""
        user = user or self.user
        if user == "root":
            return []
        return pod_ops.setpriv(*((self.uid, self.gid) if user == self.user else user_ids(user)))

    def _prepare_files(self, conf_text: str, schema_sql: SchemaSql, aku_bin: str | os.PathLike[str] | None,
                       opts: SimOptions) -> None:
        f = self._files
        f.create(opts.reuse_volumes)
        f.install_exe(Path(aku_bin or find_aku_bin()), f.aku_bin)
        f.install_exe(Path(opts.entrypoint or DEFAULT_ENTRYPOINT), f.entrypoint)
        self._password = opts.password or f"akusim-{os.urandom(9).hex()}"
        f.write_password(self._password)
        self.set_conf(conf_text)
        f.write_schema(schema_sql)
        f.copy_odbc(Path(opts.odbcsysini or default_odbcsysini()))
        self._net.write_name_service(self._pods)
        # the pod user must be able to run the server binaries
        cp = run([*pod_ops.setpriv(self.uid, self.gid), f"{self.pg_bin}/postgres", "--version"], check=False)
        if cp.returncode != 0 or "PostgreSQL" not in cp.stdout:
            raise SimError(f"user {self.user} cannot run {self.pg_bin}/postgres: "
                           f"{cp.stderr.strip()} (run scripts/setup)")

    def _start_entrypoint(self, pod: Pod) -> None:
        vol = self.volume(pod.k)
        vol.mkdir(parents=True, exist_ok=True)
        self._files.chown(vol, 0o700)
        pod_ops.start_entrypoint(pod, [*self._privileges(None), str(self._files.entrypoint)], self.pod_env(pod.k))

    def _destroy_pod(self, pod: Pod) -> None:
        """Kills the pod's processes, removes its network, stale pidfile and /tmp."""
        pod_ops.stop(pod)
        self._net.remove_pod(pod.k)
        pod_ops.remove_stale_pidfile(self.pgdata(pod.k))
        shutil.rmtree(self.pod_tmp(pod.k), ignore_errors=True)
