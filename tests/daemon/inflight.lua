-- inflight.lua - one message with a pause after MAIL, for a stop while it
-- is in flight: prints "MAIL <char>" once MAIL is answered, then waits
-- `pause` seconds (the test sends SIGTERM meanwhile) and prints
-- "RCPT <char>" and "EOM <char>" for the rest of the transaction.
-- Globals from the command line: sock, sender, pause.
conn = mt.connect(sock, 40, 0.05)
if conn == nil then error("cannot connect to " .. sock) end
if mt.conninfo(conn, "client.example", "203.0.113.5") ~= nil then error("conninfo") end
if mt.mailfrom(conn, sender) ~= nil then error("mailfrom") end
print("MAIL " .. string.char(mt.getreply(conn)))
io.stdout:flush()
mt.sleep(tonumber(pause))
if mt.rcptto(conn, "<b@example.org>") ~= nil then error("rcptto") end
print("RCPT " .. string.char(mt.getreply(conn)))
if mt.header(conn, "Subject", "in flight") ~= nil then error("header") end
if mt.eom(conn) ~= nil then error("eom") end
print("EOM " .. string.char(mt.getreply(conn)))
io.stdout:flush()
mt.disconnect(conn)
