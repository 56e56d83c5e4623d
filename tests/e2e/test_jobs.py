#!/usr/bin/python3
"""How a run is executed: environment and working directory, timeouts that
end the whole process group, kill_grace, a double-forking daemon, exit by a
signal."""

import os
import re
import time

from evdtest import (Evd, check, pid_alive, pid_exists, proc_stat, read_file, read_lines, run_tests,
                     wait_for)


def test_env_and_cwd(evd_bin):
    script = """
    env > {OUT}/env.tmp
    pwd > {OUT}/pwd
    umask > {OUT}/umask
    mv {OUT}/env.tmp {OUT}/env
    """
    conf = """
    [job:env]
    command = {DIR}/env.sh
    cron = @reboot
    working_directory = {DIR}/wd
    environment = FOO=bar BAZ=qux
    environment = FOO=override LANG=C.UTF-8

    [job:argv]
    command = /bin/sh -c 'printf "%s|" "$@" > {OUT}/argv' sh "two words" plain
    cron = @reboot
    """
    with Evd(evd_bin, conf, "env", start=False, extra_env={"EVD_E2E_SECRET": "leak"},
             scripts={"env.sh": script}) as e:
        os.mkdir(e.path("wd"))
        e.start()
        wait_for(lambda: read_file(e.o("env")), 10, what="the job's environment")
        env = dict(l.split("=", 1) for l in read_lines(e.o("env")) if "=" in l)
        check(env.get("FOO") == "override", f"FOO={env.get('FOO')!r}: a later environment= must win")
        check(env.get("BAZ") == "qux", f"BAZ={env.get('BAZ')!r}")
        check(env.get("LANG") == "C.UTF-8", f"LANG={env.get('LANG')!r}")
        check(env.get("EVD_JOB") == "env", f"EVD_JOB={env.get('EVD_JOB')!r}")
        check(env.get("EVD_RUN", "").isdigit(), f"EVD_RUN={env.get('EVD_RUN')!r}")
        # The instant the run is of (here evd's start, for @reboot): within
        # a generous window around now, in microseconds since the epoch.
        sched = env.get("EVD_SCHEDULED_USEC", "")
        check(sched.isdigit() and abs(int(sched) / 1e6 - time.time()) < 600,
              f"EVD_SCHEDULED_USEC={sched!r}")
        check("PATH" in env, "no PATH")
        check("NOTIFY_SOCKET" not in env, "NOTIFY_SOCKET leaked into a job")
        check("EVD_E2E_SECRET" not in env, "evd's own environment leaked into a job")
        check(read_file(e.o("pwd")).strip() == e.path("wd"), f"working directory {read_file(e.o('pwd'))!r}")
        check(read_file(e.o("umask")).strip() == "0022", f"umask {read_file(e.o('umask'))!r}")
        wait_for(lambda: read_file(e.o("argv")), 10, what="the argv job")
        check(read_file(e.o("argv")) == "two words|plain|", f"argv split wrongly: {read_file(e.o('argv'))!r}")
        check(e.stop() == 0, f"exit status {e.returncode}")


