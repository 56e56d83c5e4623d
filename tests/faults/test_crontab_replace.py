#!/usr/bin/python3
"""Fault: a crontab replaced again and again while evd reads it.

[crontabs] system = DIR/cron.d; the file cron.d/rot is replaced by a
writer loop, as fast as it can, for a minute and more (a minute boundary
included): each round writes a whole new version to ".rot.tmp" (a name a
cron.d directory does not read) and renames it over "rot", alternating
two versions A and B. Both have the same marker entry (`* * * * *`) and
3,000 entries of their own.

Expected:
  * evd never loads a mix of A and B, nor a part of one: whenever
    `evdctl list` is asked, the rot-* jobs are exactly A's or B's (the
    reader's names, tests/crontab/crontab_check entries);
  * the marker, the same entry in both, keeps its name and its deadline:
    it runs once per minute, never twice, never skipped, during the loop
    and after it;
  * nothing is refused or reported as an error (every rename leaves a
    whole file under the name); evd stays up; a last version (B) written
    after the loop is the one loaded, within seconds, without SIGHUP.
Needs root (crontabs must be owned by root)."""

import os
import shutil
import threading
import time

import cronfault
from faultlib import FaultEvd, check, wait_for
from evdtest import require_root, run_tests

N = 3000


def version(e, tag):
    lines = [cronfault.marker(e.o("rot"), "rot")]
    lines += [f"{i % 60} {i // 60 % 24} 3 1 * root : {tag}{i}\n" for i in range(N)]
    return "".join(lines)


def test_replace(evd_bin):
    require_root("root-owned crontabs")
    conf = """
    [crontabs]
    system = {DIR}/cron.d
    """
    with FaultEvd(evd_bin, conf, "cronrot", start=False) as e:
        d = e.path("cron.d")
        os.makedirs(d)
        texts = {"A": version(e, "a"), "B": version(e, "b")}
        refs = {}
        for tag, text in texts.items():
            os.makedirs(e.path(f"ref{tag}"))
            cronfault.write_crontab(e.path(f"ref{tag}/rot"), text)
            refs[tag] = set(cronfault.reference_names(evd_bin, e.path(f"ref{tag}/rot")))
            check(len(refs[tag]) == N + 1, f"the reader found {len(refs[tag])} entries in {tag}")
        check(len(refs["A"] & refs["B"]) == 1, "A and B share more than the marker")
        cronfault.write_crontab(os.path.join(d, "rot"), texts["A"])
        e.start()
        t0 = e.ready_realtime()
        check(set(cronfault.job_names(e, "rot-")) == refs["A"], "evd did not load version A at start")
        start = e.log_count()

        stop = threading.Event()
        rounds = [0]

        def writer():
            while not stop.is_set():
                tag = "B" if rounds[0] % 2 == 0 else "A"
                cronfault.write_crontab(os.path.join(d, "rot"), texts[tag])
                rounds[0] += 1
        w = threading.Thread(target=writer, daemon=True)
        w.start()
        samples = 0
        try:
            end = (int(time.time()) // 60 + 1) * 60 + 10     # a minute boundary inside the loop
            while time.time() < end:
                got = set(cronfault.job_names(e, "rot-"))
                check(got in (refs["A"], refs["B"]),
                      f"evd's rot-* jobs are neither A nor B: {len(got)} jobs, "
                      f"{len(got & refs['A'])} of A, {len(got & refs['B'])} of B")
                samples += 1
                e.check_alive("while the file was replaced ")
                time.sleep(0.3)
        finally:
            stop.set()
            w.join(30)
        print(f"  {rounds[0]} renames, {samples} samples of evdctl list", flush=True)
        check(rounds[0] > 100, f"only {rounds[0]} renames")
        # Settled: the last version written is loaded, B written now.
        cronfault.write_crontab(os.path.join(d, "rot"), texts["B"])
        wait_for(lambda: set(cronfault.job_names(e, "rot-")) == refs["B"], 15,
                 what="evd to load the last version (B) without SIGHUP")
        check(e.grep(r"(?i)crontab changed", start), "no line saying a crontab changed:\n" + e.log_tail())
        bad = e.grep(r"(?i)cron\.d/rot.*(refus|error|fail|cannot|vanish)", start)
        check(not bad, f"evd reported errors for a file that was always whole: {bad[:5]}")
        t1 = cronfault.wait_boundaries(time.time(), 1)
        cronfault.check_minutes(e.o("rot"), t0, t1 - 15, "rot's marker")
        check(e.stop() == 0, f"exit status {e.returncode}")
        for tag in texts:
            shutil.rmtree(e.path(f"ref{tag}"), ignore_errors=True)


if __name__ == "__main__":
    run_tests([("crontab_replace", test_replace)])
