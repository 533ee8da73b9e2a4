#!/usr/bin/python3
"""interop.py - ARC between gatewarden and dkimpy (Debian python3-dkim).

usage: interop.py ARCVEC GW TOP TMPDIR PORTBASE [-v]

Keys are generated per run (openssl); their records are served to dkimpy
by a dnsfunc, to ARCVEC by a table and to `GW test` by the DNS fixture
(tests/dns/fixture.py on the first free port of PORTBASE..PORTBASE+49).

Checks, one line each, then "arc-interop: N passed, N failed":
  - dkimpy's own vectors (tests/data/arc/dkimpy-arc) validated by us;
  - chains of three sealers, dkimpy-gatewarden-dkimpy and
    gatewarden-dkimpy-gatewarden (rsa-sha256 and ed25519-sha256 seals of
    ours), each step validated by both sides;
  - a seal over a broken chain says cv=fail for both, and nothing seals
    after it;
  - the daemon's path, `GW test`: results.arc, A-R arc=, the added set
    validated by dkimpy, and DMARC's forwarded override through a trusted
    sealer;
  - 100 mutations of each valid chain made here never pass.
"""
import base64
import json
import os
import re
import subprocess
import sys

import dkim

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import arcsuite  # noqa: E402  (mutants)

PY = "/usr/bin/python3"
passed = failed = 0
verbose = "-v" in sys.argv


def check(ok, what, why=""):
    global passed, failed
    if ok:
        passed += 1
        if verbose:
            print("ok   " + what)
    else:
        failed += 1
        print("FAIL %s%s" % (what, (": " + why) if why else ""))


def genkey(path, alg):
    args = ["openssl", "genpkey", "-out", path, "-algorithm"]
    args += ["ED25519"] if alg == "ed25519" else \
        ["RSA", "-pkeyopt", "rsa_keygen_bits:2048"]
    subprocess.run(args, check=True, stderr=subprocess.DEVNULL)
    os.chmod(path, 0o600)
    der = subprocess.run(["openssl", "pkey", "-in", path, "-pubout",
                          "-outform", "DER"], stdout=subprocess.PIPE,
                         check=True).stdout
    if alg == "ed25519":
        return "v=DKIM1; k=ed25519; p=" + base64.b64encode(der[-32:]).decode()
    return "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode()


