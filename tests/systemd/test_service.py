#!/usr/bin/env python3
"""test_service.py - the shipped systemd/evd.service under a real systemd.

Boots a private systemd (sdboot.py) with the shipped unit, changed only so
that ExecStart= runs the evd under test with a test configuration, and
checks what an administrator relies on:
  - `systemctl start evd` returns once evd is READY, with a STATUS= text;
  - evdctl reaches evd's control socket in the unit's RuntimeDirectory=;
  - `journalctl -u evd EVD_JOB=NAME` shows a job's output lines with
    EVD_RUN= and EVD_STREAM=, and its end with EVD_EXIT_STATUS= and
    EVD_DURATION_USEC=, a failed run at priority err;
  - a job with user = nobody runs under the hardened unit;
  - `systemctl reload evd` and `kill -HUP` both reload: a new job runs;
    evd sent RELOADING=1 (with MONOTONIC_USEC=) and then READY=1 (as
    systemd's debug log shows), and STOPPING=1 on stop;
  - a reload with an invalid configuration logs the error at priority err
    and keeps evd running the old configuration;
  - `systemctl stop evd` ends cleanly (inactive, not failed, exit status
    0) and leaves no job process behind: not a job that ignores SIGTERM,
    not one that left its process group.

Usage: test_service.py EVD EVDCTL UNIT_FILE
Exit status: 0 pass, 1 fail, 77 skipped (the reason is printed).
"""
import os
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sdboot  # noqa: E402
from sdboot import NS_DIR, Failure, log, poll  # noqa: E402

UNIT = "evd"
CONFIG = f"{NS_DIR}/evd.conf"

# No " ;" inside values: that starts a comment in evd.conf.
BASE_CONFIG = f"""\
# evd.conf for the systemd test
[daemon]
workers = 8
shutdown_timeout = 3s
kill_grace = 1s

[job:hello]
command = /bin/sh -c 'echo "hello from run $EVD_RUN"; echo "hello on stderr" >&2'
every = 1s
persistent = yes

[job:failing]
command = /bin/sh -c 'echo "about to fail"; exit 3'
every = 1s

[job:as-nobody]
command = /bin/sh -c 'echo "running as $(id -un):$(id -gn)"'
every = 1s
user = nobody
# nobody's home (the default working directory) need not exist.
working_directory = /

# Runs until shutdown ends it with SIGTERM.
[job:long]
command = /bin/sleep 3600
every = 1s

# Ignores SIGTERM: only SIGKILL after kill_grace ends it.
[job:stubborn]
command = /bin/sh -c 'trap "" TERM; /bin/sleep 3601'
every = 1s

# Leaves a process outside its process group, once.
[job:daemonizer]
command = /bin/sh -c '[ -e {NS_DIR}/daemonized ] && exit 0; touch {NS_DIR}/daemonized; setsid /bin/sleep 3602 </dev/null >/dev/null 2>&1 & echo "left a daemon behind"'
every = 1s
"""

JOB_MARKERS = ("sleep 3600", "sleep 3601", "sleep 3602")


def job_config(name, text):
    return f"""
[job:{name}]
command = /bin/echo "{text}"
every = 1s
"""


def entries(sd, job, want):
    """Journal entries of `journalctl -u evd EVD_JOB=job` for which want()
    is true."""
    return [e for e in sd.journal("-u", UNIT, f"EVD_JOB={job}") if want(e)]


def wait_entry(sd, job, what, want, timeout=20):
    found = poll(f"{what} (journalctl -u {UNIT} EVD_JOB={job})",
                 lambda: entries(sd, job, want), timeout, 0.3)
    return found[0]


def require(cond, msg):
    if not cond:
        raise Failure(msg)


def check_start(sd):
    log("systemctl start evd")
    t0 = time.monotonic()
    sd.systemctl("start", UNIT)
    log(f"started in {time.monotonic() - t0:.2f}s")
    p = sd.show(UNIT, "ActiveState", "SubState", "StatusText", "MainPID", "Type", "FragmentPath",
                "NotifyAccess", "WatchdogUSec")
    log(f"  {p}")
    require(p["FragmentPath"] == "/run/systemd/system/evd.service",
            f"systemd loaded evd.service from {p['FragmentPath']}, not the unit under test")
    require(p["Type"] == "notify", f"Type={p['Type']}")
    require(p["ActiveState"] == "active" and p["SubState"] == "running",
            f"after start: ActiveState={p['ActiveState']} SubState={p['SubState']}")
    require(p["StatusText"].strip(), "no STATUS= text after READY=1 (systemctl show -p StatusText)")
    require(int(p["MainPID"]) > 0, "no MainPID")
    return int(p["MainPID"])


