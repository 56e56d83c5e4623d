#!/usr/bin/python3
"""The job state machine seen from outside (issue 9, issue 13 items 3, 9,
15) and reloads parsed off the main loop:

  * overlap=queue: a start queued before a pause does not run after it;
  * a retry pending when a reload sets enabled = no does not run;
  * a job removed by reload while it runs and added back is the same job:
    overlap=skip still sees its run, its pause is kept;
  * a saved last start in the future is not used (warning), so a
    persistent job runs on its schedule;
  * a paused persistent job that missed a run does not say "running it now";
  * a second SIGTERM with shutdown_timeout=infinity says what it does;
  * starts of a job that is not persistent make no state snapshot;
  * a slow reload parse (test hook) does not stop the loop: evdctl stats
    answers and a 1 s job runs meanwhile; SIGHUPs during a parse make one
    more parse, not one each; RELOADING=1 / READY=1 around each."""

import os
import signal
import subprocess
import time

from evdtest import Evd, check, read_floats, read_lines, run_tests, wait_for

SLOW = os.environ.get("EVD_E2E_SLOW") == "1"


def ctl(e, *args):
    evdctl = os.path.join(os.path.dirname(e.binary), "evdctl")
    p = subprocess.run([evdctl, "--socket", e.socket] + list(args), capture_output=True, text=True, timeout=120)
    return p.returncode, p.stdout, p.stderr


def status(e, job):
    import json
    rc, out, err = ctl(e, "--json", "status", job)
    check(rc == 0, f"evdctl status {job}: {rc} {out} {err}")
    return json.loads(out)


def gate_job(name, overlap, extra=""):
    return f"""
    [job:{name}]
    command = {{DIR}}/gate.sh {name}
    every = 1h
    overlap = {overlap}
    {extra}
    """


GATE = """
while [ ! -e {OUT}/$1.go ]; do sleep 0.05; done
date +%s.%N >> {OUT}/$1.runs
"""


def test_pause_drops_queued_start(evd_bin):
    with Evd(evd_bin, gate_job("q", "queue"), "queued-pause", scripts={"gate.sh": GATE}) as e:
        check(ctl(e, "run", "q")[0] == 0, "first run")
        wait_for(lambda: status(e, "q")["running"] == 1, 10, what="q to run")
        rc, out, err = ctl(e, "run", "q")
        check(rc == 0 and "queued" in out, f"second run not queued: {rc} {out} {err}")
        check(ctl(e, "pause", "q")[0] == 0, "pause")
        open(e.o("q.go"), "w").close()
        wait_for(lambda: status(e, "q")["runs"] >= 1, 10, what="the first run to end")
        time.sleep(1.5)
        j = status(e, "q")
        check(j["runs"] == 1 and j["running"] == 0, f"the start queued before the pause ran: {j}")
        check(j["state"] == "paused" and e.grep(r"q: queued run dropped: job paused"), f"state: {j}")
        check(e.stop() == 0, f"exit status {e.returncode}")


def test_disable_drops_retry(evd_bin):
    conf = """
    [job:f]
    command = false
    every = 1h
    retries = 2
    retry_delay = 2s
    enabled = {enabled}
    """
    with Evd(evd_bin, conf.format(enabled="yes"), "disable-retry") as e:
        check(ctl(e, "run", "f")[0] == 0, "run f")
        e.wait_log(r"f\[\d+\]: retry 1 of 2 in 2s")
        e.write_config(conf.format(enabled="no"))
        e.reload()
        time.sleep(3.5)
        check(len(e.grep(r"f\[\d+\]: started")) == 1, "the retry of a job disabled by reload ran:\n" + e.log_tail())
        check(status(e, "f")["state"] == "disabled", f"state: {status(e, 'f')}")
        check(e.stop() == 0, f"exit status {e.returncode}")


def test_readd_while_running(evd_bin):
    other = """
    [job:other]
    command = true
    every = 1h
    """
    with_r = gate_job("r", "skip") + other
    with Evd(evd_bin, with_r, "readd", scripts={"gate.sh": GATE}) as e:
        check(ctl(e, "run", "r")[0] == 0, "run r")
        wait_for(lambda: status(e, "r")["running"] == 1, 10, what="r to run")
        check(ctl(e, "pause", "r")[0] == 0, "pause r")
        e.write_config(other)
        e.reload()
        check(ctl(e, "status", "r")[0] == 3, "r still listed after its removal")
        e.write_config(with_r)
        e.reload()
        rc, out, err = ctl(e, "run", "r")
        check(rc == 1 and "skipped" in out + err, f"a second run started beside the first: {rc} {out} {err}")
        j = status(e, "r")
        check(j["paused"] is True and j["running"] == 1, f"the re-added job lost its run or pause: {j}")
        check(e.grep(r"r: added again while its run \d+ is active"), "re-adding not logged")
        open(e.o("r.go"), "w").close()
        wait_for(lambda: status(e, "r")["runs"] == 1, 10, what="r's run to end")
        time.sleep(0.5)
        check(len(read_lines(e.o("r.runs"))) == 1, "more than one run of r")
        check(e.stop() == 0, f"exit status {e.returncode}")


