#!/usr/bin/env bash
# aku-postgres-entrypoint.sh: the entrypoint of a PostgreSQL + aku pod.
#
# The one script shared by the Kubernetes manifests and the pod simulator
# (sim/akusim): the end-to-end tests run exactly this file.
#
#   1. If $PGDATA holds no cluster: initdb (superuser $AKU_SYS_USER, password from
#      $AKU_SYS_PASSWORD_FILE, scram-sha-256 for every connection), then run every
#      *.sql of $AKU_INIT_SQL_DIR (the application schema: tables must exist before
#      aku runs). The cluster is built beside $PGDATA and moved into place only when
#      complete, so a pod killed during initialisation starts over cleanly.
#   2. Write a libpq passfile from the secret (mode 600) and export PGPASSFILE, so
#      the server's logical replication workers authenticate to peers without a
#      password in any catalog.
#   3. Start the server, wait until it accepts connections.
#   4. Run `aku -p start`. If it refuses with "manual recovery required" (exit 7):
#      keep the server running without the marker (the pod stays not ready) so the
#      recovery can be run in the pod, and skip `aku -p end` at SIGTERM.
#      If it fails otherwise: log, stop the server, exit non-zero (the
#      pod restarts).
#   5. Wait on the server. On SIGTERM (or SIGINT): `aku -p end`, stop the server
#      (fast shutdown), exit 0. If the server exits by itself, exit non-zero.
#
# Runs as an unprivileged user (PostgreSQL refuses root). The password never
# appears on a command line.
#
# Environment (defaults in brackets):
#   PGDATA                  data directory, a subfolder of the volume [/var/lib/postgresql/data/pgdata]
#   PG_BIN                  PostgreSQL 18 binaries [dir of `postgres` on PATH, else /usr/lib/postgresql/18/bin]
#   AKU_BIN                 aku executable [aku]
#   AKU_CONF                aku configuration [/etc/aku/aku.conf]
#   AKU_SYS_PASSWORD_FILE   superuser password, e.g. a Secret volume [/etc/aku/secret/password]
#   AKU_SYS_USER            superuser [AKU_SYS_USER of $AKU_CONF, else postgres]
#   AKU_INIT_SQL_DIR        *.sql run once at initdb, in name order [/etc/aku/initdb.d]
#   AKU_DATABASE            database of the schema [AKU_DATABASE of $AKU_CONF, else postgres]
#   PGPORT                  server port [AKU_PORT_NO of $AKU_CONF, else 20300]
#   PG_LISTEN_ADDRESSES     listen_addresses ['*']
#   PG_SOCKET_DIR           unix_socket_directories [/tmp]
#   PG_SERVER_OPTIONS       extra postgresql.conf lines ("name = value", newline separated),
#                           written to $PGDATA/conf.d/10-options.conf at every start
#   PG_INITDB_ARGS          extra initdb arguments (word-split)
#   PG_START_TIMEOUT        seconds to wait for the server to accept connections [300]
#   PG_STOP_TIMEOUT         seconds of fast shutdown before an immediate one [60]
#   AKU_PGPASSFILE          where the passfile is written [/tmp/.aku-pgpass]
#   AKU_END_ON_TERM         1: run `aku -p end` on SIGTERM (0 skips it) [1]
set -uo pipefail

log() { printf '[entrypoint][%s] %s\n' "$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)" "$*"; }
die() { log "ERROR: $*"; exit 1; }

if [ "$(id -u)" -eq 0 ]; then
    die "run as an unprivileged user (PostgreSQL refuses root)"
fi

