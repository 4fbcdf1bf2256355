"""What a StatefulSet is made from: the constructor's options (SimOptions), the
defaults found in the environment (aku binary, PostgreSQL binaries, unixODBC
configuration) and the few aku.conf values the simulator reads. Creates nothing."""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict

from .errors import SimError

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_ENTRYPOINT = REPO_ROOT / "deploy" / "entrypoint" / "aku-postgres-entrypoint.sh"

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


@dataclass(frozen=True)
class SimOptions:
    """The keyword options of StatefulSet (see sim/README.md); times in seconds."""

    password: str | None = None  # default random
    user: str = "akusim"  # the OS user that runs the pods' processes
    subnet: str = "10.251.0"  # pod k is <subnet>.<10+k>/24
    server_options: Mapping[str, str] | None = None  # postgresql.conf, over DEFAULT_SERVER_OPTIONS
    env: Mapping[str, str] | None = None  # extra environment of every pod
    entrypoint: str | os.PathLike[str] | None = None  # default DEFAULT_ENTRYPOINT
    pg_bin: str | None = None  # default $PG_BIN, else .cache/pg_bin
    odbcsysini: str | None = None  # default $ODBCSYSINI, else .cache/odbc
    keep_volumes: bool = False  # teardown keeps the volumes
    reuse_volumes: bool = False  # start on the volumes left in state_dir
    start_timeout: float = 300.0  # create_pod / wait_ready
    grace_period: float = 120.0  # delete_pod: SIGTERM, then SIGKILL after this


class SimOptionsArgs(TypedDict, total=False):
    """SimOptions as keyword arguments of StatefulSet (same names and types)."""

    password: str | None
    user: str
    subnet: str
    server_options: Mapping[str, str] | None
    env: Mapping[str, str] | None
    entrypoint: str | os.PathLike[str] | None
    pg_bin: str | None
    odbcsysini: str | None
    keep_volumes: bool
    reuse_volumes: bool
    start_timeout: float
    grace_period: float


def merge_options(options: SimOptions | None, keywords: SimOptionsArgs) -> SimOptions:
    """`options` (default SimOptions()) with the keyword arguments given over it.
    TypeError for a keyword SimOptions does not have, like a function call."""
    unknown = set(keywords) - {f.name for f in dataclasses.fields(SimOptions)}
    if unknown:
        raise TypeError(f"StatefulSet() got unexpected keyword arguments: {', '.join(sorted(unknown))}")
    return dataclasses.replace(options or SimOptions(), **keywords)


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


def default_pg_bin() -> str:
    """The PostgreSQL binaries: $PG_BIN, else what scripts/setup wrote to .cache/pg_bin."""
    env = os.environ.get("PG_BIN")
    if env:
        return env
    f = REPO_ROOT / ".cache" / "pg_bin"
    if f.is_file():
        return f.read_text().strip()
    raise SimError("no PostgreSQL binaries: run scripts/setup and source scripts/env.sh (PG_BIN)")


def default_odbcsysini() -> str:
    """The unixODBC configuration folder to copy into the pods (CommLog off)."""
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


@dataclass(frozen=True)
class ServerSettings:
    """What the simulator reads from aku.conf: the server's port, database, superuser."""

    port: int
    database: str
    sys_user: str

    @classmethod
    def from_conf(cls, conf_text: str) -> ServerSettings:
        return cls(port=int(conf_value(conf_text, "AKU_PORT_NO") or 20300),
                   database=conf_value(conf_text, "AKU_DATABASE") or "postgres",
                   sys_user=conf_value(conf_text, "AKU_SYS_USER") or "postgres")
