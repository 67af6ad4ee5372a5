#!/usr/bin/env bash
# Fetch CPython 3.14's own test package into build/cpython-tests/test, once: Debian sid's
# libpython3.14-testsuite (the test modules) plus the `test` package's base (test/__init__.py,
# test/support, test/libregrtest), which Debian ships in libpython3.14-stdlib. Only Debian's archive is contacted, through apt's
# own client, with a private state directory (the system's apt lists are untouched).
# The tree is cached (build/ is git-ignored): a second run does nothing.
#
#   tests/cpython/fetch_testsuite.sh [DEST]     (default build/cpython-tests)
#
# Prints the test tree's path on success; exits 1 with a reason otherwise.
set -euo pipefail
cd "$(dirname "$0")/../.."
DEST="$(realpath -m "${1:-build/cpython-tests}")"
if [ -f "$DEST/test/test_bz2.py" ] && [ -f "$DEST/test/support/__init__.py" ] && [ -f "$DEST/VERSION" ]; then
    echo "$DEST/test"
    exit 0
fi
command -v apt-get >/dev/null || { echo "fetch_testsuite: apt-get is needed" >&2; exit 1; }
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
[ -f "$KEYRING" ] || { echo "fetch_testsuite: $KEYRING is missing (apt-get install debian-archive-keyring)" >&2; exit 1; }
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/apt/lists/partial" "$WORK/apt/cache/archives/partial" "$WORK/dl"
echo "deb [signed-by=$KEYRING] http://deb.debian.org/debian sid main" > "$WORK/apt/sources.list"
OPTS=(-o "Dir::Etc::SourceList=$WORK/apt/sources.list" -o Dir::Etc::SourceParts=/dev/null
      -o "Dir::State::Lists=$WORK/apt/lists" -o "Dir::Cache=$WORK/apt/cache"
      -o Debug::NoLocking=1 -o APT::Sandbox::User=root)
apt-get "${OPTS[@]}" -q update >&2
(cd "$WORK/dl" && apt-get "${OPTS[@]}" -q download libpython3.14-testsuite libpython3.14-stdlib >&2)
DEB="$(ls "$WORK"/dl/libpython3.14-testsuite_*.deb)"
dpkg-deb -x "$DEB" "$WORK/x"
dpkg-deb -x "$(ls "$WORK"/dl/libpython3.14-stdlib_*.deb)" "$WORK/s"
# Only the test package's own files from the stdlib package; the guest has its own stdlib.
cp -r "$WORK/s/usr/lib/python3.14/test/." "$WORK/x/usr/lib/python3.14/test/"
[ -f "$WORK/x/usr/lib/python3.14/test/support/__init__.py" ] || { echo "fetch_testsuite: no test/support in libpython3.14-stdlib" >&2; exit 1; }
rm -rf "$DEST.tmp"
mkdir -p "$DEST.tmp"
mv "$WORK/x/usr/lib/python3.14/test" "$DEST.tmp/test"
basename "$DEB" | sed -e 's/^libpython3.14-testsuite_//' -e 's/_.*//' > "$DEST.tmp/VERSION"
rm -rf "$DEST"
mv "$DEST.tmp" "$DEST"
echo "$DEST/test"
