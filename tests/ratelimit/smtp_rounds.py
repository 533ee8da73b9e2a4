#!/usr/bin/python3
"""smtp_rounds.py - SMTP sessions spread over several MTAs, round robin.

    smtp_rounds.py --from ADDR --to ADDR --count N HOST:PORT...

One session per message: EHLO, MAIL, RCPT, DATA, QUIT; a step is only
taken when the one before got 250.  Prints one line per message:
    MSG <i> <host:port> MAIL <code> RCPT <code> DATA <code>
a code being "CODE:X.Y.Z" (reply code and enhanced status) or "-" (not
reached); "MSG <i> <host:port> NOCONN <error>" when the session failed.
"""
import argparse
import smtplib
import sys


def code(reply):
    """code - "451:4.7.1" from (451, b"4.7.1 text")"""
    c, text = reply
    first = text.decode("utf-8", "replace").split(" ", 1)[0] if text else ""
    return "%d:%s" % (c, first)


def session(target, sender, rcpt, i):
    """session - one message to target; the three step codes"""
    host, port = target.rsplit(":", 1)
    m = r = d = "-"
    with smtplib.SMTP(host, int(port), local_hostname="client.example",
                      timeout=20) as s:
        s.ehlo("client.example")
        m = code(s.mail(sender))
        if m.startswith("250"):
            r = code(s.rcpt(rcpt))
        if r.startswith("250"):
            try:
                d = code(s.data("Subject: round %d\r\n\r\nhello\r\n" % i))
            except smtplib.SMTPDataError as e:
                d = code((e.smtp_code, e.smtp_error))
    return m, r, d


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--from", dest="sender", required=True)
    ap.add_argument("--to", dest="rcpt", required=True)
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("targets", nargs="+")
    a = ap.parse_args()
    for i in range(a.count):
        t = a.targets[i % len(a.targets)]
        try:
            m, r, d = session(t, a.sender, a.rcpt, i + 1)
            print("MSG %d %s MAIL %s RCPT %s DATA %s" % (i + 1, t, m, r, d))
        except (OSError, smtplib.SMTPException) as e:
            print("MSG %d %s NOCONN %s" % (i + 1, t, str(e).replace(" ", "_")))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
