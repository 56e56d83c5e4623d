#!/usr/bin/env python3
"""test_notify.py - evd's sd_notify protocol, message by message.

No systemd here: the test plays the service manager. It binds the
$NOTIFY_SOCKET datagram socket itself, sets $WATCHDOG_USEC, runs evd, and
reads every message with its sender's credentials (SO_PASSCRED). Checks:
  - READY=1 with a STATUS= text once evd has started, and nothing before it
    but STATUS=;
  - WATCHDOG=1 about every WATCHDOG_USEC/2 while the loop runs;
  - SIGHUP: RELOADING=1 with MONOTONIC_USEC= (CLOCK_MONOTONIC, now), then
    READY=1; the same for a reload with an invalid configuration, which evd
    survives;
  - SIGTERM: STOPPING=1, then exit status 0;
  - every message comes from evd's own PID (systemd's NotifyAccess=main
    would drop anything else).
The real-systemd test (test_service.py) sees these through systemd's debug
log, which may drop messages under load; here nothing is lost.

Usage: test_notify.py EVD
"""
import array
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

WATCHDOG_USEC = 400_000

CONFIG = """\
[daemon]
shutdown_timeout = 2s

[job:later]
command = /bin/true
every = 1h
"""


class Failure(Exception):
    pass


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


class Manager:
    """The service manager's side of $NOTIFY_SOCKET."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.sock.bind(path)
        self.seen = []      # (monotonic time, pid, {field: value})

    def recv(self, timeout):
        """The next message as (pid, fields), or None after timeout s."""
        self.sock.settimeout(max(timeout, 0.001))
        try:
            data, anc, _, _ = self.sock.recvmsg(65536, socket.CMSG_SPACE(12))
        except socket.timeout:
            return None
        pid = None
        for level, kind, payload in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                pid = struct.unpack("iII", payload[:12])[0]
            elif level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                for fd in array.array("i", payload[:len(payload) - len(payload) % 4]):
                    os.close(fd)
        fields = {}
        for line in data.decode(errors="replace").split("\n"):
            if line:
                k, _, v = line.partition("=")
                fields[k] = v
        self.seen.append((time.monotonic(), pid, fields))
        return pid, fields

    def expect(self, what, pred, timeout):
        """Reads messages until pred(fields) holds; returns the messages
        read, that one last."""
        got = []
        deadline = time.monotonic() + timeout
        while True:
            m = self.recv(deadline - time.monotonic())
            if m is None:
                raise Failure(f"no {what} within {timeout}s; got {[f for _, f in got]}")
            got.append(m)
            if pred(m[1]):
                return got


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    evd = sys.argv[1]
    tmp = tempfile.mkdtemp(prefix="evd-notify-")
    conf = os.path.join(tmp, "evd.conf")
    with open(conf, "w") as f:
        f.write(CONFIG)
    os.chmod(conf, 0o644)
    mgr = Manager(os.path.join(tmp, "notify.sock"))
    env = {k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "WATCHDOG_PID", "LISTEN_FDS")}
    env.update(NOTIFY_SOCKET=os.path.join(tmp, "notify.sock"), WATCHDOG_USEC=str(WATCHDOG_USEC))
    p = subprocess.Popen([evd, "--config", conf, "--socket", os.path.join(tmp, "control.sock"),
                          "--state-directory", os.path.join(tmp, "state"), "--log-target", "console"],
                         env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        got = mgr.expect("READY=1", lambda f: "READY" in f, 20)
        for _, f in got[:-1]:
            if set(f) - {"STATUS"}:
                raise Failure(f"before READY=1 evd sent {f}")
        ready = got[-1][1]
        if ready.get("READY") != "1" or not ready.get("STATUS"):
            raise Failure(f"READY message without STATUS=: {ready}")
        log(f"READY=1 STATUS={ready['STATUS']!r}")

        t0 = time.monotonic()
        pings = 0
        while time.monotonic() - t0 < 2.0:
            m = mgr.recv(2.0 - (time.monotonic() - t0))
            if m and m[1].get("WATCHDOG") == "1":
                pings += 1
        # 2 s at one ping per 0.2 s: about 10; a loaded machine may lose some.
        if pings < 4:
            raise Failure(f"{pings} WATCHDOG=1 in 2s with WATCHDOG_USEC={WATCHDOG_USEC}")
        log(f"WATCHDOG=1: {pings} in 2s (WATCHDOG_USEC={WATCHDOG_USEC})")

        for label, text in (("reload", CONFIG + "\n[job:added]\ncommand = /bin/true\nevery = 1h\n"),
                            ("invalid reload", CONFIG + "\n[job:bad]\ncomand = /bin/true\n")):
            with open(conf, "w") as f:
                f.write(text)
            before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
            p.send_signal(signal.SIGHUP)
            got = mgr.expect("RELOADING=1", lambda f: "RELOADING" in f, 10)
            r = got[-1][1]
            after = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
            mono = r.get("MONOTONIC_USEC", "")
            if r["RELOADING"] != "1" or not mono.isdigit() or not before <= int(mono) <= after:
                raise Failure(f"{label}: {r} (CLOCK_MONOTONIC was {before}..{after} us)")
            got = mgr.expect("READY=1 after RELOADING=1", lambda f: "READY" in f, 10)
            log(f"{label}: RELOADING=1 MONOTONIC_USEC={mono} ... READY=1 STATUS={got[-1][1].get('STATUS')!r}")
            if p.poll() is not None:
                raise Failure(f"evd exited ({p.returncode}) after the {label}")

        p.send_signal(signal.SIGTERM)
        mgr.expect("STOPPING=1", lambda f: f.get("STOPPING") == "1", 10)
        log("STOPPING=1")
        rc = p.wait(timeout=30)
        if rc != 0:
            raise Failure(f"evd exited with {rc} after SIGTERM")
        while mgr.recv(0.05):
            pass
        senders = {pid for _, pid, _ in mgr.seen}
        if senders != {p.pid}:
            raise Failure(f"messages came from PIDs {senders}, not only from evd ({p.pid})")
        bad = [f for _, _, f in mgr.seen if any("%" in v for v in f.values())]
        if bad:
            raise Failure(f"unformatted '%' in {bad}")
        log(f"{len(mgr.seen)} messages, all from evd's PID {p.pid}; exit status 0")
    except Failure as e:
        print(f"FAIL: {e}", flush=True)
        if p.poll() is None:
            p.kill()
        out = p.communicate()[0]
        print("---- evd's output ----\n" + out.decode(errors="replace"), flush=True)
        return 1
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        mgr.sock.close()
        for root, dirs, files in os.walk(tmp, topdown=False):
            for n in files:
                os.unlink(os.path.join(root, n))
            for n in dirs:
                os.rmdir(os.path.join(root, n))
        os.rmdir(tmp)
    log("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
