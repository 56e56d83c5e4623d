#!/usr/bin/python3
"""evd -t on a file with more errors than are reported: the first 100 are
printed as PATH:LINE: message, one line says the rest were cut, and the
summary does not count that line as an error."""

import os
import subprocess
import tempfile

from evdtest import check, run_tests


def test_more_than_100_errors(evd_bin):
    with tempfile.TemporaryDirectory(prefix="evd-e2e-check-many-") as d:
        conf = os.path.join(d, "evd.conf")
        with open(conf, "w") as f:
            f.write("".join(f"[job:j{i}]\nbogus = 1\n" for i in range(150)))
        os.chmod(conf, 0o644)
        p = subprocess.run([evd_bin, "-t", "-c", conf], capture_output=True, text=True, timeout=60)
        check(p.returncode == 1, f"exit status {p.returncode}")
        err = p.stderr.splitlines()
        located = [line for line in err if line.startswith(conf + ":") and line.split(":")[1].isdigit()]
        check(len(located) == 100, f"{len(located)} PATH:LINE errors, want 100")
        check(err[-1] == f"{conf}: too many errors, only the first 100 are shown", f"last line {err[-1]!r}")
        check(p.stdout.strip() == f"{conf}: invalid: more than 100 errors", f"summary {p.stdout.strip()!r}")


if __name__ == "__main__":
    run_tests([("more_than_100_errors", test_more_than_100_errors)])
