-- t-abort - the MTA aborts the transaction after each stage (connect,
-- helo, mail, rcpt, header, body); a good message on the same connection
-- then goes through with exactly one A-R of ours.
dofile(lib)
local stages = {"connect", "helo", "mail", "rcpt", "header", "body"}
for _, st in ipairs(stages) do
	local conn = open("192.0.2.20", "abort.example", false)
	if st ~= "connect" then
		hello(conn, "abort.example")
	end
	if st == "mail" or st == "rcpt" or st == "header" or st == "body" then
		mail(conn, "alice@gw.example")
	end
	if st == "rcpt" or st == "header" or st == "body" then
		rcpt(conn, "bob@dest.example")
	end
	if st == "header" or st == "body" then
		headers(conn, {{"From", "Alice <alice@gw.example>"},
		    {"Authentication-Results", authserv .. "; spf=pass smtp.mailfrom=x@y.example"},
		    {"Subject", "aborted"}})
	end
	if st == "body" then
		eoh(conn)
		body(conn, "this message is aborted\r\n")
	end
	must(mt.abort(conn), "abort after " .. st)
	if st == "connect" then
		hello(conn, "abort.example")
	end
	message(conn, "alice@gw.example", "bob@dest.example")
	accepted(conn, "abort after " .. st .. ", then a good message accepted")
	check_ar_on_top(conn, "after abort at " .. st)
	ok(not mt.eom_check(conn, MT_HDRDELETE),
	    "after abort at " .. st .. ": nothing left over from the aborted message")
	mt.disconnect(conn)
end
done()
