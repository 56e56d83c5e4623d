#!/usr/bin/python3
"""Alerts with the real evd: on_failure / on_recovery hooks get the EVD_*
facts in their environment and the run's last output on stdin, in their
own process group, with the job's environment=; alert=change tells once
per episode and alert=every on each failed run; with retries only the last
attempt's failure alerts; a hook that does not exist, fails or hangs is
logged and nothing else happens (no retry, no alert about it, evd goes on);
a sendmail that hangs is killed at its timeout; mail_on=output mails the
runs that printed; 10,000 jobs failing at once start at most the cap of
hook processes at a time, the drops are counted and logged, and evdctl
still answers; hook_user= runs hooks as another user."""

import os
import re
import subprocess
import time

from evdtest import SLOW, Evd, check, read_file, read_lines, require_root, run_tests, wait_for

# A hook that records its facts: one file per call, numbered.
RECORD = """
    n=$(ls {OUT}/calls 2>/dev/null | wc -l)
    mkdir -p {OUT}/calls
    f={OUT}/calls/$(printf %04d $n)
    { env | grep -E '^(EVD_|FOO=|USER=)' | sort
      echo "ARG=$1"
      echo "PGRP=$(cut -d' ' -f5 /proc/$$/stat) PID=$$"
      echo "--stdin--"; cat; } > $f.tmp
    mv $f.tmp $f
    """


def calls(e):
    d = e.o("calls")
    if not os.path.isdir(d):
        return []
    out = []
    for name in sorted(os.listdir(d)):
        if name.endswith(".tmp"):
            continue
        text = read_file(os.path.join(d, name), "")
        env, _, stdin = text.partition("--stdin--\n")
        facts = dict(l.split("=", 1) for l in env.splitlines() if "=" in l and not l.startswith("PGRP"))
        m = re.search(r"PGRP=(\d+) PID=(\d+)", env)
        facts["_pgrp_is_pid"] = bool(m and m.group(1) == m.group(2))
        facts["_stdin"] = stdin
        out.append(facts)
    return out


def ctl(e, *args):
    evdctl = os.path.join(os.path.dirname(e.binary), "evdctl")
    p = subprocess.run([evdctl, "--socket", e.socket] + list(args), capture_output=True, text=True, timeout=120)
    return p.returncode, p.stdout, p.stderr


def test_env_and_stdin(evd_bin):
    conf = """
    [job:broken]
    command = {DIR}/job
    cron = @reboot
    environment = FOO=from-the-job
    on_failure = {DIR}/record failure
    """
    job = """
    echo "first line"
    echo "Subject: not a header" >&2
    echo "last line"
    exit 3
    """
    with Evd(evd_bin, conf, "alert-env", scripts={"job": job, "record": RECORD}) as e:
        end = e.wait_log(r"broken\[(\d+)\]: failed: exit status 3", 1)[0]
        run = re.search(r"broken\[(\d+)\]", end).group(1)
        e.wait_log(r"broken\[\d+\]: failure alert: on_failure hook ran: exit status 0", 1)
        c = wait_for(lambda: calls(e), what="the hook's record")
        check(len(c) == 1, f"{len(c)} hook calls, want 1")
        f = c[0]
        want = {"EVD_JOB": "broken", "EVD_RUN": run, "EVD_RESULT": "exit-code", "EVD_EXIT_STATUS": "3",
                "EVD_ATTEMPT": "1", "EVD_LAST_SUCCESS": "", "EVD_HOSTNAME": os.uname().nodename,
                "EVD_ALERT": "failure", "FOO": "from-the-job", "ARG": "failure"}
        for k, v in want.items():
            check(f.get(k) == v, f"{k}={f.get(k)!r}, want {v!r}: {f}")
        check(f.get("EVD_DURATION_USEC", "").isdigit() and int(f["EVD_DURATION_USEC"]) > 0,
              f"EVD_DURATION_USEC={f.get('EVD_DURATION_USEC')!r}")
        check(f["_stdin"] == "first line\nSubject: not a header\nlast line\n" or
              sorted(f["_stdin"].splitlines()) == sorted(["first line", "Subject: not a header", "last line"]),
              f"stdin {f['_stdin']!r}")
        check(f["_pgrp_is_pid"], "the hook does not lead its own process group")
        # The run's end came first, then the alert; the hook's output has
        # no run id (it is not the run's).
        log = e.log()
        i_end = next(i for i, l in enumerate(log) if "failed: exit status 3" in l)
        i_alert = next(i for i, l in enumerate(log) if "failure alert:" in l)
        check(i_end < i_alert, "the alert was logged before the run's end")
        check(e.grep(r"broken: on_failure hook: started \(pid \d+\)"), "the hook's start is not logged")
        check(e.stop() == 0, f"exit status {e.returncode}")


