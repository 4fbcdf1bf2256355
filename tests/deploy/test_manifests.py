"""The Kubernetes deployment files (deploy/kubernetes/) and the image's Dockerfile
(deploy/docker/): validated offline against the Kubernetes schemas
(kubernetes-validate, strict), checked for what aku requires of Kubernetes (spec
section 8) and for agreement between the manifests, aku.conf and the Dockerfile;
the shipped aku.conf files are parsed by the real aku binary (`aku -i`).

Needs the virtualenv of scripts/setup (kubernetes-validate, which brings PyYAML)
and, for the aku tests, a built aku: $AKU_BIN, else target/debug/aku, else
target/release/aku. No root, no network, no Docker engine.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

try:
    import kubernetes_validate
    import yaml
except ImportError as e:  # pragma: no cover - a setup problem, reported plainly
    raise ImportError(
        f"{e}: tests/deploy needs kubernetes-validate (and PyYAML) from the virtualenv "
        "that scripts/setup installs; run scripts/setup, then `source scripts/env.sh`"
    ) from e

REPO = Path(__file__).resolve().parents[2]
KUBE_DIR = REPO / "deploy" / "kubernetes"
DOCKERFILE = REPO / "deploy" / "docker" / "Dockerfile"
ENTRYPOINT_SRC = "deploy/entrypoint/aku-postgres-entrypoint.sh"

# The Kubernetes version whose schemas the manifests are validated against (the
# oldest supported release they are meant for; kubernetes-validate ships schemas
# from 1.25 on, in its package: nothing is fetched).
KUBERNETES_VERSION = "1.30.0"

MARKER = "/tmp/aku_start_completed"
BACKENDS = ("postgresql", "altibase")


# --------------------------------------------------------------------------- loading

def load_docs(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d]


def manifest_files() -> list[Path]:
    return sorted(p for p in KUBE_DIR.glob("*/*.yaml") if p.name != "kustomization.yaml")


def parse_aku_conf(text: str) -> dict[str, str]:
    """The top-level `NAME = value` properties of an aku.conf (comments and the
    REPLICATIONS block left out; the real parser runs in test_aku_parses_*)."""
    props: dict[str, str] = {}
    depth = 0
    for raw in text.splitlines():
        line = re.sub(r"#.*", "", raw).strip()
        if not line:
            continue
        if depth == 0:
            m = re.match(r'^([A-Z_]+)\s*=\s*"?([^"]*?)"?\s*$', line)
            if m and m.group(1) != "REPLICATIONS":
                props[m.group(1)] = m.group(2)
        depth += line.count("(") - line.count(")")
    return props


def replication_items(text: str) -> set[str]:
    """USER.TABLE items of the REPLICATIONS block, lower case."""
    block = text[text.index("REPLICATIONS"):]
    block = re.sub(r"#.*", "", block)
    return {m.lower() for m in re.findall(r"\b([A-Za-z_][A-Za-z0-9_$]*\.[A-Za-z_][A-Za-z0-9_$]*)\b", block)}


@dataclass
class Bundle:
    """The resources of one backend's folder."""

    backend: str
    folder: Path
    docs: list[tuple[Path, dict]] = field(default_factory=list)

    def of_kind(self, kind: str) -> list[dict]:
        return [d for _, d in self.docs if d["kind"] == kind]

    @property
    def sts(self) -> dict:
        (sts,) = self.of_kind("StatefulSet")
        return sts

    @property
    def pod(self) -> dict:
        return self.sts["spec"]["template"]["spec"]

    @property
    def container(self) -> dict:
        (c,) = self.pod["containers"]
        return c

    @property
    def env(self) -> dict[str, str]:
        return {e["name"]: e.get("value", "") for e in self.container.get("env", [])}

    @property
    def headless(self) -> dict:
        (svc,) = [s for s in self.of_kind("Service") if s["spec"].get("clusterIP") == "None"]
        return svc

    @property
    def client(self) -> dict:
        (svc,) = [s for s in self.of_kind("Service") if s["spec"].get("clusterIP") != "None"]
        return svc

    @property
    def conf_map(self) -> dict:
        (cm,) = [c for c in self.of_kind("ConfigMap") if "aku.conf" in c.get("data", {})]
        return cm

    @property
    def conf_text(self) -> str:
        return self.conf_map["data"]["aku.conf"]

    @property
    def conf(self) -> dict[str, str]:
        return parse_aku_conf(self.conf_text)

    @property
    def schema_map(self) -> dict:
        (cm,) = [c for c in self.of_kind("ConfigMap")
                 if any(k.endswith(".sql") for k in c.get("data", {}))]
        return cm

    @property
    def secret(self) -> dict:
        (s,) = self.of_kind("Secret")
        return s

    def mounted_files(self) -> dict[str, tuple[str, str, str]]:
        """Every file the container gets from a ConfigMap or Secret:
        path in the container -> (kind, resource name, key)."""
        volumes = {v["name"]: v for v in self.pod.get("volumes", [])}
        files: dict[str, tuple[str, str, str]] = {}

        def source_files(src: dict) -> list[tuple[str, str, str, str]]:
            """(kind, name, key, path inside the volume) of a configMap/secret source."""
            out = []
            for kind, ref, name_field in (("ConfigMap", "configMap", "name"), ("Secret", "secret", "secretName")):
                if ref not in src:
                    continue
                spec = src[ref]
                name = spec.get(name_field) or spec.get("name")
                res = self.resource(kind, name)
                data = {**res.get("data", {}), **res.get("stringData", {})}
                items = spec.get("items") or [{"key": k, "path": k} for k in data]
                for it in items:
                    assert it["key"] in data, f"{kind} {name} has no key {it['key']}"
                    out.append((kind, name, it["key"], it["path"]))
            return out

        for m in self.container.get("volumeMounts", []):
            vol = volumes.get(m["name"])
            if vol is None:
                continue  # a volumeClaimTemplate
            entries = []
            if "projected" in vol:
                for src in vol["projected"]["sources"]:
                    entries += source_files(src)
            else:
                entries += source_files(vol)
            for kind, name, key, path in entries:
                if "subPath" in m:
                    if m["subPath"] == path:
                        files[m["mountPath"]] = (kind, name, key)
                else:
                    files[f"{m['mountPath'].rstrip('/')}/{path}"] = (kind, name, key)
        return files

    def resource(self, kind: str, name: str) -> dict:
        found = [d for d in self.of_kind(kind) if d["metadata"]["name"] == name]
        assert found, f"{self.backend}: the StatefulSet refers to {kind} {name}, which is not in {self.folder}"
        return found[0]


