//! The exit codes of `aku`: one documented table, so that pod scripts and probes
//! can branch on them. `docs/exit-codes.md` repeats this table; keep both in step.
//!
//! Codes are stable: a released number never changes meaning.

/// The procedure (or `-i`, `-v`, `-h`) completed.
pub const SUCCESS: i32 = 0;
/// An unexpected internal error (a bug, or an I/O error outside any procedure).
pub const INTERNAL: i32 = 1;
/// The command line is wrong (unknown flag, modes combined, missing value). clap's own code.
pub const USAGE: i32 = 2;
/// aku.conf (or the password file it names) is missing, unreadable or invalid. Nothing was changed.
pub const CONFIG: i32 = 3;
/// The hostname is not `<AKU_STS_NAME>-<N>` with `N < AKU_SERVER_COUNT`. Nothing was changed.
pub const IDENTITY: i32 = 4;
/// This pod's own server did not answer within `AKU_ADDRESS_CHECK_COUNT` attempts. Nothing was changed.
pub const LOCAL_UNREACHABLE: i32 = 5;
/// `-p start` refused: `/tmp/aku_start_completed` exists (start already ran). Nothing was changed.
pub const DUPLICATE_START: i32 = 6;
/// Refused: the master or a slave has lost its replication state and needs manual
/// recovery (or `-p recover`). Nothing was changed.
pub const RECOVERY_REQUIRED: i32 = 7;
/// Refused: a procedure needs a peer that is not reachable (a fresh slave whose
/// master pod is absent, `reset --peer N` while pod N answers). Nothing was changed.
pub const PEER_REQUIRED: i32 = 8;
/// Refused by a backend precondition (missing table, no primary key, `wal_level`
/// not `logical`, ...). Nothing was changed.
pub const PRECONDITION: i32 = 9;
/// A step of the procedure failed after its retries. What ran before it stays;
/// running the same command again repairs and completes it.
pub const STEP_FAILED: i32 = 10;
/// The procedure completed on this pod and every reachable peer, but at least one
/// peer that resolved did not answer in time; its side was not changed.
pub const PEER_UNANSWERED: i32 = 11;
/// Interrupted by SIGTERM/SIGINT: the current step finished, the rest did not run.
/// Running the same command again completes it.
pub const INTERRUPTED: i32 = 12;
/// `--status` found at least one problem (orphan, stopped replication, lag above threshold).
pub const STATUS_PROBLEM: i32 = 13;
/// This pod's server refused aku's login (wrong password or user). Not retried; nothing was changed.
pub const LOGIN_REFUSED: i32 = 14;
/// The ODBC driver (`AKU_ODBC_DRIVER`) is missing or cannot be loaded. Nothing was changed.
pub const DRIVER_UNAVAILABLE: i32 = 15;

/// Every code with its name and meaning, in order (used by `docs/` tests).
pub const TABLE: &[(i32, &str, &str)] = &[
    (SUCCESS, "SUCCESS", "the command completed"),
    (INTERNAL, "INTERNAL", "unexpected internal error"),
    (USAGE, "USAGE", "wrong command line"),
    (CONFIG, "CONFIG", "configuration missing, unreadable or invalid; nothing changed"),
    (IDENTITY, "IDENTITY", "hostname is not <AKU_STS_NAME>-<N> with N < AKU_SERVER_COUNT; nothing changed"),
    (LOCAL_UNREACHABLE, "LOCAL_UNREACHABLE", "this pod's server did not answer; nothing changed"),
    (DUPLICATE_START, "DUPLICATE_START", "start already ran (marker file exists); nothing changed"),
    (RECOVERY_REQUIRED, "RECOVERY_REQUIRED", "master or slave failure detected; manual recovery or -p recover needed; nothing changed"),
    (PEER_REQUIRED, "PEER_REQUIRED", "a peer the procedure needs is absent (or present when it must be gone); nothing changed"),
    (PRECONDITION, "PRECONDITION", "backend precondition not met (tables, keys, server settings); nothing changed"),
    (STEP_FAILED, "STEP_FAILED", "a step failed after its retries; run the command again to complete"),
    (PEER_UNANSWERED, "PEER_UNANSWERED", "done, but a resolvable peer did not answer; its side is unchanged"),
    (
        INTERRUPTED,
        "INTERRUPTED",
        "stopped by a signal: running statements finished, running waits ended; run the command again to complete",
    ),
    (STATUS_PROBLEM, "STATUS_PROBLEM", "--status flagged a problem"),
    (LOGIN_REFUSED, "LOGIN_REFUSED", "this pod's server refused aku's login (password or user); not retried; nothing changed"),
    (DRIVER_UNAVAILABLE, "DRIVER_UNAVAILABLE", "the ODBC driver is missing or cannot be loaded; nothing changed"),
];

#[cfg(test)]
mod tests {
    #[test]
    fn the_documented_table_is_this_table() {
        let doc = include_str!("../docs/exit-codes.md");
        for (code, name, meaning) in super::TABLE {
            let row = format!("| {code} | `{name}` | {meaning} |");
            assert!(doc.contains(&row), "docs/exit-codes.md lacks the row {row}");
        }
    }
}
