#!/usr/bin/python3
"""differential.py - the native SPF engine against pyspf on random records.

    differential.py --spfcheck BUILD/tests/spfcheck [--seed 7208] [-n 300]
                    [--port-base 28200] [-v]

Generates n random cases (seeded, so a failure can be replayed): for each a
small zone with an SPF record built from random mechanisms (ip4, ip6, a,
mx, ptr, exists, include, all), qualifiers, CIDR lengths, macros,
redirect= and exp=, sub-records for include and redirect, address, MX, PTR
and TXT data, a few timeouts and a few deliberate syntax errors.  All zones
are served together by the DNS fixture (tests/dns/fixture.py); the native
engine (through spfcheck and the shared resolver) and pyspf (Debian
python3-spf, through dnspython pointed at the same fixture) evaluate every
case; results (and explanations, for fail) must agree.

Where RFC 7208 leaves room and pyspf reads it differently from gatewarden,
the generator stays out of the way instead of hiding disagreements (each
such rule is covered by a unit test in tests/unit/test_spf.c):
  - pyspf counts a void lookup for every empty address lookup of an MX or
    PTR name; gatewarden counts void lookups per term (4.6.4), so MX and
    PTR names here always have A and AAAA records;
  - pyspf counts an unused redirect= against the 10-term limit; records
    here stay well below the limit;
  - pyspf joins macro parts split on '-', '+' ... with the original
    delimiter for letters other than l and s, gatewarden with '.' (7.3);
    delimiters are only used with l here;
  - a DNS error during a ptr lookup is no match (5.5) for gatewarden and
    temperror for pyspf; no timeouts on PTR data here.
And one pyspf bug found by this test: pyspf rejects a macro-string that
ends in "%%" (its invalid-macro pattern also matches the second '%'), so it
drops such explanations; RFC 7208's ABNF allows "%%" anywhere.  Explanation
texts here do not end in "%%"; tests/unit/test_spf.c checks gatewarden
expands a trailing "%%".

Prints disagreements and ends with
    spf-differential: N passed, N failed
"""

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import Driver, ctl, start_fixture  # noqa: E402

V4_POOL = ["192.0.2.%d" % i for i in range(1, 9)] + \
    ["198.51.100.%d" % i for i in range(1, 5)]
V6_POOL = ["2001:db8::%x" % i for i in range(1, 9)] + \
    ["2001:db8:1::%x" % i for i in range(1, 4)]
LOCALS = ["user", "john.doe", "a-b", "x+tag", "first.last-x", "Mixed.Case"]
EXP_PIECES = ["%{d}", "%{i}", "%{s}", "%{l}", "%{o}", "%{h}", "%{v}",
              "%{c}", "%{D2}", "%{ir}", "%{l1r-}", "%%", "%_", "%-",
              "Not", "allowed", "see", "http://x.example/why?%{S}", "from"]
EXISTS_FORMS = ["%{ir}.bl.{D}", "%{i}.ok.{D}", "%{l}.u.{D}", "%{L}.u.{D}",
                "%{l-}.u.{D}", "%{lr-}.u.{D}", "%{d2}.dom.{D}",
                "%{dr}.rev.{D}", "%{ir}.%{v}.arpa.{D}", "x.%{d}",
                "%{o}.sender.{D}"]
BAD_TERMS = ["ip4:192.0.2.1/33", "a:foo", "%{x}", "ip6:::1/129", "mx/33",
             "include", "exp=", "redirect=a.example redirect=b.example",
             "-all.", "a:%{c}.example.com", "foo=%", "ptr/24",
             "ip4:1.2.3", "a//129"]


def rev4(ip):
    return ".".join(reversed(ip.split("."))) + ".in-addr.arpa"


def rev6(ip):
    import ipaddress
    h = ipaddress.ip_address(ip).exploded.replace(":", "")
    return ".".join(reversed(h)) + ".ip6.arpa"


def macro_expand_name(form, env):
    """Names the exists forms can expand to (for zone data), or None."""
    import ipaddress
    ip = ipaddress.ip_address(env["ip"])
    if ip.version == 4:
        i = env["ip"]
        v = "in-addr"
    else:
        i = ".".join(ip.exploded.replace(":", "").upper())
        v = "ip6"
    ir = ".".join(reversed(i.split(".")))
    l = env["l"]
    d = env["d"]
    subst = {
        "%{ir}": ir, "%{i}": i, "%{l}": l, "%{v}": v, "%{d}": d,
        "%{o}": env["o"],
        "%{L}": "".join(c if c.isalnum() or c in "-._~" else
                        "%%%02X" % ord(c) for c in l),
        "%{l-}": ".".join(l.split("-")),
        "%{lr-}": ".".join(reversed(l.split("-"))),
        "%{d2}": ".".join(d.split(".")[-2:]),
        "%{dr}": ".".join(reversed(d.split("."))),
    }
    out = form.replace("{D}", env["D"])
    for k in sorted(subst, key=len, reverse=True):
        out = out.replace(k, subst[k])
    return out


