-- ready.lua - succeeds once the filter answers a connection (address
-- unknown, so that no limit counts it).  Global: sock.
local conn = mt.connect(sock, 100, 0.05)
if conn == nil then error("no connection") end
if mt.conninfo(conn, "probe.example", "unspec") ~= nil then error("conninfo") end
if mt.getreply(conn) ~= SMFIR_CONTINUE then error("reply") end
mt.disconnect(conn)