def write_state(e, lines):
    os.makedirs(e.state_dir, exist_ok=True)
    with open(os.path.join(e.state_dir, "state"), "w") as f:
        f.write("evd-state 1\n" + "".join(l + "\n" for l in lines))


def test_future_last_start(evd_bin):
    conf = """
    [job:pers]
    command = date +%s.%N >> {OUT}/pers
    shell = yes
    every = 2s
    persistent = yes
    """
    with Evd(evd_bin, conf, "future", start=False) as e:
        future = int((time.time() + 10 * 86400) * 1e6)
        write_state(e, [f"job pers {future} 0"])
        e.start()
        wait_for(lambda: read_lines(e.o("pers")), 15, what="the persistent job to run despite the future time")
        check(e.grep(r"pers: not using the saved last start \(.*\): it is in the future"), "no warning")
        check(e.stop() == 0, f"exit status {e.returncode}")
        text = open(os.path.join(e.state_dir, "state")).read()
        check(str(future) not in text, f"the future time was kept in the state file: {text}")


def test_paused_persistent(evd_bin):
    conf = """
    [job:pp]
    command = date +%s.%N >> {OUT}/pp
    shell = yes
    every = 10min
    persistent = yes
    """
    with Evd(evd_bin, conf, "paused-persistent", start=False) as e:
        past = int((time.time() - 3600) * 1e6)
        write_state(e, [f"job pp {past} 1"])
        e.start()
        time.sleep(2)
        check(not e.grep(r"pp: .*running it now"), "a paused job said it runs now:\n" + e.log_tail())
        check(e.grep(r"pp: missed a run while evd was down; not run: the job is paused"), "no notice")
        check(not read_lines(e.o("pp")), "the paused job ran")
        check(status(e, "pp")["state"] == "paused", "not paused")
        check(e.stop() == 0, f"exit status {e.returncode}")


def test_second_sigterm(evd_bin):
    conf = """
    [daemon]
    shutdown_timeout = infinity
    kill_grace = 1s
    [job:long]
    command = sleep 60
    cron = @reboot
    """
    with Evd(evd_bin, conf, "second-sigterm") as e:
        e.wait_log(r"long\[\d+\]: started")
        e.signal(signal.SIGTERM)
        e.wait_log(r"Shutting down: waiting up to infinity")
        e.signal(signal.SIGTERM)
        check(e.wait_exit(20) == 0, f"exit status {e.returncode}")
        check(e.grep(r"Second shutdown request: terminating active runs now"), "second SIGTERM not logged")
        check(not e.grep(r"shutdown_timeout=infinity"), "a second SIGTERM blamed shutdown_timeout=infinity:\n"
              + e.log_tail())


def test_state_snapshots_coalesced(evd_bin):
    """300 persistent jobs due in the same instant: one state snapshot for
    the lot (it was one per start: 300 snapshots of 300 jobs)."""
    n = 300
    conf = "[daemon]\nworkers = 8\n" + "".join(f"""
    [job:p{i:03d}]
    command = true
    every = 3s
    persistent = yes
    """ for i in range(n))
    with Evd(evd_bin, conf, "snapshots", start=False) as e:
        base = e.argv
        e.argv = lambda: base() + ["--log-level", "debug"]
        e.start()
        e.wait_log(r"p%03d\[\d+\]: finished" % (n - 1), 1, timeout=60)
        e.wait_log(r"p\d+\[\d+\]: finished", n, timeout=60)
        snaps = e.grep(r"State snapshot: \d+ of %d jobs" % n)
        check(snaps and len(snaps) <= 10, f"{len(snaps)} state snapshots for {n} runs due together")
        check(any(f"State snapshot: {n} of" in l for l in snaps), f"no snapshot with every job: {snaps}")
        check(e.stop() == 0, f"exit status {e.returncode}")


def test_no_snapshot_for_plain_starts(evd_bin):
    """The state file keeps persistent jobs' starts and pauses: the start of
    a job that is neither makes no snapshot (it made one per start, O(jobs)
    on the loop: most of its time per dispatch with 100,000 jobs); a pause
    still does."""
    conf = """
    [job:plain]
    command = true
    every = 1s
    [job:other]
    command = true
    every = 1h
    """
    with Evd(evd_bin, conf, "plain-snapshots", start=False) as e:
        base = e.argv
        e.argv = lambda: base() + ["--log-level", "debug"]
        e.start()
        e.wait_log(r"plain\[\d+\]: finished", 3, timeout=30)
        snaps = e.grep(r"State snapshot: ")
        check(not snaps, f"state snapshots for starts of a job that is not persistent: {snaps}")
        rc, out, err = ctl(e, "pause", "plain")
        check(rc == 0, f"evdctl pause: {rc} {out} {err}")
        e.wait_log(r"State snapshot: 1 of 2 jobs", timeout=30)
        check(e.stop() == 0, f"exit status {e.returncode}")


