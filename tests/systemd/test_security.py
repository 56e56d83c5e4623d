#!/usr/bin/env python3
"""test_security.py - the shipped unit's hardening does not regress.

Runs `systemd-analyze security --offline=true systemd/evd.service` and fails
when the overall exposure is above MAX_EXPOSURE. systemd 252 rates the unit
6.9 MEDIUM; every setting the unit leaves out is listed, with the reason, at
the end of its [Service] section. Loosening the unit past the threshold must
be a decision, made here, not an accident.

Usage: test_security.py UNIT_FILE
Exit status: 0 pass, 1 fail, 77 skipped (no systemd-analyze with --offline,
which came with systemd 250).
"""
import re
import shutil
import subprocess
import sys

MAX_EXPOSURE = 7.0


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    unit = sys.argv[1]
    if not shutil.which("systemd-analyze"):
        print("SKIP: systemd-analyze is not installed")
        return 77
    p = subprocess.run(["systemd-analyze", "security", "--offline=true", "--no-pager", unit],
                       capture_output=True, text=True, timeout=120)
    out = p.stdout + p.stderr
    m = re.search(r"Overall exposure level for \S+: (\d+(?:\.\d+)?) (\w+)", out)
    if not m:
        if "--offline" in out or "unrecognized option" in out or "Unknown option" in out:
            print(f"SKIP: this systemd-analyze has no --offline: {out.strip()[:300]}")
            return 77
        print(f"FAIL: no overall exposure in the output of systemd-analyze security:\n{out}")
        return 1
    score, level = float(m.group(1)), m.group(2)
    print(f"systemd-analyze security --offline=true {unit}: {score} {level} (limit {MAX_EXPOSURE})")
    if score > MAX_EXPOSURE:
        print(out)
        print(f"FAIL: exposure {score} {level} is above {MAX_EXPOSURE}: the unit's hardening regressed")
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
