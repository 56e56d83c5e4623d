#!/usr/bin/python3
"""Differential test of evd's cron expressions against an independent,
brute-force reference written here: real time is walked minute by minute
(whole non-matching local days are skipped) and every minute is checked
against the five fields, with Vixie cron's rules:

  - day of month and day of week are OR-ed when both are restricted
    (neither starts with '*'), AND-ed otherwise;
  - jobs with '*' at the start of the minute or hour field ("wildcard
    jobs") run at every instant whose wall-clock time matches;
  - other jobs run once per matching wall-clock time: at its first
    occurrence when a fall-back change repeats it, and right at the change
    when a spring-forward change skips it (once, however many skipped
    times match).

Usage: diff_cron.py EVDCTL [--seed N] [--count N]
Exit: 0 pass, 1 mismatch."""

import json
import os
import random
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe"]
ITERATIONS = 4
MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
MACROS = {"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
          "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *",
          "@hourly": "0 * * * *"}

FIXED = [
    "30 2 * * *", "0 2 * * *", "15 2 * * *", "45 2 * * *", "0,30 2 * * *", "59 1 * * *",
    "0 3 * * *", "30 1 * * *", "*/15 * * * *", "0 * * * *", "*/7 2 * * *", "5 */2 * * *",
    "30 2 * * 0", "30 2 * * 7", "0 0 1 * *", "0 0 29 2 *", "0 12 13 * 5", "0 12 13 * fri",
    "0 0 * * mon-fri", "0 9-17 * * 1-5", "0 0 1,15 * 3", "0 0 */10 * *", "0 0 * * */2",
    "1-30/7 * * * *", "0 0 31 * *", "0 0 30 * *", "0 4 * jan,jul *",
    "0 4 * JAN-MAR SUN", "30 2 * * Sat,sun", "0 22 * * 1-5", "@hourly", "@daily", "@midnight",
    "@weekly", "@monthly", "@yearly", "@annually", "*/30 1-3 * * *", "45 1,2,3 * * *",
    "0 1 * * 6-7", "0 0 * * 0-6", "5 4 * * sun", "23 0-23/2 * * *",
]


def parse_field(text, lo, hi, names):
    vals = set()
    for item in text.split(","):
        step = 1
        if "/" in item:
            item, s = item.split("/")
            step = int(s)
        if item == "*":
            a, b = lo, hi
        elif "-" in item:
            x, y = item.split("-")
            a, b = value(x, names), value(y, names)
        else:
            a = b = value(item, names)
        vals.update(range(a, b + 1, step))
    return vals


def value(s, names):
    if names and s.lower() in names:
        return names.index(s.lower()) + (1 if names is MONTHS else 0)
    return int(s)


class Cron:
    def __init__(self, text):
        text = MACROS.get(text.lower(), text)
        f = text.split()
        self.minute = parse_field(f[0], 0, 59, None)
        self.hour = parse_field(f[1], 0, 23, None)
        self.dom = parse_field(f[2], 1, 31, None)
        self.month = parse_field(f[3], 1, 12, MONTHS)
        self.dow = {d % 7 for d in parse_field(f[4], 0, 7, DAYS)}
        self.dom_star, self.dow_star = f[2].startswith("*"), f[4].startswith("*")
        self.wildcard = f[0].startswith("*") or f[1].startswith("*")

    def day_ok(self, d):
        if d.month not in self.month:
            return False
        dom = d.day in self.dom
        dow = (d.isoweekday() % 7) in self.dow
        if self.dom_star or self.dow_star:
            return dom and dow
        return dom or dow

    def wall_ok(self, w):
        return self.day_ok(w) and w.hour in self.hour and w.minute in self.minute


def wall(t, tz):
    return datetime.fromtimestamp(t, tz)


