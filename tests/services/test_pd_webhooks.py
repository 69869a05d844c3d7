"""`manage.py pd_webhooks register|list|remove`, `webhook_subscription_ensure` and its Celery task."""

from __future__ import annotations

import io
import sqlite3

import pytest
from django.core.management import CommandError, call_command

from pdportal import crypto
from services.actions import webhook_subscription_ensure
from services.events import ALL_EVENT_TYPES
from services.models import WebhookSubscription
from tests.services.conftest import requests_to
from tests.services.test_webhooks import TABLE, _remote, _set_remote

PORTAL = "http://portal.example.test"


@pytest.fixture
def registered(pd, settings):
    settings.PORTAL_URL = PORTAL
    return pd


def _account_client():
    from accounts.clients import account_client

    return account_client()


def _run(*args) -> str:
    out = io.StringIO()
    call_command("pd_webhooks", *args, stdout=out, stderr=out)
    return out.getvalue()


def _remote_ids(sandbox) -> list[str]:
    with sqlite3.connect(sandbox.db_path, timeout=10) as db:
        return [row[0] for row in db.execute(f"SELECT id FROM {TABLE} ORDER BY id")]


def test_register_creates_one_account_subscription_with_every_event(registered):
    output = _run("register")

    sub = WebhookSubscription.objects.get()
    assert output.startswith(f"created: {sub.pd_id} -> {PORTAL}/hooks/pagerduty/")
    remote = _remote(registered, sub.pd_id)
    assert remote["filter_type"] == "account_reference"
    assert sorted(sub.events) == sorted(ALL_EVENT_TYPES)
    assert crypto.decrypt(sub.secret) == remote["secret"]
    assert sub.created_by_portal


def test_register_is_idempotent(registered):
    _run("register")
    registered.clear_log()

    output = _run("register")

    assert output.startswith("unchanged:")
    assert len(_remote_ids(registered)) == 1
    assert not requests_to(registered, "POST", "/webhook_subscriptions")
    assert not registered.requests_log(method="PUT")


def test_register_repairs_events_and_a_temporary_disable(registered):
    _run("register")
    sub = WebhookSubscription.objects.get()
    _set_remote(registered, sub.pd_id, events='["incident.triggered"]', active=0, temporarily_disabled=1)

    result = webhook_subscription_ensure(client=_account_client())

    assert result.action == "repaired"
    remote = _remote(registered, sub.pd_id)
    assert remote["active"] == 1 and remote["temporarily_disabled"] == 0
    assert len(requests_to(registered, "POST", f"/webhook_subscriptions/{sub.pd_id}/enable")) == 1
    sub.refresh_from_db()
    assert sorted(sub.events) == sorted(ALL_EVENT_TYPES)


def test_register_replaces_its_own_subscription_whose_secret_it_lost(registered):
    _run("register")
    old = WebhookSubscription.objects.get()
    WebhookSubscription.objects.filter(pk=old.pk).update(secret="")

    result = webhook_subscription_ensure(client=_account_client())

    assert result.action == "created"
    assert _remote_ids(registered) == [result.subscription.pd_id]
    assert result.subscription.pd_id != old.pd_id


def test_list_marks_the_portals_subscription(registered):
    _run("register")

    output = _run("list")

    sub = WebhookSubscription.objects.get()
    assert sub.pd_id in output
    assert "made by this portal" in output and "this portal's receiver" in output


def test_remove_deletes_only_what_the_portal_created(registered):
    _run("register")
    other = registered.post(
        "/webhook_subscriptions",
        json={
            "webhook_subscription": {
                "type": "webhook_subscription",
                "delivery_method": {"type": "http_delivery_method", "url": "https://elsewhere.example/hook"},
                "events": ["incident.triggered"],
                "filter": {"type": "account_reference"},
            }
        },
    ).json()["webhook_subscription"]

    output = _run("remove")

    assert output.startswith("removed ")
    assert _remote_ids(registered) == [other["id"]]


def test_the_task_registers_through_the_account_connection(registered):
    from services.tasks import ensure_webhook_subscription

    assert ensure_webhook_subscription.delay().get() == "created"
    assert ensure_webhook_subscription.delay().get() == "unchanged"
    assert WebhookSubscription.objects.count() == 1


def test_it_explains_a_missing_connection(db, settings):
    settings.PAGERDUTY_API_TOKEN = ""
    settings.PAGERDUTY_CLIENT_ID = ""

    with pytest.raises(CommandError, match="not connected to PagerDuty"):
        _run("register")
