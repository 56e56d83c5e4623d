#!/usr/bin/env python3
"""evd's alert mail through a real MTA: the real evd with `sendmail`
pointing at Debian's exim4 run with the test's own configuration
(alertslib.exim_setup: local delivery to a mailbox file in a temporary
directory, nothing relayed). A job fails with output that looks like
headers, then recovers; another prints on success with mail_on = output.
The delivered messages are read back: headers (once each, no forged one),
the subject with job, host and result, the run id, the body's facts and
the output's last lines exactly. Needs root and exim4 (else exit 77).
Arguments: the evd binary."""
import os
import re
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
from alertslib import DOMAIN, exim_log, exim_mailbox, exim_setup, exim_user  # noqa: E402
from evdtest import Evd, check, run_tests, wait_for  # noqa: E402

JOB = "db.backup-nightly_1"
OUTPUT = ["Subject: forged", f"Bcc: victim@{DOMAIN}", "", ".", "From evil@example.com Mon", "caf\u00e9",
          "THE END"]


def job_script():
    lines = "\n".join(f"printf '%s\\n' '{l}'" for l in OUTPUT)
    return f"{lines}\ntest -e {{OUT}}/ok || exit 2\n"


def body_of(m):
    return m.get_payload(decode=True).decode("utf-8", "replace")


def check_message(m, run, result, output):
    names = [k for k, _ in m.items()]
    for h in ["From", "To", "Subject", "Date", "MIME-Version", "Content-Type", "Auto-Submitted", "X-Evd-Job",
              "X-Evd-Run", "X-Evd-Result"]:
        check(names.count(h) == 1, f"header {h} appears {names.count(h)} times in {names!r}")
    check("Bcc" not in names, f"a forged header: {names!r}")
    check(str(m["From"]) == f"evd <evd@{DOMAIN}>", f"From: {m['From']!r}")
    want = f"[evd] {JOB} on {os.uname().nodename}: {result}"
    check(" ".join(str(m["Subject"]).split()) == want, f"Subject {str(m['Subject'])!r}, want {want!r}")
    check(str(m["X-Evd-Job"]) == JOB and str(m["X-Evd-Run"]) == run, f"X-Evd-Job/Run {m['X-Evd-Job']} {m['X-Evd-Run']}")
    check(str(m["Auto-Submitted"]) == "auto-generated", f"Auto-Submitted {m['Auto-Submitted']!r}")
    body = body_of(m)
    check(f"Run:          {run}\n" in body, f"body lacks the run: {body!r}")
    if output:
        check(body.endswith("\n".join(OUTPUT) + "\n"), f"the body does not end with the output: {body[-400:]!r}")


def test_delivery(evd_bin):
    exim_user()
    conf = """
    [daemon]
    sendmail = {SENDMAIL}
    mail_from = evd@{DOMAIN}

    [job:{JOB}]
    command = {DIR}/job
    every = 1s
    mail_to = alice@{DOMAIN}, bob

    [job:chatty]
    command = echo hello from chatty
    cron = @reboot
    mail_to = carol@{DOMAIN}
    mail_on = output
    """
    with Evd(evd_bin, "", "alert-mail", start=False, scripts={"job": job_script()}) as e:
        sendmail = exim_setup(os.path.join(e.dir, "mta"))
        e.write_config(conf.replace("{SENDMAIL}", " ".join(sendmail)).replace("{DOMAIN}", DOMAIN)
                       .replace("{JOB}", JOB))
        e.start()
        line = e.wait_log(rf"{re.escape(JOB)}\[\d+\]: failure alert: mail sent to", 1, timeout=30)[0]
        run_fail = re.search(r"\[(\d+)\]", line).group(1)
        open(e.o("ok"), "w").close()
        line = e.wait_log(rf"{re.escape(JOB)}\[\d+\]: recovery alert: mail sent to", 1, timeout=30)[0]
        run_ok = re.search(r"\[(\d+)\]", line).group(1)
        e.wait_log(r"chatty\[\d+\]: run alert: mail sent to carol@", 1, timeout=30)
        mta = os.path.join(e.dir, "mta")
        msgs = wait_for(lambda: (lambda m: m if len(m) >= 5 else None)(exim_mailbox(mta)), timeout=30,
                        what="5 delivered messages\n" + exim_log(mta))
        check(e.stop() == 0, f"exit status {e.returncode}")
        by_run = {}
        for m in msgs:
            by_run.setdefault(str(m["X-Evd-Run"]), []).append(m)
        fails, oks = by_run.get(run_fail, []), by_run.get(run_ok, [])
        check(sorted(str(m["Envelope-to"]) for m in fails) == [f"alice@{DOMAIN}", f"bob@{DOMAIN}"],
              f"the failure went to {[str(m['Envelope-to']) for m in fails]}")
        for m in fails:
            check_message(m, run_fail, "exit status 2", True)
            check("Result:       exit status 2 (exit-code)\n" in body_of(m), f"body: {body_of(m)!r}")
        check(len(oks) == 2, f"{len(oks)} recovery messages")
        for m in oks:
            check_message(m, run_ok, "recovered: exit status 0", True)
        chatty = [m for m in msgs if str(m["X-Evd-Job"]) == "chatty"]
        check(len(chatty) == 1 and "hello from chatty\n" in body_of(chatty[0]), f"chatty: {len(chatty)} mails")


if __name__ == "__main__":
    run_tests([("delivery", test_delivery)])
