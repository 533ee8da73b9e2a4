-- message.lua - n whole messages from sender, one connection each, through
-- the milter protocol.  Globals from the command line: sock, sender, n.
-- Prints "MAIL <reply>" for each message and, when MAIL was not refused,
-- "EOM <reply>".
for i = 1, tonumber(n or "1") do
	local conn = mt.connect(sock, 40, 0.05)
	if conn == nil then error("cannot connect to " .. sock) end
	if mt.conninfo(conn, "client.example", "203.0.113.5") ~= nil then error("conninfo") end
	if mt.helo(conn, "client.example") ~= nil then error("helo") end
	if mt.mailfrom(conn, sender) ~= nil then error("mailfrom") end
	local r = mt.getreply(conn)
	print("MAIL " .. string.char(r))
	if r == SMFIR_CONTINUE then
		if mt.rcptto(conn, "<bob@dest.example>") ~= nil then error("rcpt") end
		if mt.header(conn, "From", sender) ~= nil then error("header") end
		if mt.header(conn, "Subject", "metrics " .. i) ~= nil then error("header") end
		if mt.eoh(conn) ~= nil then error("eoh") end
		if mt.bodystring(conn, "hello\r\n") ~= nil then error("body") end
		if mt.eom(conn) ~= nil then error("eom") end
		print("EOM " .. string.char(mt.getreply(conn)))
	end
	mt.disconnect(conn)
end
