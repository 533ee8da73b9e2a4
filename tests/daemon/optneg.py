#!/usr/bin/python3
"""optneg.py HOST PORT - open a milter connection (IPv4 or IPv6), send the
protocol-6 option negotiation and print the filter's answer as
"OPTNEG version=V actions=0xA protocol=0xP".  miltertest cannot open inet6
sockets, so this is how the suite reaches an IPv6 listener."""
import socket
import struct
import sys

host, port = sys.argv[1], int(sys.argv[2])
s = socket.create_connection((host, port), timeout=5)
s.sendall(struct.pack("!I", 13) + b"O" + struct.pack("!III", 6, 0x1FF, 0x1FFFFF))
n = struct.unpack("!I", s.recv(4, socket.MSG_WAITALL))[0]
body = s.recv(n, socket.MSG_WAITALL)
s.close()
if body[:1] != b"O" or len(body) < 13:
    sys.exit("no negotiation answer")
v, act, proto = struct.unpack("!III", body[1:13])
print("OPTNEG version=%d actions=0x%x protocol=0x%x" % (v, act, proto))
