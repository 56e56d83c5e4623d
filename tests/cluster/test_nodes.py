#!/usr/bin/env python3
"""cluster/nodes: three evd nodes on a three-member etcd, one job
`cluster = once` due every second, over more than 100 instants.

Usage: test_nodes.py EVD. Skips (77) without Debian's etcd-server.

Each run appends "START INSTANT NODE ..." to one shared file (clusterlib),
INSTANT being the run's EVD_SCHEDULED_USEC. While the job runs, in turn:
  (a) a node is killed with SIGKILL and restarted at once: it runs
      instants again (once its old lease has expired);
  (b) the etcd leader is killed (a new one is elected), and restarted;
  (c) a node is frozen with SIGSTOP while one of its runs goes (a held
      run), past its lease, then resumed: that run must be ended (TERM);
  (d) one etcd member is frozen with SIGSTOP (unreachable), then resumed.
Then every instant must have run exactly once across the nodes: no
instant twice, and none missing but where the documented guarantee allows
it: while etcd had no leader agreed by a majority (a thread polls the
members; an election, caused by a fault or by a loaded machine), bounded
by that stretch's length; and inside a fault's window, the instants a node
claimed and could not start (killed, frozen) or could not claim in time,
bounded per fault; and, outside the faults, instants whose claims no node
could decide in time (etcd too slow to answer on a loaded machine; each
logged as not decided), bounded by UNDECIDED_BOUND. The counts are
printed. The wall time is about two
minutes.
"""
import os
import re
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import clusterlib  # noqa: E402
import etcdlib  # noqa: E402
from evdtest import check, wait_for  # noqa: E402

LEASE = 5            # seconds: [cluster] lease of every node (a claim has a third of it)
STEADY = 10          # seconds of quiet between the faults
INSTANTS = 105       # counted, at least

# The most instants each fault may lose (see the module comment); more is
# a failure. Printed next to what was lost.
BOUNDS = {"kill-node": 2, "kill-leader": 6, "freeze-node": 2, "stop-member": 4}
# Outside the faults: instants whose claims etcd did not answer in time on
# any node (a loaded machine: etcd's fsync and raft round trip exceeded the
# claim's third of the lease), each logged as not decided.
UNDECIDED_BOUND = 5


class LeaderWatch:
    """Polls the etcd members' status every 0.25 s on a thread and keeps
    the stretches in which no majority of the members agreed on a leader
    (an election, or no quorum): the guarantee allows losing the instants
    due then, whatever the test did to cause it (a member that comes back
    after a freeze may start an election of its own)."""

    def __init__(self, etcd):
        self.etcd = etcd
        self.stop = threading.Event()
        self.gaps = []          # [start, end] wall-clock
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def agreed(self):
        votes = {}
        for i in range(len(self.etcd.procs)):
            if not self.etcd.alive(i):
                continue
            st = self.etcd.status(i, timeout=1.0)
            if st and st.get("leader"):
                votes[st["leader"]] = votes.get(st["leader"], 0) + 1
        return any(v * 2 > len(self.etcd.procs) for v in votes.values())

    def run(self):
        gap = None
        while not self.stop.is_set():
            t = time.time()
            ok = self.agreed()
            if not ok and gap is None:
                gap = [t, t]
                self.gaps.append(gap)
            elif not ok:
                gap[1] = time.time()
            elif gap is not None:
                gap[1] = time.time()
                gap = None
            self.stop.wait(0.25)

    def close(self):
        self.stop.set()
        self.thread.join()
        return self.gaps


class Windows:
    """Fault windows in wall-clock time: a missing instant inside one is
    charged to it."""

    def __init__(self):
        self.w = []     # [name, start, end]

    def open(self, name):
        self.w.append([name, time.time() - 1.0, None])

    def close(self, margin=1.5):
        self.w[-1][2] = time.time() + margin

    def of(self, instant):
        # A stretch without an etcd leader explains a loss first (the
        # guarantee allows it, whatever else was going on); then faults.
        for name, a, b in sorted(self.w, key=lambda w: w[0] != "no-leader"):
            if a <= instant <= (b if b is not None else float("inf")):
                return name
        return None


