"""Python's own conventions (issue 13): a call that would block raises a
BlockingIOError subclass saying which way to wait, as socket and ssl do."""
import pytest

import netsocket


def pair(plain_server):
    c = netsocket.make_client_socket("127.0.0.1", plain_server.info()[1],
                                      netsocket.socket_options(non_blocking=True))
    return c, plain_server.accept()


def test_recv_would_block_raises_blocking_io_error(plain_server):
    c, conn = pair(plain_server)
    with c, conn:
        with pytest.raises(BlockingIOError) as e:
            c.recv(10)
        assert type(e.value) is netsocket.WouldBlockError
        assert (e.value.wants, e.value.status, str(e.value)) == (
            netsocket.NS_WANT_READ, "NS_ERR_WOULD_BLOCK",
            f"recv from 127.0.0.1:{plain_server.info()[1]}: no data yet (non-blocking)")
        # `while data := s.recv(n)` no longer ends silently on a would-block
        with pytest.raises(netsocket.WouldBlockError):
            while c.recv(10):
                pass


def test_send_on_a_full_buffer_wants_write(plain_server):
    c, conn = pair(plain_server)
    with c, conn:
        chunk = b"x" * 65536
        with pytest.raises(netsocket.WouldBlockError) as e:
            for _ in range(10_000):  # the peer never reads: the buffers fill up
                c.send(chunk)
        assert e.value.wants == netsocket.NS_WANT_WRITE


def test_accept_with_nothing_pending_wants_read():
    with netsocket.make_server_socket("127.0.0.1", "0") as srv:
        with pytest.raises(netsocket.WouldBlockError) as e:
            srv.accept()
        assert e.value.wants == netsocket.NS_WANT_READ