def big_config(n, extra=""):
    out = ["[daemon]", "workers = 4", "", "[job:probe]", "command = date +%s.%N >> {OUT}/probe", "shell = yes",
           "every = 1s", ""]
    for i in range(n):
        sched = f"every = {1 + i % 24}h" if i % 2 else f"calendar = *-*-* {i % 24:02d}:{i % 60:02d}:00"
        out += [f"[job:job{i:05d}]", f"command = /bin/true {i}", sched, ""]
    return "\n".join(out) + extra


def test_reload_off_loop(evd_bin):
    n = 4000 if SLOW else 20000
    delay_ms = 3000
    with Evd(evd_bin, big_config(n), "reload-thread", extra_env={"EVD_TEST_RELOAD_DELAY_MS": str(delay_ms)}) as e:
        wait_for(lambda: read_lines(e.o("probe")), 15, what="the probe job")
        e.write_config(big_config(n, "\n[job:added]\ncommand = true\nevery = 1h\n"))
        n_log, n_notify = e.log_count(), len(e.notify.all())
        e.signal(signal.SIGHUP)
        e.wait_log(r"Reloading configuration from", 1, start=n_log)
        t_start = time.time()
        for _ in range(2):  # during the parse: one more parse, not one each
            e.signal(signal.SIGHUP)
            time.sleep(0.2)
        answered = 0
        while not e.grep(r"Configuration reloaded", n_log) and time.time() - t_start < 60:
            rc, out, err = ctl(e, "stats")
            if not e.grep(r"Configuration reloaded", n_log):
                check(rc == 0, f"evdctl stats during a reload: {rc} {out} {err}")
                answered += 1
        t_applied = time.time()
        check(answered >= 3, f"evdctl stats answered {answered} times while the parse ran")
        probes = [t for t in read_floats(e.o("probe")) if t_start < t < t_applied]
        check(probes, f"the 1 s probe job did not run while the parse ran ({t_applied - t_start:.1f}s)")
        e.wait_log(r"Configuration reloaded: %d jobs" % (n + 2), 2, start=n_log, timeout=60)
        time.sleep(0.5)
        check(len(e.grep(r"Reloading configuration from", n_log)) == 2,
              "SIGHUPs during a parse were not coalesced into one more: "
              + str(e.grep(r"Reloading configuration from", n_log)))
        i = e.notify.wait("RELOADING", "1", start=n_notify, timeout=10)
        i = e.notify.wait("READY", "1", start=i + 1, timeout=10)
        i = e.notify.wait("RELOADING", "1", start=i + 1, timeout=10)
        e.notify.wait("READY", "1", start=i + 1, timeout=10)
        check(status(e, "added")["state"] == "idle", "the added job")
        check(e.stop() == 0, f"exit status {e.returncode}")


def test_shutdown_during_parse(evd_bin):
    """SIGTERM while a (slow) reload parse runs: the parse's result is not
    applied, nothing follows STOPPING=1 but the exit, and evd exits 0."""
    conf = "[job:a]\ncommand = true\nevery = 1h\n"
    with Evd(evd_bin, conf, "shutdown-parse", extra_env={"EVD_TEST_RELOAD_DELAY_MS": "1500"}) as e:
        e.write_config(conf + "[job:b]\ncommand = true\nevery = 1h\n")
        n_log, n_notify = e.log_count(), len(e.notify.all())
        e.signal(signal.SIGHUP)
        e.wait_log(r"Reloading configuration from", 1, start=n_log)
        e.signal(signal.SIGTERM)
        check(e.wait_exit(30) == 0, f"exit status {e.returncode}")
        check(not e.grep(r"Configuration reloaded|b: added", n_log), "a parse was applied during shutdown")
        msgs = [f for _, f in e.notify.all()[n_notify:]]
        stop = [i for i, f in enumerate(msgs) if f.get("STOPPING") == "1"]
        check(stop and not any("READY" in f or "RELOADING" in f for f in msgs[stop[0]:]),
              f"READY/RELOADING after STOPPING=1: {msgs}")


if __name__ == "__main__":
    run_tests([
        ("pause_drops_queued_start", test_pause_drops_queued_start),
        ("disable_drops_retry", test_disable_drops_retry),
        ("readd_while_running", test_readd_while_running),
        ("future_last_start", test_future_last_start),
        ("paused_persistent", test_paused_persistent),
        ("second_sigterm", test_second_sigterm),
        ("state_snapshots_coalesced", test_state_snapshots_coalesced),
        ("no_snapshot_for_plain_starts", test_no_snapshot_for_plain_starts),
        ("reload_off_loop", test_reload_off_loop),
        ("shutdown_during_parse", test_shutdown_during_parse),
    ])
