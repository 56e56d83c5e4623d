"""evdtest - a harness for end-to-end tests of the real evd binary.

Every test gets a fresh temporary directory holding the configuration (mode
0644: evd refuses configurations writable by anyone but root), the state
directory, the control socket, a NOTIFY_SOCKET the test itself binds, and an
`out/` directory (mode 1777, so jobs running as another user can write
there) where jobs leave their evidence: timestamps, descriptor listings,
`id` output, environments.

Rules the tests follow:
  * waiting is polling with a generous deadline (wait_for); nothing asserts
    that something happened in less than N ms, only that it happened, in
    what order, and never too early;
  * only processes the harness started are signalled, by PID: evd itself,
    and at cleanup the process groups of runs evd logged as started, if evd
    did not end them (it died, or the test failed half way);
  * a skip exits 77 with its reason on stdout.

Stdlib only (Debian's /usr/bin/python3). The evd binary is argv[1].
"""

import os
import re
import select
import shutil
import signal
import socket
import subprocess
import textwrap
import sys
import tempfile
import threading
import time
import traceback

SKIP = 77

# Sanitizer builds run the daemon several times slower; e2e.cmake sets
# EVD_E2E_SLOW=1 for them so heavy tests shrink and deadlines grow.
SLOW = os.environ.get("EVD_E2E_SLOW", "") not in ("", "0")
TIMEOUT_SCALE = 3.0 if SLOW else 1.0


class TestFailure(AssertionError):
    pass


class Skip(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise TestFailure(msg)


def skip(reason):
    raise Skip(reason)


def require_root(what):
    if os.geteuid() != 0:
        skip(f"{what} needs root (run the e2e suite as root, as CI does)")


def wait_for(pred, timeout=10.0, interval=0.05, what=None):
    """Polls pred() until it returns a true value, which is returned. On a
    timeout raises TestFailure naming `what`. Deadlines are generous; the
    time it took is never asserted."""
    deadline = time.monotonic() + timeout * TIMEOUT_SCALE
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise TestFailure(f"timed out after {timeout * TIMEOUT_SCALE:.1f}s waiting for {what or pred}")
        time.sleep(interval)


def proc_stat(pid):
    """(state, ppid, pgrp, session) of a process, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    rest = s[s.rindex(")") + 2:].split()
    return rest[0], int(rest[1]), int(rest[2]), int(rest[3])


def pid_alive(pid):
    """True if the process exists and is not a zombie."""
    st = proc_stat(pid)
    return st is not None and st[0] not in ("Z", "X")


def pid_exists(pid):
    """True if the pid exists at all (a zombie included)."""
    return proc_stat(pid) is not None


def children_of(pid):
    """Processes whose parent is pid (any thread of it): [(child, state)]."""
    out = []
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                for c in f.read().split():
                    st = proc_stat(int(c))
                    if st:
                        out.append((int(c), st[0]))
        except FileNotFoundError:
            pass
    return out


def fd_table(pid):
    """{fd: target} of a process."""
    d = f"/proc/{pid}/fd"
    out = {}
    for name in os.listdir(d):
        try:
            out[int(name)] = os.readlink(f"{d}/{name}")
        except FileNotFoundError:
            pass
    return out


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def read_file(path, default=None):
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        return default


def read_lines(path):
    t = read_file(path, "")
    return [l for l in t.splitlines() if l.strip()]


def read_floats(path):
    """A file of one `date +%s.%N` timestamp (first word) per line."""
    return [float(l.split()[0]) for l in read_lines(path)]


def ctl(e, request, timeout=30):
    """One request on evd E's control socket (the raw protocol, no
    evdctl): returns (code, body)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    try:
        s.settimeout(timeout)
        s.connect(e.socket)
        s.sendall((request + "\n").encode())
        data = b""
        while True:
            b = s.recv(65536)
            if not b:
                break
            data += b
    finally:
        s.close()
    head, _, body = data.decode("utf-8", "replace").partition("\n")
    check(head.startswith("EVD/1 "), f"bad reply to {request!r}: {data[:200]!r}")
    return int(head.split()[1]), body


