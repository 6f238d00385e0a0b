"""Server identity and keys from Python: protected keys (password bytes,
str or a callable; PKCS#12), the key log file, Encrypted Client Hello
(accepted, rejected with retry configs, GREASE), a certificate per name and
rotation of a running server's identities."""
import pytest

import netsocket
from conftest import blocking, start


def server_options(certs, **fields):
    fields.setdefault("certificates", [certs.read("server.pem")])
    fields.setdefault("private_key", certs.read("server.key"))
    return netsocket.server_tls_socket_options(**blocking(**fields))


def client_options(certs, **fields):
    return netsocket.tls_socket_options(**blocking(trusted_certificates=[certs.read("ca.pem")],
                                                  **fields))


def serve(srv, n=1):
    """Accepts n connections, echoing one line on each; returns what each saw."""
    seen = []
    for _ in range(n):
        conn = srv.accept()
        seen.append((conn.identity_index(), conn.server_name(), conn.ech_accepted()))
        conn.send_all(conn.recv(64))
        conn.close()
    return seen


def exchange(srv, copts, node="localhost"):
    """One echo as a client; returns (peer certificate DER, ech accepted)."""
    c = netsocket.make_client_tls_socket(node, str(srv.info()[1]), copts)
    c.send_all(b"hi\n")
    assert c.recv(64) == b"hi\n"
    result = (c.peer_certificate(), c.ech_accepted())
    c.close()
    return result


def test_encrypted_key_with_bytes_str_and_a_callable(certs):
    calls = []

    def password():
        calls.append(1)
        return b"s3cret"

    for pw in (b"s3cret", "s3cret", password):
        o = netsocket.server_tls_socket_options(certificates=[certs.read("server.pem")])
        o.set_private_key_with_password(certs.read("server-enc.key"), pw)
        assert o.has_private_key
    o.set_private_key_file_with_password(certs.path("server-enc.key"), password)
    assert calls == [1, 1]


def test_wrong_or_missing_password_raises_and_changes_nothing(certs):
    o = netsocket.server_tls_socket_options(private_key=certs.read("server.key"))
    with pytest.raises(ValueError) as e:
        o.set_private_key_with_password(certs.read("server-enc.key"), b"wrong")
    assert str(e.value) == "private-key: wrong password (or a damaged encrypted key)"
    with pytest.raises(ValueError) as e:
        o.set_private_key(certs.read("server-enc.key"))
    assert str(e.value) == "private-key: the key is encrypted and no password was given"
    with pytest.raises(ZeroDivisionError):
        o.set_private_key_with_password(certs.read("server-enc.key"), lambda: 1 / 0)
    # Still the plain key: server.pem is accepted as its certificate.
    o.add_certificate(certs.read("server.pem"))
    assert o.has_private_key and len(o.certificates) == 1


def test_pkcs12_bundle_serves_a_handshake(certs):
    so = netsocket.server_tls_socket_options(**blocking())
    so.set_pkcs12_file(certs.path("server.p12"), b"s3cret")
    assert len(so.certificates) == 2 and so.has_private_key
    srv = netsocket.make_server_tls_socket("127.0.0.1", "0", so)
    t = start(serve, srv)
    der, _ = exchange(srv, client_options(certs))
    t.join()
    srv.close()
    assert der == so.certificates[0]
    with pytest.raises(ValueError) as e:
        so.set_pkcs12(certs.read("server.p12"), b"wrong")
    assert str(e.value) == "pkcs12: wrong password: INCORRECT_PASSWORD"
    with pytest.raises(ValueError) as e:
        so.set_pkcs12(b"junk", None)
    assert str(e.value) == "pkcs12: not a valid PKCS#12 bundle: BAD_PKCS12_DATA"
    assert len(so.certificates) == 2


def test_key_log_file_gets_the_secrets(certs, tmp_path):
    log = tmp_path / "keys.log"
    so = server_options(certs, key_log_file=str(log))
    assert so.key_log_file == str(log)
    srv = netsocket.make_server_tls_socket("127.0.0.1", "0", so)
    t = start(serve, srv)
    exchange(srv, client_options(certs))
    t.join()
    srv.close()
    labels = [line.split(" ")[0] for line in log.read_text().splitlines()]
    assert labels == ["CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_HANDSHAKE_TRAFFIC_SECRET",
                      "CLIENT_TRAFFIC_SECRET_0", "SERVER_TRAFFIC_SECRET_0", "EXPORTER_SECRET"]
    with pytest.raises(ValueError) as e:
        so.set_key_log_file(str(tmp_path / "missing" / "keys.log"))
    assert str(e.value) == "key-log: cannot open %s: No such file or directory" % (
        tmp_path / "missing" / "keys.log")


