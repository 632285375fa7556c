"""The Notion invoice book end to end: the official Python MCP SDK (`mcp`) as the agent, against `switchboard demo`.

The demo's invoice book is the sandbox's Notion "Invoices" database (Notion's own API, served by the sandbox):
  list_invoices (Notion, status overdue) -> get_invoice -> create_payment_link with invoice_id (the user confirms
  through elicitation; the link's URL is written to the invoice's Notion page) -> the customer pays on the pay page
  (an HTTP form POST) -> wait_for_payment returns -> the write-back worker marks the Notion page Paid: get_invoice
  reads status "paid" AND provider_status "Paid" (the page itself, not an overlay), with the payment id, and the
  sandbox's Notion page for the invoice shows Paid.

Run for both protocol eras: "legacy" (initialize handshake, elicitation/create mid-call) and "auto" (2026-07-28,
confirmation by the input-required round trip).

Usage: python tests/python/notion_flow.py path/to/switchboard [legacy|auto ...]  (default: both eras)
"""

from __future__ import annotations

import asyncio
import html
import re
import sys
import tempfile
import time
from pathlib import Path

import mcp_types as types
from mcp import Client

sys.path.insert(0, str(Path(__file__).resolve().parent))
from demo_flow import DEADLINE_S, Demo, fail, http, structured  # noqa: E402

EMAIL = "asha.rao@kaveri-foods.example"
NUMBER = "INV-2026-0112"  # Asha Rao's overdue invoice in the sandbox's Notion book


def shown(page: str, element_id: str) -> str:
    """The text of the element with this id on a sandbox page ("" if absent)."""
    match = re.search(rf'id="{element_id}"[^>]*>(.*?)</(?:td|strong|h1)>', page, re.S)
    return html.unescape(re.sub(r"<[^>]+>", "", match.group(1))).strip() if match else ""


