-- t-dkim-sign - signing through the milter protocol.  The daemon signs
-- mail from 198.51.100.200/29 for gw.example with two keys (rsa1 RSA,
-- ed1 Ed25519; see tests/suites/milter/milter.sh).  On one connection: a
-- signed message, one aborted in the middle of its body, one aborted
-- after its headers, two more signed ones (fresh signatures, not the
-- first one's), one whose From has no key; then a connection dropped
-- mid-body and an outside client (verified, not signed).  Under valgrind
-- the runner also checks that no libopendkim handle leaks.
dofile(lib)

-- sigs - the DKIM-Signature values added at eom, in order
local function sigs(conn)
	local out = {}
	for i = 0, 3 do
		local v = mt.getheader(conn, "DKIM-Signature", i)
		if v == nil then
			break
		end
		out[#out + 1] = v
	end
	return out
end

-- tag - the value of a tag in a signature, whitespace removed
local function tag(sig, t)
	local v = (";" .. sig):match(";%s*" .. t .. "=([^;]*)")
	return v and v:gsub("%s", "") or nil
end

-- signed_message - send a message from alice@gw.example; check that
-- both keys signed it; returns the b= values
local function signed_message(conn, what, subject, text)
	mail(conn, "alice@gw.example")
	rcpt(conn, "bob@dest.example")
	headers(conn, plain_headers(subject))
	eoh(conn)
	body(conn, text)
	body(conn, "second chunk of " .. subject .. "\r\n")
	must(mt.eom(conn), "eom")
	accepted(conn, what .. ": accepted")
	ok(mt.eom_check(conn, MT_HDRINSERT, "DKIM-Signature"),
	    what .. ": DKIM-Signature inserted")
	local s = sigs(conn)
	ok(#s == 2, what .. ": two signatures (got " .. #s .. ")")
	local algs, b = {}, {}
	for _, v in ipairs(s) do
		ok(tag(v, "d") == "gw.example", what .. ": d=gw.example (" ..
		    tostring(tag(v, "d")) .. ")")
		algs[#algs + 1] = tostring(tag(v, "a")) .. "/" ..
		    tostring(tag(v, "s"))
		b[#b + 1] = tag(v, "b") or ""
		local h, nfrom = (tag(v, "h") or ""):lower() .. ":", 0
		for f in h:gmatch("([^:]*):") do
			if f == "from" then
				nfrom = nfrom + 1
			end
		end
		ok(nfrom == 2, what .. ": From (present once) twice in h=, " ..
		    "oversigned (h=" .. h .. ")")
	end
	table.sort(algs)
	ok(table.concat(algs, " ") == "ed25519-sha256/ed1 rsa-sha256/rsa1",
	    what .. ": rsa1 and ed1 signed (" .. table.concat(algs, " ") .. ")")
	check_ar_on_top(conn, what)
	return b
end

local conn = open("198.51.100.201", "submit.gw.example")
local b1 = signed_message(conn, "message 1", "first",
    "Hello Bob,\r\nthe first message.\r\n")

-- aborted in the middle of the body
mail(conn, "alice@gw.example")
rcpt(conn, "bob@dest.example")
headers(conn, plain_headers("aborted mid-body"))
eoh(conn)
body(conn, "this body is never finished\r\n")
must(mt.abort(conn), "abort mid-body")
-- aborted after the headers (signing handles made at eoh)
mail(conn, "alice@gw.example")
rcpt(conn, "bob@dest.example")
headers(conn, plain_headers("aborted after eoh"))
eoh(conn)
must(mt.abort(conn), "abort after eoh")

local b2 = signed_message(conn, "message 2 after two aborts", "second",
    "Hello Bob,\r\nthe second message.\r\n")
ok(b1[1] ~= b2[1] and b1[2] ~= b2[2] and b1[1] ~= b2[2],
    "message 2: its own signatures, nothing carried over from message 1")
local b3 = signed_message(conn, "message 3", "third",
    "Hello Bob,\r\nthe third message.\r\n")
ok(b3[1] ~= b2[1], "message 3: its own signatures")

-- no key for the From domain
mail(conn, "carol@elsewhere.example")
rcpt(conn, "bob@dest.example")
headers(conn, {{"From", "Carol <carol@elsewhere.example>"},
    {"To", "bob@dest.example"}, {"Subject", "no key"}})
eoh(conn)
body(conn, "not signed\r\n")
must(mt.eom(conn), "eom")
accepted(conn, "no key for the From domain: accepted")
ok(not mt.eom_check(conn, MT_HDRINSERT, "DKIM-Signature"),
    "no key for the From domain: not signed")
check_ar_on_top(conn, "no key")
mt.disconnect(conn)

-- a connection that goes away in the middle of a signed body
local c2 = open("198.51.100.202", "submit2.gw.example")
mail(c2, "alice@gw.example")
rcpt(c2, "bob@dest.example")
headers(c2, plain_headers("dropped"))
eoh(c2)
body(c2, "the client goes away now\r\n")
mt.disconnect(c2, false)

-- an outside client: verified (dkim=none), not signed
local c3 = open("192.0.2.77", "mta.outside.example")
message(c3, "alice@gw.example", "bob@dest.example", plain_headers("outside"))
accepted(c3, "outside client: accepted")
ok(not mt.eom_check(c3, MT_HDRINSERT, "DKIM-Signature"),
    "outside client: not signed")
local ar = our_ar(c3) or ""
ok(ar:find("dkim=none") ~= nil, "outside client: A-R says dkim=none (" ..
    ar .. ")")
mt.disconnect(c3)

-- and the daemon still signs on a new connection
local c4 = open("198.51.100.203", "submit3.gw.example")
signed_message(c4, "after the dropped connection", "fourth",
    "Hello again.\r\n")
mt.disconnect(c4)
done()
