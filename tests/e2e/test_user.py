#!/usr/bin/python3
"""user = nobody: the run has uid/gid 65534 and nobody's groups (as
getgrouplist gives them), HOME/USER of nobody; group = overrides the
primary group. Needs root."""

import grp
import os
import pwd

from evdtest import Evd, check, read_file, read_lines, require_root, run_tests, wait_for


def test_user_nobody(evd_bin):
    require_root("running a job as user=nobody")
    try:
        pw = pwd.getpwnam("nobody")
    except KeyError:
        from evdtest import skip
        skip("this system has no user nobody")
    gname = grp.getgrgid(pw.pw_gid).gr_name
    conf = f"""
    [job:asnobody]
    command = {{DIR}}/ids.sh
    environment = P=
    cron = @reboot
    user = nobody

    [job:withgroup]
    command = {{DIR}}/ids.sh
    environment = P=g-
    cron = @reboot
    user = nobody
    group = {grp.getgrgid(0).gr_name}

    [job:fdsnobody]
    command = ls /proc/self/fd > {{OUT}}/fds; touch {{OUT}}/f-done
    shell = yes
    cron = @reboot
    user = nobody
    """
    script = """
    id -u > {OUT}/${P}uid
    id -g > {OUT}/${P}gid
    id -G > {OUT}/${P}groups
    echo "$HOME $USER $LOGNAME" > {OUT}/${P}home
    touch {OUT}/${P}done
    """
    with Evd(evd_bin, conf, "user", scripts={"ids.sh": script}) as e:
        wait_for(lambda: os.path.exists(e.o("done")), 10, what="the nobody job")
        check(read_file(e.o("uid")).strip() == str(pw.pw_uid), f"uid {read_file(e.o('uid'))!r}")
        check(read_file(e.o("gid")).strip() == str(pw.pw_gid), f"gid {read_file(e.o('gid'))!r}")
        want = sorted(set(os.getgrouplist("nobody", pw.pw_gid)))
        got = sorted(set(int(g) for g in read_file(e.o("groups")).split()))
        check(got == want, f"groups {got}, expected nobody's {want} ({gname})")
        check(0 not in got, "root's group leaked into a nobody job")
        home, user, logname = read_file(e.o("home")).split()
        check(home == pw.pw_dir and user == "nobody" and logname == "nobody",
              f"HOME/USER/LOGNAME: {home} {user} {logname}")

        wait_for(lambda: os.path.exists(e.o("g-done")), 10, what="the job with group=")
        check(read_file(e.o("g-uid")).strip() == str(pw.pw_uid), "group= changed the uid")
        check(read_file(e.o("g-gid")).strip() == "0", f"group= not applied: gid {read_file(e.o('g-gid'))!r}")

        wait_for(lambda: os.path.exists(e.o("f-done")), 10, what="the fd-listing job")
        # `ls` itself holds one directory descriptor (3) while listing.
        fds = sorted(int(x) for x in read_lines(e.o("fds")))
        check(fds == [0, 1, 2, 3], f"a nobody job has descriptors {fds} (3 is ls's own)")
        check(e.stop() == 0, f"exit status {e.returncode}")


if __name__ == "__main__":
    run_tests([("user_nobody", test_user_nobody)])
