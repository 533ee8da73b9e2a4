#!/usr/bin/python3
"""fixture.py - an authoritative DNS server for tests, on loopback.

Serves zone data written in the open-spf test-suite "zonedata" format over
UDP and TCP, on 127.0.0.1 (and ::1 with --ipv6) at one port:

    example.com:
      - TXT: "v=spf1 -all"          # or a list of character-strings
      - SPF: "v=spf1 -all"          # type 99; also served as TXT unless the
                                    #   name has an explicit TXT entry
      - A: 192.0.2.1
      - AAAA: 2001:db8::1
      - MX: [10, mx.example.com]
      - PTR: host.example.com
      - CNAME: other.example.com
      - NS: ns.example.com
      - TIMEOUT                     # queries that find no record of their
                                    #   type (listed before) get no answer
      - {TXT: TIMEOUT}              # only TXT queries get no answer
      - TXT: NONE                   # no TXT (suppresses the generated one)
      - SERVFAIL / REFUSED          # every query for the name gets that rcode

The semantics follow the reference driver of the suite (pyspf's
testspf.py): records are kept in file order with generated TXT records
last, TIMEOUT stops the scan, a name absent from the data is NXDOMAIN
(except that names whose first label is "error" time out), a name present
with other types only is NODATA, names compare case-insensitively, and
character-strings are encoded as UTF-8.  CNAMEs are chased inside the data
(loops stop), as an authoritative server would.

A zone file is YAML or JSON: a zonedata mapping, a scenario document with a
"zonedata" key, several YAML documents ("---"), or {"scenarios": [...]} as
in rfc7208-tests.json; --scenario N (0-based) or a description picks one.

UDP answers longer than --udp-max (512) bytes are sent truncated (TC) with
no records, whatever EDNS size the client offers, so that TCP fallback is
exercised.

Switching zone data without a restart (for conformance runners):
  --control PATH    unix socket; one command per line, one reply line:
                      load FILE [SCENARIO]   -> "ok NAMES" | "error TEXT"
                      stats                  -> JSON counters
                      ping                   -> "pong"
                    The reply to load comes after the new data is live.
  fixture.py --ctl PATH load FILE [SCENARIO]   is a client for it.
  --watch           re-read the zone file when it changes (mtime, size,
                    inode; checked on each query; replace it by rename).
  SIGHUP            re-read the current zone file.

On start it prints one JSON line {"pid": N, "port": P, "addrs": [...]} on
stdout (and writes --pidfile).  --port 0 picks a free port.  SIGTERM and
SIGINT stop it.
"""

import argparse
import errno
import json
import os
import selectors
import signal
import socket
import struct
import sys
import time

import yaml
from dnslib import (AAAA, CNAME, DNSHeader, DNSLabel, DNSQuestion, DNSRecord,
                    EDNS0, MX, NS, PTR, QTYPE, RCODE, RR, SOA, TXT, A)

T_A, T_NS, T_CNAME, T_SOA, T_PTR, T_MX, T_TXT, T_AAAA, T_SPF = \
    1, 2, 5, 6, 12, 15, 16, 28, 99
TYPES = {"A": T_A, "NS": T_NS, "CNAME": T_CNAME, "PTR": T_PTR, "MX": T_MX,
         "TXT": T_TXT, "AAAA": T_AAAA, "SPF": T_SPF}
TIMEOUT = "TIMEOUT"
RCODES = {"SERVFAIL": 2, "REFUSED": 5, "NOTIMP": 4, "FORMERR": 1}
MAX_CHASE = 8
TCP_IDLE_S = 30.0
TCP_MAX_CONN = 256


class ZoneError(Exception):
    pass


def name_key(name):
    """Lower-cased wire-form key (bytes, no trailing dot)."""
    if isinstance(name, bytes):
        b = name
    else:
        b = str(name).encode("utf-8")
    b = b.rstrip(b".").lower()
    return b


def label_of(name):
    """A DNSLabel from a text name, kept byte-exact (no IDNA)."""
    b = str(name).encode("utf-8").rstrip(b".")
    if not b:
        return DNSLabel([])
    parts = b.split(b".")
    for p in parts:
        if not p or len(p) > 63:
            raise ZoneError("bad name %r" % (name,))
    return DNSLabel(parts)


