#!/usr/bin/python3
"""End-to-end tests of the control socket's rules: where it may be created,
whose group it belongs to (also after a reload), who is served (however
many groups they have, and how many connections one user may hold), that
every --json reply is valid UTF-8 JSON, that evdctl never waits without a
deadline, and that a reload is answered once applied.

usage: test_socket.py EVD EVDCTL [TEST...]   (all tests without a name)

Same harness as test_evdctl.py; exit 77 (skip) when not root.
"""

import grp
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import textwrap
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import DEADLINE, TestFailure, check, main, read_all, wait_until  # noqa: E402

DAEMON = """[daemon]
workers = 2
shutdown_timeout = 2s
kill_grace = 1s
"""

JOB = """
[job:alpha]
command = /bin/true
every = 1h
"""

NOGROUP = 65534


def strict_json(raw, what):
    """Parses bytes as UTF-8 (strictly) and then as JSON."""
    try:
        return json.loads(raw.decode("utf-8", "strict"))
    except (UnicodeDecodeError, ValueError) as e:
        raise TestFailure("%s: not strict UTF-8 JSON (%s): %r" % (what, e, raw))


def ctl_bytes(env, *args, timeout=DEADLINE):
    """evdctl with its output as bytes (the harness decodes it as text)."""
    argv = [env.evdctl, "--socket", env.sock] + list(args)
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def raw_request(env, line):
    s = env.raw_connect()
    s.sendall(line + b"\n")
    reply = read_all(s)
    s.close()
    head, _, body = reply.partition(b"\n")
    check(head.startswith(b"EVD/1 "), "reply to %r: %r" % (line, reply))
    return int(head[6:]), body


def nobody_with_groups(groups):
    """preexec_fn: nobody:nogroup with these supplementary groups."""
    def f():
        os.setgroups(groups)
        os.setgid(NOGROUP)
        os.setuid(NOGROUP)
    return f


# ---------------------------------------------------------------------------

def test_utf8(env):
    """--json from a Latin-1 command=, a configuration file name with a byte
    0xff, and an echoed job name that is not UTF-8: strict UTF-8 JSON, the
    odd bytes kept visible as \\u00XX."""
    conf = os.fsdecode(os.path.join(os.fsencode(env.dir), b"ev\xffd.conf"))
    with open(conf, "wb") as f:
        f.write(DAEMON.encode() + b"\n[job:latin]\ncommand = /bin/echo caf\xe9 \xff\xfe\nevery = 1h\n")
    os.chmod(conf, 0o644)
    env.conf = conf
    env.start()

    for args in (("list", "--json"), ("status", "--json"), ("status", "latin", "--json"),
                 ("next", "latin", "--json"), ("stats", "--json")):
        rc, out, err = ctl_bytes(env, *args)
        check(rc == 0, "%s: %d %r %r" % (args, rc, out, err))
        strict_json(out, " ".join(args))
    j = strict_json(ctl_bytes(env, "status", "latin", "--json")[1], "status latin")
    check(j["command"] == "/bin/echo caf\u00e9 \u00ff\u00fe", "command: %r" % j["command"])
    check(j["file"].endswith("/ev\u00ffd.conf"), "file: %r" % j["file"])

    # Job names that are not UTF-8, echoed in the error.
    for name in (b"\xff", b"caf\xe9", b"\xed\xa0\x80", b"\xc0\xaf", b"ok-\xe2\x82"):
        code, body = raw_request(env, b"status " + name + b" --json")
        j = strict_json(body, "status %r" % name)
        check(code == 3 and j["code"] == 3 and "no such job" in j["error"], "status %r: %r" % (name, j))
    # Valid UTF-8 passes unchanged.
    code, body = raw_request(env, "status caf\u00e9-\u20ac --json".encode())
    check(strict_json(body, "utf-8 name")["error"] == "no such job: caf\u00e9-\u20ac", repr(body))


def test_long_schedule(env):
    """A schedule longer than 255 bytes is whole in list/status --json."""
    minutes = ",".join("%02d" % m for m in range(60))
    expr = "Mon,Tue,Wed,Thu,Fri,Sat,Sun *-*-* %s:%s:00" % (",".join("%02d" % h for h in range(24)), minutes)
    check(len(expr) > 255, "the expression is long enough")
    env.write_conf(DAEMON + "\n[job:long]\ncommand = /bin/true\ncalendar = %s\n" % expr)
    env.start()
    j = env.ok("list", "--json").json()
    check(j["jobs"][0]["schedule"] == expr, "list: %r" % j["jobs"][0]["schedule"])
    j = env.ok("status", "long", "--json").json()
    check(j["schedule"] == expr, "status: %r" % j["schedule"])
    r = env.ok("status", "long")
    check(("schedule:  %s\n" % expr) in r.out, "status text: %r" % r.out)
    j = env.ok("status", "--json").json()
    check(j["jobs"][0]["schedule"] == expr, "status all: %r" % j["jobs"][0]["schedule"])


