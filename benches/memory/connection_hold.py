#!/usr/bin/env python3
"""Idle-connection cost: RSS of a running `switchboard serve --http` while it holds N half-sent requests.

Usage: connection_hold.py PID HOST:PORT [N]
Opens N connections that each send an unfinished request head (a slowloris), prints RSS before, while held,
how many the server closed within the header-read timeout (watching up to 15 s), and RSS after.
"""
import selectors
import socket
import sys
import time

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from session_flood import rss_kib  # noqa: E402


def main():
    pid, addr = int(sys.argv[1]), sys.argv[2]
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 1000
    host, port = addr.rsplit(":", 1)
    print("baseline       RSS %6d KiB (anon %6d KiB)" % rss_kib(pid), flush=True)
    socks = []
    for _ in range(n):
        s = socket.create_connection((host, int(port)))
        s.sendall(b"POST /webhooks/x HTTP/1.1\r\nHost: localhost\r\nX-Slow: 1")
        socks.append(s)
    time.sleep(0.5)
    print("%5d held     RSS %6d KiB (anon %6d KiB)" % ((n,) + rss_kib(pid)), flush=True)
    sel = selectors.DefaultSelector()
    for s in socks:
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
    closed, started = 0, time.monotonic()
    while closed < n and time.monotonic() - started < 15:
        for key, _ in sel.select(timeout=0.5):
            try:
                data = key.fileobj.recv(4096)
            except OSError:
                data = b""
            if not data:
                sel.unregister(key.fileobj)
                closed += 1
    print(f"closed by the server: {closed}/{n} after {time.monotonic() - started:.1f} s", flush=True)
    for s in socks:
        s.close()
    time.sleep(1)
    print("after          RSS %6d KiB (anon %6d KiB)" % rss_kib(pid), flush=True)


if __name__ == "__main__":
    main()
