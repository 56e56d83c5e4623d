#!/usr/bin/python3
"""soak - evd under steady churn for N minutes; fails on growth or a lost run.

usage: soak.py PATH-TO-EVD [--minutes N] [--seed S] [--warmup SECONDS]

One evd with frequent jobs:
  fast     every = 1s            (counted: no run may be lost)
  cal      calendar = *:*:0/2    (counted: no elapse may be lost)
  fail     every = 3s, exits 3
  retry    every = 4s, exits 1, retries = 1 after 500ms
  hang     every = 5s, sleeps 30 s, timeout = 1s (SIGTERM, SIGKILL after kill_grace)
  chatty   every = 3s, prints 2000 lines (the harness keeps only a count)
  victim   every = 2s, sleeps; the soak SIGKILLs some of its runs from outside
           (only runs whose parent is this evd)
plus random reloads every few seconds, valid (a job added, changed or
removed, schedules of the counted jobs untouched) and invalid (an unknown
key: the reload must fail and keep the configuration), and a thread of
evdctl traffic (list, status, stats, next, --json) whose every call must
succeed.

Every 2 s it samples evd's descriptors, threads, RSS and the zombies among
its children. After the warm-up (default: a fifth of the run, at least 20 s)
it fails if
  * descriptors exceed the warm-up maximum by more than 4, or threads
    exceed it at all, at every sample of the last quarter of the run (a
    leak raises the floor; runs and clients in flight only make peaks),
  * RSS exceeds the warm-up maximum by more than 8 MiB (not checked in a
    sanitizer build, EVD_E2E_SLOW=1: its quarantine holds freed memory),
  * a child stays a zombie over two samples,
  * a run of `fast` or an elapse of `cal` is lost: the runs started (from
    evd's log) are compared with the schedule (every second from evd's
    start; every even second), leaving out the last 3 s,
  * evd dies, an evdctl call fails, or a reload does not do what it should.
Exit status: 0 pass, 1 fail, 77 skip. Stdlib only.
"""

import argparse
import json
import math
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "faults"))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "e2e"))

import evdtest  # noqa: E402
from faultlib import FaultEvd, check, cpu_seconds, n_fds, n_threads, wait_for  # noqa: E402
from evdtest import TestFailure, children_of, proc_stat, rss_kb  # noqa: E402

BASE = """
[daemon]
workers = 4
kill_grace = 1s
shutdown_timeout = 5s

[job:fast]
command = /bin/true
every = 1s

[job:cal]
command = /bin/true
calendar = *:*:0/2

[job:fail]
command = /bin/sh -c "exit 3"
every = 3s

[job:retry]
command = /bin/false
every = 4s
retries = 1
retry_delay = 500ms

[job:hang]
command = /bin/sleep 30
every = 5s
timeout = 1s

[job:chatty]
command = {DIR}/chatty.sh
every = 3s

[job:victim]
command = {DIR}/victim.sh
every = 2s
"""

EXTRA = """
[job:extra]
command = /bin/echo extra {n}
every = {every}s
"""

BROKEN = """
[job:broken]
command = /bin/true
every = 1s
no_such_key = {n}
"""

CHATTY = """
i=0
while [ $i -lt 2000 ]; do echo "CHATTYLINE $i xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"; i=$((i+1)); done
"""

VICTIM = """
echo $$ > {OUT}/victim.pid.tmp
mv {OUT}/victim.pid.tmp {OUT}/victim.pid
sleep 1.5
"""


class SoakEvd(FaultEvd):
    """Keeps evd's log lines but counts chatty's payload instead of storing
    it (2000 lines every 3 s would fill the test's memory)."""

    chatty_lines = 0

    def _read_stderr(self):
        started = re.compile(r"\]: started \(pid (\d+)")
        for raw in self.proc.stderr:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            if "CHATTYLINE" in line:
                self.chatty_lines += 1
                continue
            m = started.search(line)
            with self.lines_lock:
                if m:
                    self.run_pids.add(int(m.group(1)))
                self.lines.append(line)
                self.line_times.append(time.monotonic())