def check_nofile(sd, main_pid):
    """LimitNOFILE= of the unit is evd's hard limit, and evd raised its soft
    limit to it (workers = 1024 needs 128 + 8 * 1024 descriptors)."""
    text = sd.run(["cat", f"/proc/{main_pid}/limits"]).stdout
    soft, hard = text.split("Max open files")[1].split()[:2]
    log(f"  RLIMIT_NOFILE of evd: soft {soft}, hard {hard}")
    require(int(hard) >= 128 + 8 * 1024, f"the unit's hard RLIMIT_NOFILE {hard} does not fit workers = 1024")
    require(soft == hard, f"evd did not raise its soft RLIMIT_NOFILE {soft} to the hard limit {hard}")


def check_evdctl(sd):
    p = sd.run([f"{NS_DIR}/bin/evdctl", "list"], check=False)
    log(f"evdctl list: exit {p.returncode}")
    require(p.returncode == 0, f"evdctl list (socket in RuntimeDirectory=/run/evd) failed: {p.stdout}{p.stderr}")
    for job in ("hello", "failing", "as-nobody", "long", "stubborn", "daemonizer"):
        require(job in p.stdout, f"evdctl list does not show job {job}:\n{p.stdout}")


def is_int(s):
    return isinstance(s, str) and s.isdigit()


def check_job_output(sd):
    log("job output in the journal")
    out = wait_entry(sd, "hello", "a stdout line of job hello",
                     lambda e: e.get("EVD_STREAM") == "stdout"
                     and str(e.get("MESSAGE", "")).startswith("hello from run "))
    run = out.get("EVD_RUN")
    require(is_int(run), f"stdout line without a numeric EVD_RUN=: {out}")
    require(out["MESSAGE"] == f"hello from run {run}",
            f"EVD_RUN={run} but the job saw $EVD_RUN in: {out['MESSAGE']!r}")
    require(out.get("PRIORITY") == "6", f"stdout line at priority {out.get('PRIORITY')}, not info")
    require(out.get("_SYSTEMD_UNIT") == "evd.service", f"_SYSTEMD_UNIT={out.get('_SYSTEMD_UNIT')}")
    log(f"  stdout: EVD_RUN={run} {out['MESSAGE']!r}")
    err = wait_entry(sd, "hello", f"the stderr line of run {run}",
                     lambda e: e.get("EVD_STREAM") == "stderr" and e.get("EVD_RUN") == run)
    require(err.get("MESSAGE") == "hello on stderr", f"stderr line: {err.get('MESSAGE')!r}")
    log(f"  stderr: EVD_RUN={run} {err['MESSAGE']!r} priority {err.get('PRIORITY')}")
    end = wait_entry(sd, "hello", f"the end of run {run}",
                     lambda e: e.get("EVD_RUN") == run and "EVD_EXIT_STATUS" in e)
    require(end.get("EVD_EXIT_STATUS") == "0", f"hello ended with EVD_EXIT_STATUS={end.get('EVD_EXIT_STATUS')}")
    require(is_int(end.get("EVD_DURATION_USEC")), f"end of run without EVD_DURATION_USEC=: {end}")
    require(end.get("PRIORITY") == "6", f"a successful run ended at priority {end.get('PRIORITY')}, not info")
    log(f"  end: {end.get('MESSAGE')!r}")

    fail = wait_entry(sd, "failing", "the end of a failed run", lambda e: "EVD_EXIT_STATUS" in e)
    require(fail.get("EVD_EXIT_STATUS") == "3", f"failing ended with EVD_EXIT_STATUS={fail.get('EVD_EXIT_STATUS')}")
    require(fail.get("PRIORITY") == "3", f"a failed run ended at priority {fail.get('PRIORITY')}, not err")
    require(is_int(fail.get("EVD_DURATION_USEC")), f"failed run without EVD_DURATION_USEC=: {fail}")
    require(is_int(fail.get("EVD_RUN")), f"failed run without EVD_RUN=: {fail}")
    log(f"  failed: {fail.get('MESSAGE')!r} priority {fail.get('PRIORITY')}")

    nobody = wait_entry(sd, "as-nobody", "output of the job run as nobody",
                        lambda e: e.get("EVD_STREAM") == "stdout")
    require(str(nobody.get("MESSAGE", "")).startswith("running as nobody:"),
            f"the user = nobody job says {nobody.get('MESSAGE')!r}")
    log(f"  as-nobody: {nobody['MESSAGE']!r}")
    ok = wait_entry(sd, "as-nobody", "a successful end of the job run as nobody",
                    lambda e: "EVD_EXIT_STATUS" in e)
    require(ok.get("EVD_EXIT_STATUS") == "0", f"the nobody job ended with {ok.get('MESSAGE')!r}")

    wait_entry(sd, "daemonizer", "the daemonizing job's output",
               lambda e: e.get("MESSAGE") == "left a daemon behind")
    for job in ("long", "stubborn"):
        wait_entry(sd, job, f"job {job} to start", lambda e: is_int(e.get("EVD_RUN")))


