"""The ASGI body limit on the webhook receiver: oversized deliveries get 413 before the rest is read."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json

import pytest

from incidents.webhooks import MAX_BODY_BYTES
from pdportal import asgi

CHUNK = 64 * 1024


def _scope(path: str = "/hooks/pagerduty/", headers: list | None = None) -> dict:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers or [(b"host", b"testserver"), (b"content-type", b"application/json")],
        "server": ("testserver", 80),
        "client": ("127.0.0.1", 50000),
    }


class Upload:
    """A fake ASGI `receive`: `count` chunks of CHUNK bytes, counting how many were read."""

    def __init__(self, count: int, size: int = CHUNK):
        self.count, self.size, self.read = count, size, 0

    async def __call__(self) -> dict:
        if self.read >= self.count:
            await asyncio.sleep(30)  # nothing more: a real server would wait for the client
            return {"type": "http.disconnect"}
        self.read += 1
        return {"type": "http.request", "body": b"x" * self.size, "more_body": self.read < self.count}


def _call(app, scope: dict, receive) -> list[dict]:
    sent: list[dict] = []

    async def send(message: dict) -> None:
        sent.append(message)

    async def main() -> None:
        await asyncio.wait_for(app(scope, receive, send), 10)

    # A fresh thread with its own event loop: the browser tests keep a loop running in the main thread.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, main()).result()
    return sent


def _status(sent: list[dict]) -> int:
    return next(m["status"] for m in sent if m["type"] == "http.response.start")


def test_it_answers_413_to_a_streamed_oversized_webhook_without_reading_the_rest():
    upload = Upload(count=40)  # 2.5 MiB, no Content-Length (chunked)
    sent = _call(asgi.application, _scope(), upload)
    assert _status(sent) == 413
    assert upload.read == MAX_BODY_BYTES // CHUNK + 1  # the first chunk past the limit, and not one more
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    assert json.loads(body) == {"error": f"Body larger than {MAX_BODY_BYTES} bytes."}


def test_it_answers_413_to_a_declared_oversized_webhook_before_reading_anything():
    upload = Upload(count=40)
    headers = [(b"host", b"testserver"), (b"content-length", str(40 * CHUNK).encode())]
    sent = _call(asgi.application, _scope(headers=headers), upload)
    assert _status(sent) == 413
    assert upload.read == 0


@pytest.mark.parametrize("count, size", [(4, CHUNK), (1, MAX_BODY_BYTES), (1, 0)])
def test_it_hands_a_body_within_the_limit_to_the_app_whole(count, size):
    seen: dict = {}

    async def app(scope, receive, send):
        first = await receive()
        seen["body"], seen["more"] = first["body"], first["more_body"]
        await send({"type": "http.response.start", "status": 202, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    sent = _call(asgi.limit_webhook_body(app, limit=MAX_BODY_BYTES), _scope(), Upload(count=count, size=size))
    assert _status(sent) == 202
    assert seen == {"body": b"x" * (count * size), "more": False}


def test_it_leaves_other_paths_to_django():
    calls: list[str] = []

    async def app(scope, receive, send):
        calls.append(scope["path"])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    upload = Upload(count=40)
    sent = _call(asgi.limit_webhook_body(app, limit=MAX_BODY_BYTES), _scope(path="/incidents/new/"), upload)
    assert _status(sent) == 200
    assert calls == ["/incidents/new/"]
    assert upload.read == 0  # the wrapper did not touch the body
