#!/usr/bin/env python3
"""cluster/faults: bad input and faults of evd's cluster mode.

Usage: test_faults.py EVD [TEST...]. Tests that need etcd skip without
Debian's etcd-server. tests/faults/README.md lists each fault with what
evd must do:
  bad_url       an etcd URL that does not parse: `evd -t` names file:line,
                evd exits 78 at start
  tls_files     ca_file / cert_file / key_file missing, or not a readable
                file: file:line errors, exit 78 at start
  unreachable   no etcd answers at start: evd starts, local jobs run, a
                cluster job follows cluster_unreachable (skip: no run, an
                error; run: it runs)
  node_twice    two evd nodes with the same node name (and a third): no
                instant runs twice, and evd says the name is in use
  partition     one node cut off from etcd (it lists one member, which is
                frozen with SIGSTOP) while a run of it goes: the others run
                every instant, it ends its run once its lease is gone, no
                instant runs twice, and it takes part again afterwards
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import clusterlib  # noqa: E402
import etcdlib  # noqa: E402
import evdtest  # noqa: E402
from evdtest import Evd, check, read_lines, skip, wait_for  # noqa: E402


def check_config(evd_bin, text, name):
    """`evd -t` and a start of TEXT: (rc of -t, its stderr, rc of the start,
    its log, the configuration's path)."""
    with Evd(evd_bin, text, re.sub(r"[^A-Za-z0-9_]+", "_", name)[:30], start=False) as e:
        p = subprocess.run([evd_bin, "-t", "-c", e.conf], capture_output=True, text=True, timeout=60)
        e.start(wait_ready=False)
        rc = e.wait_exit(10)
        return p.returncode, p.stderr, rc, "\n".join(e.log()), e.conf


def line_of(text, prefix):
    for n, line in enumerate(text.splitlines(), 1):
        if line.startswith(prefix):
            return n
    raise AssertionError(prefix)


def expect_config_error(evd_bin, text, prefix, pattern, name):
    """TEXT is refused: -t exits 1 with CONF:LINE (the line starting with
    PREFIX) and PATTERN; a start exits 78 with the same message."""
    text = evdtest.textwrap.dedent(text).lstrip("\n")
    rc, err, start_rc, log, conf = check_config(evd_bin, text, name)
    n = line_of(text, prefix)
    want = re.compile(re.escape("%s:%d: " % (conf, n)) + ".*" + pattern)
    check(rc == 1 and want.search(err), "%s: evd -t exits 1 with %s:%d: .../%s/: rc %d, stderr:\n%s"
          % (name, conf, n, pattern, rc, err))
    check(start_rc == 78 and want.search(log), "%s: evd exits 78 at start with the message: rc %d, log:\n%s"
          % (name, start_rc, log[-2000:]))
    print("  %s: %s" % (name, [l for l in err.splitlines() if want.search(l)][0]), flush=True)


BASE = """
[cluster]
etcd = {ETCD}
node = n1
lease = 3s
[job:report]
command = /bin/true
calendar = *-*-* 02:00
cluster = once
"""


def test_bad_url(evd_bin):
    for url in ("http://127.0.0.1:2379, ftp://127.0.0.1:2379", "http://127.0.0.1:99999", "127.0.0.1:2379",
                "http://ho st:2379"):
        expect_config_error(evd_bin, BASE.replace("{ETCD}", url), "etcd =", "etcd", "bad_url %r" % url)


def test_tls_files(evd_bin):
    missing = "/nonexistent/evd-test/ca.crt"
    https = BASE.replace("{ETCD}", "https://127.0.0.1:2379")
    expect_config_error(evd_bin, https.replace("lease = 3s\n", "lease = 3s\nca_file = %s\n" % missing),
                        "ca_file =", "No such file", "tls_files missing ca_file")
    # A directory opens for reading but is no certificate; opening a FIFO
    # for reading blocks until a writer comes (evd -t hung on it).
    d = tempfile.mkdtemp(prefix="evd-tls-")
    try:
        fifo = os.path.join(d, "fifo")
        os.mkfifo(fifo)
        for key, path, what in (("cert_file", "/", "a directory"), ("key_file", d, "a directory"),
                                ("ca_file", fifo, "a FIFO")):
            text = https.replace("lease = 3s\n", "lease = 3s\n%s = %s\n" % (key, path))
            if key != "ca_file":
                other = "key_file" if key == "cert_file" else "cert_file"
                text = text.replace("lease = 3s\n", "lease = 3s\n%s = /etc/hostname\n" % other)
            expect_config_error(evd_bin, text, key + " =", key + "=.*not a regular file",
                                "tls_files %s %s" % (key, what))
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_unreachable(evd_bin):
    dead = etcdlib.free_ports(1)[0]
    conf = """
        [daemon]
        kill_grace = 1s
        [cluster]
        etcd = http://127.0.0.1:%d
        node = n1
        lease = 3s
        [job:local]
        command = /bin/sh -c 'echo x >> {OUT}/local'
        every = 1s
        [job:skipped]
        command = /bin/sh -c 'echo x >> {OUT}/skipped'
        every = 1s
        cluster = once
        [job:ran]
        command = /bin/sh -c 'echo x >> {OUT}/ran'
        every = 1s
        cluster = once
        cluster_unreachable = run
        """ % dead
    with Evd(evd_bin, conf, "unreachable") as e:
        wait_for(lambda: len(read_lines(e.o("local"))) >= 4, 20, what="4 runs of the local job")
        wait_for(lambda: len(read_lines(e.o("ran"))) >= 2, 20,
                 what="runs of the cluster_unreachable = run job")
        errs = e.wait_log(r"skipped.*(etcd|claim|unreachable)", 1, timeout=20)
        check(not read_lines(e.o("skipped")), "the cluster_unreachable = skip job ran without a claim")
        code, body = clusterlib.ctl(e, "stats")
        check(code == 0, "evdctl stats answers while etcd is unreachable: %d %s" % (code, body))
        print("  unreachable: local %d runs, cluster_unreachable=run %d runs, skip 0; evd said: %s"
              % (len(read_lines(e.o("local"))), len(read_lines(e.o("ran"))), errs[0][:200]), flush=True)
        check(e.stop() == 0, "evd exits 0")


def test_node_twice(evd_bin):
    with etcdlib.EtcdCluster(1) as etcd:
        def config(name, shared):
            # n1 and n2 both say node = n1; their runs record NODE=n1 / n2.
            text = clusterlib.node_config(etcd.endpoints, "n1" if name != "n3" else "n3", shared)
            return text.replace("environment = NODE=n1\n", "environment = NODE=%s\n" % name)
        with clusterlib.Nodes(evd_bin, etcd.endpoints, 3, config=config) as nodes:
            t_first = int(time.time()) + 2
            time.sleep(15)
            t_last = int(time.time()) - 3
            nodes.check_alive()
            said = [l for e in nodes.evds for l in e.grep(r"(?i)node.*n1.*(in use|already|twice|another)")]
            rec = nodes.record()
    runs = rec.runs_of()
    doubles = {i: n for i, n in runs.items() if len(n) > 1}
    missing = [i for i in range(t_first, t_last + 1) if i not in runs]
    print("  node_twice: instants %d, runs per node %s, doubles %d, missing %d; evd said: %s"
          % (t_last - t_first + 1, rec.per_node(), len(doubles), len(missing), said[:1]), flush=True)
    check(not doubles, "node_twice: instants run more than once: %s" % doubles)
    check(said, "node_twice: evd says that the node name n1 is used twice")


def test_partition(evd_bin):
    with etcdlib.EtcdCluster(3) as etcd:
        ldr = etcd.leader()
        cut = next(i for i in range(3) if i != ldr)            # n1's only member
        rest = ", ".join(u for i, u in enumerate(etcd.client_urls) if i != cut)

        def config(name, shared):
            eps = etcd.client_urls[cut] if name == "n1" else rest
            return clusterlib.node_config(eps, name, shared, lease="3s")
        with clusterlib.Nodes(evd_bin, etcd.endpoints, 3, config=config) as nodes:
            nodes.hold(0)
            held = wait_for(lambda: [h for h in nodes.record().holds if h[1] == "n1"], 40, interval=0.1,
                            what="a held run on n1")[0]
            t_cut = time.time()
            etcd.pause(cut)
            print("  partition: froze %s, n1's only member, during n1's run of %s" % (etcd.names[cut], held[0]),
                  flush=True)
            try:
                term = wait_for(lambda: [t for t in nodes.record().terms if t[1] == "n1" and t[0] == held[0]],
                                20, interval=0.1, what="n1 to end its run once its lease is gone")[0]
                print("  partition: n1 ended its run %.1fs after the cut" % (term[2] - t_cut), flush=True)
                time.sleep(3)
                t_during = time.time()
            finally:
                etcd.resume(cut)
            t_back = time.time()
            wait_for(lambda: [s for s in nodes.record().starts if s[1] == "n1" and s[2] > t_back], 30,
                     interval=0.2, what="n1 to run instants again after the partition")
            t_last = int(time.time()) - 3
            nodes.check_alive()
            rec = nodes.record()
    runs = rec.runs_of()
    doubles = {i: n for i, n in runs.items() if len(n) > 1}
    # Instants while n1 was cut off: n2 and n3 must have run each.
    during = range(int(t_cut) + 2, int(t_during))
    missing = [i for i in during if i not in runs]
    n1_during = [s for s in rec.starts if s[1] == "n1" and t_cut + 1 < s[2] < t_back]
    print("  partition: runs per node %s, doubles %d, instants during the cut %d, missing %d, runs of n1 "
          "during it %d" % (rec.per_node(), len(doubles), len(during), len(missing), len(n1_during)), flush=True)
    check(not doubles, "partition: instants run more than once: %s" % doubles)
    check(not missing, "partition: instants missing while the others could claim: %s" % missing)
    check(not n1_during, "partition: n1 started runs while cut off: %s" % n1_during)
    check(t_last > 0 and not any(e[0] == held[0] for e in rec.ends), "partition: the held run was not fenced")


def need_etcd(fn):
    def run(evd_bin):
        if not etcdlib.available():
            skip("no etcd (Debian's etcd-server)")
        fn(evd_bin)
    return run


if __name__ == "__main__":
    evdtest.run_tests([
        ("bad_url", test_bad_url),
        ("tls_files", test_tls_files),
        ("unreachable", test_unreachable),
        ("node_twice", need_etcd(test_node_twice)),
        ("partition", need_etcd(test_partition)),
    ])
