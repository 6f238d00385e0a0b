"""TLS configuration compiled once per options object and shared by threads;
client session resumption, saved sessions and the verifier on resumption."""
import subprocess
import sys
import textwrap

import pytest

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


# ------------------------------------------------------------ resumption


def tls_server(certs, **fields):
    o = netsocket.server_tls_socket_options(certificates=[certs.read("server.pem")],
                                            private_key=certs.read("server.key"), **blocking(**fields))
    return netsocket.make_server_tls_socket("127.0.0.1", "0", o)


def client_options(certs, **fields):
    return netsocket.tls_socket_options(trusted_certificates=[certs.read("ca.pem")], **blocking(**fields))


def serve(srv, n):
    """Accepts n connections in turn; echoes one read on each; returns
    session_reused() of each accepted socket."""
    reused = []
    for _ in range(n):
        with srv.accept() as conn:
            reused.append(conn.session_reused())
            conn.send_all(conn.recv(10))
    return reused


def visit(srv, o):
    """One connection: (resumed?, the saved session or the error saving it)."""
    with netsocket.make_client_tls_socket("127.0.0.1", srv.info()[1], o) as c:
        c.send_all(b"ping")
        assert c.recv(10) == b"ping"  # brings the TLS 1.3 tickets
        try:
            saved = c.save_session()
        except ValueError as e:
            saved = e
        return c.session_reused(), saved


def test_one_options_object_resumes_and_runs_the_verifier(certs):
    srv = tls_server(certs)
    t = start(serve, srv, 4)
    calls = []

    def verifier(depth, err, der):
        calls.append(depth)
        return err == 0

    o = client_options(certs, certificate_verifier=verifier)
    assert o.session_resumption is True
    assert visit(srv, o)[0] is False
    assert calls == [1, 0]
    reused, saved = visit(srv, o)
    assert reused is True and isinstance(saved, bytes)
    assert calls == [1, 0, 1, 0]  # again, over the session's stored chain
    # A restarted process: new options, the saved session given first.
    fresh = netsocket.tls_socket_options(sessions=[saved], trusted_certificates=[certs.read("ca.pem")],
                                         **blocking())
    assert visit(srv, fresh)[0] is True
    # A change to the options: a new configuration, no old session.
    o.add_alpn("x-test")
    o.clear_alpn()
    assert visit(srv, o)[0] is False
    assert t.join() == [False, True, True, False]
    srv.close()


def test_bad_saved_sessions_and_resumption_off(certs):
    srv = tls_server(certs, session_resumption=False)
    t = start(serve, srv, 2)
    o = client_options(certs)
    reused, why = visit(srv, o)
    assert reused is False
    assert str(why) == ("save-session with 127.0.0.1:%d: no resumable session (resumption off, or no "
                        "ticket yet: TLS 1.3 tickets arrive with the first data received)" % srv.info()[1])
    assert visit(srv, o)[0] is False
    assert t.join() == [False, False]
    srv.close()
    with pytest.raises(ValueError) as e:
        client_options(certs, sessions=[b"not a session"])
    assert str(e.value) == "session: not a saved netsocket session"
    with pytest.raises(ValueError) as e:
        netsocket.socket_options(session_resumption=True)
    assert str(e.value) == "session-resumption? is not a field of socket-options"


def test_corrupt_saved_session_is_refused(certs):
    srv = tls_server(certs)
    t = start(serve, srv, 1)
    _, saved = visit(srv, client_options(certs))
    t.join()
    srv.close()
    bad = bytearray(saved)
    bad[len(bad) // 2] ^= 0x20
    with pytest.raises(ValueError) as e:
        client_options(certs, sessions=[bytes(bad)])
    assert str(e.value) == "session: corrupt (checksum mismatch)"
    with pytest.raises(ValueError) as e:
        client_options(certs, alpn=["h2"], sessions=[saved])
    assert str(e.value) == ("session: saved with another ALPN list or client identity than these "
                            "options have")
