"""A small harness for the evdctl end-to-end tests: a temporary directory,
a configuration file, the real evd started on a private socket and state
directory, and evdctl run against it.

Only processes started here are ever signalled, by their PID. Waits poll with
generous deadlines; nothing asserts that something was fast.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

SKIP = 77
DEADLINE = 60.0  # seconds: generous, for ASan builds on a loaded machine


SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:", "WARNING: ThreadSanitizer")


class TestFailure(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise TestFailure(msg)


def wait_until(pred, what, deadline=DEADLINE, interval=0.05):
    """Polls pred() until it returns a true value, which is returned."""
    end = time.monotonic() + deadline
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > end:
            raise TestFailure("timed out after %.0fs waiting for %s" % (deadline, what))
        time.sleep(interval)


class Result:
    def __init__(self, argv, rc, out, err):
        self.argv, self.rc, self.out, self.err = argv, rc, out, err

    def json(self):
        try:
            return json.loads(self.out)
        except ValueError as e:
            raise TestFailure("%s: stdout is not JSON (%s): %r" % (" ".join(self.argv), e, self.out))

    def __repr__(self):
        return "%s -> %d\n--- stdout\n%s--- stderr\n%s" % (" ".join(self.argv), self.rc, self.out, self.err)


def as_nobody():
    """preexec_fn: drop to nobody:nogroup with no supplementary groups."""
    os.setgroups([])
    os.setgid(65534)
    os.setuid(65534)


class Env:
    """A temporary directory holding evd.conf, the state directory and the
    socket; evd started in it; evdctl run against it."""

    def __init__(self, evd, evdctl, name):
        self.evd, self.evdctl = evd, evdctl
        self.dir = tempfile.mkdtemp(prefix="evdctl-%s-" % name)
        os.chmod(self.dir, 0o755)  # nobody must reach the socket
        self.conf = os.path.join(self.dir, "evd.conf")
        self.state = os.path.join(self.dir, "state")
        os.mkdir(self.state, 0o700)
        self.sock = os.path.join(self.dir, "control.sock")
        self.procs = []  # every evd started, to be sure they are stopped
        self.proc = None
        self.log_path = None
        self.n_logs = 0

    # --- configuration ---

    def write_conf(self, text, path=None):
        path = path or self.conf
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.rename(tmp, path)
        return path

    def path(self, name):
        return os.path.join(self.dir, name)

    # --- evd ---

    def start(self, extra_args=(), expect_ready=True, sock=None):
        self.n_logs += 1
        log_path = self.path("evd-%d.log" % self.n_logs)
        log = open(log_path, "w")
        argv = [self.evd, "-c", self.conf, "--log-target", "console", "--state-directory", self.state,
                "--socket", sock or self.sock] + list(extra_args)
        env = dict(os.environ)
        env.pop("NOTIFY_SOCKET", None)
        env.pop("WATCHDOG_USEC", None)
        env.pop("LISTEN_FDS", None)
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env)
        log.close()
        p.log_path = log_path
        self.procs.append(p)
        if not expect_ready:
            return p
        self.proc, self.log_path = p, log_path

        def ready():
            if p.poll() is not None:
                raise TestFailure("evd exited with %d before it was ready:\n%s" % (p.returncode, self.log(p)))
            r = self.ctl("stats", "--json")
            return r.rc == 0
        wait_until(ready, "evd to answer on %s" % self.sock)
        return p

    def log(self, p=None):
        p = p or self.proc
        try:
            with open(p.log_path, errors="replace") as f:  # evd logs bytes as they are
                return f.read()
        except OSError:
            return ""

    def stop(self, p=None):
        """SIGTERM to an evd started here, by PID; SIGKILL if it lingers."""
        p = p or self.proc
        if p is None or p.poll() is not None:
            return p.returncode if p else None
        os.kill(p.pid, signal.SIGTERM)
        try:
            return p.wait(timeout=DEADLINE)
        except subprocess.TimeoutExpired:
            os.kill(p.pid, signal.SIGKILL)
            p.wait()
            raise TestFailure("evd (pid %d) did not stop on SIGTERM:\n%s" % (p.pid, self.log(p)))

    def cleanup(self, keep=False):
        for p in self.procs:
            if p.poll() is None:
                try:
                    os.kill(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                p.wait()
        if keep:
            sys.stderr.write("kept %s\n" % self.dir)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)

    # --- evdctl ---

    def ctl(self, *args, socket_arg=True, env=None, user=None):
        argv = [self.evdctl] + (["--socket", self.sock] if socket_arg else []) + list(args)
        e = dict(os.environ)
        e.pop("EVD_SOCKET", None)
        if env:
            e.update(env)
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, env=e,
                           timeout=300, preexec_fn=as_nobody if user == "nobody" else None)
        check(not any(m in p.stderr for m in SANITIZER_MARKS), "sanitizer report from evdctl:\n%s" % p.stderr)
        return Result(argv, p.returncode, p.stdout, p.stderr)

    def ok(self, *args, **kw):
        r = self.ctl(*args, **kw)
        check(r.rc == 0, "expected exit 0: %r" % r)
        return r

    def job(self, name):
        return self.ok("status", name, "--json").json()

    # --- raw protocol ---

    def raw_connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(DEADLINE)
        s.connect(self.sock)
        return s


def read_all(s):
    """Reads until EOF (a reset after the reply counts as its end)."""
    chunks = []
    while True:
        try:
            b = s.recv(65536)
        except ConnectionResetError:
            break
        if not b:
            break
        chunks.append(b)
    return b"".join(chunks)


def count_lines(path):
    try:
        with open(path) as f:
            return sum(1 for _ in f)
    except FileNotFoundError:
        return 0


def main(tests, argv):
    """argv: EVD EVDCTL [TEST...]. Runs the named tests (all by default)."""
    if len(argv) < 3:
        sys.stderr.write("usage: %s EVD EVDCTL [TEST...]\n" % argv[0])
        return 2
    evd, evdctl = os.path.abspath(argv[1]), os.path.abspath(argv[2])
    if os.geteuid() != 0:
        print("SKIP: needs root (evd's socket is root's; the tests switch to nobody)")
        return SKIP
    for b in (evd, evdctl):
        if not os.access(b, os.X_OK):
            print("SKIP: %s is not built" % b)
            return SKIP
    names = argv[3:] or list(tests)
    failed = []
    for name in names:
        env = Env(evd, evdctl, name)
        keep = False
        t0 = time.monotonic()
        try:
            tests[name](env)
            for p in env.procs:  # stop them now, so sanitizers report
                if p.poll() is None:
                    env.stop(p)
            for p in env.procs:
                log = env.log(p)
                check(not any(m in log for m in SANITIZER_MARKS),
                      "sanitizer report in %s:\n%s" % (p.log_path, log[-6000:]))
            print("ok   %s (%.1fs)" % (name, time.monotonic() - t0))
        except (TestFailure, AssertionError, subprocess.TimeoutExpired) as e:
            keep = True
            failed.append(name)
            print("FAIL %s: %s" % (name, e))
            if env.proc is not None:
                print("--- evd log (%s)\n%s" % (env.log_path, env.log()))
        finally:
            for p in env.procs:
                if p.poll() is None:
                    try:
                        env.stop(p)
                    except TestFailure as e:
                        print("cleanup: %s" % e)
            env.cleanup(keep=keep)
        sys.stdout.flush()
    if failed:
        print("failed: %s" % " ".join(failed))
        return 1
    return 0
