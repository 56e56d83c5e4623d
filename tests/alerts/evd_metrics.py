#!/usr/bin/env python3
"""evd_metrics.py - `evdctl metrics` and [daemon] metrics_file of the real
evd, checked with the exposition format's own tools.

Scenarios (one ctest test each, tests/alerts.cmake):
  text   jobs that succeed, exit 3, die of SIGKILL, time out, cannot be
         spawned, and are skipped (overlap=skip): each result is counted
         under its own label, the per-job counters add up to the daemon's,
         a job that never ran has a next run and no last start; `promtool
         check metrics` accepts the text, python3-prometheus-client's
         strict OpenMetrics parser accepts `--openmetrics`; a pause shows.
  file   node_exporter's textfile collector (Debian's
         prometheus-node-exporter on a loopback port) scrapes the file evd
         keeps: the evd series are there with their values and
         node_textfile_scrape_error is 0; promtool accepts the file; no
         temporary file is left behind.
  idle   the file is written when a value changes, never on a timer: an
         evd with nothing to run (and control requests hitting it) leaves
         the file alone; a pause, then a run, replace it.
  hangup clients that ask for the metrics of 20,000 jobs and hang up
         while they are rendered: evd forgets them (no freed client is
         touched: the sanitizer builds) and answers the next one.
  paths  metrics_file that is not absolute or names a directory: `evd -t`
         says PATH:LINE; a directory that does not exist: one warning, evd
         runs on, and the file comes when the directory does; a reload to
         another path writes there.

Usage: evd_metrics.py EVD EVDCTL SCENARIO. Exit 77 when a tool is missing or
not root (the harness's rule)."""
import os
import re
import shutil
import subprocess
import sys
import time

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "evdctl"))
sys.path.insert(0, HERE)
from harness import SKIP, check, main, wait_until  # noqa: E402
from alertslib import scrape_textfile  # noqa: E402

PROMTOOL = shutil.which("promtool")
NODE_EXPORTER = shutil.which("prometheus-node-exporter") or (
    "/usr/bin/prometheus-node-exporter" if os.path.exists("/usr/bin/prometheus-node-exporter") else None)

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse(text):
    """{(name, frozenset(labels)): value} of a Prometheus text."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        check(m, "not a sample line: %r" % line)
        labels = frozenset(LABEL.findall(m.group(3) or ""))
        out[(m.group(1), labels)] = float(m.group(4))
    return out


def value(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())))


def metrics(env, *args):
    r = env.ok("metrics", *args)
    return r.out


def promtool_ok(text, what):
    p = subprocess.run([PROMTOOL, "check", "metrics"], input=text.encode(), capture_output=True)
    check(p.returncode == 0 and not p.stdout.strip() and not p.stderr.strip(),
          "promtool check metrics on %s: rc %d: %r %r" % (what, p.returncode, p.stdout, p.stderr))


DAEMON = "[daemon]\nworkers = 16\nkill_grace = 1s\n"

TEXT_JOBS = """
[job:ok]
command = /bin/true
every = 1s

[job:fail]
command = /bin/sh -c 'exit 3'
every = 1s

[job:sig]
command = /bin/sh -c 'kill -KILL $$'
every = 1s

[job:slow]
command = /bin/sleep 30
every = 1s
timeout = 300ms

[job:nospawn]
command = /nonexistent/evd-metrics-test
every = 1s

[job:skip]
command = /bin/sleep 3
every = 1s
overlap = skip

