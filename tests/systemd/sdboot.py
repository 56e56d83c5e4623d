"""sdboot.py - boot a private systemd as PID 1 of new namespaces, for tests.

The machine's own PID 1 need not be systemd. A throw-away systemd is started
as PID 1 of new PID, mount, UTS, IPC and cgroup namespaces, with nothing but
journald, and the tests drive it through nsenter (systemctl, journalctl).

Safety, in the order the boot script does it:
  - it stops unless it runs in a mount namespace other than the test's;
  - private tmpfs over /tmp, /var/tmp, /var/log and /run, and an overlay
    (writes go to tmpfs) over /var/lib, before systemd starts: its boot-time
    clean-up must never see the machine's real /tmp, and StateDirectory=
    must not litter (or clobber) the machine's /var/lib;
  - on request (overlays=), overlays over /usr, /etc or /var, their upper
    directories in the private /run, for a test that installs a package:
    the boot stops if one cannot be mounted, there is no fallback;
  - the script checks that each of them really is private before it execs
    systemd, and exits otherwise;
  - the tmpfiles units are masked anyway;
  - /dev/console is bound to a log file, so systemd does not write to the
    machine's console;
  - the files the test needs are staged in a directory whose descriptor is
    passed in and copied into the private /run after the tmpfs mounts hide
    the host's /tmp (where the build tree, and so the staging directory, may
    well live);
  - a cgroup of its own (a child of ours) is the new cgroup namespace's
    root, so systemd's cgroups do not land in the machine's root cgroup and
    two tests can run at once;
  - unshare is killed when this process dies (PR_SET_PDEATHSIG), and kills
    systemd in turn (--kill-child), which ends the whole PID namespace; the
    empty cgroups and the staging directory such a killed run leaves are
    removed by the next run (their names carry the dead test's pid).
Every process is ended by PID, never by name.
"""
import ctypes
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

SKIP = 77
SYSTEMD = "/lib/systemd/systemd"
TARGET = "evdtest.target"
NS_DIR = "/run/evdtest"          # the staged files, inside the namespaces


class Failure(Exception):
    pass


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def skip(reason):
    print(f"SKIP: {reason}", flush=True)
    sys.exit(SKIP)


def poll(what, fn, timeout, interval=0.25):
    """Calls fn until it returns something true; returns that, or raises
    Failure after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > deadline:
            raise Failure(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(interval)


def check_environment():
    """Exits 77 with the reason when this machine cannot run the test."""
    if os.geteuid() != 0:
        skip("needs root (to boot a private systemd in new namespaces)")
    if not os.access(SYSTEMD, os.X_OK):
        skip(f"{SYSTEMD} is not installed")
    for tool in ("unshare", "nsenter", "systemctl", "journalctl", "bash", "mount"):
        if not shutil.which(tool):
            skip(f"{tool} is not installed")
    try:
        p = subprocess.run(["unshare", "--pid", "--fork", "--mount", "--uts", "--ipc", "--cgroup",
                            "--propagation", "private", "true"],
                           capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired:
        skip("unshare did not return")
    if p.returncode != 0:
        skip(f"cannot create namespaces here: unshare: {p.stderr.strip()}")


OVERLAY_PROBE = r"""
set -eu
own=$(readlink /proc/self/ns/mnt)
if [ -z "$2" ] || [ "$own" = "$2" ]; then
    echo "probe: not in a new mount namespace: stopping" >&2
    exit 1
