#!/usr/bin/python3
"""[crontabs]: crontab entries as evd jobs, with the real binary and
crontabs in the test's directory (never /etc/crontab or the spool).

  * system and user tables listed; `evdctl run` starts an entry now, with
    cron's environment, the `%` standard input and the table's user;
    `status` shows FILE:LINE; `pause`/`resume` work; a refused line is a
    warning (evd -t still exits 0);
  * without SIGHUP: an edit, a new file, a removed file, a file renamed
    over another (`crontab -e`, dpkg) are picked up within seconds, and an
    unchanged entry keeps its next run (jitter makes a re-armed deadline
    visible);
  * a table that turns unreadable keeps its running version; an evd.conf
    edited but not reloaded is not applied by a crontab change (which
    waits for the reload).

The real minute-boundary run is tests/crontab/test_minute.py."""

import json
import os
import pwd
import re
import subprocess

from evdtest import Evd, check, read_file, require_root, run_tests, skip, wait_for


def evdctl(e, *args, ok=True):
    binary = os.path.join(os.path.dirname(e.binary), "evdctl")
    p = subprocess.run([binary, "--socket", e.socket, *args], capture_output=True, text=True, timeout=30)
    if ok:
        check(p.returncode == 0, f"evdctl {' '.join(args)}: exit {p.returncode}: {p.stderr}")
    return p


def jobs(e):
    """{name: next run} from evdctl --json list."""
    out = json.loads(evdctl(e, "--json", "list").stdout)
    rows = out["jobs"] if isinstance(out, dict) else out
    return {j["name"]: j.get("next_run") for j in rows}


def job_named(e, prefix):
    names = [n for n in jobs(e) if n.startswith(prefix)]
    return names


CONF = """
[crontabs]
system = {DIR}/crontab {DIR}/cron.d
users = {DIR}/spool
"""

SYSTEM = """
SHELL=/bin/sh
FOO = bar baz
MAILTO=""
# a comment
*/5 * * * * root env > {OUT}/env; id -un > {OUT}/user; pwd > {OUT}/pwd
0 4 * * * root cat > {OUT}/stdin%first line%second \\%line
this line is refused
"""


def write_tables(e):
    e.write("crontab", SYSTEM)
    os.makedirs(e.path("cron.d"), exist_ok=True)
    e.write("cron.d/pkg", "30 2 * * * root echo pkg > {OUT}/pkg\n")
    os.makedirs(e.path("spool"), exist_ok=True)
    e.write("spool/nobody", "15 3 * * * id -un > {OUT}/nobody-user; echo $HOME $LOGNAME > {OUT}/nobody-env\n",
            mode=0o600)


