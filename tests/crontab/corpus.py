"""corpus - odd crontab files for the crontab tests (stdlib only).

SYSTEM: files for a /etc/cron.d-like directory, USERS: files for the
spool (/var/spool/cron/crontabs), as (name, content, mode, owner, how):
owner is a user name; how is {} for a plain file, {"link": OWNER} for a
symbolic link (owned by OWNER) to a file of that content, mode and owner
outside the directory, {"hardlink": True} for a file with a second name
outside the directory. build() makes them.
test_cron_diff.py puts MARK before each file's content: an entry cron
runs every minute, from which the test learns which files cron loaded.
"""

MARK_SYS = "* * * * * root echo {name} >> {ran}\n"
MARK_USER = "* * * * * echo {name} >> {ran}\n"

LONG = "0 1 * * * root echo " + "x" * 990 + "\n"
LONGER = "0 1 * * * root echo " + "x" * 1100 + "\n"
# Debian's cron takes commands of up to 998 bytes (long998 loads, long999 does not).
LONG999 = "0 1 * * * root echo " + "x" * 994 + "\n"
LONG1000 = "0 1 * * * root echo " + "x" * 995 + "\n"

SYSTEM = [
    ("good", "0 1 * * * root true\n", 0o644, "root", {}),
    ("good_Name-2", "@daily root true\n", 0o644, "root", {}),
    ("envs", "SHELL=/bin/bash\nA = ' spaced '\nB=\"x\"\n\"C D\"=e\n0 1 * * * root env\n", 0o644, "root", {}),
    ("percent", "0 22 * * 1-5 root mail -s hi joe%Joe,%%Where?%\n* * * * * root date +\\%s\n", 0o644, "root", {}),
    ("macros", "@reboot root a\n@yearly root a\n@annually root a\n@monthly root a\n@weekly root a\n"
               "@midnight root a\n@hourly root a\n", 0o644, "root", {}),
    ("names", "0 0 * jan-mar mon-fri root a\n0 0 * * sun,sat root a\n1-3,7-9 */2 * * * root a\n", 0o644, "root", {}),
    ("badminute", "60 * * * * root a\n", 0o644, "root", {}),
    ("badhour", "0 24 * * * root a\n", 0o644, "root", {}),
    ("baddom", "0 0 32 * * root a\n", 0o644, "root", {}),
    ("badmonth", "0 0 * 13 * root a\n", 0o644, "root", {}),
    ("baddow", "0 0 * * 8 root a\n", 0o644, "root", {}),
    ("badname", "0 0 * foo * root a\n", 0o644, "root", {}),
    ("fourfields", "0 0 * * root\n", 0o644, "root", {}),
    ("nouserfield", "0 0 * * *\n", 0o644, "root", {}),
    ("nocommand", "0 0 * * * root\n", 0o644, "root", {}),
    ("unknownuser", "0 0 * * * no-such-user-evd a\n", 0o644, "root", {}),
    ("badmacro", "@sometimes root a\n", 0o644, "root", {}),
    ("stepafternumber", "5/10 * * * * root a\n", 0o644, "root", {}),
    ("reversed", "0 5-1 * * * root a\n", 0o644, "root", {}),
    ("nonewline", "0 0 * * * root a\n0 1 * * * root b", 0o644, "root", {}),
    ("commentnonewline", "0 0 * * * root a\n# last", 0o644, "root", {}),
    ("crlf", "0 0 * * * root a\r\n\r\n", 0o644, "root", {}),
    ("garbage", "\x01\x02\x7f\xff\xfe garbage\n", 0o644, "root", {}),
    ("loneword", "FOO\n", 0o644, "root", {}),
    ("long990", LONG, 0o644, "root", {}),
    ("long1100", LONGER, 0o644, "root", {}),
    ("long998", "0 1 * * * root echo " + "x" * 993 + "\n", 0o644, "root", {}),
    ("long999", LONG999, 0o644, "root", {}),
    ("long1000", LONG1000, 0o644, "root", {}),
    ("percent1000", "0 1 * * * root cat%" + "x" * 996 + "\n", 0o644, "root", {}),
    ("crcomment", "# comment\r\n0 0 * * * root a\n", 0o644, "root", {}),
    ("envquoted", "D=\"  two  \"\nE=' '\nJ=\"\"\n0 0 * * * root a\n", 0o644, "root", {}),
    ("envtrailing", "F=unquoted  \t \nK= a  b \t\n0 0 * * * root a\n", 0o644, "root", {}),
    ("envafterquote", "G = \"x\" y\n0 0 * * * root a\n", 0o644, "root", {}),
    ("envunmatched", "H=\"x\n0 0 * * * root a\n", 0o644, "root", {}),
    ("envmismatched", "I='x\"\n0 0 * * * root a\n", 0o644, "root", {}),
    ("envnoname", "=x\n0 0 * * * root a\n", 0o644, "root", {}),
    ("envquotedname", "\"N M\"=x\n0 0 * * * root a\n", 0o644, "root", {}),
    ("dotted.name", "0 0 * * * root a\n", 0o644, "root", {}),
    ("php.dpkg-old", "0 0 * * * root a\n", 0o644, "root", {}),
    ("backup~", "0 0 * * * root a\n", 0o644, "root", {}),
    ("groupwritable", "0 0 * * * root a\n", 0o664, "root", {}),
    ("otherwritable", "0 0 * * * root a\n", 0o646, "root", {}),
    ("notroot", "0 0 * * * root a\n", 0o644, "nobody", {}),
    ("symlinkgood", "0 0 * * * root a\n", 0o644, "root", {"link": "root"}),
    ("symlinknotroot", "0 0 * * * root a\n", 0o644, "nobody", {"link": "root"}),
    ("symlinkbyother", "0 0 * * * root a\n", 0o644, "root", {"link": "nobody"}),
    ("symlinkgw", "0 0 * * * root a\n", 0o664, "root", {"link": "root"}),
    ("hardlink", "0 0 * * * root a\n", 0o644, "root", {"hardlink": True}),
]

USERS = [
    ("nobody", "0 0 * * * true\n", 0o600, "nobody", {}),
    ("daemon", "0 0 * * * true\n", 0o600, "root", {}),
    ("sys", "0 0 * * * true\n", 0o600, "nobody", {}),
    ("no-such-user-evd", "0 0 * * * true\n", 0o600, "root", {}),
    ("bin", "0 0 * * * true\n", 0o644, "bin", {}),
    ("games", "0 0 * * * true\n", 0o600, "games", {}),
]

# /etc/cron.deny (no /etc/cron.allow) while the corpus is read: cron still
# loads games' table (crontab(1) applies the list, the daemon does not).
CRON_DENY = "games\n"


def build(directory, others, files, mark, ran):
    """Writes files into directory (links' targets and second names into
    others) with their marks; returns {name: content} as written."""
    import os
    import pwd
    written = {}
    for name, content, mode, owner, how in files:
        text = mark.format(name=name, ran=ran) + content
        uid = pwd.getpwnam(owner).pw_uid
        path = os.path.join(directory, name)
        target = os.path.join(others, name) if how else path
        with open(target, "w", encoding="latin-1") as f:
            f.write(text)
        os.chmod(target, mode)
        os.chown(target, uid, -1)
        if "link" in how:
            os.symlink(target, path)
            os.lchown(path, pwd.getpwnam(how["link"]).pw_uid, -1)
        elif "hardlink" in how:
            os.link(target, path)
        written[name] = text
    return written
