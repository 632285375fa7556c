#!/usr/bin/env python3
"""Forged-webhook flood: RSS of a running Switchboard before and after N deliveries with a made-up signature.

Usage: forged_flood.py PID URL [N] [THREADS]
  PID   the server process (RSS is read from /proc/PID/status)
  URL   a configured source's webhook URL, e.g. http://127.0.0.1:8080/webhooks/razorpay
Every delivery is a 1.9 KB Razorpay-shaped body with a random X-Razorpay-Signature: each is refused (401) and kept
by the webhook inspector, whose ring of refused attempts holds the last 200. Prints RSS at the baseline, once the
ring is full (after 1,000), and after all N: past the ring's fill the flood should cost nothing more.
"""
import collections
import http.client
import json
import os
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from session_flood import rss_kib  # noqa: E402

BODY = json.dumps({
    "entity": "event",
    "account_id": "acc_BFQ7uQEaa7j2z7",
    "event": "payment_link.paid",
    "contains": ["payment_link", "order", "payment"],
    "payload": {"payment_link": {"entity": {
        "id": "plink_SCx4Lm8QwErT2y", "amount": 4500000, "amount_paid": 4500000, "currency": "INR",
        "description": "Invoice SW-2026-0142 " + "x" * 1500, "status": "paid",
    }}},
    "created_at": 1795426810,
}).encode()


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
                conn.request("POST", u.path, body=BODY, headers={
                    "content-type": "application/json",
                    "x-razorpay-signature": os.urandom(32).hex(),
                    "x-razorpay-event-id": "evt_forged",
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
    pid, url = int(sys.argv[1]), sys.argv[2]
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 10_000
    threads = int(sys.argv[4]) if len(sys.argv) > 4 else 4
    print("baseline          RSS %6d KiB (anon %6d KiB)" % rss_kib(pid), flush=True)
    first = min(1_000, n)
    counts, secs = flood(url, first, threads)
    print(f"{first:>6} forged     {dict(counts)} in {secs:.1f} s", flush=True)
    print("ring full         RSS %6d KiB (anon %6d KiB)" % rss_kib(pid), flush=True)
    counts, secs = flood(url, n - first, threads)
    print(f"{n - first:>6} more       {dict(counts)} in {secs:.1f} s", flush=True)
    print("after %6d      RSS %6d KiB (anon %6d KiB)" % ((n,) + rss_kib(pid)), flush=True)


if __name__ == "__main__":
    main()
