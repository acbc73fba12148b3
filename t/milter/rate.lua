-- 40 single-recipient messages from one account within a minute: the first
-- 30 pass, from the 31st on they are quarantined (account-messages-1m).
dofile(srcdir .. "/t/milter/common.lua")
local conn = start_outguard()
mt.disconnect(conn)

conn = connect_client("127.0.0.2", "ORIGINATING")
for n = 1, 40 do
	send_message(conn, "QRATE" .. n, "carol@pfx.test", "<carol@pfx.test>", 1)
	expect_reply(conn, SMFIR_ACCEPT, "eom " .. n)
	local held = mt.eom_check(conn, MT_QUARANTINE)
	if n <= 30 and held then fail("message " .. n .. " quarantined too early") end
	if n > 30 and not held then fail("message " .. n .. " not quarantined") end
end
mt.disconnect(conn)
mt.echo("*** PASS rate")
