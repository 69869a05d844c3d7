"""Re-encrypt every encrypted column with the first key of FIELD_ENCRYPTION_KEYS (after adding a new key)."""

from __future__ import annotations

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from pdportal import crypto

# Every column that holds a pdportal.crypto ciphertext (app_label.Model, fields).
ENCRYPTED_FIELDS: list[tuple[str, tuple[str, ...]]] = [
    ("accounts.OAuthGrant", ("access_token", "refresh_token")),
    ("accounts.Connection", ("api_key",)),
    ("services.WebhookSubscription", ("secret",)),
]


def rotate_all(*, stdout=None) -> tuple[int, list[str]]:
    """Rotate every encrypted value; returns (values rotated, failures as 'Model pk field: reason')."""
    rotated = 0
    failures: list[str] = []
    for label, fields in ENCRYPTED_FIELDS:
        try:
            model = apps.get_model(label)
        except LookupError:
            continue
        with transaction.atomic():
            for row in model.objects.select_for_update().only("pk", *fields):
                changed = []
                for field in fields:
                    value = getattr(row, field)
                    if not value:
                        continue
                    try:
                        setattr(row, field, crypto.rotate(value))
                    except Exception as exc:  # noqa: BLE001 - one bad value must not stop the others
                        failures.append(f"{label} {row.pk} {field}: {exc or type(exc).__name__}")
                        continue
                    changed.append(field)
                if changed:
                    row.save(update_fields=changed)
                    rotated += len(changed)
        if stdout is not None:
            stdout.write(f"{label}: done")
    return rotated, failures


class Command(BaseCommand):
    help = "Re-encrypt tokens, API keys and webhook secrets with the first key in FIELD_ENCRYPTION_KEYS."

    def handle(self, *args, **options):
        rotated, failures = rotate_all(stdout=self.stdout)
        self.stdout.write(self.style.SUCCESS(f"Re-encrypted {rotated} value(s) with the first key."))
        if failures:
            for failure in failures:
                self.stderr.write(failure)
            raise CommandError(
                f"{len(failures)} value(s) could not be decrypted with any configured key; "
                "add back the key they were encrypted with and run this again."
            )
