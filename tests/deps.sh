#!/bin/sh
# deps.sh PKG... - install the Debian packages that are missing.
# Quiet when everything is present; runs apt-get update first otherwise.
# Services that packages would start are not started (no init system here,
# and tests start what they need themselves).
set -eu
missing=""
for p in "$@"; do
	s=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$s" = installed ] || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps: installing$missing"
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# postfix asks debconf questions; answer them for a no-configuration install
echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
echo "deps: done"