def test_path_lookup_in_job_context(evd_bin):
    """A program name is looked up on the job's PATH as the job would: a
    relative (or empty) entry is relative to the job's working directory,
    not to evd's own (evd runs in DIR here, the jobs in DIR/wd)."""
    conf = """
    [job:both]
    command = evdprog-both
    working_directory = {DIR}/wd
    environment = PATH=.:/bin
    cron = @reboot
    [job:onlywd]
    command = evdprog-wd
    working_directory = {DIR}/wd
    environment = PATH=/bin:
    cron = @reboot
    [job:onlyevd]
    command = evdprog-evd
    working_directory = {DIR}/wd
    environment = PATH=.:/bin
    cron = @reboot
    """
    with Evd(evd_bin, conf, "pathctx", start=False) as e:
        prog = "#!/bin/sh\necho {where} > {OUT}/{name}\n"
        for name, where in (("both", "wd"), ("wd", "wd")):
            e.write(f"wd/evdprog-{name}", prog.format(name=name, where=where, OUT="{OUT}"), mode=0o755)
        for name in ("both", "evd"):
            e.write(f"evdprog-{name}", prog.format(name=name, where="evd-cwd", OUT="{OUT}"), mode=0o755)
        e.start()
        e.wait_log(r"both\[\d+\]: (finished|failed)", 1)
        check(read_file(e.o("both"), "").strip() == "wd",
              f"PATH=.:/bin ran {read_file(e.o('both'), 'nothing')!r}, not the program in the working directory")
        l = e.wait_log(r"onlywd\[\d+\]: (finished|failed)", 1)
        check("finished: exit status 0" in l[0] and read_file(e.o("wd"), "").strip() == "wd",
              f"a program in the job's directory on an empty PATH entry was not found: {l[0]}")
        l = e.wait_log(r"onlyevd\[\d+\]: (finished|failed)", 1)
        check("failed to start: executable lookup: No such file or directory" in l[0],
              f"a program only in evd's own directory: {l[0]}")
        check(read_file(e.o("evd")) is None, "the program in evd's own directory ran")
        check(e.stop() == 0, f"exit status {e.returncode}")


def test_timeout_kills_group(evd_bin):
    conf = """
    [daemon]
    kill_grace = 2s
    [job:group]
    command = sleep 100 & echo $! > {OUT}/bg; echo $$ > {OUT}/sh; sleep 100
    shell = yes
    cron = @reboot
    timeout = 1s
    """
    with Evd(evd_bin, conf, "timeout") as e:
        wait_for(lambda: read_file(e.o("bg")) and read_file(e.o("sh")), 10, what="the job to start")
        bg, sh = int(read_file(e.o("bg"))), int(read_file(e.o("sh")))
        e.wait_log(r"group\[\d+\]: timed out after 1s", 1)
        e.wait_log(r"group\[\d+\]: failed: killed by signal TERM.*timed out", 1)
        # Nothing of the run is left, not even a zombie.
        wait_for(lambda: not pid_exists(bg) and not pid_exists(sh), 10,
                 what=f"the job's processes {sh} and {bg} to be gone")
        check(e.stop() == 0, f"exit status {e.returncode}")


def test_kill_grace(evd_bin):
    conf = """
    [daemon]
    kill_grace = 1s
    [job:stubborn]
    command = trap 'date +%s.%N > {OUT}/term' TERM; echo $$ > {OUT}/pid; while :; do sleep 0.1; done
    shell = yes
    cron = @reboot
    timeout = 1s
    """
    with Evd(evd_bin, conf, "grace") as e:
        wait_for(lambda: read_file(e.o("pid")), 10, what="the job to start")
        pid = int(read_file(e.o("pid")))
        e.wait_log(r"stubborn\[\d+\]: failed: killed by signal KILL", 1, timeout=15)
        t_term = float(read_file(e.o("term")).strip())
        t_end = time.time()
        check(t_end - t_term >= 0.9, f"SIGKILL came {t_end - t_term:.2f}s after SIGTERM, before kill_grace")
        check(e.grep(r"stubborn\[\d+\]: still running 1s after SIGTERM, sending SIGKILL"),
              "the escalation was not logged")
        wait_for(lambda: not pid_exists(pid), 10, what="the killed job to be reaped")
        check(e.stop() == 0, f"exit status {e.returncode}")


