"""The live bus: changes are published as invalidations on Redis pub/sub, and streamed to browsers over SSE.

Publishers (views after a write, the webhook receiver, Celery tasks) call `publish()`. It appends the
invalidation to a bounded Redis stream (for `Last-Event-ID` replay) and publishes it on `CHANNEL`.
Each web process runs ONE subscriber (an asyncio task, started lazily by the first SSE connection)
that fans messages out to a bounded queue per open `/live/` stream. Messages carry ids, never HTML:
pages re-fetch their own partials through ordinary views.

A stream lives only as long as its session: the identity layer registers a check (`set_session_check`) that the
process runs over all its open streams once per heartbeat (one batch, no database connection kept), and a session
ended in the portal is announced on the bus (`announce_session_end`), so its streams are checked before anything
published after it is sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import time
from collections.abc import AsyncIterator, Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import redis.asyncio as aredis
from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.handlers.asgi import ASGIRequest
from django.db import close_old_connections, connections
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from redis.connection import parse_url

from pdportal.redis import breaker, get_fast_redis, get_redis, warn_unavailable

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

logger = logging.getLogger(__name__)

CHANNEL = "pdportal:live"
STREAM = "pdportal:live:stream"
# How many recent invalidations a reconnecting browser can catch up on before it must resync.
STREAM_MAXLEN = 1000
REPLAY_LIMIT = 200
QUEUE_SIZE = 100
# Seconds between heartbeats when settings.LIVE_HEARTBEAT_SECONDS is unset.
HEARTBEAT_SECONDS = 15.0
RETRY_MS = 2000
# Seconds the process subscriber waits before reconnecting to Redis after an error.
RECONNECT_SECONDS = 1.0


@functools.cache
def _channel_for(url: str) -> str:
    # Pub/sub channels are global to a Redis server, unlike keys: portals (or test runs) sharing a server on
    # different database numbers must not hear each other's invalidations.
    db = int(parse_url(url).get("db") or 0) if url.startswith(("redis://", "rediss://")) else 0
    return CHANNEL if db == 0 else f"{CHANNEL}:{db}"


def channel() -> str:
    """The pub/sub channel of this portal: CHANNEL, suffixed with the Redis database number when not 0."""
    return _channel_for(settings.REDIS_URL)


# Who may see each id of a topic. The app that owns a topic registers a resolver (ids -> {id: audience}); it runs
# when publishing, where the database is at hand, and the audience travels with the message: {"t": team pks the
# object is tied to, "p": portal-mirror pks of the people it is assigned to, "a": their PagerDuty ids, "s": its
# services' PagerDuty ids}. A stream sends an id only to a viewer whose scope sees that audience, and never sends
# the audience itself (sent_to_viewer).
AudienceResolver = Callable[[list[str]], dict[str, dict[str, list]]]
_audiences: dict[str, AudienceResolver] = {}


def set_audience(topic: str, resolver: AudienceResolver) -> None:
    _audiences[topic] = resolver


def _audience(topic: str, ids: list[str]) -> dict[str, dict[str, list]] | None:
    try:
        return _audiences[topic](ids)
    except Exception:
        # Unknown audience: restricted viewers get a resync instead (they re-fetch through their scoped views).
        logger.warning("live: could not resolve who may see %s %s", topic, ids[:5], exc_info=True)
        return None


def publish(
    *,
    topic: str,
    ids: Iterable[str] = (),
    event: str = "changed",
    assignees: Iterable[str] = (),
    related: Mapping[str, Iterable[str]] | None = None,
) -> str | None:
    """Tell every open page that `topic` objects (e.g. "incident", "service") with these PagerDuty ids changed.

    `assignees` (PagerDuty user ids) lets a page notify the person an incident is assigned to; `related` names
    other topics' objects whose pages show this change (e.g. {"service": [...]} for a service's open count).
    Call it after the transaction commits. It never raises, and never waits on a hung Redis: every call gives up
    after a quarter of a second, and after a failure Redis is skipped for two seconds (pdportal.redis.breaker), so
    a request that publishes answers on time. A page that misses an invalidation is healed by the reconnect
    resync, while a failed write path would lose the user's action. Returns the stream id, or None.
    """
    if not settings.REDIS_URL:
        return None

    message = {"topic": topic, "ids": sorted(set(ids)), "event": event, "at": time.time()}
    if assignees:
        message["assignees"] = sorted(set(assignees))
    if related:
        message["related"] = {name: sorted(set(values)) for name, values in related.items() if values}
    if message["ids"] and topic in _audiences:
        message["audience"] = _audience(topic, message["ids"])
    if not breaker.available():
        logger.warning("live bus marked unreachable; %s %s not published", topic, event)
        return None
    try:
        client = get_fast_redis()
        # The stream id is the SSE event id, so a reconnecting browser resumes exactly where it stopped.
        stream_id = client.xadd(STREAM, {"m": json.dumps(message)}, maxlen=STREAM_MAXLEN, approximate=True)
        stream_id = stream_id.decode() if isinstance(stream_id, bytes) else str(stream_id)
        client.publish(channel(), json.dumps({"id": stream_id, **message}))
        return stream_id
    except Exception as exc:  # noqa: BLE001 (warn_unavailable keeps the traceback of any other error)
        breaker.failed()
        warn_unavailable(logger, "live bus unreachable; %s %s not published", topic, event, error=exc)
        return None


def announce_session_end(*, user_pk: int) -> None:
    """Tell every web process that a session of this portal user ended: its open streams are checked at once.

    Published on the channel only (no replay entry: it concerns open streams, not pages). Call it after the change
    is committed. Never raises; a lost announcement is caught by the per-heartbeat check.
    """
    if not settings.REDIS_URL:
        return

    if not breaker.available():
        return
    try:
        get_fast_redis().publish(channel(), json.dumps({"session_ended": int(user_pk)}))
    except Exception as exc:  # noqa: BLE001 (warn_unavailable keeps the traceback of any other error)
        breaker.failed()
        warn_unavailable(logger, "live bus unreachable; session end of user %s not announced", user_pk, error=exc)


@dataclass(frozen=True)
class Listener:
    """Whose stream it is: the session it was opened with, and that session's portal user."""

    session_key: str
    user_pk: int


