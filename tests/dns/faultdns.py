#!/usr/bin/python3
"""faultdns.py - a DNS server on 127.0.0.1 that misbehaves on purpose.

    faultdns.py --port P --mode slow|garbage|wrongid|short [--delay S]

UDP only.  Every query for any name gets, by mode:
  slow     a correct answer (TXT "v=spf1 +all" for every name) after
           --delay seconds (default 3): later than any sane resolver timeout
  garbage  random bytes (12..200 of them)
  wrongid  a well-formed answer ("v=spf1 +all") whose ID does not match
  short    the first 7 bytes of a well-formed answer (a cut header)
A resolver must treat each as a failure (slow: a timeout), never as an
answer.  Prints {"port": P} once listening; stops on SIGTERM.  For the
tests/suites/reliability/faults-dns.sh suite.
"""
import argparse
import json
import os
import random
import selectors
import socket
import sys
import time

from dnslib import QTYPE, RR, TXT, DNSRecord


def answer(data):
    q = DNSRecord.parse(data)
    r = q.reply()
    r.add_answer(RR(q.q.qname, QTYPE.TXT, rdata=TXT("v=spf1 +all"), ttl=0))
    return r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--mode", required=True,
                    choices=["slow", "garbage", "wrongid", "short"])
    ap.add_argument("--delay", type=float, default=3.0)
    a = ap.parse_args()
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", a.port))
    s.setblocking(False)
    print(json.dumps({"port": a.port, "pid": os.getpid()}), flush=True)
    sel = selectors.DefaultSelector()
    sel.register(s, selectors.EVENT_READ)
    pending = []            # (when, bytes, addr)
    while True:
        now = time.monotonic()
        timeout = min([w for w, _, _ in pending], default=now + 1) - now
        for _ in sel.select(max(timeout, 0)):
            try:
                data, addr = s.recvfrom(4096)
            except BlockingIOError:
                continue
            try:
                if a.mode == "slow":
                    pending.append((time.monotonic() + a.delay,
                                    answer(data).pack(), addr))
                elif a.mode == "garbage":
                    s.sendto(os.urandom(random.randint(12, 200)), addr)
                elif a.mode == "wrongid":
                    r = answer(data)
                    r.header.id = (r.header.id + 1) & 0xffff
                    s.sendto(r.pack(), addr)
                else:
                    s.sendto(answer(data).pack()[:7], addr)
            except Exception:      # a query dnslib cannot read: ignore it
                continue
        now = time.monotonic()
        for p in [p for p in pending if p[0] <= now]:
            s.sendto(p[1], p[2])
            pending.remove(p)


if __name__ == "__main__":
    sys.exit(main())
