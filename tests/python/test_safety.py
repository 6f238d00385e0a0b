"""Script code cannot crash the interpreter (issue 13): handles freed by
hand, verifiers that return something other than a bool."""
import os
import subprocess
import sys
import textwrap

import pytest

import netsocket
from conftest import blocking, start
from test_netsocket import netsocket_tls_server


def run_python(code):
    """Runs code in a fresh interpreter (a crash must not take pytest down)."""
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=60, env=dict(os.environ))


def test_raw_delete_functions_cannot_free_twice():
    r = run_python("""
        import netsocket
        from netsocket import _netsocket
        handles = [("Options", netsocket.socket_options(), _netsocket.delete_Options, lambda o: o.read_timeout),
                   ("Socket", netsocket.make_server_socket("127.0.0.1", "0"), _netsocket.delete_Socket,
                    lambda s: s.fileno()),
                   ("Selector", netsocket.Selector(), _netsocket.delete_SelectorCore, len)]
        for name, handle, delete, use in handles:
            delete(handle)
            for again in (use, delete):
                try:
                    again(handle)
                    print(name, "no error")
                except ValueError as e:
                    print(name, e)
            del handle
        print("done")
    """)
    assert (r.returncode, r.stderr) == (0, "")
    assert r.stdout.splitlines() == [
        "Options netsocket: this Options was freed", "Options netsocket: this handle was freed",
        "Socket netsocket: this Socket was freed", "Socket netsocket: this handle was freed",
        "Selector netsocket: this Selector was freed", "Selector netsocket: this handle was freed",
        "done"]


@pytest.mark.parametrize("value, shown", [(1, "1 (int)"), (0, "0 (int)"), (None, "None (NoneType)"),
                                          ("yes", "'yes' (str)")])
def test_verifier_must_return_a_bool(certs, value, shown):
    """Only True accepts; anything else but False rejects and says so."""
    srv = netsocket_tls_server(certs)
    port = srv.info()[1]

    def accept():
        with pytest.raises(netsocket.TLSError):
            srv.accept()

    t = start(accept)
    o = netsocket.tls_socket_options(certificate_verifier=lambda d, e, der: value, **blocking())
    with pytest.raises(netsocket.CertificateError) as e:
        netsocket.make_client_tls_socket("localhost", port, o)
    assert str(e.value) == (
        f"TLS handshake with localhost:{port}: the certificate verifier rejected the certificate at "
        "depth 0 (unable to get local issuer certificate) (the certificate verifier returned "
        f"{shown}, not True or False: rejected)")
    t.join()
    srv.close()
