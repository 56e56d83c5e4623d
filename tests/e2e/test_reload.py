#!/usr/bin/python3
"""SIGHUP: a new job, a changed job, a removed job (also while it runs), an
unchanged job keeps its deadline, and a broken file keeps the old
configuration running with its errors logged as PATH:LINE."""

import re
import signal
import time

from evdtest import Evd, check, read_floats, read_lines, run_tests, wait_for

BASE = """
[daemon]
workers = 6
kill_grace = 1s

[job:changed]
command = echo v1 >> {OUT}/changed
shell = yes
every = 1s

[job:removed]
command = date +%s.%N >> {OUT}/removed; sleep 1.5; date +%s.%N >> {OUT}/removed-end
shell = yes
every = 1s

[job:keep]
command = date +%s.%N >> {OUT}/keep
shell = yes
every = 6s

[job:resched]
command = date +%s.%N >> {OUT}/resched
shell = yes
every = 6s
"""

NEW = """
[daemon]
workers = 6
kill_grace = 1s

[job:added]
command = date +%s.%N >> {OUT}/added
shell = yes
every = 1s

[job:changed]
command = echo v2 >> {OUT}/changed
shell = yes
every = 1s

[job:keep]
command = date +%s.%N >> {OUT}/keep
shell = yes
every = 6s

[job:resched]
command = date +%s.%N >> {OUT}/resched
shell = yes
every = 7s
"""

# Line 8 has an unknown key, line 11 a bad time span (which may also leave
# [job:changed], line 10, without a schedule).
BROKEN = """
[daemon]
workers = 6

[job:added]
command = date +%s.%N >> {OUT}/added
shell = yes
every = 1s
comand = oops

[job:changed]
every = 1 fortnight
command = echo v3 >> {OUT}/changed
shell = yes
"""


def test_reload(evd_bin):
    with Evd(evd_bin, BASE, "reload") as e:
        ready_rt = e.ready_realtime()
        # Reload while a run of `removed` is in flight, about 2 s after start.
        e.wait_log(r"removed\[\d+\]: started", 1)
        wait_for(lambda: read_lines(e.o("changed")), 10, what="a run of `changed`")
        e.write_config(NEW)
        n_log = e.log_count()
        t_hup = time.time()
        e.reload()
        t_reload = time.time()
        e.wait_log(r"Configuration reloaded", 1, start=n_log)

        # The removed job's run in flight finishes normally...
        e.wait_log(r"removed\[\d+\]: finished: exit status 0", 1)
        # ... and no new run of it starts.
        starts_after = lambda: [t for t in read_floats(e.o("removed")) if t > t_reload + 0.05]
        # The new job runs; the changed one runs its new command.
        wait_for(lambda: len(read_lines(e.o("added"))) >= 2, 10, what="the added job to run")
        wait_for(lambda: "v2" in read_lines(e.o("changed")), 10, what="the changed command to run")
        ch = read_lines(e.o("changed"))
        check("v1" not in ch[ch.index("v2"):], "the old command ran after the new one")
        # An unchanged job keeps its deadline: first run ~6 s after start,
        # not 6 s after the reload (which came about 2 s in).
        wait_for(lambda: read_lines(e.o("keep")), 15, what="`keep` to run")
        first_keep = read_floats(e.o("keep"))[0] - ready_rt
        check(first_keep + ready_rt - e.launch_rt >= 6, f"`keep` ran {first_keep:.2f}s after start: early")
        check(first_keep < 7.0, f"`keep` ran {first_keep:.2f}s after start: the reload reset its deadline "
              f"(reload at {t_reload - ready_rt:.2f}s)")
        # A job whose schedule changed is rescheduled from the reload.
        wait_for(lambda: read_lines(e.o("resched")), 15, what="`resched` to run")
        first_resched = read_floats(e.o("resched"))[0]
        check(first_resched >= t_hup + 7 - 0.02,
              f"`resched` ran {first_resched - t_hup:.2f}s after the reload; expected its new 7s interval")
        check(not starts_after(), f"the removed job started again after the reload: {starts_after()}")
        check(e.grep(r"removed.*removed"), "the removal was not logged")

        # A broken file: errors logged with file and line, old configuration kept.
        e.write_config(BROKEN)
        n_log = e.log_count()
        n_added = len(read_lines(e.o("added")))
        e.reload()
        e.wait_log(r"Reload failed", 1, start=n_log)
        errs = e.grep(re.escape(e.conf) + r":\d+: ", n_log)
        lines = sorted({int(re.search(re.escape(e.conf) + r":(\d+): ", l).group(1)) for l in errs})
        check({8, 11} <= set(lines) <= {8, 10, 11},
              f"expected errors at lines 8 and 11 of {e.conf}, got {lines}: {errs}")
        check(any("comand" in l for l in errs), f"the unknown key is not named: {errs}")
        wait_for(lambda: len(read_lines(e.o("added"))) >= n_added + 2, 10,
                 what="the old configuration to keep running")
        time.sleep(1.2)
        ch = read_lines(e.o("changed"))
        check("v3" not in ch, "a command of the broken file ran")
        check(ch[-1] == "v2", f"`changed` no longer runs its v2 command: {ch[-3:]}")
        check(e.stop() == 0, f"exit status {e.returncode}")


