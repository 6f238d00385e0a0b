#!/bin/sh
# sysroot.sh DIR — an aarch64 sysroot for the bindings' cross-build and
# smoke tests (tests/aarch64/bindings.sh): Debian's arm64 Lua, Python and
# Ruby (interpreters, runtime libraries, headers) unpacked into DIR/sysroot
# with `dpkg -x`, never installed.  Installing them with apt would replace
# this machine's amd64 interpreters.  Needs `dpkg --add-architecture arm64`
# and an apt-get update (.ci/install-deps does both).  The .debs are kept in
# DIR/debs; a second run with the same list downloads nothing.
set -eu
dir=$1
packages="libc6 libgcc-s1 libstdc++6 libreadline8 libtinfo6 zlib1g libexpat1 libffi8 libcrypt1
  lua5.4 liblua5.4-0 liblua5.4-dev
  python3.11-minimal libpython3.11-minimal libpython3.11-stdlib libpython3.11 libpython3.11-dev
  ruby3.1 libruby3.1 ruby3.1-dev libgmp10 libyaml-0-2"
stamp="$dir/sysroot/.ns-packages"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$packages" ]; then
    exit 0
fi
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    echo "sysroot.sh: dpkg has no arm64 architecture (run .ci/install-deps)" >&2
    exit 1
fi
mkdir -p "$dir/debs"
# apt-get download fetches as the _apt user where it can; a directory it
# cannot write to is fetched as this user (a warning, not an error).
list=""
for p in $packages; do
    ls "$dir/debs/${p}_"*_arm64.deb >/dev/null 2>&1 || list="$list $p:arm64"
done
if [ -n "$list" ]; then
    # shellcheck disable=SC2086
    (cd "$dir/debs" && apt-get download -q $list 2>&1 | grep -v 'unsandboxed' >&2) || true
fi
for p in $packages; do
    ls "$dir/debs/${p}_"*_arm64.deb >/dev/null 2>&1 || { echo "sysroot.sh: could not download $p:arm64" >&2; exit 1; }
done
rm -rf "$dir/sysroot"
mkdir -p "$dir/sysroot"
for p in $packages; do
    # the newest of the cached versions of p
    deb=$(ls "$dir/debs/${p}_"*_arm64.deb | sort -V | tail -n 1)
    dpkg -x "$deb" "$dir/sysroot"
done
printf '%s' "$packages" > "$stamp"
