#!/usr/bin/python3
"""1000 runs leave no zombie behind and no extra descriptor in evd
(/proc/PID/fd counted before and after), and every run is accounted for."""

import os

from evdtest import Evd, check, children_of, fd_table, run_tests, wait_for

N_JOBS = 20
RUNS = 1000


def config(enabled):
    text = "[daemon]\nworkers = 4\n"
    for i in range(N_JOBS):
        cmd = "/bin/true" if i % 4 else "/bin/sh -c 'echo out; echo err >&2; exit 1'"
        text += (f"\n[job:j{i:02d}]\ncommand = {cmd}\nevery = 200ms\noverlap = skip\n"
                 f"enabled = {'yes' if enabled else 'no'}\n")
    return text


def test_many_runs(evd_bin):
    with Evd(evd_bin, config(True), "many") as e:
        base = fd_table(e.pid)
        ends = lambda: e.grep(r"j\d\d\[\d+\]: (finished|failed|stopped)")
        wait_for(lambda: len(ends()) >= RUNS, 120, interval=0.2, what=f"{RUNS} runs")
        # Stop scheduling, let the runs in flight end.
        e.write_config(config(False))
        e.reload()
        started = lambda: len(e.grep(r"j\d\d\[\d+\]: started"))
        wait_for(lambda: len(ends()) == started(), 30, what="every started run to end")
        n = len(ends())
        check(n >= RUNS, f"only {n} runs")
        check(len(e.grep(r"j\d\d\[\d+\]: failed: exit status 1")) >= RUNS // 8, "the failing jobs' ends are missing")
        wait_for(lambda: not children_of(e.pid), 10,
                 what=f"evd to have no children left (has {children_of(e.pid)})")
        now = fd_table(e.pid)
        check(len(now) <= len(base), f"evd had {len(base)} descriptors before {n} runs and {len(now)} after: "
              f"{sorted(set(now.items()) - set(base.items()))}")
        check(e.stop() == 0, f"exit status {e.returncode}")


if __name__ == "__main__":
    run_tests([("many_runs", test_many_runs)])
