#!/usr/bin/python3
"""peers.py - the interop peers' side, for tests/suites/dkim/dkim-interop.sh.

  peers.py dkimpy-verify DNSTAB FILE        print "pass" or "fail"
  peers.py dkimpy-verify-dns PORT FILE      every signature, keys from the
                                            DNS server on 127.0.0.1:PORT
                                            (TCP): "pass,fail,..." / "none"
  peers.py dkimpy-sign KEY SEL DOM ALG CANON FILE   signed message out
  peers.py messages DIR                     write the test messages
  peers.py dns DNSTAB PORT PIDFILE          serve DNSTAB's TXT records on
                                            127.0.0.1:PORT (UDP) until killed

DNSTAB lines are "name<TAB>txt".
"""
import base64, os, sys


def table(path):
    t = {}
    for line in open(path, encoding='utf-8'):
        line = line.rstrip('\n')
        if '\t' in line:
            n, v = line.split('\t', 1)
            t[n.lower().rstrip('.')] = v
    return t


def dkimpy_verify(tab, path):
    import dkim
    t = table(tab)

    def dnsfunc(name, timeout=5):
        v = t.get(name.decode() if isinstance(name, bytes) else name)
        v = v or t.get((name.decode() if isinstance(name, bytes) else name).rstrip('.'))
        return v.encode() if v else None
    msg = open(path, 'rb').read()
    d = dkim.DKIM(msg)
    try:
        ok = d.verify(dnsfunc=dnsfunc)
    except dkim.DKIMException:
        ok = False	# e.g. "body hash mismatch" is raised, not returned
    print('pass' if ok else 'fail')


def dkimpy_verify_dns(port, path):
    import re
    import dkim
    from dnslib import DNSRecord, QTYPE

    def dnsfunc(name, timeout=5):
        name = name.decode() if isinstance(name, bytes) else name
        q = DNSRecord.question(name, 'TXT')
        a = DNSRecord.parse(q.send('127.0.0.1', int(port), tcp=True,
                                   timeout=timeout))
        for rr in a.rr:
            if rr.rtype == QTYPE.TXT:
                return b''.join(rr.rdata.data)
        return None
    msg = open(path, 'rb').read()
    head = re.split(rb'\r?\n\r?\n', msg, 1)[0]
    n = len(re.findall(rb'(?im)^dkim-signature:', head))
    res = []
    for i in range(n):
        d = dkim.DKIM(msg)
        try:
            ok = d.verify(idx=i, dnsfunc=dnsfunc)
        except dkim.DKIMException:
            ok = False	# e.g. "body hash mismatch" is raised, not returned
        res.append('pass' if ok else 'fail')
    print(','.join(res) or 'none')


def dkimpy_sign(key, sel, dom, alg, canon, path):
    import dkim
    msg = open(path, 'rb').read()
    k = open(key, 'rb').read()
    if alg == 'ed25519-sha256':
        # dkimpy takes the raw 32-byte seed, base64; our key is PKCS#8 PEM
        der = base64.b64decode(b''.join(l for l in k.splitlines()
                                        if not l.startswith(b'-----')))
        k = base64.b64encode(der[-32:])
    hc, bc = canon.split('/')
    sig = dkim.sign(msg, sel.encode(), dom.encode(), k,
                    canonicalize=(hc.encode(), bc.encode()),
                    signature_algorithm=alg.encode(),
                    include_headers=[b'from', b'to', b'subject', b'date'])
    crlf = b'\r\n' in msg
    if not crlf:
        sig = sig.replace(b'\r\n', b'\n')
    sys.stdout.buffer.write(sig + msg)


def messages(d):
    long_subject = 'Subject: ' + ' '.join('word%03d' % i for i in range(60))
    base = [
        ('plain', ['From: Alice <alice@example.com>', 'To: bob@example.org',
                   'Subject: hello', 'Date: Mon, 23 Nov 2026 10:00:00 +0000',
                   'Message-ID: <1@example.com>'], ['Hello Bob.', '', 'Alice']),
        ('folded', ['From: Alice\n\t<alice@example.com>', 'To: bob@example.org,\n  carol@example.org',
                    'Subject: a subject\n folded\n\tover three lines', 'Date: Mon, 23 Nov 2026 10:00:00 +0000'],
         ['Folded headers.']),
        ('long', ['From: alice@example.com', 'To: bob@example.org', long_subject,
                  'X-Long: ' + 'x' * 900], ['A ' + 'long line ' * 100]),
        ('8bit', ['From: =?utf-8?q?J=C3=BCrgen?= <juergen@example.com>', 'To: bob@example.org',
                  'Subject: 8bit', 'MIME-Version: 1.0', 'Content-Type: text/plain; charset=utf-8',
                  'Content-Transfer-Encoding: 8bit'], ['Gr\u00fc\u00dfe aus K\u00f6ln \u2013 caf\u00e9.']),
        ('empty', ['From: alice@example.com', 'To: bob@example.org', 'Subject: empty body'], []),
        ('blanklines', ['From: alice@example.com', 'To: bob@example.org', 'Subject: trailing'],
         ['text  with  spaces  ', '', '', '', '']),
    ]
    for name, hdrs, body in base:
        for eol, tag in (('\r\n', 'crlf'), ('\n', 'lf')):
            text = eol.join(h.replace('\n', eol) for h in hdrs) + eol + eol
            text += ''.join(l + eol for l in body)
            with open(os.path.join(d, '%s-%s.eml' % (name, tag)), 'wb') as f:
                f.write(text.encode('utf-8'))


def dns(tab, port, pidfile):
    from dnslib import RR, QTYPE, TXT, RCODE
    from dnslib.server import DNSServer, BaseResolver
    t = table(tab)

    class R(BaseResolver):
        def resolve(self, request, handler):
            reply = request.reply()
            q = str(request.q.qname).rstrip('.').lower()
            if q in t and request.q.qtype == QTYPE.TXT:
                v = t[q].encode()
                reply.add_answer(RR(request.q.qname, QTYPE.TXT, ttl=60,
                                    rdata=TXT([v[i:i + 255] for i in range(0, len(v), 255)])))
            elif q not in t:
                reply.header.rcode = RCODE.NXDOMAIN
            return reply
    srv = DNSServer(R(), port=int(port), address='127.0.0.1')
    with open(pidfile, 'w') as f:
        f.write(str(os.getpid()))
    srv.start()


cmd = sys.argv[1]
if cmd == 'dkimpy-verify':
    dkimpy_verify(*sys.argv[2:4])
elif cmd == 'dkimpy-verify-dns':
    dkimpy_verify_dns(*sys.argv[2:4])
elif cmd == 'dkimpy-sign':
    dkimpy_sign(*sys.argv[2:8])
elif cmd == 'messages':
    messages(sys.argv[2])
elif cmd == 'dns':
    dns(*sys.argv[2:5])
else:
    sys.exit('unknown command')
