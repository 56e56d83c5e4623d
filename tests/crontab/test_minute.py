#!/usr/bin/python3
"""A `* * * * *` line of a system crontab in [crontabs] really runs at the
next minute boundary (not before it), through the crontab's SHELL, with
nothing but the file and evd: no `evdctl run`. Slow (up to ~70 s) by
nature, so it is in the "crontab" label, not "e2e"."""

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
from evdtest import Evd, check, read_file, require_root, run_tests, wait_for  # noqa: E402


def test_minute(evd_bin):
    require_root("crontab files owned by root")
    conf = "[crontabs]\nsystem = {DIR}/crontab\n"
    with Evd(evd_bin, conf, "crontab-minute", start=False) as e:
        e.write("crontab", "SHELL=/bin/bash\n* * * * * root echo $BASH_VERSION $(date +\\%s.\\%N) >> {OUT}/ran\n")
        e.start()
        started = time.time()
        wait_for(lambda: read_file(e.o("ran")), 75, 0.2, what="the * * * * * entry's first run")
        words = read_file(e.o("ran")).split()
        check(len(words) == 2 and words[0], f"not run through SHELL=/bin/bash: {words}")
        at = float(words[1])
        boundary = (int(started) // 60 + 1) * 60
        check(at >= boundary, f"ran at {at}, before the minute boundary {boundary}")
        check(e.stop() == 0, f"exit status {e.returncode}")


if __name__ == "__main__":
    run_tests([("minute", test_minute)])
