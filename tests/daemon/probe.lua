-- probe.lua - one message through the filter; prints "REPLY <char>" for MAIL.
-- Globals from the command line: sock (unix:/path), sender.
conn = mt.connect(sock, 40, 0.05)
if conn == nil then error("cannot connect to " .. sock) end
if mt.conninfo(conn, "client.example", "203.0.113.5") ~= nil then error("conninfo") end
if mt.mailfrom(conn, sender) ~= nil then error("mailfrom") end
local r = mt.getreply(conn)
print("REPLY " .. string.char(r))
mt.disconnect(conn)
