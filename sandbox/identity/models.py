"""Credentials the sandbox accepts: API keys, OAuth codes and tokens (only hashes are stored)."""

from django.db import models

# Users are referenced by their PagerDuty id rather than a foreign key, so a re-seed of the account
# never has to cascade through credentials (the reset clears them explicitly).


class ApiKey(models.Model):
    token_hash = models.CharField(max_length=64, unique=True)
    token_id = models.CharField(max_length=32)
    user_id = models.CharField(max_length=20, blank=True, default="", help_text="empty: account-level key")
    read_only = models.BooleanField(default=False)
    description = models.CharField(max_length=200, blank=True, default="")
    created_at = models.FloatField()

    def __str__(self):
        return f"api key {self.token_id} ({self.user_id or 'account'})"


class OAuthCode(models.Model):
    code_hash = models.CharField(max_length=64, unique=True)
    client_id = models.CharField(max_length=200)
    user_id = models.CharField(max_length=20)
    redirect_uri = models.TextField()
    scopes = models.TextField(blank=True, default="")
    code_challenge = models.CharField(max_length=200, blank=True, default="")
    code_challenge_method = models.CharField(max_length=10, blank=True, default="")
    expires_at = models.FloatField()
    used_at = models.FloatField(null=True, blank=True)

    def __str__(self):
        return f"oauth code for {self.user_id}"


class OAuthToken(models.Model):
    access_hash = models.CharField(max_length=64, unique=True)
    refresh_hash = models.CharField(max_length=64, unique=True, null=True, blank=True)
    token_id = models.CharField(max_length=32)
    client_id = models.CharField(max_length=200)
    user_id = models.CharField(max_length=20, db_index=True)
    scopes = models.TextField(blank=True, default="")
    code_hash = models.CharField(max_length=64, blank=True, default="", db_index=True)
    created_at = models.FloatField()
    access_expires_at = models.FloatField()
    # A refresh token is single-use: using it revokes it (and only it), so the old access token lives on.
    refresh_revoked = models.BooleanField(default=False)
    revoked = models.BooleanField(default=False)

    def __str__(self):
        return f"oauth token {self.token_id} for {self.user_id}"
