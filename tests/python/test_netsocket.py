"""Python binding tests: loopback only, every wait bounded."""
import ctypes
import gc
import os
import selectors
import socket
import ssl
import sys
import threading
import time

import pytest

import netsocket
from conftest import TIMEOUT_US, blocking, start


# ------------------------------------------------------------ builders


def test_builders_defaults_and_predicates():
    o = netsocket.socket_options()
    assert o.kind == netsocket.NS_SOCKET_OPTIONS
    assert o.ai_family == netsocket.AF_INET
    assert o.ai_socktype == netsocket.SOCK_STREAM
    assert o.ai_flags == netsocket.AI_V4MAPPED
    assert o.ai_protocol == 0
    assert o.non_blocking is True
    assert o.connection_timeout == -1 and o.read_timeout == -1
    assert netsocket.is_socket_options(o)
    assert not netsocket.is_tls_socket_options(o)
    assert not netsocket.is_server_tls_socket_options(o)
    for not_options in (None, 3, "x", object()):
        assert not netsocket.is_socket_options(not_options)

    t = netsocket.tls_socket_options(alpn=["h2", "http/1.1"], sni=["a.test"], handshake=False,
                                     read_timeout=1000, non_blocking=False)
    assert t.alpn == ["h2", "http/1.1"] and t.sni == ["a.test"]
    assert t.handshake is False and t.read_timeout == 1000 and t.non_blocking is False
    assert t.certificates == [] and t.trusted_certificates == []
    assert t.certificate_verifier is None and not t.has_private_key
    assert netsocket.is_tls_socket_options(t) and not netsocket.is_server_tls_socket_options(t)

    s = netsocket.server_tls_socket_options(client_certificate_required=True)
    assert s.client_certificate_required is True
    assert netsocket.is_server_tls_socket_options(s) and netsocket.is_socket_options(s)

    copied = netsocket.tls_socket_options(from_=t, sni=["b.test"])
    assert copied.alpn == ["h2", "http/1.1"] and copied.sni == ["a.test", "b.test"]


def test_builder_certificates_and_key(certs):
    o = netsocket.server_tls_socket_options(certificates=[certs.read("server.pem")],
                                            private_key=certs.read("server.key"),
                                            trusted_certificates=[certs.read("ca.pem").decode()])
    assert len(o.certificates) == 1 and o.certificates[0][:1] == b"\x30"  # DER
    assert o.has_private_key and len(o.trusted_certificates) == 1
    f = netsocket.tls_socket_options(certificate_files=[certs.path("client.pem")],
                                     private_key_file=certs.path("client.key"))
    assert len(f.certificates) == 1 and f.has_private_key


def test_builder_rejects_bad_fields():
    with pytest.raises(ValueError) as e:
        netsocket.socket_options(alpn=["h2"])
    assert e.value.status == "NS_ERR_INVALID" and "alpn" in str(e.value)
    with pytest.raises(ValueError):
        netsocket.tls_socket_options(alpn=[""])
    with pytest.raises(ValueError):
        netsocket.tls_socket_options(certificates=[b"not a certificate"])
    with pytest.raises(TypeError):
        netsocket.socket_options(no_such_field=1)
    with pytest.raises(TypeError):
        netsocket.tls_socket_options(certificate_verifier=42)


def test_builder_errors_name_the_field_and_what_it_takes():
    with pytest.raises(TypeError) as e:
        netsocket.tls_socket_options(alpn="h2")
    assert str(e.value) == "tls_socket_options: alpn takes a list of strings, not str"
    with pytest.raises(TypeError) as e:
        netsocket.socket_options(read_timeout=[1])
    assert str(e.value) == ("socket_options: read_timeout takes an integer (microseconds, -1 = no limit), "
                            "not list")
    with pytest.raises(TypeError) as e:
        netsocket.server_tls_socket_options(certificate_verifier=42)
    assert str(e.value) == ("server_tls_socket_options: certificate_verifier takes a callable "
                            "(depth, preverify_error, der) or nothing, not int")
    with pytest.raises(TypeError) as e:
        netsocket.socket_options(no_such_field=1)
    assert str(e.value).startswith("socket_options: no option field 'no_such_field' (the fields: ai_family, ")
    with pytest.raises(ValueError) as e:
        netsocket.socket_options(alpn=["h2"])
    assert str(e.value) == "alpn* is not a field of socket-options"