# Which of these listeners still hold a valid session (the identity layer's rule, registered by accounts).
type SessionCheck = Callable[[Collection[Listener]], Collection[Listener]]
_session_check: SessionCheck | None = None


def set_session_check(check: SessionCheck | None) -> None:
    """Register the identity layer's session check (pdportal sits below it, so it is handed in, not imported)."""
    global _session_check
    _session_check = check


class ViewerScope(Protocol):
    """What one viewer may see (accounts.visibility.Scope): everything, or objects by their teams and assignees."""

    @property
    def unrestricted(self) -> bool: ...

    def sees(self, *, team_pks: Collection[int], person_pks: Collection[int]) -> bool: ...


# The viewers' scopes by portal user pk (registered by accounts); None: every viewer sees everything.
type ViewerScopes = Callable[[Collection[int]], Mapping[int, ViewerScope]]
_viewer_scopes: ViewerScopes | None = None


def set_viewer_scopes(scopes: ViewerScopes | None) -> None:
    global _viewer_scopes
    _viewer_scopes = scopes


def _scopes_of(user_pks: Collection[int]) -> Mapping[int, ViewerScope]:
    return _viewer_scopes(user_pks) if _viewer_scopes is not None and user_pks else {}


def sent_to_viewer(message: dict, scope: ViewerScope | None) -> dict | None:
    """The message as this viewer may receive it: the ids it may see (with their assignees and services only), or
    None when it may see none of them. A message without an audience is for everyone; the audience never leaves."""
    if "audience" not in message:
        return message
    message = dict(message)
    audience = message.pop("audience")
    if scope is None or scope.unrestricted or not message.get("ids"):
        return message
    if not isinstance(audience, dict):
        return {"topic": message.get("topic"), "event": "resync", "at": message.get("at")}
    shown = [
        i
        for i in message["ids"]
        if isinstance(audience.get(i), dict) and scope.sees(team_pks=audience[i]["t"], person_pks=audience[i]["p"])
    ]
    if not shown:
        return None
    message["ids"] = shown
    if "assignees" in message:
        allowed = {a for i in shown for a in audience[i]["a"]}
        message["assignees"] = [a for a in message["assignees"] if a in allowed]
    related = message.get("related")
    if isinstance(related, dict) and "service" in related:
        allowed = {s for i in shown for s in audience[i]["s"]}
        kept = {**related, "service": [s for s in related["service"] if s in allowed]}
        message["related"] = {name: values for name, values in kept.items() if values}
        if not message["related"]:
            del message["related"]
    return message


