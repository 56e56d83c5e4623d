#!/usr/bin/python3
"""Fault: a job's user is deleted while evd runs.

A throw-away user is created with useradd, a job runs as that user every
second, then the user is deleted with userdel (always cleaned up, also when
the test fails).

Expected:
  * every run due after the deletion fails before anything is executed,
    with "failed to start: user deleted after the configuration was
    loaded: No such file or directory": never as root, and not as the stale uid
    either (useradd may give it to someone else); nothing runs;
  * evd keeps running and keeps running its other jobs;
  * a reload then fails with "PATH:LINE: unknown user ..." naming the
    line of user=, and the running configuration is kept (the job is still
    listed).
Needs root (useradd/userdel, user= switching)."""

import pwd
import re
import time

from faultlib import FaultEvd, TempUser, check, wait_for
from evdtest import read_lines, require_root, run_tests


def test_user_deleted(evd_bin):
    require_root("useradd/userdel and user=")
    with TempUser() as u:
        conf = f"""
        [job:other]
        command = {{DIR}}/other.sh
        every = 1s

        [job:asuser]
        command = {{DIR}}/ids.sh
        every = 1s
        user = {u.name}
        """
        ids = """
        echo "$(date +%s.%N) $(id -u) $(id -g)" >> {OUT}/ids
        """
        other = """
        date +%s.%N >> {OUT}/other
        """
        with FaultEvd(evd_bin, conf, "userdel", scripts={"ids.sh": ids, "other.sh": other}) as e:
            wait_for(lambda: len(read_lines(e.o("ids"))) >= 2, 20, what="two runs as the throw-away user")
            for l in read_lines(e.o("ids")):
                check(l.split()[1:] == [str(u.uid), str(u.gid)], f"run as {l} before userdel, not {u.uid}")
            # userdel refuses while the user owns a process: a run may be
            # in flight for a moment.
            deleted_at = None
            for _ in range(50):
                u.deleted = False
                u.delete()
                try:
                    pwd.getpwnam(u.name)
                except KeyError:
                    deleted_at = time.time()
                    break
                time.sleep(0.2)
            check(deleted_at is not None, f"could not delete user {u.name}")

            start = e.log_count()
            n_ids = len(read_lines(e.o("ids")))
            # The due runs after the deletion fail, saying why; a run that
            # started before userdel may still finish.
            fails = e.wait_log(r"asuser\[.*failed.*user deleted after the configuration was loaded", count=3,
                               start=start, timeout=30)
            first = next(i for i, l in enumerate(e.log()) if i >= start and l == fails[0])
            late = e.grep(r"asuser\[.*(started|finished)", first)
            check(not late, f"the job ran after its user was deleted: {late[:3]}")
            for l in read_lines(e.o("ids"))[n_ids:]:
                _, uid, gid = l.split()
                check(uid != "0" and gid != "0", f"a run after userdel ran as root: {l}")
            e.check_alive("after userdel ")
            n_other = len(read_lines(e.o("other")))
            wait_for(lambda: len(read_lines(e.o("other"))) >= n_other + 2, 20, what="the other job to go on")

            # Reload: the unknown user is an error with file:line.
            start = e.log_count()
            e.reload()
            errs = e.grep(r"unknown user", start)
            check(errs, "the reload did not report the unknown user:\n" + e.log_tail())
            line = next(i for i, l in enumerate(open(e.conf).read().splitlines(), 1) if l.startswith("user"))
            check(any(re.search(re.escape(e.conf) + f":{line}:", l) for l in errs),
                  f"the error does not name {e.conf}:{line}: {errs}")
            check(e.grep(r"(?i)reload failed", start), "no 'reload failed' line:\n" + e.log_tail())
            rc, out, err = e.ctl("status", "asuser")
            check(rc == 0, f"the job is gone after a failed reload: {rc} {out} {err}")
            check(e.stop() == 0, f"exit status {e.returncode}")


if __name__ == "__main__":
    run_tests([("user_deleted", test_user_deleted)])
