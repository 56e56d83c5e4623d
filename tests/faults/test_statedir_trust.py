#!/usr/bin/python3
"""Fault: a state directory someone else could have prepared.

Each case plants something in (or around) the state directory before evd
starts, as a user able to write there could have:
  * a FIFO named `state`: evd must not block opening it; it reaches
    READY=1, warns that the file is not a regular file, and saves over it;
  * a FIFO named `.state.tmp`: saving must not block (nor shutdown, which
    saves last); the state file is written, evd exits 0;
  * `.state.tmp` a hard link to another root-owned file: that file must
    keep its content (the temporary file is created anew, O_EXCL);
  * the state directory writable by others, owned by another user, or
    under a directory writable by others: evd refuses to start, exit 1,
    one message naming the directory at fault, no READY=1, nothing
    created; a root-owned sticky parent (as /tmp) is accepted;
  * a second evd on the same state directory: refused, exit 1, naming the
    first one's PID; the first runs on undisturbed; once it has exited, a
    new evd starts there;
  * evd running as another user, with a state directory of its own: it
    starts and saves (the rule is "owned by root or by evd's user").
Needs root (files owned by other users, a throw-away user)."""

import os
import re
import stat

from faultlib import FaultEvd, TempUser, check, wait_for
from evdtest import read_file, require_root, run_tests

CONF = """
[job:tick]
command = /bin/true
every = 1s
persistent = yes
"""


def state_path(e, name="state"):
    return os.path.join(e.state_dir, name)


def valid_state(e):
    try:
        if not stat.S_ISREG(os.lstat(state_path(e)).st_mode):
            return False  # (reading a FIFO would block the test)
    except FileNotFoundError:
        return False
    text = read_file(state_path(e), "")
    return text.startswith("evd-state 1\n") and "\njob tick " in text


def wait_saved(e):
    wait_for(lambda: valid_state(e), 20, what="a state file with the job's line")


def test_fifo_state(evd_bin):
    require_root("files owned by root and by other users")
    with FaultEvd(evd_bin, CONF, "fifo-state", start=False) as e:
        os.makedirs(e.state_dir, mode=0o755)
        os.mkfifo(state_path(e), 0o600)
        e.start()  # READY=1: the FIFO did not block start-up
        e.wait_log(r"(?i)warning.*state.*not a regular file")
        wait_saved(e)
        check(e.stop() == 0, f"exit status {e.returncode}")


def test_fifo_temp(evd_bin):
    require_root("files owned by root and by other users")
    with FaultEvd(evd_bin, CONF, "fifo-temp", start=False) as e:
        os.makedirs(e.state_dir, mode=0o755)
        os.mkfifo(state_path(e, ".state.tmp"), 0o600)
        e.start()
        wait_saved(e)
        check(e.stop() == 0, f"exit status {e.returncode}")
        check(valid_state(e), "the state file is not complete after shutdown")


def test_hard_link_temp(evd_bin):
    require_root("files owned by root and by other users")
    with FaultEvd(evd_bin, CONF, "hardlink", start=False) as e:
        os.makedirs(e.state_dir, mode=0o755)
        victim = e.write("victim", "precious\n", mode=0o644)
        os.link(victim, state_path(e, ".state.tmp"))
        e.start()
        wait_saved(e)
        check(e.stop() == 0, f"exit status {e.returncode}")
        check(read_file(victim) == "precious\n", f"the linked file was overwritten: {read_file(victim)!r}")


def refused(e, pattern, what):
    start = e.log_count()
    e.start(wait_ready=False)
    st = e.wait_exit(30)
    check(st == 1, f"{what}: evd exited {st}, expected 1:\n" + e.log_tail())
    check(e.grep(pattern, start), f"{what}: no message matching /{pattern}/:\n" + e.log_tail())
    check(e.notify.find("READY", "1", e.notify_start) is None, f"{what}: READY=1 sent")


def test_untrusted(evd_bin):
    require_root("files owned by root and by other users")
    with FaultEvd(evd_bin, CONF, "untrusted", start=False) as e:
        sd = re.escape(e.state_dir)
        os.makedirs(e.state_dir, mode=0o755)
        os.chmod(e.state_dir, 0o777)
        refused(e, rf"Refusing state directory {sd}: {sd} is writable by group or others", "world-writable")
        check(os.listdir(e.state_dir) == [], f"evd wrote into it: {os.listdir(e.state_dir)}")
        os.chmod(e.state_dir, 0o1777)
        refused(e, rf"{sd} is writable by group or others", "sticky world-writable")
        os.chmod(e.state_dir, 0o775)
        refused(e, rf"{sd} is writable by group or others", "group-writable")
        os.chmod(e.state_dir, 0o755)
        os.chown(e.state_dir, 54321, 54321)
        refused(e, rf"{sd} is owned by uid 54321", "owned by another user")
        os.rmdir(e.state_dir)

        # The parent writable by others: nothing is created under it. (A
        # parent of its own: the configuration's directory must stay safe,
        # or evd refuses the configuration before it looks at the state.)
        parent = e.path("pub")
        os.makedirs(parent, mode=0o755)
        os.chmod(parent, 0o777)
        e.state_dir = os.path.join(parent, "state")
        sd = re.escape(e.state_dir)
        refused(e, rf"Refusing state directory {sd}: {re.escape(parent)} is writable by group or others",
                "parent world-writable")
        check(not os.path.exists(e.state_dir), "the state directory was created under an untrusted parent")
        # ... unless it is a root-owned sticky directory, as /tmp is.
        os.chmod(parent, 0o1777)
        e.start()
        wait_saved(e)
        check(e.stop() == 0, f"exit status {e.returncode}")
        os.chmod(parent, 0o755)


def test_second_evd(evd_bin):
    require_root("files owned by root and by other users")
    with FaultEvd(evd_bin, CONF, "lock-first") as a, FaultEvd(evd_bin, CONF, "lock-second", start=False) as b:
        b.state_dir = a.state_dir
        refused(b, rf"State directory {re.escape(a.state_dir)} is in use by another evd \(pid {a.pid}\)",
                "a second evd")
        a.check_alive("after the second evd was refused ")
        wait_saved(a)
        check(a.stop() == 0, f"first evd: exit status {a.returncode}")
        b.start()  # the lock went with the first evd
        wait_saved(b)
        check(b.stop() == 0, f"exit status {b.returncode}")


def test_own_user(evd_bin):
    require_root("files owned by root and by other users")
    with TempUser() as u, FaultEvd(evd_bin, CONF, "own-user", run_as=u) as e:
        wait_saved(e)
        check(os.stat(e.state_dir).st_uid == u.uid, "the state directory is not the user's")
        check(e.stop() == 0, f"exit status {e.returncode}")


if __name__ == "__main__":
    run_tests([("fifo_state", test_fifo_state), ("fifo_temp", test_fifo_temp),
               ("hard_link_temp", test_hard_link_temp), ("untrusted", test_untrusted),
               ("second_evd", test_second_evd), ("own_user", test_own_user)])
