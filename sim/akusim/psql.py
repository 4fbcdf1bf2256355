"""psql run inside a pod: its command line and environment (the password from a
passfile, never in argv) and the parsing of its output into rows. Runs nothing
itself: StatefulSet.psql runs the command with exec_in_pod."""

from __future__ import annotations

from pathlib import Path

# Field and record separators of psql's unaligned output: values never hold them.
FIELD_SEP = "\x1f"
RECORD_SEP = "\0"


def psql_argv(pg_bin: str, sql: str, *, host: str, port: int, user: str, dbname: str) -> list[str]:
    """psql running `sql`, stopping at the first error, unaligned tuples only."""
    return [f"{pg_bin}/psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
            "-F", FIELD_SEP, "-0", "-h", host, "-p", str(port),
            "-U", user, "-d", dbname, "-c", sql]


def psql_run_env(pgpass: Path, connect_timeout: int) -> dict[str, str]:
    """The environment psql_argv runs with (over the pod's)."""
    return {"PGPASSFILE": str(pgpass), "PGCONNECT_TIMEOUT": str(connect_timeout), "PGAPPNAME": "akusim"}


def superuser_env(pgpass: Path, *, user: str, database: str, port: int) -> dict[str, str]:
    """Environment for any psql run inside a pod as the superuser, on the pod's own server."""
    return {"PGPASSFILE": str(pgpass), "PGAPPNAME": "akusim", "PGUSER": user, "PGDATABASE": database,
            "PGPORT": str(port), "PGHOST": "127.0.0.1"}


def parse_rows(out: str) -> list[tuple[str, ...]]:
    """The rows of psql_argv's output (those of the last statement), NULL as ''."""
    out = out.rstrip("\n")
    if out.endswith(RECORD_SEP):
        out = out[:-1]
    if not out:
        return []
    return [tuple(rec.lstrip("\n").split(FIELD_SEP)) for rec in out.split(RECORD_SEP)]
