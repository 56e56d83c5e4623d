#!/usr/bin/env python3
"""metrics_stall.py - what `evdctl metrics` and metrics_file cost evd's main
loop with 100,000 jobs (issue 10: rendering must not stall the loop).

An evd (a Release build) runs 100,000 calendar jobs on distinct weekly
seconds (as bench figure 4) with metrics_file set, in a temporary
directory. A thread sends `stats` requests back to back over the control
socket and records each round trip. Three phases, each a few seconds:
  idle      nothing else asked of evd: the baseline;
  requests  `metrics` requests back to back (each: a snapshot on the loop,
            the text rendered on the metrics thread, then sent);
  file      `pause`/`resume` of one job back to back: each changes a value,
            so evd takes a snapshot for the file after the iteration (when
            no write is in flight) and its thread renders and writes it.
For each phase: the stats round trips' p50, p99 and max (the loop's
stall shows as the max), and how many metrics texts / file writes were
made and how long one took.

usage: bench/metrics_stall.py BUILD_DIR [JOBS]   (BUILD_DIR holds evd and
evdctl; default 100000 jobs). Not part of bench/run; numbers in
bench/README.md."""
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

build = os.path.abspath(sys.argv[1])
n_jobs = int(sys.argv[2]) if len(sys.argv) > 2 else 100000
EVD, EVDCTL = os.path.join(build, "evd"), os.path.join(build, "evdctl")
DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


def request(sock, line, timeout=120, any_code=False):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(sock)
    s.sendall((line + "\n").encode())
    chunks = []
    while True:
        b = s.recv(1 << 20)
        if not b:
            break
        chunks.append(b)
    s.close()
    body = b"".join(chunks)
    if not body.startswith(b"EVD/1 0\n") and not (any_code and body.startswith(b"EVD/1 ")):
        raise RuntimeError("%s: %r" % (line, body[:200]))
    return body


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(len(v) * p / 100))]


def main():
    work = tempfile.mkdtemp(prefix="evd-metrics-bench-")
    conf = os.path.join(work, "evd.conf")
    prom = os.path.join(work, "evd.prom")
    with open(conf, "w") as f:
        f.write("[daemon]\nworkers = 4\nmetrics_file = %s\n\n" % prom)
        for i in range(n_jobs):
            sec = i % (7 * 86400)
            f.write("[job:j%06d]\ncommand = /bin/true\ncalendar = %s *-*-* %02d:%02d:%02d\n\n"
                    % (i, DAYS[sec // 86400], sec // 3600 % 24, sec // 60 % 60, sec % 60))
    os.chmod(conf, 0o644)
    sock = os.path.join(work, "control.sock")
    log = open(os.path.join(work, "evd.log"), "w")
    evd = subprocess.Popen([EVD, "-c", conf, "--log-target", "console", "--state-directory",
                            os.path.join(work, "state"), "--socket", sock], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                request(sock, "stats")
                break
            except (OSError, RuntimeError):
                if time.monotonic() > deadline or evd.poll() is not None:
                    raise SystemExit("evd did not come up; see %s" % log.name)
                time.sleep(0.1)
        while not os.path.exists(prom):
            time.sleep(0.1)
        time.sleep(2)  # the first write done

        def phase(name, load, seconds=6.0):
            rtts, stop, counts = [], threading.Event(), {"n": 0, "t": []}

            def pinger():
                while not stop.is_set():
                    t0 = time.monotonic()
                    request(sock, "stats")
                    rtts.append(time.monotonic() - t0)
            th = threading.Thread(target=pinger)
            ino0 = os.stat(prom).st_ino
            writes = [0]
            th.start()
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                if load:
                    t0 = time.monotonic()
                    load()
                    counts["t"].append(time.monotonic() - t0)
                    counts["n"] += 1
                else:
                    time.sleep(0.05)
                ino = os.stat(prom).st_ino
                if ino != ino0:
                    writes[0] += 1
                    ino0 = ino
            stop.set()
            th.join()
            ms = [r * 1000 for r in rtts]
            extra = ""
            if counts["n"]:
                extra = "; %d %s, each %.0f ms (p50, round trip)" % (counts["n"], name, pct(counts["t"], 50) * 1000)
            print("%-9s stats round trip p50 %.2f ms  p99 %.2f ms  max %.2f ms  (%d requests); file replaced "
                  "%d times%s" % (name, pct(ms, 50), pct(ms, 99), max(ms), len(ms), writes[0], extra), flush=True)

        size = len(request(sock, "metrics"))
        print("%d jobs; metrics text %.1f MB" % (n_jobs, size / 1e6), flush=True)
        phase("idle", None)
        phase("requests", lambda: request(sock, "metrics"))
        state = [False]

        def toggle():
            state[0] = not state[0]
            request(sock, "run j000000", any_code=True)  # skipped while one runs: no change
            time.sleep(0.02)
        phase("file", toggle)
    finally:
        evd.terminate()
        evd.wait(120)
        subprocess.run(["rm", "-rf", work])


main()