def _valid_listeners(listeners: Collection[Listener]) -> tuple[set[Listener], Mapping[int, ViewerScope]]:
    """Run the registered session check in this worker thread, read the valid viewers' scopes again (their teams may
    have changed), then close its database connections."""
    check = _session_check
    try:
        valid = set(check(listeners)) if check is not None else set(listeners)
    except Exception:
        # The database is unreachable: nobody can end a session meanwhile either (sessions live there), and ending
        # every stream at once would only make every browser reconnect into the same failure.
        logger.warning("live: could not check the sessions of %d open streams", len(listeners), exc_info=True)
        valid = set(listeners)
    try:
        return valid, _scopes_of({listener.user_pk for listener in valid})
    except Exception:
        logger.warning("live: could not read the scopes of %d open streams", len(valid), exc_info=True)
        return valid, {}
    finally:
        _release_db()


def _parse_id(value: str | None) -> tuple[int, int] | None:
    """A Redis stream id ("1700000000000-3") as a comparable tuple, or None when it is not one."""
    if not value:
        return None
    ms, sep, seq = value.strip().partition("-")
    try:
        return (int(ms), int(seq) if sep else 0)
    except ValueError:
        return None


class Connection:
    """One open SSE stream: a bounded queue, a flag set when messages had to be dropped, its session, and
    `ended` once that session is no longer valid (the stream then sends nothing more and closes)."""

    __slots__ = ("ended", "listener", "needs_resync", "queue", "scope")

    def __init__(
        self, size: int = QUEUE_SIZE, *, listener: Listener | None = None, scope: ViewerScope | None = None
    ) -> None:
        self.queue: asyncio.Queue[dict] = asyncio.Queue(maxsize=size)
        self.needs_resync = False
        self.listener = listener
        self.scope = scope  # what its viewer may see (refreshed once per heartbeat); None: everything
        self.ended = False

    def end(self) -> None:
        self.ended = True
        self.offer({"end": True})  # wake the stream now, not at its next heartbeat

    def offer(self, message: dict) -> None:
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:
            # A slow browser must not hold memory or block others: drop the oldest, resync it later.
            with contextlib.suppress(asyncio.QueueEmpty):
                self.queue.get_nowait()
            self.needs_resync = True
            with contextlib.suppress(asyncio.QueueFull):
                self.queue.put_nowait(message)


class Hub:
    """The one Redis subscriber of this process, fanning messages out to every open stream."""

    def __init__(self) -> None:
        self.connections: set[Connection] = set()
        self._task: asyncio.Task | None = None
        self._sweeper: asyncio.Task | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready: asyncio.Event | None = None

    def fan_out(self, message: dict) -> None:
        for conn in list(self.connections):
            conn.offer(message)

    def _mark_all_for_resync(self) -> None:
        for conn in list(self.connections):
            conn.needs_resync = True
            # Wake the stream so it sends the resync now rather than at the next heartbeat.
            conn.offer({"resync": True})

    async def _run(self) -> None:

        first = True
        while True:
            client = aredis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, health_check_interval=30)
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(channel())
                if not first:
                    # Anything published while we were away is lost for this process: every page resyncs.
                    self._mark_all_for_resync()
                first = False
                assert self._ready is not None
                self._ready.set()
                while True:
                    item = await pubsub.get_message(timeout=30.0)
                    if item is None or item.get("type") != "message":
                        continue
                    try:
                        message = json.loads(item["data"])
                    except (TypeError, ValueError):
                        continue
                    if isinstance(message, dict):
                        self.fan_out(message)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 (warn_unavailable keeps the traceback of any other error)
                warn_unavailable(logger, "live bus subscriber lost Redis; reconnecting", error=exc)
                first = False
                await asyncio.sleep(RECONNECT_SECONDS)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
                with contextlib.suppress(Exception):
                    await client.aclose()

    async def check_sessions(self, conns: Iterable[Connection]) -> None:
        """End every one of these streams whose session is no longer valid (one batch check, in a worker thread)."""
        conns = [conn for conn in conns if conn.listener is not None and not conn.ended]
        if not conns:
            return
        listeners = {conn.listener for conn in conns if conn.listener is not None}
        valid, scopes = await sync_to_async(_valid_listeners, thread_sensitive=False)(listeners)
        for conn in conns:
            if conn.listener not in valid:
                conn.end()
            elif conn.listener is not None and conn.listener.user_pk in scopes:
                conn.scope = scopes[conn.listener.user_pk]

    async def _sweep(self) -> None:
        """Once per heartbeat, check the sessions of every open stream of this process."""
        while True:
            await asyncio.sleep(heartbeat_seconds())
            try:
                await self.check_sessions(list(self.connections))
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("live: the session sweep failed")

    async def ensure_started(self, timeout: float = 2.0) -> None:
        """Start the subscriber and the session sweep on the current event loop (once); wait until it listens."""
        loop = asyncio.get_running_loop()
        if self._task is None or self._task.done() or self._loop is not loop:
            self._loop = loop
            self._ready = asyncio.Event()
            self._task = loop.create_task(self._run(), name="pdportal-live-subscriber")
            self._sweeper = loop.create_task(self._sweep(), name="pdportal-live-session-sweep")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._ready.wait(), timeout)

    async def stop(self) -> None:
        for task in (self._task, self._sweeper):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self._task = None
        self._sweeper = None
        self._loop = None

    def register(self, listener: Listener | None = None, scope: ViewerScope | None = None) -> Connection:
        conn = Connection(listener=listener, scope=scope)
        self.connections.add(conn)
        return conn

    def unregister(self, conn: Connection) -> None:
        self.connections.discard(conn)


