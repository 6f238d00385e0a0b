#!/bin/sh
# test_package.sh PYTHON SRC WORKDIR: pip-installs bindings/python (no
# network, no build isolation) into a fresh venv and runs the suite there.
set -eu
python=$1 src=$2 work=$3
rm -rf "$work"
"$python" -m venv --system-site-packages "$work/venv"
"$work/venv/bin/pip" install --quiet --no-build-isolation --no-index "$src"
rm -rf "$src/build" "$src"/*.egg-info
cd "$work"
"$work/venv/bin/python" -c 'import netsocket, sys; assert "site-packages" in netsocket.__file__, netsocket.__file__'
exec "$work/venv/bin/python" -m pytest -q -p no:cacheprovider "$(dirname "$0")"