def test_hook_user(evd_bin):
    """hook_user= runs the hook as that user (the job runs as root); an
    empty hook_user= in a job turns the [daemon] default off."""
    require_root("hook_user=")
    conf = """
    [daemon]
    hook_user = nobody

    [job:as-nobody]
    command = /bin/false
    cron = @reboot
    on_failure = {DIR}/whoami

    [job:as-root]
    command = /bin/false
    cron = @reboot
    hook_user =
    on_failure = {DIR}/whoami
    """
    hook = "echo \"$EVD_JOB $(id -un) $USER\" > {OUT}/whoami-$EVD_JOB\n"
    with Evd(evd_bin, conf, "alert-user", scripts={"whoami": hook}) as e:
        e.wait_log(r"as-nobody\[\d+\]: failure alert: on_failure hook ran", 1)
        e.wait_log(r"as-root\[\d+\]: failure alert: on_failure hook ran", 1)
        got = sorted(read_lines(e.o("whoami-as-nobody")) + read_lines(e.o("whoami-as-root")))
        check(got == ["as-nobody nobody nobody", "as-root root root"], f"hook users: {got}")
        check(e.stop() == 0, f"exit status {e.returncode}")


def test_change_every_recovery(evd_bin):
    conf = """
    [daemon]
    on_failure = {DIR}/log-alert failure
    on_recovery = {DIR}/log-alert recovery

    [job:change]
    command = test -e {OUT}/change-ok
    every = 300ms

    [job:every]
    command = test -e {OUT}/every-ok
    every = 300ms
    alert = every
    """
    hook = """
    echo "$1 $EVD_ALERT $EVD_RUN $EVD_RESULT $EVD_LAST_SUCCESS" >> {OUT}/$EVD_JOB.alerts
    """
    with Evd(evd_bin, conf, "alert-change", scripts={"log-alert": hook}) as e:
        for job in ("change", "every"):
            e.wait_log(rf"{job}\[\d+\]: failed", 4, timeout=20)
        for job in ("change", "every"):
            open(e.o(f"{job}-ok"), "w").close()
        for job in ("change", "every"):
            e.wait_log(rf"{job}\[\d+\]: recovery alert", 1, timeout=20)
            e.wait_log(rf"{job}\[\d+\]: finished", 2, timeout=20)
        for job in ("change", "every"):
            os.unlink(e.o(f"{job}-ok"))
        for job in ("change", "every"):
            e.wait_log(rf"{job}\[\d+\]: failure alert", 2 if job == "change" else 6, timeout=20)
        check(e.stop() == 0, f"exit status {e.returncode}")
        # change: failure, recovery, failure; every: one per failed run.
        ch = [l.split() for l in read_lines(e.o("change.alerts"))]
        check([a[0] for a in ch[:3]] == ["failure", "recovery", "failure"], f"change alerts: {ch}")
        check(ch[1][3] == "success" and len(ch[1]) == 5 and ch[1][4].endswith("Z"),
              f"recovery facts: {ch[1]} (want EVD_RESULT=success, EVD_LAST_SUCCESS set)")
        check(len(ch[2]) == 5, f"the second failure has no EVD_LAST_SUCCESS: {ch[2]}")
        ev = [l.split() for l in read_lines(e.o("every.alerts"))]
        first_rec = [a[0] for a in ev].index("recovery")
        n_failed_before = len([l for l in e.grep(r"every\[\d+\]: failed")
                               if int(re.search(r"\[(\d+)\]", l).group(1)) < int(ev[first_rec][2])])
        check(first_rec == n_failed_before and first_rec >= 4,
              f"alert=every: {first_rec} failure alerts before the recovery, {n_failed_before} failed runs")
        check(all(a[0] == "failure" for a in ev[:first_rec]), f"every alerts: {ev}")
        runs = [a[2] for a in ev if a[0] == "failure"]
        check(len(runs) == len(set(runs)), f"a run alerted twice: {runs}")


