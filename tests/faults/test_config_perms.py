#!/usr/bin/python3
"""Fault: an unsafe configuration file (as cron refuses such crontabs).

Cases: the configuration is a symbolic link; it is group-writable; an
included file is group-writable; the directory of the included files is
group-writable (every directory on the way is checked, not only the file).

Expected:
  * at start: evd refuses to start, exit 78 (EX_CONFIG), with a message
    naming the file and why (a symlink / writable by group or others);
    `evd -t` exits 1 with the same message;
  * on reload (SIGHUP): the reload fails with that message, the running
    configuration is kept untouched (its jobs go on), evd keeps running;
    once the file is safe again a reload succeeds.
"""

import os
import re
import subprocess

from faultlib import FaultEvd, check, wait_for
from evdtest import read_lines, run_tests

GOOD = """
[include]
files = {DIR}/conf.d/*.conf
[job:tick]
command = {DIR}/tick.sh
every = 1s
"""

INC = """
[job:inc]
command = /bin/true
cron = @reboot
"""


def setups(e):
    """(name, make unsafe, make safe again, message pattern)."""
    real = e.path("real.conf")
    inc = e.path("conf.d/a.conf")
    incdir = e.path("conf.d")

    def symlink():
        os.rename(e.conf, real)
        os.symlink(real, e.conf)

    def unsymlink():
        os.unlink(e.conf)
        os.rename(real, e.conf)
    return [
        ("symlink", symlink, unsymlink, r"(?i)symbolic link|symlink|too many levels"),
        ("group-writable", lambda: os.chmod(e.conf, 0o664), lambda: os.chmod(e.conf, 0o644), r"(?i)writable"),
        ("world-writable", lambda: os.chmod(e.conf, 0o646), lambda: os.chmod(e.conf, 0o644), r"(?i)writable"),
        ("include group-writable", lambda: os.chmod(inc, 0o664), lambda: os.chmod(inc, 0o644), r"(?i)writable"),
        ("include directory group-writable", lambda: os.chmod(incdir, 0o775), lambda: os.chmod(incdir, 0o755),
         r"(?i)directory \S*conf\.d is writable"),
    ]


def test_refused_at_start(evd_bin):
    e = FaultEvd(evd_bin, GOOD, "perms-start", start=False, files={"conf.d/a.conf": INC},
                 scripts={"tick.sh": "true\n"})
    with e:
        for name, bad, good, rx in setups(e):
            bad()
            p = subprocess.run([e.binary, "-t", "-c", e.conf], capture_output=True, text=True)
            check(p.returncode == 1, f"{name}: evd -t exit {p.returncode}: {p.stderr}")
            check(re.search(rx, p.stderr), f"{name}: evd -t does not say why: {p.stderr}")
            n = e.log_count()
            e.start(wait_ready=False)
            check(e.wait_exit() == 78, f"{name}: evd started with an unsafe configuration (exit {e.returncode})")
            check(e.grep(rx, n), f"{name}: no clear message at start:\n" + e.log_tail())
            good()


def test_refused_on_reload(evd_bin):
    e = FaultEvd(evd_bin, GOOD, "perms-reload", files={"conf.d/a.conf": INC},
                 scripts={"tick.sh": "date +%s.%N >> {OUT}/ticks\n"})
    with e:
        wait_for(lambda: len(read_lines(e.o("ticks"))) >= 1, 20, what="a first run")
        for name, bad, good, rx in setups(e):
            # A change that would show if the file were read anyway.
            text = open(e.conf).read()
            start = e.log_count()
            bad()
            e.reload()
            check(e.grep(r"(?i)reload failed", start), f"{name}: the reload did not fail:\n" + e.log_tail())
            check(e.grep(rx, start), f"{name}: the failed reload does not say why:\n" + e.log_tail())
            rc, out, err = e.ctl("list")
            check(rc == 0 and "tick" in out and "inc" in out, f"{name}: jobs lost after a refused reload: {out} {err}")
            n = len(read_lines(e.o("ticks")))
            wait_for(lambda: len(read_lines(e.o("ticks"))) >= n + 1, 20, what=f"{name}: tick to go on")
            good()
            check(open(e.conf).read() == text, "test bug: the file changed")
            start = e.log_count()
            e.reload()
            check(e.grep(r"Configuration reloaded", start), f"{name}: the safe file was not reloaded:\n" + e.log_tail())
        check(e.stop() == 0, f"exit status {e.returncode}")


if __name__ == "__main__":
    run_tests([("refused_at_start", test_refused_at_start), ("refused_on_reload", test_refused_on_reload)])
