"""Fixtures for the platform tests: a local webhook receiver."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


class Webhook:
    """A real HTTP server on loopback that records the JSON bodies posted to it."""

    def __init__(self, fail_first: int = 0, delay: float = 0.0) -> None:
        self.received: list[dict] = []
        self.attempts = 0
        self.fail_first = fail_first
        self.delay = delay
        webhook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                webhook.attempts += 1
                if webhook.attempts <= webhook.fail_first:
                    self.send_response(503)
                    self.end_headers()
                    return
                webhook.received.append(json.loads(body))
                time.sleep(webhook.delay)
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/tickets"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    receiver = Webhook(fail_first=1)
    yield receiver
    receiver.close()
