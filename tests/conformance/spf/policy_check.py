#!/usr/bin/python3
"""policy_check.py - the SPF policy through `gatewarden test`.

    policy_check.py --gw BUILD/gatewarden [--port-base 28250]

Serves a small zone with the DNS fixture and runs `gatewarden test` with
both engines: verdicts and replies per result (fail -> 550 5.7.23 with the
domain's explanation, temperror -> 451 4.4.3, permerror accepted), the
Authentication-Results and Received-SPF headers, the results object, the
null sender (HELO identity), internal clients, IPv4-mapped clients and
configured actions (reject permerror, dry_run), and continue with its old
spelling accept letting the next policy decide.  Ends with
    spf-policy: N passed, N failed
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import start_fixture  # noqa: E402

ZONE = {
    "example.com": [{"TXT": "v=spf1 ip4:192.0.2.0/24 -all exp=why.example.com"}],
    "why.example.com": [{"TXT": "%{i} may not send for %{d}"}],
    "helo.example.org": [{"TXT": "v=spf1 a -all"}, {"A": "198.51.100.9"}],
    "soft.example.com": [{"TXT": "v=spf1 ~all"}],
    "tmp.example.net": ["TIMEOUT"],
    "perm.example.net": [{"TXT": "v=spf1 ip4:1.2.3"}],
}

passed = failed = 0


def check(cond, what, detail=""):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("  FAIL %s%s" % (what, (": " + detail) if detail else ""))


def gwtest(gw, conf, ip, helo, mailfrom, msg):
    p = subprocess.run([gw, "test", "-c", conf, "--ip", ip, "--helo", helo,
                        "--from", mailfrom or "<>", "--rcpt",
                        "rcpt@example.net", msg],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=60)
    try:
        return json.loads(p.stdout)
    except ValueError:
        return {"error": p.stdout + p.stderr}


def header(d, name):
    for h in d.get("headers", {}).get("add", []):
        if h["name"].lower() == name.lower():
            return h["value"]
    return None


def main():
    top = os.path.abspath(os.path.join(os.path.dirname(__file__), "..",
                                       "..", ".."))
    ap = argparse.ArgumentParser()
    ap.add_argument("--gw", required=True)
    ap.add_argument("--port-base", type=int, default=28250)
    args = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="gw-spfpol-")
    zfile = os.path.join(tmp, "zone.json")
    json.dump({"zonedata": ZONE}, open(zfile, "w"))
    sock = os.path.join(tmp, "ctl")
    fixture, port = start_fixture(top, args.port_base, sock)
    subprocess.run(["/usr/bin/python3",
                    os.path.join(top, "tests", "dns", "fixture.py"),
                    "--ctl", sock, "load", zfile], stdout=subprocess.PIPE)
    msg = os.path.join(tmp, "m.eml")
    open(msg, "w").write("Subject: spf\n\nbody\n")
    try:
        for engine in ("native", "libspf2"):
            conf = os.path.join(tmp, "%s.json" % engine)
            json.dump({
                "authserv_id": "mx.test.example",
                "dns": {"servers": ["127.0.0.1@%d" % port],
                        "timeout_ms": 500},
                "trusted": {"networks": ["127.0.0.0/8"]},
                "policies": {"spf": {"enabled": True, "engine": engine,
                                     "receiver": "mx.test.example"}},
            }, open(conf, "w"))
            e = engine

            d = gwtest(args.gw, conf, "203.0.113.5", "helo.example.org",
                       "a@example.com", msg)
            s = d.get("results", {}).get("spf", {})
            check(d.get("verdict") == "reject" and d.get("stage") == "mail",
                  e + " fail rejected at MAIL", json.dumps(d)[:300])
            check(d.get("reply", {}).get("code") == "550" and
                  d.get("reply", {}).get("xcode") == "5.7.23",
                  e + " fail reply 550 5.7.23", json.dumps(d.get("reply")))
            check(s.get("result") == "fail" and s.get("engine") == engine,
                  e + " fail result", json.dumps(s))
            if engine == "native":
                want = "203.0.113.5 may not send for example.com"
                check(d.get("reply", {}).get("text") == want and
                      s.get("explanation") == want,
                      e + " fail text is the domain's explanation",
                      json.dumps(d.get("reply")))
                check(s.get("helo") == "fail", e + " helo result recorded",
                      json.dumps(s))

            d = gwtest(args.gw, conf, "192.0.2.5", "helo.example.org",
                       "a@example.com", msg)
            ar = header(d, "Authentication-Results") or ""
            rs = header(d, "Received-SPF") or ""
            check(d.get("verdict") == "accept", e + " pass accepted")
            check("spf=pass smtp.mailfrom=a@example.com" in ar,
                  e + " A-R spf=pass", ar)
            check(rs.startswith("pass ") and "client-ip=192.0.2.5" in rs and
                  "receiver=mx.test.example" in rs,
                  e + " Received-SPF", rs)

            d = gwtest(args.gw, conf, "::ffff:192.0.2.5", "x.example",
                       "a@example.com", msg)
            check(d.get("results", {}).get("spf", {}).get("result") ==
                  "pass", e + " IPv4-mapped client is IPv4",
                  json.dumps(d.get("results")))

            d = gwtest(args.gw, conf, "198.51.100.9", "helo.example.org",
                       "", msg)
            ar = header(d, "Authentication-Results") or ""
            check(d.get("results", {}).get("spf", {}).get("result") ==
                  "pass" and "spf=pass smtp.helo=helo.example.org" in ar,
                  e + " null sender uses the HELO identity", ar)

            d = gwtest(args.gw, conf, "192.0.2.5", "x.example",
                       "a@tmp.example.net", msg)
            check(d.get("verdict") == "tempfail" and
                  d.get("reply", {}).get("code") == "451" and
                  d.get("reply", {}).get("xcode") == "4.4.3",
                  e + " temperror 451 4.4.3", json.dumps(d.get("reply")))

            d = gwtest(args.gw, conf, "192.0.2.5", "x.example",
                       "a@perm.example.net", msg)
            check(d.get("verdict") == "accept" and
                  d.get("results", {}).get("spf", {}).get("result") ==
                  "permerror", e + " permerror accepted and recorded",
                  json.dumps(d.get("results")))

            d = gwtest(args.gw, conf, "192.0.2.5", "x.example",
                       "a@soft.example.com", msg)
            check(d.get("verdict") == "accept" and
                  d.get("results", {}).get("spf", {}).get("result") ==
                  "softfail", e + " softfail accepted")

            d = gwtest(args.gw, conf, "127.0.0.1", "x.example",
                       "a@example.com", msg)
            check(d.get("verdict") == "accept" and
                  d.get("results", {}).get("spf", {}).get("skipped"),
                  e + " internal client not checked",
                  json.dumps(d.get("results")))

            # configured actions
            conf2 = os.path.join(tmp, "%s-2.json" % engine)
            json.dump({
                "dns": {"servers": ["127.0.0.1@%d" % port],
                        "timeout_ms": 500},
                "policies": {"spf": {
                    "enabled": True, "engine": engine,
                    "actions": {
                        "permerror": {"action": "reject"},
                        "fail": {"action": "reject", "dry_run": True},
                        "softfail": {"action": "tempfail",
                                     "text": "soft"}}}},
            }, open(conf2, "w"))
            d = gwtest(args.gw, conf2, "192.0.2.5", "x.example",
                       "a@perm.example.net", msg)
            check(d.get("verdict") == "reject" and
                  d.get("reply", {}).get("xcode") == "5.7.24",
                  e + " permerror rejected when configured",
                  json.dumps(d.get("reply")))
            d = gwtest(args.gw, conf2, "203.0.113.5", "x.example",
                       "a@example.com", msg)
            check(d.get("verdict") == "accept" and
                  d.get("results", {}).get("spf", {}).get("result") ==
                  "fail", e + " dry_run fail not enforced")
            d = gwtest(args.gw, conf2, "192.0.2.5", "x.example",
                       "a@soft.example.com", msg)
            check(d.get("verdict") == "tempfail" and
                  d.get("reply", {}).get("code") == "451" and
                  d.get("reply", {}).get("text") == "soft",
                  e + " softfail -> tempfail with text",
                  json.dumps(d.get("reply")))

            # continue, and its old spelling accept: no verdict, so a
            # policy after spf still decides
            for word in ("continue", "accept"):
                conf3 = os.path.join(tmp, "%s-3.json" % engine)
                json.dump({
                    "dns": {"servers": ["127.0.0.1@%d" % port],
                            "timeout_ms": 500},
                    "policies": {
                        "spf": {"engine": engine,
                                "actions": {"fail": {"action": word}}},
                        "rules": {"rules": [
                            {"name": "after_spf", "stage": "mail",
                             "action": "reject", "text": "rule ran"}]}},
                }, open(conf3, "w"))
                d = gwtest(args.gw, conf3, "203.0.113.5", "x.example",
                           "a@example.com", msg)
                check(d.get("verdict") == "reject" and
                      d.get("reply", {}).get("text") == "rule ran" and
                      d.get("results", {}).get("spf", {}).get("result") ==
                      "fail", e + " fail -> " + word + ": next policy runs",
                      json.dumps(d)[:300])
    finally:
        fixture.terminate()
        fixture.wait(timeout=10)
        for f in os.listdir(tmp):
            os.unlink(os.path.join(tmp, f))
        os.rmdir(tmp)
    print("spf-policy: %d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
