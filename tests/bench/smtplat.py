#!/usr/bin/python3
"""smtplat.py HOST PORT N - N sequential SMTP sessions (EHLO, MAIL, RCPT,
DATA, QUIT), one message each; prints the per-session latency
percentiles:  LAT n=N p50_ms=X p99_ms=Y mean_ms=Z"""
import smtplib
import sys
import time

host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
msg = (b"From: a@x.example\r\nTo: b@y.example\r\nSubject: latency probe\r\n"
       b"Message-ID: <%d@x.example>\r\n\r\n" + b"body line\r\n" * 20)
lat = []
for i in range(n):
    t0 = time.perf_counter()
    s = smtplib.SMTP(host, port, local_hostname="probe.x.example", timeout=30)
    s.sendmail("a@x.example", ["b@y.example"], msg % i)
    s.quit()
    lat.append((time.perf_counter() - t0) * 1000.0)
lat.sort()


def pct(p):
    return lat[min(len(lat) - 1, max(0, int(p * len(lat) + 0.999999) - 1))]


print("LAT n=%d p50_ms=%.2f p99_ms=%.2f mean_ms=%.2f"
      % (n, pct(0.50), pct(0.99), sum(lat) / len(lat)))
