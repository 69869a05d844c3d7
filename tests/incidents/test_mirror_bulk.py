"""incidents.mirror.upsert_incidents: a page in a constant handful of queries, the same rows as one by one."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from accounts.models import PagerDutyUser, Team
from incidents import mirror, sync
from incidents.models import Alert, Incident, Note, Priority
from services.models import EscalationPolicy, Service
from tests.incidents.factories import alert_json, incident_json, ref

WEBHOOKS = Path(__file__).resolve().parents[1] / "fixtures" / "webhooks"
FROZEN = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
MODELS = (Incident, Team, PagerDutyUser, Service, EscalationPolicy, Priority, Alert, Note)


def _rows() -> dict[str, list[dict]]:
    """Every row the incident upserts touch, by PagerDuty id (`synced_at` is bookkeeping, not content)."""
    out: dict[str, list[dict]] = {}
    for model in MODELS:
        rows = []
        for obj in model.objects.order_by("pd_id"):
            row = {}
            for f in model._meta.concrete_fields:
                if f.name in ("id", "synced_at"):
                    continue
                value = getattr(obj, f.attname)
                if f.is_relation and value is not None:
                    value = f.related_model.objects.filter(pk=value).values_list("pd_id", flat=True).first()
                row[f.name] = value
            for m2m in model._meta.many_to_many:
                row[m2m.name] = sorted(getattr(obj, m2m.name).values_list("pd_id", flat=True))
            rows.append(row)
        out[model._meta.label] = rows
    return out


def _digest(rows: dict) -> str:
    return hashlib.sha256(json.dumps(rows, sort_keys=True, default=str).encode()).hexdigest()


def _webhook(name: str) -> tuple[dict, datetime]:
    event = json.loads((WEBHOOKS / name).read_text())["event"]
    return event["data"], mirror.parse_time(event["occurred_at"])


def _first_page() -> list[dict]:
    page = [
        incident_json(f"PB{n:03}", n, title=f"Incident {n}", updated_at=f"2026-11-20T10:{n % 60:02}:00Z")
        for n in range(1, 31)
    ]
    page[3]["service"] = ref("service", "PSVCNEW", "Billing")  # unknown: becomes a stub
    page[4]["teams"] = [ref("team", "PTEAM1"), ref("team", "PTEAM1"), ref("team", "PTEAM2", "Data")]
    page[5]["priority"] = None
    page[6].update(status="resolved", resolved_at="2026-11-20T11:00:00Z")
    del page[7]["assignments"]
    page[8]["assignments"] = [
        {"assignee": ref("user", "PUSR1")},
        {"assignee": {"id": "PUSR9", "type": "user_reference", "summary": "Nina New", "email": "nina@example.com"}},
    ]
    page.append({"type": "incident", "title": "no id, ignored"})
    # The same incident twice in one page: the later, newer copy wins; an older third copy is skipped.
    page.append(incident_json("PB002", 2, title="Renamed", status="acknowledged", updated_at="2026-11-20T12:00:00Z"))
    page.append(incident_json("PB002", 2, title="Stale", status="resolved", updated_at="2026-11-20T09:00:00Z"))
    return page


def _second_page() -> list[dict]:
    return [
        incident_json("PB001", 1, title="Incident 1", status="acknowledged", updated_at="2026-11-21T00:00:00Z"),
        incident_json("PB003", 3, title="Older", status="resolved", updated_at="2026-11-19T00:00:00Z"),
        incident_json("PB004", 4, title="Same time", updated_at="2026-11-20T10:04:00Z", teams=[]),
        {"id": "PB005", "type": "incident", "status": "acknowledged"},  # partial: keeps the other columns
        {"id": "PB007", "type": "incident", "status": "triggered"},  # reopened: clears resolved_at
        incident_json("PSTUB", 77, title="Now known", updated_at="2026-11-21T00:00:00Z"),
        incident_json("PB031", 31, updated_at="2026-11-21T00:00:00Z", service=ref("service", "PSVC2", "Search")),
    ]


def _scenario(store) -> tuple[str, dict, list]:
    """The same history through `store(items, changed_at, refs)`; returns the mirror's digest, rows and answers."""
    sid = transaction.savepoint_create()
    try:
        refs = mirror.Refs()
        answers = [[(i.pd_id, i.status) for i in store(_first_page(), None, refs)]]
        # Alerts feed the search text of the rows that are updated next; a note stubs an unknown incident.
        mirror.upsert_alert(alert_json("PA1", "PB001"))
        mirror.upsert_alert(alert_json("PA2", "PB001", summary="Second alert", created_at="2026-11-20T10:05:00Z"))
        mirror.upsert_alert(alert_json("PA3", "PB004", summary="Same second", created_at="2026-11-20T10:00:00Z"))
        mirror.upsert_note({"id": "PN1", "content": "x", "incident": ref("incident", "PSTUB")})
        answers.append([(i.pd_id, i.status) for i in store(_second_page(), None, refs)])
        for name in ("incident.priority_updated.json", "incident.reassigned.json", "incident.resolved.json"):
            data, occurred_at = _webhook(name)
            answers.append([(i.pd_id, i.status) for i in store([data], occurred_at, refs)])
        rows = _rows()
        return _digest(rows), rows, answers
    finally:
        transaction.savepoint_rollback(sid)


