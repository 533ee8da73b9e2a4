-- t-tempfail - a rule answers 451 4.7.1 at end of message.
dofile(lib)
local conn = open()
message(conn, "later@slow.example", "bob@dest.example")
expect(conn, "eom tempfailed with a reply code", SMFIR_REPLYCODE)
ok(mt.eom_check(conn, MT_SMTPREPLY, "451", "4.7.1", "try again later"),
    "reply is 451 4.7.1 try again later")
message(conn, "alice@gw.example", "bob@dest.example")
accepted(conn, "next message accepted")
mt.disconnect(conn)
done()
