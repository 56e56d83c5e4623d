#!/usr/bin/python3
"""Command-line behaviour of `evdctl calendar`: exit status 0/1/2, plain and
JSON output, base-time forms, time zones, JSON string escaping.

Usage: cli_evdctl.py EVDCTL"""

import json
import os
import subprocess
import sys

FAILURES = []


def run(evdctl, *args, env_tz="UTC"):
    env = dict(os.environ, LC_ALL="C", TZ=env_tz)
    return subprocess.run([evdctl] + list(args), capture_output=True, text=True, env=env)


def check(name, cond, detail=""):
    if not cond:
        FAILURES.append(name)
        print("FAIL %s %s" % (name, detail))


def main():
    e = sys.argv[1]
    p = run(e)
    check("no command is a usage error", p.returncode == 2 and "Usage" in p.stderr)
    p = run(e, "frobnicate")
    check("unknown command is a usage error", p.returncode == 2 and "frobnicate" in p.stderr)
    p = run(e, "--bogus")
    check("unknown option is a usage error", p.returncode == 2)
    p = run(e, "--help")
    check("--help", p.returncode == 0 and "calendar" in p.stdout)
    p = run(e, "--version")
    check("--version", p.returncode == 0 and p.stdout.startswith("evdctl "))
    p = run(e, "calendar")
    check("calendar without expression", p.returncode == 2)
    p = run(e, "calendar", "--iterations", "0", "daily")
    check("bad --iterations", p.returncode == 2)
    p = run(e, "calendar", "--base-time", "yesterday-ish", "daily")
    check("bad --base-time", p.returncode == 2)
    p = run(e, "calendar", "--timezone", "Mars/Olympus", "daily")
    check("bad --timezone", p.returncode == 2 and "Mars/Olympus" in p.stderr)
    p = run(e, "calendar", "--help")
    check("calendar --help", p.returncode == 0 and "--iterations" in p.stdout)

    p = run(e, "calendar", "--base-time", "@1774000000", "daily", "bogus thing", "hourly")
    check("invalid expression exits 1 and names it", p.returncode == 1 and "bogus thing" in p.stderr, p.stderr)
    check("other expressions still shown", p.stdout.count("Normalized form:") == 2, p.stdout)

    p = run(e, "calendar", "-n", "3", "--base-time", "2026-03-28 12:00", "--timezone", "Europe/Berlin",
            "*-*-* 02:30:00")
    check("plain output", p.returncode == 0 and "Next elapse: Mon 2026-03-30 02:30:00 CEST" in p.stdout
          and "(in UTC): Mon 2026-03-30 00:30:00 UTC" in p.stdout and "Iteration #3:" in p.stdout, p.stdout)

    p = run(e, "calendar", "--json", "-n", "2", "--base-time", "2026-03-29T01:00:00+01:00",
            "--timezone", "Europe/Berlin", "*-*-* 02:30:00", "cron:30 2 * * *")
    lines = [json.loads(x) for x in p.stdout.splitlines()] if p.returncode == 0 else []
    check("json calendar", len(lines) == 2 and lines[0] == {
        "expression": "*-*-* 02:30:00", "normalized": "*-*-* 02:30:00",
        "next": ["2026-03-30T02:30:00+02:00", "2026-03-31T02:30:00+02:00"]}, p.stdout)
    # cron: the skipped 02:30 runs right after the spring-forward change
    check("json cron DST", len(lines) == 2 and lines[1]["normalized"] == "cron:30 2 * * *" and
          lines[1]["next"] == ["2026-03-29T03:00:00+02:00", "2026-03-30T02:30:00+02:00"], p.stdout)

    p = run(e, "calendar", "--json", "--base-time", "@1774000000", 'bad"\\\x01expr')
    check("json escaping of an invalid expression's message", p.returncode == 1 and p.stdout == "")
    p = run(e, "calendar", "--json", "--base-time", "@1774000000", "2020-01-01")
    check("never", p.returncode == 0 and json.loads(p.stdout)["next"] == [], p.stdout)
    p = run(e, "calendar", "--base-time", "@1774000000", "2020-01-01")
    check("never (plain)", "Next elapse: never" in p.stdout, p.stdout)
    p = run(e, "calendar", "--json", "--base-time", "@1774000000.25", "*:*:0.5")
    check("fractions", json.loads(p.stdout)["next"] == ["2026-03-20T09:47:00.500000+00:00"], p.stdout)
    p = run(e, "calendar", "--json", "--base-time", "2026-07-01 12:00:00", "daily", env_tz="America/New_York")
    check("local base time and TZ", json.loads(p.stdout)["next"] == ["2026-07-02T00:00:00-04:00"], p.stdout)
    p = run(e, "calendar", "--json", "--base-time", "2026-07-01T12:00:00Z", "--timezone", "Asia/Kolkata",
            "daily UTC")
    check("spec zone, display zone", json.loads(p.stdout)["next"] == ["2026-07-02T05:30:00+05:30"], p.stdout)

    print("%d failures" % len(FAILURES))
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
