"""The triage home (`/`): open incidents by default, the Mine / My teams / All tabs, live counts, `#N` search."""

from __future__ import annotations

import re

import pytest

from accounts.models import Team
from incidents import selectors
from incidents.models import Incident
from services.models import Service
from tests.incidents.test_incident_list import make_incidents

pytestmark = pytest.mark.django_db


@pytest.fixture
def services(db):
    return [
        Service.objects.create(pd_id="PSVCA", name="API Gateway"),
        Service.objects.create(pd_id="PSVCB", name="Billing Worker"),
    ]


def numbers_in(html: str) -> set[int]:
    return {int(n) for n in re.findall(r">Incident (\d+)<", html)}


def test_the_home_shows_only_open_incidents(client_as, responder, services):
    make_incidents(6)  # numbers 2 and 5 are resolved (number % 3 == 2)
    html = client_as(responder).get("/").content.decode()
    assert numbers_in(html) == {1, 3, 4, 6}


def test_resolved_incidents_appear_when_the_person_asks_for_them(client_as, responder, services):
    make_incidents(6)
    c = client_as(responder)
    assert numbers_in(c.get("/?status=resolved").content.decode()) == {2, 5}
    every = "/?status=triggered&status=acknowledged&status=resolved"
    assert numbers_in(c.get(every).content.decode()) == {1, 2, 3, 4, 5, 6}


def test_the_status_boxes_show_the_default_filter(client_as, responder, services):
    html = client_as(responder).get("/").content.decode()
    assert 'value="triggered" checked' in html and 'value="acknowledged" checked' in html
    assert 'value="resolved" checked' not in html


def test_the_tabs_mine_my_teams_and_all_mark_the_current_one(client_as, responder, services):
    make_incidents(3)
    c = client_as(responder)
    html = c.get("/").content.decode()
    tabs = re.search(r'<nav[^>]*id="incident-tabs".*?</nav>', html, re.S).group(0)
    assert [t for t in re.findall(r">(Mine|My teams|All)<", tabs)] == ["Mine", "My teams", "All"]
    assert re.search(r'aria-current="page"[^>]*>All<', tabs)
    mine = c.get("/?assigned=me").content.decode()
    tabs = re.search(r'<nav[^>]*id="incident-tabs".*?</nav>', mine, re.S).group(0)
    assert re.search(r'aria-current="page"[^>]*>Mine<', tabs)


def test_a_tab_keeps_the_other_filters_but_not_the_page(client_as, responder, services):
    html = client_as(responder).get("/?urgency=high&page=2&assigned=me").content.decode()
    tabs = re.search(r'<nav[^>]*id="incident-tabs".*?</nav>', html, re.S).group(0)
    hrefs = re.findall(r'href="([^"]*)"', tabs)
    assert all("urgency=high" in h and "page=" not in h for h in hrefs)
    assert any("assigned=my_teams" in h for h in hrefs)


def test_mine_is_what_is_assigned_to_the_viewers_pagerduty_user(client_as, responder, services):
    make_incidents(4)
    me = responder.profile.pd_user
    Incident.objects.get(number=4).assignees.add(me)
    assert numbers_in(client_as(responder).get("/?assigned=me").content.decode()) == {4}


def test_my_teams_is_the_incidents_of_the_viewers_teams_services(client_as, responder, services):
    make_incidents(4)
    team = Team.objects.create(pd_id="PTEAM9", name="Payments", default_role=Team.PUBLIC)
    services[1].teams.add(team)  # Billing Worker belongs to the team; the incident carries no team of its own
    responder.profile.pd_user.teams.add(team)
    billing = Incident.objects.filter(service=services[1]).exclude(status="resolved")
    billing = set(billing.values_list("number", flat=True))
    assert billing
    assert numbers_in(client_as(responder).get("/?assigned=my_teams").content.decode()) == billing


def test_counts_per_status_follow_the_tab_and_filters_but_not_the_status(client_as, responder, services):
    make_incidents(9)  # triggered: 3, 6, 9; acknowledged: 1, 4, 7; resolved: 2, 5, 8
    me = responder.profile.pd_user
    for number in (3, 4, 2):
        Incident.objects.get(number=number).assignees.add(me)
    counts = selectors.status_counts(filters={"status": ["triggered"]}, user=responder)
    assert (counts.triggered, counts.acknowledged) == (3, 3)
    counts = selectors.status_counts(filters={"assigned": "me"}, user=responder)
    assert (counts.triggered, counts.acknowledged) == (1, 1)