def check_reload(sd, main_pid, config, how):
    name = {"systemctl reload": "by-systemctl-reload", "kill -HUP": "by-kill-hup"}[how]
    text = f"added by {how}"
    config += job_config(name, text)
    sd.write_file(CONFIG, config)
    cursor = sd.cursor()
    sd.systemctl("log-level", "debug")   # systemd logs each sd_notify message at debug
    log(f"reload with {how}")
    if how == "systemctl reload":
        sd.systemctl("reload", UNIT)
    else:
        sd.run(["/bin/kill", "-HUP", str(main_pid)])
    e = wait_entry(sd, name, f"output of the job added before the {how}",
                   lambda e: e.get("MESSAGE") == text and e.get("EVD_STREAM") == "stdout")
    log(f"  {name}: EVD_RUN={e.get('EVD_RUN')} {e.get('MESSAGE')!r}")
    msgs = notifications(sd, cursor, main_pid)
    sd.systemctl("log-level", "info")
    reloading = [i for i, m in enumerate(msgs) if "RELOADING=1" in m]
    require_seen("RELOADING=1", [msgs[i] for i in reloading], msgs)
    require("MONOTONIC_USEC=" in msgs[reloading[0]], f"RELOADING=1 without MONOTONIC_USEC=: {msgs[reloading[0]]}")
    require(any("READY=1" in m for m in msgs[reloading[0] + 1:]),
            f"evd sent no READY=1 after RELOADING=1; it sent: {msgs}")

    def settled():
        p = sd.show(UNIT, "ActiveState", "SubState", "MainPID", "NRestarts", "StatusText")
        return p if p["SubState"] == "running" else None
    p = poll("evd to leave the reloading state", settled, 20)
    require(p["ActiveState"] == "active", f"after {how}: {p}")
    require(int(p["MainPID"]) == main_pid, f"after {how} MainPID is {p['MainPID']}, was {main_pid}")
    require(p["NRestarts"] == "0", f"evd restarted during the test (NRestarts={p['NRestarts']})")
    require(p["StatusText"].strip(), f"no STATUS= text after {how}")
    return config


def check_bad_reload(sd, main_pid, config):
    """An invalid configuration is refused and the running one kept."""
    bad = config + "\n[job:broken]\ncomand = /bin/true\nevery = 1s\n"
    sd.write_file(CONFIG, bad)
    cursor = sd.cursor()
    log("systemctl reload with an invalid configuration")
    sd.systemctl("reload", UNIT)

    def errors():
        return [e for e in sd.journal_since(cursor, "-u", UNIT, "-p", "err")
                if e.get("_PID") != "1" and "comand" in str(e.get("MESSAGE"))]
    e = poll("evd to log the configuration error at priority err", errors, 20)[0]
    log(f"  {e.get('MESSAGE')!r}")
    p = poll("evd to be running again after the failed reload",
             lambda: (lambda q: q if q["SubState"] == "running" else None)(
                 sd.show(UNIT, "ActiveState", "SubState", "MainPID")), 20)
    require(p["ActiveState"] == "active" and int(p["MainPID"]) == main_pid,
            f"after a failed reload: {p} (MainPID was {main_pid})")
    cursor = sd.cursor()
    poll("job hello to run on under the old configuration",
         lambda: [e for e in sd.journal_since(cursor, "-u", UNIT, "EVD_JOB=hello")
                  if e.get("EVD_STREAM") == "stdout"], 20, 0.3)
    log("  the old configuration runs on")
    sd.write_file(CONFIG, config)


def require_seen(what, found, msgs):
    """(test_notify.py checks the whole protocol, message by message.)"""
    require(found, f"evd sent no {what} (not in systemd's debug log); it sent: {msgs}")
    log(f"  sd_notify: {found[0]}")


