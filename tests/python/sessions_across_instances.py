"""One MCP session served by two instances: the official Python MCP SDK, speaking 2025-11-25 (legacy mode, with
`Mcp-Session-Id`), through an HTTP client that sends each request to the other of two `switchboard serve --http`
instances sharing one fresh PostgreSQL database, as a round-robin load balancer without sticky sessions would.

Checks that the session opened on one instance is served by the other (tools/list, a tools/call), that both
instances answered requests of that session, and that after the SDK ends the session (DELETE, on whichever
instance) neither instance serves it.

Needs SWITCHBOARD_TEST_DATABASE_URL (a server where databases may be created; .ci/run sets it) and psql; skips
without them.

Usage: python tests/python/sessions_across_instances.py path/to/switchboard
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client


def fail(message: str) -> None:
    print(f"FAIL  {message}", file=sys.stderr)
    sys.exit(1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def psql(server: str, sql: str) -> None:
    subprocess.run(["psql", server, "-qAtc", sql], check=True, capture_output=True)


class RoundRobin(httpx2.AsyncBaseTransport):
    """Sends each request to the next port in turn, and notes (method, port, status)."""

    def __init__(self, ports: list[int]) -> None:
        self.ports = ports
        self.sent = 0
        self.inner = httpx2.AsyncHTTPTransport()
        self.seen: list[tuple[str, int, int]] = []

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        port = self.ports[self.sent % len(self.ports)]
        self.sent += 1
        request.url = request.url.copy_with(port=port)
        response = await self.inner.handle_async_request(request)
        self.seen.append((request.method, port, response.status_code))
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


def raw_status(port: int, session: str) -> int:
    body = json.dumps({"jsonrpc": "2.0", "id": 9, "method": "tools/list"}).encode()
    headers = {
        "content-type": "application/json",
        "accept": "application/json, text/event-stream",
        "mcp-session-id": session,
        "mcp-protocol-version": "2025-11-25",
    }
    request = urllib.request.Request(f"http://127.0.0.1:{port}/mcp", data=body, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as e:
        return e.code


async def script(ports: list[int]) -> None:
    balancer = RoundRobin(ports)
    sessions: set[str] = set()

    async def remember(response: httpx2.Response) -> None:
        if "mcp-session-id" in response.headers:
            sessions.add(response.headers["mcp-session-id"])

    http = httpx2.AsyncClient(transport=balancer, event_hooks={"response": [remember]}, timeout=30)
    transport = streamable_http_client(f"http://127.0.0.1:{ports[0]}/mcp", http_client=http)
    async with http, Client(transport, mode="legacy") as c:
        if str(c.protocol_version) != "2025-11-25":
            fail(f"negotiated {c.protocol_version}, wanted 2025-11-25 (sessions)")
        for _ in range(3):
            tools = [t.name for t in (await c.list_tools()).tools]
            if "list_events" not in tools:
                fail(f"tools/list without list_events: {tools}")
        result = await c.call_tool("list_events", {})
        if result.is_error:
            fail(f"list_events failed: {result.content}")
    if len(sessions) != 1:
        fail(f"expected one session id, saw {sessions}")
    session = sessions.pop()
    with_session = [(m, p, s) for (m, p, s) in balancer.seen if m != "GET"]
    served = {p for (_, p, s) in with_session if s in (200, 202)}
    if served != set(ports):
        fail(f"both instances should have answered the session's requests: {balancer.seen}")
    if any(s >= 400 for (_, _, s) in with_session):
        fail(f"a request of the session was refused: {balancer.seen}")
    print(f"ok    one session ({session[:8]}…) served by both instances: {with_session}")
    for port in ports:
        if raw_status(port, session) != 404:
            fail(f"the ended session is still served on port {port}")
    print("ok    after the SDK ended it (DELETE), neither instance serves the session")


def main() -> None:
    binary = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "target/debug/switchboard")
    server = os.environ.get("SWITCHBOARD_TEST_DATABASE_URL", "").strip()
    if not server or not shutil.which("psql"):
        print("skip  sessions across instances: SWITCHBOARD_TEST_DATABASE_URL and psql are needed")
        return
    name = f"sb_py_{secrets.token_hex(6)}"
    psql(server, f"CREATE DATABASE {name}")
    url = urllib.parse.urlparse(server)._replace(path=f"/{name}").geturl()
    ports = [free_port(), free_port()]
    processes = []
    try:
        for port in ports:
            env = {
                "PATH": os.environ.get("PATH", ""),
                "DATABASE_URL": url,
                "SWITCHBOARD_DATA_DIR": tempfile.mkdtemp(prefix="sb-sessions-"),
            }
            processes.append(
                subprocess.Popen(
                    [binary, "serve", "--http", f"127.0.0.1:{port}"],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        deadline = time.monotonic() + 30
        for port in ports:
            while True:
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1).read()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        fail(f"the instance on port {port} never answered /healthz")
                    time.sleep(0.1)
        asyncio.run(script(ports))
    finally:
        for p in processes:
            p.terminate()
        for p in processes:
            p.wait(10)
        psql(server, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


if __name__ == "__main__":
    main()
