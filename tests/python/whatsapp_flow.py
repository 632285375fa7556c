"""The WhatsApp flow end to end: the official Python MCP SDK (`mcp`) as the agent, headless Chromium as the
customers' phones (tests/browser/whatsapp_flow.mjs, run as a child process), against `switchboard demo`.

1. Asha Rao (a HubSpot contact) types "Hi, can I get the invoice again?" on her phone page. The agent is already
   waiting (wait_for_event, message_received, her phone): the wait returns her message; get_conversation shows
   it; find_leads by phone finds her; the agent drafts a reply and send_whatsapp_message quotes her message. The
   person approves the exact text and recipient in the client (elicitation). The reply appears on her phone,
   quoting her message: ✓✓ delivered (grey) when the phone is first opened after delivery, then blue ✓✓ read;
   the agent hears message_delivered and message_read, and get_conversation says "read".
2. Meera Iyer (not in the CRM) writes; the agent waits for it, find_leads by phone finds nobody, create_lead adds
   her once (approved in the client); create_lead again returns the same contact with created=false and asks
   nobody; find_leads by phone finds exactly one; the phones' index shows her as a HubSpot contact.

Screenshots (target/browser/): phone-typed.png, phone-sent.png, phone-reply-delivered.png, phone-reply-read.png,
phone-meera-sent.png, phone-index.png.

Usage: python tests/python/whatsapp_flow.py path/to/switchboard [legacy|auto ...]  (default: both protocol eras)
(node with playwright-core under $PLAYWRIGHT_CORE_DIR, default target/ci-browser, and /usr/bin/chromium needed).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import mcp_types as types
from mcp import Client

sys.path.insert(0, str(Path(__file__).resolve().parent))
from demo_flow import Demo, fail, structured  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
PHONE_SCRIPT = ROOT / "tests" / "browser" / "whatsapp_flow.mjs"

ASHA_WA, ASHA = "919876500001", "+919876500001"
MEERA_WA, MEERA = "919876543210", "+919876543210"
QUESTION = "Hi, can I get the invoice again?"
REPLY = ("Hi Asha — of course. I've sent invoice SW-2026-0142 (₹45,000.00) again to asha.rao@kaveri-foods.example; "
         "reply here if it doesn't arrive.")
MEERA_SAYS = "Hello! Do you deliver to Pune? I'd like a quote for 200 kg."
BLUE = "rgb(52, 183, 241)"  # .ticks.read on the phone page
STEP_S = 30  # the longest any single step may take


class Phone:
    """tests/browser/whatsapp_flow.mjs: headless Chromium on the sandbox's phone pages, one command at a time."""

    def __init__(self, proc: asyncio.subprocess.Process, base: str) -> None:
        self.proc, self.base, self.next_id = proc, base, 0

    @classmethod
    async def start(cls, base: str) -> Phone:
        env = dict(os.environ, PLAYWRIGHT_CORE_DIR=os.environ.get("PLAYWRIGHT_CORE_DIR", str(ROOT / "target/ci-browser")))
        proc = await asyncio.create_subprocess_exec(
            "node", str(PHONE_SCRIPT), cwd=ROOT, env=env, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
        phone = cls(proc, base)
        if (await phone._line(60)) != {"ready": True}:
            fail("the phone script did not start")
        return phone

    async def _line(self, timeout: float) -> dict:
        line = await asyncio.wait_for(self.proc.stdout.readline(), timeout)
        if not line:
            fail(f"the phone script exited ({await self.proc.wait()})")
        return json.loads(line)

    async def do(self, op: str, **args) -> dict | list:
        self.next_id += 1
        self.proc.stdin.write((json.dumps({"id": self.next_id, "op": op, "base": self.base, **args}) + "\n").encode())
        await self.proc.stdin.drain()
        answer = await self._line(STEP_S)
        if answer.get("id") != self.next_id or not answer.get("ok"):
            fail(f"phone {op} {args}: {answer.get('error', answer)}")
        return answer["result"]

    async def close(self) -> None:
        if self.proc.returncode is None:
            try:
                self.proc.stdin.write(b'{"op": "close"}\n')
                await self.proc.stdin.drain()
                await asyncio.wait_for(self.proc.wait(), 10)
            except (Exception, asyncio.CancelledError):
                self.proc.kill()
                await self.proc.wait()


async def until(what: str, probe, timeout: float = STEP_S, every: float = 0.25):
    """Call `probe` until it answers something truthy; fail with its last answer after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        last = await probe()
        if last:
            return last
        if time.monotonic() > deadline:
            fail(f"timed out after {timeout} s: {what}")
        await asyncio.sleep(every)


async def sandbox_status(demo: Demo, message_id: str, want: str) -> bool:
    """Whether the sandbox's saved state (sandbox.json, replaced atomically on every change) says the phone
    side of `message_id` has reached status `want`."""
    world = json.loads((demo.log.parent / "state" / "sandbox.json").read_text())
    return any(m["id"] == message_id and m["status"] == want for m in world["whatsapp"]["messages"])


def only(items: list, what: str):
    if len(items) != 1:
        fail(f"want exactly one {what}, got {items}")
    return items[0]


async def run(binary: str, mode: str) -> None:
    os.environ["SWITCHBOARD_CONFIRM"] = "elicit"  # the demo's default, pinned against the caller's environment
    with tempfile.TemporaryDirectory(prefix="switchboard-wa-") as tmp:
        demo = Demo(binary, tmp)
        phone = None
        try:
            phone = await Phone.start(demo.mcp_url.rsplit("/mcp", 1)[0])
            await flow(demo, phone, mode)
        except BaseException:
            tail = "\n".join(demo.log.read_text().splitlines()[-80:])
            sys.stderr.write(f"--- demo stderr ({mode}, last 80 lines) ---\n{tail}\n")
            raise
        finally:
            if phone is not None:
                await phone.close()
            demo.stop()


async def flow(demo: Demo, phone: Phone, mode: str) -> None:
    started = time.monotonic()
    marks: dict[str, float] = {}

    def mark(name: str) -> None:
        marks[name] = time.monotonic() - started

    asked: list[str] = []

    async def approve(_context, params):  # the person approves in the client, having read the question
        asked.append(params.message)
        return types.ElicitResult(action="accept", content={"approve": True})

    async with Client(demo.mcp_url, mode=mode, elicitation_callback=approve) as client:
        async def call(tool: str, args: dict) -> dict:
            return structured(await client.call_tool(tool, args))

        # 1. The agent waits for Asha's message before she writes.
        waiting = asyncio.create_task(
            call("wait_for_event", {"kind": "message_received", "customer_phone": ASHA, "timeout_secs": 60}))
        await asyncio.sleep(0.3)
        if waiting.done():
            fail(f"wait_for_event returned before anybody wrote: {waiting.result()}")

        # 2. Asha types on her phone and sends.
        mark("typing")
        shown = await phone.do("write", wa_id=ASHA_WA, text=QUESTION, typed_shot="phone-typed.png",
                               sent_shot="phone-sent.png")
        mine = shown["messages"][-1]
        if shown["customer"] != "Asha Rao" or (mine["direction"], mine["text"]) != ("inbound", QUESTION):
            fail(f"her phone does not show what she sent: {shown}")

        # 3. The wait returns her message.
        waited = await asyncio.wait_for(waiting, STEP_S)
        asha_waited_ms = waited["waited_ms"]
        event = waited["event"]
        if waited["timed_out"] or not event or event["kind"] != "message_received":
            fail(f"wait_for_event did not return her message: {waited}")
        message_id = event["correlation"].get("message_id") or ""
        if event["correlation"]["customer_phone"] != ASHA or message_id != mine["id"] \
                or not message_id.startswith("wamid."):
            fail(f"the event is not about her message {mine['id']}: {event}")

        # 4. The agent reads the conversation and finds her in the CRM.
        convo = await call("get_conversation", {"phone": ASHA})
        last = convo["messages"][-1]
        if (last["direction"], last["message_id"], last["text"]) != ("inbound", message_id, QUESTION) \
                or not convo["window_open"]:
            fail(f"get_conversation does not end with her message, window open: {convo}")
        lead = only((await call("find_leads", {"phone": ASHA}))["leads"], f"lead with phone {ASHA}")
        if lead["name"] != "Asha Rao" or lead["phone"] != ASHA:
            fail(f"find_leads found someone else: {lead}")
        asha = lead["id"]

        # 5. It drafts the reply and sends it quoting her message; the person approves the exact words first.
        sent = await call("send_whatsapp_message", {"to": ASHA, "text": REPLY, "reply_to_message_id": message_id})
        mark("sent")
        question = only(asked, "approval question for the reply")
        if REPLY not in question or ASHA not in question:
            fail(f"the approval question does not show the exact reply and recipient: {question!r}")
        reply_id = sent["message_id"]
        if not reply_id.startswith("wamid.") or sent["approved_via"] != "elicitation" or sent["replayed"] \
                or sent["reply_to"] != message_id or sent["to"] != ASHA or sent["content"] != REPLY:
            fail(f"unexpected send result: {sent}")

        # 6. Delivered: the agent hears it; her phone, opened now, shows the reply quoting her, with grey ✓✓.
        delivered = await call("wait_for_event", {"kind": "message_delivered", "message_id": reply_id,
                                                  "timeout_secs": STEP_S})
        if delivered["timed_out"] or delivered["event"]["correlation"].get("message_id") != reply_id:
            fail(f"no message_delivered for the reply: {delivered}")
        mark("delivered")
        # Switchboard stores the event before it acknowledges the webhook; the phone's ticks follow the
        # acknowledgement. Wait for that in the sandbox's saved state, without opening the phone (which reads it).
        await until("the sandbox recording the reply delivered", lambda: sandbox_status(demo, reply_id, "delivered"))
        shown = await phone.do("view", wa_id=ASHA_WA, shot="phone-reply-delivered.png")
        theirs, reply = shown["messages"][-2:]
        if (reply["id"], reply["direction"], reply["text"], reply["quote"]) != (reply_id, "outbound", REPLY, QUESTION):
            fail(f"her phone does not show the reply quoting her message: {shown}")
        if (reply["ticks"], reply["glyph"]) != ("delivered", "✓✓") or reply["color"] == BLUE:
            fail(f"want grey ✓✓ (delivered) the first time she sees the reply: {reply}")
        if (theirs["id"], theirs["ticks"], theirs["color"]) != (message_id, "read", BLUE):
            fail(f"her own message should show blue ticks once the business replied (marked read): {theirs}")

        # 7. Read: she has seen it, so WhatsApp says read; reloading her phone shows blue ✓✓.
        async def read_on_phone():
            shown = await phone.do("view", wa_id=ASHA_WA)
            reply = next(m for m in shown["messages"] if m["id"] == reply_id)
            return reply["ticks"] == "read" and reply
        reply = await until("blue ticks on her phone", read_on_phone)
        mark("read")
        if reply["glyph"] != "✓✓" or reply["color"] != BLUE:
            fail(f"read ticks are not blue ✓✓: {reply}")
        await phone.do("view", wa_id=ASHA_WA, shot="phone-reply-read.png")
        read = await call("wait_for_event", {"kind": "message_read", "message_id": reply_id, "timeout_secs": STEP_S})
        if read["timed_out"]:
            fail(f"no message_read for the reply: {read}")

        async def read_in_conversation():
            convo = await call("get_conversation", {"phone": ASHA})
            ours = [m for m in convo["messages"] if m["message_id"] == reply_id]
            return ours and ours[0]["status"] == "read" and convo
        convo = await until("get_conversation shows the reply read", read_in_conversation)
        if [(m["direction"], m["text"], m["reply_to"]) for m in convo["messages"][-2:]] != \
                [("inbound", QUESTION, None), ("outbound", REPLY, message_id)]:
            fail(f"the conversation is not her question and our reply to it: {convo}")

        # 8. Meera, not in the CRM, writes; the agent waits for her message.
        waiting = asyncio.create_task(
            call("wait_for_event", {"kind": "message_received", "customer_phone": MEERA, "timeout_secs": 60}))
        await asyncio.sleep(0.3)
        shown = await phone.do("write", wa_id=MEERA_WA, text=MEERA_SAYS, sent_shot="phone-meera-sent.png")
        if shown["customer"] != "Meera Iyer" or shown["messages"][-1]["text"] != MEERA_SAYS:
            fail(f"her phone does not show what she sent: {shown}")
        waited = await asyncio.wait_for(waiting, STEP_S)
        event = waited["event"]
        if waited["timed_out"] or event["correlation"]["customer_phone"] != MEERA \
                or event["correlation"]["message_id"] != shown["messages"][-1]["id"]:
            fail(f"wait_for_event did not return Meera's message: {waited}")
        mark("meera")

        # 9. Nobody in the CRM has her number: she becomes a lead once.
        found = await call("find_leads", {"phone": MEERA})
        if found["leads"] or found["total"] not in (0, None):
            fail(f"Meera is already in the CRM: {found}")
        new = {"phone": MEERA, "first_name": "Meera", "last_name": "Iyer"}
        created = await call("create_lead", new)
        question = only(asked[1:], "approval question for the new lead")
        if "Meera Iyer" not in question or MEERA not in question:
            fail(f"the approval question does not name the new lead and her phone: {question!r}")
        if created["created"] is not True or created["approved_via"] != "elicitation" \
                or created["name"] != "Meera Iyer" or created["phone"] != MEERA or not created["id"]:
            fail(f"create_lead did not create her: {created}")
        again = await call("create_lead", new)
        if again["created"] is not False or again["id"] != created["id"] or again.get("approved_via") is not None:
            fail(f"create_lead again must return the same contact, created=false: {again} (first {created})")
        if len(asked) != 2:
            fail(f"the second create_lead asked again: {asked[2:]}")
        lead = only((await call("find_leads", {"phone": MEERA}))["leads"], f"lead with phone {MEERA}")
        if lead["id"] != created["id"] or lead["name"] != "Meera Iyer":
            fail(f"find_leads after create_lead: {lead} (created {created})")
        mark("lead")

        # 10. The phones' index: both customers in the CRM now, with their last messages.
        rows = {r["name"]: r for r in await phone.do("index", shot="phone-index.png")}
        if rows.get("Meera Iyer", {}).get("crm") != f"HubSpot contact Meera Iyer ({created['id']})" \
                or rows["Meera Iyer"]["last"] != MEERA_SAYS or rows.get("Asha Rao", {}).get("last") != REPLY:
            fail(f"the phones' index: {rows}")
        listed = await call("list_conversations", {})
        phones = {c.get("phone") for c in listed.get("conversations", [])}
        if not {ASHA, MEERA} <= phones:
            fail(f"list_conversations does not list both chats: {listed}")

    mark("done")
    print(f"ok: {mode}: Asha's message typed in Chromium -> wait_for_event (waited {asha_waited_ms} ms) -> "
          f"get_conversation, find_leads -> {asha} -> reply approved in the client -> sent {marks['sent'] - marks['typing']:.1f} s "
          f"after she began typing; her phone: grey ✓✓ delivered +{marks['delivered'] - marks['sent']:.1f} s, blue ✓✓ read "
          f"+{marks['read'] - marks['delivered']:.1f} s (get_conversation: read); Meera: no lead -> create_lead "
          f"{created['id']} (approved), again created=false, same id, not asked; {marks['done']:.1f} s in all")


def main() -> None:
    binary = sys.argv[1] if len(sys.argv) > 1 else "target/debug/switchboard"
    for mode in sys.argv[2:] or ["legacy", "auto"]:
        asyncio.run(run(binary, mode))
    print(f"screenshots in {ROOT / 'target/browser'}: phone-typed.png phone-sent.png phone-reply-delivered.png "
          "phone-reply-read.png phone-meera-sent.png phone-index.png")


if __name__ == "__main__":
    main()