class Notify:
    """The NOTIFY_SOCKET evd reports to: every datagram, parsed."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        self.sock.bind(path)
        self.messages = []      # [(monotonic time received, {KEY: value})]
        self.lock = threading.Lock()
        self.stop = False
        self.thread = threading.Thread(target=self._reader, daemon=True)
        self.thread.start()

    def _reader(self):
        while not self.stop:
            r, _, _ = select.select([self.sock], [], [], 0.1)
            if not r:
                continue
            data = self.sock.recv(65536).decode("utf-8", "replace")
            fields = {}
            for line in data.split("\n"):
                if "=" in line:
                    k, v = line.split("=", 1)
                    fields[k] = v
            with self.lock:
                self.messages.append((time.monotonic(), fields))

    def all(self):
        with self.lock:
            return list(self.messages)

    def find(self, key, value=None, start=0):
        """Index of the first message from `start` on with key (= value)."""
        msgs = self.all()
        for i in range(start, len(msgs)):
            f = msgs[i][1]
            if key in f and (value is None or f[key] == value):
                return i
        return None

    def wait(self, key, value=None, start=0, timeout=10):
        i = wait_for(lambda: (lambda x: None if x is None else x + 1)(self.find(key, value, start)),
                     timeout, what=f"sd_notify {key}={value or '*'}")
        return i - 1

    def close(self):
        self.stop = True
        self.thread.join()
        self.sock.close()


class Evd:
    """One evd process with its own directory, configuration and notify
    socket. Use as a context manager; cleanup never fails silently on what
    it started."""

    def __init__(self, binary, config, name="test", extra_env=None, start=True, files=None, scripts=None):
        self.binary = os.path.abspath(binary)
        self.dir = tempfile.mkdtemp(prefix=f"evd-e2e-{name}-")
        os.chmod(self.dir, 0o755)
        self.out = os.path.join(self.dir, "out")
        os.mkdir(self.out)
        os.chmod(self.out, 0o1777)
        self.conf = os.path.join(self.dir, "evd.conf")
        self.state_dir = os.path.join(self.dir, "state")
        self.socket = os.path.join(self.dir, "control.sock")
        self.notify = Notify(os.path.join(self.dir, "notify.sock"))
        self.proc = None
        self.log_target = "console"
        self.ignored_signals = []       # dispositions evd inherits as SIG_IGN
        self.closed_stdio = False       # start evd with descriptors 0 and 1 closed
        self.notify_start = 0
        self.lines = []         # every stderr line, in order
        self.line_times = []    # monotonic time each arrived
        self.lines_lock = threading.Lock()
        self.run_pids = set()   # pids of runs evd logged as started
        self.extra_env = extra_env or {}
        self.returncode = None
        for rel, text in (files or {}).items():
            self.write(rel, text)
        # Job scripts: {DIR}/NAME, executable; a job runs them as
        # `command = {DIR}/NAME`. (inih cuts lines at 200 bytes, so long
        # shell commands live in scripts.)
        for rel, text in (scripts or {}).items():
            self.write(rel, "#!/bin/sh\n" + textwrap.dedent(text).lstrip("\n"), mode=0o755)
        self.write_config(config)
        if start:
            try:
                self.start()
            except BaseException:
                # No `with` body runs, so no __exit__: clean up here.
                self.__exit__(*sys.exc_info())
                raise

    # -- files

    def path(self, rel):
        return os.path.join(self.dir, rel)

    def o(self, rel):
        """A path under out/, for job evidence."""
        return os.path.join(self.out, rel)

    def write(self, rel, text, mode=0o644):
        p = self.path(rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        tmp = p + ".tmp"
        with open(tmp, "w") as f:
            f.write(self.expand(text))
        os.chmod(tmp, mode)
        os.rename(tmp, p)
        return p

    def expand(self, text):
        """{DIR} and {OUT} stand for the test's paths. Indentation is
        removed: inih reads an indented line as a continuation."""
        text = textwrap.dedent(text).lstrip("\n")
        return text.replace("{DIR}", self.dir).replace("{OUT}", self.out)

    def write_config(self, text):
        return self.write("evd.conf", text)

    # -- the process

    def argv(self):
        return [self.binary, "-c", self.conf, "--log-target", self.log_target, "--state-directory",
                self.state_dir, "--socket", self.socket]

    def env(self):
        env = {
            "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "LANG": "C.UTF-8",
            "NOTIFY_SOCKET": self.notify.path,
        }
        for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "TSAN_OPTIONS", "LSAN_OPTIONS", "TZ"):
            if k in os.environ:
                env[k] = os.environ[k]
        env.update(self.extra_env)
        return env

    def start(self, wait_ready=True):
        """Starts evd (again, after it exited: same directory and state)."""
        self.notify_start = len(self.notify.all())
        # Wall clock before evd exists: every deadline evd computes from
        # its start lies after this (a sound base for "not too early").
        self.launch_rt = time.time()
        ignored, closed = self.ignored_signals, self.closed_stdio

        def preexec():
            # As under nohup: evd must not pass these on to its jobs, and
            # must still receive SIGHUP.
            for sig in ignored:
                signal.signal(sig, signal.SIG_IGN)
            # Started with stdin and stdout closed: evd must not let its
            # own descriptors land on 0 and 1.
            if closed:
                os.close(0)
                os.close(1)
        self.proc = subprocess.Popen(self.argv(), stdin=None if closed else subprocess.DEVNULL,
                                     stdout=None if closed else subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=self.env(), cwd=self.dir,
                                     preexec_fn=preexec if ignored or closed else None)
        self.pid = self.proc.pid
        self.stdout = []
        self.reader = threading.Thread(target=self._read_stderr, daemon=True)
        self.reader.start()
        if self.proc.stdout:
            self.out_reader = threading.Thread(target=self._read_stdout, daemon=True)
            self.out_reader.start()
        if wait_ready:
            self.wait_ready()
        return self

    def _read_stderr(self):
        started = re.compile(r"\]: started \(pid (\d+)")
        for raw in self.proc.stderr:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            m = started.search(line)
            with self.lines_lock:
                if m:
                    self.run_pids.add(int(m.group(1)))
                self.lines.append(line)
                self.line_times.append(time.monotonic())
            if os.environ.get("EVD_E2E_VERBOSE"):
                print(f"evd[{self.pid}]: {line[:300]}", flush=True)

    def _read_stdout(self):
        for raw in self.proc.stdout:
            self.stdout.append(raw.decode("utf-8", "replace"))

    def wait_ready(self, timeout=15):
        def ready():
            if self.proc.poll() is not None:
                raise TestFailure(f"evd exited with {self.proc.returncode} before READY=1:\n" + self.log_tail())
            return self.notify.find("READY", "1", self.notify_start) is not None
        wait_for(ready, timeout, what="READY=1")
        self.ready_time = self.notify.all()[self.notify.find("READY", "1", self.notify_start)][0]

    def ready_realtime(self):
        """READY=1 of the current process as received, as a wall-clock time:
        later than evd's own start, a sound base for "not too late"."""
        return time.time() - (time.monotonic() - self.ready_time)

    def signal(self, sig):
        check(self.proc.poll() is None, f"evd is not running (exit {self.proc.returncode}):\n" + self.log_tail())
        os.kill(self.pid, sig)

    def reload(self, timeout=15):
        """SIGHUP; waits for RELOADING=1 and the READY=1 after it. Returns
        the index of the RELOADING=1 message."""
        n = len(self.notify.all())
        self.signal(signal.SIGHUP)
        i = self.notify.wait("RELOADING", "1", start=n, timeout=timeout)
        self.notify.wait("READY", "1", start=i + 1, timeout=timeout)
        return i

    def wait_exit(self, timeout=30):
        wait_for(lambda: self.proc.poll() is not None, timeout, what="evd to exit")
        self.reader.join(5)
        self.returncode = self.proc.returncode
        return self.returncode

    def stop(self, timeout=30):
        """SIGTERM, then the exit status (which must come)."""
        if self.proc.poll() is None:
            os.kill(self.pid, signal.SIGTERM)
        return self.wait_exit(timeout)

    # -- the log

    def evdctl(self, *args):
        """Runs the evdctl next to the binary against this evd's socket:
        (exit status, stdout, stderr)."""
        evdctl = os.path.join(os.path.dirname(self.binary), "evdctl")
        p = subprocess.run([evdctl, "--socket", self.socket] + list(args), capture_output=True, text=True,
                           timeout=120)
        return p.returncode, p.stdout, p.stderr

    def log(self):
        with self.lines_lock:
            return list(self.lines)

    def log_count(self):
        with self.lines_lock:
            return len(self.lines)

    def grep(self, pattern, start=0):
        rx = re.compile(pattern)
        return [l for l in self.log()[start:] if rx.search(l)]

    def wait_log(self, pattern, count=1, start=0, timeout=10):
        """Waits until `count` lines from index `start` on match; returns them."""
        rx = re.compile(pattern)

        def found():
            if self.proc.poll() is not None:
                self.reader.join(2)
            m = [l for l in self.log()[start:] if rx.search(l)]
            if len(m) >= count:
                return m
            if self.proc.poll() is not None:
                raise TestFailure(f"evd exited ({self.proc.returncode}) while waiting for {count} x /{pattern}/:\n"
                                  + self.log_tail())
            return None
        try:
            return wait_for(found, timeout, what=f"{count} log line(s) matching /{pattern}/")
        except TestFailure as e:
            raise TestFailure(f"{e}\n{self.log_tail()}") from None

    def log_tail(self, n=40):
        lines = self.log()[-n:]
        return "--- evd log (last %d lines) ---\n%s\n---" % (len(lines), "\n".join(l[:400] for l in lines))

    # -- cleanup

    def cleanup(self):
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.pid, signal.SIGTERM)
            try:
                self.proc.wait(10 * TIMEOUT_SCALE)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.proc.wait()
            self.returncode = self.proc.returncode
        # Runs evd started and did not end (it died, or a test gave up):
        # their process groups, only while they still are what evd started.
        with self.lines_lock:
            pids = list(self.run_pids)
        for pid in pids:
            st = proc_stat(pid)
            if st and st[2] == pid and st[0] != "Z":
                try:
                    os.killpg(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self.notify.close()
        if not os.environ.get("EVD_E2E_KEEP"):
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.cleanup()
        # A failing test shows what evd said; a sanitizer report always.
        log = self.log()
        san = [i for i, l in enumerate(log) if re.search(r"ERROR: AddressSanitizer|ERROR: LeakSanitizer|"
                                                         r"WARNING: ThreadSanitizer|runtime error:", l)]
        if san:
            print(f"--- sanitizer report from evd[{self.pid}] ---\n" + "\n".join(log[san[0]:san[0] + 120]))
        elif exc_type is not None and not issubclass(exc_type, Skip):
            print(self.log_tail(60))
        return False


def run_tests(tests):
    """Runs each (name, function(evd_binary)) in order; prints a summary.
    Exit status: 0 all passed, 77 all skipped, 1 otherwise. One test's
    failure does not stop the others."""
    if len(sys.argv) < 2:
        print(f"usage: {sys.argv[0]} PATH-TO-EVD [TEST-NAME...]", file=sys.stderr)
        sys.exit(2)
    binary = sys.argv[1]
    only = set(sys.argv[2:])
    if not os.access(binary, os.X_OK):
        print(f"SKIP: {binary} is not an executable evd")
        sys.exit(SKIP)
    failed, skipped, passed = [], [], []
    for name, fn in tests:
        if only and name not in only:
            continue
        t0 = time.monotonic()
        try:
            fn(binary)
        except Skip as e:
            print(f"SKIP {name}: {e}", flush=True)
            skipped.append(name)
            continue
        except Exception:
            print(f"FAIL {name} ({time.monotonic() - t0:.1f}s)", flush=True)
            traceback.print_exc()
            sys.stdout.flush()
            failed.append(name)
            continue
        print(f"ok   {name} ({time.monotonic() - t0:.1f}s)", flush=True)
        passed.append(name)
    print(f"{len(passed)} passed, {len(failed)} failed, {len(skipped)} skipped"
          + (f": FAILED {' '.join(failed)}" if failed else ""))
    if failed:
        sys.exit(1)
    if skipped and not passed:
        sys.exit(SKIP)
    sys.exit(0)
