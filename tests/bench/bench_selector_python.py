"""Issue 12: the Python Selector's cost with 100 active sockets while 10,000
idle ones are registered (60 s timeouts), against the same with none idle,
as bench_selector.c measures the C selector.  One cycle: a byte to each
active socket's peer (not timed), the 100 added (timed: add), wait until all
100 are reported (timed: wait), the bytes read (not timed).  Target: wait
<= 1.2x.  Figures are microseconds per cycle (lower is better).

    python3 bench_selector_python.py [--quick] [--runs N] [--rows-only]
"""
import pathlib
import resource
import socket
import statistics
import subprocess
import sys
import time

import netsocket

QUICK = "--quick" in sys.argv
RUNS = int(sys.argv[sys.argv.index("--runs") + 1]) if "--runs" in sys.argv else (1 if QUICK else 5)
IDLE = 1000 if QUICK else 10000
ACTIVE, CYCLES, TIMEOUT_US = 100, 20 if QUICK else 200, 60_000_000


def cycle_times(sel, active, peers):
    add = wait = 0.0
    for _ in range(CYCLES):
        for p in peers:
            p.send(b"x")
        t0 = time.perf_counter()
        for s in active:
            sel.add(s, TIMEOUT_US)
        t1 = time.perf_counter()
        got = 0
        for _ in range(1000):
            got += len(sel.wait(5_000_000))
            if got >= ACTIVE:
                break
        t2 = time.perf_counter()
        assert got == ACTIVE, got
        for s in active:
            s.recv(1)
        add += t1 - t0
        wait += t2 - t1
    return add / CYCLES * 1e6, wait / CYCLES * 1e6


def main():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, IDLE + 2 * ACTIVE + 64)), hard))
    opts = netsocket.socket_options(non_blocking=False, read_timeout=5_000_000)
    server = netsocket.make_server_socket("127.0.0.1", "0", opts)
    port = server.info()[1]
    holder = subprocess.Popen([sys.executable, str(pathlib.Path(__file__).with_name("hold_peers.py")),
                               str(port), str(IDLE)], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    idle = [server.accept() for _ in range(IDLE)]
    assert holder.stdout.readline() == b"ready\n"
    peers = [socket.create_connection(("127.0.0.1", port)) for _ in range(ACTIVE)]
    active = [server.accept() for _ in range(ACTIVE)]
    crowded, empty = netsocket.Selector(), netsocket.Selector()
    for s in idle:
        crowded.add(s, TIMEOUT_US)
    cycle_times(crowded, active, peers)  # warm-up
    cycle_times(empty, active, peers)
    rows = {"add": [], "wait": []}
    for run in range(RUNS):
        order = (crowded, empty) if run % 2 == 0 else (empty, crowded)
        t = {id(sel): cycle_times(sel, active, peers) for sel in order}
        with_idle, without = t[id(crowded)], t[id(empty)]
        rows["add"].append((with_idle[0], without[0]))
        rows["wait"].append((with_idle[1], without[1]))
    assert len(crowded) == IDLE, len(crowded)
    if "--rows-only" not in sys.argv:
        print("| item | figure | netsocket | baseline | ratio | target |")
        print("|---|---|---:|---:|---:|---|")
    for what in ("wait", "add"):
        a = statistics.median(r[0] for r in rows[what])
        b = statistics.median(r[1] for r in rows[what])
        ratio = statistics.median(r[0] / r[1] for r in rows[what])
        target = "<= 1.20 %s" % ("met" if ratio <= 1.2 else "**missed**") if what == "wait" else "(info)"
        print("| 12 selector (Python) | %s %d active, %d idle vs 0 idle (us/cycle) | %.1f us | %.1f us | %.3f | %s |"
              % (what, ACTIVE, IDLE, a, b, ratio, target), flush=True)
    holder.stdin.close()
    holder.wait(30)
    for s in idle + active:
        s.close()


if __name__ == "__main__":
    main()