class Gen:
    def __init__(self, rng, i):
        self.rng = rng
        self.i = i
        self.zone = {}
        self.D = "c%d.diff.example.net" % i
        self.v6 = rng.random() < 0.35
        self.ip = rng.choice(V6_POOL if self.v6 else V4_POOL)
        self.local = rng.choice(LOCALS)
        self.null = rng.random() < 0.08
        self.nhost = 0

    def add(self, name, rr):
        self.zone.setdefault(name, []).append(rr)

    def host(self, both=False, match=None):
        """A new host name with random address records."""
        self.nhost += 1
        name = "h%d.%s" % (self.nhost, self.D)
        r = self.rng
        if match is None:
            match = r.random() < 0.4
        kinds = ["both"] if both else ["both", "both", "a", "aaaa", "none"]
        kind = r.choice(kinds)
        if kind in ("both", "a"):
            ips = r.sample(V4_POOL, r.randint(1, 2))
            if match and not self.v6:
                ips.append(self.ip)
            for ip in ips:
                self.add(name, {"A": ip})
        if kind in ("both", "aaaa"):
            ips = r.sample(V6_POOL, r.randint(1, 2))
            if match and self.v6:
                ips.append(self.ip)
            for ip in ips:
                self.add(name, {"AAAA": ip})
        return name

    def cidr(self, four):
        r = self.rng
        if r.random() < 0.5:
            return ""
        if four:
            return "/%d" % r.choice([32, 31, 24, 16, 8, 0])
        return "/%d" % r.choice([128, 64, 48, 32, 0])

    def mech(self, name, depth):
        r = self.rng
        kind = r.choice(["ip4", "ip4", "ip6", "a", "a", "mx", "exists",
                         "exists", "include", "ptr"])
        q = r.choice(["", "", "+", "-", "~", "?"])
        if kind == "ip4":
            ip = self.ip if (not self.v6 and r.random() < 0.4) else \
                r.choice(V4_POOL)
            return q + "ip4:" + ip + self.cidr(True)
        if kind == "ip6":
            ip = self.ip if (self.v6 and r.random() < 0.4) else \
                r.choice(V6_POOL)
            return q + "ip6:" + ip + self.cidr(False)
        if kind == "a":
            c4 = self.cidr(True)
            c6 = "/" + self.cidr(False) if r.random() < 0.3 else ""
            if c6 == "/":
                c6 = ""
            if r.random() < 0.3:
                # the record's own name
                self.host_records(name)
                return q + "a" + c4 + c6
            h = self.host() if r.random() < 0.85 else \
                "nx%d.%s" % (self.nhost, self.D)
            return q + "a:" + h + c4 + c6
        if kind == "mx":
            target = self.host_name()
            for k in range(r.randint(0, 3)):
                self.add(target, {"MX": [10 * k, self.host(both=True)]})
            return q + "mx:" + target + self.cidr(True)
        if kind == "exists":
            form = r.choice(EXISTS_FORMS)
            env = {"ip": self.ip, "l": self.local, "d": name,
                   "o": self.sender_domain(), "D": self.D}
            target = macro_expand_name(form, env)
            if r.random() < 0.5 and len(target) <= 253 and \
                    all(0 < len(x) < 64 for x in target.split(".")):
                self.add(target, {"A": "127.0.0.2"})
            return q + "exists:" + form.replace("{D}", self.D)
        if kind == "include":
            sub = "inc%d.%s" % (self.nhost, self.D)
            self.nhost += 1
            x = r.random()
            if x < 0.05:
                self.add(sub, "TIMEOUT")
            elif x < 0.1:
                self.add(sub, {"TXT": "not spf"})
            elif depth >= 2:
                self.add(sub, {"TXT": "v=spf1 ip4:%s %sall" % (
                    r.choice(V4_POOL + [self.ip] if not self.v6 else V4_POOL),
                    r.choice("-~?+"))})
            else:
                self.add(sub, {"TXT": self.record(sub, depth + 1)})
            return q + "include:" + sub
        # ptr
        rev = rev6(self.ip) if self.v6 else rev4(self.ip)
        if rev not in self.zone and r.random() < 0.8:
            for k in range(r.randint(1, 2)):
                h = self.host(both=True)
                self.add(rev, {"PTR": h})
        return q + ("ptr" if r.random() < 0.5 else "ptr:" + self.D)

    def host_name(self):
        self.nhost += 1
        return "m%d.%s" % (self.nhost, self.D)

    def host_records(self, name):
        r = self.rng
        if r.random() < 0.7:
            ips = [self.ip] if r.random() < 0.5 else []
            fam = "AAAA" if self.v6 else "A"
            pool = V6_POOL if self.v6 else V4_POOL
            for ip in ips + [r.choice(pool)]:
                self.add(name, {fam: ip})

    def sender_domain(self):
        return self.D

    def record(self, name, depth):
        r = self.rng
        terms = [self.mech(name, depth) for _ in range(r.randint(0, 4 - depth))]
        if r.random() < 0.55:
            terms.append(r.choice(["-all", "~all", "?all", "+all", "all"]))
        elif depth < 2 and r.random() < 0.35:
            sub = "r%d.%s" % (self.nhost, self.D)
            self.nhost += 1
            self.add(sub, {"TXT": self.record(sub, depth + 1)})
            terms.append("redirect=" + sub)
        if r.random() < 0.3:
            why = "why%d.%s" % (self.nhost, self.D)
            self.nhost += 1
            text = " ".join(r.choice(EXP_PIECES)
                            for _ in range(r.randint(1, 5)))
            if text.endswith("%%"):
                text += " ."	# see the pyspf note at the top
            self.add(why, {"TXT": text})
            terms.insert(r.randint(0, len(terms)), "exp=" + why)
        if r.random() < 0.05:
            terms.insert(r.randint(0, len(terms)), r.choice(BAD_TERMS))
        return " ".join(["v=spf1"] + terms)

    def case(self):
        rec = self.record(self.D, 0)
        if self.rng.random() < 0.04:
            rec = "(no record)"
            self.add(self.D, {"TXT": "unrelated text"})
        else:
            self.add(self.D, {"TXT": rec})
        helo = self.D if self.null else "mail.other.example.org"
        return {"host": self.ip, "helo": helo,
                "mailfrom": "" if self.null else
                "%s@%s" % (self.local, self.D),
                "record": rec}


