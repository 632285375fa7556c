#!/usr/bin/env python3
"""Session flood: RSS of a running `switchboard serve --http` before and after N MCP `initialize`s.

Usage: session_flood.py PID URL [N] [THREADS]
  PID   the server process (RSS is read from /proc/PID/status)
  URL   its MCP endpoint, e.g. http://127.0.0.1:8080/mcp
Prints one line per phase: baseline, after the flood, every 10 s for --watch seconds (set it past
`[http] session_idle_secs` to see the sessions closed), then, with --traffic N, after N ordinary requests
(GET /healthz): mimalloc hands freed pages back to the OS as later allocations sweep its heaps, so an idle process
keeps its high-water mark. Status counts show how many initializes were answered 200 and how many refused.
"""
import argparse
import collections
import http.client
import threading
import time
import urllib.parse

INIT = (b'{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25",'
        b'"capabilities":{},"clientInfo":{"name":"flood","version":"0"}}}')


def rss_kib(pid):
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return int(fields["VmRSS"].split()[0]), int(fields.get("RssAnon", "0 kB").split()[0])


def flood(url, n, threads):
    u = urllib.parse.urlsplit(url)
    counts = collections.Counter()
    lock = threading.Lock()
    per = n // threads

    def worker():
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
        local = collections.Counter()
        for _ in range(per):
            try:
                conn.request("POST", u.path, body=INIT, headers={
                    "content-type": "application/json",
                    "accept": "application/json, text/event-stream",
                })
                resp = conn.getresponse()
                resp.read()
                local[resp.status] += 1
            except Exception as e:  # noqa: BLE001 - a benchmark counts failures, it does not stop
                local[type(e).__name__] += 1
                conn.close()
                conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
        with lock:
            counts.update(local)

    ts = [threading.Thread(target=worker) for _ in range(threads)]
    started = time.monotonic()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return counts, time.monotonic() - started


def main():
    p = argparse.ArgumentParser()
    p.add_argument("pid", type=int)
    p.add_argument("url")
    p.add_argument("n", type=int, nargs="?", default=10_000)
    p.add_argument("threads", type=int, nargs="?", default=8)
    p.add_argument("--watch", type=int, default=240, help="seconds to watch RSS after the flood")
    p.add_argument("--traffic", type=int, default=0, help="ordinary requests to send after watching")
    a = p.parse_args()
    print("baseline      RSS %6d KiB (anon %6d KiB)" % rss_kib(a.pid), flush=True)
    counts, secs = flood(a.url, a.n, a.threads)
    print(f"flood         {sum(counts.values())} initializes in {secs:.1f} s: {dict(counts)}", flush=True)
    print("after flood   RSS %6d KiB (anon %6d KiB)" % rss_kib(a.pid), flush=True)
    start = time.monotonic()
    while time.monotonic() - start < a.watch:
        time.sleep(10)
        rss, anon = rss_kib(a.pid)
        print("t+%4ds       RSS %6d KiB (anon %6d KiB)" % (time.monotonic() - start, rss, anon), flush=True)
    if a.traffic:
        u = urllib.parse.urlsplit(a.url)
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
        for _ in range(a.traffic):
            conn.request("GET", "/healthz")
            conn.getresponse().read()
        time.sleep(2)
        print("+%d requests RSS %6d KiB (anon %6d KiB)" % ((a.traffic,) + rss_kib(a.pid)), flush=True)


if __name__ == "__main__":
    main()