[job:never]
command = /bin/true
cron = 0 0 1 1 *
"""

WANT = {("ok", "success"), ("fail", "exit-code"), ("sig", "signal"), ("slow", "timeout"),
        ("nospawn", "spawn-failed"), ("skip", "skipped")}
RESULTS = ("success", "exit-code", "signal", "timeout", "spawn-failed", "skipped")


def test_text(env):
    env.write_conf(DAEMON + TEXT_JOBS)
    env.start()

    def counted():
        s = parse(metrics(env))
        return s if all((value(s, "evd_job_runs_total", job=j, result=r) or 0) >= 1 for j, r in WANT) else None
    s = wait_until(counted, "every kind of result counted")
    # Each job's runs are counted under their own result only.
    for job, result in WANT:
        for other in RESULTS:
            if other != result:
                check(value(s, "evd_job_runs_total", job=job, result=other) == 0,
                      "%s counted as %s: %r" % (job, other, value(s, "evd_job_runs_total", job=job, result=other)))
    # The per-job counters add up to the daemon's (one snapshot).
    failed = sum(value(s, "evd_job_runs_total", job=j, result=r)
                 for j in ("ok", "fail", "sig", "slow", "nospawn", "skip", "never")
                 for r in ("exit-code", "signal", "timeout", "spawn-failed"))
    check(failed == value(s, "evd_runs_failed_total"), "job failures %r, evd_runs_failed_total %r"
          % (failed, value(s, "evd_runs_failed_total")))
    skipped = sum(value(s, "evd_job_runs_total", job=j, result="skipped") for j in ("skip", "ok", "never"))
    check(skipped == value(s, "evd_runs_skipped_total"), "skips %r vs %r" % (skipped, value(s, "evd_runs_skipped_total")))
    now = time.time()
    ok_start = value(s, "evd_job_last_start_timestamp_seconds", job="ok")
    ok_success = value(s, "evd_job_last_success_timestamp_seconds", job="ok")
    check(ok_start and ok_success and ok_start <= ok_success <= now + 1,
          "ok: last start %r, last success %r" % (ok_start, ok_success))
    check(value(s, "evd_job_last_success_timestamp_seconds", job="fail") is None,
          "a job that never succeeded has a last success")
    check(value(s, "evd_job_last_start_timestamp_seconds", job="never") is None, "never ran, has a last start")
    check(value(s, "evd_job_next_run_timestamp_seconds", job="never") > now, "never: no next run in the future")
    check(value(s, "evd_job_overdue", job="ok") == 0 and value(s, "evd_job_paused", job="ok") == 0,
          "ok: overdue/paused not 0")
    check(value(s, "evd_jobs") == 7 and value(s, "evd_workers") == 16, "evd_jobs / evd_workers")
    check(value(s, "evd_job_last_duration_seconds", job="slow") >= 0.3, "slow: its duration is under its timeout")
    # After a success a failure keeps the last success; ok runs on.
    promtool_ok(metrics(env), "evdctl metrics")

    om = metrics(env, "--openmetrics")
    check(om.endswith("# EOF\n"), "OpenMetrics text does not end with # EOF")
    try:
        from prometheus_client.openmetrics import parser as om_parser
    except ImportError:
        print("note: python3-prometheus-client missing; --openmetrics only checked for # EOF")
    else:
        fams = {f.name: f for f in om_parser.text_string_to_metric_families(om)}
        check(fams["evd_job_runs"].type == "counter", "evd_job_runs is %s" % fams["evd_job_runs"].type)
        check(fams["evd_job_paused"].type == "gauge", "evd_job_paused")

    env.ok("pause", "never")
    wait_until(lambda: value(parse(metrics(env)), "evd_job_paused", job="never") == 1, "the pause in the metrics")
    r = env.ctl("metrics", "--bogus")
    check(r.rc == 2, "metrics --bogus: %r" % r)
    r = env.ctl("metrics", "--json")
    check(r.rc == 2 and r.out.startswith("{") and "no JSON form" in r.out, "metrics --json: %r" % r)


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        return None


def test_file(env):
    textdir = env.path("textfile")
    os.mkdir(textdir)
    prom = os.path.join(textdir, "evd.prom")
    env.write_conf(DAEMON + "metrics_file = %s\n" % prom + """
[job:ok]
command = /bin/true
every = 1s

[job:fail]
command = /bin/false
every = 1s

[job:idle]
command = /bin/true
cron = 0 0 1 1 *
""")
    env.start()
    wait_until(lambda: (value(parse(read(prom) or ""), "evd_job_runs_total", job="fail", result="exit-code") or 0) >= 1
               and (value(parse(read(prom) or ""), "evd_job_runs_total", job="ok", result="success") or 0) >= 2,
               "runs in %s" % prom)
    promtool_ok(read(prom), prom)
    body = scrape_textfile(NODE_EXPORTER, textdir, env.path("node_exporter.log"))
    s = parse("\n".join(l for l in body.splitlines() if l.startswith(("evd_", "node_textfile"))))
    ne_log = read(env.path("node_exporter.log"))
    check(value(s, "node_textfile_scrape_error") == 0, "node_textfile_scrape_error is not 0:\n%s" % ne_log)
    check((value(s, "evd_job_runs_total", job="ok", result="success") or 0) >= 2,
          "scrape lacks ok's successes:\n%s" % body[-3000:])
    check((value(s, "evd_job_runs_total", job="fail", result="exit-code") or 0) >= 1, "scrape lacks fail's failures")
    check(value(s, "evd_job_next_run_timestamp_seconds", job="idle") > time.time(), "scrape lacks idle's next run")
    check(value(s, "evd_job_last_success_timestamp_seconds", job="ok") is not None, "scrape lacks ok's last success")
    check(value(s, "evd_jobs") == 3, "evd_jobs in the scrape")
    env.stop()
    left = sorted(os.listdir(textdir))
    check(left == ["evd.prom"], "the textfile directory holds %r" % left)
    # The last write (at exit) has no run in flight.
    s = parse(read(prom))
    check(value(s, "evd_running") == 0, "evd_running after the stop: %r" % value(s, "evd_running"))


def test_idle(env):
    prom = env.path("evd.prom")
    env.write_conf(DAEMON + "metrics_file = %s\n" % prom + """
