#!/usr/bin/python3
"""retries = N, retry_delay = D: a failed run is retried N times, the delay
doubling each time (D, 2D, 4D), with the attempt numbers in the log; a
success ends the retries; end-of-run entries carry the attempt."""

import re

from evdtest import Evd, check, read_floats, read_lines, run_tests, wait_for


def test_backoff(evd_bin):
    conf = """
    [job:fails]
    command = date +%s.%N >> {OUT}/fails; exit 3
    shell = yes
    cron = @reboot
    retries = 3
    retry_delay = 300ms

    [job:third]
    command = echo x >> {OUT}/third; test $(wc -l < {OUT}/third) -ge 3
    shell = yes
    cron = @reboot
    retries = 5
    retry_delay = 100ms
    """
    with Evd(evd_bin, conf, "retries") as e:
        e.wait_log(r"fails\[\d+\]: failed: exit status 3", 4, timeout=20)
        e.wait_log(r"third\[\d+\]: finished: exit status 0", 1, timeout=20)
        ts = read_floats(e.o("fails"))
        check(len(ts) == 4, f"expected 4 attempts (1 + 3 retries), got {len(ts)}")
        gaps = [b - a for a, b in zip(ts, ts[1:])]
        for k, g in enumerate(gaps):
            want = 0.3 * 2 ** k
            check(g >= want - 0.02, f"retry {k + 1} came {g:.3f}s after the failure, before retry_delay*2^{k}={want}s")
        check(gaps[2] > gaps[0] * 2, f"the delay does not grow exponentially: {gaps}")
        for k in (1, 2, 3):
            check(e.grep(rf"fails\[\d+\]: retry {k} of 3 in {['300ms', '600ms', '1[.s]'][k - 1]}"),
                  f"`retry {k} of 3` not logged:\n" + "\n".join(e.grep("fails")))
        for k in (2, 3, 4):
            check(e.grep(rf"fails\[\d+\]: started \(pid \d+, attempt {k} of 4\)"),
                  f"attempt {k} of 4 not logged")
        check(not e.grep(r"fails\[\d+\]: retry 4"), "a fourth retry was scheduled")
        # A success ends the retries.
        check(len(read_lines(e.o("third"))) == 3, f"`third` ran {len(read_lines(e.o('third')))} times, expected 3")
        check(e.grep(r"third\[\d+\]: started \(pid \d+, attempt 3 of 6\)"), "attempt 3 of 6 not logged")
        # Nothing more comes.
        check(e.stop() == 0, f"exit status {e.returncode}")
        check(len(read_floats(e.o("fails"))) == 4, "a retry ran after the last one")


def test_schedule_supersedes_retry(evd_bin):
    conf = """
    [job:flaky]
    command = /bin/false
    every = 1s
    retries = 2
    retry_delay = 1h
    """
    with Evd(evd_bin, conf, "supersede") as e:
        e.wait_log(r"flaky\[\d+\]: retry 1 of 2 in 1h", 1)
        e.wait_log(r"flaky: pending retry dropped: a scheduled run is due", 1)
        e.wait_log(r"flaky\[\d+\]: failed: exit status 1", 2)
        check(not e.grep(r"flaky\[\d+\]: started \(pid \d+, attempt 2"), "the dropped retry ran")
        check(e.stop() == 0, f"exit status {e.returncode}")


if __name__ == "__main__":
    run_tests([
        ("backoff", test_backoff),
        ("schedule_supersedes_retry", test_schedule_supersedes_retry),
    ])