def main():
    evd = sys.argv[1]
    if not etcdlib.available():
        print("SKIP: no etcd (Debian's etcd-server)")
        return 77
    t_begin = time.monotonic()
    win = Windows()
    with etcdlib.EtcdCluster(3) as etcd:
        # Each node lists the members in another order, so that a frozen
        # member is some node's first choice.
        urls = etcd.client_urls
        order = {"n1": [0, 1, 2], "n2": [1, 2, 0], "n3": [2, 0, 1]}

        def config(name, shared):
            eps = ", ".join(urls[i] for i in order[name])
            return clusterlib.node_config(eps, name, shared, lease="%ds" % LEASE)
        watch = LeaderWatch(etcd)
        with clusterlib.Nodes(evd, etcd.endpoints, 3, config=config) as nodes:
            print("etcd %s; nodes up (%.1fs)" % (etcd.endpoints, time.monotonic() - t_begin), flush=True)
            first = clusterlib.wait_instants(nodes, 1, 20).runs_of()
            t_first = min(first) + 2          # instants from here on are counted
            time.sleep(STEADY)

            # (a) SIGKILL of n1, restarted at once (as systemd's Restart=
            # would): its name is held by its old lease until that
            # expires, then it takes part again.
            win.open("kill-node")
            nodes.kill(0)
            print("(a) killed n1", flush=True)
            time.sleep(0.5)
            nodes.restart(0)
            t_restart = time.time()
            win.close()
            print("(a) n1 restarted", flush=True)
            wait_for(lambda: [s for s in nodes.record().starts if s[1] == "n1" and s[2] > t_restart], 30,
                     interval=0.2, what="n1 to run instants again after its restart")
            print("(a) n1 runs instants again %.1fs after its restart" % (time.time() - t_restart), flush=True)
            time.sleep(STEADY)
            nodes.check_alive()

            # (b) SIGKILL of the etcd leader; a new one is elected.
            win.open("kill-leader")
            ldr = etcd.leader()
            etcd.kill(ldr)
            t0 = time.monotonic()
            new = etcd.leader()
            print("(b) killed etcd leader %s; %s elected after %.1fs"
                  % (etcd.names[ldr], etcd.names[new], time.monotonic() - t0), flush=True)
            time.sleep(3)
            win.close()
            time.sleep(STEADY / 2)
            etcd.restart(ldr)
            print("(b) %s back" % etcd.names[ldr], flush=True)
            time.sleep(STEADY / 2)
            nodes.check_alive()

            # (c) n2 frozen while a run of it goes, past its lease.
            nodes.hold(1)
            held = wait_for(lambda: [h for h in nodes.record().holds if h[1] == "n2"], 30,
                            interval=0.1, what="a held run on n2")[0]
            win.open("freeze-node")
            nodes.stop_node(1)
            t_stop = time.time()
            print("(c) froze n2 during its run of instant %s (pid %d)" % (held[0], held[2]), flush=True)
            time.sleep(LEASE + 3)
            nodes.cont_node(1)
            t_cont = time.time()
            print("(c) resumed n2 after %.1fs" % (t_cont - t_stop), flush=True)
            term = wait_for(lambda: [t for t in nodes.record().terms if t[1] == "n2" and t[0] == held[0]],
                            20, interval=0.1, what="n2's held run ended after the freeze")[0]
            win.close()
            check(term[2] >= t_cont - 0.5, "the held run was ended after n2 resumed (fencing), not before")
            print("(c) n2 ended its held run %.1fs after it resumed" % (term[2] - t_cont), flush=True)
            lines = nodes[1].grep(r"(?i)lease|fenc")
            print("(c) n2 said:\n      " + "\n      ".join(l[:200] for l in lines[-4:]), flush=True)
            time.sleep(STEADY)
            nodes.check_alive()

            # (d) one member frozen: unreachable for the nodes that use it.
            ldr = etcd.leader()
            member = next(i for i in range(3) if i != ldr)
            win.open("stop-member")
            etcd.pause(member)
            print("(d) froze etcd member %s (a follower)" % etcd.names[member], flush=True)
            try:
                time.sleep(8)
            finally:
                etcd.resume(member)
            win.close()
            print("(d) resumed %s" % etcd.names[member], flush=True)
            time.sleep(max(STEADY, t_first + INSTANTS + 3 - time.time()))
            nodes.check_alive()

            t_last = int(time.time()) - 3       # claims still in flight are not counted
            time.sleep(1)
            rec = nodes.record()
            logs = {nodes.names[i]: nodes[i].log() for i in range(len(nodes))}
        for a, b in watch.close():
            # Claims already sent may be answered late: a margin each side.
            win.w.append(["no-leader", a - 1.5, b + 1.5])

    return verdict(rec, win, t_first, t_last, held, time.monotonic() - t_begin, logs)


