-- t-reject-eom - a rule rejects at end of message with its own code and
-- text; no header edits go with a rejection.
dofile(lib)
local conn = open()
message(conn, "eom@bad.example", "bob@dest.example")
expect(conn, "eom rejected with a reply code", SMFIR_REPLYCODE)
ok(mt.eom_check(conn, MT_SMTPREPLY, "554", "5.7.0", "message refused"),
    "reply is 554 5.7.0 message refused")
ok(not mt.eom_check(conn, MT_HDRINSERT) and not mt.eom_check(conn, MT_HDRADD),
    "no header added to a rejected message")
-- and the connection carries on
message(conn, "alice@gw.example", "bob@dest.example")
accepted(conn, "next message accepted")
mt.disconnect(conn)
done()
