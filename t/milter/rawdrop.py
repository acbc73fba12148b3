#!/usr/bin/env python3
"""Hostile milter clients against a running outguard, for t/milter/dropped.lua.

Each one does what a polite MTA never does: it closes the connection right
after sending a command, without reading the answer, or inside a packet;
it sends packets that are malformed (no NUL where one is due, a huge
length, an unknown command, a zero length); and one whole message carries
NUL bytes in its addresses, a header and the body.  Then the evidence file
is read: every record is JSON, the one message of the NUL bytes says what
libmilter passed on (the part before each NUL), and of the dropped sessions
only the one that sent its end of message may have left a record.

Usage: rawdrop.py SOCKET_PATH EVIDENCE_FILE.  Exit 0, or 1 with a line
saying what was wrong.
"""
import json
import socket
import struct
import sys


def packet(cmd, data=b""):
    return struct.pack(">I", len(data) + 1) + cmd + data


def read_reply(s):
    """One reply packet: (command byte, data); (None, b"") when the peer closed."""
    head = b""
    while len(head) < 4:
        chunk = s.recv(4 - len(head))
        if not chunk:
            return None, b""
        head += chunk
    (n,) = struct.unpack(">I", head)
    body = b""
    while len(body) < n:
        chunk = s.recv(n - len(body))
        if not chunk:
            return None, b""
        body += chunk
    return body[:1], body[1:]


def session(qid, login, mail=b"<dave@pfx.test>\0", rcpt=b"<x@remote.test>\0",
            header=b"Subject\0cut\0", body=(b"you are a ", b"winner\r\n")):
    """The packets of a whole message, each with whether it is answered."""
    # version 6, every action, no protocol step left out: each command is answered
    steps = [(packet(b"O", struct.pack(">III", 6, 0x1FF, 0)), True),
             (packet(b"D", b"C{daemon_name}\0ORIGINATING\0j\0pfx.test\0"), False),
             (packet(b"C", b"client.test\0" + b"4" + struct.pack(">H", 40000) + b"127.0.0.2\0"), True),
             (packet(b"H", b"client.test\0"), True),
             (packet(b"D", b"Mi\0" + qid + b"\0{auth_authen}\0" + login + b"\0{auth_type}\0PLAIN\0"), False),
             (packet(b"M", mail), True),
             (packet(b"R", rcpt), True),
             (packet(b"T"), True),
             (packet(b"L", header), True),
             (packet(b"N"), True)]
    steps += [(packet(b"B", chunk), True) for chunk in body]
    steps.append((packet(b"E"), True))
    return steps


def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(path)
    return s


def play(path, steps, upto):
    """Send STEPS[:UPTO] reading their answers; the caller sends what follows."""
    s = connect(path)
    for data, answered in steps[:upto]:
        s.sendall(data)
        if answered:
            cmd, _ = read_reply(s)
            if cmd is None:
                raise SystemExit("outguard closed the connection at step %d" % upto)
    return s


def final_reply(s):
    """Read the end of message's answers up to the one that ends it."""
    while True:
        cmd, data = read_reply(s)
        if cmd is None or cmd in (b"a", b"c", b"t", b"r", b"d", b"y"):
            return cmd


def main():
    path, evidence = sys.argv[1], sys.argv[2]
    n = len(session(b"Q", b"dave"))

    # closed right after each command, its answer never read; then cut inside it
    # (the end of message first: its session has the most time to finish)
    for k in range(n, 0, -1):
        steps = session(b"QRAW%d" % k, b"dave")
        s = play(path, steps, k - 1)
        s.sendall(steps[k - 1][0])
        s.close()
        steps = session(b"QCUT%d" % k, b"dave")
        s = play(path, steps, k - 1)
        s.sendall(steps[k - 1][0][:3])
        s.close()

    # malformed packets after MAIL FROM: outguard may close, it must not fall over
    for bad in (packet(b"L", b"Subject\0no final NUL"), struct.pack(">I", 0x7FFFFFFF) + b"L",
                packet(b"Z", b"junk"), struct.pack(">I", 0), packet(b"M"), packet(b"R")):
        s = play(path, session(b"QBAD", b"erin"), 6)
        s.sendall(bad)
        s.close()

    # NUL bytes: libmilter splits at them, the callbacks see the part before
    steps = session(b"QRAWNUL", b"carol", mail=b"<carol\0@evil.example>\0",
                    rcpt=b"<u0\0@remote.test>\0", header=b"Subject\0you are a win\0ner\0",
                    body=(b"\0win\0ner \0claim\0",))
    s = play(path, steps, len(steps) - 1)
    s.sendall(steps[-1][0])
    got = final_reply(s)
    if got != b"a":
        raise SystemExit("NUL bytes: end of message answered %r, want accept" % got)
    s.sendall(packet(b"Q"))
    s.close()

    # the records: the NUL message's is written before its answer; of the
    # dropped sessions only the one that sent its end of message may have
    # one (libmilter may see the hangup before it reads the command)
    with open(evidence, "rb") as f:
        text = f.read()
    if b"\0" in text:
        raise SystemExit("a NUL byte in the evidence file")
    records = [json.loads(line) for line in text.decode("utf-8").splitlines()]
    seen = {r["queue_id"] for r in records
            if r["queue_id"] and r["queue_id"].startswith(("QRAW", "QCUT", "QBAD"))}
    if not {"QRAWNUL"} <= seen <= {"QRAW%d" % n, "QRAWNUL"}:
        raise SystemExit("records of %s, want QRAWNUL and perhaps QRAW%d" % (sorted(seen), n))
    nul = [r for r in records if r["queue_id"] == "QRAWNUL"][0]
    for key, value in (("sender", "carol"), ("subject", "you are a win"),
                       ("rcpt_sample", ["u0"]), ("rcpt_domains", [])):
        if nul[key] != value:
            raise SystemExit("NUL bytes: %s is %r, want %r" % (key, nul[key], value))
    trap = [h for h in nul["hits"] if h["rule"] == "trap"]
    if not trap or trap[0]["matched"] != ["claim"]:
        raise SystemExit("NUL bytes: hits %r, want trap matching claim only" % nul["hits"])
    print("rawdrop: %d sessions dropped (the one that sent EOM %s), 6 malformed, "
          "1 with NUL bytes: ok" % (2 * n, "judged" if "QRAW%d" % n in seen else "not judged"))


if __name__ == "__main__":
    main()
