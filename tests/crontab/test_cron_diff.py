#!/usr/bin/python3
"""test_cron_diff - the crontab reader against Debian's cron itself.

Writes the odd corpus (corpus.py) into a private /etc/cron.d, spool and
/etc/crontab, runs Debian's `cron -f -L 15` on them in a private mount
namespace (private tmpfs over /run, /dev (with a /dev/log socket this test
reads) and the spool; the corpus directory and a private /etc/crontab bound
over the machine's), and learns which files cron loaded: every file starts
with an entry that runs each minute and appends the file's name to a file
here. crontab_check (the reader and its file rules) must load exactly
those files without errors, and refuse or skip every other. cron's log
lines are printed next to each file's verdicts. Runs about a minute (cron
starts jobs on minute boundaries). cron is stopped by its PID.

/etc/cron.deny (through an overlay over /etc) lists a user of the spool
(corpus.CRON_DENY): Debian's cron still loads that user's table, since
cron.allow and cron.deny are applied by crontab(1) when a table is
written, not when cron reads it; crontab_check does not apply them either.

Debian's cron ignores a whole file when any line of it is wrong; the
reader reports each wrong line (its callers decide), so "loaded" on our
side means: no file-level refusal and no error.

argv: crontab_check binary, the tests/ directory. Root and /usr/sbin/cron
are needed; otherwise exit 77.
"""
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import datetime
import zoneinfo

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import corpus  # noqa: E402

SKIP = 77

# Where the reader deliberately differs from Debian's cron: name -> why.
EXPECTED_DIFFERENCES = {
    "reversed": "cron loads a range that runs backwards (5-1) and selects no hour with it, so the "
                "entry never runs; evd's cron engine refuses it as an error",
}

NS_SCRIPT = r"""
set -e
mount -t overlay overlay -o "lowerdir=/etc,upperdir=$1/etc,workdir=$1/etc-work" /etc
test -s /etc/cron.deny
mount --bind "$1/cron.d" /etc/cron.d
mount -t tmpfs -o mode=755 tmpfs /var/spool/cron
mkdir -m 1730 /var/spool/cron/crontabs
mount --bind "$1/crontabs" /var/spool/cron/crontabs
mount --bind "$1/crontab" /etc/crontab
mount -t tmpfs -o mode=755 tmpfs /run
mount -t tmpfs -o mode=755,nosuid tmpfs /dev
mknod -m 666 /dev/null c 1 3
mknod -m 666 /dev/zero c 1 5
mknod -m 666 /dev/urandom c 1 9
ln -s "$1/log.sock" /dev/log
exec cron -f -L 15
"""


# cron's environment and standard input for an entry, against the
# reader's (crontab_check entry).
ENVDUMP = r"""SHELL=/bin/bash
A = ' spaced '
B="q'uote"
"C"=c
D="  two  "
E=' '
F=unquoted{tabs}
J=""
K= a  b{tabs}
HOME=/srv
LOGNAME=mallory
MAILTO=""
* * * * * root env > {work}/envdump.env; cat > {work}/envdump.in; touch {work}/envdump.done%line1%%line3 \% x\\y%
"""


def compare_entry(check, work):
    """Returns the number of differences between what cron gave the
    envdump entry (its second; the first is the mark) and what the reader
    says it gets."""
    out = subprocess.run([check, "entry", os.path.join(work, "cron.d", "envdump")], check=True,
                         stdout=subprocess.PIPE, text=True).stdout.splitlines()
    want_input = bytes.fromhex(out[0].split("\t", 1)[1])
    want_env = sorted(line.split("\t", 1)[1] for line in out[1:])
    with open(os.path.join(work, "envdump.in"), "rb") as f:
        got_input = f.read()
    with open(os.path.join(work, "envdump.env")) as f:
        # bash adds what every bash adds; compare cron's part.
        got_env = sorted(v for v in f.read().splitlines()
                         if v.split("=", 1)[0] not in ("PWD", "SHLVL", "_"))
    bad = 0
    if got_input != want_input:
        print(f"DIFFER envdump stdin: cron {got_input!r}, ours {want_input!r}")
        bad += 1
    if got_env != want_env:
        print(f"DIFFER envdump environment:\n  cron {got_env}\n  ours {want_env}")
        bad += 1
    if not bad:
        print(f"envdump: cron and the reader agree on the stdin {got_input!r} and the environment {got_env}")
    return bad


def listen(sock, lines, stop):
    sock.settimeout(0.2)
    while not stop.is_set():
        try:
            lines.append(sock.recv(65536).decode(errors="replace"))
        except socket.timeout:
            pass


def verdicts(check, mode, path, *more):
    out = subprocess.run([check, mode, path, *more], check=True, stdout=subprocess.PIPE, text=True).stdout
    res = {}
    for line in out.splitlines():
        name, verdict, detail = line.split("\t", 2)
        res[name] = (verdict, detail)
    return res


