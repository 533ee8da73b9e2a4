-- probe_rcpt.lua - one transaction up to RCPT; prints "REPLY <char>" for
-- the RCPT (c continue, y/t tempfail or reject with our reply text).
-- Globals from the command line: sock, ip, sender, rcpt.
conn = mt.connect(sock, 40, 0.05)
if conn == nil then error("cannot connect to " .. sock) end
if mt.conninfo(conn, "client.example", ip) ~= nil then error("conninfo") end
if mt.helo(conn, "client.example") ~= nil then error("helo") end
if mt.mailfrom(conn, sender) ~= nil then error("mailfrom") end
if mt.rcptto(conn, rcpt) ~= nil then error("rcptto") end
print("REPLY " .. string.char(mt.getreply(conn)))
mt.disconnect(conn)
