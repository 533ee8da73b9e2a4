-- t-forged-ar - inbound Authentication-Results that claim our authserv_id
-- are removed (all of them, even two in a row; indexes are 1-based per
-- header name), a foreign one is kept, ours goes on top.
dofile(lib)
local conn = open("198.51.100.7", "mta.upstream.example")

-- A: forged, forged, foreign
message(conn, "alice@gw.example", "bob@dest.example", {
	{"Authentication-Results", authserv .. "; spf=pass smtp.mailfrom=forged@gw.example"},
	{"Authentication-Results", authserv .. ";\r\n\tdkim=pass header.d=gw.example header.s=forged"},
	{"Authentication-Results", "upstream.example; spf=fail smtp.mailfrom=alice@gw.example"},
	{"From", "Alice <alice@gw.example>"},
	{"Subject", "forged A-R"},
})
accepted(conn, "A: accepted")
ok(mt.eom_check(conn, MT_HDRDELETE, "Authentication-Results", 1),
    "A: first forged A-R (index 1) removed")
ok(mt.eom_check(conn, MT_HDRDELETE, "Authentication-Results", 2),
    "A: second forged A-R (index 2) removed")
ok(not mt.eom_check(conn, MT_HDRDELETE, "Authentication-Results", 3),
    "A: the foreign A-R (index 3) kept")
check_ar_on_top(conn, "A")

-- B: foreign first, then a forged one
message(conn, "alice@gw.example", "bob@dest.example", {
	{"Authentication-Results", "upstream.example; dkim=none"},
	{"From", "Alice <alice@gw.example>"},
	{"Authentication-Results", authserv .. "; spf=pass smtp.mailfrom=x@gw.example"},
	{"Subject", "forged A-R after a foreign one"},
})
accepted(conn, "B: accepted")
ok(not mt.eom_check(conn, MT_HDRDELETE, "Authentication-Results", 1),
    "B: the foreign A-R (index 1) kept")
ok(mt.eom_check(conn, MT_HDRDELETE, "Authentication-Results", 2),
    "B: the forged A-R (index 2) removed")
check_ar_on_top(conn, "B")

-- C: a look-alike id is not ours
message(conn, "alice@gw.example", "bob@dest.example", {
	{"Authentication-Results", "x" .. authserv .. "; spf=pass smtp.mailfrom=x@gw.example"},
	{"From", "Alice <alice@gw.example>"},
})
accepted(conn, "C: accepted")
ok(not mt.eom_check(conn, MT_HDRDELETE),
    "C: an A-R from x" .. authserv .. " is not ours and is kept")
mt.disconnect(conn)
done()
