"""netsocket.aio opens clients on the loop itself (issue 12): name
resolution, connection attempts and the TLS handshake progress through
connect_start / connect_continue with the loop watching the fd the open
asks for, so no thread is blocked (none of the loop's executor either) and
cancelling an open closes the half-open socket at once.  On asyncio's
default loop and on uvloop.  Loopback only, every wait bounded."""
import asyncio
import concurrent.futures
import os
import socket
import threading
import time

import pytest

import netsocket
import netsocket.aio as aio
from test_aio import LOOPS, SCALE, client_options, run
from test_connect_start import blackholed_listener


class CountingExecutor(concurrent.futures.ThreadPoolExecutor):
    """The loop's default executor, counting the work handed to it."""

    def __init__(self):
        super().__init__(max_workers=2)
        self.submitted = 0

    def submit(self, *args, **kwargs):
        self.submitted += 1
        return super().submit(*args, **kwargs)


def open_sockets():
    """The process's socket descriptors."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            count += os.readlink("/proc/self/fd/" + fd).startswith("socket:")
        except OSError:  # the listing's own descriptor, closed by now
            pass
    return count


@pytest.mark.parametrize("loop_name", LOOPS)
def test_loop_keeps_running_during_a_tls_open_and_no_thread_is_used(certs, loop_name):
    """The server answers the ClientHello only once the client's loop has
    ticked 20 times: a loop blocked in the open (resolving "localhost",
    connecting or handshaking) would never get there."""
    go = threading.Event()
    listener = netsocket.make_server_tls_socket(
        "127.0.0.1", "0", netsocket.server_tls_socket_options(
            certificates=[certs.read("server.pem")], private_key=certs.read("server.key"),
            handshake=False, non_blocking=False, read_timeout=10_000_000))
    port = listener.info()[1]

    def serve():
        with listener.accept() as conn:
            assert go.wait(10 * SCALE)
            conn.handshake()
            conn.send_all(b"hello")
            assert conn.recv(10) == b""

    server = threading.Thread(target=serve, daemon=True)
    server.start()

    async def main():
        loop = asyncio.get_running_loop()
        executor = CountingExecutor()
        loop.set_default_executor(executor)
        ticks = 0

        async def ticker():
            nonlocal ticks
            while ticks < 20:
                await asyncio.sleep(0.01)
                ticks += 1
            go.set()

        ticking = asyncio.ensure_future(ticker())
        threads = threading.active_count()
        reader, writer = await aio.open_connection("localhost", port,
                                                   client_options(certs, connection_timeout=10_000_000))
        opened_after, threads_during = ticks, threading.active_count()
        got = await reader.readexactly(5)
        writer.close()
        await writer.wait_closed()
        await ticking
        return opened_after, got, executor.submitted, threads_during - threads

    try:
        assert run(loop_name, main()) == (20, b"hello", 0, 0)
    finally:
        go.set()
        server.join(10)
        listener.close()
    assert not server.is_alive()


@pytest.mark.parametrize("loop_name", LOOPS)
def test_wait_for_cancels_an_open_to_a_blackholed_listener(loop_name):
    """The SYN is dropped: the open waits for the connection; wait_for
    cancels it after 0.3 s and the half-open socket is closed right away,
    with nothing left running (the options would wait 10 s)."""
    listener, filler = blackholed_listener()
    port = listener.getsockname()[1]

    async def main():
        loop = asyncio.get_running_loop()
        executor = CountingExecutor()
        loop.set_default_executor(executor)
        before = open_sockets()
        started = loop.time()
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(aio.open_connection("127.0.0.1", port,
                                                       netsocket.socket_options(connection_timeout=10_000_000)),
                                   0.3)
        return loop.time() - started, open_sockets() - before, executor.submitted

    started = time.monotonic()
    with listener, filler:
        waited, leaked_sockets, submitted = run(loop_name, main())
    assert (leaked_sockets, submitted) == (0, 0)
    assert 0.28 <= waited < 1 * SCALE
    assert time.monotonic() - started < 2 * SCALE  # the loop closed without waiting for a thread


@pytest.mark.parametrize("loop_name", LOOPS)
def test_cancelling_an_open_in_its_handshake_closes_the_connection(certs, loop_name):
    """A listener that accepts and never speaks: the open is in its TLS
    handshake when it is cancelled; the peer then reads the ClientHello
    and the end of the stream."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(5 * SCALE)
    port = listener.getsockname()[1]

    async def main():
        task = asyncio.ensure_future(aio.connect("localhost", port, client_options(certs)))
        loop = asyncio.get_running_loop()
        conn, _ = await loop.run_in_executor(None, listener.accept)  # the test's side, not the open's
        conn.settimeout(5 * SCALE)
        # The ClientHello's record header and message type: the open waits for the answer.
        head = await loop.run_in_executor(None, conn.recv, 6, socket.MSG_WAITALL)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return conn, head

    with listener:
        conn, head = run(loop_name, main())
        rest = []
        for _ in range(100):  # the rest of the ClientHello, then the end of the stream
            rest.append(conn.recv(65536))
            if not rest[-1]:
                break
        conn.close()
    assert (head[:1], head[5:6], rest[-1]) == (b"\x16", b"\x01", b"")


def test_connect_timeout_during_resolution_and_connect_is_the_options():
    """The options' connection timeout bounds an open to a blackholed
    listener: ConnectTimeoutError with the C library's message."""
    listener, filler = blackholed_listener()
    port = listener.getsockname()[1]

    async def main():
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(netsocket.ConnectTimeoutError) as e:
            await aio.open_connection("127.0.0.1", port, netsocket.socket_options(connection_timeout=300_000))
        return str(e.value), loop.time() - started

    with listener, filler:
        message, waited = run("asyncio", main())
    assert message == "connect to 127.0.0.1:%d timed out after 300000 us (127.0.0.1 port %d: timed out)" % (
        port, port)
    assert 0.28 <= waited < 2 * SCALE


def test_opens_with_one_options_object_resume_the_session(certs):
    """The options are used as given, not copied per open: their TLS
    context and session cache serve the next connection."""
    from test_aio import echo, port_of, server_options

    async def main():
        options = client_options(certs)
        server = await aio.start_server(echo, "127.0.0.1", 0, server_options(certs))
        reused = []
        async with server:
            for _ in range(2):
                reader, writer = await aio.open_connection("localhost", port_of(server), options)
                writer.write(b"x")
                assert await reader.readexactly(1) == b"x"  # the TLS 1.3 ticket came with it
                reused.append(writer.get_extra_info("socket").session_reused())
                writer.close()
                await writer.wait_closed()
        return reused

    assert run("asyncio", main()) == [False, True]
