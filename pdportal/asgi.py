"""ASGI entry point: uvicorn serves the portal, including the async SSE stream at /live/."""

import json
import os

from django.core.asgi import get_asgi_application

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


django_application = get_asgi_application()

# Imported once Django is set up (get_asgi_application above): the receiver's own limit, one constant.
from incidents.webhooks import MAX_BODY_BYTES  # noqa: E402

application = limit_webhook_body(django_application, limit=MAX_BODY_BYTES)