def main():
    check = sys.argv[1]
    if os.geteuid() != 0:
        print("skip: needs root (a private mount namespace, files of other owners)")
        return SKIP
    if not os.path.exists("/usr/sbin/cron") or not shutil.which("unshare"):
        print("skip: needs Debian's cron (/usr/sbin/cron) and unshare")
        return SKIP
    work = tempfile.mkdtemp(prefix="evd-crondiff-")
    os.chmod(work, 0o755)
    proc = None
    stop = threading.Event()
    try:
        ran = os.path.join(work, "ran")
        open(ran, "w").close()
        os.chmod(ran, 0o666)
        for d, mode in (("cron.d", 0o755), ("crontabs", 0o1730), ("others", 0o755), ("etc", 0o755),
                        ("etc-work", 0o755)):
            os.mkdir(os.path.join(work, d))
            os.chmod(os.path.join(work, d), mode)
        corpus.build(os.path.join(work, "cron.d"), os.path.join(work, "others"), corpus.SYSTEM,
                     corpus.MARK_SYS, ran)
        corpus.build(os.path.join(work, "crontabs"), os.path.join(work, "others"), corpus.USERS,
                     corpus.MARK_USER, ran)
        # One more file whose entry shows cron's environment and stdin.
        envdump = os.path.join(work, "cron.d", "envdump")
        with open(envdump, "w") as f:
            f.write(corpus.MARK_SYS.format(name="envdump", ran=ran) + ENVDUMP.format(work=work, tabs="  \t "))
        os.chmod(envdump, 0o644)
        # CRON_TZ: two entries for the first minute cron will run, one at
        # that minute's hour in Asia/Kolkata, one at its hour here.
        first = (int(time.time()) // 60 + 1) * 60
        if first - time.time() < 5:
            first += 60
        hour_there = datetime.datetime.fromtimestamp(first, zoneinfo.ZoneInfo("Asia/Kolkata")).hour
        hour_here = time.localtime(first).tm_hour
        for name, hour in (("crontz-there", hour_there), ("crontz-here", hour_here)):
            path = os.path.join(work, "cron.d", name)
            with open(path, "w") as f:
                f.write(f"CRON_TZ=Asia/Kolkata\n* {hour} * * * root echo {name} >> {ran}\n")
            os.chmod(path, 0o644)
        # An overlay over /etc adds cron.deny (the machine has none).
        deny = os.path.join(work, "etc", "cron.deny")
        with open(deny, "w") as f:
            f.write(corpus.CRON_DENY)
        os.chmod(deny, 0o644)
        with open(os.path.join(work, "crontab"), "w") as f:
            f.write("SHELL=/bin/sh\n" + corpus.MARK_SYS.format(name="etc-crontab", ran=ran))
        os.chmod(os.path.join(work, "crontab"), 0o644)

        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(os.path.join(work, "log.sock"))
        os.chmod(os.path.join(work, "log.sock"), 0o666)
        log = []
        t = threading.Thread(target=listen, args=(sock, log, stop), daemon=True)
        t.start()

        started = time.time()
        if started > first - 3:
            print("skip: the minute turned while the files were written; run again")
            return SKIP
        proc = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-c",
                                 NS_SCRIPT, "sh", work], stdin=subprocess.DEVNULL)
        # cron runs the marks at the first minute boundary after it read the
        # files; give the runs time to finish (and one more minute if cron
        # started just before a boundary).
        deadline = first + 12
        while time.time() < deadline:
            if proc.poll() is not None:
                print(f"FAIL: cron exited with {proc.returncode}; its log:\n" + "\n".join(log))
                return 1
            time.sleep(0.5)
        with open(ran) as f:
            cron_loaded = set(f.read().split())
        if "etc-crontab" not in cron_loaded or "good" not in cron_loaded:
            print("FAIL: cron ran neither /etc/crontab's nor cron.d/good's mark; its log:\n" + "\n".join(log))
            return 1

        ours = {}
        ours.update(verdicts(check, "system", os.path.join(work, "cron.d")))
        users = verdicts(check, "users", os.path.join(work, "crontabs"))
        ours.update(users)
        ours["etc-crontab"] = verdicts(check, "file", os.path.join(work, "crontab"))[
            os.path.join(work, "crontab")]

        names = [c[0] for c in corpus.SYSTEM + corpus.USERS] + ["envdump", "etc-crontab"]
        failures = 0
        for name in names:
            verdict, detail = ours.get(name, ("missing", ""))
            cron_ok = name in cron_loaded
            our_ok = verdict == "ok"
            cron_says = [m.split(": ", 1)[-1] for m in log if f"*{name})" in m or f"/{name}" in m
                         or f"({name})" in m]
            agree = cron_ok == our_ok
            if name in EXPECTED_DIFFERENCES:
                status = "differs (expected: %s)" % EXPECTED_DIFFERENCES[name] if not agree else "AGREES NOW"
                failures += agree
            else:
                status = "agree" if agree else "DIFFER"
                failures += not agree
            print(f"{name:20} cron: {'loaded' if cron_ok else 'not loaded':10} ours: {verdict:8} {status}")
            print(f"{'':20}   ours: {detail}")
            for m in cron_says:
                print(f"{'':20}   cron: {m}")
        wait_for = time.time() + 10
        while not os.path.exists(os.path.join(work, "envdump.done")) and time.time() < wait_for:
            time.sleep(0.2)
        if "envdump" in cron_loaded and ours["envdump"][0] == "ok":
            failures += compare_entry(check, work)
        # Debian's cron takes CRON_TZ as an ordinary variable: the entry at
        # this zone's hour runs, the one at Kolkata's does not (unless the
        # two hours are the same). The reader gives CRON_TZ as the entries'
        # zone, which evdctl import-crontab turns into timezone=.
        there, here = "crontz-there" in cron_loaded, "crontz-here" in cron_loaded
        print(f"CRON_TZ=Asia/Kolkata: cron ran the entry at Kolkata's hour {hour_there}: {there}, "
              f"at this zone's hour {hour_here}: {here}")
        if not here or (there and hour_there != hour_here):
            print("DIFFER: Debian's cron honoured CRON_TZ (crontab.h and evd.conf(5) say it does not)")
            failures += 1
        if failures:
            print(f"FAIL: {failures} files judged differently")
            return 1
        print(f"ok: {len(names)} files, the reader and Debian's cron agree on each")
        return 0
    finally:
        stop.set()
        if proc and proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)  # cron itself: unshare and sh exec'd it
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
