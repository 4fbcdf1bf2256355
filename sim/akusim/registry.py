"""Who owns which StatefulSet: the registry `/run/akusim/<sts>.json` (owner pid and
start time, state folder), the sweeper of what crashed runs left behind, and the
exit hooks (atexit, SIGTERM/SIGHUP) that tear down the live StatefulSets of this
process. Knows nothing of pods."""

from __future__ import annotations

import atexit
import json
import os
import shutil
import signal
import threading
import weakref
from pathlib import Path
from types import FrameType
from typing import Any, Protocol

from ._sys import proc_start_time, process_alive
from .errors import SimError
from .network import delete_namespaces, netns_groups

REGISTRY_DIR = Path("/run/akusim")


class _Owned(Protocol):
    """What the exit hooks need of a StatefulSet."""

    sts: str

    def teardown(self) -> None: ...


_live: weakref.WeakSet[_Owned] = weakref.WeakSet()
_hooks_installed = False


def registry_path(sts: str) -> Path:
    return REGISTRY_DIR / f"{sts}.json"


def stale_owner(sts: str) -> dict[str, Any] | None:
    """The registry entry of `sts` if its owner process is gone ({} if there is no
    entry); None if the owner is alive."""
    try:
        entry: dict[str, Any] = json.loads(registry_path(sts).read_text())
    except (OSError, ValueError):
        return {}
    if process_alive(int(entry.get("pid", 0)), entry.get("start_time")):
        return None
    return entry


def sweep_stale(sts_prefix: str = "") -> list[str]:
    """Removes what crashed runs left behind: network namespaces (and every process
    in them), temporary state folders and registry entries of StatefulSets whose
    name starts with `sts_prefix` and whose owner process is gone. StatefulSets of
    live owners are left alone. Returns the names swept."""
    swept = []
    names = set(netns_groups())
    if REGISTRY_DIR.is_dir():
        names |= {p.stem for p in REGISTRY_DIR.glob("*.json")}
    for sts in sorted(n for n in names if n.startswith(sts_prefix)):
        entry = stale_owner(sts)
        if entry is None:
            continue
        delete_namespaces(sts)
        state_dir = entry.get("state_dir")
        if state_dir and entry.get("temporary") and os.path.isdir(state_dir):
            shutil.rmtree(state_dir, ignore_errors=True)
        unregister(sts)
        swept.append(sts)
    return swept


def claim(sts: str) -> None:
    """Makes `sts` free for this process: refuses a name a live process owns, sweeps
    the leftovers of a crashed run of the same name."""
    if stale_owner(sts) is None:
        raise SimError(f"StatefulSet {sts!r} is in use by a live simulator (see {registry_path(sts)})")
    sweep_stale(sts)
    delete_namespaces(sts)


def register(owned: _Owned, state_dir: Path, temporary: bool) -> None:
    """Records this process as the owner of `owned`, torn down at exit once
    install_exit_hooks() ran."""
    REGISTRY_DIR.mkdir(parents=True, exist_ok=True)
    registry_path(owned.sts).write_text(json.dumps({
        "pid": os.getpid(), "start_time": proc_start_time(os.getpid()),
        "state_dir": str(state_dir), "temporary": temporary}))
    _live.add(owned)


def unregister(sts: str, owned: _Owned | None = None) -> None:
    try:
        registry_path(sts).unlink()
    except FileNotFoundError:
        pass
    if owned is not None:
        _live.discard(owned)


def _teardown_all() -> None:
    for s in list(_live):
        try:
            s.teardown()
        except Exception as e:
            print(f"akusim: teardown of {s.sts} failed: {e}")


def _on_signal(signum: int, frame: FrameType | None) -> None:
    # Turns SIGTERM/SIGHUP into SystemExit: `with` blocks unwind, atexit runs.
    raise SystemExit(128 + signum)


def install_exit_hooks() -> None:
    """atexit teardown of the live StatefulSets; SIGTERM/SIGHUP become SystemExit
    (from the main thread, where no handler of the program's own is set)."""
    global _hooks_installed
    if _hooks_installed:
        return
    _hooks_installed = True
    atexit.register(_teardown_all)
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGHUP):
            if signal.getsignal(sig) in (signal.SIG_DFL, None):
                signal.signal(sig, _on_signal)
