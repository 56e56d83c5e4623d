#!/usr/bin/python3
"""Dead-man checks (issue 10 item 3) and the list's overdue and failing
marks (item 6), with the real binary:

  * a failing job with expect_success_within=2s goes overdue once per
    episode (one warning however long it stays so), `list` says `overdue`
    and when it began failing, a success ends the episode, and the count
    starts again from that success;
  * a paused job never goes overdue; resuming counts from the resume;
  * a job that never ran goes overdue counted from evd's first load of it,
    and a restart keeps that count (the state directory) and the episode
    (no second warning); the last success outlives failed runs and a
    restart;
  * a reload that changes the value re-arms, one that removes the key
    drops the deadline and the episode;
  * the overdue alert runs the on_failure hook once per episode with
    EVD_RESULT=overdue (no run), the success that ends it on_recovery."""

import datetime
import json
import os
import time

from evdtest import Evd, check, run_tests, wait_for


def ctl(e, *args):
    return e.evdctl(*args)


def status(e, job):
    rc, out, err = ctl(e, "--json", "status", job)
    check(rc == 0, f"evdctl status {job}: {rc} {out} {err}")
    return json.loads(out)


def listed(e):
    rc, out, err = ctl(e, "--json", "list")
    check(rc == 0, f"evdctl list: {rc} {out} {err}")
    return {j["name"]: j for j in json.loads(out)["jobs"]}


def list_row(e, job):
    rc, out, err = ctl(e, "list")
    check(rc == 0, f"evdctl list: {rc} {out} {err}")
    lines = out.splitlines()
    rows = [line for line in lines[1:] if line.split()[0] == job]
    check(len(rows) == 1, f"no row for {job}: {out}")
    return lines[0], rows[0]


def ts(s):
    """An ISO time of evdctl's JSON (whole seconds)."""
    return datetime.datetime.fromisoformat(s).timestamp()


def state_cell(header, row):
    at = header.index("STATE")
    return row[at:].split()[0]


def overdue_count(e, job):
    return len(e.grep(rf"{job}: overdue: "))


# Succeeds when {OUT}/ok exists.
GATE = """
test -e {OUT}/ok
"""


def test_failing_job_overdue_once(evd_bin):
    conf = """
    [job:f]
    command = {DIR}/gate.sh
    every = 1h
    expect_success_within = 2s
    """
    with Evd(evd_bin, conf, "deadman-once", scripts={"gate.sh": GATE}) as e:
        check(ctl(e, "run", "f")[0] == 0, "run f")
        wait_for(lambda: status(e, "f")["runs"] == 1, 10, what="the failed run")
        j = listed(e)["f"]
        check(j["failing_since"] is not None and not j["overdue"], f"list --json after a failure: {j}")
        header, row = list_row(e, "f")
        check("FAILING SINCE" in header and len(header) <= 79 and len(row) <= 79, f"list: {header!r} {row!r}")

        wait_for(lambda: overdue_count(e, "f") == 1, 15, what="the overdue warning")
        check(e.grep(r"f: overdue: no successful run since evd first loaded it \(expect_success_within=2s\)"),
              "the warning says what it counts from")
        wait_for(lambda: listed(e)["f"]["overdue"], 10, what="list --json to say overdue")
        header, row = list_row(e, "f")
        check(state_cell(header, row) == "overdue", f"STATE is not overdue: {row!r}")
        rc, out, err = ctl(e, "status", "f")
        check(rc == 0 and "overdue:   since" in out and "failing:   since" in out, f"status: {out}")
        s = status(e, "f")
        check(s["overdue_since"] is not None and s["expect_success_within_usec"] == 2000000 and
              s["deadline"] is None and s["last_success"] is None, f"status --json: {s}")

        # Still overdue, still failing: no second warning.
        check(ctl(e, "run", "f")[0] == 0, "second run")
        wait_for(lambda: status(e, "f")["runs"] == 2, 10, what="the second failed run")
        time.sleep(3)
        check(overdue_count(e, "f") == 1, f"warned again in the same episode: {e.grep('overdue')}")

        # A success ends the episode and restarts the count from it.
        open(e.o("ok"), "w").close()
        check(ctl(e, "run", "f")[0] == 0, "third run")
        wait_for(lambda: e.grep(r"f: no longer overdue: a run succeeded"), 10, what="the end of the episode")
        s = status(e, "f")
        check(not s["overdue"] and s["failing_since"] is None and s["last_success"] is not None, f"after: {s}")
        check(abs(ts(s["deadline"]) - ts(s["last_success"]) - 2) < 0.01, f"deadline not from the success: {s}")
        header, row = list_row(e, "f")
        check("FAILING SINCE" not in header and state_cell(header, row) == "idle", f"list after: {header} {row}")
        # No success for 2 s again: a new episode, a new warning.
        wait_for(lambda: overdue_count(e, "f") == 2, 15, what="the second episode")
        check(e.stop() == 0, f"exit status {e.returncode}")


