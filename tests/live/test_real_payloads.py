"""Every real webhook sample in tests/fixtures/webhooks/ is accepted and applied, and replays change nothing."""

from __future__ import annotations

import json

import pytest

from incidents.models import Incident, Note, StatusUpdate
from pdportal.models import WebhookEvent
from services.models import Service
from tests.live.conftest import body_of, mirror_hash, sample_paths

pytestmark = pytest.mark.django_db

SAMPLES = sample_paths()


def _document(path) -> dict:
    return json.loads(path.read_text())


def test_the_fixture_folder_holds_the_samples():
    assert len(SAMPLES) >= 30


@pytest.mark.parametrize("path", SAMPLES, ids=[p.stem for p in SAMPLES])
def test_every_real_sample_is_accepted_and_applied(path, post_webhook, fake_pd, django_capture_on_commit_callbacks):
    document = _document(path)
    event = document["event"]
    data = event["data"]
    with django_capture_on_commit_callbacks(execute=True):
        response = post_webhook(body_of(document))
    assert response.status_code == 202, response.content
    stored = WebhookEvent.objects.get(event_id=event["id"])
    assert stored.event_type == event["event_type"]
    assert stored.processed_at is not None  # applied inline, and enriched where the payload is not enough

    if event["event_type"] == "service.deleted":
        assert not Service.objects.filter(pd_id=data["id"]).exists()
    elif event["resource_type"] == "service":
        assert Service.objects.get(pd_id=data["id"]).name == (data.get("name") or data["summary"])
    elif data.get("type") == "incident":
        incident = Incident.objects.get(pd_id=data["id"])
        # The refetch (the fake's REST answer) is older than the event, so the event's status stands.
        assert incident.status == data["status"]
        assert incident.alerts.exists()
    elif event["resource_type"] == "incident":
        incident = Incident.objects.get(pd_id=stored.resource_id)
        assert incident.alerts.exists() and incident.log_entries.exists()
        if data.get("type") == "incident_note":
            assert Note.objects.get(pd_id=data["id"]).content == data["content"]
        if data.get("type") == "incident_status_update":
            assert StatusUpdate.objects.get(pd_id=data["id"]).incident == incident


def _deliver_all(post_webhook, callbacks_cm, order) -> None:
    for path in order:
        with callbacks_cm(execute=True):
            assert post_webhook(body_of(_document(path))).status_code == 202


def test_replaying_every_webhook_and_resyncing_leaves_a_byte_identical_mirror(
    post_webhook, fake_pd, django_capture_on_commit_callbacks
):
    from incidents.tasks import full_sync, reconcile

    _deliver_all(post_webhook, django_capture_on_commit_callbacks, SAMPLES)
    fake_pd.log_entries = [
        {
            "id": "LREC1",
            "type": "acknowledge_log_entry",
            "created_at": "2026-11-20T10:01:00Z",
            "incident": {"id": "PCPZE64", "type": "incident_reference"},
            "agent": {},
            "channel": {"type": "web"},
        }
    ]
    full_sync()
    reconcile()
    before = mirror_hash()
    assert Incident.objects.count() > 5

    # Redeliver everything as new deliveries (the dedupe table emptied), in reverse order, then resync.
    WebhookEvent.objects.all().delete()
    _deliver_all(post_webhook, django_capture_on_commit_callbacks, list(reversed(SAMPLES)))
    assert mirror_hash() == before
    full_sync()
    reconcile()
    assert mirror_hash() == before

    # And the exact same deliveries again are duplicates that change nothing.
    _deliver_all(post_webhook, django_capture_on_commit_callbacks, SAMPLES)
    assert mirror_hash() == before
