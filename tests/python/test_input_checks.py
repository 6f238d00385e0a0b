"""Input a script gets wrong is an error naming the cause, never silently
something else (issue 13): timeouts, ports, NUL bytes, a string for a list.
Loopback only."""
import pytest

import netsocket
from conftest import blocking

TIMEOUT_RANGE = "a timeout is 0 or more microseconds, or -1 for no limit"
NUL = "a string given to netsocket must not contain a NUL character"


def test_timeouts_are_integers_minus_one_or_more():
    with pytest.raises(TypeError) as e:
        netsocket.socket_options(read_timeout=1.5)
    assert str(e.value) == ("socket_options: read_timeout takes an integer "
                            "(microseconds, -1 = no limit), not float")
    for value in (-2, -5, -(2**63)):
        with pytest.raises(ValueError) as e:
            netsocket.socket_options(connection_timeout=value)
        assert str(e.value) == TIMEOUT_RANGE
        with pytest.raises(ValueError) as e:
            netsocket.socket_options().set_read_timeout(value)
        assert str(e.value) == TIMEOUT_RANGE
    beyond = ("{}: {} = {} is out of range: a timeout is -1 (no limit) "
              "or 0 to 9223372036854775807 \u00b5s")
    with pytest.raises(OverflowError) as e:
        netsocket.socket_options(read_timeout=2**63)
    assert str(e.value) == beyond.format("Options.set_read_timeout()", "us", 2**63)
    with pytest.raises(OverflowError) as e:
        netsocket.socket_options().set_connection_timeout(-(2**63) - 1)
    assert str(e.value) == beyond.format("Options.set_connection_timeout()", "us", -(2**63) - 1)
    with pytest.raises(OverflowError) as e:
        netsocket.SelectorCore().poll(2**64)
    assert str(e.value) == beyond.format("SelectorCore.poll()", "timeout_us", 2**64)
    o = netsocket.socket_options(read_timeout=-1, connection_timeout=0)
    assert (o.read_timeout, o.connection_timeout) == (-1, 0)
    with netsocket.make_server_socket("127.0.0.1", "0") as server:
        with pytest.raises(ValueError) as e:
            server.set_read_timeout(-3)
        assert str(e.value) == TIMEOUT_RANGE
        with pytest.raises(OverflowError) as e:
            server.set_read_timeout(us=2**63)
        assert str(e.value) == beyond.format("Socket.set_read_timeout()", "us", 2**63)
        assert server.read_timeout == -1


def test_ports_over_65535_are_refused_not_wrapped():
    with netsocket.make_server_socket("127.0.0.1", "0", netsocket.socket_options(**blocking())) as server:
        port = server.info()[1]
        for service in (port + 65536, str(port + 65536)):
            with pytest.raises(netsocket.ValueError) as e:
                netsocket.make_client_socket("127.0.0.1", service, netsocket.socket_options(**blocking()))
            assert str(e.value) == (f"connect to 127.0.0.1:{port + 65536}: port {port + 65536} "
                                    "is out of range (0 to 65535)")
    with pytest.raises(netsocket.ValueError) as e:
        netsocket.make_server_socket("127.0.0.1", 70000)
    assert str(e.value) == "listen on 127.0.0.1:70000: port 70000 is out of range (0 to 65535)"


def test_strings_with_nul_bytes_are_refused():
    with pytest.raises(ValueError) as e:
        netsocket.make_client_socket("localhost\0.corp.example", "1", netsocket.socket_options(**blocking()))
    assert str(e.value) == NUL
    with pytest.raises(ValueError) as e:
        netsocket.make_client_socket("127.0.0.1", "1\0", netsocket.socket_options(**blocking()))
    assert str(e.value) == NUL
    with pytest.raises(ValueError) as e:
        netsocket.tls_socket_options(alpn=["h2\0http/1.1"])
    assert str(e.value) == NUL
    with pytest.raises(ValueError) as e:
        netsocket.tls_socket_options(trusted_certificate_files=["/etc/ssl/certs\0/x"])
    assert str(e.value) == NUL


def test_a_single_string_for_a_list_names_the_list():
    with pytest.raises(TypeError) as e:
        netsocket.tls_socket_options(alpn="h2")
    assert str(e.value) == "tls_socket_options: alpn takes a list of strings, not str"
