#!/usr/bin/env python3
"""smtp_latency.py - how long a mail client waits for each message.

Usage: smtp_latency.py HOST PORT MESSAGES [SESSIONS] [BODY_BYTES]

SESSIONS threads (default 8) send MESSAGES messages in all, one message
per SMTP session as mail clients do (connect, EHLO, MAIL, RCPT, DATA, QUIT),
and time each from the connect to the server's reply to the final dot
(the milter's verdict included).  Prints one line:
    LATENCY msgs=N p50_us=X p90_us=Y p99_us=Z max_us=W errors=E
Used by postfix_bench.sh; not a test.
"""
import smtplib
import sys
import threading
import time


def main():
    host, port, total = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    sessions = int(sys.argv[4]) if len(sys.argv) > 4 else 8
    size = int(sys.argv[5]) if len(sys.argv) > 5 else 2048
    line = "x" * 70 + "\r\n"
    body = ("Subject: latency\r\nFrom: bench@pfx.test\r\nTo: rcpt@remote.example\r\n\r\n"
            + line * max(1, size // len(line)))
    times, errors = [], [0]
    lock = threading.Lock()
    todo = [total]

    def worker():
        while True:
            with lock:
                if todo[0] == 0:
                    return
                todo[0] -= 1
            t0 = time.perf_counter()
            try:
                s = smtplib.SMTP(host, port, timeout=60)
                s.ehlo("bench.pfx.test")
                s.sendmail("bench@pfx.test", ["rcpt@remote.example"], body)
                t1 = time.perf_counter()
                s.quit()
            except (OSError, smtplib.SMTPException):
                with lock:
                    errors[0] += 1
                continue
            with lock:
                times.append((t1 - t0) * 1e6)

    threads = [threading.Thread(target=worker) for _ in range(sessions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    times.sort()

    def pct(p):
        return int(times[min(len(times) - 1, int(p * len(times)))]) if times else -1

    print("LATENCY msgs=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d errors=%d"
          % (len(times), pct(0.50), pct(0.90), pct(0.99), int(times[-1]) if times else -1, errors[0]))
    return 0 if errors[0] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
