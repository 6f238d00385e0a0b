"""TLS failures carry their details: the X.509 verify code and text, the
alert sent or received, the names in a host-name mismatch, and a peer that
does not speak TLS."""
import socket

import pytest

import netsocket
from conftest import blocking, start


def _tls_server(certs):
    o = netsocket.server_tls_socket_options(certificates=[certs.read("server.pem")],
                                            private_key=certs.read("server.key"), **blocking())
    return netsocket.make_server_tls_socket("127.0.0.1", "0", o)


def test_host_name_mismatch_carries_code_names_and_alert(certs):
    srv = _tls_server(certs)
    port = srv.info()[1]
    t = start(srv.accept)
    o = netsocket.tls_socket_options(trusted_certificates=[certs.read("ca.pem")], sni=["wrong.example"],
                                     **blocking())
    with pytest.raises(netsocket.CertificateError) as e:
        netsocket.make_client_tls_socket("127.0.0.1", port, o)
    assert str(e.value) == ("TLS handshake with 127.0.0.1:%d: certificate rejected at depth 0: "
                            "Hostname mismatch: expected \"wrong.example\", the certificate holds "
                            "DNS:localhost, IP:127.0.0.1, IP:::1" % port)
    assert (e.value.verify_code, e.value.verify_message) == (62, "Hostname mismatch")
    assert (e.value.alert, e.value.alert_code, e.value.alert_sent) == ("bad_certificate", 42, True)
    # The server received that alert.
    with pytest.raises(netsocket.TLSError) as s:
        t.join()
    assert str(s.value).endswith(": the peer sent the alert bad_certificate (42)")
    assert (s.value.alert, s.value.alert_code, s.value.alert_sent) == ("bad_certificate", 42, False)
    assert (s.value.verify_code, s.value.verify_message) == (None, None)
    srv.close()


def test_plain_http_server_is_named(certs):
    lsock = socket.create_server(("127.0.0.1", 0))
    port = lsock.getsockname()[1]

    def http_server():
        conn, _ = lsock.accept()
        with conn:
            conn.recv(1024)
            conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")

    t = start(http_server)
    o = netsocket.tls_socket_options(trusted_certificates=[certs.read("ca.pem")], **blocking())
    with pytest.raises(netsocket.TLSError) as e:
        netsocket.make_client_tls_socket("127.0.0.1", port, o)
    assert str(e.value) == ("TLS handshake with 127.0.0.1:%d: the peer does not speak TLS: it sent "
                            "\"HTTP/1.1 400 Bad\" (plain HTTP?)" % port)
    assert (e.value.verify_code, e.value.alert, e.value.alert_sent) == (None, "protocol_version", True)
    t.join()
    lsock.close()