class Soak:
    def __init__(self, evd_bin, minutes, seed, warmup):
        self.evd_bin = evd_bin
        self.duration = minutes * 60.0
        self.rng = random.Random(seed)
        self.seed = seed
        self.warmup = warmup if warmup is not None else max(20.0, self.duration / 5)
        self.errors = []
        self.samples = []   # (t since start, fds, threads, rss_kb, zombies)
        self.stop = threading.Event()
        self.ctl_calls = 0
        self.reloads = {"valid": 0, "invalid": 0}
        self.kills = 0

    def fail(self, msg):
        self.errors.append(msg)
        print(f"FAIL: {msg}", flush=True)
        self.stop.set()

    # -- background activity

    def ctl_traffic(self, e):
        cmds = [["list"], ["status"], ["status", "fast"], ["stats"], ["next", "cal", "3"], ["list"]]
        while not self.stop.is_set():
            args = self.rng.choice(cmds)
            js = self.rng.random() < 0.5
            try:
                rc, out, err = e.ctl(*args, json_out=js, timeout=30)
            except subprocess.TimeoutExpired:
                self.fail(f"evdctl {' '.join(args)} hung for 30 s")
                return
            self.ctl_calls += 1
            if rc != 0:
                self.fail(f"evdctl {'--json ' if js else ''}{' '.join(args)}: exit {rc}: {out[:300]} {err[:300]}")
                return
            if js:
                try:
                    json.loads(out)
                except ValueError as x:
                    self.fail(f"evdctl --json {' '.join(args)}: not JSON ({x}): {out[:300]}")
                    return
            self.stop.wait(self.rng.uniform(0.05, 0.4))

    def reload_once(self, e):
        n = self.reloads["valid"] + self.reloads["invalid"]
        if self.rng.random() < 0.3:
            e.write_config(BASE + BROKEN.format(n=n))
            start = e.log_count()
            e.reload(timeout=60)
            if not e.grep(r"Reload failed", start):
                self.fail("an invalid configuration was not refused:\n" + e.log_tail())
            self.reloads["invalid"] += 1
        else:
            text = BASE
            if self.rng.random() < 0.7:
                text += EXTRA.format(n=n, every=self.rng.choice([1, 2, 7]))
            e.write_config(text)
            start = e.log_count()
            e.reload(timeout=60)
            if not e.grep(r"Configuration reloaded", start):
                self.fail("a valid reload was not applied:\n" + e.log_tail())
            self.reloads["valid"] += 1

    def kill_victim(self, e):
        try:
            pid = int(open(e.o("victim.pid")).read())
        except (OSError, ValueError):
            return
        st = proc_stat(pid)
        # Only a run of this evd: its process group leader, child of evd.
        if st and st[0] not in ("Z", "X") and st[1] == e.pid and st[2] == pid:
            try:
                os.kill(pid, signal.SIGKILL)
                self.kills += 1
            except ProcessLookupError:
                pass

    def sample(self, e, t):
        zombies = [c for c, s in children_of(e.pid) if s == "Z"]
        self.samples.append((t, n_fds(e.pid), n_threads(e.pid), rss_kb(e.pid), zombies))
        if len(self.samples) >= 2:
            stuck = set(self.samples[-1][4]) & set(self.samples[-2][4])
            if stuck:
                self.fail(f"children of evd still zombies after 2 s: {sorted(stuck)}")

    # -- checks

    def check_growth(self):
        warm = [s for s in self.samples if s[0] < self.warmup]
        late = [s for s in self.samples if s[0] >= self.warmup]
        if not warm or not late:
            self.fail(f"too few samples ({len(warm)} in warm-up, {len(late)} after)")
            return
        # A sanitizer's quarantine keeps freed memory for a while (ASan: up
        # to 256 MB), so RSS says nothing there: reported, not checked.
        #
        # Descriptors and threads come and go with the load (each run in
        # flight holds two pipes and a pidfd, each evdctl client a socket):
        # a sample taken at a busy moment is no leak. A leak raises the
        # floor, so they are judged by their lowest count over the last
        # quarter of the run; RSS by its highest.
        tail = late[len(late) * 3 // 4:] or late
        for idx, name, slack, judged in ((1, "descriptors", 4, "floor"), (2, "threads", 0, "floor"),
                                         (3, "RSS (kB)", 8192, "peak")):
            w = max(s[idx] for s in warm)
            l = min(s[idx] for s in tail) if judged == "floor" else max(s[idx] for s in late)
            unchecked = idx == 3 and evdtest.SLOW
            print(f"{name}: warm-up max {w}, after ({judged}) {l}, peak {max(s[idx] for s in late)}"
                  + (" (not checked in a sanitizer build)" if unchecked else ""))
            if l > w + slack and not unchecked:
                self.fail(f"{name} grew from {w} (warm-up) to {l} ({judged} of "
                          f"{'the last quarter' if judged == 'floor' else 'the run'}; bound +{slack})")

    def check_runs(self, e, t_end_rt):
        """Runs started against the schedule, from evd's log (the time each
        "started" line was read). Between the first and the last run of a
        job, every deadline must have had its run: `fast` every second,
        `cal` every even second, so the count between them is fixed (an
        overdue deadline evd skips shows as one run too few). And runs must
        have gone on to the end: at least one per period up to 5 s before."""
        log = e.log()
        times = e.line_times[:len(log)]
        mono_to_rt = time.time() - time.monotonic()
        for job, period in (("fast", 1.0), ("cal", 2.0)):
            rx = re.compile(r"^\w+: " + job + r"\[\d+\]: started \(pid")
            started = [times[i] + mono_to_rt for i, l in enumerate(log) if rx.search(l)]
            if len(started) < 2:
                self.fail(f"{job}: {len(started)} runs")
                continue
            between = round((started[-1] - started[0]) / period) + 1
            going = math.floor((t_end_rt - 5 - e.ready_realtime()) / period)
            print(f"{job}: {len(started)} runs started; {between} deadlines from the first to the last; "
                  f"at least {going} expected by the end")
            if len(started) < between:
                gaps = sorted((b - a for a, b in zip(started, started[1:])), reverse=True)[:5]
                self.fail(f"{job}: {between - len(started)} run(s) lost between the first and the last "
                          f"(largest gaps {[round(g, 2) for g in gaps]} s)")
            if len(started) < going:
                self.fail(f"{job}: only {len(started)} runs, {going} due by {t_end_rt - 5:.0f}")
            skipped = e.grep(r"^\w+: " + job + r"\[.*(skipped|not started)")
            if skipped:
                self.fail(f"{job}: runs skipped: {skipped[:3]}")

    # -- main

    def run(self):
        t0 = time.monotonic()
        cpu0 = None
        with SoakEvd(self.evd_bin, BASE, "soak", scripts={"chatty.sh": CHATTY, "victim.sh": VICTIM}) as e:
            cpu0 = cpu_seconds(e.pid)
            ctl = threading.Thread(target=self.ctl_traffic, args=(e,), daemon=True)
            ctl.start()
            t_start = time.monotonic()
            next_sample = next_reload = next_kill = t_start
            last_report = t_start
            while not self.stop.is_set():
                now = time.monotonic()
                t = now - t_start
                if t >= self.duration:
                    break
                if not e.alive():
                    self.fail(f"evd died (exit {e.proc.returncode}):\n" + e.log_tail())
                    break
                try:
                    if now >= next_sample:
                        self.sample(e, t)
                        next_sample += 2.0
                    if now >= next_reload:
                        self.reload_once(e)
                        next_reload = time.monotonic() + self.rng.uniform(2, 8)
                    if now >= next_kill:
                        self.kill_victim(e)
                        next_kill = time.monotonic() + self.rng.uniform(3, 9)
                except (TestFailure, OSError) as x:
                    self.fail(f"{type(x).__name__}: {x}")
                    break
                if now - last_report >= 60:
                    s = self.samples[-1]
                    print(f"{t:.0f}s: fds {s[1]} threads {s[2]} rss {s[3]} kB; {self.ctl_calls} evdctl calls, "
                          f"reloads {self.reloads}, {self.kills} kills", flush=True)
                    last_report = now
                time.sleep(0.1)
            self.stop.set()
            ctl.join(60)
            t_end_rt = time.time()
            if not self.errors:
                self.check_growth()
                self.check_runs(e, t_end_rt)
                if self.kills == 0 and self.duration >= 60:
                    self.fail("no victim run was killed: the outside kills did not happen")
                killed = e.grep(r"victim\[.*(failed|stopped).*SIGKILL|victim\[.*killed by signal KILL")
                print(f"victim runs ended by SIGKILL: {len(killed)} of {self.kills} kills")
                timeouts = e.grep(r"hang\[.*timed out")
                if self.duration >= 60 and not timeouts:
                    self.fail("hang never timed out")
            cpu = cpu_seconds(e.pid) - cpu0 if e.alive() else float("nan")
            rc = e.stop(timeout=60)
            if rc != 0:
                self.fail(f"evd exited with {rc} at the end")
            san = e.grep(r"ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:")
            if san:
                self.fail(f"sanitizer report: {san[:3]}")
        print(f"soak: {time.monotonic() - t0:.0f}s, seed {self.seed}, {self.ctl_calls} evdctl calls, "
              f"reloads {self.reloads}, {self.kills} outside kills, {e.chatty_lines} chatty lines, "
              f"evd CPU {cpu:.1f}s")
        return not self.errors


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("evd")
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--warmup", type=float, default=None, help="seconds (default: a fifth, at least 20)")
    a = ap.parse_args()
    if not os.access(a.evd, os.X_OK):
        print(f"SKIP: {a.evd} is not an executable evd")
        sys.exit(77)
    seed = a.seed if a.seed is not None else random.randrange(1 << 30)
    ok = Soak(a.evd, a.minutes, seed, a.warmup).run()
    print("PASS" if ok else f"FAILED (seed {seed})")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