def txt_strings(v):
    """Character-strings of a TXT/SPF value: str or list of str."""
    if isinstance(v, (list, tuple)):
        items = list(v)
    else:
        items = [v]
    out = []
    for s in items:
        if isinstance(s, bytes):
            b = s
        else:
            b = str(s).encode("utf-8")
        if not b:
            out.append(b"")
            continue
        while b:
            out.append(b[:255])
            b = b[255:]
    if not out:
        out = [b""]
    return out


def make_rdata(t, v, where):
    try:
        if t == "A":
            return A(str(v))
        if t == "AAAA":
            return AAAA(str(v))
        if t in ("TXT", "SPF"):
            return TXT(txt_strings(v))
        if t == "MX":
            if not isinstance(v, (list, tuple)) or len(v) != 2:
                raise ZoneError("MX wants [preference, name]")
            return MX(label_of(v[1]), int(v[0]))
        if t == "PTR":
            return PTR(label_of(v))
        if t == "CNAME":
            return CNAME(label_of(v))
        if t == "NS":
            return NS(label_of(v))
    except ZoneError:
        raise
    except Exception as e:  # bad address, bad number
        raise ZoneError("%s: %s %r: %s" % (where, t, v, e))
    raise ZoneError("%s: unknown record type %s" % (where, t))


class Name:
    """One owner name: its records in order, as (kind, type, rdata)."""
    __slots__ = ("entries", "rcode", "types")

    def __init__(self):
        self.entries = []   # ("rr", qtype, rdata) | ("timeout", qtype|None)
        self.rcode = None
        self.types = set()


def compile_zone(zonedata):
    """zonedata mapping -> {key: Name}; follows testspf.py's getrdata()."""
    if zonedata is None:
        zonedata = {}
    if not isinstance(zonedata, dict):
        raise ZoneError("zonedata must be a mapping of names to lists")
    zone = {}
    for owner, recs in zonedata.items():
        where = str(owner)
        key = name_key(owner)
        if recs is None:
            recs = []
        if not isinstance(recs, list):
            recs = [recs]
        n = zone.setdefault(key, Name())
        gen = True
        generated = []
        for r in recs:
            if isinstance(r, str):
                if r == TIMEOUT:
                    n.entries.append(("timeout", None))
                elif r in RCODES:
                    n.rcode = RCODES[r]
                else:
                    raise ZoneError("%s: unknown entry %r" % (where, r))
                continue
            if not isinstance(r, dict):
                raise ZoneError("%s: entry %r is not a mapping" % (where, r))
            for t, v in r.items():
                t = str(t).upper()
                if t not in TYPES:
                    raise ZoneError("%s: unknown record type %s" % (where, t))
                if t == "TXT":
                    gen = False
                if v == TIMEOUT:
                    n.entries.append(("timeout", TYPES[t]))
                    continue
                if v == "NONE" or v == ["NONE"]:
                    continue
                rd = make_rdata(t, v, where)
                n.entries.append(("rr", TYPES[t], rd))
                n.types.add(TYPES[t])
                if t == "SPF":
                    generated.append(("rr", T_TXT, make_rdata("TXT", v, where)))
        if gen and generated:
            n.entries.extend(generated)
            n.types.add(T_TXT)
    return zone


def load_file(path, scenario=None):
    """Read FILE (YAML or JSON) and pick the zonedata of one scenario."""
    with open(path, "rb") as f:
        raw = f.read()
    try:
        if path.endswith(".json"):
            docs = [json.loads(raw)]
        else:
            docs = [d for d in yaml.safe_load_all(raw) if d is not None]
    except Exception as e:
        raise ZoneError("%s: %s" % (path, e))
    if len(docs) == 1 and isinstance(docs[0], dict) and \
            isinstance(docs[0].get("scenarios"), list):
        docs = docs[0]["scenarios"]
    if len(docs) == 1 and isinstance(docs[0], list):
        docs = docs[0]
    if not docs:
        return compile_zone({})
    if scenario is None:
        if len(docs) > 1:
            raise ZoneError("%s: %d scenarios, choose one" % (path, len(docs)))
        doc = docs[0]
    else:
        doc = None
        s = str(scenario)
        if s.isdigit():
            if int(s) >= len(docs):
                raise ZoneError("%s: no scenario %s" % (path, s))
            doc = docs[int(s)]
        else:
            for d in docs:
                if isinstance(d, dict) and d.get("description") == s:
                    doc = d
                    break
            if doc is None:
                raise ZoneError("%s: no scenario %r" % (path, s))
    if isinstance(doc, dict) and "zonedata" in doc:
        return compile_zone(doc["zonedata"])
    return compile_zone(doc)


