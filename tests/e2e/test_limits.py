#!/usr/bin/python3
"""The `workers` limit and its queue order, persistent= across a restart,
jitter, nice, enabled = no, shutdown during a retry wait, and evd's
descriptors not growing with the number of jobs."""

import os
import time

from evdtest import Evd, check, fd_table, read_floats, read_lines, run_tests, wait_for


def test_workers_limit(evd_bin):
    jobs = "".join(f"""
    [job:w{i}]
    command = {{DIR}}/slow.sh w{i}
    cron = @reboot
    """ for i in range(5))
    script = """
    echo "start $1 $(date +%s.%N)" >> {OUT}/runs
    sleep 0.6
    echo "end $1 $(date +%s.%N)" >> {OUT}/runs
    """
    with Evd(evd_bin, "[daemon]\nworkers = 2\n" + jobs, "workers", scripts={"slow.sh": script}) as e:
        wait_for(lambda: len([l for l in read_lines(e.o("runs")) if l.startswith("end")]) == 5, 20,
                 what="all five runs to end")
        events = sorted((float(t), kind, name) for kind, name, t in (l.split() for l in read_lines(e.o("runs"))))
        running, most = 0, 0
        for _, kind, _ in events:
            running += 1 if kind == "start" else -1
            most = max(most, running)
        check(most <= 2, f"{most} runs at once with workers = 2")
        starts = [name for _, kind, name in events if kind == "start"]
        # First come, first served (two that start together may race).
        check(set(starts[:2]) == {"w0", "w1"} and set(starts[2:4]) == {"w2", "w3"} and starts[4] == "w4",
              f"runs did not start in the order they were due: {starts}")
        check(len(e.grep(r"w\d\[\d+\]: waiting for a free worker")) == 3, "waiting runs were not logged")
        check(e.stop() == 0, f"exit status {e.returncode}")


def test_persistent_restart(evd_bin):
    conf = """
    [job:pers]
    command = date +%s.%N >> {OUT}/pers
    shell = yes
    every = 2s
    persistent = yes
    [job:plain]
    command = date +%s.%N >> {OUT}/plain
    shell = yes
    every = 2s
    """
    with Evd(evd_bin, conf, "persistent") as e:
        wait_for(lambda: read_lines(e.o("pers")) and read_lines(e.o("plain")), 10, what="the first runs")
        check(e.stop() == 0, f"exit status {e.returncode}")
        check(os.path.exists(os.path.join(e.state_dir, "state")), "no state file written")
        n_pers, n_plain = len(read_lines(e.o("pers"))), len(read_lines(e.o("plain")))
        time.sleep(2.5)  # a run of each is missed
        n_log = e.log_count()
        e.start()
        e.wait_log(r"pers: missed a run while evd was down: running it now", 1, start=n_log)
        wait_for(lambda: len(read_lines(e.o("pers"))) > n_pers, 10, what="the catch-up run")
        caught_up = read_floats(e.o("pers"))[n_pers] - e.ready_realtime()
        check(caught_up < 1.5, f"the catch-up run came {caught_up:.2f}s after the restart, not at once")
        check(len(read_lines(e.o("plain"))) == n_plain, "a job without persistent= caught up")
        check(not e.grep(r"plain: missed a run", n_log), "a job without persistent= caught up")
        check(e.stop() == 0, f"exit status {e.returncode}")


def test_jitter_nice_disabled(evd_bin):
    conf = """
    [job:jit]
    command = date +%s.%N >> {OUT}/jit
    shell = yes
    every = 1s
    jitter = 400ms
    [job:nice]
    command = nice
    cron = @reboot
    nice = 7
    [job:off]
    command = touch {OUT}/off
    every = 1s
    enabled = no
    """
    with Evd(evd_bin, conf, "jitter") as e:
        ready = e.ready_realtime()
        wait_for(lambda: len(read_lines(e.o("jit"))) >= 3, 15, what="three jittered runs")
        for k, t in enumerate(read_floats(e.o("jit"))[:3]):
            check(t - e.launch_rt >= k + 1, f"jittered run {k} at {t - e.launch_rt:.3f}s: before its deadline")
            check(t - ready < k + 1 + 0.4 + 0.5, f"jittered run {k} at {t - ready:.3f}s: later than deadline + jitter")
        e.wait_log(r"^info: nice\[\d+\]: 7$", 1)
        check(not os.path.exists(e.o("off")), "a job with enabled = no ran")
        check(e.stop() == 0, f"exit status {e.returncode}")


def test_shutdown_during_retry_wait(evd_bin):
    conf = """
    [job:fail]
    command = /bin/false
    cron = @reboot
    retries = 3
    retry_delay = 1h
    """
    with Evd(evd_bin, conf, "retrywait") as e:
        e.wait_log(r"fail\[\d+\]: retry 1 of 3 in 1h", 1)
        check(e.stop(20) == 0, f"exit status {e.returncode}")
        check(not e.grep(r"fail\[\d+\]: started \(pid \d+, attempt 2"), "a retry ran during shutdown")


def test_fds_do_not_grow_with_jobs(evd_bin):
    def conf(n):
        return "[daemon]\nworkers = 2\n" + "".join(
            f"\n[job:j{i:05d}]\ncommand = /bin/true\n{'every = 1h' if i % 2 else 'calendar = *-*-* 03:00:00'}\n"
            for i in range(n))
    n_many = 20000
    with Evd(evd_bin, conf(1), "fds-1") as one:
        fds_one = len(fd_table(one.pid))
        check(one.stop() == 0, f"exit status {one.returncode}")
    with Evd(evd_bin, conf(n_many), "fds-many") as many:
        fds_many = len(fd_table(many.pid))
        check(fds_many == fds_one, f"evd holds {fds_one} descriptors with 1 job and {fds_many} with {n_many}")
        many.reload()
        check(len(fd_table(many.pid)) == fds_one, "a reload of many jobs left descriptors behind")
        check(many.stop() == 0, f"exit status {many.returncode}")


if __name__ == "__main__":
    run_tests([
        ("workers_limit", test_workers_limit),
        ("persistent_restart", test_persistent_restart),
        ("jitter_nice_disabled", test_jitter_nice_disabled),
        ("shutdown_during_retry_wait", test_shutdown_during_retry_wait),
        ("fds_do_not_grow_with_jobs", test_fds_do_not_grow_with_jobs),
    ])
