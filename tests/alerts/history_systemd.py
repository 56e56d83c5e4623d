#!/usr/bin/env python3
"""history_systemd.py - `evdctl history` and `evdctl log` against the
journal of a real systemd (sdboot.py: a private one, PID 1 of new
namespaces; never any other way).

evd runs as the shipped unit with jobs that succeed, fail (exit 3), time
out, and chat (many lines, UTF-8, quotes); evdctl is run inside the
namespaces with nsenter, and its answers are checked against journalctl's
own view of the same entries:
  - before evd ever ran: "no entries from evd at all", exit 5;
  - history text and --json (parsed strictly: no NaN, no duplicate keys,
    valid UTF-8): run ids, results, exit statuses, signal, durations, host;
  - log JOB prints exactly the last run's output lines, log JOB RUN one
    run's; an unknown job or run: exit 5 with a clear message;
  - readers: root, a user in systemd-journal (works), a user in no reader
    group (exit 1 with the hint);
  - a journal rotated and vacuumed in a loop while history reads: every
    answer is whole (valid JSON) and nothing crashes;
  - EVD_SCHEDULED_USEC on every run's end (history's scheduled): the
    elapse before the start; a retry keeps its first attempt's; a start
    queued behind a run (overlap=queue) keeps the elapse that queued it.

Usage: history_systemd.py EVD EVDCTL UNIT_FILE
Exit status: 0 pass, 1 fail, 77 skipped (the reason is printed)."""
import json
import os
import sys
import threading
import time

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "systemd"))
import sdboot  # noqa: E402
from sdboot import NS_DIR, Failure, log, poll  # noqa: E402

UNIT = "evd"
CONFIG = f"{NS_DIR}/evd.conf"
EVDCTL = f"{NS_DIR}/bin/evdctl"

CONFIG_TEXT = """\
[daemon]
workers = 8
shutdown_timeout = 2s
kill_grace = 1s

[job:ok]
command = /bin/sh -c 'echo "ok run $EVD_RUN"'
every = 1s

[job:failing]
command = /bin/sh -c 'echo "about to fail"; echo "on stderr" >&2; exit 3'
every = 1s

[job:slow]
command = /bin/sleep 30
every = 1s
timeout = 1s

[job:retrying]
command = /bin/sh -c 'exit 1'
every = 3s
retries = 1
retry_delay = 1s

[job:queued]
command = /bin/sleep 2
every = 1s
overlap = queue

[job:chatty]
command = /bin/sh -c 'i=0; while [ $i -lt 40 ]; do echo "line $i of run $EVD_RUN: caf\\303\\251 \\"q\\""; i=$((i+1)); done'
every = 2s
"""


def require(cond, msg):
    if not cond:
        raise Failure(msg)


def strict_json(text):
    def pairs(kv):
        keys = [k for k, _ in kv]
        require(len(keys) == len(set(keys)), f"duplicate keys in {keys}")
        return dict(kv)

    def no_constant(c):
        raise Failure(f"non-JSON constant {c}")
    return json.loads(text, object_pairs_hook=pairs, parse_constant=no_constant)


def evdctl(sd, *args, user=None):
    argv = [EVDCTL, *args]
    if user:
        argv = ["setpriv", *user, "--", *argv]
    p = sd.run(argv, check=False)
    return p.returncode, p.stdout, p.stderr


def ends(sd, job):
    return [e for e in sd.journal("-u", UNIT, f"EVD_JOB={job}") if "EVD_DURATION_USEC" in e]


def check_empty(sd):
    rc, out, err = evdctl(sd, "history", "ok")
    require(rc == 5 and "no entries from evd at all" in err and not out,
            f"history before evd ran: rc {rc}: {out!r} {err!r}")
    rc, out, err = evdctl(sd, "log", "ok")
    require(rc == 5 and "no entries from evd at all" in err, f"log before evd ran: rc {rc}: {out!r} {err!r}")


