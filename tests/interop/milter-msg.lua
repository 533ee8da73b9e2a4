-- milter-msg.lua - send one message file through a milter and print what
-- it did at end of message, for the interop suite (opendkim as a peer).
--   miltertest -D sock=unix:/path -D msg=FILE [-D ip=ADDR] -s milter-msg.lua
-- Prints "AR <value>" for each Authentication-Results header the milter
-- added, "SIG <value>" for each DKIM-Signature, and "REPLY <c>".
local conn = mt.connect(sock, 40, 0.25)
if conn == nil then
	error("cannot connect to " .. sock)
end
if mt.negotiate(conn, nil, nil, nil) ~= nil then
	error("negotiate")
end
ip = ip or "203.0.113.1"
mt.macro(conn, SMFIC_CONNECT, "j", "mx.interop.example", "{daemon_name}",
    "smtpd", "{client_addr}", ip)
assert(mt.conninfo(conn, "client.interop.example", ip) == nil)
if not mt.test_option(conn, SMFIP_NOHELO) then
	assert(mt.helo(conn, "client.interop.example") == nil)
end
mt.macro(conn, SMFIC_MAIL, "i", "IOP1", "{mail_addr}", "sender@interop.example")
assert(mt.mailfrom(conn, "<sender@interop.example>") == nil)
assert(mt.rcptto(conn, "<rcpt@interop.example>") == nil)

local f = assert(io.open(msg, "rb"))
local text = f:read("*a")
f:close()
text = text:gsub("\r\n", "\n")
local head, bodytext = text:match("^(.-)\n\n(.*)$")
if head == nil then
	head, bodytext = text:gsub("\n$", ""), ""
end
-- unfold into (name, value) pairs, folding kept as CRLF + WSP
local fields = {}
for line in (head .. "\n"):gmatch("([^\n]*)\n") do
	if line:match("^[ \t]") and #fields > 0 then
		fields[#fields].v = fields[#fields].v .. "\r\n" .. line
	else
		local n, v = line:match("^([^:]+):[ ]?(.*)$")
		if n ~= nil then
			fields[#fields + 1] = { n = n, v = v }
		end
	end
end
if not mt.test_option(conn, SMFIP_NOHDRS) then
	for _, h in ipairs(fields) do
		assert(mt.header(conn, h.n, h.v) == nil, "header " .. h.n)
	end
end
if not mt.test_option(conn, SMFIP_NOEOH) then
	assert(mt.eoh(conn) == nil)
end
if not mt.test_option(conn, SMFIP_NOBODY) and #bodytext > 0 then
	assert(mt.bodystring(conn, (bodytext:gsub("\n", "\r\n"))) == nil)
end
assert(mt.eom(conn) == nil)
print("REPLY " .. string.char(math.floor(mt.getreply(conn))))
for _, n in ipairs({ "Authentication-Results", "DKIM-Signature" }) do
	for i = 0, 5 do
		local v = mt.getheader(conn, n, i)
		if v == nil then
			break
		end
		print((n == "DKIM-Signature" and "SIG " or "AR ") ..
		    v:gsub("\r?\n", "\n"))
	end
end
mt.disconnect(conn)
