"""incidents.sync and `manage.py pd_sync` against the sandbox: every mirrored kind is filled; re-runs are harmless."""

from __future__ import annotations

import threading
import time
from io import StringIO

import pytest
from django.core.management import call_command

from accounts.models import PagerDutyUser, Team
from incidents import sync
from incidents.models import Alert, ChangeEvent, Incident, LogEntry, Note, Priority, StatusUpdateTemplate
from pdportal.models import SyncState
from pdportal.pagerduty import PagerDutyClient, RequestBudget, Unauthorized
from services.models import EscalationPolicy, Service
from tests.incidents.factories import incident_json
from tests.sandbox_server import SMALL_SEED

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.sandbox]


def test_it_fills_every_mirrored_kind_from_the_sandbox(small_sandbox, sandbox_client):
    # The small seed has every kind; the default 200 incidents would prove nothing more, four times slower.
    steps = []
    report = sync.sync_all(client=sandbox_client, progress=lambda step, done, total: steps.append(step))
    assert Priority.objects.count() >= 4
    assert Team.objects.count() >= 3
    assert PagerDutyUser.objects.filter(email="responder@example.com").exists()
    assert EscalationPolicy.objects.count() >= 3
    assert Service.objects.filter(name="API Gateway", escalation_policy__isnull=False).exists()
    assert StatusUpdateTemplate.objects.filter(name="Investigating").exists()
    incidents = Incident.objects.count()
    assert incidents == SMALL_SEED
    assert report.counts["incidents"] == incidents
    assert Incident.objects.filter(assignees__isnull=False).exists()
    assert Incident.objects.filter(teams__isnull=False).exists()
    assert Alert.objects.filter(incident__isnull=False).exists()
    assert LogEntry.objects.exists()
    assert set(steps) >= {"teams", "users", "services", "incidents", "log_entries"}
    state = SyncState.objects.get(name="initial_sync")
    assert state.status == "done" and state.watermark is not None and state.done == report.total
    # Every service the incidents reference was also synced in full (no stub left behind).
    assert not Service.objects.filter(raw={}).exists()
    assert Note.objects.exists() and ChangeEvent.objects.filter(services__isnull=False).exists()

    again = sync.sync_all(client=sandbox_client)
    assert Incident.objects.count() == incidents
    assert again.counts["incidents"] == incidents


class OverlapRecorder(PagerDutyClient):
    """A PagerDuty that serves `total` incidents 100 a page, slowly, and records how many pages are in flight."""

    def __init__(self, total: int, *, delay: float = 0.05) -> None:
        super().__init__(token="fake", api_url="https://api.pagerduty.test", budget=RequestBudget(per_minute=10**6))
        self.total, self.delay = total, delay
        self.lock = threading.Lock()
        self.in_flight = self.max_in_flight = 0
        self.offsets: list[int] = []

    def get(self, path, params=None, **kw):
        assert path == "/incidents", path
        params = dict(params or {})
        offset, limit = int(params.get("offset", 0)), int(params.get("limit", 25))
        with self.lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            self.offsets.append(offset)
        try:
            time.sleep(self.delay)  # long enough for a concurrent fetch to overlap the next one
            rows = [incident_json(f"PF{n:05d}", n + 1) for n in range(offset, min(offset + limit, self.total))]
            body = {"incidents": rows, "limit": limit, "offset": offset, "more": offset + limit < self.total}
            return {**body, "total": self.total} if params.get("total") else body
        finally:
            with self.lock:
                self.in_flight -= 1


def test_it_fetches_incident_pages_concurrently(settings):
    settings.PAGERDUTY_SYNC_CONCURRENCY = 4
    client = OverlapRecorder(total=650)
    report = sync.sync_all(client=client, steps=["incidents"])
    assert report.counts["incidents"] == 650 == Incident.objects.count()
    assert sorted(client.offsets) == list(range(0, 700, 100))
    # After the first page (which tells the total), the other six are fetched several at a time.
    assert client.max_in_flight >= 2


def test_a_failed_sync_is_recorded(sandbox):
    bad = PagerDutyClient(token="wrong", api_url=sandbox.url, max_retries=0)
    with pytest.raises(Unauthorized):
        sync.sync_all(client=bad)
    state = SyncState.objects.get(name="initial_sync")
    assert state.status == "failed" and state.error


def test_the_command_shows_a_progress_bar(portal_on_small_sandbox):
    out = StringIO()
    call_command("pd_sync", "--details", "5", stdout=out)
    text = out.getvalue()
    assert "incidents" in text and "[####" in text and "Synced in" in text
    assert Incident.objects.count() == SMALL_SEED


@pytest.mark.django_db
def test_the_command_explains_a_missing_connection_and_bad_options(settings):
    from django.core.management.base import CommandError

    settings.PAGERDUTY_API_TOKEN = ""
    settings.PAGERDUTY_CLIENT_ID = ""
    with pytest.raises(CommandError, match="not connected to PagerDuty"):
        call_command("pd_sync", stdout=StringIO())
    with pytest.raises(CommandError, match="--days"):
        call_command("pd_sync", "--days", "365", stdout=StringIO())


def test_unknown_steps_are_refused(sandbox_client):
    with pytest.raises(ValueError, match="Unknown sync steps"):
        sync.sync_all(client=sandbox_client, steps=["incidents", "bogus"])
