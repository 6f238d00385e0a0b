"""The module as a Python user expects it: a package with stubs and a version."""
import pathlib

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
