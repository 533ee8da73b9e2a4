#!/usr/bin/python3
"""arcsuite.py - the ValiMail ARC test suite through gatewarden's ARC code.

usage: arcsuite.py ARCVEC SUITEDIR TMPDIR [-v]

Every validation case is written out (message with CRLF line ends, the
scenario's txt-records as a DNS table) and validated by ARCVEC; the chain
status must equal the case's cv.  Every signing case is sealed by ARCVEC
with the scenario's key, domain, selector and srv-id, the case's t and
sig-headers, and the new ARC-Seal, ARC-Message-Signature and
ARC-Authentication-Results must equal the case's AS, AMS and AAR once
whitespace runs are made one space (the suite's normalised layout,
README.md); the sealed message must then validate as pass.

Bad input: every validation case that passes is mutated 100 times (one
octet inside an ARC header value replaced by another printable octet,
seeded by the case id); no mutant may pass and the driver must not crash
(one check per case).

Prints "arc-validation: N passed, N failed", "arc-signing: N passed,
N failed" and "arc-mutations: N passed, N failed".
"""
import os
import random
import re
import subprocess
import sys

import yaml

# Cases that cannot pass, with the reason; they still count as failed.
# (none at present)
KNOWN_FAIL = {}

# Cases where RFC 8617 says the suite is wrong: the expectation used
# instead, and why (docs/arc.md, "Where the suite is wrong").
RFC_SAYS = {
    # The AMS has no c= and was made with relaxed/relaxed (dkimpy's ARC
    # code defaults c= to relaxed).  RFC 8617 4.1.2 gives the AMS the
    # syntax and semantics of DKIM-Signature, whose c= defaults to
    # simple/simple (RFC 6376 3.5); read so, the signature does not verify.
    "ams_fields_c_na": ("fail", "c= defaults to simple/simple"),
}

# The suite leaves cv empty for three cases whose newest seal says
# cv=fail; RFC 8617 5.2 makes that chain fail (docs/arc.md).
EMPTY_CV = "fail"


def crlf(text):
    return text.replace("\r\n", "\n").replace("\n", "\r\n")


def norm(s):
    return re.sub(r"\s+", " ", s or "").strip()


def nows(s):
    """AS and AMS: the suite's layout has one space after each ";" and
    none elsewhere, so folding (also inside b=) is all that may differ."""
    return re.sub(r"\s+", "", s or "")


def write_dns(path, records):
    with open(path, "w") as f:
        for name, txt in (records or {}).items():
            f.write("%s\t%s\n" % (name, re.sub(r"\s*\n\s*", "", str(txt))))


def run(cmd):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       env=dict(os.environ, ARCVEC_NOW="1500000000"))
    return p.returncode, p.stdout.decode(errors="replace"), \
        p.stderr.decode(errors="replace")


ARC_NAMES = ("arc-seal:", "arc-message-signature:",
             "arc-authentication-results:")
MUTANTS = 100


def mutate(msg, rng):
    """msg with one non-blank octet of an ARC header value changed"""
    head, sep, body = msg.partition("\r\n\r\n")
    lines = head.split("\r\n")
    spots, inarc = [], False
    for n, line in enumerate(lines):
        if line[:1] in (" ", "\t"):
            start = 0 if inarc else None
        else:
            inarc = line.lower().startswith(ARC_NAMES)
            start = line.index(":") + 1 if inarc else None
        if start is not None:
            spots += [(n, k) for k in range(start, len(line))
                      if not line[k].isspace()]
    n, k = rng.choice(spots)
    old = lines[n][k]
    new = old
    while new == old:
        new = chr(rng.randrange(0x21, 0x7f))
    lines[n] = lines[n][:k] + new + lines[n][k + 1:]
    return "\r\n".join(lines) + sep + body


def mutants(arcvec, dns, tmp, cid, msg):
    """(ok, why): MUTANTS mutations of a passing msg; none may pass"""
    rng = random.Random(cid)
    files = []
    for m in range(MUTANTS):
        path = os.path.join(tmp, "mut%d" % m)
        with open(path, "w", newline="") as f:
            f.write(mutate(msg, rng))
        files.append(path)
    rc, out, err = run([arcvec, "verify", dns] + files)
    lines = out.splitlines()
    if rc != 0 or len(lines) != MUTANTS:
        return False, "driver exit %d, %d lines: %s" % (rc, len(lines),
                                                        err.strip())
    passed = [i for i, l in enumerate(lines) if l.startswith("cv=pass")]
    if passed:
        return False, "mutant %d passes" % passed[0]
    return True, ""


