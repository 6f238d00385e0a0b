"""Ctrl-C (SIGINT) and SIGTERM stop a program blocked in recv without a
timeout, in accept, or in a TLS handshake: the signal handlers run and
their exception propagates, as with Python's own sockets (issue 13).
Each case is a child process; every wait is bounded."""
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