def test_double_fork_daemon(evd_bin):
    """evd is a child subreaper (man evd.8, PROCESSES): a process that leaves
    the run's process group with setsid is not killed when the run ends; it
    is re-parented to evd and reaped by evd when it exits (no zombie), and
    it does not hold the run open. A process that stays in the group is
    terminated when the run's main process exits."""
    script = """
    # The classic double fork: the daemon leaves the run's session.
    (setsid sh -c 'echo $$ > {OUT}/daemon.tmp; mv {OUT}/daemon.tmp {OUT}/daemon; exec sleep 2.5' &)
    # A background process that stays in the run's process group.
    (sleep 100 & echo $! > {OUT}/ingroup)
    sleep 0.3
    exit 0
    """
    conf = """
    [daemon]
    kill_grace = 1s
    [job:daemonize]
    command = {DIR}/daemonize.sh
    cron = @reboot
    """
    with Evd(evd_bin, conf, "daemon", scripts={"daemonize.sh": script}) as e:
        e.wait_log(r"daemonize\[\d+\]: finished: exit status 0", 1)
        daemon = int(wait_for(lambda: read_file(e.o("daemon")), 10, what="the daemon's pid"))
        ingroup = int(read_file(e.o("ingroup")))
        # The run ended although the daemon still holds its stdout.
        st = proc_stat(daemon)
        check(st is not None and st[0] != "Z", "the daemon was killed with the run")
        check(st[1] == e.pid, f"the daemon's parent is {st[1]}, not evd ({e.pid}): evd is no subreaper")
        check(st[3] == daemon, "the daemon did not get its own session")
        # The process left in the run's group goes with the run.
        wait_for(lambda: not pid_exists(ingroup), 10, what="the in-group leftover to be ended and reaped")
        check(e.grep(r"daemonize\[\d+\]: main process exited, terminating the rest of its process group"),
              "the leftover's termination was not logged")
        # When the daemon exits, evd reaps it: no zombie.
        wait_for(lambda: not pid_exists(daemon), 15, what=f"the daemon {daemon} to exit and be reaped by evd")
        check(pid_alive(e.pid), "evd died")
        check(e.stop() == 0, f"exit status {e.returncode}")


def test_exit_by_signal(evd_bin):
    conf = """
    [job:sig]
    command = kill -USR2 $$
    shell = yes
    cron = @reboot
    [job:code]
    command = exit 3
    shell = yes
    cron = @reboot
    [job:nonexec]
    command = {DIR}/no-such-program --flag
    cron = @reboot
    """
    with Evd(evd_bin, conf, "signal") as e:
        e.wait_log(r"^err: sig\[\d+\]: failed: killed by signal USR2", 1)
        e.wait_log(r"^err: code\[\d+\]: failed: exit status 3", 1)
        l = e.wait_log(r"^err: nonexec\[\d+\]: failed", 1)
        check("No such file" in l[0], f"a missing program is not explained: {l[0]}")
        check(e.stop() == 0, f"exit status {e.returncode}")


def test_long_command_line(evd_bin):
    """inih reads lines of a fixed maximum length: a longer line must be
    read whole or refused with its PATH:LINE, never cut silently."""
    word = "x" * 300
    conf = f"""
    [job:long]
    command = /bin/echo {word} end
    cron = @reboot
    """
    with Evd(evd_bin, conf, "longcmd", start=False) as e:
        e.start(wait_ready=False)
        wait_for(lambda: e.proc.poll() is not None or e.notify.find("READY", "1") is not None, 15,
                 what="evd to start or refuse the file")
        if e.proc.poll() is not None:
            check(e.proc.returncode == 78, f"evd exited {e.proc.returncode}")
            check(e.grep(re.escape(e.conf) + r":2: "), "the long line was refused without its PATH:LINE:\n"
                  + e.log_tail())
            return
        l = e.wait_log(r"long\[\d+\]: (finished|failed)", 1)
        check(e.grep(rf"^info: long\[\d+\]: {word} end$"), "a 300-byte command line was cut:\n" + e.log_tail())
        check(e.stop() == 0, f"exit status {e.returncode}")


if __name__ == "__main__":
    run_tests([
        ("env_and_cwd", test_env_and_cwd),
        ("path_lookup_in_job_context", test_path_lookup_in_job_context),
        ("timeout_kills_group", test_timeout_kills_group),
        ("kill_grace", test_kill_grace),
        ("double_fork_daemon", test_double_fork_daemon),
        ("exit_by_signal", test_exit_by_signal),
        ("long_command_line", test_long_command_line),
    ])
