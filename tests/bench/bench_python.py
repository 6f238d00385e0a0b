"""Item 3: the Python binding against Python's own ssl/socket (OpenSSL 3).

TLS 1.3 over loopback: bulk throughput (64 KiB writes), 64-byte round trips
full handshakes per second, reconnects resumed (netsocket by default, ssl
with SSLContext + session=; issue 15), and (item 5) resident bytes per idle
established TLS connection on the server side over 5,000 connections (ECDSA P-256 certificate verified against a
CA with a host-name check, SNI "localhost").  For each figure both variants
run alternately; the server of each run is a forked child process running
the same variant, so no two Python threads contend for the GIL.  Prints
rows of run.sh's table: medians, and the median of the per-pair ratios.

Usage (run.sh sets PYTHONPATH to the built module):
    python3 bench_python.py [--quick] [--runs N] [--rows-only]

Written against the Bindings section of docs/reference.md.
"""
import os
import resource
import socket
import ssl
import subprocess
import sys
import tempfile
import time

import netsocket

QUICK = "--quick" in sys.argv
ROWS_ONLY = "--rows-only" in sys.argv
RUNS = 1 if QUICK else 7
if "--runs" in sys.argv:
    RUNS = max(1, int(sys.argv[sys.argv.index("--runs") + 1]))

CHUNK = 64 * 1024
BULK_BYTES = (4 << 20) if QUICK else (128 << 20)
TRIPS = 200 if QUICK else 5000
HANDSHAKES = 10 if QUICK else 200
IDLE_CONNECTIONS = 50 if QUICK else 5000


def make_certs(d):
    """A CA and a leaf for localhost / 127.0.0.1, ECDSA P-256, with openssl(1)."""
    def run(*args):
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)
    run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", "ca.key", "-out", "ca.pem", "-days", "30", "-subj", "/CN=bench CA")
    run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", "leaf.key", "-out", "leaf.csr", "-subj", "/CN=localhost")
    with open(os.path.join(d, "ext.cnf"), "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    run("x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "leaf.pem", "-days", "30", "-extfile", "ext.cnf")
    return {name: os.path.join(d, name) for name in ("ca.pem", "leaf.pem", "leaf.key")}


def read(path):
    with open(path, "rb") as f:
        return f.read()


class Netsocket:
    name = "netsocket"

    def __init__(self, certs):
        so = netsocket.server_tls_socket_options(
            certificates=[read(certs["leaf.pem"])], private_key=read(certs["leaf.key"]),
            non_blocking=False)
        self.server = netsocket.make_server_tls_socket("127.0.0.1", "0", so)
        self.port = str(self.server.info()[1])
        self.client_opts = netsocket.tls_socket_options(
            trusted_certificates=[read(certs["ca.pem"])], sni=["localhost"], non_blocking=False)

    def accept(self):
        c = self.server.accept()
        c.setsockopt(netsocket.IPPROTO_TCP, netsocket.TCP_NODELAY, 1)
        return c

    def connect(self):
        c = netsocket.make_client_tls_socket("127.0.0.1", self.port, self.client_opts)
        c.setsockopt(netsocket.IPPROTO_TCP, netsocket.TCP_NODELAY, 1)
        return c

    def reconnect(self):
        return self.connect()  # the options object resumes by itself

    def remember(self, c):
        pass

    @staticmethod
    def send_all(c, data):
        c.send_all(data)

    @staticmethod
    def recv_into(c, buf):
        return c.recv_into(buf)


