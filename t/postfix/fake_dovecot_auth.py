#!/usr/bin/python3
"""A minimal Dovecot authentication server for Postfix's "dovecot" SASL client.

Usage: fake_dovecot_auth.py SOCKET LOGFILE USER:PASSWORD...

Listens on the unix socket SOCKET (mode 0666, so Postfix's smtpd can reach
it) and answers Dovecot auth protocol 1.2 as Postfix speaks it: PLAIN (with
or without an initial response) and LOGIN.  Only the USER:PASSWORD pairs on
the command line exist.  One line per authentication attempt goes to LOGFILE.
Stops on SIGTERM or SIGINT.  Good for tests only: no state outside SOCKET
and LOGFILE, no real password store.
"""
import base64
import os
import signal
import socket
import socketserver
import sys
import threading

USERS = {}
LOG_LOCK = threading.Lock()
LOG = None


def log(line):
    with LOG_LOCK:
        LOG.write(line + "\n")
        LOG.flush()


def b64d(text):
    try:
        return base64.b64decode(text, validate=True)
    except (ValueError, TypeError):
        return None


def b64e(data):
    return base64.b64encode(data).decode("ascii")


class Conversation:
    """One AUTH request in progress: its mechanism and what is known so far."""

    def __init__(self, mech):
        self.mech = mech
        self.user = None


class Handler(socketserver.StreamRequestHandler):
    def send(self, line):
        self.wfile.write((line + "\n").encode("utf-8"))
        self.wfile.flush()

    def finish_auth(self, req_id, user, password):
        if user is not None and USERS.get(user) == password:
            log("ok user=%s" % user)
            self.send("OK\t%s\tuser=%s" % (req_id, user))
        else:
            log("fail user=%s" % user)
            self.send("FAIL\t%s\tuser=%s\treason=bad password" % (req_id, user or ""))

    def step(self, req_id, conv, data):
        """Feed one client response (bytes) to CONV; answer the client."""
        if data is None:
            self.send("FAIL\t%s\treason=invalid base64" % req_id)
            return True
        if conv.mech == "PLAIN":
            parts = data.split(b"\0")
            if len(parts) != 3:
                self.send("FAIL\t%s\treason=invalid PLAIN response" % req_id)
                return True
            self.finish_auth(req_id, parts[1].decode("utf-8", "replace"),
                             parts[2].decode("utf-8", "replace"))
            return True
        # LOGIN: username first, then password.
        if conv.user is None:
            conv.user = data.decode("utf-8", "replace")
            self.send("CONT\t%s\t%s" % (req_id, b64e(b"Password:")))
            return False
        self.finish_auth(req_id, conv.user, data.decode("utf-8", "replace"))
        return True

    def handle(self):
        convs = {}
        self.send("VERSION\t1\t2")
        self.send("MECH\tPLAIN\tplaintext")
        self.send("MECH\tLOGIN\tplaintext")
        self.send("SPID\t%d" % os.getpid())
        self.send("CUID\t%d" % threading.get_ident())
        self.send("COOKIE\t" + "0" * 32)
        self.send("DONE")
        for raw in self.rfile:
            fields = raw.decode("utf-8", "replace").rstrip("\r\n").split("\t")
            cmd = fields[0]
            if cmd in ("VERSION", "CPID"):
                continue
            if cmd == "AUTH" and len(fields) >= 3:
                req_id, mech = fields[1], fields[2].upper()
                if mech not in ("PLAIN", "LOGIN"):
                    self.send("FAIL\t%s\treason=unsupported mechanism" % req_id)
                    continue
                conv = Conversation(mech)
                resp = [f[5:] for f in fields[3:] if f.startswith("resp=")]
                if resp:
                    if not self.step(req_id, conv, b64d(resp[0])):
                        convs[req_id] = conv
                else:
                    convs[req_id] = conv
                    prompt = b"" if mech == "PLAIN" else b"Username:"
                    self.send("CONT\t%s\t%s" % (req_id, b64e(prompt)))
            elif cmd == "CONT" and len(fields) >= 2:
                req_id = fields[1]
                conv = convs.get(req_id)
                if conv is None:
                    self.send("FAIL\t%s\treason=unknown request" % req_id)
                    continue
                if self.step(req_id, conv, b64d(fields[2] if len(fields) > 2 else "")):
                    del convs[req_id]
            else:
                log("unexpected line: %r" % raw)


class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


def main():
    global LOG
    if len(sys.argv) < 4:
        sys.stderr.write("usage: fake_dovecot_auth.py SOCKET LOGFILE USER:PASSWORD...\n")
        return 2
    path, logfile = sys.argv[1], sys.argv[2]
    for pair in sys.argv[3:]:
        user, sep, password = pair.partition(":")
        if not sep:
            sys.stderr.write("fake_dovecot_auth.py: not USER:PASSWORD: %r\n" % pair)
            return 2
        USERS[user] = password
    LOG = open(logfile, "a", encoding="utf-8")
    if os.path.exists(path):
        os.unlink(path)
    server = Server(path, Handler)
    os.chmod(path, 0o666)

    def stop(signum, frame):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log("listening on %s, %d users" % (path, len(USERS)))
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        try:
            os.unlink(path)
        except OSError:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
