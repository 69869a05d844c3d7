"""The receiver's framework ceilings: bare endpoints that only check the signature and answer 204.

Served by a uvicorn process of the measured checkout with DJANGO_SETTINGS_MODULE=bench.ceiling (this module is
also that settings module's URLconf): `/bench/bare/` is a sync Django view behind the whole middleware stack,
the way a Django receiver is served; `/bench/bare-asgi/` is answered before Django, the way this checkout's
receiver is (pdportal.asgi). Everything else is the checkout's own application.
"""

from __future__ import annotations

import os

from pdportal.settings import *  # noqa: F403 - the measured checkout's settings, with one URLconf added

ROOT_URLCONF = "bench.ceiling_urls"
BARE_PATH = "/bench/bare/"
BARE_ASGI_PATH = "/bench/bare-asgi/"


def _secrets() -> list[str]:
    return [s for s in os.environ.get("PAGERDUTY_WEBHOOK_SECRETS", "").split(",") if s]


def signed(body: bytes, header: str | None) -> bool:
    from pdportal.pagerduty.webhooks import verify_signature

    return verify_signature(body=body, header=header, secrets=_secrets())


def application_for_uvicorn():
    """uvicorn --factory bench.ceiling:application_for_uvicorn"""
    from pdportal.asgi import application as portal

    async def app(scope, receive, send):
        if scope["type"] != "http" or scope.get("path") != BARE_ASGI_PATH:
            return await portal(scope, receive, send)
        chunks = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        header = next((v.decode("latin-1") for k, v in scope["headers"] if k.lower() == b"x-pagerduty-signature"), None)
        status = 204 if signed(b"".join(chunks), header) else 403
        await send({"type": "http.response.start", "status": status, "headers": [(b"content-length", b"0")]})
        await send({"type": "http.response.body", "body": b""})
        return None

    return app
