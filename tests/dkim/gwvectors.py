#!/usr/bin/python3
"""gwvectors.py - the DKIM conformance cases through `gatewarden test`.

    gwvectors.py --gw BUILD/gatewarden --cases FILE [--port-base 29100] [-v]

FILE is what vectors.py writes (one block per case: msg, dns, sign, time,
expect/outcome/signfail).  One DNS test fixture (tests/dns/fixture.py) runs
for the whole set on the first free port of port-base..+49; before each case
its zone is switched through the control socket to the case's key records.

- A verify case: `gatewarden test --ip 203.0.113.N` (an outside client) with
  dns.servers = the fixture; the list of results.dkim[].result is compared
  with the expected list, or their best ("outcome": pass, temperror, fail,
  policy, neutral, permerror, none; the order docs/dkim.md gives).
- A sign case: `gatewarden test --ip 192.0.2.1` (trusted.networks) with the
  case's key in sign.keys, canonicalization as given; the DKIM-Signature it
  adds is put on top of the message (the message's own line ends), the key
  record is served beside the case's records (the case's own record for the
  name wins, as with the record-variant cases), and the signed message is
  verified like a verify case.  "signfail": no signature may be added.

`time` (a libopendkim fixed verification time) cannot be set through
`gatewarden test`: such a case runs at the real time and says so with -v.
Prints "FAIL ..." lines (all with -v) and "dkim-vectors: N passed, N failed".
"""

import argparse
import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile

ORDER = ["pass", "temperror", "fail", "policy", "neutral", "permerror",
         "none"]


def read_cases(path):
    cases, c = [], None
    for line in open(path, encoding="utf-8"):
        line = line.rstrip("\n")
        key, _, v = line.partition(" ")
        if key == "case":
            c = {"id": v, "dns": {}, "expect": None, "outcome": None,
                 "sign": None, "time": None, "signfail": False}
        elif key == "msg":
            c["msg"] = v
        elif key == "dns":
            n, _, t = v.partition("\t")
            c["dns"].setdefault(n.lower(), t)
        elif key == "sign":
            c["sign"] = v.split()
        elif key == "time":
            c["time"] = int(v)
        elif line == "signfail":
            c["signfail"] = True
        elif key == "expect":
            c["expect"] = v
        elif key == "outcome":
            c["outcome"] = v
        elif line == "end":
            cases.append(c)
    return cases


