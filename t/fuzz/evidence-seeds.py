#!/usr/bin/env python3
# Write the seeds of t/fuzz/fuzz_evidence.c into t/fuzz/seeds/evidence/:
#   python3 t/fuzz/evidence-seeds.py
# The layout is the harness's (see its opening comment): a head of flag and
# number bytes, then NUL-terminated strings, then each hit.
import os
import struct

here = os.path.dirname(os.path.abspath(__file__))
out = os.path.join(here, "seeds", "evidence")

# flags: 1 observe, 2 internal_error, 4 counted_locally, 8 allowed,
# 16 client port known, 32 identity keys from the input, 64 exempt, 128 locked
def seed(name, flags=16, action=0, applied=0, would=0, scope=1, style=0, score=0, would_score=0,
         now_ms=1795000000123, until=0, port=2525, conn=(), rcpts=(), keys=None, uid=-1, source=1,
         verdict=(None, None, b"3f2a9c1d"), hits=()):
    b = struct.pack(">HBBBBBBBii", flags, len(rcpts), len(hits), action, applied, would, scope,
                    style, score, would_score)
    b += struct.pack(">qqH", now_ms, until, port)
    # queue_id, client addr, name, helo, daemon, login, mechanism, sender,
    # From, Message-ID, Subject, X-PHP-Originating-Script, stamp
    conn = list(conn) + [b""] * (13 - len(conn))
    b += b"".join(c + b"\0" for c in conn)
    b += b"".join(r + b"\0" for r in rcpts)
    k = list(keys or ()) + [b""] * (6 - len(keys or ()))
    b += b"".join(x + b"\0" for x in k)
    if flags & 32:
        b += struct.pack(">iB", uid, source)
    b += b"".join((x or b"") + b"\0" for x in verdict)
    for rule, hf, figure, limit, found, key, detail in hits:
        b += struct.pack(">BBQQ", rule, hf | len(found) << 4, figure, limit) + bytes(found)
        b += key + b"\0" + detail + b"\0"
    with open(os.path.join(out, name), "wb") as f:
        f.write(b)

seed("sasl-accept", conn=[b"4XyZ1AbCdE", b"192.0.2.7", b"mail.example.com", b"[192.0.2.7]",
     b"ORIGINATING", b"alice@example.com", b"PLAIN", b"<alice@example.com>",
     b"Alice <alice@example.com>", b"<1@example.com>", b"Hello"],
     rcpts=[b"<bob@remote.example>", b"<carol@other.example>"])
seed("sasl-rate-hits", action=3, applied=3, score=25, conn=[b"9QQ", b"198.51.100.4", b"unknown",
     b"laptop", b"ORIGINATING", b"bob@example.com", b"LOGIN", b"<bob@example.com>",
     b"\"Bank\" <no-reply@bank.example>", b"<x@evil.example>", b"Your account"],
     rcpts=[b"<r%d@remote.example>" % i for i in range(12)],
     hits=[(2, 2, 41, 30, [], b"sasl:bob@example.com", b""),
           (0, 0, 12, 10, [], b"", b""),
           (19, 0, 4, 0, [], b"", b"foreign evil.example"),
           (21, 1, 2, 0, [0, 3], b"", b"")])
seed("local-stamp", scope=2, port=0, action=2, applied=2, score=10,
     conn=[b"LOCAL1", b"127.0.0.1", b"localhost", b"localhost", b"", b"", b"", b"www-data",
           b"www-data@host", b"", b"Contact form", b"1001:contact.php",
           b"uid=1001; user=web1; cwd=/var/www/site1"],
     rcpts=[b"victim@remote.example"],
     hits=[(15, 0, 1, 0, [], b"", b"1001:contact.php"), (10, 2, 11, 10, [], b"php:1001:contact.php", b"")])
seed("bytes", flags=16 | 4 | 1, score=5, would_score=30, would=3,
     conn=[b"Q\x01", b"10.0.0.1", b"\xff\xfe.example", b"he\"lo\\\x7f", b"", b"\xc3\x28@x",
           b"PLAIN\t", b"<\xe2\x82@x>", b"=?UTF-8?B?w6k=?= \xed\xa0\x80 <a@b>", b"<\x01",
           b"line\r\nX-Injected: yes\x1b[31m", b"x:\xf0\x9f\x92\xa9.php"],
     rcpts=[b"<\xc0\xaf@x>", b"<\"quoted\\\"\"@x>"],
     hits=[(21, 3, 2**64 - 1, 2**63, [1, 2], b"key\nwith", b"\x80\x81 detail")])
seed("locked-exempt", flags=16 | 64 | 128 | 8 | 32, until=2**63 - 1, now_ms=-1,
     conn=[b"L0CK", b"2001:db8::1", b"", b"h", b"", b"carol@shop.test", b"PLAIN", b"<>"],
     keys=[b"sasl:carol@shop.test", b"domain:shop.test", b"php:33:x.php", b"ip:2001:db8::1",
           b"user\x01", b"/var/www/\xff"], uid=-5, source=6,
     verdict=(b"sasl:carol@shop.test", b"sasl:carol@shop.test", b"\xff" * 8))
seed("empty")