def test_option_fields_one_table():
    rows = netsocket.option_fields()
    assert [r[0] for r in rows] == [
        "ai_family", "ai_socktype", "ai_flags", "ai_protocol", "non_blocking", "connection_timeout",
        "read_timeout", "handshake", "private_key", "private_key_file", "certificates", "certificate_files",
        "certificate_verifier", "sni", "alpn", "trusted_certificates", "trusted_certificate_files",
        "client_certificate_required", "ignore_unexpected_eof", "key_log_file", "key_log_callback",
        "ech_config_list", "ech_grease", "session_resumption", "sessions"]
    o = netsocket.Options(netsocket.NS_SERVER_TLS_SOCKET_OPTIONS)
    for field, method, kinds, kinds_text, type_text, is_list in rows:
        assert callable(getattr(o, method)), field
        assert method == ("add_" if is_list else "set_") + method[4:]
        assert kinds & (1 << netsocket.NS_SERVER_TLS_SOCKET_OPTIONS | 1 << netsocket.NS_TLS_SOCKET_OPTIONS)
        assert type_text.startswith("a list of" if is_list else "a"), field
    assert "alpn: a list of strings (TLS options)" in netsocket.tls_socket_options.__doc__
    assert "alpn" not in netsocket.socket_options.__doc__
    # sni is the client's: a server picks identities by name (add_identity)
    assert "  sni: a list of strings (client TLS options)\n" in netsocket.tls_socket_options.__doc__
    assert "sni" not in netsocket.server_tls_socket_options.__doc__


def test_status_list_makes_constants_names_and_classes():
    expected = {  # status -> (value, exception class, its netsocket parent)
        "NS_OK": (0, None, None),
        "NS_ERR_INVALID": (-1, ValueError, None),
        "NS_ERR_NOMEM": (-2, MemoryError, None),
        "NS_ERR_HOST_NOT_FOUND": (-3, netsocket.HostNotFoundError, netsocket.Error),
        "NS_ERR_CONNECT": (-4, netsocket.SocketConnectionError, netsocket.Error),
        "NS_ERR_CONNECT_TIMEOUT": (-5, netsocket.ConnectTimeoutError, netsocket.Error),
        "NS_ERR_READ_TIMEOUT": (-6, netsocket.SocketReadTimeoutError, netsocket.Error),
        "NS_ERR_WOULD_BLOCK": (-7, netsocket.WouldBlockError, netsocket.Error),
        "NS_ERR_CLOSED": (-8, netsocket.SocketClosedError, netsocket.Error),
        "NS_ERR_TLS": (-9, netsocket.TLSError, netsocket.Error),
        "NS_ERR_CERTIFICATE": (-10, netsocket.CertificateError, netsocket.TLSError),
        "NS_ERR_IO": (-11, netsocket.Error, OSError),
        "NS_ERR_WRITE_TIMEOUT": (-12, netsocket.WriteTimeoutError, netsocket.Error),
    }
    constants = {n: getattr(netsocket, n) for n in dir(netsocket) if n == "NS_OK" or n.startswith("NS_ERR_")}
    assert constants == {n: v[0] for n, v in expected.items()}
    for name, (value, cls, parent) in expected.items():
        assert netsocket.status_name(value) == name
        if parent is not None:
            assert cls.__bases__[0] is parent, name
    assert issubclass(netsocket.SocketReadTimeoutError, TimeoutError)
    assert issubclass(netsocket.WriteTimeoutError, TimeoutError)
    assert issubclass(netsocket.WouldBlockError, BlockingIOError)
    assert issubclass(netsocket.SocketClosedError, ConnectionError)
    assert netsocket.status_name(-13) == "NS_ERR_UNKNOWN"


def test_version_and_constants():
    assert netsocket.version() == "%d.%d.%d" % (netsocket.NS_VERSION_MAJOR, netsocket.NS_VERSION_MINOR,
                                                netsocket.NS_VERSION_PATCH)
    assert netsocket.status_name(netsocket.NS_ERR_READ_TIMEOUT) == "NS_ERR_READ_TIMEOUT"
    assert netsocket.SHUT_WR == socket.SHUT_WR and netsocket.TCP_NODELAY == socket.TCP_NODELAY