def bound(win, name):
    """The most instants a window may lose: BOUNDS, and for the stretches
    without an etcd leader the seconds they lasted (with their margins)."""
    if name != "no-leader":
        return BOUNDS[name]
    return sum(int(b - a) + 1 for n, a, b in win.w if n == name)


def explain(logs, instants):
    """What each node said about these instants, and its cluster lines."""
    keys = tuple(str(i) for i in instants)
    for name, lines in sorted(logs.items()):
        said = [l for l in lines if any(k in l for k in keys) or "cluster:" in l]
        print("  %s said:\n      %s" % (name, "\n      ".join(l[:220] for l in said[-40:])))


def verdict(rec, win, t_first, t_last, held, took, logs=None):
    runs = rec.runs_of()
    counted = range(t_first, t_last + 1)
    doubles_all = {i: n for i, n in runs.items() if len(n) > 1}
    missing = [i for i in counted if i not in runs]
    by_window = {}
    outside = []
    undecided = []
    for i in missing:
        w = win.of(i)
        if w is not None:
            by_window.setdefault(w, []).append(i)
        elif logs and any(re.search(r"run of instant %d skipped: the cluster claim was not decided" % i, l)
                          for lines in logs.values() for l in lines):
            undecided.append(i)
        else:
            outside.append(i)
    per_node = rec.per_node()
    print("instants counted: %d (%d..%d); runs per node: %s; doubles: %d; missing: %d; took %.0fs"
          % (len(counted), t_first, t_last, dict(sorted(per_node.items())), len(doubles_all),
             len(missing), took))
    seen = set()
    for name, a, b in win.w:
        if name in seen:
            continue
        seen.add(name)
        lost = by_window.get(name, [])
        where = "window %d..%d" % (a, b)
        if name == "no-leader":
            gaps = [(x, y) for n, x, y in win.w if n == name]
            where = ("%d stretch(es) without an agreed etcd leader, %.1fs in all; a loss in a fault's window "
                     "counts here" % (len(gaps), sum(max(0.0, y - x - 3) for x, y in gaps)))
        print("  missing in %-11s %d (bound %d; %s)%s" % (name + ":", len(lost), bound(win, name), where,
                                                          (" " + str(lost)) if lost else ""))
    print("  missing, claims not decided in time (no fault): %d (bound %d)%s"
          % (len(undecided), UNDECIDED_BOUND, (" " + str(undecided)) if undecided else ""))
    print("  missing outside any fault: %d%s" % (len(outside), (" " + str(outside)) if outside else ""))
    fails = []
    if rec.bad:
        fails.append("unparsed record lines: %s" % rec.bad[:5])
    if rec.unaligned():
        fails.append("runs without an instant aligned to a second (EVD_SCHEDULED_USEC): %s"
                     % rec.unaligned()[:5])
    if len(counted) < 100:
        fails.append("only %d instants counted (at least 100 wanted)" % len(counted))
    if doubles_all:
        fails.append("instants run more than once: %s" % dict(list(doubles_all.items())[:10]))
    if outside:
        fails.append("instants missing outside any fault: %s" % outside)
    if len(undecided) > UNDECIDED_BOUND:
        fails.append("%d instants lost to undecided claims (bound %d)" % (len(undecided), UNDECIDED_BOUND))
    for name, lost in by_window.items():
        if len(lost) > bound(win, name):
            fails.append("%s lost %d instants (bound %d)" % (name, len(lost), bound(win, name)))
    if any(e[0] == held[0] for e in rec.ends):
        fails.append("n2's held run (instant %s) finished by itself: not fenced" % held[0])
    if len(per_node) < 3:
        fails.append("not every node ran instants: %s" % per_node)
    if fails and logs:
        explain(logs, outside + undecided + list(doubles_all))
    return clusterlib.report(fails)


if __name__ == "__main__":
    clusterlib.run_main(main)