def test_key_log_callback_gets_each_line(certs):
    lines = []
    co = client_options(certs, key_log_callback=lines.append)
    assert co.key_log_callback == lines.append
    srv = netsocket.make_server_tls_socket("127.0.0.1", "0", server_options(certs))
    t = start(serve, srv)
    exchange(srv, co)
    t.join()
    srv.close()
    assert [line.split(" ")[0] for line in lines] == [
        "CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_HANDSHAKE_TRAFFIC_SECRET",
        "CLIENT_TRAFFIC_SECRET_0", "SERVER_TRAFFIC_SECRET_0", "EXPORTER_SECRET"]
    co.set_key_log_callback(None)
    assert co.key_log_callback is None


def ech_server(certs):
    so = server_options(certs, certificates=[certs.read("alt.pem")], private_key=certs.read("alt.key"))
    so.generate_ech_key("public.test", 3)
    return so


def test_ech_accepted_rejected_with_retry_configs_and_grease(certs):
    so = ech_server(certs)
    published = so.published_ech_config_list
    assert so.ech_key_count == 1 and len(published) > 20
    srv = netsocket.make_server_tls_socket("127.0.0.1", "0", so)
    t = start(serve, srv, 2)
    copts = client_options(certs, sni=["alt.test"], ech_config_list=published)
    assert copts.ech_config_list == published
    _, accepted = exchange(srv, copts, "127.0.0.1")
    assert accepted
    grease = client_options(certs, sni=["alt.test"], ech_grease=True)
    _, accepted = exchange(srv, grease, "127.0.0.1")
    seen = t.join()
    assert not accepted
    assert seen == [(-1, "alt.test", True), (-1, "alt.test", False)]

    stale = client_options(certs, sni=["alt.test"], ech_config_list=ech_server(certs).published_ech_config_list)
    t = start(lambda: [srv.accept().close()])
    with pytest.raises(netsocket.TLSError) as e:
        netsocket.make_client_tls_socket("127.0.0.1", str(srv.info()[1]), stale)
    t.join()
    srv.close()
    assert str(e.value).endswith(": the server rejected ECH and sent retry configs: "
                                 "retry with them (ns_last_ech_retry_configs)")
    assert netsocket.last_ech_retry_configs() == published
    with pytest.raises(ValueError) as e:
        copts.set_ech_config_list(b"\x00\x05junk")
    assert str(e.value) == "ech-config-list: not a valid ECHConfigList: INVALID_ECH_CONFIG_LIST"


def test_certificate_per_name_and_rotation(certs):
    so = server_options(certs)
    so.add_identity(certs.read("alt.pem"), certs.read("alt.key"))
    so.add_identity_name(0, "other.test")
    assert so.identity_count == 1
    with pytest.raises(ValueError) as e:
        so.add_identity(certs.read("alt.pem"), certs.read("server.key"))
    assert str(e.value) == "identity: the private key does not match the first certificate"
    with pytest.raises(ValueError) as e:
        so.add_sni("x.test")
    assert str(e.value).startswith("sni* is not a field of server-tls-socket-options")
    srv = netsocket.make_server_tls_socket("127.0.0.1", "0", so)
    t = start(serve, srv, 3)
    accept_all = client_options(certs, sni=["other.test"], certificate_verifier=lambda *a: True)
    alt_der, _ = exchange(srv, accept_all, "127.0.0.1")
    default_der, _ = exchange(srv, client_options(certs))
    # Rotation: the alt certificate becomes the default.
    srv.replace_identities(server_options(certs, certificates=[certs.read("alt.pem")],
                                          private_key=certs.read("alt.key")))
    rotated_der, _ = exchange(srv, client_options(certs, sni=["alt.test"]), "127.0.0.1")
    seen = t.join()
    srv.close()
    assert alt_der == rotated_der != default_der
    assert [s[0] for s in seen] == [0, -1, -1]
    assert [s[1] for s in seen] == ["other.test", "localhost", "alt.test"]
