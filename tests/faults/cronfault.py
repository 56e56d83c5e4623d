"""cronfault - what the crontab fault tests share (test_crontab_*.py).

A crontab "marker" entry runs every minute and appends the minute it ran
("YYYY-MM-DDTHH:MM", cron's own clock) to a file; check_minutes() then
shows that no run was lost or doubled: every minute boundary that passed
while evd had the entry loaded appears exactly once. Cron's minute
resolution makes these tests wait for real minute boundaries (up to about
two minutes each); the waits are polls with generous deadlines.

Stdlib only; imported by the scripts in tests/faults/.
"""

import json
import os
import subprocess
import time

from faultlib import check, wait_for
from evdtest import read_lines


def marker(out_file, tag="", user="root"):
    """A crontab line that logs its minute, a tag and the uid it ran as
    to out_file ("%" is special in crontabs: escaped). System format with
    user; user=None: a user's table (no user field)."""
    u = f"{user} " if user else ""
    return f"* * * * * {u}echo \"$(date +\\%Y-\\%m-\\%dT\\%H:\\%M) {tag} $(id -u)\" >> {out_file}\n"


def minute_of(t):
    return time.strftime("%Y-%m-%dT%H:%M", time.localtime(t))


def boundaries(t0, t1):
    """The minute boundaries b with t0 < b <= t1, as minute strings."""
    b = (int(t0) // 60 + 1) * 60
    out = []
    while b <= t1:
        out.append(minute_of(b))
        b += 60
    return out


def wait_boundaries(t0, n, slack=15):
    """Sleeps (polling) until n minute boundaries after t0 have passed,
    plus slack seconds for the runs to write; returns the time."""
    target = (int(t0) // 60 + n) * 60 + slack
    wait_for(lambda: time.time() >= target, target - time.time() + 30, interval=0.5,
             what=f"{n} minute boundaries")
    return time.time()


def check_minutes(path, t0, t1, what):
    """The marker file at path has each minute boundary in (t0, t1]
    exactly once (t1 - slack: the last boundary's run has had time to
    write); minutes outside the window may be there too, but none twice."""
    lines = [l.split()[0] for l in read_lines(path)]
    dup = sorted({m for m in lines if lines.count(m) > 1})
    check(not dup, f"{what}: minutes that ran twice: {dup} (all: {lines})")
    missing = [m for m in boundaries(t0, t1) if m not in lines]
    check(not missing, f"{what}: minutes that did not run: {missing} (ran: {lines})")
    return lines


def crontab_check(evd_bin):
    """The reader's own verdicts (tests/crontab/crontab_check, built next
    to evd), or None."""
    p = os.path.join(os.path.dirname(os.path.abspath(evd_bin)), "tests", "crontab_check")
    return p if os.access(p, os.X_OK) else None


def reference_names(evd_bin, *paths):
    """The reader's names of the entries of system-format files."""
    tool = crontab_check(evd_bin)
    check(tool, "tests/crontab/crontab_check is not built next to evd")
    p = subprocess.run([tool, "entries"] + list(paths), capture_output=True, text=True, timeout=120)
    check(p.returncode == 0, f"crontab_check entries: {p.returncode} {p.stderr}")
    return [l.split("\t")[0] for l in p.stdout.splitlines()]


def job_names(e, prefix=None):
    """The names of evd's jobs (evdctl --json list), those starting with
    prefix when given."""
    rc, out, err = e.ctl("list", json_out=True, timeout=120)
    check(rc == 0, f"evdctl --json list: exit {rc}: {err}")
    names = [j["name"] for j in json.loads(out)["jobs"]]
    return [n for n in names if prefix is None or n.startswith(prefix)]


def write_crontab(path, text, mode=0o644, uid=0, gid=0):
    """Writes a crontab atomically (a temporary name with a dot, which a
    cron.d directory does not read, then rename), owned by uid:gid."""
    d, base = os.path.split(path)
    tmp = os.path.join(d, f".{base}.tmp")
    with open(tmp, "wb") as f:
        f.write(text if isinstance(text, bytes) else text.encode())
    os.chown(tmp, uid, gid)
    os.chmod(tmp, mode)
    os.rename(tmp, path)
