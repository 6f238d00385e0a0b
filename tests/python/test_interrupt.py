"""Ctrl-C (SIGINT) and SIGTERM stop a program blocked in recv without a
timeout, in accept, or in a TLS handshake: the signal handlers run and
their exception propagates, as with Python's own sockets (issue 13).
Each case is a child process; every wait is bounded."""
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

CHILD = textwrap.dedent("""
    import signal, sys
    import netsocket
    blocking = netsocket.socket_options(non_blocking=False)  # no read timeout
    srv = netsocket.make_server_socket("127.0.0.1", "0", blocking)
    port = srv.info()[1]
    if sys.argv[1] == "term":
        signal.signal(signal.SIGTERM, lambda *a: sys.exit(3))
    try:
        print("ready", flush=True)
        if sys.argv[2] == "accept":
            srv.accept()
        elif sys.argv[2] == "recv":
            c = netsocket.make_client_socket("127.0.0.1", port, blocking)
            conn = srv.accept()
            c.recv(10)
        elif sys.argv[2] == "tls_handshake":  # the server never answers the ClientHello
            netsocket.make_client_tls_socket("127.0.0.1", port, netsocket.tls_socket_options(non_blocking=False))
        print("returned", flush=True)
    except KeyboardInterrupt:
        print("KeyboardInterrupt", flush=True)
        sys.exit(2)
""")


@pytest.mark.parametrize("call", ["accept", "recv", "tls_handshake"])
@pytest.mark.parametrize("sig, code, out", [(signal.SIGINT, 2, "KeyboardInterrupt\n"), (signal.SIGTERM, 3, "")])
def test_signal_stops_a_blocked_call(call, sig, code, out):
    p = subprocess.Popen([sys.executable, "-c", CHILD, "term" if sig == signal.SIGTERM else "int", call],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline() == "ready\n"
        time.sleep(0.3)  # into the blocking call
        t0 = time.monotonic()
        p.send_signal(sig)
        stdout, stderr = p.communicate(timeout=10)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert (p.returncode, stdout, stderr) == (code, out, "")
    assert time.monotonic() - t0 < 5


# Name resolution: a blocking open with no connection timeout, stuck on a
# DNS server that never answers (in namespaces of the test's own, see
# tests/silent_dns_namespace.sh), stops on Ctrl-C like any other wait.
SILENT_DNS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "silent_dns_namespace.sh")
RESOLVING_CHILD = textwrap.dedent("""
    import socket
    import netsocket
    dns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    dns.bind(("127.0.0.1", 53))  # never read: the name never resolves
    try:
        print("ready", flush=True)
        netsocket.make_client_socket("silent.test", 80, netsocket.socket_options(non_blocking=False))
        print("returned", flush=True)
    except KeyboardInterrupt:
        print("KeyboardInterrupt", flush=True)
        raise SystemExit(2)
""")


def test_sigint_stops_a_blocking_open_stuck_resolving_the_name():
    p = subprocess.Popen([SILENT_DNS, sys.executable, "-c", RESOLVING_CHILD],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = p.stdout.readline()
        if first == "" and p.wait(timeout=10) == 77:
            pytest.skip("no user/mount/network namespaces here")
        assert first == "ready\n"
        time.sleep(0.3)  # into the resolution (glibc would wait 30 s)
        t0 = time.monotonic()
        p.send_signal(signal.SIGINT)
        stdout, stderr = p.communicate(timeout=10)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert (p.returncode, stdout, stderr) == (2, "KeyboardInterrupt\n", "")
    assert time.monotonic() - t0 < 5
