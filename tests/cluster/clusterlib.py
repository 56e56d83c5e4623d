"""clusterlib - several real evd nodes on one etcd, for the cluster tests.

Nodes(evd, etcd, n) starts n evd processes (tests/e2e/evdtest.Evd: each
its own directory, configuration, state directory, control socket and
notify socket) whose [cluster] section lists the endpoints of an
etcdlib.EtcdCluster; node i is named "nI" (node = nI) unless told
otherwise. Every node runs the same job script from one shared directory
(mode 1777), which appends a line per event to one shared record file:

    START INSTANT NODE REALTIME PID   the run began (INSTANT: EVD_SCHEDULED_USEC)
    HOLD INSTANT NODE PID             the run took the node's hold file: it
                                      lasts until it is ended (60 s at most)
    TERM INSTANT NODE REALTIME        the run got SIGTERM (e.g. fenced)
    END INSTANT NODE REALTIME         the run finished by itself

A line is one write(2) on an O_APPEND file, so lines of runs on different
nodes never mix. hold(node) makes the next run on that node long, so that
a test can freeze the node while one of its runs is going.

Processes are signalled by PID only: the nodes (SIGTERM at the end,
SIGKILL when a test kills one) and, at cleanup, the process groups of runs
they logged as started (Evd.cleanup). Stdlib only.
"""
import collections
import os
import shutil
import signal
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
import evdtest  # noqa: E402

SCRIPT = r"""#!/bin/sh
# One run of a cluster test's job: records START, then sleeps RUN_SECONDS
# (or, when it takes the node's hold file, up to 60 s), then END; TERM if
# it is terminated.
f=@SHARED@/runs
i=${EVD_SCHEDULED_USEC:-none}
echo "START $i $NODE $(date +%s.%N) $$" >> $f
trap 'echo "TERM $i $NODE $(date +%s.%N)" >> $f; exit 143' TERM
if mv @SHARED@/hold-$NODE @SHARED@/held-$NODE.$$ 2>/dev/null; then
    echo "HOLD $i $NODE $$" >> $f
    sleep 60
else
    sleep ${RUN_SECONDS:-0.3}
fi
echo "END $i $NODE $(date +%s.%N)" >> $f
"""


ctl = evdtest.ctl


def report(fails):
    """Prints each failure; the exit status."""
    for f in fails:
        print("FAIL " + f)
    return 1 if fails else 0


def run_main(main):
    """sys.exit(main()), a TestFailure printed as a failure."""
    try:
        sys.exit(main())
    except evdtest.TestFailure as e:
        print("FAIL %s" % e)
        sys.exit(1)


def node_config(endpoints, node, shared, lease="3s", job_extra="", cluster_extra="", daemon_extra="",
                jobs=""):
    """The configuration of one node: [cluster] on ENDPOINTS and the job
    `tick` (cluster = once, every second, runs in parallel)."""
    return ("[daemon]\nworkers = 8\nkill_grace = 1s\nshutdown_timeout = 2s\n" + daemon_extra +
            "[cluster]\netcd = %s\nname = evdtest\nnode = %s\nlease = %s\n" % (endpoints, node, lease) +
            cluster_extra +
            "[job:tick]\ncommand = %s/tick.sh\nevery = 1s\ncluster = once\noverlap = parallel\n" % shared +
            "environment = NODE=%s\n" % node + job_extra + jobs)


