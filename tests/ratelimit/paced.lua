-- paced.lua - n messages, one connection each, from one client address,
-- gap seconds apart: a load that lasts long enough to span a failover.
-- Globals (miltertest -D): sock, ip, n, tag, gap.  Prints per message
--   MSG <tag> <i> CONNECT <reply> MAIL <reply> EOM <reply>
-- with the replies of send.lua (c continue, a accept, t tempfail, y a
-- reply code set by the filter, "-" not reached).
local count = tonumber(n)
local pause = tonumber(gap)
mt.set_timeout(20)
for i = 1, count do
	local conn = mt.connect(sock, 100, 0.05)
	if conn == nil then
		print("MSG " .. tag .. " " .. i .. " NOCONN")
	else
		local m, e = "-", "-"
		if mt.conninfo(conn, "client.example", ip) ~= nil then error("conninfo") end
		local c = string.char(mt.getreply(conn))
		if c == "c" then
			if mt.helo(conn, "client.example") ~= nil then error("helo") end
			if mt.mailfrom(conn, "<sender@example.com>") ~= nil then error("mailfrom") end
			m = string.char(mt.getreply(conn))
		end
		if m == "c" then
			if mt.rcptto(conn, "<rcpt@example.org>") ~= nil then error("rcpt") end
			if string.char(mt.getreply(conn)) == "c" then
				local r = mt.eom(conn)
				if r ~= nil then error("eom: " .. r) end
				e = string.char(mt.getreply(conn))
			end
		end
		print("MSG " .. tag .. " " .. i .. " CONNECT " .. c .. " MAIL " .. m .. " EOM " .. e)
		io.stdout:flush()
		mt.disconnect(conn)
	end
	mt.sleep(pause)
end
