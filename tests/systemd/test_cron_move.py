#!/usr/bin/env python3
"""test_cron_move.py - the move from cron to evd, in a private systemd.

The machine's own crontabs, written by Debian packages and not by us
(/etc/crontab from cron, /etc/cron.d/sysstat, e2scrub_all, php,
popularity-contest: .ci/deps installs them), are moved from cron to evd
the way README "Moving from cron" says, inside a private systemd
(sdboot.py) with an overlay over /etc, so the machine's /etc is read but
never written:

  - cron.service is present and enabled, and runs the test's own crontab
    (/etc/cron.d/evdmove, written inside the overlay): one `* * * * *`
    entry that appends "MINUTE USER PARENT" to a file;
  - `systemctl disable --now cron`, then `systemctl enable --now evd` with
    [crontabs] system = /etc/crontab /etc/cron.d: cron is gone and
    disabled, evd is enabled and active;
  - evd has a job for every entry of those files, by the reader's stable
    names (tests/crontab/crontab_check entries, run on the same files:
    the count and the names are equal), `evdctl list` shows each;
  - each job's next run times (`evdctl next JOB 3`) are those of the
    brute-force cron reference of tests/calendar/diff_cron.py in the
    machine's time zone;
  - the test's entry runs under evd (its parent is evd, as root, within
    70 s), its output reaches `journalctl -u evd EVD_JOB=NAME`, and no
    minute ran twice across the switch (cron's last minute and evd's first
    are different minutes: nothing is lost or doubled);
  - a file added to /etc/cron.d while evd runs (as a package would) is a
    job within seconds, without a reload.

Usage: test_cron_move.py EVD EVDCTL CRONTAB_CHECK UNIT_FILE SOURCE_DIR
Exit status: 0 pass, 1 fail, 77 skipped (the reason is printed).
"""
import json
import os
import subprocess
import sys
import time
from datetime import datetime
from zoneinfo import ZoneInfo

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sdboot  # noqa: E402
from sdboot import NS_DIR, Failure, log, poll  # noqa: E402

SYSTEM = ["/etc/crontab", "/etc/cron.d"]
MARKS = f"{NS_DIR}/moved"
# The test's crontab: its parent's name tells who ran it (cron's child is
# "cron", evd's runs are children of "evd").
TEST_CRONTAB = ("# written by tests/systemd/test_cron_move.py\n"
                "SHELL=/bin/sh\n"
                f"* * * * * root echo \"$(date +\\%Y-\\%m-\\%dT\\%H:\\%M) $(id -un) $(cat /proc/$PPID/comm)\" >> {MARKS}\n")

CONFIG = f"""\
# evd.conf of the move-from-cron test
[daemon]
shutdown_timeout = 3s
kill_grace = 1s

[crontabs]
system = {' '.join(SYSTEM)}
"""


def require(cond, msg):
    if not cond:
        raise Failure(msg)


def reference_entries(crontab_check):
    """{name: (schedule, tz, user, where)} from the reader, on the host's
    files (the namespace sees the same ones through the overlay)."""
    p = subprocess.run([crontab_check, "entries"] + SYSTEM, capture_output=True, text=True, timeout=60)
    require(p.returncode == 0, f"crontab_check entries: {p.returncode} {p.stderr}")
    out = {}
    for line in p.stdout.splitlines():
        name, sched, tz, user, where = line.split("\t")
        out[name] = (sched, tz, user, where)
    return out


def local_zone():
    try:
        link = os.readlink("/etc/localtime")
        return ZoneInfo(link.split("zoneinfo/", 1)[1])
    except (OSError, IndexError, KeyError, ValueError):
        return ZoneInfo("UTC")


def marks(sd):
    p = sd.run(["cat", MARKS], check=False)
    return [l.split() for l in p.stdout.splitlines() if l.strip()]


def evdctl(sd, *args, check=True):
    return sd.run([f"{NS_DIR}/bin/evdctl"] + list(args), check=check)


def start_cron(sd):
    p = sd.show("cron.service", "LoadState", "FragmentPath")
    require(p["LoadState"] == "loaded", f"cron.service is not installed: {p}")
    sd.systemctl("enable", "--now", "cron")
    require(sd.systemctl("is-active", "cron", check=False).stdout.strip() == "active", "cron did not start")
    log("cron is enabled and active; waiting for it to run the test's entry")
    m = poll("cron to run /etc/cron.d/evdmove (70s)", lambda: [x for x in marks(sd) if x[2] == "cron"], 70, 1)
    log(f"  cron ran it: {m}")


def switch(sd):
    log("systemctl disable --now cron; systemctl enable --now evd")
    sd.systemctl("disable", "--now", "cron")
    sd.systemctl("enable", "--now", "evd")
    require(sd.systemctl("is-enabled", "cron", check=False).stdout.strip() == "disabled", "cron is still enabled")
    require(sd.systemctl("is-active", "cron", check=False).stdout.strip() == "inactive", "cron is still active")
    left = [x for x in sd.pids_in_namespace() if x[1] == "cron"]
    require(not left, f"cron processes are left: {left}")
    require(sd.systemctl("is-enabled", "evd", check=False).stdout.strip() == "enabled", "evd is not enabled")
    require(sd.systemctl("is-active", "evd", check=False).stdout.strip() == "active", "evd is not active")


