"""netsocket.aio: asyncio streams and awaitable sockets, on asyncio's
default loop and on uvloop; server and clients share one thread and one
loop.  Loopback only, every wait bounded."""
import asyncio
import os
import pathlib
import resource
import signal
import socket
import ssl
import subprocess
import sys
import time

import pytest

import netsocket
import netsocket.aio as aio

LOOPS = ["asyncio", "uvloop"]
SCALE = float(os.environ.get("NS_TEST_TIME_SCALE", "1"))


def run(loop_name, coro, timeout=30):
    """Runs coro on a fresh loop of the named kind, bounded in time."""
    if loop_name == "uvloop":
        uvloop = pytest.importorskip("uvloop")
        factory = uvloop.new_event_loop
    else:
        factory = asyncio.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(asyncio.wait_for(coro, timeout * SCALE))


def server_options(certs, **fields):
    return netsocket.server_tls_socket_options(certificates=[certs.read("server.pem")],
                                               private_key=certs.read("server.key"), **fields)


def client_options(certs, **fields):
    return netsocket.tls_socket_options(trusted_certificates=[certs.read("ca.pem")], **fields)


def port_of(server):
    return server.sockets[0].info()[1]


def pattern(seed, size):
    """Bytes distinct per connection, so a byte delivered to the wrong
    client or out of order fails the comparison."""
    block = seed.to_bytes(4, "big") * 64
    return (block * (size // len(block) + 1))[:size] if seed % 2 else os.urandom(size)


async def echo(reader, writer):
    while True:
        data = await reader.read(65536)
        if not data:
            break
        writer.write(data)
        await writer.drain()
    writer.close()
    await writer.wait_closed()


@pytest.fixture
def many_files():
    """RLIMIT_NOFILE raised for thousands of sockets (as tests/c/load_selector_echo.c)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = 4500
    if hard != resource.RLIM_INFINITY and hard < need:
        pytest.skip("RLIMIT_NOFILE hard limit %d < %d" % (hard, need))
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, need), hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


# ------------------------------------------------------------ streams


@pytest.mark.parametrize("loop_name", LOOPS)
def test_thousand_concurrent_tls_streams_every_byte_checked(certs, many_files, loop_name):
    clients, size = 1000, 16 * 1024

    async def client(server_port, i):
        reader, writer = await aio.open_connection("127.0.0.1", server_port,
                                                   client_options(certs, connection_timeout=20_000_000))
        data = pattern(i, size + i)
        half = len(data) // 2
        writer.write(data[:half])
        await writer.drain()
        writer.write(data[half:])
        writer.write_eof()
        got = await reader.read()  # until the server closes
        writer.close()
        await writer.wait_closed()
        return got == data, len(got)

    async def main():
        server = await aio.start_server(echo, "127.0.0.1", 0, server_options(certs))
        async with server:
            results = await asyncio.gather(*(client(port_of(server), i) for i in range(clients)))
        return results

    started = time.monotonic()
    results = run(loop_name, main(), timeout=120)
    assert results == [(True, size + i) for i in range(clients)]
    print("%s: %d TLS echo connections in %.1f s" % (loop_name, clients, time.monotonic() - started))


@pytest.mark.parametrize("loop_name", LOOPS)
def test_plain_streams_behave_as_asyncio_streams(loop_name):
    seen = {}

    async def handle(reader, writer):
        seen["peer"] = writer.get_extra_info("peername")
        seen["nodelay"] = writer.get_extra_info("socket").getsockopt(netsocket.IPPROTO_TCP, netsocket.TCP_NODELAY)
        line = await reader.readline()
        exact = await reader.readexactly(5)
        until = await reader.readuntil(b"!")
        writer.writelines([line.upper(), exact[::-1], until])
        await writer.drain()
        seen["rest"] = await reader.read()  # the client's write_eof
        writer.write(b"after eof")
        writer.close()
        await writer.wait_closed()

    async def main():
        server = await aio.start_server(handle, "127.0.0.1", 0)
        async with server:
            reader, writer = await aio.open_connection("127.0.0.1", port_of(server))
            assert isinstance(reader, asyncio.StreamReader) and isinstance(writer, asyncio.StreamWriter)
            assert writer.can_write_eof()
            writer.write(b"line one\nabcdeuntil here!tail")
            writer.write_eof()
            got = await reader.read()
            with pytest.raises(asyncio.IncompleteReadError) as e:
                await reader.readexactly(1)
            assert e.value.partial == b""
            assert writer.get_extra_info("sockname") == seen["peer"]
            assert isinstance(writer.get_extra_info("socket"), netsocket.Socket)
            # As asyncio's transports: no Nagle delay on either side.
            assert writer.get_extra_info("socket").getsockopt(netsocket.IPPROTO_TCP, netsocket.TCP_NODELAY) == 1
            writer.close()
            await writer.wait_closed()
            assert writer.is_closing()
            return got

    assert run(loop_name, main()) == b"LINE ONE\nedcbauntil here!after eof"
    assert (seen["rest"], seen["nodelay"]) == (b"tail", 1)


def test_drain_waits_for_a_slow_reader_and_delivers_everything(certs):
    size = 8 * 1024 * 1024

    async def main():
        received = asyncio.get_running_loop().create_future()

        async def slow(reader, writer):
            await asyncio.sleep(0.3)  # the client's buffers fill meanwhile
            received.set_result(await reader.readexactly(size))
            writer.close()

        server = await aio.start_server(slow, "127.0.0.1", 0, server_options(certs))
        async with server:
            reader, writer = await aio.open_connection("localhost", port_of(server), client_options(certs))
            data = os.urandom(size)
            writer.write(data)
            assert writer.transport.get_write_buffer_size() > 0  # did not all fit at once
            await writer.drain()
            assert writer.transport.get_write_buffer_size() <= 16 * 1024
            assert await received == data
            writer.close()

    run("asyncio", main())


def test_tls_details_in_extra_info(certs):
    async def main():
        server = await aio.start_server(echo, "127.0.0.1", 0, server_options(certs, alpn=["h2"]))
        async with server:
            _, writer = await aio.open_connection("localhost", port_of(server),
                                                  client_options(certs, alpn=["h2"]))
            info = {k: writer.get_extra_info(k) for k in ("alpn_protocol", "tls_version")}
            der = writer.get_extra_info("peer_certificate")
            writer.close()
            await writer.wait_closed()
            return info, der

    info, der = run("asyncio", main())
    assert info == {"alpn_protocol": "h2", "tls_version": "TLSv1.3"}
    assert der == ssl.PEM_cert_to_DER_cert(certs.read("server.pem").decode())


# ------------------------------------------------------------ interop with asyncio's own TLS


def test_aio_client_against_asyncio_ssl_server_and_back(certs):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(certs.path("server.pem"), certs.path("server.key"))
    cctx = ssl.create_default_context(cafile=certs.path("ca.pem"))

    async def main():
        theirs = await asyncio.start_server(echo, "127.0.0.1", 0, ssl=ctx)
        ours = await aio.start_server(echo, "127.0.0.1", 0, server_options(certs))
        results = []
        async with theirs, ours:
            for opener, port in ((aio.open_connection, theirs.sockets[0].getsockname()[1]),
                                 (None, port_of(ours))):
                if opener:
                    reader, writer = await opener("localhost", port, client_options(certs))
                else:
                    reader, writer = await asyncio.open_connection("localhost", port, ssl=cctx)
                data = os.urandom(300_000)
                writer.write(data)  # no write_eof: asyncio's TLS closes on close_notify
                got = await reader.readexactly(len(data))
                results.append(got == data)
                writer.close()
        return results

    assert run("asyncio", main()) == [True, True]


# ------------------------------------------------------------ bad cases


def test_peer_vanishing_without_close_notify_is_a_connection_error(certs):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(certs.path("server.pem"), certs.path("server.key"))

    async def vanish(reader, writer):
        writer.write(b"partial")
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.transport.abort()  # asyncio's TLS: no close_notify

    async def main():
        server = await asyncio.start_server(vanish, "127.0.0.1", 0, ssl=ctx)
        async with server:
            reader, writer = await aio.open_connection("localhost", server.sockets[0].getsockname()[1],
                                                       client_options(certs))
            assert await reader.readexactly(7) == b"partial"
            with pytest.raises(netsocket.SocketClosedError) as e:
                await reader.read(10)
            writer.close()
            return e.value, server.sockets[0].getsockname()[1]

    e, port = run("asyncio", main())
    assert isinstance(e, ConnectionError)
    assert str(e) == ("TLS recv from localhost:%d: the peer closed the connection without close_notify (what "
                      "was received may be truncated; the option ignore-unexpected-eof? accepts this as the end "
                      "of the stream)" % port)


@pytest.mark.parametrize("loop_name", LOOPS)
def test_peer_reset_fails_the_reader(loop_name):
    listener = socket.create_server(("127.0.0.1", 0))
    listener.setblocking(False)
    port = listener.getsockname()[1]

    async def main():
        loop = asyncio.get_running_loop()
        reader, writer = await aio.open_connection("127.0.0.1", listener.getsockname()[1])
        raw, _ = await loop.sock_accept(listener)
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        raw.close()  # RST
        with pytest.raises(netsocket.SocketClosedError) as e:
            await reader.read(10)
        writer.close()
        with pytest.raises(netsocket.SocketClosedError):  # as asyncio: wait_closed re-raises
            await writer.wait_closed()
        return e.value

    e = run(loop_name, main())
    listener.close()
    assert isinstance(e, ConnectionError)
    assert str(e) == "recv from 127.0.0.1:%d: Connection reset by peer" % port


@pytest.mark.parametrize("loop_name", LOOPS)
def test_silent_and_broken_clients_do_not_stop_the_server(certs, loop_name):
    async def main():
        server = await aio.start_server(echo, "127.0.0.1", 0, server_options(certs), ssl_handshake_timeout=0.3)
        async with server:
            port = port_of(server)
            loop = asyncio.get_running_loop()
            silent = socket.create_connection(("127.0.0.1", port))  # never speaks
            silent.setblocking(False)
            garbage = socket.create_connection(("127.0.0.1", port))
            garbage.sendall(b"GET / HTTP/1.0\r\n\r\n")  # not TLS
            garbage.setblocking(False)
            reader, writer = await aio.open_connection("localhost", port, client_options(certs))
            writer.write(b"still serving")
            assert await reader.readexactly(13) == b"still serving"
            started = loop.time()
            assert await asyncio.wait_for(loop.sock_recv(silent, 10), 5) == b""  # closed by the server
            waited = loop.time() - started
            # BoringSSL answers plain HTTP with no alert: the server just closes.
            assert await asyncio.wait_for(loop.sock_recv(garbage, 100), 5) == b""
            silent.close()
            garbage.close()
            writer.close()
            return waited

    assert run(loop_name, main()) < 3 * SCALE


def test_connect_timeout_to_a_server_that_never_handshakes(certs):
    listener = socket.create_server(("127.0.0.1", 0))  # accepts (backlog), never speaks

    async def main():
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(netsocket.ConnectTimeoutError) as e:
            # A numeric address: the deadline falls in the handshake, not
            # in a name resolution slowed by a busy machine.
            await aio.open_connection("127.0.0.1", listener.getsockname()[1],
                                      client_options(certs, connection_timeout=300_000))
        return e.value, loop.time() - started

    port = listener.getsockname()[1]
    e, waited = run("asyncio", main())
    listener.close()
    assert isinstance(e, TimeoutError)
    # The C library's message, as the blocking constructors give it.
    assert str(e) == "TLS handshake with 127.0.0.1:%d: timed out after 300000 us" % port
    assert 0.25 <= waited < 2 * SCALE


def test_connection_refused_and_unknown_host():
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.close()

    async def main():
        with pytest.raises(netsocket.SocketConnectionError) as refused:
            await aio.open_connection("127.0.0.1", port)
        with pytest.raises(netsocket.HostNotFoundError):
            await aio.open_connection("no-such-host.invalid", 443)
        return str(refused.value)

    assert run("asyncio", main()) == "connect to 127.0.0.1:%d failed: 127.0.0.1 port %d: Connection refused" % (
        port, port)


def test_certificate_rejected_through_streams(certs):
    async def main():
        server = await aio.start_server(echo, "127.0.0.1", 0, server_options(certs))
        async with server:
            with pytest.raises(netsocket.CertificateError):
                await aio.open_connection("localhost", port_of(server),
                                          netsocket.tls_socket_options(trusted_certificates=[certs.read("other-ca.pem")]))

    run("asyncio", main())


@pytest.mark.parametrize("loop_name", LOOPS)
def test_cancelling_a_pending_read_leaves_the_stream_usable(certs, loop_name):
    async def main():
        release = asyncio.Event()

        async def late(reader, writer):
            await release.wait()
            writer.write(b"late data")
            await writer.drain()
            writer.close()

        server = await aio.start_server(late, "127.0.0.1", 0, server_options(certs))
        async with server:
            reader, writer = await aio.open_connection("localhost", port_of(server), client_options(certs))
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(reader.read(100), 0.1)
            task = asyncio.ensure_future(reader.readexactly(4))
            await asyncio.sleep(0.05)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            release.set()
            got = await reader.readexactly(9)
            writer.close()
            await writer.wait_closed()
            return got

    assert run(loop_name, main()) == b"late data"


def test_callback_raising_closes_that_client_only():
    errors = []

    async def handle(reader, writer):
        if await reader.readexactly(1) == b"x":
            raise RuntimeError("boom")
        writer.write(b"ok")
        writer.close()

    async def main():
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(lambda loop, ctx: errors.append(ctx["exception"]))
        server = await aio.start_server(handle, "127.0.0.1", 0)
        async with server:
            r1, w1 = await aio.open_connection("127.0.0.1", port_of(server))
            w1.write(b"x")
            first = await r1.read()
            r2, w2 = await aio.open_connection("127.0.0.1", port_of(server))
            w2.write(b"y")
            second = await r2.read()
            w1.close()
            w2.close()
            return first, second

    assert run("asyncio", main()) == (b"", b"ok")
    assert [repr(e) for e in errors] == ["RuntimeError('boom')"]


# ------------------------------------------------------------ awaitable sockets


@pytest.mark.parametrize("loop_name", LOOPS)
def test_async_socket_methods(certs, loop_name):
    async def main():
        listener = aio.listen("127.0.0.1", 0, server_options(certs))
        port = listener.socket.info()[1]
        accepted = asyncio.ensure_future(listener.accept())
        client = await aio.connect("localhost", port, client_options(certs))
        conn = await accepted
        data = os.urandom(1_000_000)
        sending = asyncio.ensure_future(client.send_all(data))
        got = bytearray()
        while len(got) < len(data):
            got += await conn.recv(65536)
        assert await sending == len(data)
        await conn.send_all(b"bye")
        conn.close()
        tail = await client.recv(10)
        end = await client.recv(10)
        client.close()
        listener.close()
        return bytes(got) == data, tail, end

    assert run(loop_name, main()) == (True, b"bye", b"")


def test_async_recv_honours_the_read_timeout_and_cancellation():
    async def main():
        loop = asyncio.get_running_loop()
        listener = aio.listen("127.0.0.1", 0)
        accepted = asyncio.ensure_future(listener.accept())
        client = await aio.connect("127.0.0.1", listener.socket.info()[1], netsocket.socket_options())
        conn = await accepted
        client.socket.set_read_timeout(200_000)
        started = loop.time()
        with pytest.raises(netsocket.SocketReadTimeoutError) as e:
            await client.recv(10)
        waited = loop.time() - started
        client.socket.set_read_timeout(-1)
        pending = asyncio.ensure_future(client.recv(10))
        await asyncio.sleep(0.05)
        pending.cancel()
        with pytest.raises(asyncio.CancelledError):
            await pending
        assert not loop.remove_reader(client.fileno())  # the cancelled wait left nothing behind
        await conn.send_all(b"after")
        got = await client.recv(10)
        for s in (client, conn, listener):
            s.close()
        return str(e.value), waited, got

    message, waited, got = run("asyncio", main())
    assert message == "recv timed out after 200000 us"
    assert 0.18 <= waited < 2 * SCALE
    assert got == b"after"


def test_loop_does_not_spin_while_connections_idle(certs):
    async def main():
        server = await aio.start_server(echo, "127.0.0.1", 0, server_options(certs))
        async with server:
            pairs = [await aio.open_connection("localhost", port_of(server), client_options(certs))
                     for _ in range(20)]
            cpu = time.process_time()
            await asyncio.sleep(0.5)
            used = time.process_time() - cpu
            for _, w in pairs:
                w.close()
            return used

    assert run("asyncio", main()) < 0.05


# ------------------------------------------------------------ the example


def test_asyncio_echo_server_example(certs):
    example = pathlib.Path(__file__).resolve().parents[2] / "examples" / "asyncio_echo_server.py"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    proc = subprocess.Popen([sys.executable, str(example), "0", certs.path("server.pem"), certs.path("server.key")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("listening on 127.0.0.1:"), line + proc.stderr.read()
        port = int(line.rsplit(":", 1)[1])
        ctx = ssl.create_default_context(cafile=certs.path("ca.pem"))
        data = os.urandom(200_000)

        async def client():
            reader, writer = await asyncio.open_connection("localhost", port, ssl=ctx)
            writer.write(data)
            got = await reader.readexactly(len(data))
            writer.close()
            return got

        assert run("asyncio", client()) == data
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
    assert (proc.returncode, err) == (0, "")
