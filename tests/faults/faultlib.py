"""faultlib - what the fault tests add to the e2e harness (tests/e2e/evdtest.py).

evdtest.Evd is used as it is, through a subclass (FaultEvd) that can put a
launcher in front of evd: a list of argv words run first, which must end by
exec'ing evd with the arguments it is given, so that the pid the harness
holds stays evd's pid. Launchers used here: `prlimit`, `setpriv` (to run
evd as a throw-away user), `unshare --mount` with a setup script (tmpfs
mounts in a private mount namespace), and $EVD_TEST_WRAPPER (for example
valgrind) which is always put last, right before evd.

Throw-away users (TempUser) are created with useradd and always deleted
with userdel, also when a test fails.

Stdlib only; imported by the scripts in tests/faults/ and tests/soak/.
"""

import json
import os
import pwd
import random
import shlex
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "e2e"))

import evdtest  # noqa: E402
from evdtest import Evd, TestFailure, check, skip, wait_for  # noqa: E402,F401


def wrapper_words():
    w = os.environ.get("EVD_TEST_WRAPPER", "").strip()
    return shlex.split(w) if w else []


class FaultEvd(Evd):
    """An Evd with a launcher (list of argv words) in front of the binary,
    and optional chmod/chown of its directories before it starts (for evd
    running as another user)."""

    def __init__(self, binary, config, name="fault", launcher=None, run_as=None, **kw):
        self.launcher = list(launcher or [])
        self.run_as = run_as  # a TempUser: evd itself runs as this user
        start = kw.pop("start", True)
        super().__init__(binary, config, name, start=False, **kw)
        if run_as:
            # evd (not root) must create its socket and state directory, and
            # reach the notify socket root bound.
            os.chown(self.dir, run_as.uid, run_as.gid)
            os.chmod(self.notify.path, 0o666)
            self.launcher = ["setpriv", f"--reuid={run_as.uid}", f"--regid={run_as.gid}", "--clear-groups",
                             "--inh-caps=-all", "--"] + self.launcher
        if start:
            try:
                self.start()
            except BaseException:
                self.__exit__(*sys.exc_info())
                raise

    def argv(self):
        return self.launcher + wrapper_words() + super().argv()

    def ctl(self, *args, json_out=False, timeout=20):
        """evdctl against this evd: (exit status, stdout, stderr)."""
        evdctl = os.path.join(os.path.dirname(self.binary), "evdctl")
        cmd = [evdctl, "--socket", self.socket] + (["--json"] if json_out else []) + list(args)
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=timeout * evdtest.TIMEOUT_SCALE)
        return p.returncode, p.stdout, p.stderr

    def ctl_json(self, *args):
        rc, out, err = self.ctl(*args, json_out=True)
        check(rc == 0, f"evdctl --json {' '.join(args)}: exit {rc}: {out} {err}")
        return json.loads(out)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def check_alive(self, what=""):
        check(self.alive(), f"evd died {what}(exit {self.proc.returncode}):\n" + self.log_tail())


def evdctl_path(evd_bin):
    return os.path.join(os.path.dirname(os.path.abspath(evd_bin)), "evdctl")


def require_tool(*names):
    for n in names:
        if not any(os.access(os.path.join(d, n), os.X_OK) for d in os.environ.get("PATH", "/usr/bin:/bin").split(":")
                   + ["/usr/sbin", "/sbin", "/usr/bin"]):
            skip(f"{n} is not installed")


class TempUser:
    """A throw-away system user, deleted (userdel) on exit, whatever
    happened."""

    def __init__(self, prefix="evdf"):
        evdtest.require_root("creating a throw-away user")
        require_tool("useradd", "userdel")
        self.name = f"{prefix}{os.getpid() % 100000}{random.randrange(100, 999)}"
        p = subprocess.run(["useradd", "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent",
                            "--shell", "/usr/sbin/nologin", self.name], capture_output=True, text=True)
        if p.returncode != 0:
            skip(f"useradd failed: {p.stderr.strip()}")
        pw = pwd.getpwnam(self.name)
        self.uid, self.gid = pw.pw_uid, pw.pw_gid
        self.deleted = False

    def delete(self):
        if not self.deleted:
            subprocess.run(["userdel", self.name], capture_output=True)
            # userdel refuses while the user owns a process; it has none
            # once evd is gone, so a second try covers a late exit.
            try:
                pwd.getpwnam(self.name)
                time.sleep(0.5)
                subprocess.run(["userdel", "--force", self.name], capture_output=True)
            except KeyError:
                pass
            self.deleted = True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.delete()
        return False


def proc_status(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return line.split()[1]
    return None


def n_threads(pid):
    return int(proc_status(pid, "Threads"))


def n_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def cpu_seconds(pid):
    """utime + stime of a process (all threads), in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        s = f.read()
    rest = s[s.rindex(")") + 2:].split()
    return (int(rest[11]) + int(rest[12])) / os.sysconf("SC_CLK_TCK")


def prlimit_pid(pid, resource, soft, as_user=None):
    """Sets the soft limit of a running process, keeping its hard limit
    (prlimit(2) through the prlimit tool). Without CAP_SYS_RESOURCE (a
    container's root may lack it) only a process of the same user may do
    that: as_user (a TempUser) runs prlimit as evd's user."""
    cmd = ["prlimit", f"--pid={pid}", f"--{resource}={soft}:"]
    if as_user:
        cmd = ["setpriv", f"--reuid={as_user.uid}", f"--regid={as_user.gid}", "--clear-groups", "--"] + cmd
    p = subprocess.run(cmd, capture_output=True, text=True)
    check(p.returncode == 0, f"prlimit --{resource} on {pid}: {p.stderr}")


def require_ns_tools():
    """Skips unless a private mount namespace with a tmpfs can be made here
    (root without CAP_SYS_ADMIN, or a seccomp profile, cannot)."""
    require_tool("unshare", "nsenter", "mount")
    p = subprocess.run(["unshare", "--mount", "--propagation", "private", "--", "mount", "-t", "tmpfs", "-o",
                        "size=4k", "evd-fault-probe", "/mnt"], capture_output=True, text=True)
    if p.returncode != 0:
        skip(f"cannot mount a tmpfs in a private mount namespace: {p.stderr.strip()}")


def nsenter(pid, *cmd):
    """Runs a command in evd's mount namespace (no shell involved)."""
    p = subprocess.run(["nsenter", f"--target={pid}", "--mount", "--"] + list(cmd), capture_output=True, text=True)
    return p.returncode, p.stdout + p.stderr
