"""Pagination: concurrent, complete, in order, no duplicates, and time windows past 10,000 records."""

import json
import threading
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from pdportal.pagerduty import RequestBudget, list_all
from pdportal.pagerduty.pages import TooManyRecords, iter_pages

from .conftest import API

START = datetime(2026, 1, 1, tzinfo=UTC)


def query(request):
    return {k: v if k.endswith("[]") else v[0] for k, v in parse_qs(urlsplit(request.url).query).items()}


class FakeList:
    """A list endpoint that behaves like PagerDuty: offset/limit/total, and offset+limit capped at 10,000."""

    def __init__(self, records, key="incidents", with_total=True):
        self.records = records
        self.key = key
        self.with_total = with_total
        self.requests = []
        self.lock = threading.Lock()
        self.after_first = None  # hook run once the first page has been served

    def visible(self, q):
        rows = self.records
        if "since" in q:
            since = datetime.fromisoformat(q["since"].replace("Z", "+00:00"))
            until = datetime.fromisoformat(q["until"].replace("Z", "+00:00"))
            rows = [r for r in rows if since <= r["at"] < until]
        return rows

    def __call__(self, request):
        q = query(request)
        offset, limit = int(q.get("offset", 0)), int(q.get("limit", 25))
        with self.lock:
            self.requests.append(q)
            if offset + limit > 10_000:
                body = {"error": {"message": "Invalid Input Provided", "code": 2001, "errors": ["Offset too big"]}}
                return 400, {}, json.dumps(body)
            rows = self.visible(q)
            body = {
                self.key: [{k: v for k, v in r.items() if k != "at"} for r in rows[offset : offset + limit]],
                "offset": offset,
                "limit": limit,
                "more": offset + limit < len(rows),
            }
            if self.with_total and q.get("total") == "true":
                body["total"] = len(rows)
            if offset == 0 and self.after_first is not None:
                hook, self.after_first = self.after_first, None
                hook()
        return 200, {}, json.dumps(body)


def make_records(n, prefix="P", spacing=timedelta(minutes=1)):
    return [{"id": f"{prefix}{i:06d}", "at": START + i * spacing} for i in range(n)]


def ids(records):
    return [r["id"] for r in records]


def test_it_fetches_every_page_concurrently_and_in_order(client, mocked):
    fake = FakeList(make_records(1234))
    mocked.add_callback(responses.GET, f"{API}/incidents", callback=fake)
    records = list_all(client, "/incidents", {"statuses": ["triggered"]}, concurrency=4)
    assert ids(records) == [f"P{i:06d}" for i in range(1234)]
    assert fake.requests[0]["total"] == "true"
    assert fake.requests[0]["statuses[]"] == ["triggered"]
    assert sorted(int(q["offset"]) for q in fake.requests) == list(range(0, 1300, 100))
    assert all(q["limit"] == "100" for q in fake.requests)


def test_it_reports_progress_after_each_page(client, mocked):
    mocked.add_callback(responses.GET, f"{API}/incidents", callback=FakeList(make_records(250)))
    seen = []
    list_all(client, "/incidents", progress=lambda done, total: seen.append((done, total)))
    assert seen == [(100, 250), (200, 250), (250, 250)]


def test_it_drops_duplicates_when_records_shift_between_pages(client, mocked):
    fake = FakeList(make_records(250))
    fake.after_first = lambda: fake.records.insert(0, {"id": "NEW", "at": START})
    mocked.add_callback(responses.GET, f"{API}/incidents", callback=fake)
    records = list_all(client, "/incidents")
    assert ids(records) == [f"P{i:06d}" for i in range(250)]


def test_it_keeps_paging_when_records_arrive_past_the_planned_last_page(client, mocked):
    fake = FakeList(make_records(200))
    fake.after_first = lambda: fake.records.insert(0, {"id": "NEW", "at": START})
    mocked.add_callback(responses.GET, f"{API}/incidents", callback=fake)
    records = list_all(client, "/incidents")
    assert ids(records) == [f"P{i:06d}" for i in range(200)]
    assert sorted(int(q["offset"]) for q in fake.requests) == [0, 100, 200]


