#!/usr/bin/python3
"""run.py - the open-spf RFC 7208 suite against one SPF engine.

    run.py --engine native|libspf2 --spfcheck BUILD/tests/spfcheck
           [--suite rfc7208-tests.yml] [--port-base 28150] [-v]

For each of the suite's scenarios the DNS fixture (tests/dns/fixture.py)
is switched to the scenario's zonedata, the driver (spfcheck) gets a fresh
resolver pointed at the fixture, and every test of the scenario is
evaluated.  A test passes when the engine's result is one of the expected
results and, where the suite gives an explanation, the explanation matches
(the suite's DEFAULT stands for "no exp= text": the engine gave none).

Prints one line per failure and then
    spf-rfc7208 ENGINE: N passed, N failed
where every deviation counts as a failure, also the documented libspf2
ones.  Exit status: 0 when the deviations are exactly the documented known
failures of the engine (none for native), else 1.
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import shutil
import tempfile

import yaml

# libspf2 1.2.10 (Debian) deviations from the suite, with the sound fix-ups
# of spf_libspf2.c applied (invalid -> temperror/permerror, IPv4-mapped
# clients as IPv4).  Each still counts as a failure in the printed figure;
# the list only lets the suite tell an expected deviation from a new one.
# Reasons are libspf2's, measured with this runner; see docs/spf.md.
LIBSPF2_KNOWN = {
    # does not reject a record with non-ASCII or control characters (3.1, 4.6.1)
    "non-ascii-policy": "does not reject a record with non-ASCII or control characters",
    "control-char-policy": "does not reject a record with non-ASCII or control characters",
    # rejects a valid unknown-modifier name containing '.', '-' or '_' (A/3)
    "modifier-charset-good": "rejects a valid unknown-modifier name containing '.', '-' or '_'",
    # follows redirect= where it stands, as a mechanism, not after all mechanisms (6.1)
    "redirect-after-mechanisms1": "follows redirect= where it stands, as a mechanism, not after all mechanisms",
    "redirect-after-mechanisms2": "follows redirect= where it stands, as a mechanism, not after all mechanisms",
    # accepts 'redirect:' as a mechanism (4.6.1)
    "redirect-is-modifier": "accepts 'redirect:' as a mechanism",
    # does not validate the domain-spec top label (7.1)
    "invalid-domain": "does not validate the domain-spec top label",
    "a-bad-domain": "does not validate the domain-spec top label",
    "a-numeric": "does not validate the domain-spec top label",
    "a-numeric-toplabel": "does not validate the domain-spec top label",
    "a-bad-toplabel": "does not validate the domain-spec top label",
    "a-only-toplabel": "does not validate the domain-spec top label",
    "a-only-toplabel-trailing-dot": "does not validate the domain-spec top label",
    "mx-bad-domain": "does not validate the domain-spec top label",
    "mx-numeric-top-label": "does not validate the domain-spec top label",
    "mx-bad-toplab": "does not validate the domain-spec top label",
    # accepts an empty domain-spec (5.2, 5.3, 5.4, 5.5, 5.7, 6.1, 6.2)
    "ptr-empty-domain": "accepts an empty domain-spec",
    "a-empty-domain": "accepts an empty domain-spec",
    "mx-empty-domain": "accepts an empty domain-spec",
    "exists-empty-domain": "accepts an empty domain-spec",
    "redirect-empty-domain": "accepts an empty domain-spec",
    "exp-empty-domain": "accepts an empty domain-spec",
    # accepts a CIDR length on exists (5.7)
    "exists-cidr": "accepts a CIDR length on exists",
    # a DNS error on a PTR name's address lookup gives temperror instead of skipping the name (5.5)
    "ptr-cname-loop": "a DNS error on a PTR name's address lookup gives temperror instead of skipping the name",
    # rejects the CIDR length /0 (5.6)
    "a-nxdomain": "rejects the CIDR length /0",
    "a-cidr4-0": "rejects the CIDR length /0",
    "a-cidr4-0-ip6": "rejects the CIDR length /0",
    "a-cidr6-0-ip4": "rejects the CIDR length /0",
    "a-cidr6-0-ip4mapped": "rejects the CIDR length /0",
    "a-cidr6-0-ip6": "rejects the CIDR length /0",
    "a-cidr6-0-nxdomain": "rejects the CIDR length /0",
    "mx-nxdomain": "rejects the CIDR length /0",
    "mx-cidr4-0": "rejects the CIDR length /0",
    "mx-cidr4-0-ip6": "rejects the CIDR length /0",
    "mx-cidr6-0-ip4": "rejects the CIDR length /0",
    "mx-cidr6-0-ip4mapped": "rejects the CIDR length /0",
    "mx-cidr6-0-ip6": "rejects the CIDR length /0",
    "mx-cidr6-0-nxdomain": "rejects the CIDR length /0",
    "cidr4-0": "rejects the CIDR length /0",
    "cidr6-0-ip4": "rejects the CIDR length /0",
    "cidr6-ip4": "rejects the CIDR length /0",
    "cidr6-0": "rejects the CIDR length /0",
    # keeps TXT data as C strings: a NUL ends the record and hides the error (7.1)
    "a-null": "keeps TXT data as C strings: a NUL ends the record and hides the error",
    "mx-null": "keeps TXT data as C strings: a NUL ends the record and hides the error",
    # accepts a CIDR length with a leading zero (5.6)
    "cidr4-032": "accepts a CIDR length with a leading zero",
    # parses spaces in explanation text as macro characters and prints them as '%' (6.2, 7.1)
    "redirect-cancels-prior-exp": "parses spaces in explanation text as macro characters and prints them as '%'",
    "dorky-sentinel": "parses spaces in explanation text as macro characters and prints them as '%'",
    "trailing-dot-exp": "parses spaces in explanation text as macro characters and prints them as '%'",
    "exp-txt-macro-char": "parses spaces in explanation text as macro characters and prints them as '%'",
    "v-macro-ip4": "parses spaces in explanation text as macro characters and prints them as '%'",
    "v-macro-ip6": "parses spaces in explanation text as macro characters and prints them as '%'",
    "p-macro-ip4-novalid": "parses spaces in explanation text as macro characters and prints them as '%'",
    "p-macro-ip4-valid": "parses spaces in explanation text as macro characters and prints them as '%'",
    "p-macro-ip6-novalid": "parses spaces in explanation text as macro characters and prints them as '%'",
    "p-macro-ip6-valid": "parses spaces in explanation text as macro characters and prints them as '%'",
    # uses exp= text although the name has several TXT records (6.2)
    "exp-multiple-txt": "uses exp= text although the name has several TXT records",
    "two-exp-records": "uses exp= text although the name has several TXT records",
    # uses explanation text that has a macro syntax error (6.2)
    "explanation-syntax-error": "uses explanation text that has a macro syntax error",
    # uses non-ASCII explanation text (6.2)
    "non-ascii-exp": "uses non-ASCII explanation text",
    # accepts exp= with an invalid domain-spec (6.2)
    "exp-syntax-error": "accepts exp= with an invalid domain-spec",
    # accepts exp= or redirect= twice (6)
    "exp-twice": "accepts exp= or redirect= twice",
    "redirect-twice": "accepts exp= or redirect= twice",
    # does not check the macro syntax of unknown modifiers (A/3)
    "unknown-modifier-syntax": "does not check the macro syntax of unknown modifiers",
    # allows the c, r, t macros outside exp text (7.1)
    "exp-only-macro-char": "allows the c, r, t macros outside exp text",
    # accepts '%' not followed by '{', '%', '_' or '-' (7.1)
    "invalid-macro-char": "accepts '%' not followed by '{', '%', '_' or '-'",
    "invalid-embedded-macro-char": "accepts '%' not followed by '{', '%', '_' or '-'",
    "invalid-trailing-macro-char": "accepts '%' not followed by '{', '%', '_' or '-'",
    # does not shorten expanded names longer than 253 characters (7.3)
    "domain-name-truncation": "does not shorten expanded names longer than 253 characters",
    # URL-escapes with lower-case hex digits (7.3)
    "upper-macro": "URL-escapes with lower-case hex digits",
    # More than 10 MX or PTR names: libspf2 counts the names it has looked
    # up and stops with permerror at the 11th, so its result depends on the
    # order of the answer, which the resolver rotates (rrset-roundrobin):
    # with 11 MX names it passes when the matching one comes early (RFC 7208
    # 4.6.4 wants permerror), with 11 PTR names it gives permerror when the
    # matching one comes late (4.6.4 wants the first 10 used).  These two
    # may pass or fail from run to run; see ORDER_DEPENDENT.
    "mx-limit": "result depends on MX answer order (permerror wanted)",
    "ptr-limit": "result depends on PTR answer order (first 10 wanted)",
    # restarts the DNS-lookup counter in each include (4.6.4)
    "include-over-limit": "restarts the DNS-lookup counter in each include",
    # has no void-lookup limit (4.6.4)
    "void-over-limit": "has no void-lookup limit",
}

# Known deviations that come and go with the order of DNS answers.
ORDER_DEPENDENT = {"mx-limit", "ptr-limit"}


def find_suite(top):
    """The RFC 7208 suite kept in the tree (tests/data/conformance/spf)."""
    return os.path.join(top, "tests", "data", "conformance", "spf",
                        "rfc7208-tests.yml")


def load_suite(path):
    """The suite's scenarios, each test's result as a list (first preferred)."""
    with open(path, encoding="utf-8") as f:
        scenarios = [d for d in yaml.safe_load_all(f) if d is not None]
    for sc in scenarios:
        for t in sc["tests"].values():
            if not isinstance(t["result"], list):
                t["result"] = [t["result"]]
    return scenarios


def start_fixture(top, port_base, ctl):
    """Start the fixture on the first free port of port_base..+49."""
    fixture = os.path.join(top, "tests", "dns", "fixture.py")
    for port in range(port_base, port_base + 50):
        p = subprocess.Popen(["/usr/bin/python3", fixture, "--port",
                              str(port), "--control", ctl],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
        line = p.stdout.readline()
        if line:
            try:
                info = json.loads(line)
                return p, info["port"]
            except (ValueError, KeyError):
                pass
        p.kill()
        p.wait()
    raise RuntimeError("fixture: no free port in %d..%d" %
                       (port_base, port_base + 49))


def ctl(path, cmd):
    """One command to the fixture's control socket; its reply line."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(30)
    s.connect(path)
    s.sendall((cmd + "\n").encode())
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = s.recv(4096)
        if not chunk:
            break
        buf += chunk
    s.close()
    return buf.decode().strip()


