"""Insights: MTTA, MTTR, counts and "woke someone" from the mirror, checked against figures worked out by hand."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest

pytestmark = pytest.mark.django_db

# The fixture, relative to T = a Wednesday 12:00 UTC between 1 and 8 days ago (inside every window):
#   I1  API     high  T          ack Rita (Berlin) +4 min (again at +20)   resolved +30 min (resolved_at)
#   I2  API     low   T + 1 h    ack Omar (Los Angeles) +10 min            resolved +120 min (log entry only)
#   I3  DB      high  T + 2 h    never acknowledged                        resolved +60 min
#   I4  DB      high  T + 3 h    ack Rita +6 min                           still acknowledged
#   I5  API     high  T - 40 d   ack +1 min, resolved +1 min               outside the 30-day window
# By hand:
#   MTTA = (4 + 10 + 6) / 3 min = 6 min 40 s = 400 s;   MTTR = (30 + 120 + 60) / 3 min = 70 min = 4200 s
#   API:  MTTA (4 + 10) / 2 = 7 min = 420 s,  MTTR (30 + 120) / 2 = 75 min = 4500 s
#   DB:   MTTA 6 min = 360 s,                 MTTR 60 min = 3600 s
#   high: MTTA (4 + 6) / 2 = 5 min = 300 s,   MTTR (30 + 60) / 2 = 45 min = 2700 s;  low: 600 s, 7200 s
#   Woke someone: I2 was triggered at 13:00 UTC = 05:00/06:00 in Los Angeles, outside Omar's 08:00-18:00;
#   I1 (13:00/14:00 Berlin) and I4 (16:00/17:00 Berlin) were inside Rita's: 1 of 3 acknowledged.
EXPECTED = {"mtta": 400, "mttr": 4200, "incidents": 4, "woke": 1, "acknowledged": 3}


def _wednesday_noon() -> datetime:
    day = datetime.now(UTC) - timedelta(days=1)
    while day.weekday() != 2:
        day -= timedelta(days=1)
    return day.replace(hour=12, minute=0, second=0, microsecond=0)


@pytest.fixture
def fixture_incidents(db):
    from accounts.models import PagerDutyUser, Team
    from incidents.models import Incident, LogEntry
    from services.models import Service

    t = _wednesday_noon()
    rita = PagerDutyUser.objects.create(
        pd_id="PRITA01", name="Rita", email="rita@example.com", time_zone="Europe/Berlin"
    )
    omar = PagerDutyUser.objects.create(
        pd_id="POMAR01", name="Omar", email="omar@example.com", time_zone="America/Los_Angeles"
    )
    team = Team.objects.create(pd_id="PTEAM01", name="Platform")
    api = Service.objects.create(pd_id="PSVCAPI", name="API")
    db_service = Service.objects.create(pd_id="PSVCDB0", name="DB")
    minute = timedelta(minutes=1)

    def incident(n, service, urgency, created, status, resolved_at=None):
        row = Incident.objects.create(
            pd_id=f"PINC{n:03d}",
            number=n,
            title=f"Incident {n}",
            status=status,
            urgency=urgency,
            service=service,
            created_at=created,
            resolved_at=resolved_at,
        )
        row.teams.add(team)
        return row

    def entry(inc, kind, at, who=None):
        LogEntry.objects.create(
            pd_id=f"R{inc.pk:03d}{kind[:3]}{int(at.timestamp())}",
            incident=inc,
            type=kind,
            created_at=at,
            agent={"id": who.pd_id, "type": "user_reference"} if who else {},
        )

    i1 = incident(1, api, "high", t, "resolved", resolved_at=t + 30 * minute)
    entry(i1, "trigger_log_entry", t)
    entry(i1, "acknowledge_log_entry", t + 4 * minute, rita)
    entry(i1, "acknowledge_log_entry", t + 20 * minute, omar)
    entry(i1, "resolve_log_entry", t + 30 * minute, rita)
    i2 = incident(2, api, "low", t + 60 * minute, "resolved")
    entry(i2, "acknowledge_log_entry", t + 70 * minute, omar)
    entry(i2, "resolve_log_entry", t + 180 * minute, omar)
    i3 = incident(3, db_service, "high", t + 120 * minute, "resolved", resolved_at=t + 180 * minute)
    i4 = incident(4, db_service, "high", t + 180 * minute, "acknowledged")
    entry(i4, "acknowledge_log_entry", t + 186 * minute, rita)
    i5 = incident(5, api, "high", t - timedelta(days=40), "resolved", resolved_at=t - timedelta(days=40) + minute)
    entry(i5, "acknowledge_log_entry", t - timedelta(days=40) + minute, rita)
    del i3
    return t


def test_the_selector_matches_the_hand_computed_figures(fixture_incidents):
    from incidents.insights import insights

    data = insights(days=30)
    assert data.overall.incidents == EXPECTED["incidents"]
    assert data.overall.mtta_seconds == EXPECTED["mtta"]
    assert data.overall.mttr_seconds == EXPECTED["mttr"]
    assert (data.woke, data.woke_of) == (EXPECTED["woke"], EXPECTED["acknowledged"])
    services = {f.label: (f.incidents, f.mtta_seconds, f.mttr_seconds) for f in data.by_service}
    assert services == {"API": (2, 420, 4500), "DB": (2, 360, 3600)}
    urgencies = {f.key: (f.incidents, f.mtta_seconds, f.mttr_seconds) for f in data.by_urgency}
    assert urgencies == {"high": (3, 300, 2700), "low": (1, 600, 7200)}
    assert [(f.label, f.incidents) for f in data.by_team] == [("Platform", 4)]
    assert sum(f.incidents for f in data.by_week) == 4
    assert insights(days=90).overall.incidents == 5


def test_the_insights_page_shows_the_hand_computed_figures_as_accessible_charts(
    fixture_incidents, responder, client_as
):
    html = client_as(responder).get("/insights/?days=30").content.decode()
    assert 'id="figure-incidents">4<' in html
    assert 'data-seconds="400">6 m 40 s<' in html
    assert 'data-seconds="4200">1 h 10 m<' in html
    assert "1 of 3 acknowledged" in html and "33 %" in html
    assert html.count('role="img"') >= 4
    assert html.count("<title id=") >= 4 and html.count("<desc id=") >= 4
    assert '<table id="table-service">' in html and 'data-seconds="420"' in html


def test_the_csv_export_carries_the_same_figures(fixture_incidents, responder, client_as):
    response = client_as(responder).get("/insights.csv?days=30")
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    overall = next(r for r in rows if r["section"] == "overall")
    assert (overall["incidents"], overall["mtta_seconds"], overall["mttr_seconds"]) == ("4", "400", "4200")
    api = next(r for r in rows if r["section"] == "service" and r["label"] == "API")
    assert (api["mtta_seconds"], api["mttr_seconds"]) == ("420", "4500")
    woke = next(r for r in rows if r["section"] == "woke_someone")
    assert (woke["incidents"], woke["acknowledged"]) == ("1", "3")


def test_a_bad_period_falls_back_to_thirty_days(fixture_incidents, responder, client_as):
    html = client_as(responder).get("/insights/?days=abc").content.decode()
    assert '<strong aria-current="page">30 days</strong>' in html


def test_a_team_scoped_viewer_counts_only_their_teams_incidents(fixture_incidents, client_as):
    from tests.personas import make_portal_user

    lena = make_portal_user(email="limited@example.com")
    lena.profile.role = "restricted_access"
    lena.profile.save()
    html = client_as(lena).get("/insights/?days=30").content.decode()
    assert 'id="figure-incidents">0<' in html


def test_a_private_teams_incidents_are_not_counted_for_a_non_member(fixture_incidents, responder, client_as):
    from accounts.models import Team

    html = client_as(responder).get("/insights/?days=90").content.decode()
    assert 'id="figure-incidents">5<' in html
    Team.objects.filter(pd_id="PTEAM01").update(default_role="none")
    html = client_as(responder).get("/insights/?days=90").content.decode()
    assert 'id="figure-incidents">0<' in html
    assert "Platform" not in client_as(responder).get("/insights.csv?days=90").content.decode()


def test_the_insights_page_costs_the_same_queries_for_few_or_many_incidents(fixture_incidents, responder, client_as):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from incidents.models import Incident

    client = client_as(responder)
    assert client.get("/insights/?days=90").status_code == 200
    with CaptureQueriesContext(connection) as few:
        assert 'id="figure-incidents">5<' in client.get("/insights/?days=90").content.decode()
    base = Incident.objects.get(number=4)
    for n in range(10, 60):
        Incident.objects.create(
            pd_id=f"PX{n:05d}",
            number=n,
            title="more",
            status="triggered",
            created_at=base.created_at,
            service=base.service,
        )
    with CaptureQueriesContext(connection) as many:
        assert 'id="figure-incidents">55<' in client.get("/insights/?days=90").content.decode()
    assert len(few) == len(many)
