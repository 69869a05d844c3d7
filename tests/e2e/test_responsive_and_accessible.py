"""The design system in a browser: nothing scrolls sideways at 390 px; axe-core finds nothing serious, light or dark."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.conf import settings as django_settings
from django.test import Client
from django.utils import timezone

from accounts.models import AuditEntry, PagerDutyUser
from incidents import sync
from incidents.models import Incident, Responder
from pdportal.pagerduty import PagerDutyClient, RequestBudget
from tests.personas import make_portal_user

pytestmark = [pytest.mark.browser, pytest.mark.sandbox]
PHONE = {"width": 390, "height": 844}
# The pages a responder lives in, and every admin list: each must fit a phone and pass axe.
ADMIN_LISTS = ("/services/", "/users/", "/templates/", "/webhooks/", "/api-console/", "/audit/")
# Every admin form (and Send event, which responders use): the design system's forms, on a phone and in both themes.
ADMIN_FORMS = ("/services/new/", "/users/new/", "/templates/new/", "/webhooks/new/", "/events/send/")
DESKTOP = {"width": 1440, "height": 900}
SERIOUS = {"serious", "critical"}


@pytest.fixture
def portal(inprocess_portal, sandbox):
    """The in-process portal, with one incident's alerts and notes read too (the incident page shows them)."""
    client = PagerDutyClient(token=sandbox.api_token, api_url=sandbox.url, budget=RequestBudget(per_minute=1_000_000))
    incident = Incident.objects.filter(status="triggered", alert_count__gte=2).order_by("-created_at").first()
    sync.sync_incident_details(client=client, incident_ids=[incident.pd_id])
    return inprocess_portal


@pytest.fixture
def pages(portal):
    """Every page under test, as paths: the list, a busy incident, both settings pages and each admin list."""
    incident = Incident.objects.filter(status="triggered", alert_count__gte=2).order_by("-created_at").first()
    # The widest audit row there is: a long URL and a long error must wrap, not widen the page.
    AuditEntry.objects.create(
        actor_label="Adam Admin",
        operation="Resolve incidents",
        method="PUT",
        path="/incidents",
        url="https://api.pagerduty.com/incidents?" + "&".join(f"ids%5B%5D=P{n:06d}" for n in range(20)),
        target=incident.pd_id,
        status=400,
        error="Invalid Input Provided: " + "x" * 200,
        duration_ms=312,
    )
    from services.models import Service

    service = Service.objects.order_by("name").first()
    edit_forms = [f"/services/{service.pd_id}/edit/"]
    _with_state(incident)
    return [
        "/",
        f"/incidents/{incident.pd_id}/",
        f"/incidents/{incident.pd_id}/policy/",
        "/settings/",
        "/settings/me/",
        *ADMIN_LISTS,
        *ADMIN_FORMS,
        *edit_forms,
    ]


def _with_state(incident: Incident) -> None:
    """Everything the state panel can show: a level, the next escalation and a responder in each state."""
    Incident.objects.filter(pk=incident.pk).update(
        escalation_level=1, next_escalation_at=timezone.now() + timedelta(minutes=12)
    )
    people = list(PagerDutyUser.objects.order_by("name")[:3])
    for person, state in zip(people, ("pending", "joined", "declined"), strict=False):
        Responder.objects.create(
            incident=incident, user=person, state=state, requester=people[0], message="Please join the bridge"
        )


def sign_in(page, portal: str, email: str) -> None:
    """A forced-login session cookie for a seed persona (the admin sees every page under test)."""
    user = make_portal_user(email=email)
    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    cookie = client.cookies[django_settings.SESSION_COOKIE_NAME]
    page.context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": portal}])


def test_no_page_scrolls_sideways_on_a_390_px_phone(page, portal, pages):
    sign_in(page, portal, "admin@example.com")
    page.set_viewport_size(PHONE)
    too_wide = {}
    for path in pages:
        page.goto(f"{portal}{path}")
        page.wait_for_selector("#main")
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > PHONE["width"]:
            too_wide[path] = width
    assert too_wide == {}


def test_incident_rows_become_cards_and_touch_targets_are_44_px_on_a_phone(page, portal, pages):
    sign_in(page, portal, "responder@example.com")
    page.set_viewport_size(PHONE)
    page.goto(f"{portal}/")
    # Filters fold behind one button: the first incident is on the first screen.
    first = page.locator("#incident-table tbody tr").first
    assert first.bounding_box()["y"] < PHONE["height"]
    assert page.locator("#incident-table thead").bounding_box()["height"] <= 1  # kept for screen readers only
    assert first.evaluate("e => getComputedStyle(e).display") != "table-row"
    box = page.locator("#incident-table input.row-select").first.bounding_box()
    assert box["height"] >= 44 or page.locator("#incident-table label.row-hit").first.bounding_box()["height"] >= 44
    page.goto(f"{portal}{pages[1]}")
    for button in page.locator("#incident-header button").all():
        assert button.bounding_box()["height"] >= 44, button.inner_text()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_axe_finds_no_serious_violation(page, portal, pages, scheme):
    sign_in(page, portal, "admin@example.com")
    page.emulate_media(color_scheme=scheme)
    axe = Axe()
    found = {}
    for path in pages:
        page.goto(f"{portal}{path}")
        page.wait_for_selector("#main")
        results = axe.run(page)
        serious = [
            f"{v['id']} ({v['impact']}): {len(v['nodes'])} node(s), e.g. {v['nodes'][0]['target']}"
            for v in results.response["violations"]
            if v["impact"] in SERIOUS
        ]
        if serious:
            found[path] = serious
    assert found == {}


