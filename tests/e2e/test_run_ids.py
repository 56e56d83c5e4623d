#!/usr/bin/python3
"""Run ids (EVD_RUN, in the journal and in the job's environment) do not
repeat when evd is restarted, so a journal query for one run never mixes
two runs."""

import time

from evdtest import Evd, check, read_lines, run_tests, wait_for


def test_unique_across_restarts(evd_bin):
    conf = """
    [job:id]
    command = sh -c 'echo $EVD_RUN >> {OUT}/ids'
    every = 1s
    """
    with Evd(evd_bin, conf, "run-ids") as e:
        wait_for(lambda: len(read_lines(e.o("ids"))) >= 2, 15, what="two runs")
        check(e.stop() == 0, f"exit status {e.returncode}")
        first = [int(x) for x in read_lines(e.o("ids"))]
        time.sleep(1.1)  # a later start second
        e.start()
        wait_for(lambda: len(read_lines(e.o("ids"))) >= len(first) + 2, 15, what="two runs after the restart")
        check(e.stop() == 0, f"exit status {e.returncode}")
        ids = [int(x) for x in read_lines(e.o("ids"))]
        second = ids[len(first):]
        check(len(set(ids)) == len(ids), f"a run id repeats: {ids}")
        check(min(second) > max(first), f"ids after the restart {second} not above those before {first}")
        check(all(b == a + 1 for a, b in zip(first, first[1:])), f"ids of one start not consecutive: {first}")


if __name__ == "__main__":
    run_tests([("unique_across_restarts", test_unique_across_restarts)])
