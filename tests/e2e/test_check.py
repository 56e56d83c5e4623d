#!/usr/bin/python3
"""`evd -t` on good and bad files, and exit 78 for a bad configuration at
start."""

import os
import re
import subprocess

from evdtest import Evd, check, run_tests, wait_for

GOOD = """
[daemon]
workers = 2

[include]
files = {DIR}/evd.d/*.conf

[job:one]
command = /bin/true
every = 1h

[job:two]
command = /bin/echo "two words"
calendar = *-*-* 02:30:00
"""

DROPIN = """
[job:three]
command = /bin/true
cron = 30 2 * * 1-5
"""

# Errors on lines 4 (unknown key) and 6-7 (no schedule at all in [job:b],
# reported at its section or at one of its keys).
BAD = """
[job:a]
command = /bin/true
every = 1h
comand = /bin/false

[job:b]
command = /bin/true
"""


def run_check(e):
    return subprocess.run([e.binary, "-t", "-c", e.conf], capture_output=True, text=True, timeout=30,
                          env=e.env())


def error_lines(e, stderr, path=None):
    path = path or e.conf
    rx = re.compile(re.escape(path) + r":(\d+): \S")
    out = []
    for l in stderr.splitlines():
        m = rx.match(l)
        if m:
            out.append(int(m.group(1)))
    return out


def test_check_good(evd_bin):
    with Evd(evd_bin, GOOD, "check-good", start=False, files={"evd.d/10-three.conf": DROPIN}) as e:
        p = run_check(e)
        check(p.returncode == 0, f"evd -t exited {p.returncode} on a good file; stderr:\n{p.stderr}")
        check(p.stderr == "", f"evd -t printed on stderr for a good file:\n{p.stderr}")
        out = p.stdout.strip().splitlines()
        check(len(out) == 1, f"expected a one-line summary on stdout, got {out}")
        check("3" in out[0], f"the summary does not count 3 jobs: {out[0]!r}")
        check(not os.path.exists(e.socket) and not os.path.exists(e.state_dir), "evd -t started something")


def test_check_bad(evd_bin):
    with Evd(evd_bin, BAD, "check-bad", start=False) as e:
        p = run_check(e)
        check(p.returncode == 1, f"evd -t exited {p.returncode} on a bad file")
        lines = error_lines(e, p.stderr)
        check(4 in lines, f"no {e.conf}:4: error for the unknown key:\n{p.stderr}")
        check(any(l in (6, 7) for l in lines), f"no error for the job without a schedule:\n{p.stderr}")
        for l in p.stderr.splitlines():
            check(l.startswith(e.conf + ":"), f"stderr line is not PATH:LINE: message: {l!r}")
        check(len(p.stdout.strip().splitlines()) == 1, f"expected a one-line summary on stdout: {p.stdout!r}")


def test_check_bad_include(evd_bin):
    """An error in an included file names that file; a file writable by
    others is refused."""
    with Evd(evd_bin, GOOD, "check-incl", start=False,
             files={"evd.d/10-three.conf": DROPIN + "nice = lots\n"}) as e:
        inc = e.path("evd.d/10-three.conf")
        p = run_check(e)
        check(p.returncode == 1, f"evd -t exited {p.returncode}")
        check(error_lines(e, p.stderr, inc) == [4], f"expected {inc}:4: ...:\n{p.stderr}")
    with Evd(evd_bin, GOOD, "check-perm", start=False, files={"evd.d/10-three.conf": DROPIN}) as e:
        inc = e.path("evd.d/10-three.conf")
        os.chmod(inc, 0o666)
        p = run_check(e)
        check(p.returncode == 1, f"evd -t accepted a world-writable include (exit {p.returncode})")
        check(inc in p.stderr, f"the refusal does not name {inc}:\n{p.stderr}")
        os.chmod(inc, 0o644)
        os.chmod(e.conf, 0o664)
        p = run_check(e)
        check(p.returncode == 1, f"evd -t accepted a group-writable configuration (exit {p.returncode})")
        check(e.conf in p.stderr, f"the refusal does not name {e.conf}:\n{p.stderr}")


def test_bad_config_at_start(evd_bin):
    with Evd(evd_bin, BAD, "exit78", start=False) as e:
        e.start(wait_ready=False)
        st = e.wait_exit(30)
        check(st == 78, f"evd exited {st} on a bad configuration, expected 78 (EX_CONFIG)")
        check(e.grep(re.escape(e.conf) + r":4: "), "the error is not logged as PATH:LINE:\n" + e.log_tail())
        check(e.notify.find("READY", "1") is None, "READY=1 sent for a bad configuration")
    with Evd(evd_bin, GOOD, "missing", start=False) as e:
        os.unlink(e.conf)
        e.start(wait_ready=False)
        st = e.wait_exit(30)
        check(st in (1, 78), f"evd exited {st} on a missing configuration")
        check(e.grep(re.escape(e.conf)), "the missing file is not named:\n" + e.log_tail())


def test_options(evd_bin):
    p = subprocess.run([evd_bin, "--version"], capture_output=True, text=True, timeout=10)
    check(p.returncode == 0 and p.stdout.startswith("evd "), f"--version: {p.returncode} {p.stdout!r}")
    p = subprocess.run([evd_bin, "--no-such-option"], capture_output=True, text=True, timeout=10)
    check(p.returncode == 1, f"an unknown option exits {p.returncode}")


if __name__ == "__main__":
    run_tests([
        ("check_good", test_check_good),
        ("check_bad", test_check_bad),
        ("check_bad_include", test_check_bad_include),
        ("bad_config_at_start", test_bad_config_at_start),
        ("options", test_options),
    ])