def test_paused_never_overdue(evd_bin):
    conf = """
    [job:p]
    command = true
    every = 1h
    expect_success_within = 3s
    """
    with Evd(evd_bin, conf, "deadman-paused") as e:
        check(ctl(e, "pause", "p")[0] == 0, "pause")
        check(status(e, "p")["deadline"] is None, "a paused job has a deadline")
        time.sleep(5)
        check(overdue_count(e, "p") == 0 and not status(e, "p")["overdue"], "a paused job went overdue")
        before = time.time()
        check(ctl(e, "resume", "p")[0] == 0, "resume")
        s = status(e, "p")
        check(s["deadline"] is not None and ts(s["deadline"]) + 1 > before + 3,
              f"the pause counted: resumed at {before}, {s}")
        wait_for(lambda: overdue_count(e, "p") == 1, 15, what="overdue after the resume")
        # Pausing ends the episode without a word; the list shows paused.
        check(ctl(e, "pause", "p")[0] == 0, "pause again")
        j = listed(e)["p"]
        check(not j["overdue"] and j["state"] == "paused", f"paused and overdue: {j}")
        check(e.stop() == 0, f"exit status {e.returncode}")


def test_restart_keeps_count(evd_bin):
    conf = """
    [job:never]
    command = true
    calendar = 2099-01-01
    expect_success_within = 4s
    """
    with Evd(evd_bin, conf, "deadman-restart") as e:
        first = status(e, "never")
        check(first["deadline"] is not None, f"no deadline: {first}")
        check(e.stop() == 0, f"exit status {e.returncode}")
        state = open(os.path.join(e.state_dir, "state")).read()
        check(" seen=" in state and " count=" in state, f"state file: {state}")
        e.start()
        again = status(e, "never")
        check(again["deadline"] == first["deadline"], f"restart restarted the count: {first} -> {again}")
        wait_for(lambda: overdue_count(e, "never") == 1, 15, what="overdue from the first load")
        check(e.stop() == 0, f"exit status {e.returncode}")
        state = open(os.path.join(e.state_dir, "state")).read()
        check(" overdue=0" not in state, f"the episode is not saved: {state}")
        n = len(e.grep(r"overdue: "))
        e.start()
        wait_for(lambda: listed(e)["never"]["overdue"], 10, what="the episode after a restart")
        time.sleep(1)
        check(len(e.grep(r"overdue: ")) == n, "a restart warned again in the same episode")
        check(e.stop() == 0, f"exit status {e.returncode}")
        # Restarted with a longer span whose deadline is still ahead: the
        # saved episode is over.
        e.write_config(conf.replace("4s", "1h"))
        e.start()
        s = status(e, "never")
        check(not s["overdue"] and s["deadline"] is not None and ts(s["deadline"]) > time.time() + 3000,
              f"the saved episode outlived a longer span: {s}")
        check(e.stop() == 0, f"exit status {e.returncode}")


def test_reload_changes_value(evd_bin):
    conf = """
    [job:r]
    command = true
    every = 1h
    {key}
    """
    with Evd(evd_bin, conf.replace("{key}", "expect_success_within = 1h"), "deadman-reload") as e:
        d1 = ts(status(e, "r")["deadline"])
        e.write_config(conf.replace("{key}", "expect_success_within = 1s"))
        e.reload()
        wait_for(lambda: overdue_count(e, "r") == 1, 15, what="overdue after shortening the window")
        # Back to 1h: the same count, whose deadline is ahead: the episode ends.
        e.write_config(conf.replace("{key}", "expect_success_within = 1h"))
        e.reload()
        s = status(e, "r")
        check(not s["overdue"] and abs(ts(s["deadline"]) - d1) < 0.01, f"not re-armed from the same count: {s}")
        # The key removed: no deadline, nothing saved for it.
        e.write_config(conf.replace("{key}", ""))
        e.reload()
        s = status(e, "r")
        check(s["deadline"] is None and s["expect_success_within_usec"] == 0 and not s["overdue"], f"{s}")
        check(overdue_count(e, "r") == 1, "warned again")
        check(e.stop() == 0, f"exit status {e.returncode}")
        state = open(os.path.join(e.state_dir, "state")).read() if os.path.exists(
            os.path.join(e.state_dir, "state")) else ""
        check(" seen=" not in state, f"state keeps a removed check: {state}")


