-- t-reject-rcpt - a rule rejects one recipient; the next recipient is
-- accepted and the message goes through for it.
dofile(lib)
local conn = open()
mail(conn, "alice@gw.example")
expect(conn, "MAIL accepted", SMFIR_CONTINUE)
rcpt(conn, "blocked@dest.example")
expect(conn, "RCPT blocked@dest.example rejected with a reply code",
    SMFIR_REPLYCODE)
rcpt(conn, "ok@dest.example")
expect(conn, "the next RCPT ok@dest.example accepted", SMFIR_CONTINUE)
headers(conn, plain_headers("one recipient blocked"))
eoh(conn)
body(conn, "Hello.\r\n")
must(mt.eom(conn), "eom")
accepted(conn, "eom accepted for the remaining recipient")
check_ar_on_top(conn, "after a rejected recipient")
mt.disconnect(conn)
done()
