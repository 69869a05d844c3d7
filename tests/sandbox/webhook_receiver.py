"""A tiny loopback HTTP receiver for webhook tests: records every POST, answers a chosen or scripted status."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    headers: dict
    body: bytes

    @property
    def event(self) -> dict:
        return json.loads(self.body)["event"]


@dataclass
class Receiver:
    """`status` answers every request; `script([503, ...])` queues answers for the next requests first.

    A scripted answer is taken when the request arrives, so a test never races the sender's retries.
    """

    status: int = 200
    received: list[Received] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None
    statuses: list[int] = field(default_factory=list)
    answered: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def script(self, statuses: list[int]) -> Receiver:
        with self.lock:
            self.statuses.extend(statuses)
        return self

    def _answer(self, received: Received) -> int:
        with self.lock:
            status = self.statuses.pop(0) if self.statuses else self.status
            self.received.append(received)
            self.answered.append(status)
        return status

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/hooks/pagerduty/"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                status = receiver._answer(Received(headers=dict(self.headers), body=self.rfile.read(length)))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def events(self, event_type: str | None = None) -> list[Received]:
        return [r for r in self.received if event_type is None or r.event["event_type"] == event_type]
