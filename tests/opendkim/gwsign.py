#!/usr/bin/python3
"""gwsign.py GATEWARDEN CONFIG FROM... - run `gatewarden test` for one
message per From address, from 127.0.0.1, and print "FROM d=D s=S[,...]"
(or "FROM none") the way tests/opendkim/sign.lua prints opendkim's."""
import json
import subprocess
import sys

gw, conf = sys.argv[1:3]
for n, frm in enumerate(sys.argv[3:], 1):
    msg = ("From: Sender <%s>\r\nTo: rcpt@dest.example\r\n"
           "Subject: import test %d\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\n"
           "Message-ID: <import%d@test>\r\n\r\nA message to be signed.\r\n"
           % (frm, n, n))
    p = subprocess.run([gw, "test", "-c", conf, "--ip", "127.0.0.1",
                        "--from", frm, "--rcpt", "rcpt@dest.example", "-"],
                       input=msg.encode(), capture_output=True, check=True)
    out = json.loads(p.stdout)
    sigs = []
    for h in out.get("headers", {}).get("add", []):
        if h["name"].lower() != "dkim-signature":
            continue
        tags = {}
        for part in h["value"].split(";"):
            if "=" in part:
                k, v = part.split("=", 1)
                tags[k.strip()] = "".join(v.split())
        sigs.append("d=%s s=%s" % (tags.get("d"), tags.get("s")))
    print(frm, ",".join(sorted(sigs)) if sigs else "none")
