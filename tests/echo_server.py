"""A system for the seeded-secrets test that hands every secret it gets back: it prints its
environment, its arguments and each request's headers to its log, and echoes each request's
query, cookie and keys in its answers and its errors.

    python echo_server.py --role legacy|new|helper --port N

legacy and new answer /ready, /health*, /api/*; helper is everything else the config points at (a
second legacy instance for noise, a metrics endpoint, a traffic admin API, a rollback webhook),
which fails when a file FAIL sits next to the config (as new's health and answers then do).
"""

from __future__ import annotations

import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

ROLE = sys.argv[sys.argv.index("--role") + 1]
PORT = int(sys.argv[sys.argv.index("--port") + 1])
METRICS = "demo_db_in_use 1\ndemo_db_max 10\n"


def failing() -> bool:
    return os.path.exists("FAIL")


class Echo(BaseHTTPRequestHandler):
    def answer(self, status: int, document: object, kind: str = "application/json") -> None:
        body = (document if isinstance(document, str) else json.dumps(document)).encode()
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        print(f"{ROLE} {self.command} {self.path} {dict(self.headers)}", flush=True)
        url = urlsplit(self.path)
        broken = failing() and ROLE != "legacy"
        if url.path == "/ready":
            self.answer(200, {"ready": True})
        elif url.path.startswith("/health"):
            self.answer(500 if broken else 200, {"status": "ok", "version": "1.0"})
        elif url.path.startswith("/api/"):
            echoed = {
                "path": url.path,
                "query": dict(parse_qsl(url.query)),
                "cookie": self.headers.get("Cookie"),
                "api_key": self.headers.get("X-Api-Key"),
                "side_token": self.headers.get("X-Side-Token"),
            }
            if broken and ROLE == "new":
                echoed["side"] = "new"
            self.answer(200, echoed)
        elif url.path == "/metrics" and not broken:
            self.answer(200, METRICS, "text/plain; version=0.0.4")
        else:
            self.refuse()

    def do_POST(self) -> None:
        print(f"{ROLE} {self.command} {self.path} {dict(self.headers)}", flush=True)
        self.refuse()

    def refuse(self) -> None:
        """An admin API that is down says what it was asked, credentials and all."""
        key = self.headers.get("X-Admin-Key") or self.headers.get("Authorization")
        self.answer(503, {"error": f"cannot {self.command} {self.path} (key {key})"})

    def log_message(self, *_args: object) -> None:
        pass


if __name__ == "__main__":
    print(f"{ROLE} starting: SERVICE_CONFIG={os.environ.get('SERVICE_CONFIG')}", flush=True)
    print(f"{ROLE} arguments: {sys.argv[1:]}", flush=True)
    ThreadingHTTPServer(("127.0.0.1", PORT), Echo).serve_forever()