def load_bundle(backend: str) -> Bundle:
    folder = KUBE_DIR / backend
    b = Bundle(backend, folder)
    for p in sorted(folder.glob("*.yaml")):
        if p.name == "kustomization.yaml":
            continue
        b.docs += [(p, d) for d in load_docs(p)]
    return b


@pytest.fixture(params=BACKENDS)
def bundle(request) -> Bundle:
    return load_bundle(request.param)


def probe_command(probe: dict) -> str:
    return " ".join(probe["exec"]["command"])


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined."""
    text = DOCKERFILE.read_text(encoding="utf-8")
    text = re.sub(r"\\\n", " ", text)
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


def aku_bin() -> str:
    from akusim import SimError, find_aku_bin  # sim/ is on pytest's pythonpath
    try:
        return find_aku_bin()
    except SimError as e:
        pytest.fail(str(e))


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AKU_", "ALTIBASE_"))}
    env.update(extra)
    return env


# --------------------------------------------------------------------------- schemas

def test_the_validator_is_offline_and_strict():
    """kubernetes-validate ships its schemas for KUBERNETES_VERSION, and strict
    validation rejects an unknown field (a misspelling would not go unnoticed)."""
    bad: dict[str, Any] = {
        "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "x"},
        "spec": {"serviceName": "x", "selector": {"matchLabels": {"a": "b"}},
                 "podManagmentPolicy": "OrderedReady",
                 "template": {"metadata": {"labels": {"a": "b"}},
                              "spec": {"containers": [{"name": "c", "image": "i"}]}}},
    }
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, KUBERNETES_VERSION, strict=True)
    good = dict(bad, spec={k: v for k, v in bad["spec"].items() if k != "podManagmentPolicy"})
    assert kubernetes_validate.validate(good, KUBERNETES_VERSION, strict=True) == "1.30"


@pytest.mark.parametrize("path", manifest_files(), ids=lambda p: str(p.relative_to(KUBE_DIR)))
def test_manifest_validates_against_the_kubernetes_schema(path: Path):
    docs = load_docs(path)
    assert docs, f"{path} holds no resource"
    for doc in docs:
        try:
            version = kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as e:
            where = ".".join(str(x) for x in e.path)
            pytest.fail(f"{path.name}: {doc['kind']}/{doc['metadata']['name']} at {where}: {e.message}")
        assert version == "1.30"


@pytest.mark.parametrize("backend", BACKENDS)
def test_kustomization_lists_every_manifest(backend: str):
    folder = KUBE_DIR / backend
    (k,) = load_docs(folder / "kustomization.yaml")
    assert k["apiVersion"] == "kustomize.config.k8s.io/v1beta1"
    assert k["kind"] == "Kustomization"
    listed = k["resources"]
    assert len(listed) == len(set(listed))
    present = sorted(p.name for p in folder.glob("*.yaml") if p.name != "kustomization.yaml")
    assert sorted(listed) == present


def test_each_backend_has_every_resource(bundle: Bundle):
    kinds = sorted(d["kind"] for _, d in bundle.docs)
    assert kinds == ["ConfigMap", "ConfigMap", "Secret", "Service", "Service", "StatefulSet"]
    names = [(d["kind"], d["metadata"]["name"]) for _, d in bundle.docs]
    assert len(names) == len(set(names))
    bundle.conf_map, bundle.schema_map, bundle.headless, bundle.client  # noqa: B018 - each raises unless exactly one


# --------------------------------------------------------------------------- StatefulSet and Services

def test_statefulset_uses_the_headless_service(bundle: Bundle):
    spec = bundle.sts["spec"]
    assert spec["serviceName"] == bundle.headless["metadata"]["name"]
    assert bundle.headless["spec"]["clusterIP"] == "None"
    assert bundle.headless["spec"]["publishNotReadyAddresses"] is True


def test_statefulset_is_ordered_and_small(bundle: Bundle):
    spec = bundle.sts["spec"]
    assert spec["podManagementPolicy"] == "OrderedReady"
    assert 1 <= spec["replicas"] <= 6
    labels = spec["template"]["metadata"]["labels"]
    assert spec["selector"]["matchLabels"].items() <= labels.items()
    assert len(bundle.pod["containers"]) == 1, "the server and aku run in one container"
    assert not bundle.pod.get("initContainers")


def test_services_select_the_pods(bundle: Bundle):
    labels = bundle.sts["spec"]["template"]["metadata"]["labels"]
    for svc in (bundle.headless, bundle.client):
        sel = svc["spec"]["selector"]
        assert sel and sel.items() <= labels.items(), f"{svc['metadata']['name']} selects no pod"
        ports = {p["name"]: p["containerPort"] for p in bundle.container["ports"]}
        for p in svc["spec"]["ports"]:
            target = p.get("targetPort", p["port"])
            number = ports[target] if isinstance(target, str) else target
            assert number in ports.values(), f"{svc['metadata']['name']} targets no container port"
    # The client Service routes to ready pods only.
    assert not bundle.client["spec"].get("publishNotReadyAddresses", False)
    assert bundle.client["spec"].get("type", "ClusterIP") == "ClusterIP"
    assert bundle.client["metadata"]["name"] != bundle.headless["metadata"]["name"]


def test_probes_wait_for_the_marker(bundle: Bundle):
    c = bundle.container
    start = c["startupProbe"]
    assert probe_command(start) == f"test -f {MARKER}"
    assert MARKER in probe_command(c["readinessProbe"])
    if bundle.backend == "postgresql":
        assert "pg_isready" in probe_command(c["readinessProbe"])
    assert "livenessProbe" not in c or MARKER not in probe_command(c["livenessProbe"])
    # The budget covers a join: reaching its own name, then waits bounded by
    # AKU_QUERY_TIMEOUT (the bookmark and the initial copy).
    conf = bundle.conf
    budget = start.get("periodSeconds", 10) * start.get("failureThreshold", 3)
    needed = int(conf.get("AKU_ADDRESS_CHECK_COUNT", 30)) + 2 * int(conf.get("AKU_QUERY_TIMEOUT", 3600))
    assert budget >= needed, f"startupProbe allows {budget} s, a join may take {needed} s"


def test_termination_grace_period_covers_end(bundle: Bundle):
    grace = bundle.pod["terminationGracePeriodSeconds"]
    assert grace >= 60
    # `aku -p end` flushes for up to AKU_QUERY_TIMEOUT, then stops and resets.
    assert grace > int(bundle.conf.get("AKU_QUERY_TIMEOUT", 3600)) + 60


def test_end_runs_before_the_server_stops(bundle: Bundle):
    c = bundle.container
    pre_stop = c.get("lifecycle", {}).get("preStop")
    if bundle.backend == "postgresql":
        # The entrypoint's SIGTERM trap runs `aku -p end` (AKU_END_ON_TERM=1); no preStop as well.
        assert bundle.env.get("AKU_END_ON_TERM", "1") == "1"
        assert pre_stop is None
        text = (REPO / ENTRYPOINT_SRC).read_text(encoding="utf-8")
        assert re.search(r'"\$AKU_BIN" -p end', text)
    else:
        cmd = " ".join(pre_stop["exec"]["command"])
        assert re.search(r"/bin/aku\"? -p end", cmd), cmd


def test_runs_as_non_root(bundle: Bundle):
    sc = bundle.pod["securityContext"]
    assert sc["runAsNonRoot"] is True
    assert sc["runAsUser"] != 0
    assert "fsGroup" in sc
    csc = bundle.container["securityContext"]
    assert csc["allowPrivilegeEscalation"] is False
    assert csc["capabilities"]["drop"] == ["ALL"]
    # The marker lives in the container's own /tmp: no volume there (an emptyDir
    # would keep the marker across a container restart).
    assert not any(m["mountPath"].rstrip("/") == "/tmp" for m in bundle.container["volumeMounts"])


def test_data_is_on_a_volume_claim_template(bundle: Bundle):
    (vct,) = bundle.sts["spec"]["volumeClaimTemplates"]
    name = vct["metadata"]["name"]
    assert vct["spec"]["accessModes"] == ["ReadWriteOnce"]
    mounts = [m["mountPath"] for m in bundle.container["volumeMounts"] if m["name"] == name]
    assert mounts
    assert name not in {v["name"] for v in bundle.pod.get("volumes", [])}
    if bundle.backend == "postgresql":
        pgdata = bundle.env["PGDATA"]
        assert any(pgdata.startswith(m.rstrip("/") + "/") for m in mounts), "PGDATA is not on the volume"
    else:
        home = bundle.env["ALTIBASE_HOME"]
        assert f"{home}/dbs" in mounts and f"{home}/logs" in mounts


def test_no_accidental_kubernetes_variable_expansion(bundle: Bundle):
    """Kubernetes replaces $(NAME) of a defined variable and $$ in command, args and
    env values: the shell code there must use neither."""
    c = bundle.container
    texts = list(c.get("command", [])) + list(c.get("args", []))
    texts += [e.get("value", "") for e in c.get("env", [])]
    texts += c.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", [])
    for t in texts:
        assert "$$" not in t, t
        for name in re.findall(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", t):
            assert name not in bundle.env, f"$({name}) would be replaced by Kubernetes: {t!r}"


# --------------------------------------------------------------------------- aku.conf, Secret, schema

def test_aku_conf_names_the_statefulset_and_service(bundle: Bundle):
    conf = bundle.conf
    assert conf["AKU_STS_NAME"] == bundle.sts["metadata"]["name"]
    assert conf["AKU_SVC_NAME"] == bundle.headless["metadata"]["name"]
    count = int(conf.get("AKU_SERVER_COUNT", 4))
    assert bundle.sts["spec"]["replicas"] <= count <= 6
    assert conf["AKU_BACKEND"] == bundle.backend
    assert "AKU_SYS_PASSWORD" not in conf and "AKU_SYS_PASWWORD" not in conf, "no password in aku.conf"


def test_aku_conf_is_mounted_where_aku_reads_it(bundle: Bundle):
    files = bundle.mounted_files()
    if bundle.backend == "postgresql":
        path = bundle.env["AKU_CONF"]
        assert path == "/etc/aku/aku.conf"
    else:
        assert "AKU_CONF" not in bundle.env
        path = f"{bundle.env['ALTIBASE_HOME']}/conf/aku.conf"
    assert files.get(path) == ("ConfigMap", bundle.conf_map["metadata"]["name"], "aku.conf"), files


def test_the_secret_is_mounted_as_the_password_file(bundle: Bundle):
    secret = bundle.secret
    assert "password" in secret["stringData"]
    assert "data" not in secret
    path = bundle.env["AKU_SYS_PASSWORD_FILE"]
    assert path == "/etc/aku/secret/password"
    assert bundle.mounted_files().get(path) == ("Secret", secret["metadata"]["name"], "password")
    assert bundle.conf.get("AKU_SYS_PASSWORD_FILE", path) == path
    # The password is never given through the environment.
    assert "AKU_SYS_PASSWORD" not in bundle.env
    text = (bundle.folder / "secret.yaml").read_text(encoding="utf-8")
    assert re.search(r"(?i)replace", text), "the Secret says that its placeholder must be replaced"


def test_ports_agree_with_aku_conf(bundle: Bundle):
    conf = bundle.conf
    ports = {p["name"]: p["containerPort"] for p in bundle.container["ports"]}
    port = int(conf.get("AKU_PORT_NO", 20300))
    assert port in ports.values()
    assert [p["port"] for p in bundle.client["spec"]["ports"]] == [port]
    headless = {p["port"] for p in bundle.headless["spec"]["ports"]}
    if bundle.backend == "postgresql":
        assert port == 5432
        assert headless == {port}
        assert f"-p {port}" in probe_command(bundle.container["readinessProbe"])
    else:
        rport = int(conf.get("AKU_REPLICATION_PORT_NO", 20301))
        assert (port, rport) == (20300, 20301)
        assert headless == {port, rport}
        assert set(ports.values()) == {port, rport}
        assert bundle.env["ALTIBASE_PORT_NO"] == str(port)
        assert bundle.env["ALTIBASE_REPLICATION_PORT_NO"] == str(rport)


def test_schema_creates_the_replicated_tables_with_primary_keys(bundle: Bundle):
    cm = bundle.schema_map
    sql = "\n".join(v for k, v in sorted(cm["data"].items()) if k.endswith(".sql"))
    tables = {}
    for m in re.finditer(r"(?is)CREATE\s+TABLE\s+([A-Za-z0-9_.$]+)\s*\((.*?)\);", sql):
        tables[m.group(1).lower()] = m.group(2)
    assert tables, "no CREATE TABLE in the schema"
    for name, body in tables.items():
        assert re.search(r"(?i)PRIMARY\s+KEY", body), f"{name} has no primary key"
    assert replication_items(bundle.conf_text) == set(tables)
    # Mounted where the start runs it from.
    sql_dir = bundle.env["AKU_INIT_SQL_DIR"]
    files = bundle.mounted_files()
    for key in cm["data"]:
        assert files.get(f"{sql_dir}/{key}") == ("ConfigMap", cm["metadata"]["name"], key)


# --------------------------------------------------------------------------- backend specifics

def test_postgresql_runs_the_entrypoint_as_the_dockerfile_copies_it():
    b = load_bundle("postgresql")
    instr = dockerfile_instructions()
    copies = [shlex.split(a) for w, a in instr if w == "COPY"]
    dest = [c[-1] for c in copies if ENTRYPOINT_SRC in c[:-1] and not any(x.startswith("--from") for x in c)]
    assert len(dest) == 1, f"the Dockerfile copies {ENTRYPOINT_SRC} once: {copies}"
    path = dest[0]
    assert path.startswith("/") and not path.endswith("/")
    assert b.container["command"] == [path]
    assert "args" not in b.container
    (entrypoint,) = [json.loads(a) for w, a in instr if w == "ENTRYPOINT"]
    assert entrypoint == [path]
    assert os.access(REPO / ENTRYPOINT_SRC, os.X_OK)


def test_dockerfile_builds_aku_and_runs_as_postgres():
    instr = dockerfile_instructions()
    froms = [a for w, a in instr if w == "FROM"]
    assert len(froms) == 2 and " AS builder" in froms[0]
    args = dict(a.split("=", 1) for w, a in instr if w == "ARG" and "=" in a)
    assert args["POSTGRES_IMAGE"].startswith("postgres:18")
    runs = " ".join(a for w, a in instr if w == "RUN")
    assert "cargo build --release --locked" in runs
    assert "unixodbc-dev" in runs and "odbc-postgresql" in runs and "unixodbc" in runs
    assert "CommLog=0" in runs
    copies = [shlex.split(a) for w, a in instr if w == "COPY"]
    assert ["--from=builder", "/src/target/release/aku", "/usr/local/bin/aku"] in copies
    envs = " ".join(a for w, a in instr if w == "ENV")
    assert "ODBCSYSINI=" in envs
    assert [a for w, a in instr if w == "USER"][-1] == "postgres"
    # The image's defaults agree with the manifest.
    b = load_bundle("postgresql")
    for name in ("PGDATA", "AKU_CONF", "AKU_SYS_PASSWORD_FILE"):
        assert f"{name}={b.env[name]}" in envs


# The ODBC logs that hold the password: psqlODBC's Debug log (mylog_*.log) writes
# the whole connection string, password included; unixODBC's Trace masks `PWD=`
# only up to the first ';' (a braced password with ';' shows its tail). CommLog
# (psqlodbc_*.log) records every statement and message. All three stay off.
def odbcinst_problems(text: str, where: str) -> list[str]:
    """What in an odbcinst.ini turns on a log that could hold the password."""
    import configparser
    ini = configparser.ConfigParser(interpolation=None, strict=False)
    ini.read_string(text)
    def on(value: str) -> bool:
        return value.strip().lower() not in ("0", "no", "off", "false", "")

    problems = []
    if ini.has_section("ODBC") and on(ini["ODBC"].get("trace", "no")):
        problems.append(f"{where}: [ODBC] Trace={ini['ODBC']['trace']}")
    for section in ini.sections():
        for key in ("debug", "commlog"):
            if on(ini[section].get(key, "0")):
                problems.append(f"{where}: [{section}] {key}={ini[section][key]}")
    if not any(ini.has_option(sec, "debug") and ini.has_option(sec, "commlog") for sec in ini.sections()):
        problems.append(f"{where}: no driver section sets Debug=0 and CommLog=0 explicitly")
    return problems


def dockerfile_odbcinst() -> str:
    """The odbcinst.ini the image's RUN writes with printf (its lines, unexpanded)."""
    (run,) = [a for w, a in dockerfile_instructions() if w == "RUN" and "odbcinst.ini" in a]
    m = re.search(r"printf '%s\\n'(.*?)>\"\$ODBCSYSINI/odbcinst\.ini\"", run)
    assert m, run
    return "\n".join(shlex.split(m.group(1))) + "\n"