def check_jobs(sd, ref):
    p = evdctl(sd, "--json", "list")
    jobs = {j["name"]: j for j in json.loads(p.stdout)["jobs"]}
    missing = sorted(set(ref) - set(jobs))
    require(not missing, f"evd has no job for these crontab entries: {[(n, ref[n]) for n in missing]}\n"
            f"evd's jobs: {sorted(jobs)}")
    extra = sorted(set(jobs) - set(ref))
    require(not extra, f"evd has jobs the crontabs do not explain: {extra}")
    log(f"evd has the {len(ref)} jobs of {' '.join(SYSTEM)}, by the reader's names")
    text = evdctl(sd, "list").stdout
    for name in ref:
        require(name in text, f"`evdctl list` does not show {name}:\n{text}")
    for name, (_, _, _, where) in ref.items():
        st = evdctl(sd, "status", name).stdout
        require(where in st, f"`evdctl status {name}` does not say {where}:\n{st}")


def check_next_times(sd, ref, zone):
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "calendar"))
    import diff_cron
    n = 0
    for name, (sched, tz, _, _) in sorted(ref.items()):
        if sched == "@reboot":
            continue
        z = ZoneInfo(tz) if tz != "-" else zone
        c = diff_cron.Cron(sched)
        before = int(time.time())
        got = json.loads(evdctl(sd, "--json", "next", name, "3").stdout)["next"]
        after = int(time.time())
        got = [int(datetime.fromisoformat(x).timestamp()) for x in got]

        def ref_from(t):
            out = []
            for _ in range(3):
                t = diff_cron.reference_next(c, z, t)
                out.append(t)
            return out
        # A minute may begin between the two clock readings: either base.
        want = [ref_from(before), ref_from(after)]
        require(got in want, f"{name} ({sched}): evd's next runs {got} are not the reference's {want[0]}")
        n += 1
    log(f"next run times of {n} jobs equal the brute-force reference ({zone})")


def check_runs(sd, name):
    log(f"waiting (70s) for evd to run {name}")
    m = poll("evd to run /etc/cron.d/evdmove (70s)", lambda: [x for x in marks(sd) if x[2] == "evd"], 75, 1)
    require(m[0][1] == "root", f"the entry ran as {m[0][1]}, not root")
    e = poll(f"journalctl -u evd EVD_JOB={name}", lambda: sd.journal("-u", "evd", f"EVD_JOB={name}"), 20, 0.5)
    log(f"  evd ran it ({m[0]}); {len(e)} journal entries with EVD_JOB={name}")
    minutes = [x[0] for x in marks(sd)]
    require(len(minutes) == len(set(minutes)), f"a minute ran twice across the switch: {marks(sd)}")


def check_new_file(sd):
    """A package dropping a file into /etc/cron.d while evd runs: its
    entry is a job without a reload."""
    sd.write_file("/etc/cron.d/evdmove-late", "0 4 * * * root :\n")
    p = sd.run([f"{NS_DIR}/bin/crontab_check", "entries", "/etc/cron.d/evdmove-late"])
    name = p.stdout.split("\t")[0]
    require(name.startswith("evdmove-late-"), f"crontab_check: {p.stdout}")
    poll(f"{name} to be a job without a reload",
         lambda: name in [j["name"] for j in json.loads(evdctl(sd, "--json", "list").stdout)["jobs"]], 10, 0.2)
    log(f"a file added to /etc/cron.d while evd runs is a job ({name}) without a reload")


def main():
    if len(sys.argv) != 6:
        print(__doc__, file=sys.stderr)
        return 2
    evd, evdctl_bin, crontab_check, shipped, _src = sys.argv[1:6]
    sdboot.check_environment()
    for f in SYSTEM + ["/usr/sbin/cron", "/lib/systemd/system/cron.service"]:
        if not os.path.exists(f):
            sdboot.skip(f"{f} is missing (.ci/deps test installs cron and the packages whose crontabs this moves)")
    sdboot.check_overlayfs()
    sdboot.install_signal_handlers()
    ref = reference_entries(crontab_check)
    require(len(ref) >= 5, f"the reader found only {len(ref)} entries in {SYSTEM}: {ref}")
    units = sdboot.evd_units(evd, shipped, "[Service]\nLimitCORE=0\n")
    files = {"bin/evd": (evd, 0o755), "bin/evdctl": (evdctl_bin, 0o755),
             "bin/crontab_check": (crontab_check, 0o755),
             "evd.conf": (CONFIG.encode(), 0o644)}
    with sdboot.PrivateSystemd(files, units, overlays=("/etc",)) as sd:
        try:
            require(sd.run(["stat", "-f", "-c", "%T", "/etc"]).stdout.strip() == "overlayfs",
                    "/etc is not an overlay in the namespace")
            sd.write_file("/etc/cron.d/evdmove", TEST_CRONTAB)
            start_cron(sd)
            # The test's file, read by the same reader in the namespace.
            p = sd.run([f"{NS_DIR}/bin/crontab_check", "entries"] + SYSTEM)
            ns_ref = {l.split("\t")[0]: tuple(l.split("\t")[1:]) for l in p.stdout.splitlines()}
            added = sorted(set(ns_ref) - set(ref))
            require(len(added) == 1 and set(ref) <= set(ns_ref), f"the test's entry: {added}")
            switch(sd)
            check_jobs(sd, ns_ref)
            check_next_times(sd, ns_ref, local_zone())
            check_runs(sd, added[0])
            check_new_file(sd)
            sd.systemctl("stop", "evd")
        except Failure as e:
            print(f"FAIL: {e}", flush=True)
            sd.dump("evd")
            sd.dump("cron")
            return 1
    log("PASS")
    return 0


if __name__ == "__main__":
    sdboot.exit_with(main)
