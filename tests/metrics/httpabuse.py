"""httpabuse.py PORT N SLOW HOLD - bad HTTP clients against the metrics
listener: N connections each sending one malformed request (garbage,
broken request lines, oversized or endless headers, binary, truncated),
and SLOW clients that send half a request and then hold the connection
for HOLD seconds.  Prints "sent N slow S" and exits 0 once all are done;
a refused or reset connection is what a bad client should get and is not
an error here."""
import random
import socket
import sys
import threading
import time

port, n, slow, hold = (int(a) for a in sys.argv[1:5])
rnd = random.Random(13)
shapes = [
    lambda: b"GARBAGE\r\n\r\n",
    lambda: b"GET\r\n\r\n",
    lambda: b"GET /metrics HTTP/9.9\r\n\r\n",
    lambda: b"GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
    lambda: b"GET /metrics HTTP/1.1\r\n" + b"X-Long: " + b"a" * 70000 + b"\r\n\r\n",
    lambda: b"GET /metrics HTTP/1.1\r\n" + b"X: y\r\n" * 5000 + b"\r\n",
    lambda: bytes(rnd.getrandbits(8) for _ in range(rnd.randint(1, 400))),
    lambda: b"GET /" + b"%" * 3000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    lambda: b"POST /metrics HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZZZ\r\n",
    lambda: b"GET /metrics HTTP/1.1\r\nHost: x\r\n",
    lambda: b"\r\n\r\n\r\n",
    lambda: b"GET /metrics HTTP/1.1\r\nHost: x\r\nHost\r\n\r\n",
]


def bad(i):
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(shapes[i % len(shapes)]())
        try:
            s.shutdown(socket.SHUT_WR)
            s.recv(4096)
        except OSError:
            pass
        s.close()
    except OSError:
        pass


def slowloris():
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=hold + 5)
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
        end = time.time() + hold
        while time.time() < end:
            time.sleep(0.5)
            s.sendall(b"X-a: b\r\n")
        s.close()
    except OSError:
        pass


threads = [threading.Thread(target=slowloris) for _ in range(slow)]
for t in threads:
    t.start()
pool = []
for i in range(n):
    t = threading.Thread(target=bad, args=(i,))
    t.start()
    pool.append(t)
    if len(pool) >= 20:
        for p in pool:
            p.join()
        pool = []
for p in pool + threads:
    p.join()
print("sent %d slow %d" % (n, slow))
