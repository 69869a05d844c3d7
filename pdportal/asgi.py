"""ASGI entry point: uvicorn serves the portal, including the async SSE stream at /live/."""

import asyncio
import concurrent.futures
import functools
import json
import os

from django.conf import settings
from django.core.asgi import get_asgi_application
from django.http.request import split_domain_port, validate_host
from django.utils.module_loading import import_string

from pdportal.pagerduty.webhooks import MAX_BODY_BYTES

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pdportal.settings")

WEBHOOK_PATH = "/hooks/pagerduty/"


def limit_webhook_body(app, *, limit: int, path: str = WEBHOOK_PATH):
    """Answer 413 to an oversized webhook delivery before Django sees it.

    Django's ASGIHandler reads the whole request body into a temporary file before the view runs, so the
    receiver's own size check comes after the upload. This wrapper stops at the declared Content-Length, or as
    soon as the streamed bytes pass `limit`, without reading the rest; a body within the limit is handed on.
    """

    async def reject(send) -> None:
        body = json.dumps({"error": f"Body larger than {limit} bytes."}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def wrapped(scope, receive, send):
        if scope["type"] != "http" or scope.get("path") != path:
            return await app(scope, receive, send)
        for name, value in scope.get("headers") or ():
            if name.lower() == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = None
                if declared is not None and declared > limit:
                    return await reject(send)
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None  # the sender gave up: nobody to answer
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                return await reject(send)
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        replay = [{"type": "http.request", "body": b"".join(chunks), "more_body": False}]

        async def receive_again():
            # The body once, then the real channel (Django listens on it for the client disconnecting).
            return replay.pop() if replay else await receive()

        return await app(scope, receive_again, send)

    return wrapped


# The receiver's own threads: a delivery never queues behind the one thread that Django gives every sync view
# under ASGI (a slow page render must not delay PagerDuty's 2xx), and each thread keeps its database connection.
RECEIVER_THREADS = 2
_receiver_pool = concurrent.futures.ThreadPoolExecutor(RECEIVER_THREADS, thread_name_prefix="webhook-receiver")


def serve_webhooks(app, *, handle, path: str = WEBHOOK_PATH):
    """Answer POSTs to the webhook path without Django's request stack.

    A delivery is authenticated by its HMAC signature alone: sessions, CSRF, messages, the user and template
    middleware have nothing to do for it, and on 2 cores they cost more than the receiver itself. The host is
    still checked against ALLOWED_HOSTS. `handle(body=..., headers=...)` returns (status, JSON-able body); it runs
    on the receiver's threads. Every other request (and any other method on the path) goes to `app`.
    """

    async def answer(send, status: int, payload: dict) -> None:
        body = json.dumps(payload).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def wrapped(scope, receive, send):
        if scope["type"] != "http" or scope.get("path") != path or scope.get("method") != "POST":
            return await app(scope, receive, send)
        headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]}
        domain, _ = split_domain_port(headers.get("host", ""))
        if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
            return await answer(send, 400, {"error": "Host not allowed."})
        chunks = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        loop = asyncio.get_running_loop()
        status, payload = await loop.run_in_executor(
            _receiver_pool, functools.partial(handle, body=b"".join(chunks), headers=headers)
        )
        return await answer(send, status, payload)

    return wrapped


django_application = get_asgi_application()

# Loaded once Django is set up (get_asgi_application above): the receiver named by settings.WEBHOOK_RECEIVER.
application = limit_webhook_body(
    serve_webhooks(django_application, handle=import_string(settings.WEBHOOK_RECEIVER)), limit=MAX_BODY_BYTES
)