def _one_by_one(items, changed_at, refs):
    stored = (mirror.upsert_incident(item, changed_at=changed_at, refs=refs) for item in items)
    return [i for i in stored if i is not None]


def _bulk(items, changed_at, refs):
    return mirror.upsert_incidents(items, changed_at=changed_at, refs=refs)


@pytest.mark.django_db
def test_the_bulk_path_writes_exactly_the_rows_of_the_single_path(monkeypatch):
    # Stubs and defaults take "now": freeze it so both runs can be compared byte for byte.
    monkeypatch.setattr(mirror.timezone, "now", lambda: FROZEN)
    single_digest, single_rows, single_answers = _scenario(_one_by_one)
    bulk_digest, bulk_rows, bulk_answers = _scenario(_bulk)
    assert bulk_rows == single_rows
    assert bulk_digest == single_digest
    assert bulk_answers == single_answers
    # The scenario really exercised the guard, stubs, partial payloads and the search text.
    incidents = {row["pd_id"]: row for row in bulk_rows["incidents.Incident"]}
    assert incidents["PB002"]["title"] == "Renamed" and incidents["PB003"]["status"] == "triggered"
    assert incidents["PB005"]["title"] == "Incident 5" and incidents["PB007"]["resolved_at"] is None
    assert incidents["PB004"]["teams"] == [] and incidents["PB005"]["teams"] == ["PTEAM1", "PTEAM2"]
    assert incidents["PSTUB"]["title"] == "Now known"
    assert "second alert" in incidents["PB001"]["search_text"]
    assert any(row["pd_id"] == "PSVCNEW" and row["raw"] == {} for row in bulk_rows["services.Service"])
    assert any(row["email"] == "nina@example.com" for row in bulk_rows["accounts.PagerDutyUser"])


def _page(start: int, size: int, updated_at: str) -> list[dict]:
    return [incident_json(f"PQ{n:04}", n, updated_at=updated_at) for n in range(start, start + size)]


