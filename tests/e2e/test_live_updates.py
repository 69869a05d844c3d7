"""Live updates across processes: a change in the sandbox reaches two open pages served by different processes.

The portal (tests/e2e/portal.py) runs as uvicorn subprocesses on the session's sandbox and Redis. Waits are on
events with generous bounds (portal.LIVE_MS): on a machine with a load average of 15, webhook delivery and the
re-fetch take seconds, not the fraction of a second they take on a quiet one.
"""

from __future__ import annotations

import os
import re
import signal
import time
from pathlib import Path

import pytest

from tests.e2e.portal import LIVE_MS, SESSION_SCRIPT, open_incident, poll, signed_in_page, wait_live

pytestmark = [pytest.mark.browser, pytest.mark.sandbox, pytest.mark.timeout(300)]

REPO = Path(__file__).resolve().parents[2]
RESPONDER_EMAIL = "responder@example.com"
ADMIN_EMAIL = "admin@example.com"


def test_a_change_in_pagerduty_reaches_two_open_pages_without_reload(chromium, portal, sandbox):
    from playwright.sync_api import expect

    incident = open_incident(sandbox)
    pd_id = incident["id"]
    ctx_a, detail = signed_in_page(chromium, portal)
    ctx_b, listing = signed_in_page(chromium, portal)
    try:
        detail.goto(f"{portal.url}/incidents/{pd_id}/")
        # The list is served by the other process: it hears of the webhook only through Redis.
        listing.goto(f"{portal.other_url}/?status=triggered&status=acknowledged")
        expect(detail.locator("#incident-status")).to_have_text("triggered")
        expect(listing.locator(f"#incident-row-{pd_id}")).to_contain_text("triggered")
        wait_live(detail)
        wait_live(listing)
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

        expect(detail.locator("#incident-status")).to_have_text("acknowledged", timeout=LIVE_MS)
        expect(listing.locator(f"#incident-row-{pd_id}")).to_contain_text("acknowledged", timeout=LIVE_MS)
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
        expect(listing.locator(f"#incident-row-{pd_id}")).to_have_count(0, timeout=LIVE_MS)
        expect(detail.locator("#incident-status")).to_have_text("resolved", timeout=LIVE_MS)
        assert listing.evaluate("window.__notReloaded") is True
    finally:
        ctx_a.close()
        ctx_b.close()


# Counts the heartbeats each page hears: the EventSource live.js opens is this one, every time it (re)connects.
COUNT_HEARTBEATS = """
window.__heartbeats = 0;
window.EventSource = class extends window.EventSource {
  constructor(url, options) {
    super(url, options);
    this.addEventListener("heartbeat", () => { window.__heartbeats += 1; });
  }
};
"""


def test_open_live_pages_cost_pagerduty_nothing(chromium, portal, sandbox):
    # The window was 60 s of the production 15 s heartbeat (pd-live polls 12 times a page in it, GoAlert
    # 17). What it proves is what happens in such a window: heartbeats and a reconnect, and nothing else. So this
    # test's own server beats every second (the 15 s default is proven in test_freshness_marker and test_sse), and
    # the window holds several heartbeats on each page before and after a reconnect.
    heartbeat = {"LIVE_HEARTBEAT_SECONDS": "1"}
    url, process = portal.start_own(**heartbeat)
    pages = []
    try:
        for _ in range(2):
            context, page = signed_in_page(chromium, portal)
            context.add_cookies([{"name": "sessionid", "value": portal.session_key, "url": url}])
            context.add_init_script(COUNT_HEARTBEATS)
            pages.append((context, page))
        (_, first), (_, second) = pages
        first.goto(f"{url}/")
        second.goto(f"{url}/incidents/{open_incident(sandbox)['id']}/")
        assert first.locator("body").get_attribute("data-live-heartbeat") == "1"
        browser_requests: list[tuple[str, str]] = []
        for _, page in pages:
            wait_live(page)
            page.on("request", lambda request: browser_requests.append((request.method, request.url)))
        sandbox.clear_log()

        def hears_heartbeats(count: int) -> None:
            # Counted from the same moment on every page, so the pages' beats overlap instead of adding up.
            heard = [page.evaluate("window.__heartbeats") for _, page in pages]
            for (_, page), before in zip(pages, heard, strict=True):
                assert poll(page, "window.__heartbeats", lambda n, before=before: n >= before + count) >= before + count

        hears_heartbeats(3)
        assert browser_requests == []  # no polling of the portal either: one SSE stream per page
        # The server freezes (a stalled process, a cut network): both pages notice the silence, open a new stream
        # on their own, and catch up once it answers. (A frozen server, not a restarted one: a restart costs the
        # seconds of a Django start and of the page's backoff, and reconnects the same way.)
        os.killpg(process.pid, signal.SIGSTOP)
        try:
            for _, page in pages:
                page.wait_for_selector("#live-status:not([data-state=live])", timeout=LIVE_MS)
        finally:
            os.killpg(process.pid, signal.SIGCONT)
        for _, page in pages:
            wait_live(page)
        hears_heartbeats(2)

        assert sandbox.requests_log() == []
        # What the pages asked the portal for: a new stream each and, once it answered, the re-fetch of what they
        # show (served from the mirror).
        assert sum("/live/" in u for _, u in browser_requests) >= len(pages), browser_requests
        assert any("partial=" in u for _, u in browser_requests), browser_requests
        assert all(method == "GET" and u.startswith(f"{url}/") for method, u in browser_requests), browser_requests
        for _, page in pages:
            assert page.locator("#live-status").get_attribute("data-state") == "live"
    finally:
        for context, _ in pages:
            context.close()


