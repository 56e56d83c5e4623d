#!/usr/bin/python3
"""Shutdown: SIGTERM waits for runs in flight, ends them past
shutdown_timeout (SIGTERM, then SIGKILL after kill_grace), a second SIGTERM
skips the wait, SIGINT does the same as SIGTERM, a SIGHUP during shutdown is
refused."""

import signal
import time

from evdtest import Evd, check, pid_alive, pid_exists, read_file, run_tests, wait_for


def test_sigterm_waits_for_run(evd_bin):
    conf = """
    [daemon]
    shutdown_timeout = 1min
    [job:slow]
    command = sleep 2 && echo done > {OUT}/done
    shell = yes
    cron = @reboot
    """
    with Evd(evd_bin, conf, "term-wait") as e:
        e.wait_log(r"slow\[\d+\]: started", 1)
        t0 = time.monotonic()
        e.signal(signal.SIGTERM)
        e.notify.wait("STOPPING", "1")
        st = e.wait_exit(30)
        check(st == 0, f"evd exited with {st}")
        # The stop timeout is extended by shutdown_timeout + kill_grace + 10 s
        # (1min + 5s + 10s), so a unit's TimeoutStopSec= cannot cut it short.
        check(e.notify.find("EXTEND_TIMEOUT_USEC", "75000000") is not None,
              f"no EXTEND_TIMEOUT_USEC=75000000 while runs finish: {e.notify.all()}")
        check(read_file(e.o("done"), "").strip() == "done", "evd exited before its running job finished")
        check(time.monotonic() - t0 >= 0.3, "evd did not wait for the run")
        check(e.grep(r"slow\[\d+\]: finished: exit status 0"), "the run's end was not logged")



def test_sigterm_past_shutdown_timeout(evd_bin):
    conf = """
    [daemon]
    shutdown_timeout = 1s
    kill_grace = 1s
    [job:sleeper]
    command = echo $$ > {OUT}/sleeper && exec sleep 100
    shell = yes
    cron = @reboot
    [job:stubborn]
    command = trap '' TERM; echo $$ > {OUT}/stubborn; while :; do sleep 0.2; done
    shell = yes
    cron = @reboot
    """
    with Evd(evd_bin, conf, "term-timeout") as e:
        wait_for(lambda: read_file(e.o("sleeper")) and read_file(e.o("stubborn")), 10, what="both jobs to start")
        p1 = int(read_file(e.o("sleeper")))
        p2 = int(read_file(e.o("stubborn")))
        t0 = time.monotonic()
        e.signal(signal.SIGTERM)
        time.sleep(0.5)
        check(pid_alive(p1) and pid_alive(p2), "runs were ended before shutdown_timeout")
        st = e.wait_exit(30)
        took = time.monotonic() - t0
        check(st == 0, f"evd exited with {st}")
        check(took >= 1.9, f"evd exited {took:.2f}s after SIGTERM: before shutdown_timeout + kill_grace")
        check(not pid_exists(p1), f"job process {p1} survived evd")
        check(not pid_exists(p2), f"job process {p2} (ignores SIGTERM) survived evd")
        check(e.grep(r"sleeper\[\d+\]: stopped: killed by signal TERM \(cancelled\)"), "sleeper's end not logged as SIGTERM")
        check(e.grep(r"stubborn\[\d+\]: stopped: killed by signal KILL \(cancelled\)"), "stubborn's end not logged as SIGKILL")



def test_second_sigterm(evd_bin):
    conf = """
    [daemon]
    shutdown_timeout = 1min
    kill_grace = 1s
    [job:sleeper]
    command = echo $$ > {OUT}/sleeper && exec sleep 100
    shell = yes
    cron = @reboot
    """
    with Evd(evd_bin, conf, "term-twice") as e:
        wait_for(lambda: read_file(e.o("sleeper")), 10, what="the job to start")
        pid = int(read_file(e.o("sleeper")))
        e.signal(signal.SIGTERM)
        e.wait_log(r"Shutting down", 1)
        check(pid_alive(pid), "the run was ended at the first SIGTERM")
        e.signal(signal.SIGTERM)
        check(e.wait_exit(20) == 0, f"evd exited with {e.returncode}")
        check(not pid_exists(pid), "the run survived")



def test_sighup_during_shutdown(evd_bin):
    """A reload while shutting down is refused: no RELOADING=1 or READY=1
    after STOPPING=1, and the shutdown goes on."""
    conf = """
    [job:slow]
    command = sleep 1.5
    cron = @reboot
    [job:other]
    command = /bin/true
    every = 1s
    """
    with Evd(evd_bin, conf, "hup-stop") as e:
        e.wait_log(r"slow\[\d+\]: started", 1)
        e.signal(signal.SIGTERM)
        i = e.notify.wait("STOPPING", "1")
        e.signal(signal.SIGHUP)
        e.wait_log(r"[Rr]eload.*(ignored|refused)", 1)
        check(e.wait_exit(20) == 0, f"exit status {e.returncode}")
        after = [m for _, m in e.notify.all()[i + 1:]]
        check(not any("READY" in m or "RELOADING" in m for m in after), f"after STOPPING=1 evd sent {after}")
        check(not e.grep(r"other\[\d+\]: started"), "a job started during shutdown")



def test_sigint_auto_log_target(evd_bin):
    """--log-target auto without $JOURNAL_STREAM logs plain lines on stderr;
    SIGINT is a graceful shutdown like SIGTERM."""
    conf = """
    [job:hello]
    command = /bin/echo hello from a job
    cron = @reboot
    """
    with Evd(evd_bin, conf, "sigint", start=False) as e:
        e.log_target = "auto"
        e.start()
        e.wait_log(r"^info: hello\[\d+\]: hello from a job$", 1)
        e.signal(signal.SIGINT)
        check(e.wait_exit(20) == 0, f"exit status {e.returncode} after SIGINT")
        check(e.notify.find("STOPPING", "1") is not None, "no STOPPING=1 on SIGINT")


if __name__ == "__main__":
    run_tests([
        ("sigterm_waits_for_run", test_sigterm_waits_for_run),
        ("sigterm_past_shutdown_timeout", test_sigterm_past_shutdown_timeout),
        ("second_sigterm", test_second_sigterm),
        ("sighup_during_shutdown", test_sighup_during_shutdown),
        ("sigint_auto_log_target", test_sigint_auto_log_target),
    ])
