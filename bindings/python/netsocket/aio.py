"""netsocket on asyncio: streams and awaitable sockets.

    reader, writer = await netsocket.aio.open_connection(host, port, options)
    server = await netsocket.aio.start_server(client_connected_cb, host, port, options)

mirror asyncio.open_connection / asyncio.start_server: the reader and the
writer ARE asyncio.StreamReader / asyncio.StreamWriter, fed by a transport
over a non-blocking netsocket socket, so code written for asyncio's streams
switches with one line.  AsyncSocket gives awaitable recv/send/accept/
handshake for lower-level use.  Any loop with add_reader/add_writer works
(asyncio's default loop, uvloop).

A netsocket call that must wait raises WouldBlockError, whose wants
attribute says which way (NS_WANT_READ / NS_WANT_WRITE); the loop then
watches the socket's fd that way.
"""
import asyncio

import netsocket
from netsocket._transport import CHUNK, READ, WRITE, Transport, direction

_DEFAULT_LIMIT = 2 ** 16  # asyncio's stream buffer limit
_HANDSHAKE_TIMEOUT = 60.0  # seconds, as asyncio's ssl_handshake_timeout

__all__ = ["open_connection", "start_server", "connect", "listen", "AsyncSocket", "Server"]


def _timeout_error(cls, what, us):
    e = cls("%s timed out after %d us" % (what, us))
    e.status = "NS_ERR_READ_TIMEOUT" if cls is netsocket.SocketReadTimeoutError else "NS_ERR_CONNECT_TIMEOUT"
    e.code = getattr(netsocket, e.status)
    return e


async def _ready(loop, fd, direction, timeout=None):
    """Waits until fd is ready for direction or timeout seconds (None: no
    limit) have passed, whichever comes first (a cancellable await)."""
    fut = loop.create_future()
    if direction == WRITE:
        loop.add_writer(fd, _wake, fut)
    else:
        loop.add_reader(fd, _wake, fut)
    timer = None if timeout is None else loop.call_later(timeout, _wake, fut)
    try:
        await fut
    finally:
        if direction == WRITE:
            loop.remove_writer(fd)
        else:
            loop.remove_reader(fd)
        if timer is not None:
            timer.cancel()


def _wake(fut):
    if not fut.done():
        fut.set_result(None)


async def _until_done(loop, sock, call, default, deadline=None, on_timeout=None):
    """Calls call() until it stops raising WouldBlockError, waiting on the
    socket's fd in between; deadline is a loop time or None (then, once it
    has passed, on_timeout() is raised)."""
    while True:
        try:
            return call()
        except BlockingIOError as exc:
            way = direction(exc, default)
        left = None if deadline is None else deadline - loop.time()
        if left is not None and left <= 0:
            raise on_timeout()
        await _ready(loop, sock.fileno(), way, left)


def _no_delay(sock):
    """As asyncio does for every TCP transport: small writes (a request, the
    byte after a handshake) leave at once instead of waiting for an ACK."""
    sock.setsockopt(netsocket.IPPROTO_TCP, netsocket.TCP_NODELAY, 1)
    return sock


def _non_blocking_copy(options):
    """The caller's server options (or the plain defaults) made
    non-blocking, with the TLS handshake left to the loop."""
    opts = netsocket.Options(options.kind, options) if options is not None else netsocket.Options(
        netsocket.NS_SOCKET_OPTIONS)
    opts.set_non_blocking(True)
    if opts.is_tls():
        opts.set_handshake(False)
    return opts


async def _handshake(loop, sock, timeout_s):
    """Runs a TLS handshake on the loop; after timeout_s seconds fails with
    ConnectTimeoutError "TLS handshake timed out after <us> us"."""
    if not sock.is_tls():
        return
    deadline = None if timeout_s is None else loop.time() + timeout_s

    def on_timeout():
        return _timeout_error(netsocket.ConnectTimeoutError, "TLS handshake", int(timeout_s * 1e6))

    await _until_done(loop, sock, sock.handshake, READ, deadline, on_timeout)