def setup_odbcinst() -> str:
    """The private odbcinst.ini scripts/setup writes for the tests and the simulator's pods."""
    text = (REPO / "scripts" / "setup").read_text(encoding="utf-8")
    m = re.search(r'^want="(.*?)"$', text, re.DOTALL | re.MULTILINE)
    assert m, "scripts/setup: no want=\"...\" block for odbcinst.ini"
    return m.group(1) + "\n"


def test_odbc_logs_that_could_hold_the_password_stay_off():
    texts = {"deploy/docker/Dockerfile": dockerfile_odbcinst(), "scripts/setup": setup_odbcinst()}
    private = REPO / ".cache" / "odbc" / "odbcinst.ini"
    if private.is_file():
        texts[".cache/odbc/odbcinst.ini"] = private.read_text(encoding="utf-8")
    problems = [p for where, text in texts.items() for p in odbcinst_problems(text, where)]
    assert problems == []
    # The checker itself sees each way of turning a log on.
    bad = "[ODBC]\nTrace=Yes\n[PostgreSQL Unicode]\nDebug=1\nCommLog=1\n"
    assert odbcinst_problems(bad, "x") == [
        "x: [ODBC] Trace=Yes", "x: [PostgreSQL Unicode] debug=1", "x: [PostgreSQL Unicode] commlog=1"]
    # The manifests keep the image's ODBC configuration: nothing points unixODBC elsewhere.
    for backend in BACKENDS:
        env = load_bundle(backend).env
        assert not {"ODBCSYSINI", "ODBCINI", "ODBCINSTINI"} & set(env), f"{backend}: {env}"