def storm_config(gen):
    """Generation `gen` of a configuration that keeps changing: jobs come
    and go, change schedule, command, overlap policy and workers."""
    text = f"[daemon]\nworkers = {2 + gen % 3}\nkill_grace = 200ms\nshutdown_timeout = 2s\n"
    policies = ["skip", "queue", "parallel", "replace"]
    for i in range(8):
        if (i + gen) % 5 == 0:
            continue  # removed in this generation
        every = ["200ms", "300ms", "500ms"][(i + gen // 2) % 3]
        text += (f"\n[job:s{i}]\ncommand = sleep 0.{(i * 3 + gen) % 7 + 1}\nevery = {every}\n"
                 f"overlap = {policies[(i + gen) % 4]}\n")
        if i % 3 == 0:
            text += "retries = 2\nretry_delay = 100ms\ntimeout = 250ms\n"
    return text


def test_reload_storm(evd_bin):
    """SIGHUPs and SIGUSR1s in quick succession while runs of every overlap
    policy come and go, with jobs added and removed under them: evd stays
    up, every run ends, it shuts down cleanly (the sanitizer builds watch
    the memory and the threads)."""
    with Evd(evd_bin, storm_config(0), "reload-storm") as e:
        for gen in range(1, 25):
            e.write_config(storm_config(gen))
            e.signal(signal.SIGHUP)
            if gen % 4 == 0:
                e.signal(signal.SIGUSR1)
            time.sleep(0.12)
        # SIGHUPs that come while a parse runs are coalesced into one more
        # parse (evd.8): 24 signals make at least 2 reloads, and as many as
        # 24 on an idle machine. Wait until none is pending.
        wait_for(lambda: len(e.grep(r"Configuration reloaded")) >= 2 and
                 len(e.grep(r"Reloading configuration")) == len(e.grep(r"Configuration reloaded|Reload failed")),
                 30, what="the storm's reloads to be applied")
        e.write_config(storm_config(0))
        e.reload()
        n = e.log_count()
        e.wait_log(r"s\d\[\d+\]: (finished|failed|stopped)", 3, start=n)
        check(e.stop() == 0, f"exit status {e.returncode}")
        started = len(e.grep(r"s\d\[\d+\]: started"))
        ended = len(e.grep(r"s\d\[\d+\]: (finished|failed|stopped)"))
        check(started == ended, f"{started} runs started but {ended} ended")
        check(started >= 5, f"only {started} runs during the storm")


if __name__ == "__main__":
    run_tests([
        ("reload", test_reload),
        ("reload_storm", test_reload_storm),
    ])
