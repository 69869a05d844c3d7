"""Adversarial pass (review of issue 11): a signed webhook's ids and names are checked as a whole. Python's `$`
also matches before a final newline, so "PABC\\n" passed as an id and was stored (and linked) with the newline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pdportal.models import WebhookEvent
from pdportal.pagerduty.webhooks import sign

pytestmark = pytest.mark.django_db

SECRET = "whsec-strict"
SAMPLE = Path(__file__).resolve().parent.parent / "fixtures" / "webhooks" / "incident.triggered.json"


@pytest.fixture(autouse=True)
def _secret(settings):
    from incidents import webhooks

    settings.PAGERDUTY_WEBHOOK_SECRETS = [SECRET]
    webhooks.forget_secrets()
    yield
    webhooks.forget_secrets()


def _deliver(client, path: tuple, value):
    document = json.loads(SAMPLE.read_text())
    target = document
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    body = json.dumps(document).encode()
    headers = {"X-PagerDuty-Signature": sign(body, SECRET), "X-Webhook-Id": "strict"}
    return client.post("/hooks/pagerduty/", data=body, content_type="application/json", headers=headers)


@pytest.mark.parametrize(
    ("path", "value", "words"),
    [
        (("event", "id"), "01DEN8OWTLXHA4FTI9JN11ABCD\n", "event.id"),
        (("event", "data", "id"), "PGR0VU2\n", "id"),
        (("event", "data", "service", "id"), "PF9KMXH\n", "service.id"),
        (("event", "event_type"), "incident.triggered\n", "event_type"),
        (("event", "resource_type"), "incident\n", "resource_type"),
    ],
    ids=["event-id", "incident-id", "reference-id", "event-type", "resource-type"],
)
def test_a_signed_webhook_with_a_newline_after_an_id_or_name_is_refused_and_not_stored(client, path, value, words):
    response = _deliver(client, path, value)
    assert 400 <= response.status_code < 500, (response.status_code, response.content[:300])
    assert words in response.content.decode()
    assert not WebhookEvent.objects.exists()


@pytest.mark.parametrize("value", ["..", ".", "-", "_:.-"])
@pytest.mark.parametrize(
    ("path", "words"), [(("event", "data", "id"), "id"), (("event", "data", "service", "id"), "service.id")]
)
def test_a_signed_webhook_whose_id_is_only_punctuation_is_refused(client, path, words, value):
    # "/incidents/.." is "/" once the HTTP client normalises the path: a refetch would read another resource.
    response = _deliver(client, path, value)
    assert 400 <= response.status_code < 500, (response.status_code, response.content[:300])
    assert words in response.content.decode()
    assert not WebhookEvent.objects.exists()


def test_a_plain_signed_webhook_is_still_accepted(client):
    response = _deliver(client, ("event", "agent"), None)
    assert response.status_code in (200, 202, 204), response.content[:300]
    assert WebhookEvent.objects.count() == 1
