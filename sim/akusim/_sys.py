"""Small Linux helpers of the pod simulator: commands, network namespaces, processes,
polling. Knows nothing of StatefulSets or pods."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

from .errors import SimError

T = TypeVar("T")
NETNS_DIR = "/run/netns"


def run(argv: Sequence[str], *, check: bool = True, input: str | None = None,
        timeout: float | None = 30.0) -> subprocess.CompletedProcess[str]:
    """Runs a command (no shell), captures its output as text."""
    try:
        cp = subprocess.run(list(argv), input=input, capture_output=True, text=True,
                            timeout=timeout)
    except FileNotFoundError as e:
        raise SimError(f"{argv[0]}: not found ({e})") from e
    except subprocess.TimeoutExpired as e:
        raise SimError(f"{' '.join(argv)}: no answer within {timeout}s") from e
    if check and cp.returncode != 0:
        raise SimError(f"{' '.join(argv)} failed (exit {cp.returncode}): "
                       f"{(cp.stderr or cp.stdout).strip()}")
    return cp


def ip(*args: str, netns: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    """`ip [-n NETNS] ARGS...`."""
    argv = ["ip"]
    if netns:
        argv += ["-n", netns]
    return run(argv + list(args), check=check)


def netns_list() -> list[str]:
    """Names of the named network namespaces (`ip netns add`)."""
    try:
        return sorted(n for n in os.listdir(NETNS_DIR) if not n.startswith("."))
    except FileNotFoundError:
        return []


def netns_exists(name: str) -> bool:
    return os.path.exists(os.path.join(NETNS_DIR, name))


def netns_inode(name: str) -> int | None:
    """The inode that identifies a named network namespace, or None."""
    try:
        return os.stat(os.path.join(NETNS_DIR, name)).st_ino
    except FileNotFoundError:
        return None


def pids_in_netns(inode: int | None) -> list[int]:
    """Live processes whose network namespace has this inode (like `ip netns pids`).
    Zombies (no namespaces left) are not listed."""
    if inode is None:
        return []
    want = f"net:[{inode}]"
    me = os.getpid()
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        pid = int(d)
        if pid == me:
            continue
        try:
            if os.readlink(f"/proc/{d}/ns/net") == want:
                out.append(pid)
        except OSError:
            continue
    return out


def kill_pids(pids: Iterable[int], sig: int = signal.SIGKILL) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def kill_netns_processes(name: str, *, keep: Iterable[int] = (), timeout: float = 10.0) -> None:
    """SIGKILLs every process in the network namespace `name` but `keep`, until none is left."""
    inode = netns_inode(name)
    keep = set(keep)
    deadline = time.monotonic() + timeout
    while True:
        pids = [p for p in pids_in_netns(inode) if p not in keep]
        if not pids:
            return
        kill_pids(pids)
        if time.monotonic() > deadline:
            raise SimError(f"processes {pids} in netns {name} survive SIGKILL")
        time.sleep(0.02)


def netns_delete(name: str) -> None:
    """Kills what runs in the namespace, then deletes it (its veths go with it)."""
    if not netns_exists(name):
        return
    kill_netns_processes(name)
    ip("netns", "del", name, check=False)
    if netns_exists(name):
        # A leftover mount point without a namespace behind it (crashed `ip`).
        try:
            subprocess.run(["umount", "-l", os.path.join(NETNS_DIR, name)], capture_output=True)
            os.unlink(os.path.join(NETNS_DIR, name))
        except OSError:
            pass
    if netns_exists(name):
        raise SimError(f"cannot delete network namespace {name}")


def proc_start_time(pid: int) -> int | None:
    """Start time of a process (clock ticks since boot), to tell a reused pid apart."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            data = f.read()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    fields = data.rsplit(")", 1)[1].split()
    return int(fields[19])  # field 22 of stat(5)


def process_alive(pid: int, start_time: int | None) -> bool:
    st = proc_start_time(pid)
    return st is not None and (start_time is None or st == start_time)


def user_ids(user: str) -> tuple[int, int]:
    import pwd
    try:
        pw = pwd.getpwnam(user)
    except KeyError as e:
        raise SimError(f"no OS user {user!r}: run scripts/setup") from e
    return pw.pw_uid, pw.pw_gid


def assert_traversable(path: str, uid: int, gid: int) -> None:
    """Raises unless every ancestor of `path` is searchable by uid/gid (mode bits only)."""
    p = os.path.abspath(path)
    parts = []
    while True:
        parts.append(p)
        parent = os.path.dirname(p)
        if parent == p:
            break
        p = parent
    for d in reversed(parts[1:]):
        st = os.stat(d)
        if st.st_uid == uid:
            ok = st.st_mode & 0o100
        elif st.st_gid == gid:
            ok = st.st_mode & 0o010
        else:
            ok = st.st_mode & 0o001
        if not ok:
            raise SimError(f"{d} is not searchable by uid {uid}: choose a state_dir elsewhere "
                           f"(e.g. under /var/tmp)")


def wait_until(predicate: Callable[[], T], timeout: float = 30.0, interval: float = 0.1,
               what: str = "condition") -> T:
    """Polls `predicate` until it returns a truthy value (returned) or raises on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        v = predicate()
        if v:
            return v
        if time.monotonic() > deadline:
            raise SimError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)
