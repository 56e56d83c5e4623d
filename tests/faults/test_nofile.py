#!/usr/bin/python3
"""Fault: evd runs out of file descriptors (RLIMIT_NOFILE).

The soft limit of the running daemon is lowered with prlimit(2) to just
above the highest descriptor it holds, so a run cannot get its pipes and
pidfd and the control socket cannot accept a client; later the limit is
put back.

Expected:
  * each due run fails with a clear error ("failed to start: pipe: Too many
    open files" or similar), no crash;
  * a client connecting to the control socket meanwhile waits (or gets an
    error), but evd does not spin: it stops watching the listener, says so
    once ("accept failed; trying again every 250ms: Too many open files"),
    uses well under half a CPU over a few seconds, does not flood its log,
    and says "accepting clients again" when it can;
  * once the limit is back, runs succeed, evdctl answers, and evd holds no
    more descriptors than before the fault.
Needs root only for nothing: prlimit on one's own child is allowed.

And the descriptors that `workers` need (evd is started under `prlimit
--nofile=SOFT:HARD`; the machine's hard limit cannot be raised):
  * evd raises its soft limit to the hard one at start, so 300 runs at
    once with workers = 300 all start (with the soft limit of 1024 they
    failed with EMFILE); each job gets the soft limit 1024 (limit_nofile=
    sets another, never above the hard limit);
  * workers that cannot fit the hard limit are refused with the numbers:
    at start (exit 78) and on reload (the running configuration kept)."""

import os
import re
import subprocess
import time

from faultlib import FaultEvd, check, cpu_seconds, n_fds, prlimit_pid, require_tool, wait_for
from evdtest import read_lines, run_tests


