"""Live updates across processes: a change in the sandbox reaches two open pages served by different processes.

The portal runs as subprocesses (`uvicorn --workers 2` on PORTAL_URL, where webhooks land, plus a separate
single-worker uvicorn on another port; one file SQLite database, the session's Redis), synced from the sandbox,
with the webhook subscription registered by the portal itself (pointing at PORTAL_URL).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port

pytestmark = [pytest.mark.browser, pytest.mark.sandbox, pytest.mark.timeout(300)]

REPO = Path(__file__).resolve().parents[2]
RESPONDER_EMAIL = "responder@example.com"
ADMIN_EMAIL = "admin@example.com"

SESSION_SCRIPT = """
import django
django.setup()
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from tests.personas import make_portal_user

user = make_portal_user(email="%s")
user.profile.notify_desktop = True
user.profile.save(update_fields=["notify_desktop"])
session = SessionStore()
session[SESSION_KEY] = str(user.pk)
session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
session[HASH_SESSION_KEY] = user.get_session_auth_hash()
session.create()
print(session.session_key)
"""


@dataclass
class Portal:
    url: str
    session_key: str
    process: subprocess.Popen | None
    start: object  # () -> subprocess.Popen: (re)starts uvicorn on the same port
    run: dict | None = None  # subprocess.run() keywords for commands against this portal's database and Redis
    other_url: str = ""  # a second server process sharing the database and Redis, not receiving webhooks
    other_process: subprocess.Popen | None = None

    def python(self, script: str) -> str:
        """Run a script as the portal would (its settings, database and Redis); returns its last output line."""
        done = subprocess.run([sys.executable, "-c", script], **self.run)
        return done.stdout.decode().strip().splitlines()[-1] if done.stdout.strip() else ""

    def crash_and_restart(self, pause: float) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        time.sleep(pause)
        self.process = self.start()  # start() stops what it started if the portal does not come up


def _stop_group(process: subprocess.Popen | None, sig: int = signal.SIGTERM) -> None:
    """Stop a process started in its own session, and everything in its group (uvicorn's workers)."""
    if process is None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    # The leader may be gone while a worker of its group lingers: make sure of the whole group.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def _wait_http(url: str, process: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"portal exited with {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"portal did not answer {url}:\n{log.read_text()}")


@pytest.fixture(scope="module")
def portal(sandbox, redis_url, tmp_path_factory):
    sandbox.reset()
    workdir = tmp_path_factory.mktemp("portal")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PAGERDUTY_", "CELERY_", "DATABASE_URL"))}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "pdportal.settings",
            "DATABASE_URL": f"sqlite:///{workdir / 'portal.sqlite3'}",
            "REDIS_URL": redis_url,
            "PORTAL_URL": url,
            "PAGERDUTY_API_URL": sandbox.url,
            "PAGERDUTY_EVENTS_URL": sandbox.url,
            "PAGERDUTY_OAUTH_URL": sandbox.url,
            "PAGERDUTY_API_TOKEN": sandbox.api_token,
            "PAGERDUTY_WEBHOOKS": "on",  # the sandbox delivers to 127.0.0.1, which PagerDuty could not
            "DEBUG": "1",
            "HTTPS": "0",
            "PYTHONPATH": str(REPO),
        }
    )
    run = {"cwd": REPO, "env": env, "check": True, "capture_output": True, "timeout": 180}
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], **run)
    log = workdir / "uvicorn.log"

    def uvicorn(on_port: int, workers: int) -> list[str]:
        return [
            sys.executable,
            "-m",
            "uvicorn",
            "pdportal.asgi:application",
            "--workers",
            str(workers),
            "--host",
            "127.0.0.1",
            "--port",
            str(on_port),
            "--no-access-log",
            "--timeout-graceful-shutdown",
            "2",
        ]

    def launch(on_port: int, workers: int) -> subprocess.Popen:
        with open(log, "ab") as out:
            process = subprocess.Popen(
                uvicorn(on_port, workers),
                cwd=REPO,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            _wait_http(f"http://127.0.0.1:{on_port}/healthz", process, log)
        except BaseException:
            _stop_group(process, signal.SIGKILL)  # not up: the caller never gets it, so nobody else would
            raise
        return process

    def start() -> subprocess.Popen:
        return launch(port, 2)

    portal = Portal(url=url, session_key="", process=None, start=start, run=run)
    # A second, separate server process on another port: webhooks land on the first (PORTAL_URL), so a page
    # served here can only learn of them through the Redis bus.
    other_port = free_port()
    portal.other_url = f"http://127.0.0.1:{other_port}"
    try:
        portal.process = start()
        portal.other_process = launch(other_port, 1)
        # The portal's own start-up path: initial sync, then the subscription pointing at this portal.
        subprocess.run([sys.executable, "-m", "pdportal.devserver", "bootstrap"], **run)
        portal.session_key = portal.python(SESSION_SCRIPT % RESPONDER_EMAIL)
        yield portal
    finally:
        _stop_group(portal.process)
        _stop_group(portal.other_process)
        sandbox.reset()


def _signed_in_page(chromium, portal: Portal):
    context = chromium.new_context()
    context.add_cookies([{"name": "sessionid", "value": portal.session_key, "url": portal.url}])
    page = context.new_page()
    page.set_default_timeout(15_000)
    return context, page


def _open_incident(sandbox) -> dict:
    response = sandbox.get("/incidents", params={"statuses[]": "triggered", "limit": 1, "sort_by": "created_at:desc"})
    response.raise_for_status()
    return response.json()["incidents"][0]


def _poll(page, expression: str, predicate, timeout: float = 5.0):
    """Evaluate `expression` until `predicate` holds (wait_for_function would need eval, which CSP forbids)."""
    deadline = time.monotonic() + timeout
    while True:
        value = page.evaluate(expression)
        if predicate(value) or time.monotonic() > deadline:
            return value
        page.wait_for_timeout(50)


def _wait_live(page) -> None:
    page.wait_for_selector("#live-status[data-state=live]", timeout=15_000)


def test_a_change_in_pagerduty_reaches_two_open_pages_without_reload(chromium, portal, sandbox):
    from playwright.sync_api import expect

    incident = _open_incident(sandbox)
    pd_id = incident["id"]
    ctx_a, detail = _signed_in_page(chromium, portal)
    ctx_b, listing = _signed_in_page(chromium, portal)
    try:
        detail.goto(f"{portal.url}/incidents/{pd_id}/")
        # The list is served by the other process: it hears of the webhook only through Redis.
        listing.goto(f"{portal.other_url}/?status=triggered&status=acknowledged")
        expect(detail.locator("#incident-status")).to_have_text("triggered")
        expect(listing.locator(f"#incident-row-{pd_id}")).to_contain_text("triggered")
        _wait_live(detail)
        _wait_live(listing)
        for page in (detail, listing):
            page.evaluate("window.__notReloaded = true")
        # Someone is picking rows for a bulk action: the refresh must not drop the selection.
        other = listing.locator(f"#incident-table input.row-select:not([value={pd_id}])").first
        other_id = other.get_attribute("value")
        other.check()

        response = sandbox.put(
            f"/incidents/{pd_id}",
            headers={"From": "admin@example.com"},
            json={"incident": {"type": "incident_reference", "status": "acknowledged"}},
        )
        assert response.status_code == 200, response.text

        expect(detail.locator("#incident-status")).to_have_text("acknowledged", timeout=2_000)
        expect(listing.locator(f"#incident-row-{pd_id}")).to_contain_text("acknowledged", timeout=2_000)
        expect(listing.locator(f"#incident-table input.row-select[value={other_id}]")).to_be_checked()
        assert detail.evaluate("window.__notReloaded") is True
        assert listing.evaluate("window.__notReloaded") is True

        # Resolved incidents leave a list filtered to open ones, still without a reload.
        response = sandbox.put(
            f"/incidents/{pd_id}",
            headers={"From": "admin@example.com"},
            json={"incident": {"type": "incident_reference", "status": "resolved"}},
        )
        assert response.status_code == 200, response.text
        expect(listing.locator(f"#incident-row-{pd_id}")).to_have_count(0, timeout=2_000)
        expect(detail.locator("#incident-status")).to_have_text("resolved", timeout=2_000)
        assert listing.evaluate("window.__notReloaded") is True
    finally:
        ctx_a.close()
        ctx_b.close()


def test_open_live_pages_cost_pagerduty_nothing(chromium, portal, sandbox):
    ctx_a, first = _signed_in_page(chromium, portal)
    ctx_b, second = _signed_in_page(chromium, portal)
    try:
        first.goto(f"{portal.url}/")
        second.goto(f"{portal.url}/incidents/{_open_incident(sandbox)['id']}/")
        _wait_live(first)
        _wait_live(second)
        browser_requests: list[str] = []
        for page in (first, second):
            page.on("request", lambda request: browser_requests.append(request.url))
        sandbox.clear_log()
        # The window: 60 s. pd-live would have polled 12 times per page in it, GoAlert 17 times.
        first.wait_for_timeout(60_000)
        assert sandbox.requests_log() == []
        assert browser_requests == []  # no polling of the portal either: one SSE stream per page
        assert first.locator("#live-status").get_attribute("data-state") == "live"
    finally:
        ctx_a.close()
        ctx_b.close()


FAKE_NOTIFICATION = """
window.__notes = [];
window.Notification = class {
  constructor(title, options) { window.__notes.push({title: title, body: options.body, tag: options.tag}); }
  static get permission() { return "granted"; }
  static requestPermission() { return Promise.resolve("granted"); }
};
"""


def test_an_incident_triggered_for_me_raises_a_desktop_notification(chromium, portal, sandbox):
    responder_id = sandbox.user_id(RESPONDER_EMAIL)
    service_id = sandbox.services["API Gateway"]
    context, page = _signed_in_page(chromium, portal)
    context.add_init_script(FAKE_NOTIFICATION)
    try:
        page.goto(f"{portal.url}/")
        assert page.locator("body").get_attribute("data-pd-user-id") == responder_id
        assert page.locator("body").get_attribute("data-notify-desktop") == "1"
        _wait_live(page)
        response = sandbox.post(
            "/incidents",
            headers={"From": "admin@example.com"},
            json={
                "incident": {
                    "type": "incident",
                    "title": "Disk full on db-9 (live notification test)",
                    "service": {"id": service_id, "type": "service_reference"},
                    "assignments": [{"assignee": {"id": responder_id, "type": "user_reference"}}],
                }
            },
        )
        assert response.status_code == 201, response.text
        incident_id = response.json()["incident"]["id"]
        notes = _poll(page, "window.__notes", lambda value: len(value) > 0)
        assert len(notes) == 1
        assert notes[0]["tag"] == f"pdportal-{incident_id}"
        assert "triggered" in notes[0]["title"]
        # The new incident also appeared in the open list, without a reload.
        expect_row = page.locator(f"#incident-row-{incident_id}")
        expect_row.wait_for(timeout=2_000)
    finally:
        context.close()


def test_the_freshness_marker_shows_reconnecting_then_live_and_the_page_catches_up(chromium, portal):
    context, page = _signed_in_page(chromium, portal)
    try:
        page.goto(f"{portal.url}/")
        _wait_live(page)
        fetched: list[str] = []
        page.on("request", lambda request: fetched.append(request.url))
        # Both web processes die (a deploy, a crash); the page keeps its content and says so.
        portal.crash_and_restart(pause=1.0)
        page.wait_for_selector("#live-status[data-state=live]", timeout=15_000)
        assert any("/live/" in url for url in fetched), fetched
        # A reconnect re-fetches what is visible: the incident table partial.
        deadline = time.monotonic() + 5
        while not any("partial=incident-table" in url for url in fetched) and time.monotonic() < deadline:
            page.wait_for_timeout(100)
        assert any("partial=incident-table" in url for url in fetched), fetched
    finally:
        context.close()


def test_the_marker_says_reconnecting_then_stale_while_the_portal_is_down(chromium, portal):
    context, page = _signed_in_page(chromium, portal)
    context.add_init_script("window.PD_LIVE_STALE_AFTER_MS = 1500;")
    try:
        page.goto(f"{portal.url}/")
        _wait_live(page)
        os.killpg(portal.process.pid, signal.SIGKILL)
        portal.process.wait(timeout=10)
        page.wait_for_selector("#live-status[data-state=reconnecting]", timeout=10_000)
        assert page.locator("#live-status").inner_text() == "reconnecting…"
        page.wait_for_selector("#live-status[data-state=stale]", timeout=10_000)
        assert re.fullmatch(r"stale since \d\d:\d\d:\d\d", page.locator("#live-status").inner_text())
        portal.process = portal.start()
        _wait_live(page)
    finally:
        context.close()


# -- live.js on its own (no portal): /live/ answered by Playwright routes ------------------------------------------

STATIC_PAGE = """<!doctype html><html><head><meta charset="utf-8"></head>
<body data-live-url="/live/"><span id="live-status" data-state="connecting">connecting…</span>
<script src="/static/pdportal/live.js"></script></body></html>"""

COUNT_EVENT_SOURCES = """
window.__sources = [];
window.EventSource = class extends window.EventSource {
  constructor(url, options) { super(url, options); window.__sources.push(this); }
};
"""


def _live_js_page(chromium, answer_live, html=STATIC_PAGE):
    """A page running live.js whose /live/ requests `answer_live(route, request)` answers; returns the hits."""
    hits: list[str] = []
    context = chromium.new_context()
    context.add_init_script(COUNT_EVENT_SOURCES)
    script = (REPO / "static" / "pdportal" / "live.js").read_text()

    def serve(route, request):
        path = request.url.split("portal.test", 1)[1]
        if path.startswith("/live/"):
            hits.append(request.resource_type)
            return answer_live(route, request)
        if path.startswith("/static/pdportal/live.js"):
            return route.fulfill(status=200, content_type="text/javascript", body=script)
        return route.fulfill(status=200, content_type="text/html", body=html)

    context.route("http://portal.test/**", serve)
    page = context.new_page()
    page.set_default_timeout(10_000)
    return context, page, hits


def test_it_stops_reconnecting_and_says_live_updates_are_off_when_live_answers_204(chromium):
    context, page, hits = _live_js_page(chromium, lambda route, request: route.fulfill(status=204, body=""))
    try:
        page.goto("http://portal.test/")
        page.wait_for_selector("#live-status[data-state=off]", timeout=5_000)
        assert page.locator("#live-status").inner_text() == "live updates off"
        page.wait_for_timeout(3_500)  # past two backoff steps (1 s, 2 s)
        assert hits == ["eventsource", "fetch"]  # the stream, one probe, and nothing after
        assert page.locator("#live-status").get_attribute("data-state") == "off"
    finally:
        context.close()


def test_without_webhooks_the_marker_says_how_fresh_the_log_keeps_the_page(chromium):
    polling = STATIC_PAGE.replace(
        '<body data-live-url="/live/">',
        '<body data-live-url="/live/" data-live-label="live via PagerDuty&#x27;s log every 30 s">',
    )
    ready = 'retry: 600000\n\nid: 1\nevent: ready\ndata: {"ok": true}\n\n'
    context, page, _hits = _live_js_page(
        chromium,
        lambda route, request: route.fulfill(status=200, content_type="text/event-stream", body=ready),
        html=polling,
    )
    # The fulfilled stream ends right after `ready` (then the marker says reconnecting): record every marker shown.
    context.add_init_script(
        """
        window.__marks = [];
        new MutationObserver(() => {
          const el = document.getElementById("live-status");
          if (el) window.__marks.push([el.getAttribute("data-state"), el.textContent, el.title]);
        }).observe(document, { subtree: true, childList: true, characterData: true, attributes: true });
        """
    )
    try:
        page.goto("http://portal.test/")
        page.wait_for_function("window.__marks.some((m) => m[0] === 'live')", timeout=5_000)
        live = [m for m in page.evaluate("window.__marks") if m[0] == "live"]
        assert live[-1][1] == "live via PagerDuty's log every 30 s"
        assert "cannot send webhooks" in live[-1][2]
    finally:
        context.close()


def test_it_keeps_one_event_source_when_the_tab_shows_while_a_reconnect_waits(chromium):
    streams = {"served": 0}

    def answer(route, request):
        if request.resource_type == "eventsource":
            streams["served"] += 1
            if streams["served"] > 1:
                body = 'retry: 600000\n\nid: 1\nevent: ready\ndata: {"ok": true}\n\n'
                return route.fulfill(status=200, content_type="text/event-stream", body=body)
        return route.fulfill(status=503, body="restarting")  # the first stream, and any probe

    context, page, hits = _live_js_page(chromium, answer)
    try:
        page.goto("http://portal.test/")
        page.wait_for_selector("#live-status[data-state=reconnecting]", timeout=5_000)
        # The tab comes back into view while the reconnect (1 s backoff) is still pending.
        page.evaluate(
            """() => {
              Object.defineProperty(document, "visibilityState", { value: "visible", configurable: true });
              document.dispatchEvent(new Event("visibilitychange"));
            }"""
        )
        page.wait_for_timeout(2_500)  # past the backoff that was pending
        # The second stream was read (its ready event); its body then ends, and the browser waits its retry hint.
        assert page.evaluate("window.pdLive.lastEventId()") == "1"
        open_sources = page.evaluate("window.__sources.filter((s) => s.readyState !== EventSource.CLOSED).length")
        assert open_sources == 1
        assert page.evaluate("window.__sources.length") == 2
        assert hits.count("eventsource") == 2
    finally:
        context.close()


SYNC_PROGRESS_SCRIPT = """
import django
django.setup()
from django.utils import timezone
from incidents.sync import _Recorder, publish_sync_state
from pdportal.models import SyncState

state, _ = SyncState.objects.update_or_create(
    name="initial_sync", defaults={"status": "running", "started_at": timezone.now(), "progress": {}}
)
if %(finish)s:
    SyncState.objects.filter(pk=state.pk).update(status="done", total=1649, finished_at=timezone.now(), progress={})
    publish_sync_state(state.name)
else:
    _Recorder(state, None).report("incidents", 250, 1000)
"""


def test_the_settings_page_follows_a_running_sync_live(chromium, portal):
    from playwright.sync_api import expect

    context = chromium.new_context()
    admin_session = portal.python(SESSION_SCRIPT % ADMIN_EMAIL)
    context.add_cookies([{"name": "sessionid", "value": admin_session, "url": portal.url}])
    page = context.new_page()
    try:
        page.goto(f"{portal.url}/settings/")
        _wait_live(page)
        page.evaluate("window.__notReloaded = true")

        portal.python(SYNC_PROGRESS_SCRIPT % {"finish": False})
        bar = page.locator("#sync-initial_sync progress")
        expect(bar).to_have_attribute("value", "62", timeout=2_000)
        expect(page.locator("#sync-initial_sync")).to_contain_text("step 7 of 10: incidents (250 of 1000)")

        portal.python(SYNC_PROGRESS_SCRIPT % {"finish": True})
        expect(page.locator("#sync-initial_sync")).to_contain_text("Done", timeout=2_000)
        expect(page.locator("#sync-initial_sync")).to_contain_text("1649 records")
        assert page.evaluate("window.__notReloaded") is True
    finally:
        context.close()
