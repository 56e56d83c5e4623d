#!/usr/bin/python3
"""Fault: the state directory fills up, then becomes read-only.

evd is started inside a private mount namespace (unshare --mount
--propagation private) by a small script that mounts a 256 KiB tmpfs on the
state directory and then execs evd; nothing is mounted in the machine's
own tree. The test reaches that tmpfs through /proc/PID/root and remounts it
with nsenter.

Expected:
  * full (ENOSPC): evd logs a warning once ("Failed to save state ...
    (the previous state is kept)"), the state file keeps its last complete
    content (never empty, never half written), runs go on, no crash;
  * space freed: the next save succeeds again (the file moves on);
  * read-only (EROFS): the same: a warning, the old file kept, runs go on;
  * shutdown still exits 0.
Needs root (mount namespace, nsenter)."""

import os

from faultlib import FaultEvd, check, nsenter, require_ns_tools, wait_for
from evdtest import read_file, read_lines, require_root, run_tests

SETUP = """#!/bin/sh
# $1: the directory to cover with a small tmpfs; the rest: evd's argv.
set -e
mount -t tmpfs -o size=256k,nr_inodes=64,mode=0755 evd-fault-state "$1"
shift
exec "$@"
"""


def state_text(e):
    return read_file(f"/proc/{e.pid}/root{e.state_dir}/state", "")


def valid_state(text):
    lines = text.splitlines()
    return bool(lines) and lines[0].startswith("evd-state") and any(l.startswith("job tick ") for l in lines)


def fill(e):
    """Fills the tmpfs; returns the filler's path (seen from outside)."""
    p = f"/proc/{e.pid}/root{e.state_dir}/filler"
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError:
        pass
    finally:
        os.close(fd)
    return p


def test_statedir(evd_bin):
    require_root("mounting a tmpfs in a private mount namespace")
    require_ns_tools()
    conf = """
    [job:tick]
    command = /bin/true
    every = 1s
    persistent = yes
    """
    e = FaultEvd(evd_bin, conf, "statedir", start=False)
    with e:
        os.makedirs(e.state_dir, exist_ok=True)
        e.write("ns-setup.sh", SETUP, mode=0o755)
        e.launcher = ["unshare", "--mount", "--propagation", "private", "--", e.path("ns-setup.sh"), e.state_dir]
        e.start()
        check(not os.path.exists(os.path.join(e.state_dir, "state")),
              "the state file appeared in the real directory: the tmpfs is not private")
        wait_for(lambda: valid_state(state_text(e)), 20, what="a first state file")

        # Full.
        filler = fill(e)
        start = e.log_count()
        w = e.wait_log(r"(?i)warning.*state", start=start, timeout=20)
        check("No space left" in w[0], f"the warning does not say why: {w[0]}")
        kept = state_text(e)
        check(valid_state(kept), f"state file damaged when the disk was full: {kept!r}")
        n = e.log_count()
        e.wait_log(r"tick\[.*finished", count=3, start=n, timeout=20)
        check(state_text(e) == kept, "the state file changed while the disk was full?")
        check(len(e.grep(r"(?i)warning.*state.*No space", start)) <= 2,
              "the warning is repeated on every save:\n" + "\n".join(e.grep(r"(?i)warning.*state", start)[:5]))
        e.check_alive("with a full state directory ")

        # Space back: saves resume.
        os.unlink(filler)
        wait_for(lambda: valid_state(state_text(e)) and state_text(e) != kept, 20,
                 what="the state file to be saved again once space is back")

        # Read-only.
        rc, out = nsenter(e.pid, "mount", "-o", "remount,ro", e.state_dir)
        check(rc == 0, f"remount ro: {out}")
        start = e.log_count()
        w = e.wait_log(r"(?i)warning.*state", start=start, timeout=20)
        check("Read-only" in w[0], f"the warning does not say why: {w[0]}")
        kept = state_text(e)
        check(valid_state(kept), f"state file damaged on a read-only directory: {kept!r}")
        n = e.log_count()
        e.wait_log(r"tick\[.*finished", count=3, start=n, timeout=20)
        check(state_text(e) == kept, "the state file changed on a read-only file system?")
        e.check_alive("with a read-only state directory ")
        check(e.stop() == 0, f"exit status {e.returncode}")


if __name__ == "__main__":
    run_tests([("statedir", test_statedir)])