class Record:
    """The shared record file, parsed."""

    def __init__(self, path):
        self.starts = []        # (instant usec or None, node, realtime, pid)
        self.holds = []         # (instant, node, pid)
        self.terms = []         # (instant, node, realtime)
        self.ends = []
        self.bad = []
        try:
            with open(path) as f:
                lines = f.read().splitlines()
        except FileNotFoundError:
            lines = []
        for line in lines:
            w = line.split()
            try:
                inst = None if w[1] == "none" else int(w[1])
                if w[0] == "START" and len(w) == 5:
                    self.starts.append((inst, w[2], float(w[3]), int(w[4])))
                elif w[0] == "HOLD" and len(w) == 4:
                    self.holds.append((inst, w[2], int(w[3])))
                elif w[0] == "TERM" and len(w) == 4:
                    self.terms.append((inst, w[2], float(w[3])))
                elif w[0] == "END" and len(w) == 4:
                    self.ends.append((inst, w[2], float(w[3])))
                else:
                    self.bad.append(line)
            except (IndexError, ValueError):
                self.bad.append(line)

    def runs_of(self):
        """{instant in whole seconds: [nodes that started it]}."""
        out = collections.defaultdict(list)
        for inst, node, _, _ in self.starts:
            if inst is not None:
                out[inst // 1000000].append(node)
        return out

    def unaligned(self):
        return [inst for inst, _, _, _ in self.starts if inst is None or inst % 1000000]

    def per_node(self):
        return dict(collections.Counter(node for _, node, _, _ in self.starts))


class Nodes:
    """n evd nodes on one etcd; a context manager that stops them all."""

    def __init__(self, evd_binary, endpoints, n=3, names=None, config=None, extra_env=None, start=True,
                 node_env=None):
        self.binary = evd_binary
        self.endpoints = endpoints
        self.shared = tempfile.mkdtemp(prefix="evd-cluster-")
        os.chmod(self.shared, 0o1777)
        with open(os.path.join(self.shared, "tick.sh"), "w") as f:
            f.write(SCRIPT.replace("@SHARED@", self.shared))
        os.chmod(os.path.join(self.shared, "tick.sh"), 0o755)
        self.names = names or ["n%d" % i for i in range(1, n + 1)]
        # config(name, shared): the configuration text of node NAME.
        config = config or (lambda name, shared: node_config(endpoints, name, shared))
        self.evds = []
        env = {"EVD_TEST_HOOKS": "1"}
        env.update(extra_env or {})
        try:
            for name in self.names:
                # node_env: {name: {VAR: value}} for one node only.
                ne = dict(env, **(node_env or {}).get(name, {}))
                e = evdtest.Evd(evd_binary, config(name, self.shared), name=name, extra_env=ne, start=False)
                self.evds.append(e)
            if start:
                for e in self.evds:
                    e.start()
        except BaseException:
            self.cleanup()
            raise

    def __getitem__(self, i):
        return self.evds[i]

    def __len__(self):
        return len(self.evds)

    @property
    def record_path(self):
        return os.path.join(self.shared, "runs")

    def record(self):
        return Record(self.record_path)

    def hold(self, i):
        """The next run on node i lasts until it is ended."""
        open(os.path.join(self.shared, "hold-" + self.names[i]), "w").close()

    def kill(self, i):
        """SIGKILL of node i (its runs go on: they are in their own sessions)."""
        e = self.evds[i]
        if e.proc is not None and e.proc.poll() is None:
            os.kill(e.pid, signal.SIGKILL)
            e.proc.wait()
            e.reader.join(5)

    def restart(self, i):
        self.evds[i].start()

    def stop_node(self, i):
        os.kill(self.evds[i].pid, signal.SIGSTOP)

    def cont_node(self, i):
        os.kill(self.evds[i].pid, signal.SIGCONT)

    def alive(self, i):
        e = self.evds[i]
        return e.proc is not None and e.proc.poll() is None

    def check_alive(self):
        for i, e in enumerate(self.evds):
            evdtest.check(self.alive(i), "node %s exited (%s):\n%s"
                          % (self.names[i], e.proc.returncode if e.proc else "-", e.log_tail()))

    def cleanup(self):
        for e in self.evds:
            if e.proc is not None and e.proc.poll() is None:
                os.kill(e.pid, signal.SIGCONT)
        failed = None
        for e in self.evds:
            try:
                e.__exit__(*sys.exc_info())
            except BaseException as x:  # cleanup of the others goes on
                failed = failed or x
        if not os.environ.get("EVD_E2E_KEEP"):
            shutil.rmtree(self.shared, ignore_errors=True)
        if failed:
            raise failed

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.cleanup()
        return False


def wait_instants(nodes, count, timeout):
    """Waits until COUNT distinct instants were started; returns the record."""
    def enough():
        r = nodes.record()
        return r if len(r.runs_of()) >= count else None
    return evdtest.wait_for(enough, timeout, interval=0.2, what="%d instants run" % count)
