#!/bin/sh
# test_package.sh PYTHON ROOT WORKDIR: pip-installs a copy of ROOT's
# bindings/python (no network, no build isolation; the copy keeps pip's
# in-tree build out of the source tree) into a fresh venv and runs the
# suite there.  NETSOCKET_LIB_DIR points at the built library.
set -eu
python=$1 root=$2 work=$3
rm -rf "$work"
mkdir -p "$work/src"
cp -r "$root/bindings" "$root/VERSION" "$work/src/"
"$python" -m venv --without-pip --system-site-packages "$work/venv" # pip: the system one
NETSOCKET_INCLUDE_DIR="$root/core/include" \
  "$work/venv/bin/python" -m pip install --quiet --no-build-isolation --no-index "$work/src/bindings/python"
cd "$work"
"$work/venv/bin/python" -c 'import netsocket, sys; assert "site-packages" in netsocket.__file__, netsocket.__file__'
exec "$work/venv/bin/python" -m pytest -q -p no:cacheprovider "$(dirname "$0")"
