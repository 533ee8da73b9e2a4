#!/usr/bin/python3
"""vectors.py VECDIR KEYDIR - write the DKIM conformance cases for dkimvec.

Reads the staged vectors (RFC 6376/8463 examples, dkimpy data, libopendkim's
transcribed unit tests), applies gatewarden's RFC 8301 policy to their
expected results, copies the private keys it needs into KEYDIR with mode
0600 (PEM; raw ed25519 seeds are wrapped as PKCS#8), and prints one block
per case on stdout:

    case ID
    msg PATH
    dns NAME<TAB>TXT          (any number)
    sign KEYFILE ALG SELECTOR DOMAIN CANON   (optional: sign first)
    time UNIX                 (optional: libopendkim fixed time)
    expect RESULT[,RESULT...] | outcome RESULT | signfail
    end
"""
import base64, json, os, re, sys

vec, keydir = sys.argv[1], sys.argv[2]

def zone(path):
    """name -> txt from a BIND-like zone or a 'name record' file"""
    out = {}
    for line in open(path, encoding='utf-8'):
        line = line.rstrip('\n')
        if not line.strip() or line.lstrip().startswith((';', '#')):
            continue
        m = re.match(r'^(\S+)\s+IN\s+TXT\s+(.*)$', line)
        if m:
            name = m.group(1).rstrip('.')
            txt = ''.join(re.findall(r'"((?:[^"\\]|\\.)*)"', m.group(2)))
        else:
            parts = line.split(None, 1)
            if len(parts) != 2 or '._domainkey.' not in parts[0]:
                continue
            name, txt = parts[0].rstrip('.'), parts[1]
        out[name.lower()] = txt
    return out

def record_file(path):
    """a dkimpy key record file: the record text on one line"""
    return open(path, encoding='utf-8').read().strip()

def key(path, name):
    """a 0600 PEM copy of a private key file"""
    data = open(path, 'rb').read().strip()
    if b'-----BEGIN' not in data:
        seed = base64.b64decode(data)
        der = bytes.fromhex('302e020100300506032b657004220420') + seed
        data = (b'-----BEGIN PRIVATE KEY-----\n' + base64.encodebytes(der) +
                b'-----END PRIVATE KEY-----\n')
    out = os.path.join(keydir, name)
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.write(fd, data + (b'' if data.endswith(b'\n') else b'\n'))
    os.close(fd)
    return out

def emit(cid, msg, dns=None, expect=None, outcome=None, sign=None, time=None,
         signfail=False):
    print('case', cid)
    print('msg', msg)
    for n, t in sorted((dns or {}).items()):
        print('dns %s\t%s' % (n, t))
    if sign:
        print('sign', *sign)
    if time:
        print('time', time)
    if signfail:
        print('signfail')
    elif outcome:
        print('outcome', outcome)
    else:
        print('expect', ','.join(expect))
    print('end')

def algs(path):
    """the a= of every DKIM-Signature header of a message"""
    head = open(path, 'rb').read().replace(b'\r\n', b'\n').split(b'\n\n')[0]
    fields = re.split(rb'\n(?![ \t])', head)
    out = []
    for f in fields:
        if f.lower().startswith(b'dkim-signature:'):
            m = re.search(rb'\ba\s*=\s*([A-Za-z0-9-]+)', f)
            out.append(m.group(1).decode().lower() if m else None)
    return out

# --- RFC 6376 / 8463 -------------------------------------------------------
rfc = os.path.join(vec, 'rfc')
z = zone(os.path.join(rfc, 'rfc6376-appC.zone'))
emit('rfc6376-A2-as-published', os.path.join(rfc, 'rfc6376-A2-as-published.eml'), z, ['fail'])
emit('rfc6376-A2-t-test51', os.path.join(rfc, 'rfc6376-A2-opendkim-t-test51.eml'), z, ['pass'])
z = zone(os.path.join(rfc, 'rfc8463.zone'))
emit('rfc8463-A3', os.path.join(rfc, 'rfc8463-A3-signed.eml'), z, ['pass', 'pass'])

# --- dkimpy ------------------------------------------------------------------
py = os.path.join(vec, 'dkimpy')
z = zone(os.path.join(py, 'dns.zone'))
emit('dkimpy-test2', os.path.join(py, 'test2.message'), z, ['pass'])
emit('dkimpy-rfc6376.signed', os.path.join(py, 'rfc6376.signed.msg'), z, ['pass', 'pass'])
bad = dict(z)
for line in open(os.path.join(py, 'dns.zone')):
    m = re.match(r'^;\s*(test\._domainkey\.football\.example\.com)\.\s+IN\s+TXT\s+"(.*)"', line)
    if m:
        bad[m.group(1)] = m.group(2)
emit('dkimpy-rfc6376.signed.rsa-badkey', os.path.join(py, 'rfc6376.signed.rsa.msg'), bad, ['permerror'])
emit('dkimpy-rfc6376.signed.rsa-goodkey', os.path.join(py, 'rfc6376.signed.rsa.msg'),
     dict(z, **{'test._domainkey.football.example.com': record_file(os.path.join(py, 'test.txt'))}), ['pass'])
