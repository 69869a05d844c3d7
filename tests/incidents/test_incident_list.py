"""The incident list (`/`): filters, exclude filters, sort, paging, the URL as state, and the query budget."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from accounts.models import PagerDutyUser, Team
from incidents.models import Incident, Priority
from services.models import EscalationPolicy, Service

pytestmark = pytest.mark.django_db
# The home shows open incidents only (test_triage_home.py); these tests are about the other filters, on every status.
EVERY_STATUS = "status=triggered&status=acknowledged&status=resolved"


def make_incidents(n: int, *, start: int = 1, **over) -> list[Incident]:
    services = list(Service.objects.all()) or [Service.objects.create(pd_id="PSVC1", name="API Gateway")]
    priority = Priority.objects.get_or_create(pd_id="PPRI1", defaults={"name": "P1", "order": 4})[0]
    policy = EscalationPolicy.objects.get_or_create(pd_id="PEP1", defaults={"name": "Platform On-Call"})[0]
    user = PagerDutyUser.objects.get_or_create(pd_id="PUSRX", defaults={"name": "Xavier", "email": "x@example.com"})[0]
    now = timezone.now()
    rows = []
    for k in range(n):
        number = start + k
        fields = {
            "pd_id": f"PI{number:06d}",
            "number": number,
            "title": f"Incident {number}",
            "status": ["triggered", "acknowledged", "resolved"][number % 3],
            "urgency": "high" if number % 2 else "low",
            "priority": priority if number % 4 == 0 else None,
            "service": services[number % len(services)],
            "escalation_policy": policy,
            "created_at": now - timedelta(minutes=number),
            "alert_count": number % 5,
            "search_text": f"incident {number} #{number} pi{number:06d}",
        }
        fields.update(over)
        rows.append(Incident(**fields))
    created = Incident.objects.bulk_create(rows)
    through = Incident.assignees.through
    through.objects.bulk_create([through(incident_id=i.pk, pagerdutyuser_id=user.pk) for i in created])
    return created


@pytest.fixture
def services(db):
    return [
        Service.objects.create(pd_id="PSVCA", name="API Gateway"),
        Service.objects.create(pd_id="PSVCB", name="Billing Worker"),
    ]


def test_it_lists_incidents_with_every_column(client_as, responder, services):
    make_incidents(3)
    html = client_as(responder).get("/").content.decode()
    for text in (
        "Incident 1",
        "Incident 3",
        "API Gateway",
        "Billing Worker",
        "Xavier",
        "triggered",
        'id="incident-table"',
    ):
        assert text in html


def test_the_rows_picker_shows_the_page_size_in_use(client_as, responder, services):
    make_incidents(60)
    response = client_as(responder).get(f"/?{EVERY_STATUS}")
    html = response.content.decode()
    assert '<option value="50" selected>' in html
    assert ">Incident 50<" in html
    assert ">Incident 51<" not in html
    assert '<option value="100" selected>' in client_as(responder).get("/?per_page=100").content.decode()


def test_it_filters_by_status_and_urgency(client_as, responder, services):
    make_incidents(12)
    html = client_as(responder).get("/?status=triggered&urgency=low").content.decode()
    shown = [i for i in range(1, 13) if f">Incident {i}<" in html]
    assert shown == [i for i in range(1, 13) if i % 3 == 0 and i % 2 == 0]


def test_it_excludes_a_service(client_as, responder, services):
    make_incidents(6)
    html = client_as(responder).get("/?not_service=PSVCA").content.decode()
    assert "Billing Worker</td>" in html and "API Gateway</td>" not in html


def test_it_searches_title_number_and_alert_text(client_as, responder, services):
    make_incidents(3)
    Incident.objects.filter(number=2).update(search_text="incident 2 #2 db-7 cpu on fire")
    html = client_as(responder).get(f"/?q=DB-7&{EVERY_STATUS}").content.decode()
    assert ">Incident 2<" in html and ">Incident 1<" not in html


def test_it_filters_by_team_and_my_teams(client_as, responder, services):
    make_incidents(4)
    team = Team.objects.create(pd_id="PTEAM9", name="Platform")
    Incident.objects.get(number=3).teams.add(team)
    me = responder.profile.pd_user
    me.teams.add(team)
    c = client_as(responder)
    assert ">Incident 3<" in c.get("/?team=PTEAM9").content.decode()
    html = c.get("/?assigned=my_teams").content.decode()
    assert ">Incident 3<" in html and ">Incident 1<" not in html
    Incident.objects.get(number=4).assignees.add(me)
    html = c.get("/?assigned=me").content.decode()
    assert ">Incident 4<" in html and ">Incident 3<" not in html


def test_it_sorts_on_a_column_and_pages_by_50(client_as, responder, services):
    make_incidents(60)
    c = client_as(responder)
    html = c.get(f"/?{EVERY_STATUS}").content.decode()
    assert "1\u201350 of 60" in html
    assert ">Incident 51<" not in html
    html = c.get(f"/?sort=-number&{EVERY_STATUS}").content.decode()
    assert html.index(">Incident 60<") < html.index(">Incident 59<")
    html = c.get(f"/?sort=-number&page=2&{EVERY_STATUS}").content.decode()
    assert ">Incident 10<" in html and ">Incident 11<" not in html
    assert "sort=number" in html  # the header link toggles the direction


def test_a_malformed_date_shows_a_field_error(client_as, responder, services):
    make_incidents(2)
    response = client_as(responder).get("/?since=not-a-date")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Enter a valid date/time" in html
    assert ">Incident 1<" not in html


def test_a_date_range_filters_by_creation(client_as, responder, services):
    make_incidents(5)
    # Dates are typed in the person's own time zone (the responder persona lives in Europe/Berlin).
    berlin = ZoneInfo(responder.profile.time_zone)
    since = (timezone.now() - timedelta(minutes=3, seconds=30)).astimezone(berlin).strftime("%Y-%m-%d %H:%M:%S")
    html = client_as(responder).get(f"/?since={since}").content.decode()
    assert ">Incident 3<" in html and ">Incident 4<" not in html


def test_it_includes_the_whole_day_of_a_date_only_until_in_the_persons_time_zone(client_as, responder, services):
    make_incidents(3)
    berlin = ZoneInfo(responder.profile.time_zone)
    late = datetime(2026, 3, 10, 23, 30, tzinfo=berlin)  # 22:30 UTC
    Incident.objects.filter(number=1).update(created_at=datetime(2026, 3, 10, 0, 0, tzinfo=berlin))
    Incident.objects.filter(number=2).update(created_at=late)
    # 23:30 UTC on the 10th, but already the 11th in Berlin: outside "until 2026-03-10" for this person.
    Incident.objects.filter(number=3).update(created_at=datetime(2026, 3, 11, 0, 30, tzinfo=berlin))
    c = client_as(responder)
    html = c.get(f"/?until=2026-03-10&{EVERY_STATUS}").content.decode()
    assert ">Incident 1<" in html and ">Incident 2<" in html and ">Incident 3<" not in html
    one_day = c.get(f"/?since=2026-03-10&until=2026-03-10&{EVERY_STATUS}").content.decode()
    assert ">Incident 1<" in one_day and ">Incident 2<" in one_day and ">Incident 3<" not in one_day
    # A time given explicitly is kept as typed.
    html = c.get(f"/?until=2026-03-10 23:00&{EVERY_STATUS}").content.decode()
    assert ">Incident 1<" in html and ">Incident 2<" not in html


def test_the_filter_form_turns_a_date_only_until_into_the_end_of_that_day():
    from incidents.forms import IncidentFilterForm

    with timezone.override(ZoneInfo("America/New_York")):
        form = IncidentFilterForm({"until": "2026-11-01"})
        assert form.is_valid(), form.errors
        until = form.cleaned_data["until"].astimezone(ZoneInfo("America/New_York"))
    assert (until.date().isoformat(), until.hour, until.minute, until.second) == ("2026-11-01", 23, 59, 59)


def test_it_filters_by_escalation_policy(client_as, responder, services):
    make_incidents(4)
    other = EscalationPolicy.objects.create(pd_id="PEP2", name="Database On-Call")
    Incident.objects.filter(number__in=[2, 3]).update(escalation_policy=other)
    c = client_as(responder)
    html = c.get(f"/?escalation_policy=PEP2&{EVERY_STATUS}").content.decode()
    assert ">Incident 2<" in html and ">Incident 3<" in html
    assert ">Incident 1<" not in html and ">Incident 4<" not in html
    both = c.get(f"/?escalation_policy=PEP2&escalation_policy=PEP1&{EVERY_STATUS}").content.decode()
    assert all(f">Incident {n}<" in both for n in range(1, 5))


def test_it_excludes_a_team(client_as, responder, services):
    make_incidents(4)
    platform = Team.objects.create(pd_id="PTEAMP", name="Platform")
    data = Team.objects.create(pd_id="PTEAMD", name="Data")
    Incident.objects.get(number=1).teams.add(platform)
    Incident.objects.get(number=2).teams.add(platform, data)
    Incident.objects.get(number=3).teams.add(data)
    html = client_as(responder).get("/?not_team=PTEAMP").content.decode()
    # Any one excluded team excludes the incident; incidents without a team stay.
    assert ">Incident 3<" in html and ">Incident 4<" in html
    assert ">Incident 1<" not in html and ">Incident 2<" not in html


def test_the_partial_is_fetchable_by_its_dom_id(client_as, responder, services):
    make_incidents(2)
    html = client_as(responder).get("/?status=triggered&partial=incident-table").content.decode()
    assert html.lstrip().startswith('<div id="incident-table"')
    assert "<html" not in html


def test_observers_see_no_bulk_controls(client_as, observer, services):
    make_incidents(2)
    html = client_as(observer).get("/").content.decode()
    assert ">Incident 1<" in html and "bulk-apply" not in html and 'name="ids"' not in html


def test_anonymous_people_are_sent_to_sign_in(client):
    response = client.get("/")
    assert response.status_code == 302 and "login" in response["Location"]


def test_the_query_count_is_the_same_for_10_and_1000_incidents(
    client_as, responder, services, django_assert_max_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    c = client_as(responder)
    url = "/?sort=priority&status=triggered&status=acknowledged&per_page=250"
    make_incidents(10)
    c.get(url)  # warm the session
    with CaptureQueriesContext(connection) as small:
        assert c.get(url).status_code == 200
    make_incidents(990, start=11)
    with django_assert_max_num_queries(len(small.captured_queries)) as big:
        response = c.get(url)
    assert response.status_code == 200
    assert len(big.captured_queries) == len(small.captured_queries) <= 16
    assert "1\u2013250 of 667" in response.content.decode()


def test_it_filters_by_priority_including_no_priority(client_as, responder, services):
    make_incidents(8)
    c = client_as(responder)
    with_p1 = c.get(f"/?priority=PPRI1&{EVERY_STATUS}").content.decode()
    assert ">Incident 4<" in with_p1 and ">Incident 8<" in with_p1 and ">Incident 3<" not in with_p1
    none = c.get(f"/?priority=none&{EVERY_STATUS}").content.decode()
    assert ">Incident 3<" in none and ">Incident 4<" not in none
    both = c.get(f"/?priority=none&priority=PPRI1&{EVERY_STATUS}").content.decode()
    assert ">Incident 3<" in both and ">Incident 4<" in both
    excluded = c.get(f"/?not_priority=PPRI1&{EVERY_STATUS}").content.decode()
    assert ">Incident 4<" not in excluded and ">Incident 3<" in excluded


def test_it_sorts_by_assignee(client_as, responder, services):
    make_incidents(3)
    zed = PagerDutyUser.objects.create(pd_id="PZED", name="Zed", email="z@example.com")
    aaron = PagerDutyUser.objects.create(pd_id="PAAR", name="Aaron", email="a@example.com")
    Incident.objects.get(number=1).assignees.set([zed])
    Incident.objects.get(number=2).assignees.set([aaron])
    html = client_as(responder).get(f"/?sort=assignees&{EVERY_STATUS}").content.decode()
    assert html.index(">Incident 2<") < html.index(">Incident 3<") < html.index(">Incident 1<")


@pytest.mark.parametrize(
    "query",
    [
        "page=abc",
        "page=-1",
        "page=99999",
        "sort=bogus",
        "per_page=7",
        "since=2026-13-45",
        "until=yesterday",
        "q=%00%25_",
        "status=exploded",
        "service=PNOPE",
        "assigned=everyone",
    ],
)
def test_odd_query_strings_never_give_a_500(client_as, responder, services, query):
    make_incidents(3)
    assert client_as(responder).get(f"/?{query}").status_code == 200