# A hook that records each call's alert facts: one file per call, numbered.
RECORD = """
n=$(ls {OUT}/calls 2>/dev/null | wc -l)
mkdir -p {OUT}/calls
env | grep -E '^EVD_' | sort > {OUT}/calls/$(printf %04d $n).tmp
mv {OUT}/calls/$(printf %04d $n).tmp {OUT}/calls/$(printf %04d $n)
"""


def calls(e):
    d = e.o("calls")
    if not os.path.isdir(d):
        return []
    out = []
    for name in sorted(n for n in os.listdir(d) if not n.endswith(".tmp")):
        with open(os.path.join(d, name)) as f:
            out.append(dict(line.split("=", 1) for line in f.read().splitlines() if "=" in line))
    return out


def test_overdue_hook(evd_bin):
    conf = """
    [job:h]
    command = {DIR}/gate.sh
    calendar = 2099-01-01
    expect_success_within = 2s
    on_failure = {DIR}/record
    on_recovery = {DIR}/record
    """
    with Evd(evd_bin, conf, "deadman-hook", scripts={"gate.sh": GATE, "record": RECORD}) as e:
        c = wait_for(lambda: calls(e), 15, what="the overdue hook")
        check(c[0].get("EVD_ALERT") == "overdue" and c[0].get("EVD_RESULT") == "overdue" and
              c[0].get("EVD_JOB") == "h" and c[0].get("EVD_LAST_SUCCESS") == "", f"overdue facts: {c[0]}")
        time.sleep(3)
        check(len(calls(e)) == 1, f"more than one overdue alert in one episode: {calls(e)}")
        open(e.o("ok"), "w").close()
        check(ctl(e, "run", "h")[0] == 0, "run h")
        wait_for(lambda: len(calls(e)) >= 2, 15, what="the recovery hook")
        r = calls(e)[1]
        check(r.get("EVD_ALERT") == "recovery" and r.get("EVD_LAST_SUCCESS"), f"recovery facts: {r}")
        # A new episode after the success: a new overdue alert.
        wait_for(lambda: len(calls(e)) >= 3, 15, what="the next episode's alert")
        check(calls(e)[2].get("EVD_ALERT") == "overdue", f"third call: {calls(e)[2]}")
        check(e.stop() == 0, f"exit status {e.returncode}")


def test_last_success_kept(evd_bin):
    """The last success outlives the failed runs after it and a restart
    (struct job does not hold it: the side record and the state file do)."""
    conf = """
    [job:k]
    command = test -e {OUT}/ok
    calendar = 2099-01-01
    expect_success_within = 1h
    """
    with Evd(evd_bin, conf, "deadman-last-success") as e:
        open(e.o("ok"), "w").close()
        check(ctl(e, "run", "k")[0] == 0, "the successful run")
        wait_for(lambda: status(e, "k")["runs"] == 1, 10, what="the successful run")
        success = status(e, "k")["last_success"]
        check(success is not None, "no last success after a success")
        os.unlink(e.o("ok"))
        for n in (2, 3):
            check(ctl(e, "run", "k")[0] == 0, f"failed run {n}")
            wait_for(lambda: status(e, "k")["failures"] == n - 1, 10, what=f"failed run {n}")
            check(status(e, "k")["last_success"] == success, f"after failed run {n}: {status(e, 'k')}")
        check(e.stop() == 0, f"exit status {e.returncode}")
        e.start()
        check(status(e, "k")["last_success"] == success, f"after a restart: {status(e, 'k')}")
        check(ctl(e, "run", "k")[0] == 0, "a failed run after the restart")
        wait_for(lambda: status(e, "k")["failures"] == 1, 10, what="the failed run after the restart")
        check(status(e, "k")["last_success"] == success, f"failed after a restart: {status(e, 'k')}")
        check(e.stop() == 0, f"exit status {e.returncode}")


if __name__ == "__main__":
    run_tests([
        ("last_success_kept", test_last_success_kept),
        ("failing_job_overdue_once", test_failing_job_overdue_once),
        ("paused_never_overdue", test_paused_never_overdue),
        ("restart_keeps_count", test_restart_keeps_count),
        ("reload_changes_value", test_reload_changes_value),
        ("overdue_hook", test_overdue_hook),
    ])
