"""The asyncio transport under netsocket.aio's streams (see aio.py)."""
import asyncio
import threading

import netsocket

READ, WRITE = netsocket.NS_WANT_READ, netsocket.NS_WANT_WRITE
CHUNK = 256 * 1024  # bytes read per readiness event; also the most one send hands to TLS

_local = threading.local()


def _read_buffer():
    """This thread's receive buffer: a stream's bytes are copied out of it
    (StreamReader.feed_data) before the next read, so the transports of a
    loop share one instead of allocating CHUNK bytes per read."""
    view = getattr(_local, "view", None)
    if view is None:
        view = _local.view = memoryview(bytearray(CHUNK))
    return view


def direction(exc, default):
    """Which way to wait after a WouldBlockError (its wants attribute:
    netsocket.NS_WANT_READ or NS_WANT_WRITE; a TLS read may need to write)."""
    return getattr(exc, "wants", 0) or default


class Transport(asyncio.Transport):
    """An asyncio transport over a non-blocking netsocket socket: what
    asyncio's selector transports do, with netsocket's recv/send (TLS
    inside) and its answer to which way a would-block call must wait."""

    def __init__(self, loop, aso, protocol):
        super().__init__({"socket": aso.socket, "netsocket": aso.socket})
        self._loop = loop
        self._sock = aso.socket
        self._fd = aso.socket.fileno()
        self._protocol = protocol
        # A stream protocol copies what it is given at once: it gets views
        # of the shared buffer; any other protocol gets bytes of its own.
        self._views = type(protocol) is asyncio.StreamReaderProtocol
        self._rview = _read_buffer()
        self._buffer = bytearray()
        self._waiting = {READ: set(), WRITE: set()}
        self._registered = {READ: False, WRITE: False}
        self._paused = False
        self._closing = False
        self._eof_pending = False  # write_eof once the buffer is out
        self._lost = False
        self._protocol_paused = False
        self._high, self._low = 64 * 1024, 16 * 1024
        self._conn_lost = 0
        try:
            self._extra["peername"] = aso.socket.peer()
            self._extra["sockname"] = aso.socket.info()
        except OSError:
            pass
        if aso.socket.is_tls():
            self._extra["alpn_protocol"] = aso.socket.selected_alpn()
            self._extra["tls_version"] = aso.socket.tls_version()
            self._extra["tls_cipher"] = aso.socket.tls_cipher()
            self._extra["peer_certificate"] = aso.socket.peer_certificate()
        loop.call_soon(protocol.connection_made, self)
        loop.call_soon(self._read_ready)

    def __repr__(self):
        return "<netsocket.aio transport %r%s>" % (self._sock, " closing" if self._closing else "")

    # -- registration: the loop watches the fd for reading and/or writing
    #    while some activity ("read": receiving, "write": flushing) waits
    #    that way; a TLS read may need the fd writable and a write readable.
    def _wait(self, activity, direction):
        other = WRITE if direction == READ else READ
        self._waiting[other].discard(activity)
        self._waiting[direction].add(activity)
        self._sync(other)
        self._sync(direction)

    def _unwait(self, activity):
        for direction in (READ, WRITE):
            if activity in self._waiting[direction]:
                self._waiting[direction].discard(activity)
                self._sync(direction)

    def _sync(self, direction):
        want = bool(self._waiting[direction]) and not self._lost
        if want == self._registered[direction]:
            return
        self._registered[direction] = want
        if direction == READ:
            if want:
                self._loop.add_reader(self._fd, self._ready, READ)
            else:
                self._loop.remove_reader(self._fd)
        elif want:
            self._loop.add_writer(self._fd, self._ready, WRITE)
        else:
            self._loop.remove_writer(self._fd)

    def _ready(self, direction):
        activities = self._waiting[direction]
        self._waiting[direction] = set()
        # The handlers re-add what still waits; the fd stays registered
        # (no system call) when they do.
        for activity in activities:
            if activity == "read":
                self._read_ready()
            else:
                self._write_ready()
        self._sync(direction)

    # -- reading
    def _read_ready(self):
        if self._paused or self._lost or self._closing:
            self._unwait("read")
            return
        # Fill the buffer (a TLS record per recv_into) until the socket
        # would block, ends, or the buffer is full; hand it over once.
        view, sock, filled, size = self._rview, self._sock, 0, CHUNK
        eof = wait = False
        try:
            while filled < size:
                n = sock.recv_into(view[filled:])
                if not n:
                    eof = True
                    break
                filled += n
        except BlockingIOError as exc:
            wait = direction(exc, READ)
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._deliver(filled)
            self._fatal_error(exc)
            return
        self._deliver(filled)
        if self._paused or self._lost or self._closing:
            self._unwait("read")
        elif eof:
            self._unwait("read")
            self._eof_received()
        elif wait:
            self._wait("read", wait)
        else:
            # Full: more may be buffered (TLS) without the fd saying so.
            # The fd stays watched (no system call); come back soon anyway.
            self._wait("read", READ)
            self._loop.call_soon(self._read_ready)

    def _deliver(self, filled):
        if filled:
            data = self._rview[:filled]
            self._protocol.data_received(data if self._views else bytes(data))

    def _eof_received(self):
        try:
            keep_open = self._protocol.eof_received()
        except BaseException as exc:
            self._fatal_error(exc)
            return
        if not keep_open:
            self.close()

    def is_reading(self):
        return not self._paused and not self._closing and not self._lost

    def pause_reading(self):
        if self._paused or self._closing:
            return
        self._paused = True
        self._unwait("read")

    def resume_reading(self):
        if not self._paused or self._closing:
            return
        self._paused = False
        self._loop.call_soon(self._read_ready)

    # -- writing
    def write(self, data):
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError("data argument must be a bytes-like object, not %r" % type(data).__name__)
        if self._eof_pending:
            raise RuntimeError("Cannot call write() after write_eof()")
        if not data:
            return
        if self._lost:
            self._conn_lost += 1
            return
        if self._buffer or "write" in self._waiting[READ] or "write" in self._waiting[WRITE]:
            self._buffer += data
        else:
            rest = self._send_now(data)
            if rest is not None:
                self._buffer += rest
        self._maybe_pause_protocol()

    def _send_now(self, data):
        """Sends from data itself (no copy into the buffer); what the socket
        did not take (to be buffered), or None when all went or it failed."""
        try:
            view = memoryview(data).cast("B")
        except TypeError:  # not contiguous
            view = memoryview(bytes(data))
        sent, size = 0, len(view)
        try:
            while sent < size:
                sent += self._sock.send(view[sent:sent + CHUNK])
        except BlockingIOError as exc:
            # Buffered, the rest is retried from the same byte (TLS needs it).
            self._wait("write", direction(exc, WRITE))
            return view[sent:]
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._fatal_error(exc)
            return None
        return None

    def _flush(self):
        """Sends what the socket takes now; watches the fd for the rest."""
        while self._buffer:
            try:
                # The retry after WouldBlockError starts with the same bytes.
                n = self._sock.send(memoryview(self._buffer)[:CHUNK])
            except BlockingIOError as exc:
                self._wait("write", direction(exc, WRITE))
                return
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException as exc:
                self._fatal_error(exc)
                return
            del self._buffer[:n]
        self._unwait("write")
        self._maybe_resume_protocol()
        if self._eof_pending:
            self._shutdown_write()
        if self._closing:
            self._call_connection_lost(None)

    def _write_ready(self):
        if not self._lost:
            self._flush()

    def writelines(self, list_of_data):
        self.write(b"".join(list_of_data))

    def can_write_eof(self):
        return True

    def write_eof(self):
        if self._closing or self._eof_pending:
            return
        self._eof_pending = True
        if not self._buffer:
            self._shutdown_write()

    def _shutdown_write(self):
        try:
            self._sock.shutdown(netsocket.SHUT_WR)
        except OSError as exc:
            self._fatal_error(exc)

    def get_write_buffer_size(self):
        return len(self._buffer)

    def get_write_buffer_limits(self):
        return (self._low, self._high)

    def set_write_buffer_limits(self, high=None, low=None):
        if high is None:
            high = 64 * 1024 if low is None else 4 * low
        if low is None:
            low = high // 4
        if not high >= low >= 0:
            raise ValueError("high (%r) must be >= low (%r) must be >= 0" % (high, low))
        self._high, self._low = high, low
        self._maybe_pause_protocol()

    def _maybe_pause_protocol(self):
        if not self._protocol_paused and len(self._buffer) > self._high:
            self._protocol_paused = True
            self._protocol.pause_writing()

    def _maybe_resume_protocol(self):
        if self._protocol_paused and len(self._buffer) <= self._low:
            self._protocol_paused = False
            self._protocol.resume_writing()

    # -- closing
    def is_closing(self):
        return self._closing

    def close(self):
        """Closes once the buffered bytes are sent (TLS: close_notify too)."""
        if self._closing:
            return
        self._closing = True
        self._unwait("read")
        if not self._buffer or self._lost:
            self._loop.call_soon(self._call_connection_lost, None)

    def abort(self):
        self._buffer.clear()
        self._closing = True
        self._call_connection_lost(None)

    def _fatal_error(self, exc):
        self._buffer.clear()
        self._closing = True
        self._call_connection_lost(exc)

    def _call_connection_lost(self, exc):
        if self._lost:
            return
        self._lost = True
        self._sync(READ)
        self._sync(WRITE)
        try:
            self._sock.close()  # after the loop stopped watching its fd
        except OSError:
            pass
        self._loop.call_soon(self._protocol.connection_lost, exc)