def test_crontab_run(evd_bin):
    require_root("crontab files owned by root")
    try:
        nobody = pwd.getpwnam("nobody")
    except KeyError:
        skip("this system has no user nobody")
    with Evd(evd_bin, CONF, "crontab", start=False) as e:
        write_tables(e)
        t = subprocess.run([e.binary, "-t", "-c", e.conf], capture_output=True, text=True, timeout=30)
        check(t.returncode == 0, f"evd -t: exit {t.returncode}: {t.stderr}")
        check(re.search(r"crontab:7: ", t.stderr), f"evd -t does not report the refused line: {t.stderr}")
        check("4 from crontabs" in t.stdout, f"evd -t summary: {t.stdout}")
        e.start()
        e.wait_log(r"warning: .*/crontab:7: ")
        names = jobs(e)
        env_job = [n for n in names if n.startswith("crontab-")]
        check(len(env_job) == 2, f"jobs {sorted(names)}")
        pkg, user = job_named(e, "pkg-"), job_named(e, "nobody-")
        check(len(pkg) == 1 and len(user) == 1, f"jobs {sorted(names)}")
        # Which crontab-* job is which: status says FILE:LINE.
        by_line = {}
        for n in env_job:
            st = evdctl(e, "status", n).stdout
            m = re.search(r"defined:\s+(\S+):(\d+) \(crontab\)", st)
            check(m and m.group(1) == e.path("crontab"), f"status of {n}: {st}")
            by_line[int(m.group(2))] = n
        check(sorted(by_line) == [5, 6], f"lines {sorted(by_line)}")

        for n in (by_line[5], by_line[6], user[0]):
            evdctl(e, "run", n)
        wait_for(lambda: read_file(e.o("env")) and read_file(e.o("stdin")) and read_file(e.o("nobody-env")),
                 15, what="the three runs' evidence")
        env = dict(l.split("=", 1) for l in read_file(e.o("env")).splitlines() if "=" in l)
        for k, v in (("SHELL", "/bin/sh"), ("PATH", "/usr/bin:/bin"), ("FOO", "bar baz"), ("LOGNAME", "root"),
                     ("HOME", pwd.getpwnam("root").pw_dir), ("EVD_JOB", by_line[5]), ("MAILTO", "")):
            check(env.get(k) == v, f"{k}={env.get(k)!r}, expected {v!r} (env {env})")
        check(read_file(e.o("user")).strip() == "root", "user")
        check(read_file(e.o("pwd")).strip() == pwd.getpwnam("root").pw_dir, "cron runs in the home directory")
        wait_for(lambda: read_file(e.o("stdin")) == "first line\nsecond %line\n", 10,
                 what=f"the % input (got {read_file(e.o('stdin'))!r})")
        wait_for(lambda: read_file(e.o("nobody-user"), "").strip() == "nobody", 10, what="the nobody table's user")
        check(read_file(e.o("nobody-env")).split() == [nobody.pw_dir, "nobody"], read_file(e.o("nobody-env")))
        e.wait_log(re.escape(by_line[5]) + r"\[\d+\]: finished")

        evdctl(e, "pause", pkg[0])
        rows = json.loads(evdctl(e, "--json", "list").stdout)["jobs"]
        check([r["paused"] for r in rows if r["name"] == pkg[0]] == [True], "pause of a crontab job")
        evdctl(e, "resume", pkg[0])
        check(e.stop() == 0, f"exit status {e.returncode}")


def test_crontab_changes(evd_bin):
    require_root("crontab files owned by root")
    conf = CONF + "jitter = 1h\n"
    with Evd(evd_bin, conf, "crontab-changes", start=False) as e:
        write_tables(e)
        e.start()
        before = jobs(e)
        pkg = [n for n in before if n.startswith("pkg-")][0]
        stdin_job = [n for n in before if n.startswith("crontab-")]

        # An edit in place (>>), then by rename over the file.
        with open(e.path("crontab"), "a") as f:
            f.write("45 1 * * * root echo appended\n")
        wait_for(lambda: len(jobs(e)) == len(before) + 1, 10, what="the appended entry")
        e.write("cron.d/pkg", "30 2 * * * root echo pkg > {OUT}/pkg\n1 1 * * * root echo second\n")
        wait_for(lambda: len(job_named(e, "pkg-")) == 2, 10, what="the file renamed over cron.d/pkg")
        after = jobs(e)
        for n in stdin_job + [pkg]:
            check(after.get(n) == before[n], f"{n}: next run {before[n]} became {after.get(n)}")

        # A package adds a file (renamed into place), and removes one.
        e.write("cron.d/other", "5 5 * * * root echo other\n")
        wait_for(lambda: job_named(e, "other-"), 10, what="the new file")
        os.unlink(e.path("cron.d/other"))
        wait_for(lambda: not job_named(e, "other-"), 10, what="the removed file's job to go")
        # Names cron does not read in a directory.
        e.write("cron.d/pkg.dpkg-old", "5 5 * * * root echo old\n")
        # crontab -e: a temporary file in the spool renamed over the table.
        e.write("spool/tmp.X1234", "15 3 * * * echo one\n16 3 * * * echo two\n", mode=0o600)
        os.rename(e.path("spool/tmp.X1234"), e.path("spool/nobody"))
        wait_for(lambda: len(job_named(e, "nobody-")) == 2, 10, what="the user's new table")
        check(not [n for n in jobs(e) if "dpkg" in n], "a *.dpkg-old file was read")
        check(not e.grep(r"Reloading configuration"), "a crontab change went through a full reload")

        # Unreadable now: the running version stays.
        n_pkg = len(job_named(e, "pkg-"))
        mark = e.log_count()
        os.chmod(e.path("cron.d/pkg"), 0o666)
        e.wait_log(r"pkg: writable by group or others; its previous version keeps running", start=mark)
        check(len(job_named(e, "pkg-")) == n_pkg, "the previous version of cron.d/pkg is gone")
        os.chmod(e.path("cron.d/pkg"), 0o644)

        # evd.conf edited, not reloaded: a crontab change waits for the reload.
        e.write_config(conf + "\n[job:fromconf]\ncommand = /bin/true\nevery = 1h\n")
        mark = e.log_count()
        e.write("cron.d/late", "6 6 * * * root echo late\n")
        e.wait_log(r"Crontab changes not applied", start=mark)
        check(not job_named(e, "late-") and "fromconf" not in jobs(e), "applied behind the administrator's back")
        e.reload()
        names = jobs(e)
        check(job_named(e, "late-") and "fromconf" in names, f"after the reload: {sorted(names)}")
        check(e.stop() == 0, f"exit status {e.returncode}")


