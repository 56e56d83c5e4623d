#!/usr/bin/python3
"""A job as another user may be given a negative nice: evd sets the
priority while it still may (before dropping privileges), so the run starts
at that priority, as that user."""

from evdtest import Evd, check, read_lines, require_root, run_tests, wait_for


def test_negative_nice_as_nobody(evd_bin):
    require_root("user = nobody")
    conf = """
    [job:prio]
    command = sh -c 'echo "$(nice) $(id -u)" > {OUT}/prio'
    user = nobody
    working_directory = /
    nice = -5
    every = 1s
    """
    with Evd(evd_bin, conf, "nice-user") as e:
        wait_for(lambda: read_lines(e.o("prio")), 15, what="the run's priority and uid")
        check(read_lines(e.o("prio")) == ["-5 65534"], f"got {read_lines(e.o('prio'))}, want ['-5 65534']")
        check(not e.grep(r"setpriority"), "a run failed at setpriority")
        check(e.stop() == 0, f"exit status {e.returncode}")


if __name__ == "__main__":
    run_tests([("negative_nice_as_nobody", test_negative_nice_as_nobody)])