def check_history(sd):
    for job, n in (("ok", 3), ("failing", 3), ("slow", 2), ("chatty", 2)):
        poll(f"{n} ends of job {job} in the journal", lambda: len(ends(sd, job)) >= n, 60, 0.5)
    host = sd.run(["hostname"]).stdout.strip()

    for job, result, status in (("ok", "success", 0), ("failing", "exit-code", 3), ("slow", "timeout", None)):
        rc, out, err = evdctl(sd, "history", job, "-n", "2", "--json")
        require(rc == 0, f"history {job} --json: rc {rc}: {err}")
        rows = strict_json(out)
        require(isinstance(rows, list) and len(rows) == 2, f"history {job} -n 2: {rows!r}")
        journal_ends = {int(e["EVD_RUN"]): e for e in ends(sd, job)}
        for r in rows:
            require(r["job"] == job and r["result"] == result and r["exit_status"] == status,
                    f"history {job}: {r!r}, want result {result} exit_status {status}")
            e = journal_ends.get(r["run"])
            require(e is not None, f"history {job} run {r['run']} has no end entry in the journal")
            require(r["duration_usec"] == int(e["EVD_DURATION_USEC"]),
                    f"duration {r['duration_usec']} vs the journal's {e['EVD_DURATION_USEC']}")
            require(r["host"] == host, f"host {r['host']!r}, not {host!r}")
            require(r["start_usec"] == int(e["__REALTIME_TIMESTAMP"]) - int(e["EVD_DURATION_USEC"]),
                    f"start_usec {r['start_usec']} is not end less duration: {e}")
            # The instant the run was scheduled for: the elapse of its
            # every=1s schedule, before its start and not long before.
            require(r["scheduled_usec"] == int(e["EVD_SCHEDULED_USEC"]),
                    f"scheduled_usec {r['scheduled_usec']} vs the journal's {e.get('EVD_SCHEDULED_USEC')}")
            require(r["scheduled_usec"] <= r["start_usec"] < r["scheduled_usec"] + 30_000_000,
                    f"scheduled {r['scheduled_usec']} is not shortly before the start {r['start_usec']}")
            require(r["scheduled"] and r["scheduled"][:19] <= r["start"][:19],
                    f"scheduled {r['scheduled']!r}, start {r['start']!r}")
            if job == "slow":
                require(r["signal"] == "TERM", f"timed-out run: signal {r['signal']!r}")
        require(rows[0]["run"] < rows[1]["run"], f"history not oldest first: {[r['run'] for r in rows]}")
        newest_end = max(journal_ends)
        require(rows[1]["run"] <= newest_end, "history shows a run newer than the journal's")

        rc, out, err = evdctl(sd, "history", job)
        lines = out.splitlines()
        require(rc == 0 and lines[0].split() == ["RUN", "SCHEDULED", "STARTED", "DURATION", "RESULT", "STATUS",
                                                 "HOST"], f"history {job} text: rc {rc}: {out!r} {err!r}")
        require(all(result in l or "running" in l for l in lines[1:]), f"history {job} text:\n{out}")
        log(f"  history {job}: {len(lines) - 1} runs, last: {lines[-1]}")

    # A retry is scheduled for its first attempt's instant.
    poll("a retry of job retrying", lambda: any(e["EVD_ATTEMPT"] == "2" for e in ends(sd, "retrying")), 60, 0.5)
    retry_ends = ends(sd, "retrying")
    firsts = {e["EVD_SCHEDULED_USEC"] for e in retry_ends if e["EVD_ATTEMPT"] == "1"}
    for e in retry_ends:
        if e["EVD_ATTEMPT"] == "2":
            require(e["EVD_SCHEDULED_USEC"] in firsts,
                    f"retry run {e['EVD_RUN']} scheduled {e['EVD_SCHEDULED_USEC']}, not a first attempt's: {firsts}")
    log(f"  EVD_SCHEDULED_USEC: every run has it; {len(retry_ends)} runs of retrying keep their first instant")
    # A start queued behind the running run (overlap=queue) is scheduled for
    # the elapse that queued it, about a second before it could start.
    poll("3 ends of job queued", lambda: len(ends(sd, "queued")) >= 3, 60, 0.5)
    rc, out, err = evdctl(sd, "history", "queued", "--json")
    require(rc == 0, f"history queued: rc {rc}: {err}")
    waits = [r["start_usec"] - r["scheduled_usec"] for r in strict_json(out) if r["duration_usec"] is not None]
    require(len(waits) >= 3 and all(w >= 0 for w in waits) and sorted(waits)[len(waits) // 2] >= 500_000,
            f"queued runs: start less scheduled {waits} (usec): not the instant that queued them")

    rc, out, err = evdctl(sd, "history", "no-such-job")
    require(rc == 5 and 'no runs of job "no-such-job"' in err, f"unknown job: rc {rc}: {err!r}")
    rc, out, err = evdctl(sd, "history", "ok", "-n", "0")
    require(rc == 2, f"-n 0: rc {rc}")


def check_log(sd):
    rc, out, err = evdctl(sd, "history", "chatty", "-n", "1", "--json")
    require(rc == 0, f"history chatty: {err}")
    rc, out, err = evdctl(sd, "log", "chatty")
    require(rc == 0, f"log chatty: rc {rc}: {err}")
    lines = out.splitlines()
    require(len(lines) >= 1, "log chatty printed nothing")
    run = lines[0].split(" of run ")[1].split(":")[0]
    want = [e["MESSAGE"] for e in sd.journal("-u", UNIT, "EVD_JOB=chatty", f"EVD_RUN={run}")
            if "EVD_STREAM" in e]
    require(lines == want, f"log chatty (run {run}):\n{lines}\nthe journal has:\n{want}")
    require(lines[0] == f'line 0 of run {run}: café "q"', f"first line {lines[0]!r}")

    failing = ends(sd, "failing")[0]
    rc, out, err = evdctl(sd, "log", "failing", failing["EVD_RUN"])
    require(rc == 0 and sorted(out.splitlines()) == ["about to fail", "on stderr"],
            f"log failing {failing['EVD_RUN']}: rc {rc}: {out!r} {err!r}")
    rc, out, err = evdctl(sd, "log", "failing", "12345")
    require(rc == 5 and 'no run 12345 of job "failing"' in err, f"unknown run: rc {rc}: {err!r}")
    rc, out, err = evdctl(sd, "log", "failing", "x")
    require(rc == 2, f"bad run id: rc {rc}")


def check_readers(sd):
    # The journal's group and ACLs are set at boot by systemd-tmpfiles,
    # whose units are masked in the private systemd: apply its journal
    # lines by hand (inside the namespaces, on their private /run and
    # /var/log).
    sd.run(["systemd-tmpfiles", "--create", "--prefix=/run/log/journal", "--prefix=/var/log/journal"], check=False)
    for group in ("systemd-journal", "adm"):
        rc, out, err = evdctl(sd, "history", "ok", "-n", "1", "--json",
                              user=["--reuid=nobody", "--regid=nogroup", f"--groups={group}"])
        require(rc == 0 and len(strict_json(out)) == 1, f"as nobody in {group}: rc {rc}: {out!r} {err!r}")
    rc, out, err = evdctl(sd, "history", "ok", user=["--reuid=nobody", "--regid=nogroup", "--clear-groups"])
    require(rc == 1 and "systemd-journal" in err, f"as nobody in no reader group: rc {rc}: {out!r} {err!r}")
    log("  readers: root, members of systemd-journal and adm: yes; nobody: refused with the hint")


def check_rotation(sd):
    stop = threading.Event()
    errors = []

    def churn():
        while not stop.is_set():
            for argv in (["journalctl", "--rotate"], ["journalctl", "--vacuum-files=2"]):
                p = sd.run(argv, check=False)
                if p.returncode != 0:
                    errors.append(f"{argv}: {p.stderr}")
    t = threading.Thread(target=churn)
    t.start()
    answered = 0
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            rc, out, err = evdctl(sd, "history", "chatty", "-n", "50", "--json")
            require(rc in (0, 5), f"history during rotation: rc {rc}: {err!r}")
            if rc == 0:
                strict_json(out)
                answered += 1
            rc, out, err = evdctl(sd, "log", "chatty")
            require(rc in (0, 5), f"log during rotation: rc {rc}: {err!r}")
    finally:
        stop.set()
        t.join()
    require(not errors, f"rotation failed: {errors[:3]}")
    require(answered > 0, "history never answered during rotation")
    log(f"  {answered} whole answers while the journal rotated and vacuumed")


def main():
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    evd, evdctl_path, shipped = sys.argv[1:4]
    sdboot.check_environment()
    sdboot.install_signal_handlers()
    units = sdboot.evd_units(evd, shipped, "[Service]\nLimitCORE=0\n")
    files = {"bin/evd": (evd, 0o755), "bin/evdctl": (evdctl_path, 0o755),
             "evd.conf": (CONFIG_TEXT.encode(), 0o644)}
    with sdboot.PrivateSystemd(files, units) as sd:
        try:
            check_empty(sd)
            sd.systemctl("start", UNIT)
            log("evd started")
            check_history(sd)
            check_log(sd)
            check_readers(sd)
            check_rotation(sd)
            sd.systemctl("stop", UNIT)
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