fi
mount -t tmpfs -o mode=0700 tmpfs "$1"
mkdir "$1/lower" "$1/upper" "$1/work" "$1/merged"
mount -t overlay overlay -o "lowerdir=$1/lower,upperdir=$1/upper,workdir=$1/work" "$1/merged"
"""


def check_overlayfs():
    """Exits 77 with the reason when no overlay can be mounted here (tried
    in a mount namespace of its own, on a tmpfs, like the boot does)."""
    probe = tempfile.mkdtemp(prefix=f"evd-sdtest-{os.getpid()}-probe-")
    try:
        p = subprocess.run(["unshare", "--mount", "--propagation", "private",
                            "bash", "-c", OVERLAY_PROBE, "evdtest-probe", probe,
                            os.readlink("/proc/self/ns/mnt")],
                           capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired:
        skip("the overlayfs probe did not return")
    finally:
        shutil.rmtree(probe, ignore_errors=True)
    if p.returncode != 0:
        skip(f"cannot mount overlayfs here: {p.stderr.strip()}")


# --- cgroups -------------------------------------------------------------

def _cgroup2_dir_of_self():
    """The directory of this process's cgroup v2 (the unified hierarchy,
    also on hybrid systems), or None."""
    own = None
    with open("/proc/self/cgroup") as f:
        for line in f:
            hid, _, path = line.rstrip("\n").split(":", 2)
            if hid == "0":
                own = path
    if own is None:
        return None
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            sep = fields.index("-")
            if fields[sep + 1] != "cgroup2":
                continue
            root, mnt = fields[3], fields[4]
            if own == root or own.startswith(root.rstrip("/") + "/"):
                rel = own[len(root):].lstrip("/")
                return os.path.join(mnt, rel) if rel else mnt
    return None


def _pid_alive(pid):
    return os.path.exists(f"/proc/{pid}")


def _sweep_stale(parent, prefix, remove):
    """Removes what an earlier run that was killed (SIGKILL leaves no
    chance to clean up) left in parent: entries named PREFIX<pid>-... or
    PREFIX<pid> whose pid is gone."""
    try:
        names = os.listdir(parent)
    except OSError:
        return
    for name in names:
        if not name.startswith(prefix):
            continue
        pid = name[len(prefix):].split("-", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _pid_alive(int(pid)):
            try:
                remove(os.path.join(parent, name))
                log(f"removed {os.path.join(parent, name)}, left by a killed earlier run")
            except OSError:
                pass


def _rmdir_tree(path):
    for dirpath, dirnames, _ in os.walk(path, topdown=False):
        for d in dirnames:
            try:
                os.rmdir(os.path.join(dirpath, d))
            except OSError:
                pass
    os.rmdir(path)


# --- the boot script, run by unshare inside the new namespaces ------------

BOOT_SCRIPT = r"""
set -eu
fd=$1
cgmode=$2
outer_mnt_ns=$3
overlays=${4:-}
# Everything below mounts over the machine's directories: only ever in a
# mount namespace of our own, not the test's ($3).
own_mnt_ns=$(readlink /proc/self/ns/mnt)
if [ -z "$outer_mnt_ns" ] || [ -z "$own_mnt_ns" ] || [ "$own_mnt_ns" = "$outer_mnt_ns" ]; then
    echo "boot: not in a new mount namespace ($own_mnt_ns): stopping" >&2
    exit 1
fi
mount -t proc -o nosuid,nodev,noexec proc /proc
# A private /dev: systemd makes mount points there (/dev/mqueue,
# /dev/hugepages) and journald the /dev/log link, which must not land in
# the machine's /dev.
mount -t tmpfs -o mode=0755,nosuid tmpfs /dev
for node in null:1:3 zero:1:5 full:1:7 random:1:8 urandom:1:9 tty:5:0; do
    IFS=: read -r name major minor <<< "$node"
    mknod -m 0666 "/dev/$name" c "$major" "$minor"
done
mkdir /dev/pts /dev/shm
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts /dev/pts
ln -s pts/ptmx /dev/ptmx
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /dev/shm
ln -s /proc/self/fd /dev/fd
ln -s /proc/self/fd/0 /dev/stdin
ln -s /proc/self/fd/1 /dev/stdout
ln -s /proc/self/fd/2 /dev/stderr
: > /dev/console
mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /run
# Optional overlays ($4: e.g. "/usr /etc /var"), writes going to the private
# /run: before the tmpfs mounts below, which must stay on top of them. No
# fallback: a test that asks for them writes there (dpkg -i).
for d in $overlays; do
    case "$d" in /usr|/etc|/var|/opt|/srv) ;; *) echo "boot: no overlay over $d" >&2; exit 1;; esac
    o=/run/evdtest-overlay$(echo "$d" | tr / -)
    mkdir -p "$o/upper" "$o/work"
    if ! mount -t overlay overlay -o "lowerdir=$d,upperdir=$o/upper,workdir=$o/work" "$d"; then
        echo "boot: cannot mount an overlay over $d: not starting systemd" >&2
        exit 3
    fi
    t=$(stat -f -c %T "$d")
    if [ "$t" != overlayfs ]; then
        echo "boot: $d is $t, not an overlay: not starting systemd" >&2
        exit 1
    fi
done
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /tmp
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /var/tmp
mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /var/log
mkdir -p /run/evdtest-varlib/upper /run/evdtest-varlib/work
if ! mount -t overlay overlay \
        -o lowerdir=/var/lib,upperdir=/run/evdtest-varlib/upper,workdir=/run/evdtest-varlib/work /var/lib; then
    echo "boot: no overlayfs; a tmpfs hides /var/lib instead" >&2
    mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /var/lib
