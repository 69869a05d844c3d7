"""CSV and JSON exports of the incident list: the list's filters and visibility, every page, streamed in chunks."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import PagerDutyUser, Team
from incidents import selectors
from incidents.models import Incident
from services.models import Service

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 12, 7, 2, 20, tzinfo=UTC)


def _content(response) -> str:
    assert response.streaming, "the export is streamed, never built whole"
    return b"".join(response.streaming_content).decode()


def _rows(response) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(_content(response))))


# Without `status` the list (and so its export) is the triage home's open incidents: ask for every status.
EVERY_STATUS = "status=triggered&status=acknowledged&status=resolved"


@pytest.fixture
def incidents(db):
    public = Team.objects.get_or_create(pd_id="PTEAM1", defaults={"name": "Platform", "default_role": Team.PUBLIC})[0]
    secret = Team.objects.create(pd_id="PSECRET", name="Secret Ops", default_role=Team.PRIVATE)
    api = Service.objects.create(pd_id="PSVCA", name="API Gateway")
    hidden = Service.objects.create(pd_id="PSVCH", name="Hidden Vault")
    hidden.teams.add(secret)
    xavier = PagerDutyUser.objects.create(pd_id="PUSRX", name="Xavier", email="x@example.com")
    made = []
    for n in range(1, 8):
        made.append(
            Incident.objects.create(
                pd_id=f"PI{n:06d}",
                number=n,
                title=f"Incident {n}" if n != 3 else '=HYPERLINK("http://evil")',
                status=["triggered", "acknowledged", "resolved"][n % 3],
                urgency="high" if n % 2 else "low",
                service=api,
                created_at=T0 - timedelta(minutes=n),
                alert_count=n,
                search_text=f"incident {n} #{n}",
            )
        )
        made[-1].teams.add(public)
        made[-1].assignees.add(xavier)
    private = Incident.objects.create(
        pd_id="PPRIVATE",
        number=99,
        title="Private team's incident",
        status="triggered",
        urgency="high",
        service=hidden,
        created_at=T0,
        search_text="private 99 #99",
    )
    private.teams.add(secret)
    return made


def test_the_csv_holds_every_matching_incident_across_pages_in_the_lists_order(client_as, responder, incidents):
    response = client_as(responder).get("/incidents.csv?status=triggered&status=acknowledged&per_page=25&page=2")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = _rows(response)
    # The page number is the list's, not the export's: every matching incident, newest first.
    assert [r["number"] for r in rows] == ["1", "3", "4", "6", "7"]
    first = rows[0]
    assert first["id"] == "PI000001"
    assert first["status"] == "acknowledged"
    assert first["service"] == "API Gateway"
    assert first["assignees"] == "Xavier"
    assert first["created_at"] == "2026-12-07T02:19:00Z"


def test_csv_cells_cannot_run_as_spreadsheet_formulas(client_as, responder, incidents):
    rows = _rows(client_as(responder).get("/incidents.csv?q=%233"))
    assert [r["title"] for r in rows] == ['\'=HYPERLINK("http://evil")']


def test_the_json_export_has_the_same_incidents_and_utc_times(client_as, responder, incidents):
    response = client_as(responder).get(f"/incidents.json?{EVERY_STATUS}&urgency=high")
    assert response["Content-Type"].startswith("application/json")
    data = json.loads(_content(response))
    assert [i["number"] for i in data["incidents"]] == [1, 3, 5, 7]
    assert data["incidents"][0]["created_at"] == "2026-12-07T02:19:00Z"
    assert data["incidents"][0]["assignees"] == ["Xavier"]
    # Untouched: the JSON carries the raw title, no spreadsheet guard.
    assert data["incidents"][1]["title"] == '=HYPERLINK("http://evil")'


def test_a_private_teams_incident_never_appears_for_a_non_member(client_as, responder, observer, admin, incidents):
    for person in (responder, observer):
        for url in ("/incidents.csv", "/incidents.json", "/incidents.csv?q=private"):
            text = _content(client_as(person).get(url))
            assert "PPRIVATE" not in text and "Private team" not in text
    # The account's admins see every team's incidents, PagerDuty's rule.
    assert "PPRIVATE" in _content(client_as(admin).get("/incidents.csv"))


def test_an_observer_may_export_and_an_outsider_may_not(client_as, observer, outsider, incidents):
    assert len(_rows(client_as(observer).get(f"/incidents.csv?{EVERY_STATUS}"))) == 7
    for url in ("/incidents.csv", "/incidents.json"):
        response = client_as(outsider).get(url)
        assert response.status_code == 403
        assert b"PI000001" not in b"".join(getattr(response, "streaming_content", [response.content]))


def test_an_anonymous_visitor_is_sent_to_sign_in(client, incidents):
    response = client.get("/incidents.csv")
    assert response.status_code == 302


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_bad_filters_get_a_clear_400_never_a_500(client_as, responder, incidents, fmt):
    response = client_as(responder).get(f"/incidents.{fmt}?since=yesterday-ish&status=exploded")
    assert response.status_code == 400
    text = response.content.decode()
    assert "Created from" in text and "Status" in text
    assert "PI000001" not in text


def test_the_export_reads_in_chunks_with_the_same_queries_per_chunk(responder, incidents):
    def count(chunk_size: int) -> tuple[int, int]:
        with CaptureQueriesContext(connection) as queries:
            chunks = list(selectors.incident_export_chunks(filters={}, user=responder, chunk_size=chunk_size))
        return len(chunks), len(queries)

    count(100)  # the person's scope (their teams, the private teams) is read once and kept
    chunks_small, queries_small = count(2)
    chunks_big, queries_big = count(100)
    assert chunks_small == 4 and chunks_big == 1
    assert queries_small == 2 * chunks_small and queries_big == 2  # per chunk: the rows' columns, their assignees
    assert all(len(c) <= 2 for c in selectors.incident_export_chunks(filters={}, user=responder, chunk_size=2))


def test_without_a_status_the_export_is_the_homes_open_incidents_as_the_list_shows_them(
    client_as, responder, incidents
):
    open_numbers = ["1", "3", "4", "6", "7"]  # 2 and 5 are resolved
    assert [r["number"] for r in _rows(client_as(responder).get("/incidents.csv"))] == open_numbers
    html = client_as(responder).get("/").content.decode()
    assert re.findall(r'data-incident="PI0+(\d+)"', html) == open_numbers
    assert 'href="/incidents.csv"' in html  # the home's link: the same default, applied by the same form
    every = [r["number"] for r in _rows(client_as(responder).get(f"/incidents.csv?{EVERY_STATUS}"))]
    assert every == ["1", "2", "3", "4", "5", "6", "7"]


def test_the_list_links_to_its_exports_with_the_current_filters(client_as, responder, incidents):
    html = client_as(responder).get("/?status=triggered&service=PSVCA&sort=number&page=1").content.decode()
    assert 'href="/incidents.csv?status=triggered&amp;service=PSVCA&amp;sort=number"' in html
    assert 'href="/incidents.json?status=triggered&amp;service=PSVCA&amp;sort=number"' in html


def test_under_asgi_the_export_is_an_async_stream_not_a_list_django_collects_first(responder, incidents):
    from asgiref.sync import async_to_sync
    from django.test import AsyncClient

    client = AsyncClient()
    client.force_login(responder, backend="django.contrib.auth.backends.ModelBackend")

    async def download() -> tuple[bool, str]:
        response = await client.get(f"/incidents.csv?{EVERY_STATUS}&urgency=low")
        body = b"".join([part async for part in response.streaming_content])
        return response.is_async, body.decode()

    is_async, text = async_to_sync(download)()
    assert is_async
    assert [r["number"] for r in csv.DictReader(io.StringIO(text))] == ["2", "4", "6"]