class Server:
    def __init__(self, args):
        self.args = args
        self.zone = {}
        self.zone_file = None
        self.scenario = None
        self.zone_stat = None
        self.cache = {}
        self.stats = {"queries": 0, "udp": 0, "tcp": 0, "truncated": 0,
                      "dropped": 0, "nxdomain": 0, "nodata": 0, "answer": 0,
                      "loads": 0, "errors": 0}
        self.sel = selectors.DefaultSelector()
        self.conns = {}
        self.stopping = False
        self.reload_wanted = False
        self.qlog = None

    # --- zone data -------------------------------------------------------
    def load(self, path, scenario=None):
        zone = load_file(path, scenario)
        self.zone = zone
        self.zone_file = path
        self.scenario = scenario
        try:
            self.zone_stat = self.file_id(path)
        except OSError:
            self.zone_stat = None
        self.cache.clear()
        self.stats["loads"] += 1
        return len(zone)

    @staticmethod
    def file_id(path):
        st = os.stat(path)
        return (st.st_ino, st.st_size, st.st_mtime_ns)

    def maybe_reload(self):
        if self.reload_wanted:
            self.reload_wanted = False
            self.reload("SIGHUP")
        if self.args.watch and self.zone_file:
            try:
                fid = self.file_id(self.zone_file)
            except OSError:
                return
            if fid != self.zone_stat:
                self.reload("changed")

    def reload(self, why):
        try:
            self.load(self.zone_file, self.scenario)
        except (OSError, ZoneError) as e:
            self.stats["errors"] += 1
            try:
                self.zone_stat = self.file_id(self.zone_file)
            except OSError:
                pass
            print("fixture: reload (%s) failed: %s" % (why, e),
                  file=sys.stderr, flush=True)

    # --- answering -------------------------------------------------------
    def lookup(self, key, qtype):
        """-> ("drop",) | ("rcode", rcode, [rr...]) with answers chased."""
        answers = []
        seen = set()
        cur = key
        for _ in range(MAX_CHASE):
            n = self.zone.get(cur)
            if n is None:
                if not answers and cur.split(b".", 1)[0] == b"error":
                    return ("drop",)
                return ("rcode", 3 if not answers else 0, answers)
            if n.rcode is not None:
                return ("rcode", n.rcode, [])
            got = []
            found = False
            cname = None
            for e in n.entries:
                if e[0] == "timeout":
                    if e[1] is None:
                        if not found:
                            return ("drop",) if not answers else \
                                ("rcode", 0, answers)
                        break
                    if e[1] == qtype:
                        return ("drop",) if not answers else \
                            ("rcode", 0, answers)
                    continue
                rtype, rd = e[1], e[2]
                if rtype == qtype or qtype == 255:
                    found = True
                    got.append((rtype, rd))
                elif rtype == T_CNAME and cname is None:
                    cname = rd
            if got or cname is None or qtype == T_CNAME:
                answers.extend((cur, t, rd) for t, rd in got)
                return ("rcode", 0, answers)
            answers.append((cur, T_CNAME, cname))
            seen.add(cur)
            cur = name_key(b".".join(cname.label.label))
            if cur in seen:
                return ("rcode", 0, answers)
        return ("rcode", 0, answers)

    def soa_for(self, key):
        apex = key.rsplit(b".", 1)[-1] if key else b""
        lab = DNSLabel([apex]) if apex else DNSLabel([])
        ttl = self.args.ttl
        return RR(lab, T_SOA, ttl=ttl,
                  rdata=SOA(DNSLabel([b"ns", b"fixture", b"test"]),
                            DNSLabel([b"hostmaster", b"fixture", b"test"]),
                            (1, 3600, 600, 86400, ttl)))

    def answer(self, data, tcp):
        """Wire query -> wire reply (bytes) or None (no answer)."""
        if len(data) < 12:
            return None
        ckey = (data[2:], tcp)
        hit = self.cache.get(ckey)
        if hit is not None:
            self.count(hit[1])
            if hit[0] is None:
                return None
            return data[:2] + hit[0][2:]
        try:
            req = DNSRecord.parse(data)
        except Exception:
            self.stats["errors"] += 1
            return self.formerr(data)
        if req.header.qr or len(req.questions) != 1:
            return self.formerr(data)
        q = req.q
        edns = None
        for ar in req.ar:
            if ar.rtype == 41:
                edns = ar
        rep = DNSRecord(DNSHeader(id=req.header.id, qr=1, aa=1, ra=1,
                                  rd=req.header.rd, opcode=req.header.opcode),
                        q=DNSQuestion(q.qname, q.qtype, q.qclass))
        kind = "answer"
        if req.header.opcode != 0:
            rep.header.rcode = 4
            kind = "error"
        elif q.qclass not in (1, 255):
            rep.header.rcode = 5
            kind = "error"
        else:
            key = name_key(b".".join(q.qname.label))
            res = self.lookup(key, q.qtype)
            if res[0] == "drop":
                self.cache[ckey] = (None, "dropped")
                self.count("dropped")
                return None
            rcode, rrs = res[1], res[2]
            rep.header.rcode = rcode
            for owner, t, rd in rrs:
                rep.add_answer(RR(DNSLabel(owner.split(b".")) if owner else
                                  DNSLabel([]), t, ttl=self.args.ttl,
                                  rdata=rd))
            final = [r for r in rrs if r[1] == q.qtype or q.qtype == 255]
            if rcode == 3:
                kind = "nxdomain"
                rep.add_auth(self.soa_for(key))
            elif rcode == 0 and not final:
                kind = "nodata"
                rep.add_auth(self.soa_for(key))
            elif rcode != 0:
                kind = "error"
        if edns is not None:
            rep.add_ar(EDNS0(udp_len=self.args.udp_max))
        wire = rep.pack()
        if not tcp and len(wire) > self.args.udp_max:
            tc = DNSRecord(DNSHeader(id=req.header.id, qr=1, aa=1, ra=1,
                                     tc=1, rd=req.header.rd,
                                     rcode=rep.header.rcode),
                           q=DNSQuestion(q.qname, q.qtype, q.qclass))
            if edns is not None:
                tc.add_ar(EDNS0(udp_len=self.args.udp_max))
            wire = tc.pack()
            kind = "truncated"
        self.cache[ckey] = (wire, kind)
        self.count(kind)
        return wire

    def count(self, kind):
        if kind in self.stats:
            self.stats[kind] += 1

    def formerr(self, data):
        if len(data) < 12:
            return None
        flags = struct.unpack("!H", data[2:4])[0]
        flags = 0x8000 | (flags & 0x7900) | 1
        return data[:2] + struct.pack("!HHHHH", flags, 0, 0, 0, 0)

    def log_query(self, data, tcp, rep):
        if not self.qlog:
            return
        try:
            q = DNSRecord.parse(data).q
            name = str(q.qname)
            qt = QTYPE.get(q.qtype)
        except Exception:
            name, qt = "?", "?"
        if rep is None:
            what = "dropped"
        else:
            flags = struct.unpack("!H", rep[2:4])[0]
            what = RCODE.get(flags & 15) + (" TC" if flags & 0x200 else "")
        self.qlog.write("%.3f %s %s %s %s\n" % (time.time(),
                        "tcp" if tcp else "udp", name, qt, what))
        self.qlog.flush()

    def handle(self, data, tcp):
        self.stats["queries"] += 1
        self.stats["tcp" if tcp else "udp"] += 1
        self.maybe_reload()
        rep = self.answer(data, tcp)
        self.log_query(data, tcp, rep)
        return rep

    # --- sockets ---------------------------------------------------------
    def bind_all(self):
        addrs = [("127.0.0.1", socket.AF_INET)]
        if self.args.ipv6:
            addrs.append(("::1", socket.AF_INET6))
        port = self.args.port
        for attempt in range(50):
            socks = []
            try:
                for addr, fam in addrs:
                    u = socket.socket(fam, socket.SOCK_DGRAM)
                    socks.append(u)
                    if fam == socket.AF_INET6:
                        u.setsockopt(socket.IPPROTO_IPV6,
                                     socket.IPV6_V6ONLY, 1)
                    u.bind((addr, port))
                    if port == 0:
                        port = u.getsockname()[1]
                    t = socket.socket(fam, socket.SOCK_STREAM)
                    socks.append(t)
                    t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    if fam == socket.AF_INET6:
                        t.setsockopt(socket.IPPROTO_IPV6,
                                     socket.IPV6_V6ONLY, 1)
                    t.bind((addr, port))
                    t.listen(128)
                break
            except OSError as e:
                for s in socks:
                    s.close()
                if self.args.port != 0 or e.errno != errno.EADDRINUSE:
                    raise
                port = 0
        else:
            raise OSError("no free port")
        for s in socks:
            s.setblocking(False)
            if s.type == socket.SOCK_DGRAM:
                self.sel.register(s, selectors.EVENT_READ, ("udp", None))
            else:
                self.sel.register(s, selectors.EVENT_READ, ("listen", None))
        self.port = port
        self.addrs = [a for a, _ in addrs]

    def bind_control(self, path):
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(path)
        s.listen(16)
        s.setblocking(False)
        self.sel.register(s, selectors.EVENT_READ, ("ctl-listen", None))

    def on_udp(self, sock):
        for _ in range(64):
            try:
                data, peer = sock.recvfrom(4096)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            rep = self.handle(data, False)
            if rep is not None:
                try:
                    sock.sendto(rep, peer)
                except OSError:
                    pass

    def on_accept(self, sock, kind):
        try:
            c, _ = sock.accept()
        except (BlockingIOError, InterruptedError):
            return
        except OSError as e:
            print("fixture: accept: %s" % (e,), file=sys.stderr, flush=True)
            return
        if len(self.conns) >= TCP_MAX_CONN:
            print("fixture: too many connections, one refused",
                  file=sys.stderr, flush=True)
            c.close()
            return
        c.setblocking(False)
        st = {"in": b"", "out": b"", "seen": time.monotonic(),
              "kind": "ctl" if kind == "ctl-listen" else "tcp"}
        self.conns[c] = st
        self.sel.register(c, selectors.EVENT_READ, ("conn", st))

    def close_conn(self, c):
        try:
            self.sel.unregister(c)
        except (KeyError, ValueError):
            pass
        self.conns.pop(c, None)
        c.close()

    def on_conn(self, c, st, events):
        st["seen"] = time.monotonic()
        if events & selectors.EVENT_READ:
            try:
                chunk = c.recv(65536)
            except (BlockingIOError, InterruptedError):
                chunk = None
            except OSError:
                chunk = b""
            if chunk == b"":
                self.close_conn(c)
                return
            if chunk:
                st["in"] += chunk
                if st["kind"] == "tcp":
                    self.tcp_messages(st)
                else:
                    self.ctl_lines(st)
                if len(st["in"]) > 1 << 20:
                    self.close_conn(c)
                    return
        if st["out"]:
            try:
                n = c.send(st["out"])
                st["out"] = st["out"][n:]
            except (BlockingIOError, InterruptedError):
                pass
            except OSError:
                self.close_conn(c)
                return
        ev = selectors.EVENT_READ | (selectors.EVENT_WRITE if st["out"]
                                     else 0)
        self.sel.modify(c, ev, ("conn", st))

    def tcp_messages(self, st):
        buf = st["in"]
        while len(buf) >= 2:
            n = struct.unpack("!H", buf[:2])[0]
            if len(buf) < 2 + n:
                break
            rep = self.handle(buf[2:2 + n], True)
            buf = buf[2 + n:]
            if rep is not None:
                st["out"] += struct.pack("!H", len(rep)) + rep
        st["in"] = buf

    def ctl_lines(self, st):
        while b"\n" in st["in"]:
            line, st["in"] = st["in"].split(b"\n", 1)
            st["out"] += (self.control(line.decode("utf-8", "replace"))
                          + "\n").encode("utf-8")

    def control(self, line):
        words = line.split()
        if not words:
            return "error empty command"
        cmd = words[0].lower()
        if cmd == "ping":
            return "pong"
        if cmd == "stats":
            return json.dumps(self.stats, sort_keys=True)
        if cmd == "load" and len(words) in (2, 3):
            scen = words[2] if len(words) == 3 else None
            try:
                n = self.load(words[1], scen)
            except (OSError, ZoneError) as e:
                self.stats["errors"] += 1
                return "error %s" % (str(e).replace("\n", " "),)
            return "ok %d" % (n,)
        if cmd == "load-scenario" and len(words) >= 3:
            # load-scenario FILE DESCRIPTION WITH SPACES
            try:
                n = self.load(words[1], line.split(None, 2)[2])
            except (OSError, ZoneError) as e:
                self.stats["errors"] += 1
                return "error %s" % (str(e).replace("\n", " "),)
            return "ok %d" % (n,)
        return "error unknown command"

    def expire_idle(self):
        now = time.monotonic()
        for c, st in list(self.conns.items()):
            if now - st["seen"] > TCP_IDLE_S:
                self.close_conn(c)

    def run(self):
        last = time.monotonic()
        while not self.stopping:
            try:
                events = self.sel.select(timeout=1.0)
            except InterruptedError:
                continue
            for key, ev in events:
                kind, st = key.data
                if kind == "udp":
                    self.on_udp(key.fileobj)
                elif kind in ("listen", "ctl-listen"):
                    self.on_accept(key.fileobj, kind)
                else:
                    if key.fileobj in self.conns:
                        self.on_conn(key.fileobj, st, ev)
            if self.reload_wanted:
                self.maybe_reload()
            now = time.monotonic()
            if now - last > 5.0:
                self.expire_idle()
                last = now