def test_retries(evd_bin):
    conf = """
    [job:retried]
    command = /bin/false
    cron = @reboot
    retries = 2
    retry_delay = 100ms
    on_failure = {DIR}/record
    """
    with Evd(evd_bin, conf, "alert-retries", scripts={"record": RECORD}) as e:
        e.wait_log(r"retried\[\d+\]: failed: exit status 1", 3, timeout=20)
        e.wait_log(r"retried\[\d+\]: failure alert", 1, timeout=20)
        c = wait_for(lambda: calls(e), what="the hook's record")
        time.sleep(0.5)
        c = calls(e)
        check(len(c) == 1 and c[0].get("EVD_ATTEMPT") == "3", f"hook calls: {c}")
        check(len(e.grep(r"alert:")) == 1, "more than one alert:\n" + "\n".join(e.grep("alert")))
        check(e.stop() == 0, f"exit status {e.returncode}")


def test_bad_hooks(evd_bin):
    """A hook that does not exist, one that fails, one that hangs past the
    job's timeout: each logged once, none retried or alerted on; evd and
    the other jobs go on."""
    conf = """
    [job:missing]
    command = /bin/false
    cron = @reboot
    on_failure = /nonexistent/hook

    [job:failing]
    command = /bin/false
    cron = @reboot
    on_failure = {DIR}/fail-hook

    [job:hanging]
    command = /bin/false
    cron = @reboot
    timeout = 1s
    on_failure = {DIR}/hang-hook

    [job:alive]
    command = /bin/true
    every = 200ms
    """
    scripts = {"fail-hook": "echo hook-ran >> {OUT}/fail-hook\necho 'hook says no' >&2\nexit 1\n",
               "hang-hook": "echo $$ > {OUT}/hang-pid\nexec sleep 1000\n"}
    with Evd(evd_bin, conf, "alert-bad", scripts=scripts) as e:
        e.wait_log(r"missing\[\d+\]: failure alert: on_failure hook failed: failed to start: execve: "
                   r"No such file or directory", 1)
        e.wait_log(r"failing\[\d+\]: failure alert: on_failure hook failed: exit status 1", 1)
        e.wait_log(r"failing: hook says no", 1)
        e.wait_log(r"hanging: on_failure hook: timed out after 1s", 1, timeout=20)
        e.wait_log(r"hanging\[\d+\]: failure alert: on_failure hook failed: killed by signal TERM \(timed out\)", 1,
                   timeout=20)
        pid = int(read_file(e.o("hang-pid")))
        wait_for(lambda: not os.path.exists(f"/proc/{pid}") or
                 open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] == "Z",
                 what="the hanging hook to be gone")
        n_alive = len(e.grep(r"alive\[\d+\]: finished"))
        e.wait_log(r"alive\[\d+\]: finished", n_alive + 2)
        time.sleep(0.5)
        check(len(read_lines(e.o("fail-hook"))) == 1, "the failing hook was retried")
        check(len(e.grep(r"alert:")) == 3, "alerts:\n" + "\n".join(e.grep("alert")))
        check(e.stop() == 0, f"exit status {e.returncode}")


