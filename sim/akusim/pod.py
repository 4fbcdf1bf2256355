"""One pod's processes: the sandbox ("pause" process holding the pod's UTS and mount
namespaces), the container (the entrypoint), commands run inside the pod, the pod's
state and its /tmp. The network namespace it enters is made by network.py, the
paths it is given by statedir.py."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import IO, Any, BinaryIO

from ._sys import NETNS_DIR, kill_netns_processes, netns_exists
from .errors import PodFailed, SimError

MARKER = "aku_start_completed"

_SANDBOX_SCRIPT = (
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


class PodState(StrEnum):
    """A pod's state; a str, so `pod_state(k) == "running"` holds."""

    ABSENT = "absent"  # no pod (never listed by pods())
    STARTING = "starting"  # the entrypoint runs, no start marker yet
    RUNNING = "running"  # the start marker exists
    FAILED = "failed"  # the entrypoint exited
    KILLED = "killed"  # a sandbox with nothing running (kill_pod, or not started yet)


ACTIVE = (PodState.STARTING, PodState.RUNNING)


@dataclass
class Pod:
    """Pod k: its network identity and its processes."""

    k: int
    name: str
    ip: str
    netns: str
    pause: subprocess.Popen[bytes] | None = None
    entry: subprocess.Popen[bytes] | None = None
    state: PodState = PodState.ABSENT
    cut: bool = False
    log_file: BinaryIO | None = field(default=None, repr=False)

    def refresh_state(self) -> PodState:
        """The state, FAILED once an active entrypoint has exited."""
        if self.state in ACTIVE and self.entry and self.entry.poll() is not None:
            self.state = PodState.FAILED
        return self.state

    def has_sandbox(self) -> bool:
        return self.pause is not None and self.pause.poll() is None

    def nsenter(self) -> list[str]:
        """argv prefix that enters the pod's network, UTS and mount namespaces."""
        if self.pause is None:
            raise SimError(f"pod {self.name} has no sandbox")
        return ["nsenter", f"--target={self.pause.pid}", "--net", "--uts", "--mount", "--wdns=/", "--"]


def setpriv(uid: int, gid: int) -> list[str]:
    """argv prefix that drops root for uid/gid."""
    return ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--init-groups", "--"]


def clear_tmp(t: Path) -> None:
    """A fresh, empty /tmp for the pod (a container's /tmp does not survive it)."""
    t.mkdir(parents=True, exist_ok=True)
    for child in t.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink()
    os.chmod(t, 0o1777)


def remove_stale_pidfile(pgdata: Path) -> None:
    """Removes postmaster.pid once all the pod's processes are dead. It may name a
    pid that has since been reused by another process of the same user (pid_max
    can be small): the server would then refuse to start. A real pod restarts in a
    fresh pid namespace, where this check passes."""
    try:
        (pgdata / "postmaster.pid").unlink()
    except FileNotFoundError:
        pass


def start_sandbox(pod: Pod, *, tmp: Path, hosts: Path, resolv: Path, log_path: Path) -> None:
    """Starts the "pause" process in the pod's network namespace: it holds the pod's
    UTS and mount namespaces (hostname, a fresh /tmp, /etc/hosts, /etc/resolv.conf).
    The pod is then KILLED: a sandbox with nothing running yet."""
    clear_tmp(tmp)
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
           "AKUSIM_TMP": str(tmp),
           "AKUSIM_HOSTS": str(hosts),
           "AKUSIM_RESOLV": str(resolv),
           "AKUSIM_HOSTNAME": pod.name}
    log = open(log_path, "ab")  # noqa: SIM115 - the pod's log, open while the pod lives
    pod.log_file = log
    pod.pause = subprocess.Popen(
        ["nsenter", f"--net={os.path.join(NETNS_DIR, pod.netns)}", "--",
         "unshare", "--mount", "--uts", "--propagation", "private", "--",
         "/bin/sh", "-c", _SANDBOX_SCRIPT],
        env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log,
        start_new_session=True)
    assert pod.pause.stdout is not None
    line = pod.pause.stdout.readline()
    if line.strip() != b"ready":
        pod.pause.wait()
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-10:])
        raise SimError(f"pod {pod.name}: sandbox failed: {tail}")
    pod.state = PodState.KILLED


def start_entrypoint(pod: Pod, argv: Sequence[str], env: Mapping[str, str]) -> None:
    """Runs the container (argv, already with its user's setpriv) in the sandbox,
    its output appended to the pod's log. The pod is then STARTING."""
    log = pod.log_file
    if log is None:
        raise SimError(f"pod {pod.name} has no sandbox")
    log.write(f"=== akusim: {time.strftime('%Y-%m-%dT%H:%M:%S')} pod {pod.name} "
              f"({pod.ip}) starts its entrypoint ===\n".encode())
    log.flush()
    pod.entry = subprocess.Popen([*pod.nsenter(), *argv], env=dict(env), stdin=subprocess.DEVNULL,
                                 stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    pod.state = PodState.STARTING


def wait_ready(pod: Pod, marker: Path, timeout: float, log_tail: Callable[[], str]) -> None:
    """Waits for the start marker (RUNNING); PodFailed if the entrypoint exits first
    (FAILED) or after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        if marker.exists():
            pod.state = PodState.RUNNING
            return
        rc = pod.entry.poll() if pod.entry else -1
        if rc is not None:
            pod.state = PodState.FAILED
            raise PodFailed(f"pod {pod.name}: the entrypoint exited (exit {rc}) "
                            f"before {MARKER} existed", pod.k, rc, log_tail())
        if time.monotonic() > deadline:
            raise PodFailed(f"pod {pod.name}: no {MARKER} after {timeout}s", pod.k, None, log_tail())
        time.sleep(0.05)


def terminate(pod: Pod, grace: float) -> int | None:
    """SIGTERM to the entrypoint, waiting up to `grace` seconds: its exit code (None
    if it did not exit in time or was never started)."""
    if pod.entry and pod.entry.poll() is None:
        pod.entry.send_signal(signal.SIGTERM)
        try:
            return pod.entry.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            return None
    return pod.entry.returncode if pod.entry else None


def kill_container(pod: Pod) -> None:
    """SIGKILL to everything in the pod but the sandbox (a crashed container)."""
    kill_netns_processes(pod.netns, keep=[pod.pause.pid] if pod.pause else [])
    if pod.entry:
        pod.entry.wait()
    pod.state = PodState.KILLED


def stop(pod: Pod) -> None:
    """Kills every process of the pod, sandbox included, and closes its log."""
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
    pod.state = PodState.ABSENT


def popen_in(pod: Pod, argv: Sequence[str], env: Mapping[str, str], *, privileges: Sequence[str],
             stdin: int | IO[Any] | None = subprocess.DEVNULL) -> subprocess.Popen[str]:
    """Starts argv in the pod (after the `privileges` argv prefix), text pipes, own session."""
    if not pod.has_sandbox():
        raise SimError(f"pod {pod.name} has no sandbox")
    return subprocess.Popen([*pod.nsenter(), *privileges, *argv], env=dict(env), stdin=stdin,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def communicate(proc: subprocess.Popen[str], input: str | None, timeout: float | None) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of proc; its session SIGKILLed and 124 on timeout."""
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
