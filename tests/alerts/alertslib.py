"""alertslib.py - what the tests in tests/alerts/ share: the verdicts, and
a private exim4 (its own configuration, spool, log and mailbox in a
temporary directory; it accepts only the test's domain and delivers to the
mailbox file: nothing is relayed, the machine's mail setup is not used)."""
import email
import email.policy
import mailbox
import os
import pwd
import sys

SKIP = 77


def skip(why):
    print("SKIP:", why, flush=True)
    sys.exit(SKIP)


def fail(why):
    print("FAIL:", why, flush=True)
    sys.exit(1)


EXIM = "/usr/sbin/exim4"
DOMAIN = "evdtest.invalid"

EXIM_CONF = """\
primary_hostname = {domain}
qualify_domain = {domain}
spool_directory = {d}/spool
log_file_path = {d}/log/%slog
keep_environment =
daemon_smtp_ports =
begin routers
local:
  driver = accept
  domains = {domain}
  transport = mbox
begin transports
mbox:
  driver = appendfile
  file = {d}/box/mailbox
  user = Debian-exim
  group = Debian-exim
  mode = 0600
  envelope_to_add
begin retry
*  *  F,1m,1m
"""


def exim_user():
    """Skips unless root with exim4 installed; the Debian-exim passwd entry."""
    if os.geteuid() != 0:
        skip("needs root (exim's spool is handed to the Debian-exim user)")
    if not os.access(EXIM, os.X_OK):
        skip("needs exim4 (package exim4-daemon-light)")
    try:
        return pwd.getpwnam("Debian-exim")
    except KeyError:
        skip("no Debian-exim user")


def exim_setup(d):
    """The private exim under d; returns the sendmail command (-odi:
    delivered before it returns, no daemon is ever started)."""
    user = exim_user()
    os.makedirs(d, exist_ok=True)
    os.chmod(d, 0o755)
    for sub in ("spool", "log", "box"):
        os.makedirs(os.path.join(d, sub), exist_ok=True)
        os.chown(os.path.join(d, sub), user.pw_uid, user.pw_gid)
    conf = os.path.join(d, "exim.conf")
    with open(conf, "w") as f:
        f.write(EXIM_CONF.format(d=d, domain=DOMAIN))
    return [EXIM, "-C", conf, "-odi"]


def exim_mailbox(d):
    """The messages delivered so far, parsed."""
    path = os.path.join(d, "box", "mailbox")
    if not os.path.exists(path):
        return []
    box = mailbox.mbox(path, factory=lambda f: email.message_from_binary_file(f, policy=email.policy.default))
    return list(box)


def exim_log(d):
    try:
        return open(os.path.join(d, "log", "mainlog"), errors="replace").read()
    except OSError as e:
        return str(e)
