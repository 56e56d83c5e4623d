"""alertslib.py - what the tests in tests/alerts/ share: the verdicts."""
import sys

SKIP = 77


def skip(why):
    print("SKIP:", why, flush=True)
    sys.exit(SKIP)


def fail(why):
    print("FAIL:", why, flush=True)
    sys.exit(1)


def free_port():
    """A loopback TCP port nobody listens on (now)."""
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scrape_textfile(node_exporter, textdir, log_path, timeout=60):
    """Runs node_exporter on a loopback port with its textfile collector
    on textdir only, scrapes /metrics once (retrying until it listens) and
    stops it by its PID. Returns the body; its stderr goes to log_path."""
    import subprocess
    import time
    import urllib.request
    port = free_port()
    with open(log_path, "w") as log:
        ne = subprocess.Popen([node_exporter, f"--web.listen-address=127.0.0.1:{port}",
                               "--collector.disable-defaults", "--collector.textfile",
                               f"--collector.textfile.directory={textdir}"],
                              stdout=subprocess.DEVNULL, stderr=log)
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
                    return r.read().decode()
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
    finally:
        ne.terminate()
        try:
            ne.wait(30)
        except subprocess.TimeoutExpired:
            ne.kill()
            ne.wait()
