-- The body is asked for when a keyword rule reads it; only its first
-- body_bytes are read (the rest is skipped), decoded, and scanned for trap
-- phrases: two in the first chunk quarantine, a third beyond the bound is
-- not seen.  A message without them is accepted untouched.
dofile(srcdir .. "/t/milter/common.lua")
local conn = start_outguard()
mt.disconnect(conn)

conn = connect_client("127.0.0.3", "ORIGINATING")
if mt.test_option(conn, SMFIP_NOBODY) then fail("the body was not asked for") end
check(mt.macro(conn, SMFIC_MAIL, "i", "QKW1", "{auth_authen}", "carol", "{auth_type}", "PLAIN"), "mail macros")
check(mt.mailfrom(conn, "<carol@pfx.test>"), "mailfrom")
check(mt.rcptto(conn, "<someone@remote.test>"), "rcptto")
check(mt.header(conn, "Subject", "a proposal"), "header Subject")
check(mt.header(conn, "Content-Type", "text/plain; charset=utf-8"), "header Content-Type")
check(mt.header(conn, "Content-Transfer-Encoding", "quoted-printable"), "header CTE")
check(mt.eoh(conn), "eoh")
check(mt.bodystring(conn, "Dear benefici=\r\nary, as next=20of kin you inherit.\r\n"), "body 1")
expect_reply(conn, SMFIR_CONTINUE, "body 1")
check(mt.bodystring(conn, string.rep("filler text ", 20) .. "\r\n"), "body 2")
local r = mt.getreply(conn)
if mt.test_option(conn, SMFIP_SKIP) then
	if r ~= SMFIR_SKIP then fail("body 2: reply " .. tostring(r) .. ", want skip") end
elseif r ~= SMFIR_CONTINUE then
	fail("body 2: reply " .. tostring(r))
end
check(mt.eom(conn), "eom")
expect_reply(conn, SMFIR_ACCEPT, "eom")
if not mt.eom_check(conn, MT_QUARANTINE) then fail("not quarantined") end
local h = mt.getheader(conn, "X-Outguard", 0)
mt.echo("X-Outguard: " .. tostring(h))
if not string.find(h, "^quarantine; score=10 trap%-words=2/1; account=sasl:carol") then
	fail("unexpected X-Outguard: " .. tostring(h))
end

-- the third phrase lies beyond body_bytes: with one phrase seen, no hit
check(mt.macro(conn, SMFIC_MAIL, "i", "QKW2", "{auth_authen}", "carol", "{auth_type}", "PLAIN"), "mail macros 2")
check(mt.mailfrom(conn, "<carol@pfx.test>"), "mailfrom 2")
check(mt.rcptto(conn, "<someone@remote.test>"), "rcptto 2")
check(mt.header(conn, "Subject", "minutes"), "header Subject 2")
check(mt.eoh(conn), "eoh 2")
check(mt.bodystring(conn, "The lottery of the club is on Friday." .. string.rep(" x", 60) ..
                    " next of kin\r\n"), "body 3")
check(mt.eom(conn), "eom 2")
expect_reply(conn, SMFIR_ACCEPT, "eom 2")
if mt.eom_check(conn, MT_QUARANTINE) then fail("message 2 quarantined") end
if mt.eom_check(conn, MT_HDRADD, "X-Outguard") then fail("message 2 tagged") end
mt.disconnect(conn)
mt.echo("*** PASS keywords")