# ------------------------------------------------------------ plain


def test_plain_exchange_binary_and_buffers(plain_server):
    port = plain_server.info()[1]
    payload = b"a\x00b\x00\xffz" * 1000

    def serve():
        with plain_server.accept() as conn:
            got = b""
            while len(got) < 3 * len(payload):
                chunk = conn.recv(65536)
                assert chunk
                got += chunk
            conn.send_all(got)
            conn.shutdown(netsocket.SHUT_WR)
            return conn.peer()

    t = start(serve)
    with netsocket.make_client_socket("127.0.0.1", port, netsocket.socket_options(**blocking())) as c:
        assert c.node == "127.0.0.1" and c.service == str(port)
        assert not c.is_tls() and c.fileno() >= 0
        c.send_all(payload)
        c.send_all(bytearray(payload))
        c.send_all(memoryview(payload))
        back = bytearray()
        buf = bytearray(4096)
        while True:
            n = c.recv_into(buf)
            if n == 0:
                break
            back += buf[:n]
        assert bytes(back) == payload * 3
        assert c.recv(10) == b""  # end of stream
        assert t.join() == ("127.0.0.1", c.info()[1])
    assert c.is_closed() and c.closed
    assert c.fileno() == -1


def test_close_then_collect_is_safe(plain_server):
    c = netsocket.make_client_socket("127.0.0.1", plain_server.info()[1],
                                     netsocket.socket_options(**blocking()))
    c.close()
    c.close()  # twice is fine
    with pytest.raises(netsocket.SocketClosedError):
        c.send(b"x")
    del c
    gc.collect()


def test_read_timeout_and_non_blocking_recv(plain_server):
    port = plain_server.info()[1]
    c = netsocket.make_client_socket("127.0.0.1", port, netsocket.socket_options(non_blocking=False,
                                                                                  read_timeout=100_000))
    conn = plain_server.accept()
    t0 = time.monotonic()
    with pytest.raises(netsocket.SocketReadTimeoutError) as e:
        c.recv(10)
    assert 0.08 < time.monotonic() - t0 < 3
    assert isinstance(e.value, TimeoutError) and isinstance(e.value, OSError)
    assert e.value.status == "NS_ERR_READ_TIMEOUT" and "timed out" in str(e.value)

    c.set_non_blocking(True)
    assert c.is_non_blocking()
    with pytest.raises(netsocket.WouldBlockError) as e:
        c.recv(10)
    assert isinstance(e.value, BlockingIOError) and e.value.wants == netsocket.NS_WANT_READ
    buf = bytearray(4)
    with pytest.raises(netsocket.WouldBlockError):
        c.recv_into(buf)
    conn.send_all(b"hi")
    got = None
    for _ in range(200):
        try:
            got = c.recv(10)
            break
        except netsocket.WouldBlockError:
            time.sleep(0.005)
    assert got == b"hi"
    c.set_read_timeout(-1)
    assert c.read_timeout == -1
    c.close()
    conn.close()


def test_blocking_calls_release_the_gil(plain_server):
    """A blocking recv in one thread lets another Python thread run."""
    c = netsocket.make_client_socket("127.0.0.1", plain_server.info()[1],
                                     netsocket.socket_options(non_blocking=False, read_timeout=300_000))
    conn = plain_server.accept()
    counter = [0]
    stop = threading.Event()

    def spin():
        while not stop.is_set():
            counter[0] += 1

    t = start(spin)
    with pytest.raises(netsocket.SocketReadTimeoutError):
        c.recv(1)
    before = counter[0]
    time.sleep(0)  # let the spinner see the GIL once more
    stop.set()
    t.join()
    assert before > 1000, "the spinning thread did not run during recv"
    c.close()
    conn.close()


