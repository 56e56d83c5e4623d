#!/usr/bin/python3
"""cluster/evd: cluster = once wired into evd, on a real three-member etcd
(etcdlib; skips (77) without Debian's etcd-server).

Usage: test_evd_cluster.py EVD [TEST...]. Shows, with one and two evd
nodes: one claim per instant (the winner runs it, the other logs "ran on"),
the records in etcd, `evdctl cluster`, list and status; cluster_unreachable
= skip / run with etcd unreachable (local jobs run, evd starts); fencing of
a claimed run when the node was frozen (SIGSTOP) past its lease and when
every etcd member is frozen; a node name used twice. Counts are printed.
"""
import base64
import json
import os
import re
import signal
import socket
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "e2e"))
import etcdlib  # noqa: E402
from evdtest import Evd, Skip, check, run_tests, wait_for  # noqa: E402


def need_etcd():
    if not etcdlib.available():
        raise Skip("no etcd (Debian's etcd-server)")


def cluster_conf(endpoints, node, jobs, lease="3s", name="t"):
    return f"""
    [cluster]
    etcd = {endpoints}
    name = {name}
    node = {node}
    lease = {lease}
    """ + jobs


def ctl(e, request, timeout=20):
    """One control request; (code, body)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(e.socket)
        s.sendall(request.encode() + b"\n")
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    head, _, body = data.decode().partition("\n")
    return int(head.split()[1]), body


def etcd_range(c, prefix):
    """{key: (value, lease)} of every key under prefix."""
    end = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    for url in c.client_urls:
        try:
            r = etcdlib.post(url, "/v3/kv/range", {"key": base64.b64encode(prefix.encode()).decode(),
                                                   "range_end": base64.b64encode(end.encode()).decode()})
        except OSError:
            continue
        return {base64.b64decode(kv["key"]).decode(): (base64.b64decode(kv.get("value", "")).decode(),
                                                       kv.get("lease", "0"))
                for kv in r.get("kvs", [])}
    raise AssertionError("no etcd member answered")


def claimed(e, start=0):
    return [int(m.group(1)) for m in (re.search(r"claimed instant (\d+) ", l) for l in e.log()[start:]) if m]


def ran_on(e, start=0):
    return {int(m.group(1)): m.group(2) for m in
            (re.search(r"of instant (\d+) skipped: ran on (\S+)", l) for l in e.log()[start:]) if m}


TICK = """
    [job:tick]
    command = /bin/sh -c 'echo $$ >> {OUT}/tick'
    every = 1s
    cluster = once
    """


def test_one_node(evd_bin):
    need_etcd()
    with etcdlib.EtcdCluster(3) as c:
        jobs = TICK + """
        [job:local]
        command = /bin/sh -c 'echo >> {OUT}/local'
        every = 1s
        """
        with Evd(evd_bin, cluster_conf(c.endpoints, "n1", jobs), "cluster-one") as e:
            e.wait_log(r"tick\[\d+\]: finished: exit status 0", 3, timeout=30)
            inst = claimed(e)
            check(len(inst) >= 3 and len(set(inst)) == len(inst), f"claimed instants {inst}")
            check(all(i % 1 == 0 for i in inst), "instants are whole seconds (every=1s aligned to the epoch)")
            keys = wait_for(lambda: (lambda k: k if len(k) >= 3 else None)(
                {k: v for k, v in etcd_range(c, "/evd/t/runs/tick/").items() if '"result"' in v[0]}),
                20, what="3 records of ended runs")
            for k, (v, lease) in keys.items():
                rec = json.loads(v)
                check(rec["node"] == "n1" and rec["ok"] is True and rec["result"] == "exit status 0",
                      f"record {k}: {v}")
            node = etcd_range(c, "/evd/t/nodes/")
            check(list(node) == ["/evd/t/nodes/n1"], f"node keys {list(node)}")
            code, body = ctl(e, "cluster --json")
            j = json.loads(body)
            check(code == 0 and [n["node"] for n in j["nodes"]] == ["n1"] and j["nodes"][0]["self"],
                  f"cluster --json: {code} {body}")
            check(len(j["endpoints"]) == 3 and all(p["healthy"] for p in j["endpoints"]),
                  f"endpoints: {j['endpoints']}")
            code, body = ctl(e, "cluster")
            check(code == 0 and "n1" in body and "ENDPOINT" in body, f"cluster: {body}")
            code, body = ctl(e, "status tick")
            check(re.search(r"cluster: +once; last instant on n1: (running|exit status 0)", body),
                  f"status tick: {body}")
            # status JOB reads the job's last record from etcd: one put there
            # by hand (a far instant, as another node would) is what it shows.
            etcdlib.post(c.client_urls[0], "/v3/kv/put", {
                "key": base64.b64encode(b"/evd/t/runs/tick/9999999999").decode(),
                "value": base64.b64encode(b'{"node":"web-9","start":1,"duration_usec":5,"ok":false,'
                                          b'"result":"exit status 7"}').decode()})
            code, body = ctl(e, "status tick")
            check(code == 0 and "cluster:   once; last instant on web-9: exit status 7" in body,
                  f"status tick after the put: {body}")
            code, body = ctl(e, "status tick --json")
            check(json.loads(body)["cluster"] == {"node": "web-9", "result": "exit status 7"},
                  f"status tick --json: {body}")
            code, body = ctl(e, "list --json")
            jobs = {j["name"]: j for j in json.loads(body)["jobs"]}
            check(jobs["tick"]["cluster"]["node"] == "n1" and "cluster" not in jobs["local"],
                  f"list --json: {body}")
            # evdctl run: runs here, without a claim.
            n = len(claimed(e))
            code, body = ctl(e, "run tick")
            check(code == 0, f"run tick: {body}")
            print(f"one node: {len(claimed(e))} instants claimed, {len(keys)} records", flush=True)
            check(e.grep(r"local\[\d+\]: finished"), "the local job runs too")
            check(n <= len(claimed(e)), "claims go on")


def test_two_nodes(evd_bin):
    need_etcd()
    with etcdlib.EtcdCluster(3) as c:
        with Evd(evd_bin, cluster_conf(c.endpoints, "n1", TICK), "cluster-n1") as a, \
             Evd(evd_bin, cluster_conf(c.endpoints, "n2", TICK), "cluster-n2") as b:
            wait_for(lambda: len(claimed(a)) + len(claimed(b)) >= 12, 60, what="12 claimed instants")
            time.sleep(1.5)  # the last claims' losers
            ca, cb = set(claimed(a)), set(claimed(b))
            la, lb = ran_on(a), ran_on(b)
            check(not (ca & cb), f"instants claimed by both nodes: {sorted(ca & cb)}")
            for i, holder in la.items():
                check(holder == "n2" and i in cb, f"n1 says {i} ran on {holder}")
            for i, holder in lb.items():
                check(holder == "n1" and i in ca, f"n2 says {i} ran on {holder}")
            # Every instant both nodes handled in the window: claimed by one,
            # the other logged where it ran.
            both = (ca | set(la)) & (cb | set(lb))
            for i in both:
                check((i in ca) != (i in cb), f"instant {i}: claimed {i in ca}/{i in cb}")
            runs_a = len(open(a.o("tick")).read().split()) if os.path.exists(a.o("tick")) else 0
            runs_b = len(open(b.o("tick")).read().split()) if os.path.exists(b.o("tick")) else 0
            print(f"two nodes: n1 claimed {len(ca)}, n2 claimed {len(cb)}, n1 lost {len(la)}, n2 lost {len(lb)}, "
                  f"{len(both)} instants seen by both; runs n1 {runs_a} n2 {runs_b}", flush=True)
            check(len(both) >= 8, f"only {len(both)} instants seen by both nodes")
            code, body = ctl(a, "cluster --json")
            check(sorted(n["node"] for n in json.loads(body)["nodes"]) == ["n1", "n2"], f"cluster: {body}")
            code, body = ctl(a, "list")
            check(re.search(r"tick .* (on n2|ok|running)", body), f"list: {body}")


def test_unreachable(evd_bin):
    port = etcdlib.free_ports(1)[0]
    jobs = """
    [job:skipper]
    command = /bin/sh -c 'echo >> {OUT}/skipper'
    every = 1s
    cluster = once

    [job:runner]
    command = /bin/sh -c 'echo >> {OUT}/runner'
    every = 1s
    cluster = once
    cluster_unreachable = run

    [job:local]
    command = /bin/sh -c 'echo >> {OUT}/local'
    every = 1s
    """
    with Evd(evd_bin, cluster_conf(f"http://127.0.0.1:{port}", "n1", jobs), "cluster-unreach") as e:
        e.wait_log(r"runner\[\d+\]: finished: exit status 0", 2, timeout=30)
        e.wait_log(r"local\[\d+\]: finished: exit status 0", 2, timeout=30)
        e.wait_log(r"err: skipper: run of instant \d+ skipped: the cluster claim was not decided", 2, timeout=30)
        check(not os.path.exists(e.o("skipper")), "skipper ran with etcd unreachable")
        check(e.grep(r"err: cluster: cannot get a lease from etcd"), "the lease failure is logged")
        code, body = ctl(e, "cluster")
        check(code == 1 and "unreachable" in body, f"cluster with etcd down: {code} {body}")
        print(f"unreachable: runner ran {len(e.grep(r'runner.*finished'))}, skipper skipped "
              f"{len(e.grep(r'skipper.*skipped'))}", flush=True)


LONG = """
    [job:long]
    command = /bin/sh -c 'echo start >> {OUT}/long; exec sleep 60'
    every = 2s
    cluster = once
    """


def test_fence_node_frozen(evd_bin):
    need_etcd()
    with etcdlib.EtcdCluster(3) as c:
        with Evd(evd_bin, cluster_conf(c.endpoints, "n1", LONG), "cluster-frozen") as e:
            e.wait_log(r"long\[\d+\]: started", 1, timeout=30)
            e.signal(signal.SIGSTOP)
            time.sleep(6)  # lease = 3s
            mark = e.log_count()
            e.signal(signal.SIGCONT)
            e.wait_log(r"long\[\d+\]: ending the claimed run", 1, start=mark, timeout=20)
            e.wait_log(r"long\[\d+\]: stopped", 1, start=mark, timeout=30)
            after = e.log()[mark:]
            fence = next(i for i, l in enumerate(after) if "ending the claimed run" in l)
            started = [i for i, l in enumerate(after) if re.search(r"long\[\d+\]: started", l)]
            check(not started or started[0] > fence, "a run started before the frozen node fenced its run")
            e.wait_log(r"cluster: node n1 has lease", 2, timeout=30)
            print(f"frozen node: fenced at line {fence} after resume", flush=True)


def test_fence_etcd_frozen(evd_bin):
    need_etcd()
    with etcdlib.EtcdCluster(3) as c:
        with Evd(evd_bin, cluster_conf(c.endpoints, "n1", LONG), "cluster-etcd-frozen") as e:
            e.wait_log(r"long\[\d+\]: started", 1, timeout=30)
            mark = e.log_count()
            t0 = time.monotonic()
            for i in range(3):
                c.pause(i)
            try:
                e.wait_log(r"long\[\d+\]: ending the claimed run", 1, start=mark, timeout=20)
                took = time.monotonic() - t0
                e.wait_log(r"long\[\d+\]: stopped", 1, start=mark, timeout=30)
            finally:
                for i in range(3):
                    c.resume(i)
            check(took < 15, f"fenced {took:.1f}s after etcd froze (lease 3s)")
            e.wait_log(r"cluster: node n1 has lease", 2, timeout=30)
            e.wait_log(r"long\[\d+\]: claimed instant", 2, timeout=30)
            print(f"etcd frozen: fenced {took:.1f}s after the members froze", flush=True)


def test_node_name_twice(evd_bin):
    need_etcd()
    with etcdlib.EtcdCluster(3) as c:
        with Evd(evd_bin, cluster_conf(c.endpoints, "n1", TICK), "cluster-dup1") as a:
            a.wait_log(r"tick\[\d+\]: finished", 1, timeout=30)
            with Evd(evd_bin, cluster_conf(c.endpoints, "n1", TICK), "cluster-dup2") as b:
                b.wait_log(r"node name n1 is in use by another evd", 1, timeout=30)
                b.wait_log(r"tick: run of instant \d+ skipped: the cluster claim was not decided "
                           r"\(the node name n1 is in use", 2, timeout=30)
                check(not claimed(b), "the second n1 claimed an instant")
            a.wait_log(r"tick\[\d+\]: finished", 3, timeout=30)


def test_retry(evd_bin):
    """A failed attempt is retried by the node that ran it, as its own
    claim (INSTANT/attempt-2)."""
    need_etcd()
    jobs = """
    [job:flaky]
    command = /bin/sh -c 'echo >> {OUT}/flaky; exit 3'
    every = 3s
    cluster = once
    retries = 1
    retry_delay = 300ms
    """
    with etcdlib.EtcdCluster(3) as c:
        with Evd(evd_bin, cluster_conf(c.endpoints, "n1", jobs), "cluster-retry") as e:
            line = e.wait_log(r"flaky\[\d+\]: claimed instant \d+ \(retry\) on node n1", 1, timeout=30)[0]
            inst = re.search(r"claimed instant (\d+) ", line).group(1)
            e.wait_log(r"flaky\[\d+\]: failed: exit status 3", 2, timeout=30)
            key = f"/evd/t/runs/flaky/{inst}/attempt-2"
            rec = wait_for(lambda: (lambda v: v if v and '"result"' in v[0] else None)(
                etcd_range(c, "/evd/t/runs/flaky/").get(key)), 20, what=key)
            j = json.loads(rec[0])
            check(j["node"] == "n1" and j["ok"] is False and j["result"] == "exit status 3", f"{key}: {rec}")
            check(f"/evd/t/runs/flaky/{inst}" in etcd_range(c, "/evd/t/runs/flaky/"), "the first attempt's key")


def test_queue(evd_bin):
    """overlap=queue: a won instant whose start waits for the active run
    still runs claimed (fenced, recorded); one that is skipped is recorded
    as not run."""
    need_etcd()
    jobs = """
    [job:slow]
    command = /bin/sh -c 'echo >> {OUT}/slow; sleep 1.5'
    every = 1s
    cluster = once
    overlap = queue
    """
    with etcdlib.EtcdCluster(3) as c:
        with Evd(evd_bin, cluster_conf(c.endpoints, "n1", jobs), "cluster-queue") as e:
            e.wait_log(r"slow\[\d+\]: finished", 4, timeout=40)
            e.wait_log(r"slow: scheduled run skipped: one run is already queued|"
                       r"slow: claimed run skipped: one run is already queued", 1, timeout=20)
            started = len(e.grep(r"slow\[\d+\]: started"))
            claims = len(e.grep(r"slow\[\d+\]: claimed instant"))
            check(claims >= started >= 4, f"{started} runs started, {claims} claimed")
            recs = wait_for(lambda: (lambda r: r if any("not run" in v for v, _ in r.values()) else None)(
                etcd_range(c, "/evd/t/runs/slow/")), 20, what="a record of a won instant not run")
            ran = [k for k, (v, _) in recs.items() if '"exit status 0"' in v]
            check(len(ran) >= 4, f"records of runs: {ran}")
            print(f"queue: {started} runs, all claimed; {sum('not run' in v for v, _ in recs.values())} "
                  f"won instants not run", flush=True)


def test_skew(evd_bin):
    """Clocks 2 s apart (the EVD_TEST_WALL_OFFSET hook): the instant is the
    key, so no instant runs twice; the node ahead wins them."""
    need_etcd()
    with etcdlib.EtcdCluster(3) as c:
        ahead = {"EVD_TEST_HOOKS": "1", "EVD_TEST_WALL_OFFSET": "2"}
        with Evd(evd_bin, cluster_conf(c.endpoints, "n1", TICK), "cluster-skew1") as a, \
             Evd(evd_bin, cluster_conf(c.endpoints, "n2", TICK), "cluster-skew2", extra_env=ahead) as b:
            check(b.grep(r"test hook: evd's wall clock is off by 2s"), "the offset hook is applied")
            wait_for(lambda: len(ran_on(a)) >= 6, 60, what="n1 to lose 6 instants")
            time.sleep(1)
            ca, cb, la = set(claimed(a)), set(claimed(b)), ran_on(a)
            check(not (ca & cb), f"instants claimed by both: {sorted(ca & cb)}")
            check(all(h == "n2" for h in la.values()), f"n1 lost to {set(la.values())}")
            print(f"skew 2s: n1 claimed {len(ca)}, n2 claimed {len(cb)}, n1 lost {len(la)}", flush=True)


if __name__ == "__main__":
    run_tests([
        ("one_node", test_one_node),
        ("two_nodes", test_two_nodes),
        ("unreachable", test_unreachable),
        ("fence_node_frozen", test_fence_node_frozen),
        ("fence_etcd_frozen", test_fence_etcd_frozen),
        ("node_name_twice", test_node_name_twice),
        ("retry", test_retry),
        ("queue", test_queue),
        ("skew", test_skew),
    ])
