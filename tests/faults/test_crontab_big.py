#!/usr/bin/python3
"""Faults: crontabs that are too big, too many, broken or looping.

One evd reads, through [crontabs] system =, a cron.d-like directory (in
the test's temporary directory) holding:
  * mb        a crontab of 1 MiB (1,100+ entries with long commands);
  * many      one of 100,000 lines (100,000 entries);
  * garbage   64 KiB of binary garbage (NUL bytes included);
  * loop1, loop2  symbolic links pointing at each other;
  * sentinel  one entry only;
and a second directory of 10,000 files (one entry each). Each readable
file has a `* * * * *` marker entry (the 10,000 files: three of them).

Expected:
  * evd starts (READY=1), and `evdctl list` has exactly the entries of the
    readable files: the big ones whole;
  * garbage: its bad lines are logged as "PATH:LINE: reason", and nothing
    of it loads; the symbolic link loop: one line naming loop1 and the
    reason ("Too many levels of symbolic links");
  * every marker runs once per minute over two minute boundaries: no run
    lost or doubled, the big files included.
Needs root (crontabs must be owned by root)."""

import os
import random

import cronfault
from faultlib import FaultEvd, check
from evdtest import SLOW, require_root, rss_kb, run_tests

N_MANY = 100_000
N_FILES = 10_000
MB = 1 << 20


def make_files(e):
    d = e.path("cron.d")
    os.makedirs(d)
    os.chmod(d, 0o755)
    expected = {}
    # 1 MiB: long commands (Debian cron takes at most 998 bytes), each
    # entry distinct, on the first of January only.
    lines = [cronfault.marker(e.o("mb"), "mb")]
    pad = "x" * 900
    i = 0
    while sum(len(l) for l in lines) < MB:
        lines.append(f"{i % 60} {i // 60 % 24} 1 1 * root echo {i} {pad}\n")
        i += 1
    text = "".join(lines)
    check(len(text) >= MB, "mb is smaller than 1 MiB")
    cronfault.write_crontab(os.path.join(d, "mb"), text)
    expected["mb"] = len(lines)
    # 100,000 lines.
    lines = [cronfault.marker(e.o("many"), "many")]
    lines += [f"{i % 60} {i // 60 % 24} 1 1 * root : {i}\n" for i in range(N_MANY - 1)]
    cronfault.write_crontab(os.path.join(d, "many"), "".join(lines))
    expected["many"] = N_MANY
    # Binary garbage (fixed, so a failure can be reproduced).
    rnd = random.Random(11)
    cronfault.write_crontab(os.path.join(d, "garbage"), bytes(rnd.randrange(256) for _ in range(64 * 1024)))
    expected["garbage"] = 0
    os.symlink("loop2", os.path.join(d, "loop1"))
    os.symlink("loop1", os.path.join(d, "loop2"))
    cronfault.write_crontab(os.path.join(d, "sentinel"), cronfault.marker(e.o("sentinel"), "sentinel"))
    expected["sentinel"] = 1
    # 10,000 files.
    t = e.path("ten")
    os.makedirs(t)
    os.chmod(t, 0o755)
    for k in range(N_FILES):
        text = f"{k % 60} {k // 60 % 24} 2 1 * root : {k}\n"
        if k in (0, N_FILES // 2, N_FILES - 1):
            text = cronfault.marker(e.o(f"ten{k}"), f"ten{k}")
        with open(os.path.join(t, f"f{k:05d}"), "w") as f:
            f.write(text)
    expected["f"] = N_FILES
    return expected


def test_big(evd_bin):
    require_root("root-owned crontabs")
    conf = """
    [crontabs]
    system = {DIR}/cron.d {DIR}/ten
    """
    with FaultEvd(evd_bin, conf, "cronbig", start=False) as e:
        expected = make_files(e)
        e.start(wait_ready=False)
        e.wait_ready(timeout=180 if SLOW else 60)
        t0 = e.ready_realtime()
        names = cronfault.job_names(e)
        for prefix, n in expected.items():
            got = [x for x in names if x.startswith(prefix + "-") or (prefix == "f" and x[:1] == "f")]
            check(len(got) == n, f"{prefix}: {len(got)} jobs, expected {n}")
        check(len(names) == sum(expected.values()), f"{len(names)} jobs, expected {sum(expected.values())}")
        print(f"  {len(names)} jobs; evd's RSS {rss_kb(e.pid) // 1024} MiB", flush=True)
        garbage = e.grep(r"/cron\.d/garbage:\d+: ")
        check(garbage, "no 'PATH:LINE: reason' line for the garbage file:\n" + e.log_tail())
        loop = e.grep(r"/cron\.d/loop1\b.*(?i:too many levels of symbolic links)")
        check(loop, "no line naming loop1 and the symbolic link loop:\n" + e.log_tail())
        t1 = cronfault.wait_boundaries(t0, 2)
        for f in ("mb", "many", "sentinel", "ten0", f"ten{N_FILES // 2}", f"ten{N_FILES - 1}"):
            cronfault.check_minutes(e.o(f), t0, t1 - 15, f)
        e.check_alive()
        check(e.stop(timeout=60) == 0, f"exit status {e.returncode}")


if __name__ == "__main__":
    run_tests([("crontab_big", test_big)])
