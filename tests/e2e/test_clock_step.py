#!/usr/bin/python3
"""Wall-clock steps of two hours, forwards and backwards.

The machine's clock is never touched (it is shared; a time namespace cannot
shift CLOCK_REALTIME). evd is started with EVD_TEST_HOOKS=1 and asked
`test-clock-step SECONDS` on its control socket: that shifts evd's own view
of CLOCK_REALTIME and hands the step to the timer clock's dispatch, the
function that handles a real step (the realtime timerfd's read() failing
with ECANCELED), so the scheduler sees it exactly as it sees a real one.

Policy under test (evd.conf(5), "TIME ZONES, DAYLIGHT SAVING TIME AND CLOCK
CHANGES"):
  * forwards: elapses jumped over do not run, the next deadline is the first
    elapse after the new time; a persistent job runs once to catch up;
    `every=` jobs are not affected (they count CLOCK_BOOTTIME);
  * backwards: no run is repeated; deadlines are recomputed from the new
    time or the last elapse handled, whichever is later;
  * jobs that run every two seconds keep running through both steps.
"""

import datetime
import json
import time

from evdtest import Evd, check, ctl, read_floats, read_lines, run_tests, skip, wait_for

HOUR = 3600

CONF = """
[job:plain]
command = date +%s >> {OUT}/plain
shell = yes
calendar = hourly

[job:pers]
command = date +%s >> {OUT}/pers
shell = yes
calendar = hourly
persistent = yes

[job:cronly]
command = date +%s >> {OUT}/cron
shell = yes
cron = 0 * * * *

[job:tick]
command = date +%s >> {OUT}/tick
shell = yes
every = 1h

[job:even]
command = date +%s.%N >> {OUT}/even
shell = yes
calendar = *:*:0/2
"""


def next_run(e, job):
    """The job's next elapse, seconds since the epoch in evd's view."""
    code, body = ctl(e, f"next {job} 1 --json")
    check(code == 0, f"next {job}: exit {code}: {body}")
    nxt = json.loads(body)["next"][0]
    return datetime.datetime.fromisoformat(nxt).timestamp()


def step(e, seconds):
    n = e.log_count()
    code, body = ctl(e, f"test-clock-step {seconds}")
    check(code == 0, f"test-clock-step {seconds}: exit {code}: {body}")
    e.wait_log(r"System clock was set", 1, start=n)


def runs(e, name):
    return len(read_lines(e.o(name)))


def require_hook(e):
    """Skips (77) when evd was built without -DEVD_TEST_HOOKS=ON (the
    default is off): the request is then unknown, not refused as bad."""
    code, body = ctl(e, "test-clock-step not-a-number")
    if "bad number of seconds" not in body:
        skip(f"evd has no test-clock-step hook (built without -DEVD_TEST_HOOKS=ON?): {body.strip()}")


def test_steps(evd_bin):
    with Evd(evd_bin, CONF, "clockstep", extra_env={"EVD_TEST_HOOKS": "1"}) as e:
        require_hook(e)
        wait_for(lambda: runs(e, "even") >= 1, 20, what="a first run of the 2-second job")
        t0 = time.time()
        hour0 = (int(t0) // HOUR + 1) * HOUR     # the next full hour, real time
        for job in ("plain", "pers", "cronly"):
            check(next_run(e, job) == hour0, f"{job}: next run {next_run(e, job)}, want {hour0}")

        # Forwards by two hours: at least one full hour is jumped over.
        step(e, 2 * HOUR)
        wait_for(lambda: runs(e, "pers") == 1, 20, what="the persistent job's catch-up run")
        even_before = runs(e, "even")
        wait_for(lambda: runs(e, "even") >= even_before + 2, 20, what="2-second runs after the step forward")
        shifted_now = time.time() + 2 * HOUR
        for job in ("plain", "cronly"):
            nxt = next_run(e, job)
            check(nxt > shifted_now and nxt - shifted_now <= HOUR,
                  f"{job}: after +2h, next run {nxt} is not the first hour after {shifted_now:.0f}")
            check(runs(e, job.replace("cronly", "cron")) == 0, f"{job} ran for the hours the step skipped")
        check(runs(e, "pers") == 1, f"the persistent job caught up {runs(e, 'pers')} times, want once")
        check(runs(e, "tick") == 0, "an every= job ran because the wall clock moved")
        pers_next = next_run(e, "pers")
        check(pers_next > shifted_now, f"pers: next run {pers_next} is not after the new time")

        # Backwards by two hours: back to real time. Nothing repeats; the
        # jobs that never ran wait for the next real hour again.
        step(e, -2 * HOUR)
        even_before = runs(e, "even")
        wait_for(lambda: runs(e, "even") >= even_before + 2, 20, what="2-second runs after the step back")
        now = time.time()
        hour1 = (int(now) // HOUR + 1) * HOUR
        for job in ("plain", "cronly"):
            check(next_run(e, job) == hour1, f"{job}: after -2h, next run {next_run(e, job)}, want {hour1}")
        # The persistent job's catch-up stood for the skipped hours: it does
        # not run them again when the clock comes back.
        check(next_run(e, "pers") > now + HOUR,
              f"pers: next run {next_run(e, 'pers')} repeats an hour it already caught up")
        time.sleep(1)
        check(runs(e, "pers") == 1, f"the persistent job ran {runs(e, 'pers')} times")
        check(runs(e, "plain") == 0 and runs(e, "cron") == 0 and runs(e, "tick") == 0,
              "a job ran after the step back")

        # Every 2-second run landed on an even second and none was doubled.
        ts = [int(t) for t in read_floats(e.o("even"))]
        check(all(t % 2 == 0 for t in ts), f"2-second runs off even seconds: {ts}")
        check(len(ts) == len(set(ts)), f"a 2-second elapse ran twice: {ts}")
        check(e.stop() == 0, f"exit status {e.returncode}")


def test_hook_needs_env(evd_bin):
    """Without EVD_TEST_HOOKS=1 in its environment evd refuses the hook."""
    with Evd(evd_bin, "[job:x]\ncommand = /bin/true\nevery = 1h\n", "clockstep-off") as e:
        code, body = ctl(e, "test-clock-step 60")
        check(code != 0, f"test-clock-step accepted without EVD_TEST_HOOKS: {body}")
        check(e.stop() == 0, f"exit status {e.returncode}")


if __name__ == "__main__":
    run_tests([
        ("steps", test_steps),
        ("hook_needs_env", test_hook_needs_env),
    ])
