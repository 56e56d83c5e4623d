#!/usr/bin/python3
"""The spine of evd: jobs run on time, sd_notify (READY, RELOADING, STOPPING,
STATUS, WATCHDOG), SIGUSR1, descriptors and zombies, a hostile start (signals
ignored, stdio closed). Shutdown: test_shutdown.py."""

import os
import signal
import time

from evdtest import (Evd, check, children_of, fd_table, pid_alive, pid_exists, proc_stat, read_file,
                     read_floats, read_lines, run_tests, wait_for)


def test_every_on_time(evd_bin):
    conf = """
    [daemon]
    workers = 2
    [job:tick]
    command = date +%s.%N >> {OUT}/tick
    shell = yes
    every = 1s
    """
    with Evd(evd_bin, conf, "every") as e:
        ready_rt = e.ready_realtime()
        wait_for(lambda: len(read_lines(e.o("tick"))) >= 4, 15, what="4 runs of an every=1s job")
        ts = read_floats(e.o("tick"))
        # The first run comes one interval after the start, not before.
        check(ts[0] - e.launch_rt >= 1.0, f"first run {ts[0] - e.launch_rt:.3f}s after evd was started: early")
        check(ts[0] - ready_rt < 5, f"first run {ts[0] - ready_rt:.3f}s after READY=1, expected ~1s")
        # Deadlines are previous deadline + interval: no drift, never early.
        # "Early" is judged against the schedule (run k is due k + 1
        # intervals after evd armed its timers, which is after it was
        # launched), not against run 0's start: under valgrind one start
        # may be late by more than the next one is.
        for k in range(1, len(ts)):
            d = ts[k] - ts[0]
            check(ts[k] - e.launch_rt >= k + 1.0,
                  f"run {k} started {ts[k] - e.launch_rt:.3f}s after evd was started: early")
            check(d < k + 0.9, f"run {k} started {d:.3f}s after run 0: the schedule drifts")
        e.wait_log(r"tick\[\d+\]: finished: exit status 0", 3)
        st = e.stop()
        check(st == 0, f"evd exited with {st} after SIGTERM")
        check(e.notify.find("STOPPING", "1") is not None, "no STOPPING=1")


def test_notify(evd_bin):
    conf = """
    [job:a]
    command = /bin/true
    every = 1s
    [job:b]
    command = /bin/true
    every = 1h
    """
    with Evd(evd_bin, conf, "notify") as e:
        msgs = e.notify.all()
        ready = msgs[e.notify.find("READY", "1")][1]
        check("STATUS" in ready, f"READY=1 without STATUS=: {ready}")
        check("2 jobs" in ready["STATUS"], f"STATUS does not count the jobs: {ready['STATUS']!r}")
        # STATUS= follows the runs.
        n = len(e.notify.all())
        e.wait_log(r"a\[\d+\]: finished", 1)
        wait_for(lambda: e.notify.find("STATUS", start=n) is not None, 10, what="a STATUS= update after a run")
        # Reload: RELOADING=1 with MONOTONIC_USEC= (the current CLOCK_MONOTONIC), then READY=1.
        before = time.clock_gettime(time.CLOCK_MONOTONIC)
        i = e.reload()
        after = time.clock_gettime(time.CLOCK_MONOTONIC)
        rel = e.notify.all()[i][1]
        check("MONOTONIC_USEC" in rel, f"RELOADING=1 without MONOTONIC_USEC=: {rel}")
        usec = int(rel["MONOTONIC_USEC"])
        check(before - 0.01 <= usec / 1e6 <= after + 0.01,
              f"MONOTONIC_USEC={usec} is not CLOCK_MONOTONIC at the reload ({before:.3f}..{after:.3f})")
        # SIGUSR1: a status dump in the log naming every job.
        n = e.log_count()
        e.signal(signal.SIGUSR1)
        e.wait_log(r"^info: (job )?b\b", 1, start=n)
        e.wait_log(r"^info: (job )?a\b", 1, start=n)
        e.wait_log(r"\bidle\b", 1, start=n)
        e.wait_log(r"runs_started\s+\d+", 1, start=n)
        check(pid_alive(e.pid), "evd died on SIGUSR1")
        # Shutdown: STOPPING=1, exit 0.
        n = len(e.notify.all())
        check(e.stop() == 0, f"exit status {e.returncode}")
        check(e.notify.find("STOPPING", "1", start=n) is not None, "no STOPPING=1 on SIGTERM")


