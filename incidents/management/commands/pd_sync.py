"""`manage.py pd_sync`: fill the mirror from PagerDuty now, with a progress bar on the terminal."""

from __future__ import annotations

import sys
import time

from django.core.management.base import BaseCommand, CommandError

from accounts.clients import account_client
from accounts.errors import IdentityError
from incidents import sync
from pdportal.pagerduty import PagerDutyError

BAR_WIDTH = 30


class ProgressBar:
    """One line per step, redrawn in place on a terminal (plain lines when output is not a TTY)."""

    def __init__(self, stream, *, tty: bool) -> None:
        self.stream = stream
        self.tty = tty
        self.step: str | None = None
        self.last_draw = 0.0
        self.last_line = ""

    def line(self, step: str, done: int, total: int | None) -> str:
        label = step.replace("_", " ")
        if total:
            filled = min(int(BAR_WIDTH * done / total), BAR_WIDTH)
            bar = "#" * filled + "-" * (BAR_WIDTH - filled)
            return f"{label:<20} [{bar}] {done}/{total} {int(100 * done / total):3d}%"
        return f"{label:<20} [{'?' * BAR_WIDTH}] {done}"

    def __call__(self, step: str, done: int, total: int | None) -> None:
        if step != self.step:
            self.finish()
            self.step = step
        self.last_line = self.line(step, done, total)
        now = time.monotonic()
        if self.tty and (now - self.last_draw > 0.05 or (total and done >= total)):
            self.stream.write("\r" + self.last_line)
            self.stream.flush()
            self.last_draw = now

    def finish(self) -> None:
        if self.step is None:
            return
        self.stream.write(("\r" if self.tty else "") + self.last_line + "\n")
        self.stream.flush()
        self.step = None


class Command(BaseCommand):
    help = "Sync the PagerDuty account into the local mirror (concurrent pagination, with progress)."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=sync.DEFAULT_DAYS, help="incident/log history to fetch")
        parser.add_argument(
            "--details",
            type=int,
            default=sync.DEFAULT_DETAIL_LIMIT,
            help="fetch alerts and notes for open incidents plus this many of the newest",
        )
        parser.add_argument("--concurrency", type=int, default=None, help="parallel page requests")

    def handle(self, *args, **options):

        if not 1 <= options["days"] <= 180:
            raise CommandError("--days must be between 1 and 180 (PagerDuty's incident list limit is 6 months)")
        try:
            client = account_client()
        except IdentityError as exc:
            raise CommandError(str(exc)) from None
        bar = ProgressBar(self.stdout, tty=sys.stdout.isatty())
        started = time.monotonic()
        try:
            report = sync.sync_all(
                client=client,
                progress=bar,
                days=options["days"],
                detail_limit=options["details"],
                concurrency=options["concurrency"],
            )
        except PagerDutyError as exc:
            bar.finish()
            raise CommandError(f"PagerDuty sync failed: {exc}") from None
        except sync.SyncAlreadyRunning as exc:
            raise CommandError(str(exc)) from None
        bar.finish()
        elapsed = time.monotonic() - started
        summary = ", ".join(f"{count} {name.replace('_', ' ')}" for name, count in report.counts.items())
        self.stdout.write(self.style.SUCCESS(f"Synced in {elapsed:.1f} s: {summary}"))
