#!/bin/sh
# fetch.sh [ROOT] - download Debian's sendmail-bin, sendmail-base and
# sendmail-cf and extract them into ROOT (default build/sendmail-root at the
# top of the tree), for the Sendmail end-to-end suite.
#
# The packages are extracted, never installed: sendmail-bin and postfix both
# provide mail-transport-agent, and installing it would remove Postfix.
# Idempotent: a ROOT that holds the daemon and the m4 macros is kept as it
# is; a lock keeps two runs from extracting at the same time.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
root=${1:-$top/build/sendmail-root}
daemon=$root/usr/libexec/sendmail/sendmail
macros=$root/usr/share/sendmail/cf/m4/cf.m4
mkdir -p "$(dirname "$root")"
exec 9>"$root.lock"
flock 9
if [ -x "$daemon" ] && [ -f "$macros" ]; then
	exit 0
fi
dl=$(mktemp -d "${TMPDIR:-/tmp}/gw-sendmail-dl.XXXXXX")
trap 'rm -rf "$dl"' EXIT
# apt-get download writes into the current directory, as user _apt when
# it can: let it write there
chmod 777 "$dl"
(cd "$dl" && apt-get download -q sendmail-bin sendmail-base sendmail-cf \
    >/dev/null)
rm -rf "$root.new"
mkdir -p "$root.new"
for deb in "$dl"/*.deb; do
	dpkg-deb -x "$deb" "$root.new"
done
[ -x "$root.new/usr/libexec/sendmail/sendmail" ] ||
    { echo "fetch.sh: no sendmail daemon in the packages" >&2; exit 1; }
rm -rf "$root"
mv "$root.new" "$root"
echo "fetch.sh: sendmail extracted into $root"