: "${PGDATA:=/var/lib/postgresql/data/pgdata}"
: "${AKU_BIN:=aku}"
: "${AKU_CONF:=/etc/aku/aku.conf}"
: "${AKU_SYS_PASSWORD_FILE:=/etc/aku/secret/password}"
: "${AKU_INIT_SQL_DIR:=/etc/aku/initdb.d}"
: "${PG_LISTEN_ADDRESSES:=*}"
: "${PG_SOCKET_DIR:=/tmp}"
: "${PG_SERVER_OPTIONS:=}"
: "${PG_INITDB_ARGS:=}"
: "${PG_START_TIMEOUT:=300}"
: "${PG_STOP_TIMEOUT:=60}"
: "${AKU_PGPASSFILE:=/tmp/.aku-pgpass}"
: "${AKU_END_ON_TERM:=1}"
# aku's exit code for "manual recovery required" (docs/exit-codes.md).
AKU_EXIT_RECOVERY_REQUIRED=7
recovery_required=0
if [ -z "${PG_BIN:-}" ]; then
    if command -v postgres >/dev/null 2>&1; then
        PG_BIN="$(dirname "$(command -v postgres)")"
    else
        PG_BIN=/usr/lib/postgresql/18/bin
    fi
fi
export PGDATA PG_BIN AKU_CONF AKU_SYS_PASSWORD_FILE

# conf_get NAME: the value of `NAME = value` in $AKU_CONF (aku.conf or TOML), or nothing.
conf_get() {
    [ -r "$AKU_CONF" ] || return 0
    sed -n -E "s/^[[:space:]]*$1[[:space:]]*=[[:space:]]*[\"']?([^\"'#[:space:]]*)[\"']?.*\$/\\1/p" \
        "$AKU_CONF" | tail -n1
}

[ -x "$PG_BIN/postgres" ] || die "no PostgreSQL server at PG_BIN=$PG_BIN"
[ -r "$AKU_SYS_PASSWORD_FILE" ] || die "cannot read the password file AKU_SYS_PASSWORD_FILE=$AKU_SYS_PASSWORD_FILE"
[ -r "$AKU_CONF" ] || log "warning: cannot read AKU_CONF=$AKU_CONF (aku will fail)"
: "${AKU_SYS_USER:=$(conf_get AKU_SYS_USER)}"
: "${AKU_SYS_USER:=postgres}"
: "${AKU_DATABASE:=$(conf_get AKU_DATABASE)}"
: "${AKU_DATABASE:=postgres}"
: "${PGPORT:=$(conf_get AKU_PORT_NO)}"
: "${PGPORT:=20300}"
export PGPORT

# ------------------------------------------------------------------ signals
term_requested=0
aku_pid=
on_term() {
    if [ "$term_requested" -eq 0 ]; then
        log "termination requested"
    fi
    term_requested=1
    if [ -n "$aku_pid" ]; then
        kill -TERM "$aku_pid" 2>/dev/null
    fi
}
trap on_term TERM INT

# wait_pid PID: waits until PID (a child) has exited, through trapped signals;
# returns its exit status.
wait_pid() {
    local rc
    while :; do
        wait "$1"
        rc=$?
        if [ "$rc" -gt 128 ] && kill -0 "$1" 2>/dev/null; then
            continue
        fi
        wait "$1" 2>/dev/null
        rc=$?
        return "$rc"
    done
}

# ------------------------------------------------------------------ passfile
write_passfile() {
    local pw esc
    pw="$(cat "$AKU_SYS_PASSWORD_FILE")" || die "cannot read $AKU_SYS_PASSWORD_FILE"
    pw="${pw%$'\n'}"
    pw="${pw%$'\r'}"
    [ -n "$pw" ] || die "the password file $AKU_SYS_PASSWORD_FILE is empty"
    esc="${pw//\\/\\\\}"
    esc="${esc//:/\\:}"
    mkdir -p "$(dirname "$AKU_PGPASSFILE")"
    (
        umask 077
        rm -f "$AKU_PGPASSFILE"
        printf '*:*:*:%s:%s\n' "$AKU_SYS_USER" "$esc" >"$AKU_PGPASSFILE"
    ) || die "cannot write $AKU_PGPASSFILE"
    chmod 600 "$AKU_PGPASSFILE"
    export PGPASSFILE="$AKU_PGPASSFILE"
}

# ------------------------------------------------------------------ server
pg_pid=