FAKE_NOTIFICATION = """
window.__notes = [];
window.__shown = [];
window.Notification = class {
  constructor(title, options) {
    window.__notes.push({title: title, body: options.body, tag: options.tag});
    window.__shown.push(this);
  }
  close() {}
  static get permission() { return "granted"; }
  static requestPermission() { return Promise.resolve("granted"); }
};
"""


def test_an_incident_triggered_for_me_raises_a_desktop_notification(chromium, portal, sandbox):
    responder_id = sandbox.user_id(RESPONDER_EMAIL)
    service_id = sandbox.services["API Gateway"]
    context, page = signed_in_page(chromium, portal)
    context.add_init_script(FAKE_NOTIFICATION)
    try:
        page.goto(f"{portal.url}/")
        assert page.locator("body").get_attribute("data-pd-user-id") == responder_id
        assert page.locator("body").get_attribute("data-notify-desktop") == "1"
        wait_live(page)
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
        number = response.json()["incident"]["incident_number"]
        notes = poll(page, "window.__notes", lambda value: len(value) > 0)
        assert len(notes) == 1
        assert notes[0]["tag"] == f"pdportal-{incident_id}"
        # It says what happened, to which incident, where and how urgent; then the title.
        assert notes[0]["title"] == f"#{number} triggered · API Gateway · high"
        assert notes[0]["body"] == "Disk full on db-9 (live notification test)"
        # The new incident also appeared in the open list, without a reload.
        expect_row = page.locator(f"#incident-row-{incident_id}")
        expect_row.wait_for(timeout=LIVE_MS)
        # Clicking it brings this tab to the incident.
        page.evaluate("window.__shown[0].onclick()")
        page.wait_for_url(f"**/incidents/{incident_id}/")
    finally:
        context.close()


def test_the_freshness_marker_shows_reconnecting_then_live_and_the_page_catches_up(chromium, portal):
    context, page = signed_in_page(chromium, portal)
    try:
        page.goto(f"{portal.url}/")
        wait_live(page)
        fetched: list[str] = []
        page.on("request", lambda request: fetched.append(request.url))
        # Both web processes die (a deploy, a crash); the page keeps its content and says so.
        portal.crash_and_restart(pause=1.0)
        page.wait_for_selector("#live-status[data-state=live]", timeout=LIVE_MS)
        assert any("/live/" in url for url in fetched), fetched
        # A reconnect re-fetches what is visible: the incident table partial.
        deadline = time.monotonic() + LIVE_MS / 1000
        while not any("partial=incident-table" in url for url in fetched) and time.monotonic() < deadline:
            page.wait_for_timeout(100)
        assert any("partial=incident-table" in url for url in fetched), fetched
    finally:
        context.close()


def test_the_marker_says_reconnecting_then_stale_while_the_portal_is_down(chromium, portal):
    context, page = signed_in_page(chromium, portal)
    context.add_init_script("window.PD_LIVE_STALE_AFTER_MS = 1500;")
    try:
        page.goto(f"{portal.url}/")
        wait_live(page)
        os.killpg(portal.process.pid, signal.SIGKILL)
        portal.process.wait(timeout=10)
        page.wait_for_selector("#live-status[data-state=reconnecting]", timeout=LIVE_MS)
        assert page.locator("#live-status").inner_text() == "reconnecting…"
        page.wait_for_selector("#live-status[data-state=stale]", timeout=LIVE_MS)
        assert re.fullmatch(r"stale since \d\d:\d\d:\d\d", page.locator("#live-status").inner_text())
        portal.process = portal.start()
        wait_live(page)
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
        wait_live(page)
        page.evaluate("window.__notReloaded = true")

        portal.python(SYNC_PROGRESS_SCRIPT % {"finish": False})
        bar = page.locator("#sync-initial_sync progress")
        expect(bar).to_have_attribute("value", "62", timeout=LIVE_MS)
        expect(page.locator("#sync-initial_sync")).to_contain_text("step 7 of 10: incidents (250 of 1000)")

        portal.python(SYNC_PROGRESS_SCRIPT % {"finish": True})
        expect(page.locator("#sync-initial_sync")).to_contain_text("Done", timeout=LIVE_MS)
        expect(page.locator("#sync-initial_sync")).to_contain_text("1649 records")
        assert page.evaluate("window.__notReloaded") is True
    finally:
        context.close()
