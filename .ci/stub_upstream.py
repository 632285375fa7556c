#!/usr/bin/env python3
"""A tiny fake Razorpay for the CI smoke test (stdlib only).

Usage: stub_upstream.py [PORT] [FIXTURE_DIR]

Binds 127.0.0.1:PORT (0 or absent = any free port) and prints the chosen port as the
first line on stdout. Request logs go to stderr.

Routes (all need an `Authorization: Basic ...` header, else 401 + error_auth.json):
  GET /v1/invoices/<id>  -> invoice_issued.json when <id> is that fixture's id,
                            else 400 + error_not_found.json (Razorpay reports "not found" as 400)
  GET /v1/invoices       -> invoices_list.json (query string ignored)
  anything else          -> 404 + error_not_found.json
"""

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

DEFAULT_FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "razorpay"


def load(fixtures: Path, name: str) -> bytes:
    return (fixtures / name).read_bytes()


def make_handler(fixtures: Path):
    issued = load(fixtures, "invoice_issued.json")
    issued_id = json.loads(issued)["id"]
    listing = load(fixtures, "invoices_list.json")
    not_found = load(fixtures, "error_not_found.json")
    auth_error = load(fixtures, "error_auth.json")

    class Handler(BaseHTTPRequestHandler):
        server_version = "stub-razorpay/1"
        protocol_version = "HTTP/1.1"

        def send_json(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802 (http.server naming)
            auth = self.headers.get("Authorization", "")
            if not auth.startswith("Basic ") or len(auth) <= len("Basic "):
                self.send_json(401, auth_error)
                return
            path = urlsplit(self.path).path.rstrip("/")
            if path == "/v1/invoices":
                self.send_json(200, listing)
            elif path.startswith("/v1/invoices/"):
                invoice_id = unquote(path[len("/v1/invoices/"):])
                if invoice_id == issued_id:
                    self.send_json(200, issued)
                else:
                    self.send_json(400, not_found)
            else:
                self.send_json(404, not_found)

        def log_message(self, fmt: str, *args) -> None:
            sys.stderr.write("stub_upstream: %s\n" % (fmt % args))

    return Handler


def main() -> None:
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    fixtures = Path(sys.argv[2]) if len(sys.argv) > 2 else DEFAULT_FIXTURES
    server = ThreadingHTTPServer(("127.0.0.1", port), make_handler(fixtures))
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