def test_sendmail_hangs_and_mail_on_output(evd_bin):
    conf = """
    [daemon]
    sendmail = {DIR}/sendmail
    mail_to = root

    [job:hangs]
    command = /bin/false
    cron = @reboot
    timeout = 1s
    mail_to = hang@example.com

    [job:chatty]
    command = echo hello
    every = 300ms
    mail_on = output

    [job:silent]
    command = /bin/true
    every = 300ms
    mail_on = output
    """
    sendmail = """
    to=$(cat | grep -m1 '^To:' | cut -d' ' -f2)
    echo "$to $*" >> {OUT}/mails
    case $to in hang@*) echo $$ > {OUT}/hang-pid; exec sleep 1000;; esac
    """
    with Evd(evd_bin, conf, "alert-sendmail", scripts={"sendmail": sendmail}) as e:
        e.wait_log(r"hangs\[\d+\]: failure alert: mail to hang@example.com failed: .*sendmail did not finish "
                   r"within 1s: killed", 1, timeout=30)
        pid = int(read_file(e.o("hang-pid")))
        wait_for(lambda: not os.path.exists(f"/proc/{pid}") or
                 open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] == "Z",
                 what="the hanging sendmail to be gone")
        e.wait_log(r"chatty\[\d+\]: run alert: mail sent to root", 2)
        check(e.stop() == 0, f"exit status {e.returncode}")
        mails = read_lines(e.o("mails"))
        check(all(m.endswith(" -t -oi") for m in mails), f"sendmail arguments: {mails}")
        check(not e.grep(r"silent\[\d+\]: .*alert"), "a run without output was mailed with mail_on = output")


def test_storm(evd_bin):
    """10,000 jobs fail at once: at most ALERT_WORKERS (2) hooks at a time,
    at most 60 in the minute; the drops are logged; evdctl answers."""
    n = 2000 if SLOW else 10000
    jobs = "".join(f"[job:j{i:05d}]\ncommand = /bin/false\ncron = @reboot\n\n" for i in range(n))
    conf = """
    [daemon]
    workers = 16
    on_failure = {DIR}/hook

    """ + jobs
    hook = """
    echo "start $(date +%s.%N)" >> {OUT}/hooks
    sleep 0.2
    echo "end $(date +%s.%N)" >> {OUT}/hooks
    """
    with Evd(evd_bin, conf, "alert-storm", scripts={"hook": hook},
             extra_env={"EVD_TEST_ALERT_REPORT_MS": "3000"}) as e:
        e.wait_log(r"Dropped \d+ alert\(s\) in the last minute", 1, timeout=300)
        rc, out, err = ctl(e, "stats")
        check(rc == 0, f"evdctl stats while the alerts run: {rc} {out} {err}")
        wait_for(lambda: len(e.grep(r"failed: exit status 1")) == n, timeout=300, what="every run to end")
        time.sleep(1)
        check(e.stop(timeout=120) == 0, f"exit status {e.returncode}")
        events = []
        for l in read_lines(e.o("hooks")):
            kind, t = l.split()
            events.append((float(t), 1 if kind == "start" else -1))
        events.sort(key=lambda x: (x[0], x[1]))
        now = peak = 0
        for _, d in events:
            now += d
            peak = max(peak, now)
        starts = sum(1 for _, d in events if d == 1)
        check(1 <= starts <= 60, f"{starts} hooks ran (at most 60 a minute)")
        check(peak <= 2, f"{peak} hooks ran at once (cap 2)")
        dropped = sum(int(re.search(r"Dropped (\d+)", l).group(1)) for l in e.grep(r"Dropped \d+ alert"))
        left = sum(int(re.search(r"(\d+) queued alert", l).group(1)) for l in e.grep(r"queued alert\(s\) not sent"))
        alerted = len(e.grep(r"\]: failure alert:"))
        check(dropped + alerted + left == n and alerted == starts,
              f"{dropped} dropped + {alerted} alerted + {left} not sent at shutdown != {n} failures")


if __name__ == "__main__":
    run_tests([
        ("env_and_stdin", test_env_and_stdin),
        ("hook_user", test_hook_user),
        ("change_every_recovery", test_change_every_recovery),
        ("retries", test_retries),
        ("bad_hooks", test_bad_hooks),
        ("sendmail_hangs_and_mail_on_output", test_sendmail_hangs_and_mail_on_output),
        ("storm", test_storm),
    ])
