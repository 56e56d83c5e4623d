#!/usr/bin/python3
"""test_import - `evdctl import-crontab` against the real evd.

  real      every crontab of tests/data/crontabs converts without a word on
            stderr, and `evd -t` accepts the output with one job per entry;
  odd       every file of the odd corpus (corpus.py), system and user
            format: `evd -t` accepts whatever was converted; what was not
            is on stderr as PATH:LINE: reason, exit status 1;
  runs      converted jobs run as cron runs them: the crontab's SHELL with
            -c, cron's environment, the % standard input byte for byte,
            "\\%" and ";" kept (@reboot entries, so they run when evd starts);
  usage     exit status 2 for bad arguments, 1 for a missing file; MAILTO
            is reported as not converted.

argv: evd, evdctl, the tests/ directory.
"""
import os
import pwd
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "e2e"))
import corpus  # noqa: E402
from evdtest import Evd, check, read_file, require_root, run_tests, wait_for  # noqa: E402

EVDCTL = sys.argv[2]
TESTS = sys.argv[3]
del sys.argv[2:]


def import_crontab(path, user=None):
    argv = [EVDCTL, "import-crontab"] + (["--user", user] if user else []) + [path]
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    # Bytes as they are (text mode would turn a "\r" into a newline).
    r.stdout = r.stdout.decode("latin-1")
    r.stderr = r.stderr.decode("latin-1")
    return r


def evd_check(evd, text, workdir):
    conf = os.path.join(workdir, "check.conf")
    with open(conf, "w", encoding="latin-1", newline="") as f:
        f.write(text)
    os.chmod(conf, 0o644)
    return subprocess.run([evd, "-t", "-c", conf], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True)


def test_real(evd):
    data = os.path.join(TESTS, "data", "crontabs")
    with tempfile.TemporaryDirectory() as work:
        for name in sorted(os.listdir(data)):
            if name == "README":
                continue
            r = import_crontab(os.path.join(data, name))
            check(r.returncode == 0 and r.stderr == "", f"{name}: exit {r.returncode}, stderr {r.stderr!r}")
            n = r.stdout.count("\n[job:")
            check(n > 0, f"{name}: no job in {r.stdout!r}")
            c = evd_check(evd, r.stdout, work)
            check(c.returncode == 0, f"{name}: evd -t refused the conversion:\n{c.stdout}\n{r.stdout}")
            want = f"valid: {n} job" + ("s" if n != 1 else "")
            check(want in c.stdout, f"{name}: {c.stdout!r} lacks {want!r}")


def test_odd(evd):
    with tempfile.TemporaryDirectory() as work:
        os.chmod(work, 0o755)
        for files, user in ((corpus.SYSTEM, None), (corpus.USERS, "root")):
            for name, content, _mode, _owner, _how in files:
                path = os.path.join(work, name)
                with open(path, "w", encoding="latin-1") as f:
                    f.write(content)
                r = import_crontab(path, user)
                check(r.returncode in (0, 1), f"{name}: exit {r.returncode}: {r.stderr}")
                check((r.returncode == 1) == (r.stderr != ""), f"{name}: exit {r.returncode}, stderr {r.stderr!r}")
                for line in r.stderr.splitlines():
                    check(line.startswith(path + ":"), f"{name}: stderr line {line!r} names no PATH:LINE")
                c = evd_check(evd, r.stdout, work)
                check(c.returncode == 0, f"{name}: evd -t refused the conversion:\n{c.stdout}\n{r.stdout}")


CRONTAB = r"""SHELL=/bin/bash
A = ' spaced ; x '
B="q'uote"
@reboot root printf '\%s|' "$0" "$A" "$B" "$SHELL" "$PATH" "$LOGNAME" "$HOME" > {OUT}/env1; touch {OUT}/d1
@reboot nobody cat > {OUT}/in2; echo "a;b \%" > {OUT}/c2; touch {OUT}/d2%line1%%line3 \% ;x\\y	tab%
SHELL=/bin/sh
PATH=/x:/usr/bin:/bin
@reboot root echo "$0 $PATH" > {OUT}/p3; touch {OUT}/d3
@reboot root cat > {OUT}/in4; touch {OUT}/d4%
"""
# A DOS line end: the command ends in a carriage return (after a comment sign).
CRONTAB += "@reboot root printf '\\%s' \"$0\" > {OUT}/cr5; touch {OUT}/d5 #\r\n"