def ctl_client(path, words):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    s.sendall((" ".join(words) + "\n").encode("utf-8"))
    buf = b""
    while b"\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
    s.close()
    reply = buf.decode("utf-8", "replace").strip()
    print(reply)
    return 0 if not reply.startswith("error") and reply else 1


def main():
    ap = argparse.ArgumentParser(description="test DNS server (loopback)")
    ap.add_argument("zonefile", nargs="?", help="YAML or JSON zone data")
    ap.add_argument("--scenario", help="index (0-based) or description")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--ipv6", action="store_true", help="also listen on ::1")
    ap.add_argument("--ttl", type=int, default=0, help="TTL of every record")
    ap.add_argument("--udp-max", type=int, default=512)
    ap.add_argument("--control", help="unix socket for load/stats/ping")
    ap.add_argument("--watch", action="store_true",
                    help="re-read the zone file when it changes")
    ap.add_argument("--pidfile")
    ap.add_argument("--log", help="append one line per query to this file")
    ap.add_argument("--ctl", metavar="SOCKET",
                    help="client mode: send the remaining words as a command")
    ap.add_argument("words", nargs="*", help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.ctl:
        words = ([args.zonefile] if args.zonefile else []) + args.words
        return ctl_client(args.ctl, words)
    if args.words:
        ap.error("unexpected arguments")
    if not 1 <= args.port + 1 <= 65536:
        ap.error("bad port")
    if args.udp_max < 12 or args.udp_max > 65535:
        ap.error("bad --udp-max")

    srv = Server(args)
    if args.zonefile:
        try:
            srv.load(args.zonefile, args.scenario)
        except (OSError, ZoneError) as e:
            print("fixture: %s" % (e,), file=sys.stderr)
            return 2
    if args.log:
        srv.qlog = open(args.log, "a")
    srv.bind_all()
    if args.control:
        srv.bind_control(args.control)

    def stop(_sig, _frm):
        srv.stopping = True

    def hup(_sig, _frm):
        srv.reload_wanted = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGHUP, hup)
    if args.pidfile:
        with open(args.pidfile + ".tmp", "w") as f:
            f.write("%d\n" % os.getpid())
        os.rename(args.pidfile + ".tmp", args.pidfile)
    print(json.dumps({"pid": os.getpid(), "port": srv.port,
                      "addrs": srv.addrs}), flush=True)
    try:
        srv.run()
    finally:
        if args.control:
            try:
                os.unlink(args.control)
            except OSError:
                pass
        if args.pidfile:
            try:
                os.unlink(args.pidfile)
            except OSError:
                pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
