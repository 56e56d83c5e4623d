#!/usr/bin/env python3
"""The metrics text of metrics.c checked by the format's own tools:
Debian's `promtool check metrics` (Prometheus text format), the strict
OpenMetrics parser of python3-prometheus-client, and a real
prometheus-node-exporter on a loopback port whose textfile collector reads
the file metrics_write_file() wrote: the evd series must be scraped, with
node_textfile_scrape_error 0. Argument: the alertstool binary. Exits 77
when a tool is missing."""
import os
import shutil
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from alertslib import fail, scrape_textfile, skip  # noqa: E402

TOOL = sys.argv[1]
PROMTOOL = shutil.which("promtool")
NODE_EXPORTER = shutil.which("prometheus-node-exporter")


if not PROMTOOL or not NODE_EXPORTER:
    skip("needs promtool (package prometheus) and prometheus-node-exporter")
try:
    from prometheus_client.openmetrics import parser as om_parser
except ImportError:
    skip("needs python3-prometheus-client")


def render(fmt):
    return subprocess.run([TOOL, "metrics", "-", fmt], check=True, capture_output=True).stdout.decode()


def check_promtool():
    text = render("prometheus")
    p = subprocess.run([PROMTOOL, "check", "metrics"], input=text.encode(), capture_output=True)
    if p.returncode != 0 or p.stdout.strip() or p.stderr.strip():
        fail(f"promtool check metrics: rc {p.returncode}: {p.stdout!r} {p.stderr!r}")
    # The checker does reject what is wrong: the test can fail.
    bad = text.replace('\\"name\\"', '"name"', 1)
    p = subprocess.run([PROMTOOL, "check", "metrics"], input=bad.encode(), capture_output=True)
    if p.returncode == 0:
        fail("promtool accepted an unescaped quote")


def check_openmetrics():
    text = render("openmetrics")
    fams = {f.name: f for f in om_parser.text_string_to_metric_families(text)}
    runs = fams["evd_job_runs"]
    if runs.type != "counter":
        fail(f"evd_job_runs is {runs.type}")
    jobs = {s.labels["job"] for s in runs.samples}
    want = {"backup", "never-ran", 'odd "name" with \\ and\nnewline', "ünïcødé.job"}
    if jobs != want:
        fail(f"job labels {jobs!r}, want {want!r}")
    ok = [s for s in runs.samples if s.labels == {"job": "backup", "result": "success"}]
    if len(ok) != 1 or ok[0].value != 10:
        fail(f"evd_job_runs_total backup success: {ok!r}")
    try:
        list(om_parser.text_string_to_metric_families(text.replace("# EOF\n", "")))
    except ValueError:
        pass
    else:
        fail("the OpenMetrics parser accepted a text without # EOF")


def check_node_exporter():
    with tempfile.TemporaryDirectory(prefix="evd-metrics-") as d:
        prom = os.path.join(d, "evd.prom")
        subprocess.run([TOOL, "metrics", prom, "prometheus"], check=True)
        names = os.listdir(d)
        if names != ["evd.prom"]:
            fail(f"the textfile directory holds {names!r}")
        body = scrape_textfile(NODE_EXPORTER, d, os.path.join(d, "ne.log"))
        log = open(os.path.join(d, "ne.log")).read()
        lines = body.splitlines()
        for want in ['evd_job_runs_total{job="backup",result="success"} 10',
                     'evd_job_paused{job="never-ran"} 1',
                     'evd_job_overdue{job="odd \\"name\\" with \\\\ and\\nnewline"} 1',
                     'evd_runs_started_total 14',
                     'node_textfile_scrape_error 0']:
            if want not in lines:
                fail(f"scrape lacks {want!r}; node_exporter said:\n{log}\nscrape:\n{body}")


check_promtool()
check_openmetrics()
check_node_exporter()
print("ok")