def test_status_bounded(env):
    """`status` of every job shows each one's next run only (the armed
    deadline); `status JOB` and `next` compute more on request."""
    env.write_conf(DAEMON + JOB + """
[job:beta]
command = /bin/true
calendar = *-*-* 02:30:00
""")
    env.start()
    j = env.ok("status", "--json").json()
    for job in j["jobs"]:
        check(len(job["next"]) == 1, "status: %r" % job)
        one = env.ok("status", job["name"], "--json").json()
        check(len(one["next"]) == 3 and one["next"][0] == job["next"][0], "status %s: %r" % (job["name"], one))
    r = env.ok("status")
    check(r.out.count("next run:") == 2 and "         " not in r.out.split("next run:")[1].split("runs:")[0],
          "status text: %r" % r.out)


def test_connect_timeout(env):
    """evdctl gives up (exit 4, and says so) when the listener's backlog is
    full, instead of hanging in connect(); --timeout sets the deadline."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(env.sock)
    listener.listen(0)
    fillers = []
    while True:  # fill the backlog: then a connect() would block
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.setblocking(False)
        try:
            s.connect(env.sock)
        except BlockingIOError:
            s.close()
            break
        fillers.append(s)
        check(len(fillers) < 100, "the backlog never filled")
    t0 = time.monotonic()
    rc, out, err = ctl_bytes(env, "--timeout", "1s", "list", timeout=DEADLINE)
    check(rc == 4 and b"did not answer within 1s" in err, "full backlog: %d %r %r" % (rc, out, err))
    check(time.monotonic() - t0 >= 0.9, "gave up before its deadline")
    # The default deadline applies too (not waited for here: the request
    # is answered once a slot frees).
    rc, out, err = ctl_bytes(env, "--timeout", "soon", "list")
    check(rc == 2 and b"--timeout" in err, "bad --timeout: %d %r" % (rc, err))
    for s in fillers:
        s.close()
    listener.close()
    os.unlink(env.sock)


def test_reload_deferred(env):
    """`reload` is answered when applied; a client that hangs up while it
    waits is forgotten (the reload still happens); a request ended by EOF
    instead of a newline is answered too."""
    env.write_conf(DAEMON + JOB)
    env.start()
    env.write_conf(DAEMON + JOB + "\n[job:beta]\ncommand = /bin/true\nevery = 1h\n")
    r = env.ok("reload")
    check(r.out == "configuration reloaded: 2 jobs\n", repr(r))
    base = env.ok("stats", "--json").json()["reloads"]

    # Hang up right after asking.
    for _ in range(5):
        s = env.raw_connect()
        s.sendall(b"reload\n")
        s.close()
    wait_until(lambda: env.ok("stats", "--json").json()["reloads"] >= base + 5, "the abandoned reloads")

    # EOF instead of a newline: still answered.
    s = env.raw_connect()
    s.sendall(b"reload --json")
    s.shutdown(socket.SHUT_WR)
    reply = read_all(s)
    s.close()
    check(reply.startswith(b"EVD/1 0\n") and json.loads(reply.split(b"\n", 1)[1])["reloaded"], repr(reply))

    # A refused reload: the errors, exit 1, still after the fact.
    env.write_conf(DAEMON + JOB + "\n[job:broken]\ncommand = /bin/true\nevery = never\n")
    r = env.ctl("reload", "--json")
    check(r.rc == 1 and r.json()["reloaded"] is False and r.json()["errors"], repr(r))
    check(env.proc.poll() is None, "evd is still running")


def test_socket_directory(env):
    """The socket's directory: refused when others may write to it (not
    sticky); a sticky one is fine; a link planted at the path is never
    followed; the socket is root:control_group 0660."""
    open_dir = env.path("open")
    os.mkdir(open_dir)
    os.chmod(open_dir, 0o777)
    env.write_conf(DAEMON + "control_group = %s\n" % grp.getgrgid(NOGROUP).gr_name + JOB)
    p = env.start(expect_ready=False, sock=os.path.join(open_dir, "control.sock"))
    check(p.wait(timeout=DEADLINE) == 1, "evd started with a socket in a world-writable directory")
    check("writable by others" in env.log(p) and open_dir in env.log(p), "why: %r" % env.log(p))
    check(not os.path.exists(os.path.join(open_dir, "control.sock")), "a socket was created")

    sticky = env.path("sticky")
    os.mkdir(sticky)
    os.chmod(sticky, 0o1777)
    env.sock = os.path.join(sticky, "control.sock")
    env.start()
    st = os.lstat(env.sock)
    check(stat.S_ISSOCK(st.st_mode) and st.st_uid == 0 and st.st_gid == NOGROUP and
          stat.S_IMODE(st.st_mode) == 0o660, "socket %o %d:%d" % (st.st_mode, st.st_uid, st.st_gid))
    env.stop()

    # A link at the path: evd refuses it and leaves its target alone.
    target = env.path("target")
    with open(target, "w") as f:
        f.write("x")
    os.chmod(target, 0o600)
    link = env.path("link.sock")
    os.symlink(target, link)
    p = env.start(expect_ready=False, sock=link)
    check(p.wait(timeout=DEADLINE) == 1, "evd used a link as its socket")
    st = os.stat(target)
    check(os.path.islink(link) and st.st_gid == 0 and stat.S_IMODE(st.st_mode) == 0o600,
          "the link's target was changed: %o %d" % (st.st_mode, st.st_gid))


def test_reload_group(env):
    """A control_group set, changed or removed by a reload (evdctl reload or
    SIGHUP) is applied to the socket and to who is served."""
    env.write_conf(DAEMON + JOB)
    env.start()
    check(os.stat(env.sock).st_gid == 0, "socket group at start")
    r = env.ctl("list", user="nobody")
    check(r.rc != 0, "nobody served without control_group: %r" % r)

    env.write_conf(DAEMON + "control_group = %s\n" % grp.getgrgid(NOGROUP).gr_name + JOB)
    env.ok("reload")
    check(os.stat(env.sock).st_gid == NOGROUP, "socket group after reload: %d" % os.stat(env.sock).st_gid)
    r = env.ctl("list", "--json", user="nobody")
    check(r.rc == 0 and r.json()["jobs"][0]["name"] == "alpha", "nobody in the new control_group: %r" % r)

    env.write_conf(DAEMON + JOB)
    os.kill(env.proc.pid, signal.SIGHUP)
    wait_until(lambda: os.stat(env.sock).st_gid == 0, "the socket back in root's group after SIGHUP")
    r = env.ctl("list", user="nobody")
    check(r.rc != 0, "nobody still served after control_group was removed: %r" % r)


def free_gid(start):
    for gid in range(start, start + 1000):
        try:
            grp.getgrgid(gid)
        except KeyError:
            return gid
    raise TestFailure("no free gid from %d" % start)


def test_many_groups(env):
    """A member of control_group with more than 256 supplementary groups
    (control_group after the 256th) is served."""
    if subprocess.run(["sh", "-c", "command -v groupadd && command -v groupdel"], capture_output=True).returncode:
        print("SKIP: no groupadd/groupdel")
        return
    gid = free_gid(61000)
    name = "evdt%d" % gid
    p = subprocess.run(["groupadd", "-g", str(gid), name], capture_output=True, text=True)
    check(p.returncode == 0, "groupadd: %s" % p.stderr)
    try:
        env.write_conf(DAEMON + "control_group = %s\n" % name + JOB)
        env.start()
        # 300 other groups, all sorting before control_group's.
        groups = list(range(gid - 300, gid)) + [gid]
        argv = [env.evdctl, "--socket", env.sock, "list", "--json"]
        r = subprocess.run(argv, capture_output=True, text=True, timeout=DEADLINE,
                           preexec_fn=nobody_with_groups(groups))
        check(r.returncode == 0 and json.loads(r.stdout)["jobs"][0]["name"] == "alpha",
              "member with 301 groups: %d %r %r" % (r.returncode, r.stdout, r.stderr))
        # Not a member, as many groups: refused.
        r = subprocess.run(argv, capture_output=True, text=True, timeout=DEADLINE,
                           preexec_fn=nobody_with_groups(list(range(gid - 300, gid))))
        check(r.returncode != 0, "non-member served: %r" % r.stdout)
    finally:
        env.stop()
        subprocess.run(["groupdel", name], capture_output=True)


HOARDER = textwrap.dedent("""
    import socket, sys
    held = []
    for _ in range(int(sys.argv[2])):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(sys.argv[1])
        held.append(s)
    print("ready", flush=True)
    sys.stdin.read()
