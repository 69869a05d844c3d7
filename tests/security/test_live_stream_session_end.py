"""Review of issues 11/12: an open live stream (/live/) ends with its session. After sign-out, Disconnect, relink,
switch-off or any session-epoch change it sends no further event and closes within one heartbeat."""

from __future__ import annotations

import asyncio
import concurrent.futures
import time

import pytest
from asgiref.sync import sync_to_async
from django.db.models import F
from django.test import AsyncClient, Client

from accounts import actions
from accounts.clients import revoke_grant
from accounts.models import OAuthGrant, Profile
from pdportal import live

pytestmark = pytest.mark.django_db(transaction=True)

HEARTBEAT = 0.3


@pytest.fixture(autouse=True)
def _short_heartbeat(settings, redis_url):
    from pdportal.redis import get_redis

    settings.LIVE_HEARTBEAT_SECONDS = HEARTBEAT
    get_redis().delete(live.STREAM)
    yield
    get_redis().delete(live.STREAM)


class Stream:
    """An open /live/ response, read frame by frame; `ended` once the server closed it."""

    def __init__(self, response):
        self._it = response.streaming_content.__aiter__()
        self.frames: list[str] = []
        self.ended = False

    async def next(self, timeout: float) -> str | None:
        try:
            chunk = await asyncio.wait_for(self._it.__anext__(), timeout)
        except StopAsyncIteration:
            self.ended = True
            return None
        text = chunk.decode() if isinstance(chunk, bytes) else chunk
        self.frames.append(text)
        return text

    async def until(self, needle: str, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            frame = await self.next(deadline - time.monotonic())
            if frame is None:
                raise AssertionError(f"the stream ended before {needle!r}: {self.frames}")
            if needle in frame:
                return
        raise AssertionError(f"{needle!r} not seen: {self.frames}")

    async def read_until_end(self, timeout: float) -> list[str]:
        """Every frame until the server ends the stream; raises when it is still open after `timeout`."""
        deadline = time.monotonic() + timeout
        after: list[str] = []
        while not self.ended:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"the stream is still open {timeout} s later; it sent {after}")
            try:
                frame = await self.next(left)
            except TimeoutError:
                continue
            if frame is not None:
                after.append(frame)
        return after

    async def close(self) -> None:
        if not self.ended:
            await self._it.aclose()


async def _open(client: AsyncClient) -> Stream:
    response = await client.get("/live/", secure=True)
    assert response.status_code == 200 and response.streaming
    stream = Stream(response)
    await stream.until("event: ready")
    return stream


async def _signed_in(user) -> AsyncClient:
    client = AsyncClient()
    await client.aforce_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


def _run(coro):
    async def wrapper():
        try:
            return await coro
        finally:
            await live.hub.stop()

    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, wrapper()).result()


def _publish_incident() -> str | None:
    return live.publish(topic="incident", ids=["PAFTER"], event="incident.acknowledged")


def _sign_out(client: AsyncClient) -> None:
    browser = Client()
    browser.cookies = client.cookies
    assert browser.post("/accounts/logout/", secure=True).status_code in (200, 302)


def _switch_off(user, admin) -> None:
    actions.portal_login_set_active(actor=admin, user=user, active=False)


def _relink(user, admin) -> None:
    actions.profile_link(user=user, pd_user=admin.profile.pd_user)


def _revoke(user, admin) -> None:
    grant = OAuthGrant.objects.create(
        user=user, access_token="x", refresh_token="", expires_at="2099-01-01T00:00:00Z", scope="read"
    )
    revoke_grant(grant=grant, reason="PagerDuty refused the token")


def _disconnect(user, admin) -> None:
    # What Disconnect PagerDuty does once PagerDuty answered (tests/security/test_disconnect.py covers the revoke).
    actions.sessions_end(user=user)


ENDINGS = {
    "switch-off": _switch_off,
    "relink": _relink,
    "revoked-grant": _revoke,
    "disconnect": _disconnect,
}


def test_signing_out_ends_the_open_stream_before_any_further_event(responder):
    async def scenario():
        client = await _signed_in(responder)
        stream = await _open(client)
        await sync_to_async(_sign_out, thread_sensitive=False)(client)
        await sync_to_async(_publish_incident, thread_sensitive=False)()
        try:
            return await stream.read_until_end(timeout=HEARTBEAT * 2 + 3)
        finally:
            await stream.close()

    after = _run(scenario())
    assert not any("event: invalidate" in frame for frame in after), after


@pytest.mark.parametrize("ending", list(ENDINGS))
def test_a_session_ending_in_the_portal_ends_the_open_stream_before_any_further_event(responder, admin, ending):
    async def scenario():
        client = await _signed_in(responder)
        stream = await _open(client)
        await sync_to_async(ENDINGS[ending], thread_sensitive=False)(responder, admin)
        await sync_to_async(_publish_incident, thread_sensitive=False)()
        try:
            return await stream.read_until_end(timeout=HEARTBEAT * 2 + 3)
        finally:
            await stream.close()

    after = _run(scenario())
    assert not any("event: invalidate" in frame for frame in after), after


def test_an_epoch_changed_outside_the_portal_ends_the_stream_within_one_heartbeat(responder):
    # Straight in the database: no announcement on the bus, so only the stream's own check can see it.
    async def scenario():
        client = await _signed_in(responder)
        stream = await _open(client)
        await sync_to_async(
            lambda: Profile.objects.filter(user=responder).update(session_epoch=F("session_epoch") + 1),
            thread_sensitive=False,
        )()
        changed = time.monotonic()
        try:
            after = await stream.read_until_end(timeout=HEARTBEAT * 2 + 3)
        finally:
            await stream.close()
        return after, time.monotonic() - changed

    after, took = _run(scenario())
    assert not any("event: invalidate" in frame for frame in after), after
    # One heartbeat, plus the check itself on a loaded machine.
    assert took < HEARTBEAT + 1.5, took


def test_another_session_of_the_same_person_keeps_its_stream(responder):
    async def scenario():
        leaving, staying = await _signed_in(responder), await _signed_in(responder)
        kept = await _open(staying)
        await sync_to_async(_sign_out, thread_sensitive=False)(leaving)
        await sync_to_async(_publish_incident, thread_sensitive=False)()
        try:
            await kept.until("event: invalidate")
            await kept.until("event: heartbeat", timeout=HEARTBEAT * 4 + 3)  # still open after a check
        finally:
            await kept.close()
        return kept.ended

    assert _run(scenario()) is False
