#!/usr/bin/python3
"""Job output: a 200 MB flood (plus 50 MB of binary on stderr) leaves evd's memory where it was (lines are
cut and rate-limited, never buffered); a 1 MB line without a newline is
logged in bounded pieces, all of it; a run's end entry follows its output."""

import re
import time

from evdtest import SLOW, Evd, check, rss_kb, run_tests, wait_for

LINE_MAX = 8192


def test_flood(evd_bin):
    mb = 200
    conf = f"""
    [daemon]
    shutdown_timeout = 1s
    kill_grace = 1s
    [job:flood]
    command = head -c {mb}M /dev/zero | tr '\\0' 'x' | fold -w 100
    shell = yes
    every = 1s
    overlap = skip
    timeout = 5min
    [job:flood-err]
    command = head -c {mb // 4}M /dev/urandom >&2
    shell = yes
    every = 1s
    overlap = skip
    timeout = 5min
    """
    with Evd(evd_bin, conf, "flood", start=False) as e:
        e.start()
        time.sleep(0.2)
        before = rss_kb(e.pid)
        peak = before
        t0 = time.monotonic()

        def done():
            nonlocal peak
            peak = max(peak, rss_kb(e.pid))
            return len(e.grep(r"flood\[\d+\]: finished")) >= 1 and len(e.grep(r"flood-err\[\d+\]: finished")) >= 1
        wait_for(done, 120, interval=0.02, what="the flood runs to finish")
        took = time.monotonic() - t0
        after = rss_kb(e.pid)
        print(f"  {mb} MB + {mb // 4} MB binary in {took:.1f}s; RSS {before} kB -> peak {peak} kB -> {after} kB")
        limit = 4 * 1024 if not SLOW else 24 * 1024  # TSan shadows the 64 KiB read buffers
        check(peak - before < limit, f"evd's RSS grew from {before} kB to {peak} kB during a {mb} MB flood")
        # Rate limited and said so.
        dropped = e.grep(r"flood\[\d+\]: \d+ lines \(\d+ bytes\) of output dropped: rate limit")
        check(dropped, "no dropped-lines report for the flood")
        lines = e.grep(r"^info: flood\[\d+\]: x{100}$")
        check(0 < len(lines) < 200000, f"{len(lines)} flood lines logged: not rate limited")
        # Binary on stderr is escaped, never raw.
        err = e.grep(r"^warning: flood-err\[\d+\]: ")
        check(err, "no stderr lines of the binary flood logged")
        check(any("\\x" in l for l in err[:50]), "binary output is not escaped as \\xNN")
        check(e.stop() == 0, f"exit status {e.returncode}")


def test_long_line(evd_bin):
    conf = """
    [job:longline]
    command = head -c 1048576 /dev/zero | tr '\\0' 'a'; echo; printf tail-without-newline
    shell = yes
    cron = @reboot
    """
    with Evd(evd_bin, conf, "longline") as e:
        e.wait_log(r"longline\[\d+\]: finished: exit status 0", 1, timeout=30)
        log = e.log()
        pieces = [l for l in log if re.match(r"^info: longline\[\d+\]: a+$", l)]
        sizes = [len(l.split(": ", 2)[2]) for l in pieces]
        check(sum(sizes) == 1048576, f"{sum(sizes)} of 1048576 bytes of the long line logged")
        check(max(sizes) <= LINE_MAX, f"a piece of {max(sizes)} bytes: the line is not cut")
        tail = [i for i, l in enumerate(log) if re.match(r"^info: longline\[\d+\]: tail-without-newline$", l)]
        end = [i for i, l in enumerate(log) if re.search(r"longline\[\d+\]: finished", l)]
        check(tail, "the unterminated last line was lost")
        check(tail[0] < end[0], "the run's end was logged before its last output line")
        check(e.stop() == 0, f"exit status {e.returncode}")


def test_terminal_controls(evd_bin):
    """C1 controls (CSI U+009B) and bidi overrides are valid UTF-8 a terminal
    acts on: they reach the log escaped, byte by byte."""
    conf = """
    [job:controls]
    command = printf 'a\\302\\2332Jb \\342\\200\\256evil \\303\\251t\\303\\251\\n'
    shell = yes
    cron = @reboot
    """
    with Evd(evd_bin, conf, "controls") as e:
        e.wait_log(r"controls\[\d+\]: finished: exit status 0", 1, timeout=30)
        lines = e.grep(r"^info: controls\[\d+\]: a")
        check(lines, "the job's line was not logged")
        want = "a\\xc2\\x9b2Jb \\xe2\\x80\\xaeevil \u00e9t\u00e9"
        check(lines[0].endswith(want), f"C1 / bidi controls not escaped: {lines[0]!r}, want ...{want!r}")
        check(e.stop() == 0, f"exit status {e.returncode}")


if __name__ == "__main__":
    run_tests([
        ("flood", test_flood),
        ("long_line", test_long_line),
        ("terminal_controls", test_terminal_controls),
    ])