hub = Hub()


def _frame(*, event: str, data: dict, id: str | None = None) -> str:
    lines = []
    if id:
        lines.append(f"id: {id}")
    lines.append(f"event: {event}")
    lines.append(f"data: {json.dumps(data, separators=(',', ':'))}")
    return "\n".join(lines) + "\n\n"


def heartbeat_seconds() -> float:
    """How often an idle stream sends its named `heartbeat` event (the page's freshness marker counts on it)."""
    return float(getattr(settings, "LIVE_HEARTBEAT_SECONDS", None) or HEARTBEAT_SECONDS)


def _replay_sync(last_event_id: str | None) -> tuple[list[tuple[str, dict]], bool, str | None]:
    """Messages after `last_event_id` from the stream, whether the browser must resync, and the newest id."""

    client = get_redis()
    newest = client.xrevrange(STREAM, count=1)
    newest_id = newest[0][0].decode() if newest else None
    if not last_event_id:
        return [], False, newest_id
    last = _parse_id(last_event_id)
    if last is None:
        return [], True, newest_id
    oldest = client.xrange(STREAM, count=1)
    if not oldest:
        # Redis lost the stream (restart, flush): we cannot know what the browser missed.
        return [], last != (0, 0), newest_id
    oldest_id = _parse_id(oldest[0][0].decode())
    if oldest_id is not None and last < oldest_id:
        # Trimmed past the browser's position: the gap cannot be replayed.
        return [], True, newest_id
    entries = client.xrange(STREAM, min=f"({last[0]}-{last[1]}", count=REPLAY_LIMIT + 1)
    if len(entries) > REPLAY_LIMIT:
        return [], True, newest_id
    out = []
    for raw_id, fields in entries:
        try:
            message = json.loads(fields[b"m"])
        except (KeyError, TypeError, ValueError):
            continue
        out.append((raw_id.decode(), message))
    return out, False, newest_id


def _release_db() -> None:
    """Close this thread's database connections: an idle stream must not hold one for hours."""
    close_old_connections()
    for conn in connections.all(initialized_only=True):
        conn.close()


# Who may listen beyond being signed in. The accounts app installs its rule at start-up ("linked to a PagerDuty
# user", accounts/apps.py); without one, any signed-in person may listen.
ListenerGate = Callable[["AbstractBaseUser"], bool]
_listener_gate: list[ListenerGate] = []


def set_listener_gate(gate: ListenerGate) -> None:
    _listener_gate[:] = [gate]


async def _authorise(request: HttpRequest) -> tuple[HttpResponse | None, Listener | None, ViewerScope | None]:
    """A refusal, or None, the listener (session and user) whose validity the stream follows, and its scope."""
    user = await request.auser()
    if not user.is_authenticated:
        return HttpResponse("Sign in to receive live updates.\n", status=401, content_type="text/plain"), None, None
    if _listener_gate and not await sync_to_async(_listener_gate[0])(user):
        message = "Your sign-in is not linked to a PagerDuty user.\n"
        return HttpResponse(message, status=403, content_type="text/plain"), None, None
    session = getattr(request, "session", None)
    listener = Listener(session_key=session.session_key or "", user_pk=user.pk) if session is not None else None
    scope = (await sync_to_async(_scopes_of)([user.pk])).get(user.pk)
    return None, listener, scope


