#!/usr/bin/env python3
"""Mail through a real MTA: alertstool composes a run's mail with
mail_compose() and sends it with mail_send() to Debian's exim4, run with its
own configuration file in a temporary directory (its spool, its logs, and
one router that accepts only the test's own domain and appends to a mailbox
file there: nothing is relayed, the machine's mail setup is not used). The
delivered messages are read back with Python's email parser and checked:
headers, decoded subject, body facts and output (lines that look like
headers, a lone ".", "From " lines, a long line, UTF-8, CR LF, the 64 KiB
bound). Then the failures: an address list with a newline and with an
empty entry, a sendmail that does not exist, one that exits 1, and one that
hangs (its timeout kills its process group, nothing is left behind).
Needs root (exim drops to its own user with -C, so the spool is given to
it) and exim4; exits 77 without them. Argument: the alertstool binary."""
import os
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from alertslib import DOMAIN, exim_log, exim_mailbox, exim_setup, exim_user, fail  # noqa: E402

TOOL = sys.argv[1]
exim_user()  # skips without root and exim4


def run_tool(*args, timeout=120):
    p = subprocess.run([TOOL, "mail", *args], capture_output=True, timeout=timeout)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


def make_output(d):
    lines = [b"filler %d" % i for i in range(3000)]  # ~40 KB cut away
    lines += [b"x" * 70 for _ in range(800)]          # ~57 KB
    tail = [b"Subject: forged", b"Bcc: victim@" + DOMAIN.encode(), b"", b".", b"From evil@example.com Mon",
            b"a line with CR LF\r", b"caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac", b"=?UTF-8?B?Zm9v?= stays text",
            b"long " + b"y" * 2000, b"trailing space ", b"THE END"]
    data = b"\n".join(lines + tail) + b"\n"
    path = os.path.join(d, "output")
    with open(path, "wb") as f:
        f.write(data)
    return path, data, b"\n".join(tail) + b"\n"


def check_delivery(d, sendmail, out_path, data, tail):
    job = "backup\nBcc: victim@" + DOMAIN + "\n\nforged-été"
    rc, out, err = run_tool(job, f"alice@{DOMAIN}, bob", out_path, "60", *sendmail)
    if rc != 0 or "sent" not in out or "children: none" not in out:
        fail(f"send: rc {rc}: {out} {err}\nexim log:\n{read_log(d)}")
    msgs = exim_mailbox(d)
    rcpts = sorted(m["Envelope-to"] for m in msgs)
    if rcpts != [f"alice@{DOMAIN}", f"bob@{DOMAIN}"]:
        fail(f"delivered to {rcpts!r} (no victim, two recipients wanted)\nexim log:\n{read_log(d)}")
    for m in msgs:
        names = [k for k, _ in m.items()]
        for h in ["From", "To", "Subject", "Date", "Message-ID", "MIME-Version", "Content-Type",
                  "Content-Transfer-Encoding", "Auto-Submitted", "X-Evd-Job", "X-Evd-Run", "X-Evd-Result"]:
            if names.count(h) != 1 and not (h == "Message-ID" and names.count("Message-Id") == 1):
                fail(f"header {h} appears {names.count(h)} times in {names!r}")
        if "Bcc" in names or "Subject" in names and names.count("Subject") > 1:
            fail(f"forged header in {names!r}")
        # (Python's decoder folds runs of white space: compare words; the
        # exact text is checked by tests/unit/test_mail.c.)
        want_subject = f"[evd] backup Bcc: victim@{DOMAIN} forged-été on {os.uname().nodename}: exit status 3"
        if " ".join(str(m["Subject"]).split()) != want_subject:
            fail(f"Subject {str(m['Subject'])!r}, want {want_subject!r}")
        if str(m["X-Evd-Run"]) != "42" or str(m["Auto-Submitted"]) != "auto-generated":
            fail(f"X-Evd-Run {m['X-Evd-Run']!r}, Auto-Submitted {m['Auto-Submitted']!r}")
        if m.get_content_type() != "text/plain" or m.get_content_charset() != "utf-8":
            fail(f"content type {m.get_content_type()} charset {m.get_content_charset()}")
        if str(m["To"]).replace("\n", "").replace(" ", "") != f"alice@{DOMAIN},bob@{DOMAIN}":
            fail(f"To: {m['To']!r}")
        body = m.get_payload(decode=True)
        if not body.endswith(tail):
            fail(f"the body does not end with the output's tail exactly: {body[-600:]!r}")
        i = body.index(b"\nOutput (the last ")
        kept = body[body.index(b"\n\n", i) + 2:]
        if len(kept) > 64 * 1024 or not data.endswith(kept):
            fail(f"kept {len(kept)} bytes of output, not the last <= 64 KiB from a line start")
        for fact in [b"Job:          backup Bcc: victim@", b"Run:          42\n", b"Exit status:  3\n",
                     b"Attempt:      1\n"]:
            if fact not in body:
                fail(f"body lacks {fact!r}")
    return msgs


def read_log(d):
    return exim_log(d)


def check_failures(d, out_path):
    rc, out, err = run_tool("j", f"a@{DOMAIN}\nBcc: b@{DOMAIN}", out_path, "5", "/bin/true")
    if rc != 1 or "a line break in the address list" not in err:
        fail(f"newline in address: rc {rc}: {out} {err}")
    rc, out, err = run_tool("j", f"a@{DOMAIN}, ,b@{DOMAIN}", out_path, "5", "/bin/true")
    if rc != 1 or "entry 2 of the address list is empty" not in err:
        fail(f"empty entry: rc {rc}: {out} {err}")

    rc, out, err = run_tool("j", "root", out_path, "5", "/nonexistent/sendmail")
    if rc != 1 or "error: cannot run /nonexistent/sendmail: No such file or directory" not in out:
        fail(f"missing sendmail: rc {rc}: {out} {err}")

    rc, out, err = run_tool("j", "root", out_path, "30", "/bin/sh", "-c",
                            "cat >/dev/null; echo 'mail refused: no such user' >&2; exit 1", "sh")
    if rc != 1 or "error: /bin/sh exited with status 1: mail refused: no such user" not in out \
            or "children: none" not in out:
        fail(f"sendmail exiting 1: rc {rc}: {out} {err}")

    # Does not read its stdin, leaves a helper in its process group, hangs.
    pidfile = os.path.join(d, "helper.pid")
    t0 = time.monotonic()
    rc, out, err = run_tool("j", "root", out_path, "2", "/bin/sh", "-c",
                            f"sleep 1000 & echo $! > {pidfile}; echo stuck >&2; sleep 1000", "sh")
    if rc != 1 or "error: /bin/sh did not finish within 2s: killed: stuck" not in out \
            or "children: none" not in out:
        fail(f"hanging sendmail: rc {rc}: {out} {err}")
    if time.monotonic() - t0 > 100:
        fail("the timeout was not kept")
    helper = int(open(pidfile).read())
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{helper}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            break
        if state == "Z":
            break  # killed; its reaper (not us) has yet to collect it
        time.sleep(0.1)
    else:
        fail(f"the sendmail's helper {helper} survived the timeout")


def main():
    with tempfile.TemporaryDirectory(prefix="evd-mail-") as d:
        sendmail = exim_setup(d)
        out_path, data, tail = make_output(d)
        # -odi: deliver before returning, so the mailbox is complete when
        # mail_send() returns; no daemon is ever started.
        check_delivery(d, sendmail, out_path, data, tail)
        check_failures(d, out_path)
    print("ok")


main()
