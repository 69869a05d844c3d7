"""pdportal.asgi.serve_webhooks: webhook POSTs are answered before Django's request stack, on the receiver's
threads; the host is still checked, and everything else goes to Django."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import threading

from pdportal import asgi


def _scope(method: str = "POST", host: bytes = b"127.0.0.1:8000", path: str = "/hooks/pagerduty/") -> dict:
    return {
        "type": "http",
        "method": method,
        "path": path,
        "headers": [(b"host", host), (b"X-PagerDuty-Signature", b"v1=abc"), (b"x-webhook-id", b"wh-1")],
    }


def _call(app, scope: dict, body: bytes = b"{}") -> tuple[int, dict]:
    sent: list[dict] = []
    chunks = [{"type": "http.request", "body": body[:1], "more_body": True}, {"type": "http.request", "body": body[1:]}]

    async def receive() -> dict:
        return chunks.pop(0)

    async def send(message: dict) -> None:
        sent.append(message)

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, app(scope, receive, send)).result(timeout=10)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    payload = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, json.loads(payload) if payload else {}


def _django(calls: list):
    async def app(scope, receive, send):
        calls.append(scope["method"])
        await send({"type": "http.response.start", "status": 405, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    return app


def test_a_delivery_is_handled_on_a_receiver_thread_with_its_whole_body_and_headers(settings):
    settings.ALLOWED_HOSTS = ["127.0.0.1"]
    seen = {}

    def handle(*, body: bytes, headers: dict) -> tuple[int, dict]:
        seen.update(body=body, signature=headers.get("x-pagerduty-signature"), thread=threading.current_thread().name)
        return 202, {"status": "accepted"}

    calls: list = []
    status, payload = _call(asgi.serve_webhooks(_django(calls), handle=handle), _scope(), b'{"event": {}}')
    assert (status, payload) == (202, {"status": "accepted"})
    assert seen["body"] == b'{"event": {}}'
    assert seen["signature"] == "v1=abc"
    assert seen["thread"].startswith("webhook-receiver")
    assert calls == []  # Django never saw it


def test_a_delivery_to_a_host_not_allowed_is_refused_without_running_the_receiver(settings):
    settings.ALLOWED_HOSTS = ["portal.example.com"]

    def handle(**kwargs):
        raise AssertionError("the receiver must not run")

    status, payload = _call(asgi.serve_webhooks(_django([]), handle=handle), _scope(host=b"evil.example"))
    assert status == 400
    assert payload == {"error": "Host not allowed."}


def test_other_methods_and_paths_go_to_django(settings):
    settings.ALLOWED_HOSTS = ["127.0.0.1"]
    calls: list = []
    app = asgi.serve_webhooks(_django(calls), handle=lambda **kwargs: (202, {}))
    assert _call(app, _scope(method="GET"))[0] == 405
    assert _call(app, _scope(path="/incidents/"))[0] == 405
    assert calls == ["GET", "POST"]