def start_fixture(top, base, ctl):
    fx = os.path.join(top, "tests", "dns", "fixture.py")
    for port in range(base, base + 50):
        p = subprocess.Popen(["/usr/bin/python3", fx, "--port", str(port),
                              "--control", ctl], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        line = p.stdout.readline()
        try:
            return p, json.loads(line)["port"]
        except (ValueError, KeyError):
            p.kill()
            p.wait()
    raise RuntimeError("fixture: no free port in %d..%d" % (base, base + 49))


def ctl(path, cmd):
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


def pubkey_record(keyfile, alg):
    der = subprocess.run(["openssl", "pkey", "-in", keyfile, "-pubout",
                          "-outform", "DER"], stdout=subprocess.PIPE,
                         check=True).stdout
    if alg.startswith("ed25519"):
        return "v=DKIM1; k=ed25519; p=" + base64.b64encode(der[-32:]).decode()
    return "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode()


class Runner:
    def __init__(self, gw, tmp, port, ctlsock):
        self.gw, self.tmp, self.port, self.ctl = gw, tmp, port, ctlsock
        self.n = 0
        self.verify_conf = self.conf("verify", None)

    def conf(self, name, sign):
        c = {"authserv_id": "mx.vectors.example",
             "log": {"level": "error"},
             "dns": {"servers": ["127.0.0.1@%d" % self.port],
                     "timeout_ms": 2000},
             "trusted": {"networks": ["192.0.2.0/24"]},
             "policies": {"dkim": {"enabled": True}}}
        if sign is not None:
            key, alg, sel, dom, canon = sign
            c["policies"]["dkim"]["sign"] = {
                "keys": [{"domain": dom, "selector": sel, "key_file": key,
                          "algorithm": alg}],
                "canonicalization": canon}
        path = os.path.join(self.tmp, name + ".json")
        with open(path, "w") as f:
            json.dump(c, f)
        return path

    def zone(self, records):
        self.n += 1
        path = os.path.join(self.tmp, "zone%d.json" % self.n)
        with open(path, "w") as f:
            json.dump({"zonedata": {n: [{"TXT": t}] for n, t in
                                    records.items()}}, f)
        r = ctl(self.ctl, "load " + path)
        if not r.startswith("ok"):
            raise RuntimeError("fixture load: " + r)

    def gwtest(self, conf, ip, msg):
        p = subprocess.run([self.gw, "test", "-c", conf, "--ip", ip,
                            "--helo", "client.example",
                            "--from", "sender@vectors.example",
                            "--rcpt", "rcpt@mx.vectors.example", msg],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=60)
        try:
            return json.loads(p.stdout)
        except ValueError:
            return {"error": (p.stdout + p.stderr).strip()[-300:]}

    def verify(self, c, msg):
        """the results.dkim of msg; (ok, text)"""
        self.n += 1
        d = self.gwtest(self.verify_conf, "203.0.113.%d" % (self.n % 250 + 1),
                        msg)
        if "error" in d:
            return False, "gatewarden test: " + d["error"]
        res = d.get("results", {}).get("dkim")
        if not isinstance(res, list):
            return False, "no results.dkim: " + json.dumps(d)[:300]
        got = [r.get("result") for r in res]
        why = res[0].get("reason") if res else None
        tail = (": " + why) if why else ""
        if c["outcome"] is not None:
            best = min((ORDER.index(g) for g in got if g in ORDER),
                       default=ORDER.index("none"))
            o = ORDER[best]
            return (c["outcome"] in ("any", o),
                    "outcome %s (%s)%s" % (o, ",".join(got), tail))
        return ",".join(got) == c["expect"], ",".join(got) + tail

    def sign(self, c):
        """sign c's message; (signed file or None, text)"""
        conf = self.conf("sign", c["sign"])
        d = self.gwtest(conf, "192.0.2.1", c["msg"])
        if "error" in d:
            return None, "gatewarden test: " + d["error"]
        sigs = [h["value"] for h in d.get("headers", {}).get("add", [])
                if h["name"].lower() == "dkim-signature"]
        if len(sigs) != 1:
            return None, "%d signatures added (%s)" % (
                len(sigs), json.dumps(d.get("trace", []))[-200:])
        raw = open(c["msg"], "rb").read()
        eol = b"\r\n" if b"\r\n" in raw else b"\n"
        hdr = b"DKIM-Signature: " + sigs[0].encode().replace(b"\n", eol) + eol
        out = os.path.join(self.tmp, "signed%d.eml" % self.n)
        with open(out, "wb") as f:
            f.write(hdr + raw)
        return out, "signed"

    def run(self, c):
        msg = c["msg"]
        records = {}
        if c["sign"] is not None:
            key, alg, sel, dom, _ = c["sign"]
            records["%s._domainkey.%s" % (sel, dom)] = pubkey_record(key, alg)
        records.update(c["dns"])
        self.zone(records)
        if c["sign"] is not None:
            signed, text = self.sign(c)
            if c["signfail"]:
                return signed is None and text.startswith("0 signatures"), \
                    "signing refused" if signed is None else "signed"
            if signed is None:
                return False, text
            msg = signed
        return self.verify(c, msg)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gw", required=True)
    ap.add_argument("--cases", required=True)
    ap.add_argument("--port-base", type=int, default=29100)
    ap.add_argument("-v", action="store_true")
    args = ap.parse_args()
    top = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
    tmp = tempfile.mkdtemp(prefix="gw-gwvec-")
    ctlsock = os.path.join(tmp, "ctl")
    passed = failed = 0
    fixture = None
    try:
        fixture, port = start_fixture(top, args.port_base, ctlsock)
        r = Runner(os.path.abspath(args.gw), tmp, port, ctlsock)
        for c in read_cases(args.cases):
            try:
                ok, text = r.run(c)
            except (RuntimeError, OSError, subprocess.SubprocessError) as e:
                ok, text = False, "error: %s" % e
            if c["time"] and args.v:
                text += " (fixed time %d not applied)" % c["time"]
            if ok:
                passed += 1
                if args.v:
                    print("ok   %s: %s" % (c["id"], text))
            else:
                failed += 1
                want = "signing refused" if c["signfail"] else \
                    (c["outcome"] + " (outcome)" if c["outcome"] is not None
                     else c["expect"])
                print("FAIL %s: got %s; want %s" % (c["id"], text, want))
    except RuntimeError as e:
        print("dkim-vectors: %s" % e)
        failed += 1
    finally:
        if fixture is not None:
            fixture.terminate()
            try:
                fixture.wait(timeout=10)
            except subprocess.TimeoutExpired:
                fixture.kill()
                fixture.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    print("dkim-vectors: %d passed, %d failed" % (passed, failed))
    sys.stdout.flush()
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