def test_the_counts_partial_is_live_and_fetchable_by_its_dom_id(client_as, responder, services):
    make_incidents(9)
    c = client_as(responder)
    html = c.get("/").content.decode()
    assert re.search(r'id="incident-counts"[^>]*data-live-topic="incident"', html)
    part = c.get("/?partial=incident-counts").content.decode()
    assert part.lstrip().startswith('<div id="incident-counts"')
    assert re.search(r'data-count="triggered"[^>]*>\s*3\b', part)
    assert re.search(r'data-count="acknowledged"[^>]*>\s*3\b', part)


def test_the_counts_are_one_query_and_their_refresh_reads_no_rows(client_as, responder, services):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    make_incidents(30)
    c = client_as(responder)
    c.get("/?partial=incident-counts")  # the session and the person's scope are read once
    with CaptureQueriesContext(connection) as few:
        c.get("/?partial=incident-counts")
    make_incidents(300, start=31)
    with CaptureQueriesContext(connection) as many:
        c.get("/?partial=incident-counts")
    assert len(few) == len(many)
    incident_reads = [q["sql"] for q in many if 'FROM "incidents_incident"' in q["sql"]]
    assert len(incident_reads) == 1 and "COUNT" in incident_reads[0].upper()


def test_hash_number_opens_that_incident(client_as, responder, services):
    make_incidents(200)
    response = client_as(responder).get("/?q=%23185")
    assert response.status_code == 302
    assert response["Location"] == "/incidents/PI000185/"


def test_hash_number_opens_a_resolved_incident_too(client_as, responder, services):
    make_incidents(5)
    response = client_as(responder).get("/?q=%232")
    assert response["Location"] == "/incidents/PI000002/"


def test_hash_number_the_viewer_may_not_see_says_so(client_as, responder, services):
    make_incidents(3)
    private = Team.objects.create(pd_id="PPRIV", name="Secret", default_role="none")
    Incident.objects.get(number=3).teams.add(private)
    response = client_as(responder).get("/?q=%233")
    assert response.status_code == 200
    html = response.content.decode()
    assert "No incident #3 you can see." in html
    assert numbers_in(html) == set()  # no near misses (#30, #300…) in its place


def test_a_bare_number_is_a_text_search(client_as, responder, services):
    make_incidents(20)
    response = client_as(responder).get("/?q=1&status=triggered&status=acknowledged&status=resolved")
    assert response.status_code == 200
    assert {1, 10, 11} <= numbers_in(response.content.decode())


def test_a_live_refresh_of_a_hash_search_never_redirects(client_as, responder, services):
    make_incidents(3)
    response = client_as(responder).get("/?q=%231&partial=incident-table")
    assert response.status_code == 200


def test_a_skip_link_leads_to_the_incidents(client_as, responder, services):
    html = client_as(responder).get("/").content.decode()
    assert re.search(r'<a class="skip-link" href="#incident-table">Skip to incidents</a>', html)
    assert re.search(r'id="incident-table"[^>]*tabindex="-1"', html)


def test_the_keyboard_help_and_script_are_on_the_list_and_the_incident_page(client_as, responder, services):
    make_incidents(1)
    c = client_as(responder)
    for path in ("/", "/incidents/PI000001/"):
        html = c.get(path).content.decode()
        assert "pdportal/triage.js" in html
        assert 'aria-keyshortcuts="?"' in html


def test_the_home_counts_its_incidents_once(client_as, responder, services):
    """The counts per status already hold the open list's total: the page runs one COUNT over incidents, not two."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    make_incidents(30)
    c = client_as(responder)
    c.get("/")
    with CaptureQueriesContext(connection) as queries:
        html = c.get("/").content.decode()
    counting = [q["sql"] for q in queries if 'FROM "incidents_incident"' in q["sql"] and "COUNT(" in q["sql"].upper()]
    assert len(counting) == 1
    assert "1\u201320 of 20" in html  # 30 made, 10 resolved
    with CaptureQueriesContext(connection) as queries:
        html = c.get("/?status=resolved").content.decode()
    assert "1\u201310 of 10" in html  # resolved: the page counts itself