async def _events(conn: Connection, *, last_event_id: str | None) -> AsyncIterator[str]:
    interval = heartbeat_seconds()
    try:
        yield f"retry: {RETRY_MS}\n\n"
        try:
            replay, resync, newest_id = await sync_to_async(_replay_sync, thread_sensitive=False)(last_event_id)
        except Exception as exc:  # noqa: BLE001 (warn_unavailable keeps the traceback of any other error)
            warn_unavailable(logger, "live bus replay unavailable", error=exc)
            replay, resync, newest_id = [], bool(last_event_id), None
        sent = _parse_id(last_event_id) or (0, 0)
        if resync:
            yield _frame(event="resync", data={"reason": "gap"}, id=newest_id)
            sent = max(sent, _parse_id(newest_id) or (0, 0))
        else:
            for stream_id, message in replay:
                shown = sent_to_viewer(message, conn.scope)
                if shown is not None:
                    yield _frame(event="invalidate", data=shown, id=stream_id)
                sent = max(sent, _parse_id(stream_id) or sent)
            yield _frame(event="ready", data={"heartbeat": interval}, id=newest_id if not replay else None)
            sent = max(sent, _parse_id(newest_id) or (0, 0))
        while True:
            try:
                message = await asyncio.wait_for(conn.queue.get(), timeout=interval)
            except TimeoutError:
                if conn.ended:
                    return
                # A named event, not an SSE comment: browsers never expose comments, and the page must see that
                # the stream is alive to tell "live" from a frozen server whose socket is still open.
                yield _frame(event="heartbeat", data={"at": round(time.time(), 3)})
                continue
            ours = conn.listener is not None and message.get("session_ended") == conn.listener.user_pk
            if ours:
                # A session of this stream's person ended: is it this one? Checked before anything queued after it.
                await hub.check_sessions([conn])
            if conn.ended:
                return  # the session is over: not one more event, and the browser's reconnect is refused
            if "session_ended" in message:
                continue
            if conn.needs_resync:
                conn.needs_resync = False
                # Empty the queue: a resync re-fetches everything anyway.
                while not conn.queue.empty():
                    conn.queue.get_nowait()
                yield _frame(event="resync", data={"reason": "overflow"})
                continue
            if message.get("resync"):
                continue
            message = dict(message)
            stream_id = message.pop("id", None)
            parsed = _parse_id(stream_id)
            if parsed is not None and parsed <= sent:
                continue  # already sent by the replay
            if parsed is not None:
                sent = parsed
            shown = sent_to_viewer(message, conn.scope)
            if shown is not None:
                yield _frame(event="invalidate", data=shown, id=stream_id)
    finally:
        hub.unregister(conn)


@functools.cache
def _warn_not_asgi() -> None:
    logger.warning("/live/ needs the ASGI server (uvicorn pdportal.asgi:application); live updates are off under WSGI")


async def stream(request: HttpRequest) -> HttpResponse:
    """GET /live/: the SSE stream of invalidations for signed-in people."""
    if request.method != "GET":
        return HttpResponse(status=405, headers={"Allow": "GET"})
    if not isinstance(request, ASGIRequest):
        # Under WSGI Django buffers an async stream into a list before sending a byte: nothing would reach
        # the browser, and the never-ending stream would pin a server thread (and block its exit) for ever.
        # 204 is SSE's "do not reconnect"; the pages still work, only without live updates.
        _warn_not_asgi()
        return HttpResponse(status=204)
    denied, listener, scope = await _authorise(request)
    # Session and user lookups are done: from here on this request never touches the database (the session
    # sweep checks every stream of the process in one batch, on its own thread).
    await sync_to_async(_release_db)()
    if denied is not None:
        return denied
    if not settings.REDIS_URL:
        return HttpResponse("The live bus is not configured (REDIS_URL).\n", status=503, content_type="text/plain")
    await hub.ensure_started()
    conn = hub.register(listener, scope)
    last_event_id = request.headers.get("Last-Event-ID") or request.GET.get("last_event_id")
    response = StreamingHttpResponse(_events(conn, last_event_id=last_event_id), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache, no-transform"
    response["X-Accel-Buffering"] = "no"
    return response