# ------------------------------------------------------------ awaitable sockets


class AsyncSocket:
    """Awaitable methods on a netsocket.Socket (made non-blocking).

    recv honours the socket's read timeout (SocketReadTimeoutError); every
    await may be cancelled, leaving the socket usable."""

    def __init__(self, sock, loop=None):
        self.socket = sock
        self._loop = loop or asyncio.get_running_loop()
        sock.set_non_blocking(True)

    def __repr__(self):
        return "<netsocket.aio.AsyncSocket %r>" % (self.socket,)

    def fileno(self):
        return self.socket.fileno()

    async def recv(self, size, flags=0):
        """Up to size bytes; b"" at end of stream."""
        sock = self.socket
        us = sock.read_timeout
        deadline = None if us < 0 else self._loop.time() + us / 1e6

        return await _until_done(self._loop, sock, lambda: sock.recv(size, flags), READ, deadline,
                                 lambda: _timeout_error(netsocket.SocketReadTimeoutError, "recv", us))

    async def send(self, data, flags=0):
        """Sends once; the count sent (at least 1 byte unless data is empty)."""
        return await _until_done(self._loop, self.socket, lambda: self.socket.send(data, flags), WRITE)

    async def send_all(self, data, flags=0):
        """Sends all of data; its length."""
        view = memoryview(data).cast("B")
        sent = 0
        while sent < len(view):
            # A TLS send retried after WouldBlockError gets the same bytes (or more).
            sent += await self.send(view[sent:sent + CHUNK], flags)
        return sent

    async def handshake(self, timeout=None):
        """Runs the TLS handshake (no-op on plain sockets or once done)."""
        await _handshake(self._loop, self.socket, timeout)

    async def accept(self, handshake_timeout=_HANDSHAKE_TIMEOUT):
        """The next connection as an AsyncSocket, TLS handshake done."""
        server = self.socket
        conn = _no_delay(await _until_done(self._loop, server, server.accept, READ))
        try:
            await _handshake(self._loop, conn, handshake_timeout)
        except BaseException:
            conn.close()
            raise
        return AsyncSocket(conn, self._loop)

    def close(self):
        self.socket.close()

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        self.close()


async def _open(loop, sock):
    """Drives an open begun by connect_start on the loop: each step waits on
    the fd the open names (the resolver's, a connection attempt's, the
    socket's), in its direction, until its deadline; the C library then
    says what happened (connected, the next step, or the timeout)."""
    while True:
        try:
            if sock.connect_continue():
                return
        except BlockingIOError as exc:
            way = direction(exc, READ)
        us = sock.wants_timeout()
        # The fd is left alone before the next step, which may close it.
        await _ready(loop, sock.wants_fd(), way, None if us < 0 else us / 1e6)


