/* Python idioms on top of netsocket.i: exception classes, keyword builders,
 * context managers, makefile() and an iterable selector. */

%init %{
{
    /* One class per row of the header's status list (nsb_statuses), with
     * the builtin Python programs expect mixed in: every failure is a
     * netsocket.Error, and a bad argument also a ValueError. */
    static const struct { int status; PyObject **builtin; int instead; } builtins[] = {
        { NS_ERR_INVALID, &PyExc_ValueError, 0 },
        { NS_ERR_NOMEM, &PyExc_MemoryError, 0 },
        { NS_ERR_CONNECT_TIMEOUT, &PyExc_TimeoutError, 0 },
        { NS_ERR_READ_TIMEOUT, &PyExc_TimeoutError, 0 },
        { NS_ERR_WRITE_TIMEOUT, &PyExc_TimeoutError, 0 },
        { NS_ERR_WOULD_BLOCK, &PyExc_BlockingIOError, 0 },
        { NS_ERR_CLOSED, &PyExc_ConnectionError, 0 },
    };
    PyObject *names = PyList_New(0);
    nsb_py_errors[0] = PyErr_NewExceptionWithDoc("netsocket.Error", "A netsocket failure.",
                                                 PyExc_OSError, NULL);
    PyDict_SetItemString(d, "Error", nsb_py_errors[0]);
    for (size_t i = 1; i < NSB_STATUS_COUNT; i++) {
        const nsb_status_row *row = &nsb_statuses[i];
        PyObject *parent = nsb_py_errors[nsb_status_index(row->parent)], *extra = NULL, *bases, *cls;
        char qualified[64], doc[128];
        int instead = 0;
        for (size_t j = 0; j < sizeof builtins / sizeof builtins[0]; j++)
            if (builtins[j].status == row->status) {
                extra = *builtins[j].builtin;
                instead = builtins[j].instead;
            }
        if (instead || strcmp(row->exception, "Error") == 0) {
            nsb_py_errors[i] = instead ? extra : nsb_py_errors[0];
            continue;
        }
        bases = extra ? PyTuple_Pack(2, parent, extra) : PyTuple_Pack(1, parent);
        snprintf(qualified, sizeof qualified, "netsocket.%s", row->exception);
        snprintf(doc, sizeof doc, "%s (%s).", row->doc, row->name);
        doc[0] = (char)toupper((unsigned char)doc[0]);
        cls = bases ? PyErr_NewExceptionWithDoc(qualified, doc, bases, NULL) : NULL;
        Py_XDECREF(bases);
        nsb_py_errors[i] = cls;
        if (cls) {
            PyDict_SetItemString(d, row->exception, cls);
            PyObject *name = PyUnicode_FromString(row->exception);
            if (name) PyList_Append(names, name);
            Py_XDECREF(name);
        }
    }
    for (size_t j = 0; j < sizeof nsb_py_file_errors / sizeof nsb_py_file_errors[0]; j++) {
        PyObject *bases = PyTuple_Pack(2, nsb_py_errors[nsb_status_index(NS_ERR_INVALID)],
                                       *nsb_py_file_errors[j].builtin);
        char qualified[64];
        snprintf(qualified, sizeof qualified, "netsocket.%s", nsb_py_file_errors[j].name);
        nsb_py_file_errors[j].cls = bases ? PyErr_NewExceptionWithDoc(qualified,
            "A file named in the options cannot be opened (also a netsocket.ValueError).", bases, NULL) : NULL;
        Py_XDECREF(bases);
        if (nsb_py_file_errors[j].cls) {
            PyDict_SetItemString(d, nsb_py_file_errors[j].name, nsb_py_file_errors[j].cls);
            PyObject *name = PyUnicode_FromString(nsb_py_file_errors[j].name);
            if (name) PyList_Append(names, name);
            Py_XDECREF(name);
        }
    }
    PyDict_SetItemString(d, "_error_classes", names);
    Py_XDECREF(names);
}
%}