fi
if [ "$cgmode" = cgroupns ]; then
    mount -t cgroup2 -o nosuid,nodev,noexec cgroup2 /sys/fs/cgroup
fi
for d in /tmp /var/tmp /var/log /run /dev; do
    t=$(stat -f -c %T "$d")
    if [ "$t" != tmpfs ]; then
        echo "boot: $d is $t, not a private tmpfs: not starting systemd" >&2
        exit 1
    fi
done
mkdir -p /run/evdtest /run/systemd/system
cp -a "/proc/self/fd/$fd/." /run/evdtest/
exec {fd}<&-
cp -a /run/evdtest/units/. /run/systemd/system/
for u in systemd-tmpfiles-setup.service systemd-tmpfiles-setup-dev.service \
         systemd-tmpfiles-clean.service systemd-tmpfiles-clean.timer; do
    ln -sf /dev/null "/run/systemd/system/$u"
done
: > /run/evdtest/console.log
mount --bind /run/evdtest/console.log /dev/console
exec env -i container=evdtest PATH=/usr/sbin:/usr/bin:/sbin:/bin \
    /lib/systemd/systemd --system --unit=evdtest.target
"""

TARGET_UNIT = """\
[Unit]
Description=evd test boot: journald only
DefaultDependencies=no
Wants=systemd-journald.socket systemd-journald.service
After=systemd-journald.socket systemd-journald.service
# Orders nothing (evd.service is not started with the target), but the
# reference keeps evd.service loaded once it is stopped: an unreferenced
# inactive unit is garbage-collected at once, and `systemctl show` would
# then report a fresh unit's defaults instead of how evd exited.
After=evd.service
"""


def _set_pdeathsig():
    # PR_SET_PDEATHSIG = 1: unshare (and, through --kill-child, systemd
    # and its whole PID namespace) dies with this test.
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGKILL, 0, 0, 0)


class PrivateSystemd:
    """A systemd booted as PID 1 of new namespaces. Use as a context
    manager; files maps a relative path (under /run/evdtest inside) to
    (bytes or a host path, mode). units maps unit file names (drop-ins as
    "evd.service.d/x.conf") to their text. overlays names directories
    (of /usr, /etc, /var, /opt, /srv) to hide under an overlay whose
    writes go to the private /run: the boot fails rather than start
    systemd without one (check_overlayfs() skips a test where overlayfs
    is missing)."""

    def __init__(self, files, units, overlays=()):
        self.files = files
        self.overlays = tuple(overlays)
        self.units = dict(units)
        self.units[TARGET] = TARGET_UNIT
        self.proc = None
        self.pid = None
        self.stage = None
        self.cgroup = None
        self.boot_log = None

    # -- life cycle --

    def __enter__(self):
        try:
            self._boot()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def _stage(self):
        tmp = tempfile.gettempdir()
        _sweep_stale(tmp, "evd-sdtest-", lambda p: shutil.rmtree(p) if os.path.isdir(p) else None)
        self.stage = tempfile.mkdtemp(prefix=f"evd-sdtest-{os.getpid()}-", dir=tmp)
        os.chmod(self.stage, 0o755)
        for rel, (content, mode) in self.files.items():
            dst = os.path.join(self.stage, rel)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            if isinstance(content, bytes):
                with open(dst, "wb") as f:
                    f.write(content)
            else:
                shutil.copyfile(content, dst)
            os.chmod(dst, mode)
        for name, text in self.units.items():
            dst = os.path.join(self.stage, "units", name)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            with open(dst, "w") as f:
                f.write(text)
            os.chmod(dst, 0o644)

    def _make_cgroup(self):
        parent = _cgroup2_dir_of_self()
        if not parent:
            return None
        _sweep_stale(parent, "evd-sdtest-", _rmdir_tree)   # rmdir: only empty cgroups go
        path = os.path.join(parent, f"evd-sdtest-{os.getpid()}")
        try:
            os.mkdir(path)
        except OSError as e:
            log(f"cannot create a cgroup under {parent} ({e.strerror}): "
                "systemd shares this process's cgroup namespace")
            return None
        return path

    def _boot(self):
        self._stage()
        self.cgroup = self._make_cgroup()
        stage_fd = os.open(self.stage, os.O_RDONLY | os.O_DIRECTORY)
        self.boot_log = tempfile.TemporaryFile()
        cgroup = self.cgroup

        def preexec():
            _set_pdeathsig()
            if cgroup:
                with open(os.path.join(cgroup, "cgroup.procs"), "w") as f:
                    f.write("0\n")

        cmd = ["unshare", "--pid", "--fork", "--kill-child=SIGKILL", "--mount", "--uts", "--ipc",
               "--propagation", "private"]
        if cgroup:
            cmd.append("--cgroup")
        cmd += ["bash", "-c", BOOT_SCRIPT, "evdtest-boot", str(stage_fd),
                "cgroupns" if cgroup else "shared", os.readlink("/proc/self/ns/mnt"),
                " ".join(self.overlays)]
        try:
            self.proc = subprocess.Popen(cmd, pass_fds=(stage_fd,), stdin=subprocess.DEVNULL,
                                         stdout=self.boot_log, stderr=subprocess.STDOUT,
                                         preexec_fn=preexec)
        finally:
            os.close(stage_fd)

        def systemd_pid():
            if self.proc.poll() is not None:
                raise Failure(f"the namespaces' boot script exited with {self.proc.returncode}:\n"
                              + self._boot_output())
            try:
                with open(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children") as f:
                    kids = f.read().split()
                for k in kids:
                    if os.readlink(f"/proc/{k}/exe") == os.path.realpath(SYSTEMD):
                        return int(k)
            except OSError:
                pass
            return None

        self.pid = poll("the private systemd to start", systemd_pid, 30)
        log(f"private systemd is PID {self.pid} (unshare {self.proc.pid})"
            + (f", cgroup {self.cgroup}" if self.cgroup else ""))

        def booted():
            p = self.run(["systemctl", "is-system-running"], check=False, timeout=10)
            return p.stdout.strip() in ("running", "degraded")
        poll("the private systemd to finish booting", booted, 45, 0.3)

    def _boot_output(self):
        if not self.boot_log:
            return ""
        self.boot_log.seek(0)
        return self.boot_log.read().decode(errors="replace")

    def close(self):
        """Stops systemd (SIGRTMIN+4: an orderly poweroff, which in a
        container ends PID 1), SIGKILL if it lingers, then removes the
        staging directory and the cgroups."""
        if self.proc and self.proc.poll() is None:
            if self.pid:
                try:
                    os.kill(self.pid, signal.SIGRTMIN + 4)
                except ProcessLookupError:
                    pass
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                log("private systemd did not power off in 30s: SIGKILL")
                for pid in (self.pid, self.proc.pid):
                    if pid:
                        try:
                            os.kill(pid, signal.SIGKILL)
                        except ProcessLookupError:
                            pass
                try:
                    self.proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    log(f"unshare (PID {self.proc.pid}) does not exit")
        if self.cgroup:
            def removed():
                try:
                    _rmdir_tree(self.cgroup)
                    return True
                except FileNotFoundError:
                    return True
                except OSError:
                    return False
            try:
                poll(f"cgroup {self.cgroup} to empty", removed, 10)
            except Failure as e:
                log(str(e))
            self.cgroup = None
        if self.stage:
            shutil.rmtree(self.stage, ignore_errors=True)
            self.stage = None
        if self.boot_log:
            self.boot_log.close()
            self.boot_log = None

    # -- driving it --

    def run(self, argv, check=True, timeout=60, input=None):
        """Runs argv inside the namespaces (mount + PID)."""
        env = dict(os.environ, SYSTEMD_PAGER="cat", SYSTEMD_COLORS="0", PAGER="cat", LC_ALL="C.UTF-8")
        p = subprocess.run(["nsenter", "-t", str(self.pid), "-m", "-p", "--"] + argv,
                           capture_output=True, text=True, timeout=timeout, input=input, env=env)
        if check and p.returncode != 0:
            raise Failure(f"{' '.join(argv)} exited with {p.returncode}:\n{p.stdout}{p.stderr}")
        return p

    def systemctl(self, *args, check=True, timeout=90):
        return self.run(["systemctl", "--no-pager"] + list(args), check=check, timeout=timeout)

    def show(self, unit, *props):
        p = self.systemctl("show", unit, *(f"--property={x}" for x in props))
        d = {}
        for line in p.stdout.splitlines():
            k, _, v = line.partition("=")
            d[k] = v
        return d

    def journal(self, *args):
        """journalctl -o json ARGS: a list of entries (dicts)."""
        p = self.run(["journalctl", "--no-pager", "-o", "json"] + list(args), check=False)
        out = []
        for line in p.stdout.splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
        return out

    def cursor(self):
        """The journal's current end, for journal_since()."""
        e = self.journal("-n", "1")
        if not e:
            raise Failure("the journal is empty")
        return e[-1]["__CURSOR"]

    def journal_since(self, cursor, *args):
        """The entries after cursor that match ARGS. Not --after-cursor:
        with a filter that the cursor's own entry does not match, journalctl
        (252) skips the first matching entry after it as if it were the
        cursor's."""
        return [e for e in self.journal(f"--cursor={cursor}", *args) if e.get("__CURSOR") != cursor]

    def write_file(self, path, text, mode=0o644):
        """Writes a file inside the namespaces (atomically, via a rename)."""
        tmp = path + ".new"
        self.run(["sh", "-c", 'umask 022; cat > "$1" && chmod "$3" "$1" && mv -f "$1" "$2"', "sh",
                  tmp, path, oct(mode)[2:]], input=text)

    def pids_in_namespace(self):
        """(host pid, comm, cmdline) of every process in systemd's PID
        namespace, seen from here."""
        mine = os.readlink(f"/proc/{self.pid}/ns/pid")
        out = []
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                if os.readlink(f"/proc/{d}/ns/pid") != mine:
                    continue
                with open(f"/proc/{d}/comm") as f:
                    comm = f.read().strip()
                with open(f"/proc/{d}/cmdline", "rb") as f:
                    cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
            except OSError:
                continue
            out.append((int(d), comm, cmd))
        return out

    def dump(self, unit):
        """Everything useful after a failure."""
        print("=" * 30 + f" systemctl status {unit} " + "=" * 30, flush=True)
        p = self.systemctl("status", "--lines=0", unit, check=False)
        print(p.stdout + p.stderr, flush=True)
        print("=" * 30 + f" journalctl -u {unit} (last 200) " + "=" * 30, flush=True)
        p = self.run(["journalctl", "--no-pager", "-u", unit, "-n", "200", "-o", "short-precise"],
                     check=False)
        print(p.stdout + p.stderr, flush=True)
        print("=" * 30 + " processes in the namespace " + "=" * 30, flush=True)
        for pid, comm, cmd in self.pids_in_namespace():
            print(f"{pid:>8} {comm:<16} {cmd}", flush=True)
        p = self.run(["cat", f"{NS_DIR}/console.log"], check=False)
        if p.stdout.strip():
            print("=" * 30 + " systemd console " + "=" * 30, flush=True)
            print(p.stdout[-4000:], flush=True)


