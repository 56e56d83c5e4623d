#!/usr/bin/python3
"""Fault: a run's working directory is on a filesystem that never answers.

evd is started inside a private mount namespace (unshare --mount
--propagation private) by a small Python launcher that opens /dev/fuse,
mounts a FUSE filesystem on DIR/fuse with that descriptor, and execs evd
(which inherits the descriptor and never reads it). Nobody ever answers the
kernel's requests, so a run whose working_directory is below the mount
point blocks in chdir(), between clone and execve, as on a hung NFS or FUSE
mount (a user can make one on purpose with fusermount). Nothing is mounted
in the machine's own tree; the connection goes away with evd's descriptor
(and the namespace with its last process).

Expected:
  * timeout= holds before exec: the run fails at its timeout with
    `failed to start: chdir: timed out before exec`, its process is killed
    and reaped, and the worker is returned (with workers = 1, another job
    runs afterwards);
  * shutdown_timeout + kill_grace hold before exec: SIGTERM during such a
    run ends evd in time, exit 0, the run `stopped: failed to start: chdir:
    stopped before exec`.
Needs root (mount namespace, /dev/fuse); skipped when FUSE cannot be
mounted here."""

import os
import signal
import subprocess
import sys
import time

from faultlib import FaultEvd, check, require_ns_tools, wait_for
from evdtest import TIMEOUT_SCALE, children_of, proc_stat, require_root, run_tests, skip

LAUNCHER = """#!/usr/bin/python3
# argv[1]: the mount point; the rest: the command to exec (evd). Exit 77
# when FUSE cannot be mounted. The /dev/fuse descriptor is inherited by the
# command and never read: every request stays pending.
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
try:
    fd = os.open("/dev/fuse", os.O_RDWR)
except OSError as e:
    print(f"cannot open /dev/fuse: {e}", file=sys.stderr)
    sys.exit(77)
os.set_inheritable(fd, True)
opts = f"fd={fd},rootmode=40000,user_id=0,group_id=0".encode()
MS_NOSUID, MS_NODEV = 2, 4
if libc.mount(b"evd-fault-fuse", sys.argv[1].encode(), b"fuse", ctypes.c_ulong(MS_NOSUID | MS_NODEV), opts) != 0:
    print(f"cannot mount fuse: {os.strerror(ctypes.get_errno())}", file=sys.stderr)
    sys.exit(77)
os.execv(sys.argv[2], sys.argv[2:])
"""


def start_in_namespace(e):
    mnt = e.path("fuse")
    os.makedirs(mnt, exist_ok=True)
    e.write("fuse-launcher.py", LAUNCHER, mode=0o755)
    ns = ["unshare", "--mount", "--propagation", "private", "--", sys.executable, e.path("fuse-launcher.py"), mnt]
    p = subprocess.run(ns + ["/bin/true"], capture_output=True, text=True)
    if p.returncode != 0:
        skip(f"cannot mount a FUSE filesystem here: {p.stderr.strip()}")
    e.launcher = ns
    e.start()
    check(not any(l.split()[4] == mnt for l in open("/proc/self/mountinfo")),
          "the FUSE mount is visible outside evd's namespace")


def start_time(pid):
    """A process's start time (field 22 of /proc/PID/stat), or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return s[s.rindex(")") + 2:].split()[19]


def stuck_children(e):
    """evd's children (the runs' processes): [(pid, start time)]."""
    return [(pid, start_time(pid)) for pid, state in children_of(e.pid) if state != "Z"]


def kill_leftovers(seen):
    """SIGKILLs what the test saw evd start, if it still is that process."""
    for pid, start in seen:
        st = proc_stat(pid)
        if st and start_time(pid) == start and st[0] != "Z":
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def test_timeout_before_exec(evd_bin):
    require_root("mounting FUSE in a private mount namespace")
    require_ns_tools()
    conf = """
    [daemon]
    workers = 1
    [job:stuck]
    command = /bin/true
    working_directory = {DIR}/fuse/sub
    timeout = 2s
    cron = @reboot
    [job:tick]
    command = /bin/true
    every = 1s
    """
    seen = []
    e = FaultEvd(evd_bin, conf, "fusehang", start=False)
    try:
        with e:
            start_in_namespace(e)
            t0 = time.monotonic()
            wait_for(lambda: seen.extend(stuck_children(e)) or seen, 20, what="the stuck run's process")
            fail = e.wait_log(r"stuck\[\d+\]: failed: ", timeout=30)
            took = time.monotonic() - t0
            check("failed to start: chdir: timed out before exec" in fail[0], f"not a timeout before exec: {fail[0]}")
            check(took < 2 + 10 * TIMEOUT_SCALE, f"the run ended {took:.1f}s after the start, timeout=2s")
            # Killed and reaped: not left behind, not a zombie.
            wait_for(lambda: all(proc_stat(pid) is None for pid, _ in seen), 10,
                     what=f"the stuck processes {seen} to be gone")
            # The only worker is back: tick runs again after the failure.
            after = e.log_count()
            e.wait_log(r"tick\[\d+\]: finished: exit status 0", count=2, start=after, timeout=20)
            e.check_alive()
            check(e.stop(20) == 0, f"exit status {e.returncode}")
    finally:
        kill_leftovers(seen)


def test_shutdown_before_exec(evd_bin):
    require_root("mounting FUSE in a private mount namespace")
    require_ns_tools()
    conf = """
    [daemon]
    shutdown_timeout = 1s
    kill_grace = 1s
    [job:stuck]
    command = /bin/true
    working_directory = {DIR}/fuse/sub
    cron = @reboot
    """
    seen = []
    e = FaultEvd(evd_bin, conf, "fusestop", start=False)
    try:
        with e:
            start_in_namespace(e)
            wait_for(lambda: seen.extend(stuck_children(e)) or seen, 20, what="the stuck run's process")
            time.sleep(0.5)
            check(proc_stat(seen[0][0]) is not None, "the stuck run's process went away by itself")
            t0 = time.monotonic()
            os.kill(e.pid, signal.SIGTERM)
            rc = e.wait_exit(2 + 10 * TIMEOUT_SCALE)
            took = time.monotonic() - t0
            check(rc == 0, f"exit status {rc} after SIGTERM")
            print(f"  evd stopped {took:.1f}s after SIGTERM (shutdown_timeout 1s + kill_grace 1s)")
            stopped = e.grep(r"stuck\[\d+\]: stopped: ")
            check(stopped and "failed to start: chdir: stopped before exec" in stopped[0],
                  f"the run did not end as stopped before exec: {stopped}")
    finally:
        kill_leftovers(seen)


if __name__ == "__main__":
    run_tests([
        ("timeout_before_exec", test_timeout_before_exec),
        ("shutdown_before_exec", test_shutdown_before_exec),
    ])
