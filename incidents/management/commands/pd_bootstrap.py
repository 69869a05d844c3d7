"""`manage.py pd_bootstrap`: `make run`'s start-up in the portal's environment (see incidents/bootstrap.py)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandParser

from incidents.bootstrap import bootstrap


class Command(BaseCommand):
    help = "Report the account connection, run the initial sync and register the webhook subscription."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--report", help="JSON file for the banner (who, how live)")
        parser.add_argument("--new-sandbox", action="store_true", help="the sandbox was just seeded: reset the mirror")

    def handle(self, *args: object, **options: object) -> None:
        code = bootstrap(report_path=options["report"], new_sandbox=bool(options["new_sandbox"]))
        if code:
            raise SystemExit(code)
