#!/bin/sh
# suite-50-dkim-vectors.sh - the staged DKIM conformance vectors (RFC 6376
# and 8463 examples, dkimpy's data, libopendkim's transcribed tests) through
# gatewarden's DKIM verifier and signer, with RFC 8301 applied (rsa-sha1 and
# RSA keys under 1024 bits are permerror).  Key records are served from the
# case table by the driver (tests/dkim/dkimvec.c), built here against the
# tree's library.  Ends with "dkim-vectors: N passed, N failed".
cd "$(dirname "$0")/.." || exit 1
BUILD=${BUILD:-build}
VEC=${DKIM_VECTORS:-/work/shared/conformance/dkim}
tmp=$(mktemp -d /tmp/gw-dkimvec.XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM

if [ ! -d "$VEC" ]; then
	echo "no vectors at $VEC"
	echo "dkim-vectors: 0 passed, 1 failed"
	exit 1
fi
if ! cc -std=c11 -Wall -Wextra -Werror -D_GNU_SOURCE -I. -Ifilter \
    $(pkg-config --cflags opendkim jansson) -o "$tmp/dkimvec" \
    tests/dkim/dkimvec.c "$BUILD/libgw.a" \
    $(pkg-config --libs opendkim libcrypto jansson); then
	echo "dkim-vectors: 0 passed, 1 failed"
	exit 1
fi
mkdir "$tmp/keys"
/usr/bin/python3 tests/dkim/vectors.py "$VEC" "$tmp/keys" > "$tmp/cases" || {
	echo "dkim-vectors: 0 passed, 1 failed"
	exit 1
}
"$tmp/dkimvec" ${V:+-v} < "$tmp/cases"
