-- With rules whose tempfail threshold a 60-recipient message reaches, an SMTP
-- client gets 451 4.7.1 with the rules' reply text.
dofile(srcdir .. "/t/milter/common.lua")
local conn = start_outguard()
mt.disconnect(conn)

conn = connect_client("127.0.0.2", "ORIGINATING")
send_message(conn, "QTF1", "dave@pfx.test", "<dave@pfx.test>", 60)
expect_reply(conn, SMFIR_REPLYCODE, "eom")
if not mt.eom_check(conn, MT_SMTPREPLY, "451", "4.7.1", "Too many recipients at once; try again later") then fail("no 451 4.7.1 reply") end
mt.disconnect(conn)
mt.echo("*** PASS tempfail")
