"""Create a local portal login linked by email to a PagerDuty user (API-key mode, or alongside OAuth)."""

from __future__ import annotations

import getpass

from django.core.management.base import BaseCommand, CommandError

from accounts.actions import portal_user_create
from accounts.errors import IdentityError
from pdportal.pagerduty import PagerDutyError


class Command(BaseCommand):
    help = "Create or update a portal login linked to the PagerDuty user with this email."

    def add_arguments(self, parser):
        parser.add_argument("--email", required=True, help="The person's PagerDuty email")
        parser.add_argument("--password", help="Their portal password (asked for when omitted)")
        parser.add_argument("--username", help="Login name (default: the part of the email before @)")
        parser.add_argument("--staff", action="store_true", help="Also allow Django's admin site")

    def handle(self, *args, email, password=None, username=None, staff=False, **options):
        if not password:
            password = getpass.getpass("Password: ")
        if len(password) < 8:
            raise CommandError("The password must be at least 8 characters")
        try:
            user = portal_user_create(email=email, password=password, username=username, is_staff=staff)
        except (ValueError, IdentityError, PagerDutyError) as exc:
            raise CommandError(str(exc)) from None
        pd_user = user.profile.pd_user
        self.stdout.write(
            self.style.SUCCESS(
                f"{user.username} can sign in; acts in PagerDuty as {pd_user.name} <{pd_user.email}> "
                f"({pd_user.pd_id}, role {pd_user.role or 'unknown'})"
            )
        )