# start_server DATADIR [postgres options...]: starts postgres in the background.
start_server() {
    local datadir="$1"
    shift
    "$PG_BIN/postgres" -D "$datadir" "$@" &
    pg_pid=$!
}

# wait_ready: until the server accepts connections on its socket.
wait_ready() {
    local deadline=$((SECONDS + PG_START_TIMEOUT))
    while :; do
        if ! kill -0 "$pg_pid" 2>/dev/null; then
            wait_pid "$pg_pid"
            log "the server exited during startup (exit $?)"
            return 1
        fi
        if "$PG_BIN/pg_isready" -q -h "$PG_SOCKET_DIR" -p "$PGPORT" -d postgres -U "$AKU_SYS_USER" 2>/dev/null; then
            return 0
        fi
        if [ "$SECONDS" -ge "$deadline" ]; then
            log "the server did not accept connections within ${PG_START_TIMEOUT}s"
            return 1
        fi
        sleep 0.1
    done
}

# stop_server: fast shutdown, immediate after PG_STOP_TIMEOUT seconds.
stop_server() {
    [ -n "$pg_pid" ] || return 0
    if kill -0 "$pg_pid" 2>/dev/null; then
        log "stopping the server (fast shutdown)"
        kill -INT "$pg_pid" 2>/dev/null
        local deadline=$((SECONDS + PG_STOP_TIMEOUT))
        while kill -0 "$pg_pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do
            sleep 0.1
        done
        if kill -0 "$pg_pid" 2>/dev/null; then
            log "fast shutdown took more than ${PG_STOP_TIMEOUT}s: immediate shutdown"
            kill -QUIT "$pg_pid" 2>/dev/null
        fi
    fi
    wait_pid "$pg_pid"
    pg_pid=
}

# write_server_conf DATADIR: the settings of every start, in DATADIR/conf.d.
write_server_conf() {
    local d="$1"
    mkdir -p "$d/conf.d"
    if ! grep -q "^include_dir = 'conf.d'" "$d/postgresql.conf"; then
        printf "\n# added by aku-postgres-entrypoint.sh\ninclude_dir = 'conf.d'\n" >>"$d/postgresql.conf"
    fi
    cat >"$d/conf.d/00-entrypoint.conf" <<EOF
# Written by aku-postgres-entrypoint.sh at every start; edit PG_SERVER_OPTIONS instead.
listen_addresses = '$PG_LISTEN_ADDRESSES'
port = $PGPORT
unix_socket_directories = '$PG_SOCKET_DIR'
password_encryption = 'scram-sha-256'
wal_level = logical
max_replication_slots = 40
max_wal_senders = 40
max_logical_replication_workers = 40
max_worker_processes = 48
max_sync_workers_per_subscription = 2
EOF
    printf '%s\n' "# Written by aku-postgres-entrypoint.sh from PG_SERVER_OPTIONS at every start." \
        "$PG_SERVER_OPTIONS" >"$d/conf.d/10-options.conf"
}

