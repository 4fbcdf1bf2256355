"""End-to-end: behaviour of the fixed original aku (Altibase patch notes) on real
PostgreSQL pods: the master's `end` keeps its restart points (BUG-50259, BUG-50503)."""

from __future__ import annotations

from helpers import TABLES, aku_objects, wait_identical, write_rows


def test_master_end_keeps_restart_points_and_its_restart_receives_what_the_slaves_wrote(sts):
    sts.scale(3)
    for k in range(3):
        write_rows(sts, k, base=1000 * (k + 1))
    wait_identical(sts, range(3), expect_rows={t: 60 for t in TABLES})

    # The master's preStop `end`: flush and stop, no reset anywhere.
    assert sts.delete_pod(0) == 0
    log = sts.pod_log(0)
    assert "Stop replications." in log and "Reset replications." not in log, log
    for k in (1, 2):
        objs = aku_objects(sts, k)
        assert f"aku_rep_0{k}" in objs["slots"], f"pod {k} keeps the master's slot: {objs}"
        assert f"aku_rep_0{k}" not in objs["enabled"], objs

    # The slaves keep writing while pod 0 is away.
    write_rows(sts, 1, base=11000)
    write_rows(sts, 2, base=12000)
    rc, out, _ = sts.aku(1, "-s")
    assert rc == 13 and "master absent: log retained for its return" in out, out

    # Pod 0 returns on its volume: a non-reset start that receives the slaves' rows.
    sts.restart_pod(0)
    log = sts.pod_log(0)
    # start, end (the original's end announces the role too, manual example 4), start again
    assert log.count("AKU started with START option.") == 2 and log.count("Start as MASTER Pod.") == 3, log
    assert "The MASTER server is detected to have failed" not in log
    write_rows(sts, 0, base=10000)
    wait_identical(sts, range(3), expect_rows={t: 120 for t in TABLES})

    # A slave restarted afterwards (crash, no end) resumes without refusal or copy.
    sts.kill_pod(2)
    write_rows(sts, 1, base=21000)
    sts.restart_pod(2)
    log2 = sts.pod_log(2)
    assert "detected to have failed" not in log2
    assert log2.count("Sync tables from MASTER Server.") == 1, "the restart is not a join"
    wait_identical(sts, range(3), expect_rows={t: 140 for t in TABLES})
    rc, out, _ = sts.aku(0, "-s")
    assert rc == 0, out
