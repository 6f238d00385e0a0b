"""The module as a Python user expects it: a package with stubs and a version."""
import inspect
import pathlib

import pytest

import netsocket
from conftest import start
from test_netsocket import netsocket_tls_server, tls_client_options

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent


def test_version_is_the_projects():
    assert netsocket.__version__ == (ROOT / "VERSION").read_text().split()[0]


def test_package_ships_type_stubs():
    pkg = pathlib.Path(netsocket.__file__).parent
    assert pathlib.Path(netsocket.__file__).name == "__init__.py"
    assert (pkg / "py.typed").read_bytes() == b""
    stub = (pkg / "__init__.pyi").read_text()
    assert "def make_client_tls_socket(" in stub and "nsb_" not in stub


def test_submodules_live_in_the_package():
    import netsocket.aio

    assert pathlib.Path(netsocket.aio.__file__).parent == pathlib.Path(netsocket.__file__).parent


# ------------------------------------------------------------ repr


def test_repr_of_options_describes_the_fields():
    o = netsocket.tls_socket_options(alpn=["h2", "http/1.1"], sni=["example.org"], non_blocking=False,
                                     read_timeout=5_000_000)
    assert repr(o) == ('<netsocket.Options kind=tls non_blocking=false connection_timeout=none '
                       'read_timeout=5000000us handshake=true alpn=["h2", "http/1.1"] sni=["example.org"] '
                       'certificates=0 private_key=no trusted_certificates=0 verifier=no>')
    assert repr(netsocket.socket_options()) == (
        "<netsocket.Options kind=socket non_blocking=true connection_timeout=none read_timeout=none>")
    s = netsocket.server_tls_socket_options(client_certificate_required=True)
    assert repr(s) == ("<netsocket.Options kind=server_tls non_blocking=true connection_timeout=none "
                       "read_timeout=none handshake=true alpn=[] certificates=0 private_key=no "
                       "trusted_certificates=0 verifier=no client_certificate_required=true>")


def test_repr_of_sockets_and_selectors(certs):
    srv = netsocket_tls_server(certs)
    port = srv.info()[1]
    assert repr(srv) == "<netsocket.Socket fd=%d tls local=127.0.0.1:%d listening>" % (srv.fileno(), port)
    t = start(srv.accept)
    c = netsocket.make_client_tls_socket("127.0.0.1", port, tls_client_options(certs))
    conn = t.join()
    local = c.info()[1]
    assert repr(c) == "<netsocket.Socket fd=%d tls=TLSv1.3 local=127.0.0.1:%d peer=127.0.0.1:%d>" % (
        c.fileno(), local, port)
    with netsocket.Selector() as sel:
        sel.add(c)
        assert repr(sel) == "<netsocket.Selector sockets=1>"
    c.close()
    assert repr(c) == "<netsocket.Socket tls closed>"
    conn.close()
    srv.close()


# ------------------------------------------------------------ signatures, docs, arguments


def _public_callables():
    for name in dir(netsocket):
        obj = getattr(netsocket, name)
        if name.startswith("_") or isinstance(obj, type) and issubclass(obj, BaseException):
            continue
        if isinstance(obj, type):
            for attr, member in vars(obj).items():
                if callable(member) and (not attr.startswith("_") or attr == "__init__"):
                    yield "%s.%s" % (name, attr), member
        elif callable(obj):
            yield name, obj


def test_every_function_is_in_the_stub_and_documented_without_swig():
    stub = (pathlib.Path(netsocket.__file__).parent / "__init__.pyi").read_text()
    undocumented, leaking = [], []
    for name, fn in _public_callables():
        assert "def %s(" % name.split(".")[-1] in stub, name
        doc = fn.__doc__ or ""
        if not doc.strip():
            undocumented.append(name)
        for word in ("nsb_", "SWIG", "Proxy of C", "p.q(", "char const", "int64_t", "size_t"):
            if word in doc:
                leaking.append((name, word))
    assert undocumented == [] and leaking == []
    assert inspect.getdoc(netsocket.Socket.recv).startswith(
        "recv(self, size: int, flags: int=0) -> Optional[bytes]\nReceives up to len bytes")
    header = " ".join((ROOT / "core" / "include" / "netsocket.h").read_text().replace("*", " ").split())
    signature, text = inspect.getdoc(netsocket.Options.set_read_timeout).split("\n", 1)
    assert signature == "set_read_timeout(self, us: int) -> None"
    assert text.startswith("Bounds each recv") and text in header
    assert netsocket.__doc__.startswith("Plain TCP and TLS sockets")


