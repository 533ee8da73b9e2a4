-- lib.lua - helpers shared by the miltertest scripts.
--
-- The runner (tests/suites/milter/milter.sh) defines, with miltertest -D:
--   sock      the daemon's socket (unix:/path or inet:PORT@127.0.0.1)
--   name      the script's label, used in PASS/FAIL lines
--   authserv  the authserv_id in the daemon's config
-- and the script starts with dofile(lib).  Each check prints
-- "PASS name: what" or "FAIL name: what"; done() prints the
-- "name: N passed, N failed" line.  A Lua error ends the script (the
-- runner counts it as a failure).

npass, nfail = 0, 0
authserv = authserv or "mx.gw.test"

local rnames = {
	[SMFIR_CONTINUE] = "continue", [SMFIR_ACCEPT] = "accept",
	[SMFIR_REJECT] = "reject", [SMFIR_TEMPFAIL] = "tempfail",
	[SMFIR_DISCARD] = "discard", [SMFIR_REPLYCODE] = "replycode",
}

-- rname - a reply code as a word
function rname(r)
	return rnames[r] or ("'" .. string.char(math.floor(r)) .. "'")
end

-- ok - count and print one check
function ok(cond, what)
	if cond then
		npass = npass + 1
		print("PASS " .. name .. ": " .. what)
	else
		nfail = nfail + 1
		print("FAIL " .. name .. ": " .. what)
	end
	return cond
end

-- must - a protocol call that must not fail (miltertest returns nil or
-- an error string)
function must(err, what)
	if err ~= nil then
		error(what .. ": " .. tostring(err))
	end
end

-- expect - the last reply is one of the wanted ones
function expect(conn, what, ...)
	local r = mt.getreply(conn)
	for _, w in ipairs({...}) do
		if r == w then
			return ok(true, what .. " (" .. rname(r) .. ")")
		end
	end
	local want = {}
	for _, w in ipairs({...}) do
		want[#want + 1] = rname(w)
	end
	return ok(false, what .. ": got " .. rname(r) .. ", want " ..
	    table.concat(want, "/"))
end

-- open - connect, negotiate, send connection info (and HELO when helo ~= false)
function open(ip, host, helo)
	local conn = mt.connect(sock, 40, 0.25)
	if conn == nil then
		error("cannot connect to " .. sock)
	end
	must(mt.negotiate(conn, nil, nil, nil), "negotiate")
	mt.macro(conn, SMFIC_CONNECT, "j", authserv, "{daemon_name}", "smtpd",
	    "{client_addr}", ip or "192.0.2.10",
	    "{client_name}", host or "client.example")
	must(mt.conninfo(conn, host or "client.example", ip or "192.0.2.10"),
	    "conninfo")
	if helo ~= false then
		hello(conn, helo or "client.example")
	end
	return conn
end

-- hello - HELO, unless the filter switched it off
function hello(conn, h)
	if not mt.test_option(conn, SMFIP_NOHELO) then
		must(mt.helo(conn, h), "helo")
	end
end

qid_n = 0
-- mail - MAIL FROM with the queue-id macro
function mail(conn, from)
	qid_n = qid_n + 1
	mt.macro(conn, SMFIC_MAIL, "i", string.format("QID%s%d", name, qid_n),
	    "{mail_addr}", from)
	must(mt.mailfrom(conn, "<" .. from .. ">"), "mailfrom")
end

-- rcpt - RCPT TO
function rcpt(conn, to)
	mt.macro(conn, SMFIC_RCPT, "{rcpt_addr}", to)
	must(mt.rcptto(conn, "<" .. to .. ">"), "rcptto")
end

-- headers - send a list of {name, value} pairs (when headers are wanted)
function headers(conn, list)
	if mt.test_option(conn, SMFIP_NOHDRS) then
		return
	end
	for _, h in ipairs(list) do
		must(mt.header(conn, h[1], h[2]), "header " .. h[1])
	end
end

-- eoh - end of headers, unless switched off
function eoh(conn)
	if not mt.test_option(conn, SMFIP_NOEOH) then
		must(mt.eoh(conn), "eoh")
	end
end

-- body - one body chunk, unless the body is switched off
function body(conn, s)
	if not mt.test_option(conn, SMFIP_NOBODY) then
		must(mt.bodystring(conn, s), "body")
	end
end

-- plain_headers - an ordinary header block
function plain_headers(subject)
	return {
		{"From", "Alice <alice@gw.example>"},
		{"To", "Bob <bob@dest.example>"},
		{"Subject", subject or "test"},
		{"Date", "Mon, 01 Jan 2024 10:00:00 +0000"},
		{"Message-ID", "<" .. name .. "@gw.example>"},
	}
end

-- message - a whole clean transaction up to and including eom
function message(conn, from, to, hdrs)
	mail(conn, from or "alice@gw.example")
	rcpt(conn, to or "bob@dest.example")
	headers(conn, hdrs or plain_headers())
	eoh(conn)
	body(conn, "Hello Bob,\r\nthis is a test.\r\n")
	must(mt.eom(conn), "eom")
end

-- our_ar - the A-R the filter added at eom (inserted or appended), or nil
function our_ar(conn)
	return mt.getheader(conn, "Authentication-Results", 0)
end

-- check_ar_on_top - exactly our A-R, inserted at index 0, naming authserv
function check_ar_on_top(conn, what)
	local v = our_ar(conn)
	local pat = "^%s*" .. authserv:gsub("%p", "%%%0") .. "%s*;"
	ok(v ~= nil and v:match(pat) ~= nil,
	    what .. ": A-R added with authserv_id " .. authserv ..
	    " (got " .. tostring(v) .. ")")
	ok(v ~= nil and mt.eom_check(conn, MT_HDRINSERT,
	    "Authentication-Results", v, 0),
	    what .. ": A-R inserted at index 0 (on top)")
	ok(mt.getheader(conn, "Authentication-Results", 1) == nil,
	    what .. ": one A-R only")
end

-- accepted - eom said accept or continue
function accepted(conn, what)
	return expect(conn, what, SMFIR_ACCEPT, SMFIR_CONTINUE)
end

-- done - the result line
function done()
	print(name .. ": " .. npass .. " passed, " .. nfail .. " failed")
end