def test_altibase_server_settings():
    b = load_bundle("altibase")
    env = b.env
    assert env["ALTIBASE_ADMIN_MODE"] == "1"
    assert env["ALTIBASE_REMOTE_SYSDBA_ENABLE"] == "1"
    assert env["ALTIBASE_REPLICATION_ALLOW_DUPLICATE_HOSTS"] == "1"
    assert env["ALTIBASE_HOME"].startswith("/")
    script = b.container["command"][-1]
    assert '"$ALTIBASE_HOME/bin/aku" -p start' in script
    assert "SUBSTITUTE" in script
    r = subprocess.run(["bash", "-n"], input=script, text=True, capture_output=True, check=False)
    assert r.returncode == 0, r.stderr


def _run_altibase_command(tmp_path: Path, *, aku_start_rc: int) -> tuple[subprocess.Popen, Path]:
    """Runs the Altibase container's command with stand-ins for the server
    commands, aku and isql; every call is appended to calls.log."""
    b = load_bundle("altibase")
    home = tmp_path / "home"
    (home / "bin").mkdir(parents=True)
    (home / "dbs").mkdir()
    calls = tmp_path / "calls.log"
    calls.touch()
    aku = home / "bin" / "aku"
    aku.write_text(f'#!/bin/sh\necho "aku $*" >> {calls}\nexit {aku_start_rc}\n')
    aku.chmod(0o755)
    sql_dir = tmp_path / "initdb.d"
    sql_dir.mkdir()
    (sql_dir / "01-schema.sql").write_text(b.schema_map["data"]["01-schema.sql"])
    pw = tmp_path / "password"
    pw.write_text("pw")
    env = clean_env(**{k: v for k, v in b.env.items()})
    env.update(
        ALTIBASE_HOME=str(home),
        AKU_SYS_PASSWORD_FILE=str(pw),
        AKU_INIT_SQL_DIR=str(sql_dir),
        ALTIBASE_SERVER_START=f"echo server-start >> {calls}",
        ALTIBASE_SERVER_STOP=f"echo server-stop >> {calls}",
        ALTIBASE_RUN_SQL=f'echo "run-sql $(basename "$1")" >> {calls}',
        AKU_RECOVERY_FLAG=str(tmp_path / "recovery-required"),
    )
    proc = subprocess.Popen(b.container["command"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    return proc, calls


def _finish(proc: subprocess.Popen, timeout: float = 20) -> tuple[int, str]:
    try:
        rc = proc.wait(timeout=timeout)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # the background sleep, if any
        except ProcessLookupError:
            pass
    assert proc.stdout is not None
    return rc, proc.stdout.read()


def test_altibase_command_starts_then_stops_on_sigterm(tmp_path: Path):
    proc, calls = _run_altibase_command(tmp_path, aku_start_rc=0)
    deadline = time.monotonic() + 20
    while "aku -p start" not in calls.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    assert proc.poll() is None, "the container must keep running after the start"
    proc.send_signal(signal.SIGTERM)
    rc, out = _finish(proc)
    assert rc == 0, out
    assert calls.read_text().splitlines() == [
        "server-start", "run-sql 01-schema.sql", "aku -p start", "server-stop"], out
    assert (tmp_path / "home" / "dbs" / ".aku-schema-applied").exists()


def test_altibase_command_fails_when_aku_start_fails(tmp_path: Path):
    proc, calls = _run_altibase_command(tmp_path, aku_start_rc=10)
    rc, out = _finish(proc)
    assert rc == 10, out
    assert calls.read_text().splitlines() == [
        "server-start", "run-sql 01-schema.sql", "aku -p start", "server-stop"], out
    assert not (tmp_path / "recovery-required").exists()


def test_altibase_command_keeps_the_server_up_when_recovery_is_required(tmp_path: Path):
    """Exit 7 (MASTER or SLAVE failure): the server stays up for the recovery, and
    the preStop hook then skips `aku -p end`."""
    proc, calls = _run_altibase_command(tmp_path, aku_start_rc=7)
    flag = tmp_path / "recovery-required"
    deadline = time.monotonic() + 20
    while not flag.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert flag.exists() and proc.poll() is None, "the container must keep running"
    pre_stop = load_bundle("altibase").container["lifecycle"]["preStop"]["exec"]["command"]
    env = clean_env(ALTIBASE_HOME=str(tmp_path / "home"), AKU_RECOVERY_FLAG=str(flag))
    assert subprocess.run(pre_stop, env=env, check=False, timeout=30).returncode == 0
    proc.send_signal(signal.SIGTERM)
    rc, out = _finish(proc)
    assert rc == 0, out
    assert "manual recovery required" in out
    assert calls.read_text().splitlines() == [
        "server-start", "run-sql 01-schema.sql", "aku -p start", "server-stop"], out


# --------------------------------------------------------------------------- the real parser

@pytest.mark.parametrize("backend", BACKENDS)
def test_aku_parses_the_shipped_conf(backend: str, tmp_path: Path):
    """`aku -i --config <aku.conf of the ConfigMap>` succeeds on every pod of the
    StatefulSet, and what it parsed agrees with the manifests."""
    b = load_bundle(backend)
    conf = tmp_path / "aku.conf"
    conf.write_text(b.conf_text, encoding="utf-8")
    sts = b.sts["metadata"]["name"]
    for k in range(b.sts["spec"]["replicas"]):
        env = clean_env(AKU_HOSTNAME=f"{sts}-{k}", AKU_SYS_PASSWORD="x")
        r = subprocess.run([aku_bin(), "-i", "--config", str(conf)], env=env,
                           capture_output=True, text=True, timeout=60, check=False)
        assert r.returncode == 0, f"aku -i on {sts}-{k}: exit {r.returncode}\n{r.stdout}\n{r.stderr}"
        assert f"Server ID        : {k}" in r.stdout
    env = clean_env(AKU_HOSTNAME=f"{sts}-0", AKU_SYS_PASSWORD="x")
    r = subprocess.run([aku_bin(), "-i", "--config", str(conf), "--output", "json"], env=env,
                       capture_output=True, text=True, timeout=60, check=False)
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    s = info["settings"]
    assert s["sts_name"] == sts
    assert s["svc_name"] == b.headless["metadata"]["name"]
    assert s["backend"] == backend
    assert info["server"]["host"] == f"{sts}-0.{b.headless['metadata']['name']}"
    assert info["server"]["max_server_count"] >= b.sts["spec"]["replicas"]
    assert info["server"]["port"] in {p["containerPort"] for p in b.container["ports"]}
    items = {f"{i['user']}.{i['table']}".lower() for g in info["groups"] for i in g["items"]}
    assert items == replication_items(b.conf_text)
    # The sizing of the probes and the grace period read these from the file.
    assert s["query_timeout_s"] == int(b.conf["AKU_QUERY_TIMEOUT"])
    assert s["address_check_count"] == int(b.conf["AKU_ADDRESS_CHECK_COUNT"])


# --------------------------------------------------------------------------- in the pod simulator

def test_shipped_postgresql_conf_and_schema_run_in_the_simulator():
    """The PostgreSQL aku.conf and schema exactly as shipped, in the pod simulator
    (sim/, which runs deploy/entrypoint's script, as the image does): three pods
    start in order, rows written on every pod reach every pod, and deleting a pod
    runs `aku -p end` and exits 0. Needs root and scripts/setup, like tests/e2e."""
    if os.geteuid() != 0:
        pytest.skip("the pod simulator needs root")
    from akusim import StatefulSet, sweep_stale  # sim/ is on pytest's pythonpath

    b = load_bundle("postgresql")
    sts, svc = b.sts["metadata"]["name"], b.headless["metadata"]["name"]
    conf = b.conf
    sweep_stale(sts)
    replicas = b.sts["spec"]["replicas"]
    with StatefulSet(sts, svc, int(conf["AKU_SERVER_COUNT"]), b.conf_text,
                     list(b.schema_map["data"].values()), aku_bin=aku_bin()) as s:
        for k in range(replicas):
            s.create_pod(k, timeout=180)
        for k in range(replicas):
            s.psql(k, f"INSERT INTO public.accounts (name) SELECT 'pod {k} row ' || i FROM generate_series(1, 5) i",
                   dbname=conf["AKU_DATABASE"])
            s.psql(k, f"INSERT INTO public.orders (account_id, amount) SELECT gen_random_uuid(), {k} + i "
                      "FROM generate_series(1, 5) i", dbname=conf["AKU_DATABASE"])
        deadline = time.monotonic() + 60
        while True:
            seen = {k: tuple(s.psql(k, f"SELECT count(*), md5(string_agg(id::text, ',' ORDER BY id)) FROM {t}",
                                    dbname=conf["AKU_DATABASE"])[0] for t in ("public.accounts", "public.orders"))
                    for k in range(replicas)}
            if len(set(seen.values())) == 1 and seen[0][0][0] == str(5 * replicas):
                break
            assert time.monotonic() < deadline, f"the pods did not converge: {seen}"
            time.sleep(0.5)
        last = replicas - 1
        assert s.delete_pod(last) == 0, s.pod_log(last)[-2000:]
        assert "aku -p end completed" in s.pod_log(last)
