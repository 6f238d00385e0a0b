#!/bin/sh
# test_package.sh PYTHON ROOT WORKDIR: pip-installs a copy of ROOT's
# bindings/python into a plain venv (no --system-site-packages: no wheel, no
# setuptools beyond ensurepip's; --no-index: no network), checks that the
# installed package carries its own libnetsocket and nothing points back
# into the build tree, then runs the suite against it.  NETSOCKET_LIB_DIR
# (set by ctest) is where the backend takes the built library from.
set -eu
python=$1 root=$2 work=$3
rm -rf "$work"
mkdir -p "$work/src"
cp -r "$root/bindings" "$root/VERSION" "$root/core" "$work/src/"
"$python" -m venv "$work/venv"
NETSOCKET_INCLUDE_DIR="$root/core/include" \
  "$work/venv/bin/python" -m pip install --quiet --no-index "$work/src/bindings/python"
rm -rf "$work/src" # the installed package must not need its sources
cd "$work"
site=$("$work/venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["platlib"])')
env -u NETSOCKET_LIB_DIR -u LD_LIBRARY_PATH "$work/venv/bin/python" - "$site" <<'PY'
import pathlib, sys
import netsocket
site = pathlib.Path(sys.argv[1])
pkg = pathlib.Path(netsocket.__file__).parent
assert pkg == site / "netsocket", (pkg, site)
maps = [line.split()[-1] for line in open("/proc/self/maps") if "libnetsocket.so" in line]
assert maps and all(m == str(pkg / "libnetsocket.so.1") for m in maps), maps
assert (pkg / "py.typed").exists() and (pkg / "__init__.pyi").exists()
version = (pathlib.Path(netsocket.__file__).parent / "libnetsocket.so.1").exists() and netsocket.__version__
assert version == netsocket.version(), version
server = netsocket.make_server_socket("127.0.0.1", 0, netsocket.socket_options(non_blocking=False))
client = netsocket.make_client_socket("127.0.0.1", server.info()[1], netsocket.socket_options(non_blocking=False))
peer = server.accept()
client.send_all(b"ping")
assert peer.recv(4) == b"ping"
print("venv package ok:", pkg)
PY
if readelf -d "$site"/netsocket/_netsocket*.so | grep -E 'R(UN)?PATH' | grep -v '\[\$ORIGIN\]'; then
    echo "the extension's rpath points outside its package" >&2
    exit 1
fi
# The suite needs pytest, which a plain venv lacks: the system interpreter
# (the same Python) runs it against the installed package.
PYTHONPATH=$site exec "$python" -m pytest -q -p no:cacheprovider "$(dirname "$0")"
