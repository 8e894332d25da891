"""Webhook receivers on loopback for the delivery tests: one that answers with scripted
statuses and records each request's headers, and one that trickles its answer byte by byte."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from integrations_pipeline.db.engine import engine
from integrations_pipeline.db.outbox import OutboxRow


class Receiver:
    """Records every request (headers and body); answers 500 to the first ``fail_each``
    attempts at each Idempotency-Key, then 200.

    ``on_request(receiver)`` runs when a request has been read, before the answer.
    """

    def __init__(self, fail_each: int = 0, on_request: Callable[[Receiver], None] | None = None):
        self.requests: list[tuple[dict[str, str], dict[str, Any]]] = []
        self.fail_each = fail_each
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                with receiver.lock:
                    receiver.requests.append((dict(self.headers.items()), body))
                    seen = receiver.keys(body["type"]).count(self.headers.get("Idempotency-Key", ""))
                    status = 500 if seen <= receiver.fail_each else 200
                if on_request is not None:
                    on_request(receiver)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def keys(self, kind: str) -> list[str]:
        """The Idempotency-Key of every attempt at payloads of type ``kind``."""
        return [h.get("Idempotency-Key", "") for h, body in self.requests if body["type"] == kind]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 40\r\n\r\n" + b"x" * 40


class TricklingReceiver:
    """Reads each request, then sends its answer one byte every ``every`` seconds: every read
    gets data well within a per-read timeout, and the whole answer takes ~30 s.
    ``body_only``: the status line and headers come at once, the body trickles."""

    def __init__(self, every: float = 0.4, body_only: bool = False) -> None:
        self.every, self.body_only = every, body_only
        self.requests = 0
        self.lock = threading.Lock()
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/hook"
        self.closed = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.closed.is_set():
            try:
                connection, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(connection,), daemon=True).start()

    def _answer(self, connection: socket.socket) -> None:
        with connection:
            data = b""
            while b"\r\n\r\n" not in data:
                data += connection.recv(65536)
            head, _, body = data.partition(b"\r\n\r\n")
            length = next(
                int(line.split(b":")[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length")
            )
            while len(body) < length:
                body += connection.recv(65536)
            with self.lock:
                self.requests += 1
            self._trickle(connection)

    def _trickle(self, connection: socket.socket) -> None:
        start = ANSWER.index(b"\r\n\r\n") + 4 if self.body_only else 0
        try:
            connection.sendall(ANSWER[:start])
            for byte in ANSWER[start:]:
                if self.closed.wait(self.every) or _hung_up(connection):
                    return
                connection.sendall(bytes([byte]))
        except OSError:
            return  # the client hung up: what a deadline does

    def close(self) -> None:
        self.closed.set()
        self.sock.close()


def _hung_up(connection: socket.socket) -> bool:
    try:
        return connection.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False


def outbox_rows(url: str | None = None) -> list[OutboxRow]:
    with Session(engine(url), expire_on_commit=False) as session:
        return list(session.scalars(select(OutboxRow).order_by(OutboxRow.created_at)))


def wait_delivered(url: str | None = None, timeout: float = 20.0) -> list[OutboxRow]:
    """Wait until every payload in the outbox was delivered; returns the rows."""
    deadline = time.monotonic() + timeout
    while True:
        rows = outbox_rows(url)
        if all(r.delivered_at is not None for r in rows):
            return rows
        if time.monotonic() > deadline:
            raise AssertionError(f"not delivered within {timeout} s: {[(r.id, r.result) for r in rows]}")
        time.sleep(0.05)