def test_a_skip_link_jumps_to_the_main_content(page, portal):
    sign_in(page, portal, "responder@example.com")
    page.goto(f"{portal}/")
    page.keyboard.press("Tab")
    skip = page.locator(":focus")
    assert skip.inner_text().strip().lower().startswith("skip to")
    assert skip.get_attribute("href") == "#main"


SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def test_it_writes_the_readme_screenshots(page, portal, pages, tmp_path):
    """The README's pictures, made here so they stay true: list and incident, desktop and phone, light and dark.

    They land in docs/screenshots/ only with UPDATE_SCREENSHOTS=1, so an ordinary run leaves the tree clean."""
    sign_in(page, portal, "responder@example.com")
    out = SCREENSHOTS if os.environ.get("UPDATE_SCREENSHOTS") == "1" else tmp_path
    out.mkdir(parents=True, exist_ok=True)
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        for size, viewport in (("desktop", {"width": 1440, "height": 900}), ("phone", PHONE)):
            page.set_viewport_size(viewport)
            for name, path in (("list", "/"), ("incident", pages[1])):
                page.goto(f"{portal}{path}")
                page.wait_for_selector("#main")
                target = out / f"{name}-{size}-{scheme}.png"
                page.screenshot(path=str(target))
                assert target.stat().st_size > 10_000


NAV_ROW = """() => {
  const nav = document.querySelector('.topbar .nav');
  const items = [...nav.children].filter((e) => e.getClientRects().length);
  return {
    tops: [...new Set(items.map((e) => Math.round(e.getBoundingClientRect().top)))],
    overflow: nav.scrollWidth - nav.clientWidth,
    bar: Math.round(document.querySelector('.topbar').getBoundingClientRect().height),
    links: items.length,
  };
}"""


@pytest.mark.parametrize("email", ["admin@example.com", "responder@example.com"])
def test_the_nav_is_one_row_at_1440_px_with_the_admin_links_in_one_menu(page, portal, email):
    sign_in(page, portal, email)
    page.set_viewport_size(DESKTOP)
    page.goto(f"{portal}/")
    row = page.evaluate(NAV_ROW)
    assert len(row["tops"]) == 1, row  # nothing wraps to a second line
    assert row["overflow"] <= 0, row  # nor is anything cut off or scrolled away
    assert row["bar"] <= 64, row
    assert row["links"] <= 12, row  # the admin pages are one "Admin" entry, not seven more links


def test_the_admin_menu_works_by_keyboard_and_on_a_390_px_phone(page, portal):
    sign_in(page, portal, "admin@example.com")
    for viewport in (DESKTOP, PHONE):
        page.set_viewport_size(viewport)
        page.goto(f"{portal}/")
        menu = page.locator(".nav-group", has=page.locator("summary", has_text="Admin"))
        summary = menu.locator("summary")
        summary.focus()
        page.keyboard.press("Enter")
        link = menu.get_by_role("link", name="Webhooks")
        link.wait_for()
        box = link.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"], box
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
        link.click()
        page.wait_for_url(f"{portal}/webhooks/")
        assert page.locator("h1").inner_text() == "Webhook subscriptions"


def axe_serious(page) -> list[str]:
    results = Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {len(v['nodes'])} node(s), e.g. {v['nodes'][0]['target']}"
        for v in results.response["violations"]
        if v["impact"] in SERIOUS
    ]


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_triage_controls_pass_axe_and_fit_a_phone(page, portal, scheme):
    """Tabs, counts, the saved-views menu, the keyboard cursor and the triage dialogs, in both themes."""
    from incidents.actions import saved_view_save

    user = make_portal_user(email="responder@example.com")
    saved_view_save(owner=user, name="High urgency, mine", query="urgency=high&assigned=me")
    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    cookie = client.cookies[django_settings.SESSION_COOKIE_NAME]
    page.context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": portal}])
    page.emulate_media(color_scheme=scheme)
    found = {}
    too_wide = {}
    for size, viewport in (("desktop", {"width": 1440, "height": 900}), ("phone", PHONE)):
        page.set_viewport_size(viewport)
        page.goto(f"{portal}/?status=triggered")
        page.click("#saved-views summary")
        page.keyboard.press("Escape")  # the menu stays open; Escape only leaves the summary's focus ring
        page.keyboard.press("j")
        page.keyboard.press("j")
        page.wait_for_selector("#incident-table tr.is-cursor")
        found[f"{size} list"] = axe_serious(page)
        too_wide[f"{size} list"] = page.evaluate("document.documentElement.scrollWidth")
        for key in ("?", "r", "e", "n"):
            page.keyboard.press(key)
            page.wait_for_selector("dialog[open]")
            found[f"{size} dialog {key}"] = axe_serious(page)
            too_wide[f"{size} dialog {key}"] = page.evaluate("document.documentElement.scrollWidth")
            page.keyboard.press("Escape")
            # Escape drops [open] at once, but triage.js takes keys again only in the dialog's "close" event, which
            # removes #triage-dialog: wait for that, or the next key can land before it and be ignored.
            page.wait_for_selector("#triage-dialog", state="detached")
    assert {k: v for k, v in found.items() if v} == {}
    assert {k: w for k, w in too_wide.items() if k.startswith("phone") and w > PHONE["width"]} == {}