[job:idle]
command = /bin/true
cron = 0 0 1 1 *
""")
    env.start()
    wait_until(lambda: read(prom) is not None, "the metrics file")
    time.sleep(1)
    before = os.stat(prom)
    # Control requests wake evd's loop (and count in `evdctl stats`), but
    # change nothing the metrics show: no write.
    for _ in range(6):
        env.ok("metrics")
        env.ok("stats")
        env.ok("list")
        time.sleep(0.5)
    after = os.stat(prom)
    check((after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns),
          "the metrics file was rewritten while nothing changed")
    env.ok("pause", "idle")
    wait_until(lambda: value(parse(read(prom)), "evd_job_paused", job="idle") == 1, "the pause in the file")
    env.ok("run", "idle")
    wait_until(lambda: value(parse(read(prom)), "evd_job_runs_total", job="idle", result="success") == 1,
               "the run in the file")


def test_paths(env):
    for bad, why in (("relative/evd.prom", "must be absolute"), ("/var/tmp/", "must name a file")):
        path = env.write_conf(DAEMON + "metrics_file = %s\n" % bad)
        p = subprocess.run([env.evd, "-t", "-c", path], capture_output=True, text=True)
        check(p.returncode == 1 and "%s:4:" % path in p.stderr and why in p.stderr,
              "evd -t with metrics_file = %s: rc %d: %r" % (bad, p.returncode, p.stderr))

    missing = env.path("later")
    prom = os.path.join(missing, "evd.prom")
    env.write_conf(DAEMON + "metrics_file = %s\n" % prom + """
[job:ok]
command = /bin/true
every = 1s
""")
    env.start()
    wait_until(lambda: "Cannot write the metrics file %s" % prom in env.log(), "the warning")
    wait_until(lambda: env.ok("stats", "--json").json()["runs_completed"] >= 3, "three runs")
    check(env.log().count("Cannot write the metrics file") == 1,
          "the warning is not logged once:\n%s" % env.log())
    check(env.proc.poll() is None, "evd stopped")
    os.mkdir(missing)
    wait_until(lambda: read(prom) is not None, "the file once its directory exists")
    wait_until(lambda: "Metrics file %s written again" % prom in env.log(), "the notice")

    other = env.path("other.prom")
    env.write_conf(DAEMON + "metrics_file = %s\n" % other + """
[job:ok]
command = /bin/true
every = 1s
""")
    env.ok("reload")
    wait_until(lambda: (value(parse(read(other) or ""), "evd_job_runs_total", job="ok", result="success") or 0) >= 1,
               "the file at the reloaded path")


def test_hangup(env):
    """Clients that ask for the metrics of 20,000 jobs and hang up while
    the text is rendered (queued, on the thread, or done): evd forgets
    them, answers the others, and (sanitizer builds) touches no freed
    client."""
    import random
    import socket
    jobs = "".join("[job:j%05d]\ncommand = /bin/true\ncron = 0 0 1 1 *\n\n" % i for i in range(20000))
    env.write_conf(DAEMON + jobs)
    env.start()
    rnd = random.Random(7)
    for i in range(40):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(env.sock)
        s.sendall(b"metrics\n")
        if i % 4:
            time.sleep(rnd.random() * 0.05)
        s.close()
    s = parse(metrics(env, "--timeout", "300s"))  # behind what was asked before (sanitizer builds are slow)
    check(value(s, "evd_jobs") == 20000 and value(s, "evd_job_paused", job="j19999") == 0,
          "metrics after the hang-ups")
    check(env.proc.poll() is None, "evd died")


TESTS = {"text": test_text, "file": test_file, "idle": test_idle, "paths": test_paths, "hangup": test_hangup}

if __name__ == "__main__":
    if not PROMTOOL or not NODE_EXPORTER:
        print("SKIP: needs promtool (package prometheus) and prometheus-node-exporter")
        sys.exit(SKIP)
    sys.exit(main(TESTS, sys.argv))
