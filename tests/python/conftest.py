"""Fixtures for the Python binding tests.

OpenSSL is loaded RTLD_GLOBAL (and `ssl` imported) before netsocket, so the
whole suite runs with both TLS libraries in the process."""
import ctypes
import os
import pathlib
import ssl  # noqa: F401  (OpenSSL first, on purpose)
import subprocess
import threading

ctypes.CDLL("libssl.so.3", mode=ctypes.RTLD_GLOBAL)

import pytest  # noqa: E402

import netsocket  # noqa: E402

GEN_CERTS = pathlib.Path(__file__).resolve().parent.parent / "gen-certs.sh"
TIMEOUT_US = 5_000_000


class Certs:
    def __init__(self, d):
        self.dir = d

    def path(self, name):
        return str(self.dir / name)

    def read(self, name):
        return (self.dir / name).read_bytes()


@pytest.fixture(scope="session")
def certs(tmp_path_factory):
    d = tmp_path_factory.mktemp("certs")
    subprocess.run(["sh", str(GEN_CERTS), str(d)], check=True, timeout=60)
    return Certs(d)


class Thread(threading.Thread):
    """A thread that re-raises its exception in join()."""

    def __init__(self, fn, *args):
        super().__init__(daemon=True)
        self.fn, self.args, self.exc, self.result = fn, args, None, None

    def run(self):
        try:
            self.result = self.fn(*self.args)
        except BaseException as e:  # noqa: BLE001
            self.exc = e

    def join(self, timeout=10):
        super().join(timeout)
        assert not self.is_alive(), "thread did not finish"
        if self.exc:
            raise self.exc
        return self.result


def start(fn, *args):
    t = Thread(fn, *args)
    t.start()
    return t


def blocking(**fields):
    """Options for a blocking socket with a read timeout (tests never hang)."""
    fields.setdefault("non_blocking", False)
    fields.setdefault("read_timeout", TIMEOUT_US)
    return fields


@pytest.fixture
def plain_server():
    srv = netsocket.make_server_socket("127.0.0.1", "0", netsocket.socket_options(**blocking()))
    yield srv
    srv.close()


def pytest_configure(config):
    os.environ.setdefault("NETSOCKET_TEST", "1")
