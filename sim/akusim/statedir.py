"""The files of one StatefulSet under its state folder: the "image" (copies of aku
and the entrypoint), the ConfigMap (aku.conf), the Secret (password, pgpass), the
initdb scripts, the unixODBC configuration, the name service files (net/), each
pod's /tmp and log (pods/<k>/) and the volumes (volumes/<sts>-<k>/). Owns their
layout, modes and owners; starts no process."""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path

from ._sys import assert_traversable
from .errors import SimError

# schema_sql of StatefulSet: SQL text, a list of texts, or a path (file or folder of *.sql).
SchemaSql = str | bytes | Sequence[str | bytes] | os.PathLike[str] | None

_FRESH = ("bin", "conf", "secret", "initdb.d", "odbc", "net", "pods")
_KEPT = ("volumes", "pods")  # what teardown(keep_volumes=True) leaves


class StateDir:
    """The state folder `root`, its files owned by uid/gid where the pods read them."""

    def __init__(self, root: Path, uid: int, gid: int):
        self.root, self.uid, self.gid = root, uid, gid
        self.aku_bin = root / "bin" / "aku"
        self.entrypoint = root / "bin" / "aku-postgres-entrypoint.sh"
        self.conf = root / "conf" / "aku.conf"
        self.password = root / "secret" / "password"
        self.pgpass = root / "secret" / "pgpass"
        self.initdb_dir = root / "initdb.d"
        self.odbc_dir = root / "odbc"
        self.net_dir = root / "net"

    # ------------------------------------------------------------ paths
    def bin_dir(self) -> Path:
        return self.root / "bin"

    def volume(self, pod_name: str) -> Path:
        return self.root / "volumes" / pod_name

    def pod_tmp(self, k: int) -> Path:
        return self.root / "pods" / str(k) / "tmp"

    def log_path(self, k: int) -> Path:
        return self.root / "pods" / str(k) / "pod.log"

    # ------------------------------------------------------------ creation
    def create(self, reuse_volumes: bool) -> None:
        """Fresh folders (the volumes kept only with `reuse_volumes`); SimError if the
        pod user cannot reach the state folder."""
        sd = self.root
        sd.mkdir(parents=True, exist_ok=True)
        os.chmod(sd, 0o755)
        assert_traversable(str(sd), self.uid, self.gid)
        for sub in _FRESH:
            shutil.rmtree(sd / sub, ignore_errors=True)
            (sd / sub).mkdir()
            os.chmod(sd / sub, 0o755)
        vols = sd / "volumes"
        if vols.exists() and not reuse_volumes:
            shutil.rmtree(vols)
        vols.mkdir(exist_ok=True)
        os.chmod(vols, 0o755)
        self.chown(sd / "secret", 0o700)
        self.chown(sd / "conf", 0o700)

    def chown(self, path: Path, mode: int) -> None:
        os.chown(path, self.uid, self.gid)
        os.chmod(path, mode)

    def write_secret_file(self, path: Path, text: str, mode: int) -> None:
        """Writes `text` readable by the pod user only (`mode`), atomically."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text)
        self.chown(tmp, mode)
        os.replace(tmp, path)

    def install_exe(self, src: Path, dst: Path) -> None:
        """Copies an executable (so that the pod user can run it wherever the repository lives)."""
        if not src.is_file():
            raise SimError(f"{src}: no such file")
        tmp = dst.with_name(dst.name + ".tmp")
        shutil.copyfile(src, tmp)
        os.chmod(tmp, 0o755)
        os.replace(tmp, dst)

    def write_password(self, password: str) -> None:
        """The Secret: the password file and a libpq passfile for psql (any host, any user)."""
        self.write_secret_file(self.password, password + "\n", 0o400)
        esc = password.replace("\\", "\\\\").replace(":", "\\:")
        self.write_secret_file(self.pgpass, f"*:*:*:*:{esc}\n", 0o600)

    def write_schema(self, schema_sql: SchemaSql) -> None:
        """initdb.d/NN-schema.sql, one per script, run by the entrypoint at initdb."""
        scripts: list[str | bytes]
        if isinstance(schema_sql, (str, bytes)):
            scripts = [schema_sql]
        elif isinstance(schema_sql, os.PathLike):
            p = Path(schema_sql)
            scripts = [f.read_text() for f in sorted(p.glob("*.sql"))] if p.is_dir() else [p.read_text()]
        else:
            scripts = list(schema_sql or [])
        for i, text in enumerate(scripts):
            f = self.initdb_dir / f"{i + 1:02d}-schema.sql"
            f.write_text(text if isinstance(text, str) else text.decode())
            os.chmod(f, 0o644)

    def copy_odbc(self, src: Path) -> None:
        """odbcinst.ini and odbc.ini from `src` (empty when absent there)."""
        for name in ("odbcinst.ini", "odbc.ini"):
            dst = self.odbc_dir / name
            if (src / name).is_file():
                shutil.copyfile(src / name, dst)
            else:
                dst.write_text("")
            os.chmod(dst, 0o644)

    # ------------------------------------------------------------ removal
    def remove(self, keep_volumes: bool) -> None:
        """Removes the state folder; with `keep_volumes`, all but the volumes and pod logs."""
        if not self.root.is_dir():
            return
        if not keep_volumes:
            shutil.rmtree(self.root, ignore_errors=True)
            return
        for child in self.root.iterdir():
            if child.name not in _KEPT:
                if child.is_dir():
                    shutil.rmtree(child, ignore_errors=True)
                else:
                    child.unlink()
