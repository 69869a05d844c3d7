"""The people directory mirrored from PagerDuty (users, teams) and the portal's audit log."""

from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import models

from pdportal.models import MirrorModel

# The person an action is done for, or a page is read by: request.user (signed in, or anonymous on a public page).
type Actor = AbstractBaseUser | AnonymousUser


class Team(MirrorModel):
    keeps_tombstone = True
    # PagerDuty's `default_role`: "manager" is a public team, "none" a private one (hidden from non-members).
    PUBLIC = "manager"
    PRIVATE = "none"

    name = models.CharField(max_length=255)
    description = models.TextField(blank=True)
    # Empty while unknown (a stub made from a reference, before the team itself was read): treated as private,
    # so nothing is shown to non-members until PagerDuty has said the team is public.
    default_role = models.CharField(max_length=16, blank=True, default=PUBLIC)

    class Meta:
        ordering = ["name"]

    @property
    def is_private(self) -> bool:
        return self.default_role != self.PUBLIC

    @classmethod
    def mirror_stub(cls, *, name: str, ref: Any) -> dict[str, Any]:
        # Its visibility is unknown until the team itself is read: private meanwhile (see default_role).
        return {"name": name, "default_role": ""}


class PagerDutyUser(MirrorModel):
    """A PagerDuty user as mirrored; a portal login links to one of these (accounts.Profile)."""

    keeps_tombstone = True

    name = models.CharField(max_length=255)
    email = models.EmailField(db_index=True)
    role = models.CharField(max_length=32, blank=True)
    time_zone = models.CharField(max_length=64, blank=True)
    job_title = models.CharField(max_length=255, blank=True)
    html_url = models.URLField(blank=True)
    teams = models.ManyToManyField(Team, related_name="members", blank=True)

    class Meta:
        ordering = ["name"]

    @classmethod
    def mirror_stub(cls, *, name: str, ref: Any) -> dict[str, Any]:
        email = ref.get("email", "") if isinstance(ref, Mapping) else ""
        return {"name": name, "email": email or ""}


class AuditEntry(models.Model):
    """One write the portal sent to PagerDuty, on whose behalf, and what PagerDuty answered."""

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    actor_label = models.CharField(max_length=255, blank=True)
    operation = models.CharField(max_length=128, db_index=True)
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=512)
    # The exact URL sent (query included, secrets redacted); the path alone can hide where a request went.
    url = models.TextField(blank=True)
    target = models.CharField(max_length=255, blank=True, db_index=True)
    # What the write did, in words ("Resolved", "Added a note to"), read from the request body when it was sent.
    action = models.CharField(max_length=160, blank=True)
    status = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    # "" when the HTTP status tells what happened. "unknown": PagerDuty did not answer a write that may have
    # reached it; a refetch or a webhook later records "applied" or "not_applied" (settled_at, settled_by).
    outcome = models.CharField(max_length=16, blank=True, default="", db_index=True)
    intent = models.JSONField(null=True, blank=True)  # what an unknown-outcome write asked for, to settle it
    settled_at = models.DateTimeField(null=True, blank=True)
    settled_by = models.CharField(max_length=16, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.actor_label} {self.method} {self.path} {self.status}"


class Profile(models.Model):
    """The portal-side facts about one sign-in: which PagerDuty user it acts as, and personal preferences."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, related_name="profile", on_delete=models.CASCADE)
    pd_user = models.ForeignKey(
        PagerDutyUser, null=True, blank=True, on_delete=models.SET_NULL, related_name="profiles"
    )
    # PagerDuty's role string (owner, admin, user, limited_user, observer, read_only_user, restricted_access).
    role = models.CharField(max_length=32, blank=True)
    time_zone = models.CharField(max_length=64, blank=True)
    # True once the person picked a zone themselves; until then each sign-in copies PagerDuty's.
    time_zone_custom = models.BooleanField(default=False)
    notify_desktop = models.BooleanField(default=False)
    # "" follows the browser's prefers-color-scheme; "light"/"dark" pin it (base.html sets data-theme).
    theme = models.CharField(
        max_length=8, blank=True, choices=[("", "System"), ("light", "Light"), ("dark", "Dark")], default=""
    )
    subdomain = models.CharField(max_length=128, blank=True)
    # Raised to end every session of this person at its next request (switched off, disconnected, relinked).
    session_epoch = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.user} -> {self.pd_user_id or 'unlinked'} ({self.role or 'no role'})"


class OAuthGrant(models.Model):
    """One person's PagerDuty OAuth tokens, encrypted at rest with pdportal.crypto."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, related_name="oauth_grant", on_delete=models.CASCADE)
    access_token = models.TextField(help_text="Encrypted (pdportal.crypto)")
    refresh_token = models.TextField(blank=True, help_text="Encrypted (pdportal.crypto)")
    expires_at = models.DateTimeField()
    scope = models.TextField(blank=True)
    requested_scope = models.TextField(blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"OAuth grant of {self.user} ({self.scope})"


class Connection(models.Model):
    """The account connection (singleton, pk=1): an API key, or the OAuth grant of the admin who connected."""

    class Mode(models.TextChoices):
        NONE = "none", "Not connected"
        API_KEY = "api_key", "REST API key"
        OAUTH = "oauth", "OAuth (an admin's grant)"

    mode = models.CharField(max_length=16, choices=Mode.choices, default=Mode.NONE)
    api_key = models.TextField(blank=True, help_text="Encrypted (pdportal.crypto)")
    oauth_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    checked_at = models.DateTimeField(null=True, blank=True)
    healthy = models.BooleanField(null=True)
    last_error = models.TextField(blank=True)

    def __str__(self) -> str:
        return f"Connection({self.mode})"

    @classmethod
    def load(cls) -> "Connection":
        connection, _ = cls.objects.get_or_create(pk=1)
        return connection