def pyspf_check(case, port):
    import dns.resolver
    import spf
    res = dns.resolver.Resolver(configure=False)
    res.nameservers = ["127.0.0.1"]
    res.port = port
    res.timeout = 1
    res.lifetime = 1
    dns.resolver.default_resolver = res
    q = spf.query(i=case["host"], s=case["mailfrom"], h=case["helo"],
                  receiver="receiver.example", timeout=1)
    q.set_default_explanation("DEFAULT")
    r, _, exp = q.check()
    return r, exp


def main():
    top = os.path.abspath(os.path.join(os.path.dirname(__file__), "..",
                                       "..", ".."))
    ap = argparse.ArgumentParser()
    ap.add_argument("--spfcheck", required=True)
    ap.add_argument("--seed", type=int, default=7208)
    ap.add_argument("-n", type=int, default=300)
    ap.add_argument("--port-base", type=int, default=28200)
    ap.add_argument("-v", action="store_true")
    args = ap.parse_args()

    rng = random.Random(args.seed)
    zone = {}
    cases = []
    for i in range(args.n):
        g = Gen(rng, i)
        c = g.case()
        c["id"] = "c%d" % i
        zone.update(g.zone)
        cases.append(c)

    tmp = tempfile.mkdtemp(prefix="gw-spfdiff-")
    zfile = os.path.join(tmp, "zone.json")
    with open(zfile, "w") as f:
        json.dump({"zonedata": zone}, f)
    sock = os.path.join(tmp, "ctl")
    fixture, port = start_fixture(top, args.port_base, sock)
    passed = failed = 0
    seen = {}
    drv = None
    try:
        r = ctl(sock, "load %s" % zfile)
        if not r.startswith("ok"):
            raise RuntimeError("fixture load: %s" % r)
        drv = Driver(args.spfcheck, "native", port, 400)
        for c in cases:
            got = drv.ask({"id": c["id"], "host": c["host"],
                           "helo": c["helo"], "mailfrom": c["mailfrom"]})
            pres, pexp = pyspf_check(c, port)
            seen[pres] = seen.get(pres, 0) + 1
            ok = got["result"] == pres
            nexp = got.get("explanation") or "DEFAULT"
            if ok and pres == "fail" and nexp != pexp:
                ok = False
            if ok:
                passed += 1
                if args.v:
                    print("  ok %s %s" % (c["id"], pres))
                continue
            failed += 1
            print("  DIFF %s: native %s%s, pyspf %s%s" % (
                c["id"], got["result"],
                " (%s)" % got["problem"] if got.get("problem") else "",
                pres, ""))
            if got["result"] == pres:
                print("    explanation native %r pyspf %r" % (nexp, pexp))
            print("    ip %s from %r helo %s" % (c["host"], c["mailfrom"],
                                                 c["helo"]))
            dom = "c%s.diff.example.net" % c["id"][1:]
            for name in sorted(zone):
                if name == dom or name.endswith("." + dom) or \
                        dom in name:
                    print("    %s %s" % (name, json.dumps(zone[name])))
    finally:
        if drv:
            drv.close()
        fixture.terminate()
        fixture.wait(timeout=10)
        for f in (zfile, sock):
            try:
                os.unlink(f)
            except OSError:
                pass
        try:
            os.rmdir(tmp)
        except OSError:
            pass
    print("spf-differential: pyspf results seen: %s" % ", ".join(
        "%s %d" % kv for kv in sorted(seen.items())))
    print("spf-differential: %d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
