"""Issue 12: asyncio + netsocket.aio against asyncio's own TLS
(asyncio.open_connection / start_server with ssl=, i.e. loop.create_connection
with ssl=) on the default loop, and against uvloop's TLS on uvloop (netsocket.aio
on uvloop there).  TLS 1.3 over loopback, ECDSA P-256 certificate verified
against a CA with a host-name check.  Figures: full handshakes per second (one
connection at a time: open, one byte each way, close) and bulk throughput (one
connection, 64 KiB writes with drain, until the server acknowledges the
total).  The server of each run is a child process running the same variant
on the same kind of loop.  Goal: >= 2x asyncio's TLS.  Prints rows of
run.sh's table: medians, and the median of per-pair ratios.  Each figure
also gets a CPU row: the CPU time of both processes (client and server)
per handshake or per MB, which a busy machine disturbs far less than the
rates (2x the rate of a saturated pair is <= 0.50x its CPU).

    python3 bench_asyncio.py [--quick] [--runs N] [--rows-only]
"""
import asyncio
import multiprocessing
import os
import ssl
import statistics
import struct
import sys
import tempfile
import time

import netsocket
import netsocket.aio
from bench_python import make_certs  # the same CA and leaf as the other Python figures

QUICK = "--quick" in sys.argv
RUNS = int(sys.argv[sys.argv.index("--runs") + 1]) if "--runs" in sys.argv else (1 if QUICK else 5)
HANDSHAKES = 20 if QUICK else 300
BULK = (4 << 20) if QUICK else (128 << 20)
CHUNK = 64 * 1024

try:
    import uvloop
except ImportError:  # the uvloop rows are skipped
    uvloop = None


class Variant:
    """How one side opens: netsocket.aio or asyncio's ssl, on a loop kind."""

    def __init__(self, name, tls, loop_kind, certs):
        self.name, self.tls, self.loop_kind, self.certs = name, tls, loop_kind, certs

    def new_loop(self):
        return uvloop.new_event_loop() if self.loop_kind == "uvloop" else asyncio.new_event_loop()

    async def serve(self, handler):
        if self.tls == "netsocket":
            options = netsocket.server_tls_socket_options(certificate_files=[self.certs["leaf.pem"]],
                                                          private_key_file=self.certs["leaf.key"])
            server = await netsocket.aio.start_server(handler, "127.0.0.1", 0, options)
            return server, server.sockets[0].info()[1]
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.certs["leaf.pem"], self.certs["leaf.key"])
        server = await asyncio.start_server(handler, "127.0.0.1", 0, ssl=ctx)
        return server, server.sockets[0].getsockname()[1]

    async def open(self, port):
        if self.tls == "netsocket":
            options = netsocket.tls_socket_options(trusted_certificate_files=[self.certs["ca.pem"]])
            return await netsocket.aio.open_connection("localhost", port, options)
        ctx = ssl.create_default_context(cafile=self.certs["ca.pem"])
        return await asyncio.open_connection("localhost", port, ssl=ctx)


async def handle(reader, writer):
    """'h': answer one byte and close.  'b' + length: read that many bytes, answer 'd'."""
    kind = await reader.readexactly(1)
    if kind == b"b":
        left = struct.unpack("!Q", await reader.readexactly(8))[0]
        while left:
            left -= len(await reader.read(min(left, 1 << 20)))
    writer.write(b"k" if kind == b"h" else b"d")
    await writer.drain()
    writer.close()


def server_process(variant, port_pipe):
    loop = variant.new_loop()

    async def main():
        _, port = await variant.serve(handle)
        port_pipe.send(port)
        await asyncio.Event().wait()

    loop.run_until_complete(main())


async def handshakes(variant, port):
    t0 = time.perf_counter()
    for _ in range(HANDSHAKES):
        reader, writer = await variant.open(port)
        writer.write(b"h")
        assert await reader.readexactly(1) == b"k"
        writer.close()
    return HANDSHAKES / (time.perf_counter() - t0)


async def bulk(variant, port):
    reader, writer = await variant.open(port)
    chunk = os.urandom(CHUNK)
    t0 = time.perf_counter()
    writer.write(b"b" + struct.pack("!Q", BULK))
    for _ in range(BULK // CHUNK):
        writer.write(chunk)
        await writer.drain()
    assert await reader.readexactly(1) == b"d"
    seconds = time.perf_counter() - t0
    writer.close()
    return BULK / seconds / 1e6


def cpu_of(pid):
    """A process's CPU time in seconds (user + system, from /proc)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(variant, what):
    """(the rate what() reports, the CPU seconds both processes spent in it)."""
    parent, child = multiprocessing.Pipe()
    proc = multiprocessing.Process(target=server_process, args=(variant, child), daemon=True)
    proc.start()
    try:
        port = parent.recv()
        loop = variant.new_loop()
        try:
            server_cpu, client_cpu = cpu_of(proc.pid), time.process_time()
            rate = loop.run_until_complete(what(variant, port))
            return rate, time.process_time() - client_cpu + cpu_of(proc.pid) - server_cpu
        finally:
            loop.close()
    finally:
        proc.kill()
        proc.join()


def main():
    multiprocessing.set_start_method("fork")
    if "--rows-only" not in sys.argv:
        print("| item | figure | netsocket | baseline | ratio | target |")
        print("|---|---|---:|---:|---:|---|")
    with tempfile.TemporaryDirectory() as d:
        certs = make_certs(d)
        pairs = [("asyncio", "asyncio ssl")]
        if uvloop is not None:
            pairs.append(("uvloop", "uvloop ssl"))
        else:
            print("| 12 asyncio | vs uvloop | skipped: python3-uvloop is not installed | | | |")
        for loop_kind, baseline in pairs:
            ours = Variant("netsocket.aio", "netsocket", loop_kind, certs)
            theirs = Variant(baseline, "ssl", loop_kind, certs)
            for what, label, unit, per, units in (
                    (handshakes, "TLS full handshakes", "/s", "full handshake", HANDSHAKES),
                    (bulk, "TLS bulk, 64 KiB writes", "MB/s", "MB of bulk", BULK / 1e6)):
                rates, costs = {ours.name: [], theirs.name: []}, {ours.name: [], theirs.name: []}
                for run in range(RUNS):
                    first, second = (ours, theirs) if run % 2 == 0 else (theirs, ours)
                    for v in (first, second):
                        rate, cpu = measure(v, what)
                        rates[v.name].append(rate)
                        costs[v.name].append(cpu / units * 1e3)  # ms
                row(label + " on " + loop_kind, baseline, rates[ours.name], rates[theirs.name], unit, 2, ">=")
                row("CPU per %s on %s (client + server)" % (per, loop_kind), baseline, costs[ours.name],
                    costs[theirs.name], "ms", 0.5, "<=")


def row(figure, baseline, ours, theirs, unit, target, sense):
    ratio = statistics.median(a / b for a, b in zip(ours, theirs))
    met = ratio >= target if sense == ">=" else ratio <= target
    print("| 12 asyncio | %s: netsocket.aio vs %s | %.*f %s | %.*f %s | %.3f | %s %.2f %s |" % (
        figure, baseline, 1 if unit != "ms" else 3, statistics.median(ours), unit, 1 if unit != "ms" else 3,
        statistics.median(theirs), unit, ratio, sense, target, "met" if met else "**missed**"), flush=True)

if __name__ == "__main__":
    main()
