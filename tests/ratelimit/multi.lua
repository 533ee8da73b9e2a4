-- multi.lua - rounds of messages over several client addresses, one
-- connection each, gap seconds apart: load on many keys at once.
-- Globals (miltertest -D): sock, ips (comma-separated), rounds, tag, gap.
-- Prints per message
--   MSG <tag> <ip> <round> MAIL <reply> EOM <reply>
-- with the replies of send.lua (c continue, a accept, t tempfail, y a
-- reply code set by the filter, "-" not reached).
local list = {}
for a in string.gmatch(ips, "[^,]+") do list[#list + 1] = a end
local pause = tonumber(gap)
mt.set_timeout(20)
for r = 1, tonumber(rounds) do
	for _, ip in ipairs(list) do
		local conn = mt.connect(sock, 100, 0.05)
		if conn == nil then
			print("MSG " .. tag .. " " .. ip .. " " .. r .. " NOCONN")
		else
			local m, e = "-", "-"
			if mt.conninfo(conn, "client.example", ip) ~= nil then error("conninfo") end
			if string.char(mt.getreply(conn)) == "c" then
				if mt.helo(conn, "client.example") ~= nil then error("helo") end
				if mt.mailfrom(conn, "<sender@example.com>") ~= nil then error("mailfrom") end
				m = string.char(mt.getreply(conn))
			end
			if m == "c" then
				if mt.rcptto(conn, "<rcpt@example.org>") ~= nil then error("rcpt") end
				if string.char(mt.getreply(conn)) == "c" then
					local x = mt.eom(conn)
					if x ~= nil then error("eom: " .. x) end
					e = string.char(mt.getreply(conn))
				end
			end
			print("MSG " .. tag .. " " .. ip .. " " .. r .. " MAIL " .. m .. " EOM " .. e)
			io.stdout:flush()
			mt.disconnect(conn)
		end
		mt.sleep(pause)
	end
end
