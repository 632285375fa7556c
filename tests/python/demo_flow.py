"""End-to-end test of `switchboard demo` driven by the official Python MCP SDK (`mcp`).

The agent's whole flow, over Streamable HTTP, against the sandbox:
  list_invoices (overdue, by e-mail) -> create_payment_link for the amount due (the user confirms through
  elicitation) -> the pay page is fetched and paid over HTTP, asking for every webhook twice ->
  wait_for_payment returns the captured payment -> get_payment_link says paid -> each event is stored once.

Run for both protocol eras: "legacy" (initialize handshake, elicitation/create mid-call) and "auto" (the SDK
negotiates 2026-07-28 with our server, confirmation by the input-required round trip).

Then, in both eras, a client WITHOUT elicitation (like several desktop clients): create_payment_link waits on
the approval page; a person approves there (an HTTP form POST, as the browser sends it) and the same waiting
call returns the link.

Usage: python tests/python/demo_flow.py path/to/switchboard
"""

from __future__ import annotations

import asyncio
import html
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

import mcp_types as types
from mcp import Client

EMAIL = "asha.rao@kaveri-foods.example"
DEADLINE_S = 30


def fail(message: str) -> None:
    raise AssertionError(message)


class Demo:
    """`switchboard demo` on a free port with its own data directory; stdout/stderr captured to files."""

    def __init__(self, binary: str, data_dir: str) -> None:
        self.log = Path(data_dir) / "demo.stderr"
        self.out = Path(data_dir) / "demo.stdout"
        args = [binary, "demo", "--http", "127.0.0.1:0", "--data-dir", str(Path(data_dir) / "state"),
                "--webhook-delay-ms", "200"]
        # Real-looking provider settings in the environment must be ignored by the demo: if any were used, the
        # calls would go to a closed port or fail verification and the flow below would fail.
        env = dict(os.environ, RUST_LOG="info", RAZORPAY_KEY_ID="rzp_live_NotForTheDemo1", RAZORPAY_KEY_SECRET="x" * 24,
                   RAZORPAY_BASE_URL="http://127.0.0.1:9", RAZORPAY_WEBHOOK_SECRET="not-the-sandbox-secret",
                   STRIPE_API_KEY="sk_live_NotForTheDemo", HUBSPOT_ACCESS_TOKEN="pat-na1-not-for-the-demo",
                   HUBSPOT_BASE_URL="http://127.0.0.1:9", NOTION_TOKEN="ntn_NotForTheDemo",
                   NOTION_INVOICES_DATABASE_ID="0f0e0d0c0b0a49088706050403020100", NOTION_BASE_URL="http://127.0.0.1:9",
                   SWITCHBOARD_CONFIG="/nonexistent/config.toml")
        self.proc = subprocess.Popen(args, stdout=self.out.open("w"), stderr=self.log.open("w"), env=env)
        self.mcp_url = self._wait_for(r"MCP endpoint \(Streamable HTTP\)\s+(\S+)", self.out)

    def _wait_for(self, pattern: str, path: Path) -> str:
        deadline = time.monotonic() + DEADLINE_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                fail(f"demo exited with {self.proc.returncode}: {self.log.read_text()}")
            match = re.search(pattern, path.read_text())
            if match:
                return match.group(1)
            time.sleep(0.05)
        fail(f"demo never printed {pattern!r}")
        return ""

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def structured(result: types.CallToolResult) -> dict:
    if result.is_error:
        fail(f"tool failed: {result.content}")
    data = result.structured_content
    if not isinstance(data, dict):
        fail(f"no structured content: {result}")
    if data.get("mode") != "sandbox":
        fail(f"sandbox result without mode=sandbox: {data}")
    return data


def http(url: str, form: dict[str, str] | None = None) -> tuple[int, str]:
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    with urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=10) as response:
        return response.status, response.read().decode()


def delivered(page: str) -> int:
    """Webhook deliveries the receiver acknowledged, as the pay page reports them."""
    match = re.search(r'id="deliveries">(\d+)<', page)
    return int(match.group(1)) if match else 0