# ------------------------------------------------------------------ initdb
init_cluster() {
    local tmp="${PGDATA%/}.initializing" f
    log "initialising a new cluster in $PGDATA"
    rm -rf "$tmp" || die "cannot remove $tmp"
    mkdir -p "$(dirname "$tmp")" || die "cannot create $(dirname "$tmp")"
    # shellcheck disable=SC2086
    "$PG_BIN/initdb" -D "$tmp" -U "$AKU_SYS_USER" --pwfile="$AKU_SYS_PASSWORD_FILE" \
        --auth-local=scram-sha-256 --auth-host=scram-sha-256 --no-locale -E UTF8 \
        $PG_INITDB_ARGS >/dev/null || die "initdb failed"
    cat >>"$tmp/pg_hba.conf" <<'EOF'

# added by aku-postgres-entrypoint.sh: password (scram) from the pod network,
# for clients and for the replication connections of peers
host    all             all             0.0.0.0/0               scram-sha-256
host    all             all             ::/0                    scram-sha-256
host    replication     all             0.0.0.0/0               scram-sha-256
host    replication     all             ::/0                    scram-sha-256
EOF
    write_server_conf "$tmp"
    start_server "$tmp" -c listen_addresses=
    wait_ready || { stop_server; die "the server of the new cluster did not start"; }
    local psql=("$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_SOCKET_DIR" -p "$PGPORT" -U "$AKU_SYS_USER")
    if [ "$AKU_DATABASE" != postgres ]; then
        "${psql[@]}" -d postgres -c "CREATE DATABASE \"${AKU_DATABASE//\"/\"\"}\"" \
            || { stop_server; die "cannot create database $AKU_DATABASE"; }
    fi
    if [ -d "$AKU_INIT_SQL_DIR" ]; then
        for f in "$AKU_INIT_SQL_DIR"/*.sql; do
            [ -e "$f" ] || continue
            log "running $f"
            "${psql[@]}" -d "$AKU_DATABASE" -f "$f" || { stop_server; die "$f failed"; }
        done
    else
        log "no AKU_INIT_SQL_DIR ($AKU_INIT_SQL_DIR): no schema created"
    fi
    stop_server
    mv "$tmp" "$PGDATA" || die "cannot move $tmp to $PGDATA"
    log "cluster initialised"
}

# ------------------------------------------------------------------ main
log "PGDATA=$PGDATA port=$PGPORT user=$AKU_SYS_USER database=$AKU_DATABASE $("$PG_BIN/postgres" --version)"
write_passfile

if [ ! -s "$PGDATA/PG_VERSION" ]; then
    if [ -d "$PGDATA" ] && [ -n "$(ls -A "$PGDATA" 2>/dev/null)" ]; then
        die "$PGDATA is not empty but holds no PostgreSQL cluster"
    fi
    rmdir "$PGDATA" 2>/dev/null
    init_cluster
fi

write_server_conf "$PGDATA"
log "starting the server"
start_server "$PGDATA"
if ! wait_ready; then
    stop_server
    exit 1
fi
log "the server accepts connections"

if [ "$term_requested" -eq 0 ]; then
    log "running $AKU_BIN -p start"
    "$AKU_BIN" -p start &
    aku_pid=$!
    wait_pid "$aku_pid"
    rc=$?
    aku_pid=
    if [ "$term_requested" -eq 0 ] && [ "$rc" -eq "$AKU_EXIT_RECOVERY_REQUIRED" ]; then
        # A MASTER or SLAVE failure: keep the server up, not ready (no marker), so
        # that an operator can run the recovery in this pod; never `end` it, which
        # would reset the peers' state the recovery needs.
        recovery_required=1
        log "aku -p start refused: manual recovery required (exit $rc). The server keeps running" \
            "without the start marker; run 'aku -p recover --from N --yes' in this pod (MASTER)" \
            "or the documented recovery, then restart the pod."
    elif [ "$term_requested" -eq 0 ] && [ "$rc" -ne 0 ]; then
        log "aku -p start failed (exit $rc)"
        stop_server
        exit "$rc"
    fi
    [ "$term_requested" -eq 0 ] && [ "$rc" -eq 0 ] && log "aku -p start completed"
fi

while [ "$term_requested" -eq 0 ]; do
    wait "$pg_pid"
    if ! kill -0 "$pg_pid" 2>/dev/null; then
        wait "$pg_pid" 2>/dev/null
        rc=$?
        log "the server exited by itself (exit $rc)"
        [ "$rc" -eq 0 ] && rc=1
        exit "$rc"
    fi
done

# SIGTERM: aku -p end, then stop the server.
trap 'log "already terminating"' TERM INT
if [ "$AKU_END_ON_TERM" = 1 ] && [ "$recovery_required" -eq 0 ]; then
    log "running $AKU_BIN -p end"
    "$AKU_BIN" -p end
    rc=$?
    if [ "$rc" -eq 0 ]; then
        log "aku -p end completed"
    else
        log "aku -p end failed (exit $rc)"
    fi
fi
stop_server
log "stopped"
exit 0