def test_runs(evd):
    require_root("jobs as root and nobody")
    nobody = pwd.getpwnam("nobody")
    with Evd(evd, "", "crontab-runs", start=False) as e:
        tab = e.path("crontab")
        with open(tab, "w", newline="") as f:
            f.write(CRONTAB.replace("{OUT}", e.out))
        r = import_crontab(tab)
        check(r.returncode == 0 and r.stderr == "", f"exit {r.returncode}, stderr {r.stderr!r}")
        check("-c \"$(printf '%b' " in r.stdout, "the \\r command was not made by printf")
        e.write_config(r.stdout.replace("{", "{{").replace("}", "}}"))
        e.start()
        for d in ("d1", "d2", "d3", "d4", "d5"):
            wait_for(lambda: os.path.exists(e.o(d)), 20, what=f"the job that touches {d}")
        env1 = read_file(e.o("env1"))
        # Quotes keep leading blanks, not trailing ones (as Debian's cron).
        want = "/bin/bash| spaced ; x|q'uote|/bin/bash|/usr/bin:/bin|root|/root|"
        check(env1 == want, f"env1 {env1!r}, want {want!r}")
        check(read_file(e.o("c2")) == "a;b %\n", f"c2 {read_file(e.o('c2'))!r}")
        want = "line1\n\nline3 % ;x\\\\y\ttab\n"
        check(read_file(e.o("in2")) == want, f"in2 {read_file(e.o('in2'))!r}, want {want!r}")
        check(os.stat(e.o("in2")).st_uid == nobody.pw_uid, "the nobody entry did not run as nobody")
        check(read_file(e.o("p3")) == "/bin/sh /x:/usr/bin:/bin\n", f"p3 {read_file(e.o('p3'))!r}")
        check(read_file(e.o("in4")) == "", f"in4 {read_file(e.o('in4'))!r}")
        check(read_file(e.o("cr5")) == "/bin/sh", f"cr5 {read_file(e.o('cr5'))!r}")


def test_usage(evd):
    for argv in ([], ["--user"], ["a", "b"], ["--bogus", "x"], ["--user", "", "x"]):
        r = subprocess.run([EVDCTL, "import-crontab"] + argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        check(r.returncode == 2, f"{argv}: exit {r.returncode}")
    r = import_crontab("/nonexistent/crontab")
    check(r.returncode == 1 and "No such file" in r.stderr, f"missing file: {r.returncode} {r.stderr!r}")
    with tempfile.TemporaryDirectory() as work:
        path = os.path.join(work, "mail")
        with open(path, "w") as f:
            f.write("MAILTO=ops@example.com\n0 1 * * * root true\n")
        r = import_crontab(path)
        check(r.returncode == 1 and f"{path}:2: MAILTO=ops@example.com not converted" in r.stderr,
              f"MAILTO: {r.returncode} {r.stderr!r}")
        check("[job:mail-" in r.stdout, r.stdout)
        with open(path, "w") as f:
            f.write("SHELL=/bin/sh\x01\n0 1 * * * root true\n")
        r = import_crontab(path)
        check(r.returncode == 1 and f"{path}:2: not converted: SHELL has a control character" in r.stderr
              and "[job:" not in r.stdout, f"SHELL: {r.returncode} {r.stderr!r} {r.stdout!r}")
    # "-": standard input, a pipe the writer fills late.
    p = subprocess.Popen([EVDCTL, "import-crontab", "-"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    time.sleep(0.5)
    out, err = p.communicate(b"0 1 * * * root true\n", timeout=30)
    check(p.returncode == 0 and b"[job:stdin-" in out and err == b"", f"stdin: {p.returncode} {out!r} {err!r}")


if __name__ == "__main__":
    run_tests([("real", test_real), ("odd", test_odd), ("runs", test_runs), ("usage", test_usage)])