def reference_next(c, tz, after):
    """First elapse strictly after `after` (epoch seconds), by brute force."""
    t = (after // 60 + 1) * 60
    limit = after + 6 * 366 * 86400
    while t < limit:
        w = wall(t, tz)
        naive = w.replace(tzinfo=None, fold=0)
        if naive.month not in c.month:
            # skip to (an hour before) the first local midnight of next month
            y, m = (w.year + 1, 1) if w.month == 12 else (w.year, w.month + 1)
            t2 = int(datetime(y, m, 1).replace(tzinfo=tz).timestamp())
            t = max(t + 60, (t2 // 60) * 60 - 3600)
            continue
        if not c.day_ok(naive):
            # no minute of this local day can match by its own wall time;
            # but a fixed job may still fire at a spring-forward change that
            # happens on this day for times of that day: only when the day
            # matches, so skip to the next local midnight
            nxt = datetime(w.year, w.month, w.day) + timedelta(days=1)
            t2 = int(nxt.replace(tzinfo=tz).timestamp())
            t = max(t + 60, (t2 // 60) * 60 - 3600)
            continue
        fire = False
        if c.wall_ok(naive):
            if c.wildcard or w.fold == 0:
                fire = True
        if not fire and not c.wildcard:
            prev = wall(t - 60, tz).replace(tzinfo=None, fold=0)
            if naive - prev > timedelta(minutes=1):
                m = prev + timedelta(minutes=1)
                while m < naive:
                    if c.wall_ok(m):
                        fire = True
                        break
                    m += timedelta(minutes=1)
        if fire:
            return t
        if naive.hour not in c.hour and w.utcoffset() == wall(t + 3600, tz).utcoffset():
            # no clock change within the hour: go to the next wall-clock hour
            t += (60 - naive.minute) * 60
            continue
        t += 60
    return None


def rand_field(rnd, lo, hi, names=None):
    k = rnd.random()
    def v(x):
        if names and rnd.random() < 0.4 and not (names is DAYS and x == 7):  # "6-sun" runs backwards
            n = names[x - (1 if names is MONTHS else 0)]
            return rnd.choice([n, n.upper(), n.capitalize()])
        return str(x)
    if k < 0.35:
        return "*"
    if k < 0.5:
        return "*/%d" % rnd.randrange(1, max(2, (hi - lo) // 2))
    items = []
    for _ in range(rnd.choice([1, 1, 2, 3])):
        a = rnd.randrange(lo, hi + 1)
        if rnd.random() < 0.4:
            b = rnd.randrange(a, hi + 1)
            s = v(a) + "-" + v(b)
            if rnd.random() < 0.3:
                s += "/%d" % rnd.randrange(1, 8)
            items.append(s)
        else:
            items.append(v(a))
    return ",".join(items)


def rand_cron(rnd):
    hour = rand_field(rnd, 0, 23)
    if rnd.random() < 0.3:
        hour = rnd.choice(["1", "2", "3", "1-3", "2,3", "0-4/2"])
    return " ".join([rand_field(rnd, 0, 59), hour, rand_field(rnd, 1, 31),
                     rand_field(rnd, 1, 12, MONTHS), rand_field(rnd, 0, 7, DAYS)])


def bases(rnd):
    out = []
    start = int(datetime(2026, 1, 1, tzinfo=timezone.utc).timestamp())
    for i in range(6):  # one every other month of a year, at a random time
        out.append(start + i * 61 * 86400 + rnd.randrange(86400))
    # just before and inside DST changes (UTC): Europe, New York, Lord Howe
    for s in ["2026-03-29 00:29:30", "2026-03-29 00:59:59", "2026-10-25 00:15:00",
              "2026-10-25 00:45:00", "2026-10-25 01:10:00", "2026-03-08 06:45:00",
              "2026-11-01 05:40:00", "2026-11-01 06:20:00", "2026-04-04 14:50:00",
              "2026-04-04 15:10:00", "2026-10-03 15:20:00", "2026-12-31 23:59:00"]:
        out.append(int(datetime.strptime(s, "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone.utc).timestamp()))
    return out


def run_evdctl(evdctl, zone, base, exprs):
    p = subprocess.run([evdctl, "calendar", "--json", "--timezone", zone, "--iterations", str(ITERATIONS),
                        "--base-time", "@%d" % base, "--"] + ["cron:" + e for e in exprs],
                       capture_output=True, text=True, env=dict(os.environ, LC_ALL="C"))
    if p.returncode != 0:
        raise RuntimeError("evdctl failed (%d): %s" % (p.returncode, p.stderr))
    out = {}
    for line in p.stdout.splitlines():
        o = json.loads(line)
        out[o["expression"][5:]] = [int(datetime.fromisoformat(t).timestamp()) for t in o["next"]]
    return out


def main():
    args = sys.argv[1:]
    if not args:
        print(__doc__, file=sys.stderr)
        return 2
    evdctl, seed, count = args[0], 4242, 60
    i = 1
    while i < len(args):
        if args[i] == "--seed":
            seed = int(args[i + 1]); i += 2
        elif args[i] == "--count":
            count = int(args[i + 1]); i += 2
        else:
            return 2
    rnd = random.Random(seed)
    exprs = list(dict.fromkeys(FIXED + [rand_cron(rnd) for _ in range(count)]))
    crons = {e: Cron(e) for e in exprs}
    failures = checks = 0
    t0 = time.time()
    for zone in ZONES:
        tz = ZoneInfo(zone)
        for base in bases(rnd):
            got = run_evdctl(evdctl, zone, base, exprs)
            for e in exprs:
                ref, t = [], base
                for _ in range(ITERATIONS):
                    t = reference_next(crons[e], tz, t)
                    if t is None:
                        break
                    ref.append(t)
                checks += 1
                if got.get(e) != ref:
                    failures += 1
                    if failures <= 30:
                        fmt = lambda ts: [wall(x, tz).isoformat() for x in ts]
                        print("MISMATCH zone=%s base=%s cron=%r\n  reference: %s\n  evdctl:    %s" % (
                            zone, wall(base, tz).isoformat(), e, fmt(ref), fmt(got.get(e) or [])))
    print("%d expressions, %d checks, %d mismatches, %.1fs" % (len(exprs), checks, failures, time.time() - t0))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
