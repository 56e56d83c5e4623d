#!/usr/bin/python3
"""overlap = skip | queue | parallel | replace, each with a job that takes
2.5 s and is due every second. Each run records `start RUN TIME` and, if it
gets to the end, `end RUN TIME`."""

import re

from evdtest import Evd, check, read_lines, run_tests, wait_for

JOB = """
[job:{name}]
command = {{DIR}}/slow.sh {name}
every = 1s
overlap = {name}
"""


def runs(e, name):
    """{run: [start, end or None]} from the job's evidence file."""
    out = {}
    for l in read_lines(e.o(name)):
        kind, run, t = l.split()
        out.setdefault(int(run), [None, None])[0 if kind == "start" else 1] = float(t)
    return out


def test_overlap(evd_bin):
    conf = "[daemon]\nworkers = 10\nkill_grace = 1s\n" + "".join(
        JOB.format(name=n) for n in ("skip", "queue", "parallel", "replace"))
    script = """
    echo "start $EVD_RUN $(date +%s.%N)" >> {OUT}/$1
    sleep 2.5
    echo "end $EVD_RUN $(date +%s.%N)" >> {OUT}/$1
    """
    with Evd(evd_bin, conf, "overlap", scripts={"slow.sh": script}) as e:
        # Long enough for each policy to decide at least twice.
        wait_for(lambda: len([r for r in runs(e, "skip").values() if r[1]]) >= 2, 20,
                 what="two complete runs of the skip job")
        wait_for(lambda: len([r for r in runs(e, "queue").values() if r[1]]) >= 2, 20,
                 what="two complete runs of the queue job")
        check(e.stop() == 0, f"exit status {e.returncode}")

        # skip: never two at once; due runs in between are skipped and logged.
        r = sorted(runs(e, "skip").values())
        for a, b in zip(r, r[1:]):
            check(a[1] is not None and b[0] >= a[1], f"overlap=skip: runs overlap: {a} {b}")
        check(e.grep(r"skip: scheduled run skipped: previous run \d+ still active \(overlap=skip\)"),
              "overlap=skip: no skip logged")

        # queue: never two at once; one start waits and follows the end.
        r = sorted(runs(e, "queue").values())
        for a, b in zip(r, r[1:]):
            check(a[1] is not None and b[0] >= a[1], f"overlap=queue: runs overlap: {a} {b}")
        check(e.grep(r"queue: scheduled run queued: waits for run \d+ \(overlap=queue\)"),
              "overlap=queue: no queued run logged")
        check(e.grep(r"queue: scheduled run skipped: one run is already queued"),
              "overlap=queue: a second due run while one is queued was not dropped")
        # The queued run starts as soon as the previous one ends, long before
        # the next scheduled time would come round again after a skip.
        gaps = [b[0] - a[1] for a, b in zip(r, r[1:])]
        check(min(gaps) < 0.9, f"overlap=queue: the queued run did not follow the end ({gaps})")

        # parallel: runs overlap.
        r = sorted(runs(e, "parallel").values())
        check(any(b[0] < a[1] for a, b in zip(r, r[1:]) if a[1]), f"overlap=parallel: no two runs overlapped: {r}")
        check(len(r) >= 3, f"overlap=parallel: only {len(r)} runs")

        # replace: the active run is terminated (SIGTERM) and the new one
        # starts after it is gone; never two at once.
        r = sorted(runs(e, "replace").values())
        check(len(r) >= 2, f"overlap=replace: {len(r)} runs")
        for a, b in zip(r, r[1:]):
            check(a[1] is None, f"overlap=replace: a run was allowed to finish: {a}")
        check(e.grep(r"replace: scheduled run replaces run \d+ \(overlap=replace\)"),
              "overlap=replace: the replacement was not logged")
        killed = e.grep(r"replace\[\d+\]: stopped: killed by signal TERM \(cancelled\)")
        check(len(killed) >= 1, "overlap=replace: no run was terminated")
        starts = [l for l in e.log() if re.search(r"replace\[\d+\]: (started|failed|stopped)", l)]
        depth = 0
        for l in starts:
            depth += 1 if "started" in l else -1
            check(depth <= 1, f"overlap=replace: two runs at once: {starts}")


if __name__ == "__main__":
    run_tests([("overlap", test_overlap)])
