#!/usr/bin/python3
"""Fault: `crontab -e` saves a table through a temporary file and rename.

evd runs in a private mount namespace (unshare) whose
/var/spool/cron/crontabs is a tmpfs laid out as Debian's (mode 1730,
group crontab), with [crontabs] users = /var/spool/cron/crontabs. Debian's
real crontab(1) edits root's table there (nsenter into evd's mount
namespace; EDITOR is a script that writes the new table), which it
installs as cron expects: it writes "crontabs/tmp.XXXXXX" (O_EXCL, 0600),
renames it to "crontabs/root" and touches the directory.

Expected:
  * the first table is loaded without SIGHUP within seconds: its job
    (named root-XXXXXXXX) appears in `evdctl list`; no job, and no user,
    comes from the temporary tmp.XXXXXX file;
  * a second edit adds an entry: the unchanged marker keeps its name and
    its next run; the new entry appears;
  * `crontab -r` removes the table: its jobs leave `evdctl list`;
  * the marker ran once per minute while the table was there: no run
    lost or doubled across the edits.
Needs root, /usr/bin/crontab (Debian's cron package) and mount namespaces."""

import json
import os
import time

import cronfault
from faultlib import FaultEvd, check, nsenter, require_ns_tools, require_tool, wait_for
from evdtest import require_root, run_tests

SPOOL = "/var/spool/cron/crontabs"
SETUP = (f"mount -t tmpfs -o mode=1730,size=4m evd-fault-spool {SPOOL} && chgrp crontab {SPOOL} && exec \"$@\"")


def edit(e, table, *args):
    """crontab -e (or other args) in evd's mount namespace; the editor
    writes table (None: the editor is not used)."""
    want = e.write("table", table or "")
    editor = e.write("editor.sh", f"#!/bin/sh\nsleep 1\ncat {want} > \"$1\"\n", mode=0o755)
    rc, out = nsenter(e.pid, "env", f"EDITOR={editor}", "VISUAL=", "crontab", *(args or ("-e",)))
    check(rc == 0, f"crontab {' '.join(args or ('-e',))}: exit {rc}: {out}")
    return time.time()


def next_runs(e):
    rc, out, err = e.ctl("list", json_out=True)
    check(rc == 0, f"evdctl list: {err}")
    return {j["name"]: j["next_run"] for j in json.loads(out)["jobs"]}


def test_crontab_e(evd_bin):
    require_root("mounting over the spool and crontab(1) as root")
    require_tool("crontab")
    require_ns_tools()
    check(os.path.isdir(SPOOL), f"{SPOOL} is missing (Debian's cron package makes it)")
    conf = f"""
    [crontabs]
    users = {SPOOL}
    """
    launcher = ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", SETUP, "sh"]
    with FaultEvd(evd_bin, conf, "crone", launcher=launcher) as e:
        mark = cronfault.marker(e.o("edit"), "edit", user=None)
        t0 = edit(e, "SHELL=/bin/sh\n" + mark)
        first = wait_for(lambda: cronfault.job_names(e, "root-"), 10, what="root's table to load without SIGHUP")
        check(len(first) == 1, f"one entry, not {first}")
        names = cronfault.job_names(e)
        check(not [n for n in names if n.startswith("tmp")], f"a job from crontab's temporary file: {names}")
        check(e.grep(rf"{first[0]}: added"), f"no line saying {first[0]} was added:\n" + e.log_tail())
        before, tb = next_runs(e)[first[0]], time.time()

        mark2 = cronfault.marker(e.o("edit2"), "edit2", user=None)
        t2 = edit(e, "SHELL=/bin/sh\n" + mark + mark2)
        both = wait_for(lambda: (lambda n: n if len(n) == 2 else None)(cronfault.job_names(e, "root-")), 10,
                        what="the second edit to load")
        check(first[0] in both, f"the unchanged entry changed its name: {first} -> {both}")
        after = next_runs(e)[first[0]]
        # (Its next run moves on only when it ran between the readings.)
        check(after == before or int(time.time()) // 60 != int(tb) // 60,
              f"the unchanged entry's next run moved: {before} -> {after}")

        t1 = cronfault.wait_boundaries(t2, 1)
        cronfault.check_minutes(e.o("edit"), t0, t1 - 15, "the marker across the edits")
        cronfault.check_minutes(e.o("edit2"), t2, t1 - 15, "the added entry")

        edit(e, None, "-r")
        wait_for(lambda: not cronfault.job_names(e, "root-"), 10, what="crontab -r to remove root's jobs")
        tmp = e.grep(r"crontabs/tmp\.")
        print(f"  lines about crontab's temporary file: {tmp[:3]}", flush=True)
        check(e.stop() == 0, f"exit status {e.returncode}")


if __name__ == "__main__":
    run_tests([("crontab_e", test_crontab_e)])