def test_makefile_and_selectors_module(plain_server):
    c = netsocket.make_client_socket("127.0.0.1", plain_server.info()[1],
                                     netsocket.socket_options(**blocking()))
    conn = plain_server.accept()
    conn.send_all(b"line one\nline two\n")
    sel = selectors.DefaultSelector()
    sel.register(c, selectors.EVENT_READ)  # uses fileno()
    assert sel.select(timeout=5)
    sel.close()
    with c.makefile("r", encoding="utf-8") as f:
        assert f.readline() == "line one\n"
        assert f.readline() == "line two\n"
    w = conn.makefile("wb")
    w.write(b"x" * 10)
    w.flush()
    assert c.recv(10) == b"x" * 10
    c.close()
    conn.close()


def test_ipv6_and_socket_options_of_the_socket():
    o = netsocket.socket_options(ai_family=netsocket.AF_INET6, **blocking())
    with netsocket.make_server_socket("::1", 0, o) as srv:
        with netsocket.make_client_socket("::1", srv.info()[1], o) as c, srv.accept() as conn:
            assert conn.peer() == ("::1", c.info()[1])
            c.setsockopt(netsocket.IPPROTO_TCP, netsocket.TCP_NODELAY, 1)
            assert c.getsockopt(netsocket.IPPROTO_TCP, netsocket.TCP_NODELAY) == 1
            assert c.getsockopt(netsocket.SOL_SOCKET, netsocket.SO_TYPE) == netsocket.SOCK_STREAM
            linger = c.getsockopt_bytes(netsocket.SOL_SOCKET, netsocket.SO_LINGER, 8)
            assert len(linger) == 8
            c.setsockopt_bytes(netsocket.SOL_SOCKET, netsocket.SO_LINGER, linger)


def test_asyncio_watches_fileno(plain_server):
    import asyncio

    c = netsocket.make_client_socket("127.0.0.1", plain_server.info()[1], netsocket.socket_options())
    conn = plain_server.accept()

    async def read_when_ready():
        loop = asyncio.get_running_loop()
        ready = loop.create_future()
        loop.add_reader(c, ready.set_result, None)  # uses c.fileno()
        loop.call_later(0.05, conn.send_all, b"async")
        await asyncio.wait_for(ready, 5)
        loop.remove_reader(c)
        return c.recv(10)

    assert asyncio.run(read_when_ready()) == b"async"
    c.close()
    conn.close()


# ------------------------------------------------------------ TLS helpers


