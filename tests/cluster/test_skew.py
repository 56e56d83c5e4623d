#!/usr/bin/env python3
"""cluster/skew: three evd nodes whose clocks differ by seconds.

Usage: test_skew.py EVD. Skips (77) without Debian's etcd-server or
without evd's test hooks (-DEVD_TEST_HOOKS=ON).

The machine's clock is shared and never set: evd's test hook
EVD_TEST_WALL_OFFSET=SECONDS (with EVD_TEST_HOOKS=1) shifts one node's
view of CLOCK_REALTIME from its start, as a node whose clock is off. n1 runs SKEW seconds ahead, n2 on time, n3 SKEW seconds
behind. The instant is the claim's key, so each instant of the
`cluster = once` job (every second, aligned to the epoch) must still run
once: n1 finds each instant due first and claims it, the others find it
taken. The test shows the skew took effect (n1 starts its runs about SKEW
seconds before the instant on the machine's clock) and counts runs per
node, doubles (0) and missing instants (0).
"""
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import clusterlib  # noqa: E402
import etcdlib  # noqa: E402

SKEW = 3
INSTANTS = 30


def main():
    evd = sys.argv[1]
    if not etcdlib.available():
        print("SKIP: no etcd (Debian's etcd-server)")
        return 77
    with etcdlib.EtcdCluster(3) as etcd:
        offsets = {"n1": {"EVD_TEST_WALL_OFFSET": str(SKEW)}, "n3": {"EVD_TEST_WALL_OFFSET": str(-SKEW)}}
        with clusterlib.Nodes(evd, etcd.endpoints, 3, node_env=offsets) as nodes:
            for i in (0, 2):
                if not nodes[i].grep(r"wall clock is off by"):
                    print("SKIP: evd has no EVD_TEST_WALL_OFFSET hook (built without -DEVD_TEST_HOOKS=ON)")
                    return 77
            t_first = int(time.time()) + SKEW + 2     # every node past its step
            time.sleep(INSTANTS + SKEW + 3)
            t_last = int(time.time()) - SKEW - 2      # n3 has had its chance at these
            nodes.check_alive()
            rec = nodes.record()
            # The others found the instants due too, and lost them.
            lost = {nodes.names[i]: len(nodes[i].grep(r"tick: run of instant \d+ skipped: ran on n1"))
                    for i in (1, 2)}
    runs = rec.runs_of()
    counted = range(t_first, t_last + 1)
    doubles = {i: n for i, n in runs.items() if len(n) > 1}
    missing = [i for i in counted if i not in runs]
    lead = {}
    for inst, node, rt, _ in rec.starts:
        if inst is not None and t_first <= inst // 1000000 <= t_last:
            lead.setdefault(node, []).append(rt - inst / 1e6)
    per_node = {n: len(v) for n, v in sorted(lead.items())}
    print("skew: n1 +%ds, n2 0, n3 -%ds; instants counted: %d; runs per node: %s; doubles: %d; missing: %d"
          % (SKEW, SKEW, len(counted), per_node, len(doubles), len(missing)))
    print("  claims lost to n1: %s" % lost)
    for node, v in sorted(lead.items()):
        print("  %s starts its runs %+.2fs from the instant (median, machine clock)" % (node, statistics.median(v)))
    fails = []
    if doubles:
        fails.append("instants run more than once: %s" % dict(list(doubles.items())[:10]))
    if missing:
        fails.append("instants missing: %s" % missing)
    if len(counted) < INSTANTS - 2 * SKEW - 2:
        fails.append("only %d instants counted" % len(counted))
    if "n1" not in lead or statistics.median(lead["n1"]) > -(SKEW - 1):
        fails.append("n1 (ahead by %ds) did not start runs early: the skew did not take effect" % SKEW)
    if min(lost.values()) < len(counted) // 2:
        fails.append("n2 and n3 did not find the instants due and lose them: %s" % lost)
    if rec.unaligned():
        fails.append("runs without an instant aligned to a second: %s" % rec.unaligned()[:5])
    return clusterlib.report(fails)


if __name__ == "__main__":
    clusterlib.run_main(main)
