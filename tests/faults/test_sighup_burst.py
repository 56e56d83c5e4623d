#!/usr/bin/python3
"""Fault: 1000 SIGHUPs in a burst.

The configuration is changed (a job added) and then 1000 SIGHUPs are sent
as fast as the test can send them, while an every=1s job runs.

Expected:
  * evd survives; pending SIGHUPs coalesce (a signalfd holds one of each),
    so it reloads at most once per SIGHUP and at least once after the last;
  * it ends with the new configuration loaded (the added job is listed and
    runs), RELOADING=1/READY=1 pairs stay balanced, the last message READY=1;
  * the every=1s job keeps its schedule: it goes on running, never early
    (runs at least ~1 s apart, the phase kept);
  * no growth: after the burst evd has no more descriptors and threads
    than before it.
"""

import os
import signal
import time

from faultlib import FaultEvd, check, n_fds, n_threads, wait_for
from evdtest import read_floats, read_lines, run_tests

CONF = """
[daemon]
workers = 2
[job:tick]
command = {DIR}/tick.sh
every = 1s
"""

ADDED = """
[job:added]
command = {DIR}/added.sh
every = 1s
"""


def quiet_min(f, n=10):
    vals = []
    for _ in range(n):
        vals.append(f())
        time.sleep(0.1)
    return min(vals)


def test_sighup_burst(evd_bin):
    scripts = {"tick.sh": "date +%s.%N >> {OUT}/ticks\n", "added.sh": "date +%s.%N >> {OUT}/added\n"}
    with FaultEvd(evd_bin, CONF, "hupburst", scripts=scripts) as e:
        wait_for(lambda: len(read_lines(e.o("ticks"))) >= 2, 20, what="two runs before the burst")
        fds0, thr0 = quiet_min(lambda: n_fds(e.pid)), quiet_min(lambda: n_threads(e.pid))
        e.write_config(CONF + ADDED)
        n0 = len(e.notify.all())
        start = e.log_count()
        for i in range(1000):
            os.kill(e.pid, signal.SIGHUP)
            if i % 100 == 99:
                e.check_alive(f"after {i + 1} SIGHUPs ")
        t_burst = time.time()
        # The last reload ends with READY=1 and nothing after it.
        # STATUS= alone follows every run's start and end: only the
        # RELOADING/READY messages count (the poll may well miss the short
        # window in which READY=1 is the very last message of all).
        def settled():
            msgs = [m for _, m in e.notify.all()[n0:] if "RELOADING" in m or "READY" in m]
            if not msgs:
                return False
            rel = sum(1 for m in msgs if m.get("RELOADING") == "1")
            rdy = sum(1 for m in msgs if m.get("READY") == "1")
            return rel >= 1 and rel == rdy and msgs[-1].get("READY") == "1"
        wait_for(settled, 60, what="the reloads to settle with READY=1")
        e.check_alive("after the burst ")
        n_reloads = len(e.grep(r"Configuration reloaded", start))
        check(1 <= n_reloads <= 1000, f"{n_reloads} reloads for 1000 SIGHUPs")
        check(not e.grep(r"(?i)reload failed", start), "a reload failed:\n" + e.log_tail())

        rc, out, err = e.ctl("list")
        check(rc == 0 and "added" in out and "tick" in out, f"evdctl list after the burst: {rc} {out} {err}")
        wait_for(lambda: len(read_lines(e.o("added"))) >= 2, 20, what="the added job to run")
        n = len(read_lines(e.o("ticks")))
        wait_for(lambda: len(read_lines(e.o("ticks"))) >= n + 3, 20, what="tick to go on after the burst")
        ticks = read_floats(e.o("ticks"))
        # The k-th run is due k seconds after evd started (later if one was
        # skipped), never earlier.
        early = [(k, round(t - e.launch_rt, 3)) for k, t in enumerate(ticks, 1) if t < e.launch_rt + k - 0.01]
        check(not early, f"tick ran early (run k at less than k s after start): {early}")

        fds1 = wait_for(lambda: (lambda v: v if v <= fds0 else None)(quiet_min(lambda: n_fds(e.pid), 5)), 20,
                        what=f"descriptors back to {fds0} (now {n_fds(e.pid)})")
        thr1 = quiet_min(lambda: n_threads(e.pid))
        check(thr1 <= thr0, f"threads grew from {thr0} to {thr1}")
        print(f"1000 SIGHUPs: {n_reloads} reloads; fds {fds0} -> {fds1}, threads {thr0} -> {thr1}")
        check(e.stop() == 0, f"exit status {e.returncode}")


if __name__ == "__main__":
    run_tests([("sighup_burst", test_sighup_burst)])