@pytest.mark.django_db
def test_a_page_costs_the_same_few_queries_whatever_its_size(django_assert_max_num_queries):
    refs = mirror.Refs()
    mirror.upsert_incidents(_page(0, 1, "2026-11-20T10:00:00Z"), refs=refs)  # loads the id maps, makes the stubs
    mirror.upsert_alert(alert_json("PQA", "PQ0000"))
    counts = {}
    # The bounds count the savepoint statements of transaction.atomic() too: 4 real queries to insert a page,
    # 7 to update one (plus its alerts' summaries and each M2M's DELETE), 1 when every row is older than the mirror's.
    for start, size in ((1, 1), (100, 10), (1000, 100)):
        with CaptureQueriesContext(connection) as inserted, django_assert_max_num_queries(8):
            assert len(mirror.upsert_incidents(_page(start, size, "2026-11-20T10:00:00Z"), refs=refs)) == size
        with CaptureQueriesContext(connection) as updated, django_assert_max_num_queries(9):
            mirror.upsert_incidents(_page(start, size, "2026-11-21T10:00:00Z"), refs=refs)
        with CaptureQueriesContext(connection) as skipped, django_assert_max_num_queries(3):
            mirror.upsert_incidents(_page(start, size, "2026-11-19T10:00:00Z"), refs=refs)
        counts[size] = (len(inserted), len(updated), len(skipped))
    assert counts[1] == counts[10] == counts[100], counts
    assert Incident.objects.filter(changed_at=mirror.parse_time("2026-11-21T10:00:00Z")).count() == 111
    assert Incident.objects.get(pd_id="PQ1050").assignees.get().pd_id == "PUSR1"


@pytest.mark.django_db
def test_the_bulk_update_stamps_synced_at_like_save_does():
    mirror.upsert_incidents([incident_json()])
    Incident.objects.update(synced_at=datetime(2020, 1, 1, tzinfo=UTC))
    mirror.upsert_incidents([incident_json(updated_at="2026-11-21T00:00:00Z")])
    assert Incident.objects.get().synced_at.year > 2020


@pytest.mark.django_db
def test_a_concurrent_insert_during_a_bulk_insert_is_settled_under_the_guard(monkeypatch):
    # Lose the race: the page's lookup saw no rows, but another writer inserted one before our INSERT.
    mirror.upsert_incident(incident_json(status="acknowledged", updated_at="2026-11-20T10:05:00Z"))
    real = Incident.objects.select_for_update

    class Blind:
        def filter(self, **kwargs):
            monkeypatch.setattr(Incident.objects, "select_for_update", real)
            return []

    monkeypatch.setattr(Incident.objects, "select_for_update", Blind)
    page = [
        incident_json(status="triggered", updated_at="2026-11-20T10:01:00Z"),  # older than the winner
        incident_json("PINC2", 2),
    ]
    stored = mirror.upsert_incidents(page)
    assert [i.pd_id for i in stored] == ["PINC1", "PINC2"]
    assert Incident.objects.get(pd_id="PINC1").status == "acknowledged"
    assert Incident.objects.get(pd_id="PINC2").assignees.get().pd_id == "PUSR1"


@pytest.mark.django_db(transaction=True)
@pytest.mark.sandbox
def test_the_sync_stores_incident_pages_in_bulk_with_the_single_paths_rows(sandbox, sandbox_client, monkeypatch):
    steps = ("priorities", "teams", "users", "escalation_policies", "services", "incidents")
    calls = []
    real_bulk = mirror.upsert_incidents
    monkeypatch.setattr(mirror, "upsert_incidents", lambda items, **kw: calls.append(1) or real_bulk(items, **kw))
    sync.sync_all(client=sandbox_client, steps=steps)
    assert calls, "the incidents step did not use the bulk path"
    bulk = _rows()
    assert len(bulk["incidents.Incident"]) > 0
    # Again over the stored rows (the update path), then one by one from scratch and over the stored rows.
    sync.sync_all(client=sandbox_client, steps=steps)
    assert _rows() == bulk
    one_by_one = sync.one_by_one(lambda d, r: mirror.upsert_incident(d, refs=r))
    monkeypatch.setattr(sync, "store_incident_page", one_by_one)
    Incident.objects.all().delete()
    sync.sync_all(client=sandbox_client, steps=("incidents",))
    assert _digest(_rows()) == _digest(bulk)