def notifications(sd, cursor, pid):
    """The sd_notify messages systemd received from pid since cursor (it
    logs each at debug level: "Got notification message from PID N (...)")."""
    prefix = f"Got notification message from PID {pid} ("
    out = []
    for e in sd.journal_since(cursor, "-u", UNIT):
        m = str(e.get("MESSAGE", ""))
        i = m.find(prefix)
        if e.get("_PID") == "1" and i >= 0:
            out.append(m[i + len(prefix):].rstrip(")"))
    return out


def job_processes(sd):
    return [(pid, cmd) for pid, comm, cmd in sd.pids_in_namespace()
            if any(m in cmd for m in JOB_MARKERS)]


def check_stop(sd, main_pid):
    require(len(job_processes(sd)) >= 3,
            f"expected the three long-lived job processes before the stop, found {job_processes(sd)}")
    # evd.service stays loaded after the stop (the test target refers to
    # it), so `systemctl show` tells how evd exited.
    cursor = sd.cursor()
    sd.systemctl("log-level", "debug")
    log("systemctl stop evd")
    t0 = time.monotonic()
    sd.systemctl("stop", UNIT, timeout=120)
    log(f"stopped in {time.monotonic() - t0:.2f}s")
    sd.systemctl("log-level", "info")
    p = sd.show(UNIT, "LoadState", "ActiveState", "SubState", "Result", "ExecMainCode", "ExecMainStatus",
                "ExecMainPID")
    log(f"  {p}")
    require(p["LoadState"] == "loaded" and p["ExecMainPID"] == str(main_pid),
            f"systemd no longer knows evd's exit (unit unloaded?): {p}")
    require(p["ActiveState"] == "inactive", f"after stop: ActiveState={p['ActiveState']} Result={p['Result']}")
    require(p["Result"] == "success", f"after stop: Result={p['Result']}")
    require(p["ExecMainCode"] == "1" and p["ExecMainStatus"] == "0",
            f"evd did not exit with status 0: ExecMainCode={p['ExecMainCode']} (1: exited, 2: killed, "
            f"3: dumped) ExecMainStatus={p['ExecMainStatus']}")
    msgs = notifications(sd, cursor, main_pid)
    require_seen("STOPPING=1", [m for m in msgs if "STOPPING=1" in m], msgs)

    poll("every job process to be gone", lambda: not job_processes(sd), 10)

    def leftovers():
        return [x for x in sd.pids_in_namespace() if x[1] not in ("systemd", "systemd-journal")]
    try:
        poll("every process but systemd and journald to leave the namespace", lambda: not leftovers(), 10)
    except Failure as e:
        raise Failure(f"{e}; left: {leftovers()}")
    # The run history (of persistent= jobs) went to the unit's
    # StateDirectory= ($STATE_DIRECTORY).
    p = sd.run(["stat", "-c", "%a %U", "/var/lib/evd", "/var/lib/evd/state"], check=False)
    require(p.returncode == 0, f"no /var/lib/evd/state after the stop: {p.stdout}{p.stderr}")
    log(f"  /var/lib/evd, /var/lib/evd/state: {p.stdout.split()}")
    for job in ("long", "stubborn"):
        e = entries(sd, job, lambda e: "EVD_EXIT_STATUS" in e or "EVD_EXIT_SIGNAL" in e)
        log(f"  {job}: {e[-1].get('MESSAGE')!r}" if e else f"  {job}: no end of run logged")


def main():
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    evd, evdctl, shipped = sys.argv[1:4]
    sdboot.check_environment()
    sdboot.install_signal_handlers()

    # Test hygiene, not behaviour: no core file of a crashing evd
    # on the machine's disk.
    units = sdboot.evd_units(evd, shipped, "[Service]\nLimitCORE=0\n")
    files = {"bin/evd": (evd, 0o755), "bin/evdctl": (evdctl, 0o755),
             "evd.conf": (BASE_CONFIG.encode(), 0o644)}

    with sdboot.PrivateSystemd(files, units) as sd:
        try:
            main_pid = check_start(sd)
            check_nofile(sd, main_pid)
            check_evdctl(sd)
            check_job_output(sd)
            config = check_reload(sd, main_pid, BASE_CONFIG, "systemctl reload")
            config = check_reload(sd, main_pid, config, "kill -HUP")
            check_bad_reload(sd, main_pid, config)
            check_stop(sd, main_pid)
        except Failure as e:
            print(f"FAIL: {e}", flush=True)
            sd.dump(UNIT)
            return 1
    log("PASS")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Failure as e:
        print(f"FAIL: {e}", flush=True)
        sys.exit(1)