%pythoncode %{
import io as _io

__version__ = _netsocket.version()  # VERSION, through the loaded library

Error = _netsocket.Error
# HostNotFoundError, TLSError, ...: one per status (NS_STATUS_MAP in netsocket.h).
for _name in _netsocket._error_classes:
    globals()[_name] = getattr(_netsocket, _name)
del _name


# The option fields, from the one table in option_fields.i:
# field -> (field, method, kinds, kinds described, type described, is a list).
_FIELDS = {row[0]: row for row in option_fields()}


def _build(builder, kind, fields):
    """Options of `kind` from keyword fields: each field's method (from the
    table) is called with the value, or once per item for a list field."""
    opts = Options(kind, fields.pop("from_", None))
    for name, value in fields.items():
        row = _FIELDS.get(name)
        if row is None:
            raise TypeError("%s: no option field %r (the fields: %s)" % (builder, name, ", ".join(_FIELDS)))
        field, method, _, _, type_text, is_list = row
        if is_list != isinstance(value, (list, tuple)):
            raise TypeError("%s: %s takes %s, not %s" % (builder, field, type_text, type(value).__name__))
        setter = getattr(opts, method)
        for item in value if is_list else (value,):
            try:
                setter(item)
            except TypeError:
                raise TypeError("%s: %s takes %s, not %s" % (builder, field, type_text,
                                                             type(item).__name__)) from None
    return opts


def _builder(name, kind, summary):
    def build(**fields):
        return _build(name, kind, fields)
    build.__name__ = build.__qualname__ = name
    build.__doc__ = "%s\n\nFields (from_=options copies):\n%s" % (summary, "\n".join(
        "  %s: %s (%s)" % (field, type_text, kinds_text)
        for field, _, kinds, kinds_text, type_text, _ in _FIELDS.values() if kinds >> kind & 1))
    return build


socket_options = _builder("socket_options", NS_SOCKET_OPTIONS, "Plain socket options.")
tls_socket_options = _builder("tls_socket_options", NS_TLS_SOCKET_OPTIONS, "TLS client options.")
server_tls_socket_options = _builder("server_tls_socket_options", NS_SERVER_TLS_SOCKET_OPTIONS,
                                     "TLS server options.")


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


class SelectorEvent(tuple):
    """(socket, data, timed_out), and .ready: NS_WANT_READ and/or
    NS_WANT_WRITE (0 for a timeout)."""

    socket = property(lambda self: self[0])
    data = property(lambda self: self[1])
    timed_out = property(lambda self: self[2])


class Selector(SelectorCore):
    """add() watches a socket once (readable or timed out); watch() until it
    is removed or closed, for reading and/or writing.  wait() returns
    SelectorEvents.  The C selector owns each socket's (socket, data), so a
    wait costs O(ready), whatever the number watched."""

    def add(self, sock, timeout=-1, data=None):
        """Watches sock once: wait() reports it when readable, or when timeout
        (microseconds; -1: none) passes, with data.  Adding it again replaces
        its timeout and data."""
        SelectorCore.watch(self, sock, NS_WANT_READ, timeout, (sock, data, True))

    def watch(self, sock, interest=NS_WANT_READ, timeout=-1, data=None):
        """Watches sock until it is removed or closed: wait() reports it while
        it is ready for interest (NS_WANT_READ and/or NS_WANT_WRITE), and once
        when it stays idle for timeout microseconds (-1: none)."""
        SelectorCore.watch(self, sock, interest, timeout, (sock, data, False))

    def remove(self, sock):
        """Stops watching sock."""
        self.unwatch(sock)

    def wait(self, timeout=-1):
        """Waits up to timeout microseconds (-1: no limit); returns a list of
        SelectorEvents (socket, data, timed_out; .ready); a socket given to
        add() is then no longer watched."""
        events, once = [], []
        for i in range(self.poll(timeout)):
            sock, data, one_shot = self.event_value(i)
            event = SelectorEvent((sock, data, self.event_timed_out(i)))
            event.ready = self.event_ready(i)
            events.append(event)
            if one_shot:
                once.append(sock)
        for sock in once:  # after reading the events: their values stay valid until then
            self.unwatch(sock)
        return events

    def __len__(self):
        return self.count()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass
%}
