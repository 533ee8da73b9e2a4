#!/usr/bin/python3
"""freeports.py BASE N LABEL - wait (at most 75 s) until 127.0.0.1 ports
BASE..BASE+N-1 can all be bound.  The bench ports lie inside the kernel's
ephemeral range, so TIME_WAIT sockets of an earlier run can hold them for
a while.  Exit 0 when free, 1 when they stay busy."""
import socket
import sys
import time

base, n, label = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
end, said = time.time() + 75, False
while True:
    busy = []
    for p in range(base, base + n):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", p))
            s.listen()
        except OSError:
            busy.append(p)
        s.close()
    if not busy:
        sys.exit(0)
    if time.time() > end:
        sys.exit(1)
    if not said:
        print("%s: waiting for ports %s (TIME_WAIT of an earlier run)" % (label, busy), flush=True)
        said = True
    time.sleep(1)
