#!/usr/bin/python3
"""Fault: --log-target journal with no journald.

evd runs in a private mount namespace whose /run/systemd/journal is an
empty tmpfs (when the machine has that directory at all; otherwise there is
no journal socket to hide), so the native journal protocol has nowhere to
send to.

Expected:
  * evd starts, says on stderr that the journal cannot be reached, and from
    then on writes its messages and the jobs' output lines to stderr as
    console lines: nothing is lost silently;
  * runs happen (the job's evidence appears), evdctl answers, SIGTERM exits 0.
Needs root (mount namespace) when /run/systemd/journal exists."""

import os

from faultlib import FaultEvd, check, require_ns_tools, wait_for
from evdtest import read_lines, require_root, run_tests

SETUP = """#!/bin/sh
# Hides the journal's sockets (if any) behind an empty tmpfs, then execs evd.
set -e
if [ -d /run/systemd/journal ]; then
    mount -t tmpfs -o size=64k,mode=0755 evd-fault-nojournal /run/systemd/journal
fi
exec "$@"
"""


def test_no_journald(evd_bin):
    if os.path.isdir("/run/systemd/journal"):
        require_root("hiding /run/systemd/journal in a private mount namespace")
        require_ns_tools()
    conf = """
    [job:hello]
    command = {DIR}/hello.sh
    every = 1s
    """
    script = """
    echo "hello from the job $$"
    date +%s.%N >> {OUT}/ticks
    """
    e = FaultEvd(evd_bin, conf, "nojournal", start=False, scripts={"hello.sh": script})
    with e:
        e.log_target = "journal"
        if os.path.isdir("/run/systemd/journal"):
            e.write("ns-setup.sh", SETUP, mode=0o755)
            e.launcher = ["unshare", "--mount", "--propagation", "private", "--", e.path("ns-setup.sh")]
        e.start()
        wait_for(lambda: len(read_lines(e.o("ticks"))) >= 2, 20, what="two runs")
        e.wait_log(r"hello from the job", count=1, timeout=20)
        e.wait_log(r"hello\[.*finished", count=1, timeout=20)
        check(e.grep(r"(?i)journal.*(not reachable|unavailable|cannot|no socket)"), "evd did not say that the journal is unavailable:\n" + e.log_tail())
        rc, out, err = e.ctl("status", "hello")
        check(rc == 0, f"evdctl status: exit {rc} {out} {err}")
        check(e.stop() == 0, f"exit status {e.returncode}")


if __name__ == "__main__":
    run_tests([("no_journald", test_no_journald)])
