#!/usr/bin/python3
"""Fault: a user is deleted while their crontab is loaded.

No real account is made: evd runs in a private mount namespace (unshare)
with an overlay over /etc whose passwd has one more user (an unused uid). The user's table is in a spool laid out as Debian's
crontab(1) writes it (the directory 1730 root:crontab, the file named
after the user, owned by the user, group crontab, mode 0600), and
[crontabs] users = that spool. Its marker entry runs every minute and
logs its uid. The user is then deleted by rewriting the private passwd
(nsenter into evd's mount namespace).

Expected:
  * before: the entry runs as the user's uid;
  * after the deletion nothing of the table runs (not as root, not as
    the stale uid, which a new user could be given), and evd says why in
    a line naming the job or the table and the user;
  * a reload (SIGHUP) refuses the table with a line naming the file and
    the missing user, and no job of it remains (Debian's cron drops such
    a table as an "ORPHAN"); evd and its other jobs go on.
Needs root and mount namespaces."""

import grp
import os
import pwd
import time

import cronfault
from faultlib import FaultEvd, check, nsenter, require_ns_tools, wait_for
from evdtest import read_lines, require_root, run_tests


def free_uid():
    used = {p.pw_uid for p in pwd.getpwall()} | {g.gr_gid for g in grp.getgrall()}
    for uid in range(61000, 65000):
        if uid not in used:
            return uid
    return None


def test_userdel(evd_bin):
    require_root("a private /etc/passwd and user switching")
    require_ns_tools()
    try:
        crontab_gid = grp.getgrnam("crontab").gr_gid
    except KeyError:
        crontab_gid = 0
    uid = free_uid()
    check(uid, "no free uid")
    name = f"evdcu{uid}"
    conf = """
    [crontabs]
    users = {DIR}/spool
    """
    with FaultEvd(evd_bin, conf, "cronud", start=False) as e:
        with open("/etc/passwd") as f:
            real = f.read()
        entry = f"{name}:x:{uid}:{uid}:evd fault test:/:/bin/sh\n"
        passwd = e.path("passwd")
        with open(passwd, "w") as f:
            f.write(real + entry)
        os.chmod(passwd, 0o644)
        spool = e.path("spool")
        os.makedirs(spool)
        os.chown(spool, 0, crontab_gid)
        os.chmod(spool, 0o1730)
        cronfault.write_crontab(os.path.join(spool, name), cronfault.marker(e.o("ud"), "ud", user=None),
                                mode=0o600, uid=uid, gid=crontab_gid)
        # An overlay over all of /etc, not a bind mount over /etc/passwd: a
        # mount on a file goes away (in every namespace) when the machine's
        # useradd/userdel, say of a test running meanwhile, renames a new
        # /etc/passwd over it.
        ov = e.path("etc-overlay")
        os.makedirs(os.path.join(ov, "upper"))
        os.makedirs(os.path.join(ov, "work"))
        setup = (f"cp {passwd} {ov}/upper/passwd && mount -t overlay evd-fault-etc -o lowerdir=/etc,"
                 f"upperdir={ov}/upper,workdir={ov}/work /etc && exec \"$@\"")
        e.launcher = ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", setup, "sh"]
        e.start()
        jobs = cronfault.job_names(e, name + "-")
        check(len(jobs) == 1, f"the user's table did not load: {cronfault.job_names(e)}\n" + e.log_tail())
        wait_for(lambda: read_lines(e.o("ud")), 75, interval=0.5, what="a run as the user (70s)")
        for l in read_lines(e.o("ud")):
            check(l.split()[-1] == str(uid), f"ran as uid {l.split()[-1]}, not {uid}")

        with open(passwd, "w") as f:
            f.write(real)
        rc, out = nsenter(e.pid, "cp", passwd, "/etc/passwd")
        check(rc == 0, f"rewriting the private /etc/passwd: {out}")
        deleted, start = time.time(), e.log_count()
        n = len(read_lines(e.o("ud")))
        cronfault.wait_boundaries(deleted, 1)
        late = read_lines(e.o("ud"))[n:]
        check(not late, f"the table ran after its user was deleted: {late}")
        said = e.grep(rf"{jobs[0]}|{name}", start)
        check(said, "nothing was said about the deleted user's run:\n" + e.log_tail())
        print(f"  after the deletion: {said[:2]}", flush=True)

        start = e.log_count()
        e.reload()
        refused = wait_for(lambda: e.grep(rf"spool/{name}\b.*(?i:user)", start), 10,
                           what="the reload to refuse the table, naming the file and the user")
        print(f"  on reload: {refused[:2]}", flush=True)
        check(not cronfault.job_names(e, name + "-"), "the deleted user's job is still there after the reload")
        check(len(read_lines(e.o("ud"))) == n, "the table ran after its user was deleted")
        e.check_alive()
        check(e.stop() == 0, f"exit status {e.returncode}")


if __name__ == "__main__":
    run_tests([("crontab_userdel", test_userdel)])
