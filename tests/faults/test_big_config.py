#!/usr/bin/python3
"""Fault: configurations at and over the size limits.

Expected:
  * 10,000 jobs (every=, calendar= and cron= mixed): `evd -t` exits 0 with a
    one-line summary; evd starts and sends READY=1; evdctl answers; SIGTERM
    exits 0;
  * a 64 KiB value (environment=BIG=...): accepted by -t and at start; the
    run gets the whole value;
  * a line over the limit (1 MiB): `evd -t` exits 1 with
    "PATH:LINE: line too long ...", evd refuses to start (exit 78) with the
    same message; the lines after it are still checked (an error further
    down is reported too).
"""

import os
import subprocess

from faultlib import FaultEvd, check, wait_for
from evdtest import read_file, run_tests


def check_config(evd_bin, path):
    p = subprocess.run([evd_bin, "-t", "-c", path], capture_output=True, text=True, timeout=600)
    return p.returncode, p.stdout, p.stderr


def many_jobs(n):
    out = ["[daemon]", "workers = 4", ""]
    for i in range(n):
        kind = i % 3
        sched = ("every = %dh" % (1 + i % 24)) if kind == 0 else \
                ("calendar = *-*-* %02d:%02d:00" % (i % 24, i % 60)) if kind == 1 else \
                ("cron = %d %d * * *" % (i % 60, i % 24))
        out += [f"[job:job{i:05d}]", f"command = /bin/true {i}", sched, ""]
    return "\n".join(out)


def test_10000_jobs(evd_bin):
    n = 10000
    e = FaultEvd(evd_bin, "", "bigconf", start=False)
    with e:
        with open(e.conf, "w") as f:
            f.write(many_jobs(n))
        rc, out, err = check_config(e.binary, e.conf)
        check(rc == 0, f"evd -t on {n} jobs: exit {rc}\n{err[-2000:]}")
        check(len(out.strip().splitlines()) == 1 and str(n) in out, f"summary: {out!r}")
        e.start(wait_ready=False)
        e.wait_ready(timeout=120)
        data = e.ctl_json("stats")
        rc, out, err = e.ctl("status", "job09999")
        check(rc == 0, f"evdctl status job09999: {rc} {out} {err}")
        check(e.stop(timeout=120) == 0, f"exit status {e.returncode}")
        print(f"{n} jobs: READY; stats {str(data)[:200]}")


def test_64k_value(evd_bin):
    big = "x" * 65536
    conf = f"""
    [job:big]
    command = {{DIR}}/len.sh
    cron = @reboot
    environment = BIG={big}
    """
    script = """
    printf %s "$BIG" | wc -c > {OUT}/len.tmp
    mv {OUT}/len.tmp {OUT}/len
    """
    e = FaultEvd(evd_bin, conf, "bigvalue", start=False, scripts={"len.sh": script})
    with e:
        rc, out, err = check_config(e.binary, e.conf)
        check(rc == 0, f"evd -t on a 64 KiB value: exit {rc}\n{err[-2000:]}")
        e.start()
        wait_for(lambda: read_file(e.o("len")), 20, what="the job with a 64 KiB variable")
        check(read_file(e.o("len")).strip() == "65536", f"the run got {read_file(e.o('len'))!r} bytes of BIG")
        check(e.stop() == 0, f"exit status {e.returncode}")


def test_line_over_limit(evd_bin):
    e = FaultEvd(evd_bin, "", "longline", start=False)
    with e:
        with open(e.conf, "w") as f:
            f.write("[job:long]\ncommand = /bin/true\ncron = @reboot\n")
            f.write("environment = HUGE=" + "y" * (1024 * 1024 + 16) + "\n")
            f.write("[job:after]\ncommand = /bin/true\nbogus_key = 1\ncron = @reboot\n")
        rc, out, err = check_config(e.binary, e.conf)
        check(rc == 1, f"evd -t on a line over the limit: exit {rc}\n{err[-2000:]}")
        check(f"{e.conf}:4: " in err and "too long" in err, f"no '{e.conf}:4: ... too long' in: {err[-2000:]}")
        check(f"{e.conf}:7: " in err, f"the error after the long line was not reported: {err[-2000:]}")
        check(len(err) < 10000, f"the error message quotes the line ({len(err)} bytes on stderr)")
        e.start(wait_ready=False)
        check(e.wait_exit() == 78, f"evd started with a line over the limit: exit {e.returncode}")
        check(e.grep(f"{e.conf}:4: .*too long"), "the start-up error lacks file:line:\n" + e.log_tail())


if __name__ == "__main__":
    run_tests([("10000_jobs", test_10000_jobs), ("64k_value", test_64k_value),
               ("line_over_limit", test_line_over_limit)])
