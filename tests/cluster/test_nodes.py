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
instant twice, and none missing but inside a fault's window, where the
documented guarantee allows losing the instants that a node claimed and
could not start (killed, frozen) and those while etcd could not decide a
claim (an election); each window's losses are counted and bounded. The
counts are printed. The wall time is about two minutes.
"""
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import clusterlib  # noqa: E402
import etcdlib  # noqa: E402
from evdtest import TestFailure, check, wait_for  # noqa: E402

LEASE = 3            # seconds: [cluster] lease of every node
STEADY = 10          # seconds of quiet between the faults
INSTANTS = 105       # counted, at least

# The most instants each fault may lose (see the module comment); more is
# a failure. Printed next to what was lost.
BOUNDS = {"kill-node": 2, "kill-leader": 6, "freeze-node": 2, "stop-member": 4}


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
        for name, a, b in self.w:
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

    return verdict(rec, win, t_first, t_last, held, time.monotonic() - t_begin)


def verdict(rec, win, t_first, t_last, held, took):
    runs = rec.runs_of()
    counted = range(t_first, t_last + 1)
    doubles = {i: runs[i] for i in counted if len(runs.get(i, [])) > 1}
    doubles_all = {i: n for i, n in runs.items() if len(n) > 1}
    missing = [i for i in counted if i not in runs]
    by_window = {}
    outside = []
    for i in missing:
        w = win.of(i)
        if w is None:
            outside.append(i)
        else:
            by_window.setdefault(w, []).append(i)
    per_node = rec.per_node()
    print("instants counted: %d (%d..%d); runs per node: %s; doubles: %d; missing: %d; took %.0fs"
          % (len(counted), t_first, t_last, dict(sorted(per_node.items())), len(doubles_all),
             len(missing), took))
    for name, _, _ in win.w:
        lost = by_window.get(name, [])
        print("  missing in %-11s %d (bound %d)%s" % (name + ":", len(lost), BOUNDS[name],
                                                        (" " + str(lost)) if lost else ""))
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
    for name, lost in by_window.items():
        if len(lost) > BOUNDS[name]:
            fails.append("%s lost %d instants (bound %d)" % (name, len(lost), BOUNDS[name]))
    if any(e[0] == held[0] for e in rec.ends):
        fails.append("n2's held run (instant %s) finished by itself: not fenced" % held[0])
    if len(per_node) < 3:
        fails.append("not every node ran instants: %s" % per_node)
    for f in fails:
        print("FAIL " + f)
    return 1 if fails else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except TestFailure as e:
        print("FAIL %s" % e)
        sys.exit(1)