class PythonSSL:
    name = "Python ssl"

    def __init__(self, certs):
        self.server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.server_ctx.load_cert_chain(certs["leaf.pem"], certs["leaf.key"])
        self.client_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies, checks the host
        self.client_ctx.load_verify_locations(certs["ca.pem"])
        self.listener = socket.create_server(("127.0.0.1", 0), backlog=1024)
        self.port = self.listener.getsockname()[1]
        self.session = None

    def accept(self):
        conn, _ = self.listener.accept()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return self.server_ctx.wrap_socket(conn, server_side=True)

    def connect(self):
        s = socket.create_connection(("127.0.0.1", self.port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return self.client_ctx.wrap_socket(s, server_hostname="localhost")

    def reconnect(self):
        """As connect, offering the last session (SSLContext + session=)."""
        s = socket.create_connection(("127.0.0.1", self.port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return self.client_ctx.wrap_socket(s, server_hostname="localhost", session=self.session)

    def remember(self, c):
        self.session = c.session

    @staticmethod
    def send_all(c, data):
        c.sendall(data)

    @staticmethod
    def recv_into(c, buf):
        return c.recv_into(buf)


def recv_exact(v, c, view):
    got = 0
    while got < len(view):
        n = v.recv_into(c, view[got:])
        if not n:
            raise EOFError("connection closed early")
        got += n


def serve(v, mode):
    """The server side of one run, in a forked child."""
    if mode == "handshakes":
        for _ in range(HANDSHAKES):
            v.accept().close()
        return
    if mode == "reconnects":
        view = memoryview(bytearray(64))
        for _ in range(HANDSHAKES):
            c = v.accept()
            recv_exact(v, c, view)
            v.send_all(c, view)
            c.close()
        return
    c = v.accept()
    buf = bytearray(CHUNK)
    if mode == "bulk":
        got = 0
        while got < BULK_BYTES:
            n = v.recv_into(c, buf)
            if not n:
                raise EOFError("connection closed early")
            got += n
        v.send_all(c, b"k")
    else:
        view = memoryview(buf)[:64]
        for _ in range(TRIPS):
            recv_exact(v, c, view)
            v.send_all(c, view)
    c.close()


def one_run(v, mode):
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            serve(v, mode)
        except BaseException as e:  # the parent reports the failure
            print("bench_python: %s server: %r" % (v.name, e), file=sys.stderr)
            code = 1
        os._exit(code)
    try:
        if mode == "handshakes":
            t0 = time.perf_counter()
            for _ in range(HANDSHAKES):
                v.connect().close()
            figure = HANDSHAKES / (time.perf_counter() - t0)
        elif mode == "reconnects":
            buf = memoryview(bytearray(64))
            t0 = time.perf_counter()
            for _ in range(HANDSHAKES):
                c = v.reconnect()
                v.send_all(c, buf)
                recv_exact(v, c, buf)  # brings the TLS 1.3 tickets
                v.remember(c)
                c.close()
            figure = HANDSHAKES / (time.perf_counter() - t0)
        else:
            c = v.connect()
            if mode == "bulk":
                data = bytes(CHUNK)
                t0 = time.perf_counter()
                for _ in range(BULK_BYTES // CHUNK):
                    v.send_all(c, data)
                recv_exact(v, c, memoryview(bytearray(1)))
                figure = BULK_BYTES / (time.perf_counter() - t0) / 1e6
            else:
                buf = memoryview(bytearray(64))
                t0 = time.perf_counter()
                for _ in range(TRIPS):
                    v.send_all(c, buf)
                    recv_exact(v, c, buf)
                figure = TRIPS / (time.perf_counter() - t0)
            c.close()
    finally:
        _, status = os.waitpid(pid, 0)
    if status != 0:
        sys.exit("bench_python: the %s server failed" % v.name)
    return figure


def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def hold_clients(port, ca, n, hold_fd):
    """Child: n TLS connections (Python ssl), held until hold_fd closes."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(ca)
    conns = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port))
        conns.append(ctx.wrap_socket(s, server_hostname="localhost"))
    os.read(hold_fd, 1)


def memory_per_connection(make_variant, ca):
    """Resident bytes per idle server-side connection, in a fresh process
    whose clients run in a child of their own."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.close(r)
            v = make_variant()
            hold_r, hold_w = os.pipe()
            client = os.fork()
            if client == 0:
                os.close(hold_w)
                try:
                    hold_clients(int(v.port), ca, IDLE_CONNECTIONS + 1, hold_r)
                finally:
                    os._exit(0)
            os.close(hold_r)
            conns = [v.accept()]
            before = rss()
            conns += [v.accept() for _ in range(IDLE_CONNECTIONS)]
            per = (rss() - before) / IDLE_CONNECTIONS
            os.close(hold_w)
            os.waitpid(client, 0)
            os.write(w, b"%f" % per)
            code = 0
        except BaseException as e:
            print("bench_python: memory: %r" % (e,), file=sys.stderr)
        os._exit(code)
    os.close(w)
    data = os.read(r, 64)
    os.close(r)
    _, status = os.waitpid(pid, 0)
    if status != 0 or not data:
        sys.exit("bench_python: the memory measurement failed")
    return float(data)


def median(xs):
    xs = sorted(xs)
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


def alternate(a, b, mode):
    va, vb = [], []
    for i in range(RUNS):
        if i % 2 == 0:
            va.append(one_run(a, mode))
            vb.append(one_run(b, mode))
        else:
            vb.append(one_run(b, mode))
            va.append(one_run(a, mode))
    return median(va), median(vb), median([x / y for x, y in zip(va, vb)])


def fmt(v, unit):
    return ("%.0f %s" if v >= 100 else "%.2f %s") % (v, unit)


def main():
    with tempfile.TemporaryDirectory() as d:
        certs = make_certs(d)
        ns, py = Netsocket(certs), PythonSSL(certs)
        if not ROWS_ONLY:
            print("| item | figure | netsocket | baseline | ratio | target |")
            print("|---|---|---:|---:|---:|---|")
        rows = [("bulk", "TLS bulk, 64 KiB writes (vs Python ssl)", "MB/s", 1.0),
                ("rtt", "TLS 64 B round trips (vs Python ssl)", "/s", 1.0),
                ("handshakes", "TLS full handshakes (vs Python ssl)", "/s", 1.5),
                ("reconnects", "TLS reconnects + 64 B round trip, resumed (vs Python ssl session=)",
                 "/s", 3.0)]
        for mode, figure, unit, target in rows:
            a, b, r = alternate(ns, py, mode)
            print("| 3 Python | %s | %s | %s | %.3f | >= %.2f %s |" % (
                figure, fmt(a, unit), fmt(b, unit), r, target,
                "met" if r >= target else "**missed**"), flush=True)
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        a = memory_per_connection(lambda: Netsocket(certs), certs["ca.pem"])
        b = memory_per_connection(lambda: PythonSSL(certs), certs["ca.pem"])
        print("| 5 memory (Python) | RSS per idle TLS conn (server), %d conns, vs Python ssl "
              "| %.0f B | %.0f B | %.3f | netsocket <= 16384 B %s |" % (
                  IDLE_CONNECTIONS, a, b, a / b if b else 0,
                  "met" if a <= 16384 else "**missed**"), flush=True)


if __name__ == "__main__":
    main()
