#!/usr/bin/python3
"""Differential test: `evdctl calendar --json` against `systemd-analyze
calendar` (systemd 252) on hundreds of generated calendar expressions, in
several time zones and from base times around DST changes and year ends.

Both must accept and reject the same expressions, print the same normalized
form and the same elapses (compared at second precision: systemd-analyze
prints seconds only; the chain of iterations is exact in both).

Usage: diff_calendar.py EVDCTL [--seed N] [--count N] [--verbose]
Exit: 0 pass, 1 mismatch, 77 skip (no systemd-analyze)."""

import calendar
import json
import os
import random
import re
import shutil
import subprocess
import sys
import time

ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe",
         "Asia/Kolkata", "Pacific/Chatham", "America/Sao_Paulo", "Europe/London",
         "Europe/Dublin"]  # Dublin: negative DST (winter time is its "DST")

# Base times (UTC): around spring-forward / fall-back in the zones above,
# year ends, a leap day.
BASES = [
    "2026-03-28 12:00:00", "2026-03-29 00:30:00", "2026-03-29 01:45:00",
    "2026-10-24 23:00:00", "2026-10-25 00:45:00", "2026-10-25 01:15:00",
    "2026-03-08 06:30:00", "2026-11-01 05:30:00", "2026-11-01 06:10:00",
    "2026-04-04 14:45:00", "2026-10-03 15:10:00",
    "2025-12-31 23:59:59", "2027-12-31 12:00:00", "2028-02-28 23:00:00",
    "2024-09-27 13:00:00", "2026-09-26 13:50:00",
    "2025-03-29 22:00:00", "2025-10-26 01:10:00",
]

ITERATIONS = 6

FIXED = [
    "minutely", "hourly", "daily", "monthly", "weekly", "yearly", "annually",
    "quarterly", "semiannually", "semi-annually", "biannually", "bi-annually",
    "anually", "DAILY", "Weekly", "*-*-* 02:30:00", "*-*-* 02:00:00",
    "*-*-* 01:30:00", "*-*-* 03:00:00", "*-*-* 02:15,45:00", "*-*-* 02:*:00",
    "*-*-* 01,02,03:30:00", "*:0/15", "*:0/20", "*:*:0/30", "*-*-* *:*:*",
    "Mon..Fri *-*-* 02:30:00", "Sat,Sun", "Mon..Fri", "mon-wed,fri 12:00",
    "Monday..Sunday 1:00", "Wed..Mon", "Mon,", "Mon..", "Mon...Fri", "Mond",
    "Thu,Fri..Sun 0:0", "Tue..Thu,Sat", "Mon,Tue,Wed", "Mon,Wed,Fri",
    "*-02-29", "*-02-29 12:00", "Mon *-02-29", "*-02~01", "*-02~03", "*-*~01",
    "*-*~07/1", "*-*~1..5", "*-*~05..01", "*-*~1/2", "*~07/1", "*-02~31",
    "2020-01-01", "*-02-30", "*-04-31", "2026-*-31", "2199-12-31 23:59:59",
    "2200-01-01", "70-01-01", "69-12-31", "99-1-1", "26-12-31 23:59",
    "2026..2030-01-01", "2025/2-06-15", "*-1/3-1", "*-*-1/10", "*-*-5..25/5",
    "8..18/2:00", "Sat,Sun 8..18/2:00", "*-*-* 8..18/2:00", "*:*:0.5",
    "*:*:1.25/2.5", "*:*:0.9999995", "*:*:59.9999995", "00:00:00.1,2",
    "*:*:0..10/0.5", "12:00:30.000001", "*-*-* 1..5,3/2:00", "*:*:*",
    "*:*/5", "*/5:00", "*-*-* 24:00", "*:60", "*:*:60", "*-13-01", "*-00-01",
    "*-*-00", "*-*-32", "@1700000000", "@0", "@4102444800", "@1", "@ 5",
    "daily UTC", "daily utc", "daily Europe/Berlin", "daily Asia/Tokyo",
    "*-*-* 02:30:00 Europe/Berlin", "*-*-* 02:30:00 America/New_York",
    "*-*-* 02:15:00 Australia/Lord_Howe", "*-*-* 02:45:00 Pacific/Chatham",
    "*-*-* 01:30:00 Europe/London", "daily Etc/UTC", "daily GMT",
    "daily CET", "daily CEST", "daily EST", "daily EDT", "daily IST",
    "daily Foo/Bar", "daily  UTC", "daily europe/berlin", "weekly Asia/Kolkata",
    "2026-03-29 02:30:00", "2026-10-25 02:30:00", "2026-03-08 02:30:00",
    "2026-11-01 01:30:00", "2026-10-04 02:15:00", "2026-04-05 01:45:00",
    "", " ", "daily ", " daily", "*-*-*", "*-*", "*", "1", "1-1", "1:1",
    "1:1:1", "1-1-1 1:1:1", "1..3-1", "Mon 12", "12:00 Mon", "foo",
    "*-*-* 00:00:00 Europe/Berlin", "Sun *-*-* 03:00", "Sun *-*-* 02:59:59",
    "*-*-* 0/3:00", "*-*-* 0..23/3:00", "*-*-* 1/3:30",
]

WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
FULL = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def r_weekdays(rnd):
    parts = []
    for _ in range(rnd.choice([1, 1, 2, 3])):
        a = rnd.randrange(7)
        name = lambda i: rnd.choice([WEEKDAYS[i], FULL[i], WEEKDAYS[i].lower(), WEEKDAYS[i].upper()])
        if rnd.random() < 0.4:
            b = rnd.randrange(a, 7) if rnd.random() < 0.9 else rnd.randrange(7)
            parts.append(name(a) + rnd.choice(["..", "..", "-"]) + name(b))
        else:
            parts.append(name(a))
    return ",".join(parts)


def r_item(rnd, lo, hi, width, frac=False):
    def num(v):
        s = str(v).zfill(rnd.choice([1, width]))
        if frac and rnd.random() < 0.2:
            s += "." + str(rnd.randrange(1, 1000000)).rstrip("0")[:rnd.randrange(1, 7)]
        return s
    k = rnd.random()
    a = rnd.randrange(lo, hi + 1)
    if k < 0.45:
        return num(a)
    if k < 0.7:
        b = rnd.randrange(a, hi + 1) if rnd.random() < 0.9 else rnd.randrange(lo, hi + 1)
        s = num(a) + ".." + num(b)
        if rnd.random() < 0.4:
            s += "/" + str(rnd.randrange(1, max(2, (hi - lo) // 2)))
        return s
    step = rnd.randrange(1, max(2, (hi - lo) // 2 + 1))
    return num(a) + "/" + str(step)


def r_field(rnd, lo, hi, width, frac=False, star=0.35):
    if rnd.random() < star:
        return "*"
    return ",".join(r_item(rnd, lo, hi, width, frac) for _ in range(rnd.choice([1, 1, 1, 2, 3])))


def r_expr(rnd, zone_names):
    out = []
    if rnd.random() < 0.3:
        out.append(r_weekdays(rnd))
    k = rnd.random()
    if k < 0.35:
        year = r_field(rnd, 2024, 2032, 4, star=0.7)
        if rnd.random() < 0.1:
            year = r_field(rnd, 24, 40, 2, star=0)
        sep = "~" if rnd.random() < 0.15 else "-"
        day = r_field(rnd, 1, 28 if sep == "~" else 31, 2)
        if sep == "~":
            day = str(rnd.randrange(1, 8)) + rnd.choice(["", "", "/1", "..1"])
        out.append(year + "-" + r_field(rnd, 1, 12, 2) + sep + day)
    elif k < 0.5:
        sep = "~" if rnd.random() < 0.15 else "-"
        day = r_field(rnd, 1, 31, 2) if sep == "-" else str(rnd.randrange(1, 8))
        out.append(r_field(rnd, 1, 12, 2) + sep + day)
    if rnd.random() < 0.85 or not out:
        t = r_field(rnd, 0, 23, 2, star=0.3) + ":" + r_field(rnd, 0, 59, 2, star=0.3)
        if rnd.random() < 0.6:
            t += ":" + r_field(rnd, 0, 59, 2, frac=True, star=0.25)
        out.append(t)
    s = " ".join(out)
    z = rnd.random()
    if z < 0.08:
        s += " UTC"
    elif z < 0.2:
        s += " " + rnd.choice(zone_names)
    return s


def mutate(rnd, s):
    if not s:
        return s
    i = rnd.randrange(len(s))
    op = rnd.random()
    if op < 0.4:
        return s[:i] + s[i + 1:]
    if op < 0.8:
        return s[:i] + rnd.choice("0123456789*-~:.,/ ") + s[i:]
    return s[:i] + rnd.choice("0123456789*-~:.,/ ") + s[i + 1:]


def to_epoch_utc(s):
    return calendar.timegm(time.strptime(s, "%Y-%m-%d %H:%M:%S"))


LINE = re.compile(r"^\s*(Original form|Normalized form|Next elapse|\(in UTC\)|From now|Iter\. #\d+|Iteration #\d+):\s?(.*)$")


def base_arg(base):
    """base: epoch seconds, or a string such as "@1774000799.999999"."""
    return base if isinstance(base, str) else "@%d" % base


def run_systemd(zone, base, exprs):
    env = dict(os.environ, TZ=zone, SYSTEMD_COLORS="0", LC_ALL="C", SYSTEMD_PAGER="")
    p = subprocess.run(["systemd-analyze", "calendar", "--iterations=%d" % ITERATIONS,
                        "--base-time=" + base_arg(base), "--no-pager"] + exprs,
                       env=env, capture_output=True, text=True)
    blocks, cur = [], None
    for line in p.stdout.splitlines():
        if not line.strip():
            cur = None
            continue
        m = LINE.match(line)
        if not m:
            raise RuntimeError("unexpected systemd-analyze line: %r" % line)
        key, val = m.group(1), m.group(2)
        if cur is None:
            cur = {"original": None, "normalized": None, "next": [], "main": []}
            blocks.append(cur)
        if key == "Original form":
            cur["original"] = val
        elif key == "Normalized form":
            cur["normalized"] = val
        elif key == "(in UTC)":
            cur["next"][-1] = val
        elif key == "Next elapse" or key.startswith("Iter"):
            cur["next"].append(val)
    result = {}
    bi = 0
    for e in exprs:
        if bi < len(blocks):
            b = blocks[bi]
            orig = b["original"] if b["original"] is not None else b["normalized"]
            if orig == e:
                nxt = []
                for v in b["next"]:
                    if v == "never":
                        break
                    # "Mon 2026-03-30 00:30:00 UTC"
                    m = re.match(r"^\w+ (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) (\S+)$", v)
                    if not m:
                        raise RuntimeError("unexpected timestamp %r" % v)
                    if m.group(2) != "UTC" and zone != "UTC":
                        raise RuntimeError("expected UTC time, got %r" % v)
                    if zone == "UTC" or m.group(2) == "UTC":
                        nxt.append(to_epoch_utc(m.group(1)))
                result[e] = (b["normalized"], nxt)
                bi += 1
                continue
        result[e] = None
    if bi != len(blocks):
        raise RuntimeError("could not match systemd-analyze output to expressions (%d of %d blocks)" % (bi, len(blocks)))
    return result


ISO = re.compile(r"^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(\.\d+)?([+-])(\d\d):(\d\d)(?::(\d\d))?$")


def iso_to_epoch(s):
    m = ISO.match(s)
    if not m:
        raise RuntimeError("bad ISO timestamp from evdctl: %r" % s)
    y, mo, d, h, mi, se = (int(m.group(i)) for i in range(1, 7))
    off = int(m.group(9)) * 3600 + int(m.group(10)) * 60 + int(m.group(11) or 0)
    if m.group(8) == "-":
        off = -off
    return calendar.timegm((y, mo, d, h, mi, se, 0, 0, 0)) - off


def run_evdctl(evdctl, zone, base, exprs, use_option):
    env = dict(os.environ, LC_ALL="C")
    args = [evdctl, "calendar", "--json", "--iterations", str(ITERATIONS), "--base-time", base_arg(base)]
    if use_option:
        args += ["--timezone", zone]
        env.pop("TZ", None)
    else:
        env["TZ"] = zone
    p = subprocess.run(args + ["--"] + exprs, env=env, capture_output=True, text=True)
    if p.returncode not in (0, 1):
        raise RuntimeError("evdctl exited %d: %s" % (p.returncode, p.stderr))
    result = {e: None for e in exprs}
    for line in p.stdout.splitlines():
        o = json.loads(line)
        if "error" in o:  # systemd-analyze prints nothing for such an expression
            result[o["expression"]] = None
            continue
        result[o["expression"]] = (o["normalized"], [iso_to_epoch(t) for t in o["next"]])
    return result


def main():
    args = sys.argv[1:]
    if not args:
        print(__doc__, file=sys.stderr)
        return 2
    evdctl = args[0]
    seed, count, verbose = 20261124, 420, False
    i = 1
    while i < len(args):
        if args[i] == "--seed":
            seed = int(args[i + 1]); i += 2
        elif args[i] == "--count":
            count = int(args[i + 1]); i += 2
        elif args[i] == "--verbose":
            verbose = True; i += 1
        else:
            print("unknown argument %s" % args[i], file=sys.stderr)
            return 2
    if not shutil.which("systemd-analyze"):
        print("SKIP: systemd-analyze not found")
        return 77

    rnd = random.Random(seed)
    exprs = list(dict.fromkeys(FIXED))
    gen = []
    while len(gen) < count:
        e = r_expr(rnd, ZONES[1:])
        if rnd.random() < 0.12:
            e = mutate(rnd, e)
        gen.append(e)
    exprs = list(dict.fromkeys(exprs + gen))
    # systemd-analyze takes expressions as arguments: none may look like an option
    exprs = [e for e in exprs if not e.startswith("-")]

    failures = 0
    checked = 0
    start = time.time()
    for zi, zone in enumerate(ZONES):
        for bi, b in enumerate(BASES):
            # every zone gets a few bases; all bases get every zone over the run
            if (zi + bi) % 3 != 0 and zone not in ("Europe/Berlin", "America/New_York", "Australia/Lord_Howe"):
                continue
            base = to_epoch_utc(b)
            if bi % 3 == 2:
                # 1 us before the whole second: an elapse exactly at base
                # + 1 us must be found, not skipped (it once was)
                base = "@%d.999999" % (base - 1)
            ref = run_systemd(zone, base, exprs)
            got = run_evdctl(evdctl, zone, base, exprs, use_option=(bi % 2 == 1))
            for e in exprs:
                checked += 1
                r, g = ref[e], got[e]
                if r is None and g is None:
                    continue
                if r is not None and g is not None:
                    g_norm = g[0]
                    if r[0] == g_norm and r[1] == [t // 1 for t in g[1]]:
                        continue
                failures += 1
                if failures <= 40:
                    print("MISMATCH zone=%s base=%s expr=%r\n  systemd: %s\n  evdctl:  %s" % (
                        zone, b, e,
                        None if r is None else (r[0], [time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t)) for t in r[1]]),
                        None if g is None else (g[0], [time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t)) for t in g[1]])))
            if verbose:
                print("%s %s done (%.1fs)" % (zone, b, time.time() - start))
    print("%d expressions, %d checks, %d mismatches, %.1fs" % (len(exprs), checked, failures, time.time() - start))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
