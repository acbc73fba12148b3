#!/usr/bin/python3
"""A milter that accepts everything and writes down what the MTA told it.

Usage: null_milter.py SOCKET LOGFILE      (SOCKET as libmilter spells it,
                                           e.g. inet:22528@127.0.0.1)

The baseline for the Postfix fixture: with it in place of outguard, every
message must pass, so a fixture problem is told apart from a filter problem.
LOGFILE gets one JSON object per message at end of message: the connect
address, the daemon name, the SASL login, the queue id, sender, recipient
count and header names.  Needs python3-milter (Debian's /usr/bin/python3).
"""
import json
import sys
import threading

import Milter

LOG_LOCK = threading.Lock()
LOGFILE = None


class NullMilter(Milter.Base):
    def __init__(self):
        self.client = None
        self.reset()

    def reset(self):
        self.sender = None
        self.rcpts = 0
        self.headers = []
        self.auth = None

    @Milter.noreply
    def connect(self, hostname, family, hostaddr):
        self.client = hostaddr[0] if isinstance(hostaddr, tuple) else str(hostaddr)
        self.daemon = self.getsymval("{daemon_name}")
        return Milter.CONTINUE

    def envfrom(self, sender, *params):
        self.reset()
        self.sender = sender
        self.auth = self.getsymval("{auth_authen}")
        return Milter.CONTINUE

    def envrcpt(self, rcpt, *params):
        self.rcpts += 1
        return Milter.CONTINUE

    @Milter.noreply
    def header(self, name, value):
        self.headers.append(name)
        return Milter.CONTINUE

    def eom(self):
        record = {
            "client": self.client,
            "daemon_name": self.daemon,
            "auth_authen": self.auth,
            "queue_id": self.getsymval("i"),
            "sender": self.sender,
            "rcpt_count": self.rcpts,
            "headers": self.headers,
        }
        with LOG_LOCK:
            LOGFILE.write(json.dumps(record) + "\n")
            LOGFILE.flush()
        self.reset()
        return Milter.ACCEPT

    def abort(self):
        self.reset()
        return Milter.CONTINUE


def main():
    global LOGFILE
    if len(sys.argv) != 3:
        sys.stderr.write("usage: null_milter.py SOCKET LOGFILE\n")
        return 2
    LOGFILE = open(sys.argv[2], "a", encoding="utf-8")
    Milter.factory = NullMilter
    Milter.runmilter("null_milter", sys.argv[1], 240)
    return 0


if __name__ == "__main__":
    sys.exit(main())
