/* Python idioms on top of netsocket.i: exception classes, keyword builders,
 * context managers, makefile() and an iterable selector. */

%init %{
{
    static const struct { int status; const char *name; const char *doc; } errs[] = {
        { NS_ERR_HOST_NOT_FOUND, "HostNotFoundError", "Name resolution failed." },
        { NS_ERR_CONNECT, "SocketConnectionError", "connect/bind/listen failed." },
        { NS_ERR_CONNECT_TIMEOUT, "ConnectTimeoutError", "The connection timeout elapsed." },
        { NS_ERR_READ_TIMEOUT, "SocketReadTimeoutError", "The read timeout elapsed." },
        { NS_ERR_WOULD_BLOCK, "WouldBlockError", "A non-blocking operation cannot proceed now." },
        { NS_ERR_CLOSED, "SocketClosedError", "The socket was closed, or the peer reset it." },
        { NS_ERR_TLS, "TLSError", "TLS handshake or protocol failure." },
        { NS_ERR_CERTIFICATE, "CertificateError", "The peer's certificate was rejected." },
    };
    nsb_py_errors[0] = PyErr_NewExceptionWithDoc("netsocket.Error", "A netsocket failure.",
                                                 PyExc_OSError, NULL);
    PyDict_SetItemString(d, "Error", nsb_py_errors[0]);
    nsb_py_errors[-NS_ERR_IO] = nsb_py_errors[0];
    for (size_t i = 0; i < sizeof errs / sizeof errs[0]; i++) {
        PyObject *extra = NULL, *bases, *full;
        char qualified[64];
        if (errs[i].status == NS_ERR_CONNECT_TIMEOUT || errs[i].status == NS_ERR_READ_TIMEOUT)
            extra = PyExc_TimeoutError;
        else if (errs[i].status == NS_ERR_WOULD_BLOCK)
            extra = PyExc_BlockingIOError;
        else if (errs[i].status == NS_ERR_CLOSED)
            extra = PyExc_ConnectionError;
        else if (errs[i].status == NS_ERR_CERTIFICATE)
            extra = nsb_py_errors[-NS_ERR_TLS];
        bases = extra && errs[i].status == NS_ERR_CERTIFICATE ? PyTuple_Pack(1, extra)
              : extra ? PyTuple_Pack(2, nsb_py_errors[0], extra)
                      : PyTuple_Pack(1, nsb_py_errors[0]);
        snprintf(qualified, sizeof qualified, "netsocket.%s", errs[i].name);
        full = PyErr_NewExceptionWithDoc(qualified, errs[i].doc, bases, NULL);
        Py_XDECREF(bases);
        nsb_py_errors[-errs[i].status] = full;
        PyDict_SetItemString(d, errs[i].name, full);
    }
}
%}

