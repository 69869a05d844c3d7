"""The background jobs against the sandbox: enrichment and reconcile see real changes; re-running is a no-op."""

from __future__ import annotations

import pytest

from incidents import tasks, webhooks
from incidents.models import Incident, LogEntry
from pdportal.models import SyncState
from tests.live.conftest import mirror_hash
from tests.sandbox_server import SMALL_SEED

pytestmark = [pytest.mark.sandbox, pytest.mark.django_db]


@pytest.fixture
def against_sandbox(small_sandbox, settings, api_key_mode):
    # The small seed: two full syncs of the default 200 incidents would prove nothing more, five times slower.
    settings.PAGERDUTY_API_URL = small_sandbox.url
    settings.PAGERDUTY_EVENTS_URL = small_sandbox.url
    return small_sandbox


def _first_triggered(sandbox) -> str:
    response = sandbox.get("/incidents", params={"statuses[]": "triggered", "limit": 1})
    return response.json()["incidents"][0]["id"]


def test_sync_reconcile_and_enrichment_follow_the_sandbox_and_replaying_them_changes_nothing(against_sandbox):
    sandbox = against_sandbox
    tasks.full_sync()
    assert Incident.objects.count() == SMALL_SEED
    pd_id = _first_triggered(sandbox)
    assert Incident.objects.get(pd_id=pd_id).status == "triggered"

    response = sandbox.put(
        f"/incidents/{pd_id}",
        headers={"From": "responder@example.com"},
        json={"incident": {"type": "incident_reference", "status": "acknowledged"}},
    )
    assert response.status_code == 200, response.text
    # No webhook reached us (no subscription): the reconcile heals it from /log_entries.
    SyncState.objects.filter(name="reconcile").delete()
    assert tasks.reconcile() >= 1
    incident = Incident.objects.get(pd_id=pd_id)
    assert incident.status == "acknowledged"
    assert LogEntry.objects.filter(incident=incident, type="acknowledge_log_entry").exists()

    webhooks.enrich_incident(pd_id)
    settled = mirror_hash()
    webhooks.enrich_incident(pd_id)
    tasks.reconcile()
    assert mirror_hash() == settled
    # The full sync reads lists where enrichment reads single objects: both must store the same bytes.
    tasks.full_sync()
    assert mirror_hash() == settled
