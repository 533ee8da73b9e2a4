-- sign.lua - drive a running opendkim with miltertest: one message per
-- From address in OD_FROMS (space-separated), from 127.0.0.1 on its own
-- connection; print "FROM d=D s=S[,d=D s=S...]" per message
-- ("FROM none" when opendkim added no signature).  For
-- tests/suites/dkim/opendkim-import.sh.
-- Run as: miltertest -D sock=SOCK -D name=NAME -D lib=tests/milter/lib.lua
-- -s tests/opendkim/sign.lua, with OD_FROMS in the environment; the
-- protocol steps are tests/milter/lib.lua's.
dofile(lib)
local froms = os.getenv("OD_FROMS")

local function tag(sig, t)
	local v = (";" .. sig):match(";%s*" .. t .. "=([^;]*)")
	return v and v:gsub("%s", "") or "?"
end

local n = 0
for from in froms:gmatch("%S+") do
	n = n + 1
	local conn = open("127.0.0.1", "localhost", "client.example")
	mail(conn, from)
	rcpt(conn, "rcpt@dest.example")
	headers(conn, { { "From", "Sender <" .. from .. ">" },
	    { "To", "rcpt@dest.example" }, { "Subject", "import test " .. n },
	    { "Date", "Mon, 23 Nov 2026 10:00:00 +0000" },
	    { "Message-ID", "<import" .. n .. "@test>" } })
	eoh(conn)
	body(conn, "A message to be signed.\r\n")
	must(mt.eom(conn), "eom")
	local out = {}
	for i = 0, 3 do
		local v = mt.getheader(conn, "DKIM-Signature", i)
		if v == nil then
			break
		end
		out[#out + 1] = "d=" .. tag(v, "d") .. " s=" .. tag(v, "s")
	end
	table.sort(out)
	print(from .. " " .. (#out > 0 and table.concat(out, ",") or "none"))
	mt.disconnect(conn)
end