async def flow(binary: str, mode: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        demo = Demo(binary, tmp)
        try:
            await run_flow(demo, mode)
        except BaseException:
            sys.stderr.write(f"--- demo stderr ({mode}) ---\n{demo.log.read_text()}\n")
            raise
        finally:
            demo.stop()


async def run_flow(demo: Demo, mode: str) -> None:
    asked: list[str] = []

    async def confirm(_context, params):  # the user says yes
        asked.append(params.message)
        return types.ElicitResult(action="accept", content={"approve": True})

    async with Client(demo.mcp_url, mode=mode, elicitation_callback=confirm) as client:
        if "SANDBOX" not in (client.instructions or ""):
            fail("the instructions do not say this is a sandbox")

        # 1. The overdue invoice.
        listed = structured(await client.call_tool("list_invoices", {"customer": EMAIL, "status": "overdue"}))
        invoices = listed["invoices"]
        if len(invoices) != 1:
            fail(f"want one overdue invoice for {EMAIL}, got {invoices}")
        invoice = invoices[0]
        due = invoice["amount_due"]
        if (due["minor_units"], due["formatted"]) != (4_500_000, "₹45,000.00"):
            fail(f"unexpected amount due: {due}")

        # 2. A payment link for the amount due; the user is asked first.
        major = f"{due['minor_units'] // 100}.{due['minor_units'] % 100:02d}"
        created = structured(await client.call_tool("create_payment_link", {
            "amount": major, "currency": due["currency"], "reference_id": invoice["number"],
            "description": f"Invoice {invoice['number']}", "customer": {"email": EMAIL, "name": "Asha Rao"},
        }))
        if len(asked) != 1 or "45,000" not in asked[0]:
            fail(f"want one confirmation question naming the amount, got {asked}")
        link_id, pay_url = created["id"], created["url"]
        if not link_id.startswith("plink_") or "/sandbox/pay/" not in pay_url:
            fail(f"unexpected link: {created}")

        # 3. The customer opens the pay page and pays; every webhook is sent twice.
        status, page = http(pay_url)
        if status != 200 or "₹45,000.00" not in page or html.escape(EMAIL) not in page:
            fail(f"pay page does not show the amount and customer: {status} {page[:500]}")
        status, page = http(pay_url, {"duplicate": "on", "delay_ms": "300"})
        if status != 200 or 'id="paid"' not in page:
            fail(f"paying did not complete: {status} {page[:500]}")

        # 4. The agent hears about it without polling the provider.
        waited = structured(await client.call_tool("wait_for_payment", {"payment_link_id": link_id, "timeout_secs": 30}))
        if not waited["paid"] or waited["timed_out"] or not (waited["payment_id"] or "").startswith("pay_"):
            fail(f"wait_for_payment did not return the payment: {waited}")
        if waited["amount"]["minor_units"] != 4_500_000:
            fail(f"wait_for_payment amount: {waited['amount']}")

        # 5. The provider agrees.
        fetched = structured(await client.call_tool("get_payment_link", {"payment_link_id": link_id}))
        if fetched["status"] != "paid" or fetched["payments"][0]["id"] != waited["payment_id"]:
            fail(f"get_payment_link does not show the payment: {fetched}")

        # 6. Two events, four deliveries: once all deliveries are acknowledged, each event is stored once.
        deadline = time.monotonic() + DEADLINE_S
        while delivered(http(pay_url)[1]) < 4:
            if time.monotonic() > deadline:
                fail("the sandbox did not deliver 4 webhooks")
            await asyncio.sleep(0.05)
        events = structured(await client.call_tool("list_events", {"source": "razorpay", "limit": 100}))["events"]
        kinds = sorted(e["type"] for e in events)
        if kinds != ["payment.captured", "payment_link.paid"]:
            fail(f"want each event once after duplicate deliveries, got {kinds}")
        print(f"ok: {mode}: {invoice['number']} -> {link_id} -> {waited['payment_id']} "
              f"({waited['waited_ms']} ms wait), 4 deliveries -> {len(events)} events")


async def approval_page_flow(binary: str, mode: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        demo = Demo(binary, tmp)
        try:
            await approve_on_page(demo, mode)
        except BaseException:
            sys.stderr.write(f"--- demo stderr ({mode}, approval page) ---\n{demo.log.read_text()}\n")
            raise
        finally:
            demo.stop()


async def approve_on_page(demo: Demo, mode: str) -> None:
    base = demo.mcp_url.rsplit("/mcp", 1)[0]
    async with Client(demo.mcp_url, mode=mode) as client:  # no elicitation callback: the client cannot ask
        waiting = asyncio.create_task(client.call_tool("create_payment_link", {
            "amount": "8250.50", "currency": "INR", "reference_id": "INV-2026-0091",
            "description": "Invoice INV-2026-0091", "customer": {"email": "priya.nair@lotus-design.example"},
        }))
        # The person opens the approval page (the agent would show them its link) and approves.
        deadline = time.monotonic() + DEADLINE_S
        while not (found := re.search(r'href="(/approvals/apv_[a-z2-7]+)"', http(f"{base}/approvals")[1])):
            if time.monotonic() > deadline or waiting.done():
                fail(f"no approval appeared on the list; the call returned {waiting.done() and waiting.result()}")
            await asyncio.sleep(0.05)
        page_url = base + found.group(1)
        _, page = http(page_url)
        if "₹8,250.50" not in page or "priya.nair@lotus-design.example" not in page:
            fail(f"the approval page does not show the amount and customer: {page[:800]}")
        token = re.search(r'name="form_token" value="([^"]+)"', page).group(1)
        request = urllib.request.Request(page_url, data=urllib.parse.urlencode(
            {"decision": "approve", "form_token": token}).encode(), headers={"Origin": base})
        with urllib.request.urlopen(request, timeout=30) as response:
            done = response.read().decode()
        if "approved and done" not in done:
            fail(f"approving did not perform it: {done[:800]}")
        created = structured(await asyncio.wait_for(waiting, DEADLINE_S))
        if created.get("approved_via") != "approval_page" or "/sandbox/pay/" not in created["url"]:
            fail(f"the waiting call did not return the approved link: {created}")
        print(f"ok: {mode}: no elicitation -> approval page -> approved -> {created['id']} returned to the waiting call")


def main() -> None:
    binary = sys.argv[1] if len(sys.argv) > 1 else "target/debug/switchboard"
    for mode in ("legacy", "auto"):
        asyncio.run(flow(binary, mode))
    for mode in ("legacy", "auto"):
        asyncio.run(approval_page_flow(binary, mode))


if __name__ == "__main__":
    main()
