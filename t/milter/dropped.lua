-- The connection dropped without QUIT after each milter command in turn
-- (miltertest's abrupt disconnect); then, with python3, the harsher
-- clients of rawdrop.py (closed before the answer is read, cut inside a
-- packet, malformed packets, NUL bytes).  outguard frees each connection
-- and still answers a whole message; only messages that reached their end
-- were counted: the account's rate and the records agree.
dofile(srcdir .. "/t/milter/common.lua")
local conn = start_outguard()
mt.disconnect(conn)

local steps = { "connect", "helo", "mail", "rcpt", "header", "eoh", "body", "eom" }
for n = 0, #steps do
	local qid = "QDROP" .. n
	-- negotiation is part of mt.connect: n = 0 drops right after it
	conn = mt.connect(sock, 20, 0.25)
	if conn == nil then fail("cannot connect to outguard after dropping at step " .. n) end
	for k = 1, n do
		local s = steps[k]
		if s == "connect" then
			check(mt.macro(conn, SMFIC_CONNECT, "j", "pfx.test", "{daemon_name}", "ORIGINATING"), "connect macros")
			check(mt.conninfo(conn, "client.test", "127.0.0.2"), "conninfo")
		elseif s == "helo" then
			check(mt.helo(conn, "client.test"), "helo")
		elseif s == "mail" then
			check(mt.macro(conn, SMFIC_MAIL, "i", qid, "{auth_authen}", "dave", "{auth_type}", "PLAIN"), "mail macros")
			check(mt.mailfrom(conn, "<dave@pfx.test>"), "mailfrom")
		elseif s == "rcpt" then
			check(mt.rcptto(conn, "<x@remote.test>"), "rcptto")
		elseif s == "header" then
			check(mt.header(conn, "Subject", "cut"), "header")
		elseif s == "eoh" then
			check(mt.eoh(conn), "eoh")
		elseif s == "body" then
			check(mt.bodystring(conn, "you are a "), "body 1")
			check(mt.bodystring(conn, "winner\r\n"), "body 2")
		elseif s == "eom" then
			check(mt.eom(conn), "eom")
			expect_reply(conn, SMFIR_ACCEPT, "eom")
		end
	end
	check(mt.disconnect(conn, false), "abrupt disconnect after " .. (steps[n] or "negotiation"))
end

if python ~= nil and python ~= "" then
	local ok = os.execute(python .. " " .. srcdir .. "/t/milter/rawdrop.py " ..
	                      sock:gsub("^unix:", "") .. " " .. evidence)
	if not ok then fail("rawdrop.py") end
else
	mt.echo("no python3: the raw-socket clients are skipped")
end

-- the records of dave's messages that ended (QDROP8, perhaps rawdrop's one)
local function dave_records()
	local f = io.open(evidence, "r")
	local n = 0
	if f == nil then fail("no evidence file " .. evidence) end
	for line in f:lines() do
		if string.find(line, '"account":"sasl:dave"', 1, true) then n = n + 1 end
	end
	f:close()
	return n
end
local ended = dave_records()

-- a whole message is still answered, and dave's rate counts only the
-- messages that ended: those recorded, and this one
conn = connect_client("127.0.0.2", "ORIGINATING")
send_message(conn, "QDROPLAST", "dave", "<dave@pfx.test>", 60)
expect_reply(conn, SMFIR_ACCEPT, "eom")
if not mt.eom_check(conn, MT_QUARANTINE) then fail("not quarantined") end
local h = tostring(mt.getheader(conn, "X-Outguard", 0))
local want = " per%-account=" .. (ended + 1) .. "/1"
if not string.find(h, want) then fail("X-Outguard: " .. h .. ", want " .. want) end
mt.disconnect(conn)

-- the records: of the dropped sessions only QDROP8's, each line whole
local f = io.open(evidence, "r")
if f == nil then fail("no evidence file " .. evidence) end
local ids = {}
for line in f:lines() do
	if not string.find(line, "^{.*}$") then fail("a record cut short: " .. line) end
	local id = string.match(line, '"queue_id":"(QDROP[^"]*)"')
	if id ~= nil then ids[#ids + 1] = id end
end
f:close()
local got = table.concat(ids, " ")
if got ~= "QDROP8 QDROPLAST" then fail("records of " .. got .. ", want QDROP8 QDROPLAST") end
mt.echo("*** PASS dropped")
