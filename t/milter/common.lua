-- Shared helpers for the miltertest scripts: start outguard on the socket the
-- driver (t/miltertest.sh) chose, and fail loudly (miltertest prints nothing
-- on error() by itself).
function fail(msg)
	mt.echo("FAIL: " .. msg)
	error(msg)
end

function check(rc, what)
	if rc ~= nil then fail(what .. ": " .. rc) end
end

function expect_reply(conn, want, what)
	local got = mt.getreply(conn)
	if got ~= want then fail(what .. ": reply " .. tostring(got) .. ", want " .. tostring(want)) end
end

function start_outguard()
	mt.startfilter(filter, "-f", "-c", conf, "-p", sock)
	local conn = mt.connect(sock, 80, 0.25)
	if conn == nil then fail("cannot connect to outguard on " .. sock) end
	return conn
end

-- A new SMTP connection from ADDR (a loopback address) announced by daemon DAEMON.
function connect_client(addr, daemon)
	local conn = mt.connect(sock, 20, 0.25)
	if conn == nil then fail("cannot connect to outguard on " .. sock) end
	check(mt.macro(conn, SMFIC_CONNECT, "j", "pfx.test", "{daemon_name}", daemon), "connect macros")
	check(mt.conninfo(conn, "client.test", addr), "conninfo")
	expect_reply(conn, SMFIR_CONTINUE, "connect")
	check(mt.helo(conn, "client.test"), "helo")
	return conn
end

-- One message; AUTH may be nil. Returns after EOM; the caller checks the reply.
function send_message(conn, qid, auth, sender, nrcpt, headers)
	if auth ~= nil then
		check(mt.macro(conn, SMFIC_MAIL, "i", qid, "{auth_authen}", auth, "{auth_type}", "PLAIN"), "mail macros")
	else
		check(mt.macro(conn, SMFIC_MAIL, "i", qid), "mail macros")
	end
	check(mt.mailfrom(conn, sender), "mailfrom")
	expect_reply(conn, SMFIR_CONTINUE, "mailfrom")
	for i = 1, nrcpt do
		check(mt.rcptto(conn, "<user" .. i .. "@remote.test>"), "rcptto")
		expect_reply(conn, SMFIR_CONTINUE, "rcptto")
	end
	check(mt.header(conn, "From", sender), "header From")
	check(mt.header(conn, "Subject", "hello " .. qid), "header Subject")
	-- not "<QID@host>": that is the form of a Message-ID Postfix adds itself
	check(mt.header(conn, "Message-ID", "<" .. qid .. ".1@pfx.test>"), "header Message-ID")
	for _, h in ipairs(headers or {}) do
		check(mt.header(conn, h[1], h[2]), "header " .. h[1])
	end
	check(mt.eoh(conn), "eoh")
	if not mt.test_option(conn, SMFIP_NOBODY) then
		check(mt.bodystring(conn, "hello\r\n"), "body")
	end
	check(mt.eom(conn), "eom")
end