def test_it_falls_back_to_more_driven_paging_without_a_total(client, mocked):
    fake = FakeList(make_records(230), key="users", with_total=False)
    mocked.add_callback(responses.GET, f"{API}/users", callback=fake)
    records = client.list_all("/users")
    assert ids(records) == [f"P{i:06d}" for i in range(230)]
    assert [int(q["offset"]) for q in fake.requests] == [0, 100, 200]


def test_it_uses_the_last_path_segment_as_the_list_key(client, mocked):
    fake = FakeList(make_records(3), key="alerts")
    mocked.add_callback(responses.GET, f"{API}/incidents/P1/alerts", callback=fake)
    assert ids(client.list_all("/incidents/P1/alerts")) == ["P000000", "P000001", "P000002"]


def test_it_accepts_an_explicit_list_key(client, mocked):
    fake = FakeList(make_records(2), key="oncalls")
    mocked.add_callback(responses.GET, f"{API}/oncalls/everyone", callback=fake)
    assert len(client.list_all("/oncalls/everyone", key="oncalls")) == 2


def test_it_splits_more_than_10000_records_into_time_windows(client, mocked):
    fake = FakeList(make_records(12_345, spacing=timedelta(seconds=30)), key="log_entries")
    mocked.add_callback(responses.GET, f"{API}/log_entries", callback=fake)
    since, until = START, START + timedelta(days=7)
    records = list_all(client, "/log_entries", {"since": since.isoformat(), "until": until.isoformat()})
    assert ids(records) == [f"P{i:06d}" for i in range(12_345)]
    assert all(int(q["offset"]) + int(q["limit"]) <= 10_000 for q in fake.requests)
    windows = {(q["since"], q["until"]) for q in fake.requests}
    assert len(windows) >= 3  # the whole range, then at least its two halves


def test_it_bisects_a_window_that_still_holds_more_than_10000(client, mocked):
    # Everything sits in the last hour of a long range, so several bisections are needed.
    late = START + timedelta(days=30)
    rows = [{"id": f"L{i:06d}", "at": late + i * timedelta(milliseconds=300)} for i in range(10_050)]
    fake = FakeList(rows)
    mocked.add_callback(responses.GET, f"{API}/incidents", callback=fake)
    records = list_all(client, "/incidents", {"since": START, "until": late + timedelta(hours=1)})
    assert ids(records) == [r["id"] for r in rows]


def test_it_refuses_to_silently_truncate_past_10000_without_a_time_range(client, mocked):
    mocked.add_callback(responses.GET, f"{API}/incidents", callback=FakeList(make_records(10_001)))
    with pytest.raises(TooManyRecords, match="since"):
        list_all(client, "/incidents")


def test_every_page_goes_through_the_shared_budget(make_client, mocked):
    budget = RequestBudget(per_minute=900)
    client = make_client(budget=budget)
    mocked.add_callback(responses.GET, f"{API}/services", callback=FakeList(make_records(450), key="services"))
    iterated = list(iter_pages(client, "/services", concurrency=8))
    assert [len(page) for page in iterated] == [100, 100, 100, 100, 50]
    assert budget.total == 5


def test_it_really_fetches_pages_at_the_same_time(client, mocked):
    fake = FakeList(make_records(300))
    barrier = threading.Barrier(2, timeout=5)

    def callback(request):
        # Pages 2 and 3 only answer once both are in flight: sequential paging would time out here.
        if query(request)["offset"] in ("100", "200"):
            barrier.wait()
        return fake(request)

    mocked.add_callback(responses.GET, f"{API}/incidents", callback=callback)
    assert len(list_all(client, "/incidents", concurrency=2)) == 300
