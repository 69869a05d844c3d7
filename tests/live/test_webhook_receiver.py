"""The webhook receiver: signatures, limits, storage once per event id, ordering and the broker-down path."""

from __future__ import annotations

import io
import json
from unittest import mock

import pytest

from incidents import webhooks
from incidents.models import Incident
from pdportal import reference_cache
from pdportal.mirror import mark_deleted
from pdportal.models import WebhookEvent
from pdportal.pagerduty.webhooks import sign
from tests.live.conftest import FIXTURES, OLD_SECRET, SECRET, body_of, incident_data, rest_incident, webhook

pytestmark = pytest.mark.django_db


def _triggered(event_id: str = "01EVTTRIGGERED", occurred_at: str = "2026-11-20T10:00:00.100Z", **over) -> dict:
    return webhook("incident.triggered", incident_data(**over), event_id=event_id, occurred_at=occurred_at)


def test_it_accepts_a_validly_signed_event_and_applies_it(post_webhook, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        response = post_webhook(_triggered())
    assert response.status_code == 202
    stored = WebhookEvent.objects.get(event_id="01EVTTRIGGERED")
    assert stored.event_type == "incident.triggered"
    assert stored.resource_type == "incident"
    assert stored.resource_id == "PINC9"
    assert stored.webhook_id == "wh-1"
    assert stored.subscription_id == "PSUB1"
    assert stored.occurred_at.isoformat() == "2026-11-20T10:00:00.100000+00:00"
    assert stored.payload["event"]["data"]["title"] == "Checkout latency"
    incident = Incident.objects.get(pd_id="PINC9")
    assert incident.status == "triggered"
    assert list(incident.assignees.values_list("pd_id", flat=True)) == ["PUSR1"]


def test_it_accepts_a_rotated_secret_when_one_of_two_signatures_matches(post_webhook, settings):
    settings.PAGERDUTY_WEBHOOK_SECRETS = [SECRET]
    webhooks.forget_secrets()
    body = body_of(_triggered())
    header = f"{sign(body, OLD_SECRET)},{sign(body, SECRET)}"
    response = post_webhook(body, signature=header)
    assert response.status_code == 202
    assert WebhookEvent.objects.count() == 1


def test_it_uses_the_secrets_of_portal_made_subscriptions(post_webhook, settings):
    from pdportal import crypto
    from services.models import WebhookSubscription

    settings.PAGERDUTY_WEBHOOK_SECRETS = []
    WebhookSubscription.objects.create(
        pd_id="PSUB1",
        url="http://127.0.0.1:8000/hooks/pagerduty/",
        secret=crypto.encrypt("sub-secret"),
        created_by_portal=True,
    )
    webhooks.forget_secrets()
    assert post_webhook(_triggered(), secret="sub-secret").status_code == 202


def test_it_rejects_a_bad_signature_with_403_and_stores_nothing(post_webhook):
    response = post_webhook(_triggered(), secret="not-the-secret")
    assert response.status_code == 403
    assert not WebhookEvent.objects.exists()
    assert not Incident.objects.exists()


def test_it_rejects_a_missing_signature_with_401(post_webhook):
    response = post_webhook(_triggered(), secret=None)
    assert response.status_code == 401
    assert not WebhookEvent.objects.exists()


def test_it_rejects_an_oversize_declared_body_with_413(client):
    body = b"{" + b" " * (webhooks.MAX_BODY_BYTES + 10) + b"}"
    response = client.post(
        "/hooks/pagerduty/",
        data=body,
        content_type="application/json",
        headers={"X-PagerDuty-Signature": sign(body, SECRET)},
    )
    assert response.status_code == 413
    assert not WebhookEvent.objects.exists()


def test_it_rejects_an_oversize_body_even_when_content_length_lies(rf):
    from incidents.live_views import pagerduty_webhook

    body = b"{" + b" " * (webhooks.MAX_BODY_BYTES + 10) + b"}"
    request = rf.post("/hooks/pagerduty/", data=body, content_type="application/json")
    request.META["CONTENT_LENGTH"] = "100"
    request.META["HTTP_X_PAGERDUTY_SIGNATURE"] = sign(body, SECRET)
    # The declared length is what Django's stream honours: make it serve everything, as a chunked body would.
    request._stream = io.BytesIO(body)
    response = pagerduty_webhook(request)
    assert response.status_code == 413


def test_it_rejects_malformed_json_with_400(post_webhook):
    response = post_webhook(b'{"event": {"id": ')
    assert response.status_code == 400
    assert "not valid JSON" in response.json()["error"]
    assert not WebhookEvent.objects.exists()


def test_it_rejects_get_requests(client):
    assert client.get("/hooks/pagerduty/").status_code == 405


def test_a_duplicate_delivery_answers_202_and_changes_nothing(post_webhook, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as first:
        assert post_webhook(_triggered()).status_code == 202
    Incident.objects.filter(pd_id="PINC9").update(title="edited locally")
    with django_capture_on_commit_callbacks(execute=False) as second:
        response = post_webhook(_triggered())
    assert response.status_code == 202
    assert response.json()["status"] == "duplicate"
    assert WebhookEvent.objects.count() == 1
    assert Incident.objects.get(pd_id="PINC9").title == "edited locally"
    # No second publish or enrichment. (The first delivery also made stubs of its service and people, which tells
    # every process's picker cache once, on commit: pdportal.reference_cache.)
    assert len([f for f in first if f is not reference_cache._raise_generation]) == 1 and len(second) == 0


def test_an_older_event_delivered_late_does_not_regress_the_row(post_webhook, django_capture_on_commit_callbacks):
    resolved = webhook(
        "incident.resolved",
        incident_data(status="resolved", assignees=[]),
        event_id="01EVTRESOLVED",
        occurred_at="2026-11-20T10:05:00.000Z",
    )
    acknowledged = webhook(
        "incident.acknowledged",
        incident_data(status="acknowledged"),
        event_id="01EVTACK",
        occurred_at="2026-11-20T10:02:00.000Z",
    )
    with django_capture_on_commit_callbacks(execute=False):
        assert post_webhook(resolved).status_code == 202
        assert post_webhook(acknowledged).status_code == 202
    incident = Incident.objects.get(pd_id="PINC9")
    assert incident.status == "resolved"
    assert incident.changed_at.isoformat() == "2026-11-20T10:05:00+00:00"
    assert not incident.assignees.exists()
    assert WebhookEvent.objects.count() == 2  # the late one is kept for the record


def test_unknown_event_types_are_stored_and_acknowledged(post_webhook, django_capture_on_commit_callbacks):
    document = webhook(
        "incident.something_new",
        {"id": "PX", "type": "mystery"},
        event_id="01EVTUNKNOWN",
        occurred_at="2026-11-20T10:00:00Z",
        resource_type="mystery",
    )
    with django_capture_on_commit_callbacks(execute=False):
        response = post_webhook(document)
    assert response.status_code == 202
    assert WebhookEvent.objects.get(event_id="01EVTUNKNOWN").event_type == "incident.something_new"


def test_a_ping_is_recorded_and_needs_no_processing(post_webhook, django_capture_on_commit_callbacks):
    document = webhook(
        "pagey.ping",
        {"message": "Hello from your friend Pagey!", "type": "ping"},
        event_id="01EVTPING",
        occurred_at="2026-11-20T10:00:00Z",
        resource_type="pagey",
    )
    with (
        mock.patch("incidents.webhooks.live.publish") as publish,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = post_webhook(document)
    assert response.status_code == 202
    ping = WebhookEvent.objects.get(event_id="01EVTPING")
    assert ping.processed_at is not None
    assert ping.subscription_id == "PSUB1"
    publish.assert_called_once()
    assert publish.call_args.kwargs["topic"] == "webhook"
    assert publish.call_args.kwargs["ids"] == ["PSUB1"]


def test_the_consumer_publishes_an_invalidation_with_the_assignees_after_its_commit(
    post_webhook, django_capture_on_commit_callbacks
):
    with (
        mock.patch("incidents.webhooks.live.publish") as publish,
        mock.patch("incidents.webhooks._enqueue_enrichment", return_value=True) as enqueue,
    ):
        with django_capture_on_commit_callbacks(execute=False):
            post_webhook(_triggered(), drain=False)
        # The request path only stores: the consumer publishes and enqueues, after its own commit.
        publish.assert_not_called()
        enqueue.assert_not_called()
        webhooks.drain()
    publish.assert_called_once_with(
        topic="incident",
        ids=["PINC9"],
        event="incident.triggered",
        assignees=["PUSR1"],
        related={"service": ["PSVC1"]},
    )
    enqueue.assert_called_once_with("PINC9")


def test_enrichment_refetches_alerts_and_log_entries_and_marks_the_event_processed(
    post_webhook, fake_pd, django_capture_on_commit_callbacks
):
    fake_pd.incidents["PINC9"] = rest_incident("PINC9", updated_at="2026-11-20T10:00:00Z")
    with django_capture_on_commit_callbacks(execute=True):
        assert post_webhook(_triggered()).status_code == 202
    incident = Incident.objects.get(pd_id="PINC9")
    # Same second as the webhook: the refetch (second precision) still applies.
    assert incident.alert_count == 1
    assert incident.created_at.isoformat() == "2026-11-20T09:59:00+00:00"
    assert incident.alerts.get().summary == "alert of PINC9"
    assert incident.log_entries.get().type == "trigger_log_entry"
    assert WebhookEvent.objects.get().processed_at is not None


def test_with_the_broker_down_the_event_is_kept_and_the_sweep_processes_it(
    post_webhook, fake_pd, django_capture_on_commit_callbacks
):
    from kombu.exceptions import OperationalError

    from incidents.tasks import sweep_webhook_events

    with (
        mock.patch("incidents.webhooks.enrich_incident.apply_async", side_effect=OperationalError("broker down")),
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = post_webhook(_triggered())
    assert response.status_code == 202
    stored = WebhookEvent.objects.get()
    assert stored.processed_at is None
    assert not Incident.objects.get(pd_id="PINC9").alerts.exists()

    assert sweep_webhook_events(grace_seconds=0) == 1
    stored.refresh_from_db()
    assert stored.processed_at is not None
    assert Incident.objects.get(pd_id="PINC9").alerts.count() == 1
    assert sweep_webhook_events(grace_seconds=0) == 0


def test_a_note_for_an_unknown_incident_waits_for_the_enrichment(
    post_webhook, fake_pd, django_capture_on_commit_callbacks
):
    document = json.loads((FIXTURES / "incident.annotated.json").read_text())
    with django_capture_on_commit_callbacks(execute=False):
        assert post_webhook(document, drain=False).status_code == 202
    webhooks.drain_batch()  # applied, but its refetch is not queued (as with the broker down)
    assert not Incident.objects.exists()  # no stub with a made-up status
    from incidents.tasks import sweep_webhook_events

    assert sweep_webhook_events(grace_seconds=0) == 1
    assert Incident.objects.filter(pd_id="Q3B15VLMF3ASBD").exists()


def test_a_burst_of_events_about_one_incident_queues_one_refetch(post_webhook, django_capture_on_commit_callbacks):
    with mock.patch("incidents.webhooks.enrich_incident.apply_async") as apply_async:
        for n, status in enumerate(["triggered", "acknowledged", "resolved"]):
            document = webhook(
                f"incident.{status}",
                incident_data(status=status),
                event_id=f"01EVTBURST{n}",
                occurred_at=f"2026-11-20T10:00:0{n}.000Z",
            )
            with django_capture_on_commit_callbacks(execute=True):
                assert post_webhook(document).status_code == 202
    apply_async.assert_called_once()
    assert apply_async.call_args.kwargs["args"] == ["PINC9"]
    assert apply_async.call_args.kwargs["countdown"] > 0
    assert Incident.objects.get(pd_id="PINC9").status == "resolved"


def _service_event(event_type: str, occurred_at: str, event_id: str, **data) -> dict:
    body = {"id": "PSVCDEL", "type": "service", "name": "Checkout", "summary": "Checkout", **data}
    return webhook(event_type, body, event_id=event_id, occurred_at=occurred_at, resource_type="service")


def test_it_keeps_a_deleted_service_deleted_when_an_older_update_arrives_late(
    post_webhook, django_capture_on_commit_callbacks
):
    from services.models import Service

    with django_capture_on_commit_callbacks(execute=True):
        assert post_webhook(_service_event("service.created", "2026-11-20T10:00:00Z", "01EVTSVC1")).status_code == 202
        assert Service.objects.filter(pd_id="PSVCDEL").exists()
        assert post_webhook(_service_event("service.deleted", "2026-11-20T10:10:00Z", "01EVTSVC2")).status_code == 202
        assert not Service.objects.filter(pd_id="PSVCDEL").exists()
        late = _service_event("service.updated", "2026-11-20T10:05:00Z", "01EVTSVC3", description="older change")
        assert post_webhook(late).status_code == 202
        assert not Service.objects.filter(pd_id="PSVCDEL").exists()
        late_created = _service_event("service.created", "2026-11-20T10:00:00Z", "01EVTSVC4")  # redelivered
        assert post_webhook(late_created).status_code == 202
        assert not Service.objects.filter(pd_id="PSVCDEL").exists()

        # A change newer than the deletion brings it back (PagerDuty says it exists again).
        revived = _service_event("service.created", "2026-11-20T10:20:00Z", "01EVTSVC5", name="Checkout v2")
        assert post_webhook(revived).status_code == 202
    assert Service.objects.get(pd_id="PSVCDEL").name == "Checkout v2"


def test_it_ignores_a_late_deletion_older_than_the_services_last_change(
    post_webhook, django_capture_on_commit_callbacks
):
    from services.models import Service

    with django_capture_on_commit_callbacks(execute=True):
        assert post_webhook(_service_event("service.updated", "2026-11-20T10:20:00Z", "01EVTSVC6")).status_code == 202
        assert post_webhook(_service_event("service.deleted", "2026-11-20T10:10:00Z", "01EVTSVC7")).status_code == 202
    assert Service.objects.filter(pd_id="PSVCDEL").exists()


def test_it_keeps_a_user_deleted_in_the_portal_deleted_when_an_older_update_arrives():
    from datetime import timedelta

    from django.utils import timezone

    from accounts.models import PagerDutyUser
    from incidents import mirror

    user = {"id": "PUSRDEL", "type": "user", "name": "Gone", "email": "gone@example.com"}
    mirror.upsert_user(user, changed_at=timezone.now() - timedelta(minutes=5))
    mark_deleted(PagerDutyUser, "PUSRDEL")  # an admin's delete: the deletion time is now
    mirror.upsert_user(user, changed_at=timezone.now() - timedelta(minutes=1))
    assert not PagerDutyUser.objects.filter(pd_id="PUSRDEL").exists()


def test_the_consumer_applies_a_storm_in_occurred_at_order_and_never_twice(post_webhook):
    statuses = {"PSTORMA": [], "PSTORMB": [], "PSTORMC": []}
    n = 0
    # Delivered out of order: each incident's newest event arrives first, then older ones.
    for second in (50, 10, 30, 20, 40):
        for pd_id in statuses:
            status = ("triggered", "acknowledged", "resolved")[(second // 10 + len(pd_id)) % 3]
            statuses[pd_id].append((second, status))
            document = webhook(
                f"incident.{status}",
                incident_data(pd_id, status=status, title=f"{pd_id} at {second}"),
                event_id=f"01STORM{n:03d}",
                occurred_at=f"2026-11-20T10:00:{second:02d}.000Z",
            )
            n += 1
            assert post_webhook(document, drain=False).status_code == 202
    assert not Incident.objects.exists()  # the request path stored, nothing more
    from incidents.webhooks import enrich_incident

    # The refetch each incident queues is watched, not run: it would try (and retry) the unreachable test host.
    with mock.patch.object(enrich_incident, "apply_async") as enrich:
        assert webhooks.drain() == 15
    assert {call.kwargs["args"][0] for call in enrich.call_args_list} == set(statuses)
    for pd_id, seen in statuses.items():
        newest = max(seen)
        incident = Incident.objects.get(pd_id=pd_id)
        assert (incident.status, incident.title) == (newest[1], f"{pd_id} at {newest[0]}")
    assert not WebhookEvent.objects.filter(applied_at__isnull=True).exists()
    assert webhooks.drain() == 0  # nothing is applied twice


def test_a_late_event_older_than_the_applied_one_leaves_the_row_alone(post_webhook):
    newer = _triggered(event_id="01NEW", occurred_at="2026-11-20T10:05:00Z", title="new")
    older = _triggered(event_id="01OLD", occurred_at="2026-11-20T10:00:00Z", title="old")
    assert post_webhook(newer).status_code == 202
    assert post_webhook(older).status_code == 202
    assert Incident.objects.get(pd_id="PINC9").title == "new"
    assert WebhookEvent.objects.filter(applied_at__isnull=False).count() == 2
