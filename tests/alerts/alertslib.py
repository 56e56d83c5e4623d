"""alertslib.py - what the tests in tests/alerts/ share: the verdicts."""
import sys

SKIP = 77


def skip(why):
    print("SKIP:", why, flush=True)
    sys.exit(SKIP)


def fail(why):
    print("FAIL:", why, flush=True)
    sys.exit(1)
