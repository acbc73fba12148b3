-- An authenticated account's message to 60 recipients is quarantined with a
-- readable X-Outguard header; a forged stamp header is removed.
dofile(srcdir .. "/t/milter/common.lua")
local conn = start_outguard()
mt.disconnect(conn)

conn = connect_client("127.0.0.2", "ORIGINATING")
send_message(conn, "QBLAST1", "bob@pfx.test", "<bob@pfx.test>", 60,
             {{"X-Outguard-Submitter", "uid=0; user=root; cwd=/"}})
expect_reply(conn, SMFIR_ACCEPT, "eom")
if not mt.eom_check(conn, MT_QUARANTINE) then fail("not quarantined") end
if not mt.eom_check(conn, MT_HDRADD, "X-Outguard") then fail("no X-Outguard header") end
local h = mt.getheader(conn, "X-Outguard", 0)
mt.echo("X-Outguard: " .. tostring(h))
-- the blast also has no To or Cc naming its recipients (hidden-recipients)
if not string.find(h, "^quarantine; score=%d+ many%-recipients=60/50 .*hidden%-recipients=60/20.*; account=sasl:bob@pfx.test$") then
	fail("unexpected X-Outguard: " .. tostring(h))
end
if not mt.eom_check(conn, MT_HDRDELETE, "X-Outguard-Submitter") then fail("forged stamp kept") end

-- the next, ordinary message on the same connection is not touched
send_message(conn, "QBLAST2", "bob@pfx.test", "<bob@pfx.test>", 1)
expect_reply(conn, SMFIR_ACCEPT, "eom 2")
if mt.eom_check(conn, MT_QUARANTINE) then fail("ordinary message quarantined") end
if mt.eom_check(conn, MT_HDRADD, "X-Outguard") then fail("ordinary message tagged") end
mt.disconnect(conn)
mt.echo("*** PASS blast")