%pythoncode %{
import io as _io

__version__ = _netsocket.version()  # VERSION, through the loaded library

Error = _netsocket.Error
HostNotFoundError = _netsocket.HostNotFoundError
SocketConnectionError = _netsocket.SocketConnectionError
ConnectTimeoutError = _netsocket.ConnectTimeoutError
SocketReadTimeoutError = _netsocket.SocketReadTimeoutError
WouldBlockError = _netsocket.WouldBlockError
SocketClosedError = _netsocket.SocketClosedError
TLSError = _netsocket.TLSError
CertificateError = _netsocket.CertificateError


def _build(kind, fields):
    """Options of `kind` from keyword fields: scalars call set_<name>, lists
    call add_<name without its plural s> for each item."""
    opts = Options(kind, fields.pop("from_", None))
    for name, value in fields.items():
        if isinstance(value, (list, tuple)):
            add = getattr(opts, "add_" + (name[:-1] if name.endswith("s") else name), None)
            if add is None:
                raise TypeError("unknown list option %r" % name)
            for item in value:
                add(item)
        else:
            setter = getattr(opts, "set_" + name, None)
            if setter is None:
                raise TypeError("unknown option %r" % name)
            setter(value)
    return opts


def socket_options(**fields):
    """socket_options(ai_family=AF_INET, non_blocking=True, read_timeout=-1, ...)"""
    return _build(NS_SOCKET_OPTIONS, fields)


def tls_socket_options(**fields):
    """tls_socket_options(certificates=[pem], private_key=pem, alpn=["h2"], sni=[...],
    trusted_certificates=[pem], certificate_verifier=fn, handshake=True, ...)"""
    return _build(NS_TLS_SOCKET_OPTIONS, fields)


def server_tls_socket_options(**fields):
    """server_tls_socket_options(client_certificate_required=True, trusted_certificates=[pem], ...)"""
    return _build(NS_SERVER_TLS_SOCKET_OPTIONS, fields)


class _SocketIO(_io.RawIOBase):
    def __init__(self, sock, mode):
        super().__init__()
        self._sock = sock
        self._mode = mode

    def readinto(self, b):
        return self._sock.recv_into(b)

    def write(self, b):
        return self._sock.send(b)

    def readable(self):
        return "r" in self._mode

    def writable(self):
        return "w" in self._mode

    def fileno(self):
        return self._sock.fileno()


def _makefile(self, mode="r", buffering=None, *, encoding=None, errors=None, newline=None):
    """A file object on the socket, as socket.socket.makefile (closing it
    leaves the socket open)."""
    if not set(mode) <= {"r", "w", "b"}:
        raise ValueError("invalid mode %r (only r, w, b allowed)" % mode)
    reading, writing, binary = "r" in mode, "w" in mode, "b" in mode
    raw = _SocketIO(self, ("r" if reading else "") + ("w" if writing else ""))
    if buffering is None:
        buffering = -1
    if buffering < 0:
        buffering = _io.DEFAULT_BUFFER_SIZE
    if buffering == 0:
        if not binary:
            raise ValueError("unbuffered streams must be binary")
        return raw
    if reading and writing:
        buf = _io.BufferedRWPair(raw, raw, buffering)
    elif reading:
        buf = _io.BufferedReader(raw, buffering)
    else:
        buf = _io.BufferedWriter(raw, buffering)
    if binary:
        return buf
    text = _io.TextIOWrapper(buf, encoding, errors, newline)
    text.mode = mode
    return text


Options.__repr__ = lambda self: "<netsocket.Options %s>" % self.describe()
Socket.__repr__ = lambda self: "<netsocket.Socket %s>" % self.describe()
SelectorCore.__repr__ = lambda self: "<netsocket.%s %s>" % (type(self).__name__, self.describe())
Socket.__init__.__doc__ = "Sockets come from make_client_socket(), make_client_tls_socket(), " \
    "make_server_socket(), make_server_tls_socket() and accept()."
Socket.__enter__ = lambda self: self
Socket.__exit__ = lambda self, *exc: self.close()
Socket.makefile = _makefile
Socket.closed = property(lambda self: self.is_closed())


class Selector(SelectorCore):
    """Watches sockets once each; wait() returns (socket, data, timed_out) events."""

    def __init__(self):
        """An empty selector."""
        super().__init__()
        self._watched = {}  # key -> (socket, data)
        self._keys = {}  # id(socket) -> key
        self._next_key = 0

    def add(self, sock, timeout=-1, data=None):
        """Watches sock once: wait() reports it when readable, or when timeout
        (microseconds; -1: none) passes, with data.  Adding it again replaces
        its timeout and data."""
        key = self._keys.get(id(sock))
        if key is None:
            self._next_key += 1
            key = self._next_key
        self.watch(sock, timeout, key)
        self._watched[key] = (sock, data)
        self._keys[id(sock)] = key

    def remove(self, sock):
        """Stops watching sock."""
        self.unwatch(sock)
        self._watched.pop(self._keys.pop(id(sock)), None)

    def wait(self, timeout=-1):
        """Waits up to timeout microseconds (-1: no limit); returns a list of
        (socket, data, timed_out) events, each socket then no longer watched."""
        events = []
        for i in range(self.poll(timeout)):
            sock, data = self._watched.pop(self.event_key(i))
            del self._keys[id(sock)]
            events.append((sock, data, self.event_timed_out(i)))
        for key, (sock, _) in list(self._watched.items()):
            if sock.is_closed():  # closing a socket removes it from the selector
                del self._watched[key]
                del self._keys[id(sock)]
        return events

    def __len__(self):
        return self.count()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._watched.clear()
        self._keys.clear()
%}