async def until(what: str, check) -> object:
    """Poll `check` (sync or async) until it returns something truthy, within the deadline."""
    deadline = time.monotonic() + DEADLINE_S
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def flow(binary: str, mode: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        demo = Demo(binary, tmp)
        try:
            await run_flow(demo, mode)
        except BaseException:
            sys.stderr.write(f"--- demo stderr ({mode}, notion) ---\n{demo.log.read_text()}\n")
            raise
        finally:
            demo.stop()


async def run_flow(demo: Demo, mode: str) -> None:
    base = demo.mcp_url.rsplit("/mcp", 1)[0]
    asked: list[str] = []

    async def confirm(_context, params):  # the user says yes
        asked.append(params.message)
        return types.ElicitResult(action="accept", content={"approve": True})

    async with Client(demo.mcp_url, mode=mode, elicitation_callback=confirm) as client:
        if "Notion" not in (client.instructions or ""):
            fail("the sandbox instructions do not mention the Notion invoice book")

        # 1. The overdue invoices come from the Notion book by default.
        listed = structured(await client.call_tool("list_invoices", {"status": "overdue"}))
        if any(i["provider"] != "notion" for i in listed["invoices"]):
            fail(f"list_invoices did not read the Notion book: {listed['invoices']}")
        ashas = [i for i in listed["invoices"] if i["customer"]["email"] == EMAIL]
        if [i["number"] for i in ashas] != [NUMBER]:
            fail(f"want Asha Rao's overdue Notion invoice {NUMBER}, got {listed['invoices']}")
        invoice_id = ashas[0]["id"]

        # 2. The invoice, read from its page.
        invoice = structured(await client.call_tool("get_invoice", {"invoice_id": invoice_id}))
        if (invoice["status"], invoice["provider_status"]) != ("overdue", "Issued"):
            fail(f"want overdue / Issued before payment, got {invoice['status']} / {invoice['provider_status']}")
        due = invoice["amount_due"]
        if (due["minor_units"], due["formatted"], invoice["currency"]) != (4_500_000, "₹45,000.00", "INR"):
            fail(f"unexpected amount due: {due}")
        page_url = invoice["record_url"]
        if not page_url.startswith(f"{base}/sandbox/notion/page/"):
            fail(f"record_url is not the sandbox's Notion page: {page_url}")
        _, page = http(page_url)
        if shown(page, "title") != NUMBER or shown(page, "status") != "Issued" or 'id="overdue"' not in page:
            fail(f"the sandbox page does not show the invoice as issued and overdue: {page[:800]}")

        # 3. A payment link for it; the user confirms, and the link is recorded on the Notion page.
        major = f"{due['minor_units'] // 100}.{due['minor_units'] % 100:02d}"
        created = structured(await client.call_tool("create_payment_link", {
            "amount": major, "currency": "INR", "invoice_id": invoice_id,
            "customer": {"email": EMAIL, "name": "Asha Rao"},
        }))
        if len(asked) != 1 or NUMBER not in asked[0] or "45,000" not in asked[0]:
            fail(f"want one confirmation naming the invoice and amount, got {asked}")
        if created["invoice_id"] != invoice_id or "Notion" not in (created.get("invoice_note") or ""):
            fail(f"the link is not tied to the Notion invoice: {created}")
        link_id, pay_url = created["id"], created["url"]
        await until("the link on the Notion page", lambda: shown(http(page_url)[1], "prop-payment-link") == pay_url)

        # 4. The customer pays.
        status, paid_page = http(pay_url, {"delay_ms": "200"})
        if status != 200 or 'id="paid"' not in paid_page:
            fail(f"paying did not complete: {status} {paid_page[:500]}")

        # 5. The waiting agent returns.
        waited = structured(await client.call_tool("wait_for_payment", {"payment_link_id": link_id, "timeout_secs": 30}))
        if not waited["paid"] or waited["timed_out"] or not (waited["payment_id"] or "").startswith("pay_"):
            fail(f"wait_for_payment did not return the payment: {waited}")
        payment_id = waited["payment_id"]

        # 6. The Notion page itself reads Paid (the write-back worker PATCHed it and recorded that it did), not only
        # Switchboard's overlay of the verified webhook (which shows "paid" with the page update still owed).
        async def page_paid():
            current = structured(await client.call_tool("get_invoice", {"invoice_id": invoice_id}))
            done = current["provider_status"] == "Paid" and not current.get("pending_updates")
            return current if done else None

        invoice = await until("the Notion page to read Paid with nothing owed", page_paid)
        if invoice["status"] != "paid" or invoice["amount_due"]["minor_units"] != 0 or not invoice.get("paid_at"):
            fail(f"the invoice does not read paid in full: {invoice}")
        if invoice.get("payment_url") != pay_url:
            fail(f"the page does not carry the payment link: {invoice}")

        # 7. The sandbox's Notion page shows it to a person, and the book's lists agree.
        _, page = http(page_url)
        if shown(page, "status") != "Paid" or shown(page, "prop-payment-id") != payment_id or 'id="overdue"' in page:
            fail(f"the sandbox Notion page does not show Paid with the payment: {page[:1200]}")
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", shown(page, "prop-paid-at")):
            fail(f"the sandbox Notion page has no Paid At date: {shown(page, 'prop-paid-at')!r}")
        _, home = http(f"{base}/sandbox")
        row = next((r for r in home.split("<tr>") if NUMBER in r), "")
        if 'class="ok">Paid<' not in row:
            fail(f"the sandbox home does not list {NUMBER} as Paid: {row}")
        paid = structured(await client.call_tool("list_invoices", {"customer": EMAIL, "status": "paid"}))
        if NUMBER not in [i["number"] for i in paid["invoices"]]:
            fail(f"list_invoices status=paid does not find {NUMBER}: {paid['invoices']}")
        overdue = structured(await client.call_tool("list_invoices", {"customer": EMAIL, "status": "overdue"}))
        if overdue["invoices"]:
            fail(f"the paid invoice is still listed overdue: {overdue['invoices']}")
        print(f"ok: {mode}: Notion {NUMBER} -> {link_id} -> {payment_id} ({waited['waited_ms']} ms wait) -> "
              f"the Notion page reads Paid")


def main() -> None:
    binary = sys.argv[1] if len(sys.argv) > 1 else "target/debug/switchboard"
    for mode in sys.argv[2:] or ["legacy", "auto"]:
        asyncio.run(flow(binary, mode))


if __name__ == "__main__":
    main()
