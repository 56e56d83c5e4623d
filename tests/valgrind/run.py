#!/usr/bin/python3
"""Runs end-to-end and fault tests with evd under valgrind memcheck.

usage: run.py PATH-TO-EVD TEST-SCRIPT[:TEST-NAME,...] ...

Each test script (tests/e2e/test_*.py, tests/faults/test_*.py) takes the
evd binary as its argument. This runner hands it a wrapper instead: a small
script, made in a temporary directory next to a link to the real evdctl,
that execs

    valgrind --tool=memcheck --leak-check=full --errors-for-leak-kinds=definite
             --error-exitcode=99 --track-fds=yes --child-silent-after-fork=yes
             --log-file=LOGDIR/vg.%p  EVD ARGS...

so the pid the harness holds is evd's (valgrind runs in that process), every
evd the test starts (and every `evd -t`) runs under memcheck, and a
memcheck error makes evd exit 99, which the tests' "exit status 0" checks
catch. Scripts run one after the other with EVD_E2E_SLOW=1 (deadlines x3).

After each script every valgrind log is read; the run fails on
  * any memcheck error or definitely lost block ("ERROR SUMMARY: N" > 0),
  * a descriptor evd opened and still held at exit (--track-fds), except
    spawn_devnull's /dev/null, which evd holds for its whole life on
    purpose (jobs' stdin),
  * a failed test script.
A log without a summary (an evd the harness had to SIGKILL) is reported.
Exit status: 0 clean, 1 not, 77 valgrind missing.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile

VALGRIND_OPTS = ["--tool=memcheck", "--leak-check=full", "--errors-for-leak-kinds=definite",
                 "--error-exitcode=99", "--track-fds=yes", "--child-silent-after-fork=yes",
                 "--num-callers=30"]

# Descriptors evd keeps open for its whole life on purpose.
FD_ALLOWED = [re.compile(r"by 0x[0-9A-F]+: spawn_devnull")]


def make_wrapper(evd, workdir, logdir):
    evd = os.path.abspath(evd)
    valgrind = shutil.which("valgrind")
    bindir = os.path.join(workdir, "bin")
    os.mkdir(bindir)
    os.chmod(workdir, 0o755)
    os.chmod(bindir, 0o755)
    for sibling in ("evdctl",):
        src = os.path.join(os.path.dirname(evd), sibling)
        if os.path.exists(src):
            os.symlink(src, os.path.join(bindir, sibling))
    wrapper = os.path.join(bindir, "evd")
    opts = " ".join(VALGRIND_OPTS)
    with open(wrapper, "w") as f:
        f.write("#!/bin/sh\n"
                "# evd under valgrind memcheck (tests/valgrind/run.py)\n"
                f"exec {valgrind} {opts} --log-file={logdir}/vg.%p {evd} \"$@\"\n")
    os.chmod(wrapper, 0o755)
    return wrapper


def check_log(path):
    """Problems found in one valgrind log: [str]."""
    text = open(path, errors="replace").read()
    if "Command:" not in text:
        return []
    problems = []
    m = re.search(r"ERROR SUMMARY: (\d+) errors", text)
    if not m:
        # evd was killed (SIGKILL by a harness cleanup) or is still running.
        return [f"{os.path.basename(path)}: no summary (evd killed?)"]
    if int(m.group(1)) > 0:
        problems.append(f"{os.path.basename(path)}: {m.group(1)} memcheck error(s)")
    # --track-fds: blocks "Open file descriptor N: ..." up to a blank line.
    blocks = re.split(r"\n==\d+== \n", text)
    for b in blocks:
        fm = re.search(r"Open (?:file descriptor|AF_UNIX socket) (\d+)", b)
        if not fm or "<inherited from parent>" in b:
            continue
        if int(fm.group(1)) <= 2:
            continue
        if any(rx.search(b) for rx in FD_ALLOWED):
            continue
        problems.append(f"{os.path.basename(path)}: descriptor left open at exit:\n{b.strip()}")
    return problems


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    evd = sys.argv[1]
    if not shutil.which("valgrind"):
        print("SKIP: valgrind is not installed (apt-get install valgrind)")
        sys.exit(77)
    if not os.access(evd, os.X_OK):
        print(f"SKIP: {evd} is not an executable evd")
        sys.exit(77)
    workdir = tempfile.mkdtemp(prefix="evd-valgrind-")
    logdir = os.path.join(workdir, "logs")
    os.mkdir(logdir)
    os.chmod(logdir, 0o1777)  # evd may run as a throw-away user
    wrapper = make_wrapper(evd, workdir, logdir)
    env = dict(os.environ, EVD_E2E_SLOW="1", PYTHONDONTWRITEBYTECODE="1")
    failed, skipped, passed, all_problems = [], [], [], []
    for spec in sys.argv[2:]:
        script, _, names = spec.partition(":")
        label = os.path.basename(os.path.dirname(script)) + "/" + os.path.basename(script)
        before = set(os.listdir(logdir))
        cmd = [sys.executable, script, wrapper] + (names.split(",") if names else [])
        print(f"--- {label}{' ' + names if names else ''}", flush=True)
        p = subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL)
        logs = sorted(set(os.listdir(logdir)) - before)
        problems = []
        for l in logs:
            problems += check_log(os.path.join(logdir, l))
        hard = [x for x in problems if "no summary" not in x]
        for x in problems:
            print(("WARNING " if x not in hard else "VALGRIND ") + x, flush=True)
        all_problems += hard
        n_evd = sum(1 for l in logs if "Command:" in open(os.path.join(logdir, l), errors="replace").read())
        if p.returncode == 77:
            skipped.append(label)
        elif p.returncode != 0 or hard:
            failed.append(label)
        else:
            passed.append(label)
        print(f"--- {label}: exit {p.returncode}, {n_evd} evd process(es) under valgrind, "
              f"{len(hard)} problem(s)", flush=True)
    if failed and os.environ.get("EVD_E2E_KEEP"):
        print(f"valgrind logs kept in {logdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"valgrind: {len(passed)} passed, {len(failed)} failed, {len(skipped)} skipped"
          + (f": FAILED {' '.join(failed)}" if failed else ""))
    if failed:
        sys.exit(1)
    if skipped and not passed:
        sys.exit(77)
    sys.exit(0)


if __name__ == "__main__":
    main()
