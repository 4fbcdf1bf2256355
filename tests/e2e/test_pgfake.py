"""Self-tests of the fake PostgreSQL server (tests/e2e/fakes/pgfake.py): each mode
does what its name says, seen from a raw protocol client, and psqlODBC (through
unixODBC's isql) can log in to it."""

from __future__ import annotations

import os
import shutil
import socket
import struct
import subprocess

import pytest
from fakes.pgfake import PgFake


class Client:
    """A minimal PostgreSQL v3 client: startup, cleartext password, simple queries."""

    def __init__(self, port: int):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)

    def close(self) -> None:
        self.sock.close()

    def send(self, kind: bytes, payload: bytes) -> None:
        self.sock.sendall(kind + struct.pack("!i", len(payload) + 4) + payload)

    def startup(self, **params: str) -> None:
        pairs = b"".join(k.encode() + b"\0" + v.encode() + b"\0" for k, v in params.items())
        body = struct.pack("!i", 196608) + pairs + b"\0"
        self.sock.sendall(struct.pack("!i", len(body) + 4) + body)

    def recv_exact(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise EOFError
            data += chunk
        return data

    def message(self, timeout: float = 5.0) -> tuple[bytes, bytes]:
        self.sock.settimeout(timeout)
        kind = self.recv_exact(1)
        (length,) = struct.unpack("!i", self.recv_exact(4))
        return kind, self.recv_exact(length - 4)

    def until_ready(self) -> list[bytes]:
        kinds = []
        while True:
            kind, _ = self.message()
            kinds.append(kind)
            if kind in (b"Z", b"E"):
                return kinds

    def silent_for(self, seconds: float) -> bool:
        """Whether nothing (not even the end of the connection) arrives for `seconds`."""
        self.sock.settimeout(seconds)
        try:
            self.sock.recv(1)
        except TimeoutError:
            return True
        return False

    def login(self, password: str) -> list[bytes]:
        self.startup(user="postgres", database="postgres", application_name="t")
        kind, body = self.message()
        assert (kind, struct.unpack("!i", body)[0]) == (b"R", 3), "AuthenticationCleartextPassword expected"
        self.send(b"p", password.encode() + b"\0")
        return self.until_ready()


def test_accept_silent_answers_not_even_the_startup():
    with PgFake("accept-silent") as pg:
        c = Client(pg.port)
        c.startup(user="postgres", database="postgres")
        assert c.silent_for(1.0)
        c.close()
        assert len(pg.connections) == 1 and pg.connections[0].password is None


@pytest.mark.parametrize("mode", ["password-capture", "wrong-password"])
def test_a_refused_password_is_recorded_and_answered_with_28P01(mode):
    with PgFake(mode) as pg:
        c = Client(pg.port)
        kinds = c.login("s3;cr}3t")
        c.close()
        conn = pg.wait_for_connection(password=True)
    assert kinds == [b"E"]
    assert (conn.password, conn.user, conn.database, conn.application_name) == ("s3;cr}3t", "postgres", "postgres", "t")


def test_login_then_silent_logs_in_and_then_answers_nothing():
    with PgFake("login-then-silent") as pg:
        c = Client(pg.port)
        kinds = c.login("pw")
        assert kinds[0] == b"R" and b"S" in kinds and b"K" in kinds and kinds[-1] == b"Z"
        c.send(b"Q", b"select 1\0")
        assert c.silent_for(1.0)
        c.close()
        assert pg.connections[0].password == "pw"


def test_setup_then_silent_answers_up_to_the_session_setup_then_nothing():
    with PgFake("setup-then-silent") as pg:
        c = Client(pg.port)
        c.login("pw")
        c.send(b"Q", b"SET DateStyle = 'ISO'\0")
        assert c.until_ready() == [b"C", b"Z"]
        c.send(b"Q", b"select oid, typbasetype from pg_type where typname = 'lo'\0")
        assert c.until_ready() == [b"T", b"C", b"Z"]
        c.send(b"Q", b"SET lock_timeout = '60s'\0")
        assert c.until_ready() == [b"C", b"Z"]
        c.send(b"Q", b"SELECT subname FROM pg_subscription\0")
        assert c.silent_for(1.0)
        c.close()
        assert pg.connections[0].queries[-1] == "SELECT subname FROM pg_subscription"


@pytest.mark.skipif(not shutil.which("isql") or not os.environ.get("ODBCSYSINI"),
                    reason="needs unixODBC's isql and ODBCSYSINI")
def test_psqlodbc_logs_in_and_runs_a_query():
    with PgFake("answer-all") as pg:
        cs = (f"Driver={{PostgreSQL Unicode}};Server=127.0.0.1;Port={pg.port};Database=db;UID=u;"
              "PWD={p;w};pqopt={application_name=aku}")
        cp = subprocess.run(["isql", "-v", "-k", cs], input="select 1\n", capture_output=True, text=True,
                            timeout=30, check=False)
        conn = pg.wait_for_connection(password=True)
        queries = list(conn.queries)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    assert (conn.user, conn.database, conn.password, conn.application_name) == ("u", "db", "p;w", "aku")
    assert "select 1" in queries, queries
