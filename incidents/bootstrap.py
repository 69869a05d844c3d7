"""`make run`'s bootstrap, in a child with the portal's settings: who the connection is, the initial sync, and
how live updates arrive (webhook or PagerDuty's log). pdportal/devserver.py runs it as `manage.py pd_bootstrap`."""

from __future__ import annotations

import json
from pathlib import Path

from django.conf import settings
from django.db import transaction

from accounts.clients import account_client
from accounts.errors import NoAccountConnection
from accounts.pagerduty.provider import account_subdomain
from accounts.selectors import connection_mode
from incidents.models import ChangeEvent, Incident
from incidents.sync import SyncAlreadyRunning, sync_all
from pdportal.devserver import say
from pdportal.models import SyncState, Tombstone, WebhookEvent
from pdportal.pagerduty import PagerDutyClient, PagerDutyError
from services.actions import webhook_subscription_ensure
from services.models import WebhookSubscription


def account_identity(*, client: PagerDutyClient) -> dict[str, str]:
    """Which account the connection reaches: its subdomain, and whose token it is (a user, or the account key)."""
    try:
        me = client.get_entity("/users/me", {"include[]": ["subdomains"]})
        who = f"{me.get('name') or me.get('id')} <{me.get('email') or '?'}>"
        subdomain = account_subdomain(me)
    except PagerDutyError as exc:
        if exc.status not in (400, 404):
            raise  # a refused token: say so rather than guess
        # An account-level key has no user of its own: /users/me refuses it. Any user names the account.
        who = "account key"
        users = client.get("/users", {"limit": 1}).get("users") or []
        subdomain = account_subdomain(users[0]) if users else ""
    return {"who": who, "subdomain": subdomain}


def reset_mirror() -> int:
    """Forget the incidents mirrored from an earlier sandbox (a new one starts from the seed): the sync refills."""
    with transaction.atomic():
        removed, _ = Incident.objects.all().delete()
        for model in (ChangeEvent, WebhookEvent, Tombstone, SyncState, WebhookSubscription):
            model.objects.all().delete()
    return removed


def bootstrap(*, report_path: str | None, new_sandbox: bool) -> int:
    """Who we are connected as, the initial sync, live updates; writes the banner's report to `report_path`."""
    report: dict[str, str] = {"api_url": settings.PAGERDUTY_API_URL, "mode": str(connection_mode())}
    if new_sandbox and Incident.objects.exists():
        say(f"a new sandbox: the mirror of the previous one is reset with it ({reset_mirror()} rows removed)")
        report["reset"] = "1"
    try:
        client = account_client()
    except NoAccountConnection:
        _write_report(report_path, report)
        say("no account connection yet: sign in with PagerDuty as an admin, then connect on /settings/")
        return 0
    last = {"step": None}

    def progress(step: str, done: int, total: int | None) -> None:
        if step != last["step"]:
            last["step"] = step
            say(f"  sync: {step}…")

    try:
        report.update(account_identity(client=client))
        say(f"connected to {report['subdomain'] or report['api_url']} as {report['who']}")
        result = sync_all(client=client, progress=progress)
    except SyncAlreadyRunning:
        result = None
        say("  sync: the worker is already running the initial sync (progress on the Settings page)")
    except PagerDutyError as exc:
        # A wrong token or URL is the person's to fix: PagerDuty's own words, no traceback.
        say(f"PagerDuty at {settings.PAGERDUTY_API_URL} refused: {exc}")
        say("check PAGERDUTY_API_TOKEN (or the OAuth app) and PAGERDUTY_API_URL")
        return 1
    if result is not None:
        counts = ", ".join(f"{k} {v}" for k, v in result.counts.items())
        say(f"initial sync stored {result.total} records ({counts})")
    if not settings.PAGERDUTY_WEBHOOKS:
        report["live"] = f"via PagerDuty's log every {settings.RECONCILE_SECONDS} s"
        report["live_why"] = f"PagerDuty cannot reach {settings.PORTAL_URL}: no webhook subscription registered"
    else:
        try:
            ensured = webhook_subscription_ensure(client=client)
            sub = ensured.subscription
            say(f"webhook subscription {ensured.action}: {sub.pd_id if sub else '-'} -> {sub.url if sub else '-'}")
            report["live"] = f"by webhook to {sub.url if sub else settings.PORTAL_URL}"
        except Exception as exc:  # noqa: BLE001 - the portal still works: reconcile heals what webhooks would bring
            say(f"WARNING: webhook registration failed ({exc}); live updates will come from reconcile only")
            report["live"] = f"via PagerDuty's log every {settings.RECONCILE_SECONDS} s (webhook registration failed)"
    _write_report(report_path, report)
    return 0


def _write_report(path: str | None, report: dict[str, str]) -> None:
    if path:
        Path(path).write_text(json.dumps(report))


def _write_report(path: str | None, report: dict[str, str]) -> None:
    if path:
        Path(path).write_text(json.dumps(report))
