-- folded.lua - one message whose header is folded over many lines, sent
-- to the daemon over the milter protocol (tests/suite-49-memory.sh).
-- -D kind=big: a DKIM-Signature of about 1 MB in 76-byte lines;
-- -D kind=lines: a header of 100,000 folded lines.  -D want=accept|552:
-- the answer expected at end of message.
dofile(lib)
local value
if kind == "big" then
	value = "v=1; a=rsa-sha256; d=gw.example; s=sel; b=" ..
	    string.rep("\n\t" .. string.rep("A", 74), 13000)
else
	value = "start" .. string.rep("\n\tx", 100000)
end
local conn = open("192.0.2.10", "client.example")
expect(conn, "connect", SMFIR_CONTINUE)
mail(conn, "alice@remote.example")
expect(conn, "MAIL accepted", SMFIR_CONTINUE)
rcpt(conn, "bob@dest.example")
expect(conn, "RCPT accepted", SMFIR_CONTINUE)
local hdrs = plain_headers(kind)
hdrs[#hdrs + 1] = {kind == "big" and "DKIM-Signature" or "X-Folded", value}
headers(conn, hdrs)
eoh(conn)
body(conn, "Hello Bob,\r\nthis is a test.\r\n")
must(mt.eom(conn), "eom")
if want == "552" then
	expect(conn, kind .. ": refused at eom", SMFIR_REPLYCODE)
	ok(mt.eom_check(conn, MT_SMTPREPLY, "552", "5.3.4"),
	    kind .. ": 552 5.3.4")
else
	accepted(conn, kind .. ": accepted at eom")
end
mt.disconnect(conn)
done()
