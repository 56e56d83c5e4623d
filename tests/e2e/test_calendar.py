#!/usr/bin/python3
"""Calendar schedules fire on the wall clock: `*:*:0/2` runs land on even
seconds (the child records its own start time)."""

from evdtest import Evd, check, read_floats, run_tests, wait_for


def test_even_seconds(evd_bin):
    conf = """
    [job:even]
    command = date +%s.%N >> {OUT}/even
    shell = yes
    calendar = *:*:0/2
    """
    with Evd(evd_bin, conf, "calendar") as e:
        wait_for(lambda: len(read_floats(e.o("even"))) >= 3, 20, what="three runs of *:*:0/2")
        ts = read_floats(e.o("even"))
        for t in ts:
            check(int(t) % 2 == 0, f"a *:*:0/2 run started at {t:.3f}: not an even second ({ts})")
        secs = [int(t) for t in ts]
        check(all(b - a == 2 for a, b in zip(secs, secs[1:])),
              f"runs are not every 2 s: {secs}")
        check(e.stop() == 0, f"exit status {e.returncode}")


def test_cron_minute(evd_bin):
    """A cron job and a calendar job report their next elapse in the status
    dump without running early."""
    conf = """
    [job:cronjob]
    command = date +%s.%N >> {OUT}/cron
    cron = * * * * *
    shell = yes
    """
    with Evd(evd_bin, conf, "cron") as e:
        import time
        import signal
        n = e.log_count()
        e.signal(signal.SIGUSR1)
        e.wait_log(r"cronjob", 1, start=n)
        time.sleep(0.5)
        for t in read_floats(e.o("cron")):
            check(int(t) % 60 == 0, f"a `* * * * *` run started at {t:.3f}: not on a minute")
        check(e.stop() == 0, f"exit status {e.returncode}")


if __name__ == "__main__":
    run_tests([
        ("even_seconds", test_even_seconds),
        ("cron_minute", test_cron_minute),
    ])