def test_nofile(evd_bin):
    require_tool("prlimit")
    conf = """
    [daemon]
    workers = 2
    [job:tick]
    command = {DIR}/tick.sh
    every = 1s
    """
    script = """
    date +%s.%N >> {OUT}/ticks
    """
    with FaultEvd(evd_bin, conf, "nofile", scripts={"tick.sh": script}) as e:
        wait_for(lambda: len(read_lines(e.o("ticks"))) >= 2, 20, what="two runs before the limit")
        # A quiet moment: no run in flight, so the count is evd's own.
        base = min(n_fds(e.pid) for _ in range(5) if not time.sleep(0.1))
        soft = open(f"/proc/{e.pid}/limits").read().split("Max open files")[1].split()[0]
        top = max(int(x) for x in os.listdir(f"/proc/{e.pid}/fd"))
        prlimit_pid(e.pid, "nofile", top + 1)
        start = e.log_count()
        fails = e.wait_log(r"tick\[.*failed", count=3, start=start, timeout=30)
        check(any("Too many open files" in l for l in fails), f"the failure does not say why: {fails}")

        # Clients knocking while no descriptor is left: no busy loop.
        clients = [subprocess.Popen([os.path.join(os.path.dirname(e.binary), "evdctl"), "--socket", e.socket,
                                     "status"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL) for _ in range(3)]
        time.sleep(0.5)
        lines0, cpu0, t0 = e.log_count(), cpu_seconds(e.pid), time.monotonic()
        time.sleep(3)
        cpu1, t1, lines1 = cpu_seconds(e.pid), time.monotonic(), e.log_count()
        e.check_alive("out of descriptors ")
        check((cpu1 - cpu0) < 0.5 * (t1 - t0),
              f"evd used {cpu1 - cpu0:.2f}s of CPU in {t1 - t0:.2f}s out of descriptors: a busy loop")
        acc = e.grep(r"(?i)accept", start)
        check(len(acc) <= 2, f"the accept failure is logged {len(acc)} times, not once per episode: {acc[:3]}")
        check(lines1 - lines0 < 200, f"{lines1 - lines0} log lines in 3 s out of descriptors: a log flood\n"
              + "\n".join(e.log()[lines0:lines0 + 10]))

        prlimit_pid(e.pid, "nofile", soft)
        for c in clients:
            try:
                c.wait(60)
            except subprocess.TimeoutExpired:
                c.kill()
                c.wait()
        after = e.log_count()
        e.wait_log(r"tick\[.*finished", count=2, start=after, timeout=30)
        rc, out, err = e.ctl("status", "tick")
        check(e.grep(r"(?i)accepting clients again", start), "no line saying the control socket works again")
        check(rc == 0, f"evdctl after the fault: exit {rc}: {out} {err}")
        wait_for(lambda: n_fds(e.pid) <= base + 1, 20,
                 what=f"evd's descriptors back to {base} (has {n_fds(e.pid)}: {sorted(os.listdir(f'/proc/{e.pid}/fd'))})")
        check(e.stop() == 0, f"exit status {e.returncode}")


def limits_of(pid):
    """(soft, hard) RLIMIT_NOFILE of a process."""
    line = open(f"/proc/{pid}/limits").read().split("Max open files")[1].split()
    return int(line[0]), int(line[1])


def test_workers_fit(evd_bin):
    require_tool("prlimit")
    n = 300
    jobs = "".join(f"[job:w{i}]\ncommand = {{DIR}}/run.sh\ncron = @reboot\n" for i in range(n))
    conf = f"""
    [daemon]
    workers = {n}
    [job:lim-default]
    command = {{DIR}}/lim.sh default
    cron = @reboot
    [job:lim-2000]
    command = {{DIR}}/lim.sh 2000
    limit_nofile = 2000
    cron = @reboot
    [job:lim-huge]
    command = {{DIR}}/lim.sh huge
    limit_nofile = 100000
    cron = @reboot
    """ + jobs
    scripts = {
        # All n runs at once: each waits for the others (or 20 s).
        "run.sh": """
        touch {OUT}/started.$EVD_JOB
        i=0
        while [ "$(ls {OUT} | grep -c '^started\\.')" -lt %d ] && [ $i -lt 200 ]; do sleep 0.1; i=$((i+1)); done
        """ % n,
        "lim.sh": """
        echo "$(ulimit -Sn) $(ulimit -Hn)" > {OUT}/lim.$1
        """,
    }
    with FaultEvd(evd_bin, conf, "nofile-workers", launcher=["prlimit", "--nofile=1024:4096", "--"],
                  scripts=scripts) as e:
        done = e.wait_log(r"w\d+\[\d+\]: (finished|failed)", count=n, timeout=120)
        bad = [l for l in done if "finished: exit status 0" not in l]
        check(not bad, f"{len(bad)} of {n} runs at once failed: {bad[:3]}")
        check(len([f for f in os.listdir(e.out) if f.startswith("started.")]) == n, "not every run started")
        check(limits_of(e.pid) == (4096, 4096), f"evd's RLIMIT_NOFILE is {limits_of(e.pid)}, not raised to 4096")
        for name, want in (("default", "1024 4096"), ("2000", "2000 4096"), ("huge", "4096 4096")):
            wait_for(lambda: read_lines(e.o(f"lim.{name}")), 20, what=f"the lim-{name} job")
            got = read_lines(e.o(f"lim.{name}"))[0]
            check(got == want, f"lim-{name}: the job's RLIMIT_NOFILE (soft hard) is {got}, want {want}")
        check(e.stop() == 0, f"exit status {e.returncode}")


def test_workers_refused(evd_bin):
    require_tool("prlimit")
    msg = r"workers = 200 needs up to 1728 open files .*limit of 1024 .*hard limit 1024"
    conf = """
    [daemon]
    workers = %d
    [job:tick]
    command = /bin/true
    every = 1s
    """
    # At start.
    e = FaultEvd(evd_bin, conf % 200, "nofile-refused", launcher=["prlimit", "--nofile=512:1024", "--"],
                 start=False)
    with e:
        e.start(wait_ready=False)
        check(e.wait_exit() == 78, f"evd started with workers that do not fit (exit {e.returncode})")
        check(e.grep(msg), "the refusal does not give the numbers:\n" + e.log_tail())
    # On reload: the running configuration is kept.
    with FaultEvd(evd_bin, conf % 4, "nofile-reload", launcher=["prlimit", "--nofile=512:1024", "--"]) as e:
        e.write_config(conf % 200)
        start = e.log_count()
        e.reload()
        check(e.grep(r"(?i)reload failed", start), "the reload did not fail:\n" + e.log_tail())
        check(e.grep(msg, start), "the failed reload does not give the numbers:\n" + e.log_tail())
        after = e.log_count()
        e.wait_log(r"tick\[\d+\]: finished", count=2, start=after, timeout=20)
        rc, out, err = e.ctl("status")
        check(rc == 0, f"evdctl after the refused reload: exit {rc}: {out} {err}")
        check(e.stop() == 0, f"exit status {e.returncode}")


if __name__ == "__main__":
    run_tests([("nofile", test_nofile), ("workers_fit", test_workers_fit), ("workers_refused", test_workers_refused)])
