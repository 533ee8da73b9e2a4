-- t-multi - three messages on one connection: each gets its own verdict
-- and its own A-R, and nothing carries over from one to the next.
dofile(lib)
local conn = open("192.0.2.30", "multi.example")
for i = 1, 3 do
	local hdrs = plain_headers("message " .. i)
	if i == 2 then	-- a forged A-R in the middle one only
		table.insert(hdrs, 1, {"Authentication-Results",
		    authserv .. "; dkim=pass header.d=gw.example"})
	end
	message(conn, "alice@gw.example", "rcpt" .. i .. "@dest.example", hdrs)
	accepted(conn, "message " .. i .. " accepted")
	check_ar_on_top(conn, "message " .. i)
	if i == 2 then
		ok(mt.eom_check(conn, MT_HDRDELETE, "Authentication-Results", 1),
		    "message 2: its forged A-R removed")
	else
		ok(not mt.eom_check(conn, MT_HDRDELETE),
		    "message " .. i .. ": nothing removed")
	end
end
-- a rejected one between good ones on the same connection
mail(conn, "spammer@bad.example")
expect(conn, "message 4 rejected at MAIL", SMFIR_REPLYCODE)
must(mt.abort(conn), "abort")
message(conn, "alice@gw.example", "bob@dest.example")
accepted(conn, "message 5 accepted after the rejected one")
check_ar_on_top(conn, "message 5")
mt.disconnect(conn)
done()
