#!/usr/bin/python3
"""Fault: starting a run fails because evd may not create a process
(RLIMIT_NPROC reached).

RLIMIT_NPROC does not bind root, so evd runs as a throw-away user (setpriv)
and the limit is lowered on the running daemon with prlimit(2) to 1: evd's
own threads already count more, so every clone() of a run fails with EAGAIN.

Expected:
  * each due run fails with one clear error line naming the job and the
    reason ("failed to start: ...: Resource temporarily unavailable"),
    logged at err priority like any failed run;
  * evd keeps running and keeps attempting the next due runs (every=1s:
    several failures, not one and then silence);
  * once the limit is lifted, the next runs start and succeed.
Needs root (useradd, setpriv, prlimit on another process)."""

import os

from faultlib import FaultEvd, TempUser, check, prlimit_pid, require_tool, wait_for
from evdtest import read_lines, run_tests


def test_nproc(evd_bin):
    require_tool("setpriv", "prlimit")
    with TempUser() as u:
        conf = """
        [daemon]
        workers = 2
        [job:tick]
        command = {DIR}/tick.sh
        every = 1s
        """
        script = """
        date +%s.%N >> {OUT}/ticks
        """
        with FaultEvd(evd_bin, conf, "nproc", run_as=u, scripts={"tick.sh": script}) as e:
            wait_for(lambda: len(read_lines(e.o("ticks"))) >= 2, 20, what="two runs before the limit")
            hard = open(f"/proc/{e.pid}/limits").read().split("Max processes")[1].split()[1]
            prlimit_pid(e.pid, "nproc", 1, as_user=u)
            start = e.log_count()
            fails = e.wait_log(r"tick\[.*failed.*(failed to start|Resource temporarily unavailable)", count=3,
                               start=start, timeout=30)
            check(any("Resource temporarily unavailable" in l or "EAGAIN" in l for l in fails),
                  f"the failure does not say why: {fails[0]}")
            e.check_alive("while it could not create processes ")
            n_before = len(read_lines(e.o("ticks")))
            prlimit_pid(e.pid, "nproc", hard, as_user=u)
            after = e.log_count()
            e.wait_log(r"tick\[.*finished", count=2, start=after, timeout=30)
            wait_for(lambda: len(read_lines(e.o("ticks"))) >= n_before + 2, 20, what="runs after the limit is lifted")
            rc, out, err = e.ctl("status", "tick")
            check(rc == 0, f"evdctl status after the fault: {rc} {out} {err}")
            check(e.stop() == 0, f"exit status {e.returncode}")


if __name__ == "__main__":
    run_tests([("nproc", test_nproc)])