emit('dkimpy-ed25519test2', os.path.join(py, 'ed25519test2.msg'),
     {'sed._domainkey.test.ex': record_file(os.path.join(py, 'eximtest.dns'))}, ['pass'])
emit('dkimpy-baddomain', os.path.join(py, 'test.message.baddomain'), {}, ['permerror'])

rsa = key(os.path.join(py, 'test.private'), 'dkimpy-test.pem')
ed = key(os.path.join(py, 'ed25519test.key'), 'dkimpy-ed25519test.pem')
ed8032 = key(os.path.join(py, 'rfc8032_7_1.key'), 'rfc8032_7_1.pem')
for c in ('relaxed/relaxed', 'relaxed/simple', 'simple/relaxed', 'simple/simple'):
    tag = c.replace('/', '-')
    emit('dkimpy-test.message-rsa-' + tag, os.path.join(py, 'test.message'),
         sign=(rsa, 'rsa-sha256', 'test', 'example.com', c), expect=['pass'])
    emit('dkimpy-test.message-ed25519-' + tag, os.path.join(py, 'test.message'),
         sign=(ed, 'ed25519-sha256', 'test', 'example.net', c), expect=['pass'])
emit('dkimpy-test_extra.message', os.path.join(py, 'test_extra.message'),
     sign=(rsa, 'rsa-sha256', 'test', 'example.com', 'relaxed/relaxed'), expect=['pass'])
# carries an older signature whose key is not published: ours must pass
emit('dkimpy-message.mbox', os.path.join(py, 'message.mbox'),
     sign=(rsa, 'rsa-sha256', 'test', 'example.com', 'relaxed/relaxed'), expect=['pass', 'permerror'])
emit('dkimpy-rfc6376.msg-ed25519', os.path.join(py, 'rfc6376.msg'),
     sign=(ed8032, 'ed25519-sha256', 'brisbane', 'football.example.com', 'relaxed/relaxed'), expect=['pass'])
emit('dkimpy-rfc6376.msg-rsa', os.path.join(py, 'rfc6376.msg'),
     sign=(rsa, 'rsa-sha256', 'test', 'football.example.com', 'simple/simple'), expect=['pass'])
emit('dkimpy-ed25519test.msg', os.path.join(py, 'ed25519test.msg'),
     sign=(ed, 'ed25519-sha256', 'test', 'example.net', 'relaxed/relaxed'), expect=['pass'])
emit('dkimpy-nofrom', os.path.join(py, 'test_nofrom.message'),
     sign=(rsa, 'rsa-sha256', 'test', 'example.com', 'relaxed/relaxed'), signfail=True)
# robustness only: 8-bit header, any result but no crash
emit('dkimpy-w1258', os.path.join(py, 'rfc6376.w1258.msg'),
     sign=(rsa, 'rsa-sha256', 'test', 'football.example.com', 'relaxed/relaxed'), outcome='any')
for f, want in (('badversion.txt', 'permerror'), ('badk.txt', 'permerror'),
                ('test2.txt', 'pass'), ('test_bad.txt', 'permerror'),
                ('test_tlsrpt.txt', 'permerror')):
    emit('dkimpy-record-' + f, os.path.join(py, 'test.message'),
         {'test._domainkey.example.com': record_file(os.path.join(py, f))},
         sign=(rsa, 'rsa-sha256', 'test', 'example.com', 'relaxed/relaxed'), expect=[want])

# --- libopendkim's transcribed tests (verify vectors) --------------------------
od = os.path.join(vec, 'opendkim-lib')
z = zone(os.path.join(od, 'zone.txt'))
status = {'DKIM_STAT_OK': 'pass', 'DKIM_STAT_BADSIG': 'fail',
          'DKIM_STAT_CANTVRFY': 'permerror', 'DKIM_STAT_INVALID': 'permerror',
          'DKIM_STAT_SYNTAX': 'permerror', 'DKIM_STAT_NOKEY': 'permerror',
          'DKIM_STAT_REVOKED': 'permerror', 'DKIM_STAT_NOSIG': 'none'}
for t in json.load(open(os.path.join(od, 'tests.json')))['tests']:
    if t['mode'] != 'verify' or not t.get('message_file') or \
            t.get('expected_eom_status') not in status:
        continue
    msg = os.path.join(od, t['message_file'])
    want = status[t['expected_eom_status']]
    a = algs(msg)
    # RFC 8301: rsa-sha1 signatures are permanent errors, whatever they say
    if want in ('pass', 'fail') and a and all(x == 'rsa-sha1' for x in a):
        want = 'permerror'
    # RFC 6376 6.1.1: a signature missing a required tag is PERMFAIL;
    # libopendkim without BADSIGHANDLES reports such a message as unsigned
    if want == 'none' and a:
        want = 'permerror'
    dns = {n: z[n] for n in t.get('dns_names') or [] if n in z}
    emit('opendkim-' + t['id'], msg, dns, outcome=want, time=t.get('fixed_time'))
