#!/usr/bin/env python3
"""test_watchdog.py - systemd's watchdog catches a stalled evd main loop.

The shipped unit runs under a private systemd (sdboot.py), with a drop-in
that shortens WatchdogSec= and RestartSec= and enables evd's test hooks
(EVD_TEST_HOOKS=1). Checks:
  - while the loop runs, WATCHDOG=1 keeps arriving (systemd's
    WatchdogTimestamp moves) and evd stays up well past WatchdogSec;
  - after the control request "test-stall 60" blocks the main loop, systemd
    declares a watchdog timeout, kills evd and, as Restart=on-failure says,
    starts a new one, which reaches READY again.

Usage: test_watchdog.py EVD UNIT_FILE
Exit status: 0 pass, 1 fail, 77 skipped (the reason is printed), e.g. when
evd was built without EVD_TEST_HOOKS.
"""
import os
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sdboot  # noqa: E402
from sdboot import NS_DIR, Failure, log, poll  # noqa: E402

UNIT = "evd"
CONFIG = f"{NS_DIR}/evd.conf"
WATCHDOG_SEC = 4
SOCKET = "/run/evd/control.sock"   # RuntimeDirectory=evd

CONFIG_TEXT = """\
[daemon]
shutdown_timeout = 2s
kill_grace = 1s

[job:tick]
command = /bin/echo tick
every = 1s
"""

DROPIN = f"""\
# Test only: a short watchdog so the test is quick, a quick restart, and
# evd's test hooks on; no core file of the aborted evd on the machine's disk.
[Service]
WatchdogSec={WATCHDOG_SEC}s
RestartSec=1s
Environment=EVD_TEST_HOOKS=1
LimitCORE=0
"""

# Runs inside the namespaces: asks evd to block its main loop. Exits 3 with
# evd's answer if evd answers at once (no test hooks), else waits until evd
# dies (the connection ends) and exits 0.
STALL_CLIENT = r"""
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.sendall(b"test-stall 60\n")
s.settimeout(2)
try:
    reply = s.recv(4096)
except socket.timeout:
    print("no reply: the loop is stalled", flush=True)
    s.settimeout(120)
    try:
        s.recv(4096)
    except OSError:
        pass
    sys.exit(0)
print("evd answered: " + reply.decode(errors="replace"), flush=True)
sys.exit(3)
"""


def require(cond, msg):
    if not cond:
        raise Failure(msg)


def show(sd):
    return sd.show(UNIT, "ActiveState", "SubState", "MainPID", "NRestarts", "Result",
                   "WatchdogUSec", "WatchdogTimestampMonotonic", "StatusText")


def run_test(sd):
    log("systemctl start evd")
    sd.systemctl("start", UNIT)
    p = show(sd)
    log(f"  {p}")
    require(p["ActiveState"] == "active", f"after start: {p}")
    require(p["WatchdogUSec"] == f"{WATCHDOG_SEC}s", f"WatchdogUSec={p['WatchdogUSec']}: drop-in not applied?")
    first_pid = int(p["MainPID"])
    ts0 = int(p["WatchdogTimestampMonotonic"] or 0)

    # Alive for two watchdog periods: the pings arrive.
    time.sleep(2 * WATCHDOG_SEC)
    p = show(sd)
    require(p["ActiveState"] == "active" and int(p["MainPID"]) == first_pid and p["NRestarts"] == "0",
            f"evd did not survive {2 * WATCHDOG_SEC}s with WatchdogSec={WATCHDOG_SEC}s: {p}")
    ts1 = int(p["WatchdogTimestampMonotonic"] or 0)
    require(ts1 > ts0, f"no WATCHDOG=1 arrived: WatchdogTimestampMonotonic stays {ts0}")
    log(f"  pings arrive: WatchdogTimestampMonotonic {ts0} -> {ts1}")

    cursor = sd.cursor()
    log("stalling the main loop (control request test-stall 60)")
    env = dict(os.environ, LC_ALL="C.UTF-8")
    client = subprocess.Popen(["nsenter", "-t", str(sd.pid), "-m", "-p", "--", "/usr/bin/python3", "-c",
                               STALL_CLIENT, SOCKET],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        try:
            out, _ = client.communicate(timeout=3)
            if client.returncode == 3:
                sdboot.skip(f"evd has no test-stall hook (built without EVD_TEST_HOOKS?): {out.strip()}")
            raise Failure(f"the stall request failed ({client.returncode}): {out.strip()}")
        except subprocess.TimeoutExpired:
            pass

        def restarted():
            q = show(sd)
            if q["NRestarts"] == "1" and q["ActiveState"] == "active" and q["SubState"] == "running":
                return q
            return None
        q = poll("systemd to kill the stalled evd and start a new one", restarted, 4 * WATCHDOG_SEC + 20)
        log(f"  {q}")
        require(int(q["MainPID"]) != first_pid, f"MainPID {first_pid} was not replaced")
        require(q["StatusText"].strip(), "the new evd sent no STATUS=")

        pid1 = [e for e in sd.journal_since(cursor, "-u", UNIT) if e.get("_PID") == "1"]
        msgs = [str(e.get("MESSAGE")) for e in pid1]
        require(any("Watchdog timeout" in m for m in msgs),
                f"systemd logged no watchdog timeout; it said: {msgs}")
        require(any("'watchdog'" in m for m in msgs), f"the unit did not fail with result 'watchdog': {msgs}")
        for m in msgs:
            if "atchdog" in m or "Scheduled restart" in m:
                log(f"  systemd: {m!r}")
    finally:
        if client.poll() is None:
            client.kill()
        client.wait()

    log("systemctl stop evd")
    sd.systemctl("stop", UNIT, timeout=60)
    state = sd.systemctl("is-active", UNIT, check=False).stdout.strip()
    require(state == "inactive", f"after stop: {state}")


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    evd, shipped = sys.argv[1], sys.argv[2]
    sdboot.check_environment()
    sdboot.install_signal_handlers()
    units = sdboot.evd_units(evd, shipped, DROPIN)
    files = {"bin/evd": (evd, 0o755), "evd.conf": (CONFIG_TEXT.encode(), 0o644)}
    with sdboot.PrivateSystemd(files, units) as sd:
        try:
            run_test(sd)
        except Failure as e:
            print(f"FAIL: {e}", flush=True)
            sd.dump(UNIT)
            return 1
    log("PASS")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Failure as e:
        print(f"FAIL: {e}", flush=True)
        sys.exit(1)
