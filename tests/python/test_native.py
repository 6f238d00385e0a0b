"""The module as a Python user expects it: a package with stubs and a version."""
import pathlib

import netsocket

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
