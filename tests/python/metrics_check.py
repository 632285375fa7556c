"""/metrics counts what a scripted run did, and parses with the official Prometheus Python parser.

Starts `switchboard serve --http` against .ci/stub_upstream.py (a fake Razorpay), then:
- through the official Python MCP SDK: get_invoice 3 times (found), once for an id Razorpay does not have (an
  isError result), list_invoices twice;
- webhook deliveries to /webhooks/razorpay: 2 new (signed), 1 duplicate, 2 forged (bad signature), and 1 to a
  source that does not exist;
then scrapes /metrics, parses it with prometheus_client's OpenMetrics parser and compares every count.

Usage: python tests/python/metrics_check.py path/to/switchboard
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from mcp import Client
from prometheus_client.openmetrics.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "razorpay"
SECRET = "metrics-check-webhook-secret"


def fail(message: str) -> None:
    print(f"FAIL  {message}", file=sys.stderr)
    sys.exit(1)


def post(url: str, body: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, data=body, headers={"content-type": "application/json", **headers})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as e:
        return e.code


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


async def script(mcp_url: str, base: str) -> None:
    invoice_id = json.loads((FIXTURES / "invoice_issued.json").read_text())["id"]
    async with Client(mcp_url) as client:
        for _ in range(3):
            result = await client.call_tool("get_invoice", {"invoice_id": invoice_id})
            if result.is_error:
                fail(f"get_invoice failed: {result.content}")
        missing = await client.call_tool("get_invoice", {"invoice_id": "inv_ZZZZZZZZZZZZZZ"})
        if not missing.is_error:
            fail("an unknown invoice should be an isError result")
        for _ in range(2):
            await client.call_tool("list_invoices", {})
    first = (FIXTURES / "webhook_payment_link_paid.json").read_bytes().strip()
    # Another payment (Razorpay's ids are unsigned, so the receiver also dedupes on the signed bytes).
    second = first.replace(b"pay_SCx9RtYu3IoP4a", b"pay_SCx9RtYu3IoP4b").replace(b"plink_SCx4Lm8QwErT2y", b"plink_SCx4Lm8QwErT2z")
    sign = lambda body: hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()  # noqa: E731
    hook = f"{base}/webhooks/razorpay"
    want = [
        (hook, first, {"x-razorpay-signature": sign(first), "x-razorpay-event-id": "evt_metrics_1"}, 200),
        (hook, second, {"x-razorpay-signature": sign(second), "x-razorpay-event-id": "evt_metrics_2"}, 200),
        (hook, first, {"x-razorpay-signature": sign(first), "x-razorpay-event-id": "evt_metrics_1"}, 200),
        (hook, first, {"x-razorpay-signature": "0" * 64, "x-razorpay-event-id": "evt_forged_1"}, 401),
        (hook, first, {"x-razorpay-signature": "f" * 64, "x-razorpay-event-id": "evt_forged_2"}, 401),
        (f"{base}/webhooks/nosuchsource", first, {}, 404),
    ]
    for url, body, headers, status in want:
        got = post(url, body, headers)
        if got != status:
            fail(f"POST {url} {headers}: want {status}, got {got}")


def main() -> None:
    binary = sys.argv[1]
    with tempfile.TemporaryDirectory() as tmp:
        stub = subprocess.Popen([sys.executable, str(ROOT / ".ci" / "stub_upstream.py"), "0"],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        port = stub.stdout.readline().strip()
        log = Path(tmp) / "server.log"
        env = {"PATH": os.environ.get("PATH", ""), "HOME": tmp, "SWITCHBOARD_DATA_DIR": f"{tmp}/data",
               "RAZORPAY_KEY_ID": "rzp_test_metricscheck", "RAZORPAY_KEY_SECRET": "metrics-check-key-secret",
               "RAZORPAY_BASE_URL": f"http://127.0.0.1:{port}", "RAZORPAY_WEBHOOK_SECRET": SECRET,
               "RUST_LOG": "info"}
        server = subprocess.Popen([binary, "serve", "--http", "127.0.0.1:0"], env=env, stderr=log.open("w"))
        try:
            deadline = time.monotonic() + 20
            base = None
            while base is None and time.monotonic() < deadline:
                match = re.search(r"serving MCP on (http://\S+)/mcp", log.read_text())
                base = match.group(1) if match else None
                time.sleep(0.05)
            if base is None:
                fail(f"the server never said where it serves: {log.read_text()}")
            asyncio.run(script(f"{base}/mcp", base))
            with urllib.request.urlopen(f"{base}/metrics", timeout=10) as response:
                text = response.read().decode()
            got = samples(text)

            def want(name: str, labels: dict[str, str], value: float) -> None:
                key = (name, tuple(sorted(labels.items())))
                if got.get(key) != value:
                    fail(f"{name}{labels}: want {value}, got {got.get(key)}\n{text}")

            want("switchboard_tool_calls_total", {"gen_ai_tool_name": "get_invoice", "outcome": "ok"}, 3)
            want("switchboard_tool_calls_total", {"gen_ai_tool_name": "get_invoice", "outcome": "error"}, 1)
            want("switchboard_tool_calls_total", {"gen_ai_tool_name": "list_invoices", "outcome": "ok"}, 2)
            for outcome, n in [("stored", 2), ("duplicate", 1), ("bad_signature", 2)]:
                want("switchboard_webhook_deliveries_total", {"source": "razorpay", "outcome": outcome}, n)
            want("switchboard_webhook_deliveries_total", {"source": "unknown", "outcome": "unknown_source"}, 1)
            want("switchboard_webhook_ack_duration_seconds_count", {"source": "razorpay"}, 5)
            want("switchboard_upstream_requests_total", {"provider": "razorpay", "status_class": "2xx"}, 5)
            want("switchboard_upstream_requests_total", {"provider": "razorpay", "status_class": "4xx"}, 1)
            print(f"PASS  /metrics counts what the script did ({len(got)} samples parsed by prometheus_client)")
        except BaseException:
            sys.stderr.write(f"--- server log ---\n{log.read_text()}\n")
            raise
        finally:
            server.terminate()
            stub.terminate()
            server.wait(10)


if __name__ == "__main__":
    main()
