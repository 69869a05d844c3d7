"""The SSE stream /live/: sign-in, retry hint, heartbeats, invalidations, Last-Event-ID replay, resync, no DB held."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import threading
import time

import pytest
from asgiref.sync import sync_to_async
from django.test import AsyncClient

from pdportal import live

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _clean_stream(redis_url):
    from pdportal.redis import get_redis

    get_redis().delete(live.STREAM)
    yield
    get_redis().delete(live.STREAM)


class Stream:
    """An open /live/ response read chunk by chunk (each chunk is one SSE frame or comment)."""

    def __init__(self, response):
        self.response = response
        self._it = response.streaming_content.__aiter__()

    async def next(self, timeout: float = 3.0) -> str:
        chunk = await asyncio.wait_for(self._it.__anext__(), timeout)
        return chunk.decode() if isinstance(chunk, bytes) else chunk

    async def until(self, predicate, timeout: float = 3.0, limit: int = 50) -> list[str]:
        seen = []
        for _ in range(limit):
            seen.append(await self.next(timeout))
            if predicate(seen[-1]):
                return seen
        raise AssertionError(f"not found in {seen}")

    async def close(self) -> None:
        await self._it.aclose()


def _frames(chunks: list[str]) -> list[dict]:
    frames = []
    for chunk in chunks:
        frame = {}
        for line in chunk.strip().splitlines():
            key, _, value = line.partition(": ")
            frame[key] = value
        frames.append(frame)
    return frames


async def _open(user=None, **headers) -> tuple[int, Stream | None, object]:
    client = AsyncClient()
    if user is not None:
        await client.aforce_login(user, backend="django.contrib.auth.backends.ModelBackend")
    response = await client.get("/live/", headers=headers, secure=True)
    if not response.streaming:
        return response.status_code, None, response
    return response.status_code, Stream(response), response


def _run(coro):
    async def wrapper():
        try:
            return await coro
        finally:
            await live.hub.stop()

    # A fresh thread with its own event loop: Playwright's sync API (the browser tests, same session) keeps
    # a loop running in the main thread, where asyncio.run() is refused.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, wrapper()).result()


def test_it_requires_sign_in():
    status, stream, _ = _run(_open())
    assert status == 401
    assert stream is None


def test_it_refuses_a_sign_in_without_a_pagerduty_link(outsider):
    status, _, _ = _run(_open(outsider))
    assert status == 403


def test_it_declines_with_204_under_wsgi_where_the_stream_would_never_be_sent(responder, client):
    # The browser tests' live server speaks WSGI: an endless async stream there pinned a thread for ever
    # and kept the test run from exiting. 204 is SSE's "do not reconnect".
    client.force_login(responder, backend="django.contrib.auth.backends.ModelBackend")
    response = client.get("/live/", secure=True)
    assert response.status_code == 204
    assert not response.streaming
    assert not live.hub.connections


def test_it_sends_a_retry_hint_then_ready_with_the_current_event_id(responder):
    newest = live.publish(topic="incident", ids=["PA"])

    async def scenario():
        status, stream, response = await _open(responder)
        assert status == 200
        assert response["Content-Type"] == "text/event-stream"
        assert response["Cache-Control"].startswith("no-cache")
        first = await stream.next()
        ready = await stream.next()
        await stream.close()
        return first, ready

    first, ready = _run(scenario())
    assert first == f"retry: {live.RETRY_MS}\n\n"
    frame = _frames([ready])[0]
    assert frame["event"] == "ready"
    assert frame["id"] == newest


def test_it_sends_a_named_heartbeat_event_while_idle(responder, settings):
    # A named event, not a comment: EventSource never exposes comments, so a page could not see a dead stream.
    settings.LIVE_HEARTBEAT_SECONDS = 0.05

    async def scenario():
        _, stream, _ = await _open(responder)
        chunks = await stream.until(lambda c: "event: heartbeat" in c)
        await stream.close()
        return chunks

    chunks = _run(scenario())
    ready = _frames([c for c in chunks if "event: ready" in c])[0]
    assert json.loads(ready["data"]) == {"heartbeat": 0.05}  # the page learns the interval it must expect
    assert _frames([chunks[-1]])[0]["event"] == "heartbeat"


def test_the_heartbeat_interval_is_at_most_15_seconds_by_default():
    from django.conf import settings as django_settings

    assert live.heartbeat_seconds() == django_settings.LIVE_HEARTBEAT_SECONDS <= 15


def test_it_streams_a_published_invalidation_with_its_id(responder):
    async def scenario():
        _, stream, _ = await _open(responder)
        await stream.until(lambda c: "event: ready" in c)
        stream_id = await sync_to_async(live.publish, thread_sensitive=False)(
            topic="incident", ids=["PB", "PA"], event="incident.acknowledged", assignees=["PUSR1"]
        )
        chunks = await stream.until(lambda c: "event: invalidate" in c)
        await stream.close()
        return stream_id, chunks[-1]

    stream_id, chunk = _run(scenario())
    frame = _frames([chunk])[0]
    assert frame["id"] == stream_id
    data = json.loads(frame["data"])
    assert data["topic"] == "incident"
    assert data["ids"] == ["PA", "PB"]
    assert data["event"] == "incident.acknowledged"
    assert data["assignees"] == ["PUSR1"]


def test_it_replays_what_was_missed_after_the_last_event_id(responder):
    first = live.publish(topic="incident", ids=["P1"])
    second = live.publish(topic="incident", ids=["P2"])
    third = live.publish(topic="service", ids=["S3"])

    async def scenario():
        _, stream, _ = await _open(responder, **{"Last-Event-ID": first})
        chunks = await stream.until(lambda c: "event: ready" in c)
        await stream.close()
        return chunks

    frames = _frames(_run(scenario())[1:])
    assert [(f.get("id"), f["event"]) for f in frames] == [
        (second, "invalidate"),
        (third, "invalidate"),
        (None, "ready"),
    ]
    assert json.loads(frames[1]["data"])["ids"] == ["S3"]


def test_it_asks_for_a_resync_when_the_gap_cannot_be_replayed(responder, monkeypatch):
    live.publish(topic="incident", ids=["P1"])
    newest = live.publish(topic="incident", ids=["P2"])

    async def scenario(last_id):
        _, stream, _ = await _open(responder, **{"Last-Event-ID": last_id})
        chunks = await stream.until(lambda c: "event: " in c)
        await stream.close()
        return _frames(chunks)[-1]

    # Older than anything the bounded stream still holds: trimmed away.
    frame = _run(scenario("1-0"))
    assert frame["event"] == "resync"
    assert frame["id"] == newest
    # More to replay than a replay may carry.
    monkeypatch.setattr(live, "REPLAY_LIMIT", 1)
    oldest = live.publish(topic="incident", ids=["P3"])
    live.publish(topic="incident", ids=["P4"])
    live.publish(topic="incident", ids=["P5"])
    assert _run(scenario(oldest))["event"] == "resync"
    # Garbage is not a position.
    assert _run(scenario("not-an-id"))["event"] == "resync"


def test_a_slow_reader_drops_the_oldest_and_is_told_to_resync():
    conn = live.Connection(size=2)

    async def scenario():
        for n in range(5):
            conn.offer({"id": f"{n}-0", "topic": "incident", "ids": [str(n)]})
        assert conn.queue.qsize() == 2
        assert conn.needs_resync
        live.hub.connections.add(conn)
        gen = live._events(conn, last_event_id=None)
        chunks = [await gen.__anext__() for _ in range(3)]
        await gen.aclose()
        return chunks

    chunks = _run(scenario())
    assert "event: resync" in chunks[2]
    assert conn not in live.hub.connections


def test_no_database_connection_is_held_while_streaming(responder, monkeypatch, settings):
    # The process's session sweep (once per heartbeat, every stream in one batch) reads the database on a worker
    # thread; it must close what it opened, so an idle stream never holds a connection.
    from django.db import connections

    wrapper = type(connections["default"])
    events: list[tuple[str, int]] = []
    original_ensure, original_close = wrapper.ensure_connection, wrapper.close

    def ensure(self):
        events.append(("open", threading.get_ident()))
        return original_ensure(self)

    def close(self):
        events.append(("close", threading.get_ident()))
        return original_close(self)

    monkeypatch.setattr(wrapper, "ensure_connection", ensure)
    monkeypatch.setattr(wrapper, "close", close)
    settings.LIVE_HEARTBEAT_SECONDS = 0.02

    def publish_like_a_request():
        # The publisher reads who may see the incident, then closes its connections, as a request or task does.
        live.publish(topic="incident", ids=["PX"])
        connections.close_all()

    async def scenario():
        _, stream, _ = await _open(responder)
        await stream.until(lambda c: "event: ready" in c)
        before_stream = list(events)
        events.clear()
        await sync_to_async(publish_like_a_request, thread_sensitive=False)()
        # Heartbeats come every 20 ms here: allow plenty of them while the invalidation crosses Redis.
        await stream.until(lambda c: "event: invalidate" in c, limit=1000)
        await stream.until(lambda c: "event: heartbeat" in c)
        await stream.close()
        await live.hub.stop()
        return before_stream

    def still_open(recorded: list[tuple[str, int]]) -> set[int]:
        last: dict[int, str] = {}
        for kind, thread in recorded:
            last[thread] = kind
        return {thread for thread, kind in last.items() if kind == "open"}

    before_stream = _run(scenario())
    assert any(kind == "open" for kind, _ in before_stream), "the sign-in check reads the session from the database"
    assert not still_open(before_stream), "every thread that used the database closed it before streaming"
    # A check cancelled by hub.stop() still finishes on its thread (closing as it ends): wait for that, then judge.
    deadline = time.monotonic() + 5
    while still_open(list(events)) and time.monotonic() < deadline:
        threading.Event().wait(0.01)
    assert not still_open(list(events)), "a session check closed what it opened"


def test_portals_sharing_a_redis_server_on_different_databases_use_different_channels():
    # Pub/sub ignores database numbers: without this, one portal's pages would refetch on another's changes.
    assert live._channel_for("redis://127.0.0.1:6379/0") == live.CHANNEL
    assert live._channel_for("redis://127.0.0.1:6379") == live.CHANNEL
    assert live._channel_for("redis://127.0.0.1:6379/12") == f"{live.CHANNEL}:12"
    assert live._channel_for("redis://127.0.0.1:6379/12") != live._channel_for("redis://127.0.0.1:6379/13")
