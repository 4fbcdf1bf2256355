"""A fake PostgreSQL server on 127.0.0.1 that speaks just enough of the v3 wire
protocol for psqlODBC (through libpq), to test what aku sends and how it copes
with a server that stops answering. Python stdlib only; no root needed.

Modes (what the server does with each connection):

- ``accept-silent``: accepts TCP and never answers (not even the startup).
- ``login-then-silent``: asks for a cleartext password
  (AuthenticationCleartextPassword), records it, completes the login
  (AuthenticationOk, ParameterStatus, BackendKeyData, ReadyForQuery), then never
  answers again.
- ``setup-then-silent``: completes the login and answers every statement until
  one that starts with ``silent_after`` (default ``SET lock_timeout``, aku's
  session setup) has been answered, then never answers the next one.
- ``answer-all``: completes the login and answers every statement.
- ``password-capture`` / ``wrong-password``: records the password, then refuses
  the login with ErrorResponse SQLSTATE 28P01 (invalid_password), as a server
  does for a wrong password.

What arrives is recorded per connection (:class:`Connection`): the startup
parameters (``user``, ``database``, ``application_name``, ``options``, ...), the
password and every statement text, in order. Statements are answered
plausibly: ``SET``/``RESET``/``BEGIN``/``COMMIT`` with their command tag, anything
else as a query of no rows (or one row for ``select version()`` and
``show``/``current_setting``); both the simple and the extended query protocol.

    with PgFake("password-capture") as pg:
        ... connect to 127.0.0.1:pg.port ...
        conn = pg.wait_for_connection()
        assert conn.password == "p;w"
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from typing import Self

MODES = ("accept-silent", "login-then-silent", "setup-then-silent", "answer-all", "password-capture", "wrong-password")

PROTOCOL_3 = 196608
SSL_REQUEST = 80877103
GSSENC_REQUEST = 80877104
CANCEL_REQUEST = 80877102

SERVER_PARAMETERS = {
    "server_version": "16.4",
    "server_encoding": "UTF8",
    "client_encoding": "UTF8",
    "DateStyle": "ISO, MDY",
    "integer_datetimes": "on",
    "standard_conforming_strings": "on",
    "TimeZone": "UTC",
    "IntervalStyle": "postgres",
    "is_superuser": "on",
    "session_authorization": "postgres",
}


@dataclass
class Connection:
    """What one client sent."""
    peer: tuple[str, int]
    params: dict[str, str] = field(default_factory=dict)
    password: str | None = None
    queries: list[str] = field(default_factory=list)
    ssl_requested: bool = False
    closed: bool = False

    @property
    def user(self) -> str | None:
        return self.params.get("user")

    @property
    def database(self) -> str | None:
        return self.params.get("database")

    @property
    def application_name(self) -> str | None:
        return self.params.get("application_name")


class _Closed(Exception):
    pass


def _message(kind: bytes, payload: bytes = b"") -> bytes:
    return kind + struct.pack("!i", len(payload) + 4) + payload


def _cstr(text: str) -> bytes:
    return text.encode() + b"\0"


def error_response(sqlstate: str, message: str, severity: str = "FATAL") -> bytes:
    fields = b"S" + _cstr(severity) + b"V" + _cstr(severity) + b"C" + _cstr(sqlstate) + b"M" + _cstr(message) + b"\0"
    return _message(b"E", fields)


def _row_description(columns: list[str]) -> bytes:
    body = struct.pack("!h", len(columns))
    for name in columns:
        # name, table oid, column number, type oid (25 = text), size, modifier, format
        body += _cstr(name) + struct.pack("!ihihih", 0, 0, 25, -1, -1, 0)
    return _message(b"T", body)


def _data_row(values: list[str]) -> bytes:
    body = struct.pack("!h", len(values))
    for v in values:
        raw = v.encode()
        body += struct.pack("!i", len(raw)) + raw
    return _message(b"D", body)


def _answer(sql: str) -> tuple[bytes, bytes]:
    """(row description or b'' for no rows, the rows and CommandComplete) for a statement."""
    words = sql.strip().rstrip(";").split()
    verb = words[0].upper() if words else ""
    if not words:
        return b"", _message(b"I")  # EmptyQueryResponse
    if verb in ("SET", "RESET", "BEGIN", "COMMIT", "ROLLBACK", "START", "DISCARD", "DEALLOCATE", "SAVEPOINT",
                "RELEASE"):
        tag = {"START": "START TRANSACTION"}.get(verb, verb)
        return b"", _message(b"C", _cstr(tag))
    lowered = sql.lower()
    if "version()" in lowered:
        version = _data_row(["PostgreSQL 16.4 (aku pgfake)"]) + _message(b"C", _cstr("SELECT 1"))
        return _row_description(["version"]), version
    if verb == "SHOW":
        setting = words[1] if len(words) > 1 else "setting"
        return _row_description([setting]), _data_row([""]) + _message(b"C", _cstr("SHOW"))
    return _row_description(["?column?"]), _message(b"C", _cstr("SELECT 0"))


class PgFake:
    """The fake server; a context manager. ``port`` is where it listens on 127.0.0.1."""

    def __init__(self, mode: str = "answer-all", *, host: str = "127.0.0.1", silent_after: str = "SET lock_timeout"):
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; one of {MODES}")
        self.mode = mode
        self.silent_after = silent_after.lower()
        self._lock = threading.Lock()
        self._connections: list[Connection] = []
        self._sockets: list[socket.socket] = []
        self._stopping = threading.Event()
        self._listener = socket.create_server((host, 0))
        self._listener.settimeout(0.2)
        self.host = host
        self.port = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._accept_loop, name=f"pgfake-{self.port}", daemon=True)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=5)
        self._listener.close()
        with self._lock:
            for s in self._sockets:
                try:
                    s.close()
                except OSError:
                    pass

    @property
    def connections(self) -> list[Connection]:
        with self._lock:
            return list(self._connections)

    def wait_for_connection(self, index: int = 0, *, timeout: float = 30.0, password: bool = False) -> Connection:
        """The index-th connection, once it exists (and, with ``password``, once its password arrived)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            conns = self.connections
            if len(conns) > index and (not password or conns[index].password is not None):
                return conns[index]
            time.sleep(0.02)
        raise TimeoutError(f"pgfake: no connection #{index} within {timeout}s (got {len(self.connections)})")

    # ------------------------------------------------------------------ server

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                sock, peer = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn = Connection(peer=peer)
            with self._lock:
                self._connections.append(conn)
                self._sockets.append(sock)
            threading.Thread(target=self._serve, args=(sock, conn), daemon=True).start()

    def _recv(self, sock: socket.socket, n: int) -> bytes:
        data = b""
        while len(data) < n:
            if self._stopping.is_set():
                raise _Closed
            try:
                chunk = sock.recv(n - len(data))
            except TimeoutError:
                continue
            except OSError as e:
                raise _Closed from e
            if not chunk:
                raise _Closed
            data += chunk
        return data

    def _read_typed(self, sock: socket.socket) -> tuple[bytes, bytes]:
        kind = self._recv(sock, 1)
        (length,) = struct.unpack("!i", self._recv(sock, 4))
        return kind, self._recv(sock, length - 4)

    def _silence(self, sock: socket.socket) -> None:
        """Reads and discards whatever comes, answering nothing, until the client goes."""
        while not self._stopping.is_set():
            try:
                if not sock.recv(65536):
                    return
            except TimeoutError:
                continue
            except OSError:
                return

    def _serve(self, sock: socket.socket, conn: Connection) -> None:
        sock.settimeout(0.2)
        try:
            if self.mode == "accept-silent":
                self._silence(sock)
                return
            if not self._startup(sock, conn):
                return
            sock.sendall(_message(b"R", struct.pack("!i", 3)))  # AuthenticationCleartextPassword
            kind, body = self._read_typed(sock)
            if kind != b"p":
                return
            with self._lock:
                conn.password = body.rstrip(b"\0").decode("utf-8", "surrogateescape")
            if self.mode in ("password-capture", "wrong-password"):
                user = conn.params.get("user", "")
                sock.sendall(error_response("28P01", f'password authentication failed for user "{user}"'))
                return
            self._login_ok(sock)
            if self.mode == "login-then-silent":
                self._silence(sock)
                return
            self._statements(sock, conn)
        except _Closed:
            pass
        finally:
            conn.closed = True
            try:
                sock.close()
            except OSError:
                pass

    def _startup(self, sock: socket.socket, conn: Connection) -> bool:
        """Reads the startup packet (after refusing SSL/GSS encryption); False for a cancel request."""
        while True:
            (length,) = struct.unpack("!i", self._recv(sock, 4))
            body = self._recv(sock, length - 4)
            (code,) = struct.unpack("!i", body[:4])
            if code in (SSL_REQUEST, GSSENC_REQUEST):
                conn.ssl_requested = conn.ssl_requested or code == SSL_REQUEST
                sock.sendall(b"N")
                continue
            if code == CANCEL_REQUEST:
                return False
            if code != PROTOCOL_3:
                sock.sendall(error_response("08P01", f"unsupported frontend protocol {code >> 16}.{code & 0xFFFF}"))
                return False
            parts = body[4:].split(b"\0")
            params = {}
            for k, v in zip(parts[0::2], parts[1::2], strict=False):
                if k:
                    params[k.decode("utf-8", "surrogateescape")] = v.decode("utf-8", "surrogateescape")
            with self._lock:
                conn.params = params
            return True

    def _login_ok(self, sock: socket.socket) -> None:
        out = _message(b"R", struct.pack("!i", 0))
        for k, v in SERVER_PARAMETERS.items():
            out += _message(b"S", _cstr(k) + _cstr(v))
        out += _message(b"K", struct.pack("!ii", 4242, 2424))
        out += _message(b"Z", b"I")
        sock.sendall(out)

    def _statements(self, sock: socket.socket, conn: Connection) -> None:
        silent = False
        prepared: dict[str, str] = {}
        portals: dict[str, str] = {}
        pending = b""
        while True:
            kind, body = self._read_typed(sock)
            if kind == b"X":
                return
            if kind in (b"Q", b"P"):
                if kind == b"Q":
                    sql = body.rstrip(b"\0").decode("utf-8", "surrogateescape")
                else:
                    raw_name, raw_rest = body.split(b"\0", 1)
                    sql = raw_rest.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
                    prepared[raw_name.decode()] = sql
                with self._lock:
                    conn.queries.append(sql)
                if silent:
                    self._silence(sock)
                    return
                if self.mode == "setup-then-silent" and sql.strip().lower().startswith(self.silent_after):
                    silent = True  # this one is answered; the next one is not
            if kind == b"Q":
                rows_desc, rest = _answer(sql)
                sock.sendall(rows_desc + rest + _message(b"Z", b"I"))
            elif kind == b"P":
                pending += _message(b"1")  # ParseComplete
            elif kind == b"B":
                raw_portal, raw_rest = body.split(b"\0", 1)
                statement = raw_rest.split(b"\0", 1)[0].decode()
                portals[raw_portal.decode()] = prepared.get(statement, "")
                pending += _message(b"2")  # BindComplete
            elif kind == b"D":
                which, described = body[:1], body[1:].rstrip(b"\0").decode()
                sql = (portals if which == b"P" else prepared).get(described, "")
                rows_desc, _ = _answer(sql)
                if which == b"S":
                    pending += _message(b"t", struct.pack("!h", 0))  # ParameterDescription: no parameters
                pending += rows_desc or _message(b"n")  # RowDescription or NoData
            elif kind == b"E":
                executed = body.split(b"\0", 1)[0].decode()
                _, rest = _answer(portals.get(executed, ""))
                pending += rest
            elif kind == b"C":
                pending += _message(b"3")  # CloseComplete
            elif kind == b"S":
                sock.sendall(pending + _message(b"Z", b"I"))
                pending = b""
            elif kind == b"H":
                sock.sendall(pending)
                pending = b""
            # Anything else (CopyData, FunctionCall, ...) is ignored.
