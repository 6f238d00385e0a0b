"""The non-blocking open in the binding (issue 12): connect_start, then
Socket.connect_continue until True, waiting in between on wants_fd() in the
direction wants() says, at most wants_timeout() microseconds.  Loopback
only, every loop bounded."""
import select
import socket
import time

import pytest

import netsocket


def blackholed_listener():
    """A listener whose accept queue is full (backlog 0, one client
    queued): the kernel drops further SYNs, so a connect never completes."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    filler = socket.create_connection(listener.getsockname(), timeout=5)
    return listener, filler


def drive(sock, max_steps=100):
    """Runs the open with select(); the directions waited for, in order."""
    waits = []
    for _ in range(max_steps):
        try:
            if sock.connect_continue():
                return waits
        except netsocket.WouldBlockError as e:
            assert (e.wants, e.status) == (sock.wants(), "NS_ERR_WOULD_BLOCK")
            waits.append(e.wants)
        us = sock.wants_timeout()
        fd = sock.wants_fd()
        want_read = sock.wants() == netsocket.NS_WANT_READ
        select.select([fd] if want_read else [], [] if want_read else [fd], [], None if us < 0 else us / 1e6)
    raise AssertionError("the open took more than %d steps" % max_steps)


def test_connect_start_opens_a_client_step_by_step(plain_server):
    port = plain_server.info()[1]
    s = netsocket.connect_start(netsocket.socket_options(connection_timeout=5_000_000), "localhost", port)
    with s:
        # Opening: no descriptor of its own yet, not closed either.
        assert (s.fileno(), s.is_closed()) == (-1, False)
        waits = drive(s)
        assert set(waits) <= {netsocket.NS_WANT_READ, netsocket.NS_WANT_WRITE}
        # Open: nothing pending any more.
        assert (s.wants(), s.wants_fd(), s.wants_timeout() < 0, s.fileno() >= 0) == (0, -1, True, True)
        with plain_server.accept() as conn:
            s.send_all(b"ping")
            assert conn.recv(4) == b"ping"


def test_connect_start_tls_handshakes_within_the_open(certs):
    server = netsocket.make_server_tls_socket(
        "127.0.0.1", "0", netsocket.server_tls_socket_options(
            certificates=[certs.read("server.pem")], private_key=certs.read("server.key"),
            non_blocking=True))
    with server:
        s = netsocket.connect_start(netsocket.tls_socket_options(trusted_certificates=[certs.read("ca.pem")],
                                                                 connection_timeout=5_000_000),
                                    "localhost", server.info()[1])
        with s:
            conn = None
            for _ in range(100):  # the server's side runs here too, one step at a time
                if conn is None:
                    try:
                        conn = server.accept()
                    except netsocket.WouldBlockError:
                        pass
                else:
                    try:
                        conn.handshake()
                    except netsocket.WouldBlockError:
                        pass
                try:
                    if s.connect_continue():
                        break
                except netsocket.WouldBlockError:
                    time.sleep(0.005)
            else:
                raise AssertionError("the TLS open did not finish in 100 steps")
            assert (s.is_tls(), s.tls_version()) == (True, "TLSv1.3")
            conn.close()


def test_connect_continue_reports_a_refused_connection():
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.close()
    s = netsocket.connect_start(netsocket.socket_options(), "127.0.0.1", port)
    with s, pytest.raises(netsocket.SocketConnectionError) as e:
        drive(s)
    assert str(e.value) == "connect to 127.0.0.1:%d failed: 127.0.0.1 port %d: Connection refused" % (port, port)
    assert s.is_closed()


def test_connect_continue_times_out_on_a_blackholed_listener():
    listener, filler = blackholed_listener()
    port = listener.getsockname()[1]
    s = netsocket.connect_start(netsocket.socket_options(connection_timeout=200_000), "127.0.0.1", port)
    with s, listener, filler:
        started = time.monotonic()
        with pytest.raises(netsocket.ConnectTimeoutError) as e:
            drive(s)
        waited = time.monotonic() - started
    assert str(e.value) == ("connect to 127.0.0.1:%d timed out after 200000 us (127.0.0.1 port %d: timed out)"
                            % (port, port))
    assert 0.18 <= waited < 2


def test_connect_start_refuses_bad_arguments():
    with pytest.raises(netsocket.ValueError) as e:
        netsocket.connect_start(netsocket.socket_options(ai_flags=netsocket.AI_PASSIVE), "127.0.0.1", 80)
    assert str(e.value) == "connect to 127.0.0.1:80: AI_PASSIVE is for servers, not client sockets"
