"""etcdlib - a private etcd cluster for the cluster tests.

EtcdCluster(n) starts n members of Debian's etcd (etcd-server) on free
loopback ports, data directories in a temporary directory, and waits until
every member answers healthy. Members are stopped by PID only: SIGTERM, then
SIGKILL after a grace. kill(i), restart(i), pause(i) (SIGSTOP: a stand-in for a
network partition) and resume(i) act on one member. With tls=make_certs(dir) the
client URLs are https and members demand a client certificate signed by
the test CA (openssl makes the CA and the certificates). Python's standard
library only.
"""
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.request

ETCD = shutil.which("etcd") or "/usr/bin/etcd"


def available():
    return os.access(ETCD, os.X_OK)


def free_ports(n):
    """n distinct free loopback ports (held open together while picking)."""
    socks, ports = [], []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
            ports.append(s.getsockname()[1])
    finally:
        for s in socks:
            s.close()
    return ports


def make_certs(d):
    """A CA, a server certificate for 127.0.0.1 and a client certificate in
    directory d; returns their paths. The server certificate is for client
    use too: etcd 3.4's JSON gateway dials its own member with it, and a
    member with --client-cert-auth rejects it otherwise (HTTP 503)."""
    def run(*args):
        subprocess.run(["openssl"] + list(args), cwd=d, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=evd-test-ca")
    for name, ext in (("server", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth"),
                      ("client", "extendedKeyUsage=clientAuth")):
        with open(os.path.join(d, name + ".ext"), "w") as f:
            f.write(ext + "\n")
        run("req", *ec, "-keyout", name + ".key", "-out", name + ".csr", "-subj", "/CN=evd-" + name)
        run("x509", "-req", "-in", name + ".csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", name + ".crt", "-days", "2", "-extfile", name + ".ext")
    return {k: os.path.join(d, k) for k in
            ("ca.crt", "server.crt", "server.key", "client.crt", "client.key")}


def post(url, path, body, timeout=2.0, context=None):
    req = urllib.request.Request(url + path, data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout, context=context) as r:
        return json.loads(r.read())


class EtcdCluster:
    def __init__(self, n=3, name="evdtest", tls=None):
        self.dir = tempfile.mkdtemp(prefix="evd-etcd-")
        ports = free_ports(2 * n)
        self.names = ["m%d" % i for i in range(n)]
        scheme = "https" if tls else "http"
        self.client_urls = ["%s://127.0.0.1:%d" % (scheme, p) for p in ports[:n]]
        self.context = None
        tls_args = []
        if tls:
            self.context = ssl.create_default_context(cafile=tls["ca.crt"])
            self.context.load_cert_chain(tls["client.crt"], tls["client.key"])
            tls_args = ["--client-cert-auth", "--trusted-ca-file", tls["ca.crt"],
                        "--cert-file", tls["server.crt"], "--key-file", tls["server.key"]]
        self.peer_urls = ["http://127.0.0.1:%d" % p for p in ports[n:]]
        self.procs = [None] * n
        self.tls_args = tls_args
        self.initial = ",".join("%s=%s" % (m, u) for m, u in zip(self.names, self.peer_urls))
        self.token = "%s-%d" % (name, os.getpid())
        for i in range(n):
            self._spawn(i)
        try:
            self.wait_healthy(range(n))
        except BaseException:
            self.stop()
            raise

    def _spawn(self, i):
        log = open(os.path.join(self.dir, self.names[i] + ".log"), "ab")
        self.procs[i] = subprocess.Popen(
            [ETCD, "--name", self.names[i],
             "--data-dir", os.path.join(self.dir, self.names[i]),
             "--listen-client-urls", self.client_urls[i],
             "--advertise-client-urls", self.client_urls[i],
             "--listen-peer-urls", self.peer_urls[i],
             "--initial-advertise-peer-urls", self.peer_urls[i],
             "--initial-cluster", self.initial,
             "--initial-cluster-token", self.token,
             "--initial-cluster-state", "new",
             "--heartbeat-interval", "100", "--election-timeout", "1000"] + self.tls_args,
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        log.close()

    def restart(self, i):
        """Starts member i again after kill(i), on its data directory (it
        rejoins the cluster it was in: etcd ignores --initial-cluster
        when the data directory exists) and waits until it is healthy."""
        if self.alive(i):
            return
        self._spawn(i)
        self.wait_healthy([i])

    @property
    def endpoints(self):
        return ",".join(self.client_urls)

    def alive(self, i):
        return self.procs[i] is not None and self.procs[i].poll() is None

    def status(self, i, timeout=1.0):
        """The member's /v3/maintenance/status answer, or None."""
        try:
            return post(self.client_urls[i], "/v3/maintenance/status", {}, timeout, self.context)
        except (OSError, ValueError):
            return None

    def healthy(self, i):
        try:
            with urllib.request.urlopen(self.client_urls[i] + "/health", timeout=1.0,
                                        context=self.context) as r:
                return json.loads(r.read()).get("health") == "true"
        except (OSError, ValueError):
            return False

    def wait_healthy(self, members, deadline=60.0):
        end = time.monotonic() + deadline
        members = list(members)
        while time.monotonic() < end:
            for i in members:
                if not self.alive(i):
                    raise RuntimeError("etcd member %s exited; log:\n%s" % (self.names[i], self.log(i)))
            if all(self.healthy(i) for i in members):
                return
            time.sleep(0.2)
        raise RuntimeError("etcd members %s not healthy within %ss" % (members, deadline))

    def leader(self, deadline=30.0):
        """The index of the member that every live member calls leader."""
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            ids, leaders = {}, set()
            for i in range(len(self.procs)):
                if not self.alive(i):
                    continue
                s = self.status(i)
                if s is None:
                    continue
                ids[s["header"]["member_id"]] = i
                leaders.add(s.get("leader"))
            if len(leaders) == 1:
                lid = leaders.pop()
                if lid in ids:
                    return ids[lid]
            time.sleep(0.2)
        raise RuntimeError("no agreed etcd leader within %ss" % deadline)

    def log(self, i):
        try:
            with open(os.path.join(self.dir, self.names[i] + ".log"), errors="replace") as f:
                return f.read()[-3000:]
        except OSError:
            return ""

    def kill(self, i):
        p = self.procs[i]
        if p is not None and p.poll() is None:
            p.send_signal(signal.SIGKILL)
            p.wait()

    def pause(self, i):
        self.procs[i].send_signal(signal.SIGSTOP)

    def resume(self, i):
        self.procs[i].send_signal(signal.SIGCONT)

    def stop(self):
        for p in self.procs:
            if p is not None and p.poll() is None:
                p.send_signal(signal.SIGCONT)
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            if p is None:
                continue
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.send_signal(signal.SIGKILL)
                p.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