async def connect(host, port, options=None):
    """A connected AsyncSocket (TLS for TLS options, handshake done); the
    options' connection timeout bounds the whole open.  Nothing blocks:
    the name is resolved on the C library's thread and the connection
    attempts (Happy Eyeballs) and the handshake run on the loop.  A
    cancelled open closes its half-open socket."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    if options is None:
        options = netsocket.Options(netsocket.NS_SOCKET_OPTIONS)
    # The open never blocks, whatever the options' mode: they are used as
    # given (no copy), so their compiled TLS context and session cache
    # serve every connection made with them.
    sock = netsocket.connect_start(options, host, str(port))
    try:
        await _open(loop, sock)
        if sock.is_tls() and not options.handshake:  # the open left it out
            us = options.connection_timeout
            await _handshake(loop, sock, None if us < 0 else max(0.0, us / 1e6 - (loop.time() - started)))
    except BaseException:
        sock.close()
        raise
    return AsyncSocket(_no_delay(sock), loop)


def listen(host, port, options=None):
    """A listening AsyncSocket (TLS for server TLS options)."""
    opts = _non_blocking_copy(options)
    make = netsocket.make_server_tls_socket if opts.is_server_tls() else netsocket.make_server_socket
    return AsyncSocket(make(host, str(port), opts))


async def _streams(loop, aso, limit):
    reader = asyncio.StreamReader(limit=limit, loop=loop)
    protocol = asyncio.StreamReaderProtocol(reader, loop=loop)
    transport = Transport(loop, aso, protocol)
    await asyncio.sleep(0)  # connection_made runs first, as with loop.create_connection
    return reader, asyncio.StreamWriter(transport, protocol, reader, loop)


async def open_connection(host=None, port=None, options=None, *, limit=_DEFAULT_LIMIT):
    """As asyncio.open_connection: (StreamReader, StreamWriter) over a
    netsocket client (TLS for TLS options, handshake done)."""
    aso = await connect(host, port, options)
    return await _streams(aso._loop, aso, limit)


class Server:
    """What asyncio.start_server returns: serves until closed."""

    def __init__(self, loop, listener, client_connected_cb, limit, handshake_timeout):
        self._loop = loop
        self._listener = listener
        self._cb = client_connected_cb
        self._limit = limit
        self._handshake_timeout = handshake_timeout
        self._serving = False
        self._closed = loop.create_future()
        self._tasks = set()

    def __repr__(self):
        return "<netsocket.aio.Server %r>" % (self._listener.socket,)

    @property
    def sockets(self):
        return () if self._listener.socket.is_closed() else (self._listener.socket,)

    def get_loop(self):
        return self._loop

    def is_serving(self):
        return self._serving

    async def start_serving(self):
        if not self._serving and not self._listener.socket.is_closed():
            self._serving = True
            self._loop.add_reader(self._listener.fileno(), self._accept_ready)

    async def serve_forever(self):
        await self.start_serving()
        await self._closed

    def close(self):
        if self._listener.socket.is_closed():
            return
        if self._serving:
            self._loop.remove_reader(self._listener.fileno())
            self._serving = False
        self._listener.close()
        if not self._closed.done():
            self._closed.set_result(None)

    async def wait_closed(self):
        await asyncio.shield(self._closed)

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        self.close()
        await self.wait_closed()

    def _accept_ready(self):
        server = self._listener.socket
        for _ in range(128):
            try:
                conn = server.accept()
            except BlockingIOError:
                return
            except netsocket.Error as exc:  # e.g. EMFILE: report, keep serving
                self._loop.call_exception_handler({"message": "netsocket.aio accept failed",
                                                   "exception": exc, "socket": server})
                return
            if conn is None:
                return
            _no_delay(conn)
            task = self._loop.create_task(self._serve(conn))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _serve(self, conn):
        try:
            await _handshake(self._loop, conn, self._handshake_timeout)
        except (asyncio.CancelledError, Exception):
            # A failed handshake (silent or bad client) only ends that client.
            conn.close()
            return
        reader, writer = await _streams(self._loop, AsyncSocket(conn, self._loop), self._limit)
        try:
            result = self._cb(reader, writer)
            if asyncio.iscoroutine(result):
                await result
        except Exception as exc:  # as asyncio: report, and close that client
            self._loop.call_exception_handler({"message": "Unhandled exception in client_connected_cb",
                                               "exception": exc, "transport": writer.transport})
            writer.transport.abort()


async def start_server(client_connected_cb, host=None, port=None, options=None, *,
                       limit=_DEFAULT_LIMIT, ssl_handshake_timeout=_HANDSHAKE_TIMEOUT,
                       start_serving=True):
    """As asyncio.start_server: calls client_connected_cb(reader, writer)
    (a function or a coroutine function) for each client, after its TLS
    handshake when options are server TLS options; port 0 picks a free
    port (server.sockets[0].info()[1])."""
    loop = asyncio.get_running_loop()
    server = Server(loop, listen(host, port if port is not None else 0, options), client_connected_cb,
                    limit, ssl_handshake_timeout)
    if start_serving:
        await server.start_serving()
    return server