def ssl_server_context(certs, alpn=None, client_ca=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(certs.path("server.pem"), certs.path("server.key"))
    if alpn:
        ctx.set_alpn_protocols(alpn)
    if client_ca:
        ctx.load_verify_locations(client_ca)
        ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def run_ssl_server(ctx, expect_fail=False):
    """A Python ssl server for one connection; echoes one message upper-cased."""
    lsock = socket.create_server(("127.0.0.1", 0))
    lsock.settimeout(5)
    seen = {}

    def serve():
        with lsock:
            raw, _ = lsock.accept()
            raw.settimeout(5)
            sni = []
            ctx.sni_callback = lambda s, name, c: sni.append(name)
            try:
                tls = ctx.wrap_socket(raw, server_side=True)
            except (ssl.SSLError, OSError) as e:
                raw.close()
                if expect_fail:
                    return e
                raise
            with tls:
                seen["alpn"] = tls.selected_alpn_protocol()
                seen["sni"] = sni[0] if sni else None
                seen["peer"] = tls.getpeercert(binary_form=True)
                data = tls.recv(1024)
                tls.sendall(data.upper())
            return seen

    return lsock.getsockname()[1], start(serve)


def tls_client_options(certs, **fields):
    return netsocket.tls_socket_options(trusted_certificates=[certs.read("ca.pem")], **blocking(**fields))


def netsocket_tls_server(certs, **fields):
    fields.setdefault("certificates", [certs.read("server.pem")])
    fields.setdefault("private_key", certs.read("server.key"))
    o = netsocket.server_tls_socket_options(**blocking(**fields))
    return netsocket.make_server_tls_socket("127.0.0.1", "0", o)


# ------------------------------------------------------------ TLS


def test_tls_client_against_python_ssl_with_alpn_and_sni(certs):
    port, t = run_ssl_server(ssl_server_context(certs, alpn=["h2", "http/1.1"]))
    o = tls_client_options(certs, alpn=["http/1.1"], sni=["localhost"])
    with netsocket.make_client_tls_socket("127.0.0.1", port, o) as c:
        assert c.is_tls() and c.selected_alpn() == "http/1.1"
        assert c.tls_version() in ("TLSv1.2", "TLSv1.3") and c.tls_cipher()
        assert c.peer_certificate() == ssl.PEM_cert_to_DER_cert(certs.read("server.pem").decode())
        c.send_all(b"hello\x00tls")
        assert c.recv(100) == b"HELLO\x00TLS"
    seen = t.join()
    assert seen["alpn"] == "http/1.1" and seen["sni"] == "localhost"


def test_tls_server_against_python_ssl_client_with_mtls(certs):
    srv = netsocket_tls_server(certs, alpn=["h2"], client_certificate_required=True,
                               trusted_certificates=[certs.read("ca.pem")])

    def client():
        ctx = ssl.create_default_context(cafile=certs.path("ca.pem"))
        ctx.set_alpn_protocols(["h2"])
        ctx.load_cert_chain(certs.path("client.pem"), certs.path("client.key"))
        with socket.create_connection(("127.0.0.1", srv.info()[1]), timeout=5) as raw:
            with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
                tls.sendall(b"ping")
                return tls.selected_alpn_protocol(), tls.recv(100)

    t = start(client)
    with srv.accept() as conn:
        assert conn.server_name() == "localhost" and conn.selected_alpn() == "h2"
        assert conn.peer_certificate() == ssl.PEM_cert_to_DER_cert(certs.read("client.pem").decode())
        assert conn.recv(100) == b"ping"
        conn.send_all(b"pong")
    assert t.join() == ("h2", b"pong")
    srv.close()


def test_mtls_netsocket_both_ends_and_missing_client_cert(certs):
    srv = netsocket_tls_server(certs, client_certificate_required=True,
                               trusted_certificates=[certs.read("ca.pem")], read_timeout=2_000_000)
    port = srv.info()[1]
    t = start(srv.accept)
    c = netsocket.make_client_tls_socket("localhost", port, tls_client_options(
        certs, certificates=[certs.read("client.pem")], private_key=certs.read("client.key")))
    conn = t.join()
    c.send_all(b"m")
    assert conn.recv(1) == b"m"
    # The peer's whole chain as sent (one certificate each way here) and the group.
    assert c.peer_certificate_chain() == [c.peer_certificate()] and len(c.peer_certificate()) > 100
    assert conn.peer_certificate_chain() == [conn.peer_certificate()]
    assert (c.key_exchange_group(), conn.key_exchange_group()) == ("X25519", "X25519")
    assert (srv.peer_certificate_chain(), srv.key_exchange_group()) == ([], None)
    c.close()
    conn.close()

    # Without a client certificate the server's handshake fails.
    t = start(srv.accept)
    with pytest.raises(netsocket.TLSError):
        c = netsocket.make_client_tls_socket("localhost", port, tls_client_options(certs))
        c.recv(1)  # TLS 1.3: the rejection arrives after the client's handshake
    with pytest.raises(netsocket.TLSError):
        t.join()
    srv.close()


def _raising_verifier(depth, preverify_error, der):
    return 1 / 0


def test_verifier_accepts_rejects_and_raises(certs):
    calls = []

    def accept_all(depth, preverify_error, der):
        calls.append((depth, preverify_error, der[:1]))
        return True

    # No trusted certificates given and the CA is not in the system store:
    # the library alone rejects, the verifier accepting overrides it.
    for verifier, error in ((accept_all, None), (lambda d, e, der: False, netsocket.CertificateError),
                            (_raising_verifier, netsocket.CertificateError),
                            (None, netsocket.CertificateError)):
        port, t = run_ssl_server(ssl_server_context(certs), expect_fail=error is not None)
        o = netsocket.tls_socket_options(certificate_verifier=verifier, **blocking())
        if error is None:
            with netsocket.make_client_tls_socket("localhost", port, o) as c:
                c.send_all(b"ok")
                assert c.recv(10) == b"OK"
        else:
            with pytest.raises(error) as e:
                netsocket.make_client_tls_socket("localhost", port, o)
            assert isinstance(e.value, netsocket.TLSError) and e.value.status == "NS_ERR_CERTIFICATE"
            if verifier is _raising_verifier:  # what it raised is in the message
                assert "ZeroDivisionError" in str(e.value), str(e.value)
        t.join()
    assert calls and calls[-1][0] == 0 and calls[-1][2] == b"\x30"
    assert any(err != 0 for _, err, _ in calls)  # the library's own verdict is passed in


def test_verifier_lives_as_long_as_needed(certs):
    """The callable is referenced only by the options; the options go away
    before the handshake, a copy keeps it alive."""
    def make():
        hits = []
        o = netsocket.tls_socket_options(certificate_verifier=lambda d, e, der: hits.append(d) or True,
                                         **blocking())
        return o.copy(netsocket.NS_TLS_SOCKET_OPTIONS), hits

    copy, hits = make()
    gc.collect()
    port, t = run_ssl_server(ssl_server_context(certs))
    with netsocket.make_client_tls_socket("localhost", port, copy) as c:
        del copy
        gc.collect()
        c.send_all(b"x")
        assert c.recv(1) == b"X"
    t.join()
    assert hits


def test_verifier_reference_is_dropped_with_the_last_user(plain_server):
    def verifier(depth, err, der):
        return True

    base = sys.getrefcount(verifier)
    o = netsocket.tls_socket_options(certificate_verifier=verifier)
    copy = o.copy(netsocket.NS_SERVER_TLS_SOCKET_OPTIONS)
    assert sys.getrefcount(verifier) == base + 1  # one reference, shared by o and its copy in C
    del o
    gc.collect()
    assert sys.getrefcount(verifier) > base  # the copy still needs it
    copy.set_certificate_verifier(None)
    del copy
    gc.collect()
    assert sys.getrefcount(verifier) == base
    with pytest.raises(ValueError):  # plain options have no verifier: released at once
        netsocket.socket_options(certificate_verifier=verifier)
    assert sys.getrefcount(verifier) == base


def test_verifiers_in_many_threads(certs):
    """Handshakes in several threads at once, each calling back into Python."""
    srv = netsocket_tls_server(certs, read_timeout=5_000_000)
    port = srv.info()[1]
    calls = []

    def verifier(depth, err, der):
        calls.append(threading.current_thread().name)
        return True

    def client(i):
        o = netsocket.tls_socket_options(certificate_verifier=verifier, **blocking())
        with netsocket.make_client_tls_socket("localhost", port, o) as c:
            c.send_all(b"%d" % i)
            return c.recv(10)

    def server(n):
        for _ in range(n):
            with srv.accept() as conn:
                conn.send_all(conn.recv(10))

    s = start(server, 8)
    clients = [start(client, i) for i in range(8)]
    assert sorted(t.join() for t in clients) == sorted(b"%d" % i for i in range(8))
    s.join()
    srv.close()
    assert len(set(calls)) == 8


def test_verifier_on_server_side_runs_in_accept_thread(certs):
    seen = []
    srv = netsocket_tls_server(certs, client_certificate_required=True,
                               certificate_verifier=lambda d, e, der: seen.append(
                                   threading.current_thread().name) or True)
    t = start(srv.accept)
    c = netsocket.make_client_tls_socket("localhost", srv.info()[1], tls_client_options(
        certs, certificates=[certs.read("client.pem")], private_key=certs.read("client.key")))
    conn = t.join()
    c.send_all(b"v")
    assert conn.recv(1) == b"v"
    assert seen and all(name == t.name for name in seen)
    c.close()
    conn.close()
    srv.close()


def test_handshake_later_non_blocking(certs):
    srv = netsocket_tls_server(certs)
    t = start(srv.accept)
    c = netsocket.make_client_tls_socket("localhost", srv.info()[1],
                                         tls_client_options(certs, handshake=False))
    assert c.tls_version() is None
    c.handshake()
    conn = t.join()
    assert c.tls_version() is not None
    conn.send_all(b"abc")
    deadline = time.monotonic() + 5
    while c.pending() == 0 and time.monotonic() < deadline:
        sel = netsocket.Selector()
        sel.add(c, 100_000)
        sel.wait(200_000)
        if c.recv(1, netsocket.MSG_PEEK):
            break
    assert c.recv(3) == b"abc"
    c.close()
    conn.close()
    srv.close()


# ------------------------------------------------------------ errors


def test_error_classes(certs, plain_server):
    assert issubclass(netsocket.Error, OSError)
    assert issubclass(netsocket.CertificateError, netsocket.TLSError)
    assert issubclass(netsocket.ConnectTimeoutError, TimeoutError)
    assert issubclass(netsocket.SocketReadTimeoutError, TimeoutError)
    assert issubclass(netsocket.WriteTimeoutError, TimeoutError)

    with pytest.raises(netsocket.HostNotFoundError) as e:
        netsocket.make_client_socket("no-such-host.invalid", "80", netsocket.socket_options(**blocking()))
    assert e.value.status == "NS_ERR_HOST_NOT_FOUND" and "no-such-host.invalid" in str(e.value)

    free_port = plain_server.info()[1]
    plain_server.close()
    with pytest.raises(netsocket.SocketConnectionError) as e:
        netsocket.make_client_socket("127.0.0.1", free_port, netsocket.socket_options(**blocking()))
    assert e.value.errno == 111

    # A listener that never answers the TLS handshake: the connection
    # timeout covers the handshake.
    mute = netsocket.make_server_socket("127.0.0.1", "0", netsocket.socket_options())
    t0 = time.monotonic()
    with pytest.raises(netsocket.ConnectTimeoutError) as e:
        netsocket.make_client_tls_socket("127.0.0.1", mute.info()[1],
                                         tls_client_options(certs, connection_timeout=200_000))
    assert isinstance(e.value, TimeoutError) and time.monotonic() - t0 < 3

    mute.close()
    idle = netsocket.make_server_socket("127.0.0.1", "0", netsocket.socket_options())
    with pytest.raises(netsocket.WouldBlockError) as e:
        idle.accept()  # non-blocking listener, nobody connecting
    assert isinstance(e.value, BlockingIOError)
    idle.close()

    # ALPN without overlap fails the handshake: TLSError.
    srv = netsocket_tls_server(certs, alpn=["h2"], read_timeout=2_000_000)
    t = start(srv.accept)
    with pytest.raises(netsocket.TLSError) as e:
        netsocket.make_client_tls_socket("localhost", srv.info()[1], tls_client_options(certs, alpn=["x"]))
    assert e.value.status in ("NS_ERR_TLS", "NS_ERR_CLOSED") or isinstance(e.value, netsocket.TLSError)
    with pytest.raises(netsocket.Error):
        t.join()

    # An untrusted CA: CertificateError.
    t = start(srv.accept)
    o = netsocket.tls_socket_options(trusted_certificates=[certs.read("other-ca.pem")], **blocking())
    with pytest.raises(netsocket.CertificateError):
        netsocket.make_client_tls_socket("localhost", srv.info()[1], o)
    with pytest.raises(netsocket.Error):
        t.join()
    srv.close()

    with pytest.raises(ValueError):
        netsocket.make_server_tls_socket("127.0.0.1", "0", netsocket.server_tls_socket_options())
    with pytest.raises(netsocket.SocketClosedError):
        srv.accept()
    assert netsocket.last_status() == netsocket.NS_ERR_CLOSED and netsocket.last_error()


def test_socket_options_to_client_socket_with_server_options_is_a_tls_client(plain_server):
    # server-tls-socket-options are tls-socket-options: a TLS client is made
    # (the server-only fields are ignored); against a plain server that never
    # answers, the connection timeout bounds its handshake.
    o = netsocket.server_tls_socket_options(connection_timeout=200_000)
    with pytest.raises(netsocket.ConnectTimeoutError) as e:
        netsocket.socket_options_to_client_socket(o, "127.0.0.1", plain_server.info()[1])
    assert "TLS handshake" in str(e.value)


def test_waitall_timeout_keeps_partial_data(plain_server):
    o = netsocket.socket_options(non_blocking=False, read_timeout=200_000)
    with netsocket.make_client_socket("127.0.0.1", plain_server.info()[1], o) as c, plain_server.accept() as conn:
        conn.send_all(b"ab")
        # The timeout ends the wait; the bytes already taken are returned.
        assert c.recv(4, netsocket.MSG_WAITALL) == b"ab"


def test_socket_options_to_client_socket(certs, plain_server):
    c = netsocket.socket_options_to_client_socket(netsocket.socket_options(**blocking()), "127.0.0.1",
                                                  plain_server.info()[1])
    assert not c.is_tls()
    c.close()
    srv = netsocket_tls_server(certs)
    t = start(srv.accept)
    with netsocket.socket_options_to_client_socket(tls_client_options(certs), "localhost", srv.info()[1]) as c:
        assert c.is_tls() and c.tls_version()
    t.join().close()
    srv.close()


# ------------------------------------------------------------ selector


def test_selector_events_and_timeouts(plain_server):
    port = plain_server.info()[1]
    a = netsocket.make_client_socket("127.0.0.1", port, netsocket.socket_options(**blocking()))
    conn_a = plain_server.accept()
    b = netsocket.make_client_socket("127.0.0.1", port, netsocket.socket_options(**blocking()))
    conn_b = plain_server.accept()
    with netsocket.Selector() as sel:
        sel.add(a, -1, "A")
        sel.add(b, 50_000, {"name": "B"})
        assert len(sel) == 2
        conn_a.send_all(b"!")
        events = []
        for _ in range(10):
            events += sel.wait(2_000_000)
            if len(events) == 2:
                break
        assert sorted((d if isinstance(d, str) else d["name"], to) for _, d, to in events) == [
            ("A", False), ("B", True)]
        assert {id(s) for s, _, _ in events} == {id(a), id(b)}
        assert len(sel) == 0
        assert sel.wait(10_000) == []

        # interrupt from another thread wakes a wait with no limit
        sel.add(b)
        t = start(lambda: (time.sleep(0.1), sel.interrupt()))
        t0 = time.monotonic()
        assert sel.wait(-1) == []
        assert time.monotonic() - t0 < 3
        t.join()
        sel.remove(b)
        assert len(sel) == 0
    for s in (a, b, conn_a, conn_b):
        s.close()


# ------------------------------------------------------------ lifetime


def _heap_in_use():
    """Bytes of C heap in use (tests/heap_probe.c), and Python's blocks."""
    probe = os.environ.get("NS_HEAP_PROBE")
    if not probe:
        pytest.skip("NS_HEAP_PROBE (the test-only heap probe) is not set")
    lib = ctypes.CDLL(probe)
    lib.ns_test_heap_in_use.restype = ctypes.c_size_t
    gc.collect()
    return lib.ns_test_heap_in_use(), sys.getallocatedblocks()


def test_no_leak_over_10000_tls_connections(certs):
    """Each cycle: new server options (certificate, key, ALPN, a verifier) and
    client options, a TLS handshake with a netsocket server in this process,
    the TLS queries, both ends closed.  A leak of 100 bytes per cycle is
    1,000,000 over 10,000; the bound is half that, and 5,000 Python blocks.
    (No data exchange: a small write after the handshake waits out the
    peer's delayed ACK, 40 ms a cycle.)"""
    pem, key = certs.read("server.pem"), certs.read("server.key")
    srv = netsocket_tls_server(certs, alpn=["h2"])
    port = str(srv.info()[1])

    def serve(n):
        for _ in range(n):
            with srv.accept() as conn:
                assert conn.server_name() == "localhost"

    def cycle(n):
        t = start(serve, n)
        for _ in range(n):
            so = netsocket.server_tls_socket_options(certificates=[pem], private_key=key,
                                                     alpn=["h2"], certificate_verifier=lambda *a: True)
            o = tls_client_options(certs, alpn=["h2"], certificate_verifier=lambda *a: True)
            with netsocket.make_client_tls_socket("localhost", port, o) as c:
                assert c.selected_alpn() == "h2" and c.peer_certificate()
            del so, o, c
        t.join(timeout=120)

    cycle(1000)
    heap, blocks = _heap_in_use()
    cycle(10000)
    heap_after, blocks_after = _heap_in_use()
    srv.close()
    assert heap_after - heap < 500_000, "C heap grew by %d bytes" % (heap_after - heap)
    assert blocks_after - blocks < 5_000, "%d more Python blocks" % (blocks_after - blocks)