def test_child_fds_and_zombies(evd_bin):
    # The job shows its pid and then becomes `sleep`, whose descriptors the
    # test reads from outside (from inside, any listing tool adds its own).
    conf = """
    [daemon]
    workers = 3
    [job:fds]
    command = {DIR}/fds.sh
    every = 1s
    overlap = skip
    [job:quick]
    command = /bin/true
    every = 1s
    """
    script = """
    echo $$ > {OUT}/pid.$EVD_RUN.tmp
    mv {OUT}/pid.$EVD_RUN.tmp {OUT}/pid.$EVD_RUN
    exec sleep 3
    """
    with Evd(evd_bin, conf, "fds", scripts={"fds.sh": script}, start=False) as e:
        e.ignored_signals = [signal.SIGHUP, signal.SIGPIPE, signal.SIGINT, signal.SIGUSR2, signal.SIGQUIT]
        e.start()
        base_fds = fd_table(e.pid)

        def sleeping_pid():
            for name in os.listdir(e.out):
                if name.startswith("pid.") and not name.endswith(".tmp"):
                    pid = int(read_file(e.o(name)).strip())
                    try:
                        if os.readlink(f"/proc/{pid}/exe").endswith("/sleep"):
                            return pid
                    except FileNotFoundError:
                        pass
            return None
        pid = wait_for(sleeping_pid, 15, what="the job to exec sleep")
        fds = fd_table(pid)
        check(sorted(fds) == [0, 1, 2], f"job has descriptors {fds}, expected 0, 1, 2 only")
        check(fds[0] == "/dev/null", f"job's stdin is {fds[0]}, expected /dev/null")
        check(fds[1].startswith("pipe:") and fds[2].startswith("pipe:") and fds[1] != fds[2],
              f"job's stdout/stderr are {fds[1]}, {fds[2]}: expected two pipes")
        evd_targets = {t for t in fd_table(e.pid).values() if not t.startswith("pipe:") and t != "/dev/null"}
        check(not (set(fds.values()) & evd_targets), "the job holds one of evd's descriptors")
        st = proc_stat(pid)
        check(st[2] == pid and st[3] == pid, f"the job is not a session and group leader: {st}")
        # Signal mask and dispositions: nothing blocked, nothing ignored.
        status = read_file(f"/proc/{pid}/status")
        for key in ("SigBlk", "SigIgn"):
            v = [l for l in status.splitlines() if l.startswith(key + ":")][0].split()[1]
            check(int(v, 16) == 0, f"job has {key}: {v}")
        # Started as under nohup, evd still reloads on SIGHUP.
        e.reload()
        e.wait_log(r"quick\[\d+\]: finished", 4)
        e.wait_log(r"fds\[\d+\]: finished", 1)
        # No zombies: every child of evd is a live run (or being reaped).
        wait_for(lambda: not [c for c in children_of(e.pid) if c[1] == "Z"], 10,
                 what="no zombie children of evd")
        # No descriptor growth in evd across runs.
        wait_for(lambda: len(fd_table(e.pid)) <= len(base_fds), 10,
                 what=f"evd's descriptors back to {len(base_fds)} ({sorted(base_fds.items())})")
        check(e.stop() == 0, f"exit status {e.returncode}")


def test_watchdog(evd_bin):
    """With $WATCHDOG_USEC set, WATCHDOG=1 comes from the main loop at about
    half that interval, idle or busy."""
    conf = """
    [job:busy]
    command = /bin/true
    every = 300ms
    """
    with Evd(evd_bin, conf, "watchdog", extra_env={"WATCHDOG_USEC": "600000"}) as e:
        wait_for(lambda: len([m for _, m in e.notify.all() if m.get("WATCHDOG") == "1"]) >= 6, 10,
                 what="six WATCHDOG=1 messages")
        times = [t for t, m in e.notify.all() if m.get("WATCHDOG") == "1"]
        gaps = [b - a for a, b in zip(times, times[1:])]
        check(max(gaps) < 0.6 * 1.5, f"WATCHDOG=1 gaps {gaps}: not kept within WATCHDOG_USEC")
        check(e.stop() == 0, f"exit status {e.returncode}")


def test_closed_stdio(evd_bin):
    """evd started with stdin and stdout closed: its jobs still get
    /dev/null and two pipes, and their output still reaches the log."""
    script = """
    echo $$ > {OUT}/pid.tmp
    mv {OUT}/pid.tmp {OUT}/pid
    echo out-line
    echo err-line >&2
    exec sleep 1
    """
    conf = """
    [job:hi]
    command = {DIR}/hi.sh
    cron = @reboot
    """
    with Evd(evd_bin, conf, "closed-stdio", start=False, scripts={"hi.sh": script}) as e:
        e.closed_stdio = True
        e.start()
        pid = int(wait_for(lambda: read_file(e.o("pid")), 10, what="the job to start"))
        wait_for(lambda: os.path.exists(f"/proc/{pid}/exe") and os.readlink(f"/proc/{pid}/exe").endswith("/sleep"),
                 10, what="the job to exec sleep")
        fds = fd_table(pid)
        check(sorted(fds) == [0, 1, 2] and fds[0] == "/dev/null" and fds[1].startswith("pipe:")
              and fds[2].startswith("pipe:"), f"job descriptors {fds}")
        e.wait_log(r"^info: hi\[\d+\]: out-line$", 1)
        e.wait_log(r"^warning: hi\[\d+\]: err-line$", 1)
        check(e.stop() == 0, f"exit status {e.returncode}")


if __name__ == "__main__":
    run_tests([
        ("every_on_time", test_every_on_time),
        ("notify_reload_usr1", test_notify),
        ("child_fds_and_zombies", test_child_fds_and_zombies),
        ("watchdog", test_watchdog),
        ("closed_stdio", test_closed_stdio),
    ])