class World:
    def __init__(self, arcvec, gw, top, tmp):
        self.arcvec, self.gw, self.top, self.tmp = arcvec, gw, top, tmp
        self.dns = {}
        self.keys = {}
        for name, alg in (("py", "rsa"), ("gw", "rsa"), ("gwed", "ed25519"),
                          ("list", "rsa")):
            path = os.path.join(tmp, name + ".pem")
            self.dns["%s._domainkey.%s.example" % (name, name)] = \
                genkey(path, alg)
            self.keys[name] = (path, alg)
        with open(os.path.join(top, "tests/data/arc/dkimpy-arc/test.txt")) \
                as f:
            self.dns["test._domainkey.example.com"] = \
                "".join(f.read().split("\n"))
        self.dnsfile = os.path.join(tmp, "dns.tab")
        with open(self.dnsfile, "w") as f:
            for n, t in self.dns.items():
                f.write("%s\t%s\n" % (n, t))

    def dnsfunc(self, name, timeout=5):
        n = name.decode() if isinstance(name, bytes) else name
        t = self.dns.get(n.rstrip("."))
        return t.encode() if t is not None else None

    def py_verify(self, msg):
        try:
            cv, _, why = dkim.arc_verify(msg, dnsfunc=self.dnsfunc)
            return cv.decode(), why
        except Exception as e:  # dkimpy raises on some bad chains
            return "fail", "exception: %s" % e

    def py_seal(self, msg, name="py"):
        cv, _ = self.py_verify(msg)
        if not msg.lstrip().startswith(b"ARC-"):
            cv = "none" if b"ARC-Seal" not in msg else cv
        ar = ("Authentication-Results: %s.example; arc=%s\r\n" %
              (name, cv)).encode()
        with open(self.keys[name][0], "rb") as f:
            key = f.read()
        hdrs = dkim.arc_sign(ar + msg, name.encode(),
                             (name + ".example").encode(), key,
                             (name + ".example").encode(),
                             include_headers=[b"from", b"to", b"subject",
                                              b"date"])
        return b"".join(hdrs) + msg

    def gw_verify(self, msg):
        path = os.path.join(self.tmp, "v.eml")
        with open(path, "wb") as f:
            f.write(msg)
        p = subprocess.run([self.arcvec, "verify", self.dnsfile, path],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True)
        out = p.stdout.strip()
        return out.split()[0][3:] if out.startswith("cv=") else "error", \
            out + p.stderr.strip()

    def gw_seal(self, msg, name="gw"):
        path = os.path.join(self.tmp, "s.eml")
        with open(path, "wb") as f:
            f.write(msg)
        key, alg = self.keys[name]
        p = subprocess.run([self.arcvec, "sign", self.dnsfile, key,
                            "ed25519-sha256" if alg == "ed25519" else
                            "rsa-sha256", name + ".example", name,
                            "mx.%s.example" % name, "1700000000",
                            "from:to:subject:date", path],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        return p.stdout, p.stderr.decode()


MSG = (b"From: Alice <alice@origin.example>\r\n"
       b"To: list@list.example\r\n"
       b"Subject: ARC interop\r\n"
       b"Date: Thu, 14 Jan 2021 15:00:01 -0800\r\n"
       b"Message-ID: <interop@origin.example>\r\n"
       b"\r\n"
       b"Hello,\r\n  forwarded  twice.\r\n")


def both(w, msg, want, what):
    g, gwhy = w.gw_verify(msg)
    p, pwhy = w.py_verify(msg)
    check(g == want, "%s: gatewarden says %s" % (what, want), gwhy)
    check(p == want, "%s: dkimpy says %s" % (what, want), str(pwhy))


def vectors(w):
    d = os.path.join(w.top, "tests/data/arc/dkimpy-arc")
    for f, want in (("arc-i1-signed-expected.eml", "pass"),
                    ("arc-i1-as-has-h-tag.eml", "fail")):
        with open(os.path.join(d, f), "rb") as fh:
            msg = fh.read().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        g, why = w.gw_verify(msg)
        check(g == want, "dkimpy vector %s: %s" % (f, want), why)


def chains(w):
    valid = []
    m1 = w.py_seal(MSG, "py")
    both(w, m1, "pass", "dkimpy i=1")
    m2, err = w.gw_seal(m1, "gw")
    check(b"i=2" in m2.split(b"\r\n")[0], "gatewarden seals i=2", err)
    both(w, m2, "pass", "dkimpy, gatewarden i=2")
    m3 = w.py_seal(m2, "py")
    both(w, m3, "pass", "dkimpy, gatewarden, dkimpy i=3")
    valid += [m1, m2, m3]

    # dkimpy 1.1's ARC code knows rsa-sha256 only ("unknown signature
    # algorithm"), so an ed25519-sha256 seal is checked by us alone
    n1, err = w.gw_seal(MSG, "gwed")
    g, why = w.gw_verify(n1)
    check(g == "pass" and b"a=ed25519-sha256" in n1.split(b"\r\n")[0],
          "gatewarden i=1 (ed25519-sha256): gatewarden says pass", why)
    p, why = w.py_verify(n1)
    check(p == "fail" and "algorithm" in str(why), "gatewarden i=1 "
          "(ed25519-sha256): dkimpy refuses the algorithm, as documented",
          str(why))
    n1r, err = w.gw_seal(MSG, "gw")
    both(w, n1r, "pass", "gatewarden i=1 (rsa-sha256)")
    n2 = w.py_seal(n1r, "py")
    both(w, n2, "pass", "gatewarden, dkimpy i=2")
    n3, err = w.gw_seal(n2, "gw")
    both(w, n3, "pass", "gatewarden, dkimpy, gatewarden i=3")
    valid += [n1r, n2, n3]

    # a broken chain: sealed with cv=fail, and ended
    broken = m3.replace(b"forwarded  twice", b"forwarded thrice")
    both(w, broken, "fail", "changed body")
    b4, err = w.gw_seal(broken, "gw")
    check(b"cv=fail" in b4.split(b"\r\n")[0], "seal over a broken chain "
          "says cv=fail", b4.split(b"\r\n")[0].decode(errors="replace"))
    both(w, b4, "fail", "after a cv=fail seal")
    b5, err = w.gw_seal(b4, "gw")
    check(b5 == b4 and "no set added" in err, "nothing seals after cv=fail",
          err)
    return valid


def mutations(w, valid):
    for k, msg in enumerate(valid):
        ok, why = arcsuite.mutants(w.arcvec, w.dnsfile, w.tmp,
                                   "interop%d" % k, msg.decode())
        check(ok, "100 mutations of interop chain %d never pass" % k, why)


def gwtest(w, port, msg, policies, authserv="mx.gw.example"):
    conf = {"authserv_id": authserv, "log": {"level": "error"},
            "dns": {"servers": ["127.0.0.1@%d" % port], "timeout_ms": 2000},
            "policies": policies}
    cpath = os.path.join(w.tmp, "gw.json")
    with open(cpath, "w") as f:
        json.dump(conf, f)
    mpath = os.path.join(w.tmp, "t.eml")
    with open(mpath, "wb") as f:
        f.write(msg)
    p = subprocess.run([w.gw, "test", "-c", cpath, "--ip", "198.51.100.7",
                        "--helo", "list.example",
                        "--from", "bounce@list.example",
                        "--rcpt", "bob@mx.gw.example", mpath],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=60)
    try:
        return json.loads(p.stdout)
    except ValueError:
        return {"error": (p.stdout + p.stderr)[-400:]}


def apply_edits(msg, out):
    top = b""
    for h in out.get("headers", {}).get("add", []):
        if h.get("position") == "top":
            top += ("%s: %s\r\n" % (h["name"], h["value"].replace(
                "\n", "\r\n"))).encode()
    return top + msg


def daemon(w, m3):
    fx = os.path.join(w.top, "tests", "dns", "fixture.py")
    zone = os.path.join(w.tmp, "zone.json")
    zd = {n: [{"TXT": t}] for n, t in w.dns.items()}
    zd["_dmarc.origin.example"] = [{"TXT": "v=DMARC1; p=reject"}]
    zd["list.example"] = [{"TXT": "v=spf1 -all"}]
    zd["origin.example"] = [{"TXT": "v=spf1 -all"}]
    with open(zone, "w") as f:
        json.dump({"zonedata": zd}, f)
    port = int(sys.argv[5])
    fxp = None
    for p in range(port, port + 50):
        fxp = subprocess.Popen([PY, fx, "--port", str(p), zone],
                               stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
        line = fxp.stdout.readline()
        try:
            port = json.loads(line)["port"]
            break
        except (ValueError, KeyError):
            fxp.kill()
            fxp.wait()
            fxp = None
    if fxp is None:
        check(False, "DNS fixture started")
        return
    try:
        key, _ = w.keys["gw"]
        arc = {"enabled": True, "trusted_sealers": ["py.example"],
               "seal": {"enabled": True, "domain": "gw.example",
                        "selector": "gw", "key_file": key}}
        out = gwtest(w, port, m3, {"arc": arc})
        r = out.get("results", {}).get("arc", {})
        check(r.get("result") == "pass" and r.get("instances") == 3,
              "gatewarden test: results.arc pass, 3 instances",
              json.dumps(out)[:400])
        ar = [h["value"] for h in out.get("headers", {}).get("add", [])
              if h["name"] == "Authentication-Results"]
        check(ar and "arc=pass" in ar[0] and
              "smtp.remote-ip=198.51.100.7" in ar[0],
              "gatewarden test: A-R arc=pass smtp.remote-ip", str(ar))
        check(r.get("sealed") == 4, "gatewarden test: sealed i=4",
              str(r.get("sealed")))
        m4 = apply_edits(m3, out)
        both(w, m4, "pass", "gatewarden test seal i=4 on the 3-sealer chain")
        aar = [h["value"] for h in out.get("headers", {}).get("add", [])
               if h["name"] == "ARC-Authentication-Results"]
        check(aar and "arc=pass" in aar[0] and "mx.gw.example" in aar[0],
              "gatewarden test: AAR carries our arc=pass", str(aar))

        # DMARC: origin.example publishes p=reject and nothing aligns;
        # the trusted sealer py.example said dmarc=pass
        msg = MSG.replace(b"Subject: ARC interop",
                          b"Subject: ARC interop dmarc")
        ar = (b"Authentication-Results: py.example; arc=none; "
              b"dmarc=pass header.from=origin.example\r\n")
        with open(w.keys["py"][0], "rb") as f:
            pk = f.read()
        hdrs = dkim.arc_sign(ar + msg, b"py", b"py.example", pk,
                             b"py.example", include_headers=[
                                 b"from", b"to", b"subject", b"date"])
        forwarded = b"".join(hdrs) + msg
        dm = {"enabled": True, "skip_internal": False,
              "actions": {"reject": {"action": "reject"}}}
        out = gwtest(w, port, forwarded, {"arc": {"enabled": True,
                     "trusted_sealers": ["py.example"]}, "dmarc": dm})
        check(out.get("verdict") == "accept" and
              out.get("results", {}).get("arc", {}).get("override", {})
              .get("d") == "py.example",
              "DMARC fail overridden by a trusted sealer (forwarded)",
              json.dumps(out.get("results"))[:400])
        untrusted = dict(arc, trusted_sealers=[])
        out = gwtest(w, port, forwarded, {"arc": untrusted, "dmarc": dm})
        check(out.get("verdict") == "reject",
              "DMARC fail acted on without trusted sealers",
              out.get("verdict", json.dumps(out)[:300]))
        check("sealed" not in out.get("results", {}).get("arc", {}),
              "a rejected message is not sealed",
              json.dumps(out.get("results", {}).get("arc"))[:300])

        # sealing waits for every policy: our AAR carries dmarc= (dmarc
        # comes after arc) and every method of our A-R
        out = gwtest(w, port, forwarded, {"arc": dict(arc), "dmarc": dm})
        adds = out.get("headers", {}).get("add", [])
        ar = [h["value"] for h in adds
              if h["name"] == "Authentication-Results"]
        aar = [h["value"] for h in adds
               if h["name"] == "ARC-Authentication-Results"]

        def methods(v):
            return sorted(set(re.findall(r"(?:^|;)\s*([a-z]+)=", v)))
        check(out.get("verdict") == "accept" and aar and ar and
              "dmarc=" in aar[0] and "arc=pass" in aar[0],
              "sealed after DMARC: AAR carries dmarc= and arc=", str(aar))
        check(bool(aar and ar) and
              methods(aar[0]) == sorted(set(["i"] + methods(ar[0]))),
              "AAR methods = A-R methods", "%s / %s" % (aar, ar))
    finally:
        fxp.terminate()
        try:
            fxp.wait(timeout=10)
        except subprocess.TimeoutExpired:
            fxp.kill()
            fxp.wait()


def main():
    arcvec, gw, top, tmp = sys.argv[1:5]
    w = World(arcvec, gw, top, tmp)
    vectors(w)
    valid = chains(w)
    mutations(w, valid)
    daemon(w, valid[2])
    print("arc-interop: %d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
