#!/usr/bin/python3
"""End-to-end tests of evdctl and evd's control socket.

usage: test_evdctl.py EVD EVDCTL [TEST...]   (all tests without a name)

Each test starts its own evd on a private socket and state directory in a
temporary directory; see harness.py. Exit 77 (skip) when not root.
"""

import datetime
import grp
import subprocess
import json
import math
import os
import selectors
import socket
import stat
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (DEADLINE, TestFailure, check, count_lines, main, read_all,  # noqa: E402
                     wait_until)

DAEMON = """[daemon]
workers = 4
shutdown_timeout = 2s
kill_grace = 1s
"""


def gate_cmd(env, name):
    """A command that runs until the test creates the file `name`."""
    return "/bin/sh -c 'while [ ! -e %s ]; do sleep 0.05; done'" % env.path(name)


def tick_job(env, name="tick", extra=""):
    return """
[job:%s]
command = date +%%s.%%N >> %s
shell = yes
calendar = *:*:0/1
overlap = parallel
%s""" % (name, env.path(name + ".ticks"), extra)


def width(line):
    return len(line)  # text mode decoded UTF-8: "…" is one character


def parse_iso(s):
    check(isinstance(s, str) and len(s) >= 25 and s[10] == "T", "not an ISO 8601 time with offset: %r" % s)
    t = datetime.datetime.fromisoformat(s)
    check(t.tzinfo is not None, "no UTC offset in %r" % s)
    return t


# ---------------------------------------------------------------------------