def test_keyword_arguments(plain_server):
    o = netsocket.Options(kind=netsocket.NS_TLS_SOCKET_OPTIONS, from_=netsocket.socket_options(read_timeout=7))
    assert (o.kind, o.read_timeout) == (netsocket.NS_TLS_SOCKET_OPTIONS, 7)
    o.set_read_timeout(us=5_000_000)
    o.set_non_blocking(on=False)
    o.add_alpn(name="h2")
    assert (o.read_timeout, o.non_blocking, o.alpn) == (5_000_000, False, ["h2"])
    c = netsocket.make_client_socket(node="127.0.0.1", service=plain_server.info()[1],
                                     options=netsocket.socket_options(non_blocking=False, read_timeout=5_000_000))
    conn = plain_server.accept()
    assert c.send_all(data=b"abc", flags=0) == 3
    assert conn.recv(size=3, flags=netsocket.MSG_WAITALL) == b"abc"
    c.close()
    conn.close()


def test_argument_errors_name_the_method_and_the_type():
    o = netsocket.socket_options()
    cases = [(lambda: o.set_read_timeout("x"), TypeError, "Options.set_read_timeout() argument 1 must be int"),
             (lambda: netsocket.make_client_socket(1, 2), TypeError, "make_client_socket() argument 1 must be str"),
             (lambda: netsocket.Options("tls"), TypeError, "Options() argument 1 must be int"),
             (lambda: netsocket.Socket.recv(o, 5), TypeError, "Socket.recv() self must be Socket"),
             (lambda: o.set_read_timeout(), TypeError,
              "Options.set_read_timeout() missing required argument 'us' (pos 2)"),
             (lambda: o.set_read_timeout(us=1, seconds=1), TypeError,
              "Options.set_read_timeout() takes at most 2 arguments (3 given)")]
    for call, cls, message in cases:
        with pytest.raises(cls) as e:
            call()
        assert str(e.value) == message


# ------------------------------------------------------------ errors


def test_every_failure_is_a_netsocket_error_with_the_builtin():
    o = netsocket.tls_socket_options()
    with pytest.raises(netsocket.Error) as e:
        o.add_certificate_file("/nonexistent/cert.pem")
    assert type(e.value) is netsocket.FileNotFoundError
    assert isinstance(e.value, FileNotFoundError) and isinstance(e.value, ValueError)
    assert (str(e.value), e.value.errno, e.value.status) == (
        "certificates: cannot open /nonexistent/cert.pem: No such file or directory", 2, "NS_ERR_INVALID")
    with pytest.raises(netsocket.Error) as e:
        o.add_certificate(b"junk")
    assert type(e.value) is netsocket.ValueError and isinstance(e.value, ValueError)
    assert str(e.value) == "certificates: neither PEM nor a DER certificate: HEADER_TOO_LONG"
    with pytest.raises(netsocket.Error) as e:
        netsocket.Options(99)
    assert isinstance(e.value, ValueError) and str(e.value) == "ns_options_new: unknown options kind 99"


def test_stub_lists_every_error_class():
    stub = (pathlib.Path(netsocket.__file__).parent / "__init__.pyi").read_text()
    names = sorted(n for n in dir(netsocket) if n.endswith("Error"))
    assert [n for n in names if "class %s(" % n not in stub] == []
    assert issubclass(netsocket.MemoryError, netsocket.Error) and issubclass(netsocket.MemoryError, MemoryError)
