-- t-reject-mail - a rule rejects at MAIL; the connection stays usable for
-- the next transaction.
dofile(lib)
local conn = open()
mail(conn, "spammer@bad.example")
expect(conn, "MAIL from spammer@bad.example rejected with a reply code",
    SMFIR_REPLYCODE)
must(mt.abort(conn), "abort")	-- what an MTA does after a rejected MAIL
message(conn, "alice@gw.example", "bob@dest.example")
accepted(conn, "next message on the same connection accepted")
check_ar_on_top(conn, "next message")
mt.disconnect(conn)
done()