def test_crontab_mail(evd_bin):
    """MAILTO mails a run's output (cron's rule: only when there is some)
    through [daemon] sendmail; MAILTO="" mails nothing; [crontabs]
    on_failure= is every entry's hook."""
    require_root("crontab files owned by root")
    conf = """
    [daemon]
    sendmail = {DIR}/sendmail

    [crontabs]
    system = {DIR}/crontab
    on_failure = {DIR}/hook
    """
    sendmail = """
    cat > {OUT}/mail.tmp
    to=$(grep -m1 '^To:' {OUT}/mail.tmp | cut -d' ' -f2-)
    cat {OUT}/mail.tmp >> "{OUT}/mail-$to"
    """
    hook = """
    echo "$EVD_JOB $EVD_RESULT" >> {OUT}/hook
    """
    table = """
    MAILTO=ops@example.com
    0 1 * * * root echo hello from cron
    0 2 * * * root true
    MAILTO=""
    0 3 * * * root echo not mailed; exit 3
    """
    with Evd(evd_bin, conf, "crontab-mail", start=False, scripts={"sendmail": sendmail, "hook": hook}) as e:
        e.write("crontab", table)
        e.start()
        by_line = {}
        for n in jobs(e):
            m = re.search(r"defined:\s+\S+:(\d+) \(crontab\)", evdctl(e, "status", n).stdout)
            by_line[int(m.group(1))] = n
        for line in (2, 3, 5):
            evdctl(e, "run", by_line[line])
        wait_for(lambda: read_file(e.o("mail-ops@example.com")), 15, what="the mail of the MAILTO entry")
        wait_for(lambda: read_file(e.o("hook")), 15, what="[crontabs] on_failure= of the failing entry")
        check(read_file(e.o("hook")).split() == [by_line[5], "exit-code"], read_file(e.o("hook")))
        for line in (2, 3, 5):
            e.wait_log(re.escape(by_line[line]) + r"\[\d+\]: (finished|failed)")
        check(e.stop() == 0, f"exit status {e.returncode}")
        mail = read_file(e.o("mail-ops@example.com"))
        check("hello from cron" in mail, f"the output is not in the mail:\n{mail}")
        check(mail.count("\nTo: ") + mail.startswith("To: ") == 1,
              f"one mail expected (the silent run is not mailed):\n{mail}")
        check(not [f for f in os.listdir(e.out) if f.startswith("mail-") and "ops@" not in f],
              f"other mails: {os.listdir(e.out)}")


if __name__ == "__main__":
    run_tests([
        ("crontab_run", test_crontab_run),
        ("crontab_changes", test_crontab_changes),
        ("crontab_mail", test_crontab_mail),
    ])