class Driver:
    """spfcheck, one JSON line in, one out."""

    def __init__(self, exe, engine, port, timeout_ms):
        self.p = subprocess.Popen(
            [exe, "--server", "127.0.0.1@%d" % port, "--engine", engine,
             "--timeout-ms", str(timeout_ms)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def ask(self, obj):
        self.p.stdin.write(json.dumps(obj) + "\n")
        self.p.stdin.flush()
        line = self.p.stdout.readline()
        if not line:
            raise RuntimeError("spfcheck died")
        return json.loads(line)

    def close(self):
        self.p.stdin.close()
        self.p.wait(timeout=30)


def main():
    top = os.path.abspath(os.path.join(os.path.dirname(__file__), "..",
                                       "..", ".."))
    ap = argparse.ArgumentParser()
    ap.add_argument("--engine", default="native")
    ap.add_argument("--spfcheck", required=True)
    ap.add_argument("--suite")
    ap.add_argument("--port-base", type=int, default=28150)
    ap.add_argument("--timeout-ms", type=int, default=400)
    ap.add_argument("-v", action="store_true")
    args = ap.parse_args()

    label = "spf-rfc7208 %s" % args.engine
    suite = args.suite or find_suite(top)
    if not os.path.exists(suite):
        print("%s: conformance data missing: %s" % (label, suite))
        print("%s: 0 passed, 1 failed" % label)
        return 1
    scenarios = load_suite(suite)
    known = LIBSPF2_KNOWN if args.engine == "libspf2" else {}

    tmp = tempfile.mkdtemp(prefix="gw-spf-")
    sock = os.path.join(tmp, "ctl")
    fixture, port = start_fixture(top, args.port_base, sock)
    drv = None
    passed = failed = 0
    deviations = set()
    try:
        drv = Driver(args.spfcheck, args.engine, port, args.timeout_ms)
        for i, sc in enumerate(scenarios):
            r = ctl(sock, "load %s %d" % (suite, i))
            if not r.startswith("ok"):
                raise RuntimeError("fixture load %d: %s" % (i, r))
            drv.ask({"cmd": "reset"})
            for tid, t in sc["tests"].items():
                got = drv.ask({"id": tid, "host": t["host"],
                               "helo": t.get("helo", ""),
                               "mailfrom": t.get("mailfrom", "")})
                want = t["result"]
                ok = got["result"] in want
                why = "result %s, want %s" % (got["result"], "|".join(want))
                if ok and "explanation" in t:
                    exp = got.get("explanation")
                    if exp is None:
                        exp = "DEFAULT"
                    if exp != t["explanation"]:
                        ok = False
                        why = "explanation %r, want %r" % (
                            exp, t["explanation"])
                if ok:
                    passed += 1
                    if args.v:
                        print("  ok   %s" % tid)
                    continue
                failed += 1
                deviations.add(tid)
                mark = "known" if tid in known else "FAIL"
                print("  %s %s (%s): %s%s" % (
                    mark, tid, sc["description"], why,
                    " [%s]" % got["problem"] if got.get("problem") else ""))
    finally:
        if drv:
            drv.close()
        fixture.terminate()
        fixture.wait(timeout=10)
        shutil.rmtree(tmp, ignore_errors=True)

    unexpected = sorted(deviations - set(known))
    fixed = sorted(set(known) - deviations - ORDER_DEPENDENT)
    for tid in fixed:
        print("  UNEXPECTED PASS %s: listed as a known %s failure" %
              (tid, args.engine))
    print("%s: %d passed, %d failed" % (label, passed, failed))
    if known:
        print("%s: %d known deviations, %d unexpected" %
              (label, len(deviations & set(known)),
               len(unexpected) + len(fixed)))
    return 0 if not unexpected and not fixed else 1


if __name__ == "__main__":
    sys.exit(main())