def exit_with(main):
    """sys.exit(main()), a Failure outside main's own handling printed as
    FAIL and exit 1: the end of every test script here."""
    try:
        sys.exit(main())
    except Failure as e:
        print(f"FAIL: {e}", flush=True)
        sys.exit(1)


def install_signal_handlers():
    """SIGTERM/SIGINT (ctest's timeout, ^C) raise, so `with` blocks clean up."""
    def handler(sig, frame):
        raise KeyboardInterrupt(f"signal {sig}")
    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def sanitizer_dropin(evd_path):
    """A drop-in that lets a sanitizer build of evd run under the unit, or
    "" for a normal build: the sanitizer options from this environment, and
    ptrace, which LeakSanitizer needs and the unit's SystemCallFilter=
    denies."""
    with open(evd_path, "rb") as f:
        data = f.read()
    if b"__asan_init" not in data and b"__tsan_init" not in data and b"__ubsan_handle" not in data:
        return ""
    lines = ["[Service]"]
    for var in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS", "TSAN_OPTIONS"):
        if os.environ.get(var):
            lines.append(f"Environment={var}={os.environ[var]}")
    if b"__asan_init" in data:
        lines.append("SystemCallFilter=ptrace")
    return "\n".join(lines) + "\n"


def evd_units(evd_path, shipped, test_dropin):
    """The units of a test of evd as a service: the shipped evd.service
    running the staged evd on the staged configuration ({NS_DIR}/bin/evd,
    {NS_DIR}/evd.conf), the test's own drop-in, and the sanitizer drop-in
    when evd_path is a sanitizer build."""
    units = {"evd.service": unit_under_test(shipped, f"{NS_DIR}/bin/evd --config {NS_DIR}/evd.conf"),
             "evd.service.d/10-test.conf": test_dropin}
    san = sanitizer_dropin(evd_path)
    if san:
        units["evd.service.d/20-sanitizer.conf"] = san
    return units


def unit_under_test(shipped, exec_start):
    """The shipped unit with ExecStart= (and nothing else) changed."""
    with open(shipped) as f:
        text = f.read()
    new, n = re.subn(r"^ExecStart=/usr/sbin/evd$", lambda m: f"ExecStart={exec_start}", text, flags=re.M)
    if n != 1:
        raise Failure(f"{shipped}: expected exactly one line 'ExecStart=/usr/sbin/evd' to adjust")
    return new
