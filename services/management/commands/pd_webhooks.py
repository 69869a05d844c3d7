"""manage.py pd_webhooks register|list|remove: the portal's PagerDuty webhook subscriptions from the shell."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from accounts.clients import account_client
from accounts.errors import NoAccountConnection
from pdportal.pagerduty import PagerDutyError
from services import actions, selectors


class Command(BaseCommand):
    help = (
        "register: create or repair the account subscription to PORTAL_URL/hooks/pagerduty/ with every incident "
        "and service event; list: show every subscription; remove: delete every subscription this portal created."
    )

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["register", "list", "remove"])

    def handle(self, *args, action: str, **options):
        try:
            client = account_client()
            if action == "register":
                self._register(client)
            elif action == "list":
                self._list(client)
            else:
                self._remove(client)
        except NoAccountConnection as exc:
            raise CommandError(str(exc)) from None
        except PagerDutyError as exc:
            raise CommandError(f"PagerDuty refused: {exc}") from None

    def _register(self, client) -> None:
        result = actions.webhook_subscription_ensure(client=client)
        if result.action == "busy":
            raise CommandError("Another registration is running right now; try again in a minute.")
        sub = result.subscription
        self.stdout.write(f"{result.action}: {sub.pd_id} -> {sub.url} ({len(sub.events)} event types)")
        for line in result.details:
            self.stdout.write(f"  {line}")

    def _list(self, client) -> None:
        subs = actions.webhook_subscriptions_refresh(client=client)
        if not subs:
            self.stdout.write("No webhook subscriptions.")
            return
        for data in subs:
            row = selectors.webhook_subscription_get(pd_id=data["id"])
            url = (data.get("delivery_method") or {}).get("url", "")
            flt = data.get("filter") or {}
            marks = []
            if row is not None and row.created_by_portal:
                marks.append("made by this portal")
            if selectors.is_portal_url(url):
                marks.append("this portal's receiver")
            if not data.get("active", True):
                marks.append("inactive")
            if (data.get("delivery_method") or {}).get("temporarily_disabled"):
                marks.append("temporarily disabled")
            note = f" [{', '.join(marks)}]" if marks else ""
            self.stdout.write(
                f"{data['id']}  {url}  {flt.get('type', '')} {flt.get('id', '') or ''}  "
                f"{len(data.get('events') or [])} events{note}"
            )

    def _remove(self, client) -> None:
        report = actions.webhook_subscriptions_remove_portal(client=client)
        for pd_id in report.removed:
            self.stdout.write(f"removed {pd_id}")
        for pd_id, message in report.failed.items():
            self.stderr.write(f"could not remove {pd_id}: {message}")
        if not report.removed and not report.failed:
            self.stdout.write("This portal has created no webhook subscriptions; nothing removed.")
        if report.failed:
            raise CommandError(f"{len(report.failed)} subscription(s) could not be removed")
