#!/usr/bin/env python3
"""cluster/etcd: src/etcd.c against a real three-member etcd (etcdlib).

Usage: test_etcd.py ETCD_DRIVER. Skips (77) without Debian's etcd-server.
Shows: bad endpoints are rejected; claims are won exactly once under
contention; a claim bound to a lease goes when the lease expires and can
then be claimed by another; an unreachable and a SIGSTOPped member in the
list are skipped; when the leader is killed, claims during the election
succeed once or fail cleanly (never twice) and the client finds the new
leader. Counts are printed.
"""
import os
import socket
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import etcdlib  # noqa: E402

DRIVER = sys.argv[1]
FAILURES = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        FAILURES.append(what)


def drive(endpoints, *args, timeout_ms=1000, check_rc=True):
    p = subprocess.run([DRIVER, "-t", str(timeout_ms), endpoints] + [str(a) for a in args],
                       capture_output=True, text=True, timeout=120)
    if check_rc and p.returncode != 0:
        raise RuntimeError("etcd_driver %s: rc %d: %s" % (args, p.returncode, p.stderr))
    return p


def start_many(endpoints, prefix, n, value, lease=0, delay_ms=0, timeout_ms=1000):
    return subprocess.Popen([DRIVER, "-t", str(timeout_ms), endpoints, "claim-many", prefix, str(n),
                             value, str(lease), str(delay_ms)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def results(procs):
    """{value: {"won": set, "lost": set, "error": set, "summary": str}}."""
    out = {}
    for value, p in procs.items():
        stdout, stderr = p.communicate(timeout=120)
        if p.returncode != 0:
            raise RuntimeError("claim-many %s: rc %d: %s" % (value, p.returncode, stderr))
        r = {"won": set(), "lost": set(), "error": set(), "summary": ""}
        for line in stdout.splitlines():
            word = line.split(" ", 1)[0]
            if word in r and word != "summary":
                r[word].add(line.split(" ")[1])
            elif line.startswith("won="):
                r["summary"] = line
        out[value] = r
    return out


def tally(res):
    """Prints each driver's counts; returns {key: [drivers that won it]}
    and the keys won more than once."""
    winners = {}
    for v, r in res.items():
        print("  driver %s: %s" % (v, r["summary"]))
        for k in r["won"]:
            winners.setdefault(k, []).append(v)
    return winners, [k for k, w in winners.items() if len(w) > 1]


def stored(endpoints, prefix):
    kv = {}
    for line in drive(endpoints, "get-prefix", prefix).stdout.splitlines():
        key, rest = line.split("=", 1)
        kv[key] = rest.rsplit(" lease=", 1)[0]
    return kv


def test_bad_urls():
    for bad in ["ftp://127.0.0.1:2379", "127.0.0.1:2379", "http://", "http://:2379",
                "http://host:0", "http://host:65536", "http://host:12x", "http://ho st:1",
                "http://host:2379/v3", "http://user@host:2379", "http://[::1:2379",
                "http://127.0.0.1:2379, https://-bad-:1", ""]:
        p = drive(bad, "status", check_rc=False)
        check(p.returncode == 2 and ("bad etcd endpoint" in p.stderr or "no etcd endpoint" in p.stderr),
              "bad endpoint %r rejected: %s" % (bad, p.stderr.strip()))


def test_contention(c):
    n, prefix = 200, "/evdtest/contend/"
    procs = {v: start_many(c.endpoints, prefix, n, v) for v in ("d0", "d1", "d2")}
    res = results(procs)
    kv = stored(c.endpoints, prefix)
    winners, twice = tally(res)
    check(not twice, "contention: no key won twice (%d keys won more than once)" % len(twice))
    check(len(winners) == n, "contention: all %d keys won once (%d won)" % (n, len(winners)))
    check(all(not r["error"] for r in res.values()), "contention: no errors")
    check(len(kv) == n and all(kv.get(k) == w[0] for k, w in winners.items()),
          "contention: etcd holds each key with its winner's value")
    lost_ok = all(kv.get(k) != v for v, r in res.items() for k in r["lost"])
    check(lost_ok, "contention: every loser saw another holder")
    print("  won per driver: %s" % {v: len(r["won"]) for v, r in res.items()})


def test_threads(c):
    # Eight threads of one process, each with its own client (made at the
    # same time: curl's global initialisation runs once).
    n, prefix = 100, "/evdtest/threads/"
    p = drive(c.endpoints, "claim-threads", prefix, n, 8)
    kv = stored(c.endpoints, prefix)
    check(p.stdout.strip() == "won=%d lost=%d errors=0" % (n, 7 * n),
          "threads: each key won once over 8 threads: " + p.stdout.strip())
    check(len(kv) == n, "threads: etcd holds %d keys" % len(kv))


def test_lease_expiry(c):
    key = "/evdtest/lease/k"
    lease = int(drive(c.endpoints, "grant", 2).stdout.split()[0])
    check(drive(c.endpoints, "claim", key, "holder-a", lease).stdout.strip() == "won", "lease: a claims")
    check(drive(c.endpoints, "claim", key, "holder-a", lease).stdout.strip() == "won",
          "lease: a's retry of its own claim counts as won")
    check(drive(c.endpoints, "claim", key, "holder-b", 0).stdout.strip() == "lost holder-a",
          "lease: b loses to a")
    # Kept alive, the claim outlives its TTL.
    end, ttls = time.monotonic() + 4, []
    while time.monotonic() < end:
        ttls.append(int(drive(c.endpoints, "keepalive", lease).stdout))
        time.sleep(0.5)
    check(all(t > 0 for t in ttls), "lease: keepalive answers TTLs %s" % sorted(set(ttls)))
    check(stored(c.endpoints, key) == {key: "holder-a"}, "lease: claim kept while kept alive")
    # Keepalive stopped: the claim goes with the lease.
    end, gone = time.monotonic() + 20, False
    while time.monotonic() < end and not gone:
        gone = stored(c.endpoints, key) == {}
        time.sleep(0.2)
    check(gone, "lease: claim gone after the lease expired")
    check(drive(c.endpoints, "keepalive", lease).stdout.strip() == "0", "lease: keepalive of it says 0")
    check(drive(c.endpoints, "claim", key, "holder-b", 0).stdout.strip() == "won",
          "lease: b claims the key after a's lease expired")
    drive(c.endpoints, "delete", key)


def test_unreachable(c):
    # A closed port (connection refused) and a port that accepts but never
    # answers (the timeout), both before the real members.
    dead = etcdlib.free_ports(1)[0]
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    try:
        eps = "http://127.0.0.1:%d,http://127.0.0.1:%d,%s" % (dead, silent.getsockname()[1], c.endpoints)
        t0 = time.monotonic()
        p = drive(eps, "claim", "/evdtest/unreach/k", "v", 0, timeout_ms=500)
        took = time.monotonic() - t0
        check(p.stdout.strip() == "won", "unreachable: claim through the list works (%.2fs)" % took)
        check(took < 30, "unreachable: endpoints skipped within their timeouts")
        p = drive(eps, "status", timeout_ms=500)
        lines = p.stdout.splitlines()
        check(len(lines) == 5 and " error " in lines[0] and " error " in lines[1]
              and all(" member=" in x for x in lines[2:]), "unreachable: status per endpoint:\n" + p.stdout)
    finally:
        silent.close()


def test_paused_member(c):
    ldr = c.leader()
    follower = next(i for i in range(3) if i != ldr)
    c.pause(follower)
    try:
        first = [c.client_urls[follower]] + [u for i, u in enumerate(c.client_urls) if i != follower]
        procs = {v: start_many(",".join(first), "/evdtest/paused/", 30, v, timeout_ms=500)
                 for v in ("p0", "p1")}
        res = results(procs)
        won = [k for r in res.values() for k in r["won"]]
        check(len(won) == len(set(won)) == 30 and all(not r["error"] for r in res.values()),
              "paused member: 30 claims won once each past the stopped member (%s)"
              % [r["summary"] for r in res.values()])
        p = drive(",".join(first), "status", timeout_ms=500)
        check(" error " in p.stdout.splitlines()[0], "paused member: its status times out")
    finally:
        c.resume(follower)
    c.wait_healthy(range(3))


def test_leader_failover(c):
    ldr = c.leader()
    first = [c.client_urls[ldr]] + [u for i, u in enumerate(c.client_urls) if i != ldr]
    eps = ",".join(first)
    n, prefix = 100, "/evdtest/failover/"
    procs = {v: start_many(eps, prefix, n, v, delay_ms=20, timeout_ms=1000) for v in ("f0", "f1")}
    time.sleep(0.6)
    c.kill(ldr)
    print("  killed leader %s" % c.names[ldr])
    res = results(procs)
    kv = stored(eps, prefix)
    winners, twice = tally(res)
    check(not twice, "failover: no key won twice")
    check(all(kv.get(k) == w[0] for k, w in winners.items()), "failover: etcd holds every won key's winner")
    unknown = [k for k in kv if k not in winners]
    print("  keys stored without a reported winner (their claim ended in an error): %d" % len(unknown))
    for v, r in res.items():
        check(all(kv.get(k) not in (None, v) for k in r["lost"]), "failover: %s lost only to others" % v)
    late = max(int(k[len(prefix):]) for k in winners) if winners else -1
    check(late >= n - 10, "failover: claims after the kill won (last won key %d)" % late)
    new = c.leader()
    check(new != ldr, "failover: new leader %s" % c.names[new])
    p = drive(eps, "claim-many", "/evdtest/after/", 20, "x", 0)
    check(p.stdout.splitlines()[-1] == "won=20 lost=0 errors=0",
          "failover: with the dead leader first in the list all claims work: " + p.stdout.splitlines()[-1])


def test_tls():
    """One member on https that demands a client certificate."""
    if not shutil.which("openssl"):
        print("skip tls: no openssl")
        return
    d = tempfile.mkdtemp(prefix="evd-etcd-tls-")
    try:
        certs = etcdlib.make_certs(d)
        with etcdlib.EtcdCluster(1, tls=certs) as c:
            ca, crt, key = certs["ca.crt"], certs["client.crt"], certs["client.key"]
            ok = subprocess.run([DRIVER, "-a", ca, "-c", crt, "-k", key, c.endpoints, "claim", "/tls/k", "v", "0"],
                                capture_output=True, text=True, timeout=60)
            check(ok.stdout.strip() == "won", "tls: claim with CA and client certificate: %s%s"
                  % (ok.stdout.strip(), ok.stderr.strip()))
            p = subprocess.run([DRIVER, "-a", ca, c.endpoints, "get", "/tls/k"],
                               capture_output=True, text=True, timeout=60)
            check(p.returncode == 1 and p.stderr, "tls: without a client certificate the call fails: "
                  + p.stderr.strip())
            p = subprocess.run([DRIVER, c.endpoints, "get", "/tls/k"], capture_output=True, text=True, timeout=60)
            check(p.returncode == 1 and p.stderr, "tls: without the CA the server is not trusted: "
                  + p.stderr.strip())
            p = subprocess.run([DRIVER, "-a", os.path.join(d, "missing.crt"), "-c", crt, "-k", key, c.endpoints,
                                "get", "/tls/k"], capture_output=True, text=True, timeout=60)
            check(p.returncode == 2 and "ca_file" in p.stderr and "No such file" in p.stderr,
                  "tls: a missing CA file is an error at the start: " + p.stderr.strip())
    finally:
        shutil.rmtree(d, ignore_errors=True)


def main():
    test_bad_urls()
    if not etcdlib.available():
        print("skip: no etcd (Debian's etcd-server)")
        return 77 if not FAILURES else 1
    t0 = time.monotonic()
    with etcdlib.EtcdCluster(3) as c:
        print("etcd cluster up: %s (%.1fs)" % (c.endpoints, time.monotonic() - t0), flush=True)
        for t in (test_contention, test_threads, test_lease_expiry, test_unreachable, test_paused_member,
                  test_leader_failover):
            print("== %s" % t.__name__, flush=True)
            t(c)
    print("== test_tls", flush=True)
    test_tls()
    print("total %.1fs" % (time.monotonic() - t0))
    if FAILURES:
        print("%d failure(s)" % len(FAILURES))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
