#!/bin/sh
# Fetches BoringSSL's source from Debian's source package into DEST and
# unpacks it.  The apt sources are derived from this machine's own
# /etc/apt/sources.list.d/*.sources (as deb-src), so no host is named here.
# Usage: fetch-boringssl.sh DEST
set -eu
dest=$1
pkg=android-platform-external-boringssl
mkdir -p "$dest"
cd "$dest"
if [ -f tree/android-sources.cmake ]; then exit 0; fi
rm -rf apt && mkdir -p apt/parts apt/lists/partial
found=0
for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    sed 's/^Types:.*$/Types: deb-src/' "$f" > "apt/parts/$(basename "$f")"
    found=1
done
if [ $found = 0 ] && [ -f /etc/apt/sources.list ]; then
    grep '^deb ' /etc/apt/sources.list | sed 's/^deb /deb-src /' > apt/parts/src.list
fi
aptopts="-o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts=$PWD/apt/parts -o Dir::State::Lists=$PWD/apt/lists -o APT::Sandbox::User=root"
# shellcheck disable=SC2086
apt-get -q $aptopts update >apt/update.log 2>&1 || { cat apt/update.log >&2; exit 1; }
# shellcheck disable=SC2086
apt-get -q $aptopts source --download-only "$pkg" >apt/source.log 2>&1 || { cat apt/source.log >&2; exit 1; }
rm -rf tree unpack && mkdir unpack
tar -C unpack -xf "$(ls ${pkg}_*.orig.tar.* | head -n 1)"
mv unpack/* tree && rmdir unpack
rm -f ${pkg}_*.orig.tar.* ${pkg}_*.debian.tar.* ${pkg}_*.dsc
test -f tree/android-sources.cmake
