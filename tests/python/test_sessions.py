"""TLS configuration compiled once per options object and shared by threads;
client session resumption, saved sessions and the verifier on resumption."""
import subprocess
import sys
import textwrap

import netsocket

from conftest import blocking, start

# The script of test_changing_options_while_threads_connect: it runs in a
# child so that a crash (SIGSEGV before the fix) fails the test, not pytest.
MUTATE_WHILE_CONNECTING = textwrap.dedent("""
    import sys, threading, time
    import netsocket
    ca = open(sys.argv[1] + "/ca.pem", "rb").read()
    srv = netsocket.make_server_socket("127.0.0.1", "0", netsocket.socket_options(non_blocking=False))
    port = srv.info()[1]
    # No handshake: a connect is mostly the TLS context being built from o.
    o = netsocket.tls_socket_options(trusted_certificates=[ca], handshake=False, non_blocking=False,
                                     connection_timeout=5_000_000)
    CLIENTS, CONNECTS = 4, 500
    made = []

    def serve():
        for _ in range(CLIENTS * CONNECTS):
            srv.accept().close()

    def client():
        for _ in range(CONNECTS):
            with netsocket.make_client_tls_socket("127.0.0.1", port, o) as c:
                made.append(c.is_tls())

    threads = [threading.Thread(target=serve)] + [threading.Thread(target=client) for _ in range(CLIENTS)]
    for t in threads:
        t.start()
    changes, deadline = 0, time.monotonic() + 60
    while any(t.is_alive() for t in threads[1:]) and time.monotonic() < deadline:
        o.clear_trusted_certificates()
        o.add_trusted_certificate(ca * 20)  # a list for a connect to walk
        o.add_alpn("x-test")
        o.clear_alpn()
        changes += 1
    for t in threads:
        t.join(60)
    print(len(made), all(made), changes > 0)
""")



def test_changing_options_while_threads_connect(certs):
    r = subprocess.run([sys.executable, "-c", MUTATE_WHILE_CONNECTING, str(certs.dir)],
                       capture_output=True, text=True, timeout=100)
    assert (r.returncode, r.stdout, r.stderr) == (0, "2000 True True\n", "")