def validation(arcvec, suite, tmp, verbose):
    ok = bad = mok = mbad = 0
    docs = yaml.safe_load_all(open(os.path.join(
        suite, "arc-draft-validation-tests.yml")))
    for doc in docs:
        dns = os.path.join(tmp, "dns")
        write_dns(dns, doc.get("txt-records"))
        for cid, case in doc["tests"].items():
            msg = os.path.join(tmp, "msg")
            with open(msg, "w", newline="") as f:
                f.write(crlf(case.get("message") or ""))
            want = (case.get("cv") or EMPTY_CV).strip().lower()
            if cid in RFC_SAYS:
                want = RFC_SAYS[cid][0]
            rc, out, err = run([arcvec, "verify", dns, msg])
            m = re.match(r"cv=(\w+)", out)
            got = m.group(1) if m else "error"
            if got == "pass":
                good, why = mutants(arcvec, dns, tmp, cid,
                                    crlf(case.get("message") or ""))
                mok += good
                mbad += not good
                if not good:
                    print("FAIL mutations %s: %s" % (cid, why))
            if rc == 0 and got == want and cid not in KNOWN_FAIL:
                ok += 1
                if verbose:
                    print("ok   validation %s: %s" % (cid, out.strip()))
            else:
                bad += 1
                print("FAIL validation %s: want cv=%s, got %s %s%s" % (
                    cid, want, out.strip(), err.strip(),
                    " (known: %s)" % KNOWN_FAIL[cid] if cid in KNOWN_FAIL
                    else ""))
    print("arc-validation: %d passed, %d failed" % (ok, bad))
    print("arc-mutations: %d passed, %d failed" % (mok, mbad))
    return ok + mok, bad + mbad


def signing(arcvec, suite, tmp, verbose):
    ok = bad = 0
    docs = yaml.safe_load_all(open(os.path.join(
        suite, "arc-draft-sign-tests.yml")))
    for doc in docs:
        dns = os.path.join(tmp, "dns")
        write_dns(dns, doc.get("txt-records"))
        key = os.path.join(tmp, "key.pem")
        fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(doc["privatekey"])
        for cid, case in doc["tests"].items():
            msg = os.path.join(tmp, "msg")
            with open(msg, "w", newline="") as f:
                f.write(crlf(case["message"]))
            rc, out, err = run([arcvec, "sign", dns, key, "rsa-sha256",
                                doc["domain"], doc["sel"],
                                case["srv-id"], str(case["t"]),
                                case["sig-headers"], msg])
            got = {}
            for h in ("ARC-Seal", "ARC-Message-Signature",
                      "ARC-Authentication-Results"):
                m = re.search(r"^%s: (.*?)\r\n(?![ \t])" % h,
                              out.split("\r\n\r\n")[0], re.M | re.S)
                if "arcvec: sealed" not in err:
                    m = None
                got[h] = m.group(1) if m else ""
            why = []
            if rc != 0:
                why.append(err.strip())
            for h, k in (("ARC-Seal", "AS"), ("ARC-Message-Signature",
                                              "AMS"),
                         ("ARC-Authentication-Results", "AAR")):
                f = norm if k == "AAR" else nows
                if rc == 0 and f(got[h]) != f(case[k]):
                    why.append("%s differs:\n  got  %s\n  want %s" % (
                        k, f(got[h]), f(case[k])))
            if rc == 0 and not why and got["ARC-Seal"]:
                sealed = os.path.join(tmp, "sealed")
                with open(sealed, "w", newline="") as f:
                    f.write(out)
                rc2, out2, _ = run([arcvec, "verify", dns, sealed])
                want = "cv=fail" if "cv=fail" in got["ARC-Seal"] else \
                    "cv=pass"
                if not out2.startswith(want):
                    why.append("own seal does not validate: " +
                               out2.strip())
            if not why and cid not in KNOWN_FAIL:
                ok += 1
                if verbose:
                    print("ok   signing %s" % cid)
            else:
                bad += 1
                print("FAIL signing %s: %s" % (cid, "; ".join(why)))
    print("arc-signing: %d passed, %d failed" % (ok, bad))
    return ok, bad


def main():
    arcvec, suite, tmp = sys.argv[1:4]
    verbose = "-v" in sys.argv[4:]
    v = validation(arcvec, suite, tmp, verbose)
    s = signing(arcvec, suite, tmp, verbose)
    return 0 if v[1] == 0 and s[1] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
