"""Helpers for the live tests: signing webhook bodies, posting them, and faking PagerDuty's refetch."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import responses

from pdportal.pagerduty.webhooks import sign

SECRET = "whsec-current"
OLD_SECRET = "whsec-previous"
API = "https://api.pagerduty.test"
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "webhooks"


def sample_paths() -> list[Path]:
    return sorted(FIXTURES.glob("*.json"))


def body_of(document: dict) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode()


def webhook(event_type: str, data: dict, *, event_id: str, occurred_at: str, resource_type: str = "incident") -> dict:
    return {
        "event": {
            "id": event_id,
            "event_type": event_type,
            "resource_type": resource_type,
            "occurred_at": occurred_at,
            "agent": None,
            "client": None,
            "data": data,
        }
    }


def incident_data(pd_id: str = "PINC9", status: str = "triggered", **over) -> dict:
    data = {
        "id": pd_id,
        "type": "incident",
        "self": f"https://api.pagerduty.com/incidents/{pd_id}",
        "html_url": f"https://acme.pagerduty.com/incidents/{pd_id}",
        "number": 9,
        "status": status,
        "title": "Checkout latency",
        "service": {"id": "PSVC1", "type": "service_reference", "summary": "Checkout"},
        "assignees": [{"id": "PUSR1", "type": "user_reference", "summary": "Rita Responder"}],
        "escalation_policy": {"id": "PEP1", "type": "escalation_policy_reference", "summary": "Payments"},
        "teams": [],
        "priority": None,
        "urgency": "high",
        "conference_bridge": None,
        "resolve_reason": None,
    }
    data.update(over)
    return data


@pytest.fixture(autouse=True)
def _no_pending_enrichments(redis_url):
    from incidents import webhooks
    from pdportal.redis import get_redis

    client = get_redis()
    for key in client.scan_iter("pdportal:enrich:pending:*"):
        client.delete(key)
    webhooks._enqueued_at.clear()
    yield


@pytest.fixture(autouse=True)
def _signing_secret(settings):
    from incidents import webhooks

    settings.PAGERDUTY_WEBHOOK_SECRETS = [SECRET]
    settings.PAGERDUTY_API_TOKEN = "account-key"
    webhooks.forget_secrets()
    yield
    webhooks.forget_secrets()


@pytest.fixture
def post_webhook(client, request):
    """`post_webhook(document_or_bytes, secret=SECRET, headers=..., drain=True)` -> the receiver's response; then
    the consumer applies what was stored (drain=False leaves it queued), and queues the refetch (which runs only
    with `fake_pd`, or `enrich=True`)."""

    def post(
        document,
        *,
        secret: str | None = SECRET,
        signature: str | None = None,
        headers: dict | None = None,
        drain: bool = True,
        enrich: bool | None = None,
    ):
        body = document if isinstance(document, bytes) else body_of(document)
        extra = {"X-Webhook-Id": "wh-1", "X-Webhook-Subscription": "PSUB1", **(headers or {})}
        if signature is None and secret is not None:
            signature = sign(body, secret)
        if signature is not None:
            extra["X-PagerDuty-Signature"] = signature
        response = client.post("/hooks/pagerduty/", data=body, content_type="application/json", headers=extra)
        if drain:
            # The consumer's step, run here inside the test's transaction (a web process runs it in a thread).
            from unittest import mock

            from incidents import webhooks
            from incidents.webhooks import enrich_incident

            # Its refetch runs (eagerly) only against the fake PagerDuty, or where the test watches the queue.
            run_refetch = "fake_pd" in request.fixturenames if enrich is None else enrich
            if run_refetch or isinstance(enrich_incident.apply_async, mock.Mock):
                webhooks.drain()
            else:
                with mock.patch.object(enrich_incident, "apply_async"):
                    webhooks.drain()
        return response

    return post


def rest_incident(pd_id: str, *, status: str = "triggered", updated_at: str = "2026-11-20T10:00:00Z", **over) -> dict:
    body = {
        "id": pd_id,
        "type": "incident",
        "summary": f"[#9] Checkout latency ({pd_id})",
        "incident_number": 9,
        "title": "Checkout latency",
        "created_at": "2026-11-20T09:59:00Z",
        "updated_at": updated_at,
        "last_status_change_at": updated_at,
        "status": status,
        "urgency": "high",
        "service": {"id": "PSVC1", "type": "service_reference", "summary": "Checkout"},
        "assignments": [{"at": updated_at, "assignee": {"id": "PUSR1", "type": "user_reference", "summary": "Rita"}}],
        "alert_counts": {"all": 1, "triggered": 1, "resolved": 0},
        "escalation_policy": {"id": "PEP1", "type": "escalation_policy_reference", "summary": "Payments"},
        "teams": [],
        "priority": None,
        "incident_key": f"key-{pd_id}",
        "html_url": f"https://acme.pagerduty.com/incidents/{pd_id}",
    }
    body.update(over)
    return body


class FakePagerDuty:
    """`responses`-backed PagerDuty REST answering the enrichment refetch for any incident id."""

    def __init__(self, rsps: responses.RequestsMock):
        self.rsps = rsps
        self.incidents: dict[str, dict] = {}
        self.log_entries: list[dict] = []
        self.failing: set[str] = set()
        self.log_queries: list[str] = []
        rsps.add_callback(responses.GET, re.compile(rf"{API}/incidents/(\w+)(\?.*)?$"), callback=self._incident)
        rsps.add_callback(responses.GET, re.compile(rf"{API}/incidents/(\w+)/alerts"), callback=self._alerts)
        rsps.add_callback(responses.GET, re.compile(rf"{API}/incidents/(\w+)/notes"), callback=self._notes)
        rsps.add_callback(responses.GET, re.compile(rf"{API}/incidents/(\w+)/log_entries"), callback=self._incident_log)
        rsps.add_callback(responses.GET, re.compile(rf"{API}/log_entries"), callback=self._log)
        rsps.add_callback(responses.GET, re.compile(rf"{API}/incidents(\?.*)?$"), callback=self._incident_list)
        self.subscriptions: dict[str, dict] = {}
        rsps.add_callback(
            responses.GET, re.compile(rf"{API}/webhook_subscriptions/(\w+)$"), callback=self._subscription
        )
        # A team named by a webhook is read once (its visibility decides who sees its incidents): a public one.
        rsps.add_callback(responses.GET, re.compile(rf"{API}/teams/(\w+)$"), callback=self._team)
        for collection in ("priorities", "teams", "users", "escalation_policies", "services", "templates"):
            rsps.add(responses.GET, re.compile(rf"{API}/{collection}(\?.*)?$"), json=_page(collection, []))
        rsps.add(responses.GET, re.compile(rf"{API}/change_events(\?.*)?$"), json=_page("change_events", []))

    @staticmethod
    def _id(request) -> str:
        return request.path_url.split("?")[0].split("/")[2]

    def incident(self, pd_id: str) -> dict:
        # Older than every sample: the REST answer never overrides what the event itself says.
        return self.incidents.setdefault(pd_id, rest_incident(pd_id, updated_at="2020-01-01T00:00:00Z"))

    def _incident(self, request):
        pd_id = self._id(request)
        if pd_id in self.failing:
            return 400, {}, json.dumps({"error": {"message": "Invalid Input Provided", "code": 2001}})
        return 200, {}, json.dumps({"incident": self.incident(pd_id)})

    def _alerts(self, request):
        pd_id = self._id(request)
        alert = {
            "id": f"A{pd_id}",
            "type": "alert",
            "summary": f"alert of {pd_id}",
            "created_at": "2026-11-20T09:59:00Z",
            "status": "triggered",
            "severity": "critical",
            "alert_key": f"ak-{pd_id}",
            "incident": {"id": pd_id, "type": "incident_reference"},
            "body": {"details": {}},
        }
        return 200, {}, json.dumps({"alerts": [alert], "limit": 100, "offset": 0, "more": False, "total": None})

    def _team(self, request):
        pd_id = self._id(request)
        team = {"id": pd_id, "type": "team", "summary": pd_id, "name": pd_id, "default_role": "manager"}
        return 200, {}, json.dumps({"team": team})

    def _notes(self, request):
        return 200, {}, json.dumps({"notes": []})

    def _incident_log(self, request):
        pd_id = self._id(request)
        entry = {
            "id": f"L{pd_id}",
            "type": "trigger_log_entry",
            "summary": "Triggered through the API",
            "created_at": "2026-11-20T09:59:00Z",
            "incident": {"id": pd_id, "type": "incident_reference"},
            "agent": {},
            "channel": {"type": "api"},
        }
        return 200, {}, json.dumps({"log_entries": [entry], "limit": 100, "offset": 0, "more": False})

    def _log(self, request):
        self.log_queries.append(request.url)
        return 200, {}, json.dumps(_page("log_entries", self.log_entries))

    def _subscription(self, request):
        pd_id = self._id(request)
        if pd_id not in self.subscriptions:
            return 404, {}, json.dumps({"error": {"message": "Not Found", "code": 2100}})
        return 200, {}, json.dumps({"webhook_subscription": self.subscriptions[pd_id]})

    def _incident_list(self, request):
        return 200, {}, json.dumps(_page("incidents", list(self.incidents.values())))


def _page(collection: str, items: list) -> dict:
    return {collection: items, "limit": 100, "offset": 0, "more": False, "total": len(items)}


@pytest.fixture
def fake_pd():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield FakePagerDuty(rsps)


def mirror_rows() -> dict[str, list]:
    """Every mirrored row as plain data (m2m as sorted PagerDuty ids); `synced_at` is bookkeeping, not content."""
    from django.apps import apps

    from pdportal.models import MirrorModel

    out: dict[str, list] = {}
    for model in apps.get_models():
        if not issubclass(model, MirrorModel) or model._meta.app_label == "sandbox":
            continue
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


def mirror_hash() -> str:
    import hashlib

    blob = json.dumps(mirror_rows(), sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()
