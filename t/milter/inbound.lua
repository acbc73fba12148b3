-- Mail from another MTA (no SASL, not an originating daemon, not trusted)
-- passes untouched even with 60 recipients.
dofile(srcdir .. "/t/milter/common.lua")
local conn = start_outguard()
mt.disconnect(conn)

conn = connect_client("127.0.0.3", "pfx.test")
send_message(conn, "QIN1", nil, "<someone@outside.test>", 60)
expect_reply(conn, SMFIR_ACCEPT, "eom")
if mt.eom_check(conn, MT_QUARANTINE) then fail("inbound mail quarantined") end
if mt.eom_check(conn, MT_HDRADD, "X-Outguard") then fail("inbound mail tagged") end
mt.disconnect(conn)
mt.echo("*** PASS inbound")