def test_commands(env):
    """Every command in text and --json; exit codes 0, 1, 2, 3, 4."""
    long_name = "nightly-database-backup-with-a-long-name"
    env.write_conf(DAEMON + """
[job:alpha]
command = /bin/true
every = 1h

[job:beta]
command = /bin/false
calendar = Mon..Fri *-*-* 02:30:00
timezone = UTC

[job:%s]
command = /bin/true
cron = 30 2 * * 1-5
timezone = UTC

[job:slow]
command = %s
every = 1h
overlap = skip
""" % (long_name, gate_cmd(env, "slow.go")))
    env.start()

    # --help, --version: no daemon needed, exit 0
    r = env.ctl("--help", socket_arg=False)
    check(r.rc == 0 and "Usage: evdctl" in r.out, "--help: %r" % r)
    for cmd in ("list", "status", "run", "reload", "next", "stats", "pause", "resume", "calendar", "history", "log",
                "import-crontab"):
        check(cmd in r.out, "--help does not mention %s" % cmd)
    check(all(width(l) <= 80 for l in r.out.splitlines()), "--help is wider than 80 columns")
    # history and log: listed from the command table, arguments checked
    # against it before the journal is opened
    check("\n  history JOB [-n N] [-D DIR]\n" in r.out and "\n  log JOB [RUN] [-D DIR]\n" in r.out,
          "--help: history and log usage: %r" % r.out)
    for args, rc, err in ((("history",), 2, "evdctl history: a job name is needed\n"),
                          (("log",), 2, "evdctl log: a job name is needed\n"),
                          (("history", "a", "b"), 2, "evdctl history: too many arguments\n"),
                          (("log", "a", "1", "2"), 2, "evdctl log: too many arguments\n"),
                          (("history", "a b"), 3, "evdctl: no such job: a b"),
                          (("log", "x/y", "1"), 3, "evdctl: no such job: x/y")):
        r = env.ctl(*args, socket_arg=False)
        check(r.rc == rc and r.err.startswith(err), "%s: %r" % (" ".join(args), r))
        if rc == 2:
            check("Usage: evdctl " in r.err and args[0] + " JOB" in r.err, "%s: no usage: %r" % (args, r))
    r = env.ctl("history", "--help", socket_arg=False)
    check(r.rc == 0 and r.out.startswith("Usage: evdctl [--json] history JOB [-n N] [-D DIR]\n"),
          "history --help: %r" % r)
    r = env.ctl("--version", socket_arg=False)
    check(r.rc == 0 and r.out.startswith("evdctl "), "--version: %r" % r)

    # list
    r = env.ok("list")
    lines = r.out.splitlines()
    check(lines[0].split()[:2] == ["JOB", "SCHEDULE"], "list header: %r" % r)
    check(len(lines) == 5, "list: 4 jobs expected: %r" % r)
    for l in lines:
        check(width(l) <= 79, "list line wider than 79 columns (%d): %r" % (width(l), l))
    check(any(l.startswith("alpha ") for l in lines) and any(l.startswith("beta ") for l in lines), repr(r))
    check(any("every 1h" in l for l in lines), "list: schedule of alpha: %r" % r)
    for form in (("--json", "list"), ("list", "--json"), ("-j", "list")):
        r = env.ok(*form)
        jobs = {j["name"]: j for j in r.json()["jobs"]}
        check(set(jobs) == {"alpha", "beta", long_name, "slow"}, "list --json names: %r" % r)
        for key in ("schedule", "state", "last_run", "result", "next_run", "runs", "failures", "paused"):
            check(key in jobs["alpha"], "list --json: no %s" % key)
        check(jobs[long_name]["schedule"] == "cron 30 2 * * 1-5", "list --json schedule: %r" % r)
        check(jobs["alpha"]["state"] == "idle" and jobs["alpha"]["last_run"] is None, repr(r))
        parse_iso(jobs["beta"]["next_run"])

    # EVD_SOCKET instead of --socket
    r = env.ctl("list", socket_arg=False, env={"EVD_SOCKET": env.sock})
    check(r.rc == 0 and "alpha" in r.out, "EVD_SOCKET: %r" % r)

    # status
    r = env.ok("status")
    check(r.out.startswith("evd (pid %d)" % env.proc.pid), "status: %r" % r)
    check("beta" in r.out and "defined:" in r.out, "status: %r" % r)
    j = env.ok("status", "--json").json()
    check(j["pid"] == env.proc.pid and len(j["jobs"]) == 4 and isinstance(j["status"], str), repr(j))
    r = env.ok("status", "beta")
    check(r.out.startswith("beta\n") and "Mon..Fri" in r.out and "%s:" % env.conf in r.out, "status beta: %r" % r)
    j = env.job("beta")
    check(j["name"] == "beta" and j["command"] == "/bin/false" and j["file"] == env.conf, repr(j))
    check(j["overlap"] == "skip" and j["runs"] == 0 and j["last_result"] is None, repr(j))
    check(len(j["next"]) >= 1, repr(j))

    # run: 0, and the run's result reaches status/list
    r = env.ok("run", "alpha")
    check(r.out.strip() == "alpha: started", "run alpha: %r" % r)
    wait_until(lambda: env.job("alpha")["runs"] >= 1, "alpha's run to end")
    j = env.job("alpha")
    check(j["last_result"] == "exit status 0" and parse_iso(j["last_run"]), repr(j))
    j = env.ok("run", "beta", "--json").json()
    check(j == {"job": "beta", "outcome": "started"}, repr(j))
    wait_until(lambda: env.job("beta")["runs"] >= 1, "beta's run to end")
    check(env.job("beta")["last_result"] == "exit status 1", "beta's result")
    r = env.ok("list")
    beta = [l for l in r.out.splitlines() if l.startswith("beta ")][0]
    check("exit 1" in beta, "list: beta's result: %r" % beta)
    alpha = [l for l in r.out.splitlines() if l.startswith("alpha ")][0]
    check(" ok " in alpha, "list: alpha's result: %r" % alpha)
    j = {x["name"]: x for x in env.ok("list", "--json").json()["jobs"]}
    check(j["beta"]["ok"] is False and j["alpha"]["ok"] is True and j["beta"]["failures"] == 1, repr(j))

    # exit 1: a run that overlap=skip refuses
    env.ok("run", "slow")
    wait_until(lambda: env.job("slow")["state"] == "running", "slow to run")
    r = env.ctl("run", "slow")
    check(r.rc == 1 and "skipped" in r.err and "overlap=skip" in r.err and r.out == "", "run slow again: %r" % r)
    r = env.ctl("run", "slow", "--json")
    check(r.rc == 1 and r.json() == {"job": "slow", "outcome": "skipped"}, "run slow --json: %r" % r)
    open(env.path("slow.go"), "w").close()

    # next
    r = env.ok("next", "beta", "3")
    times = r.out.splitlines()
    check(len(times) == 3 and all("02:30:00" in t for t in times), "next beta 3: %r" % r)
    j = env.ok("next", "beta", "5", "--json").json()
    check(j["job"] == "beta" and len(j["next"]) == 5, repr(j))
    prev = None
    for s in j["next"]:
        t = parse_iso(s).astimezone(datetime.timezone.utc)
        check(t.weekday() < 5 and (t.hour, t.minute, t.second) == (2, 30, 0), "next beta: %s" % s)
        check(prev is None or t > prev, "next beta: not increasing")
        prev = t
    r = env.ok("next", "alpha")
    check(len(r.out.splitlines()) == 1, "next alpha: %r" % r)
    j = env.ok("--json", "next", "alpha", "3").json()
    ts = [parse_iso(s) for s in j["next"]]
    check(len(ts) == 3 and ts[1] - ts[0] == datetime.timedelta(hours=1), "next alpha 3: %r" % j)

    # pause / resume
    r = env.ok("pause", "alpha")
    check(r.out.strip() == "alpha: paused", repr(r))
    r = env.ok("pause", "alpha")
    check(r.out.strip() == "alpha: already paused", repr(r))
    check(env.job("alpha")["paused"] is True and env.job("alpha")["state"] == "paused", "alpha paused")
    j = env.ok("resume", "alpha", "--json").json()
    check(j == {"job": "alpha", "paused": False, "changed": True}, repr(j))
    j = env.ok("resume", "alpha", "--json").json()
    check(j["changed"] is False, repr(j))
    j = env.ok("pause", "alpha", "--json").json()
    check(j == {"job": "alpha", "paused": True, "changed": True}, repr(j))
    r = env.ok("resume", "alpha")
    check(r.out.strip() == "alpha: resumed", repr(r))

    # reload (valid)
    r = env.ok("reload")
    check("reloaded" in r.out and "4 jobs" in r.out, "reload: %r" % r)
    j = env.ok("reload", "--json").json()
    check(j["reloaded"] is True and j["jobs"] == 4 and j["errors"] == [], repr(j))

    # stats
    r = env.ok("stats")
    rows = dict(l.split(None, 1) for l in r.out.splitlines())
    check(rows["pid"] == str(env.proc.pid) and rows["jobs"] == "4", "stats: %r" % r)
    j = env.ok("stats", "--json").json()
    check(j["pid"] == env.proc.pid and j["jobs"] == 4 and j["control_requests"] > 10, repr(j))
    check(j["runs_started"] >= 3, repr(j))

    # calendar: no daemon needed, both forms
    r = env.ctl("calendar", "--iterations", "2", "--base-time", "@0", "-z", "UTC", "daily", socket_arg=False)
    check(r.rc == 0 and "1970-01-02 00:00:00" in r.out, "calendar: %r" % r)
    r = env.ctl("--json", "calendar", "--base-time", "@0", "-z", "UTC", "cron:30 2 * * *", socket_arg=False)
    check(r.rc == 0 and r.json()["next"] == ["1970-01-01T02:30:00+00:00"], "calendar --json: %r" % r)

    # exit 3: no such job, text and JSON
    for args in (("status", "nosuch"), ("run", "nosuch"), ("next", "nosuch"), ("pause", "nosuch"),
                 ("resume", "nosuch")):
        r = env.ctl(*args)
        check(r.rc == 3 and "no such job: nosuch" in r.err and r.out == "", "%s: %r" % (args, r))
        r = env.ctl(*args, "--json")
        check(r.rc == 3 and r.json() == {"error": "no such job: nosuch", "code": 3}, "%s --json: %r" % (args, r))
    r = env.ctl("status", "bad name;")
    check(r.rc == 3 and "no such job" in r.err, "invalid job name: %r" % r)

    # exit 2: usage
    for args in ((), ("bogus",), ("list", "extra"), ("run",), ("run", "a", "b"), ("next", "alpha", "0"),
                 ("next", "alpha", "101"), ("next", "alpha", "x"), ("list", "--bogus"), ("--bogus", "list"),
                 ("status", "a", "b"), ("reload", "now"), ("pause",)):
        r = env.ctl(*args)
        check(r.rc == 2 and r.err.startswith("evdctl") and r.out == "", "usage %s: %r" % (args, r))
    r = env.ctl("list", "--socket", socket_arg=False)
    check(r.rc == 2, "--socket without a path: %r" % r)

    # exit 4: no socket; a socket nobody listens on
    missing = env.path("missing.sock")
    r = env.ctl("--socket", missing, "list", socket_arg=False)
    check(r.rc == 4, "missing socket: %r" % r)
    check(r.err.strip() == "evdctl: cannot reach evd at %s: No such file or directory (is evd running?)" % missing,
          "missing socket message: %r" % r)
    r = env.ctl("list", "--json", socket_arg=False, env={"EVD_SOCKET": missing})
    check(r.rc == 4 and missing in r.err and r.out == "", "missing socket (EVD_SOCKET): %r" % r)
    stale = env.path("stale.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(stale)  # bound, never listening: like a socket left by a crashed evd
    r = env.ctl("--socket", stale, "status", socket_arg=False)
    s.close()
    check(r.rc == 4 and "Connection refused" in r.err and stale in r.err, "stale socket: %r" % r)

    check(env.proc.poll() is None, "evd died")
    check(env.stop() == 0, "evd's exit status after SIGTERM")


# ---------------------------------------------------------------------------

def test_access(env):
    """A client that is neither root nor in control_group is refused, both by
    the socket's mode and by evd's own check of its credentials."""
    env.write_conf(DAEMON + """
[job:alpha]
command = /bin/true
every = 1h
""")
    env.start()
    st = os.stat(env.sock)
    check(stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o660 and st.st_uid == 0,
          "socket mode %o uid %d" % (stat.S_IMODE(st.st_mode), st.st_uid))

    r = env.ctl("list", user="nobody")
    check(r.rc == 1 and r.out == "", "nobody, socket 0660: %r" % r)
    check(env.sock in r.err and "Permission denied" in r.err and "control_group" in r.err, "message: %r" % r)

    # With the socket opened to everyone, evd itself must still refuse.
    os.chmod(env.sock, 0o666)
    for args in (("list",), ("run", "alpha"), ("list", "--json"), ("reload",)):
        r = env.ctl(*args, user="nobody")
        check(r.rc == 1 and "permission denied" in r.err and "control_group" in r.err and r.out == "",
              "nobody, socket 0666, %s: %r" % (args, r))
    j = env.ok("stats", "--json").json()
    check(j["control_refused"] >= 4, "control_refused: %r" % j)
    check(env.job("alpha")["runs"] == 0 and env.job("alpha")["state"] == "idle", "nobody's run must not start")
    env.ok("list")
    check(env.stop() == 0, "evd's exit status")

    # control_group: its members are served (nobody's group is nogroup).
    group = grp.getgrgid(65534).gr_name
    env.write_conf(DAEMON + "control_group = %s\n" % group + """
[job:alpha]
command = /bin/true
every = 1h
""")
    env.start()
    st = os.stat(env.sock)
    check(st.st_gid == 65534 and stat.S_IMODE(st.st_mode) == 0o660, "socket group %d mode %o" %
          (st.st_gid, stat.S_IMODE(st.st_mode)))
    r = env.ctl("list", "--json", user="nobody")
    check(r.rc == 0 and r.json()["jobs"][0]["name"] == "alpha", "nobody in control_group: %r" % r)


# ---------------------------------------------------------------------------

def test_abuse(env):
    """Idle clients, 1 MB of garbage, 500 clients at once: the loop keeps
    every one-second run on time, evd stays up, and still answers."""
    env.write_conf(DAEMON + tick_job(env))
    env.start()
    ticks = env.path("tick.ticks")
    wait_until(lambda: count_lines(ticks) >= 2, "the first ticks")
    t0 = time.time()

    # 1. Clients that connect and send nothing: evd still answers others,
    # and drops them by itself.
    idle = [env.raw_connect() for _ in range(10)]
    r = env.ok("list")
    check("tick" in r.out, repr(r))
    for s in idle:
        s.settimeout(DEADLINE)
        check(read_all(s) == b"", "an idle client got a reply")  # EOF: evd closed it
        s.close()

    # More idle clients than evd serves at once: a real request waits for a
    # slot (idle ones time out) but is answered.
    idle = [env.raw_connect() for _ in range(100)]
    r = env.ctl("stats", "--json")
    check(r.rc == 0, "stats behind 100 idle clients: %r" % r)
    for s in idle:
        s.close()

    # 2. 1 MB of garbage without a newline: "request too long", dropped.
    def garbage(payload):
        s = env.raw_connect()
        try:
            s.sendall(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # evd stopped reading, as it should
        reply = read_all(s)
        s.close()
        return reply

    reply = garbage(b"A" * (1 << 20))
    check(reply.startswith(b"EVD/1 2\n") and b"too long" in reply, "1 MB of A: %r" % reply[:200])
    reply = garbage(os.urandom(1 << 20))
    check(reply.startswith(b"EVD/1 2\n"), "1 MB of random bytes: %r" % reply[:200])
    reply = garbage(b"\x00\x01\x02binary\n")
    check(reply.startswith(b"EVD/1 2\nmalformed"), "control bytes: %r" % reply[:200])
    reply = garbage(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    check(reply.startswith(b"EVD/1 2\n"), "HTTP: %r" % reply[:200])
    reply = garbage(b"list\n")
    check(reply.startswith(b"EVD/1 0\nJOB"), "raw list: %r" % reply[:200])

    # 3. 500 clients at once, each asking for the list.
    n = 500
    sel = selectors.DefaultSelector()
    pending = list(range(n))
    socks, replies, done = {}, {i: b"" for i in range(n)}, set()
    end = time.monotonic() + 4 * DEADLINE
    while pending or len(done) < n:
        check(time.monotonic() < end, "500 clients: %d of %d answered" % (len(done), n))
        still = []
        for i in pending:  # connect what the backlog takes; retry the rest
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.setblocking(False)
            try:
                s.connect(env.sock)
            except (BlockingIOError, InterruptedError):
                s.close()
                still.append(i)
                continue
            socks[i] = s
            try:
                s.send(b"list --json\n")
            except BlockingIOError:
                pass
            sel.register(s, selectors.EVENT_READ, i)
        pending = still
        for key, _ in sel.select(timeout=0.1):
            i = key.data
            try:
                b = key.fileobj.recv(65536)
            except BlockingIOError:
                continue
            except ConnectionResetError:
                b = b""
            if b:
                replies[i] += b
            else:
                sel.unregister(key.fileobj)
                key.fileobj.close()
                done.add(i)
    sel.close()
    for i in range(n):
        body = replies[i]
        check(body.startswith(b"EVD/1 0\n"), "client %d: %r" % (i, body[:100]))
        check(json.loads(body[8:])["jobs"][0]["name"] == "tick", "client %d: bad JSON" % i)

    # Meanwhile, evd answered and ran every second's run.
    t1 = time.time()
    j = env.ok("stats", "--json").json()
    check(j["control_bad_requests"] >= 4, "control_bad_requests: %r" % j)
    wait_until(lambda: count_lines(ticks) > 0 and max(float(x) for x in open(ticks)) > t1 + 1.5,
               "ticks after the flood")
    got = {math.floor(float(x)) for x in open(ticks)}
    missing = [s for s in range(math.ceil(t0) + 1, math.floor(t1)) if s not in got]
    check(not missing, "seconds without their run during the abuse (%d of %d): %s" %
          (len(missing), math.floor(t1) - math.ceil(t0) - 1, missing[:20]))
    check(env.job("tick")["skipped"] == 0, "tick runs skipped")
    check(env.proc.poll() is None, "evd died")
    check(env.stop() == 0, "evd's exit status")


# ---------------------------------------------------------------------------

def test_reload(env):
    """`evdctl reload` with a broken file: every error with file:line, exit 1,
    and the old configuration keeps running. Then a good one is applied."""
    inc_dir = env.path("evd.d")
    os.mkdir(inc_dir, 0o755)
    good = DAEMON + tick_job(env) + """
[include]
files = %s/*.conf
""" % inc_dir
    env.write_conf(good)
    env.write_conf("[job:included]\ncommand = /bin/true\nevery = 1h\n", os.path.join(inc_dir, "a.conf"))
    env.start()
    ticks = env.path("tick.ticks")
    wait_until(lambda: count_lines(ticks) >= 1, "the first tick")
    before = env.ok("list", "--json").json()

    broken = good + """
[job:broken]
comand = /bin/true
every = 1h

[job:badcal]
command = /bin/true
calendar = Mon..Fri 99:99
"""
    env.write_conf(broken)
    lines = broken.splitlines()
    typo_line = lines.index("comand = /bin/true") + 1
    cal_line = lines.index("calendar = Mon..Fri 99:99") + 1
    env.write_conf("[job:included]\ncommand = /bin/true\nevery = 1h\nbogus_key = 1\n",
                   os.path.join(inc_dir, "a.conf"))

    r = env.ctl("reload")
    check(r.rc == 1 and r.out == "", "broken reload: %r" % r)
    check("%s:%d:" % (env.conf, typo_line) in r.err, "no %s:%d: in %r" % (env.conf, typo_line, r.err))
    check("%s:%d:" % (env.conf, cal_line) in r.err, "no %s:%d: in %r" % (env.conf, cal_line, r.err))
    check("%s:4:" % os.path.join(inc_dir, "a.conf") in r.err, "no error in the included file: %r" % r.err)
    check("unchanged" in r.err, "reload failure does not say the old configuration stays: %r" % r)
    r = env.ctl("reload", "--json")
    check(r.rc == 1, "broken reload --json: %r" % r)
    j = r.json()
    check(j["reloaded"] is False and len(j["errors"]) >= 3, repr(j))
    for e in j["errors"]:
        check(e.split(":")[0].startswith(env.dir) and e.split(":")[1].isdigit(), "error without file:line: %r" % e)

    # the old configuration is untouched and keeps running
    after = env.ok("list", "--json").json()
    check([x["name"] for x in after["jobs"]] == [x["name"] for x in before["jobs"]], "jobs changed: %r" % after)
    n = count_lines(ticks)
    wait_until(lambda: count_lines(ticks) >= n + 2, "ticks after the failed reload")
    j = env.ok("stats", "--json").json()
    check(j["reload_failures"] == 2, repr(j))

    # a missing file is an error too, with its name
    os.rename(env.conf, env.conf + ".away")
    r = env.ctl("reload")
    check(r.rc == 1 and env.conf in r.err, "reload of a missing file: %r" % r)
    os.rename(env.conf + ".away", env.conf)

    # fixed: applied
    env.write_conf(good + "\n[job:new]\ncommand = /bin/true\nevery = 2h\n")
    env.write_conf("[job:included]\ncommand = /bin/true\nevery = 1h\n", os.path.join(inc_dir, "a.conf"))
    r = env.ok("reload")
    check("reloaded" in r.out, repr(r))
    names = [x["name"] for x in env.ok("list", "--json").json()["jobs"]]
    check(sorted(names) == ["included", "new", "tick"], "jobs after reload: %r" % names)
    check(env.proc.poll() is None, "evd died")


# ---------------------------------------------------------------------------

def test_pause_restart(env):
    """A paused job stays paused across a restart (the state directory)."""
    env.write_conf(DAEMON + tick_job(env) + """
[job:other]
command = /bin/true
every = 1h
""")
    env.start()
    ticks = env.path("tick.ticks")
    wait_until(lambda: count_lines(ticks) >= 1, "the first tick")
    env.ok("pause", "tick")
    check(env.job("tick")["paused"] is True, "paused")

    def stays_paused():
        n = count_lines(ticks)
        time.sleep(1)  # a run started just before the pause may still write
        n = count_lines(ticks)
        time.sleep(3)
        check(count_lines(ticks) == n, "a paused job ran")
    stays_paused()
    j = env.job("tick")
    check(j["skipped"] >= 2 and j["state"] == "paused", repr(j))

    check(env.stop() == 0, "evd's exit status")
    env.start()
    j = env.job("tick")
    check(j["paused"] is True and j["state"] == "paused", "pause lost in the restart: %r" % j)
    check(env.job("other")["paused"] is False, "other job paused")
    r = env.ok("list")
    check(any(l.startswith("tick ") and " paused " in l for l in r.out.splitlines()), "list: %r" % r)
    stays_paused()

    # evdctl run still works on a paused job
    n = count_lines(ticks)
    check(env.ok("run", "tick").out.strip() == "tick: started", "run a paused job")
    wait_until(lambda: count_lines(ticks) > n, "the manual run")

    env.ok("resume", "tick")
    n = count_lines(ticks)
    wait_until(lambda: count_lines(ticks) >= n + 2, "ticks after resume")
    check(env.stop() == 0, "evd's exit status")
    env.start()
    check(env.job("tick")["paused"] is False, "resume lost in the restart")


# ---------------------------------------------------------------------------

def test_overlap(env):
    """`evdctl run` honours each overlap policy."""
    jobs = ""
    for policy in ("skip", "queue", "parallel", "replace"):
        jobs += """
[job:%s]
command = %s
every = 1h
overlap = %s
""" % (policy, gate_cmd(env, policy + ".go"), policy)
    env.write_conf(DAEMON.replace("workers = 4", "workers = 8") + jobs)
    env.start()

    def running(name, n):
        return lambda: env.job(name)["running"] == n

    # skip: the second is refused, exit 1
    check(env.ok("run", "skip").out.strip() == "skip: started", "skip 1")
    wait_until(running("skip", 1), "skip running")
    r = env.ctl("run", "skip")
    check(r.rc == 1 and "skip: skipped" in r.err, "skip 2: %r" % r)
    check(env.job("skip")["skipped"] == 1, "skip counted")
    open(env.path("skip.go"), "w").close()
    wait_until(lambda: env.job("skip")["runs"] == 1, "skip's run to end")
    time.sleep(0.5)
    check(env.job("skip")["runs"] == 1, "skip: a refused run ran")

    # queue: one waits, the next is refused; the queued one runs after
    env.ok("run", "queue")
    wait_until(running("queue", 1), "queue running")
    r = env.ctl("run", "queue", "--json")
    check(r.rc == 0 and r.json() == {"job": "queue", "outcome": "queued"}, "queue 2: %r" % r)
    r = env.ctl("run", "queue")
    check(r.rc == 1 and "skipped" in r.err and "queue" in r.err, "queue 3: %r" % r)
    check(env.job("queue")["running"] == 1, "queue: the queued run started early")
    open(env.path("queue.go"), "w").close()
    wait_until(lambda: env.job("queue")["runs"] == 2, "both queue runs")

    # parallel: both run at once
    env.ok("run", "parallel")
    r = env.ok("run", "parallel")
    check(r.out.strip() == "parallel: started", repr(r))
    wait_until(running("parallel", 2), "two parallel runs")
    open(env.path("parallel.go"), "w").close()
    wait_until(lambda: env.job("parallel")["runs"] == 2, "parallel runs to end")

    # replace: the active run is terminated, the new one starts
    env.ok("run", "replace")
    wait_until(running("replace", 1), "replace running")
    r = env.ctl("run", "replace", "--json")
    check(r.rc == 0 and r.json()["outcome"] in ("queued", "started"), "replace 2: %r" % r)
    wait_until(lambda: env.job("replace")["runs"] == 1 and env.job("replace")["running"] == 1,
               "the replaced run to end and the new one to run")
    check("signal" in env.job("replace")["last_result"], "replaced run: %r" % env.job("replace"))
    open(env.path("replace.go"), "w").close()
    wait_until(lambda: env.job("replace")["runs"] == 2, "replace's second run to end")
    check(env.job("replace")["last_result"] == "exit status 0", repr(env.job("replace")))


# ---------------------------------------------------------------------------

def test_single_instance(env):
    """A second evd on the same socket refuses to start, clearly, and the
    first keeps serving."""
    env.write_conf(DAEMON + "\n[job:alpha]\ncommand = /bin/true\nevery = 1h\n")
    first = env.start()
    other_state = env.path("state2")
    os.mkdir(other_state, 0o700)
    second = env.start(["--state-directory", other_state], expect_ready=False)
    try:
        rc = second.wait(timeout=DEADLINE)
    except Exception:
        raise TestFailure("a second evd on the same socket kept running:\n%s" % env.log(second))
    log = env.log(second)
    check(rc == 1, "second evd's exit status %d:\n%s" % (rc, log))
    check("already running" in log and env.sock in log, "second evd's message:\n%s" % log)
    check(first.poll() is None, "the first evd died")
    r = env.ok("list")
    check("alpha" in r.out, repr(r))
    check(os.path.exists(env.sock), "the second evd removed the first one's socket")
    check(env.stop(first) == 0, "first evd's exit status")

    # once the first is gone, a new one starts on the same socket
    env.start()
    env.ok("list")
    env.stop()

    # a --socket that names something other than a socket is left alone
    victim = env.path("not-a-socket")
    with open(victim, "w") as f:
        f.write("precious\n")
    p = env.start(["--socket", victim], expect_ready=False)
    rc = p.wait(timeout=DEADLINE)
    check(rc != 0 and "not a socket" in env.log(p), "evd on a regular file: %d\n%s" % (rc, env.log(p)))
    with open(victim) as f:
        check(f.read() == "precious\n", "evd replaced a regular file with its socket")


# ---------------------------------------------------------------------------

def test_next(env):
    """`next`, `status` and `list` agree on a job's next run, and `next`
    lists the schedule's elapses in order without skipping one."""
    env.write_conf(DAEMON + """
[job:weekday]
command = /bin/true
calendar = Mon..Fri *-*-* 02:30:00
timezone = UTC

[job:cron]
command = /bin/true
cron = */5 * * * *
timezone = UTC

[job:minutely]
command = /bin/true
calendar = *:*:00
""")
    env.start()
    for name in ("weekday", "cron", "minutely"):
        listed = [x for x in env.ok("list", "--json").json()["jobs"] if x["name"] == name][0]["next_run"]
        status = env.job(name)["next"]
        nxt = env.ok("next", name, "10", "--json").json()["next"]
        # the daemon's own next run, as `calendar` computes it from now
        check(nxt[0] == listed == status[0], "%s: next %s, list %s, status %s" % (name, nxt[0], listed, status[0]))
        check(nxt[:3] == status, "%s: next %s vs status %s" % (name, nxt[:3], status))
        ts = [parse_iso(x) for x in nxt]
        check(all(a < b for a, b in zip(ts, ts[1:])), "%s: not increasing: %s" % (name, nxt))
        if name == "cron":
            check(all((b - a) == datetime.timedelta(minutes=5) for a, b in zip(ts, ts[1:])), "cron: %s" % nxt)
        if name == "minutely":
            check(all((b - a) == datetime.timedelta(minutes=1) for a, b in zip(ts, ts[1:])), "minutely: %s" % nxt)
            now = datetime.datetime.now(datetime.timezone.utc)
            check(ts[0] - now <= datetime.timedelta(minutes=1), "minutely: first %s, now %s" % (nxt[0], now))


# ---------------------------------------------------------------------------

def test_protocol(env):
    """evdctl against a fake server: the request line it sends, a body kept
    byte for byte, an exit code passed through, a reply that is not evd's."""
    path = env.path("fake.sock")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(8)
    srv.settimeout(DEADLINE)

    def serve(reply):
        got = {}

        def one():
            c, _ = srv.accept()
            c.settimeout(DEADLINE)
            buf = b""
            while not buf.endswith(b"\n"):
                b = c.recv(4096)
                if not b:
                    break
                buf += b
            got["request"] = buf
            c.sendall(reply)
            c.close()
        t = threading.Thread(target=one)
        t.start()
        return t, got

    def ctl(reply, *args):
        t, got = serve(reply)
        r = env.ctl("--socket", path, *args, socket_arg=False)
        t.join(DEADLINE)
        return r, got.get("request")

    r, req = ctl(b"EVD/1 0\n  indented\n\nbody\n", "status", "job-1.x", "--json")
    check(req == b"status job-1.x --json\n", "request line: %r" % req)
    check(r.rc == 0 and r.out == "  indented\n\nbody\n", "body: %r" % r)
    r, req = ctl(b"EVD/1 3\nno such job: zz\n", "run", "zz")
    check(req == b"run zz\n" and r.rc == 3 and r.err == "evdctl: no such job: zz\n", "code 3: %r" % r)
    r, _ = ctl(b"EVD/1 1\n/etc/evd.conf:3: bad\n/etc/evd.conf:9: worse\nreload failed\n", "reload")
    check(r.rc == 1 and r.err == "/etc/evd.conf:3: bad\n/etc/evd.conf:9: worse\nreload failed\n", "errors: %r" % r)
    r, _ = ctl(b"EVD/1 77\nodd\n", "stats")
    check(r.rc == 1, "an unknown code is an error: %r" % r)
    r, _ = ctl(b"HTTP/1.0 200 OK\r\n\r\nhello", "list")
    check(r.rc == 1 and "unexpected reply" in r.err and path in r.err, "not evd: %r" % r)
    r, _ = ctl(b"", "list")
    check(r.rc == 1 and "unexpected reply" in r.err, "no reply: %r" % r)
    srv.close()


# ---------------------------------------------------------------------------

def test_completion(env):
    """completions/evdctl.bash: commands, options, and job names from the
    running evd (none, and no error, when it is not reachable)."""
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "completions", "evdctl.bash")
    if not os.path.exists("/bin/bash"):
        print("(no bash: completion not tested)")
        return
    env.write_conf(DAEMON + """
[job:alpha]
command = /bin/true
every = 1h

[job:alpine]
command = /bin/true
every = 1h

[job:beta]
command = /bin/true
every = 1h
""")
    env.start()

    def complete(*words):
        prog = 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); ' \
               '_evdctl; printf "%s\\n" "${COMPREPLY[@]}"'
        e = dict(os.environ)
        e["PATH"] = os.path.dirname(env.evdctl) + ":" + e.get("PATH", "/usr/bin:/bin")
        e.pop("EVD_SOCKET", None)
        p = subprocess.run(["/bin/bash", "-c", prog, "bash", script] + list(words), capture_output=True,
                           text=True, env=e, timeout=120)
        check(p.returncode == 0 and p.stderr == "", "completion %s: %r %r" % (words, p.stdout, p.stderr))
        return sorted(x for x in p.stdout.split("\n") if x)

    # the commands: those evdctl --help lists (the command table)
    r = env.ctl("--help", socket_arg=False)
    listed = [l.split()[0] for l in r.out.split("Commands:\n")[1].split("\n\n")[0].splitlines()
              if l.startswith("  ") and not l.startswith("   ")]
    check("history" in listed and "log" in listed, "--help commands: %r" % listed)
    check(complete("evdctl", "") == sorted(listed), "commands: %r, --help lists %r" % (complete("evdctl", ""), listed))
    check(complete("evdctl", "re") == ["reload", "resume"], "re")
    check(complete("evdctl", "--js") == ["--json"], "--js")
    check(complete("evdctl", "--ti") == ["--timeout"], "--ti")
    check(complete("evdctl", "--timeout", "5s", "--socket", env.sock, "run", "al") == ["alpha", "alpine"],
          "job names after --timeout")
    check(complete("evdctl", "--socket", env.sock, "run", "al") == ["alpha", "alpine"], "job names")
    check(complete("evdctl", "--socket=" + env.sock, "status", "") == ["alpha", "alpine", "beta"], "all jobs")
    check(complete("evdctl", "pause", "--socket", env.sock, "b") == ["beta"], "socket after the command")
    check(complete("evdctl", "--socket", env.sock, "run", "alpha", "") == [], "only one job")
    check(complete("evdctl", "--socket", env.path("nothing.sock"), "run", "") == [], "no evd")
    check(complete("evdctl", "calendar", "--time") == ["--timezone"], "calendar options")
    # history and log: job names, their own options, a directory for -D
    check(complete("evdctl", "hi") == ["history"], "hi")
    check(complete("evdctl", "--socket", env.sock, "history", "al") == ["alpha", "alpine"], "history job")
    check(complete("evdctl", "--socket", env.sock, "log", "-D", "/tmp", "b") == ["beta"], "log job after -D DIR")
    check(complete("evdctl", "--socket", env.sock, "history", "-n", "3", "") == ["alpha", "alpine", "beta"],
          "history job after -n N")
    check(complete("evdctl", "--socket", env.sock, "history", "alpha", "") == [], "history: one job")
    check(complete("evdctl", "--socket", env.sock, "log", "alpha", "") == [], "log: no run ids")
    check(complete("evdctl", "history", "--") == ["--directory", "--help", "--json", "--lines"], "history options")
    check(complete("evdctl", "log", "--") == ["--directory", "--help"], "log options")
    check(complete("evdctl", "history", "-n", "") == [], "-n wants a number")
    os.mkdir(env.path("journal-dir"))
    with open(env.path("journal-file"), "w"):
        pass
    check(complete("evdctl", "log", "--directory", env.path("journal-")) == [env.path("journal-dir")],
          "-D: directories only")
    # import-crontab: its options, a user, then a file
    check(complete("evdctl", "import-crontab", "--") == ["--help", "--user"], "import-crontab options")
    check(complete("evdctl", "import-crontab", "--user", "roo") == ["root"], "import-crontab --user")
    check(complete("evdctl", "import-crontab", "--user", "root", env.path("journal-f")) ==
          [env.path("journal-file")], "import-crontab file")
    # metrics: --openmetrics, no job names
    check(complete("evdctl", "me") == ["metrics"], "me")
    check(complete("evdctl", "metrics", "--o") == ["--openmetrics"], "metrics --openmetrics")
    check(complete("evdctl", "--socket", env.sock, "metrics", "") == [], "metrics: no job names")
    if os.path.exists("/usr/share/zoneinfo/Europe/Berlin"):
        check("Europe/Berlin" in complete("evdctl", "calendar", "--timezone", "Europe/Be"), "zones")


TESTS = {
    "commands": test_commands,
    "access": test_access,
    "abuse": test_abuse,
    "reload": test_reload,
    "pause-restart": test_pause_restart,
    "overlap": test_overlap,
    "single-instance": test_single_instance,
    "next": test_next,
    "protocol": test_protocol,
    "completion": test_completion,
}

if __name__ == "__main__":
    sys.exit(main(TESTS, sys.argv))