""")


def test_user_limit(env):
    """One member of control_group holding 300 idle connections does not make
    root wait: root's request is answered while they are held."""
    env.write_conf(DAEMON + "control_group = %s\n" % grp.getgrgid(NOGROUP).gr_name + JOB)
    env.start()
    # A python nobody may run (not one under root's home).
    python = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
    hoarder = subprocess.Popen([python, "-c", HOARDER, env.sock, "300"], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True, preexec_fn=nobody_with_groups([NOGROUP]))
    try:
        check(hoarder.stdout.readline() == "ready\n", "the hoarder connected")
        # Unloaded, the answer takes milliseconds; without the limit it took
        # over 20 s (every idle connection holding a slot for 5 s).
        r = subprocess.run([env.evdctl, "--socket", env.sock, "list"], capture_output=True, text=True,
                           timeout=10)
        check(r.returncode == 0 and "alpha" in r.stdout, "root behind 300 idle connections: %r" % r)
    finally:
        hoarder.stdin.close()
        hoarder.wait(timeout=DEADLINE)
    r = env.ctl("list", user="nobody")
    check(r.rc == 0, "the member is served again: %r" % r)


TESTS = {
    "utf8": test_utf8,
    "long-schedule": test_long_schedule,
    "status-bounded": test_status_bounded,
    "connect-timeout": test_connect_timeout,
    "reload-deferred": test_reload_deferred,
    "socket-directory": test_socket_directory,
    "reload-group": test_reload_group,
    "many-groups": test_many_groups,
    "user-limit": test_user_limit,
}

if __name__ == "__main__":
    sys.exit(main(TESTS, sys.argv))
